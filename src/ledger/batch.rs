//! Folding a batch of frames with the token pass spread over all cores.
//!
//! The fold is sequential (each turn depends on its chain), but o200k counting — most of its
//! cost — is not: the texts a batch will ask for are found first (a cheap borrowed parse),
//! counted in parallel, and the fold then finds each count ready. Counts are keyed by text,
//! so a text the pre-pass missed is simply counted on the spot: the result is the same as
//! pushing the frames one by one.

use rayon::prelude::*;
use serde_json::value::RawValue;

use super::Ledger;
use super::fold::input_parts;
use super::insight::prefix_texts;
use crate::frame::{Dir, Frame, Payload};
use crate::protocol::{EventHead, RequestHead, ResponseHead};

impl Ledger {
    /// Folds `frames` in order, exactly as [`Ledger::push`] on each would, counting the
    /// tokens they need in parallel first.
    pub fn push_batch(&mut self, frames: &[Frame]) {
        if self.counter.enabled() {
            let texts: Vec<&str> = frames.par_iter().flat_map_iter(token_texts).collect();
            self.counter.prime(&texts);
        }
        for frame in frames {
            self.push(frame);
        }
        self.counter.clear_primed();
    }
}

/// The texts the fold will count tokens of when it meets `frame`: a request's envelope and
/// input items, its prefix (instructions, tools), a response's output items.
fn token_texts(frame: &Frame) -> Vec<&str> {
    let Payload::Json(text) = &frame.payload else {
        return Vec::new();
    };
    match frame.dir {
        Dir::Sent => match serde_json::from_str::<RequestHead<'_>>(text) {
            // HTTP-mode bodies carry no type; counting one ahead that the fold skips is harmless.
            Ok(head) if matches!(head.kind.as_deref(), None | Some("response.create")) => {
                let (mut texts, items) = input_parts(text, head.input);
                texts.extend(items.iter().map(|i| i.get()));
                texts.extend(prefix_texts(&head));
                texts
            }
            _ => Vec::new(),
        },
        Dir::Recv => match EventHead::parse(text).filter(|h| h.kind.is_some()) {
            Some(head) => {
                let mut texts: Vec<&str> = head.item.map(RawValue::get).into_iter().collect();
                if head.kind().starts_with("response.")
                    && let Some(response) = head.response
                {
                    texts.extend(output_of(response.get()));
                }
                texts
            }
            // A non-streaming HTTP reply is the response object itself.
            None => output_of(text),
        },
        Dir::Meta => Vec::new(),
    }
}

fn output_of(response: &str) -> Vec<&str> {
    serde_json::from_str::<ResponseHead<'_>>(response)
        .map(|r| r.output.iter().map(|v| v.get()).collect())
        .unwrap_or_default()
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
