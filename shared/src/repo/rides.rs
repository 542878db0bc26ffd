//! Rides, join requests and each user's links to the rides they posted or asked to join.
//!
//! The feed index is the ride item itself. While a ride takes riders (open, seats left, and for
//! an offer, its driver available) it carries
//! - `gsi1` `FEED#<campusId>` / `<departAt>#<rideId>`: the campus feed, every kind;
//! - `gsi2` `FEED#<campusId>#<kind>` / the same: the feed of one kind.
//!
//! Every write of a ride recomputes both, so full, cancelled and matched rides and offers of a
//! driver who turned availability off leave the feed in the write that makes them so. Departed
//! rides stay indexed but below every window (the feed starts at the clock's now), so they are
//! never read. `departAt` is whole seconds in a fixed-width UTC form, so it sorts as text.
//!
//! Every change of a ride is a put on condition of the `version` it was read with, in one
//! transaction with the requests, links and conversation it touches: seats can never be
//! overbooked, whatever the concurrency.

use super::accounts::user_partition;
use super::{from_item, to_attrs};
use crate::domain::ride::{Kind, Place, RequestStatus, RideState, Seats};
use crate::store::{Cond, Cursor, Index, Item, Key, Query, SkRange, Store, StoreError, Write};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use ulid::Ulid;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RideRecord {
    pub id: Ulid,
    pub campus_id: String,
    pub kind: Kind,
    pub author_id: Ulid,
    pub author_name: String,
    pub origin: Place,
    pub destination: Place,
    #[serde(with = "time::serde::rfc3339")]
    pub depart_at: OffsetDateTime,
    pub seats: u8,
    /// Seats held by accepted riders (offers).
    pub seats_taken: u8,
    pub notes: String,
    pub state: RideState,
    /// Accepted riders (offers) or the accepted driver (requests): with the author, the
    /// members of the ride's conversation.
    pub riders: Vec<Ulid>,
    /// An offer whose driver turned availability off: out of the feed until it is on again.
    #[serde(default)]
    pub hidden: bool,
    pub conversation_id: Ulid,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Moves on with every write (optimistic concurrency).
    pub version: u64,
}

impl RideRecord {
    pub fn seats(&self) -> Seats {
        Seats { kind: self.kind, state: self.state, seats: self.seats, taken: self.seats_taken }
    }

    pub fn departed(&self, now: OffsetDateTime) -> bool {
        self.depart_at <= now
    }

    /// The author and the accepted riders.
    pub fn members(&self) -> Vec<Ulid> {
        std::iter::once(self.author_id).chain(self.riders.iter().copied()).collect()
    }

    pub fn is_member(&self, user: Ulid) -> bool {
        self.author_id == user || self.riders.contains(&user)
    }

    fn in_feed(&self) -> bool {
        self.seats().is_open() && !self.hidden
    }
}

pub const VERSION: &str = "version";

pub fn ride_key(id: Ulid) -> Key {
    Key::new(format!("RIDE#{id}"), "RIDE")
}

/// The sort key of the feed indexes.
pub fn feed_position(depart_at: OffsetDateTime, ride: &str) -> String {
    format!("{}#{ride}", depart_time(depart_at))
}

/// `YYYY-MM-DDTHH:MM:SSZ`: the same width for every time this service accepts.
fn depart_time(t: OffsetDateTime) -> String {
    // Callers bound their times to the next 90 days; far-off ones keep their offset, not panic.
    let t = t.checked_to_offset(time::UtcOffset::UTC).unwrap_or(t);
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&Rfc3339).expect("UTC times format as RFC 3339")
}

fn feed_partition(campus: &str, kind: Option<Kind>) -> String {
    match kind {
        None => format!("FEED#{campus}"),
        Some(kind) => format!("FEED#{campus}#{}", kind.as_str()),
    }
}

fn ride_item(ride: &RideRecord) -> Item {
    let item = Item::new(ride_key(ride.id), to_attrs(ride));
    if !ride.in_feed() {
        return item;
    }
    let position = feed_position(ride.depart_at, &ride.id.to_string());
    item.in_gsi1(Key::new(feed_partition(&ride.campus_id, None), position.clone()))
        .in_gsi2(Key::new(feed_partition(&ride.campus_id, Some(ride.kind)), position))
}

pub fn create_ride(ride: &RideRecord) -> Write {
    Write::Put { item: ride_item(ride), cond: Cond::NotExists }
}

/// Writes `ride` over the version it was read at; `ride.version` must already be the next one.
pub fn replace_ride(ride: &RideRecord) -> Write {
    Write::Put { item: ride_item(ride), cond: Cond::equals(VERSION, ride.version - 1) }
}

pub async fn get_ride(store: &dyn Store, id: Ulid) -> Result<Option<RideRecord>, StoreError> {
    super::get_record(store, ride_key(id)).await
}

/// One page of the feed index: rides of a campus (of one kind, or all) departing between `from`
/// and `to`, soonest first.
pub fn feed_query(
    campus: &str,
    kind: Option<Kind>,
    from: OffsetDateTime,
    to: OffsetDateTime,
    limit: usize,
    after: Option<Cursor>,
) -> Query {
    let index = if kind.is_some() { Index::Gsi2 } else { Index::Gsi1 };
    // `~` sorts after every ride id, so the window takes every ride departing at `to` itself.
    let range = SkRange::Between(depart_time(from), format!("{}#~", depart_time(to)));
    Query { index: Some(index), limit, after, ..Query::new(feed_partition(campus, kind), range) }
}

/// A join request, or a driver's answer to a request ride.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestRecord {
    pub id: Ulid,
    pub ride_id: Ulid,
    pub rider_id: Ulid,
    pub rider_name: String,
    pub seats: u8,
    pub message: String,
    pub status: RequestStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

pub const STATUS: &str = "status";

pub fn request_key(ride: Ulid, request: Ulid) -> Key {
    Key::new(format!("RIDE#{ride}"), format!("REQ#{request}"))
}

pub fn create_request(request: &RequestRecord) -> Write {
    let item = Item::new(request_key(request.ride_id, request.id), to_attrs(request));
    Write::Put { item, cond: Cond::NotExists }
}

/// Writes `request` on condition that it still has the status `from`.
pub fn move_request(request: &RequestRecord, from: RequestStatus) -> Write {
    let item = Item::new(request_key(request.ride_id, request.id), to_attrs(request));
    Write::Put { item, cond: Cond::equals(STATUS, serde_json::to_value(from).unwrap_or_default()) }
}

pub async fn get_request(
    store: &dyn Store,
    ride: Ulid,
    id: Ulid,
) -> Result<Option<RequestRecord>, StoreError> {
    super::get_record(store, request_key(ride, id)).await
}

/// Every request of a ride, oldest first.
pub async fn requests_of(store: &dyn Store, ride: Ulid) -> Result<Vec<RequestRecord>, StoreError> {
    let query = Query::new(format!("RIDE#{ride}"), SkRange::Prefix("REQ#".into()));
    super::query_all(store, query).await?.iter().map(from_item).collect()
}

/// A user's link to a ride: posted it, or asked to join it (the latest request). One per user
/// and ride, so a rider's second join races with the first on this item: one wins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RideLink {
    pub ride_id: Ulid,
    /// Set for a rider: their latest request on the ride.
    #[serde(default)]
    pub request_id: Option<Ulid>,
}

pub const REQUEST_ID: &str = "requestId";

pub fn link_key(user: Ulid, ride: Ulid) -> Key {
    Key::new(user_partition(user), format!("RIDE#{ride}"))
}

pub fn author_link(user: Ulid, ride: Ulid) -> Write {
    let item = Item::new(link_key(user, ride), to_attrs(&RideLink { ride_id: ride, request_id: None }));
    Write::Put { item, cond: Cond::NotExists }
}

/// Points the rider's link at a new request, on condition that it still points at `previous`
/// (or is absent when `previous` is `None`).
pub fn rider_link(user: Ulid, ride: Ulid, request: Ulid, previous: Option<Ulid>) -> Write {
    let link = RideLink { ride_id: ride, request_id: Some(request) };
    let item = Item::new(link_key(user, ride), to_attrs(&link));
    let cond = match previous {
        None => Cond::NotExists,
        Some(previous) => Cond::equals(REQUEST_ID, previous.to_string()),
    };
    Write::Put { item, cond }
}

pub async fn get_link(store: &dyn Store, user: Ulid, ride: Ulid) -> Result<Option<RideLink>, StoreError> {
    super::get_record(store, link_key(user, ride)).await
}

/// A user's links to rides (created since `since`, when given), newest ride first, at most
/// `max`. Rides depart at most 90 days after they are posted, so the links since 90 days ago
/// cover every ride that has not departed.
pub async fn links(
    store: &dyn Store,
    user: Ulid,
    since: Option<OffsetDateTime>,
    max: usize,
) -> Result<Vec<RideLink>, StoreError> {
    let lowest = since.map_or(String::new(), |since| {
        let ms = u64::try_from((since.unix_timestamp_nanos() / 1_000_000).max(0)).unwrap_or(0);
        Ulid::from_parts(ms, 0).to_string()
    });
    let mut query = Query {
        descending: true,
        limit: max.min(100),
        ..Query::new(user_partition(user), SkRange::Between(format!("RIDE#{lowest}"), "RIDE#~".into()))
    };
    let mut out = Vec::new();
    loop {
        let page = store.query(&query).await?;
        for item in &page.items {
            out.push(from_item(item)?);
        }
        match page.next {
            Some(next) if out.len() < max => query.after = Some(next),
            _ => {
                out.truncate(max);
                return Ok(out);
            }
        }
    }
}
