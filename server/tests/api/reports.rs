//! `POST /v1/reports`: intake, receipts, idempotency and every refusal.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use tipline_core::encoding::{b64, unb64_array};
use tipline_core::keys::VerifyingKey;
use tipline_core::receipt::SignedReceipt;
use tipline_server::limits::{max_sealed_attachment, ENVELOPE_BODY_BYTES};

use crate::support::{get, post_json, request, Env, OTHER, UNIT};

async fn server_key(env: &Env) -> VerifyingKey {
    let config = env.send(get("/v1/config")).await.json();
    VerifyingKey(unb64_array(config["server_key"].as_str().unwrap()).unwrap())
}

fn receipt(body: &Value) -> SignedReceipt {
    serde_json::from_value(body["receipt"].clone()).unwrap()
}

#[tokio::test]
async fn test_submit_report_returns_a_receipt_that_verifies() {
    // Given a sealed report with a solved stamp,
    let env = Env::new().await;
    let filed = env.seal(UNIT);
    // when it is submitted,
    let reply = env.send(post_json("/v1/reports", &filed.submission(&[]))).await;
    // then it is stored, and the receipt names exactly that envelope under the server's key.
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let body = reply.json();
    assert_eq!(body["report_id"], filed.report_id.to_string());
    let signed = receipt(&body);
    let verified = signed.verify(&server_key(&env).await, &filed.envelope).unwrap();
    assert_eq!(verified.report_id, filed.report_id);
    assert_eq!(env.state.store().stats().await.unwrap().pending_reports, 1);
}

#[tokio::test]
async fn test_retry_returns_the_same_receipt_and_another_envelope_conflicts() {
    // Given a stored report,
    let env = Env::new().await;
    let filed = env.seal(UNIT);
    let first = env.send(post_json("/v1/reports", &filed.submission(&[]))).await;
    assert_eq!(first.status, StatusCode::CREATED);
    // when the device retries the same envelope, it gets 200 and the first receipt;
    let again = env.send(post_json("/v1/reports", &filed.submission(&[]))).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(receipt(&again.json()), receipt(&first.json()));
    receipt(&again.json())
        .verify(&server_key(&env).await, &filed.envelope)
        .unwrap();
    // and another envelope under the same report id is refused.
    let impostor = env.seal_as(UNIT, filed.report_id);
    let reply = env
        .send(post_json("/v1/reports", &impostor.submission(&[])))
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.error(), "report_id_conflict");
    assert_eq!(env.state.store().stats().await.unwrap().pending_reports, 1);
}

#[tokio::test]
async fn test_case_id_taken_by_another_secret_conflicts() {
    let env = Env::new().await;
    let first = env.file(UNIT).await;
    // Given a second report claiming the first one's case id with another secret,
    let second = env.seal(UNIT);
    let mut body = second.submission(&[]);
    body["case_id"] = json!(first.case.case_id.to_string());
    // then it is refused and nothing is stored.
    let reply = env.send(post_json("/v1/reports", &body)).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.error(), "case_conflict");
    assert_eq!(env.state.store().stats().await.unwrap().pending_reports, 1);
}

#[tokio::test]
async fn test_oversized_body_is_413() {
    let env = Env::new().await;
    let body = json!({"envelope": "A".repeat(ENVELOPE_BODY_BYTES + 1)});
    let reply = env.send(post_json("/v1/reports", &body)).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.error(), "too_large");
}

#[tokio::test]
async fn test_wrong_content_type_is_415() {
    let env = Env::new().await;
    let filed = env.seal(UNIT);
    let body = serde_json::to_vec(&filed.submission(&[])).unwrap();
    let reply = env
        .send(request(Method::POST, "/v1/reports", "text/plain", body))
        .await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(reply.error(), "unsupported_media_type");
}

#[tokio::test]
async fn test_malformed_json_and_envelope_are_400() {
    let env = Env::new().await;
    // Not JSON at all.
    let reply = env
        .send(request(
            Method::POST,
            "/v1/reports",
            "application/json",
            b"{not json".to_vec(),
        ))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error(), "malformed_json");
    // JSON of the wrong shape.
    let reply = env.send(post_json("/v1/reports", &json!({"envelope": 5}))).await;
    assert_eq!(reply.error(), "malformed_json");
    // An envelope that does not frame.
    let filed = env.seal(UNIT);
    let mut body = filed.submission(&[]);
    body["envelope"] = json!(b64(&filed.bytes[..40]));
    let reply = env.send(post_json("/v1/reports", &body)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error(), "malformed_envelope");
    // A follow-up is not a report.
    let follow_up = env.follow_up(&filed, UNIT, "more");
    body["envelope"] = json!(b64(&follow_up.to_bytes()));
    body["stamp"] =
        json!(tipline_core::stamp::solve(&follow_up.digest(), crate::support::DIFFICULTY).unwrap());
    let reply = env.send(post_json("/v1/reports", &body)).await;
    assert_eq!(reply.error(), "wrong_kind");
}

#[tokio::test]
async fn test_unknown_unit_is_404() {
    // Given a report sealed to a unit the directory does not list,
    let env = Env::new().await;
    let mut filed = env.seal(UNIT);
    filed.envelope.unit_id = "xx-nobody".to_owned();
    filed.bytes = filed.envelope.to_bytes();
    let reply = env.send(post_json("/v1/reports", &filed.submission(&[]))).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.error(), "unknown_unit");
}

#[tokio::test]
async fn test_bad_attachments_are_400() {
    let env = Env::new().await;
    let filed = env.seal(UNIT);
    let max = max_sealed_attachment();
    let too_many: Vec<(u16, u64)> = (0..11).map(|i| (i, 100)).collect();
    for attachments in [
        vec![(1, 100)],
        vec![(0, 100), (0, 100)],
        vec![(0, max + 1)],
        too_many,
    ] {
        let reply = env
            .send(post_json("/v1/reports", &filed.submission(&attachments)))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{attachments:?}");
        assert_eq!(reply.error(), "bad_attachments");
    }
    let reply = env
        .send(post_json("/v1/reports", &filed.submission(&[(0, 10), (1, max)])))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
}

#[tokio::test]
async fn test_bad_stamp_is_403() {
    let env = Env::new().await;
    let filed = env.seal(UNIT);
    let digest = filed.envelope.digest();
    let bad = (0..)
        .find(|n| !tipline_core::stamp::verify(&digest, crate::support::DIFFICULTY, *n))
        .unwrap();
    let mut body = filed.submission(&[]);
    body["stamp"] = json!(bad);
    let reply = env.send(post_json("/v1/reports", &body)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.error(), "bad_stamp");
    // A stamp solved for another envelope does not carry over.
    let other = env.seal(OTHER);
    body["stamp"] = other.submission(&[])["stamp"].clone();
    if !tipline_core::stamp::verify(
        &digest,
        crate::support::DIFFICULTY,
        body["stamp"].as_u64().unwrap(),
    ) {
        let reply = env.send(post_json("/v1/reports", &body)).await;
        assert_eq!(reply.error(), "bad_stamp");
    }
}

#[tokio::test]
async fn test_rate_limit_is_429_with_retry_after() {
    // Given a server that takes one report per minute,
    let env = Env::with_settings(|s| {
        s.rates.reports = tipline_server::limits::Rate::new(1, 1);
    })
    .await;
    env.file(UNIT).await;
    // when a second report comes at once,
    let reply = env
        .send(post_json("/v1/reports", &env.seal(UNIT).submission(&[])))
        .await;
    // then it is told to come back later.
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.error(), "rate_limited");
    let retry: u64 = reply.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    // Rejections are counted by code.
    let metrics = env.metrics().await;
    let text = String::from_utf8(metrics.body.to_vec()).unwrap();
    assert!(
        text.contains("outcome=\"rejected\",code=\"rate_limited\""),
        "{text}"
    );
}
