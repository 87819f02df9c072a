//! The accept loop over a real loopback socket: slow heads, idle keep-alive connections and slow
//! bodies are cut; at the connection cap the oldest idle connection makes room, and when every
//! connection is busy a newcomer gets a fast 503. Timeouts are shortened so each test takes
//! about a second.

use std::net::SocketAddr;
use std::time::Duration;

use tipline_server::serve::{serve, BodyPace, ServeOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{timeout, Instant};

use crate::support::Env;

/// Bounds short enough for tests.
fn quick() -> ServeOptions {
    ServeOptions {
        header_timeout: Duration::from_millis(400),
        idle_timeout: Duration::from_millis(400),
        body: BodyPace {
            stall: Duration::from_millis(400),
            min_rate: 0,
        },
        write_timeout: Duration::from_millis(400),
        max_connections: 64,
        shutdown_grace: Duration::from_secs(1),
    }
}

/// Serves `env`'s app on a loopback port with `options`; the server stops when the test's
/// runtime ends.
async fn start(env: &Env, options: ServeOptions) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = env.app();
    tokio::spawn(async move { serve(listener, app, options, std::future::pending()).await });
    addr
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n";

/// Reads until the peer closes (or `within` passes); returns what came and whether it closed.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (Vec<u8>, bool) {
    let mut seen = Vec::new();
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 4096];
    loop {
        match timeout(
            deadline.saturating_duration_since(Instant::now()),
            stream.read(&mut buf),
        )
        .await
        {
            Ok(Ok(0)) | Ok(Err(_)) => return (seen, true),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
            Err(_) => return (seen, false),
        }
    }
}

/// Sends one request on `stream` and reads one response head and its short body.
async fn exchange(stream: &mut TcpStream, request: &[u8]) -> String {
    stream.write_all(request).await.unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(2);
    while !String::from_utf8_lossy(&seen).contains("\r\n\r\n") || !seen.ends_with(b"ok") {
        let n = timeout(
            deadline.saturating_duration_since(Instant::now()),
            stream.read(&mut buf),
        )
        .await
        .expect("an answer within 2 s")
        .unwrap();
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
        if String::from_utf8_lossy(&seen).starts_with("HTTP/1.1 503") {
            break;
        }
    }
    String::from_utf8_lossy(&seen).into_owned()
}

#[tokio::test]
async fn test_a_slow_request_head_is_cut() {
    // Given a server that allows 400 ms for a request head,
    let env = Env::new().await;
    let addr = start(&env, quick()).await;
    // when a client sends half a head and then one byte at a time,
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    let started = Instant::now();
    let trickle = async {
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if stream.write_all(b"x").await.is_err() {
                break;
            }
        }
    };
    let _ = timeout(Duration::from_millis(700), trickle).await;
    // then the connection is closed without an answer, well before the trickle would end.
    let (seen, closed) = read_until_closed(&mut stream, Duration::from_secs(2)).await;
    assert!(closed, "the slow head was not cut");
    assert!(seen.is_empty(), "{}", String::from_utf8_lossy(&seen));
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn test_an_idle_keep_alive_connection_is_closed_after_its_own_timeout() {
    // Given a server with a short head timeout and a longer idle timeout,
    let env = Env::new().await;
    let addr = start(
        &env,
        ServeOptions {
            idle_timeout: Duration::from_millis(1200),
            ..quick()
        },
    )
    .await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    assert!(exchange(&mut stream, HEALTHZ).await.starts_with("HTTP/1.1 200"));
    // when the connection stays idle for longer than the head timeout, it is still open,
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(exchange(&mut stream, HEALTHZ).await.starts_with("HTTP/1.1 200"));
    // and when it stays idle past the idle timeout, it is closed.
    let started = Instant::now();
    let (_, closed) = read_until_closed(&mut stream, Duration::from_secs(3)).await;
    assert!(closed, "the idle connection was not closed");
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn test_a_stalled_body_is_cut() {
    // Given a server that allows 400 ms of silence in a body,
    let env = Env::new().await;
    let addr = start(&env, quick()).await;
    // when a client declares 10,000 bytes, sends 10 and stalls,
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            b"POST /v1/reports HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\ncontent-length: 10000\r\n\r\n{\"envelop",
        )
        .await
        .unwrap();
    // then the connection is closed within a second or so.
    let (_, closed) = read_until_closed(&mut stream, Duration::from_secs(2)).await;
    assert!(closed, "the stalled body was not cut");
}

#[tokio::test]
async fn test_a_body_below_the_floor_rate_is_cut() {
    // Given a server that wants 2,000 bytes/s on average after a 400 ms grace,
    let env = Env::new().await;
    let addr = start(
        &env,
        ServeOptions {
            body: BodyPace {
                stall: Duration::from_millis(400),
                min_rate: 2_000,
            },
            ..quick()
        },
    )
    .await;
    // when a client sends 10 bytes every 100 ms (never stalling, 100 bytes/s),
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"POST /v1/reports HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\ncontent-length: 10000\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut cut = false;
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if stream.write_all(b"0123456789").await.is_err() {
            cut = true;
            break;
        }
        let mut probe = [0u8; 1024];
        if let Ok(Ok(0) | Err(_)) = timeout(Duration::from_millis(1), stream.read(&mut probe)).await {
            cut = true;
            break;
        }
    }
    // then it is cut within about a second, not when the body would have ended.
    assert!(cut, "the slow body was not cut");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn test_at_the_cap_the_oldest_idle_connection_makes_room() {
    // Given a server capped at 4 connections, all held idle by a client that sends nothing,
    let env = Env::new().await;
    let addr = start(
        &env,
        ServeOptions {
            header_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(30),
            max_connections: 4,
            ..quick()
        },
    )
    .await;
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // when a genuine client asks for /healthz,
    let mut genuine = TcpStream::connect(addr).await.unwrap();
    // then it is answered, and the oldest idle connection was closed for it.
    assert!(exchange(&mut genuine, HEALTHZ).await.starts_with("HTTP/1.1 200"));
    let (_, closed) = read_until_closed(&mut idle[0], Duration::from_secs(1)).await;
    assert!(closed, "the oldest idle connection is still open");
    let (_, closed) = read_until_closed(&mut idle[3], Duration::from_millis(100)).await;
    assert!(!closed, "a newer idle connection was closed");
}

#[tokio::test]
async fn test_when_every_connection_is_busy_a_newcomer_gets_a_fast_503() {
    // Given a server capped at 3 connections, each busy with a body that is still coming,
    let env = Env::new().await;
    let addr = start(
        &env,
        ServeOptions {
            body: BodyPace {
                stall: Duration::from_secs(30),
                min_rate: 0,
            },
            max_connections: 3,
            ..quick()
        },
    )
    .await;
    let mut busy = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"POST /v1/reports HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\ncontent-length: 10000\r\n\r\n{")
            .await
            .unwrap();
        busy.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // when one more client connects,
    let started = Instant::now();
    let mut late = TcpStream::connect(addr).await.unwrap();
    late.write_all(HEALTHZ).await.unwrap();
    // then it gets a 503 `busy` at once, and the connection is closed.
    let (seen, closed) = read_until_closed(&mut late, Duration::from_secs(2)).await;
    let text = String::from_utf8_lossy(&seen);
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(text.contains("\"error\":\"busy\""), "{text}");
    assert!(closed);
    assert!(started.elapsed() < Duration::from_secs(1));
}

/// A router whose one route answers with a body that never ends, 64 KiB at a time.
fn endless() -> axum::Router {
    let chunk = axum::body::Bytes::from(vec![b'x'; 64 * 1024]);
    axum::Router::new().route(
        "/endless",
        axum::routing::get(move || {
            let chunk = chunk.clone();
            async move {
                let pieces =
                    futures_util::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
                axum::body::Body::from_stream(pieces)
            }
        }),
    )
}

/// Asks for the endless answer over a socket with a small receive buffer and reads none of it
/// for `unread`; then reads for at most 3 s: whether the server had closed the connection.
async fn closed_when_unread(write_timeout: Duration, unread: Duration) -> bool {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let options = ServeOptions {
        write_timeout,
        ..quick()
    };
    tokio::spawn(async move { serve(listener, endless(), options, std::future::pending()).await });
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(addr).await.unwrap();
    stream
        .write_all(b"GET /endless HTTP/1.1\r\nhost: t\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(unread).await;
    // What the buffers hold comes first; then the end, if the server closed.
    let mut buf = vec![0u8; 64 * 1024];
    let deadline = Instant::now() + Duration::from_secs(3);
    // (a read that finds bytes waiting never times out: the deadline is checked apart)
    while Instant::now() < deadline {
        match timeout(
            deadline.saturating_duration_since(Instant::now()),
            stream.read(&mut buf),
        )
        .await
        {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
    false
}

#[tokio::test]
async fn test_a_client_that_does_not_read_its_answer_is_closed_at_the_write_timeout() {
    // Given a server whose writes may wait 400 ms, when a client asks for a long answer and
    // reads none of it for 1.5 s, then the server has closed the connection;
    assert!(
        closed_when_unread(Duration::from_millis(400), Duration::from_millis(1500)).await,
        "the connection of a client that does not read was kept"
    );
    // and with a write timeout far longer than the wait, the same connection is kept (the answer
    // keeps coming as the client reads it, until this test stops reading after 3 s).
    assert!(
        !closed_when_unread(Duration::from_secs(60), Duration::from_millis(1500)).await,
        "the connection was closed though its writes may wait 60 s"
    );
}
