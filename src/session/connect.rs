//! Opening one WebSocket connection: the upgrade request, TLS, TCP_NODELAY, and errors that say what to fix.

use std::time::Duration;

use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::{Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{SessionConfig, SessionError};
use crate::endpoint::{display_url, install_crypto_provider};

/// The socket the session actor owns.
pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long one connect (DNS + TCP + TLS + upgrade) may take.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// What the upgrade response told us that is worth recording (never request headers).
#[derive(Debug, Clone, Default)]
pub(crate) struct Opened {
    /// `x-request-id` of the upgrade, when the server sent one.
    pub request_id: Option<String>,
    /// The `client` meta line: the upgrade request's non-secret headers (never the key).
    pub client: Option<serde_json::Value>,
    /// The version turnscope's emulator announced ([`crate::endpoint::EMULATOR_HEADER`]).
    pub emulator: Option<String>,
}

/// Builds the upgrade request with auth and extra headers.
pub(crate) fn build_request(config: &SessionConfig) -> Result<Request, SessionError> {
    let url = display_url(&config.url);
    if !(config.url.starts_with("ws://") || config.url.starts_with("wss://")) {
        return Err(SessionError::BadUrl {
            url,
            detail: "the scheme must be ws:// or wss://".into(),
        });
    }
    let mut request =
        config
            .url
            .as_str()
            .into_client_request()
            .map_err(|e| SessionError::BadUrl {
                url: url.clone(),
                detail: e.to_string(),
            })?;
    let headers = request.headers_mut();
    if let Some(key) = &config.api_key {
        let mut value = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
            SessionError::BadHeader {
                name: "Authorization".into(),
                fix: "the API key holds characters not allowed in a header; check OPENAI_API_KEY"
                    .into(),
            }
        })?;
        value.set_sensitive(true);
        headers.insert("authorization", value);
    }
    let named = [
        ("OpenAI-Organization", config.organization.as_deref()),
        ("OpenAI-Project", config.project.as_deref()),
    ];
    let extra = config
        .extra_headers
        .iter()
        .map(|(k, v)| (k.as_str(), Some(v.as_str())));
    // Names turnscope itself to the server and in its own recordings; extra headers may override.
    let agent = format!("turnscope/{}", env!("CARGO_PKG_VERSION"));
    let named = [("User-Agent", Some(agent.as_str())), named[0], named[1]];
    for (name, value) in named.into_iter().chain(extra) {
        let Some(value) = value else { continue };
        let bad = || SessionError::BadHeader {
            name: name.to_owned(),
            fix: "use a plain ASCII header name and value".into(),
        };
        let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?;
        let value = HeaderValue::from_str(value).map_err(|_| bad())?;
        headers.insert(header, value);
    }
    Ok(request)
}

/// Connects: DNS, TCP (with `TCP_NODELAY`), TLS, WebSocket upgrade; all within [`CONNECT_TIMEOUT`].
pub(crate) async fn open(config: &SessionConfig) -> Result<(Ws, Opened), SessionError> {
    let url = display_url(&config.url);
    match tokio::time::timeout(CONNECT_TIMEOUT, open_inner(config)).await {
        Ok(result) => result,
        Err(_) => Err(SessionError::Timeout {
            url,
            secs: CONNECT_TIMEOUT.as_secs(),
        }),
    }
}

async fn open_inner(config: &SessionConfig) -> Result<(Ws, Opened), SessionError> {
    install_crypto_provider();
    let url = display_url(&config.url);
    let request = build_request(config)?;
    let uri = request.uri();
    let host = uri
        .host()
        .ok_or_else(|| SessionError::BadUrl {
            url: url.clone(),
            detail: "no host".into(),
        })?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("wss") {
            443
        } else {
            80
        });

    let addrs: Vec<_> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| SessionError::Resolve {
            host: host.clone(),
            url: url.clone(),
            detail: e.to_string(),
        })?
        .collect();
    let mut last_err = None;
    let mut socket = None;
    for addr in &addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => {
                socket = Some(s);
                break;
            }
            Err(e) => last_err = Some((*addr, e)),
        }
    }
    let socket = match (socket, last_err) {
        (Some(s), _) => s,
        (None, Some((addr, e))) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            return Err(SessionError::Refused {
                addr: addr.to_string(),
                url,
            });
        }
        (None, Some((addr, e))) => {
            return Err(SessionError::Connect {
                addr: addr.to_string(),
                url,
                detail: e.to_string(),
            });
        }
        (None, None) => {
            return Err(SessionError::Resolve {
                host,
                url,
                detail: "no addresses".into(),
            });
        }
    };
    // Without TCP_NODELAY small frames can stall ~40 ms behind delayed ACKs.
    socket
        .set_nodelay(true)
        .map_err(|e| SessionError::Connect {
            addr: format!("{host}:{port}"),
            url: url.clone(),
            detail: format!("cannot set TCP_NODELAY: {e}"),
        })?;

    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(config.max_message_size))
        .max_frame_size(Some(config.max_message_size));
    let connector = if config.insecure {
        crate::endpoint::insecure_connector()
    } else {
        None
    };
    let client = crate::ledger::client::meta_body(
        request
            .headers()
            .iter()
            .filter_map(|(n, v)| Some((n.as_str(), v.to_str().ok()?))),
    );
    let (ws, response) = tokio_tungstenite::client_async_tls_with_config(
        request,
        socket,
        Some(ws_config),
        connector,
    )
    .await
    .map_err(|e| handshake_error(&url, e, config.api_key.as_deref()))?;
    Ok((
        ws,
        Opened {
            client,
            ..opened(&response)
        },
    ))
}

fn opened(response: &Response) -> Opened {
    Opened {
        request_id: response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        client: None,
        emulator: response
            .headers()
            .get(crate::endpoint::EMULATOR_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    }
}

/// Turns a handshake failure into an error that names the URL and the fix.
fn handshake_error(
    url: &str,
    err: tokio_tungstenite::tungstenite::Error,
    key: Option<&str>,
) -> SessionError {
    use tokio_tungstenite::tungstenite::Error as E;
    match err {
        E::Http(response) => {
            let status = response.status().as_u16();
            let body = response
                .body()
                .as_deref()
                .map(|b| error_message(b, key))
                .unwrap_or_default();
            SessionError::Http {
                status,
                url: url.to_owned(),
                hint: http_hint(status, &body),
            }
        }
        E::Io(e) => {
            let rustls_error = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                .map(ToString::to_string);
            // tokio-rustls reports a peer that hangs up mid-handshake as a plain I/O error.
            let tls_phase = url.starts_with("wss://")
                && (e.kind() == std::io::ErrorKind::UnexpectedEof
                    || e.to_string().to_ascii_lowercase().contains("tls"));
            let tls = rustls_error.or_else(|| tls_phase.then(|| e.to_string()));
            match tls {
                Some(detail) => tls_error(url, detail),
                None => SessionError::Handshake {
                    url: url.to_owned(),
                    detail: e.to_string(),
                },
            }
        }
        E::Tls(e) => tls_error(url, e.to_string()),
        E::Url(e) => SessionError::BadUrl {
            url: url.to_owned(),
            detail: e.to_string(),
        },
        other => SessionError::Handshake {
            url: url.to_owned(),
            detail: other.to_string(),
        },
    }
}

fn tls_error(url: &str, detail: String) -> SessionError {
    let fix = if detail.contains("certificate") {
        "the server's certificate is not trusted (self-signed, expired or for another host); \
         fix the server or the URL, or pass --insecure for a local test server only"
    } else {
        "check the URL (wss:// needs a TLS server, ws:// a plain one)"
    };
    SessionError::Tls {
        url: url.to_owned(),
        detail,
        fix: fix.to_owned(),
    }
}

/// The `error.message` of an API-shaped error body, else the body's first line; short and key-free.
fn error_message(body: &[u8], key: Option<&str>) -> String {
    let text = String::from_utf8_lossy(body);
    let message = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .and_then(|m| m.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| text.lines().next().unwrap_or("").to_owned());
    let secrets: Vec<String> = key.map(str::to_owned).into_iter().collect();
    let clean = crate::transcript::redact(message.trim(), &secrets);
    let mut short: String = clean.chars().take(200).collect();
    if short.len() < clean.len() {
        short.push('…');
    }
    short
}

fn http_hint(status: u16, body: &str) -> String {
    let fix = match status {
        401 => "check OPENAI_API_KEY",
        403 => "the key lacks access: check OPENAI_API_KEY, --organization and --project",
        404 => "check the URL: it must end in /v1/responses",
        426 => "the server refused the WebSocket upgrade; check the URL or use HTTP mode",
        429 => "rate limited or out of quota; wait and reconnect",
        s if s >= 500 => "server error; reconnect later",
        _ => "the server refused the WebSocket upgrade; check the URL",
    };
    if body.is_empty() {
        fix.to_owned()
    } else {
        format!("{fix} (server said: {body})")
    }
}
