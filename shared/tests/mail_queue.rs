//! Mail off the request path (security review item 3), on both stores: requests only queue
//! mail, forgot-password and resend-verification cost the same store work whoever asks, a
//! failing provider fails no request and loses no mail, and queued mail is sealed at rest.

mod support;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use carpool::clock::Clock;
use carpool::http::{local_router, AppState};
use carpool::mail::{MailError, Mailer, Message};
use carpool::repo::mail_jobs;
use carpool::store::{Item, Key, Page, Query, Store, StoreError, Write};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use support::app::*;
use time::Duration;

on_both_stores!(embedded, dynamo;
    requests_only_queue_mail,
    forgot_and_resend_cost_the_same_whoever_asks,
    a_failing_provider_fails_no_request_and_loses_no_mail,
    queued_mail_is_sealed_at_rest
);

fn post(path: &str, body: serde_json::Value) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

async fn due_jobs(app: &App) -> usize {
    mail_jobs::due(app.store.as_ref(), app.clock.epoch_seconds(), 100).await.unwrap().len()
}

async fn requests_only_queue_mail(app: App) {
    app.signed_in("ann@example.edu", false).await;
    let before = app.mail.0.lock().unwrap().len();
    let res = app.request_only(post("/api/auth/password/forgot", json!({"email": "ann@example.edu"}))).await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    assert_eq!(app.mail.0.lock().unwrap().len(), before, "nothing sent by the request");
    assert_eq!(due_jobs(&app).await, 1, "one job queued");
    let summary = app.dispatcher.deliver_due().await.unwrap();
    assert_eq!(summary.sent, 1);
    assert!(app.mail.to("ann@example.edu").last().unwrap().text.contains("reset-password?token="));
    assert_eq!(due_jobs(&app).await, 0, "delivered jobs are gone");
}

/// Records the kind of each store call, in order.
struct Recording {
    inner: Arc<dyn Store>,
    calls: Mutex<Vec<String>>,
}

impl Recording {
    fn note(&self, call: String) {
        self.calls.lock().unwrap().push(call);
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.calls.lock().unwrap())
    }
}

#[async_trait]
impl Store for Recording {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.note("get".into());
        self.inner.get(key).await
    }
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, StoreError> {
        self.note(format!("get_many {}", keys.len()));
        self.inner.get_many(keys).await
    }
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        self.note("query".into());
        self.inner.query(query).await
    }
    async fn write(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.note(format!("write {}", writes.len()));
        self.inner.write(writes).await
    }
    async fn increment(&self, key: &Key, attr: &str, by: i64, expires_at: i64) -> Result<i64, StoreError> {
        self.note("increment".into());
        self.inner.increment(key, attr, by, expires_at).await
    }
}

async fn forgot_and_resend_cost_the_same_whoever_asks(app: App) {
    app.signed_in("verified@example.edu", false).await;
    app.register("pending@example.edu").await;
    let recording = Arc::new(Recording { inner: app.store.clone(), calls: Mutex::default() });
    let state = AppState::new(
        carpool::http::Ports {
            store: recording.clone(),
            mailer: app.mail.clone(),
            clock: app.clock.clone(),
            documents: test_documents(),
            pusher: Arc::new(carpool::push::local::LocalPusher::default()),
        },
        test_config(),
    )
    .unwrap();
    let router = local_router(state);
    for path in ["/api/auth/password/forgot", "/api/auth/resend-verification"] {
        let mut seen = Vec::new();
        for email in ["verified@example.edu", "pending@example.edu", "nobody@example.edu"] {
            recording.take();
            let res = tower::ServiceExt::oneshot(router.clone(), post(path, json!({ "email": email }))).await;
            assert_eq!(res.unwrap().status(), StatusCode::ACCEPTED);
            seen.push((email, recording.take()));
        }
        let (_, first) = &seen[0];
        assert!(first.iter().any(|c| c.starts_with("write")), "{path} queues a job: {first:?}");
        for (email, calls) in &seen {
            assert_eq!(calls, first, "{path} for {email} does different store work");
        }
    }
}

/// A provider that is down until told otherwise.
#[derive(Default)]
struct Flaky {
    up: AtomicBool,
    sent: Mutex<Vec<Message>>,
}

#[async_trait]
impl Mailer for Flaky {
    async fn send(&self, message: &Message) -> Result<(), MailError> {
        if !self.up.load(Ordering::SeqCst) {
            return Err(MailError("provider down".into()));
        }
        self.sent.lock().unwrap().push(message.clone());
        Ok(())
    }
}

async fn a_failing_provider_fails_no_request_and_loses_no_mail(app: App) {
    let flaky = Arc::new(Flaky::default());
    let state = AppState::new(
        carpool::http::Ports {
            store: app.store.clone(),
            mailer: flaky.clone(),
            clock: app.clock.clone(),
            documents: test_documents(),
            pusher: Arc::new(carpool::push::local::LocalPusher::default()),
        },
        test_config(),
    )
    .unwrap();
    let dispatcher = state.mail.clone();
    let router = local_router(state);
    let body = json!({"email": "flo@example.edu", "password": PASSWORD, "name": "Flo"});
    let res = tower::ServiceExt::oneshot(router, post("/api/auth/register", body)).await.unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED, "the request does not wait for mail");

    let first = dispatcher.deliver_due().await.unwrap();
    assert_eq!((first.sent, first.will_retry), (0, 1));
    assert_eq!(
        dispatcher.deliver_due().await.unwrap().skipped + due_jobs(&app).await,
        0,
        "waits its backoff"
    );
    app.clock.advance(Duration::seconds(30));
    assert_eq!(dispatcher.deliver_due().await.unwrap().will_retry, 1, "second try, still down");
    flaky.up.store(true, Ordering::SeqCst);
    app.clock.advance(Duration::seconds(60));
    assert_eq!(dispatcher.deliver_due().await.unwrap().sent, 1);
    let sent = flaky.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "sent once");
    assert!(sent[0].text.contains("verify-email?token="));
    app.clock.advance(Duration::hours(2));
    assert_eq!(dispatcher.deliver_due().await.unwrap(), Default::default(), "nothing left");
}

async fn queued_mail_is_sealed_at_rest(app: App) {
    app.signed_in("sue@example.edu", false).await;
    app.request_only(post("/api/auth/password/forgot", json!({"email": "sue@example.edu"}))).await;
    let ids = mail_jobs::due(app.store.as_ref(), app.clock.epoch_seconds(), 10).await.unwrap();
    let job = app.store.get(&mail_jobs::job_key(ids[0])).await.unwrap().unwrap();
    let raw = serde_json::to_string(&job.attrs).unwrap();
    assert!(!raw.contains("sue@") && !raw.contains("password"), "{raw}");
    // Delivered, the reset mail's token is nowhere in the store either.
    app.dispatcher.deliver_due().await.unwrap();
    let mail = app.mail.to("sue@example.edu").pop().unwrap();
    let token = mail.text.split("token=").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
    let job_after = app.store.get(&mail_jobs::job_key(ids[0])).await.unwrap();
    assert!(job_after.is_none());
    assert!(!raw.contains(&token));
}
