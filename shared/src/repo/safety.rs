//! Blocks between users and reports to campus admins.
//!
//! A block is two items, one in each user's partition (`BLOCKS#<other>` for the one who blocked,
//! `BLOCKED_BY#<other>` for the other), so either side finds everyone it must not meet with one
//! query of its own partition, and a pair is checked with one batch read.
//!
//! A report sits in `gsi1` under `REPORTS#<campusId>#<status>` / `<createdAt>#<reportId>`: a
//! campus's open reports, oldest first; a decision moves it to its new status's partition. The
//! reporter has a link to each report they filed, `USER#<userId>` / `REPORT#<reportId>` (their
//! data export lists them; a deletion drops the link and the reporter's name, and keeps the report
//! for the admins).

use super::accounts::user_partition;
use super::{from_item, to_attrs};
use crate::store::{attrs, Cond, Cursor, Index, Item, Key, Query, SkRange, Store, StoreError, Write};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use time::OffsetDateTime;
use ulid::Ulid;

fn blocks_key(user: Ulid, other: Ulid) -> Key {
    Key::new(user_partition(user), format!("BLOCKS#{other}"))
}

fn blocked_by_key(user: Ulid, other: Ulid) -> Key {
    Key::new(user_partition(user), format!("BLOCKED_BY#{other}"))
}

/// `user` blocks `other` (again: no change).
pub fn block(user: Ulid, other: Ulid, at: OffsetDateTime) -> Vec<Write> {
    let entry = |key: Key, who: Ulid| Write::Put {
        item: Item::new(key, attrs([("userId", who.to_string().into()), ("at", super::rfc3339(at).into())])),
        cond: Cond::Always,
    };
    vec![entry(blocks_key(user, other), other), entry(blocked_by_key(other, user), user)]
}

pub fn unblock(user: Ulid, other: Ulid) -> Vec<Write> {
    vec![
        Write::Delete { key: blocks_key(user, other), cond: Cond::Always },
        Write::Delete { key: blocked_by_key(other, user), cond: Cond::Always },
    ]
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BlockEntry {
    user_id: Ulid,
    #[serde(default)]
    at: String,
}

/// Everyone `user` blocked or was blocked by.
pub async fn blocked_either_way(store: &dyn Store, user: Ulid) -> Result<HashSet<Ulid>, StoreError> {
    let query = Query::new(user_partition(user), SkRange::Prefix("BLOCK".into()));
    let items = super::query_all(store, query).await?;
    items.iter().map(|i| from_item::<BlockEntry>(i).map(|e| e.user_id)).collect()
}

/// Whether either of the two blocked the other.
pub async fn is_blocked(store: &dyn Store, user: Ulid, other: Ulid) -> Result<bool, StoreError> {
    let found = store.get_many(&[blocks_key(user, other), blocked_by_key(user, other)]).await?;
    Ok(found.iter().any(Option::is_some))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReportStatus {
    Open,
    Dismissed,
    Actioned,
}

impl ReportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportStatus::Open => "open",
            ReportStatus::Dismissed => "dismissed",
            ReportStatus::Actioned => "actioned",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportRecord {
    pub id: Ulid,
    pub campus_id: String,
    pub reporter_id: Ulid,
    pub reporter_name: String,
    pub subject_id: Ulid,
    pub subject_name: String,
    pub ride_id: Option<Ulid>,
    pub reason: String,
    pub status: ReportStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub decided_by: Option<Ulid>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub decided_at: Option<OffsetDateTime>,
}

fn report_key(id: Ulid) -> Key {
    Key::new(format!("REPORT#{id}"), "REPORT")
}

fn reports_partition(campus: &str, status: ReportStatus) -> String {
    format!("REPORTS#{campus}#{}", status.as_str())
}

fn report_item(report: &ReportRecord) -> Item {
    let position = format!("{:012}#{}", report.created_at.unix_timestamp().max(0), report.id);
    Item::new(report_key(report.id), to_attrs(report))
        .in_gsi1(Key::new(reports_partition(&report.campus_id, report.status), position))
}

/// The report and the reporter's link to it.
pub fn create_report(report: &ReportRecord) -> Vec<Write> {
    let link = Item::new(
        Key::new(user_partition(report.reporter_id), format!("REPORT#{}", report.id)),
        attrs([("reportId", report.id.to_string().into())]),
    );
    vec![
        Write::Put { item: report_item(report), cond: Cond::NotExists },
        Write::Put { item: link, cond: Cond::Always },
    ]
}

/// The reports `user` filed (through their links), oldest first.
pub async fn filed_by(store: &dyn Store, user: Ulid) -> Result<Vec<ReportRecord>, StoreError> {
    let query = Query::new(user_partition(user), SkRange::Prefix("REPORT#".into()));
    let links = super::query_all(store, query).await?;
    let mut out = Vec::new();
    for chunk in links.chunks(100) {
        let keys: Vec<Key> = chunk
            .iter()
            .filter_map(|link| link.key.sk.strip_prefix("REPORT#").and_then(|id| Ulid::from_string(id).ok()))
            .map(report_key)
            .collect();
        for item in store.get_many(&keys).await?.into_iter().flatten() {
            out.push(from_item(&item)?);
        }
    }
    Ok(out)
}

/// The users `user` blocked, with when.
pub async fn blocked_by(store: &dyn Store, user: Ulid) -> Result<Vec<(Ulid, String)>, StoreError> {
    let query = Query::new(user_partition(user), SkRange::Prefix("BLOCKS#".into()));
    let items = super::query_all(store, query).await?;
    items
        .iter()
        .map(|i| {
            let entry: BlockEntry = from_item(i)?;
            Ok((entry.user_id, entry.at))
        })
        .collect()
}

/// The report with its reporter's stored name gone (their account was deleted): the report stays
/// for the campus admins, who see the reporter as `DELETED_USER`.
pub fn forget_reporter_name(id: Ulid) -> Write {
    let set = attrs([("reporterName", crate::domain::account::DELETED_USER.into())]);
    Write::Update { key: report_key(id), set, expires_at: None, cond: Cond::Exists }
}

/// Writes a decided report on condition that it still has the status `from`.
pub fn decide_report(report: &ReportRecord, from: ReportStatus) -> Write {
    Write::Put { item: report_item(report), cond: Cond::equals("status", from.as_str()) }
}

pub async fn get_report(store: &dyn Store, id: Ulid) -> Result<Option<ReportRecord>, StoreError> {
    super::get_record(store, report_key(id)).await
}

/// A page of a campus's reports in one status, oldest first.
pub async fn reports(
    store: &dyn Store,
    campus: &str,
    status: ReportStatus,
    limit: usize,
    after: Option<Cursor>,
) -> Result<(Vec<ReportRecord>, Option<Cursor>), StoreError> {
    let query = Query {
        index: Some(Index::Gsi1),
        limit,
        after,
        ..Query::new(reports_partition(campus, status), SkRange::All)
    };
    let page = store.query(&query).await?;
    let reports = page.items.iter().map(from_item).collect::<Result<_, _>>()?;
    Ok((reports, page.next))
}
