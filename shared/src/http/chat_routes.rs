//! Handlers of API.md "Chat" over HTTP: conversations, history, sending, read markers.

use super::cookies::SessionCookie;
use super::json::Json;
use super::list::{Paging, QueryParams};
use super::AppState;
use crate::chat::HistoryFrom;
use crate::error::AppError;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

pub async fn conversations(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    QueryParams(paging): QueryParams<Paging>,
) -> Result<Response, AppError> {
    let page = state.chat.conversations(&cookie, paging.cursor(), paging.limit()?).await?;
    Ok(axum::Json(json!({ "conversations": page.items, "nextCursor": page.next_cursor })).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectBody {
    user_id: String,
}

pub async fn direct(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    Json(body): Json<DirectBody>,
) -> Result<Response, AppError> {
    let conversation = state.chat.direct(&cookie, &body.user_id).await?;
    Ok(axum::Json(json!({ "conversation": conversation })).into_response())
}

#[derive(Deserialize)]
pub struct HistoryParams {
    before: Option<String>,
    after: Option<String>,
    limit: Option<String>,
}

pub async fn history(
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
    Ok(axum::Json(json!({ "messages": page.items, "nextCursor": page.next_cursor })).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendBody {
    body: String,
    client_message_id: String,
}

pub async fn send(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    Path(id): Path<String>,
    Json(body): Json<SendBody>,
) -> Result<Response, AppError> {
    let sent = state.chat.send(&cookie, &id, &body.body, &body.client_message_id).await?;
    let status = if sent.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, axum::Json(json!({ "message": sent.message }))).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadBody {
    message_id: String,
}

pub async fn read(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    Path(id): Path<String>,
    Json(body): Json<ReadBody>,
) -> Result<Response, AppError> {
    state.chat.mark_read(&cookie, &id, &body.message_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
