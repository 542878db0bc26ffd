//! Handlers of the password endpoints: forgot, reset, change and the strength meter.

use super::cookies::{device_cookie, SessionCookie};
use super::json::Json;
use super::openapi::ErrorBody;
use super::AppState;
use crate::auth::Client;
use crate::domain::password::Strength;
use crate::error::AppError;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
pub struct ForgotBody {
    #[schema(format = "email", max_length = 254)]
    email: String,
}

#[derive(Serialize, ToSchema)]
pub struct ResetSent {
    /// `reset_sent`.
    status: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct PasswordReset {
    /// `true`.
    reset: bool,
}

#[derive(Serialize, ToSchema)]
pub struct PasswordChanged {
    /// `true`.
    changed: bool,
}

/// Mails a password reset link, if the address has an account (the answer is the same either way).
#[utoipa::path(post, path = "/api/auth/password/forgot", tag = "auth", request_body = ForgotBody, responses(
    (status = 202, body = ResetSent, description = "Sent, if the address has an account"),
))]
pub async fn forgot_password(
    State(state): State<AppState>,
    client: Client,
    Json(body): Json<ForgotBody>,
) -> Result<Response, AppError> {
    state.auth.forgot_password(&body.email, &client).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(ResetSent { status: "reset_sent" })).into_response())
}

#[derive(Deserialize, ToSchema)]
pub struct ResetBody {
    /// The token of the mailed link.
    #[schema(min_length = 43, max_length = 43, pattern = "^[A-Za-z0-9_-]{43}$")]
    token: String,
    #[schema(min_length = 8, max_length = 256)]
    password: String,
}

/// Sets a new password with the token of a reset mail (once): every session ends.
#[utoipa::path(post, path = "/api/auth/password/reset", tag = "auth", request_body = ResetBody, responses(
    (status = 200, body = PasswordReset, description = "Password set; sessions ended; a trusted-device cookie set"),
    (status = 400, body = ErrorBody, description = "invalid_token: unknown, used or expired"),
    (status = 422, body = ErrorBody, description = "weak_password"),
))]
pub async fn reset_password(
    State(state): State<AppState>,
    client: Client,
    Json(body): Json<ResetBody>,
) -> Result<Response, AppError> {
    let device = state.auth.reset_password(&body.token, &body.password, &client).await?;
    Ok(([(SET_COOKIE, device_cookie(&device))], axum::Json(PasswordReset { reset: true })).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangeBody {
    current_password: String,
    password: String,
}

/// Changes the password, given the current one: the caller's other sessions end.
#[utoipa::path(post, path = "/api/auth/password/change", tag = "auth", request_body = ChangeBody,
    security(("session" = [])), responses(
    (status = 200, body = PasswordChanged, description = "Changed"),
    (status = 401, body = ErrorBody, description = "unauthenticated, or invalid_credentials: the current password is wrong"),
    (status = 422, body = ErrorBody, description = "weak_password"),
))]
pub async fn change_password(
    State(state): State<AppState>,
    client: Client,
    SessionCookie(cookie): SessionCookie,
    Json(body): Json<ChangeBody>,
) -> Result<Response, AppError> {
    state.auth.change_password(&cookie, &body.current_password, &body.password, &client).await?;
    Ok(axum::Json(PasswordChanged { changed: true }).into_response())
}

#[derive(Deserialize, ToSchema)]
pub struct StrengthBody {
    password: String,
    email: Option<String>,
    name: Option<String>,
}

/// How guessable a password is, by the rules registration applies (for a strength meter).
#[utoipa::path(post, path = "/api/auth/password/strength", tag = "auth", request_body = StrengthBody, responses(
    (status = 200, body = Strength, description = "The score and what would make it stronger"),
))]
pub async fn password_strength(State(state): State<AppState>, Json(body): Json<StrengthBody>) -> Response {
    let strength = state.auth.password_strength(&body.password, body.email.as_deref(), body.name.as_deref());
    axum::Json(strength).into_response()
}
