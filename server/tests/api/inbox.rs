//! The unit's inbox: the live stream, leases and redelivery, pull, and acknowledgements.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use tipline_server::launch::Database;

use crate::support::{Env, OTHER, UNIT};

/// Reads server-sent events from a response body.
struct Events {
    body: Body,
    buffer: String,
    /// The body ended (the server closed the stream).
    ended: bool,
}

/// One event: its type, id and data.
#[derive(Debug)]
struct Sse {
    event: String,
    id: String,
    data: Value,
}

impl Events {
    async fn open(env: &Env, unit: &str) -> Events {
        let request = env.signed(
            unit,
            Method::GET,
            &format!("/v1/units/{unit}/inbox/stream"),
            vec![],
        );
        let response = env.app().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Events {
            body: response.into_body(),
            buffer: String::new(),
            ended: false,
        }
    }

    /// The next event within `wait`, or `None`.
    async fn next(&mut self, wait: Duration) -> Option<Sse> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = Sse {
                    event: String::new(),
                    id: String::new(),
                    data: Value::Null,
                };
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event.event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("id:") {
                        event.id = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        event.data = serde_json::from_str(v.trim()).unwrap();
                    }
                }
                if event.event.is_empty() {
                    continue; // a keep-alive comment
                }
                return Some(event);
            }
            let frame = match tokio::time::timeout_at(deadline, self.body.frame()).await {
                Ok(Some(Ok(frame))) => frame,
                Ok(None) => {
                    self.ended = true;
                    return None;
                }
                Err(_) | Ok(Some(Err(_))) => return None,
            };
            if let Ok(data) = frame.into_data() {
                self.buffer.push_str(std::str::from_utf8(&data).unwrap());
            }
        }
    }
}

impl Events {
    /// Whether the stream ends (the body closes) within `wait`, skipping events before.
    async fn ends_within(&mut self, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.body.frame()).await {
                Err(_) => return false,
                Ok(None) => return true,
                Ok(Some(Err(_))) => return false,
                Ok(Some(Ok(_))) => {}
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_node_that_loses_its_database_answers_503_and_recovers() {
    // Given a node on a PostgreSQL of its own, with a desk's live stream open
    let cluster = crate::pg::Cluster::start().unwrap();
    let env = Env::on(Database::Postgres(cluster.fresh_database())).await;
    let mut events = Events::open(&env, UNIT).await;
    let before = env.file(UNIT).await;
    let first = events.next(Duration::from_secs(5)).await.expect("pushed report");
    assert_eq!(first.id, before.report_id.to_string());

    // When PostgreSQL goes down at once
    cluster.stop_immediate().unwrap();

    // Then the live stream ends cleanly (the desk reconnects), and a submission is answered
    // 503 storage_unavailable with Retry-After
    assert!(
        events.ends_within(Duration::from_secs(20)).await,
        "the stream did not end"
    );
    let filed = env.seal(UNIT);
    let reply = env
        .send(crate::support::post_json("/v1/reports", &filed.submission(&[])))
        .await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", reply.body);
    assert_eq!(reply.error(), "storage_unavailable");
    assert!(reply.headers.contains_key("retry-after"));

    // When it comes back, the same submission is stored and a new stream delivers it
    cluster.start_again().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let reply = env
            .send(crate::support::post_json("/v1/reports", &filed.submission(&[])))
            .await;
        if reply.status == StatusCode::CREATED {
            break;
        }
        assert_eq!(reply.error(), "storage_unavailable");
        assert!(tokio::time::Instant::now() < deadline, "the node did not recover");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // as a desk reconnects: a stream may still end at once, on a pooled connection the outage
    // broke (the node replaces it), and the desk opens another
    let again = loop {
        let mut events = Events::open(&env, UNIT).await;
        if let Some(event) = events.next(Duration::from_secs(5)).await {
            break event;
        }
        assert!(
            events.ended,
            "a stream after recovery stayed open without the report"
        );
        assert!(
            tokio::time::Instant::now() < deadline,
            "no stream delivered the report"
        );
    };
    assert_eq!(again.id, filed.report_id.to_string());
}

#[tokio::test]
async fn test_stream_delivers_pending_then_new_reports() {
    // Given a report filed before the desk connects,
    let env = Env::new().await;
    let before = env.file(UNIT).await;
    // when the desk opens its stream, it gets it at once;
    let mut events = Events::open(&env, UNIT).await;
    let first = events.next(Duration::from_secs(2)).await.expect("pending report");
    assert_eq!(first.event, "report");
    assert_eq!(first.id, before.report_id.to_string());
    assert_eq!(first.data["report_id"], before.report_id.to_string());
    assert_eq!(first.data["envelope"], tipline_core::encoding::b64(&before.bytes));
    assert_eq!(first.data["case_id"], before.case.case_id.to_string());
    assert_eq!(first.data["delivery_count"], 1);
    // and a report filed while it listens is pushed to it;
    let after = env.file(UNIT).await;
    let second = events.next(Duration::from_secs(2)).await.expect("pushed report");
    assert_eq!(second.id, after.report_id.to_string());
    // but not another unit's.
    env.file(OTHER).await;
    assert!(events.next(Duration::from_millis(200)).await.is_none());
    // A follow-up in one of its cases is announced.
    let follow_up = env.follow_up(&after, UNIT, "one more thing");
    let request = crate::support::request(
        Method::POST,
        &format!("/v1/cases/{}/messages", after.case.case_id),
        "application/json",
        serde_json::to_vec(&json!({"envelope": tipline_core::encoding::b64(&follow_up.to_bytes())})).unwrap(),
    );
    let mut request = request;
    request
        .headers_mut()
        .insert("tipline-case-secret", after.secret().parse().unwrap());
    assert_eq!(env.send(request).await.status, StatusCode::CREATED);
    let notice = events.next(Duration::from_secs(2)).await.expect("message notice");
    assert_eq!(notice.event, "message");
    assert_eq!(notice.data["case_id"], after.case.case_id.to_string());
}

#[tokio::test]
async fn test_unacknowledged_report_is_redelivered_after_its_lease() {
    // Given one-second leases and a desk that receives a report but does not acknowledge it,
    let env = Env::with_settings(|s| s.lease = Duration::from_secs(1)).await;
    let mut events = Events::open(&env, UNIT).await;
    let filed = env.file(UNIT).await;
    let first = events.next(Duration::from_secs(2)).await.unwrap();
    assert_eq!(first.data["delivery_count"], 1);
    // then it comes again once the lease ends.
    let again = events
        .next(Duration::from_millis(2500))
        .await
        .expect("redelivery");
    assert_eq!(again.id, filed.report_id.to_string());
    assert_eq!(again.data["delivery_count"], 2);
}

#[tokio::test]
async fn test_pull_leases_and_ack_is_idempotent() {
    let env = Env::new().await;
    let filed = env.file(UNIT).await;
    let pull = |limit: &str| {
        env.signed(
            UNIT,
            Method::GET,
            &format!("/v1/units/{UNIT}/inbox{limit}"),
            vec![],
        )
    };
    // The pull leases the report;
    let reply = env.send(pull("?limit=10")).await;
    let reports = reply.json()["reports"].as_array().unwrap().clone();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0]["report_id"], filed.report_id.to_string());
    assert!(reports[0]["lease_until"].is_string());
    // while leased, it is not handed out again.
    assert!(env.send(pull("")).await.json()["reports"]
        .as_array()
        .unwrap()
        .is_empty());
    // Acknowledging is idempotent,
    let ack = format!("/v1/units/{UNIT}/reports/{}/ack", filed.report_id);
    for _ in 0..2 {
        let reply = env.send(env.signed(UNIT, Method::POST, &ack, vec![])).await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT);
    }
    assert_eq!(env.state.store().stats().await.unwrap().pending_reports, 0);
    // another unit cannot acknowledge it, and an unknown report is 404.
    let other_ack = format!("/v1/units/{OTHER}/reports/{}/ack", filed.report_id);
    let reply = env
        .send(env.signed(OTHER, Method::POST, &other_ack, vec![]))
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.error(), "unknown_report");
    let unknown = format!("/v1/units/{UNIT}/reports/{}/ack", "0".repeat(32));
    assert_eq!(
        env.send(env.signed(UNIT, Method::POST, &unknown, vec![]))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // A malformed id or query is a 400.
    let bad = format!("/v1/units/{UNIT}/reports/xyz/ack");
    assert_eq!(
        env.send(env.signed(UNIT, Method::POST, &bad, vec![]))
            .await
            .error(),
        "invalid_path"
    );
    assert_eq!(env.send(pull("?limit=many")).await.error(), "invalid_query");
    // Acknowledgements are counted (each accepted request).
    let metrics = env.metrics().await;
    assert!(String::from_utf8_lossy(&metrics.body).contains("tipline_acks_total 2"));
}

#[tokio::test]
async fn test_batched_ack_takes_the_units_reports_and_names_the_others() {
    // Given two reports of the unit and one of another unit,
    let env = Env::new().await;
    let ours = [env.file(UNIT).await.report_id, env.file(UNIT).await.report_id];
    let theirs = env.file(OTHER).await.report_id;
    let acks = format!("/v1/units/{UNIT}/acks");
    let batch = |ids: &[String]| json!({ "report_ids": ids });
    // when the unit acknowledges its two, the other's and an unknown id in one request,
    let unknown = "0".repeat(32);
    let ids = [
        ours[0].to_string(),
        ours[1].to_string(),
        theirs.to_string(),
        unknown.clone(),
    ];
    for _ in 0..2 {
        let reply = env
            .send(env.signed_json(UNIT, Method::POST, &acks, &batch(&ids)))
            .await;
        // then its own are acknowledged (again, the second time), the others named back,
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.json()["unknown"], json!([theirs.to_string(), unknown]));
    }
    // and the other unit's report still waits for its own desk.
    let stats = env.state.store().stats().await.unwrap();
    assert_eq!((stats.pending_reports, stats.acknowledged_reports), (1, 2));
    // An empty batch, one over the bound and a malformed id are refused, unsigned is 401.
    let too_many: Vec<String> = (0..101).map(|n| format!("{n:032x}")).collect();
    for body in [batch(&[]), batch(&too_many), json!({ "report_ids": ["xyz"] })] {
        let reply = env.send(env.signed_json(UNIT, Method::POST, &acks, &body)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(reply.error(), "malformed_json");
    }
    let unsigned = Request::post(&acks)
        .header("content-type", "application/json")
        .body(Body::from(batch(&ids).to_string()))
        .unwrap();
    assert_eq!(env.send(unsigned).await.status, StatusCode::UNAUTHORIZED);
    // Each report acknowledged counts, once per request that took it.
    let metrics = env.metrics().await;
    assert!(String::from_utf8_lossy(&metrics.body).contains("tipline_acks_total 4"));
}

#[tokio::test]
async fn test_live_streams_beyond_the_cap_get_a_fast_503() {
    // Given a server that holds at most one live stream,
    let env = Env::with_settings(|s| s.max_streams = 1).await;
    // when a desk holds one open and another asks for a second,
    let first = Events::open(&env, UNIT).await;
    let reply = env
        .send(env.signed(
            OTHER,
            Method::GET,
            &format!("/v1/units/{OTHER}/inbox/stream"),
            vec![],
        ))
        .await;
    // then the second gets 503 `busy` with a Retry-After,
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.error(), "busy");
    assert!(reply.header("retry-after").is_some());
    // and once the first is closed, a stream can be opened again.
    drop(first);
    Events::open(&env, OTHER).await;
}
