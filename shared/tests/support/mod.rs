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
