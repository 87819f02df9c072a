//! Unit authentication by signed requests (`tipline_core::request_auth`, version 2): no secret
//! shared with the server. A desk signs method, path and query, a timestamp, a random nonce and
//! the body's SHA-256 (declared in a header) with the unit's Ed25519 key; the server checks it
//! against the key the authority's directory lists.
//!
//! [`require_unit`] runs on every `/v1/...` route and acts on those under
//! `/v1/units/{unit_id}/`. Everything signed is in the headers, so it checks the signature
//! before it reads the body; then it charges the unit's rate limit, spends the nonce (a replay is
//! refused), reads the body within the unit routes' bound and refuses it if its digest is not the
//! declared one, and hands the handler an [`AuthedUnit`]. A handler of a unit route takes
//! [`AuthedUnit`] as an extractor, so a route that somehow escaped the check fails closed.

use axum::body::Body;
use axum::extract::{FromRequestParts, MatchedPath, OriginalUri, RawPathParams, Request, State};
use axum::http::header::CONTENT_LENGTH;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use tipline_core::request_auth::{
    content_sha256, parse_nonce, verify_request, RequestSignature, CONTEXT, HEADER_CONTENT_SHA256,
    HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, HEADER_UNIT,
};

use tipline_core::api::code;
use tipline_core::api::paths::{self, route};

use crate::error::AppError;
use crate::limits::UNIT_REQUEST_BYTES;
use crate::replay::Refusal;
use crate::state::AppState;

/// The unit a request was signed by (equal to the path's `{unit_id}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthedUnit(pub String);

impl<S: Send + Sync> FromRequestParts<S> for AuthedUnit {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<AuthedUnit>()
            .cloned()
            .ok_or_else(|| AppError::internal("unit route reached without the signature check"))
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The middleware: a no-op outside `/v1/units/{unit_id}/...`.
pub async fn require_unit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let is_unit_route = req
        .extensions()
        .get::<MatchedPath>()
        .and_then(|m| m.as_str().strip_prefix(paths::PREFIX))
        .is_some_and(|route| route.starts_with(route::UNIT));
    if !is_unit_route {
        return next.run(req).await;
    }
    match authenticate(&state, req).await {
        Ok(req) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

async fn authenticate(state: &AppState, req: Request) -> Result<Request, AppError> {
    let (mut parts, body) = req.into_parts();
    let params = RawPathParams::from_request_parts(&mut parts, state)
        .await
        .map_err(|_| AppError::bad_request(code::INVALID_PATH, "the path is not valid UTF-8"))?;
    let path_unit = params
        .iter()
        .find(|(name, _)| *name == "unit_id")
        .map(|(_, value)| value.to_owned())
        .ok_or_else(|| AppError::internal("unit route without {unit_id}"))?;
    // The directory is public: saying a unit does not exist reveals nothing.
    let key = state.unit_key(&path_unit)?;
    let headers = &parts.headers;
    let (Some(unit), Some(timestamp), Some(signature)) = (
        header(headers, HEADER_UNIT),
        header(headers, HEADER_TIMESTAMP),
        header(headers, HEADER_SIGNATURE),
    ) else {
        return Err(AppError::unauthorized());
    };
    let (Some(nonce), Some(declared_sha256)) = (
        header(headers, HEADER_NONCE),
        header(headers, HEADER_CONTENT_SHA256),
    ) else {
        return Err(AppError::unauthorized_because(format!(
            "unit requests are signed as \"{CONTEXT}\" only: send {HEADER_NONCE} and \
             {HEADER_CONTENT_SHA256} and sign them (version 1 is no longer accepted)"
        )));
    };
    if unit != path_unit {
        return Err(AppError::unauthorized());
    }
    let signed = RequestSignature {
        timestamp: timestamp.trim().parse().map_err(|_| AppError::unauthorized())?,
        nonce: nonce.to_owned(),
        content_sha256: declared_sha256.to_owned(),
        signature: signature.to_owned(),
    };
    let too_long = header(headers, CONTENT_LENGTH.as_str())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|len| len > UNIT_REQUEST_BYTES);
    if too_long {
        return Err(AppError::too_large(
            "request body is larger than unit routes accept",
        ));
    }
    // The path as the client sent it (a nested router sees it without the `/v1` prefix).
    let path_and_query = parts
        .extensions
        .get::<OriginalUri>()
        .map(|OriginalUri(uri)| uri)
        .unwrap_or(&parts.uri)
        .path_and_query()
        .map(|pq| pq.as_str().to_owned())
        .unwrap_or_default();
    let now = Utc::now().timestamp();
    verify_request(
        &key,
        parts.method.as_str(),
        &path_and_query,
        &signed,
        now,
        state.settings().max_clock_skew_secs,
    )
    .map_err(|_| AppError::unauthorized())?;
    state.limiters().check_unit(&path_unit)?;
    let nonce = parse_nonce(&signed.nonce).ok_or_else(AppError::unauthorized)?;
    match state.nonces().remember(&path_unit, nonce, signed.timestamp, now) {
        Ok(()) => {}
        Err(Refusal::Replayed) => {
            return Err(AppError::unauthorized_because(
                "this request was made before (its nonce is spent); sign a new one",
            ))
        }
        Err(Refusal::Full) => return Err(AppError::rate_limited(1)),
    }
    let bytes = axum::body::to_bytes(body, UNIT_REQUEST_BYTES)
        .await
        .map_err(|_| AppError::too_large("request body is larger than unit routes accept"))?;
    if content_sha256(&bytes) != signed.content_sha256 {
        return Err(AppError::unauthorized_because(format!(
            "the body does not match its {HEADER_CONTENT_SHA256}"
        )));
    }
    parts.extensions.insert(AuthedUnit(path_unit));
    Ok(Request::from_parts(parts, Body::from(bytes)))
}
