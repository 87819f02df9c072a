//! The closing tables: each phase's rate and latency, then each figure against its target. A
//! missed target prints MISS; it does not fail the run.

use hdrhistogram::Histogram;
use tipline_e2e::load::PhaseResult;

use crate::backlog::Backlog;
use crate::push::Push;

/// Targets.
const TARGET_RATIO: f64 = 0.5;
const TARGET_P99_HALF_MS: f64 = 20.0;
const TARGET_PUSH_MEDIAN_MS: f64 = 5.0;

/// What the phases measured.
pub struct Measured {
    /// The bare handler, closed loop.
    pub bare: PhaseResult,
    /// Intake, closed loop.
    pub peak: PhaseResult,
    /// Intake, open loop at half the peak rate.
    pub half: PhaseResult,
    /// The rate offered at half the peak.
    pub half_rate: f64,
    /// The ceiling, closed loop.
    pub ceiling: PhaseResult,
    /// The push phase.
    pub push: Push,
    /// Reports per second offered in the push phase.
    pub push_rate: u64,
    /// The desk's backlog phase.
    pub backlog: Backlog,
}

/// The 1-minute load average (Linux), to tell a quiet machine from a busy one.
pub fn load_average() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

fn row(name: &str, result: &PhaseResult, histogram: &Histogram<u64>) {
    println!(
        "  {name:<34} {:>9} {:>10.0} {:>9.2} {:>9.2} {:>9.2}",
        result.answered(),
        result.rate(),
        ms(histogram.value_at_quantile(0.5)),
        ms(histogram.value_at_quantile(0.99)),
        ms(histogram.max()),
    );
}

pub fn verdict(pass: bool) -> &'static str {
    if pass {
        "PASS"
    } else {
        "MISS"
    }
}

impl Measured {
    /// Prints each phase's rate and latency, then the load average after the run.
    pub fn print_results(&self) {
        let push = &self.push;
        println!("\nResults (latency in ms)");
        println!(
            "  {:<34} {:>9} {:>10} {:>9} {:>9} {:>9}",
            "phase", "requests", "req/s", "p50", "p99", "max"
        );
        row("bare axum, closed loop", &self.bare, &self.bare.latency);
        row("intake, closed loop (peak)", &self.peak, &self.peak.latency);
        row("intake, half peak, from schedule", &self.half, &self.half.latency);
        row("intake, half peak, from send", &self.half, &self.half.service);
        row(
            "ceiling (keeps no report), closed",
            &self.ceiling,
            &self.ceiling.latency,
        );
        row(
            "push phase submissions, from send",
            &push.submissions,
            &push.submissions.service,
        );
        println!(
            "  {:<34} {:>9} {:>10} {:>9.2} {:>9.2} {:>9.2}",
            "push, 201 -> desk event",
            push.events,
            self.push_rate,
            ms(push.latency.value_at_quantile(0.5)),
            ms(push.latency.value_at_quantile(0.99)),
            ms(push.latency.max()),
        );
        println!(
            "  push: {} of {} reports reached the desk; {} events arrived before their 201 (counted as 0)",
            push.events, push.reports, push.before_answer
        );

        if let Some(load) = load_average() {
            println!("  load average after the run: {load:.2} (this run's own load included)");
        }
    }

    /// Prints each figure against its target.
    pub fn print_targets(&self) {
        let (bare, peak, ceiling) = (self.bare.rate(), self.peak.rate(), self.ceiling.rate());
        let ratio = peak / bare.max(1e-9);
        let p99_half = ms(self.half.latency.value_at_quantile(0.99));
        println!("\nTargets");
        println!("  {:<40} {:>12} {:>10}  result", "", "measured", "target");
        println!(
            "  {:<40} {:>12.2} {:>10}  {}",
            format!("intake rps / bare rps ({peak:.0} / {bare:.0})"),
            ratio,
            format!(">= {TARGET_RATIO}"),
            verdict(ratio >= TARGET_RATIO)
        );
        println!(
            "  {:<40} {:>9.2} ms {:>10}  {}",
            format!("p99 at half peak ({:.0}/s)", self.half_rate),
            p99_half,
            format!("< {TARGET_P99_HALF_MS} ms"),
            verdict(p99_half < TARGET_P99_HALF_MS)
        );
        println!(
            "  {:<40} {:>12.2} {:>10}  (no store could do better)",
            format!("ceiling rps / bare rps ({ceiling:.0} / {bare:.0})"),
            ceiling / bare.max(1e-9),
            "",
        );
        let median = ms(self.push.latency.value_at_quantile(0.5));
        println!(
            "  {:<40} {:>9.2} ms {:>10}  {}",
            "push median (201 -> desk event)",
            median,
            format!("< {TARGET_PUSH_MEDIAN_MS} ms"),
            verdict(median < TARGET_PUSH_MEDIAN_MS)
        );
        self.backlog.print_target();
    }
}

/// The PostgreSQL phases' figures and targets, and the server CPU time per request of every
/// phase.
pub fn print_nodes(sqlite: &PhaseResult, nodes: &crate::nodes::Nodes, cpu: &[crate::nodes::CpuRow]) {
    const TARGET_PG_RATIO: f64 = 0.5;
    const TARGET_CROSS_PUSH_MS: f64 = 10.0;
    println!("\nServer CPU time per request (user + system, from /proc/<pid>/stat), and PostgreSQL's:");
    println!(
        "  {:<34} {:>9} {:>12} {:>14} {:>16}",
        "phase", "requests", "CPU s", "CPU us/request", "PostgreSQL us/req"
    );
    for row in cpu {
        let database = row
            .database_per_request_us()
            .map_or_else(|| "-".to_owned(), |us| format!("{us:.0}"));
        println!(
            "  {:<34} {:>9} {:>12.2} {:>14.0} {:>16}",
            row.phase,
            row.requests,
            row.cpu_seconds,
            row.per_request_us(),
            database
        );
    }
    let one = nodes.one.rate();
    let two = nodes.two.0.rate() + nodes.two.1.rate();
    let sqlite_beside = (nodes.sqlite_beside.0.rate() + nodes.sqlite_beside.1.rate()) / 2.0;
    let one_beside = (one + nodes.one_after.rate()) / 2.0;
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    let pg_ratio = ratio(one, sqlite_beside);
    let two_ratio = ratio(two, one_beside);
    let push_median = ms(nodes.push.latency.value_at_quantile(0.5));
    println!(
        "\nSeveral nodes on PostgreSQL (each phase against the mean of the runs just before and after it):"
    );
    println!(
        "  {} one PostgreSQL node / one SQLite node: {one:.0} / (({:.0} + {:.0}) / 2) = {pg_ratio:.3} (target >= {TARGET_PG_RATIO})",
        verdict(pg_ratio >= TARGET_PG_RATIO),
        nodes.sqlite_beside.0.rate(),
        nodes.sqlite_beside.1.rate(),
    );
    println!(
        "       (against the SQLite peak of phase (c), earlier in the run: {one:.0} / {:.0} = {:.2})",
        sqlite.rate(),
        ratio(one, sqlite.rate())
    );
    println!(
        "  {} two nodes / one node: {two:.0} / (({one:.0} + {:.0}) / 2) = {two_ratio:.3} (target > 1)",
        verdict(two_ratio > 1.0),
        nodes.one_after.rate(),
    );
    println!(
        "  {} push across nodes, median {push_median:.2} ms, p99 {:.2} ms, {} of {} reports (target median < {TARGET_CROSS_PUSH_MS} ms)",
        verdict(push_median < TARGET_CROSS_PUSH_MS),
        ms(nodes.push.latency.value_at_quantile(0.99)),
        nodes.push.events,
        nodes.push.reports
    );
}
