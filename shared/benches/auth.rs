//! `cargo bench -p carpool --bench auth`: prints the auth performance table for the README.
//!
//! - session check in-process on the embedded store (router included): median and p99;
//! - sign-in (known and unknown email) against one bare argon2 verify with the same parameters;
//! - store round trips per endpoint, counted by a wrapper over the store adapter. With
//!   `CARPOOL_TEST_MOTO_URL` set the adapter is DynamoDB on moto, else the embedded store (both
//!   make one port call per DynamoDB request).

use axum::http::StatusCode;
use axum::Router;
use carpool::auth::hashing::PasswordHasher;
use carpool::auth::AuthService;
use carpool::clock::{Clock, SystemClock};
use carpool::config::AuthConfig;
use carpool::documents::local::LocalDocuments;
use carpool::domain::totp::TotpKey;
use carpool::driver::Documents;
use carpool::http::{router, AppState, Function, Ports};
use carpool::push::local::LocalPusher;
use carpool::rate_limit::{Limit, Rule};
use carpool::repo::campuses;
use carpool::store::dynamo::DynamoStore;
use carpool::store::embedded::EmbeddedStore;
use carpool::store::Store;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

use common::{Counting, NoMail};

const PASSWORD: &str = "marble kiosk velvet tundra";

struct Bench {
    app: Router,
    /// The same use cases as the router, for the edge authorizer's decision.
    auth: Arc<AuthService>,
    /// (data round trips, rate-limit counter increments) so far.
    calls: Arc<dyn Fn() -> (usize, usize) + Send + Sync>,
}

impl Bench {
    /// `cache`: whether read-only session checks may be answered from memory.
    async fn new<S: Store>(store: S, cache: bool) -> Bench {
        let store = Arc::new(Counting::new(store));
        let demo = include_str!("../../infra/campuses.json");
        campuses::seed(store.as_ref(), &campuses::parse_list(demo).unwrap()).await.unwrap();
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let mut config = AuthConfig::local("https://carpool.example.edu");
        if !cache {
            config.session_cache_ttl = Duration::ZERO;
        }
        // The bench measures cost, not throttling: counters still count, nothing is refused.
        for rule in Rule::ALL {
            config.rate_limits.set(rule, Limit { max: i64::MAX / 2, window_secs: 3600 });
        }
        let photos = tempfile::tempdir().unwrap().keep();
        let local =
            LocalDocuments::new(&photos, "http://127.0.0.1", config.key_ring.clone().unwrap(), clock.clone());
        let documents = Documents { uploads: Arc::new(local.clone()), ocr: Arc::new(local) };
        let state = AppState::new(
            Ports {
                store: store.clone(),
                mailer: Arc::new(NoMail),
                clock,
                documents,
                pusher: Arc::new(LocalPusher::default()),
            },
            config,
        )
        .unwrap();
        let counter = store.clone();
        Bench {
            auth: state.auth.clone(),
            app: router(state, &Function::ALL),
            calls: Arc::new(move || {
                (counter.calls.load(Ordering::Relaxed), counter.counters.load(Ordering::Relaxed))
            }),
        }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Value,
        cookie: Option<&str>,
    ) -> (StatusCode, Value, Option<String>) {
        common::call(&self.app, method, path, body, cookie).await
    }

    /// Runs one request and returns the store calls it made: (data, rate-limit counters).
    async fn trips(
        &self,
        method: &str,
        path: &str,
        body: Value,
        cookie: Option<&str>,
    ) -> ((usize, usize), Value, Option<String>) {
        let before = (self.calls)();
        let (status, body, cookie) = self.call(method, path, body, cookie).await;
        assert!(status.is_success(), "{method} {path}: {status} {body}");
        let after = (self.calls)();
        ((after.0 - before.0, after.1 - before.1), body, cookie)
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

async fn timed<F, Fut>(n: usize, mut f: F) -> Vec<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future,
{
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        f().await;
        samples.push(start.elapsed());
    }
    samples.sort();
    samples
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // Session checks here measure the store path: no cache.
    let local = Bench::new(EmbeddedStore::open(dir.path(), clock.clone()).unwrap(), false).await;

    // Sign up one user on the embedded store.
    let (_, reg, _) = local
        .trips(
            "POST",
            "/api/auth/register",
            json!({"email": "bench@example.edu", "password": PASSWORD, "name": "Bench"}),
            None,
        )
        .await;
    let token = reg["devVerificationToken"].as_str().unwrap().to_owned();
    local.trips("POST", "/api/auth/verify-email", json!({"token": token}), None).await;
    let (_, _, cookie) = local
        .trips("POST", "/api/auth/signin", json!({"email": "bench@example.edu", "password": PASSWORD}), None)
        .await;
    let cookie = cookie.unwrap();

    println!("| measurement | value |");
    println!("|---|---|");

    // 1. Session checks.
    for _ in 0..200 {
        local.call("GET", "/api/auth/session", Value::Null, Some(&cookie)).await;
    }
    let session = timed(5000, || async {
        local.call("GET", "/api/auth/session", Value::Null, Some(&cookie)).await;
    })
    .await;
    println!(
        "| session check, embedded store, in-process, no cache (median) | {} |",
        ms(percentile(&session, 0.5))
    );
    println!(
        "| session check, embedded store, in-process, no cache (p99) | {} |",
        ms(percentile(&session, 0.99))
    );

    // The edge authorizer's decision for that cookie, from the store (a cold container).
    let token = cookie.trim_start_matches("__Host-session=").to_owned();
    let edge = timed(5000, || async { local.auth.check_session(&token).await.unwrap() }).await;
    println!(
        "| edge authorizer decision, embedded store, no cache (median) | {} |",
        ms(percentile(&edge, 0.5))
    );

    // 2. Sign-in cost against one argon2 verify with the same (OWASP default) parameters. The three
    // are interleaved round by round so allocator and CPU-frequency drift hit them alike.
    let hasher = PasswordHasher::new(AuthConfig::local("x").argon2).unwrap();
    let stored = hasher.hash(PASSWORD);
    let known_body = json!({"email": "bench@example.edu", "password": PASSWORD});
    // A fresh unknown email each time, so the lockout (5 failures) never short-cuts the path.
    let unknown_body = |i: usize| json!({"email": format!("nobody{i}@example.edu"), "password": PASSWORD});
    let (mut bare, mut known, mut unknown) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..40 {
        bare.extend(timed(1, || async { hasher.verify(PASSWORD, &stored) }).await);
        known.extend(timed(1, || local.call("POST", "/api/auth/signin", known_body.clone(), None)).await);
        unknown.extend(timed(1, || local.call("POST", "/api/auth/signin", unknown_body(i), None)).await);
    }
    let median = |mut v: Vec<Duration>| {
        v.sort();
        percentile(&v, 0.5)
    };
    let (bare, known, unknown) = (median(bare), median(known), median(unknown));
    println!("| argon2id verify m=19456 t=2 p=1 (median) | {} |", ms(bare));
    println!("| sign-in, known email (median) | {} |", ms(known));
    println!("| sign-in, unknown email (median) | {} |", ms(unknown));
    println!("| sign-in / bare verify | {:.2} |", known.as_secs_f64() / bare.as_secs_f64());
    println!("| unknown-email / known-email sign-in | {:.2} |", unknown.as_secs_f64() / known.as_secs_f64());

    // 3. No answer tells whether an address has an account, in time either: forgot-password and
    // resend-verification for a verified account, an unverified one and an unknown address,
    // interleaved request by request, medians and their ratio to the unknown address's.
    local
        .trips(
            "POST",
            "/api/auth/register",
            json!({"email": "pending@example.edu", "password": PASSWORD, "name": "Pending"}),
            None,
        )
        .await;
    let addresses = ["bench@example.edu", "pending@example.edu", "nobody-at-all@example.edu"];
    for (name, path) in [
        ("forgot-password", "/api/auth/password/forgot"),
        ("resend-verification", "/api/auth/resend-verification"),
    ] {
        let mut samples: [Vec<Duration>; 3] = Default::default();
        for _ in 0..300 {
            for (email, times) in addresses.iter().zip(samples.iter_mut()) {
                times.extend(timed(1, || local.call("POST", path, json!({ "email": email }), None)).await);
            }
        }
        let [verified, unverified, unknown] = samples.map(median);
        println!(
            "| {name}: verified / unverified / unknown address (median) | {} / {} / {} |",
            ms(verified),
            ms(unverified),
            ms(unknown)
        );
        println!(
            "| {name}: verified / unknown, unverified / unknown | {:.2}, {:.2} |",
            verified.as_secs_f64() / unknown.as_secs_f64(),
            unverified.as_secs_f64() / unknown.as_secs_f64()
        );
    }

    // 4. Round trips per endpoint.
    let (store_name, counted) = match std::env::var("CARPOOL_TEST_MOTO_URL") {
        Ok(endpoint) => {
            let (client, table) = common::moto_table(&endpoint).await;
            ("DynamoDB (moto)", Bench::new(DynamoStore::new(client, table, clock.clone()), true).await)
        }
        Err(_) => {
            let dir2 = Box::leak(Box::new(tempfile::tempdir().unwrap()));
            ("embedded", Bench::new(EmbeddedStore::open(dir2.path(), clock.clone()).unwrap(), true).await)
        }
    };
    // Warm the campus cache the way a running function would have it.
    counted
        .call(
            "POST",
            "/api/auth/register",
            json!({"email": "warm@example.edu", "password": PASSWORD, "name": "Warm"}),
            None,
        )
        .await;
    let email = json!({"email": "rt@example.edu", "password": PASSWORD, "name": "Round Trip"});
    let (register, reg, _) = counted.trips("POST", "/api/auth/register", email, None).await;
    let token = reg["devVerificationToken"].as_str().unwrap().to_owned();
    let (verify, _, _) = counted.trips("POST", "/api/auth/verify-email", json!({"token": token}), None).await;
    let (signin, _, cookie) = counted
        .trips("POST", "/api/auth/signin", json!({"email": "rt@example.edu", "password": PASSWORD}), None)
        .await;
    let cookie = cookie.unwrap();
    let (session, _, _) = counted.trips("GET", "/api/auth/session", Value::Null, Some(&cookie)).await;
    // The read-only session check with this container's cache warm.
    let before = (counted.calls)().0;
    let checks = 1000;
    for _ in 0..checks {
        counted.call("GET", "/api/auth/session", Value::Null, Some(&cookie)).await;
    }
    let reads = (counted.calls)().0 - before;
    println!("| store reads for {checks} session checks, cache warm ({store_name}) | {reads} |");
    // The authorizer keeps the same per-container cache.
    let token = cookie.trim_start_matches("__Host-session=").to_owned();
    counted.auth.check_session(&token).await.unwrap();
    let before = (counted.calls)().0;
    for _ in 0..checks {
        counted.auth.check_session(&token).await.unwrap();
    }
    let reads = (counted.calls)().0 - before;
    println!("| store reads for {checks} edge authorizer decisions, cache warm ({store_name}) | {reads} |");

    // Two-factor on: sign-in with a TOTP code (the next step's, within drift: setup used this one).
    let (_, setup, _) =
        counted.trips("POST", "/api/auth/2fa/totp/setup", json!({"password": PASSWORD}), Some(&cookie)).await;
    let key = TotpKey::from_base32(setup["secret"].as_str().unwrap()).unwrap();
    let now = clock.epoch_seconds();
    counted
        .trips("POST", "/api/auth/2fa/totp/confirm", json!({"code": key.code_at(now)}), Some(&cookie))
        .await;
    let with_code =
        json!({"email": "rt@example.edu", "password": PASSWORD, "totpCode": key.code_at(now + 30)});
    let (signin_totp, _, _) = counted.trips("POST", "/api/auth/signin", with_code, None).await;
    let (signout, _, _) = counted.trips("POST", "/api/auth/signout", Value::Null, Some(&cookie)).await;
    for (endpoint, n, target) in [
        // A taken address costs what a new one does: claim, account (or a decoy), one write.
        ("register", register, 3),
        ("verify-email", verify, 2),
        // The attempt is counted beside the account read: 3 in sequence.
        ("signin", signin, 4),
        ("signin with a TOTP code", signin_totp, 5),
        ("session", session, 1),
        ("signout", signout, 1),
    ] {
        println!(
            "| store round trips, {endpoint} ({store_name}; target <= {target}) | {} (+{} rate-limit counters) |",
            n.0, n.1
        );
    }
}
