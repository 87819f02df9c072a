//! The case conversation, both ways, with cursors.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;
use tipline_core::encoding::{b64, unb64};
use tipline_core::envelope::Envelope;
use tipline_core::message::{open_follow_up, open_reply};

use crate::support::{Env, Filed, Reply, OTHER, UNIT};

fn reporter_post(filed: &Filed, secret: &str, envelope: &Envelope) -> Request<Body> {
    let body = serde_json::to_vec(&json!({"envelope": b64(&envelope.to_bytes())})).unwrap();
    let mut request = crate::support::request(
        Method::POST,
        &format!("/v1/cases/{}/messages", filed.case.case_id),
        "application/json",
        body,
    );
    request
        .headers_mut()
        .insert("tipline-case-secret", secret.parse().unwrap());
    request
}

fn reporter_read(filed: &Filed, secret: &str, query: &str) -> Request<Body> {
    Request::builder()
        .uri(format!("/v1/cases/{}/messages{query}", filed.case.case_id))
        .header("tipline-case-secret", secret)
        .body(Body::empty())
        .unwrap()
}

fn unit_path(unit: &str, filed: &Filed, query: &str) -> String {
    format!("/v1/units/{unit}/cases/{}/messages{query}", filed.case.case_id)
}

fn envelope_of(message: &serde_json::Value) -> Envelope {
    Envelope::from_bytes(&unb64(message["envelope"].as_str().unwrap()).unwrap()).unwrap()
}

async fn unit_post(env: &Env, unit: &str, filed: &Filed, envelope: &Envelope) -> Reply {
    let body = json!({"envelope": b64(&envelope.to_bytes())});
    env.send(env.signed_json(unit, Method::POST, &unit_path(unit, filed, ""), &body))
        .await
}

#[tokio::test]
async fn test_messages_flow_both_ways_with_cursors() {
    // Given a filed report,
    let env = Env::new().await;
    let filed = env.file(UNIT).await;
    let secret = filed.secret();
    // the reporter posts a follow-up (twice: the retry is the same message),
    let follow_up = env.follow_up(&filed, UNIT, "I remembered the car's colour: red.");
    let first = env.send(reporter_post(&filed, &secret, &follow_up)).await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    let again = env.send(reporter_post(&filed, &secret, &follow_up)).await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.json()["seq"], first.json()["seq"]);
    // the unit reads and opens it,
    let read = env
        .send(env.signed(UNIT, Method::GET, &unit_path(UNIT, &filed, "?after=0"), vec![]))
        .await;
    assert_eq!(read.status, StatusCode::OK);
    let page = read.json();
    let messages = page["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["direction"], "to_unit");
    let unit_key = env.unit(UNIT).encryption_key();
    let opened = open_follow_up(&envelope_of(&messages[0]), UNIT, filed.case.case_id, &unit_key).unwrap();
    assert!(opened.text.contains("red"));
    let cursor = page["next"].as_i64().unwrap();
    // and replies;
    let reply = env.reply(&filed, UNIT, "Thank you. Can you tell us when?");
    let posted = unit_post(&env, UNIT, &filed, &reply).await;
    assert_eq!(posted.status, StatusCode::CREATED, "{:?}", posted.body);
    // the reporter reads everything from the start, or only what is new after a cursor,
    let all = env.send(reporter_read(&filed, &secret, "")).await.json();
    assert_eq!(all["messages"].as_array().unwrap().len(), 2);
    let new = env
        .send(reporter_read(&filed, &secret, &format!("?after={cursor}")))
        .await
        .json();
    let new_messages = new["messages"].as_array().unwrap();
    assert_eq!(new_messages.len(), 1);
    assert_eq!(new_messages[0]["direction"], "to_reporter");
    let unit_verifying = env.unit(UNIT).signing_key().unwrap().verifying_key();
    let opened = open_reply(&envelope_of(&new_messages[0]), &filed.case, &unit_verifying).unwrap();
    assert!(opened.text.contains("when"));
    // and nothing after the last cursor.
    let next = new["next"].as_i64().unwrap();
    let empty = env
        .send(reporter_read(&filed, &secret, &format!("?after={next}&limit=5")))
        .await
        .json();
    assert!(empty["messages"].as_array().unwrap().is_empty());
    assert_eq!(empty["next"], next);
}

#[tokio::test]
async fn test_wrong_secret_and_foreign_units_get_404() {
    let env = Env::new().await;
    let filed = env.file(UNIT).await;
    let wrong = b64(&[9; 32]);
    let follow_up = env.follow_up(&filed, UNIT, "hello");
    // A wrong secret looks like no case at all.
    let reply = env.send(reporter_post(&filed, &wrong, &follow_up)).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.error(), "unknown_case");
    assert_eq!(
        env.send(reporter_read(&filed, &wrong, "")).await.status,
        StatusCode::NOT_FOUND
    );
    // A missing secret is a 400.
    assert_eq!(
        env.send(reporter_read(&filed, "", "")).await.error(),
        "bad_case_secret"
    );
    // Another unit can neither read nor post.
    let read = env
        .send(env.signed(OTHER, Method::GET, &unit_path(OTHER, &filed, ""), vec![]))
        .await;
    assert_eq!(read.status, StatusCode::NOT_FOUND);
    let reply = env.reply(&filed, OTHER, "not mine");
    assert_eq!(
        unit_post(&env, OTHER, &filed, &reply).await.status,
        StatusCode::NOT_FOUND
    );
    // Nor can a unit sign in another unit's name.
    let reply = env.reply(&filed, UNIT, "hi");
    let body = json!({"envelope": b64(&reply.to_bytes())});
    let request = env.signed_json(OTHER, Method::POST, &unit_path(UNIT, &filed, ""), &body);
    assert_eq!(env.send(request).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn test_mismatched_envelopes_are_400() {
    let env = Env::new().await;
    let filed = env.file(UNIT).await;
    let secret = filed.secret();
    // A follow-up sealed to a unit that does not hold the case.
    let astray = env.follow_up(&filed, OTHER, "hello");
    let reply = env.send(reporter_post(&filed, &secret, &astray)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error(), "wrong_unit");
    // A reply posted by the reporter, a follow-up posted by the unit.
    let reply_envelope = env.reply(&filed, UNIT, "hi");
    assert_eq!(
        env.send(reporter_post(&filed, &secret, &reply_envelope))
            .await
            .error(),
        "wrong_kind"
    );
    let follow_up = env.follow_up(&filed, UNIT, "hello");
    assert_eq!(
        unit_post(&env, UNIT, &filed, &follow_up).await.error(),
        "wrong_kind"
    );
    // A reply naming another unit.
    let foreign = env.reply(&filed, OTHER, "hi");
    assert_eq!(
        unit_post(&env, UNIT, &filed, &foreign).await.error(),
        "envelope_mismatch"
    );
}
