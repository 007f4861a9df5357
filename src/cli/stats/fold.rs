//! Reading and folding one transcript for `stats`: batches read, parsed and token-counted on
//! every core, folded in file order.

use std::io::BufRead;
use std::path::Path;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use crate::ledger::{Ledger, Prepared, Remedy, Turn};
use crate::tokens::Counter;
use crate::transcript;

/// Bytes of transcript read, parsed and token-counted per batch: each thread holds one batch
/// (its buffer and a read per frame), so memory stays a fraction of the file: at 1 MB, once
/// finished turns retired, 4.7 MB of a 200 MB file's 10.3 MB heap (heaptrack).
const BATCH_BYTES: usize = 256 << 10;

/// A transcript folded: its header, ledger and the lines skipped (each already reported on
/// stderr, one line each).
pub(in crate::cli) struct Folded {
    pub(super) header: transcript::Header,
    pub(in crate::cli) ledger: Ledger,
    pub(super) skipped: Vec<transcript::LineError>,
    /// What a HAR held and skipped (`None` for a transcript).
    pub(super) har: Option<crate::har::Summary>,
}

/// Turns a folding ledger retired ([`Ledger::retire_finished`]), in turn order, with what its
/// client names as each one's remedies ([`Ledger::remedies`], taken as they retired: the
/// ledger folds on while they are written).
pub(in crate::cli) struct Retired {
    pub(super) turns: Vec<Turn>,
    pub(super) remedies: Vec<Vec<Remedy>>,
}

impl Retired {
    /// What `ledger` retires now (every turn with `all`), if anything; each turn's remedies
    /// only `with_remedies` (only `--json` prints them: the others leave `remedies` empty).
    fn from(ledger: &mut Ledger, all: bool, with_remedies: bool) -> Option<Retired> {
        let turns = if all {
            ledger.retire_all()
        } else {
            ledger.retire_finished()
        };
        let remedies = if with_remedies {
            turns.iter().map(|t| ledger.remedies(t)).collect()
        } else {
            Vec::new()
        };
        (!turns.is_empty()).then_some(Retired { turns, remedies })
    }
}

/// What takes the turns a folding ledger retires. The thread that folds a batch calls it, so
/// it must be `Send`.
pub(in crate::cli) type Retire<'a> = &'a mut (dyn FnMut(Retired) -> anyhow::Result<()> + Send);

/// Where [`fold_file`] sends the turns it retires, and whether that sink prints remedies.
pub(in crate::cli) struct Retiring<'a> {
    pub(super) sink: Retire<'a>,
    /// Whether [`Retired::remedies`] is filled (`--json` of one file prints them).
    pub(super) remedies: bool,
}

/// Reads and folds one transcript (or HAR) on `threads` threads (the calling one among them).
/// With `retire`, every turn goes to it once it is finished (the rest at the end) and leaves
/// the ledger, so memory holds the turns that can still change, not the file's; without, the
/// ledger keeps every turn.
pub(in crate::cli) fn fold_file<'a>(
    path: &Path,
    name: &'a str,
    retire: Option<Retiring<'a>>,
    threads: usize,
) -> anyhow::Result<Folded> {
    if crate::har::is_har(path) {
        let loaded = crate::har::load(path)?;
        super::super::recording::report_har(name, &loaded.summary);
        let mut fold = Fold::new(name, retire);
        fold.ledger.push_batch(&loaded.frames);
        fold.retire(true)?;
        return Ok(Folded {
            header: loaded.header,
            ledger: fold.ledger,
            skipped: Vec::new(),
            har: Some(loaded.summary),
        });
    }
    fold_transcript(
        transcript::Reader::open(path)?,
        Fold::new(name, retire),
        threads,
        BATCH_BYTES,
    )
}

/// [`fold_file`] for a transcript, in batches of `batch_bytes`.
fn fold_transcript<R: BufRead + Send>(
    reader: transcript::Reader<R>,
    fold: Fold<'_>,
    threads: usize,
    batch_bytes: usize,
) -> anyhow::Result<Folded> {
    let header = reader.header().clone();
    let pipeline = Pipeline {
        batch_bytes,
        reader: Mutex::new((reader, 0)),
        fold: Mutex::new(fold),
        turn: Condvar::new(),
    };
    // Each thread reads a batch, parses it, reads its frames and counts their tokens by
    // itself, then folds it when the batch before it is folded: a batch's bytes stay on the
    // core that read them, and a thread waits for another only to take its turn to fold (not
    // once per parallel step, as when every step of a batch was spread over all cores).
    std::thread::scope(|s| {
        for _ in 1..threads.max(1) {
            s.spawn(|| pipeline.work());
        }
        pipeline.work();
    });
    let mut fold = pipeline
        .fold
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(e) = fold.failed.take() {
        return Err(e);
    }
    fold.retire(true)?;
    super::super::recording::report_skip_total(fold.name, fold.skipped.len());
    Ok(Folded {
        header,
        ledger: fold.ledger,
        skipped: fold.skipped,
        har: None,
    })
}

/// The threads of one [`fold_file`]: the reader with the number of the next batch it reads,
/// and the fold with the number of the next batch it folds.
struct Pipeline<'a, R> {
    batch_bytes: usize,
    reader: Mutex<(transcript::Reader<R>, u64)>,
    fold: Mutex<Fold<'a>>,
    /// Signalled when a batch has been folded (or the fold stopped).
    turn: Condvar,
}

/// The sequential half of [`fold_file`]: the ledger and what it retires.
struct Fold<'a> {
    name: &'a str,
    ledger: Ledger,
    retire: Option<Retiring<'a>>,
    skipped: Vec<transcript::LineError>,
    /// The number of the next batch to fold.
    next: u64,
    /// Why folding stopped early (the sink failed); the threads then stop.
    failed: Option<anyhow::Error>,
    /// Set when a thread left without folding a batch it had read (it panicked).
    abandoned: bool,
}

impl<'a> Fold<'a> {
    fn new(name: &'a str, retire: Option<Retiring<'a>>) -> Self {
        Fold {
            name,
            // Reports print figures only, never frame lists or streamed text.
            ledger: Ledger::summary_only(),
            retire,
            skipped: Vec::new(),
            next: 0,
            failed: None,
            abandoned: false,
        }
    }

    fn stopped(&self) -> bool {
        self.failed.is_some() || self.abandoned
    }

    /// Folds the next batch: first its unreadable lines are reported, then its frames folded,
    /// then the turns that finished are retired.
    fn push(&mut self, batch: Prepared<'_>, skipped: Vec<transcript::LineError>) {
        for e in skipped {
            super::super::recording::report_skip(self.name, &e, self.skipped.len());
            self.skipped.push(e);
        }
        self.ledger.push_prepared(batch);
        if let Err(e) = self.retire(false) {
            self.failed = Some(e);
        }
        self.next += 1;
    }

    /// Sends what the ledger retires now (everything with `all`) to the sink, if there is one.
    fn retire(&mut self, all: bool) -> anyhow::Result<()> {
        let Some(to) = self.retire.as_mut() else {
            return Ok(());
        };
        match Retired::from(&mut self.ledger, all, to.remedies) {
            Some(gone) => (to.sink)(gone),
            None => Ok(()),
        }
    }
}

impl<'a, R: BufRead + Send> Pipeline<'a, R> {
    /// One thread's loop: read a batch, prepare it, fold it in its turn; until the end of the
    /// file or a stop. A panic stops the others too (they would wait for its batch forever).
    fn work(&self) {
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.batches()));
        if let Err(panic) = run {
            self.lock_fold().abandoned = true;
            self.turn.notify_all();
            std::panic::resume_unwind(panic);
        }
    }

    fn batches(&self) {
        let mut buf = Vec::new();
        let mut counter: Counter = self.lock_fold().ledger.reading_counter();
        loop {
            let (lines, number) = {
                let mut reader = self.reader.lock().unwrap_or_else(PoisonError::into_inner);
                let lines = reader.0.read_lines(self.batch_bytes, &mut buf);
                if lines.is_empty() {
                    return;
                }
                reader.1 += 1;
                (lines, reader.1 - 1)
            };
            let mut frames = Vec::with_capacity(lines.len());
            let mut skipped = Vec::new();
            for entry in lines.parse_here(&buf) {
                match entry {
                    Ok(line) => frames.push(line.into_frame_ref()),
                    Err(e) => skipped.push(e),
                }
            }
            let batch = Ledger::prepare_here(frames, &mut counter);
            let fold = self.lock_fold();
            let mut fold = self
                .turn
                .wait_while(fold, |f| f.next != number && !f.stopped())
                .unwrap_or_else(PoisonError::into_inner);
            if fold.stopped() {
                return;
            }
            fold.push(batch, skipped);
            drop(fold);
            self.turn.notify_all();
        }
    }

    fn lock_fold(&self) -> MutexGuard<'_, Fold<'a>> {
        self.fold.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Batches folded on any number of threads, however small, retire the same turns in the
    /// same order as one batch on one thread, and leave the same ledger.
    #[test]
    fn threads_fold_batches_in_file_order() {
        let mut data = Vec::new();
        transcript::synth::write_synthetic(&mut data, 600_000, 5).unwrap();
        let fold = |threads, batch| {
            let reader = transcript::from_reader(&data[..], "synth").unwrap();
            let mut retired = Vec::new();
            let mut sink = |r: Retired| {
                retired.extend(r.turns.iter().map(|t| format!("{t:?}")));
                Ok(())
            };
            let retire = Retiring {
                sink: &mut sink,
                remedies: false,
            };
            let folded =
                fold_transcript(reader, Fold::new("synth", Some(retire)), threads, batch).unwrap();
            let totals = format!("{:?}", folded.ledger.totals());
            (retired, totals)
        };
        let (one, totals) = fold(1, 1 << 30);
        assert!(one.len() > 20, "{} turns", one.len());
        for threads in [1, 2, 3] {
            for batch in [1, 4096, 65_536] {
                let (turns, t) = fold(threads, batch);
                assert!(turns == one, "{threads} threads, batches of {batch} bytes");
                assert_eq!(t, totals);
            }
        }
    }
}
