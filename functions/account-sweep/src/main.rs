//! Lambda entrypoint: finishes account deletions that their request did not (every 5 minutes;
//! see `carpool::account`).

#[tokio::main]
async fn main() -> Result<(), carpool::lambda::LambdaError> {
    carpool::lambda::serve_account_sweep().await
}
