//! Attacks made of well-formed HTTP requests: made-up methods, follow-ups to random cases, a
//! replayed signed unit request, and uploads that try to fill the disk. Outcomes are the
//! answers' statuses and error codes (`"404 not_found"`), prefixed with the step where an attack
//! has several.

use std::time::Duration;

use futures_util::StreamExt as _;
use tipline_core::api::{self, paths};
use tipline_core::codename::CaseKeys;
use tipline_core::encoding::b64;
use tipline_core::report::{CaseId, ReportId};

use super::{Tally, Target, REPORT_ATTACHMENTS, STORAGE_BUDGET};
use crate::citizen::sample_report;
use crate::UNIT;

/// Follow-up envelopes sealed for a flood (each sent to many random cases).
const SEALED_FOLLOW_UPS: usize = 100;
/// An upload chunk of the disk-filling attack (the chunk route's limit).
const CHUNK: usize = 1024 * 1024;

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a client with a timeout builds")
}

/// `"<status> <error code>"` of an answer (the code read from its JSON body, if any).
async fn outcome(answer: reqwest::Result<reqwest::Response>) -> String {
    match answer {
        Ok(response) => {
            let status = response.status().as_u16();
            let body = response.bytes().await.unwrap_or_default();
            let code = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_owned))
                .unwrap_or_default();
            format!("{status} {code}").trim_end().to_owned()
        }
        Err(e) if e.is_timeout() => "timed out".to_owned(),
        Err(_) => "connection failed".to_owned(),
    }
}

/// A made-up method: 5 to 12 capital letters, or every 50th one 4,000 of them.
fn made_up_method(n: usize) -> String {
    let mut rng = tipline_core::crypto::OsRandom::new();
    let len = if n % 50 == 49 { 4_000 } else { 5 + n % 8 };
    let seed = tipline_core::crypto::random::random_array::<32>(&mut rng).unwrap_or([7; 32]);
    (0..len)
        .map(|i| char::from(b'A' + seed[i % 32].wrapping_add((i / 32) as u8) % 26))
        .collect()
}

/// `scale.requests` requests with made-up methods to real and unknown routes (expected: `405
/// method_not_allowed` or `404 not_found`); then, if the server serves metrics, whether any of
/// those methods shows in `/metrics` (`"metrics show a made-up method"`, expected never) and
/// whether the text grew past 64 KiB (`"metrics grew"`, expected never).
pub async fn made_up_methods(target: Target, requests: usize, in_flight: usize) -> Tally {
    let http = http();
    let routes = ["/healthz", "/v1/reports", "/v1/config", "/v1/nowhere"];
    let sent: Vec<(String, String)> = futures_util::stream::iter(0..requests)
        .map(|n| {
            let method = made_up_method(n);
            let url = format!("{}{}", target.url, routes[n % routes.len()]);
            let request = reqwest::Method::from_bytes(method.as_bytes()).map(|m| http.request(m, url).send());
            async move {
                match request {
                    Ok(sending) => (method, outcome(sending.await).await),
                    Err(_) => (method, "not sent".to_owned()),
                }
            }
        })
        .buffer_unordered(in_flight)
        .collect()
        .await;
    let mut tally = Tally::default();
    for (_, outcome) in &sent {
        tally.count(outcome.clone());
    }
    if let Some(metrics_url) = &target.metrics_url {
        // The text is rendered at most every second in these tests: wait for one made after.
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        match http.get(metrics_url).send().await {
            Ok(response) => {
                let text = response.text().await.unwrap_or_default();
                let upper = text.to_ascii_uppercase();
                if sent.iter().any(|(method, _)| upper.contains(method.as_str())) {
                    tally.count("metrics show a made-up method");
                }
                if text.len() > 64 * 1024 {
                    tally.count("metrics grew");
                }
            }
            Err(_) => tally.count("metrics unreachable"),
        }
    }
    tally
}

/// `requests` follow-ups sealed to the unit, each to a random case with a random secret
/// (expected: `404 not_found` for every one, and no `429`).
pub async fn follow_up_flood(target: Target, requests: usize, in_flight: usize) -> Tally {
    let unit_key = target.unit_key;
    let sealed = tokio::task::spawn_blocking(move || {
        let mut rng = tipline_core::crypto::OsRandom::new();
        (0..SEALED_FOLLOW_UPS)
            .filter_map(|_| {
                let message = tipline_core::message::CaseMessage {
                    case_id: CaseId::random().ok()?,
                    message_id: tipline_core::report::MessageId::random().ok()?,
                    unit_id: UNIT.to_owned(),
                    text: "flood".to_owned(),
                    sent_at: chrono::Utc::now(),
                };
                let envelope =
                    tipline_core::message::seal_follow_up_with_rng(&message, &unit_key, &mut rng).ok()?;
                serde_json::to_vec(&api::PostMessage {
                    envelope: envelope.to_bytes(),
                })
                .ok()
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    if sealed.is_empty() {
        let mut tally = Tally::default();
        tally.count("could not seal");
        return tally;
    }
    let http = http();
    let outcomes: Vec<String> = futures_util::stream::iter(0..requests)
        .map(|n| {
            let body = sealed[n % sealed.len()].clone();
            let (case, secret) = (
                CaseId::random(),
                tipline_core::crypto::random::random_array::<32>(&mut tipline_core::crypto::OsRandom::new()),
            );
            let request = match (case, secret) {
                (Ok(case), Ok(secret)) => Some(
                    http.post(format!("{}{}", target.url, paths::case_messages(case)))
                        .header(api::CASE_SECRET_HEADER, b64(&secret))
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(body),
                ),
                _ => None,
            };
            async move {
                match request {
                    Some(request) => outcome(request.send().await).await,
                    None => "no randomness".to_owned(),
                }
            }
        })
        .buffer_unordered(in_flight)
        .collect()
        .await;
    let mut tally = Tally::default();
    for o in outcomes {
        tally.count(o);
    }
    tally
}

/// A signed request of the unit, sent as signed (`first: 200`) and then played again
/// `requests` times, `in_flight` at once (`replay: 401 unauthorized` each); and another one
/// sent 16 times at once before the server saw it (`race: 200` once, `race: 401 unauthorized`
/// for the others).
pub async fn replayed_unit_request(target: Target, requests: usize, in_flight: usize) -> Tally {
    let http = http();
    let path = format!("{}?limit=1", paths::unit_inbox(UNIT));
    let signed = |path: &str| {
        tipline_core::request_auth::sign_request(
            &target.unit_signing,
            "GET",
            path,
            chrono::Utc::now().timestamp(),
            b"",
        )
        .map(|signature| signature.headers(UNIT))
    };
    let send = |headers: &[(&'static str, String); 5]| {
        let mut request = http.get(format!("{}{path}", target.url));
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        request.send()
    };
    let mut tally = Tally::default();
    let (Ok(first), Ok(raced)) = (signed(&path), signed(&path)) else {
        tally.count("cannot sign");
        return tally;
    };
    tally.count(format!("first: {}", outcome(send(&first).await).await));
    let replays: Vec<String> = futures_util::stream::iter(0..requests)
        .map(|_| async { format!("replay: {}", outcome(send(&first).await).await) })
        .buffer_unordered(in_flight)
        .collect()
        .await;
    let race: Vec<String> = futures_util::future::join_all(
        (0..16).map(|_| async { format!("race: {}", outcome(send(&raced).await).await) }),
    )
    .await;
    for o in replays.into_iter().chain(race) {
        tally.count(o);
    }
    tally
}

/// A report of a fresh case that declares one attachment of `declared` sealed bytes, stamped
/// at `difficulty`: its case keys, id and `POST /v1/reports` body.
fn report_with_attachment(
    target: &Target,
    difficulty: u8,
    declared: u64,
) -> anyhow::Result<(CaseKeys, ReportId, Vec<u8>)> {
    let (report, case) = sample_report("an upload that fills the disk")?;
    let sealed = tipline_core::envelope::seal_report(&report, UNIT, &target.unit_key)?;
    let bytes = sealed.envelope.to_bytes();
    let stamp = tipline_core::stamp::solve(&tipline_core::crypto::sha256(&bytes), difficulty)
        .ok_or_else(|| anyhow::anyhow!("no stamp"))?;
    let body = serde_json::to_vec(&api::SubmitReport {
        envelope: bytes,
        case_id: case.case_id,
        case_secret_hash: case.case_secret_hash(),
        attachments: vec![api::DeclaredAttachment {
            index: 0,
            sealed_size: declared,
        }],
        stamp,
    })?;
    Ok((case, sealed.report_id, body))
}

/// Tries to fill the disk through anonymous uploads, on a server with a small storage budget:
/// a report that declares more attachments than one report may (`over-declared: 400
/// bad_attachments`); then reports that each declare the most one report may and upload it in
/// 1 MiB chunks (`chunk: 204`), one chunk past what was declared (`past declared: 400
/// too_long`), until the attachments' share of the storage budget is spent (`chunk: 507
/// storage_full`, `report: 507 storage_full`). Bounded: at most twice as many reports as the
/// budget holds.
pub async fn disk_fill(target: Target) -> Tally {
    let http = http();
    let mut tally = Tally::default();
    let difficulty = target.citizen.info.stamp_difficulty;
    let reports_url = format!("{}{}", target.url, paths::reports());
    let post = |body: Vec<u8>| {
        http.post(&reports_url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
    };
    let seal = |declared: u64| {
        let target = target.clone();
        tokio::task::spawn_blocking(move || report_with_attachment(&target, difficulty, declared))
    };
    match seal(REPORT_ATTACHMENTS + 1).await {
        Ok(Ok((_, _, body))) => tally.count(format!("over-declared: {}", outcome(post(body).await).await)),
        _ => tally.count("cannot seal"),
    }
    let chunk = vec![0x5au8; CHUNK];
    let most_reports = (STORAGE_BUDGET / REPORT_ATTACHMENTS * 2) as usize;
    let mut full = 0;
    for _ in 0..most_reports {
        let Ok(Ok((case, report_id, body))) = seal(REPORT_ATTACHMENTS).await else {
            tally.count("cannot seal");
            break;
        };
        let filed = outcome(post(body).await).await;
        tally.count(format!("report: {filed}"));
        if !filed.starts_with("201") {
            full += 1;
            if full >= 3 {
                break;
            }
            continue;
        }
        let url = format!("{}{}", target.url, paths::attachment(report_id, 0));
        let secret = b64(case.case_secret.as_ref());
        let mut offset = 0u64;
        // Every chunk the declaration holds, and one more.
        while offset <= REPORT_ATTACHMENTS {
            let answer = http
                .patch(&url)
                .header(api::CASE_SECRET_HEADER, &secret)
                .header(api::UPLOAD_OFFSET_HEADER, offset.to_string())
                .header(reqwest::header::CONTENT_TYPE, api::CHUNK_CONTENT_TYPE)
                .body(chunk.clone())
                .send()
                .await;
            let step = if offset == REPORT_ATTACHMENTS {
                "past declared"
            } else {
                "chunk"
            };
            let answered = outcome(answer).await;
            tally.count(format!("{step}: {answered}"));
            if !answered.starts_with("204") {
                break;
            }
            offset += CHUNK as u64;
        }
        if tally.of("chunk: 507 storage_full") >= 3 {
            break;
        }
    }
    tally
}
