//! Handlers of the password endpoints: forgot, reset, change and the strength meter.

use super::cookies::{device_cookie, SessionCookie};
use super::json::Json;
use super::AppState;
use crate::auth::Client;
use crate::error::AppError;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
pub struct ForgotBody {
    email: String,
}

pub async fn forgot(
    State(state): State<AppState>,
    client: Client,
    Json(body): Json<ForgotBody>,
) -> Result<Response, AppError> {
    state.auth.forgot_password(&body.email, &client).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(json!({ "status": "reset_sent" }))).into_response())
}

#[derive(Deserialize)]
pub struct ResetBody {
    token: String,
    password: String,
}

pub async fn reset(
    State(state): State<AppState>,
    client: Client,
    Json(body): Json<ResetBody>,
) -> Result<Response, AppError> {
    let device = state.auth.reset_password(&body.token, &body.password, &client).await?;
    Ok(([(SET_COOKIE, device_cookie(&device))], axum::Json(json!({ "reset": true }))).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeBody {
    current_password: String,
    password: String,
}

pub async fn change(
    State(state): State<AppState>,
    client: Client,
    SessionCookie(cookie): SessionCookie,
    Json(body): Json<ChangeBody>,
) -> Result<Response, AppError> {
    state.auth.change_password(&cookie, &body.current_password, &body.password, &client).await?;
    Ok(axum::Json(json!({ "changed": true })).into_response())
}

#[derive(Deserialize)]
pub struct StrengthBody {
    password: String,
    email: Option<String>,
    name: Option<String>,
}

pub async fn strength(State(state): State<AppState>, Json(body): Json<StrengthBody>) -> Response {
    let strength = state.auth.password_strength(&body.password, body.email.as_deref(), body.name.as_deref());
    axum::Json(strength).into_response()
}
