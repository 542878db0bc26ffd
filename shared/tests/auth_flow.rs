//! Every row of API.md's Auth table, driven through the HTTP layer with real cookie headers, on
//! the embedded store and on DynamoDB (moto). Time moves by the injected clock, never by sleeping.

mod support;

use support::app::*;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use carpool::auth::hashing::Argon2Params;
use carpool::clock::{Clock, ManualClock};
use carpool::config::AuthConfig;
use carpool::http::{router, AppState, Function};
use carpool::mail::{Mailer, Message};
use carpool::repo::campuses;
use carpool::store::Store;
use serde_json::json;
use std::sync::Arc;
use time::Duration;
use tower::ServiceExt;

/// Instantiates each case once per store.
macro_rules! on_both_stores {
    ($($case:ident($make:ident, $make_dynamo:ident);)*) => {
        mod embedded_store { use super::*; $( #[tokio::test] async fn $case() { super::$case($make().await).await } )* }
        mod dynamodb { use super::*; $( #[tokio::test] async fn $case() { super::$case($make_dynamo().await).await } )* }
    };
}

on_both_stores! {
    register_verify_signin_session_signout(embedded, dynamo);
    register_mails_a_verification_link(embedded, dynamo);
    existing_email_looks_like_a_new_registration(embedded_prod, dynamo_prod);
    register_rejects_bad_input_and_writes_nothing(embedded, dynamo);
    register_checks_campus_and_password(embedded, dynamo);
    register_stores_license_details(embedded, dynamo);
    verify_token_is_single_use_and_expires(embedded, dynamo);
    resend_verification_always_accepts(embedded, dynamo);
    signin_failures_do_not_reveal_accounts(embedded, dynamo);
    remember_me_sets_max_age(embedded, dynamo);
    browser_session_idles_out_and_slides(embedded, dynamo);
    session_rejects_forged_and_header_tokens(embedded, dynamo);
    signout_kills_only_that_session(embedded, dynamo);
    legacy_bcrypt_hash_is_upgraded(embedded, dynamo);
    parallel_registrations_make_one_account(embedded_unlimited, dynamo_unlimited);
    parallel_verifications_succeed_once(embedded, dynamo);
    routing_errors_are_json(embedded, dynamo);
}

async fn register_verify_signin_session_signout(app: App) {
    let reg = app.register("Alice@Example.edu").await;
    assert_eq!(reg.status, StatusCode::ACCEPTED);
    assert_eq!(reg.body["status"], "verification_sent");
    let token = reg.body["devVerificationToken"].as_str().unwrap().to_owned();

    let verified = app.post("/api/auth/verify-email", json!({"token": token}), None).await;
    assert_eq!((verified.status, verified.body.clone()), (StatusCode::OK, json!({"verified": true})));

    let signin =
        app.post("/api/auth/signin", json!({"email": "alice@EXAMPLE.edu", "password": PASSWORD}), None).await;
    assert_eq!(signin.status, StatusCode::OK);
    let user = &signin.body["user"];
    assert_eq!(user["email"], "alice@example.edu");
    assert_eq!(user["name"], "Alice Example");
    assert_eq!(user["emailVerified"], true);
    assert_eq!(
        user["campus"],
        json!({"id": "example", "name": "Example University", "domain": "example.edu"})
    );
    assert_eq!(user["twoFactorEnabled"], false);
    assert_eq!(user["driver"]["capability"], "none");
    assert!(user["createdAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(signin.body.as_object().unwrap().len(), 1, "no token in the body");

    let set = signin.set_cookies();
    let mut attrs: Vec<&str> = set[0].split("; ").skip(1).collect();
    attrs.sort();
    assert_eq!(attrs, ["HttpOnly", "Path=/", "SameSite=Lax", "Secure"]);
    let cookie = signin.session_cookie();
    let value = cookie.trim_start_matches("__Host-session=");
    assert!(value.len() >= 22, "at least 128 bits");
    assert!(!signin.body.to_string().contains(value));

    let session = app.get("/api/auth/session", Some(&cookie)).await;
    assert_eq!(session.status, StatusCode::OK);
    assert_eq!(session.body["user"], signin.body["user"]);
    assert_eq!(session.body["session"]["rememberMe"], false);
    assert!(session.body["session"]["id"].as_str().is_some());
    assert!(!session.body.to_string().contains(value));

    let out = app.post("/api/auth/signout", json!({}), Some(&cookie)).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let mut cleared: Vec<String> = out.set_cookies()[0].split("; ").map(str::to_owned).collect();
    cleared.sort();
    assert_eq!(cleared, ["HttpOnly", "Max-Age=0", "Path=/", "SameSite=Lax", "Secure", "__Host-session="]);

    let after = app.get("/api/auth/session", Some(&cookie)).await;
    assert_eq!((after.status, after.code()), (StatusCode::UNAUTHORIZED, "unauthenticated"));
}

async fn register_mails_a_verification_link(app: App) {
    let reg = app.register("alice@example.edu").await;
    let token = reg.body["devVerificationToken"].as_str().unwrap();
    let mails = app.mail.to("alice@example.edu");
    assert_eq!(mails.len(), 1);
    let link = format!("https://carpool.example.edu/verify-email?token={token}");
    assert!(mails[0].text.contains(&link) && mails[0].html.contains(&link));
}

async fn existing_email_looks_like_a_new_registration(app: App) {
    let first = app.register("bob@example.edu").await;
    let token = link_token(&app.mail.to("bob@example.edu")[0].text);
    app.post("/api/auth/verify-email", json!({"token": token}), None).await;
    let second = app
        .post(
            "/api/auth/register",
            json!({"email": "BOB@example.edu", "password": "another fine passphrase 7", "name": "Mallory"}),
            None,
        )
        .await;
    assert_eq!((first.status, &first.body), (second.status, &second.body), "production answers alike");
    assert_eq!(first.body, json!({"status": "verification_sent"}), "no token outside dev mode");
    let mails = app.mail.to("bob@example.edu");
    assert_eq!(mails.len(), 2);
    assert!(!mails[1].text.contains("verify-email?token="), "second mail is the already-registered notice");
    // The verified account is unchanged: the original password and name still hold.
    let signin =
        app.post("/api/auth/signin", json!({"email": "bob@example.edu", "password": PASSWORD}), None).await;
    assert_eq!(signin.status, StatusCode::OK);
    assert_eq!(signin.body["user"]["name"], "Alice Example");
}

/// The token of the verification link in a mail's text.
fn link_token(text: &str) -> String {
    text.split("token=").nth(1).unwrap().split_whitespace().next().unwrap().to_owned()
}

async fn register_rejects_bad_input_and_writes_nothing(app: App) {
    let long_email = format!("{}@example.edu", "a".repeat(10_000));
    let cases: Vec<(String, StatusCode, &str)> = vec![
        ("{not json".into(), StatusCode::BAD_REQUEST, "invalid_request"),
        (json!({"email": "a@example.edu", "password": PASSWORD}).to_string(), StatusCode::BAD_REQUEST, "invalid_request"),
        (json!({"email": 42, "password": PASSWORD, "name": "A"}).to_string(), StatusCode::BAD_REQUEST, "invalid_request"),
        (json!({"email": "nobody", "password": PASSWORD, "name": "A"}).to_string(), StatusCode::BAD_REQUEST, "invalid_request"),
        (json!({"email": long_email, "password": PASSWORD, "name": "A"}).to_string(), StatusCode::BAD_REQUEST, "invalid_request"),
        (json!({"email": "a@example.edu", "password": PASSWORD, "name": "  "}).to_string(), StatusCode::BAD_REQUEST, "invalid_request"),
        (json!({"email": "a@example.edu", "password": PASSWORD, "name": "A\u{0007}"}).to_string(), StatusCode::BAD_REQUEST, "invalid_request"),
        (json!({"email": "a@example.edu", "password": "x".repeat(10_000), "name": "A"}).to_string(), StatusCode::UNPROCESSABLE_ENTITY, "weak_password"),
        // Beyond the 64 KiB body limit nothing is parsed, let alone hashed.
        (json!({"email": "a@example.edu", "password": "x".repeat(100_000), "name": "A"}).to_string(), StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        (json!({"email": "a@example.edu", "password": PASSWORD, "name": "A", "license": {"legalName": "A"}}).to_string(), StatusCode::BAD_REQUEST, "invalid_request"),
        // A well-formed license that breaks a rule (API.md: 422 invalid_license, the message names
        // the field): an impossible or expired date among them.
        (json!({"email": "a@example.edu", "password": PASSWORD, "name": "A", "license": {"legalName": "A", "number": "D1234567", "region": "CA", "expiresOn": "2029-02-30"}}).to_string(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_license"),
        (json!({"email": "a@example.edu", "password": PASSWORD, "name": "A", "license": {"legalName": "A", "number": "D1234567", "region": "CA", "expiresOn": "2020-02-28"}}).to_string(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_license"),
        (json!({"email": "a@example.edu", "password": PASSWORD, "name": "A", "license": {"legalName": "A", "number": "12", "region": "CA", "expiresOn": "2029-02-28"}}).to_string(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_license"),
        (json!({"email": "a@example.edu", "password": PASSWORD, "name": "A", "license": {"legalName": "A", "number": "D1234567", "region": "C", "expiresOn": "2029-02-28"}}).to_string(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_license"),
        (json!({"email": "a@example.edu", "password": PASSWORD, "name": "A", "license": {"legalName": "A", "number": "D1234567", "region": "CA", "expiresOn": "2099-02-28"}}).to_string(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_license"),
    ];
    for (body, status, code) in cases {
        let res = app.post_raw("/api/auth/register", body.clone(), None).await;
        assert_eq!((res.status, res.code()), (status, code), "{}", &body[..body.len().min(120)]);
        assert!(res.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let big = app.post_raw("/api/auth/register", "x".repeat(100 * 1024), None).await;
    assert_eq!((big.status, big.code()), (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"));
    let text = Request::post("/api/auth/register").header(header::CONTENT_TYPE, "text/plain");
    let res = app.request(text.body(Body::from("{}")).unwrap()).await;
    assert_eq!(res.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(app.mail.0.lock().unwrap().is_empty(), "nothing was sent");
    // Nothing was written: the address is still free.
    assert_eq!(
        app.register("a@example.edu").await.body["devVerificationToken"].as_str().map(str::len),
        Some(43)
    );
}

async fn register_checks_campus_and_password(app: App) {
    let other = app
        .post("/api/auth/register", json!({"email": "x@gmail.com", "password": PASSWORD, "name": "X"}), None)
        .await;
    assert_eq!((other.status, other.code()), (StatusCode::UNPROCESSABLE_ENTITY, "campus_not_supported"));
    let lookalike = app
        .post(
            "/api/auth/register",
            json!({"email": "x@notexample.edu", "password": PASSWORD, "name": "X"}),
            None,
        )
        .await;
    assert_eq!(lookalike.code(), "campus_not_supported");
    for weak in ["password123", "short", "aliceexample1"] {
        let res = app
            .post(
                "/api/auth/register",
                json!({"email": "alice@example.edu", "password": weak, "name": "Alice Example"}),
                None,
            )
            .await;
        assert_eq!((res.status, res.code()), (StatusCode::UNPROCESSABLE_ENTITY, "weak_password"), "{weak}");
        assert!(!res.body["error"]["message"].as_str().unwrap().is_empty());
    }
    let sub = app.register("carol@cs.example.edu").await;
    assert_eq!(sub.status, StatusCode::ACCEPTED, "subdomains admitted when the campus allows");
}

async fn register_stores_license_details(app: App) {
    let res = app
        .post(
            "/api/auth/register",
            json!({"email": "dan@example.edu", "password": PASSWORD, "name": "Dan Driver",
                   "license": {"legalName": "Daniel Driver", "number": "D123-4567", "region": "NY", "expiresOn": "2030-06-30"}}),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    let token = res.body["devVerificationToken"].as_str().unwrap();
    app.post("/api/auth/verify-email", json!({"token": token}), None).await;
    let signin =
        app.post("/api/auth/signin", json!({"email": "dan@example.edu", "password": PASSWORD}), None).await;
    let driver = &signin.body["user"]["driver"];
    assert_eq!(driver["capability"], "none");
    assert_eq!(driver["available"], false);
    assert_eq!(driver["hasLicense"], true);
    assert_eq!(driver["licenseExpiresOn"], "2030-06-30");
    // The number is stored only as a keyed digest and its last four characters.
    let id: ulid::Ulid = signin.body["user"]["id"].as_str().unwrap().parse().unwrap();
    let stored = app.store.get(&carpool::repo::drivers::driver_key(id)).await.unwrap().unwrap();
    let raw = serde_json::to_string(&stored.attrs).unwrap();
    assert!(!raw.contains("D1234567") && !raw.contains("1234567"), "{raw}");
    let license = &stored.attrs["license"];
    assert_eq!(license["numberLast4"], "4567");
    let digest = license["numberDigest"].as_str().unwrap();
    let keys = test_config().key_ring.unwrap();
    assert!(keys.verify(carpool::repo::drivers::LICENSE_NUMBER, b"D1234567", digest));
    assert!(!keys.verify(carpool::repo::drivers::LICENSE_NUMBER, b"D1234568", digest));
}

async fn verify_token_is_single_use_and_expires(app: App) {
    let t1 = app.register("erin@example.edu").await.body["devVerificationToken"].as_str().unwrap().to_owned();
    assert_eq!(app.post("/api/auth/verify-email", json!({"token": t1}), None).await.status, StatusCode::OK);
    let again = app.post("/api/auth/verify-email", json!({"token": t1}), None).await;
    assert_eq!((again.status, again.code()), (StatusCode::BAD_REQUEST, "invalid_token"));

    let t2 =
        app.register("frank@example.edu").await.body["devVerificationToken"].as_str().unwrap().to_owned();
    app.clock.advance(Duration::hours(24) + Duration::seconds(1));
    let late = app.post("/api/auth/verify-email", json!({"token": t2}), None).await;
    assert_eq!((late.status, late.code()), (StatusCode::BAD_REQUEST, "invalid_token"));

    for bad in [json!({"token": "short"}), json!({"token": "*".repeat(43)}), json!({"token": "A".repeat(43)})]
    {
        let res = app.post("/api/auth/verify-email", bad, None).await;
        assert_eq!((res.status, res.code()), (StatusCode::BAD_REQUEST, "invalid_token"));
    }
    let wrong_type = app.post("/api/auth/verify-email", json!({"token": 5}), None).await;
    assert_eq!(wrong_type.code(), "invalid_request");
}

async fn resend_verification_always_accepts(app: App) {
    app.register("gina@example.edu").await;
    for email in ["gina@example.edu", "nobody@example.edu", "x@gmail.com"] {
        let res = app.post("/api/auth/resend-verification", json!({"email": email}), None).await;
        assert_eq!(
            (res.status, res.body.clone()),
            (StatusCode::ACCEPTED, json!({"status": "verification_sent"}))
        );
    }
    let mails = app.mail.to("gina@example.edu");
    assert_eq!(mails.len(), 2, "a fresh link for the unverified account");
    assert!(app.mail.to("nobody@example.edu").is_empty());
    // The new link works, and the one it replaced does not.
    let old = app.post("/api/auth/verify-email", json!({"token": link_token(&mails[0].text)}), None).await;
    assert_eq!(old.code(), "invalid_token", "a resend kills the previous link");
    assert_eq!(
        app.post("/api/auth/verify-email", json!({"token": link_token(&mails[1].text)}), None).await.status,
        StatusCode::OK
    );
    app.post("/api/auth/resend-verification", json!({"email": "gina@example.edu"}), None).await;
    assert_eq!(app.mail.to("gina@example.edu").len(), 2, "verified accounts get no more links");
    let bad = app.post("/api/auth/resend-verification", json!({"mail": "x"}), None).await;
    assert_eq!(bad.code(), "invalid_request");
}

async fn signin_failures_do_not_reveal_accounts(app: App) {
    app.register("hank@example.edu").await;
    let signin = |email: &'static str, password: String| {
        let app = &app;
        async move { app.post("/api/auth/signin", json!({"email": email, "password": password}), None).await }
    };
    let unknown = signin("nobody@example.edu", PASSWORD.into()).await;
    let wrong = signin("hank@example.edu", "wrong password entirely".into()).await;
    assert_eq!((unknown.status, &unknown.body), (StatusCode::UNAUTHORIZED, &wrong.body));
    assert_eq!(unknown.code(), "invalid_credentials");
    assert!(unknown.set_cookies().is_empty());
    let unverified = signin("hank@example.edu", PASSWORD.into()).await;
    assert_eq!((unverified.status, unverified.code()), (StatusCode::FORBIDDEN, "email_not_verified"));
    assert!(unverified.set_cookies().is_empty());
    let huge = signin("hank@example.edu", "x".repeat(10_000)).await;
    assert_eq!(huge.code(), "invalid_credentials");
    let malformed = app.post_raw("/api/auth/signin", "{\"email\":".into(), None).await;
    assert_eq!((malformed.status, malformed.code()), (StatusCode::BAD_REQUEST, "invalid_request"));
}

async fn remember_me_sets_max_age(app: App) {
    let cookie_header = {
        let reg = app.register("ivy@example.edu").await;
        let token = reg.body["devVerificationToken"].as_str().unwrap().to_owned();
        app.post("/api/auth/verify-email", json!({"token": token}), None).await;
        let res = app
            .post(
                "/api/auth/signin",
                json!({"email": "ivy@example.edu", "password": PASSWORD, "rememberMe": true}),
                None,
            )
            .await;
        assert!(res.set_cookies()[0].contains("Max-Age=2592000"));
        res.session_cookie()
    };
    // Idle for 20 days: a remembered session is still valid, and ends at 30 days.
    app.clock.advance(Duration::days(20));
    let s = app.get("/api/auth/session", Some(&cookie_header)).await;
    assert_eq!(s.status, StatusCode::OK);
    assert_eq!(s.body["session"]["rememberMe"], true);
    app.clock.advance(Duration::days(10));
    assert_eq!(app.get("/api/auth/session", Some(&cookie_header)).await.status, StatusCode::UNAUTHORIZED);
}

async fn browser_session_idles_out_and_slides(app: App) {
    let cookie = app.signed_in("jack@example.edu", false).await;
    // Activity every 11 hours keeps it alive past 12 hours in total.
    for _ in 0..3 {
        app.clock.advance(Duration::hours(11));
        assert_eq!(app.get("/api/auth/session", Some(&cookie)).await.status, StatusCode::OK);
    }
    app.clock.advance(Duration::hours(12) + Duration::seconds(1));
    let idle = app.get("/api/auth/session", Some(&cookie)).await;
    assert_eq!((idle.status, idle.code()), (StatusCode::UNAUTHORIZED, "unauthenticated"));
}

async fn session_rejects_forged_and_header_tokens(app: App) {
    let cookie = app.signed_in("kim@example.edu", false).await;
    let value = cookie.trim_start_matches("__Host-session=").to_owned();
    // Same user id, different secret.
    let mut forged = value.clone();
    forged.replace_range(40..44, if &value[40..44] == "AAAA" { "BBBB" } else { "AAAA" });
    for bad in
        [format!("__Host-session={forged}"), "__Host-session=garbage".into(), "session=whatever".into()]
    {
        let res = app.get("/api/auth/session", Some(&bad)).await;
        assert_eq!((res.status, res.code()), (StatusCode::UNAUTHORIZED, "unauthenticated"), "{bad}");
    }
    // Authorization headers are ignored: only the cookie counts.
    let req = Request::get("/api/auth/session").header(header::AUTHORIZATION, format!("Bearer {value}"));
    assert_eq!(app.request(req.body(Body::empty()).unwrap()).await.status, StatusCode::UNAUTHORIZED);
    // Other cookies beside ours are fine.
    let mixed = format!("theme=dark; {cookie}; lang=en");
    assert_eq!(app.get("/api/auth/session", Some(&mixed)).await.status, StatusCode::OK);
    let no_cookie = app.post("/api/auth/signout", json!({}), None).await;
    assert_eq!((no_cookie.status, no_cookie.code()), (StatusCode::UNAUTHORIZED, "unauthenticated"));
}

async fn signout_kills_only_that_session(app: App) {
    let laptop = app.signed_in("leo@example.edu", false).await;
    let phone = app
        .post("/api/auth/signin", json!({"email": "leo@example.edu", "password": PASSWORD}), None)
        .await
        .session_cookie();
    assert_ne!(laptop, phone, "a new token at every sign-in");
    assert_eq!(app.post("/api/auth/signout", json!({}), Some(&laptop)).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/api/auth/session", Some(&laptop)).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.post("/api/auth/signout", json!({}), Some(&laptop)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.get("/api/auth/session", Some(&phone)).await.status, StatusCode::OK);
}

async fn legacy_bcrypt_hash_is_upgraded(app: App) {
    let cookie = app.signed_in("mia@example.edu", false).await;
    let session = app.get("/api/auth/session", Some(&cookie)).await;
    let user_id = session.body["user"]["id"].as_str().unwrap().to_owned();
    let key = carpool::store::Key::new(format!("USER#{user_id}"), "PROFILE");
    let legacy = bcrypt::hash("legacy mvp passphrase", 4).unwrap();
    app.store
        .write(vec![carpool::store::Write::Update {
            key: key.clone(),
            set: carpool::store::attrs([("passwordHash", legacy.into())]),
            expires_at: None,
            cond: carpool::store::Cond::Exists,
        }])
        .await
        .unwrap();
    let res = app
        .post(
            "/api/auth/signin",
            json!({"email": "mia@example.edu", "password": "legacy mvp passphrase"}),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let stored = app.store.get(&key).await.unwrap().unwrap();
    let hash = stored.attrs["passwordHash"].as_str().unwrap();
    assert!(hash.starts_with("$argon2id$"), "re-hashed: {hash}");
    let again = app
        .post(
            "/api/auth/signin",
            json!({"email": "mia@example.edu", "password": "legacy mvp passphrase"}),
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::OK);
}

async fn parallel_registrations_make_one_account(app: App) {
    let app = Arc::new(app);
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { app.register("nina@example.edu").await })
        })
        .collect();
    let mut tokens = Vec::new();
    for t in tasks {
        let res = t.await.unwrap();
        assert_eq!(res.status, StatusCode::ACCEPTED);
        tokens.extend(res.body["devVerificationToken"].as_str().map(str::to_owned));
    }
    // Each registration of the still unverified address replaced the one before: one account,
    // ten links mailed, and only the last registration's link works.
    assert_eq!(tokens.len(), 10);
    assert_eq!(app.mail.to("nina@example.edu").len(), 10);
    let mut verified = 0;
    for token in tokens {
        let res = app.post("/api/auth/verify-email", json!({"token": token}), None).await;
        verified += usize::from(res.status == StatusCode::OK);
    }
    assert_eq!(verified, 1, "exactly one live link");
}

async fn parallel_verifications_succeed_once(app: App) {
    let token =
        app.register("omar@example.edu").await.body["devVerificationToken"].as_str().unwrap().to_owned();
    let app = Arc::new(app);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (app, token) = (app.clone(), token.clone());
            tokio::spawn(async move {
                app.post("/api/auth/verify-email", json!({"token": token}), None).await.status
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            StatusCode::OK => ok += 1,
            other => assert_eq!(other, StatusCode::BAD_REQUEST),
        }
    }
    assert_eq!(ok, 1);
}

async fn routing_errors_are_json(app: App) {
    let missing = app.get("/api/nope", None).await;
    assert_eq!((missing.status, missing.code()), (StatusCode::NOT_FOUND, "not_found"));
    let wrong = app.get("/api/auth/signin", None).await;
    assert_eq!((wrong.status, wrong.code()), (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"));
}

/// Mail that cannot be sent.
struct Down;

#[async_trait::async_trait]
impl Mailer for Down {
    async fn send(&self, _: &Message) -> Result<(), carpool::mail::MailError> {
        Err(carpool::mail::MailError("SES is down".into()))
    }
}

/// A mail failure does not lose the account: registration answers as usual and a new link can be
/// requested once mail works again.
#[tokio::test]
async fn mail_failurekeeps_the_account() {
    let clock = Arc::new(ManualClock::starting_now());
    let (store, _dir) = support::embedded_store(clock.clone());
    let store: Arc<dyn Store> = Arc::new(store);
    campuses::add(store.as_ref(), &demo_campus()).await.unwrap();
    let mut config = AuthConfig::local("https://carpool.example.edu");
    config.argon2 = Argon2Params { memory_kib: 1024, iterations: 1, parallelism: 1 };
    let failing = router(
        AppState::new(
            carpool::http::Ports {
                store: store.clone(),
                mailer: Arc::new(Down),
                clock: clock.clone(),
                documents: test_documents(),
                pusher: Arc::new(carpool::push::local::LocalPusher::default()),
            },
            config.clone(),
        )
        .unwrap(),
        &Function::ALL,
    );
    let body = json!({"email": "quinn@example.edu", "password": PASSWORD, "name": "Quinn"}).to_string();
    let req = Request::post("/api/auth/register").header(header::CONTENT_TYPE, "application/json");
    let res = failing.oneshot(req.body(Body::from(body)).unwrap()).await.unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);

    let app = App::new(store, clock, true).await;
    let resend = app.post("/api/auth/resend-verification", json!({"email": "quinn@example.edu"}), None).await;
    assert_eq!(resend.status, StatusCode::ACCEPTED);
    let mails = app.mail.to("quinn@example.edu");
    assert_eq!(mails.len(), 1, "the account exists and gets a fresh link");
}

/// The embedded store keeps accounts and sessions across a restart.
#[tokio::test]
async fn embedded_store_survives_restart() {
    let clock = Arc::new(ManualClock::starting_now());
    let (store, dir) = support::embedded_store(clock.clone());
    let app = App::new(Arc::new(store), clock.clone(), true).await;
    let cookie = app.signed_in("pat@example.edu", true).await;
    drop(app);
    let reopened = carpool::store::embedded::EmbeddedStore::open(dir.path(), clock.clone()).unwrap();
    let store: Arc<dyn Store> = Arc::new(reopened);
    let config = AuthConfig::local("https://carpool.example.edu");
    let state = AppState::new(
        carpool::http::Ports {
            store,
            mailer: Arc::new(Recorder::default()),
            clock: clock.clone() as Arc<dyn Clock>,
            documents: test_documents(),
            pusher: Arc::new(carpool::push::local::LocalPusher::default()),
        },
        config,
    )
    .unwrap();
    let res = router(state, &Function::ALL)
        .oneshot(
            Request::get("/api/auth/session").header(header::COOKIE, &cookie).body(Body::empty()).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

/// Registrations of one address are limited; tests that register one address often lift that.
fn lift_register_limit(config: &mut AuthConfig) {
    let many = carpool::rate_limit::Limit { max: 1000, window_secs: 3600 };
    config.rate_limits.set(carpool::rate_limit::Rule::RegisterEmail, many);
}

async fn embedded_unlimited() -> App {
    embedded_with(lift_register_limit).await
}

async fn dynamo_unlimited() -> App {
    dynamo_with(lift_register_limit).await
}
