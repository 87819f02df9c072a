//! The audit log: who did what to which report or account, and every sign-in, failure and
//! refusal, appended as sealed JSON entries to the store's `audit` log. An entry never holds a
//! password, a code, or report content: only names, ids and stable action codes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tipline_core::desk::DeskStore;

use crate::error::Result;

/// The store's log kind of the audit log.
pub const KIND: &str = "audit";

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Its position in the log.
    #[serde(default)]
    pub seq: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// The account acting or named in a sign-in attempt, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// A stable action code, e.g. `login.ok`, `login.bad_password`, `report.status`.
    pub action: String,
    /// The report or account acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// A short detail that is neither content nor a secret (a status name, a role).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl AuditEntry {
    /// An entry made now.
    pub fn now(actor: Option<&str>, action: &str) -> AuditEntry {
        AuditEntry {
            seq: 0,
            at: Utc::now(),
            actor: actor.map(str::to_owned),
            action: action.to_owned(),
            target: None,
            detail: None,
        }
    }

    /// With the report or account acted on.
    pub fn target(mut self, target: impl Into<String>) -> AuditEntry {
        self.target = Some(target.into());
        self
    }

    /// With a short detail.
    pub fn detail(mut self, detail: impl Into<String>) -> AuditEntry {
        self.detail = Some(detail.into());
        self
    }
}

/// Refusals of requests that name no signed-in account written per [`REFUSAL_WINDOW`]; those
/// past it are counted, and the count written as one entry when the window ends.
pub const REFUSALS_WRITTEN: usize = 60;
/// Seconds of one window of refusals.
pub const REFUSAL_WINDOW: i64 = 60;
/// The action of the entry that counts the refusals not written one by one.
pub const REFUSALS_NOT_WRITTEN: &str = "audit.refusals_not_written";

/// The bound on refusals written one by one. Anyone who can reach the desk can send refused
/// requests (a form with no session, a locked sign-in) as fast as the network carries them,
/// and each entry is a synced commit: unbounded, they would fill the log and hold up the
/// desk. Past [`REFUSALS_WRITTEN`] in a window, they are counted instead, and the count is
/// written when the window ends (at the next entry after it), so the log still says how many.
#[derive(Debug, Default)]
pub struct RefusalBudget {
    start: i64,
    written: usize,
    not_written: u64,
}

impl RefusalBudget {
    /// Whether a refusal at `now` is written one by one; and, first, the entry that counts
    /// those of a window now ended that were not.
    pub fn refusal(&mut self, now: i64) -> (bool, Option<AuditEntry>) {
        let ended = self.end_window(now);
        let write = self.written < REFUSALS_WRITTEN;
        if write {
            self.written += 1;
        } else {
            self.not_written += 1;
        }
        (write, ended)
    }

    /// At `now`, the entry that counts the refusals not written of a window that has ended,
    /// if any (a new window starts).
    pub fn end_window(&mut self, now: i64) -> Option<AuditEntry> {
        // A window starts at its first refusal.
        if self.written == 0 {
            self.start = now;
        }
        if now - self.start < REFUSAL_WINDOW {
            return None;
        }
        self.start = now;
        self.written = 0;
        let count = std::mem::take(&mut self.not_written);
        (count > 0).then(|| AuditEntry::now(None, REFUSALS_NOT_WRITTEN).detail(count.to_string()))
    }
}

/// Appends `entry` to the store's audit log; returns its position.
pub fn append(store: &DeskStore, entry: &AuditEntry) -> Result<i64> {
    Ok(store.append_log(KIND, &serde_json::to_vec(entry)?)?)
}

/// Appends `entries` to the store's audit log in one commit, in order; returns their positions.
pub fn append_all(store: &DeskStore, entries: &[AuditEntry]) -> Result<Vec<i64>> {
    let values = entries
        .iter()
        .map(serde_json::to_vec)
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let values: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
    Ok(store.append_logs(KIND, &values)?)
}

/// Entries after position `after`, oldest first, at most `limit`.
pub fn read(store: &DeskStore, after: i64, limit: u32) -> Result<Vec<AuditEntry>> {
    store
        .log(KIND, after, limit)?
        .into_iter()
        .map(|e| {
            let mut entry: AuditEntry = serde_json::from_slice(&e.value)?;
            entry.seq = e.seq;
            Ok(entry)
        })
        .collect()
}

/// Entries before position `before` (the newest, if `None`), newest first, at most `limit`.
pub fn read_back(store: &DeskStore, before: Option<i64>, limit: u32) -> Result<Vec<AuditEntry>> {
    store
        .log_before(KIND, before, limit)?
        .into_iter()
        .map(|e| {
            let mut entry: AuditEntry = serde_json::from_slice(&e.value)?;
            entry.seq = e.seq;
            Ok(entry)
        })
        .collect()
}

/// Every entry, oldest first.
pub fn all(store: &DeskStore) -> Result<Vec<AuditEntry>> {
    let mut out = Vec::new();
    loop {
        let after = out.last().map_or(0, |e: &AuditEntry| e.seq);
        let page = read(store, after, 1000)?;
        if page.is_empty() {
            return Ok(out);
        }
        out.extend(page);
    }
}

/// The entries as CSV (RFC 4180), a header first. A field that a spreadsheet would take as a
/// formula gets a leading `'`.
pub fn to_csv(entries: &[AuditEntry]) -> String {
    let mut out = String::from("seq,at,actor,action,target,detail\r\n");
    for e in entries {
        let fields = [
            e.seq.to_string(),
            e.at.to_rfc3339(),
            e.actor.clone().unwrap_or_default(),
            e.action.clone(),
            e.target.clone().unwrap_or_default(),
            e.detail.clone().unwrap_or_default(),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_refusals_past_the_bound_are_counted_and_the_count_written_after_the_window() {
        let mut budget = RefusalBudget::default();
        let written = (0..1000).filter(|_| budget.refusal(5).0).count();
        assert_eq!(written, REFUSALS_WRITTEN);
        assert!(budget.end_window(5 + REFUSAL_WINDOW - 1).is_none());
        let (write, count) = budget.refusal(5 + REFUSAL_WINDOW);
        assert!(write);
        let count = count.unwrap();
        assert_eq!(count.action, REFUSALS_NOT_WRITTEN);
        assert_eq!(count.detail.as_deref(), Some("940"));
        // A quiet window ends with nothing to count
        assert!(budget.end_window(5 + 3 * REFUSAL_WINDOW).is_none());
    }

    #[test]
    fn test_csv_quotes_and_defuses_formulas() {
        let entry = AuditEntry::now(Some("anna"), "login.bad_password")
            .target("=cmd|x")
            .detail("a, \"b\"");
        let csv = to_csv(&[entry]);
        let line = csv.lines().nth(1).unwrap();
        assert!(line.contains(",anna,login.bad_password,'=cmd|x,\"a, \"\"b\"\"\""));
    }
}
