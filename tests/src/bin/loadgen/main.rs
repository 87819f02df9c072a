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
//! 5. the desk's backlog: 1,000 reports wait for a unit whose desk is off, then its desk starts,
//!    through the receiving loop every desk front end runs, and takes them all (open, store
//!    encrypted, acknowledge): the desk's rate against the rate the intake accepted them at
//!    (target at least 1.0);
//! 6. the ceiling: `intake-ceiling`, the server's own router, checks and receipt signing over a
//!    store that keeps no report, driven like phase 2 (its 10,000 submissions sent in turn,
//!    every 201 checked for a receipt): how fast intake could be if durable storage cost
//!    nothing, to tell the storage's share of the gap to the bare handler from the rest.
//!
//! Every submission is a distinct, valid sealed report (fresh report id and case) made before
//! the phase that sends it. The intake server runs with `--stamp-difficulty 0` (the stamp is
//! still checked, it just costs nothing to solve) and with its anonymous rate limit lifted, so
//! the benchmark measures intake, not proof of work or the limiter.
//!
//! 7. PostgreSQL (a cluster the benchmark starts from Debian's packages, fsync on): intake on
//!    one node, measured between two runs of the SQLite node of phase (c), then two nodes on
//!    one database sharing the load, followed by one node again, then push across nodes (a desk
//!    live on one node, reports submitted to the other). Targets: one PostgreSQL node at least
//!    0.5x the SQLite node's requests/s (the mean of the runs just before and after it), two
//!    nodes more than one (the mean of the one-node runs before and after them), push across
//!    nodes median under 10 ms. For every phase the server's CPU time per request, from
//!    `/proc/<pid>/stat`.
//!
//! It is a benchmark, not a test: a missed target prints MISS and the exit status stays 0. It
//! exits non-zero only if a server fails (does not start, errors, answers anything but 201) or
//! a receipt or a push is missing. Everything runs on loopback and every phase ends by itself;
//! a default run takes two to three minutes.
//!
//! Run it (release builds of both; the load generator shares the machine's cores with the
//! server under test, as `wrk` would):
//!
//! ```text
//! cargo build --release -p tipline-server -p tipline-e2e && target/release/loadgen
//! target/release/loadgen --duration-secs 5 --connections 64
//! target/release/loadgen --only-backlog    # the desk's backlog phase alone
//! ```
//!
//! Here: the command line and the run, phase after phase. The push and ceiling phases are in
//! `push.rs` and `ceiling.rs`, the submissions the phases send in `pool.rs`, what makes a run fail
//! in `checks.rs`, and the closing tables in `report.rs`.

mod backlog;
mod ceiling;
mod checks;
mod nodes;
mod pool;
mod push;
mod report;

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Duration;

use clap::Parser;
use tipline_e2e::binaries::{self, Binary, BARE, CEILING, SERVER};
use tipline_e2e::load::{closed_loop, open_loop, Load};
use tipline_e2e::{ChildServer, Citizen, ServerOptions, TestServer};

use crate::backlog::{backlog_phase, BACKLOG, BACKLOG_UNIT};
use crate::ceiling::ceiling_phase;
use crate::checks::{check_receipts, phase_failures};
use crate::nodes::{cpu_of, postgres_phases, CpuRow, SqliteNode};
use crate::pool::{addr_of, bodies, generate};
use crate::push::push_phase;
use crate::report::{load_average, Measured};

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
    /// Run only the desk's backlog phase (f), after a short warm-up of the intake.
    #[arg(long)]
    only_backlog: bool,
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

/// `--only-backlog`: the intake warmed up for a second (as the earlier phases warm it in a whole
/// run), then the backlog phase and its target.
async fn only_backlog(
    server: &TestServer,
    citizen: &Citizen,
    intake_key: &tipline_core::keys::EncryptionPublicKey,
    intake_addr: std::net::SocketAddr,
    connections: usize,
) -> anyhow::Result<Vec<String>> {
    let mut failures = Vec::new();
    println!("\n(c) intake warm-up, closed loop");
    let warm_pool = generate(INTAKE_UNIT, intake_key, WARM_UP_POOL / 2, "the warm-up")?;
    let warm_load = Load {
        addr: intake_addr,
        path: "/v1/reports",
        bodies: bodies(&warm_pool),
        reuse: false,
        keep_status: Some(201),
    };
    let warm = closed_loop(&warm_load, connections, WARM_UP).await?;
    phase_failures("intake warm-up", &warm, 201, &mut failures);
    println!("  {:.0} requests/s", warm.rate());
    println!(
        "\n(f) the desk's backlog: {BACKLOG} reports for {BACKLOG_UNIT} while its desk is off, then its desk"
    );
    let backlog = backlog_phase(server, citizen, connections, &mut failures).await?;
    println!("\nTargets");
    backlog.print_target();
    if let Some(load) = load_average() {
        println!("  load average after the run: {load:.2} (this run's own load included)");
    }
    Ok(failures)
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
    let mut server = TestServer::start_with(server_bin.clone(), options.clone()).await?;
    let server_pid = server.process().map(|p| p.pid()).unwrap_or_default();
    let mut cpu: Vec<CpuRow> = Vec::new();
    let citizen = Citizen::connect(server.url()).await?;
    anyhow::ensure!(
        citizen.info.stamp_difficulty == DIFFICULTY,
        "the server announces difficulty {}",
        citizen.info.stamp_difficulty
    );
    let server_key = citizen.info.server_key;
    let intake_key = citizen.unit_key(&server.authority()?, INTAKE_UNIT).await?;
    let intake_addr = addr_of(server.url())?;

    if args.only_backlog {
        return only_backlog(&server, &citizen, &intake_key, intake_addr, connections).await;
    }

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
    let before = cpu_of(&[server_pid]);
    let peak = closed_loop(&peak_load, connections, duration).await?;
    cpu.push(CpuRow {
        phase: "sqlite, one node".to_owned(),
        requests: peak.answered(),
        cpu_seconds: cpu_of(&[server_pid]) - before,
        database_cpu_seconds: None,
    });
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
    let before = cpu_of(&[server_pid]);
    let half = open_loop(&half_load, connections, half_rate, duration).await?;
    cpu.push(CpuRow {
        phase: "sqlite, half the peak rate".to_owned(),
        requests: half.answered(),
        cpu_seconds: cpu_of(&[server_pid]) - before,
        database_cpu_seconds: None,
    });
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
    let before = cpu_of(&[server_pid]);
    let push = push_phase(
        &server,
        server.url(),
        server.url(),
        &citizen,
        args.push_rate,
        args.push_secs,
        !args.no_ack,
        &mut failures,
    )
    .await?;

    println!(
        "\n(f) the desk's backlog: {BACKLOG} reports for {BACKLOG_UNIT} while its desk is off, then its desk"
    );
    cpu.push(CpuRow {
        phase: "sqlite, push".to_owned(),
        requests: push.submissions.answered(),
        cpu_seconds: cpu_of(&[server_pid]) - before,
        database_cpu_seconds: None,
    });
    let backlog = backlog_phase(&server, &citizen, connections, &mut failures).await?;

    // The SQLite node stays up: the PostgreSQL phases measure it again beside their own.
    let sqlite = SqliteNode {
        addr: intake_addr,
        unit_key: intake_key,
        server_key,
        pid: server_pid,
        rate: peak.rate(),
    };
    let nodes = postgres_phases(
        &sqlite,
        server_bin,
        options.clone(),
        connections,
        duration,
        args.push_rate,
        args.push_secs,
        &mut cpu,
        &mut failures,
    )
    .await?;
    drop(server);

    println!("\n(g) ceiling: the same server over a store that keeps no report, closed loop");
    let ceiling = ceiling_phase(ceiling_bin, options, connections, duration, &mut failures).await?;
    println!("  {:.0} requests/s", ceiling.rate());

    let measured = Measured {
        bare,
        peak,
        half,
        half_rate,
        ceiling,
        push,
        push_rate: args.push_rate,
        backlog,
    };
    measured.print_results();
    measured.print_targets();
    report::print_nodes(&measured.peak, &nodes, &cpu);
    Ok(failures)
}
