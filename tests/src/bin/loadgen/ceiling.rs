//! The ceiling phase: how fast intake could be if durable storage cost nothing.

use std::path::PathBuf;
use std::time::Duration;

use tipline_e2e::load::{closed_loop, Load, PhaseResult};
use tipline_e2e::{Citizen, ServerOptions, TestServer};

use crate::checks::{check_receipts, phase_failures};
use crate::pool::{addr_of, bodies, generate};
use crate::{INTAKE_UNIT, WARM_UP, WARM_UP_POOL};

/// The ceiling phase: `intake-ceiling` with the intake server's options, its own dev setup,
/// its submissions sent in turn for a warm-up and then `duration`, every 201 checked.
pub async fn ceiling_phase(
    binary: PathBuf,
    options: ServerOptions,
    connections: usize,
    duration: Duration,
    failures: &mut Vec<String>,
) -> anyhow::Result<PhaseResult> {
    let server = TestServer::start_with(binary, options).await?;
    let citizen = Citizen::connect(server.url()).await?;
    let key = citizen.unit_key(&server.authority()?, INTAKE_UNIT).await?;
    let pool = generate(INTAKE_UNIT, &key, WARM_UP_POOL, "the ceiling")?;
    let load = Load {
        addr: addr_of(server.url())?,
        path: "/v1/reports",
        bodies: bodies(&pool),
        // It keeps nothing, so a submission sent again is work done again, not a duplicate.
        reuse: true,
        keep_status: Some(201),
    };
    closed_loop(&load, connections, WARM_UP).await?;
    let result = closed_loop(&load, connections, duration).await?;
    drop(server);
    phase_failures("ceiling", &result, 201, failures);
    check_receipts("ceiling", &result, &pool, &citizen.info.server_key, failures);
    Ok(result)
}
