//! The WebSocket relay over real sockets: an agent → the proxy → an upstream the test drives.
//! Byte-exactness, order, close codes, pings, simultaneous connections, drops, refusals, headers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/proxy_harness.rs"]
mod harness;

use futures_util::{SinkExt, StreamExt};
use harness::{
    Collector, GUARD, Upstream, agent, next_data, next_text, proxy, temp_transcript,
    transcript_frames, transcript_wire,
};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Bytes, Message};
use turnscope::frame::Dir;
use turnscope::ledger::{Ledger, TurnStatus};
use turnscope::proxy::{Breakpoints, ProxyConfig, ProxyError};

fn payload(m: &Message) -> Vec<u8> {
    match m {
        Message::Text(t) => t.as_bytes().to_vec(),
        Message::Binary(b) => b.to_vec(),
        other => panic!("not a data frame: {other:?}"),
    }
}

#[tokio::test]
async fn relay_is_byte_exact_and_ordered_both_ways() {
    let mut up = Upstream::start().await;
    let (_dir, path) = temp_transcript();
    let mut px = proxy(&up.base_url(), &path, Breakpoints::default()).await;
    let mut agent = agent(&px, &[]).await;
    let (mut server, _) = up.accept().await;

    let big = format!(
        r#"{{"type":"response.create","input":"{}"}}"#,
        "x".repeat(1 << 20)
    );
    let outgoing: Vec<Message> = vec![
        Message::text(r#"{"type":"response.create","input":"héllo ☃ \u00e9 \"q\""}"#),
        Message::text("{ \"spaced\" :  [1, 2.50, 1e3] }"),
        Message::text("not json at all"),
        Message::text("{\"multi\":\n\"line\"}"),
        Message::text(""),
        Message::Binary(Bytes::from_static(&[0, 159, 146, 150, 255])),
        Message::text(big),
    ];
    // The upstream answers every data frame with three: the same bytes, a JSON ack, a binary frame.
    let upstream = tokio::spawn(async move {
        let (mut received, mut sent) = (Vec::new(), Vec::new());
        for i in 0..7u8 {
            let m = next_data(&mut server)
                .await
                .expect("upstream lost the agent");
            received.push(payload(&m));
            let replies = [
                m,
                Message::text(format!(r#"{{"type":"ack","n":{i},"pad":" \t"}}"#)),
                Message::Binary(Bytes::from(vec![i, 0, 255])),
            ];
            for r in replies {
                sent.push(payload(&r));
                server.send(r).await.unwrap();
            }
        }
        let close = next_data(&mut server).await;
        (received, sent, close, server)
    });
    let mut agent_received = Vec::new();
    for m in &outgoing {
        agent.send(m.clone()).await.unwrap();
        for _ in 0..3 {
            agent_received.push(payload(&next_data(&mut agent).await.unwrap()));
        }
    }
    agent.close(None).await.unwrap();
    let (up_received, up_sent, close, _server) = upstream.await.unwrap();
    assert!(matches!(close, Some(Message::Close(_))), "{close:?}");

    let agent_sent: Vec<Vec<u8>> = outgoing.iter().map(payload).collect();
    assert_eq!(
        up_received, agent_sent,
        "the upstream got other bytes than the agent sent"
    );
    assert_eq!(
        agent_received, up_sent,
        "the agent got other bytes than the upstream sent"
    );

    let mut seen = Collector::new();
    seen.until_closed(&mut px, 0).await;
    assert_eq!(seen.wire(0, Dir::Sent), agent_sent);
    assert_eq!(seen.wire(0, Dir::Recv), up_sent);
    let frames = transcript_frames(&path);
    assert_eq!(transcript_wire(&frames, 0, Dir::Sent), agent_sent);
    assert_eq!(transcript_wire(&frames, 0, Dir::Recv), up_sent);
    assert_eq!(seen.metas(0)[0]["event"], "connect");
    px.shutdown().await;
}

/// A message in fragments (a UTF-8 character cut between two, a ping between them) passes as
/// the fragments it came in, arrives whole, and is recorded once, whole.
#[tokio::test]
async fn fragmented_messages_pass_as_they_came_and_are_recorded_whole() {
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    let mut up = Upstream::start().await;
    let (_dir, path) = temp_transcript();
    let mut px = proxy(&up.base_url(), &path, Breakpoints::default()).await;
    let mut a = agent(&px, &[]).await;
    let (mut s, _) = up.accept().await;

    let part = |bytes: &'static [u8], opcode, last| {
        Message::Frame(Frame::message(Bytes::from_static(bytes), opcode, last))
    };
    a.send(part(b"hel", OpCode::Data(Data::Text), false))
        .await
        .unwrap();
    a.send(Message::Ping(Bytes::from_static(b"between")))
        .await
        .unwrap();
    a.send(part(b"lo w\xc3", OpCode::Data(Data::Continue), false))
        .await
        .unwrap();
    a.send(part(b"\xb6rld", OpCode::Data(Data::Continue), true))
        .await
        .unwrap();
    let got = next_data(&mut s).await.unwrap();
    assert_eq!(got, Message::text("hello wörld"));

    s.send(part(&[1, 2], OpCode::Data(Data::Binary), false))
        .await
        .unwrap();
    s.send(part(&[3], OpCode::Data(Data::Continue), true))
        .await
        .unwrap();
    let got = next_data(&mut a).await.unwrap();
    assert_eq!(got, Message::Binary(Bytes::from_static(&[1, 2, 3])));

    a.close(None).await.unwrap();
    let mut seen = Collector::new();
    seen.until_closed(&mut px, 0).await;
    let frames = transcript_frames(&path);
    assert_eq!(
        transcript_wire(&frames, 0, Dir::Sent),
        vec!["hello wörld".as_bytes().to_vec()]
    );
    assert_eq!(transcript_wire(&frames, 0, Dir::Recv), vec![vec![1, 2, 3]]);
    px.shutdown().await;
}

#[tokio::test]
async fn close_codes_and_reasons_pass_through_both_ways() {
    let mut up = Upstream::start().await;
    let (_dir, path) = temp_transcript();
    let mut px = proxy(&up.base_url(), &path, Breakpoints::default()).await;

    // The agent closes: the upstream sees its code and reason.
    let mut a0 = agent(&px, &[]).await;
    let (mut s0, _) = up.accept().await;
    a0.close(Some(CloseFrame {
        code: CloseCode::Library(4001),
        reason: "agent says bye".into(),
    }))
    .await
    .unwrap();
    match next_data(&mut s0).await {
        Some(Message::Close(Some(f))) => {
            assert_eq!(u16::from(f.code), 4001);
            assert_eq!(f.reason.as_str(), "agent says bye");
        }
        other => panic!("upstream saw {other:?}"),
    }

    // The upstream closes: the agent sees its code and reason.
    let mut a1 = agent(&px, &[]).await;
    let (mut s1, _) = up.accept().await;
    s1.close(Some(CloseFrame {
        code: CloseCode::Again,
        reason: "try again ☃".into(),
    }))
    .await
    .unwrap();
    match next_data(&mut a1).await {
        Some(Message::Close(Some(f))) => {
            assert_eq!(f.code, CloseCode::Again);
            assert_eq!(f.reason.as_str(), "try again ☃");
        }
        other => panic!("agent saw {other:?}"),
    }

    // A close frame without a payload stays without one (the agent sees 1005).
    let mut a2 = agent(&px, &[]).await;
    let (mut s2, _) = up.accept().await;
    s2.close(None).await.unwrap();
    assert!(matches!(
        next_data(&mut a2).await,
        Some(Message::Close(None))
    ));

    let mut seen = Collector::new();
    seen.until(&mut px, "three closes", |c| {
        (0..3).all(|i| c.closed(i).is_some())
    })
    .await;
    let c0 = seen.closed(0).unwrap();
    assert_eq!(
        (c0["code"].as_u64(), c0["by"].as_str()),
        (Some(4001), Some("agent"))
    );
    assert_eq!(c0["reason"], "agent says bye");
    let c1 = seen.closed(1).unwrap();
    assert_eq!(
        (c1["code"].as_u64(), c1["by"].as_str()),
        (Some(1013), Some("upstream"))
    );
    assert!(seen.closed(2).unwrap()["code"].is_null());
    px.shutdown().await;
}

#[tokio::test]
async fn pings_and_pongs_pass_through() {
    let mut up = Upstream::start().await;
    let (_dir, path) = temp_transcript();
    let px = proxy(&up.base_url(), &path, Breakpoints::default()).await;
    let mut a = agent(&px, &[]).await;
    let (mut s, _) = up.accept().await;

    a.send(Message::Ping(Bytes::from_static(b"from-agent")))
        .await
        .unwrap();
    let got = tokio::time::timeout(GUARD, s.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(got, Message::Ping(Bytes::from_static(b"from-agent")));
    // The upstream's pong for it (tungstenite queues it; a flush sends it) reaches the agent,
    // and it is the only answer: the proxy does not answer a ping for the upstream.
    s.flush().await.unwrap();
    let got = tokio::time::timeout(GUARD, a.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(got, Message::Pong(Bytes::from_static(b"from-agent")));
    s.send(Message::Ping(Bytes::from_static(b"from-upstream")))
        .await
        .unwrap();
    s.send(Message::Pong(Bytes::from_static(b"unsolicited")))
        .await
        .unwrap();
    let mut want = vec![
        Message::Ping(Bytes::from_static(b"from-upstream")),
        Message::Pong(Bytes::from_static(b"unsolicited")),
    ];
    while !want.is_empty() {
        let m = tokio::time::timeout(GUARD, a.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if m == want[0] {
            want.remove(0);
        } else {
            assert!(matches!(m, Message::Pong(_)), "unexpected {m:?}");
        }
    }
    // The agent's automatic pong for the upstream's ping reaches the upstream.
    loop {
        let m = tokio::time::timeout(GUARD, s.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if m == Message::Pong(Bytes::from_static(b"from-upstream")) {
            break;
        }
    }
    px.shutdown().await;
}

#[tokio::test]
async fn several_connections_at_once_stay_apart() {
    const AGENTS: usize = 6;
    const FRAMES: usize = 25;
    let mut up = Upstream::start().await;
    let (_dir, path) = temp_transcript();
    let mut px = proxy(&up.base_url(), &path, Breakpoints::default()).await;
    let mut agents = Vec::new();
    for _ in 0..AGENTS {
        agents.push(agent(&px, &[]).await);
    }
    for _ in 0..AGENTS {
        let (mut s, _) = up.accept().await;
        tokio::spawn(async move {
            while let Some(Message::Text(t)) = next_data(&mut s).await {
                let reply = format!(r#"{{"echo":{t}}}"#);
                if s.send(Message::text(reply)).await.is_err() {
                    break;
                }
            }
        });
    }
    // All agents send at once, interleaving on the proxy.
    let tasks: Vec<_> = agents
        .into_iter()
        .enumerate()
        .map(|(k, mut a)| {
            tokio::spawn(async move {
                let sent: Vec<String> = (0..FRAMES)
                    .map(|i| format!(r#"{{"type":"t","agent":{k},"i":{i}}}"#))
                    .collect();
                for s in &sent {
                    a.feed(Message::text(s.clone())).await.unwrap();
                }
                a.flush().await.unwrap();
                let mut got = Vec::new();
                for _ in 0..FRAMES {
                    got.push(next_text(&mut a).await);
                }
                let want: Vec<String> = sent.iter().map(|s| format!(r#"{{"echo":{s}}}"#)).collect();
                assert_eq!(
                    got, want,
                    "agent {k} got frames of another connection or out of order"
                );
                a.close(None).await.unwrap();
                sent
            })
        })
        .collect();
    let mut all_sent = Vec::new();
    for t in tasks {
        all_sent.push(t.await.unwrap());
    }
    let mut seen = Collector::new();
    let conns = u32::try_from(AGENTS).unwrap();
    seen.until(&mut px, "every close", |c| {
        (0..conns).all(|i| c.closed(i).is_some())
    })
    .await;
    let frames = transcript_frames(&path);
    let mut matched = 0;
    for conn in 0..conns {
        let sent = transcript_wire(&frames, conn, Dir::Sent);
        let sent: Vec<String> = sent
            .into_iter()
            .map(|b| String::from_utf8(b).unwrap())
            .collect();
        let owner = all_sent
            .iter()
            .position(|s| *s == sent)
            .expect("a connection mixes agents");
        let recv = transcript_wire(&frames, conn, Dir::Recv);
        assert_eq!(recv.len(), FRAMES);
        assert!(
            recv.iter()
                .zip(&all_sent[owner])
                .all(|(r, s)| *r == format!(r#"{{"echo":{s}}}"#).into_bytes())
        );
        matched += 1;
    }
    assert_eq!(matched, AGENTS);
    px.shutdown().await;
}

#[tokio::test]
async fn upstream_drop_mid_turn_reaches_the_agent_and_the_ledger() {
    let mut up = Upstream::start().await;
    let (_dir, path) = temp_transcript();
    let mut px = proxy(&up.base_url(), &path, Breakpoints::default()).await;
    let mut a = agent(&px, &[]).await;
    let (mut s, _) = up.accept().await;
    a.send(Message::text(
        r#"{"type":"response.create","model":"m","input":"hi"}"#,
    ))
    .await
    .unwrap();
    next_text(&mut s).await;
    let created = r#"{"type":"response.created","sequence_number":0,"response":{"id":"resp_1","status":"in_progress","output":[]}}"#;
    s.send(Message::text(created)).await.unwrap();
    assert_eq!(next_text(&mut a).await, created);
    drop(s); // TCP closes without a close frame.

    // The agent sees its connection end without a close frame, as it would without the proxy.
    let end = next_data(&mut a).await;
    assert!(end.is_none(), "expected an abrupt end, got {end:?}");

    let mut seen = Collector::new();
    seen.until_closed(&mut px, 0).await;
    let close = seen.closed(0).unwrap();
    assert!(
        close["code"].is_null() && close["by"] == "upstream",
        "{close}"
    );
    let ledger = Ledger::from_frames(&transcript_frames(&path));
    assert_eq!(ledger.turns().len(), 1);
    assert_eq!(ledger.turns()[0].status, TurnStatus::Dropped);
    px.shutdown().await;
}

#[tokio::test]
async fn an_upgrade_refusal_reaches_the_agent_unchanged() {
    let up = Upstream::refusing(401).await;
    let (_dir, path) = temp_transcript();
    let mut px = proxy(&up.base_url(), &path, Breakpoints::default()).await;
    let url = format!("ws://{}/v1/responses", px.addr());
    match tokio_tungstenite::connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status().as_u16(), 401);
            let body = String::from_utf8(resp.body().clone().unwrap_or_default()).unwrap();
            assert!(body.contains("invalid_api_key"), "{body}");
        }
        other => panic!("expected HTTP 401, got {other:?}"),
    }
    let mut seen = Collector::new();
    seen.until(&mut px, "the error meta", |c| !c.metas(0).is_empty())
        .await;
    assert!(
        seen.metas(0)[0]["message"]
            .as_str()
            .unwrap()
            .contains("401")
    );
    // A second refusal takes no new number either, and the ledger counts no connection for
    // either: an agent whose key is refused never had one (issue 16 item 11).
    let url = format!("ws://{}/v1/responses", px.addr());
    assert!(tokio_tungstenite::connect_async(url).await.is_err());
    seen.until(&mut px, "the second error meta", |c| c.metas(0).len() == 2)
        .await;
    px.shutdown().await;
    let ledger = Ledger::from_frames(&transcript_frames(&path));
    assert!(
        ledger.connections().is_empty(),
        "{:?}",
        ledger.connections()
    );
    assert_eq!(ledger.notes().len(), 2);
}

#[tokio::test]
async fn auth_and_api_headers_are_forwarded_but_never_recorded() {
    const KEY: &str = "sk-proxytest-SECRET0123456789abcdefXYZ";
    let mut up = Upstream::start().await;
    let (_dir, path) = temp_transcript();
    let mut px = proxy(&up.base_url(), &path, Breakpoints::default()).await;
    let auth = format!("Bearer {KEY}");
    let mut a = agent(
        &px,
        &[
            ("Authorization", &auth),
            ("OpenAI-Beta", "responses_websockets=2026-02-06"),
            ("OpenAI-Organization", "org-test"),
            ("OpenAI-Project", "proj-test"),
            ("x-responsesapi-include-timing-metrics", "true"),
        ],
    )
    .await;
    let (mut s, headers) = up.accept().await;
    assert_eq!(headers["authorization"], auth.as_str());
    assert_eq!(headers["openai-beta"], "responses_websockets=2026-02-06");
    assert_eq!(headers["openai-organization"], "org-test");
    assert_eq!(headers["openai-project"], "proj-test");
    assert_eq!(headers["x-responsesapi-include-timing-metrics"], "true");
    assert!(headers.get("sec-websocket-extensions").is_none());

    a.send(Message::text(r#"{"type":"response.create","input":"hi"}"#))
        .await
        .unwrap();
    next_text(&mut s).await;
    s.send(Message::text(r#"{"type":"error","error":{"message":"x"}}"#))
        .await
        .unwrap();
    next_text(&mut a).await;
    a.close(None).await.unwrap();
    let mut seen = Collector::new();
    seen.until_closed(&mut px, 0).await;
    px.shutdown().await;
    let raw = std::fs::read_to_string(&path).unwrap();
    assert!(
        !raw.contains("SECRET0123456789"),
        "the key leaked into the transcript"
    );
    assert!(
        !raw.to_lowercase().contains("authorization"),
        "a header leaked: {raw}"
    );
    // Organisation and project ids name the client (issue 21): recorded in the `client` meta
    // line only, beside the other identification headers, never a credential.
    let client = raw
        .lines()
        .find(|l| l.contains(r#""event":"client""#))
        .expect("no client meta line");
    assert!(
        client.contains(r#""openai-organization":"org-test""#),
        "{client}"
    );
    assert!(
        client.contains(r#""openai-project":"proj-test""#),
        "{client}"
    );
    assert_eq!(raw.matches("org-test").count(), 1, "{raw}");
}

#[tokio::test]
async fn a_non_loopback_address_needs_allow_remote() {
    let config = ProxyConfig {
        listen: "0.0.0.0:0".parse().unwrap(),
        upstream: "http://127.0.0.1:9/v1".into(),
        ..ProxyConfig::default()
    };
    let err = turnscope::proxy::start(config.clone()).await.unwrap_err();
    assert!(matches!(err, ProxyError::RemoteNotAllowed { .. }));
    assert!(err.to_string().contains("--allow-remote"), "{err}");
    let px = turnscope::proxy::start(ProxyConfig {
        allow_remote: true,
        ..config
    })
    .await
    .unwrap();
    assert!(px.addr().ip().is_unspecified());
    px.shutdown().await;
}

#[tokio::test]
async fn a_burst_right_before_a_drop_is_delivered_and_recorded_in_full() {
    const N: usize = 300;
    let mut up = Upstream::start().await;
    let (_dir, path) = temp_transcript();
    let mut px = proxy(&up.base_url(), &path, Breakpoints::default()).await;
    let mut a = agent(&px, &[]).await;
    let (mut s, _) = up.accept().await;
    let frames: Vec<String> = (0..N).map(|i| format!(r#"{{"n":{i}}}"#)).collect();
    for f in &frames {
        s.feed(Message::text(f.clone())).await.unwrap();
    }
    s.flush().await.unwrap();
    drop(s);
    let mut got = Vec::new();
    while let Some(Message::Text(t)) = next_data(&mut a).await {
        got.push(t.as_str().to_owned());
    }
    assert_eq!(got, frames, "frames were lost or reordered before the drop");
    let mut seen = Collector::new();
    seen.until_closed(&mut px, 0).await;
    let want: Vec<Vec<u8>> = frames.iter().map(|f| f.as_bytes().to_vec()).collect();
    assert_eq!(seen.wire(0, Dir::Recv), want);
    px.shutdown().await;
}
