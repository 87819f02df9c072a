//! Signed unit requests: who may call `/v1/units/{unit_id}/...`.

use axum::http::{Method, StatusCode};
use chrono::Utc;

use crate::support::{signed_request, Env, OTHER, UNIT};

fn inbox(unit: &str) -> String {
    format!("/v1/units/{unit}/inbox")
}

#[tokio::test]
async fn test_a_unit_signed_request_is_accepted() {
    let env = Env::new().await;
    let reply = env
        .send(env.signed(UNIT, Method::GET, &inbox(UNIT), vec![]))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.json()["reports"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn test_missing_or_bad_signature_is_401() {
    let env = Env::new().await;
    // No headers at all.
    let reply = env.send(crate::support::get(&inbox(UNIT))).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.error(), "unauthorized");
    // A signature over another path.
    let key = env.unit(UNIT).signing_key().unwrap();
    let now = Utc::now().timestamp();
    let mut request = signed_request(&key, UNIT, Method::GET, &inbox(UNIT), vec![], now);
    *request.uri_mut() = format!("{}?limit=1", inbox(UNIT)).parse().unwrap();
    assert_eq!(env.send(request).await.status, StatusCode::UNAUTHORIZED);
    // A tampered body.
    let path = format!("/v1/units/{UNIT}/alerts");
    let request = signed_request(&key, UNIT, Method::POST, &path, b"{}".to_vec(), now);
    let (parts, _) = request.into_parts();
    let request = axum::http::Request::from_parts(parts, axum::body::Body::from("{ }"));
    assert_eq!(env.send(request).await.status, StatusCode::UNAUTHORIZED);
    // A signature that is not base64url.
    let mut request = env.signed(UNIT, Method::GET, &inbox(UNIT), vec![]);
    request
        .headers_mut()
        .insert("tipline-signature", "!!!".parse().unwrap());
    assert_eq!(env.send(request).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn test_skewed_timestamp_is_401() {
    let env = Env::new().await;
    let key = env.unit(UNIT).signing_key().unwrap();
    for skew in [-120, 120] {
        let request = signed_request(
            &key,
            UNIT,
            Method::GET,
            &inbox(UNIT),
            vec![],
            Utc::now().timestamp() + skew,
        );
        assert_eq!(
            env.send(request).await.status,
            StatusCode::UNAUTHORIZED,
            "skew {skew}"
        );
    }
    let request = signed_request(
        &key,
        UNIT,
        Method::GET,
        &inbox(UNIT),
        vec![],
        Utc::now().timestamp() - 30,
    );
    assert_eq!(env.send(request).await.status, StatusCode::OK);
}

#[tokio::test]
async fn test_another_units_key_or_claim_is_401() {
    let env = Env::new().await;
    let other_key = env.unit(OTHER).signing_key().unwrap();
    let now = Utc::now().timestamp();
    // Another unit's key, claiming to be this unit.
    let request = signed_request(&other_key, UNIT, Method::GET, &inbox(UNIT), vec![], now);
    assert_eq!(env.send(request).await.status, StatusCode::UNAUTHORIZED);
    // Another unit, honestly signed, reading this unit's inbox.
    let request = signed_request(&other_key, OTHER, Method::GET, &inbox(UNIT), vec![], now);
    assert_eq!(env.send(request).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn test_unknown_unit_is_404() {
    let env = Env::new().await;
    let key = env.unit(UNIT).signing_key().unwrap();
    let request = signed_request(
        &key,
        "xx-nobody",
        Method::GET,
        &inbox("xx-nobody"),
        vec![],
        Utc::now().timestamp(),
    );
    let reply = env.send(request).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.error(), "unknown_unit");
}

#[tokio::test]
async fn test_unit_rate_limit_is_429_per_unit() {
    let env = Env::with_settings(|s| {
        s.rates.unit = tipline_server::limits::Rate::new(1, 2);
    })
    .await;
    for _ in 0..2 {
        assert_eq!(
            env.send(env.signed(UNIT, Method::GET, &inbox(UNIT), vec![]))
                .await
                .status,
            StatusCode::OK
        );
    }
    let reply = env
        .send(env.signed(UNIT, Method::GET, &inbox(UNIT), vec![]))
        .await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(reply.header("retry-after").is_some());
    // Another unit has its own budget, and unsigned requests in a unit's name spend none of it.
    assert_eq!(
        env.send(env.signed(OTHER, Method::GET, &inbox(OTHER), vec![]))
            .await
            .status,
        StatusCode::OK
    );
    let unsigned = env.send(crate::support::get(&inbox(OTHER))).await;
    assert_eq!(unsigned.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        env.send(env.signed(OTHER, Method::GET, &inbox(OTHER), vec![]))
            .await
            .status,
        StatusCode::OK
    );
}

/// `request` twice: the same method, path, headers and body.
fn twice(
    request: axum::http::Request<axum::body::Body>,
    body: &'static [u8],
) -> [axum::http::Request<axum::body::Body>; 2] {
    let (parts, _) = request.into_parts();
    let copy = |parts: &axum::http::request::Parts| {
        let mut builder = axum::http::Request::builder()
            .method(parts.method.clone())
            .uri(parts.uri.clone());
        for (name, value) in &parts.headers {
            builder = builder.header(name, value);
        }
        builder.body(axum::body::Body::from(body)).unwrap()
    };
    [copy(&parts), copy(&parts)]
}

#[tokio::test]
async fn test_a_replayed_request_is_401() {
    // Given a signed request that was served,
    let env = Env::new().await;
    let [first, replay] = twice(env.signed(UNIT, Method::GET, &inbox(UNIT), vec![]), b"");
    assert_eq!(env.send(first).await.status, StatusCode::OK);
    // when the same request (same nonce) comes again within the window,
    let reply = env.send(replay).await;
    // then it is refused as a replay.
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.error(), "unauthorized");
    assert!(
        reply.json()["message"].as_str().unwrap().contains("nonce"),
        "{:?}",
        reply.body
    );
    // A new signature of the same request is served.
    let again = env
        .send(env.signed(UNIT, Method::GET, &inbox(UNIT), vec![]))
        .await;
    assert_eq!(again.status, StatusCode::OK);
}

#[tokio::test]
async fn test_a_v1_signed_request_is_401_saying_v2() {
    // Given a request signed as version 1 (no nonce, no declared digest),
    let env = Env::new().await;
    let key = env.unit(UNIT).signing_key().unwrap();
    let now = Utc::now().timestamp();
    let mut input = format!("tipline request v1\0GET\n{}\n{now}\n", inbox(UNIT)).into_bytes();
    input.extend_from_slice(tipline_core::request_auth::content_sha256(b"").as_bytes());
    let request = axum::http::Request::builder()
        .uri(inbox(UNIT))
        .header("tipline-unit", UNIT)
        .header("tipline-timestamp", now.to_string())
        .header(
            "tipline-signature",
            tipline_core::encoding::b64(&key.sign(&input)),
        )
        .body(axum::body::Body::empty())
        .unwrap();
    // then it is refused with a message that names version 2.
    let reply = env.send(request).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(
        reply.json()["message"]
            .as_str()
            .unwrap()
            .contains("tipline request v2"),
        "{:?}",
        reply.body
    );
}

#[tokio::test]
async fn test_the_signature_is_checked_before_the_body_is_read() {
    // Given a request with made-up signature headers and a body that never ends,
    let env = Env::new().await;
    let mut request = env.signed(
        UNIT,
        Method::POST,
        &format!("/v1/units/{UNIT}/alerts"),
        b"{}".to_vec(),
    );
    request
        .headers_mut()
        .insert("tipline-signature", "AAAA".parse().unwrap());
    let endless = futures_util::stream::pending::<Result<axum::body::Bytes, std::io::Error>>();
    let (parts, _) = request.into_parts();
    let request = axum::http::Request::from_parts(parts, axum::body::Body::from_stream(endless));
    // then it is refused without waiting for the body.
    let reply = tokio::time::timeout(std::time::Duration::from_secs(2), env.send(request))
        .await
        .expect("answered before the body");
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn test_a_body_that_is_not_the_declared_one_is_401() {
    // Given a validly signed request whose body is swapped for another,
    let env = Env::new().await;
    let path = format!("/v1/units/{UNIT}/alerts");
    let request = env.signed(UNIT, Method::POST, &path, b"{}".to_vec());
    let (parts, _) = request.into_parts();
    let request = axum::http::Request::from_parts(parts, axum::body::Body::from("{ }"));
    // then it is refused, saying the body does not match its digest.
    let reply = env.send(request).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(
        reply.json()["message"]
            .as_str()
            .unwrap()
            .contains("tipline-content-sha256"),
        "{:?}",
        reply.body
    );
}
