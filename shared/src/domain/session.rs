//! Session lifetime rules (OWASP Session Management): "remember me" sessions last 30 days from
//! sign-in; browser sessions end after 12 hours without use; activity is recorded at most once
//! per few minutes so reads stay reads.

use time::{Duration, OffsetDateTime};

pub const REMEMBER_ME_LIFETIME: Duration = Duration::days(30);
pub const IDLE_TIMEOUT: Duration = Duration::hours(12);
/// Absolute cap for browser sessions kept alive by activity.
pub const ABSOLUTE_LIFETIME: Duration = Duration::days(30);
/// Activity younger than this is not written again.
pub const TOUCH_INTERVAL: Duration = Duration::minutes(5);

pub fn expiry(remember_me: bool, created: OffsetDateTime, last_seen: OffsetDateTime) -> OffsetDateTime {
    if remember_me {
        created + REMEMBER_ME_LIFETIME
    } else {
        (last_seen + IDLE_TIMEOUT).min(created + ABSOLUTE_LIFETIME)
    }
}

pub fn needs_touch(last_seen: OffsetDateTime, now: OffsetDateTime) -> bool {
    now - last_seen >= TOUCH_INTERVAL
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn remember_me_is_absolute() {
        let t = datetime!(2026-11-24 0:00 UTC);
        assert_eq!(expiry(true, t, t + Duration::days(29)), t + Duration::days(30));
    }

    #[test]
    fn browser_session_idles_out_and_is_capped() {
        let t = datetime!(2026-11-24 0:00 UTC);
        assert_eq!(expiry(false, t, t), t + Duration::hours(12));
        assert_eq!(expiry(false, t, t + Duration::hours(5)), t + Duration::hours(17));
        assert_eq!(expiry(false, t, t + Duration::days(29) + Duration::hours(23)), t + Duration::days(30));
    }

    #[test]
    fn touch_is_rate_limited() {
        let t = datetime!(2026-11-24 0:00 UTC);
        assert!(!needs_touch(t, t + Duration::minutes(4)));
        assert!(needs_touch(t, t + Duration::minutes(5)));
    }
}
