//! The schema, as numbered migrations applied in order and recorded in `PRAGMA user_version`, and
//! the connection settings. A migration that ran is never run again, so opening the same file
//! after a restart changes nothing; a migration is never edited once released, only followed by
//! another.
//!
//! Layout notes: in `reports` the small columns come first and the envelope last, so that scans
//! of the state columns never walk a large envelope's overflow pages. `acked_at IS NULL` is the
//! one test of "pending" used by every query, so that they can use the partial indexes.
//! Attachment data is stored as chunk rows, one per accepted append, which works the same on
//! PostgreSQL.

use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::codec::{OpError, OpResult};

/// How long a connection waits for a lock held by another before it gives up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Bytes the write-ahead log is truncated to after a checkpoint.
const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

/// Prepared statements kept per connection (the store uses a few dozen distinct ones).
const STATEMENT_CACHE: usize = 64;

/// Migration `i` brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    "
    CREATE TABLE cases (
        case_id      BLOB PRIMARY KEY NOT NULL,
        unit_id      TEXT NOT NULL,
        secret_hash  BLOB NOT NULL,
        created_at   INTEGER NOT NULL
    );

    CREATE TABLE reports (
        report_id        BLOB PRIMARY KEY NOT NULL,
        unit_id          TEXT NOT NULL,
        case_id          BLOB NOT NULL REFERENCES cases (case_id),
        state            TEXT NOT NULL CHECK (state IN ('queued', 'leased', 'acked')),
        received_at      INTEGER NOT NULL,
        lease_until      INTEGER,
        delivery_count   INTEGER NOT NULL DEFAULT 0,
        acked_at         INTEGER,
        envelope_sha256  BLOB NOT NULL,
        receipt          BLOB NOT NULL,
        envelope         BLOB NOT NULL
    );
    CREATE INDEX reports_pending ON reports (unit_id, received_at) WHERE acked_at IS NULL;
    CREATE INDEX reports_acked ON reports (acked_at) WHERE acked_at IS NOT NULL;
    CREATE INDEX reports_case ON reports (case_id);

    CREATE TABLE attachments (
        report_id    BLOB NOT NULL REFERENCES reports (report_id) ON DELETE CASCADE,
        idx          INTEGER NOT NULL,
        sealed_size  INTEGER NOT NULL,
        received     INTEGER NOT NULL DEFAULT 0,
        complete     INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (report_id, idx)
    ) WITHOUT ROWID;

    CREATE TABLE attachment_chunks (
        report_id     BLOB NOT NULL,
        idx           INTEGER NOT NULL,
        chunk_offset  INTEGER NOT NULL,
        bytes         BLOB NOT NULL,
        PRIMARY KEY (report_id, idx, chunk_offset),
        FOREIGN KEY (report_id, idx) REFERENCES attachments (report_id, idx) ON DELETE CASCADE
    );

    CREATE TABLE messages (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        case_id      BLOB NOT NULL REFERENCES cases (case_id) ON DELETE CASCADE,
        message_id   BLOB NOT NULL UNIQUE,
        direction    TEXT NOT NULL CHECK (direction IN ('to_unit', 'to_reporter')),
        created_at   INTEGER NOT NULL,
        envelope     BLOB NOT NULL
    );
    CREATE INDEX messages_case ON messages (case_id, seq);

    CREATE TABLE alerts (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        alert_id    BLOB NOT NULL UNIQUE,
        unit_id     TEXT NOT NULL,
        regions     TEXT NOT NULL,
        expires_at  INTEGER NOT NULL,
        signed      BLOB NOT NULL
    );
    CREATE INDEX alerts_expiry ON alerts (expires_at);

    CREATE TABLE alert_regions (
        region    TEXT NOT NULL COLLATE NOCASE,
        alert_id  BLOB NOT NULL REFERENCES alerts (alert_id) ON DELETE CASCADE,
        PRIMARY KEY (region, alert_id)
    ) WITHOUT ROWID;
    CREATE INDEX alert_regions_alert ON alert_regions (alert_id);

    CREATE TABLE directory (
        id       INTEGER PRIMARY KEY CHECK (id = 1),
        version  INTEGER NOT NULL,
        signed   BLOB NOT NULL
    );
    ",
    // 2: a transferred report's attachments are uploaded again by the desk that transferred
    // it, with a secret of its own (its SHA-256 here) instead of the reporter's case secret.
    "
    ALTER TABLE attachments ADD COLUMN upload_hash BLOB;
    ",
];

/// Opens the connection that writes: WAL, every commit synced (`synchronous=FULL`), foreign
/// keys enforced, savepoint journals in memory; then brings the schema up to date.
pub(super) fn open_writer(path: &std::path::Path) -> OpResult<Connection> {
    let mut conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(OpError::Data("the database cannot use write-ahead logging"));
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // After a checkpoint, the write-ahead log is cut back to this size instead of staying as
    // large as its busiest moment.
    conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
    // Each write runs in a savepoint; its undo journal lives in memory rather than in a
    // temporary file that the first change of every page would be copied to.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    migrate(&mut conn)?;
    Ok(conn)
}

/// Opens a connection that only reads.
pub(super) fn open_reader(path: &std::path::Path) -> OpResult<Connection> {
    let flags =
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// Applies the migrations the database has not seen yet, each in its own transaction together
/// with the version bump, so a crash leaves either the old or the new version. The version is
/// read inside the transaction, so two processes opening a new file at once do not both migrate.
fn migrate(conn: &mut Connection) -> OpResult<()> {
    loop {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let current: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
        let current = usize::try_from(current).map_err(|_| OpError::Data("schema version is negative"))?;
        let Some(sql) = MIGRATIONS.get(current) else {
            if current > MIGRATIONS.len() {
                return Err(OpError::Data("the database was written by a newer server"));
            }
            return Ok(());
        };
        tx.execute_batch(sql)?;
        // PRAGMA takes no bound parameters; the number is ours.
        tx.execute_batch(&format!("PRAGMA user_version = {}", current + 1))?;
        tx.commit()?;
        tracing::debug!(version = current + 1, "sqlite schema migrated");
    }
}
