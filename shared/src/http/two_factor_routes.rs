//! Handlers of the two-factor endpoints: TOTP setup, confirm and disable, new recovery codes.

use super::cookies::SessionCookie;
use super::json::Json;
use super::openapi::ErrorBody;
use super::AppState;
use crate::auth::Client;
use crate::domain::totp::RecoveryCode;
use crate::error::AppError;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
pub struct SetupBody {
    password: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TotpSetup {
    /// The key, base32, for typing into an authenticator.
    secret: String,
    /// `otpauth://totp/...`, for a QR code.
    otpauth_uri: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryCodes {
    /// Ten single-use codes, shown this once.
    recovery_codes: Vec<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TwoFactorDisabled {
    /// `false`.
    two_factor_enabled: bool,
}

/// Starts TOTP enrolment (password again): a new key, pending until confirmed with a code.
#[utoipa::path(post, path = "/api/auth/2fa/totp/setup", tag = "auth", request_body = SetupBody,
    security(("session" = [])), responses(
    (status = 200, body = TotpSetup, description = "The pending key"),
    (status = 401, body = ErrorBody, description = "unauthenticated, or invalid_credentials: wrong password"),
    (status = 409, body = ErrorBody, description = "two_factor_already_enabled"),
))]
pub async fn totp_setup(
    State(state): State<AppState>,
    client: Client,
    SessionCookie(cookie): SessionCookie,
    Json(body): Json<SetupBody>,
) -> Result<Response, AppError> {
    let setup = state.auth.totp_setup(&cookie, &body.password, &client).await?;
    Ok(axum::Json(TotpSetup { secret: setup.secret, otpauth_uri: setup.otpauth_uri }).into_response())
}

#[derive(Deserialize, ToSchema)]
pub struct ConfirmBody {
    code: String,
}

/// Confirms enrolment with a code from the authenticator: two-factor is on.
#[utoipa::path(post, path = "/api/auth/2fa/totp/confirm", tag = "auth", request_body = ConfirmBody,
    security(("session" = [])), responses(
    (status = 200, body = RecoveryCodes, description = "On; the recovery codes, shown once"),
    (status = 401, body = ErrorBody, description = "unauthenticated, or invalid_totp"),
    (status = 409, body = ErrorBody, description = "two_factor_setup_required, two_factor_already_enabled"),
))]
pub async fn totp_confirm(
    State(state): State<AppState>,
    client: Client,
    SessionCookie(cookie): SessionCookie,
    Json(body): Json<ConfirmBody>,
) -> Result<Response, AppError> {
    let codes = state.auth.totp_confirm(&cookie, &body.code, &client).await?;
    Ok(recovery_codes(&codes))
}

/// Password and a code: what a sensitive two-factor change takes.
#[derive(Deserialize, ToSchema)]
pub struct ReauthBody {
    password: String,
    code: String,
}

/// Turns two-factor off (password and a code, or a recovery code).
#[utoipa::path(post, path = "/api/auth/2fa/totp/disable", tag = "auth", request_body = ReauthBody,
    security(("session" = [])), responses(
    (status = 200, body = TwoFactorDisabled, description = "Off"),
    (status = 401, body = ErrorBody, description = "unauthenticated, invalid_credentials or invalid_totp"),
    (status = 409, body = ErrorBody, description = "two_factor_not_enabled"),
))]
pub async fn totp_disable(
    State(state): State<AppState>,
    client: Client,
    SessionCookie(cookie): SessionCookie,
    Json(body): Json<ReauthBody>,
) -> Result<Response, AppError> {
    state.auth.totp_disable(&cookie, &body.password, &body.code, &client).await?;
    Ok(axum::Json(TwoFactorDisabled { two_factor_enabled: false }).into_response())
}

/// New recovery codes (password and a code): the old ones stop working.
#[utoipa::path(post, path = "/api/auth/2fa/recovery-codes", tag = "auth", request_body = ReauthBody,
    security(("session" = [])), responses(
    (status = 200, body = RecoveryCodes, description = "The new codes, shown once"),
    (status = 401, body = ErrorBody, description = "unauthenticated, invalid_credentials or invalid_totp"),
    (status = 409, body = ErrorBody, description = "two_factor_not_enabled"),
))]
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
    axum::Json(RecoveryCodes { recovery_codes: shown }).into_response()
}
