//! Lambda entrypoint: delivers queued mail, on the table's stream and on a schedule (see
//! `carpool::mail::jobs`).

#[tokio::main]
async fn main() -> Result<(), carpool::lambda::LambdaError> {
    carpool::lambda::serve_mailer().await
}
