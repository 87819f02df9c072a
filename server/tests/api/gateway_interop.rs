//! Interoperability of both Oblivious HTTP implementations with an independent one (RFC 9458):
//! `server/tests/interop/ohttp_peer.py`, written from the RFC on pyhpke, Python's HKDF and the
//! `cryptography` package's AEADs, apart from the `ohttp` crate (the gateway) and from the core's
//! own encapsulation (the phone's client).
//!
//! - The independent client against the gateway: keys read from the published list, requests
//!   answered as direct ones, the answers opened by the independent side.
//! - The core's client against an independent gateway: requests opened there, its answers opened
//!   by the core, with both symmetric suites.
//! - RFC 9458 appendix A checked by the independent peer on both sides (the core checks it in
//!   `core/src/ohttp/mod.rs`, the `ohttp` crate in its own tests).
//!
//! The peer needs Python with the packages pinned in `server/tests/interop/requirements.txt`:
//! `scripts/test` makes that venv (`target/py-interop`) and names it in `TIPLINE_TEST_PYTHON`.

use std::path::PathBuf;
use std::process::Command;

use axum::http::StatusCode;
use chrono::Utc;
use serde_json::{json, Value};
use tipline_core::api::code;
use tipline_core::ohttp::bhttp::{self, Request as BRequest};
use tipline_core::ohttp::{encapsulate_request, KeyConfig, REQUEST_MEDIA_TYPE, RESPONSE_MEDIA_TYPE};
use tipline_server::gateway::GatewayKeys;
use tipline_server::routes::gateway::{http_date, GATEWAY_PATH};

use crate::support::*;

/// The Python that runs the peer: `TIPLINE_TEST_PYTHON`, else the venv `scripts/test` makes.
fn python() -> PathBuf {
    if let Some(path) = std::env::var_os("TIPLINE_TEST_PYTHON") {
        return path.into();
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/py-interop/bin/python");
    if venv.exists() {
        venv
    } else {
        "python3".into()
    }
}

/// Runs the peer; `Ok(stdout)` or `Err(stderr)` when it refuses.
fn peer(args: &[&str]) -> Result<String, String> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/ohttp_peer.py");
    let out = Command::new(python())
        .arg(script)
        .args(args)
        .output()
        .expect("cannot start Python for the interoperability peer");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stderr.contains("ModuleNotFoundError"),
        "the peer's packages are missing ({stderr}); run scripts/test, or install \
         server/tests/interop/requirements.txt and set TIPLINE_TEST_PYTHON"
    );
    if out.status.success() {
        Ok(String::from_utf8(out.stdout).unwrap().trim().to_owned())
    } else {
        assert_eq!(out.status.code(), Some(2), "the peer failed: {stderr}");
        Err(stderr)
    }
}

fn date() -> Vec<String> {
    vec!["date".into(), http_date(Utc::now())]
}

/// The independent client encapsulates `request` to the first usable key of `list`, the gateway
/// answers, and the independent client opens the answer.
async fn independent_client(env: &Env, list: &[u8], request: Value) -> Value {
    let sent: Value = serde_json::from_str(
        &peer(&["client-encapsulate", &hex::encode(list), &request.to_string()]).unwrap(),
    )
    .unwrap();
    let bytes = hex::decode(sent["request"].as_str().unwrap()).unwrap();
    let reply = env.send(request_of(bytes)).await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.header("content-type"), Some(RESPONSE_MEDIA_TYPE));
    let opened = peer(&[
        "client-open",
        &sent["state"].to_string(),
        &hex::encode(&reply.body),
    ])
    .unwrap();
    serde_json::from_str(&opened).unwrap()
}

fn request_of(bytes: Vec<u8>) -> axum::http::Request<axum::body::Body> {
    request(axum::http::Method::POST, GATEWAY_PATH, REQUEST_MEDIA_TYPE, bytes)
}

fn content(answer: &Value) -> Vec<u8> {
    hex::decode(answer["content"].as_str().unwrap()).unwrap()
}

#[test]
fn test_the_independent_peer_passes_rfc9458_appendix_a_on_both_sides() {
    assert_eq!(peer(&["vectors"]).unwrap(), "ok");
}

#[tokio::test]
async fn test_an_independent_client_and_the_gateway_understand_each_other() {
    // Given a gateway with two live keys, and its published list
    let env = Env::new().await;
    let keys = GatewayKeys::from_ikms(&[(5, [5; 32]), (6, [6; 32])]).unwrap();
    env.state.gateway().set_keys(keys);
    let list = env.send(get(GATEWAY_PATH)).await.body.to_vec();
    // Then the independent side derives the same key configuration from the same key material
    // (RFC 9180 DeriveKeyPair, ChaCha20Poly1305 then AES-128-GCM)
    let own = peer(&["gateway-config", &hex::encode([6u8; 32]), "6", "0003,0001"]).unwrap();
    assert!(
        hex::encode(&list).starts_with(&own),
        "{own} is not first in {}",
        hex::encode(&list)
    );

    // When the independent client reads the configuration through the gateway
    let answer = independent_client(
        &env,
        &list,
        json!({"method": "GET", "scheme": "https", "authority": "intake.example.org",
               "path": "/v1/config", "fields": [date()], "content": ""}),
    )
    .await;
    // Then it opens the direct answer
    assert_eq!(answer["status"], 200);
    assert_eq!(content(&answer), env.send(get("/v1/config")).await.body.to_vec());

    // When it files a report through the gateway
    let filed = env.seal(UNIT);
    let body = serde_json::to_vec(&filed.submission(&[])).unwrap();
    let answer = independent_client(
        &env,
        &list,
        json!({"method": "POST", "scheme": "https", "authority": "intake.example.org",
               "path": "/v1/reports", "content": hex::encode(&body),
               "fields": [date(), ["content-type", "application/json"]]}),
    )
    .await;
    // Then it is accepted with a receipt, and a direct retry finds the same report
    assert_eq!(
        answer["status"],
        201,
        "{}",
        String::from_utf8_lossy(&content(&answer))
    );
    let submitted: Value = serde_json::from_slice(&content(&answer)).unwrap();
    assert_eq!(submitted["report_id"], filed.report_id.to_string());
    let direct = env.send(post_json("/v1/reports", &filed.submission(&[]))).await;
    assert_eq!(direct.status, StatusCode::OK);

    // And an independent encapsulation with one ciphertext byte altered is refused
    let sent: Value = serde_json::from_str(
        &peer(&[
            "client-encapsulate",
            &hex::encode(&list),
            &json!({"method": "GET", "scheme": "https", "authority": "a", "path": "/v1/config",
                    "fields": [date()], "content": ""})
            .to_string(),
        ])
        .unwrap(),
    )
    .unwrap();
    let mut bytes = hex::decode(sent["request"].as_str().unwrap()).unwrap();
    *bytes.last_mut().unwrap() ^= 1;
    let reply = env.send(request_of(bytes)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error(), code::BAD_ENCAPSULATION);
}

#[test]
fn test_the_core_client_and_an_independent_gateway_understand_each_other() {
    let ikm = hex::encode([9u8; 32]);
    // With each symmetric suite the core has: ChaCha20Poly1305 (0x0003), AES-128-GCM (0x0001)
    for aeads in ["0003,0001", "0001"] {
        // Given the independent gateway's key list
        let list = hex::decode(peer(&["gateway-config", &ikm, "3", aeads]).unwrap()).unwrap();
        let config = KeyConfig::decode_list(&list).unwrap().remove(0);
        assert_eq!(config.key_id, 3);
        // When the core encapsulates a request with fields and content
        let fields = vec![
            ("content-type".to_string(), "application/json".to_string()),
            ("tipline-case-secret".to_string(), "c2VjcmV0".to_string()),
        ];
        let content = br#"{"sealed":"AAEC"}"#;
        let inner = bhttp::encode_request(&BRequest {
            method: "POST",
            scheme: "https",
            authority: "intake.example.org",
            path: "/v1/cases/abc/messages",
            fields: &fields,
            content,
        });
        let (bytes, opener) = encapsulate_request(&config, &inner).unwrap();
        assert_eq!(
            u16::from_be_bytes([bytes[5], bytes[6]]),
            u16::from_str_radix(&aeads[..4], 16).unwrap()
        );
        let answer = peer(&["gateway-answer", &ikm, "3", aeads, &hex::encode(&bytes)]).unwrap();
        // Then the independent gateway read exactly that request, and the core opens its answer
        let plain = opener.open(&hex::decode(answer).unwrap()).unwrap();
        let response = bhttp::decode_response(&plain, 1 << 20).unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.field("content-type"), Some("application/json"));
        let echo: Value = serde_json::from_slice(&response.content).unwrap();
        assert_eq!(echo["method"], "POST");
        assert_eq!(echo["authority"], "intake.example.org");
        assert_eq!(echo["path"], "/v1/cases/abc/messages");
        assert_eq!(
            echo["fields"],
            json!([
                ["content-type", "application/json"],
                ["tipline-case-secret", "c2VjcmV0"]
            ])
        );
        assert_eq!(echo["content"], hex::encode(content));

        // And the independent gateway refuses an altered encapsulation, or another key id
        let mut altered = bytes.clone();
        altered[40] ^= 1;
        let refused = peer(&["gateway-answer", &ikm, "3", aeads, &hex::encode(&altered)]);
        assert!(refused.unwrap_err().contains("does not open"));
        let refused = peer(&["gateway-answer", &ikm, "4", aeads, &hex::encode(&bytes)]);
        assert!(refused.unwrap_err().contains("unknown key id"));
    }
}
