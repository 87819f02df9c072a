//! Several intake nodes on one PostgreSQL, as real processes: three `tipline-server`s share a
//! database and a receipt key; submissions are spread across them, the same report is raced to
//! two of them, a desk on node 0 receives everything live and acknowledges through node 2, node
//! 1 is SIGKILLed mid-load and restarted, and PostgreSQL itself is restarted with `pg_ctl
//! restart -m immediate` mid-load. Every report that got a receipt must be delivered, none
//! again after its acknowledgement, and every receipt verifies: each citizen checks it against
//! the key its node announces, which the authority-signed directory names as the intake's.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tipline_core::desk::DeskClient;
use tipline_core::envelope::{open_report, Envelope};
use tipline_core::keys::{EncryptionPublicKey, SigningKey, UnitKeyFile};
use tipline_core::report::ReportId;
use tipline_e2e::postgres::Cluster;
use tipline_e2e::{live_inbox, next_report, Citizen, ServerOptions, TestServer, UNIT};

/// How long each stretch of load runs.
const STRETCH: Duration = Duration::from_millis(1500);
/// Longest the desk may take to be delivered everything after the load.
const DRAIN_WAIT: Duration = Duration::from_secs(40);

#[derive(Default)]
struct Tally {
    attempted: Mutex<HashSet<ReportId>>,
    receipted: Mutex<HashSet<ReportId>>,
    failed: AtomicUsize,
}

#[derive(Default)]
struct DeskLog {
    deliveries: Vec<ReportId>,
    acked: HashSet<ReportId>,
    after_ack: Vec<ReportId>,
    reconnects: usize,
}

/// Submits to `citizen`'s node until `stop`.
async fn submit_until(
    citizen: Citizen,
    unit_key: EncryptionPublicKey,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
) {
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let submission = citizen.seal(UNIT, &unit_key, &format!("Report {n}")).unwrap();
        tally.attempted.lock().unwrap().insert(submission.report_id);
        match citizen.submit(&submission).await {
            // `submit` checked the receipt against the announced receipt key and the envelope.
            Ok(_) => {
                tally.receipted.lock().unwrap().insert(submission.report_id);
            }
            Err(_) => {
                tally.failed.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Load on every node in `citizens` for `stretch`, then stops; with `during` run meanwhile.
async fn load<F: std::future::Future<Output = ()>>(
    citizens: &[Citizen],
    unit_key: EncryptionPublicKey,
    tally: &Arc<Tally>,
    during: F,
) {
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = citizens
        .iter()
        .flat_map(|c| [c.clone(), c.clone()])
        .map(|citizen| {
            tokio::spawn(submit_until(
                citizen,
                unit_key,
                Arc::clone(&stop),
                Arc::clone(tally),
            ))
        })
        .collect();
    during.await;
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        tokio::time::timeout(Duration::from_secs(30), worker)
            .await
            .expect("submitters stop")
            .unwrap();
    }
}

/// The desk: a live stream on node 0, acknowledgements through node 2, reconnecting whenever
/// the stream ends, until `stop`.
async fn desk_loop(
    live: DeskClient,
    acks: DeskClient,
    keys: UnitKeyFile,
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<DeskLog>>,
) {
    while !stop.load(Ordering::Relaxed) {
        let Ok(mut stream) = live_inbox(&live).await else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        log.lock().unwrap().reconnects += 1;
        while !stop.load(Ordering::Relaxed) {
            let delivery = match next_report(&mut stream, Duration::from_millis(300)).await {
                Ok(Some(delivery)) => delivery,
                Ok(None) => continue,
                Err(_) => break,
            };
            let envelope = Envelope::from_bytes(&delivery.envelope).unwrap();
            open_report(&envelope, UNIT, &keys.encryption_key()).unwrap();
            {
                let mut log = log.lock().unwrap();
                if log.acked.contains(&delivery.report_id) {
                    log.after_ack.push(delivery.report_id);
                }
                log.deliveries.push(delivery.report_id);
            }
            // An ack that fails (the database restarting) leaves the report to come again
            // after its lease, which is allowed: it was not acknowledged.
            for _ in 0..20 {
                if acks.ack(delivery.report_id).await.is_ok() {
                    log.lock().unwrap().acked.insert(delivery.report_id);
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_three_nodes_on_one_postgres_deliver_every_receipted_report_once_acknowledged() {
    // Given a PostgreSQL of this test's own, a receipt key shared by the nodes, and three
    // nodes on it (node 0 makes the dev authority and publishes the directory; the others
    // trust that authority)
    let cluster = Arc::new(Cluster::start().unwrap());
    let url = cluster.fresh_database();
    let keys_dir = tempfile::tempdir().unwrap();
    let receipt_key = keys_dir.path().join("receipt.key");
    tipline_server::config::write_signing_key(&receipt_key, &SigningKey::generate().unwrap()).unwrap();
    let shared = |authority: Option<String>| {
        let mut args = vec![
            "--database".to_owned(),
            url.clone(),
            "--receipt-key-file".to_owned(),
            receipt_key.display().to_string(),
            "--metrics-listen".to_owned(),
            "off".to_owned(),
        ];
        if let Some(authority) = authority {
            args.extend(["--authority-key".to_owned(), authority]);
        }
        ServerOptions {
            lease_seconds: Some(5),
            extra_args: args,
            ..ServerOptions::default()
        }
    };
    let node0 = TestServer::start(shared(None)).await.unwrap();
    let authority = tipline_core::encoding::b64(&node0.authority().unwrap().0);
    let mut node1 = TestServer::start(shared(Some(authority.clone()))).await.unwrap();
    let node2 = TestServer::start(shared(Some(authority))).await.unwrap();
    let connect = |url: String| async move { Citizen::connect(&url).await.unwrap() };
    let c0 = connect(node0.url().to_owned()).await;
    let c1 = connect(node1.url().to_owned()).await;
    let c2 = connect(node2.url().to_owned()).await;
    assert_eq!(
        c0.info.server_key, c1.info.server_key,
        "one receipt key across nodes"
    );
    assert_eq!(
        c0.info.server_key, c2.info.server_key,
        "one receipt key across nodes"
    );
    let unit_key = c0.unit_key(&node0.authority().unwrap(), UNIT).await.unwrap();
    // and the signed directory (format 2) names that key among the intake's receipt keys, so
    // that every receipt a citizen checks against its node's key verifies against the directory
    let json = reqwest::get(format!("{}/v1/directory?format=2", node2.url()))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let directory = tipline_core::directory::SignedDirectory::from_json(&json)
        .unwrap()
        .verify(&node0.authority().unwrap(), chrono::Utc::now(), None)
        .unwrap();
    let named = &directory.intake().expect("a format 2 directory").receipt_keys;
    assert!(
        named.contains(&c0.info.server_key),
        "the directory does not name the nodes' receipt key"
    );

    // and a desk live on node 0 that acknowledges through node 2
    let keys = node0.unit_keys(UNIT).unwrap();
    let live = DeskClient::new(node0.url(), None, Duration::from_secs(10), &keys).unwrap();
    let acks = DeskClient::new(node2.url(), None, Duration::from_secs(10), &keys).unwrap();
    let stop_desk = Arc::new(AtomicBool::new(false));
    let log = Arc::new(Mutex::new(DeskLog::default()));
    let desk = tokio::spawn(desk_loop(
        live,
        acks,
        keys,
        Arc::clone(&stop_desk),
        Arc::clone(&log),
    ));
    let tally = Arc::new(Tally::default());

    // When the same report reaches two nodes at the same moment, ten times
    for _ in 0..10 {
        let submission = c1.seal(UNIT, &unit_key, "raced").unwrap();
        let (a, b) = tokio::join!(c1.submit(&submission), c2.submit(&submission));
        let (a, b) = (a.unwrap(), b.unwrap());
        // Then one stored it (201) and the other answers 200 with the same receipt
        let mut statuses = [a.status, b.status];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 201]);
        assert_eq!(format!("{:?}", a.receipt), format!("{:?}", b.receipt));
        tally.attempted.lock().unwrap().insert(submission.report_id);
        tally.receipted.lock().unwrap().insert(submission.report_id);
    }

    // When submissions are spread across the three nodes and node 1 is SIGKILLed mid-load
    let citizens = [c0.clone(), c1.clone(), c2.clone()];
    load(&citizens, unit_key, &tally, async {
        tokio::time::sleep(STRETCH).await;
        node1.kill();
        tokio::time::sleep(STRETCH).await;
    })
    .await;
    let before_restarts = tally.receipted.lock().unwrap().len();
    // and restarted, and PostgreSQL is restarted (-m immediate) while the load goes on
    node1.restart().await.unwrap();
    let c1 = connect(node1.url().to_owned()).await;
    assert_eq!(c1.info.server_key, c0.info.server_key);
    let citizens = [c0.clone(), c1, c2.clone()];
    let pg = Arc::clone(&cluster);
    load(&citizens, unit_key, &tally, async move {
        tokio::time::sleep(STRETCH).await;
        tokio::task::spawn_blocking(move || pg.restart_immediate().unwrap())
            .await
            .unwrap();
        tokio::time::sleep(STRETCH * 2).await;
    })
    .await;

    // Then the desk is delivered every report that got a receipt
    let receipted = tally.receipted.lock().unwrap().clone();
    let attempted = tally.attempted.lock().unwrap().clone();
    let deadline = Instant::now() + DRAIN_WAIT;
    loop {
        let acked = log.lock().unwrap().acked.clone();
        if receipted.is_subset(&acked) {
            break;
        }
        if Instant::now() > deadline {
            let missing = receipted.difference(&acked).count();
            panic!(
                "{missing} of {} receipted reports not delivered and acknowledged within {DRAIN_WAIT:?}\nnode 0:\n{}",
                receipted.len(),
                node0.output()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // and, after a lease's time more, none came again once acknowledged
    tokio::time::sleep(Duration::from_secs(6)).await;
    stop_desk.store(true, Ordering::Relaxed);
    tokio::time::timeout(Duration::from_secs(15), desk)
        .await
        .unwrap()
        .unwrap();
    let log = log.lock().unwrap();
    let delivered: HashSet<ReportId> = log.deliveries.iter().copied().collect();
    println!(
        "three nodes on one PostgreSQL: attempted {}, receipted {} ({before_restarts} before the restarts), \
         failed {}, delivered {} distinct in {} deliveries, stream (re)opened {} times",
        attempted.len(),
        receipted.len(),
        tally.failed.load(Ordering::Relaxed),
        delivered.len(),
        log.deliveries.len(),
        log.reconnects,
    );
    assert!(
        before_restarts >= 30,
        "too little load to test anything: {before_restarts}"
    );
    assert!(
        log.after_ack.is_empty(),
        "delivered again after their ack: {:?}",
        log.after_ack
    );
    assert!(delivered.is_subset(&attempted), "a report no submitter sent");
    assert!(
        log.reconnects >= 2,
        "the desk's stream did not end when PostgreSQL restarted"
    );
}
