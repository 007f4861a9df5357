//! The listener: accepts agent connections (HTTP/1.1) and routes WebSocket upgrades and plain requests.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONNECTION, CONTENT_TYPE, UPGRADE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use super::Shared;

/// The body of every response the proxy gives.
pub(crate) type ResBody = BoxBody<Bytes, std::io::Error>;

/// First wait after a failed accept; doubled on each failure in a row up to [`ACCEPT_WAIT_MAX`].
const ACCEPT_WAIT_MIN: std::time::Duration = std::time::Duration::from_millis(5);
/// Longest wait between accepts while they keep failing (hyper 0.14 and axum wait 1 s).
const ACCEPT_WAIT_MAX: std::time::Duration = std::time::Duration::from_secs(1);

/// Accepts until the proxy drains; each connection is served on its own task. The listener
/// is dropped on return, so agents connecting after that are refused.
pub(crate) async fn accept_loop(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    let mut wait = None;
    loop {
        let accepted = tokio::select! {
            () = shared.drain.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, _peer) = match accepted {
            Ok(accepted) => {
                wait = None;
                accepted
            }
            // An agent gave up before we accepted it: nothing is wrong with the listener.
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // EMFILE and friends: the pending connection stays in the kernel's queue, so
                // accepting again at once fails at once and spins a core. Wait, longer each
                // time, until a connection closes and frees a descriptor.
                let next = wait.map_or(ACCEPT_WAIT_MIN, |w: std::time::Duration| {
                    (w * 2).min(ACCEPT_WAIT_MAX)
                });
                if wait.is_none() {
                    shared.recorder.event(super::ProxyEvent::Error(format!(
                        "cannot accept agent connections: {e}; retrying, at most once a second (raise the open-file limit, ulimit -n)"
                    )));
                }
                wait = Some(next);
                tokio::select! {
                    () = shared.drain.cancelled() => break,
                    () = tokio::time::sleep(next) => continue,
                }
            }
        };
        let _ = tcp.set_nodelay(true);
        let conn_shared = shared.clone();
        shared.tracker.spawn(async move {
            let svc_shared = conn_shared.clone();
            let service = hyper::service::service_fn(move |req| {
                let shared = svc_shared.clone();
                async move { Ok::<_, Infallible>(route(req, shared).await) }
            });
            let served = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
                .with_upgrades();
            tokio::pin!(served);
            tokio::select! {
                _ = &mut served => return,
                () = conn_shared.cancel.cancelled() => return,
                // Finish the response in flight (an SSE stream included), then close; an idle
                // keep-alive connection closes at once.
                () = conn_shared.drain.cancelled() => served.as_mut().graceful_shutdown(),
            }
            tokio::select! {
                _ = served => {}
                () = conn_shared.cancel.cancelled() => {}
            }
        });
    }
}

/// Errors that belong to one connection (it was reset or aborted before we accepted it),
/// not to the listener: the next accept can go ahead at once.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}

async fn route(req: Request<Incoming>, shared: Arc<Shared>) -> Response<ResBody> {
    if is_websocket_upgrade(&req) {
        super::ws::upgrade(req, shared).await
    } else {
        super::http::forward(req, shared).await
    }
}

fn is_websocket_upgrade(req: &Request<Incoming>) -> bool {
    let has = |name, token: &str| {
        req.headers().get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    req.method() == hyper::Method::GET && has(UPGRADE, "websocket") && has(CONNECTION, "upgrade")
}

/// A body holding `bytes`.
pub(crate) fn full(bytes: impl Into<Bytes>) -> ResBody {
    Full::new(bytes.into())
        .map_err(|never: Infallible| match never {})
        .boxed()
}

/// An OpenAI-shaped JSON error from the proxy itself (the SDKs show `error.message`).
pub(crate) fn error_response(status: StatusCode, message: &str) -> Response<ResBody> {
    let body = serde_json::json!({
        "error": {"message": message, "type": "turnscope_proxy_error", "code": null, "param": null}
    });
    let mut response = Response::new(full(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

/// Request headers worth forwarding upstream: everything but hop-by-hop and framing headers.
pub(crate) fn forwardable_request_header(name: &str) -> bool {
    !matches!(
        name,
        "host"
            | "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "content-length"
            | "accept-encoding"
            | "sec-websocket-key"
            | "sec-websocket-version"
            | "sec-websocket-extensions"
            | "sec-websocket-accept"
    )
}

/// Response headers worth passing back to the agent.
pub(crate) fn forwardable_response_header(name: &str) -> bool {
    !matches!(
        name,
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "sec-websocket-accept"
            | "sec-websocket-extensions"
    )
}
