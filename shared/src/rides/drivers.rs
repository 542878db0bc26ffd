//! What a driver's standing does to their rides (API.md "Carpool", last paragraph): turning
//! availability off takes their open offers out of the feed and back in when it is on again
//! (accepted riders keep their seats); a suspension, or a license that expires, cancels every
//! offer of theirs that has not departed and withdraws their answers to request rides (the
//! riders are told either way). Rides they asked for as a rider are theirs to keep.
//!
//! The driver use cases call these after the profile change has landed. A driver may hold more
//! offers than one transaction can change, so each ride is its own write; meanwhile the feed
//! already hides them, because it checks every offer's driver as it reads (see `feed`).

use super::{RideService, MAX_ATTEMPTS};
use crate::domain::calendar::Calendar;
use crate::domain::ride::{Kind, RideState};
use crate::error::{AppError, AppResult};
use crate::mail::ride_templates::CancelCause;
use crate::repo::drivers;
use crate::repo::rides::{self, RideRecord};
use time::Duration;
use tracing::{info, warn};
use ulid::Ulid;

/// Every ride that has not departed was posted within this long (rides depart at most 90 days
/// after posting), so the links since then cover them.
const UNDEPARTED: Duration = Duration::days(91);
/// Enough for any driver: 10 posts a day for 91 days, and as many rides joined.
const MAX_LINKS: usize = 2000;

impl RideService {
    /// The rides `user` posted or asked to join that have not departed or been cancelled, as
    /// stored now, with the request id for those they asked to join.
    async fn upcoming_rides_of(&self, user: Ulid) -> AppResult<Vec<(RideRecord, Option<Ulid>)>> {
        let now = self.now();
        let links = rides::links(self.store.as_ref(), user, Some(now - UNDEPARTED), MAX_LINKS).await?;
        let mut out = Vec::new();
        for chunk in links.chunks(100) {
            let keys: Vec<_> = chunk.iter().map(|l| rides::ride_key(l.ride_id)).collect();
            for (link, item) in chunk.iter().zip(self.store.get_many(&keys).await?) {
                let Some(item) = item else { continue };
                let ride: RideRecord = crate::repo::from_item(&item)?;
                if !ride.departed(now) && ride.state != RideState::Cancelled {
                    out.push((ride, link.request_id));
                }
            }
        }
        Ok(out)
    }

    /// The offers `driver` posted that have not departed or been cancelled.
    async fn upcoming_offers_of(&self, driver: Ulid) -> AppResult<Vec<RideRecord>> {
        let rides = self.upcoming_rides_of(driver).await?;
        Ok(rides
            .into_iter()
            .filter(|(ride, request)| {
                request.is_none() && ride.author_id == driver && ride.kind == Kind::Offer
            })
            .map(|(ride, _)| ride)
            .collect())
    }

    /// Shows or hides the driver's open offers in the feed, as their profile says now (so of
    /// two quick toggles, the later one's re-indexing decides by the later state).
    pub async fn refresh_offers(&self, driver: Ulid) -> AppResult<()> {
        let offers = self.upcoming_offers_of(driver).await?;
        let Some(first) = offers.first() else { return Ok(()) };
        let profile = drivers::get(self.store.as_ref(), driver).await?.unwrap_or_default();
        let calendar = self.calendar_of(&first.campus_id).await?;
        let visible = super::may_drive(&profile, calendar.today(self.now()));
        let offers: Vec<RideRecord> = offers.into_iter().filter(|r| r.hidden == visible).collect();
        let count = offers.len();
        for offer in offers {
            self.set_hidden(offer, !visible).await?;
        }
        info!(user_id = %driver, visible, offers = count, "driver's offers re-indexed");
        Ok(())
    }

    async fn set_hidden(&self, first: RideRecord, hidden: bool) -> AppResult<()> {
        for attempt in 0..MAX_ATTEMPTS {
            let mut ride = self.ride_for_attempt(attempt, &first).await?;
            if ride.hidden == hidden {
                return Ok(());
            }
            ride.hidden = hidden;
            ride.version += 1;
            if self.commit(vec![rides::replace_ride(&ride)], Vec::new()).await? {
                return Ok(());
            }
        }
        Err(AppError::Contended)
    }

    /// A driver who may no longer drive (suspended, or the license expired): every offer of theirs
    /// that has not departed is cancelled, and their answers to request rides are withdrawn (a
    /// matched request ride opens again); the riders are told. Returns how many rides were
    /// touched; fails (after trying them all) if any could not be, so the caller can run it again.
    pub async fn driver_stopped(&self, driver: Ulid) -> AppResult<usize> {
        let (mut done, mut failure) = (0, None);
        for (ride, request) in self.upcoming_rides_of(driver).await? {
            let id = ride.id;
            let result = match request {
                None if ride.kind == Kind::Offer => self.cancel_for_driver(ride).await,
                Some(_) if ride.kind == Kind::Request => self.withdraw_answer(ride, driver).await,
                _ => continue,
            };
            match result {
                Ok(touched) => done += usize::from(touched),
                Err(e) => {
                    warn!(ride_id = %id, error = %e, "could not settle a ride of a driver who may not drive");
                    failure = Some(e);
                }
            }
        }
        info!(user_id = %driver, rides = done, "rides of a driver who may not drive settled");
        failure.map_or(Ok(done), Err)
    }

    async fn cancel_for_driver(&self, ride: RideRecord) -> AppResult<bool> {
        let calendar = self.calendar_of(&ride.campus_id).await?;
        self.cancel_ride(ride, CancelCause::DriverCannotDrive, &calendar, self.now()).await
    }

    async fn withdraw_answer(&self, ride: RideRecord, driver: Ulid) -> AppResult<bool> {
        let calendar = self.calendar_of(&ride.campus_id).await?;
        let name = self.users(&[driver]).await?.remove(&driver).map(|u| u.name).unwrap_or_default();
        match self.leave_ride(ride, driver, &name, &calendar, self.now()).await {
            Ok(()) => Ok(true),
            // No live answer (declined, left), or it departed meanwhile.
            Err(AppError::NotFound | AppError::RideClosed) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub(super) async fn calendar_of(&self, campus: &str) -> AppResult<Calendar> {
        match self.auth.campuses().by_id(campus).await? {
            Some(campus) => crate::auth::campus_calendar(&campus),
            None => Err(AppError::Internal(format!("ride of unknown campus {campus}"))),
        }
    }
}
