//! Several nodes writing at once: two store handles on one database (two connection pools on
//! PostgreSQL, as two server processes hold them; one store shared for SQLite, which has one
//! node by design), racing the same writes.

use std::collections::HashSet;

use chrono::Duration;
use tipline_core::report::MessageId;
use tipline_server::store::postgres::PostgresStore;
use tipline_server::store::{AppendOutcome, MessageDirection, Store, SubmitOutcome};

use crate::{at, case_id, lease, new_report, open_nodes, report_id, secret, with_attachments, Backend};

async fn test_same_report_raced_to_two_nodes_is_stored_once_with_one_receipt(backend: Backend) {
    // Given two nodes on one database
    let (a, b, _held) = open_nodes(backend).await;

    for n in 1..=20u8 {
        // When the same report reaches both at the same moment, each signing its own receipt
        let mut first = new_report(n, "dk-east");
        first.receipt = b"receipt of node a".to_vec();
        let mut second = new_report(n, "dk-east");
        second.receipt = b"receipt of node b".to_vec();
        let (x, y) = tokio::join!(a.submit_report(first), b.submit_report(second));
        let (x, y) = (x.unwrap(), y.unwrap());

        // Then one stored it and the other answers with the stored receipt
        let outcomes = [x, y];
        let created = outcomes.iter().filter(|o| **o == SubmitOutcome::Created).count();
        assert_eq!(created, 1, "{outcomes:?}");
        let duplicate = outcomes
            .iter()
            .find_map(|o| match o {
                SubmitOutcome::Duplicate { receipt } => Some(receipt.clone()),
                _ => None,
            })
            .unwrap();
        let winner = if outcomes[0] == SubmitOutcome::Created {
            b"receipt of node a".to_vec()
        } else {
            b"receipt of node b".to_vec()
        };
        assert_eq!(duplicate, winner);
    }
    assert_eq!(a.stats().await.unwrap().pending_reports, 20);
}

async fn test_leases_from_two_nodes_never_give_a_report_twice(backend: Backend) {
    // Given 60 queued reports
    let (a, b, _held) = open_nodes(backend).await;
    for n in 1..=60u8 {
        a.submit_report(new_report(n, "dk-east")).await.unwrap();
    }

    // When desks on both nodes lease small pages at once until nothing is left
    let mut seen = HashSet::new();
    for _ in 0..40 {
        let (x, y) = tokio::join!(
            a.lease_reports("dk-east", at(500), Duration::seconds(60), 4),
            b.lease_reports("dk-east", at(500), Duration::seconds(60), 4)
        );
        let (x, y) = (x.unwrap(), y.unwrap());
        if x.is_empty() && y.is_empty() {
            break;
        }
        // Then no report is leased by both, nor twice
        for delivery in x.iter().chain(&y) {
            assert!(seen.insert(delivery.report_id), "leased twice");
        }
    }
    assert_eq!(seen.len(), 60);

    // And acknowledging from either node, twice, is the same as once
    for (i, id) in seen.iter().enumerate() {
        let (first, second) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
        assert!(first.ack_report("dk-east", *id, at(501)).await.unwrap());
        assert!(second.ack_report("dk-east", *id, at(502)).await.unwrap());
    }
    let stats = b.stats().await.unwrap();
    assert_eq!((stats.pending_reports, stats.acknowledged_reports), (0, 60));
}

async fn test_attachment_pieces_racing_on_two_nodes_are_taken_only_at_the_end(backend: Backend) {
    // Given a report with a 64-byte attachment
    let (a, b, _held) = open_nodes(backend).await;
    a.submit_report(with_attachments(new_report(1, "dk-east"), &[64]))
        .await
        .unwrap();

    // When the same first piece reaches both nodes at once, then the second piece does
    let (x, y) = tokio::join!(
        a.append_attachment(report_id(1), 0, secret(1), 0, &[1; 32]),
        b.append_attachment(report_id(1), 0, secret(1), 0, &[1; 32])
    );

    // Then one is appended and the other told where the upload stands
    let mut outcomes = [x.unwrap(), y.unwrap()];
    outcomes.sort_by_key(|o| matches!(o, AppendOutcome::OffsetMismatch { .. }));
    assert_eq!(
        outcomes,
        [
            AppendOutcome::Appended { offset: 32 },
            AppendOutcome::OffsetMismatch { offset: 32 }
        ]
    );
    let (x, y) = tokio::join!(
        b.append_attachment(report_id(1), 0, secret(1), 32, &[2; 32]),
        a.append_attachment(report_id(1), 0, secret(1), 32, &[2; 32])
    );
    let appended = [x.unwrap(), y.unwrap()]
        .into_iter()
        .filter(|o| *o == AppendOutcome::Appended { offset: 64 })
        .count();
    assert_eq!(appended, 1);

    // And the stored bytes are the two pieces once each
    let mut expected = vec![1; 32];
    expected.extend([2; 32]);
    assert_eq!(
        a.read_attachment("dk-east", report_id(1), 0, 0, 100)
            .await
            .unwrap(),
        Some(expected)
    );
}

async fn test_case_messages_posted_on_two_nodes_are_read_in_order_without_gaps(backend: Backend) {
    // Given a case
    let (a, b, _held) = open_nodes(backend).await;
    a.submit_report(new_report(1, "dk-east")).await.unwrap();

    // When replies and follow-ups are posted on both nodes at once while a reader follows the
    // case with its cursor
    let post = |store: std::sync::Arc<dyn tipline_server::store::Store>, from: u8| async move {
        for i in 0..15u8 {
            let mut id = [from; 16];
            id[15] = i;
            store
                .add_message(
                    case_id(1),
                    MessageId(id),
                    MessageDirection::ToUnit,
                    vec![i; 40],
                    at(10),
                )
                .await
                .unwrap();
        }
    };
    let reader = async {
        let mut cursor = 0;
        let mut read = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::time::Instant::now() < deadline {
            let page = b.messages(case_id(1), cursor, 7).await.unwrap();
            for message in page {
                assert!(message.seq > cursor);
                cursor = message.seq;
                read.push(message.message_id);
            }
            if read.len() == 30 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        read
    };
    let ((), (), read) = tokio::join!(post(a.clone(), 0xa0), post(b.clone(), 0xb0), reader);

    // Then the reader saw every message exactly once, in the order the case holds them
    let all: Vec<MessageId> = a
        .messages(case_id(1), 0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.message_id)
        .collect();
    assert_eq!(all.len(), 30);
    assert_eq!(read, all);
}

crate::contract_tests!(
    test_same_report_raced_to_two_nodes_is_stored_once_with_one_receipt,
    test_leases_from_two_nodes_never_give_a_report_twice,
    test_attachment_pieces_racing_on_two_nodes_are_taken_only_at_the_end,
    test_case_messages_posted_on_two_nodes_are_read_in_order_without_gaps,
);

#[tokio::test]
async fn test_retention_runs_on_one_node_at_a_time() {
    // Given two PostgreSQL nodes and a third holding the purge job's lock, as while it purges
    let url = crate::pg::shared().fresh_database();
    let a = PostgresStore::connect(&url).await.unwrap();
    let b = PostgresStore::connect(&url).await.unwrap();
    a.submit_report(new_report(1, "dk-east")).await.unwrap();
    assert!(a.ack_report("dk-east", report_id(1), at(10)).await.unwrap());
    let holder = PostgresStore::connect(&url).await.unwrap();
    let mut conn = holder.pool().acquire().await.unwrap();
    let purge_lock = 0x7469_706c_0000_0001i64;
    sqlx_core::query::query("SELECT pg_advisory_lock($1)")
        .bind(purge_lock)
        .execute(&mut *conn)
        .await
        .unwrap();

    // When another node's retention runs, it leaves both its jobs to the holder (purge and
    // expire never run at once, so that a case holding one report of each is deleted)
    assert_eq!(b.purge(at(100), at(100)).await.unwrap(), 0);
    a.submit_report(new_report(2, "dk-east")).await.unwrap();
    assert_eq!(b.expire(at(100)).await.unwrap().reports, 0);
    assert_eq!(a.stats().await.unwrap().pending_reports, 1);

    // And once the holder is done, it runs
    sqlx_core::query::query("SELECT pg_advisory_unlock($1)")
        .bind(purge_lock)
        .execute(&mut *conn)
        .await
        .unwrap();
    assert_eq!(b.purge(at(100), at(100)).await.unwrap(), 1);
    assert_eq!(a.stats().await.unwrap().acknowledged_reports, 0);
    assert_eq!(b.expire(at(100)).await.unwrap().reports, 1);
}

#[tokio::test]
async fn test_push_reaches_a_stream_on_another_node_and_catches_up_after_a_lost_connection() {
    use tipline_server::push::{PushEvent, PushHub, Received};
    // Given two PostgreSQL nodes, with a desk's stream subscribed on node b
    let url = crate::pg::shared().fresh_database();
    let a = PostgresStore::connect(&url).await.unwrap();
    let b = PostgresStore::connect(&url).await.unwrap();
    let (hub_a, hub_b) = (a.push_hub(), b.push_hub());
    let mut stream = hub_b.subscribe("dk-east");
    // (the hubs listen once they have started; their first wake-up tells streams to look)
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), stream.recv()).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    while tokio::time::timeout(std::time::Duration::from_millis(50), stream.recv())
        .await
        .is_ok()
    {}

    // When a report is queued at node a, and a follow-up is posted there (each change stored,
    // then announced, as the handlers do)
    assert_eq!(
        a.submit_report(new_report(3, "dk-east")).await.unwrap(),
        SubmitOutcome::Created
    );
    hub_a.notify("dk-east", PushEvent::Report);
    let posted = a
        .add_message(
            case_id(3),
            MessageId([9; 16]),
            MessageDirection::ToUnit,
            vec![9; 80],
            at(5),
        )
        .await
        .unwrap();
    let message = PushEvent::Message {
        case_id: case_id(3),
        seq: posted.seq,
    };
    hub_a.notify("dk-east", message);

    // Then the stream on node b is woken for both (in either order: a wake-up carries no
    // order), and not for another unit's
    let wait = std::time::Duration::from_secs(5);
    let first = tokio::time::timeout(wait, stream.recv()).await.unwrap();
    let second = tokio::time::timeout(wait, stream.recv()).await.unwrap();
    assert!(
        [first, second] == [Received::Event(PushEvent::Report), Received::Event(message)]
            || [second, first] == [Received::Event(PushEvent::Report), Received::Event(message)],
        "{first:?} {second:?}"
    );
    a.submit_report(new_report(4, "dk-west")).await.unwrap();
    hub_a.notify("dk-west", PushEvent::Report);
    let nothing = tokio::time::timeout(std::time::Duration::from_millis(500), stream.recv()).await;
    assert!(nothing.is_err(), "{nothing:?}");

    // When node b's listening connection is cut and an event is recorded meanwhile
    crate::pg::shared()
        .psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%'")
        .unwrap();
    a.submit_report(new_report(5, "dk-east")).await.unwrap();
    hub_a.notify("dk-east", PushEvent::Report);

    // Then the stream still hears of it (at once from the wake-up after the lost connection,
    // or from the catch-up read when node b listens again)
    let woken = tokio::time::timeout(wait, stream.recv()).await.unwrap();
    assert_eq!(woken, Received::Event(PushEvent::Report));
}

#[tokio::test]
async fn test_an_event_committed_after_hundreds_of_later_ones_still_reaches_the_other_node() {
    use tipline_server::push::{PushEvent, PushHub, Received};
    // Given two PostgreSQL nodes, with desks' streams for two units subscribed on node b
    let url = crate::pg::shared().fresh_database();
    let a = PostgresStore::connect(&url).await.unwrap();
    let b = PostgresStore::connect(&url).await.unwrap();
    let (hub_a, hub_b) = (a.push_hub(), b.push_hub());
    let mut busy = hub_b.subscribe("dk-east");
    let mut late = hub_b.subscribe("dk-late");
    let wait = std::time::Duration::from_secs(5);
    let _ = tokio::time::timeout(wait, busy.recv()).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let quiet = std::time::Duration::from_millis(50);
    while tokio::time::timeout(quiet, busy.recv()).await.is_ok() {}
    while tokio::time::timeout(quiet, late.recv()).await.is_ok() {}

    // When one transaction takes an event's number and stays open
    let mut slow = a.pool().begin().await.unwrap();
    sqlx_core::query::query("INSERT INTO push_events (unit_id, created_at, origin) VALUES ('dk-late', 0, 1)")
        .execute(&mut *slow)
        .await
        .unwrap();
    // while 300 later events commit and node b reads them
    sqlx_core::query::query(
        "INSERT INTO push_events (unit_id, created_at, origin) SELECT 'dk-east', 0, 1 FROM generate_series(1, 300)",
    )
    .execute(a.pool())
    .await
    .unwrap();
    hub_a.notify("dk-east", PushEvent::Report);
    // (so many that the stream is told to look again rather than given each)
    let woken = tokio::time::timeout(wait, busy.recv()).await.unwrap();
    assert!(
        matches!(woken, Received::Event(PushEvent::Report) | Received::Lagged),
        "{woken:?}"
    );
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(300), late.recv())
            .await
            .is_err()
    );
    // and then it commits
    slow.commit().await.unwrap();
    hub_a.notify("dk-east", PushEvent::Report);

    // Then node b hands it to the stream it is for
    assert_eq!(
        tokio::time::timeout(wait, late.recv()).await.unwrap(),
        Received::Event(PushEvent::Report)
    );
}

/// Report `n` (up to 65,535) for `unit`, in a case of its own.
fn numbered(n: u16, unit: &str) -> tipline_server::store::NewReport {
    let mut report = new_report(0, unit);
    let [high, low] = n.to_be_bytes();
    report.report_id.0[..2].copy_from_slice(&[high, low]);
    report.case_id.0[..2].copy_from_slice(&[high, low]);
    report.envelope_sha256[..2].copy_from_slice(&[high, low]);
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_concurrent_submissions_on_postgres_share_calls_and_each_gets_its_own_outcome() {
    // Given a PostgreSQL node holding 50 reports, and 400 submissions ready at the same moment:
    // 300 new reports (some with attachments), 50 of them sent twice, and 50 that name the case
    // of a stored report with another secret
    let url = crate::pg::shared().fresh_database();
    let store = std::sync::Arc::new(PostgresStore::connect(&url).await.unwrap());
    for n in 2000..2050u16 {
        store.submit_report(numbered(n, "dk-east")).await.unwrap();
    }
    let make = |n: u16| {
        let report = numbered(n, "dk-east");
        if n % 7 == 0 {
            with_attachments(report, &[10, 0])
        } else {
            report
        }
    };
    let mut submissions: Vec<_> = (0..300u16).chain(0..50).map(make).collect();
    for n in 1000..1050u16 {
        let mut report = numbered(n, "dk-east");
        report.case_id = numbered(n + 1000, "dk-east").case_id;
        report.case_secret_hash = [0xee; 32];
        submissions.push(report);
    }
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(submissions.len()));
    let mut tasks = Vec::new();
    for report in submissions {
        let (store, start) = (std::sync::Arc::clone(&store), std::sync::Arc::clone(&start));
        tasks.push(tokio::spawn(async move {
            let n = u16::from_be_bytes([report.report_id.0[0], report.report_id.0[1]]);
            start.wait().await;
            (n, store.submit_report(report).await.unwrap())
        }));
    }

    // When they all submit
    let mut created = HashSet::new();
    let (mut duplicates, mut conflicts) = (0, 0);
    for task in tasks {
        let (n, outcome) = task.await.unwrap();
        match outcome {
            SubmitOutcome::Created => assert!(created.insert(n), "report {n} created twice"),
            SubmitOutcome::Duplicate { receipt } => {
                // Then a repeat gets the stored receipt
                assert!(n < 50, "report {n} is no repeat");
                assert_eq!(receipt, b"receipt-0");
                duplicates += 1;
            }
            SubmitOutcome::CaseConflict => {
                assert!(n >= 1000, "report {n} is no case conflict");
                conflicts += 1;
            }
            SubmitOutcome::Conflict => panic!("report {n}: conflict"),
        }
    }

    // Then each new report is created once, each repeat is a duplicate, each other secret a
    // conflict, exactly as one by one
    assert_eq!(created, (0..300u16).collect::<HashSet<_>>());
    assert_eq!((duplicates, conflicts), (50, 50));
    assert_eq!(store.stats().await.unwrap().pending_reports, 350);
    let declared = lease(store.as_ref(), "dk-east", 500, 400)
        .await
        .iter()
        .filter(|d| d.attachments.len() == 2)
        .count();
    assert_eq!(declared, 43);
    // And they took far fewer calls to the database than submissions
    let calls = store.intake_calls() - 50;
    assert!(calls < 200, "400 submissions took {calls} calls");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_a_submission_postgres_refuses_fails_alone_in_its_batch() {
    // Given a PostgreSQL node and 100 submissions at once, one of them with a unit id that
    // PostgreSQL cannot store (a NUL character)
    let url = crate::pg::shared().fresh_database();
    let store = std::sync::Arc::new(PostgresStore::connect(&url).await.unwrap());
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(100));
    let mut tasks = Vec::new();
    for n in 0..100u16 {
        let report = numbered(n, if n == 37 { "dk-\0east" } else { "dk-east" });
        let (store, start) = (std::sync::Arc::clone(&store), std::sync::Arc::clone(&start));
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            (n, store.submit_report(report).await)
        }));
    }

    // When they all submit
    for task in tasks {
        let (n, outcome) = task.await.unwrap();
        // Then that one fails with a storage error and every other one is stored
        if n == 37 {
            assert!(outcome.is_err(), "{outcome:?}");
        } else {
            assert_eq!(outcome.unwrap(), SubmitOutcome::Created, "report {n}");
        }
    }
    assert_eq!(store.stats().await.unwrap().pending_reports, 99);
}

#[tokio::test]
async fn test_a_node_cut_off_mid_transaction_does_not_hold_its_locks_for_long() {
    // The node's sessions: ended by PostgreSQL when idle inside a transaction for a minute, and
    // a lock not had in 10 s fails the statement (503) instead of holding a connection.
    let url = crate::pg::shared().fresh_database();
    let node = PostgresStore::connect(&url).await.unwrap();
    let show = |setting: &'static str| {
        let pool = node.pool().clone();
        async move {
            sqlx_core::query_scalar::query_scalar::<_, String>(&format!("SHOW {setting}"))
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(show("idle_in_transaction_session_timeout").await, "1min");
    assert_eq!(show("lock_timeout").await, "10s");
}

#[tokio::test]
async fn test_retention_meeting_a_report_added_to_the_case_it_empties_keeps_the_case_and_goes_on() {
    // Given an acknowledged report past retention, alone in its case
    let url = crate::pg::shared().fresh_database();
    let a = PostgresStore::connect(&url).await.unwrap();
    let b = PostgresStore::connect(&url).await.unwrap();
    a.submit_report(new_report(1, "dk-east")).await.unwrap();
    assert!(a.ack_report("dk-east", report_id(1), at(10)).await.unwrap());
    // and a submission on another node adding a report to that case, not yet committed
    let mut adding = a.pool().begin().await.unwrap();
    sqlx_core::query::query(
        "INSERT INTO reports (report_id, unit_id, case_id, state, received_at, envelope_sha256, receipt, envelope)
         VALUES ($1, 'dk-east', $2, 'queued', 0, $3, $3, $3)",
    )
    .bind(&report_id(2).0[..])
    .bind(&case_id(1).0[..])
    .bind(&[2u8; 32][..])
    .execute(&mut *adding)
    .await
    .unwrap();

    // When retention runs meanwhile (its delete of the case waits for the submission), and the
    // submission commits
    let purge = tokio::spawn(async move { b.purge(at(100), at(100)).await });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    adding.commit().await.unwrap();

    // Then retention still deletes the acknowledged report, and keeps the case and the new one
    assert_eq!(purge.await.unwrap().unwrap(), 1);
    let stats = a.stats().await.unwrap();
    assert_eq!((stats.acknowledged_reports, stats.pending_reports), (0, 1));
    assert!(a.case(case_id(1)).await.unwrap().is_some());
}
