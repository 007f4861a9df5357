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

/// Frames whose JSON was read ahead of the fold ([`Ledger::prepare`]): reading needs no ledger,
/// so one batch can be read on all cores while the ledger folds the batch before it.
pub struct Prepared<'a> {
    frames: Vec<FrameRef<'a>>,
    reads: Vec<Read<'a>>,
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
        Prepared { frames, reads }
    }

    /// Folds a prepared batch, exactly as [`Ledger::push`] on each frame would, counting the
    /// tokens it needs on all cores first.
    pub fn push_prepared(&mut self, batch: Prepared<'_>) {
        let Prepared { frames, reads } = batch;
        if self.counter.enabled() {
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
}
