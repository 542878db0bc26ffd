//! Mail jobs: the transactional outbox that keeps mail off the request path. A request writes a
//! job (sealed: it can hold a link with a token) and answers; the mailer delivers it and deletes
//! it. Jobs are indexed by the instant they are due, so the redrive reads only what is due now:
//! a job whose delivery failed, or whose deliverer died, comes due again after a backoff.
//!
//! A delivery first claims the job by moving its due time on, on condition that nobody else
//! claimed that attempt, so two deliverers (the stream trigger and the redrive) rarely both send.

use super::{from_item, to_attrs};
use crate::store::{Cond, Index, Item, Key, Query, SkRange, Store, StoreError, Write};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use ulid::Ulid;

/// Index partition of jobs waiting for delivery, sorted by due time.
const DUE: &str = "MAIL_DUE";
/// Index partition of jobs given up on, for an operator to look at and retry.
const DEAD: &str = "MAIL_DEAD";
pub const KEY_PREFIX: &str = "MAIL#";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRecord {
    pub id: Ulid,
    /// The job's payload, sealed with the server's key ring (bound to the job id).
    pub sealed: String,
    /// Delivery attempts claimed so far.
    pub attempts: u32,
    /// Epoch seconds when the job is (next) due.
    pub due_at: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Whether the mailer gave up on it.
    #[serde(default)]
    pub dead: bool,
}

pub fn job_key(id: Ulid) -> Key {
    Key::new(format!("{KEY_PREFIX}{id}"), "MAIL")
}

/// The job id behind a table key (`MAIL#<id>`), for the stream trigger.
pub fn job_id(pk: &str) -> Option<Ulid> {
    pk.strip_prefix(KEY_PREFIX).and_then(|id| Ulid::from_string(id).ok())
}

/// Due times sort as text: zero-padded epoch seconds, then the id.
fn due_sort_key(due_at: i64, id: Ulid) -> String {
    format!("{due_at:012}#{id}")
}

/// How long a job the mailer gave up on is kept for a person to look at: it holds an address
/// and a message, sealed, and goes like every other trace of a person in the end.
const DEAD_KEPT: time::Duration = time::Duration::days(30);

fn item(job: &JobRecord) -> Item {
    let partition = if job.dead { DEAD } else { DUE };
    let item = Item::new(job_key(job.id), to_attrs(job))
        .in_gsi1(Key::new(partition, due_sort_key(job.due_at, job.id)));
    if job.dead {
        item.expiring((job.created_at + DEAD_KEPT).unix_timestamp())
    } else {
        item
    }
}

/// A new job.
pub fn put(job: &JobRecord) -> Write {
    Write::Put { item: item(job), cond: Cond::NotExists }
}

/// Replaces the job as it was read at `attempts` (a claim, a new payload, or giving up); fails
/// when another deliverer got there first or the job was delivered meanwhile.
pub fn replace(job: &JobRecord, attempts: u32) -> Write {
    Write::Put { item: item(job), cond: Cond::equals("attempts", attempts) }
}

pub fn delete(id: Ulid) -> Write {
    Write::Delete { key: job_key(id), cond: Cond::Always }
}

pub async fn load(store: &dyn Store, id: Ulid) -> Result<Option<JobRecord>, StoreError> {
    store.get(&job_key(id)).await?.map(|item| from_item(&item)).transpose()
}

/// Ids of up to `limit` jobs due at `now`, oldest due first (the index is eventually consistent:
/// a claim re-reads the job itself).
pub async fn due(store: &dyn Store, now: i64, limit: usize) -> Result<Vec<Ulid>, StoreError> {
    // '~' sorts after every id character, so the range ends with the last job due at `now`.
    ids_in(store, DUE, SkRange::Between("0".into(), format!("{now:012}#~")), limit).await
}

/// Ids of up to `limit` jobs the mailer gave up on, oldest first.
pub async fn dead(store: &dyn Store, limit: usize) -> Result<Vec<Ulid>, StoreError> {
    ids_in(store, DEAD, SkRange::All, limit).await
}

async fn ids_in(
    store: &dyn Store,
    partition: &str,
    sk: SkRange,
    limit: usize,
) -> Result<Vec<Ulid>, StoreError> {
    let query = Query { index: Some(Index::Gsi1), limit, ..Query::new(partition, sk) };
    // Ids come from the keys, so one undecodable job cannot stop the others being found.
    Ok(store.query(&query).await?.items.iter().filter_map(|item| job_id(&item.key.pk)).collect())
}
