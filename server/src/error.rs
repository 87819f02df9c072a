//! The one error type of the handlers. A client's mistake is a 4xx with a stable code and a
//! human message: `{"error": "<code>", "message": "<text>"}`; anything else is a generic 500 (or
//! 503) whose detail goes only to the log. The error rides in the response's extensions as an
//! [`ErrorInfo`], and the logging middleware ([`crate::metrics::observe`]) writes it down.
//!
//! Messages never carry a report's content, a case secret or a key; client messages may quote
//! what the client itself sent (serde's reasons), so they are shortened and never logged.

use std::fmt;

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
pub use tipline_core::api::ErrorBody;

use crate::store::StoreError;
use tipline_core::api::code;

/// Longest message returned to a client, in characters.
const MAX_MESSAGE_CHARS: usize = 300;

/// An error a handler returns (boxed: errors are rare, results are everywhere).
#[derive(Debug)]
pub struct AppError(Box<Inner>);

#[derive(Debug)]
struct Inner {
    status: StatusCode,
    code: &'static str,
    message: String,
    headers: HeaderMap,
    /// For server faults: what went wrong, for the log only.
    detail: Option<String>,
}

/// What the logging middleware learns about an error response.
#[derive(Debug, Clone)]
pub struct ErrorInfo {
    /// The stable code.
    pub code: &'static str,
    /// For server faults, the detail to log; `None` for client mistakes.
    pub detail: Option<String>,
}

fn shorten(message: String) -> String {
    if message.chars().count() <= MAX_MESSAGE_CHARS {
        message
    } else {
        let mut short: String = message.chars().take(MAX_MESSAGE_CHARS).collect();
        short.push_str("...");
        short
    }
}

impl AppError {
    /// A client error with `status`, a stable `code` and a message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        AppError(Box::new(Inner {
            status,
            code,
            message: shorten(message.into()),
            headers: HeaderMap::new(),
            detail: None,
        }))
    }

    /// 400 with `code`.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 404 with `code`.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 409 with `code`.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 401 `unauthorized`, deliberately vague about why.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            code::UNAUTHORIZED,
            "missing or invalid request signature",
        )
    }

    /// 401 `unauthorized` with a specific `message`, where saying why helps an honest desk and
    /// tells an attacker nothing (an old protocol version, a spent nonce).
    pub fn unauthorized_because(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code::UNAUTHORIZED, message)
    }

    /// 413 `too_large`.
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, code::TOO_LARGE, message)
    }

    /// 415 `unsupported_media_type`.
    pub fn unsupported_media_type(expected: &str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code::UNSUPPORTED_MEDIA_TYPE,
            format!("expected Content-Type: {expected}"),
        )
    }

    /// 404 `unknown_unit`.
    pub fn unknown_unit() -> Self {
        Self::not_found(code::UNKNOWN_UNIT, "no such unit in the published directory")
    }

    /// 429 `rate_limited` with `Retry-After`.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            code::RATE_LIMITED,
            format!("too many requests; retry after {retry_after_secs} s"),
        )
        .with_header(axum::http::header::RETRY_AFTER, retry_after_secs.to_string())
    }

    /// 503 with `code`: the server cannot serve this yet (no directory, store closing).
    pub fn unavailable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
    }

    /// 507 `storage_full`: the storage budget is reached.
    pub fn storage_full() -> Self {
        Self::new(
            StatusCode::INSUFFICIENT_STORAGE,
            code::STORAGE_FULL,
            "the server's storage is full; try again later",
        )
    }

    /// A server fault: a generic 500 for the client, `detail` for the log.
    pub fn internal(detail: impl Into<String>) -> Self {
        AppError(Box::new(Inner {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: code::INTERNAL,
            message: "internal server error".to_owned(),
            headers: HeaderMap::new(),
            detail: Some(detail.into()),
        }))
    }

    /// Adds a response header (e.g. `Upload-Offset` on an offset mismatch).
    pub fn with_header(mut self, name: impl Into<HeaderName>, value: impl fmt::Display) -> Self {
        if let Ok(value) = HeaderValue::from_str(&value.to_string()) {
            self.0.headers.insert(name.into(), value);
        }
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.0.code
    }

    /// The message the client sees.
    pub fn message(&self) -> &str {
        &self.0.message
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.0.status.as_u16(),
            self.0.code,
            self.0.message
        )
    }
}

impl std::error::Error for AppError {}

impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Closed => {
                let mut e = AppError::unavailable(code::UNAVAILABLE, "the server is shutting down");
                e.0.detail = Some("store closed".to_owned());
                e
            }
            StoreError::Unavailable(_) => {
                let mut e = AppError::unavailable(
                    code::STORAGE_UNAVAILABLE,
                    "the server cannot reach its database; retry shortly",
                )
                .with_header(axum::http::header::RETRY_AFTER, 2);
                e.0.detail = Some(err.to_string());
                e
            }
            StoreError::Database(_) => AppError::internal(err.to_string()),
            StoreError::MessageIdTaken => AppError::conflict(
                code::MESSAGE_ID_CONFLICT,
                "another message was stored under this message id",
            ),
        }
    }
}

impl From<tipline_core::Error> for AppError {
    /// Core errors reaching a handler unmapped are server faults (a client's mistake is mapped
    /// to its own code where it happens).
    fn from(err: tipline_core::Error) -> Self {
        AppError::internal(format!("core: {err}"))
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let Inner {
            status,
            code,
            message,
            headers,
            detail,
        } = *self.0;
        let mut response = (
            status,
            headers,
            Json(ErrorBody {
                error: code.to_owned(),
                message,
            }),
        )
            .into_response();
        response.extensions_mut().insert(ErrorInfo { code, detail });
        response
    }
}

/// The handlers' result type.
pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_internal_hides_detail() {
        let response = AppError::internal("database is locked at /secret/path").into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let info = response.extensions().get::<ErrorInfo>().unwrap();
        assert_eq!(info.code, "internal");
        assert!(info.detail.as_deref().unwrap().contains("locked"));
    }

    #[test]
    fn test_a_message_id_taken_elsewhere_is_a_409_with_a_stable_code() {
        let response = AppError::from(StoreError::MessageIdTaken).into_response();
        assert_eq!(response.status(), StatusCode::CONFLICT);
        let info = response.extensions().get::<ErrorInfo>().unwrap();
        assert_eq!(info.code, "message_id_conflict");
    }

    #[test]
    fn test_long_messages_are_shortened() {
        let e = AppError::bad_request("malformed_json", "x".repeat(10_000));
        assert!(e.message().len() < 400);
    }
}
