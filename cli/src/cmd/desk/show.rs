//! A report and its conversation in words for an officer, and in JSON for scripts: one place,
//! so that the list, `show`, the inbox and the other commands say the same thing the same way.

use serde_json::json;
use tipline_core::desk::{AttachmentState, MessageRecord, ReportRecord};
use tipline_core::report::{Place, When};

/// The list of reports, one line each.
pub(super) fn list(reports: &[ReportRecord], unit_id: &str) -> String {
    if reports.is_empty() {
        return format!("no reports in the store of {unit_id}");
    }
    reports
        .iter()
        .map(|r| {
            format!(
                "{}  {}  {:<11}  {:<20} {}",
                &r.report_id.to_string()[..12],
                r.received_at.format("%Y-%m-%d %H:%M"),
                r.status.name(),
                r.report.category,
                first_line(&r.report.text, 50)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first line of `text`, cut to `max` characters.
fn first_line(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() > max {
        format!("{}…", line.chars().take(max).collect::<String>())
    } else {
        line.to_owned()
    }
}

/// The JSON of a report's summary: the fields the list shows.
pub(super) fn summary_json(record: &ReportRecord) -> serde_json::Value {
    json!({
        "report_id": record.report_id.to_string(),
        "case_id": record.case_id.to_string(),
        "received_at": record.received_at,
        "status": record.status.name(),
        "category": record.report.category,
        "acked": record.acked,
        "transferred_to": record.transfer.as_ref().filter(|t| t.done).map(|t| t.to_unit.clone()),
    })
}

/// The JSON of a whole report record, with each attachment's state.
pub(super) fn record_json(record: &ReportRecord) -> serde_json::Value {
    let mut value = summary_json(record);
    value["report"] = json!(record.report);
    value["attachments"] = json!(record
        .report
        .attachments
        .iter()
        .zip(&record.attachments)
        .map(|(info, state)| json!({
            "index": info.index,
            "name": info.name,
            "media_type": info.media_type,
            "size": info.size,
            "sha256": hex::encode(info.sha256),
            "state": state,
            "verified": *state == AttachmentState::Saved,
        }))
        .collect::<Vec<_>>());
    value
}

/// A report as a desk officer reads it.
pub fn describe(record: &ReportRecord) -> String {
    let r = &record.report;
    let mut s = format!(
        "report {} · case {} · received {} · status {}\n",
        record.report_id,
        record.case_id,
        record.received_at.format("%Y-%m-%d %H:%M:%S UTC"),
        record.status.name()
    );
    s.push_str(&format!("  category {} · language {}\n", r.category, r.language));
    s.push_str(&format!("  text: {}\n", r.text));
    match &r.when {
        Some(When::Exact { at }) => s.push_str(&format!("  when: {}\n", at.format("%Y-%m-%d %H:%M UTC"))),
        Some(When::Between { from, to }) => s.push_str(&format!(
            "  when: between {} and {}\n",
            from.format("%Y-%m-%d %H:%M"),
            to.format("%Y-%m-%d %H:%M UTC")
        )),
        None => {}
    }
    match &r.place {
        Some(Place::Blurred {
            latitude,
            longitude,
            precision,
        }) => s.push_str(&format!(
            "  where: {latitude:.5}, {longitude:.5} (blurred to {precision:?})\n"
        )),
        Some(Place::Described { text }) => s.push_str(&format!("  where: {text}\n")),
        None => {}
    }
    for person in &r.people {
        s.push_str(&format!(
            "  person: {}{}\n",
            person
                .name
                .as_deref()
                .map(|n| format!("{n}: "))
                .unwrap_or_default(),
            person.description
        ));
    }
    if let Some(contact) = &r.contact {
        let parts: Vec<&str> = [&contact.name, &contact.phone, &contact.email]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        s.push_str(&format!("  contact: {}\n", parts.join(", ")));
    }
    for (info, state) in r.attachments.iter().zip(&record.attachments) {
        let state = match state {
            AttachmentState::Saved => "saved, SHA-256 verified".to_owned(),
            AttachmentState::Pending => "still uploading".to_owned(),
            AttachmentState::Invalid { reason } => format!("refused: {reason}"),
        };
        s.push_str(&format!(
            "  attachment {}: {} ({}, {} bytes) — {state}\n",
            info.index, info.name, info.media_type, info.size
        ));
    }
    if let Some(t) = &record.transfer {
        s.push_str(&format!(
            "  transferred to {} at {}{}\n",
            t.to_unit,
            t.at.format("%Y-%m-%d %H:%M UTC"),
            if t.done {
                ""
            } else {
                " (uploads unfinished: run transfer again)"
            }
        ));
    }
    s.trim_end().to_owned()
}

/// A conversation, one line per message.
pub fn conversation(messages: &[MessageRecord]) -> String {
    if messages.is_empty() {
        return "no messages in this case yet".into();
    }
    messages
        .iter()
        .map(|m| {
            let who = if m.from_reporter {
                "reporter"
            } else {
                m.unit_id.as_str()
            };
            let when = m
                .sent_at
                .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_else(|| "-".into());
            let text = m.text.clone().unwrap_or_else(|| {
                if m.from_reporter {
                    "(sealed to another unit)".into()
                } else {
                    "(a reply sealed to the reporter)".into()
                }
            });
            format!("#{} {when} {who}: {text}", m.seq)
        })
        .collect::<Vec<_>>()
        .join("\n")
}
