//! `GET /v1/config`: what a client needs before it submits: the stamp difficulty, the key that
//! signs receipts, the size limits and the lease length.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use tipline_core::api::paths::route;
use tipline_core::api::ServerConfig;
use tipline_core::encoding::b64;

use crate::limits::public_limits;
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
    responses((status = 200, description = "Configuration", body = ServerConfig))
)]
pub async fn get_config(State(state): State<AppState>) -> Json<ServerConfig> {
    let key = state.server_key().verifying_key();
    Json(ServerConfig {
        stamp_difficulty: state.settings().stamp_difficulty,
        server_key: b64(&key.0),
        server_key_id: key.key_id().to_string(),
        limits: public_limits(),
        lease_seconds: state.settings().lease.as_secs(),
        max_clock_skew_seconds: state.settings().max_clock_skew_secs,
    })
}
