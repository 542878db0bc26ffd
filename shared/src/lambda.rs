//! Cold start of a Lambda function: configuration checked once, AWS clients built once per
//! container, then the function's router (or the authorizer's handler) served.

use crate::clock::SystemClock;
use crate::config::LambdaConfig;
use crate::http::{edge, router, AppState, Function};
use crate::mail::ses::SesMailer;
use crate::store::dynamo::DynamoStore;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use lambda_http::{service_fn, LambdaEvent};
use std::sync::Arc;

pub use lambda_http::Error as LambdaError;

/// An HTTP function: its routes of the shared HTTP layer.
pub async fn serve(function: Function) -> Result<(), LambdaError> {
    let state = cold_start(function.name(), function.needs_totp_keys()).await?;
    lambda_http::run(router(state, &[function])).await
}

/// The HTTP API's Lambda authorizer (see `crate::http::edge`).
pub async fn serve_authorizer() -> Result<(), LambdaError> {
    let state = cold_start("authorizer", false).await?;
    let auth = state.auth;
    lambda_http::lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayV2CustomAuthorizerV2Request>| {
            let auth = auth.clone();
            async move {
                let started = std::time::Instant::now();
                let response = edge::authorize(&auth, &event.payload).await;
                tracing::info!(
                    request_id = %event.context.request_id,
                    route = event.payload.route_key.as_deref().unwrap_or(""),
                    authorized = response.as_ref().is_ok_and(|r| r.is_authorized),
                    latency_ms = started.elapsed().as_secs_f64() * 1000.0,
                    "authorizer"
                );
                response.map_err(|e| {
                    tracing::error!(error = ?e, "authorizer failed");
                    LambdaError::from(e.code())
                })
            }
        },
    ))
    .await
}

async fn cold_start(name: &'static str, needs_totp_keys: bool) -> Result<AppState, LambdaError> {
    crate::telemetry::init();
    let config = match LambdaConfig::from_env() {
        Ok(config) => config,
        Err(e) => {
            // Fail the cold start with the variable's name rather than every request later.
            tracing::error!(function = name, error = %e, "invalid configuration");
            return Err(e.into());
        }
    };
    if needs_totp_keys && config.auth.totp_keys.is_none() {
        tracing::error!(function = name, "TOTP_KEYS is required by this function");
        return Err("configuration variable TOTP_KEYS: is required by this function".into());
    }
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let clock = Arc::new(SystemClock);
    let store = Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.table, clock.clone()));
    let mailer = Arc::new(SesMailer::new(
        aws_sdk_sesv2::Client::new(&sdk),
        config.mail_from,
        config.ses_configuration_set,
    ));
    Ok(AppState::new(store, mailer, clock, config.auth)?)
}
