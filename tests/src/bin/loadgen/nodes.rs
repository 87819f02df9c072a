//! The PostgreSQL phases: intake on one node over PostgreSQL, then two nodes sharing the load on
//! one database, then push across nodes (a desk live on one node, reports submitted to the
//! other). PostgreSQL runs with its default durability (fsync on), started by the benchmark from
//! Debian's packages on loopback; the nodes share a receipt key file, so every 201 is checked
//! against one key. And the server's CPU time per request, from `/proc/<pid>/stat`, for every
//! phase: figures that do not depend on how much of the machine the load generator takes.

use std::time::Duration;

use tipline_core::keys::SigningKey;
use tipline_e2e::load::{closed_loop, Load, PhaseResult};
use tipline_e2e::postgres::Cluster;
use tipline_e2e::{Citizen, ServerOptions, TestServer};

use crate::checks::{check_receipts, phase_failures};
use crate::pool::{addr_of, bodies, generate};
use crate::push::{push_phase, Push};
use crate::{INTAKE_UNIT, WARM_UP, WARM_UP_POOL};

/// CPU time (user + system) a process has used, in seconds, from `/proc/<pid>/stat`.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) in parentheses: utime and stime
    // are the 14th and 15th fields of the line, the 12th and 13th after the ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / clock_ticks())
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on Linux almost everywhere).
fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Server CPU seconds used by `pids` together.
pub fn cpu_of(pids: &[u32]) -> f64 {
    pids.iter().filter_map(|pid| cpu_seconds(*pid)).sum()
}

/// The processes of a running PostgreSQL: the postmaster (first line of `postmaster.pid`) and
/// its children (backends, WAL writer, checkpointer...), as they are now.
fn postgres_pids(cluster: &Cluster) -> Vec<u32> {
    let Some(postmaster) = std::fs::read_to_string(cluster.dir().join("data").join("postmaster.pid"))
        .ok()
        .and_then(|text| text.lines().next()?.trim().parse::<u32>().ok())
    else {
        return Vec::new();
    };
    let mut pids = vec![postmaster];
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for entry in entries.filter_map(Result::ok) {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
        else {
            continue;
        };
        // The parent is the 2nd field after the ')' that closes the command name.
        let parent = std::fs::read_to_string(entry.path().join("stat"))
            .ok()
            .and_then(|stat| {
                stat.rsplit_once(')')?
                    .1
                    .split_whitespace()
                    .nth(1)?
                    .parse::<u32>()
                    .ok()
            });
        if parent == Some(postmaster) {
            pids.push(pid);
        }
    }
    pids
}

/// CPU seconds PostgreSQL's processes have used (those running now; the pools keep their
/// backends through a phase).
fn postgres_cpu(cluster: &Cluster) -> f64 {
    cpu_of(&postgres_pids(cluster))
}

/// A phase's server CPU time per request, in microseconds.
#[derive(Debug, Clone)]
pub struct CpuRow {
    /// The phase.
    pub phase: String,
    /// Requests answered.
    pub requests: u64,
    /// Server CPU seconds (all its processes) over the phase.
    pub cpu_seconds: f64,
    /// PostgreSQL's CPU seconds over the phase (its backends and helpers), if it took part.
    pub database_cpu_seconds: Option<f64>,
}

impl CpuRow {
    /// CPU microseconds per request.
    pub fn per_request_us(&self) -> f64 {
        if self.requests == 0 {
            return 0.0;
        }
        self.cpu_seconds * 1e6 / self.requests as f64
    }

    /// PostgreSQL's CPU microseconds per request, if it took part.
    pub fn database_per_request_us(&self) -> Option<f64> {
        let seconds = self.database_cpu_seconds?;
        (self.requests > 0).then(|| seconds * 1e6 / self.requests as f64)
    }
}

/// What the PostgreSQL phases measured.
pub struct Nodes {
    /// One node, closed loop.
    pub one: PhaseResult,
    /// Two nodes on one database, each driven closed-loop with half the connections.
    pub two: (PhaseResult, PhaseResult),
    /// Push from one node to a desk on the other.
    pub push: Push,
}

/// Runs the PostgreSQL phases; the server CPU rows go to `cpu`.
#[allow(clippy::too_many_arguments)] // the run's knobs, as `main` holds them
pub async fn postgres_phases(
    server_bin: std::path::PathBuf,
    options: ServerOptions,
    connections: usize,
    duration: Duration,
    push_rate: u64,
    push_secs: u64,
    cpu: &mut Vec<CpuRow>,
    failures: &mut Vec<String>,
) -> anyhow::Result<Nodes> {
    let cluster = tokio::task::spawn_blocking(Cluster::start_durable)
        .await?
        .map_err(|e| anyhow::anyhow!("cannot start PostgreSQL: {e}"))?;
    let url = cluster.fresh_database();
    let keys = tempfile::tempdir()?;
    let receipt_key = keys.path().join("receipt.key");
    tipline_server::config::write_signing_key(&receipt_key, &SigningKey::generate()?)?;
    let with = |authority: Option<String>| {
        let mut options = options.clone();
        options.extra_args.extend([
            "--database".to_owned(),
            url.clone(),
            "--receipt-key-file".to_owned(),
            receipt_key.display().to_string(),
            "--metrics-listen".to_owned(),
            "off".to_owned(),
        ]);
        if let Some(authority) = authority {
            options
                .extra_args
                .extend(["--authority-key".to_owned(), authority]);
        }
        options
    };
    let mut a = TestServer::start_with(server_bin.clone(), with(None)).await?;
    let authority = tipline_core::encoding::b64(&a.authority()?.0);
    let citizen = Citizen::connect(a.url()).await?;
    let server_key = citizen.info.server_key;
    let key = citizen.unit_key(&a.authority()?, INTAKE_UNIT).await?;
    let pid_a = a.process().map(|p| p.pid()).unwrap_or_default();

    println!("\n(h) intake on PostgreSQL, one node, closed loop");
    let warm_pool = generate(INTAKE_UNIT, &key, WARM_UP_POOL, "the PostgreSQL warm-up")?;
    let load_a = Load {
        addr: addr_of(a.url())?,
        path: "/v1/reports",
        bodies: bodies(&warm_pool),
        reuse: false,
        keep_status: Some(201),
    };
    let warm = closed_loop(&load_a, connections, WARM_UP).await?;
    phase_failures("postgres warm-up", &warm, 201, failures);
    let sized = ((warm.rate() * 1.5 * duration.as_secs_f64()).ceil() as usize).clamp(1000, 1_000_000);
    let pool = generate(INTAKE_UNIT, &key, sized, "the one-node phase")?;
    let before = cpu_of(&[pid_a]);
    let database_before = postgres_cpu(&cluster);
    let one = closed_loop(
        &Load {
            bodies: bodies(&pool),
            ..load_a.clone()
        },
        connections,
        duration,
    )
    .await?;
    cpu.push(CpuRow {
        phase: "postgres, one node".to_owned(),
        requests: one.answered(),
        cpu_seconds: cpu_of(&[pid_a]) - before,
        database_cpu_seconds: Some(postgres_cpu(&cluster) - database_before),
    });
    phase_failures("postgres one node", &one, 201, failures);
    check_receipts("postgres one node", &one, &pool, &server_key, failures);
    println!("  {:.0} requests/s", one.rate());

    println!("\n(i) intake on PostgreSQL, two nodes sharing the load, closed loop");
    let mut b = TestServer::start_with(server_bin, with(Some(authority))).await?;
    let pid_b = b.process().map(|p| p.pid()).unwrap_or_default();
    let on_b = Citizen::connect(b.url()).await?;
    anyhow::ensure!(
        on_b.info.server_key == server_key,
        "the nodes announce different receipt keys"
    );
    let sized = ((one.rate() * 1.5 * duration.as_secs_f64()).ceil() as usize).clamp(1000, 1_000_000);
    let pool_a = generate(INTAKE_UNIT, &key, sized / 2 + 1, "node a of the two-node phase")?;
    let pool_b = generate(INTAKE_UNIT, &key, sized / 2 + 1, "node b of the two-node phase")?;
    let load_b = Load {
        addr: addr_of(b.url())?,
        bodies: bodies(&pool_b),
        ..load_a.clone()
    };
    let load_a = Load {
        bodies: bodies(&pool_a),
        ..load_a
    };
    let half = (connections / 2).max(1);
    let before = cpu_of(&[pid_a, pid_b]);
    let database_before = postgres_cpu(&cluster);
    let (on_a_result, on_b_result) = tokio::join!(
        closed_loop(&load_a, half, duration),
        closed_loop(&load_b, half, duration)
    );
    let two = (on_a_result?, on_b_result?);
    cpu.push(CpuRow {
        phase: "postgres, two nodes".to_owned(),
        requests: two.0.answered() + two.1.answered(),
        cpu_seconds: cpu_of(&[pid_a, pid_b]) - before,
        database_cpu_seconds: Some(postgres_cpu(&cluster) - database_before),
    });
    phase_failures("postgres node a of two", &two.0, 201, failures);
    phase_failures("postgres node b of two", &two.1, 201, failures);
    check_receipts("postgres node a of two", &two.0, &pool_a, &server_key, failures);
    check_receipts("postgres node b of two", &two.1, &pool_b, &server_key, failures);
    println!(
        "  {:.0} + {:.0} = {:.0} requests/s",
        two.0.rate(),
        two.1.rate(),
        two.0.rate() + two.1.rate()
    );

    println!(
        "\n(j) push across nodes: a live desk on node b, {push_rate} reports/s submitted to node a for {push_secs} s"
    );
    let before = cpu_of(&[pid_a, pid_b]);
    let database_before = postgres_cpu(&cluster);
    let push = push_phase(
        &a,
        b.url(),
        a.url(),
        &citizen,
        push_rate,
        push_secs,
        true,
        failures,
    )
    .await?;
    cpu.push(CpuRow {
        phase: "postgres, push across nodes".to_owned(),
        requests: push.submissions.answered(),
        cpu_seconds: cpu_of(&[pid_a, pid_b]) - before,
        database_cpu_seconds: Some(postgres_cpu(&cluster) - database_before),
    });
    drop(b);
    drop(a);
    drop(cluster);
    Ok(Nodes { one, two, push })
}
