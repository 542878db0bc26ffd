//! Lambda entrypoint: the driver routes (state, license, photo upload and scan, enable, toggle).

#[tokio::main]
async fn main() -> Result<(), carpool::lambda::LambdaError> {
    carpool::lambda::serve(carpool::http::Function::Driver).await
}
