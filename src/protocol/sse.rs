//! The one server-sent-events parser: HTTP-mode streams read by the proxy, the bench client,
//! HAR import and the tests.
//!
//! It is push-style (bytes in as they arrive, complete events out) because the proxy forwards
//! each chunk to the agent untouched first and only then hands the same bytes here; a
//! pull-style stream adapter such as `eventsource-stream` would have to own the body stream.
//! Framing follows the WHATWG rules the OpenAI SDKs implement: lines end in LF, CRLF or CR
//! (a CRLF split across chunks is one line break), `:` starts a comment, one space after the
//! field's colon is dropped, `data` lines join with LF, a blank line ends the event, and an
//! event without data is not dispatched. A line is decoded only once it is whole, so a chunk
//! boundary inside a UTF-8 character costs nothing.

/// One event of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` name, when the server gave one (the Responses API repeats the `type`).
    pub event: Option<String>,
    /// The `data:` lines, joined with LF.
    pub data: String,
}

/// Incremental parser state: bytes after the last line break, and the event being read.
#[derive(Debug, Default)]
pub struct SseParser {
    partial: Vec<u8>,
    /// The last byte seen was a CR: an LF at the start of the next chunk belongs to it.
    after_cr: bool,
    open: OpenEvent,
}

/// The event being read: fields seen since the last blank line.
#[derive(Debug, Default)]
struct OpenEvent {
    event: Option<String>,
    data: Option<String>,
}

/// Chat Completions' end marker; the Responses API does not send it, but a stream that does
/// is still read.
const DONE: &str = "[DONE]";

impl SseParser {
    /// Feeds a chunk; returns every event it completed (`data: [DONE]` is not an event).
    pub fn push(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        let mut out = Vec::new();
        let mut chunk = chunk;
        if self.after_cr {
            chunk = chunk.strip_prefix(b"\n").unwrap_or(chunk);
            self.after_cr = false;
        }
        self.partial.extend_from_slice(chunk);
        let mut start = 0;
        while let Some(pos) = self.partial[start..]
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
        {
            let end = start + pos;
            let mut next = end + 1;
            if self.partial[end] == b'\r' {
                match self.partial.get(next) {
                    Some(b'\n') => next += 1,
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
            let line = String::from_utf8_lossy(&self.partial[start..end]);
            out.extend(self.open.line(&line));
            start = next;
        }
        self.partial.drain(..start);
        out
    }

    /// The end of the stream: an event still open (no blank line after it) is returned too,
    /// as a body read whole — a HAR entry, a test's text — often ends without one.
    pub fn finish(&mut self) -> Vec<SseEvent> {
        let mut out = Vec::new();
        let line = String::from_utf8_lossy(&self.partial);
        if !line.is_empty() {
            out.extend(self.open.line(&line));
        }
        self.partial.clear();
        self.after_cr = false;
        out.extend(self.open.dispatch());
        out
    }

    /// Every event of a whole body.
    pub fn parse_all(body: &str) -> Vec<SseEvent> {
        let mut parser = SseParser::default();
        let mut out = parser.push(body.as_bytes());
        out.extend(parser.finish());
        out
    }
}

impl OpenEvent {
    /// Takes one line; a blank line returns the event it ends.
    fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            return self.dispatch();
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            "event" => self.event = Some(value.to_owned()),
            // `id` and `retry` steer reconnection, which no reader here does.
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = self.event.take();
        let data = self.data.take()?;
        (data != DONE).then_some(SseEvent { event, data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(events: Vec<SseEvent>) -> Vec<String> {
        events.into_iter().map(|e| e.data).collect()
    }

    #[test]
    fn events_survive_any_chunking_and_any_line_ending() {
        let stream = "event: response.created\ndata: {\"type\":\"response.created\"}\n\n\
                      event: x\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\n: comment\n\ndata: [DONE]\n\n\
                      data:{\"cr\":\"é\"}\r\rid: 7\nretry: 5\ndata\n\n";
        let want = vec![
            "{\"type\":\"response.created\"}".to_owned(),
            "{\"a\":\n1}".to_owned(),
            "{\"cr\":\"é\"}".to_owned(),
            String::new(),
        ];
        for size in 1..stream.len() {
            let mut parser = SseParser::default();
            let mut got = Vec::new();
            for chunk in stream.as_bytes().chunks(size) {
                got.extend(parser.push(chunk));
            }
            assert_eq!(data(got), want, "chunk size {size}");
        }
    }

    #[test]
    fn event_names_belong_to_their_event_only() {
        let events = SseParser::parse_all("event: a\ndata: 1\n\ndata: 2\n\nevent: c\n\ndata: 3");
        let names: Vec<_> = events.iter().map(|e| e.event.as_deref()).collect();
        assert_eq!(names, vec![Some("a"), None, None]);
        // The last event had no blank line after it: a whole body still yields it.
        assert_eq!(data(events), vec!["1", "2", "3"]);
    }

    #[test]
    fn an_open_event_waits_for_its_blank_line() {
        let mut parser = SseParser::default();
        assert!(parser.push(b"data: {\"d\":\"\xC3").is_empty());
        assert!(parser.push(b"\xA9\"}\n").is_empty());
        assert_eq!(data(parser.push(b"\n")), vec!["{\"d\":\"é\"}"]);
        assert!(parser.finish().is_empty());
    }
}
