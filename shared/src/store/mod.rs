//! The storage port: a narrow single-table key-value interface that both the DynamoDB adapter and
//! the embedded store implement. Repositories (see `crate::repo`) are written once on top of it.
//!
//! Rules every adapter follows (and `tests/store_contract.rs` checks on both):
//! - an item whose `expires_at` is at or before the clock's now is absent: `get` and `query` skip
//!   it, `Cond::NotExists` passes on it and `Cond::Exists` fails on it;
//! - all reads are strongly consistent on the base table (a deleted session is dead at once);
//! - a `write` of several operations is all-or-nothing, and conditions are checked atomically with
//!   the writes, so concurrent requests cannot break uniqueness or single use.

pub mod dynamo;
pub mod embedded;

use async_trait::async_trait;
use serde_json::{Map, Value};

/// Plain attributes of an item (everything but its keys and expiry).
pub type Attrs = Map<String, Value>;

/// Builds attributes from name/value pairs: `attrs([("emailVerified", true.into())])`.
pub fn attrs<const N: usize>(pairs: [(&str, Value); N]) -> Attrs {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// Attribute names the adapters reserve for keys and expiry; repositories must not use them.
pub const RESERVED_ATTRS: [&str; 7] = ["pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "ttl"];

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Key { pk: pk.into(), sk: sk.into() }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub key: Key,
    /// Keys of the item in the `gsi1` secondary index, when it belongs there.
    pub gsi1: Option<Key>,
    /// Keys of the item in the `gsi2` secondary index, when it belongs there.
    pub gsi2: Option<Key>,
    /// Expiry in epoch seconds (DynamoDB's TTL attribute `ttl`).
    pub expires_at: Option<i64>,
    pub attrs: Attrs,
}

impl Item {
    pub fn new(key: Key, attrs: Attrs) -> Self {
        Item { key, gsi1: None, gsi2: None, expires_at: None, attrs }
    }

    pub fn expiring(mut self, at: i64) -> Self {
        self.expires_at = Some(at);
        self
    }

    pub fn in_gsi1(mut self, key: Key) -> Self {
        self.gsi1 = Some(key);
        self
    }

    pub fn in_gsi2(mut self, key: Key) -> Self {
        self.gsi2 = Some(key);
        self
    }

    /// The item's keys in `index`, when it belongs there.
    pub fn index_key(&self, index: Index) -> Option<&Key> {
        match index {
            Index::Gsi1 => self.gsi1.as_ref(),
            Index::Gsi2 => self.gsi2.as_ref(),
        }
    }

    /// Whether the item counts as present at `now` (epoch seconds).
    pub fn is_live(&self, now: i64) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

/// A condition on the current state of one item, checked atomically with the write.
#[derive(Clone, Debug, PartialEq)]
pub enum Cond {
    Always,
    /// No live item under the key.
    NotExists,
    /// A live item under the key.
    Exists,
    /// A live item whose attribute `attr` holds `value`; `Value::Null` stands for an absent (or
    /// null) attribute, so records written before the attribute existed can be matched too.
    /// Optimistic concurrency: read a value, then write on condition that it is still there.
    Equals {
        attr: &'static str,
        value: Value,
    },
}

impl Cond {
    pub fn equals(attr: &'static str, value: impl Into<Value>) -> Cond {
        Cond::Equals { attr, value: value.into() }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Write {
    /// Replace the whole item.
    Put {
        item: Item,
        cond: Cond,
    },
    /// Set some attributes (and optionally the expiry) of an item, creating it when absent and the
    /// condition allows. With nothing to set it only checks its condition, like `Check`.
    Update {
        key: Key,
        set: Attrs,
        expires_at: Option<i64>,
        cond: Cond,
    },
    Delete {
        key: Key,
        cond: Cond,
    },
    /// Only check the condition (part of a transaction).
    Check {
        key: Key,
        cond: Cond,
    },
}

impl Write {
    pub fn key(&self) -> &Key {
        match self {
            Write::Put { item, .. } => &item.key,
            Write::Update { key, .. } | Write::Delete { key, .. } | Write::Check { key, .. } => key,
        }
    }

    /// An update that sets nothing becomes the check it amounts to (DynamoDB has no empty update).
    pub(crate) fn normalised(self) -> Write {
        match self {
            Write::Update { key, set, expires_at: None, cond } if set.is_empty() => {
                Write::Check { key, cond }
            }
            other => other,
        }
    }

    pub fn cond(&self) -> &Cond {
        match self {
            Write::Put { cond, .. }
            | Write::Update { cond, .. }
            | Write::Delete { cond, .. }
            | Write::Check { cond, .. } => cond,
        }
    }
}

/// The table's secondary indexes; both project every attribute and are sparse (an item is in an
/// index only while it carries that index's keys).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Index {
    Gsi1,
    Gsi2,
}

impl Index {
    pub const ALL: [Index; 2] = [Index::Gsi1, Index::Gsi2];

    /// The index name and its key attributes (partition, sort) on DynamoDB.
    pub fn names(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Index::Gsi1 => ("gsi1", "gsi1pk", "gsi1sk"),
            Index::Gsi2 => ("gsi2", "gsi2pk", "gsi2sk"),
        }
    }
}

/// Which sort keys a query covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkRange {
    All,
    Prefix(String),
    /// Inclusive on both ends.
    Between(String, String),
}

impl SkRange {
    pub fn contains(&self, sk: &str) -> bool {
        match self {
            SkRange::All => true,
            SkRange::Prefix(p) => sk.starts_with(p.as_str()),
            SkRange::Between(lo, hi) => lo.as_str() <= sk && sk <= hi.as_str(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    /// `None` queries the base table (strongly consistent); `Some` a secondary index (eventually
    /// consistent on DynamoDB).
    pub index: Option<Index>,
    pub pk: String,
    pub sk: SkRange,
    /// Descending sort-key order (newest first for time-ordered keys).
    pub descending: bool,
    /// At most this many items are examined for one page (expired ones are skipped after, so a
    /// page may hold fewer and still have a `next`).
    pub limit: usize,
    /// The `next` cursor of a previous page.
    pub after: Option<Cursor>,
}

impl Query {
    pub fn new(pk: impl Into<String>, sk: SkRange) -> Self {
        Query { index: None, pk: pk.into(), sk, descending: false, limit: 100, after: None }
    }
}

/// Opaque position after the last item of a page; adapters encode it as they like.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor(pub String);

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Page {
    pub items: Vec<Item>,
    pub next: Option<Cursor>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The condition of the write at this position (0 for a single write) did not hold; nothing was
    /// written.
    #[error("condition failed on write {index}")]
    ConditionFailed { index: usize },
    #[error("invalid cursor")]
    BadCursor,
    /// Concurrent writes to the same items kept cancelling this one (DynamoDB's
    /// `TransactionConflict`) after the adapter's retries; nothing was written. Like a failed
    /// condition, the caller may re-read and try again.
    #[error("write kept conflicting with concurrent writes")]
    Contention,
    /// The backend failed or throttled (the request may succeed later); the message is for logs
    /// only, never for clients.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// An item or a request that cannot be encoded or decoded: a bug, not an outage.
    #[error("store data invalid: {0}")]
    Corrupt(String),
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError>;
    /// One round trip for up to 100 keys; results are in the order of `keys`.
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, StoreError>;
    async fn query(&self, query: &Query) -> Result<Page, StoreError>;
    /// Applies all writes or none (at most 100, on distinct keys).
    async fn write(&self, writes: Vec<Write>) -> Result<(), StoreError>;
    /// Adds `by` to the number attribute `attr` in one atomic step and returns the new value
    /// (rate-limit windows, attempt counters). A missing or expired item starts again from 0 and
    /// takes `expires_at`; a live one keeps its expiry.
    async fn increment(&self, key: &Key, attr: &str, by: i64, expires_at: i64) -> Result<i64, StoreError>;
}
