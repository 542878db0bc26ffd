//! What a driver's standing does to their rides (API.md "Carpool", last paragraph): turning
//! availability off takes their open offers out of the feed and back in when it is on again
//! (accepted riders keep their seats); a suspension, or a license that expires, cancels every
//! ride of theirs that has not departed, and the riders are told.
//!
//! The driver use cases call these after the profile change has landed. A driver may hold more
//! offers than one transaction can change, so each ride is its own write; meanwhile the feed
//! already hides them, because it checks every offer's driver as it reads (see `feed`).

use super::{RideService, MAX_ATTEMPTS};
use crate::domain::ride::{Kind, RideState};
use crate::error::AppResult;
use crate::mail::ride_templates::CancelCause;
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
    /// The rides `driver` posted that have not departed, as stored now.
    async fn upcoming_rides_of(&self, driver: Ulid) -> AppResult<Vec<RideRecord>> {
        let now = self.now();
        let links = rides::links(self.store.as_ref(), driver, Some(now - UNDEPARTED), MAX_LINKS).await?;
        let keys: Vec<_> =
            links.iter().filter(|l| l.request_id.is_none()).map(|l| rides::ride_key(l.ride_id)).collect();
        let mut out = Vec::new();
        for chunk in keys.chunks(100) {
            for item in self.store.get_many(chunk).await?.into_iter().flatten() {
                let ride: RideRecord = crate::repo::from_item(&item)?;
                if ride.author_id == driver && !ride.departed(now) && ride.state != RideState::Cancelled {
                    out.push(ride);
                }
            }
        }
        Ok(out)
    }

    /// Shows (`visible`) or hides the driver's open offers in the feed.
    pub async fn set_offers_visible(&self, driver: Ulid, visible: bool) -> AppResult<()> {
        let offers: Vec<RideRecord> = self
            .upcoming_rides_of(driver)
            .await?
            .into_iter()
            .filter(|r| r.kind == Kind::Offer && r.hidden == visible)
            .collect();
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
        Err(super::contended())
    }

    /// Cancels every ride the driver posted that has not departed, telling the riders: their
    /// driver was suspended or their license expired. Returns how many were cancelled; fails
    /// (after trying them all) if any could not be, so the caller can run it again.
    pub async fn cancel_rides_of(&self, driver: Ulid) -> AppResult<usize> {
        let upcoming = self.upcoming_rides_of(driver).await?;
        let Some(first) = upcoming.first() else { return Ok(0) };
        let campus = self.auth.campuses().by_id(&first.campus_id).await?;
        let calendar = match campus {
            Some(campus) => crate::auth::campus_calendar(&campus)?,
            None => {
                return Err(crate::error::AppError::Internal(format!(
                    "ride of unknown campus {}",
                    first.campus_id
                )))
            }
        };
        let (mut cancelled, mut failure) = (0, None);
        for ride in upcoming {
            let id = ride.id;
            match self.cancel_ride(ride, CancelCause::DriverCannotDrive, &calendar, self.now()).await {
                Ok(done) => cancelled += usize::from(done),
                Err(e) => {
                    warn!(ride_id = %id, error = %e, "could not cancel a ride of a driver who may not drive");
                    failure = Some(e);
                }
            }
        }
        info!(user_id = %driver, cancelled, "rides of a driver who may not drive cancelled");
        failure.map_or(Ok(cancelled), Err)
    }
}
