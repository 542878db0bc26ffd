//! `cargo bench -p carpool --bench rides`: prints the carpool rows of the README's performance
//! table.
//!
//! - a feed page (20 rides) on one campus holding 1k, 10k and 100k rides, about a quarter of them out
//!   of the feed (cancelled, full, hidden): time per page on the embedded store (target: flat, within
//!   1.5x from 1k to 100k) and items read per page, from the feed index and in all, on both
//!   stores (target: index items at most twice the page). Moto's Query walks every item of a
//!   partition (about 10 s a page at 10k rides, and it keeps every table in memory), so its time
//!   says nothing and is not shown; its size defaults to 1k (`CARPOOL_BENCH_MOTO_RIDES`,
//!   comma-separated); what is read per page does not depend on it;
//! - 50 concurrent accepts on a 3-seat offer: the time until every one is answered (3 accepted,
//!   47 `ride_full`), embedded store.

mod common;

use axum::http::StatusCode;
use carpool::clock::{Clock, ManualClock};
use carpool::config::AuthConfig;
use carpool::domain::calendar::Calendar;
use carpool::domain::license::License;
use carpool::domain::ride::{Kind, Place, RequestStatus, RideState};
use carpool::driver::Documents;
use carpool::http::{local_router, AppState, Ports};
use carpool::push::local::LocalPusher;
use carpool::repo::accounts;
use carpool::repo::campuses;
use carpool::repo::drivers::{DriverRecord, LicenseRecord};
use carpool::repo::rides::{self, RequestRecord, RideRecord};
use carpool::store::dynamo::DynamoStore;
use carpool::store::embedded::EmbeddedStore;
use carpool::store::{Store, Write};
use common::{call, config, seeded_user, Counting, NoMail};
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use ulid::Ulid;

const PASSWORD: &str = "marble kiosk velvet tundra";
const PAGE: usize = 20;
const DRIVERS: usize = 200;

/// The whole API over `store`, mail dropped, no sockets.
fn app(store: Arc<dyn Store>, clock: Arc<dyn Clock>, config: AuthConfig) -> axum::Router {
    let documents = documents(clock.clone(), &config);
    let ports =
        Ports { store, mailer: Arc::new(NoMail), clock, documents, pusher: Arc::new(LocalPusher::default()) };
    local_router(AppState::new(ports, config).unwrap())
}

fn documents(clock: Arc<dyn Clock>, config: &AuthConfig) -> Documents {
    let dir = tempfile::tempdir().unwrap().keep();
    let local = carpool::documents::local::LocalDocuments::new(
        &dir,
        "http://bench",
        config.key_ring.clone().unwrap(),
        clock,
    );
    Documents { uploads: Arc::new(local.clone()), ocr: Arc::new(local) }
}

/// Writes in transactions of at most 99.
struct Batch<'a> {
    store: &'a dyn Store,
    writes: Vec<Write>,
}

impl Batch<'_> {
    async fn push(&mut self, mut writes: Vec<Write>) {
        if self.writes.len() + writes.len() > 99 {
            self.flush().await;
        }
        self.writes.append(&mut writes);
    }

    async fn flush(&mut self) {
        if !self.writes.is_empty() {
            self.store.write(std::mem::take(&mut self.writes)).await.unwrap();
        }
    }
}

/// `count` rides of the demo campus over the next 90 days: offers by approved, available
/// drivers, and requests; about a quarter out of the feed (cancelled, full or hidden).
async fn seed(store: &dyn Store, count: usize, clock: &dyn Clock, keys: &carpool::seal::KeyRing) {
    let calendar = Calendar::new("America/New_York").unwrap();
    let today = calendar.today(clock.now());
    let mut batch = Batch { store, writes: Vec::new() };
    let mut drivers = Vec::new();
    for i in 0..DRIVERS {
        let account = seeded_user(clock, format!("seeded-driver{i}@example.edu"), "Sam Seeded");
        let license =
            License::parse("Sam Seeded", "D1234567", "CA", today + time::Duration::days(400), today).unwrap();
        let mut driver = DriverRecord::new("example", Some(LicenseRecord::new(&license, keys)), &calendar);
        driver.capability = carpool::domain::driver::Capability::Approved;
        driver.available = true;
        batch.push(accounts::create_writes(&account, &driver)).await;
        drivers.push(account.id);
    }
    let now = clock.now();
    let span = 90 * 24 * 3600 - 3600;
    for i in 0..count {
        let offset = 3600 + (i as i64 * 7919) % span;
        let kind = if i % 3 == 0 { Kind::Request } else { Kind::Offer };
        let (state, taken, hidden) = match (i % 10, kind) {
            (0 | 5, _) => (RideState::Cancelled, 0, false),
            (1, Kind::Offer) => (RideState::Open, 3, false),
            (2, Kind::Offer) => (RideState::Open, 0, true),
            _ => (RideState::Open, 0, false),
        };
        let ride = RideRecord {
            id: Ulid::new(),
            campus_id: "example".into(),
            kind,
            author_id: drivers[i % DRIVERS],
            author_name: "Sam Seeded".into(),
            origin: Place { label: "Main gate".into(), lat: Some(40.7128), lng: Some(-74.006) },
            destination: Place { label: "Airport".into(), lat: None, lng: None },
            depart_at: now + time::Duration::seconds(offset),
            seats: 3,
            seats_taken: taken,
            notes: String::new(),
            state,
            riders: Vec::new(),
            hidden,
            conversation_id: Ulid::new(),
            created_at: now,
            version: 1,
        };
        batch.push(vec![rides::create_ride(&ride)]).await;
    }
    batch.flush().await;
}

/// A signed-in reader of the campus: the cookie.
async fn reader(app: &axum::Router, email: &str) -> String {
    let body = json!({"email": email, "password": PASSWORD, "name": "Riley"});
    let (_, reg, _) = call(app, "POST", "/api/auth/register", body, None).await;
    call(app, "POST", "/api/auth/verify-email", json!({"token": reg["devVerificationToken"]}), None).await;
    let body = json!({"email": email, "password": PASSWORD, "rememberMe": true});
    let (status, _, cookie) = call(app, "POST", "/api/auth/signin", body, None).await;
    assert_eq!(status, StatusCode::OK);
    cookie.unwrap()
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

/// Pages through the feed from several starting points; prints time (when `timed`) and items
/// read per page. Returns the median time.
async fn feed_row<S: Store>(name: &str, store: S, count: usize, timed: bool) -> Duration {
    let store = Arc::new(Counting::new(store));
    let demo = include_str!("../../infra/campuses.json");
    campuses::seed(store.as_ref(), &campuses::parse_list(demo).unwrap()).await.unwrap();
    let clock = Arc::new(ManualClock::starting_now());
    let config = config();
    seed(store.as_ref(), count, clock.as_ref(), config.key_ring.as_ref().unwrap()).await;
    let app = app(store.clone(), clock.clone(), config);
    let cookie = reader(&app, "riley@example.edu").await;
    let mut samples = Vec::new();
    let (mut index_items, mut items, mut pages) = (0, 0, 0);
    let rounds = if timed { 200 } else { 20 };
    for round in 0..rounds {
        // Start anywhere in the first 60 days, so pages come from all over the index and are full.
        let from = clock.now() + time::Duration::hours(1 + (round * 37) % (60 * 24));
        let from = from.format(&time::format_description::well_known::Rfc3339).unwrap();
        let path = format!("/api/carpool/rides?limit={PAGE}&from={from}");
        let before = (store.index_items.load(Ordering::Relaxed), store.items_read.load(Ordering::Relaxed));
        let started = Instant::now();
        let (status, body, _) = call(&app, "GET", &path, json!(null), Some(&cookie)).await;
        samples.push(started.elapsed());
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["rides"].as_array().unwrap().len(), PAGE);
        index_items += store.index_items.load(Ordering::Relaxed) - before.0;
        items += store.items_read.load(Ordering::Relaxed) - before.1;
        pages += 1;
    }
    let median = percentile(&mut samples, 0.5);
    let time = if timed {
        format!(
            "{:.3} ms median, {:.3} ms p99",
            median.as_secs_f64() * 1000.0,
            percentile(&mut samples, 0.99).as_secs_f64() * 1000.0
        )
    } else {
        "(not timed)".to_owned()
    };
    println!(
        "| feed page of {PAGE}, {count} rides on one campus, {name} | {time}; {:.1} index items, {:.1} items in all per page |",
        index_items as f64 / pages as f64,
        items as f64 / pages as f64,
    );
    median
}

/// 50 concurrent accepts on a 3-seat offer, until all are answered.
async fn contention_row() {
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::starting_now());
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(dir.path(), clock.clone()).unwrap());
    let demo = include_str!("../../infra/campuses.json");
    campuses::seed(store.as_ref(), &campuses::parse_list(demo).unwrap()).await.unwrap();
    let config = config();
    let app = app(store.clone(), clock.clone(), config);
    let author = reader(&app, "author@example.edu").await;
    let author_id: Ulid = accounts::user_id_for_email(
        store.as_ref(),
        &carpool::domain::email::Email::parse("author@example.edu").unwrap(),
    )
    .await
    .unwrap()
    .unwrap();
    let mut samples = Vec::new();
    for _ in 0..5 {
        // A request ride would match one driver; an offer needs an approved driver, so the
        // author's offer is seeded directly (posting rules have their own tests).
        let now = clock.now();
        let ride = RideRecord {
            id: Ulid::new(),
            campus_id: "example".into(),
            kind: Kind::Offer,
            author_id,
            author_name: "Riley".into(),
            origin: Place { label: "Main gate".into(), lat: None, lng: None },
            destination: Place { label: "Airport".into(), lat: None, lng: None },
            depart_at: now + time::Duration::days(2),
            seats: 3,
            seats_taken: 0,
            notes: String::new(),
            state: RideState::Open,
            riders: Vec::new(),
            hidden: false,
            conversation_id: Ulid::new(),
            created_at: now,
            version: 1,
        };
        let conversation = carpool::repo::conversations::ConversationRecord {
            id: ride.conversation_id,
            kind: carpool::repo::conversations::ConversationKind::Ride,
            campus_id: "example".into(),
            ride_id: Some(ride.id),
            title: "Main gate → Airport".into(),
            members: vec![author_id],
            closed: false,
            created_at: now,
            last_message: None,
            last_message_id: None,
        };
        let mut batch = Batch { store: store.as_ref(), writes: Vec::new() };
        let mut writes = vec![rides::create_ride(&ride)];
        writes.extend(carpool::repo::conversations::create(&conversation));
        batch.push(writes).await;
        let mut requests = Vec::new();
        for i in 0..50 {
            let rider = seeded_user(
                clock.as_ref(),
                format!("rider{i}-{}@example.edu", ride.id).to_lowercase(),
                "Sam Seeded",
            );
            let request = RequestRecord {
                id: Ulid::new(),
                ride_id: ride.id,
                rider_id: rider.id,
                rider_name: rider.name.clone(),
                seats: 1,
                message: String::new(),
                status: RequestStatus::Pending,
                created_at: now,
            };
            let driver = DriverRecord::new("example", None, &Calendar::new("America/New_York").unwrap());
            let mut writes = accounts::create_writes(&rider, &driver);
            writes.push(rides::create_request(&request));
            batch.push(writes).await;
            requests.push(request.id);
        }
        batch.flush().await;
        let started = Instant::now();
        let answers = futures::future::join_all(requests.iter().map(|r| {
            let path = format!("/api/carpool/rides/{}/requests/{r}/accept", ride.id);
            let app = app.clone();
            let author = author.clone();
            async move { call(&app, "POST", &path, json!({}), Some(&author)).await.0 }
        }))
        .await;
        samples.push(started.elapsed());
        assert_eq!(answers.iter().filter(|s| **s == StatusCode::OK).count(), 3);
        assert_eq!(answers.iter().filter(|s| **s == StatusCode::CONFLICT).count(), 47);
    }
    println!(
        "| 50 concurrent accepts on a 3-seat offer, embedded (until all answered; median of 5) | {:.1} ms |",
        percentile(&mut samples, 0.5).as_secs_f64() * 1000.0
    );
}

#[tokio::main]
async fn main() {
    println!("| measurement | value |");
    println!("|---|---|");
    let mut medians = Vec::new();
    for count in [1_000, 10_000, 100_000] {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::starting_now());
        let embedded = EmbeddedStore::open(dir.path(), clock).unwrap();
        medians.push(feed_row("embedded", embedded, count, true).await);
    }
    println!(
        "| feed page time, 100k rides / 1k rides, embedded (target at most 1.5) | {:.2} |",
        medians[2].as_secs_f64() / medians[0].as_secs_f64()
    );
    contention_row().await;
    if let Ok(endpoint) = std::env::var("CARPOOL_TEST_MOTO_URL") {
        let sizes = std::env::var("CARPOOL_BENCH_MOTO_RIDES").unwrap_or_else(|_| "1000".into());
        for count in sizes.split(',').filter_map(|c| c.trim().parse().ok()) {
            let (client, table) = common::moto_table(&endpoint).await;
            let dynamo = DynamoStore::new(client, table, Arc::new(ManualClock::starting_now()));
            feed_row("DynamoDB (moto)", dynamo, count, false).await;
        }
    }
}
