//! The HTTP layer every function shares: one axum `Router` per function (the same code runs in
//! Lambda through `lambda_http` and in the local server, which merges them all).

mod admin_routes;
mod auth_routes;
mod chat_routes;
pub mod client;
pub mod cookies;
mod driver_routes;
pub mod edge;
mod error;
pub mod json;
pub mod limits;
pub mod list;
pub mod origin;
mod password_routes;
pub mod request_log;
mod ride_routes;
mod two_factor_routes;

use crate::auth::AuthService;
use crate::captcha::SiteVerify;
use crate::chat::{ChatService, Delivery};
use crate::clock::Clock;
use crate::config::AuthConfig;
use crate::driver::{Documents, DriverService};
use crate::mail::jobs::{MailDispatcher, MailQueue};
use crate::mail::Mailer;
use crate::push::Pusher;
use crate::rides::RideService;
use crate::store::Store;
use axum::extract::DefaultBodyLimit;
use axum::http::header::{CACHE_CONTROL, X_CONTENT_TYPE_OPTIONS};
use axum::http::HeaderValue;
use axum::response::Response;
use axum::routing::{delete, get, post, put};
use axum::Router;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub auth: Arc<AuthService>,
    pub origins: Arc<origin::OriginPolicy>,
    pub driver: Arc<DriverService>,
    pub rides: Arc<RideService>,
    pub chat: Arc<ChatService>,
    /// Delivers the mail the use cases queue: the `mailer` function's work in AWS, a background
    /// task in the local server, an explicit call in tests.
    pub mail: Arc<MailDispatcher>,
}

/// The adapters the use cases run on: DynamoDB, SES, S3 with Textract and API Gateway's
/// management API in AWS; the embedded store, the outbox, local files and the local WebSocket
/// server in carpool-local; fakes in tests.
pub struct Ports {
    pub store: Arc<dyn Store>,
    pub mailer: Arc<dyn Mailer>,
    pub clock: Arc<dyn Clock>,
    pub documents: Documents,
    pub pusher: Arc<dyn Pusher>,
}

impl AppState {
    pub fn new(ports: Ports, config: AuthConfig) -> Result<Self, String> {
        let Ports { store, mailer, clock, documents, pusher } = ports;
        let origins = Arc::new(origin::OriginPolicy::new(&config.allowed_origins));
        let captcha = config.captcha.clone();
        let queue = MailQueue::new(config.key_ring.clone(), clock.clone());
        let limits = config.rate_limits.clone();
        let app_url = config.app_url.clone();
        let mut auth = AuthService::new(store.clone(), queue.clone(), clock.clone(), config)?
            .with_sockets(pusher.clone());
        if let Some(captcha) = captcha {
            auth = auth.with_captcha(Arc::new(SiteVerify::new(captcha)?));
        }
        let auth = Arc::new(auth);
        let delivery = Arc::new(Delivery::new(store.clone(), pusher, queue.clone(), clock.clone(), app_url));
        let rides = Arc::new(RideService::new(
            store.clone(),
            auth.clone(),
            queue.clone(),
            limits.clone(),
            delivery.clone(),
        ));
        let chat = Arc::new(ChatService::new(store.clone(), auth.clone(), limits.clone(), delivery));
        let driver = Arc::new(DriverService::new(
            store.clone(),
            auth.clone(),
            rides.clone(),
            queue.clone(),
            clock,
            documents,
            limits,
        )?);
        let mail = Arc::new(MailDispatcher::new(store, mailer, queue, auth.clone()));
        Ok(AppState { auth, origins, driver, rides, chat, mail })
    }
}

/// The Lambda functions; each serves a group of routes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Function {
    Register,
    VerifyEmail,
    Signin,
    Session,
    Password,
    TwoFactor,
    Driver,
    Admin,
    Carpool,
    ChatHttp,
}

impl Function {
    pub const ALL: [Function; 10] = [
        Function::Register,
        Function::VerifyEmail,
        Function::Signin,
        Function::Session,
        Function::Password,
        Function::TwoFactor,
        Function::Driver,
        Function::Admin,
        Function::Carpool,
        Function::ChatHttp,
    ];

    /// The function's binary (and `events/` directory) name.
    pub fn name(self) -> &'static str {
        match self {
            Function::Register => "register",
            Function::VerifyEmail => "verify-email",
            Function::Signin => "signin",
            Function::Session => "session",
            Function::Password => "password",
            Function::TwoFactor => "two-factor",
            Function::Driver => "driver",
            Function::Admin => "admin",
            Function::Carpool => "carpool",
            Function::ChatHttp => "chat-http",
        }
    }

    /// Every HTTP function queues mail (sealed) or reads sealed keys or device cookies, so none
    /// starts without `KEY_RING` (only the authorizer does).
    pub fn needs_key_ring(self) -> bool {
        true
    }

    /// The functions that hand out upload URLs or read license photos need `LICENSE_BUCKET`.
    pub fn needs_license_bucket(self) -> bool {
        matches!(self, Function::Driver | Function::Admin)
    }

    fn routes(self) -> Router<AppState> {
        use auth_routes as a;
        match self {
            Function::Register => Router::new().route("/api/auth/register", post(a::register)),
            Function::VerifyEmail => Router::new()
                .route("/api/auth/verify-email", post(a::verify_email))
                .route("/api/auth/resend-verification", post(a::resend_verification)),
            Function::Signin => Router::new().route("/api/auth/signin", post(a::sign_in)),
            Function::Session => Router::new()
                .route("/api/auth/session", get(a::session))
                .route("/api/auth/signout", post(a::sign_out))
                .route("/api/auth/sessions", get(a::sessions))
                .route("/api/auth/sessions/{id}", delete(a::revoke_session))
                .route("/api/auth/signout-all", post(a::sign_out_everywhere)),
            Function::Password => Router::new()
                .route("/api/auth/password/forgot", post(password_routes::forgot))
                .route("/api/auth/password/reset", post(password_routes::reset))
                .route("/api/auth/password/change", post(password_routes::change))
                .route("/api/auth/password/strength", post(password_routes::strength)),
            Function::TwoFactor => Router::new()
                .route("/api/auth/2fa/totp/setup", post(two_factor_routes::setup))
                .route("/api/auth/2fa/totp/confirm", post(two_factor_routes::confirm))
                .route("/api/auth/2fa/totp/disable", post(two_factor_routes::disable))
                .route("/api/auth/2fa/recovery-codes", post(two_factor_routes::renew_recovery_codes)),
            Function::Driver => Router::new()
                .route("/api/auth/driver", get(driver_routes::state))
                .route("/api/auth/driver/license", put(driver_routes::put_license))
                .route("/api/auth/driver/license/upload", post(driver_routes::upload))
                .route("/api/auth/driver/license/scan", post(driver_routes::scan))
                .route("/api/auth/driver/enable", post(driver_routes::enable))
                .route("/api/auth/driver/toggle", post(driver_routes::toggle)),
            Function::Admin => Router::new()
                .route("/api/admin/driver-reviews", get(admin_routes::reviews))
                .route("/api/admin/driver-reviews/{user_id}", post(admin_routes::decide))
                .route("/api/admin/drivers/{user_id}/suspend", post(admin_routes::suspend))
                .route("/api/admin/drivers/{user_id}/reinstate", post(admin_routes::reinstate))
                .route("/api/admin/audit", get(admin_routes::audit))
                .route("/api/admin/reports", get(admin_routes::reports))
                .route("/api/admin/reports/{id}", post(admin_routes::decide_report)),
            Function::Carpool => {
                use ride_routes as r;
                Router::new()
                    .route("/api/carpool/rides", post(r::post).get(r::feed))
                    .route("/api/carpool/rides/{id}", get(r::detail).patch(r::edit).delete(r::cancel))
                    .route("/api/carpool/rides/{id}/join", post(r::join))
                    .route("/api/carpool/rides/{id}/requests/{request_id}/accept", post(r::accept))
                    .route("/api/carpool/rides/{id}/requests/{request_id}/decline", post(r::decline))
                    .route("/api/carpool/rides/{id}/leave", post(r::leave))
                    .route("/api/carpool/me/rides", get(r::mine))
                    .route("/api/users/{user_id}/block", post(r::block).delete(r::unblock))
                    .route("/api/reports", post(r::report))
            }
            Function::ChatHttp => Router::new()
                .route("/api/chat/conversations", get(chat_routes::conversations).post(chat_routes::direct))
                .route(
                    "/api/chat/conversations/{id}/messages",
                    get(chat_routes::history).post(chat_routes::send),
                )
                .route("/api/chat/conversations/{id}/read", post(chat_routes::read)),
        }
    }
}

/// On every response: personal data and cookies are never cached by a browser or proxy, and no
/// browser second-guesses the declared content type (a JSON body is never run as a script).
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// The router of some Lambda functions, with the shared error handling, limits and request
/// log. Protected routes are checked at the edge by the API Gateway authorizer before the
/// function runs (and again by their handlers).
pub fn router(state: AppState, functions: &[Function]) -> Router {
    build(state, functions, false)
}

/// The whole API on one router, for the local server: the authorizer's edge check runs in
/// front of protected routes as middleware.
pub fn local_router(state: AppState) -> Router {
    build(state, &Function::ALL, true)
}

fn build(state: AppState, functions: &[Function], edge_check: bool) -> Router {
    let mut routes = functions
        .iter()
        .fold(Router::new(), |router, f| router.merge(f.routes()))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed);
    if edge_check {
        routes = routes.layer(axum::middleware::from_fn_with_state(state.auth.clone(), edge::guard));
    }
    let routes = routes
        .layer(DefaultBodyLimit::max(json::MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(state.origins.clone(), origin::guard))
        .layer(axum::middleware::from_fn(limits::guard))
        .with_state(state);
    // Outside every reject above, so those answers carry the headers too.
    with_outer_layers(routes)
}

/// What every route has, the API's and others (the local upload server's): security headers
/// and one log line with a request id per request.
pub fn with_outer_layers(routes: Router) -> Router {
    routes
        .layer(axum::middleware::map_response(security_headers))
        .layer(axum::middleware::from_fn(request_log::request_log))
}
