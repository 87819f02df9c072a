//! `/profile`: an officer changes their own password, giving the current one again. Their other
//! sessions end, so a password someone else learned stops working everywhere at once.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;
use zeroize::Zeroizing;

use super::{render, render_status, Me, Officer};
use crate::audit::AuditEntry;
use crate::auth::password;
use crate::auth::sessions::Stage;
use crate::error::{DeskError, Result};
use crate::l10n::Tr;
use crate::state::AppState;

/// `/profile`.
pub fn router() -> Router<AppState> {
    Router::new().route("/profile", get(page).post(change_password))
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    tr: Tr,
    me: Option<Me>,
    message: Option<String>,
    error: Option<String>,
}

async fn page(officer: Officer) -> Result<Response> {
    render(&ProfilePage {
        me: Some(officer.me()),
        tr: officer.tr,
        message: None,
        error: None,
    })
}

#[derive(Deserialize)]
struct PasswordForm {
    current: Zeroizing<String>,
    new: Zeroizing<String>,
    repeat: Zeroizing<String>,
}

async fn change_password(
    State(state): State<AppState>,
    officer: Officer,
    Form(form): Form<PasswordForm>,
) -> Result<Response> {
    let name = officer.account.name.clone();
    let refuse = |officer: Officer, status: StatusCode, id: &str| {
        let error = officer.tr.t(id);
        render_status(
            status,
            &ProfilePage {
                me: Some(officer.me()),
                tr: officer.tr,
                message: None,
                error: Some(error),
            },
        )
    };
    let at = state.now();
    if let Err(limited) = state.limiter.attempt(&name, at) {
        state.audit(AuditEntry::now(Some(&name), "password.rate_limited"));
        let id = match limited {
            crate::auth::ratelimit::Limited::Account => "login-locked",
            crate::auth::ratelimit::Limited::Overall => "login-busy",
        };
        return refuse(officer, StatusCode::TOO_MANY_REQUESTS, id);
    }
    let phc = officer.account.password_hash.clone();
    let current = form.current;
    let right = tokio::task::spawn_blocking(move || password::verify(&current, &phc))
        .await
        .map_err(|_| DeskError::Task)?;
    if !right {
        state.audit(AuditEntry::now(Some(&name), "password.bad_current"));
        return refuse(officer, StatusCode::UNAUTHORIZED, "password-wrong-current");
    }
    state.limiter.passed(&name, at);
    if form.new.as_str() != form.repeat.as_str() {
        return refuse(officer, StatusCode::BAD_REQUEST, "password-mismatch");
    }
    if password::check_new(&form.new).is_err() {
        return refuse(officer, StatusCode::BAD_REQUEST, "password-too-short");
    }
    let cost = state.config.hash_cost;
    let new = form.new;
    let hash = tokio::task::spawn_blocking(move || password::hash(&new, cost))
        .await
        .map_err(|_| DeskError::Task)??;
    state.audit_or_fail(AuditEntry::now(Some(&name), "password.changed"))?;
    state.update_account(&name, |a| a.password_hash = hash)?;
    // Every other session of the account ends; this one goes on under a new id.
    state.sessions.end_account(&name);
    let session = state.sessions.start(
        Stage::SignedIn {
            account: name.clone(),
        },
        state.now(),
    )?;
    let message = officer.tr.t("password-changed");
    let me = Me {
        csrf: session.csrf.clone(),
        ..officer.me()
    };
    let mut response = render(&ProfilePage {
        me: Some(me),
        tr: officer.tr,
        message: Some(message),
        error: None,
    })?;
    if let Ok(value) = axum::http::HeaderValue::from_str(&super::session_cookie(&session.id)) {
        response
            .headers_mut()
            .append(axum::http::header::SET_COOKIE, value);
    }
    Ok(response)
}
