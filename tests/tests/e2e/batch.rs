//! The desk takes deliveries in batches: one commit of its store and one batched
//! acknowledgement per batch, the acknowledgement only after the commit; and the receiving loop
//! takes a backlog longer than one batch whole. The envelopes of a batch are opened side by side;
//! one that does not open is not acknowledged, and the others are.

use std::collections::HashSet;
use std::time::Duration;

use tipline_core::desk::{Desk, DeskEvent, DeskStore, InboxOptions, KdfParams};
use tipline_e2e::{citizen_and_desk, Citizen, ServerOptions, TestServer, UNIT};
use tokio::sync::mpsc;

/// Longest the receiving loop may take over the backlog of these tests (debug build).
const LOOP_WAIT: Duration = Duration::from_secs(60);

/// A desk of `UNIT` with its store in `dir` (a cheap key derivation: these are tests).
fn unit_desk(server: &TestServer, dir: &std::path::Path) -> Desk {
    let keys = server.unit_keys(UNIT).unwrap();
    let params = KdfParams {
        memory_kib: 8,
        iterations: 1,
        parallelism: 1,
    };
    let store = DeskStore::open(dir, UNIT, "passphrase", params).unwrap();
    let client = tipline_e2e::desk(server, UNIT).unwrap();
    Desk::new(client, store, keys).unwrap()
}

/// Files `n` reports to `UNIT`; their ids.
async fn file(server: &TestServer, n: usize) -> HashSet<tipline_core::report::ReportId> {
    let citizen = Citizen::connect(server.url()).await.unwrap();
    let unit_key = citizen
        .unit_key(&server.authority().unwrap(), UNIT)
        .await
        .unwrap();
    let pool =
        tipline_e2e::citizen::seal_many(UNIT, &unit_key, citizen.info.stamp_difficulty, n, "batch").unwrap();
    for submission in &pool {
        assert_eq!(citizen.submit(submission).await.unwrap().status, 201);
    }
    pool.iter().map(|s| s.report_id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_a_batch_is_stored_then_acknowledged_in_one_request() {
    // Given one-second leases and 30 reports waiting, leased by the desk in one pull,
    let options = ServerOptions {
        lease_seconds: Some(1),
        ..ServerOptions::default()
    };
    let server = TestServer::start(options).await.unwrap();
    let filed = file(&server, 30).await;
    let dir = tempfile::tempdir().unwrap();
    let desk = unit_desk(&server, dir.path());
    let deliveries = desk.client().pull(100).await.unwrap();
    assert_eq!(deliveries.len(), 30);

    // when the desk takes them as one batch,
    let results = desk.receive_batch(&deliveries, Duration::ZERO).await;

    // then each is received the first time, stored and acknowledged,
    assert_eq!(results.len(), 30);
    for result in &results {
        let received = result.as_ref().unwrap();
        assert!(received.first_time && received.record.acked && received.pending.is_empty());
    }
    let stored = desk.store().reports().unwrap();
    assert_eq!(stored.iter().map(|r| r.report_id).collect::<HashSet<_>>(), filed);
    assert!(stored.iter().all(|r| r.acked));
    // and the server delivers none of them again, even once their leases ended.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, _, other) = citizen_and_desk(&server, UNIT).await.unwrap();
    assert!(other.pull(100).await.unwrap().is_empty());
    // Taking the same batch again (a lost acknowledgement) finds them stored and acknowledges
    // them again.
    let again = desk.receive_batch(&deliveries, Duration::ZERO).await;
    assert!(again
        .iter()
        .all(|r| r.as_ref().is_ok_and(|r| !r.first_time && r.record.acked)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_a_delivery_that_does_not_open_stays_unacknowledged_and_the_rest_of_its_batch_is_taken() {
    // Given one-second leases and 40 reports leased by the desk in one pull, the envelope of
    // the 17th altered on its way (its sealed text no longer opens),
    let options = ServerOptions {
        lease_seconds: Some(1),
        ..ServerOptions::default()
    };
    let server = TestServer::start(options).await.unwrap();
    let filed = file(&server, 40).await;
    let dir = tempfile::tempdir().unwrap();
    let desk = unit_desk(&server, dir.path());
    let mut deliveries = desk.client().pull(100).await.unwrap();
    assert_eq!(deliveries.len(), 40);
    let broken = deliveries[16].report_id;
    let last = deliveries[16].envelope.len() - 1;
    deliveries[16].envelope[last] ^= 1;

    // when the desk takes them as one batch (opened on several tasks),
    let results = desk.receive_batch(&deliveries, Duration::ZERO).await;

    // then the results are in the order of the deliveries: the altered one refused, every other
    // stored and acknowledged as the report it was delivered as,
    assert_eq!(results.len(), 40);
    for (delivery, result) in deliveries.iter().zip(&results) {
        if delivery.report_id == broken {
            assert!(result.is_err());
        } else {
            let received = result.as_ref().unwrap();
            assert_eq!(received.record.report_id, delivery.report_id);
            assert!(received.first_time && received.record.acked);
        }
    }
    let stored: HashSet<_> = desk
        .store()
        .reports()
        .unwrap()
        .iter()
        .map(|r| r.report_id)
        .collect();
    assert_eq!(stored.len(), 39);
    assert!(!stored.contains(&broken) && stored.is_subset(&filed));
    // and only the altered one is delivered again once its lease ended.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let again: Vec<_> = desk
        .client()
        .pull(100)
        .await
        .unwrap()
        .iter()
        .map(|d| d.report_id)
        .collect();
    assert_eq!(again, [broken]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_nothing_is_acknowledged_when_the_desk_store_cannot_commit() {
    // Given one-second leases, 5 reports leased by a desk whose store refuses to write reports,
    let options = ServerOptions {
        lease_seconds: Some(1),
        ..ServerOptions::default()
    };
    let server = TestServer::start(options).await.unwrap();
    let filed = file(&server, 5).await;
    let dir = tempfile::tempdir().unwrap();
    let desk = unit_desk(&server, dir.path());
    {
        let conn = rusqlite::Connection::open(dir.path().join("desk.db")).unwrap();
        conn.execute_batch(
            "CREATE TRIGGER refuse BEFORE INSERT ON reports BEGIN SELECT RAISE(ABORT, 'full'); END;",
        )
        .unwrap();
    }
    let deliveries = desk.client().pull(100).await.unwrap();
    assert_eq!(deliveries.len(), 5);

    // when the desk takes them,
    let results = desk.receive_batch(&deliveries, Duration::ZERO).await;

    // then each fails, nothing is stored, and the server delivers all of them again after
    // their lease: none was acknowledged.
    assert!(results.iter().all(Result::is_err));
    assert!(desk.store().reports().unwrap().is_empty());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let again: HashSet<_> = desk
        .client()
        .pull(100)
        .await
        .unwrap()
        .iter()
        .map(|d| d.report_id)
        .collect();
    assert_eq!(again, filed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_the_receiving_loop_takes_a_backlog_longer_than_a_batch_whole() {
    // Given 250 reports waiting (more than one lease batch and one acknowledgement batch),
    let server = TestServer::start(ServerOptions::default()).await.unwrap();
    let filed = file(&server, 250).await;
    let dir = tempfile::tempdir().unwrap();
    let desk = unit_desk(&server, dir.path());

    // when the desk's receiving loop runs,
    let (events, mut received) = mpsc::channel(64);
    let run = desk.run_inbox(InboxOptions::default(), events, std::future::pending());
    let count = async {
        let mut taken = HashSet::new();
        while taken.len() < filed.len() {
            match tokio::time::timeout(LOOP_WAIT, received.recv()).await {
                Ok(Some(DeskEvent::Received { received, .. })) => {
                    assert!(received.record.acked && received.pending.is_empty());
                    assert!(taken.insert(received.record.report_id), "taken twice");
                }
                Ok(Some(DeskEvent::Refused { reason, .. })) => panic!("refused: {reason}"),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => panic!("the loop stopped after {} reports", taken.len()),
            }
        }
        taken
    };
    let taken = tokio::select! {
        result = run => panic!("the loop ended: {result:?}"),
        taken = count => taken,
    };

    // then it took every report once, each stored and acknowledged.
    assert_eq!(taken, filed);
    assert_eq!(desk.store().reports().unwrap().len(), 250);
    assert!(desk.client().pull(100).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_a_delivery_of_one_report_under_another_reports_id_is_refused() {
    // Given two reports taken and stored by the desk
    let options = ServerOptions {
        lease_seconds: Some(1),
        ..ServerOptions::default()
    };
    let server = TestServer::start(options).await.unwrap();
    file(&server, 2).await;
    let dir = tempfile::tempdir().unwrap();
    let desk = unit_desk(&server, dir.path());
    let deliveries = desk.client().pull(100).await.unwrap();
    assert!(desk
        .receive_batch(&deliveries, Duration::ZERO)
        .await
        .iter()
        .all(Result::is_ok));
    let (a, b) = (&deliveries[0], &deliveries[1]);
    let before = desk.store().report(a.report_id).unwrap().unwrap();

    // When a delivery names the first report's id but carries the second's envelope and case
    let mut forged = a.clone();
    forged.envelope = b.envelope.clone();
    forged.case_id = b.case_id;
    let result = desk.receive_batch(&[forged], Duration::ZERO).await;

    // Then it is refused, and the desk still holds the first report as it was
    assert!(
        result[0].is_err(),
        "{:?}",
        result[0].as_ref().map(|r| r.record.report_id)
    );
    assert_eq!(desk.store().report(a.report_id).unwrap().unwrap(), before);
}
