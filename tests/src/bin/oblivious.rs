//! Benchmark: a report's submission through the Oblivious HTTP relay against direct, on
//! loopback, in one run. The real server (`--dev`) on 127.0.0.1 and the real relay on
//! 127.0.0.2; sealed submissions made beforehand, sent one at a time, direct and oblivious in
//! alternating batches so that both meet the same machine. Prints the median and p90 latency
//! of each path, and the server process's CPU time per request (from `/proc/<pid>/stat`), with
//! their ratios. Target: the gateway's CPU per request at most 1.5 times the direct path's.
//!
//! `cargo run -p tipline-e2e --release --bin oblivious-bench [-- <requests per path>]`

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use chrono::Utc;
use tipline_core::ohttp::{self, bhttp, KeyConfig};
use tipline_e2e::binaries::{locate, RELAY};
use tipline_e2e::citizen::{seal_many, Citizen};
use tipline_e2e::process::{ChildServer, ServerOptions, TestServer};

const UNIT: &str = "dk-infohus-vestegnen";
const BATCH: usize = 25;

/// The server process's user and system CPU time so far, in clock ticks (`/proc/<pid>/stat`
/// fields 14 and 15).
fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name is in parentheses and may hold spaces: count fields after it.
    let after = stat.rsplit_once(')').context("unexpected /proc stat")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: u64 = fields.get(11).context("utime")?.parse()?;
    let stime: u64 = fields.get(12).context("stime")?.parse()?;
    Ok(utime + stime)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

#[derive(Default)]
struct Path {
    latencies: Vec<Duration>,
    ticks: u64,
}

impl Path {
    fn report(&mut self, name: &str, ticks_per_sec: f64) -> (f64, f64) {
        self.latencies.sort();
        let n = self.latencies.len() as f64;
        let cpu_us = self.ticks as f64 / ticks_per_sec * 1e6 / n;
        let median = percentile(&self.latencies, 0.5).as_secs_f64() * 1e3;
        println!(
            "{name:<10} {:>6} requests  median {median:>7.2} ms  p90 {:>7.2} ms  server CPU {cpu_us:>8.1} us/request",
            self.latencies.len(),
            percentile(&self.latencies, 0.9).as_secs_f64() * 1e3,
        );
        (median, cpu_us)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let per_path: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(400);
    let mut server = TestServer::start(ServerOptions {
        log: "warn".into(),
        ..ServerOptions::default()
    })
    .await?;
    let base = server.url().to_owned();
    let pid = server.process().context("server")?.pid();
    let gateway = format!("{base}/.well-known/ohttp-gateway");
    let mut relay = Command::new(tokio::task::spawn_blocking(|| locate(RELAY)).await??);
    relay
        .args([
            "--listen",
            "127.0.0.2:0",
            "--gateway",
            &gateway,
            "--outgoing-address",
            "127.0.0.2",
        ])
        .args(["--per-minute", "1000000", "--burst", "100000"])
        .env("RUST_LOG", "warn");
    let relay = tokio::task::spawn_blocking(move || ChildServer::spawn("tipline-relay", relay)).await??;
    let relay_url = format!("{}/", relay.url());

    let http = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 3]))
        .build()?;
    let keys = http.get(&gateway).send().await?.bytes().await?;
    let key = KeyConfig::decode_list(&keys)?.remove(0);
    let citizen = Citizen::connect(&base).await?;
    let unit_key = citizen.unit_key(&server.authority()?, UNIT).await?;
    println!("sealing {} submissions...", 2 * per_path);
    let submissions = seal_many(
        UNIT,
        &unit_key,
        citizen.info.stamp_difficulty,
        2 * per_path,
        "bench",
    )?;
    let authority = base.trim_start_matches("http://").to_owned();

    let (mut direct, mut oblivious) = (Path::default(), Path::default());
    for (batch_no, batch) in submissions.chunks(BATCH).enumerate() {
        let through_relay = batch_no % 2 == 1;
        let before = cpu_ticks(pid)?;
        for submission in batch {
            let started = Instant::now();
            let status = if through_relay {
                let fields = vec![
                    ("content-type".to_string(), "application/json".to_string()),
                    (
                        "date".to_string(),
                        Utc::now().format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
                    ),
                ];
                let inner = bhttp::encode_request(&bhttp::Request {
                    method: "POST",
                    scheme: "http",
                    authority: &authority,
                    path: "/v1/reports",
                    fields: &fields,
                    content: &submission.body,
                });
                let (sealed, opener) = ohttp::encapsulate_request(&key, &inner)?;
                let answer = http
                    .post(&relay_url)
                    .header("content-type", ohttp::REQUEST_MEDIA_TYPE)
                    .body(sealed)
                    .send()
                    .await?;
                if answer.status() != 200 {
                    bail!("relay answered {}", answer.status());
                }
                let body = answer.bytes().await?;
                let plain = opener.open(&body).map_err(|e| anyhow::anyhow!("{e}"))?;
                bhttp::decode_response(&plain, 1 << 20)
                    .map_err(|e| anyhow::anyhow!("{e}"))?
                    .status
            } else {
                let answer = http
                    .post(format!("{base}/v1/reports"))
                    .header("content-type", "application/json")
                    .body(submission.body.clone())
                    .send()
                    .await?;
                let status = answer.status().as_u16();
                answer.bytes().await?;
                status
            };
            if status != 201 {
                bail!("a submission was answered {status}");
            }
            let path = if through_relay {
                &mut oblivious
            } else {
                &mut direct
            };
            path.latencies.push(started.elapsed());
        }
        let spent = cpu_ticks(pid)? - before;
        if through_relay {
            oblivious.ticks += spent;
        } else {
            direct.ticks += spent;
        }
    }

    // `sysconf(_SC_CLK_TCK)` is not in std; Linux reports CPU times in USER_HZ, 100 everywhere.
    let ticks_per_sec = 100.0;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "Oblivious HTTP benchmark: report submissions one at a time on loopback ({} profile, load average {})",
        if cfg!(debug_assertions) { "debug" } else { "release" },
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
    let (direct_ms, direct_cpu) = direct.report("direct", ticks_per_sec);
    let (relay_ms, relay_cpu) = oblivious.report("oblivious", ticks_per_sec);
    println!(
        "added latency: {:.2} ms (ratio {:.2}); server CPU per request: ratio {:.2} (target at most 1.5)",
        relay_ms - direct_ms,
        relay_ms / direct_ms,
        relay_cpu / direct_cpu
    );
    drop(relay);
    server.kill();
    Ok(())
}
