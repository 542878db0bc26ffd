//! API.md "Driver" through the HTTP layer, on both stores: license entry, applying, toggling,
//! the expiry rule at every read, and bad input (each a clear 4xx with nothing written).

mod support;

use axum::http::StatusCode;
use serde_json::json;
use support::app::*;
use support::driver::*;
use time::Duration;

async fn a_new_user_has_no_driver_profile_yet(app: App) {
    let cookie = app.signed_in("new@example.edu", false).await;
    let state = app.get("/api/auth/driver", Some(&cookie)).await;
    assert_eq!(state.status, StatusCode::OK);
    assert_eq!(
        state.body,
        json!({"capability": "none", "available": false, "license": null, "review": null, "alertsSent": []})
    );
    assert_eq!(app.get("/api/auth/driver", None).await.code(), "unauthenticated");
}

async fn a_license_is_entered_and_shown_without_its_number(app: App) {
    let cookie = app.signed_in("lic@example.edu", false).await;
    let expires = app.campus_today() + Duration::days(400);
    let put = app.put("/api/auth/driver/license", license(" Alice  Example ", expires), Some(&cookie)).await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    assert_eq!(
        put.body["license"],
        json!({
            "legalName": "Alice Example",
            "numberLast4": "4567",
            "region": "US-CA",
            "expiresOn": expires.to_string(),
            "daysLeft": 400,
            "expired": false,
            "verification": "manual"
        })
    );
    assert!(!put.body.to_string().contains("1234567"), "the full number never leaves the server");
    assert_eq!(app.get("/api/auth/driver", Some(&cookie)).await.body, put.body);
    let session = app.get("/api/auth/session", Some(&cookie)).await;
    assert_eq!(session.body["user"]["driver"]["hasLicense"], true);
    assert_eq!(session.body["user"]["driver"]["licenseExpiresOn"], expires.to_string());
}

async fn bad_licenses_are_422_and_change_nothing(app: App) {
    let cookie = app.with_license("bad@example.edu", 100).await;
    let before = app.get("/api/auth/driver", Some(&cookie)).await.body;
    let today = app.campus_today();
    let ok = license("Alice Example", today + Duration::days(30));
    let with = |field: &str, value: serde_json::Value| {
        let mut body = ok.clone();
        body[field] = value;
        body
    };
    for (body, needle) in [
        (with("expiresOn", json!("2027-02-30")), "expiresOn"),
        (with("expiresOn", json!("2090-01-01")), "expiresOn"),
        (with("expiresOn", json!("1990-01-01")), "expiresOn"),
        (with("region", json!("Atlantis")), "region"),
        (with("region", json!("  ")), "region"),
        (with("number", json!("12")), "number"),
        (with("number", json!("D12345678901234567890123")), "number"),
        (with("legalName", json!("")), "name"),
    ] {
        let res = app.put("/api/auth/driver/license", body.clone(), Some(&cookie)).await;
        assert_eq!((res.status, res.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_license"), "{body}");
        assert!(res.body["error"]["message"].as_str().unwrap().contains(needle), "{}", res.body);
    }
    let expired = app
        .put(
            "/api/auth/driver/license",
            with("expiresOn", json!((today - Duration::days(1)).to_string())),
            Some(&cookie),
        )
        .await;
    assert_eq!((expired.status, expired.code()), (StatusCode::UNPROCESSABLE_ENTITY, "license_expired"));
    let missing = app.put("/api/auth/driver/license", json!({"legalName": "A"}), Some(&cookie)).await;
    assert_eq!((missing.status, missing.code()), (StatusCode::BAD_REQUEST, "invalid_request"));
    assert_eq!(app.get("/api/auth/driver", Some(&cookie)).await.body, before, "nothing written");
}

async fn applying_needs_a_live_license_and_an_admin(app: App) {
    let cookie = app.signed_in("apply@example.edu", false).await;
    let none = app.post("/api/auth/driver/enable", json!({}), Some(&cookie)).await;
    assert_eq!((none.status, none.code()), (StatusCode::CONFLICT, "license_required"));
    let cookie = app.with_license("apply2@example.edu", 100).await;
    let applied = app.post("/api/auth/driver/enable", json!({}), Some(&cookie)).await;
    assert_eq!(applied.status, StatusCode::ACCEPTED);
    assert_eq!(applied.body["capability"], "pending_review");
    assert_eq!(applied.body["review"]["status"], "pending");
    let again = app.post("/api/auth/driver/enable", json!({}), Some(&cookie)).await;
    assert_eq!(again.status, StatusCode::ACCEPTED, "still waiting");
    let on = app.post("/api/auth/driver/toggle", json!({"available": true}), Some(&cookie)).await;
    assert_eq!((on.status, on.code()), (StatusCode::FORBIDDEN, "driver_not_approved"));
    let off = app.post("/api/auth/driver/toggle", json!({"available": false}), Some(&cookie)).await;
    assert_eq!(off.status, StatusCode::OK, "turning off always works");
}

async fn an_approved_driver_toggles_and_the_expiry_day_switches_them_off(app: App) {
    let admin = app.admin("admin@example.edu").await;
    let cookie = app.approved_driver("drive@example.edu", 2, &admin).await;
    let state = app.get("/api/auth/driver", Some(&cookie)).await;
    assert_eq!(state.body["capability"], "approved");
    assert_eq!(state.body["available"], false, "approval leaves availability off");
    let on = app.post("/api/auth/driver/toggle", json!({"available": true}), Some(&cookie)).await;
    assert_eq!((on.status, on.body["available"].clone()), (StatusCode::OK, json!(true)));

    // Two days on, before any sweep ran: the read applies the expiry rule itself.
    app.clock.advance(Duration::days(2));
    let signin = json!({"email": "drive@example.edu", "password": PASSWORD});
    let cookie = app.post("/api/auth/signin", signin, None).await.session_cookie();
    let state = app.get("/api/auth/driver", Some(&cookie)).await;
    assert_eq!(state.body["available"], false);
    assert_eq!(state.body["license"]["expired"], true);
    assert_eq!(state.body["license"]["daysLeft"], 0);
    let session = app.get("/api/auth/session", Some(&cookie)).await;
    assert_eq!(session.body["user"]["driver"]["available"], false);
    let on = app.post("/api/auth/driver/toggle", json!({"available": true}), Some(&cookie)).await;
    assert_eq!((on.status, on.code()), (StatusCode::CONFLICT, "license_expired"));
    let enable = app.post("/api/auth/driver/enable", json!({}), Some(&cookie)).await;
    assert_eq!((enable.status, enable.code()), (StatusCode::CONFLICT, "license_expired"));

    // A renewed license leaves availability off until a toggle.
    let renewed = license("Alice Example", app.campus_today() + Duration::days(1000));
    let put = app.put("/api/auth/driver/license", renewed, Some(&cookie)).await;
    assert_eq!(put.body["available"], false);
    let on = app.post("/api/auth/driver/toggle", json!({"available": true}), Some(&cookie)).await;
    assert_eq!(on.body["available"], true);
    let enable = app.post("/api/auth/driver/enable", json!({}), Some(&cookie)).await;
    assert_eq!(enable.status, StatusCode::OK, "already approved");
}

async fn driver_routes_are_rate_limited(app: App) {
    let cookie = app.with_license("busy@example.edu", 100).await;
    for _ in 0..30 {
        let off = app.post("/api/auth/driver/toggle", json!({"available": false}), Some(&cookie)).await;
        assert_eq!(off.status, StatusCode::OK);
    }
    let limited = app.post("/api/auth/driver/toggle", json!({"available": false}), Some(&cookie)).await;
    assert_eq!((limited.status, limited.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
    assert!(limited.headers.contains_key("retry-after"));
}

on_both_stores!(embedded, dynamo;
    a_new_user_has_no_driver_profile_yet,
    a_license_is_entered_and_shown_without_its_number,
    bad_licenses_are_422_and_change_nothing,
    applying_needs_a_live_license_and_an_admin,
    an_approved_driver_toggles_and_the_expiry_day_switches_them_off,
    driver_routes_are_rate_limited,
);
