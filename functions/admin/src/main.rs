//! Lambda entrypoint: campus admins' routes (driver reviews, suspension, audit).

#[tokio::main]
async fn main() -> Result<(), carpool::lambda::LambdaError> {
    carpool::lambda::serve(carpool::http::Function::Admin).await
}
