//! `AppError` as an HTTP response: `{"error":{"code","message"}}`. Server errors log their
//! detail and send only a generic message.

use super::openapi::{ErrorBody, ErrorDetail};
use crate::error::AppError;
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        self.report();
        let body = ErrorBody { error: ErrorDetail { code: self.code(), message: self.to_string() } };
        let mut response = (status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after() {
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

pub async fn not_found() -> AppError {
    AppError::NotFound
}

pub async fn method_not_allowed() -> AppError {
    AppError::MethodNotAllowed
}
