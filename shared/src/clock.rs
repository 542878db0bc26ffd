//! Time is a port so that tests can jump to "24 hours later" instead of sleeping.

use std::sync::{Arc, Mutex};
use time::{Duration, OffsetDateTime};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> OffsetDateTime;

    fn epoch_seconds(&self) -> i64 {
        self.now().unix_timestamp()
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that only moves when told to (tests and benchmarks).
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    pub fn new(start: OffsetDateTime) -> Self {
        ManualClock(Mutex::new(start))
    }

    /// Starts at the current wall-clock time, so items written to a shared emulator still look
    /// recent to other readers.
    pub fn starting_now() -> Self {
        Self::new(OffsetDateTime::now_utc().replace_nanosecond(0).unwrap_or(OffsetDateTime::now_utc()))
    }

    pub fn advance(&self, by: Duration) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Another clock shifted by a fixed offset: `carpool-local --time-offset 8d` lets anyone watch
/// expiry days, reminders and departures happen without waiting. Local mode only.
pub struct OffsetClock {
    inner: Arc<dyn Clock>,
    offset: Duration,
}

impl OffsetClock {
    pub fn new(inner: Arc<dyn Clock>, offset: Duration) -> Self {
        OffsetClock { inner, offset }
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> OffsetDateTime {
        self.inner.now() + self.offset
    }
}

/// An offset as `carpool-local` takes it: a whole number with a unit, `d`, `h`, `m` or `s`, and
/// an optional sign (`8d`, `-3h`, `90s`), up to ten years either way.
pub fn parse_offset(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let problem = || format!("{text:?} is not an offset like 8d, -3h, 30m or 90s");
    let unit = text.chars().last().ok_or_else(problem)?;
    let amount: i64 = text[..text.len() - unit.len_utf8()].parse().map_err(|_| problem())?;
    let offset = match unit {
        'd' => Duration::days(amount),
        'h' => Duration::hours(amount),
        'm' => Duration::minutes(amount),
        's' => Duration::seconds(amount),
        _ => return Err(problem()),
    };
    if offset.abs() > Duration::days(3653) {
        return Err(format!("{text:?} is more than ten years"));
    }
    Ok(offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_parse_with_units_and_signs() {
        assert_eq!(parse_offset("8d"), Ok(Duration::days(8)));
        assert_eq!(parse_offset("-3h"), Ok(Duration::hours(-3)));
        assert_eq!(parse_offset("+30m"), Ok(Duration::minutes(30)));
        assert_eq!(parse_offset("90s"), Ok(Duration::seconds(90)));
        assert_eq!(parse_offset("0d"), Ok(Duration::ZERO));
        for bad in ["", "d", "8", "8w", "1.5d", "eightd", "99999999999999999999d", "4000d"] {
            assert!(parse_offset(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn offset_clock_shifts_everything_it_tells() {
        let base = Arc::new(ManualClock::new(time::macros::datetime!(2026-11-24 12:00 UTC)));
        let clock = OffsetClock::new(base.clone(), Duration::days(-2));
        assert_eq!(clock.now(), time::macros::datetime!(2026-11-22 12:00 UTC));
        base.advance(Duration::hours(1));
        assert_eq!(clock.epoch_seconds(), time::macros::datetime!(2026-11-22 13:00 UTC).unix_timestamp());
    }
}
