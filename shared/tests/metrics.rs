//! The metrics a Lambda writes as CloudWatch Embedded Metric Format lines: the business events
//! of a realistic session (registrations, sign-ins that work and fail, a lockout, a rate limit,
//! a driver review, a ride posted and a request accepted, messages, a connection gone, the
//! sweep's reminders) and latency per route, each under low-cardinality dimensions only.
//! One test: the recorder is global to the process.

mod support;

use axum::http::StatusCode;
use carpool::http::cookies::find_session_cookie;
use serde_json::{json, Value};
use support::app::{embedded, App};
use time::Duration;

#[tokio::test]
async fn business_events_and_latency_are_written_as_embedded_metrics() {
    carpool::metrics::install("metrics-test");
    let app = embedded().await;
    let (sessions, users) = session_of_every_metric(&app).await;

    let mut written = Vec::new();
    carpool::metrics::flush_into(&mut written);
    let text = String::from_utf8(written).unwrap();
    let documents: Vec<Value> =
        text.lines().map(|l| serde_json::from_str(l).expect("every line is one JSON document")).collect();

    let count = |name: &str, dimensions: &[(&str, &str)]| -> u64 {
        documents
            .iter()
            .filter(|d| dimensions.iter().all(|(k, v)| d[*k] == *v))
            .filter_map(|d| d[name].as_u64())
            .sum()
    };
    assert_eq!(count("Registrations", &[]), 5);
    assert_eq!(count("SignIns", &[("outcome", "success")]), 5);
    assert_eq!(count("SignIns", &[("outcome", "failed")]), 6, "five wrong passwords, then locked");
    assert_eq!(count("Lockouts", &[]), 1);
    assert_eq!(count("RateLimited", &[("rule", "resend_email")]), 1);
    assert_eq!(count("DriverReviews", &[("outcome", "approved")]), 2);
    assert_eq!(count("RidesPosted", &[]), 1);
    assert_eq!(count("RideAccepts", &[]), 1);
    assert_eq!(count("MessagesSent", &[]), 2);
    assert_eq!(count("DeliveriesGone", &[]), 1);
    assert_eq!(count("SweepReminders", &[("outcome", "sent")]), 1);
    assert_eq!(count("SweepReminders", &[("outcome", "failed")]), 0);

    // Latency per route template and method, with the status class as outcome.
    let signins = documents
        .iter()
        .find(|d| d["route"] == "POST /api/auth/signin" && d["outcome"] == "4xx")
        .expect("failed sign-ins' latency");
    let samples = signins["Latency"].as_array().expect("a histogram's samples");
    assert_eq!(samples.len(), 6);
    assert!(samples.iter().all(|s| s.as_f64().is_some_and(|ms| ms >= 0.0)));
    assert!(documents
        .iter()
        .any(|d| d["route"] == "POST /api/carpool/rides/{id}/join" && d["outcome"] == "2xx"));
    assert!(documents.iter().any(|d| d["route"] == "unmatched" && d["outcome"] == "4xx"));

    // Every document declares its metrics and dimensions for CloudWatch: namespace, the function
    // always, and nothing but the fixed dimension names.
    for document in &documents {
        let declared = &document["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(declared["Namespace"], "Carpool/local", "{document}");
        assert!(document["_aws"]["Timestamp"].is_u64());
        let dimensions: Vec<&str> =
            declared["Dimensions"][0].as_array().unwrap().iter().map(|d| d.as_str().unwrap()).collect();
        assert_eq!(dimensions[0], "function", "{document}");
        assert_eq!(document["function"], "metrics-test");
        assert!(
            dimensions.iter().all(|d| ["function", "route", "outcome", "rule"].contains(d)),
            "{document}"
        );
        for metric in declared["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            assert!(!document[name].is_null(), "{document}");
            if name == "Latency" {
                assert_eq!(metric["Unit"], "Milliseconds");
            }
        }
    }
    // The template's alarms match these dimension sets exactly.
    let dimension_set = |metric: &str| -> Vec<String> {
        let document = documents.iter().find(|d| !d[metric].is_null()).expect(metric);
        let set = &document["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0];
        set.as_array().unwrap().iter().map(|d| d.as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(dimension_set("SignIns"), ["function", "outcome"]);
    assert_eq!(dimension_set("SweepReminders"), ["function", "outcome"]);
    assert_eq!(dimension_set("Lockouts"), ["function"]);
    assert_eq!(dimension_set("RateLimited"), ["function", "rule"]);
    assert_eq!(dimension_set("Latency"), ["function", "route", "outcome"]);

    // No user, session or address reaches a metric.
    assert!(!text.contains('@'), "an email in the metrics");
    for secret in users.iter().chain(&sessions) {
        assert!(!text.contains(secret.as_str()), "a user id or session in the metrics");
    }

    // What was flushed is not written twice.
    let mut again = Vec::new();
    carpool::metrics::flush_into(&mut again);
    assert!(again.is_empty(), "{}", String::from_utf8_lossy(&again));
}

/// Drives one of each metered event; returns the session cookies and user ids it made.
async fn session_of_every_metric(app: &App) -> (Vec<String>, Vec<String>) {
    let admin = app.admin("admin@example.edu").await;
    let driver = app.ready_driver("driver@example.edu", &admin).await;
    let rider = app.signed_in("rider@example.edu", false).await;

    // Five wrong passwords lock the account; the sixth attempt is refused as locked.
    app.signed_in("victim@example.edu", false).await;
    for _ in 0..6 {
        let wrong = json!({"email": "victim@example.edu", "password": "not the password at all"});
        let refused = app.post("/api/auth/signin", wrong, None).await;
        assert!(matches!(refused.status.as_u16(), 401 | 423), "{}", refused.body);
    }
    // Three resends an hour per address; the fourth is refused.
    for _ in 0..4 {
        app.post("/api/auth/resend-verification", json!({"email": "nobody@example.edu"}), None).await;
    }
    assert_eq!(app.get("/api/no/such/route", None).await.status, StatusCode::NOT_FOUND);

    let ride = app.offer(&driver, 2).await;
    let ride_id = ride["id"].as_str().unwrap();
    let request = app.joined(&rider, ride_id, 1).await;
    assert_eq!(app.answer(&driver, ride_id, &request, "accept").await.status, StatusCode::OK);

    // The rider's phone went away without a `$disconnect`: the next delivery to it is Gone.
    let (phone, _frames) = app.sockets.open();
    app.chat.connect(&find_session_cookie([rider.as_str()]).unwrap(), &phone).await.unwrap();
    app.sockets.forget(&phone);
    app.clock.advance(Duration::seconds(11));
    let messages = format!("/api/chat/conversations/{}/messages", ride["conversationId"].as_str().unwrap());
    for (i, cookie) in [&driver, &rider].into_iter().enumerate() {
        let message = json!({"body": "at the gate", "clientMessageId": format!("m-{i}")});
        assert_eq!(app.post(&messages, message, Some(cookie)).await.status, StatusCode::CREATED);
    }

    // A license expiring in a week: the sweep reminds its driver once.
    app.approved_driver("soon@example.edu", 7, &admin).await;
    let summary = app.driver.sweep().await.unwrap();
    assert_eq!(summary.alerts_sent, 1);

    let mut users = Vec::new();
    for email in ["admin", "driver", "rider", "victim", "soon"] {
        users.push(app.user_id(&format!("{email}@example.edu")).await);
    }
    let sessions = [admin, driver, rider].map(|c| c.split('=').nth(1).unwrap().to_owned()).to_vec();
    (sessions, users)
}
