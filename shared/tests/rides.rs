//! API.md "Carpool" through the HTTP layer, on both stores: posting, reading, editing and
//! cancelling rides, who may offer, bad input (each a clear 4xx with nothing written), the mail
//! riders and authors get, and the caller's own rides.

mod support;

use axum::http::StatusCode;
use serde_json::json;
use support::app::*;
use support::rides::*;
use time::Duration;

async fn a_driver_posts_an_offer_and_a_rider_sees_it_rounded(app: App) {
    let admin = app.admin("admin@example.edu").await;
    let driver = app.ready_driver("drv@example.edu", &admin).await;
    let ride = app.offer(&driver, 3).await;
    assert_eq!(ride["kind"], "offer");
    assert_eq!(ride["status"], "open");
    assert_eq!((ride["seats"].clone(), ride["seatsLeft"].clone()), (json!(3), json!(3)));
    assert_eq!(
        ride["origin"],
        json!({"label": "Main gate", "lat": 40.712_345, "lng": -74.005_678}),
        "exact for its author"
    );
    assert_eq!(ride["destination"], json!({"label": "Union Station"}));
    assert!(ride["conversationId"].is_string(), "the author is a member");
    assert_eq!(ride["author"]["id"], app.user_id("drv@example.edu").await);
    assert_eq!(ride["notes"], "Two bags max");

    let rider = app.signed_in("rider@example.edu", false).await;
    let seen = app.ride(&rider, &id(&ride)).await;
    assert_eq!(seen.status, StatusCode::OK, "{}", seen.body);
    assert_eq!(
        seen.body["ride"]["origin"],
        json!({"label": "Main gate", "lat": 40.71, "lng": -74.01}),
        "about 1 km"
    );
    assert_eq!(seen.body["ride"]["conversationId"], json!(null), "not a member");
    assert_eq!(seen.body["myRequest"], json!(null));
    assert_eq!(seen.body["requests"], json!([]));
    assert_eq!(app.feed_ids(&rider, "").await, [id(&ride)]);
}

async fn only_an_approved_available_driver_with_a_live_license_offers(app: App) {
    let admin = app.admin("admin@example.edu").await;
    let rider = app.signed_in("rider@example.edu", false).await;
    let body = ride_body(&app, "offer", 2, 24);
    let refused = app.post("/api/carpool/rides", body.clone(), Some(&rider)).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::FORBIDDEN, "driver_not_approved"));

    let approved = app.approved_driver("drv@example.edu", 30, &admin).await;
    let off = app.post("/api/carpool/rides", body.clone(), Some(&approved)).await;
    assert_eq!((off.status, off.code()), (StatusCode::CONFLICT, "driver_unavailable"));
    app.post("/api/auth/driver/toggle", json!({"available": true}), Some(&approved)).await;
    app.offer(&approved, 2).await;
    app.clock.advance(Duration::days(32));
    let again = app.sign_in("drv@example.edu").await;
    let expired = app.post("/api/carpool/rides", ride_body(&app, "offer", 2, 24), Some(&again)).await;
    assert_eq!((expired.status, expired.code()), (StatusCode::CONFLICT, "license_expired"));

    // Anyone asks for a ride.
    let rider = app.sign_in("rider@example.edu").await;
    let asked = app.posted(&rider, ride_body(&app, "request", 1, 24)).await;
    assert_eq!((asked["kind"].as_str(), asked["seatsLeft"].as_i64()), (Some("request"), Some(1)));
}

async fn bad_rides_are_refused_and_nothing_is_written(app: App) {
    let rider = app.signed_in("rider@example.edu", false).await;
    let good = ride_body(&app, "request", 2, 24);
    let with = |field: &str, value: serde_json::Value| {
        let mut body = good.clone();
        body[field] = value;
        body
    };
    let cases = [
        with("departAt", json!(app.at(Duration::minutes(-1)))),
        with("departAt", json!(app.at(Duration::days(90) + Duration::minutes(1)))),
        with("departAt", json!("tomorrow at eight")),
        with("seats", json!(0)),
        with("seats", json!(9)),
        with("kind", json!("lift")),
        with("notes", json!("x".repeat(501))),
        with("origin", json!({"label": ""})),
        with("origin", json!({"label": "x".repeat(121)})),
        with("origin", json!({"label": "Gate", "lat": 91.0, "lng": 0.0})),
        with("destination", json!({"label": "Gate", "lat": 10.0, "lng": 180.5})),
        with("destination", json!({"label": "Gate", "lat": 10.0})),
        with("departAt", json!("9999-12-31T23:30:00-01:00")),
    ];
    for body in cases {
        let res = app.post("/api/carpool/rides", body.clone(), Some(&rider)).await;
        assert_eq!(
            (res.status, res.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_ride"),
            "{body}: {}",
            res.body
        );
    }
    for body in [with("seats", json!("two")), with("seats", json!(2.5)), json!({"kind": "offer"})] {
        let res = app.post("/api/carpool/rides", body.clone(), Some(&rider)).await;
        assert_eq!((res.status, res.code()), (StatusCode::BAD_REQUEST, "invalid_request"), "{body}");
    }
    let mine = app.get("/api/carpool/me/rides", Some(&rider)).await;
    assert_eq!(mine.body, json!({"posted": [], "joined": []}), "nothing was written");
    assert_eq!(app.feed_ids(&rider, "").await, Vec::<String>::new());
    assert_eq!(app.get("/api/carpool/rides", None).await.code(), "unauthenticated");
}

async fn posting_is_limited_to_ten_rides_a_day(app: App) {
    let rider = app.signed_in("rider@example.edu", false).await;
    for _ in 0..10 {
        app.posted(&rider, ride_body(&app, "request", 1, 24)).await;
    }
    let eleventh = app.post("/api/carpool/rides", ride_body(&app, "request", 1, 24), Some(&rider)).await;
    assert_eq!((eleventh.status, eleventh.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
    assert!(eleventh.headers.contains_key("retry-after"));
}

async fn the_author_edits_and_riders_hear_of_a_new_time(app: App) {
    let admin = app.admin("admin@example.edu").await;
    let driver = app.ready_driver("drv@example.edu", &admin).await;
    let ride = id(&app.offer(&driver, 3).await);
    let rider = app.signed_in("rider@example.edu", false).await;
    let request = app.joined(&rider, &ride, 2).await;
    assert_eq!(app.answer(&driver, &ride, &request, "accept").await.status, StatusCode::OK);

    let path = format!("/api/carpool/rides/{ride}");
    let fewer = app.send("PATCH", &path, Some(json!({"seats": 1})), &driver).await;
    assert_eq!((fewer.status, fewer.code()), (StatusCode::CONFLICT, "seats_taken"));
    let other = app.send("PATCH", &path, Some(json!({"notes": "mine now"})), &rider).await;
    assert_eq!((other.status, other.code()), (StatusCode::FORBIDDEN, "not_ride_author"));
    let bad = app.send("PATCH", &path, Some(json!({"seats": 9})), &driver).await;
    assert_eq!((bad.status, bad.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_ride"));

    app.mail.0.lock().unwrap().clear();
    let later = app.at(Duration::hours(30));
    let edited = app
        .send("PATCH", &path, Some(json!({"departAt": later, "seats": 2, "notes": "Leaving later"})), &driver)
        .await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.body);
    assert_eq!(edited.body["ride"]["departAt"], later);
    assert_eq!(
        (edited.body["ride"]["seatsLeft"].as_i64(), edited.body["ride"]["status"].as_str()),
        (Some(0), Some("full"))
    );
    let told = app.mail.to("rider@example.edu");
    assert_eq!(told.len(), 1, "the accepted rider hears of the new time");
    // However often it moves, a ride departs at most 90 days after it was posted.
    app.clock.advance(Duration::days(2));
    let driver = app.sign_in("drv@example.edu").await;
    let too_late = json!({"departAt": app.at(Duration::days(89))});
    let moved = app.send("PATCH", &path, Some(too_late), &driver).await;
    assert_eq!((moved.status, moved.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_ride"));
    assert!(told[0].subject.contains("New departure time"));
    assert!(!told[0].text.contains("drv@example.edu"), "no other user's address in mail");
}

async fn cancelling_tells_every_live_rider_and_closes_the_ride(app: App) {
    let admin = app.admin("admin@example.edu").await;
    let driver = app.ready_driver("drv@example.edu", &admin).await;
    let ride = id(&app.offer(&driver, 3).await);
    let accepted = app.signed_in("acc@example.edu", false).await;
    let pending = app.signed_in("pend@example.edu", false).await;
    let request = app.joined(&accepted, &ride, 1).await;
    app.answer(&driver, &ride, &request, "accept").await;
    app.joined(&pending, &ride, 1).await;

    let path = format!("/api/carpool/rides/{ride}");
    assert_eq!(app.send("DELETE", &path, None, &accepted).await.code(), "not_ride_author");
    app.mail.0.lock().unwrap().clear();
    let gone = app.send("DELETE", &path, None, &driver).await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.body);
    for rider in ["acc@example.edu", "pend@example.edu"] {
        let mail = app.mail.to(rider);
        assert_eq!(mail.len(), 1, "{rider} is told");
        assert!(mail[0].subject.starts_with("Ride cancelled"));
    }
    let seen = app.ride(&accepted, &ride).await;
    assert_eq!(seen.body["ride"]["status"], "cancelled");
    assert_eq!(seen.body["myRequest"]["status"], "cancelled");
    assert_eq!(app.send("DELETE", &path, None, &driver).await.code(), "ride_closed");
    let edit = app.send("PATCH", &path, Some(json!({"notes": "back on?"})), &driver).await;
    assert_eq!(edit.code(), "ride_closed");
    assert_eq!(app.join(&pending, &ride, 1).await.code(), "ride_closed");
    let waiting = app.ride(&driver, &ride).await.body["requests"][1]["id"].as_str().unwrap().to_owned();
    assert_eq!(app.answer(&driver, &ride, &waiting, "accept").await.code(), "ride_closed");
    assert!(app.feed_ids(&pending, "").await.is_empty());
}

async fn departed_rides_are_closed_by_the_clock(app: App) {
    let rider = app.signed_in("rider@example.edu", false).await;
    let ride = id(&app.posted(&rider, ride_body(&app, "request", 1, 2)).await);
    app.clock.advance(Duration::hours(3));
    let seen = app.ride(&rider, &ride).await;
    assert_eq!(seen.body["ride"]["status"], "departed");
    let path = format!("/api/carpool/rides/{ride}");
    assert_eq!(app.send("DELETE", &path, None, &rider).await.code(), "ride_closed");
    assert!(app.feed_ids(&rider, "").await.is_empty());
}

async fn my_rides_lists_posted_and_joined_upcoming_first(app: App) {
    let admin = app.admin("admin@example.edu").await;
    let driver = app.ready_driver("drv@example.edu", &admin).await;
    let rider = app.signed_in("rider@example.edu", false).await;
    let soon = id(&app.posted(&rider, ride_body(&app, "request", 1, 5)).await);
    let later = id(&app.posted(&rider, ride_body(&app, "request", 1, 50)).await);
    let past = id(&app.posted(&rider, ride_body(&app, "request", 1, 1)).await);
    let offer = id(&app.offer(&driver, 2).await);
    let request = app.joined(&rider, &offer, 1).await;
    app.clock.advance(Duration::hours(2));

    let mine = app.get("/api/carpool/me/rides", Some(&rider)).await;
    assert_eq!(mine.status, StatusCode::OK);
    let posted: Vec<&str> =
        mine.body["posted"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(posted, [soon.as_str(), later.as_str(), past.as_str()], "upcoming soonest first, then past");
    assert_eq!(mine.body["joined"][0]["ride"]["id"], offer);
    assert_eq!(mine.body["joined"][0]["request"]["id"], request);
    assert_eq!(mine.body["joined"][0]["request"]["status"], "pending");
}

async fn other_campuses_rides_are_not_found(app: App) {
    let here = app.signed_in("rider@example.edu", false).await;
    let ride = id(&app.posted(&here, ride_body(&app, "request", 1, 24)).await);
    let there = app.signed_in("someone@other.edu", false).await;
    for path in [format!("/api/carpool/rides/{ride}"), "/api/carpool/rides/not-an-id".into()] {
        let res = app.get(&path, Some(&there)).await;
        assert_eq!((res.status, res.code()), (StatusCode::NOT_FOUND, "not_found"));
    }
    let unknown = format!("/api/carpool/rides/{}", ulid::Ulid::new());
    assert_eq!(app.get(&unknown, Some(&there)).await.code(), "not_found");
    assert_eq!(app.join(&there, &ride, 1).await.code(), "not_found");
    assert!(app.feed_ids(&there, "").await.is_empty(), "a campus sees its own feed only");
}

on_both_stores!(embedded, dynamo;
    a_driver_posts_an_offer_and_a_rider_sees_it_rounded,
    only_an_approved_available_driver_with_a_live_license_offers,
    bad_rides_are_refused_and_nothing_is_written,
    posting_is_limited_to_ten_rides_a_day,
    the_author_edits_and_riders_hear_of_a_new_time,
    cancelling_tells_every_live_rider_and_closes_the_ride,
    departed_rides_are_closed_by_the_clock,
    my_rides_lists_posted_and_joined_upcoming_first,
    other_campuses_rides_are_not_found,
);
