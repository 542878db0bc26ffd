//! Chat on the real `carpool-local` binary with a real WebSocket client, as the README tells:
//! two users (one with two connections) and an outsider on `/ws`; a message sent on one
//! connection reaches every connection of both members (the sender's own included) and not the
//! outsider; bad frames get error frames and the connection stays; handshakes without a live
//! session or from a foreign origin are refused; history, unread counts and sessions survive a
//! restart, after which the clients reconnect.

mod common;

use common::*;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::header::{COOKIE, ORIGIN};
use tokio_tungstenite::tungstenite::{Error, Message};
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

const PASSWORD: &str = "marble kiosk velvet tundra";

/// Registers, verifies and signs in (remembered); the cookie and the user's id.
fn account(server: &Server, email: &str, name: &str) -> (String, String) {
    let body = json!({"email": email, "password": PASSWORD, "name": name});
    let (status, reg, _) = server.call("POST", "/api/auth/register", Some(body), None);
    assert_eq!(status, 202, "{reg}");
    let token = reg["devVerificationToken"].as_str().unwrap().to_owned();
    server.call("POST", "/api/auth/verify-email", Some(json!({"token": token})), None);
    let body = json!({"email": email, "password": PASSWORD, "rememberMe": true});
    let (status, body, cookie) = server.call("POST", "/api/auth/signin", Some(body), None);
    assert_eq!(status, 200, "{body}");
    (cookie.unwrap(), body["user"]["id"].as_str().unwrap().to_owned())
}

fn ws_url(server: &Server) -> String {
    format!("{}/ws", server.url.replacen("http://", "ws://", 1))
}

/// Opens `/ws` with these headers; the handshake's HTTP status when refused.
async fn open(server: &Server, cookie: Option<&str>, origin: Option<&str>) -> Result<Socket, u16> {
    let mut request = ws_url(server).into_client_request().unwrap();
    if let Some(cookie) = cookie {
        request.headers_mut().insert(COOKIE, cookie.parse().unwrap());
    }
    if let Some(origin) = origin {
        request.headers_mut().insert(ORIGIN, origin.parse().unwrap());
    }
    match connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(Error::Http(response)) => Err(response.status().as_u16()),
        Err(e) => panic!("handshake failed: {e}"),
    }
}

async fn send(socket: &mut Socket, frame: Value) {
    socket.send(Message::Text(frame.to_string().into())).await.unwrap();
}

/// The next text frame, parsed (within 5 seconds).
async fn next(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("a frame within 5 s")
            .expect("the connection is open")
            .unwrap();
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

/// Whatever arrived before a ping's pong: a connection's queue, emptied in order.
async fn before_pong(socket: &mut Socket) -> Vec<Value> {
    send(socket, json!({"action": "ping"})).await;
    let mut frames = Vec::new();
    loop {
        let frame = next(socket).await;
        if frame["type"] == "pong" {
            return frames;
        }
        frames.push(frame);
    }
}

fn say(conversation: &str, body: &str, client_id: &str) -> Value {
    json!({"action": "sendMessage", "conversationId": conversation, "body": body, "clientMessageId": client_id})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_users_chat_over_websockets_and_it_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let (ana, _) = account(&server, "ana@example.edu", "Ana Rider");
    let (ben, ben_id) = account(&server, "ben@example.edu", "Ben Driver");
    let (cy, _) = account(&server, "cy@example.edu", "Cy Outsider");
    let (status, direct, _) =
        server.call("POST", "/api/chat/conversations", Some(json!({"userId": ben_id})), Some(&ana));
    assert_eq!(status, 200, "{direct}");
    let conversation = direct["conversation"]["id"].as_str().unwrap().to_owned();

    // Refused handshakes: no cookie, a forged one, a foreign page.
    assert_eq!(open(&server, None, None).await.err(), Some(401));
    assert_eq!(open(&server, Some("__Host-session=forged"), None).await.err(), Some(401));
    assert_eq!(open(&server, Some(&ana), Some("https://evil.example")).await.err(), Some(403));

    let mut ana_phone = open(&server, Some(&ana), Some(&server.url)).await.unwrap();
    let mut ana_laptop = open(&server, Some(&ana), None).await.unwrap();
    let mut ben_phone = open(&server, Some(&ben), None).await.unwrap();
    let mut cy_phone = open(&server, Some(&cy), None).await.unwrap();

    send(&mut ana_phone, say(&conversation, "Leaving in 5, main gate", "a-1")).await;
    for socket in [&mut ana_phone, &mut ana_laptop, &mut ben_phone] {
        let frame = next(socket).await;
        assert_eq!(frame["type"], "message", "{frame}");
        assert_eq!(frame["message"]["body"], "Leaving in 5, main gate");
        assert_eq!(frame["message"]["senderName"], "Ana Rider");
        assert_eq!(frame["message"]["clientMessageId"], "a-1");
    }
    send(&mut ben_phone, say(&conversation, "On my way", "b-1")).await;
    for socket in [&mut ana_phone, &mut ana_laptop, &mut ben_phone] {
        assert_eq!(next(socket).await["message"]["body"], "On my way");
    }
    assert_eq!(before_pong(&mut cy_phone).await, Vec::<Value>::new(), "the outsider got nothing");

    // Bad frames: an error frame each, and the connection stays open.
    socket_text(&mut cy_phone, "not json").await;
    assert_eq!(next(&mut cy_phone).await["code"], "invalid_request");
    send(&mut cy_phone, say(&conversation, "let me in", "c-1")).await;
    let refused = next(&mut cy_phone).await;
    assert_eq!(
        (refused["code"].clone(), refused["clientMessageId"].clone()),
        (json!("not_found"), json!("c-1"))
    );
    send(&mut cy_phone, say(&conversation, &"x".repeat(33 * 1024), "c-2")).await;
    assert_eq!(next(&mut cy_phone).await["code"], "payload_too_large");
    assert_eq!(before_pong(&mut cy_phone).await, Vec::<Value>::new());

    // Ben reads Ana's message only; one unread is left for Ana's side of it.
    let (_, history, _) =
        server.call("GET", &format!("/api/chat/conversations/{conversation}/messages"), None, Some(&ben));
    let first = history["messages"][1]["id"].as_str().unwrap().to_owned();
    send(&mut ben_phone, json!({"action": "markRead", "conversationId": conversation, "messageId": first}))
        .await;
    assert_eq!(before_pong(&mut ben_phone).await, Vec::<Value>::new(), "markRead answers nothing");

    drop((ana_phone, ana_laptop, ben_phone, cy_phone));
    assert!(server.stop().success());
    let server = Server::start(dir.path());

    let (status, list, _) = server.call("GET", "/api/chat/conversations", None, Some(&ben));
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["conversations"][0]["lastMessage"]["body"], "On my way");
    assert_eq!(list["conversations"][0]["unread"], 0, "his own message counts as read");
    let (_, list, _) = server.call("GET", "/api/chat/conversations", None, Some(&ana));
    assert_eq!(list["conversations"][0]["unread"], 1);
    let (_, history, _) = server.call(
        "GET",
        &format!("/api/chat/conversations/{conversation}/messages?after={first}"),
        None,
        Some(&ana),
    );
    assert_eq!(history["messages"][0]["body"], "On my way", "caught up after the restart");

    let mut ana_phone = open(&server, Some(&ana), None).await.unwrap();
    let mut ben_phone = open(&server, Some(&ben), None).await.unwrap();
    send(&mut ben_phone, say(&conversation, "Here", "b-2")).await;
    assert_eq!(next(&mut ana_phone).await["message"]["body"], "Here");
    drop((ana_phone, ben_phone));
    assert!(server.stop().success());
}

async fn socket_text(socket: &mut Socket, text: &str) {
    socket.send(Message::Text(text.into())).await.unwrap();
}
