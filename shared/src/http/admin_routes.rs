//! Handlers of API.md's admin routes: driver reviews, suspension, audit, and reports.

use super::cookies::SessionCookie;
use super::json::Json;
use super::list::{Paging, QueryParams};
use super::AppState;
use crate::auth::Client;
use crate::driver::admin::Decision;
use crate::error::AppError;
use crate::repo::safety::ReportStatus;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

pub async fn reviews(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    QueryParams(paging): QueryParams<Paging>,
) -> Result<Response, AppError> {
    let page = state.driver.reviews(&cookie, paging.cursor(), paging.limit()?).await?;
    Ok(axum::Json(json!({ "reviews": page.items, "nextCursor": page.next_cursor })).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DecisionBody {
    Approve,
    Reject,
}

#[derive(Deserialize)]
pub struct DecideBody {
    decision: DecisionBody,
    reason: Option<String>,
}

pub async fn decide(
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

#[derive(Deserialize)]
pub struct ReasonBody {
    reason: String,
}

pub async fn suspend(
    State(state): State<AppState>,
    client: Client,
    SessionCookie(cookie): SessionCookie,
    Path(user_id): Path<String>,
    Json(body): Json<ReasonBody>,
) -> Result<Response, AppError> {
    Ok(axum::Json(state.driver.set_suspended(&cookie, &user_id, true, &body.reason, &client).await?)
        .into_response())
}

pub async fn reinstate(
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

pub async fn audit(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    QueryParams(query): QueryParams<AuditQuery>,
) -> Result<Response, AppError> {
    let user_id = query.user_id.as_deref().ok_or_else(|| AppError::invalid("userId is required"))?;
    let page = state.driver.audit(&cookie, user_id, query.paging.cursor(), query.paging.limit()?).await?;
    Ok(axum::Json(json!({ "records": page.items, "nextCursor": page.next_cursor })).into_response())
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

pub async fn reports(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    QueryParams(query): QueryParams<ReportsQuery>,
) -> Result<Response, AppError> {
    let status = report_status(query.status.as_deref().unwrap_or("open"))?;
    let page = state.rides.reports(&cookie, status, query.paging.cursor(), query.paging.limit()?).await?;
    Ok(axum::Json(json!({ "reports": page.items, "nextCursor": page.next_cursor })).into_response())
}

#[derive(Deserialize)]
pub struct ReportDecisionBody {
    status: String,
    note: String,
}

pub async fn decide_report(
    State(state): State<AppState>,
    SessionCookie(cookie): SessionCookie,
    Path(id): Path<String>,
    Json(body): Json<ReportDecisionBody>,
) -> Result<Response, AppError> {
    let status = report_status(&body.status).map_err(|e| AppError::Incomplete(e.to_string()))?;
    let report = state.rides.decide_report(&cookie, &id, status, &body.note).await?;
    Ok(axum::Json(json!({ "report": report })).into_response())
}
