//! Lambda entrypoint: the `password` routes (forgot, reset, change, strength) of the shared HTTP layer.

#[tokio::main]
async fn main() -> Result<(), carpool::lambda::LambdaError> {
    carpool::lambda::serve(carpool::http::Function::Password).await
}
