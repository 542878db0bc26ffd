//! CAPTCHA on registration against a local fake siteverify server: accepted tokens register,
//! missing or rejected ones and a verifier that is down, slow or broken all fail closed with
//! `400 captcha_failed` (never a 500), and nothing is written.

mod support;

use axum::extract::Form;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use carpool::captcha::CaptchaConfig;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;
use support::app::*;

/// Accepts `good-token` for secret `s3cret` (from any IP), answers 500 on `/broken` and sleeps
/// on `/slow`.
async fn fake_verifier() -> String {
    async fn verify(Form(form): Form<HashMap<String, String>>) -> Json<Value> {
        let ok = form.get("secret").map(String::as_str) == Some("s3cret")
            && form.get("response").map(String::as_str) == Some("good-token")
            && form.contains_key("remoteip");
        Json(json!({ "success": ok }))
    }
    async fn slow() -> Json<Value> {
        tokio::time::sleep(Duration::from_secs(5)).await;
        Json(json!({ "success": true }))
    }
    let app = Router::new()
        .route("/siteverify", post(verify))
        .route("/broken", post(|| async { StatusCode::INTERNAL_SERVER_ERROR }))
        .route("/slow", post(slow));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

async fn app_verifying_at(url: String) -> App {
    embedded_with(|config| {
        config.captcha = Some(CaptchaConfig {
            verify_url: url,
            secret: "s3cret".into(),
            timeout: Duration::from_millis(300),
        });
    })
    .await
}

async fn register(app: &App, email: &str, token: Option<&str>) -> Reply {
    let mut body = json!({"email": email, "password": PASSWORD, "name": "Cap"});
    if let Some(t) = token {
        body["captchaToken"] = t.into();
    }
    app.post("/api/auth/register", body, None).await
}

#[tokio::test]
async fn verified_tokens_register_and_others_fail_closed() {
    let base = fake_verifier().await;
    let app = app_verifying_at(format!("{base}/siteverify")).await;
    for token in [None, Some(""), Some("bad-token")] {
        let res = register(&app, "cap@example.edu", token).await;
        assert_eq!((res.status, res.code()), (StatusCode::BAD_REQUEST, "captcha_failed"), "{token:?}");
    }
    assert!(app.mail.0.lock().unwrap().is_empty(), "nothing happened");
    assert_eq!(register(&app, "cap@example.edu", Some("good-token")).await.status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn verifier_down_slow_or_broken_fails_closed() {
    let base = fake_verifier().await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/siteverify", l.local_addr().unwrap())
    };
    for url in [closed, format!("{base}/slow"), format!("{base}/broken")] {
        let app = app_verifying_at(url.clone()).await;
        let res = register(&app, "cap@example.edu", Some("good-token")).await;
        assert_eq!((res.status, res.code()), (StatusCode::BAD_REQUEST, "captcha_failed"), "{url}");
        assert!(app.mail.0.lock().unwrap().is_empty());
    }
}
