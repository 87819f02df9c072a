//! The case conversation, relayed sealed. The reporter posts follow-ups (sealed to the unit) and
//! reads replies with the case secret; the unit that holds the case posts replies (signed by the
//! unit, sealed to the reporter's reply key) and reads follow-ups with its signed requests.
//! Reads are by cursor: `after` the last `seq` seen.
//!
//! A wrong case secret, or a unit that does not hold the case, gets the same 404 as a case that
//! does not exist. A reporter's request is charged to the case's budget and the case messages'
//! bucket only once the case and its secret checked, so requests to random cases spend nobody's
//! budget, and a flood in one case spends that case's.

use axum::extract::{DefaultBodyLimit, FromRequest as _, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use tipline_core::api::paths::route;
use tipline_core::api::{Messages, MessagesQuery, PostMessage, Posted};
use tipline_core::crypto::hashes_equal;
use tipline_core::envelope::Kind;
use tipline_core::report::{CaseId, MessageId};

use crate::auth::AuthedUnit;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::limits::{ENVELOPE_BODY_BYTES, MAX_PAGE};
use crate::push::PushEvent;
use crate::routes::case_secret_hash;
use crate::routes::reports::{expect_kind, parse_envelope};
use crate::state::AppState;
use crate::store::{CaseRecord, MessageDirection, SealedMessage};
use tipline_core::api::code;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            route::CASE_MESSAGES,
            get(reporter_read)
                .post(reporter_post)
                .layer(DefaultBodyLimit::max(ENVELOPE_BODY_BYTES)),
        )
        .route(
            route::UNIT_CASE_MESSAGES,
            get(unit_read)
                .post(unit_post)
                .layer(DefaultBodyLimit::max(ENVELOPE_BODY_BYTES)),
        )
}

fn unknown_case() -> AppError {
    AppError::not_found(code::UNKNOWN_CASE, "no such case for these credentials")
}

/// The case if `hash` is its secret's; constant-time, and the same 404 either way.
async fn reporter_case(state: &AppState, case_id: CaseId, hash: &[u8; 32]) -> AppResult<CaseRecord> {
    let case = state.store().case(case_id).await?.ok_or_else(unknown_case)?;
    if hashes_equal(&case.case_secret_hash, hash) {
        Ok(case)
    } else {
        Err(unknown_case())
    }
}

/// The case if `unit_id` holds it now.
async fn unit_case(state: &AppState, case_id: CaseId, unit_id: &str) -> AppResult<CaseRecord> {
    let case = state.store().case(case_id).await?.ok_or_else(unknown_case)?;
    if case.unit_id == unit_id {
        Ok(case)
    } else {
        Err(unknown_case())
    }
}

/// Stores a message; a repeat of the same message is answered as the first time, another
/// message under a used id is refused.
async fn store_message(
    state: &AppState,
    case_id: CaseId,
    message_id: MessageId,
    direction: MessageDirection,
    envelope: Vec<u8>,
) -> AppResult<SealedMessage> {
    let stored = state
        .store()
        .add_message(case_id, message_id, direction, envelope, Utc::now())
        .await?;
    state.metrics().message(direction.as_str());
    Ok(stored)
}

async fn read(state: &AppState, case_id: CaseId, query: MessagesQuery) -> AppResult<axum::Json<Messages>> {
    let after = query.after.unwrap_or(0).max(0);
    let limit = query.limit.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE);
    let messages = state.store().messages(case_id, after, limit).await?;
    let next = messages.last().map_or(after, |m| m.seq);
    Ok(axum::Json(Messages { messages, next }))
}

/// Posts a reporter's follow-up.
#[utoipa::path(
    post,
    path = "/v1/cases/{case_id}/messages",
    tag = "reporter",
    params(
        ("case_id" = String, Path, description = "Case id, 32 hex digits"),
        ("tipline-case-secret" = String, Header, description = "The case secret, base64url of 32 bytes"),
    ),
    request_body = PostMessage,
    responses(
        (status = 201, description = "Stored (or stored before)", body = Posted),
        (status = 400, description = "`malformed_json`, `bad_case_secret`, `malformed_envelope`, `wrong_kind` (not a follow-up), `wrong_unit` (the case is held by another unit)", body = ErrorBody),
        (status = 404, description = "`unknown_case`: no such case, or wrong secret", body = ErrorBody),
        (status = 409, description = "`message_id_conflict`", body = ErrorBody),
        (status = 413, description = "`too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 429, description = "`rate_limited`, with `Retry-After`: this case's budget or the case messages' is spent (charged only after the case secret checked)", body = ErrorBody),
    )
)]
pub async fn reporter_post(
    State(state): State<AppState>,
    Path(case_id): Path<CaseId>,
    request: axum::extract::Request,
) -> AppResult<(StatusCode, axum::Json<Posted>)> {
    let hash = case_secret_hash(request.headers())?;
    // The case and its secret before the body is read: a flood of follow-ups to random cases
    // costs the server a map lookup each, not a body to read and parse.
    let case = reporter_case(&state, case_id, &hash).await?;
    let Json(body) = Json::<PostMessage>::from_request(request, &state).await?;
    let envelope = parse_envelope(&body.envelope)?;
    expect_kind(&envelope, Kind::FollowUp)?;
    if envelope.unit_id != case.unit_id {
        return Err(AppError::bad_request(
            code::WRONG_UNIT,
            format!("the case is handled by unit {}; seal to it", case.unit_id),
        ));
    }
    state.limiters().check_case(case_id)?;
    let message_id = MessageId(envelope.message_id);
    let stored = store_message(
        &state,
        case_id,
        message_id,
        MessageDirection::ToUnit,
        body.envelope,
    )
    .await?;
    state.push().notify(
        &case.unit_id,
        PushEvent::Message {
            case_id,
            seq: stored.seq,
        },
    );
    Ok((
        StatusCode::CREATED,
        axum::Json(Posted {
            seq: stored.seq,
            message_id,
        }),
    ))
}

/// Reads a case's messages as the reporter.
#[utoipa::path(
    get,
    path = "/v1/cases/{case_id}/messages",
    tag = "reporter",
    params(
        ("case_id" = String, Path, description = "Case id, 32 hex digits"),
        ("tipline-case-secret" = String, Header, description = "The case secret, base64url of 32 bytes"),
        MessagesQuery,
    ),
    responses(
        (status = 200, description = "Messages after the cursor", body = Messages),
        (status = 400, description = "`bad_case_secret`, `invalid_query`", body = ErrorBody),
        (status = 404, description = "`unknown_case`", body = ErrorBody),
        (status = 429, description = "`rate_limited`, with `Retry-After`: this case's budget or the case messages' is spent (charged only after the case secret checked)", body = ErrorBody),
    )
)]
pub async fn reporter_read(
    State(state): State<AppState>,
    Path(case_id): Path<CaseId>,
    Query(query): Query<MessagesQuery>,
    headers: HeaderMap,
) -> AppResult<axum::Json<Messages>> {
    let hash = case_secret_hash(&headers)?;
    reporter_case(&state, case_id, &hash).await?;
    state.limiters().check_case(case_id)?;
    read(&state, case_id, query).await
}

/// Posts a unit's reply in a case it holds.
#[utoipa::path(
    post,
    path = "/v1/units/{unit_id}/cases/{case_id}/messages",
    tag = "desk",
    security(("unit_signature" = [])),
    params(
        ("unit_id" = String, Path, description = "The unit"),
        ("case_id" = String, Path, description = "Case id, 32 hex digits"),
    ),
    request_body = PostMessage,
    responses(
        (status = 201, description = "Stored (or stored before)", body = Posted),
        (status = 400, description = "`malformed_json`, `malformed_envelope`, `wrong_kind` (not a reply), `envelope_mismatch` (another unit's id in the envelope)", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 404, description = "`unknown_case`: no such case held by this unit; `unknown_unit`", body = ErrorBody),
        (status = 409, description = "`message_id_conflict`", body = ErrorBody),
    )
)]
pub async fn unit_post(
    State(state): State<AppState>,
    AuthedUnit(unit_id): AuthedUnit,
    Path(path): Path<(String, CaseId)>,
    Json(body): Json<PostMessage>,
) -> AppResult<(StatusCode, axum::Json<Posted>)> {
    let (_, case_id) = path;
    let envelope = parse_envelope(&body.envelope)?;
    expect_kind(&envelope, Kind::Reply)?;
    if envelope.unit_id != unit_id {
        return Err(AppError::bad_request(
            code::ENVELOPE_MISMATCH,
            "a reply's envelope must name the unit that posts it",
        ));
    }
    unit_case(&state, case_id, &unit_id).await?;
    let message_id = MessageId(envelope.message_id);
    let stored = store_message(
        &state,
        case_id,
        message_id,
        MessageDirection::ToReporter,
        body.envelope,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(Posted {
            seq: stored.seq,
            message_id,
        }),
    ))
}

/// Reads a case's messages as the unit that holds it.
#[utoipa::path(
    get,
    path = "/v1/units/{unit_id}/cases/{case_id}/messages",
    tag = "desk",
    security(("unit_signature" = [])),
    params(
        ("unit_id" = String, Path, description = "The unit"),
        ("case_id" = String, Path, description = "Case id, 32 hex digits"),
        MessagesQuery,
    ),
    responses(
        (status = 200, description = "Messages after the cursor", body = Messages),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 404, description = "`unknown_case`, `unknown_unit`", body = ErrorBody),
    )
)]
pub async fn unit_read(
    State(state): State<AppState>,
    AuthedUnit(unit_id): AuthedUnit,
    Path(path): Path<(String, CaseId)>,
    Query(query): Query<MessagesQuery>,
) -> AppResult<axum::Json<Messages>> {
    let (_, case_id) = path;
    unit_case(&state, case_id, &unit_id).await?;
    read(&state, case_id, query).await
}
