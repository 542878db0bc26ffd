//! Reading rides: the campus feed, a ride's page, and the caller's own rides.
//!
//! A feed page is one query of the feed index in the common case (see `repo::rides`): the index
//! holds only rides that take riders, so what it returns is nearly always shown. Two things can
//! still hide an entry, and both are checked on every page: an offer whose driver may not drive
//! now (read from the drivers' profiles, strongly consistent, so an offer disappears the moment
//! its driver is suspended, turns availability off or sees the license expire, before any
//! re-indexing has finished), and an author either side blocked. When entries are hidden, the
//! page reads on until it is full or the window ends.

use super::views::{Joined, MyRides, RequestView, RideDetail, RideView};
use super::RideService;
use crate::cursor::{self, Page};
use crate::domain::ride::{Kind, MAX_AHEAD};
use crate::error::{AppError, AppResult};
use crate::repo::drivers::{self, DriverRecord};
use crate::repo::rides::{self, RequestRecord, RideRecord};
use crate::repo::{from_item, safety as safety_repo};
use crate::store::Cursor;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use ulid::Ulid;

/// `GET /api/carpool/rides` query, as sent.
#[derive(Default)]
pub struct FeedQuery {
    pub kind: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub cursor: Option<String>,
    pub limit: usize,
}

/// Where a feed resumes: the index position and the window the first page chose (so "now" does
/// not move under a reader paging on).
#[derive(Serialize, Deserialize)]
struct FeedPosition {
    after: String,
    from: i64,
    to: i64,
}

/// The most rides "my rides" lists: the most recently posted ones (far more than anyone's
/// upcoming rides in practice; the list has no cursor in API.md).
const MY_RIDES: usize = 200;

fn time_param(name: &str, text: Option<&str>) -> AppResult<Option<OffsetDateTime>> {
    text.filter(|t| !t.is_empty())
        .map(|t| {
            OffsetDateTime::parse(t, &Rfc3339)
                .map_err(|_| AppError::invalid(format!("{name} must be an RFC 3339 time")))
        })
        .transpose()
}

fn epoch(t: i64) -> AppResult<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(t).map_err(|_| AppError::InvalidCursor)
}

impl RideService {
    /// `GET /api/carpool/rides`: open rides of the caller's campus departing in the window
    /// (default: now to 90 days ahead), soonest first.
    pub async fn feed(&self, cookie: &str, query: FeedQuery) -> AppResult<Page<RideView>> {
        let caller = self.auth.caller(cookie).await?;
        let kind = match query.kind.as_deref().filter(|k| !k.is_empty()) {
            None => None,
            Some("offer") => Some(Kind::Offer),
            Some("request") => Some(Kind::Request),
            Some(_) => return Err(AppError::invalid("kind must be offer or request")),
        };
        let scope = format!("feed {} {} {:?}", caller.user.id, caller.campus.id, kind);
        let (from, to, mut after) = match query.cursor.as_deref().filter(|c| !c.is_empty()) {
            Some(sealed) => {
                let position: FeedPosition = cursor::open(self.keys()?, &scope, sealed)?;
                (epoch(position.from)?, epoch(position.to)?, Some(Cursor(position.after)))
            }
            None => {
                // No ride departs before now or more than 90 days ahead: the window is cut to that.
                let last = caller.now + MAX_AHEAD;
                let from = time_param("from", query.from.as_deref())?.unwrap_or(caller.now).max(caller.now);
                let to = time_param("to", query.to.as_deref())?.unwrap_or(last).min(last);
                if to < from {
                    return Err(AppError::invalid("to must not be before from (or now)"));
                }
                (from.min(last), to, None)
            }
        };
        let blocked = safety_repo::blocked_either_way(self.store.as_ref(), caller.user.id).await?;
        let mut drivers: HashMap<Ulid, DriverRecord> = HashMap::new();
        let today = caller.today();
        let mut shown = Vec::new();
        loop {
            let wanted = query.limit - shown.len();
            let q = rides::feed_query(&caller.campus.id, kind, from, to, wanted, after.take());
            let page = self.store.query(&q).await.map_err(|e| match e {
                crate::store::StoreError::BadCursor => AppError::InvalidCursor,
                other => other.into(),
            })?;
            let found: Vec<RideRecord> = page.items.iter().map(from_item).collect::<Result<_, _>>()?;
            self.load_drivers(&found, &mut drivers).await?;
            for ride in found {
                let author_may_drive = ride.kind == Kind::Request
                    || drivers.get(&ride.author_id).is_some_and(|d| super::may_drive(d, today));
                // The index is eventually consistent: a ride that just left it may still be here.
                let takes_riders = ride.seats().is_open() && !ride.hidden && !ride.departed(caller.now);
                if takes_riders && author_may_drive && !blocked.contains(&ride.author_id) {
                    shown.push(RideView::new(&ride, caller.user.id, caller.now));
                }
            }
            match page.next {
                Some(next) if shown.len() < query.limit => after = Some(next),
                Some(next) => {
                    let position =
                        FeedPosition { after: next.0, from: from.unix_timestamp(), to: to.unix_timestamp() };
                    let next_cursor = Some(cursor::seal(self.keys()?, &scope, &position)?);
                    return Ok(Page { items: shown, next_cursor });
                }
                None => return Ok(Page { items: shown, next_cursor: None }),
            }
        }
    }

    /// The driver profiles of the offers' authors not read yet, in one batch read.
    async fn load_drivers(
        &self,
        found: &[RideRecord],
        known: &mut HashMap<Ulid, DriverRecord>,
    ) -> AppResult<()> {
        let mut missing: Vec<Ulid> = found
            .iter()
            .filter(|r| r.kind == Kind::Offer)
            .map(|r| r.author_id)
            .filter(|a| !known.contains_key(a))
            .collect();
        missing.sort();
        missing.dedup();
        if missing.is_empty() {
            return Ok(());
        }
        let keys: Vec<_> = missing.iter().map(|id| drivers::driver_key(*id)).collect();
        for (id, item) in missing.into_iter().zip(self.store.get_many(&keys).await?) {
            known.insert(id, item.as_ref().map(from_item).transpose()?.unwrap_or_default());
        }
        Ok(())
    }

    /// `GET /api/carpool/rides/{id}`: the ride, the caller's own request on it, and (for the
    /// author) every request, oldest first.
    pub async fn detail(&self, cookie: &str, id: &str) -> AppResult<RideDetail> {
        let caller = self.auth.caller(cookie).await?;
        let ride = self.visible_ride(&caller, id).await?;
        let requests = if ride.author_id == caller.user.id {
            rides::requests_of(self.store.as_ref(), ride.id)
                .await?
                .iter()
                .map(|r| RequestView::new(r, &ride))
                .collect()
        } else {
            Vec::new()
        };
        let link = rides::get_link(self.store.as_ref(), caller.user.id, ride.id).await?;
        let my_request = match link.and_then(|l| l.request_id) {
            Some(request) => rides::get_request(self.store.as_ref(), ride.id, request).await?,
            None => None,
        };
        Ok(RideDetail {
            ride: RideView::new(&ride, caller.user.id, caller.now),
            my_request: my_request.map(|r| RequestView::new(&r, &ride)),
            requests,
        })
    }

    /// `GET /api/carpool/me/rides`: rides the caller posted and asked to join; upcoming ones
    /// first (soonest first), then past ones (latest first).
    pub async fn mine(&self, cookie: &str) -> AppResult<MyRides> {
        let caller = self.auth.caller(cookie).await?;
        let links = rides::links(self.store.as_ref(), caller.user.id, None, MY_RIDES).await?;
        let mut keys = Vec::new();
        for link in &links {
            keys.push(rides::ride_key(link.ride_id));
            if let Some(request) = link.request_id {
                keys.push(rides::request_key(link.ride_id, request));
            }
        }
        let mut items = HashMap::new();
        for chunk in keys.chunks(100) {
            for (key, item) in chunk.iter().zip(self.store.get_many(chunk).await?) {
                if let Some(item) = item {
                    items.insert(key.clone(), item);
                }
            }
        }
        let now = caller.now;
        let mut mine = MyRides::default();
        for link in &links {
            let Some(ride) = items.get(&rides::ride_key(link.ride_id)) else { continue };
            let ride: RideRecord = from_item(ride)?;
            match link.request_id {
                None => {
                    mine.posted.push(RideView::new(&ride, caller.user.id, now));
                }
                Some(request) => {
                    let Some(item) = items.get(&rides::request_key(link.ride_id, request)) else { continue };
                    let request: RequestRecord = from_item(item)?;
                    mine.joined.push(Joined {
                        ride: RideView::new(&ride, caller.user.id, now),
                        request: RequestView::new(&request, &ride),
                    });
                }
            }
        }
        sort_upcoming_first(&mut mine.posted, |r| (r.depart_at, r.depart_at <= now));
        sort_upcoming_first(&mut mine.joined, |j| (j.ride.depart_at, j.ride.depart_at <= now));
        Ok(mine)
    }
}

/// Upcoming first, soonest first; then past, latest first.
fn sort_upcoming_first<T>(items: &mut [T], key: impl Fn(&T) -> (OffsetDateTime, bool)) {
    items.sort_by(|a, b| {
        let ((at_a, past_a), (at_b, past_b)) = (key(a), key(b));
        past_a.cmp(&past_b).then_with(|| if past_a { at_b.cmp(&at_a) } else { at_a.cmp(&at_b) })
    });
}
