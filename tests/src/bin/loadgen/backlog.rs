//! The desk's backlog phase: 1,000 reports wait on the intake for a unit whose desk is off (sent
//! closed-loop, every 201 checked for a receipt); then the unit's desk starts, through the same
//! receiving loop the web and terminal desks run (`Desk::run_inbox`: live inbox, open, store
//! encrypted on disk, acknowledge; deliveries that arrive together are stored in one commit and
//! acknowledged in one request), and takes them all. The figure is the desk's rate against
//! the intake's, from the first event to the last report stored and acknowledged. Target: at
//! least 1.0 (the desk keeps up with what the intake accepts).

use std::time::Duration;

use tipline_core::desk::{Desk, DeskClient, DeskEvent, DeskStore, InboxOptions, KdfParams};
use tipline_e2e::load::{closed_loop, Load, PhaseResult};
use tipline_e2e::{Citizen, TestServer};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::checks::{check_receipts, phase_failures};
use crate::pool::{addr_of, bodies, generate};
use crate::report::verdict;

/// The unit whose desk is off while its backlog grows: no other phase files to it.
pub const BACKLOG_UNIT: &str = "es-stop-radicalismos";
/// Reports in the backlog.
pub const BACKLOG: usize = 1000;
/// How long the desk may take before the phase gives up.
const DESK_LIMIT: Duration = Duration::from_secs(120);

/// What the backlog phase measured.
pub struct Backlog {
    /// The submissions of the backlog.
    pub intake: PhaseResult,
    /// Reports the desk took (stored and acknowledged).
    pub taken: usize,
    /// From the desk's start to the last report taken.
    pub desk_elapsed: Duration,
}

impl Backlog {
    /// Reports per second the intake accepted.
    pub fn intake_rate(&self) -> f64 {
        self.intake.rate()
    }

    /// Reports per second the desk took.
    pub fn desk_rate(&self) -> f64 {
        self.taken as f64 / self.desk_elapsed.as_secs_f64().max(1e-9)
    }

    /// Prints the desk's rate against the intake's, with the target, as a line of the targets'
    /// table.
    pub fn print_target(&self) {
        let (intake, desk) = (self.intake_rate(), self.desk_rate());
        let ratio = desk / intake.max(1e-9);
        println!(
            "  {:<40} {:>12.2} {:>10}  {}",
            format!("desk backlog / intake ({desk:.0} / {intake:.0})"),
            ratio,
            ">= 1.0",
            verdict(ratio >= 1.0)
        );
    }
}

/// The backlog phase against `server`.
pub async fn backlog_phase(
    server: &TestServer,
    citizen: &Citizen,
    connections: usize,
    failures: &mut Vec<String>,
) -> anyhow::Result<Backlog> {
    let key = citizen.unit_key(&server.authority()?, BACKLOG_UNIT).await?;
    let server_key = citizen.info.server_key;
    let pool = generate(BACKLOG_UNIT, &key, BACKLOG, "the desk's backlog")?;
    let load = Load {
        addr: addr_of(server.url())?,
        path: "/v1/reports",
        bodies: bodies(&pool),
        reuse: false,
        keep_status: Some(201),
    };
    // Until the pool runs out.
    let intake = closed_loop(&load, connections, Duration::from_secs(60)).await?;
    phase_failures("backlog intake", &intake, 201, failures);
    check_receipts("backlog intake", &intake, &pool, &server_key, failures);
    println!(
        "  intake: {} reports in {:.2} s, {:.0} reports/s",
        pool.len(),
        intake.elapsed.as_secs_f64(),
        intake.rate()
    );

    // The desk: its store on disk, as a unit's desk keeps it.
    let dir = tempfile::tempdir()?;
    let keys = server.unit_keys(BACKLOG_UNIT)?;
    let store = DeskStore::open(
        dir.path(),
        BACKLOG_UNIT,
        "backlog benchmark",
        KdfParams::default(),
    )?;
    let client = DeskClient::new(server.url(), None, Duration::from_secs(30), &keys)?;
    let desk = Desk::new(client, store, keys)?;
    let (events, mut received) = mpsc::channel(256);
    let started = Instant::now();
    let run = desk.run_inbox(InboxOptions::default(), events, std::future::pending());
    let count = async {
        let mut taken = 0usize;
        let mut last = started;
        while taken < pool.len() {
            match tokio::time::timeout_at(started + DESK_LIMIT, received.recv()).await {
                Ok(Some(DeskEvent::Received { received, .. }))
                    if received.first_time && received.pending.is_empty() && received.record.acked =>
                {
                    taken += 1;
                    last = Instant::now();
                }
                Ok(Some(DeskEvent::Refused { reason, .. })) => {
                    anyhow::bail!("the desk could not take a report: {reason}")
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        Ok((taken, last - started))
    };
    let (taken, desk_elapsed) = tokio::select! {
        result = run => {
            result?;
            anyhow::bail!("the desk's receiving loop ended early")
        }
        counted = count => counted?,
    };
    if taken < pool.len() {
        failures.push(format!(
            "backlog: the desk took {taken} of {} reports within {DESK_LIMIT:?}",
            pool.len()
        ));
    }
    println!(
        "  desk: {taken} reports opened, stored encrypted and acknowledged in {:.2} s, {:.0} reports/s",
        desk_elapsed.as_secs_f64(),
        taken as f64 / desk_elapsed.as_secs_f64().max(1e-9)
    );
    Ok(Backlog {
        intake,
        taken,
        desk_elapsed,
    })
}
