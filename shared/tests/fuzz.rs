//! Property tests over everything that parses outside input: request bodies of every operation
//! (arbitrary bytes, text, and JSON built from the API's own field names, signed in), list
//! cursors, Cookie headers, WebSocket frames and AnalyzeID responses. Whatever comes in, the
//! server answers: never a panic, never a 5xx, and every refusal is a 4xx with an error code.

mod support;

use axum::body::Body;
use axum::http::{header, Method, Request};
use carpool::domain::analyze_id::{read_license, AnalyzeIdResponse};
use carpool::http::cookies::find_session_cookie;
use carpool::push::local::Outgoing;
use carpool::rate_limit::RateLimits;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::sync::{Mutex, OnceLock};
use support::app::{embedded_with, App, Reply};
use tokio::sync::mpsc::Receiver;

/// A signed-in user with a direct conversation and an open WebSocket connection, over an app
/// whose rate limits are lifted (else the cases would soon be 429s).
struct Fixture {
    app: App,
    cookie: String,
    conversation: String,
    connection: String,
    _frames: Mutex<Receiver<Outgoing>>,
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
    })
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        runtime().block_on(async {
            let app = embedded_with(|config| config.rate_limits = RateLimits::lifted()).await;
            let cookie = app.signed_in("fuzz@example.edu", false).await;
            let other = app.signed_in("other@example.edu", false).await;
            let other = app.get("/api/auth/session", Some(&other)).await;
            let body = json!({"userId": other.body["user"]["id"]});
            let direct = app.post("/api/chat/conversations", body, Some(&cookie)).await;
            let conversation = direct.body["conversation"]["id"].as_str().unwrap().to_owned();
            let (connection, frames) = app.sockets.open();
            app.chat.connect(&find_session_cookie([cookie.as_str()]).unwrap(), &connection).await.unwrap();
            Fixture { app, cookie, conversation, connection, _frames: Mutex::new(frames) }
        })
    })
}

/// The document, for the operations and their body schemas.
fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| serde_json::to_value(carpool::http::openapi::document()).unwrap())
}

/// An operation with a request body: method, path, body schema, and the statuses it documents.
struct Operation {
    method: String,
    path: String,
    body: Value,
    statuses: Vec<String>,
}

/// Every operation with a request body, but signing out everywhere (which ends the session the
/// other cases use).
fn operations_with_bodies() -> &'static [Operation] {
    static OPERATIONS: OnceLock<Vec<Operation>> = OnceLock::new();
    OPERATIONS.get_or_init(|| {
        let mut all = Vec::new();
        for (path, item) in document()["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let body = &operation["requestBody"]["content"]["application/json"]["schema"];
                if !body.is_null() && operation["operationId"] != "sign_out_everywhere" {
                    all.push(Operation {
                        method: method.to_uppercase(),
                        path: path.clone(),
                        body: body.clone(),
                        statuses: operation["responses"].as_object().unwrap().keys().cloned().collect(),
                    });
                }
            }
        }
        all
    })
}

/// Values of the schema's shape (every required property present, each of its type, the
/// optional ones sometimes) holding arbitrary content: past the parser, into the rules.
fn shaped(schema: &Value, depth: u32) -> BoxedStrategy<Value> {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        return shaped(&document()["components"]["schemas"][name], depth);
    }
    if let Some(options) = schema["oneOf"].as_array().or(schema["anyOf"].as_array()) {
        let options: Vec<_> = options.iter().map(|o| shaped(o, depth)).collect();
        return proptest::strategy::Union::new(options).boxed();
    }
    let kind = match &schema["type"] {
        Value::Array(kinds) => kinds.iter().find(|k| *k != "null").and_then(Value::as_str).unwrap_or("null"),
        kind => kind.as_str().unwrap_or(""),
    };
    match kind {
        "object" if depth < 4 => {
            let required: Vec<&str> =
                schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            let fields: Vec<_> = schema["properties"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(name, property)| {
                    let value = shaped(property, depth + 1);
                    let kept = if required.contains(&name.as_str()) {
                        Just(true).boxed()
                    } else {
                        any::<bool>().boxed()
                    };
                    (Just(name.clone()), value, kept)
                })
                .collect();
            fields
                .prop_map(|fields| {
                    Value::Object(
                        fields.into_iter().filter(|(_, _, kept)| *kept).map(|(k, v, _)| (k, v)).collect(),
                    )
                })
                .boxed()
        }
        "array" if depth < 4 => {
            prop::collection::vec(shaped(&schema["items"], depth + 1), 0..4).prop_map(Value::from).boxed()
        }
        "string" => prop_oneof![
            "\\PC{0,40}",
            "[a-z]{1,8}@example\\.edu",
            prop::sample::select(
                &[
                    "",
                    " ",
                    "offer",
                    "request",
                    "2030-01-01",
                    "2020-02-30",
                    "image/png",
                    "approve",
                    "reject",
                    "dismissed",
                    "NY",
                    "01JD3C0000000000000000000A"
                ][..]
            )
            .prop_map(str::to_owned),
        ]
        .prop_map(Value::from)
        .boxed(),
        "integer" => prop_oneof![-2i64..100, any::<i64>()].prop_map(Value::from).boxed(),
        "number" => prop_oneof![-200.0..200.0f64, any::<f64>().prop_filter("finite", |f| f.is_finite())]
            .prop_map(Value::from)
            .boxed(),
        "boolean" => any::<bool>().prop_map(Value::from).boxed(),
        _ => json_value().boxed(),
    }
}

/// The request's answer, which must be one a client can handle.
fn send(method: &str, uri: &str, content_type: &str, body: Vec<u8>, cookie: &str) -> Reply {
    let fixture = fixture();
    let request = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).unwrap())
        .uri(uri)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::COOKIE, cookie)
        .body(Body::from(body))
        .unwrap();
    let reply = runtime().block_on(fixture.app.request_only(request));
    assert!(reply.status.as_u16() < 500, "{method} {uri}: {} {}", reply.status, reply.body);
    if reply.status.as_u16() >= 400 {
        assert!(reply.body["error"]["code"].is_string(), "{method} {uri}: {} {}", reply.status, reply.body);
    }
    reply
}

/// Field names the API and AnalyzeID use, so that generated objects reach past "missing field".
const FIELDS: &[&str] = &[
    "email",
    "password",
    "name",
    "token",
    "license",
    "legalName",
    "number",
    "region",
    "expiresOn",
    "rememberMe",
    "totpCode",
    "captchaToken",
    "kind",
    "origin",
    "destination",
    "label",
    "lat",
    "lng",
    "departAt",
    "seats",
    "notes",
    "message",
    "body",
    "clientMessageId",
    "messageId",
    "userId",
    "rideId",
    "reason",
    "status",
    "note",
    "decision",
    "available",
    "contentType",
    "contentLength",
    "objectKey",
    "code",
    "currentPassword",
    "action",
    "conversationId",
    "IdentityDocuments",
    "IdentityDocumentFields",
    "Type",
    "Text",
    "ValueDetection",
    "Confidence",
    "NormalizedValue",
    "Value",
    "ValueType",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("JSON has no NaN", |f| f.is_finite()).prop_map(Value::from),
        "\\PC{0,24}".prop_map(Value::from),
        prop::sample::select(
            &["offer", "request", "2030-01-01", "image/png", "approve", "ping", "sendMessage"][..]
        )
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        let key = prop_oneof![prop::sample::select(FIELDS).prop_map(str::to_owned), "[a-zA-Z]{1,10}"];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(key, inner, 0..7)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// A body for the operation: mostly of its schema's shape, else any JSON, text or bytes.
fn body(schema: &Value) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => shaped(schema, 0).prop_map(|v| v.to_string().into_bytes()),
        2 => json_value().prop_map(|v| v.to_string().into_bytes()),
        1 => any::<String>().prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 0..256),
    ]
}

fn uri(path: &str) -> String {
    let fixture = fixture();
    let id = if path.starts_with("/api/chat/") {
        fixture.conversation.as_str()
    } else {
        "01JD3C0000000000000000000A"
    };
    path.replace("{id}", id)
        .replace("{userId}", "01JD3C0000000000000000000B")
        .replace("{requestId}", "01JD3C0000000000000000000C")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_body_to_any_operation_gets_a_documented_answer(
        (operation, body) in (0..operations_with_bodies().len())
            .prop_flat_map(|i| (Just(i), body(&operations_with_bodies()[i].body))),
        json in prop::bool::weighted(0.95),
    ) {
        let operation = &operations_with_bodies()[operation];
        let content_type = if json { "application/json" } else { "text/plain" };
        let reply = send(&operation.method, &uri(&operation.path), content_type, body, &fixture().cookie);
        let status = reply.status.as_str().to_owned();
        prop_assert!(operation.statuses.contains(&status),
            "{} {}: {status} is not documented ({})", operation.method, operation.path, reply.body);
    }

    #[test]
    fn any_cursor_is_a_page_or_a_400(cursor in "[A-Za-z0-9_~.-]{0,300}", list in 0..3usize) {
        let conversation = &fixture().conversation;
        let uri = match list {
            0 => format!("/api/carpool/rides?cursor={cursor}"),
            1 => format!("/api/chat/conversations?cursor={cursor}"),
            _ => format!("/api/chat/conversations/{conversation}/messages?before={cursor}"),
        };
        let reply = send("GET", &uri, "application/json", Vec::new(), &fixture().cookie);
        prop_assert!(reply.status == 200 || reply.code() == "invalid_cursor", "{uri}: {} {}", reply.status, reply.body);
    }

    #[test]
    fn any_cookie_header_without_a_live_session_is_a_401(cookie in "[ -~]{0,300}") {
        prop_assume!(find_session_cookie([cookie.as_str()]) != find_session_cookie([fixture().cookie.as_str()]));
        let reply = send("GET", "/api/auth/session", "application/json", Vec::new(), &cookie);
        prop_assert_eq!(reply.status.as_u16(), 401);
        prop_assert_eq!(reply.code(), "unauthenticated");
    }

    #[test]
    fn any_frame_gets_an_error_frame_or_is_taken(frame in prop_oneof![
        json_value().prop_map(|v| v.to_string()),
        any::<String>(),
    ]) {
        let fixture = fixture();
        let answer = runtime().block_on(fixture.app.chat.frame(&fixture.connection, &frame));
        if let Some(answer) = answer {
            let answer: Value = serde_json::from_str(&answer).unwrap();
            prop_assert!(answer["type"] == "error" || answer["type"] == "pong", "{answer}");
            if answer["type"] == "error" {
                prop_assert!(answer["code"].is_string() && answer["code"] != "unauthenticated", "{answer}");
            }
        }
    }

    #[test]
    fn any_analyze_id_response_reads_without_panicking(response in json_value()) {
        if let Ok(response) = serde_json::from_value::<AnalyzeIdResponse>(response) {
            read_license(&response);
        }
    }
}
