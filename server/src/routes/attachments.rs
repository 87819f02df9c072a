//! Attachments, uploaded tus-style: the reporter asks where the upload stands (`HEAD`, answered
//! with `Upload-Offset` and `Upload-Length`) and appends sealed bytes at that offset (`PATCH`
//! with `Upload-Offset` and `Content-Type: application/offset+octet-stream`), so an upload cut
//! off by a lost connection or a killed app resumes where it stopped. The reporter proves the
//! right to upload with the case secret; a wrong secret looks exactly like an unknown report.
//! Both are charged to the report's upload budget and the uploads' bucket, after the secret
//! checked.
//!
//! The desk downloads the sealed bytes once complete, whole or by range (`Range: bytes=a-b` or
//! `?offset=&len=`), streamed from the store in slices so memory stays flat.

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header::{ACCEPT_RANGES, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, RANGE};
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, head};
use axum::Router;
use tipline_core::api::paths::route;
use tipline_core::api::{RangeQuery, CHUNK_CONTENT_TYPE, UPLOAD_LENGTH_HEADER, UPLOAD_OFFSET_HEADER};
use tipline_core::report::ReportId;

use crate::auth::AuthedUnit;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::extract::{body_rejection, has_content_type, Path, Query};
use crate::limits::MAX_CHUNK_BYTES;
use crate::routes::case_secret_hash;
use crate::state::AppState;
use crate::store::AppendOutcome;
use tipline_core::api::code;

/// Where an upload stands (request and response).
pub const UPLOAD_OFFSET: HeaderName = HeaderName::from_static(UPLOAD_OFFSET_HEADER);
/// The attachment's total sealed size (response).
pub const UPLOAD_LENGTH: HeaderName = HeaderName::from_static(UPLOAD_LENGTH_HEADER);
/// Bytes read from the store per slice of a download.
const READ_SLICE: u64 = 1024 * 1024;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            route::ATTACHMENT,
            head(upload_state)
                .patch(upload_chunk)
                .layer(DefaultBodyLimit::max(MAX_CHUNK_BYTES)),
        )
        .route(route::UNIT_ATTACHMENT, get(download))
}

fn unknown() -> AppError {
    AppError::not_found(
        code::UNKNOWN_ATTACHMENT,
        "no such attachment for this case secret",
    )
}

/// Where an attachment upload stands.
#[utoipa::path(
    head,
    path = "/v1/reports/{report_id}/attachments/{index}",
    tag = "reporter",
    params(
        ("report_id" = String, Path, description = "Report id, 32 hex digits"),
        ("index" = u16, Path, description = "Attachment index"),
        ("tipline-case-secret" = String, Header, description = "The case secret, base64url of 32 bytes"),
    ),
    responses(
        (status = 204, description = "State in `Upload-Offset` (bytes received) and `Upload-Length` (sealed size)"),
        (status = 400, description = "`bad_case_secret`"),
        (status = 404, description = "`unknown_attachment`: no such attachment, or the secret does not match"),
        (status = 429, description = "`rate_limited`, with `Retry-After`: this report's upload budget or the uploads' is spent (charged only after the secret checked)"),
    )
)]
pub async fn upload_state(
    State(state): State<AppState>,
    Path((report_id, index)): Path<(ReportId, u16)>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let hash = case_secret_hash(&headers)?;
    let upload = state
        .store()
        .attachment_state(report_id, index, Some(hash))
        .await?
        .ok_or_else(unknown)?;
    state.limiters().check_upload(report_id)?;
    Ok((
        StatusCode::NO_CONTENT,
        [
            (UPLOAD_OFFSET, upload.received.to_string()),
            (UPLOAD_LENGTH, upload.sealed_size.to_string()),
            (CACHE_CONTROL, "no-store".to_owned()),
        ],
    )
        .into_response())
}

/// Appends sealed bytes to an attachment at `Upload-Offset`.
#[utoipa::path(
    patch,
    path = "/v1/reports/{report_id}/attachments/{index}",
    tag = "reporter",
    params(
        ("report_id" = String, Path, description = "Report id, 32 hex digits"),
        ("index" = u16, Path, description = "Attachment index"),
        ("tipline-case-secret" = String, Header, description = "The case secret, base64url of 32 bytes"),
        ("upload-offset" = u64, Header, description = "Where this chunk starts: the current `Upload-Offset`"),
    ),
    request_body(content = Vec<u8>, content_type = "application/offset+octet-stream", description = "Sealed bytes, at most `max_chunk_bytes`"),
    responses(
        (status = 204, description = "Appended; the new `Upload-Offset`"),
        (status = 400, description = "`bad_case_secret`, `bad_offset`, `too_long` (past the declared size)", body = ErrorBody),
        (status = 404, description = "`unknown_attachment`", body = ErrorBody),
        (status = 409, description = "`offset_mismatch`: the upload stands at the returned `Upload-Offset`", body = ErrorBody),
        (status = 413, description = "`too_large`: chunk larger than `max_chunk_bytes`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 429, description = "`rate_limited`, with `Retry-After`: this report's upload budget or the uploads' is spent (charged only after the secret checked)", body = ErrorBody),
        (status = 507, description = "`storage_full`: the server's storage budget would not hold the chunk; retry later", body = ErrorBody),
    )
)]
pub async fn upload_chunk(
    State(state): State<AppState>,
    Path((report_id, index)): Path<(ReportId, u16)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> AppResult<Response> {
    let bytes = body.map_err(body_rejection)?;
    if !has_content_type(&headers, CHUNK_CONTENT_TYPE) {
        return Err(AppError::unsupported_media_type(CHUNK_CONTENT_TYPE));
    }
    let hash = case_secret_hash(&headers)?;
    let offset: u64 = headers
        .get(&UPLOAD_OFFSET)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| {
            AppError::bad_request(code::BAD_OFFSET, "header Upload-Offset must hold a byte offset")
        })?;
    // The secret is checked before the budgets are charged, so chunks sent to random reports
    // spend nobody's budget.
    state
        .store()
        .attachment_state(report_id, index, Some(hash))
        .await?
        .ok_or_else(unknown)?;
    state.limiters().check_upload(report_id)?;
    state
        .storage()
        .check_attachments(state.store(), bytes.len() as u64)
        .await?;
    match state
        .store()
        .append_attachment(report_id, index, hash, offset, &bytes)
        .await?
    {
        AppendOutcome::Appended { offset } => {
            state.storage().add(bytes.len() as u64);
            Ok((StatusCode::NO_CONTENT, [(UPLOAD_OFFSET, offset.to_string())]).into_response())
        }
        AppendOutcome::OffsetMismatch { offset } => Err(AppError::conflict(
            code::OFFSET_MISMATCH,
            format!("the upload stands at offset {offset}"),
        )
        .with_header(UPLOAD_OFFSET, offset)),
        AppendOutcome::TooLong => Err(AppError::bad_request(
            code::TOO_LONG,
            "the chunk goes past the attachment's declared size",
        )),
        AppendOutcome::NotFound => Err(unknown()),
    }
}

/// Parses `Range: bytes=a-b`, `bytes=a-` or `bytes=-n` (one range) into `[start, end)`.
fn parse_range(value: &str, total: u64) -> Option<(u64, u64)> {
    let spec = value.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        let suffix: u64 = last.parse().ok()?;
        return (suffix > 0).then(|| (total.saturating_sub(suffix), total));
    }
    let start: u64 = first.parse().ok()?;
    let end = if last.is_empty() {
        total
    } else {
        last.parse::<u64>().ok()?.saturating_add(1).min(total)
    };
    (start < end).then_some((start, end))
}

/// Downloads an attachment's sealed bytes (the unit's own reports only).
#[utoipa::path(
    get,
    path = "/v1/units/{unit_id}/reports/{report_id}/attachments/{index}",
    tag = "desk",
    security(("unit_signature" = [])),
    params(
        ("unit_id" = String, Path, description = "The unit"),
        ("report_id" = String, Path, description = "Report id, 32 hex digits"),
        ("index" = u16, Path, description = "Attachment index"),
        RangeQuery,
    ),
    responses(
        (status = 200, description = "The whole sealed attachment", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 206, description = "The requested range (`Range: bytes=a-b` or `?offset=&len=`)", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 404, description = "`unknown_attachment`, `unknown_unit`", body = ErrorBody),
        (status = 409, description = "`incomplete`: not fully uploaded; `Upload-Offset` says how far", body = ErrorBody),
        (status = 416, description = "`bad_range`", body = ErrorBody),
    )
)]
pub async fn download(
    State(state): State<AppState>,
    AuthedUnit(unit_id): AuthedUnit,
    Path(path): Path<(String, ReportId, u16)>,
    Query(query): Query<RangeQuery>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let (_, report_id, index) = path;
    let not_found = || {
        AppError::not_found(
            code::UNKNOWN_ATTACHMENT,
            "no such attachment in this unit's reports",
        )
    };
    // Whether the report is this unit's comes first: nothing is said about another unit's.
    state
        .store()
        .read_attachment(&unit_id, report_id, index, 0, 0)
        .await?
        .ok_or_else(not_found)?;
    let upload = state
        .store()
        .attachment_state(report_id, index, None)
        .await?
        .ok_or_else(not_found)?;
    if upload.received < upload.sealed_size {
        return Err(AppError::conflict(
            code::INCOMPLETE,
            format!(
                "{} of {} bytes uploaded so far",
                upload.received, upload.sealed_size
            ),
        )
        .with_header(UPLOAD_OFFSET, upload.received));
    }
    let total = upload.sealed_size;
    let bad_range = || {
        AppError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            code::BAD_RANGE,
            "the range is outside the attachment",
        )
        .with_header(CONTENT_RANGE, format!("bytes */{total}"))
    };
    let range = if query.offset.is_some() || query.len.is_some() {
        let start = query.offset.unwrap_or(0);
        let end = query
            .len
            .map_or(total, |len| start.saturating_add(len).min(total));
        if start > total || (start == total && total > 0) || start > end {
            return Err(bad_range());
        }
        Some((start, end))
    } else if let Some(value) = headers.get(RANGE) {
        Some(
            value
                .to_str()
                .ok()
                .and_then(|v| parse_range(v, total))
                .ok_or_else(bad_range)?,
        )
    } else {
        None
    };
    let (start, end) = range.unwrap_or((0, total));
    let status = if range.is_some() {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let stream = futures_util::stream::unfold(Some(start), move |position| {
        let (state, unit_id) = (state.clone(), unit_id.clone());
        async move {
            let position = position.filter(|p| *p < end)?;
            let len = READ_SLICE.min(end - position);
            let read = state
                .store()
                .read_attachment(&unit_id, report_id, index, position, len)
                .await;
            match read {
                Ok(Some(bytes)) if bytes.len() as u64 == len => {
                    Some((Ok(Bytes::from(bytes)), Some(position + len)))
                }
                Ok(_) => Some((Err(std::io::Error::other("attachment changed while read")), None)),
                Err(e) => {
                    tracing::error!(error = %e, "attachment read failed mid-download");
                    Some((Err(std::io::Error::other("store failed")), None))
                }
            }
        }
    });
    let mut response = Response::new(Body::from_stream(stream));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        "application/octet-stream".parse().expect("static header"),
    );
    headers.insert(ACCEPT_RANGES, "bytes".parse().expect("static header"));
    headers.insert(CONTENT_LENGTH, (end - start).into());
    if status == StatusCode::PARTIAL_CONTENT && end > start {
        if let Ok(value) = format!("bytes {start}-{}/{total}", end - 1).parse() {
            headers.insert(CONTENT_RANGE, value);
        }
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn test_parse_range() {
        assert_eq!(parse_range("bytes=0-9", 100), Some((0, 10)));
        assert_eq!(parse_range("bytes=90-", 100), Some((90, 100)));
        assert_eq!(parse_range("bytes=-10", 100), Some((90, 100)));
        assert_eq!(parse_range("bytes=50-500", 100), Some((50, 100)));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
        assert_eq!(parse_range("bytes=x-", 100), None);
    }
}
