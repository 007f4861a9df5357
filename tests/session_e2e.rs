//! The session actor end to end against the in-process emulator: a chained conversation with a
//! tool call, every frame in the transcript, and the API key nowhere in it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use turnscope::emulator::{self, EmulatorConfig};
use turnscope::frame::{Dir, Frame, Payload};
use turnscope::session::{
    self, ConnState, SessionCommand, SessionConfig, SessionEvent, SessionHandle,
};

const KEY: &str = "sk-test-ABCDEF1234567890abcdef";
/// A guard against a hung test, never a synchronisation point.
const GUARD: Duration = Duration::from_secs(30);

fn json_of(f: &Frame) -> Value {
    match &f.payload {
        Payload::Json(t) => serde_json::from_str(t).unwrap(),
        other => panic!("expected JSON, got {other:?}"),
    }
}

/// A session to `url` sending [`KEY`].
fn spawn_to(url: String) -> SessionHandle {
    let config = SessionConfig {
        url,
        api_key: Some(KEY.into()),
        ..SessionConfig::default()
    };
    session::spawn(config, CancellationToken::new())
}

/// The session's next event (within [`GUARD`]).
async fn next_event(h: &mut SessionHandle) -> SessionEvent {
    tokio::time::timeout(GUARD, h.events.recv())
        .await
        .expect("session went quiet")
        .expect("session ended")
}

/// Closes the session and waits for its task to end.
async fn close(h: SessionHandle) {
    h.commands.send(SessionCommand::Close).unwrap();
    tokio::time::timeout(GUARD, h.task).await.unwrap().unwrap();
}

/// Collects every event until the next terminal server event; returns (frames seen, terminal).
async fn until_terminal(h: &mut SessionHandle, seen: &mut Vec<Frame>) -> Value {
    loop {
        match next_event(h).await {
            SessionEvent::Frame(f) => {
                let recv = f.dir == Dir::Recv;
                seen.push(f.clone());
                if recv {
                    let v = json_of(&f);
                    let t = v["type"].as_str().unwrap_or("");
                    if matches!(
                        t,
                        "response.completed" | "response.failed" | "response.incomplete" | "error"
                    ) {
                        return v;
                    }
                }
            }
            SessionEvent::State(ConnState::Failed { message }) => {
                panic!("connect failed: {message}")
            }
            SessionEvent::State(ConnState::Closed { reason, .. }) => panic!("closed: {reason}"),
            _ => {}
        }
    }
}

#[tokio::test]
async fn three_chained_turns_against_the_emulator_are_recorded_whole_and_key_free() {
    let emu = emulator::start(EmulatorConfig {
        api_key: Some(KEY.into()),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sessions/e2e.tsjsonl");
    let config = SessionConfig {
        url: emu.ws_url(),
        api_key: Some(KEY.into()),
        record: Some(path.clone()),
        model: Some("gpt-5.1".into()),
        ..SessionConfig::default()
    };
    let mut h = session::spawn(config, CancellationToken::new());
    let mut seen: Vec<Frame> = Vec::new();
    loop {
        match tokio::time::timeout(GUARD, h.events.recv())
            .await
            .unwrap()
            .unwrap()
        {
            SessionEvent::State(ConnState::Connected { conn: 0, .. }) => break,
            SessionEvent::State(ConnState::Failed { message }) => panic!("{message}"),
            SessionEvent::Frame(f) => seen.push(f),
            SessionEvent::Recording(r) => assert_eq!(r.unwrap(), path),
            _ => {}
        }
    }

    let tools = json!([{
        "type": "function", "name": "get_weather", "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    }]);
    // Turn 1: the user asks for a tool.
    let first = json!({"type": "response.create", "model": "gpt-5.1", "store": false, "tools": tools,
        "input": [{"type": "message", "role": "user", "content": "Please call get_weather for Paris"}]});
    h.commands
        .send(SessionCommand::Send(first.to_string()))
        .unwrap();
    let done1 = until_terminal(&mut h, &mut seen).await;
    assert_eq!(done1["type"], "response.completed", "{done1}");
    let id1 = done1["response"]["id"].as_str().unwrap().to_owned();
    let calls: Vec<&Value> = done1["response"]["output"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] == "function_call")
        .collect();
    assert_eq!(calls.len(), 1, "the persona calls the named tool: {done1}");
    let call_id = calls[0]["call_id"].as_str().unwrap().to_owned();

    // Turn 2: only the tool output, chained.
    let second = json!({"type": "response.create", "model": "gpt-5.1", "store": false, "tools": tools,
        "previous_response_id": id1,
        "input": [{"type": "function_call_output", "call_id": call_id, "output": "{\"temp_c\":18}"}]});
    h.commands
        .send(SessionCommand::Send(second.to_string()))
        .unwrap();
    let done2 = until_terminal(&mut h, &mut seen).await;
    assert_eq!(done2["type"], "response.completed", "{done2}");
    assert_eq!(done2["response"]["previous_response_id"], json!(id1));
    let id2 = done2["response"]["id"].as_str().unwrap().to_owned();

    // Turn 3: a new user message, chained.
    let third = json!({"type": "response.create", "model": "gpt-5.1", "store": false, "tools": tools,
        "previous_response_id": id2,
        "input": [{"type": "message", "role": "user", "content": "Thanks!"}]});
    h.commands
        .send(SessionCommand::Send(third.to_string()))
        .unwrap();
    let done3 = until_terminal(&mut h, &mut seen).await;
    assert_eq!(done3["type"], "response.completed", "{done3}");
    assert_eq!(done3["response"]["previous_response_id"], json!(id2));
    for done in [&done2, &done3] {
        // The chain continued from the connection cache, but cached_tokens is prompt caching:
        // 0 for a prompt under 1024 tokens.
        let cached = done["response"]["usage"]["input_tokens_details"]["cached_tokens"].as_u64();
        assert_eq!(cached, Some(0), "{done}");
    }

    // Close, keeping the remaining events (the close meta frame).
    h.commands.send(SessionCommand::Close).unwrap();
    while let Some(event) = tokio::time::timeout(GUARD, h.events.recv()).await.unwrap() {
        if let SessionEvent::Frame(f) = event {
            seen.push(f);
        }
    }
    tokio::time::timeout(GUARD, h.task).await.unwrap().unwrap();
    emu.shutdown().await;

    // The transcript holds exactly the frames the UI saw, in order.
    let (header, frames, errors) = turnscope::transcript::read_all(&path).unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(header.source, "live");
    assert_eq!(header.model.as_deref(), Some("gpt-5.1"));
    assert_eq!(frames, seen);
    let sent: Vec<Value> = frames
        .iter()
        .filter(|f| f.dir == Dir::Sent)
        .map(json_of)
        .collect();
    assert_eq!(sent, [first, second, third]);
    let terminals = frames
        .iter()
        .filter(|f| f.dir == Dir::Recv && json_of(f)["type"] == "response.completed")
        .count();
    assert_eq!(terminals, 3);
    let metas: Vec<String> = frames
        .iter()
        .filter(|f| f.dir == Dir::Meta)
        .map(|f| json_of(f)["event"].as_str().unwrap().to_owned())
        .collect();
    // The live session records its handshake headers as a `client` meta line (no key in it).
    assert_eq!(metas, ["connect", "client", "close"]);
    assert!(frames.iter().all(|f| f.conn == 0));
    assert!(
        frames.windows(2).all(|w| w[0].t_us <= w[1].t_us),
        "t_us is monotonic"
    );

    let raw = std::fs::read_to_string(&path).unwrap();
    assert!(!raw.contains(KEY), "the key is in the transcript");
    assert!(
        !raw.contains("ABCDEF1234567890"),
        "part of the key is in the transcript"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "transcript mode");
    }
}

#[tokio::test]
async fn a_wrong_key_is_a_one_line_401_without_the_key() {
    let emu = emulator::start(EmulatorConfig {
        api_key: Some("sk-test-the-right-key-0000000000".into()),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let url = emu.ws_url();
    let mut h = spawn_to(url.clone());
    let message = loop {
        match next_event(&mut h).await {
            SessionEvent::State(ConnState::Failed { message }) => break message,
            SessionEvent::State(ConnState::Connected { .. }) => panic!("a wrong key connected"),
            _ => {}
        }
    };
    assert!(
        message.starts_with(&format!(
            "401 Unauthorized from {url}: check OPENAI_API_KEY"
        )),
        "{message}"
    );
    assert!(
        !message.contains('\n') && !message.contains("ABCDEF1234567890"),
        "{message}"
    );
    close(h).await;
    emu.shutdown().await;
}

#[tokio::test]
async fn an_emulator_max_age_close_is_reported_with_its_code_and_reconnect_recovers() {
    let emu = emulator::start(EmulatorConfig {
        max_connection_age: Duration::from_millis(200),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let mut h = spawn_to(emu.ws_url());
    let closed = loop {
        match next_event(&mut h).await {
            SessionEvent::State(s @ ConnState::Closed { .. }) => break s,
            SessionEvent::State(ConnState::Failed { message }) => panic!("{message}"),
            _ => {}
        }
    };
    let ConnState::Closed { conn, code, reason } = closed else {
        unreachable!()
    };
    assert_eq!((conn, code), (0, Some(emulator::MAX_AGE_CLOSE_CODE)));
    assert_eq!(reason, emulator::MAX_AGE_CLOSE_REASON);
    h.commands.send(SessionCommand::Reconnect).unwrap();
    loop {
        if let SessionEvent::State(ConnState::Connected { conn, .. }) = next_event(&mut h).await {
            assert_eq!(conn, 1);
            break;
        }
    }
    close(h).await;
    emu.shutdown().await;
}

#[tokio::test]
async fn emulator_faults_surface_as_raw_frames_and_a_drop_that_hands_back_queued_creates() {
    let emu = emulator::start(EmulatorConfig {
        faults: emulator::FaultPlan {
            malformed_after: Some(2),
            drop_after: Some(4),
            ..emulator::FaultPlan::default()
        },
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let mut h = spawn_to(emu.ws_url());
    let a =
        json!({"type": "response.create", "model": "gpt-4.1-mini", "input": "first"}).to_string();
    let b =
        json!({"type": "response.create", "model": "gpt-4.1-mini", "input": "second"}).to_string();
    h.commands.send(SessionCommand::Send(a)).unwrap();
    h.commands.send(SessionCommand::Send(b.clone())).unwrap();
    let (mut texts, mut closed, mut unsent) = (0, None, None);
    while closed.is_none() || unsent.is_none() {
        match next_event(&mut h).await {
            SessionEvent::Frame(f) if f.dir == Dir::Recv => {
                texts += usize::from(matches!(f.payload, Payload::Text(_)));
            }
            SessionEvent::State(ConnState::Closed { code, .. }) => closed = Some(code),
            SessionEvent::State(ConnState::Failed { message }) => panic!("{message}"),
            SessionEvent::Unsent { events, .. } => unsent = Some(events),
            _ => {}
        }
    }
    assert_eq!(texts, 1, "the malformed frame is surfaced as text");
    assert_eq!(closed, Some(None), "a cut connection has no close code");
    assert_eq!(
        unsent,
        Some(vec![b]),
        "the queued create is handed back, not resent"
    );
    close(h).await;
    emu.shutdown().await;
}
