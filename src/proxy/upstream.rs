//! Where requests go: mapping an agent's path onto the upstream base URL, and the HTTP client.

use super::ProxyError;

/// The upstream base, as the agent would use it (`https://api.openai.com/v1`).
#[derive(Debug, Clone)]
pub(crate) struct Upstream {
    /// `http(s)://host[:port]/prefix`, no trailing slash.
    http_base: String,
    /// The same with `ws(s)://`.
    ws_base: String,
    /// True for a loopback host (no system proxy for it).
    loopback: bool,
}

impl Upstream {
    pub fn parse(url: &str) -> Result<Self, ProxyError> {
        let bad = |detail: &str| ProxyError::BadUpstream {
            url: crate::endpoint::display_url(url),
            detail: detail.to_owned(),
        };
        let trimmed = url.trim().trim_end_matches('/');
        let (scheme, rest) = trimmed.split_once("://").ok_or_else(|| bad("no scheme"))?;
        let tls = match scheme {
            "https" | "wss" => true,
            "http" | "ws" => false,
            _ => return Err(bad("the scheme must be http, https, ws or wss")),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if authority.is_empty() {
            return Err(bad("no host"));
        }
        if authority.contains('@') {
            return Err(bad("credentials in the URL are not supported"));
        }
        if path.contains(['?', '#']) {
            return Err(bad("a query or fragment is not supported"));
        }
        // A bare origin means the standard `/v1` prefix.
        let path = if path.is_empty() { "/v1" } else { path };
        let path = path.trim_end_matches("/responses");
        let uri: hyper::Uri = format!("http://{authority}/")
            .parse()
            .map_err(|_| bad("the host is not valid"))?;
        let host = uri.host().unwrap_or_default().trim_matches(['[', ']']);
        let loopback = host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        let (http, ws) = if tls {
            ("https", "wss")
        } else {
            ("http", "ws")
        };
        Ok(Upstream {
            http_base: format!("{http}://{authority}{path}"),
            ws_base: format!("{ws}://{authority}{path}"),
            loopback,
        })
    }

    /// The base URL for transcripts and messages.
    pub fn display(&self) -> String {
        self.http_base.clone()
    }

    /// The upstream URL for an agent's `path?query` (its `/v1` prefix maps onto the base).
    pub fn http_url(&self, path_and_query: &str) -> String {
        format!("{}{}", self.http_base, strip_v1(path_and_query))
    }

    /// The upstream WebSocket URL for an agent's `path?query`.
    pub fn ws_url(&self, path_and_query: &str) -> String {
        format!("{}{}", self.ws_base, strip_v1(path_and_query))
    }
}

/// `/v1/responses?x` → `/responses?x`; paths without the prefix are kept.
fn strip_v1(path_and_query: &str) -> &str {
    match path_and_query.strip_prefix("/v1") {
        Some(rest) if rest.is_empty() || rest.starts_with(['/', '?']) => rest,
        _ => path_and_query,
    }
}

/// The HTTP client for forwarding: no redirects followed (the agent sees them), `TCP_NODELAY`,
/// no system proxy for a loopback upstream.
pub(crate) fn http_client(
    upstream: &Upstream,
    insecure: bool,
) -> Result<reqwest::Client, ProxyError> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .tcp_nodelay(true)
        .use_rustls_tls()
        .danger_accept_invalid_certs(insecure);
    if upstream.loopback {
        builder = builder.no_proxy();
    }
    builder
        .build()
        .map_err(|e| ProxyError::HttpClient(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_paths_map_onto_the_upstream_base() {
        let up = Upstream::parse("https://api.openai.com/v1/").unwrap();
        assert_eq!(
            up.ws_url("/v1/responses"),
            "wss://api.openai.com/v1/responses"
        );
        assert_eq!(
            up.http_url("/v1/models?limit=2"),
            "https://api.openai.com/v1/models?limit=2"
        );
        assert_eq!(
            up.http_url("/responses"),
            "https://api.openai.com/v1/responses"
        );
        let gw = Upstream::parse("http://127.0.0.1:9000/openai/v1").unwrap();
        assert_eq!(
            gw.ws_url("/v1/responses"),
            "ws://127.0.0.1:9000/openai/v1/responses"
        );
        assert!(gw.loopback);
        let bare = Upstream::parse("ws://localhost:1234").unwrap();
        assert_eq!(
            bare.http_url("/v1/responses"),
            "http://localhost:1234/v1/responses"
        );
        assert!(bare.loopback);
        let full = Upstream::parse("ws://127.0.0.1:1/v1/responses").unwrap();
        assert_eq!(
            full.ws_url("/v1/responses"),
            "ws://127.0.0.1:1/v1/responses"
        );
        assert_eq!(strip_v1("/v1x/y"), "/v1x/y");
    }

    #[test]
    fn bad_upstreams_are_refused_with_the_fix() {
        for url in [
            "api.openai.com",
            "ftp://x/v1",
            "https:///v1",
            "https://u:p@h/v1",
        ] {
            let err = Upstream::parse(url).unwrap_err().to_string();
            assert!(err.contains("http(s)://HOST"), "{err}");
            assert!(!err.contains("u:p"), "{err}");
        }
    }
}
