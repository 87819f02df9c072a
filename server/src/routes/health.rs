//! Probes at the root (outside `/v1`): `/healthz` (the process answers) and `/readyz` (the store
//! answers and a directory is loaded); and `/metrics` (Prometheus), served on its own listen
//! address by [`crate::metrics_app`], not on the API's.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::error::{AppError, ErrorBody};
use crate::state::AppState;
use tipline_core::api::code;

/// The OpenMetrics text content type `prometheus-client` writes.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// The metrics listener's one route.
pub fn metrics_router() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "`ok`", body = String)))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the store answers and a verified directory is loaded.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "`ready`", body = String),
        (status = 503, description = "`store_unavailable` or `no_directory`", body = ErrorBody),
    )
)]
pub async fn readyz(State(state): State<AppState>) -> Response {
    if let Err(e) = state.store().ping().await {
        tracing::warn!(error = %e, "store does not answer");
        return AppError::unavailable(code::STORE_UNAVAILABLE, "the store does not answer").into_response();
    }
    if state.directory().is_none() {
        return AppError::unavailable(code::NO_DIRECTORY, "no verified directory is loaded").into_response();
    }
    "ready".into_response()
}

/// Prometheus metrics (OpenMetrics text), from a snapshot renewed at most once per interval.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let stats = async {
        match state.store().stats().await {
            Ok(stats) => Some(stats),
            Err(e) => {
                tracing::warn!(error = %e, "store stats unavailable for /metrics");
                None
            }
        }
    };
    let text = state
        .metrics()
        .snapshot(state.settings().metrics_interval, stats)
        .await;
    (StatusCode::OK, [(CONTENT_TYPE, OPENMETRICS)], text).into_response()
}
