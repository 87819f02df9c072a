//! The desk's only assets, built into the binary: one style sheet and one small script.

use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::state::AppState;

const CSS: &str = include_str!("../../assets/desk.css");
const JS: &str = include_str!("../../assets/desk.js");

/// `/assets/desk.css`, `/assets/desk.js`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/assets/desk.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS).into_response() }),
        )
        // No icon: answered empty rather than "not found" on every page.
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .route(
            "/assets/desk.js",
            get(|| async {
                ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], JS).into_response()
            }),
        )
}
