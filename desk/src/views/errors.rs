//! Errors as pages: an answer the desk marked as an error ([`ErrorNote`]) reaches a browser as a
//! page in the officer's language (the account's, else the one picked before signing in, else
//! the browser's), with the short reason under a localised heading. A page's script asking for a
//! fragment gets the plain answer.

use askama::Template;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use tipline_core::l10n::Language;

use super::{cookie, Me, FRAGMENT_HEADER, LANG_COOKIE, SESSION_COOKIE};
use crate::auth::sessions::Stage;
use crate::error::ErrorNote;
use crate::l10n::{self, Tr};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    tr: Tr,
    me: Option<Me>,
    heading: String,
    text: String,
    signed_in: bool,
}

fn heading(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "error-not-found",
        StatusCode::FORBIDDEN => "error-forbidden",
        StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE => "error-invalid",
        StatusCode::BAD_GATEWAY => "error-intake",
        _ => "error-internal",
    }
}

fn language(state: &AppState, headers: &HeaderMap) -> (Language, bool) {
    // Read without touching the session: showing an error is not using the desk.
    let account = cookie(headers, SESSION_COOKIE)
        .and_then(|id| state.sessions.peek(id, state.now()).ok())
        .and_then(|s| match s.stage {
            Stage::SignedIn { account } => state.account(&account),
            _ => None,
        });
    let from_account = account.as_ref().and_then(|a| l10n::language(&a.language));
    let language = from_account
        .or_else(|| cookie(headers, LANG_COOKIE).and_then(l10n::language))
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| {
                    v.split(',')
                        .find_map(|t| l10n::language(t.split(';').next()?.trim()))
                })
        })
        .unwrap_or(Language::English);
    (language, account.is_some())
}

/// Turns the desk's error answers into pages for browsers.
pub async fn pages(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let headers = request.headers().clone();
    let response = next.run(request).await;
    let Some(ErrorNote(text)) = response.extensions().get::<ErrorNote>().cloned() else {
        return response;
    };
    if headers.contains_key(FRAGMENT_HEADER) {
        return response;
    }
    let status = response.status();
    let (language, signed_in) = language(&state, &headers);
    let tr = Tr::new(state.catalog.clone(), language);
    let page = ErrorPage {
        heading: tr.t(heading(status)),
        tr,
        me: None,
        text,
        signed_in,
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => response,
    }
}
