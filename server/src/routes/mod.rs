//! The API's routes, one module per concern; each exposes `router()` and [`router`] merges them
//! (they are nested under `/v1` by [`crate::app`], except [`health`] at the root).

pub mod alerts;
pub mod attachments;
pub mod cases;
pub mod config;
pub mod directory;
pub mod gateway;
pub mod health;
pub mod inbox;
pub mod openapi;
pub mod reports;
pub mod transfer;

use axum::http::HeaderMap;
use axum::Router;
use tipline_core::crypto::sha256;
use tipline_core::encoding::unb64_array;

use crate::error::AppError;
use crate::state::AppState;
use tipline_core::api::code;

use tipline_core::api::CASE_SECRET_HEADER;

/// Every `/v1` route.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(config::router())
        .merge(directory::router())
        .merge(reports::router())
        .merge(attachments::router())
        .merge(inbox::router())
        .merge(transfer::router())
        .merge(cases::router())
        .merge(alerts::router())
        .merge(openapi::router())
}

/// SHA-256 of the case secret in [`CASE_SECRET_HEADER`]; 400 `bad_case_secret` if it is missing
/// or not 32 bytes of base64url.
pub fn case_secret_hash(headers: &HeaderMap) -> Result<[u8; 32], AppError> {
    let secret: [u8; 32] = headers
        .get(CASE_SECRET_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| unb64_array(v).ok())
        .ok_or_else(|| {
            AppError::bad_request(
                code::BAD_CASE_SECRET,
                "header Tipline-Case-Secret must hold the case secret (32 bytes, base64url)",
            )
        })?;
    Ok(sha256(&secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_case_secret_header() {
        let mut headers = HeaderMap::new();
        assert_eq!(case_secret_hash(&headers).unwrap_err().code(), "bad_case_secret");
        headers.insert(
            CASE_SECRET_HEADER,
            tipline_core::encoding::b64(&[7; 32]).parse().unwrap(),
        );
        assert_eq!(case_secret_hash(&headers).unwrap(), sha256(&[7; 32]));
        headers.insert(CASE_SECRET_HEADER, "short".parse().unwrap());
        assert!(case_secret_hash(&headers).is_err());
    }
}
