//! Extractors that reject in the same JSON error format as the handlers, in the order a client
//! can act on: too large (413), wrong content type (415), then shape (400).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use crate::error::AppError;
use tipline_core::api::code;

/// JSON body, like `axum::Json`, with rejections as [`AppError`]s: `too_large` (413),
/// `unsupported_media_type` (415), `malformed_json` (400).
pub struct Json<T>(pub T);

/// Whether the request says its body is JSON (`application/json` or `application/*+json`).
pub fn has_content_type(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .is_some_and(|v| v == expected)
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .is_some_and(|v| v == "application/json" || (v.starts_with("application/") && v.ends_with("+json")))
}

/// Maps a body-reading failure: over the route's limit is a 413, anything else a 400.
pub fn body_rejection(rejection: BytesRejection) -> AppError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        AppError::too_large("request body is larger than this route accepts")
    } else {
        AppError::bad_request(code::BAD_BODY, "could not read the request body")
    }
}

/// Parses JSON bytes into `T`, as [`Json`] does.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    serde_json::from_slice(bytes).map_err(|e| AppError::bad_request(code::MALFORMED_JSON, e.to_string()))
}

impl<S, T> FromRequest<S> for Json<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = is_json(req.headers());
        let bytes = Bytes::from_request(req, state).await.map_err(body_rejection)?;
        if !json {
            return Err(AppError::unsupported_media_type("application/json"));
        }
        parse_json(&bytes).map(Json)
    }
}

/// Path parameters, like `axum::extract::Path`, with a 400 `invalid_path` rejection.
pub struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(rejection) if rejection.status().is_server_error() => {
                Err(AppError::internal(format!("path extraction: {rejection}")))
            }
            Err(rejection) => Err(AppError::bad_request(code::INVALID_PATH, rejection.body_text())),
        }
    }
}

/// Query parameters, like `axum::extract::Query`, with a 400 `invalid_query` rejection.
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Query(value))
            .map_err(|rejection| AppError::bad_request(code::INVALID_QUERY, rejection.body_text()))
    }
}
