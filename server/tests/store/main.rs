//! Tests of the SQLite store against the `Store` trait's contract: one binary, one module per
//! concern, each test on a fresh database file in a temporary folder.

#![allow(clippy::unwrap_used)]

mod attachments;
mod cases;
mod durability;
mod expiry;
mod public;
mod reports;

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use tempfile::TempDir;
use tipline_core::report::{CaseId, MessageId, ReportId};
use tipline_server::store::sqlite::SqliteStore;
use tipline_server::store::{DeclaredAttachment, Delivery, NewReport, Store};

/// A store on a fresh file, with the folder that holds it (deleted when dropped).
pub fn open_store() -> (SqliteStore, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("db").join("tipline.sqlite3")).unwrap();
    (store, dir)
}

/// The same, as the handlers hold it.
pub fn open_dyn_store() -> (Arc<dyn Store>, TempDir) {
    let (store, dir) = open_store();
    (Arc::new(store), dir)
}

/// A fixed moment, whole milliseconds (the store keeps milliseconds).
pub fn t0() -> DateTime<Utc> {
    Utc.timestamp_millis_opt(1_750_000_000_000).unwrap()
}

/// `t0` plus some seconds.
pub fn at(seconds: i64) -> DateTime<Utc> {
    t0() + Duration::seconds(seconds)
}

pub fn report_id(n: u8) -> ReportId {
    ReportId([n; 16])
}

pub fn case_id(n: u8) -> CaseId {
    CaseId([n; 16])
}

pub fn message_id(n: u8) -> MessageId {
    MessageId([n; 16])
}

/// A secret hash made from one byte.
pub fn secret(n: u8) -> [u8; 32] {
    [n; 32]
}

/// What `unit` leases at `at(seconds)`, for 60 seconds, at most `limit` reports.
pub async fn lease(store: &SqliteStore, unit: &str, seconds: i64, limit: u32) -> Vec<Delivery> {
    store
        .lease_reports(unit, at(seconds), Duration::seconds(60), limit)
        .await
        .unwrap()
}

/// A report `n` for `unit` in case `n` with secret `n`, received at `at(n)`, no attachments.
pub fn new_report(n: u8, unit: &str) -> NewReport {
    let envelope = vec![n; 64 + usize::from(n)];
    NewReport {
        report_id: report_id(n),
        unit_id: unit.to_owned(),
        envelope_sha256: [n; 32],
        envelope,
        case_id: case_id(n),
        case_secret_hash: secret(n),
        attachments: Vec::new(),
        received_at: at(i64::from(n)),
        receipt: format!("receipt-{n}").into_bytes(),
    }
}

/// The same with declared attachments of the given sizes.
pub fn with_attachments(mut report: NewReport, sizes: &[u64]) -> NewReport {
    report.attachments = sizes
        .iter()
        .enumerate()
        .map(|(index, &sealed_size)| DeclaredAttachment {
            index: u16::try_from(index).unwrap(),
            sealed_size,
        })
        .collect();
    report
}
