//! Forgot / reset / change password and the strength meter, on both stores.

mod support;

use axum::http::StatusCode;
use serde_json::json;
use support::app::*;
use time::Duration;

const NEW: &str = "lantern orbit kettle 7421";

on_both_stores!(embedded, dynamo; forgot_answers_alike_and_mails_only_verified_accounts,
    reset_sets_password_ends_sessions_and_is_single_use,
    reset_links_expire_after_an_hour,
    reset_works_while_locked_and_ends_the_lock,
    change_needs_the_current_password_and_keeps_this_session,
    a_reset_or_a_change_kills_every_other_reset_link,
    a_session_begun_before_a_reset_dies_even_if_the_reset_missed_it,
    strength_meter_shares_the_rules
);

/// The token from the newest reset mail to `to`.
fn reset_token(app: &App, to: &str) -> String {
    let mail = app
        .mail
        .to(to)
        .into_iter()
        .rev()
        .find(|m| m.text.contains("reset-password?token="))
        .expect("a reset mail");
    mail.text.split("reset-password?token=").nth(1).unwrap().split_whitespace().next().unwrap().to_owned()
}

async fn forgot(app: &App, email: &str) -> Reply {
    app.post("/api/auth/password/forgot", json!({"email": email}), None).await
}

async fn forgot_answers_alike_and_mails_only_verified_accounts(app: App) {
    app.signed_in("val@example.edu", false).await;
    app.register("unverified@example.edu").await;
    for email in ["val@example.edu", "unverified@example.edu", "nobody@example.edu"] {
        let res = forgot(&app, email).await;
        assert_eq!((res.status, &res.body), (StatusCode::ACCEPTED, &json!({"status": "reset_sent"})));
    }
    let link = app.mail.to("val@example.edu").into_iter().find(|m| m.text.contains("reset-password?token="));
    assert!(link.unwrap().text.contains("https://carpool.example.edu/reset-password?token="));
    assert!(app.mail.to("unverified@example.edu").iter().all(|m| !m.text.contains("reset-password")));
    assert!(app.mail.to("nobody@example.edu").is_empty());
}

async fn reset_sets_password_ends_sessions_and_is_single_use(app: App) {
    let old_session = app.signed_in("wyn@example.edu", true).await;
    forgot(&app, "wyn@example.edu").await;
    let token = reset_token(&app, "wyn@example.edu");

    let weak =
        app.post("/api/auth/password/reset", json!({"token": token, "password": "password1"}), None).await;
    assert_eq!((weak.status, weak.code()), (StatusCode::UNPROCESSABLE_ENTITY, "weak_password"));
    let done = app.post("/api/auth/password/reset", json!({"token": token, "password": NEW}), None).await;
    assert_eq!(
        (done.status, &done.body),
        (StatusCode::OK, &json!({"reset": true})),
        "the link survived the weak try"
    );
    let cookies = done.set_cookies();
    assert!(cookies.iter().all(|c| !c.starts_with("__Host-session")), "no sign-in: {cookies:?}");
    assert!(done.cookie("__Host-device").len() > 100, "the browser that proved the mailbox is trusted");

    assert_eq!(app.get("/api/auth/session", Some(&old_session)).await.status, StatusCode::UNAUTHORIZED);
    let again = app.post("/api/auth/password/reset", json!({"token": token, "password": NEW}), None).await;
    assert_eq!((again.status, again.code()), (StatusCode::BAD_REQUEST, "invalid_token"));
    let old =
        app.post("/api/auth/signin", json!({"email": "wyn@example.edu", "password": PASSWORD}), None).await;
    assert_eq!(old.code(), "invalid_credentials");
    let new = app.post("/api/auth/signin", json!({"email": "wyn@example.edu", "password": NEW}), None).await;
    assert_eq!(new.status, StatusCode::OK);
    assert!(app.mail.to("wyn@example.edu").iter().any(|m| m.subject.contains("password was changed")));
}

async fn reset_links_expire_after_an_hour(app: App) {
    app.signed_in("xio@example.edu", false).await;
    forgot(&app, "xio@example.edu").await;
    let token = reset_token(&app, "xio@example.edu");
    app.clock.advance(Duration::hours(1));
    let late = app.post("/api/auth/password/reset", json!({"token": token, "password": NEW}), None).await;
    assert_eq!((late.status, late.code()), (StatusCode::BAD_REQUEST, "invalid_token"));
    let malformed = app.post("/api/auth/password/reset", json!({"token": "x", "password": NEW}), None).await;
    assert_eq!(malformed.code(), "invalid_token");
}

async fn reset_works_while_locked_and_ends_the_lock(app: App) {
    app.signed_in("yan@example.edu", false).await;
    for _ in 0..5 {
        app.post(
            "/api/auth/signin",
            json!({"email": "yan@example.edu", "password": "wrong wrong wrong"}),
            None,
        )
        .await;
    }
    let locked =
        app.post("/api/auth/signin", json!({"email": "yan@example.edu", "password": PASSWORD}), None).await;
    assert_eq!(locked.status, StatusCode::LOCKED);
    assert_eq!(
        forgot(&app, "yan@example.edu").await.status,
        StatusCode::ACCEPTED,
        "recovery is not locked out"
    );
    let token = reset_token(&app, "yan@example.edu");
    app.post("/api/auth/password/reset", json!({"token": token, "password": NEW}), None).await;
    let signin =
        app.post("/api/auth/signin", json!({"email": "yan@example.edu", "password": NEW}), None).await;
    assert_eq!(signin.status, StatusCode::OK, "the reset ended the lock");
}

async fn change_needs_the_current_password_and_keeps_this_session(app: App) {
    let here = app.signed_in("zed@example.edu", false).await;
    let elsewhere = app
        .post("/api/auth/signin", json!({"email": "zed@example.edu", "password": PASSWORD}), None)
        .await
        .session_cookie();
    let change = |current: &'static str, password: &'static str| {
        let (app, here) = (&app, here.clone());
        async move {
            app.post(
                "/api/auth/password/change",
                json!({"currentPassword": current, "password": password}),
                Some(&here),
            )
            .await
        }
    };
    let wrong = change("not my password", NEW).await;
    assert_eq!((wrong.status, wrong.code()), (StatusCode::UNAUTHORIZED, "invalid_credentials"));
    assert_eq!(change(PASSWORD, "qwerty123").await.code(), "weak_password");
    let ok = change(PASSWORD, NEW).await;
    assert_eq!((ok.status, &ok.body), (StatusCode::OK, &json!({"changed": true})));
    assert_eq!(app.get("/api/auth/session", Some(&here)).await.status, StatusCode::OK, "this session stays");
    // Also past the session cache: a request that reads the session from the store.
    assert_eq!(app.get("/api/auth/sessions", Some(&here)).await.status, StatusCode::OK, "in the store too");
    assert_eq!(app.get("/api/auth/session", Some(&elsewhere)).await.status, StatusCode::UNAUTHORIZED);
    let signin =
        app.post("/api/auth/signin", json!({"email": "zed@example.edu", "password": NEW}), None).await;
    assert_eq!(signin.status, StatusCode::OK);
    let anonymous =
        app.post("/api/auth/password/change", json!({"currentPassword": NEW, "password": NEW}), None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

async fn strength_meter_shares_the_rules(app: App) {
    let weak = app.post("/api/auth/password/strength", json!({"password": "password"}), None).await;
    assert_eq!(weak.status, StatusCode::OK);
    assert_eq!(weak.body["score"], 0);
    assert!(weak.body["warning"].is_string());
    assert!(weak.body["suggestions"].is_array());
    let personal = app
        .post(
            "/api/auth/password/strength",
            json!({"password": "AmeliaStone1!", "email": "amelia@example.edu", "name": "Amelia Stone"}),
            None,
        )
        .await;
    assert_eq!(personal.body["acceptable"], false, "user inputs count against it");
    let strong = app.post("/api/auth/password/strength", json!({"password": NEW}), None).await;
    assert!(strong.body["score"].as_u64().unwrap() >= 3);
    assert_eq!(strong.body["acceptable"], true);
    // Accepted by the meter means accepted by registration.
    let reg = app
        .post(
            "/api/auth/register",
            json!({"email": "meter@example.edu", "password": NEW, "name": "Meter"}),
            None,
        )
        .await;
    assert_eq!(reg.status, StatusCode::ACCEPTED);
    assert_eq!(app.post("/api/auth/password/strength", json!({}), None).await.code(), "invalid_request");
}

/// The tokens of every reset mail to `to`, oldest first.
fn reset_tokens(app: &App, to: &str) -> Vec<String> {
    app.mail.link_tokens(to, "reset-password")
}

async fn a_reset_or_a_change_kills_every_other_reset_link(app: App) {
    app.signed_in("kit@example.edu", false).await;
    forgot(&app, "kit@example.edu").await;
    forgot(&app, "kit@example.edu").await;
    let links = reset_tokens(&app, "kit@example.edu");
    assert_eq!(links.len(), 2);
    let reset = |token: &str, password: &str| {
        app.post("/api/auth/password/reset", json!({"token": token, "password": password}), None)
    };
    assert_eq!(reset(&links[1], NEW).await.status, StatusCode::OK);
    let stale = reset(&links[0], "attacker kept this older link 1").await;
    assert_eq!((stale.status, stale.code()), (StatusCode::BAD_REQUEST, "invalid_token"));

    // A change does the same to links issued before it.
    forgot(&app, "kit@example.edu").await;
    let before_change = reset_tokens(&app, "kit@example.edu").pop().unwrap();
    let cookie = app
        .post("/api/auth/signin", json!({"email": "kit@example.edu", "password": NEW}), None)
        .await
        .session_cookie();
    let change = json!({"currentPassword": NEW, "password": "copper falcon meadow 88"});
    assert_eq!(app.post("/api/auth/password/change", change, Some(&cookie)).await.status, StatusCode::OK);
    let stale = reset(&before_change, "attacker kept this older link 2").await;
    assert_eq!(stale.code(), "invalid_token");
    let signin = json!({"email": "kit@example.edu", "password": "copper falcon meadow 88"});
    assert_eq!(app.post("/api/auth/signin", signin, None).await.status, StatusCode::OK);
}

/// A sign-in with the old password that commits after the reset listed the sessions to end
/// (simulated by putting its session back) is still dead: it began under the old password.
async fn a_session_begun_before_a_reset_dies_even_if_the_reset_missed_it(app: App) {
    use carpool::repo::sessions;
    use carpool::store::{Cond, Write};
    let cookie = app.signed_in("rae@example.edu", false).await;
    let me = app.get("/api/auth/session", Some(&cookie)).await;
    let user: ulid::Ulid = me.body["user"]["id"].as_str().unwrap().parse().unwrap();
    let (digest, _) = sessions::list(app.store.as_ref(), user).await.unwrap().remove(0);
    let racing = app.store.get(&sessions::session_key(user, &digest)).await.unwrap().unwrap();

    forgot(&app, "rae@example.edu").await;
    let token = reset_token(&app, "rae@example.edu");
    let reset = app.post("/api/auth/password/reset", json!({"token": token, "password": NEW}), None).await;
    assert_eq!(reset.status, StatusCode::OK);
    app.store.write(vec![Write::Put { item: racing, cond: Cond::Always }]).await.unwrap();
    assert_eq!(app.get("/api/auth/session", Some(&cookie)).await.status, StatusCode::UNAUTHORIZED);

    // A change keeps the session that made it, and ends the others the same way.
    let mine = app
        .post("/api/auth/signin", json!({"email": "rae@example.edu", "password": NEW}), None)
        .await
        .session_cookie();
    let other = app
        .post("/api/auth/signin", json!({"email": "rae@example.edu", "password": NEW}), None)
        .await
        .session_cookie();
    let change = json!({"currentPassword": NEW, "password": "copper falcon meadow 88"});
    assert_eq!(app.post("/api/auth/password/change", change, Some(&mine)).await.status, StatusCode::OK);
    assert_eq!(app.get("/api/auth/session", Some(&mine)).await.status, StatusCode::OK);
    assert_eq!(app.get("/api/auth/session", Some(&other)).await.status, StatusCode::UNAUTHORIZED);
}
