//! Intake in batches. A submission costs PostgreSQL far more as a transaction of its own (a
//! commit, a round trip, a WAL record of the commit, a wake-up of a backend) than as one more
//! row in a transaction that stores many, so a node gathers its submissions: a task takes the
//! first one waiting and whatever else is already queued (up to a count and a byte budget),
//! stores them with one call of `tipline_submit_many` (one round trip, one commit), and answers
//! each. At most `IN_FLIGHT` batches are being stored at once; while they wait for their
//! commits, the submissions that arrive meanwhile queue up and make the next batch. A lone
//! submission on a quiet node goes at once, as a batch of one.
//!
//! Every submission, in a batch or alone (a batch of one), is decided by the same function
//! (migration 0003, in fewer statements since 0004), which decides what `tipline_submit`
//! (migration 0002) decided. If the call fails for any other reason than a lost database (a
//! deadlock with another node's batch, one submission PostgreSQL refuses), the batch's
//! submissions are stored again one call each, so that each gets its own answer and one bad
//! submission fails alone. Within a batch, submissions go in case id order, so that two
//! batches creating the same cases lock them in the same order; a report id twice in one batch
//! is stored after it, alone.
//!
//! Like the SQLite store's writer, a submission whose caller went away (the client hung up) is
//! still stored: the write stands, and a retry gets its receipt.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use sqlx_postgres::PgPool;
use tokio::sync::{mpsc, oneshot, Semaphore};

use super::reports;
use crate::store::{NewReport, StoreError, StoreResult, SubmitOutcome};

/// Most submissions in one batch.
const MAX_BATCH: usize = 64;
/// Envelope bytes after which a batch takes no more submissions (the first is always taken).
const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;
/// Batches being stored at once, each on one of intake's own connections (as many as this,
/// so that the same backends take every batch). Few, so that batches grow under load: on a
/// 2-core machine with 32 clients, four in flight made batches of about 3 and PostgreSQL spent
/// 200 us of CPU per report (4,800 submissions/s); two made batches of about 5, 114 us and
/// 6,800/s. One did as well as two, but then a batch waiting on a lock would hold up all of a
/// node's intake.
pub(super) const IN_FLIGHT: u32 = 2;
/// Submissions waiting for a batch; a caller waits for room past that.
const QUEUE: usize = 4096;

/// A submission waiting to be stored, and its caller.
struct Pending {
    report: NewReport,
    reply: oneshot::Sender<StoreResult<SubmitOutcome>>,
}

/// The node's side of intake in batches. Cheap to clone (clones share the queue).
#[derive(Clone)]
pub(super) struct Submitter {
    queue: mpsc::Sender<Pending>,
    /// Calls made to the database for intake (batches, and submissions stored alone).
    calls: Arc<AtomicU64>,
}

impl Submitter {
    /// Starts the gathering task for `pool` (intake's own connections, `IN_FLIGHT` of them);
    /// `origin` is the node's number (push events).
    pub(super) fn start(pool: PgPool, origin: i64) -> Submitter {
        let (queue, waiting) = mpsc::channel(QUEUE);
        let calls = Arc::new(AtomicU64::new(0));
        tokio::spawn(gather(waiting, pool, origin, Arc::clone(&calls)));
        Submitter { queue, calls }
    }

    /// Calls made to the database for intake so far.
    pub(super) fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Stores `report` with the next batch.
    pub(super) async fn submit(&self, report: NewReport) -> StoreResult<SubmitOutcome> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Pending { report, reply })
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

/// Takes batches off the queue until every submitter is gone, each once a slot is free.
async fn gather(mut waiting: mpsc::Receiver<Pending>, pool: PgPool, origin: i64, calls: Arc<AtomicU64>) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT as usize));
    loop {
        // The slot first: what arrives while every slot is busy joins the next batch.
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let Some(first) = waiting.recv().await else {
            return;
        };
        let mut bytes = first.report.envelope.len();
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES {
            let Ok(next) = waiting.try_recv() else {
                break;
            };
            bytes += next.report.envelope.len();
            batch.push(next);
        }
        let (pool, calls) = (pool.clone(), Arc::clone(&calls));
        tokio::spawn(async move {
            store(&pool, batch, origin, &calls).await;
            drop(slot);
        });
    }
}

/// Stores one batch and answers each of its callers.
async fn store(pool: &PgPool, mut batch: Vec<Pending>, origin: i64, calls: &AtomicU64) {
    if batch.len() == 1 {
        for pending in batch {
            store_alone(pool, pending, origin, calls).await;
        }
        return;
    }
    batch.sort_unstable_by(|a, b| {
        (a.report.case_id.0, a.report.report_id.0).cmp(&(b.report.case_id.0, b.report.report_id.0))
    });
    // A report id twice in one batch (a retry that overtook its first try) is stored after
    // the batch, alone, and so answered as the repeat it is.
    let mut ids = std::collections::HashSet::with_capacity(batch.len());
    let (batch, repeats): (Vec<Pending>, Vec<Pending>) =
        batch.into_iter().partition(|p| ids.insert(p.report.report_id.0));
    store_batch(pool, batch, origin, calls).await;
    for pending in repeats {
        store_alone(pool, pending, origin, calls).await;
    }
}

/// Stores a batch of distinct report ids with one call, or one call each if that fails.
async fn store_batch(pool: &PgPool, batch: Vec<Pending>, origin: i64, calls: &AtomicU64) {
    calls.fetch_add(1, Ordering::Relaxed);
    let all: Vec<&NewReport> = batch.iter().map(|p| &p.report).collect();
    match reports::submit_many(pool, &all, origin).await {
        Ok(outcomes) => {
            for (pending, outcome) in batch.into_iter().zip(outcomes) {
                let _ = pending.reply.send(Ok(outcome));
            }
        }
        Err(StoreError::Unavailable(why)) => {
            for pending in batch {
                let _ = pending.reply.send(Err(StoreError::Unavailable(why.clone())));
            }
        }
        Err(_) => {
            // The error's text may quote a value; the count is enough to tell it happened.
            tracing::debug!(
                count = batch.len(),
                "a batch of submissions failed; storing them one by one"
            );
            for pending in batch {
                store_alone(pool, pending, origin, calls).await;
            }
        }
    }
}

/// Stores one submission with a call of its own: a batch of one, so that its outcome is
/// decided by the same statements as in any batch.
async fn store_alone(pool: &PgPool, pending: Pending, origin: i64, calls: &AtomicU64) {
    calls.fetch_add(1, Ordering::Relaxed);
    let outcome = reports::submit_many(pool, &[&pending.report], origin)
        .await
        .and_then(|mut outcomes| {
            outcomes
                .pop()
                .ok_or_else(|| StoreError::Database("a submission came back without its outcome".to_owned()))
        });
    let _ = pending.reply.send(outcome);
}
