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
//! capped.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use governor::{DefaultKeyedRateLimiter, Quota};

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
    /// Bound of each exchange with the gateway.
    pub timeout: Duration,
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
        }
    }
}

struct Relay {
    http: reqwest::Client,
    config: RelayConfig,
    limiter: DefaultKeyedRateLimiter<IpAddr>,
}

/// The relay's router. Serve it with `into_make_service_with_connect_info::<SocketAddr>()`:
/// the client's address is needed for its rate limit, and for nothing else.
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
        .layer(DefaultBodyLimit::max(config.max_request))
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
    body: Bytes,
) -> Response {
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
        Err(e) => {
            tracing::warn!(
                timeout = e.is_timeout(),
                connect = e.is_connect(),
                "gateway unreachable"
            );
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Mutex;

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
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let app = app(config).unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
                .await
                .unwrap()
        });
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
}
