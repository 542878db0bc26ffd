//! Lambda entrypoint: the `register` routes of the shared HTTP layer.

#[tokio::main]
async fn main() -> Result<(), carpool::lambda::LambdaError> {
    carpool::lambda::serve(carpool::http::Function::Register).await
}
