//! Handlers of the two-factor endpoints: TOTP setup, confirm and disable, new recovery codes.

use super::cookies::SessionCookie;
use super::json::Json;
use super::AppState;
use crate::auth::Client;
use crate::domain::totp::RecoveryCode;
use crate::error::AppError;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
pub struct SetupBody {
    password: String,
}

pub async fn setup(
    State(state): State<AppState>,
    client: Client,
    SessionCookie(cookie): SessionCookie,
    Json(body): Json<SetupBody>,
) -> Result<Response, AppError> {
    let setup = state.auth.totp_setup(&cookie, &body.password, &client).await?;
    Ok(axum::Json(json!({ "secret": setup.secret, "otpauthUri": setup.otpauth_uri })).into_response())
}

#[derive(Deserialize)]
pub struct ConfirmBody {
    code: String,
}

pub async fn confirm(
    State(state): State<AppState>,
    client: Client,
    SessionCookie(cookie): SessionCookie,
    Json(body): Json<ConfirmBody>,
) -> Result<Response, AppError> {
    let codes = state.auth.totp_confirm(&cookie, &body.code, &client).await?;
    Ok(recovery_codes(&codes))
}

/// Password and a code: what a sensitive two-factor change takes.
#[derive(Deserialize)]
pub struct ReauthBody {
    password: String,
    code: String,
}

pub async fn disable(
    State(state): State<AppState>,
    client: Client,
    SessionCookie(cookie): SessionCookie,
    Json(body): Json<ReauthBody>,
) -> Result<Response, AppError> {
    state.auth.totp_disable(&cookie, &body.password, &body.code, &client).await?;
    Ok(axum::Json(json!({ "twoFactorEnabled": false })).into_response())
}

pub async fn renew_recovery_codes(
    State(state): State<AppState>,
    client: Client,
    SessionCookie(cookie): SessionCookie,
    Json(body): Json<ReauthBody>,
) -> Result<Response, AppError> {
    let codes = state.auth.renew_recovery_codes(&cookie, &body.password, &body.code, &client).await?;
    Ok(recovery_codes(&codes))
}

/// The codes as shown to the user, this once.
fn recovery_codes(codes: &[RecoveryCode]) -> Response {
    let shown: Vec<String> = codes.iter().map(RecoveryCode::display).collect();
    axum::Json(json!({ "recoveryCodes": shown })).into_response()
}
