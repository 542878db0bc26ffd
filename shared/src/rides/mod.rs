//! The carpool use cases of API.md "Carpool": posting, editing and cancelling rides
//! (`posting`), join requests and seats (`requests`), the campus feed, a ride's page and the
//! caller's rides (`feed`), blocks and reports (`safety`), and what a driver's standing does to
//! their rides (`drivers`).
//!
//! Every change of a ride is read, decided by a rule of `domain::ride`, and written in one
//! transaction with its requests, links, conversation and mail, on condition of the ride's
//! `version` (and of each request's status): a conflicting write re-reads and decides again. So
//! seats are never overbooked and a rider never holds two live requests, on either store.

mod drivers;
mod feed;
mod own_data;
mod posting;
mod requests;
pub mod safety;
pub mod views;

pub use feed::FeedQuery;
pub use own_data::RideHistory;
pub use posting::{NewRide, PlaceInput, RideEdit};

use crate::auth::{AuthService, Caller};
use crate::chat::Delivery;
use crate::domain::calendar::Calendar;
use crate::domain::driver::{effectively_available, is_expired, Capability};
use crate::error::{AppError, AppResult};
use crate::mail::jobs::{Job, MailQueue};
use crate::mail::ride_templates::{Recipient, RideSummary};
use crate::mail::Message;
use crate::rate_limit::{RateLimiter, RateLimits};
use crate::repo::accounts::{self, UserRecord};
use crate::repo::conversations;
use crate::repo::drivers::DriverRecord;
use crate::repo::messages::{self, Mention, MessageRecord};
use crate::repo::rides::{self, RideRecord};
use crate::repo::safety as safety_repo;
use crate::seal::KeyRing;
use crate::store::{Store, StoreError, Write};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use time::{Date, OffsetDateTime};
use ulid::Ulid;

/// How often a ride change is decided again after losing a race. Each loss means another change
/// of the same ride won, and a ride has at most 8 seats to win, so contenders settle well within
/// this.
const MAX_ATTEMPTS: u32 = 20;

pub struct RideService {
    store: Arc<dyn Store>,
    auth: Arc<AuthService>,
    mail: MailQueue,
    limiter: RateLimiter,
    /// Seals list cursors. The functions serving these routes refuse to start without it.
    keys: Option<KeyRing>,
    app_url: String,
    /// Ride events' system messages go to the members' open connections once committed.
    delivery: Arc<Delivery>,
}

impl RideService {
    pub fn new(
        store: Arc<dyn Store>,
        auth: Arc<AuthService>,
        mail: MailQueue,
        limits: RateLimits,
        delivery: Arc<Delivery>,
    ) -> Self {
        let config = auth.config();
        let (keys, app_url) = (config.key_ring.clone(), config.app_url.clone());
        let limiter = RateLimiter::new(store.clone(), auth.clock(), limits);
        RideService { store, auth, mail, limiter, keys, app_url, delivery }
    }

    fn keys(&self) -> AppResult<&KeyRing> {
        self.keys.as_ref().ok_or_else(|| AppError::Internal("KEY_RING is not configured".into()))
    }

    fn now(&self) -> OffsetDateTime {
        let now = self.auth.clock().now();
        now.replace_nanosecond(0).unwrap_or(now)
    }

    /// A ride the caller may see: on their campus, and (unless they are in it) not posted by
    /// someone either of them blocked. Anything else is `404`, like an id that does not exist.
    async fn visible_ride(&self, caller: &Caller, id: &str) -> AppResult<RideRecord> {
        let ride = self.campus_ride(caller, id).await?;
        if !ride.is_member(caller.user.id)
            && safety_repo::is_blocked(self.store.as_ref(), caller.user.id, ride.author_id).await?
        {
            return Err(AppError::NotFound);
        }
        Ok(ride)
    }

    /// A ride of the caller's campus (`404` for any other, or an id that is not one).
    async fn campus_ride(&self, caller: &Caller, id: &str) -> AppResult<RideRecord> {
        let id: Ulid = id.parse().map_err(|_| AppError::NotFound)?;
        let ride = rides::get_ride(self.store.as_ref(), id).await?.ok_or(AppError::NotFound)?;
        if ride.campus_id != caller.campus.id {
            return Err(AppError::NotFound);
        }
        Ok(ride)
    }

    /// The ride for attempt `n` of a change: as first read, then (after a lost race and a pause)
    /// read again. It cannot have left the campus meanwhile.
    async fn ride_for_attempt(&self, n: u32, first: &RideRecord) -> AppResult<RideRecord> {
        if n == 0 {
            return Ok(first.clone());
        }
        before_attempt(n).await;
        rides::get_ride(self.store.as_ref(), first.id).await?.ok_or(AppError::NotFound)
    }

    /// The mail `render` writes to each of `users` who may be mailed.
    async fn mail_to(
        &self,
        users: &[Ulid],
        render: impl Fn(&Recipient) -> Message,
    ) -> AppResult<Vec<Message>> {
        let found = self.users(users).await?;
        Ok(users.iter().filter_map(|id| found.get(id).and_then(recipient)).map(|to| render(&to)).collect())
    }

    /// Writes everything in one transaction with the mail that goes with it: `false` when it
    /// lost a race (a condition failed, or DynamoDB kept cancelling it for conflicts), so the
    /// caller reads again and decides again.
    async fn commit(&self, mut writes: Vec<Write>, mail: Vec<Message>) -> AppResult<bool> {
        let has_mail = !mail.is_empty();
        for message in mail {
            writes.push(self.mail.write(&Job::Message(message))?);
        }
        match self.store.write(writes).await {
            Ok(()) => {
                if has_mail {
                    self.mail.wake();
                }
                Ok(true)
            }
            Err(StoreError::ConditionFailed { .. } | StoreError::Contention) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// A committed ride event's system message, to the open connections of the ride's members.
    async fn tell(&self, ride: &RideRecord, message: &MessageRecord) {
        self.delivery.system_message(&ride.members(), message).await;
    }

    /// The users with these ids, by id.
    async fn users(&self, ids: &[Ulid]) -> AppResult<HashMap<Ulid, UserRecord>> {
        Ok(accounts::users_by_id(self.store.as_ref(), ids).await?)
    }

    fn summary<'a>(&self, ride: &'a RideRecord, calendar: &Calendar) -> RideSummary<'a> {
        RideSummary {
            id: ride.id.to_string(),
            kind: ride.kind,
            origin: &ride.origin.label,
            destination: &ride.destination.label,
            departs: calendar.local_time(ride.depart_at),
        }
    }
}

/// A system message in the ride's chat, with the conversation's members and state as the ride
/// now has them: the writes go in the same transaction as the ride change the message tells of,
/// and the message is delivered (`RideService::tell`) once that is committed.
fn ride_chat(
    ride: &RideRecord,
    text: String,
    mention: Option<Mention>,
    at: OffsetDateTime,
) -> (Vec<Write>, MessageRecord) {
    let message = MessageRecord::system(ride.conversation_id, text, mention, at);
    let members = ride.members();
    let mut writes = messages::put(&message);
    writes.push(conversations::change(
        ride.conversation_id,
        conversations::Change {
            members: Some(&members),
            closed: Some(ride.state == crate::domain::ride::RideState::Cancelled),
            last_message: Some(&message),
            if_last: None,
        },
    ));
    (writes, message)
}

/// Who gets a mail, when they may be mailed: verified addresses only.
fn recipient(user: &UserRecord) -> Option<Recipient<'_>> {
    user.email_verified.then_some(Recipient { email: &user.email, name: &user.name })
}

/// Before attempt `n` of a change (`n` > 0 follows a lost race): nothing for the first retries,
/// then a short, growing, jittered pause.
pub(crate) async fn before_attempt(n: u32) {
    if n >= 2 {
        let base = 2u64 << n.min(6);
        let mut jitter = [0u8; 1];
        let _ = getrandom::fill(&mut jitter);
        tokio::time::sleep(Duration::from_millis(base + u64::from(jitter[0]) % base)).await;
    }
}

/// Whether a driver may drive today: approved, with an unexpired license, available. The error
/// says which is missing (API.md's codes for posting an offer).
fn check_may_drive(driver: &DriverRecord, today: Date) -> AppResult<()> {
    if driver.capability != Capability::Approved {
        return Err(AppError::DriverNotApproved);
    }
    match &driver.license {
        None => return Err(AppError::LicenseRequired),
        Some(license) if is_expired(license.expires_on, today) => return Err(AppError::LicenseExpired),
        Some(_) => {}
    }
    if !driver.available {
        return Err(AppError::DriverUnavailable);
    }
    Ok(())
}

fn may_drive(driver: &DriverRecord, today: Date) -> bool {
    effectively_available(
        driver.available,
        driver.capability,
        driver.license.as_ref().map(|l| l.expires_on),
        today,
    )
}
