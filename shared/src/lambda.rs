//! Cold start of a Lambda function: configuration checked once, AWS clients built once per
//! container, then the function's router (or the authorizer's handler) served.

use crate::account::AccountService;
use crate::auth::AuthService;
use crate::chat::ChatService;
use crate::clock::SystemClock;
use crate::config::LambdaConfig;
use crate::documents::s3::S3Uploads;
use crate::documents::textract::TextractOcr;
use crate::domain::secret::Secret;
use crate::driver::{Documents, DriverService};
use crate::http::cookies::find_session_cookie;
use crate::http::origin::OriginPolicy;
use crate::http::{client, edge, router, AppState, Function, Ports};
use crate::mail::jobs::MailDispatcher;
use crate::mail::ses::SesMailer;
use crate::metrics;
use crate::monitoring;
use crate::push::apigw::ApiGatewayPusher;
use crate::store::dynamo::DynamoStore;
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayProxyResponse, ApiGatewayV2CustomAuthorizerV2Request, ApiGatewayWebsocketProxyRequest,
};
use lambda_http::http::header::{COOKIE, ORIGIN};
use lambda_http::Body;
use lambda_http::{service_fn, LambdaEvent};
use std::sync::Arc;
use tracing::Instrument;

pub use lambda_http::Error as LambdaError;

/// An HTTP function: its routes of the shared HTTP layer.
pub async fn serve(function: Function) -> Result<(), LambdaError> {
    let (state, edge_secret) =
        cold_start(function.name(), function.needs_key_ring(), function.needs_license_bucket()).await?;
    // Error reports and metrics of an invocation leave before it ends (Lambda freezes the
    // process after).
    let flushing =
        axum::middleware::from_fn(|request: axum::extract::Request, next: axum::middleware::Next| async {
            let response = next.run(request).await;
            metrics::flush();
            monitoring::flush().await;
            response
        });
    let mut app = router(state, &[function]);
    if let Some(secret) = edge_secret {
        app = app.layer(axum::middleware::from_fn_with_state(
            Arc::<str>::from(secret.expose()),
            client::viewer_address,
        ));
    }
    lambda_http::run(app.layer(flushing)).await
}

/// The mailer: delivers the mail jobs the table's stream reports, and everything due when the
/// schedule's redrive event comes (see `handle_mail_event`).
pub async fn serve_mailer() -> Result<(), LambdaError> {
    let mail = cold_start("mailer", true, false).await?.0.mail;
    lambda_http::lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let (mail, id, span) =
            (mail.clone(), event.context.request_id.clone(), event_span(&event.context.request_id));
        async move { invocation(&id, "mail", None, handle_mail_event(&mail, event).instrument(span)).await }
    }))
    .await
}

/// One invocation of the mailer. A DynamoDB stream batch (`Records`, each an inserted job whose
/// `Keys.pk.S` is `MAIL#<id>`) delivers those jobs and answers
/// `{"batchItemFailures":[{"itemIdentifier": <SequenceNumber>}]}` for the records to retry; any
/// other event (the schedule's redrive) delivers everything due and answers `{}`.
/// A failed send is rescheduled in the table, so only a store failure fails a record, and the
/// stream retries it; the redrive finds it either way. A record that names no job, or a job
/// already delivered, is skipped.
pub async fn handle_mail_event(
    mail: &MailDispatcher,
    event: LambdaEvent<serde_json::Value>,
) -> Result<serde_json::Value, LambdaError> {
    let started = std::time::Instant::now();
    let Some(records) = event.payload.get("Records").and_then(|r| r.as_array()) else {
        let summary = mail.deliver_due().await.map_err(|e| {
            tracing::error!(error = %e, "mail redrive failed");
            LambdaError::from("mail redrive failed")
        })?;
        tracing::info!(
            sent = summary.sent,
            nothing_to_send = summary.nothing_to_send,
            will_retry = summary.will_retry,
            gave_up = summary.gave_up,
            skipped = summary.skipped,
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            "mail redrive"
        );
        return Ok(serde_json::json!({}));
    };
    let mut failures = Vec::new();
    for record in records {
        let key = &record["dynamodb"]["Keys"]["pk"]["S"];
        let Some(id) = key.as_str().and_then(crate::repo::mail_jobs::job_id) else { continue };
        if let Err(e) = mail.deliver(id).await {
            tracing::error!(job = %id, error = %e, "mail job not delivered; the stream retries it");
            failures.push(serde_json::json!({ "itemIdentifier": record["dynamodb"]["SequenceNumber"] }));
        }
    }
    tracing::info!(
        records = records.len(),
        failed = failures.len(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        "mail stream batch"
    );
    Ok(serde_json::json!({ "batchItemFailures": failures }))
}

/// The license expiry sweep, invoked hourly by EventBridge Scheduler. A failed run returns an
/// error, so the scheduler's retry policy (and then its dead-letter queue) takes over; a run
/// that is retried or overlaps another sends nothing twice (see `crate::driver::sweep`).
pub async fn serve_sweep() -> Result<(), LambdaError> {
    let driver = cold_start("license-sweep", true, false).await?.0.driver;
    lambda_http::lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let (driver, id, span) = (driver.clone(), event.context.request_id.clone(), event_span(&event.context.request_id));
        async move { invocation(&id, "sweep", None, handle_sweep_event(&driver, event).instrument(span)).await }
    }))
    .await
}

/// One scheduled run of the sweep (the event's content does not matter). Answers what it did.
pub async fn handle_sweep_event(
    driver: &DriverService,
    _event: LambdaEvent<serde_json::Value>,
) -> Result<serde_json::Value, LambdaError> {
    // The run logs its own summary line.
    let summary = driver.sweep().await.map_err(|e| {
        tracing::error!(error = %e, "license sweep failed");
        LambdaError::from("license sweep failed")
    })?;
    Ok(serde_json::json!({
        "examined": summary.examined,
        "alertsSent": summary.alerts_sent,
        "expired": summary.expired,
        "failed": summary.failed,
    }))
}

/// The redrive of account deletions, invoked every 5 minutes by EventBridge Scheduler: finishes
/// the erasures whose request stopped half-way. A run with a failed erasure returns an error (the
/// scheduler's retries and dead-letter queue, and the function's error alarm, take over); the
/// jobs stay in the table either way.
pub async fn serve_account_sweep() -> Result<(), LambdaError> {
    let account = cold_start("account-sweep", true, true).await?.0.account;
    lambda_http::lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let (account, id, span) =
            (account.clone(), event.context.request_id.clone(), event_span(&event.context.request_id));
        async move {
            invocation(&id, "erasures", None, handle_erasure_event(&account, event).instrument(span)).await
        }
    }))
    .await
}

/// One scheduled run of the erasure redrive (the event's content does not matter). Answers what
/// it did.
pub async fn handle_erasure_event(
    account: &AccountService,
    _event: LambdaEvent<serde_json::Value>,
) -> Result<serde_json::Value, LambdaError> {
    let resumed = account.resume_erasures().await.map_err(|e| {
        e.report();
        LambdaError::from("account erasure redrive failed")
    })?;
    tracing::info!(finished = resumed.finished, failed = resumed.failed, "account erasures resumed");
    if resumed.failed > 0 {
        return Err(format!("{} account erasures failed; retried at the next run", resumed.failed).into());
    }
    Ok(serde_json::json!({ "finished": resumed.finished, "failed": resumed.failed }))
}

/// The WebSocket API's function (`chat-ws`): every route of it, `$connect`, `$disconnect`,
/// `sendMessage`, `markRead` and `$default`.
pub async fn serve_chat_socket() -> Result<(), LambdaError> {
    let (state, _) = cold_start("chat-ws", true, false).await?;
    let (chat, origins) = (state.chat, state.origins);
    lambda_http::lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| {
            let (chat, origins) = (chat.clone(), origins.clone());
            let span = event_span(&event.context.request_id);
            if let Some(id) = &event.payload.request_context.request_id {
                span.record("apigw_request_id", id.as_str());
            }
            async move {
                let context = &event.payload.request_context;
                let route = context.route_key.clone().unwrap_or_default();
                let apigw = context.request_id.clone();
                let handled = handle_socket_event(&chat, &origins, event.payload).instrument(span);
                let answer = invocation(&event.context.request_id, &route, apigw.as_deref(), handled).await;
                Ok::<_, LambdaError>(answer)
            }
        },
    ))
    .await
}

/// One WebSocket event. `$connect` answers `200` to accept the handshake, or the error's status
/// (`401` without a live session, `403` from a foreign origin) to refuse it; a frame's answer,
/// if any, is the body, which the route's response sends back to that connection.
pub async fn handle_socket_event(
    chat: &ChatService,
    origins: &OriginPolicy,
    event: ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    let context = &event.request_context;
    let connection = context.connection_id.as_deref().unwrap_or_default();
    let answer = match context.route_key.as_deref() {
        Some("$connect") => {
            let header = |name| event.headers.get_all(name).iter().filter_map(|v| v.to_str().ok());
            let connected = match origins.allows_socket(header(ORIGIN).next()) {
                Ok(()) => {
                    chat.connect(&find_session_cookie(header(COOKIE)).unwrap_or_default(), connection).await
                }
                Err(e) => Err(e),
            };
            connected.map(|()| None)
        }
        Some("$disconnect") => chat.disconnect(connection).await.map(|()| None),
        _ => Ok(chat.frame(connection, event.body.as_deref().unwrap_or_default()).await),
    };
    let (status_code, body) = match answer {
        Ok(body) => (200, body),
        Err(e) => {
            e.report();
            (i64::from(e.status()), None)
        }
    };
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = status_code;
    response.body = body.map(Body::Text);
    response
}

/// The HTTP API's Lambda authorizer (see `crate::http::edge`).
pub async fn serve_authorizer() -> Result<(), LambdaError> {
    let (state, _) = cold_start("authorizer", false, false).await?;
    let auth = state.auth;
    lambda_http::lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayV2CustomAuthorizerV2Request>| {
            let (auth, id, span) =
                (auth.clone(), event.context.request_id.clone(), event_span(&event.context.request_id));
            async move {
                let decided = handle_authorizer_event(&auth, event).instrument(span);
                invocation(&id, "authorizer", None, decided).await
            }
        },
    ))
    .await
}

/// One authorization: allowed with the session's user, denied, or (the store failing) an error,
/// which API Gateway answers `500`: it never allows what it could not check.
pub async fn handle_authorizer_event(
    auth: &AuthService,
    event: LambdaEvent<ApiGatewayV2CustomAuthorizerV2Request>,
) -> Result<edge::AuthorizerResponse, LambdaError> {
    let started = std::time::Instant::now();
    let response = edge::authorize(auth, &event.payload).await;
    tracing::info!(
        route = event.payload.route_key.as_deref().unwrap_or(""),
        authorized = response.as_ref().is_ok_and(|r| r.is_authorized),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        "authorizer"
    );
    response.map_err(|e| {
        e.report();
        LambdaError::from(e.code())
    })
}

/// Runs an invocation's work (its error reports tagged with it), counts its latency under
/// `route`, then writes its metrics and sends its error reports before it returns.
async fn invocation<T: Answer>(
    request_id: &str,
    route: &str,
    apigw_request_id: Option<&str>,
    work: impl std::future::Future<Output = T>,
) -> T {
    let started = std::time::Instant::now();
    let answer = monitoring::within(request_id, route, apigw_request_id, work).await;
    metrics::answered(route, answer.outcome(), started.elapsed());
    metrics::flush();
    monitoring::flush().await;
    answer
}

/// What an invocation's answer says of how it went, as a metric's `outcome`.
trait Answer {
    fn outcome(&self) -> &'static str;
}

impl<T, E> Answer for Result<T, E> {
    fn outcome(&self) -> &'static str {
        if self.is_ok() {
            "ok"
        } else {
            "error"
        }
    }
}

impl Answer for ApiGatewayProxyResponse {
    fn outcome(&self) -> &'static str {
        u16::try_from(self.status_code).map_or("5xx", metrics::status_class)
    }
}

/// The span of one invocation that is not an HTTP request (those get theirs from
/// `request_log`): every line logged while handling it names the function and the invocation.
fn event_span(request_id: &str) -> tracing::Span {
    tracing::info_span!(
        "event",
        request_id,
        function = crate::telemetry::function(),
        apigw_request_id = tracing::field::Empty,
        user_id = tracing::field::Empty,
    )
}

/// The function's state, and the edge secret that proves a request came through CloudFront.
async fn cold_start(
    name: &'static str,
    needs_key_ring: bool,
    needs_bucket: bool,
) -> Result<(AppState, Option<Secret>), LambdaError> {
    crate::telemetry::init(name);
    metrics::install(name);
    // Fail the cold start with the variable's name rather than every request later.
    let config = LambdaConfig::from_env()
        .map_err(|e| e.to_string())
        .and_then(|config| config.require(needs_key_ring, needs_bucket).map(|()| config));
    let config = config.map_err(|e| {
        tracing::error!(function = name, error = %e, "invalid configuration");
        LambdaError::from(e)
    })?;
    Ok(deployment_state(config).await?)
}

/// A deployment's use cases over its AWS services, as configured for the functions
/// (template.yaml); `carpool-admin` runs on it too.
pub async fn deployment_state(config: LambdaConfig) -> Result<(AppState, Option<Secret>), String> {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let clock = Arc::new(SystemClock);
    let store = Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.table, clock.clone()));
    let mailer = Arc::new(SesMailer::new(
        aws_sdk_sesv2::Client::new(&sdk),
        config.mail_from,
        config.ses_configuration_set,
    ));
    // Only the functions that touch license photos and exports need the bucket (`require`);
    // the clients cost nothing until used.
    let bucket = config.license_bucket.unwrap_or_default();
    let documents = Documents {
        uploads: Arc::new(S3Uploads::new(aws_sdk_s3::Client::new(&sdk), bucket.clone())),
        ocr: Arc::new(TextractOcr::new(aws_sdk_textract::Client::new(&sdk), bucket)),
    };
    let pusher = Arc::new(ApiGatewayPusher::new(&sdk, &config.websocket_endpoint));
    let state = AppState::new(Ports { store, mailer, clock, documents, pusher }, config.auth)?;
    Ok((state, config.edge_secret))
}
