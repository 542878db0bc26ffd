//! The embedded store for local mode: a single `redb` file under the data directory. redb commits
//! are atomic and durable (copy-on-write B-trees, fsync on commit), so data survives restarts and
//! a crash mid-write leaves the last committed state, never a corrupt file. redb runs one write
//! transaction at a time, which makes every condition check race-free.
//!
//! Layout: `items` maps (pk, sk) to the JSON of the rest of the item; `gsi1` maps
//! (gsi1pk, gsi1sk + NUL + pk + NUL + sk) to the base key, so index queries are range reads.

use super::{Cond, Cursor, Index, Item, Key, Page, Query, SkRange, Store, StoreError, Write};
use crate::clock::Clock;
use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

type Table = TableDefinition<'static, (&'static str, &'static str), &'static [u8]>;
const ITEMS: Table = TableDefinition::new("items");
const GSI1: Table = TableDefinition::new("gsi1");
/// Sorts after every character our keys use; closes prefix ranges.
const MAX_CHAR: char = char::MAX;

#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    clock: Arc<dyn Clock>,
}

/// An item as stored under its key.
#[derive(Serialize, Deserialize)]
struct Stored {
    gsi1: Option<(String, String)>,
    expires_at: Option<i64>,
    attrs: super::Attrs,
}

impl Stored {
    fn into_item(self, key: Key) -> Item {
        Item {
            key,
            gsi1: self.gsi1.map(|(pk, sk)| Key { pk, sk }),
            expires_at: self.expires_at,
            attrs: self.attrs,
        }
    }

    fn is_live(&self, now: i64) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("embedded store: {e}"))
}

fn gsi_sk(gsi_sk: &str, key: &Key) -> String {
    format!("{gsi_sk}\0{}\0{}", key.pk, key.sk)
}

impl EmbeddedStore {
    pub fn open(dir: &Path, clock: Arc<dyn Clock>) -> Result<EmbeddedStore, StoreError> {
        std::fs::create_dir_all(dir).map_err(err)?;
        let db = Database::create(dir.join("store.redb")).map_err(err)?;
        // Create both tables up front so readers never meet a missing table.
        let txn = db.begin_write().map_err(err)?;
        txn.open_table(ITEMS).map_err(err)?;
        txn.open_table(GSI1).map_err(err)?;
        txn.commit().map_err(err)?;
        Ok(EmbeddedStore { db: Arc::new(db), clock })
    }

    fn read_live(
        &self,
        table: &impl ReadableTable<(&'static str, &'static str), &'static [u8]>,
        key: &Key,
        now: i64,
    ) -> Result<Option<Item>, StoreError> {
        let Some(raw) = table.get((key.pk.as_str(), key.sk.as_str())).map_err(err)? else {
            return Ok(None);
        };
        let stored: Stored = serde_json::from_slice(raw.value()).map_err(err)?;
        Ok(stored.is_live(now).then(|| stored.into_item(key.clone())))
    }
}

/// Bounds on the second key component for a query (before any cursor).
fn bounds(sk: &SkRange, on_index: bool) -> (Bound<String>, Bound<String>) {
    match sk {
        SkRange::All => (Bound::Unbounded, Bound::Unbounded),
        SkRange::Prefix(p) => (Bound::Included(p.clone()), Bound::Included(format!("{p}{MAX_CHAR}"))),
        // Index keys carry NUL + base key after the sort key, so "b\0..." must stay inside.
        SkRange::Between(a, b) if on_index => {
            (Bound::Included(a.clone()), Bound::Excluded(format!("{b}\u{1}")))
        }
        SkRange::Between(a, b) => (Bound::Included(a.clone()), Bound::Included(b.clone())),
    }
}

fn encode_cursor(sk: &str) -> Cursor {
    Cursor(B64.encode(sk.as_bytes()))
}

fn decode_cursor(cursor: &Cursor) -> Result<String, StoreError> {
    let bytes = B64.decode(&cursor.0).map_err(|_| StoreError::BadCursor)?;
    String::from_utf8(bytes).map_err(|_| StoreError::BadCursor)
}

#[async_trait]
impl Store for EmbeddedStore {
    // Reads are short in-memory B-tree lookups (MVCC, never blocked by the writer): done inline.
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        Ok(self.get_many(std::slice::from_ref(key)).await?.pop().flatten())
    }

    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, StoreError> {
        let now = self.clock.epoch_seconds();
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(ITEMS).map_err(err)?;
        keys.iter().map(|k| self.read_live(&table, k, now)).collect()
    }

    async fn query(&self, q: &Query) -> Result<Page, StoreError> {
        let now = self.clock.epoch_seconds();
        let on_index = q.index.is_some();
        let (mut lo, mut hi) = bounds(&q.sk, on_index);
        if let Some(cursor) = &q.after {
            let last = decode_cursor(cursor)?;
            if q.descending {
                hi = Bound::Excluded(last);
            } else {
                lo = Bound::Excluded(last);
            }
        }
        // The partition ends right before the next pk ("pk\0" is its immediate successor).
        let end_of_pk = format!("{}\0", q.pk);
        let lo_key = match &lo {
            Bound::Included(s) => Bound::Included((q.pk.as_str(), s.as_str())),
            Bound::Excluded(s) => Bound::Excluded((q.pk.as_str(), s.as_str())),
            Bound::Unbounded => Bound::Included((q.pk.as_str(), "")),
        };
        let hi_key = match &hi {
            Bound::Included(s) => Bound::Included((q.pk.as_str(), s.as_str())),
            Bound::Excluded(s) => Bound::Excluded((q.pk.as_str(), s.as_str())),
            Bound::Unbounded => Bound::Excluded((end_of_pk.as_str(), "")),
        };

        let txn = self.db.begin_read().map_err(err)?;
        let items = txn.open_table(ITEMS).map_err(err)?;
        let scanned = match q.index {
            None => &items,
            Some(Index::Gsi1) => &txn.open_table(GSI1).map_err(err)?,
        };
        let range = scanned.range((lo_key, hi_key)).map_err(err)?;
        let entries: Box<dyn Iterator<Item = _>> =
            if q.descending { Box::new(range.rev()) } else { Box::new(range) };

        let mut page = Page::default();
        let mut last_sk = None;
        for (examined, entry) in entries.enumerate() {
            if examined == q.limit {
                page.next = last_sk.as_deref().map(encode_cursor);
                break;
            }
            let (key, value) = entry.map_err(err)?;
            let (_, sk) = key.value();
            last_sk = Some(sk.to_owned());
            let item = match q.index {
                None => {
                    let stored: Stored = serde_json::from_slice(value.value()).map_err(err)?;
                    let base = Key::new(q.pk.clone(), sk);
                    stored.is_live(now).then(|| stored.into_item(base))
                }
                Some(_) => {
                    let base: Key = serde_json::from_slice::<(String, String)>(value.value())
                        .map(|(pk, sk)| Key { pk, sk })
                        .map_err(err)?;
                    self.read_live(&items, &base, now)?
                }
            };
            page.items.extend(item);
        }
        Ok(page)
    }

    async fn write(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let db = self.db.clone();
        let now = self.clock.epoch_seconds();
        // A commit fsyncs: keep it off the async workers.
        tokio::task::spawn_blocking(move || apply(&db, writes, now)).await.map_err(err)?
    }
}

/// Checks every condition, then applies every write, in one redb write transaction.
fn apply(db: &Database, writes: Vec<Write>, now: i64) -> Result<(), StoreError> {
    let mut keys: Vec<&Key> = writes.iter().map(Write::key).collect();
    keys.sort();
    if keys.windows(2).any(|w| w[0] == w[1]) {
        return Err(StoreError::Unavailable("one transaction wrote the same key twice".into()));
    }
    let txn = db.begin_write().map_err(err)?;
    {
        let mut items = txn.open_table(ITEMS).map_err(err)?;
        let mut gsi = txn.open_table(GSI1).map_err(err)?;
        let mut current = Vec::with_capacity(writes.len());
        for (index, write) in writes.iter().enumerate() {
            let key = write.key();
            let stored: Option<Stored> = match items.get((key.pk.as_str(), key.sk.as_str())).map_err(err)? {
                Some(raw) => Some(serde_json::from_slice(raw.value()).map_err(err)?),
                None => None,
            };
            let live = stored.as_ref().is_some_and(|s| s.is_live(now));
            let holds = match write.cond() {
                Cond::Always => true,
                Cond::NotExists => !live,
                Cond::Exists => live,
            };
            if !holds {
                // Dropping the transaction without commit discards nothing-yet-written.
                return Err(StoreError::ConditionFailed { index });
            }
            current.push(stored);
        }
        for (write, old) in writes.into_iter().zip(current) {
            let key = write.key().clone();
            if let Some((gpk, gsk)) = old.as_ref().and_then(|o| o.gsi1.clone()) {
                gsi.remove((gpk.as_str(), gsi_sk(&gsk, &key).as_str())).map_err(err)?;
            }
            let new = match write {
                Write::Put { item, .. } => Some(Stored {
                    gsi1: item.gsi1.map(|k| (k.pk, k.sk)),
                    expires_at: item.expires_at,
                    attrs: item.attrs,
                }),
                Write::Update { set, expires_at, .. } => {
                    // Like DynamoDB's UpdateItem: merge into whatever is stored.
                    let mut merged =
                        old.unwrap_or(Stored { gsi1: None, expires_at: None, attrs: Default::default() });
                    merged.attrs.extend(set);
                    if expires_at.is_some() {
                        merged.expires_at = expires_at;
                    }
                    Some(merged)
                }
                Write::Delete { .. } => None,
                Write::Check { .. } => old,
            };
            match new {
                Some(stored) => {
                    if let Some((gpk, gsk)) = &stored.gsi1 {
                        let base = serde_json::to_vec(&(&key.pk, &key.sk)).map_err(err)?;
                        gsi.insert((gpk.as_str(), gsi_sk(gsk, &key).as_str()), base.as_slice())
                            .map_err(err)?;
                    }
                    let bytes = serde_json::to_vec(&stored).map_err(err)?;
                    items.insert((key.pk.as_str(), key.sk.as_str()), bytes.as_slice()).map_err(err)?;
                }
                None => {
                    items.remove((key.pk.as_str(), key.sk.as_str())).map_err(err)?;
                }
            }
        }
    }
    txn.commit().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::store::attrs;

    fn open(dir: &Path) -> EmbeddedStore {
        EmbeddedStore::open(dir, Arc::new(ManualClock::starting_now())).unwrap()
    }

    fn put(pk: &str, sk: &str, gsi: Option<(&str, &str)>) -> Write {
        let mut item = Item::new(Key::new(pk, sk), attrs([("n", sk.into())]));
        item.gsi1 = gsi.map(|(p, s)| Key::new(p, s));
        Write::Put { item, cond: Cond::Always }
    }

    fn gsi_query(pk: &str) -> Query {
        Query { index: Some(Index::Gsi1), ..Query::new(pk, SkRange::All) }
    }

    #[tokio::test]
    async fn data_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        open(dir.path()).write(vec![put("a", "1", Some(("g", "x")))]).await.unwrap();
        let store = open(dir.path());
        assert!(store.get(&Key::new("a", "1")).await.unwrap().is_some());
        assert_eq!(store.query(&gsi_query("g")).await.unwrap().items.len(), 1);
    }

    #[tokio::test]
    async fn index_entries_follow_their_item() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        store.write(vec![put("a", "1", Some(("g", "x")))]).await.unwrap();
        store.write(vec![put("a", "1", Some(("h", "y")))]).await.unwrap();
        assert!(store.query(&gsi_query("g")).await.unwrap().items.is_empty(), "moved");
        assert_eq!(store.query(&gsi_query("h")).await.unwrap().items.len(), 1);
        store.write(vec![Write::Delete { key: Key::new("a", "1"), cond: Cond::Exists }]).await.unwrap();
        assert!(store.query(&gsi_query("h")).await.unwrap().items.is_empty(), "removed");
    }

    #[tokio::test]
    async fn failed_condition_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let result = store
            .write(vec![put("a", "1", None), Write::Check { key: Key::new("b", "1"), cond: Cond::Exists }])
            .await;
        assert!(matches!(result, Err(StoreError::ConditionFailed { index: 1 })));
        assert!(store.get(&Key::new("a", "1")).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn index_between_is_inclusive_of_the_upper_sort_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        store.write(vec![put("a", "1", Some(("g", "b"))), put("a", "2", Some(("g", "c")))]).await.unwrap();
        let q =
            Query { index: Some(Index::Gsi1), ..Query::new("g", SkRange::Between("a".into(), "b".into())) };
        assert_eq!(store.query(&q).await.unwrap().items.len(), 1);
    }
}
