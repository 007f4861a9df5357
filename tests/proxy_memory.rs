//! The proxy's memory bound over real sockets: while nobody reads the proxy's events, at most its
//! byte budget of relayed bodies waits, and the relay holds the stream back instead of growing;
//! once the events are read again, every frame reaches the agent, the reader and the transcript.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/proxy_harness.rs"]
mod harness;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use harness::{
    Collector, GUARD, Upstream, agent, next_text, proxy, temp_transcript, transcript_frames,
    transcript_wire,
};
use tokio_tungstenite::tungstenite::Message;
use turnscope::frame::Dir;
use turnscope::proxy::{BUDGET_BYTES, Breakpoints};

/// One reply frame: 1 MiB.
const FRAME: usize = 1 << 20;
/// Four times the budget: more than the budget and every socket buffer on the path can hide
/// (27 MiB passed here with the 16 MiB budget).
const FRAMES: usize = 4 * BUDGET_BYTES / FRAME;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_stops_holds_the_relay_back_and_nothing_is_lost() {
    let mut up = Upstream::start().await;
    let (_dir, path) = temp_transcript();
    let mut px = proxy(&up.base_url(), &path, Breakpoints::default()).await;
    let mut agent = agent(&px, &[]).await;
    let (mut upstream, _) = up.accept().await;
    let head = r#"{"type":"response.output_text.delta","delta":""#;
    let body = format!("{head}{}\"}}", "x".repeat(FRAME - head.len() - 2));
    // The upstream streams as fast as the relay takes frames.
    let sender = tokio::spawn(async move {
        for _ in 0..FRAMES {
            upstream.feed(Message::text(body.clone())).await.unwrap();
        }
        upstream.flush().await.unwrap();
        upstream
    });

    // Nobody reads the proxy's events. The agent takes what arrives until the relay stalls:
    // two seconds without a frame (a bound that is missing lets all of them through at once).
    let mut got = 0;
    while got < FRAMES {
        match tokio::time::timeout(Duration::from_secs(2), agent.next()).await {
            Ok(Some(Ok(Message::Text(_)))) => got += 1,
            Ok(Some(Ok(_))) => {}
            Ok(other) => panic!("the agent's connection ended: {other:?}"),
            Err(_) => break,
        }
    }
    let socket_slack = 24 * FRAME;
    assert!(
        got * FRAME <= BUDGET_BYTES + socket_slack,
        "{got} of {FRAMES} frames of 1 MiB passed while no one read the events: the budget is {} MiB",
        BUDGET_BYTES / FRAME
    );
    assert!(got > 0, "nothing was relayed before the budget ran out");
    eprintln!("passed before the stall: {got} of {FRAMES}");

    // Reading the events lets the relay go on; every frame arrives, in full, and is recorded.
    let reader = tokio::spawn(async move {
        let mut seen = Collector::new();
        seen.until(&mut px, "every reply frame", |c| {
            let replies = c.frames.iter().filter(|f| f.dir == Dir::Recv);
            replies.count() == FRAMES
        })
        .await;
        (px, seen)
    });
    while got < FRAMES {
        let text = tokio::time::timeout(GUARD, next_text(&mut agent))
            .await
            .unwrap();
        assert_eq!(text.len(), FRAME);
        got += 1;
    }
    let (px, seen) = tokio::time::timeout(GUARD, reader).await.unwrap().unwrap();
    assert!(
        seen.wire(0, Dir::Recv).iter().all(|w| w.len() == FRAME),
        "a frame the reader got was cut"
    );
    let _upstream = sender.await.unwrap();
    px.shutdown().await;
    let recorded = transcript_wire(&transcript_frames(&path), 0, Dir::Recv);
    assert_eq!(recorded.len(), FRAMES);
    assert!(recorded.iter().all(|w| w.len() == FRAME));
}
