//! The expiry sweep against both stores: a clock moved hour by hour through eight days and across
//! two campuses' midnights, each alert once and only the most urgent, the expiry day, renewals,
//! and overlapping runs.

mod support;

use axum::http::StatusCode;
use carpool::clock::Clock;
use carpool::domain::calendar::Calendar;
use carpool::domain::campus::Campus;
use carpool::repo::campuses;
use serde_json::json;
use support::app::*;
use support::driver::*;
use time::{Date, Duration, OffsetDateTime};

fn tokyo() -> Campus {
    Campus {
        id: "tokyo".into(),
        name: "Tokyo Institute".into(),
        domains: vec!["example.jp".into()],
        allow_subdomains: false,
        time_zone: "Asia/Tokyo".into(),
    }
}

/// The subjects of the mail a user got, oldest first.
fn subjects(app: &App, email: &str) -> Vec<String> {
    app.mail.to(email).into_iter().map(|m| m.subject).filter(|s| s.contains("license")).collect()
}

async fn sweep(app: &App) -> carpool::driver::sweep::SweepSummary {
    let summary = app.driver.sweep().await.unwrap();
    app.dispatcher.deliver_due().await.unwrap();
    summary
}

/// A user whose license expires on `expires_on`, entered through the API.
async fn driver_expiring(app: &App, email: &str, expires_on: Date) -> String {
    let cookie = app.signed_in(email, true).await;
    let put = app.put("/api/auth/driver/license", license("Alice Example", expires_on), Some(&cookie)).await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    cookie
}

async fn each_alert_once_at_each_campus_midnight(app: App) {
    campuses::add(app.store.as_ref(), &tokyo()).await.unwrap();
    let ny = Calendar::new("America/New_York").unwrap();
    let tk = Calendar::new("Asia/Tokyo").unwrap();
    let expires = ny.today(app.clock.now()) + Duration::days(9);
    driver_expiring(&app, "ny@example.edu", expires).await;
    driver_expiring(&app, "tk@example.jp", expires).await;
    // Far-off licenses are never read.
    driver_expiring(&app, "later@example.edu", expires + Duration::days(300)).await;

    // Every hour for ten days; note when each alert arrived.
    let mut arrivals: Vec<(String, String, OffsetDateTime)> = Vec::new();
    for _ in 0..24 * 10 {
        app.clock.advance(Duration::hours(1));
        let summary = sweep(&app).await;
        assert!(summary.examined <= 2, "only due licenses are read: {summary:?}");
        for email in ["ny@example.edu", "tk@example.jp"] {
            let got = subjects(&app, email);
            let seen = arrivals.iter().filter(|(e, _, _)| e == email).count();
            for subject in &got[seen..] {
                arrivals.push((email.to_owned(), subject.clone(), app.clock.now()));
            }
        }
    }
    for (email, calendar) in [("ny@example.edu", &ny), ("tk@example.jp", &tk)] {
        let mine: Vec<_> = arrivals.iter().filter(|(e, _, _)| e == email).collect();
        let words: Vec<_> = mine.iter().map(|(_, s, _)| s.as_str()).collect();
        assert_eq!(words.len(), 4, "{email}: {words:?}");
        assert!(words[0].contains("in 7 days") && words[1].contains("in 3 days"), "{words:?}");
        assert!(words[2].contains("tomorrow") && words[3].contains("has expired"), "{words:?}");
        // Each came in the first hour of its campus day.
        for ((_, _, at), days_before) in mine.iter().zip([7, 3, 1, 0]) {
            let due = calendar.start_of(expires - Duration::days(days_before));
            let at = at.unix_timestamp();
            assert!(at >= due && at < due + 3600, "{email} {days_before}d: at {at}, due {due}");
        }
    }
    // The two campuses are 14 hours apart, so their alerts are too.
    let first = |email: &str| arrivals.iter().find(|(e, _, _)| e == email).unwrap().2;
    assert_eq!(first("ny@example.edu") - first("tk@example.jp"), Duration::hours(14));
}

async fn a_late_license_gets_only_the_most_urgent_alert(app: App) {
    let today = app.campus_today();
    let cookie = driver_expiring(&app, "late@example.edu", today + Duration::days(2)).await;
    let summary = sweep(&app).await;
    assert_eq!((summary.examined, summary.alerts_sent), (1, 1));
    assert_eq!(subjects(&app, "late@example.edu").len(), 1);
    assert!(subjects(&app, "late@example.edu")[0].contains("in 3 days"));
    let state = app.get("/api/auth/driver", Some(&cookie)).await;
    assert_eq!(state.body["alertsSent"], json!(["7d", "3d"]));
    assert_eq!(sweep(&app).await.examined, 0, "handled licenses leave the index until their next alert");
}

async fn the_expiry_day_turns_availability_off_and_renewal_starts_over(app: App) {
    let admin = app.admin("admin@example.edu").await;
    let cookie = app.approved_driver("exp@example.edu", 1, &admin).await;
    let on = app.post("/api/auth/driver/toggle", json!({"available": true}), Some(&cookie)).await;
    assert_eq!(on.body["available"], true);
    let cookie = app
        .post(
            "/api/auth/signin",
            json!({"email": "exp@example.edu", "password": PASSWORD, "rememberMe": true}),
            None,
        )
        .await
        .session_cookie();
    assert_eq!(sweep(&app).await.alerts_sent, 1, "the 1-day reminder");
    app.clock.advance(Duration::days(1));
    let summary = sweep(&app).await;
    assert_eq!((summary.alerts_sent, summary.expired), (1, 1));
    let state = app.get("/api/auth/driver", Some(&cookie)).await;
    assert_eq!(state.body["alertsSent"], json!(["7d", "3d", "1d", "expired"]));
    assert_eq!(state.body["available"], false);
    let id = app.user_id("exp@example.edu").await;
    let admin = app
        .post(
            "/api/auth/signin",
            json!({"email": "admin@example.edu", "password": PASSWORD, "rememberMe": true}),
            None,
        )
        .await
        .session_cookie();
    let audit = app.get(&format!("/api/admin/audit?userId={id}"), Some(&admin)).await;
    let newest = &audit.body["records"][0];
    assert_eq!(
        (newest["actor"].clone(), newest["before"].clone(), newest["after"].clone()),
        (json!("system"), json!(true), json!(false))
    );
    assert_eq!(newest["ip"], json!(null));

    let renewed = license("Alice Example", app.campus_today() + Duration::days(20));
    let put = app.put("/api/auth/driver/license", renewed, Some(&cookie)).await;
    assert_eq!(put.body["alertsSent"], json!([]), "a new expiry date clears the alerts");
    assert_eq!(put.body["available"], false);
    assert_eq!(sweep(&app).await.examined, 0, "nothing due for 13 days");
}

async fn overlapping_sweeps_send_each_alert_once(app: App) {
    let today = app.campus_today();
    for i in 0..6 {
        driver_expiring(&app, &format!("d{i}@example.edu"), today + Duration::days(3)).await;
    }
    let (a, b) = tokio::join!(app.driver.sweep(), app.driver.sweep());
    let (a, b) = (a.unwrap(), b.unwrap());
    app.dispatcher.deliver_due().await.unwrap();
    assert_eq!(a.alerts_sent + b.alerts_sent, 6, "{a:?} {b:?}");
    for i in 0..6 {
        assert_eq!(subjects(&app, &format!("d{i}@example.edu")).len(), 1);
    }
    // A retried run sends nothing more.
    assert_eq!(sweep(&app).await.alerts_sent, 0);
}

/// Anyone can register any address with a license: an address that never confirmed gets no
/// reminders (the alerts are settled quietly).
async fn unverified_addresses_get_no_reminders(app: App) {
    let expires = app.campus_today() + Duration::days(3);
    let body = json!({"email": "never@example.edu", "password": PASSWORD, "name": "Never Verified", "license": license("Never Verified", expires)});
    assert_eq!(app.post("/api/auth/register", body, None).await.status, StatusCode::ACCEPTED);
    let summary = sweep(&app).await;
    assert_eq!((summary.examined, summary.alerts_sent), (1, 0));
    assert!(subjects(&app, "never@example.edu").is_empty());
    assert_eq!(sweep(&app).await.examined, 0, "settled: out of the index until the next alert");
}

on_both_stores!(embedded, dynamo;
    unverified_addresses_get_no_reminders,
    each_alert_once_at_each_campus_midnight,
    a_late_license_gets_only_the_most_urgent_alert,
    the_expiry_day_turns_availability_off_and_renewal_starts_over,
    overlapping_sweeps_send_each_alert_once,
);
