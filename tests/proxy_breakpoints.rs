//! Proxy breakpoints and injection through the library API, over real sockets: hold, edit,
//! drop and forward frames both ways; inject frames; everything recorded, edits with originals.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/proxy_harness.rs"]
mod harness;

use futures_util::SinkExt;
use harness::{
    Collector, Upstream, agent, next_text, proxy, temp_transcript, transcript_frames,
    transcript_wire,
};
use tokio_tungstenite::tungstenite::Message;
use turnscope::frame::Dir;
use turnscope::ledger::{Ledger, Mark, TurnStatus};
use turnscope::proxy::{BreakpointDecision, Breakpoints, Condition, Direction, ProxyError};

const A: &str = r#"{"type":"response.create","model":"m","input":"original"}"#;
const B: &str = r#"{"type":"response.create","model":"m","input":"edited"}"#;
const S: &str = r#"{"type":"response.steer","previous_response_id":"resp_1","input":"x"}"#;
const C: &str = r#"{"type":"response.create","input":"to be dropped"}"#;
const D: &str = r#"{"type":"response.create","input":"forwarded"}"#;

#[tokio::test]
async fn client_frames_can_be_edited_dropped_and_forwarded() {
    let mut up = Upstream::start().await;
    let (_dir, path) = temp_transcript();
    let breakpoints = Breakpoints::default().with(
        Direction::ClientToServer,
        Condition::EventType("response.create".into()),
    );
    let mut px = proxy(&up.base_url(), &path, breakpoints).await;
    let mut a = agent(&px, &[]).await;
    let (mut s, _) = up.accept().await;
    let mut seen = Collector::new();

    a.send(Message::text(A)).await.unwrap();
    seen.until(&mut px, "the create to pause", |c| c.paused.len() == 1)
        .await;
    let (id, conn, dir, text) = seen.paused[0].clone();
    assert_eq!((conn, dir, text.as_str()), (0, Dir::Sent, A));
    assert_eq!(px.control.paused(), vec![id]);
    // A broken edit is refused and the frame stays held.
    let err = px
        .decide(id, BreakpointDecision::Edit("{\"type\":".into()))
        .unwrap_err();
    assert!(matches!(err, ProxyError::InvalidEdit { .. }), "{err}");
    px.decide(id, BreakpointDecision::Edit(B.into())).unwrap();
    assert_eq!(next_text(&mut s).await, B);
    assert!(matches!(
        px.decide(id, BreakpointDecision::Forward),
        Err(ProxyError::NotPaused { .. })
    ));

    // Frames that match no breakpoint go straight through.
    a.send(Message::text(S)).await.unwrap();
    assert_eq!(next_text(&mut s).await, S);

    a.send(Message::text(C)).await.unwrap();
    seen.until(&mut px, "the second pause", |c| c.paused.len() == 2)
        .await;
    px.decide(seen.paused[1].0, BreakpointDecision::Drop)
        .unwrap();
    a.send(Message::text(D)).await.unwrap();
    seen.until(&mut px, "the third pause", |c| c.paused.len() == 3)
        .await;
    assert_eq!(seen.paused[2].3, D);
    px.decide(seen.paused[2].0, BreakpointDecision::Forward)
        .unwrap();
    // The upstream's next frame is D: C never reached it.
    assert_eq!(next_text(&mut s).await, D);

    a.close(None).await.unwrap();
    seen.until_closed(&mut px, 0).await;
    let frames = transcript_frames(&path);
    let sent: Vec<Vec<u8>> = [B, S, D].iter().map(|t| t.as_bytes().to_vec()).collect();
    assert_eq!(transcript_wire(&frames, 0, Dir::Sent), sent);
    let metas = seen.metas(0);
    let edited = metas.iter().find(|m| m["event"] == "edited").unwrap();
    assert_eq!(edited["dir"], "sent");
    assert_eq!(edited["original"]["input"], "original");
    let dropped = metas.iter().find(|m| m["event"] == "dropped").unwrap();
    assert_eq!(dropped["original"]["input"], "to be dropped");
    // The edited meta comes right before the edited frame, in the file too.
    let pos = frames
        .iter()
        .position(|f| f.payload.json() == Some(B))
        .unwrap();
    assert!(
        frames[pos - 1]
            .payload
            .json()
            .unwrap()
            .contains("\"edited\"")
    );
    // The original's bytes are kept raw inside the meta frame.
    assert!(frames[pos - 1].payload.json().unwrap().contains(A));
    px.shutdown().await;

    // The turns say what was done to them (issue 16 item 11): B went out edited (and S steered
    // it), C was dropped (a turn the server never saw, its bytes not counted as sent), D went out
    // as the agent sent it.
    let (header, frames, _) = turnscope::transcript::read_all(&path).unwrap();
    let ledger = Ledger::from_frames(&frames);
    let turns = ledger.turns();
    assert_eq!(turns.len(), 3);
    assert_eq!(turns[0].marks(), vec![Mark::Steered, Mark::Edited]);
    assert_eq!(turns[1].marks(), vec![Mark::Dropped]);
    assert_eq!(turns[1].status, TurnStatus::NotSent);
    assert!(turns[2].marks().is_empty());
    assert_eq!(
        ledger.totals().incremental.bytes,
        (B.len() + D.len()) as u64
    );
    let table =
        turnscope::report::stats_table(&ledger, &turnscope::ledger::cost::Prices::builtin());
    let rows: Vec<&str> = table.lines().collect();
    assert!(rows[0].ends_with("marks"), "{table}");
    assert!(rows[1].ends_with("steered,edited"), "{table}");
    assert!(
        rows[2].contains("not sent") && rows[2].ends_with("dropped"),
        "{table}"
    );
    assert!(rows[3].ends_with(" -"), "{table}");
    let mut json = Vec::new();
    let prices = turnscope::ledger::cost::Prices::builtin();
    turnscope::report::write_stats_json(&mut json, "t", &header, &ledger, &[], &prices).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(
        doc["turns"][0]["marks"],
        serde_json::json!(["steered", "edited"])
    );
    assert_eq!(doc["turns"][1]["marks"], serde_json::json!(["dropped"]));
    assert_eq!(doc["turns"][1]["status"], "not sent");
}

#[tokio::test]
async fn server_frames_pause_on_a_json_pointer_condition() {
    let mut up = Upstream::start().await;
    let (_dir, path) = temp_transcript();
    let failed = Condition::parse(r#"/response/status == "failed""#).unwrap();
    let breakpoints = Breakpoints::default().with(Direction::ServerToClient, failed);
    let mut px = proxy(&up.base_url(), &path, breakpoints).await;
    let mut a = agent(&px, &[]).await;
    let (mut s, _) = up.accept().await;
    let ok = r#"{"type":"response.completed","response":{"status":"completed"}}"#;
    let bad = r#"{"type":"response.failed","response":{"status":"failed"}}"#;
    let fixed = r#"{"type":"response.completed","response":{"status":"completed","fixed":true}}"#;
    // A matching client frame is not held: the breakpoint watches server frames only.
    a.send(Message::text(bad)).await.unwrap();
    assert_eq!(next_text(&mut s).await, bad);
    s.send(Message::text(ok)).await.unwrap();
    assert_eq!(next_text(&mut a).await, ok);
    s.send(Message::text(bad)).await.unwrap();
    let mut seen = Collector::new();
    seen.until(&mut px, "the failed event to pause", |c| {
        c.paused.len() == 1
    })
    .await;
    assert_eq!(seen.paused[0].2, Dir::Recv);
    px.decide(seen.paused[0].0, BreakpointDecision::Edit(fixed.into()))
        .unwrap();
    assert_eq!(next_text(&mut a).await, fixed);
    s.close(None).await.unwrap();
    seen.until_closed(&mut px, 0).await;
    let recv = seen.wire(0, Dir::Recv);
    assert_eq!(
        recv,
        vec![ok.as_bytes().to_vec(), fixed.as_bytes().to_vec()]
    );
    px.shutdown().await;
}

#[tokio::test]
async fn frames_can_be_injected_both_ways_and_breakpoints_changed_live() {
    let mut up = Upstream::start().await;
    let (_dir, path) = temp_transcript();
    let mut px = proxy(&up.base_url(), &path, Breakpoints::default()).await;
    let mut a = agent(&px, &[]).await;
    let (mut s, _) = up.accept().await;
    let mut seen = Collector::new();
    seen.until(&mut px, "the connect", |c| !c.metas(0).is_empty())
        .await;

    let to_upstream = r#"{"type":"response.create","input":"injected"}"#;
    let to_agent = r#"{"type":"response.output_text.delta","delta":"injected"}"#;
    px.inject(0, Dir::Sent, to_upstream).unwrap();
    assert_eq!(next_text(&mut s).await, to_upstream);
    px.inject(0, Dir::Recv, to_agent).unwrap();
    assert_eq!(next_text(&mut a).await, to_agent);
    assert!(matches!(
        px.inject(7, Dir::Sent, "{}"),
        Err(ProxyError::NoConnection { conn: 7 })
    ));

    // Breakpoints switched on while the connection is open apply to the next frame.
    px.control
        .set_breakpoints(Breakpoints::all(Direction::ServerToClient));
    s.send(Message::text("{\"held\":1}")).await.unwrap();
    seen.until(&mut px, "the pause", |c| c.paused.len() == 1)
        .await;
    px.control.set_breakpoints(Breakpoints::default());
    px.decide(seen.paused[0].0, BreakpointDecision::Forward)
        .unwrap();
    assert_eq!(next_text(&mut a).await, "{\"held\":1}");
    s.send(Message::text("{\"free\":1}")).await.unwrap();
    assert_eq!(next_text(&mut a).await, "{\"free\":1}");

    a.close(None).await.unwrap();
    seen.until_closed(&mut px, 0).await;
    let injected: Vec<_> = seen
        .metas(0)
        .into_iter()
        .filter(|m| m["event"] == "injected")
        .collect();
    assert_eq!(injected.len(), 2);
    assert_eq!(injected[0]["dir"], "sent");
    assert_eq!(injected[1]["dir"], "recv");
    assert_eq!(
        seen.wire(0, Dir::Sent),
        vec![to_upstream.as_bytes().to_vec()]
    );
    assert_eq!(seen.paused.len(), 1);
    px.shutdown().await;
    // The injected request is a turn marked as injected, and so is the turn the injected
    // event was delivered for (the same one here).
    let ledger = Ledger::from_frames(&transcript_frames(&path));
    assert_eq!(ledger.turns().len(), 1);
    assert_eq!(ledger.turns()[0].marks(), vec![Mark::Injected]);
}

#[tokio::test]
async fn a_held_frame_is_released_when_its_connection_closes() {
    let mut up = Upstream::start().await;
    let (_dir, path) = temp_transcript();
    let mut px = proxy(
        &up.base_url(),
        &path,
        Breakpoints::all(Direction::ClientToServer),
    )
    .await;
    let mut a = agent(&px, &[]).await;
    let (s, _) = up.accept().await;
    a.send(Message::text(A)).await.unwrap();
    let mut seen = Collector::new();
    seen.until(&mut px, "the pause", |c| c.paused.len() == 1)
        .await;
    drop(s);
    seen.until_closed(&mut px, 0).await;
    let id = seen.paused[0].0;
    seen.until(&mut px, "the release", |c| c.released.contains(&id))
        .await;
    // The proxy forgot the frame; deciding it now says so.
    assert!(px.control.paused().is_empty());
    assert!(matches!(
        px.decide(id, BreakpointDecision::Forward),
        Err(ProxyError::NotPaused { .. })
    ));
    px.shutdown().await;
}
