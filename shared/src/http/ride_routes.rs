//! Handlers of API.md "Carpool": rides, the feed, join requests, the caller's rides, blocks and
//! reports (the admins' side of reports is in `admin_routes`).

use super::cookies::SessionCookie;
use super::json::{Json, OptionalJson};
use super::list::{Paging, QueryParams};
use super::openapi::ErrorBody;
use super::AppState;
use crate::error::AppError;
use crate::rides::views::{MyRides, RequestView, RideDetail, RideView};
use crate::rides::{FeedQuery, NewRide, PlaceInput, RideEdit};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Serialize, ToSchema)]
pub struct RideBody {
    ride: RideView,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeedPage {
    rides: Vec<RideView>,
    #[schema(required = true)]
    next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RequestBody {
    request: RequestView,
}

#[derive(Serialize, ToSchema)]
pub struct Accepted {
    ride: RideView,
    request: RequestView,
}

#[derive(Deserialize, ToSchema)]
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

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewRideBody {
    /// `offer` (a driver's seats) or `request` (a rider looking for one).
    kind: String,
    origin: PlaceBody,
    destination: PlaceBody,
    depart_at: String,
    seats: i64,
    notes: Option<String>,
}

/// Posts a ride to the campus feed: an offer (approved, available drivers) or a request.
#[utoipa::path(post, path = "/api/carpool/rides", tag = "carpool", request_body = NewRideBody,
    security(("session" = [])), responses(
    (status = 201, body = RideBody, description = "Posted"),
    (status = 403, body = ErrorBody, description = "driver_not_approved (offers)"),
    (status = 409, body = ErrorBody, description = "license_required, license_expired, driver_unavailable (offers)"),
    (status = 422, body = ErrorBody, description = "invalid_ride"),
))]
pub async fn post_ride(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    Json(body): Json<NewRideBody>,
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
    Ok((StatusCode::CREATED, axum::Json(RideBody { ride })).into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedParams {
    /// `offer` or `request`; both when absent.
    kind: Option<String>,
    /// Departing at or after this instant (RFC 3339); now when absent.
    from: Option<String>,
    /// Departing before this instant (RFC 3339).
    to: Option<String>,
    #[serde(flatten)]
    #[param(ignore)]
    paging: Paging,
}

/// The campus feed: open rides departing from now (or `from`), soonest first; blocked users'
/// rides left out.
#[utoipa::path(get, path = "/api/carpool/rides", tag = "carpool", params(FeedParams, Paging),
    security(("session" = [])), responses(
    (status = 200, body = FeedPage, description = "A page of rides"),
))]
pub async fn ride_feed(
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
    Ok(axum::Json(FeedPage { rides: page.items, next_cursor: page.next_cursor }).into_response())
}

/// One ride: the caller's own request if any, and for its author every request.
#[utoipa::path(get, path = "/api/carpool/rides/{id}", tag = "carpool", params(("id" = String, Path, description = "The ride's id")),
    security(("session" = [])), responses(
    (status = 200, body = RideDetail, description = "The ride"),
))]
pub async fn ride_detail(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    Ok(axum::Json(state.rides.detail(&cookie, &id).await?).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EditBody {
    depart_at: Option<String>,
    seats: Option<i64>,
    notes: Option<String>,
}

/// Changes the time, seats or notes of the author's ride before it departs; riders are told.
#[utoipa::path(patch, path = "/api/carpool/rides/{id}", tag = "carpool", params(("id" = String, Path, description = "The ride's id")),
    request_body = EditBody, security(("session" = [])), responses(
    (status = 200, body = RideBody, description = "The changed ride"),
    (status = 403, body = ErrorBody, description = "not_ride_author"),
    (status = 409, body = ErrorBody, description = "ride_closed, seats_taken (fewer seats than taken)"),
    (status = 422, body = ErrorBody, description = "invalid_ride"),
))]
pub async fn edit_ride(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    Path(id): Path<String>,
    Json(body): Json<EditBody>,
) -> Result<Response, AppError> {
    let edit = RideEdit { depart_at: body.depart_at, seats: body.seats, notes: body.notes };
    let ride = state.rides.edit(&cookie, &id, edit).await?;
    Ok(axum::Json(RideBody { ride }).into_response())
}

/// Cancels the author's ride; its riders are told.
#[utoipa::path(delete, path = "/api/carpool/rides/{id}", tag = "carpool", params(("id" = String, Path, description = "The ride's id")),
    security(("session" = [])), responses(
    (status = 204, description = "Cancelled"),
    (status = 403, body = ErrorBody, description = "not_ride_author"),
    (status = 409, body = ErrorBody, description = "ride_closed"),
))]
pub async fn cancel_ride(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    state.rides.cancel(&cookie, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Default, Deserialize, ToSchema)]
pub struct JoinBody {
    seats: Option<i64>,
    message: Option<String>,
}

/// Asks to join a ride (seats default to 1); the author answers.
#[utoipa::path(post, path = "/api/carpool/rides/{id}/join", tag = "carpool", params(("id" = String, Path, description = "The ride's id")),
    request_body(content = Option<JoinBody>, description = "Optional"), security(("session" = [])), responses(
    (status = 201, body = RequestBody, description = "Asked"),
    (status = 403, body = ErrorBody, description = "driver_not_approved (answering a request ride)"),
    (status = 409, body = ErrorBody, description = "own_ride, already_requested, ride_closed, ride_full"),
    (status = 422, body = ErrorBody, description = "seats or message out of range"),
))]
pub async fn join_ride(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<JoinBody>,
) -> Result<Response, AppError> {
    let request = state.rides.join(&cookie, &id, body.seats, body.message.as_deref()).await?;
    Ok((StatusCode::CREATED, axum::Json(RequestBody { request })).into_response())
}

/// The author accepts a pending request: its seats are taken.
#[utoipa::path(post, path = "/api/carpool/rides/{id}/requests/{requestId}/accept", tag = "carpool",
    params(("id" = String, Path, description = "The ride's id"), ("requestId" = String, Path, description = "The request's id")), security(("session" = [])), responses(
    (status = 200, body = Accepted, description = "Accepted"),
    (status = 403, body = ErrorBody, description = "not_ride_author"),
    (status = 409, body = ErrorBody, description = "ride_closed, request_not_pending, ride_full"),
))]
pub async fn accept_request(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    Path((id, request_id)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let (ride, request) = state.rides.accept(&cookie, &id, &request_id).await?;
    Ok(axum::Json(Accepted { ride, request }).into_response())
}

/// The author declines a pending request.
#[utoipa::path(post, path = "/api/carpool/rides/{id}/requests/{requestId}/decline", tag = "carpool",
    params(("id" = String, Path, description = "The ride's id"), ("requestId" = String, Path, description = "The request's id")), security(("session" = [])), responses(
    (status = 200, body = RequestBody, description = "Declined"),
    (status = 403, body = ErrorBody, description = "not_ride_author"),
    (status = 409, body = ErrorBody, description = "request_not_pending"),
))]
pub async fn decline_request(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    Path((id, request_id)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let request = state.rides.decline(&cookie, &id, &request_id).await?;
    Ok(axum::Json(RequestBody { request }).into_response())
}

/// Withdraws the caller's request or seat; the author is told.
#[utoipa::path(post, path = "/api/carpool/rides/{id}/leave", tag = "carpool", params(("id" = String, Path, description = "The ride's id")),
    security(("session" = [])), responses(
    (status = 204, description = "Left"),
    (status = 409, body = ErrorBody, description = "ride_closed"),
))]
pub async fn leave_ride(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    state.rides.leave(&cookie, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The caller's rides: posted, and joined (with their request).
#[utoipa::path(get, path = "/api/carpool/me/rides", tag = "carpool", security(("session" = [])), responses(
    (status = 200, body = MyRides, description = "Posted and joined rides"),
))]
pub async fn my_rides(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
) -> Result<Response, AppError> {
    Ok(axum::Json(state.rides.mine(&cookie).await?).into_response())
}

/// Blocks a user: neither sees the other's rides nor can message them.
#[utoipa::path(post, path = "/api/users/{userId}/block", tag = "carpool", params(("userId" = String, Path, description = "The other user's id")),
    security(("session" = [])), responses(
    (status = 204, description = "Blocked (or already)"),
    (status = 422, body = ErrorBody, description = "oneself"),
))]
pub async fn block_user(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    Path(user_id): Path<String>,
) -> Result<Response, AppError> {
    state.rides.block(&cookie, &user_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Lifts a block.
#[utoipa::path(delete, path = "/api/users/{userId}/block", tag = "carpool", params(("userId" = String, Path, description = "The other user's id")),
    security(("session" = [])), responses(
    (status = 204, description = "Not blocked"),
))]
pub async fn unblock_user(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    Path(user_id): Path<String>,
) -> Result<Response, AppError> {
    state.rides.unblock(&cookie, &user_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewReportBody {
    user_id: String,
    ride_id: Option<String>,
    reason: String,
}

/// Reports a user of the campus (optionally about one of their rides) to the campus admins.
#[utoipa::path(post, path = "/api/reports", tag = "carpool", request_body = NewReportBody,
    security(("session" = [])), responses(
    (status = 202, description = "Received"),
    (status = 404, body = ErrorBody, description = "not_found: no such user of the campus"),
    (status = 422, body = ErrorBody, description = "reason missing or too long; oneself; a ride not theirs"),
))]
pub async fn report_user(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    Json(body): Json<NewReportBody>,
) -> Result<Response, AppError> {
    state.rides.report(&cookie, &body.user_id, body.ride_id.as_deref(), &body.reason).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}
