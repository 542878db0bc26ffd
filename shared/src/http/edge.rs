//! The edge check in front of protected routes: only requests carrying a live session get
//! through. In AWS it is the HTTP API's Lambda authorizer (`functions/authorizer`: payload 2.0,
//! simple responses, the Cookie header as identity source, results cached briefly by API
//! Gateway); locally the same check runs as middleware. Either way the handler behind it checks
//! the session in the store again, so a revoked session is refused at once by every
//! state-changing endpoint even while an edge decision is cached.

use super::cookies::find_session_cookie;
use crate::auth::{AuthService, EdgeIdentity};
use crate::error::AppError;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::COOKIE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use serde::Serialize;
use std::sync::Arc;

/// Paths anyone may call (`Authorizer: NONE` in template.yaml; infra/check_workspace.py keeps the
/// two in step). `/session` and `/signout` are public at the edge because API.md fixes their
/// `401 unauthenticated` body, which an authorizer's deny (API Gateway's own body) would replace;
/// their handlers check the session themselves.
pub const PUBLIC_PATHS: [&str; 9] = [
    "/api/auth/register",
    "/api/auth/verify-email",
    "/api/auth/resend-verification",
    "/api/auth/signin",
    "/api/auth/session",
    "/api/auth/signout",
    "/api/auth/password/forgot",
    "/api/auth/password/reset",
    "/api/auth/password/strength",
];

/// Local server: the authorizer's decision as middleware, answering in the API's error shape.
/// Unmatched paths fall through to the 404 handler.
pub async fn guard(State(auth): State<Arc<AuthService>>, request: Request, next: Next) -> Response {
    let protected =
        request.extensions().get::<MatchedPath>().is_some_and(|m| !PUBLIC_PATHS.contains(&m.as_str()));
    if !protected {
        return next.run(request).await;
    }
    let cookie =
        find_session_cookie(request.headers().get_all(COOKIE).iter().filter_map(|h| h.to_str().ok()));
    let Some(cookie) = cookie else { return AppError::Unauthenticated.into_response() };
    match auth.check_session(&cookie).await {
        Ok(_) => next.run(request).await,
        Err(e) => e.into_response(),
    }
}

/// The authorizer's answer in API Gateway's simple response format.
#[derive(Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizerResponse {
    pub is_authorized: bool,
    /// Reaches the function as `requestContext.authorizer.lambda`; empty when denied.
    pub context: AuthorizerContext,
}

#[derive(Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizerContext {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

/// Lambda authorizer: allows a request whose cookie is a live session. A store failure is an
/// error (API Gateway answers 500), never an allow.
pub async fn authorize(
    auth: &AuthService,
    event: &ApiGatewayV2CustomAuthorizerV2Request,
) -> Result<AuthorizerResponse, AppError> {
    // The identity source is the Cookie header; payload 2.0 also lists cookies one by one.
    let sources = event.identity_source.iter().flatten().chain(&event.cookies).map(String::as_str);
    let denied = AuthorizerResponse { is_authorized: false, context: AuthorizerContext::default() };
    let Some(cookie) = find_session_cookie(sources) else { return Ok(denied) };
    match auth.check_session(&cookie).await {
        Ok(EdgeIdentity { user_id, session_id }) => Ok(AuthorizerResponse {
            is_authorized: true,
            context: AuthorizerContext {
                user_id: Some(user_id.to_string()),
                session_id: Some(session_id.to_string()),
            },
        }),
        Err(AppError::Unauthenticated) => Ok(denied),
        Err(e) => Err(e),
    }
}
