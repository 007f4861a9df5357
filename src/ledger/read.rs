//! What the fold reads from each frame's JSON, parsed once and borrowed from the frame's text.
//!
//! Reading is pure and per frame, so a batch reads all its frames in parallel
//! ([`Ledger::push_batch`](super::Ledger::push_batch)) and the sequential fold only applies what
//! was read: no frame is parsed twice, and the token pre-pass takes its texts from the same read.

use super::insight::{item_key, prefix_texts};
use crate::frame::{Dir, FrameRef, PayloadRef};
use crate::protocol::head::scan;
use crate::protocol::{EventHead, Raw, RequestHead, ResponseHead, ServerEventKind};
use crate::tokens::Counter;

/// A frame as the fold reads it.
pub(super) enum Read<'a> {
    /// A sent JSON object: a client event (or an HTTP-mode body), `None` when it is not one.
    Sent(Option<SentRead<'a>>),
    /// A received JSON object: a server event, `None` when it is not one.
    Recv(Option<RecvRead<'a>>),
    /// Read by the fold itself: meta lines, frames that are not JSON objects.
    Unread,
}

/// A client event's head and, for a request, its input item by item.
pub(super) struct SentRead<'a> {
    pub head: RequestHead<'a>,
    /// Empty unless the event is a request (`response.create`, or an HTTP body without a type).
    pub input: InputParts<'a>,
}

/// A server event's head and, for `response.created` and terminal events, its response.
pub(super) struct RecvRead<'a> {
    pub head: EventHead<'a>,
    pub kind: ServerEventKind,
    pub response: Option<ResponseHead<'a>>,
}

/// A request split where the ledger measures it: the envelope around `input` (the whole request
/// when it has none) and each input item with its identity.
#[derive(Default)]
pub(super) struct InputParts<'a> {
    /// The whole request.
    pub text: &'a str,
    pub envelope: Vec<&'a str>,
    pub items: Vec<ItemPart<'a>>,
}

/// One input item: its JSON text and identity (see [`item_key`]).
pub(super) struct ItemPart<'a> {
    pub text: &'a str,
    pub key: u64,
    pub unique: bool,
}

/// One input item's measure.
pub(super) struct ItemMeasure {
    pub key: u64,
    /// Whether `key` identifies this one item (it has a `call_id`).
    pub unique: bool,
    pub bytes: u64,
    pub tokens: u64,
}

/// A request's input, measured item by item, and the envelope's tokens.
pub(super) struct InputMeasure {
    pub items: Vec<ItemMeasure>,
    pub envelope_tokens: u64,
}

impl InputMeasure {
    /// (items, bytes, tokens) of the input items.
    pub fn totals(&self) -> (u64, u64, u64) {
        self.items
            .iter()
            .fold((0, 0, 0), |(n, b, t), i| (n + 1, b + i.bytes, t + i.tokens))
    }
}

impl<'a> Read<'a> {
    /// Reads `frame` (pure: safe to run on many frames at once).
    pub(super) fn of(frame: &FrameRef<'a>) -> Self {
        let PayloadRef::Json(text) = frame.payload else {
            return Read::Unread;
        };
        // Events are JSON objects; serde would read an array as a struct, so the fold says no.
        if !text.trim_start().starts_with('{') {
            return Read::Unread;
        }
        match frame.dir {
            Dir::Sent => Read::Sent(SentRead::of(text)),
            Dir::Recv => Read::Recv(RecvRead::of(text)),
            Dir::Meta => Read::Unread,
        }
    }

    /// The texts the fold will count tokens of for `frame` (the frame this was read from): a
    /// request's envelope, input items and prefix (instructions, tools); a finished item; a
    /// terminal response's output, or a non-streaming HTTP reply's.
    pub(super) fn token_texts(&self, frame: &FrameRef<'a>) -> Vec<&'a str> {
        match self {
            Read::Sent(Some(sent)) if sent.is_request() => {
                let mut texts = sent.input.envelope.clone();
                texts.extend(sent.input.items.iter().map(|i| i.text));
                texts.extend(prefix_texts(&sent.head));
                texts
            }
            Read::Recv(Some(recv)) => {
                let mut texts = Vec::new();
                if recv.kind == ServerEventKind::OutputItemDone
                    && let Some(item) = recv.head.item
                {
                    texts.push(item.get());
                }
                if recv.kind.is_terminal()
                    && let Some(response) = &recv.response
                {
                    texts.extend(response.output.iter().map(|v| v.get()));
                }
                texts
            }
            // Not an event: perhaps a non-streaming HTTP reply, the response object itself.
            Read::Recv(None) => frame
                .payload
                .json()
                .and_then(ResponseHead::parse)
                .map(|r| r.output.iter().map(|v| v.get()).collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }
}

impl<'a> SentRead<'a> {
    /// Reads a sent JSON object; `None` when it is not a client event.
    pub(super) fn of(text: &'a str) -> Option<Self> {
        // A frame's JSON is valid (checked when its line was read): its head is scanned.
        let head = RequestHead::scan(text)?;
        let mut read = SentRead {
            head,
            input: InputParts::default(),
        };
        // HTTP-mode bodies carry no type; reading one ahead that the fold skips is harmless.
        if read.is_request() {
            read.input = InputParts::of(text, read.head.input);
        }
        Some(read)
    }

    /// A `response.create`, or a body without a type (an HTTP-mode request).
    fn is_request(&self) -> bool {
        matches!(self.head.kind.as_deref(), None | Some("response.create"))
    }
}

impl<'a> RecvRead<'a> {
    fn of(text: &'a str) -> Option<Self> {
        // The frame's JSON is valid (checked when its line was read): its head, and a lifecycle
        // event's response, are scanned, not parsed again.
        let head = EventHead::scan(text).filter(|h| h.kind.is_some())?;
        let kind = ServerEventKind::of(head.kind());
        let response = (kind == ServerEventKind::Created || kind.is_terminal())
            .then_some(head.response)
            .flatten()
            .and_then(|r| ResponseHead::scan(r.get()));
        Some(RecvRead {
            head,
            kind,
            response,
        })
    }
}

impl<'a> InputParts<'a> {
    /// Splits request `text` whose `input` value is `input` (a raw value borrowed from `text`).
    pub(super) fn of(text: &'a str, input: Option<Raw<'a>>) -> Self {
        let Some(raw) = input else {
            return InputParts {
                text,
                envelope: vec![text],
                items: Vec::new(),
            };
        };
        let raw_text = raw.get();
        // The envelope is the request with the input value cut out (found by address: the
        // raw value borrows from `text`).
        let start = (raw_text.as_ptr() as usize).wrapping_sub(text.as_ptr() as usize);
        let envelope = match text.get(..start).zip(text.get(start + raw_text.len()..)) {
            Some((before, after)) => vec![before, after],
            None => vec![text],
        };
        // The request was parsed (and so validated) already: its input is split, not parsed again.
        let items = scan::elements(raw_text).unwrap_or_else(|| vec![raw_text]);
        let items = items
            .into_iter()
            .map(|text| {
                let (key, unique) = item_key(text);
                ItemPart { text, key, unique }
            })
            .collect();
        InputParts {
            text,
            envelope,
            items,
        }
    }

    /// The request's size as sent.
    pub(super) fn request_bytes(&self) -> u64 {
        self.text.len() as u64
    }

    /// Bytes and tokens of each item, and the envelope's tokens.
    pub(super) fn measure(&self, counter: &mut Counter) -> InputMeasure {
        InputMeasure {
            items: self
                .items
                .iter()
                .map(|i| ItemMeasure {
                    key: i.key,
                    unique: i.unique,
                    bytes: i.text.len() as u64,
                    tokens: counter.count(i.text),
                })
                .collect(),
            envelope_tokens: self.envelope.iter().map(|part| counter.count(part)).sum(),
        }
    }
}
