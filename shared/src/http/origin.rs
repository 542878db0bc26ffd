//! CSRF defence and CORS (OWASP CSRF Cheat Sheet): a state-changing request from another site
//! (`Sec-Fetch-Site: cross-site`) or from an origin outside the allow-list gets
//! `403 csrf_rejected` before any handler runs. Allowed origins get CORS answers with
//! credentials, echoing the origin (never `*`). Requests without these headers (curl, servers)
//! are not browsers and pass: CSRF needs a victim's browser.

use crate::error::AppError;
use axum::extract::{Request, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct OriginPolicy {
    allowed: Vec<String>,
}

impl OriginPolicy {
    pub fn new(allowed: &[String]) -> Self {
        OriginPolicy {
            allowed: allowed.iter().map(|o| o.trim_end_matches('/').to_ascii_lowercase()).collect(),
        }
    }

    fn allows(&self, origin: &str) -> bool {
        self.allowed.iter().any(|a| a.eq_ignore_ascii_case(origin))
    }

    /// A WebSocket handshake is a GET that browsers send with the cookie from pages of any
    /// origin (no CORS applies to it): one naming an origin outside the allow-list is refused
    /// (Cross-Site WebSocket Hijacking). Clients that send no `Origin` are not browsers.
    pub fn allows_socket(&self, origin: Option<&str>) -> Result<(), AppError> {
        match origin {
            Some(origin) if !self.allows(origin) => {
                tracing::info!(origin, "cross-site WebSocket handshake refused");
                Err(AppError::CsrfRejected)
            }
            _ => Ok(()),
        }
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

pub async fn guard(State(policy): State<Arc<OriginPolicy>>, request: Request, next: Next) -> Response {
    let origin = header(request.headers(), ORIGIN.as_str()).map(str::to_owned);
    let allowed_origin = origin.as_deref().filter(|o| policy.allows(o)).map(str::to_owned);
    let method = request.method().clone();

    if method == Method::OPTIONS && request.headers().contains_key(ACCESS_CONTROL_REQUEST_METHOD) {
        return match allowed_origin {
            Some(origin) => preflight(&origin),
            None => AppError::CsrfRejected.into_response(),
        };
    }
    let changes_state = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
    // Header values the Fetch standard defines in lower case; compared case-insensitively
    // anyway, as a proxy or client may change case.
    let cross_site =
        header(request.headers(), "sec-fetch-site").is_some_and(|v| v.eq_ignore_ascii_case("cross-site"));
    if changes_state && (cross_site || (origin.is_some() && allowed_origin.is_none())) {
        tracing::info!(origin = origin.as_deref().unwrap_or(""), cross_site, "cross-site request refused");
        return AppError::CsrfRejected.into_response();
    }
    let mut response = next.run(request).await;
    if let Some(origin) = allowed_origin {
        cors_headers(response.headers_mut(), &origin);
    }
    response
}

fn cors_headers(headers: &mut HeaderMap, origin: &str) {
    if let Ok(value) = HeaderValue::from_str(origin) {
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.insert(ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        headers.insert(ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("x-request-id, retry-after"));
        headers.append(VARY, HeaderValue::from_static("Origin"));
    }
}

fn preflight(origin: &str) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    cors_headers(headers, origin);
    headers.insert(ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE"));
    headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("content-type, x-request-id"));
    headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    response
}
