//! The push phase: a desk of a unit with no backlog holds the live stream while reports for it
//! come in at a moderate rate; per report, the time from its 201 arriving at the client to its
//! event arriving at the desk.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;
use tipline_core::desk::DeskClient;
use tipline_core::report::ReportId;
use tipline_e2e::load::{self, open_loop, Load, PhaseResult};
use tipline_e2e::{live_inbox, next_report, Citizen, TestServer};
use tokio::time::Instant;

use crate::checks::{check_receipts, phase_failures};
use crate::pool::{addr_of, bodies, generate};
use crate::PUSH_UNIT;

/// Connections of the push phase's submitter.
const PUSH_CONNECTIONS: usize = 4;

/// What the push phase measured.
pub struct Push {
    /// From each 201 to its report's event at the desk (0 if the event came first).
    pub latency: Histogram<u64>,
    /// The submissions.
    pub submissions: PhaseResult,
    /// Reports stored (answered 201).
    pub reports: usize,
    /// Of those, the ones whose event reached the desk.
    pub events: usize,
    /// Events that arrived before their 201.
    pub before_answer: usize,
}

/// The push phase: a live desk of `PUSH_UNIT` (with the keys of `server`'s dev setup) on the
/// node at `desk_url`, reports for it submitted to the node at `submit_url` at `rate` per second
/// (one node: both are `server`'s URL; across nodes: two nodes on one database).
#[allow(clippy::too_many_arguments)] // the phase's knobs, each used once
pub async fn push_phase(
    server: &TestServer,
    desk_url: &str,
    submit_url: &str,
    citizen: &Citizen,
    rate: u64,
    secs: u64,
    ack: bool,
    failures: &mut Vec<String>,
) -> anyhow::Result<Push> {
    let key = citizen.unit_key(&server.authority()?, PUSH_UNIT).await?;
    let count = usize::try_from(rate * secs)?;
    let pool = generate(PUSH_UNIT, &key, count, "the push phase")?;
    let desk = Arc::new(DeskClient::new(
        desk_url,
        None,
        tipline_e2e::inbox::DESK_TIMEOUT,
        &server.unit_keys(PUSH_UNIT)?,
    )?);
    let mut stream = live_inbox(&desk).await?;
    let listen_for = Duration::from_secs(secs + 5);
    let expected = pool.len();
    let listener = tokio::spawn(async move {
        let deadline = Instant::now() + listen_for;
        let mut seen: HashMap<ReportId, Instant> = HashMap::with_capacity(expected);
        let mut acks = Vec::new();
        while seen.len() < expected {
            let left = deadline.saturating_duration_since(Instant::now());
            match next_report(&mut stream, left).await {
                Ok(Some(delivered)) => {
                    seen.entry(delivered.report_id).or_insert_with(Instant::now);
                    if ack {
                        // As a desk does once it stored the report; off the stream's path.
                        let desk = Arc::clone(&desk);
                        acks.push(tokio::spawn(async move { desk.ack(delivered.report_id).await }));
                    }
                }
                Ok(None) => break,
                Err(e) => return Err(e),
            }
        }
        let mut failed_acks = 0;
        for ack in acks {
            if !matches!(ack.await, Ok(Ok(()))) {
                failed_acks += 1;
            }
        }
        Ok((seen, failed_acks))
    });
    let push_load = Load {
        addr: addr_of(submit_url)?,
        path: "/v1/reports",
        bodies: bodies(&pool),
        reuse: false,
        keep_status: Some(201),
    };
    let result = open_loop(
        &push_load,
        PUSH_CONNECTIONS,
        rate as f64,
        Duration::from_secs(secs),
    )
    .await?;
    phase_failures("push submissions", &result, 201, failures);
    check_receipts(
        "push submissions",
        &result,
        &pool,
        &citizen.info.server_key,
        failures,
    );
    let (seen, failed_acks) = listener.await??;
    if failed_acks > 0 {
        failures.push(format!("push: {failed_acks} acknowledgements failed"));
    }
    let mut latency = load::histogram();
    let mut before_answer = 0;
    let mut events = 0;
    for answer in &result.answers {
        let Some(event_at) = seen.get(&pool[answer.index].report_id) else {
            continue;
        };
        events += 1;
        if *event_at < answer.at {
            before_answer += 1;
        }
        load::record(&mut latency, event_at.saturating_duration_since(answer.at));
    }
    if events < result.answers.len() {
        failures.push(format!(
            "push: {} of {} stored reports never reached the live desk",
            result.answers.len() - events,
            result.answers.len()
        ));
    }
    Ok(Push {
        latency,
        reports: result.answers.len(),
        events,
        before_answer,
        submissions: result,
    })
}
