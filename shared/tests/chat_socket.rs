//! API.md "Chat" over WebSocket, on both stores, through the use case both servers share
//! (`ChatService::connect`, `frame`, `disconnect`) and the local pusher: delivery to every
//! member's connections and nobody else's, error frames, refused handshakes and revoked
//! sessions, Gone connections forgotten, the digest for members away, and a failing management
//! API failing no send.

mod support;

use async_trait::async_trait;
use axum::http::StatusCode;
use carpool::error::AppError;
use carpool::http::cookies::find_session_cookie;
use carpool::push::local::{LocalPusher, Outgoing};
use carpool::push::{PushError, Pusher};
use carpool::repo::connections;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use support::app::*;
use support::rides::*;
use time::Duration;
use tokio::sync::mpsc::Receiver;

/// An open connection of a signed-in user, as the test sees it.
struct Socket {
    id: String,
    frames: Receiver<Outgoing>,
}

impl Socket {
    /// The frames pushed to it so far, parsed; `Close` as `{"close": true}`.
    fn drain(&mut self) -> Vec<Value> {
        let mut out = Vec::new();
        while let Ok(next) = self.frames.try_recv() {
            out.push(match next {
                Outgoing::Frame(text) => serde_json::from_str(&text).unwrap(),
                Outgoing::Close => json!({"close": true}),
            });
        }
        out
    }
}

async fn connect(app: &App, cookie: &str) -> Result<Socket, AppError> {
    let (id, frames) = app.sockets.open();
    let value = find_session_cookie([cookie]).unwrap_or_default();
    app.chat.connect(&value, &id).await?;
    Ok(Socket { id, frames })
}

async fn frame(app: &App, socket: &Socket, frame: Value) -> Option<Value> {
    app.chat.frame(&socket.id, &frame.to_string()).await.map(|reply| serde_json::from_str(&reply).unwrap())
}

fn send_frame(conversation: &str, body: &str, client_id: &str) -> Value {
    json!({"action": "sendMessage", "conversationId": conversation, "body": body, "clientMessageId": client_id})
}

fn messages_of(frames: &[Value]) -> Vec<String> {
    frames
        .iter()
        .filter(|f| f["type"] == "message")
        .map(|f| f["message"]["body"].as_str().unwrap().to_owned())
        .collect()
}

async fn every_members_connections_get_each_message_and_outsiders_nothing(app: App) {
    let (driver, rider, ride, conversation) = ride_with_rider(&app).await;
    let outsider = app.signed_in("out@example.edu", false).await;
    let mut driver_phone = connect(&app, &driver).await.unwrap();
    let mut driver_laptop = connect(&app, &driver).await.unwrap();
    let mut rider_phone = connect(&app, &rider).await.unwrap();
    let mut nosy = connect(&app, &outsider).await.unwrap();

    // Over the socket: no reply of its own; the sender's connection gets the message like all.
    assert_eq!(frame(&app, &rider_phone, send_frame(&conversation, "At the gate", "w-1")).await, None);
    // Over HTTP: delivered the same way.
    let body = json!({"body": "Two minutes", "clientMessageId": "h-1"});
    let sent =
        app.post(&format!("/api/chat/conversations/{conversation}/messages"), body, Some(&driver)).await;
    assert_eq!(sent.status, StatusCode::CREATED);
    // A ride event's system message too.
    let later = json!({"departAt": app.at(Duration::hours(26))});
    assert_eq!(
        app.send("PATCH", &format!("/api/carpool/rides/{ride}"), Some(later), &driver).await.status,
        StatusCode::OK
    );

    for socket in [&mut driver_phone, &mut driver_laptop, &mut rider_phone] {
        let frames = socket.drain();
        let bodies = messages_of(&frames);
        assert_eq!(bodies.len(), 3, "{frames:?}");
        assert_eq!(bodies[..2], ["At the gate", "Two minutes"]);
        assert!(bodies[2].starts_with("The ride now leaves"));
        let first = &frames[0]["message"];
        assert_eq!(first["clientMessageId"], "w-1");
        assert_eq!(first["senderName"], "Alice Example");
        assert_eq!(first["kind"], "user");
        assert_eq!(frames[2]["message"]["kind"], "system");
    }
    assert!(nosy.drain().is_empty(), "an outsider receives nothing");

    // A resend is answered to its own connection only, with the stored message.
    let again = frame(&app, &rider_phone, send_frame(&conversation, "At the gate", "w-1")).await.unwrap();
    assert_eq!(again["type"], "message");
    assert_eq!(again["message"]["body"], "At the gate");
    assert!(driver_phone.drain().is_empty(), "nothing re-delivered");

    // markRead answers nothing and moves the marker.
    let newest =
        app.get(&format!("/api/chat/conversations/{conversation}/messages?limit=1"), Some(&rider)).await;
    let newest = newest.body["messages"][0]["id"].as_str().unwrap().to_owned();
    let read = json!({"action": "markRead", "conversationId": conversation, "messageId": newest});
    assert_eq!(frame(&app, &rider_phone, read).await, None);
    let list = app.get("/api/chat/conversations", Some(&rider)).await;
    assert_eq!(list.body["conversations"][0]["unread"], 0);

    // Closed connections are forgotten.
    app.chat.disconnect(&driver_laptop.id).await.unwrap();
    let driver_id: ulid::Ulid = app.user_id("drv@example.edu").await.parse().unwrap();
    let open = connections::of_user(app.store.as_ref(), driver_id).await.unwrap();
    assert_eq!(open.iter().map(|c| c.id.clone()).collect::<Vec<_>>(), [driver_phone.id.clone()]);
}

async fn bad_frames_get_error_frames_and_the_connection_stays_open(app: App) {
    let (_, rider, _, conversation) = ride_with_rider(&app).await;
    let socket = connect(&app, &rider).await.unwrap();
    let raw = |text: String| {
        let (app, socket) = (&app, &socket);
        async move { serde_json::from_str::<Value>(&app.chat.frame(&socket.id, &text).await.unwrap()).unwrap() }
    };
    let code = |v: &Value| v["code"].as_str().unwrap().to_owned();
    assert_eq!(code(&raw("not json".into()).await), "invalid_request");
    assert_eq!(code(&raw(json!({"action": "dance"}).to_string()).await), "invalid_request");
    assert_eq!(code(&raw(json!({"hello": 1}).to_string()).await), "invalid_request");
    let missing = raw(json!({"action": "sendMessage", "conversationId": conversation}).to_string()).await;
    assert_eq!(code(&missing), "invalid_request");
    assert!(missing["message"].as_str().unwrap().contains("body"), "{missing}");
    let too_long = raw(send_frame(&conversation, &"x".repeat(2001), "long").to_string()).await;
    assert_eq!(
        (code(&too_long), too_long["clientMessageId"].clone()),
        ("invalid_message".into(), json!("long"))
    );
    let huge = raw(send_frame(&conversation, &"x".repeat(40 * 1024), "huge").to_string()).await;
    assert_eq!(code(&huge), "payload_too_large");
    let elsewhere = raw(send_frame(&ulid::Ulid::new().to_string(), "hi", "nf").to_string()).await;
    assert_eq!(code(&elsewhere), "not_found");
    assert_eq!(frame(&app, &socket, json!({"action": "ping"})).await.unwrap(), json!({"type": "pong"}));
    for i in 0..30 {
        assert_eq!(frame(&app, &socket, send_frame(&conversation, "spam", &format!("s{i}"))).await, None);
    }
    let limited = frame(&app, &socket, send_frame(&conversation, "spam", "s30")).await.unwrap();
    assert_eq!(code(&limited), "rate_limited");
    assert!(limited["retryAfter"].as_i64().unwrap() > 0);
    // Still open: the rider's own connection got every stored message.
    let mut socket = socket;
    assert_eq!(messages_of(&socket.drain()).len(), 30);
}

async fn handshakes_need_a_live_session_and_signing_out_everywhere_closes_sockets(app: App) {
    for cookie in ["", "__Host-session=forged", "__Host-session=01JD3C0000000000000000000A.AAAA"] {
        assert!(matches!(connect(&app, cookie).await, Err(AppError::Unauthenticated)), "{cookie}");
    }
    let signed_out = app.signed_in("rider@example.edu", false).await;
    assert_eq!(
        app.post("/api/auth/signout", json!({}), Some(&signed_out)).await.status,
        StatusCode::NO_CONTENT
    );
    assert!(matches!(connect(&app, &signed_out).await, Err(AppError::Unauthenticated)));
    // A session idle past its 12 hours.
    let stale = app.signed_in("drv@example.edu", false).await;
    app.clock.advance(Duration::hours(13));
    assert!(matches!(connect(&app, &stale).await, Err(AppError::Unauthenticated)));

    // Signing out, or revoking a session, closes that session's connections only.
    let kept = app.sign_in("rider@example.edu").await;
    let ending = app.sign_in("rider@example.edu").await;
    let mut kept_socket = connect(&app, &kept).await.unwrap();
    let mut ending_socket = connect(&app, &ending).await.unwrap();
    assert_eq!(app.post("/api/auth/signout", json!({}), Some(&ending)).await.status, StatusCode::NO_CONTENT);
    assert_eq!(ending_socket.drain(), [json!({"close": true})]);
    assert!(kept_socket.drain().is_empty());
    // Changing the password ends the other sessions, and closes their connections.
    let other = app.sign_in("rider@example.edu").await;
    let mut other_socket = connect(&app, &other).await.unwrap();
    let change = json!({"currentPassword": PASSWORD, "password": "quartz lantern meadow echo"});
    assert_eq!(app.post("/api/auth/password/change", change, Some(&kept)).await.status, StatusCode::OK);
    assert_eq!(other_socket.drain(), [json!({"close": true})]);
    assert!(kept_socket.drain().is_empty(), "the session that changed it keeps its connection");
    drop(kept_socket);

    let rider = kept;
    let mut phone = connect(&app, &rider).await.unwrap();
    let mut laptop = connect(&app, &rider).await.unwrap();
    assert_eq!(
        app.post("/api/auth/signout-all", json!({}), Some(&rider)).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(phone.drain(), [json!({"close": true})], "closed at once");
    assert_eq!(laptop.drain(), [json!({"close": true})]);
    // A frame that still arrives is refused, with an error frame, and the connection closed.
    assert_eq!(frame(&app, &phone, json!({"action": "ping"})).await, None);
    let refused = phone.drain();
    assert_eq!(refused[0]["code"], "unauthenticated");
    assert_eq!(refused.last().unwrap(), &json!({"close": true}));
    assert!(matches!(connect(&app, &rider).await, Err(AppError::Unauthenticated)));
    let rider_id: ulid::Ulid = app.user_id("rider@example.edu").await.parse().unwrap();
    assert!(connections::of_user(app.store.as_ref(), rider_id).await.unwrap().is_empty());
}

async fn gone_connections_are_forgotten_and_members_away_get_one_digest_an_hour(app: App) {
    let (driver, rider, _, conversation) = ride_with_rider(&app).await;
    let rider_phone = connect(&app, &rider).await.unwrap();
    let driver_phone = connect(&app, &driver).await.unwrap();
    // The rider's phone went away without a `$disconnect`: its next push is Gone. (Within 10 s
    // of its handshake, Gone is taken for a handshake still under way, and it is kept.)
    app.sockets.forget(&rider_phone.id);
    app.clock.advance(Duration::seconds(11));
    let secret = format!("{} and the rest of a long message that must not be mailed whole", "x".repeat(60));
    assert_eq!(frame(&app, &driver_phone, send_frame(&conversation, &secret, "d-1")).await, None);
    let rider_id: ulid::Ulid = app.user_id("rider@example.edu").await.parse().unwrap();
    assert!(
        connections::of_user(app.store.as_ref(), rider_id).await.unwrap().is_empty(),
        "gone is forgotten"
    );
    app.dispatcher.deliver_due().await.unwrap();
    let digests = app.mail.to("rider@example.edu");
    let digest = digests.last().unwrap();
    assert!(digest.subject.starts_with("Unread messages in the ride"), "{}", digest.subject);
    assert!(digest.text.contains("xxxxxxxx"), "a preview: {}", digest.text);
    assert!(!digest.text.contains("must not be mailed whole"), "only a preview: {}", digest.text);
    let mailed = digests.len();

    // More messages within the hour: no second digest.
    for i in 0..3 {
        frame(&app, &driver_phone, send_frame(&conversation, "still there?", &format!("d-{i}x"))).await;
    }
    app.dispatcher.deliver_due().await.unwrap();
    assert_eq!(app.mail.to("rider@example.edu").len(), mailed);
    // The driver, connected, got no digest.
    assert!(app.mail.to("drv@example.edu").iter().all(|m| !m.subject.starts_with("Unread")));
    // An hour on, another.
    app.clock.advance(Duration::minutes(61));
    let driver = app.sign_in("drv@example.edu").await;
    let body = json!({"body": "Leaving now", "clientMessageId": "h-late"});
    app.post(&format!("/api/chat/conversations/{conversation}/messages"), body, Some(&driver)).await;
    assert_eq!(app.mail.to("rider@example.edu").len(), mailed + 1);
}

/// The management API refusing every frame while `failing` (throttled, or down), else the local
/// sockets.
struct FailingPusher {
    sockets: Arc<LocalPusher>,
    failing: Arc<AtomicBool>,
}

#[async_trait]
impl Pusher for FailingPusher {
    async fn send(&self, connection: &str, frame: &str) -> Result<(), PushError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(PushError::Failed("injected: TooManyRequestsException".into()));
        }
        self.sockets.send(connection, frame).await
    }

    async fn close(&self, connection: &str) -> Result<(), PushError> {
        self.sockets.close(connection).await
    }
}

async fn a_failing_push_fails_no_send_and_the_member_it_missed_is_mailed(base: App) {
    let failing = Arc::new(AtomicBool::new(false));
    let wrap = |sockets| Arc::new(FailingPusher { sockets, failing: failing.clone() }) as Arc<dyn Pusher>;
    let app = App::with_pusher(base.store.clone(), base.clock.clone(), |_| (), wrap).await;
    let (driver, rider, _, conversation) = ride_with_rider(&app).await;
    let mut rider_phone = connect(&app, &rider).await.unwrap();
    let driver_phone = connect(&app, &driver).await.unwrap();
    rider_phone.drain();

    failing.store(true, Ordering::SeqCst);
    let path = format!("/api/chat/conversations/{conversation}/messages");
    let body = json!({"body": "Running late", "clientMessageId": "f-1"});
    assert_eq!(app.post(&path, body, Some(&driver)).await.status, StatusCode::CREATED);
    assert_eq!(frame(&app, &driver_phone, send_frame(&conversation, "Five minutes", "f-2")).await, None);
    assert!(rider_phone.drain().is_empty());
    // A failure is not Gone: the connection stays, for the next frame.
    let rider_id: ulid::Ulid = app.user_id("rider@example.edu").await.parse().unwrap();
    assert_eq!(connections::of_user(app.store.as_ref(), rider_id).await.unwrap().len(), 1);
    // Not dropped: the rider, whom no frame reached, is mailed the digest, and the history has
    // both.
    app.dispatcher.deliver_due().await.unwrap();
    let digests = app.mail.to("rider@example.edu");
    let digest = digests.iter().find(|m| m.subject.starts_with("Unread messages")).expect("a digest");
    assert!(digest.text.contains("Running late"), "{}", digest.text);
    let history = app.get(&path, Some(&rider)).await;
    let bodies: Vec<&str> =
        history.body["messages"].as_array().unwrap().iter().filter_map(|m| m["body"].as_str()).collect();
    assert!(bodies.contains(&"Running late") && bodies.contains(&"Five minutes"), "{bodies:?}");

    failing.store(false, Ordering::SeqCst);
    let body = json!({"body": "Here now", "clientMessageId": "f-3"});
    assert_eq!(app.post(&path, body, Some(&driver)).await.status, StatusCode::CREATED);
    assert_eq!(messages_of(&rider_phone.drain()), ["Here now"]);
}

on_both_stores!(embedded, dynamo;
    every_members_connections_get_each_message_and_outsiders_nothing,
    bad_frames_get_error_frames_and_the_connection_stays_open,
    handshakes_need_a_live_session_and_signing_out_everywhere_closes_sockets,
    gone_connections_are_forgotten_and_members_away_get_one_digest_an_hour,
    a_failing_push_fails_no_send_and_the_member_it_missed_is_mailed,
);
