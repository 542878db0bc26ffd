//! Handlers of API.md "Driver": the caller's own driver state, license, photo and availability.

use super::auth_routes::LicenseBody;
use super::cookies::SessionCookie;
use super::json::Json;
use super::openapi::ErrorBody;
use super::AppState;
use crate::auth::Client;
use crate::driver::views::{DriverState, ScanResult, UploadGrant};
use crate::error::AppError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;

/// The caller's driver state: capability, availability, license and its review.
#[utoipa::path(get, path = "/api/auth/driver", tag = "driver", security(("session" = [])), responses(
    (status = 200, body = DriverState, description = "The caller's driver state"),
))]
pub async fn driver_state(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
) -> Result<Response, AppError> {
    Ok(axum::Json(state.driver.state(&cookie).await?).into_response())
}

/// Enters (or replaces) the caller's license by hand: its verification starts over.
#[utoipa::path(put, path = "/api/auth/driver/license", tag = "driver", request_body = LicenseBody,
    security(("session" = [])), responses(
    (status = 200, body = DriverState, description = "The license is on file"),
    (status = 422, body = ErrorBody, description = "invalid_license, license_expired"),
))]
pub async fn put_license(
    State(state): State<AppState>,
    client: Client,
    SessionCookie(cookie): SessionCookie,
    Json(body): Json<LicenseBody>,
) -> Result<Response, AppError> {
    let driver = state.driver.put_license(&cookie, body.into_input()?, &client).await?;
    Ok(axum::Json(driver).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UploadBody {
    /// `image/jpeg` or `image/png`.
    #[schema(pattern = "^image/(jpeg|png)$")]
    content_type: String,
    /// Bytes, at most 10 MiB.
    #[schema(value_type = u64, minimum = 1, maximum = 10485760)]
    content_length: serde_json::Number,
}

/// A short-lived URL to PUT a photo of the license to.
#[utoipa::path(post, path = "/api/auth/driver/license/upload", tag = "driver", request_body = UploadBody,
    security(("session" = [])), responses(
    (status = 200, body = UploadGrant, description = "PUT the photo to `uploadUrl` with `headers`"),
    (status = 422, body = ErrorBody, description = "invalid_upload: type or size"),
))]
pub async fn license_upload(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    Json(body): Json<UploadBody>,
) -> Result<Response, AppError> {
    let grant = state.driver.upload(&cookie, &body.content_type, &body.content_length).await?;
    Ok(axum::Json(grant).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScanBody {
    object_key: String,
}

/// Reads the uploaded photo (OCR) and compares it with the entered license.
#[utoipa::path(post, path = "/api/auth/driver/license/scan", tag = "driver", request_body = ScanBody,
    security(("session" = [])), responses(
    (status = 200, body = ScanResult, description = "What was read, what matched, and the verification now"),
    (status = 404, body = ErrorBody, description = "not_found: no upload of the caller's under that key"),
    (status = 409, body = ErrorBody, description = "license_required"),
))]
pub async fn scan_license(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    Json(body): Json<ScanBody>,
) -> Result<Response, AppError> {
    Ok(axum::Json(state.driver.scan(&cookie, &body.object_key).await?).into_response())
}

/// Asks to drive: the application joins the campus admins' review queue.
#[utoipa::path(post, path = "/api/auth/driver/enable", tag = "driver", security(("session" = [])), responses(
    (status = 200, body = DriverState, description = "Approved (or already)"),
    (status = 202, body = DriverState, description = "Waiting for an admin's review"),
    (status = 403, body = ErrorBody, description = "driver_suspended"),
    (status = 409, body = ErrorBody, description = "license_required, license_expired"),
))]
pub async fn enable_driving(
    State(state): State<AppState>,
    client: Client,
    SessionCookie(cookie): SessionCookie,
) -> Result<Response, AppError> {
    let (driver, awaiting_review) = state.driver.enable(&cookie, &client).await?;
    let status = if awaiting_review { StatusCode::ACCEPTED } else { StatusCode::OK };
    Ok((status, axum::Json(driver)).into_response())
}

#[derive(Deserialize, ToSchema)]
pub struct ToggleBody {
    available: bool,
}

/// Turns the caller's availability to drive on or off (on needs an approved, unexpired license).
#[utoipa::path(post, path = "/api/auth/driver/toggle", tag = "driver", request_body = ToggleBody,
    security(("session" = [])), responses(
    (status = 200, body = DriverState, description = "The new state"),
    (status = 403, body = ErrorBody, description = "driver_not_approved"),
    (status = 409, body = ErrorBody, description = "license_required, license_expired"),
))]
pub async fn toggle_availability(
    State(state): State<AppState>,
    client: Client,
    SessionCookie(cookie): SessionCookie,
    Json(body): Json<ToggleBody>,
) -> Result<Response, AppError> {
    Ok(axum::Json(state.driver.toggle(&cookie, body.available, &client).await?).into_response())
}
