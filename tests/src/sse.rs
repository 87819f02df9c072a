//! A small server-sent events reader (the `text/event-stream` format of the HTML standard):
//! `event:`, `id:` and `data:` lines, a blank line ends an event, lines starting with `:` are
//! comments (keep-alives). Enough for a desk's inbox stream.

use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt as _};

/// One event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, `message` if none was given.
    pub event: String,
    /// The `id:` field.
    pub id: Option<String>,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
}

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// Events from a response body. Cancel-safe: a [`EventStream::next_within`] that times out
/// loses nothing, the partial event stays buffered.
pub struct EventStream {
    body: ByteStream,
    buffer: Vec<u8>,
    event: Option<String>,
    id: Option<String>,
    data: Option<String>,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("buffered", &self.buffer.len())
            .finish_non_exhaustive()
    }
}

impl EventStream {
    /// Reads events from `response`'s body.
    pub fn new(response: reqwest::Response) -> Self {
        Self::from_stream(Box::pin(response.bytes_stream()))
    }

    /// Reads events from a stream of bytes.
    pub fn from_stream(body: ByteStream) -> Self {
        EventStream {
            body,
            buffer: Vec::new(),
            event: None,
            id: None,
            data: None,
        }
    }

    /// Takes one complete line out of the buffer and applies it; `Some` when it ended an event.
    fn take_line(&mut self) -> Option<Option<SseEvent>> {
        let end = self.buffer.iter().position(|b| *b == b'\n')?;
        let mut line: Vec<u8> = self.buffer.drain(..=end).collect();
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        let line = String::from_utf8_lossy(&line);
        if line.is_empty() {
            if self.data.is_none() && self.event.is_none() {
                return Some(None);
            }
            return Some(Some(SseEvent {
                event: self.event.take().unwrap_or_else(|| "message".to_owned()),
                id: self.id.take(),
                data: self.data.take().unwrap_or_default(),
            }));
        }
        if line.starts_with(':') {
            return Some(None);
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_ref(), ""),
        };
        match field {
            "event" => self.event = Some(value.to_owned()),
            "id" => self.id = Some(value.to_owned()),
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            _ => {}
        }
        Some(None)
    }

    /// The next event; `None` when the stream ended.
    pub async fn next(&mut self) -> anyhow::Result<Option<SseEvent>> {
        loop {
            while let Some(done) = self.take_line() {
                if let Some(event) = done {
                    return Ok(Some(event));
                }
            }
            match self.body.next().await {
                Some(chunk) => self.buffer.extend_from_slice(&chunk?),
                None => return Ok(None),
            }
        }
    }

    /// The next event, or `Ok(None)` if none comes within `timeout`; an error if the stream
    /// ended.
    pub async fn next_within(&mut self, timeout: Duration) -> anyhow::Result<Option<SseEvent>> {
        match tokio::time::timeout(timeout, self.next()).await {
            Ok(Ok(Some(event))) => Ok(Some(event)),
            Ok(Ok(None)) => anyhow::bail!("the event stream ended"),
            Ok(Err(e)) => Err(e),
            Err(_) => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream_of(chunks: &[&'static str]) -> EventStream {
        let items: Vec<reqwest::Result<Bytes>> = chunks
            .iter()
            .map(|c| Ok(Bytes::from_static(c.as_bytes())))
            .collect();
        EventStream::from_stream(Box::pin(futures_util::stream::iter(items)))
    }

    #[tokio::test]
    async fn test_events_split_across_chunks_and_comments() {
        // Given an event split mid-line, a keep-alive comment and a multi-line data field,
        let mut events = stream_of(&[
            "event: rep",
            "ort\nid: 1\ndata: {\"a\"",
            ":1}\n\n",
            ":\n\n",
            "data: x\r\ndata: y\r\n\r\n",
        ]);
        // then the events come out whole and the comment is skipped.
        let first = events.next().await.unwrap().unwrap();
        assert_eq!(first.event, "report");
        assert_eq!(first.id.as_deref(), Some("1"));
        assert_eq!(first.data, "{\"a\":1}");
        let second = events.next().await.unwrap().unwrap();
        assert_eq!(second.event, "message");
        assert_eq!(second.data, "x\ny");
        assert_eq!(events.next().await.unwrap(), None);
    }
}
