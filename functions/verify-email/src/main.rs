//! Lambda entrypoint: the `verify-email` routes of the shared HTTP layer.

#[tokio::main]
async fn main() -> Result<(), carpool::lambda::LambdaError> {
    carpool::lambda::serve(carpool::http::Function::VerifyEmail).await
}
