//! The desk's local store, encrypted at rest: a desk computer may be shared, so everything it
//! keeps about reports is sealed under a key only the unit's passphrase gives.
//!
//! One folder holds `desk.db` (SQLite) and `files/`. The key is Argon2id(passphrase, salt) with
//! the salt and parameters kept in the database (`meta`), so they can be raised for new stores
//! without breaking old ones. A sealed check record tells a wrong passphrase apart from damage.
//! Every report record (the opened report, its envelope, status, transfer) and every message is
//! one JSON document sealed with [`Vault`] under its own record name, so records cannot be
//! swapped; attachments are files of 64 KiB chunks, each sealed with its position and a last
//! flag bound in, so a file cannot be reordered or cut short unnoticed. In clear remain only the
//! report ids, message ids and positions, and when each report was received.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::attachment::{read_chunks, ChunkWriter, SealChunk, CHUNK_SIZE};
use crate::client::vault::Vault;
use crate::crypto::random::random_array;
use crate::crypto::{CryptoError, OsRandom};
use crate::encoding::{b64, unb64};
use crate::report::{AttachmentInfo, CaseId, MessageId, Report, ReportId};
use crate::{Error, Result};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS reports (
    report_id TEXT PRIMARY KEY,
    received_ms INTEGER NOT NULL,
    sealed BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    report_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    sealed BLOB NOT NULL,
    PRIMARY KEY (report_id, message_id)
);
";
const CHECK_RECORD: &[u8] = b"check";
const CHECK_TEXT: &[u8] = b"tipline desk store v1";

/// Argon2id parameters of a store's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for KdfParams {
    /// 64 MiB, 3 passes, 1 lane: RFC 9106's second recommended setting with one lane, about a
    /// quarter of a second on a desk computer.
    fn default() -> Self {
        KdfParams {
            memory_kib: 64 * 1024,
            iterations: 3,
            parallelism: 1,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct KdfRecord {
    algorithm: String,
    version: u32,
    params: KdfParams,
    salt: String,
}

/// Where a report stands at the desk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Not looked at yet.
    New,
    /// Someone works on it.
    InProgress,
    /// Handed to another unit.
    Forwarded,
    /// Done.
    Closed,
}

impl Status {
    /// The name shown and typed: `new`, `in-progress`, `forwarded`, `closed`.
    pub fn name(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::InProgress => "in-progress",
            Status::Forwarded => "forwarded",
            Status::Closed => "closed",
        }
    }

    /// Parses a name (`in_progress` is accepted too).
    pub fn parse(text: &str) -> Result<Status> {
        match text.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "new" => Ok(Status::New),
            "in-progress" => Ok(Status::InProgress),
            "forwarded" => Ok(Status::Forwarded),
            "closed" => Ok(Status::Closed),
            _ => Err(Error::invalid(
                "status",
                "must be new, in-progress, forwarded or closed",
            )),
        }
    }
}

/// Where one attachment stands at the desk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AttachmentState {
    /// The reporter is still uploading it.
    Pending,
    /// Downloaded, decrypted, its size and SHA-256 checked against the report, kept sealed.
    Saved,
    /// It does not decrypt or does not match the report: kept out.
    Invalid {
        /// Why.
        reason: String,
    },
}

/// A transfer this desk started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferRecord {
    /// The unit the report went to.
    pub to_unit: String,
    /// When.
    pub at: DateTime<Utc>,
    /// The secret the re-sealed attachments are uploaded with (base64url), while uploading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_secret: Option<String>,
    /// The re-sealed envelope (base64url), while uploading, to resume after a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envelope: Option<String>,
    /// Whether everything reached the server.
    pub done: bool,
}

/// Everything the desk keeps about one report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportRecord {
    /// The report id.
    pub report_id: ReportId,
    /// Its case.
    pub case_id: CaseId,
    /// When the server received it.
    pub received_at: DateTime<Utc>,
    /// When this desk stored it.
    pub stored_at: DateTime<Utc>,
    /// The envelope as delivered (base64url), to derive the attachment keys again.
    pub envelope: String,
    /// The opened report.
    pub report: Report,
    /// Where it stands.
    pub status: Status,
    /// One entry per attachment of the report, by index.
    pub attachments: Vec<AttachmentState>,
    /// Whether the server was told it is stored.
    pub acked: bool,
    /// The transfer, if this desk handed it on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer: Option<TransferRecord>,
    /// The last case message position read.
    pub last_seq: i64,
}

impl ReportRecord {
    /// The envelope's wire bytes.
    pub fn envelope_bytes(&self) -> Result<Vec<u8>> {
        Ok(unb64(&self.envelope)?)
    }
}

/// One message of a case, as the desk keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRecord {
    /// The message id.
    pub message_id: MessageId,
    /// Its position in the case.
    pub seq: i64,
    /// `true` for the reporter's follow-ups, `false` for replies.
    pub from_reporter: bool,
    /// The unit that wrote the reply or that the follow-up was for.
    pub unit_id: String,
    /// The text; `None` when this desk cannot read it (a reply another unit wrote, sealed to
    /// the reporter, or a follow-up sealed to another unit).
    pub text: Option<String>,
    /// When its author sent it.
    pub sent_at: Option<DateTime<Utc>>,
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn wrong_passphrase() -> Error {
    Error::refused("desk store", "wrong passphrase")
}

/// Derives the store key from a passphrase.
fn derive_key(passphrase: &str, salt: &[u8], params: KdfParams) -> Result<Zeroizing<[u8; 32]>> {
    let argon_params =
        argon2::Params::new(params.memory_kib, params.iterations, params.parallelism, Some(32))
            .map_err(|e| Error::invalid("desk store kdf", e.to_string()))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, argon_params);
    let mut key = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(passphrase.as_bytes(), salt, key.as_mut())
        .map_err(|e| Error::invalid("desk store kdf", e.to_string()))?;
    Ok(key)
}

/// The desk's encrypted local store.
pub struct DeskStore {
    conn: Mutex<Connection>,
    dir: PathBuf,
    vault: Vault,
    unit_id: String,
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
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        let conn = Connection::open(dir.join("desk.db"))?;
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")?;
        conn.execute_batch(SCHEMA)?;
        let meta = |name: &str| -> Result<Option<Vec<u8>>> {
            Ok(conn
                .query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| r.get(0))
                .optional()?)
        };
        let vault = match (meta("kdf")?, meta("check")?, meta("unit_id")?) {
            (Some(kdf), Some(check), Some(owner)) => {
                if owner != unit_id.as_bytes() {
                    return Err(Error::invalid(
                        "desk store",
                        format!(
                            "it belongs to unit {}, not {unit_id}",
                            String::from_utf8_lossy(&owner)
                        ),
                    ));
                }
                let kdf: KdfRecord = serde_json::from_slice(&kdf)?;
                if kdf.algorithm != "argon2id" || kdf.version != 0x13 {
                    return Err(Error::invalid("desk store", "unknown key derivation"));
                }
                let key = derive_key(passphrase, &unb64(&kdf.salt)?, kdf.params)?;
                let vault = Vault::new(&key)?;
                match vault.open(CHECK_RECORD, &check) {
                    Ok(text) if text.as_slice() == CHECK_TEXT => vault,
                    _ => return Err(wrong_passphrase()),
                }
            }
            (None, None, None) => {
                if passphrase.is_empty() {
                    return Err(Error::invalid("passphrase", "must not be empty"));
                }
                let salt = random_array::<16>(&mut OsRandom::new())?;
                let key = derive_key(passphrase, &salt, params)?;
                let vault = Vault::new(&key)?;
                let kdf = KdfRecord {
                    algorithm: "argon2id".into(),
                    version: 0x13,
                    params,
                    salt: b64(&salt),
                };
                let insert = "INSERT INTO meta (name, value) VALUES (?1, ?2)";
                conn.execute(insert, params!["kdf", serde_json::to_vec(&kdf)?])?;
                conn.execute(insert, params!["check", vault.seal(CHECK_RECORD, CHECK_TEXT)?])?;
                conn.execute(insert, params!["unit_id", unit_id.as_bytes()])?;
                vault
            }
            _ => {
                return Err(Error::invalid(
                    "desk store",
                    "damaged: its key record is incomplete",
                ))
            }
        };
        Ok(DeskStore {
            conn: Mutex::new(conn),
            dir: dir.to_owned(),
            vault,
            unit_id: unit_id.to_owned(),
        })
    }

    /// The unit this store belongs to.
    pub fn unit_id(&self) -> &str {
        &self.unit_id
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores or replaces a report record.
    pub fn put_report(&self, record: &ReportRecord) -> Result<()> {
        let id = record.report_id.to_string();
        let json = Zeroizing::new(serde_json::to_vec(record)?);
        let sealed = self.vault.seal(format!("report:{id}").as_bytes(), &json)?;
        self.conn().execute(
            "INSERT INTO reports (report_id, received_ms, sealed) VALUES (?1, ?2, ?3)
                 ON CONFLICT(report_id) DO UPDATE SET sealed = excluded.sealed",
            params![id, ms(record.received_at), sealed],
        )?;
        Ok(())
    }

    fn open_report(&self, id: &str, sealed: &[u8]) -> Result<ReportRecord> {
        let json = self.vault.open(format!("report:{id}").as_bytes(), sealed)?;
        Ok(serde_json::from_slice(&json)?)
    }

    /// The record of one report.
    pub fn report(&self, report_id: ReportId) -> Result<Option<ReportRecord>> {
        let id = report_id.to_string();
        let sealed: Option<Vec<u8>> = self
            .conn()
            .query_row("SELECT sealed FROM reports WHERE report_id = ?1", [&id], |r| {
                r.get(0)
            })
            .optional()?;
        sealed.map(|sealed| self.open_report(&id, &sealed)).transpose()
    }

    /// Every report, oldest first.
    pub fn reports(&self) -> Result<Vec<ReportRecord>> {
        let rows: Vec<(String, Vec<u8>)> = {
            let conn = self.conn();
            let mut stmt =
                conn.prepare("SELECT report_id, sealed FROM reports ORDER BY received_ms, report_id")?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows
        };
        rows.iter()
            .map(|(id, sealed)| self.open_report(id, sealed))
            .collect()
    }

    /// Finds a report by its id or an unambiguous prefix of it (at least 4 hex digits).
    pub fn find(&self, prefix: &str) -> Result<ReportRecord> {
        let prefix = prefix.trim().to_ascii_lowercase();
        if let Ok(id) = ReportId::parse(&prefix) {
            return self
                .report(id)?
                .ok_or_else(|| Error::NotFound(format!("report {id} in this desk's store")));
        }
        if prefix.len() < 4 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::invalid(
                "report id",
                "give the id or its first 4 or more hex digits",
            ));
        }
        let ids: Vec<String> = {
            let conn = self.conn();
            let mut stmt = conn.prepare("SELECT report_id FROM reports WHERE report_id LIKE ?1 || '%'")?;
            let ids = stmt
                .query_map([&prefix], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            ids
        };
        match ids.as_slice() {
            [id] => self.find(id),
            [] => Err(Error::NotFound(format!("a report starting with {prefix}"))),
            _ => Err(Error::invalid(
                "report id",
                format!("{prefix} matches several reports"),
            )),
        }
    }

    /// Stores a case message of a report (replacing one with the same id).
    pub fn put_message(&self, report_id: ReportId, message: &MessageRecord) -> Result<()> {
        let (rid, mid) = (report_id.to_string(), message.message_id.to_string());
        let sealed = self.vault.seal(
            format!("message:{rid}:{mid}").as_bytes(),
            &serde_json::to_vec(message)?,
        )?;
        self.conn()
            .execute(
                "INSERT INTO messages (report_id, message_id, seq, sealed) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(report_id, message_id) DO UPDATE SET seq = excluded.seq, sealed = excluded.sealed",
                params![rid, mid, message.seq, sealed],
            )?;
        Ok(())
    }

    /// The messages of a report's case, in order.
    pub fn messages(&self, report_id: ReportId) -> Result<Vec<MessageRecord>> {
        let rid = report_id.to_string();
        let rows: Vec<(String, Vec<u8>)> = {
            let conn = self.conn();
            let mut stmt = conn.prepare(
                "SELECT message_id, sealed FROM messages WHERE report_id = ?1 ORDER BY seq, message_id",
            )?;
            let rows = stmt
                .query_map([&rid], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows
        };
        rows.iter()
            .map(|(mid, sealed)| {
                let json = self
                    .vault
                    .open(format!("message:{rid}:{mid}").as_bytes(), sealed)?;
                Ok(serde_json::from_slice(&json)?)
            })
            .collect()
    }

    fn attachment_path(&self, report_id: ReportId, index: u16) -> PathBuf {
        self.dir.join("files").join(format!("{report_id}-{index}.sealed"))
    }

    /// A scratch file in the store's folder (for downloads and re-sealed uploads), removed by
    /// the caller.
    pub fn scratch_path(&self, name: &str) -> PathBuf {
        self.dir.join("files").join(format!(".{name}.tmp"))
    }

    /// A writer that seals an attachment's plaintext at rest; [`AttachmentWriter::finish`] makes
    /// it the stored copy, anything else leaves none.
    pub fn attachment_writer(&self, report_id: ReportId, index: u16) -> Result<AttachmentWriter<'_>> {
        let path = self.attachment_path(report_id, index);
        let part = path.with_extension("part");
        let sealer = AtRest {
            vault: &self.vault,
            record: format!("attachment:{report_id}:{index}"),
        };
        Ok(AttachmentWriter {
            chunks: ChunkWriter::new(sealer, std::fs::File::create(&part)?),
            part,
            path,
        })
    }

    /// Writes an attachment's plaintext from the store into `out`; returns its size.
    pub fn read_attachment(&self, report_id: ReportId, index: u16, out: &mut impl Write) -> Result<u64> {
        let mut file = std::fs::File::open(self.attachment_path(report_id, index))?;
        let record = format!("attachment:{report_id}:{index}");
        let mut total = 0u64;
        read_chunks(&mut file, CHUNK_SIZE + Vault::OVERHEAD, |chunk, last, sealed| {
            let plain = self
                .vault
                .open(chunk_record(&record, chunk, last).as_bytes(), sealed)
                .map_err(|_| Error::invalid("desk store", "an attachment file is damaged"))?;
            out.write_all(&plain)?;
            total += plain.len() as u64;
            Ok(())
        })?;
        Ok(total)
    }

    /// Writes an attachment to `path` after checking its size and SHA-256 against the report;
    /// nothing is left at `path` if the check fails.
    pub fn export_attachment(&self, report_id: ReportId, info: &AttachmentInfo, path: &Path) -> Result<()> {
        let part = path.with_extension("part");
        let mut writer = HashingWriter {
            inner: std::io::BufWriter::new(std::fs::File::create(&part)?),
            hasher: ring::digest::Context::new(&ring::digest::SHA256),
        };
        let result = self.read_attachment(report_id, info.index, &mut writer);
        let HashingWriter { mut inner, hasher } = writer;
        let ok = match result {
            Ok(size) => size == info.size && hasher.finish().as_ref() == info.sha256,
            Err(e) => {
                let _ = std::fs::remove_file(&part);
                return Err(e);
            }
        };
        if !ok {
            let _ = std::fs::remove_file(&part);
            return Err(Error::invalid(
                format!("attachments[{}]", info.index),
                "does not match the size and SHA-256 in the report",
            ));
        }
        inner.flush()?;
        drop(inner);
        std::fs::rename(&part, path)?;
        Ok(())
    }
}

fn chunk_record(record: &str, chunk: u64, last: bool) -> String {
    format!("{record}:{chunk}:{}", u8::from(last))
}

/// Seals a stored attachment's chunks with the store's key, each under its own record name
/// (the attachment, the chunk's number and its last flag) and a random nonce; the chunking is
/// the wire form's.
struct AtRest<'a> {
    vault: &'a Vault,
    record: String,
}

impl SealChunk for AtRest<'_> {
    fn seal_chunk(&self, chunk: u64, last: bool, buf: &mut Vec<u8>) -> Result<(), CryptoError> {
        *buf = self
            .vault
            .seal(chunk_record(&self.record, chunk, last).as_bytes(), buf)?;
        Ok(())
    }
}

struct HashingWriter<W: Write> {
    inner: W,
    hasher: ring::digest::Context,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Seals an attachment's plaintext at rest, chunk by chunk; memory stays at two chunks.
pub struct AttachmentWriter<'a> {
    chunks: ChunkWriter<AtRest<'a>, std::fs::File>,
    part: PathBuf,
    path: PathBuf,
}

impl AttachmentWriter<'_> {
    /// Seals the last chunk, syncs, and puts the file in place.
    pub fn finish(self) -> Result<()> {
        let file = self.chunks.finish()?;
        file.sync_all()?;
        std::fs::rename(&self.part, &self.path)?;
        Ok(())
    }

    /// Drops what was written.
    pub fn discard(self) {
        let _ = std::fs::remove_file(&self.part);
    }
}

impl Write for AttachmentWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.chunks.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.chunks.flush()
    }
}
