//! A request id on every response (`x-request-id`) and exactly one structured log line per
//! request. The line holds method, route, status and latency, and from the request's span the
//! function, API Gateway's request id and the signed-in user's id: never bodies, cookies, query
//! strings (which can carry secrets) or emails.

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use lambda_http::request::RequestContext;
use lambda_http::RequestExt;
use std::time::Instant;
use tracing::Instrument;

pub const REQUEST_ID: &str = "x-request-id";

pub async fn request_log(request: Request, next: Next) -> Response {
    let id = ulid::Ulid::new().to_string();
    let method = request.method().clone();
    // The route template (`/api/auth/signin`), falling back to the path for unmatched requests
    // (in the log line only: as a metric dimension any path would make a metric of its own).
    let matched = request.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned());
    let route = matched.clone().unwrap_or_else(|| request.uri().path().chars().take(256).collect());
    let apigw_request_id = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.request_id.clone(),
        _ => None,
    };
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        function = crate::telemetry::function(),
        apigw_request_id = apigw_request_id.as_deref(),
        user_id = tracing::field::Empty,
    );
    let started = Instant::now();
    let handled = next.run(request).instrument(span.clone());
    let mut response = crate::monitoring::within(&id, &route, apigw_request_id.as_deref(), handled).await;
    let (status, elapsed) = (response.status().as_u16(), started.elapsed());
    span.in_scope(|| {
        tracing::info!(
            method = %method,
            route = %route,
            status,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        );
    });
    let metric_route = matched.map_or_else(|| "unmatched".to_owned(), |path| format!("{method} {path}"));
    crate::metrics::answered(&metric_route, crate::metrics::status_class(status), elapsed);
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}
