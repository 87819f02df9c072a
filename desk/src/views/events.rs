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

/// How often an open stream checks that its session is still alive.
const SESSION_CHECK: Duration = Duration::from_secs(30);

fn notices(state: AppState, session: String) -> impl Stream<Item = Result<Event, Infallible>> {
    let receiver = state.subscribe();
    let closing = state.closing();
    let mut tick = tokio::time::interval(SESSION_CHECK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let start = (state, session, receiver, tick, closing);
    stream::unfold(
        start,
        |(state, session, mut receiver, mut tick, mut closing)| async move {
            loop {
                // The desk is shutting down: the stream ends, so the shutdown need not wait for it.
                if *closing.borrow_and_update() {
                    return None;
                }
                let event = tokio::select! {
                    _ = closing.changed() => continue,
                    received = receiver.recv() => match received {
                        Ok(change) => Event::default()
                            .event("change")
                            .json_data(&change)
                            .unwrap_or_else(|_| Event::default().event("change").data("{}")),
                        // A page that fell behind refreshes everything it shows.
                        Err(RecvError::Lagged(_)) => Event::default().event("change").data("{}"),
                        Err(RecvError::Closed) => return None,
                    },
                    _ = tick.tick() => {
                        if state.sessions.is_live(&session, state.now()) {
                            continue;
                        }
                        return None;
                    }
                };
                // A session that expired or was ended (signed out, account disabled) hears no more.
                if !state.sessions.is_live(&session, state.now()) {
                    return None;
                }
                return Some((Ok(event), (state, session, receiver, tick, closing)));
            }
        },
    )
}

async fn events(State(state): State<AppState>, officer: Officer) -> impl IntoResponse {
    let session = officer.session.id;
    Sse::new(notices(state, session)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
