//! What makes a run fail (not a missed target): requests without an answer, answers other than
//! the expected status, and receipts that are missing or do not verify.

use std::collections::HashSet;

use tipline_core::keys::VerifyingKey;
use tipline_e2e::citizen::check_answer;
use tipline_e2e::load::{Answer, PhaseResult};
use tipline_e2e::Submission;

/// What checking the receipts found.
#[derive(Default)]
struct Checked {
    /// Receipts that did not verify (or a checking thread that panicked: `usize::MAX`).
    failed: usize,
    /// The first reason.
    first: Option<String>,
    /// The distinct batch signatures among the receipts that verified.
    batches: HashSet<Vec<u8>>,
}

/// Checks every kept 201 answer against the submission it answers, on every core.
fn verify_receipts(answers: &[Answer], pool: &[Submission], server_key: &VerifyingKey) -> Checked {
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let chunk = answers.len().div_ceil(threads).max(1);
    let results: Vec<Checked> = std::thread::scope(|scope| {
        let handles: Vec<_> = answers
            .chunks(chunk)
            .map(|answers| {
                scope.spawn(move || {
                    let mut checked = Checked::default();
                    for answer in answers {
                        match check_answer(&answer.body, server_key, &pool[answer.index].envelope) {
                            Ok((receipt, _)) => {
                                checked.batches.insert(receipt.batch.signature);
                            }
                            Err(e) => {
                                checked.failed += 1;
                                checked.first.get_or_insert_with(|| format!("{e:#}"));
                            }
                        }
                    }
                    checked
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| Checked {
                    failed: usize::MAX,
                    first: Some("a checking thread panicked".to_owned()),
                    batches: HashSet::new(),
                })
            })
            .collect()
    });
    results.into_iter().fold(Checked::default(), |mut all, part| {
        all.failed = all.failed.saturating_add(part.failed);
        all.first = all.first.or(part.first);
        all.batches.extend(part.batches);
        all
    })
}

/// Problems that make the run fail (not missed targets).
pub fn phase_failures(name: &str, result: &PhaseResult, expected: u16, failures: &mut Vec<String>) {
    if result.errors > 0 {
        failures.push(format!(
            "{name}: {} requests got no answer (first: {})",
            result.errors,
            result.first_error.as_deref().unwrap_or("?")
        ));
    }
    let unexpected: Vec<String> = result
        .statuses
        .iter()
        .filter(|(status, _)| **status != expected)
        .map(|(status, count)| format!("{count} x {status}"))
        .collect();
    if !unexpected.is_empty() {
        failures.push(format!(
            "{name}: answers other than {expected}: {}",
            unexpected.join(", ")
        ));
    }
    if result.answered() == 0 {
        failures.push(format!("{name}: no answer at all"));
    }
}

/// Checks a phase's receipts and says how many verified and in how many batches they were
/// signed; a missing or invalid one is a failure.
pub fn check_receipts(
    name: &str,
    result: &PhaseResult,
    pool: &[Submission],
    key: &VerifyingKey,
    failures: &mut Vec<String>,
) {
    let Checked {
        failed,
        first,
        batches,
    } = verify_receipts(&result.answers, pool, key);
    let verified = result.answers.len().saturating_sub(failed);
    println!(
        "  {name}: {} answers 201, {verified} receipts verified, signed in {} batches ({:.1} receipts per signature)",
        result.count(201),
        batches.len(),
        verified as f64 / batches.len().max(1) as f64
    );
    if failed > 0 || result.answers.len() as u64 != result.count(201) {
        failures.push(format!(
            "{name}: {failed} receipts missing or invalid (first: {})",
            first.as_deref().unwrap_or("?")
        ));
    }
}
