//! Lambda entrypoint: the hourly license expiry sweep (see `carpool::driver::sweep`).

#[tokio::main]
async fn main() -> Result<(), carpool::lambda::LambdaError> {
    carpool::lambda::serve_sweep().await
}
