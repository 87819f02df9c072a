//! The anti-abuse stamp's difficulty, raised on its own when intake is flooded and lowered again
//! when it calms, in the way GlobaLeaks adapts its proof of work to the submission rate.
//!
//! Submissions whose stamp checked are counted per window. At the end of a window with more
//! than the threshold, the difficulty goes up one bit (at most to the ceiling); at the end of a
//! calm window it goes down one bit (never below the configured difficulty, the floor). Each bit
//! doubles what a flood costs its sender, so a flood slows itself down to about the threshold,
//! while a genuine reporter pays a fraction of a second more.
//!
//! `/v1/config` announces the current difficulty. A stamp solved at a difficulty announced within
//! the grace period is still accepted, so a reporter who was solving when it rose is not refused.
//! The clock is passed in, so the rules are tested without waiting.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How the difficulty adapts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StampPolicy {
    /// The highest difficulty a flood raises it to.
    pub ceiling: u8,
    /// How long a counting window lasts.
    pub window: Duration,
    /// Submissions with a valid stamp per window above which the difficulty rises.
    pub threshold: u32,
    /// How long a stamp at a difficulty announced before stays valid.
    pub grace: Duration,
}

impl Default for StampPolicy {
    fn default() -> Self {
        StampPolicy {
            // 2^24 hashes: seconds on a phone, a few minutes of a flooder's core per report.
            ceiling: 24,
            window: Duration::from_secs(60),
            // One and a half times the surge a national deployment must take (2,000 reports a
            // minute), so a genuine surge does not raise it.
            threshold: 3_000,
            // Two windows: longer than a phone takes to solve a stamp at the ceiling.
            grace: Duration::from_secs(120),
        }
    }
}

#[derive(Debug)]
struct State {
    current: u8,
    window_start: Instant,
    count: u32,
    /// When the difficulty changed and what it was before, oldest first, within the grace.
    before: VecDeque<(Instant, u8)>,
}

/// The current difficulty, shared by the handlers.
#[derive(Debug)]
pub struct Difficulty {
    floor: u8,
    policy: StampPolicy,
    state: Mutex<State>,
}

impl Difficulty {
    /// Starts at `floor` (the configured difficulty), counting from `now`.
    pub fn new(floor: u8, policy: StampPolicy, now: Instant) -> Self {
        let policy = StampPolicy {
            ceiling: policy
                .ceiling
                .clamp(floor, tipline_core::stamp::MAX_DIFFICULTY.max(floor)),
            window: policy.window.max(Duration::from_millis(1)),
            ..policy
        };
        Difficulty {
            floor,
            policy,
            state: Mutex::new(State {
                current: floor,
                window_start: now,
                count: 0,
                before: VecDeque::new(),
            }),
        }
    }

    fn state(&self, now: Instant) -> std::sync::MutexGuard<'_, State> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        self.advance(&mut state, now);
        state
    }

    /// Closes the windows that ended by `now`.
    fn advance(&self, state: &mut State, now: Instant) {
        let window = self.policy.window;
        let elapsed = now.saturating_duration_since(state.window_start);
        if elapsed < window {
            return;
        }
        let ended = u32::try_from(elapsed.as_nanos() / window.as_nanos()).unwrap_or(u32::MAX);
        let first_end = state.window_start + window;
        let next = if state.count > self.policy.threshold {
            state.current.saturating_add(1).min(self.policy.ceiling)
        } else {
            state.current.saturating_sub(1).max(self.floor)
        };
        self.change(state, next, first_end);
        // The windows after it saw nothing: each is calm.
        let calm = u8::try_from(ended - 1).unwrap_or(u8::MAX);
        if calm > 0 {
            let next = state.current.saturating_sub(calm).max(self.floor);
            self.change(state, next, now);
        }
        state.window_start = window
            .checked_mul(ended)
            .and_then(|d| state.window_start.checked_add(d))
            .unwrap_or(now);
        state.count = 0;
        let grace = self.policy.grace;
        while state
            .before
            .front()
            .is_some_and(|(at, _)| now.saturating_duration_since(*at) >= grace)
        {
            state.before.pop_front();
        }
    }

    fn change(&self, state: &mut State, to: u8, at: Instant) {
        if to != state.current {
            tracing::info!(from = state.current, to, "stamp difficulty changed");
            state.before.push_back((at, state.current));
            state.current = to;
        }
    }

    /// The difficulty to announce now.
    pub fn current(&self, now: Instant) -> u8 {
        self.state(now).current
    }

    /// The lowest difficulty a stamp may meet now: the current one, or one announced within the
    /// grace period.
    pub fn accepted(&self, now: Instant) -> u8 {
        let state = self.state(now);
        let grace = self.policy.grace;
        state
            .before
            .iter()
            .filter(|(at, _)| now.saturating_duration_since(*at) < grace)
            .map(|(_, before)| *before)
            .chain([state.current])
            .min()
            .unwrap_or(state.current)
    }

    /// Counts a submission whose stamp checked.
    pub fn record(&self, now: Instant) {
        let mut state = self.state(now);
        state.count = state.count.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(60);

    fn policy() -> StampPolicy {
        StampPolicy {
            ceiling: 18,
            window: WINDOW,
            threshold: 10,
            grace: Duration::from_secs(90),
        }
    }

    fn flood(difficulty: &Difficulty, at: Instant, count: u32) {
        for _ in 0..count {
            difficulty.record(at);
        }
    }

    #[test]
    fn test_rises_one_bit_per_flooded_window_up_to_the_ceiling_and_falls_when_calm() {
        // Given a difficulty of 16 with a ceiling of 18
        let t0 = Instant::now();
        let difficulty = Difficulty::new(16, policy(), t0);
        // When a window has as many submissions as the threshold, it stays
        flood(&difficulty, t0, 10);
        assert_eq!(difficulty.current(t0 + WINDOW), 16);
        // When three windows in a row have more, it rises one bit each, and stops at the ceiling
        for (n, expected) in [(1, 17), (2, 18), (3, 18)] {
            flood(&difficulty, t0 + WINDOW * n, 11);
            assert_eq!(difficulty.current(t0 + WINDOW * (n + 1)), expected);
        }
        // When a calm window follows, it falls one bit; after a long calm it is back at the floor
        assert_eq!(difficulty.current(t0 + WINDOW * 5), 17);
        assert_eq!(difficulty.current(t0 + WINDOW * 50), 16);
    }

    #[test]
    fn test_a_stamp_at_the_previous_difficulty_is_accepted_for_the_grace_period() {
        // Given a flood that raised the difficulty from 16 to 17 at the end of the first window
        let t0 = Instant::now();
        let difficulty = Difficulty::new(16, policy(), t0);
        flood(&difficulty, t0, 11);
        let raised = t0 + WINDOW;
        flood(&difficulty, raised, 11);
        assert_eq!(difficulty.current(raised), 17);
        // Then a stamp at 16 is accepted during the grace period (90 s)
        assert_eq!(difficulty.accepted(raised), 16);
        flood(&difficulty, raised + Duration::from_secs(59), 11);
        assert_eq!(difficulty.accepted(raised + Duration::from_secs(59)), 16);
        // and, once it has risen again to 18, stamps at 16 and 17 still are within their grace
        let again = raised + WINDOW;
        assert_eq!(difficulty.current(again), 18);
        assert_eq!(difficulty.accepted(again + Duration::from_secs(29)), 16);
        // but not after it
        flood(&difficulty, again + Duration::from_secs(30), 11);
        assert_eq!(difficulty.accepted(again + Duration::from_secs(31)), 17);
        assert_eq!(difficulty.accepted(again + Duration::from_secs(59)), 17);
        flood(&difficulty, again + Duration::from_secs(59), 11);
        assert_eq!(difficulty.accepted(again + Duration::from_secs(90)), 18);
    }

    #[test]
    fn test_ceiling_below_the_floor_is_the_floor() {
        let t0 = Instant::now();
        let difficulty = Difficulty::new(
            20,
            StampPolicy {
                ceiling: 8,
                ..policy()
            },
            t0,
        );
        flood(&difficulty, t0, 100);
        assert_eq!(difficulty.current(t0 + WINDOW), 20);
    }
}
