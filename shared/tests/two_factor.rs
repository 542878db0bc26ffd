//! Two-factor sign-in (TOTP) on both stores, with time moved by the clock: setup, confirm with
//! recovery codes, sign-in that wants a code after the password, ±1 step of drift, replay and
//! concurrent use refused, recovery codes single-use, disable with password and code, attempts
//! limited per account, the key sealed at rest, every change audited and mailed.

mod support;

use axum::http::{header, StatusCode};
use carpool::clock::Clock;
use carpool::domain::totp::{RecoveryCode, TotpKey};
use carpool::rate_limit::{Limit, Rule};
use carpool::repo::audit::{for_user, AuditAction};
use carpool::repo::two_factor::{put_recovery_code, recovery_code_keys};
use carpool::store::Key;
use serde_json::{json, Value};
use std::sync::Arc;
use support::app::*;
use time::Duration;
use ulid::Ulid;

/// Most cases send many codes; the per-account limit has its own case.
fn lift_code_limits(config: &mut carpool::config::AuthConfig) {
    config.rate_limits.set(Rule::TwoFactorUser, Limit { max: 1000, window_secs: 60 });
    config.rate_limits.set(Rule::SigninEmail, Limit { max: 1000, window_secs: 60 });
}

async fn embedded_app() -> App {
    embedded_with(lift_code_limits).await
}

async fn dynamo_app() -> App {
    dynamo_with(lift_code_limits).await
}

on_both_stores!(embedded_app, dynamo_app;
    setup_and_confirm_turn_it_on,
    sign_in_wants_a_fresh_code_after_the_password,
    one_step_of_drift_either_way,
    a_step_before_one_accepted_is_refused,
    confirm_while_on_spends_no_code_budget,
    wrong_formats_are_refused,
    recovery_codes_work_once,
    disable_needs_password_and_code,
    disable_with_a_recovery_code,
    recovery_codes_can_be_renewed,
    setup_rules,
    key_and_codes_are_not_stored_in_clear,
    concurrent_uses_of_one_code_sign_in_once,
    changes_are_audited_and_mailed,
    repeated_wrong_codes_tell_the_owner,
);

/// With the default limits.
mod default_limits {
    use super::*;
    on_both_stores!(embedded, dynamo; attempts_are_limited_per_account);
}

/// A signed-in account with two-factor on: its cookie, key and recovery codes.
struct Enrolled {
    cookie: String,
    key: TotpKey,
    recovery: Vec<String>,
}

fn key_from(setup: &Value) -> TotpKey {
    TotpKey::from_base32(setup["secret"].as_str().unwrap()).unwrap()
}

fn code_now(app: &App, key: &TotpKey) -> String {
    key.code_at(app.clock.epoch_seconds())
}

/// The next step's code is a different code: moves the clock on a step first.
fn fresh_code(app: &App, key: &TotpKey) -> String {
    app.clock.advance(Duration::seconds(30));
    code_now(app, key)
}

async fn setup(app: &App, cookie: &str) -> Reply {
    app.post("/api/auth/2fa/totp/setup", json!({ "password": PASSWORD }), Some(cookie)).await
}

async fn confirm(app: &App, cookie: &str, code: &str) -> Reply {
    app.post("/api/auth/2fa/totp/confirm", json!({ "code": code }), Some(cookie)).await
}

async fn disable(app: &App, cookie: &str, password: &str, code: &str) -> Reply {
    app.post("/api/auth/2fa/totp/disable", json!({ "password": password, "code": code }), Some(cookie)).await
}

async fn signin(app: &App, email: &str, code: Option<&str>) -> Reply {
    let mut body = json!({ "email": email, "password": PASSWORD });
    if let Some(code) = code {
        body["totpCode"] = code.into();
    }
    app.post("/api/auth/signin", body, None).await
}

async fn enroll(app: &App, email: &str) -> Enrolled {
    let cookie = app.signed_in(email, false).await;
    let started = setup(app, &cookie).await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    let key = key_from(&started.body);
    let confirmed = confirm(app, &cookie, &code_now(app, &key)).await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
    let recovery = confirmed.body["recoveryCodes"].as_array().unwrap();
    Enrolled { cookie, key, recovery: recovery.iter().map(|c| c.as_str().unwrap().to_owned()).collect() }
}

async fn user_id(app: &App, cookie: &str) -> Ulid {
    app.get("/api/auth/session", Some(cookie)).await.body["user"]["id"].as_str().unwrap().parse().unwrap()
}

fn refused(reply: &Reply, code: &str) {
    assert_eq!((reply.status, reply.code()), (StatusCode::UNAUTHORIZED, code), "{}", reply.body);
    assert!(reply.set_cookies().is_empty(), "no session without the second factor");
}

async fn setup_and_confirm_turn_it_on(app: App) {
    let cookie = app.signed_in("tara@example.edu", false).await;
    let before = app.get("/api/auth/session", Some(&cookie)).await;
    assert_eq!(before.body["user"]["twoFactorEnabled"], false);

    let started = setup(&app, &cookie).await;
    assert_eq!(started.status, StatusCode::OK);
    let secret = started.body["secret"].as_str().unwrap();
    assert_eq!(secret.len(), 32, "160 bits in base32");
    let uri = started.body["otpauthUri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/Campus%20Carpool:tara%40example.edu?"), "{uri}");
    assert!(uri.contains(&format!("secret={secret}")) && uri.contains("issuer=Campus%20Carpool"));

    let key = key_from(&started.body);
    let right = code_now(&app, &key);
    let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 500_000) % 1_000_000);
    refused(&confirm(&app, &cookie, &wrong).await, "invalid_totp");
    let confirmed = confirm(&app, &cookie, &right).await;
    assert_eq!(confirmed.status, StatusCode::OK);
    let codes = confirmed.body["recoveryCodes"].as_array().unwrap();
    assert_eq!(codes.len(), 10);
    let distinct: std::collections::HashSet<_> = codes.iter().collect();
    assert_eq!(distinct.len(), 10);
    for code in codes {
        let code = code.as_str().unwrap();
        assert_eq!(code.len(), 19);
        assert_eq!(code.matches('-').count(), 3);
    }

    let after = app.get("/api/auth/session", Some(&cookie)).await;
    assert_eq!(after.body["user"]["twoFactorEnabled"], true, "this session sees the change at once");
    let again = confirm(&app, &cookie, &fresh_code(&app, &key)).await;
    assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "two_factor_already_enabled"));
}

async fn sign_in_wants_a_fresh_code_after_the_password(app: App) {
    let enrolled = enroll(&app, "uri@example.edu").await;
    refused(&signin(&app, "uri@example.edu", None).await, "totp_required");
    // A wrong password says nothing about two-factor.
    let wrong = app
        .post("/api/auth/signin", json!({"email": "uri@example.edu", "password": "not it at all"}), None)
        .await;
    refused(&wrong, "invalid_credentials");

    // The code that confirmed the setup is used up.
    refused(&signin(&app, "uri@example.edu", Some(&code_now(&app, &enrolled.key))).await, "invalid_totp");
    let code = fresh_code(&app, &enrolled.key);
    let ok = signin(&app, "uri@example.edu", Some(&code)).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.body["user"]["twoFactorEnabled"], true);
    let cookie = ok.session_cookie();
    assert_eq!(app.get("/api/auth/session", Some(&cookie)).await.status, StatusCode::OK);
    refused(&signin(&app, "uri@example.edu", Some(&code)).await, "invalid_totp");
}

async fn one_step_of_drift_either_way(app: App) {
    let enrolled = enroll(&app, "vic@example.edu").await;
    app.clock.advance(Duration::minutes(5));
    let now = app.clock.epoch_seconds();
    for (offset, expected) in [(-60, StatusCode::UNAUTHORIZED), (60, StatusCode::UNAUTHORIZED)] {
        let reply = signin(&app, "vic@example.edu", Some(&enrolled.key.code_at(now + offset))).await;
        assert_eq!(reply.status, expected, "two steps off ({offset} s) is too far");
    }
    for offset in [-30, 0, 30] {
        let reply = signin(&app, "vic@example.edu", Some(&enrolled.key.code_at(now + offset))).await;
        assert_eq!(reply.status, StatusCode::OK, "{offset} s off is within drift: {}", reply.body);
    }
}

/// RFC 6238 §5.2: once a code is accepted, codes of that step and earlier ones are refused, even
/// those still within the drift window.
async fn a_step_before_one_accepted_is_refused(app: App) {
    let enrolled = enroll(&app, "ola@example.edu").await;
    app.clock.advance(Duration::minutes(5));
    let now = app.clock.epoch_seconds();
    let (earlier, later) = (enrolled.key.code_at(now - 30), enrolled.key.code_at(now + 30));
    assert_eq!(signin(&app, "ola@example.edu", Some(&later)).await.status, StatusCode::OK);
    refused(&signin(&app, "ola@example.edu", Some(&enrolled.key.code_at(now))).await, "invalid_totp");
    refused(&signin(&app, "ola@example.edu", Some(&earlier)).await, "invalid_totp");
    app.clock.advance(Duration::seconds(60));
    let next = enrolled.key.code_at(app.clock.epoch_seconds());
    assert_eq!(signin(&app, "ola@example.edu", Some(&next)).await.status, StatusCode::OK);
}

async fn confirm_while_on_spends_no_code_budget(app: App) {
    let enrolled = enroll(&app, "pia@example.edu").await;
    for _ in 0..10 {
        let again = confirm(&app, &enrolled.cookie, "123456").await;
        assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "two_factor_already_enabled"));
    }
    let code = fresh_code(&app, &enrolled.key);
    assert_eq!(signin(&app, "pia@example.edu", Some(&code)).await.status, StatusCode::OK, "budget intact");
}

async fn wrong_formats_are_refused(app: App) {
    let enrolled = enroll(&app, "wes@example.edu").await;
    let good = fresh_code(&app, &enrolled.key);
    let spaced = format!("{} {}", &good[..3], &good[3..]);
    let five = good[..5].to_owned();
    for bad in
        [&five, &format!("{good}0"), "12a456", "abcdef", &spaced, &format!(" {good}"), "", "１２３４５６"]
    {
        refused(&signin(&app, "wes@example.edu", Some(bad)).await, "invalid_totp");
        refused(&disable(&app, &enrolled.cookie, PASSWORD, bad).await, "invalid_totp");
    }
    let used_up = enrolled.recovery[0].clone();
    refused(&signin(&app, "wes@example.edu", Some(&format!("{used_up}x"))).await, "invalid_totp");
    // A number is the wrong type (and would lose leading zeros).
    let number = app
        .post(
            "/api/auth/signin",
            json!({"email": "wes@example.edu", "password": PASSWORD, "totpCode": 123456}),
            None,
        )
        .await;
    assert_eq!((number.status, number.code()), (StatusCode::BAD_REQUEST, "invalid_request"));
    let huge = "9".repeat(10_000);
    refused(&signin(&app, "wes@example.edu", Some(&huge)).await, "invalid_totp");
    // None of these used the good code up.
    assert_eq!(signin(&app, "wes@example.edu", Some(&good)).await.status, StatusCode::OK);
}

async fn recovery_codes_work_once(app: App) {
    let enrolled = enroll(&app, "xia@example.edu").await;
    // Typed without dashes and in capitals: still the code.
    let typed = enrolled.recovery[3].replace('-', "").to_uppercase();
    let ok = signin(&app, "xia@example.edu", Some(&typed)).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let notice =
        app.mail.to("xia@example.edu").into_iter().find(|m| m.subject.contains("recovery code")).unwrap();
    assert!(notice.text.contains("You have 9 left."), "{}", notice.text);
    refused(&signin(&app, "xia@example.edu", Some(&enrolled.recovery[3])).await, "invalid_totp");
    refused(&signin(&app, "xia@example.edu", Some("abcd-efgh-jkmn-pqrs")).await, "invalid_totp");
    assert_eq!(signin(&app, "xia@example.edu", Some(&enrolled.recovery[4])).await.status, StatusCode::OK);
    // Someone else's recovery code is no use here.
    let other = enroll(&app, "other@example.edu").await;
    refused(&signin(&app, "xia@example.edu", Some(&other.recovery[0])).await, "invalid_totp");
}

async fn disable_needs_password_and_code(app: App) {
    let enrolled = enroll(&app, "yan@example.edu").await;
    let user = user_id(&app, &enrolled.cookie).await;
    let code = fresh_code(&app, &enrolled.key);
    refused(&disable(&app, &enrolled.cookie, "not the password", &code).await, "invalid_credentials");
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    refused(&disable(&app, &enrolled.cookie, PASSWORD, &wrong).await, "invalid_totp");
    let off = disable(&app, &enrolled.cookie, PASSWORD, &code).await;
    assert_eq!((off.status, &off.body), (StatusCode::OK, &json!({"twoFactorEnabled": false})));

    assert_eq!(
        app.get("/api/auth/session", Some(&enrolled.cookie)).await.body["user"]["twoFactorEnabled"],
        false
    );
    assert!(
        recovery_code_keys(app.store.as_ref(), user).await.unwrap().is_empty(),
        "recovery codes are gone"
    );
    assert_eq!(
        signin(&app, "yan@example.edu", None).await.status,
        StatusCode::OK,
        "a password alone signs in"
    );
    let again = disable(&app, &enrolled.cookie, PASSWORD, &fresh_code(&app, &enrolled.key)).await;
    assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "two_factor_not_enabled"));

    // It can be turned on again, with a new key.
    let restarted = setup(&app, &enrolled.cookie).await;
    let new_key = key_from(&restarted.body);
    assert_ne!(new_key.bytes(), enrolled.key.bytes());
    assert_eq!(confirm(&app, &enrolled.cookie, &code_now(&app, &new_key)).await.status, StatusCode::OK);
}

async fn disable_with_a_recovery_code(app: App) {
    let enrolled = enroll(&app, "zed@example.edu").await;
    let user = user_id(&app, &enrolled.cookie).await;
    let off = disable(&app, &enrolled.cookie, PASSWORD, &enrolled.recovery[9]).await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.body);
    assert!(recovery_code_keys(app.store.as_ref(), user).await.unwrap().is_empty());
    assert_eq!(signin(&app, "zed@example.edu", None).await.status, StatusCode::OK);
}

async fn renew(app: &App, cookie: &str, password: &str, code: &str) -> Reply {
    app.post("/api/auth/2fa/recovery-codes", json!({ "password": password, "code": code }), Some(cookie))
        .await
}

async fn recovery_codes_can_be_renewed(app: App) {
    let enrolled = enroll(&app, "ren@example.edu").await;
    let user = user_id(&app, &enrolled.cookie).await;
    let code = fresh_code(&app, &enrolled.key);
    refused(&renew(&app, &enrolled.cookie, "not the password", &code).await, "invalid_credentials");
    refused(&renew(&app, &enrolled.cookie, PASSWORD, "12345").await, "invalid_totp");

    // Paid for with one of the old recovery codes: all ten old ones stop working.
    let renewed = renew(&app, &enrolled.cookie, PASSWORD, &enrolled.recovery[0]).await;
    assert_eq!(renewed.status, StatusCode::OK, "{}", renewed.body);
    let fresh: Vec<String> = renewed.body["recoveryCodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fresh.len(), 10);
    assert!(fresh.iter().all(|c| !enrolled.recovery.contains(c)));
    assert_eq!(recovery_code_keys(app.store.as_ref(), user).await.unwrap().len(), 10);
    refused(&signin(&app, "ren@example.edu", Some(&enrolled.recovery[1])).await, "invalid_totp");
    assert_eq!(signin(&app, "ren@example.edu", Some(&fresh[0])).await.status, StatusCode::OK);
    let subjects: Vec<String> = app.mail.to("ren@example.edu").iter().map(|m| m.subject.clone()).collect();
    assert!(subjects.iter().any(|s| s.contains("New recovery codes")), "{subjects:?}");

    // With a TOTP code too; and not at all once two-factor is off.
    assert_eq!(renew(&app, &enrolled.cookie, PASSWORD, &code).await.status, StatusCode::OK);
    let off = disable(&app, &enrolled.cookie, PASSWORD, &fresh_code(&app, &enrolled.key)).await;
    assert_eq!(off.status, StatusCode::OK);
    let after = renew(&app, &enrolled.cookie, PASSWORD, &fresh_code(&app, &enrolled.key)).await;
    assert_eq!((after.status, after.code()), (StatusCode::CONFLICT, "two_factor_not_enabled"));
    assert!(recovery_code_keys(app.store.as_ref(), user).await.unwrap().is_empty());
}

async fn setup_rules(app: App) {
    assert_eq!(app.post("/api/auth/2fa/totp/setup", json!({}), None).await.status, StatusCode::UNAUTHORIZED);
    let cookie = app.signed_in("amy@example.edu", false).await;
    // The password is asked first: a stolen session alone cannot enrol an authenticator.
    let wrong =
        app.post("/api/auth/2fa/totp/setup", json!({"password": "not the password"}), Some(&cookie)).await;
    refused(&wrong, "invalid_credentials");
    let missing = app.post("/api/auth/2fa/totp/setup", json!({}), Some(&cookie)).await;
    assert_eq!((missing.status, missing.code()), (StatusCode::BAD_REQUEST, "invalid_request"));
    let none = confirm(&app, &cookie, "123456").await;
    assert_eq!((none.status, none.code()), (StatusCode::CONFLICT, "two_factor_setup_required"));

    // A second setup replaces the first.
    let first = key_from(&setup(&app, &cookie).await.body);
    let second = key_from(&setup(&app, &cookie).await.body);
    refused(&confirm(&app, &cookie, &code_now(&app, &first)).await, "invalid_totp");

    // A setup waits 15 minutes for its first code.
    app.clock.advance(Duration::minutes(16));
    let late = confirm(&app, &cookie, &code_now(&app, &second)).await;
    assert_eq!((late.status, late.code()), (StatusCode::CONFLICT, "two_factor_setup_required"));
    assert_eq!(app.get("/api/auth/session", Some(&cookie)).await.body["user"]["twoFactorEnabled"], false);

    // A recovery code left over from an earlier enrolment (say, a race with its disable) dies
    // when two-factor is turned on again.
    let user = user_id(&app, &cookie).await;
    let stale = RecoveryCode::generate();
    app.store.write(vec![put_recovery_code(user, &stale)]).await.unwrap();
    let third = key_from(&setup(&app, &cookie).await.body);
    assert_eq!(confirm(&app, &cookie, &code_now(&app, &third)).await.status, StatusCode::OK);
    refused(&signin(&app, "amy@example.edu", Some(&stale.display())).await, "invalid_totp");
    assert_eq!(recovery_code_keys(app.store.as_ref(), user).await.unwrap().len(), 10);
    let on = setup(&app, &cookie).await;
    assert_eq!((on.status, on.code()), (StatusCode::CONFLICT, "two_factor_already_enabled"));
}

async fn key_and_codes_are_not_stored_in_clear(app: App) {
    let enrolled = enroll(&app, "bea@example.edu").await;
    let user = user_id(&app, &enrolled.cookie).await;
    let item = app.store.get(&Key::new(format!("USER#{user}"), "TOTP")).await.unwrap().unwrap();
    let stored = serde_json::to_string(&item.attrs).unwrap();
    let base32 = enrolled.key.base32();
    assert!(!stored.contains(&base32) && !stored.contains(&base32.to_lowercase()), "{stored}");
    let sealed = item.attrs["sealedKey"].as_str().unwrap();
    assert!(sealed.starts_with("test."), "sealed with the configured key ring: {sealed}");

    let keys = recovery_code_keys(app.store.as_ref(), user).await.unwrap();
    assert_eq!(keys.len(), 10);
    for code in &enrolled.recovery {
        let plain = code.replace('-', "");
        assert!(keys.iter().all(|k| !k.sk.contains(&plain)), "recovery codes are stored as digests");
    }
}

async fn concurrent_uses_of_one_code_sign_in_once(app: App) {
    let enrolled = enroll(&app, "cal@example.edu").await;
    let app = Arc::new(app);
    for code in [fresh_code(&app, &enrolled.key), enrolled.recovery[0].clone()] {
        let attempts = (0..8).map(|_| {
            let (app, code) = (app.clone(), code.clone());
            tokio::spawn(async move { signin(&app, "cal@example.edu", Some(&code)).await.status })
        });
        let statuses: Vec<StatusCode> = statuses(attempts).await;
        assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1, "{statuses:?}");
        // Beyond the lockout budget, attempts are refused before any checking (423).
        let answered = [StatusCode::OK, StatusCode::UNAUTHORIZED, StatusCode::LOCKED];
        assert!(statuses.iter().all(|s| answered.contains(s)), "{statuses:?}");
    }
}

async fn statuses(handles: impl Iterator<Item = tokio::task::JoinHandle<StatusCode>>) -> Vec<StatusCode> {
    let mut out = Vec::new();
    for handle in handles.collect::<Vec<_>>() {
        out.push(handle.await.unwrap());
    }
    out
}

async fn changes_are_audited_and_mailed(app: App) {
    let enrolled = enroll(&app, "dov@example.edu").await;
    let user = user_id(&app, &enrolled.cookie).await;
    refused(&signin(&app, "dov@example.edu", Some("000000x")).await, "invalid_totp");
    assert_eq!(signin(&app, "dov@example.edu", Some(&enrolled.recovery[0])).await.status, StatusCode::OK);
    let off = disable(&app, &enrolled.cookie, PASSWORD, &fresh_code(&app, &enrolled.key)).await;
    assert_eq!(off.status, StatusCode::OK);

    let records = for_user(app.store.as_ref(), user, 50).await.unwrap();
    let actions: Vec<AuditAction> = records.iter().map(|r| r.action).collect();
    for expected in [
        AuditAction::TwoFactorEnabled,
        AuditAction::TwoFactorFailed,
        AuditAction::RecoveryCodeUsed,
        AuditAction::TwoFactorDisabled,
    ] {
        assert!(actions.contains(&expected), "{expected:?} in {actions:?}");
    }
    assert_eq!(actions[0], AuditAction::TwoFactorDisabled, "newest first");
    let text = serde_json::to_string(&records).unwrap();
    for code in &enrolled.recovery {
        assert!(!text.contains(code.as_str()), "no code in audit records");
    }

    let subjects: Vec<String> = app.mail.to("dov@example.edu").iter().map(|m| m.subject.clone()).collect();
    for expected in ["Two-factor sign-in is on", "A recovery code was used", "Two-factor sign-in is off"] {
        assert!(subjects.iter().any(|s| s.contains(expected)), "{expected} in {subjects:?}");
    }
}

/// Default limits: five attempts (code or password) per account per 15 minutes, whichever endpoint.
async fn attempts_are_limited_per_account(app: App) {
    let enrolled = enroll(&app, "eli@example.edu").await;
    // The confirm above was attempt one (the setup's password check counts with password changes).
    for _ in 0..4 {
        refused(&signin(&app, "eli@example.edu", Some("000000x")).await, "invalid_totp");
    }
    // A good code (the next step's, within drift) without moving the clock across a window.
    let next_step = enrolled.key.code_at(app.clock.epoch_seconds() + 30);
    let limited = signin(&app, "eli@example.edu", Some(&next_step)).await;
    assert_eq!((limited.status, limited.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
    let retry: i64 = limited.headers[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    let also = disable(&app, &enrolled.cookie, PASSWORD, &next_step).await;
    assert_eq!(also.status, StatusCode::TOO_MANY_REQUESTS, "the limit is per account, on every endpoint");
    // Asking for the code is not an attempt.
    refused(&signin(&app, "eli@example.edu", None).await, "totp_required");

    app.clock.advance(Duration::minutes(15));
    assert_eq!(
        signin(&app, "eli@example.edu", Some(&code_now(&app, &enrolled.key))).await.status,
        StatusCode::OK
    );
}

async fn repeated_wrong_codes_tell_the_owner(app: App) {
    let enrolled = enroll(&app, "fay@example.edu").await;
    let warnings = |app: &App| {
        app.mail
            .to("fay@example.edu")
            .into_iter()
            .filter(|m| m.subject.contains("Someone has your password"))
            .count()
    };
    let used = code_now(&app, &enrolled.key);
    refused(&signin(&app, "fay@example.edu", Some("000000x")).await, "invalid_totp");
    refused(&signin(&app, "fay@example.edu", Some(&used)).await, "invalid_totp");
    assert_eq!(warnings(&app), 0, "two slips are not yet a pattern");
    refused(&signin(&app, "fay@example.edu", Some("999999x")).await, "invalid_totp");
    assert_eq!(warnings(&app), 1, "the third wrong code tells the owner");
    let notice = app.mail.to("fay@example.edu").into_iter().find(|m| m.subject.contains("Someone")).unwrap();
    assert!(notice.text.contains("3 times") && notice.text.contains("/forgot-password"), "{}", notice.text);
    refused(&signin(&app, "fay@example.edu", Some("999999x")).await, "invalid_totp");
    assert_eq!(warnings(&app), 1, "once per window");
    // Asking for a code, or a wrong password, is not a second-factor failure.
    refused(&signin(&app, "fay@example.edu", None).await, "totp_required");
    app.clock.advance(Duration::minutes(15));
    for _ in 0..3 {
        refused(&signin(&app, "fay@example.edu", Some("999999x")).await, "invalid_totp");
    }
    assert_eq!(warnings(&app), 2, "a new window, a new notice");
}
