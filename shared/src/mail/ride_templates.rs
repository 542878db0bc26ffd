//! The messages of the carpool flow: join requests and their answers, time changes,
//! cancellations and riders leaving. They name people by the name they registered, never by
//! email address, and say when in the campus's time zone. Text people chose is escaped in HTML.

use super::{templates, Message};
use crate::domain::ride::Kind;
use crate::PRODUCT;

/// What a mail says about a ride: which one, and when it leaves (campus time).
pub struct RideSummary<'a> {
    pub id: String,
    pub kind: Kind,
    pub origin: &'a str,
    pub destination: &'a str,
    pub departs: String,
}

impl RideSummary<'_> {
    fn route(&self) -> String {
        format!("{} → {}", self.origin, self.destination)
    }
}

/// Who gets a mail: their address and the name to greet.
pub struct Recipient<'a> {
    pub email: &'a str,
    pub name: &'a str,
}

fn notice(
    app_url: &str,
    to: &Recipient,
    ride: &RideSummary,
    subject: String,
    paragraphs: &[String],
) -> Message {
    let path = format!("/carpool/rides/{}", ride.id);
    templates::notice(app_url, &path, "the ride", to.email, to.name, subject, paragraphs)
}

/// To the author: someone asks to join (an offer) or offers to drive (a request ride).
pub fn join_requested(
    app_url: &str,
    to: &Recipient,
    ride: &RideSummary,
    from: &str,
    seats: u8,
    message: &str,
) -> Message {
    let ask = match ride.kind {
        Kind::Offer => format!(
            "{from} asks for {seats} seat{s} on your ride {route}, leaving {when}.",
            s = if seats == 1 { "" } else { "s" },
            route = ride.route(),
            when = ride.departs
        ),
        Kind::Request => format!(
            "{from} offers to drive you: {route}, leaving {when}.",
            route = ride.route(),
            when = ride.departs
        ),
    };
    let mut paragraphs = vec![ask];
    if !message.is_empty() {
        paragraphs.push(format!("Their message: {message}"));
    }
    paragraphs.push("Accept or decline it on the ride's page.".into());
    notice(app_url, to, ride, format!("New request on your {PRODUCT} ride"), &paragraphs)
}

/// To a rider (or an answering driver): the author accepted or declined their request.
pub fn request_answered(
    app_url: &str,
    to: &Recipient,
    ride: &RideSummary,
    author: &str,
    accepted: bool,
) -> Message {
    let (subject, first) = if accepted {
        (
            format!("You're in: {}", ride.route()),
            format!(
                "{author} accepted your request: {route}, leaving {when}. The ride's chat is open to you now.",
                route = ride.route(),
                when = ride.departs
            ),
        )
    } else {
        (
            format!("Your request for {} was declined", ride.route()),
            format!(
                "{author} declined your request for the ride {route}, leaving {when}. Other rides are in your \
                 campus feed.",
                route = ride.route(),
                when = ride.departs
            ),
        )
    };
    notice(app_url, to, ride, subject, &[first])
}

/// To an accepted rider: the author moved the departure.
pub fn time_changed(app_url: &str, to: &Recipient, ride: &RideSummary, was: &str) -> Message {
    let first = format!(
        "The ride {route} now leaves {when} (it was {was}). If that no longer works for you, leave the ride \
         on its page so the seat goes to someone else.",
        route = ride.route(),
        when = ride.departs
    );
    notice(app_url, to, ride, format!("New departure time: {}", ride.route()), &[first])
}

/// Why a ride was cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelCause {
    ByAuthor,
    /// The driver was suspended or their license expired.
    DriverCannotDrive,
    /// The author deleted their account.
    AuthorLeft,
}

/// To a rider with a pending or accepted request: the ride is off.
pub fn ride_cancelled(
    app_url: &str,
    to: &Recipient,
    ride: &RideSummary,
    author: &str,
    cause: CancelCause,
) -> Message {
    let why = match cause {
        CancelCause::ByAuthor => format!("{author} cancelled the ride"),
        CancelCause::DriverCannotDrive => format!("{author} can no longer drive, so the ride is cancelled"),
        CancelCause::AuthorLeft => format!("{author} closed their account, so the ride is cancelled"),
    };
    let first = format!(
        "{why}: {route}, which was to leave {when}. Other rides are in your campus feed.",
        route = ride.route(),
        when = ride.departs
    );
    notice(app_url, to, ride, format!("Ride cancelled: {}", ride.route()), &[first])
}

/// To the author: a rider left (their seats are free again) or withdrew a pending request.
pub fn rider_left(
    app_url: &str,
    to: &Recipient,
    ride: &RideSummary,
    rider: &str,
    had_seats: bool,
) -> Message {
    let first = if had_seats {
        format!(
            "{rider} left your ride {route}, leaving {when}; their seats are free again.",
            route = ride.route(),
            when = ride.departs
        )
    } else {
        format!(
            "{rider} withdrew their request for your ride {route}, leaving {when}.",
            route = ride.route(),
            when = ride.departs
        )
    };
    notice(app_url, to, ride, format!("A rider left: {}", ride.route()), &[first])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ride() -> RideSummary<'static> {
        RideSummary {
            id: "01RIDE".into(),
            kind: Kind::Offer,
            origin: "Main gate",
            destination: "<b>Airport</b>",
            departs: "Tue 24 Nov 2026, 14:30 EST".into(),
        }
    }

    #[test]
    fn mails_name_people_link_the_ride_and_escape_text() {
        let to = Recipient { email: "ann@uni.edu", name: "Ann" };
        let m = join_requested("https://app", &to, &ride(), "Bo", 2, "<i>hi</i>");
        assert_eq!(m.to, "ann@uni.edu");
        assert!(m.text.contains("Bo asks for 2 seats") && m.text.contains("14:30 EST"));
        assert!(m.text.contains("https://app/carpool/rides/01RIDE"));
        assert!(!m.html.contains("<i>hi") && !m.html.contains("<b>Airport"));
        let m = ride_cancelled("https://app", &to, &ride(), "Cy", CancelCause::DriverCannotDrive);
        assert!(m.text.contains("Cy can no longer drive"));
        let m = request_answered("https://app", &to, &ride(), "Cy", false);
        assert!(m.subject.contains("declined"));
    }
}
