//! Handlers of API.md's Auth table: parse, call `AuthService`, shape the response.

use super::cookies::{clearing_cookie, device_cookie, session_cookie, DeviceCookie, SessionCookie};
use super::json::Json;
use super::openapi::ErrorBody;
use super::AppState;
use crate::auth::views::{SessionListEntry, SessionView, UserView};
use crate::auth::{Client, LicenseInput, Registration, SignIn};
use crate::domain::license::parse_date;
use crate::error::AppError;
use axum::extract::{Path, State};
use axum::http::header::SET_COOKIE;
use axum::http::StatusCode;
use axum::response::{AppendHeaders, IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterBody {
    /// An address of a campus the server knows.
    #[schema(format = "email", max_length = 254)]
    email: String,
    /// 8 to 256 characters, not easily guessed (see `/api/auth/password/strength`).
    #[schema(min_length = 8, max_length = 256)]
    password: String,
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    captcha_token: Option<String>,
    license: Option<LicenseBody>,
}

/// A license as clients send it. The date is parsed here rather than by serde, so an impossible
/// one (February 30) is `422 invalid_license` naming the field, like every other license rule.
#[derive(Deserialize, ToSchema)]
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

/// `202` of a registration or a resend, whether or not the address had an account (the
/// answer says nothing about who is registered).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerificationSent {
    /// `verification_sent`.
    status: &'static str,
    /// In dev mode only, for a new account: the token the mail carries.
    #[serde(skip_serializing_if = "Option::is_none")]
    dev_verification_token: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Verified {
    /// `true`.
    verified: bool,
}

#[derive(Serialize, ToSchema)]
pub struct SignedInBody {
    user: UserView,
}

#[derive(Serialize, ToSchema)]
pub struct SessionBody {
    user: UserView,
    session: SessionView,
}

#[derive(Serialize, ToSchema)]
pub struct SessionList {
    sessions: Vec<SessionListEntry>,
}

/// Registers an account (optionally with a driver's license) and mails its verification link.
#[utoipa::path(post, path = "/api/auth/register", tag = "auth", request_body = RegisterBody, responses(
    (status = 202, body = VerificationSent, description = "Verification mail sent (also when the address has an account)"),
    (status = 400, body = ErrorBody, description = "invalid_request, or captcha_failed"),
    (status = 422, body = ErrorBody, description = "campus_not_supported, weak_password, invalid_license, license_expired"),
))]
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
    let body = VerificationSent {
        status: "verification_sent",
        dev_verification_token: registered.dev_verification_token.map(|t| t.expose().to_owned()),
    };
    Ok((StatusCode::ACCEPTED, axum::Json(body)).into_response())
}

#[derive(Deserialize, ToSchema)]
pub struct TokenBody {
    /// The token of the mailed link.
    #[schema(min_length = 43, max_length = 43, pattern = "^[A-Za-z0-9_-]{43}$")]
    token: String,
}

/// Verifies an email address with the token its mail carried (once).
#[utoipa::path(post, path = "/api/auth/verify-email", tag = "auth", request_body = TokenBody, responses(
    (status = 200, body = Verified, description = "Verified"),
    (status = 400, body = ErrorBody, description = "invalid_token: unknown, used or expired"),
))]
pub async fn verify_email(
    State(state): State<AppState>,
    client: Client,
    Json(body): Json<TokenBody>,
) -> Result<Response, AppError> {
    state.auth.verify_email(&body.token, &client).await?;
    Ok(axum::Json(Verified { verified: true }).into_response())
}

#[derive(Deserialize, ToSchema)]
pub struct EmailBody {
    #[schema(format = "email", max_length = 254)]
    email: String,
}

/// Mails a new verification link to an unverified account (the earlier ones stop working).
#[utoipa::path(post, path = "/api/auth/resend-verification", tag = "auth", request_body = EmailBody, responses(
    (status = 202, body = VerificationSent, description = "Sent, if the address has an unverified account"),
))]
pub async fn resend_verification(
    State(state): State<AppState>,
    client: Client,
    Json(body): Json<EmailBody>,
) -> Result<Response, AppError> {
    state.auth.resend_verification(&body.email, &client).await?;
    let body = VerificationSent { status: "verification_sent", dev_verification_token: None };
    Ok((StatusCode::ACCEPTED, axum::Json(body)).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignInBody {
    #[schema(format = "email", max_length = 254)]
    email: String,
    #[schema(min_length = 1, max_length = 256)]
    password: String,
    #[serde(default)]
    remember_me: bool,
    totp_code: Option<String>,
}

/// Signs in: sets the session cookie (and a device cookie that keeps this browser trusted).
#[utoipa::path(post, path = "/api/auth/signin", tag = "auth", request_body = SignInBody, responses(
    (status = 200, body = SignedInBody, description = "Signed in; `Set-Cookie: __Host-session` and `__Host-device`"),
    (status = 401, body = ErrorBody, description = "invalid_credentials, totp_required (send `totpCode`), invalid_totp"),
    (status = 403, body = ErrorBody, description = "email_not_verified"),
    (status = 423, body = ErrorBody, description = "account_locked: too many failures; see Retry-After"),
))]
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
    let body = axum::Json(SignedInBody { user: signed_in.user });
    Ok((AppendHeaders([(SET_COOKIE, session), (SET_COOKIE, device)]), body).into_response())
}

/// The signed-in user and their session.
#[utoipa::path(get, path = "/api/auth/session", tag = "auth", security(("session" = [])), responses(
    (status = 200, body = SessionBody, description = "The current user and session"),
))]
pub async fn current_session(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
) -> Result<Response, AppError> {
    let current = state.auth.session(&cookie).await?;
    Ok(axum::Json(SessionBody { user: current.user, session: current.session }).into_response())
}

/// Ends the current session and clears its cookie.
#[utoipa::path(post, path = "/api/auth/signout", tag = "auth", security(("session" = [])), responses(
    (status = 204, description = "Signed out"),
))]
pub async fn sign_out(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
) -> Result<Response, AppError> {
    state.auth.sign_out(&cookie).await?;
    Ok((StatusCode::NO_CONTENT, [(SET_COOKIE, clearing_cookie())]).into_response())
}

/// The caller's live sessions, the current one marked.
#[utoipa::path(get, path = "/api/auth/sessions", tag = "auth", security(("session" = [])), responses(
    (status = 200, body = SessionList, description = "Live sessions, newest first"),
))]
pub async fn list_sessions(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
) -> Result<Response, AppError> {
    let sessions = state.auth.sessions(&cookie).await?;
    Ok(axum::Json(SessionList { sessions }).into_response())
}

/// Ends one of the caller's sessions (its connections close); the current one clears its cookie.
#[utoipa::path(delete, path = "/api/auth/sessions/{id}", tag = "auth", security(("session" = [])),
    params(("id" = String, Path, description = "A session id from `GET /api/auth/sessions`")),
    responses((status = 204, description = "Ended")),
)]
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

/// Ends every session of the caller, this one included.
#[utoipa::path(post, path = "/api/auth/signout-all", tag = "auth", security(("session" = [])), responses(
    (status = 204, description = "Signed out everywhere"),
))]
pub async fn sign_out_everywhere(
    State(state): State<AppState>,
    client: Client,
    SessionCookie(cookie): SessionCookie,
) -> Result<Response, AppError> {
    state.auth.sign_out_everywhere(&cookie, &client).await?;
    Ok((StatusCode::NO_CONTENT, [(SET_COOKIE, clearing_cookie())]).into_response())
}
