//! Configuration, probes, metrics, the OpenAPI document, and unknown routes.

use axum::http::{Method, StatusCode};
use serde_json::Value;
use tipline_core::api::paths;

use crate::support::{get, request, Env, DIFFICULTY, UNIT};

#[tokio::test]
async fn test_config_announces_difficulty_key_and_limits() {
    let env = Env::new().await;
    let reply = env.send(get("/v1/config")).await;
    assert_eq!(reply.status, StatusCode::OK);
    let config = reply.json();
    assert_eq!(config["stamp_difficulty"], DIFFICULTY);
    assert_eq!(config["lease_seconds"], 60);
    let key = tipline_core::encoding::unb64(config["server_key"].as_str().unwrap()).unwrap();
    assert_eq!(key, env.state.server_key().verifying_key().0);
    for limit in [
        "max_envelope_bytes",
        "max_attachments",
        "max_attachment_bytes",
        "max_chunk_bytes",
    ] {
        assert!(config["limits"][limit].as_u64().unwrap() > 0, "{limit}");
    }
}

#[tokio::test]
async fn test_health_and_readiness() {
    let env = Env::new().await;
    let reply = env.send(get("/healthz")).await;
    assert_eq!((reply.status, reply.body.as_ref()), (StatusCode::OK, &b"ok"[..]));
    assert_eq!(env.send(get("/readyz")).await.status, StatusCode::OK);
    // Without a directory the server is up but not ready.
    let empty = Env::without_directory().await;
    assert_eq!(empty.send(get("/healthz")).await.status, StatusCode::OK);
    let reply = empty.send(get("/readyz")).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.error(), "no_directory");
    // and it refuses reports for want of a directory, not as the client's fault.
    let filed = env.seal(UNIT);
    let reply = empty
        .send(crate::support::post_json("/v1/reports", &filed.submission(&[])))
        .await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn test_metrics_count_by_route_template_without_ids() {
    let env = Env::new().await;
    let filed = env.file(UNIT).await;
    // A made-up method and an unmatched path fold into `other` and `unmatched`.
    let made_up = axum::http::Request::builder()
        .method(Method::from_bytes(b"XYZZYMETHOD").unwrap())
        .uri("/no/such/route/abc123")
        .body(axum::body::Body::empty())
        .unwrap();
    env.send(made_up).await;
    // `/metrics` is not on the API's router,
    assert_eq!(env.send(get("/metrics")).await.status, StatusCode::NOT_FOUND);
    // but on the metrics listener's.
    let reply = env.metrics().await;
    assert_eq!(reply.status, StatusCode::OK);
    let text = String::from_utf8(reply.body.to_vec()).unwrap();
    assert!(!text.contains("XYZZY"), "{text}");
    assert!(!text.contains("abc123"), "{text}");
    assert!(text.contains("method=\"other\",route=\"unmatched\""), "{text}");
    assert!(
        text.contains("tipline_reports_total{outcome=\"accepted\",code=\"\"} 1"),
        "{text}"
    );
    assert!(text.contains("route=\"/v1/reports\""), "{text}");
    assert!(text.contains("tipline_pending_reports 1"), "{text}");
    assert!(text.contains("tipline_live_desk_streams 0"), "{text}");
    assert!(!text.contains(&filed.report_id.to_string()));
    assert!(!text.contains(&filed.case.case_id.to_string()));
}

#[tokio::test]
async fn test_openapi_document_lists_the_paths() {
    let env = Env::new().await;
    let reply = env.send(get("/v1/openapi.json")).await;
    assert_eq!(reply.status, StatusCode::OK);
    let doc: Value = reply.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/v1/config",
        "/v1/directory",
        "/v1/reports",
        "/v1/reports/{report_id}/attachments/{index}",
        "/v1/units/{unit_id}/reports/{report_id}/attachments/{index}",
        "/v1/units/{unit_id}/inbox",
        "/v1/units/{unit_id}/inbox/stream",
        "/v1/units/{unit_id}/reports/{report_id}/ack",
        "/v1/units/{unit_id}/acks",
        "/v1/units/{unit_id}/reports/{report_id}/transfer",
        "/v1/cases/{case_id}/messages",
        "/v1/units/{unit_id}/cases/{case_id}/messages",
        "/v1/units/{unit_id}/alerts",
        "/v1/alerts",
        "/healthz",
        "/readyz",
        "/v1/openapi.json",
    ] {
        assert!(paths.contains_key(path), "{path} missing");
    }
    assert!(paths["/v1/reports/{report_id}/attachments/{index}"]["head"].is_object());
    assert!(doc["components"]["securitySchemes"]["unit_signature"].is_object());
}

#[tokio::test]
async fn test_openapi_document_and_the_shared_route_table_name_the_same_paths() {
    // Given the document the server serves
    let env = Env::new().await;
    let doc: Value = env.send(get("/v1/openapi.json")).await.json();
    let documented: std::collections::BTreeSet<String> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|path| path.starts_with(paths::PREFIX))
        .cloned()
        .collect();
    // When the API module's route table is laid under the prefix
    let shared: std::collections::BTreeSet<String> = paths::route::ALL
        .iter()
        .map(|route| format!("{}{route}", paths::PREFIX))
        .collect();
    // Then both list the same routes, so clients build no path the server does not serve
    assert_eq!(documented, shared);
}

#[tokio::test]
async fn test_openapi_document_gives_the_formats_and_content_types_the_server_uses() {
    // Given the document and the metrics as served
    let env = Env::new().await;
    let doc: Value = env.send(get("/v1/openapi.json")).await.json();
    let metrics = env.metrics().await;
    let served = metrics.headers[axum::http::header::CONTENT_TYPE]
        .to_str()
        .unwrap();

    // Then the metrics are OpenMetrics text (on their own listener, not in the API document)
    assert!(served.starts_with("application/openmetrics-text"), "{served}");
    assert!(doc["paths"].get("/metrics").is_none());

    // And every id, secret and unit parameter of every operation carries its pattern
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let name = parameter["name"].as_str().unwrap();
                let expected = match name {
                    "case_id" | "report_id" => "^[0-9a-fA-F]{32}$",
                    "unit_id" => "^[a-z0-9-]{1,64}$",
                    "tipline-case-secret" => "^[A-Za-z0-9_-]{43}$",
                    _ => continue,
                };
                assert_eq!(parameter["schema"]["pattern"], expected, "{method} {path} {name}");
                checked += 1;
            }
        }
    }
    assert!(checked >= 21, "only {checked} parameters checked");

    // And a body's envelope is base64url, not OpenAPI's `byte` (standard base64)
    let envelope = &doc["components"]["schemas"]["SubmitReport"]["properties"]["envelope"];
    assert_eq!(envelope["contentEncoding"], "base64url");
    assert!(envelope.get("format").is_none(), "{envelope}");
    let hash = &doc["components"]["schemas"]["SubmitReport"]["properties"]["case_secret_hash"];
    assert_eq!(hash["pattern"], "^[0-9a-fA-F]{64}$");
}

#[tokio::test]
async fn test_unknown_routes_and_methods_answer_in_json() {
    let env = Env::new().await;
    let reply = env.send(get("/v1/nothing-here")).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.error(), "not_found");
    let reply = env
        .send(request(Method::DELETE, "/v1/reports", "application/json", vec![]))
        .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.error(), "method_not_allowed");
}

#[tokio::test]
async fn test_retention_purges_only_acknowledged_reports() {
    // Given one acknowledged and one pending report,
    let env = Env::new().await;
    let acked = env.file(UNIT).await;
    env.file(UNIT).await;
    let ack = format!("/v1/units/{UNIT}/reports/{}/ack", acked.report_id);
    assert_eq!(
        env.send(env.signed(UNIT, Method::POST, &ack, vec![]))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    // a purge within the retention time keeps both,
    let store = env.state.store();
    let now = chrono::Utc::now();
    let purged = tipline_server::retention::purge_once(store, chrono::Duration::days(90), now)
        .await
        .unwrap();
    assert_eq!(purged, 0);
    // and one past it deletes only the acknowledged one.
    let later = now + chrono::Duration::days(91);
    let purged = tipline_server::retention::purge_once(store, chrono::Duration::days(90), later)
        .await
        .unwrap();
    assert_eq!(purged, 1);
    let stats = store.stats().await.unwrap();
    assert_eq!((stats.pending_reports, stats.acknowledged_reports), (1, 0));
}

#[tokio::test]
async fn test_the_signed_routes_refusals_are_documented() {
    // Given a server with a filed report, when the signed routes get bad ids, bad queries and
    // bodies of the wrong type, then each answer is the documented one (`Env::send` checks every
    // answer against the OpenAPI document).
    let env = Env::new().await;
    let filed = env.file(UNIT).await;
    let (report, case) = (filed.report_id, filed.case.case_id);
    let cases = [
        (
            Method::GET,
            format!("/v1/units/{UNIT}/inbox?limit=-1"),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            format!("/v1/units/{UNIT}/reports/xyz/ack"),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            format!("/v1/units/{UNIT}/reports/{report}/attachments/0?offset=-1"),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            format!("/v1/units/{UNIT}/cases/xyz/messages"),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            format!("/v1/units/{UNIT}/cases/{case}/messages?limit=-1"),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (method, path, status) in cases {
        let reply = env.send(env.signed(UNIT, method.clone(), &path, vec![])).await;
        assert_eq!(reply.status, status, "{method} {path}: {:?}", reply.body);
    }
    for path in [
        format!("/v1/units/{UNIT}/cases/{case}/messages"),
        format!("/v1/units/{UNIT}/reports/{report}/transfer"),
    ] {
        let mut request = env.signed(UNIT, Method::POST, &path, b"{}".to_vec());
        request
            .headers_mut()
            .insert(axum::http::header::CONTENT_TYPE, "text/plain".parse().unwrap());
        let reply = env.send(request).await;
        assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{path}");
    }
}
