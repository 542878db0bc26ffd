//! The OpenAPI document against what is deployed and served: every route of the template's
//! HTTP API is an operation and every operation a route of the template; each operation reaches
//! its handler in the router (not the 404 fallback or a 405); protected ones say so and refuse a
//! request without a session; every response names a schema or is bodiless.

mod support;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::Value;
use std::collections::BTreeSet;
use support::app::embedded;

/// `METHOD /path` of every route the template's functions attach to the HTTP API.
fn template_routes() -> BTreeSet<String> {
    let template = include_str!("../../template.yaml");
    let mut routes = BTreeSet::new();
    let mut method = None;
    for line in template.lines().map(str::trim) {
        if let Some(m) = line.strip_prefix("Method: ") {
            method = Some(m.to_owned());
        } else if let Some(path) = line.strip_prefix("Path: ") {
            if let Some(m) = method.take() {
                routes.insert(format!("{m} {path}"));
            }
        }
    }
    routes
}

fn document() -> Value {
    serde_json::to_value(carpool::http::openapi::document()).unwrap()
}

/// `(METHOD, path, operation)` of every operation.
fn operations(document: &Value) -> Vec<(String, String, Value)> {
    let mut all = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                all.push((method.to_uppercase(), path.clone(), operation.clone()));
            }
        }
    }
    all
}

#[test]
fn the_document_and_the_template_name_the_same_routes() {
    let document = document();
    assert_eq!(document["openapi"], "3.1.0");
    let documented: BTreeSet<String> =
        operations(&document).into_iter().map(|(method, path, _)| format!("{method} {path}")).collect();
    let deployed = template_routes();
    assert!(deployed.len() > 40, "the template parse found {} routes", deployed.len());
    let undocumented: Vec<_> = deployed.difference(&documented).collect();
    let undeployed: Vec<_> = documented.difference(&deployed).collect();
    assert!(undocumented.is_empty(), "routes without an operation: {undocumented:?}");
    assert!(undeployed.is_empty(), "operations no function serves: {undeployed:?}");
}

#[test]
fn every_operation_is_described_and_its_responses_have_schemas() {
    let document = document();
    let schemas = document["components"]["schemas"].as_object().unwrap();
    let mut ids = BTreeSet::new();
    for (method, path, operation) in operations(&document) {
        let name = format!("{method} {path}");
        assert!(operation["summary"].as_str().is_some_and(|s| !s.is_empty()), "{name}: no summary");
        assert!(operation["tags"].as_array().is_some_and(|t| !t.is_empty()), "{name}: no tag");
        let id = operation["operationId"].as_str().unwrap_or_default().to_owned();
        assert!(ids.insert(id.clone()), "{name}: operationId {id:?} is not distinct");
        let responses = operation["responses"].as_object().unwrap();
        assert!(responses.keys().any(|status| status.starts_with('2')), "{name}: no success answer");
        for status in ["429", "503"] {
            assert!(responses.contains_key(status), "{name}: no {status}");
        }
        for (status, response) in responses {
            let Some(content) = response.get("content") else {
                assert!(status == "204" || status == "202", "{name} {status}: no body described");
                continue;
            };
            let schema = &content["application/json"]["schema"];
            let reference = schema["$ref"].as_str().unwrap_or_else(|| panic!("{name} {status}: {schema}"));
            let target = reference.trim_start_matches("#/components/schemas/");
            assert!(schemas.contains_key(target), "{name} {status}: {reference} is not defined");
        }
    }
}

#[tokio::test]
async fn every_operation_reaches_its_handler_and_protected_ones_need_a_session() {
    let app = embedded().await;
    let public: BTreeSet<&str> = carpool::http::edge::PUBLIC_PATHS.into_iter().collect();
    for (method, path, operation) in operations(&document()) {
        let secured = operation["security"].as_array().is_some_and(|s| !s.is_empty());
        assert_eq!(
            secured,
            !public.contains(path.as_str()) || path == "/api/auth/session" || path == "/api/auth/signout",
            "{method} {path}: security does not match the edge's public paths"
        );
        let uri = path
            .replace("{id}", "01JD3C0000000000000000000A")
            .replace("{userId}", "01JD3C0000000000000000000B")
            .replace("{requestId}", "01JD3C0000000000000000000C");
        let request = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(&uri)
            .header("content-type", "application/json")
            .body(Body::from("{}"))
            .unwrap();
        let reply = app.request_only(request).await;
        assert_ne!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_ne!(reply.status, StatusCode::NOT_FOUND, "{method} {path}: {}", reply.body);
        if secured {
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{method} {path}");
            assert_eq!(reply.code(), "unauthenticated");
        }
    }
}
