//! The Oblivious HTTP gateway: requests encapsulated by the core's client side are opened and
//! answered exactly as direct ones; refusals of unknown and retired keys, altered and replayed
//! encapsulations, oversize bodies and stale dates; and interoperability with the `ohttp`
//! crate's client.

use axum::http::{Method, StatusCode};
use chrono::Utc;
use tipline_core::api::code;
use tipline_core::ohttp::bhttp::{self, Request as BRequest};
use tipline_core::ohttp::{
    encapsulate_request, KeyConfig, ResponseOpener, REQUEST_MEDIA_TYPE, RESPONSE_MEDIA_TYPE,
};
use tipline_server::gateway::GatewayKeys;
use tipline_server::routes::gateway::{http_date, GATEWAY_PATH, MAX_REQUEST_BYTES};

use crate::support::*;

fn with_keys(env: &Env, ids: &[u8]) -> Vec<KeyConfig> {
    let ikms: Vec<(u8, [u8; 32])> = ids.iter().map(|id| (*id, [*id; 32])).collect();
    let keys = GatewayKeys::from_ikms(&ikms).unwrap();
    let list = KeyConfig::decode_list(keys.encoded_list()).unwrap();
    env.state.gateway().set_keys(keys);
    list
}

fn inner(method: &str, path: &str, fields: &[(String, String)], content: &[u8]) -> Vec<u8> {
    let mut fields = fields.to_vec();
    if !fields.iter().any(|(n, _)| n == "date") {
        fields.push(("date".into(), http_date(Utc::now())));
    }
    bhttp::encode_request(&BRequest {
        method,
        scheme: "https",
        authority: "intake.example.org",
        path,
        fields: &fields,
        content,
    })
}

fn post_encapsulated(bytes: Vec<u8>) -> axum::http::Request<axum::body::Body> {
    request(Method::POST, GATEWAY_PATH, REQUEST_MEDIA_TYPE, bytes)
}

/// Sends `inner` encapsulated to `config` and opens the answer.
async fn oblivious(env: &Env, config: &KeyConfig, inner: &[u8]) -> bhttp::Response {
    let (bytes, opener) = encapsulate_request(config, inner).unwrap();
    open(env.send(post_encapsulated(bytes)).await, opener)
}

fn open(reply: Reply, opener: ResponseOpener) -> bhttp::Response {
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.header("content-type"), Some(RESPONSE_MEDIA_TYPE));
    let plain = opener.open(&reply.body).unwrap();
    bhttp::decode_response(&plain, 64 * 1024 * 1024).unwrap()
}

fn error_code(response: &bhttp::Response) -> String {
    let body: serde_json::Value = serde_json::from_slice(&response.content).unwrap();
    body["error"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn test_gateway_publishes_its_live_keys() {
    // Given a server without gateway keys, then with two
    let env = Env::new().await;
    assert_eq!(env.send(get(GATEWAY_PATH)).await.status, StatusCode::NOT_FOUND);
    let configs = with_keys(&env, &[3, 4]);
    // When the key configurations are fetched
    let reply = env.send(get(GATEWAY_PATH)).await;
    // Then both are there, as application/ohttp-keys, the newest first
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), Some("application/ohttp-keys"));
    let published = KeyConfig::decode_list(&reply.body).unwrap();
    assert_eq!(published, configs);
    assert_eq!(published.iter().map(|c| c.key_id).collect::<Vec<_>>(), vec![4, 3]);
}

#[tokio::test]
async fn test_requests_through_the_gateway_get_the_direct_answers() {
    // Given a server with a gateway key
    let env = Env::new().await;
    let config = with_keys(&env, &[1]).remove(0);
    // When the configuration is read through the gateway
    let answer = oblivious(&env, &config, &inner("GET", "/v1/config", &[], b"")).await;
    // Then it is the direct answer
    let direct = env.send(get("/v1/config")).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.field("content-type"), Some("application/json"));
    assert_eq!(answer.content, direct.body.to_vec());

    // When a report is filed through the gateway, and then again directly
    let filed = env.seal(UNIT);
    let body = serde_json::to_vec(&filed.submission(&[])).unwrap();
    let json = [("content-type".to_string(), "application/json".to_string())];
    let answer = oblivious(&env, &config, &inner("POST", "/v1/reports", &json, &body)).await;
    // Then it is accepted with a receipt, and the direct retry finds the same report
    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.content));
    let direct = env.send(post_json("/v1/reports", &filed.submission(&[]))).await;
    assert_eq!(direct.status, StatusCode::OK);

    // And the checks are the same: a malformed body is refused with the direct answer's code
    let answer = oblivious(&env, &config, &inner("POST", "/v1/reports", &json, b"{}")).await;
    let direct = env.send(post_json("/v1/reports", &serde_json::json!({}))).await;
    assert_eq!(answer.status, direct.status.as_u16());
    assert_eq!(error_code(&answer), direct.error());

    // And a case route with its secret header works through the gateway
    let path = format!("/v1/cases/{}/messages?after=0", filed.case.case_id);
    let secret = [("tipline-case-secret".to_string(), filed.secret())];
    let answer = oblivious(&env, &config, &inner("GET", &path, &secret, b"")).await;
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.content));
}

#[tokio::test]
async fn test_unit_routes_are_not_served_through_the_gateway() {
    let env = Env::new().await;
    let config = with_keys(&env, &[1]).remove(0);
    let path = format!("/v1/units/{UNIT}/inbox");
    let answer = oblivious(&env, &config, &inner("GET", &path, &[], b"")).await;
    assert_eq!(answer.status, 404);
    assert_eq!(error_code(&answer), code::NOT_OBLIVIOUS);
    let answer = oblivious(&env, &config, &inner("POST", GATEWAY_PATH, &[], b"")).await;
    assert_eq!(error_code(&answer), code::NOT_OBLIVIOUS);
}

#[tokio::test]
async fn test_unknown_and_retired_keys_are_refused() {
    // Given a gateway that had key 1 and now has only key 2
    let env = Env::new().await;
    let old = with_keys(&env, &[1]).remove(0);
    let new = with_keys(&env, &[2]).remove(0);
    let request = inner("GET", "/v1/config", &[], b"");
    // When a request comes encapsulated to the retired key, or to one never issued
    let (retired, _) = encapsulate_request(&old, &request).unwrap();
    let mut never = new.clone();
    never.key_id = 9;
    let (unknown, _) = encapsulate_request(&never, &request).unwrap();
    // Then both are refused as unknown keys, in plain JSON
    for bytes in [retired, unknown] {
        let reply = env.send(post_encapsulated(bytes)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.error(), code::UNKNOWN_KEY);
    }
    // And the live key still works
    assert_eq!(oblivious(&env, &new, &request).await.status, 200);
}

#[tokio::test]
async fn test_altered_replayed_oversize_and_mistyped_encapsulations_are_refused() {
    let env = Env::new().await;
    let config = with_keys(&env, &[1]).remove(0);
    let (bytes, _) = encapsulate_request(&config, &inner("GET", "/v1/config", &[], b"")).unwrap();
    // An altered byte anywhere after the key id: the header, the encapsulated key, the ciphertext
    for at in [3, 20, bytes.len() - 1] {
        let mut altered = bytes.clone();
        altered[at] ^= 0x40;
        let reply = env.send(post_encapsulated(altered)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.error(), code::BAD_ENCAPSULATION);
    }
    // Truncated
    let reply = env.send(post_encapsulated(bytes[..40].to_vec())).await;
    assert_eq!(reply.error(), code::BAD_ENCAPSULATION);
    // The genuine one passes once, and its replay is refused
    assert_eq!(
        env.send(post_encapsulated(bytes.clone())).await.status,
        StatusCode::OK
    );
    let reply = env.send(post_encapsulated(bytes.clone())).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error(), code::REPLAYED);
    // Oversize
    let reply = env.send(post_encapsulated(vec![1; MAX_REQUEST_BYTES + 1])).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Another media type
    let reply = env
        .send(request(
            Method::POST,
            GATEWAY_PATH,
            "application/octet-stream",
            bytes,
        ))
        .await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn test_a_stale_or_missing_date_is_refused_with_the_gateways_time() {
    let env = Env::new().await;
    let config = with_keys(&env, &[1]).remove(0);
    let stale = [(
        "date".to_string(),
        http_date(Utc::now() - chrono::Duration::minutes(10)),
    )];
    for fields in [&stale[..], &[("date".to_string(), "yesterday".to_string())][..]] {
        let answer = oblivious(&env, &config, &inner("GET", "/v1/config", fields, b"")).await;
        assert_eq!(answer.status, 400);
        assert_eq!(error_code(&answer), code::BAD_DATE);
        let told = chrono::DateTime::parse_from_rfc2822(answer.field("date").unwrap()).unwrap();
        assert!((told.timestamp() - Utc::now().timestamp()).abs() < 5);
    }
}

#[tokio::test]
async fn test_the_ohttp_crate_client_and_the_gateway_understand_each_other() {
    // Given the gateway's published key list, read by an independent implementation
    let env = Env::new().await;
    with_keys(&env, &[7]);
    let list = env.send(get(GATEWAY_PATH)).await.body;
    let client = ohttp::ClientRequest::from_encoded_config_list(&list).unwrap();
    // When that client encapsulates a request and the gateway answers
    let (bytes, response) = client.encapsulate(&inner("GET", "/v1/config", &[], b"")).unwrap();
    let reply = env.send(post_encapsulated(bytes)).await;
    assert_eq!(reply.status, StatusCode::OK);
    // Then the client opens the answer, and the bhttp crate reads the router's answer in it
    let plain = response.decapsulate(&reply.body).unwrap();
    let message =
        ::bhttp::Message::read_bhttp::<_, std::io::Cursor<&[u8]>>(&mut std::io::Cursor::new(&plain[..]))
            .unwrap();
    assert_eq!(message.control().status().unwrap().code(), 200);
    assert_eq!(message.content(), env.send(get("/v1/config")).await.body.to_vec());
}
