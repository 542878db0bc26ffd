//! API Gateway's management API for a WebSocket stage (`https://<api>.execute-api.<region>
//! .amazonaws.com/<stage>`): `PostToConnection` and `DeleteConnection`, which answer `410 Gone`
//! for a connection that closed.

use super::{PushError, Pusher};
use async_trait::async_trait;
use aws_sdk_apigatewaymanagement::error::SdkError;
use aws_sdk_apigatewaymanagement::operation::delete_connection::DeleteConnectionError;
use aws_sdk_apigatewaymanagement::operation::post_to_connection::PostToConnectionError;
use aws_sdk_apigatewaymanagement::primitives::Blob;
use aws_sdk_apigatewaymanagement::Client;

pub struct ApiGatewayPusher {
    client: Client,
}

impl ApiGatewayPusher {
    /// A client of the stage at `endpoint` (the `WEBSOCKET_ENDPOINT` setting).
    pub fn new(sdk: &aws_config::SdkConfig, endpoint: &str) -> Self {
        let config = aws_sdk_apigatewaymanagement::config::Builder::from(sdk).endpoint_url(endpoint).build();
        ApiGatewayPusher { client: Client::from_conf(config) }
    }

    pub fn from_client(client: Client) -> Self {
        ApiGatewayPusher { client }
    }
}

fn failed<E: std::error::Error + Send + Sync + 'static, R: std::fmt::Debug>(e: SdkError<E, R>) -> PushError {
    PushError::Failed(aws_sdk_apigatewaymanagement::error::DisplayErrorContext(e).to_string())
}

#[async_trait]
impl Pusher for ApiGatewayPusher {
    async fn send(&self, connection: &str, frame: &str) -> Result<(), PushError> {
        let sent =
            self.client.post_to_connection().connection_id(connection).data(Blob::new(frame)).send().await;
        match sent {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.as_service_error(), Some(PostToConnectionError::GoneException(_))) => {
                Err(PushError::Gone)
            }
            Err(e) => Err(failed(e)),
        }
    }

    async fn close(&self, connection: &str) -> Result<(), PushError> {
        match self.client.delete_connection().connection_id(connection).send().await {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.as_service_error(), Some(DeleteConnectionError::GoneException(_))) => Ok(()),
            Err(e) => Err(failed(e)),
        }
    }
}
