//! Live push across nodes. An event (a report queued for a unit, a reporter's follow-up) is
//! given at once to the streams of the node where it happened; the store has written it as a
//! row of `push_events` in the change's own transaction (so there is an event exactly when the
//! change committed), and the node then sends a bare `NOTIFY tipline_push` whose payload is only
//! its random node number (nothing of a report, not even its unit). Every node `LISTEN`s; a
//! notification from another node only wakes it to read the rows after its cursor and hand them
//! to its own streams. A notification lost while the listening connection was down is caught up
//! when it comes back (and every stream is told to look again), and a slow periodic read
//! catches anything else: the store stays the truth, a push is only a wake-up.
//!
//! A node with no live stream open does not read on a wake-up: it has no stream to hand the
//! events to. Its periodic read still moves the cursor on, so that when a stream opens, the
//! next wake-up reads only what came since that read; two nodes taking intake with no desk on
//! either cost PostgreSQL one read every two seconds, not one per wake-up.
//!
//! Notifications are coalesced: while one is on its way, and for `NOTIFY_GAP` after it, the
//! events that follow share the next one. A `NOTIFY` sent on its own writes no WAL, so the
//! commit that sends it waits for no flush; one sent inside the change's transaction would hold
//! PostgreSQL's notification queue lock through that commit's flush and so serialize every
//! node's intake commits.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx_core::query::query;
use sqlx_core::query_as::query_as;
use sqlx_postgres::{PgListener, PgPool};
use tipline_core::report::CaseId;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::{db_error, millis};
use crate::push::{LocalHub, PushEvent, PushHub, Subscription};
use crate::store::StoreResult;

/// The notification channel.
const CHANNEL: &str = "tipline_push";
/// How often a node reads new events without being woken.
const PERIODIC: Duration = Duration::from_secs(2);
/// How long a number skipped by the events read is asked for again (see [`Cursor`]): longer
/// than any transaction that writes an event stays open (a node's session idle in one is ended
/// after a minute).
const HOLE_WAIT: Duration = Duration::from_secs(120);
/// Most numbers skipped that are asked for again.
const MAX_HOLES: usize = 4096;
/// The least time between two notifications of one node: the events of that time share one,
/// so that a node taking thousands of reports a second sends PostgreSQL at most a few hundred
/// notifications (each a transaction, and a wake-up of every listening node) while adding at
/// most this much to a push across nodes.
const NOTIFY_GAP: Duration = Duration::from_millis(2);
/// Events read at once.
const READ_BATCH: i64 = 1000;
/// How long events are kept (retention deletes older ones).
const KEEP: chrono::Duration = chrono::Duration::hours(1);

/// A [`PushHub`] over PostgreSQL for several nodes.
pub struct PgHub {
    shared: Arc<Shared>,
    listener: JoinHandle<()>,
    notifier: JoinHandle<()>,
}

struct Shared {
    local: LocalHub,
    pool: PgPool,
    /// This node's number: the `origin` of the events its store writes, and the payload of its
    /// notifications, so that it skips its own.
    node: i64,
    /// Set when an event wants the other nodes woken (one stored permit: coalesced).
    pending: Notify,
}

impl std::fmt::Debug for PgHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgHub").finish_non_exhaustive()
    }
}

impl Drop for PgHub {
    fn drop(&mut self) {
        self.listener.abort();
        self.notifier.abort();
    }
}

impl PgHub {
    /// Starts listening (on a connection of its own, taken from the pool's settings) and
    /// notifying, for the node numbered `node`.
    pub(super) fn start(pool: PgPool, node: i64) -> PgHub {
        let shared = Arc::new(Shared {
            local: LocalHub::new(),
            pool,
            node,
            pending: Notify::new(),
        });
        let listener = tokio::spawn(listen(Arc::clone(&shared)));
        let notifier = tokio::spawn(notify_others(Arc::clone(&shared)));
        PgHub {
            shared,
            listener,
            notifier,
        }
    }
}

impl PushHub for PgHub {
    /// Called once the change is committed, its event row with it: the local streams now, the
    /// other nodes by the next notification (which must not hold up the answer).
    fn notify(&self, unit_id: &str, event: PushEvent) {
        self.shared.local.notify(unit_id, event);
        self.shared.pending.notify_one();
    }

    fn subscribe(&self, unit_id: &str) -> Subscription {
        self.shared.local.subscribe(unit_id)
    }
}

/// Wakes the other nodes after events, one `NOTIFY` for whatever came meanwhile.
async fn notify_others(shared: Arc<Shared>) {
    let payload = shared.node.to_string();
    loop {
        shared.pending.notified().await;
        let sent = query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(&payload)
            .execute(&shared.pool)
            .await;
        if let Err(e) = sent {
            tracing::warn!(error = %e, "push: cannot wake the other nodes (their periodic read will)");
        }
        tokio::time::sleep(NOTIFY_GAP).await;
    }
}

/// An event row: seq, unit id, case id and message seq (for a follow-up), and the node that
/// wrote it.
type EventRow = (i64, String, Option<Vec<u8>>, Option<i64>, Option<i64>);

/// The events read so far: the highest number read, and the numbers below it not read yet.
///
/// Sequence numbers are taken in one order and become visible in another: a transaction that
/// took number 7 may commit after others committed 8 to 500, and a reader that went past 500
/// would never look at 7 again. So every number skipped is kept as a hole and asked for again
/// at each read, until its row turns up or [`HOLE_WAIT`] has passed (a number of a transaction
/// that rolled back never turns up). Holes are rare (a late commit, a rollback), so a read
/// asks for few of them.
#[derive(Default)]
struct Cursor {
    high: i64,
    holes: BTreeMap<i64, Instant>,
}

impl Cursor {
    /// The events not handed out yet, handed to the node's streams.
    async fn read(&mut self, shared: &Shared) -> StoreResult<()> {
        loop {
            let now = Instant::now();
            self.holes
                .retain(|_, since| now.duration_since(*since) < HOLE_WAIT);
            let holes: Vec<i64> = self.holes.keys().copied().collect();
            let rows: Vec<EventRow> = query_as(
                "SELECT seq, unit_id, case_id, message_seq, origin FROM push_events
                 WHERE seq > $1 OR seq = ANY($2)
                 ORDER BY seq LIMIT $3",
            )
            .bind(self.high)
            .bind(&holes)
            .bind(READ_BATCH)
            .fetch_all(&shared.pool)
            .await
            .map_err(db_error)?;
            let count = rows.len();
            for (seq, unit_id, case_id, message_seq, origin) in rows {
                if seq > self.high {
                    // The numbers between are holes, up to a bound (a gap larger than that is
                    // a sequence that jumped, not transactions in flight).
                    let first = self
                        .high
                        .saturating_add(1)
                        .max(seq.saturating_sub(MAX_HOLES as i64));
                    for hole in first..seq {
                        self.holes.insert(hole, now);
                    }
                    self.high = seq;
                } else if self.holes.remove(&seq).is_none() {
                    continue;
                }
                // This node's own: its streams were woken when it wrote them.
                if origin == Some(shared.node) {
                    continue;
                }
                let event = match (case_id.as_deref().map(<[u8; 16]>::try_from), message_seq) {
                    (Some(Ok(case_id)), Some(seq)) => PushEvent::Message {
                        case_id: CaseId(case_id),
                        seq,
                    },
                    _ => PushEvent::Report,
                };
                shared.local.notify(&unit_id, event);
            }
            while self.holes.len() > MAX_HOLES {
                self.holes.pop_first();
            }
            // Each row read filled a hole or moved `high` on: a full page means there may be
            // more.
            if count < usize::try_from(READ_BATCH).unwrap_or(usize::MAX) {
                return Ok(());
            }
        }
    }

    /// Starts after the newest event stored now.
    async fn start(shared: &Shared) -> StoreResult<Cursor> {
        let (high,): (Option<i64>,) = query_as("SELECT MAX(seq) FROM push_events")
            .fetch_one(&shared.pool)
            .await
            .map_err(db_error)?;
        Ok(Cursor {
            high: high.unwrap_or(0),
            holes: BTreeMap::new(),
        })
    }
}

/// Listens for wake-ups until the hub is dropped, reconnecting after a lost connection.
async fn listen(shared: Arc<Shared>) {
    let own = shared.node.to_string();
    let mut cursor = None;
    let mut ticks = tokio::time::interval(PERIODIC);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if cursor.is_none() {
            match Cursor::start(&shared).await {
                Ok(start) => cursor = Some(start),
                Err(e) => {
                    tracing::warn!(error = %e, "push: cannot read the event cursor; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            }
        }
        let mut listener = match PgListener::connect_with(&shared.pool).await {
            Ok(listener) => listener,
            Err(e) => {
                tracing::warn!(error = %e, "push: cannot listen; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(e) = listener.listen(CHANNEL).await {
            tracing::warn!(error = %e, "push: cannot listen; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        // Whatever happened while not listening: read it, and let every stream look again.
        if let Some(cursor) = cursor.as_mut() {
            if let Err(e) = cursor.read(&shared).await {
                tracing::warn!(error = %e, "push: catch-up read failed");
            }
        }
        shared.local.wake_all();
        loop {
            tokio::select! {
                received = listener.try_recv() => match received {
                    // This node's own wake-up: nothing to read.
                    Ok(Some(notification)) if notification.payload() == own => continue,
                    // No stream to hand events to: the periodic read moves the cursor on.
                    Ok(Some(_)) if !shared.local.has_streams() => continue,
                    Ok(Some(_)) => {}
                    // The connection was lost; the next call reconnects. Catch up after it.
                    // Streams look again at once: with the database gone they end cleanly (their
                    // desks reconnect, here or elsewhere); with it back they catch up.
                    Ok(None) => {
                        tracing::warn!("push: listening connection lost; reconnecting");
                        shared.local.wake_all();
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "push: listening failed; reconnecting");
                        shared.local.wake_all();
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        break;
                    }
                },
                _ = ticks.tick() => {}
            }
            if let Some(cursor) = cursor.as_mut() {
                if let Err(e) = cursor.read(&shared).await {
                    tracing::warn!(error = %e, "push: read failed");
                }
            }
        }
    }
}

/// Deletes events older than they need to be kept (retention).
pub(super) async fn prune(pool: &PgPool, now: DateTime<Utc>) -> StoreResult<()> {
    let before = now.checked_sub_signed(KEEP).unwrap_or(DateTime::<Utc>::MIN_UTC);
    query("DELETE FROM push_events WHERE created_at < $1")
        .bind(millis(before))
        .execute(pool)
        .await
        .map_err(db_error)?;
    Ok(())
}
