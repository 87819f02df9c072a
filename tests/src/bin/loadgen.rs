//! The intake load benchmark (DESIGN.md, Targets). In one run on one machine it measures:
//!
//! 1. a bare axum 0.8 handler (`bare`) driven closed-loop: the baseline requests per second;
//! 2. `tipline-server` (release, `--dev`, fresh data directory) taking durable submissions
//!    closed-loop: peak requests per second, p50/p99, and every 201 checked for a receipt that
//!    verifies against the server key of `/v1/config`;
//! 3. the same intake driven open-loop at half that peak: p99 (target under 20 ms);
//! 4. push: a desk holds the live stream of another unit (no backlog) while reports for it come
//!    in at a moderate rate, and acknowledges each as it arrives (`--no-ack` to leave them);
//!    per report, the time from its 201 arriving at the client to its event arriving at the
//!    desk (same process, same clock): median (target under 5 ms) and p99.
//! 5. the ceiling: `intake-ceiling`, the server's own router, checks and receipt signing over a
//!    store that keeps no report, driven like phase 2 (its 10,000 submissions sent in turn,
//!    every 201 checked for a receipt): how fast intake could be if durable storage cost
//!    nothing, to tell the storage's share of the gap to the bare handler from the rest.
//!
//! Every submission is a distinct, valid sealed report (fresh report id and case) made before
//! the phase that sends it. The intake server runs with `--stamp-difficulty 0` (the stamp is
//! still checked, it just costs nothing to solve) and with its anonymous rate limit lifted, so
//! the benchmark measures intake, not proof of work or the limiter.
//!
//! It is a benchmark, not a test: a missed target prints MISS and the exit status stays 0. It
//! exits non-zero only if a server fails (does not start, errors, answers anything but 201) or
//! a receipt or a push is missing. Everything runs on loopback and every phase ends by itself;
//! a default run takes about a minute and a half.
//!
//! Run it (release builds of both; the load generator shares the machine's cores with the
//! server under test, as `wrk` would):
//!
//! ```text
//! cargo build --release -p tipline-server -p tipline-e2e && target/release/loadgen
//! target/release/loadgen --duration-secs 5 --connections 64
//! ```

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use clap::Parser;
use hdrhistogram::Histogram;
use tipline_core::keys::{EncryptionPublicKey, VerifyingKey};
use tipline_core::report::ReportId;
use tipline_e2e::binaries::{self, Binary, BARE, CEILING, SERVER};
use tipline_e2e::citizen::{check_answer, seal_many};
use tipline_e2e::load::{self, closed_loop, open_loop, Answer, Load, PhaseResult};
use tipline_e2e::{
    desk, live_inbox, next_report, ChildServer, Citizen, ServerOptions, Submission, TestServer,
};
use tokio::time::Instant;

/// The unit the intake phases file to.
const INTAKE_UNIT: &str = tipline_e2e::UNIT;
/// The unit of the push phase: no backlog from the intake phases in its inbox.
const PUSH_UNIT: &str = tipline_e2e::OTHER_UNIT;
/// The stamp difficulty the intake server runs at.
const DIFFICULTY: u8 = 0;
/// Warm-up of each closed loop before it is measured.
const WARM_UP: Duration = Duration::from_secs(1);
/// Submissions made for the intake warm-up (which also sizes the measured phase).
const WARM_UP_POOL: usize = 10_000;
/// Connections of the push phase's submitter.
const PUSH_CONNECTIONS: usize = 4;
/// Targets.
const TARGET_RATIO: f64 = 0.5;
const TARGET_P99_HALF_MS: f64 = 20.0;
const TARGET_PUSH_MEDIAN_MS: f64 = 5.0;

/// Tipline intake load benchmark (loopback only).
#[derive(Debug, Parser)]
#[command(name = "loadgen")]
struct Args {
    /// Seconds each measured phase runs.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=30))]
    duration_secs: u64,
    /// Keep-alive connections of the closed and open loops.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=1024))]
    connections: u64,
    /// The `tipline-server` binary (default: next to this one, built if need be).
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// The `bare` binary (default: next to this one, built if need be).
    #[arg(long)]
    bare_bin: Option<PathBuf>,
    /// The `intake-ceiling` binary (default: next to this one, built if need be).
    #[arg(long)]
    ceiling_bin: Option<PathBuf>,
    /// Reports per second of the push phase.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=5000))]
    push_rate: u64,
    /// Seconds of the push phase.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=30))]
    push_secs: u64,
    /// In the push phase, leave the reports unacknowledged (by default the desk acknowledges
    /// each one as it arrives, as a desk does once it stored it).
    #[arg(long)]
    no_ack: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("loadgen: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(failures) if failures.is_empty() => ExitCode::SUCCESS,
        Ok(failures) => {
            eprintln!("\nloadgen: FAILED");
            for failure in failures {
                eprintln!("  - {failure}");
            }
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("\nloadgen: FAILED: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The 1-minute load average (Linux), to tell a quiet machine from a busy one.
fn load_average() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

fn addr_of(url: &str) -> anyhow::Result<SocketAddr> {
    url.trim_start_matches("http://")
        .parse()
        .with_context(|| format!("not a loopback address: {url}"))
}

/// Seals `count` distinct submissions to `unit_id` on every core, and says how long it took.
fn generate(
    unit_id: &str,
    key: &EncryptionPublicKey,
    count: usize,
    what: &str,
) -> anyhow::Result<Vec<Submission>> {
    let started = std::time::Instant::now();
    let all = seal_many(unit_id, key, DIFFICULTY, count, what)?;
    let secs = started.elapsed().as_secs_f64();
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    println!(
        "  sealed {count} submissions for {what} in {secs:.1} s ({:.0}/s on {threads} threads)",
        count as f64 / secs.max(1e-9)
    );
    Ok(all)
}

fn bodies(pool: &[Submission]) -> Arc<Vec<Bytes>> {
    Arc::new(pool.iter().map(|s| s.body.clone()).collect())
}

/// What checking the receipts found.
#[derive(Default)]
struct Checked {
    /// Receipts that did not verify (or a checking thread that panicked: `usize::MAX`).
    failed: usize,
    /// The first reason.
    first: Option<String>,
    /// The distinct batch signatures among the receipts that verified.
    batches: HashSet<Vec<u8>>,
}

/// Checks every kept 201 answer against the submission it answers, on every core.
fn verify_receipts(answers: &[Answer], pool: &[Submission], server_key: &VerifyingKey) -> Checked {
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let chunk = answers.len().div_ceil(threads).max(1);
    let results: Vec<Checked> = std::thread::scope(|scope| {
        let handles: Vec<_> = answers
            .chunks(chunk)
            .map(|answers| {
                scope.spawn(move || {
                    let mut checked = Checked::default();
                    for answer in answers {
                        match check_answer(&answer.body, server_key, &pool[answer.index].envelope) {
                            Ok((receipt, _)) => {
                                checked.batches.insert(receipt.batch.signature);
                            }
                            Err(e) => {
                                checked.failed += 1;
                                checked.first.get_or_insert_with(|| format!("{e:#}"));
                            }
                        }
                    }
                    checked
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| Checked {
                    failed: usize::MAX,
                    first: Some("a checking thread panicked".to_owned()),
                    batches: HashSet::new(),
                })
            })
            .collect()
    });
    results.into_iter().fold(Checked::default(), |mut all, part| {
        all.failed = all.failed.saturating_add(part.failed);
        all.first = all.first.or(part.first);
        all.batches.extend(part.batches);
        all
    })
}

fn row(name: &str, result: &PhaseResult, histogram: &Histogram<u64>) {
    println!(
        "  {name:<34} {:>9} {:>10.0} {:>9.2} {:>9.2} {:>9.2}",
        result.answered(),
        result.rate(),
        ms(histogram.value_at_quantile(0.5)),
        ms(histogram.value_at_quantile(0.99)),
        ms(histogram.max()),
    );
}

/// Problems that make the run fail (not missed targets).
fn phase_failures(name: &str, result: &PhaseResult, expected: u16, failures: &mut Vec<String>) {
    if result.errors > 0 {
        failures.push(format!(
            "{name}: {} requests got no answer (first: {})",
            result.errors,
            result.first_error.as_deref().unwrap_or("?")
        ));
    }
    let unexpected: Vec<String> = result
        .statuses
        .iter()
        .filter(|(status, _)| **status != expected)
        .map(|(status, count)| format!("{count} x {status}"))
        .collect();
    if !unexpected.is_empty() {
        failures.push(format!(
            "{name}: answers other than {expected}: {}",
            unexpected.join(", ")
        ));
    }
    if result.answered() == 0 {
        failures.push(format!("{name}: no answer at all"));
    }
}

fn check_receipts(
    name: &str,
    result: &PhaseResult,
    pool: &[Submission],
    key: &VerifyingKey,
    failures: &mut Vec<String>,
) {
    let Checked {
        failed,
        first,
        batches,
    } = verify_receipts(&result.answers, pool, key);
    let verified = result.answers.len().saturating_sub(failed);
    println!(
        "  {name}: {} answers 201, {verified} receipts verified, signed in {} batches ({:.1} receipts per signature)",
        result.count(201),
        batches.len(),
        verified as f64 / batches.len().max(1) as f64
    );
    if failed > 0 || result.answers.len() as u64 != result.count(201) {
        failures.push(format!(
            "{name}: {failed} receipts missing or invalid (first: {})",
            first.as_deref().unwrap_or("?")
        ));
    }
}

struct Push {
    latency: Histogram<u64>,
    submissions: PhaseResult,
    reports: usize,
    events: usize,
    before_answer: usize,
}

/// The push phase: a live desk of `PUSH_UNIT`, reports for it at `rate` per second.
async fn push_phase(
    server: &TestServer,
    citizen: &Citizen,
    rate: u64,
    secs: u64,
    ack: bool,
    failures: &mut Vec<String>,
) -> anyhow::Result<Push> {
    let key = citizen.unit_key(&server.authority()?, PUSH_UNIT).await?;
    let count = usize::try_from(rate * secs)?;
    let pool = generate(PUSH_UNIT, &key, count, "the push phase")?;
    let desk = Arc::new(desk(server, PUSH_UNIT)?);
    let mut stream = live_inbox(&desk).await?;
    let listen_for = Duration::from_secs(secs + 5);
    let expected = pool.len();
    let listener = tokio::spawn(async move {
        let deadline = Instant::now() + listen_for;
        let mut seen: HashMap<ReportId, Instant> = HashMap::with_capacity(expected);
        let mut acks = Vec::new();
        while seen.len() < expected {
            let left = deadline.saturating_duration_since(Instant::now());
            match next_report(&mut stream, left).await {
                Ok(Some(delivered)) => {
                    seen.entry(delivered.report_id).or_insert_with(Instant::now);
                    if ack {
                        // As a desk does once it stored the report; off the stream's path.
                        let desk = Arc::clone(&desk);
                        acks.push(tokio::spawn(async move { desk.ack(delivered.report_id).await }));
                    }
                }
                Ok(None) => break,
                Err(e) => return Err(e),
            }
        }
        let mut failed_acks = 0;
        for ack in acks {
            if !matches!(ack.await, Ok(Ok(()))) {
                failed_acks += 1;
            }
        }
        Ok((seen, failed_acks))
    });
    let push_load = Load {
        addr: addr_of(server.url())?,
        path: "/v1/reports",
        bodies: bodies(&pool),
        reuse: false,
        keep_status: Some(201),
    };
    let result = open_loop(
        &push_load,
        PUSH_CONNECTIONS,
        rate as f64,
        Duration::from_secs(secs),
    )
    .await?;
    phase_failures("push submissions", &result, 201, failures);
    check_receipts(
        "push submissions",
        &result,
        &pool,
        &citizen.info.server_key,
        failures,
    );
    let (seen, failed_acks) = listener.await??;
    if failed_acks > 0 {
        failures.push(format!("push: {failed_acks} acknowledgements failed"));
    }
    let mut latency = load::histogram();
    let mut before_answer = 0;
    let mut events = 0;
    for answer in &result.answers {
        let Some(event_at) = seen.get(&pool[answer.index].report_id) else {
            continue;
        };
        events += 1;
        if *event_at < answer.at {
            before_answer += 1;
        }
        load::record(&mut latency, event_at.saturating_duration_since(answer.at));
    }
    if events < result.answers.len() {
        failures.push(format!(
            "push: {} of {} stored reports never reached the live desk",
            result.answers.len() - events,
            result.answers.len()
        ));
    }
    Ok(Push {
        latency,
        reports: result.answers.len(),
        events,
        before_answer,
        submissions: result,
    })
}

/// The ceiling phase: `intake-ceiling` with the intake server's options, its own dev setup,
/// its submissions sent in turn for a warm-up and then `duration`, every 201 checked.
async fn ceiling_phase(
    binary: PathBuf,
    options: ServerOptions,
    connections: usize,
    duration: Duration,
    failures: &mut Vec<String>,
) -> anyhow::Result<PhaseResult> {
    let server = TestServer::start_with(binary, options).await?;
    let citizen = Citizen::connect(server.url()).await?;
    let key = citizen.unit_key(&server.authority()?, INTAKE_UNIT).await?;
    let pool = generate(INTAKE_UNIT, &key, WARM_UP_POOL, "the ceiling")?;
    let load = Load {
        addr: addr_of(server.url())?,
        path: "/v1/reports",
        bodies: bodies(&pool),
        // It keeps nothing, so a submission sent again is work done again, not a duplicate.
        reuse: true,
        keep_status: Some(201),
    };
    closed_loop(&load, connections, WARM_UP).await?;
    let result = closed_loop(&load, connections, duration).await?;
    drop(server);
    phase_failures("ceiling", &result, 201, failures);
    check_receipts("ceiling", &result, &pool, &citizen.info.server_key, failures);
    Ok(result)
}

fn verdict(pass: bool) -> &'static str {
    if pass {
        "PASS"
    } else {
        "MISS"
    }
}

/// The binary given on the command line, or `which` next to this one (built if need be).
async fn binary(given: Option<PathBuf>, which: Binary) -> anyhow::Result<PathBuf> {
    match given {
        Some(path) => Ok(path),
        None => tokio::task::spawn_blocking(move || binaries::locate(which)).await?,
    }
}

async fn run(args: Args) -> anyhow::Result<Vec<String>> {
    let duration = Duration::from_secs(args.duration_secs);
    let connections = usize::try_from(args.connections)?;
    let mut failures = Vec::new();
    let (_, profile) = binaries::profile_dir()?;
    let server_bin = binary(args.server_bin, SERVER).await?;
    let bare_bin = binary(args.bare_bin, BARE).await?;
    let ceiling_bin = binary(args.ceiling_bin, CEILING).await?;
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "Tipline intake load benchmark (loopback; {cpus} CPUs shared by the load generator and the server)"
    );
    if profile != "release" {
        println!("  WARNING: this is a {profile} build; figures only mean something from release builds");
    }
    println!("  tipline-server: {}", server_bin.display());
    println!("  bare:           {}", bare_bin.display());
    println!("  intake-ceiling: {}", ceiling_bin.display());
    println!(
        "  stamp difficulty {DIFFICULTY} (intake server started with --stamp-difficulty {DIFFICULTY}; \
         stamps are checked but cost nothing to solve), anonymous rate limit lifted"
    );
    println!(
        "  {connections} keep-alive HTTP/1.1 connections, {} s per measured phase, {} s warm-up before each closed loop",
        args.duration_secs,
        WARM_UP.as_secs()
    );
    let load_before = load_average();
    if let Some(load) = load_before {
        println!("  load average before the run: {load:.2}");
        if load > 0.5 {
            println!("  WARNING: other processes are busy on this machine; the figures will be noisy");
        }
    }

    // The intake server first: its dev setup holds the unit keys the submissions are sealed to.
    let options = ServerOptions {
        stamp_difficulty: DIFFICULTY,
        log: "warn".to_owned(),
        ..ServerOptions::default()
    };
    let server = TestServer::start_with(server_bin, options.clone()).await?;
    let citizen = Citizen::connect(server.url()).await?;
    anyhow::ensure!(
        citizen.info.stamp_difficulty == DIFFICULTY,
        "the server announces difficulty {}",
        citizen.info.stamp_difficulty
    );
    let server_key = citizen.info.server_key;
    let intake_key = citizen.unit_key(&server.authority()?, INTAKE_UNIT).await?;
    let intake_addr = addr_of(server.url())?;

    println!("\n(a) submissions");
    let warm_pool = generate(
        INTAKE_UNIT,
        &intake_key,
        WARM_UP_POOL,
        "the warm-ups and the bare baseline",
    )?;
    let body_bytes = warm_pool.iter().map(|s| s.body.len()).sum::<usize>() / warm_pool.len().max(1);
    println!("  request body: {body_bytes} bytes on average (a short report, sealed in the 1 KiB bucket)");

    println!("\n(b) bare axum handler, closed loop");
    let bare = {
        let mut command = Command::new(&bare_bin);
        command.args(["--listen", "127.0.0.1:0"]);
        let process = ChildServer::spawn("bare", command)?;
        let bare_load = Load {
            addr: addr_of(process.url())?,
            path: "/v1/reports",
            bodies: bodies(&warm_pool),
            reuse: true,
            keep_status: None,
        };
        closed_loop(&bare_load, connections, WARM_UP).await?;
        let result = closed_loop(&bare_load, connections, duration).await?;
        drop(process);
        result
    };
    phase_failures("bare", &bare, 200, &mut failures);
    println!("  {:.0} requests/s", bare.rate());

    println!("\n(c) intake (durable commit), closed loop");
    let warm_load = Load {
        addr: intake_addr,
        path: "/v1/reports",
        bodies: bodies(&warm_pool),
        reuse: false,
        keep_status: Some(201),
    };
    let warm = closed_loop(&warm_load, connections, WARM_UP).await?;
    phase_failures("intake warm-up", &warm, 201, &mut failures);
    check_receipts("intake warm-up", &warm, &warm_pool, &server_key, &mut failures);
    drop(warm_pool);
    let sized = (warm.rate() * 1.3 * duration.as_secs_f64()).ceil() as usize;
    let peak_pool = generate(
        INTAKE_UNIT,
        &intake_key,
        sized.clamp(1000, 2_000_000),
        "the peak phase",
    )?;
    let peak_load = Load {
        bodies: bodies(&peak_pool),
        ..warm_load.clone()
    };
    let peak = closed_loop(&peak_load, connections, duration).await?;
    phase_failures("intake peak", &peak, 201, &mut failures);
    check_receipts("intake peak", &peak, &peak_pool, &server_key, &mut failures);
    if peak.exhausted {
        println!(
            "  note: the {} submissions ran out after {:.1} s; the rate is over that time",
            peak_pool.len(),
            peak.elapsed.as_secs_f64()
        );
    }
    drop(peak_pool);
    println!("  {:.0} requests/s", peak.rate());

    println!("\n(d) intake, open loop at half the peak rate");
    let half_rate = (peak.rate() / 2.0).max(1.0);
    let half_count = (half_rate * duration.as_secs_f64()).ceil() as usize;
    let half_pool = generate(INTAKE_UNIT, &intake_key, half_count, "the half-peak phase")?;
    let half_load = Load {
        bodies: bodies(&half_pool),
        ..warm_load.clone()
    };
    let half = open_loop(&half_load, connections, half_rate, duration).await?;
    phase_failures("intake half peak", &half, 201, &mut failures);
    check_receipts("intake half peak", &half, &half_pool, &server_key, &mut failures);
    drop(half_pool);
    println!(
        "  offered {half_rate:.0} requests/s, served {:.0} requests/s",
        half.rate()
    );

    println!(
        "\n(e) push: a live desk of {PUSH_UNIT}{}, {} reports/s for {} s",
        if args.no_ack {
            " that acknowledges nothing"
        } else {
            " that acknowledges each report"
        },
        args.push_rate,
        args.push_secs
    );
    let push = push_phase(
        &server,
        &citizen,
        args.push_rate,
        args.push_secs,
        !args.no_ack,
        &mut failures,
    )
    .await?;
    drop(server);

    println!("\n(f) ceiling: the same server over a store that keeps no report, closed loop");
    let ceiling = ceiling_phase(ceiling_bin, options, connections, duration, &mut failures).await?;
    println!("  {:.0} requests/s", ceiling.rate());

    println!("\nResults (latency in ms)");
    println!(
        "  {:<34} {:>9} {:>10} {:>9} {:>9} {:>9}",
        "phase", "requests", "req/s", "p50", "p99", "max"
    );
    row("bare axum, closed loop", &bare, &bare.latency);
    row("intake, closed loop (peak)", &peak, &peak.latency);
    row("intake, half peak, from schedule", &half, &half.latency);
    row("intake, half peak, from send", &half, &half.service);
    row("ceiling (keeps no report), closed", &ceiling, &ceiling.latency);
    row(
        "push phase submissions, from send",
        &push.submissions,
        &push.submissions.service,
    );
    println!(
        "  {:<34} {:>9} {:>10} {:>9.2} {:>9.2} {:>9.2}",
        "push, 201 -> desk event",
        push.events,
        args.push_rate,
        ms(push.latency.value_at_quantile(0.5)),
        ms(push.latency.value_at_quantile(0.99)),
        ms(push.latency.max()),
    );
    println!(
        "  push: {} of {} reports reached the desk; {} events arrived before their 201 (counted as 0)",
        push.events, push.reports, push.before_answer
    );

    if let Some(load) = load_average() {
        println!("  load average after the run: {load:.2} (this run's own load included)");
    }

    let ratio = peak.rate() / bare.rate().max(1e-9);
    let p99_half = ms(half.latency.value_at_quantile(0.99));
    println!("\nTargets");
    println!("  {:<40} {:>12} {:>10}  result", "", "measured", "target");
    println!(
        "  {:<40} {:>12.2} {:>10}  {}",
        format!("intake rps / bare rps ({:.0} / {:.0})", peak.rate(), bare.rate()),
        ratio,
        format!(">= {TARGET_RATIO}"),
        verdict(ratio >= TARGET_RATIO)
    );
    println!(
        "  {:<40} {:>9.2} ms {:>10}  {}",
        format!("p99 at half peak ({half_rate:.0}/s)"),
        p99_half,
        format!("< {TARGET_P99_HALF_MS} ms"),
        verdict(p99_half < TARGET_P99_HALF_MS)
    );
    println!(
        "  {:<40} {:>12.2} {:>10}  (no store could do better)",
        format!(
            "ceiling rps / bare rps ({:.0} / {:.0})",
            ceiling.rate(),
            bare.rate()
        ),
        ceiling.rate() / bare.rate().max(1e-9),
        "",
    );
    let median = ms(push.latency.value_at_quantile(0.5));
    println!(
        "  {:<40} {:>9.2} ms {:>10}  {}",
        "push median (201 -> desk event)",
        median,
        format!("< {TARGET_PUSH_MEDIAN_MS} ms"),
        verdict(median < TARGET_PUSH_MEDIAN_MS)
    );
    Ok(failures)
}
