//! People's own data (API.md "Your data") on both stores: the export holds everything of the
//! caller and no secret; a large one is a link; deletion needs the password (and a code), counts
//! failures on the lockout, erases every item kind of the account (checked by listing what is
//! left under its keys and indexes), cancels and leaves its rides with the riders and authors
//! told, leaves its messages to others as from "Deleted user", frees the address for a new
//! account, happens once under concurrency, and is finished by the redrive when it stops half-way.

mod support;

use axum::http::{header, StatusCode};
use carpool::clock::Clock;
use carpool::domain::email::Email;
use carpool::lambda::handle_erasure_event;
use carpool::rate_limit::{Limit, Rule};
use carpool::repo::accounts::user_partition;
use carpool::repo::audit::{self, DELETED_EMAIL};
use carpool::store::{Index, Key, Query, SkRange};
use lambda_http::{Context, LambdaEvent};
use serde_json::{json, Value};
use std::sync::Arc;
use support::app::*;
use support::driver::*;
use support::rides::*;
use time::Duration;
use ulid::Ulid;

/// The people of these cases sign up, post and message more than the default limits allow.
fn roomy(config: &mut carpool::config::AuthConfig) {
    let plenty = Limit { max: 10_000, window_secs: 60 };
    for rule in [Rule::RegisterIp, Rule::ChatSend, Rule::TwoFactorUser, Rule::ChangeUser] {
        config.rate_limits.set(rule, plenty);
    }
}

async fn embedded_app() -> App {
    embedded_with(roomy).await
}

async fn dynamo_app() -> App {
    dynamo_with(roomy).await
}

on_both_stores!(embedded_app, dynamo_app;
    export_holds_everything_and_no_secret,
    a_large_export_is_a_short_lived_link,
    exports_are_limited_per_day,
    deletion_needs_the_password_and_the_code,
    deletion_erases_every_item_kind,
    the_address_can_register_again_as_a_new_account,
    concurrent_deletions_delete_once,
    an_interrupted_deletion_is_finished_by_the_redrive,
    an_operator_deletes_the_same_way,
);

const ANA: &str = "ana@example.edu";
const BEN: &str = "ben@example.edu";
const CY: &str = "cy@example.edu";
const DEE: &str = "dee@example.edu";

async fn export(app: &App, cookie: &str) -> Reply {
    app.get("/api/auth/account/export", Some(cookie)).await
}

async fn delete(app: &App, cookie: &str, password: &str, code: Option<&str>) -> Reply {
    app.post("/api/auth/account/delete", json!({"password": password, "totpCode": code}), Some(cookie)).await
}

async fn message(app: &App, cookie: &str, conversation: &str, body: &str) -> Value {
    let path = format!("/api/chat/conversations/{conversation}/messages");
    let sent = app
        .post(&path, json!({"body": body, "clientMessageId": Ulid::new().to_string()}), Some(cookie))
        .await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
    sent.body["message"].clone()
}

async fn direct(app: &App, cookie: &str, other: &str) -> String {
    let id = app.user_id(other).await;
    let made = app.post("/api/chat/conversations", json!({"userId": id}), Some(cookie)).await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.body);
    made.body["conversation"]["id"].as_str().unwrap().to_owned()
}

/// Ana has a bit of everything: an approved driver's license with a scanned photo, two-factor,
/// two sessions and a pending reset link, a ride she offers with Ben accepted, a seat on Cy's
/// ride, a direct chat with Ben and a message in her ride's chat, a block of Dee and Dee's
/// block of her, a report about Dee, an open connection, and the campus-admin role.
struct World {
    admin: String,
    ana: String,
    ana_id: Ulid,
    totp: carpool::domain::totp::TotpKey,
    ben: String,
    cy: String,
    dee: String,
    ana_ride: String,
    cy_ride: String,
    direct: String,
    connection: String,
}

async fn world(app: &App) -> World {
    let admin = app.admin("admin@example.edu").await;
    let ana = app.ready_driver(ANA, &admin).await;
    let ana_id: Ulid = app.user_id(ANA).await.parse().unwrap();
    let photo = app
        .upload_photo(&ana, "image/png", png_of(&alice_fields(app.campus_today() + Duration::days(365))))
        .await;
    let scan = app.post("/api/auth/driver/license/scan", json!({"objectKey": photo}), Some(&ana)).await;
    assert_eq!(scan.status, StatusCode::OK, "{}", scan.body);
    let (totp, _) = app.two_factor_on(&ana).await;
    let code = app.next_code(&totp);
    let second = app
        .post(
            "/api/auth/signin",
            json!({"email": ANA, "password": PASSWORD, "rememberMe": true, "totpCode": code}),
            None,
        )
        .await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    let forgot = app.post("/api/auth/password/forgot", json!({"email": ANA}), None).await;
    assert_eq!(forgot.status, StatusCode::ACCEPTED);

    let ride = app.offer(&ana, 3).await;
    let ana_ride = id(&ride);
    let ben = app.signed_in(BEN, false).await;
    let request = app.joined(&ben, &ana_ride, 2).await;
    assert_eq!(app.answer(&ana, &ana_ride, &request, "accept").await.status, StatusCode::OK);
    message(app, &ana, ride["conversationId"].as_str().unwrap(), "Leaving at eight sharp").await;

    let cy = app.ready_driver(CY, &admin).await;
    let cy_ride = id(&app.offer(&cy, 2).await);
    let asked = app.joined(&ana, &cy_ride, 1).await;
    assert_eq!(app.answer(&cy, &cy_ride, &asked, "accept").await.status, StatusCode::OK);

    let direct = direct(app, &ana, BEN).await;
    message(app, &ana, &direct, "Hi Ben, it's Ana").await;
    message(app, &ben, &direct, "Hi Ana").await;
    message(app, &ana, &direct, "See you at the gate").await;

    let dee = app.signed_in(DEE, false).await;
    let dee_id = app.user_id(DEE).await;
    let ana_id_text = ana_id.to_string();
    assert_eq!(
        app.post(&format!("/api/users/{dee_id}/block"), json!({}), Some(&ana)).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.post(&format!("/api/users/{ana_id_text}/block"), json!({}), Some(&dee)).await.status,
        StatusCode::NO_CONTENT
    );
    let report =
        app.post("/api/reports", json!({"userId": dee_id, "reason": "Rude in the chat"}), Some(&ana)).await;
    assert_eq!(report.status, StatusCode::ACCEPTED);
    let connection = app.online(ANA).await;
    app.grant_admin(ANA).await;
    World { admin, ana, ana_id, totp, ben, cy, dee, ana_ride, cy_ride, direct, connection }
}

/// The JSON text of an export that answered `200`.
fn document(reply: &Reply) -> Value {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let disposition = reply.headers[header::CONTENT_DISPOSITION].to_str().unwrap();
    assert!(disposition.starts_with("attachment; filename=\"campus-carpool-export-"), "{disposition}");
    assert_eq!(reply.headers[header::CONTENT_TYPE], "application/json");
    reply.body.clone()
}

async fn export_holds_everything_and_no_secret(app: App) {
    let w = world(&app).await;
    let doc = document(&export(&app, &w.ana).await);
    for field in [
        "user",
        "driver",
        "sessions",
        "rides",
        "requests",
        "conversations",
        "messages",
        "audit",
        "exportedAt",
    ] {
        assert!(doc.get(field).is_some(), "the contract's field {field}: {doc}");
    }
    assert_eq!(doc["user"]["email"], ANA);
    assert_eq!(doc["user"]["twoFactorEnabled"], true);
    assert_eq!(doc["driver"]["capability"], "approved");
    assert_eq!(doc["driver"]["license"]["numberLast4"], "4567");
    assert_eq!(doc["sessions"].as_array().unwrap().len(), 2);
    assert_eq!(doc["sessions"].as_array().unwrap().iter().filter(|s| s["current"] == true).count(), 1);
    assert_eq!(doc["rides"].as_array().unwrap().len(), 1);
    assert_eq!(doc["rides"][0]["id"], w.ana_ride);
    assert_eq!(doc["requests"].as_array().unwrap().len(), 1);
    assert_eq!(doc["requests"][0]["rideId"], w.cy_ride);
    assert_eq!(doc["requests"][0]["status"], "accepted");
    let conversations = doc["conversations"].as_array().unwrap();
    assert_eq!(conversations.len(), 3, "her ride's chat, Cy's and the direct one: {conversations:?}");
    let sent: Vec<&str> =
        doc["messages"].as_array().unwrap().iter().map(|m| m["body"].as_str().unwrap()).collect();
    assert_eq!(
        sent,
        ["Leaving at eight sharp", "Hi Ben, it's Ana", "See you at the gate"],
        "hers only, in order"
    );
    let actions: Vec<&str> =
        doc["audit"].as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"sign_in_succeeded") && actions.contains(&"two_factor_enabled"), "{actions:?}");
    assert!(!doc["driverChanges"].as_array().unwrap().is_empty());
    assert_eq!(doc["blocked"].as_array().unwrap().len(), 1);
    assert_eq!(doc["blocked"][0]["user"]["id"], app.user_id(DEE).await);
    assert_eq!(doc["reports"][0]["reason"], "Rude in the chat");

    // Nothing secret, hashed, sealed or of anyone else's address.
    let text = doc.to_string();
    let cookie_value = w.ana.split('=').nth(1).unwrap();
    for secret in [
        PASSWORD,
        cookie_value,
        NUMBER,
        "D1234567",
        "$argon2",
        "passwordHash",
        "numberDigest",
        "sealed",
        "Stamp",
        BEN,
        CY,
        DEE,
        "admin@example.edu",
    ] {
        assert!(!text.contains(secret), "the export holds {secret:?}");
    }
    let totp_secret = w.totp.base32();
    assert!(!text.contains(&totp_secret), "the TOTP key");

    // Ben's export has his request and his message, not Ana's.
    let ben = document(&export(&app, &w.ben).await);
    assert_eq!(ben["requests"][0]["rideId"], w.ana_ride);
    assert_eq!(ben["messages"].as_array().unwrap().len(), 1);
    assert!(!ben.to_string().contains(ANA));
    // Exporting is audited.
    let again = document(&export(&app, &w.ana).await);
    assert!(again["audit"].as_array().unwrap().iter().any(|r| r["action"] == "account_exported"));
}

/// A sender with many messages (written straight to the store: sending them one by one through
/// the API would take most of the test).
async fn many_messages(app: &App, cookie: &str, conversation: &str, count: usize) {
    use carpool::repo::messages::{self, MessageKind, MessageRecord};
    let reply = app.get("/api/auth/session", Some(cookie)).await;
    let sender: Ulid = reply.body["user"]["id"].as_str().unwrap().parse().unwrap();
    let conversation: Ulid = conversation.parse().unwrap();
    let now = app.clock.now().replace_nanosecond(0).unwrap();
    let mut writes = Vec::new();
    for n in 0..count {
        let record = MessageRecord {
            id: Ulid::new(),
            conversation_id: conversation,
            sender_id: Some(sender),
            sender_name: "Alice Example".into(),
            body: format!("message {n:05} with \"quotes\" and a \\ backslash"),
            sent_at: now,
            client_message_id: Some(format!("bulk-{n}")),
            kind: MessageKind::User,
            mention: None,
        };
        writes.extend(messages::put(&record));
        if writes.len() >= 50 {
            app.store.write(std::mem::take(&mut writes)).await.unwrap();
        }
    }
    if !writes.is_empty() {
        app.store.write(writes).await.unwrap();
    }
}

async fn a_large_export_is_a_short_lived_link(app: App) {
    let ana = app.signed_in(ANA, false).await;
    app.signed_in(BEN, false).await;
    let conversation = direct(&app, &ana, BEN).await;
    // Pages of 100: a few pages on DynamoDB's emulator, thousands on the embedded store.
    let count = if app.keep.is_some() { 2500 } else { 250 };
    many_messages(&app, &ana, &conversation, count).await;
    let inline = document(&export(&app, &ana).await);
    assert_eq!(inline["messages"].as_array().unwrap().len(), count);

    // The same account behind a server whose answers hold less than this export.
    let small = App::with(app.store.clone(), app.clock.clone(), |config| {
        roomy(config);
        config.export_answer_limit = 100 * 1024;
    })
    .await;
    let reply = export(&small, &ana).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let location = reply.headers[header::LOCATION].to_str().unwrap().to_owned();
    assert_eq!(reply.body["url"], location);
    assert_eq!(reply.body["expiresIn"], 300);
    let path = location.strip_prefix(UPLOAD_BASE).expect("a link of the app's own");
    let (status, bytes) = small.get_bytes(path).await;
    assert_eq!(status, StatusCode::OK);
    let linked: Value = serde_json::from_slice(&bytes).unwrap();
    let messages = linked["messages"].as_array().unwrap();
    assert_eq!(messages.len(), count);
    assert!(messages.windows(2).all(|m| m[0]["id"].as_str() < m[1]["id"].as_str()), "oldest first");
    assert_eq!(linked["user"], inline["user"]);
    // The link dies after its few minutes.
    small.clock.advance(Duration::minutes(6));
    assert_eq!(small.get_bytes(path).await.0, StatusCode::FORBIDDEN);
}

async fn exports_are_limited_per_day(app: App) {
    let ana = app.signed_in(ANA, false).await;
    for _ in 0..3 {
        document(&export(&app, &ana).await);
    }
    let refused = export(&app, &ana).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers.contains_key(header::RETRY_AFTER));
    // A day on (past the session's idle limit: sign in again), the day's allowance is back.
    app.clock.advance(Duration::days(1));
    let ana = app.sign_in(ANA).await;
    document(&export(&app, &ana).await);
}

async fn deletion_needs_the_password_and_the_code(app: App) {
    let ana = app.signed_in(ANA, false).await;
    let (totp, recovery) = app.two_factor_on(&ana).await;
    assert_eq!(delete(&app, &ana, "not my password", None).await.code(), "invalid_credentials");
    assert_eq!(delete(&app, &ana, PASSWORD, None).await.code(), "totp_required");
    assert_eq!(delete(&app, &ana, PASSWORD, Some("000000")).await.code(), "invalid_totp");
    let code = app.next_code(&totp);
    assert_eq!(
        app.post("/api/auth/signin", json!({"email": ANA, "password": PASSWORD, "totpCode": code}), None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(delete(&app, &ana, PASSWORD, Some(&code)).await.code(), "invalid_totp", "a code works once");
    // Wrong passwords count on the lockout like sign-ins: the fifth locks the address.
    for _ in 0..5 {
        assert_eq!(delete(&app, &ana, "still not it", None).await.status, StatusCode::UNAUTHORIZED);
    }
    let locked = delete(&app, &ana, PASSWORD, Some(&recovery[0])).await;
    assert_eq!(locked.status, StatusCode::LOCKED, "{}", locked.body);
    let signin = app.post("/api/auth/signin", json!({"email": ANA, "password": PASSWORD}), None).await;
    assert_eq!(signin.code(), "account_locked");
    assert_eq!(app.get("/api/auth/session", Some(&ana)).await.status, StatusCode::OK, "still there");
    let refusals =
        audit::for_user(app.store.as_ref(), app.user_id(ANA).await.parse().unwrap(), 100).await.unwrap();
    assert!(refusals.iter().any(|r| r.action == audit::AuditAction::AccountDeletionRefused));

    // Once the lock is over, a recovery code does.
    app.clock.advance(Duration::hours(2));
    let deleted = delete(&app, &ana, PASSWORD, Some(&recovery[0])).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
}

/// The erasure's last run, by the redrive once the requests under way at the closing have ended.
async fn after_last_run(app: &App) {
    app.clock.advance(Duration::minutes(3));
    let resumed = app.account.resume_erasures().await.unwrap();
    assert_eq!((resumed.finished, resumed.failed), (1, 0));
}

/// Every key the account had that is not kept, by kind, and what is left under it.
async fn left_of(app: &App, user: Ulid, email: &str) -> Vec<String> {
    let store = app.store.as_ref();
    let mut left = Vec::new();
    let all = |pk: String, index: Option<Index>| Query { index, ..Query::new(pk, SkRange::All) };
    let mut queries = vec![all(user_partition(user), None), all(format!("TOKENS#{user}"), Some(Index::Gsi1))];
    for rule in Rule::ALL {
        queries.push(all(format!("RATE#{}#{user}", rule.name()), None));
        queries.push(all(format!("RATE#{}#{email}", rule.name()), None));
    }
    for query in queries {
        for item in store.query(&query).await.unwrap().items {
            left.push(format!("{}/{}", item.key.pk, item.key.sk));
        }
    }
    for key in [
        Key::new(format!("EMAIL#{email}"), "EMAIL"),
        Key::new(format!("LOCK#{email}"), "LOCK"),
        Key::new(format!("ERASE#{user}"), "ERASE"),
    ] {
        if store.get(&key).await.unwrap().is_some() {
            left.push(format!("{}/{}", key.pk, key.sk));
        }
    }
    for item in store.query(&Query::new("REVIEW#example", SkRange::All)).await.unwrap().items {
        if item.key.sk.ends_with(&user.to_string()) {
            left.push(format!("{}/{}", item.key.pk, item.key.sk));
        }
    }
    left
}

async fn deletion_erases_every_item_kind(app: App) {
    let w = world(&app).await;
    let code = app.next_code(&w.totp);
    app.mail.0.lock().unwrap().clear();
    let deleted = delete(&app, &w.ana, PASSWORD, Some(&code)).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    let cookies = deleted.set_cookies();
    assert!(
        cookies.iter().any(|c| c.starts_with("__Host-session=;") && c.contains("Max-Age=0")),
        "{cookies:?}"
    );
    assert!(
        cookies.iter().any(|c| c.starts_with("__Host-device=;") && c.contains("Max-Age=0")),
        "{cookies:?}"
    );

    // A sign-in that passed its checks just before the closing lands after the first run (its
    // session and audit record are written here as it would write them); the last run, once
    // such requests have ended, erases them too.
    let late_session = Key::new(user_partition(w.ana_id), "SESSION#late");
    let late = carpool::store::Item::new(late_session.clone(), Default::default());
    app.store
        .write(vec![carpool::store::Write::Put { item: late, cond: carpool::store::Cond::Always }])
        .await
        .unwrap();
    let late_audit = audit::AuditRecord {
        id: Ulid::new(),
        action: audit::AuditAction::SignInSucceeded,
        user_id: Some(w.ana_id),
        email: Some(ANA.into()),
        at: app.clock.now(),
        ip: "192.0.2.7".into(),
        user_agent: None,
        detail: None,
        email_digest: None,
    };
    app.store.write(vec![audit::put(&late_audit)]).await.unwrap();
    assert!(
        left_of(&app, w.ana_id, ANA).await.contains(&format!("ERASE#{}/ERASE", w.ana_id)),
        "a last run is due"
    );
    after_last_run(&app).await;

    // Nothing is left under her keys and indexes but what is kept.
    assert_eq!(left_of(&app, w.ana_id, ANA).await, Vec::<String>::new());
    assert!(!app.uploads.path().join(format!("licenses/{}", w.ana_id)).exists(), "license photos");
    let connection = Key::new(format!("CONN#{}", w.connection), "CONN");
    assert!(app.store.get(&connection).await.unwrap().is_none(), "her open connection");
    // Her security records stay, the address replaced by its keyed digest.
    let kept = audit::for_user(app.store.as_ref(), w.ana_id, 100).await.unwrap();
    let digest = test_config().key_ring.unwrap().sign(DELETED_EMAIL, ANA.as_bytes());
    assert!(
        kept.len() > 3
            && kept.iter().all(|r| r.email.is_none() && r.email_digest.as_deref() == Some(digest.as_str()))
    );
    assert!(kept.iter().any(|r| r.action == audit::AuditAction::AccountDeleted));

    // The session is over; a second delete with it is refused.
    assert_eq!(app.get("/api/auth/session", Some(&w.ana)).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(delete(&app, &w.ana, PASSWORD, None).await.code(), "unauthenticated");
    let signin = app.post("/api/auth/signin", json!({"email": ANA, "password": PASSWORD}), None).await;
    assert_eq!(signin.code(), "invalid_credentials");

    // Her ride is cancelled, and Ben (accepted on it) told; on Cy's, her seat came back.
    let ride = app.ride(&w.ben, &w.ana_ride).await;
    assert_eq!(ride.body["ride"]["status"], "cancelled");
    assert_eq!(ride.body["ride"]["author"]["name"], "Deleted user");
    let told = app.mail.to(BEN);
    assert!(told.iter().any(|m| m.text.contains("closed their account")), "{told:?}");
    let cys = app.ride(&w.cy, &w.cy_ride).await;
    assert_eq!(cys.body["ride"]["seatsLeft"], 2, "{}", cys.body);
    let requests = cys.body["requests"].as_array().unwrap();
    assert_eq!(
        (requests[0]["status"].as_str(), requests[0]["rider"]["name"].as_str()),
        (Some("left"), Some("Deleted user"))
    );
    assert!(app.mail.to(CY).iter().any(|m| m.subject.contains("left")), "Cy is told");
    // The ride's chat names her as "Deleted user" too, in the system messages about her.
    let chat = cys.body["ride"]["conversationId"].as_str().unwrap();
    let history = app.get(&format!("/api/chat/conversations/{chat}/messages"), Some(&w.cy)).await;
    let told: Vec<&str> =
        history.body["messages"].as_array().unwrap().iter().map(|m| m["body"].as_str().unwrap()).collect();
    assert_eq!(told, ["Deleted user left the ride.", "Deleted user joined the ride."]);

    // Ben still reads their chat, her messages as from "Deleted user", and it takes no more.
    let history = app.get(&format!("/api/chat/conversations/{}/messages", w.direct), Some(&w.ben)).await;
    let senders: Vec<&str> = history.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["senderName"].as_str().unwrap())
        .collect();
    assert_eq!(senders, ["Deleted user", "Alice Example", "Deleted user"]);
    let path = format!("/api/chat/conversations/{}/messages", w.direct);
    let refused = app.post(&path, json!({"body": "Ana?", "clientMessageId": "late"}), Some(&w.ben)).await;
    assert_eq!(refused.code(), "conversation_closed");
    let list = app.get("/api/chat/conversations", Some(&w.ben)).await;
    let chat = list.body["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == w.direct.as_str())
        .unwrap()
        .clone();
    assert_eq!(chat["title"], "Deleted user");
    assert_eq!(chat["lastMessage"]["senderName"], "Deleted user");
    assert!(
        chat["members"].as_array().unwrap().iter().all(|m| m["id"] != w.ana_id.to_string()),
        "she left its members"
    );

    // Dee's block of her is gone; the admins still see her report, from "Deleted user".
    let dee_id: Ulid = app.user_id(DEE).await.parse().unwrap();
    let dee_blocks =
        app.store.query(&Query::new(user_partition(dee_id), SkRange::Prefix("BLOCK".into()))).await.unwrap();
    assert!(dee_blocks.items.is_empty(), "{:?}", dee_blocks.items);
    let reports = app.get("/api/admin/reports?status=open", Some(&w.admin)).await;
    assert_eq!(reports.body["reports"][0]["reporter"]["name"], "Deleted user");
    let report: Ulid = reports.body["reports"][0]["id"].as_str().unwrap().parse().unwrap();
    let stored = carpool::repo::safety::get_report(app.store.as_ref(), report).await.unwrap().unwrap();
    assert_eq!(stored.reporter_name, "Deleted user", "her name is not kept on it either");

    // One confirmation mail to the address.
    let confirmation = app.mail.to(ANA);
    assert_eq!(confirmation.len(), 1, "{confirmation:?}");
    assert!(confirmation[0].subject.contains("deleted"));
    let _ = &w.dee;
}

async fn the_address_can_register_again_as_a_new_account(app: App) {
    let ana = app.signed_in(ANA, false).await;
    let old = app.user_id(ANA).await;
    assert_eq!(delete(&app, &ana, PASSWORD, None).await.status, StatusCode::NO_CONTENT);
    let again = app.signed_in(ANA, false).await;
    let new = app.user_id(ANA).await;
    assert_ne!(old, new, "a new person");
    let session = app.get("/api/auth/session", Some(&again)).await;
    assert_eq!(session.body["user"]["id"], new.as_str());
    let fresh = document(&export(&app, &again).await);
    assert!(
        fresh["messages"].as_array().unwrap().is_empty() && fresh["rides"].as_array().unwrap().is_empty()
    );
}

async fn concurrent_deletions_delete_once(app: App) {
    let ana = app.signed_in(ANA, false).await;
    let ben = app.signed_in(BEN, false).await;
    let (totp, _) = app.two_factor_on(&ben).await;
    let ids: Vec<Ulid> =
        [app.user_id(ANA).await, app.user_id(BEN).await].iter().map(|id| id.parse().unwrap()).collect();
    app.mail.0.lock().unwrap().clear();
    let code = app.next_code(&totp);
    let replies = futures::future::join_all(
        (0..4)
            .map(|_| delete(&app, &ana, PASSWORD, None))
            .chain((0..4).map(|_| delete(&app, &ben, PASSWORD, Some(&code)))),
    )
    .await;
    for (who, replies) in [(ANA, &replies[..4]), (BEN, &replies[4..])] {
        let statuses: Vec<StatusCode> = replies.iter().map(|r| r.status).collect();
        assert_eq!(
            statuses.iter().filter(|s| **s == StatusCode::NO_CONTENT).count(),
            1,
            "{who}: {statuses:?}"
        );
        for reply in replies.iter().filter(|r| r.status != StatusCode::NO_CONTENT) {
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{who}: {}", reply.body);
        }
        assert_eq!(app.mail.to(who).len(), 1, "one confirmation to {who}");
    }
    app.clock.advance(Duration::minutes(3));
    assert_eq!(app.account.resume_erasures().await.unwrap().finished, 2, "the last runs");
    let jobs = Query { index: Some(Index::Gsi1), ..Query::new("ERASE_DUE", SkRange::All) };
    assert!(app.store.query(&jobs).await.unwrap().items.is_empty(), "no erasure left behind");
    // Whatever the losers audited (a code found used) lost the address too.
    for id in ids {
        let kept = audit::for_user(app.store.as_ref(), id, 100).await.unwrap();
        assert!(kept.iter().all(|r| r.email.is_none() && r.email_digest.is_some()), "{kept:?}");
    }
}

async fn an_interrupted_deletion_is_finished_by_the_redrive(app: App) {
    // The same store, behind a server whose pending-token index fails midway through erasure.
    let tripwire = Arc::new(support::Tripwire::new(app.store.clone(), "TOKENS#"));
    let flaky = App::with(tripwire.clone(), app.clock.clone(), roomy).await;
    let ana = flaky.signed_in(ANA, false).await;
    let ana_id: Ulid = flaky.user_id(ANA).await.parse().unwrap();
    let ride = id(&{
        let admin = flaky.admin("admin@example.edu").await;
        let driver = flaky.ready_driver(CY, &admin).await;
        flaky.offer(&driver, 2).await
    });
    flaky.joined(&ana, &ride, 1).await;
    let forgot = flaky.post("/api/auth/password/forgot", json!({"email": ANA}), None).await;
    assert_eq!(forgot.status, StatusCode::ACCEPTED);
    tripwire.arm(true);
    assert_eq!(
        delete(&flaky, &ana, PASSWORD, None).await.status,
        StatusCode::NO_CONTENT,
        "the account is gone at once"
    );
    tripwire.arm(false);
    assert_eq!(flaky.get("/api/auth/session", Some(&ana)).await.status, StatusCode::UNAUTHORIZED);
    let left = left_of(&app, ana_id, ANA).await;
    assert!(
        left.iter().any(|k| k.starts_with("ERASE#")) && left.iter().any(|k| k.starts_with("TOKEN#")),
        "{left:?}"
    );

    // The redrive leaves it to its run for a while, then finishes it.
    let event = || {
        let sample: Value =
            serde_json::from_str(include_str!("../../events/account-sweep/every-5-minutes.json")).unwrap();
        LambdaEvent::new(sample, Context::default())
    };
    assert_eq!(
        handle_erasure_event(&app.account, event()).await.unwrap(),
        json!({"finished": 0, "failed": 0})
    );
    app.clock.advance(Duration::minutes(6));
    assert_eq!(
        handle_erasure_event(&app.account, event()).await.unwrap(),
        json!({"finished": 1, "failed": 0})
    );
    assert_eq!(left_of(&app, ana_id, ANA).await, [format!("ERASE#{ana_id}/ERASE")], "the last run is due");
    after_last_run(&app).await;
    assert_eq!(left_of(&app, ana_id, ANA).await, Vec::<String>::new());
    let cys = app.get(&format!("/api/carpool/rides/{ride}"), Some(&app.sign_in(CY).await)).await;
    assert_eq!(cys.body["requests"][0]["status"], "left");
    assert_eq!(
        handle_erasure_event(&app.account, event()).await.unwrap(),
        json!({"finished": 0, "failed": 0})
    );
}

async fn an_operator_deletes_the_same_way(app: App) {
    let w = world(&app).await;
    app.mail.0.lock().unwrap().clear();
    let email = Email::parse(ANA).unwrap();
    assert_eq!(app.account.delete_by_operator(&email).await.unwrap(), Some(w.ana_id));
    after_last_run(&app).await;
    assert_eq!(left_of(&app, w.ana_id, ANA).await, Vec::<String>::new());
    assert_eq!(app.ride(&w.ben, &w.ana_ride).await.body["ride"]["status"], "cancelled");
    assert!(app.mail.to(ANA)[0].text.contains("by our team"));
    assert_eq!(app.account.delete_by_operator(&email).await.unwrap(), None, "nobody has the address now");
}
