//! Attacks over raw TCP, where an HTTP client would not misbehave enough: half-sent bodies, slow
//! request heads, slow bodies, and idle connections. Each connection's outcome is how the server
//! ended it: an answer (its status and error code), `closed` (the server closed it; `closed
//! early` for an idle connection closed well before its timeout, to make room under the
//! connection cap), or `held` if it was still open when the attacker gave up.

use std::future::Future;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

use super::{Tally, Target};
use crate::UNIT;

/// Body bytes each half-sent body sends of the 1.3 MB it declares.
const HALF_SENT: usize = 1024 * 1024;
/// Declared size of a half-sent body (within the report route's limit, so it is read).
const DECLARED: usize = 1_300_000;
/// Between two drips of a slow head or body.
const DRIP: Duration = Duration::from_millis(250);

/// Runs `one(n)` for n in 0..count, `at_once` at a time, and tallies their outcomes.
async fn many<F, Fut>(count: usize, at_once: usize, one: F) -> Tally
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = String>,
{
    let outcomes: Vec<String> = futures_util::stream::iter(0..count)
        .map(one)
        .buffer_unordered(at_once.max(1))
        .collect()
        .await;
    let mut tally = Tally::default();
    for outcome in outcomes {
        tally.count(outcome);
    }
    tally
}

/// Waits at most `bound` for the server to end the connection; the answer's status and error
/// code if it answered.
async fn ending(read: &mut OwnedReadHalf, bound: Duration) -> String {
    let mut answer = Vec::with_capacity(512);
    let mut buf = [0u8; 512];
    let deadline = tokio::time::Instant::now() + bound;
    loop {
        match tokio::time::timeout_at(deadline, read.read(&mut buf)).await {
            Err(_) if answer.is_empty() => return "held".to_owned(),
            Err(_) | Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(n)) => {
                answer.extend_from_slice(&buf[..n]);
                // The status line and the error code are in the first few hundred bytes.
                if answer.len() >= 256 || answer.windows(2).any(|w| w == b"}\n" || w == b"\"}") {
                    break;
                }
            }
        }
    }
    if answer.is_empty() {
        return "closed".to_owned();
    }
    describe(&answer)
}

/// `"<status> <error code>"` of a raw HTTP answer, or `"garbled"`.
fn describe(answer: &[u8]) -> String {
    let text = String::from_utf8_lossy(answer);
    let Some(status) = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
    else {
        return "garbled".to_owned();
    };
    let code = text
        .split("\"error\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("");
    format!("{status} {code}").trim_end().to_owned()
}

async fn connect(target: &Target) -> Option<(OwnedReadHalf, OwnedWriteHalf)> {
    let tcp = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(target.addr))
        .await
        .ok()?
        .ok()?;
    Some(tcp.into_split())
}

/// Writes `head`, then `drip` every [`DRIP`] for at most `bound`, in a task of its own that
/// keeps the connection's write side open until it is aborted.
fn dripping(
    mut write: OwnedWriteHalf,
    head: Bytes,
    drip: &'static [u8],
    bound: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if write.write_all(&head).await.is_err() {
            return;
        }
        let until = Instant::now() + bound;
        while Instant::now() < until {
            tokio::time::sleep(DRIP).await;
            if write.write_all(drip).await.is_err() {
                break;
            }
        }
        // Keep the connection half-open rather than end the body: the server must end it.
        std::future::pending::<()>().await;
    })
}

/// Connections that declare a 1.3 MB body, send 1 MiB of it and stop: half to the report route
/// (expected: `503 busy` when the body budget is full, or `closed` when the stalled body is cut),
/// half to a signed unit route with made-up signature headers (expected: `401 unauthorized`
/// before any of the body is read). All `scale.connections` at once.
pub async fn half_sent_bodies(target: Target, connections: usize) -> Tally {
    let body = Bytes::from(vec![b'A'; HALF_SENT]);
    let bound = target.timeout * 3 + Duration::from_secs(5);
    many(connections, connections, |n| {
        let (target, body) = (target.clone(), body.clone());
        async move {
            let Some((mut read, write)) = connect(&target).await else {
                return "connect failed".to_owned();
            };
            let (kind, head) = if n % 2 == 0 {
                (
                    "report",
                    format!(
                        "POST /v1/reports HTTP/1.1\r\nhost: a\r\ncontent-type: application/json\r\n\
                         content-length: {DECLARED}\r\n\r\n"
                    ),
                )
            } else {
                let Ok(report_id) = tipline_core::report::ReportId::random() else {
                    return "no randomness".to_owned();
                };
                let path = tipline_core::api::paths::unit_transfer(UNIT, report_id);
                (
                    "unit",
                    format!(
                        "POST {path} HTTP/1.1\r\nhost: a\r\ncontent-type: application/json\r\n\
                         content-length: {DECLARED}\r\ntipline-unit: {UNIT}\r\n\
                         tipline-timestamp: {}\r\ntipline-nonce: AAAAAAAAAAAAAAAAAAAAAA\r\n\
                         tipline-content-sha256: {}\r\ntipline-signature: {}\r\n\r\n",
                        chrono::Utc::now().timestamp(),
                        "0".repeat(64),
                        "A".repeat(86),
                    ),
                )
            };
            let writer = tokio::spawn(async move {
                let mut write = write;
                if write.write_all(head.as_bytes()).await.is_ok() {
                    let _ = write.write_all(&body).await;
                }
                std::future::pending::<()>().await;
            });
            let outcome = ending(&mut read, bound).await;
            writer.abort();
            format!("{kind}: {outcome}")
        }
    })
    .await
}

/// Connections that send a request head one byte every 250 ms (expected: `closed` at the header
/// timeout).
pub async fn slow_headers(target: Target, connections: usize) -> Tally {
    let bound = target.timeout * 2 + Duration::from_secs(3);
    many(connections, connections, |_| {
        let target = target.clone();
        async move {
            let Some((mut read, write)) = connect(&target).await else {
                return "connect failed".to_owned();
            };
            let head = Bytes::from_static(b"POST /v1/reports HTTP/1.1\r\nhost: a\r\nx-slow: ");
            let writer = dripping(write, head, b"x", bound);
            let outcome = ending(&mut read, bound).await;
            writer.abort();
            outcome
        }
    })
    .await
}

/// Connections that send a whole head, then the declared 100 kB body 16 bytes every 250 ms
/// (expected: `closed` once the body is under the floor rate after the stall grace).
pub async fn slow_bodies(target: Target, connections: usize) -> Tally {
    let bound = target.timeout * 2 + Duration::from_secs(3);
    many(connections, connections, |_| {
        let target = target.clone();
        async move {
            let Some((mut read, write)) = connect(&target).await else {
                return "connect failed".to_owned();
            };
            let head = Bytes::from_static(
                b"POST /v1/reports HTTP/1.1\r\nhost: a\r\ncontent-type: application/json\r\n\
                  content-length: 100000\r\n\r\n{\"envelope\":\"",
            );
            let writer = dripping(write, head, b"AAAAAAAAAAAAAAAA", bound);
            let outcome = ending(&mut read, bound).await;
            writer.abort();
            outcome
        }
    })
    .await
}

/// `connections` connections opened at once, more than the server's cap: half send nothing,
/// half make one request and then keep the connection idle. Expected: every one `closed`, at
/// its timeout or earlier (`closed early`) to make room for newcomers.
pub async fn idle_connections(target: Target, connections: usize) -> Tally {
    let bound = target.timeout * 2 + Duration::from_secs(3);
    let early = target.timeout.mul_f32(0.75);
    many(connections, connections, |n| {
        let target = target.clone();
        async move {
            let Some((mut read, mut write)) = connect(&target).await else {
                return "connect failed".to_owned();
            };
            if n % 2 == 1 {
                let asked = write.write_all(b"GET /healthz HTTP/1.1\r\nhost: a\r\n\r\n").await;
                let mut answer = [0u8; 256];
                match (asked, read.read(&mut answer).await) {
                    (Ok(()), Ok(n)) if answer[..n].starts_with(b"HTTP/1.1 200") => {}
                    // Closed to make room before its request was read.
                    (_, Ok(0) | Err(_)) | (Err(_), _) => return "closed early".to_owned(),
                    _ => return "first request failed".to_owned(),
                }
            }
            let opened = Instant::now();
            let outcome = ending(&mut read, bound).await;
            drop(write);
            if outcome == "closed" && opened.elapsed() < early {
                "closed early".to_owned()
            } else {
                outcome
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn test_answers_are_described_by_status_and_code() {
        assert_eq!(
            describe(b"HTTP/1.1 503 Service Unavailable\r\n\r\n{\"error\":\"busy\",\"m\":1}"),
            "503 busy"
        );
        assert_eq!(describe(b"HTTP/1.1 200 OK\r\n\r\nok"), "200");
        assert_eq!(describe(b"nonsense"), "garbled");
    }
}
