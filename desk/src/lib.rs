//! `tipline-desk`: the unit's desk as a web application for a team of officers, run inside the
//! unit's network. It holds the unit's keys and its encrypted store through
//! [`tipline_core::desk`], and adds what a team needs: accounts with a password and a TOTP
//! second factor, an inbox with filters and search, labels, notes, assignment, status history,
//! and an audit log, all kept sealed in the same store.
//!
//! - [`app`] builds the router; [`views`] holds one module per area.
//! - [`state`] is what the views share; [`index`] the reports held in memory for the inbox.
//! - [`auth`], [`accounts`], [`team`], [`audit`]: the team's side.
//! - [`receiver`]: the core's receiving loop, run beside the web application.
//! - [`categories`]: the categories' labels, from the signed directory.

pub mod accounts;
pub mod audit;
pub mod auth;
pub mod categories;
pub mod error;
pub mod index;
pub mod l10n;
pub mod receiver;
pub mod setup;
pub mod state;
pub mod team;
pub mod views;

use axum::middleware;
use axum::Router;

pub use error::{DeskError, Result};
pub use state::{AppState, Change, ChangeKind, Config};

/// The desk's routes, with the CSRF check on every state-changing request, errors as pages in
/// the officer's language, and the security headers on every answer.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(views::login::router())
        .merge(views::inbox::router())
        .merge(views::report::router())
        .merge(views::attachments::router())
        .merge(views::export::router())
        .merge(views::events::router())
        .merge(views::profile::router())
        .merge(views::admin::router())
        .merge(views::assets::router())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            views::security::csrf,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            views::errors::pages,
        ))
        .layer(middleware::from_fn(views::security::headers))
        .with_state(state)
}
