//! Lambda entrypoint: the `session` routes of the shared HTTP layer.

#[tokio::main]
async fn main() -> Result<(), carpool::lambda::LambdaError> {
    carpool::lambda::serve(carpool::http::Function::Session).await
}
