//! Account deletions still under way: `ERASE#<userId>` / `ERASE`, written in the transaction that
//! closes the account and deleted when the last of its data is gone (see `crate::account`).
//!
//! The request that closed the account erases the rest at once; a job it did not finish (the
//! function died, a dependency failed) is found by the redrive through `gsi1` `ERASE_DUE` /
//! `<dueAt>#<userId>`. A run first claims the job by moving its due time on, on condition that
//! nobody claimed that attempt, so two redrives rarely run one job at once (and every step is
//! safe to repeat when they do). A job goes only after a second full run (`ran_once`).

use super::to_attrs;
use crate::store::{Cond, Index, Item, Key, Query, SkRange, Store, StoreError, Write};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use ulid::Ulid;

const DUE: &str = "ERASE_DUE";
const KEY_PREFIX: &str = "ERASE#";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErasureRecord {
    pub user_id: Ulid,
    pub campus_id: String,
    /// The address, sealed with the key ring (bound to the user id): the audit records filed
    /// under it are moved under its digest.
    pub sealed_email: String,
    /// The keyed digest that replaces the address in audit records.
    pub email_digest: String,
    /// Who closed the account: `user`, or `operator` (`carpool-admin user delete`).
    pub by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub closed_at: OffsetDateTime,
    /// Runs claimed so far.
    pub attempts: u32,
    /// Epoch seconds when the redrive may (next) take it.
    pub due_at: i64,
    /// The erasure ran through once. Requests that passed their session check just before the
    /// closing may still have written after it (a session, a join, an audit record), so one more
    /// run follows once they have all ended; only then does the job go.
    #[serde(default)]
    pub ran_once: bool,
}

pub fn erasure_key(user: Ulid) -> Key {
    Key::new(format!("{KEY_PREFIX}{user}"), "ERASE")
}

fn item(job: &ErasureRecord) -> Item {
    let position = format!("{:012}#{}", job.due_at, job.user_id);
    Item::new(erasure_key(job.user_id), to_attrs(job)).in_gsi1(Key::new(DUE, position))
}

/// A new job (one per account: a second close of the same account fails here).
pub fn put(job: &ErasureRecord) -> Write {
    Write::Put { item: item(job), cond: Cond::NotExists }
}

/// Claims the job as it was read at `attempts`; fails when another run claimed it first or it
/// finished meanwhile.
pub fn claim(job: &ErasureRecord, attempts: u32) -> Write {
    Write::Put { item: item(job), cond: Cond::equals("attempts", attempts) }
}

pub fn finish(user: Ulid) -> Write {
    Write::Delete { key: erasure_key(user), cond: Cond::Always }
}

pub async fn load(store: &dyn Store, user: Ulid) -> Result<Option<ErasureRecord>, StoreError> {
    super::get_record(store, erasure_key(user)).await
}

/// Users whose erasure is due at `now`, oldest due first, up to `limit` (the index is eventually
/// consistent: a claim re-reads the job itself).
pub async fn due(store: &dyn Store, now: i64, limit: usize) -> Result<Vec<Ulid>, StoreError> {
    let query = Query {
        index: Some(Index::Gsi1),
        limit,
        ..Query::new(DUE, SkRange::Between("0".into(), format!("{now:012}#~")))
    };
    let page = store.query(&query).await?;
    Ok(page
        .items
        .iter()
        .filter_map(|item| item.key.pk.strip_prefix(KEY_PREFIX).and_then(|id| Ulid::from_string(id).ok()))
        .collect())
}
