//! What the device keeps, in one SQLite file (rusqlite with SQLite bundled, so it builds for
//! Android and iOS): the outbox of sealed envelopes and sealed attachment files, the case book
//! (codenames and conversations encrypted under a key-store key), and small cached documents.
//! Nothing here is plaintext of a report.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use super::keystore::KeyStore;
use super::vault::Vault;
use crate::report::{CaseId, ReportId};
use crate::{Error, Result};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS outbox (
    report_id TEXT PRIMARY KEY,
    unit_id TEXT NOT NULL,
    case_id TEXT NOT NULL,
    case_secret_hash BLOB NOT NULL,
    envelope BLOB NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    last_error TEXT,
    stamp INTEGER,
    stamp_difficulty INTEGER,
    receipt BLOB,
    created_ms INTEGER NOT NULL,
    delivered_ms INTEGER
);
CREATE TABLE IF NOT EXISTS outbox_attachments (
    report_id TEXT NOT NULL REFERENCES outbox(report_id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    sealed_size INTEGER NOT NULL,
    uploaded INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (report_id, idx)
);
CREATE TABLE IF NOT EXISTS cases (
    case_id TEXT PRIMARY KEY,
    unit_id TEXT NOT NULL,
    sealed_codename BLOB NOT NULL,
    created_ms INTEGER NOT NULL,
    last_seq INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS case_messages (
    case_id TEXT NOT NULL REFERENCES cases(case_id) ON DELETE CASCADE,
    message_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    sealed BLOB NOT NULL,
    PRIMARY KEY (case_id, message_id)
);
CREATE TABLE IF NOT EXISTS pending_follow_ups (
    case_id TEXT NOT NULL REFERENCES cases(case_id) ON DELETE CASCADE,
    message_id TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    sealed BLOB NOT NULL,
    PRIMARY KEY (case_id, message_id)
);
CREATE TABLE IF NOT EXISTS documents (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
";

/// Adds a column that an older store lacks (`CREATE TABLE IF NOT EXISTS` leaves old tables be).
fn add_column(conn: &Connection, table: &str, column: &str, kind: &str) -> Result<()> {
    let exists: bool = conn.query_row(
        "SELECT COUNT(*) > 0 FROM pragma_table_info(?1) WHERE name = ?2",
        params![table, column],
        |r| r.get(0),
    )?;
    if !exists {
        conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {kind}"))?;
    }
    Ok(())
}

/// Follow-ups kept per case while their sending is unconfirmed.
pub const MAX_PENDING_FOLLOW_UPS: u32 = 10;

/// Where an outbox item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxState {
    /// Waiting for its next attempt.
    Queued,
    /// The server holds the report and every attachment; the receipt is kept.
    Delivered,
    /// The server refused it for good (a 4xx other than 408 and 429); kept until the reporter
    /// retries it.
    Failed,
    /// The server took it but its receipt does not verify with the server's key: kept, with
    /// that receipt, for the reporter to see; never sent again as new.
    ReceiptUnverified,
}

impl OutboxState {
    fn parse(s: &str) -> OutboxState {
        match s {
            "delivered" => OutboxState::Delivered,
            "failed" => OutboxState::Failed,
            "receipt_unverified" => OutboxState::ReceiptUnverified,
            _ => OutboxState::Queued,
        }
    }
}

/// One outbox row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    /// The report id.
    pub report_id: ReportId,
    /// The unit it is addressed to.
    pub unit_id: String,
    /// Its case.
    pub case_id: CaseId,
    /// SHA-256 of the case secret, sent with the report and on attachment uploads.
    pub case_secret_hash: [u8; 32],
    /// The envelope's wire bytes.
    pub envelope: Vec<u8>,
    /// Where it stands.
    pub state: OutboxState,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the next attempt is due.
    pub next_attempt: DateTime<Utc>,
    /// Why the last attempt failed (a localisation id such as `reason-offline`).
    pub last_error: Option<String>,
    /// The proof-of-work stamp and the difficulty it was solved for.
    pub stamp: Option<(u64, u8)>,
    /// The server's signed receipt (JSON), once delivered (or the one that did not verify).
    pub receipt: Option<Vec<u8>>,
    /// The server's status and error code, when it refused the item for good.
    pub refusal: Option<(u16, String)>,
    /// When it was queued.
    pub created: DateTime<Utc>,
    /// Attachment upload progress: (index, sealed size, bytes uploaded).
    pub attachments: Vec<(u16, u64, u64)>,
}

/// A case kept on this device.
#[derive(Debug, Clone)]
pub struct CaseEntry {
    /// The case id.
    pub case_id: CaseId,
    /// The unit handling it, as last known.
    pub unit_id: String,
    /// Its codename, opened from the sealed record.
    pub codename: zeroize::Zeroizing<String>,
    /// When it was added to this device.
    pub created: DateTime<Utc>,
    /// The cursor of the last conversation message stored.
    pub last_seq: i64,
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_ms(v: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(v).single().unwrap_or_default()
}

/// The name of the key-store key that seals the case book.
pub const STORE_KEY_NAME: &str = "tipline local store";

/// The device's local store.
pub struct Local {
    conn: Mutex<Connection>,
    dir: PathBuf,
    key_store: Arc<dyn KeyStore>,
    /// The case book's vault, opened with the key store's key on first use: the key store may be
    /// unavailable for a while (a phone locked since it started), and the outbox delivers
    /// reports without attachments without it.
    vault: Mutex<Option<Arc<Vault>>>,
}

/// A key store that holds one key: for [`Local::open`].
struct OneKey(zeroize::Zeroizing<[u8; 32]>);

impl KeyStore for OneKey {
    fn key(&self, _name: &str) -> Result<zeroize::Zeroizing<[u8; 32]>> {
        Ok(self.0.clone())
    }
}

impl Local {
    /// Opens (or creates) the store in `dir`, its records sealed under `key`.
    pub fn open(dir: &Path, key: &[u8; 32]) -> Result<Local> {
        Self::open_with(dir, Arc::new(OneKey(zeroize::Zeroizing::new(*key))))
    }

    /// Opens (or creates) the store in `dir`, its records sealed under the key `key_store`
    /// gives for [`STORE_KEY_NAME`], asked for when a record is first sealed or opened.
    pub fn open_with(dir: &Path, key_store: Arc<dyn KeyStore>) -> Result<Local> {
        std::fs::create_dir_all(dir.join("outbox"))?;
        let conn = Connection::open(dir.join("tipline-client.db"))?;
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")?;
        conn.execute_batch(SCHEMA)?;
        add_column(&conn, "outbox", "refused_status", "INTEGER")?;
        add_column(&conn, "outbox", "refused_code", "TEXT")?;
        Ok(Local {
            conn: Mutex::new(conn),
            dir: dir.to_owned(),
            key_store,
            vault: Mutex::new(None),
        })
    }

    /// The case book's vault; a key store that fails leaves it closed, to be asked again.
    fn vault(&self) -> Result<Arc<Vault>> {
        let mut vault = self.vault.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(open) = vault.as_ref() {
            return Ok(open.clone());
        }
        let key = self.key_store.key(STORE_KEY_NAME)?;
        let open = Arc::new(Vault::new(&key)?);
        *vault = Some(open.clone());
        Ok(open)
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves a connection that is still consistent (SQLite
        // rolls back an open transaction), so the poisoning can be ignored.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The file that holds an attachment's sealed bytes.
    pub fn attachment_path(&self, report_id: ReportId, index: u16) -> PathBuf {
        self.dir
            .join("outbox")
            .join(format!("{report_id}-{index}.sealed"))
    }

    /// Queues a sealed report. The sealed attachment files must already be written and synced
    /// at [`Local::attachment_path`]; the row is committed last, so an item is either whole or
    /// absent after a crash.
    pub fn enqueue(&self, row: &OutboxRow) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO outbox (report_id, unit_id, case_id, case_secret_hash, envelope, state, next_attempt_ms, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?6, ?7)",
            params![
                row.report_id.to_string(),
                row.unit_id,
                row.case_id.to_string(),
                &row.case_secret_hash[..],
                row.envelope,
                ms(row.next_attempt),
                ms(row.created)
            ],
        )?;
        for (index, size, _) in &row.attachments {
            tx.execute(
                "INSERT INTO outbox_attachments (report_id, idx, sealed_size) VALUES (?1, ?2, ?3)",
                params![row.report_id.to_string(), index, *size as i64],
            )?;
        }
        Ok(tx.commit()?)
    }

    /// Every outbox item, oldest first.
    pub fn outbox(&self) -> Result<Vec<OutboxRow>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT report_id, unit_id, case_id, case_secret_hash, envelope, state, attempts, next_attempt_ms,
                        last_error, stamp, stamp_difficulty, receipt, created_ms, refused_status, refused_code
                 FROM outbox ORDER BY created_ms, report_id",
            )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Vec<u8>>(3)?,
                r.get::<_, Vec<u8>>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, i64>(6)?,
                r.get::<_, i64>(7)?,
                r.get::<_, Option<String>>(8)?,
                r.get::<_, Option<i64>>(9)?,
                r.get::<_, Option<i64>>(10)?,
                r.get::<_, Option<Vec<u8>>>(11)?,
                r.get::<_, i64>(12)?,
                r.get::<_, Option<u16>>(13)?.zip(r.get::<_, Option<String>>(14)?),
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (
                id,
                unit,
                case,
                hash,
                envelope,
                state,
                attempts,
                next,
                err,
                stamp,
                diff,
                receipt,
                created,
                refusal,
            ) = row?;
            let report_id = ReportId::parse(&id)?;
            let mut att = conn.prepare(
                "SELECT idx, sealed_size, uploaded FROM outbox_attachments WHERE report_id = ?1 ORDER BY idx",
            )?;
            let attachments = att
                .query_map([&id], |r| {
                    Ok((
                        r.get::<_, u16>(0)?,
                        r.get::<_, i64>(1)? as u64,
                        r.get::<_, i64>(2)? as u64,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            out.push(OutboxRow {
                report_id,
                unit_id: unit,
                case_id: CaseId::parse(&case)?,
                case_secret_hash: hash
                    .try_into()
                    .map_err(|_| Error::invalid("outbox", "damaged row"))?,
                envelope,
                state: OutboxState::parse(&state),
                attempts: attempts as u32,
                next_attempt: from_ms(next),
                last_error: err,
                stamp: stamp.zip(diff).map(|(s, d)| (s as u64, d as u8)),
                receipt,
                created: from_ms(created),
                refusal,
                attachments,
            });
        }
        Ok(out)
    }

    /// Records the stamp solved for an item at `difficulty`.
    pub fn set_stamp(&self, report_id: ReportId, stamp: u64, difficulty: u8) -> Result<()> {
        self.conn().execute(
            "UPDATE outbox SET stamp = ?2, stamp_difficulty = ?3 WHERE report_id = ?1",
            params![report_id.to_string(), stamp as i64, difficulty],
        )?;
        Ok(())
    }

    /// Records the server's receipt (the report is on the server; attachments may follow).
    pub fn set_receipt(&self, report_id: ReportId, receipt: &[u8]) -> Result<()> {
        self.conn().execute(
            "UPDATE outbox SET receipt = ?2 WHERE report_id = ?1",
            params![report_id.to_string(), receipt],
        )?;
        Ok(())
    }

    /// Records how far an attachment's upload has gone.
    pub fn set_uploaded(&self, report_id: ReportId, index: u16, uploaded: u64) -> Result<()> {
        self.conn().execute(
            "UPDATE outbox_attachments SET uploaded = ?3 WHERE report_id = ?1 AND idx = ?2",
            params![report_id.to_string(), index, uploaded as i64],
        )?;
        Ok(())
    }

    /// Marks an item delivered and removes its sealed attachment files.
    pub fn set_delivered(&self, report_id: ReportId, now: DateTime<Utc>) -> Result<()> {
        let indices: Vec<u16> = {
            let conn = self.conn();
            conn.execute(
                "UPDATE outbox SET state = 'delivered', delivered_ms = ?2, last_error = NULL WHERE report_id = ?1",
                params![report_id.to_string(), ms(now)],
            )?;
            let mut stmt = conn.prepare("SELECT idx FROM outbox_attachments WHERE report_id = ?1")?;
            let indices = stmt
                .query_map([report_id.to_string()], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<u16>>>()?;
            indices
        };
        for index in indices {
            let _ = std::fs::remove_file(self.attachment_path(report_id, index));
        }
        Ok(())
    }

    /// Records an attempt that failed for a reason that passes (the network, a busy server,
    /// this device's storage): the reason and when to try again.
    pub fn set_waiting(&self, report_id: ReportId, reason: &str, retry_at: DateTime<Utc>) -> Result<()> {
        self.conn().execute(
            "UPDATE outbox SET state = 'queued', attempts = attempts + 1, next_attempt_ms = ?2, last_error = ?3
                 WHERE report_id = ?1",
            params![report_id.to_string(), ms(retry_at), reason],
        )?;
        Ok(())
    }

    /// Records that the server refused the item for good, with its status and error code.
    pub fn set_refused(&self, report_id: ReportId, reason: &str, status: u16, code: &str) -> Result<()> {
        self.conn().execute(
            "UPDATE outbox SET state = 'failed', attempts = attempts + 1, next_attempt_ms = ?2, last_error = ?3,
                    refused_status = ?4, refused_code = ?5
                 WHERE report_id = ?1",
            params![report_id.to_string(), i64::MAX, reason, status, code],
        )?;
        Ok(())
    }

    /// Keeps a receipt that does not verify, and the item out of the queue for good.
    pub fn set_receipt_unverified(&self, report_id: ReportId, receipt: &[u8]) -> Result<()> {
        self.conn().execute(
            "UPDATE outbox SET state = 'receipt_unverified', attempts = attempts + 1, next_attempt_ms = ?2,
                    last_error = 'reason-receipt', receipt = ?3
                 WHERE report_id = ?1",
            params![report_id.to_string(), i64::MAX, receipt],
        )?;
        Ok(())
    }

    /// Makes due at `now` every waiting item whose last attempt stopped for `reason`; returns
    /// how many.
    pub fn make_due(&self, reason: &str, now: DateTime<Utc>) -> Result<u32> {
        let n = self.conn().execute(
            "UPDATE outbox SET next_attempt_ms = ?2 WHERE state = 'queued' AND last_error = ?1 AND next_attempt_ms > ?2",
            params![reason, ms(now)],
        )?;
        Ok(n as u32)
    }

    /// Puts a waiting or refused item back in the queue, due now (the reporter pressed "retry").
    /// A delivered item, and one whose receipt did not verify, stay as they are.
    pub fn retry(&self, report_id: ReportId, now: DateTime<Utc>) -> Result<bool> {
        let n = self
            .conn()
            .execute(
                "UPDATE outbox SET state = 'queued', next_attempt_ms = ?2, refused_status = NULL, refused_code = NULL
                     WHERE report_id = ?1 AND state IN ('queued', 'failed')",
                params![report_id.to_string(), ms(now)],
            )?;
        Ok(n == 1)
    }

    /// Adds a case with its codename (sealed), idempotently.
    pub fn add_case(&self, case_id: CaseId, unit_id: &str, codename: &str, now: DateTime<Utc>) -> Result<()> {
        let record = format!("case:{case_id}");
        let sealed = self.vault()?.seal(record.as_bytes(), codename.as_bytes())?;
        self.conn().execute(
            "INSERT INTO cases (case_id, unit_id, sealed_codename, created_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(case_id) DO UPDATE SET unit_id = excluded.unit_id",
            params![case_id.to_string(), unit_id, sealed, ms(now)],
        )?;
        Ok(())
    }

    /// The cases on this device, oldest first.
    pub fn cases(&self) -> Result<Vec<CaseEntry>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT case_id, unit_id, sealed_codename, created_ms, last_seq FROM cases ORDER BY created_ms",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get(4)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(id, unit, sealed, created, seq)| {
                let record = format!("case:{id}");
                let codename = self.vault()?.open(record.as_bytes(), &sealed)?;
                let codename = String::from_utf8(codename.to_vec())
                    .map_err(|_| Error::invalid("case book", "damaged codename"))?;
                Ok(CaseEntry {
                    case_id: CaseId::parse(&id)?,
                    unit_id: unit,
                    codename: zeroize::Zeroizing::new(codename),
                    created: from_ms(created),
                    last_seq: seq,
                })
            })
            .collect()
    }

    /// Stores a conversation message (its JSON sealed) and advances the case's cursor; for a
    /// message already stored, only its position is updated. A follow-up pending under the same
    /// id is settled by it and goes.
    pub fn add_message(&self, case_id: CaseId, message_id: &str, seq: i64, json: &[u8]) -> Result<()> {
        let record = format!("message:{case_id}:{message_id}");
        let sealed = self.vault()?.seal(record.as_bytes(), json)?;
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO case_messages (case_id, message_id, seq, sealed) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(case_id, message_id) DO UPDATE SET seq = MAX(seq, excluded.seq)",
            params![case_id.to_string(), message_id, seq, sealed],
        )?;
        tx.execute(
            "UPDATE cases SET last_seq = MAX(last_seq, ?2) WHERE case_id = ?1",
            params![case_id.to_string(), seq],
        )?;
        tx.execute(
            "DELETE FROM pending_follow_ups WHERE case_id = ?1 AND message_id = ?2",
            params![case_id.to_string(), message_id],
        )?;
        Ok(tx.commit()?)
    }

    /// Keeps a follow-up sealed and not yet confirmed by the server (its JSON sealed), so that
    /// sending the same words again sends the same message. Only the newest
    /// [`MAX_PENDING_FOLLOW_UPS`] of a case are kept.
    pub fn add_pending_follow_up(
        &self,
        case_id: CaseId,
        message_id: &str,
        json: &[u8],
        now: DateTime<Utc>,
    ) -> Result<()> {
        let record = format!("pending:{case_id}:{message_id}");
        let sealed = self.vault()?.seal(record.as_bytes(), json)?;
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO pending_follow_ups (case_id, message_id, created_ms, sealed)
             VALUES (?1, ?2, ?3, ?4)",
            params![case_id.to_string(), message_id, ms(now), sealed],
        )?;
        tx.execute(
            "DELETE FROM pending_follow_ups WHERE case_id = ?1 AND message_id NOT IN (
                 SELECT message_id FROM pending_follow_ups WHERE case_id = ?1
                 ORDER BY created_ms DESC, rowid DESC LIMIT ?2)",
            params![case_id.to_string(), MAX_PENDING_FOLLOW_UPS],
        )?;
        Ok(tx.commit()?)
    }

    /// A case's pending follow-ups (JSON), newest first.
    pub fn pending_follow_ups(&self, case_id: CaseId) -> Result<Vec<zeroize::Zeroizing<Vec<u8>>>> {
        self.sealed_records(
            "SELECT message_id, sealed FROM pending_follow_ups WHERE case_id = ?1
             ORDER BY created_ms DESC, rowid DESC",
            "pending",
            case_id,
        )
    }

    /// A case's messages (JSON), in server order.
    pub fn messages(&self, case_id: CaseId) -> Result<Vec<zeroize::Zeroizing<Vec<u8>>>> {
        self.sealed_records(
            "SELECT message_id, sealed FROM case_messages WHERE case_id = ?1 ORDER BY seq",
            "message",
            case_id,
        )
    }

    /// The `(message_id, sealed)` rows that `sql` selects for a case, opened as the records
    /// `{kind}:{case_id}:{message_id}`.
    fn sealed_records(
        &self,
        sql: &str,
        kind: &str,
        case_id: CaseId,
    ) -> Result<Vec<zeroize::Zeroizing<Vec<u8>>>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(sql)?;
        let rows = stmt
            .query_map([case_id.to_string()], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(id, sealed)| {
                Ok(self
                    .vault()?
                    .open(format!("{kind}:{case_id}:{id}").as_bytes(), &sealed)?)
            })
            .collect()
    }

    /// A cached document (the directory, the server's receipt key...).
    pub fn document(&self, name: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .conn()
            .query_row("SELECT value FROM documents WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Stores a document, replacing the previous one.
    pub fn set_document(&self, name: &str, value: &[u8]) -> Result<()> {
        self.conn()
            .execute(
                "INSERT INTO documents (name, value) VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                params![name, value],
            )?;
        Ok(())
    }

    /// Removes a document, if it is there.
    pub fn remove_document(&self, name: &str) -> Result<()> {
        self.conn()
            .execute("DELETE FROM documents WHERE name = ?1", [name])?;
        Ok(())
    }
}
