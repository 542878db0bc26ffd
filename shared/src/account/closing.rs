//! Closing an account: `POST /api/auth/account/delete`, once the owner proved themselves again,
//! and `carpool-admin user delete`, for a request that came by mail. One transaction ends the
//! account (see the module's notes); erasure follows at once.

use super::erasure::LEASE;
use super::AccountService;
use crate::auth::Client;
use crate::domain::email::Email;
use crate::error::{AppError, AppResult};
use crate::mail::account_templates::{account_deleted, ClosedBy};
use crate::mail::jobs::Job;
use crate::rate_limit::{counters_of, Counted};
use crate::repo::accounts::{self, email_key, stamp_value, user_key, UserRecord, PASSWORD_STAMP};
use crate::repo::audit::{self, AuditAction, DELETED_EMAIL};
use crate::repo::drivers::{self, driver_key, DriverRecord, ReviewStatus};
use crate::repo::erasures::{self, ErasureRecord};
use crate::repo::lockout;
use crate::store::{Cond, StoreError, Write};
use std::time::Duration;
use tracing::{info, warn};
use ulid::Ulid;

/// How long a deletion's answer waits for the erasure (HTTP API integrations end at 30 s).
const INLINE_ERASURE: Duration = Duration::from_secs(20);

/// Closings tried while the driver profile keeps changing under them.
const MAX_ATTEMPTS: usize = 5;

impl AccountService {
    /// `POST /api/auth/account/delete {password, totpCode?}`.
    pub async fn delete(
        &self,
        cookie: &str,
        password: &str,
        code: Option<&str>,
        client: &Client,
    ) -> AppResult<()> {
        let owner = self
            .auth
            .prove_owner(cookie, password, code, client, AuditAction::AccountDeletionRefused)
            .await?;
        match self.close(&owner.user, owner.driver, owner.second_factor, ClosedBy::Owner, client).await {
            Err(Closing::CodeUsed) => {
                // A concurrent deletion with the same code closed the account: nothing to refuse.
                if accounts::user_with_driver(self.store.as_ref(), owner.user.id).await?.is_none() {
                    return Err(AppError::Unauthenticated);
                }
                Err(self.auth.code_used_meanwhile(&owner.user, client).await)
            }
            Err(Closing::Failed(e)) => Err(e),
            Ok(()) => Ok(()),
        }
    }

    /// `carpool-admin user delete <email>`: the same deletion, without the owner's proof (an
    /// operator checked the request). `None` when no account has the address.
    pub async fn delete_by_operator(&self, email: &Email) -> AppResult<Option<Ulid>> {
        let store = self.store.as_ref();
        let Some(id) = accounts::user_id_for_email(store, email).await? else { return Ok(None) };
        let Some((user, driver)) = accounts::user_with_driver(store, id).await? else { return Ok(None) };
        match self.close(&user, driver, None, ClosedBy::Operator, &Client::operator()).await {
            Ok(()) => Ok(Some(id)),
            Err(Closing::Failed(e)) => Err(e),
            Err(Closing::CodeUsed) => Err(AppError::Internal("no code was given".into())),
        }
    }

    /// Ends the account in one transaction, led by the write that uses the owner's second factor
    /// up (when there is one), then erases the rest. A second close of the same account, or a
    /// password change in between, finds its profile changed and answers `Unauthenticated`; a
    /// driver profile changed in between is read again.
    async fn close(
        &self,
        user: &UserRecord,
        mut driver: DriverRecord,
        second_factor: Option<Write>,
        by: ClosedBy,
        client: &Client,
    ) -> Result<(), Closing> {
        let keys = self.keys()?;
        let email = Email::parse(&user.email).map_err(|e| {
            AppError::Internal(format!("user {} has a stored email that does not parse: {e}", user.id))
        })?;
        let digest = keys.sign(DELETED_EMAIL, email.as_str().as_bytes());
        let now = self.now();
        let job = ErasureRecord {
            user_id: user.id,
            campus_id: user.campus_id.clone(),
            sealed_email: keys.seal(email.as_str().as_bytes(), &user.id.to_string()),
            email_digest: digest.clone(),
            by: by.as_str().to_owned(),
            closed_at: now,
            attempts: 0,
            // The redrive leaves it to this request's own run for a while.
            due_at: (now + LEASE).unix_timestamp(),
            ran_once: false,
        };
        let counters =
            counters_of(self.store.as_ref(), Counted::Email, email.as_str()).await.map_err(AppError::from)?;
        let code_at = second_factor.is_some().then_some(0);
        for _ in 0..MAX_ATTEMPTS {
            let mut writes: Vec<Write> = second_factor.iter().cloned().collect();
            writes.push(Write::Delete {
                key: user_key(user.id),
                cond: Cond::equals(PASSWORD_STAMP, stamp_value(user.password_stamp)),
            });
            writes.push(erasures::put(&job));
            writes.push(Write::Delete { key: email_key(email.as_str()), cond: Cond::Always });
            // On the stamp read, so an application queued meanwhile is seen and dequeued too.
            let driver_at = writes.len();
            writes.push(Write::Delete {
                key: driver_key(user.id),
                cond: Cond::equals(drivers::STAMP, stamp_value(driver.stamp)),
            });
            if let Some(review) = driver.review.as_ref().filter(|r| r.status == ReviewStatus::Pending) {
                writes.push(drivers::dequeue_review(&driver.campus_id, review.submitted_at, user.id));
            }
            // What is keyed by the address goes now, before anyone can register it again.
            writes.push(Write::Delete { key: lockout::email_lock_key(&email), cond: Cond::Always });
            writes.extend(counters.iter().map(|key| Write::Delete { key: key.clone(), cond: Cond::Always }));
            let app_url = &self.auth.config().app_url;
            writes.push(self.mail.write(&Job::Message(account_deleted(
                app_url,
                email.as_str(),
                &user.name,
                by,
            )))?);
            let detail = Some(format!("by {}", by.as_str()));
            let mut record = self.auth.audit_record(
                AuditAction::AccountDeleted,
                Some(user.id),
                email.as_str(),
                client,
                detail,
            );
            (record.email, record.email_digest) = (None, Some(digest.clone()));
            writes.push(audit::put(&record));
            match self.store.write(writes).await {
                Ok(()) => {
                    self.closed(job, by).await;
                    return Ok(());
                }
                Err(StoreError::ConditionFailed { index }) if Some(index) == code_at => {
                    return Err(Closing::CodeUsed)
                }
                Err(StoreError::ConditionFailed { index }) if index == driver_at => {
                    match accounts::user_with_driver(self.store.as_ref(), user.id)
                        .await
                        .map_err(AppError::from)?
                    {
                        Some((now, again)) if now.password_stamp == user.password_stamp => driver = again,
                        _ => return Err(AppError::Unauthenticated.into()),
                    }
                }
                // Closed meanwhile by a concurrent request, or the password changed since the proof.
                Err(StoreError::ConditionFailed { .. }) => return Err(AppError::Unauthenticated.into()),
                // A concurrent write kept winning: when it was another close, the account is gone.
                Err(StoreError::Contention) => {
                    let gone = accounts::user_with_driver(self.store.as_ref(), user.id)
                        .await
                        .map_err(AppError::from)?
                        .is_none();
                    return Err(if gone { AppError::Unauthenticated } else { AppError::Contended }.into());
                }
                Err(e) => return Err(AppError::from(e).into()),
            }
        }
        Err(AppError::Contended.into())
    }

    /// After the closing: the mail goes, and the rest is erased within `INLINE_ERASURE` (the
    /// answer waits for it; API Gateway would not wait much longer). What is left then, or on a
    /// failure, is the redrive's.
    async fn closed(&self, job: ErasureRecord, by: ClosedBy) {
        let user = job.user_id;
        self.mail.wake();
        crate::metrics::account_deleted();
        info!(user_id = %user, by = by.as_str(), "account closed");
        match tokio::time::timeout(INLINE_ERASURE, self.erase(job)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                warn!(user_id = %user, error = %e, "erasure not finished; the redrive takes it over")
            }
            Err(_) => warn!(user_id = %user, "erasure takes long; the redrive finishes it"),
        }
    }
}

/// Why closing failed.
enum Closing {
    /// The owner's code was used by another request between the proof and the transaction.
    CodeUsed,
    Failed(AppError),
}

impl From<AppError> for Closing {
    fn from(e: AppError) -> Self {
        Closing::Failed(e)
    }
}
