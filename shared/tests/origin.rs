//! CSRF and CORS at the HTTP layer: cross-site or foreign-origin state changes are refused
//! before any handler runs; allowed origins get credentialed CORS answers, never `*`.

mod support;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::json;
use support::app::*;

fn register(origin: Option<&str>, fetch_site: Option<&str>) -> Request<Body> {
    let mut req = Request::post("/api/auth/register").header(header::CONTENT_TYPE, "application/json");
    if let Some(o) = origin {
        req = req.header(header::ORIGIN, o);
    }
    if let Some(s) = fetch_site {
        req = req.header("sec-fetch-site", s);
    }
    let body = json!({"email": "csrf@example.edu", "password": PASSWORD, "name": "C"}).to_string();
    req.body(Body::from(body)).unwrap()
}

#[tokio::test]
async fn cross_site_state_changes_are_refused() {
    let app = embedded().await;
    for (origin, site) in [
        (Some("https://evil.example.com"), None),
        (Some("null"), None),
        (Some("https://carpool.example.edu"), Some("cross-site")),
        (None, Some("cross-site")),
        (None, Some("Cross-Site")),
        (Some("https://EVIL.example.com"), Some("CROSS-SITE")),
    ] {
        let res = app.request(register(origin, site)).await;
        assert_eq!((res.status, res.code()), (StatusCode::FORBIDDEN, "csrf_rejected"), "{origin:?} {site:?}");
    }
    assert!(app.mail.0.lock().unwrap().is_empty(), "no handler ran");
    // A cross-site GET reads nothing it may not (no cookies are sent cross-site with Lax) and passes.
    let get = Request::get("/api/auth/session").header(header::ORIGIN, "https://evil.example.com");
    assert_eq!(app.request(get.body(Body::empty()).unwrap()).await.status, StatusCode::UNAUTHORIZED);

    let ok = app.request(register(Some("https://carpool.example.edu"), Some("same-site"))).await;
    assert_eq!(ok.status, StatusCode::ACCEPTED);
    // Scheme and host of an origin are case-insensitive.
    let upper = app.request(register(Some("HTTPS://Carpool.Example.EDU"), Some("Same-Origin"))).await;
    assert_eq!(upper.status, StatusCode::ACCEPTED, "{}", upper.body);
    assert_eq!(ok.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://carpool.example.edu");
    assert_eq!(ok.headers[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
    // No browser headers at all (curl, a server) is not a browser attack.
    let bare = app.post("/api/auth/resend-verification", json!({"email": "csrf@example.edu"}), None).await;
    assert_eq!(bare.status, StatusCode::ACCEPTED);
    assert!(!bare.headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
}

#[tokio::test]
async fn preflights_answer_the_allow_list_only() {
    let app = embedded().await;
    let preflight = |origin: &str| {
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/api/auth/signin")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .body(Body::empty())
            .unwrap()
    };
    let ok = app.request(preflight("https://carpool.example.edu")).await;
    assert_eq!(ok.status, StatusCode::NO_CONTENT);
    assert_eq!(ok.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://carpool.example.edu");
    assert!(ok.headers[header::ACCESS_CONTROL_ALLOW_METHODS].to_str().unwrap().contains("POST"));
    let evil = app.request(preflight("https://evil.example.com")).await;
    assert_eq!(evil.status, StatusCode::FORBIDDEN);
    assert!(!evil.headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
}
