//! Lambda entrypoint: the chat routes over HTTP (conversations, history, sending, read markers).

#[tokio::main]
async fn main() -> Result<(), carpool::lambda::LambdaError> {
    carpool::lambda::serve(carpool::http::Function::ChatHttp).await
}
