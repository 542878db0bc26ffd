//! Lambda entrypoint: the HTTP API's request authorizer, letting through only requests with a
//! live session cookie (see `carpool::http::edge`).

#[tokio::main]
async fn main() -> Result<(), carpool::lambda::LambdaError> {
    carpool::lambda::serve_authorizer().await
}
