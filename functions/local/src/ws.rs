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

/// How long one frame may take to write before the client is taken for gone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

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
    // A handshake hyper could not finish after all: the connection never opens.
    let (failed_id, failed_sockets) = (id.clone(), sockets.clone());
    handshake
        .max_message_size(MAX_READ_BYTES)
        .on_failed_upgrade(move |_| {
            tokio::spawn(async move { failed_sockets.forget(&failed_id).await });
        })
        .on_upgrade(move |socket| run(sockets, socket, id, outgoing, hold))
}

impl Sockets {
    /// A closed connection: gone from the pusher and the store.
    async fn forget(&self, id: &str) {
        self.pusher.forget(id);
        if let Err(e) = self.chat.disconnect(id).await {
            tracing::warn!(connection = %id, error = %e, "closed connection not forgotten");
        }
    }
}

/// What the connection does next.
enum Step {
    Write(Message),
    Wait,
    Close(u16, &'static str),
    End,
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
    let answer =
        |reply: Option<String>| reply.map_or(Step::Wait, |reply| Step::Write(Message::Text(reply.into())));
    loop {
        let step = tokio::select! {
            incoming = stream.next() => {
                idle.as_mut().reset(tokio::time::Instant::now() + IDLE);
                match incoming {
                    Some(Ok(Message::Text(text))) => answer(sockets.chat.frame(&id, text.as_str()).await),
                    Some(Ok(Message::Binary(bytes))) => answer(sockets.chat.frame(&id, &String::from_utf8_lossy(&bytes)).await),
                    // Pings are answered by the library; a pong only counts as activity.
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => Step::Wait,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => Step::End,
                }
            }
            pushed = outgoing.recv() => match pushed {
                Some(Outgoing::Frame(text)) => Step::Write(Message::Text(text.into())),
                // Closed by the server (a revoked session), or forgotten.
                Some(Outgoing::Close) | None => Step::Close(POLICY_VIOLATION, "session ended"),
            },
            () = &mut idle => Step::Close(GOING_AWAY, "idle for 10 minutes"),
            () = &mut lifetime => Step::Close(GOING_AWAY, "open for 2 hours"),
            () = hold.stopping() => Step::Close(GOING_AWAY, "server stopping"),
        };
        let message = match step {
            Step::Write(message) => message,
            Step::Wait => continue,
            Step::Close(code, reason) => Message::Close(Some(CloseFrame { code, reason: reason.into() })),
            Step::End => break,
        };
        let closing = matches!(message, Message::Close(_));
        // A client that stops reading would hold this task (and the server's stop) forever.
        let written = tokio::time::timeout(WRITE_TIMEOUT, sink.send(message)).await;
        if closing || !matches!(written, Ok(Ok(()))) {
            break;
        }
    }
    sockets.forget(&id).await;
}
