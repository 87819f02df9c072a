//! Transferring a report and its case to another unit.

use axum::http::{Method, StatusCode};
use serde_json::json;
use tipline_core::encoding::b64;

use crate::support::{Env, OTHER, UNIT};

fn transfer_path(unit: &str, report_id: &str) -> String {
    format!("/v1/units/{unit}/reports/{report_id}/transfer")
}

#[tokio::test]
async fn test_transfer_moves_the_report_and_case_to_the_other_unit() {
    // Given a report the first unit's desk received,
    let env = Env::new().await;
    let filed = env.file(UNIT).await;
    let pulled = env
        .send(env.signed(UNIT, Method::GET, &format!("/v1/units/{UNIT}/inbox"), vec![]))
        .await;
    assert_eq!(pulled.json()["reports"].as_array().unwrap().len(), 1);
    // when the desk transfers it, re-sealed to the other unit,
    let resealed = env.seal_as(OTHER, filed.report_id);
    let body = json!({"to_unit": OTHER, "envelope": b64(&resealed.bytes), "attachments": []});
    let path = transfer_path(UNIT, &filed.report_id.to_string());
    let reply = env.send(env.signed_json(UNIT, Method::POST, &path, &body)).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{:?}", reply.body);
    // then it is in the other unit's inbox with the new envelope,
    let inbox = env
        .send(env.signed(OTHER, Method::GET, &format!("/v1/units/{OTHER}/inbox"), vec![]))
        .await
        .json();
    let reports = inbox["reports"].as_array().unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0]["report_id"], filed.report_id.to_string());
    assert_eq!(reports[0]["envelope"], b64(&resealed.bytes));
    // the other unit holds the case now, and the first one no longer does.
    let messages = |unit: &str| format!("/v1/units/{unit}/cases/{}/messages", filed.case.case_id);
    assert_eq!(
        env.send(env.signed(OTHER, Method::GET, &messages(OTHER), vec![]))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        env.send(env.signed(UNIT, Method::GET, &messages(UNIT), vec![]))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // A second transfer by the first unit finds nothing.
    let reply = env.send(env.signed_json(UNIT, Method::POST, &path, &body)).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.error(), "unknown_report");
}

#[tokio::test]
async fn test_transfer_refuses_mismatches() {
    let env = Env::new().await;
    let filed = env.file(UNIT).await;
    let path = transfer_path(UNIT, &filed.report_id.to_string());
    let env = &env;
    let send = |body: serde_json::Value| {
        let request = env.signed_json(UNIT, Method::POST, &path, &body);
        async move { env.send(request).await }
    };
    // Another report id inside the envelope.
    let other_id = env.seal(OTHER);
    let reply = send(json!({"to_unit": OTHER, "envelope": b64(&other_id.bytes)})).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error(), "envelope_mismatch");
    // Sealed to a unit other than the target.
    let resealed = env.seal_as(OTHER, filed.report_id);
    let reply = send(json!({"to_unit": "dk-national-hotline", "envelope": b64(&resealed.bytes)})).await;
    assert_eq!(reply.error(), "envelope_mismatch");
    // To itself, to an unknown unit, with bad attachments.
    let reply = send(json!({"to_unit": UNIT, "envelope": b64(&resealed.bytes)})).await;
    assert_eq!(reply.error(), "same_unit");
    let reply = send(json!({"to_unit": "xx-nobody", "envelope": b64(&resealed.bytes)})).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.error(), "unknown_unit");
    let reply = send(json!({"to_unit": OTHER, "envelope": b64(&resealed.bytes), "attachments": [{"index": 3, "sealed_size": 1}]})).await;
    assert_eq!(reply.error(), "bad_attachments");
    // Garbage.
    let reply = send(json!({"to_unit": OTHER, "envelope": "AAAA"})).await;
    assert_eq!(reply.error(), "malformed_envelope");
    let reply = send(json!({"to": OTHER})).await;
    assert_eq!(reply.error(), "malformed_json");
}
