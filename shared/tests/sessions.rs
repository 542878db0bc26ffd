//! Session management on both stores: list with device labels and the current flag, revoke one
//! (only one's own), sign out everywhere; a revoked session is refused at once.

mod support;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::json;
use std::sync::Arc;
use support::app::*;

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

async fn sign_in_with_agent(app: &App, email: &str, agent: &str) -> String {
    let body = json!({"email": email, "password": PASSWORD}).to_string();
    let req = Request::post("/api/auth/signin")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::USER_AGENT, agent)
        .body(Body::from(body))
        .unwrap();
    app.request(req).await.session_cookie()
}

async fn delete(app: &App, path: &str, cookie: &str) -> Reply {
    let req = Request::delete(path).header(header::COOKIE, cookie).body(Body::empty()).unwrap();
    app.request(req).await
}

on_both_stores!(embedded, dynamo; lists_own_sessions, revokes_one_and_only_own, signs_out_everywhere, cached_reads_never_let_state_changes_through);

async fn lists_own_sessions(app: App) {
    let laptop = app.signed_in("xena@example.edu", false).await;
    let phone = sign_in_with_agent(&app, "xena@example.edu", FIREFOX).await;
    let list = app.get("/api/auth/sessions", Some(&phone)).await;
    assert_eq!(list.status, StatusCode::OK);
    let sessions = list.body["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["device"], "Firefox on Linux");
    for s in sessions {
        for field in ["id", "createdAt", "lastSeenAt", "expiresAt"] {
            assert!(s[field].is_string(), "{field}");
        }
    }
    let text = list.body.to_string();
    for cookie in [&laptop, &phone] {
        assert!(!text.contains(cookie.trim_start_matches("__Host-session=")), "ids are not tokens");
    }
    assert_eq!(app.get("/api/auth/sessions", None).await.status, StatusCode::UNAUTHORIZED);
}

async fn revokes_one_and_only_own(app: App) {
    let laptop = app.signed_in("yuri@example.edu", false).await;
    let phone = sign_in_with_agent(&app, "yuri@example.edu", FIREFOX).await;
    let mallory = app.signed_in("zoe@example.edu", false).await;
    let list = app.get("/api/auth/sessions", Some(&laptop)).await;
    let phone_id = list.body["sessions"].as_array().unwrap().iter().find(|s| s["current"] == false).unwrap()
        ["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Someone else's session id is not found, and nothing is revoked.
    let foreign = delete(&app, &format!("/api/auth/sessions/{phone_id}"), &mallory).await;
    assert_eq!((foreign.status, foreign.code()), (StatusCode::NOT_FOUND, "not_found"));
    assert_eq!(app.get("/api/auth/session", Some(&phone)).await.status, StatusCode::OK);
    assert_eq!(delete(&app, "/api/auth/sessions/nonsense", &laptop).await.status, StatusCode::NOT_FOUND);

    let revoked = delete(&app, &format!("/api/auth/sessions/{phone_id}"), &laptop).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    assert!(revoked.set_cookies().is_empty(), "another session: this cookie stays");
    assert_eq!(app.get("/api/auth/session", Some(&phone)).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.post("/api/auth/signout", json!({}), Some(&phone)).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/api/auth/session", Some(&laptop)).await.status, StatusCode::OK);
}

async fn signs_out_everywhere(app: App) {
    let app = Arc::new(app);
    let first = app.signed_in("ada@example.edu", true).await;
    let second = sign_in_with_agent(&app, "ada@example.edu", FIREFOX).await;
    let other_user = app.signed_in("bea@example.edu", false).await;
    let out = app.post("/api/auth/signout-all", json!({}), Some(&second)).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert!(out.set_cookies()[0].contains("Max-Age=0"));
    for cookie in [&first, &second] {
        assert_eq!(app.get("/api/auth/session", Some(cookie)).await.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(app.get("/api/auth/session", Some(&other_user)).await.status, StatusCode::OK);
    assert_eq!(
        app.post("/api/auth/signout-all", json!({}), Some(&first)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

/// A session revoked in another container (here: deleted behind the service's back) may still
/// answer the read-only session check from this container's cache for a few seconds, but every
/// state-changing request reads the store and refuses it at once.
async fn cached_reads_never_let_state_changes_through(app: App) {
    let cookie = app.signed_in("cid@example.edu", false).await;
    let session = app.get("/api/auth/session", Some(&cookie)).await;
    let user = session.body["user"]["id"].as_str().unwrap().to_owned();
    let listed = carpool::store::Query::new(
        format!("USER#{user}"),
        carpool::store::SkRange::Prefix("SESSION#".into()),
    );
    for item in app.store.query(&listed).await.unwrap().items {
        app.store
            .write(vec![carpool::store::Write::Delete { key: item.key, cond: carpool::store::Cond::Always }])
            .await
            .unwrap();
    }
    assert_eq!(
        app.get("/api/auth/session", Some(&cookie)).await.status,
        StatusCode::OK,
        "served from the cache"
    );
    let change = json!({"currentPassword": PASSWORD, "password": "amber willow harbor 66"});
    assert_eq!(
        app.post("/api/auth/password/change", change, Some(&cookie)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.post("/api/auth/signout-all", json!({}), Some(&cookie)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.get("/api/auth/sessions", Some(&cookie)).await.status, StatusCode::UNAUTHORIZED);
}
