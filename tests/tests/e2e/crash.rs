//! Reliability under `kill -9`: the server process is killed with SIGKILL while submissions
//! stream in, restarted on the same data directory, and a desk must then be delivered every
//! report that got a receipt, none twice.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tipline_core::envelope::{open_report, Envelope};
use tipline_core::report::ReportId;
use tipline_e2e::{citizen_and_desk, desk, Citizen, ServerOptions, TestServer, UNIT};

/// Concurrent submitters.
const SUBMITTERS: usize = 4;
/// How long submissions stream in before the kill.
const LOAD_BEFORE_KILL: Duration = Duration::from_millis(1500);
/// Longest the desk may take to pull everything after the restart.
const DRAIN_WAIT: Duration = Duration::from_secs(15);

#[derive(Default)]
struct Tally {
    attempted: Mutex<HashSet<ReportId>>,
    receipted: Mutex<HashSet<ReportId>>,
    failed: AtomicUsize,
}

async fn submit_until_stopped(
    citizen: Citizen,
    unit_key: tipline_core::keys::EncryptionPublicKey,
    worker: usize,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
) {
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let submission = citizen
            .seal(UNIT, &unit_key, &format!("Report {n} of submitter {worker}"))
            .unwrap();
        tally.attempted.lock().unwrap().insert(submission.report_id);
        match citizen.submit(&submission).await {
            // `submit` checked the receipt's signature against the server key and the envelope.
            Ok(_) => {
                tally.receipted.lock().unwrap().insert(submission.report_id);
            }
            Err(_) => {
                tally.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_every_receipted_report_is_delivered_after_kill_9() {
    // Given a server taking a stream of submissions from four concurrent submitters,
    let mut server = TestServer::start(ServerOptions::default()).await.unwrap();
    let (citizen, unit_key, _) = citizen_and_desk(&server, UNIT).await.unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let submitters: Vec<_> = (0..SUBMITTERS)
        .map(|worker| {
            tokio::spawn(submit_until_stopped(
                citizen.clone(),
                unit_key,
                worker,
                Arc::clone(&stop),
                Arc::clone(&tally),
            ))
        })
        .collect();

    // when it is killed with SIGKILL mid-stream
    tokio::time::sleep(LOAD_BEFORE_KILL).await;
    let receipted_before_kill = tally.receipted.lock().unwrap().len();
    server.kill();
    stop.store(true, Ordering::Relaxed);
    for submitter in submitters {
        tokio::time::timeout(Duration::from_secs(15), submitter)
            .await
            .expect("submitters end once the server is gone")
            .unwrap();
    }
    // and restarted on the same data directory,
    server.restart().await.unwrap();
    let restarted = Citizen::connect(server.url()).await.unwrap();
    assert_eq!(
        restarted.info.server_key, citizen.info.server_key,
        "same receipt key after restart"
    );

    // then a desk pulling the inbox is delivered every report that got a receipt,
    let keys = server.unit_keys(UNIT).unwrap();
    let desk = desk(&server, UNIT).unwrap();
    let mut deliveries = Vec::new();
    let deadline = Instant::now() + DRAIN_WAIT;
    loop {
        let batch = desk.pull(100).await.unwrap();
        if batch.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the inbox did not drain within {DRAIN_WAIT:?}"
        );
        for delivered in &batch {
            let envelope = Envelope::from_bytes(&delivered.envelope).unwrap();
            open_report(&envelope, UNIT, &keys.encryption_key()).unwrap();
        }
        deliveries.extend(batch.into_iter().map(|d| d.report_id));
    }
    let attempted = tally.attempted.lock().unwrap().clone();
    let receipted = tally.receipted.lock().unwrap().clone();
    let delivered: HashSet<ReportId> = deliveries.iter().copied().collect();
    let failed = tally.failed.load(Ordering::Relaxed);
    let unreceipted_delivered = delivered.difference(&receipted).count();
    println!(
        "kill -9 under load: attempted {}, receipted {} ({receipted_before_kill} before the kill), \
         failed {failed}, delivered {} distinct in {} deliveries ({unreceipted_delivered} of them \
         without a receipt, their answer lost in the kill)",
        attempted.len(),
        receipted.len(),
        delivered.len(),
        deliveries.len(),
    );
    assert!(
        receipted_before_kill >= 10,
        "too little load to test anything: {receipted_before_kill}"
    );
    let lost: Vec<_> = receipted.difference(&delivered).collect();
    assert!(
        lost.is_empty(),
        "{} receipted reports were lost: {lost:?}",
        lost.len()
    );
    // none twice (the lease is long: nothing was due again while the desk pulled),
    assert_eq!(delivered.len(), deliveries.len(), "a report was delivered twice");
    // and nothing that no submitter sent.
    assert!(delivered.is_subset(&attempted));
}
