//! Network faults and network safety: DNS failure, connect refused and TLS failure each give one
//! line naming the host and the fix and leave the session usable; certificates are verified by
//! default (a self-signed one is refused, directly and by the proxy); `--insecure` is explicit
//! and warned; the proxy and the emulator bind loopback by default and refuse any other address
//! without `--allow-remote`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/reliability.rs"]
mod reliability;

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;

use reliability::{KEY_PARTS, Live};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use turnscope::emulator::{self, EmulatorConfig};
use turnscope::proxy::{self, ProxyConfig};
use turnscope::session::SessionCommand;

const CERT: &[u8] = include_bytes!("fixtures/reliability/test-only-selfsigned.crt");
const CERT_KEY: &[u8] = include_bytes!("fixtures/reliability/test-only-selfsigned.key");

/// A TLS terminator with a self-signed certificate in front of `backend`.
async fn tls_front(backend: SocketAddr) -> SocketAddr {
    turnscope::endpoint::install_crypto_provider();
    let certs = vec![CertificateDer::from_pem_slice(CERT).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(CERT_KEY).unwrap();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return; // the client refused the certificate
                };
                let Ok(mut server) = TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut server).await;
            });
        }
    });
    addr
}

fn one_line_without_key(line: &str) {
    assert!(!line.contains('\n'), "one line: {line}");
    for part in KEY_PARTS {
        assert!(!line.contains(part), "the key is in: {line}");
    }
}

#[tokio::test]
async fn a_dns_failure_names_the_host_and_a_retry_reports_it_again() {
    let url = "ws://turnscope-fault.invalid/v1/responses";
    let mut live = Live::spawn(url, |_| {});
    let line = live.failed().await;
    one_line_without_key(&line);
    assert!(
        line.starts_with(&format!("cannot resolve turnscope-fault.invalid ({url}): "))
            && line.ends_with("; check the URL and your network"),
        "{line}"
    );
    assert_eq!(live.message(), line, "the TUI shows the same line");
    // The session is still alive: a retry runs (and fails the same way), Close still works.
    live.send(SessionCommand::Reconnect);
    let again = live.failed().await;
    assert!(again.starts_with("cannot resolve turnscope-fault.invalid"));
    live.finish().await;
}

#[tokio::test]
async fn connect_refused_names_the_address_and_a_reconnect_works_once_the_server_is_up() {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = probe.local_addr().unwrap();
    drop(probe);
    let url = format!("ws://{addr}/v1/responses");
    let mut live = Live::spawn(&url, |_| {});
    let line = live.failed().await;
    one_line_without_key(&line);
    assert_eq!(
        line,
        format!("connection refused by {addr} ({url}): is the server running? check --url")
    );
    assert_eq!(live.message(), line);
    // The server comes up on that port; the user's reconnect works and a turn completes.
    let emu = emulator::start(EmulatorConfig {
        listen: addr,
        ..EmulatorConfig::default()
    })
    .await
    .expect("the freed port was taken meanwhile");
    live.send(SessionCommand::Reconnect);
    live.connected(0).await;
    live.complete_a_turn(0, "Hello after the refusal").await;
    live.finish().await;
    emu.shutdown().await;
}

#[tokio::test]
async fn wss_to_a_plain_tcp_server_is_a_tls_error_naming_the_host() {
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    let url = format!("wss://{}/v1/responses", emu.addr());
    let mut live = Live::spawn(&url, |_| {});
    let line = live.failed().await;
    one_line_without_key(&line);
    assert!(
        line.starts_with(&format!("TLS handshake with {url} failed: ")),
        "{line}"
    );
    assert!(line.contains("127.0.0.1"), "{line}");
    live.send(SessionCommand::Reconnect);
    assert!(live.failed().await.starts_with("TLS handshake with"));
    live.finish().await;
    // The same server over ws:// works: the error was the scheme, and it said so.
    let mut live = Live::spawn(&emu.ws_url(), |_| {});
    live.connected(0).await;
    live.complete_a_turn(0, "Plain this time").await;
    live.finish().await;
    emu.shutdown().await;
}

#[tokio::test]
async fn a_self_signed_certificate_is_refused_by_default_and_accepted_only_with_insecure() {
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    let front = tls_front(emu.addr()).await;
    let url = format!("wss://{front}/v1/responses");
    let mut live = Live::spawn(&url, |_| {});
    let line = live.failed().await;
    one_line_without_key(&line);
    assert!(
        line.starts_with(&format!("TLS handshake with {url} failed: ")),
        "{line}"
    );
    assert!(
        line.contains("certificate") && line.contains("--insecure"),
        "{line}"
    );
    live.finish().await;

    let mut live = Live::spawn(&url, |c| c.insecure = true);
    live.connected(0).await;
    live.complete_a_turn(0, "Over TLS").await;
    live.finish().await;
    emu.shutdown().await;
}

#[tokio::test]
async fn the_proxy_verifies_the_upstream_certificate() {
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    let front = tls_front(emu.addr()).await;
    let proxy = proxy::start(ProxyConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        upstream: format!("https://{front}/v1"),
        ..ProxyConfig::default()
    })
    .await
    .unwrap();
    let url = format!("{}/responses", proxy.ws_base_url());
    let mut live = Live::spawn(&url, |_| {});
    let line = live.failed().await;
    one_line_without_key(&line);
    assert!(line.starts_with("502 Bad Gateway from"), "{line}");
    assert!(
        line.contains(&format!("wss://{front}/v1/responses")) && line.contains("certificate"),
        "names the upstream and the certificate: {line}"
    );
    live.finish().await;
    proxy.shutdown().await;
    emu.shutdown().await;
}

/// The proxy's WebSocket relay over a TLS upstream (the real API's case): frames pass both ways
/// through the TLS stream, a long request included, and are recorded.
#[tokio::test]
async fn the_proxy_relays_and_records_over_a_tls_upstream() {
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    let front = tls_front(emu.addr()).await;
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("proxy.tsjsonl");
    let proxy = proxy::start(ProxyConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        upstream: format!("https://{front}/v1"),
        record: Some(record.clone()),
        insecure_upstream: true,
        ..ProxyConfig::default()
    })
    .await
    .unwrap();
    let url = format!("{}/responses", proxy.ws_base_url());
    let mut live = Live::spawn(&url, |_| {});
    live.connected(0).await;
    live.complete_a_turn(0, "Over TLS through the proxy").await;
    live.complete_a_turn(0, &"long ".repeat(60_000)).await;
    let (frames, _) = live.finish().await;
    proxy.shutdown().await;
    emu.shutdown().await;
    let completed = |text: &str| text.matches("\"type\":\"response.completed\"").count();
    let seen: usize = frames
        .iter()
        .filter_map(|f| f.payload.json())
        .map(completed)
        .sum();
    assert_eq!(seen, 2, "the client saw both turns complete");
    let recorded = std::fs::read_to_string(&record).unwrap();
    assert_eq!(completed(&recorded), 2, "the proxy recorded both turns");
    assert!(
        recorded.contains(&"long ".repeat(60_000)),
        "the long request is recorded whole"
    );
}

#[tokio::test]
async fn proxy_and_emulator_bind_loopback_by_default() {
    assert!(ProxyConfig::default().listen.ip().is_loopback());
    assert!(EmulatorConfig::default().listen.ip().is_loopback());
    let emu = emulator::start(EmulatorConfig::default()).await.unwrap();
    assert!(emu.addr().ip().is_loopback());
    let proxy = proxy::start(ProxyConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        upstream: emu.base_url(),
        ..ProxyConfig::default()
    })
    .await
    .unwrap();
    assert!(proxy.addr().ip().is_loopback());
    proxy.shutdown().await;
    let err = proxy::start(ProxyConfig {
        listen: "0.0.0.0:0".parse().unwrap(),
        upstream: emu.base_url(),
        ..ProxyConfig::default()
    })
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("--allow-remote"), "{err}");
    emu.shutdown().await;

    // The emulator follows the same rule as the proxy (one check, endpoint::check_listen).
    let err = emulator::start(EmulatorConfig {
        listen: "0.0.0.0:0".parse().unwrap(),
        ..EmulatorConfig::default()
    })
    .await
    .err()
    .unwrap()
    .to_string();
    assert!(
        err.contains("0.0.0.0:0") && err.contains("--allow-remote"),
        "{err}"
    );
    let open = emulator::start(EmulatorConfig {
        listen: "0.0.0.0:0".parse().unwrap(),
        allow_remote: true,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    assert!(open.addr().ip().is_unspecified());
    open.shutdown().await;

    // The CLI defaults, as --help prints them: loopback, and not the same port, so the README's
    // `turnscope emulate` + `turnscope proxy --upstream …` pairing does not collide.
    for (sub, default) in [("proxy", "127.0.0.1:8788"), ("emulate", "127.0.0.1:8787")] {
        let out = Command::new(env!("CARGO_BIN_EXE_turnscope"))
            .args([sub, "--help"])
            .output()
            .unwrap();
        // Help text wraps: compare with runs of whitespace folded to one space.
        let help = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            help.contains(&format!("[default: {default}]")),
            "{sub} --help: {help}"
        );
    }
}

#[test]
fn emulate_on_a_public_address_needs_allow_remote_and_warns() {
    let out = Command::new(env!("CARGO_BIN_EXE_turnscope"))
        .args(["emulate", "--listen", "0.0.0.0:0"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("0.0.0.0:0 is not a loopback address") && err.contains("--allow-remote"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    // Allowed, it starts and says so on stderr; its stdout closes when it is killed.
    let mut child = Command::new(env!("CARGO_BIN_EXE_turnscope"))
        .args(["emulate", "--listen", "0.0.0.0:0", "--allow-remote"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut first,
    )
    .unwrap();
    assert!(first.contains("listening"), "{first}");
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("WARNING: listening on 0.0.0.0:"), "{err}");
}

#[test]
fn insecure_is_an_explicit_flag_that_prints_a_warning() {
    let run = |extra: &[&str]| {
        // A new session has no controlling terminal: the TUI cannot start, which is fine here.
        let out = Command::new("setsid")
            .arg("-w")
            .arg(env!("CARGO_BIN_EXE_turnscope"))
            .args(["--url", "ws://127.0.0.1:1/v1/responses", "--no-record"])
            .args(extra)
            .env("OPENAI_API_KEY", reliability::KEY)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let warned = run(&["--insecure"]);
    assert!(
        warned.starts_with(turnscope::cli::live::INSECURE_WARNING),
        "{warned}"
    );
    let quiet = run(&[]);
    assert!(!quiet.contains("WARNING"), "{quiet}");
    for out in [warned, quiet] {
        for part in KEY_PARTS {
            assert!(!out.contains(part), "the key is in stderr: {out}");
        }
    }
}
