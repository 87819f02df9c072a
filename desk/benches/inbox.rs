//! The desk's target: with 10,000 reports stored, the inbox page and a search answer in under
//! 50 ms. Measured through the whole router (session, filters over memory, rendering), as a
//! signed-in officer's browser would ask.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request};
use chrono::{TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
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

criterion_group!(benches, inbox);
criterion_main!(benches);
