//! Lambda entrypoint: the WebSocket API's routes (`$connect`, `$disconnect`, `sendMessage`,
//! `markRead`, `$default`).

#[tokio::main]
async fn main() -> Result<(), carpool::lambda::LambdaError> {
    carpool::lambda::serve_chat_socket().await
}
