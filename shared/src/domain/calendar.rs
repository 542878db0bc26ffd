//! Calendar dates in a campus's time zone (API.md: "today" for license rules is the campus's
//! date). `Clock` gives instants; the campus's IANA zone, from the bundled tz database, gives
//! the date and the instant each day starts.

use jiff::civil;
use jiff::tz::TimeZone;
use time::{Date, Month, OffsetDateTime};

/// A campus zone that is not in the tz database (campus validation rules this out).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown time zone {0:?}")]
pub struct UnknownZone(pub String);

/// The calendar of one time zone.
#[derive(Clone, Debug)]
pub struct Calendar {
    zone: TimeZone,
}

impl Calendar {
    pub fn new(zone_name: &str) -> Result<Self, UnknownZone> {
        TimeZone::get(zone_name).map(|zone| Calendar { zone }).map_err(|_| UnknownZone(zone_name.to_owned()))
    }

    /// The date at `now` in this zone.
    pub fn today(&self, now: OffsetDateTime) -> Date {
        let timestamp =
            jiff::Timestamp::from_second(now.unix_timestamp()).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let date = timestamp.to_zoned_datetime(self.zone.clone()).date();
        to_time_date(date)
    }

    /// The first instant of `date` in this zone (its midnight, or the first valid time on a
    /// day whose midnight a clock change skips), in epoch seconds.
    pub fn start_of(&self, date: Date) -> i64 {
        let civil = civil::date(date.year() as i16, u8::from(date.month()) as i8, date.day() as i8);
        match civil.to_zoned_datetime(self.zone.clone()) {
            Ok(start) => start.timestamp().as_second(),
            // Only dates outside jiff's range (years beyond ±9999) fail; license dates are bounded.
            Err(_) => i64::MAX,
        }
    }
}

impl Calendar {
    /// `at` as people on campus read it, e.g. `Tue 24 Nov 2026, 14:30 EST` (for mail).
    pub fn local_time(&self, at: OffsetDateTime) -> String {
        let timestamp =
            jiff::Timestamp::from_second(at.unix_timestamp()).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        timestamp.to_zoned_datetime(self.zone.clone()).strftime("%a %-d %b %Y, %H:%M %Z").to_string()
    }
}

fn to_time_date(date: civil::Date) -> Date {
    let month = Month::try_from(date.month() as u8).unwrap_or(Month::January);
    Date::from_calendar_date(i32::from(date.year()), month, date.day() as u8).unwrap_or(Date::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn today_is_the_campus_date() {
        let la = Calendar::new("America/Los_Angeles").unwrap();
        let tokyo = Calendar::new("Asia/Tokyo").unwrap();
        let now = datetime!(2026-11-24 06:30 UTC);
        assert_eq!(la.today(now), date!(2026 - 11 - 23));
        assert_eq!(tokyo.today(now), date!(2026 - 11 - 24));
        assert_eq!(tokyo.today(datetime!(2026-11-24 15:00 UTC)), date!(2026 - 11 - 25));
    }

    #[test]
    fn days_start_at_local_midnight_across_clock_changes() {
        let ny = Calendar::new("America/New_York").unwrap();
        // Standard time: UTC-5.
        assert_eq!(ny.start_of(date!(2026 - 11 - 24)), datetime!(2026-11-24 05:00 UTC).unix_timestamp());
        // Summer time: UTC-4.
        assert_eq!(ny.start_of(date!(2026 - 07 - 01)), datetime!(2026-07-01 04:00 UTC).unix_timestamp());
        // Santiago skips midnight when summer time starts: the day begins at 01:00.
        let santiago = Calendar::new("America/Santiago").unwrap();
        let day = date!(2026 - 09 - 06);
        assert_eq!(santiago.today(OffsetDateTime::from_unix_timestamp(santiago.start_of(day)).unwrap()), day);
    }

    #[test]
    fn local_times_are_the_campus_clock() {
        let ny = Calendar::new("America/New_York").unwrap();
        assert_eq!(ny.local_time(datetime!(2026-11-24 19:30 UTC)), "Tue 24 Nov 2026, 14:30 EST");
    }

    #[test]
    fn unknown_zones_are_refused() {
        assert!(Calendar::new("Mars/Olympus_Mons").is_err());
    }
}
