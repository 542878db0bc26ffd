//! API.md "Chat" over HTTP, on both stores: ride conversations following the ride's members,
//! system messages of ride events, direct conversations, idempotent sends (also concurrent),
//! history backwards and forwards, read markers and unread counts, and bad input.

mod support;

use axum::http::StatusCode;
use futures::future::join_all;
use serde_json::{json, Value};
use support::app::*;
use support::rides::*;
use time::Duration;

async fn send(app: &App, cookie: &str, conversation: &str, body: &str, client_id: &str) -> Reply {
    let body = json!({"body": body, "clientMessageId": client_id});
    app.post(&format!("/api/chat/conversations/{conversation}/messages"), body, Some(cookie)).await
}

async fn messages(app: &App, cookie: &str, conversation: &str, query: &str) -> Reply {
    app.get(&format!("/api/chat/conversations/{conversation}/messages{query}"), Some(cookie)).await
}

fn bodies(page: &Value) -> Vec<String> {
    page["messages"].as_array().unwrap().iter().map(|m| m["body"].as_str().unwrap().to_owned()).collect()
}

async fn conversations(app: &App, cookie: &str) -> Vec<Value> {
    let list = app.get("/api/chat/conversations", Some(cookie)).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    list.body["conversations"].as_array().unwrap().clone()
}

async fn a_rides_members_chat_and_ride_events_post_system_messages(app: App) {
    let (driver, rider, ride, conversation) = ride_with_rider(&app).await;
    let sent = send(&app, &rider, &conversation, "I'm at the gate", "m-1").await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
    let message = &sent.body["message"];
    assert_eq!(message["kind"], "user");
    assert_eq!(message["senderId"], app.user_id("rider@example.edu").await);
    assert_eq!(message["clientMessageId"], "m-1");
    assert_eq!(message["conversationId"], conversation);

    let later = json!({"departAt": app.at(Duration::hours(26))});
    assert_eq!(
        app.send("PATCH", &format!("/api/carpool/rides/{ride}"), Some(later), &driver).await.status,
        StatusCode::OK
    );
    let page = messages(&app, &driver, &conversation, "").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let texts = bodies(&page.body);
    assert!(texts[0].starts_with("The ride now leaves"), "newest first: {texts:?}");
    assert_eq!(texts[1], "I'm at the gate");
    assert_eq!(texts[2], "Alice Example joined the ride.");
    assert_eq!(page.body["messages"][2]["kind"], "system");
    assert_eq!(page.body["messages"][2]["senderId"], Value::Null);

    // Outsiders and pending riders are not in it.
    let outsider = app.signed_in("out@example.edu", false).await;
    app.joined(&outsider, &ride, 1).await;
    assert_eq!(messages(&app, &outsider, &conversation, "").await.status, StatusCode::NOT_FOUND);
    assert_eq!(send(&app, &outsider, &conversation, "hi", "x").await.status, StatusCode::NOT_FOUND);

    // A rider who leaves stops reading and writing it.
    app.post(&format!("/api/carpool/rides/{ride}/leave"), json!({}), Some(&rider)).await;
    assert_eq!(messages(&app, &rider, &conversation, "").await.status, StatusCode::NOT_FOUND);
    assert!(conversations(&app, &rider).await.is_empty(), "gone from their list");
    assert_eq!(
        bodies(&messages(&app, &driver, &conversation, "").await.body)[0],
        "Alice Example left the ride."
    );

    // A cancelled ride's chat stays readable and takes no new messages.
    app.send("DELETE", &format!("/api/carpool/rides/{ride}"), None, &driver).await;
    assert_eq!(bodies(&messages(&app, &driver, &conversation, "").await.body)[0], "The ride was cancelled.");
    let closed = send(&app, &driver, &conversation, "anyone?", "m-9").await;
    assert_eq!((closed.status, closed.code()), (StatusCode::CONFLICT, "conversation_closed"));
}

async fn a_resend_is_stored_once_even_when_concurrent(app: App) {
    let (_, rider, _, conversation) = ride_with_rider(&app).await;
    let first = send(&app, &rider, &conversation, "on my way", "same-id").await;
    assert_eq!(first.status, StatusCode::CREATED);
    let again = send(&app, &rider, &conversation, "on my way", "same-id").await;
    assert_eq!(again.status, StatusCode::OK, "a resend answers 200 with the stored message");
    assert_eq!(again.body["message"]["id"], first.body["message"]["id"]);

    let racing =
        join_all((0..10).map(|_| send(&app, &rider, &conversation, "running late", "race-id"))).await;
    let created = racing.iter().filter(|r| r.status == StatusCode::CREATED).count();
    let ids: std::collections::HashSet<&str> =
        racing.iter().map(|r| r.body["message"]["id"].as_str().unwrap()).collect();
    assert_eq!((created, ids.len()), (1, 1), "{:?}", racing.iter().map(|r| r.status).collect::<Vec<_>>());
    let texts = bodies(&messages(&app, &rider, &conversation, "").await.body);
    assert_eq!(texts.iter().filter(|t| *t == "running late").count(), 1);
    assert_eq!(texts.iter().filter(|t| *t == "on my way").count(), 1);
}

async fn concurrent_senders_store_messages_in_id_order(app: App) {
    let (driver, rider, _, conversation) = ride_with_rider(&app).await;
    let client_ids: Vec<String> = (0..12).map(|i| format!("busy-{i}")).collect();
    let sends = client_ids.iter().enumerate().map(|(i, client_id)| {
        let who = if i % 2 == 0 { &driver } else { &rider };
        send(&app, who, &conversation, "busy", client_id)
    });
    let answers = join_all(sends).await;
    assert!(
        answers.iter().all(|a| a.status == StatusCode::CREATED),
        "{:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    let page = messages(&app, &rider, &conversation, "?limit=50").await.body;
    let ids: Vec<&str> =
        page["messages"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 13, "12 and the system message");
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first, ids strictly in order");
    // A client that saw any message catches up on exactly the ones after it.
    for (newer, id) in ids.iter().enumerate() {
        let after = messages(&app, &rider, &conversation, &format!("?after={id}&limit=50")).await.body;
        assert_eq!(after["messages"].as_array().unwrap().len(), newer);
    }
}

async fn history_pages_backwards_and_catches_up_forwards(app: App) {
    let (driver, rider, _, conversation) = ride_with_rider(&app).await;
    for i in 0..25 {
        let who = if i % 2 == 0 { &driver } else { &rider };
        assert_eq!(
            send(&app, who, &conversation, &format!("m{i}"), &format!("c{i}")).await.status,
            StatusCode::CREATED
        );
    }
    let mut seen = Vec::new();
    let mut query = "?limit=10".to_owned();
    loop {
        let page = messages(&app, &rider, &conversation, &query).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        seen.extend(bodies(&page.body));
        match page.body["nextCursor"].as_str() {
            Some(next) => query = format!("?limit=10&before={next}"),
            None => break,
        }
    }
    let expected: Vec<String> =
        (0..25).rev().map(|i| format!("m{i}")).chain(["Alice Example joined the ride.".to_owned()]).collect();
    assert_eq!(seen, expected, "newest first, each once");

    let all = messages(&app, &rider, &conversation, "?limit=50").await.body;
    let m19 = all["messages"].as_array().unwrap().iter().find(|m| m["body"] == "m19").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let after = messages(&app, &rider, &conversation, &format!("?after={m19}&limit=3")).await.body;
    assert_eq!(bodies(&after), ["m20", "m21", "m22"], "oldest first after it");
    let next = after["nextCursor"].as_str().unwrap();
    let rest = messages(&app, &rider, &conversation, &format!("?after={next}&limit=3")).await.body;
    assert_eq!(bodies(&rest), ["m23", "m24"]);
    assert_eq!(rest["nextCursor"], Value::Null);

    let cursor = messages(&app, &rider, &conversation, "?limit=5").await.body["nextCursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut altered = cursor.clone().into_bytes();
    altered[12] = if altered[12] == b'A' { b'B' } else { b'A' };
    let bad =
        messages(&app, &rider, &conversation, &format!("?before={}", String::from_utf8(altered).unwrap()))
            .await;
    assert_eq!((bad.status, bad.code()), (StatusCode::BAD_REQUEST, "invalid_cursor"));
    let borrowed = messages(&app, &driver, &conversation, &format!("?before={cursor}")).await;
    assert_eq!(borrowed.code(), "invalid_cursor", "a cursor is its reader's");
}

async fn unread_counts_follow_read_markers_and_the_list_follows_activity(app: App) {
    let (driver, rider, _, ride_chat) = ride_with_rider(&app).await;
    let other = app.signed_in("friend@example.edu", false).await;
    let friend_id = app.user_id("friend@example.edu").await;
    let direct = app.post("/api/chat/conversations", json!({"userId": friend_id}), Some(&rider)).await;
    assert_eq!(direct.status, StatusCode::OK, "{}", direct.body);
    let direct_id = direct.body["conversation"]["id"].as_str().unwrap().to_owned();
    assert_eq!(direct.body["conversation"]["kind"], "direct");
    assert_eq!(direct.body["conversation"]["title"], "Alice Example");

    for i in 0..3 {
        send(&app, &driver, &ride_chat, &format!("d{i}"), &format!("d{i}")).await;
    }
    send(&app, &other, &direct_id, "hey", "f1").await;
    let list = conversations(&app, &rider).await;
    assert_eq!(list[0]["id"], direct_id, "the most recent activity first");
    assert_eq!(list[0]["unread"], 1);
    assert_eq!(list[0]["lastMessage"]["body"], "hey");
    assert_eq!(list[1]["id"], ride_chat);
    assert_eq!(list[1]["unread"], 4, "three messages and the system message");
    assert_eq!(list[1]["kind"], "ride");
    assert_eq!(list[1]["title"], "Main gate → Union Station");
    assert_eq!(list[1]["members"].as_array().unwrap().len(), 2);

    let page = messages(&app, &rider, &ride_chat, "").await.body;
    let second_newest = page["messages"][1]["id"].as_str().unwrap().to_owned();
    let read = app
        .post(
            &format!("/api/chat/conversations/{ride_chat}/read"),
            json!({"messageId": second_newest}),
            Some(&rider),
        )
        .await;
    assert_eq!(read.status, StatusCode::NO_CONTENT, "{}", read.body);
    assert_eq!(conversations(&app, &rider).await[1]["unread"], 1);
    send(&app, &rider, &ride_chat, "mine", "r1").await;
    let list = conversations(&app, &rider).await;
    assert_eq!(
        (list[0]["id"].as_str(), list[0]["unread"].as_i64()),
        (Some(ride_chat.as_str()), Some(0)),
        "sending reads the conversation up to one's own message"
    );
    send(&app, &driver, &ride_chat, "ok!", "d9").await;
    assert_eq!(conversations(&app, &rider).await[0]["unread"], 1);
    let unknown = app
        .post(
            &format!("/api/chat/conversations/{ride_chat}/read"),
            json!({"messageId": ulid::Ulid::new().to_string()}),
            Some(&rider),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

async fn direct_conversations_are_one_per_pair_and_respect_blocks(app: App) {
    let a = app.signed_in("a@example.edu", false).await;
    let b = app.signed_in("b@example.edu", false).await;
    let (a_id, b_id) = (app.user_id("a@example.edu").await, app.user_id("b@example.edu").await);
    let first = app.post("/api/chat/conversations", json!({"userId": b_id}), Some(&a)).await;
    let back = app.post("/api/chat/conversations", json!({"userId": a_id}), Some(&b)).await;
    assert_eq!(
        first.body["conversation"]["id"], back.body["conversation"]["id"],
        "found again from either side"
    );
    let own = app.post("/api/chat/conversations", json!({"userId": a_id}), Some(&a)).await;
    assert_eq!((own.status, own.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"));
    let x = app.signed_in("x@other.edu", false).await;
    let x_id = app.user_id("x@other.edu").await;
    assert_eq!(
        app.post("/api/chat/conversations", json!({"userId": x_id}), Some(&a)).await.status,
        StatusCode::NOT_FOUND
    );
    let conversation = first.body["conversation"]["id"].as_str().unwrap().to_owned();
    assert_eq!(send(&app, &a, &conversation, "hello", "h1").await.status, StatusCode::CREATED);
    // Another campus's user, holding the id: not found, like any id they may not see.
    assert_eq!(messages(&app, &x, &conversation, "").await.status, StatusCode::NOT_FOUND);
    assert_eq!(send(&app, &x, &conversation, "hi", "x1").await.status, StatusCode::NOT_FOUND);
    let blocked = app.post(&format!("/api/users/{a_id}/block"), json!({}), Some(&b)).await;
    assert_eq!(blocked.status, StatusCode::NO_CONTENT);
    let refused = send(&app, &a, &conversation, "hello?", "h2").await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND, "blocked pairs cannot message each other");
    let again = app.post("/api/chat/conversations", json!({"userId": b_id}), Some(&a)).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
}

async fn bad_messages_are_refused_and_sending_is_limited(app: App) {
    let (_, rider, _, conversation) = ride_with_rider(&app).await;
    for body in ["", "   ", &"x".repeat(2001)] {
        let res = send(&app, &rider, &conversation, body, "bad").await;
        assert_eq!((res.status, res.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_message"));
    }
    let res = send(&app, &rider, &conversation, "ok", "has spaces").await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let missing = app
        .post(&format!("/api/chat/conversations/{conversation}/messages"), json!({"body": "x"}), Some(&rider))
        .await;
    assert_eq!((missing.status, missing.code()), (StatusCode::BAD_REQUEST, "invalid_request"));
    for i in 0..30 {
        assert_eq!(
            send(&app, &rider, &conversation, "spam", &format!("s{i}")).await.status,
            StatusCode::CREATED
        );
    }
    let limited = send(&app, &rider, &conversation, "spam", "s30").await;
    assert_eq!((limited.status, limited.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
    assert_eq!(
        send(&app, &rider, &conversation, "spam", "s0").await.status,
        StatusCode::OK,
        "a resend is not a new message"
    );
    let unknown = format!("/api/chat/conversations/{}/messages", ulid::Ulid::new());
    assert_eq!(app.get(&unknown, Some(&rider)).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/chat/conversations", None).await.code(), "unauthenticated");
}

on_both_stores!(embedded, dynamo;
    a_rides_members_chat_and_ride_events_post_system_messages,
    a_resend_is_stored_once_even_when_concurrent,
    concurrent_senders_store_messages_in_id_order,
    history_pages_backwards_and_catches_up_forwards,
    unread_counts_follow_read_markers_and_the_list_follows_activity,
    direct_conversations_are_one_per_pair_and_respect_blocks,
    bad_messages_are_refused_and_sending_is_limited,
);
