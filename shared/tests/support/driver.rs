//! Helpers of the driver tests: licenses, admins, photos.

use super::app::{App, Reply};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use carpool::domain::email::Email;
use carpool::repo::accounts;
use serde_json::{json, Value};
use time::{Date, Duration};

pub const NUMBER: &str = "D123-4567";

pub fn license(name: &str, expires_on: Date) -> Value {
    json!({ "legalName": name, "number": NUMBER, "region": "CA", "expiresOn": expires_on.to_string() })
}

impl App {
    pub async fn put(&self, path: &str, body: Value, cookie: Option<&str>) -> Reply {
        let mut req = Request::put(path).header(header::CONTENT_TYPE, "application/json");
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        self.request(req.body(Body::from(body.to_string())).unwrap()).await
    }

    /// The operator command's work: `carpool-admin user grant-admin <email>`.
    pub async fn grant_admin(&self, email: &str) {
        let email = Email::parse(email).unwrap();
        accounts::set_admin(self.store.as_ref(), &email, true).await.unwrap().expect("account exists");
    }

    pub async fn user_id(&self, email: &str) -> String {
        let email = Email::parse(email).unwrap();
        accounts::user_id_for_email(self.store.as_ref(), &email).await.unwrap().unwrap().to_string()
    }

    /// Today's date on the demo campus (America/New_York).
    pub fn campus_today(&self) -> Date {
        let calendar = carpool::domain::calendar::Calendar::new("America/New_York").unwrap();
        calendar.today(carpool::clock::Clock::now(self.clock.as_ref()))
    }

    /// A signed-in user with a license expiring `days` from the campus's today.
    pub async fn with_license(&self, email: &str, days: i64) -> String {
        let cookie = self.signed_in(email, false).await;
        let expires = self.campus_today() + Duration::days(days);
        let put =
            self.put("/api/auth/driver/license", license("Alice Example", expires), Some(&cookie)).await;
        assert_eq!(put.status, StatusCode::OK, "{}", put.body);
        cookie
    }

    /// An approved driver (reviewed by `admin`, whose cookie is given).
    pub async fn approved_driver(&self, email: &str, days: i64, admin: &str) -> String {
        let cookie = self.with_license(email, days).await;
        let enabled = self.post("/api/auth/driver/enable", json!({}), Some(&cookie)).await;
        assert_eq!(enabled.status, StatusCode::ACCEPTED, "{}", enabled.body);
        let id = self.user_id(email).await;
        let decided = self
            .post(&format!("/api/admin/driver-reviews/{id}"), json!({"decision": "approve"}), Some(admin))
            .await;
        assert_eq!(decided.status, StatusCode::OK, "{}", decided.body);
        cookie
    }

    /// A signed-in admin of the demo campus.
    pub async fn admin(&self, email: &str) -> String {
        let cookie = self.signed_in(email, false).await;
        self.grant_admin(email).await;
        cookie
    }

    /// Asks for an upload URL and PUTs `bytes` to it as the grant says; returns the object key.
    pub async fn upload_photo(&self, cookie: &str, content_type: &str, bytes: Vec<u8>) -> String {
        let grant = self
            .post(
                "/api/auth/driver/license/upload",
                json!({"contentType": content_type, "contentLength": bytes.len()}),
                Some(cookie),
            )
            .await;
        assert_eq!(grant.status, StatusCode::OK, "{}", grant.body);
        let put = self.put_bytes(&grant.body, content_type, bytes).await;
        assert_eq!(put, StatusCode::OK);
        grant.body["objectKey"].as_str().unwrap().to_owned()
    }

    /// PUTs bytes to a grant's `uploadUrl` with the given content type.
    pub async fn put_bytes(&self, grant: &Value, content_type: &str, bytes: Vec<u8>) -> StatusCode {
        let url = grant["uploadUrl"].as_str().unwrap();
        let path = url.strip_prefix(super::app::UPLOAD_BASE).expect("points at the app");
        self.put_to(path, content_type, bytes).await
    }

    /// The status and body bytes of a GET that may answer something other than JSON.
    pub async fn get_bytes(&self, path: &str) -> (StatusCode, Vec<u8>) {
        use tower::ServiceExt;
        let res = self.router.clone().oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
        let status = res.status();
        (status, axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap().to_vec())
    }

    pub async fn put_to(&self, path: &str, content_type: &str, bytes: Vec<u8>) -> StatusCode {
        let req = Request::put(path)
            .header(header::CONTENT_TYPE, content_type)
            .header(header::CONTENT_LENGTH, bytes.len())
            .body(Body::from(bytes))
            .unwrap();
        self.request_only(req).await.status
    }
}

/// A PNG carrying an AnalyzeID response in a `tEXt` chunk (the local OCR stand-in).
pub fn license_png(fields: &[(&str, &str, f32)]) -> Vec<u8> {
    let fields: Vec<Value> = fields
        .iter()
        .map(|(kind, text, confidence)| {
            let mut value = json!({ "Text": text, "Confidence": confidence });
            if *kind == "EXPIRATION_DATE" && !text.is_empty() {
                value["NormalizedValue"] =
                    json!({ "Value": format!("{text}T00:00:00"), "ValueType": "Date" });
            }
            json!({ "Type": { "Text": kind }, "ValueDetection": value })
        })
        .collect();
    let response = json!({
        "IdentityDocuments": [{ "DocumentIndex": 1, "IdentityDocumentFields": fields }],
        "DocumentMetadata": { "Pages": 1 },
        "AnalyzeIDModelVersion": "1.0"
    });
    carpool::documents::local::stand_in_png(&response.to_string())
}

/// The fields of a readable license photo of Alice Example.
pub fn alice_fields(expires_on: Date) -> Vec<(&'static str, String, f32)> {
    vec![
        ("FIRST_NAME", "ALICE".into(), 98.5),
        ("MIDDLE_NAME", "".into(), 99.0),
        ("LAST_NAME", "EXAMPLE".into(), 97.2),
        ("DOCUMENT_NUMBER", "D1234567".into(), 96.4),
        ("EXPIRATION_DATE", expires_on.to_string(), 95.1),
        ("ID_TYPE", "DRIVER LICENSE FRONT".into(), 99.0),
    ]
}

pub fn png_of(fields: &[(&'static str, String, f32)]) -> Vec<u8> {
    let borrowed: Vec<(&str, &str, f32)> = fields.iter().map(|(k, t, c)| (*k, t.as_str(), *c)).collect();
    license_png(&borrowed)
}
