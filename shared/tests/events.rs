//! Every sample event in `events/<function>/` of an HTTP function goes through that function's
//! router as Lambda would deliver it (API Gateway HTTP API payload 2.0, parsed by `lambda_http`).
//! The mailer's events (a stream batch, the redrive) are in `mailer_events.rs`.

mod support;

use axum::http::StatusCode;
use carpool::clock::ManualClock;
use carpool::config::AuthConfig;
use carpool::http::origin::OriginPolicy;
use carpool::http::{router, AppState, Function};
use carpool::lambda::handle_socket_event;
use carpool::mail::outbox::OutboxMailer;
use carpool::repo::campuses;
use lambda_http::aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use std::path::Path;
use std::sync::Arc;
use support::app::test_documents;
use tower::ServiceExt;

#[tokio::test]
async fn every_event_reaches_its_handler() {
    let events = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events");
    let clock = Arc::new(ManualClock::starting_now());
    let (store, dir) = support::embedded_store(clock.clone());
    let store = Arc::new(store);
    let demo = include_str!("../../infra/campuses.json");
    campuses::seed(store.as_ref(), &campuses::parse_list(demo).unwrap()).await.unwrap();
    let mailer =
        Arc::new(OutboxMailer::new(dir.path().join("outbox"), "no-reply@example.edu".into()).unwrap());
    let state = AppState::new(
        carpool::http::Ports {
            store,
            mailer,
            clock,
            documents: test_documents(),
            pusher: Arc::new(carpool::push::local::LocalPusher::default()),
        },
        AuthConfig::local("https://carpool.example.edu"),
    )
    .unwrap();

    let mut seen = 0;
    for function in Function::ALL {
        let app = router(state.clone(), &[function]);
        let dir = events.join(function.name());
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no events for {}", function.name());
        for file in files {
            let json = std::fs::read_to_string(&file).unwrap();
            let request = lambda_http::request::from_str(&json)
                .unwrap_or_else(|e| panic!("{} does not parse: {e}", file.display()));
            let response = app.clone().oneshot(request).await.unwrap();
            let status = response.status();
            assert!(
                status != StatusCode::NOT_FOUND
                    && status != StatusCode::METHOD_NOT_ALLOWED
                    && !status.is_server_error(),
                "{} answered {status}",
                file.display()
            );
            seen += 1;
        }
    }
    assert!(seen >= 6, "only {seen} events");
}

/// The WebSocket API's events (`events/chat-ws/`) through the `chat-ws` handler, as API
/// Gateway delivers them: none fails, and the sample's forged cookie is refused at `$connect`.
#[tokio::test]
async fn every_socket_event_reaches_its_handler() {
    let app = support::app::embedded().await;
    let origins = OriginPolicy::new(&["https://carpool.example.edu".to_owned()]);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/chat-ws");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert_eq!(files.len(), 6);
    for file in files {
        let event: ApiGatewayWebsocketProxyRequest =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap())
                .unwrap_or_else(|e| panic!("{} does not parse: {e}", file.display()));
        let route = event.request_context.route_key.clone().unwrap();
        let response = handle_socket_event(&app.chat, &origins, event).await;
        let expected = if route == "$connect" { 401 } else { 200 };
        assert_eq!(response.status_code, expected, "{}", file.display());
    }
}
