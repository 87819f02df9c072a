//! Attacks on the intake server, as one anonymous client would make them, for the adversarial
//! tests (`tests/e2e/attack.rs`, a short version) and the `intake-attack` benchmark (a longer one
//! that prints the figures). Each attack is bounded in count and time and ends by itself.
//!
//! While an attack runs, [`under_attack`] watches the server: it asks `/healthz` every 100 ms on
//! a fresh connection (the slowest answer and the failures are kept), reads the process's resident
//! memory from `/proc/<pid>/status`, and files a genuine reporter's report once the attack is
//! under way, retrying as the app's outbox does (on `503` and on a dropped connection) until its
//! receipt verifies. The attack itself returns what it met ([`Tally`]): the refusals it expected,
//! and anything else under its own name, so that a test can require every attempt to have been
//! refused the expected way.

mod flood;
mod raw;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tipline_core::keys::{EncryptionPublicKey, SigningKey};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

pub use flood::{disk_fill, follow_up_flood, made_up_methods, replayed_unit_request};
pub use raw::{half_sent_bodies, idle_connections, slow_bodies, slow_headers};

use crate::citizen::check_answer;
use crate::{Accepted, Citizen, ServerOptions, Submission, TestServer, UNIT};

/// How many attack connections and requests an attack makes.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    /// Attack connections open at once.
    pub connections: usize,
    /// Requests a flood sends in all.
    pub requests: usize,
    /// Requests of a flood in flight at once.
    pub in_flight: usize,
}

/// The test's scale: fits a 2-core machine shared with other tests, a few seconds an attack.
pub const SHORT: Scale = Scale {
    connections: 120,
    requests: 600,
    in_flight: 16,
};

/// The benchmark's scale.
pub const LONG: Scale = Scale {
    connections: 1_000,
    requests: 20_000,
    in_flight: 64,
};

/// The server's timeouts under attack (short, so that an attack ends in seconds): request head,
/// idle keep-alive, body stall.
pub const TIMEOUT: Duration = Duration::from_secs(2);
/// The server's memory budget for request bodies, in MiB (`--body-memory-mib`).
pub const BODY_MEMORY_MIB: u64 = 16;
/// The whole process's resident memory must stay under this, whatever the attack: the body
/// budget, the connections' buffers and the store's caches, with room to spare, and far below
/// what the attacks would take unbounded (the half-sent bodies alone send 1 MiB a connection).
pub const MEMORY_BUDGET_KIB: u64 = 96 * 1024;
/// The storage budget (`--storage-budget-bytes`) for the disk-filling upload.
pub const STORAGE_BUDGET: u64 = 24 * 1024 * 1024;
/// The attachments one report may declare (`--max-report-attachment-bytes`).
pub const REPORT_ATTACHMENTS: u64 = 4 * 1024 * 1024;
/// Longest `/healthz` may take to answer while under attack.
pub const HEALTH_BOUND: Duration = Duration::from_secs(1);
/// Longest the genuine reporter keeps retrying.
const GENUINE_DEADLINE: Duration = Duration::from_secs(20);
/// How long after the attack starts the genuine reporter files.
const GENUINE_AFTER: Duration = Duration::from_millis(700);
/// Between two health probes.
const PROBE_EVERY: Duration = Duration::from_millis(100);
/// A probe that takes longer than this is counted as failed (and as taking this long).
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// The options of a server under attack: default rate limits, short timeouts, a small body
/// budget, a connection cap below what the idle attack opens, a small storage budget, metrics
/// on a loopback port of their own, rendered every second.
pub fn server_options(scale: Scale) -> ServerOptions {
    let timeout = TIMEOUT.as_secs().to_string();
    let args = [
        ("--header-timeout-seconds", timeout.clone()),
        ("--idle-timeout-seconds", timeout.clone()),
        ("--body-stall-seconds", timeout),
        ("--body-memory-mib", BODY_MEMORY_MIB.to_string()),
        ("--max-connections", (scale.connections * 3 / 2).to_string()),
        ("--storage-budget-bytes", STORAGE_BUDGET.to_string()),
        ("--max-report-attachment-bytes", REPORT_ATTACHMENTS.to_string()),
        ("--metrics-listen", "127.0.0.1:0".to_owned()),
        ("--metrics-interval-seconds", "1".to_owned()),
    ];
    ServerOptions {
        generous_rates: false,
        // The start-up lines (with the metrics address), warnings and errors; not one line per
        // refused request.
        log: "warn,tipline_server=info,tipline_server::metrics=warn".to_owned(),
        extra_args: args
            .into_iter()
            .flat_map(|(flag, value)| [flag.to_owned(), value])
            .collect(),
        ..ServerOptions::default()
    }
}

/// What an attacker and the watchers need to know of the server under attack.
#[derive(Clone)]
pub struct Target {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// The API's address.
    pub addr: SocketAddr,
    /// The server's process id.
    pub pid: u32,
    /// `http://127.0.0.1:<port>/metrics`, if the server printed it.
    pub metrics_url: Option<String>,
    /// The unit the reports go to, and its encryption key from the verified directory.
    pub unit_key: EncryptionPublicKey,
    /// The unit's signing key (for the signed request that is replayed).
    pub unit_signing: Arc<SigningKey>,
    /// A reporter connected to the server.
    pub citizen: Citizen,
    /// Timeouts the server was started with.
    pub timeout: Duration,
}

impl Target {
    /// The target of `server` (started with [`server_options`]).
    pub async fn of(server: &mut TestServer) -> anyhow::Result<Target> {
        let url = server.url().to_owned();
        let addr: SocketAddr = url
            .trim_start_matches("http://")
            .parse()
            .context("the server's address")?;
        let metrics_url = metrics_url(&server.output());
        let pid = server.process().context("the server is not running")?.pid();
        let citizen = Citizen::connect(&url).await?;
        let unit_key = citizen.unit_key(&server.authority()?, UNIT).await?;
        let unit_signing = Arc::new(
            server
                .unit_keys(UNIT)?
                .signing_key()
                .map_err(|_| anyhow::anyhow!("the unit's signing key is not valid"))?,
        );
        Ok(Target {
            url,
            addr,
            pid,
            metrics_url,
            unit_key,
            unit_signing,
            citizen,
            timeout: TIMEOUT,
        })
    }

    /// A genuine report, sealed and stamped at the announced difficulty.
    pub async fn genuine_report(&self, text: &str) -> anyhow::Result<Submission> {
        let (citizen, key, text) = (self.citizen.clone(), self.unit_key, text.to_owned());
        tokio::task::spawn_blocking(move || citizen.seal(UNIT, &key, &text)).await?
    }
}

/// The `/metrics` address in the server's start-up lines.
fn metrics_url(output: &str) -> Option<String> {
    output
        .lines()
        .filter(|line| line.contains("/metrics"))
        .find_map(crate::process::find_loopback_url)
        .map(|base| format!("{base}/metrics"))
}

/// What an attack met, by outcome (`"401"`, `"503 busy"`, `"closed"`, ...), and how many
/// attempts it made.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    /// Attempts made (connections opened, requests sent).
    pub attempts: usize,
    /// How each ended.
    pub outcomes: BTreeMap<String, usize>,
}

impl Tally {
    /// Counts one attempt that ended with `outcome`.
    pub fn count(&mut self, outcome: impl Into<String>) {
        self.attempts += 1;
        *self.outcomes.entry(outcome.into()).or_default() += 1;
    }

    /// Adds up `other`.
    pub fn merge(&mut self, other: Tally) {
        self.attempts += other.attempts;
        for (outcome, n) in other.outcomes {
            *self.outcomes.entry(outcome).or_default() += n;
        }
    }

    /// How many ended with `outcome`.
    pub fn of(&self, outcome: &str) -> usize {
        self.outcomes.get(outcome).copied().unwrap_or(0)
    }

    /// How many ended with one of `outcomes`.
    pub fn of_any(&self, outcomes: &[&str]) -> usize {
        outcomes.iter().map(|o| self.of(o)).sum()
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} attempts:", self.attempts)?;
        for (outcome, n) in &self.outcomes {
            write!(f, " {n} {outcome};")?;
        }
        Ok(())
    }
}

/// What the watchers saw during an attack.
#[derive(Debug)]
pub struct Watched {
    /// The attack's own tally.
    pub tally: Tally,
    /// `/healthz` probes made, and those that did not answer 200 within [`PROBE_TIMEOUT`].
    pub probes: usize,
    /// Probes that failed.
    pub probes_failed: usize,
    /// The slowest probe.
    pub slowest_probe: Duration,
    /// The server's resident memory at its highest (VmHWM, over the process's life), KiB.
    pub peak_rss_kib: u64,
    /// The genuine report's outcome: its accepted answer (receipt verified), or why not.
    pub genuine: Result<Accepted, String>,
    /// Attempts the genuine reporter made.
    pub genuine_attempts: u32,
    /// From the genuine reporter's first attempt to its receipt (or giving up).
    pub genuine_took: Duration,
    /// How long the attack ran.
    pub attack_took: Duration,
}

impl Watched {
    /// Fails unless `/healthz` answered within [`HEALTH_BOUND`] throughout, the genuine report
    /// got its receipt, and the resident memory stayed under [`MEMORY_BUDGET_KIB`].
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.probes > 0, "no health probe was made");
        anyhow::ensure!(
            self.probes_failed == 0 && self.slowest_probe < HEALTH_BOUND,
            "/healthz: {} of {} probes failed, the slowest took {:?}",
            self.probes_failed,
            self.probes,
            self.slowest_probe
        );
        if let Err(e) = &self.genuine {
            anyhow::bail!(
                "the genuine report got no receipt after {} attempts: {e}",
                self.genuine_attempts
            );
        }
        anyhow::ensure!(
            self.peak_rss_kib < MEMORY_BUDGET_KIB,
            "peak resident memory {} KiB, budget {MEMORY_BUDGET_KIB} KiB",
            self.peak_rss_kib
        );
        Ok(())
    }
}

impl fmt::Display for Watched {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} in {:.1} s | /healthz {} probes, {} failed, slowest {:.0} ms | peak RSS {:.1} MiB | \
             genuine report: {} after {} attempt(s), {:.2} s",
            self.tally,
            self.attack_took.as_secs_f64(),
            self.probes,
            self.probes_failed,
            self.slowest_probe.as_secs_f64() * 1000.0,
            self.peak_rss_kib as f64 / 1024.0,
            match &self.genuine {
                Ok(accepted) => format!("receipt ({})", accepted.status),
                Err(e) => format!("FAILED ({e})"),
            },
            self.genuine_attempts,
            self.genuine_took.as_secs_f64()
        )
    }
}

/// The server's resident memory now and at its highest, in KiB (VmRSS, VmHWM).
pub fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|line| line.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// One `GET /healthz` on a fresh connection: whether it answered 200, and how long it took.
async fn probe(addr: SocketAddr) -> (bool, Duration) {
    let started = Instant::now();
    let exchange = async {
        let mut tcp = tokio::net::TcpStream::connect(addr).await?;
        tcp.write_all(b"GET /healthz HTTP/1.1\r\nhost: probe\r\nconnection: close\r\n\r\n")
            .await?;
        let mut answer = Vec::with_capacity(256);
        tcp.read_to_end(&mut answer).await?;
        anyhow::Ok(answer.starts_with(b"HTTP/1.1 200"))
    };
    match tokio::time::timeout(PROBE_TIMEOUT, exchange).await {
        Ok(Ok(ok)) => (ok, started.elapsed()),
        Ok(Err(_)) => (false, started.elapsed()),
        Err(_) => (false, PROBE_TIMEOUT),
    }
}

/// Files `submission` as the app's outbox does: again after a `503` (at its `Retry-After`, at
/// most a second) or a dropped connection, until its receipt verifies or `deadline` passed.
/// Returns the outcome and the attempts made.
pub async fn file_genuinely(
    citizen: &Citizen,
    submission: &Submission,
    deadline: Duration,
) -> (Result<Accepted, String>, u32) {
    let http = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
    {
        Ok(http) => http,
        Err(e) => return (Err(e.to_string()), 0),
    };
    let started = Instant::now();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let answer = http
            .post(format!(
                "{}{}",
                citizen.base(),
                tipline_core::api::paths::reports()
            ))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(submission.body.clone())
            .send()
            .await;
        let last = match answer {
            Ok(response) => {
                let status = response.status().as_u16();
                match response.bytes().await {
                    Ok(body) if status == 200 || status == 201 => {
                        return (
                            check_answer(&body, &citizen.info.server_key, &submission.envelope)
                                .map(|(receipt, verified)| Accepted {
                                    status,
                                    receipt,
                                    verified,
                                })
                                .map_err(|e| format!("{e:#}")),
                            attempts,
                        );
                    }
                    Ok(body) if status == 503 => format!("503 {}", String::from_utf8_lossy(&body)),
                    Ok(body) => {
                        return (
                            Err(format!("{status} {}", String::from_utf8_lossy(&body))),
                            attempts,
                        )
                    }
                    Err(e) => format!("reading the answer: {e}"),
                }
            }
            Err(e) => format!("{e}"),
        };
        if started.elapsed() > deadline {
            return (Err(format!("still refused at the deadline: {last}")), attempts);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Runs `attack` against `target` while probing `/healthz`, and files `genuine` once the attack
/// is under way.
pub async fn under_attack<F>(target: &Target, genuine: &Submission, attack: F) -> Watched
where
    F: std::future::Future<Output = Tally> + Send + 'static,
{
    let stop = Arc::new(AtomicBool::new(false));
    let prober = {
        let (stop, addr) = (Arc::clone(&stop), target.addr);
        tokio::spawn(async move {
            let (mut probes, mut failed, mut slowest) = (0, 0, Duration::ZERO);
            while !stop.load(Ordering::Relaxed) {
                let (ok, took) = probe(addr).await;
                probes += 1;
                failed += usize::from(!ok);
                slowest = slowest.max(took);
                tokio::time::sleep(PROBE_EVERY.saturating_sub(took)).await;
            }
            (probes, failed, slowest)
        })
    };
    let started = Instant::now();
    let attacking = tokio::spawn(attack);
    tokio::time::sleep(GENUINE_AFTER).await;
    let filing = Instant::now();
    let (genuine, genuine_attempts) = file_genuinely(&target.citizen, genuine, GENUINE_DEADLINE).await;
    let genuine_took = filing.elapsed();
    let tally = attacking.await.unwrap_or_else(|e| {
        let mut tally = Tally::default();
        tally.count(format!("attack panicked: {e}"));
        tally
    });
    let attack_took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let (probes, probes_failed, slowest_probe) = prober.await.unwrap_or((0, 0, Duration::MAX));
    let peak_rss_kib = memory_kib(target.pid).map_or(u64::MAX, |(_, hwm)| hwm);
    Watched {
        tally,
        probes,
        probes_failed,
        slowest_probe,
        peak_rss_kib,
        genuine,
        genuine_attempts,
        genuine_took,
        attack_took,
    }
}
