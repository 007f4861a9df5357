//! Plain HTTP forwarding; `POST …/responses` is recorded as an HTTP-mode turn, its SSE stream
//! relayed chunk by chunk (never buffered) and each event recorded after it went out.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming};
use hyper::header::CONTENT_TYPE;
use hyper::{Method, Request, Response, StatusCode};
use tokio::sync::mpsc;

use super::Shared;
use super::recorder::Body;
use super::server::{
    ResBody, error_response, forwardable_request_header, forwardable_response_header,
};
use crate::frame::Dir;
use crate::protocol::SseParser;

/// A response body fed chunk by chunk from the upstream task.
struct ChannelBody(mpsc::Receiver<Result<Frame<Bytes>, std::io::Error>>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        self.0.poll_recv(cx)
    }
}

/// Forwards one request upstream and streams the answer back.
pub(crate) async fn forward(req: Request<Incoming>, shared: Arc<Shared>) -> Response<ResBody> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    // Before anything about this request is recorded: its credentials become secrets.
    shared.recorder.secrets_of(&parts.headers, &path_and_query);
    let url = shared.upstream.http_url(&path_and_query);
    let body = match http_body_util::Limited::new(body, shared.max_message_size)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            return error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!(
                    "turnscope proxy: cannot read the request body (limit {} bytes): {e}",
                    shared.max_message_size
                ),
            );
        }
    };
    let turn =
        (parts.method == Method::POST && path.ends_with("/responses")).then(|| shared.next_conn());
    let mut request = shared.http.request(parts.method.clone(), &url);
    for (name, value) in &parts.headers {
        if forwardable_request_header(name.as_str()) {
            request = request.header(name, value);
        }
    }
    let t_sent = shared.now_us();
    let result = request.body(body.clone()).send().await;
    if let Some(conn) = turn {
        let meta = serde_json::json!({"event": "http_request", "path": path, "method": "POST", "url": url});
        shared.recorder.meta(t_sent, conn, meta.to_string());
        let client = crate::ledger::client::meta_body(
            parts
                .headers
                .iter()
                .filter_map(|(n, v)| Some((n.as_str(), v.to_str().ok()?))),
        );
        if let Some(client) = client {
            shared.recorder.meta(t_sent, conn, client.to_string());
        }
        let text = String::from_utf8_lossy(&body).into_owned();
        shared
            .recorder
            .frame(t_sent, conn, Dir::Sent, Body::Text(text))
            .await;
    }
    let upstream = match result {
        Ok(r) => r,
        Err(e) => {
            let message = format!("cannot reach the upstream {url}: {e}");
            if let Some(conn) = turn {
                let t_us = shared.now_us();
                let meta = serde_json::json!({"event": "error", "message": message});
                shared.recorder.meta(t_us, conn, meta.to_string());
                close(&shared, conn, "the upstream request failed");
            }
            return error_response(
                StatusCode::BAD_GATEWAY,
                &format!("turnscope proxy: {message}"),
            );
        }
    };

    let status = upstream.status();
    let sse = upstream
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let (tx, rx) = mpsc::channel(32);
    let mut response = Response::new(ResBody::new(ChannelBody(rx)));
    *response.status_mut() = status;
    for (name, value) in upstream.headers() {
        if forwardable_response_header(name.as_str()) {
            response.headers_mut().append(name.clone(), value.clone());
        }
    }
    if let Some(conn) = turn
        && !status.is_success()
    {
        let meta = serde_json::json!({
            "event": "error",
            "message": format!("upstream answered POST {path} with HTTP {}", status.as_u16()),
        });
        shared
            .recorder
            .meta(shared.now_us(), conn, meta.to_string());
    }
    let task_shared = shared.clone();
    shared.tracker.spawn(async move {
        let shared = task_shared;
        let mut chunks = upstream.bytes_stream();
        let mut events = SseParser::default();
        let mut whole = Vec::new();
        let mut ended = "the HTTP response ended";
        loop {
            let chunk = tokio::select! {
                () = shared.cancel.cancelled() => {
                    ended = "the proxy shut down";
                    break;
                }
                chunk = chunks.next() => chunk,
            };
            let Some(chunk) = chunk else { break };
            let t_us = shared.now_us();
            match chunk {
                Ok(bytes) => {
                    if tx.send(Ok(Frame::data(bytes.clone()))).await.is_err() {
                        ended = "the agent went away before the response ended";
                        break;
                    }
                    let Some(conn) = turn else { continue };
                    if sse {
                        for event in events.push(&bytes) {
                            shared
                                .recorder
                                .frame(t_us, conn, Dir::Recv, Body::Text(event.data))
                                .await;
                        }
                    } else {
                        whole.extend_from_slice(&bytes);
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                    ended = "the upstream broke off the response";
                    break;
                }
            }
        }
        if let Some(conn) = turn {
            if !whole.is_empty() {
                let text = String::from_utf8_lossy(&whole).into_owned();
                shared
                    .recorder
                    .frame(shared.now_us(), conn, Dir::Recv, Body::Text(text))
                    .await;
            }
            close(&shared, conn, ended);
        }
    });
    response
}

fn close(shared: &Shared, conn: u32, reason: &str) {
    let meta =
        serde_json::json!({"event": "close", "code": null, "reason": reason, "by": "upstream"});
    shared
        .recorder
        .meta(shared.now_us(), conn, meta.to_string());
}
