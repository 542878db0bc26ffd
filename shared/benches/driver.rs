//! `cargo bench -p carpool --bench driver`: prints the driver rows of the README's performance
//! table.
//!
//! - the license sweep over many drivers with 1% due: items read (the target is at most twice
//!   the drivers notified: each due license's index entry, and its driver's account for the
//!   mail), store calls and time, on the embedded store and, with `CARPOOL_TEST_MOTO_URL` set, on
//!   DynamoDB (moto). `CARPOOL_BENCH_DRIVERS` sets the count (default 100,000); moto serves one
//!   request at a time and seeds slowly, so its row defaults to 2,000 (`CARPOOL_BENCH_MOTO_DRIVERS`):
//!   the sweep's reads do not depend on the drivers not due, which is the point;
//! - the scan request in process on the embedded store with an OCR that answers at once, so
//!   the time is the server's own (AnalyzeID itself takes seconds).

mod common;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use carpool::clock::{Clock, ManualClock};
use carpool::config::AuthConfig;
use carpool::documents::local::LocalDocuments;
use carpool::documents::{LicenseOcr, OcrError};
use carpool::domain::analyze_id::AnalyzeIdResponse;
use carpool::domain::calendar::Calendar;
use carpool::domain::license::License;
use carpool::driver::Documents;
use carpool::http::{local_router, AppState, Ports};
use carpool::push::local::LocalPusher;
use carpool::repo::accounts;
use carpool::repo::campuses;
use carpool::repo::drivers::{DriverRecord, LicenseRecord};
use carpool::store::dynamo::DynamoStore;
use carpool::store::embedded::EmbeddedStore;
use carpool::store::{Store, Write};
use common::{call, config, seeded_user, Counting, NoMail};
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;
use tower::ServiceExt;

fn documents(
    clock: Arc<dyn Clock>,
    config: &AuthConfig,
    ocr: Arc<dyn LicenseOcr>,
) -> (Documents, LocalDocuments) {
    let dir = tempfile::tempdir().unwrap().keep();
    let local = LocalDocuments::new(&dir, "http://bench", config.key_ring.clone().unwrap(), clock);
    (Documents { uploads: Arc::new(local.clone()), ocr }, local)
}

/// `count` drivers of the demo campus with a license each; every hundredth expires in three days
/// (an alert is due), the others within a year (none due).
async fn seed(store: &dyn Store, count: usize, clock: &dyn Clock, keys: &carpool::seal::KeyRing) {
    let calendar = Calendar::new("America/New_York").unwrap();
    let today = calendar.today(clock.now());
    let mut writes: Vec<Write> = Vec::new();
    for i in 0..count {
        let days = if i % 100 == 0 { 3 } else { 60 + (i % 300) as i64 };
        let license =
            License::parse("Dana Driver", "D1234567", "CA", today + time::Duration::days(days), today)
                .unwrap();
        let user = seeded_user(clock, format!("driver{i}@example.edu"), "Dana Driver");
        let driver = DriverRecord::new("example", Some(LicenseRecord::new(&license, keys)), &calendar);
        writes.extend(accounts::create_writes(&user, &driver));
        if writes.len() >= 99 {
            store.write(std::mem::take(&mut writes)).await.unwrap();
        }
    }
    if !writes.is_empty() {
        store.write(writes).await.unwrap();
    }
}

async fn sweep_row<S: Store>(name: &str, store: S, count: usize) {
    let store = Arc::new(Counting::new(store));
    let demo = include_str!("../../infra/campuses.json");
    campuses::seed(store.as_ref(), &campuses::parse_list(demo).unwrap()).await.unwrap();
    let clock = Arc::new(ManualClock::starting_now());
    let config = config();
    let started = Instant::now();
    seed(store.as_ref(), count, clock.as_ref(), config.key_ring.as_ref().unwrap()).await;
    let seeding = started.elapsed();
    let (docs, local) = documents(clock.clone(), &config, Arc::new(InstantOcr));
    drop(local);
    let state = AppState::new(
        Ports {
            store: store.clone(),
            mailer: Arc::new(NoMail),
            clock,
            documents: docs,
            pusher: Arc::new(LocalPusher::default()),
        },
        config,
    )
    .unwrap();
    let (items, calls) = (store.items_read.load(Ordering::Relaxed), store.calls.load(Ordering::Relaxed));
    let started = Instant::now();
    let summary = state.driver.sweep().await.unwrap();
    let took = started.elapsed();
    let items = store.items_read.load(Ordering::Relaxed) - items;
    let calls = store.calls.load(Ordering::Relaxed) - calls;
    let notified = summary.alerts_sent.max(1);
    println!(
        "| sweep, {count} drivers, 1% due ({name}) | {} notified; {items} items read ({:.2}x the notified; target <= 2x), {calls} store calls, {:.2} s (seeded in {:.0} s) |",
        summary.alerts_sent,
        items as f64 / notified as f64,
        took.as_secs_f64(),
        seeding.as_secs_f64()
    );
    let again = state.driver.sweep().await.unwrap();
    println!("| sweep run again at once ({name}) | {} index entries read |", again.examined);
}

/// An OCR that answers at once with a readable license of Dana Driver.
struct InstantOcr;

#[async_trait]
impl LicenseOcr for InstantOcr {
    async fn analyze(&self, _key: &str) -> Result<AnalyzeIdResponse, OcrError> {
        let field = |kind: &str, text: &str| json!({"Type": {"Text": kind}, "ValueDetection": {"Text": text, "Confidence": 99.0}});
        let response = json!({"IdentityDocuments": [{"IdentityDocumentFields": [
            field("FIRST_NAME", "DANA"), field("LAST_NAME", "DRIVER"), field("DOCUMENT_NUMBER", "D1234567"),
            field("EXPIRATION_DATE", "01/31/2030"),
        ]}]});
        Ok(serde_json::from_value(response).unwrap())
    }
}

async fn scan_row() {
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::starting_now());
    let store = Arc::new(EmbeddedStore::open(dir.path(), clock.clone()).unwrap());
    let demo = include_str!("../../infra/campuses.json");
    campuses::seed(store.as_ref(), &campuses::parse_list(demo).unwrap()).await.unwrap();
    let config = config();
    let (docs, local) = documents(clock.clone(), &config, Arc::new(InstantOcr));
    let app = local_router(
        AppState::new(
            Ports {
                store,
                mailer: Arc::new(NoMail),
                clock,
                documents: docs,
                pusher: Arc::new(LocalPusher::default()),
            },
            config,
        )
        .unwrap(),
    )
    .merge(local.router());
    let password = "marble kiosk velvet tundra";
    let (_, reg, _) = call(
        &app,
        "POST",
        "/api/auth/register",
        json!({"email": "dana@example.edu", "password": password, "name": "Dana"}),
        None,
    )
    .await;
    call(&app, "POST", "/api/auth/verify-email", json!({"token": reg["devVerificationToken"]}), None).await;
    let (_, _, cookie) = call(
        &app,
        "POST",
        "/api/auth/signin",
        json!({"email": "dana@example.edu", "password": password, "rememberMe": true}),
        None,
    )
    .await;
    let cookie = cookie.unwrap();
    let license =
        json!({"legalName": "Dana Driver", "number": "D1234567", "region": "CA", "expiresOn": "2030-01-31"});
    call(&app, "PUT", "/api/auth/driver/license", license, Some(&cookie)).await;
    let photo = b"\x89PNG\r\n\x1a\n a photo".to_vec();
    let (_, grant, _) = call(
        &app,
        "POST",
        "/api/auth/driver/license/upload",
        json!({"contentType": "image/png", "contentLength": photo.len()}),
        Some(&cookie),
    )
    .await;
    let url = grant["uploadUrl"].as_str().unwrap().strip_prefix("http://bench").unwrap().to_owned();
    let put = Request::put(url)
        .header(header::CONTENT_TYPE, "image/png")
        .header(header::CONTENT_LENGTH, photo.len())
        .body(Body::from(photo))
        .unwrap();
    assert_eq!(app.clone().oneshot(put).await.unwrap().status(), StatusCode::OK);
    let key = json!({"objectKey": grant["objectKey"]});
    let mut samples = Vec::new();
    for _ in 0..300 {
        let started = Instant::now();
        let (status, body, _) =
            call(&app, "POST", "/api/auth/driver/license/scan", key.clone(), Some(&cookie)).await;
        samples.push(started.elapsed());
        assert_eq!((status, body["verification"].as_str()), (StatusCode::OK, Some("ocr_matched")), "{body}");
    }
    samples.sort();
    let at = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "| scan request without OCR, embedded (median, p99) | {:.3} ms, {:.3} ms |",
        at(0.5).as_secs_f64() * 1000.0,
        at(0.99).as_secs_f64() * 1000.0
    );
}

fn count(var: &str, default: usize) -> usize {
    std::env::var(var).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() {
    println!("| measurement | value |");
    println!("|---|---|");
    scan_row().await;
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::starting_now());
    let embedded = EmbeddedStore::open(dir.path(), clock).unwrap();
    sweep_row("embedded", embedded, count("CARPOOL_BENCH_DRIVERS", 100_000)).await;
    if let Ok(endpoint) = std::env::var("CARPOOL_TEST_MOTO_URL") {
        let (client, table) = common::moto_table(&endpoint).await;
        let clock = Arc::new(ManualClock::starting_now());
        let dynamo = DynamoStore::new(client, table, clock);
        sweep_row("DynamoDB (moto)", dynamo, count("CARPOOL_BENCH_MOTO_DRIVERS", 2_000)).await;
    }
}
