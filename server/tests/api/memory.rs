//! The memory budget of request bodies: bodies that hold the budget make others wait briefly and
//! then get a fast `503 busy`; the budget comes back once a request is answered.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{Method, StatusCode};
use tower::ServiceExt;

use crate::support::{post_json, request, Env, UNIT};

/// A body that sends `bytes` and then never ends.
fn half_sent(bytes: usize) -> Body {
    let first = futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from(vec![b' '; bytes]))]);
    Body::from_stream(futures_util::StreamExt::chain(
        first,
        futures_util::stream::pending(),
    ))
}

#[tokio::test]
async fn test_half_sent_bodies_cannot_take_the_memory() {
    // Given a server with 64 KiB for bodies, of which a half-sent body holds 63 KiB,
    let env = Env::with_settings(|s| {
        s.body_memory = 64 * 1024;
        s.body_wait = Duration::from_millis(200);
    })
    .await;
    let app = env.app();
    let hog = tokio::spawn(async move {
        let mut request = request(Method::POST, "/v1/reports", "application/json", vec![]);
        *request.body_mut() = half_sent(63 * 1024);
        app.oneshot(request).await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(env.state.body_budget().available() <= 1024);
    // when a genuine reporter files a report (larger than what is left),
    let filed = env.seal(UNIT);
    let started = std::time::Instant::now();
    let reply = env.send(post_json("/v1/reports", &filed.submission(&[]))).await;
    // then it gets a fast 503 `busy`, with a Retry-After, and nothing is stored,
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", reply.body);
    assert_eq!(reply.error(), "busy");
    assert!(reply.header("retry-after").is_some());
    assert!(started.elapsed() < Duration::from_secs(2));
    // and once the half-sent body is gone, the budget is whole again and the report goes in.
    hog.abort();
    let _ = hog.await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(env.state.body_budget().available(), 64 * 1024);
    let reply = env.send(post_json("/v1/reports", &filed.submission(&[]))).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
}

#[tokio::test]
async fn test_answered_requests_give_their_budget_back() {
    // Given a server with a small budget,
    let env = Env::with_settings(|s| s.body_memory = 64 * 1024).await;
    // when many bodies, together far larger than the budget, are answered one after another,
    for _ in 0..60 {
        let filed = env.seal(UNIT);
        let reply = env.send(post_json("/v1/reports", &filed.submission(&[]))).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    }
    // then none of it stays taken.
    assert_eq!(env.state.body_budget().available(), 64 * 1024);
}
