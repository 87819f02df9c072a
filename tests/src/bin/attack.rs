//! `intake-attack`: the adversarial suite at a larger scale than the tests run it, and goodput
//! under a flood. Prints the figures; no run fails on a time.
//!
//! 1. Each attack of [`tipline_e2e::attack`] at [`attack::LONG`] (1,000 connections, 20,000
//!    requests) against its own `tipline-server --dev` on loopback: what the attack met, the
//!    slowest `/healthz`, peak resident memory, and the genuine report's receipt and attempts.
//! 2. Goodput: genuine reporters (closed loop, `--reporters` at once, each report sealed and
//!    stamped before) file for `--seconds` with no attacker, then for as long while one client
//!    floods follow-ups to random cases and keeps `--connections` slow connections open.
//!    Printed: reports/s in each phase, their ratio (target: at least 0.5), the attacker's
//!    requests/s, and the server's CPU time per accepted report in each phase. The report
//!    bucket is lifted in this phase (it would cap both phases alike, at 100/s).
//!
//! Everything runs on this machine: the attacker's CPU is taken from the server's.
//!
//!   cargo build --release -p tipline-server -p tipline-e2e && target/release/intake-attack

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use futures_util::{FutureExt as _, StreamExt as _};
use tipline_e2e::attack::{self, Tally, Target, LONG};
use tipline_e2e::{Submission, TestServer, UNIT};
use tokio::io::AsyncWriteExt as _;

#[derive(Debug, Parser)]
#[command(
    name = "intake-attack",
    about = "Attacks on the intake server, and goodput under a flood"
)]
struct Args {
    /// Run only the attacks whose names contain this (`goodput` for the goodput phase only).
    #[arg(long)]
    only: Option<String>,
    /// Seconds of each goodput phase.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=120))]
    seconds: u64,
    /// Genuine reporters filing at once in the goodput phases.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=256))]
    reporters: u64,
    /// Slow connections the attacker keeps open in the goodput phase.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(0..=5000))]
    connections: u64,
    /// Follow-ups the attacker keeps in flight in the goodput phase.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=1024))]
    flood: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("intake-attack: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("intake-attack: {e:#}");
            ExitCode::FAILURE
        }
    }
}

type Attack = fn(Target) -> futures_util::future::BoxFuture<'static, Tally>;

/// The attacks at [`LONG`], by name.
fn attacks() -> Vec<(&'static str, Attack)> {
    vec![
        ("half-sent bodies", |t| {
            attack::half_sent_bodies(t, LONG.connections).boxed()
        }),
        ("slow headers", |t| {
            attack::slow_headers(t, LONG.connections).boxed()
        }),
        ("slow bodies", |t| {
            attack::slow_bodies(t, LONG.connections).boxed()
        }),
        ("idle connections", |t| {
            attack::idle_connections(t, LONG.connections * 2).boxed()
        }),
        ("made-up methods", |t| {
            attack::made_up_methods(t, LONG.requests, LONG.in_flight).boxed()
        }),
        ("follow-up flood", |t| {
            attack::follow_up_flood(t, LONG.requests, LONG.in_flight).boxed()
        }),
        ("disk-filling uploads", |t| attack::disk_fill(t).boxed()),
        ("replayed signed request", |t| {
            attack::replayed_unit_request(t, LONG.requests / 10, LONG.in_flight).boxed()
        }),
    ]
}

async fn run(args: Args) -> anyhow::Result<bool> {
    let mut all_held = true;
    println!(
        "intake-attack: {} cores, load average {}",
        std::thread::available_parallelism().map_or(0, usize::from),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    for (name, attack) in attacks() {
        if args.only.as_deref().is_some_and(|only| !name.contains(only)) {
            continue;
        }
        let mut server = TestServer::start(attack::server_options(LONG)).await?;
        let target = Target::of(&mut server).await?;
        let genuine = target.genuine_report("a genuine report during an attack").await?;
        let watched = attack::under_attack(&target, &genuine, attack(target.clone())).await;
        let verdict = match watched.check() {
            Ok(()) => "held".to_owned(),
            Err(e) => {
                all_held = false;
                format!("FAILED: {e:#}")
            }
        };
        println!("{name}: {verdict}\n  {watched}");
    }
    if args.only.as_deref().is_none_or(|only| "goodput".contains(only)) {
        goodput(&args).await?;
    }
    Ok(all_held)
}

/// The server's CPU time so far (user and system), from `/proc/<pid>/stat`.
fn cpu_time(pid: u32) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    // Fields after the command name (which ends with the last ')'): utime and stime are the
    // 12th and 13th, in clock ticks (100 a second on Linux).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

/// Files reports from `pool` with `reporters` at once for `seconds`: accepted reports, refusals,
/// and the time taken.
async fn file_for(
    target: &Target,
    pool: Vec<Submission>,
    reporters: usize,
    seconds: Duration,
) -> (usize, usize, Duration) {
    let started = Instant::now();
    let accepted = AtomicUsize::new(0);
    let refused = AtomicUsize::new(0);
    futures_util::stream::iter(pool)
        .take_while(|_| std::future::ready(started.elapsed() < seconds))
        .for_each_concurrent(reporters, |submission| {
            let (accepted, refused) = (&accepted, &refused);
            async move {
                match target.citizen.submit(&submission).await {
                    Ok(_) => accepted.fetch_add(1, Ordering::Relaxed),
                    Err(_) => refused.fetch_add(1, Ordering::Relaxed),
                };
            }
        })
        .await;
    (accepted.into_inner(), refused.into_inner(), started.elapsed())
}

/// The attacker of the goodput phase: follow-ups to random cases, `flood` in flight, and
/// `connections` connections that send a request head a byte at a time (each reopened when
/// the server closes it), until `stop`. Returns the follow-ups sent.
fn start_attacker(
    target: &Target,
    flood: usize,
    connections: usize,
    stop: Arc<AtomicBool>,
) -> (tokio::task::JoinHandle<usize>, Vec<tokio::task::JoinHandle<()>>) {
    let flooding = {
        let (target, stop) = (target.clone(), Arc::clone(&stop));
        tokio::spawn(async move {
            let mut sent = 0;
            while !stop.load(Ordering::Relaxed) {
                let tally = attack::follow_up_flood(target.clone(), flood * 20, flood).await;
                sent += tally.attempts;
            }
            sent
        })
    };
    let holders = (0..connections)
        .map(|_| {
            let (addr, stop) = (target.addr, Arc::clone(&stop));
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let Ok(mut tcp) = tokio::net::TcpStream::connect(addr).await else {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    };
                    if tcp
                        .write_all(b"POST /v1/reports HTTP/1.1\r\nhost: a\r\n")
                        .await
                        .is_err()
                    {
                        continue;
                    }
                    while !stop.load(Ordering::Relaxed) {
                        tokio::time::sleep(Duration::from_millis(250)).await;
                        if tcp.write_all(b"x").await.is_err() {
                            break;
                        }
                    }
                }
            })
        })
        .collect();
    (flooding, holders)
}

async fn goodput(args: &Args) -> anyhow::Result<()> {
    let mut options = attack::server_options(LONG);
    options.generous_rates = true;
    // Room for the attacker's connections, the reporters' and the probes.
    if let Some(at) = options.extra_args.iter().position(|a| a == "--max-connections") {
        options.extra_args[at + 1] = (args.connections as usize * 2 + 256).to_string();
    }
    // Room on disk for both phases' reports: the attacks' small storage budget would fill with
    // the quiet phase's reports and refuse every report of the flooded one.
    if let Some(at) = options
        .extra_args
        .iter()
        .position(|a| a == "--storage-budget-bytes")
    {
        options.extra_args[at + 1] = (4u64 << 30).to_string();
    }
    let mut server = TestServer::start(options).await?;
    let target = Target::of(&mut server).await?;
    let seconds = Duration::from_secs(args.seconds);
    let reporters = args.reporters as usize;
    // Enough reports for each phase at 3,000/s.
    let per_phase = (args.seconds as usize * 3_000).max(1_000);
    let (unit_key, difficulty) = (target.unit_key, target.citizen.info.stamp_difficulty);
    let pools = tokio::task::spawn_blocking(move || {
        let quiet = tipline_e2e::citizen::seal_many(UNIT, &unit_key, difficulty, per_phase, "quiet")?;
        let flooded = tipline_e2e::citizen::seal_many(UNIT, &unit_key, difficulty, per_phase, "flooded")?;
        anyhow::Ok((quiet, flooded))
    })
    .await??;

    let cpu = cpu_time(target.pid);
    let (quiet, quiet_refused, quiet_took) = file_for(&target, pools.0, reporters, seconds).await;
    let quiet_cpu = cpu_time(target.pid).saturating_sub(cpu);

    let stop = Arc::new(AtomicBool::new(false));
    // The attacker runs on a runtime (one thread) of its own, as another client would: on the
    // reporters' runtime its tasks would take turns with theirs, and the figure would measure
    // this program's scheduling rather than the server.
    let attacker = {
        let (target, stop) = (target.clone(), Arc::clone(&stop));
        let (flood, connections) = (args.flood as usize, args.connections as usize);
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                let (flooding, holders) = start_attacker(&target, flood, connections, Arc::clone(&stop));
                while !stop.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                for holder in holders {
                    holder.abort();
                }
                anyhow::Ok(flooding.await.unwrap_or(0))
            })
        })
    };
    // Let the attacker's connections open first.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let cpu = cpu_time(target.pid);
    let flood_started = Instant::now();
    let (flooded, flooded_refused, flooded_took) = file_for(&target, pools.1, reporters, seconds).await;
    let flooded_cpu = cpu_time(target.pid).saturating_sub(cpu);
    stop.store(true, Ordering::Relaxed);
    let follow_ups = tokio::task::spawn_blocking(move || attacker.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the attacker's thread panicked"))??;
    let flood_seconds = flood_started.elapsed().as_secs_f64();

    let rate = |n: usize, took: Duration| n as f64 / took.as_secs_f64();
    let per_report = |cpu: Duration, n: usize| cpu.as_secs_f64() * 1e6 / n.max(1) as f64;
    let (quiet_rate, flooded_rate) = (rate(quiet, quiet_took), rate(flooded, flooded_took));
    println!(
        "goodput: {reporters} reporters, stamp difficulty {difficulty}\n  \
         no attacker: {quiet} reports in {:.1} s = {quiet_rate:.0}/s ({quiet_refused} refused), \
         server CPU {:.0} us/report\n  \
         under attack: {flooded} reports in {:.1} s = {flooded_rate:.0}/s ({flooded_refused} refused), \
         server CPU {:.0} us/report, while {follow_ups} follow-ups ({:.0}/s, {} in flight) and {} \
         slow connections\n  \
         ratio {:.2} (target >= 0.5)",
        quiet_took.as_secs_f64(),
        per_report(quiet_cpu, quiet),
        flooded_took.as_secs_f64(),
        per_report(flooded_cpu, flooded),
        follow_ups as f64 / flood_seconds,
        args.flood,
        args.connections,
        flooded_rate / quiet_rate.max(f64::MIN_POSITIVE),
    );
    Ok(())
}
