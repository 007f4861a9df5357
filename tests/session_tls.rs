//! wss:// with a self-signed certificate: refused by default with a one-line fix, accepted
//! with `insecure`, and then frames flow over TLS.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_tungstenite::tungstenite;
use tokio_util::sync::CancellationToken;
use turnscope::frame::{Dir, Payload};
use turnscope::session::{self, ConnState, SessionCommand, SessionConfig, SessionEvent};

const CERT: &[u8] = include_bytes!("fixtures/session/test-only-selfsigned.crt");
const KEY: &[u8] = include_bytes!("fixtures/session/test-only-selfsigned.key");
const GUARD: Duration = Duration::from_secs(20);

/// A blocking TLS WebSocket server on a thread: echoes every text frame until the client leaves.
fn tls_echo_server() -> String {
    let certs = vec![CertificateDer::from_pem_slice(CERT).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(KEY).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("wss://{}/v1/responses", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { return };
            let config = config.clone();
            std::thread::spawn(move || {
                let conn = rustls::ServerConnection::new(config).unwrap();
                let tls = rustls::StreamOwned::new(conn, tcp);
                // A client that rejects the certificate ends the handshake here.
                let Ok(mut ws) = tungstenite::accept(tls) else {
                    return;
                };
                while let Ok(msg) = ws.read() {
                    if msg.is_text() && ws.send(msg).is_err() {
                        return;
                    }
                }
            });
        }
    });
    url
}

async fn next(h: &mut session::SessionHandle) -> SessionEvent {
    tokio::time::timeout(GUARD, h.events.recv())
        .await
        .expect("session went quiet")
        .expect("session ended")
}

#[tokio::test]
async fn a_self_signed_certificate_is_refused_unless_insecure() {
    let url = tls_echo_server();
    let config = SessionConfig {
        url: url.clone(),
        api_key: Some("sk-test-ABCDEF1234567890abcdef".into()),
        ..SessionConfig::default()
    };
    let mut h = session::spawn(config.clone(), CancellationToken::new());
    let message = loop {
        match next(&mut h).await {
            SessionEvent::State(ConnState::Failed { message }) => break message,
            SessionEvent::State(ConnState::Connected { .. }) => {
                panic!("an untrusted certificate was accepted")
            }
            _ => {}
        }
    };
    assert!(
        message.starts_with(&format!("TLS handshake with {url} failed:")),
        "{message}"
    );
    assert!(
        message.contains("--insecure") && !message.contains('\n'),
        "{message}"
    );
    h.commands.send(SessionCommand::Close).unwrap();
    h.task.await.unwrap();

    let mut h = session::spawn(
        SessionConfig {
            insecure: true,
            ..config
        },
        CancellationToken::new(),
    );
    loop {
        match next(&mut h).await {
            SessionEvent::State(ConnState::Connected { conn: 0, .. }) => break,
            SessionEvent::State(ConnState::Failed { message }) => panic!("{message}"),
            _ => {}
        }
    }
    let create = r#"{"type":"response.create","model":"m","input":"over tls"}"#;
    h.commands
        .send(SessionCommand::Send(create.into()))
        .unwrap();
    let echoed = loop {
        if let SessionEvent::Frame(f) = next(&mut h).await
            && f.dir == Dir::Recv
        {
            break f;
        }
    };
    assert_eq!(echoed.payload, Payload::Json(create.into()));
    h.commands.send(SessionCommand::Close).unwrap();
    tokio::time::timeout(GUARD, h.task).await.unwrap().unwrap();
}
