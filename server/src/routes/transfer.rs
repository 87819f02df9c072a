//! A desk hands a report (and its case) to another unit. The desk re-seals the report to the
//! other unit's key (the server cannot), so the server checks only what it can see: the new
//! envelope is a report with the same id, addressed to the target unit.

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use tipline_core::api::paths::route;
use tipline_core::api::TransferRequest;
use tipline_core::envelope::Kind;
use tipline_core::report::ReportId;

use crate::auth::AuthedUnit;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::extract::{Json, Path};
use crate::limits::ENVELOPE_BODY_BYTES;
use crate::push::PushEvent;
use crate::routes::reports::{check_attachments, expect_kind, parse_envelope};
use crate::state::AppState;
use crate::store::TransferOutcome;
use tipline_core::api::code;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new().route(
        route::UNIT_TRANSFER,
        post(transfer).layer(DefaultBodyLimit::max(ENVELOPE_BODY_BYTES)),
    )
}

/// Transfers a report and its case to another unit.
#[utoipa::path(
    post,
    path = "/v1/units/{unit_id}/reports/{report_id}/transfer",
    tag = "desk",
    security(("unit_signature" = [])),
    params(
        ("unit_id" = String, Path, description = "The unit that holds the report now"),
        ("report_id" = String, Path, description = "Report id, 32 hex digits"),
    ),
    request_body = TransferRequest,
    responses(
        (status = 204, description = "Moved and queued for the other unit's desks"),
        (status = 400, description = "`malformed_json`, `malformed_envelope`, `wrong_kind`, `envelope_mismatch`, `same_unit`, `bad_attachments`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 404, description = "`unknown_unit` (either unit), `unknown_report`", body = ErrorBody),
    )
)]
pub async fn transfer(
    State(state): State<AppState>,
    AuthedUnit(unit_id): AuthedUnit,
    Path(path): Path<(String, ReportId)>,
    Json(request): Json<TransferRequest>,
) -> AppResult<StatusCode> {
    let (_, report_id) = path;
    state.unit_key(&request.to_unit)?;
    if request.to_unit == unit_id {
        return Err(AppError::bad_request(
            code::SAME_UNIT,
            "the report is already this unit's",
        ));
    }
    let envelope = parse_envelope(&request.envelope)?;
    expect_kind(&envelope, Kind::Report)?;
    if envelope.message_id != report_id.0 || envelope.unit_id != request.to_unit {
        return Err(AppError::bad_request(
            code::ENVELOPE_MISMATCH,
            "the envelope must carry the same report id and be addressed to to_unit",
        ));
    }
    let attachments = check_attachments(&request.attachments, state.settings().max_report_attachment_bytes)?;
    let upload_hash = match request.upload_secret_hash.as_deref() {
        Some(text) => {
            let mut hash = [0u8; 32];
            hex::decode_to_slice(text.trim(), &mut hash).map_err(|_| {
                AppError::bad_request(code::BAD_ATTACHMENTS, "upload_secret_hash must be 64 hex digits")
            })?;
            Some(hash)
        }
        None if !attachments.is_empty() => {
            return Err(AppError::bad_request(
                code::BAD_ATTACHMENTS,
                "re-declared attachments need an upload_secret_hash to upload them with",
            ))
        }
        None => None,
    };
    let outcome = state
        .store()
        .transfer_report(
            &unit_id,
            report_id,
            &request.to_unit,
            request.envelope,
            attachments,
            upload_hash,
        )
        .await?;
    match outcome {
        TransferOutcome::Moved => {
            state.push().notify(&request.to_unit, PushEvent::Report);
            tracing::info!("report transferred");
            Ok(StatusCode::NO_CONTENT)
        }
        TransferOutcome::NotFound => Err(AppError::not_found(
            code::UNKNOWN_REPORT,
            "no such report for this unit",
        )),
    }
}
