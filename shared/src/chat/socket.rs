//! The WebSocket side of chat (API.md "Chat"), the same in AWS (the `chat-ws` function behind
//! API Gateway's routes) and in carpool-local (`/ws`): `$connect` with the session cookie,
//! `$disconnect`, and the client's frames.
//!
//! A connection keeps its user and session (`repo::connections`); every frame checks that
//! session again, so one signed out is refused (and closed) on its next frame. A bad frame gets
//! an error frame and the connection stays open.

use super::ChatService;
use crate::auth::Caller;
use crate::error::AppError;
use crate::repo::connections::{self, ConnectionRecord};
use crate::store::StoreError;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Instant;
use tracing::{info, warn};

/// The largest frame API Gateway passes on (it closes the connection on a bigger one, 1009);
/// the local server answers an error frame instead.
pub const MAX_FRAME_BYTES: usize = 32 * 1024;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendMessage {
    conversation_id: String,
    body: String,
    client_message_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MarkRead {
    conversation_id: String,
    message_id: String,
}

/// An error frame: `{"type":"error","code","message","clientMessageId"?}` (and `retryAfter`,
/// in seconds, when limited).
fn error_frame(error: &AppError, client_message_id: Option<&str>) -> String {
    let mut frame = json!({ "type": "error", "code": error.code(), "message": error.to_string() });
    if let Some(id) = client_message_id {
        frame["clientMessageId"] = id.into();
    }
    if let Some(seconds) = error.retry_after() {
        frame["retryAfter"] = seconds.into();
    }
    frame.to_string()
}

/// A frame's fields as its action needs them (`invalid_request` naming what is wrong).
fn fields<T: serde::de::DeserializeOwned>(frame: Value, action: &str) -> Result<T, AppError> {
    serde_json::from_value(frame).map_err(|e| AppError::invalid(format!("{action}: {e}")))
}

impl ChatService {
    /// `$connect`: a live, verified session behind the cookie, or no connection.
    pub async fn connect(&self, cookie: &str, connection: &str) -> Result<(), AppError> {
        let (caller, session) = self.auth.caller_and_session(cookie).await?;
        let record = ConnectionRecord {
            id: connection.to_owned(),
            user_id: caller.user.id,
            session,
            connected_at: caller.now,
        };
        match self.store.write(connections::put(&record)).await {
            // The session ended meanwhile.
            Err(StoreError::ConditionFailed { .. }) => return Err(AppError::Unauthenticated),
            other => other?,
        }
        info!(connection = %connection, user_id = %caller.user.id, "connected");
        Ok(())
    }

    /// `$disconnect`: the connection is forgotten.
    pub async fn disconnect(&self, connection: &str) -> Result<(), AppError> {
        if let Some(record) = connections::get(self.store.as_ref(), connection).await? {
            self.store.write(connections::delete(record.user_id, connection)).await?;
            info!(connection = %connection, user_id = %record.user_id, "disconnected");
        }
        Ok(())
    }

    /// One text frame from a connection; answers the frame to send back to it, if any (a
    /// `message` frame of a send reaches it through delivery, like every member's).
    pub async fn frame(&self, connection: &str, text: &str) -> Option<String> {
        let started = Instant::now();
        let parsed: Result<Value, AppError> = if text.len() > MAX_FRAME_BYTES {
            Err(AppError::PayloadTooLarge(MAX_FRAME_BYTES))
        } else {
            serde_json::from_str(text).map_err(|_| AppError::invalid("a frame is a JSON object"))
        };
        let field = |name: &str| parsed.as_ref().ok()?.get(name)?.as_str().map(str::to_owned);
        let (action, client_message_id) = (field("action"), field("clientMessageId"));
        // The session first, whatever the frame: a signed-out connection ends at its next one.
        let answer = match self.connection_caller(connection).await {
            Ok(caller) => match parsed {
                Ok(frame) => self.answer(&caller, connection, frame).await,
                Err(e) => Err(e),
            },
            Err(AppError::Unauthenticated | AppError::EmailNotVerified) => {
                self.refuse(connection).await;
                Err(AppError::Unauthenticated)
            }
            Err(e) => Err(e),
        };
        let code = answer.as_ref().err().map(AppError::code);
        if let Err(e) = &answer {
            e.report();
        }
        info!(
            connection = %connection,
            action = action.as_deref().unwrap_or("-"),
            error = code.unwrap_or("-"),
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            "frame"
        );
        match answer {
            Ok(reply) => reply,
            // The refused connection got its error frame before being closed.
            Err(AppError::Unauthenticated) => None,
            Err(e) => Some(error_frame(&e, client_message_id.as_deref())),
        }
    }

    /// The caller whose live session opened this connection.
    async fn connection_caller(&self, connection: &str) -> Result<Caller, AppError> {
        let record =
            connections::get(self.store.as_ref(), connection).await?.ok_or(AppError::Unauthenticated)?;
        self.auth.session_caller(record.user_id, &record.session).await
    }

    async fn answer(
        &self,
        caller: &Caller,
        connection: &str,
        frame: Value,
    ) -> Result<Option<String>, AppError> {
        let action = frame.get("action").and_then(Value::as_str).unwrap_or_default().to_owned();
        match action.as_str() {
            "ping" => Ok(Some(json!({ "type": "pong" }).to_string())),
            "sendMessage" => {
                let send: SendMessage = fields(frame, "sendMessage")?;
                let sent = self
                    .send_as(
                        caller,
                        &send.conversation_id,
                        &send.body,
                        &send.client_message_id,
                        Some(connection),
                    )
                    .await?;
                // A resend is answered to its own connection only: the members had it.
                Ok((!sent.created).then(|| json!({ "type": "message", "message": sent.message }).to_string()))
            }
            "markRead" => {
                let read: MarkRead = fields(frame, "markRead")?;
                self.mark_read_as(caller, &read.conversation_id, &read.message_id).await?;
                Ok(None)
            }
            "" => Err(AppError::invalid("a frame needs an action: sendMessage, markRead or ping")),
            other => {
                Err(AppError::invalid(format!("unknown action {other:?}: sendMessage, markRead or ping")))
            }
        }
    }

    /// A connection whose session is gone: told so, closed and forgotten.
    async fn refuse(&self, connection: &str) {
        let pusher = self.delivery.pusher();
        let frame = error_frame(&AppError::Unauthenticated, None);
        if let Err(e) = pusher.send(connection, &frame).await {
            warn!(connection = %connection, error = %e, "refusal not delivered");
        }
        if let Err(e) = pusher.close(connection).await {
            warn!(connection = %connection, error = %e, "refused connection not closed");
        }
        if let Err(e) = self.disconnect(connection).await {
            warn!(connection = %connection, error = %e, "refused connection not forgotten");
        }
    }
}
