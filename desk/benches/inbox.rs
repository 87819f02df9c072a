//! The desk's targets:
//!
//! - with 10,000 reports stored, the inbox page and a search answer in under 50 ms, measured
//!   (criterion) through the whole router (session, filters over memory, rendering), as a
//!   signed-in officer's browser would ask;
//! - a backlog of 1,000 reports waiting on the intake is taken at least as fast as the intake
//!   accepted them. Measured once, first, against a real `tipline-server` (release, `--dev`, on
//!   loopback, built if need be): the intake's rate is measured in the same run on the same
//!   machine (32 connections sending the 1,000 submissions closed-loop, after a warm-up), then
//!   the web desk's receiving side ([`tipline_desk::receiver`]: the core's loop, the audit log,
//!   the change channel) starts with its store on disk and takes them all. The figure is the
//!   desk's rate over the intake's, from the desk's start to the last report announced (stored,
//!   acknowledged, audited). Then where the desk's time goes, each step timed alone over the
//!   same 1,000 reports. A missed target prints MISS; nothing fails on a figure.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request};
use chrono::{TimeZone, Utc};
use criterion::Criterion;
use http_body_util::BodyExt;
use tipline_core::desk::{Desk, DeskClient, DeskStore, KdfParams, ReportRecord, Status};
use tipline_core::keys::{EncryptionSecretKey, UnitKeyFile};
use tipline_core::report::{CaseId, Person, Place, Precision, Report, ReportId};
use tipline_desk::accounts::{Account, Role};
use tipline_desk::auth::sessions::Stage;
use tipline_desk::{app, AppState, ChangeKind, Config};
use tower::ServiceExt;

const REPORTS: usize = 10_000;
const WORDS: [&str; 24] = [
    "recruiter",
    "youth",
    "club",
    "friday",
    "mosque",
    "gym",
    "telegram",
    "channel",
    "video",
    "propaganda",
    "flag",
    "weapon",
    "travel",
    "syria",
    "school",
    "brother",
    "online",
    "meeting",
    "threat",
    "poster",
    "station",
    "night",
    "group",
    "leaflet",
];
const CATEGORIES: [&str; 5] = [
    "radicalisation",
    "violent_extremism",
    "hate_crime",
    "travel_to_conflict",
    "online_propaganda",
];

/// A small deterministic generator, so every run measures the same reports.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % below
    }
}

fn report(rng: &mut Lcg) -> Report {
    let words = 80 + rng.next(300);
    let text: Vec<&str> = (0..words).map(|_| WORDS[rng.next(WORDS.len())]).collect();
    Report {
        category: CATEGORIES[rng.next(CATEGORIES.len())].into(),
        text: text.join(" "),
        when: None,
        place: Some(
            Place::blur(
                55.0 + rng.next(100) as f64 / 100.0,
                12.0,
                Precision::Neighbourhood,
            )
            .unwrap(),
        ),
        people: vec![Person {
            name: None,
            description: "someone".into(),
        }],
        contact: None,
        language: "da".into(),
        attachments: vec![],
        case_id: CaseId::random().unwrap(),
        reply_key: EncryptionSecretKey::generate().unwrap().public_key(),
    }
}

fn setup() -> (AppState, String, tempfile::TempDir) {
    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    };
    let keys = UnitKeyFile::generate("dk-bench").unwrap();
    let params = KdfParams {
        memory_kib: 8,
        iterations: 1,
        parallelism: 1,
    };
    let store = DeskStore::open(dir.path(), "dk-bench", "passphrase", params).unwrap();
    let mut rng = Lcg(7);
    for i in 0..REPORTS {
        let report = report(&mut rng);
        let record = ReportRecord {
            report_id: ReportId::random().unwrap(),
            case_id: report.case_id,
            received_at: Utc.timestamp_opt(1_790_000_000 + i as i64 * 60, 0).unwrap(),
            stored_at: Utc::now(),
            envelope: "AQ".into(),
            attachments: vec![],
            report,
            status: [Status::New, Status::InProgress, Status::Closed][rng.next(3)],
            acked: true,
            transfer: None,
            last_seq: 0,
        };
        store.put_report(&record).unwrap();
    }
    let client = DeskClient::new("http://127.0.0.1:9", None, Duration::from_secs(1), &keys).unwrap();
    let desk = Desk::new(client, store, keys).unwrap();
    let state = AppState::open(desk, Config::default()).unwrap();
    // A tenth of the reports carry a label.
    let ids: Vec<ReportId> = state
        .store()
        .reports()
        .unwrap()
        .iter()
        .map(|r| r.report_id)
        .collect();
    for id in ids.iter().step_by(10) {
        state.update_case(*id, |c| c.add_label("urgent".into())).unwrap();
    }
    state.report_changed(ids[0], ChangeKind::Report);
    state
        .save_account(Account {
            name: "anna".into(),
            role: Role::Officer,
            password_hash: String::new(),
            totp_secret: None,
            totp_last_step: None,
            disabled: false,
            language: "en".into(),
            created_at: Utc::now(),
            created_by: None,
        })
        .unwrap();
    let session = state
        .sessions
        .start(
            Stage::SignedIn {
                account: "anna".into(),
            },
            state.now(),
        )
        .unwrap();
    (state, session.id, dir)
}

async fn get(router: &axum::Router, path: &str, cookie: &str) -> usize {
    let request = Request::get(path)
        .header(header::HOST, "desk.test")
        .header(header::COOKIE, format!("tipline_desk={cookie}"))
        .body(Body::empty())
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    assert!(response.status().is_success());
    response.into_body().collect().await.unwrap().to_bytes().len()
}

fn inbox(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (state, cookie, _dir) = setup();
    let router = app(state);
    let mut group = c.benchmark_group("inbox_10000_reports");
    for (name, path) in [
        ("first_page", "/"),
        ("search_two_words", "/?q=telegram+syria"),
        ("search_rare_word_prefix", "/?q=leafl"),
        (
            "filter_status_label_category",
            "/?status=in-progress&label=urgent&category=hate_crime",
        ),
        ("sort_by_category", "/?sort=category"),
    ] {
        group.bench_function(name, |b| b.iter(|| runtime.block_on(get(&router, path, &cookie))));
    }
    group.finish();
}

/// Reports in the backlog.
const BACKLOG: usize = 1000;
/// Connections of the intake's closed loop (as `loadgen`'s default).
const CONNECTIONS: usize = 32;
/// How long the desk may take before the measurement gives up.
const DESK_LIMIT: Duration = Duration::from_secs(120);

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}

/// CPU time all threads of process `pid` have used (`/proc/<pid>/task/*/schedstat`, in ns):
/// threads that ended meanwhile are not counted, so read it around a window no thread ends in.
fn cpu_time(pid: u32) -> Duration {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Duration::ZERO;
    };
    let nanos: u64 = tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|line| line.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(nanos)
}

fn per_report(what: &str, elapsed: Duration) {
    println!(
        "    {what:<52} {:>8.1} ms  {:>7.1} us/report",
        elapsed.as_secs_f64() * 1e3,
        elapsed.as_secs_f64() * 1e6 / BACKLOG as f64
    );
}

/// The backlog target, then where the time goes.
async fn backlog() {
    use tipline_desk::audit::{self, AuditEntry};
    use tipline_e2e::citizen::seal_many;
    use tipline_e2e::load::{closed_loop, Load};
    use tipline_e2e::{Citizen, ServerOptions, TestServer, OTHER_UNIT, UNIT};

    println!("backlog: {BACKLOG} reports waiting on the intake, taken by the web desk");
    println!("  load average before: {}", load_average());
    let options = ServerOptions {
        stamp_difficulty: 0,
        log: "warn".into(),
        ..ServerOptions::default()
    };
    let mut server = TestServer::start(options).await.unwrap();
    let citizen = Citizen::connect(server.url()).await.unwrap();
    let authority = server.authority().unwrap();
    let addr = server.url().trim_start_matches("http://").parse().unwrap();
    let send = |pool: &[tipline_e2e::Submission]| Load {
        addr,
        path: "/v1/reports",
        bodies: std::sync::Arc::new(pool.iter().map(|s| s.body.clone()).collect()),
        reuse: false,
        keep_status: Some(201),
    };

    // The intake, warmed up on another unit, then the backlog.
    let other_key = citizen.unit_key(&authority, OTHER_UNIT).await.unwrap();
    let warm = seal_many(OTHER_UNIT, &other_key, 0, 500, "warm-up").unwrap();
    closed_loop(&send(&warm), CONNECTIONS, Duration::from_secs(30))
        .await
        .unwrap();
    let key = citizen.unit_key(&authority, UNIT).await.unwrap();
    let pool = seal_many(UNIT, &key, 0, BACKLOG, "backlog").unwrap();
    let intake = closed_loop(&send(&pool), CONNECTIONS, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(intake.count(201), BACKLOG as u64, "the intake refused reports");
    let intake_rate = intake.rate();
    println!(
        "  intake: {BACKLOG} reports in {:.3} s, {intake_rate:.0} reports/s ({CONNECTIONS} connections)",
        intake.elapsed.as_secs_f64()
    );

    // The web desk, its store on disk as a unit keeps it.
    let dir = tempfile::tempdir().unwrap();
    let keys = server.unit_keys(UNIT).unwrap();
    let params = KdfParams {
        memory_kib: 8,
        iterations: 1,
        parallelism: 1,
    };
    let store = DeskStore::open(dir.path(), UNIT, "backlog", params).unwrap();
    let client = DeskClient::new(server.url(), None, Duration::from_secs(30), &keys).unwrap();
    let desk = Desk::new(client, store, keys).unwrap();
    let state = AppState::open(desk, Config::default()).unwrap();
    let mut changes = state.subscribe();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server_pid = server.process().map(|p| p.pid()).unwrap_or_default();
    let cpu_before = (cpu_time(std::process::id()), cpu_time(server_pid));
    let started = tokio::time::Instant::now();
    let receiving = tipline_desk::receiver::spawn(state.clone(), async {
        let _ = stopped.await;
    });
    let mut taken = std::collections::HashSet::new();
    while taken.len() < BACKLOG {
        match tokio::time::timeout_at(started + DESK_LIMIT, changes.recv()).await {
            Ok(Ok(change)) if change.kind == ChangeKind::Report => {
                taken.insert(change.report);
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("the change channel: {e}"),
            Err(_) => break,
        }
    }
    let desk_elapsed = started.elapsed();
    let cpu_used = (
        cpu_time(std::process::id()).saturating_sub(cpu_before.0),
        cpu_time(server_pid).saturating_sub(cpu_before.1),
    );
    let _ = stop.send(());
    receiving.await.unwrap();

    // What the desk holds: every report stored and acknowledged, each audited once.
    let records = state.store().reports().unwrap();
    let acked = records.iter().filter(|r| r.acked).count();
    let audited = audit::all(state.store())
        .unwrap()
        .iter()
        .filter(|e| e.action == "report.received")
        .count();
    println!(
        "  desk: {} reports announced in {:.3} s; {} stored, {acked} acknowledged, {audited} audited",
        taken.len(),
        desk_elapsed.as_secs_f64(),
        records.len()
    );
    println!(
        "  CPU meanwhile: the desk {:.1} ms ({:.1} us/report), the intake server {:.1} ms ({:.1} us/report), {:.2} cores of {}",
        cpu_used.0.as_secs_f64() * 1e3,
        cpu_used.0.as_secs_f64() * 1e6 / BACKLOG as f64,
        cpu_used.1.as_secs_f64() * 1e3,
        cpu_used.1.as_secs_f64() * 1e6 / BACKLOG as f64,
        (cpu_used.0 + cpu_used.1).as_secs_f64() / desk_elapsed.as_secs_f64().max(1e-9),
        std::thread::available_parallelism().map_or(0, usize::from),
    );
    let desk_rate = taken.len() as f64 / desk_elapsed.as_secs_f64().max(1e-9);
    let ratio = desk_rate / intake_rate.max(1e-9);
    println!(
        "  target: desk backlog / intake = {desk_rate:.0} / {intake_rate:.0} = {ratio:.2} (>= 1.0): {}",
        if ratio >= 1.0 && acked == BACKLOG && audited == BACKLOG {
            "MET"
        } else {
            "MISS"
        }
    );

    // Where the time goes: each step of taking them, alone, over the same reports.
    println!("  each step alone, over the same {BACKLOG} reports:");
    let keys = server.unit_keys(UNIT).unwrap();
    let secret = keys.encryption_key();
    let envelopes: Vec<Vec<u8>> = records
        .iter()
        .map(|r| tipline_core::encoding::unb64(&r.envelope).unwrap())
        .collect();
    let t = std::time::Instant::now();
    for bytes in &envelopes {
        let envelope = tipline_core::envelope::Envelope::from_bytes(bytes).unwrap();
        tipline_core::envelope::open_report(&envelope, UNIT, &secret).unwrap();
    }
    per_report("open (X25519, HPKE open, parse), one core", t.elapsed());
    let refs: Vec<&ReportRecord> = records.iter().collect();
    let t = std::time::Instant::now();
    for batch in refs.chunks(100) {
        state.store().put_reports(batch).unwrap();
    }
    per_report("store: seal and commit, batches of 100", t.elapsed());
    let ids: Vec<ReportId> = records.iter().map(|r| r.report_id).collect();
    let t = std::time::Instant::now();
    for batch in ids.chunks(100) {
        state.desk.client().ack_batch(batch).await.unwrap();
    }
    per_report("acknowledge again, requests of 100", t.elapsed());
    let entries: Vec<AuditEntry> = ids
        .iter()
        .map(|id| AuditEntry::now(None, "bench.audit").target(id.to_string()))
        .collect();
    let t = std::time::Instant::now();
    for entry in &entries {
        state.audit(entry.clone());
    }
    per_report("audit: one commit per report (before)", t.elapsed());
    let t = std::time::Instant::now();
    for batch in entries.chunks(100) {
        state.audit_all(batch);
    }
    per_report("audit: one commit per 100 reports (now)", t.elapsed());
    let t = std::time::Instant::now();
    for id in &ids {
        state.report_changed(*id, ChangeKind::Report);
    }
    state.with_index(|index, _| index.len()).unwrap();
    per_report("announce, and the index reads each again", t.elapsed());
    println!("  load average after: {}", load_average());
}

fn main() {
    // `cargo test --benches` runs each benchmark once, as a test: the backlog is left out.
    if !std::env::args().any(|a| a == "--test" || a == "--list") {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(backlog());
    }
    inbox(&mut Criterion::default().configure_from_args());
    Criterion::default().configure_from_args().final_summary();
}
