//! Folding a batch of frames with the reading and the token pass spread over all cores.
//!
//! The fold is sequential (each turn depends on its chain), but reading each frame's JSON
//! ([`Read`]) and o200k counting — most of its cost — are not: every frame of a batch is read in
//! parallel, the texts the fold will ask tokens of are taken from those reads and counted in
//! parallel, and the fold then applies each read, finding each count ready. Counts are keyed by
//! text, so a text the pre-pass missed is simply counted on the spot: the result is the same as
//! pushing the frames one by one. Reading needs no ledger ([`Ledger::prepare`]), so a caller can
//! read the next batch while the ledger folds this one.

use rayon::prelude::*;

use super::Ledger;
use super::read::Read;
use crate::frame::{Frame, FrameRef};
use crate::tokens::{Counter, Primed};

/// Frames whose JSON was read ahead of the fold ([`Ledger::prepare`]): reading needs no ledger,
/// so one batch can be read on all cores while the ledger folds the batch before it.
pub struct Prepared<'a> {
    frames: Vec<FrameRef<'a>>,
    reads: Vec<Read<'a>>,
    /// The tokens the fold will need, counted where the batch was read
    /// ([`Ledger::prepare_here`]); `None`: the fold counts them on all cores.
    counts: Option<Primed>,
}

impl Ledger {
    /// Folds `frames` in order, exactly as [`Ledger::push`] on each would, reading them and
    /// counting the tokens they need in parallel first.
    pub fn push_batch(&mut self, frames: &[Frame]) {
        self.push_prepared(Self::prepare(frames.iter().map(Frame::view).collect()));
    }

    /// Reads `frames` on all cores, for [`Ledger::push_prepared`].
    pub fn prepare(frames: Vec<FrameRef<'_>>) -> Prepared<'_> {
        let reads = frames.par_iter().map(Read::of).collect();
        Prepared {
            frames,
            reads,
            counts: None,
        }
    }

    /// Reads `frames` and counts the tokens their fold will need, all on this thread, with
    /// `counter` (this thread's own, from [`Ledger::reading_counter`]): for a caller that
    /// prepares batches on several threads and folds them in order, so that each batch's bytes
    /// stay on the core that read them.
    pub fn prepare_here<'a>(frames: Vec<FrameRef<'a>>, counter: &mut Counter) -> Prepared<'a> {
        let reads: Vec<Read<'a>> = frames.iter().map(Read::of).collect();
        let counts = counter.enabled().then(|| {
            let texts: Vec<&str> = (reads.iter().zip(&frames))
                .flat_map(|(read, frame)| read.token_texts(frame))
                .collect();
            counter.count_ahead(&texts)
        });
        Prepared {
            frames,
            reads,
            counts,
        }
    }

    /// A counter for a thread that prepares batches for this ledger ([`Ledger::prepare_here`]):
    /// it counts tokens exactly when this ledger does.
    pub fn reading_counter(&self) -> Counter {
        if self.counter.enabled() {
            Counter::default()
        } else {
            Counter::disabled()
        }
    }

    /// Folds a prepared batch, exactly as [`Ledger::push`] on each frame would, counting the
    /// tokens it needs on all cores first unless they were counted ahead.
    pub fn push_prepared(&mut self, batch: Prepared<'_>) {
        let Prepared {
            frames,
            reads,
            counts,
        } = batch;
        if let Some(counts) = counts {
            self.counter.use_primed(counts);
        } else if self.counter.enabled() {
            let texts: Vec<&str> = reads
                .par_iter()
                .zip(&frames)
                .flat_map_iter(|(read, frame)| read.token_texts(frame))
                .collect();
            self.counter.prime(&texts);
        }
        for (frame, read) in frames.iter().zip(reads) {
            self.push_read(frame, read);
        }
        self.counter.clear_primed();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript;

    /// Every fixture, and a synthetic transcript, fold to the same ledger in batches of any
    /// size as frame by frame — and the batches really do find their counts primed.
    #[test]
    fn batches_fold_exactly_like_single_frames() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut inputs: Vec<Vec<Frame>> = [dir.clone(), dir.join("real")]
            .iter()
            .flat_map(|d| std::fs::read_dir(d).unwrap())
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "tsjsonl"))
            .map(|p| transcript::read_all(&p).unwrap().1)
            .collect();
        assert!(
            inputs.len() >= 10,
            "fixtures not found in {}",
            dir.display()
        );
        let mut data = Vec::new();
        transcript::synth::write_synthetic(&mut data, 400_000, 11).unwrap();
        let frames = transcript::from_reader(&data[..], "synth")
            .unwrap()
            .map(|e| e.unwrap().frame)
            .collect();
        inputs.push(frames);
        for frames in &inputs {
            let one = Ledger::from_frames(frames);
            for size in [1, 7, frames.len().max(1)] {
                let mut batched = Ledger::new();
                for chunk in frames.chunks(size) {
                    batched.push_batch(chunk);
                }
                assert_eq!(
                    format!("{:?}", batched.turns()),
                    format!("{:?}", one.turns())
                );
                assert_eq!(batched.totals(), one.totals());
            }
        }
        for frames in &inputs {
            let mut batched = Ledger::new();
            batched.push_batch(frames);
            assert_eq!(
                batched.counter.primed_misses(),
                0,
                "the pre-pass missed a text"
            );
        }
    }

    /// Batches prepared on the reading thread with its own counter fold exactly like single
    /// frames, and the fold finds every count made ahead.
    #[test]
    fn batches_prepared_here_fold_exactly_like_single_frames() {
        let mut data = Vec::new();
        transcript::synth::write_synthetic(&mut data, 400_000, 3).unwrap();
        let frames: Vec<Frame> = transcript::from_reader(&data[..], "synth")
            .unwrap()
            .map(|e| e.unwrap().frame)
            .collect();
        let one = Ledger::from_frames(&frames);
        for size in [1, 7, frames.len()] {
            let mut batched = Ledger::new();
            let mut counter = batched.reading_counter();
            for chunk in frames.chunks(size) {
                let views = chunk.iter().map(Frame::view).collect();
                batched.push_prepared(Ledger::prepare_here(views, &mut counter));
            }
            assert_eq!(
                format!("{:?}", batched.turns()),
                format!("{:?}", one.turns())
            );
            assert_eq!(batched.totals(), one.totals());
            assert_eq!(
                batched.counter.primed_misses(),
                0,
                "a text was not counted ahead"
            );
        }
        let mut off = Ledger::without_tokens();
        let mut counter = off.reading_counter();
        assert!(!counter.enabled());
        off.push_prepared(Ledger::prepare_here(
            frames.iter().map(Frame::view).collect(),
            &mut counter,
        ));
        assert_eq!(off.totals().incremental.tokens, 0);
    }
}
