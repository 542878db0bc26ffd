//! Who is calling, for per-IP limits, session device labels and audit records: the address is
//! API Gateway's `requestContext.http.sourceIp` in Lambda (never a client-supplied
//! `X-Forwarded-For`), the TCP peer in the local server.

use crate::auth::Client;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::USER_AGENT;
use axum::http::request::Parts;
use lambda_http::request::RequestContext;
use std::convert::Infallible;
use std::net::SocketAddr;

/// Longest User-Agent kept (it is only a label).
const MAX_USER_AGENT_CHARS: usize = 256;

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let from_gateway = match parts.extensions.get::<RequestContext>() {
            Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.clone(),
            _ => None,
        };
        let from_peer = || parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
        // Without either (an in-process test), all requests share one bucket.
        let user_agent = parts
            .headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect());
        Ok(Client { ip: from_gateway.or_else(from_peer).unwrap_or_else(|| "unknown".into()), user_agent })
    }
}
