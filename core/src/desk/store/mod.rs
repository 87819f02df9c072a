//! The desk's local store, encrypted at rest: a desk computer may be shared, so everything it
//! keeps about reports is sealed under a key only the unit's passphrase gives.
//!
//! One folder holds `desk.db` (SQLite) and `files/`:
//!
//! - `key.rs`: the store's key, derived from the passphrase, and the check that tells a wrong
//!   passphrase apart from damage.
//! - `records.rs`: the report and message records, each sealed under its own record name.
//! - `attachments.rs`: the attachment files, sealed chunk by chunk.
//! - `documents.rs`: what a front end keeps beside the reports (accounts, labels, notes, an
//!   audit log), sealed the same way.

mod attachments;
mod documents;
mod key;
mod records;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::Connection;

use crate::client::vault::Vault;
use crate::Result;
pub use attachments::AttachmentWriter;
pub use documents::LogEntry;
pub use key::KdfParams;
pub use records::{AttachmentState, MessageRecord, ReportRecord, Status, TransferRecord};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS reports (
    report_id TEXT PRIMARY KEY,
    received_ms INTEGER NOT NULL,
    sealed BLOB NOT NULL,
    acked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS messages (
    report_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    sealed BLOB NOT NULL,
    PRIMARY KEY (report_id, message_id)
);
CREATE TABLE IF NOT EXISTS documents (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    sealed BLOB NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE TABLE IF NOT EXISTS log (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    sealed BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS log_kind ON log (kind, seq);
";

/// Gives a store made before the `acked` column its column: whether the intake was told the
/// report is stored (not secret, so kept beside the sealed record: marking a batch acknowledged
/// is then one update instead of sealing every record again).
fn add_acked_column(conn: &Connection) -> rusqlite::Result<()> {
    let has: bool = conn.query_row(
        "SELECT COUNT(*) > 0 FROM pragma_table_info('reports') WHERE name = 'acked'",
        [],
        |r| r.get(0),
    )?;
    if !has {
        conn.execute_batch("ALTER TABLE reports ADD COLUMN acked INTEGER NOT NULL DEFAULT 0")?;
    }
    Ok(())
}

/// The desk's encrypted local store.
pub struct DeskStore {
    conn: Mutex<Connection>,
    dir: PathBuf,
    vault: Vault,
    unit_id: String,
    /// The newest report of each case, once asked for (see [`DeskStore::report_for_case`]).
    cases: Mutex<Option<records::CaseIndex>>,
}

impl std::fmt::Debug for DeskStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeskStore")
            .field("dir", &self.dir)
            .field("unit_id", &self.unit_id)
            .finish_non_exhaustive()
    }
}

impl DeskStore {
    /// Whether `dir` holds a desk store already.
    pub fn exists(dir: &Path) -> bool {
        dir.join("desk.db").is_file()
    }

    /// Opens the store of `unit_id` in `dir`, or creates it (with `params` for its key) if
    /// there is none. Refuses a wrong passphrase (`refused desk store: wrong passphrase`) and a
    /// store that belongs to another unit.
    pub fn open(dir: &Path, unit_id: &str, passphrase: &str, params: KdfParams) -> Result<DeskStore> {
        std::fs::create_dir_all(dir.join("files"))?;
        let db = dir.join("desk.db");
        #[cfg(unix)]
        {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
            std::fs::set_permissions(dir.join("files"), std::fs::Permissions::from_mode(0o700))?;
            // Made owner-only before SQLite opens it, so its log files (which SQLite creates
            // with the database's mode) are too; an older store is tightened.
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(&db)?;
            for name in ["desk.db", "desk.db-wal", "desk.db-shm"] {
                let path = dir.join(name);
                if path.exists() {
                    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
                }
            }
        }
        let conn = Connection::open(&db)?;
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")?;
        conn.execute_batch(SCHEMA)?;
        add_acked_column(&conn)?;
        let vault = key::unlock(&conn, unit_id, passphrase, params)?;
        Ok(DeskStore {
            conn: Mutex::new(conn),
            dir: dir.to_owned(),
            vault,
            unit_id: unit_id.to_owned(),
            cases: Mutex::new(None),
        })
    }

    /// The unit this store belongs to.
    pub fn unit_id(&self) -> &str {
        &self.unit_id
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}
