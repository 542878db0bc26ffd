//! Error monitoring end to end: with `SENTRY_DSN` pointing at a loopback server acting as
//! Sentry's ingest endpoint, a request that fails on the server sends one event, which carries
//! the function, release, environment, the request's id and route and the user's id, and
//! contains no cookie, no body, no secret and no email address. (Its own test binary: the Sentry
//! client and the log subscriber are process-wide.)

mod support;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::routing::post;
use carpool::store::{Item, Key, Page, Query, Store, StoreError, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::app::*;

/// Queries fail, as with an item that does not decode, once `broken` is set.
struct Broken {
    inner: Arc<dyn Store>,
    broken: AtomicBool,
}

#[async_trait]
impl Store for Broken {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.inner.get(key).await
    }
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, StoreError> {
        self.inner.get_many(keys).await
    }
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        if self.broken.load(Ordering::SeqCst) {
            return Err(StoreError::Corrupt(
                "item EMAIL#sam.student@example.edu/EMAIL does not decode".into(),
            ));
        }
        self.inner.query(query).await
    }
    async fn write(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.inner.write(writes).await
    }
    async fn increment(&self, key: &Key, attr: &str, by: i64, expires_at: i64) -> Result<i64, StoreError> {
        self.inner.increment(key, attr, by, expires_at).await
    }
}

/// A loopback "Sentry": the envelopes posted to it.
async fn ingest() -> (String, Arc<Mutex<Vec<String>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let kept = received.clone();
    let app = axum::Router::new().route(
        "/api/1/envelope/",
        post(move |body: String| {
            let kept = kept.clone();
            async move {
                kept.lock().unwrap().push(body);
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dsn = format!("http://0123456789abcdef@{}/1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (dsn, received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_error_reaches_sentry_tagged_and_scrubbed() {
    let (dsn, received) = ingest().await;
    assert!(carpool::monitoring::init("carpool-test", Some(&dsn), "test"));
    tracing::subscriber::set_global_default(carpool::telemetry::subscriber(std::io::sink)).unwrap();

    let base = embedded().await;
    let store = Arc::new(Broken { inner: base.store.clone(), broken: AtomicBool::new(false) });
    let app = App::with(store.clone(), base.clock.clone(), |_| ()).await;
    let cookie = app.signed_in("sam.student@example.edu", false).await;
    let user_id = app.user_id("sam.student@example.edu").await;

    store.broken.store(true, Ordering::SeqCst);
    // (Not `app.get`: the test app's mailer runs after each request, and needs the store.)
    let request = Request::get("/api/chat/conversations").header(header::COOKIE, &cookie).body(Body::empty());
    let failed = app.request_only(request.unwrap()).await;
    assert_eq!((failed.status, failed.code()), (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"));
    let request_id = failed.headers["x-request-id"].to_str().unwrap().to_owned();
    carpool::monitoring::flush().await;

    let mut envelopes = Vec::new();
    for _ in 0..50 {
        envelopes = received.lock().unwrap().clone();
        if !envelopes.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let events: Vec<serde_json::Value> = envelopes
        .iter()
        .flat_map(|e| e.lines().filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()))
        .filter(|item| item.get("tags").is_some())
        .collect();
    let event = events.iter().find(|e| e["tags"]["request_id"] == request_id.as_str()).unwrap_or_else(|| {
        panic!("no event for request {request_id} in {envelopes:?}");
    });
    assert_eq!(event["tags"]["function"], "carpool-test");
    assert_eq!(event["tags"]["route"], "/api/chat/conversations");
    assert_eq!(event["release"], concat!("carpool@", env!("CARGO_PKG_VERSION")));
    assert_eq!(event["environment"], "test");
    assert_eq!(event["user"], serde_json::json!({ "id": user_id }));
    let all = envelopes.join("\n");
    assert!(all.contains("***@example.edu"), "the address is masked: {all}");
    assert!(!all.contains("sam.student"), "an email reached Sentry: {all}");
    assert!(!all.contains("sam.student@example.edu"), "an email reached Sentry: {all}");
    let session = cookie.split('=').nth(1).unwrap();
    assert!(!all.contains(session), "the session cookie reached Sentry");
    assert!(!all.contains(PASSWORD), "a password reached Sentry");
}
