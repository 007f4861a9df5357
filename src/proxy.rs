//! Proxy mode: relay an agent's Responses API traffic to an upstream, recording every frame.
//!
//! ```text
//!  agent ──ws/http──▶ proxy ──ws/http──▶ upstream (api.openai.com, the emulator, …)
//!                       │ forward first, then
//!                       └─▶ recorder task ──▶ transcript ─▶ ProxyEvent ─▶ UI / headless summary
//! ```
//! WebSocket frames are relayed byte-exact and in order (text, binary, ping, pong, close code
//! and reason); each agent connection gets its own `conn` index. `POST …/responses` in HTTP
//! mode is forwarded and its SSE stream relayed chunk by chunk, recorded on a `conn` of its own
//! as an `http_request` meta frame, the request body (sent) and each SSE event (recv). Other
//! HTTP requests are forwarded unrecorded. Breakpoints hold matching frames until the caller
//! forwards, edits or drops them. Request headers (Authorization, keys) are never recorded.

mod breakpoint;
pub(crate) mod events;
mod http;
mod inflight;
mod recorder;
mod server;
mod upstream;
mod wire;
mod ws;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use breakpoint::{Breakpoint, BreakpointDecision, Breakpoints, Condition, Direction};
pub use events::{BUDGET_BYTES, Hold, ProxyEvents};

use crate::frame::{Dir, Frame, Recorded};

/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8788";

/// The real API's base URL, the default upstream when an API key is present.
pub const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";

/// How the proxy runs.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Where agents connect; default [`DEFAULT_LISTEN`]; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Allow a non-loopback listen address (anyone reaching it can use the agents' upstream).
    pub allow_remote: bool,
    /// The upstream base URL, as the agent would use it: `https://api.openai.com/v1`.
    pub upstream: String,
    /// Transcript path; `None` records nothing (events are still sent).
    pub record: Option<PathBuf>,
    /// Frames to hold for a decision.
    pub breakpoints: Breakpoints,
    /// Largest WebSocket message accepted on either leg, and largest HTTP request body, in bytes.
    pub max_message_size: usize,
    /// Accept any upstream certificate. For tests against a local TLS server only: no flag sets
    /// it (the proxy always verifies the real API's certificate).
    pub insecure_upstream: bool,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8788)),
            allow_remote: false,
            upstream: OPENAI_BASE_URL.into(),
            record: None,
            breakpoints: Breakpoints::default(),
            max_message_size: 64 << 20,
            insecure_upstream: false,
        }
    }
}

/// What the proxy tells its user (the TUI or the headless printer), in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyEvent {
    /// A frame was relayed (or a meta note made); already in the transcript when recording,
    /// and where its body is there when that line holds it byte for byte.
    Frame(Frame, Option<Recorded>),
    /// A frame is held by a breakpoint until [`ProxyControl::decide`] is called with `id`.
    Paused {
        /// Pass this to [`ProxyControl::decide`].
        id: u64,
        /// The agent connection.
        conn: u32,
        /// `Sent` = agent → upstream, `Recv` = upstream → agent.
        dir: Dir,
        /// The frame's text, exactly as it arrived.
        text: String,
    },
    /// A held frame was released (decided, or its connection closed).
    Released {
        /// The id from [`ProxyEvent::Paused`].
        id: u64,
    },
    /// Something went wrong that is not a frame (recording failed, …); one line.
    Error(String),
}

/// Why the proxy cannot start or a control call failed; each message names the fix.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}: {source}; pick another address with --listen")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// A non-loopback address without `allow_remote`.
    #[error(transparent)]
    RemoteNotAllowed(#[from] crate::endpoint::RemoteListen),
    /// The upstream URL is unusable.
    #[error("bad upstream URL {url}: {detail}; use http(s)://HOST[:PORT]/v1")]
    BadUpstream {
        /// The URL given.
        url: String,
        /// What is wrong.
        detail: String,
    },
    /// The transcript cannot be created.
    #[error("cannot write the transcript {path}: {source}; choose another --record path")]
    Record {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The HTTP client for forwarding cannot be built.
    #[error("cannot set up the HTTP client for forwarding: {0}")]
    HttpClient(String),
    /// A breakpoint condition cannot be parsed.
    #[error(
        "bad breakpoint {spec:?}: {detail}; valid forms: *, an event type (response.create, response.completed, …), a JSON pointer (/response/error) or a JSON pointer == VALUE (/response/status == \"failed\"), each optionally after c2s: (agent→upstream) or s2c: (upstream→agent)"
    )]
    BadBreakpoint {
        /// The text given.
        spec: String,
        /// What is wrong.
        detail: String,
    },
    /// An edited frame is not valid JSON.
    #[error(
        "the edited frame is not valid JSON ({detail}); fix it, or forward or drop the original"
    )]
    InvalidEdit {
        /// serde_json's explanation.
        detail: String,
    },
    /// No frame is held under that id.
    #[error("no paused frame {id}: it was already decided or its connection closed")]
    NotPaused {
        /// The id.
        id: u64,
    },
    /// No open WebSocket connection with that index.
    #[error("no open proxied WebSocket connection {conn}; inject into a connection that is open")]
    NoConnection {
        /// The connection index.
        conn: u32,
    },
}

/// State shared by the listener, every relay and the control handle.
#[derive(Debug)]
pub(crate) struct Shared {
    pub upstream: upstream::Upstream,
    pub started: Instant,
    pub recorder: recorder::RecorderTx,
    pub gate: breakpoint::Gate,
    pub injectors: ws::Injectors,
    pub http: reqwest::Client,
    /// Accept any upstream certificate ([`ProxyConfig::insecure_upstream`]).
    pub insecure_upstream: bool,
    /// Hard stop: every relay ends now (the grace period is over).
    pub cancel: CancellationToken,
    /// Graceful stop (a child of `cancel`): no new connections; each WebSocket closes (1001)
    /// once no response is running on it, each HTTP connection after its response.
    pub drain: CancellationToken,
    pub tracker: TaskTracker,
    pub max_message_size: usize,
    next_conn: AtomicU32,
}

impl Shared {
    /// Microseconds since the proxy started.
    pub fn now_us(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// A fresh connection index.
    pub fn next_conn(&self) -> u32 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    /// The number [`Shared::next_conn`] will hand out next, without claiming it.
    pub fn peek_conn(&self) -> u32 {
        self.next_conn.load(Ordering::Relaxed)
    }
}

/// A cloneable handle to steer a running proxy (breakpoints, injection).
#[derive(Debug, Clone)]
pub struct ProxyControl {
    shared: Arc<Shared>,
}

impl ProxyControl {
    /// Releases the frame held under `id`: forward it, forward an edit (validated JSON), or drop it.
    pub fn decide(&self, id: u64, decision: BreakpointDecision) -> Result<(), ProxyError> {
        self.shared.gate.decide(id, decision)
    }

    /// Sends `text` as a text frame on agent connection `conn`: `Sent` = to the upstream,
    /// `Recv` = to the agent. Recorded after an `{"event":"injected"}` meta frame.
    pub fn inject(&self, conn: u32, dir: Dir, text: String) -> Result<(), ProxyError> {
        self.shared.injectors.inject(conn, dir, text)
    }

    /// Replaces the breakpoints; frames already held stay held.
    pub fn set_breakpoints(&self, breakpoints: Breakpoints) {
        self.shared.gate.set(breakpoints);
    }

    /// Ids of the frames held now, oldest first.
    pub fn paused(&self) -> Vec<u64> {
        self.shared.gate.paused()
    }
}

/// A running proxy. Dropping it does not stop it: call [`RunningProxy::shutdown`].
#[derive(Debug)]
pub struct RunningProxy {
    addr: SocketAddr,
    /// Frames and notices, in order; read them (see [`ProxyEvents`] for the memory bound).
    pub events: ProxyEvents,
    /// Breakpoint decisions and injection.
    pub control: ProxyControl,
    accept: tokio::task::JoinHandle<()>,
    recorder: recorder::RecorderHandle,
}

impl RunningProxy {
    /// The bound address (agents use `http://ADDR/v1`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR/v1`, for `OPENAI_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// `ws://ADDR/v1`, for the Python SDK's `websocket_base_url`.
    pub fn ws_base_url(&self) -> String {
        format!("ws://{}/v1", self.addr)
    }

    /// See [`ProxyControl::decide`].
    pub fn decide(&self, id: u64, decision: BreakpointDecision) -> Result<(), ProxyError> {
        self.control.decide(id, decision)
    }

    /// See [`ProxyControl::inject`].
    pub fn inject(&self, conn: u32, dir: Dir, text: impl Into<String>) -> Result<(), ProxyError> {
        self.control.inject(conn, dir, text.into())
    }

    /// Stops at once: closes every relayed connection (1001; waiting at most 5 s), flushes
    /// the transcript and ends the event stream.
    pub async fn shutdown(self) {
        self.shutdown_within(Duration::ZERO).await;
    }

    /// Stops gracefully: accepts no new connection, lets running responses finish for up to
    /// `grace` (each WebSocket is closed with 1001 "going away" once none runs on it, each HTTP
    /// connection after its response), then closes what is left as [`RunningProxy::shutdown`]
    /// does, flushes the transcript and ends the event stream. True when everything finished
    /// within `grace`.
    pub async fn shutdown_within(self, grace: Duration) -> bool {
        let shared = &self.control.shared;
        shared.drain.cancel();
        // The reader may have stopped reading: nothing in flight may wait for it now.
        shared.recorder.lift_budget();
        let _ = self.accept.await;
        shared.tracker.close();
        let finished = tokio::time::timeout(grace, shared.tracker.wait())
            .await
            .is_ok();
        shared.cancel.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(5), shared.tracker.wait()).await;
        self.recorder.finish().await;
        finished
    }
}

/// What a stranger reaching a non-loopback proxy could do (in the `--allow-remote` messages).
pub const EXPOSES: &str = "send requests with the agents' credentials";

/// Binds the listener and starts relaying; returns once agents can connect.
pub async fn start(config: ProxyConfig) -> Result<RunningProxy, ProxyError> {
    crate::endpoint::install_crypto_provider();
    crate::endpoint::check_listen(config.listen, config.allow_remote, EXPOSES)?;
    let upstream = upstream::Upstream::parse(&config.upstream)?;
    let http = upstream::http_client(&upstream, config.insecure_upstream)?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ProxyError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ProxyError::Bind {
        addr: config.listen,
        source,
    })?;
    let (events_tx, events) = ProxyEvents::channel();
    let header = crate::transcript::Header::new("proxy", Some(upstream.display()), None);
    let budget = events::Budget::new(BUDGET_BYTES);
    let (recorder_tx, recorder) =
        recorder::spawn(config.record.as_deref(), &header, events_tx, budget)?;
    let cancel = CancellationToken::new();
    let shared = Arc::new(Shared {
        gate: breakpoint::Gate::new(config.breakpoints, recorder_tx.clone()),
        upstream,
        started: Instant::now(),
        recorder: recorder_tx,
        injectors: ws::Injectors::default(),
        http,
        insecure_upstream: config.insecure_upstream,
        drain: cancel.child_token(),
        cancel,
        tracker: TaskTracker::new(),
        max_message_size: config.max_message_size,
        next_conn: AtomicU32::new(0),
    });
    let accept = tokio::spawn(server::accept_loop(listener, shared.clone()));
    Ok(RunningProxy {
        addr,
        events,
        control: ProxyControl { shared },
        accept,
        recorder,
    })
}
