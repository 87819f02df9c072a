//! The PostgreSQL store, for several intake nodes on one database: the same [`Store`] contract
//! as the embedded SQLite store, kept by the database's own locks instead of one writer thread,
//! so that any number of nodes may write at once.
//!
//! - A report id raced to two nodes is stored once: the insert is `ON CONFLICT DO NOTHING`, and
//!   the loser reads the winner's row (`Duplicate` with its receipt, or `Conflict`).
//! - A lease takes rows `FOR UPDATE SKIP LOCKED`, so two desks never lease the same report.
//! - An attachment append locks the attachment's row, so a piece is accepted only at the end
//!   as it stands when the lock is held, whichever node the pieces reach.
//! - A case message is inserted under its case's row lock, so message numbers within a case
//!   become visible in order and a `seq > after` cursor never skips one.
//!
//! Queries are plain strings bound at run time (no compile-time checking against a database),
//! prepared once per connection and cached by sqlx. Migrations live beside this file, applied
//! at start under an advisory lock. Nothing here logs an identifier, an envelope or a hash.

mod batch;
mod migrate;
mod public;
pub mod push;
mod reports;
mod uploads;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx_core::error::Error as SqlxError;
use sqlx_postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use tipline_core::report::{CaseId, MessageId, ReportId};

use super::{
    AppendOutcome, AttachmentProgress, CaseRecord, DeclaredAttachment, Delivery, Expired, MessageDirection,
    NewReport, SealedMessage, Store, StoreError, StoreResult, StoreStats, StoredAlert, SubmitOutcome,
    TransferOutcome,
};

/// Connections per node for everything but the intake of reports (leases, acknowledgements,
/// uploads, case messages, alerts, retention), which has connections of its own, one per batch
/// in flight (`batch::IN_FLIGHT`). A node holds one more for `LISTEN`; PostgreSQL's default
/// `max_connections` (100) fits two nodes, more need it raised (README).
const POOL_SIZE: u32 = 32;
/// How long a request waits for a connection before the node answers 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a session may sit idle inside a transaction before PostgreSQL ends it.
const IDLE_IN_TRANSACTION: &str = "60s";
/// How long a statement waits for a lock before it fails (migrations wait as long as needed).
const LOCK_TIMEOUT: &str = "10s";
/// Rows deleted per statement by retention, so that it never holds many locks long.
const PURGE_BATCH: i64 = 256;

/// The advisory lock key of retention's jobs (purge and expire), so that one node at a time
/// runs either. One key for both: run at once, each would see the report the other is deleting
/// in its snapshot, and neither would delete a case holding one of each, which then stayed
/// past retention.
const RETENTION_LOCK: i64 = 0x7469_706c_0000_0001;

/// A session-level advisory lock held on one pooled connection while a periodic job runs: the
/// other nodes skip the job meanwhile, and a node that dies mid-job lets go with its connection.
/// One dropped without [`JobLock::release`] (its job's task aborted) takes its connection out of
/// the pool and closes it, so that the lock never goes back to the pool with it.
struct JobLock(
    Option<sqlx_core::pool::PoolConnection<sqlx_postgres::Postgres>>,
    i64,
);

impl JobLock {
    /// The lock if no other node holds it.
    async fn try_take(pool: &PgPool, key: i64) -> StoreResult<Option<JobLock>> {
        let mut conn = pool.acquire().await.map_err(db_error)?;
        let taken: bool = sqlx_core::query_scalar::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut *conn)
            .await
            .map_err(db_error)?;
        Ok(taken.then_some(JobLock(Some(conn), key)))
    }

    async fn release(mut self) {
        let Some(mut conn) = self.0.take() else {
            return;
        };
        let unlocked = sqlx_core::query::query("SELECT pg_advisory_unlock($1)")
            .bind(self.1)
            .execute(&mut *conn)
            .await;
        if unlocked.is_err() {
            // The lock must not stay with a connection that goes back to the pool.
            let _ = conn.close().await;
        }
    }
}

impl Drop for JobLock {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            // Closed when dropped, off the pool: PostgreSQL ends the session and its lock.
            drop(conn.detach());
        }
    }
}

/// The PostgreSQL store. Cheap to clone (clones share the pool).
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// This node's number, random for each store opened: recorded with the push events it
    /// writes, so that its own hub skips them when it reads them back (see `push.rs`).
    node: i64,
    /// Intake in batches (see `batch.rs`).
    submitter: batch::Submitter,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The connection options may hold a password.
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

/// A store error from sqlx: a lost or unreachable database is [`StoreError::Unavailable`]
/// (503 to clients, retried), anything else [`StoreError::Database`].
pub(crate) fn db_error(error: SqlxError) -> StoreError {
    match error {
        SqlxError::Io(_)
        | SqlxError::Tls(_)
        | SqlxError::PoolTimedOut
        | SqlxError::PoolClosed
        | SqlxError::WorkerCrashed => StoreError::Unavailable(error.to_string()),
        SqlxError::Database(ref db) => match db.code().as_deref() {
            // Class 08 (connection exception), 57P01-57P03 (admin shutdown, crash shutdown,
            // cannot connect now): the database is going away or not back yet. Class 53 (out
            // of disk, memory or connections), 25006 (read-only, as a standby after a
            // failover), 57014 (a statement cancelled), 55P03 (a lock not had in time) and
            // 25P03 (a session ended idle in a transaction): the database cannot take the
            // request now, and may later.
            Some(code)
                if code.starts_with("08")
                    || code.starts_with("57P")
                    || code.starts_with("53")
                    || matches!(code, "25006" | "57014" | "55P03" | "25P03") =>
            {
                StoreError::Unavailable(error.to_string())
            }
            _ => StoreError::Database(error.to_string()),
        },
        other => StoreError::Database(other.to_string()),
    }
}

/// Milliseconds since the epoch, the stored form of a time (as in the SQLite store).
pub(crate) fn millis(time: DateTime<Utc>) -> i64 {
    time.timestamp_millis()
}

/// A stored time.
pub(crate) fn time(millis: i64) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_millis(millis)
        .ok_or_else(|| StoreError::Database("stored time out of range".to_owned()))
}

/// A fixed-size id or hash from a stored byte string.
pub(crate) fn array<const N: usize>(bytes: &[u8]) -> StoreResult<[u8; N]> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Database("stored id of the wrong length".to_owned()))
}

/// A size or offset as stored (BIGINT).
pub(crate) fn to_i64(value: u64) -> StoreResult<i64> {
    i64::try_from(value).map_err(|_| StoreError::Database("size out of range".to_owned()))
}

/// A stored size or offset.
pub(crate) fn to_u64(value: i64) -> StoreResult<u64> {
    u64::try_from(value).map_err(|_| StoreError::Database("stored size is negative".to_owned()))
}

impl PostgresStore {
    /// Connects to `url` (`postgres://...`), brings the schema up to date and returns the store.
    pub async fn connect(url: &str) -> StoreResult<PostgresStore> {
        let options: PgConnectOptions = url
            .parse()
            .map_err(|_| StoreError::Database("the database URL does not parse".to_owned()))?;
        Self::connect_with(options).await
    }

    /// The same with options already parsed.
    pub async fn connect_with(options: PgConnectOptions) -> StoreResult<PostgresStore> {
        // A node cut off or killed half-way through a transaction must not hold its row locks
        // until TCP notices (hours): PostgreSQL ends such a session after a minute. A statement
        // waiting that long for a lock means something is held that should not be: it fails
        // (503, which clients retry) instead of holding one of the node's connections.
        let options = options.application_name("tipline-server").options([
            ("idle_in_transaction_session_timeout", IDLE_IN_TRANSACTION),
            ("lock_timeout", LOCK_TIMEOUT),
        ]);
        // Intake's own connections, one per batch in flight, so that the same backends store
        // every batch with their plans and caches warm; batches taken from the shared pool went
        // round its connections in turn (README, several nodes).
        let intake_pool = PgPoolOptions::new()
            .max_connections(batch::IN_FLIGHT)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .test_before_acquire(false)
            .connect_lazy_with(options.clone());
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .min_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // No round trip to test a connection before each use: sqlx tests it when it comes
            // back to the pool, and closes it if it broke, so after the database restarted each
            // pooled connection fails one request (503, which clients retry) and is replaced.
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(db_error)?;
        migrate::run(&pool).await?;
        let node = i64::from_ne_bytes(
            tipline_core::crypto::random::random_array(&mut tipline_core::crypto::random::OsRandom::new())
                .map_err(|_| StoreError::Database("no randomness for the node's number".to_owned()))?,
        );
        let submitter = batch::Submitter::start(intake_pool, node);
        Ok(PostgresStore {
            pool,
            node,
            submitter,
        })
    }

    /// The pool (for tests and the push hub).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A push hub over this database: `NOTIFY` on intake, `LISTEN` and a cursor for streams.
    pub fn push_hub(&self) -> push::PgHub {
        push::PgHub::start(self.pool.clone(), self.node)
    }

    /// Calls this node made to the database to store submissions (a batch is one call): fewer
    /// than the submissions when they came at once.
    pub fn intake_calls(&self) -> u64 {
        self.submitter.calls()
    }

    /// Closes the pool: later calls fail with [`StoreError::Unavailable`].
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn submit_report(&self, report: NewReport) -> StoreResult<SubmitOutcome> {
        self.submitter.submit(report).await
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
        reports::lease(&self.pool, unit_id, now, until, limit).await
    }

    async fn next_lease_expiry(&self, unit_id: &str) -> StoreResult<Option<DateTime<Utc>>> {
        reports::next_lease_expiry(&self.pool, unit_id).await
    }

    async fn ack_report(&self, unit_id: &str, report_id: ReportId, now: DateTime<Utc>) -> StoreResult<bool> {
        reports::ack(&self.pool, unit_id, &report_id, now).await
    }

    async fn ack_reports(
        &self,
        unit_id: &str,
        report_ids: &[ReportId],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<ReportId>> {
        reports::ack_many(&self.pool, unit_id, report_ids, now).await
    }

    async fn append_attachment(
        &self,
        report_id: ReportId,
        index: u16,
        case_secret_hash: [u8; 32],
        offset: u64,
        bytes: &[u8],
    ) -> StoreResult<AppendOutcome> {
        uploads::append(&self.pool, &report_id, index, &case_secret_hash, offset, bytes).await
    }

    async fn attachment_state(
        &self,
        report_id: ReportId,
        index: u16,
        case_secret_hash: Option<[u8; 32]>,
    ) -> StoreResult<Option<AttachmentProgress>> {
        uploads::state(&self.pool, &report_id, index, case_secret_hash.as_ref()).await
    }

    async fn read_attachment(
        &self,
        unit_id: &str,
        report_id: ReportId,
        index: u16,
        offset: u64,
        len: u64,
    ) -> StoreResult<Option<Vec<u8>>> {
        uploads::read(&self.pool, unit_id, &report_id, index, offset, len).await
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
        reports::transfer(
            &self.pool,
            from_unit,
            &report_id,
            to_unit,
            &envelope,
            &attachments,
            upload_hash.as_ref(),
            self.node,
        )
        .await
    }

    async fn case(&self, case_id: CaseId) -> StoreResult<Option<CaseRecord>> {
        public::case(&self.pool, &case_id).await
    }

    async fn add_message(
        &self,
        case_id: CaseId,
        message_id: MessageId,
        direction: MessageDirection,
        envelope: Vec<u8>,
        now: DateTime<Utc>,
    ) -> StoreResult<SealedMessage> {
        public::add_message(
            &self.pool,
            &case_id,
            &message_id,
            direction,
            &envelope,
            now,
            self.node,
        )
        .await
    }

    async fn messages(&self, case_id: CaseId, after: i64, limit: u32) -> StoreResult<Vec<SealedMessage>> {
        public::messages(&self.pool, &case_id, after, limit).await
    }

    async fn directory(&self, format: u32) -> StoreResult<Option<(u64, Vec<u8>)>> {
        public::directory(&self.pool, format).await
    }

    async fn publish_directory(&self, format: u32, version: u64, signed: Vec<u8>) -> StoreResult<bool> {
        public::publish_directory(&self.pool, format, version, &signed).await
    }

    async fn add_alert(&self, alert: StoredAlert) -> StoreResult<()> {
        public::add_alert(&self.pool, &alert).await
    }

    async fn alerts(&self, region: &str, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<StoredAlert>> {
        public::alerts(&self.pool, region, now, limit).await
    }

    async fn purge(&self, acked_before: DateTime<Utc>, now: DateTime<Utc>) -> StoreResult<u64> {
        let Some(lock) = JobLock::try_take(&self.pool, RETENTION_LOCK).await? else {
            tracing::debug!("retention: another node is running it");
            return Ok(0);
        };
        let purged = reports::purge(&self.pool, acked_before, now, PURGE_BATCH).await;
        lock.release().await;
        purged
    }

    async fn expire(&self, received_before: DateTime<Utc>) -> StoreResult<Expired> {
        let Some(lock) = JobLock::try_take(&self.pool, RETENTION_LOCK).await? else {
            tracing::debug!("retention: another node is running it");
            return Ok(Expired::default());
        };
        let expired = reports::expire(&self.pool, received_before, PURGE_BATCH).await;
        lock.release().await;
        expired
    }

    async fn usage(&self) -> StoreResult<u64> {
        // The tables that hold sealed bytes, with their indexes and TOAST: what reports,
        // attachments and messages take (not the catalog every database has, about 8 MB).
        let bytes: i64 = sqlx_core::query_scalar::query_scalar(
            "SELECT (pg_total_relation_size('reports') + pg_total_relation_size('attachment_chunks')
                     + pg_total_relation_size('messages'))::BIGINT",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(bytes.unsigned_abs())
    }

    async fn stats(&self) -> StoreResult<StoreStats> {
        reports::stats(&self.pool).await
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx_core::query::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }
}
