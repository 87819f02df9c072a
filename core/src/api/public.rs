//! What anyone may read or the authority and units publish: the server's configuration
//! (`/v1/config`), the directory's publication (`PUT /v1/directory`) and alerts (`/v1/alerts`,
//! `/v1/units/{unit_id}/alerts`).

use serde::{Deserialize, Serialize};

use crate::keys::VerifyingKey;
use crate::report::MessageId;
use crate::signed::Signed;

/// The server's public configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServerConfig {
    /// Leading zero bits a submission's stamp must have now (`tipline_core::stamp`). It rises
    /// while the server is flooded and falls back when it calms: read it before each attempt.
    pub stamp_difficulty: u8,
    /// The Ed25519 key that signs receipts, base64url.
    pub server_key: String,
    /// Its key id (hex), as receipts name it.
    pub server_key_id: String,
    /// Size limits.
    pub limits: PublicLimits,
    /// Seconds a delivery to a desk holds before the report is delivered again.
    pub lease_seconds: u64,
    /// Seconds a signed unit request's timestamp may be off the server's clock.
    pub max_clock_skew_seconds: i64,
}

impl ServerConfig {
    /// The receipt key.
    pub fn receipt_key(&self) -> crate::Result<VerifyingKey> {
        Ok(VerifyingKey(crate::encoding::unb64_array(&self.server_key)?))
    }
}

/// The limits a client needs to know, as `/v1/config` publishes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublicLimits {
    /// Largest envelope, in bytes.
    pub max_envelope_bytes: usize,
    /// Most attachments per report.
    pub max_attachments: usize,
    /// Largest sealed attachment, in bytes.
    pub max_attachment_bytes: u64,
    /// Most sealed bytes of attachments one report may declare, all together (0 from a server
    /// that does not say: then only `max_attachments` of `max_attachment_bytes` bound it).
    #[serde(default)]
    pub max_report_attachment_bytes: u64,
    /// Largest attachment chunk per `PATCH`, in bytes.
    pub max_chunk_bytes: usize,
    /// Largest JSON body that carries an envelope, in bytes.
    pub max_envelope_body_bytes: usize,
    /// Largest signed alert, in bytes.
    pub max_alert_bytes: usize,
    /// Most reports one inbox request returns.
    pub max_inbox_batch: u32,
    /// Most case messages or alerts one read returns.
    pub max_page: u32,
    /// Envelope bytes after which a page of case messages or inbox reports takes no more (the
    /// first item is always taken).
    pub max_page_envelope_bytes: usize,
}

/// What a directory's publication answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = Published))]
pub struct DirectoryPublished {
    /// The version now published.
    pub version: u64,
}

/// Where a published alert landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertPublished {
    /// The alert's id.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub alert_id: MessageId,
}

/// Alerts for a region.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Alerts {
    /// Signed alerts `{payload, key_id, signature}`, newest first; verify each against the
    /// issuing unit's key in the directory.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub alerts: Vec<Signed>,
}

/// Which directory to read.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
pub struct DirectoryQuery {
    /// The newest directory format the app reads (default 1, what apps that send no query read).
    /// The server answers with the newest published format up to it.
    pub format: Option<u32>,
}

/// Which alerts to read.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
pub struct AlertsQuery {
    /// ISO 3166 code: `DK` or `DK-84` (a subdivision also gets its country's alerts).
    pub region: Option<String>,
    /// Most alerts (default and maximum 200).
    pub limit: Option<u32>,
}
