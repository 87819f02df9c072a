//! `tipline-relay`: an Oblivious HTTP relay resource (RFC 9458, section 5.1) for one gateway.
//!
//! A citizen's device posts an encapsulated request (`message/ohttp-req`) here; the relay posts
//! the same bytes to the one gateway it is configured for, and returns the encapsulated answer
//! (`message/ohttp-res`). It sees the device's address but only ciphertext; the gateway sees the
//! request but only the relay's address.
//!
//! What it does not do, on purpose: it adds no header that says anything about the client (no
//! `Forwarded`, `X-Forwarded-For`, `Via`), passes on none of the client's headers but the media
//! type, keeps no log of addresses or bodies (its log lines carry counts and statuses), and
//! holds a client's address only in memory, for its rate limit. Sizes are bounded both ways,
//! requests are rate-limited per client address, and connections and requests in flight are
//! capped. Slow clients are bounded in time (the head, the body, taking the answer: see
//! [`serve`]), and so is the gateway (connecting, and the whole exchange).

pub mod serve;

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::header::{CACHE_CONTROL, CONNECTION, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use governor::{DefaultKeyedRateLimiter, Quota};
use http_body_util::BodyExt as _;

pub use serve::{serve, ServeOptions};

/// The media type of an encapsulated request.
pub const REQUEST_MEDIA_TYPE: &str = "message/ohttp-req";
/// The media type of an encapsulated answer.
pub const RESPONSE_MEDIA_TYPE: &str = "message/ohttp-res";
/// Largest encapsulated request taken, by default: a Tipline attachment chunk (1 MiB) or a
/// sealed report, with room for the encapsulation.
pub const DEFAULT_MAX_REQUEST: usize = 2 * 1024 * 1024;
/// Largest encapsulated answer passed back, by default (a page of alerts or case messages).
pub const DEFAULT_MAX_RESPONSE: usize = 16 * 1024 * 1024;

/// How the relay is set up.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// The gateway's URL, e.g. `https://intake.example.org/.well-known/ohttp-gateway`.
    pub gateway: String,
    /// The local address to connect to the gateway from (`None`: the system's choice).
    pub outgoing_address: Option<IpAddr>,
    /// Largest encapsulated request.
    pub max_request: usize,
    /// Largest encapsulated answer.
    pub max_response: usize,
    /// Requests per minute from one client address.
    pub per_minute: u32,
    /// Requests one client address may make at once above its rate.
    pub burst: u32,
    /// Requests forwarded at once, all clients together.
    pub max_in_flight: usize,
    /// Bound of each exchange with the gateway, from connecting to the answer's last byte.
    pub timeout: Duration,
    /// Time for a request's body to arrive whole.
    pub body_timeout: Duration,
    /// Longest pause within a request's body.
    pub body_stall: Duration,
}

impl RelayConfig {
    /// A relay for `gateway` with the default bounds.
    pub fn new(gateway: impl Into<String>) -> Self {
        RelayConfig {
            gateway: gateway.into(),
            outgoing_address: None,
            max_request: DEFAULT_MAX_REQUEST,
            max_response: DEFAULT_MAX_RESPONSE,
            per_minute: 600,
            burst: 60,
            max_in_flight: 512,
            timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(60),
            body_stall: Duration::from_secs(15),
        }
    }
}

struct Relay {
    http: reqwest::Client,
    config: RelayConfig,
    limiter: DefaultKeyedRateLimiter<IpAddr>,
}

/// The relay's router. Serve it with [`serve`], which bounds connections and hands the router
/// the client's address (needed for its rate limit, and for nothing else).
pub fn app(config: RelayConfig) -> anyhow::Result<Router> {
    let mut http = reqwest::Client::builder()
        .timeout(config.timeout)
        .connect_timeout(config.timeout.min(Duration::from_secs(10)))
        // No User-Agent of the relay's own, no Referer, no redirects (the gateway is fixed).
        .referer(false)
        .redirect(reqwest::redirect::Policy::none());
    if let Some(address) = config.outgoing_address {
        http = http.local_address(address);
    }
    let http = http.build()?;
    let quota = Quota::per_minute(NonZeroU32::new(config.per_minute.max(1)).unwrap_or(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::new(config.burst.max(1)).unwrap_or(NonZeroU32::MIN));
    let relay = Arc::new(Relay {
        http,
        limiter: DefaultKeyedRateLimiter::keyed(quota),
        config: config.clone(),
    });
    // Forget the addresses of clients whose bucket is full again, every minute.
    let weak = Arc::downgrade(&relay);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            let Some(relay) = weak.upgrade() else { break };
            relay.limiter.retain_recent();
            relay.limiter.shrink_to_fit();
        }
    });
    Ok(Router::new()
        .route("/", post(forward))
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            config.max_in_flight,
        ))
        .with_state(relay))
}

fn refuse(status: StatusCode, text: &'static str) -> Response {
    (
        status,
        [(CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        text,
    )
        .into_response()
}

async fn forward(
    State(relay): State<Arc<Relay>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // A declared length over the bound is refused before it counts against the client's rate.
    if http_body::Body::size_hint(&body)
        .exact()
        .is_some_and(|n| n > relay.config.max_request as u64)
    {
        return too_long();
    }
    if relay.limiter.check_key(&client.ip()).is_err() {
        let mut answer = refuse(StatusCode::TOO_MANY_REQUESTS, "too many requests");
        answer
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static("10"));
        return answer;
    }
    if headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) != Some(REQUEST_MEDIA_TYPE) {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "expected Content-Type: message/ohttp-req",
        );
    }
    let body = match read_body(body, &relay.config).await {
        Ok(body) => body,
        Err(refusal) => return refusal,
    };
    // Only the bytes and their media type go on: none of the client's other headers.
    let sent = relay
        .http
        .post(&relay.config.gateway)
        .header(CONTENT_TYPE, REQUEST_MEDIA_TYPE)
        .body(body)
        .send()
        .await;
    let mut answer = match sent {
        Ok(answer) => answer,
        Err(e) if e.is_timeout() => {
            tracing::warn!("gateway timed out");
            return refuse(StatusCode::GATEWAY_TIMEOUT, "the gateway does not answer in time");
        }
        Err(e) => {
            tracing::warn!(connect = e.is_connect(), "gateway unreachable");
            return refuse(StatusCode::BAD_GATEWAY, "the gateway does not answer");
        }
    };
    let status = answer.status();
    let media_type = answer.headers().get(CONTENT_TYPE).cloned();
    let retry_after = answer.headers().get(RETRY_AFTER).cloned();
    if answer
        .content_length()
        .is_some_and(|n| n > relay.config.max_response as u64)
    {
        return refuse(StatusCode::BAD_GATEWAY, "the gateway's answer is too long");
    }
    let mut bytes = Vec::new();
    loop {
        match answer.chunk().await {
            Ok(Some(chunk)) => {
                if bytes.len() + chunk.len() > relay.config.max_response {
                    return refuse(StatusCode::BAD_GATEWAY, "the gateway's answer is too long");
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) if e.is_timeout() => {
                return refuse(StatusCode::GATEWAY_TIMEOUT, "the gateway does not answer in time")
            }
            Err(_) => return refuse(StatusCode::BAD_GATEWAY, "the gateway's answer broke off"),
        }
    }
    tracing::debug!(status = status.as_u16(), "forwarded");
    // The gateway's status and media type go back (an encapsulated answer, or the gateway's
    // plain refusal of a key or an encapsulation); nothing else of its headers.
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(value) = media_type.and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok()) {
        headers.insert(CONTENT_TYPE, value);
    }
    if let Some(value) = retry_after.and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok()) {
        headers.insert(RETRY_AFTER, value);
    }
    response
}

fn too_long() -> Response {
    let mut answer = refuse(StatusCode::PAYLOAD_TOO_LARGE, "the request is too long");
    answer
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    answer
}

/// Reads a request's body within the relay's bounds: at most `max_request` bytes, whole within
/// `body_timeout`, with no pause longer than `body_stall`. A refusal closes the connection, so a
/// client cannot go on sending the rest.
pub async fn read_body(body: Body, config: &RelayConfig) -> Result<Vec<u8>, Response> {
    let too_slow = || {
        let mut answer = refuse(StatusCode::REQUEST_TIMEOUT, "the request came too slowly");
        answer
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
        answer
    };
    let deadline = tokio::time::Instant::now() + config.body_timeout;
    let mut body = body;
    let mut bytes = Vec::new();
    loop {
        let stall = tokio::time::Instant::now() + config.body_stall;
        let frame = match tokio::time::timeout_at(deadline.min(stall), body.frame()).await {
            Err(_) => return Err(too_slow()),
            Ok(None) => return Ok(bytes),
            Ok(Some(Err(_))) => return Err(refuse(StatusCode::BAD_REQUEST, "the request broke off")),
            Ok(Some(Ok(frame))) => frame,
        };
        if let Ok(data) = frame.into_data() {
            if bytes.len() + data.len() > config.max_request {
                return Err(too_long());
            }
            bytes.extend_from_slice(&data);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Mutex;

    use axum::body::Bytes;

    use super::*;

    /// A gateway that records the header names of what it receives and echoes the body.
    async fn fake_gateway(seen: Arc<Mutex<Vec<Vec<String>>>>) -> String {
        let app = Router::new().route(
            "/gateway",
            post(move |headers: HeaderMap, body: Bytes| {
                let seen = seen.clone();
                async move {
                    seen.lock()
                        .unwrap()
                        .push(headers.keys().map(|k| k.as_str().to_owned()).collect());
                    ([(CONTENT_TYPE, RESPONSE_MEDIA_TYPE)], body)
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/gateway", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }

    async fn relay(config: RelayConfig) -> String {
        relay_with(config, ServeOptions::default()).await
    }

    async fn relay_with(config: RelayConfig, options: ServeOptions) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let app = app(config).unwrap();
        tokio::spawn(serve(listener, app, options, std::future::pending()));
        url
    }

    #[tokio::test]
    async fn test_relay_forwards_bytes_only_and_bounds_sizes_and_rates() {
        // Given a relay for a gateway that records what reaches it, with a burst of 3
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut config = RelayConfig::new(fake_gateway(seen.clone()).await);
        config.max_request = 1024;
        config.per_minute = 1;
        config.burst = 3;
        let url = relay(config).await;
        let http = reqwest::Client::new();
        // When a client sends an encapsulated request with headers that would identify it
        let answer = http
            .post(&url)
            .header(CONTENT_TYPE, REQUEST_MEDIA_TYPE)
            .header("x-forwarded-for", "192.0.2.7")
            .header("cookie", "id=reporter")
            .header("user-agent", "phone/1.0")
            .body(vec![7u8; 100])
            .send()
            .await
            .unwrap();
        // Then the gateway's answer comes back, and the gateway got the bytes with none of them
        assert_eq!(answer.status(), 200);
        assert_eq!(answer.headers()[CONTENT_TYPE], RESPONSE_MEDIA_TYPE);
        assert_eq!(answer.bytes().await.unwrap().to_vec(), vec![7u8; 100]);
        let names = seen.lock().unwrap()[0].clone();
        for name in [
            "x-forwarded-for",
            "forwarded",
            "via",
            "cookie",
            "user-agent",
            "x-real-ip",
        ] {
            assert!(
                !names.contains(&name.to_string()),
                "{name} reached the gateway: {names:?}"
            );
        }
        // And an oversize body, or another media type, is refused without reaching the gateway
        let oversize = http
            .post(&url)
            .header(CONTENT_TYPE, REQUEST_MEDIA_TYPE)
            .body(vec![0u8; 2048])
            .send()
            .await
            .unwrap();
        assert_eq!(oversize.status(), 413);
        let mistyped = http.post(&url).body(vec![0u8; 8]).send().await.unwrap();
        assert_eq!(mistyped.status(), 415);
        assert_eq!(seen.lock().unwrap().len(), 1);
        // And past its burst of 3 (the mistyped one counted; the oversize one never reached the
        // limiter), the same client address is told to wait
        let mut statuses = Vec::new();
        for _ in 0..2 {
            let answer = http
                .post(&url)
                .header(CONTENT_TYPE, REQUEST_MEDIA_TYPE)
                .body(vec![1u8; 8])
                .send()
                .await
                .unwrap();
            statuses.push(answer.status().as_u16());
        }
        assert_eq!(statuses, vec![200, 429]);
    }

    /// Reads from `tcp` until the relay closes it (or `limit` passes); what it said.
    async fn until_closed(tcp: &mut tokio::net::TcpStream, limit: Duration) -> Option<String> {
        use tokio::io::AsyncReadExt as _;
        let mut said = Vec::new();
        let read = tokio::time::timeout(limit, async {
            let mut buf = [0u8; 4096];
            loop {
                match tcp.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => said.extend_from_slice(&buf[..n]),
                }
            }
        })
        .await;
        read.ok().map(|()| String::from_utf8_lossy(&said).into_owned())
    }

    async fn connect(url: &str) -> tokio::net::TcpStream {
        let address = url.trim_start_matches("http://").trim_end_matches('/');
        tokio::net::TcpStream::connect(address).await.unwrap()
    }

    #[tokio::test]
    async fn test_slow_heads_idle_connections_and_slow_bodies_are_cut() {
        use tokio::io::AsyncWriteExt as _;
        // Given a relay with a 300 ms header timeout and a 300 ms body stall
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut config = RelayConfig::new(fake_gateway(seen.clone()).await);
        config.body_stall = Duration::from_millis(300);
        config.body_timeout = Duration::from_secs(1);
        let options = ServeOptions {
            header_timeout: Duration::from_millis(300),
            ..ServeOptions::default()
        };
        let url = relay_with(config, options).await;
        // When a client connects and sends nothing, or half a head
        let mut idle = connect(&url).await;
        let mut half = connect(&url).await;
        half.write_all(b"POST / HTTP/1.1\r\nhost: relay\r\n")
            .await
            .unwrap();
        // Then both are closed within a few multiples of the timeout
        assert!(until_closed(&mut idle, Duration::from_secs(3)).await.is_some());
        assert!(until_closed(&mut half, Duration::from_secs(3)).await.is_some());

        // When a client sends a whole head and a part of the body it announced, then stops
        let mut slow = connect(&url).await;
        slow.write_all(
            b"POST / HTTP/1.1\r\nhost: relay\r\ncontent-type: message/ohttp-req\r\n\
              content-length: 100\r\n\r\n0123456789",
        )
        .await
        .unwrap();
        // Then it is told 408 and closed, and nothing reached the gateway
        let said = until_closed(&mut slow, Duration::from_secs(3)).await.unwrap();
        assert!(said.starts_with("HTTP/1.1 408"), "{said}");
        assert!(seen.lock().unwrap().is_empty());

        // When a client trickles its body, each pause shorter than the stall but the whole
        // longer than the body timeout
        let mut trickle = connect(&url).await;
        trickle
            .write_all(
                b"POST / HTTP/1.1\r\nhost: relay\r\ncontent-type: message/ohttp-req\r\n\
                  content-length: 100\r\n\r\n",
            )
            .await
            .unwrap();
        let started = tokio::time::Instant::now();
        for _ in 0..12 {
            if trickle.write_all(b"x").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // Then it is cut at the body timeout
        let said = until_closed(&mut trickle, Duration::from_secs(3)).await.unwrap();
        assert!(said.starts_with("HTTP/1.1 408"), "{said}");
        assert!(started.elapsed() < Duration::from_secs(4));
        assert!(seen.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn test_a_slow_gateway_is_answered_504_in_time() {
        // Given a gateway that takes 5 s, behind a relay that waits 300 ms
        let app = Router::new().route(
            "/gateway",
            post(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gateway = format!("http://{}/gateway", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let mut config = RelayConfig::new(gateway);
        config.timeout = Duration::from_millis(300);
        let url = relay(config).await;
        // When a request is relayed
        let started = std::time::Instant::now();
        let answer = reqwest::Client::new()
            .post(&url)
            .header(CONTENT_TYPE, REQUEST_MEDIA_TYPE)
            .body(vec![1u8; 8])
            .send()
            .await
            .unwrap();
        // Then the relay answers 504 after its timeout, not the gateway's 5 s
        assert_eq!(answer.status(), StatusCode::GATEWAY_TIMEOUT);
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[tokio::test]
    async fn test_connections_are_capped_and_a_client_that_does_not_read_is_dropped() {
        use tokio::io::AsyncWriteExt as _;
        // Given a relay that holds two connections at once, with a 300 ms write timeout, for a
        // gateway whose answer is 8 MiB
        let app = Router::new().route(
            "/gateway",
            post(|| async { ([(CONTENT_TYPE, RESPONSE_MEDIA_TYPE)], vec![7u8; 8 << 20]) }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gateway = format!("http://{}/gateway", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let options = ServeOptions {
            header_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_millis(300),
            max_connections: 2,
        };
        let url = relay_with(RelayConfig::new(gateway), options).await;
        // When two clients hold a connection each (one idle, one asking and never reading)
        let _idle = connect(&url).await;
        let mut deaf = connect(&url).await;
        deaf.write_all(
            b"POST / HTTP/1.1\r\nhost: relay\r\ncontent-type: message/ohttp-req\r\n\
              content-length: 4\r\n\r\nabcd",
        )
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        // Then a third is told 503 at once and closed
        let mut third = connect(&url).await;
        let said = until_closed(&mut third, Duration::from_secs(2)).await.unwrap();
        assert!(said.starts_with("HTTP/1.1 503"), "{said}");
        // And once the client that does not read is dropped (its write stalls past the write
        // timeout), its slot is free again and a request goes through
        let http = reqwest::Client::new();
        let mut status = None;
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let answer = http
                .post(&url)
                .header(CONTENT_TYPE, REQUEST_MEDIA_TYPE)
                .body(vec![1u8; 8])
                .send()
                .await;
            if let Ok(answer) = answer {
                if answer.status() == StatusCode::OK {
                    status = Some(answer.bytes().await.unwrap().len());
                    break;
                }
            }
        }
        assert_eq!(status, Some(8 << 20));
    }
}
