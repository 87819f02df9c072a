//! The server's signed receipt for a report: the reporter's proof of filing. It names the report
//! id and the SHA-256 of the envelope's exact bytes, so it proves what was filed, not just that
//! something was.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::envelope::Envelope;
use crate::keys::{SigningKey, VerifyingKey};
use crate::report::ReportId;
use crate::signed::{Context, Signed};
use crate::{Error, Result};

/// What the server attests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// The report's id.
    pub report_id: ReportId,
    /// SHA-256 of the envelope's wire bytes.
    #[serde(with = "crate::encoding::hex_array")]
    pub envelope_sha256: [u8; 32],
    /// When the server committed it.
    pub received_at: DateTime<Utc>,
}

impl Receipt {
    /// A receipt for `envelope`, received at `received_at`.
    pub fn for_envelope(envelope: &Envelope, received_at: DateTime<Utc>) -> Self {
        Receipt {
            report_id: ReportId(envelope.message_id),
            envelope_sha256: envelope.digest(),
            received_at,
        }
    }

    /// Signs it with the server's key.
    pub fn sign(&self, server_key: &SigningKey) -> Result<Signed> {
        Signed::sign(Context::Receipt, self, server_key)
    }

    /// Checks a signed receipt against the server's key and the envelope it must name.
    pub fn verify(signed: &Signed, server_key: &VerifyingKey, envelope: &Envelope) -> Result<Receipt> {
        let receipt: Receipt = signed.verify(Context::Receipt, server_key)?;
        if receipt.report_id.0 != envelope.message_id || receipt.envelope_sha256 != envelope.digest() {
            return Err(Error::refused("receipt", "names another envelope"));
        }
        Ok(receipt)
    }
}
