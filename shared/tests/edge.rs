//! The edge check on both stores: the Lambda authorizer (payload 2.0 fixture, simple responses,
//! the user id in its context) and the local server's guard, which make the same decision in
//! front of protected routes and leave public ones alone.

mod support;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use carpool::auth::{AuthService, EdgeIdentity};
use carpool::http::edge::{authorize, AuthorizerContext, AuthorizerResponse, PUBLIC_PATHS};
use carpool::mail::jobs::MailQueue;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use serde_json::json;
use support::app::*;
use time::Duration;

const FIXTURE: &str = include_str!("../../events/authorizer/revoke-session.json");

on_both_stores!(embedded, dynamo;
    authorizer_allows_live_sessions_only,
    local_guard_protects_the_same_routes,
    edge_cache_never_outlives_a_revocation_where_it_matters,
);

/// An authorizer over the app's store, as the authorizer function builds it (its own container,
/// so its own cache).
fn authorizer(app: &App) -> AuthService {
    let queue = MailQueue::new(None, app.clock.clone());
    AuthService::new(app.store.clone(), queue, app.clock.clone(), test_config()).unwrap()
}

/// The fixture event with `cookie` as its Cookie header (or no cookie at all).
fn event(cookie: Option<&str>) -> ApiGatewayV2CustomAuthorizerV2Request {
    let mut value: serde_json::Value = serde_json::from_str(FIXTURE).unwrap();
    match cookie {
        Some(c) => {
            value["identitySource"] = json!([c]);
            value["cookies"] = json!([c]);
        }
        None => {
            value.as_object_mut().unwrap().remove("identitySource");
            value["cookies"] = json!([]);
        }
    }
    serde_json::from_value(value).unwrap()
}

fn denied() -> AuthorizerResponse {
    AuthorizerResponse { is_authorized: false, context: AuthorizerContext::default() }
}

async fn authorizer_allows_live_sessions_only(app: App) {
    let edge = authorizer(&app);
    // The fixture's cookie is well formed but no session.
    let fixture: ApiGatewayV2CustomAuthorizerV2Request = serde_json::from_str(FIXTURE).unwrap();
    assert_eq!(authorize(&edge, &fixture).await.unwrap(), denied());
    assert_eq!(authorize(&edge, &event(None)).await.unwrap(), denied());
    assert_eq!(authorize(&edge, &event(Some("__Host-session=garbage"))).await.unwrap(), denied());
    assert_eq!(authorize(&edge, &event(Some("other=1"))).await.unwrap(), denied());

    let cookie = app.signed_in("edgar@example.edu", false).await;
    let session = app.get("/api/auth/session", Some(&cookie)).await.body;
    let with_others = format!("theme=dark; {cookie}; lang=en");
    let allowed = authorize(&edge, &event(Some(&with_others))).await.unwrap();
    assert!(allowed.is_authorized);
    assert_eq!(allowed.context.user_id.as_deref(), session["user"]["id"].as_str());
    assert_eq!(allowed.context.session_id.as_deref(), session["session"]["id"].as_str());
    let wire = serde_json::to_value(&allowed).unwrap();
    assert_eq!(wire["isAuthorized"], true, "API Gateway's simple response format: {wire}");
    assert!(wire["context"]["userId"].is_string());
    assert!(
        !wire.to_string().contains(cookie.trim_start_matches("__Host-session=")),
        "no token in the context"
    );

    // Signed out: denied (in a fresh container; see the cache case for a warm one).
    assert_eq!(app.post("/api/auth/signout", json!({}), Some(&cookie)).await.status, StatusCode::NO_CONTENT);
    assert_eq!(authorize(&authorizer(&app), &event(Some(&cookie))).await.unwrap(), denied());

    // Expired: a browser-session cookie idle for longer than its timeout.
    let idle = app.signed_in("edith@example.edu", false).await;
    app.clock.advance(Duration::hours(13));
    assert_eq!(authorize(&authorizer(&app), &event(Some(&idle))).await.unwrap(), denied());
}

async fn local_guard_protects_the_same_routes(app: App) {
    // Protected routes: no cookie or a dead one never reaches the handler.
    for (method, path) in [
        ("GET", "/api/auth/sessions"),
        ("DELETE", "/api/auth/sessions/01JD3Z8QK4S2Y7G6WQX5RAVB1C"),
        ("POST", "/api/auth/signout-all"),
        ("POST", "/api/auth/password/change"),
        ("POST", "/api/auth/2fa/totp/setup"),
        ("POST", "/api/auth/2fa/totp/confirm"),
        ("POST", "/api/auth/2fa/totp/disable"),
        ("POST", "/api/auth/2fa/recovery-codes"),
    ] {
        assert!(!PUBLIC_PATHS.contains(&path));
        for cookie in
            [None, Some("__Host-session=AZOhssPU5fYHGCk6S1xtfgVza09vWIUofHgKrwfluQcraWq0FEtQV9VmQskh4lTf")]
        {
            let mut req =
                Request::builder().method(method).uri(path).header(header::CONTENT_TYPE, "application/json");
            if let Some(c) = cookie {
                req = req.header(header::COOKIE, c);
            }
            // A body the handler would reject: the guard answers first.
            let reply = app.request(req.body(Body::from("not json")).unwrap()).await;
            assert_eq!(
                (reply.status, reply.code()),
                (StatusCode::UNAUTHORIZED, "unauthenticated"),
                "{method} {path}"
            );
        }
    }
    // Public routes are left to their handlers.
    let reply = app.post_raw("/api/auth/signin", "not json".into(), None).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.get("/api/auth/session", None).await.code(), "unauthenticated");
    let delete = Request::delete("/api/auth/session").body(Body::empty()).unwrap();
    assert_eq!(app.request(delete).await.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(app.get("/api/nowhere", None).await.status, StatusCode::NOT_FOUND);

    // A live session gets through to the handler.
    let cookie = app.signed_in("elsa@example.edu", false).await;
    assert_eq!(app.get("/api/auth/sessions", Some(&cookie)).await.status, StatusCode::OK);
}

async fn edge_cache_never_outlives_a_revocation_where_it_matters(app: App) {
    let edge = authorizer(&app);
    let cookie = app.signed_in("enzo@example.edu", false).await;
    let EdgeIdentity { user_id, .. } =
        edge.check_session(cookie.trim_start_matches("__Host-session=")).await.unwrap();
    assert_eq!(user_id.to_string(), app.get("/api/auth/session", Some(&cookie)).await.body["user"]["id"]);
    assert!(authorize(&edge, &event(Some(&cookie))).await.unwrap().is_authorized);

    // Signed out in another container: this warm authorizer may still say yes for a few
    // seconds (like API Gateway's own cache), but the function behind refuses at once.
    assert_eq!(app.post("/api/auth/signout", json!({}), Some(&cookie)).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/api/auth/sessions", Some(&cookie)).await.status, StatusCode::UNAUTHORIZED);
    let change = json!({"currentPassword": PASSWORD, "password": "a brand new passphrase 8"});
    assert_eq!(
        app.post("/api/auth/password/change", change, Some(&cookie)).await.status,
        StatusCode::UNAUTHORIZED
    );
    // A container without it cached refuses at once.
    assert_eq!(authorize(&authorizer(&app), &event(Some(&cookie))).await.unwrap(), denied());
}

/// The authorizer function gets no `KEY_RING` (template.yaml) and its cold start builds the same
/// state as the others: that state must build without one, and its decisions work.
#[tokio::test]
async fn the_authorizers_state_needs_no_key_ring() {
    let app = embedded().await;
    let cookie = app.signed_in("no-key-ring@example.edu", false).await;
    let mut config = test_config();
    config.key_ring = None;
    let state = carpool::http::AppState::new(
        carpool::http::Ports {
            store: app.store.clone(),
            mailer: app.mail.clone(),
            clock: app.clock.clone(),
            documents: test_documents(),
            pusher: std::sync::Arc::new(carpool::push::local::LocalPusher::default()),
        },
        config,
    )
    .expect("builds without KEY_RING");
    let token = cookie.trim_start_matches("__Host-session=");
    assert!(state.auth.check_session(token).await.is_ok());
}
