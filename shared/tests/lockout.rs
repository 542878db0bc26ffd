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
    concurrent_failures_lock_once,
    a_burst_checks_at_most_five_passwords,
    a_trusted_device_is_not_locked_out_by_strangers,
    a_device_cookie_only_vouches_for_its_own_account,
    a_password_reset_trusts_the_browser_that_did_it,
    a_new_password_makes_earlier_devices_strangers
);

async fn signin_from(app: &App, email: &str, password: &str, device: &str) -> Reply {
    let body = json!({"email": email, "password": password});
    let request = axum::http::Request::post("/api/auth/signin")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::COOKIE, device)
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    app.request(request).await
}

/// Signs up and signs in once, and signs out; returns the device cookie (`name=value`).
async fn trusted_device(app: &App, email: &str) -> String {
    let session = app.signed_in(email, false).await;
    let again = signin(app, email, PASSWORD).await;
    assert_eq!(app.post("/api/auth/signout", json!({}), Some(&session)).await.status, StatusCode::NO_CONTENT);
    again.cookie("__Host-device")
}

async fn a_burst_checks_at_most_five_passwords(app: App) {
    app.signed_in("xia@example.edu", false).await;
    let app = Arc::new(app);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { signin(&app, "xia@example.edu", WRONG).await.status })
        })
        .collect();
    let mut checked = 0;
    for t in tasks {
        match t.await.unwrap() {
            StatusCode::UNAUTHORIZED => checked += 1,
            StatusCode::LOCKED => {}
            other => panic!("{other}"),
        }
    }
    assert!((1..=5).contains(&checked), "{checked} passwords checked in one lock period");
    assert_eq!(signin(&app, "xia@example.edu", PASSWORD).await.status, StatusCode::LOCKED);
}

async fn a_trusted_device_is_not_locked_out_by_strangers(app: App) {
    let device = trusted_device(&app, "yan@example.edu").await;
    for _ in 0..10 {
        signin(&app, "yan@example.edu", WRONG).await;
    }
    assert_eq!(
        signin(&app, "yan@example.edu", PASSWORD).await.status,
        StatusCode::LOCKED,
        "strangers locked it"
    );
    let owner = signin_from(&app, "yan@example.edu", PASSWORD, &device).await;
    assert_eq!(owner.status, StatusCode::OK, "{}", owner.body);
    let renewed = owner.cookie("__Host-device");
    assert_ne!(renewed, device, "a new device cookie at every sign-in");
    // The device has a budget of its own: five wrong passwords lock that device only.
    for _ in 0..5 {
        assert_eq!(signin_from(&app, "yan@example.edu", WRONG, &renewed).await.code(), "invalid_credentials");
    }
    assert_eq!(signin_from(&app, "yan@example.edu", PASSWORD, &renewed).await.status, StatusCode::LOCKED);
}

async fn a_device_cookie_only_vouches_for_its_own_account(app: App) {
    let mine = trusted_device(&app, "zoe@example.edu").await;
    app.signed_in("zed@example.edu", false).await;
    for _ in 0..5 {
        signin(&app, "zed@example.edu", WRONG).await;
    }
    let borrowed = signin_from(&app, "zed@example.edu", PASSWORD, &mine).await;
    assert_eq!(borrowed.status, StatusCode::LOCKED, "another account's cookie is a stranger's");
    let (name, value) = mine.split_once('=').unwrap();
    let forged = format!("{name}={}x", &value[..value.len() - 1]);
    for _ in 0..5 {
        signin(&app, "zoe@example.edu", WRONG).await;
    }
    assert_eq!(signin_from(&app, "zoe@example.edu", PASSWORD, &forged).await.status, StatusCode::LOCKED);
    assert_eq!(signin_from(&app, "zoe@example.edu", PASSWORD, &mine).await.status, StatusCode::OK);
}

async fn a_password_reset_trusts_the_browser_that_did_it(app: App) {
    app.signed_in("abe@example.edu", false).await;
    for _ in 0..5 {
        signin(&app, "abe@example.edu", WRONG).await;
    }
    app.post("/api/auth/password/forgot", json!({"email": "abe@example.edu"}), None).await;
    let mail =
        app.mail.to("abe@example.edu").into_iter().rev().find(|m| m.text.contains("reset-password")).unwrap();
    let token = mail.text.split("token=").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
    let new = "a fresh start passphrase 31";
    let reset = app.post("/api/auth/password/reset", json!({"token": token, "password": new}), None).await;
    let device = reset.cookie("__Host-device");
    // Strangers lock the email again at once; the browser that reset the password gets in.
    for _ in 0..5 {
        signin(&app, "abe@example.edu", WRONG).await;
    }
    assert_eq!(signin(&app, "abe@example.edu", new).await.status, StatusCode::LOCKED);
    assert_eq!(signin_from(&app, "abe@example.edu", new, &device).await.status, StatusCode::OK);
}

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

async fn a_new_password_makes_earlier_devices_strangers(app: App) {
    let device = trusted_device(&app, "bea@example.edu").await;
    let session = signin(&app, "bea@example.edu", PASSWORD).await.session_cookie();
    let new = "a changed passphrase 77";
    let change = json!({"currentPassword": PASSWORD, "password": new});
    assert_eq!(app.post("/api/auth/password/change", change, Some(&session)).await.status, StatusCode::OK);
    for _ in 0..5 {
        signin(&app, "bea@example.edu", WRONG).await;
    }
    let old_device = signin_from(&app, "bea@example.edu", new, &device).await;
    assert_eq!(old_device.status, StatusCode::LOCKED, "a cookie from before the change vouches no more");
}
