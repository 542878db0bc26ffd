//! Ride rules (API.md "Carpool"): what a valid ride is, how its status and seats follow from what
//! is stored, who sees exact coordinates, and what a join request's status shows. No I/O.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

pub const MIN_SEATS: u8 = 1;
pub const MAX_SEATS: u8 = 8;
pub const MAX_LABEL_CHARS: usize = 120;
pub const MAX_NOTES_CHARS: usize = 500;
pub const MAX_MESSAGE_CHARS: usize = 500;
/// How far ahead a ride may depart.
pub const MAX_AHEAD: Duration = Duration::days(90);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A driver offers seats.
    Offer,
    /// A rider asks for a ride; drivers answer.
    Request,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Offer => "offer",
            Kind::Request => "request",
        }
    }
}

/// What is stored about a ride's life; the status shown also depends on seats and the clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RideState {
    #[default]
    Open,
    /// A request ride whose author accepted a driver.
    Matched,
    Cancelled,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Open,
    Full,
    Matched,
    Cancelled,
    Departed,
}

/// A place as entered: a label, and coordinates when the client has them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Place {
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lng: Option<f64>,
}

impl Place {
    /// A valid place: a label of 1-120 characters of text (trimmed), and both coordinates in
    /// range or neither.
    pub fn parse(field: &str, label: &str, lat: Option<f64>, lng: Option<f64>) -> Result<Place, String> {
        let label = label.trim();
        if label.is_empty() || label.chars().count() > MAX_LABEL_CHARS || label.chars().any(char::is_control)
        {
            return Err(format!("{field}.label must be 1 to {MAX_LABEL_CHARS} characters of text"));
        }
        match (lat, lng) {
            (None, None) => {}
            (Some(lat), Some(lng)) => {
                if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lng) {
                    return Err(format!("{field}: lat must be within ±90 and lng within ±180"));
                }
            }
            _ => return Err(format!("{field}: give both lat and lng, or neither")),
        }
        Ok(Place { label: label.to_owned(), lat, lng })
    }

    /// The place as someone outside the ride sees it: coordinates to two decimals (about 1 km).
    pub fn rounded(&self) -> Place {
        let round = |v: f64| (v * 100.0).round() / 100.0;
        Place { label: self.label.clone(), lat: self.lat.map(round), lng: self.lng.map(round) }
    }
}

/// Checks a departure time against the clock: in the future, at most 90 days ahead.
pub fn check_depart_at(depart_at: OffsetDateTime, now: OffsetDateTime) -> Result<(), String> {
    if depart_at <= now {
        return Err("departAt must be in the future".into());
    }
    if depart_at > now + MAX_AHEAD {
        return Err("departAt must be at most 90 days ahead".into());
    }
    Ok(())
}

pub fn check_seats(seats: i64) -> Result<u8, String> {
    u8::try_from(seats)
        .ok()
        .filter(|s| (MIN_SEATS..=MAX_SEATS).contains(s))
        .ok_or_else(|| format!("seats must be from {MIN_SEATS} to {MAX_SEATS}"))
}

/// Free text (notes, a join message): trimmed, at most `max` characters, no control characters
/// but line breaks.
pub fn check_text(field: &str, text: &str, max: usize) -> Result<String, String> {
    let text = text.trim();
    if text.chars().count() > max || text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(format!("{field} must be at most {max} characters of text"));
    }
    Ok(text.to_owned())
}

/// The seats and state of a ride, as the rules about seats see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seats {
    pub kind: Kind,
    pub state: RideState,
    /// Offered (offer) or needed (request).
    pub seats: u8,
    /// Held by accepted riders (offers only).
    pub taken: u8,
}

impl Seats {
    /// Never below zero. A request ride has its seats left until a driver is accepted.
    pub fn left(&self) -> u8 {
        match (self.kind, self.state) {
            (_, RideState::Cancelled) | (Kind::Request, RideState::Matched) => 0,
            (Kind::Request, RideState::Open) => self.seats,
            (Kind::Offer, _) => self.seats.saturating_sub(self.taken),
        }
    }

    pub fn status(&self, departed: bool) -> Status {
        match self.state {
            RideState::Cancelled => Status::Cancelled,
            _ if departed => Status::Departed,
            RideState::Matched => Status::Matched,
            RideState::Open if self.left() == 0 => Status::Full,
            RideState::Open => Status::Open,
        }
    }

    /// Whether the ride takes join requests and belongs in the feed (before the clock and the
    /// driver's standing are considered).
    pub fn is_open(&self) -> bool {
        self.state == RideState::Open && self.left() > 0
    }

    /// Whether accepting `seats` more fits.
    pub fn fits(&self, seats: u8) -> bool {
        match self.kind {
            Kind::Offer => seats <= self.left(),
            Kind::Request => self.state == RideState::Open,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RequestStatus {
    Pending,
    Accepted,
    Declined,
    Left,
    Cancelled,
}

impl RequestStatus {
    /// Pending or accepted: the rider holds (or may get) seats and cannot ask again.
    pub fn is_live(self) -> bool {
        matches!(self, RequestStatus::Pending | RequestStatus::Accepted)
    }

    /// What a request shows, given its ride: a cancellation or a match settles every request it
    /// did not include, even before (or if ever) each of them is rewritten.
    pub fn shown(self, ride: RideState) -> RequestStatus {
        match (self, ride) {
            (status, _) if !status.is_live() => status,
            (_, RideState::Cancelled) => RequestStatus::Cancelled,
            (RequestStatus::Pending, RideState::Matched) => RequestStatus::Declined,
            (status, _) => status,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn offer(seats: u8, taken: u8) -> Seats {
        Seats { kind: Kind::Offer, state: RideState::Open, seats, taken }
    }

    #[test]
    fn seats_left_never_go_below_zero_and_a_full_offer_opens_again() {
        assert_eq!(offer(3, 1).left(), 2);
        assert_eq!(offer(3, 5).left(), 0);
        assert_eq!(offer(3, 3).status(false), Status::Full);
        assert_eq!(offer(3, 2).status(false), Status::Open);
        assert!(!offer(3, 3).is_open());
        assert!(offer(3, 2).fits(1) && !offer(3, 2).fits(2));
    }

    #[test]
    fn status_order_cancelled_then_departed_then_matched() {
        let cancelled = Seats { state: RideState::Cancelled, ..offer(3, 0) };
        assert_eq!(cancelled.status(true), Status::Cancelled);
        assert_eq!(offer(3, 3).status(true), Status::Departed);
        let matched = Seats { kind: Kind::Request, state: RideState::Matched, seats: 2, taken: 0 };
        assert_eq!(matched.status(false), Status::Matched);
        assert_eq!(matched.left(), 0);
        let asking = Seats { state: RideState::Open, ..matched };
        assert_eq!((asking.status(false), asking.left()), (Status::Open, 2));
        assert!(asking.fits(8), "a request ride takes any driver while unmatched");
        assert!(!matched.fits(1));
    }

    #[test]
    fn places_are_checked_and_rounded_for_outsiders() {
        let p = Place::parse("origin", "  Main gate ", Some(43.472_85), Some(-80.544_91)).unwrap();
        assert_eq!(p.label, "Main gate");
        assert_eq!(p.rounded(), Place { label: "Main gate".into(), lat: Some(43.47), lng: Some(-80.54) });
        assert!(Place::parse("origin", "", None, None).is_err());
        assert!(Place::parse("origin", &"x".repeat(121), None, None).is_err());
        assert!(Place::parse("origin", "a\u{7}b", None, None).is_err());
        assert!(Place::parse("origin", "x", Some(91.0), Some(0.0)).is_err());
        assert!(Place::parse("origin", "x", Some(0.0), Some(-180.5)).is_err());
        assert!(Place::parse("origin", "x", Some(1.0), None).is_err());
        assert!(Place::parse("origin", "x", Some(-90.0), Some(180.0)).is_ok());
    }

    #[test]
    fn departures_are_future_and_within_ninety_days() {
        let now = datetime!(2026-11-24 12:00 UTC);
        assert!(check_depart_at(now, now).is_err());
        assert!(check_depart_at(now + Duration::minutes(1), now).is_ok());
        assert!(check_depart_at(now + Duration::days(90), now).is_ok());
        assert!(check_depart_at(now + Duration::days(90) + Duration::seconds(1), now).is_err());
    }

    #[test]
    fn seats_and_text_limits() {
        assert_eq!(check_seats(1), Ok(1));
        assert_eq!(check_seats(8), Ok(8));
        assert!(check_seats(0).is_err() && check_seats(9).is_err() && check_seats(-1).is_err());
        assert_eq!(check_text("notes", " hi\nthere ", 500).unwrap(), "hi\nthere");
        assert!(check_text("notes", &"é".repeat(501), 500).is_err());
        assert!(check_text("notes", "a\u{0}", 500).is_err());
    }

    #[test]
    fn a_cancellation_or_a_match_settles_the_requests_it_left_behind() {
        use RequestStatus::*;
        assert_eq!(Pending.shown(RideState::Cancelled), Cancelled);
        assert_eq!(Accepted.shown(RideState::Cancelled), Cancelled);
        assert_eq!(Pending.shown(RideState::Matched), Declined);
        assert_eq!(Accepted.shown(RideState::Matched), Accepted);
        assert_eq!(Left.shown(RideState::Cancelled), Left);
        assert_eq!(Pending.shown(RideState::Open), Pending);
    }
}
