//! The HTTP layer every function shares: one axum `Router` per function (the same code runs in
//! Lambda through `lambda_http` and in the local server, which merges them all).

mod account_routes;
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
pub mod openapi;
pub mod origin;
mod password_routes;
pub mod request_log;
mod ride_routes;
mod two_factor_routes;

use crate::account::AccountService;
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
use axum::Router;
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Clone)]
pub struct AppState {
    pub auth: Arc<AuthService>,
    pub origins: Arc<origin::OriginPolicy>,
    pub driver: Arc<DriverService>,
    pub rides: Arc<RideService>,
    pub chat: Arc<ChatService>,
    pub account: Arc<AccountService>,
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
        let account = Arc::new(AccountService::new(
            store.clone(),
            auth.clone(),
            rides.clone(),
            chat.clone(),
            documents.uploads.clone(),
            queue.clone(),
            limits.clone(),
        ));
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
        Ok(AppState { auth, origins, driver, rides, chat, account, mail })
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
    Account,
}

impl Function {
    pub const ALL: [Function; 11] = [
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
        Function::Account,
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
            Function::Account => "account",
        }
    }

    /// Every HTTP function queues mail (sealed) or reads sealed keys or device cookies, so none
    /// starts without `KEY_RING` (only the authorizer does).
    pub fn needs_key_ring(self) -> bool {
        true
    }

    /// The functions that hand out upload URLs, read license photos or keep exports (and delete
    /// them with an account) need `LICENSE_BUCKET`.
    pub fn needs_license_bucket(self) -> bool {
        matches!(self, Function::Driver | Function::Admin | Function::Account)
    }

    /// The function's routes, each registered with its OpenAPI operation (`openapi.rs`).
    fn routes(self) -> OpenApiRouter<AppState> {
        let router = OpenApiRouter::new();
        match self {
            Function::Register => router.routes(routes!(auth_routes::register)),
            Function::VerifyEmail => router
                .routes(routes!(auth_routes::verify_email))
                .routes(routes!(auth_routes::resend_verification)),
            Function::Signin => router.routes(routes!(auth_routes::sign_in)),
            Function::Session => router
                .routes(routes!(auth_routes::current_session))
                .routes(routes!(auth_routes::sign_out))
                .routes(routes!(auth_routes::list_sessions))
                .routes(routes!(auth_routes::revoke_session))
                .routes(routes!(auth_routes::sign_out_everywhere)),
            Function::Password => router
                .routes(routes!(password_routes::forgot_password))
                .routes(routes!(password_routes::reset_password))
                .routes(routes!(password_routes::change_password))
                .routes(routes!(password_routes::password_strength)),
            Function::TwoFactor => router
                .routes(routes!(two_factor_routes::totp_setup))
                .routes(routes!(two_factor_routes::totp_confirm))
                .routes(routes!(two_factor_routes::totp_disable))
                .routes(routes!(two_factor_routes::renew_recovery_codes)),
            Function::Driver => router
                .routes(routes!(driver_routes::driver_state))
                .routes(routes!(driver_routes::put_license))
                .routes(routes!(driver_routes::license_upload))
                .routes(routes!(driver_routes::scan_license))
                .routes(routes!(driver_routes::enable_driving))
                .routes(routes!(driver_routes::toggle_availability)),
            Function::Admin => router
                .routes(routes!(admin_routes::driver_reviews))
                .routes(routes!(admin_routes::decide_review))
                .routes(routes!(admin_routes::suspend_driver))
                .routes(routes!(admin_routes::reinstate_driver))
                .routes(routes!(admin_routes::driver_audit))
                .routes(routes!(admin_routes::user_reports))
                .routes(routes!(admin_routes::decide_report)),
            Function::Carpool => router
                .routes(routes!(ride_routes::post_ride, ride_routes::ride_feed))
                .routes(routes!(ride_routes::ride_detail, ride_routes::edit_ride, ride_routes::cancel_ride))
                .routes(routes!(ride_routes::join_ride))
                .routes(routes!(ride_routes::accept_request))
                .routes(routes!(ride_routes::decline_request))
                .routes(routes!(ride_routes::leave_ride))
                .routes(routes!(ride_routes::my_rides))
                .routes(routes!(ride_routes::block_user, ride_routes::unblock_user))
                .routes(routes!(ride_routes::report_user)),
            Function::ChatHttp => router
                .routes(routes!(chat_routes::list_conversations, chat_routes::direct_conversation))
                .routes(routes!(chat_routes::message_history, chat_routes::send_message))
                .routes(routes!(chat_routes::mark_read)),
            Function::Account => router
                .routes(routes!(account_routes::export_account))
                .routes(routes!(account_routes::delete_account)),
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
    let (routes, _) =
        functions.iter().fold(OpenApiRouter::new(), |router, f| router.merge(f.routes())).split_for_parts();
    let mut routes = routes.fallback(error::not_found).method_not_allowed_fallback(error::method_not_allowed);
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
