//! The PostgreSQL phases: intake on one node over PostgreSQL, then two nodes sharing the load on
//! one database, then push across nodes (a desk live on one node, reports submitted to the
//! other). PostgreSQL runs with its default durability (fsync on), started by the benchmark from
//! Debian's packages on loopback; the nodes share a receipt key file, so every 201 is checked
//! against one key. And the server's CPU time per request, from `/proc/<pid>/stat`, for every
//! phase: figures that do not depend on how much of the machine the load generator takes.
//!
//! Each ratio compares phases run back to back: the one-node phase is measured between two runs
//! of the SQLite node (the same load, just before and just after it), and the two-node phase
//! between two runs of one node. On a virtual machine whose speed changes within a minute, the
//! SQLite phase of `loadgen`'s start, half a minute earlier, can run twice as fast or half as
//! fast as the machine runs by the time PostgreSQL is measured; the mean of the two runs beside
//! a phase follows the machine's speed as the phase met it.

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
    /// The SQLite node just before and just after the one-node phase.
    pub sqlite_beside: (PhaseResult, PhaseResult),
    /// One node, closed loop.
    pub one: PhaseResult,
    /// Two nodes on one database, each driven closed-loop with half the connections.
    pub two: (PhaseResult, PhaseResult),
    /// One node again, just after the two-node phase.
    pub one_after: PhaseResult,
    /// Push from one node to a desk on the other.
    pub push: Push,
}

/// The SQLite node of the earlier phases, still running, to be measured again beside the
/// one-node phase.
pub struct SqliteNode {
    /// Its intake address.
    pub addr: std::net::SocketAddr,
    /// The key of the unit its submissions are sealed to.
    pub unit_key: tipline_core::keys::EncryptionPublicKey,
    /// Its receipt key.
    pub server_key: tipline_core::keys::VerifyingKey,
    /// Its process.
    pub pid: u32,
    /// Its peak rate (phase c), to size the submissions of a run.
    pub rate: f64,
}

/// Closed-loop runs of one shape (connections, duration), whose CPU rows and failures go to
/// the run's lists.
struct Runs<'a> {
    connections: usize,
    duration: Duration,
    cpu: &'a mut Vec<CpuRow>,
    failures: &'a mut Vec<String>,
}

impl Runs<'_> {
    /// One run on `load` with `pool`'s bodies, its receipts checked against `key`, and its CPU
    /// row (`pids` the server's processes, `cluster` PostgreSQL's if it takes part).
    async fn run(
        &mut self,
        name: &str,
        (load, pool): (&Load, &[tipline_e2e::Submission]),
        key: &tipline_core::keys::VerifyingKey,
        pids: &[u32],
        cluster: Option<&Cluster>,
    ) -> anyhow::Result<PhaseResult> {
        let before = cpu_of(pids);
        let database_before = cluster.map(postgres_cpu);
        let result = closed_loop(
            &Load {
                bodies: bodies(pool),
                ..load.clone()
            },
            self.connections,
            self.duration,
        )
        .await?;
        self.cpu.push(CpuRow {
            phase: name.to_owned(),
            requests: result.answered(),
            cpu_seconds: cpu_of(pids) - before,
            database_cpu_seconds: cluster.zip(database_before).map(|(c, b)| postgres_cpu(c) - b),
        });
        phase_failures(name, &result, 201, self.failures);
        check_receipts(name, &result, pool, key, self.failures);
        if result.exhausted {
            println!(
                "  note: the {} submissions of {name} ran out after {:.1} s; the rate is over that time",
                pool.len(),
                result.elapsed.as_secs_f64()
            );
        }
        println!("  {name}: {:.0} requests/s", result.rate());
        Ok(result)
    }
}

/// Submissions for a closed loop measured at about `rate` earlier in the run, for `duration`:
/// twice as many as that rate needs, since the machine may run faster by then.
fn pool_for(
    key: &tipline_core::keys::EncryptionPublicKey,
    rate: f64,
    duration: Duration,
    what: &str,
) -> anyhow::Result<Vec<tipline_e2e::Submission>> {
    let sized = ((rate * 2.0 * duration.as_secs_f64()).ceil() as usize).clamp(1000, 1_000_000);
    generate(INTAKE_UNIT, key, sized, what)
}

/// Runs the PostgreSQL phases; the server CPU rows go to `cpu`.
#[allow(clippy::too_many_arguments)] // the run's knobs, as `main` holds them
pub async fn postgres_phases(
    sqlite: &SqliteNode,
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

    println!("\n(h) intake on PostgreSQL, one node, closed loop, between two runs of the SQLite node");
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
    let mut runs = Runs {
        connections,
        duration,
        cpu,
        failures,
    };
    // Every submission of the three runs is sealed before the first starts.
    let sqlite_pools = (
        pool_for(&sqlite.unit_key, sqlite.rate, duration, "the SQLite node before")?,
        pool_for(&sqlite.unit_key, sqlite.rate, duration, "the SQLite node after")?,
    );
    let pool = pool_for(&key, warm.rate(), duration, "the one-node phase")?;
    let load_sqlite = Load {
        addr: sqlite.addr,
        ..load_a.clone()
    };
    let before_one = runs
        .run(
            "sqlite, just before (h)",
            (&load_sqlite, &sqlite_pools.0),
            &sqlite.server_key,
            &[sqlite.pid],
            None,
        )
        .await?;
    let one = runs
        .run(
            "postgres, one node",
            (&load_a, &pool),
            &server_key,
            &[pid_a],
            Some(&cluster),
        )
        .await?;
    let after_one = runs
        .run(
            "sqlite, just after (h)",
            (&load_sqlite, &sqlite_pools.1),
            &sqlite.server_key,
            &[sqlite.pid],
            None,
        )
        .await?;
    drop((sqlite_pools, pool));

    println!("\n(i) intake on PostgreSQL, two nodes sharing the load, closed loop, then one node again");
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
    let pool_again = pool_for(&key, one.rate(), duration, "one node again")?;
    let load_b = Load {
        addr: addr_of(b.url())?,
        bodies: bodies(&pool_b),
        ..load_a.clone()
    };
    let load_two_a = Load {
        bodies: bodies(&pool_a),
        ..load_a.clone()
    };
    let half = (connections / 2).max(1);
    let before = cpu_of(&[pid_a, pid_b]);
    let database_before = postgres_cpu(&cluster);
    let (on_a_result, on_b_result) = tokio::join!(
        closed_loop(&load_two_a, half, duration),
        closed_loop(&load_b, half, duration)
    );
    let two = (on_a_result?, on_b_result?);
    runs.cpu.push(CpuRow {
        phase: "postgres, two nodes".to_owned(),
        requests: two.0.answered() + two.1.answered(),
        cpu_seconds: cpu_of(&[pid_a, pid_b]) - before,
        database_cpu_seconds: Some(postgres_cpu(&cluster) - database_before),
    });
    phase_failures("postgres node a of two", &two.0, 201, runs.failures);
    phase_failures("postgres node b of two", &two.1, 201, runs.failures);
    check_receipts(
        "postgres node a of two",
        &two.0,
        &pool_a,
        &server_key,
        runs.failures,
    );
    check_receipts(
        "postgres node b of two",
        &two.1,
        &pool_b,
        &server_key,
        runs.failures,
    );
    println!(
        "  {:.0} + {:.0} = {:.0} requests/s",
        two.0.rate(),
        two.1.rate(),
        two.0.rate() + two.1.rate()
    );
    drop((pool_a, pool_b));
    let one_after = runs
        .run(
            "postgres, one node, just after (i)",
            (&load_a, &pool_again),
            &server_key,
            &[pid_a],
            Some(&cluster),
        )
        .await?;
    drop(pool_again);

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
        runs.failures,
    )
    .await?;
    runs.cpu.push(CpuRow {
        phase: "postgres, push across nodes".to_owned(),
        requests: push.submissions.answered(),
        cpu_seconds: cpu_of(&[pid_a, pid_b]) - before,
        database_cpu_seconds: Some(postgres_cpu(&cluster) - database_before),
    });
    drop(b);
    drop(a);
    drop(cluster);
    Ok(Nodes {
        sqlite_beside: (before_one, after_one),
        one,
        two,
        one_after,
        push,
    })
}
