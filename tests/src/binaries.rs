//! Finds the workspace's binaries for the process under test. They sit next to the running
//! executable (`target/<profile>/`, or one level up from `target/<profile>/deps/` for a test).
//! A binary that is missing, or older than any of its sources (its crates' files and
//! `Cargo.lock`), is built first with `cargo build -p <package> --bin <name>` in the same
//! profile, once per process, so that a test never runs a stale server by mistake. An
//! environment variable (`TIPLINE_SERVER_BIN`, `TIPLINE_CLI_BIN`, `TIPLINE_DESK_BIN`,
//! `TIPLINE_BARE_BIN`, `TIPLINE_CEILING_BIN`, `TIPLINE_RELAY_BIN`) names a binary to use as it is instead.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context as _};

/// Longest a build of a missing binary may take (a cold release build on two cores).
const BUILD_TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// A binary of the workspace.
#[derive(Debug, Clone, Copy)]
pub struct Binary {
    /// The cargo package that has it.
    pub package: &'static str,
    /// The binary's name.
    pub name: &'static str,
    /// The environment variable that may point at a prebuilt one.
    pub env: &'static str,
    /// Files and folders (from the workspace root) it is built from, besides `Cargo.lock`.
    pub sources: &'static [&'static str],
}

/// The intake server.
pub const SERVER: Binary = Binary {
    package: "tipline-server",
    name: "tipline-server",
    env: "TIPLINE_SERVER_BIN",
    sources: &[
        "server/src",
        "server/Cargo.toml",
        "core/src",
        "core/Cargo.toml",
        "core/data",
    ],
};

/// The desktop tool (desk, authority, citizen mode).
pub const CLI: Binary = Binary {
    package: "tipline-cli",
    name: "tipline",
    env: "TIPLINE_CLI_BIN",
    sources: &[
        "cli/src",
        "cli/Cargo.toml",
        "core/src",
        "core/Cargo.toml",
        "core/data",
    ],
};

/// The unit's desk as a web application.
pub const DESK: Binary = Binary {
    package: "tipline-desk",
    name: "tipline-desk",
    env: "TIPLINE_DESK_BIN",
    sources: &[
        "desk/src",
        "desk/templates",
        "desk/assets",
        "desk/locales",
        "desk/Cargo.toml",
        "core/src",
        "core/Cargo.toml",
        "core/data",
    ],
};

/// The Oblivious HTTP relay.
pub const RELAY: Binary = Binary {
    package: "tipline-relay",
    name: "tipline-relay",
    env: "TIPLINE_RELAY_BIN",
    sources: &["relay/src", "relay/Cargo.toml"],
};

/// The load benchmark's bare axum baseline.
pub const BARE: Binary = Binary {
    package: "tipline-e2e",
    name: "bare",
    env: "TIPLINE_BARE_BIN",
    sources: &["tests/src/bin/bare.rs", "tests/Cargo.toml"],
};

/// The load benchmark's ceiling: the intake server's router over a store that keeps no report.
pub const CEILING: Binary = Binary {
    package: "tipline-e2e",
    name: "intake-ceiling",
    env: "TIPLINE_CEILING_BIN",
    sources: &[
        "tests/src/bin/ceiling.rs",
        "tests/Cargo.toml",
        "server/src",
        "server/Cargo.toml",
        "core/src",
        "core/Cargo.toml",
        "core/data",
    ],
};

/// Where the running executable's profile puts binaries, and the profile's name.
pub fn profile_dir() -> anyhow::Result<(PathBuf, String)> {
    let exe = std::env::current_exe().context("cannot find the running executable")?;
    let mut dir = exe
        .parent()
        .context("the running executable has no folder")?
        .to_path_buf();
    if dir.file_name().is_some_and(|name| name == "deps") {
        dir.pop();
    }
    let profile = dir
        .file_name()
        .and_then(|name| name.to_str())
        .context("the executable's folder has no name")?
        .to_owned();
    Ok((dir, profile))
}

/// The workspace root (the parent of this crate's folder).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

fn builds() -> &'static Mutex<HashMap<&'static str, PathBuf>> {
    static BUILT: OnceLock<Mutex<HashMap<&'static str, PathBuf>>> = OnceLock::new();
    BUILT.get_or_init(|| Mutex::new(HashMap::new()))
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The latest modification time of `path` and everything under it.
fn newest(path: &Path) -> Option<SystemTime> {
    let own = modified(path);
    let Ok(entries) = std::fs::read_dir(path) else {
        return own;
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| newest(&entry.path()))
        .chain(own)
        .max()
}

/// Whether `path` exists and is newer than every source of `binary`.
fn is_fresh(binary: Binary, path: &Path) -> bool {
    let Some(built) = modified(path) else {
        return false;
    };
    let root = workspace_root();
    let sources = binary
        .sources
        .iter()
        .map(|source| root.join(source))
        .chain([root.join("Cargo.lock")])
        .filter_map(|source| newest(&source))
        .max();
    sources.is_none_or(|sources| sources <= built)
}

/// The path of `binary`, built first if it is missing or stale (once per process), unless its
/// environment variable names one. Blocking.
pub fn locate(binary: Binary) -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os(binary.env) {
        let path = PathBuf::from(path);
        if !path.is_file() {
            bail!("{}={} is not a file", binary.env, path.display());
        }
        return Ok(path);
    }
    // Held across the build so that parallel tests wait for one build instead of racing.
    let mut built = builds().lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(path) = built.get(binary.name) {
        return Ok(path.clone());
    }
    let (dir, profile) = profile_dir()?;
    let path = dir.join(format!("{}{}", binary.name, std::env::consts::EXE_SUFFIX));
    if !is_fresh(binary, &path) {
        build(binary, &dir, &profile)?;
    }
    if !path.is_file() {
        bail!("{} was built but is not at {}", binary.name, path.display());
    }
    built.insert(binary.name, path.clone());
    Ok(path)
}

fn build(binary: Binary, dir: &Path, profile: &str) -> anyhow::Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(workspace_root()).args([
        "build",
        "--quiet",
        "-p",
        binary.package,
        "--bin",
        binary.name,
    ]);
    match profile {
        "debug" => {}
        "release" => {
            command.arg("--release");
        }
        other => {
            command.args(["--profile", other]);
        }
    }
    // The target folder this executable was built in (cargo marks its root with CACHEDIR.TAG;
    // a cross build nests one level deeper and is left to cargo's own default).
    if let Some(target_dir) = dir.parent().filter(|d| d.join("CACHEDIR.TAG").is_file()) {
        command.arg("--target-dir").arg(target_dir);
    }
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot run cargo to build {}", binary.name))?;
    loop {
        if let Some(status) = child.try_wait()? {
            if status.success() {
                return Ok(());
            }
            bail!("`cargo build -p {}` failed ({status})", binary.package);
        }
        if started.elapsed() > BUILD_TIMEOUT {
            // Kill only the cargo we started.
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "`cargo build -p {}` took longer than {BUILD_TIMEOUT:?}",
                binary.package
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
