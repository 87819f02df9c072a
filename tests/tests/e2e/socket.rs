//! A test over a real socket: a citizen submits, a unit's live desk stream receives the report,
//! opens it and acknowledges it; what is not acknowledged comes back after its lease; a retried
//! submission stays one report.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use tipline_core::envelope::{open_report, Envelope};
use tipline_e2e::{citizen_and_desk, live_inbox, next_report, ServerOptions, TestServer, UNIT};

/// Longest a pushed report may take to reach a live desk in these tests (loopback, debug build).
const PUSH_WAIT: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_report_reaches_live_desk_and_ack_ends_its_delivery() {
    // Given a server and a desk of the unit holding its live stream,
    let server = TestServer::start(ServerOptions::default()).await.unwrap();
    let (citizen, unit_key, desk) = citizen_and_desk(&server, UNIT).await.unwrap();
    let mut stream = live_inbox(&desk).await.unwrap();

    // when a citizen submits a sealed report with a solved stamp,
    let submission = citizen
        .seal(UNIT, &unit_key, "A man at the gym hands out propaganda leaflets.")
        .unwrap();
    let submitted = citizen.submit(&submission).await.unwrap();

    // then the server stored it (201) with a receipt for that envelope,
    assert_eq!(submitted.status, 201);
    assert_eq!(submitted.verified.report_id, submission.report_id);
    assert_eq!(submitted.verified.envelope_sha256, submission.envelope.digest());
    // the desk receives it on the stream and opens it,
    let delivered = next_report(&mut stream, PUSH_WAIT)
        .await
        .unwrap()
        .expect("the report is pushed to the live desk");
    assert_eq!(delivered.report_id, submission.report_id);
    assert_eq!(delivered.delivery_count, 1);
    let keys = server.unit_keys(UNIT).unwrap();
    let envelope = Envelope::from_bytes(&delivered.envelope).unwrap();
    let opened = open_report(&envelope, UNIT, &keys.encryption_key()).unwrap();
    assert_eq!(opened.report_id, submission.report_id);
    assert_eq!(opened.report.text, submission.text);
    // and acknowledging it (twice: it is idempotent) leaves nothing to pull.
    desk.ack(delivered.report_id).await.unwrap();
    desk.ack(delivered.report_id).await.unwrap();
    assert!(desk.pull(100).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_desk_connecting_later_gets_what_is_pending() {
    // Given three reports filed while no desk was connected,
    let server = TestServer::start(ServerOptions::default()).await.unwrap();
    let (citizen, unit_key, desk) = citizen_and_desk(&server, UNIT).await.unwrap();
    let mut filed = HashSet::new();
    for i in 0..3 {
        let submission = citizen
            .seal(UNIT, &unit_key, &format!("Pending report {i}"))
            .unwrap();
        assert_eq!(citizen.submit(&submission).await.unwrap().status, 201);
        filed.insert(submission.report_id);
    }

    // when the desk connects its stream,
    let mut stream = live_inbox(&desk).await.unwrap();

    // then it receives all three at once.
    let mut received = HashSet::new();
    while received.len() < filed.len() {
        let delivered = next_report(&mut stream, PUSH_WAIT)
            .await
            .unwrap()
            .expect("pending reports are delivered on connect");
        assert!(received.insert(delivered.report_id), "delivered twice");
    }
    assert_eq!(received, filed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_a_backlog_longer_than_one_batch_reaches_the_live_desk_whole() {
    // Given more reports waiting than one lease batch holds (100),
    let server = TestServer::start(ServerOptions::default()).await.unwrap();
    let (citizen, unit_key, desk) = citizen_and_desk(&server, UNIT).await.unwrap();
    let pool =
        tipline_e2e::citizen::seal_many(UNIT, &unit_key, citizen.info.stamp_difficulty, 250, "backlog")
            .unwrap();
    for submission in &pool {
        assert_eq!(citizen.submit(submission).await.unwrap().status, 201);
    }

    // when the desk connects its stream and takes each report as it comes,
    let mut stream = live_inbox(&desk).await.unwrap();
    let mut received = HashSet::new();
    while received.len() < pool.len() {
        let delivered = next_report(&mut stream, PUSH_WAIT)
            .await
            .unwrap()
            .unwrap_or_else(|| {
                panic!(
                    "the stream stopped after {} of {} reports",
                    received.len(),
                    pool.len()
                )
            });
        desk.ack(delivered.report_id).await.unwrap();
        received.insert(delivered.report_id);
    }

    // then every waiting report came, without waiting for a lease to end.
    let filed: HashSet<_> = pool.iter().map(|s| s.report_id).collect();
    assert_eq!(received, filed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_unacknowledged_report_comes_back_after_its_lease() {
    // Given a server whose deliveries hold for one second, and a live desk,
    let options = ServerOptions {
        lease_seconds: Some(1),
        ..ServerOptions::default()
    };
    let server = TestServer::start(options).await.unwrap();
    let (citizen, unit_key, desk) = citizen_and_desk(&server, UNIT).await.unwrap();
    assert_eq!(citizen.info.lease_seconds, 1);
    let mut stream = live_inbox(&desk).await.unwrap();
    let submission = citizen.seal(UNIT, &unit_key, "Leaflets again.").unwrap();
    citizen.submit(&submission).await.unwrap();
    let first = next_report(&mut stream, PUSH_WAIT)
        .await
        .unwrap()
        .expect("pushed");
    assert_eq!((first.report_id, first.delivery_count), (submission.report_id, 1));

    // when the desk does not acknowledge it,
    // then it is delivered again once the lease ended,
    let again = next_report(&mut stream, PUSH_WAIT)
        .await
        .unwrap()
        .expect("delivered again after the lease");
    assert_eq!((again.report_id, again.delivery_count), (submission.report_id, 2));
    assert!(again.lease_until > first.lease_until);

    // and once acknowledged it does not come back after another lease.
    desk.ack(again.report_id).await.unwrap();
    let none = next_report(&mut stream, Duration::from_millis(2500))
        .await
        .unwrap();
    assert!(none.is_none(), "an acknowledged report came back: {none:?}");
    assert!(desk.pull(100).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_retried_submission_stays_one_report() {
    // Given a live desk,
    let server = TestServer::start(ServerOptions::default()).await.unwrap();
    let (citizen, unit_key, desk) = citizen_and_desk(&server, UNIT).await.unwrap();
    let mut stream = live_inbox(&desk).await.unwrap();

    // when the same submission is sent twice in a row,
    let retried = citizen.seal(UNIT, &unit_key, "Sent, then sent again.").unwrap();
    let first = citizen.submit(&retried).await.unwrap();
    let second = citizen.submit(&retried).await.unwrap();
    // then it is stored once (201, then 200) and both answers carry the first receipt;
    assert_eq!((first.status, second.status), (201, 200));
    assert_eq!(first.receipt, second.receipt);

    // when another one is sent eight times at once,
    let raced = citizen
        .seal(UNIT, &unit_key, "Sent eight times at once.")
        .unwrap();
    let answers = futures_util::future::join_all((0..8).map(|_| citizen.submit(&raced))).await;
    // then exactly one of them stored it and all carry the same receipt;
    let answers: Vec<_> = answers.into_iter().map(Result::unwrap).collect();
    let created = answers.iter().filter(|a| a.status == 201).count();
    assert_eq!(
        created,
        1,
        "statuses: {:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    assert!(answers.iter().all(|a| a.status == 201 || a.status == 200));
    assert!(answers.iter().all(|a| a.receipt == answers[0].receipt));

    // and the desk receives each report exactly once.
    let mut seen: HashMap<_, u32> = HashMap::new();
    while seen.len() < 2 {
        let delivered = next_report(&mut stream, PUSH_WAIT)
            .await
            .unwrap()
            .expect("pushed");
        *seen.entry(delivered.report_id).or_default() += 1;
    }
    while let Some(extra) = next_report(&mut stream, Duration::from_secs(1)).await.unwrap() {
        *seen.entry(extra.report_id).or_default() += 1;
    }
    let expected: HashMap<_, u32> = [(retried.report_id, 1), (raced.report_id, 1)].into();
    assert_eq!(seen, expected);
}
