//! The background check for news in the reporter's cases, for the apps' background work and for
//! the app's start: each open case is asked once for what is new since its own cursor, with its
//! own secret, and the answer says how many cases have a new reply or status notice, so that the
//! app can show a discreet notification ("You have an update") without the reporter opening a
//! case.
//!
//! Unlinkability: asking for all of a device's cases at one moment would tell the server that
//! they belong to one person. So the cases are asked one by one, in a random order, each at a
//! random moment of its own slot of the spread the app gives; the slots keep a guard at both
//! ends, so two polls are never closer than half a slot. (Through the oblivious relay, once the
//! client uses one, the server does not see the address either.)
//!
//! Budget: one small request per case per check. A case the unit closed (its last status notice
//! says `closed`) or without news for longer than the server keeps a case ([`QUIET_CASE`]) is
//! not asked any more.

use std::time::Duration;

use chrono::Utc;

use super::cases::ConversationMessage;
use super::local::Local;
use super::Client;
use crate::crypto::random::random_array;
use crate::crypto::{OsRandom, RandomSource};
use crate::message::CaseStatus;
use crate::report::CaseId;
use crate::Result;

/// How long a case may go without news before the check stops asking for it: the server's
/// default retention after a report is taken (90 days), since nothing is left to ask for after
/// it.
pub const QUIET_CASE: chrono::Duration = chrono::Duration::days(90);

/// What a check found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaseCheck {
    /// Cases asked.
    pub checked: u32,
    /// Cases with a new reply or status notice since the last look.
    pub with_news: u32,
    /// Cases not asked: closed by the unit, or quiet for longer than [`QUIET_CASE`].
    pub skipped: u32,
    /// Cases whose question failed (no connection, a busy server): asked again next time.
    pub failed: u32,
}

/// Which cases a check asks, and when: made before the check starts (see [`Client::plan_check`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckPlan {
    /// Each case to ask and when, from the check's start, in order.
    pub asks: Vec<(CaseId, Duration)>,
    /// Cases not asked: closed, or quiet too long.
    pub skipped: u32,
}

impl Client {
    /// Asks each open case once for news, spread over `spread` (see the module's notes), and
    /// says how many have some. New messages are stored, so the conversation shows them.
    pub async fn check_cases(&self, spread: Duration) -> Result<CaseCheck> {
        let (due, skipped) = self.on_disk(open_cases).await?;
        let plan = plan(due, skipped, spread, &mut OsRandom::new())?;
        self.run_check(plan).await
    }

    /// Which open cases to ask, in a random order, each at a random moment of its own slot of
    /// `spread`, drawn from `rng`.
    pub fn plan_check(&self, spread: Duration, rng: &mut dyn RandomSource) -> Result<CheckPlan> {
        let (due, skipped) = open_cases(&self.local)?;
        plan(due, skipped, spread, rng)
    }

    /// Carries out a plan: waits for each moment and asks that case.
    pub async fn run_check(&self, plan: CheckPlan) -> Result<CaseCheck> {
        let mut result = CaseCheck {
            skipped: plan.skipped,
            ..CaseCheck::default()
        };
        let started = tokio::time::Instant::now();
        for (case_id, at) in plan.asks {
            tokio::time::sleep_until(started + at).await;
            let known = self
                .on_disk(move |local| Ok(from_unit(&stored(local, case_id)?)))
                .await?;
            match self.conversation(case_id).await {
                Ok(messages) => {
                    result.checked += 1;
                    if messages.iter().filter(|m| m.from_unit).count() > known {
                        result.with_news += 1;
                    }
                }
                Err(crate::Error::Network(_)) => result.failed += 1,
                Err(e) => return Err(e),
            }
        }
        Ok(result)
    }
}

/// The cases to ask (not yet shuffled) and how many are skipped: closed by the unit, or quiet for
/// longer than [`QUIET_CASE`].
fn open_cases(local: &Local) -> Result<(Vec<CaseId>, u32)> {
    let mut skipped = 0;
    let mut due = Vec::new();
    for case in local.cases()? {
        if is_done(&stored(local, case.case_id)?, case.created) {
            skipped += 1;
        } else {
            due.push(case.case_id);
        }
    }
    Ok((due, skipped))
}

/// `due` in a random order, each at a random moment of its own slot of `spread`.
fn plan(
    mut due: Vec<CaseId>,
    skipped: u32,
    spread: Duration,
    rng: &mut dyn RandomSource,
) -> Result<CheckPlan> {
    shuffle(&mut due, rng)?;
    let at = moments(due.len(), spread, rng)?;
    Ok(CheckPlan {
        asks: due.into_iter().zip(at).collect(),
        skipped,
    })
}

/// A case's stored messages.
fn stored(local: &Local, case_id: CaseId) -> Result<Vec<ConversationMessage>> {
    Ok(super::cases::parsed(&local.messages(case_id)?))
}

/// How many of `messages` came from the unit.
fn from_unit(messages: &[ConversationMessage]) -> usize {
    messages.iter().filter(|m| m.from_unit).count()
}

/// Whether a case needs no more asking: the unit closed it, or it has been quiet for longer than
/// [`QUIET_CASE`].
fn is_done(messages: &[ConversationMessage], created: chrono::DateTime<Utc>) -> bool {
    let closed = messages
        .iter()
        .rev()
        .find_map(|m| m.status)
        .is_some_and(|status| status == CaseStatus::Closed);
    let last = messages
        .iter()
        .filter_map(|m| m.sent_at)
        .max()
        .unwrap_or(created)
        .max(created);
    closed || Utc::now() - last > QUIET_CASE
}

/// A random `u32` from `rng`.
fn random_u32(rng: &mut dyn RandomSource) -> Result<u32> {
    Ok(u32::from_le_bytes(random_array::<4>(rng)?))
}

/// Shuffles `items` (Fisher-Yates).
fn shuffle<T>(items: &mut [T], rng: &mut dyn RandomSource) -> Result<()> {
    for i in (1..items.len()).rev() {
        // The modulo bias is at most i / 2^32: nothing an observer could use.
        let j = random_u32(rng)? as usize % (i + 1);
        items.swap(i, j);
    }
    Ok(())
}

/// `n` moments within `spread`, increasing: one in each of `n` equal slots, at a random point
/// of the slot's middle half, so that two are never closer than half a slot.
fn moments(n: usize, spread: Duration, rng: &mut dyn RandomSource) -> Result<Vec<Duration>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let slot = spread / u32::try_from(n).unwrap_or(u32::MAX);
    (0..n)
        .map(|i| {
            let fraction = f64::from(random_u32(rng)?) / f64::from(u32::MAX);
            let start = slot * u32::try_from(i).unwrap_or(u32::MAX);
            Ok(start + slot / 4 + slot.mul_f64(fraction / 2.0))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_moments_keep_half_a_slot_apart_and_stay_within_the_spread() {
        let mut rng = OsRandom::new();
        for n in [1, 2, 3, 10] {
            let spread = Duration::from_secs(60);
            let at = moments(n, spread, &mut rng).unwrap();
            assert_eq!(at.len(), n);
            let slot = spread / n as u32;
            assert!(at.iter().all(|t| *t < spread));
            for pair in at.windows(2) {
                assert!(pair[1] - pair[0] >= slot / 2, "{pair:?}");
            }
        }
        assert!(moments(0, Duration::from_secs(1), &mut rng).unwrap().is_empty());
    }

    #[test]
    fn test_shuffle_keeps_every_item() {
        let mut items: Vec<u32> = (0..50).collect();
        shuffle(&mut items, &mut OsRandom::new()).unwrap();
        let mut sorted = items.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
    }
}
