//! Where the Responses API is and how to reach it, for every client of it (session, proxy,
//! bench): URL forms, the WebSocket beta header, the TLS crypto provider, the message size flag.

use std::sync::{Arc, Once};

/// The `OpenAI-Beta` header value real clients send on the upgrade.
pub const BETA_HEADER: (&str, &str) = ("OpenAI-Beta", "responses_websockets=2026-02-06");

/// The response header turnscope's emulator puts on every answer (the WebSocket upgrade
/// included), valued with its version; the proxy passes it on, so a client behind it sees it too.
pub const EMULATOR_HEADER: &str = "x-turnscope-emulator";

/// Installs the `ring` crypto provider as the process default, once (no aws-lc here).
pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err means another provider is already installed: that one is used, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A rustls connector that accepts any certificate: the live session's `--insecure` and the
/// proxy's [`crate::proxy::ProxyConfig::insecure_upstream`], for local test servers only.
pub(crate) fn insecure_connector() -> Option<tokio_tungstenite::Connector> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map(|b| {
            b.dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
                .with_no_client_auth()
        });
    // ring supports the default versions; if it ever did not, verified TLS is used instead.
    config
        .ok()
        .map(|c| tokio_tungstenite::Connector::Rustls(Arc::new(c)))
}

#[derive(Debug)]
struct AcceptAnyCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A non-loopback listen address without `--allow-remote`: refused by every server turnscope
/// runs (proxy and emulator), so neither is reachable from the network by accident.
#[derive(Debug, thiserror::Error)]
#[error(
    "{addr} is not a loopback address: anyone who reaches it can {exposes}; pass --allow-remote to bind it anyway"
)]
pub struct RemoteListen {
    /// The address.
    pub addr: std::net::SocketAddr,
    /// What a stranger could do there, e.g. "use the agents' credentials".
    pub exposes: &'static str,
}

/// The one rule for listen addresses: loopback is fine; anything else needs `allow_remote`.
/// `exposes` says what a stranger reaching the address could do.
pub fn check_listen(
    addr: std::net::SocketAddr,
    allow_remote: bool,
    exposes: &'static str,
) -> Result<(), RemoteListen> {
    if addr.ip().is_loopback() || allow_remote {
        Ok(())
    } else {
        Err(RemoteListen { addr, exposes })
    }
}

/// The warning a server prints when it was allowed to listen beyond loopback.
pub fn remote_warning(addr: std::net::SocketAddr, exposes: &str) -> Option<String> {
    (!addr.ip().is_loopback()).then(|| {
        format!(
            "turnscope: WARNING: listening on {addr} (not loopback): anyone who can reach it can {exposes}"
        )
    })
}

/// The flag that raises the message size limit, named in every "too big" message.
pub const MAX_MESSAGE_SIZE_FLAG: &str = "--max-message-size";

/// One line for a message over the size limit: both sizes and the flag that raises the limit.
pub fn oversized_message(what: &str, size: usize, max: usize) -> String {
    format!(
        "{what} of {size} bytes is over the {max} byte limit; raise it with {MAX_MESSAGE_SIZE_FLAG}"
    )
}

/// Turns an HTTP base URL into the WebSocket URL of `/v1/responses`.
///
/// `https://api.openai.com/v1` → `wss://api.openai.com/v1/responses`; `http` → `ws`. A base that
/// already ends in `/responses`, or is already `ws(s)://`, is kept as is apart from the scheme.
pub fn ws_url_from_base(base: &str) -> String {
    let base = base.trim().trim_end_matches('/');
    let swapped = if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else if base.starts_with("ws://") || base.starts_with("wss://") {
        base.to_owned()
    } else {
        format!("wss://{base}")
    };
    let has_path = swapped.split("://").nth(1).is_some_and(|r| r.contains('/'));
    if swapped.ends_with("/responses") {
        swapped
    } else if has_path {
        // `…/v1` or a gateway prefix such as `…/openai/v1`.
        format!("{swapped}/responses")
    } else {
        format!("{swapped}/v1/responses")
    }
}

/// The URL without any `user:password@` part, for messages and transcripts.
pub fn display_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_url_from_base_swaps_scheme_and_adds_the_path() {
        assert_eq!(
            ws_url_from_base("https://api.openai.com/v1"),
            "wss://api.openai.com/v1/responses"
        );
        assert_eq!(
            ws_url_from_base("http://127.0.0.1:8080/v1/"),
            "ws://127.0.0.1:8080/v1/responses"
        );
        assert_eq!(
            ws_url_from_base("http://127.0.0.1:8080"),
            "ws://127.0.0.1:8080/v1/responses"
        );
        assert_eq!(
            ws_url_from_base("wss://x.example/v1/responses"),
            "wss://x.example/v1/responses"
        );
        assert_eq!(
            ws_url_from_base("https://gw.example/openai/v1"),
            "wss://gw.example/openai/v1/responses"
        );
    }

    #[test]
    fn display_url_drops_credentials() {
        assert_eq!(
            display_url("wss://user:sk-secret@host.example/v1/responses"),
            "wss://host.example/v1/responses"
        );
        assert_eq!(display_url("ws://h/v1/responses"), "ws://h/v1/responses");
    }
}
