//! Mail off the request path (DESIGN §1). Use cases queue jobs, in the same store write as the
//! state they belong to where they can, and answer; `MailDispatcher` delivers them with retries.
//! A slow or failing provider never slows, fails or reveals anything through a request, and a
//! queued mail is never lost: the job stays in the table until it is sent (or, after
//! `MAX_ATTEMPTS`, waits in the dead-letter partition for an operator).
//!
//! In AWS the `mailer` function delivers a job as soon as the table's stream reports it, and a
//! schedule redrives whatever is due (a stream's retries expire with its 24-hour records, and its
//! failure destination only names the records). Locally a background task does both.

use super::{Mailer, Message};
use crate::clock::Clock;
use crate::error::{AppError, AppResult};
use crate::repo::mail_jobs::{self, JobRecord};
use crate::seal::KeyRing;
use crate::store::{Store, StoreError, Write};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::sync::Notify;
use tracing::{error, info, warn};
use ulid::Ulid;

/// Attempts before a job is given up on (the backoff makes that about a day).
pub const MAX_ATTEMPTS: u32 = 30;
/// Jobs one redrive pass claims at most, so a run fits well inside a Lambda timeout.
const REDRIVE_BATCH: usize = 50;
const REDRIVE_ROUNDS: usize = 10;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Job {
    /// A message rendered when it was queued.
    Message(Message),
    /// Mail about whatever account is behind an address, decided when the job is delivered, so
    /// the request that asked costs the same whether or not the address has an account.
    AccountRequest { request: AccountRequest, email: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountRequest {
    PasswordReset,
    VerificationResend,
}

/// What an account request comes to: the writes that go with its mail (a new token) and the
/// mail itself.
pub struct Resolved {
    pub writes: Vec<Write>,
    pub message: Message,
}

/// The auth use cases, as the dispatcher sees them.
#[async_trait]
pub trait AccountRequests: Send + Sync + 'static {
    /// `None` when there is nothing to send (no account, or not in a state that gets this mail).
    async fn resolve(&self, request: AccountRequest, email: &str) -> AppResult<Option<Resolved>>;
}

/// The queueing side, held by the use cases.
#[derive(Clone)]
pub struct MailQueue {
    keys: Option<KeyRing>,
    clock: Arc<dyn Clock>,
    wake: Arc<Notify>,
}

/// The associated data a job's payload is sealed under: it opens for that job only.
fn seal_context(id: Ulid) -> String {
    format!("mail job {id}")
}

impl MailQueue {
    /// Without a key ring nothing can be queued (the functions that mail refuse to start).
    pub fn new(keys: Option<KeyRing>, clock: Arc<dyn Clock>) -> Self {
        MailQueue { keys, clock, wake: Arc::new(Notify::new()) }
    }

    fn keys(&self) -> AppResult<&KeyRing> {
        self.keys.as_ref().ok_or_else(|| AppError::Internal("KEY_RING is not configured".into()))
    }

    fn seal(&self, id: Ulid, job: &Job) -> AppResult<String> {
        let json = serde_json::to_vec(job).map_err(|e| AppError::Internal(format!("mail job: {e}")))?;
        Ok(self.keys()?.seal(&json, &seal_context(id)))
    }

    /// The write that queues `job`, due at once. Commit it, then `wake` the dispatcher.
    pub fn write(&self, job: &Job) -> AppResult<Write> {
        let id = Ulid::new();
        let now = self.clock.now();
        let record = JobRecord {
            id,
            sealed: self.seal(id, job)?,
            attempts: 0,
            due_at: now.unix_timestamp(),
            created_at: now,
            dead: false,
        };
        Ok(mail_jobs::put(&record))
    }

    /// Tells a dispatcher in this process that a job is waiting (the local server's; in AWS
    /// nothing waits here, the table's stream triggers the mailer).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Resolves when `wake` is called (once per call, however many wakes came before).
    pub async fn woken(&self) {
        self.wake.notified().await;
    }

    fn open(&self, job: &JobRecord) -> AppResult<Job> {
        let json = self
            .keys()?
            .open(&job.sealed, &seal_context(job.id))
            .map_err(|e| AppError::Internal(format!("mail job {}: {e}", job.id)))?;
        serde_json::from_slice(&json).map_err(|e| AppError::Internal(format!("mail job {}: {e}", job.id)))
    }
}

/// What became of one job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    /// An account request that came to nothing to send; the job is done.
    NothingToSend,
    /// Not sent this time; due again after a backoff.
    WillRetry,
    /// Moved to the dead-letter partition.
    GaveUp,
    /// Delivered, claimed by another deliverer, or not due: nothing done here.
    Skipped,
}

/// Counts of one redrive pass, for its log line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Redrive {
    pub sent: usize,
    pub nothing_to_send: usize,
    pub will_retry: usize,
    pub gave_up: usize,
    pub skipped: usize,
}

/// The delivering side: the `mailer` function in AWS, a background task locally.
pub struct MailDispatcher {
    store: Arc<dyn Store>,
    mailer: Arc<dyn Mailer>,
    queue: MailQueue,
    requests: Arc<dyn AccountRequests>,
}

/// Seconds before attempt `n + 1` after attempt `n` (1-based): 30 s doubling to an hour.
fn backoff_secs(attempt: u32) -> i64 {
    (30i64 << attempt.saturating_sub(1).min(7)).min(3600)
}

impl MailDispatcher {
    pub fn new(
        store: Arc<dyn Store>,
        mailer: Arc<dyn Mailer>,
        queue: MailQueue,
        requests: Arc<dyn AccountRequests>,
    ) -> Self {
        MailDispatcher { store, mailer, queue, requests }
    }

    pub fn queue(&self) -> &MailQueue {
        &self.queue
    }

    /// Delivers one job if it is due. Only store failures are errors (the caller may retry);
    /// a failed send is rescheduled.
    pub async fn deliver(&self, id: Ulid) -> Result<Delivery, StoreError> {
        let Some(job) = mail_jobs::load(self.store.as_ref(), id).await? else { return Ok(Delivery::Skipped) };
        let now = self.queue.clock.epoch_seconds();
        if job.dead || job.due_at > now {
            return Ok(Delivery::Skipped);
        }
        // Claiming the attempt also schedules the next one, in case this deliverer dies.
        let attempt = job.attempts + 1;
        let give_up = attempt > MAX_ATTEMPTS;
        let claimed =
            JobRecord { attempts: attempt, due_at: now + backoff_secs(attempt), dead: give_up, ..job };
        match self.store.write(vec![mail_jobs::replace(&claimed, attempt - 1)]).await {
            Err(StoreError::ConditionFailed { .. }) => return Ok(Delivery::Skipped),
            other => other?,
        }
        if give_up {
            error!(job = %id, attempts = MAX_ATTEMPTS, "mail job given up on; it waits in the dead-letter partition");
            return Ok(Delivery::GaveUp);
        }
        let message = match self.message_of(&claimed).await? {
            Ok(Some(message)) => message,
            Ok(None) => {
                self.store.write(vec![mail_jobs::delete(id)]).await?;
                return Ok(Delivery::NothingToSend);
            }
            Err(e) => {
                warn!(job = %id, attempt, error = %e, "mail job not ready; will retry");
                return Ok(Delivery::WillRetry);
            }
        };
        match self.mailer.send(&message).await {
            Ok(()) => {
                self.store.write(vec![mail_jobs::delete(id)]).await?;
                info!(job = %id, attempt, "mail job delivered");
                Ok(Delivery::Sent)
            }
            Err(e) => {
                warn!(job = %id, attempt, error = %e, "mail not sent; will retry");
                Ok(Delivery::WillRetry)
            }
        }
    }

    /// The message a claimed job sends. An account request is resolved here, and its writes
    /// (a new token) are committed with the rendered message in place of the request, so a retry
    /// sends the same link instead of minting another.
    async fn message_of(&self, job: &JobRecord) -> Result<AppResult<Option<Message>>, StoreError> {
        let (request, email) = match self.queue.open(job) {
            Ok(Job::Message(message)) => return Ok(Ok(Some(message))),
            Ok(Job::AccountRequest { request, email }) => (request, email),
            Err(e) => return Ok(Err(e)),
        };
        let resolved = match self.requests.resolve(request, &email).await {
            Ok(Some(resolved)) => resolved,
            other => return Ok(other.map(|_| None)),
        };
        let rendered = match self.queue.seal(job.id, &Job::Message(resolved.message.clone())) {
            Ok(sealed) => JobRecord { sealed, ..job.clone() },
            Err(e) => return Ok(Err(e)),
        };
        let mut writes = resolved.writes;
        writes.push(mail_jobs::replace(&rendered, job.attempts));
        match self.store.write(writes).await {
            Ok(()) => Ok(Ok(Some(resolved.message))),
            // The account changed meanwhile (another link, a verification); the next attempt
            // resolves the request again.
            Err(StoreError::ConditionFailed { .. }) => {
                Ok(Err(AppError::Internal("account changed while its mail was prepared".into())))
            }
            Err(e) => Err(e),
        }
    }

    /// Delivers the jobs due now: the scheduled redrive, and locally every wake-up.
    pub async fn deliver_due(&self) -> Result<Redrive, StoreError> {
        let mut summary = Redrive::default();
        for _ in 0..REDRIVE_ROUNDS {
            let now = self.queue.clock.epoch_seconds();
            let due = mail_jobs::due(self.store.as_ref(), now, REDRIVE_BATCH).await?;
            for id in &due {
                // One job's trouble never holds up the others: it comes due again by itself.
                match self.deliver(*id).await {
                    Ok(Delivery::Sent) => summary.sent += 1,
                    Ok(Delivery::NothingToSend) => summary.nothing_to_send += 1,
                    Ok(Delivery::WillRetry) => summary.will_retry += 1,
                    Ok(Delivery::GaveUp) => summary.gave_up += 1,
                    Ok(Delivery::Skipped) => summary.skipped += 1,
                    Err(e) => {
                        warn!(job = %id, error = %e, "mail job not delivered; it comes due again");
                        summary.will_retry += 1;
                    }
                }
            }
            // Every job handled here moved out of the due range; a short batch was the last.
            if due.len() < REDRIVE_BATCH {
                break;
            }
        }
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_an_hour() {
        let delays: Vec<i64> = (1..=10).map(backoff_secs).collect();
        assert_eq!(delays, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
        let total: i64 = (1..=MAX_ATTEMPTS).map(backoff_secs).sum();
        assert!((20 * 3600..=30 * 3600).contains(&total), "about a day of retries: {total} s");
    }
}
