//! What the carpool routes answer (API.md "Carpool"): rides as the caller may see them, join
//! requests, reports.

use crate::domain::ride::{Kind, Place, RequestStatus, Status};
use crate::repo::rides::{RequestRecord, RideRecord};
use crate::repo::safety::{ReportRecord, ReportStatus};
use serde::Serialize;
use time::OffsetDateTime;
use ulid::Ulid;

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Person {
    pub id: String,
    pub name: String,
}

impl Person {
    pub fn new(id: Ulid, name: &str) -> Self {
        Person { id: id.to_string(), name: name.to_owned() }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Ride)]
pub struct RideView {
    pub id: String,
    pub kind: Kind,
    pub status: Status,
    pub author: Person,
    pub origin: Place,
    pub destination: Place,
    #[serde(with = "time::serde::rfc3339")]
    pub depart_at: OffsetDateTime,
    pub seats: u8,
    pub seats_left: u8,
    pub notes: String,
    /// Members only.
    #[schema(required = true)]
    pub conversation_id: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl RideView {
    /// The ride as `viewer` sees it at `now`: members (the author and accepted riders) get exact
    /// coordinates and the conversation; everyone else coordinates to about 1 km.
    pub fn new(ride: &RideRecord, viewer: Ulid, now: OffsetDateTime) -> Self {
        let member = ride.is_member(viewer);
        let place = |p: &Place| if member { p.clone() } else { p.rounded() };
        let seats = ride.seats();
        RideView {
            id: ride.id.to_string(),
            kind: ride.kind,
            status: seats.status(ride.departed(now)),
            author: Person::new(ride.author_id, &ride.author_name),
            origin: place(&ride.origin),
            destination: place(&ride.destination),
            depart_at: ride.depart_at,
            seats: ride.seats,
            seats_left: seats.left(),
            notes: ride.notes.clone(),
            conversation_id: member.then(|| ride.conversation_id.to_string()),
            created_at: ride.created_at,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = JoinRequest)]
pub struct RequestView {
    pub id: String,
    pub ride_id: String,
    pub rider: Person,
    pub seats: u8,
    pub message: String,
    pub status: RequestStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl RequestView {
    /// The request as its ride settles it (see `RequestStatus::shown`).
    pub fn new(request: &RequestRecord, ride: &RideRecord) -> Self {
        RequestView {
            id: request.id.to_string(),
            ride_id: request.ride_id.to_string(),
            rider: Person::new(request.rider_id, &request.rider_name),
            seats: request.seats,
            message: request.message.clone(),
            status: request.status.shown(ride.state),
            created_at: request.created_at,
        }
    }
}

/// `GET /api/carpool/rides/{id}`.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RideDetail {
    pub ride: RideView,
    #[schema(required = true)]
    pub my_request: Option<RequestView>,
    /// The author's view of every request; empty for anyone else.
    pub requests: Vec<RequestView>,
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Joined {
    pub ride: RideView,
    pub request: RequestView,
}

/// `GET /api/carpool/me/rides`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct MyRides {
    pub posted: Vec<RideView>,
    pub joined: Vec<Joined>,
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Report)]
pub struct ReportView {
    pub id: String,
    pub reporter: Person,
    pub subject: Person,
    #[schema(required = true)]
    pub ride_id: Option<String>,
    pub reason: String,
    pub status: ReportStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[schema(required = true)]
    pub note: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(required = true)]
    pub decided_at: Option<OffsetDateTime>,
}

impl From<&ReportRecord> for ReportView {
    fn from(r: &ReportRecord) -> Self {
        ReportView {
            id: r.id.to_string(),
            reporter: Person::new(r.reporter_id, &r.reporter_name),
            subject: Person::new(r.subject_id, &r.subject_name),
            ride_id: r.ride_id.map(|id| id.to_string()),
            reason: r.reason.clone(),
            status: r.status,
            created_at: r.created_at,
            note: r.note.clone(),
            decided_at: r.decided_at,
        }
    }
}
