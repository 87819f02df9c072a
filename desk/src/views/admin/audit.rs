//! `/admin/audit`: a supervisor reads the audit log, newest first, and exports it whole as JSON
//! or CSV.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use crate::audit::{self, AuditEntry};
use crate::error::Result;
use crate::l10n::Tr;
use crate::state::AppState;
use crate::views::{render, time, Me, Officer};

/// Entries one page shows.
const PAGE: u32 = 200;

/// `/admin/audit`, `/admin/audit.json`, `/admin/audit.csv`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/audit", get(page))
        .route("/admin/audit.json", get(export_json))
        .route("/admin/audit.csv", get(export_csv))
}

struct EntryRow {
    seq: i64,
    at: String,
    actor: String,
    action: String,
    target: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct AuditPage {
    tr: Tr,
    me: Option<Me>,
    entries: Vec<EntryRow>,
    older: Option<i64>,
}

#[derive(Deserialize)]
struct Paging {
    before: Option<i64>,
}

async fn page(
    State(state): State<AppState>,
    officer: Officer,
    Query(paging): Query<Paging>,
) -> Result<Response> {
    officer.require_supervisor(&state, "audit.read")?;
    // One page and one more entry, to know whether there are older ones: a long log is not
    // opened whole to show its newest entries.
    let mut entries = audit::read_back(state.store(), paging.before, PAGE + 1)?;
    let older = if entries.len() > PAGE as usize {
        entries.truncate(PAGE as usize);
        entries.last().map(|e| e.seq)
    } else {
        None
    };
    let entries = entries
        .into_iter()
        .map(|e| EntryRow {
            seq: e.seq,
            at: time(&e.at),
            actor: e.actor.unwrap_or_default(),
            action: e.action,
            target: e.target.unwrap_or_default(),
            detail: e.detail.unwrap_or_default(),
        })
        .collect();
    render(&AuditPage {
        me: Some(officer.me()),
        tr: officer.tr,
        entries,
        older,
    })
}

fn exported(state: &AppState, officer: &Officer, format: &str) -> Result<Vec<AuditEntry>> {
    officer.require_supervisor(state, "audit.export")?;
    state.audit_or_fail(AuditEntry::now(Some(&officer.account.name), "audit.export").detail(format))?;
    audit::all(state.store())
}

async fn export_json(State(state): State<AppState>, officer: Officer) -> Result<Response> {
    let entries = exported(&state, &officer, "json")?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"audit.json\""),
        ],
        serde_json::to_vec_pretty(&entries)?,
    )
        .into_response())
}

async fn export_csv(State(state): State<AppState>, officer: Officer) -> Result<Response> {
    let entries = exported(&state, &officer, "csv")?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"audit.csv\""),
        ],
        audit::to_csv(&entries),
    )
        .into_response())
}
