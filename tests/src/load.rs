//! Load drivers for the `loadgen` benchmark: keep-alive HTTP/1.1 connections (hyper, one request
//! in flight per connection), a closed loop (each connection sends its next request as soon as
//! the answer arrived: peak throughput) and an open loop (requests released on a fixed schedule
//! whatever the answers do: latency at a given rate, measured from the scheduled time so that a
//! stalled server cannot hide its queue). Latencies go to HDR histograms in microseconds.
//!
//! Every phase ends by itself: at its deadline, when its bodies run out, or when a request takes
//! longer than [`REQUEST_TIMEOUT`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::sync::{mpsc, Mutex};
use tokio::time::Instant;

/// Longest one request may take before the phase gives up on its connection.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Highest latency the histograms hold, in microseconds (larger values are clamped).
const MAX_MICROS: u64 = 120_000_000;

/// An empty latency histogram (microseconds, 3 significant digits).
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("valid histogram bounds")
}

/// Records `elapsed` in `histogram`, in microseconds (at least 1).
pub fn record(histogram: &mut Histogram<u64>, elapsed: Duration) {
    let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    histogram.saturating_record(micros.clamp(1, MAX_MICROS));
}

/// One keep-alive HTTP/1.1 connection.
pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    host: String,
}

impl Connection {
    /// Connects to `addr` (TCP_NODELAY, like any HTTP client).
    pub async fn open(addr: SocketAddr) -> anyhow::Result<Connection> {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .with_context(|| format!("cannot connect to {addr}"))?;
        stream.set_nodelay(true)?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            // Ends when the sender is dropped or the server closes; errors show on the sender.
            let _ = connection.await;
        });
        Ok(Connection {
            sender,
            host: addr.to_string(),
        })
    }

    /// POSTs a JSON `body` to `path` and reads the whole answer.
    pub async fn post_json(&mut self, path: &str, body: Bytes) -> anyhow::Result<(u16, Bytes)> {
        let request = Request::post(path)
            .header(HOST, &self.host)
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(body))?;
        let exchange = async {
            self.sender.ready().await?;
            let response = self.sender.send_request(request).await?;
            let status = response.status().as_u16();
            let body = response.into_body().collect().await?.to_bytes();
            anyhow::Ok((status, body))
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .with_context(|| format!("no answer within {REQUEST_TIMEOUT:?}"))?
    }
}

/// An answer kept for checking after the phase: which body, when it arrived, what it said.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Index of the body sent.
    pub index: usize,
    /// When the whole answer had arrived.
    pub at: Instant,
    /// The status.
    pub status: u16,
    /// The answer's body.
    pub body: Bytes,
}

/// What a phase measured.
#[derive(Debug)]
pub struct PhaseResult {
    /// Answers received, by status.
    pub statuses: BTreeMap<u16, u64>,
    /// Requests that got no answer (connection errors, timeouts).
    pub errors: u64,
    /// The first such error.
    pub first_error: Option<String>,
    /// From the phase's start until its last answer.
    pub elapsed: Duration,
    /// Latency: from sending (closed loop) or from the scheduled time (open loop) to the answer.
    pub latency: Histogram<u64>,
    /// Latency from the moment the request was actually sent (open loop; same as `latency` for
    /// the closed loop).
    pub service: Histogram<u64>,
    /// The answers, if the phase kept them.
    pub answers: Vec<Answer>,
    /// Whether the phase stopped early because its bodies ran out.
    pub exhausted: bool,
}

impl PhaseResult {
    fn empty() -> Self {
        PhaseResult {
            statuses: BTreeMap::new(),
            errors: 0,
            first_error: None,
            elapsed: Duration::ZERO,
            latency: histogram(),
            service: histogram(),
            answers: Vec::new(),
            exhausted: false,
        }
    }

    fn merge(&mut self, other: PhaseResult) {
        for (status, count) in other.statuses {
            *self.statuses.entry(status).or_default() += count;
        }
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        // Same bounds on both sides: adding cannot fail.
        let _ = self.latency.add(&other.latency);
        let _ = self.service.add(&other.service);
        self.answers.extend(other.answers);
        self.exhausted |= other.exhausted;
    }

    /// Answers received.
    pub fn answered(&self) -> u64 {
        self.statuses.values().sum()
    }

    /// Answers with `status`.
    pub fn count(&self, status: u16) -> u64 {
        self.statuses.get(&status).copied().unwrap_or(0)
    }

    /// Answers per second over the phase.
    pub fn rate(&self) -> f64 {
        self.answered() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// How a phase picks and keeps bodies.
#[derive(Debug, Clone)]
pub struct Load {
    /// The server.
    pub addr: SocketAddr,
    /// The path to POST to.
    pub path: &'static str,
    /// The request bodies.
    pub bodies: Arc<Vec<Bytes>>,
    /// Send bodies again once all were sent (a baseline that ignores them), or stop.
    pub reuse: bool,
    /// Keep every answer with this status, to check it after the phase.
    pub keep_status: Option<u16>,
}

impl Load {
    fn keep(&self, result: &mut PhaseResult, index: usize, status: u16, body: Bytes) {
        if self.keep_status == Some(status) {
            result.answers.push(Answer {
                index,
                at: Instant::now(),
                status,
                body,
            });
        }
    }
}

fn count_error(result: &mut PhaseResult, error: anyhow::Error) {
    result.errors += 1;
    if result.first_error.is_none() {
        result.first_error = Some(format!("{error:#}"));
    }
}

/// Drives `load` closed-loop over `connections` connections for `duration`.
pub async fn closed_loop(load: &Load, connections: usize, duration: Duration) -> anyhow::Result<PhaseResult> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut opened = Vec::with_capacity(connections);
    for _ in 0..connections {
        opened.push(Connection::open(load.addr).await?);
    }
    let start = Instant::now();
    let deadline = start + duration;
    let mut workers = Vec::with_capacity(connections);
    for mut connection in opened {
        let (load, next) = (load.clone(), Arc::clone(&next));
        workers.push(tokio::spawn(async move {
            let mut result = PhaseResult::empty();
            while Instant::now() < deadline {
                let mut index = next.fetch_add(1, Ordering::Relaxed);
                if index >= load.bodies.len() {
                    if !load.reuse || load.bodies.is_empty() {
                        result.exhausted = true;
                        break;
                    }
                    index %= load.bodies.len();
                }
                let sent = Instant::now();
                match connection.post_json(load.path, load.bodies[index].clone()).await {
                    Ok((status, body)) => {
                        record(&mut result.latency, sent.elapsed());
                        *result.statuses.entry(status).or_default() += 1;
                        load.keep(&mut result, index, status, body);
                    }
                    Err(e) => {
                        count_error(&mut result, e);
                        match Connection::open(load.addr).await {
                            Ok(fresh) => connection = fresh,
                            Err(_) => break,
                        }
                    }
                }
            }
            result
        }));
    }
    let mut total = PhaseResult::empty();
    for worker in workers {
        total.merge(worker.await?);
    }
    total.elapsed = start.elapsed();
    total.service = total.latency.clone();
    Ok(total)
}

/// Drives `load` open-loop: `rate` requests per second released on schedule for `duration` (or
/// until the bodies run out), sent over `connections` connections. A request waits for a free
/// connection if all are busy; its latency counts from its scheduled time.
pub async fn open_loop(
    load: &Load,
    connections: usize,
    rate: f64,
    duration: Duration,
) -> anyhow::Result<PhaseResult> {
    let rate = rate.max(1.0);
    let wanted = (rate * duration.as_secs_f64()).ceil() as usize;
    let total_requests = wanted.min(load.bodies.len());
    let (tx, rx) = mpsc::unbounded_channel::<(usize, Instant)>();
    let rx = Arc::new(Mutex::new(rx));
    let mut workers = Vec::with_capacity(connections);
    let mut opened = Vec::with_capacity(connections);
    for _ in 0..connections {
        opened.push(Connection::open(load.addr).await?);
    }
    let start = Instant::now();
    for mut connection in opened {
        let (load, rx) = (load.clone(), Arc::clone(&rx));
        workers.push(tokio::spawn(async move {
            let mut result = PhaseResult::empty();
            loop {
                let next = rx.lock().await.recv().await;
                let Some((index, due)) = next else { break };
                let sent = Instant::now();
                match connection.post_json(load.path, load.bodies[index].clone()).await {
                    Ok((status, body)) => {
                        record(&mut result.latency, due.elapsed());
                        record(&mut result.service, sent.elapsed());
                        *result.statuses.entry(status).or_default() += 1;
                        load.keep(&mut result, index, status, body);
                    }
                    Err(e) => {
                        count_error(&mut result, e);
                        match Connection::open(load.addr).await {
                            Ok(fresh) => connection = fresh,
                            Err(_) => break,
                        }
                    }
                }
            }
            result
        }));
    }
    for index in 0..total_requests {
        let due = start + Duration::from_secs_f64(index as f64 / rate);
        if due > Instant::now() {
            tokio::time::sleep_until(due).await;
        }
        if tx.send((index, due)).is_err() {
            break;
        }
    }
    drop(tx);
    let mut total = PhaseResult::empty();
    for worker in workers {
        total.merge(worker.await?);
    }
    total.elapsed = start.elapsed();
    total.exhausted = wanted > load.bodies.len();
    Ok(total)
}
