//! Helpers shared by the integration tests. Each test file uses some of them.
#![allow(dead_code)]

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use carpool::clock::Clock;
use carpool::store::dynamo::{create_table, DynamoStore};
use carpool::store::embedded::EmbeddedStore;
use std::sync::Arc;

/// The moto emulator started by the README's test command. Tests that need it fail without it:
/// nothing is skipped silently.
pub fn moto_endpoint() -> String {
    std::env::var("CARPOOL_TEST_MOTO_URL").unwrap_or_else(|_| {
        panic!(
            "CARPOOL_TEST_MOTO_URL is not set: run the README test command (bash infra/test.sh), \
             which starts the moto emulator"
        )
    })
}

pub async fn aws_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(moto_endpoint())
        .credentials_provider(Credentials::new("testing", "testing", None, None, "static"))
        .load()
        .await
}

/// A fresh table per call, so tests run in parallel on one emulator.
pub async fn dynamo_store(clock: Arc<dyn Clock>) -> DynamoStore {
    let client = aws_sdk_dynamodb::Client::new(&aws_config().await);
    let table = format!("t-{}", ulid::Ulid::new());
    create_table(&client, &table).await.expect("create a table on moto");
    DynamoStore::new(client, table, clock)
}

/// An embedded store in a temporary directory (kept alive by the returned guard).
pub fn embedded_store(clock: Arc<dyn Clock>) -> (EmbeddedStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = EmbeddedStore::open(dir.path(), clock).expect("open the embedded store");
    (store, dir)
}
pub mod app;
pub mod driver;
pub mod rides;

/// A store that fails every call touching a partition that starts with `prefix` (a key of a read
/// or a write, or a query's partition) while armed, as DynamoDB does when it throttles or fails:
/// how a run that stops half-way is made.
pub struct Tripwire {
    pub inner: Arc<dyn carpool::store::Store>,
    pub prefix: String,
    pub armed: std::sync::atomic::AtomicBool,
}

impl Tripwire {
    pub fn new(inner: Arc<dyn carpool::store::Store>, prefix: &str) -> Tripwire {
        Tripwire { inner, prefix: prefix.to_owned(), armed: std::sync::atomic::AtomicBool::new(false) }
    }

    pub fn arm(&self, armed: bool) {
        self.armed.store(armed, std::sync::atomic::Ordering::SeqCst);
    }

    fn check<'a>(
        &self,
        mut partitions: impl Iterator<Item = &'a str>,
    ) -> Result<(), carpool::store::StoreError> {
        if self.armed.load(std::sync::atomic::Ordering::SeqCst)
            && partitions.any(|pk| pk.starts_with(&self.prefix))
        {
            return Err(carpool::store::StoreError::Unavailable(format!(
                "injected: {} is down",
                self.prefix
            )));
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl carpool::store::Store for Tripwire {
    async fn get(
        &self,
        key: &carpool::store::Key,
    ) -> Result<Option<carpool::store::Item>, carpool::store::StoreError> {
        self.check(std::iter::once(key.pk.as_str()))?;
        self.inner.get(key).await
    }
    async fn get_many(
        &self,
        keys: &[carpool::store::Key],
    ) -> Result<Vec<Option<carpool::store::Item>>, carpool::store::StoreError> {
        self.check(keys.iter().map(|k| k.pk.as_str()))?;
        self.inner.get_many(keys).await
    }
    async fn query(
        &self,
        query: &carpool::store::Query,
    ) -> Result<carpool::store::Page, carpool::store::StoreError> {
        self.check(std::iter::once(query.pk.as_str()))?;
        self.inner.query(query).await
    }
    async fn write(&self, writes: Vec<carpool::store::Write>) -> Result<(), carpool::store::StoreError> {
        self.check(writes.iter().map(|w| w.key().pk.as_str()))?;
        self.inner.write(writes).await
    }
    async fn increment(
        &self,
        key: &carpool::store::Key,
        attr: &str,
        by: i64,
        expires_at: i64,
    ) -> Result<i64, carpool::store::StoreError> {
        self.check(std::iter::once(key.pk.as_str()))?;
        self.inner.increment(key, attr, by, expires_at).await
    }
}
