//! Join requests and seats (API.md "Carpool"), on both stores: asking, accepting, declining,
//! leaving, request rides answered by drivers, the mail each step sends, and the races: 50
//! concurrent accepts on a 3-seat ride accept exactly 3, and 10 concurrent joins by one rider
//! leave exactly one live request.

mod support;

use axum::http::StatusCode;
use carpool::rate_limit::{Limit, Rule};
use futures::future::join_all;
use serde_json::json;
use support::app::*;
use support::rides::*;

async fn a_rider_asks_the_author_accepts_and_the_seats_are_taken(app: App) {
    let admin = app.admin("admin@example.edu").await;
    let driver = app.ready_driver("drv@example.edu", &admin).await;
    let ride = id(&app.offer(&driver, 3).await);
    let rider = app.signed_in("rider@example.edu", false).await;
    app.mail.0.lock().unwrap().clear();

    let asked = app.join(&rider, &ride, 2).await;
    assert_eq!(asked.status, StatusCode::CREATED, "{}", asked.body);
    let request = asked.body["request"].clone();
    assert_eq!(request["status"], "pending");
    assert_eq!(request["seats"], 2);
    assert_eq!(request["message"], "Can I come?");
    assert_eq!(request["rideId"], ride);
    let to_author = app.mail.to("drv@example.edu");
    assert_eq!(to_author.len(), 1, "the author hears of the request");
    assert!(
        to_author[0].text.contains("asks for 2 seats") && !to_author[0].text.contains("rider@example.edu")
    );

    let page = app.ride(&driver, &ride).await;
    assert_eq!(page.body["requests"].as_array().unwrap().len(), 1, "the author sees the requests");
    assert_eq!(
        app.ride(&rider, &ride).await.body["myRequest"]["id"],
        request["id"],
        "the rider sees their own"
    );

    let accepted = app.answer(&driver, &ride, request["id"].as_str().unwrap(), "accept").await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
    assert_eq!(accepted.body["request"]["status"], "accepted");
    assert_eq!(accepted.body["ride"]["seatsLeft"], 1);
    let told = app.mail.to("rider@example.edu");
    assert_eq!(told.len(), 1);
    assert!(told[0].subject.starts_with("You're in"));
    let member_view = app.ride(&rider, &ride).await.body["ride"].clone();
    assert!(member_view["conversationId"].is_string(), "an accepted rider is a member");
    assert_eq!(member_view["origin"]["lat"], 40.712_345, "and sees exact places");

    let again = app.answer(&driver, &ride, request["id"].as_str().unwrap(), "accept").await;
    assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "request_not_pending"));
    let twice = app.join(&rider, &ride, 1).await;
    assert_eq!((twice.status, twice.code()), (StatusCode::CONFLICT, "already_requested"));
}

async fn joining_rules_each_answer_with_their_code(app: App) {
    let admin = app.admin("admin@example.edu").await;
    let driver = app.ready_driver("drv@example.edu", &admin).await;
    let ride = id(&app.offer(&driver, 2).await);
    let own = app.join(&driver, &ride, 1).await;
    assert_eq!((own.status, own.code()), (StatusCode::CONFLICT, "own_ride"));
    let rider = app.signed_in("rider@example.edu", false).await;
    let too_many = app.join(&rider, &ride, 3).await;
    assert_eq!((too_many.status, too_many.code()), (StatusCode::CONFLICT, "ride_full"));
    for seats in [0, 9] {
        let res = app.join(&rider, &ride, seats).await;
        assert_eq!((res.status, res.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"));
    }
    let long = json!({"message": "x".repeat(501)});
    let res = app.post(&format!("/api/carpool/rides/{ride}/join"), long, Some(&rider)).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    // No body at all: one seat, no message.
    let bare = app.send("POST", &format!("/api/carpool/rides/{ride}/join"), None, &rider).await;
    assert_eq!(bare.status, StatusCode::CREATED, "{}", bare.body);
    assert_eq!(bare.body["request"]["seats"], 1);

    let other = app.signed_in("other@example.edu", false).await;
    let not_author = app.answer(&other, &ride, bare.body["request"]["id"].as_str().unwrap(), "accept").await;
    assert_eq!((not_author.status, not_author.code()), (StatusCode::FORBIDDEN, "not_ride_author"));
    let unknown = app.answer(&driver, &ride, &ulid::Ulid::new().to_string(), "accept").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

async fn an_accept_that_does_not_fit_stays_pending(app: App) {
    let admin = app.admin("admin@example.edu").await;
    let driver = app.ready_driver("drv@example.edu", &admin).await;
    let ride = id(&app.offer(&driver, 2).await);
    let a = app.signed_in("a@example.edu", false).await;
    let b = app.signed_in("b@example.edu", false).await;
    let first = app.joined(&a, &ride, 2).await;
    let second = app.joined(&b, &ride, 1).await;
    assert_eq!(app.answer(&driver, &ride, &first, "accept").await.status, StatusCode::OK);
    let full = app.answer(&driver, &ride, &second, "accept").await;
    assert_eq!((full.status, full.code()), (StatusCode::CONFLICT, "ride_full"));
    assert_eq!(app.ride(&b, &ride).await.body["myRequest"]["status"], "pending");
    assert_eq!(app.ride(&b, &ride).await.body["ride"]["status"], "full");
    assert!(app.feed_ids(&b, "").await.is_empty(), "a full ride leaves the feed");
    let again = app.join(&a, &ride, 1).await;
    assert_eq!(again.code(), "already_requested", "an accepted rider is told so, even on a full ride");
    let late = app.join(&app.signed_in("c@example.edu", false).await, &ride, 1).await;
    assert_eq!(late.code(), "ride_full");

    // The accepted rider leaves: the seats come back, the ride is open and in the feed again.
    app.mail.0.lock().unwrap().clear();
    let left = app.post(&format!("/api/carpool/rides/{ride}/leave"), json!({}), Some(&a)).await;
    assert_eq!(left.status, StatusCode::NO_CONTENT, "{}", left.body);
    assert_eq!(app.mail.to("drv@example.edu").len(), 1, "the author is told");
    let page = app.ride(&a, &ride).await.body;
    assert_eq!(
        (page["ride"]["status"].as_str(), page["ride"]["seatsLeft"].as_i64()),
        (Some("open"), Some(2))
    );
    assert_eq!(page["myRequest"]["status"], "left");
    assert_eq!(page["ride"]["conversationId"], json!(null), "a rider who left is no longer a member");
    assert_eq!(app.feed_ids(&b, "").await, std::slice::from_ref(&ride));
    assert_eq!(app.answer(&driver, &ride, &second, "accept").await.status, StatusCode::OK);
    let again = app.post(&format!("/api/carpool/rides/{ride}/leave"), json!({}), Some(&a)).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "no live request left");
    // Having left, a rider may ask again.
    assert_eq!(app.join(&a, &ride, 1).await.status, StatusCode::CREATED);
}

async fn the_author_declines_a_pending_request(app: App) {
    let admin = app.admin("admin@example.edu").await;
    let driver = app.ready_driver("drv@example.edu", &admin).await;
    let ride = id(&app.offer(&driver, 2).await);
    let rider = app.signed_in("rider@example.edu", false).await;
    let request = app.joined(&rider, &ride, 1).await;
    app.mail.0.lock().unwrap().clear();
    let declined = app.answer(&driver, &ride, &request, "decline").await;
    assert_eq!(declined.status, StatusCode::OK, "{}", declined.body);
    assert_eq!(declined.body["request"]["status"], "declined");
    assert!(app.mail.to("rider@example.edu")[0].subject.contains("declined"));
    let again = app.answer(&driver, &ride, &request, "decline").await;
    assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "request_not_pending"));
    let accept = app.answer(&driver, &ride, &request, "accept").await;
    assert_eq!(accept.code(), "request_not_pending");
}

async fn fifty_concurrent_accepts_fill_three_seats_exactly(app: App) {
    let admin = app.admin("admin@example.edu").await;
    let driver = app.ready_driver("drv@example.edu", &admin).await;
    let ride = id(&app.offer(&driver, 3).await);
    let mut requests = Vec::new();
    for i in 0..50 {
        let rider = app.signed_in(&format!("r{i}@example.edu"), false).await;
        requests.push(app.joined(&rider, &ride, 1).await);
    }
    let answers = join_all(requests.iter().map(|r| app.answer(&driver, &ride, r, "accept"))).await;
    let accepted = answers.iter().filter(|a| a.status == StatusCode::OK).count();
    let full = answers.iter().filter(|a| a.code() == "ride_full").count();
    assert_eq!(accepted, 3, "{:?}", answers.iter().map(|a| a.status).collect::<Vec<_>>());
    assert_eq!(full, 47, "every other accept loses the race and says so");
    let page = app.ride(&driver, &ride).await.body;
    assert_eq!(
        (page["ride"]["seatsLeft"].as_i64(), page["ride"]["status"].as_str()),
        (Some(0), Some("full"))
    );
    let states: Vec<&str> =
        page["requests"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(states.iter().filter(|s| **s == "accepted").count(), 3);
    assert_eq!(states.iter().filter(|s| **s == "pending").count(), 47, "the losers stay pending");
}

async fn ten_concurrent_joins_by_one_rider_leave_one_request(app: App) {
    let admin = app.admin("admin@example.edu").await;
    let driver = app.ready_driver("drv@example.edu", &admin).await;
    let ride = id(&app.offer(&driver, 8).await);
    let rider = app.signed_in("rider@example.edu", false).await;
    let answers = join_all((0..10).map(|_| app.join(&rider, &ride, 1))).await;
    let created = answers.iter().filter(|a| a.status == StatusCode::CREATED).count();
    let refused = answers.iter().filter(|a| a.code() == "already_requested").count();
    assert_eq!(
        (created, refused),
        (1, 9),
        "{:?}",
        answers.iter().map(|a| a.code().to_owned()).collect::<Vec<_>>()
    );
    let page = app.ride(&driver, &ride).await.body;
    assert_eq!(page["requests"].as_array().unwrap().len(), 1);
}

async fn drivers_answer_a_request_ride_and_the_rider_picks_one(app: App) {
    let admin = app.admin("admin@example.edu").await;
    let first = app.ready_driver("d1@example.edu", &admin).await;
    let second = app.ready_driver("d2@example.edu", &admin).await;
    let rider = app.signed_in("rider@example.edu", false).await;
    let ride = id(&app.posted(&rider, ride_body(&app, "request", 2, 24)).await);

    let not_driver = app.signed_in("walker@example.edu", false).await;
    let refused = app.join(&not_driver, &ride, 1).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::FORBIDDEN, "driver_not_approved"));
    let one = app.joined(&first, &ride, 1).await;
    let two = app.join(&second, &ride, 5).await;
    assert_eq!(two.status, StatusCode::CREATED, "seats are ignored on a request ride");
    assert_eq!(two.body["request"]["seats"], 2);

    app.mail.0.lock().unwrap().clear();
    let matched = app.answer(&rider, &ride, &one, "accept").await;
    assert_eq!(matched.status, StatusCode::OK, "{}", matched.body);
    assert_eq!(matched.body["ride"]["status"], "matched");
    assert_eq!(matched.body["ride"]["seatsLeft"], 0);
    assert_eq!(app.ride(&second, &ride).await.body["myRequest"]["status"], "declined");
    assert!(app.mail.to("d2@example.edu")[0].subject.contains("declined"), "the other driver is told");
    assert!(app.mail.to("d1@example.edu")[0].subject.starts_with("You're in"));
    assert_eq!(
        app.join(&app.ready_driver("d3@example.edu", &admin).await, &ride, 1).await.code(),
        "ride_closed"
    );
    assert!(app.feed_ids(&rider, "?kind=request").await.is_empty(), "a matched ride leaves the feed");
}

/// Fifty riders sign up from one test address: the per-address limits make room for them.
fn crowd(config: &mut carpool::config::AuthConfig) {
    for rule in [Rule::RegisterIp, Rule::SigninIp, Rule::VerifyIp] {
        config.rate_limits.set(rule, Limit { max: 10_000, window_secs: 3600 });
    }
}

async fn embedded_crowd() -> App {
    embedded_with(crowd).await
}

async fn dynamo_crowd() -> App {
    dynamo_with(crowd).await
}

on_both_stores!(embedded_crowd, dynamo_crowd;
    a_rider_asks_the_author_accepts_and_the_seats_are_taken,
    joining_rules_each_answer_with_their_code,
    an_accept_that_does_not_fit_stays_pending,
    the_author_declines_a_pending_request,
    fifty_concurrent_accepts_fill_three_seats_exactly,
    ten_concurrent_joins_by_one_rider_leave_one_request,
    drivers_answer_a_request_ride_and_the_rider_picks_one,
);
