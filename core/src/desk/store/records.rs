//! What the desk keeps about each report and its case, and how it keeps it: every report record
//! (the opened report, its envelope, status, transfer) and every message is one JSON document
//! sealed with [`Vault`](crate::client::vault::Vault) under its own record name, so records cannot
//! be swapped. In clear remain only the report ids, message ids and positions, and when each
//! report was received (to list them in order without opening them).

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::DeskStore;
use crate::encoding::unb64;
use crate::report::{CaseId, MessageId, Report, ReportId};
use crate::{Error, Result};

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
    /// For a status notice this desk sent, the status it told.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<crate::message::CaseStatus>,
}

/// Stores a sealed record, or replaces it.
const UPSERT_REPORT: &str =
    "INSERT INTO reports (report_id, received_ms, sealed, acked) VALUES (?1, ?2, ?3, ?4)
     ON CONFLICT(report_id) DO UPDATE SET sealed = excluded.sealed, acked = excluded.acked";

/// The newest report of each case (by when it was received, then by id), so that a follow-up
/// notice finds its report without opening every record. Case ids stay out of the database
/// (they would link a case's reports in clear): this lives in memory, made from the records
/// the first time it is needed and kept up to date by every write.
pub(super) type CaseIndex = std::collections::HashMap<CaseId, (i64, ReportId)>;

/// Notes `record` in `cases`: kept if it is the case's newest.
fn note_case(cases: &mut CaseIndex, record: &ReportRecord) {
    let key = (ms(record.received_at), record.report_id);
    let newest = cases.entry(record.case_id).or_insert(key);
    *newest = (*newest).max(key);
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

impl DeskStore {
    /// Stores or replaces a report record.
    pub fn put_report(&self, record: &ReportRecord) -> Result<()> {
        self.put_reports(&[record])
    }

    /// Stores or replaces several report records in one transaction: one synced commit for all
    /// of them, and none of them if one fails.
    pub fn put_reports(&self, records: &[&ReportRecord]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        // Sealed before the database is locked.
        let rows = records
            .iter()
            .map(|record| {
                let id = record.report_id.to_string();
                let json = Zeroizing::new(serde_json::to_vec(record)?);
                let sealed = self.vault.seal(format!("report:{id}").as_bytes(), &json)?;
                Ok((id, ms(record.received_at), sealed, record.acked))
            })
            .collect::<Result<Vec<_>>>()?;
        let conn = self.conn();
        let tx = conn.unchecked_transaction()?;
        {
            let mut statement = tx.prepare_cached(UPSERT_REPORT)?;
            for (id, received_ms, sealed, acked) in &rows {
                statement.execute(params![id, received_ms, sealed, acked])?;
            }
        }
        tx.commit()?;
        drop(conn);
        self.index_cases(records.iter().copied());
        Ok(())
    }

    /// Notes `records` in the case index, if it was made.
    fn index_cases<'a>(&self, records: impl Iterator<Item = &'a ReportRecord>) {
        let mut cases = self.cases.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(cases) = cases.as_mut() {
            for record in records {
                note_case(cases, record);
            }
        }
    }

    /// The newest stored report of case `case_id`, if any.
    pub fn report_for_case(&self, case_id: CaseId) -> Result<Option<ReportRecord>> {
        let known = {
            let cases = self.cases.lock().unwrap_or_else(|p| p.into_inner());
            cases.as_ref().map(|cases| cases.get(&case_id).map(|&(_, id)| id))
        };
        let id = match known {
            Some(id) => id,
            None => {
                // The first time: every record read once (outside the index's lock).
                let mut made = CaseIndex::new();
                for record in self.reports()? {
                    note_case(&mut made, &record);
                }
                let id = made.get(&case_id).map(|&(_, id)| id);
                let mut cases = self.cases.lock().unwrap_or_else(|p| p.into_inner());
                // A write meanwhile is in the records read, or was noted after them: nothing is
                // lost by keeping the newest of both.
                match cases.as_mut() {
                    Some(existing) => {
                        for (case, key) in made {
                            let newest = existing.entry(case).or_insert(key);
                            *newest = (*newest).max(key);
                        }
                    }
                    None => *cases = Some(made),
                }
                id
            }
        };
        id.map(|id| self.report(id)).transpose().map(Option::flatten)
    }

    /// Changes the stored record of `record`'s report with `change`, read and written in one
    /// transaction under the store's lock, so that what was written meanwhile by someone else
    /// (an officer's status, the receiving loop's attachments) is kept, not overwritten with an
    /// older copy. A report not stored yet, or stored under another envelope (it was handed on
    /// and has come back), is stored as `record` with `change` made to it. The record as stored.
    pub fn update_report(
        &self,
        record: &ReportRecord,
        change: impl FnOnce(&mut ReportRecord),
    ) -> Result<ReportRecord> {
        let id = record.report_id.to_string();
        let conn = self.conn();
        let tx = conn.unchecked_transaction()?;
        let row: Option<(Vec<u8>, bool)> = tx
            .prepare_cached("SELECT sealed, acked FROM reports WHERE report_id = ?1")?
            .query_row([&id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let mut stored = match row {
            Some((sealed, acked)) => Some(self.open_report(&id, &sealed, acked)?),
            None => None,
        }
        .filter(|stored| stored.envelope == record.envelope)
        .unwrap_or_else(|| record.clone());
        change(&mut stored);
        let json = Zeroizing::new(serde_json::to_vec(&stored)?);
        let sealed = self.vault.seal(format!("report:{id}").as_bytes(), &json)?;
        tx.prepare_cached(UPSERT_REPORT)?.execute(params![
            id,
            ms(stored.received_at),
            sealed,
            stored.acked
        ])?;
        tx.commit()?;
        drop(conn);
        self.index_cases(std::iter::once(&stored));
        Ok(stored)
    }

    /// Records that the intake was told these stored reports are stored: one transaction, one
    /// synced commit, no record sealed again. Ids not in the store are passed over.
    pub fn mark_acked(&self, ids: &[ReportId]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let conn = self.conn();
        let tx = conn.unchecked_transaction()?;
        {
            let mut statement = tx.prepare_cached("UPDATE reports SET acked = 1 WHERE report_id = ?1")?;
            for id in ids {
                statement.execute([id.to_string()])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// A stored row as its record: the sealed record, acknowledged if either it or the row's
    /// `acked` column says so.
    fn open_report(&self, id: &str, sealed: &[u8], acked: bool) -> Result<ReportRecord> {
        let json = self.vault.open(format!("report:{id}").as_bytes(), sealed)?;
        let mut record: ReportRecord = serde_json::from_slice(&json)?;
        record.acked |= acked;
        Ok(record)
    }

    /// The record of one report.
    pub fn report(&self, report_id: ReportId) -> Result<Option<ReportRecord>> {
        let id = report_id.to_string();
        // Cached: the receiving loop looks up each report it is delivered.
        let row: Option<(Vec<u8>, bool)> = self
            .conn()
            .prepare_cached("SELECT sealed, acked FROM reports WHERE report_id = ?1")?
            .query_row([&id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        row.map(|(sealed, acked)| self.open_report(&id, &sealed, acked))
            .transpose()
    }

    /// Every report, oldest first.
    pub fn reports(&self) -> Result<Vec<ReportRecord>> {
        let rows: Vec<(String, Vec<u8>, bool)> = {
            let conn = self.conn();
            let mut stmt =
                conn.prepare("SELECT report_id, sealed, acked FROM reports ORDER BY received_ms, report_id")?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows
        };
        rows.iter()
            .map(|(id, sealed, acked)| self.open_report(id, sealed, *acked))
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
}
