//! Security audit records on both stores: sign-in success and failure, lockout, password change
//! and session revocation are stored newest first with IP and user agent, and never a secret.

mod support;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use carpool::repo::audit::{for_user, AuditAction};
use serde_json::json;
use support::app::*;

on_both_stores!(embedded, dynamo; records_security_events);

async fn records_security_events(app: App) {
    let cookie = app.signed_in("aud@example.edu", false).await;
    let wrong = "definitely wrong password";
    for _ in 0..5 {
        app.post("/api/auth/signin", json!({"email": "aud@example.edu", "password": wrong}), None).await;
    }
    app.clock.advance(time::Duration::minutes(1));
    let body = json!({"currentPassword": PASSWORD, "password": "copper falcon meadow 88"}).to_string();
    let change = Request::post("/api/auth/password/change")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::COOKIE, &cookie)
        .header(header::USER_AGENT, "curl/8.5.0")
        .body(Body::from(body))
        .unwrap();
    assert_eq!(app.request(change).await.status, StatusCode::OK);

    let session = app.get("/api/auth/session", Some(&cookie)).await;
    let user_id = session.body["user"]["id"].as_str().unwrap().parse().unwrap();
    let records = for_user(app.store.as_ref(), user_id, 50).await.unwrap();
    let actions: Vec<AuditAction> = records.iter().map(|r| r.action).collect();
    assert_eq!(actions[0], AuditAction::PasswordChanged, "newest first");
    assert_eq!(actions.iter().filter(|a| **a == AuditAction::SignInFailed).count(), 5);
    assert_eq!(actions.iter().filter(|a| **a == AuditAction::AccountLocked).count(), 1);
    assert_eq!(*actions.last().unwrap(), AuditAction::SignInSucceeded);
    assert_eq!(records[0].user_agent.as_deref(), Some("curl/8.5.0"));
    assert!(records.iter().all(|r| r.ip == "unknown" && r.email.as_deref() == Some("aud@example.edu")));
    let text = serde_json::to_string(&records).unwrap();
    for secret in [PASSWORD, wrong, "copper falcon meadow 88", cookie.trim_start_matches("__Host-session=")] {
        assert!(!text.contains(secret), "audit records hold no secret");
    }
}
