//! Handlers of API.md "Driver": the caller's own driver state, license, photo and availability.

use super::auth_routes::LicenseBody;
use super::cookies::SessionCookie;
use super::json::Json;
use super::AppState;
use crate::auth::Client;
use crate::error::AppError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

pub async fn state(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
) -> Result<Response, AppError> {
    Ok(axum::Json(state.driver.state(&cookie).await?).into_response())
}

pub async fn put_license(
    State(state): State<AppState>,
    client: Client,
    SessionCookie(cookie): SessionCookie,
    Json(body): Json<LicenseBody>,
) -> Result<Response, AppError> {
    let driver = state.driver.put_license(&cookie, body.into_input()?, &client).await?;
    Ok(axum::Json(driver).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadBody {
    content_type: String,
    content_length: serde_json::Number,
}

pub async fn upload(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    Json(body): Json<UploadBody>,
) -> Result<Response, AppError> {
    let grant = state.driver.upload(&cookie, &body.content_type, &body.content_length).await?;
    Ok(axum::Json(grant).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanBody {
    object_key: String,
}

pub async fn scan(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    Json(body): Json<ScanBody>,
) -> Result<Response, AppError> {
    Ok(axum::Json(state.driver.scan(&cookie, &body.object_key).await?).into_response())
}

pub async fn enable(
    State(state): State<AppState>,
    client: Client,
    SessionCookie(cookie): SessionCookie,
) -> Result<Response, AppError> {
    let (driver, awaiting_review) = state.driver.enable(&cookie, &client).await?;
    let status = if awaiting_review { StatusCode::ACCEPTED } else { StatusCode::OK };
    Ok((status, axum::Json(driver)).into_response())
}

#[derive(Deserialize)]
pub struct ToggleBody {
    available: bool,
}

pub async fn toggle(
    State(state): State<AppState>,
    client: Client,
    SessionCookie(cookie): SessionCookie,
    Json(body): Json<ToggleBody>,
) -> Result<Response, AppError> {
    Ok(axum::Json(state.driver.toggle(&cookie, body.available, &client).await?).into_response())
}
