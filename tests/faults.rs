//! Faults a live session meets, injected by the emulator (directly and through the proxy) and by
//! the network: for each, the one line the user sees, a transcript holding every frame received
//! before the fault, and a session that still works (reconnect, then a new turn completes).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/reliability.rs"]
mod reliability;

use std::path::PathBuf;
use std::time::Duration;

use reliability::{GUARD, Live, Switchboard, kind_of};
use turnscope::emulator::{self, EmulatorConfig, FaultPlan, RunningEmulator};
use turnscope::frame::{Dir, Payload};
use turnscope::proxy::{self, ProxyConfig, RunningProxy};
use turnscope::session::{SessionCommand, SessionConfig, SessionEvent};
use turnscope::tui::{Action, update};

/// Events the faulty server sends before its fault (created, in_progress, output_item.added).
const BEFORE: u64 = 3;

/// A faulty emulator behind a switchboard whose later connections reach a healthy one, and
/// optionally a recording proxy in front.
struct Rig {
    faulty: RunningEmulator,
    healthy: RunningEmulator,
    proxy: Option<RunningProxy>,
    proxy_record: PathBuf,
    _dir: tempfile::TempDir,
    url: String,
}

impl Rig {
    async fn start(config: EmulatorConfig, via_proxy: Option<usize>) -> Self {
        let faulty = emulator::start(config).await.unwrap();
        let healthy = emulator::start(EmulatorConfig::default()).await.unwrap();
        let board = Switchboard::start(vec![faulty.addr(), healthy.addr()]).await;
        let dir = tempfile::tempdir().unwrap();
        let proxy_record = dir.path().join("proxy.tsjsonl");
        let (proxy, url) = match via_proxy {
            Some(max_message_size) => {
                let p = proxy::start(ProxyConfig {
                    listen: "127.0.0.1:0".parse().unwrap(),
                    upstream: board.base_url(),
                    record: Some(proxy_record.clone()),
                    max_message_size,
                    ..ProxyConfig::default()
                })
                .await
                .unwrap();
                let url = format!("{}/responses", p.ws_base_url());
                (Some(p), url)
            }
            None => (None, board.ws_url()),
        };
        Rig {
            faulty,
            healthy,
            proxy,
            proxy_record,
            _dir: dir,
            url,
        }
    }

    fn faults(faults: FaultPlan) -> EmulatorConfig {
        EmulatorConfig {
            faults,
            ..EmulatorConfig::default()
        }
    }

    /// A rig whose faulty server follows `faults` (behind a proxy allowing messages up to
    /// `proxy_limit` bytes, when given), and a live session (its config set by `tweak`) that
    /// asked it for a story once connected.
    async fn story(
        faults: FaultPlan,
        proxy_limit: Option<usize>,
        tweak: impl FnOnce(&mut SessionConfig),
    ) -> (Rig, Live) {
        let rig = Rig::start(Rig::faults(faults), proxy_limit).await;
        let mut live = Live::spawn(&rig.url, tweak);
        live.connected(0).await;
        live.send(SessionCommand::Send(reliability::create("Tell me a story")));
        (rig, live)
    }

    /// Ends `live`, then the rig; through a proxy, checks its transcript holds the first `n`
    /// frames `live` received on connection 0 (all of them when `None`). Returns the proxy's
    /// error lines.
    async fn finish_with(self, live: Live, n: Option<usize>) -> Vec<String> {
        let kept = live.received(0).into_iter().cloned().collect::<Vec<_>>();
        let via_proxy = self.proxy.is_some();
        live.finish().await;
        let (errors, proxied) = self.finish().await;
        if via_proxy {
            let n = n.unwrap_or(kept.len());
            proxy_kept(&proxied, &kept.iter().collect::<Vec<_>>(), n);
        }
        errors
    }

    /// Stops everything; returns the proxy's error lines and its transcript's frames.
    async fn finish(mut self) -> (Vec<String>, Vec<turnscope::frame::Frame>) {
        let mut errors = Vec::new();
        let mut frames = Vec::new();
        if let Some(mut p) = self.proxy.take() {
            let mut events =
                std::mem::replace(&mut p.events, turnscope::proxy::ProxyEvents::ended());
            tokio::time::timeout(GUARD, p.shutdown()).await.unwrap();
            while let Some(e) = events.recv().await {
                if let proxy::ProxyEvent::Error(line) = e {
                    errors.push(line);
                }
            }
            let (_, read, bad) = turnscope::transcript::read_all(&self.proxy_record).unwrap();
            assert!(bad.is_empty(), "{bad:?}");
            frames = read;
        }
        self.faulty.shutdown().await;
        self.healthy.shutdown().await;
        (errors, frames)
    }
}

/// The proxy's transcript holds the first `n` server frames of connection 0, in order.
fn proxy_kept(frames: &[turnscope::frame::Frame], live: &[&turnscope::frame::Frame], n: usize) {
    let relayed: Vec<_> = frames
        .iter()
        .filter(|f| f.dir == Dir::Recv && f.conn == 0)
        .map(|f| f.payload.clone())
        .collect();
    assert!(relayed.len() >= n, "proxy kept {} of {n}", relayed.len());
    let wanted: Vec<_> = live.iter().take(n).map(|f| f.payload.clone()).collect();
    assert_eq!(
        relayed[..n],
        wanted[..],
        "proxy frames equal what the client got"
    );
}

async fn dropped_mid_stream(via_proxy: bool) {
    let (rig, mut live) = Rig::story(
        FaultPlan {
            drop_after: Some(BEFORE),
            ..FaultPlan::default()
        },
        via_proxy.then_some(64 << 20),
        |_| {},
    )
    .await;
    let (code, _) = live.closed().await;
    assert_eq!(code, None, "a drop has no close frame");
    let line = live.message();
    assert!(
        line.starts_with("connection #0 closed (no close frame): connection dropped")
            && line.ends_with("Ctrl-R reconnects"),
        "{line}"
    );
    let before: Vec<String> = live.received(0).iter().map(|f| kind_of(f)).collect();
    assert_eq!(
        before,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added"
        ]
    );
    live.reconnect_and_complete_a_turn(1).await;
    rig.finish_with(live, Some(BEFORE as usize)).await;
}

#[tokio::test]
async fn a_connection_dropped_mid_stream_is_reported_kept_and_recoverable() {
    dropped_mid_stream(false).await;
}

#[tokio::test]
async fn a_connection_dropped_mid_stream_through_the_proxy_is_reported_kept_and_recoverable() {
    dropped_mid_stream(true).await;
}

async fn stalled(via_proxy: bool) {
    let (rig, mut live) = Rig::story(
        FaultPlan {
            stall_after: Some(BEFORE),
            ..FaultPlan::default()
        },
        via_proxy.then_some(64 << 20),
        |_| {},
    )
    .await;
    live.received_at_least(0, BEFORE as usize).await;
    let last = live.seen.last().unwrap().t_us;
    // Time reaches the pure update as ticks: just before the limit nothing shows, at it the
    // user is told the stream looks stalled and how to recover.
    update::update(
        &mut live.app,
        Action::Ticked {
            now_us: last + update::STALL_US - 1,
        },
    );
    assert!(!live.message().contains("stalled"), "{}", live.message());
    update::update(
        &mut live.app,
        Action::Ticked {
            now_us: last + update::STALL_US,
        },
    );
    assert_eq!(
        live.message(),
        "turn 1: no data from the server for 30 s: the stream looks stalled; Ctrl-R reconnects (nothing is resent)"
    );
    // The user's Ctrl-R recovers.
    live.reconnect_and_complete_a_turn(1).await;
    assert_eq!(live.received(0).len(), BEFORE as usize);
    rig.finish_with(live, Some(BEFORE as usize)).await;
}

#[tokio::test]
async fn a_stalled_server_is_shown_and_a_reconnect_recovers() {
    stalled(false).await;
}

#[tokio::test]
async fn a_stalled_server_through_the_proxy_is_shown_and_a_reconnect_recovers() {
    stalled(true).await;
}

async fn malformed(via_proxy: bool) {
    let (rig, mut live) = Rig::story(
        FaultPlan {
            malformed_after: Some(BEFORE),
            ..FaultPlan::default()
        },
        via_proxy.then_some(64 << 20),
        |_| {},
    )
    .await;
    live.received_at_least(0, BEFORE as usize + 1).await;
    let bad = live.received(0)[BEFORE as usize].clone();
    let Payload::Text(text) = &bad.payload else {
        panic!("the malformed frame is kept as text: {bad:?}")
    };
    assert!(text.starts_with(r#"{"type":"response.output_text.delta""#));
    assert_eq!(
        live.message(),
        format!(
            "connection #0: received a frame that is not JSON ({} bytes); kept in the transcript, the turn goes on",
            text.len()
        )
    );
    // The turn goes on past the bad frame on the same connection, and the next one works.
    live.until(
        "response.completed",
        |e| matches!(e, SessionEvent::Frame(f) if kind_of(f) == "response.completed"),
    )
    .await;
    live.complete_a_turn(0, "And another").await;
    live.reconnect_and_complete_a_turn(1).await;
    rig.finish_with(live, None).await;
}

#[tokio::test]
async fn a_malformed_frame_is_kept_shown_and_the_turn_goes_on() {
    malformed(false).await;
}

#[tokio::test]
async fn a_malformed_frame_through_the_proxy_is_relayed_kept_and_shown() {
    malformed(true).await;
}

/// Oversized frames: the emulator sends 1 MiB + 1 bytes; the limit is 64 KiB.
const BIG: usize = 1024 * 1024 + 1;
const LIMIT: usize = 64 * 1024;

#[tokio::test]
async fn an_oversized_frame_names_its_size_the_limit_and_the_flag() {
    let (rig, mut live) = Rig::story(
        FaultPlan {
            oversized_after: Some(BEFORE),
            ..FaultPlan::default()
        },
        None,
        |c| c.max_message_size = LIMIT,
    )
    .await;
    let (code, reason) = live.closed().await;
    assert_eq!(code, None);
    let limit_line = format!(
        "a received message of {BIG} bytes is over the {LIMIT} byte limit; raise it with --max-message-size"
    );
    assert_eq!(reason, format!("connection dropped: {limit_line}"));
    assert_eq!(
        live.message(),
        format!(
            "connection #0 closed (no close frame): connection dropped: {limit_line} — Ctrl-R reconnects"
        )
    );
    assert_eq!(live.received(0).len(), BEFORE as usize);
    live.reconnect_and_complete_a_turn(1).await;
    rig.finish_with(live, None).await;
}

#[tokio::test]
async fn an_oversized_frame_at_the_proxy_closes_the_agent_with_1009_naming_the_flag() {
    let (rig, mut live) = Rig::story(
        FaultPlan {
            oversized_after: Some(BEFORE),
            ..FaultPlan::default()
        },
        Some(LIMIT),
        |_| {},
    )
    .await;
    let (code, reason) = live.closed().await;
    assert_eq!(code, Some(1009));
    assert_eq!(
        reason,
        format!(
            "message of {BIG} bytes over the proxy's {LIMIT} byte limit; raise --max-message-size"
        )
    );
    assert!(
        live.message()
            .starts_with("connection #0 closed (1009): message of"),
        "{}",
        live.message()
    );
    assert_eq!(live.received(0).len(), BEFORE as usize);
    live.reconnect_and_complete_a_turn(1).await;
    let errors = rig.finish_with(live, Some(BEFORE as usize)).await;
    assert_eq!(
        errors,
        [format!(
            "connection 0 closed: a message from the upstream of {BIG} bytes is over the {LIMIT} byte limit; raise it with --max-message-size"
        )]
    );
}

#[tokio::test]
async fn a_send_over_the_limit_is_refused_before_the_wire_and_the_session_goes_on() {
    let rig = Rig::start(EmulatorConfig::default(), None).await;
    let mut live = Live::spawn(&rig.url, |c| c.max_message_size = LIMIT);
    live.connected(0).await;
    let huge = reliability::create(&"x".repeat(LIMIT));
    let size = huge.len();
    live.send(SessionCommand::Send(huge));
    live.until("the unsent report", |e| {
        matches!(e, SessionEvent::Unsent { .. })
    })
    .await;
    assert_eq!(
        live.message(),
        format!(
            "1 event not sent: event of {size} bytes is over the {LIMIT} byte limit; raise it with --max-message-size — Ctrl-R reconnects"
        )
    );
    live.complete_a_turn(0, "A small one").await;
    live.finish().await;
    rig.finish().await;
}

async fn max_age(via_proxy: bool) {
    let rig = Rig::start(
        EmulatorConfig {
            max_connection_age: Duration::from_secs(1),
            ..EmulatorConfig::default()
        },
        via_proxy.then_some(64 << 20),
    )
    .await;
    let mut live = Live::spawn(&rig.url, |_| {});
    live.connected(0).await;
    live.complete_a_turn(0, "Quick one").await;
    let received = live.received(0).len();
    let (code, reason) = live.closed().await;
    assert_eq!(code, Some(emulator::MAX_AGE_CLOSE_CODE));
    assert_eq!(reason, emulator::MAX_AGE_CLOSE_REASON);
    assert_eq!(
        live.message(),
        format!(
            "connection #0 closed (1001): {} — Ctrl-R reconnects",
            emulator::MAX_AGE_CLOSE_REASON
        )
    );
    // The real server's age-limit error event precedes the close, and nothing else comes.
    let after = live.received(0);
    assert_eq!(
        after.len(),
        received + 1,
        "only the age-limit error before the close"
    );
    let last = reliability::json_of(after.last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], emulator::AGE_LIMIT_CODE, "{last}");
    live.reconnect_and_complete_a_turn(1).await;
    let (frames, _) = live.finish().await;
    let closes: Vec<_> = frames
        .iter()
        .filter(|f| f.dir == Dir::Meta && f.conn == 0)
        .filter_map(reliability::json_of)
        .filter(|v| v["event"] == "close")
        .collect();
    assert_eq!(closes[0]["code"], 1001, "{closes:?}");
    let (_, proxied) = rig.finish().await;
    if via_proxy {
        let close = proxied
            .iter()
            .filter(|f| f.dir == Dir::Meta && f.conn == 0)
            .filter_map(reliability::json_of)
            .find(|v| v["event"] == "close")
            .unwrap();
        assert_eq!(close["code"], 1001);
        assert_eq!(close["by"], "upstream");
    }
}

#[tokio::test]
async fn the_age_limit_close_is_reported_and_a_new_connection_works() {
    max_age(false).await;
}

#[tokio::test]
async fn the_age_limit_close_through_the_proxy_is_passed_on_and_recorded() {
    max_age(true).await;
}
