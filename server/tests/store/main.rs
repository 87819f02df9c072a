//! Tests of the stores against the `Store` trait's contract: one binary, one module per concern.
//! Every contract test is written once over a [`Backend`] and run on each backend (named
//! `<module>::sqlite::<test>` and `<module>::postgres::<test>`), on a fresh SQLite file or a
//! fresh PostgreSQL database of a cluster the binary starts itself (see `support/postgres.rs`).
//! A third backend gets the whole suite by adding a variant. `durability` is SQLite's own.

#![allow(clippy::unwrap_used)]

mod attachments;
mod cases;
mod durability;
mod expiry;
mod nodes;
mod public;
mod reports;

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use tempfile::TempDir;
use tipline_core::report::{CaseId, MessageId, ReportId};
use tipline_server::store::postgres::PostgresStore;
use tipline_server::store::sqlite::SqliteStore;
use tipline_server::store::{DeclaredAttachment, Delivery, NewReport, Store};

#[path = "../support/postgres.rs"]
mod pg;

/// A store implementation under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded SQLite store.
    Sqlite,
    /// The PostgreSQL store.
    Postgres,
}

/// What keeps a test's store alive: the SQLite folder (deleted when dropped); a PostgreSQL
/// test database stays until the cluster goes with the test binary.
pub struct Held(#[allow(dead_code)] Option<TempDir>);

/// A fresh, empty store of `backend`, as the handlers hold it.
pub async fn open_store(backend: Backend) -> (Arc<dyn Store>, Held) {
    match backend {
        Backend::Sqlite => {
            let (store, dir) = open_sqlite();
            (Arc::new(store), Held(Some(dir)))
        }
        Backend::Postgres => {
            let url = pg::shared().fresh_database();
            let store = PostgresStore::connect(&url).await.unwrap();
            (Arc::new(store), Held(None))
        }
    }
}

/// Two nodes on one fresh database: two PostgreSQL stores (each with its own pool, as two
/// server processes), or one SQLite store twice (SQLite serves one process).
pub async fn open_nodes(backend: Backend) -> (Arc<dyn Store>, Arc<dyn Store>, Held) {
    match backend {
        Backend::Sqlite => {
            let (store, held) = open_store(backend).await;
            (Arc::clone(&store), store, held)
        }
        Backend::Postgres => {
            let url = pg::shared().fresh_database();
            let a = PostgresStore::connect(&url).await.unwrap();
            let b = PostgresStore::connect(&url).await.unwrap();
            (Arc::new(a), Arc::new(b), Held(None))
        }
    }
}

/// A SQLite store on a fresh file, with the folder that holds it (deleted when dropped).
pub fn open_sqlite() -> (SqliteStore, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("db").join("tipline.sqlite3")).unwrap();
    (store, dir)
}

/// The same, as the handlers hold it.
pub fn open_sqlite_dyn() -> (Arc<dyn Store>, TempDir) {
    let (store, dir) = open_sqlite();
    (Arc::new(store), dir)
}

/// Runs each named contract test (an `async fn(Backend)`) on every backend.
#[macro_export]
macro_rules! contract_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::Backend::Postgres).await
                }
            )*
        }
    };
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
pub async fn lease(store: &dyn Store, unit: &str, seconds: i64, limit: u32) -> Vec<Delivery> {
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
