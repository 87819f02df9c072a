//! A unit's inbox (`/v1/units/{unit_id}/inbox`, its live stream `.../inbox/stream`,
//! `.../reports/{report_id}/ack` and the batched `.../acks`) and the transfer of a report to
//! another unit.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::DeclaredAttachment;
use crate::report::{CaseId, ReportId};

/// The live stream's event that carries a [`Delivery`] (its `id` is the report id).
pub const EVENT_REPORT: &str = "report";
/// The live stream's event that carries a [`MessageNotice`].
pub const EVENT_MESSAGE: &str = "message";

/// Upload state of one attachment of a delivered report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttachmentProgress {
    /// Position in the report.
    pub index: u16,
    /// Total sealed bytes declared.
    pub sealed_size: u64,
    /// Sealed bytes received so far (the resume offset).
    pub received: u64,
}

/// A report delivered to a desk under a lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = DeliveredReport))]
pub struct Delivery {
    /// The report id; acknowledge it once stored at the desk.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub report_id: ReportId,
    /// The envelope's wire bytes, base64url.
    #[serde(with = "crate::encoding::b64_bytes")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub envelope: Vec<u8>,
    /// The case it opens.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub case_id: CaseId,
    /// Declared attachments and their upload state.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub attachments: Vec<AttachmentProgress>,
    /// When the server received it.
    pub received_at: DateTime<Utc>,
    /// How many times it has been delivered, this one included.
    pub delivery_count: u32,
    /// Unacknowledged by then, it is delivered again.
    pub lease_until: DateTime<Utc>,
}

/// A batch of leased reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Inbox {
    /// The reports, oldest first.
    pub reports: Vec<Delivery>,
}

/// A batched acknowledgement (`POST /v1/units/{unit_id}/acks`): reports stored at the desk, not
/// to be delivered again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AckBatch {
    /// 1 to [`super::bounds::MAX_ACK_BATCH`] report ids (32 hex digits each); one named twice
    /// counts once.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>, min_items = 1, max_items = 100))]
    pub report_ids: Vec<ReportId>,
}

// The schema's `max_items` is a literal: it must say the bound.
const _: () = assert!(super::bounds::MAX_ACK_BATCH == 100);

/// The answer to an [`AckBatch`]: every id is acknowledged (now or before) except those listed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AckBatchAnswer {
    /// The ids that are not reports of this unit: nothing was done with them.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub unknown: Vec<ReportId>,
}

/// The `message` event of a stream: a reporter posted in one of the unit's cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageNotice {
    /// The case.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub case_id: CaseId,
    /// The new message's position; read from the one before it.
    pub seq: i64,
}

/// Query of the pull inbox.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
pub struct InboxQuery {
    /// Most reports to lease (default and maximum 100); fewer are leased once their envelopes
    /// reach `max_page_envelope_bytes` of `/v1/config` (always at least one), the rest staying
    /// queued for the next request.
    pub limit: Option<u32>,
}

/// A transfer (`POST /v1/units/{unit_id}/reports/{report_id}/transfer`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TransferRequest {
    /// The unit that takes the case over.
    pub to_unit: String,
    /// The report re-sealed to `to_unit` (kind Report, same id), base64url.
    #[serde(with = "crate::encoding::b64_bytes")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
    pub envelope: Vec<u8>,
    /// The attachments the desk will upload again, re-sealed.
    #[serde(default)]
    pub attachments: Vec<DeclaredAttachment>,
    /// SHA-256 (hex) of a 32-byte secret the desk chose: it uploads the re-sealed attachments
    /// through `PATCH /v1/reports/{report_id}/attachments/{index}` with that secret in
    /// `Tipline-Case-Secret`. Required when `attachments` is not empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_secret_hash: Option<String>,
}
