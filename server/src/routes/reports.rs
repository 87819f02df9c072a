//! `POST /v1/reports`: intake of a sealed report. The checks run cheapest and most actionable
//! first: size (413), content type (415), JSON shape (400), the envelope's framing, its kind, the
//! unit (404), the declared attachments, the anti-abuse stamp (403), and only then the reports'
//! bucket (429), which no other kind of request draws from, and the storage budget (507). Then
//! the server signs a receipt (in a batch with those submitted at the same moment), the store
//! commits durably, and only then the client is answered and the unit's live desks are told.
//!
//! The report id is the idempotency key: the same envelope again gets the first receipt (200),
//! another envelope under the same id is refused (409).

use std::time::Instant;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use chrono::{DurationRound, TimeDelta, Utc};
use serde_json::value::RawValue;
use tipline_core::api::paths::route;
use tipline_core::api::{DeclaredAttachment, SubmitReport, Submitted};
use tipline_core::crypto::sha256;
use tipline_core::envelope::{Envelope, Kind};
use tipline_core::receipt::Receipt;
use tipline_core::report::{ReportId, MAX_ATTACHMENTS};

use crate::error::{AppError, AppResult, ErrorBody};
use crate::extract::Json;
use crate::limits::{max_sealed_attachment, Family, ENVELOPE_BODY_BYTES};
use crate::push::PushEvent;
use crate::state::AppState;
use crate::store::{NewReport, SubmitOutcome};
use tipline_core::api::code;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new().route(
        route::REPORTS,
        post(submit_report).layer(DefaultBodyLimit::max(ENVELOPE_BODY_BYTES)),
    )
}

/// Checks declared attachments: indices 0..n in order, at most [`MAX_ATTACHMENTS`], each no
/// larger than the largest sealed attachment, all together no more than `max_total` sealed
/// bytes. 400 `bad_attachments` otherwise.
pub fn check_attachments(
    attachments: &[DeclaredAttachment],
    max_total: u64,
) -> AppResult<Vec<DeclaredAttachment>> {
    let bad = |message: String| AppError::bad_request(code::BAD_ATTACHMENTS, message);
    if attachments.len() > MAX_ATTACHMENTS {
        return Err(bad(format!("at most {MAX_ATTACHMENTS} attachments")));
    }
    let total = attachments
        .iter()
        .fold(0u64, |sum, a| sum.saturating_add(a.sealed_size));
    if total > max_total {
        return Err(bad(format!(
            "the attachments come to {total} sealed bytes; a report may have {max_total}"
        )));
    }
    let max = max_sealed_attachment();
    attachments
        .iter()
        .enumerate()
        .map(|(i, a)| {
            if usize::from(a.index) != i {
                return Err(bad(format!(
                    "attachment {i} has index {}; indices go 0, 1, 2...",
                    a.index
                )));
            }
            if a.sealed_size > max {
                return Err(bad(format!("attachment {i} is larger than {max} sealed bytes")));
            }
            Ok(*a)
        })
        .collect()
}

/// Parses an envelope, 400 `malformed_envelope` if it does not frame.
pub fn parse_envelope(bytes: &[u8]) -> AppResult<Envelope> {
    Envelope::from_bytes(bytes).map_err(|_| {
        AppError::bad_request(
            code::MALFORMED_ENVELOPE,
            "the envelope does not parse (version, suite, kind, lengths)",
        )
    })
}

/// Refuses an envelope of another kind (400 `wrong_kind`).
pub fn expect_kind(envelope: &Envelope, kind: Kind) -> AppResult<()> {
    if envelope.kind == kind {
        Ok(())
    } else {
        Err(AppError::bad_request(
            code::WRONG_KIND,
            format!("expected an envelope of kind {kind:?}"),
        ))
    }
}

/// Submits a sealed report.
#[utoipa::path(
    post,
    path = "/v1/reports",
    tag = "reporter",
    request_body = SubmitReport,
    responses(
        (status = 201, description = "Stored durably", body = Submitted),
        (status = 200, description = "Stored before: the first receipt", body = Submitted),
        (status = 400, description = "`malformed_json`, `malformed_envelope`, `wrong_kind`, `bad_attachments` (order, count, size, or more together than `max_report_attachment_bytes`)", body = ErrorBody),
        (status = 403, description = "`bad_stamp`: the stamp does not meet the difficulty `/v1/config` announces (or one it announced within the grace period) for this envelope; read it again and solve again", body = ErrorBody),
        (status = 404, description = "`unknown_unit`", body = ErrorBody),
        (status = 409, description = "`report_id_conflict` (another envelope under this id), `case_conflict` (case id taken)", body = ErrorBody),
        (status = 413, description = "`too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 429, description = "`rate_limited`, with `Retry-After`: the reports' bucket is spent (charged only after the stamp checked)", body = ErrorBody),
        (status = 503, description = "`no_directory`", body = ErrorBody),
        (status = 507, description = "`storage_full`: the server's storage budget would not hold the report and its declared attachments; retry later", body = ErrorBody),
    )
)]
pub async fn submit_report(
    State(state): State<AppState>,
    body: Result<Json<SubmitReport>, AppError>,
) -> Response {
    let result = match body {
        Ok(Json(submission)) => submit(&state, submission).await,
        Err(e) => Err(e),
    };
    let metrics = state.metrics();
    match result {
        Ok((status, submitted)) => {
            if status == StatusCode::CREATED {
                metrics.report_accepted();
            } else {
                metrics.report_duplicate();
            }
            (status, axum::Json(submitted)).into_response()
        }
        Err(e) => {
            metrics.report_rejected(e.code());
            e.into_response()
        }
    }
}

async fn submit(state: &AppState, submission: SubmitReport) -> AppResult<(StatusCode, Submitted)> {
    let envelope = parse_envelope(&submission.envelope)?;
    expect_kind(&envelope, Kind::Report)?;
    state.unit_key(&envelope.unit_id)?;
    let attachments = check_attachments(
        &submission.attachments,
        state.settings().max_report_attachment_bytes,
    )?;
    let digest = sha256(&submission.envelope);
    let now = Instant::now();
    let accepted = state.difficulty().accepted(now);
    if !tipline_core::stamp::verify(&digest, accepted, submission.stamp) {
        let difficulty = state.difficulty().current(now);
        return Err(AppError::new(
            StatusCode::FORBIDDEN,
            code::BAD_STAMP,
            format!("the stamp does not meet difficulty {difficulty} for this envelope"),
        ));
    }
    // Counted before the bucket: a flood that the bucket holds back still raises the difficulty.
    state.difficulty().record(now);
    state.limiters().check(Family::Reports)?;
    // The declared attachments must fit too (in the attachments' share of the budget), so that a
    // report is refused rather than its uploads half-way.
    let envelope_bytes = submission.envelope.len() as u64;
    let declared = attachments
        .iter()
        .fold(0u64, |sum, a| sum.saturating_add(a.sealed_size));
    if declared == 0 {
        state.storage().check(state.store(), envelope_bytes).await?;
    } else {
        state
            .storage()
            .check_attachments(state.store(), envelope_bytes.saturating_add(declared))
            .await?;
    }

    // Whole seconds: the receipt needs no finer time, and the store keeps no finer trace.
    let now = Utc::now();
    let now = now.duration_trunc(TimeDelta::seconds(1)).unwrap_or(now);
    let report_id = ReportId(envelope.message_id);
    // The digest of the bytes received is the envelope's digest: no need to re-encode and hash.
    let receipt = state
        .receipts()
        .sign(Receipt {
            report_id,
            envelope_sha256: digest,
            received_at: now,
        })
        .await?;
    // Serialized once: the same bytes are stored and sent.
    let receipt =
        serde_json::value::to_raw_value(&receipt).map_err(|e| AppError::internal(format!("receipt: {e}")))?;
    let outcome = state
        .store()
        .submit_report(NewReport {
            report_id,
            unit_id: envelope.unit_id.clone(),
            envelope: submission.envelope,
            envelope_sha256: digest,
            case_id: submission.case_id,
            case_secret_hash: submission.case_secret_hash,
            attachments,
            received_at: now,
            receipt: receipt.get().as_bytes().to_vec(),
        })
        .await?;
    match outcome {
        SubmitOutcome::Created => {
            state.storage().add(envelope_bytes);
            state.push().notify(&envelope.unit_id, PushEvent::Report);
            Ok((StatusCode::CREATED, Submitted { report_id, receipt }))
        }
        SubmitOutcome::Duplicate { receipt } => {
            let receipt = String::from_utf8(receipt)
                .ok()
                .and_then(|json| RawValue::from_string(json).ok())
                .ok_or_else(|| AppError::internal("the stored receipt is not JSON"))?;
            Ok((StatusCode::OK, Submitted { report_id, receipt }))
        }
        SubmitOutcome::Conflict => Err(AppError::conflict(
            code::REPORT_ID_CONFLICT,
            "another envelope was stored under this report id",
        )),
        SubmitOutcome::CaseConflict => Err(AppError::conflict(
            code::CASE_CONFLICT,
            "this case id is in use; open the report under a new case",
        )),
    }
}
