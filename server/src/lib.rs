//! Tipline's intake server: stores sealed reports durably, queues and pushes them to the desks
//! of the unit they are for, relays the sealed case conversation, and serves the
//! authority-signed directory and the units' signed alerts. It never sees a report's plaintext,
//! and it never logs or stores a client's address.
//!
//! [`app`] builds the router from an [`AppState`]; `main.rs` only parses the configuration,
//! opens the store and serves it.

pub mod auth;
pub mod budget;
pub mod config;
pub mod dev;
pub mod difficulty;
pub mod error;
pub mod extract;
pub mod gateway;
pub mod launch;
pub mod limits;
pub mod metrics;
pub mod push;
pub mod receipts;
pub mod replay;
pub mod retention;
pub mod routes;
pub mod serve;
pub mod state;
pub mod storage;
pub mod store;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::Router;
use tipline_core::api::code;

pub use crate::error::{AppError, AppResult};
pub use crate::state::{AppState, Settings};

/// The whole HTTP API: `/v1/...`, plus `/healthz` and `/readyz` at the root, and the Oblivious
/// HTTP gateway, which hands the requests it opens to the same router as direct ones.
pub fn app(state: AppState) -> Router {
    let direct = direct_app(state.clone());
    routes::gateway::router(direct.clone())
        .layer(DefaultBodyLimit::max(routes::gateway::MAX_REQUEST_BYTES))
        .layer(from_fn_with_state(state.clone(), budget::hold))
        .layer(from_fn_with_state(state.clone(), metrics::observe))
        .with_state(state)
        .merge(direct)
}

/// The API without the gateway: what a direct request, or one the gateway opened, reaches.
fn direct_app(state: AppState) -> Router {
    Router::new()
        .nest("/v1", routes::router())
        .merge(routes::health::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .route_layer(from_fn_with_state(state.clone(), auth::require_unit))
        .layer(DefaultBodyLimit::max(limits::DEFAULT_BODY_BYTES))
        .layer(from_fn_with_state(state.clone(), budget::hold))
        .layer(from_fn_with_state(state.clone(), metrics::observe))
        .with_state(state)
}

/// The metrics listener: `/metrics` only, meant for a loopback or internal address (it is not
/// part of the public API).
pub fn metrics_app(state: AppState) -> Router {
    Router::new()
        .merge(routes::health::metrics_router())
        .fallback(not_found)
        .with_state(state)
}

async fn not_found() -> AppError {
    AppError::not_found(code::NOT_FOUND, "no such route")
}

async fn method_not_allowed() -> AppError {
    AppError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        code::METHOD_NOT_ALLOWED,
        "this route does not take that method",
    )
}

/// The listener with `TCP_NODELAY` set on every accepted connection: desk streams write small
/// events that must go out at once, not wait for Nagle's algorithm and a delayed ACK.
pub fn nodelay(listener: tokio::net::TcpListener) -> impl axum::serve::Listener<Addr = std::net::SocketAddr> {
    axum::serve::ListenerExt::tap_io(listener, |tcp| {
        // Failing to set the option only costs latency; the connection still works.
        let _ = tcp.set_nodelay(true);
    })
}
