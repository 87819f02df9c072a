//! `GET` and `PUT /v1/directory`.

use axum::http::{Method, StatusCode};
use chrono::Utc;
use tipline_core::directory::SignedDirectory;
use tipline_core::keys::SigningKey;

use crate::support::{get, request, Env};

fn put(directory: &SignedDirectory) -> axum::http::Request<axum::body::Body> {
    request(
        Method::PUT,
        "/v1/directory",
        "application/json",
        directory.to_json().unwrap().into_bytes(),
    )
}

#[tokio::test]
async fn test_get_serves_the_signed_directory() {
    let env = Env::new().await;
    let reply = env.send(get("/v1/directory")).await;
    assert_eq!(reply.status, StatusCode::OK);
    let directory = SignedDirectory::from_json(&reply.body).unwrap();
    let verified = directory
        .verify(&env.authority.verifying_key(), Utc::now(), None)
        .unwrap();
    assert_eq!(verified.version(), 1);
}

#[tokio::test]
async fn test_no_directory_is_404() {
    let env = Env::without_directory().await;
    let reply = env.send(get("/v1/directory")).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.error(), "no_directory");
}

#[tokio::test]
async fn test_put_newer_version_publishes_it() {
    // Given directory v1 published, when the authority's v2 is put,
    let env = Env::new().await;
    let reply = env.send(put(&env.directory(2))).await;
    // then it is served and used from then on.
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.json()["version"], 2);
    let served = SignedDirectory::from_json(&env.send(get("/v1/directory")).await.body).unwrap();
    let verified = served
        .verify(&env.authority.verifying_key(), Utc::now(), None)
        .unwrap();
    assert_eq!(verified.version(), 2);
    assert_eq!(env.state.directory().unwrap().version(), 2);
}

#[tokio::test]
async fn test_put_older_or_same_version_is_409() {
    let env = Env::new().await;
    assert_eq!(env.send(put(&env.directory(3))).await.status, StatusCode::OK);
    for version in [2, 3] {
        let reply = env.send(put(&env.directory(version))).await;
        assert_eq!(reply.status, StatusCode::CONFLICT, "v{version}");
        assert_eq!(reply.error(), "stale_version");
    }
    assert_eq!(env.state.directory().unwrap().version(), 3);
}

#[tokio::test]
async fn test_put_signed_by_another_key_is_400() {
    let env = Env::new().await;
    let forged = env.directory_signed_by(9, &SigningKey::generate().unwrap());
    let reply = env.send(put(&forged)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error(), "bad_signature");
    // An altered payload under the authority's key id does not verify either.
    let mut altered = serde_json::to_value(env.directory(9)).unwrap();
    let mut payload = tipline_core::encoding::unb64(altered["payload"].as_str().unwrap()).unwrap();
    let pos = payload.windows(9).position(|w| w == b"\"version\"").unwrap();
    payload[pos + 10] = b'8';
    altered["payload"] = serde_json::json!(tipline_core::encoding::b64(&payload));
    let body = serde_json::to_vec(&altered).unwrap();
    let reply = env
        .send(request(Method::PUT, "/v1/directory", "application/json", body))
        .await;
    assert_eq!(reply.error(), "bad_signature");
    // Garbage is a shape error.
    let reply = env
        .send(request(
            Method::PUT,
            "/v1/directory",
            "application/json",
            b"{}".to_vec(),
        ))
        .await;
    assert_eq!(reply.error(), "malformed_json");
    assert_eq!(env.state.directory().unwrap().version(), 1);
}

#[tokio::test]
async fn test_put_expired_directory_is_400_invalid() {
    let env = Env::new().await;
    let mut source = tipline_core::directory::sample_source().unwrap();
    for unit in &env.units {
        let public = unit.public().unwrap();
        source
            .set_unit_keys(&unit.unit_id, public.encryption_key, public.verifying_key)
            .unwrap();
    }
    let expired = source
        .into_body(
            5,
            Utc::now() - chrono::Duration::days(10),
            chrono::Duration::days(1),
        )
        .unwrap()
        .sign(&env.authority)
        .unwrap();
    let reply = env.send(put(&expired)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error(), "invalid_directory");
    assert!(reply.json()["message"].as_str().unwrap().contains("expired"));
}

fn format_of(body: &[u8], env: &Env) -> (u32, u64) {
    let verified = SignedDirectory::from_json(body)
        .unwrap()
        .verify(&env.authority.verifying_key(), Utc::now(), None)
        .unwrap();
    (verified.format(), verified.version())
}

#[tokio::test]
async fn test_each_app_gets_the_newest_format_it_reads() {
    // Given the authority's directory v1 published in format 1, then the same version in format 2
    let env = Env::new().await;
    let reply = env.send(put(&env.directory_format_2(1))).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    // Then apps that ask for no format (they read only format 1) get format 1, and apps that
    // read format 2 (or a later one) get format 2
    for (query, expected) in [("", 1), ("?format=1", 1), ("?format=2", 2), ("?format=9", 2)] {
        let reply = env.send(get(&format!("/v1/directory{query}"))).await;
        assert_eq!(reply.status, StatusCode::OK, "{query}");
        assert_eq!(format_of(&reply.body, &env), (expected, 1), "{query}");
    }
    // And the server holds the format 2 one, which names the intake
    assert_eq!(env.state.directory().unwrap().format(), 2);
    // And a newer version replaces only its own format
    assert_eq!(
        env.send(put(&env.directory_format_2(2))).await.status,
        StatusCode::OK
    );
    assert_eq!(
        format_of(&env.send(get("/v1/directory")).await.body, &env),
        (1, 1)
    );
    assert_eq!(
        format_of(&env.send(get("/v1/directory?format=2")).await.body, &env),
        (2, 2)
    );
    let stale = env.send(put(&env.directory_format_2(2))).await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    // And an authority that goes back to format 1 alone is not hidden by its older format 2
    assert_eq!(env.send(put(&env.directory(3))).await.status, StatusCode::OK);
    assert_eq!(
        format_of(&env.send(get("/v1/directory?format=2")).await.body, &env),
        (1, 3)
    );
}

#[tokio::test]
async fn test_only_format_2_published_is_what_an_older_app_gets() {
    // Given only a format 2 directory
    let env = Env::without_directory().await;
    assert_eq!(
        env.send(put(&env.directory_format_2(1))).await.status,
        StatusCode::OK
    );
    // Then an app asking for format 1 gets it anyway (and names the format it cannot read)
    assert_eq!(
        format_of(&env.send(get("/v1/directory")).await.body, &env),
        (2, 1)
    );
    // And a format that is not a number is a clear 400
    let reply = env.send(get("/v1/directory?format=two")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error(), "invalid_query");
}
