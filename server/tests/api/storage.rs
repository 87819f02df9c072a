//! The storage budget (507 `storage_full` on report and attachment intake), the budget of one
//! report's attachments, and the expiry of what was never acknowledged.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};

use crate::support::{post_json, Env, Filed, UNIT};

fn patch(filed: &Filed, offset: u64, bytes: &[u8]) -> Request<Body> {
    Request::builder()
        .method(Method::PATCH)
        .uri(format!("/v1/reports/{}/attachments/0", filed.report_id))
        .header("tipline-case-secret", filed.secret())
        .header("upload-offset", offset.to_string())
        .header("content-type", "application/offset+octet-stream")
        .body(Body::from(bytes.to_vec()))
        .unwrap()
}

#[tokio::test]
async fn test_intake_past_the_storage_budget_is_507_storage_full() {
    // Given a server whose store may take 2 MiB
    let budget = 2 * 1024 * 1024;
    let env = Env::with_settings(|s| s.storage_budget = budget).await;

    // When a report declares more than what is left
    let big = env.seal(UNIT);
    let reply = env
        .send(post_json("/v1/reports", &big.submission(&[(0, budget)])))
        .await;
    // Then it is refused with 507, before anything is stored
    assert_eq!(reply.status, StatusCode::INSUFFICIENT_STORAGE);
    assert_eq!(reply.error(), "storage_full");

    // When a report that fits uploads its attachment in pieces of 700 KB
    let filed = env.seal(UNIT);
    let reply = env
        .send(post_json("/v1/reports", &filed.submission(&[(0, 1_400_000)])))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let piece = vec![5u8; 700_000];
    let mut statuses = Vec::new();
    let mut offset = 0;
    for _ in 0..3 {
        let reply = env.send(patch(&filed, offset, &piece)).await;
        if reply.status == StatusCode::NO_CONTENT {
            offset += piece.len() as u64;
        } else {
            assert_eq!(reply.error(), "storage_full");
        }
        statuses.push(reply.status.as_u16());
    }
    // Then the pieces that would pass the budget are refused with 507
    assert_eq!(statuses, vec![204, 204, 507]);
}

#[tokio::test]
async fn test_attachments_leave_room_for_text_reports() {
    // Given a server whose store may take 2 MiB, and two reports that declared 1 MB each
    let budget = 2 * 1024 * 1024;
    let env = Env::with_settings(|s| s.storage_budget = budget).await;
    let first = env.seal(UNIT);
    let second = env.seal(UNIT);
    for filed in [&first, &second] {
        let reply = env
            .send(post_json("/v1/reports", &filed.submission(&[(0, 1_000_000)])))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    }
    // when their uploads fill all that attachments may take (all but a sixteenth: 1.5 MB of
    // them fit, 2 MB do not)
    let piece = vec![5u8; 500_000];
    let uploads = [(&first, 0), (&first, 500_000), (&second, 0), (&second, 500_000)];
    let mut statuses = Vec::new();
    for (filed, offset) in uploads {
        statuses.push(env.send(patch(filed, offset, &piece)).await.status.as_u16());
    }
    assert_eq!(statuses, vec![204, 204, 204, 507]);
    // and another report declares what is left of the attachments' share,
    let more = env.seal(UNIT);
    let reply = env
        .send(post_json("/v1/reports", &more.submission(&[(0, 500_000)])))
        .await;
    assert_eq!(reply.status, StatusCode::INSUFFICIENT_STORAGE);

    // Then a report without attachments is still taken: the budget keeps its last sixteenth for
    // reports' envelopes
    let text = env.seal(UNIT);
    let reply = env.send(post_json("/v1/reports", &text.submission(&[]))).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
}

#[tokio::test]
async fn test_attachments_of_one_report_have_a_budget() {
    // Given a server that takes 1,000 sealed bytes of attachments per report
    let env = Env::with_settings(|s| s.max_report_attachment_bytes = 1_000).await;
    let filed = env.seal(UNIT);

    // When a report declares more together, though each fits
    let reply = env
        .send(post_json("/v1/reports", &filed.submission(&[(0, 600), (1, 600)])))
        .await;

    // Then it is refused, and one within the budget is taken
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error(), "bad_attachments");
    let reply = env
        .send(post_json("/v1/reports", &filed.submission(&[(0, 600), (1, 400)])))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    // and /v1/config says so
    let config = env.send(crate::support::get("/v1/config")).await.json();
    assert_eq!(config["limits"]["max_report_attachment_bytes"], 1_000);
}

#[tokio::test]
async fn test_retention_expires_what_no_desk_acknowledged_in_time() {
    // Given a report no desk acknowledged
    let env = Env::new().await;
    let filed = env.file(UNIT).await;
    let store = env.state.store();
    let now = chrono::Utc::now();

    // When the expiry runs 29 days later, then 31 days later
    let keep = chrono::Duration::days(30);
    let early = tipline_server::retention::expire_once(store, keep, now + chrono::Duration::days(29))
        .await
        .unwrap();
    let late = tipline_server::retention::expire_once(store, keep, now + chrono::Duration::days(31))
        .await
        .unwrap();

    // Then only the second deletes it, with its case
    assert_eq!((early.reports, late.reports), (0, 1));
    assert_eq!(store.case(filed.case.case_id).await.unwrap(), None);
}
