//! A reader of server-sent events (the WHATWG "event stream" format) for the desk's live inbox,
//! fed with bytes as they arrive. Lines and events are bounded, so a broken or hostile server
//! cannot make the desk buffer without limit.

use crate::{Error, Result};

/// Longest line the reader accepts, in bytes (a report event carries a whole envelope in
/// base64url: about 1.4 MB at most).
pub const MAX_LINE: usize = 2 * 1024 * 1024;
/// Largest `data` of one event, in bytes.
pub const MAX_EVENT: usize = 2 * 1024 * 1024;

/// One event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field; `message` when the server named none.
    pub event: String,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
    /// The `id:` field, if any.
    pub id: Option<String>,
}

/// Turns bytes into events.
#[derive(Debug, Default)]
pub struct SseParser {
    buf: Vec<u8>,
    event: String,
    data: String,
    id: Option<String>,
    has_data: bool,
    /// How much of the unfinished line in `buf` earlier pushes looked through and found no
    /// line end in: a long line (a large envelope) arriving in many small reads is scanned
    /// once, not once per read.
    scanned: usize,
}

fn too_long(what: &str) -> Error {
    Error::invalid("event stream", format!("{what} longer than {MAX_LINE} bytes"))
}

impl SseParser {
    /// A parser at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds `bytes`; returns the events they complete, in order.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>> {
        self.buf.extend_from_slice(bytes);
        let mut events = Vec::new();
        let mut start = 0;
        loop {
            let rest = &self.buf[start..];
            let from = self.scanned.min(rest.len());
            let Some(end) = rest[from..]
                .iter()
                .position(|b| *b == b'\n' || *b == b'\r')
                .map(|i| from + i)
            else {
                self.scanned = rest.len();
                break;
            };
            // A CR at the very end may be the first half of CRLF: wait for the next byte.
            let crlf = rest[end] == b'\r' && rest.get(end + 1) == Some(&b'\n');
            if rest[end] == b'\r' && end + 1 == rest.len() {
                self.scanned = end;
                break;
            }
            self.scanned = 0;
            let line = String::from_utf8_lossy(&rest[..end]).into_owned();
            start += end + if crlf { 2 } else { 1 };
            if line.len() > MAX_LINE {
                return Err(too_long("a line"));
            }
            if let Some(event) = self.line(&line)? {
                events.push(event);
            }
        }
        self.buf.drain(..start);
        if self.buf.len() > MAX_LINE {
            return Err(too_long("a line"));
        }
        Ok(events)
    }

    fn line(&mut self, line: &str) -> Result<Option<SseEvent>> {
        if line.is_empty() {
            return Ok(self.dispatch());
        }
        if line.starts_with(':') {
            return Ok(None);
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = value.to_owned(),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
                if self.data.len() > MAX_EVENT {
                    return Err(Error::invalid(
                        "event stream",
                        format!("an event larger than {MAX_EVENT} bytes"),
                    ));
                }
            }
            "id" if !value.contains('\0') => self.id = Some(value.to_owned()),
            // `retry` and unknown fields are ignored, as the format asks.
            _ => {}
        }
        Ok(None)
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = std::mem::take(&mut self.event);
        let data = std::mem::take(&mut self.data);
        let had_data = std::mem::replace(&mut self.has_data, false);
        if !had_data {
            return None;
        }
        Some(SseEvent {
            event: if event.is_empty() { "message".into() } else { event },
            data,
            id: self.id.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_events_split_anywhere_come_out_whole() {
        // Given an event stream with a comment, two events and CRLF line ends,
        let stream = b": keep-alive\n\nevent: report\nid: 7\ndata: {\"a\":1}\n\r\nevent: message\r\ndata: x\r\ndata: y\r\n\r\n";
        // when it arrives one byte at a time,
        let mut parser = SseParser::new();
        let mut events = Vec::new();
        for byte in stream {
            events.extend(parser.push(&[*byte]).unwrap());
        }
        // then both events come out, with their fields.
        assert_eq!(
            events,
            vec![
                SseEvent {
                    event: "report".into(),
                    data: "{\"a\":1}".into(),
                    id: Some("7".into())
                },
                SseEvent {
                    event: "message".into(),
                    data: "x\ny".into(),
                    id: Some("7".into())
                },
            ]
        );
    }

    proptest::proptest! {
        /// However the stream is cut into reads (a long line over many small ones, a CRLF
        /// split between two), the same events come out as from one read.
        #[test]
        fn test_any_cut_gives_the_same_events(
            cuts in proptest::collection::vec(1usize..700, 1..40),
            long in 1usize..3000,
        ) {
            let mut stream = b"event: report\r\nid: 1\r\ndata: ".to_vec();
            stream.extend(std::iter::repeat_n(b'x', long));
            stream.extend_from_slice(b"\r\n\r\n: ping\ndata: a\rdata: b\r\r\ndata: ");
            stream.extend(std::iter::repeat_n(b'y', long / 2));
            stream.extend_from_slice(b"\n\n");
            let whole = SseParser::new().push(&stream).unwrap();
            proptest::prop_assert_eq!(whole.len(), 3);
            let mut parser = SseParser::new();
            let mut events = Vec::new();
            let mut rest = &stream[..];
            for cut in cuts.iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let (now, later) = rest.split_at((*cut).min(rest.len()));
                events.extend(parser.push(now).unwrap());
                rest = later;
            }
            proptest::prop_assert_eq!(events, whole);
        }
    }

    #[test]
    fn test_overlong_lines_are_refused() {
        let mut parser = SseParser::new();
        let long = vec![b'a'; MAX_LINE + 1];
        assert!(parser.push(&long).is_err());
        let mut parser = SseParser::new();
        let mut event = b"data: ".to_vec();
        event.extend(vec![b'a'; MAX_LINE - 10]);
        event.push(b'\n');
        parser.push(&event).unwrap();
        assert!(
            parser.push(&event).is_err(),
            "the event's data grew past the limit"
        );
    }
}
