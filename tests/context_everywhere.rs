//! One context rebuild for every source: the frames in memory (live and proxy) and the replay
//! index give the same items for every turn, and those items are the ledger's own numbers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use turnscope::ledger::Ledger;
use turnscope::ledger::context::{context_after, context_for, http_request, input_items};
use turnscope::replay::{Index, IndexOptions};
use turnscope::transcript::read_all;

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "tsjsonl"))
        .collect();
    out.sort();
    assert!(out.len() >= 6, "fixtures missing under {}", dir.display());
    out
}

#[test]
fn memory_and_index_rebuild_the_same_context_with_the_ledgers_numbers() {
    for path in fixtures() {
        let name = path.display().to_string();
        let (_, frames, _) = read_all(&path).unwrap();
        let ledger = Ledger::from_frames(&frames);
        let index = Index::open(&path, IndexOptions::default()).unwrap();
        assert!(
            index.wait_complete(Duration::from_secs(20)).complete(),
            "{name}: index not done"
        );
        assert!(!ledger.turns().is_empty(), "{name}: no turns");
        for (t, turn) in ledger.turns().iter().enumerate() {
            let live = context_for(&ledger, &frames[..], t);
            let replay = index.with_ledger(|l| context_for(l, &index, t));
            assert_eq!(live, replay, "{name} turn {t}: live and replay disagree");
            assert_eq!(
                live.len() as u64,
                turn.full_context.items,
                "{name} turn {t}: rebuilt items vs the ledger's full-context items"
            );
            assert_eq!(
                context_after(&ledger, &frames[..], t),
                index.with_ledger(|l| context_after(l, &index, t)),
                "{name} turn {t}"
            );
            assert_eq!(
                http_request(&ledger, &frames[..], t),
                index.with_ledger(|l| http_request(l, &index, t)),
                "{name} turn {t}"
            );
            if turn.request_frame.is_some() {
                assert!(
                    !input_items(&ledger, &frames[..], t).is_empty() || turn.incremental.items == 0,
                    "{name} turn {t}: a request with input rebuilt as empty"
                );
            }
        }
    }
}
