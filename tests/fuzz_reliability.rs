//! Property tests for the reliability guarantees (more cases with `FUZZ_CASES=N`): transcripts
//! round-trip any frame, a file cut at any byte reads back as exactly its complete lines, the
//! API key never reaches a transcript, and the TUI, breakpoint parser and URL helpers never
//! panic, whatever they are fed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use turnscope::frame::{Dir, Frame, Payload};
use turnscope::transcript::{Header, Writer, read_all};
use turnscope::tui::app::{App, SessionInfo};
use turnscope::tui::theme::Theme;
use turnscope::tui::{Action, update::update, view::render};

const KEY: &str = "sk-proj-TURNSCOPETESTKEY0123456789abcdef";

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128)
}

/// Event-shaped JSON texts and free text, the way frames arrive.
fn arb_text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,80}",
        (
            prop_oneof![
                Just("response.created".to_owned()),
                Just("response.output_text.delta".to_owned()),
                Just("response.completed".to_owned()),
                Just("response.create".to_owned()),
                Just("error".to_owned()),
                "[a-z._]{0,20}"
            ],
            ".{0,40}",
            0u64..1000
        )
            .prop_map(|(t, s, n)| serde_json::json!({"type": t, "delta": s, "sequence_number": n,
                "response": {"id": format!("resp_{n}"), "status": "completed", "output": [], "usage": {"input_tokens": n}}})
                .to_string()),
    ]
}

fn arb_frame() -> impl Strategy<Value = Frame> {
    (
        0u64..10_000_000,
        0u32..4,
        0u8..3,
        prop_oneof![
            arb_text().prop_map(Payload::from_text),
            prop::collection::vec(any::<u8>(), 0..64).prop_map(Payload::Binary),
        ],
    )
        .prop_map(|(t_us, conn, dir, payload)| Frame {
            t_us,
            wall: "2026-01-01T00:00:00.000000Z".into(),
            conn,
            dir: [Dir::Sent, Dir::Recv, Dir::Meta][dir as usize],
            payload,
        })
        // Meta frames are JSON objects by contract.
        .prop_filter("meta frames are JSON", |f| {
            f.dir != Dir::Meta || matches!(f.payload, Payload::Json(_))
        })
        // The writer masks anything that looks like a key; keep key-shaped text out of round trips.
        .prop_filter("no key-shaped text", |f| {
            let b = String::from_utf8_lossy(f.payload.as_bytes());
            !b.contains("sk-") && !b.contains("Bearer ")
        })
}

fn write(path: &std::path::Path, frames: &[Frame], secrets: &[String]) {
    let mut w = Writer::create(path, &Header::new("live", None, None), secrets).unwrap();
    for f in frames {
        w.write(f).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Whatever is written reads back the same: bytes, direction, connection, time.
    #[test]
    fn transcripts_round_trip_any_frame(frames in prop::collection::vec(arb_frame(), 0..30)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.tsjsonl");
        write(&path, &frames, &[]);
        let (_, read, errors) = read_all(&path).unwrap();
        prop_assert!(errors.is_empty(), "{:?}", errors);
        prop_assert_eq!(read.len(), frames.len());
        for (a, b) in frames.iter().zip(&read) {
            prop_assert_eq!((a.t_us, a.conn, a.dir), (b.t_us, b.conn, b.dir));
            prop_assert_eq!(a.payload.as_bytes(), b.payload.as_bytes());
        }
    }

    /// A recorder killed mid-write leaves a file cut anywhere: it reads back as exactly the
    /// frames whose lines are complete (a line missing only its newline is complete), with at
    /// most the torn line reported.
    #[test]
    fn a_transcript_cut_at_any_byte_reads_back_its_complete_lines(
        frames in prop::collection::vec(arb_frame(), 1..20),
        cut in any::<prop::sample::Index>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.tsjsonl");
        write(&path, &frames, &[]);
        let bytes = std::fs::read(&path).unwrap();
        let header_end = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
        let at = header_end + cut.index(bytes.len() - header_end + 1);
        std::fs::write(&path, &bytes[..at]).unwrap();
        // A cut just before a newline leaves the whole frame: it counts as complete.
        let whole_last = at > header_end && bytes.get(at) == Some(&b'\n') && bytes[at - 1] != b'\n';
        let complete = bytes[header_end..at].iter().filter(|&&b| b == b'\n').count()
            + usize::from(whole_last);
        let (_, read, errors) = read_all(&path).unwrap();
        prop_assert!(errors.len() <= 1, "{:?}", errors);
        prop_assert_eq!(read.len(), complete);
        for (a, b) in frames.iter().zip(&read) {
            prop_assert_eq!(a.payload.as_bytes(), b.payload.as_bytes());
        }
    }

    /// The API key, anywhere in a text or JSON frame (also glued to other text), never
    /// reaches the file; neither do its distinctive parts.
    #[test]
    fn the_key_never_reaches_a_transcript(
        before in ".{0,20}", after in ".{0,20}", json in any::<bool>(), dir in 0u8..3,
    ) {
        let text = format!("{before}{KEY}{after}");
        let payload = if json {
            Payload::Json(serde_json::json!({"type": "x", "input": text, "authorization": format!("Bearer {KEY}")}).to_string())
        } else {
            Payload::Text(text)
        };
        let dir_ = [Dir::Sent, Dir::Recv, Dir::Meta][dir as usize];
        let frame = Frame { t_us: 1, wall: String::new(), conn: 0, dir: dir_, payload };
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("t.tsjsonl");
        write(&path, &[frame], &[KEY.to_owned()]);
        let raw = std::fs::read_to_string(&path).unwrap();
        for part in [KEY, "TURNSCOPETESTKEY", "0123456789abcdef"] {
            prop_assert!(!raw.contains(part), "{} in {}", part, raw);
        }
    }

    /// Any frames, ticks and terminal sizes through the TUI's update and view: no panic, and
    /// the header never shows more of the key than its mask.
    #[test]
    fn the_tui_survives_any_frames_at_any_size(
        frames in prop::collection::vec(arb_frame(), 0..25),
        width in 1u16..160, height in 1u16..50, tick in 0u64..100_000_000,
    ) {
        let info = SessionInfo {
            url: "ws://127.0.0.1:1/v1/responses".into(),
            model: "gpt-5.1".into(),
            emulated: false,
            key_hint: Some(turnscope::cli::live::mask_key(KEY)),
        };
        let mut app = App::new(info, Theme::default());
        update(&mut app, Action::Resized { width, height });
        for f in frames {
            update(&mut app, Action::FrameReceived(f));
        }
        update(&mut app, Action::Ticked { now_us: tick });
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|f| render(&app, f)).unwrap();
        let screen: String = terminal.backend().buffer().content().iter().map(|c| c.symbol()).collect();
        prop_assert!(!screen.contains("TURNSCOPETESTKEY"));
    }

    /// Breakpoint specs and the URL helpers take any string without panicking.
    #[test]
    fn breakpoints_and_urls_take_any_string(spec in ".{0,40}", text in arb_text(), url in ".{0,60}") {
        if let Ok(bp) = turnscope::proxy::Breakpoint::parse(&spec) {
            let rules = turnscope::proxy::Breakpoints { rules: vec![bp] };
            let _ = rules.matches(Dir::Sent, &text);
            let _ = rules.matches(Dir::Recv, &text);
        }
        let _ = turnscope::proxy::Condition::parse(&spec);
        let ws = turnscope::endpoint::ws_url_from_base(&url);
        prop_assert!(ws.contains("://"));
        let shown = turnscope::endpoint::display_url(&url);
        prop_assert!(shown.len() <= url.len());
    }
}
