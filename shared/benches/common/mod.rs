//! What the benches share: a store wrapper that counts the work each port call costs, and a
//! mailer that sends nothing.
#![allow(dead_code)]

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use carpool::mail::{MailError, Mailer, Message};
use carpool::store::{Item, Key, Page, Query, Store, StoreError, Write};
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use tower::ServiceExt;

/// Counts port calls (each is one DynamoDB request) and the items they read. Rate-limit counters
/// are counted apart.
pub struct Counting<S> {
    pub inner: S,
    pub calls: AtomicUsize,
    pub counters: AtomicUsize,
    pub items_read: AtomicUsize,
    /// Of `items_read`, those read from a secondary index.
    pub index_items: AtomicUsize,
}

impl<S> Counting<S> {
    pub fn new(inner: S) -> Self {
        Counting {
            inner,
            calls: AtomicUsize::new(0),
            counters: AtomicUsize::new(0),
            items_read: AtomicUsize::new(0),
            index_items: AtomicUsize::new(0),
        }
    }

    fn read(&self, items: usize) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.items_read.fetch_add(items, Ordering::Relaxed);
    }
}

#[async_trait]
impl<S: Store> Store for Counting<S> {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let item = self.inner.get(key).await?;
        self.read(usize::from(item.is_some()));
        Ok(item)
    }
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, StoreError> {
        let items = self.inner.get_many(keys).await?;
        self.read(items.iter().flatten().count());
        Ok(items)
    }
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        let page = self.inner.query(query).await?;
        self.read(page.items.len());
        if query.index.is_some() {
            self.index_items.fetch_add(page.items.len(), Ordering::Relaxed);
        }
        Ok(page)
    }
    async fn write(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.inner.write(writes).await
    }
    async fn increment(&self, key: &Key, attr: &str, by: i64, expires_at: i64) -> Result<i64, StoreError> {
        self.counters.fetch_add(1, Ordering::Relaxed);
        self.inner.increment(key, attr, by, expires_at).await
    }
}

/// One JSON request through a router: (status, body, the `name=value` of a cookie it set).
pub async fn call(
    app: &axum::Router,
    method: &str,
    path: &str,
    body: Value,
    cookie: Option<&str>,
) -> (StatusCode, Value, Option<String>) {
    let mut req =
        Request::builder().method(method).uri(path).header(header::CONTENT_TYPE, "application/json");
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    let res = app.clone().oneshot(req.body(Body::from(body.to_string())).unwrap()).await.unwrap();
    let status = res.status();
    let cookie = res
        .headers()
        .get(header::SET_COOKIE)
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned());
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null), cookie)
}

/// A fresh DynamoDB table on the moto server at `endpoint`: the client and the table's name.
pub async fn moto_table(endpoint: &str) -> (aws_sdk_dynamodb::Client, String) {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing", "testing", None, None, "static",
        ))
        .load()
        .await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let table = format!("bench-{}", ulid::Ulid::new());
    carpool::store::dynamo::create_table(&client, &table).await.unwrap();
    (client, table)
}

/// The app's configuration for benches: cheap hashing, and limits lifted (a bench measures cost,
/// not throttling).
pub fn config() -> carpool::config::AuthConfig {
    let mut config = carpool::config::AuthConfig::local("https://carpool.example.edu");
    config.argon2 = carpool::auth::hashing::Argon2Params { memory_kib: 1024, iterations: 1, parallelism: 1 };
    for rule in carpool::rate_limit::Rule::ALL {
        config.rate_limits.set(rule, carpool::rate_limit::Limit { max: i64::MAX / 2, window_secs: 3600 });
    }
    config
}

/// A verified user of the demo campus, written straight to the store by seeding code.
pub fn seeded_user(
    clock: &dyn carpool::clock::Clock,
    email: String,
    name: &str,
) -> carpool::repo::accounts::UserRecord {
    carpool::repo::accounts::UserRecord {
        id: ulid::Ulid::new(),
        email,
        name: name.into(),
        campus_id: "example".into(),
        password_hash: "$argon2id$seeded".into(),
        email_verified: true,
        two_factor_enabled: false,
        created_at: clock.now(),
        verification_stamp: None,
        password_stamp: None,
        registered_from: None,
        admin: false,
    }
}

pub struct NoMail;

#[async_trait]
impl Mailer for NoMail {
    async fn send(&self, _: &Message) -> Result<(), MailError> {
        Ok(())
    }
}
