//! Campus admins: the review queue and its decisions, suspension and reinstatement, and the
//! drivers' audit history. An admin acts on their own campus only; anyone else's users answer
//! `404` like unknown ids, and no admin decides on (or suspends) their own driver profile.

use super::views::{DriverState, LicenseView, Page, ReviewEntry};
use super::{Actor, Change, DriverService, Outcome};
use crate::auth::Caller;
use crate::auth::Client;
use crate::cursor;
use crate::domain::driver::Capability;
use crate::error::{AppError, AppResult};
use crate::mail::driver_templates;
use crate::repo::accounts::{self, UserRecord};
use crate::repo::audit::{self, DriverChange};
use crate::repo::drivers::{self, DriverRecord, ReviewStatus};
use crate::store::Cursor;
use std::time::Duration;
use ulid::Ulid;

/// How long the image link in a review works.
const IMAGE_LINK_LIFE: Duration = Duration::from_secs(300);

/// Reasons are shown to the driver and kept in the audit history.
const MAX_REASON_CHARS: usize = 500;

/// An admin's decision on an application.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
}

impl DriverService {
    /// The caller, who must be an admin.
    async fn admin(&self, cookie: &str) -> AppResult<Caller> {
        let caller = self.caller(cookie).await?;
        if !caller.user.admin {
            return Err(AppError::AdminRequired);
        }
        Ok(caller)
    }

    /// A user of the admin's campus (`NotFound` for anyone else, or an id that is not one).
    async fn campus_user(&self, admin: &Caller, user_id: &str) -> AppResult<(UserRecord, DriverRecord)> {
        let id: Ulid = user_id.parse().map_err(|_| AppError::NotFound)?;
        let (user, driver) =
            accounts::user_with_driver(self.store.as_ref(), id).await?.ok_or(AppError::NotFound)?;
        if user.campus_id != admin.user.campus_id {
            return Err(AppError::NotFound);
        }
        Ok((user, driver))
    }

    /// A user the admin may act on: of their campus, and not themselves.
    async fn subject(&self, admin: &Caller, user_id: &str) -> AppResult<(UserRecord, DriverRecord)> {
        let (user, driver) = self.campus_user(admin, user_id).await?;
        if user.id == admin.user.id {
            return Err(AppError::AdminRequired);
        }
        Ok((user, driver))
    }

    /// `GET /api/admin/driver-reviews`: pending applications of the admin's campus, oldest first.
    pub async fn reviews(
        &self,
        cookie: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> AppResult<Page<ReviewEntry>> {
        let admin = self.admin(cookie).await?;
        let scope = format!("reviews {} {}", admin.user.id, admin.campus.id);
        let after = self.open_cursor(&scope, cursor)?;
        let (ids, next) = drivers::review_queue(self.store.as_ref(), &admin.campus.id, limit, after).await?;
        let keys: Vec<_> =
            ids.iter().flat_map(|id| [accounts::user_key(*id), drivers::driver_key(*id)]).collect();
        let items = if keys.is_empty() { Vec::new() } else { self.store.get_many(&keys).await? };
        let today = admin.today();
        let mut reviews = Vec::with_capacity(ids.len());
        for pair in items.chunks(2) {
            let Some((user, driver)) = accounts::decode_user_with_driver(&pair[0], &pair[1])? else {
                continue;
            };
            // A queue entry outlives its application only between a decision's two writes' views.
            let Some(review) = driver.review.as_ref().filter(|r| r.status == ReviewStatus::Pending) else {
                continue;
            };
            let image_url = match &driver.last_scan {
                Some(scan) => {
                    Some(self.documents.uploads.presign_get(&scan.object_key, IMAGE_LINK_LIFE).await?)
                }
                None => None,
            };
            reviews.push(ReviewEntry {
                user_id: user.id.to_string(),
                name: user.name.clone(),
                email: user.email.clone(),
                license: driver.license.as_ref().map(|l| LicenseView::new(l, today)),
                verification: driver.license.as_ref().map(|l| l.verification),
                extracted: driver.last_scan.as_ref().map(|s| s.extracted.clone()),
                image_url,
                submitted_at: review.submitted_at,
            });
        }
        Ok(Page { items: reviews, next_cursor: self.seal_cursor(&scope, next)? })
    }

    /// `POST /api/admin/driver-reviews/{userId}`: approves or rejects a pending application and
    /// mails the applicant.
    pub async fn decide(
        &self,
        cookie: &str,
        user_id: &str,
        decision: Decision,
        reason: Option<&str>,
        client: &Client,
    ) -> AppResult<DriverState> {
        let admin = self.admin(cookie).await?;
        let (user, known) = self.subject(&admin, user_id).await?;
        let reason = match (decision, reason.map(str::trim).filter(|r| !r.is_empty())) {
            (Decision::Reject, None) => {
                return Err(AppError::Incomplete("a rejection needs a reason".into()))
            }
            (_, reason) => reason.map(check_reason).transpose()?,
        };
        let actor = Actor::user(admin.user.id, client);
        let now = admin.now;
        let driver = self
            .change_driver(user.id, Some(known), |mut driver| {
                let review = driver
                    .review
                    .clone()
                    .filter(|r| {
                        r.status == ReviewStatus::Pending && driver.capability == Capability::PendingReview
                    })
                    .ok_or(AppError::NotFound)?;
                let (capability, status) = match decision {
                    Decision::Approve => (Capability::Approved, ReviewStatus::Approved),
                    Decision::Reject => (Capability::Rejected, ReviewStatus::Rejected),
                };
                driver.capability = capability;
                driver.review = Some(crate::repo::drivers::ReviewRecord {
                    status,
                    decided_at: Some(now),
                    reason: reason.clone(),
                    decided_by: Some(admin.user.id),
                    ..review.clone()
                });
                let mut change = Change::new(driver);
                change.writes.push(drivers::dequeue_review(&admin.campus.id, review.submitted_at, user.id));
                change.audits.push(self.capability_change(
                    &actor,
                    Capability::PendingReview,
                    capability,
                    reason.clone(),
                ));
                change.mail.push(driver_templates::review_decided(
                    &self.app_url,
                    &user.email,
                    &user.name,
                    decision == Decision::Approve,
                    reason.as_deref(),
                ));
                Ok(Outcome::Changed(change))
            })
            .await?;
        crate::metrics::driver_review(decision == Decision::Approve);
        Ok(DriverState::new(&driver, admin.today()))
    }

    /// `POST /api/admin/drivers/{userId}/suspend` (`suspend`: no driving, availability off, a
    /// pending application leaves the queue; again: no change) and `/reinstate` (back to what
    /// the suspension interrupted: approved, or rejected, or `none` for an application it cut
    /// short; availability still off; `409` unless suspended). The driver is mailed.
    pub async fn set_suspended(
        &self,
        cookie: &str,
        user_id: &str,
        suspend: bool,
        reason: &str,
        client: &Client,
    ) -> AppResult<DriverState> {
        let admin = self.admin(cookie).await?;
        let (user, known) = self.subject(&admin, user_id).await?;
        let reason = check_reason(reason.trim())?;
        let actor = Actor::user(admin.user.id, client);
        let today = admin.today();
        let driver = self
            .change_driver(user.id, Some(known), |mut driver| {
                let (before, was_available) = (driver.capability, self.is_available(&driver, today));
                match (suspend, before) {
                    (true, Capability::Suspended) => return Ok(Outcome::Unchanged(driver)),
                    (false, other) if other != Capability::Suspended => {
                        return Err(AppError::DriverNotSuspended)
                    }
                    _ => {}
                }
                let after = if suspend {
                    driver.suspended_from = Some(before);
                    Capability::Suspended
                } else {
                    match driver.suspended_from.take() {
                        Some(Capability::Approved) => Capability::Approved,
                        Some(Capability::Rejected) => Capability::Rejected,
                        _ => Capability::None,
                    }
                };
                let mut writes = Vec::new();
                if let Some(review) = driver.review.as_mut().filter(|r| r.status == ReviewStatus::Pending) {
                    writes.push(drivers::dequeue_review(&admin.campus.id, review.submitted_at, user.id));
                    review.status = ReviewStatus::Rejected;
                    review.decided_at = Some(admin.now);
                    review.reason = Some(reason.clone());
                    review.decided_by = Some(admin.user.id);
                }
                driver.capability = after;
                driver.available = false;
                let mut change = Change::new(driver);
                change.writes = writes;
                let why = Some(reason.clone());
                change.audits.push(self.capability_change(&actor, before, after, why.clone()));
                if was_available {
                    change.audits.push(self.availability_change(&actor, true, false, why));
                }
                change.mail.push(driver_templates::suspension_changed(
                    &self.app_url,
                    &user.email,
                    &user.name,
                    suspend,
                    &reason,
                ));
                Ok(Outcome::Changed(change))
            })
            .await?;
        if suspend {
            // Also when already suspended: suspending again finishes what a failure left.
            self.rides.driver_stopped(user.id).await?;
        }
        Ok(DriverState::new(&driver, today))
    }

    /// `GET /api/admin/audit?userId=`: a driver's capability and availability changes, newest
    /// first.
    pub async fn audit(
        &self,
        cookie: &str,
        user_id: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> AppResult<Page<DriverChange>> {
        let admin = self.admin(cookie).await?;
        let (user, _) = self.campus_user(&admin, user_id).await?;
        let scope = format!("audit {} {}", admin.user.id, user.id);
        let after = self.open_cursor(&scope, cursor)?;
        let (changes, next) = audit::driver_changes(self.store.as_ref(), user.id, limit, after).await?;
        Ok(Page { items: changes, next_cursor: self.seal_cursor(&scope, next)? })
    }

    /// Store cursors travel sealed and bound to their list and reader (`crate::cursor`).
    fn seal_cursor(&self, scope: &str, next: Option<Cursor>) -> AppResult<Option<String>> {
        next.map(|c| cursor::seal(self.keys()?, scope, &c.0)).transpose()
    }

    fn open_cursor(&self, scope: &str, sealed: Option<&str>) -> AppResult<Option<Cursor>> {
        sealed.map(|s| cursor::open(self.keys()?, scope, s).map(Cursor)).transpose()
    }
}

fn check_reason(reason: &str) -> AppResult<String> {
    if reason.is_empty() {
        return Err(AppError::Incomplete("a reason is required".into()));
    }
    if reason.chars().count() > MAX_REASON_CHARS || reason.chars().any(|c| c.is_control() && c != '\n') {
        return Err(AppError::Incomplete(format!(
            "reason must be at most {MAX_REASON_CHARS} characters of text"
        )));
    }
    Ok(reason.to_owned())
}
