//! Server processes under test: started on `127.0.0.1:0`, their address read from what they
//! print, their output kept (bounded) for a failure message, and killed (SIGKILL) on drop.

use std::collections::VecDeque;
use std::io::{BufRead as _, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use tipline_core::keys::{UnitKeyFile, VerifyingKey};

use crate::binaries::{self, SERVER};

/// How long a server may take to print its address and then answer `/readyz` with 200. A debug
/// `tipline-desk dev` derives its store key and hashes its first password with Argon2id before it
/// prints anything: a few seconds of CPU, several times that on a machine shared with other
/// builds.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Lines of a child's output kept for error messages.
const KEPT_LINES: usize = 200;

/// A child process that serves HTTP on loopback; killed on drop.
#[derive(Debug)]
pub struct ChildServer {
    child: Child,
    url: String,
    output: Arc<Mutex<VecDeque<String>>>,
    name: String,
}

fn keep_lines(reader: impl Read, output: Arc<Mutex<VecDeque<String>>>, url_tx: mpsc::Sender<String>) {
    let mut sent = false;
    for line in BufReader::new(reader).lines() {
        let Ok(line) = line else { break };
        if !sent {
            if let Some(url) = find_loopback_url(&line) {
                sent = url_tx.send(url).is_ok();
            }
        }
        let mut kept = output.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if kept.len() == KEPT_LINES {
            kept.pop_front();
        }
        kept.push_back(line);
    }
}

/// The first `http://127.x.y.z:<port>` (a loopback address) in `line`, without colour codes or
/// trailing text.
pub fn find_loopback_url(line: &str) -> Option<String> {
    const PREFIX: &str = "http://127.";
    let start = line.find(PREFIX)? + "http://".len();
    let host: String = line[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let address: std::net::Ipv4Addr = host.parse().ok()?;
    let rest = line[start + host.len()..].strip_prefix(':')?;
    let port: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let port: u16 = port.parse().ok().filter(|p| *p != 0)?;
    Some(format!("http://{address}:{port}"))
}

impl ChildServer {
    /// Starts `command` (which must listen on an address it prints as `http://127.0.0.1:<port>`)
    /// and waits until it prints it, at most [`START_TIMEOUT`].
    pub fn spawn(name: &str, mut command: Command) -> anyhow::Result<ChildServer> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("NO_COLOR", "1")
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        let output = Arc::new(Mutex::new(VecDeque::new()));
        let (url_tx, url_rx) = mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            let (output, url_tx) = (Arc::clone(&output), url_tx.clone());
            std::thread::spawn(move || keep_lines(stdout, output, url_tx));
        }
        if let Some(stderr) = child.stderr.take() {
            let output = Arc::clone(&output);
            std::thread::spawn(move || keep_lines(stderr, output, url_tx));
        }
        let mut server = ChildServer {
            child,
            url: String::new(),
            output,
            name: name.to_owned(),
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match url_rx.recv_timeout(Duration::from_millis(50)) {
                Ok(url) => {
                    server.url = url;
                    return Ok(server);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                // Both output pipes closed: the process is gone.
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let _ = server.child.wait();
                }
            }
            if let Some(status) = server.child.try_wait()? {
                bail!("{name} exited ({status}) before listening:\n{}", server.output());
            }
            if Instant::now() > deadline {
                bail!(
                    "{name} did not print its address within {START_TIMEOUT:?}:\n{}",
                    server.output()
                );
            }
        }
    }

    /// The base URL, `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last lines the process printed (stdout and stderr interleaved).
    pub fn output(&self) -> String {
        let kept = self
            .output
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        kept.iter().map(String::as_str).collect::<Vec<_>>().join("\n")
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Kills the process with SIGKILL (no chance to flush or clean up) and reaps it.
    pub fn kill(&mut self) {
        // An error means it has exited already.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits until `GET <url>/readyz` answers 200, at most [`START_TIMEOUT`].
    pub async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let last = match http.get(format!("{}/readyz", self.url)).send().await {
                Ok(response) if response.status().is_success() => return Ok(()),
                Ok(response) => format!("status {}", response.status()),
                Err(e) => e.to_string(),
            };
            if !self.is_running() {
                bail!("{} exited before it was ready:\n{}", self.name, self.output());
            }
            if Instant::now() > deadline {
                bail!(
                    "{} was not ready within {START_TIMEOUT:?} ({last}):\n{}",
                    self.name,
                    self.output()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// How a `tipline-server` under test is started.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// `--stamp-difficulty`.
    pub stamp_difficulty: u8,
    /// `--lease-seconds`, or the server's default.
    pub lease_seconds: Option<u64>,
    /// Lift the rate limits, and the submissions per window that raise the stamp difficulty, far
    /// above anything a test sends.
    pub generous_rates: bool,
    /// `RUST_LOG` for the server.
    pub log: String,
    /// More arguments.
    pub extra_args: Vec<String>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            stamp_difficulty: 4,
            lease_seconds: None,
            generous_rates: true,
            log: "info".to_owned(),
            extra_args: Vec::new(),
        }
    }
}

/// A `tipline-server --dev` process over its own temporary data directory; the directory
/// outlives restarts and is deleted on drop.
#[derive(Debug)]
pub struct TestServer {
    // Dropped (killed) before the data directory goes.
    process: Option<ChildServer>,
    options: ServerOptions,
    binary: PathBuf,
    data_dir: tempfile::TempDir,
}

impl TestServer {
    /// Builds (if need be) and starts a server on a fresh data directory, and waits until it is
    /// ready (the dev directory is published).
    pub async fn start(options: ServerOptions) -> anyhow::Result<TestServer> {
        let binary = tokio::task::spawn_blocking(|| binaries::locate(SERVER)).await??;
        Self::start_with(binary, options).await
    }

    /// [`TestServer::start`] with the server binary at `binary`.
    pub async fn start_with(binary: PathBuf, options: ServerOptions) -> anyhow::Result<TestServer> {
        let data_dir = tempfile::Builder::new().prefix("tipline-e2e-").tempdir()?;
        let mut server = TestServer {
            process: None,
            options,
            binary,
            data_dir,
        };
        server.restart().await?;
        Ok(server)
    }

    /// Kills the running process (if any) and starts a new one on the same data directory;
    /// waits until it is ready. The address changes.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        let mut command = Command::new(&self.binary);
        command
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(self.data_dir.path())
            .arg("--dev")
            .arg("--stamp-difficulty")
            .arg(self.options.stamp_difficulty.to_string())
            .env("RUST_LOG", &self.options.log);
        if let Some(lease) = self.options.lease_seconds {
            command.arg("--lease-seconds").arg(lease.to_string());
        }
        if self.options.generous_rates {
            for flag in [
                "--report-rate",
                "--upload-rate",
                "--report-upload-rate",
                "--cases-rate",
                "--case-rate",
                "--read-rate",
                "--unit-rate",
            ] {
                command.args([flag, "1000000000/1000000"]);
            }
            command.args(["--stamp-flood-threshold", &u32::MAX.to_string()]);
        }
        command.args(&self.options.extra_args);
        let mut process =
            tokio::task::spawn_blocking(move || ChildServer::spawn("tipline-server", command)).await??;
        process.wait_ready().await?;
        self.process = Some(process);
        Ok(())
    }

    /// Kills the process with SIGKILL, if it runs.
    pub fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill();
        }
    }

    /// The base URL of the running process.
    pub fn url(&self) -> &str {
        self.process.as_ref().map(ChildServer::url).unwrap_or_default()
    }

    /// The running process, if any.
    pub fn process(&mut self) -> Option<&mut ChildServer> {
        self.process.as_mut()
    }

    /// The last lines the process printed.
    pub fn output(&self) -> String {
        self.process.as_ref().map(ChildServer::output).unwrap_or_default()
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// The key file the dev setup wrote for `unit_id`.
    pub fn unit_keys(&self, unit_id: &str) -> anyhow::Result<UnitKeyFile> {
        read_unit_keys(self.data_dir(), unit_id)
    }

    /// The authority key the dev setup wrote.
    pub fn authority(&self) -> anyhow::Result<VerifyingKey> {
        read_authority(self.data_dir())
    }
}

/// Reads `<data_dir>/units/<unit_id>.key`.
pub fn read_unit_keys(data_dir: &Path, unit_id: &str) -> anyhow::Result<UnitKeyFile> {
    let path = data_dir.join("units").join(format!("{unit_id}.key"));
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("{} is not a unit key file", path.display()))
}

/// Reads `<data_dir>/authority.pub` (base64url).
pub fn read_authority(data_dir: &Path) -> anyhow::Result<VerifyingKey> {
    let path = data_dir.join("authority.pub");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let bytes = tipline_core::encoding::unb64_array::<32>(text.trim())
        .map_err(|_| anyhow::anyhow!("{} does not hold a 32-byte key", path.display()))?;
    Ok(VerifyingKey(bytes))
}

/// Which of `needles` occur anywhere in the readable memory of process `pid` (Linux: its
/// `/proc/<pid>/maps` and `/proc/<pid>/mem`; the test must be its parent, or root). Regions that
/// cannot be read (guard pages, the vsyscall page) are skipped.
#[cfg(target_os = "linux")]
pub fn memory_holds(pid: u32, needles: &[&[u8]]) -> anyhow::Result<Vec<bool>> {
    use std::io::{Seek as _, SeekFrom};
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).context("cannot read the memory map")?;
    let mut mem =
        std::fs::File::open(format!("/proc/{pid}/mem")).context("cannot open the process memory")?;
    let mut found = vec![false; needles.len()];
    let longest = needles.iter().map(|n| n.len()).max().unwrap_or(0);
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
            continue;
        };
        if !perms.starts_with('r') {
            continue;
        }
        // Only anonymous memory, the heap and the stack: where a process keeps what it received.
        let path = fields.nth(3).unwrap_or("");
        if !(path.is_empty() || path == "[heap]" || path == "[stack]") {
            continue;
        }
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (u64::from_str_radix(start, 16), u64::from_str_radix(end, 16)) else {
            continue;
        };
        // Read in pieces that overlap by the longest needle, so none is missed at a seam.
        const PIECE: u64 = 4 << 20;
        let mut at = start;
        while at < end {
            let len = (end - at).min(PIECE + longest as u64);
            let mut buf = vec![0u8; len as usize];
            if mem.seek(SeekFrom::Start(at)).is_err() || mem.read_exact(&mut buf).is_err() {
                break;
            }
            for (i, needle) in needles.iter().enumerate() {
                if !found[i] && !needle.is_empty() && memchr::memmem::find(&buf, needle).is_some() {
                    found[i] = true;
                }
            }
            at += PIECE;
        }
    }
    Ok(found)
}
