//! Delivering frames to open WebSocket connections: API Gateway's management API in AWS
//! (`apigw`), the local server's sockets in carpool-local (`local`).
//!
//! Which connections belong to whom is the store's (`crate::repo::connections`); a pusher only
//! knows connection ids.

pub mod apigw;
pub mod local;

use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The connection is closed for good (API Gateway's `410 Gone`): it can be forgotten.
    #[error("connection gone")]
    Gone,
    /// Anything else (throttling, a network error, a client reading too slowly): this frame is
    /// lost to that connection, which catches up from the stored history.
    #[error("push failed: {0}")]
    Failed(String),
}

#[async_trait]
pub trait Pusher: Send + Sync + 'static {
    /// Sends one text frame to a connection.
    async fn send(&self, connection: &str, frame: &str) -> Result<(), PushError>;
    /// Closes a connection from the server's side (a revoked session's); one already gone is
    /// closed too.
    async fn close(&self, connection: &str) -> Result<(), PushError>;
}
