//! The desk's errors: one [`DeskError`] for what can go wrong in the desk, and its answer to the
//! browser. An officer sees a short localised page; details go to the log, never report content
//! or a secret.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// What can go wrong in the desk.
#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    /// The core (store, keys, intake) failed.
    #[error("{0}")]
    Core(#[from] tipline_core::Error),
    /// A file could not be read or written.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A team document did not (de)serialise.
    #[error("team data: {0}")]
    Json(#[from] serde_json::Error),
    /// A page did not render.
    #[error("template: {0}")]
    Template(#[from] askama::Error),
    /// Something asked for was not found.
    #[error("not found: {0}")]
    NotFound(String),
    /// The request was not acceptable, with the reason.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// What was wrong.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// The officer may not do this.
    #[error("forbidden")]
    Forbidden,
    /// The configuration is wrong.
    #[error("{0}")]
    Config(String),
    /// A blocking task failed.
    #[error("internal task failed")]
    Task,
}

impl DeskError {
    /// An invalid request.
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> DeskError {
        DeskError::Invalid {
            field,
            reason: reason.into(),
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            DeskError::NotFound(_) => StatusCode::NOT_FOUND,
            DeskError::Invalid { .. } => StatusCode::BAD_REQUEST,
            DeskError::Forbidden => StatusCode::FORBIDDEN,
            DeskError::Core(tipline_core::Error::NotFound(_)) => StatusCode::NOT_FOUND,
            // The core's rules name the field and the rule, never content or a key.
            DeskError::Core(tipline_core::Error::Invalid { .. }) => StatusCode::BAD_REQUEST,
            DeskError::Core(tipline_core::Error::Network(_) | tipline_core::Error::Refused { .. }) => {
                StatusCode::BAD_GATEWAY
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The desk's result.
pub type Result<T, E = DeskError> = std::result::Result<T, E>;

impl IntoResponse for DeskError {
    fn into_response(self) -> Response {
        let status = self.status();
        let text = if let DeskError::Core(tipline_core::Error::Refused { .. }) = &self {
            // What the intake served did not verify: say which document and why.
            tracing::warn!(error = %self, "refused what the intake served");
            self.to_string()
        } else if status == StatusCode::BAD_GATEWAY {
            tracing::warn!(error = %self, "the intake did not answer as expected");
            "The intake server could not be reached or refused the request. Try again.".to_owned()
        } else if status.is_server_error() {
            // The cause may name a file or the store; the browser gets no detail.
            tracing::error!(error = %self, "request failed");
            "The desk could not do this. The error was logged.".to_owned()
        } else {
            self.to_string()
        };
        let mut response = (
            status,
            [("content-type", "text/plain; charset=utf-8")],
            text.clone(),
        )
            .into_response();
        response.extensions_mut().insert(ErrorNote(text));
        response
    }
}

/// Marks an answer as an error the desk made, with its text, so that a browser gets it as a page
/// in the officer's language ([`crate::views::errors`]).
#[derive(Debug, Clone)]
pub struct ErrorNote(pub String);
