//! A throwaway PostgreSQL for tests, started from Debian's packages (`apt-get install
//! postgresql`; `.ci/run` does it): `initdb` and `pg_ctl` from `/usr/lib/postgresql/<v>/bin`
//! in a temporary folder, listening on 127.0.0.1 on a free port only (and a Unix socket inside
//! that folder). PostgreSQL refuses to run as root, so when the tests run as root the cluster
//! runs as the `postgres` user (`runuser`) in a folder that user owns.
//!
//! One cluster per test binary ([`shared`]), a fresh database per test
//! ([`Cluster::fresh_database`]). A watcher process stops the cluster and deletes its folder
//! once the test process has gone, however it ended. Shared by the server's test binaries and
//! the end-to-end crate (included by path).

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// A running test cluster.
#[derive(Debug)]
pub struct Cluster {
    dir: PathBuf,
    data: PathBuf,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
    durable: bool,
}

static SHARED: OnceLock<Cluster> = OnceLock::new();
static DATABASES: AtomicU32 = AtomicU32::new(0);

/// The cluster of this test binary, started on first use. Panics with the reason if PostgreSQL
/// is not installed or does not start.
pub fn shared() -> &'static Cluster {
    SHARED.get_or_init(|| Cluster::start().unwrap_or_else(|e| panic!("cannot start a test PostgreSQL: {e}")))
}

/// The newest `/usr/lib/postgresql/<version>/bin` with `initdb` and `pg_ctl`.
fn find_bin() -> Result<PathBuf, String> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| format!("/usr/lib/postgresql: {e} (apt-get install postgresql)"))?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            (bin.join("initdb").exists() && bin.join("pg_ctl").exists()).then_some((version, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, bin)| bin)
        .ok_or_else(|| "no initdb under /usr/lib/postgresql/*/bin (apt-get install postgresql)".to_owned())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .is_some_and(|uid| uid.trim() == "0")
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

fn run(mut command: Command, what: &str) -> Result<String, String> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl Cluster {
    /// Creates and starts a cluster in a new temporary folder (fsync off: for tests).
    pub fn start() -> Result<Cluster, String> {
        Self::start_with(false)
    }

    /// A cluster with PostgreSQL's default durability (fsync on), for benchmarks that compare
    /// it with SQLite's synced commits.
    pub fn start_durable() -> Result<Cluster, String> {
        Self::start_with(true)
    }

    fn start_with(durable: bool) -> Result<Cluster, String> {
        let bin = find_bin()?;
        let as_postgres = is_root();
        let dir = tempfile::Builder::new()
            .prefix("tipline-pg-")
            .tempdir()
            .map_err(|e| e.to_string())?
            .keep();
        if as_postgres {
            let mut chown = Command::new("chown");
            chown.arg("postgres:postgres").arg(&dir);
            run(chown, "chown")?;
        }
        let cluster = Cluster {
            data: dir.join("data"),
            dir,
            bin,
            port: free_port()?,
            as_postgres,
            durable,
        };
        cluster.watch();
        let mut initdb = cluster.command("initdb");
        initdb.arg("-D").arg(&cluster.data).args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        ]);
        run(initdb, "initdb")?;
        cluster.pg_ctl("start")?;
        Ok(cluster)
    }

    /// A command of the cluster's binaries, as the `postgres` user when running as root.
    fn command(&self, name: &str) -> Command {
        let program = self.bin.join(name);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }

    fn pg_ctl(&self, action: &str) -> Result<(), String> {
        let mut pg_ctl = self.command("pg_ctl");
        pg_ctl
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(self.dir.join("log"))
            .args(["-w", "-t", "60"]);
        if action != "stop" {
            // Loopback only; the socket in the cluster's own folder. fsync is off (a test
            // restarts PostgreSQL, never the machine); commits still wait for the WAL write.
            let sync = if self.durable {
                ""
            } else {
                " -c fsync=off -c full_page_writes=off"
            };
            pg_ctl.arg("-o").arg(format!(
                "-c listen_addresses=127.0.0.1 -p {} -c unix_socket_directories={}{sync} -c max_connections=300",
                self.port,
                self.dir.display()
            ));
        }
        if action != "start" {
            pg_ctl.args(["-m", "immediate"]);
        }
        pg_ctl.arg(action);
        run(pg_ctl, &format!("pg_ctl {action}")).map(drop)
    }

    /// Stops the cluster and deletes its folder once this process has gone.
    fn watch(&self) {
        let stop = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {runuser}{pg_ctl} -D {data} stop -m immediate >/dev/null 2>&1; rm -rf {dir}",
            pid = std::process::id(),
            runuser = if self.as_postgres { "runuser -u postgres -- " } else { "" },
            pg_ctl = self.bin.join("pg_ctl").display(),
            data = self.data.display(),
            dir = self.dir.display(),
        );
        // Left running on purpose: it outlives this process to clean up after it.
        let _ = Command::new("sh")
            .args(["-c", &stop])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of database `name`.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates an empty database with a name no other test of this process uses; its URL.
    pub fn fresh_database(&self) -> String {
        let name = format!(
            "t{}_{}",
            std::process::id(),
            DATABASES.fetch_add(1, Ordering::Relaxed)
        );
        self.psql(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("cannot create a test database: {e}"));
        self.url(&name)
    }

    /// Runs SQL on the `postgres` database; its output.
    pub fn psql(&self, sql: &str) -> Result<String, String> {
        let mut psql = Command::new(self.bin.join("psql"));
        psql.args([
            "-X",
            "-q",
            "-t",
            "-A",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
        ])
        .arg("-p")
        .arg(self.port.to_string())
        .args(["-d", "postgres", "-c", sql]);
        run(psql, "psql")
    }

    /// Stops PostgreSQL at once (`pg_ctl stop -m immediate`, as a crash would) and leaves it down.
    pub fn stop_immediate(&self) -> Result<(), String> {
        self.pg_ctl("stop")
    }

    /// Starts it again after [`Cluster::stop_immediate`].
    pub fn start_again(&self) -> Result<(), String> {
        self.pg_ctl("start")
    }

    /// `pg_ctl restart -m immediate`: PostgreSQL crashes and comes back, recovering from its WAL.
    pub fn restart_immediate(&self) -> Result<(), String> {
        self.pg_ctl("restart")
    }

    /// The cluster's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}
