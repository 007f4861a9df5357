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

/// Accepts until cancelled; each connection is served on its own task.
pub(crate) async fn accept_loop(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    loop {
        let accepted = tokio::select! {
            () = shared.cancel.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let Ok((tcp, _peer)) = accepted else {
            // EMFILE and friends: the next accept may work; the listener stays.
            tokio::task::yield_now().await;
            continue;
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
            tokio::select! {
                _ = served => {}
                () = conn_shared.cancel.cancelled() => {}
            }
        });
    }
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
