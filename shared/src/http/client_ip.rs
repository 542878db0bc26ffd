//! The client's address for per-IP limits: API Gateway's `requestContext.http.sourceIp` in
//! Lambda (never a client-supplied `X-Forwarded-For`), the TCP peer in the local server.

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use lambda_http::request::RequestContext;
use std::convert::Infallible;
use std::net::SocketAddr;

pub struct ClientIp(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let from_gateway = match parts.extensions.get::<RequestContext>() {
            Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.clone(),
            _ => None,
        };
        let from_peer = || parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
        // Without either (an in-process test), all requests share one bucket.
        Ok(ClientIp(from_gateway.or_else(from_peer).unwrap_or_else(|| "unknown".into())))
    }
}
