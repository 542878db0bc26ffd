//! The API Gateway pusher: `PostToConnection` and `DeleteConnection` against moto's management
//! endpoint, and with `aws-smithy-mocks` what moto never answers: `410 Gone` (the connection is
//! forgotten) and other failures (it is kept, and the send still succeeds).

mod support;

use aws_sdk_apigatewaymanagement::config::retry::RetryConfig;
use aws_sdk_apigatewaymanagement::operation::delete_connection::{
    DeleteConnectionError, DeleteConnectionOutput,
};
use aws_sdk_apigatewaymanagement::operation::post_to_connection::{
    PostToConnectionError, PostToConnectionOutput,
};
use aws_sdk_apigatewaymanagement::types::error::{GoneException, LimitExceededException};
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use carpool::push::apigw::ApiGatewayPusher;
use carpool::push::{PushError, Pusher};

#[tokio::test]
async fn posts_and_closes_on_motos_management_endpoint() {
    let pusher = ApiGatewayPusher::new(&support::aws_config().await, &support::moto_endpoint());
    let frame = r#"{"type":"message","message":{"body":"hi"}}"#;
    pusher.send("L0SM9cOFvHcCIhw=", frame).await.expect("posted");
    pusher.close("L0SM9cOFvHcCIhw=").await.expect("closed");
}

#[tokio::test]
async fn gone_is_told_apart_from_other_failures() {
    let gone = mock!(aws_sdk_apigatewaymanagement::Client::post_to_connection)
        .then_error(|| PostToConnectionError::GoneException(GoneException::builder().build()));
    let throttled = mock!(aws_sdk_apigatewaymanagement::Client::post_to_connection).then_error(|| {
        PostToConnectionError::LimitExceededException(LimitExceededException::builder().build())
    });
    let posted = mock!(aws_sdk_apigatewaymanagement::Client::post_to_connection)
        .then_output(|| PostToConnectionOutput::builder().build());
    let closed_already = mock!(aws_sdk_apigatewaymanagement::Client::delete_connection)
        .then_error(|| DeleteConnectionError::GoneException(GoneException::builder().build()));
    let closed = mock!(aws_sdk_apigatewaymanagement::Client::delete_connection)
        .then_output(|| DeleteConnectionOutput::builder().build());
    let no_retries =
        |c: aws_sdk_apigatewaymanagement::config::Builder| c.retry_config(RetryConfig::disabled());
    let client = mock_client!(
        aws_sdk_apigatewaymanagement,
        RuleMode::Sequential,
        [&gone, &throttled, &posted, &closed_already, &closed],
        no_retries
    );
    let pusher = ApiGatewayPusher::from_client(client);
    assert!(matches!(pusher.send("a", "{}").await, Err(PushError::Gone)));
    assert!(matches!(pusher.send("b", "{}").await, Err(PushError::Failed(_))));
    pusher.send("c", "{}").await.expect("posted");
    pusher.close("a").await.expect("a connection already gone counts as closed");
    pusher.close("c").await.expect("closed");
}
