//! Least privilege that works: each function's routes run, through that function's own router,
//! over a store that records the DynamoDB actions its calls need (and on what: the table or an
//! index). The HTTP functions only queue mail; the mailer function delivers the jobs they queue,
//! over its own recording store and a mailer that records sends. The actions must be exactly
//! those `template.yaml` grants the function, so a missing permission fails here instead of as
//! an AccessDenied in AWS, and an unused one is noticed.

mod support;

use async_trait::async_trait;
use axum::http::StatusCode;
use carpool::auth::AuthService;
use carpool::clock::Clock;
use carpool::documents::local::LocalDocuments;
use carpool::documents::{LicenseOcr, OcrError, UploadError, UploadStore, UploadTicket};
use carpool::domain::analyze_id::AnalyzeIdResponse;
use carpool::domain::totp::TotpKey;
use carpool::driver::Documents;
use carpool::http::edge::authorize;
use carpool::http::{router, AppState, Function, Ports};
use carpool::lambda::{handle_erasure_event, handle_mail_event, handle_socket_event, handle_sweep_event};
use carpool::mail::jobs::MailQueue;
use carpool::mail::{MailError, Mailer, Message};
use carpool::push::local::LocalPusher;
use carpool::push::{PushError, Pusher};
use carpool::repo::mail_jobs;
use carpool::store::{Item, Key, Page, Query, Store, StoreError, Write};
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayV2CustomAuthorizerV2Request, ApiGatewayWebsocketProxyRequest,
};
use lambda_http::{Context, LambdaEvent};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use support::app::*;
use support::driver::*;
use support::rides::*;
use support::Tripwire;
use time::Duration;

type Actions = BTreeSet<&'static str>;

/// Appended to an action used on (or granted for) a secondary index rather than the table: the
/// index is an IAM resource of its own (`<table arn>/index/<name>`).
const ON_INDEX: &str = " on an index";

/// The IAM actions behind each port call (a transaction needs one action per kind of write).
struct Recording {
    inner: Arc<dyn Store>,
    used: Mutex<Actions>,
}

impl Recording {
    fn note(&self, actions: impl IntoIterator<Item = &'static str>) {
        self.used.lock().unwrap().extend(actions);
    }
}

#[async_trait]
impl Store for Recording {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.note(["dynamodb:GetItem"]);
        self.inner.get(key).await
    }
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, StoreError> {
        self.note(["dynamodb:BatchGetItem"]);
        self.inner.get_many(keys).await
    }
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        self.note([if query.index.is_some() { "dynamodb:Query on an index" } else { "dynamodb:Query" }]);
        self.inner.query(query).await
    }
    async fn write(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.note(writes.iter().map(|w| match w {
            Write::Put { .. } => "dynamodb:PutItem",
            // The adapter sends an update that sets nothing as a condition check.
            Write::Update { set, expires_at: None, .. } if set.is_empty() => "dynamodb:ConditionCheckItem",
            Write::Update { .. } => "dynamodb:UpdateItem",
            Write::Delete { .. } => "dynamodb:DeleteItem",
            Write::Check { .. } => "dynamodb:ConditionCheckItem",
        }));
        self.inner.write(writes).await
    }
    async fn increment(&self, key: &Key, attr: &str, by: i64, expires_at: i64) -> Result<i64, StoreError> {
        // An UpdateItem, and a PutItem when it replaces an expired counter.
        self.note(["dynamodb:UpdateItem", "dynamodb:PutItem"]);
        self.inner.increment(key, attr, by, expires_at).await
    }
}

/// The S3 and Textract actions behind the license-photo ports, over the base app's local photos.
/// A presigned URL is signed with the function's own credentials, so signing one needs the
/// action the URL performs; Textract reads the S3 object with the caller's rights.
struct RecordingPhotos {
    inner: LocalDocuments,
    recording: Arc<Recording>,
}

#[async_trait]
impl UploadStore for RecordingPhotos {
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        length: u64,
        expires_in: std::time::Duration,
    ) -> Result<UploadTicket, UploadError> {
        self.recording.note(["s3:PutObject"]);
        self.inner.presign_put(key, content_type, length, expires_in).await
    }
    async fn presign_get(&self, key: &str, expires_in: std::time::Duration) -> Result<String, UploadError> {
        self.recording.note(["s3:GetObject"]);
        self.inner.presign_get(key, expires_in).await
    }
    async fn first_bytes(&self, key: &str, n: usize) -> Result<Option<Vec<u8>>, UploadError> {
        self.recording.note(["s3:GetObject"]);
        self.inner.first_bytes(key, n).await
    }
    async fn put_file(
        &self,
        key: &str,
        path: &std::path::Path,
        content_type: &str,
        filename: &str,
    ) -> Result<(), UploadError> {
        self.recording.note(["s3:PutObject"]);
        self.inner.put_file(key, path, content_type, filename).await
    }
    async fn delete_under(&self, prefix: &str) -> Result<usize, UploadError> {
        // ListObjectsV2 is authorised as s3:ListBucket on the bucket; DeleteObjects as
        // s3:DeleteObject on each key.
        self.recording.note(["s3:ListBucket", "s3:DeleteObject"]);
        self.inner.delete_under(prefix).await
    }
}

#[async_trait]
impl LicenseOcr for RecordingPhotos {
    async fn analyze(&self, key: &str) -> Result<AnalyzeIdResponse, OcrError> {
        self.recording.note(["textract:AnalyzeID", "s3:GetObject"]);
        self.inner.analyze(key).await
    }
}

/// The action behind the WebSocket ports (`PostToConnection`, `DeleteConnection`).
struct RecordingSockets {
    inner: Arc<LocalPusher>,
    recording: Arc<Recording>,
}

#[async_trait]
impl Pusher for RecordingSockets {
    async fn send(&self, connection: &str, frame: &str) -> Result<(), PushError> {
        self.recording.note(["execute-api:ManageConnections"]);
        self.inner.send(connection, frame).await
    }
    async fn close(&self, connection: &str) -> Result<(), PushError> {
        self.recording.note(["execute-api:ManageConnections"]);
        self.inner.close(connection).await
    }
}

/// One function's router over the recording store; the shared store and clock underneath.
struct FunctionApp {
    app: App,
    recording: Arc<Recording>,
}

impl FunctionApp {
    fn new(base: &App, function: Function) -> FunctionApp {
        let mut config = test_config();
        // Every export is a link: what a large one needs.
        config.export_answer_limit = 0;
        let recording = Arc::new(Recording { inner: base.store.clone(), used: Mutex::default() });
        let mail = Arc::new(Recorder::default());
        let keys = test_config().key_ring.unwrap();
        let local = LocalDocuments::new(base.uploads.path(), UPLOAD_BASE, keys, base.clock.clone());
        let photos = Arc::new(RecordingPhotos { inner: local, recording: recording.clone() });
        let documents = Documents { uploads: photos.clone(), ocr: photos };
        let sockets = Arc::new(LocalPusher::default());
        let pusher = Arc::new(RecordingSockets { inner: sockets.clone(), recording: recording.clone() });
        let state = AppState::new(
            Ports {
                store: recording.clone(),
                mailer: mail.clone(),
                clock: base.clock.clone(),
                documents,
                pusher,
            },
            config,
        )
        .unwrap();
        // The mail it queues is delivered by the mailer function (checked on its own below).
        let mailer = AppState::new(
            Ports {
                store: base.store.clone(),
                mailer: mail.clone(),
                clock: base.clock.clone(),
                documents: test_documents(),
                pusher: Arc::new(LocalPusher::default()),
            },
            test_config(),
        );
        let app = App {
            driver: state.driver.clone(),
            rides: state.rides.clone(),
            chat: state.chat.clone(),
            account: state.account.clone(),
            sockets,
            router: router(state, &[function]),
            clock: base.clock.clone(),
            mail,
            dispatcher: mailer.unwrap().mail,
            store: recording.clone(),
            keep: None,
            uploads: tempfile::tempdir().unwrap(),
        };
        FunctionApp { app, recording }
    }

    fn used(&self) -> Actions {
        self.recording.used.lock().unwrap().clone()
    }
}

/// The `dynamodb:`, `ses:`, `s3:`, `textract:` and `execute-api:` actions each function's block
/// of template.yaml grants, by binary (`s3:` ones count only on the bucket's `licenses/` and
/// `exports/` prefixes,
/// `execute-api:` ones only on the WebSocket API's connections).
/// A `dynamodb:` action counts as granted on the table when its statement's resources name
/// `Table.Arn`, and with `ON_INDEX` when they name an `/index/` ARN.
fn granted() -> BTreeMap<String, Actions> {
    let template = include_str!("../../template.yaml");
    let mut out: BTreeMap<String, Actions> = BTreeMap::new();
    // Resources are the two-space-indented keys; a function's block runs to the next one.
    let mut blocks: Vec<Vec<&str>> = Vec::new();
    for line in template.lines() {
        let is_resource =
            line.starts_with("  ") && !line.starts_with("   ") && line.trim_end().ends_with(':');
        if is_resource {
            blocks.push(Vec::new());
        }
        if let Some(block) = blocks.last_mut() {
            block.push(line);
        }
    }
    for block in blocks {
        let Some(binary) = block.iter().find_map(|l| l.trim().strip_prefix("Binary: ")) else { continue };
        // Policy statements: from a `- Sid:` (or `- Effect:`) item to the next line indented no
        // deeper than its dash. Comment lines are left out.
        let mut statements: Vec<Vec<&str>> = Vec::new();
        let mut open: Option<usize> = None;
        for line in block.iter().filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')) {
            let indent = line.len() - line.trim_start().len();
            if open.is_some_and(|dash| indent <= dash) {
                open = None;
            }
            let item = line.trim_start();
            if item.starts_with("- Sid:") || item.starts_with("- Effect:") {
                open = Some(indent);
                statements.push(Vec::new());
            }
            if open.is_some() {
                statements.last_mut().unwrap().push(line);
            }
        }
        let mut actions = Actions::new();
        for statement in statements {
            let on_index = statement.iter().any(|l| l.contains("/index/"));
            let on_table = statement.iter().any(|l| l.contains("Table.Arn") && !l.contains("/index/"));
            let words = statement
                .iter()
                .flat_map(|l| l.split(|c: char| c.is_whitespace() || c == '[' || c == ']' || c == ','))
                .filter(|w| {
                    // `s3:prefix:` is a condition key, not an action.
                    !w.ends_with(':')
                        && ["dynamodb:", "ses:", "s3:", "textract:", "execute-api:"]
                            .iter()
                            .any(|p| w.starts_with(p))
                });
            // The WebSocket API's connections, and nothing else of it.
            let on_connections = statement.iter().any(|l| l.contains("${ChatSocketApi}/ws/*/@connections/*"));
            // Objects only under the bucket's `licenses/` (photos) and `exports/` prefixes, and
            // listing only those prefixes.
            let on_objects = statement.iter().all(|l| {
                !l.contains("LicenseBucket.Arn") || l.contains("/licenses/*") || l.contains("/exports/*")
            }) && statement.iter().any(|l| l.contains("LicenseBucket.Arn"));
            let listing_prefixes = statement.iter().any(|l| l.contains("!GetAtt LicenseBucket.Arn"))
                && statement.iter().any(|l| l.contains("s3:prefix: [licenses/*, exports/*]"));
            for word in words {
                let mut grants = Vec::new();
                if word.starts_with("ses:")
                    || word.starts_with("textract:")
                    || (word.starts_with("s3:") && word != "s3:ListBucket" && on_objects)
                    || (word == "s3:ListBucket" && listing_prefixes)
                    || (word.starts_with("execute-api:") && on_connections)
                {
                    grants.push(word.to_owned());
                }
                if word.starts_with("dynamodb:") && on_table {
                    grants.push(word.to_owned());
                }
                if word.starts_with("dynamodb:") && on_index {
                    grants.push(format!("{word}{ON_INDEX}"));
                }
                if grants.is_empty() {
                    // Neither the table nor an index: reported as granted but unused.
                    grants.push(format!("{word} on an unknown resource"));
                }
                actions.extend(grants.into_iter().map(|g| &*Box::leak(g.into_boxed_str())));
            }
        }
        out.insert(binary.to_owned(), actions);
    }
    out
}

/// Registers, verifies and signs in through the whole local router; returns the cookie.
async fn account(base: &App, email: &str) -> String {
    base.signed_in(email, false).await
}

fn signin_body(email: &str, password: &str, code: Option<&str>) -> serde_json::Value {
    json!({ "email": email, "password": password, "totpCode": code })
}

async fn exercise(base: &App, function: Function) -> Actions {
    let f = FunctionApp::new(base, function);
    let app = &f.app;
    match function {
        Function::Register => {
            assert_eq!(app.register("new@example.edu").await.status, StatusCode::ACCEPTED);
            account(base, "taken@example.edu").await;
            assert_eq!(app.register("taken@example.edu").await.status, StatusCode::ACCEPTED);
        }
        Function::VerifyEmail => {
            let registered = base.register("verify@example.edu").await;
            assert_eq!(registered.status, StatusCode::ACCEPTED);
            let resend =
                app.post("/api/auth/resend-verification", json!({"email": "verify@example.edu"}), None);
            assert_eq!(resend.await.status, StatusCode::ACCEPTED);
            // The resent link (delivered by the mailer) is the live one now.
            let token = token_in(&app.mail.to("verify@example.edu").pop().expect("link resent"));
            assert_eq!(
                app.post("/api/auth/verify-email", json!({ "token": token }), None).await.status,
                StatusCode::OK
            );
            let again = app.post("/api/auth/verify-email", json!({ "token": token }), None).await;
            assert_eq!(again.code(), "invalid_token");
        }
        Function::Signin => {
            account(base, "sign@example.edu").await;
            let ok =
                app.post("/api/auth/signin", signin_body("sign@example.edu", PASSWORD, None), None).await;
            assert_eq!(ok.status, StatusCode::OK);
            // Five wrong passwords lock the email and mail the owner; then the lock is cleared by a success.
            for _ in 0..5 {
                app.post("/api/auth/signin", signin_body("sign@example.edu", "wrong password!", None), None)
                    .await;
            }
            base.clock.advance(Duration::minutes(2));
            let ok =
                app.post("/api/auth/signin", signin_body("sign@example.edu", PASSWORD, None), None).await;
            assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
            app.post("/api/auth/signin", signin_body("nobody@example.edu", PASSWORD, None), None).await;

            let cookie = account(base, "sign2fa@example.edu").await;
            let (key, recovery) = base.two_factor_on(&cookie).await;
            let need =
                app.post("/api/auth/signin", signin_body("sign2fa@example.edu", PASSWORD, None), None).await;
            assert_eq!(need.code(), "totp_required");
            let code = base.next_code(&key);
            let ok =
                app.post("/api/auth/signin", signin_body("sign2fa@example.edu", PASSWORD, Some(&code)), None);
            assert_eq!(ok.await.status, StatusCode::OK);
            let replay =
                app.post("/api/auth/signin", signin_body("sign2fa@example.edu", PASSWORD, Some(&code)), None);
            assert_eq!(replay.await.code(), "invalid_totp");
            let with_recovery = signin_body("sign2fa@example.edu", PASSWORD, Some(&recovery[0]));
            assert_eq!(app.post("/api/auth/signin", with_recovery, None).await.status, StatusCode::OK);
        }
        Function::Session => {
            let cookie = account(base, "sess@example.edu").await;
            let other =
                base.post("/api/auth/signin", signin_body("sess@example.edu", PASSWORD, None), None).await;
            let other = other.session_cookie();
            assert_eq!(app.get("/api/auth/session", Some(&cookie)).await.status, StatusCode::OK);
            let list = app.get("/api/auth/sessions", Some(&cookie)).await;
            let sessions = list.body["sessions"].as_array().unwrap();
            let id =
                sessions.iter().find(|s| s["current"] == false).unwrap()["id"].as_str().unwrap().to_owned();
            let revoke = axum::http::Request::delete(format!("/api/auth/sessions/{id}"))
                .header("cookie", &cookie)
                .body(axum::body::Body::empty())
                .unwrap();
            assert_eq!(app.request(revoke).await.status, StatusCode::NO_CONTENT);
            // Past the sliding threshold, a session check also moves the expiry.
            base.clock.advance(Duration::minutes(10));
            assert_eq!(app.get("/api/auth/session", Some(&cookie)).await.status, StatusCode::OK);
            assert_eq!(
                app.post("/api/auth/signout", json!({}), Some(&other)).await.status,
                StatusCode::UNAUTHORIZED
            );
            // Signing out everywhere closes the user's WebSocket connections.
            base.online("sess@example.edu").await;
            assert_eq!(
                app.post("/api/auth/signout-all", json!({}), Some(&cookie)).await.status,
                StatusCode::NO_CONTENT
            );
            let fresh = account_signin(base, "sess@example.edu").await;
            assert_eq!(
                app.post("/api/auth/signout", json!({}), Some(&fresh)).await.status,
                StatusCode::NO_CONTENT
            );
        }
        Function::Password => {
            let cookie = account(base, "pass@example.edu").await;
            let forgot =
                app.post("/api/auth/password/forgot", json!({"email": "pass@example.edu"}), None).await;
            assert_eq!(forgot.status, StatusCode::ACCEPTED);
            let token = token_in(&app.mail.to("pass@example.edu").pop().unwrap());
            // A reset (and a change) closes the WebSocket connections of the sessions it ends.
            base.online("pass@example.edu").await;
            let reset = json!({"token": token, "password": "a brand new passphrase 8"});
            assert_eq!(app.post("/api/auth/password/reset", reset, None).await.status, StatusCode::OK);
            assert_eq!(base.get("/api/auth/session", Some(&cookie)).await.status, StatusCode::UNAUTHORIZED);
            let cookie = base
                .post(
                    "/api/auth/signin",
                    signin_body("pass@example.edu", "a brand new passphrase 8", None),
                    None,
                )
                .await
                .session_cookie();
            let change =
                json!({"currentPassword": "a brand new passphrase 8", "password": "copper falcon meadow 88"});
            assert_eq!(
                app.post("/api/auth/password/change", change, Some(&cookie)).await.status,
                StatusCode::OK
            );
            let strength =
                app.post("/api/auth/password/strength", json!({"password": "hunter2"}), None).await;
            assert_eq!(strength.status, StatusCode::OK);
        }
        Function::TwoFactor => {
            let cookie = account(base, "two@example.edu").await;
            let setup =
                app.post("/api/auth/2fa/totp/setup", json!({ "password": PASSWORD }), Some(&cookie)).await;
            let key = TotpKey::from_base32(setup.body["secret"].as_str().unwrap()).unwrap();
            let code = key.code_at(base.clock.epoch_seconds());
            let confirmed =
                app.post("/api/auth/2fa/totp/confirm", json!({ "code": code }), Some(&cookie)).await;
            let recovery = confirmed.body["recoveryCodes"][0].as_str().unwrap().to_owned();
            let renew = json!({"password": PASSWORD, "code": base.next_code(&key)});
            let renewed = app.post("/api/auth/2fa/recovery-codes", renew, Some(&cookie)).await;
            assert_eq!(renewed.status, StatusCode::OK);
            // Renewing with a recovery code checks that two-factor is still on (a condition check).
            let with_code = json!({"password": PASSWORD, "code": renewed.body["recoveryCodes"][0]});
            let renewed = app.post("/api/auth/2fa/recovery-codes", with_code, Some(&cookie)).await;
            assert_eq!(renewed.status, StatusCode::OK);
            let spent = json!({"password": PASSWORD, "code": recovery});
            let refused = app.post("/api/auth/2fa/totp/disable", spent, Some(&cookie)).await;
            assert_eq!(refused.code(), "invalid_totp", "renewal retired the old codes");
            let off = json!({"password": PASSWORD, "code": base.next_code(&key)});
            assert_eq!(
                app.post("/api/auth/2fa/totp/disable", off, Some(&cookie)).await.status,
                StatusCode::OK
            );
        }
        Function::Driver => {
            let cookie = account(base, "iam-driver@example.edu").await;
            assert_eq!(app.get("/api/auth/driver", Some(&cookie)).await.status, StatusCode::OK);
            let expires = base.campus_today() + Duration::days(30);
            let put =
                app.put("/api/auth/driver/license", license("Alice Example", expires), Some(&cookie)).await;
            assert_eq!(put.status, StatusCode::OK);
            let key = base.upload_photo(&cookie, "image/png", png_of(&alice_fields(expires))).await;
            let grant = json!({"contentType": "image/png", "contentLength": 100});
            assert_eq!(
                app.post("/api/auth/driver/license/upload", grant, Some(&cookie)).await.status,
                StatusCode::OK
            );
            let scan =
                app.post("/api/auth/driver/license/scan", json!({"objectKey": key}), Some(&cookie)).await;
            assert_eq!(scan.status, StatusCode::OK, "{}", scan.body);
            let enable = app.post("/api/auth/driver/enable", json!({}), Some(&cookie)).await;
            assert_eq!(enable.status, StatusCode::ACCEPTED);
            let off = app.post("/api/auth/driver/toggle", json!({"available": false}), Some(&cookie)).await;
            assert_eq!(off.status, StatusCode::OK);
            // Availability moves a driver's offers out of the feed and back.
            let admin = base.admin("iam-driver-admin@example.edu").await;
            let offerer = base.ready_driver("iam-offerer@example.edu", &admin).await;
            base.offer(&offerer, 2).await;
            for available in [false, true] {
                let toggled =
                    app.post("/api/auth/driver/toggle", json!({ "available": available }), Some(&offerer));
                assert_eq!(toggled.await.status, StatusCode::OK);
            }
        }
        Function::Admin => {
            let admin = base.admin("iam-admin@example.edu").await;
            let cookie = base.with_license("iam-applicant@example.edu", 30).await;
            base.post("/api/auth/driver/enable", json!({}), Some(&cookie)).await;
            let id = base.user_id("iam-applicant@example.edu").await;
            assert_eq!(app.get("/api/admin/driver-reviews", Some(&admin)).await.status, StatusCode::OK);
            let approve = json!({"decision": "approve"});
            let decided = app.post(&format!("/api/admin/driver-reviews/{id}"), approve, Some(&admin)).await;
            assert_eq!(decided.status, StatusCode::OK, "{}", decided.body);
            let why = json!({"reason": "complaints"});
            let suspended =
                app.post(&format!("/api/admin/drivers/{id}/suspend"), why.clone(), Some(&admin)).await;
            assert_eq!(suspended.status, StatusCode::OK);
            let back = app.post(&format!("/api/admin/drivers/{id}/reinstate"), why, Some(&admin)).await;
            assert_eq!(back.status, StatusCode::OK);
            // Past the sliding threshold, the admin's session check moves its expiry too.
            base.clock.advance(Duration::minutes(10));
            let audit = app.get(&format!("/api/admin/audit?userId={id}"), Some(&admin)).await;
            assert_eq!(audit.status, StatusCode::OK);
            // A suspension cancels the driver's rides and tells their riders.
            let driver = base.ready_driver("iam-suspended@example.edu", &admin).await;
            let ride = base.offer(&driver, 2).await;
            base.online("iam-suspended@example.edu").await;
            let rider = account(base, "iam-rider@example.edu").await;
            base.joined(&rider, ride["id"].as_str().unwrap(), 1).await;
            let driver_id = base.user_id("iam-suspended@example.edu").await;
            let why = json!({"reason": "complaints"});
            let suspended =
                app.post(&format!("/api/admin/drivers/{driver_id}/suspend"), why, Some(&admin)).await;
            assert_eq!(suspended.status, StatusCode::OK, "{}", suspended.body);
            let report = json!({"userId": driver_id, "reason": "Drove off without me"});
            assert_eq!(base.post("/api/reports", report, Some(&rider)).await.status, StatusCode::ACCEPTED);
            let reports = app.get("/api/admin/reports", Some(&admin)).await;
            let report = reports.body["reports"][0]["id"].as_str().unwrap().to_owned();
            let decision = json!({"status": "actioned", "note": "Suspended"});
            let decided = app.post(&format!("/api/admin/reports/{report}"), decision, Some(&admin)).await;
            assert_eq!(decided.status, StatusCode::OK, "{}", decided.body);
        }
        Function::Carpool => {
            let admin = base.admin("iam-carpool-admin@example.edu").await;
            let driver = base.ready_driver("iam-carpooler@example.edu", &admin).await;
            // Ride events' system messages are pushed to the members' connections.
            base.online("iam-carpooler@example.edu").await;
            let posted = app.post("/api/carpool/rides", ride_body(base, "offer", 3, 24), Some(&driver)).await;
            assert_eq!(posted.status, StatusCode::CREATED, "{}", posted.body);
            let ride = posted.body["ride"]["id"].as_str().unwrap().to_owned();
            let rider = account(base, "iam-passenger@example.edu").await;
            assert_eq!(app.get("/api/carpool/rides?kind=offer", Some(&rider)).await.status, StatusCode::OK);
            assert_eq!(app.get("/api/carpool/rides", Some(&rider)).await.status, StatusCode::OK);
            let request = app.joined(&rider, &ride, 1).await;
            let other = account(base, "iam-other@example.edu").await;
            let declined_one = app.joined(&other, &ride, 1).await;
            assert_eq!(app.answer(&driver, &ride, &request, "accept").await.status, StatusCode::OK);
            assert_eq!(app.answer(&driver, &ride, &declined_one, "decline").await.status, StatusCode::OK);
            assert_eq!(app.ride(&driver, &ride).await.status, StatusCode::OK);
            let later = json!({"departAt": base.at(Duration::hours(30))});
            assert_eq!(
                app.send("PATCH", &format!("/api/carpool/rides/{ride}"), Some(later), &driver).await.status,
                StatusCode::OK
            );
            let left = app.post(&format!("/api/carpool/rides/{ride}/leave"), json!({}), Some(&rider)).await;
            assert_eq!(left.status, StatusCode::NO_CONTENT);
            assert_eq!(app.get("/api/carpool/me/rides", Some(&rider)).await.status, StatusCode::OK);
            app.joined(&rider, &ride, 1).await;
            let cancelled = app.send("DELETE", &format!("/api/carpool/rides/{ride}"), None, &driver).await;
            assert_eq!(cancelled.status, StatusCode::NO_CONTENT);
            let other_id = base.user_id("iam-other@example.edu").await;
            let block = format!("/api/users/{other_id}/block");
            assert_eq!(app.post(&block, json!({}), Some(&rider)).await.status, StatusCode::NO_CONTENT);
            assert_eq!(app.send("DELETE", &block, None, &rider).await.status, StatusCode::NO_CONTENT);
            let report = json!({"userId": other_id, "reason": "No-show"});
            assert_eq!(app.post("/api/reports", report, Some(&rider)).await.status, StatusCode::ACCEPTED);
        }
        Function::ChatHttp => {
            let admin = base.admin("iam-chat-admin@example.edu").await;
            let driver = base.ready_driver("iam-chat-driver@example.edu", &admin).await;
            let ride = base.offer(&driver, 2).await;
            let conversation = ride["conversationId"].as_str().unwrap().to_owned();
            let rider = account(base, "iam-chat-rider@example.edu").await;
            let request = base.joined(&rider, ride["id"].as_str().unwrap(), 1).await;
            base.answer(&driver, ride["id"].as_str().unwrap(), &request, "accept").await;
            base.online("iam-chat-rider@example.edu").await;
            let path = format!("/api/chat/conversations/{conversation}/messages");
            let body = json!({"body": "at the gate", "clientMessageId": "iam-1"});
            let sent = app.post(&path, body.clone(), Some(&rider)).await;
            assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
            assert_eq!(app.post(&path, body, Some(&rider)).await.status, StatusCode::OK);
            let message = sent.body["message"]["id"].as_str().unwrap().to_owned();
            assert_eq!(app.get(&path, Some(&driver)).await.status, StatusCode::OK);
            assert_eq!(
                app.get(&format!("{path}?after={message}"), Some(&driver)).await.status,
                StatusCode::OK
            );
            let read = json!({"messageId": message});
            let marked =
                app.post(&format!("/api/chat/conversations/{conversation}/read"), read, Some(&driver)).await;
            assert_eq!(marked.status, StatusCode::NO_CONTENT);
            assert_eq!(app.get("/api/chat/conversations", Some(&driver)).await.status, StatusCode::OK);
            let driver_id = base.user_id("iam-chat-driver@example.edu").await;
            let direct =
                app.post("/api/chat/conversations", json!({"userId": driver_id}), Some(&rider)).await;
            assert_eq!(direct.status, StatusCode::OK, "{}", direct.body);
        }
        Function::Account => {
            let email = "iam-leaver@example.edu";
            let cookie = everything_of(base, email, "iam-account").await;
            let totp = base.two_factor_on(&cookie).await.0;
            let exported = app.get("/api/auth/account/export", Some(&cookie)).await;
            assert_eq!(exported.status, StatusCode::SEE_OTHER, "{}", exported.body);
            let code = base.next_code(&totp);
            let delete = json!({"password": PASSWORD, "totpCode": code});
            let deleted = app.post("/api/auth/account/delete", delete, Some(&cookie)).await;
            assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
        }
    }
    f.used()
}

/// Signs up `email` with a bit of everything: a scanned license photo, a ride offered with a
/// rider accepted, a seat on another's ride, a direct chat, a block, an open connection.
/// `others` names the other people it meets. Returns the cookie.
async fn everything_of(base: &App, email: &str, others: &str) -> String {
    let admin = base.admin(&format!("{others}-admin@example.edu")).await;
    let cookie = base.ready_driver(email, &admin).await;
    let fields = alice_fields(base.campus_today() + Duration::days(365));
    let photo = base.upload_photo(&cookie, "image/png", png_of(&fields)).await;
    let scan = base.post("/api/auth/driver/license/scan", json!({"objectKey": photo}), Some(&cookie)).await;
    assert_eq!(scan.status, StatusCode::OK, "{}", scan.body);
    let ride = base.offer(&cookie, 2).await;
    let rider_email = format!("{others}-rider@example.edu");
    let rider = account(base, &rider_email).await;
    let request = base.joined(&rider, ride["id"].as_str().unwrap(), 1).await;
    base.answer(&cookie, ride["id"].as_str().unwrap(), &request, "accept").await;
    let driver = base.ready_driver(&format!("{others}-driver@example.edu"), &admin).await;
    let other_ride = base.offer(&driver, 2).await;
    base.joined(&cookie, other_ride["id"].as_str().unwrap(), 1).await;
    let rider_id = base.user_id(&rider_email).await;
    let direct = base.post("/api/chat/conversations", json!({"userId": rider_id}), Some(&cookie)).await;
    assert_eq!(direct.status, StatusCode::OK, "{}", direct.body);
    let block = format!("/api/users/{}/block", base.user_id(&format!("{others}-driver@example.edu")).await);
    assert_eq!(base.post(&block, json!({}), Some(&cookie)).await.status, StatusCode::NO_CONTENT);
    base.online(email).await;
    cookie
}

/// Signs in through the whole local router; returns the cookie.
async fn account_signin(base: &App, email: &str) -> String {
    base.post("/api/auth/signin", signin_body(email, PASSWORD, None), None).await.session_cookie()
}

/// The authorizer function: its decision over the recording store.
async fn exercise_authorizer(base: &App) -> Actions {
    let recording = Arc::new(Recording { inner: base.store.clone(), used: Mutex::default() });
    let queue = MailQueue::new(None, base.clock.clone());
    let auth = AuthService::new(recording.clone(), queue, base.clock.clone(), test_config()).unwrap();
    let cookie = account(base, "edge@example.edu").await;
    let mut event: serde_json::Value =
        serde_json::from_str(include_str!("../../events/authorizer/revoke-session.json")).unwrap();
    event["identitySource"] = json!([cookie]);
    event["cookies"] = json!([cookie]);
    let event: ApiGatewayV2CustomAuthorizerV2Request = serde_json::from_value(event).unwrap();
    assert!(authorize(&auth, &event).await.unwrap().is_authorized);
    let used = recording.used.lock().unwrap().clone();
    used
}

/// The license sweep: alerts due for two drivers, through the Lambda handler with its event.
async fn exercise_sweep(base: &App) -> Actions {
    let recording = Arc::new(Recording { inner: base.store.clone(), used: Mutex::default() });
    let pusher = Arc::new(RecordingSockets { inner: Arc::default(), recording: recording.clone() });
    let driver = AppState::new(
        Ports {
            store: recording.clone(),
            mailer: Arc::new(Recorder::default()),
            clock: base.clock.clone(),
            documents: test_documents(),
            pusher,
        },
        test_config(),
    )
    .unwrap()
    .driver;
    base.with_license("iam-sweep-1@example.edu", 2).await;
    base.with_license("iam-sweep-2@example.edu", 6).await;
    // A driver whose license expires with a ride ahead: the sweep cancels it.
    let admin = base.admin("iam-sweep-admin@example.edu").await;
    let expiring = base.approved_driver("iam-sweep-3@example.edu", 1, &admin).await;
    base.post("/api/auth/driver/toggle", json!({"available": true}), Some(&expiring)).await;
    let ride = base.posted(&expiring, ride_body(base, "offer", 2, 120)).await;
    let rider = account(base, "iam-sweep-rider@example.edu").await;
    base.joined(&rider, ride["id"].as_str().unwrap(), 1).await;
    // ... and withdraws its accepted answer to a request ride.
    let asker = account(base, "iam-sweep-asker@example.edu").await;
    let asked = base.posted(&asker, ride_body(base, "request", 1, 120)).await;
    let asked = asked["id"].as_str().unwrap().to_owned();
    let answer = base.joined(&expiring, &asked, 1).await;
    assert_eq!(base.answer(&asker, &asked, &answer, "accept").await.status, StatusCode::OK);
    base.clock.advance(Duration::days(1));
    base.sign_in("iam-sweep-3@example.edu").await;
    base.online("iam-sweep-3@example.edu").await;
    let event: serde_json::Value =
        serde_json::from_str(include_str!("../../events/license-sweep/hourly.json")).unwrap();
    let answer = handle_sweep_event(&driver, LambdaEvent::new(event, Context::default())).await.unwrap();
    assert_eq!(answer["alertsSent"], 3, "{answer}");
    let used = recording.used.lock().unwrap().clone();
    used
}

/// The erasure redrive: a deletion whose erasure stopped at its first step (the store failing on
/// the connection items), finished through the Lambda handler, every step of it.
async fn exercise_account_sweep(base: &App) -> Actions {
    let connections_down = Arc::new(Tripwire::new(base.store.clone(), "CONN#"));
    let flaky = App::with(connections_down.clone(), base.clock.clone(), many_sign_ups).await;
    let email = "iam-swept@example.edu";
    let cookie = everything_of(&flaky, email, "iam-sweep-world").await;
    connections_down.arm(true);
    let deleted = flaky.post("/api/auth/account/delete", json!({"password": PASSWORD}), Some(&cookie)).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    connections_down.arm(false);
    // Past the lease the request's own run has.
    base.clock.advance(carpool::account::LEASE + Duration::minutes(1));

    let recording = Arc::new(Recording { inner: base.store.clone(), used: Mutex::default() });
    let pusher = Arc::new(RecordingSockets { inner: Arc::default(), recording: recording.clone() });
    let keys = test_config().key_ring.unwrap();
    let local = LocalDocuments::new(flaky.uploads.path(), UPLOAD_BASE, keys, base.clock.clone());
    let photos = Arc::new(RecordingPhotos { inner: local, recording: recording.clone() });
    let ports = Ports {
        store: recording.clone(),
        mailer: Arc::new(Recorder::default()),
        clock: base.clock.clone(),
        documents: Documents { uploads: photos.clone(), ocr: photos },
        pusher,
    };
    let account = AppState::new(ports, test_config()).unwrap().account;
    let event: serde_json::Value =
        serde_json::from_str(include_str!("../../events/account-sweep/every-5-minutes.json")).unwrap();
    let answer = handle_erasure_event(&account, LambdaEvent::new(event, Context::default())).await.unwrap();
    // This one's first full run, and the last run of the account function's own deletion.
    assert_eq!(answer, json!({"finished": 2, "failed": 0}));
    let used = recording.used.lock().unwrap().clone();
    used
}

/// The WebSocket function: a connection's life through the Lambda handler with the events of
/// `events/chat-ws/` (their connection id, cookie and conversation swapped for live ones).
async fn exercise_chat_socket(base: &App) -> Actions {
    let recording = Arc::new(Recording { inner: base.store.clone(), used: Mutex::default() });
    let pusher = Arc::new(RecordingSockets { inner: Arc::default(), recording: recording.clone() });
    let ports = Ports {
        store: recording.clone(),
        mailer: Arc::new(Recorder::default()),
        clock: base.clock.clone(),
        documents: test_documents(),
        pusher,
    };
    let state = AppState::new(ports, test_config()).unwrap();
    let rider = account(base, "iam-ws-rider@example.edu").await;
    account(base, "iam-ws-driver@example.edu").await;
    let driver_id = base.user_id("iam-ws-driver@example.edu").await;
    let direct = base.post("/api/chat/conversations", json!({"userId": driver_id}), Some(&rider)).await;
    let conversation = direct.body["conversation"]["id"].as_str().unwrap().to_owned();
    let event = |name: &str, body: Option<serde_json::Value>| {
        let path = format!("{}/../events/chat-ws/{name}", env!("CARGO_MANIFEST_DIR"));
        let mut event: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        event["requestContext"]["connectionId"] = json!("iam-connection");
        if event["headers"]["Cookie"].is_string() {
            event["headers"]["Cookie"] = json!(rider);
        }
        if let Some(body) = body {
            event["body"] = json!(body.to_string());
        }
        serde_json::from_value::<ApiGatewayWebsocketProxyRequest>(event).unwrap()
    };
    let handle = |event| handle_socket_event(&state.chat, &state.origins, event);
    assert_eq!(handle(event("connect.json", None)).await.status_code, 200);
    assert_eq!(handle(event("ping.json", None)).await.status_code, 200);
    let send = json!({"action": "sendMessage", "conversationId": conversation, "body": "hi", "clientMessageId": "iam-ws"});
    assert_eq!(handle(event("send-message.json", Some(send))).await.status_code, 200);
    let newest = base.get(&format!("/api/chat/conversations/{conversation}/messages"), Some(&rider)).await;
    let newest = newest.body["messages"][0]["id"].clone();
    let read = json!({"action": "markRead", "conversationId": conversation, "messageId": newest});
    let marked = handle(event("mark-read.json", Some(read))).await;
    assert_eq!((marked.status_code, marked.body), (200, None));
    assert_eq!(handle(event("disconnect.json", None)).await.status_code, 200);
    let used = recording.used.lock().unwrap().clone();
    used
}

/// The token of the link in a mail.
fn token_in(mail: &Message) -> String {
    mail.text.split("token=").nth(1).unwrap().split_whitespace().next().unwrap().to_owned()
}

/// SES refusing every send.
struct Failing;

#[async_trait]
impl Mailer for Failing {
    async fn send(&self, _: &Message) -> Result<(), MailError> {
        Err(MailError("SES unavailable".into()))
    }
}

fn post_request(path: &str, body: serde_json::Value) -> axum::http::Request<axum::body::Body> {
    axum::http::Request::post(path)
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap()
}

/// Ids of the jobs due now, read past the recording store.
async fn due_jobs(base: &App) -> Vec<ulid::Ulid> {
    mail_jobs::due(base.store.as_ref(), base.clock.epoch_seconds(), 100).await.unwrap()
}

/// The mailer function: jobs queued by requests to the base app (which does not deliver them:
/// `request_only`), delivered over the recording store through the Lambda handler, from stream
/// records and from the scheduled redrive.
async fn exercise_mailer(base: &App) -> Actions {
    let recording = Arc::new(Recording { inner: base.store.clone(), used: Mutex::default() });
    let sent = Arc::new(Recorder::default());
    let mailer =
        AppState::new(test_ports(recording.clone(), sent.clone(), base.clock.clone()), test_config())
            .unwrap()
            .mail;
    let down =
        AppState::new(test_ports(recording.clone(), Arc::new(Failing), base.clock.clone()), test_config())
            .unwrap()
            .mail;
    // The accounts first: `base.post` delivers through the base app's own dispatcher.
    account(base, "mailer-verified@example.edu").await;
    assert_eq!(base.register("mailer-pending@example.edu").await.status, StatusCode::ACCEPTED);
    assert!(due_jobs(base).await.is_empty(), "nothing left from earlier requests");

    // A registration's verification mail (rendered when queued); a password reset for a verified
    // account and a new verification link for an unverified one (resolved by the mailer: it reads
    // the account and writes a token, and for the link a new stamp on the user).
    let queued = [
        post_request(
            "/api/auth/register",
            json!({"email": "mailer-new@example.edu", "password": PASSWORD, "name": "Nell Newcomer"}),
        ),
        post_request("/api/auth/password/forgot", json!({"email": "mailer-verified@example.edu"})),
        post_request("/api/auth/resend-verification", json!({"email": "mailer-pending@example.edu"})),
    ];
    for request in queued {
        assert_eq!(base.request_only(request).await.status, StatusCode::ACCEPTED);
    }
    let jobs = due_jobs(base).await;
    assert_eq!(jobs.len(), 3);
    let mut stream: serde_json::Value =
        serde_json::from_str(include_str!("../../events/mailer/stream-insert.json")).unwrap();
    let template = stream["Records"][0].clone();
    stream["Records"] = jobs
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let mut record = template.clone();
            record["dynamodb"]["Keys"]["pk"]["S"] = json!(format!("MAIL#{id}"));
            record["dynamodb"]["SequenceNumber"] = json!(format!("{}", 1000 + i));
            record
        })
        .collect();
    let answer = handle_mail_event(&mailer, LambdaEvent::new(stream, Context::default())).await.unwrap();
    assert_eq!(answer, json!({ "batchItemFailures": [] }));
    for to in ["mailer-new@example.edu", "mailer-verified@example.edu", "mailer-pending@example.edu"] {
        assert_eq!(sent.to(to).len(), 1, "one mail to {to}");
    }
    assert!(sent.to("mailer-verified@example.edu")[0].text.contains("/reset-password?token="));
    assert!(sent.to("mailer-pending@example.edu")[0].text.contains("/verify-email?token="));
    for id in jobs {
        assert!(
            mail_jobs::load(base.store.as_ref(), id).await.unwrap().is_none(),
            "delivered jobs are deleted"
        );
    }

    // A send that fails is rescheduled; the redrive sends it once it is due again.
    let forgot = post_request("/api/auth/password/forgot", json!({"email": "mailer-verified@example.edu"}));
    assert_eq!(base.request_only(forgot).await.status, StatusCode::ACCEPTED);
    assert_eq!(down.deliver_due().await.unwrap().will_retry, 1);
    assert_eq!(sent.to("mailer-verified@example.edu").len(), 1, "not sent while SES is down");
    base.clock.advance(Duration::minutes(1));
    let redrive: serde_json::Value =
        serde_json::from_str(include_str!("../../events/mailer/redrive.json")).unwrap();
    let answer = handle_mail_event(&mailer, LambdaEvent::new(redrive, Context::default())).await.unwrap();
    assert_eq!(answer, json!({}));
    assert_eq!(sent.to("mailer-verified@example.edu").len(), 2, "sent by the redrive");
    assert!(due_jobs(base).await.is_empty());

    let mut used = recording.used.lock().unwrap().clone();
    if !sent.0.lock().unwrap().is_empty() {
        used.insert("ses:SendEmail");
    }
    used
}

/// Every function's exercise signs up its own people, all from the test's one address.
fn many_sign_ups(config: &mut carpool::config::AuthConfig) {
    let limit = carpool::rate_limit::Limit { max: 1000, window_secs: 3600 };
    config.rate_limits.set(carpool::rate_limit::Rule::RegisterIp, limit);
}

async fn embedded_app() -> App {
    embedded_with(many_sign_ups).await
}

async fn dynamo_app() -> App {
    dynamo_with(many_sign_ups).await
}

on_both_stores!(embedded_app, dynamo_app; policies_grant_exactly_what_each_function_uses);

async fn policies_grant_exactly_what_each_function_uses(base: App) {
    let granted = granted();
    let mut problems = Vec::new();
    let mut check = |name: &str, used: Actions| {
        let grant = granted.get(name).cloned().unwrap_or_default();
        let missing: Vec<_> = used.difference(&grant).collect();
        let unused: Vec<_> = grant.difference(&used).collect();
        if !missing.is_empty() || !unused.is_empty() {
            problems.push(format!("{name}: missing {missing:?}, granted but unused {unused:?}"));
        }
    };
    for function in Function::ALL {
        let used = exercise(&base, function).await;
        check(function.name(), used);
    }
    check("authorizer", exercise_authorizer(&base).await);
    check("mailer", exercise_mailer(&base).await);
    check("license-sweep", exercise_sweep(&base).await);
    check("chat-ws", exercise_chat_socket(&base).await);
    check("account-sweep", exercise_account_sweep(&base).await);
    assert!(problems.is_empty(), "template.yaml policies:\n{}", problems.join("\n"));
}
