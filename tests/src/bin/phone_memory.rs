//! The phone's memory benchmark: how much filing a report with a large attachment adds to a
//! process's peak memory, through the core client as the apps use it (seal the attachment from
//! its file into the outbox, store, upload to a real `tipline-server` over loopback).
//!
//! `phone-memory [--sizes-mib 0,64,512]` starts a server, then for each size runs itself again
//! in a fresh process (`--measure`) that files one report with an attachment of that size,
//! flushes it until it is delivered, and prints its peak resident set (`VmHWM` from
//! `/proc/self/status`). Each size's peak minus the peak of the report without an attachment is
//! what the attachment cost; the target is under 32 MiB for 512 MiB. Linux only.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::Parser;
use tipline_core::client::keystore::StaticKeyStore;
use tipline_core::client::{Client, ClientConfig, OutboxStatus};
use tipline_core::compose::{Draft, DraftAttachment};
use tipline_e2e::process::{read_authority, ServerOptions, TestServer};

const MIB: u64 = 1024 * 1024;
/// Flushes tried before a report that is still not delivered counts as a failure.
const MAX_FLUSHES: u32 = 10;

#[derive(Debug, Parser)]
#[command(name = "phone-memory")]
struct Args {
    /// Attachment sizes to measure, in MiB (0: a report without an attachment, the baseline).
    #[arg(long, value_delimiter = ',', default_value = "0,64,512")]
    sizes_mib: Vec<u64>,
    /// Internal: measure one filing against the server at this URL.
    #[arg(long, requires_all = ["data_dir", "work"])]
    measure: Option<String>,
    /// Internal: the server's data directory (for the authority key).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Internal: the folder for the device's storage and the attachment file.
    #[arg(long)]
    work: Option<PathBuf>,
    /// Internal: the attachment's size in bytes (0: none).
    #[arg(long, default_value_t = 0)]
    bytes: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(url) = &args.measure {
        return measure(url, args.data_dir.as_deref(), args.work.as_deref(), args.bytes);
    }
    let runtime = tokio::runtime::Runtime::new()?;
    let server = runtime.block_on(TestServer::start(ServerOptions::default()))?;
    let exe = std::env::current_exe()?;
    let mut baseline = None;
    println!("size_mib  peak_rss_kib  added_kib  added_mib  seconds");
    for &size in &args.sizes_mib {
        let work = tempfile::Builder::new()
            .prefix("tipline-phone-memory-")
            .tempdir()?;
        let bytes = size * MIB;
        if bytes > 0 {
            // Written here, not in the measured process, so its peak holds the filing only.
            write_attachment(&work.path().join("video.mp4"), bytes)?;
        }
        let started = Instant::now();
        let output = Command::new(&exe)
            .arg("--measure")
            .arg(server.url())
            .arg("--data-dir")
            .arg(server.data_dir())
            .arg("--work")
            .arg(work.path())
            .arg("--bytes")
            .arg(bytes.to_string())
            .output()?;
        if !output.status.success() {
            bail!(
                "the measuring process failed for {size} MiB: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let seconds = started.elapsed().as_secs_f64();
        let text = String::from_utf8(output.stdout)?;
        let peak: u64 = text
            .lines()
            .find_map(|l| l.strip_prefix("vmhwm_kib="))
            .context("the measuring process printed no peak")?
            .trim()
            .parse()?;
        let base = *baseline.get_or_insert(peak);
        let added = peak.saturating_sub(base);
        println!(
            "{size:>8}  {peak:>12}  {added:>9}  {:>9.1}  {seconds:>7.1}",
            added as f64 / 1024.0
        );
    }
    Ok(())
}

/// Writes `size` bytes that do not compress (a video does not either).
fn write_attachment(path: &Path, size: u64) -> anyhow::Result<()> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut block = vec![0u8; MIB as usize];
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut written = 0;
    while written < size {
        for byte in block.iter_mut() {
            // xorshift64: enough to defeat compression, no need for quality.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *byte = state as u8;
        }
        let n = (size - written).min(MIB);
        file.write_all(&block[..n as usize])?;
        written += n;
    }
    file.flush()?;
    Ok(())
}

/// Files one report (with an attachment of `bytes` if not 0), delivers it, and prints the peak.
fn measure(url: &str, data_dir: Option<&Path>, work: Option<&Path>, bytes: u64) -> anyhow::Result<()> {
    let (data_dir, work) = (data_dir.context("--data-dir")?, work.context("--work")?);
    // Two workers, as the phone library's runtime has.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let client = Arc::new(Client::open(ClientConfig {
        storage_dir: work.join("device"),
        base_url: url.to_owned(),
        authority_key: read_authority(data_dir)?,
        tls_pin: None,
        key_store: Arc::new(StaticKeyStore::new([7; 32])),
        timeout: Duration::from_secs(60),
        oblivious: None,
        local_address: None,
    })?);
    runtime.block_on(async {
        client.refresh_directory().await?;
        let mut draft = Draft {
            region: Some("DK-84".into()),
            category: "radicalisation".into(),
            text: "En ung mand viser IS-videoer til yngre drenge i fitnesscentret.".into(),
            language: "da".into(),
            ..Draft::default()
        };
        if bytes > 0 {
            draft.attachments.push(DraftAttachment {
                name: "video.mp4".into(),
                media_type: "video/mp4".into(),
                path: work.join("video.mp4"),
            });
        }
        let filing = Arc::clone(&client);
        let filed = tokio::task::spawn_blocking(move || filing.file_report(&draft)).await??;
        for _ in 0..MAX_FLUSHES {
            client.flush().await?;
            let item = client
                .outbox()?
                .into_iter()
                .find(|i| i.report_id == filed.report_id)
                .context("the report left the outbox")?;
            match item.status {
                OutboxStatus::Delivered { .. } => return Ok(()),
                OutboxStatus::Failed { status, code, .. } => bail!("refused: {status} {code}"),
                OutboxStatus::ReceiptUnverified => bail!("the receipt does not verify"),
                _ => {
                    // Due again now rather than after its back-off.
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    client.retry(filed.report_id)?;
                }
            }
        }
        bail!("not delivered after {MAX_FLUSHES} flushes")
    })?;
    let status = std::fs::read_to_string("/proc/self/status")?;
    let peak = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .context("no VmHWM in /proc/self/status")?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .to_owned();
    println!("vmhwm_kib={peak}");
    Ok(())
}
