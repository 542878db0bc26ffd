//! The mailer's sample events (`events/mailer/`) through its Lambda handler
//! (`carpool::lambda::handle_mail_event`), as the table's stream and the redrive schedule deliver
//! them. `events.rs` covers the HTTP functions' fixtures.

mod support;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use carpool::clock::Clock;
use carpool::http::AppState;
use carpool::lambda::handle_mail_event;
use carpool::mail::jobs::MailDispatcher;
use carpool::repo::mail_jobs;
use carpool::store::{Item, Key, Page, Query, Store, StoreError, Write};
use lambda_http::{Context, LambdaEvent};
use serde_json::{json, Value};
use std::sync::Arc;
use support::app::*;
use ulid::Ulid;

fn stream_fixture() -> Value {
    serde_json::from_str(include_str!("../../events/mailer/stream-insert.json")).unwrap()
}

fn redrive_fixture() -> Value {
    serde_json::from_str(include_str!("../../events/mailer/redrive.json")).unwrap()
}

/// The stream fixture with its one record naming job `id`.
fn stream_of(id: Ulid) -> Value {
    let mut event = stream_fixture();
    event["Records"][0]["dynamodb"]["Keys"]["pk"]["S"] = json!(format!("{}{id}", mail_jobs::KEY_PREFIX));
    event
}

async fn handle(mail: &MailDispatcher, event: Value) -> Value {
    handle_mail_event(mail, LambdaEvent::new(event, Context::default())).await.expect("handled")
}

fn post(path: &str, body: Value) -> Request<Body> {
    Request::post(path).header("content-type", "application/json").body(Body::from(body.to_string())).unwrap()
}

/// Ids of the jobs due now.
async fn due(app: &App) -> Vec<Ulid> {
    mail_jobs::due(app.store.as_ref(), app.clock.epoch_seconds(), 100).await.unwrap()
}

#[tokio::test]
async fn stream_record_delivers_its_job_once() {
    let app = embedded().await;
    let email = "stream@example.edu";
    app.signed_in(email, false).await;
    assert!(due(&app).await.is_empty());

    // The fixture as it stands names a job (a well-formed id) this table does not have: skipped.
    let fixture = stream_fixture();
    let pk = fixture["Records"][0]["dynamodb"]["Keys"]["pk"]["S"].as_str().unwrap();
    assert!(mail_jobs::job_id(pk).is_some(), "the fixture's pk is a job key: {pk}");
    assert_eq!(handle(&app.dispatcher, fixture).await, json!({ "batchItemFailures": [] }));

    // A forgot-password request queues a job without sending; its stream record delivers it.
    let before = app.mail.to(email).len();
    let queued = app.request_only(post("/api/auth/password/forgot", json!({ "email": email }))).await;
    assert_eq!(queued.status, StatusCode::ACCEPTED);
    let [id] = due(&app).await[..] else { panic!("one job queued") };
    assert_eq!(app.mail.to(email).len(), before, "queued, not sent");
    assert_eq!(handle(&app.dispatcher, stream_of(id)).await, json!({ "batchItemFailures": [] }));
    let mail = app.mail.to(email);
    assert_eq!(mail.len(), before + 1);
    assert!(mail.last().unwrap().text.contains("/reset-password?token="), "{}", mail.last().unwrap().text);
    assert!(mail_jobs::load(app.store.as_ref(), id).await.unwrap().is_none(), "the job is deleted");

    // The stream delivers at least once: the same record again sends nothing.
    assert_eq!(handle(&app.dispatcher, stream_of(id)).await, json!({ "batchItemFailures": [] }));
    assert_eq!(app.mail.to(email).len(), before + 1);
}

#[tokio::test]
async fn redrive_delivers_what_is_due() {
    let app = embedded().await;
    let email = "redrive@example.edu";
    let register = json!({ "email": email, "password": PASSWORD, "name": "Rita Redrive" });
    assert_eq!(app.request_only(post("/api/auth/register", register)).await.status, StatusCode::ACCEPTED);
    assert_eq!(due(&app).await.len(), 1);
    assert!(app.mail.to(email).is_empty());

    assert_eq!(handle(&app.dispatcher, redrive_fixture()).await, json!({}));
    let mail = app.mail.to(email);
    assert_eq!(mail.len(), 1);
    assert!(mail[0].text.contains("/verify-email?token="));
    assert!(due(&app).await.is_empty(), "delivered jobs leave the table");
}

/// A store whose reads fail (DynamoDB throttling, say).
struct Unavailable(Arc<dyn Store>);

#[async_trait]
impl Store for Unavailable {
    async fn get(&self, _: &Key) -> Result<Option<Item>, StoreError> {
        Err(StoreError::Unavailable("throttled".into()))
    }
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, StoreError> {
        self.0.get_many(keys).await
    }
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        self.0.query(query).await
    }
    async fn write(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.0.write(writes).await
    }
    async fn increment(&self, key: &Key, attr: &str, by: i64, expires_at: i64) -> Result<i64, StoreError> {
        self.0.increment(key, attr, by, expires_at).await
    }
}

#[tokio::test]
async fn a_store_failure_names_the_record_for_the_stream_to_retry() {
    let app = embedded().await;
    let forgot = post("/api/auth/password/forgot", json!({ "email": "nobody@example.edu" }));
    assert_eq!(app.request_only(forgot).await.status, StatusCode::ACCEPTED);
    let [id] = due(&app).await[..] else { panic!("one job queued") };

    let store = Arc::new(Unavailable(app.store.clone()));
    let failing = AppState::new(
        carpool::http::Ports {
            store,
            mailer: app.mail.clone(),
            clock: app.clock.clone(),
            documents: test_documents(),
            pusher: Arc::new(carpool::push::local::LocalPusher::default()),
        },
        test_config(),
    )
    .unwrap()
    .mail;
    let sequence = stream_fixture()["Records"][0]["dynamodb"]["SequenceNumber"].clone();
    assert_eq!(
        handle(&failing, stream_of(id)).await,
        json!({ "batchItemFailures": [{ "itemIdentifier": sequence }] })
    );
    assert_eq!(due(&app).await, [id], "the job waits for the retry");
    // The retry (or the redrive) finds it: no account behind the address, so nothing to send.
    assert_eq!(handle(&app.dispatcher, stream_of(id)).await, json!({ "batchItemFailures": [] }));
    assert!(due(&app).await.is_empty());
    assert!(app.mail.0.lock().unwrap().is_empty());
}
