//! The case conversation: `/v1/cases/{case_id}/messages` for the reporter (with the case
//! secret), `/v1/units/{unit_id}/cases/{case_id}/messages` for the unit (signed).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::report::MessageId;

/// Which way a case message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageDirection {
    /// From the reporter to the unit (a follow-up).
    ToUnit,
    /// From the unit to the reporter (a reply).
    ToReporter,
}

impl MessageDirection {
    /// The name on the wire and in storage: `to_unit` or `to_reporter`.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageDirection::ToUnit => "to_unit",
            MessageDirection::ToReporter => "to_reporter",
        }
    }

    /// The direction named `name`, if it is one.
    pub fn from_name(name: &str) -> Option<Self> {
        [MessageDirection::ToUnit, MessageDirection::ToReporter]
            .into_iter()
            .find(|d| d.as_str() == name)
    }
}

/// A message to post.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PostMessage {
    /// The envelope (a follow-up from the reporter, a reply from the unit), base64url.
    #[serde(with = "crate::encoding::b64_bytes")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
    pub envelope: Vec<u8>,
}

/// Where a posted message landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Posted {
    /// Its position in the case.
    pub seq: i64,
    /// Its id (the envelope's).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub message_id: MessageId,
}

/// A message of a case, sealed, as the server relays it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = CaseMessageJson))]
pub struct SealedMessage {
    /// Its position in the case; the read cursor.
    pub seq: i64,
    /// Its id.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub message_id: MessageId,
    /// `to_unit` (a follow-up) or `to_reporter` (a reply).
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "to_reporter"))]
    pub direction: MessageDirection,
    /// The envelope's wire bytes, base64url.
    #[serde(with = "crate::encoding::b64_bytes")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub envelope: Vec<u8>,
    /// When the server stored it.
    pub created_at: DateTime<Utc>,
}

/// A page of messages.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Messages {
    /// The messages, in order.
    pub messages: Vec<SealedMessage>,
    /// The cursor for the next read (`after=`).
    pub next: i64,
}

/// Which messages to read.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
pub struct MessagesQuery {
    /// Only messages with a greater `seq` (default 0: from the start).
    pub after: Option<i64>,
    /// Most messages (default and maximum 200); a page holds fewer once its envelopes reach
    /// `max_page_envelope_bytes` of `/v1/config` (always at least one): read on from `next`.
    pub limit: Option<u32>,
}
