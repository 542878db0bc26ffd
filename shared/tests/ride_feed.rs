//! The campus feed (API.md "Carpool"), on both stores: order and pagination over a few hundred
//! rides while more are posted between pages, windows and kinds, tamper-evident cursors, blocked
//! pairs, offers hidden whenever their driver may not drive (availability, license expiry,
//! suspension, even before any re-indexing), and reports to campus admins.

mod support;

use axum::http::StatusCode;
use carpool::rate_limit::{Limit, Rule};
use carpool::repo::drivers;
use serde_json::{json, Value};
use std::collections::HashSet;
use support::app::*;
use support::rides::*;
use time::Duration;

/// Hundreds of rides from a few authors: the posting limit makes room.
fn busy(config: &mut carpool::config::AuthConfig) {
    config.rate_limits.set(Rule::RidePost, Limit { max: 10_000, window_secs: 86_400 });
}

async fn embedded_busy() -> App {
    embedded_with(busy).await
}

async fn dynamo_busy() -> App {
    dynamo_with(busy).await
}

/// Every page of the feed for `query` (which may be empty), `limit` at a time, calling `between`
/// after each page.
async fn walk(
    app: &App,
    cookie: &str,
    query: &str,
    limit: usize,
    mut between: impl AsyncFnMut(usize),
) -> Vec<Value> {
    let mut rides = Vec::new();
    let mut cursor: Option<String> = None;
    for page_number in 0.. {
        let sep = if query.is_empty() { "?" } else { "&" };
        let mut path = format!("{query}{sep}limit={limit}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = app.feed(cookie, &format!("?{}", path.trim_start_matches('?'))).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let items = page.body["rides"].as_array().unwrap().clone();
        assert!(items.len() <= limit);
        rides.extend(items);
        between(page_number).await;
        match page.body["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    rides
}

fn ids(rides: &[Value]) -> Vec<String> {
    rides.iter().map(id).collect()
}

async fn the_feed_pages_soonest_first_without_gaps_or_repeats(app: App) {
    let author = app.signed_in("author@example.edu", false).await;
    let mut posted = Vec::new();
    // Departures out of posting order: 1 to 240 hours ahead, shuffled by a stride.
    for i in 0..240i64 {
        let hours = 1 + (i * 97) % 240;
        posted.push(app.posted(&author, ride_body(&app, "request", 1, hours)).await);
    }
    let reader = app.signed_in("reader@example.edu", false).await;
    let mut added_late = Vec::new();
    let seen = walk(&app, &reader, "", 17, async |page| {
        // Between pages, one ride departing late enough to be ahead of any cursor, and one
        // departing in 30 minutes, behind it from the second page on.
        if page < 5 {
            added_late.push(app.posted(&author, ride_body(&app, "request", 1, 300 + page as i64)).await);
            let mut soon = ride_body(&app, "request", 1, 1);
            soon["departAt"] = json!(app.at(Duration::minutes(30)));
            app.posted(&author, soon).await;
        }
    })
    .await;
    let seen_ids = ids(&seen);
    let unique: HashSet<&String> = seen_ids.iter().collect();
    assert_eq!(unique.len(), seen_ids.len(), "no ride twice");
    for ride in posted.iter().chain(&added_late) {
        assert!(
            unique.contains(&id(ride)),
            "every ride present from the start or added ahead of the cursor is seen"
        );
    }
    let times: Vec<(&str, &str)> =
        seen.iter().map(|r| (r["departAt"].as_str().unwrap(), r["id"].as_str().unwrap())).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "soonest first");
}

async fn windows_and_kinds_narrow_the_feed(app: App) {
    let admin = app.admin("admin@example.edu").await;
    let driver = app.ready_driver("drv@example.edu", &admin).await;
    let rider = app.signed_in("rider@example.edu", false).await;
    let offer = id(&app.posted(&driver, ride_body(&app, "offer", 2, 10)).await);
    let request = id(&app.posted(&rider, ride_body(&app, "request", 1, 20)).await);
    let far = id(&app.posted(&rider, ride_body(&app, "request", 1, 200)).await);
    assert_eq!(app.feed_ids(&rider, "").await, [offer.clone(), request.clone(), far.clone()]);
    assert_eq!(app.feed_ids(&rider, "?kind=offer").await, std::slice::from_ref(&offer));
    assert_eq!(app.feed_ids(&rider, "?kind=request").await, [request.clone(), far.clone()]);
    let window = format!("?from={}&to={}", app.at(Duration::hours(15)), app.at(Duration::hours(25)));
    assert_eq!(app.feed_ids(&rider, &window).await, [request]);
    let bad = app.feed(&rider, "?kind=lift").await;
    assert_eq!((bad.status, bad.code()), (StatusCode::BAD_REQUEST, "invalid_request"));
    for limit in ["0", "51", "ten"] {
        assert_eq!(app.feed(&rider, &format!("?limit={limit}")).await.code(), "invalid_request");
    }
    assert_eq!(app.feed(&rider, "?from=yesterday").await.code(), "invalid_request");
    let far = app.feed(&rider, "?to=9999-12-31T23:30:00-01:00").await;
    assert_eq!(far.status, StatusCode::OK, "a window past any ride is cut to 90 days: {}", far.body);
}

async fn an_altered_or_borrowed_cursor_is_refused(app: App) {
    let rider = app.signed_in("rider@example.edu", false).await;
    for hours in 1..=3 {
        app.posted(&rider, ride_body(&app, "request", 1, hours)).await;
    }
    let page = app.feed(&rider, "?limit=1").await;
    let cursor = page.body["nextCursor"].as_str().unwrap().to_owned();
    let mut altered = cursor.clone().into_bytes();
    altered[10] = if altered[10] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    for bad in [altered.as_str(), "not-a-cursor", "e30"] {
        let res = app.feed(&rider, &format!("?limit=1&cursor={bad}")).await;
        assert_eq!((res.status, res.code()), (StatusCode::BAD_REQUEST, "invalid_cursor"), "{bad}");
    }
    let other = app.signed_in("other@example.edu", false).await;
    let borrowed = app.feed(&other, &format!("?limit=1&cursor={cursor}")).await;
    assert_eq!(borrowed.code(), "invalid_cursor", "a cursor is bound to its reader");
    let other_kind = app.feed(&rider, &format!("?limit=1&kind=offer&cursor={cursor}")).await;
    assert_eq!(other_kind.code(), "invalid_cursor", "and to its list");
}

async fn a_blocked_pair_do_not_see_or_join_each_others_rides(app: App) {
    let a = app.signed_in("a@example.edu", false).await;
    let b = app.signed_in("b@example.edu", false).await;
    let ride_a = id(&app.posted(&a, ride_body(&app, "request", 1, 5)).await);
    let ride_b = id(&app.posted(&b, ride_body(&app, "request", 1, 6)).await);
    let b_id = app.user_id("b@example.edu").await;
    let blocked = app.post(&format!("/api/users/{b_id}/block"), json!({}), Some(&a)).await;
    assert_eq!(blocked.status, StatusCode::NO_CONTENT, "{}", blocked.body);
    assert_eq!(app.feed_ids(&a, "").await, std::slice::from_ref(&ride_a), "the blocker no longer sees them");
    assert_eq!(app.feed_ids(&b, "").await, std::slice::from_ref(&ride_b), "nor they the blocker");
    assert_eq!(app.ride(&b, &ride_a).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.ride(&a, &ride_b).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.join(&b, &ride_a, 1).await.status, StatusCode::NOT_FOUND, "nor join them");

    let a_id = app.user_id("a@example.edu").await;
    let own = app.post(&format!("/api/users/{a_id}/block"), json!({}), Some(&a)).await;
    assert_eq!((own.status, own.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"));
    let there = app.signed_in("x@other.edu", false).await;
    let x_id = app.user_id("x@other.edu").await;
    assert_eq!(
        app.post(&format!("/api/users/{x_id}/block"), json!({}), Some(&a)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.post("/api/users/nobody/block", json!({}), Some(&a)).await.status, StatusCode::NOT_FOUND);
    drop(there);

    let report = json!({"userId": b_id, "rideId": ride_b, "reason": "Harassing messages"});
    assert_eq!(
        app.post("/api/reports", report, Some(&a)).await.status,
        StatusCode::ACCEPTED,
        "a blocked user is still reported"
    );
    let unblocked = app.send("DELETE", &format!("/api/users/{b_id}/block"), None, &a).await;
    assert_eq!(unblocked.status, StatusCode::NO_CONTENT);
    assert_eq!(app.feed_ids(&a, "").await, [ride_a, ride_b]);
}

/// Accepts one rider on the driver's offer; returns (ride id, rider cookie).
async fn offer_with_a_rider(app: &App, driver: &str) -> (String, String) {
    let ride = id(&app.offer(driver, 3).await);
    let rider = app.signed_in(&format!("rider-{}@example.edu", ride[20..].to_lowercase()), false).await;
    let request = app.joined(&rider, &ride, 1).await;
    assert_eq!(app.answer(driver, &ride, &request, "accept").await.status, StatusCode::OK);
    (ride, rider)
}

async fn availability_off_hides_offers_and_riders_keep_their_seats(app: App) {
    let admin = app.admin("admin@example.edu").await;
    let driver = app.ready_driver("drv@example.edu", &admin).await;
    let (ride, rider) = offer_with_a_rider(&app, &driver).await;
    let reader = app.signed_in("reader@example.edu", false).await;
    assert_eq!(app.feed_ids(&reader, "").await, std::slice::from_ref(&ride));

    let off = app.post("/api/auth/driver/toggle", json!({"available": false}), Some(&driver)).await;
    assert_eq!(off.status, StatusCode::OK);
    assert!(app.feed_ids(&reader, "").await.is_empty(), "out of the feed");
    let kept = app.ride(&rider, &ride).await.body;
    assert_eq!(kept["myRequest"]["status"], "accepted", "the accepted rider keeps the seat");
    assert_eq!(kept["ride"]["status"], "open");
    assert_eq!(app.join(&reader, &ride, 1).await.code(), "ride_closed");

    app.post("/api/auth/driver/toggle", json!({"available": true}), Some(&driver)).await;
    assert_eq!(app.feed_ids(&reader, "").await, [ride], "back in");
}

async fn the_feed_hides_an_offer_the_moment_its_driver_may_not_drive(app: App) {
    let admin = app.admin("admin@example.edu").await;
    let driver = app.ready_driver("drv@example.edu", &admin).await;
    let ride = id(&app.offer(&driver, 3).await);
    let reader = app.signed_in("reader@example.edu", false).await;
    // The profile changes with no re-indexing at all (as if it had not run yet).
    let user: ulid::Ulid = app.user_id("drv@example.edu").await.parse().unwrap();
    let mut profile = drivers::get(app.store.as_ref(), user).await.unwrap().unwrap();
    profile.available = false;
    app.store.write(vec![drivers::overwrite(user, &profile)]).await.unwrap();
    assert!(app.feed_ids(&reader, "").await.is_empty());
    profile.available = true;
    app.store.write(vec![drivers::overwrite(user, &profile)]).await.unwrap();
    assert_eq!(app.feed_ids(&reader, "").await, [ride]);
}

async fn an_expiring_license_hides_then_cancels_the_drivers_rides(app: App) {
    let admin = app.admin("admin@example.edu").await;
    let driver = app.approved_driver("drv@example.edu", 3, &admin).await;
    app.post("/api/auth/driver/toggle", json!({"available": true}), Some(&driver)).await;
    let ride = app.posted(&driver, ride_body(&app, "offer", 2, 24 * 6)).await;
    let ride = id(&ride);
    let rider = app.signed_in("rider@example.edu", false).await;
    let request = app.joined(&rider, &ride, 1).await;
    app.answer(&driver, &ride, &request, "accept").await;

    // The license expires before the ride departs: hidden at once, before any sweep.
    app.clock.advance(Duration::days(4) + Duration::hours(12));
    let reader = app.signed_in("reader@example.edu", false).await;
    assert!(app.feed_ids(&reader, "").await.is_empty());
    app.mail.0.lock().unwrap().clear();
    app.driver.sweep().await.unwrap();
    app.dispatcher.deliver_due().await.unwrap();
    let told = app.mail.to("rider@example.edu");
    assert_eq!(told.len(), 1, "the rider is told");
    assert!(told[0].text.contains("can no longer drive"));
    let rider = app.sign_in("rider@example.edu").await;
    let seen = app.ride(&rider, &ride).await.body;
    assert_eq!(
        (seen["ride"]["status"].as_str(), seen["myRequest"]["status"].as_str()),
        (Some("cancelled"), Some("cancelled"))
    );
}

async fn a_suspension_cancels_the_drivers_rides_and_tells_the_riders(app: App) {
    let admin = app.admin("admin@example.edu").await;
    let driver = app.ready_driver("drv@example.edu", &admin).await;
    let (ride, rider) = offer_with_a_rider(&app, &driver).await;
    let second = id(&app.offer(&driver, 2).await);
    // The driver also drives someone who asked, and asked for a ride of their own.
    let asker = app.signed_in("asker@example.edu", false).await;
    let asked = id(&app.posted(&asker, ride_body(&app, "request", 1, 30)).await);
    let answer = app.joined(&driver, &asked, 1).await;
    assert_eq!(app.answer(&asker, &asked, &answer, "accept").await.body["ride"]["status"], "matched");
    let own_request = id(&app.posted(&driver, ride_body(&app, "request", 1, 40)).await);
    let driver_id = app.user_id("drv@example.edu").await;
    app.mail.0.lock().unwrap().clear();
    let suspended = app
        .post(
            &format!("/api/admin/drivers/{driver_id}/suspend"),
            json!({"reason": "Unsafe driving reported"}),
            Some(&admin),
        )
        .await;
    assert_eq!(suspended.status, StatusCode::OK, "{}", suspended.body);
    let page = app.ride(&rider, &ride).await.body;
    assert_eq!(page["ride"]["status"], "cancelled");
    assert_eq!(page["myRequest"]["status"], "cancelled");
    assert_eq!(app.ride(&driver, &second).await.body["ride"]["status"], "cancelled");
    let rider_email = format!("rider-{}@example.edu", ride[20..].to_lowercase());
    assert_eq!(app.mail.to(&rider_email).len(), 1, "the rider is told");
    let reopened = app.ride(&asker, &asked).await.body;
    assert_eq!(reopened["ride"]["status"], "open", "the suspended driver's answer is withdrawn");
    assert_eq!(reopened["requests"][0]["status"], "left");
    assert_eq!(app.mail.to("asker@example.edu").len(), 1, "and the rider who asked is told");
    assert_eq!(app.ride(&driver, &own_request).await.body["ride"]["status"], "open", "their own asks stay");
    assert_eq!(app.feed_ids(&rider, "").await, [asked, own_request]);
}

async fn reports_reach_the_campus_admins(app: App) {
    let admin = app.admin("admin@example.edu").await;
    let reporter = app.signed_in("rep@example.edu", false).await;
    let subject = app.signed_in("sub@example.edu", false).await;
    let ride = id(&app.posted(&subject, ride_body(&app, "request", 1, 5)).await);
    let subject_id = app.user_id("sub@example.edu").await;
    let filed = app
        .post(
            "/api/reports",
            json!({"userId": subject_id, "rideId": ride, "reason": "Rude messages"}),
            Some(&reporter),
        )
        .await;
    assert_eq!(filed.status, StatusCode::ACCEPTED, "{}", filed.body);
    app.post("/api/reports", json!({"userId": subject_id, "reason": "Second report"}), Some(&reporter)).await;
    for bad in [
        json!({"userId": subject_id, "reason": ""}),
        json!({"userId": subject_id, "reason": "x".repeat(1001)}),
    ] {
        assert_eq!(app.post("/api/reports", bad, Some(&reporter)).await.code(), "invalid_request");
    }
    let unknown = app
        .post(
            "/api/reports",
            json!({"userId": ulid::Ulid::new().to_string(), "reason": "who"}),
            Some(&reporter),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    assert_eq!(app.get("/api/admin/reports", Some(&reporter)).await.code(), "admin_required");
    let open = app.get("/api/admin/reports?status=open", Some(&admin)).await;
    assert_eq!(open.status, StatusCode::OK, "{}", open.body);
    let reports = open.body["reports"].as_array().unwrap();
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[0]["reason"], "Rude messages", "oldest first");
    assert_eq!(reports[0]["rideId"], ride);
    assert_eq!(reports[0]["subject"]["id"], subject_id);
    assert_eq!(reports[0]["status"], "open");
    let first = reports[0]["id"].as_str().unwrap();

    let decided = app
        .post(
            &format!("/api/admin/reports/{first}"),
            json!({"status": "actioned", "note": "Warned"}),
            Some(&admin),
        )
        .await;
    assert_eq!(decided.status, StatusCode::OK, "{}", decided.body);
    assert_eq!(decided.body["report"]["status"], "actioned");
    let still_open = app.get("/api/admin/reports", Some(&admin)).await.body;
    assert_eq!(still_open["reports"].as_array().unwrap().len(), 1);
    let actioned = app.get("/api/admin/reports?status=actioned", Some(&admin)).await.body;
    assert_eq!(actioned["reports"][0]["id"], first);
    let bad_status = app
        .post(&format!("/api/admin/reports/{first}"), json!({"status": "open", "note": ""}), Some(&admin))
        .await;
    assert_eq!(bad_status.status, StatusCode::UNPROCESSABLE_ENTITY);

    let elsewhere = app.admin("boss@other.edu").await;
    assert!(app.get("/api/admin/reports", Some(&elsewhere)).await.body["reports"]
        .as_array()
        .unwrap()
        .is_empty());
    let foreign = app
        .post(
            &format!("/api/admin/reports/{first}"),
            json!({"status": "dismissed", "note": ""}),
            Some(&elsewhere),
        )
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND, "another campus's report is not found");
    drop(subject);
}

on_both_stores!(embedded_busy, dynamo_busy;
    the_feed_pages_soonest_first_without_gaps_or_repeats,
    windows_and_kinds_narrow_the_feed,
    an_altered_or_borrowed_cursor_is_refused,
    a_blocked_pair_do_not_see_or_join_each_others_rides,
    availability_off_hides_offers_and_riders_keep_their_seats,
    the_feed_hides_an_offer_the_moment_its_driver_may_not_drive,
    an_expiring_license_hides_then_cancels_the_drivers_rides,
    a_suspension_cancels_the_drivers_rides_and_tells_the_riders,
    reports_reach_the_campus_admins,
);
