//! Posting, editing and cancelling rides. A ride is posted with its conversation and the author's
//! link in one transaction; a cancellation settles every live request and tells each rider.

use super::views::RideView;
use super::{check_may_drive, ride_chat, RideService, MAX_ATTEMPTS};
use crate::domain::calendar::Calendar;
use crate::domain::ride::{
    check_depart_at, check_seats, check_text, Kind, Place, RequestStatus, RideState, MAX_AHEAD,
    MAX_NOTES_CHARS,
};
use crate::error::{AppError, AppResult};
use crate::mail::ride_templates::{self, CancelCause};
use crate::mail::Message;
use crate::rate_limit::Rule;
use crate::repo::conversations::{self, ConversationKind, ConversationRecord};
use crate::repo::rides::{self, RequestRecord, RideRecord};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tracing::info;
use ulid::Ulid;

/// A place as the client sent it.
pub struct PlaceInput {
    pub label: String,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
}

/// `POST /api/carpool/rides`, as sent (checked here: every problem is `422 invalid_ride`).
pub struct NewRide {
    pub kind: String,
    pub origin: PlaceInput,
    pub destination: PlaceInput,
    pub depart_at: String,
    pub seats: i64,
    pub notes: Option<String>,
}

/// `PATCH /api/carpool/rides/{id}`: what to change.
pub struct RideEdit {
    pub depart_at: Option<String>,
    pub seats: Option<i64>,
    pub notes: Option<String>,
}

/// Requests settled together with a cancellation: two writes each (the request and its mail),
/// leaving room in one transaction for the ride and its conversation.
const CANCEL_CHUNK: usize = 45;

fn invalid(message: String) -> AppError {
    AppError::InvalidRide(message)
}

fn parse_time(text: &str) -> AppResult<OffsetDateTime> {
    let t = OffsetDateTime::parse(text.trim(), &Rfc3339)
        .map_err(|_| invalid("departAt must be an RFC 3339 time, e.g. 2026-12-01T08:30:00Z".into()))?;
    // A time whose UTC form leaves the supported years is no departure time either.
    let utc = t
        .checked_to_offset(time::UtcOffset::UTC)
        .ok_or_else(|| invalid("departAt is out of range".into()))?;
    Ok(utc.replace_nanosecond(0).unwrap_or(utc))
}

fn place(field: &str, input: &PlaceInput) -> AppResult<Place> {
    Place::parse(field, &input.label, input.lat, input.lng).map_err(invalid)
}

fn notes(text: &str) -> AppResult<String> {
    check_text("notes", text, MAX_NOTES_CHARS).map_err(invalid)
}

impl RideService {
    /// `POST /api/carpool/rides`.
    pub async fn post(&self, cookie: &str, input: NewRide) -> AppResult<RideView> {
        let caller = self.auth.caller(cookie).await?;
        let kind = match input.kind.as_str() {
            "offer" => Kind::Offer,
            "request" => Kind::Request,
            _ => return Err(invalid("kind must be \"offer\" or \"request\"".into())),
        };
        let origin = place("origin", &input.origin)?;
        let destination = place("destination", &input.destination)?;
        let depart_at = parse_time(&input.depart_at)?;
        check_depart_at(depart_at, caller.now).map_err(invalid)?;
        let seats = check_seats(input.seats).map_err(invalid)?;
        let notes = notes(input.notes.as_deref().unwrap_or(""))?;
        if kind == Kind::Offer {
            check_may_drive(&caller.driver, caller.today())?;
        }
        self.limiter.hit(Rule::RidePost, &caller.user.id.to_string()).await?;
        let ride = RideRecord {
            id: Ulid::new(),
            campus_id: caller.campus.id.clone(),
            kind,
            author_id: caller.user.id,
            author_name: caller.user.name.clone(),
            origin,
            destination,
            depart_at,
            seats,
            seats_taken: 0,
            notes,
            state: RideState::Open,
            riders: Vec::new(),
            hidden: false,
            conversation_id: Ulid::new(),
            created_at: caller.now,
            version: 1,
        };
        let conversation = ConversationRecord {
            id: ride.conversation_id,
            kind: ConversationKind::Ride,
            campus_id: ride.campus_id.clone(),
            ride_id: Some(ride.id),
            title: format!("{} → {}", ride.origin.label, ride.destination.label),
            members: ride.members(),
            closed: false,
            created_at: caller.now,
            last_message: None,
            last_message_id: None,
        };
        let mut writes = vec![rides::create_ride(&ride), rides::author_link(caller.user.id, ride.id)];
        writes.extend(conversations::create(&conversation));
        self.store.write(writes).await?;
        info!(ride_id = %ride.id, user_id = %caller.user.id, kind = kind.as_str(), "ride posted");
        crate::metrics::ride_posted();
        Ok(RideView::new(&ride, caller.user.id, caller.now))
    }

    /// `PATCH /api/carpool/rides/{id}`: the author changes the time, seats or notes of a ride
    /// that has not departed or been cancelled. Accepted riders are told of a new time.
    pub async fn edit(&self, cookie: &str, id: &str, edit: RideEdit) -> AppResult<RideView> {
        let caller = self.auth.caller(cookie).await?;
        let first = self.visible_ride(&caller, id).await?;
        if first.author_id != caller.user.id {
            return Err(AppError::NotRideAuthor);
        }
        let depart_at = edit.depart_at.as_deref().map(parse_time).transpose()?;
        if let Some(at) = depart_at {
            check_depart_at(at, caller.now).map_err(invalid)?;
            // Rides depart at most 90 days after they are posted, however often they move (what
            // a driver's rides are found by relies on it: see `drivers`).
            if at > first.created_at + MAX_AHEAD {
                return Err(invalid("departAt must be at most 90 days after the ride was posted".into()));
            }
        }
        let seats = edit.seats.map(|s| check_seats(s).map_err(invalid)).transpose()?;
        let new_notes = edit.notes.as_deref().map(notes).transpose()?;
        for attempt in 0..MAX_ATTEMPTS {
            let before = self.ride_for_attempt(attempt, &first).await?;
            if before.state == RideState::Cancelled || before.departed(caller.now) {
                return Err(AppError::RideClosed);
            }
            let mut ride = before.clone();
            if let Some(seats) = seats {
                let held = match ride.kind {
                    Kind::Offer => ride.seats_taken,
                    Kind::Request => 0,
                };
                // A matched request ride's driver came for the seats it asked for.
                if seats < held || (ride.state == RideState::Matched && seats != ride.seats) {
                    return Err(AppError::SeatsTaken);
                }
                ride.seats = seats;
            }
            if let Some(notes) = &new_notes {
                ride.notes.clone_from(notes);
            }
            if let Some(at) = depart_at {
                ride.depart_at = at;
            }
            if ride == before {
                return Ok(RideView::new(&ride, caller.user.id, caller.now));
            }
            ride.version += 1;
            let mut writes = vec![rides::replace_ride(&ride)];
            let mut mail = Vec::new();
            let mut told = None;
            if ride.depart_at != before.depart_at {
                mail = self.time_change_mail(&before, &ride, &caller.calendar).await?;
                let (now, was) = (
                    caller.calendar.local_time(ride.depart_at),
                    caller.calendar.local_time(before.depart_at),
                );
                let (chat, message) =
                    ride_chat(&ride, format!("The ride now leaves {now} (it was {was})."), None, caller.now);
                writes.extend(chat);
                told = Some(message);
            }
            if self.commit(writes, mail).await? {
                if let Some(message) = told {
                    self.tell(&ride, &message).await;
                }
                return Ok(RideView::new(&ride, caller.user.id, caller.now));
            }
        }
        Err(AppError::Contended)
    }

    async fn time_change_mail(
        &self,
        before: &RideRecord,
        ride: &RideRecord,
        calendar: &Calendar,
    ) -> AppResult<Vec<Message>> {
        let was = calendar.local_time(before.depart_at);
        let summary = self.summary(ride, calendar);
        self.mail_to(&ride.riders, |to| ride_templates::time_changed(&self.app_url, to, &summary, &was)).await
    }

    /// `DELETE /api/carpool/rides/{id}`.
    pub async fn cancel(&self, cookie: &str, id: &str) -> AppResult<()> {
        let caller = self.auth.caller(cookie).await?;
        let ride = self.visible_ride(&caller, id).await?;
        if ride.author_id != caller.user.id {
            return Err(AppError::NotRideAuthor);
        }
        if !self.cancel_ride(ride, CancelCause::ByAuthor, &caller.calendar, caller.now).await? {
            return Err(AppError::RideClosed);
        }
        Ok(())
    }

    /// Cancels a ride that has neither departed nor been cancelled, settling its live requests
    /// and telling their riders; `false` when it had already departed or been cancelled.
    ///
    /// The ride, its conversation and the first requests go in one transaction; a ride with more
    /// live requests than fit settles the rest in further ones. Until each is rewritten, a live
    /// request of a cancelled ride already shows as cancelled (`RequestStatus::shown`).
    pub(super) async fn cancel_ride(
        &self,
        first: RideRecord,
        cause: CancelCause,
        calendar: &Calendar,
        now: OffsetDateTime,
    ) -> AppResult<bool> {
        let mut cancelled = None;
        for attempt in 0..MAX_ATTEMPTS {
            let before = self.ride_for_attempt(attempt, &first).await?;
            if before.state == RideState::Cancelled || before.departed(now) {
                return Ok(false);
            }
            let mut ride = before;
            ride.state = RideState::Cancelled;
            ride.version += 1;
            let live = self.live_requests(ride.id).await?;
            let first_part = &live[..live.len().min(CANCEL_CHUNK)];
            let mut writes = vec![rides::replace_ride(&ride)];
            let (chat, told) = ride_chat(&ride, "The ride was cancelled.".into(), None, now);
            writes.extend(chat);
            let (mut more, mail) = self.settle(&ride, first_part, cause, calendar).await?;
            writes.append(&mut more);
            if self.commit(writes, mail).await? {
                cancelled = Some((ride, first_part.len(), told));
                break;
            }
        }
        let (ride, settled, told) = cancelled.ok_or(AppError::Contended)?;
        self.tell(&ride, &told).await;
        let settled = settled + self.settle_remaining(&ride, cause, calendar).await?;
        info!(ride_id = %ride.id, cause = ?cause, requests = settled, "ride cancelled");
        Ok(true)
    }

    /// The live requests of a cancelled ride beyond its cancellation's transaction, and any join
    /// that landed between the read and the cancellation (none lands after it: a join checks
    /// that the ride is open), until none is left; each round reads again, so a rider leaving
    /// meanwhile only costs a round. Also what a cancellation that stopped half-way left.
    pub(super) async fn settle_remaining(
        &self,
        ride: &RideRecord,
        cause: CancelCause,
        calendar: &Calendar,
    ) -> AppResult<usize> {
        let mut settled = 0;
        for _ in 0..MAX_ATTEMPTS {
            let live = self.live_requests(ride.id).await?;
            if live.is_empty() {
                break;
            }
            let part = &live[..live.len().min(CANCEL_CHUNK)];
            let (writes, mail) = self.settle(ride, part, cause, calendar).await?;
            if self.commit(writes, mail).await? {
                settled += part.len();
            }
        }
        Ok(settled)
    }

    /// The requests of a ride stored as pending or accepted.
    async fn live_requests(&self, ride: Ulid) -> AppResult<Vec<RequestRecord>> {
        let requests = rides::requests_of(self.store.as_ref(), ride).await?;
        Ok(requests.into_iter().filter(|r| r.status.is_live()).collect())
    }

    /// The writes and mail that settle live requests of a cancelled ride.
    async fn settle(
        &self,
        ride: &RideRecord,
        requests: &[RequestRecord],
        cause: CancelCause,
        calendar: &Calendar,
    ) -> AppResult<(Vec<crate::store::Write>, Vec<Message>)> {
        let riders: Vec<Ulid> = requests.iter().map(|r| r.rider_id).collect();
        let summary = self.summary(ride, calendar);
        let mail = self
            .mail_to(&riders, |to| {
                ride_templates::ride_cancelled(&self.app_url, to, &summary, &ride.author_name, cause)
            })
            .await?;
        let writes = requests
            .iter()
            .map(|request| {
                let settled = RequestRecord { status: RequestStatus::Cancelled, ..request.clone() };
                rides::move_request(&settled, request.status)
            })
            .collect();
        Ok((writes, mail))
    }
}
