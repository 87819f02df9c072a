//! The authority-signed directory: served as stored, replaced only by a newer version that
//! verifies against the authority key the server was started with. The server can neither
//! forge nor alter it; it only refuses what does not verify, so that it never routes reports by
//! a directory devices would refuse.

use axum::extract::{DefaultBodyLimit, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use tipline_core::api::paths::route;
use tipline_core::api::{DirectoryPublished, DirectoryQuery};
use tipline_core::directory::{SignedDirectory, DIRECTORY_FORMATS};

use crate::error::{AppError, AppResult, ErrorBody};
use crate::extract::{Json, Query};
use crate::limits::{Family, DIRECTORY_BODY_BYTES};
use crate::state::AppState;
use tipline_core::api::code;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new().route(
        route::DIRECTORY,
        get(get_directory)
            .put(put_directory)
            .layer(DefaultBodyLimit::max(DIRECTORY_BODY_BYTES)),
    )
}

/// The published signed directory, exactly as stored: of those in a format the app reads (up to
/// the one asked for; format 1 when none is asked for, as apps that know only format 1 ask), the
/// newest version, and of one version the newest format. If none is that old, the oldest format
/// published: such an app then names the format it cannot read.
#[utoipa::path(
    get,
    path = "/v1/directory",
    tag = "public",
    params(DirectoryQuery),
    responses(
        (status = 200, description = "The signed directory `{payload, key_id, signature}`; verify it against the pinned authority key", body = Object),
        (status = 400, description = "`invalid_query`: `format` is not a number", body = ErrorBody),
        (status = 404, description = "`no_directory`: none published yet", body = ErrorBody),
        (status = 429, description = "`rate_limited`, with `Retry-After`: the reads' bucket (config, directory, alerts) is spent", body = ErrorBody),
    )
)]
pub async fn get_directory(
    State(state): State<AppState>,
    Query(query): Query<DirectoryQuery>,
) -> AppResult<Response> {
    state.limiters().check(Family::Reads)?;
    let asked = query.format.unwrap_or(1);
    let mut readable = None;
    let mut unreadable = None;
    for format in DIRECTORY_FORMATS {
        let Some((version, json)) = state.store().directory(format).await? else {
            continue;
        };
        if format > asked {
            unreadable = unreadable.or(Some(json));
        } else if readable.as_ref().is_none_or(|(newest, _)| *newest <= version) {
            readable = Some((version, json));
        }
    }
    let json = readable
        .map(|(_, json)| json)
        .or(unreadable)
        .ok_or_else(|| AppError::not_found(code::NO_DIRECTORY, "no directory is published yet"))?;
    Ok((
        [(CONTENT_TYPE, "application/json"), (CACHE_CONTROL, "no-cache")],
        json,
    )
        .into_response())
}

fn refused(err: tipline_core::Error) -> AppError {
    match &err {
        tipline_core::Error::Refused { reason, .. }
            if reason == "signed by another key" || reason == "signature does not verify" =>
        {
            AppError::bad_request(code::BAD_SIGNATURE, err.to_string())
        }
        _ => AppError::bad_request(code::INVALID_DIRECTORY, err.to_string()),
    }
}

/// Publishes a newer signed directory.
#[utoipa::path(
    put,
    path = "/v1/directory",
    tag = "public",
    request_body(content = Object, description = "A signed directory `{payload, key_id, signature}`", content_type = "application/json"),
    responses(
        (status = 200, description = "Published", body = DirectoryPublished),
        (status = 400, description = "`bad_signature` (not the authority's key, or altered), `invalid_directory` (expired, future, invalid content), `malformed_json`", body = ErrorBody),
        (status = 409, description = "`stale_version`: not newer than the published one", body = ErrorBody),
        (status = 413, description = "`too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
    )
)]
pub async fn put_directory(
    State(state): State<AppState>,
    Json(signed): Json<SignedDirectory>,
) -> AppResult<axum::Json<DirectoryPublished>> {
    // Verified without the current version so that staleness is told apart (409) from a bad
    // document (400); the version is compared right below (with the published one of the same
    // format), and again by the store.
    let verified = signed
        .verify(state.authority(), Utc::now(), None)
        .map_err(refused)?;
    let format = verified.format();
    let current = state.store().directory(format).await?.map(|(version, _)| version);
    let stale = |current: u64| {
        AppError::conflict(
            code::STALE_VERSION,
            format!(
                "version {} is not newer than the published version {current}",
                verified.version()
            ),
        )
    };
    if let Some(current) = current.filter(|current| verified.version() <= *current) {
        return Err(stale(current));
    }
    let json = verified.signed().to_json()?;
    if !state
        .store()
        .publish_directory(format, verified.version(), json.into_bytes())
        .await?
    {
        return Err(stale(current.unwrap_or_default()));
    }
    let version = verified.version();
    tracing::info!(version, format, "directory published");
    state.set_directory(verified);
    Ok(axum::Json(DirectoryPublished { version }))
}
