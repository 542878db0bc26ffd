//! Driver rules: capability, availability and the license expiry calendar (API.md "Driver").
//! Dates are campus dates (see `calendar`); nothing here does I/O.

use super::calendar::Calendar;
use serde::{Deserialize, Serialize};
use time::Date;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Never asked to drive.
    #[default]
    None,
    PendingReview,
    Approved,
    Rejected,
    Suspended,
}

impl Capability {
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::None => "none",
            Capability::PendingReview => "pending_review",
            Capability::Approved => "approved",
            Capability::Rejected => "rejected",
            Capability::Suspended => "suspended",
        }
    }
}

/// How far the entered license has been checked against its photo.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verification {
    /// Entered by hand, not scanned yet.
    #[default]
    Manual,
    OcrMatched,
    OcrMismatch,
    /// The scan could not read a field with confidence (or could not read the image at all).
    NeedsReview,
}

/// The expiry alerts of one license, least urgent first.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
pub enum Alert {
    #[serde(rename = "7d")]
    SevenDays,
    #[serde(rename = "3d")]
    ThreeDays,
    #[serde(rename = "1d")]
    OneDay,
    #[serde(rename = "expired")]
    Expired,
}

impl Alert {
    pub const ALL: [Alert; 4] = [Alert::SevenDays, Alert::ThreeDays, Alert::OneDay, Alert::Expired];

    /// The alert is due once `daysLeft` is at most this.
    pub fn days_before(self) -> i64 {
        match self {
            Alert::SevenDays => 7,
            Alert::ThreeDays => 3,
            Alert::OneDay => 1,
            Alert::Expired => 0,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Alert::SevenDays => "7d",
            Alert::ThreeDays => "3d",
            Alert::OneDay => "1d",
            Alert::Expired => "expired",
        }
    }

    /// The campus date on which the alert falls due for a license expiring on `expires_on`.
    pub fn due_on(self, expires_on: Date) -> Date {
        expires_on - time::Duration::days(self.days_before())
    }
}

/// `expiresOn - today` in days (0 on the expiry day, negative after).
pub fn days_left(expires_on: Date, today: Date) -> i64 {
    (expires_on - today).whole_days()
}

/// A license is expired from its expiry day on.
pub fn is_expired(expires_on: Date, today: Date) -> bool {
    days_left(expires_on, today) <= 0
}

/// Availability as everyone sees it: on only while approved with an unexpired license, whatever
/// the stored flag says (the expiry rule holds even before the sweep has run).
pub fn effectively_available(
    stored: bool,
    capability: Capability,
    expires_on: Option<Date>,
    today: Date,
) -> bool {
    stored && capability == Capability::Approved && expires_on.is_some_and(|d| !is_expired(d, today))
}

/// What one sweep does for a license: the alert to mail (the most urgent one due and unsent) and
/// every alert it settles (that one plus the less urgent ones it makes pointless).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertsDue {
    pub send: Alert,
    pub settle: Vec<Alert>,
}

pub fn alerts_due(expires_on: Date, today: Date, sent: &[Alert]) -> Option<AlertsDue> {
    let left = days_left(expires_on, today);
    let due: Vec<Alert> =
        Alert::ALL.into_iter().filter(|a| left <= a.days_before() && !sent.contains(a)).collect();
    let send = *due.iter().max()?;
    Some(AlertsDue { send, settle: due })
}

/// The instant (epoch seconds) the next unsent alert falls due: the start of its campus day.
/// `None` once every alert has gone out. Indexes the license for the hourly sweep.
pub fn next_alert_at(expires_on: Date, sent: &[Alert], calendar: &Calendar) -> Option<i64> {
    Alert::ALL
        .into_iter()
        .filter(|a| !sent.contains(a))
        .map(|a| calendar.start_of(a.due_on(expires_on)))
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const EXPIRY: Date = date!(2026 - 12 - 10);

    #[test]
    fn days_left_and_expiry_day() {
        assert_eq!(days_left(EXPIRY, date!(2026 - 12 - 03)), 7);
        assert!(!is_expired(EXPIRY, date!(2026 - 12 - 09)));
        assert!(is_expired(EXPIRY, EXPIRY), "expired from the expiry day itself");
        assert!(is_expired(EXPIRY, date!(2027 - 01 - 01)));
    }

    #[test]
    fn availability_needs_approval_and_a_live_license() {
        let today = date!(2026 - 12 - 01);
        assert!(effectively_available(true, Capability::Approved, Some(EXPIRY), today));
        assert!(!effectively_available(true, Capability::Approved, Some(EXPIRY), EXPIRY));
        assert!(!effectively_available(true, Capability::Suspended, Some(EXPIRY), today));
        assert!(!effectively_available(true, Capability::Approved, None, today));
        assert!(!effectively_available(false, Capability::Approved, Some(EXPIRY), today));
    }

    #[test]
    fn each_threshold_once_and_only_the_most_urgent() {
        assert_eq!(alerts_due(EXPIRY, date!(2026 - 12 - 02), &[]), None);
        let seven = alerts_due(EXPIRY, date!(2026 - 12 - 03), &[]).unwrap();
        assert_eq!(seven, AlertsDue { send: Alert::SevenDays, settle: vec![Alert::SevenDays] });
        assert_eq!(alerts_due(EXPIRY, date!(2026 - 12 - 05), &[Alert::SevenDays]), None);
        // A sweep that missed days (or a license entered late) sends only the most urgent.
        let late = alerts_due(EXPIRY, date!(2026 - 12 - 09), &[]).unwrap();
        assert_eq!(late.send, Alert::OneDay);
        assert_eq!(late.settle, vec![Alert::SevenDays, Alert::ThreeDays, Alert::OneDay]);
        let expired = alerts_due(EXPIRY, EXPIRY, &[Alert::SevenDays, Alert::ThreeDays]).unwrap();
        assert_eq!(expired.send, Alert::Expired);
        assert_eq!(alerts_due(EXPIRY, date!(2027 - 02 - 01), &Alert::ALL), None);
    }

    #[test]
    fn next_alert_is_the_campus_midnight_of_the_earliest_unsent() {
        let ny = Calendar::new("America/New_York").unwrap();
        let at = next_alert_at(EXPIRY, &[], &ny).unwrap();
        assert_eq!(at, time::macros::datetime!(2026-12-03 05:00 UTC).unix_timestamp());
        let at = next_alert_at(EXPIRY, &[Alert::SevenDays, Alert::ThreeDays, Alert::OneDay], &ny).unwrap();
        assert_eq!(at, time::macros::datetime!(2026-12-10 05:00 UTC).unix_timestamp());
        assert_eq!(next_alert_at(EXPIRY, &Alert::ALL, &ny), None);
    }
}
