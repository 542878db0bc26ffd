//! Query parameters of list routes (API.md Common rules): `cursor` (opaque) and `limit` (1-50,
//! default 20). A malformed query is `400 invalid_request`.

use crate::error::AppError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde::Deserialize;

pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 50;

/// Query parameters parsed into `T`, with errors in the API's shape.
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::try_from_uri(&parts.uri)
            .map(|axum::extract::Query(params)| QueryParams(params))
            .map_err(|e| AppError::invalid(e.body_text()))
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// `nextCursor` of the page before; none for the first page.
    pub cursor: Option<String>,
    /// Items per page (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 50)]
    pub limit: Option<String>,
}

impl Paging {
    pub fn limit(&self) -> Result<usize, AppError> {
        match &self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(text) => text.parse().ok().filter(|n| (1..=MAX_LIMIT).contains(n)).ok_or_else(|| {
                AppError::invalid(format!("limit must be a whole number from 1 to {MAX_LIMIT}"))
            }),
        }
    }

    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref().filter(|c| !c.is_empty())
    }
}
