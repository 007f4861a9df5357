//! Shared pieces of the proxy tests: a WebSocket upstream the test drives, a proxy in front
//! of it, an agent client, and a collector that reads the proxy's events until a condition holds.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::result_large_err
)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderMap, HeaderValue, StatusCode};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use turnscope::frame::{Dir, Frame, Payload};
use turnscope::proxy::{self, Breakpoints, ProxyConfig, ProxyEvent, RunningProxy};

/// A guard against a hung test, never a synchronisation point.
pub const GUARD: Duration = Duration::from_secs(20);

pub type UpstreamWs = WebSocketStream<TcpStream>;
pub type AgentWs = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A WebSocket server whose accepted connections (with their upgrade headers) the test drives.
pub struct Upstream {
    pub addr: SocketAddr,
    conns: mpsc::UnboundedReceiver<(UpstreamWs, HeaderMap)>,
}

impl Upstream {
    /// Accepts every upgrade.
    pub async fn start() -> Self {
        Self::start_with(None).await
    }

    /// Refuses every upgrade with `status` and a JSON error body.
    pub async fn refusing(status: u16) -> Self {
        Self::start_with(Some(status)).await
    }

    async fn start_with(refuse: Option<u16>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, conns) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let tx = tx.clone();
                tokio::spawn(async move {
                    let (htx, hrx) = std::sync::mpsc::channel();
                    let callback = move |req: &Request, resp: Response| {
                        let _ = htx.send(req.headers().clone());
                        match refuse {
                            None => Ok(resp),
                            Some(status) => {
                                let mut err = ErrorResponse::new(Some(
                                    r#"{"error":{"message":"bad key","code":"invalid_api_key"}}"#
                                        .into(),
                                ));
                                *err.status_mut() = StatusCode::from_u16(status).unwrap();
                                Err(err)
                            }
                        }
                    };
                    if let Ok(ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await {
                        let headers = hrx.recv().unwrap_or_default();
                        let _ = tx.send((ws, headers));
                    }
                });
            }
        });
        Upstream { addr, conns }
    }

    /// `http://ADDR/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The next connection the proxy opened.
    pub async fn accept(&mut self) -> (UpstreamWs, HeaderMap) {
        tokio::time::timeout(GUARD, self.conns.recv())
            .await
            .expect("no upstream connection arrived")
            .expect("upstream listener gone")
    }
}

/// A proxy on an ephemeral port in front of `upstream`, recording to `record`.
pub async fn proxy(upstream: &str, record: &Path, breakpoints: Breakpoints) -> RunningProxy {
    proxy::start(ProxyConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        upstream: upstream.to_owned(),
        record: Some(record.to_owned()),
        breakpoints,
        ..ProxyConfig::default()
    })
    .await
    .unwrap()
}

/// An agent connection to the proxy's `/v1/responses` with extra headers.
pub async fn agent(proxy: &RunningProxy, headers: &[(&str, &str)]) -> AgentWs {
    let mut req = format!("ws://{}/v1/responses", proxy.addr())
        .into_client_request()
        .unwrap();
    for (k, v) in headers {
        req.headers_mut().insert(
            tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    let (ws, _) = tokio::time::timeout(GUARD, tokio_tungstenite::connect_async(req))
        .await
        .expect("agent connect timed out")
        .expect("agent connect failed");
    ws
}

/// The next message other than ping/pong.
pub async fn next_data<S>(ws: &mut S) -> Option<Message>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let next = tokio::time::timeout(GUARD, ws.next())
            .await
            .expect("no message arrived");
        match next {
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(m)) => return Some(m),
            Some(Err(_)) | None => return None,
        }
    }
}

/// The next text message (panics on anything else).
pub async fn next_text<S>(ws: &mut S) -> String
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    match next_data(ws).await {
        Some(Message::Text(t)) => t.as_str().to_owned(),
        other => panic!("expected a text frame, got {other:?}"),
    }
}

/// Reads the proxy's events, keeping frames and paused notices.
pub struct Collector {
    pub frames: Vec<Frame>,
    pub paused: Vec<(u64, u32, Dir, String)>,
    pub released: Vec<u64>,
}

impl Collector {
    pub fn new() -> Self {
        Collector {
            frames: Vec::new(),
            paused: Vec::new(),
            released: Vec::new(),
        }
    }

    /// Reads events until `done(self)` holds.
    pub async fn until(
        &mut self,
        proxy: &mut RunningProxy,
        what: &str,
        done: impl Fn(&Collector) -> bool,
    ) {
        while !done(self) {
            let event = tokio::time::timeout(GUARD, proxy.events.recv())
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
                .unwrap_or_else(|| panic!("proxy ended before {what}"));
            match event {
                ProxyEvent::Frame(f, _) => self.frames.push(f),
                ProxyEvent::Paused {
                    id,
                    conn,
                    dir,
                    text,
                } => self.paused.push((id, conn, dir, text)),
                ProxyEvent::Released { id } => self.released.push(id),
                ProxyEvent::Error(e) => panic!("proxy error: {e}"),
            }
        }
    }

    /// Reads until the close meta frame of `conn` arrived.
    pub async fn until_closed(&mut self, proxy: &mut RunningProxy, conn: u32) {
        self.until(proxy, "the close meta frame", |c| c.closed(conn).is_some())
            .await;
    }

    /// The close meta body of `conn`.
    pub fn closed(&self, conn: u32) -> Option<serde_json::Value> {
        self.metas(conn).into_iter().find(|m| m["event"] == "close")
    }

    /// Meta bodies of `conn`, in order.
    pub fn metas(&self, conn: u32) -> Vec<serde_json::Value> {
        self.frames
            .iter()
            .filter(|f| f.conn == conn && f.dir == Dir::Meta)
            .filter_map(|f| serde_json::from_str(f.payload.json()?).ok())
            .collect()
    }

    /// Payload bytes of the frames of `conn` going `dir`, in order.
    pub fn wire(&self, conn: u32, dir: Dir) -> Vec<Vec<u8>> {
        self.frames
            .iter()
            .filter(|f| f.conn == conn && f.dir == dir)
            .map(|f| f.payload.as_bytes().to_vec())
            .collect()
    }
}

/// Every frame of a transcript, in file order.
pub fn transcript_frames(path: &Path) -> Vec<Frame> {
    let (_, frames, errors) = turnscope::transcript::read_all(path).unwrap();
    assert!(errors.is_empty(), "corrupt transcript lines: {errors:?}");
    frames
}

/// Payload bytes of a transcript's frames of `conn` going `dir`.
pub fn transcript_wire(frames: &[Frame], conn: u32, dir: Dir) -> Vec<Vec<u8>> {
    frames
        .iter()
        .filter(|f| f.conn == conn && f.dir == dir)
        .map(|f| match &f.payload {
            Payload::Json(s) | Payload::Text(s) => s.as_bytes().to_vec(),
            Payload::Binary(b) => b.clone(),
        })
        .collect()
}

/// A fresh temporary transcript path (the directory lives as long as the returned guard).
pub fn temp_transcript() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("proxy.tsjsonl");
    (dir, path)
}
