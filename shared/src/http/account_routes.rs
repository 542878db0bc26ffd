//! Handlers of API.md "Your data": the data export and deleting the account.

use super::cookies::{clearing_cookie, clearing_device_cookie, SessionCookie};
use super::json::Json;
use super::openapi::ErrorBody;
use super::AppState;
use crate::account::{AccountExport, Export};
use crate::auth::Client;
use crate::documents::attachment;
use crate::error::AppError;
use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE, LOCATION, SET_COOKIE};
use axum::http::StatusCode;
use axum::response::{AppendHeaders, IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The body of a `303`: the link again, for clients that do not follow redirects.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportLink {
    url: String,
    /// Seconds the link works.
    expires_in: u64,
}

/// Everything stored about the caller, as a JSON download: too large for one answer, a `303` to
/// a link that works for a few minutes. A few a day.
#[utoipa::path(get, path = "/api/auth/account/export", tag = "auth", security(("session" = [])), responses(
    (status = 200, body = AccountExport, description = "The document (`Content-Disposition: attachment`)"),
    (status = 303, body = ExportLink, description = "A large document: `Location` is a short-lived link to it"),
))]
pub async fn export_account(
    State(state): State<AppState>,
    client: Client,
    SessionCookie(cookie): SessionCookie,
) -> Result<Response, AppError> {
    match state.account.export(&cookie, &client).await? {
        Export::Document { json, filename } => Ok((
            [(CONTENT_TYPE, "application/json".to_owned()), (CONTENT_DISPOSITION, attachment(&filename))],
            json,
        )
            .into_response()),
        Export::Link { url, expires_in } => {
            let body = ExportLink { url: url.clone(), expires_in: expires_in.as_secs() };
            Ok((StatusCode::SEE_OTHER, [(LOCATION, url)], axum::Json(body)).into_response())
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeleteBody {
    #[schema(min_length = 1, max_length = 256)]
    password: String,
    /// With two-factor on: a code from the authenticator app, or a recovery code.
    totp_code: Option<String>,
}

/// Deletes the account at once, given the password (and a code with two-factor on): sessions end,
/// the address can register again, rides are cancelled or left, messages stay as from "Deleted
/// user", and a confirmation mail goes to the address. The cookies are cleared.
#[utoipa::path(post, path = "/api/auth/account/delete", tag = "auth", request_body = DeleteBody,
    security(("session" = [])), responses(
    (status = 204, description = "Deleted"),
    (status = 401, body = ErrorBody, description = "invalid_credentials, totp_required (send `totpCode`), invalid_totp"),
    (status = 423, body = ErrorBody, description = "account_locked: too many wrong passwords; see Retry-After"),
))]
pub async fn delete_account(
    State(state): State<AppState>,
    client: Client,
    SessionCookie(cookie): SessionCookie,
    Json(body): Json<DeleteBody>,
) -> Result<Response, AppError> {
    state.account.delete(&cookie, &body.password, body.totp_code.as_deref(), &client).await?;
    let cookies = AppendHeaders([(SET_COOKIE, clearing_cookie()), (SET_COOKIE, clearing_device_cookie())]);
    Ok((StatusCode::NO_CONTENT, cookies).into_response())
}
