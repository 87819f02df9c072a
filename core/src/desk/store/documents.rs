//! What a desk front end keeps beside the reports, sealed like them: documents by kind and id
//! (an officer's account, a report's labels and notes), and append-only logs by kind (an audit
//! trail). The store knows nothing of what they hold: each is bytes the front end serialises,
//! sealed under a record name made of its kind and id (or position), so no record can be passed
//! off as another. In clear remain only the kinds, the ids and the positions.

use rusqlite::{params, OptionalExtension};
use zeroize::Zeroizing;

use super::DeskStore;
use crate::{Error, Result};

/// Longest kind or id of a document, in bytes.
const MAX_NAME: usize = 256;

fn check_name(what: &str, name: &str) -> Result<()> {
    if name.is_empty() || name.len() > MAX_NAME || name.contains('/') {
        return Err(Error::invalid(what, format!("1 to {MAX_NAME} bytes without '/'")));
    }
    Ok(())
}

fn doc_record(kind: &str, id: &str) -> Vec<u8> {
    format!("doc/{kind}/{id}").into_bytes()
}

fn log_record(kind: &str, seq: i64) -> Vec<u8> {
    format!("log/{kind}/{seq}").into_bytes()
}

/// One entry of a log.
#[derive(Debug, Clone)]
pub struct LogEntry {
    /// Its position in the store's logs, increasing.
    pub seq: i64,
    /// Its bytes, opened.
    pub value: Zeroizing<Vec<u8>>,
}

impl DeskStore {
    /// Stores or replaces the document `kind`/`id`.
    pub fn put_document(&self, kind: &str, id: &str, value: &[u8]) -> Result<()> {
        check_name("document kind", kind)?;
        check_name("document id", id)?;
        let sealed = self.vault.seal(&doc_record(kind, id), value)?;
        self.conn().execute(
            "INSERT INTO documents (kind, id, sealed) VALUES (?1, ?2, ?3)
             ON CONFLICT(kind, id) DO UPDATE SET sealed = excluded.sealed",
            params![kind, id, sealed],
        )?;
        Ok(())
    }

    /// The document `kind`/`id`, if stored.
    pub fn document(&self, kind: &str, id: &str) -> Result<Option<Zeroizing<Vec<u8>>>> {
        let sealed: Option<Vec<u8>> = self
            .conn()
            .query_row(
                "SELECT sealed FROM documents WHERE kind = ?1 AND id = ?2",
                params![kind, id],
                |r| r.get(0),
            )
            .optional()?;
        sealed
            .map(|sealed| Ok(self.vault.open(&doc_record(kind, id), &sealed)?))
            .transpose()
    }

    /// Every document of `kind`, by id.
    pub fn documents(&self, kind: &str) -> Result<Vec<(String, Zeroizing<Vec<u8>>)>> {
        let rows: Vec<(String, Vec<u8>)> = {
            let conn = self.conn();
            let mut statement =
                conn.prepare_cached("SELECT id, sealed FROM documents WHERE kind = ?1 ORDER BY id")?;
            let rows = statement.query_map([kind], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<std::result::Result<_, _>>()?
        };
        rows.into_iter()
            .map(|(id, sealed)| {
                let value = self.vault.open(&doc_record(kind, &id), &sealed)?;
                Ok((id, value))
            })
            .collect()
    }

    /// Deletes the document `kind`/`id`; whether there was one.
    pub fn delete_document(&self, kind: &str, id: &str) -> Result<bool> {
        let n = self.conn().execute(
            "DELETE FROM documents WHERE kind = ?1 AND id = ?2",
            params![kind, id],
        )?;
        Ok(n > 0)
    }

    /// Appends `value` to the log `kind`; returns its position. Entries are never changed.
    pub fn append_log(&self, kind: &str, value: &[u8]) -> Result<i64> {
        let seqs = self.append_logs(kind, &[value])?;
        seqs.first()
            .copied()
            .ok_or_else(|| Error::invalid("log", "nothing was appended"))
    }

    /// Appends `values` to the log `kind`, in order, in one transaction (one synced commit for
    /// all of them, and none of them if one fails); returns their positions.
    pub fn append_logs(&self, kind: &str, values: &[&[u8]]) -> Result<Vec<i64>> {
        check_name("log kind", kind)?;
        if values.is_empty() {
            return Ok(Vec::new());
        }
        let conn = self.conn();
        let tx = conn.unchecked_transaction()?;
        let first: i64 = tx.query_row("SELECT COALESCE(MAX(seq), 0) + 1 FROM log", [], |r| r.get(0))?;
        let mut seqs = Vec::with_capacity(values.len());
        {
            let mut statement =
                tx.prepare_cached("INSERT INTO log (seq, kind, sealed) VALUES (?1, ?2, ?3)")?;
            for (seq, value) in (first..).zip(values) {
                // Sealed to its position, so an entry moved elsewhere in the log does not open.
                let sealed = self.vault.seal(&log_record(kind, seq), value)?;
                statement.execute(params![seq, kind, sealed])?;
                seqs.push(seq);
            }
        }
        tx.commit()?;
        Ok(seqs)
    }

    /// Entries of the log `kind` after position `after`, oldest first, at most `limit`.
    pub fn log(&self, kind: &str, after: i64, limit: u32) -> Result<Vec<LogEntry>> {
        self.log_rows(
            "SELECT seq, sealed FROM log WHERE kind = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            kind,
            after,
            limit,
        )
    }

    /// Entries of the log `kind` before position `before` (all, if `None`), newest first, at
    /// most `limit`: the page of a long log a reader sees first, without opening the rest.
    pub fn log_before(&self, kind: &str, before: Option<i64>, limit: u32) -> Result<Vec<LogEntry>> {
        self.log_rows(
            "SELECT seq, sealed FROM log WHERE kind = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3",
            kind,
            before.unwrap_or(i64::MAX),
            limit,
        )
    }

    fn log_rows(&self, sql: &str, kind: &str, seq: i64, limit: u32) -> Result<Vec<LogEntry>> {
        let rows: Vec<(i64, Vec<u8>)> = {
            let conn = self.conn();
            let mut statement = conn.prepare_cached(sql)?;
            let rows = statement.query_map(params![kind, seq, limit], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<std::result::Result<_, _>>()?
        };
        rows.into_iter()
            .map(|(seq, sealed)| {
                Ok(LogEntry {
                    seq,
                    value: self.vault.open(&log_record(kind, seq), &sealed)?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::KdfParams;
    use super::*;

    fn store(dir: &std::path::Path) -> DeskStore {
        let params = KdfParams {
            memory_kib: 8,
            iterations: 1,
            parallelism: 1,
        };
        DeskStore::open(dir, "dk-test", "passphrase", params).unwrap()
    }

    #[test]
    fn test_documents_are_kept_sealed_and_found_by_kind_and_id() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        store
            .put_document("account", "anna", b"{\"role\":\"officer\"}")
            .unwrap();
        store.put_document("account", "bo", b"two").unwrap();
        store.put_document("account", "bo", b"three").unwrap();
        store.put_document("notes", "anna", b"other kind").unwrap();
        assert_eq!(
            store.document("account", "bo").unwrap().unwrap().as_slice(),
            b"three"
        );
        assert!(store.document("account", "carl").unwrap().is_none());
        let ids: Vec<String> = store
            .documents("account")
            .unwrap()
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(ids, ["anna", "bo"]);
        assert!(store.delete_document("account", "anna").unwrap());
        assert!(!store.delete_document("account", "anna").unwrap());
        assert!(store.put_document("a/b", "x", b"").is_err());
        // Nothing of the values is in the database file in clear.
        drop(store);
        let db = std::fs::read(dir.path().join("desk.db")).unwrap();
        assert!(!db.windows(b"officer".len()).any(|w| w == b"officer"));
    }

    #[test]
    fn test_a_document_moved_to_another_id_does_not_open() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        store.put_document("account", "anna", b"supervisor").unwrap();
        store.put_document("account", "bo", b"officer").unwrap();
        store
            .conn()
            .execute(
                "UPDATE documents SET sealed = (SELECT sealed FROM documents WHERE id = 'anna') WHERE id = 'bo'",
                [],
            )
            .unwrap();
        assert!(store.document("account", "bo").is_err());
    }

    #[test]
    fn test_logs_append_in_order_and_read_from_a_position() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let a = store.append_log("audit", b"one").unwrap();
        let _ = store.append_log("other", b"x").unwrap();
        let b = store.append_log("audit", b"two").unwrap();
        assert!(b > a);
        let all: Vec<Vec<u8>> = store
            .log("audit", 0, 10)
            .unwrap()
            .into_iter()
            .map(|e| e.value.to_vec())
            .collect();
        assert_eq!(all, [b"one".to_vec(), b"two".to_vec()]);
        assert_eq!(store.log("audit", a, 10).unwrap().len(), 1);
        assert_eq!(store.log("audit", 0, 1).unwrap().len(), 1);
    }

    #[test]
    fn test_logs_append_several_in_one_commit_in_order() {
        // Given a log with one entry
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let first = store.append_log("audit", b"one").unwrap();
        // When three more are appended at once
        let seqs = store
            .append_logs("audit", &[b"two".as_slice(), b"three", b"four"])
            .unwrap();
        // Then they follow it, in order, each at its own position
        assert_eq!(seqs, [first + 1, first + 2, first + 3]);
        let all: Vec<(i64, Vec<u8>)> = store
            .log("audit", 0, 10)
            .unwrap()
            .into_iter()
            .map(|e| (e.seq, e.value.to_vec()))
            .collect();
        assert_eq!(
            all,
            [
                (first, b"one".to_vec()),
                (first + 1, b"two".to_vec()),
                (first + 2, b"three".to_vec()),
                (first + 3, b"four".to_vec())
            ]
        );
        assert!(store.append_logs("audit", &[]).unwrap().is_empty());
        assert!(store.append_logs("a/b", &[b"x".as_slice()]).is_err());
    }
}
