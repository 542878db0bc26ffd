//! When a dependency fails before a request can commit, the client gets `503
//! service_unavailable` with `Retry-After`, never a 500, and nothing is half-written; once it is
//! back, everything works. On both stores through a fault-injecting wrapper, and on DynamoDB
//! itself with its emulator stopped mid-test.

mod support;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use carpool::clock::ManualClock;
use carpool::store::dynamo::{create_table, DynamoStore};
use carpool::store::{Item, Key, Page, Query, Store, StoreError, Write};
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use support::app::*;
use support::rides::*;

/// A store that fails every call while `down`, as DynamoDB does in an outage or when throttling.
struct Faulty {
    inner: Arc<dyn Store>,
    down: AtomicBool,
}

impl Faulty {
    fn check(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("injected: ProvisionedThroughputExceededException".into()));
        }
        Ok(())
    }
}

#[async_trait]
impl Store for Faulty {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.check()?;
        self.inner.get(key).await
    }
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, StoreError> {
        self.check()?;
        self.inner.get_many(keys).await
    }
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        self.check()?;
        self.inner.query(query).await
    }
    async fn write(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.check()?;
        self.inner.write(writes).await
    }
    async fn increment(&self, key: &Key, attr: &str, by: i64, expires_at: i64) -> Result<i64, StoreError> {
        self.check()?;
        self.inner.increment(key, attr, by, expires_at).await
    }
}

/// A request as a client sends it (the mailer, which the test app runs after each request,
/// needs the store too).
async fn call(
    app: &App,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
    cookie: Option<&str>,
) -> Reply {
    let mut request =
        Request::builder().method(method).uri(path).header(header::CONTENT_TYPE, "application/json");
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    app.request_only(request.body(body).unwrap()).await
}

/// What a client sees while the store is down: `503` with `Retry-After`, for reads, writes and
/// sign-in alike.
async fn refused_while_down(app: &App, driver: &str, rider: &str) {
    let signin = json!({"email": "rider@example.edu", "password": PASSWORD});
    let tries = [
        call(app, "GET", "/api/carpool/rides", None, Some(rider)).await,
        call(app, "POST", "/api/carpool/rides", Some(ride_body(app, "offer", 3, 24)), Some(driver)).await,
        call(app, "POST", "/api/auth/signin", Some(signin), None).await,
        call(app, "GET", "/api/chat/conversations", None, Some(rider)).await,
    ];
    for reply in tries {
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::SERVICE_UNAVAILABLE, "service_unavailable"),
            "{}",
            reply.body
        );
        assert_eq!(reply.headers["retry-after"], "1");
        assert!(!reply.body.to_string().contains("Throughput"), "no detail: {}", reply.body);
    }
}

async fn an_outage_is_a_503_and_nothing_is_half_written(base: App) {
    let faulty = Arc::new(Faulty { inner: base.store.clone(), down: AtomicBool::new(false) });
    let app = App::with(faulty.clone(), base.clock.clone(), |_| ()).await;
    let admin = app.admin("admin@example.edu").await;
    let driver = app.ready_driver("drv@example.edu", &admin).await;
    let rider = app.signed_in("rider@example.edu", false).await;

    faulty.down.store(true, Ordering::SeqCst);
    refused_while_down(&app, &driver, &rider).await;
    faulty.down.store(false, Ordering::SeqCst);

    let feed = app.get("/api/carpool/rides", Some(&rider)).await;
    assert_eq!(feed.body["rides"].as_array().unwrap().len(), 0, "the refused post left nothing");
    app.offer(&driver, 3).await;
    assert_eq!(app.get("/api/carpool/rides", Some(&rider)).await.body["rides"].as_array().unwrap().len(), 1);
}

on_both_stores!(embedded, dynamo; an_outage_is_a_503_and_nothing_is_half_written);

/// A moto server of this test's own, on a free port.
fn private_moto() -> (Child, String) {
    let python = std::env::var("CARPOOL_TEST_MOTO_PYTHON").unwrap_or_else(|_| {
        panic!("CARPOOL_TEST_MOTO_PYTHON is not set: run the README test command (bash infra/test.sh)")
    });
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/moto_server.py");
    let mut child = Command::new(python)
        .args([script, "127.0.0.1", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto starts");
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..300 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (child, url);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the private moto did not start on {url}");
}

#[tokio::test]
async fn dynamodb_stopped_mid_test_is_a_503() {
    let (mut moto, url) = private_moto();
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&url)
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("t", "t", None, None, "static"))
        .load()
        .await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    create_table(&client, "outage").await.unwrap();
    let clock = Arc::new(ManualClock::starting_now());
    let app = App::new(Arc::new(DynamoStore::new(client, "outage", clock.clone())), clock, true).await;
    let admin = app.admin("admin@example.edu").await;
    let driver = app.ready_driver("drv@example.edu", &admin).await;
    let rider = app.signed_in("rider@example.edu", false).await;

    moto.kill().unwrap();
    moto.wait().unwrap();
    refused_while_down(&app, &driver, &rider).await;
}

/// How DynamoDB's refusals are told apart: throttling and failures are outages (`503`, the
/// request may succeed later), anything else is a bug (`500`, no retry mends it).
#[tokio::test]
async fn throttling_is_an_outage_and_other_refusals_are_bugs() {
    use aws_sdk_dynamodb::error::ErrorMetadata;
    use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemError;
    use aws_sdk_dynamodb::types::error::{ProvisionedThroughputExceededException, ResourceNotFoundException};
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    let throttled = mock!(aws_sdk_dynamodb::Client::batch_get_item).then_error(|| {
        BatchGetItemError::ProvisionedThroughputExceededException(
            ProvisionedThroughputExceededException::builder()
                .message("slow down")
                .meta(ErrorMetadata::builder().code("ProvisionedThroughputExceededException").build())
                .build(),
        )
    });
    let missing = mock!(aws_sdk_dynamodb::Client::batch_get_item).then_error(|| {
        BatchGetItemError::ResourceNotFoundException(
            ResourceNotFoundException::builder()
                .message("no such table")
                .meta(ErrorMetadata::builder().code("ResourceNotFoundException").build())
                .build(),
        )
    });
    let no_retries = |c: aws_sdk_dynamodb::config::Builder| {
        c.retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
    };
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&throttled, &missing], no_retries);
    let store = DynamoStore::new(client, "carpool", Arc::new(ManualClock::starting_now()));
    let key = [Key::new("USER#1", "PROFILE")];
    assert!(matches!(store.get_many(&key).await, Err(StoreError::Unavailable(_))));
    assert!(matches!(store.get_many(&key).await, Err(StoreError::Corrupt(_))));
}
