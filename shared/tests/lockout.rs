//! Account lockout on both stores, with time moved by the clock: every fifth consecutive wrong
//! password locks the email (1, 5, 15, 60 minutes), even the right password waits, the owner is
//! told once per lock, unknown emails behave the same, and a success starts over.

mod support;

use axum::http::{header, StatusCode};
use serde_json::json;
use std::sync::Arc;
use support::app::*;
use time::Duration;

const WRONG: &str = "not the password at all";

async fn signin(app: &App, email: &str, password: &str) -> Reply {
    app.post("/api/auth/signin", json!({"email": email, "password": password}), None).await
}

fn retry_after(reply: &Reply) -> i64 {
    reply.headers[header::RETRY_AFTER].to_str().unwrap().parse().unwrap()
}

/// Lockout is about wrong passwords, not request volume: keep the per-email throttle out of it.
fn lift_signin_limit(config: &mut carpool::config::AuthConfig) {
    config.rate_limits.set(
        carpool::rate_limit::Rule::SigninEmail,
        carpool::rate_limit::Limit { max: 1000, window_secs: 60 },
    );
}

async fn embedded_app() -> App {
    embedded_with(lift_signin_limit).await
}

async fn dynamo_app() -> App {
    dynamo_with(lift_signin_limit).await
}

on_both_stores!(embedded_app, dynamo_app; fifth_failure_locks_and_locks_grow,
    unknown_emails_lock_the_same_way,
    success_starts_over,
    concurrent_failures_lock_once
);

async fn fifth_failure_locks_and_locks_grow(app: App) {
    app.signed_in("uma@example.edu", false).await;
    for _ in 0..5 {
        assert_eq!(signin(&app, "uma@example.edu", WRONG).await.code(), "invalid_credentials");
    }
    let locked = signin(&app, "uma@example.edu", PASSWORD).await;
    assert_eq!(
        (locked.status, locked.code()),
        (StatusCode::LOCKED, "account_locked"),
        "the right password waits too"
    );
    assert_eq!(retry_after(&locked), 60);
    let notices: Vec<_> =
        app.mail.to("uma@example.edu").into_iter().filter(|m| m.subject.contains("locked")).collect();
    assert_eq!(notices.len(), 1, "one notice per lock");
    assert!(notices[0].text.contains("locked for 1 minute.") && notices[0].text.contains("/forgot-password"));

    app.clock.advance(Duration::seconds(60));
    for _ in 0..5 {
        assert_eq!(signin(&app, "uma@example.edu", WRONG).await.status, StatusCode::UNAUTHORIZED);
    }
    let second = signin(&app, "uma@example.edu", PASSWORD).await;
    assert_eq!((second.status, retry_after(&second)), (StatusCode::LOCKED, 300), "the second lock is longer");
    app.clock.advance(Duration::minutes(5));
    assert_eq!(signin(&app, "uma@example.edu", PASSWORD).await.status, StatusCode::OK);
}

async fn unknown_emails_lock_the_same_way(app: App) {
    for _ in 0..5 {
        assert_eq!(signin(&app, "ghost@example.edu", WRONG).await.code(), "invalid_credentials");
    }
    let locked = signin(&app, "ghost@example.edu", WRONG).await;
    assert_eq!((locked.status, retry_after(&locked)), (StatusCode::LOCKED, 60));
    assert!(app.mail.to("ghost@example.edu").is_empty());
}

async fn success_starts_over(app: App) {
    app.signed_in("vic@example.edu", false).await;
    for _ in 0..4 {
        signin(&app, "vic@example.edu", WRONG).await;
    }
    assert_eq!(signin(&app, "vic@example.edu", PASSWORD).await.status, StatusCode::OK);
    for _ in 0..4 {
        signin(&app, "vic@example.edu", WRONG).await;
    }
    assert_eq!(
        signin(&app, "vic@example.edu", PASSWORD).await.status,
        StatusCode::OK,
        "only consecutive failures count"
    );
}

async fn concurrent_failures_lock_once(app: App) {
    app.signed_in("wes@example.edu", false).await;
    let app = Arc::new(app);
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { signin(&app, "wes@example.edu", WRONG).await.status })
        })
        .collect();
    for t in tasks {
        let status = t.await.unwrap();
        assert!(status == StatusCode::UNAUTHORIZED || status == StatusCode::LOCKED, "{status}");
    }
    let notices = app.mail.to("wes@example.edu").into_iter().filter(|m| m.subject.contains("locked")).count();
    assert!((1..=2).contains(&notices), "one notice per lock reached ({notices})");
    assert_eq!(signin(&app, "wes@example.edu", PASSWORD).await.status, StatusCode::LOCKED);
}
