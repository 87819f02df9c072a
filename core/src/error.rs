//! The core's error type. Messages name the field or the rule that failed, never a report's
//! content, a codename or a key.

use crate::crypto::CryptoError;

/// An error from the core library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A cryptographic operation failed (see [`CryptoError`]; deliberately terse).
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
    /// The input breaks a rule of the format or the model; the message says which.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field or part at fault, e.g. `report.text` or `directory.expires_at`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A signed document was refused: wrong key, altered, expired or stale.
    #[error("refused {what}: {reason}")]
    Refused {
        /// Which document: `directory`, `alert`, `receipt`.
        what: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// Something the caller named does not exist (a unit, a category, a case).
    #[error("not found: {0}")]
    NotFound(String),
    /// A draft has fields to correct, each with a localisable message id.
    #[error("{} field(s) to correct", .0.len())]
    Draft(Vec<crate::compose::FieldError>),
    /// A call to the server failed (see [`crate::client::http::NetError`]).
    #[error("network: {0}")]
    Network(#[from] crate::client::http::NetError),
    /// JSON that does not parse into the expected shape.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// A file or stream failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// A local database failed. SQLite's messages are about the SQL and the file, never about
    /// what the rows hold (records are sealed before they reach it).
    #[error("storage: {0}")]
    Storage(#[from] rusqlite::Error),
}

impl Error {
    /// An [`Error::Invalid`] for `field`.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// An [`Error::Refused`] for the document `what`.
    pub fn refused(what: &'static str, reason: impl Into<String>) -> Self {
        Error::Refused {
            what,
            reason: reason.into(),
        }
    }
}

/// The core's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
