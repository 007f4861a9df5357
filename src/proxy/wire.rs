//! WebSocket frames as bytes on the wire. The relay forwards what a side sent as it is and reads
//! its frames beside it, to record them; the few frames the proxy writes itself (an injected or
//! edited text, a close) are encoded here. Headers are parsed and written by tungstenite's own
//! `FrameHeader`, so the framing rules are the library's, not a copy of them.

use std::io::Cursor;
use std::ops::Range;

use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{Frame, FrameHeader};

/// One complete frame at the front of a buffer.
#[derive(Debug)]
pub(crate) struct WireFrame {
    /// The frame's bytes, header included.
    pub bytes: Range<usize>,
    /// Its payload's bytes (still masked if `mask` is set).
    pub payload: Range<usize>,
    pub is_final: bool,
    pub opcode: OpCode,
    pub mask: Option<[u8; 4]>,
}

/// Why the bytes at hand are no frame the relay can pass on.
#[derive(Debug)]
pub(crate) enum WireError {
    /// A frame (or the message it continues) longer than the proxy's limit.
    Oversized { size: u64 },
    /// Not WebSocket framing (a reserved opcode, a bad length).
    Invalid(String),
}

/// What `frame_at` found at an offset.
#[derive(Debug)]
pub(crate) enum Scan {
    /// A complete frame.
    Frame(WireFrame),
    /// The frame there is not complete yet: it needs this many bytes from the offset (or more,
    /// when its header is not complete either).
    Partial { needs: usize },
}

/// The frame starting at `buf[at..]`, refusing payloads longer than `max` bytes.
pub(crate) fn frame_at(buf: &[u8], at: usize, max: usize) -> Result<Scan, WireError> {
    let mut cursor = Cursor::new(&buf[at..]);
    let Some((header, len)) =
        FrameHeader::parse(&mut cursor).map_err(|e| WireError::Invalid(e.to_string()))?
    else {
        // The longest header is 14 bytes.
        return Ok(Scan::Partial { needs: 14 });
    };
    if len > max as u64 {
        return Err(WireError::Oversized { size: len });
    }
    // Both fit in usize: `len` is at most `max`.
    let head = usize::try_from(cursor.position()).unwrap_or(usize::MAX);
    let total = head + usize::try_from(len).unwrap_or(usize::MAX);
    if buf.len() - at < total {
        return Ok(Scan::Partial { needs: total });
    }
    Ok(Scan::Frame(WireFrame {
        bytes: at..at + total,
        payload: at + head..at + total,
        is_final: header.is_final,
        opcode: header.opcode,
        mask: header.mask,
    }))
}

/// A frame's payload, unmasked.
pub(crate) fn payload(buf: &[u8], frame: &WireFrame) -> Vec<u8> {
    let mut data = Vec::with_capacity(frame.payload.len());
    append_payload(buf, frame, &mut data);
    data
}

/// Appends a frame's payload, unmasked, to a message being put together.
pub(crate) fn append_payload(buf: &[u8], frame: &WireFrame, to: &mut Vec<u8>) {
    let from = to.len();
    to.extend_from_slice(&buf[frame.payload.clone()]);
    if let Some(mask) = frame.mask {
        unmask(&mut to[from..], mask);
    }
}

/// RFC 6455 §5.3: the payload XOR the 4-byte key, cycled. Eight bytes at a time (the compiler
/// vectorises it): byte by byte it was ~8 instructions a byte of every request.
fn unmask(data: &mut [u8], mask: [u8; 4]) {
    let key = u64::from_ne_bytes([
        mask[0], mask[1], mask[2], mask[3], mask[0], mask[1], mask[2], mask[3],
    ]);
    let mut chunks = data.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(word) ^ key).to_ne_bytes());
    }
    // The tail starts at a multiple of 8, so of 4: the key starts over.
    for (byte, m) in chunks.into_remainder().iter_mut().zip(mask.iter().cycle()) {
        *byte ^= m;
    }
}

/// A close frame's code and reason (`None`: a close without a body).
pub(crate) fn close_of(payload: &[u8]) -> Option<CloseFrame> {
    let (code, reason) = payload.split_first_chunk::<2>()?;
    Some(CloseFrame {
        code: CloseCode::from(u16::from_be_bytes(*code)),
        reason: String::from_utf8_lossy(reason).into_owned().into(),
    })
}

/// A text frame the proxy sends; `masked` toward the upstream (a client's frames are masked).
pub(crate) fn text_frame(text: &str, masked: bool) -> Vec<u8> {
    encode(
        Frame::message(text.to_owned(), OpCode::Data(Data::Text), true),
        masked,
    )
}

/// A close frame the proxy sends.
pub(crate) fn close_frame(close: CloseFrame, masked: bool) -> Vec<u8> {
    encode(Frame::close(Some(close)), masked)
}

fn encode(mut frame: Frame, masked: bool) -> Vec<u8> {
    if masked {
        frame.header_mut().mask = Some(rand::random());
    }
    let mut out = Vec::with_capacity(frame.len());
    // Writing into a Vec cannot fail.
    let _ = frame.format(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(buf: &[u8]) -> Vec<WireFrame> {
        let mut at = 0;
        let mut frames = Vec::new();
        while let Ok(Scan::Frame(f)) = frame_at(buf, at, 1 << 20) {
            at = f.bytes.end;
            frames.push(f);
        }
        frames
    }

    #[test]
    fn frames_written_here_read_back_masked_or_not() {
        for masked in [false, true] {
            let mut buf = text_frame("héllo, wörld", masked);
            buf.extend(close_frame(
                CloseFrame {
                    code: CloseCode::Away,
                    reason: "bye".into(),
                },
                masked,
            ));
            let frames = parse_all(&buf);
            assert_eq!(frames.len(), 2);
            assert_eq!(frames[0].mask.is_some(), masked);
            assert_eq!(frames[0].opcode, OpCode::Data(Data::Text));
            assert_eq!(payload(&buf, &frames[0]), "héllo, wörld".as_bytes());
            let close = close_of(&payload(&buf, &frames[1])).unwrap();
            assert_eq!(u16::from(close.code), 1001);
            assert_eq!(close.reason.as_str(), "bye");
            assert_eq!(frames[1].bytes.end, buf.len());
        }
    }

    #[test]
    fn a_cut_frame_is_partial_and_says_how_much_it_needs() {
        let buf = text_frame(&"x".repeat(300), true);
        for cut in [1, 2, 5, 100, buf.len() - 1] {
            match frame_at(&buf[..cut], 0, 1 << 20).unwrap() {
                Scan::Partial { needs } => assert!(needs > cut, "{cut}: {needs}"),
                Scan::Frame(f) => panic!("{cut}: {f:?}"),
            }
        }
        assert!(matches!(frame_at(&buf, 0, 1 << 20), Ok(Scan::Frame(_))));
    }

    #[test]
    fn an_oversized_frame_is_refused_from_its_header() {
        let buf = text_frame(&"x".repeat(300), false);
        assert!(matches!(
            frame_at(&buf[..4], 0, 299),
            Err(WireError::Oversized { size: 300 })
        ));
        assert!(matches!(frame_at(&buf, 0, 300), Ok(Scan::Frame(_))));
    }

    #[test]
    fn a_reserved_opcode_is_invalid() {
        assert!(matches!(
            frame_at(&[0x83, 0x00], 0, 10),
            Err(WireError::Invalid(_))
        ));
    }

    #[test]
    fn unmasking_matches_the_rfc_byte_by_byte() {
        let mask = [0x12, 0x34, 0x56, 0x78];
        for len in [0, 1, 3, 7, 8, 9, 15, 16, 17, 100] {
            let plain: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let mut data = plain.clone();
            unmask(&mut data, mask);
            let want: Vec<u8> = plain
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ mask[i % 4])
                .collect();
            assert_eq!(data, want, "{len}");
        }
    }

    #[test]
    fn a_close_without_a_body_has_no_code() {
        assert!(close_of(&[]).is_none());
    }
}
