//! Shared pieces of the reliability tests: a TCP switchboard that sends the first connection to a
//! faulty server and later ones to a healthy one, and a live session driven through the TUI's
//! pure update so tests assert exactly the line the user sees.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use turnscope::frame::{Dir, Frame, Payload};
use turnscope::session::{self, ConnState, SessionCommand, SessionConfig, SessionEvent};
use turnscope::tui::app::{App, SessionInfo};
use turnscope::tui::theme::Theme;
use turnscope::tui::{live::session_action, update::update};

/// A recognisable fake key; tests assert it never shows up anywhere.
pub const KEY: &str = "sk-proj-TURNSCOPETESTKEY0123456789abcdef";
/// Distinctive pieces of [`KEY`] that must not appear either.
pub const KEY_PARTS: [&str; 4] = [
    KEY,
    "TURNSCOPETESTKEY",
    "0123456789abcdef",
    "sk-proj-TURNSCOPE",
];
/// A guard against a hung test, never a synchronisation point.
pub const GUARD: Duration = Duration::from_secs(30);

/// Forwards TCP connection `i` to `backends[min(i, last)]`, byte for byte.
pub struct Switchboard {
    pub addr: SocketAddr,
    pub accepted: Arc<AtomicUsize>,
}

impl Switchboard {
    pub async fn start(backends: Vec<SocketAddr>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let i = count.fetch_add(1, Ordering::SeqCst);
                let backend = backends[i.min(backends.len() - 1)];
                tokio::spawn(async move {
                    let _ = client.set_nodelay(true);
                    let Ok(mut server) = TcpStream::connect(backend).await else {
                        return;
                    };
                    let _ = server.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
            }
        });
        Switchboard { addr, accepted }
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/v1/responses", self.addr)
    }

    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }
}

/// A `response.create` with one user message and no chain.
pub fn create(text: &str) -> String {
    json!({"type": "response.create", "model": "gpt-5.1", "store": false,
        "input": [{"type": "message", "role": "user", "content": text}]})
    .to_string()
}

/// The JSON of a frame, if it is JSON.
pub fn json_of(f: &Frame) -> Option<Value> {
    match &f.payload {
        Payload::Json(t) => serde_json::from_str(t).ok(),
        _ => None,
    }
}

/// The `type` of a received JSON frame.
pub fn kind_of(f: &Frame) -> String {
    json_of(f)
        .and_then(|v| v["type"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A live session whose events also drive a TUI app, as the real TUI does.
pub struct Live {
    pub handle: session::SessionHandle,
    pub app: App,
    /// Every frame the session reported, in order.
    pub seen: Vec<Frame>,
    pub path: PathBuf,
    pub dir: tempfile::TempDir,
}

impl Live {
    pub fn config(url: &str, path: PathBuf) -> SessionConfig {
        SessionConfig {
            url: url.to_owned(),
            api_key: Some(KEY.into()),
            record: Some(path),
            model: Some("gpt-5.1".into()),
            ..SessionConfig::default()
        }
    }

    /// Spawns a session with `tweak` applied to its config; does not wait for the connect.
    pub fn spawn(url: &str, tweak: impl FnOnce(&mut SessionConfig)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("live.tsjsonl");
        let mut config = Self::config(url, path.clone());
        tweak(&mut config);
        let info = SessionInfo {
            url: turnscope::endpoint::display_url(url),
            model: "gpt-5.1".into(),
            emulated: false,
            key_hint: Some(turnscope::cli::live::mask_key(KEY)),
        };
        Live {
            handle: session::spawn(config, CancellationToken::new()),
            app: App::new(info, Theme::default()),
            seen: Vec::new(),
            path,
            dir,
        }
    }

    /// The next session event, applied to the app first.
    pub async fn next(&mut self) -> SessionEvent {
        let event = tokio::time::timeout(GUARD, self.handle.events.recv())
            .await
            .expect("the session went quiet")
            .expect("the session ended");
        if let SessionEvent::Frame(f) = &event {
            self.seen.push(f.clone());
        }
        update(&mut self.app, session_action(event.clone()));
        event
    }

    /// Reads events until `pred` holds; returns that event.
    pub async fn until(
        &mut self,
        what: &str,
        pred: impl Fn(&SessionEvent) -> bool,
    ) -> SessionEvent {
        let deadline = tokio::time::Instant::now() + GUARD;
        loop {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            let event = self.next().await;
            if pred(&event) {
                return event;
            }
        }
    }

    /// Waits for connection `conn` to open; panics on a failed connect.
    pub async fn connected(&mut self, conn: u32) {
        let event = self
            .until(&format!("connection {conn}"), |e| {
                matches!(e, SessionEvent::State(ConnState::Connected { conn: c, .. }) if *c == conn)
                    || matches!(e, SessionEvent::State(ConnState::Failed { .. }))
            })
            .await;
        if let SessionEvent::State(ConnState::Failed { message }) = event {
            panic!("connect {conn} failed: {message}");
        }
    }

    /// Waits for a failed connect; returns its one-line message.
    pub async fn failed(&mut self) -> String {
        match self
            .until("a failed connect", |e| {
                matches!(e, SessionEvent::State(ConnState::Failed { .. }))
            })
            .await
        {
            SessionEvent::State(ConnState::Failed { message }) => message,
            _ => unreachable!(),
        }
    }

    /// Waits for the connection to end; returns (code, reason).
    pub async fn closed(&mut self) -> (Option<u16>, String) {
        match self
            .until("the connection to end", |e| {
                matches!(e, SessionEvent::State(ConnState::Closed { .. }))
            })
            .await
        {
            SessionEvent::State(ConnState::Closed { code, reason, .. }) => (code, reason),
            _ => unreachable!(),
        }
    }

    pub fn send(&self, command: SessionCommand) {
        assert!(self.handle.send(command), "the session task ended");
    }

    /// Received frames on connection `conn`.
    pub fn received(&self, conn: u32) -> Vec<&Frame> {
        self.seen
            .iter()
            .filter(|f| f.dir == Dir::Recv && f.conn == conn)
            .collect()
    }

    /// Waits until `n` frames were received on `conn`.
    pub async fn received_at_least(&mut self, conn: u32, n: usize) {
        while self.received(conn).len() < n {
            self.next().await;
        }
    }

    /// The line the user sees at the bottom of the TUI.
    pub fn message(&self) -> String {
        self.app
            .message
            .as_ref()
            .map(|m| m.text.clone())
            .unwrap_or_default()
    }

    /// Reconnects (connection `conn`) and runs one new turn to `response.completed`.
    pub async fn reconnect_and_complete_a_turn(&mut self, conn: u32) {
        self.send(SessionCommand::Reconnect);
        self.connected(conn).await;
        self.complete_a_turn(conn, "Are you still there?").await;
    }

    /// Sends a new turn on `conn` and waits for its `response.completed`.
    pub async fn complete_a_turn(&mut self, conn: u32, text: &str) {
        self.send(SessionCommand::Send(create(text)));
        self.until("response.completed", |e| {
            matches!(e, SessionEvent::Frame(f) if f.conn == conn && f.dir == Dir::Recv && kind_of(f) == "response.completed")
        })
        .await;
    }

    /// Closes the session, keeps the last events, and checks the transcript holds exactly the
    /// frames the UI saw (so every frame received before a fault is in it).
    pub async fn finish(mut self) -> (Vec<Frame>, String) {
        self.send(SessionCommand::Close);
        while let Ok(Some(event)) = tokio::time::timeout(GUARD, self.handle.events.recv()).await {
            if let SessionEvent::Frame(f) = event {
                self.seen.push(f);
            }
        }
        tokio::time::timeout(GUARD, self.handle.task)
            .await
            .unwrap()
            .unwrap();
        let (_, frames, errors) = turnscope::transcript::read_all(&self.path).unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(frames, self.seen, "the transcript holds every frame seen");
        let raw = std::fs::read_to_string(&self.path).unwrap();
        for part in KEY_PARTS {
            assert!(!raw.contains(part), "the key ({part}) is in the transcript");
        }
        (frames, raw)
    }
}
