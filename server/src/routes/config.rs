//! `GET /v1/config`: what a client needs before it submits: the stamp difficulty, the key that
//! signs receipts, the size limits and the lease length.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use tipline_core::encoding::b64;
use utoipa::ToSchema;

use crate::limits::PublicLimits;
use crate::state::AppState;

/// The server's public configuration.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServerConfig {
    /// Leading zero bits a submission's stamp must have (`tipline_core::stamp`).
    pub stamp_difficulty: u8,
    /// The Ed25519 key that signs receipts, base64url.
    pub server_key: String,
    /// Its key id (hex), as receipts name it.
    pub server_key_id: String,
    /// Size limits.
    pub limits: PublicLimits,
    /// Seconds a delivery to a desk holds before the report is delivered again.
    pub lease_seconds: u64,
    /// Seconds a signed unit request's timestamp may be off the server's clock.
    pub max_clock_skew_seconds: i64,
}

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/config", get(get_config))
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
        limits: PublicLimits::current(),
        lease_seconds: state.settings().lease.as_secs(),
        max_clock_skew_seconds: state.settings().max_clock_skew_secs,
    })
}
