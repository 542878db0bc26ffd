//! Handlers of API.md's admin routes: driver reviews, suspension, audit, and reports.

use super::cookies::SessionCookie;
use super::json::Json;
use super::list::{Paging, QueryParams};
use super::openapi::ErrorBody;
use super::AppState;
use crate::auth::Client;
use crate::driver::admin::Decision;
use crate::driver::views::{DriverState, ReviewEntry};
use crate::error::AppError;
use crate::repo::audit::DriverChange;
use crate::repo::safety::ReportStatus;
use crate::rides::views::ReportView;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReviewPage {
    reviews: Vec<ReviewEntry>,
    #[schema(required = true)]
    next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    records: Vec<DriverChange>,
    #[schema(required = true)]
    next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportPage {
    reports: Vec<ReportView>,
    #[schema(required = true)]
    next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ReportBody {
    report: ReportView,
}

/// The campus's drivers waiting for a review, oldest first, with their license and photo.
#[utoipa::path(get, path = "/api/admin/driver-reviews", tag = "admin", params(Paging),
    security(("session" = [])), responses(
    (status = 200, body = ReviewPage, description = "A page of the queue"),
    (status = 403, body = ErrorBody, description = "admin_required"),
))]
pub async fn driver_reviews(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    QueryParams(paging): QueryParams<Paging>,
) -> Result<Response, AppError> {
    let page = state.driver.reviews(&cookie, paging.cursor(), paging.limit()?).await?;
    Ok(axum::Json(ReviewPage { reviews: page.items, next_cursor: page.next_cursor }).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DecisionBody {
    Approve,
    Reject,
}

#[derive(Deserialize, ToSchema)]
pub struct DecideBody {
    decision: DecisionBody,
    reason: Option<String>,
}

/// Approves or rejects (with a reason) a driver waiting for review; the driver is mailed.
#[utoipa::path(post, path = "/api/admin/driver-reviews/{userId}", tag = "admin", request_body = DecideBody,
    params(("userId" = String, Path, description = "The driver's user id")),
    security(("session" = [])), responses(
    (status = 200, body = DriverState, description = "The driver's new state"),
    (status = 403, body = ErrorBody, description = "admin_required (also for one's own application)"),
    (status = 404, body = ErrorBody, description = "not_found: no such user of the campus, or nothing pending"),
    (status = 422, body = ErrorBody, description = "a rejection without a reason; a reason too long"),
))]
pub async fn decide_review(
    State(state): State<AppState>,
    client: Client,
    SessionCookie(cookie): SessionCookie,
    Path(user_id): Path<String>,
    Json(body): Json<DecideBody>,
) -> Result<Response, AppError> {
    let decision = match body.decision {
        DecisionBody::Approve => Decision::Approve,
        DecisionBody::Reject => Decision::Reject,
    };
    let driver = state.driver.decide(&cookie, &user_id, decision, body.reason.as_deref(), &client).await?;
    Ok(axum::Json(driver).into_response())
}

#[derive(Deserialize, ToSchema)]
pub struct ReasonBody {
    reason: String,
}

/// Suspends a driver (no driving; availability off; a pending application leaves the queue).
#[utoipa::path(post, path = "/api/admin/drivers/{userId}/suspend", tag = "admin", request_body = ReasonBody,
    params(("userId" = String, Path, description = "The driver's user id")),
    security(("session" = [])), responses(
    (status = 200, body = DriverState, description = "Suspended (or already)"),
    (status = 403, body = ErrorBody, description = "admin_required"),
    (status = 422, body = ErrorBody, description = "the reason missing or too long"),
))]
pub async fn suspend_driver(
    State(state): State<AppState>,
    client: Client,
    SessionCookie(cookie): SessionCookie,
    Path(user_id): Path<String>,
    Json(body): Json<ReasonBody>,
) -> Result<Response, AppError> {
    Ok(axum::Json(state.driver.set_suspended(&cookie, &user_id, true, &body.reason, &client).await?)
        .into_response())
}

/// Lifts a suspension: back to what it interrupted; availability stays off.
#[utoipa::path(post, path = "/api/admin/drivers/{userId}/reinstate", tag = "admin", request_body = ReasonBody,
    params(("userId" = String, Path, description = "The driver's user id")),
    security(("session" = [])), responses(
    (status = 200, body = DriverState, description = "Reinstated"),
    (status = 403, body = ErrorBody, description = "admin_required"),
    (status = 409, body = ErrorBody, description = "driver_not_suspended"),
    (status = 422, body = ErrorBody, description = "the reason missing or too long"),
))]
pub async fn reinstate_driver(
    State(state): State<AppState>,
    client: Client,
    SessionCookie(cookie): SessionCookie,
    Path(user_id): Path<String>,
    Json(body): Json<ReasonBody>,
) -> Result<Response, AppError> {
    Ok(axum::Json(state.driver.set_suspended(&cookie, &user_id, false, &body.reason, &client).await?)
        .into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditQuery {
    user_id: Option<String>,
    #[serde(flatten)]
    paging: Paging,
}

/// The audit trail of one driver of the campus, newest first.
#[utoipa::path(get, path = "/api/admin/audit", tag = "admin",
    params(("userId" = String, Query, description = "The driver's user id"), Paging),
    security(("session" = [])), responses(
    (status = 200, body = AuditPage, description = "A page of changes"),
    (status = 403, body = ErrorBody, description = "admin_required"),
    (status = 404, body = ErrorBody, description = "not_found: no such user of the campus"),
))]
pub async fn driver_audit(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    QueryParams(query): QueryParams<AuditQuery>,
) -> Result<Response, AppError> {
    let user_id = query.user_id.as_deref().ok_or_else(|| AppError::invalid("userId is required"))?;
    let page = state.driver.audit(&cookie, user_id, query.paging.cursor(), query.paging.limit()?).await?;
    Ok(axum::Json(AuditPage { records: page.items, next_cursor: page.next_cursor }).into_response())
}

#[derive(Deserialize)]
pub struct ReportsQuery {
    status: Option<String>,
    #[serde(flatten)]
    paging: Paging,
}

fn report_status(text: &str) -> Result<ReportStatus, AppError> {
    match text {
        "open" => Ok(ReportStatus::Open),
        "dismissed" => Ok(ReportStatus::Dismissed),
        "actioned" => Ok(ReportStatus::Actioned),
        _ => Err(AppError::invalid("status must be open, dismissed or actioned")),
    }
}

/// Reports about the campus's users, by status (default `open`), oldest first.
#[utoipa::path(get, path = "/api/admin/reports", tag = "admin",
    params(("status" = Option<ReportStatus>, Query, description = "open (default), dismissed or actioned"), Paging),
    security(("session" = [])), responses(
    (status = 200, body = ReportPage, description = "A page of reports"),
    (status = 403, body = ErrorBody, description = "admin_required"),
))]
pub async fn user_reports(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    QueryParams(query): QueryParams<ReportsQuery>,
) -> Result<Response, AppError> {
    let status = report_status(query.status.as_deref().unwrap_or("open"))?;
    let page = state.rides.reports(&cookie, status, query.paging.cursor(), query.paging.limit()?).await?;
    Ok(axum::Json(ReportPage { reports: page.items, next_cursor: page.next_cursor }).into_response())
}

#[derive(Deserialize, ToSchema)]
pub struct ReportDecisionBody {
    status: String,
    note: String,
}

/// Closes an open report as `dismissed` or `actioned`, with a note.
#[utoipa::path(post, path = "/api/admin/reports/{id}", tag = "admin", request_body = ReportDecisionBody,
    params(("id" = String, Path, description = "The report's id")),
    security(("session" = [])), responses(
    (status = 200, body = ReportBody, description = "The decided report"),
    (status = 403, body = ErrorBody, description = "admin_required"),
    (status = 422, body = ErrorBody, description = "the status is not dismissed or actioned; the note too long"),
))]
pub async fn decide_report(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    Path(id): Path<String>,
    Json(body): Json<ReportDecisionBody>,
) -> Result<Response, AppError> {
    let status = report_status(&body.status).map_err(|e| AppError::Incomplete(e.to_string()))?;
    let report = state.rides.decide_report(&cookie, &id, status, &body.note).await?;
    Ok(axum::Json(ReportBody { report }).into_response())
}
