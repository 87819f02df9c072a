//! `GET /v1/config`: what a client needs before it submits: the stamp difficulty (as it stands
//! now: it rises while intake is flooded), the key that signs receipts, the size limits and the
//! lease length.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use tipline_core::api::paths::route;
use tipline_core::api::ServerConfig;
use tipline_core::encoding::b64;

use crate::error::{AppResult, ErrorBody};
use crate::limits::{public_limits, Family};
use crate::state::AppState;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new().route(route::CONFIG, get(get_config))
}

/// The server's public configuration.
#[utoipa::path(
    get,
    path = "/v1/config",
    tag = "public",
    responses(
        (status = 200, description = "Configuration", body = ServerConfig),
        (status = 429, description = "`rate_limited`, with `Retry-After`: the reads' bucket (config, directory, alerts) is spent", body = ErrorBody),
    )
)]
pub async fn get_config(State(state): State<AppState>) -> AppResult<Json<ServerConfig>> {
    state.limiters().check(Family::Reads)?;
    let key = state.server_key().verifying_key();
    Ok(Json(ServerConfig {
        stamp_difficulty: state.difficulty().current(std::time::Instant::now()),
        server_key: b64(&key.0),
        server_key_id: key.key_id().to_string(),
        limits: public_limits(state.settings().max_report_attachment_bytes),
        lease_seconds: state.settings().lease.as_secs(),
        max_clock_skew_seconds: state.settings().max_clock_skew_secs,
    }))
}
