//! `/admin/alerts`: a supervisor publishes an alert for citizens of some regions, signed with
//! the unit's key, in any of the desk's languages, with an expiry.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Form, Router};
use chrono::{Duration, Utc};
use serde::Deserialize;
use tipline_core::alert::{Alert, Severity};
use tipline_core::report::MessageId;

use crate::audit::AuditEntry;
use crate::error::{DeskError, Result};
use crate::l10n::{Tr, LANGUAGES};
use crate::state::AppState;
use crate::views::{render, render_status, Me, Officer};

/// Longest expiry offered, in hours (30 days).
const MAX_HOURS: i64 = 30 * 24;

/// `/admin/alerts`.
pub fn router() -> Router<AppState> {
    Router::new().route("/admin/alerts", get(page).post(publish))
}

#[derive(Template)]
#[template(path = "admin_alerts.html")]
struct AlertsPage {
    tr: Tr,
    me: Option<Me>,
    languages: Vec<&'static str>,
    published: Option<String>,
}

fn languages() -> Vec<&'static str> {
    LANGUAGES.iter().map(|l| l.code()).collect()
}

async fn page(State(state): State<AppState>, officer: Officer) -> Result<Response> {
    officer.require_supervisor(&state, "alerts.page")?;
    render(&AlertsPage {
        me: Some(officer.me()),
        tr: officer.tr,
        languages: languages(),
        published: None,
    })
}

/// The alert form: regions, severity, expiry, and `title_xx`/`body_xx` per language.
#[derive(Deserialize)]
struct AlertForm {
    regions: String,
    severity: String,
    hours: String,
    #[serde(flatten)]
    texts: BTreeMap<String, String>,
}

fn alert(state: &AppState, form: &AlertForm) -> Result<Alert> {
    let severity = match form.severity.as_str() {
        "info" => Severity::Info,
        "warning" => Severity::Warning,
        "danger" => Severity::Danger,
        _ => return Err(DeskError::invalid("severity", "info, warning or danger")),
    };
    let hours = form
        .hours
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|h| (1..=MAX_HOURS).contains(h))
        .ok_or_else(|| DeskError::invalid("hours", format!("1 to {MAX_HOURS}")))?;
    let regions: Vec<String> = form
        .regions
        .split([',', ' '])
        .map(|r| r.trim().to_ascii_uppercase())
        .filter(|r| !r.is_empty())
        .collect();
    let (mut title, mut body) = (BTreeMap::new(), BTreeMap::new());
    for code in languages() {
        let text = |prefix: &str| {
            form.texts
                .get(&format!("{prefix}_{code}"))
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
        };
        match (text("title"), text("body")) {
            (Some(t), Some(b)) => {
                title.insert(code.to_owned(), t);
                body.insert(code.to_owned(), b);
            }
            (None, None) => {}
            _ => {
                return Err(DeskError::invalid(
                    "alert",
                    format!("give both a title and a text in {code}"),
                ))
            }
        }
    }
    let issued_at = Utc::now();
    let alert = Alert {
        alert_id: MessageId::random()?,
        unit_id: state.desk.unit_id().to_owned(),
        regions,
        severity,
        title,
        body,
        issued_at,
        expires_at: issued_at + Duration::hours(hours),
    };
    alert.validate()?;
    Ok(alert)
}

async fn publish(
    State(state): State<AppState>,
    officer: Officer,
    Form(form): Form<AlertForm>,
) -> Result<Response> {
    officer.require_supervisor(&state, "alerts.publish")?;
    let alert = alert(&state, &form)?;
    state.audit_or_fail(
        AuditEntry::now(Some(&officer.account.name), "alert.publish")
            .target(alert.alert_id.to_string())
            .detail(alert.regions.join(" ")),
    )?;
    let id = state.desk.publish_alert(&alert).await?;
    render_status(
        StatusCode::OK,
        &AlertsPage {
            me: Some(officer.me()),
            tr: officer.tr,
            languages: languages(),
            published: Some(id.to_string()),
        },
    )
}
