//! The demo page at `/`: static HTML, CSS and plain JavaScript shipped in the binary (no build
//! step), driving the real API and the chat WebSocket from the same origin. The links in local
//! mail (`/verify-email?token=…`, `/reset-password?token=…`) open the same page, which finishes
//! the flow. A strict Content-Security-Policy: only this server's scripts, styles and sockets.

use axum::http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

const PAGE: &str = include_str!("../static/index.html");
const SCRIPT: &str = include_str!("../static/app.js");
const STYLE: &str = include_str!("../static/style.css");

const POLICY: &str = "default-src 'self'; img-src 'self' data:; connect-src 'self'; \
    frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";

pub fn router() -> Router {
    let page =
        || async { ([(CONTENT_TYPE, "text/html; charset=utf-8"), (CONTENT_SECURITY_POLICY, POLICY)], PAGE) };
    Router::new()
        .route("/", get(page))
        .route("/verify-email", get(page))
        .route("/reset-password", get(page))
        .route("/demo/app.js", get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }))
        .route("/demo/style.css", get(|| async { asset("text/css; charset=utf-8", STYLE) }))
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    ([(CONTENT_TYPE, content_type)], body)
}
