//! The writer thread: the one connection that writes, and group commit.
//!
//! Every write is a job sent over a channel. The thread takes the first job, then whatever else
//! is already queued (up to a count and a byte budget), runs each job inside its own SAVEPOINT of
//! one transaction (a failing job is rolled back alone), commits once (one fsync for the whole
//! batch), and only then answers every job. Under load, many requests share each fsync. The
//! in-memory id maps (`ids`) follow: what a rolled-back savepoint or a failed commit undid in
//! the file is undone in the maps too.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::codec::{OpError, OpResult};
use super::ids::IdMaps;
use crate::store::{StoreError, StoreResult};

/// Most jobs in one transaction.
const MAX_BATCH_JOBS: usize = 256;
/// Payload bytes after which a batch takes no more jobs (the first job is always taken), so an
/// attachment upload burst does not make one huge transaction.
const MAX_BATCH_BYTES: usize = 16 * 1024 * 1024;

/// What the writer thread is sent.
pub(super) enum Msg {
    /// A write to run.
    Job(Box<dyn Job>),
    /// Finish what is queued, then stop; answered once the connection is closed.
    Close(oneshot::Sender<()>),
}

/// A write and the caller waiting for its answer.
pub(super) trait Job: Send {
    /// Payload bytes, for the batch budget.
    fn weight(&self) -> usize;
    /// Runs the job's statements, with the id maps; whether they succeeded.
    fn run(&mut self, conn: &Connection, ids: &IdMaps) -> bool;
    /// Marks a job that ran as failed after all (its changes could not be kept).
    fn fail(&mut self, why: &'static str);
    /// Answers the caller: with the job's own result if the batch committed (`None`), else with
    /// the commit's failure.
    fn answer(self: Box<Self>, failure: Option<&str>);
}

/// A job from a closure.
pub(super) struct FnJob<T, F> {
    weight: usize,
    work: Option<F>,
    result: Option<OpResult<T>>,
    reply: oneshot::Sender<StoreResult<T>>,
}

impl<T, F> FnJob<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection, &IdMaps) -> OpResult<T> + Send + 'static,
{
    /// A job running `work`, answering on the returned receiver.
    pub(super) fn boxed(weight: usize, work: F) -> (Box<dyn Job>, oneshot::Receiver<StoreResult<T>>) {
        let (reply, answer) = oneshot::channel();
        (
            Box::new(FnJob {
                weight,
                work: Some(work),
                result: None,
                reply,
            }),
            answer,
        )
    }
}

impl<T, F> Job for FnJob<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection, &IdMaps) -> OpResult<T> + Send + 'static,
{
    fn weight(&self) -> usize {
        self.weight
    }

    fn run(&mut self, conn: &Connection, ids: &IdMaps) -> bool {
        let Some(work) = self.work.take() else {
            return false;
        };
        let result = work(conn, ids);
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn fail(&mut self, why: &'static str) {
        self.result = Some(Err(OpError::Data(why)));
    }

    fn answer(self: Box<Self>, failure: Option<&str>) {
        let answer = match (failure, self.result) {
            (None, Some(result)) => result.map_err(StoreError::from),
            // The job panicked.
            (None, None) => Err(StoreError::Database("the write did not run".to_owned())),
            (Some(failure), _) => Err(StoreError::Database(failure.to_owned())),
        };
        // The caller may have gone away; the write stands regardless.
        let _ = self.reply.send(answer);
    }
}

/// Runs the writer loop until every sender is gone or a `Close` arrives and the queue is empty.
pub(super) fn run(conn: Connection, mut rx: mpsc::Receiver<Msg>, commits: Arc<AtomicU64>, ids: Arc<IdMaps>) {
    let mut closers = Vec::new();
    let mut carried: Option<Box<dyn Job>> = None;
    loop {
        let first = match carried.take() {
            Some(job) => job,
            None => match rx.blocking_recv() {
                Some(Msg::Job(job)) => job,
                Some(Msg::Close(closer)) => {
                    // Jobs already queued are still run; new sends fail with `Closed`.
                    closers.push(closer);
                    rx.close();
                    continue;
                }
                None => break,
            },
        };
        let mut bytes = first.weight();
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH_JOBS && bytes < MAX_BATCH_BYTES {
            match rx.try_recv() {
                Ok(Msg::Job(job)) => {
                    if bytes.saturating_add(job.weight()) > MAX_BATCH_BYTES {
                        carried = Some(job);
                        break;
                    }
                    bytes = bytes.saturating_add(job.weight());
                    batch.push(job);
                }
                Ok(Msg::Close(closer)) => {
                    closers.push(closer);
                    rx.close();
                }
                Err(_) => break,
            }
        }
        tracing::debug!(jobs = batch.len(), bytes, "sqlite write batch");
        if commit_batch(&conn, &ids, batch) {
            commits.fetch_add(1, Ordering::Relaxed);
        }
    }
    drop(conn);
    for closer in closers {
        let _ = closer.send(());
    }
}

/// Runs a batch in one transaction and answers its jobs; whether a commit happened.
fn commit_batch(conn: &Connection, ids: &IdMaps, batch: Vec<Box<dyn Job>>) -> bool {
    // Jobs whose changes are in the open transaction, waiting for its commit.
    let mut done: Vec<Box<dyn Job>> = Vec::with_capacity(batch.len());
    for mut job in batch {
        if conn.is_autocommit() {
            if let Err(error) = conn.execute_batch("BEGIN IMMEDIATE") {
                tracing::warn!(error = %error, "sqlite could not begin a write transaction");
                job.answer(Some("could not begin a write transaction"));
                continue;
            }
        }
        run_in_savepoint(conn, ids, job.as_mut());
        if conn.is_autocommit() {
            ids.roll_back_to(0);
            // SQLite rolled the whole transaction back (disk full, I/O error...): the earlier
            // jobs' changes are gone too, whatever this job's own outcome.
            tracing::warn!("sqlite rolled back a write transaction");
            for earlier in done.drain(..) {
                earlier.answer(Some("the write transaction was rolled back"));
            }
            job.answer(Some("the write transaction was rolled back"));
            continue;
        }
        done.push(job);
    }
    if done.is_empty() {
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        ids.roll_back_to(0);
        return false;
    }
    let committed = conn.execute_batch("COMMIT");
    let failure = match &committed {
        Ok(()) => {
            ids.commit();
            None
        }
        Err(error) => {
            ids.roll_back_to(0);
            tracing::warn!(error = %error, jobs = done.len(), "sqlite commit failed");
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            Some("the write could not be committed")
        }
    };
    for job in done {
        job.answer(failure);
    }
    committed.is_ok()
}

/// Runs one job inside a savepoint, rolled back alone if the job fails or panics.
fn run_in_savepoint(conn: &Connection, ids: &IdMaps, job: &mut dyn Job) {
    let mark = ids.mark();
    if conn.execute_batch("SAVEPOINT job").is_err() {
        job.fail("could not start the write");
        return;
    }
    // A panic in a job is a bug; it costs that job, not the writer thread and the whole store.
    let ok = catch_unwind(AssertUnwindSafe(|| job.run(conn, ids))).unwrap_or_else(|_| {
        tracing::error!("sqlite write job panicked");
        false
    });
    if ok {
        if conn.execute_batch("RELEASE job").is_ok() {
            return;
        }
        job.fail("could not keep the write");
    }
    let _ = conn.execute_batch("ROLLBACK TO job");
    let _ = conn.execute_batch("RELEASE job");
    ids.roll_back_to(mark);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insert(value: i64) -> impl FnOnce(&Connection, &IdMaps) -> OpResult<i64> + Send + 'static {
        move |conn: &Connection, _: &IdMaps| {
            conn.execute("INSERT INTO t (v) VALUES (?1)", [value])?;
            Ok(value)
        }
    }

    #[test]
    fn test_failing_and_panicking_jobs_are_rolled_back_alone() {
        // Given a batch of a good job, a failing one, a panicking one, and another good one
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (v INTEGER NOT NULL UNIQUE)")
            .unwrap();
        let (good, good_answer) = FnJob::boxed(0, insert(1));
        let (failing, failing_answer) = FnJob::boxed(0, |conn: &Connection, _: &IdMaps| {
            conn.execute("INSERT INTO t (v) VALUES (2)", [])?;
            conn.execute("INSERT INTO t (v) VALUES (1)", [])?;
            Ok(0)
        });
        let (panicking, panicking_answer) =
            FnJob::boxed(0, |conn: &Connection, _: &IdMaps| -> OpResult<i64> {
                conn.execute("INSERT INTO t (v) VALUES (3)", [])?;
                panic!("a bug in a job");
            });
        let (other, other_answer) = FnJob::boxed(0, insert(4));

        // When the batch runs
        let committed = commit_batch(&conn, &IdMaps::default(), vec![good, failing, panicking, other]);

        // Then it commits once, the good jobs are answered and kept, the others undone
        assert!(committed);
        assert_eq!(good_answer.blocking_recv().unwrap().unwrap(), 1);
        assert!(failing_answer.blocking_recv().unwrap().is_err());
        assert!(panicking_answer.blocking_recv().unwrap().is_err());
        assert_eq!(other_answer.blocking_recv().unwrap().unwrap(), 4);
        let kept: Vec<i64> = conn
            .prepare("SELECT v FROM t ORDER BY v")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(kept, vec![1, 4]);
    }

    #[test]
    fn test_ids_recorded_by_a_job_that_fails_are_forgotten_and_the_others_kept() {
        // Given a job that records an id and succeeds, and one that records an id and fails
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (v INTEGER NOT NULL UNIQUE)")
            .unwrap();
        let ids = IdMaps::default();
        let recording = |id: u8, value: i64| {
            move |conn: &Connection, ids: &IdMaps| -> OpResult<i64> {
                ids.add_report([id; 16], value);
                conn.execute("INSERT INTO t (v) VALUES (?1)", [value])?;
                Ok(value)
            }
        };
        let (kept, kept_answer) = FnJob::boxed(0, recording(1, 1));
        let (undone, undone_answer) = FnJob::boxed(0, recording(2, 1));

        // When they run in one batch
        assert!(commit_batch(&conn, &ids, vec![kept, undone]));

        // Then only the committed job's id is known
        assert!(kept_answer.blocking_recv().unwrap().is_ok());
        assert!(undone_answer.blocking_recv().unwrap().is_err());
        assert_eq!((ids.report(&[1; 16]), ids.report(&[2; 16])), (Some(1), None));
    }
}
