//! The desk's pages: one module per area, each with a `router()`, merged by [`crate::app`].
//! This file holds what they share: who is asking ([`Visitor`], [`Officer`]), the language of
//! the page, cookies, and rendering a template into an answer.

pub mod admin;
pub mod assets;
pub mod attachments;
pub mod errors;
pub mod events;
pub mod export;
pub mod inbox;
pub mod login;
pub mod profile;
pub mod report;
pub mod security;

use askama::Template;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use tipline_core::l10n::Language;

use crate::accounts::{Account, Role};
use crate::audit::AuditEntry;
use crate::auth::sessions::{Missing, Session, Stage};
use crate::error::{DeskError, Result};
use crate::l10n::{self, Tr};
use crate::state::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "tipline_desk";
/// The header the page's script sends when it fetches a part of a page.
pub const FRAGMENT_HEADER: &str = "x-desk-fragment";
/// The cookie that keeps the language picked before signing in.
pub const LANG_COOKIE: &str = "tipline_desk_lang";

/// The value of cookie `name` in `headers`.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// The `Set-Cookie` value of a session cookie.
pub fn session_cookie(id: &str) -> String {
    format!("{SESSION_COOKIE}={id}; Secure; HttpOnly; SameSite=Strict; Path=/")
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_session_cookie() -> String {
    format!("{SESSION_COOKIE}=; Secure; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
}

/// The value of query parameter `name`.
pub fn query_param(parts: &Parts, name: &str) -> Option<String> {
    let query = parts.uri.query()?;
    form_pairs(query)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

/// The pairs of an `application/x-www-form-urlencoded` text.
pub fn form_pairs(text: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str(text).unwrap_or_default()
}

fn accept_language(headers: &HeaderMap) -> Option<Language> {
    let value = headers.get(header::ACCEPT_LANGUAGE)?.to_str().ok()?;
    value
        .split(',')
        .filter_map(|part| part.split(';').next())
        .find_map(|tag| l10n::language(tag.trim()))
}

/// Renders a template into an HTML answer.
pub fn render(template: &impl Template) -> Result<Response> {
    Ok(Html(template.render()?).into_response())
}

/// Renders a template into an HTML answer with `status`.
pub fn render_status(status: StatusCode, template: &impl Template) -> Result<Response> {
    Ok((status, Html(template.render()?)).into_response())
}

/// Someone at the desk, signed in or not: their session, if any, and the page's language.
pub struct Visitor {
    /// The live session, if the browser has one.
    pub session: Option<Session>,
    /// The page's language.
    pub tr: Tr,
    /// The language picked with `?lang=` on this request, to remember in a cookie.
    pub picked: Option<Language>,
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let now = state.now();
        // A page's script refreshing a part of it is not the officer using the desk.
        let by_script = parts.headers.contains_key(FRAGMENT_HEADER);
        let session = match cookie(&parts.headers, SESSION_COOKIE) {
            Some(id) => match if by_script {
                state.sessions.peek(id, now)
            } else {
                state.sessions.touch(id, now)
            } {
                Ok(s) => Some(s),
                Err(Missing::Expired(account)) => {
                    // An unused sign-in page left open is not worth an entry; an officer's is.
                    if let Some(account) = account {
                        state.audit(AuditEntry::now(Some(&account), "session.expired"));
                    }
                    None
                }
                Err(Missing::Unknown) => None,
            },
            None => None,
        };
        let picked = query_param(parts, "lang").and_then(|c| l10n::language(&c));
        let language = picked
            .or_else(|| cookie(&parts.headers, LANG_COOKIE).and_then(l10n::language))
            .or_else(|| accept_language(&parts.headers))
            .unwrap_or(Language::English);
        Ok(Visitor {
            session,
            tr: Tr::new(state.catalog.clone(), language),
            picked,
        })
    }
}

/// A signed-in officer (or supervisor) with an enabled account.
pub struct Officer {
    /// The account.
    pub account: Account,
    /// The session.
    pub session: Session,
    /// The page's language: the account's, or the one just picked with `?lang=`.
    pub tr: Tr,
}

impl Officer {
    /// Whether the officer is a supervisor.
    pub fn is_supervisor(&self) -> bool {
        self.account.role == Role::Supervisor
    }

    /// Refuses (and audits) an action only supervisors may take.
    pub fn require_supervisor(&self, state: &AppState, action: &str) -> Result<()> {
        if self.is_supervisor() {
            return Ok(());
        }
        state.audit(AuditEntry::now(Some(&self.account.name), "denied.supervisor_only").detail(action));
        Err(DeskError::Forbidden)
    }

    /// What the page header shows about who is signed in.
    pub fn me(&self) -> Me {
        Me {
            name: self.account.name.clone(),
            supervisor: self.is_supervisor(),
            csrf: self.session.csrf.clone(),
        }
    }
}

/// Who is signed in, for the page header.
#[derive(Debug, Clone)]
pub struct Me {
    /// The account name.
    pub name: String,
    /// Whether the supervisor pages are shown.
    pub supervisor: bool,
    /// The session's CSRF token, for forms.
    pub csrf: String,
}

fn to_login(is_fragment: bool) -> Response {
    if is_fragment {
        // A page's script asking for a fragment is told to go to the sign-in page itself.
        return StatusCode::UNAUTHORIZED.into_response();
    }
    Redirect::to("/login").into_response()
}

impl FromRequestParts<AppState> for Officer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let is_fragment = parts.headers.contains_key(FRAGMENT_HEADER) || parts.uri.path() == "/events";
        let visitor = Visitor::from_request_parts(parts, state).await?;
        let Some(session) = visitor.session else {
            return Err(to_login(is_fragment));
        };
        let Stage::SignedIn { account } = &session.stage else {
            return Err(to_login(is_fragment));
        };
        let account = match state.account(account) {
            Some(a) if !a.disabled => a,
            _ => {
                state.sessions.end(&session.id);
                return Err(to_login(is_fragment));
            }
        };
        let mut account = account;
        if let Some(lang) = visitor.picked {
            if lang.code() != account.language {
                match state.update_account(&account.name, |a| a.language = lang.code().to_owned()) {
                    Ok(changed) => account = changed,
                    Err(e) => return Err(e.into_response()),
                }
            }
        }
        let language = l10n::language(&account.language).unwrap_or(Language::English);
        Ok(Officer {
            tr: Tr::new(state.catalog.clone(), language),
            account,
            session,
        })
    }
}

/// A time as the desk shows it: UTC, to the minute.
pub fn time(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}
