//! The one error the apps see, sorted by what an app can do about it, and the one place that
//! turns a core error into it and decides what is logged. Nothing here carries or logs a report's
//! content, a codename or a key: core messages name fields and rules only, and only the kinds
//! that point at a fault (crypto, storage, network) are logged at all.

use tipline_core::client::http::NetError;
use tipline_core::Error;

/// One field of a draft (or one argument) to correct, for the screen to show next to it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FieldProblem {
    /// The field, e.g. `text`, `category`, `people[1].description`, `attachments[0]`, `codename`.
    pub field: String,
    /// The localisation id of the problem (`field-required`, `field-too-long`, `field-invalid`...);
    /// [`FieldProblem::message`] gives the sentence.
    pub code: String,
    /// The limit the message names, if any.
    pub max: Option<u64>,
}

/// Why a call failed, sorted by what the app can do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum ApiError {
    /// The server could not be reached, was busy or failed, or refused the call.
    #[error("network: {reason}")]
    Network {
        /// The localisation id of the reason to show: `reason-offline`, `reason-busy`,
        /// `reason-server` or `reason-rejected`.
        reason: String,
        /// Whether trying again later may help (false once the server refused the request).
        retryable: bool,
        /// Details for a log or a bug report; not for the reporter's screen.
        detail: String,
    },
    /// The input must be corrected: a draft's fields, a mistyped codename, a malformed id.
    #[error("invalid input: {detail}")]
    InvalidInput {
        /// Each problem with the field it belongs to.
        fields: Vec<FieldProblem>,
        /// A summary for a log.
        detail: String,
    },
    /// Something named does not exist: a unit, a case on this device, a codename's case on the
    /// server, or a directory not fetched yet (refresh the directory first).
    #[error("not found: {what}")]
    NotFound {
        /// What was looked for.
        what: String,
    },
    /// A signature, key or sealed record did not check: a directory, alert or receipt that is
    /// forged, altered, expired or stale, or a local store opened with another key.
    #[error("crypto: {detail}")]
    Crypto {
        /// Which check failed, tersely.
        detail: String,
    },
    /// The device's storage failed: files, the local database, or the platform key store.
    #[error("storage: {detail}")]
    Storage {
        /// What failed.
        detail: String,
    },
}

/// The only conversion from a core error, and the only place that logs one.
pub(crate) fn from_core(error: Error) -> ApiError {
    match error {
        Error::Draft(fields) => ApiError::InvalidInput {
            detail: format!("{} field(s) to correct", fields.len()),
            fields: fields.into_iter().map(FieldProblem::from).collect(),
        },
        Error::Invalid { field, reason } => ApiError::InvalidInput {
            detail: format!("invalid {field}: {reason}"),
            fields: vec![FieldProblem {
                field,
                code: "field-invalid".into(),
                max: None,
            }],
        },
        Error::NotFound(what) => ApiError::NotFound { what },
        Error::Network(e) => {
            tracing::debug!(reason = e.reason_id(), "server call failed");
            network(&e)
        }
        // The only JSON the core parses itself comes from the server (the directory document):
        // unreadable, it is a server fault like a 5xx.
        Error::Json(e) => {
            tracing::warn!(line = e.line(), column = e.column(), "unreadable JSON");
            network(&NetError::Server { status: 0 })
        }
        e @ (Error::Crypto(_) | Error::Refused { .. }) => {
            tracing::warn!(error = %e, "refused by a cryptographic check");
            ApiError::Crypto {
                detail: e.to_string(),
            }
        }
        Error::Io(e) => {
            tracing::warn!(kind = ?e.kind(), "device storage failed");
            ApiError::Storage {
                detail: e.to_string(),
            }
        }
        Error::Storage(e) => {
            tracing::warn!(code = ?e.sqlite_error_code(), "device storage failed");
            ApiError::Storage {
                detail: e.to_string(),
            }
        }
    }
}

fn network(e: &NetError) -> ApiError {
    ApiError::Network {
        reason: e.reason_id().to_owned(),
        retryable: !matches!(e, NetError::Refused { .. }),
        detail: e.to_string(),
    }
}

/// A platform callback (the key store) threw something other than an [`ApiError`], or failed
/// inside the binding layer.
impl From<uniffi::UnexpectedUniFFICallbackError> for ApiError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        tracing::warn!("a platform callback failed unexpectedly");
        ApiError::Storage {
            detail: format!("platform callback failed: {}", e.reason),
        }
    }
}
