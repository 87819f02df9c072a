//! The reports held in memory for listing and search: a summary of each stored report (what the
//! inbox shows) and its opened text folded to lowercase, so the inbox and a search run over
//! memory, not over the sealed store. Loaded at start, and refreshed one report at a time when a
//! report or its conversation changes.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use tipline_core::desk::{AttachmentState, DeskStore, MessageRecord, ReportRecord, Status};
use tipline_core::report::{Place, ReportId};

use crate::error::Result;

/// What the inbox knows of one report.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The report id.
    pub id: ReportId,
    /// Its id as text, for links.
    pub id_text: String,
    /// Its category id.
    pub category: String,
    /// When the intake received it.
    pub received_at: DateTime<Utc>,
    /// Where, in short: a described place, or the blurred position's precision and cell.
    pub region: String,
    /// Where it stands.
    pub status: Status,
    /// Attachments it has.
    pub attachments: usize,
    /// Attachments stored and checked.
    pub attachments_saved: usize,
    /// Positions of the reporter's follow-ups.
    pub follow_ups: Vec<i64>,
    /// Everything opened, lowercased, for search.
    haystack: String,
}

impl Entry {
    /// Follow-ups after position `read_seq`.
    pub fn unread(&self, read_seq: i64) -> usize {
        self.follow_ups.iter().filter(|&&s| s > read_seq).count()
    }

    /// Whether every word of `query` (already lowercased) is in the report.
    pub fn matches(&self, words: &[String]) -> bool {
        words.iter().all(|w| self.haystack.contains(w.as_str()))
    }

    fn of(record: &ReportRecord, messages: &[MessageRecord]) -> Entry {
        let report = &record.report;
        let mut haystack = String::with_capacity(report.text.len() + 64);
        let mut add = |s: &str| {
            haystack.push_str(&s.to_lowercase());
            haystack.push('\n');
        };
        add(&record.report_id.to_string());
        add(&report.category);
        add(&report.text);
        if let Some(Place::Described { text }) = &report.place {
            add(text);
        }
        for person in &report.people {
            add(person.name.as_deref().unwrap_or(""));
            add(&person.description);
        }
        if let Some(contact) = &report.contact {
            for field in [&contact.name, &contact.phone, &contact.email] {
                add(field.as_deref().unwrap_or(""));
            }
        }
        for a in &report.attachments {
            add(&a.name);
        }
        for m in messages {
            add(m.text.as_deref().unwrap_or(""));
        }
        Entry {
            id: record.report_id,
            id_text: record.report_id.to_string(),
            category: report.category.clone(),
            received_at: record.received_at,
            region: region(report.place.as_ref()),
            status: record.status,
            attachments: report.attachments.len(),
            attachments_saved: record
                .attachments
                .iter()
                .filter(|a| **a == AttachmentState::Saved)
                .count(),
            follow_ups: messages
                .iter()
                .filter(|m| m.from_reporter)
                .map(|m| m.seq)
                .collect(),
            haystack,
        }
    }
}

/// A place in a few words for the inbox.
pub fn region(place: Option<&Place>) -> String {
    match place {
        None => String::new(),
        Some(Place::Described { text }) => text.chars().take(60).collect(),
        Some(Place::Blurred {
            latitude,
            longitude,
            precision,
        }) => format!("{latitude:.2}, {longitude:.2} (±{} m)", precision.metres()),
    }
}

/// Every stored report's summary.
#[derive(Debug, Default)]
pub struct Index {
    entries: HashMap<ReportId, Entry>,
}

impl Index {
    /// The summaries of everything in `store`.
    pub fn load(store: &DeskStore) -> Result<Index> {
        let mut index = Index::default();
        for record in store.reports()? {
            let messages = store.messages(record.report_id)?;
            index.put(&record, &messages);
        }
        Ok(index)
    }

    /// Puts (or replaces) a report's summary.
    pub fn put(&mut self, record: &ReportRecord, messages: &[MessageRecord]) {
        self.entries.insert(record.report_id, Entry::of(record, messages));
    }

    /// Reads a report again from `store`.
    pub fn refresh(&mut self, store: &DeskStore, id: ReportId) -> Result<()> {
        match store.report(id)? {
            Some(record) => {
                let messages = store.messages(id)?;
                self.put(&record, &messages);
            }
            None => {
                self.entries.remove(&id);
            }
        }
        Ok(())
    }

    /// One report's summary.
    pub fn get(&self, id: &ReportId) -> Option<&Entry> {
        self.entries.get(id)
    }

    /// Every summary, in no order.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.values()
    }

    /// How many reports.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
