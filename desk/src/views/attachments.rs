//! Serving a report's attachments to signed-in officers, safely: the desk looks at the bytes
//! (not at the name or type the reporter's phone gave) and shows inline only JPEG, PNG, GIF and
//! WebP images, MP4 and WebM video and MP3, Ogg and WAV audio. Everything else (SVG, HTML, PDF,
//! anything unknown) is only ever a download as `application/octet-stream`, so nothing a
//! reporter sends can run in the desk's origin.

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tipline_core::desk::{AttachmentState, DeskStore};
use tipline_core::report::ReportId;
use tokio::sync::mpsc;

use super::report::report_id;
use super::Officer;
use crate::audit::AuditEntry;
use crate::error::{DeskError, Result};
use crate::state::AppState;

/// `/reports/{id}/attachments/{index}` (shown inline when safe) and `.../download`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/reports/{id}/attachments/{index}", get(inline))
        .route("/reports/{id}/attachments/{index}/download", get(download))
}

/// How an attachment may be shown, by its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// An image, with its type.
    Image(&'static str),
    /// A video, with its type.
    Video(&'static str),
    /// Audio, with its type.
    Audio(&'static str),
    /// Only as a download.
    Download,
}

impl Shown {
    /// The content type it is served with.
    pub fn content_type(self) -> &'static str {
        match self {
            Shown::Image(t) | Shown::Video(t) | Shown::Audio(t) => t,
            Shown::Download => "application/octet-stream",
        }
    }

    pub(crate) fn extension(self) -> &'static str {
        match self.content_type() {
            "image/jpeg" => "jpg",
            "image/png" => "png",
            "image/gif" => "gif",
            "image/webp" => "webp",
            "video/mp4" => "mp4",
            "video/webm" => "webm",
            "audio/mpeg" => "mp3",
            "audio/ogg" => "ogg",
            "audio/wav" => "wav",
            _ => "bin",
        }
    }
}

/// What the first bytes of a file say it is.
pub fn sniff(head: &[u8]) -> Shown {
    let at = |offset: usize, magic: &[u8]| head.get(offset..offset + magic.len()) == Some(magic);
    if at(0, &[0xff, 0xd8, 0xff]) {
        Shown::Image("image/jpeg")
    } else if at(0, b"\x89PNG\r\n\x1a\n") {
        Shown::Image("image/png")
    } else if at(0, b"GIF87a") || at(0, b"GIF89a") {
        Shown::Image("image/gif")
    } else if at(0, b"RIFF") && at(8, b"WEBP") {
        Shown::Image("image/webp")
    } else if at(4, b"ftyp") {
        Shown::Video("video/mp4")
    } else if at(0, &[0x1a, 0x45, 0xdf, 0xa3]) {
        Shown::Video("video/webm")
    } else if at(0, b"ID3") || (head.len() >= 2 && head[0] == 0xff && head[1] & 0xe0 == 0xe0) {
        Shown::Audio("audio/mpeg")
    } else if at(0, b"OggS") {
        Shown::Audio("audio/ogg")
    } else if at(0, b"RIFF") && at(8, b"WAVE") {
        Shown::Audio("audio/wav")
    } else {
        Shown::Download
    }
}

/// Keeps the first bytes written and then stops the reader.
struct Head(Vec<u8>);

impl std::io::Write for Head {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let room = 16 - self.0.len();
        self.0.extend_from_slice(&buf[..room.min(buf.len())]);
        if self.0.len() >= 16 {
            return Err(std::io::Error::other("enough"));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// How a stored attachment may be shown, from its first bytes.
pub fn sniff_stored(store: &DeskStore, report_id: ReportId, index: u16) -> Shown {
    let mut head = Head(Vec::new());
    // Stopping early is an error of the reader by design: the bytes kept are what counts.
    let _ = store.read_attachment(report_id, index, &mut head);
    sniff(&head.0)
}

fn safe_name(report: ReportId, index: u16, shown: Shown) -> String {
    let id = report.to_string();
    format!("report-{}-{index}.{}", &id[..8], shown.extension())
}

/// The one byte range asked for (`Range: bytes=a-b`, `bytes=a-` or `bytes=-n`, RFC 9110
/// section 14.1.2), as first and last byte within `size`. `Ok(None)`: no range, or several
/// (answered whole, which RFC 9110 allows); `Err(())`: a range the file cannot satisfy.
fn byte_range(headers: &HeaderMap, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(value) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let (first, last) = spec.split_once('-').ok_or(())?;
    let number = |text: &str| text.trim().parse::<u64>().map_err(|_| ());
    if size == 0 {
        return Err(());
    }
    let (start, end) = match (first.trim(), last.trim()) {
        ("", "") => return Err(()),
        ("", suffix) => {
            let n = number(suffix)?;
            if n == 0 {
                return Err(());
            }
            (size.saturating_sub(n), size - 1)
        }
        (first, "") => (number(first)?, size - 1),
        (first, last) => (number(first)?, number(last)?.min(size - 1)),
    };
    if start > end || start >= size {
        return Err(());
    }
    Ok(Some((start, end)))
}

async fn serve(
    state: AppState,
    officer: Officer,
    id: String,
    index: u16,
    download: bool,
    headers: HeaderMap,
) -> Result<Response> {
    let id = report_id(&id)?;
    let record = state
        .store()
        .report(id)?
        .ok_or_else(|| DeskError::NotFound("report".into()))?;
    let position = record
        .report
        .attachments
        .iter()
        .position(|a| a.index == index)
        .ok_or_else(|| DeskError::NotFound("attachment".into()))?;
    // A stored copy was checked against this size and its SHA-256 when it was saved.
    let size = record.report.attachments[position].size;
    if record.attachments.get(position) != Some(&AttachmentState::Saved) {
        return Err(DeskError::NotFound("a stored copy of this attachment".into()));
    }
    let Ok(range) = byte_range(&headers, size) else {
        return Ok((
            StatusCode::RANGE_NOT_SATISFIABLE,
            [(header::CONTENT_RANGE, format!("bytes */{size}"))],
        )
            .into_response());
    };
    // A player asks for many ranges of one file: the viewing is recorded at its start, and a
    // range asked for otherwise is recorded unless this officer's viewing of the file was.
    // Nothing is served unrecorded.
    state.audit_reading(
        AuditEntry::now(Some(&officer.account.name), "attachment.view")
            .target(id.to_string())
            .detail(index.to_string()),
        range.is_none_or(|(start, _)| start == 0),
    )?;
    let shown = sniff_stored(state.store(), id, index);
    let (content_type, disposition) = match (shown, download) {
        (Shown::Download, _) => (Shown::Download.content_type(), "attachment"),
        (_, true) => (shown.content_type(), "attachment"),
        (_, false) => (shown.content_type(), "inline"),
    };
    let disposition = format!("{disposition}; filename=\"{}\"", safe_name(id, index, shown));
    let (status, start, end) = match range {
        Some((start, end)) => (StatusCode::PARTIAL_CONTENT, start, end),
        None => (StatusCode::OK, 0, size.saturating_sub(1)),
    };
    let length = if size == 0 { 0 } else { end - start + 1 };
    let mut response = (
        status,
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            // A file from a reporter gets no rights at all, even when opened directly.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; sandbox".to_owned(),
            ),
            (header::CONTENT_LENGTH, length.to_string()),
            (header::ACCEPT_RANGES, "bytes".to_owned()),
        ],
        stream(state, id, index, start, length),
    )
        .into_response();
    if range.is_some() {
        if let Ok(value) = format!("bytes {start}-{end}/{size}").parse() {
            response.headers_mut().insert(header::CONTENT_RANGE, value);
        }
    }
    Ok(response)
}

/// Pieces of plaintext on their way from the store to the browser.
type Pieces = mpsc::Sender<Result<Bytes, std::io::Error>>;

/// Hands what the store writes to the answer's body, a piece at a time: the `left` bytes after
/// the first `skip`, then stops the reader.
struct ToBody {
    pieces: Pieces,
    skip: u64,
    left: u64,
}

impl std::io::Write for ToBody {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut piece = buf;
        let skipped = usize::try_from(self.skip).unwrap_or(usize::MAX).min(piece.len());
        self.skip -= skipped as u64;
        piece = &piece[skipped..];
        let take = usize::try_from(self.left).unwrap_or(usize::MAX).min(piece.len());
        if take > 0 {
            self.pieces
                .blocking_send(Ok(Bytes::copy_from_slice(&piece[..take])))
                .map_err(|_| std::io::Error::other("the browser went away"))?;
            self.left -= take as u64;
        }
        if self.left == 0 {
            return Err(std::io::Error::other("the range is complete"));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `length` bytes of the attachment's plaintext from `start`, as a body, opened chunk by chunk
/// as the browser reads it: a video never sits whole in the desk's memory.
fn stream(state: AppState, id: ReportId, index: u16, start: u64, length: u64) -> Body {
    let (pieces, mut receiver) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    if length == 0 {
        return Body::empty();
    }
    tokio::task::spawn_blocking(move || {
        let mut out = ToBody {
            pieces: pieces.clone(),
            skip: start,
            left: length,
        };
        let result = state.store().read_attachment(id, index, &mut out);
        // Stopping the reader once the range is sent is how a range ends; anything else that
        // leaves bytes unsent is a failure the browser must see.
        if out.left > 0 {
            if let Err(e) = result {
                tracing::warn!(error = %e, "an attachment could not be read from the store");
            }
            let _ = pieces.blocking_send(Err(std::io::Error::other("the stored copy is unreadable")));
        }
    });
    Body::from_stream(futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx)))
}

async fn inline(
    State(state): State<AppState>,
    officer: Officer,
    Path((id, index)): Path<(String, u16)>,
    headers: HeaderMap,
) -> Result<Response> {
    serve(state, officer, id, index, false, headers).await
}

async fn download(
    State(state): State<AppState>,
    officer: Officer,
    Path((id, index)): Path<(String, u16)>,
    headers: HeaderMap,
) -> Result<Response> {
    serve(state, officer, id, index, true, headers).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(range: &str, size: u64) -> Result<Option<(u64, u64)>, ()> {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, range.parse().unwrap());
        byte_range(&headers, size)
    }

    #[test]
    fn test_byte_ranges() {
        assert_eq!(byte_range(&HeaderMap::new(), 10), Ok(None));
        assert_eq!(ask("bytes=0-", 10), Ok(Some((0, 9))));
        assert_eq!(ask("bytes=2-4", 10), Ok(Some((2, 4))));
        assert_eq!(ask("bytes=5-100", 10), Ok(Some((5, 9))));
        assert_eq!(ask("bytes=-3", 10), Ok(Some((7, 9))));
        assert_eq!(ask("bytes=-30", 10), Ok(Some((0, 9))));
        assert_eq!(ask("bytes=0-1,4-5", 10), Ok(None));
        assert_eq!(ask("items=0-1", 10), Ok(None));
        for bad in [
            "bytes=10-",
            "bytes=4-2",
            "bytes=-0",
            "bytes=-",
            "bytes=x-1",
            "bytes=0",
        ] {
            assert_eq!(ask(bad, 10), Err(()), "{bad}");
        }
        assert_eq!(ask("bytes=0-", 0), Err(()));
    }

    #[test]
    fn test_only_known_media_is_shown() {
        assert_eq!(sniff(b"\xff\xd8\xff\xe0rest"), Shown::Image("image/jpeg"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Shown::Image("image/png"));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Shown::Image("image/webp"));
        assert_eq!(sniff(b"RIFF\0\0\0\0WAVEfmt "), Shown::Audio("audio/wav"));
        assert_eq!(sniff(b"\0\0\0\x18ftypmp42"), Shown::Video("video/mp4"));
        assert_eq!(sniff(b"OggS\0\x02"), Shown::Audio("audio/ogg"));
        for hostile in [
            &b"<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"/>"[..],
            b"<!DOCTYPE html><script>alert(1)</script>",
            b"%PDF-1.7",
            b"",
            b"\xff",
        ] {
            assert_eq!(sniff(hostile), Shown::Download);
        }
    }
}
