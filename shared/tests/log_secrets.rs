//! Passwords, tokens, session cookies, license numbers, chat messages and email addresses never
//! reach the logs: of HTTP requests (an account's export and deletion among them), nor of the
//! Lambda handlers of events (authorizer, WebSocket, sweep, mailer). The whole flow runs under the production JSON subscriber writing into a
//! buffer, which is then searched for every secret.

mod support;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use carpool::auth::hashing::Argon2Params;
use carpool::clock::{Clock, ManualClock};
use carpool::config::AuthConfig;
use carpool::documents::local::LocalDocuments;
use carpool::domain::totp::TotpKey;
use carpool::driver::Documents;
use carpool::http::cookies::find_session_cookie;
use carpool::http::{router, AppState, Function, Ports};
use carpool::mail::outbox::OutboxMailer;
use carpool::mail::{Mailer, Message};
use carpool::push::local::LocalPusher;
use carpool::repo::campuses;
use carpool::store::embedded::EmbeddedStore;
use lambda_http::LambdaEvent;
use serde_json::{json, Value};
use std::io::Write;
use std::sync::{Arc, Mutex};
use support::app::UPLOAD_BASE;
use support::driver::png_of;
use tower::ServiceExt;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buffer {
    type Writer = Buffer;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn no_secret_is_logged() {
    let logs = Buffer::default();
    tracing::subscriber::set_global_default(carpool::telemetry::subscriber(logs.clone())).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::starting_now());
    let store = Arc::new(EmbeddedStore::open(dir.path(), clock.clone()).unwrap());
    let demo = include_str!("../../infra/campuses.json");
    campuses::seed(store.as_ref(), &campuses::parse_list(demo).unwrap()).await.unwrap();
    let outbox = OutboxMailer::new(dir.path().join("outbox"), "no-reply@example.edu".into()).unwrap();
    let mailer = Arc::new(Tee(outbox, Mutex::default()));
    let mut config = AuthConfig::local("https://carpool.example.edu");
    config.argon2 = Argon2Params { memory_kib: 1024, iterations: 1, parallelism: 1 };
    let photos =
        LocalDocuments::new(dir.path(), UPLOAD_BASE, config.key_ring.clone().unwrap(), clock.clone());
    let documents = Documents { uploads: Arc::new(photos.clone()), ocr: Arc::new(photos.clone()) };
    let sockets = Arc::new(LocalPusher::default());
    let state = AppState::new(
        Ports { store, mailer: mailer.clone(), clock: clock.clone(), documents, pusher: sockets.clone() },
        config,
    )
    .unwrap();
    let dispatcher = state.mail.clone();
    let chat = state.chat.clone();
    let (auth, driver, origins) = (state.auth.clone(), state.driver.clone(), state.origins.clone());
    let app = router(state, &Function::ALL).merge(photos.router());

    let call = |method: &str, path: &str, body: Value, cookie: Option<String>| {
        let mut req =
            Request::builder().method(method).uri(path).header(header::CONTENT_TYPE, "application/json");
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        let app = app.clone();
        let req = req.body(Body::from(body.to_string())).unwrap();
        async move { app.oneshot(req).await.unwrap() }
    };
    let password = "zebra quartz lantern 4417";
    let wrong = "wrong-password-9981";
    let email = "logtest@example.edu";

    // License numbers: entered at registration and later, and read off a photo.
    let (first_number, second_number) = ("K9LX-77Q2-5501", "Z7WQ 8842 1906");
    let expires = (clock.now().date() + time::Duration::days(400)).to_string();
    let license = |number: &str| json!({"legalName": "Log Test", "number": number, "region": "NY", "expiresOn": expires});
    let reg = call(
        "POST",
        "/api/auth/register",
        json!({"email": email, "password": password, "name": "Log Test", "license": license(first_number)}),
        None,
    )
    .await;
    let body = body_json(reg).await;
    let first_token = body["devVerificationToken"].as_str().unwrap().to_owned();
    call("POST", "/api/auth/resend-verification", json!({"email": email}), None).await;
    // The mailer delivers the queued mail (and logs it) as it would right after.
    dispatcher.deliver_due().await.unwrap();
    let token = mailer.newest_link_token();
    call("POST", "/api/auth/verify-email", json!({"token": token}), None).await;
    call("POST", "/api/auth/signin", json!({"email": email, "password": wrong}), None).await;
    let signin = call("POST", "/api/auth/signin", json!({"email": email, "password": password}), None).await;
    assert_eq!(signin.status(), StatusCode::OK);
    let cookie = signin.headers()[header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_owned();
    let session_token = cookie.trim_start_matches("__Host-session=").to_owned();
    call("GET", "/api/auth/session", Value::Null, Some(cookie.clone())).await;
    call("PUT", "/api/auth/driver/license", license(second_number), Some(cookie.clone())).await;
    let photo = png_of(&[
        ("FIRST_NAME", "LOG".into(), 99.0),
        ("LAST_NAME", "TEST".into(), 99.0),
        ("DOCUMENT_NUMBER", second_number.into(), 99.0),
        ("EXPIRATION_DATE", expires.clone(), 99.0),
    ]);
    let grant = json!({"contentType": "image/png", "contentLength": photo.len()});
    let grant =
        body_json(call("POST", "/api/auth/driver/license/upload", grant, Some(cookie.clone())).await).await;
    let upload = Request::put(grant["uploadUrl"].as_str().unwrap().strip_prefix(UPLOAD_BASE).unwrap())
        .header(header::CONTENT_TYPE, "image/png")
        .header(header::CONTENT_LENGTH, photo.len())
        .body(Body::from(photo))
        .unwrap();
    assert_eq!(app.clone().oneshot(upload).await.unwrap().status(), StatusCode::OK);
    let scan = call(
        "POST",
        "/api/auth/driver/license/scan",
        json!({"objectKey": grant["objectKey"]}),
        Some(cookie.clone()),
    );
    assert_eq!(body_json(scan.await).await["verification"], "ocr_matched");

    // Chat message bodies stay out too: the log says who sent to which conversation.
    let depart = (clock.now() + time::Duration::days(2)).replace_nanosecond(0).unwrap();
    let depart = depart.format(&time::format_description::well_known::Rfc3339).unwrap();
    let ride = json!({"kind": "request", "origin": {"label": "Gate"}, "destination": {"label": "Station"}, "departAt": depart, "seats": 1});
    let ride = body_json(call("POST", "/api/carpool/rides", ride, Some(cookie.clone())).await).await;
    let conversation = ride["ride"]["conversationId"].as_str().unwrap().to_owned();
    let chat_body = "meet me by the purple mailbox 7731";
    let message = json!({"body": chat_body, "clientMessageId": "log-1"});
    let path = format!("/api/chat/conversations/{conversation}/messages");
    assert_eq!(call("POST", &path, message, Some(cookie.clone())).await.status(), StatusCode::CREATED);
    // Over the WebSocket too (the frame's log line names the action, not the body).
    let (connection, _frames) = sockets.open();
    chat.connect(&find_session_cookie([cookie.as_str()]).unwrap(), &connection).await.unwrap();
    let frame = json!({"action": "sendMessage", "conversationId": conversation, "body": chat_body, "clientMessageId": "log-2"});
    assert_eq!(chat.frame(&connection, &frame.to_string()).await, None);

    // Two-factor: the key, the codes and the recovery codes stay out too.
    let setup = body_json(
        call("POST", "/api/auth/2fa/totp/setup", json!({"password": password}), Some(cookie.clone())).await,
    )
    .await;
    let secret = setup["secret"].as_str().unwrap().to_owned();
    let key = TotpKey::from_base32(&secret).unwrap();
    let first = key.code_at(clock.epoch_seconds());
    let confirm =
        call("POST", "/api/auth/2fa/totp/confirm", json!({"code": first}), Some(cookie.clone())).await;
    let recovery: Vec<String> = body_json(confirm).await["recoveryCodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    clock.advance(time::Duration::seconds(30));
    let second = key.code_at(clock.epoch_seconds());
    for code in [second.as_str(), recovery[0].as_str(), "999999x"] {
        let body = json!({"email": email, "password": password, "totpCode": code});
        call("POST", "/api/auth/signin", body, None).await;
    }

    // The Lambda handlers of events: the authorizer allowing the session, a WebSocket handshake
    // and message, the sweep (reminding a license about to expire), the mailer's redrive.
    let third_number = "Q5RT-3390-7781";
    // Five days on in UTC is five or six on the campus's calendar: inside the week's reminder.
    let soon = (clock.now().date() + time::Duration::days(5)).to_string();
    let soon =
        json!({"legalName": "Soon Expiring", "number": third_number, "region": "NY", "expiresOn": soon});
    let body =
        json!({"email": "soon@example.edu", "password": password, "name": "Soon Expiring", "license": soon});
    let registered = body_json(call("POST", "/api/auth/register", body, None).await).await;
    let verify = json!({"token": registered["devVerificationToken"]});
    assert_eq!(call("POST", "/api/auth/verify-email", verify, None).await.status(), StatusCode::OK);
    let context = lambda_http::Context::default;
    let mut authorize = fixture("authorizer/revoke-session.json");
    authorize["identitySource"] = json!([cookie]);
    authorize["cookies"] = json!([cookie]);
    let authorize = LambdaEvent::new(serde_json::from_value(authorize).unwrap(), context());
    assert!(carpool::lambda::handle_authorizer_event(&auth, authorize).await.unwrap().is_authorized);
    let mut connect = fixture("chat-ws/connect.json");
    connect["headers"]["Cookie"] = json!(cookie);
    connect["multiValueHeaders"]["Cookie"] = json!([cookie]);
    let connect = serde_json::from_value(connect).unwrap();
    assert_eq!(carpool::lambda::handle_socket_event(&chat, &origins, connect).await.status_code, 200);
    let mut frame = fixture("chat-ws/send-message.json");
    let message = json!({"action": "sendMessage", "conversationId": conversation, "body": chat_body, "clientMessageId": "log-3"});
    frame["body"] = json!(message.to_string());
    let frame = serde_json::from_value(frame).unwrap();
    assert_eq!(carpool::lambda::handle_socket_event(&chat, &origins, frame).await.status_code, 200);
    let sweep = LambdaEvent::new(fixture("license-sweep/hourly.json"), context());
    assert_eq!(carpool::lambda::handle_sweep_event(&driver, sweep).await.unwrap()["alertsSent"], 1);

    // Their own data: an export, a deletion refused for a wrong password, then done.
    let soon_in =
        call("POST", "/api/auth/signin", json!({"email": "soon@example.edu", "password": password}), None)
            .await;
    let soon_cookie =
        soon_in.headers()[header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_owned();
    let export = call("GET", "/api/auth/account/export", Value::Null, Some(soon_cookie.clone())).await;
    assert_eq!(export.status(), StatusCode::OK);
    let refused =
        call("POST", "/api/auth/account/delete", json!({"password": wrong}), Some(soon_cookie.clone())).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let deleted =
        call("POST", "/api/auth/account/delete", json!({"password": password}), Some(soon_cookie)).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);

    call("POST", "/api/auth/signout", Value::Null, Some(cookie)).await;
    call("POST", "/api/auth/password/forgot", json!({"email": email}), None).await;
    let redrive = LambdaEvent::new(fixture("mailer/redrive.json"), context());
    carpool::lambda::handle_mail_event(&dispatcher, redrive).await.unwrap();
    let reset_token = mailer.newest_link_token();

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> =
        text.lines().map(|l| serde_json::from_str(l).expect("every line is JSON")).collect();
    let requests: Vec<&Value> = lines.iter().filter(|l| l["message"] == "request").collect();
    assert_eq!(requests.len(), 25, "one line per request");
    assert!(requests.iter().all(|l| l["span"]["request_id"].as_str().is_some_and(|id| id.len() == 26)));
    for secret in [password, wrong, &first_token, &token, &reset_token, &session_token, &secret] {
        assert!(!text.contains(secret), "a secret reached the logs");
    }
    for number in [first_number, second_number, third_number] {
        for form in [
            number.to_owned(),
            number.replace(['-', ' '], ""),
            number.replace(['-', ' '], "")[..8].to_owned(),
        ] {
            assert!(!text.contains(&form), "a license number reached the logs");
        }
    }
    for code in recovery.iter().chain([&first, &second]) {
        assert!(!text.contains(&format!("\"{code}\"")), "a two-factor code reached the logs");
        assert!(!text.contains(&code.replace('-', "")), "a recovery code reached the logs");
    }
    assert!(!text.contains("purple mailbox"), "a chat message reached the logs");
    assert!(lines.iter().any(|l| l["message"] == "message sent"
        && l["conversation_id"] == conversation.as_str()
        && l["connections"] == 1));
    assert!(lines.iter().filter(|l| l["message"] == "frame" && l["action"] == "sendMessage").count() == 2);
    for summary in [
        "authorizer",
        "license sweep run",
        "mail redrive",
        "account closed",
        "account erased; a last run follows",
    ] {
        assert!(lines.iter().any(|l| l["message"] == summary), "{summary} logged");
    }
    // The outbox did log its one line per message, without the token, the address masked.
    assert!(lines.iter().filter(|l| l["subject"].is_string()).count() >= 2);
    assert!(lines.iter().any(|l| l["to"] == "l***@example.edu"));
    for address in [email, "soon@example.edu"] {
        assert!(!text.contains(address), "an email address reached the logs");
    }
    // One line per request, naming the function and, once signed in, the user by id.
    let requests: Vec<&Value> = lines.iter().filter(|l| l["message"] == "request").collect();
    assert!(requests
        .iter()
        .all(|l| l["span"]["function"].is_string() && l["span"]["request_id"].is_string()));
    let sent = requests.iter().find(|l| l["route"] == "/api/chat/conversations/{id}/messages").unwrap();
    assert_eq!(sent["span"]["user_id"].as_str().unwrap().len(), 26, "{sent}");
}

/// The outbox mailer (whose log lines are under test), keeping a copy of each message.
struct Tee(OutboxMailer, Mutex<Vec<Message>>);

#[async_trait::async_trait]
impl Mailer for Tee {
    async fn send(&self, message: &Message) -> Result<(), carpool::mail::MailError> {
        self.1.lock().unwrap().push(message.clone());
        self.0.send(message).await
    }
}

impl Tee {
    /// The token of the link in the newest message.
    fn newest_link_token(&self) -> String {
        let sent = self.1.lock().unwrap();
        let text = &sent.last().expect("a message").text;
        text.split("token=").nth(1).unwrap().split_whitespace().next().unwrap().to_owned()
    }
}

/// A sample event of `events/`, to adjust.
fn fixture(path: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events").join(path);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn body_json(response: axum::response::Response) -> Value {
    serde_json::from_slice(&axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap()).unwrap()
}
