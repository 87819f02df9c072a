//! The desk's own defences, as middleware on every route: strict security headers on every
//! answer, and the CSRF check on every request that changes something (the session's token in
//! the form, and an Origin or Referer naming this desk).

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{cookie, form_pairs, SESSION_COOKIE};
use crate::audit::AuditEntry;
use crate::auth::sessions::Missing;
use crate::error::ErrorNote;
use crate::state::AppState;

/// The policy: nothing from anywhere but the desk, no inline script or style, no framing.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
media-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Largest form body read, in bytes.
pub const MAX_FORM: usize = 256 * 1024;

/// Sets the security headers on every answer (keeping a stricter one a view set itself).
pub async fn headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    let set = [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CACHE_CONTROL, "no-store"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ];
    for (name, value) in set {
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    }
    response
}

/// Whether the request comes from a page of this desk. Under `Referrer-Policy: no-referrer` a
/// browser sends no Referer and, for a form post, `Origin: null` (Fetch, "append a request
/// Origin header"), so the first witness is `Sec-Fetch-Site`, which browsers send to secure
/// origins (HTTPS and loopback) whatever the policy; then an Origin naming this desk; then a
/// Referer naming it. A request that names another site, or gives no witness, is refused.
fn same_origin(request: &Request) -> bool {
    let headers = request.headers();
    let value = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = value("sec-fetch-site") {
        return site.eq_ignore_ascii_case("same-origin");
    }
    let Some(host) = value("host") else {
        return false;
    };
    let names_host = |source: &str| {
        // scheme://host[:port][/path]: the authority must be the desk's own.
        source.split_once("://").is_some_and(|(_, rest)| {
            rest.split(['/', '?', '#'])
                .next()
                .is_some_and(|authority| authority.eq_ignore_ascii_case(host))
        })
    };
    match (value("origin"), value("referer")) {
        (Some(origin), _) if origin != "null" => names_host(origin),
        (_, Some(referer)) => names_host(referer),
        _ => false,
    }
}

fn refuse(state: &AppState, account: Option<&str>, action: &str) -> Response {
    match account {
        Some(account) => state.audit(AuditEntry::now(Some(account), action)),
        // Anyone who can reach the desk can send these: recorded within a bound.
        None => state.audit_refusal(AuditEntry::now(None, action)),
    }
    let text = "This form is stale or did not come from this desk. Reload the page and try again.";
    let mut response = (StatusCode::FORBIDDEN, text).into_response();
    response.extensions_mut().insert(ErrorNote(text.to_owned()));
    response
}

/// Checks every state-changing request: it must come from a page of this desk (Origin or
/// Referer), in a live session, carrying that session's CSRF token as the form field `csrf`.
pub async fn csrf(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(request).await;
    }
    let session = match cookie(request.headers(), SESSION_COOKIE) {
        Some(id) => state.sessions.touch(id, state.now()),
        None => Err(Missing::Unknown),
    };
    let session = match session {
        Ok(s) => s,
        Err(Missing::Expired(account)) => {
            if let Some(account) = account {
                state.audit(AuditEntry::now(Some(&account), "session.expired"));
            }
            return axum::response::Redirect::to("/login").into_response();
        }
        Err(Missing::Unknown) => return refuse(&state, None, "csrf.no_session"),
    };
    let account = session.stage.account().map(str::to_owned);
    if !same_origin(&request) {
        return refuse(&state, account.as_deref(), "csrf.cross_origin");
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_FORM).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "the form is too large").into_response();
    };
    let token = std::str::from_utf8(&bytes)
        .ok()
        .and_then(|text| form_pairs(text).into_iter().find(|(n, _)| n == "csrf"))
        .map(|(_, v)| v);
    match token {
        Some(token) if session.csrf_matches(&token) => {}
        Some(_) => return refuse(&state, account.as_deref(), "csrf.bad_token"),
        None => return refuse(&state, account.as_deref(), "csrf.missing_token"),
    }
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}
