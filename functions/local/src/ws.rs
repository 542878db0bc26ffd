//! `/ws`: the chat's WebSocket on the local server, with API Gateway's rules. The handshake
//! needs a live session cookie (refused with `401`, or `403` from a foreign origin); each text
//! frame is answered by the same use case as the `chat-ws` function; frames for the connection
//! arrive through the local pusher; a connection idle for 10 minutes, or open for 2 hours, is
//! closed, and clients reconnect and catch up with `after`.

use crate::server::ConnectionHold;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::header::{COOKIE, ORIGIN};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use carpool::chat::ChatService;
use carpool::error::AppError;
use carpool::http::cookies::find_session_cookie;
use carpool::http::origin::OriginPolicy;
use carpool::push::local::{LocalPusher, Outgoing};
use futures::{SinkExt, StreamExt};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::Receiver;

/// API Gateway's limits on a WebSocket connection.
const IDLE: Duration = Duration::from_secs(10 * 60);
const LIFETIME: Duration = Duration::from_secs(2 * 60 * 60);
/// Frames up to this size are read (and those over 32 KiB answered with an error frame, as
/// `ChatService::frame` does); a larger one closes the connection (1009), as in AWS.
const MAX_READ_BYTES: usize = 1024 * 1024;

/// WebSocket close codes (RFC 6455 §7.4.1).
const GOING_AWAY: u16 = 1001;
const POLICY_VIOLATION: u16 = 1008;

#[derive(Clone)]
struct Sockets {
    chat: Arc<ChatService>,
    pusher: Arc<LocalPusher>,
    origins: Arc<OriginPolicy>,
}

pub fn router(chat: Arc<ChatService>, pusher: Arc<LocalPusher>, origins: Arc<OriginPolicy>) -> Router {
    Router::new().route("/ws", get(upgrade)).with_state(Sockets { chat, pusher, origins })
}

async fn upgrade(
    State(sockets): State<Sockets>,
    Extension(hold): Extension<ConnectionHold>,
    headers: HeaderMap,
    handshake: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let origin = headers.get(ORIGIN).and_then(|v| v.to_str().ok());
    if let Err(e) = sockets.origins.allows_socket(origin) {
        return e.into_response();
    }
    let Some(cookie) = find_session_cookie(headers.get_all(COOKIE).iter().filter_map(|v| v.to_str().ok()))
    else {
        return AppError::Unauthenticated.into_response();
    };
    let Ok(handshake) = handshake else {
        return AppError::invalid("/ws takes a WebSocket handshake").into_response();
    };
    let (id, outgoing) = sockets.pusher.open();
    if let Err(e) = sockets.chat.connect(&cookie, &id).await {
        sockets.pusher.forget(&id);
        return e.into_response();
    }
    handshake
        .max_message_size(MAX_READ_BYTES)
        .on_upgrade(move |socket| run(sockets, socket, id, outgoing, hold))
}

/// One open connection: client frames answered in order, pushed frames written as they come.
async fn run(
    sockets: Sockets,
    socket: WebSocket,
    id: String,
    mut outgoing: Receiver<Outgoing>,
    mut hold: ConnectionHold,
) {
    let (mut sink, mut stream) = socket.split();
    let lifetime = tokio::time::sleep(LIFETIME);
    let idle = tokio::time::sleep(IDLE);
    tokio::pin!(lifetime, idle);
    let close =
        |code: u16, reason: &'static str| Message::Close(Some(CloseFrame { code, reason: reason.into() }));
    loop {
        let write = tokio::select! {
            incoming = stream.next() => {
                idle.as_mut().reset(tokio::time::Instant::now() + IDLE);
                match incoming {
                    Some(Ok(Message::Text(text))) => sockets.chat.frame(&id, text.as_str()).await.map(|reply| Message::Text(reply.into())),
                    Some(Ok(Message::Binary(bytes))) => {
                        let text = String::from_utf8_lossy(&bytes);
                        sockets.chat.frame(&id, &text).await.map(|reply| Message::Text(reply.into()))
                    }
                    // Pings are answered by the library; a pong only counts as activity.
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => None,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                }
            }
            pushed = outgoing.recv() => match pushed {
                Some(Outgoing::Frame(text)) => Some(Message::Text(text.into())),
                // Closed by the server (a revoked session), or forgotten.
                Some(Outgoing::Close) | None => {
                    let _ = sink.send(close(POLICY_VIOLATION, "session ended")).await;
                    break;
                }
            },
            () = &mut idle => {
                let _ = sink.send(close(GOING_AWAY, "idle for 10 minutes")).await;
                break;
            }
            () = &mut lifetime => {
                let _ = sink.send(close(GOING_AWAY, "open for 2 hours")).await;
                break;
            }
            () = hold.stopping() => {
                let _ = sink.send(close(GOING_AWAY, "server stopping")).await;
                break;
            }
        };
        if let Some(message) = write {
            if sink.send(message).await.is_err() {
                break;
            }
        }
    }
    sockets.pusher.forget(&id);
    if let Err(e) = sockets.chat.disconnect(&id).await {
        tracing::warn!(connection = %id, error = %e, "closed connection not forgotten");
    }
}
