//! `carpool-local`: the whole backend on one port, for a laptop with no AWS account. The same
//! routers as the Lambda functions, an embedded store under `--data-dir` (it survives restarts),
//! mail written to `<data-dir>/outbox/`, and the demo campus seeded.

use carpool::account::AccountService;
use carpool::captcha::CaptchaConfig;
use carpool::clock::{parse_offset, Clock, OffsetClock, SystemClock};
use carpool::config::AuthConfig;
use carpool::documents::local::LocalDocuments;
use carpool::driver::{Documents, DriverService};
use carpool::http::{local_router, with_outer_layers, AppState, Ports};
use carpool::mail::jobs::{MailDispatcher, Redrive};
use carpool::mail::outbox::OutboxMailer;
use carpool::push::local::LocalPusher;
use carpool::rate_limit::RateLimits;
use carpool::repo::campuses;
use carpool::seal::KeyRing;
use carpool::store::embedded::EmbeddedStore;
use clap::{ArgAction, Parser};
use server::{serve, Timeouts};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

mod demo;
mod server;
mod ws;

/// Campuses seeded on every start (those already present are left alone).
const DEMO_CAMPUSES: &str = include_str!("../../../infra/campuses.json");

// Timeouts: what a client may cost the server before it is cut off. A slowloris client (headers
// trickled, a body that never finishes, a connection opened and left) otherwise holds a
// connection, a task and a file descriptor for as long as it likes; enough of them and nobody
// else gets in. Real clients need a fraction of each.

/// Sending a request head (request line and headers), from its first byte; for a new
/// connection, from the accept. Past it the connection is closed (no response: there is no
/// request to answer yet).
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Reading the rest of a request (its body) and answering it, from the end of its head. Past it
/// the client gets `408 request_timeout` (see `carpool::http::limits`).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// A kept-alive connection waiting for its next request (and a response waiting for a client
/// that does not read it). Past it the connection is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest accepted timeout flag: a day (far-off deadlines would overflow the clock).
const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

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
    /// The server's key ring (`id:base64key,...`): seals TOTP keys and queued mail, signs device
    /// cookies. By default a key kept in `<data-dir>/key-ring`, created on first start.
    #[arg(long, env = "KEY_RING", hide_env_values = true)]
    key_ring: Option<String>,
    /// Run the server's clock shifted by this much (`8d`, `-3h`, `30m`, `90s`): expiry days,
    /// reminders and departures can be tried without waiting. Everything that reads the clock
    /// sees the shifted time.
    #[arg(long, value_name = "OFFSET", value_parser = parse_offset, allow_hyphen_values = true)]
    time_offset: Option<time::Duration>,
    /// How often the license expiry sweep runs (it also runs once at start): `1h`, `10m`, `30s`.
    #[arg(long, value_name = "INTERVAL", default_value = "1h", value_parser = parse_interval)]
    sweep_every: Duration,
    /// Seconds between retries of queued mail that failed (mail goes out as soon as it is queued).
    #[arg(long, value_name = "SECS", default_value_t = Secs(MAIL_REDRIVE_EVERY))]
    mail_redrive_every: Secs,
    /// Seconds a client may take to send a request's headers (from their first byte).
    #[arg(long, value_name = "SECS", default_value_t = Secs(HEADER_TIMEOUT))]
    header_timeout: Secs,
    /// Seconds a request may take from the end of its headers to its response (body included).
    #[arg(long, value_name = "SECS", default_value_t = Secs(REQUEST_TIMEOUT))]
    request_timeout: Secs,
    /// Seconds a kept-alive connection may sit idle before it is closed.
    #[arg(long, value_name = "SECS", default_value_t = Secs(IDLE_TIMEOUT))]
    idle_timeout: Secs,
    /// Lift every rate limit (for API fuzzers and load tests; never on a shared server). Without
    /// it, `RATE_LIMIT_<RULE>=MAX/SECONDS` variables tune single limits, as in Lambda.
    #[arg(long)]
    lift_rate_limits: bool,
}

const MAIL_REDRIVE_EVERY: Duration = Duration::from_secs(30);

/// A duration given in seconds on the command line (`10`, `0.5`).
#[derive(Clone, Copy, Debug)]
struct Secs(Duration);

impl std::str::FromStr for Secs {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        s.trim()
            .parse::<f64>()
            .ok()
            .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
            .filter(|d| !d.is_zero() && *d <= MAX_TIMEOUT)
            .map(Secs)
            .ok_or_else(|| format!("expected seconds between 0 and {}", MAX_TIMEOUT.as_secs()))
    }
}

impl std::fmt::Display for Secs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.as_secs_f64())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    carpool::telemetry::init("carpool-local");
    let args = Args::parse();
    let clock: Arc<dyn Clock> = match args.time_offset {
        Some(offset) => Arc::new(OffsetClock::new(Arc::new(SystemClock), offset)),
        None => Arc::new(SystemClock),
    };
    let store = Arc::new(EmbeddedStore::open(&args.data_dir, clock.clone())?);
    let added = campuses::seed(store.as_ref(), &campuses::parse_list(DEMO_CAMPUSES)?).await?;
    let outbox = args.data_dir.join("outbox");
    let mailer =
        Arc::new(OutboxMailer::new(outbox.clone(), "Campus Carpool <no-reply@carpool.local>".into())?);

    let listener = TcpListener::bind(args.addr).await?;
    let url = format!("http://{}", listener.local_addr()?);
    // The port actually bound (`--addr 127.0.0.1:0` picks one).
    let app_url = args.app_url.unwrap_or_else(|| url.clone());
    let mut config = AuthConfig::local(app_url);
    config.dev_mode = args.dev_mode;
    config.rate_limits =
        if args.lift_rate_limits { RateLimits::lifted() } else { carpool::config::rate_limits_from_env()? };
    if !args.allowed_origins.is_empty() {
        config.allowed_origins = args.allowed_origins;
    }
    config.captcha = args.captcha_secret.map(|secret| CaptchaConfig {
        verify_url: args.captcha_verify_url,
        secret,
        timeout: std::time::Duration::from_secs(3),
    });
    config.key_ring = Some(match args.key_ring {
        Some(spec) => KeyRing::parse(&spec).map_err(|e| format!("KEY_RING: {e}"))?,
        None => KeyRing::load_or_create(&key_ring_file(&args.data_dir)?)?,
    });
    // Upload URLs point at this server, which keeps the photos under the data directory.
    let photos = LocalDocuments::new(
        &args.data_dir,
        &url,
        config.key_ring.clone().ok_or("no key ring")?,
        clock.clone(),
    );
    let documents = Documents { uploads: Arc::new(photos.clone()), ocr: Arc::new(photos.clone()) };
    let sockets = Arc::new(LocalPusher::default());
    let ports = Ports { store, mailer, clock: clock.clone(), documents, pusher: sockets.clone() };
    let state = AppState::new(ports, config)?;
    tokio::spawn(deliver_mail(state.mail.clone(), args.mail_redrive_every.0));
    tokio::spawn(sweep_licenses(state.driver.clone(), args.sweep_every));
    tokio::spawn(resume_erasures(state.account.clone()));
    let chat = ws::router(state.chat.clone(), sockets, state.origins.clone());
    let app = local_router(state)
        .merge(photos.router())
        .merge(with_outer_layers(chat))
        .merge(carpool::http::openapi::router())
        .merge(with_outer_layers(demo::router()));

    let timeouts = Timeouts {
        header: args.header_timeout.0,
        request: args.request_timeout.0,
        idle: args.idle_timeout.0,
    };
    tracing::info!(%url, outbox = %outbox.display(), campuses_added = added, dev_mode = args.dev_mode, "carpool-local listening");
    println!("carpool-local listening on {url}");
    println!("mail outbox: {}", outbox.display());
    if let Some(offset) = args.time_offset {
        tracing::info!(offset_seconds = offset.whole_seconds(), "clock shifted");
        println!("clock shifted by {offset}: it reads {}", clock.now());
    }
    serve(listener, app, timeouts, shutdown_signal()).await;
    tracing::info!("carpool-local stopped");
    Ok(())
}

/// An interval like `--time-offset` takes them, but positive: `1h`, `10m`, `30s`, `1d`.
fn parse_interval(text: &str) -> Result<Duration, String> {
    let interval = parse_offset(text)?;
    Duration::try_from(interval)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{text:?} must be a positive interval such as 1h or 30s"))
}

/// The expiry sweep, as the hourly schedule runs it in AWS: once now, then every `every`.
async fn sweep_licenses(driver: Arc<DriverService>, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        // The sweep logs its own summary; a failed run is retried at the next tick.
        if let Err(e) = driver.sweep().await {
            tracing::error!(error = %e, "license sweep failed");
        }
    }
}

/// The erasure redrive, as the 5-minute schedule runs it in AWS (once now: a deletion a stop
/// interrupted is finished after the next start).
async fn resume_erasures(account: Arc<AccountService>) {
    let mut ticks = tokio::time::interval(Duration::from_secs(300));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        // Each failed erasure is logged with its error and stays due.
        if let Err(e) = account.resume_erasures().await {
            tracing::error!(error = %e, "account erasure redrive failed");
        }
    }
}

/// `<data-dir>/key-ring`; a data directory from before the key ring sealed more than TOTP keys
/// has it as `totp-keys`, which is renamed so its enrolments still open.
fn key_ring_file(data_dir: &std::path::Path) -> std::io::Result<PathBuf> {
    let (current, earlier) = (data_dir.join("key-ring"), data_dir.join("totp-keys"));
    if !current.exists() && earlier.exists() {
        std::fs::rename(&earlier, &current)?;
    }
    Ok(current)
}

/// The mailer's work in AWS: deliver queued mail as soon as a request queues it, and retry what
/// failed when it comes due. Mail a stop interrupts is delivered after the next start.
async fn deliver_mail(mail: Arc<MailDispatcher>, redrive_every: Duration) {
    loop {
        match mail.deliver_due().await {
            Ok(summary) if summary != Redrive::default() => tracing::info!(?summary, "mail delivered"),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "mail delivery failed; retrying later"),
        }
        tokio::select! {
            () = mail.queue().woken() => {}
            () = tokio::time::sleep(redrive_every) => {}
        }
    }
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
