//! A local Responses API server (WebSocket mode and HTTP/SSE on `/v1/responses`) with a
//! deterministic scripted model, for tests, demos and benchmarks.
//!
//! Start it in-process with [`start`]; `turnscope emulate` runs the same server.

mod context;
mod engine;
mod http;
mod ids;
mod items;
mod latency;
mod model;
pub mod models;
mod params;
mod response;
mod scenario;
mod validate;
mod ws;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;

pub use latency::LatencyProfile;
pub use model::demo_tools;
pub use models::KNOWN_MODELS;
pub use scenario::{
    FaultKind, MAX_OUTPUT_BYTES, MAX_SAY_WORDS, Scenario, ScenarioCall, ScenarioFault,
    ScenarioTurn, synthetic_output,
};

/// The close code sent after the age-limit `error` event (1001 "going away"; the SDK's
/// `connect()` treats it as retryable). The real server's close code is not public.
pub const MAX_AGE_CLOSE_CODE: u16 = 1001;
/// The close reason sent with [`MAX_AGE_CLOSE_CODE`]: the error code clients rotate on.
pub const MAX_AGE_CLOSE_REASON: &str = AGE_LIMIT_CODE;
/// The error code of the 60-minute connection age limit (and only of that limit).
pub const AGE_LIMIT_CODE: &str = "websocket_connection_limit_reached";
/// The real server's message for [`AGE_LIMIT_CODE`], word for word (as the Codex CLI's
/// `codex-api` crate pins it in `responses_websocket.rs`). It says 60 minutes whatever
/// `--max-connection-age` is, as the real one would.
pub const AGE_LIMIT_MESSAGE: &str = "Responses websocket connection limit reached (60 minutes). Create a new websocket connection to continue.";
pub use ws::CONNECTION_CAP_CODE;

/// What happens to responses still streaming when a connection reaches its age limit. The
/// real server's behaviour is not documented; `finish` is the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AgeLimitInFlight {
    /// Running (and already queued) responses stream to their terminal event; requests sent
    /// after the deadline get the age-limit `error`; once the lanes are idle the error is sent
    /// and the connection closes.
    #[default]
    Finish,
    /// Running responses stop where they are (no terminal event), the age-limit `error`
    /// follows at once and the connection closes.
    Cut,
}

impl std::str::FromStr for AgeLimitInFlight {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "finish" => Ok(Self::Finish),
            "cut" => Ok(Self::Cut),
            other => Err(format!("`{other}` is not a policy; use `finish` or `cut`")),
        }
    }
}

/// The age-limit failure (status 400, `invalid_request_error`).
pub(crate) fn age_limit_failure() -> ApiFailure {
    ApiFailure::invalid(AGE_LIMIT_CODE, AGE_LIMIT_MESSAGE, None)
}

/// Why the emulator could not start or load its configuration.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// A non-loopback address without `allow_remote`.
    #[error(transparent)]
    RemoteNotAllowed(#[from] crate::endpoint::RemoteListen),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}; pick another --listen address or port")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// A scenario file is unreadable or malformed.
    #[error("scenario {origin}: {message}")]
    Scenario {
        /// File or name.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// A latency profile is unknown or malformed.
    #[error("latency profile {origin}: {message}")]
    Latency {
        /// Name or file.
        origin: String,
        /// What is wrong.
        message: String,
    },
}

/// Fault injection counted in server events per connection (flags `--fault-*`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultPlan {
    /// Close the TCP connection (no close frame) after this many events.
    pub drop_after: Option<u64>,
    /// Stop sending after this many events (the socket stays open).
    pub stall_after: Option<u64>,
    /// Send one non-JSON text frame after this many events.
    pub malformed_after: Option<u64>,
    /// Send one oversized frame after this many events.
    pub oversized_after: Option<u64>,
}

/// What a stranger reaching a non-loopback emulator could do (in the `--allow-remote` messages).
pub const EXPOSES: &str = "use the emulator (and see what its clients send)";

/// How the emulator runs.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Listen address; default 127.0.0.1:0 (an ephemeral port).
    pub listen: SocketAddr,
    /// Allow a non-loopback `listen` (the same rule as the proxy's `--allow-remote`).
    pub allow_remote: bool,
    /// When set, only this Bearer key is accepted; otherwise any key is, and so is none.
    pub api_key: Option<String>,
    /// At this age a connection gets the [`AGE_LIMIT_CODE`] error and is closed with
    /// [`MAX_AGE_CLOSE_CODE`]; default 60 minutes.
    pub max_connection_age: Duration,
    /// What the age limit does to responses still streaming.
    pub age_limit_inflight: AgeLimitInFlight,
    /// Modelled latency; default zero.
    pub latency: LatencyProfile,
    /// Scripted model; `None` = the interactive persona.
    pub scenario: Option<Scenario>,
    /// WebSocket connections allowed per API key; `None` = unlimited.
    pub max_connections_per_key: Option<usize>,
    /// Responses running at once per connection (more get `response.queued`); default 16.
    pub max_active_responses: usize,
    /// Distinct named lanes per connection; default 32.
    pub max_lanes: usize,
    /// Largest accepted client message / request body; default 16 MiB.
    pub max_message_bytes: usize,
    /// Size of the frame sent by the oversized fault; default 1 MiB + 1 (over the
    /// Python `websockets` default limit).
    pub oversized_frame_bytes: usize,
    /// Injected faults.
    pub faults: FaultPlan,
    /// Model names accepted beyond the built-in list (`*` accepts any); a scenario's own
    /// `model` is always accepted.
    pub extra_models: Vec<String>,
    /// Seed of the id generator; `None` = from the clock. A fixed seed repeats the ids of a
    /// run whose requests arrive in the same order.
    pub id_seed: Option<u64>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            allow_remote: false,
            api_key: None,
            max_connection_age: Duration::from_secs(60 * 60),
            age_limit_inflight: AgeLimitInFlight::Finish,
            latency: LatencyProfile::zero(),
            scenario: None,
            max_connections_per_key: None,
            max_active_responses: 16,
            max_lanes: 32,
            max_message_bytes: 16 * 1024 * 1024,
            oversized_frame_bytes: 1024 * 1024 + 1,
            faults: FaultPlan::default(),
            id_seed: None,
            extra_models: Vec::new(),
        }
    }
}

/// State shared by every connection of one emulator.
pub(crate) struct Shared {
    pub config: EmulatorConfig,
    pub tokens: context::TokenMemo,
    pub store: context::Store,
    pub prefix: context::PrefixCache,
    pub connections: Mutex<HashMap<String, usize>>,
    /// Hard stop: every WebSocket closes now (1001), running responses are cut.
    pub cancel: CancellationToken,
    /// Graceful stop (a child of `cancel`): no new connections; each WebSocket closes (1001)
    /// once its running responses ended, each HTTP connection after its response.
    pub drain: CancellationToken,
    /// Counts the open WebSocket connections (a graceful stop waits for them).
    pub tracker: TaskTracker,
    /// Opaque ids in the real formats.
    pub ids: ids::IdGen,
    /// The latency profile's noise, seeded by `jitter_seed` apart from the ids so a noisy
    /// run draws the same noise whatever ids it makes.
    pub jitter: ids::IdGen,
    /// Emulator-internal ids (steering submissions): a readable counter.
    serial: AtomicU64,
    seed: u64,
}

impl Shared {
    /// True when the emulator answers for `model`: a known name (see `models`), a name
    /// allowed by `--allow-model` (or `*`), or the scenario's own model.
    pub fn model_ok(&self, model: &str) -> bool {
        models::is_known(model)
            || self
                .config
                .extra_models
                .iter()
                .any(|m| m == "*" || m == model)
            || self
                .config
                .scenario
                .as_ref()
                .is_some_and(|s| s.model() == model)
    }

    /// A fresh emulator-internal id with `prefix` (`steer`), unique within this emulator.
    pub fn next_id(&self, prefix: &str) -> String {
        let n = self.serial.fetch_add(1, Ordering::Relaxed);
        format!("{prefix}_{:08x}{n:08x}", self.seed)
    }

    /// Counts a connection for `key`; `None` when the per-key cap is reached.
    pub fn open_connection(self: &Arc<Self>, key: &str) -> Option<ConnectionSlot> {
        let mut map = self
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let n = map.entry(key.to_owned()).or_insert(0);
        if self
            .config
            .max_connections_per_key
            .is_some_and(|cap| *n >= cap)
        {
            return None;
        }
        *n += 1;
        Some(ConnectionSlot {
            shared: self.clone(),
            key: key.to_owned(),
            _open: self.tracker.token(),
        })
    }
}

/// One counted WebSocket connection; uncounted on drop.
pub(crate) struct ConnectionSlot {
    shared: Arc<Shared>,
    key: String,
    /// Held while the connection is open: a graceful stop waits until every one is dropped.
    _open: TaskTrackerToken,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut map = self
            .shared
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = map.get_mut(&self.key) {
            *n = n.saturating_sub(1);
        }
    }
}

/// An API-shaped failure.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiFailure {
    pub status: u16,
    pub kind: &'static str,
    pub code: Option<String>,
    pub message: String,
    pub param: Option<String>,
}

impl ApiFailure {
    /// A 400 `invalid_request_error`.
    pub fn invalid(code: &str, message: impl Into<String>, param: Option<&str>) -> Self {
        ApiFailure {
            status: 400,
            kind: "invalid_request_error",
            code: Some(code.to_owned()),
            message: message.into(),
            param: param.map(str::to_owned),
        }
    }

    /// The nested WebSocket `error` event (sequence number added by the writer).
    pub fn ws_event(&self) -> Value {
        json!({
            "type": "error",
            "status": self.status,
            "error": {"type": self.kind, "code": self.code, "message": self.message, "param": self.param},
        })
    }

    /// The HTTP error body.
    pub fn http_body(&self) -> Value {
        json!({"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}})
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        (status, axum::Json(self.http_body())).into_response()
    }
}

/// The oversized-fault event: an unknown event type padded to at least `bytes` bytes.
pub(crate) fn oversized_event(seq: u64, bytes: usize) -> String {
    let head =
        json!({"type": "emulator.oversized", "sequence_number": seq, "padding": ""}).to_string();
    let pad = "x".repeat(bytes.saturating_sub(head.len()));
    json!({"type": "emulator.oversized", "sequence_number": seq, "padding": pad}).to_string()
}

/// The one check of `Authorization: Bearer …`, for the WebSocket upgrade and every HTTP route.
/// Without `--api-key` any key is accepted and so is none (a newcomer's `--url` needs no key);
/// with it, only that key. Returns the key, `""` when none was sent (the per-key cap counts
/// keyless connections together).
pub(crate) fn authorize(shared: &Shared, headers: &HeaderMap) -> Result<String, ApiFailure> {
    let unauthorized = |message: &str| ApiFailure {
        status: 401,
        kind: "invalid_request_error",
        code: Some("invalid_api_key".into()),
        message: message.into(),
        param: None,
    };
    let key = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|k| !k.is_empty());
    match (&shared.config.api_key, key) {
        (Some(_), None) => Err(unauthorized(
            "You didn't provide an API key. This emulator was started with --api-key: send that key as `Authorization: Bearer KEY`.",
        )),
        (Some(expected), Some(key)) if expected != key => Err(unauthorized(
            "Incorrect API key provided. This emulator was started with --api-key; use that key.",
        )),
        (_, key) => Ok(key.unwrap_or_default().to_owned()),
    }
}

/// A running emulator; dropping it does not stop it, call [`RunningEmulator::shutdown`].
#[derive(Debug)]
pub struct RunningEmulator {
    addr: SocketAddr,
    cancel: CancellationToken,
    drain: CancellationToken,
    tracker: TaskTracker,
    task: JoinHandle<()>,
}

impl RunningEmulator {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://HOST:PORT/v1`, for `OPENAI_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// `ws://HOST:PORT/v1/responses`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/v1/responses", self.addr)
    }

    /// Stops at once: closes every connection (WebSockets with 1001, cutting running
    /// responses) and waits (at most 5 s) for the server.
    pub async fn shutdown(self) {
        self.shutdown_within(Duration::ZERO).await;
    }

    /// Stops gracefully: accepts no new connection and lets running responses finish for up
    /// to `grace` (each WebSocket is closed with 1001 "going away" once its lanes are idle,
    /// each HTTP connection after its response); then stops as [`RunningEmulator::shutdown`]
    /// does. True when everything finished within `grace`.
    pub async fn shutdown_within(self, grace: Duration) -> bool {
        self.drain.cancel();
        self.tracker.close();
        let abort = self.task.abort_handle();
        let mut task = self.task;
        let tracker = self.tracker;
        let mut served = false;
        let finished = tokio::time::timeout(grace, async {
            let _ = (&mut task).await;
            served = true;
            tracker.wait().await;
        })
        .await
        .is_ok();
        self.cancel.cancel();
        // An HTTP stream still running is not told about the hard stop: it is aborted.
        let rest = async {
            tracker.wait().await;
            if !served {
                let _ = task.await;
            }
        };
        if tokio::time::timeout(Duration::from_secs(5), rest)
            .await
            .is_err()
        {
            abort.abort();
        }
        finished
    }

    /// Waits until the server stops (for the CLI: forever, or until cancelled).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// Every reply (the WebSocket upgrade included) carries an `x-request-id`, as the real API's
/// do (the SDK surfaces it as `_request_id`), and [`crate::endpoint::EMULATOR_HEADER`].
async fn add_request_id(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    mut response: Response,
) -> Response {
    if let Ok(v) = axum::http::HeaderValue::from_str(&shared.ids.request()) {
        response.headers_mut().insert("x-request-id", v);
    }
    // Clients (turnscope's own TUI) learn they reached the emulator, not the real API, and
    // turn on what only the emulator's persona understands (the demo tools).
    response.headers_mut().insert(
        crate::endpoint::EMULATOR_HEADER,
        axum::http::HeaderValue::from_static(env!("CARGO_PKG_VERSION")),
    );
    response
}

/// Any other path: the API's JSON 404.
async fn not_found(uri: axum::http::Uri, method: axum::http::Method) -> ApiFailure {
    ApiFailure {
        status: 404,
        kind: "invalid_request_error",
        code: None,
        message: format!("Invalid URL ({method} {})", uri.path()),
        param: None,
    }
}

/// Starts the emulator on `config.listen` and returns once it accepts connections.
pub async fn start(config: EmulatorConfig) -> Result<RunningEmulator, EmulatorError> {
    use axum::serve::ListenerExt;
    let listen = config.listen;
    crate::endpoint::check_listen(listen, config.allow_remote, EXPOSES)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| EmulatorError::Bind {
            addr: listen,
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| EmulatorError::Bind {
            addr: listen,
            source,
        })?;
    // The tokenizer's tables load on first use (~0.5 s in a debug build) and every request
    // counts tokens for the prompt cache: load them before serving, or the first request of a
    // process waits that much beyond its modelled time (it fell on whichever bench run came
    // first, and broke whatif's check against a recorded run).
    let _ = tokio::task::spawn_blocking(|| crate::tokens::count("warm up")).await;
    let cancel = CancellationToken::new();
    let drain = cancel.child_token();
    let tracker = TaskTracker::new();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64 & 0xffff_ffff)
        .unwrap_or(0);
    let id_seed = config.id_seed.unwrap_or(seed);
    let jitter_seed = config.latency.jitter_seed;
    let body_limit = config.max_message_bytes.saturating_mul(2);
    let shared = Arc::new(Shared {
        config,
        tokens: context::TokenMemo::default(),
        store: context::Store::default(),
        prefix: context::PrefixCache::default(),
        connections: Mutex::new(HashMap::new()),
        cancel: cancel.clone(),
        drain: drain.clone(),
        tracker: tracker.clone(),
        ids: ids::IdGen::new(id_seed),
        jitter: ids::IdGen::new(jitter_seed),
        serial: AtomicU64::new(1),
        seed,
    });
    let app = Router::new()
        .route("/v1/responses", get(ws::upgrade).post(http::create))
        .route("/v1/responses/{id}", get(http::retrieve))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::map_response_with_state(
            shared.clone(),
            add_request_id,
        ))
        .with_state(shared);
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let token = drain.clone();
    let task = tokio::spawn(async move {
        // axum stops accepting and lets each HTTP response in flight finish; upgraded
        // WebSockets are not its connections any more (the tracker counts them).
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move { token.cancelled().await })
            .await;
    });
    Ok(RunningEmulator {
        addr,
        cancel,
        drain,
        tracker,
        task,
    })
}
