//! Account lockout (OWASP Authentication Cheat Sheet): every `THRESHOLD` consecutive wrong
//! passwords for one email lock it, for longer each time. With the periods below at most
//! 20 attempts fit in an hour, well under ASVS's 100 per hour.

use time::Duration;

pub const THRESHOLD: i64 = 5;
/// Failures older than this (counted from the first) are forgotten, and so is the escalation.
pub const FAILURE_MEMORY: Duration = Duration::hours(24);
const PERIODS_MINUTES: [i64; 4] = [1, 5, 15, 60];

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
}
