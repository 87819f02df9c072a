//! The intake API's shapes, defined once for the server and every client: paths ([`paths`]),
//! header names, request and answer bodies, error codes ([`code`]), and the bounds on what
//! crosses the network ([`bounds`]). The server serves exactly these types, and the citizen's and
//! the desk's clients, the tests and the bindings' test desk send and read them, the way a Matrix
//! server and its clients share `ruma`'s API types.
//!
//! With the `openapi` feature the types also derive `utoipa`'s schemas for the server's OpenAPI
//! document. The feature is the server's: the phone library (`tipline-ffi`) is built without it,
//! so the OpenAPI library never reaches a phone. (A separate crate would not do: the shapes use
//! the core's ids, and the core's clients use the shapes.)

pub mod bounds;
mod cases;
pub mod code;
mod inbox;
pub mod paths;
mod public;
mod reports;

pub use cases::{MessageDirection, Messages, MessagesQuery, PostMessage, Posted, SealedMessage};
pub use inbox::{
    AttachmentProgress, Delivery, Inbox, InboxQuery, MessageNotice, TransferRequest, EVENT_MESSAGE,
    EVENT_REPORT,
};
pub use public::{
    AlertPublished, Alerts, AlertsQuery, DirectoryPublished, DirectoryQuery, PublicLimits, ServerConfig,
};
pub use reports::{DeclaredAttachment, RangeQuery, SubmitReport, Submitted};

use serde::{Deserialize, Serialize};

/// Header that carries the case secret (32 bytes, base64url) on the reporter's routes, and the
/// upload secret on a transferred report's attachment uploads.
pub const CASE_SECRET_HEADER: &str = "tipline-case-secret";
/// Where an attachment upload stands: sent with each chunk, answered to `HEAD` and `PATCH`.
pub const UPLOAD_OFFSET_HEADER: &str = "upload-offset";
/// An attachment's total sealed size, answered to `HEAD`.
pub const UPLOAD_LENGTH_HEADER: &str = "upload-length";
/// The content type of an attachment chunk (`PATCH`).
pub const CHUNK_CONTENT_TYPE: &str = "application/offset+octet-stream";
/// The content type of the desk's live inbox stream.
pub const EVENT_STREAM_CONTENT_TYPE: &str = "text/event-stream";
/// A signed unit request's nonce: 16 random bytes, base64url; the server refuses one it has seen
/// within the signature's validity window ([`crate::request_auth`]).
pub const NONCE_HEADER: &str = "tipline-nonce";
/// The SHA-256 of a signed unit request's body, 64 lowercase hex digits, declared (and signed)
/// before the body, so the server checks the signature before reading it.
pub const CONTENT_SHA256_HEADER: &str = "tipline-content-sha256";
pub use crate::request_auth::{HEADER_SIGNATURE, HEADER_TIMESTAMP, HEADER_UNIT};

/// The body of every error answer: `{"error": "<code>", "message": "<text>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// A stable code a client can act on, e.g. `malformed_envelope` (the list is in the
    /// `code` module).
    #[cfg_attr(feature = "openapi", schema(example = "malformed_json"))]
    pub error: String,
    /// What went wrong, for a person.
    pub message: String,
}
