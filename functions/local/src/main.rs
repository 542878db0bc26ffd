//! `carpool-local`: the whole backend on one port, for a laptop with no AWS account. The same
//! routers as the Lambda functions, an embedded store under `--data-dir` (it survives restarts),
//! mail written to `<data-dir>/outbox/`, and the demo campus seeded.

use carpool::captcha::CaptchaConfig;
use carpool::clock::SystemClock;
use carpool::config::AuthConfig;
use carpool::http::{local_router, AppState};
use carpool::mail::outbox::OutboxMailer;
use carpool::repo::campuses;
use carpool::seal::KeyRing;
use carpool::store::embedded::EmbeddedStore;
use clap::{ArgAction, Parser};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Campuses seeded on every start (those already present are left alone).
const DEMO_CAMPUSES: &str = include_str!("../../../infra/campuses.json");

#[derive(Parser)]
#[command(version, about = "Run the campus carpool backend locally")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
    /// Where the embedded store and the mail outbox live.
    #[arg(long, default_value = ".local")]
    data_dir: PathBuf,
    /// Dev mode returns the verification token in register responses.
    #[arg(long, env = "CARPOOL_DEV_MODE", default_value_t = true, action = ArgAction::Set)]
    dev_mode: bool,
    /// Base URL of the frontend, used in email links (defaults to this server).
    #[arg(long, env = "APP_URL")]
    app_url: Option<String>,
    /// A browser origin allowed to call the API with credentials (repeat for several; defaults
    /// to the app URL), e.g. http://localhost:5173 for a frontend dev server.
    #[arg(long = "allowed-origin", env = "ALLOWED_ORIGINS", value_delimiter = ',')]
    allowed_origins: Vec<String>,
    /// Turn CAPTCHA on for registration with this siteverify secret (off by default locally).
    #[arg(long, env = "CAPTCHA_SECRET")]
    captcha_secret: Option<String>,
    /// The siteverify endpoint (Cloudflare Turnstile by default; hCaptcha works too).
    #[arg(long, env = "CAPTCHA_VERIFY_URL", default_value = carpool::captcha::TURNSTILE_VERIFY_URL)]
    captcha_verify_url: String,
    /// Key ring sealing TOTP secrets (`id:base64key,...`); by default a key kept in
    /// `<data-dir>/totp-keys`, created on first start.
    #[arg(long, env = "TOTP_KEYS", hide_env_values = true)]
    totp_keys: Option<String>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    carpool::telemetry::init();
    let args = Args::parse();
    let clock = Arc::new(SystemClock);
    let store = Arc::new(EmbeddedStore::open(&args.data_dir, clock.clone())?);
    let added = campuses::seed(store.as_ref(), &campuses::parse_list(DEMO_CAMPUSES)?).await?;
    let outbox = args.data_dir.join("outbox");
    let mailer =
        Arc::new(OutboxMailer::new(outbox.clone(), "Campus Carpool <no-reply@carpool.local>".into())?);

    let app_url = args.app_url.unwrap_or_else(|| format!("http://{}", args.addr));
    let mut config = AuthConfig::local(app_url);
    config.dev_mode = args.dev_mode;
    if !args.allowed_origins.is_empty() {
        config.allowed_origins = args.allowed_origins;
    }
    config.captcha = args.captcha_secret.map(|secret| CaptchaConfig {
        verify_url: args.captcha_verify_url,
        secret,
        timeout: std::time::Duration::from_secs(3),
    });
    config.totp_keys = Some(match args.totp_keys {
        Some(spec) => KeyRing::parse(&spec).map_err(|e| format!("TOTP_KEYS: {e}"))?,
        None => KeyRing::load_or_create(&args.data_dir.join("totp-keys"))?,
    });
    let state = AppState::new(store, mailer, clock, config)?;
    let app = local_router(state);

    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    let url = format!("http://{}", listener.local_addr()?);
    tracing::info!(%url, outbox = %outbox.display(), campuses_added = added, dev_mode = args.dev_mode, "carpool-local listening");
    println!("carpool-local listening on {url}");
    println!("mail outbox: {}", outbox.display());
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!("carpool-local stopped");
    Ok(())
}

/// Ctrl-C or SIGTERM: stop accepting, finish in-flight requests, exit.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
