//! Driver profiles (one item per user, next to the profile), the campus review queues, the
//! expiry-alert index and the once-only alert markers.
//!
//! The alert index is the driver item itself: while its license has an alert to send, the item
//! sits in `gsi1` under `LICENSE_ALERT` / `<epoch seconds the next alert falls due, 12
//! digits>#<userId>`. The hourly sweep queries what is due up to now, and every write of the
//! profile moves or drops the entry, so a sweep reads only the licenses it has to act on.

use super::accounts::user_partition;
use super::{from_item, to_attrs};
use crate::domain::calendar::Calendar;
use crate::domain::driver::{next_alert_at, Alert, Capability, Verification};
use crate::domain::license::{ymd, License};
use crate::seal::KeyRing;
use crate::store::{Cond, Item, Key, Query, SkRange, Store, StoreError, Write};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use ulid::Ulid;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DriverRecord {
    /// The user's campus (its time zone dates the license; its admins review the driver).
    #[serde(default)]
    pub campus_id: String,
    pub capability: Capability,
    /// As last set by a toggle; what others see also needs approval and a live license
    /// (`domain::driver::effectively_available`).
    pub available: bool,
    pub license: Option<LicenseRecord>,
    #[serde(default)]
    pub review: Option<ReviewRecord>,
    /// The capability a suspension interrupted; reinstatement returns to it (an application it
    /// cut short starts again from `none`).
    #[serde(default)]
    pub suspended_from: Option<Capability>,
    /// The latest scan of a license photo (what it read, and which upload).
    #[serde(default)]
    pub last_scan: Option<ScanRecord>,
    /// When the license's next expiry alert falls due (epoch seconds); indexes the item for the
    /// sweep. Kept in step by every write (`DriverRecord::reindex`).
    #[serde(default)]
    pub next_alert_at: Option<i64>,
    /// Changes with every write: writes are conditional on the stamp they read, so two
    /// concurrent changes (two sweeps, a sweep and the user, two admins) cannot lose one another.
    #[serde(default)]
    pub stamp: Option<Ulid>,
}

/// A license as stored: the number only as a keyed digest (license numbers are few and
/// guessable, so a plain hash would not hide them; compared with `KeyRing::verify`) and its last
/// four characters, the only part ever shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseRecord {
    pub legal_name: String,
    #[serde(default)]
    pub number_digest: String,
    #[serde(default)]
    pub number_last4: String,
    pub region: String,
    #[serde(with = "ymd")]
    pub expires_on: Date,
    #[serde(default)]
    pub verification: Verification,
    /// Expiry alerts already sent (or made pointless by a more urgent one) for this expiry date.
    #[serde(default)]
    pub alerts_sent: Vec<Alert>,
}

/// What a license number's digest is signed for (a key of the ring derived for this use only).
pub const LICENSE_NUMBER: &str = "license number";

impl LicenseRecord {
    pub fn new(license: &License, keys: &KeyRing) -> Self {
        LicenseRecord {
            legal_name: license.legal_name.clone(),
            number_digest: keys.sign(LICENSE_NUMBER, license.number.as_bytes()),
            number_last4: license.number_last4().to_owned(),
            region: license.region.clone(),
            expires_on: license.expires_on,
            verification: Verification::Manual,
            alerts_sent: Vec::new(),
        }
    }

    /// Whether `number` (normalised) is this license's number.
    pub fn has_number(&self, number: &str, keys: &KeyRing) -> bool {
        keys.verify(LICENSE_NUMBER, number.as_bytes(), &self.number_digest)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewStatus {
    Pending,
    Approved,
    Rejected,
}

/// The latest application to drive and its outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewRecord {
    pub status: ReviewStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub submitted_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub decided_at: Option<OffsetDateTime>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub decided_by: Option<Ulid>,
}

/// What a scan read from a license photo (the number only by its last four characters).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Extracted {
    #[schema(required = true)]
    pub legal_name: Option<String>,
    #[schema(required = true)]
    pub number_last4: Option<String>,
    #[serde(with = "ymd::option")]
    #[schema(required = true)]
    pub expires_on: Option<Date>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanRecord {
    pub object_key: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub extracted: Extracted,
}

pub const STAMP: &str = "stamp";
const ALERT_INDEX: &str = "LICENSE_ALERT";

pub fn driver_key(user: Ulid) -> Key {
    Key::new(user_partition(user), "DRIVER")
}

/// The user a driver item belongs to (from its key).
pub fn user_of(item: &Item) -> Option<Ulid> {
    item.key.pk.strip_prefix("USER#")?.parse().ok()
}

fn item(user: Ulid, driver: &DriverRecord) -> Item {
    let item = Item::new(driver_key(user), to_attrs(driver));
    match driver.next_alert_at {
        Some(at) => item.in_gsi1(Key::new(ALERT_INDEX, format!("{:012}#{user}", at.max(0)))),
        None => item,
    }
}

/// The driver profile of a new account.
pub fn create(user: Ulid, driver: &DriverRecord) -> Write {
    Write::Put { item: item(user, driver), cond: Cond::NotExists }
}

/// Replaces the driver profile whatever it holds (a registration replacing a pending one).
pub fn overwrite(user: Ulid, driver: &DriverRecord) -> Write {
    Write::Put { item: item(user, driver), cond: Cond::Always }
}

/// Replaces the driver profile if it still carries the stamp it was read with; `driver` must
/// carry a new stamp (see `DriverRecord::restamp`).
pub fn replace(user: Ulid, driver: &DriverRecord, read_stamp: Option<Ulid>) -> Write {
    Write::Put {
        item: item(user, driver),
        cond: Cond::equals(STAMP, super::accounts::stamp_value(read_stamp)),
    }
}

impl DriverRecord {
    /// A new user's driver profile: no capability yet, the license if one was entered.
    pub fn new(campus_id: &str, license: Option<LicenseRecord>, calendar: &Calendar) -> Self {
        let mut driver = DriverRecord { campus_id: campus_id.to_owned(), license, ..Default::default() };
        driver.reindex(calendar);
        driver
    }

    /// Recomputes when the license's next expiry alert falls due (after any license change or
    /// alert), which moves or drops the item's entry in the sweep's index.
    pub fn reindex(&mut self, calendar: &Calendar) {
        self.next_alert_at =
            self.license.as_ref().and_then(|l| next_alert_at(l.expires_on, &l.alerts_sent, calendar));
    }

    /// Gives the record a new stamp and returns the one it was read with.
    pub fn restamp(&mut self) -> Option<Ulid> {
        self.stamp.replace(Ulid::new())
    }
}

/// A driver profile read on its own (a retry after a conflict). A batch read like the others
/// (the session, the admin's target), so the functions need one read action.
pub async fn get(store: &dyn Store, user: Ulid) -> Result<Option<DriverRecord>, StoreError> {
    super::get_record(store, driver_key(user)).await
}

/// The licenses whose next alert is due at or before `now` (epoch seconds), a page at a time.
pub fn alerts_due_query(now: i64, limit: usize) -> Query {
    Query {
        index: Some(crate::store::Index::Gsi1),
        limit,
        ..Query::new(ALERT_INDEX, SkRange::Between("0".into(), format!("{:012}#~", now.max(0))))
    }
}

/// Marks that `alert` went out for the license expiring on `expires_on`: the write fails if it
/// already did, so no retry or overlapping sweep sends it twice. Kept a while past the expiry.
pub fn alert_marker(user: Ulid, expires_on: Date, alert: Alert) -> Write {
    let key = Key::new(user_partition(user), format!("ALERT#{expires_on}#{}", alert.as_str()));
    let keep_until = (expires_on + time::Duration::days(60)).midnight().assume_utc().unix_timestamp();
    Write::Put { item: Item::new(key, Default::default()).expiring(keep_until), cond: Cond::NotExists }
}

/// The review queue of a campus: one item per pending application, oldest first.
fn queue_partition(campus: &str) -> String {
    format!("REVIEW#{campus}")
}

fn queue_key(campus: &str, submitted_at: OffsetDateTime, user: Ulid) -> Key {
    Key::new(queue_partition(campus), format!("{:012}#{user}", submitted_at.unix_timestamp().max(0)))
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueueEntry {
    user_id: Ulid,
}

pub fn enqueue_review(campus: &str, submitted_at: OffsetDateTime, user: Ulid) -> Write {
    Write::Put {
        item: Item::new(queue_key(campus, submitted_at, user), to_attrs(&QueueEntry { user_id: user })),
        cond: Cond::NotExists,
    }
}

pub fn dequeue_review(campus: &str, submitted_at: OffsetDateTime, user: Ulid) -> Write {
    Write::Delete { key: queue_key(campus, submitted_at, user), cond: Cond::Always }
}

/// A page of a campus's pending applications (user ids), oldest first.
pub async fn review_queue(
    store: &dyn Store,
    campus: &str,
    limit: usize,
    after: Option<crate::store::Cursor>,
) -> Result<(Vec<Ulid>, Option<crate::store::Cursor>), StoreError> {
    let query = Query { limit, after, ..Query::new(queue_partition(campus), SkRange::All) };
    let page = store.query(&query).await?;
    let users =
        page.items.iter().map(|i| from_item::<QueueEntry>(i).map(|e| e.user_id)).collect::<Result<_, _>>()?;
    Ok((users, page.next))
}
