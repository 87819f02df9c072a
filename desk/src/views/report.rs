//! One report: every field the reporter gave, the place with its precision, the attachments
//! (photos shown, video and audio playable, each downloadable), the conversation with a reply
//! form, and the team's side: status and its history, labels, assignee, internal notes.
//! `/reports/{id}/live` answers the parts that change, for the page's script to refresh, and
//! `/reports/{id}/live/attachments` the attachments, once those still uploading are in.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::Utc;
use serde::Deserialize;
use tipline_core::desk::{AttachmentState, ReportRecord, Status};
use tipline_core::directory::SignedDirectory;
use tipline_core::message::CaseStatus;
use tipline_core::report::{Place, ReportId, When};

use super::attachments::{sniff_stored, Shown};
use super::inbox::statuses;
use super::{render, time, Me, Officer};
use crate::audit::AuditEntry;
use crate::error::{DeskError, Result};
use crate::l10n::Tr;
use crate::state::{AppState, ChangeKind};
use crate::team::{self, CaseData, Note, StatusChange};

/// Longest reply, in characters.
pub const MAX_REPLY: usize = 10_000;

/// `/reports/{id}` and its actions.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/reports/{id}", get(page))
        .route("/reports/{id}/live", get(live))
        .route("/reports/{id}/live/attachments", get(live_attachments))
        .route("/reports/{id}/status", post(set_status))
        .route("/reports/{id}/labels", post(add_label))
        .route("/reports/{id}/labels/remove", post(remove_label))
        .route("/reports/{id}/assign", post(assign))
        .route("/reports/{id}/notes", post(add_note))
        .route("/reports/{id}/reply", post(reply))
        .route("/reports/{id}/notice", post(notice))
        .route("/reports/{id}/sync", post(sync))
        .route("/reports/{id}/transfer", post(transfer))
}

/// A report id from the path, or not found.
pub fn report_id(text: &str) -> Result<ReportId> {
    ReportId::parse(text).map_err(|_| DeskError::NotFound("report".into()))
}

pub(super) fn record(state: &AppState, id: ReportId) -> Result<ReportRecord> {
    state
        .store()
        .report(id)?
        .ok_or_else(|| DeskError::NotFound("report".into()))
}

pub(super) struct PlaceView {
    pub(super) described: Option<String>,
    pub(super) latitude: String,
    pub(super) longitude: String,
    pub(super) precision: String,
}

pub(super) struct AttachmentView {
    pub(super) index: u16,
    pub(super) name: String,
    pub(super) media_type: String,
    pub(super) size: u64,
    pub(super) state: &'static str,
    pub(super) shown: &'static str,
}

pub(super) struct MessageView {
    pub(super) from_reporter: bool,
    pub(super) text: Option<String>,
    pub(super) sent: String,
    pub(super) unit: String,
}

pub(super) struct NoteView {
    pub(super) author: String,
    pub(super) at: String,
    pub(super) text: String,
}

pub(super) struct ChangeView {
    pub(super) by: String,
    pub(super) at: String,
    pub(super) from: String,
    pub(super) to: String,
}

/// What the report page shows.
pub(super) struct ReportView {
    pub(super) id: String,
    pub(super) short: String,
    pub(super) case_id: String,
    pub(super) category: String,
    pub(super) text: String,
    pub(super) language: String,
    pub(super) when: String,
    pub(super) place: Option<PlaceView>,
    pub(super) people: Vec<(String, String)>,
    pub(super) contact: Option<(String, String, String)>,
    pub(super) received: String,
    pub(super) stored: String,
    pub(super) acked: bool,
    pub(super) transfer: Option<String>,
    pub(super) status_name: &'static str,
    pub(super) status: String,
    pub(super) statuses: Vec<(&'static str, String)>,
    pub(super) attachments: Vec<AttachmentView>,
    pub(super) messages: Vec<MessageView>,
    pub(super) labels: Vec<String>,
    pub(super) notes: Vec<NoteView>,
    pub(super) assignee: String,
    pub(super) officers: Vec<String>,
    pub(super) history: Vec<ChangeView>,
}

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage {
    tr: Tr,
    me: Option<Me>,
    v: ReportView,
}

#[derive(Template)]
#[template(path = "report_live_only.html")]
struct ReportLive {
    tr: Tr,
    me: Option<Me>,
    v: ReportView,
}

#[derive(Template)]
#[template(path = "report_attachments.html")]
struct ReportAttachments {
    tr: Tr,
    v: ReportView,
}

fn when(tr: &Tr, when: Option<&When>) -> String {
    match when {
        None => String::new(),
        Some(When::Exact { at }) => time(at),
        Some(When::Between { from, to }) => {
            tr.args("report-between", &[("from", &time(from)), ("to", &time(to))])
        }
    }
}

pub(super) fn view(state: &AppState, tr: &Tr, record: &ReportRecord, case: &CaseData) -> Result<ReportView> {
    let report = &record.report;
    let status_label = |name: &str| tr.t(&format!("status-{name}"));
    let place = report.place.as_ref().map(|p| match p {
        Place::Described { text } => PlaceView {
            described: Some(text.clone()),
            latitude: String::new(),
            longitude: String::new(),
            precision: String::new(),
        },
        Place::Blurred {
            latitude,
            longitude,
            precision,
        } => PlaceView {
            described: None,
            latitude: format!("{latitude:.5}"),
            longitude: format!("{longitude:.5}"),
            precision: tr.t1("report-precision", "metres", &precision.metres().to_string()),
        },
    });
    let attachments = report
        .attachments
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let (state_name, shown) = match record.attachments.get(i) {
                Some(AttachmentState::Saved) => (
                    "saved",
                    match sniff_stored(state.store(), record.report_id, a.index) {
                        Shown::Image(_) => "image",
                        Shown::Video(_) => "video",
                        Shown::Audio(_) => "audio",
                        Shown::Download => "file",
                    },
                ),
                Some(AttachmentState::Invalid { .. }) => ("invalid", "none"),
                _ => ("pending", "none"),
            };
            AttachmentView {
                index: a.index,
                name: a.name.clone(),
                media_type: a.media_type.clone(),
                size: a.size,
                state: state_name,
                shown,
            }
        })
        .collect();
    let messages = state
        .store()
        .messages(record.report_id)?
        .into_iter()
        .map(|m| MessageView {
            from_reporter: m.from_reporter,
            text: m.text,
            sent: m.sent_at.as_ref().map(time).unwrap_or_default(),
            unit: m.unit_id,
        })
        .collect();
    let id = record.report_id.to_string();
    Ok(ReportView {
        short: id[..8].to_owned(),
        id,
        case_id: record.case_id.to_string(),
        category: state.categories.label(&report.category, tr.lang()),
        text: report.text.clone(),
        language: report.language.clone(),
        when: when(tr, report.when.as_ref()),
        place,
        people: report
            .people
            .iter()
            .map(|p| (p.name.clone().unwrap_or_default(), p.description.clone()))
            .collect(),
        contact: report.contact.as_ref().map(|c| {
            (
                c.name.clone().unwrap_or_default(),
                c.phone.clone().unwrap_or_default(),
                c.email.clone().unwrap_or_default(),
            )
        }),
        received: time(&record.received_at),
        stored: time(&record.stored_at),
        acked: record.acked,
        transfer: record.transfer.as_ref().map(|t| t.to_unit.clone()),
        status_name: record.status.name(),
        status: status_label(record.status.name()),
        statuses: statuses(tr),
        attachments,
        messages,
        labels: case.labels.clone(),
        notes: case
            .notes
            .iter()
            .map(|n| NoteView {
                author: n.author.clone(),
                at: time(&n.at),
                text: n.text.clone(),
            })
            .collect(),
        assignee: case.assignee.clone().unwrap_or_default(),
        officers: state
            .accounts()
            .into_iter()
            .filter(|a| !a.disabled)
            .map(|a| a.name)
            .collect(),
        history: case
            .history
            .iter()
            .map(|h| ChangeView {
                by: h.by.clone(),
                at: time(&h.at),
                from: status_label(&h.from),
                to: status_label(&h.to),
            })
            .collect(),
    })
}

async fn page(State(state): State<AppState>, officer: Officer, Path(id): Path<String>) -> Result<Response> {
    let id = report_id(&id)?;
    let record = record(&state, id)?;
    // Who read a report, and when, is part of the case file (the page's own live refreshes go
    // through `live` and are not counted again).
    state.audit_reading(opened(&officer, id), true)?;
    // Opening the report reads the reporter's follow-ups for the whole team.
    mark_read(&state, id)?;
    let case = state.case(&id);
    let v = view(&state, &officer.tr, &record, &case)?;
    render(&ReportPage {
        me: Some(officer.me()),
        tr: officer.tr,
        v,
    })
}

/// Marks the reporter's follow-ups of report `id` read for the whole team.
fn mark_read(state: &AppState, id: ReportId) -> Result<()> {
    let latest =
        state.with_index(|index, _| index.get(&id).and_then(|e| e.follow_ups.iter().max().copied()))?;
    if let Some(latest) = latest {
        if state.case(&id).read_seq < latest {
            state.update_case(id, |c| {
                c.read_seq = latest;
                Ok(())
            })?;
        }
    }
    Ok(())
}

/// The audit entry of `officer` reading report `id`.
fn opened(officer: &Officer, id: ReportId) -> AuditEntry {
    AuditEntry::now(Some(&officer.account.name), "report.opened").target(id.to_string())
}

async fn live(State(state): State<AppState>, officer: Officer, Path(id): Path<String>) -> Result<Response> {
    let id = report_id(&id)?;
    let record = record(&state, id)?;
    // Recorded unless this officer's opening of the report was: asked for directly, it shows
    // the conversation and the notes like the page does.
    state.audit_reading(opened(&officer, id), false)?;
    // The open page shows a follow-up that arrived while it was open: it is read.
    mark_read(&state, id)?;
    let v = view(&state, &officer.tr, &record, &state.case(&id))?;
    render(&ReportLive {
        me: Some(officer.me()),
        tr: officer.tr,
        v,
    })
}

/// The attachments of an open report page again: one still uploading when the page was drawn
/// is shown once the desk has it. Not counted as an opening either.
async fn live_attachments(
    State(state): State<AppState>,
    officer: Officer,
    Path(id): Path<String>,
) -> Result<Response> {
    let id = report_id(&id)?;
    let record = record(&state, id)?;
    state.audit_reading(opened(&officer, id), false)?;
    let v = view(&state, &officer.tr, &record, &state.case(&id))?;
    render(&ReportAttachments { tr: officer.tr, v })
}

fn back(id: ReportId) -> Response {
    Redirect::to(&format!("/reports/{id}")).into_response()
}

#[derive(Deserialize)]
struct StatusForm {
    status: String,
}

async fn set_status(
    State(state): State<AppState>,
    officer: Officer,
    Path(id): Path<String>,
    Form(form): Form<StatusForm>,
) -> Result<Response> {
    let id = report_id(&id)?;
    let status = Status::parse(&form.status).map_err(|_| DeskError::invalid("status", "unknown status"))?;
    let before = record(&state, id)?.status;
    if before == status {
        return Ok(back(id));
    }
    let by = officer.account.name.clone();
    state.audit_or_fail(
        AuditEntry::now(Some(&by), "report.status")
            .target(id.to_string())
            .detail(status.name()),
    )?;
    state.desk.set_status(&id.to_string(), status)?;
    state.update_case(id, |c| {
        c.history.push(StatusChange {
            by,
            at: Utc::now(),
            from: before.name().to_owned(),
            to: status.name().to_owned(),
        });
        Ok(())
    })?;
    Ok(back(id))
}

#[derive(Deserialize)]
struct LabelForm {
    label: String,
}

async fn add_label(
    State(state): State<AppState>,
    officer: Officer,
    Path(id): Path<String>,
    Form(form): Form<LabelForm>,
) -> Result<Response> {
    let id = report_id(&id)?;
    record(&state, id)?;
    let label = team::clean_label(&form.label)?;
    state.audit_or_fail(
        AuditEntry::now(Some(&officer.account.name), "report.label_add")
            .target(id.to_string())
            .detail(label.clone()),
    )?;
    state.update_case(id, |c| c.add_label(label))?;
    Ok(back(id))
}

async fn remove_label(
    State(state): State<AppState>,
    officer: Officer,
    Path(id): Path<String>,
    Form(form): Form<LabelForm>,
) -> Result<Response> {
    let id = report_id(&id)?;
    record(&state, id)?;
    let label = team::clean_label(&form.label)?;
    state.audit_or_fail(
        AuditEntry::now(Some(&officer.account.name), "report.label_remove")
            .target(id.to_string())
            .detail(label.clone()),
    )?;
    state.update_case(id, |c| Ok(c.remove_label(&label)))?;
    Ok(back(id))
}

#[derive(Deserialize)]
struct AssignForm {
    assignee: String,
}

async fn assign(
    State(state): State<AppState>,
    officer: Officer,
    Path(id): Path<String>,
    Form(form): Form<AssignForm>,
) -> Result<Response> {
    let id = report_id(&id)?;
    record(&state, id)?;
    let assignee = match form.assignee.trim() {
        "" => None,
        name => match state.account(name) {
            Some(a) if !a.disabled => Some(a.name),
            _ => return Err(DeskError::invalid("assignee", "no such enabled account")),
        },
    };
    state.audit_or_fail(
        AuditEntry::now(Some(&officer.account.name), "report.assign")
            .target(id.to_string())
            .detail(assignee.clone().unwrap_or_default()),
    )?;
    state.update_case(id, |c| {
        c.assignee = assignee;
        Ok(())
    })?;
    Ok(back(id))
}

#[derive(Deserialize)]
struct TextForm {
    text: String,
}

async fn add_note(
    State(state): State<AppState>,
    officer: Officer,
    Path(id): Path<String>,
    Form(form): Form<TextForm>,
) -> Result<Response> {
    let id = report_id(&id)?;
    record(&state, id)?;
    let text = team::clean_note(&form.text)?;
    state
        .audit_or_fail(AuditEntry::now(Some(&officer.account.name), "report.note").target(id.to_string()))?;
    state.update_case(id, |c| {
        c.notes.push(Note {
            author: officer.account.name.clone(),
            at: Utc::now(),
            text,
        });
        Ok(())
    })?;
    Ok(back(id))
}

async fn reply(
    State(state): State<AppState>,
    officer: Officer,
    Path(id): Path<String>,
    Form(form): Form<TextForm>,
) -> Result<Response> {
    let id = report_id(&id)?;
    let text = form.text.trim();
    if text.is_empty() || text.chars().count() > MAX_REPLY {
        return Err(DeskError::invalid(
            "reply",
            format!("1 to {MAX_REPLY} characters"),
        ));
    }
    record(&state, id)?;
    state
        .audit_or_fail(AuditEntry::now(Some(&officer.account.name), "report.reply").target(id.to_string()))?;
    state.desk.reply(&id.to_string(), text).await?;
    state.report_changed(id, ChangeKind::Messages);
    Ok(back(id))
}

#[derive(Deserialize)]
struct NoticeForm {
    notice: String,
}

/// Tells the reporter where the case stands (a signed status notice, protocol 9.4), in the
/// words the desk keeps for it in the report's language (English if the desk does not speak it):
/// nothing an officer types, so nothing of the case can slip into it.
async fn notice(
    State(state): State<AppState>,
    officer: Officer,
    Path(id): Path<String>,
    Form(form): Form<NoticeForm>,
) -> Result<Response> {
    let id = report_id(&id)?;
    let status =
        CaseStatus::parse(&form.notice).map_err(|_| DeskError::invalid("notice", "unknown status"))?;
    let record = record(&state, id)?;
    let language =
        crate::l10n::language(&record.report.language).unwrap_or(tipline_core::l10n::Language::English);
    let words = Tr::new(state.catalog.clone(), language).t(&format!("notice-{}", status.name()));
    state.audit_or_fail(
        AuditEntry::now(Some(&officer.account.name), "report.notice")
            .target(id.to_string())
            .detail(status.name()),
    )?;
    state.desk.send_notice(&id.to_string(), status, &words).await?;
    state.report_changed(id, ChangeKind::Messages);
    Ok(back(id))
}

async fn sync(State(state): State<AppState>, officer: Officer, Path(id): Path<String>) -> Result<Response> {
    let id = report_id(&id)?;
    record(&state, id)?;
    state.audit(AuditEntry::now(Some(&officer.account.name), "report.sync").target(id.to_string()));
    state.desk.sync_messages(&id.to_string()).await?;
    state.report_changed(id, ChangeKind::Messages);
    Ok(back(id))
}

#[derive(Deserialize)]
struct TransferForm {
    to_unit: String,
}

/// Hands the report to another unit, re-sealed to its key from the directory the intake serves,
/// verified against the authority's key.
async fn transfer(
    State(state): State<AppState>,
    officer: Officer,
    Path(id): Path<String>,
    Form(form): Form<TransferForm>,
) -> Result<Response> {
    let id = report_id(&id)?;
    let before = record(&state, id)?.status;
    let to_unit = form.to_unit.trim();
    if to_unit.is_empty() {
        return Err(DeskError::invalid("unit", "name the unit to transfer to"));
    }
    // A unit id as the envelope carries it, before it is written anywhere.
    tipline_core::envelope::check_unit_id(to_unit)?;
    let Some(authority) = &state.config.authority else {
        return Err(DeskError::invalid(
            "transfer",
            "this desk was started without the authority's key (--authority-pub), so it cannot verify the directory",
        ));
    };
    state.audit_or_fail(
        AuditEntry::now(Some(&officer.account.name), "report.transfer")
            .target(id.to_string())
            .detail(to_unit),
    )?;
    let json = state
        .desk
        .client()
        .api()
        .directory()
        .await
        .map_err(tipline_core::Error::from)?
        .ok_or_else(|| DeskError::NotFound("a directory at the intake".into()))?;
    let directory = SignedDirectory::from_json(&json)?.verify(authority, Utc::now(), None)?;
    let record = state.desk.transfer(&id.to_string(), to_unit, &directory).await?;
    if record.status != before {
        let by = officer.account.name.clone();
        state.update_case(id, |c| {
            c.history.push(StatusChange {
                by,
                at: Utc::now(),
                from: before.name().to_owned(),
                to: record.status.name().to_owned(),
            });
            Ok(())
        })?;
    }
    state.report_changed(id, ChangeKind::Team);
    Ok(back(id))
}
