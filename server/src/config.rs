//! Command line and environment configuration, and the key files in the data directory:
//! `server.key` (the server's Ed25519 receipt key, created on first start, mode 0600) and
//! `authority.pub` (the authority's public key, unless `--authority-key` gives it). Key files
//! hold base64url text, one key per file.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use tipline_core::encoding::{b64, unb64_array};
use tipline_core::keys::{SigningKey, VerifyingKey};

use crate::difficulty::StampPolicy;
use crate::limits::{Rate, RateLimits, MAX_REPORT_ATTACHMENT_BYTES};
use crate::serve::{files, BodyPace, ServeOptions};
use crate::state::Settings;

/// The server's receipt key, in the data directory.
pub const SERVER_KEY_FILE: &str = "server.key";
/// The authority's public key, in the data directory.
pub const AUTHORITY_PUB_FILE: &str = "authority.pub";
/// The SQLite database, in the data directory.
pub const DATABASE_FILE: &str = "tipline.db";

/// Tipline's intake server: stores and push-queues sealed reports; never sees plaintext.
#[derive(Debug, Clone, Parser)]
#[command(name = "tipline-server", version, about)]
pub struct Config {
    /// Address and port to listen on.
    #[arg(long, env = "TIPLINE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Folder for the database and the key files.
    #[arg(long, env = "TIPLINE_DATA_DIR", default_value = "./tipline-data")]
    pub data_dir: PathBuf,
    /// A PostgreSQL database (`postgres://user@host/db`) shared by several nodes; without it
    /// the embedded SQLite store in the data directory. Key files stay in the data directory.
    #[arg(long = "database", env = "TIPLINE_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// The receipt key file shared by every node of a deployment (base64url Ed25519 seed, as
    /// `server.key`), so that receipts from any node verify against the one key the directory
    /// names; default: `server.key` in the data directory, created on first start.
    #[arg(long, env = "TIPLINE_RECEIPT_KEY_FILE")]
    pub receipt_key_file: Option<PathBuf>,
    /// Days an acknowledged report is kept before it is deleted.
    #[arg(long, env = "TIPLINE_RETENTION_DAYS", default_value_t = 90,
          value_parser = clap::value_parser!(u32).range(1..=36_500))]
    pub retention_days: u32,
    /// Days a report no desk acknowledged, or an upload never completed, is kept after it arrived.
    #[arg(long, env = "TIPLINE_UNACKNOWLEDGED_DAYS", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(1..=36_500))]
    pub unacknowledged_days: u32,
    /// Bytes the store may take on disk; report and attachment intake is refused past it (507).
    /// Default: 80% of what is free in the data directory's file system at start, plus what the
    /// database takes already.
    #[arg(long, env = "TIPLINE_STORAGE_BUDGET_BYTES")]
    pub storage_budget_bytes: Option<u64>,
    /// Most sealed bytes of attachments one report may declare, all together.
    #[arg(long, env = "TIPLINE_MAX_REPORT_ATTACHMENT_BYTES", default_value_t = MAX_REPORT_ATTACHMENT_BYTES)]
    pub max_report_attachment_bytes: u64,
    /// Seconds between retention purges.
    #[arg(long, env = "TIPLINE_PURGE_INTERVAL_SECONDS", default_value_t = 3600,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub purge_interval_seconds: u64,
    /// Seconds a delivery to a desk holds before an unacknowledged report is delivered again.
    #[arg(long, env = "TIPLINE_LEASE_SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub lease_seconds: u64,
    /// Leading zero bits a submission's anti-abuse stamp must have when intake is calm (0 to 32);
    /// a flood raises it, up to `--stamp-ceiling`.
    #[arg(long, env = "TIPLINE_STAMP_DIFFICULTY", default_value_t = 16,
          value_parser = clap::value_parser!(u8).range(0..=32))]
    pub stamp_difficulty: u8,
    /// Highest stamp difficulty a flood of submissions raises it to.
    #[arg(long, env = "TIPLINE_STAMP_CEILING", default_value_t = StampPolicy::default().ceiling,
          value_parser = clap::value_parser!(u8).range(0..=32))]
    pub stamp_ceiling: u8,
    /// Seconds of each window in which submissions are counted to adapt the stamp difficulty.
    #[arg(long, env = "TIPLINE_STAMP_WINDOW_SECONDS", default_value_t = StampPolicy::default().window.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub stamp_window_seconds: u64,
    /// Submissions per window above which the stamp difficulty rises one bit.
    #[arg(long, env = "TIPLINE_STAMP_FLOOD_THRESHOLD", default_value_t = StampPolicy::default().threshold)]
    pub stamp_flood_threshold: u32,
    /// Seconds a stamp at a difficulty announced before stays valid.
    #[arg(long, env = "TIPLINE_STAMP_GRACE_SECONDS", default_value_t = StampPolicy::default().grace.as_secs(),
          value_parser = clap::value_parser!(u64).range(0..=86_400))]
    pub stamp_grace_seconds: u64,
    /// The authority's Ed25519 public key (base64url); default: `authority.pub` in the data dir.
    #[arg(long, env = "TIPLINE_AUTHORITY_KEY", allow_hyphen_values = true)]
    pub authority_key: Option<String>,
    /// Seconds a unit's signed request may be off the server's clock.
    #[arg(long, env = "TIPLINE_MAX_CLOCK_SKEW_SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(i64).range(1..=3600))]
    pub max_clock_skew_seconds: i64,
    /// Report submissions, all reporters together: PER_MINUTE/BURST.
    #[arg(long, env = "TIPLINE_REPORT_RATE", default_value_t = RateLimits::default().reports)]
    pub report_rate: Rate,
    /// Attachment upload requests (HEAD and PATCH), all reporters together: PER_MINUTE/BURST.
    #[arg(long, env = "TIPLINE_UPLOAD_RATE", default_value_t = RateLimits::default().uploads)]
    pub upload_rate: Rate,
    /// Attachment upload requests of one report: PER_MINUTE/BURST.
    #[arg(long, env = "TIPLINE_REPORT_UPLOAD_RATE", default_value_t = RateLimits::default().report_uploads)]
    pub report_upload_rate: Rate,
    /// Reporters' case message reads and posts, all cases together: PER_MINUTE/BURST.
    #[arg(long, env = "TIPLINE_CASES_RATE", default_value_t = RateLimits::default().cases)]
    pub cases_rate: Rate,
    /// Reporters' case message reads and posts in one case: PER_MINUTE/BURST.
    #[arg(long, env = "TIPLINE_CASE_RATE", default_value_t = RateLimits::default().case)]
    pub case_rate: Rate,
    /// Reads of config, directory and alerts, all clients together: PER_MINUTE/BURST.
    #[arg(long, env = "TIPLINE_READ_RATE", default_value_t = RateLimits::default().reads)]
    pub read_rate: Rate,
    /// Signed requests of one unit: PER_MINUTE/BURST.
    #[arg(long, env = "TIPLINE_UNIT_RATE", default_value_t = RateLimits::default().unit)]
    pub unit_rate: Rate,
    /// Seconds a request head may take to arrive whole, from its first byte or the connection.
    #[arg(long, env = "TIPLINE_HEADER_TIMEOUT_SECONDS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout_seconds: u64,
    /// Seconds a keep-alive connection may wait for its next request.
    #[arg(long, env = "TIPLINE_IDLE_TIMEOUT_SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub idle_timeout_seconds: u64,
    /// Seconds a request body may pause; also the grace before the floor rate applies.
    #[arg(long, env = "TIPLINE_BODY_STALL_SECONDS", default_value_t = 15,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub body_stall_seconds: u64,
    /// Bytes per second a request body must average after the grace (0: no floor).
    #[arg(long, env = "TIPLINE_BODY_MIN_RATE", default_value_t = 1024)]
    pub body_min_rate: u64,
    /// Seconds a response write may wait for the client to take its bytes before the connection
    /// is closed (a client that does not read its answer).
    #[arg(long, env = "TIPLINE_WRITE_TIMEOUT_SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub write_timeout_seconds: u64,
    /// Connections open at once (0: 4,096); never more than the open-file limit allows.
    #[arg(long, env = "TIPLINE_MAX_CONNECTIONS", default_value_t = 0)]
    pub max_connections: usize,
    /// Live desk streams open at once (0: a quarter of the connections).
    #[arg(long, env = "TIPLINE_MAX_STREAMS", default_value_t = 0)]
    pub max_streams: usize,
    /// MiB of request bodies held in memory at once, all requests together; a request that
    /// finds no room within a second is answered 503 `busy`.
    #[arg(long, env = "TIPLINE_BODY_MEMORY_MIB", default_value_t = 64,
          value_parser = clap::value_parser!(u64).range(4..=65_536))]
    pub body_memory_mib: u64,
    /// Address and port of the `/metrics` listener (Prometheus), apart from the API; `off` to
    /// serve no metrics. Keep it on loopback or an internal network.
    #[arg(long, env = "TIPLINE_METRICS_LISTEN", default_value = "127.0.0.1:9090",
          value_parser = parse_metrics_listen)]
    pub metrics_listen: MetricsListen,
    /// Seconds a rendering of `/metrics` is served before a new one is made (so that polling it
    /// cannot time individual reports).
    #[arg(long, env = "TIPLINE_METRICS_INTERVAL_SECONDS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub metrics_interval_seconds: u64,
    /// Development mode: on first start, create an authority, keys for the sample directory's
    /// units and a signed directory in the data dir, ready to try.
    #[arg(long, env = "TIPLINE_DEV")]
    pub dev: bool,
    /// Add a key to the Oblivious HTTP gateway (in `<data_dir>/ohttp/`), print the live keys (as
    /// --show-gateway-keys) and exit. A running server takes it up on SIGHUP; have the authority
    /// list it in the directory.
    #[arg(long, conflicts_with = "retire_gateway_key")]
    pub new_gateway_key: bool,
    /// Retire the gateway key with this id, and exit: requests to it are refused from then on
    /// (a running server takes it up on SIGHUP).
    #[arg(long, value_name = "ID")]
    pub retire_gateway_key: Option<u8>,
    /// Print the gateway's live keys, one a line: the key id and its key configuration
    /// (base64url, for `tipline authority sign --gateway-key`), creating the first if there is
    /// none; and exit.
    #[arg(long)]
    pub show_gateway_keys: bool,
}

/// Where `/metrics` is served, if anywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsListen(pub Option<SocketAddr>);

fn parse_metrics_listen(text: &str) -> Result<MetricsListen, String> {
    match text.trim() {
        "off" | "" => Ok(MetricsListen(None)),
        address => address
            .parse()
            .map(|address| MetricsListen(Some(address)))
            .map_err(|_| format!("expected an address and port, or `off`: {address}")),
    }
}

impl Config {
    /// The handlers' settings.
    pub fn settings(&self) -> Settings {
        Settings {
            stamp_difficulty: self.stamp_difficulty,
            stamp_policy: StampPolicy {
                ceiling: self.stamp_ceiling,
                window: Duration::from_secs(self.stamp_window_seconds),
                threshold: self.stamp_flood_threshold,
                grace: Duration::from_secs(self.stamp_grace_seconds),
            },
            lease: Duration::from_secs(self.lease_seconds),
            max_clock_skew_secs: self.max_clock_skew_seconds,
            rates: RateLimits {
                reports: self.report_rate,
                uploads: self.upload_rate,
                report_uploads: self.report_upload_rate,
                cases: self.cases_rate,
                case: self.case_rate,
                reads: self.read_rate,
                unit: self.unit_rate,
            },
            storage_budget: self.storage_budget(),
            max_report_attachment_bytes: self.max_report_attachment_bytes,
            unacknowledged_retention: chrono::Duration::days(i64::from(self.unacknowledged_days)),
            metrics_interval: Duration::from_secs(self.metrics_interval_seconds),
            body_memory: usize::try_from(self.body_memory_mib * 1024 * 1024).unwrap_or(usize::MAX),
            max_streams: files::stream_cap(
                files::connection_cap(None, self.max_connections),
                self.max_streams,
            ),
            ..Settings::default()
        }
    }

    /// `--storage-budget-bytes`, else 80% of what is free in the data directory's file system
    /// plus what the database files take already (none if the file system cannot be asked, or
    /// with `--database`, whose disk the node cannot see).
    pub fn storage_budget(&self) -> u64 {
        if let Some(budget) = self.storage_budget_bytes {
            return budget;
        }
        if self.database_url.is_some() {
            // PostgreSQL's disk is not the data directory's: no budget unless one is given.
            return u64::MAX;
        }
        let database = self.database_path();
        let taken: u64 = ["", "-wal"]
            .iter()
            .filter_map(|suffix| {
                let mut name = database.as_os_str().to_owned();
                name.push(suffix);
                std::fs::metadata(name).ok().map(|m| m.len())
            })
            .sum();
        match fs4::available_space(&self.data_dir) {
            Ok(free) => taken.saturating_add(free / 5 * 4),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the free space of the data directory: no storage budget");
                u64::MAX
            }
        }
    }

    /// The accept loop's bounds, with the connection cap sized below `open_files` (the soft
    /// open-file limit in force, see [`crate::serve::files::raise_open_file_limit`]).
    pub fn serve_options(&self, open_files: Option<u64>) -> ServeOptions {
        ServeOptions {
            header_timeout: Duration::from_secs(self.header_timeout_seconds),
            idle_timeout: Duration::from_secs(self.idle_timeout_seconds),
            body: BodyPace {
                stall: Duration::from_secs(self.body_stall_seconds),
                min_rate: self.body_min_rate,
            },
            write_timeout: Duration::from_secs(self.write_timeout_seconds),
            max_connections: files::connection_cap(open_files, self.max_connections),
            ..ServeOptions::default()
        }
    }

    /// How long acknowledged reports are kept.
    pub fn retention(&self) -> chrono::Duration {
        chrono::Duration::days(i64::from(self.retention_days))
    }

    /// The SQLite file.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join(DATABASE_FILE)
    }

    /// The receipt key: `--receipt-key-file` (which must exist: a deployment's nodes share it),
    /// else `server.key` in the data directory, created on first start.
    pub fn receipt_key(&self) -> anyhow::Result<SigningKey> {
        match &self.receipt_key_file {
            Some(path) => {
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    let mode = std::fs::metadata(path)
                        .with_context(|| format!("--receipt-key-file {}", path.display()))?
                        .permissions()
                        .mode();
                    if mode & 0o077 != 0 {
                        tracing::warn!(
                            mode = format!("{:o}", mode & 0o777),
                            "the receipt key file is readable by others than the server's user (chmod 600)"
                        );
                    }
                }
                read_signing_key(path).context("--receipt-key-file")
            }
            None => load_or_create_server_key(&self.data_dir),
        }
    }

    /// The database: `--database` if given, else the SQLite file in the data directory.
    pub fn database(&self) -> anyhow::Result<crate::launch::Database> {
        crate::launch::Database::choose(self.database_url.as_deref(), self.database_path())
    }

    /// The authority key: `--authority-key`, else `authority.pub` in the data dir, else `None`.
    pub fn authority_key(&self) -> anyhow::Result<Option<VerifyingKey>> {
        if let Some(text) = &self.authority_key {
            return parse_verifying_key(text).map(Some).context("--authority-key");
        }
        let path = self.data_dir.join(AUTHORITY_PUB_FILE);
        if !path.exists() {
            return Ok(None);
        }
        read_verifying_key(&path).map(Some)
    }
}

/// Parses a base64url Ed25519 public key.
pub fn parse_verifying_key(text: &str) -> anyhow::Result<VerifyingKey> {
    let bytes = unb64_array::<32>(text.trim())
        .map_err(|_| anyhow::anyhow!("expected an Ed25519 public key: 32 bytes in base64url"))?;
    Ok(VerifyingKey(bytes))
}

/// Reads a base64url Ed25519 public key from a file.
pub fn read_verifying_key(path: &Path) -> anyhow::Result<VerifyingKey> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse_verifying_key(&text).with_context(|| format!("{} is not valid", path.display()))
}

/// Reads a base64url Ed25519 seed from a file.
pub fn read_signing_key(path: &Path) -> anyhow::Result<SigningKey> {
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?,
    );
    let seed = zeroize::Zeroizing::new(
        unb64_array::<32>(text.trim())
            .map_err(|_| anyhow::anyhow!("{} does not hold a 32-byte key in base64url", path.display()))?,
    );
    SigningKey::from_seed(*seed).map_err(|_| anyhow::anyhow!("{} holds an invalid key", path.display()))
}

/// Creates the folder `path` (and its parents) readable by the server's user only: mode 0700 on
/// Unix, and an existing folder is brought to 0700. It holds the database and the keys.
pub fn create_private_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        builder.mode(0o700);
        builder.create(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
    }
    #[cfg(not(unix))]
    builder.create(path)
}

/// Makes `path` readable and writable by the server's user only (mode 0600 on Unix), creating
/// it empty if it does not exist.
pub fn ensure_private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        options.open(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
    }
    #[cfg(not(unix))]
    options.open(path).map(drop)
}

/// Creates `path` with `bytes`, mode 0600 on Unix; fails if it exists.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Writes a signing key's seed to `path` (mode 0600, must not exist).
pub fn write_signing_key(path: &Path, key: &SigningKey) -> anyhow::Result<()> {
    let text = zeroize::Zeroizing::new(format!("{}\n", b64(key.to_seed().as_ref())));
    write_private(path, text.as_bytes()).with_context(|| format!("cannot create {}", path.display()))
}

/// The server's receipt key from `<data_dir>/server.key`, created (mode 0600) if missing.
pub fn load_or_create_server_key(data_dir: &Path) -> anyhow::Result<SigningKey> {
    let path = data_dir.join(SERVER_KEY_FILE);
    if !path.exists() {
        let key =
            SigningKey::generate().map_err(|e| anyhow::anyhow!("cannot generate the server key: {e}"))?;
        match write_signing_key(&path, &key) {
            Ok(()) => {
                tracing::info!(key_id = %key.verifying_key().key_id(), "created the server's receipt key");
                return Ok(key);
            }
            // Another process created it meanwhile: use theirs.
            Err(_) if path.exists() => {}
            Err(e) => return Err(e),
        }
    }
    read_signing_key(&path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_server_key_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create_server_key(dir.path()).unwrap();
        let second = load_or_create_server_key(dir.path()).unwrap();
        assert_eq!(first.verifying_key(), second.verifying_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(SERVER_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn test_receipt_key_file_is_shared_and_must_exist() {
        // Given a deployment's receipt key in a file of its own
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("receipt.key");
        let key = SigningKey::generate().unwrap();
        write_signing_key(&shared, &key).unwrap();
        let node = |data: &str| {
            Config::parse_from([
                "tipline-server",
                "--data-dir",
                dir.path().join(data).to_str().unwrap(),
                "--receipt-key-file",
                shared.to_str().unwrap(),
            ])
        };
        // Then every node given it signs with it, and none makes a key of its own
        assert_eq!(
            node("a").receipt_key().unwrap().verifying_key(),
            key.verifying_key()
        );
        assert_eq!(
            node("b").receipt_key().unwrap().verifying_key(),
            key.verifying_key()
        );
        assert!(!dir.path().join("a").join(SERVER_KEY_FILE).exists());
        // And a missing file is an error, not a fresh key
        std::fs::remove_file(&shared).unwrap();
        assert!(node("a").receipt_key().is_err());
    }

    #[test]
    fn test_config_defaults_and_env_names() {
        let config = Config::try_parse_from(["tipline-server"]).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.retention_days, 90);
        assert_eq!(config.lease_seconds, 60);
        assert_eq!(config.stamp_difficulty, 16);
        assert!(!config.dev);
        assert_eq!(config.settings().rates, RateLimits::default());
        assert_eq!(
            config.settings().unacknowledged_retention,
            chrono::Duration::days(30)
        );
        assert_eq!(config.settings().max_report_attachment_bytes, 1 << 30);
        let budget = Config::try_parse_from(["tipline-server", "--storage-budget-bytes", "1000"]).unwrap();
        assert_eq!(budget.settings().storage_budget, 1000);
        let config = Config::try_parse_from(["tipline-server", "--report-rate", "10/5"]).unwrap();
        assert_eq!(config.settings().rates.reports, Rate::new(10, 5));
        assert!(Config::try_parse_from(["tipline-server", "--report-rate", "10"]).is_err());
        assert!(Config::try_parse_from(["tipline-server", "--case-rate", "0/5"]).is_err());
        assert!(Config::try_parse_from(["tipline-server", "--stamp-difficulty", "33"]).is_err());
        let config = Config::try_parse_from(["tipline-server", "--dev", "--lease-seconds", "5"]).unwrap();
        assert!(config.dev);
        assert_eq!(config.settings().lease, Duration::from_secs(5));
        let serve = config.serve_options(Some(1024));
        assert_eq!(serve.header_timeout, Duration::from_secs(10));
        assert_eq!(serve.idle_timeout, Duration::from_secs(30));
        assert_eq!(serve.body.stall, Duration::from_secs(15));
        assert_eq!(serve.body.min_rate, 1024);
        assert_eq!(serve.write_timeout, Duration::from_secs(30));
        assert_eq!(serve.max_connections, 1024 - files::RESERVED_FILES as usize);
        let config = Config::try_parse_from(["tipline-server", "--max-streams", "7"]).unwrap();
        assert_eq!(config.settings().max_streams, 7);
        assert_eq!(config.settings().body_memory, 64 * 1024 * 1024);
        assert_eq!(
            config.metrics_listen,
            MetricsListen(Some("127.0.0.1:9090".parse().unwrap()))
        );
        assert_eq!(config.settings().metrics_interval, Duration::from_secs(300));
        let off = Config::try_parse_from(["tipline-server", "--metrics-listen", "off"]).unwrap();
        assert_eq!(off.metrics_listen, MetricsListen(None));
        assert!(Config::try_parse_from(["tipline-server", "--metrics-listen", "nowhere"]).is_err());
    }

    #[test]
    fn test_authority_key_from_flag_or_file() {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::from_seed([9; 32]).unwrap().verifying_key();
        let data_dir = dir.path().to_str().unwrap();
        let config = Config::try_parse_from(["tipline-server", "--data-dir", data_dir]).unwrap();
        assert!(config.authority_key().unwrap().is_none());
        std::fs::write(dir.path().join(AUTHORITY_PUB_FILE), format!("{}\n", b64(&key.0))).unwrap();
        assert_eq!(config.authority_key().unwrap(), Some(key));
        let config = Config::try_parse_from([
            "tipline-server",
            "--data-dir",
            data_dir,
            "--authority-key",
            "nope",
        ])
        .unwrap();
        assert!(config.authority_key().is_err());
    }
}
