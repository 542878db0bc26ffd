//! Helpers of the carpool tests: drivers ready to offer, ride bodies, the other HTTP verbs.

use super::app::{App, Reply};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use carpool::clock::Clock;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

/// A ride body: `kind` from the main gate to the station, departing `hours` from the clock's now.
pub fn ride_body(app: &App, kind: &str, seats: i64, hours: i64) -> Value {
    json!({
        "kind": kind,
        "origin": {"label": "Main gate", "lat": 40.712_345, "lng": -74.005_678},
        "destination": {"label": "Union Station"},
        "departAt": app.at(Duration::hours(hours)),
        "seats": seats,
        "notes": "Two bags max",
    })
}

impl App {
    /// The clock's now plus `offset`, as RFC 3339.
    pub fn at(&self, offset: Duration) -> String {
        let now: OffsetDateTime = self.clock.now();
        (now + offset).replace_nanosecond(0).unwrap().format(&Rfc3339).unwrap()
    }

    pub async fn send(&self, method: &str, path: &str, body: Option<Value>, cookie: &str) -> Reply {
        let mut req = Request::builder().method(method).uri(path).header(header::COOKIE, cookie);
        let body = match body {
            Some(b) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        self.request(req.body(body).unwrap()).await
    }

    /// An approved driver with availability on and a license valid for a year.
    pub async fn ready_driver(&self, email: &str, admin: &str) -> String {
        let cookie = self.approved_driver(email, 365, admin).await;
        let on = self.post("/api/auth/driver/toggle", json!({"available": true}), Some(&cookie)).await;
        assert_eq!(on.status, StatusCode::OK, "{}", on.body);
        cookie
    }

    /// Posts a ride and returns it.
    pub async fn posted(&self, cookie: &str, body: Value) -> Value {
        let res = self.post("/api/carpool/rides", body, Some(cookie)).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        res.body["ride"].clone()
    }

    /// An offer of `seats` by a ready driver, departing in a day.
    pub async fn offer(&self, cookie: &str, seats: i64) -> Value {
        self.posted(cookie, ride_body(self, "offer", seats, 24)).await
    }

    pub async fn join(&self, cookie: &str, ride: &str, seats: i64) -> Reply {
        let body = json!({"seats": seats, "message": "Can I come?"});
        self.post(&format!("/api/carpool/rides/{ride}/join"), body, Some(cookie)).await
    }

    /// Joins and returns the request's id.
    pub async fn joined(&self, cookie: &str, ride: &str, seats: i64) -> String {
        let res = self.join(cookie, ride, seats).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        res.body["request"]["id"].as_str().unwrap().to_owned()
    }

    pub async fn answer(&self, cookie: &str, ride: &str, request: &str, verb: &str) -> Reply {
        self.post(&format!("/api/carpool/rides/{ride}/requests/{request}/{verb}"), json!({}), Some(cookie))
            .await
    }

    pub async fn ride(&self, cookie: &str, ride: &str) -> Reply {
        self.get(&format!("/api/carpool/rides/{ride}"), Some(cookie)).await
    }

    /// The ids of a feed page (all of it, or with `query`).
    pub async fn feed(&self, cookie: &str, query: &str) -> Reply {
        self.get(&format!("/api/carpool/rides{query}"), Some(cookie)).await
    }

    pub async fn feed_ids(&self, cookie: &str, query: &str) -> Vec<String> {
        let page = self.feed(cookie, query).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        page.body["rides"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect()
    }
}

pub fn id(ride: &Value) -> String {
    ride["id"].as_str().unwrap().to_owned()
}

/// A driver's offer with one accepted rider: (driver, rider, ride id, conversation id).
pub async fn ride_with_rider(app: &App) -> (String, String, String, String) {
    let admin = app.admin("admin@example.edu").await;
    let driver = app.ready_driver("drv@example.edu", &admin).await;
    let ride = app.offer(&driver, 3).await;
    let conversation = ride["conversationId"].as_str().unwrap().to_owned();
    let ride = id(&ride);
    let rider = app.signed_in("rider@example.edu", false).await;
    let request = app.joined(&rider, &ride, 1).await;
    assert_eq!(app.answer(&driver, &ride, &request, "accept").await.status, StatusCode::OK);
    (driver, rider, ride, conversation)
}
