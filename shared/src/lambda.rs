//! Cold start of a Lambda function: configuration checked once, AWS clients built once per
//! container, then the function's router served by `lambda_http`.

use crate::clock::SystemClock;
use crate::config::LambdaConfig;
use crate::http::{router, AppState, Function};
use crate::mail::ses::SesMailer;
use crate::store::dynamo::DynamoStore;
use std::sync::Arc;

pub use lambda_http::Error as LambdaError;

pub async fn serve(function: Function) -> Result<(), LambdaError> {
    crate::telemetry::init();
    let config = match LambdaConfig::from_env() {
        Ok(config) => config,
        Err(e) => {
            // Fail the cold start with the variable's name rather than every request later.
            tracing::error!(function = function.name(), error = %e, "invalid configuration");
            return Err(e.into());
        }
    };
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let clock = Arc::new(SystemClock);
    let store = Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.table, clock.clone()));
    let mailer = Arc::new(SesMailer::new(
        aws_sdk_sesv2::Client::new(&sdk),
        config.mail_from,
        config.ses_configuration_set,
    ));
    let state = AppState::new(store, mailer, clock, config.auth)?;
    lambda_http::run(router(state, &[function])).await
}
