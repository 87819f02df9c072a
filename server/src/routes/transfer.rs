//! A desk hands a report (and its case) to another unit. The desk re-seals the report to the
//! other unit's key (the server cannot), so the server checks only what it can see: the new
//! envelope is a report with the same id, addressed to the target unit.

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use serde::Deserialize;
use tipline_core::envelope::Kind;
use tipline_core::report::ReportId;
use utoipa::ToSchema;

use crate::auth::AuthedUnit;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::extract::{Json, Path};
use crate::limits::ENVELOPE_BODY_BYTES;
use crate::push::PushEvent;
use crate::routes::reports::{check_attachments, expect_kind, parse_envelope, AttachmentDecl};
use crate::state::AppState;
use crate::store::TransferOutcome;

/// A transfer.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TransferRequest {
    /// The unit that takes the case over.
    pub to_unit: String,
    /// The report re-sealed to `to_unit` (kind Report, same id), base64url.
    #[serde(with = "tipline_core::encoding::b64_bytes")]
    #[schema(value_type = String, format = Byte)]
    pub envelope: Vec<u8>,
    /// The attachments the desk will upload again, re-sealed.
    #[serde(default)]
    pub attachments: Vec<AttachmentDecl>,
    /// SHA-256 (hex) of a 32-byte secret the desk chose: it uploads the re-sealed attachments
    /// through `PATCH /v1/reports/{report_id}/attachments/{index}` with that secret in
    /// `Tipline-Case-Secret`. Required when `attachments` is not empty.
    #[serde(default)]
    pub upload_secret_hash: Option<String>,
}

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new().route(
        "/units/{unit_id}/reports/{report_id}/transfer",
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
            "same_unit",
            "the report is already this unit's",
        ));
    }
    let envelope = parse_envelope(&request.envelope)?;
    expect_kind(&envelope, Kind::Report)?;
    if envelope.message_id != report_id.0 || envelope.unit_id != request.to_unit {
        return Err(AppError::bad_request(
            "envelope_mismatch",
            "the envelope must carry the same report id and be addressed to to_unit",
        ));
    }
    let attachments = check_attachments(&request.attachments)?;
    let upload_hash = match request.upload_secret_hash.as_deref() {
        Some(text) => {
            let mut hash = [0u8; 32];
            hex::decode_to_slice(text.trim(), &mut hash).map_err(|_| {
                AppError::bad_request("bad_attachments", "upload_secret_hash must be 64 hex digits")
            })?;
            Some(hash)
        }
        None if !attachments.is_empty() => {
            return Err(AppError::bad_request(
                "bad_attachments",
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
            "unknown_report",
            "no such report for this unit",
        )),
    }
}
