//! Durability, group commit, and shutdown.

use std::sync::Arc;

use tipline_server::store::sqlite::SqliteStore;
use tipline_server::store::{Store, StoreError, StoreStats, SubmitOutcome};
use tokio::sync::Barrier;

use crate::{at, lease, new_report, open_sqlite, report_id};

/// A report numbered past 255, for bursts.
fn numbered_report(n: u16, unit: &str) -> tipline_server::store::NewReport {
    let mut report = new_report(0, unit);
    let [high, low] = n.to_be_bytes();
    report.report_id.0[0] = high;
    report.report_id.0[1] = low;
    report.case_id.0[0] = high;
    report.case_id.0[1] = low;
    report.envelope_sha256[0] = low;
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_reopen_keeps_every_acknowledged_write() {
    // Given a store file with 60 submitted reports, 10 of them acknowledged, and a directory
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tipline.sqlite3");
    {
        let store = SqliteStore::open(&path).unwrap();
        for n in 1..=60u8 {
            assert_eq!(
                store.submit_report(new_report(n, "dk-east")).await.unwrap(),
                SubmitOutcome::Created
            );
        }
        lease(&store, "dk-east", 100, 10).await;
        for n in 1..=10u8 {
            assert!(store.ack_report("dk-east", report_id(n), at(101)).await.unwrap());
        }
        store
            .publish_directory(2, 7, b"directory".to_vec())
            .await
            .unwrap();

        // When the store is dropped (as at shutdown)
    }

    // Then reopening the same file finds everything, and reopening again changes nothing
    let store = SqliteStore::open(&path).unwrap();
    drop(store);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(
        store.stats().await.unwrap(),
        StoreStats {
            pending_reports: 50,
            acknowledged_reports: 10
        }
    );
    assert_eq!(
        store.directory(2).await.unwrap(),
        Some((7, b"directory".to_vec()))
    );
    let delivered = lease(&store, "dk-east", 1000, 100).await;
    assert_eq!(delivered.len(), 50);
    assert_eq!(delivered[0].report_id, report_id(11));
    assert_eq!(
        store.submit_report(new_report(1, "dk-east")).await.unwrap(),
        SubmitOutcome::Duplicate {
            receipt: b"receipt-1".to_vec()
        }
    );

    // And the file is in WAL mode at the current schema version, with 8 KiB pages
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    let page_size: i64 = conn.query_row("PRAGMA page_size", [], |row| row.get(0)).unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(version, 5);
    assert_eq!(page_size, 8192);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_group_commit_shares_commits_among_concurrent_submits() {
    // Given a store and 500 tasks ready to submit at the same moment
    let (store, _dir) = open_sqlite();
    let store = Arc::new(store);
    let start = Arc::new(Barrier::new(500));
    let mut tasks = Vec::new();
    for n in 0..500u16 {
        let (store, start) = (Arc::clone(&store), Arc::clone(&start));
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            store.submit_report(numbered_report(n, "dk-east")).await
        }));
    }

    // When they all submit
    for task in tasks {
        // Then every one is created
        assert_eq!(task.await.unwrap().unwrap(), SubmitOutcome::Created);
    }

    // And all are stored, with far fewer commits (fsyncs) than submissions
    assert_eq!(store.stats().await.unwrap().pending_reports, 500);
    let commits = store.commit_count();
    assert!(commits >= 1);
    assert!(commits < 100, "500 submissions took {commits} commits");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_close_answers_every_write_and_keeps_every_acknowledged_one() {
    // Given a file and 200 tasks submitting while the store is being closed
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tipline.sqlite3");
    let store = SqliteStore::open(&path).unwrap();
    let start = Arc::new(Barrier::new(201));
    let mut tasks = Vec::new();
    for n in 0..200u16 {
        let (store, start) = (store.clone(), Arc::clone(&start));
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            store.submit_report(numbered_report(n, "dk-east")).await
        }));
    }

    // When the store closes in the middle of them
    start.wait().await;
    store.close().await;
    let mut created = 0u64;
    for task in tasks {
        match task.await.unwrap() {
            Ok(SubmitOutcome::Created) => created += 1,
            Err(StoreError::Closed) => {}
            other => panic!("unexpected answer {other:?}"),
        }
    }

    // Then later writes are refused, reads still work, ping says closed...
    assert!(matches!(
        store.submit_report(new_report(1, "dk-west")).await,
        Err(StoreError::Closed)
    ));
    assert!(matches!(store.ping().await, Err(StoreError::Closed)));
    assert_eq!(store.stats().await.unwrap().pending_reports, created);
    drop(store);

    // ...and every submission answered as created is in the file
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.stats().await.unwrap().pending_reports, created);
}

#[tokio::test]
async fn test_store_serves_handlers_as_a_shared_trait_object() {
    // Given the store behind `Arc<dyn Store>`, cloned into tasks
    let (store, _dir) = crate::open_sqlite_dyn();
    let other = Arc::clone(&store);

    // When one task submits and another reads
    tokio::spawn(async move { other.submit_report(new_report(1, "dk-east")).await.unwrap() })
        .await
        .unwrap();

    // Then the read sees the write
    assert_eq!(store.stats().await.unwrap().pending_reports, 1);
}

#[tokio::test]
async fn test_a_second_store_on_the_same_file_is_refused_while_the_first_is_open() {
    // Given a store open on a file
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tipline.sqlite3");
    let first = SqliteStore::open(&path).unwrap();
    first.submit_report(new_report(1, "dk-east")).await.unwrap();

    // When a second one opens the same file, it is refused with the reason
    let Err(StoreError::Database(why)) = SqliteStore::open(&path) else {
        panic!("a second store opened the same file");
    };
    assert!(why.contains("another server"), "{why}");

    // And once the first is gone, the file opens with what it stored
    drop(first);
    let store = SqliteStore::open(&path).unwrap();
    assert!(matches!(
        store.submit_report(new_report(1, "dk-east")).await.unwrap(),
        SubmitOutcome::Duplicate { .. }
    ));
}

#[cfg(unix)]
#[tokio::test]
async fn test_the_folder_and_database_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    // Given a data folder to be created, and a process umask that would leave files readable,
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let path = data.join("tipline.db");
    // when the store opens and writes,
    let store = SqliteStore::open(&path).unwrap();
    store.submit_report(new_report(1, "dk-east")).await.unwrap();
    // then the folder is 0700 and the database, its WAL and its SHM files are 0600.
    assert_eq!(mode(&data), 0o700);
    for file in ["tipline.db", "tipline.db-wal", "tipline.db-shm"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    store.close().await;
    drop(store);
    // An existing installation's files are tightened when the store opens them again.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&data), 0o700);
    store.close().await;
}
