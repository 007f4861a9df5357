//! The lazy replay index against the streaming reader: same frames, same ledger, same errors,
//! and a growing file followed like `tail -f`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use turnscope::ledger::Ledger;
use turnscope::replay::{Index, IndexOptions, ReplayError};
use turnscope::transcript::{TranscriptError, read_all};

const WAIT: Duration = Duration::from_secs(20);
const HEADER: &str = r#"{"turnscope":1,"created":"2026-11-25T10:00:00Z","source":"live"}"#;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn line(t_us: u64, body: &str) -> String {
    format!(r#"{{"t_us":{t_us},"wall":"w","conn":0,"dir":"recv","frame":{body}}}"#)
}

/// Every position of the index, as the reader would give it.
fn all(index: &Index) -> Vec<Result<turnscope::transcript::Entry, String>> {
    (0..index.len())
        .map(|p| index.get(p).map_err(|e| e.to_string()))
        .collect()
}

#[test]
fn fixtures_index_to_the_same_frames_and_ledger_as_the_reader() {
    for name in [
        "tool_loop.tsjsonl",
        "two_lanes.tsjsonl",
        "reconnect_store_false.tsjsonl",
        "truncated.tsjsonl",
    ] {
        let path = fixture(name);
        let (header, frames, errors) = read_all(&path).unwrap();
        let options = IndexOptions {
            tokens: true,
            ..IndexOptions::default()
        };
        let index = Index::open(&path, options).unwrap();
        assert_eq!(index.header(), &header, "{name}");
        let progress = index.wait_complete(WAIT);
        assert!(
            progress.complete() && progress.tokens,
            "{name}: {progress:?}"
        );
        assert_eq!(progress.skipped as usize, errors.len(), "{name}");
        let got: Vec<_> = all(&index).into_iter().filter_map(Result::ok).collect();
        assert_eq!(
            got.iter().map(|e| e.frame.clone()).collect::<Vec<_>>(),
            frames,
            "{name}"
        );
        let expected = Ledger::from_frames(&frames);
        index.with_ledger(|ledger| {
            assert_eq!(ledger.totals(), expected.totals(), "{name}");
            assert_eq!(ledger.turns(), expected.turns(), "{name}");
        });
        assert_eq!(
            index.skipped().iter().map(|e| e.line).collect::<Vec<_>>(),
            errors.iter().map(|e| e.line).collect::<Vec<_>>(),
            "{name}"
        );
    }
}

#[test]
fn corrupt_non_utf8_blank_and_truncated_lines_are_named_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.tsjsonl");
    let mut data = Vec::new();
    writeln!(data, "{HEADER}").unwrap(); // line 1
    writeln!(data, "{}", line(1, r#"{"type":"a"}"#)).unwrap(); // line 2, pos 0
    writeln!(data, "garbage").unwrap(); // line 3, pos 1
    writeln!(data).unwrap(); // line 4, blank, not indexed
    data.extend_from_slice(b"{\"t_us\":2,\"dir\":\"recv\",\"text\":\"\xff\xfe\"}\n"); // line 5, pos 2
    writeln!(data, "{}", line(3, r#"{"type":"b"}"#)).unwrap(); // line 6, pos 3
    data.extend_from_slice(br#"{"t_us":4,"dir":"re"#); // line 7, pos 4, cut
    std::fs::write(&path, &data).unwrap();

    let index = Index::open(&path, IndexOptions::default()).unwrap();
    let progress = index.wait_complete(WAIT);
    assert_eq!((progress.frames, progress.skipped), (5, 3));
    let got = all(&index);
    assert_eq!(got[0].as_ref().unwrap().line, 2);
    assert!(
        got[1]
            .as_ref()
            .unwrap_err()
            .starts_with("line 3: not a frame line")
    );
    assert!(
        got[2]
            .as_ref()
            .unwrap_err()
            .starts_with("line 5: not UTF-8"),
        "{got:?}"
    );
    assert_eq!(got[3].as_ref().unwrap().line, 6);
    let cut = index.get(4).unwrap_err();
    assert!(cut.truncated && cut.line == 7, "{cut:?}");
    assert!(cut.reason.contains("cut mid-write"));
    // The ledger skipped the bad lines: its frames 0 and 1 are positions 0 and 3.
    assert_eq!(index.position_of_frame(1), 3);
    assert_eq!(index.frame_of_position(3), Some(1));
    assert_eq!(index.frame_of_position(1), None);
    assert_eq!(index.with_ledger(Ledger::frame_count), 2);
    assert!(index.get(9).unwrap_err().reason.contains("no frame 9"));
}

#[test]
fn bad_headers_are_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let open = |name: &str, data: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, data).unwrap();
        Index::open(&path, IndexOptions::default()).map(|_| ())
    };
    let future = open(
        "future.tsjsonl",
        b"{\"turnscope\":7,\"created\":\"x\",\"source\":\"live\"}\n",
    )
    .unwrap_err();
    assert!(matches!(
        future,
        ReplayError::Transcript(TranscriptError::FutureVersion { found: 7, .. })
    ));
    assert!(future.to_string().contains("upgrade turnscope"));
    assert!(matches!(
        open("empty.tsjsonl", b"").unwrap_err(),
        ReplayError::Transcript(TranscriptError::Empty { .. })
    ));
    assert!(matches!(
        open("binary.tsjsonl", b"\x89PNG\r\n\x1a\n\0\0").unwrap_err(),
        ReplayError::Transcript(TranscriptError::NotATranscript { .. })
    ));
    let missing = Index::open(&dir.path().join("nope"), IndexOptions::default()).unwrap_err();
    assert!(missing.to_string().contains("nope"), "{missing}");
}

#[test]
fn a_growing_file_is_followed_and_a_partial_line_waits_for_its_newline() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.tsjsonl");
    let mut file = std::fs::File::create(&path).unwrap();
    writeln!(file, "{HEADER}").unwrap();
    writeln!(file, "{}", line(1, r#"{"type":"a"}"#)).unwrap();
    let second = line(2, r#"{"type":"b"}"#);
    let (head, tail) = second.split_at(10);
    write!(file, "{head}").unwrap();
    file.flush().unwrap();

    let (tx, rx) = std::sync::mpsc::channel();
    let notify: turnscope::replay::Notify = std::sync::Arc::new(move || {
        let _ = tx.send(());
    });
    let options = IndexOptions {
        follow: true,
        notify: Some(notify),
        ..IndexOptions::default()
    };
    let index = Index::open(&path, options).unwrap();
    let p = index.wait_until(WAIT, |p| {
        p.frames == 1 && p.pending_bytes == 10 && p.folded == 1
    });
    assert_eq!((p.frames, p.pending_bytes, p.folded), (1, 10, 1), "{p:?}");
    assert!(p.following && !p.indexed && !p.complete());
    assert!(rx.try_recv().is_ok(), "progress was notified");

    writeln!(file, "{tail}").unwrap();
    writeln!(file, "{}", line(3, r#"{"type":"c"}"#)).unwrap();
    file.flush().unwrap();
    let p = index.wait_until(WAIT, |p| p.frames == 3 && p.folded == 3);
    assert_eq!((p.frames, p.pending_bytes, p.skipped), (3, 0, 0), "{p:?}");
    assert_eq!(index.get(1).unwrap().frame.t_us, 2);
    assert_eq!(index.get(2).unwrap().line, 4);
    assert_eq!(index.with_ledger(Ledger::frame_count), 3);

    // Truncating the file under the follower stops it with a message.
    file.set_len(5).unwrap();
    let p = index.wait_until(WAIT, |p| p.error.is_some());
    assert!(p.error.unwrap().contains("shrank"));
}

#[test]
fn a_synthetic_file_indexes_completely_and_frames_are_random_access() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("synth.tsjsonl");
    let mut data = Vec::new();
    turnscope::transcript::synth::write_synthetic(&mut data, 3_000_000, 3).unwrap();
    std::fs::write(&path, &data).unwrap();
    let (_, frames, _) = read_all(&path).unwrap();
    let index = Index::open(&path, IndexOptions::default()).unwrap();
    let p = index.wait_complete(WAIT);
    assert_eq!(p.frames as usize, frames.len());
    assert_eq!(p.indexed_bytes, data.len() as u64);
    for pos in [0, 1, frames.len() / 2, frames.len() - 1] {
        assert_eq!(index.get(pos as u64).unwrap().frame, frames[pos]);
    }
    let mut bytes_only = Ledger::without_tokens();
    for f in &frames {
        bytes_only.push(f);
    }
    index.with_ledger(|l| assert_eq!(l.totals(), bytes_only.totals()));
}

#[test]
fn find_scans_forwards_and_backwards_across_blocks_like_a_linear_scan() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("synth.tsjsonl");
    let mut data = Vec::new();
    turnscope::transcript::synth::write_synthetic(&mut data, 2_000_000, 5).unwrap();
    std::fs::write(&path, &data).unwrap();
    let index = Index::open(&path, IndexOptions::default()).unwrap();
    let n = index.wait_complete(WAIT).frames;
    let creates: Vec<u64> = (0..n)
        .filter(|&p| {
            index
                .raw(p)
                .unwrap()
                .windows(15)
                .any(|w| w == b"response.create")
        })
        .collect();
    assert!(creates.len() > 10);
    let is_create = |_: u64, line: &[u8]| line.windows(15).any(|w| w == b"response.create");
    // Forward from each create finds the next; backward from the end finds the last.
    for pair in creates.windows(2) {
        assert_eq!(
            index.find(Some(pair[0]), true, u64::MAX, is_create),
            Some(pair[1])
        );
        assert_eq!(
            index.find(Some(pair[1]), false, u64::MAX, is_create),
            Some(pair[0])
        );
    }
    assert_eq!(
        index.find(None, false, u64::MAX, is_create),
        creates.last().copied()
    );
    assert_eq!(
        index.find(None, true, u64::MAX, is_create),
        creates.first().copied()
    );
    assert_eq!(index.find(Some(n - 1), true, u64::MAX, |_, _| true), None);
    assert_eq!(index.find(Some(0), false, u64::MAX, |_, _| true), None);
    // The budget bounds the lines looked at.
    assert_eq!(index.find(None, true, 3, |p, _| p == 10), None);
}
