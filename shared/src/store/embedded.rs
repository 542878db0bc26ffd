//! The embedded store for local mode: a single `redb` file under the data directory. redb commits
//! are atomic and durable (copy-on-write B-trees, fsync on commit with the default
//! `Durability::Immediate`), so data survives restarts and a crash mid-write leaves the last
//! committed state, never a corrupt file. redb runs one write transaction at a time, which makes
//! every condition check race-free.
//!
//! Layout: `items` maps (pk, sk) to the JSON of the rest of the item; `gsi1` (and `gsi2`) hold one
//! key (gsipk, gsisk, pk, sk) per indexed item, maintained in the same transaction as the item,
//! so index queries are range reads in DynamoDB's order (ties on gsisk broken by the base key).
//!
//! Expired items stay in the file (nothing sweeps them, as DynamoDB's TTL deletion is lazy too);
//! every read and condition treats them as absent, and an `Update` merges into them as DynamoDB's
//! UpdateItem does into an item its TTL process has not deleted yet.

use super::{Attrs, Cond, Cursor, Index, Item, Key, Page, Query, SkRange, Store, StoreError, Write};
use crate::clock::Clock;
use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use redb::{Database, ReadableDatabase, ReadableTable, StorageError, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::Arc;

type BaseKey = (&'static str, &'static str);
const ITEMS: TableDefinition<BaseKey, &[u8]> = TableDefinition::new("items");
type IndexTable = TableDefinition<'static, (&'static str, &'static str, &'static str, &'static str), ()>;
const GSI1: IndexTable = TableDefinition::new("gsi1");
const GSI2: IndexTable = TableDefinition::new("gsi2");

fn index_table(index: Index) -> IndexTable {
    match index {
        Index::Gsi1 => GSI1,
        Index::Gsi2 => GSI2,
    }
}
/// DynamoDB's cap on the operations of one transaction, enforced here too so local mode catches
/// a caller that would fail in the cloud.
const MAX_WRITES: usize = 100;

#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    clock: Arc<dyn Clock>,
}

/// An item as stored under its key.
#[derive(Default, Serialize, Deserialize)]
struct Stored {
    gsi1: Option<(String, String)>,
    // Absent in files written before the second index existed.
    #[serde(default)]
    gsi2: Option<(String, String)>,
    expires_at: Option<i64>,
    attrs: Attrs,
}

impl Stored {
    fn decode(bytes: &[u8]) -> Result<Stored, StoreError> {
        serde_json::from_slice(bytes).map_err(err)
    }

    fn is_live(&self, now: i64) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }

    /// The item's keys in each index, in the order of `Index::ALL`.
    fn index_keys(&self) -> [Option<(String, String)>; 2] {
        [self.gsi1.clone(), self.gsi2.clone()]
    }

    /// The item under `key`, or `None` when it has expired.
    fn live(self, now: i64, key: Key) -> Option<Item> {
        self.is_live(now).then(|| Item {
            key,
            gsi1: self.gsi1.map(|(pk, sk)| Key { pk, sk }),
            gsi2: self.gsi2.map(|(pk, sk)| Key { pk, sk }),
            expires_at: self.expires_at,
            attrs: self.attrs,
        })
    }
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("embedded store: {e}"))
}

fn load(table: &impl ReadableTable<BaseKey, &'static [u8]>, key: &Key) -> Result<Option<Stored>, StoreError> {
    let raw = table.get((key.pk.as_str(), key.sk.as_str())).map_err(err)?;
    raw.map(|raw| Stored::decode(raw.value())).transpose()
}

/// redb's page cache (its default is 1 GiB, which a busy local server would grow into: the load
/// bench's chat steps added about 1 KiB of resident memory per message sent).
const CACHE_BYTES: usize = 64 * 1024 * 1024;

impl EmbeddedStore {
    pub fn open(dir: &Path, clock: Arc<dyn Clock>) -> Result<EmbeddedStore, StoreError> {
        std::fs::create_dir_all(dir).map_err(err)?;
        let db =
            redb::Builder::new().set_cache_size(CACHE_BYTES).create(dir.join("store.redb")).map_err(err)?;
        // Create every table up front so readers never meet a missing table.
        let txn = db.begin_write().map_err(err)?;
        txn.open_table(ITEMS).map_err(err)?;
        for index in Index::ALL {
            txn.open_table(index_table(index)).map_err(err)?;
        }
        txn.commit().map_err(err)?;
        Ok(EmbeddedStore { db: Arc::new(db), clock })
    }
}

// Reads run inline on the async worker: a redb reader works on an MVCC snapshot and never waits
// for the writer, and a lookup or a page of a range is a few B-tree page reads, mostly from
// redb's cache, so it costs less than a hop to the blocking pool. Writes fsync, so they do hop.
#[async_trait]
impl Store for EmbeddedStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        Ok(self.get_many(std::slice::from_ref(key)).await?.pop().flatten())
    }

    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, StoreError> {
        let now = self.clock.epoch_seconds();
        let txn = self.db.begin_read().map_err(err)?;
        let items = txn.open_table(ITEMS).map_err(err)?;
        keys.iter().map(|k| Ok(load(&items, k)?.and_then(|s| s.live(now, k.clone())))).collect()
    }

    async fn query(&self, q: &Query) -> Result<Page, StoreError> {
        if q.limit == 0 {
            // DynamoDB rejects it too; a page that examines nothing could never advance.
            return Err(err("query limit must be at least 1"));
        }
        let now = self.clock.epoch_seconds();
        let txn = self.db.begin_read().map_err(err)?;
        let items = txn.open_table(ITEMS).map_err(err)?;
        match q.index {
            None => {
                let (lo, hi) = bounds::<2>(q)?;
                let range = items.range((lo.as_ref().map(as_base), hi.as_ref().map(as_base))).map_err(err)?;
                paginate(q, range, |(key, value)| {
                    let (pk, sk) = key.value();
                    let item = Stored::decode(value.value())?.live(now, Key::new(pk, sk));
                    Ok((vec![sk.to_owned()], item))
                })
            }
            Some(index) => {
                let gsi = txn.open_table(index_table(index)).map_err(err)?;
                let (lo, hi) = bounds::<4>(q)?;
                let range = gsi.range((lo.as_ref().map(as_gsi), hi.as_ref().map(as_gsi))).map_err(err)?;
                paginate(q, range, |(key, _)| {
                    let (_, gsi_sk, pk, sk) = key.value();
                    let base = Key::new(pk, sk);
                    let item = load(&items, &base)?.and_then(|s| s.live(now, base));
                    Ok((vec![gsi_sk.to_owned(), pk.to_owned(), sk.to_owned()], item))
                })
            }
        }
    }

    async fn write(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let writes: Vec<Write> = writes.into_iter().map(Write::normalised).collect();
        if writes.is_empty() {
            return Ok(());
        }
        if writes.len() > MAX_WRITES {
            return Err(err(format!("{} writes in one transaction (at most {MAX_WRITES})", writes.len())));
        }
        let mut keys: Vec<&Key> = writes.iter().map(Write::key).collect();
        keys.sort();
        if keys.windows(2).any(|w| w[0] == w[1]) {
            return Err(err("one transaction wrote the same key twice"));
        }
        let db = self.db.clone();
        let now = self.clock.epoch_seconds();
        tokio::task::spawn_blocking(move || transact(&db, writes, now)).await.map_err(err)?
    }

    async fn increment(&self, key: &Key, attr: &str, by: i64, expires_at: i64) -> Result<i64, StoreError> {
        let (db, key, attr) = (self.db.clone(), key.clone(), attr.to_owned());
        let now = self.clock.epoch_seconds();
        tokio::task::spawn_blocking(move || {
            let txn = db.begin_write().map_err(err)?;
            let value = {
                let mut items = txn.open_table(ITEMS).map_err(err)?;
                let mut stored = load(&items, &key)?
                    .filter(|s| s.is_live(now))
                    .unwrap_or(Stored { expires_at: Some(expires_at), ..Stored::default() });
                let value = stored.attrs.get(&attr).and_then(serde_json::Value::as_i64).unwrap_or(0) + by;
                stored.attrs.insert(attr, value.into());
                let bytes = serde_json::to_vec(&stored).map_err(err)?;
                items.insert((key.pk.as_str(), key.sk.as_str()), bytes.as_slice()).map_err(err)?;
                value
            };
            txn.commit().map_err(err)?;
            Ok(value)
        })
        .await
        .map_err(err)?
    }
}

/// A table key as owned strings: `[pk, sk]` on the base table, `[gsi1pk, gsi1sk, pk, sk]` on the
/// index. Arrays order like redb's tuples of `&str` (element by element, bytewise).
type Position<const N: usize> = [String; N];

fn as_base(k: &Position<2>) -> (&str, &str) {
    let [pk, sk] = k;
    (pk, sk)
}

fn as_gsi(k: &Position<4>) -> (&str, &str, &str, &str) {
    let [gpk, gsk, pk, sk] = k;
    (gpk, gsk, pk, sk)
}

/// The smallest position in partition `pk` whose sort key is `sk` (the rest left empty).
fn at<const N: usize>(pk: &str, sk: String) -> Position<N> {
    let mut sk = Some(sk);
    std::array::from_fn(|i| match i {
        0 => pk.to_owned(),
        1 => sk.take().unwrap_or_default(),
        _ => String::new(),
    })
}

/// The smallest string greater than every string starting with `prefix`, if there is one.
fn after_prefix(prefix: &str) -> Option<String> {
    let mut s = prefix.trim_end_matches(char::MAX).to_owned();
    let last = s.pop()?;
    // The next scalar value (skipping the surrogate gap, which `from_u32` rejects).
    s.push((u32::from(last) + 1..).find_map(char::from_u32)?);
    Some(s)
}

/// The range a query reads: its partition and sort-key range, resumed after the cursor.
fn bounds<const N: usize>(q: &Query) -> Result<(Bound<Position<N>>, Bound<Position<N>>), StoreError> {
    // "pk\0" is the immediate successor of "pk", so everything below it is in the partition.
    let end_of_partition = Bound::Excluded(at(&format!("{}\0", q.pk), String::new()));
    let (lo, hi) = match &q.sk {
        SkRange::All => (Bound::Included(at(&q.pk, String::new())), end_of_partition),
        SkRange::Prefix(p) => (
            Bound::Included(at(&q.pk, p.clone())),
            after_prefix(p).map_or(end_of_partition, |s| Bound::Excluded(at(&q.pk, s))),
        ),
        // Every position with sort key `b` (whatever base key follows on the index) is below
        // `b` + NUL, its immediate successor.
        SkRange::Between(a, b) => {
            (Bound::Included(at(&q.pk, a.clone())), Bound::Excluded(at(&q.pk, format!("{b}\0"))))
        }
    };
    let Some(cursor) = &q.after else { return Ok((lo, hi)) };
    let last = decode_cursor::<N>(cursor, &q.pk)?;
    // A cursor is the last position a page examined, so it lies inside the range; one from
    // another query could otherwise widen it.
    if !(lo.as_ref(), hi.as_ref()).contains(&last) {
        return Err(StoreError::BadCursor);
    }
    Ok(if q.descending { (lo, Bound::Excluded(last)) } else { (Bound::Excluded(last), hi) })
}

/// A cursor is the examined position without its partition key: base64url of a JSON array.
fn encode_cursor(tail: &[String]) -> Result<Cursor, StoreError> {
    Ok(Cursor(B64.encode(serde_json::to_vec(tail).map_err(err)?)))
}

fn decode_cursor<const N: usize>(cursor: &Cursor, pk: &str) -> Result<Position<N>, StoreError> {
    let json = B64.decode(&cursor.0).map_err(|_| StoreError::BadCursor)?;
    let tail: Vec<String> = serde_json::from_slice(&json).map_err(|_| StoreError::BadCursor)?;
    let position: Vec<String> = std::iter::once(pk.to_owned()).chain(tail).collect();
    // A cursor of the other table has the wrong length.
    position.try_into().map_err(|_| StoreError::BadCursor)
}

/// Reads up to `q.limit` entries of `range` in the query's direction. Expired items count as
/// examined but are left out, like DynamoDB's filters applied after `Limit`, so a page may be
/// short (even empty) and still have a `next`; each live item still comes exactly once. `next`
/// is only set when another entry follows, so the last page never points past the end.
fn paginate<T>(
    q: &Query,
    mut range: impl DoubleEndedIterator<Item = Result<T, StorageError>>,
    mut examine: impl FnMut(T) -> Result<(Vec<String>, Option<Item>), StoreError>,
) -> Result<Page, StoreError> {
    let mut next_entry = || if q.descending { range.next_back() } else { range.next() };
    let mut page = Page::default();
    let mut examined = 0;
    let mut last = Vec::new();
    while let Some(entry) = next_entry() {
        if examined == q.limit {
            page.next = Some(encode_cursor(&last)?);
            break;
        }
        let (position, item) = examine(entry.map_err(err)?)?;
        page.items.extend(item);
        last = position;
        examined += 1;
    }
    Ok(page)
}

/// Runs the writes in one redb write transaction, committed only when every condition held.
fn transact(db: &Database, writes: Vec<Write>, now: i64) -> Result<(), StoreError> {
    let txn = db.begin_write().map_err(err)?;
    match check_then_apply(&txn, writes, now) {
        Ok(()) => txn.commit().map_err(err),
        Err(e) => {
            txn.abort().map_err(err)?;
            Err(e)
        }
    }
}

/// Checks every condition first (the first failing one is reported), and only then writes.
fn check_then_apply(txn: &WriteTransaction, writes: Vec<Write>, now: i64) -> Result<(), StoreError> {
    let mut items = txn.open_table(ITEMS).map_err(err)?;
    let mut gsi1 = txn.open_table(GSI1).map_err(err)?;
    let mut gsi2 = txn.open_table(GSI2).map_err(err)?;
    let mut current = Vec::with_capacity(writes.len());
    for (index, write) in writes.iter().enumerate() {
        let stored = load(&items, write.key())?;
        let live = stored.as_ref().is_some_and(|s| s.is_live(now));
        let holds = match write.cond() {
            Cond::Always => true,
            Cond::NotExists => !live,
            Cond::Exists => live,
            Cond::Equals { attr, value } => {
                live && stored.as_ref().and_then(|s| s.attrs.get(*attr)).unwrap_or(&Value::Null) == value
            }
        };
        if !holds {
            return Err(StoreError::ConditionFailed { index });
        }
        current.push(stored);
    }
    for (write, old) in writes.into_iter().zip(current) {
        let key = write.key().clone();
        let old_index_keys = old.as_ref().map(Stored::index_keys).unwrap_or_default();
        let new = match write {
            Write::Put { item, .. } => Some(Stored {
                gsi1: item.gsi1.map(|k| (k.pk, k.sk)),
                gsi2: item.gsi2.map(|k| (k.pk, k.sk)),
                expires_at: item.expires_at,
                attrs: item.attrs,
            }),
            Write::Update { set, expires_at, .. } => {
                // Like DynamoDB's UpdateItem: merge into whatever is stored, index keys kept.
                let mut merged = old.unwrap_or_default();
                merged.attrs.extend(set);
                merged.expires_at = expires_at.or(merged.expires_at);
                Some(merged)
            }
            Write::Delete { .. } => None,
            Write::Check { .. } => continue,
        };
        let new_index_keys = new.as_ref().map(Stored::index_keys).unwrap_or_default();
        for ((old_key, new_key), gsi) in
            old_index_keys.iter().zip(&new_index_keys).zip([&mut gsi1, &mut gsi2])
        {
            if old_key == new_key {
                continue;
            }
            if let Some((gpk, gsk)) = old_key {
                gsi.remove((gpk.as_str(), gsk.as_str(), key.pk.as_str(), key.sk.as_str())).map_err(err)?;
            }
            if let Some((gpk, gsk)) = new_key {
                gsi.insert((gpk.as_str(), gsk.as_str(), key.pk.as_str(), key.sk.as_str()), ())
                    .map_err(err)?;
            }
        }
        let base = (key.pk.as_str(), key.sk.as_str());
        match new {
            Some(stored) => {
                let bytes = serde_json::to_vec(&stored).map_err(err)?;
                items.insert(base, bytes.as_slice()).map_err(err)?;
            }
            None => {
                items.remove(base).map_err(err)?;
            }
        }
    }
    Ok(())
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

    /// The base keys a query returns, following `next` to the end.
    async fn all_pages(store: &EmbeddedStore, mut q: Query) -> Vec<Key> {
        let mut keys = Vec::new();
        loop {
            let page = store.query(&q).await.unwrap();
            keys.extend(page.items.into_iter().map(|i| i.key));
            match page.next {
                Some(next) => q.after = Some(next),
                None => return keys,
            }
        }
    }

    #[tokio::test]
    async fn data_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        store.write(vec![put("a", "1", Some(("g", "x")))]).await.unwrap();
        drop(store);
        let store = open(dir.path());
        assert!(store.get(&Key::new("a", "1")).await.unwrap().is_some());
        assert_eq!(store.query(&gsi_query("g")).await.unwrap().items.len(), 1);
    }

    #[tokio::test]
    async fn index_entries_follow_their_item() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let key = Key::new("a", "1");
        store.write(vec![put("a", "1", Some(("g", "x")))]).await.unwrap();
        store.write(vec![put("a", "1", Some(("h", "y")))]).await.unwrap();
        assert!(store.query(&gsi_query("g")).await.unwrap().items.is_empty(), "moved away");
        assert_eq!(all_pages(&store, gsi_query("h")).await, std::slice::from_ref(&key));

        let update = Write::Update {
            key: key.clone(),
            set: attrs([("m", 1.into())]),
            expires_at: None,
            cond: Cond::Exists,
        };
        store.write(vec![update]).await.unwrap();
        let found = store.query(&gsi_query("h")).await.unwrap().items;
        assert_eq!(found.len(), 1, "an update keeps the index entry");
        assert_eq!(found[0].attrs["m"], 1);

        store.write(vec![Write::Delete { key: key.clone(), cond: Cond::Exists }]).await.unwrap();
        assert!(store.query(&gsi_query("h")).await.unwrap().items.is_empty(), "removed");

        store.write(vec![put("a", "1", Some(("h", "y")))]).await.unwrap();
        store.write(vec![put("a", "1", None)]).await.unwrap();
        assert!(store.query(&gsi_query("h")).await.unwrap().items.is_empty(), "left the index");
    }

    #[tokio::test]
    async fn failed_condition_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        store.write(vec![put("c", "1", Some(("g", "old")))]).await.unwrap();
        let result = store
            .write(vec![
                put("a", "1", Some(("g", "new"))),
                Write::Delete { key: Key::new("c", "1"), cond: Cond::Always },
                Write::Check { key: Key::new("b", "1"), cond: Cond::Exists },
            ])
            .await;
        assert!(matches!(result, Err(StoreError::ConditionFailed { index: 2 })), "{result:?}");
        assert!(store.get(&Key::new("a", "1")).await.unwrap().is_none());
        assert!(store.get(&Key::new("c", "1")).await.unwrap().is_some());
        assert_eq!(all_pages(&store, gsi_query("g")).await, [Key::new("c", "1")], "index untouched");
    }

    #[tokio::test]
    async fn index_ties_page_by_base_key_in_both_directions() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let writes = [("b", "1"), ("a", "2"), ("a", "1"), ("ab", "0")]
            .map(|(pk, sk)| put(pk, sk, Some(("g", "same"))))
            .into_iter()
            .chain([put("z", "9", Some(("g", "samer"))), put("z", "8", Some(("g", "sam")))])
            .collect();
        store.write(writes).await.unwrap();
        let expected = [("a", "1"), ("a", "2"), ("ab", "0"), ("b", "1")].map(|(pk, sk)| Key::new(pk, sk));
        let q = Query {
            index: Some(Index::Gsi1),
            limit: 1,
            ..Query::new("g", SkRange::Between("same".into(), "same".into()))
        };
        assert_eq!(all_pages(&store, q.clone()).await, expected);
        let reversed: Vec<Key> = expected.into_iter().rev().collect();
        assert_eq!(all_pages(&store, Query { descending: true, ..q }).await, reversed);
    }

    #[tokio::test]
    async fn prefix_covers_every_string_starting_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let odd = format!("m{}x", char::MAX);
        store.write(vec![put("p", "m", None), put("p", &odd, None), put("p", "n", None)]).await.unwrap();
        let sks = |keys: Vec<Key>| keys.into_iter().map(|k| k.sk).collect::<Vec<_>>();
        assert_eq!(
            sks(all_pages(&store, Query::new("p", SkRange::Prefix("m".into()))).await),
            ["m", odd.as_str()]
        );
        let q = Query { descending: true, ..Query::new("p", SkRange::Prefix(format!("m{}", char::MAX))) };
        assert_eq!(sks(all_pages(&store, q).await), [odd.as_str()]);
        assert_eq!(after_prefix("a\u{D7FF}"), Some("a\u{E000}".into()), "skips surrogates");
        assert_eq!(after_prefix(""), None);
    }

    #[tokio::test]
    async fn expired_items_count_towards_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::starting_now());
        let store = EmbeddedStore::open(dir.path(), clock.clone()).unwrap();
        let soon = clock.epoch_seconds() + 1;
        let mut expiring = Item::new(Key::new("e", "2"), attrs([]));
        expiring.expires_at = Some(soon);
        store
            .write(vec![
                put("e", "1", None),
                Write::Put { item: expiring, cond: Cond::Always },
                put("e", "3", None),
            ])
            .await
            .unwrap();
        clock.advance(time::Duration::seconds(1));
        let q = Query { limit: 2, ..Query::new("e", SkRange::All) };
        let first = store.query(&q).await.unwrap();
        assert_eq!(first.items.len(), 1, "2 was examined but is expired");
        let rest = store.query(&Query { after: first.next, ..q }).await.unwrap();
        assert_eq!(rest.items.iter().map(|i| i.key.sk.as_str()).collect::<Vec<_>>(), ["3"]);
        assert_eq!(rest.next, None);
    }

    #[tokio::test]
    async fn foreign_cursors_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        store.write(vec![put("a", "1", Some(("g", "x"))), put("a", "2", Some(("g", "y")))]).await.unwrap();
        let index_page = store.query(&Query { limit: 1, ..gsi_query("g") }).await.unwrap();
        let on_base = Query { after: index_page.next, ..Query::new("a", SkRange::All) };
        assert!(matches!(store.query(&on_base).await, Err(StoreError::BadCursor)), "other table");
        let outside = Query {
            after: Some(encode_cursor(&["b".into()]).unwrap()),
            ..Query::new("a", SkRange::Prefix("a".into()))
        };
        assert!(matches!(store.query(&outside).await, Err(StoreError::BadCursor)), "outside the range");
        let not_json = Query { after: Some(Cursor(B64.encode("x"))), ..Query::new("a", SkRange::All) };
        assert!(matches!(store.query(&not_json).await, Err(StoreError::BadCursor)));
    }
}
