//! Erasing what is left of a closed account, by its keys and indexes: its connections, rides and
//! conversations (settled as others see them), blocks both ways, its name on the reports it
//! filed, everything in its partition
//! (sessions, two-factor keys and recovery codes, device locks, links, markers), its pending
//! tokens (`gsi1` `TOKENS#<userId>`), the rate-limit counters of its id, its license photos and
//! exports; its audit records are kept with the address replaced by its keyed digest. Every
//! step reads what is left before it changes anything, so a run may stop anywhere and the next
//! one (this request's, or the redrive's) carries on. A second run, `SETTLE` after the first,
//! finds what requests under way at the closing wrote after it.

use super::AccountService;
use crate::documents::{export_prefix, license_prefix};
use crate::error::{AppError, AppResult};
use crate::rate_limit::{counters_of, Counted};
use crate::repo::accounts::user_partition;
use crate::repo::audit;
use crate::repo::erasures::{self, ErasureRecord};
use crate::repo::{safety as safety_repo, tokens};
use crate::store::{Cond, Key, Query, SkRange, StoreError, Write};
use tracing::info;
use ulid::Ulid;

/// How long the redrive leaves a job to the run that has it (a request's run takes seconds; a
/// redrive's may take longer for an account with years of data, and then runs twice, which is
/// safe).
pub const LEASE: time::Duration = time::Duration::minutes(5);

/// How long after the first run the second one waits: longer than any function may run (API
/// Gateway ends HTTP requests at 30 s; the account function's timeout is 30 s, the longest of
/// those serving a signed-in user), so every request that passed its session check before the
/// closing has ended by then.
const SETTLE: time::Duration = time::Duration::minutes(2);

/// Deletes written at once (each stands alone, so a chunk may land without the next).
const CHUNK: usize = 25;

/// Jobs the redrive takes per run.
const JOBS_PER_RUN: usize = 25;

/// What a redrive did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Resumed {
    pub finished: usize,
    pub failed: usize,
}

impl AccountService {
    /// Erases what is left of the closed account of `job`; after its last run, drops the job.
    pub(super) async fn erase(&self, job: ErasureRecord) -> AppResult<()> {
        let user = job.user_id;
        self.chat.close_connections_of(user).await?;
        let rides = self.rides.account_closed(user).await?;
        let conversations = self.chat.leave_all(user).await?;
        self.delete_blocks(user).await?;
        self.forget_reporter(user).await?;
        let partition = self.delete_partition(user).await?;
        self.delete_all(tokens::keys_of(self.store.as_ref(), user).await?).await?;
        self.delete_all(counters_of(self.store.as_ref(), Counted::User, &user.to_string()).await?).await?;
        let audit = self.anonymise_audit(&job).await?;
        let photos = self.uploads.delete_under(&license_prefix(user)).await?;
        self.uploads.delete_under(&export_prefix(user)).await?;
        if job.ran_once {
            self.store.write(vec![erasures::finish(user)]).await?;
            info!(user_id = %user, rides, conversations, items = partition, audit, photos, "account erased");
            return Ok(());
        }
        let again =
            ErasureRecord { ran_once: true, due_at: (self.now() + SETTLE).unix_timestamp(), ..job.clone() };
        match self.store.write(vec![erasures::claim(&again, job.attempts)]).await {
            // A redrive took the job meanwhile: its run is the next one.
            Ok(()) | Err(StoreError::ConditionFailed { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        info!(user_id = %user, rides, conversations, items = partition, audit, photos, "account erased; a last run follows");
        Ok(())
    }

    /// The redrive: takes the jobs whose run stopped (or never ran) and finishes them.
    pub async fn resume_erasures(&self) -> AppResult<Resumed> {
        let store = self.store.as_ref();
        let now = self.now().unix_timestamp();
        let mut resumed = Resumed::default();
        for user in erasures::due(store, now, JOBS_PER_RUN).await? {
            let Some(job) = erasures::load(store, user).await? else { continue };
            if job.due_at > now {
                continue;
            }
            let claimed = ErasureRecord {
                attempts: job.attempts + 1,
                due_at: now + LEASE.whole_seconds(),
                ..job.clone()
            };
            match store.write(vec![erasures::claim(&claimed, job.attempts)]).await {
                Ok(()) => {}
                // Another redrive took it, or its run finished meanwhile.
                Err(StoreError::ConditionFailed { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
            match self.erase(claimed.clone()).await {
                Ok(()) => resumed.finished += 1,
                Err(e) => {
                    tracing::error!(user_id = %user, attempts = claimed.attempts, error = %e, "account erasure failed; retried later");
                    resumed.failed += 1;
                }
            }
        }
        crate::metrics::erasures_resumed(resumed.finished, resumed.failed);
        Ok(resumed)
    }

    /// Blocks either way: each is two items, one in the other person's partition.
    async fn delete_blocks(&self, user: Ulid) -> AppResult<()> {
        let store = self.store.as_ref();
        for (other, _) in safety_repo::blocked_by(store, user).await? {
            store.write(safety_repo::unblock(user, other)).await?;
        }
        for other in safety_repo::blocked_either_way(store, user).await? {
            store.write(safety_repo::unblock(other, user)).await?;
        }
        Ok(())
    }

    /// Their name leaves the reports they filed (found through the links in their partition, so
    /// before it goes).
    async fn forget_reporter(&self, user: Ulid) -> AppResult<()> {
        let store = self.store.as_ref();
        let filed = safety_repo::filed_by(store, user).await?;
        let named: Vec<Write> = filed
            .iter()
            .filter(|r| r.reporter_name != crate::domain::account::DELETED_USER)
            .map(|r| safety_repo::forget_reporter_name(r.id))
            .collect();
        for chunk in named.chunks(CHUNK) {
            store.write(chunk.to_vec()).await?;
        }
        Ok(())
    }

    /// Everything left in the user's partition; returns how many items went.
    async fn delete_partition(&self, user: Ulid) -> AppResult<usize> {
        let store = self.store.as_ref();
        let mut deleted = 0;
        loop {
            // What was read is deleted, so each round starts from the top again.
            let query = Query { limit: 100, ..Query::new(user_partition(user), SkRange::All) };
            let page = store.query(&query).await?;
            if page.items.is_empty() {
                return Ok(deleted);
            }
            for item in &page.items {
                if let Some(digest) = item.key.sk.strip_prefix("SESSION#") {
                    self.auth.forget_cached_session(digest);
                }
            }
            deleted += page.items.len();
            self.delete_all(page.items.into_iter().map(|item| item.key).collect()).await?;
        }
    }

    async fn delete_all(&self, keys: Vec<Key>) -> AppResult<()> {
        for chunk in keys.chunks(CHUNK) {
            let deletes =
                chunk.iter().map(|key| Write::Delete { key: key.clone(), cond: Cond::Always }).collect();
            self.store.write(deletes).await?;
        }
        Ok(())
    }

    /// The account's audit records keep their place and lose the address; those filed under the
    /// address itself (attempts on it while no account had it), up to the closing, move under its
    /// digest. Returns how many records changed.
    async fn anonymise_audit(&self, job: &ErasureRecord) -> AppResult<usize> {
        let store = self.store.as_ref();
        let digest = &job.email_digest;
        let mut changed = 0;
        let mut after = None;
        loop {
            let (page, next) = audit::page_of_user(store, job.user_id, after, 100).await?;
            let named: Vec<Write> =
                page.iter().filter(|r| r.email.is_some()).map(|r| audit::anonymise(r, digest)).collect();
            changed += named.len();
            for chunk in named.chunks(CHUNK) {
                store.write(chunk.to_vec()).await?;
            }
            match next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let email = self
            .keys()?
            .open(&job.sealed_email, &job.user_id.to_string())
            .map_err(|e| AppError::Internal(format!("erasure job of {}: {e}", job.user_id)))?;
        let email = String::from_utf8_lossy(&email).into_owned();
        let closed_ms = u64::try_from(job.closed_at.unix_timestamp() + 1).unwrap_or(0) * 1000;
        let closing = Ulid::from_parts(closed_ms, 0);
        loop {
            let found = audit::about_address_before(store, &email, closing, CHUNK).await?;
            if found.is_empty() {
                return Ok(changed);
            }
            changed += found.len();
            // Copies under the digest and the originals gone, in one transaction.
            let mut writes = Vec::new();
            for (key, record) in found {
                let moved = audit::AuditRecord { email: None, email_digest: Some(digest.clone()), ..record };
                writes.push(audit::put(&moved));
                writes.push(Write::Delete { key, cond: Cond::Always });
            }
            store.write(writes).await?;
        }
    }
}
