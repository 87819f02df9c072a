//! The supervisors' pages: accounts, alerts and the audit log. Every view here refuses an officer who is
//! not a supervisor, and that refusal is audited.

pub mod accounts;
pub mod alerts;
pub mod audit;

use axum::Router;

use crate::state::AppState;

/// `/admin/...`.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(accounts::router())
        .merge(alerts::router())
        .merge(audit::router())
}
