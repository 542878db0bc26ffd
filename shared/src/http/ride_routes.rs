//! Handlers of API.md "Carpool": rides, the feed, join requests, the caller's rides, blocks and
//! reports (the admins' side of reports is in `admin_routes`).

use super::cookies::SessionCookie;
use super::json::{Json, OptionalJson};
use super::list::{Paging, QueryParams};
use super::AppState;
use crate::error::AppError;
use crate::rides::{FeedQuery, NewRide, PlaceInput, RideEdit};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
pub struct PlaceBody {
    label: String,
    lat: Option<f64>,
    lng: Option<f64>,
}

impl From<PlaceBody> for PlaceInput {
    fn from(p: PlaceBody) -> Self {
        PlaceInput { label: p.label, lat: p.lat, lng: p.lng }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RideBody {
    kind: String,
    origin: PlaceBody,
    destination: PlaceBody,
    depart_at: String,
    seats: i64,
    notes: Option<String>,
}

pub async fn post(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    Json(body): Json<RideBody>,
) -> Result<Response, AppError> {
    let input = NewRide {
        kind: body.kind,
        origin: body.origin.into(),
        destination: body.destination.into(),
        depart_at: body.depart_at,
        seats: body.seats,
        notes: body.notes,
    };
    let ride = state.rides.post(&cookie, input).await?;
    Ok((StatusCode::CREATED, axum::Json(json!({ "ride": ride }))).into_response())
}

#[derive(Deserialize)]
pub struct FeedParams {
    kind: Option<String>,
    from: Option<String>,
    to: Option<String>,
    #[serde(flatten)]
    paging: Paging,
}

pub async fn feed(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    QueryParams(params): QueryParams<FeedParams>,
) -> Result<Response, AppError> {
    let query = FeedQuery {
        limit: params.paging.limit()?,
        cursor: params.paging.cursor().map(str::to_owned),
        kind: params.kind,
        from: params.from,
        to: params.to,
    };
    let page = state.rides.feed(&cookie, query).await?;
    Ok(axum::Json(json!({ "rides": page.items, "nextCursor": page.next_cursor })).into_response())
}

pub async fn detail(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    Ok(axum::Json(state.rides.detail(&cookie, &id).await?).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EditBody {
    depart_at: Option<String>,
    seats: Option<i64>,
    notes: Option<String>,
}

pub async fn edit(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    Path(id): Path<String>,
    Json(body): Json<EditBody>,
) -> Result<Response, AppError> {
    let edit = RideEdit { depart_at: body.depart_at, seats: body.seats, notes: body.notes };
    let ride = state.rides.edit(&cookie, &id, edit).await?;
    Ok(axum::Json(json!({ "ride": ride })).into_response())
}

pub async fn cancel(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    state.rides.cancel(&cookie, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Default, Deserialize)]
pub struct JoinBody {
    seats: Option<i64>,
    message: Option<String>,
}

pub async fn join(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<JoinBody>,
) -> Result<Response, AppError> {
    let request = state.rides.join(&cookie, &id, body.seats, body.message.as_deref()).await?;
    Ok((StatusCode::CREATED, axum::Json(json!({ "request": request }))).into_response())
}

pub async fn accept(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    Path((id, request_id)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let (ride, request) = state.rides.accept(&cookie, &id, &request_id).await?;
    Ok(axum::Json(json!({ "ride": ride, "request": request })).into_response())
}

pub async fn decline(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    Path((id, request_id)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let request = state.rides.decline(&cookie, &id, &request_id).await?;
    Ok(axum::Json(json!({ "request": request })).into_response())
}

pub async fn leave(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    state.rides.leave(&cookie, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn mine(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
) -> Result<Response, AppError> {
    Ok(axum::Json(state.rides.mine(&cookie).await?).into_response())
}

pub async fn block(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    Path(user_id): Path<String>,
) -> Result<Response, AppError> {
    state.rides.block(&cookie, &user_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn unblock(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    Path(user_id): Path<String>,
) -> Result<Response, AppError> {
    state.rides.unblock(&cookie, &user_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportBody {
    user_id: String,
    ride_id: Option<String>,
    reason: String,
}

pub async fn report(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    Json(body): Json<ReportBody>,
) -> Result<Response, AppError> {
    state.rides.report(&cookie, &body.user_id, body.ride_id.as_deref(), &body.reason).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}
