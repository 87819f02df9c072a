//! Attachment upload (HEAD/PATCH, resumable) and the desk's download.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use tipline_server::limits::MAX_CHUNK_BYTES;

use crate::support::{post_json, Env, Filed, Reply, OTHER, UNIT};

const CHUNK_TYPE: &str = "application/offset+octet-stream";

fn path(filed: &Filed, index: u16) -> String {
    format!("/v1/reports/{}/attachments/{index}", filed.report_id)
}

fn head(filed: &Filed, index: u16, secret: &str) -> Request<Body> {
    Request::builder()
        .method(Method::HEAD)
        .uri(path(filed, index))
        .header("tipline-case-secret", secret)
        .body(Body::empty())
        .unwrap()
}

fn patch(filed: &Filed, index: u16, secret: &str, offset: u64, bytes: &[u8]) -> Request<Body> {
    Request::builder()
        .method(Method::PATCH)
        .uri(path(filed, index))
        .header("tipline-case-secret", secret)
        .header("upload-offset", offset.to_string())
        .header("content-type", CHUNK_TYPE)
        .body(Body::from(bytes.to_vec()))
        .unwrap()
}

/// Files a report declaring one attachment of `size` sealed bytes.
async fn file_with_attachment(env: &Env, size: u64) -> Filed {
    let filed = env.seal(UNIT);
    let reply = env
        .send(post_json("/v1/reports", &filed.submission(&[(0, size)])))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    filed
}

fn sealed_bytes(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

async fn download(env: &Env, unit: &str, filed: &Filed, suffix: &str, range: Option<&str>) -> Reply {
    let uri = format!(
        "/v1/units/{unit}/reports/{}/attachments/0{suffix}",
        filed.report_id
    );
    let mut request = env.signed(unit, Method::GET, &uri, vec![]);
    if let Some(range) = range {
        request.headers_mut().insert("range", range.parse().unwrap());
    }
    env.send(request).await
}

#[tokio::test]
async fn test_upload_resumes_and_desk_downloads_whole_or_by_range() {
    // Given a report declaring a 150 000-byte sealed attachment,
    let env = Env::new().await;
    let data = sealed_bytes(150_000);
    let filed = file_with_attachment(&env, data.len() as u64).await;
    let secret = filed.secret();
    // the upload starts at 0;
    let reply = env.send(head(&filed, 0, &secret)).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(reply.header("upload-offset"), Some("0"));
    assert_eq!(reply.header("upload-length"), Some("150000"));
    // the first part goes up,
    let reply = env.send(patch(&filed, 0, &secret, 0, &data[..100_000])).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(reply.header("upload-offset"), Some("100000"));
    // a retry of it at the old offset is told where the upload stands,
    let reply = env.send(patch(&filed, 0, &secret, 0, &data[..100_000])).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.error(), "offset_mismatch");
    assert_eq!(reply.header("upload-offset"), Some("100000"));
    // and HEAD says the same after a "restart".
    let reply = env.send(head(&filed, 0, &secret)).await;
    assert_eq!(reply.header("upload-offset"), Some("100000"));
    // The desk cannot download it yet.
    let reply = download(&env, UNIT, &filed, "", None).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.error(), "incomplete");
    assert_eq!(reply.header("upload-offset"), Some("100000"));
    // The rest goes up; more than declared is refused.
    let reply = env
        .send(patch(&filed, 0, &secret, 100_000, &data[100_000..]))
        .await;
    assert_eq!(reply.header("upload-offset"), Some("150000"));
    let reply = env.send(patch(&filed, 0, &secret, 150_000, b"x")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error(), "too_long");
    // Then the desk downloads the exact sealed bytes, whole or by range.
    let reply = download(&env, UNIT, &filed, "", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body.as_ref(), &data[..]);
    let reply = download(&env, UNIT, &filed, "", Some("bytes=99990-100009")).await;
    assert_eq!(reply.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(reply.body.as_ref(), &data[99_990..100_010]);
    assert_eq!(reply.header("content-range"), Some("bytes 99990-100009/150000"));
    let reply = download(&env, UNIT, &filed, "?offset=149000", None).await;
    assert_eq!(reply.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(reply.body.as_ref(), &data[149_000..]);
    let reply = download(&env, UNIT, &filed, "", Some("bytes=200000-")).await;
    assert_eq!(reply.status, StatusCode::RANGE_NOT_SATISFIABLE);
    // Another unit cannot see it.
    let reply = download(&env, OTHER, &filed, "", None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn test_wrong_secret_or_unknown_attachment_is_404() {
    let env = Env::new().await;
    let filed = file_with_attachment(&env, 100).await;
    let wrong = tipline_core::encoding::b64(&[1; 32]);
    assert_eq!(
        env.send(head(&filed, 0, &wrong)).await.status,
        StatusCode::NOT_FOUND
    );
    let reply = env.send(patch(&filed, 0, &wrong, 0, b"abc")).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.error(), "unknown_attachment");
    assert_eq!(
        env.send(head(&filed, 1, &filed.secret())).await.status,
        StatusCode::NOT_FOUND
    );
    // A missing or malformed secret is the client's mistake, said as such.
    let reply = env.send(patch(&filed, 0, "short", 0, b"abc")).await;
    assert_eq!(reply.error(), "bad_case_secret");
}

#[tokio::test]
async fn test_chunk_limits_and_content_type() {
    let env = Env::new().await;
    let filed = file_with_attachment(&env, 4 * MAX_CHUNK_BYTES as u64).await;
    let secret = filed.secret();
    // Larger than a chunk: 413.
    let reply = env
        .send(patch(&filed, 0, &secret, 0, &vec![0; MAX_CHUNK_BYTES + 1]))
        .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Wrong content type: 415.
    let mut request = patch(&filed, 0, &secret, 0, b"abc");
    request
        .headers_mut()
        .insert("content-type", "application/octet-stream".parse().unwrap());
    assert_eq!(env.send(request).await.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // No offset: 400.
    let mut request = patch(&filed, 0, &secret, 0, b"abc");
    request.headers_mut().remove("upload-offset");
    let reply = env.send(request).await;
    assert_eq!(reply.error(), "bad_offset");
    // A whole chunk is fine.
    let reply = env
        .send(patch(&filed, 0, &secret, 0, &vec![7; MAX_CHUNK_BYTES]))
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn test_transferring_desk_uploads_re_sealed_attachments_with_its_own_secret() {
    // Given a report with an uploaded attachment, leased by its unit's desk,
    let env = Env::new().await;
    let filed = file_with_attachment(&env, 10).await;
    assert_eq!(
        env.send(patch(&filed, 0, &filed.secret(), 0, &sealed_bytes(10)))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    // when the desk transfers it with the attachment re-declared and an upload secret's hash,
    let resealed = env.seal_as(OTHER, filed.report_id);
    let secret = [42u8; 32];
    let transfer = |hash: Option<String>| {
        let mut body = serde_json::json!({
            "to_unit": OTHER,
            "envelope": tipline_core::encoding::b64(&resealed.bytes),
            "attachments": [{"index": 0, "sealed_size": 7}],
        });
        if let Some(hash) = hash {
            body["upload_secret_hash"] = hash.into();
        }
        env.signed_json(
            UNIT,
            Method::POST,
            &format!("/v1/units/{UNIT}/reports/{}/transfer", filed.report_id),
            &body,
        )
    };
    // (without the hash the re-declared attachments could never be uploaded: refused)
    let reply = env.send(transfer(None)).await;
    assert_eq!(reply.error(), "bad_attachments");
    let hash = hex::encode(tipline_core::crypto::sha256(&secret));
    assert_eq!(
        env.send(transfer(Some(hash))).await.status,
        StatusCode::NO_CONTENT
    );
    // then the desk uploads them with that secret, the reporter's secret no longer can,
    let desk_secret = tipline_core::encoding::b64(&secret);
    assert_eq!(
        env.send(patch(&filed, 0, &filed.secret(), 0, b"abc"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let reply = env.send(head(&filed, 0, &desk_secret)).await;
    assert_eq!(reply.header("upload-offset"), Some("0"));
    assert_eq!(reply.header("upload-length"), Some("7"));
    assert_eq!(
        env.send(patch(&filed, 0, &desk_secret, 0, b"resealed"[..7].as_ref()))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    // and the other unit's desk downloads the new bytes.
    let reply = download(&env, OTHER, &filed, "", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(&reply.body[..], b"reseale");
}
