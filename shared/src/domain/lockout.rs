//! Account lockout (OWASP Authentication Cheat Sheet): every `THRESHOLD` consecutive wrong
//! passwords for one subject (an email, or one trusted device) lock it, for longer each time.
//! With the periods below at most 20 attempts fit in an hour, well under ASVS's 100 per hour.
//! Attempts are counted before their password is checked, so at most `THRESHOLD` passwords are
//! checked per lock period, however many arrive at once.

use serde::{Deserialize, Serialize};
use time::Duration;

pub const THRESHOLD: i64 = 5;
/// Failures older than this (counted from the first) are forgotten, and so is the escalation.
pub const FAILURE_MEMORY: Duration = Duration::hours(24);
const PERIODS_MINUTES: [i64; 4] = [1, 5, 15, 60];

/// What is stored per subject.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LockState {
    /// Attempts counted since the last success, including those still being checked.
    #[serde(default)]
    pub failures: i64,
    /// Epoch seconds.
    pub locked_until: Option<i64>,
    /// Attempts may be counted up to this many failures (`THRESHOLD` more after each lock).
    pub allowance: Option<i64>,
}

/// Why an attempt may not be checked now, and for how long (seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refused {
    pub retry_after_secs: i64,
}

impl LockState {
    /// Whether one more attempt may be counted at `now` (epoch seconds).
    pub fn admits(&self, now: i64) -> Result<(), Refused> {
        if let Some(until) = self.locked_until.filter(|until| *until > now) {
            return Err(Refused { retry_after_secs: until - now });
        }
        let allowance = self.allowance.unwrap_or(THRESHOLD);
        if self.failures >= allowance {
            // The budget is taken by attempts still being checked; if they fail, this lock follows.
            let period = lock_after(allowance).unwrap_or(Duration::minutes(1));
            return Err(Refused { retry_after_secs: period.whole_seconds() });
        }
        Ok(())
    }

    /// The state once one more attempt is counted at `now`. The attempt that uses the budget up
    /// starts the lock at once, while its password is still being checked (a success clears it):
    /// a request that dies half-way then leaves an ordinary lock behind, never a budget that
    /// nothing frees.
    pub fn with_attempt(&self, now: i64) -> LockState {
        let failures = self.failures + 1;
        match lock_after(failures) {
            Some(period) => LockState {
                failures,
                locked_until: Some(now + period.whole_seconds()),
                allowance: Some(failures + THRESHOLD),
            },
            None => LockState { failures, ..self.clone() },
        }
    }
}

/// The lock that the `failures`-th consecutive failure starts, if any.
pub fn lock_after(failures: i64) -> Option<Duration> {
    if failures <= 0 || failures % THRESHOLD != 0 {
        return None;
    }
    let level = usize::try_from(failures / THRESHOLD - 1).unwrap_or(usize::MAX);
    Some(Duration::minutes(PERIODS_MINUTES[level.min(PERIODS_MINUTES.len() - 1)]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_every_fifth_failure_for_longer_each_time() {
        let locks: Vec<_> = (1..=30).filter_map(|n| lock_after(n).map(|d| (n, d.whole_minutes()))).collect();
        assert_eq!(locks, [(5, 1), (10, 5), (15, 15), (20, 60), (25, 60), (30, 60)]);
        assert_eq!(lock_after(0), None);
    }

    #[test]
    fn at_most_100_attempts_per_hour() {
        // Attempts possible in the worst hour: 5 before each lock, locks back to back.
        let (mut minutes, mut attempts, mut failures) = (0, 0, 0);
        while minutes < 60 {
            attempts += THRESHOLD;
            failures += THRESHOLD;
            minutes += lock_after(failures).unwrap().whole_minutes();
        }
        assert!(attempts <= 100, "{attempts}");
    }

    #[test]
    fn admits_five_attempts_per_lock_period() {
        let now = 1_000;
        let mut state = LockState::default();
        for _ in 0..THRESHOLD {
            assert_eq!(state.admits(now), Ok(()));
            state.failures += 1;
        }
        assert_eq!(state.admits(now), Err(Refused { retry_after_secs: 60 }), "the budget is in flight");
        let mut counted = LockState::default();
        for _ in 0..THRESHOLD {
            assert_eq!(counted.admits(now), Ok(()));
            counted = counted.with_attempt(now);
        }
        assert_eq!(counted.locked_until, Some(now + 60), "the fifth attempt starts the lock");
        assert_eq!(counted.admits(now + 59), Err(Refused { retry_after_secs: 1 }));
        let mut after = counted.clone();
        for _ in 0..THRESHOLD {
            assert_eq!(after.admits(now + 60), Ok(()));
            after = after.with_attempt(now + 60);
        }
        assert_eq!(after.locked_until, Some(now + 60 + 300), "the next lock is longer");
    }
}
