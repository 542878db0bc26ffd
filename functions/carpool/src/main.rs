//! Lambda entrypoint: the carpool routes (rides, the feed, join requests, the caller's rides,
//! blocks and reports).

#[tokio::main]
async fn main() -> Result<(), carpool::lambda::LambdaError> {
    carpool::lambda::serve(carpool::http::Function::Carpool).await
}
