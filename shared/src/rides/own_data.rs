//! What a person's own data means for rides (API.md "Your data"): the rides and join requests
//! their export lists, and what deleting their account does. Their rides that have not departed
//! are cancelled and the riders told; their live requests are left, so the seats come back and
//! the authors are told; then every ride and request of theirs that others still see (riders'
//! history, a ride's requests) shows them as `DELETED_USER`, and their links go.
//!
//! Each ride is settled on its own (a person may have more rides than one transaction holds) and
//! its link is deleted last, so a run that stops half-way is picked up where it stopped.

use super::views::{RequestView, RideView};
use super::{RideService, MAX_ATTEMPTS};
use crate::domain::account::DELETED_USER;
use crate::domain::ride::RideState;
use crate::error::{AppError, AppResult};
use crate::mail::ride_templates::CancelCause;
use crate::repo::rides::{self, RideLink, RideRecord};
use crate::store::{Cond, Write};
use tracing::info;
use ulid::Ulid;

/// A person's rides as their export lists them.
pub struct RideHistory {
    /// The rides they posted, as their author sees them.
    pub posted: Vec<RideView>,
    /// Every join request (or answer to a request ride) they made.
    pub requests: Vec<RequestView>,
}

impl RideService {
    async fn all_links(&self, user: Ulid) -> AppResult<Vec<RideLink>> {
        Ok(rides::links(self.store.as_ref(), user, None, usize::MAX).await?)
    }

    /// Every ride `user` posted and every request they made, newest ride first.
    pub async fn history_of(&self, user: Ulid) -> AppResult<RideHistory> {
        let now = self.now();
        let mut history = RideHistory { posted: Vec::new(), requests: Vec::new() };
        for link in self.all_links(user).await? {
            let Some(ride) = rides::get_ride(self.store.as_ref(), link.ride_id).await? else { continue };
            match link.request_id {
                None => history.posted.push(RideView::new(&ride, user, now)),
                // A rider may have asked, left and asked again: every request of theirs.
                Some(_) => history.requests.extend(
                    rides::requests_of(self.store.as_ref(), ride.id)
                        .await?
                        .iter()
                        .filter(|r| r.rider_id == user)
                        .map(|r| RequestView::new(r, &ride)),
                ),
            }
        }
        Ok(history)
    }

    /// Settles the rides of a deleted account (see the module's notes); returns how many rides it
    /// went through. An error leaves the rides not yet settled for the next run.
    pub async fn account_closed(&self, user: Ulid) -> AppResult<usize> {
        let links = self.all_links(user).await?;
        for link in &links {
            if let Some(ride) = rides::get_ride(self.store.as_ref(), link.ride_id).await? {
                match link.request_id {
                    None => self.close_posted(ride).await?,
                    Some(_) => self.close_joined(ride, user).await?,
                }
            }
            self.store
                .write(vec![Write::Delete { key: rides::link_key(user, link.ride_id), cond: Cond::Always }])
                .await?;
        }
        info!(user_id = %user, rides = links.len(), "rides of a deleted account settled");
        Ok(links.len())
    }

    /// A ride the deleted account posted: cancelled unless it departed or was cancelled before
    /// (an earlier run's cancellation that stopped half-way is finished), then shown as posted
    /// by `DELETED_USER`.
    async fn close_posted(&self, ride: RideRecord) -> AppResult<()> {
        let calendar = self.calendar_of(&ride.campus_id).await?;
        if !self.cancel_ride(ride.clone(), CancelCause::AuthorLeft, &calendar, self.now()).await?
            && ride.state == RideState::Cancelled
        {
            self.settle_remaining(&ride, CancelCause::AuthorLeft, &calendar).await?;
        }
        for attempt in 0..MAX_ATTEMPTS {
            let mut now = self.ride_for_attempt(attempt + 1, &ride).await?;
            if now.author_name == DELETED_USER {
                return Ok(());
            }
            now.author_name = DELETED_USER.to_owned();
            now.version += 1;
            if self.commit(vec![rides::replace_ride(&now)], Vec::new()).await? {
                return Ok(());
            }
        }
        Err(AppError::Contended)
    }

    /// A ride the deleted account asked to join (or answered, as a driver): their live request
    /// is left, then each of their requests on it is shown as made by `DELETED_USER`.
    async fn close_joined(&self, ride: RideRecord, user: Ulid) -> AppResult<()> {
        let calendar = self.calendar_of(&ride.campus_id).await?;
        let requests = rides::requests_of(self.store.as_ref(), ride.id).await?;
        let name = requests.iter().rev().find(|r| r.rider_id == user).map(|r| r.rider_name.clone());
        if ride.state != RideState::Cancelled {
            match self
                .leave_ride(
                    ride.clone(),
                    user,
                    name.as_deref().unwrap_or(DELETED_USER),
                    &calendar,
                    self.now(),
                )
                .await
            {
                // Nothing live (declined, left, cancelled), or the ride departed.
                Ok(()) | Err(AppError::NotFound | AppError::RideClosed) => {}
                Err(e) => return Err(e),
            }
        }
        for _ in 0..MAX_ATTEMPTS {
            let requests = rides::requests_of(self.store.as_ref(), ride.id).await?;
            let named: Vec<Write> = requests
                .iter()
                .filter(|r| r.rider_id == user && r.rider_name != DELETED_USER)
                .map(|r| {
                    let anonymous = rides::RequestRecord { rider_name: DELETED_USER.to_owned(), ..r.clone() };
                    rides::move_request(&anonymous, r.status)
                })
                .collect();
            if named.is_empty() {
                return Ok(());
            }
            // Each write stands alone (a status read stays the status), so chunks may land apart.
            for chunk in named.chunks(25) {
                self.commit(chunk.to_vec(), Vec::new()).await?;
            }
        }
        Err(AppError::Contended)
    }
}
