//! The store port's contract, run against the embedded store and against DynamoDB (moto), so the
//! two adapters cannot drift apart.

mod support;

use carpool::clock::{Clock, ManualClock};
use carpool::store::{attrs, Cond, Index, Item, Key, Query, SkRange, Store, StoreError, Write};
use serde_json::json;
use std::sync::Arc;
use time::Duration;

struct Ctx {
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
    _dir: Option<tempfile::TempDir>,
}

async fn embedded() -> Ctx {
    let clock = Arc::new(ManualClock::starting_now());
    let (store, dir) = support::embedded_store(clock.clone());
    Ctx { store: Arc::new(store), clock, _dir: Some(dir) }
}

async fn dynamo() -> Ctx {
    let clock = Arc::new(ManualClock::starting_now());
    let store = support::dynamo_store(clock.clone()).await;
    Ctx { store: Arc::new(store), clock, _dir: None }
}

macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod embedded_store { $( #[tokio::test] async fn $case() { super::$case(super::embedded().await).await } )* }
        mod dynamodb { $( #[tokio::test] async fn $case() { super::$case(super::dynamo().await).await } )* }
    };
}

contract!(
    round_trips_every_json_type,
    missing_key_is_none,
    not_exists_guards_live_items_only,
    expired_items_are_absent,
    exists_fails_on_missing_and_expired,
    update_merges_and_respects_conditions,
    delete_with_exists_succeeds_once,
    failed_transaction_writes_nothing,
    get_many_keeps_key_order,
    queries_by_range_and_direction,
    pagination_returns_each_item_once,
    index_queries,
    items_move_between_and_leave_both_indexes,
    bad_cursor_is_rejected,
    racing_creates_have_one_winner,
    racing_deletes_have_one_winner,
    counters_add_atomically_and_restart_after_expiry,
    equals_compares_one_attribute,
    racing_compare_and_set_has_one_winner,
);

fn key(pk: &str, sk: &str) -> Key {
    Key::new(pk, sk)
}

fn put(item: Item, cond: Cond) -> Write {
    Write::Put { item, cond }
}

fn plain(pk: &str, sk: &str) -> Item {
    Item::new(key(pk, sk), attrs([("v", sk.into())]))
}

async fn round_trips_every_json_type(c: Ctx) {
    let value = json!({
        "s": "text ✓", "i": 42, "neg": -7, "f": 1.5, "t": true, "fa": false, "n": null,
        "list": [1, "two", {"three": 3}], "map": {"nested": {"deep": [true]}}, "empty": ""
    });
    let item =
        Item::new(key("rt", "1"), value.as_object().unwrap().clone()).expiring(c.clock.epoch_seconds() + 60);
    c.store.write(vec![put(item.clone(), Cond::Always)]).await.unwrap();
    assert_eq!(c.store.get(&key("rt", "1")).await.unwrap(), Some(item));
}

async fn missing_key_is_none(c: Ctx) {
    assert_eq!(c.store.get(&key("nope", "nope")).await.unwrap(), None);
}

async fn not_exists_guards_live_items_only(c: Ctx) {
    c.store.write(vec![put(plain("a", "1"), Cond::NotExists)]).await.unwrap();
    let second = Item::new(key("a", "1"), attrs([("v", "second".into())]));
    let res = c.store.write(vec![put(second.clone(), Cond::NotExists)]).await;
    assert!(matches!(res, Err(StoreError::ConditionFailed { index: 0 })), "{res:?}");
    assert_eq!(c.store.get(&key("a", "1")).await.unwrap().unwrap().attrs["v"], "1", "unchanged");

    let expiring = plain("b", "1").expiring(c.clock.epoch_seconds() + 10);
    c.store.write(vec![put(expiring, Cond::NotExists)]).await.unwrap();
    c.clock.advance(Duration::seconds(10));
    let replacement = Item::new(key("b", "1"), attrs([("v", "new".into())]));
    c.store.write(vec![put(replacement, Cond::NotExists)]).await.unwrap();
    assert_eq!(c.store.get(&key("b", "1")).await.unwrap().unwrap().attrs["v"], "new");
}

async fn expired_items_are_absent(c: Ctx) {
    let at = c.clock.epoch_seconds() + 30;
    c.store
        .write(vec![put(plain("e", "1").expiring(at), Cond::Always), put(plain("e", "2"), Cond::Always)])
        .await
        .unwrap();
    assert!(c.store.get(&key("e", "1")).await.unwrap().is_some());
    c.clock.advance(Duration::seconds(30));
    assert!(c.store.get(&key("e", "1")).await.unwrap().is_none(), "expiry is inclusive of now");
    let page = c.store.query(&Query::new("e", SkRange::All)).await.unwrap();
    assert_eq!(page.items.iter().map(|i| i.key.sk.as_str()).collect::<Vec<_>>(), ["2"]);
}

async fn exists_fails_on_missing_and_expired(c: Ctx) {
    let check = |k: Key| Write::Check { key: k, cond: Cond::Exists };
    let res = c.store.write(vec![put(plain("x", "0"), Cond::Always), check(key("x", "missing"))]).await;
    assert!(matches!(res, Err(StoreError::ConditionFailed { index: 1 })), "{res:?}");
    c.store
        .write(vec![put(plain("x", "1").expiring(c.clock.epoch_seconds() + 5), Cond::Always)])
        .await
        .unwrap();
    c.clock.advance(Duration::seconds(6));
    let res = c.store.write(vec![Write::Delete { key: key("x", "1"), cond: Cond::Exists }]).await;
    assert!(matches!(res, Err(StoreError::ConditionFailed { index: 0 })), "{res:?}");
}

async fn update_merges_and_respects_conditions(c: Ctx) {
    let item = Item::new(key("u", "1"), attrs([("keep", 1.into()), ("change", "old".into())]));
    c.store.write(vec![put(item, Cond::Always)]).await.unwrap();
    let at = c.clock.epoch_seconds() + 100;
    let update = Write::Update {
        key: key("u", "1"),
        set: attrs([("change", "new".into()), ("added", json!([1, 2]))]),
        expires_at: Some(at),
        cond: Cond::Exists,
    };
    c.store.write(vec![update]).await.unwrap();
    let got = c.store.get(&key("u", "1")).await.unwrap().unwrap();
    assert_eq!(got.attrs, attrs([("keep", 1.into()), ("change", "new".into()), ("added", json!([1, 2]))]));
    assert_eq!(got.expires_at, Some(at));

    // Nothing to set: only the condition is checked.
    let empty =
        |k: &str| Write::Update { key: key("u", k), set: attrs([]), expires_at: None, cond: Cond::Exists };
    c.store.write(vec![empty("1")]).await.unwrap();
    assert!(matches!(c.store.write(vec![empty("3")]).await, Err(StoreError::ConditionFailed { index: 0 })));
    assert_eq!(c.store.get(&key("u", "1")).await.unwrap().unwrap().attrs["change"], "new");

    let missing = Write::Update {
        key: key("u", "2"),
        set: attrs([("a", 1.into())]),
        expires_at: None,
        cond: Cond::Exists,
    };
    let res = c.store.write(vec![missing]).await;
    assert!(matches!(res, Err(StoreError::ConditionFailed { index: 0 })), "{res:?}");
    assert!(c.store.get(&key("u", "2")).await.unwrap().is_none(), "nothing written");
}

async fn delete_with_exists_succeeds_once(c: Ctx) {
    c.store.write(vec![put(plain("d", "1"), Cond::Always)]).await.unwrap();
    let delete = || Write::Delete { key: key("d", "1"), cond: Cond::Exists };
    c.store.write(vec![delete()]).await.unwrap();
    assert!(matches!(c.store.write(vec![delete()]).await, Err(StoreError::ConditionFailed { index: 0 })));
}

async fn failed_transaction_writes_nothing(c: Ctx) {
    c.store.write(vec![put(plain("t", "taken"), Cond::Always)]).await.unwrap();
    let res = c
        .store
        .write(vec![
            put(plain("t", "a"), Cond::NotExists),
            put(plain("t", "taken"), Cond::NotExists),
            Write::Delete { key: key("t", "taken-too"), cond: Cond::Always },
        ])
        .await;
    assert!(matches!(res, Err(StoreError::ConditionFailed { index: 1 })), "{res:?}");
    assert!(c.store.get(&key("t", "a")).await.unwrap().is_none());
}

async fn get_many_keeps_key_order(c: Ctx) {
    let at = c.clock.epoch_seconds() + 5;
    c.store
        .write(vec![
            put(plain("g", "1"), Cond::Always),
            put(plain("g", "3"), Cond::Always),
            put(plain("g", "4").expiring(at), Cond::Always),
        ])
        .await
        .unwrap();
    c.clock.advance(Duration::seconds(5));
    let got = c.store.get_many(&[key("g", "3"), key("g", "2"), key("g", "1"), key("g", "4")]).await.unwrap();
    let sks: Vec<Option<&str>> = got.iter().map(|i| i.as_ref().map(|i| i.key.sk.as_str())).collect();
    assert_eq!(sks, [Some("3"), None, Some("1"), None]);
}

async fn seed_five(c: &Ctx) {
    let writes =
        ["m#1", "m#2", "m#3", "m#4", "m#5"].iter().map(|sk| put(plain("q", sk), Cond::Always)).collect();
    c.store.write(writes).await.unwrap();
    c.store
        .write(vec![put(plain("q", "other"), Cond::Always), put(plain("q2", "m#1"), Cond::Always)])
        .await
        .unwrap();
}

fn sks(items: &[Item]) -> Vec<&str> {
    items.iter().map(|i| i.key.sk.as_str()).collect()
}

async fn queries_by_range_and_direction(c: Ctx) {
    seed_five(&c).await;
    let prefix = c.store.query(&Query::new("q", SkRange::Prefix("m#".into()))).await.unwrap();
    assert_eq!(sks(&prefix.items), ["m#1", "m#2", "m#3", "m#4", "m#5"]);
    let mut desc = Query::new("q", SkRange::Between("m#2".into(), "m#4".into()));
    desc.descending = true;
    assert_eq!(sks(&c.store.query(&desc).await.unwrap().items), ["m#4", "m#3", "m#2"]);
    let all = c.store.query(&Query::new("q", SkRange::All)).await.unwrap();
    assert_eq!(all.items.len(), 6);
}

async fn pagination_returns_each_item_once(c: Ctx) {
    seed_five(&c).await;
    for descending in [false, true] {
        let mut q = Query { limit: 2, descending, ..Query::new("q", SkRange::Prefix("m#".into())) };
        let mut seen = Vec::new();
        for _ in 0..10 {
            let page = c.store.query(&q).await.unwrap();
            assert!(page.items.len() <= 2);
            seen.extend(page.items.into_iter().map(|i| i.key.sk));
            match page.next {
                Some(next) => q.after = Some(next),
                None => break,
            }
        }
        let mut expected = vec!["m#1", "m#2", "m#3", "m#4", "m#5"];
        if descending {
            expected.reverse();
        }
        assert_eq!(seen, expected);
    }
}

async fn index_queries(c: Ctx) {
    let on_index = |sk: &str, g: &str| plain("base", sk).in_gsi1(key("ride#campus", g));
    c.store
        .write(vec![
            put(on_index("r1", "2026-12-01T08:00"), Cond::Always),
            put(on_index("r2", "2026-12-01T09:00"), Cond::Always),
            put(on_index("r3", "2026-12-02T08:00"), Cond::Always),
            put(plain("base", "r4"), Cond::Always),
        ])
        .await
        .unwrap();
    let q = Query {
        index: Some(Index::Gsi1),
        ..Query::new("ride#campus", SkRange::Between("2026-12-01T00:00".into(), "2026-12-01T23:59".into()))
    };
    let page = c.store.query(&q).await.unwrap();
    assert_eq!(sks(&page.items), ["r1", "r2"]);
    assert_eq!(page.items[0].gsi1, Some(key("ride#campus", "2026-12-01T08:00")));
    let mut paged = Query { limit: 1, index: Some(Index::Gsi1), ..Query::new("ride#campus", SkRange::All) };
    let mut seen = Vec::new();
    loop {
        let page = c.store.query(&paged).await.unwrap();
        seen.extend(page.items.into_iter().map(|i| i.key.sk));
        match page.next {
            Some(n) => paged.after = Some(n),
            None => break,
        }
    }
    assert_eq!(seen, ["r1", "r2", "r3"]);
}

/// A put that changes or drops an item's index keys moves it in (or out of) each index on its
/// own; an update keeps the keys it does not set.
async fn items_move_between_and_leave_both_indexes(c: Ctx) {
    let on = |idx: Index, pk: &str| Query { index: Some(idx), ..Query::new(pk, SkRange::All) };
    let keys_in = |page: carpool::store::Page| page.items.into_iter().map(|i| i.key.sk).collect::<Vec<_>>();
    let both = plain("ride", "r1").in_gsi1(key("feed", "08:00")).in_gsi2(key("feed#offer", "08:00"));
    c.store.write(vec![put(both, Cond::Always)]).await.unwrap();
    assert_eq!(keys_in(c.store.query(&on(Index::Gsi1, "feed")).await.unwrap()), ["r1"]);
    let page = c.store.query(&on(Index::Gsi2, "feed#offer")).await.unwrap();
    assert_eq!(page.items[0].gsi2, Some(key("feed#offer", "08:00")));
    assert_eq!(page.items[0].gsi1, Some(key("feed", "08:00")));

    // Moved in the second index only.
    let moved = plain("ride", "r1").in_gsi1(key("feed", "08:00")).in_gsi2(key("feed#offer", "09:00"));
    c.store.write(vec![put(moved, Cond::Always)]).await.unwrap();
    let page = c.store.query(&on(Index::Gsi2, "feed#offer")).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].gsi2, Some(key("feed#offer", "09:00")));
    let update = Write::Update {
        key: key("ride", "r1"),
        set: attrs([("seen", true.into())]),
        expires_at: None,
        cond: Cond::Exists,
    };
    c.store.write(vec![update]).await.unwrap();
    assert_eq!(keys_in(c.store.query(&on(Index::Gsi2, "feed#offer")).await.unwrap()), ["r1"]);

    // Out of both.
    c.store.write(vec![put(plain("ride", "r1"), Cond::Always)]).await.unwrap();
    assert!(c.store.query(&on(Index::Gsi1, "feed")).await.unwrap().items.is_empty());
    assert!(c.store.query(&on(Index::Gsi2, "feed#offer")).await.unwrap().items.is_empty());
}

async fn bad_cursor_is_rejected(c: Ctx) {
    let mut q = Query::new("q", SkRange::All);
    q.after = Some(carpool::store::Cursor("%%% not a cursor".into()));
    assert!(matches!(c.store.query(&q).await, Err(StoreError::BadCursor)));
}

async fn racing_creates_have_one_winner(c: Ctx) {
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let store = c.store.clone();
            tokio::spawn(async move {
                let item = Item::new(key("race", "1"), attrs([("by", i.into())]));
                store
                    .write(vec![
                        put(item, Cond::NotExists),
                        put(plain("race", &format!("side{i}")), Cond::Always),
                    ])
                    .await
            })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => wins += 1,
            Err(StoreError::ConditionFailed { index: 0 }) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(wins, 1);
    let sides = c.store.query(&Query::new("race", SkRange::Prefix("side".into()))).await.unwrap();
    assert_eq!(sides.items.len(), 1, "losers wrote nothing");
}

async fn racing_deletes_have_one_winner(c: Ctx) {
    c.store.write(vec![put(plain("once", "1"), Cond::Always)]).await.unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = c.store.clone();
            tokio::spawn(async move {
                store.write(vec![Write::Delete { key: key("once", "1"), cond: Cond::Exists }]).await
            })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        if t.await.unwrap().is_ok() {
            wins += 1;
        }
    }
    assert_eq!(wins, 1);
}

async fn counters_add_atomically_and_restart_after_expiry(c: Ctx) {
    let k = key("RATE#test", "W#1");
    let at = c.clock.epoch_seconds() + 60;
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (store, k) = (c.store.clone(), k.clone());
            tokio::spawn(async move { store.increment(&k, "count", 1, at).await.unwrap() })
        })
        .collect();
    let mut seen = Vec::new();
    for t in tasks {
        seen.push(t.await.unwrap());
    }
    seen.sort();
    assert_eq!(seen, (1..=50).collect::<Vec<i64>>(), "every increment saw a distinct value");
    let item = c.store.get(&k).await.unwrap().unwrap();
    assert_eq!((item.attrs["count"].as_i64(), item.expires_at), (Some(50), Some(at)));
    // A later increment keeps the window's expiry.
    assert_eq!(c.store.increment(&k, "count", 2, at + 500).await.unwrap(), 52);
    assert_eq!(c.store.get(&k).await.unwrap().unwrap().expires_at, Some(at));
    c.clock.advance(Duration::seconds(60));
    assert_eq!(c.store.increment(&k, "count", 1, at + 120).await.unwrap(), 1, "expired counters restart");
    assert_eq!(c.store.get(&k).await.unwrap().unwrap().expires_at, Some(at + 120));
}

async fn equals_compares_one_attribute(c: Ctx) {
    let item = Item::new(key("eq", "1"), attrs([("n", 3.into()), ("s", "a".into()), ("b", false.into())]));
    c.store.write(vec![put(item, Cond::Always)]).await.unwrap();
    let set = |cond: Cond| Write::Update {
        key: key("eq", "1"),
        set: attrs([("touched", true.into())]),
        expires_at: None,
        cond,
    };
    for holds in [
        Cond::equals("n", 3),
        Cond::equals("s", "a"),
        Cond::equals("b", false),
        Cond::equals("absent", json!(null)),
    ] {
        c.store.write(vec![set(holds.clone())]).await.unwrap_or_else(|e| panic!("{holds:?}: {e}"));
    }
    for fails in [
        Cond::equals("n", 4),
        Cond::equals("s", "b"),
        Cond::equals("b", true),
        Cond::equals("n", json!(null)),
        Cond::equals("absent", 1),
    ] {
        let result = c.store.write(vec![set(fails.clone())]).await;
        assert!(matches!(result, Err(StoreError::ConditionFailed { index: 0 })), "{fails:?}: {result:?}");
    }
    // A missing or expired item holds no attribute at all, not even a null one.
    let missing = Write::Delete { key: key("eq", "none"), cond: Cond::equals("n", json!(null)) };
    assert!(matches!(c.store.write(vec![missing]).await, Err(StoreError::ConditionFailed { .. })));
    let expiring = Item::new(key("eq", "2"), attrs([("n", 1.into())])).expiring(c.clock.epoch_seconds() + 10);
    c.store.write(vec![put(expiring, Cond::Always)]).await.unwrap();
    c.clock.advance(Duration::seconds(11));
    let stale = Write::Delete { key: key("eq", "2"), cond: Cond::equals("n", 1) };
    assert!(matches!(c.store.write(vec![stale]).await, Err(StoreError::ConditionFailed { .. })));
    // In a transaction, the failing position is reported and nothing is written.
    let result =
        c.store.write(vec![put(plain("eq", "3"), Cond::NotExists), set(Cond::equals("n", 99))]).await;
    assert!(matches!(result, Err(StoreError::ConditionFailed { index: 1 })), "{result:?}");
    assert_eq!(c.store.get(&key("eq", "3")).await.unwrap(), None);
}

/// Compare-and-set: of many writers that read the same version, exactly one moves it on.
async fn racing_compare_and_set_has_one_winner(c: Ctx) {
    let item = Item::new(key("cas", "1"), attrs([("version", 0.into())]));
    c.store.write(vec![put(item, Cond::Always)]).await.unwrap();
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let store = c.store.clone();
            tokio::spawn(async move {
                let next = Item::new(key("cas", "1"), attrs([("version", 1.into()), ("by", i.into())]));
                store.write(vec![Write::Put { item: next, cond: Cond::equals("version", 0) }]).await.is_ok()
            })
        })
        .collect();
    let mut winners = 0;
    for t in tasks {
        winners += usize::from(t.await.unwrap());
    }
    assert_eq!(winners, 1);
}
