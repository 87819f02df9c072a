//! A unit's inbox. A desk holds a live stream (server-sent events): on connect it gets
//! everything pending, then each new report as soon as it is committed. Each delivery is leased;
//! a report not acknowledged before its lease ends is delivered again (on this stream or
//! another), so a desk that crashed mid-way loses nothing. A desk that cannot hold a stream
//! pulls instead (`GET .../inbox`), with the same leases.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use futures_util::Stream;
use tipline_core::api::bounds::{MAX_ACK_BATCH, MAX_ACK_BODY};
use tipline_core::api::paths::route;
use tipline_core::api::{
    code, AckBatch, AckBatchAnswer, Delivery, Inbox, InboxQuery, MessageNotice, EVENT_MESSAGE, EVENT_REPORT,
};
use tipline_core::report::{CaseId, ReportId};

use crate::auth::AuthedUnit;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::extract::{Json as JsonBody, Path, Query};
use crate::limits::MAX_INBOX_BATCH;
use crate::metrics::LiveStreamGuard;
use crate::push::{PushEvent, Received, Subscription};
use crate::state::AppState;
use crate::store::StoreError;

/// Shortest wait before looking again for expired leases, so clock rounding never spins.
const MIN_RECHECK: Duration = Duration::from_millis(50);
/// Longest wait without a notification before looking again anyway.
const MAX_IDLE: Duration = Duration::from_secs(300);

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(route::UNIT_INBOX, get(pull))
        .route(route::UNIT_INBOX_STREAM, get(stream))
        .route(route::UNIT_ACK, post(ack))
        .route(
            route::UNIT_ACKS,
            post(ack_batch).layer(DefaultBodyLimit::max(MAX_ACK_BODY)),
        )
}

async fn lease(state: &AppState, unit_id: &str, limit: u32) -> AppResult<Vec<Delivery>> {
    let lease = chrono::Duration::from_std(state.settings().lease)
        .map_err(|_| AppError::internal("lease out of range"))?;
    Ok(state
        .store()
        .lease_reports(unit_id, Utc::now(), lease, limit)
        .await?)
}

/// Leases pending reports (pull).
#[utoipa::path(
    get,
    path = "/v1/units/{unit_id}/inbox",
    tag = "desk",
    security(("unit_signature" = [])),
    params(("unit_id" = String, Path, description = "The unit"), InboxQuery),
    responses(
        (status = 200, description = "Leased reports", body = Inbox),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 404, description = "`unknown_unit`", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
    )
)]
pub async fn pull(
    State(state): State<AppState>,
    AuthedUnit(unit_id): AuthedUnit,
    Query(query): Query<InboxQuery>,
) -> AppResult<Json<Inbox>> {
    let limit = query.limit.unwrap_or(MAX_INBOX_BATCH).clamp(1, MAX_INBOX_BATCH);
    let reports = lease(&state, &unit_id, limit).await?;
    Ok(Json(Inbox { reports }))
}

/// Acknowledges a report: stored at the desk, not to be delivered again. Idempotent.
#[utoipa::path(
    post,
    path = "/v1/units/{unit_id}/reports/{report_id}/ack",
    tag = "desk",
    security(("unit_signature" = [])),
    params(
        ("unit_id" = String, Path, description = "The unit"),
        ("report_id" = String, Path, description = "Report id, 32 hex digits"),
    ),
    responses(
        (status = 204, description = "Acknowledged (now or before)"),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 404, description = "`unknown_report`: not this unit's", body = ErrorBody),
    )
)]
pub async fn ack(
    State(state): State<AppState>,
    AuthedUnit(unit_id): AuthedUnit,
    Path(path): Path<(String, ReportId)>,
) -> AppResult<StatusCode> {
    let (_, report_id) = path;
    if state.store().ack_report(&unit_id, report_id, Utc::now()).await? {
        state.metrics().ack();
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::not_found(
            code::UNKNOWN_REPORT,
            "no such report for this unit",
        ))
    }
}

/// Acknowledges a batch of reports at once (one commit on the server, one request for the
/// desk): each stored at the desk, not to be delivered again. Idempotent; the ids that are not
/// this unit's reports are answered back and nothing is done with them.
#[utoipa::path(
    post,
    path = "/v1/units/{unit_id}/acks",
    tag = "desk",
    security(("unit_signature" = [])),
    params(("unit_id" = String, Path, description = "The unit")),
    request_body = AckBatch,
    responses(
        (status = 200, description = "Every id acknowledged (now or before) except those in `unknown`", body = AckBatchAnswer),
        (status = 400, description = "`malformed_json`: not 1 to 100 report ids", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 413, description = "`too_large`", body = ErrorBody),
    )
)]
pub async fn ack_batch(
    State(state): State<AppState>,
    AuthedUnit(unit_id): AuthedUnit,
    JsonBody(batch): JsonBody<AckBatch>,
) -> AppResult<Json<AckBatchAnswer>> {
    if batch.report_ids.is_empty() || batch.report_ids.len() > MAX_ACK_BATCH as usize {
        return Err(AppError::bad_request(
            code::MALFORMED_JSON,
            format!("report_ids must hold 1 to {MAX_ACK_BATCH} report ids"),
        ));
    }
    let unknown = state
        .store()
        .ack_reports(&unit_id, &batch.report_ids, Utc::now())
        .await?;
    let mut named = batch.report_ids;
    named.sort_unstable();
    named.dedup();
    state
        .metrics()
        .acks(named.len().saturating_sub(unknown.len()) as u64);
    Ok(Json(AckBatchAnswer { unknown }))
}

/// The live stream of a unit's reports.
#[utoipa::path(
    get,
    path = "/v1/units/{unit_id}/inbox/stream",
    tag = "desk",
    security(("unit_signature" = [])),
    params(("unit_id" = String, Path, description = "The unit")),
    responses(
        (status = 200, description = "Server-sent events: `report` (id = report id, data = a DeliveredReport) and `message` (data = a MessageNotice); comments keep the connection alive", content_type = "text/event-stream", body = Delivery),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 404, description = "`unknown_unit`", body = ErrorBody),
        (status = 503, description = "`busy`: every live stream slot is taken, with `Retry-After`", body = ErrorBody),
    )
)]
pub async fn stream(
    State(state): State<AppState>,
    AuthedUnit(unit_id): AuthedUnit,
) -> AppResult<impl IntoResponse> {
    let slot = state.stream_slot()?;
    let keep_alive = state.settings().keep_alive;
    let live = LiveStream {
        _slot: slot,
        subscription: state.push().subscribe(&unit_id),
        shutdown: state.shutdown_receiver(),
        _guard: state.metrics().live_stream(),
        state,
        unit_id,
        queue: VecDeque::new(),
        lease_now: true,
    };
    Ok(Sse::new(events(live)).keep_alive(KeepAlive::new().interval(keep_alive)))
}

/// What a live stream holds between events. Subscribed before the first lease, so nothing
/// committed after the connection opened can be missed.
struct LiveStream {
    state: AppState,
    unit_id: String,
    subscription: Subscription,
    shutdown: tokio::sync::watch::Receiver<bool>,
    queue: VecDeque<Event>,
    /// Lease again before waiting: at the start, and after a batch that leased something (a
    /// backlog longer than one batch goes out batch after batch, as the desk reads it).
    lease_now: bool,
    _guard: LiveStreamGuard,
    _slot: tokio::sync::OwnedSemaphorePermit,
}

/// Why a waiting stream woke up.
enum Wake {
    Push(Received),
    LeaseExpiry,
    Shutdown,
}

fn report_event(delivery: Delivery) -> Event {
    let id = delivery.report_id.to_string();
    let data = serde_json::to_string(&delivery).unwrap_or_default();
    Event::default().event(EVENT_REPORT).id(id).data(data)
}

fn message_event(case_id: CaseId, seq: i64) -> Event {
    let data = serde_json::to_string(&MessageNotice { case_id, seq }).unwrap_or_default();
    Event::default().event(EVENT_MESSAGE).data(data)
}

impl LiveStream {
    /// Leases what is due and queues it; `false` if the store failed (the stream then ends and
    /// the desk reconnects).
    async fn fill(&mut self) -> bool {
        match lease(&self.state, &self.unit_id, MAX_INBOX_BATCH).await {
            Ok(batch) => {
                self.lease_now = !batch.is_empty();
                self.queue.extend(batch.into_iter().map(report_event));
                true
            }
            Err(e) => {
                // A lost database (several nodes on PostgreSQL) is an outage, not a bug: the
                // stream ends cleanly and the desk reconnects, here or at another node.
                if e.code() == code::STORAGE_UNAVAILABLE {
                    tracing::warn!(code = e.code(), "inbox stream cannot lease; closing it");
                } else {
                    tracing::error!(code = e.code(), "inbox stream cannot lease; closing it");
                }
                false
            }
        }
    }

    /// How long to wait before leases may have expired; `None` if the store failed (the
    /// stream then ends and the desk reconnects).
    async fn recheck_after(&self) -> Option<Duration> {
        match self.state.store().next_lease_expiry(&self.unit_id).await {
            Ok(Some(expiry)) => Some(
                (expiry - Utc::now())
                    .to_std()
                    .unwrap_or_default()
                    .clamp(MIN_RECHECK, MAX_IDLE),
            ),
            Ok(None) => Some(MAX_IDLE),
            Err(StoreError::Unavailable(_)) => {
                tracing::warn!("inbox stream lost the database; closing it");
                None
            }
            Err(e) => {
                tracing::error!(error = %e, "inbox stream cannot read lease expiry");
                None
            }
        }
    }

    /// The next event, or `None` to end the stream.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Some(event);
            }
            if self.lease_now {
                if !self.fill().await {
                    return None;
                }
                continue;
            }
            let wait = self.recheck_after().await?;
            let woken = tokio::select! {
                received = self.subscription.recv() => Wake::Push(received),
                () = tokio::time::sleep(wait) => Wake::LeaseExpiry,
                _ = self.shutdown.wait_for(|stopping| *stopping) => Wake::Shutdown,
            };
            match woken {
                Wake::Push(Received::Event(PushEvent::Message { case_id, seq })) => {
                    self.queue.push_back(message_event(case_id, seq));
                }
                Wake::Push(Received::Event(PushEvent::Report) | Received::Lagged) | Wake::LeaseExpiry => {
                    if !self.fill().await {
                        return None;
                    }
                }
                Wake::Push(Received::Closed) | Wake::Shutdown => return None,
            }
        }
    }
}

fn events(live: LiveStream) -> impl Stream<Item = Result<Event, Infallible>> {
    futures_util::stream::unfold(live, |mut live| async move {
        let event = live.next().await?;
        Some((Ok(event), live))
    })
}
