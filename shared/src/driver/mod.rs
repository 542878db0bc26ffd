//! The driver use cases of API.md "Driver": the driver's own state, license entry, photo upload
//! and scan, applying to drive, availability; campus admins' reviews, suspensions and audit
//! (`admin`); the expiry sweep (`sweep`).
//!
//! Every change of a driver profile goes through `change_driver`: read, apply a rule, write on
//! condition that the profile still carries the stamp it was read with, retry on a conflict.
//! So concurrent requests (two admins, a sweep and the user) never lose one another's change,
//! and each change is written with its audit records and mail in one transaction.

pub mod admin;
mod scan;
pub mod sweep;
pub mod views;

use crate::auth::{AuthService, Caller, Client, LicenseInput};
use crate::clock::Clock;
use crate::documents::{LicenseOcr, UploadStore};
use crate::domain::driver::{effectively_available, is_expired, Capability};
use crate::domain::license::{License, LicenseError};
use crate::error::{AppError, AppResult};
use crate::mail::jobs::{Job, MailQueue};
use crate::mail::Message;
use crate::rate_limit::{RateLimiter, RateLimits, Rule};
use crate::repo::audit::{self, DriverAction, DriverChange};
use crate::repo::drivers::{self, DriverRecord, LicenseRecord, ReviewRecord, ReviewStatus};
use crate::rides::RideService;
use crate::seal::KeyRing;
use crate::store::{Store, StoreError, Write};
use std::sync::Arc;
use time::{Date, OffsetDateTime};
use tracing::info;
use ulid::Ulid;
use views::DriverState;

/// The ports license photos need (see `crate::documents`).
#[derive(Clone)]
pub struct Documents {
    pub uploads: Arc<dyn UploadStore>,
    pub ocr: Arc<dyn LicenseOcr>,
}

pub struct DriverService {
    store: Arc<dyn Store>,
    auth: Arc<AuthService>,
    /// What a driver's standing does to their rides.
    rides: Arc<RideService>,
    mail: MailQueue,
    clock: Arc<dyn Clock>,
    limiter: RateLimiter,
    documents: Documents,
    /// Digests license numbers and seals cursors. Every function that serves these use cases
    /// refuses to start without it (`Function::needs_key_ring`); the authorizer, which builds the
    /// same state, has none and never calls them.
    keys: Option<KeyRing>,
    app_url: String,
}

/// What a rule decided about a driver profile.
enum Outcome {
    /// Nothing to write; the profile as it is.
    Unchanged(DriverRecord),
    Changed(Change),
}

/// A new driver profile with everything written along with it.
struct Change {
    driver: DriverRecord,
    audits: Vec<DriverChange>,
    writes: Vec<Write>,
    mail: Vec<Message>,
}

impl Change {
    fn new(driver: DriverRecord) -> Self {
        Change { driver, audits: Vec::new(), writes: Vec::new(), mail: Vec::new() }
    }
}

/// Who made a change, for the audit record.
#[derive(Clone, Debug)]
struct Actor {
    id: String,
    ip: Option<String>,
}

impl Actor {
    fn user(id: Ulid, client: &Client) -> Self {
        Actor { id: id.to_string(), ip: Some(client.ip.clone()) }
    }

    fn system() -> Self {
        Actor { id: audit::SYSTEM.to_owned(), ip: None }
    }
}

/// How often a conflicting write is retried before the request fails.
const MAX_ATTEMPTS: usize = 5;

impl DriverService {
    pub fn new(
        store: Arc<dyn Store>,
        auth: Arc<AuthService>,
        rides: Arc<RideService>,
        mail: MailQueue,
        clock: Arc<dyn Clock>,
        documents: Documents,
        limits: RateLimits,
    ) -> Result<Self, String> {
        let config = auth.config();
        let keys = config.key_ring.clone();
        Ok(DriverService {
            limiter: RateLimiter::new(store.clone(), clock.clone(), limits),
            app_url: config.app_url.clone(),
            store,
            auth,
            rides,
            mail,
            clock,
            documents,
            keys,
        })
    }

    fn keys(&self) -> AppResult<&KeyRing> {
        self.keys.as_ref().ok_or_else(|| AppError::Internal("KEY_RING is not configured".into()))
    }

    fn now(&self) -> OffsetDateTime {
        let now = self.clock.now();
        now.replace_nanosecond(0).unwrap_or(now)
    }

    async fn caller(&self, cookie: &str) -> AppResult<Caller> {
        self.auth.caller(cookie).await
    }

    /// `GET /api/auth/driver`.
    pub async fn state(&self, cookie: &str) -> AppResult<DriverState> {
        let caller = self.caller(cookie).await?;
        Ok(DriverState::new(&caller.driver, caller.today()))
    }

    /// `PUT /api/auth/driver/license`: replaces the license. A new expiry date starts its alerts
    /// afresh; any new license goes back to `manual` until scanned. Availability never turns on
    /// here (a renewed license leaves it off until a toggle).
    pub async fn put_license(
        &self,
        cookie: &str,
        input: LicenseInput,
        client: &Client,
    ) -> AppResult<DriverState> {
        let caller = self.caller(cookie).await?;
        let today = caller.today();
        let license =
            License::parse(&input.legal_name, &input.number, &input.region, input.expires_on, today)
                .map_err(|e| match e {
                    LicenseError::Expired => AppError::ExpiredLicenseEntered,
                    other => AppError::InvalidLicense(other.to_string()),
                })?;
        let mut entered = LicenseRecord::new(&license, self.keys()?);
        let campus = caller.campus.id.clone();
        let driver = self
            .change_driver(caller.user.id, Some(caller.driver.clone()), |mut driver| {
                let was_available = self.is_available(&driver, today);
                if let Some(old) = &driver.license {
                    if old.expires_on == entered.expires_on {
                        entered.alerts_sent = old.alerts_sent.clone();
                    }
                }
                driver.license = Some(entered.clone());
                driver.available = was_available;
                // The sweep dates the license by this campus (profiles from before it was kept).
                driver.campus_id.clone_from(&campus);
                driver.reindex(&caller.calendar);
                Ok(Outcome::Changed(Change::new(driver)))
            })
            .await?;
        info!(user_id = %caller.user.id, ip = %client.ip, "license entered");
        Ok(DriverState::new(&driver, today))
    }

    /// `POST /api/auth/driver/enable`. Returns the state and whether it awaits an admin's review
    /// (202) rather than being approved already (200).
    pub async fn enable(&self, cookie: &str, client: &Client) -> AppResult<(DriverState, bool)> {
        let caller = self.caller(cookie).await?;
        self.limiter.hit(Rule::DriverEnable, &caller.user.id.to_string()).await?;
        let (today, now) = (caller.today(), caller.now);
        let actor = Actor::user(caller.user.id, client);
        let campus = caller.campus.id.clone();
        let driver = self
            .change_driver(caller.user.id, Some(caller.driver.clone()), |mut driver| {
                if driver.capability == Capability::Suspended {
                    return Err(AppError::DriverSuspended);
                }
                let license = driver.license.as_ref().ok_or(AppError::LicenseRequired)?;
                if is_expired(license.expires_on, today) {
                    return Err(AppError::LicenseExpired);
                }
                if matches!(driver.capability, Capability::Approved | Capability::PendingReview) {
                    return Ok(Outcome::Unchanged(driver));
                }
                let before = driver.capability;
                driver.capability = Capability::PendingReview;
                driver.campus_id.clone_from(&campus);
                driver.review = Some(ReviewRecord {
                    status: ReviewStatus::Pending,
                    submitted_at: now,
                    decided_at: None,
                    reason: None,
                    decided_by: None,
                });
                let mut change = Change::new(driver);
                change.writes.push(drivers::enqueue_review(&campus, now, caller.user.id));
                change.audits.push(self.capability_change(&actor, before, Capability::PendingReview, None));
                Ok(Outcome::Changed(change))
            })
            .await?;
        let pending = driver.capability == Capability::PendingReview;
        Ok((DriverState::new(&driver, today), pending))
    }

    /// `POST /api/auth/driver/toggle`: on only for an approved driver with a live license; off
    /// always.
    pub async fn toggle(&self, cookie: &str, available: bool, client: &Client) -> AppResult<DriverState> {
        let caller = self.caller(cookie).await?;
        self.limiter.hit(Rule::DriverToggle, &caller.user.id.to_string()).await?;
        let today = caller.today();
        let actor = Actor::user(caller.user.id, client);
        let driver = self
            .change_driver(caller.user.id, Some(caller.driver.clone()), |mut driver| {
                if available {
                    if driver.capability != Capability::Approved {
                        return Err(AppError::DriverNotApproved);
                    }
                    let license = driver.license.as_ref().ok_or(AppError::LicenseRequired)?;
                    if is_expired(license.expires_on, today) {
                        return Err(AppError::LicenseExpired);
                    }
                }
                let before = self.is_available(&driver, today);
                if driver.available == available && before == available {
                    return Ok(Outcome::Unchanged(driver));
                }
                driver.available = available;
                let mut change = Change::new(driver);
                if before != available {
                    change.audits.push(self.availability_change(&actor, before, available, None));
                }
                Ok(Outcome::Changed(change))
            })
            .await?;
        // Also when nothing changed: a toggle repeated after a failure finishes the re-indexing.
        self.rides.refresh_offers(caller.user.id).await?;
        Ok(DriverState::new(&driver, today))
    }

    fn is_available(&self, driver: &DriverRecord, today: Date) -> bool {
        effectively_available(
            driver.available,
            driver.capability,
            driver.license.as_ref().map(|l| l.expires_on),
            today,
        )
    }

    fn capability_change(
        &self,
        actor: &Actor,
        before: Capability,
        after: Capability,
        reason: Option<String>,
    ) -> DriverChange {
        self.driver_change(
            actor,
            DriverAction::CapabilityChanged,
            before.as_str().into(),
            after.as_str().into(),
            reason,
        )
    }

    fn availability_change(
        &self,
        actor: &Actor,
        before: bool,
        after: bool,
        reason: Option<String>,
    ) -> DriverChange {
        self.driver_change(actor, DriverAction::AvailabilityChanged, before.into(), after.into(), reason)
    }

    fn driver_change(
        &self,
        actor: &Actor,
        action: DriverAction,
        before: serde_json::Value,
        after: serde_json::Value,
        reason: Option<String>,
    ) -> DriverChange {
        DriverChange {
            id: Ulid::new(),
            action,
            actor: actor.id.clone(),
            before,
            after,
            reason,
            at: self.now(),
            ip: actor.ip.clone(),
        }
    }

    /// Applies `rule` to the user's driver profile and writes the outcome on condition that the
    /// profile did not change meanwhile, re-reading and re-applying on a conflict. `known` is the
    /// profile as just read (saves a read on the first attempt).
    async fn change_driver<F>(
        &self,
        user: Ulid,
        known: Option<DriverRecord>,
        mut rule: F,
    ) -> AppResult<DriverRecord>
    where
        F: FnMut(DriverRecord) -> AppResult<Outcome>,
    {
        let mut known = known;
        for _ in 0..MAX_ATTEMPTS {
            let current = match known.take() {
                Some(driver) => driver,
                None => drivers::get(self.store.as_ref(), user).await?.ok_or(AppError::NotFound)?,
            };
            let mut change = match rule(current)? {
                Outcome::Unchanged(driver) => return Ok(driver),
                Outcome::Changed(change) => change,
            };
            let read_stamp = change.driver.restamp();
            let mut writes = vec![drivers::replace(user, &change.driver, read_stamp)];
            // Ids in the order the records were made, even within one millisecond: the history
            // reads newest first.
            let mut ids = ulid::Generator::new();
            for record in &mut change.audits {
                record.id = ids.generate().unwrap_or_else(|_| Ulid::new());
                info!(
                    user_id = %user,
                    actor = %record.actor,
                    action = ?record.action,
                    before = %record.before,
                    after = %record.after,
                    "driver changed"
                );
                writes.push(audit::put_driver_change(user, record));
            }
            writes.append(&mut change.writes);
            let has_mail = !change.mail.is_empty();
            for message in change.mail.drain(..) {
                writes.push(self.mail.write(&Job::Message(message))?);
            }
            match self.store.write(writes).await {
                Ok(()) => {
                    if has_mail {
                        self.mail.wake();
                    }
                    return Ok(change.driver);
                }
                Err(StoreError::ConditionFailed { index: 0 }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Internal(format!("driver {user}: too many concurrent changes")))
    }
}
