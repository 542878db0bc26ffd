//! Join requests and seats: a rider asks (or, on a request ride, a driver offers), the author
//! accepts or declines, a rider leaves. Seats move only in a transaction conditional on the
//! ride's version and the request's status, so concurrent accepts never overbook a ride, and a
//! rider's link to the ride is conditional on the request it last pointed at, so concurrent joins
//! by one rider leave exactly one live request.

use super::views::{RequestView, RideView};
use super::{check_may_drive, recipient, ride_chat, RideService, MAX_ATTEMPTS};
use crate::auth::Caller;
use crate::domain::calendar::Calendar;
use crate::domain::ride::{check_seats, check_text, Kind, RequestStatus, RideState, MAX_MESSAGE_CHARS};
use crate::error::{AppError, AppResult};
use crate::mail::ride_templates;
use crate::rate_limit::Rule;
use crate::repo::conversations;
use crate::repo::drivers::{self, DriverRecord};
use crate::repo::messages::Mention;
use crate::repo::rides::{self, RequestRecord, RideRecord};
use crate::repo::{from_item, safety as safety_repo};
use crate::store::{Cond, Write};
use tracing::{info, warn};
use ulid::Ulid;

impl RideService {
    /// `POST /api/carpool/rides/{id}/join`.
    pub async fn join(
        &self,
        cookie: &str,
        ride_id: &str,
        seats: Option<i64>,
        message: Option<&str>,
    ) -> AppResult<RequestView> {
        let caller = self.auth.caller(cookie).await?;
        let message =
            check_text("message", message.unwrap_or(""), MAX_MESSAGE_CHARS).map_err(AppError::Incomplete)?;
        let first = self.visible_ride(&caller, ride_id).await?;
        if first.author_id == caller.user.id {
            return Err(AppError::OwnRide);
        }
        // On a request ride a driver offers to drive: the seats are the ride's.
        let asked = match first.kind {
            Kind::Offer => check_seats(seats.unwrap_or(1)).map_err(AppError::Incomplete)?,
            Kind::Request => first.seats,
        };
        self.limiter.hit(Rule::RideJoin, &caller.user.id.to_string()).await?;
        for attempt in 0..MAX_ATTEMPTS {
            let ride = self.ride_for_attempt(attempt, &first).await?;
            let (link, author, author_driver) = self.join_context(&caller, &ride).await?;
            let previous = match link.and_then(|l| l.request_id) {
                Some(id) => {
                    let live = rides::get_request(self.store.as_ref(), ride.id, id)
                        .await?
                        .is_some_and(|r| r.status.shown(ride.state).is_live());
                    if live {
                        return Err(AppError::AlreadyRequested);
                    }
                    Some(id)
                }
                None => None,
            };
            if ride.state != RideState::Open || ride.departed(caller.now) {
                return Err(AppError::RideClosed);
            }
            match ride.kind {
                // An offer whose driver may not drive now takes no one (and is out of the feed).
                Kind::Offer if !super::may_drive(&author_driver, caller.today()) => {
                    return Err(AppError::RideClosed)
                }
                Kind::Offer => {}
                Kind::Request => check_may_drive(&caller.driver, caller.today())
                    .map_err(|_| AppError::DriverNotApproved)?,
            }
            let seats = if ride.kind == Kind::Request { ride.seats } else { asked };
            if !ride.seats().fits(seats) {
                return Err(AppError::RideFull);
            }
            let request = RequestRecord {
                id: Ulid::new(),
                ride_id: ride.id,
                rider_id: caller.user.id,
                rider_name: caller.user.name.clone(),
                seats,
                message: message.clone(),
                status: RequestStatus::Pending,
                created_at: caller.now,
            };
            let writes = vec![
                rides::create_request(&request),
                rides::rider_link(caller.user.id, ride.id, request.id, previous),
                // Not cancelled or matched meanwhile (seats are checked again at acceptance).
                Write::Check { key: rides::ride_key(ride.id), cond: Cond::equals("state", "open") },
            ];
            let summary = self.summary(&ride, &caller.calendar);
            let mail = author
                .as_ref()
                .and_then(recipient)
                .map(|to| {
                    ride_templates::join_requested(
                        &self.app_url,
                        &to,
                        &summary,
                        &caller.user.name,
                        seats,
                        &message,
                    )
                })
                .into_iter()
                .collect();
            if self.commit(writes, mail).await? {
                info!(ride_id = %ride.id, request_id = %request.id, user_id = %caller.user.id, "join requested");
                return Ok(RequestView::new(&request, &ride));
            }
        }
        Err(AppError::Contended)
    }

    /// What a join needs besides the ride, in one batch read: the caller's link to it, the
    /// author (for the mail) and the author's driver profile (may they drive now).
    async fn join_context(
        &self,
        caller: &Caller,
        ride: &RideRecord,
    ) -> AppResult<(Option<rides::RideLink>, Option<crate::repo::accounts::UserRecord>, DriverRecord)> {
        let keys = [
            rides::link_key(caller.user.id, ride.id),
            crate::repo::accounts::user_key(ride.author_id),
            drivers::driver_key(ride.author_id),
        ];
        let items = self.store.get_many(&keys).await?;
        let link = items[0].as_ref().map(from_item).transpose()?;
        let author = items[1].as_ref().map(from_item).transpose()?;
        let driver = items[2].as_ref().map(from_item).transpose()?.unwrap_or_default();
        Ok((link, author, driver))
    }

    /// The ride, as its author, and one of its requests.
    async fn authored(
        &self,
        caller: &Caller,
        ride: RideRecord,
        request_id: &str,
    ) -> AppResult<(RideRecord, RequestRecord)> {
        if ride.author_id != caller.user.id {
            return Err(AppError::NotRideAuthor);
        }
        let id: Ulid = request_id.parse().map_err(|_| AppError::NotFound)?;
        let request =
            rides::get_request(self.store.as_ref(), ride.id, id).await?.ok_or(AppError::NotFound)?;
        Ok((ride, request))
    }

    /// `POST /api/carpool/rides/{id}/requests/{requestId}/accept`: takes the seats (an offer)
    /// or matches the ride (a request ride, whose other answers are declined).
    pub async fn accept(
        &self,
        cookie: &str,
        ride_id: &str,
        request_id: &str,
    ) -> AppResult<(RideView, RequestView)> {
        let caller = self.auth.caller(cookie).await?;
        let first = self.visible_ride(&caller, ride_id).await?;
        for attempt in 0..MAX_ATTEMPTS {
            let ride = self.ride_for_attempt(attempt, &first).await?;
            let (before, request) = self.authored(&caller, ride, request_id).await?;
            if before.state != RideState::Open || before.departed(caller.now) {
                return Err(AppError::RideClosed);
            }
            if request.status != RequestStatus::Pending {
                return Err(AppError::RequestNotPending);
            }
            if !before.seats().fits(request.seats) {
                return Err(AppError::RideFull);
            }
            if safety_repo::is_blocked(self.store.as_ref(), caller.user.id, request.rider_id).await? {
                return Err(AppError::NotFound);
            }
            let mut ride = before.clone();
            match ride.kind {
                Kind::Offer => ride.seats_taken += request.seats,
                Kind::Request => ride.state = RideState::Matched,
            }
            ride.riders.push(request.rider_id);
            ride.version += 1;
            let accepted = RequestRecord { status: RequestStatus::Accepted, ..request.clone() };
            let mut writes = vec![
                rides::replace_ride(&ride),
                rides::move_request(&accepted, RequestStatus::Pending),
                conversations::link(request.rider_id, ride.conversation_id),
            ];
            let rider = Mention { user_id: request.rider_id, name: request.rider_name.clone() };
            let (chat, told) =
                ride_chat(&ride, format!("{} joined the ride.", request.rider_name), Some(rider), caller.now);
            writes.extend(chat);
            let summary = self.summary(&ride, &caller.calendar);
            let mail = self
                .mail_to(&[request.rider_id], |to| {
                    ride_templates::request_answered(&self.app_url, to, &summary, &ride.author_name, true)
                })
                .await?;
            if self.commit(writes, mail).await? {
                info!(ride_id = %ride.id, request_id = %request.id, "request accepted");
                self.tell(&ride, &told).await;
                if ride.kind == Kind::Request {
                    // The match stands either way; the other answers already show as declined.
                    if let Err(e) = self.decline_other_answers(&ride, &caller).await {
                        warn!(ride_id = %ride.id, error = %e, "other answers of a matched ride not all declined");
                    }
                }
                crate::metrics::ride_accepted();
                return Ok((
                    RideView::new(&ride, caller.user.id, caller.now),
                    RequestView::new(&accepted, &ride),
                ));
            }
        }
        Err(AppError::Contended)
    }

    /// A matched request ride's other answers: declined, and their drivers told. They already
    /// show as declined (`RequestStatus::shown`), so one that loses a race is left as it is.
    async fn decline_other_answers(&self, ride: &RideRecord, caller: &Caller) -> AppResult<()> {
        let requests = rides::requests_of(self.store.as_ref(), ride.id).await?;
        for request in requests.iter().filter(|r| r.status == RequestStatus::Pending) {
            self.decline_request(ride, request, &caller.calendar).await?;
        }
        Ok(())
    }

    /// Declines a pending request and tells its rider; `false` when it was no longer pending.
    async fn decline_request(
        &self,
        ride: &RideRecord,
        request: &RequestRecord,
        calendar: &Calendar,
    ) -> AppResult<bool> {
        let declined = RequestRecord { status: RequestStatus::Declined, ..request.clone() };
        let summary = self.summary(ride, calendar);
        let mail = self
            .mail_to(&[request.rider_id], |to| {
                ride_templates::request_answered(&self.app_url, to, &summary, &ride.author_name, false)
            })
            .await?;
        self.commit(vec![rides::move_request(&declined, RequestStatus::Pending)], mail).await
    }

    /// `POST /api/carpool/rides/{id}/requests/{requestId}/decline`: a pending request only.
    pub async fn decline(&self, cookie: &str, ride_id: &str, request_id: &str) -> AppResult<RequestView> {
        let caller = self.auth.caller(cookie).await?;
        let first = self.visible_ride(&caller, ride_id).await?;
        for attempt in 0..MAX_ATTEMPTS {
            let ride = self.ride_for_attempt(attempt, &first).await?;
            let (ride, request) = self.authored(&caller, ride, request_id).await?;
            if request.status.shown(ride.state) != RequestStatus::Pending {
                return Err(AppError::RequestNotPending);
            }
            if self.decline_request(&ride, &request, &caller.calendar).await? {
                let declined = RequestRecord { status: RequestStatus::Declined, ..request };
                return Ok(RequestView::new(&declined, &ride));
            }
        }
        Err(AppError::Contended)
    }

    /// `POST /api/carpool/rides/{id}/leave`: the caller's pending or accepted request becomes
    /// `left`; accepted seats come back (a full offer opens again, a matched request ride
    /// reopens) and the rider leaves the ride's chat. The author is told.
    pub async fn leave(&self, cookie: &str, ride_id: &str) -> AppResult<()> {
        let caller = self.auth.caller(cookie).await?;
        let ride = self.campus_ride(&caller, ride_id).await?;
        self.leave_ride(ride, caller.user.id, &caller.user.name, &caller.calendar, caller.now).await
    }

    /// Ends `rider`'s live request on the ride (`404` without one, `409 ride_closed` once
    /// departed): it becomes `left`, accepted seats come back, the author is told.
    pub(super) async fn leave_ride(
        &self,
        first: RideRecord,
        rider: Ulid,
        rider_name: &str,
        calendar: &Calendar,
        now: time::OffsetDateTime,
    ) -> AppResult<()> {
        for attempt in 0..MAX_ATTEMPTS {
            let ride = self.ride_for_attempt(attempt, &first).await?;
            let link = rides::get_link(self.store.as_ref(), rider, ride.id).await?;
            let request = match link.and_then(|l| l.request_id) {
                Some(request) => rides::get_request(self.store.as_ref(), ride.id, request).await?,
                None => None,
            };
            let Some(request) = request.filter(|r| r.status.shown(ride.state).is_live()) else {
                return Err(AppError::NotFound);
            };
            if ride.departed(now) {
                return Err(AppError::RideClosed);
            }
            let left = RequestRecord { status: RequestStatus::Left, ..request.clone() };
            let mut writes = vec![rides::move_request(&left, request.status)];
            let had_seats = request.status == RequestStatus::Accepted;
            let mut told = None;
            if had_seats {
                let mut after = ride.clone();
                match after.kind {
                    Kind::Offer => after.seats_taken = after.seats_taken.saturating_sub(request.seats),
                    Kind::Request => after.state = RideState::Open,
                }
                after.riders.retain(|r| *r != rider);
                after.version += 1;
                writes.push(rides::replace_ride(&after));
                writes.push(conversations::unlink(rider, after.conversation_id));
                let mention = Mention { user_id: rider, name: rider_name.to_owned() };
                let (chat, message) =
                    ride_chat(&after, format!("{rider_name} left the ride."), Some(mention), now);
                writes.extend(chat);
                told = Some((after, message));
            }
            let summary = self.summary(&ride, calendar);
            let mail = self
                .mail_to(&[ride.author_id], |to| {
                    ride_templates::rider_left(&self.app_url, to, &summary, rider_name, had_seats)
                })
                .await?;
            if self.commit(writes, mail).await? {
                info!(ride_id = %ride.id, request_id = %request.id, "rider left");
                if let Some((after, message)) = told {
                    self.tell(&after, &message).await;
                }
                return Ok(());
            }
        }
        Err(AppError::Contended)
    }
}
