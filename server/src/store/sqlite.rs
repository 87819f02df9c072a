//! The embedded store: one SQLite file in WAL mode, every acknowledged write synced to disk.
//!
//! Durability must not cost throughput, so writes are group-committed: they all go to one writer
//! thread that owns the only writing connection and commits whatever has queued up in one
//! transaction, one fsync for the lot (see `writer`). Reads run on a few read-only connections
//! on tokio's blocking pool; in WAL mode they never wait for the writer and see every write that
//! has been answered. No async method blocks the runtime. Reports and cases are found by their
//! ids through maps kept in memory (see `ids`), so one process at a time has the file open.
//!
//! Nothing here logs an identifier, an envelope or a hash: only counts and batch sizes.

mod attachments;
mod cases;
mod codec;
mod ids;
mod public;
mod reports;
mod schema;
mod writer;

use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, TryLockError};
use std::thread::JoinHandle;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::Connection;
use tipline_core::report::{CaseId, MessageId, ReportId};
use tokio::sync::{mpsc, oneshot};

use self::codec::{OpError, OpResult};
use self::ids::{IdMaps, Lock};
use self::writer::{FnJob, Msg};
use super::{
    AppendOutcome, AttachmentProgress, CaseRecord, DeclaredAttachment, Delivery, Expired, MessageDirection,
    NewReport, SealedMessage, Store, StoreError, StoreResult, StoreStats, StoredAlert, SubmitOutcome,
    TransferOutcome,
};

/// Read connections: enough for the blocking pool to overlap a few reads on a small machine.
const READERS: usize = 4;
/// Writes waiting for the writer thread before callers wait to enqueue (back-pressure).
const WRITE_QUEUE: usize = 4096;
/// Reports deleted per write job by `purge`, so that retention never holds the writer long.
const PURGE_BATCH: u32 = 64;

/// The SQLite store. Cheap to clone (clones share the file, the writer and the readers). When
/// the last clone is dropped, the writer thread finishes the writes already queued and stops;
/// the drop waits for it. `close` does the same without waiting for the last clone.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// Present until the store is dropped.
    writes: Option<mpsc::Sender<Msg>>,
    writer: Option<JoinHandle<()>>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    commits: Arc<AtomicU64>,
    ids: Arc<IdMaps>,
    /// Held until the writer has stopped (fields drop after `Drop::drop`).
    _lock: Lock,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("commits", &self.commit_count())
            .finish_non_exhaustive()
    }
}

/// The database file, private, and its WAL and SHM files private if they exist.
fn private_files(path: &Path) -> StoreResult<()> {
    let failed =
        |error: std::io::Error| StoreError::Database(format!("making the database files private: {error}"));
    crate::config::ensure_private_file(path).map_err(failed)?;
    for suffix in ["-wal", "-shm"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        let side = std::path::PathBuf::from(side);
        if side.exists() {
            crate::config::ensure_private_file(&side).map_err(failed)?;
        }
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating it and its folder if need be) the database at `path`, brings its schema up
    /// to date, and starts the writer thread. Blocking: call it at startup, not from a request.
    ///
    /// The folder is made private (0700 on Unix) and the database file 0600 before SQLite opens
    /// it; SQLite gives its write-ahead log and shared-memory files the database file's mode, and
    /// those left by an earlier run are brought to 0600 too.
    pub fn open(path: &Path) -> StoreResult<SqliteStore> {
        if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
            crate::config::create_private_dir(parent)
                .map_err(|error| StoreError::Database(format!("creating the database folder: {error}")))?;
        }
        private_files(path)?;
        let lock = Lock::take(path).map_err(StoreError::Database)?;
        let conn = schema::open_writer(path)?;
        let ids = Arc::new(IdMaps::load(&conn)?);
        let readers = (0..READERS)
            .map(|_| schema::open_reader(path).map(Mutex::new))
            .collect::<OpResult<Vec<_>>>()?;
        let commits = Arc::new(AtomicU64::new(0));
        let (writes, queue) = mpsc::channel(WRITE_QUEUE);
        let writer_commits = Arc::clone(&commits);
        let writer_ids = Arc::clone(&ids);
        let writer = std::thread::Builder::new()
            .name("tipline-sqlite-writer".to_owned())
            .spawn(move || writer::run(conn, queue, writer_commits, writer_ids))
            .map_err(|error| StoreError::Database(format!("starting the writer thread: {error}")))?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                writes: Some(writes),
                writer: Some(writer),
                readers,
                next_reader: AtomicUsize::new(0),
                commits,
                ids,
                _lock: lock,
            }),
        })
    }

    /// Finishes the writes already queued and stops the writer thread; later writes fail with
    /// `StoreError::Closed` (reads still work). Returns once the writing connection is closed.
    pub async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if let Some(writes) = &self.inner.writes {
            if writes.send(Msg::Close(done)).await.is_ok() {
                // An error means the thread is gone already, which is what was asked.
                let _ = closed.await;
            }
        }
    }

    /// How many transactions the writer thread has committed since the store was opened: with
    /// group commit, usually far fewer than the writes (for metrics and tests).
    pub fn commit_count(&self) -> u64 {
        self.inner.commits.load(Ordering::Relaxed)
    }

    /// Runs `work` on the writer thread inside the next group commit, with the id maps; answers
    /// once committed.
    async fn write<T, F>(&self, weight: usize, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &IdMaps) -> OpResult<T> + Send + 'static,
    {
        let writes = self.inner.writes.as_ref().ok_or(StoreError::Closed)?;
        let (job, answer) = FnJob::boxed(weight, work);
        writes.send(Msg::Job(job)).await.map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs `work` on a read connection on the blocking pool, with the id maps.
    async fn read<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &IdMaps) -> OpResult<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || inner.with_reader(work))
            .await
            .map_err(|_| StoreError::Database("a read task failed".to_owned()))?
            .map_err(StoreError::from)
    }
}

impl Inner {
    /// Runs `work` on a free read connection, or waits for one.
    fn with_reader<T>(&self, work: impl FnOnce(&Connection, &IdMaps) -> OpResult<T>) -> OpResult<T> {
        // A connection whose holder panicked is still a good connection: nothing is half-written
        // on a read-only one.
        for reader in &self.readers {
            match reader.try_lock() {
                Ok(conn) => return work(&conn, &self.ids),
                Err(TryLockError::Poisoned(poisoned)) => return work(&poisoned.into_inner(), &self.ids),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        let reader = self
            .readers
            .get(start % self.readers.len().max(1))
            .ok_or(OpError::Data("no read connection"))?;
        let conn = reader.lock().unwrap_or_else(PoisonError::into_inner);
        work(&conn, &self.ids)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channel lets the writer drain what is queued and return.
        self.writes = None;
        if let Some(writer) = self.writer.take() {
            if writer.join().is_err() {
                tracing::error!("the sqlite writer thread panicked");
            }
        }
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn submit_report(&self, report: NewReport) -> StoreResult<SubmitOutcome> {
        let weight = report.envelope.len() + report.receipt.len();
        self.write(weight, move |conn, ids| reports::submit(conn, ids, &report))
            .await
    }

    async fn lease_reports(
        &self,
        unit_id: &str,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: u32,
    ) -> StoreResult<Vec<Delivery>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let until = now
            .checked_add_signed(lease)
            .ok_or_else(|| StoreError::Database("lease ends out of range".to_owned()))?;
        let unit_id = unit_id.to_owned();
        self.write(0, move |conn, _| {
            reports::lease(conn, &unit_id, now, until, limit)
        })
        .await
    }

    async fn next_lease_expiry(&self, unit_id: &str) -> StoreResult<Option<DateTime<Utc>>> {
        let unit_id = unit_id.to_owned();
        self.read(move |conn, _| reports::next_lease_expiry(conn, &unit_id))
            .await
    }

    async fn ack_report(&self, unit_id: &str, report_id: ReportId, now: DateTime<Utc>) -> StoreResult<bool> {
        let unit_id = unit_id.to_owned();
        self.write(0, move |conn, ids| {
            reports::ack(conn, ids, &unit_id, &report_id, now)
        })
        .await
    }

    async fn append_attachment(
        &self,
        report_id: ReportId,
        index: u16,
        case_secret_hash: [u8; 32],
        offset: u64,
        bytes: &[u8],
    ) -> StoreResult<AppendOutcome> {
        let bytes = bytes.to_vec();
        self.write(bytes.len(), move |conn, ids| {
            attachments::append(conn, ids, &report_id, index, &case_secret_hash, offset, &bytes)
        })
        .await
    }

    async fn attachment_state(
        &self,
        report_id: ReportId,
        index: u16,
        case_secret_hash: Option<[u8; 32]>,
    ) -> StoreResult<Option<AttachmentProgress>> {
        self.read(move |conn, ids| {
            attachments::state(conn, ids, &report_id, index, case_secret_hash.as_ref())
        })
        .await
    }

    async fn read_attachment(
        &self,
        unit_id: &str,
        report_id: ReportId,
        index: u16,
        offset: u64,
        len: u64,
    ) -> StoreResult<Option<Vec<u8>>> {
        let unit_id = unit_id.to_owned();
        self.read(move |conn, ids| attachments::read(conn, ids, &unit_id, &report_id, index, offset, len))
            .await
    }

    async fn transfer_report(
        &self,
        from_unit: &str,
        report_id: ReportId,
        to_unit: &str,
        envelope: Vec<u8>,
        attachments: Vec<DeclaredAttachment>,
        upload_hash: Option<[u8; 32]>,
    ) -> StoreResult<TransferOutcome> {
        let (from_unit, to_unit) = (from_unit.to_owned(), to_unit.to_owned());
        self.write(envelope.len(), move |conn, ids| {
            reports::transfer(
                conn,
                ids,
                &from_unit,
                &report_id,
                &to_unit,
                &envelope,
                &attachments,
                upload_hash.as_ref(),
            )
        })
        .await
    }

    async fn case(&self, case_id: CaseId) -> StoreResult<Option<CaseRecord>> {
        self.read(move |conn, ids| cases::case(conn, ids, &case_id)).await
    }

    async fn add_message(
        &self,
        case_id: CaseId,
        message_id: MessageId,
        direction: MessageDirection,
        envelope: Vec<u8>,
        now: DateTime<Utc>,
    ) -> StoreResult<SealedMessage> {
        self.write(envelope.len(), move |conn, ids| {
            cases::add_message(conn, ids, &case_id, &message_id, direction, &envelope, now)
        })
        .await
    }

    async fn messages(&self, case_id: CaseId, after: i64, limit: u32) -> StoreResult<Vec<SealedMessage>> {
        self.read(move |conn, _| cases::messages(conn, &case_id, after, limit))
            .await
    }

    async fn directory(&self, format: u32) -> StoreResult<Option<(u64, Vec<u8>)>> {
        self.read(move |conn, _| public::directory(conn, format)).await
    }

    async fn publish_directory(&self, format: u32, version: u64, signed: Vec<u8>) -> StoreResult<bool> {
        self.write(signed.len(), move |conn, _| {
            public::publish_directory(conn, format, version, &signed)
        })
        .await
    }

    async fn add_alert(&self, alert: StoredAlert) -> StoreResult<()> {
        self.write(alert.signed.len(), move |conn, _| public::add_alert(conn, &alert))
            .await
    }

    async fn alerts(&self, region: &str, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<StoredAlert>> {
        let region = region.to_owned();
        self.read(move |conn, _| public::alerts(conn, &region, now, limit))
            .await
    }

    async fn purge(&self, acked_before: DateTime<Utc>, now: DateTime<Utc>) -> StoreResult<u64> {
        // In bounded steps, each its own write, so that intake goes on between them.
        let mut total = 0u64;
        loop {
            let deleted = self
                .write(0, move |conn, ids| {
                    reports::purge_some(conn, ids, acked_before, now, PURGE_BATCH)
                })
                .await?;
            total += deleted;
            if deleted < u64::from(PURGE_BATCH) {
                tracing::debug!(reports = total, "sqlite purge");
                return Ok(total);
            }
        }
    }

    async fn expire(&self, received_before: DateTime<Utc>) -> StoreResult<Expired> {
        let mut expired = Expired::default();
        loop {
            let deleted = self
                .write(0, move |conn, ids| {
                    reports::expire_some(conn, ids, received_before, PURGE_BATCH)
                })
                .await?;
            expired.reports += deleted;
            if deleted < u64::from(PURGE_BATCH) {
                break;
            }
        }
        // Found on a reader (a scan of the attachments), deleted in bounded writes.
        let stale = self
            .read(move |conn, ids| attachments::stale(conn, ids, codec::millis(received_before)))
            .await?;
        for batch in stale.chunks(PURGE_BATCH as usize) {
            let batch = batch.to_vec();
            expired.uploads += self
                .write(0, move |conn, _| {
                    let mut dropped = 0;
                    for (report_id, index) in &batch {
                        dropped += u64::from(attachments::drop_incomplete(conn, report_id, *index)?);
                    }
                    Ok(dropped)
                })
                .await?;
        }
        if expired != Expired::default() {
            tracing::debug!(
                reports = expired.reports,
                uploads = expired.uploads,
                "sqlite expiry"
            );
        }
        Ok(expired)
    }

    async fn usage(&self) -> StoreResult<u64> {
        self.read(|conn, _| reports::usage(conn)).await
    }

    async fn stats(&self) -> StoreResult<StoreStats> {
        self.read(|conn, _| reports::stats(conn)).await
    }

    async fn ping(&self) -> StoreResult<()> {
        if self.inner.writes.as_ref().is_none_or(|writes| writes.is_closed()) {
            return Err(StoreError::Closed);
        }
        self.read(|conn, _| Ok(conn.query_row("SELECT 1", [], |row| row.get::<_, i64>(0))?))
            .await?;
        Ok(())
    }
}
