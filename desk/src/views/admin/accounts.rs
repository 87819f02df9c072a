//! `/admin/accounts`: a supervisor lists the accounts, adds officers, and disables an account
//! (which ends its sessions at once) or enables it again.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::Utc;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::accounts::{check_name, Account, Role};
use crate::audit::AuditEntry;
use crate::auth::password;
use crate::error::{DeskError, Result};
use crate::l10n::Tr;
use crate::state::AppState;
use crate::views::{render, time, Me, Officer};

/// `/admin/accounts` and its actions.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/accounts", get(page).post(add))
        .route("/admin/accounts/{name}/disable", post(disable))
        .route("/admin/accounts/{name}/enable", post(enable))
        .route("/admin/accounts/{name}/reset-totp", post(reset_totp))
}

struct AccountRow {
    name: String,
    role: &'static str,
    enrolled: bool,
    disabled: bool,
    created: String,
}

#[derive(Template)]
#[template(path = "admin_accounts.html")]
struct AccountsPage {
    tr: Tr,
    me: Option<Me>,
    accounts: Vec<AccountRow>,
}

async fn page(State(state): State<AppState>, officer: Officer) -> Result<Response> {
    officer.require_supervisor(&state, "accounts.list")?;
    let accounts = state
        .accounts()
        .into_iter()
        .map(|a| AccountRow {
            role: a.role.name(),
            enrolled: a.totp_secret.is_some(),
            disabled: a.disabled,
            created: time(&a.created_at),
            name: a.name,
        })
        .collect();
    render(&AccountsPage {
        me: Some(officer.me()),
        tr: officer.tr,
        accounts,
    })
}

#[derive(Deserialize)]
struct AddForm {
    name: String,
    role: String,
    password: Zeroizing<String>,
}

async fn add(State(state): State<AppState>, officer: Officer, Form(form): Form<AddForm>) -> Result<Response> {
    officer.require_supervisor(&state, "accounts.add")?;
    let name = form.name.trim().to_lowercase();
    check_name(&name)?;
    let role = Role::parse(&form.role).ok_or_else(|| DeskError::invalid("role", "officer or supervisor"))?;
    if state.account(&name).is_some() {
        return Err(DeskError::invalid("name", "an account of that name exists"));
    }
    let cost = state.config.hash_cost;
    let password = form.password;
    let hash = tokio::task::spawn_blocking(move || password::hash(&password, cost))
        .await
        .map_err(|_| DeskError::Task)??;
    state.audit_or_fail(
        AuditEntry::now(Some(&officer.account.name), "account.add")
            .target(name.clone())
            .detail(role.name()),
    )?;
    state.save_account(Account {
        name,
        role,
        password_hash: hash,
        totp_secret: None,
        totp_last_step: None,
        disabled: false,
        language: officer.account.language.clone(),
        created_at: Utc::now(),
        created_by: Some(officer.account.name.clone()),
    })?;
    Ok(Redirect::to("/admin/accounts").into_response())
}

async fn set_disabled(state: AppState, officer: Officer, name: String, disabled: bool) -> Result<Response> {
    let action = if disabled {
        "account.disable"
    } else {
        "account.enable"
    };
    officer.require_supervisor(&state, action)?;
    if disabled && name == officer.account.name {
        return Err(DeskError::invalid(
            "account",
            "a supervisor cannot disable their own account",
        ));
    }
    if state.account(&name).is_none() {
        return Err(DeskError::NotFound(format!("account {name}")));
    }
    state.audit_or_fail(AuditEntry::now(Some(&officer.account.name), action).target(name.clone()))?;
    state.update_account(&name, |a| a.disabled = disabled)?;
    if disabled {
        state.sessions.end_account(&name);
    }
    Ok(Redirect::to("/admin/accounts").into_response())
}

async fn disable(
    State(state): State<AppState>,
    officer: Officer,
    Path(name): Path<String>,
) -> Result<Response> {
    set_disabled(state, officer, name, true).await
}

async fn enable(
    State(state): State<AppState>,
    officer: Officer,
    Path(name): Path<String>,
) -> Result<Response> {
    set_disabled(state, officer, name, false).await
}

/// Forgets an account's second factor (a lost phone): its sessions end, and it enrols a new one
/// at its next sign-in, which still needs its password.
async fn reset_totp(
    State(state): State<AppState>,
    officer: Officer,
    Path(name): Path<String>,
) -> Result<Response> {
    officer.require_supervisor(&state, "account.reset_totp")?;
    if state.account(&name).is_none() {
        return Err(DeskError::NotFound(format!("account {name}")));
    }
    state.audit_or_fail(
        AuditEntry::now(Some(&officer.account.name), "account.reset_totp").target(name.clone()),
    )?;
    state.update_account(&name, |a| {
        a.totp_secret = None;
        a.totp_last_step = None;
    })?;
    state.sessions.end_account(&name);
    Ok(Redirect::to("/admin/accounts").into_response())
}
