//! What the team keeps about each report beside the report itself: labels, internal notes, the
//! officer it is assigned to, its status history, and how far the team has read the reporter's
//! follow-ups. One sealed JSON document per report (kind `case`, id the report id).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{DeskError, Result};

/// The store's document kind of per-report team data.
pub const KIND: &str = "case";

/// Longest label, in characters.
pub const MAX_LABEL: usize = 40;
/// Most labels on one report.
pub const MAX_LABELS: usize = 20;
/// Longest note, in characters.
pub const MAX_NOTE: usize = 10_000;

/// An internal note: seen by the team, never by the reporter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// Who wrote it.
    pub author: String,
    /// When.
    pub at: DateTime<Utc>,
    /// What.
    pub text: String,
}

/// One change of status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    /// Who.
    pub by: String,
    /// When.
    pub at: DateTime<Utc>,
    /// The status before (a core status name).
    pub from: String,
    /// The status after.
    pub to: String,
}

/// The team's data about one report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseData {
    /// Labels, sorted, without duplicates.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Internal notes, oldest first.
    #[serde(default)]
    pub notes: Vec<Note>,
    /// The officer it is assigned to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// Status changes, oldest first.
    #[serde(default)]
    pub history: Vec<StatusChange>,
    /// The last case-message position the team has read.
    #[serde(default)]
    pub read_seq: i64,
}

/// A label as typed, trimmed and lowercased; refused if empty, too long or with control
/// characters.
pub fn clean_label(text: &str) -> Result<String> {
    let label = text.trim().to_lowercase();
    if label.is_empty() || label.chars().count() > MAX_LABEL || label.chars().any(char::is_control) {
        return Err(DeskError::invalid(
            "label",
            format!("1 to {MAX_LABEL} characters, no control characters"),
        ));
    }
    Ok(label)
}

/// A note as typed; refused if empty or too long.
pub fn clean_note(text: &str) -> Result<String> {
    let note = text.trim();
    if note.is_empty() || note.chars().count() > MAX_NOTE {
        return Err(DeskError::invalid("note", format!("1 to {MAX_NOTE} characters")));
    }
    Ok(note.to_owned())
}

impl CaseData {
    /// Adds a label; `false` if it was there already.
    pub fn add_label(&mut self, label: String) -> Result<bool> {
        if self.labels.contains(&label) {
            return Ok(false);
        }
        if self.labels.len() >= MAX_LABELS {
            return Err(DeskError::invalid(
                "label",
                format!("at most {MAX_LABELS} per report"),
            ));
        }
        self.labels.push(label);
        self.labels.sort();
        Ok(true)
    }

    /// Removes a label; whether it was there.
    pub fn remove_label(&mut self, label: &str) -> bool {
        let before = self.labels.len();
        self.labels.retain(|l| l != label);
        self.labels.len() != before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_labels_are_cleaned_sorted_and_bounded() {
        let mut data = CaseData::default();
        assert!(data.add_label(clean_label("  Urgent ").unwrap()).unwrap());
        assert!(!data.add_label(clean_label("urgent").unwrap()).unwrap());
        assert!(data.add_label(clean_label("a-first").unwrap()).unwrap());
        assert_eq!(data.labels, ["a-first", "urgent"]);
        assert!(clean_label("").is_err());
        assert!(clean_label("bad\u{7}").is_err());
        for i in 0..MAX_LABELS - 2 {
            data.add_label(format!("l{i}")).unwrap();
        }
        assert!(data.add_label("one-too-many".into()).is_err());
        assert!(data.remove_label("urgent"));
    }
}
