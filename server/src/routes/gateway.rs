//! The Oblivious HTTP gateway's routes (RFC 9458, at the RFC 9540 location):
//! `GET /.well-known/ohttp-gateway` publishes the live key configurations
//! (`application/ohttp-keys`), and `POST /.well-known/ohttp-gateway` takes an encapsulated request
//! (`message/ohttp-req`), opens it, hands the binary HTTP request inside to the same router as
//! direct requests, and answers with the router's answer encapsulated (`message/ohttp-res`).
//!
//! Refusals before a request opens (an unknown or retired key, a request that does not open, a
//! replay, an oversize body) are plain JSON errors: the relay may read them, and they say nothing
//! about any request's content. Once a request has opened, every answer is encapsulated.
//!
//! The inner request carries no client address (the server never looks at one anyway), and the
//! relay's headers do not reach it: only the fields inside the encapsulation do.

use std::io::Cursor;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, DATE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use tipline_core::api::bounds::{MAX_ALERTS_ANSWER, MAX_PAGE_ANSWER};
use tipline_core::api::code;
use tipline_core::ohttp::{KEYS_MEDIA_TYPE, REQUEST_MEDIA_TYPE, REQUEST_OVERHEAD, RESPONSE_MEDIA_TYPE};
use tower::ServiceExt as _;

use crate::error::{AppError, ErrorBody};
use crate::gateway::{Seen, DATE_SKEW_SECS};
use crate::limits::{ENVELOPE_BODY_BYTES, MAX_CHUNK_BYTES};
use crate::state::AppState;

/// Where the gateway is (RFC 9540 section 3).
pub const GATEWAY_PATH: &str = "/.well-known/ohttp-gateway";
/// Room for the request line and header fields inside an encapsulated request.
const INNER_HEAD_BYTES: usize = 16 * 1024;
/// Largest encapsulated request: the largest body a citizen's request has (an envelope's JSON or
/// an attachment chunk), its head, and the encapsulation.
pub const MAX_REQUEST_BYTES: usize =
    max(ENVELOPE_BODY_BYTES, MAX_CHUNK_BYTES) + INNER_HEAD_BYTES + REQUEST_OVERHEAD;
/// Largest answer the router may give to a request through the gateway (a page of case messages
/// or alerts), its head included.
const MAX_INNER_ANSWER: usize = max(MAX_PAGE_ANSWER, MAX_ALERTS_ANSWER) + INNER_HEAD_BYTES;
/// Time the router has to answer an inner request.
const INNER_TIMEOUT: Duration = Duration::from_secs(60);
/// Fields that describe a connection or a client rather than the request: never passed in.
const DROPPED_FIELDS: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "te",
    "host",
    "content-length",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
    "via",
];

const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

/// The routes, handing opened requests to `direct` (the router of direct requests).
pub fn router(direct: Router) -> Router<AppState> {
    Router::new().route(
        GATEWAY_PATH,
        get(keys).post(move |state: State<AppState>, headers: HeaderMap, body: Bytes| {
            let direct = direct.clone();
            async move { gateway(state, direct, headers, body).await }
        }),
    )
}

/// The live key configurations.
#[utoipa::path(
    get,
    path = "/.well-known/ohttp-gateway",
    tag = "oblivious",
    responses(
        (status = 200, description = "The gateway's live key configurations (RFC 9458 section 3), newest first", content_type = "application/ohttp-keys", body = Vec<u8>),
        (status = 404, description = "`not_found`: this server has no gateway", body = ErrorBody),
    )
)]
pub async fn keys(State(state): State<AppState>) -> Response {
    match state.gateway().keys() {
        Some(keys) => (
            [
                (CONTENT_TYPE, HeaderValue::from_static(KEYS_MEDIA_TYPE)),
                (CACHE_CONTROL, HeaderValue::from_static("max-age=3600")),
            ],
            keys.encoded_list().to_vec(),
        )
            .into_response(),
        None => AppError::not_found(code::NOT_FOUND, "this server has no gateway").into_response(),
    }
}

/// An encapsulated request.
#[utoipa::path(
    post,
    path = "/.well-known/ohttp-gateway",
    tag = "oblivious",
    request_body(content = Vec<u8>, content_type = "message/ohttp-req",
        description = "An encapsulated request (RFC 9458 section 4.3) of a binary HTTP request (RFC 9292) to a citizen's route (not `/v1/units/...`), with a `date` field within 300 s of the gateway's clock"),
    responses(
        (status = 200, description = "The encapsulated answer (RFC 9458 section 4.4): the router's answer as binary HTTP, with the status, fields and body a direct request would get; `bad_date` (400, with the gateway's `date`) or `not_oblivious` (404) inside", content_type = "message/ohttp-res", body = Vec<u8>),
        (status = 400, description = "`unknown_key` (a key never had or retired: fetch the keys again), `bad_encapsulation` (does not open), `replayed` (seen before)", body = ErrorBody),
        (status = 404, description = "`not_found`: this server has no gateway", body = ErrorBody),
        (status = 413, description = "`too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: not `message/ohttp-req`", body = ErrorBody),
    )
)]
pub async fn gateway(
    State(state): State<AppState>,
    direct: Router,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match open_and_answer(&state, direct, &headers, &body).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn open_and_answer(
    state: &AppState,
    direct: Router,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, AppError> {
    let keys = state
        .gateway()
        .keys()
        .ok_or_else(|| AppError::not_found(code::NOT_FOUND, "this server has no gateway"))?;
    if headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) != Some(REQUEST_MEDIA_TYPE) {
        return Err(AppError::unsupported_media_type(REQUEST_MEDIA_TYPE));
    }
    if body.len() > MAX_REQUEST_BYTES {
        return Err(AppError::too_large("the encapsulated request is too long"));
    }
    let server = body.first().and_then(|id| keys.server(*id)).ok_or_else(|| {
        AppError::bad_request(
            code::UNKNOWN_KEY,
            "no live key has this id: fetch the key configurations again",
        )
    })?;
    let bad = || AppError::bad_request(code::BAD_ENCAPSULATION, "the encapsulated request does not open");
    let (inner, opener) = server.decapsulate(body).map_err(|_| bad())?;
    let enc: [u8; 32] = body
        .get(tipline_core::ohttp::HEADER_LEN..tipline_core::ohttp::HEADER_LEN + 32)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(bad)?;
    let now = Utc::now();
    // From here on the request is authentic: every answer goes back encapsulated.
    let answer = match inner_request(&inner, now) {
        Err(refusal) => refusal.into_response(),
        Ok((request, date)) => match state.gateway().remember(enc, date, now.timestamp()) {
            Err(Seen::Replayed) => {
                return Err(AppError::bad_request(
                    code::REPLAYED,
                    "this encapsulated request was seen before",
                ))
            }
            Err(Seen::Full) => {
                return Err(AppError::unavailable(
                    code::BUSY,
                    "the gateway is at capacity; try again shortly",
                )
                .with_header(axum::http::header::RETRY_AFTER, "10".to_string()))
            }
            Ok(()) => match tokio::time::timeout(INNER_TIMEOUT, direct.oneshot(request)).await {
                Ok(Ok(response)) => response,
                Ok(Err(never)) => match never {},
                Err(_) => {
                    AppError::unavailable(code::UNAVAILABLE, "the answer took too long").into_response()
                }
            },
        },
    };
    let inner_answer = encode_answer(answer).await?;
    let sealed = opener
        .encapsulate(&inner_answer)
        .map_err(|e| AppError::internal(format!("encapsulating an answer: {e}")))?;
    Ok((
        StatusCode::OK,
        [
            (CONTENT_TYPE, HeaderValue::from_static(RESPONSE_MEDIA_TYPE)),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        sealed,
    )
        .into_response())
}

/// The request inside, checked and ready for the router, with its date (Unix seconds); or the
/// answer refusing it.
fn inner_request(bytes: &[u8], now: DateTime<Utc>) -> Result<(Request<Body>, i64), AppError> {
    let bad_body = |message: &str| AppError::bad_request(code::BAD_BODY, message.to_string());
    let message = bhttp::Message::read_bhttp::<_, Cursor<&[u8]>>(&mut Cursor::new(bytes))
        .map_err(|_| bad_body("the encapsulated request is not binary HTTP"))?;
    let control = message.control();
    let (Some(method), Some(path)) = (control.method(), control.path()) else {
        return Err(bad_body("the encapsulated message is not a request"));
    };
    let method = Method::from_bytes(method).map_err(|_| bad_body("bad method"))?;
    let path = std::str::from_utf8(path).map_err(|_| bad_body("bad path"))?;
    if !path.starts_with("/v1/") || path.starts_with("/v1/units/") {
        return Err(AppError::not_found(
            code::NOT_OBLIVIOUS,
            "this route is not served through the gateway",
        ));
    }
    // RFC 9458 section 6.5: a Date within the window, or a 400 that tells the gateway's time.
    let date = message
        .header()
        .get(b"date")
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
        .map(|d| d.timestamp())
        .filter(|d| (d - now.timestamp()).abs() <= DATE_SKEW_SECS);
    let Some(date) = date else {
        return Err(AppError::bad_request(
            code::BAD_DATE,
            "the request's date is missing or too far from the gateway's clock",
        )
        .with_header(DATE, http_date(now)));
    };
    let mut request = Request::builder().method(method).uri(path);
    for field in message.header().fields() {
        let name = HeaderName::from_bytes(field.name()).map_err(|_| bad_body("bad field name"))?;
        if DROPPED_FIELDS.contains(&name.as_str()) {
            continue;
        }
        let value = HeaderValue::from_bytes(field.value()).map_err(|_| bad_body("bad field value"))?;
        request = request.header(name, value);
    }
    let content = message.content().to_vec();
    request = request.header(CONTENT_LENGTH, content.len());
    let request = request
        .body(Body::from(content))
        .map_err(|_| bad_body("bad request"))?;
    Ok((request, date))
}

/// An HTTP date (RFC 9110 section 5.6.7), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn http_date(time: DateTime<Utc>) -> String {
    time.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// The router's answer as a known-length binary HTTP response.
async fn encode_answer(answer: Response) -> Result<Vec<u8>, AppError> {
    let (parts, body) = answer.into_parts();
    let content = axum::body::to_bytes(body, MAX_INNER_ANSWER)
        .await
        .map_err(|e| AppError::internal(format!("reading an answer for the gateway: {e}")))?;
    let status = bhttp::StatusCode::try_from(parts.status.as_u16())
        .map_err(|_| AppError::internal("an answer status binary HTTP cannot carry"))?;
    let mut message = bhttp::Message::response(status);
    for (name, value) in &parts.headers {
        if !DROPPED_FIELDS.contains(&name.as_str()) {
            message.put_header(name.as_str(), value.as_bytes());
        }
    }
    message.write_content(&content);
    let mut out = Vec::with_capacity(content.len() + 256);
    message
        .write_bhttp(bhttp::Mode::KnownLength, &mut out)
        .map_err(|e| AppError::internal(format!("encoding an answer: {e}")))?;
    Ok(out)
}
