//! Rate limits that an attacker cannot spend for others: a bucket per route family, budgets per
//! case and per report charged only after the case secret checked.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;
use tipline_core::encoding::b64;
use tipline_core::envelope::Envelope;
use tipline_core::report::{CaseId, ReportId};
use tipline_server::limits::Rate;

use crate::support::{get, post_json, Env, Filed, UNIT};

fn post_follow_up(case_id: CaseId, secret: &str, envelope: &Envelope) -> Request<Body> {
    let body = serde_json::to_vec(&json!({"envelope": b64(&envelope.to_bytes())})).unwrap();
    let mut request = crate::support::request(
        Method::POST,
        &format!("/v1/cases/{case_id}/messages"),
        "application/json",
        body,
    );
    request
        .headers_mut()
        .insert("tipline-case-secret", secret.parse().unwrap());
    request
}

fn read_case(filed: &Filed) -> Request<Body> {
    Request::builder()
        .uri(format!("/v1/cases/{}/messages", filed.case.case_id))
        .header("tipline-case-secret", filed.secret())
        .body(Body::empty())
        .unwrap()
}

fn head(report_id: ReportId, secret: &str) -> Request<Body> {
    Request::builder()
        .method(Method::HEAD)
        .uri(format!("/v1/reports/{report_id}/attachments/0"))
        .header("tipline-case-secret", secret)
        .body(Body::empty())
        .unwrap()
}

fn patch(report_id: ReportId, secret: &str, offset: u64, bytes: &[u8]) -> Request<Body> {
    Request::builder()
        .method(Method::PATCH)
        .uri(format!("/v1/reports/{report_id}/attachments/0"))
        .header("tipline-case-secret", secret)
        .header("upload-offset", offset.to_string())
        .header("content-type", "application/offset+octet-stream")
        .body(Body::from(bytes.to_vec()))
        .unwrap()
}

fn random_secret() -> String {
    b64(
        &tipline_core::crypto::random::random_array::<32>(&mut tipline_core::crypto::OsRandom::new())
            .unwrap(),
    )
}

#[tokio::test]
async fn test_follow_up_flood_to_random_cases_spends_no_budget() {
    // Given a server whose case messages take two requests a minute in all, and two a minute
    // per case, and a genuine reporter's case
    let env = Env::with_settings(|s| {
        s.rates.cases = Rate::new(1, 2);
        s.rates.case = Rate::new(1, 2);
        s.rates.reports = Rate::new(1, 1);
    })
    .await;
    let genuine = env.file(UNIT).await;
    let follow_up = env.follow_up(&genuine, UNIT, "flood");

    // When an attacker posts 300 follow-ups to random cases with random secrets, and to the
    // genuine case with a wrong secret
    for i in 0..300 {
        let case_id = if i % 3 == 0 {
            genuine.case.case_id
        } else {
            CaseId::random().unwrap()
        };
        let reply = env
            .send(post_follow_up(case_id, &random_secret(), &follow_up))
            .await;
        // Then each is refused as an unknown case, never as a spent budget
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.error());
    }

    // And the genuine reporter's follow-up and poll get through
    let reply = env
        .send(post_follow_up(
            genuine.case.case_id,
            &genuine.secret(),
            &follow_up,
        ))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    assert_eq!(env.send(read_case(&genuine)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn test_follow_up_flood_does_not_make_a_report_wait() {
    // Given a server with default limits and a genuine reporter's case
    let env = Env::with_settings(|s| s.rates = Default::default()).await;
    let genuine = env.file(UNIT).await;
    let follow_up = env.follow_up(&genuine, UNIT, "flood");

    // When an attacker floods follow-ups to random cases, and to their own case past its budget
    let own = env.file(UNIT).await;
    let own_follow_up = env.follow_up(&own, UNIT, "flood");
    let mut limited = 0;
    for _ in 0..200 {
        let reply = env
            .send(post_follow_up(
                CaseId::random().unwrap(),
                &random_secret(),
                &follow_up,
            ))
            .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        let reply = env
            .send(post_follow_up(own.case.case_id, &own.secret(), &own_follow_up))
            .await;
        limited += usize::from(reply.status == StatusCode::TOO_MANY_REQUESTS);
    }
    // (their own case's budget runs out)
    assert!(limited > 100, "{limited}");

    // Then genuine reports during the flood are all accepted, and the genuine case still answers
    for _ in 0..20 {
        let filed = env.seal(UNIT);
        let reply = env.send(post_json("/v1/reports", &filed.submission(&[]))).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    }
    let reply = env
        .send(post_follow_up(
            genuine.case.case_id,
            &genuine.secret(),
            &follow_up,
        ))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
}

#[tokio::test]
async fn test_flooding_one_case_spends_only_that_case_s_budget() {
    // Given a server that allows three requests per case at once
    let env = Env::with_settings(|s| s.rates.case = Rate::new(1, 3)).await;
    let flooded = env.file(UNIT).await;
    let other = env.file(UNIT).await;

    // When one case is read three times and then posted to
    for _ in 0..3 {
        assert_eq!(env.send(read_case(&flooded)).await.status, StatusCode::OK);
    }
    let follow_up = env.follow_up(&flooded, UNIT, "more");
    let reply = env
        .send(post_follow_up(
            flooded.case.case_id,
            &flooded.secret(),
            &follow_up,
        ))
        .await;

    // Then that case is told to wait, and another case is not
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.error(), "rate_limited");
    assert!(reply.header("retry-after").is_some());
    assert_eq!(env.send(read_case(&other)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn test_upload_head_and_patch_are_limited_per_report_after_the_secret() {
    // Given a server that allows two upload requests per report at once, and two reports with
    // an attachment each
    let env = Env::with_settings(|s| s.rates.report_uploads = Rate::new(1, 2)).await;
    let mut filed = Vec::new();
    for _ in 0..2 {
        let one = env.seal(UNIT);
        let reply = env
            .send(post_json("/v1/reports", &one.submission(&[(0, 100)])))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED);
        filed.push(one);
    }
    let (first, second) = (&filed[0], &filed[1]);

    // When requests with a wrong secret come for the first report
    for _ in 0..20 {
        let reply = env.send(head(first.report_id, &random_secret())).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
    }
    // Then they spent nothing: its reporter gets a HEAD and a PATCH through
    assert_eq!(
        env.send(head(first.report_id, &first.secret())).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        env.send(patch(first.report_id, &first.secret(), 0, &[1; 10]))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    // And the third request for that report waits, while the other report's does not
    let reply = env
        .send(patch(first.report_id, &first.secret(), 10, &[1; 10]))
        .await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(reply.header("retry-after").is_some());
    assert_eq!(
        env.send(head(second.report_id, &second.secret())).await.status,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn test_reads_have_a_bucket_of_their_own() {
    // Given a server that takes two reads (config, directory, alerts) a minute
    let env = Env::with_settings(|s| s.rates.reads = Rate::new(1, 2)).await;

    // When the reads are spent
    assert_eq!(env.send(get("/v1/config")).await.status, StatusCode::OK);
    assert_eq!(env.send(get("/v1/directory")).await.status, StatusCode::OK);
    let reply = env.send(get("/v1/alerts?region=DK-84")).await;

    // Then the next read waits, and a report does not
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.error(), "rate_limited");
    env.file(UNIT).await;
}
