//! `/events`: server-sent events for signed-in officers' open pages. Each event says only that
//! something changed (a report id and a kind, never content); the page then asks for the part it
//! shows again, through the same signed-in views as everything else.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use futures_util::stream::{self, Stream};
use tokio::sync::broadcast::error::RecvError;

use super::Officer;
use crate::state::AppState;

/// `/events`.
pub fn router() -> Router<AppState> {
    Router::new().route("/events", get(events))
}

fn notices(state: AppState) -> impl Stream<Item = Result<Event, Infallible>> {
    let receiver = state.subscribe();
    stream::unfold(receiver, |mut receiver| async move {
        let event = match receiver.recv().await {
            Ok(change) => Event::default()
                .event("change")
                .json_data(&change)
                .unwrap_or_else(|_| Event::default().event("change").data("{}")),
            // A page that fell behind refreshes everything it shows.
            Err(RecvError::Lagged(_)) => Event::default().event("change").data("{}"),
            Err(RecvError::Closed) => return None,
        };
        Some((Ok(event), receiver))
    })
}

async fn events(State(state): State<AppState>, _officer: Officer) -> impl IntoResponse {
    Sse::new(notices(state)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
