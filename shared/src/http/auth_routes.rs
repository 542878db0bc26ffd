//! Handlers of API.md's Auth table: parse, call `AuthService`, shape the response.

use super::cookies::{clearing_cookie, device_cookie, session_cookie, DeviceCookie, SessionCookie};
use super::json::Json;
use super::AppState;
use crate::auth::{Client, LicenseInput, Registration, SignIn};
use crate::domain::license::parse_date;
use crate::error::AppError;
use axum::extract::{Path, State};
use axum::http::header::SET_COOKIE;
use axum::http::StatusCode;
use axum::response::{AppendHeaders, IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterBody {
    email: String,
    password: String,
    name: String,
    captcha_token: Option<String>,
    license: Option<LicenseBody>,
}

/// A license as clients send it. The date is parsed here rather than by serde, so an impossible
/// one (February 30) is `422 invalid_license` naming the field, like every other license rule.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseBody {
    legal_name: String,
    number: String,
    region: String,
    expires_on: String,
}

impl LicenseBody {
    pub fn into_input(self) -> Result<LicenseInput, AppError> {
        let expires_on = parse_date(&self.expires_on).map_err(|e| AppError::InvalidLicense(e.to_string()))?;
        Ok(LicenseInput { legal_name: self.legal_name, number: self.number, region: self.region, expires_on })
    }
}

pub async fn register(
    State(state): State<AppState>,
    client: Client,
    Json(body): Json<RegisterBody>,
) -> Result<Response, AppError> {
    let registered = state
        .auth
        .register(
            Registration {
                email: body.email,
                password: body.password,
                name: body.name,
                license: body.license.map(LicenseBody::into_input).transpose()?,
                captcha_token: body.captcha_token,
            },
            &client,
        )
        .await?;
    let mut body = json!({ "status": "verification_sent" });
    if let Some(token) = registered.dev_verification_token {
        body["devVerificationToken"] = token.expose().into();
    }
    Ok((StatusCode::ACCEPTED, axum::Json(body)).into_response())
}

#[derive(Deserialize)]
pub struct TokenBody {
    token: String,
}

pub async fn verify_email(
    State(state): State<AppState>,
    client: Client,
    Json(body): Json<TokenBody>,
) -> Result<Response, AppError> {
    state.auth.verify_email(&body.token, &client).await?;
    Ok(axum::Json(json!({ "verified": true })).into_response())
}

#[derive(Deserialize)]
pub struct EmailBody {
    email: String,
}

pub async fn resend_verification(
    State(state): State<AppState>,
    client: Client,
    Json(body): Json<EmailBody>,
) -> Result<Response, AppError> {
    state.auth.resend_verification(&body.email, &client).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(json!({ "status": "verification_sent" }))).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignInBody {
    email: String,
    password: String,
    #[serde(default)]
    remember_me: bool,
    totp_code: Option<String>,
}

pub async fn sign_in(
    State(state): State<AppState>,
    client: Client,
    DeviceCookie(device): DeviceCookie,
    Json(body): Json<SignInBody>,
) -> Result<Response, AppError> {
    let signed_in = state
        .auth
        .sign_in(
            SignIn {
                email: body.email,
                password: body.password,
                remember_me: body.remember_me,
                totp_code: body.totp_code,
                device,
            },
            &client,
        )
        .await?;
    let session = session_cookie(signed_in.token.expose(), signed_in.remember_me);
    let device = device_cookie(&signed_in.device_cookie);
    let body = axum::Json(json!({ "user": signed_in.user }));
    Ok((AppendHeaders([(SET_COOKIE, session), (SET_COOKIE, device)]), body).into_response())
}

pub async fn session(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
) -> Result<Response, AppError> {
    let current = state.auth.session(&cookie).await?;
    Ok(axum::Json(json!({ "user": current.user, "session": current.session })).into_response())
}

pub async fn sign_out(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
) -> Result<Response, AppError> {
    state.auth.sign_out(&cookie).await?;
    Ok((StatusCode::NO_CONTENT, [(SET_COOKIE, clearing_cookie())]).into_response())
}

pub async fn sessions(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
) -> Result<Response, AppError> {
    let sessions = state.auth.sessions(&cookie).await?;
    Ok(axum::Json(json!({ "sessions": sessions })).into_response())
}

pub async fn revoke_session(
    State(state): State<AppState>,
    client: Client,
    SessionCookie(cookie): SessionCookie,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let was_current = state.auth.revoke_session(&cookie, &id, &client).await?;
    if was_current {
        return Ok((StatusCode::NO_CONTENT, [(SET_COOKIE, clearing_cookie())]).into_response());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn sign_out_everywhere(
    State(state): State<AppState>,
    client: Client,
    SessionCookie(cookie): SessionCookie,
) -> Result<Response, AppError> {
    state.auth.sign_out_everywhere(&cookie, &client).await?;
    Ok((StatusCode::NO_CONTENT, [(SET_COOKIE, clearing_cookie())]).into_response())
}
