//! Writing a report's attachments out of the encrypted store, each checked against the size and
//! SHA-256 in the report before it is put in place.

use std::path::Path;

use anyhow::Context as _;
use serde_json::json;
use tipline_core::desk::{AttachmentState, Desk};

use crate::output::Output;

/// Writes the stored attachments of `report` to `dir` (created if need be); those not stored
/// are skipped with a note.
pub(super) fn export(desk: &Desk, report: &str, dir: &Path, out: &Output) -> anyhow::Result<()> {
    let record = desk.find(report)?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut written = Vec::new();
    for (info, state) in record.report.attachments.iter().zip(&record.attachments) {
        if *state != AttachmentState::Saved {
            out.note(&format!(
                "attachment {} ({}) is not stored: skipped",
                info.index, info.name
            ));
            continue;
        }
        let path = dir.join(format!("{}-{}", info.index, info.name));
        desk.store().export_attachment(record.report_id, info, &path)?;
        written.push(path);
    }
    out.result(
        || {
            written
                .iter()
                .map(|p| format!("wrote {} (SHA-256 verified)", p.display()))
                .collect::<Vec<_>>()
                .join("\n")
        },
        &json!({ "files": written }),
    )
}
