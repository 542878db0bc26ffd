//! Handlers of API.md "Chat" over HTTP: conversations, history, sending, read markers.

use super::cookies::SessionCookie;
use super::json::Json;
use super::list::{Paging, QueryParams};
use super::openapi::ErrorBody;
use super::AppState;
use crate::chat::views::{ConversationView, MessageView};
use crate::chat::HistoryFrom;
use crate::error::AppError;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConversationPage {
    conversations: Vec<ConversationView>,
    #[schema(required = true)]
    next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ConversationBody {
    conversation: ConversationView,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessagePage {
    messages: Vec<MessageView>,
    #[schema(required = true)]
    next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct MessageBody {
    message: MessageView,
}

const CONVERSATION: &str = "The conversation's id";

/// The caller's conversations, most recent activity first, with unread counts.
#[utoipa::path(get, path = "/api/chat/conversations", tag = "chat", params(Paging),
    security(("session" = [])), responses(
    (status = 200, body = ConversationPage, description = "A page of conversations"),
))]
pub async fn list_conversations(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    QueryParams(paging): QueryParams<Paging>,
) -> Result<Response, AppError> {
    let page = state.chat.conversations(&cookie, paging.cursor(), paging.limit()?).await?;
    let body = ConversationPage { conversations: page.items, next_cursor: page.next_cursor };
    Ok(axum::Json(body).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DirectBody {
    user_id: String,
}

/// The direct conversation with another user of the campus, started if there was none.
#[utoipa::path(post, path = "/api/chat/conversations", tag = "chat", request_body = DirectBody,
    security(("session" = [])), responses(
    (status = 200, body = ConversationBody, description = "The conversation"),
    (status = 404, body = ErrorBody, description = "not_found: no such user of the campus, or blocked"),
    (status = 422, body = ErrorBody, description = "oneself"),
))]
pub async fn direct_conversation(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    Json(body): Json<DirectBody>,
) -> Result<Response, AppError> {
    let conversation = state.chat.direct(&cookie, &body.user_id).await?;
    Ok(axum::Json(ConversationBody { conversation }).into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// `nextCursor` of the page before: older messages.
    before: Option<String>,
    /// A message id: the messages after it, oldest first (catching up after a reconnect).
    after: Option<String>,
    /// Messages per page (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 50)]
    limit: Option<String>,
}

/// A conversation's messages: newest first (`before` pages back), or those `after` a message.
#[utoipa::path(get, path = "/api/chat/conversations/{id}/messages", tag = "chat",
    params(("id" = String, Path, description = CONVERSATION), HistoryParams),
    security(("session" = [])), responses(
    (status = 200, body = MessagePage, description = "A page of messages"),
))]
pub async fn message_history(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<HistoryParams>,
) -> Result<Response, AppError> {
    let limit = Paging { cursor: None, limit: params.limit }.limit()?;
    let from = match (params.before.as_deref().filter(|b| !b.is_empty()), params.after.as_deref()) {
        (Some(_), Some(_)) => return Err(AppError::invalid("give before or after, not both")),
        (before, None) => HistoryFrom::Before(before),
        (None, Some(after)) => HistoryFrom::After(after),
    };
    let page = state.chat.history(&cookie, &id, from, limit).await?;
    Ok(axum::Json(MessagePage { messages: page.items, next_cursor: page.next_cursor }).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SendBody {
    body: String,
    client_message_id: String,
}

/// Sends a message (stored, then pushed to every member's open connections). A resend of a
/// stored `clientMessageId` answers the stored message with `200`.
#[utoipa::path(post, path = "/api/chat/conversations/{id}/messages", tag = "chat",
    params(("id" = String, Path, description = CONVERSATION)), request_body = SendBody,
    security(("session" = [])), responses(
    (status = 201, body = MessageBody, description = "Sent"),
    (status = 200, body = MessageBody, description = "Sent before under this clientMessageId"),
    (status = 409, body = ErrorBody, description = "conversation_closed"),
    (status = 422, body = ErrorBody, description = "invalid_message"),
))]
pub async fn send_message(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    Path(id): Path<String>,
    Json(body): Json<SendBody>,
) -> Result<Response, AppError> {
    let sent = state.chat.send(&cookie, &id, &body.body, &body.client_message_id).await?;
    let status = if sent.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, axum::Json(MessageBody { message: sent.message })).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReadBody {
    message_id: String,
}

/// Moves the caller's read marker forward to a message (never back).
#[utoipa::path(post, path = "/api/chat/conversations/{id}/read", tag = "chat",
    params(("id" = String, Path, description = CONVERSATION)), request_body = ReadBody,
    security(("session" = [])), responses(
    (status = 204, description = "Marked"),
))]
pub async fn mark_read(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    Path(id): Path<String>,
    Json(body): Json<ReadBody>,
) -> Result<Response, AppError> {
    state.chat.mark_read(&cookie, &id, &body.message_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
