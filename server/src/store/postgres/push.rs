//! Live push across nodes. An event (a report queued for a unit, a reporter's follow-up) is
//! given at once to the streams of the node where it happened, and recorded as a row of
//! `push_events` with a bare `NOTIFY tipline_push` (no payload: nothing of a report, not even
//! its unit, travels in the notification). Every node `LISTEN`s; a notification only wakes it
//! to read the rows after its cursor and hand them to its own streams. A notification lost
//! while the listening connection was down is caught up when it comes back (and every stream is
//! told to look again), and a slow periodic read catches anything else: the store stays the
//! truth, a push is only a wake-up.

use std::collections::{BTreeSet, HashSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx_core::query::query;
use sqlx_core::query_as::query_as;
use sqlx_postgres::{PgListener, PgPool};
use tipline_core::report::CaseId;
use tokio::task::JoinHandle;

use super::{db_error, millis};
use crate::push::{LocalHub, PushEvent, PushHub, Subscription};
use crate::store::StoreResult;

/// The notification channel.
const CHANNEL: &str = "tipline_push";
/// How often a node reads new events without being woken.
const PERIODIC: Duration = Duration::from_secs(2);
/// How far back a read looks again for events whose transaction committed after a later one's
/// (sequence numbers are taken in one order and may become visible in another).
const LOOK_BACK: i64 = 256;
/// Events read at once.
const READ_BATCH: i64 = 1000;
/// How long events are kept (retention deletes older ones).
const KEEP: chrono::Duration = chrono::Duration::hours(1);
/// Own event numbers remembered, so a node does not wake its streams twice for its own events.
const OWN_KEPT: usize = 4096;

/// A [`PushHub`] over PostgreSQL for several nodes.
pub struct PgHub {
    shared: Arc<Shared>,
    listener: JoinHandle<()>,
}

struct Shared {
    local: LocalHub,
    pool: PgPool,
    /// Events this node recorded, to skip when they come back from the database.
    own: Mutex<(HashSet<i64>, VecDeque<i64>)>,
}

impl std::fmt::Debug for PgHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgHub").finish_non_exhaustive()
    }
}

impl Drop for PgHub {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl PgHub {
    /// Starts listening (on a connection of its own, taken from the pool's settings).
    pub(super) fn start(pool: PgPool) -> PgHub {
        let shared = Arc::new(Shared {
            local: LocalHub::new(),
            pool,
            own: Mutex::new((HashSet::new(), VecDeque::new())),
        });
        let listener = tokio::spawn(listen(Arc::clone(&shared)));
        PgHub { shared, listener }
    }
}

impl PushHub for PgHub {
    fn notify(&self, unit_id: &str, event: PushEvent) {
        self.shared.local.notify(unit_id, event);
        let shared = Arc::clone(&self.shared);
        let unit_id = unit_id.to_owned();
        // The change is committed already; telling the other nodes must not hold up the answer.
        tokio::spawn(async move {
            if let Err(e) = shared.record(&unit_id, event).await {
                tracing::warn!(error = %e, "push: cannot tell the other nodes (their periodic read will)");
            }
        });
    }

    fn subscribe(&self, unit_id: &str) -> Subscription {
        self.shared.local.subscribe(unit_id)
    }
}

impl Shared {
    /// Records an event and wakes every node, in one statement.
    async fn record(&self, unit_id: &str, event: PushEvent) -> StoreResult<()> {
        let (case_id, message_seq) = match event {
            PushEvent::Report => (None, None),
            PushEvent::Message { case_id, seq } => (Some(case_id.0.to_vec()), Some(seq)),
        };
        let (seq,): (i64,) = query_as(
            "WITH event AS (
                 INSERT INTO push_events (unit_id, case_id, message_seq, created_at) VALUES ($1, $2, $3, $4)
                 RETURNING seq
             )
             SELECT seq FROM event, LATERAL pg_notify($5, '') AS notified",
        )
        .bind(unit_id)
        .bind(case_id)
        .bind(message_seq)
        .bind(millis(Utc::now()))
        .bind(CHANNEL)
        .fetch_one(&self.pool)
        .await
        .map_err(db_error)?;
        let mut own = self.own.lock().unwrap_or_else(PoisonError::into_inner);
        own.0.insert(seq);
        own.1.push_back(seq);
        if own.1.len() > OWN_KEPT {
            if let Some(old) = own.1.pop_front() {
                own.0.remove(&old);
            }
        }
        Ok(())
    }

    fn is_own(&self, seq: i64) -> bool {
        self.own
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .0
            .contains(&seq)
    }
}

/// An event row: seq, unit id, case id and message seq (for a follow-up).
type EventRow = (i64, String, Option<Vec<u8>>, Option<i64>);

/// The events read so far: the highest number, and those seen within the look-back window.
#[derive(Default)]
struct Cursor {
    seen: BTreeSet<i64>,
    high: i64,
}

impl Cursor {
    /// The events not handed out yet, handed to the node's streams.
    async fn read(&mut self, shared: &Shared) -> StoreResult<()> {
        loop {
            let rows: Vec<EventRow> = query_as(
                "SELECT seq, unit_id, case_id, message_seq FROM push_events WHERE seq > $1 ORDER BY seq LIMIT $2",
            )
            .bind(self.high.saturating_sub(LOOK_BACK))
            .bind(READ_BATCH)
            .fetch_all(&shared.pool)
            .await
            .map_err(db_error)?;
            let count = rows.len();
            let mut fresh = 0usize;
            for (seq, unit_id, case_id, message_seq) in rows {
                if !self.seen.insert(seq) {
                    continue;
                }
                fresh += 1;
                self.high = self.high.max(seq);
                if shared.is_own(seq) {
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
            let floor = self.high.saturating_sub(LOOK_BACK);
            self.seen = self.seen.split_off(&floor);
            if count < usize::try_from(READ_BATCH).unwrap_or(usize::MAX) || fresh == 0 {
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
            seen: BTreeSet::new(),
            high: high.unwrap_or(0),
        })
    }
}

/// Listens for wake-ups until the hub is dropped, reconnecting after a lost connection.
async fn listen(shared: Arc<Shared>) {
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
