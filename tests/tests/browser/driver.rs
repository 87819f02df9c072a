//! A real headless Chromium driven over WebDriver: Debian's `chromium` and `chromium-driver`
//! (`.ci/run` installs them). `chromedriver` runs on a free loopback port; the browser starts
//! with a fresh profile, no sandbox (the tests run as root), and none of Chromium's own
//! background traffic, since the machine has no network but loopback. Both are stopped on drop.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use fantoccini::{Client, ClientBuilder};

/// How long chromedriver may take to answer its status.
const DRIVER_START: Duration = Duration::from_secs(20);

/// The first of `names` found as an executable in the usual places or on `PATH`.
fn find_program(names: &[&str]) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect())
        .unwrap_or_default();
    dirs.push(PathBuf::from("/usr/bin"));
    dirs.push(PathBuf::from("/usr/lib/chromium"));
    names
        .iter()
        .flat_map(|name| dirs.iter().map(move |dir| dir.join(name)))
        .find(|path| path.is_file())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A headless Chromium session; the driver and its browser are killed on drop.
pub struct Browser {
    /// The WebDriver session.
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a browser session in a window of `width` x `height`.
    pub async fn start(width: u32, height: u32) -> anyhow::Result<Browser> {
        let driver_path = find_program(&["chromedriver"])
            .context("chromedriver not found: install Debian's chromium-driver (.ci/run does)")?;
        let chromium = find_program(&["chromium", "chromium-browser"])
            .context("chromium not found: install Debian's chromium (.ci/run does)")?;
        let port = free_port()?;
        // In a process group of its own, with the browser it starts, so that both end together
        // (a Chromium whose driver was killed would otherwise outlive the test).
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {}", driver_path.display()))?;
        // Killed on drop from here on, even if the session cannot start.
        let mut browser = BrowserParts {
            driver: Some(driver),
            profile: tempfile::tempdir()?,
        };
        driver_is_up(port).await?;
        let client = connect(port, &chromium, width, height, browser.profile.path()).await?;
        Ok(Browser {
            client,
            driver: browser.driver.take().context("driver")?,
            _profile: std::mem::replace(&mut browser.profile, tempfile::tempdir()?),
        })
    }

    /// Ends the session (the browser quits) and stops the driver.
    pub async fn quit(self) -> anyhow::Result<()> {
        self.client.clone().close().await?;
        Ok(())
    }

    /// A PNG screenshot of the page, saved at `path`.
    pub async fn screenshot(&self, path: &Path) -> anyhow::Result<()> {
        let png = self.client.screenshot().await?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, png)?;
        Ok(())
    }
}

async fn driver_is_up(port: u16) -> anyhow::Result<()> {
    let started = Instant::now();
    let http = reqwest::Client::new();
    loop {
        let status = http
            .get(format!("http://127.0.0.1:{port}/status"))
            .timeout(Duration::from_secs(2))
            .send()
            .await;
        if matches!(status, Ok(ref response) if response.status().is_success()) {
            return Ok(());
        }
        if started.elapsed() > DRIVER_START {
            bail!("chromedriver did not answer within {DRIVER_START:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What must be cleaned up while a session starts.
struct BrowserParts {
    driver: Option<Child>,
    profile: tempfile::TempDir,
}

impl Drop for BrowserParts {
    fn drop(&mut self) {
        if let Some(mut driver) = self.driver.take() {
            end_group(&mut driver);
        }
    }
}

/// Kills the driver's process group (the driver and every browser process it started) and
/// reaps the driver.
fn end_group(driver: &mut Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", driver.id())])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = driver.kill();
    let _ = driver.wait();
}

async fn connect(
    port: u16,
    chromium: &Path,
    width: u32,
    height: u32,
    profile: &Path,
) -> anyhow::Result<Client> {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chromium,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--hide-scrollbars",
                format!("--window-size={width},{height}"),
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    // chromedriver speaks plain HTTP on loopback: no TLS stack needed.
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .context("a Chromium session through chromedriver")
}

impl Drop for Browser {
    fn drop(&mut self) {
        end_group(&mut self.driver);
    }
}
