//! Lambda entrypoint: the caller's own data (export, account deletion).

#[tokio::main]
async fn main() -> Result<(), carpool::lambda::LambdaError> {
    carpool::lambda::serve(carpool::http::Function::Account).await
}
