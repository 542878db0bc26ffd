//! The test app: the real router over a real store, a recording mailer and a manual clock,
//! driven with real cookie headers.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use carpool::account::AccountService;
use carpool::auth::hashing::Argon2Params;
use carpool::chat::ChatService;
use carpool::clock::{ManualClock, SystemClock};
use carpool::config::AuthConfig;
use carpool::documents::local::LocalDocuments;
use carpool::domain::campus::Campus;
use carpool::driver::{Documents, DriverService};
use carpool::http::{local_router, AppState, Ports};
use carpool::mail::jobs::MailDispatcher;
use carpool::mail::{Mailer, Message};
use carpool::push::local::LocalPusher;
use carpool::push::Pusher;
use carpool::repo::campuses;
use carpool::rides::RideService;
use carpool::seal::KeyRing;
use carpool::store::Store;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use tower::ServiceExt;

pub const PASSWORD: &str = "marble kiosk velvet tundra";

/// Keeps every message instead of sending it.
#[derive(Default)]
pub struct Recorder(pub Mutex<Vec<Message>>);

#[async_trait::async_trait]
impl Mailer for Recorder {
    async fn send(&self, message: &Message) -> Result<(), carpool::mail::MailError> {
        self.0.lock().unwrap().push(message.clone());
        Ok(())
    }
}

impl Recorder {
    pub fn to(&self, to: &str) -> Vec<Message> {
        self.0.lock().unwrap().iter().filter(|m| m.to == to).cloned().collect()
    }

    /// The tokens of the `<path>?token=` links mailed to `to`, oldest first.
    pub fn link_tokens(&self, to: &str, path: &str) -> Vec<String> {
        let marker = format!("{path}?token=");
        self.to(to)
            .iter()
            .filter_map(|m| m.text.split(&marker).nth(1))
            .map(|rest| rest.split_whitespace().next().unwrap().to_owned())
            .collect()
    }
}

pub struct App {
    pub router: Router,
    pub clock: Arc<ManualClock>,
    pub mail: Arc<Recorder>,
    /// Delivers queued mail into `mail`; `request` runs it after every request, as the mailer
    /// would run right after (tests of the queue itself call it, or not, themselves).
    pub dispatcher: Arc<MailDispatcher>,
    pub store: Arc<dyn Store>,
    pub driver: Arc<DriverService>,
    pub rides: Arc<RideService>,
    /// The chat use cases, for WebSocket frames (`connect`, `frame`).
    pub chat: Arc<ChatService>,
    /// People's own data (the operator's deletion, the erasure redrive).
    pub account: Arc<AccountService>,
    /// Where frames to connections land (tests open connections on it).
    pub sockets: Arc<LocalPusher>,
    pub keep: Option<tempfile::TempDir>,
    /// Where the app's local uploads land.
    pub uploads: tempfile::TempDir,
}

/// Where the test app's upload URLs point (its own router serves them).
pub const UPLOAD_BASE: &str = "http://carpool.test";

/// Local license-photo ports in a throwaway directory, for apps whose tests do not look at them.
pub fn test_documents() -> Documents {
    let dir = tempfile::tempdir().unwrap().keep();
    let documents =
        LocalDocuments::new(&dir, UPLOAD_BASE, test_config().key_ring.unwrap(), Arc::new(SystemClock));
    Documents { uploads: Arc::new(documents.clone()), ocr: Arc::new(documents) }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers.get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_owned()).collect()
    }

    /// The `name=value` part of the one session cookie set.
    pub fn session_cookie(&self) -> String {
        self.cookie("__Host-session")
    }

    /// The `name=value` part of the one cookie of that name set.
    pub fn cookie(&self, name: &str) -> String {
        let cookies: Vec<String> =
            self.set_cookies().into_iter().filter(|c| c.starts_with(&format!("{name}="))).collect();
        assert_eq!(cookies.len(), 1, "exactly one {name} cookie: {cookies:?}");
        cookies[0].split(';').next().unwrap().to_owned()
    }
}

pub fn demo_campus() -> Campus {
    Campus {
        id: "example".into(),
        name: "Example University".into(),
        domains: vec!["example.edu".into()],
        allow_subdomains: true,
        time_zone: "America/New_York".into(),
    }
}

/// A second campus, for isolation tests.
pub fn other_campus() -> Campus {
    Campus {
        id: "other".into(),
        name: "Other College".into(),
        domains: vec!["other.edu".into()],
        allow_subdomains: false,
        time_zone: "America/Chicago".into(),
    }
}

impl App {
    pub async fn new(store: Arc<dyn Store>, clock: Arc<ManualClock>, dev_mode: bool) -> App {
        Self::with(store, clock, |config| config.dev_mode = dev_mode).await
    }

    /// An app whose configuration the test adjusts.
    pub async fn with(
        store: Arc<dyn Store>,
        clock: Arc<ManualClock>,
        configure: impl FnOnce(&mut AuthConfig),
    ) -> App {
        Self::with_pusher(store, clock, configure, |sockets| sockets).await
    }

    /// An app whose frames go through `pusher`, given the local sockets it may pass them on to
    /// (tests of delivery failures wrap them).
    pub async fn with_pusher(
        store: Arc<dyn Store>,
        clock: Arc<ManualClock>,
        configure: impl FnOnce(&mut AuthConfig),
        pusher: impl FnOnce(Arc<LocalPusher>) -> Arc<dyn Pusher>,
    ) -> App {
        campuses::seed(store.as_ref(), &[demo_campus(), other_campus()]).await.unwrap();
        let mail = Arc::new(Recorder::default());
        let mut config = test_config();
        configure(&mut config);
        let uploads = tempfile::tempdir().unwrap();
        let keys = config.key_ring.clone().unwrap();
        let documents = LocalDocuments::new(uploads.path(), UPLOAD_BASE, keys, clock.clone());
        let sockets = Arc::new(LocalPusher::default());
        let ports = Ports {
            store: store.clone(),
            mailer: mail.clone(),
            clock: clock.clone(),
            documents: Documents { uploads: Arc::new(documents.clone()), ocr: Arc::new(documents.clone()) },
            pusher: pusher(sockets.clone()),
        };
        let state = AppState::new(ports, config).unwrap();
        App {
            dispatcher: state.mail.clone(),
            driver: state.driver.clone(),
            rides: state.rides.clone(),
            chat: state.chat.clone(),
            account: state.account.clone(),
            sockets,
            router: local_router(state).merge(documents.router()),
            clock,
            mail,
            store,
            keep: None,
            uploads,
        }
    }

    pub async fn request(&self, req: Request<Body>) -> Reply {
        let reply = self.request_only(req).await;
        self.dispatcher.deliver_due().await.expect("queued mail delivered");
        reply
    }

    /// A request without delivering the mail it queued.
    pub async fn request_only(&self, req: Request<Body>) -> Reply {
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
        let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap() };
        assert!(headers.contains_key("x-request-id"), "every response has a request id");
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "every response");
        Reply { status, headers, body }
    }

    pub async fn post(&self, path: &str, body: Value, cookie: Option<&str>) -> Reply {
        self.post_raw(path, body.to_string(), cookie).await
    }

    pub async fn post_raw(&self, path: &str, body: String, cookie: Option<&str>) -> Reply {
        let mut req = Request::post(path).header(header::CONTENT_TYPE, "application/json");
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        self.request(req.body(Body::from(body)).unwrap()).await
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> Reply {
        let mut req = Request::get(path);
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        self.request(req.body(Body::empty()).unwrap()).await
    }

    pub async fn register(&self, email: &str) -> Reply {
        self.post(
            "/api/auth/register",
            json!({"email": email, "password": PASSWORD, "name": "Alice Example"}),
            None,
        )
        .await
    }

    /// Registers, verifies and signs in; returns the `Cookie` header value.
    pub async fn signed_in(&self, email: &str, remember_me: bool) -> String {
        let reg = self.register(email).await;
        assert_eq!(reg.status, StatusCode::ACCEPTED);
        let token =
            reg.body["devVerificationToken"].as_str().unwrap_or_else(|| panic!("{}", reg.body)).to_owned();
        assert_eq!(
            self.post("/api/auth/verify-email", json!({"token": token}), None).await.status,
            StatusCode::OK
        );
        self.sign_in_with(email, remember_me).await
    }

    /// Signs an existing account in again (a new session); returns the `Cookie` header value.
    pub async fn sign_in(&self, email: &str) -> String {
        self.sign_in_with(email, false).await
    }

    async fn sign_in_with(&self, email: &str, remember_me: bool) -> String {
        let res = self
            .post(
                "/api/auth/signin",
                json!({"email": email, "password": PASSWORD, "rememberMe": remember_me}),
                None,
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        res.session_cookie()
    }
}

/// An app over a fresh embedded store, its configuration adjusted by the test.
pub async fn embedded_with(configure: impl FnOnce(&mut AuthConfig)) -> App {
    let clock = Arc::new(ManualClock::starting_now());
    let (store, dir) = super::embedded_store(clock.clone());
    let mut app = App::with(Arc::new(store), clock, configure).await;
    app.keep = Some(dir);
    app
}

/// An app over a fresh DynamoDB table on moto, its configuration adjusted by the test.
pub async fn dynamo_with(configure: impl FnOnce(&mut AuthConfig)) -> App {
    let clock = Arc::new(ManualClock::starting_now());
    let store = super::dynamo_store(clock.clone()).await;
    App::with(Arc::new(store), clock, configure).await
}

pub async fn embedded() -> App {
    embedded_with(|_| ()).await
}

pub async fn dynamo() -> App {
    dynamo_with(|_| ()).await
}

pub async fn dynamo_prod() -> App {
    dynamo_with(|config| config.dev_mode = false).await
}

pub async fn embedded_prod() -> App {
    embedded_with(|config| config.dev_mode = false).await
}

/// The test ports over a store and a mailer: local license photos, and sockets nobody opened.
pub fn test_ports(store: Arc<dyn Store>, mailer: Arc<dyn Mailer>, clock: Arc<ManualClock>) -> Ports {
    Ports { store, mailer, clock, documents: test_documents(), pusher: Arc::new(LocalPusher::default()) }
}

/// Defaults with cheap hashing: the suite stays fast; the real parameters have unit tests. One
/// fixed TOTP key ring, as every function of one deployment shares `KEY_RING`.
pub fn test_config() -> AuthConfig {
    let mut config = AuthConfig::local("https://carpool.example.edu");
    config.argon2 = Argon2Params { memory_kib: 1024, iterations: 1, parallelism: 1 };
    config.key_ring = Some(KeyRing::parse("test:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap());
    config
}

/// Runs each case once per store: `on_both_stores!(make_embedded, make_dynamo; case_a, case_b);`
/// where each case is `async fn case(app: App)`.
#[allow(unused_macros)]
macro_rules! on_both_stores {
    ($embedded:ident, $dynamo:ident; $($case:ident),* $(,)?) => {
        mod embedded_store { $( #[tokio::test] async fn $case() { super::$case(super::$embedded().await).await } )* }
        mod dynamodb { $( #[tokio::test] async fn $case() { super::$case(super::$dynamo().await).await } )* }
    };
}
#[allow(unused_imports)]
pub(crate) use on_both_stores;

impl App {
    /// Records an open WebSocket connection of the user under their first session and returns
    /// its id. Nobody holds the socket (it is in another container, or closed), so a push to it
    /// answers Gone and it is forgotten: what delivering to a connection costs, in full.
    pub async fn online(&self, email: &str) -> String {
        use carpool::clock::Clock;
        let user = self.user_id(email).await.parse().unwrap();
        let sessions = carpool::repo::sessions::list(self.store.as_ref(), user).await.unwrap();
        let record = carpool::repo::connections::ConnectionRecord {
            id: ulid::Ulid::new().to_string(),
            user_id: user,
            session: sessions[0].0.clone(),
            // Past its handshake: a Gone answer means it is gone.
            connected_at: self.clock.now() - time::Duration::minutes(1),
        };
        self.store.write(carpool::repo::connections::put(&record)).await.unwrap();
        record.id
    }

    /// Turns two-factor on through the whole local router; returns the key and recovery codes.
    pub async fn two_factor_on(&self, cookie: &str) -> (carpool::domain::totp::TotpKey, Vec<String>) {
        use carpool::clock::Clock;
        let setup =
            self.post("/api/auth/2fa/totp/setup", json!({ "password": PASSWORD }), Some(cookie)).await;
        let key =
            carpool::domain::totp::TotpKey::from_base32(setup.body["secret"].as_str().unwrap()).unwrap();
        let code = key.code_at(self.clock.epoch_seconds());
        let confirmed = self.post("/api/auth/2fa/totp/confirm", json!({ "code": code }), Some(cookie)).await;
        assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
        let codes = confirmed.body["recoveryCodes"].as_array().unwrap();
        (key, codes.iter().map(|c| c.as_str().unwrap().to_owned()).collect())
    }

    /// A code of the next step (the clock moved on to it: a step's code works once).
    pub fn next_code(&self, key: &carpool::domain::totp::TotpKey) -> String {
        use carpool::clock::Clock;
        self.clock.advance(time::Duration::seconds(30));
        key.code_at(self.clock.epoch_seconds())
    }
}
