//! Rate limits through the HTTP layer on both stores: `429 rate_limited` with `Retry-After`,
//! exact under a burst of concurrent requests, and lifted when the window passes.

mod support;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request, StatusCode};
use carpool::rate_limit::{Limit, Rule};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use support::app::*;
use time::Duration;

fn tight_limits(config: &mut carpool::config::AuthConfig) {
    config.rate_limits.set(Rule::SigninIp, Limit { max: 5, window_secs: 60 });
    config.rate_limits.set(Rule::ResendEmail, Limit { max: 3, window_secs: 3600 });
    config.rate_limits.set(Rule::RegisterIp, Limit { max: 2, window_secs: 3600 });
}

async fn embedded_limited() -> App {
    embedded_with(tight_limits).await
}

async fn dynamo_limited() -> App {
    dynamo_with(tight_limits).await
}

/// A sign-in attempt for a fresh email (so only the per-IP limit binds) from a given client
/// address (as the local server sees its TCP peer).
async fn signin_from(app: &App, ip: [u8; 4]) -> Reply {
    let email = format!("nobody-{}@example.edu", ulid::Ulid::new());
    let body = json!({"email": email, "password": "wrong password here"}).to_string();
    let mut req = Request::post("/api/auth/signin").header(header::CONTENT_TYPE, "application/json");
    req.extensions_mut().unwrap().insert(ConnectInfo(SocketAddr::from((ip, 40000))));
    app.request(req.body(Body::from(body)).unwrap()).await
}

on_both_stores!(embedded_limited, dynamo_limited; burst_of_fifty_lets_exactly_the_limit_through, window_passes, per_email_and_per_ip_limits);

async fn burst_of_fifty_lets_exactly_the_limit_through(app: App) {
    let app = Arc::new(app);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { signin_from(&app, [198, 51, 100, 7]).await })
        })
        .collect();
    let (mut through, mut limited) = (0, 0);
    for t in tasks {
        let res = t.await.unwrap();
        match res.status {
            StatusCode::TOO_MANY_REQUESTS => {
                limited += 1;
                assert_eq!(res.code(), "rate_limited");
                let retry: i64 = res.headers[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
                assert!((1..=60).contains(&retry), "Retry-After {retry}");
            }
            other => {
                through += 1;
                assert_eq!(other, StatusCode::UNAUTHORIZED);
            }
        }
    }
    assert_eq!((through, limited), (5, 45));
    // Another address has its own budget.
    assert_eq!(signin_from(&app, [198, 51, 100, 8]).await.status, StatusCode::UNAUTHORIZED);
}

async fn window_passes(app: App) {
    for _ in 0..5 {
        signin_from(&app, [203, 0, 113, 1]).await;
    }
    assert_eq!(signin_from(&app, [203, 0, 113, 1]).await.status, StatusCode::TOO_MANY_REQUESTS);
    app.clock.advance(Duration::seconds(60));
    assert_eq!(signin_from(&app, [203, 0, 113, 1]).await.status, StatusCode::UNAUTHORIZED);
}

async fn per_email_and_per_ip_limits(app: App) {
    app.register("rosa@example.edu").await;
    for _ in 0..3 {
        let res = app.post("/api/auth/resend-verification", json!({"email": "Rosa@example.edu"}), None).await;
        assert_eq!(res.status, StatusCode::ACCEPTED);
    }
    let res = app.post("/api/auth/resend-verification", json!({"email": "rosa@example.edu"}), None).await;
    assert_eq!((res.status, res.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
    assert_eq!(app.mail.to("rosa@example.edu").len(), 4, "registration plus three resends");

    // Registration per IP: two went through (one above), the third is refused before any work.
    assert_eq!(app.register("sam@example.edu").await.status, StatusCode::ACCEPTED);
    let third = app.register("tia@example.edu").await;
    assert_eq!((third.status, third.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
    assert!(app.mail.to("tia@example.edu").is_empty());
}
