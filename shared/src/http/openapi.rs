//! The OpenAPI 3.1 document of the HTTP API, generated from the code: each handler's
//! `#[utoipa::path]` (registered in the router by the same `routes!` call, so the two cannot
//! drift), the request and response types' schemas, and here what every operation shares: the
//! session cookie scheme and the error answers any of them may give. `carpool-local` serves it
//! at `/api/openapi.json`.

use super::Function;
use serde::Serialize;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, HttpMethod, OpenApi as Document, Ref, RefOr, Response, ResponseBuilder,
};
use utoipa::{Modify, OpenApi, ToSchema};

/// The name of the session cookie scheme protected operations name.
pub const SESSION: &str = "session";

/// The body of every error answer.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable (`invalid_request`, `unauthenticated`, `rate_limited`, ...).
    pub code: &'static str,
    /// For people; may change.
    pub message: String,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Campus Carpool API",
        description = include_str!("openapi_intro.md"),
    ),
    components(schemas(ErrorBody, ErrorDetail)),
    modifiers(&SessionScheme),
    tags(
        (name = "auth", description = "Accounts, sessions, passwords and two-factor"),
        (name = "driver", description = "The caller's driver state, license and availability"),
        (name = "admin", description = "Campus administrators: driver reviews, suspensions, reports, audit"),
        (name = "carpool", description = "The campus feed: rides, requests to join, blocks and reports"),
        (name = "chat", description = "Conversations and messages over HTTP (the WebSocket is described above)"),
    )
)]
struct Api;

struct SessionScheme;

impl Modify for SessionScheme {
    fn modify(&self, document: &mut Document) {
        let components = document.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            SESSION,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "__Host-session",
                "Set by `POST /api/auth/signin` (HttpOnly, Secure, SameSite=Lax).",
            ))),
        );
    }
}

/// `GET /api/openapi.json`: the document (built once), public.
pub fn router() -> axum::Router {
    static DOCUMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let json = DOCUMENT.get_or_init(|| document().to_json().expect("the document serializes"));
    let serve =
        move || async move { ([(axum::http::header::CONTENT_TYPE, "application/json")], json.as_str()) };
    super::with_outer_layers(axum::Router::new().route("/api/openapi.json", axum::routing::get(serve)))
}

/// The whole document: the routes of every function, with the answers every operation may
/// give added to each.
pub fn document() -> Document {
    let mut document = Api::openapi();
    for function in Function::ALL {
        document.merge(function.routes().into_openapi());
    }
    add_shared_errors(&mut document);
    document
}

/// Errors any operation of its kind may answer, whatever it does: limits and outages; for
/// those with input (a body, path or query parameters) malformed input; for protected ones a
/// missing session; for state-changing ones a cross-site request; for those with a body its size
/// and type; for those with path parameters an unknown id. Where the operation documents the
/// same status for its own reasons, the shared reason is added to its description.
fn add_shared_errors(document: &mut Document) {
    for (path, item) in document.paths.paths.iter_mut() {
        let operations = [
            (HttpMethod::Get, &mut item.get),
            (HttpMethod::Post, &mut item.post),
            (HttpMethod::Put, &mut item.put),
            (HttpMethod::Patch, &mut item.patch),
            (HttpMethod::Delete, &mut item.delete),
        ];
        for (method, operation) in operations {
            let Some(operation) = operation else { continue };
            let has_input = operation.request_body.is_some()
                || path.contains('{')
                || operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
            let mut shared = vec![
                ("429", "rate_limited: too many requests; see Retry-After"),
                ("503", "service_unavailable: a service it needs is busy or down; see Retry-After"),
            ];
            if has_input {
                shared.push(("400", "invalid_request: the input is malformed"));
            }
            if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
                shared.push(("401", "unauthenticated: no live session"));
            }
            if method != HttpMethod::Get {
                shared.push(("403", "csrf_rejected: a cross-site request from a browser"));
            }
            if operation.request_body.is_some() {
                shared.push(("413", "payload_too_large: the body is over 64 KiB"));
                shared.push(("415", "unsupported_media_type: the body is not application/json"));
            }
            if path.contains('{') {
                shared.push(("404", "not_found: no such thing, or not the caller's to see"));
            }
            for (status, reason) in shared {
                match operation.responses.responses.get_mut(status) {
                    Some(RefOr::T(response)) => {
                        response.description = format!("{}; {reason}", response.description)
                    }
                    Some(RefOr::Ref(_)) => {}
                    None => {
                        operation
                            .responses
                            .responses
                            .insert(status.to_owned(), error_response(status, reason));
                    }
                }
            }
        }
    }
}

fn error_response(status: &str, description: &str) -> RefOr<Response> {
    let body = ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build();
    let mut response = ResponseBuilder::new().description(description).content("application/json", body);
    if status == "429" || status == "503" {
        let seconds = ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)).build();
        let header = HeaderBuilder::new()
            .schema(Some(seconds))
            .description(Some("Seconds to wait before trying again"))
            .build();
        response = response.header("Retry-After", header);
    }
    RefOr::T(response.build())
}
