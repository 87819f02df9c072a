//! A case exported for the case file: one zip with a printable page (`report.html`: every field,
//! the conversation, the internal notes, the status history, the labels and assignee), the same
//! as JSON (`report.json`), and each attachment the desk holds, checked against the SHA-256 the
//! reporter's device sealed with it before it is written (`attachments/`, with `SHA256SUMS`).
//! The zip is written as the browser reads it, so a large video never sits whole in memory. The
//! export is in the audit log. The page is static: no script, and everything from the report
//! escaped as on the desk's own pages.

use std::io::Write;

use askama::Template;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use tipline_core::desk::{AttachmentState, MessageRecord, ReportRecord};
use tipline_core::encoding::with_hex;
use tipline_core::report::{AttachmentInfo, Report};
use tokio::sync::mpsc;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use super::attachments::{sniff_stored, Shown};
use super::report::{record, report_id, view, ReportView};
use super::Officer;
use crate::audit::AuditEntry;
use crate::error::Result;
use crate::l10n::Tr;
use crate::state::AppState;
use crate::team::CaseData;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/reports/{id}/export", get(export))
}

#[derive(Template)]
#[template(path = "export.html")]
struct ExportPage {
    tr: Tr,
    v: ReportView,
    files: Vec<(String, String)>,
    exported_by: String,
    exported_at: String,
}

/// `report.json`: what the page shows, as data.
#[derive(Serialize)]
struct ExportJson<'a> {
    report_id: String,
    case_id: String,
    received_at: String,
    status: &'static str,
    report: &'a Report,
    team: &'a CaseData,
    messages: &'a [MessageRecord],
    attachments: &'a [(String, String)],
}

/// The name of an attachment in the zip: its position, the reporter's name without its
/// extension (letters, digits, `-` and `_` only, at most 60 characters), and the extension of
/// what its bytes are (`.bin` for anything the desk does not show), never the reporter's own:
/// an `evidence.html` or `invoice.js` must not open as a page or run as a script when an
/// officer opens the case folder. The reporter's name stays in the page and the JSON, as text.
fn zip_name(index: u16, name: &str, shown: Shown) -> String {
    let file = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let stem = file.rsplit_once('.').map_or(file, |(stem, _)| stem);
    let cleaned: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(60)
        .collect();
    let cleaned = cleaned.trim_matches('_');
    let stem = if cleaned.is_empty() { "file" } else { cleaned };
    format!("attachments/{index:02}-{stem}.{}", shown.extension())
}

/// The attachments to export: saved ones only, each with its file name in the zip.
fn exported_files(state: &AppState, record: &ReportRecord) -> Vec<(AttachmentInfo, String)> {
    record
        .report
        .attachments
        .iter()
        .enumerate()
        .filter(|(i, _)| record.attachments.get(*i) == Some(&AttachmentState::Saved))
        .map(|(_, a)| {
            let shown = sniff_stored(state.store(), record.report_id, a.index);
            (a.clone(), zip_name(a.index, &a.name, shown))
        })
        .collect()
}

async fn export(State(state): State<AppState>, officer: Officer, Path(id): Path<String>) -> Result<Response> {
    let id = report_id(&id)?;
    let record = record(&state, id)?;
    let case = state.case(&id);
    let messages = state.store().messages(id)?;
    let files = exported_files(&state, &record);
    let sums: Vec<(String, String)> = files
        .iter()
        .map(|(info, name)| (name.clone(), with_hex(&info.sha256, str::to_owned)))
        .collect();
    let page = ExportPage {
        v: view(&state, &officer.tr, &record, &case)?,
        tr: officer.tr.clone(),
        files: sums.clone(),
        exported_by: officer.account.name.clone(),
        exported_at: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
    }
    .render()?;
    let json = serde_json::to_vec_pretty(&ExportJson {
        report_id: id.to_string(),
        case_id: record.case_id.to_string(),
        received_at: record.received_at.to_rfc3339(),
        status: record.status.name(),
        report: &record.report,
        team: &case,
        messages: &messages,
        attachments: &sums,
    })?;
    state.audit_or_fail(
        AuditEntry::now(Some(&officer.account.name), "report.exported").target(id.to_string()),
    )?;
    let (pieces, mut receiver) = mpsc::channel::<std::result::Result<Bytes, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || {
        let out = ToBody(pieces.clone());
        if let Err(e) = write_zip(&state, &record, out, page.as_bytes(), &json, &files, &sums) {
            tracing::warn!(error = %e, "a case export stopped");
            let _ = pieces.blocking_send(Err(std::io::Error::other("the export could not be completed")));
        }
    });
    let body = Body::from_stream(futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx)));
    Ok((
        [
            (CONTENT_TYPE, "application/zip".to_owned()),
            (
                CONTENT_DISPOSITION,
                format!("attachment; filename=\"case-{}.zip\"", &id.to_string()[..8]),
            ),
        ],
        body,
    )
        .into_response())
}

/// Writes the zip: the page, the JSON, each attachment after its SHA-256 checked, the sums.
/// Fails with what went wrong, for the desk's log.
fn write_zip(
    state: &AppState,
    record: &ReportRecord,
    out: ToBody,
    page: &[u8],
    json: &[u8],
    files: &[(AttachmentInfo, String)],
    sums: &[(String, String)],
) -> std::result::Result<(), String> {
    let text = |e: &dyn std::fmt::Display| e.to_string();
    let mut zip = ZipWriter::new_stream(out);
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Stored)
        .large_file(true);
    zip.start_file("report.html", options).map_err(|e| text(&e))?;
    zip.write_all(page).map_err(|e| text(&e))?;
    zip.start_file("report.json", options).map_err(|e| text(&e))?;
    zip.write_all(json).map_err(|e| text(&e))?;
    for (info, name) in files {
        // Checked first, written second: a damaged copy stops the export instead of reaching
        // the case file.
        let mut hasher = HashOnly(ring::digest::Context::new(&ring::digest::SHA256), 0);
        state
            .store()
            .read_attachment(record.report_id, info.index, &mut hasher)
            .map_err(|e| text(&e))?;
        if hasher.1 != info.size || hasher.0.finish().as_ref() != info.sha256 {
            return Err(format!("attachment {} does not match its SHA-256", info.index));
        }
        zip.start_file(name.as_str(), options).map_err(|e| text(&e))?;
        state
            .store()
            .read_attachment(record.report_id, info.index, &mut zip)
            .map_err(|e| text(&e))?;
    }
    zip.start_file("SHA256SUMS", options).map_err(|e| text(&e))?;
    for (name, sum) in sums {
        writeln!(zip, "{sum}  {name}").map_err(|e| text(&e))?;
    }
    zip.finish().map_err(|e| text(&e))?;
    Ok(())
}

/// Counts and hashes what is written, keeping nothing.
struct HashOnly(ring::digest::Context, u64);

impl Write for HashOnly {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        self.1 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Sends what is written to the answer's body; fails once the browser has gone.
struct ToBody(mpsc::Sender<std::result::Result<Bytes, std::io::Error>>);

impl Write for ToBody {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the browser went away"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_zip_names_take_their_extension_from_the_content() {
        let jpeg = Shown::Image("image/jpeg");
        assert_eq!(zip_name(0, "photo 1.jpg", jpeg), "attachments/00-photo_1.jpg");
        assert_eq!(
            zip_name(1, "../../etc/passwd", Shown::Download),
            "attachments/01-passwd.bin"
        );
        assert_eq!(
            zip_name(2, "evidence.html", Shown::Download),
            "attachments/02-evidence.bin"
        );
        assert_eq!(zip_name(3, "a.js.jpg", jpeg), "attachments/03-a_js.jpg");
        assert_eq!(zip_name(4, "x.svg", Shown::Download), "attachments/04-x.bin");
        assert_eq!(
            zip_name(5, "\u{202e}gpj.exe", Shown::Download),
            "attachments/05-gpj.bin"
        );
        assert_eq!(zip_name(6, "..", Shown::Download), "attachments/06-file.bin");
        assert_eq!(zip_name(7, "", Shown::Download), "attachments/07-file.bin");
        assert_eq!(
            zip_name(12, &"a".repeat(500), jpeg).len(),
            "attachments/12-".len() + 60 + 4
        );
    }
}
