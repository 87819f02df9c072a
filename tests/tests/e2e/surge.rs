//! A national surge against the real server with its default limits: many devices, each with a
//! case of its own, file 2,000 reports (a tenth with a photo) while other devices poll alerts and their cases at the
//! national rate (100,000 apps every 15 minutes: about 110 requests/s of each). Every report gets
//! its receipt, and nobody meets a 429. And a flood of follow-ups to random cases gets only "no
//! such case" while a genuine reporter's reports go through.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use tipline_core::api::paths;
use tipline_core::codename::CaseKeys;
use tipline_core::encoding::b64;
use tipline_core::envelope::seal_report;
use tipline_core::keys::EncryptionPublicKey;
use tipline_e2e::citizen::sample_report;
use tipline_e2e::{Citizen, ServerOptions, TestServer, UNIT};

/// Reports filed in the surge.
const REPORTS: usize = 2_000;
/// Reports in flight at once (devices submitting at the same moment).
const IN_FLIGHT: usize = 16;
/// Polls per second of each kind (alerts, cases): 100,000 apps / 900 s.
const POLLS_PER_SECOND: u64 = 111;
/// Devices whose cases are polled.
const POLLED_CASES: usize = 200;

/// Of the surge's reports, those that come with a photo (uploaded after the report: a `HEAD` for
/// where the upload stands, then one `PATCH`).
const WITH_PHOTO: usize = 200;
/// A photo's sealed size.
const PHOTO_BYTES: usize = 256 * 1024;

/// A device's report, sealed with its case and declared attachments.
struct Device {
    case: CaseKeys,
    report_id: tipline_core::report::ReportId,
    envelope: tipline_core::envelope::Envelope,
    body: Vec<u8>,
}

/// Seals a report saying `text` for a fresh case, declaring `attachments` sealed sizes.
fn device(unit_key: &EncryptionPublicKey, difficulty: u8, text: &str, attachments: &[u64]) -> Device {
    let (report, case) = sample_report(text).unwrap();
    let sealed = seal_report(&report, UNIT, unit_key).unwrap();
    let bytes = sealed.envelope.to_bytes();
    let stamp = tipline_core::stamp::solve(&tipline_core::crypto::sha256(&bytes), difficulty).unwrap();
    let body = serde_json::to_vec(&tipline_core::api::SubmitReport {
        envelope: bytes,
        case_id: case.case_id,
        case_secret_hash: case.case_secret_hash(),
        attachments: attachments
            .iter()
            .enumerate()
            .map(|(index, &sealed_size)| tipline_core::api::DeclaredAttachment {
                index: index as u16,
                sealed_size,
            })
            .collect(),
        stamp,
    })
    .unwrap();
    Device {
        case,
        report_id: sealed.report_id,
        envelope: sealed.envelope,
        body,
    }
}

/// Files `device`'s report, then uploads its one photo: `HEAD`, then `PATCH` of the whole of it.
async fn file_with_photo(citizen: &Citizen, http: &reqwest::Client, device: Device) -> anyhow::Result<()> {
    citizen.submit_body(device.body.into(), &device.envelope).await?;
    let url = format!("{}{}", citizen.base(), paths::attachment(device.report_id, 0));
    let secret = b64(device.case.case_secret.as_ref());
    let head = http
        .head(&url)
        .header(tipline_core::api::CASE_SECRET_HEADER, &secret)
        .send()
        .await?;
    anyhow::ensure!(head.status() == 204, "HEAD answered {}", head.status());
    let patch = http
        .patch(&url)
        .header(tipline_core::api::CASE_SECRET_HEADER, &secret)
        .header(tipline_core::api::UPLOAD_OFFSET_HEADER, "0")
        .header(
            reqwest::header::CONTENT_TYPE,
            tipline_core::api::CHUNK_CONTENT_TYPE,
        )
        .body(vec![7u8; PHOTO_BYTES])
        .send()
        .await?;
    anyhow::ensure!(patch.status() == 204, "PATCH answered {}", patch.status());
    Ok(())
}

/// What the pollers met.
#[derive(Default)]
struct Tally {
    ok: AtomicUsize,
    limited: AtomicUsize,
    other: AtomicUsize,
}

impl Tally {
    fn count(&self, status: Option<u16>) {
        let counter = match status {
            Some(200) => &self.ok,
            Some(429) => &self.limited,
            _ => &self.other,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Polls `url(n)` for n = 0, 1, 2... at `per_second` until `stop`, each with `secret(n)` as the
/// case secret header if any.
fn poll(
    http: reqwest::Client,
    per_second: u64,
    url: impl Fn(usize) -> (String, Option<String>) + Send + 'static,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(Duration::from_micros(1_000_000 / per_second));
        let mut n = 0;
        while !stop.load(Ordering::Relaxed) {
            ticks.tick().await;
            let (url, secret) = url(n);
            n += 1;
            let mut request = http.get(url);
            if let Some(secret) = secret {
                request = request.header(tipline_core::api::CASE_SECRET_HEADER, secret);
            }
            let tally = Arc::clone(&tally);
            tokio::spawn(async move {
                let status = request.send().await.ok().map(|r| r.status().as_u16());
                tally.count(status);
            });
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_surge_of_2000_reports_with_national_polling_meets_no_429() {
    // Given the server with its default limits (a cheap stamp, so the test measures the
    // server, not the solving),
    let server = TestServer::start(ServerOptions {
        generous_rates: false,
        log: "warn".to_owned(),
        ..ServerOptions::default()
    })
    .await
    .unwrap();
    let citizen = Citizen::connect(server.url()).await.unwrap();
    let unit_key = citizen
        .unit_key(&server.authority().unwrap(), UNIT)
        .await
        .unwrap();
    let difficulty = citizen.info.stamp_difficulty;
    // devices that filed before and now poll their cases,
    let mut polled: Vec<CaseKeys> = Vec::with_capacity(POLLED_CASES);
    for n in 0..POLLED_CASES {
        let earlier = device(&unit_key, difficulty, &format!("earlier report {n}"), &[]);
        citizen
            .submit_body(earlier.body.into(), &earlier.envelope)
            .await
            .unwrap();
        polled.push(earlier.case);
    }
    // and 2,000 reports sealed on 2,000 devices, each opening a case of its own, some with a
    // photo.
    let unit = UNIT.to_owned();
    let (submissions, photos) = tokio::task::spawn_blocking(move || {
        let photos: Vec<Device> = (0..WITH_PHOTO)
            .map(|n| {
                device(
                    &unit_key,
                    difficulty,
                    &format!("surge photo {n}"),
                    &[PHOTO_BYTES as u64],
                )
            })
            .collect();
        let submissions =
            tipline_e2e::citizen::seal_many(&unit, &unit_key, difficulty, REPORTS - WITH_PHOTO, "surge");
        (submissions.unwrap(), photos)
    })
    .await
    .unwrap();

    // When the devices poll alerts and cases at the national rate
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let base = server.url().to_owned();
    let alerts_url = format!("{base}{}?region=DK-84", paths::alerts());
    let alerts = poll(
        http.clone(),
        POLLS_PER_SECOND,
        move |_| (alerts_url.clone(), None),
        Arc::clone(&stop),
        Arc::clone(&tally),
    );
    let cases: Vec<(String, String)> = polled
        .iter()
        .map(|case| {
            (
                format!("{base}{}", paths::case_messages(case.case_id)),
                b64(case.case_secret.as_ref()),
            )
        })
        .collect();
    let case_polls = poll(
        http.clone(),
        POLLS_PER_SECOND,
        move |n| {
            let (url, secret) = &cases[n % cases.len()];
            (url.clone(), Some(secret.clone()))
        },
        Arc::clone(&stop),
        Arc::clone(&tally),
    );
    // while the surge files its reports, as many at once as devices send them
    let started = Instant::now();
    let with_photos = {
        let citizen = citizen.clone();
        tokio::spawn(async move {
            futures_util::stream::iter(photos)
                .map(|device| file_with_photo(&citizen, &http, device))
                .buffer_unordered(IN_FLIGHT / 4)
                .collect::<Vec<anyhow::Result<()>>>()
                .await
        })
    };
    let outcomes: Vec<anyhow::Result<u16>> = futures_util::stream::iter(submissions)
        .map(|submission| {
            let citizen = citizen.clone();
            async move { citizen.submit(&submission).await.map(|accepted| accepted.status) }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    let photo_outcomes = with_photos.await.unwrap();
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    alerts.await.unwrap();
    case_polls.await.unwrap();
    // (the polls still in flight end within their timeout)
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Then every report got a receipt that verifies, within the minute,
    let refused: Vec<String> = outcomes
        .iter()
        .filter_map(|o| match o {
            Ok(201) => None,
            Ok(status) => Some(format!("answered {status}")),
            Err(e) => Some(format!("{e:#}")),
        })
        .chain(
            photo_outcomes
                .iter()
                .filter_map(|o| o.as_ref().err().map(|e| format!("{e:#}"))),
        )
        .collect();
    assert!(
        refused.is_empty(),
        "{} of {REPORTS} reports refused, e.g. {:?}",
        refused.len(),
        refused.first()
    );
    assert!(elapsed < Duration::from_secs(60), "the surge took {elapsed:?}");
    // no poll met a 429 or failed,
    let (ok, limited, other) = (
        tally.ok.load(Ordering::Relaxed),
        tally.limited.load(Ordering::Relaxed),
        tally.other.load(Ordering::Relaxed),
    );
    assert_eq!((limited, other), (0, 0), "{ok} polls answered 200");
    assert!(
        ok as f64 >= elapsed.as_secs_f64() * POLLS_PER_SECOND as f64,
        "{ok} polls in {elapsed:?}"
    );
    // and the surge did not raise the stamp difficulty.
    let after = Citizen::connect(server.url()).await.unwrap();
    assert_eq!(after.info.stamp_difficulty, difficulty);
    eprintln!(
        "surge: {REPORTS} reports ({WITH_PHOTO} with a photo) in {:.1} s ({:.0}/s), {ok} polls, no 429",
        elapsed.as_secs_f64(),
        REPORTS as f64 / elapsed.as_secs_f64()
    );
}

/// Follow-ups posted by the flood: sealed to the unit like real ones, each for a random case.
const FLOOD: usize = 3_000;
/// Flood requests in flight at once.
const FLOOD_IN_FLIGHT: usize = 32;
/// Reports a genuine reporter files during the flood.
const GENUINE: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_follow_up_flood_to_random_cases_leaves_reports_untouched() {
    // Given the server with its default limits, and a genuine reporter's sealed reports
    let server = TestServer::start(ServerOptions {
        generous_rates: false,
        log: "warn".to_owned(),
        ..ServerOptions::default()
    })
    .await
    .unwrap();
    let citizen = Citizen::connect(server.url()).await.unwrap();
    let unit_key = citizen
        .unit_key(&server.authority().unwrap(), UNIT)
        .await
        .unwrap();
    let difficulty = citizen.info.stamp_difficulty;
    let (genuine, flood) = tokio::task::spawn_blocking(move || {
        let genuine =
            tipline_e2e::citizen::seal_many(UNIT, &unit_key, difficulty, GENUINE, "genuine").unwrap();
        let mut rng = tipline_core::crypto::OsRandom::new();
        let flood: Vec<(String, String, Vec<u8>)> = (0..FLOOD)
            .map(|_| {
                let case_id = tipline_core::report::CaseId::random().unwrap();
                let message = tipline_core::message::CaseMessage {
                    case_id,
                    message_id: tipline_core::report::MessageId::random().unwrap(),
                    unit_id: UNIT.to_owned(),
                    text: "flood".to_owned(),
                    sent_at: chrono::Utc::now(),
                };
                let envelope =
                    tipline_core::message::seal_follow_up_with_rng(&message, &unit_key, &mut rng).unwrap();
                let secret = tipline_core::crypto::random::random_array::<32>(&mut rng).unwrap();
                let body = serde_json::to_vec(&tipline_core::api::PostMessage {
                    envelope: envelope.to_bytes(),
                })
                .unwrap();
                (paths::case_messages(case_id), b64(&secret), body)
            })
            .collect();
        (genuine, flood)
    })
    .await
    .unwrap();

    // When an attacker floods follow-ups to random cases
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let base = server.url().to_owned();
    let tally = Arc::new(Tally::default());
    let flooding = {
        let tally = Arc::clone(&tally);
        tokio::spawn(async move {
            futures_util::stream::iter(flood)
                .map(|(path, secret, body)| {
                    let request = http
                        .post(format!("{base}{path}"))
                        .header(tipline_core::api::CASE_SECRET_HEADER, secret)
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(body);
                    async move { request.send().await.ok().map(|r| r.status().as_u16()) }
                })
                .buffer_unordered(FLOOD_IN_FLIGHT)
                .for_each(|status| {
                    // 404 is the answer the flood should get: counted as "ok" here.
                    tally.count(status.map(|s| if s == 404 { 200 } else { s }));
                    async {}
                })
                .await;
        })
    };
    // while the genuine reporter files, one report after another
    let started = Instant::now();
    let mut outcomes = Vec::new();
    for submission in &genuine {
        outcomes.push(citizen.submit(submission).await.map(|a| a.status));
    }
    let genuine_time = started.elapsed();
    flooding.await.unwrap();
    let flood_time = started.elapsed();

    // Then every genuine report got its receipt, none was told to wait,
    for outcome in &outcomes {
        assert_eq!(outcome.as_ref().ok(), Some(&201), "{outcome:?}");
    }
    // and the flood got only "no such case", never a spent budget.
    let (unknown, limited, other) = (
        tally.ok.load(Ordering::Relaxed),
        tally.limited.load(Ordering::Relaxed),
        tally.other.load(Ordering::Relaxed),
    );
    assert_eq!((unknown, limited, other), (FLOOD, 0, 0));
    eprintln!(
        "flood: {FLOOD} follow-ups to random cases in {:.1} s ({:.0}/s), {GENUINE} genuine reports \
         in {:.1} s, all with receipts",
        flood_time.as_secs_f64(),
        FLOOD as f64 / flood_time.as_secs_f64(),
        genuine_time.as_secs_f64()
    );
}
