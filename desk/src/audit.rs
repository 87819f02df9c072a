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
    fn test_csv_quotes_and_defuses_formulas() {
        let entry = AuditEntry::now(Some("anna"), "login.bad_password")
            .target("=cmd|x")
            .detail("a, \"b\"");
        let csv = to_csv(&[entry]);
        let line = csv.lines().nth(1).unwrap();
        assert!(line.contains(",anna,login.bad_password,'=cmd|x,\"a, \"\"b\"\"\""));
    }
}
