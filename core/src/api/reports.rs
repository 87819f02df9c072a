//! Filing a report (`POST /v1/reports`) and its attachments (`HEAD`/`PATCH`
//! `/v1/reports/{report_id}/attachments/{index}`, the desk's `GET` by range).

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::report::{CaseId, ReportId};

/// An attachment a report (or a transfer) declares: uploaded after the report, piece by piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = AttachmentDecl))]
pub struct DeclaredAttachment {
    /// Position in the report, from 0, in order.
    pub index: u16,
    /// Total sealed bytes that will be uploaded.
    pub sealed_size: u64,
}

/// A report submission.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SubmitReport {
    /// The envelope's wire bytes, base64url.
    #[serde(with = "crate::encoding::b64_bytes")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
    pub envelope: Vec<u8>,
    /// The case the report opens, 32 hex digits.
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = String, example = "0123456789abcdef0123456789abcdef")
    )]
    pub case_id: CaseId,
    /// SHA-256 of the case secret, 64 hex digits.
    #[serde(with = "crate::encoding::hex_array")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub case_secret_hash: [u8; 32],
    /// The attachments that will be uploaded.
    #[serde(default)]
    pub attachments: Vec<DeclaredAttachment>,
    /// A stamp for the envelope's digest at the difficulty `/v1/config` announces.
    pub stamp: u64,
}

/// The answer to a submission.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Submitted {
    /// The report id, 32 hex digits.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub report_id: ReportId,
    /// The receipt `{receipt, leaf_index, proof, batch}`: what is attested, its inclusion proof
    /// in a batch, and the batch head signed by the server (docs/protocol.md 10.3); check it with
    /// the server key of `/v1/config` against the envelope sent. Carried as the server stored
    /// it; a client parses it into a `SignedReceipt`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub receipt: Box<RawValue>,
}

/// A byte range of an attachment download by query parameters.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
pub struct RangeQuery {
    /// First byte to read.
    pub offset: Option<u64>,
    /// How many bytes to read (to the end if absent).
    pub len: Option<u64>,
}
