//! Signing in and out: the password, then the TOTP code (or, at an account's first sign-in,
//! enrolling its TOTP secret from a QR code the desk draws itself). Every success, failure and
//! refusal goes into the audit log, never with the password or the code.

use std::sync::OnceLock;

use askama::Template;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use zeroize::Zeroizing;

use super::{clear_session_cookie, render_status, session_cookie, Me, Visitor, LANG_COOKIE};
use crate::accounts::check_name;
use crate::audit::AuditEntry;
use crate::auth::password;
use crate::auth::ratelimit::Limited;
use crate::auth::sessions::{Session, Stage};
use crate::auth::totp::Secret;
use crate::error::{DeskError, Result};
use crate::l10n::Tr;
use crate::state::AppState;

/// `/login`, `/login/totp`, `/login/enroll`, `/login/qr.svg`, `/logout`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(page).post(submit_password))
        .route("/login/totp", post(submit_totp))
        .route("/login/enroll", post(submit_enroll))
        .route("/login/qr.svg", get(qr))
        .route("/login/restart", post(restart))
        .route("/logout", post(logout))
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    tr: Tr,
    me: Option<Me>,
    csrf: String,
    step: &'static str,
    error: Option<String>,
    secret: String,
}

fn show(tr: Tr, session: &Session, status: StatusCode, error: Option<String>) -> Result<Response> {
    let (step, secret) = match &session.stage {
        Stage::Password { .. } => ("totp", String::new()),
        Stage::Enroll { secret, .. } => ("enroll", secret.to_base32().to_string()),
        _ => ("password", String::new()),
    };
    let page = LoginPage {
        tr,
        me: None,
        csrf: session.csrf.clone(),
        step,
        error,
        secret,
    };
    let mut response = render_status(status, &page)?;
    if let Ok(value) = header::HeaderValue::from_str(&session_cookie(&session.id)) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

async fn page(State(state): State<AppState>, visitor: Visitor) -> Result<Response> {
    let session = match visitor.session {
        Some(s) if matches!(s.stage, Stage::SignedIn { .. }) => return Ok(Redirect::to("/").into_response()),
        Some(s) => s,
        None => state.sessions.start(Stage::Anonymous, state.now())?,
    };
    let mut response = show(visitor.tr, &session, StatusCode::OK, None)?;
    if let Some(lang) = visitor.picked {
        let cookie = format!("{LANG_COOKIE}={}; Secure; SameSite=Strict; Path=/", lang.code());
        if let Ok(value) = header::HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    Ok(response)
}

#[derive(Deserialize)]
struct PasswordForm {
    name: String,
    password: Zeroizing<String>,
}

fn dummy_hash(state: &AppState) -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        password::hash(
            "a password no account has, only for timing",
            state.config.hash_cost,
        )
        .unwrap_or_default()
    })
}

fn limited_message(tr: &Tr, limited: Limited) -> String {
    match limited {
        Limited::Account => tr.t("login-locked"),
        Limited::Overall => tr.t("login-busy"),
    }
}

async fn submit_password(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<PasswordForm>,
) -> Result<Response> {
    let Some(session) = visitor.session else {
        return Ok(Redirect::to("/login").into_response());
    };
    let tr = visitor.tr;
    let now = state.now();
    let name = form.name.trim().to_lowercase();
    // No account has a name outside the rules: refused at once, and not written into the log
    // or the limits as it came (it may be a quarter of a megabyte).
    if check_name(&name).is_err() {
        state.audit_refusal(AuditEntry::now(None, "login.unknown_account").detail("not a valid name"));
        return show(
            tr.clone(),
            &session,
            StatusCode::UNAUTHORIZED,
            Some(tr.t("login-failed")),
        );
    }
    if let Err(limited) = state.limiter.attempt(&name, now) {
        state.audit_refusal(AuditEntry::now(Some(&name), "login.rate_limited"));
        return show(
            tr.clone(),
            &session,
            StatusCode::TOO_MANY_REQUESTS,
            Some(limited_message(&tr, limited)),
        );
    }
    let account = state.account(&name);
    let phc = account
        .as_ref()
        .map_or_else(|| dummy_hash(&state).to_owned(), |a| a.password_hash.clone());
    let password = form.password;
    let right = tokio::task::spawn_blocking(move || password::verify(&password, &phc))
        .await
        .map_err(|_| DeskError::Task)?;
    let account = match account {
        Some(a) if right && !a.disabled => {
            state.limiter.passed(&name, now);
            a
        }
        Some(a) if right && a.disabled => {
            state.audit(AuditEntry::now(Some(&name), "login.disabled"));
            return show(
                tr.clone(),
                &session,
                StatusCode::UNAUTHORIZED,
                Some(tr.t("login-failed")),
            );
        }
        _ => {
            let action = if state.account(&name).is_some() {
                "login.bad_password"
            } else {
                "login.unknown_account"
            };
            state.audit(AuditEntry::now(Some(&name), action));
            return show(
                tr.clone(),
                &session,
                StatusCode::UNAUTHORIZED,
                Some(tr.t("login-failed")),
            );
        }
    };
    state.audit(AuditEntry::now(Some(&name), "login.password_ok"));
    let stage = match account.totp_secret {
        Some(_) => Stage::Password { account: name },
        None => Stage::Enroll {
            account: name,
            secret: Secret::generate()?,
        },
    };
    // The next step goes on under a new id: an id planted in this browser before the
    // password, or seen then, is worth nothing now (nor is the enrolment secret shown next).
    state.sessions.end(&session.id);
    let next = state.sessions.start(stage, now)?;
    let mut response = Redirect::to("/login").into_response();
    if let Ok(value) = header::HeaderValue::from_str(&session_cookie(&next.id)) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

#[derive(Deserialize)]
struct CodeForm {
    code: Zeroizing<String>,
}

/// Ends the sign-in session and starts a signed-in one under a new id; the attempt let through
/// at `at` passed.
fn signed_in(state: &AppState, old: &Session, account: &str, at: i64) -> Result<Response> {
    state.sessions.end(&old.id);
    let session = state.sessions.start(
        Stage::SignedIn {
            account: account.to_owned(),
        },
        state.now(),
    )?;
    state.limiter.succeeded(account, at);
    state.audit(AuditEntry::now(Some(account), "login.ok"));
    let mut response = Redirect::to("/").into_response();
    if let Ok(value) = header::HeaderValue::from_str(&session_cookie(&session.id)) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

async fn submit_totp(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<CodeForm>,
) -> Result<Response> {
    let Some(session) = visitor.session else {
        return Ok(Redirect::to("/login").into_response());
    };
    let Stage::Password { account: name } = &session.stage else {
        return Ok(Redirect::to("/login").into_response());
    };
    let tr = visitor.tr;
    let now = state.now();
    if let Err(limited) = state.limiter.attempt(name, now) {
        state.audit(AuditEntry::now(Some(name), "login.rate_limited"));
        return show(
            tr.clone(),
            &session,
            StatusCode::TOO_MANY_REQUESTS,
            Some(limited_message(&tr, limited)),
        );
    }
    let account = state.account(name).filter(|a| !a.disabled);
    let secret = account
        .as_ref()
        .and_then(|a| a.totp_secret.as_deref())
        .and_then(Secret::from_base32);
    let (Some(account), Some(secret)) = (account, secret) else {
        state.sessions.set_stage(&session.id, Stage::Anonymous);
        return Ok(Redirect::to("/login").into_response());
    };
    let now_u = u64::try_from(now).unwrap_or(0);
    // The code's step is taken under the accounts' lock, after a last look at the step used
    // before: of two requests with one code at the same moment, one signs in.
    let fresh = secret
        .verify(&form.code, now_u, account.totp_last_step)
        .is_some_and(|step| {
            let mut taken = false;
            let updated = state.update_account(name, |a| {
                if a.totp_last_step.is_none_or(|last| step > last) {
                    a.totp_last_step = Some(step);
                    taken = true;
                }
            });
            updated.is_ok() && taken
        });
    match fresh {
        true => signed_in(&state, &session, name, now),
        false => {
            // A code that was right but already used is a replay: worth telling apart in the log.
            let replay = secret.verify(&form.code, now_u, None).is_some();
            let action = if replay {
                "login.replayed_totp"
            } else {
                "login.bad_totp"
            };
            state.audit(AuditEntry::now(Some(name), action));
            show(
                tr.clone(),
                &session,
                StatusCode::UNAUTHORIZED,
                Some(tr.t("login-bad-code")),
            )
        }
    }
}

async fn submit_enroll(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<CodeForm>,
) -> Result<Response> {
    let Some(session) = visitor.session else {
        return Ok(Redirect::to("/login").into_response());
    };
    let Stage::Enroll {
        account: name,
        secret,
    } = &session.stage
    else {
        return Ok(Redirect::to("/login").into_response());
    };
    let tr = visitor.tr;
    let now = state.now();
    if let Err(limited) = state.limiter.attempt(name, now) {
        state.audit(AuditEntry::now(Some(name), "login.rate_limited"));
        return show(
            tr.clone(),
            &session,
            StatusCode::TOO_MANY_REQUESTS,
            Some(limited_message(&tr, limited)),
        );
    }
    match secret.verify(&form.code, u64::try_from(now).unwrap_or(0), None) {
        Some(step) => {
            // Enrolled only if the account has no second factor yet and is not disabled: an
            // enrolment begun before the officer's own (with a password someone else knew)
            // cannot replace it.
            let base32 = secret.to_base32().to_string();
            let mut enrolled = false;
            state.update_account(name, |a| {
                if a.totp_secret.is_none() && !a.disabled {
                    a.totp_secret = Some(base32);
                    a.totp_last_step = Some(step);
                    enrolled = true;
                }
            })?;
            if !enrolled {
                state.sessions.end(&session.id);
                state.audit(AuditEntry::now(Some(name), "totp.enroll_refused"));
                return Ok(Redirect::to("/login").into_response());
            }
            // Any other sign-in of the account half-way through ends: the factor is set.
            state.sessions.end_account(name);
            state.audit(AuditEntry::now(Some(name), "totp.enrolled"));
            signed_in(&state, &session, name, now)
        }
        None => {
            state.audit(AuditEntry::now(Some(name), "login.bad_totp"));
            show(
                tr.clone(),
                &session,
                StatusCode::UNAUTHORIZED,
                Some(tr.t("login-bad-code")),
            )
        }
    }
}

/// The enrolment QR code, drawn by the desk as SVG, only to the session enrolling.
async fn qr(State(state): State<AppState>, visitor: Visitor) -> Result<Response> {
    let Some(Stage::Enroll { account, secret }) = visitor.session.map(|s| s.stage) else {
        return Err(DeskError::NotFound("an enrolment in this session".into()));
    };
    let uri = secret.uri(&state.config.issuer, &account);
    let code = qrcode::QrCode::new(uri.as_bytes()).map_err(|e| DeskError::Config(format!("QR code: {e}")))?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build();
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response())
}

/// Goes back to the first step (to sign in as someone else, or after a mistyped name).
async fn restart(State(state): State<AppState>, visitor: Visitor) -> Response {
    if let Some(session) = visitor.session {
        if !matches!(session.stage, Stage::SignedIn { .. }) {
            state.sessions.set_stage(&session.id, Stage::Anonymous);
        }
    }
    Redirect::to("/login").into_response()
}

async fn logout(State(state): State<AppState>, visitor: Visitor) -> Response {
    if let Some(session) = visitor.session {
        state.audit(AuditEntry::now(session.stage.account(), "logout"));
        state.sessions.end(&session.id);
    }
    let mut response = Redirect::to("/login").into_response();
    if let Ok(value) = header::HeaderValue::from_str(&clear_session_cookie()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}
