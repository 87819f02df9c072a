//! The schema, as numbered migrations applied in order and recorded in `PRAGMA user_version`, and
//! the connection settings. A migration that ran is never run again, so opening the same file
//! after a restart changes nothing; a migration is never edited once released, only followed by
//! another.
//!
//! Layout notes: a report's envelope is a row of `report_envelopes` (same `seq`), apart from
//! its state in `reports`, so that a lease or an acknowledgement rewrites a small row, not the
//! page of an envelope. `acked_at IS NULL` is the one test of "pending" used by every query, so
//! that they can use the partial indexes. Reports
//! and cases are rows in arrival order (`seq`), with no index on their random ids (see `ids`):
//! every index an intake adds to grows at its end.
//! Attachment data is stored as chunk rows, one per accepted append, which works the same on
//! PostgreSQL.

use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::codec::{OpError, OpResult};

/// How long a connection waits for a lock held by another before it gives up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Bytes the write-ahead log is truncated to after a checkpoint.
const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

/// Page size of a new database file: a report's envelope (about 2 KB) fits once in a 4 KiB page
/// and three times in an 8 KiB one, so each report writes less to the write-ahead log and to the
/// file (about 10-15% more reports per second in `--bench store`, measured when the envelope
/// was part of the report's row).
const PAGE_SIZE: i64 = 8192;

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
    // 3: reports and cases in arrival order (`seq`), found by their ids through the maps kept
    // in memory (`ids`), so that an intake appends rows instead of adding entries at random
    // places in three B-trees. Reports point at their case's `seq`; attachments and messages
    // keep the client's ids, without foreign keys to rows that are no longer keyed by them
    // (the purge deletes them itself). Runs with foreign keys off, checked before it commits.
    "
    CREATE TABLE cases_v3 (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        case_id      BLOB NOT NULL,
        unit_id      TEXT NOT NULL,
        secret_hash  BLOB NOT NULL,
        created_at   INTEGER NOT NULL
    );
    INSERT INTO cases_v3 (case_id, unit_id, secret_hash, created_at)
        SELECT case_id, unit_id, secret_hash, created_at FROM cases ORDER BY created_at, rowid;

    CREATE TABLE reports_v3 (
        seq              INTEGER PRIMARY KEY AUTOINCREMENT,
        report_id        BLOB NOT NULL,
        unit_id          TEXT NOT NULL,
        case_seq         INTEGER NOT NULL REFERENCES cases (seq),
        case_id          BLOB NOT NULL,
        state            TEXT NOT NULL CHECK (state IN ('queued', 'leased', 'acked')),
        received_at      INTEGER NOT NULL,
        lease_until      INTEGER,
        delivery_count   INTEGER NOT NULL DEFAULT 0,
        acked_at         INTEGER,
        envelope_sha256  BLOB NOT NULL,
        receipt          BLOB NOT NULL,
        envelope         BLOB NOT NULL
    );
    INSERT INTO reports_v3 (report_id, unit_id, case_seq, case_id, state, received_at, lease_until,
                            delivery_count, acked_at, envelope_sha256, receipt, envelope)
        SELECT r.report_id, r.unit_id, c.seq, r.case_id, r.state, r.received_at, r.lease_until,
               r.delivery_count, r.acked_at, r.envelope_sha256, r.receipt, r.envelope
        FROM reports r JOIN cases_v3 c ON c.case_id = r.case_id
        ORDER BY r.received_at, r.rowid;

    CREATE TABLE attachments_v3 (
        report_id    BLOB NOT NULL,
        idx          INTEGER NOT NULL,
        sealed_size  INTEGER NOT NULL,
        received     INTEGER NOT NULL DEFAULT 0,
        complete     INTEGER NOT NULL DEFAULT 0,
        upload_hash  BLOB,
        PRIMARY KEY (report_id, idx)
    ) WITHOUT ROWID;
    INSERT INTO attachments_v3 (report_id, idx, sealed_size, received, complete, upload_hash)
        SELECT report_id, idx, sealed_size, received, complete, upload_hash FROM attachments;

    CREATE TABLE messages_v3 (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        case_id      BLOB NOT NULL,
        message_id   BLOB NOT NULL UNIQUE,
        direction    TEXT NOT NULL CHECK (direction IN ('to_unit', 'to_reporter')),
        created_at   INTEGER NOT NULL,
        envelope     BLOB NOT NULL
    );
    INSERT INTO messages_v3 (seq, case_id, message_id, direction, created_at, envelope)
        SELECT seq, case_id, message_id, direction, created_at, envelope FROM messages ORDER BY seq;

    DROP TABLE messages;
    DROP TABLE attachments;
    DROP TABLE reports;
    DROP TABLE cases;
    ALTER TABLE cases_v3 RENAME TO cases;
    ALTER TABLE reports_v3 RENAME TO reports;
    ALTER TABLE attachments_v3 RENAME TO attachments;
    ALTER TABLE messages_v3 RENAME TO messages;

    CREATE INDEX reports_pending ON reports (unit_id, received_at) WHERE acked_at IS NULL;
    CREATE INDEX reports_acked ON reports (acked_at) WHERE acked_at IS NOT NULL;
    CREATE INDEX reports_case ON reports (case_seq);
    CREATE INDEX messages_case ON messages (case_id, seq);
    ",
    // 4: one published directory per format (format 2 adds the intake section; apps that read
    // only format 1 keep getting a format 1 copy). Every directory stored so far is format 1.
    "
    CREATE TABLE directories (
        format   INTEGER PRIMARY KEY NOT NULL,
        version  INTEGER NOT NULL,
        signed   BLOB NOT NULL
    );
    INSERT INTO directories (format, version, signed) SELECT 1, version, signed FROM directory;
    DROP TABLE directory;
    ",
    // 5: envelopes in a table of their own, keyed by their report's `seq`, so that leasing and
    // acknowledging a report rewrite a row of its state (about 200 bytes, dozens to a page)
    // instead of a page holding its envelope: a desk taking a backlog of 100 reports made the
    // intake write some 34 pages of 8 KiB to the write-ahead log twice (lease, then ack).
    "
    CREATE TABLE report_envelopes (
        seq       INTEGER PRIMARY KEY NOT NULL REFERENCES reports (seq) ON DELETE CASCADE,
        envelope  BLOB NOT NULL
    );
    INSERT INTO report_envelopes (seq, envelope) SELECT seq, envelope FROM reports ORDER BY seq;
    ALTER TABLE reports DROP COLUMN envelope;
    ",
];

/// Opens the connection that writes: WAL, every commit synced (`synchronous=FULL`), deleted
/// content overwritten (`secure_delete`), foreign keys enforced (once the schema is up to date), savepoint journals in memory.
pub(super) fn open_writer(path: &std::path::Path) -> OpResult<Connection> {
    let mut conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Only a new, empty file takes it; an existing one keeps the page size it was made with.
    conn.pragma_update(None, "page_size", PAGE_SIZE)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(OpError::Data("the database cannot use write-ahead logging"));
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    // After a checkpoint, the write-ahead log is cut back to this size instead of staying as
    // large as its busiest moment.
    conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
    // Each write runs in a savepoint; its undo journal lives in memory rather than in a
    // temporary file that the first change of every page would be copied to.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Deleted content is overwritten with zeros, in the database and in the write-ahead log, so
    // that a purged report cannot be read back from free pages.
    conn.pragma_update(None, "secure_delete", "ON")?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // Migrations that rebuild a table run with foreign keys off (SQLite's documented way), and
    // check them before they commit.
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    migrate(&mut conn)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
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
        let broken: Option<String> = tx
            .query_row("PRAGMA foreign_key_check", [], |row| row.get(0))
            .optional()?;
        if broken.is_some() {
            return Err(OpError::Data("a migration left a row without its parent"));
        }
        // PRAGMA takes no bound parameters; the number is ours.
        tx.execute_batch(&format!("PRAGMA user_version = {}", current + 1))?;
        tx.commit()?;
        tracing::debug!(version = current + 1, "sqlite schema migrated");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;
    use crate::store::{AppendOutcome, MessageDirection, Store, SubmitOutcome};
    use chrono::{Duration, TimeZone, Utc};
    use tipline_core::report::{CaseId, MessageId, ReportId};

    #[test]
    fn test_the_writer_overwrites_deleted_content() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open_writer(&dir.path().join("t.db")).unwrap();
        let on: i64 = conn
            .query_row("PRAGMA secure_delete", [], |row| row.get(0))
            .unwrap();
        assert_eq!(on, 1);
    }

    /// A file at schema version 2 (as the previous release left it) with two cases, three
    /// reports (the second case's two reports received in the opposite order to their rows),
    /// an attachment with two chunks and two messages.
    fn version_2_file(path: &std::path::Path) {
        let conn = Connection::open(path).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON")
            .unwrap();
        for (version, sql) in MIGRATIONS[..2].iter().enumerate() {
            conn.execute_batch(sql).unwrap();
            conn.execute_batch(&format!("PRAGMA user_version = {}", version + 1))
                .unwrap();
        }
        conn.execute_batch(
            "INSERT INTO cases VALUES (x'01010101010101010101010101010101', 'dk-east', zeroblob(32), 1000);
             INSERT INTO cases VALUES (x'02020202020202020202020202020202', 'dk-west', randomblob(32), 2000);
             INSERT INTO reports VALUES (x'0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b', 'dk-west',
                 x'02020202020202020202020202020202', 'queued', 3000, NULL, 0, NULL, zeroblob(32), CAST('receipt-b' AS BLOB), CAST('envelope-b' AS BLOB));
             INSERT INTO reports VALUES (x'0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a', 'dk-east',
                 x'01010101010101010101010101010101', 'acked', 1000, NULL, 1, 1500, zeroblob(32), CAST('receipt-a' AS BLOB), CAST('envelope-a' AS BLOB));
             INSERT INTO reports VALUES (x'0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c', 'dk-west',
                 x'02020202020202020202020202020202', 'queued', 2500, NULL, 0, NULL, zeroblob(32), CAST('receipt-c' AS BLOB), CAST('envelope-c' AS BLOB));
             INSERT INTO attachments VALUES (x'0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b', 0, 10, 6, 0, NULL);
             INSERT INTO attachment_chunks VALUES (x'0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b', 0, 0, CAST('abc' AS BLOB));
             INSERT INTO attachment_chunks VALUES (x'0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b', 0, 3, CAST('def' AS BLOB));
             INSERT INTO messages (case_id, message_id, direction, created_at, envelope) VALUES
                 (x'01010101010101010101010101010101', x'a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1', 'to_unit', 1100, CAST('hello' AS BLOB)),
                 (x'01010101010101010101010101010101', x'a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2', 'to_reporter', 1200, CAST('reply' AS BLOB));
             INSERT INTO directory VALUES (1, 5, CAST('directory-v5' AS BLOB));",
        )
        .unwrap();
    }

    #[tokio::test]
    async fn test_version_2_file_is_rebuilt_in_arrival_order_and_keeps_everything() {
        // Given a file left by the previous schema
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tipline.sqlite3");
        version_2_file(&path);

        // When the store opens it
        let store = SqliteStore::open(&path).unwrap();

        // Then its reports are found by id, in the order they were received, with their cases
        let east = CaseId([1; 16]);
        let case = store.case(east).await.unwrap().unwrap();
        assert_eq!(
            (case.unit_id.as_str(), case.case_secret_hash),
            ("dk-east", [0; 32])
        );
        let at = |millis| Utc.timestamp_millis_opt(millis).unwrap();
        let leased = store
            .lease_reports("dk-west", at(10_000), Duration::seconds(60), 10)
            .await
            .unwrap();
        let leased: Vec<_> = leased
            .iter()
            .map(|d| (d.report_id, d.case_id, d.envelope.clone()))
            .collect();
        assert_eq!(
            leased,
            vec![
                (ReportId([0xc; 16]), CaseId([2; 16]), b"envelope-c".to_vec()),
                (ReportId([0xb; 16]), CaseId([2; 16]), b"envelope-b".to_vec()),
            ]
        );
        // ...a retried submission still gets its first receipt...
        let mut retry = crate::store::NewReport {
            report_id: ReportId([0xa; 16]),
            unit_id: "dk-east".to_owned(),
            envelope: b"envelope-a".to_vec(),
            envelope_sha256: [0; 32],
            case_id: east,
            case_secret_hash: [0; 32],
            attachments: Vec::new(),
            received_at: at(20_000),
            receipt: b"new".to_vec(),
        };
        assert_eq!(
            store.submit_report(retry.clone()).await.unwrap(),
            SubmitOutcome::Duplicate {
                receipt: b"receipt-a".to_vec()
            }
        );
        // ...the attachment reads back and resumes where it stopped...
        let b = ReportId([0xb; 16]);
        assert_eq!(
            store.read_attachment("dk-west", b, 0, 0, 10).await.unwrap(),
            Some(b"abcdef".to_vec())
        );
        let west_secret = store
            .case(CaseId([2; 16]))
            .await
            .unwrap()
            .unwrap()
            .case_secret_hash;
        assert_eq!(
            store
                .append_attachment(b, 0, west_secret, 6, b"ghij")
                .await
                .unwrap(),
            AppendOutcome::Appended { offset: 10 }
        );
        // ...and the conversation goes on after its last message
        let messages = store.messages(east, 0, 10).await.unwrap();
        assert_eq!(messages.len(), 2);
        let next = store
            .add_message(
                east,
                MessageId([0xa3; 16]),
                MessageDirection::ToUnit,
                b"more".to_vec(),
                at(30_000),
            )
            .await
            .unwrap();
        assert!(next.seq > messages[1].seq);

        // And the purge still removes an old acknowledged report with its case and messages
        assert_eq!(store.purge(at(5_000), at(40_000)).await.unwrap(), 1);
        assert_eq!(store.case(east).await.unwrap(), None);
        assert!(store.messages(east, 0, 10).await.unwrap().is_empty());
        retry.envelope_sha256 = [1; 32];
        assert_eq!(store.submit_report(retry).await.unwrap(), SubmitOutcome::Created);
        drop(store);

        // And its directory is kept as the format 1 one (the only format there was)
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(
            store.directory(1).await.unwrap(),
            Some((5, b"directory-v5".to_vec()))
        );
        assert_eq!(store.directory(2).await.unwrap(), None);
        drop(store);

        // And the file is at the last version with every foreign key holding, each report
        // with its envelope apart from its row, the purged one's gone with it
        let conn = Connection::open(&path).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, 5);
        let envelopes: Vec<(Vec<u8>, Vec<u8>)> = conn
            .prepare(
                "SELECT r.report_id, e.envelope FROM reports r JOIN report_envelopes e ON e.seq = r.seq
                 ORDER BY r.report_id",
            )
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            envelopes,
            vec![
                (vec![0xa; 16], b"envelope-a".to_vec()),
                (vec![0xb; 16], b"envelope-b".to_vec()),
                (vec![0xc; 16], b"envelope-c".to_vec()),
            ]
        );
        let rows: i64 = conn
            .query_row("SELECT COUNT(*) FROM report_envelopes", [], |row| row.get(0))
            .unwrap();
        assert_eq!(rows, 3);
        let broken: Option<String> = conn
            .query_row("PRAGMA foreign_key_check", [], |row| row.get(0))
            .optional()
            .unwrap();
        assert_eq!(broken, None);
    }
}
