//! Lambda entrypoint: the `two-factor` routes (TOTP setup, confirm, disable) of the shared HTTP layer.

#[tokio::main]
async fn main() -> Result<(), carpool::lambda::LambdaError> {
    carpool::lambda::serve(carpool::http::Function::TwoFactor).await
}
