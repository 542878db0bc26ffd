//! Pre-account hijacking (OWASP Authentication Cheat Sheet; security review item 1) and what
//! mail to an unconfirmed address may carry (item 8), on both stores, answering as production.

mod support;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::{json, Value};
use support::app::*;

on_both_stores!(embedded_prod, dynamo_prod;
    a_password_chosen_before_the_owner_registered_never_becomes_active,
    only_the_newest_link_of_the_newest_registration_works,
    verification_mail_says_when_and_from_what_in_the_servers_words,
    names_refuse_format_controls_and_mail_carries_none_of_them,
    registrations_per_address_are_limited,
    a_verified_account_is_never_changed_by_a_registration
);

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

async fn register_as(app: &App, email: &str, password: &str, name: &str, user_agent: &str) -> Reply {
    let body = json!({"email": email, "password": password, "name": name});
    let request = Request::post("/api/auth/register")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::USER_AGENT, user_agent)
        .body(Body::from(body.to_string()))
        .unwrap();
    app.request(request).await
}

fn link_tokens(app: &App, to: &str) -> Vec<String> {
    app.mail.link_tokens(to, "verify-email")
}

async fn verify(app: &App, token: &str) -> Reply {
    app.post("/api/auth/verify-email", json!({ "token": token }), None).await
}

async fn sign_in(app: &App, email: &str, password: &str) -> Reply {
    app.post("/api/auth/signin", json!({"email": email, "password": password}), None).await
}

const ATTACKER_PASSWORD: &str = "attacker owns this passphrase 1";

async fn a_password_chosen_before_the_owner_registered_never_becomes_active(app: App) {
    let victim = "victim@example.edu";
    let early = register_as(&app, victim, ATTACKER_PASSWORD, "Mallory", "curl/8.5.0").await;
    let late = register_as(&app, victim, PASSWORD, "Victor Owner", FIREFOX).await;
    assert_eq!((early.status, &early.body), (late.status, &late.body), "both answer alike");
    let links = link_tokens(&app, victim);
    assert_eq!(links.len(), 2, "each registration mails its own link");
    // The link that would activate the attacker's password is dead, even to the owner.
    assert_eq!(verify(&app, &links[0]).await.code(), "invalid_token");
    assert_eq!(verify(&app, &links[1]).await.status, StatusCode::OK);
    assert_eq!(sign_in(&app, victim, ATTACKER_PASSWORD).await.code(), "invalid_credentials");
    let owner = sign_in(&app, victim, PASSWORD).await;
    assert_eq!(owner.status, StatusCode::OK);
    assert_eq!(owner.body["user"]["name"], "Victor Owner");
}

async fn only_the_newest_link_of_the_newest_registration_works(app: App) {
    let email = "rita@example.edu";
    register_as(&app, email, PASSWORD, "Rita", FIREFOX).await;
    app.post("/api/auth/resend-verification", json!({ "email": email }), None).await;
    register_as(&app, email, ATTACKER_PASSWORD, "Rita Again", FIREFOX).await;
    app.post("/api/auth/resend-verification", json!({ "email": email }), None).await;
    let links = link_tokens(&app, email);
    assert_eq!(links.len(), 4);
    for stale in &links[..3] {
        assert_eq!(verify(&app, stale).await.code(), "invalid_token");
    }
    assert_eq!(verify(&app, &links[3]).await.status, StatusCode::OK);
    // The resend carried the latest registration's password, not the first one's.
    assert_eq!(sign_in(&app, email, PASSWORD).await.code(), "invalid_credentials");
    assert_eq!(sign_in(&app, email, ATTACKER_PASSWORD).await.status, StatusCode::OK);
}

async fn verification_mail_says_when_and_from_what_in_the_servers_words(app: App) {
    let sneaky = format!("{FIREFOX} <b>Visit http://evil.example</b>");
    register_as(&app, "sam@example.edu", PASSWORD, "Sam", &sneaky).await;
    register_as(&app, "sid@example.edu", PASSWORD, "Sid", "TotallyUnknownAgent/1.0 http://evil.example")
        .await;
    let sam = &app.mail.to("sam@example.edu")[0];
    let sid = &app.mail.to("sid@example.edu")[0];
    let today = app.clock_words();
    assert!(sam.text.contains(&format!("on {today}")), "{}", sam.text);
    assert!(sam.text.contains("from Firefox on Linux"), "{}", sam.text);
    assert!(sid.text.contains("from Unknown device"), "{}", sid.text);
    for mail in [sam, sid] {
        for body in [&mail.text, &mail.html] {
            assert!(
                !body.contains("evil.example") && !body.contains("Mozilla"),
                "raw User-Agent leaked: {body}"
            );
        }
    }
}

async fn names_refuse_format_controls_and_mail_carries_none_of_them(app: App) {
    for name in ["Alice\u{202E}gnp.exe", "Bob\u{200B}", "\u{2066}Eve\u{2069}", "Zed\u{FEFF}"] {
        let res = register_as(&app, "ctl@example.edu", PASSWORD, name, FIREFOX).await;
        assert_eq!((res.status, res.code()), (StatusCode::BAD_REQUEST, "invalid_request"), "{name:?}");
    }
    assert!(app.mail.to("ctl@example.edu").is_empty(), "nothing written, nothing mailed");
    // Joiners that scripts need are names, not controls.
    let persian = register_as(&app, "niknam@example.edu", PASSWORD, "نیک\u{200C}نام", FIREFOX).await;
    assert_eq!(persian.status, StatusCode::ACCEPTED);
    // A name is the registrant's text, which an address that confirmed nothing never receives.
    register_as(&app, "url@example.edu", PASSWORD, "Visit http://evil.example now", FIREFOX).await;
    let mail = &app.mail.to("url@example.edu")[0];
    for body in [&mail.text, &mail.html] {
        assert!(!body.contains("evil.example") && !body.contains("Visit"), "{body}");
    }
}

async fn registrations_per_address_are_limited(app: App) {
    for _ in 0..5 {
        assert_eq!(
            register_as(&app, "bomb@example.edu", PASSWORD, "B", FIREFOX).await.status,
            StatusCode::ACCEPTED
        );
    }
    let sixth = register_as(&app, "bomb@example.edu", PASSWORD, "B", FIREFOX).await;
    assert_eq!((sixth.status, sixth.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
    assert!(sixth.headers.contains_key(header::RETRY_AFTER));
    assert_eq!(app.mail.to("bomb@example.edu").len(), 5);
    // Other addresses are not affected.
    assert_eq!(
        register_as(&app, "calm@example.edu", PASSWORD, "C", FIREFOX).await.status,
        StatusCode::ACCEPTED
    );
}

async fn a_verified_account_is_never_changed_by_a_registration(app: App) {
    let email = "vera@example.edu";
    register_as(&app, email, PASSWORD, "Vera", FIREFOX).await;
    let first = link_tokens(&app, email).remove(0);
    assert_eq!(verify(&app, &first).await.status, StatusCode::OK);
    let again = register_as(&app, email, ATTACKER_PASSWORD, "Mallory", FIREFOX).await;
    assert_eq!((again.status, &again.body), (StatusCode::ACCEPTED, &json!({"status": "verification_sent"})));
    assert_eq!(link_tokens(&app, email).len(), 1, "no new link for a verified account");
    let notice = app.mail.to(email).pop().unwrap();
    assert!(notice.text.contains("already has one"), "{}", notice.text);
    assert_eq!(sign_in(&app, email, ATTACKER_PASSWORD).await.code(), "invalid_credentials");
    let owner = sign_in(&app, email, PASSWORD).await;
    assert_eq!(owner.body["user"]["name"], Value::from("Vera"));
}

trait ClockWords {
    /// Today's date as the verification mail writes it.
    fn clock_words(&self) -> String;
}

impl ClockWords for App {
    fn clock_words(&self) -> String {
        use carpool::clock::Clock;
        let format = time::macros::format_description!("[day padding:none] [month repr:long] [year]");
        self.clock.now().format(format).unwrap()
    }
}
