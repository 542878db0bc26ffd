//! Limits checked on every request before it is routed, answered with the API's JSON error body
//! (`{"error":{"code","message"}}`) and, since this runs inside the request log, with an
//! `x-request-id`:
//!
//! - a declared `Content-Length` over [`MAX_BODY_BYTES`]: `413 payload_too_large`, at once,
//!   without reading (or waiting for) the body;
//! - a request target over [`MAX_URI_BYTES`]: `414 uri_too_long`;
//! - a header section over [`MAX_HEADER_BYTES`] or [`MAX_HEADER_COUNT`] fields:
//!   `431 headers_too_large`;
//! - a request still unanswered after its [`RequestTimeout`] (when the server sets one): `408
//!   request_timeout`. A client that stalls half-way through its body is cut off this way.
//!
//! The HTTP server library still answers some requests itself, before any middleware runs
//! (malformed request lines or headers, heads beyond its own hard limits): those get its bare
//! status with an empty body and no request id. The local server raises its limits well above
//! the ones here so that this module is what clients normally see.

use crate::error::AppError;
use crate::http::json::MAX_BODY_BYTES;
use axum::extract::Request;
use axum::http::header::CONTENT_LENGTH;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::time::Duration;

/// Longest accepted request target (scheme, authority, path and query), in bytes.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Largest accepted header section, in bytes: the sum of `name: value\r\n` over all fields.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Most header fields accepted.
pub const MAX_HEADER_COUNT: usize = 100;

/// How long a request may take once its head has been read: reading the body and running the
/// handler. The server that wants one puts it on each request as an extension; without it (in
/// Lambda the function timeout applies) there is no deadline here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestTimeout(pub Duration);

/// The middleware: refuses requests over the limits above, and answers `408` for one that
/// outlives its [`RequestTimeout`].
pub async fn guard(request: Request, next: Next) -> Response {
    if let Some(rejection) = check(request.uri(), request.headers()) {
        return rejection;
    }
    match request.extensions().get::<RequestTimeout>().copied() {
        Some(RequestTimeout(limit)) => match tokio::time::timeout(limit, next.run(request)).await {
            Ok(response) => response,
            Err(_) => {
                tracing::warn!(timeout_secs = limit.as_secs_f64(), "request timed out");
                reject(
                    StatusCode::REQUEST_TIMEOUT,
                    "request_timeout",
                    "the request was not completed in time; send it again",
                )
            }
        },
        None => next.run(request).await,
    }
}

fn check(uri: &Uri, headers: &HeaderMap) -> Option<Response> {
    if uri_len(uri) > MAX_URI_BYTES {
        let message = format!("request URI is longer than {MAX_URI_BYTES} bytes");
        return Some(reject(StatusCode::URI_TOO_LONG, "uri_too_long", &message));
    }
    if headers.len() > MAX_HEADER_COUNT {
        let message = format!("request has more than {MAX_HEADER_COUNT} header fields");
        return Some(reject(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "headers_too_large", &message));
    }
    let header_bytes: usize = headers.iter().map(|(name, value)| name.as_str().len() + value.len() + 4).sum();
    if header_bytes > MAX_HEADER_BYTES {
        let message = format!("request headers are larger than {MAX_HEADER_BYTES} bytes");
        return Some(reject(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "headers_too_large", &message));
    }
    // The server library has already refused a malformed or conflicting length; here any
    // declared length over the limit is refused before a byte of the body is read.
    let declared_too_large = headers.get_all(CONTENT_LENGTH).iter().any(|value| {
        value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .is_some_and(|len| len > MAX_BODY_BYTES as u64)
    });
    if declared_too_large {
        return Some(AppError::PayloadTooLarge(MAX_BODY_BYTES).into_response());
    }
    None
}

/// The request target's length as sent: origin-form (`/path?query`) or absolute-form.
fn uri_len(uri: &Uri) -> usize {
    let scheme = uri.scheme_str().map_or(0, |s| s.len() + "://".len());
    let authority = uri.authority().map_or(0, |a| a.as_str().len());
    let path = uri.path_and_query().map_or(0, |p| p.as_str().len());
    scheme + authority + path
}

/// The same body `AppError` responses have, for statuses it has no variant for.
fn reject(status: StatusCode, code: &str, message: &str) -> Response {
    (status, axum::Json(json!({ "error": { "code": code, "message": message } }))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::header::CONTENT_TYPE;
    use axum::routing::{get, post};
    use axum::Router;
    use serde_json::Value;
    use tower::ServiceExt;

    fn app() -> Router {
        Router::new()
            .route("/", get(|| async { "ok" }))
            .route("/echo", post(|body: axum::body::Bytes| async move { body.len().to_string() }))
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    "done"
                }),
            )
            .layer(axum::middleware::from_fn(guard))
    }

    async fn send(request: Request) -> (StatusCode, Option<String>, Value) {
        let response = app().oneshot(request).await.unwrap();
        let status = response.status();
        let content_type = response.headers().get(CONTENT_TYPE).map(|v| v.to_str().unwrap().to_owned());
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, content_type, body)
    }

    fn assert_rejected(got: (StatusCode, Option<String>, Value), status: u16, code: &str) {
        let (got_status, content_type, body) = got;
        assert_eq!(got_status.as_u16(), status, "{body}");
        assert_eq!(content_type.as_deref(), Some("application/json"));
        assert_eq!(body["error"]["code"], code, "{body}");
        assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    }

    #[tokio::test]
    async fn declared_body_over_the_limit_is_413() {
        // Only the declared length counts: the (empty) body is never looked at.
        let request = Request::post("/echo").header(CONTENT_LENGTH, "10000000").body(Body::empty()).unwrap();
        assert_rejected(send(request).await, 413, "payload_too_large");

        let at_limit = Request::post("/echo")
            .header(CONTENT_LENGTH, MAX_BODY_BYTES.to_string())
            .body(Body::from(vec![b'x'; MAX_BODY_BYTES]))
            .unwrap();
        assert_eq!(send(at_limit).await.0, StatusCode::OK);
    }

    #[tokio::test]
    async fn long_uri_is_414() {
        let path = |len: usize| format!("/?q={}", "a".repeat(len - "/?q=".len()));
        let request = Request::get(path(MAX_URI_BYTES + 1)).body(Body::empty()).unwrap();
        assert_rejected(send(request).await, 414, "uri_too_long");
        let at_limit = Request::get(path(MAX_URI_BYTES)).body(Body::empty()).unwrap();
        assert_eq!(send(at_limit).await.0, StatusCode::OK);
        // Absolute-form targets count their scheme and authority too.
        let absolute = format!("http://example.edu{}", path(MAX_URI_BYTES - "http://example.edu".len() + 1));
        let request = Request::get(absolute).body(Body::empty()).unwrap();
        assert_rejected(send(request).await, 414, "uri_too_long");
    }

    #[tokio::test]
    async fn large_or_many_headers_are_431() {
        // 16 fields of `x-fill-NN: <1 KiB>\r\n` make 16 KiB plus their names: over the limit.
        let mut request = Request::get("/");
        for i in 0..16 {
            request = request.header(format!("x-fill-{i:02}"), "v".repeat(1024));
        }
        assert_rejected(send(request.body(Body::empty()).unwrap()).await, 431, "headers_too_large");

        let mut request = Request::get("/");
        for i in 0..15 {
            request = request.header(format!("x-fill-{i:02}"), "v".repeat(1024));
        }
        assert_eq!(send(request.body(Body::empty()).unwrap()).await.0, StatusCode::OK);

        let mut request = Request::get("/");
        for i in 0..=MAX_HEADER_COUNT {
            request = request.header(format!("x-n-{i}"), "1");
        }
        assert_rejected(send(request.body(Body::empty()).unwrap()).await, 431, "headers_too_large");
    }

    #[tokio::test]
    async fn request_over_its_timeout_is_408() {
        let mut request = Request::get("/slow").body(Body::empty()).unwrap();
        request.extensions_mut().insert(RequestTimeout(Duration::from_millis(50)));
        assert_rejected(send(request).await, 408, "request_timeout");

        let mut request = Request::get("/slow").body(Body::empty()).unwrap();
        request.extensions_mut().insert(RequestTimeout(Duration::from_secs(10)));
        assert_eq!(send(request).await.0, StatusCode::OK);
        // No timeout set (Lambda): no deadline.
        let request = Request::get("/slow").body(Body::empty()).unwrap();
        assert_eq!(send(request).await.0, StatusCode::OK);
    }
}
