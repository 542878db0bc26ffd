//! Campus admins (API.md admin table), on both stores: the review queue, decisions, suspension,
//! the audit history, and the role and campus checks.

mod support;

use axum::http::StatusCode;
use serde_json::json;
use support::app::*;

async fn apply(app: &App, email: &str) -> (String, String) {
    let cookie = app.with_license(email, 200).await;
    let applied = app.post("/api/auth/driver/enable", json!({}), Some(&cookie)).await;
    assert_eq!(applied.status, StatusCode::ACCEPTED);
    (cookie, app.user_id(email).await)
}

async fn only_admins_of_the_campus_see_and_decide(app: App) {
    // The test app seeds a second campus, `other.edu` (`support::app::other_campus`).
    let (applicant, id) = apply(&app, "applicant@example.edu").await;
    let plain = app.signed_in("plain@example.edu", false).await;
    let refused = app.get("/api/admin/driver-reviews", Some(&plain)).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::FORBIDDEN, "admin_required"));
    let decide = app
        .post(&format!("/api/admin/driver-reviews/{id}"), json!({"decision": "approve"}), Some(&plain))
        .await;
    assert_eq!(decide.code(), "admin_required");

    // An admin of another campus sees nothing of this one, and its users are unknown to them.
    let foreign = app.admin("boss@other.edu").await;
    let list = app.get("/api/admin/driver-reviews", Some(&foreign)).await;
    assert_eq!(list.body, json!({"reviews": [], "nextCursor": null}));
    for path in [format!("/api/admin/driver-reviews/{id}"), format!("/api/admin/drivers/{id}/suspend")] {
        let res = app.post(&path, json!({"decision": "approve", "reason": "x"}), Some(&foreign)).await;
        assert_eq!((res.status, res.code()), (StatusCode::NOT_FOUND, "not_found"), "{path}");
    }
    let audit = app.get(&format!("/api/admin/audit?userId={id}"), Some(&foreign)).await;
    assert_eq!(audit.status, StatusCode::NOT_FOUND);

    // No admin decides on their own application.
    let (_, own) = apply(&app, "selfish@example.edu").await;
    app.grant_admin("selfish@example.edu").await;
    let selfish = app
        .post("/api/auth/signin", json!({"email": "selfish@example.edu", "password": PASSWORD}), None)
        .await;
    let selfish = selfish.session_cookie();
    let decided = app
        .post(&format!("/api/admin/driver-reviews/{own}"), json!({"decision": "approve"}), Some(&selfish))
        .await;
    assert_eq!((decided.status, decided.code()), (StatusCode::FORBIDDEN, "admin_required"));
    assert_eq!(app.get("/api/auth/driver", Some(&applicant)).await.body["capability"], "pending_review");
}

async fn the_queue_is_oldest_first_and_a_decision_mails_the_applicant(app: App) {
    let admin = app.admin("admin@example.edu").await;
    let (first, first_id) = apply(&app, "first@example.edu").await;
    app.clock.advance(time::Duration::minutes(5));
    let (_, second_id) = apply(&app, "second@example.edu").await;
    let list = app.get("/api/admin/driver-reviews", Some(&admin)).await;
    let ids: Vec<_> = list.body["reviews"].as_array().unwrap().iter().map(|r| r["userId"].clone()).collect();
    assert_eq!(ids, [json!(first_id), json!(second_id)]);
    let review = &list.body["reviews"][0];
    assert_eq!(review["email"], "first@example.edu");
    assert_eq!(review["license"]["numberLast4"], "4567");
    assert_eq!(
        (review["verification"].clone(), review["extracted"].clone(), review["imageUrl"].clone()),
        (json!("manual"), json!(null), json!(null))
    );

    // Pages of one, through the cursor; an altered cursor is refused.
    let page = app.get("/api/admin/driver-reviews?limit=1", Some(&admin)).await;
    assert_eq!(page.body["reviews"].as_array().unwrap().len(), 1);
    let cursor = page.body["nextCursor"].as_str().unwrap().to_owned();
    let next = app.get(&format!("/api/admin/driver-reviews?limit=1&cursor={cursor}"), Some(&admin)).await;
    assert_eq!(next.body["reviews"][0]["userId"], json!(second_id));
    let mut altered = cursor.clone().into_bytes();
    altered[5] = if altered[5] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    let bad = app.get(&format!("/api/admin/driver-reviews?cursor={altered}"), Some(&admin)).await;
    assert_eq!((bad.status, bad.code()), (StatusCode::BAD_REQUEST, "invalid_cursor"));
    for limit in ["0", "51", "ten"] {
        let bad = app.get(&format!("/api/admin/driver-reviews?limit={limit}"), Some(&admin)).await;
        assert_eq!((bad.status, bad.code()), (StatusCode::BAD_REQUEST, "invalid_request"), "{limit}");
    }

    // Bad decisions write nothing.
    let path = format!("/api/admin/driver-reviews/{first_id}");
    let maybe = app.post(&path, json!({"decision": "maybe"}), Some(&admin)).await;
    assert_eq!((maybe.status, maybe.code()), (StatusCode::BAD_REQUEST, "invalid_request"));
    let no_reason = app.post(&path, json!({"decision": "reject"}), Some(&admin)).await;
    assert_eq!((no_reason.status, no_reason.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"));
    let blank = app.post(&path, json!({"decision": "reject", "reason": "  "}), Some(&admin)).await;
    assert_eq!(blank.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.get("/api/auth/driver", Some(&first)).await.body["capability"], "pending_review");

    let rejected =
        app.post(&path, json!({"decision": "reject", "reason": "The photo is blurred"}), Some(&admin)).await;
    assert_eq!(rejected.status, StatusCode::OK, "{}", rejected.body);
    assert_eq!(rejected.body["capability"], "rejected");
    assert_eq!(rejected.body["review"]["reason"], "The photo is blurred");
    let mail = app.mail.to("first@example.edu").pop().unwrap();
    assert!(mail.text.contains("The photo is blurred"), "{}", mail.text);
    let twice = app.post(&path, json!({"decision": "approve"}), Some(&admin)).await;
    assert_eq!(twice.status, StatusCode::NOT_FOUND, "no pending review any more");
    let unknown =
        app.post("/api/admin/driver-reviews/nobody", json!({"decision": "approve"}), Some(&admin)).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    // A rejected user may apply again, and is approved this time.
    let again = app.post("/api/auth/driver/enable", json!({}), Some(&first)).await;
    assert_eq!(
        (again.status, again.body["review"]["status"].clone()),
        (StatusCode::ACCEPTED, json!("pending"))
    );
    let approved = app.post(&path, json!({"decision": "approve"}), Some(&admin)).await;
    assert_eq!(approved.body["capability"], "approved");
    assert!(app.mail.to("first@example.edu").pop().unwrap().subject.contains("approved"));
    let left: Vec<_> = app.get("/api/admin/driver-reviews", Some(&admin)).await.body["reviews"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userId"].clone())
        .collect();
    assert_eq!(left, [json!(second_id)]);
}

async fn suspension_reinstatement_and_the_audit_history(app: App) {
    let admin = app.admin("admin@example.edu").await;
    let cookie = app.approved_driver("driver@example.edu", 200, &admin).await;
    let id = app.user_id("driver@example.edu").await;
    let on = app.post("/api/auth/driver/toggle", json!({"available": true}), Some(&cookie)).await;
    assert_eq!(on.body["available"], true);

    let suspend = format!("/api/admin/drivers/{id}/suspend");
    let no_reason = app.post(&suspend, json!({}), Some(&admin)).await;
    assert_eq!(no_reason.code(), "invalid_request");
    let suspended = app.post(&suspend, json!({"reason": "Reckless driving reported"}), Some(&admin)).await;
    assert_eq!(suspended.status, StatusCode::OK);
    assert_eq!(
        (suspended.body["capability"].clone(), suspended.body["available"].clone()),
        (json!("suspended"), json!(false))
    );
    assert!(app.mail.to("driver@example.edu").pop().unwrap().subject.contains("suspended"));
    let enable = app.post("/api/auth/driver/enable", json!({}), Some(&cookie)).await;
    assert_eq!((enable.status, enable.code()), (StatusCode::FORBIDDEN, "driver_suspended"));
    let on = app.post("/api/auth/driver/toggle", json!({"available": true}), Some(&cookie)).await;
    assert_eq!(on.code(), "driver_not_approved");

    let reinstate = format!("/api/admin/drivers/{id}/reinstate");
    let back = app.post(&reinstate, json!({"reason": "Cleared"}), Some(&admin)).await;
    assert_eq!(
        (back.body["capability"].clone(), back.body["available"].clone()),
        (json!("approved"), json!(false))
    );
    let again = app.post(&reinstate, json!({"reason": "Cleared"}), Some(&admin)).await;
    assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "driver_not_suspended"));

    let audit = app.get(&format!("/api/admin/audit?userId={id}"), Some(&admin)).await;
    assert_eq!(audit.status, StatusCode::OK);
    let records = audit.body["records"].as_array().unwrap();
    let summary: Vec<_> = records
        .iter()
        .map(|r| (r["action"].as_str().unwrap(), r["before"].clone(), r["after"].clone()))
        .collect();
    assert_eq!(
        summary,
        [
            ("capability_changed", json!("suspended"), json!("approved")),
            ("availability_changed", json!(true), json!(false)),
            ("capability_changed", json!("approved"), json!("suspended")),
            ("availability_changed", json!(false), json!(true)),
            ("capability_changed", json!("pending_review"), json!("approved")),
            ("capability_changed", json!("none"), json!("pending_review")),
        ],
        "newest first"
    );
    let admin_id = app.user_id("admin@example.edu").await;
    assert_eq!(records[0]["actor"], json!(admin_id));
    assert_eq!(records[0]["reason"], "Cleared");
    assert_eq!(records[3]["actor"], json!(id), "the driver's own toggle");
    assert!(records[0]["ip"].is_string());
    let missing = app.get("/api/admin/audit", Some(&admin)).await;
    assert_eq!((missing.status, missing.code()), (StatusCode::BAD_REQUEST, "invalid_request"));
    let plain = app.get(&format!("/api/admin/audit?userId={id}"), Some(&cookie)).await;
    assert_eq!(plain.code(), "admin_required");
}

/// Reinstatement returns to what the suspension interrupted: an application it cut short does not
/// become an approval.
async fn reinstating_never_approves_without_a_review(app: App) {
    let admin = app.admin("admin@example.edu").await;
    let (applicant, id) = apply(&app, "pending@example.edu").await;
    let long = "x".repeat(501);
    let too_long =
        app.post(&format!("/api/admin/drivers/{id}/suspend"), json!({"reason": long}), Some(&admin)).await;
    assert_eq!((too_long.status, too_long.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"));
    let suspended = app
        .post(&format!("/api/admin/drivers/{id}/suspend"), json!({"reason": "Fake photo"}), Some(&admin))
        .await;
    assert_eq!(suspended.body["capability"], "suspended");
    assert_eq!(
        app.get("/api/admin/driver-reviews", Some(&admin)).await.body["reviews"],
        json!([]),
        "left the queue"
    );
    let back = app
        .post(&format!("/api/admin/drivers/{id}/reinstate"), json!({"reason": "Sorted out"}), Some(&admin))
        .await;
    assert_eq!(back.body["capability"], "none", "{}", back.body);
    let again = app.post("/api/auth/driver/enable", json!({}), Some(&applicant)).await;
    assert_eq!(
        (again.status, again.body["capability"].clone()),
        (StatusCode::ACCEPTED, json!("pending_review"))
    );
}

on_both_stores!(embedded, dynamo;
    reinstating_never_approves_without_a_review,
    only_admins_of_the_campus_see_and_decide,
    the_queue_is_oldest_first_and_a_decision_mails_the_applicant,
    suspension_reinstatement_and_the_audit_history,
);
