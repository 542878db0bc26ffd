//! The driver flow on the real `carpool-local` binary, as a new user would walk it from the
//! README: enter a license, upload a photo to the URL the server hands out, scan it (the PNG
//! stand-in for Textract), apply, get approved by a campus admin, offer rides; then restart the
//! server with `--time-offset` and watch the sweep (which runs at start) send the 7-day reminder
//! and, later, switch the driver off on the expiry day. Along the way a rider finds the driver's
//! offer in the feed, asks to join and is accepted; the rides persist across restarts, depart by
//! the offset clock, and the one the expired license cannot drive is cancelled.

mod common;

use carpool::clock::SystemClock;
use carpool::documents::local::stand_in_png;
use carpool::domain::email::Email;
use carpool::repo::accounts;
use carpool::store::embedded::EmbeddedStore;
use common::*;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;

const PASSWORD: &str = "marble kiosk velvet tundra";

/// Registers, verifies and signs in (remembered); returns the cookie.
fn account(server: &Server, email: &str, name: &str) -> String {
    let body = json!({"email": email, "password": PASSWORD, "name": name});
    let (status, reg, _) = server.call("POST", "/api/auth/register", Some(body), None);
    assert_eq!(status, 202, "{reg}");
    let token = reg["devVerificationToken"].as_str().unwrap().to_owned();
    server.call("POST", "/api/auth/verify-email", Some(json!({"token": token})), None);
    sign_in(server, email)
}

fn sign_in(server: &Server, email: &str) -> String {
    let body = json!({"email": email, "password": PASSWORD, "rememberMe": true});
    let (status, body, cookie) = server.call("POST", "/api/auth/signin", Some(body), None);
    assert_eq!(status, 200, "{body}");
    cookie.unwrap()
}

/// `carpool-admin --data-dir <dir> user grant-admin <email>` (the server is stopped): the same
/// library call the command makes (infra/admin/tests/cli.rs runs the command itself).
fn grant_admin(data_dir: &Path, email: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let store = EmbeddedStore::open(data_dir, Arc::new(SystemClock)).unwrap();
        accounts::set_admin(&store, &Email::parse(email).unwrap(), true).await.unwrap().unwrap();
    });
}

fn upload(server: &Server, cookie: &str, png: Vec<u8>) -> String {
    let grant = json!({"contentType": "image/png", "contentLength": png.len()});
    let (status, grant, _) =
        server.call("POST", "/api/auth/driver/license/upload", Some(grant), Some(cookie));
    assert_eq!(status, 200, "{grant}");
    let url = grant["uploadUrl"].as_str().unwrap();
    assert!(url.starts_with(&server.url), "the upload goes to the local server: {url}");
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let put = agent.put(url).header("content-type", "image/png").send(&png[..]).unwrap();
    assert_eq!(put.status().as_u16(), 200);
    grant["objectKey"].as_str().unwrap().to_owned()
}

fn analyze_id(expires_on: &str) -> String {
    let field = |kind: &str, text: &str| {
        let mut value = json!({"Text": text, "Confidence": 97.5});
        if kind == "EXPIRATION_DATE" {
            value["NormalizedValue"] = json!({"Value": format!("{text}T00:00:00"), "ValueType": "Date"});
        }
        json!({"Type": {"Text": kind}, "ValueDetection": value})
    };
    json!({"IdentityDocuments": [{"DocumentIndex": 1, "IdentityDocumentFields": [
        field("FIRST_NAME", "DANA"), field("MIDDLE_NAME", ""), field("LAST_NAME", "DRIVER"),
        field("DOCUMENT_NUMBER", "D765 4321"), field("EXPIRATION_DATE", expires_on),
    ]}], "DocumentMetadata": {"Pages": 1}, "AnalyzeIDModelVersion": "1.0"})
    .to_string()
}

/// Posts an offer departing `hours` from now (the server's clock has no offset yet); its id.
fn offer(server: &Server, cookie: &str, hours: i64) -> String {
    let depart = time::OffsetDateTime::now_utc() + time::Duration::hours(hours);
    let depart =
        depart.replace_nanosecond(0).unwrap().format(&time::format_description::well_known::Rfc3339).unwrap();
    let body = json!({
        "kind": "offer",
        "origin": {"label": "Main gate", "lat": 40.7128, "lng": -74.006},
        "destination": {"label": "Airport"},
        "departAt": depart,
        "seats": 3,
    });
    let (status, ride, _) = server.call("POST", "/api/carpool/rides", Some(body), Some(cookie));
    assert_eq!(status, 201, "{ride}");
    ride["ride"]["id"].as_str().unwrap().to_owned()
}

fn feed_ids(server: &Server, cookie: &str) -> Vec<String> {
    let (status, feed, _) = server.call("GET", "/api/carpool/rides", None, Some(cookie));
    assert_eq!(status, 200, "{feed}");
    feed["rides"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect()
}

fn outbox_subjects(data_dir: &Path) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(data_dir.join("outbox")) else { return Vec::new() };
    dir.filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok())
        .filter_map(|eml| eml.lines().find_map(|l| l.strip_prefix("Subject: ").map(str::to_owned)))
        .collect()
}

/// Waits for the server's mail task to write a message whose subject contains `needle`.
fn wait_for_subject(data_dir: &Path, needle: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !outbox_subjects(data_dir).iter().any(|s| s.contains(needle)) {
        assert!(
            std::time::Instant::now() < deadline,
            "no mail about {needle:?}: {:?}",
            outbox_subjects(data_dir)
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn a_new_driver_is_verified_approved_carpools_is_reminded_and_switched_off() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let driver = account(&server, "dana@example.edu", "Dana Driver");
    account(&server, "alex@example.edu", "Alex Admin");
    assert!(server.stop().success());
    grant_admin(data.path(), "alex@example.edu");

    let server = Server::start(data.path());
    let (_, state, _) = server.call("GET", "/api/auth/driver", None, Some(&driver));
    assert_eq!(state["capability"], "none");
    // A license expiring ten days from now (the campus date may be a day behind UTC).
    let expires = (time::OffsetDateTime::now_utc().date() + time::Duration::days(10)).to_string();
    let entered = json!({"legalName": "Dana Driver", "number": "D765-4321", "region": "California", "expiresOn": expires});
    let (status, state, _) = server.call("PUT", "/api/auth/driver/license", Some(entered), Some(&driver));
    assert_eq!(status, 200, "{state}");
    assert_eq!(state["license"]["numberLast4"], "4321");
    let days_left = state["license"]["daysLeft"].as_i64().unwrap();
    assert!((10..=11).contains(&days_left), "{state}");

    let key = upload(&server, &driver, stand_in_png(&analyze_id(&expires)));
    let (status, scan, _) =
        server.call("POST", "/api/auth/driver/license/scan", Some(json!({"objectKey": key})), Some(&driver));
    assert_eq!(status, 200, "{scan}");
    assert_eq!(scan["verification"], "ocr_matched", "{scan}");

    // The README's stand-in generator (python3, standard library) makes a photo that reads too.
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/license_png.py");
    let png = std::process::Command::new("python3")
        .args([script, "--first", "DANA", "--last", "DRIVER", "--number", "D7654321", "--expires", &expires])
        .output()
        .expect("python3 runs");
    assert!(png.status.success(), "{}", String::from_utf8_lossy(&png.stderr));
    let key = upload(&server, &driver, png.stdout);
    let (_, scan, _) =
        server.call("POST", "/api/auth/driver/license/scan", Some(json!({"objectKey": key})), Some(&driver));
    assert_eq!(scan["verification"], "ocr_matched", "{scan}");

    let (status, state, _) = server.call("POST", "/api/auth/driver/enable", None, Some(&driver));
    assert_eq!((status, state["capability"].clone()), (202, json!("pending_review")));
    let admin = sign_in(&server, "alex@example.edu");
    let (status, reviews, _) = server.call("GET", "/api/admin/driver-reviews", None, Some(&admin));
    assert_eq!(status, 200, "{reviews}");
    let review: &Value = &reviews["reviews"][0];
    assert_eq!(review["verification"], "ocr_matched");
    let image = ureq::get(review["imageUrl"].as_str().unwrap()).call().unwrap();
    assert_eq!(image.headers()["content-type"], "image/png");
    let user_id = review["userId"].as_str().unwrap();
    let decide = json!({"decision": "approve"});
    let (status, state, _) =
        server.call("POST", &format!("/api/admin/driver-reviews/{user_id}"), Some(decide), Some(&admin));
    assert_eq!((status, state["capability"].clone()), (200, json!("approved")));
    let (_, state, _) =
        server.call("POST", "/api/auth/driver/toggle", Some(json!({"available": true})), Some(&driver));
    assert_eq!(state["available"], true);
    wait_for_subject(data.path(), "approved");

    // Two people carpool: the driver offers, a rider finds the offer, asks and is accepted.
    let soon = offer(&server, &driver, 48);
    // Departs after the license expires (in 10 days): the expiry will cancel it.
    let late = offer(&server, &driver, 24 * 12);
    let rider = account(&server, "riley@example.edu", "Riley Rider");
    assert_eq!(feed_ids(&server, &rider), [soon.clone(), late.clone()], "soonest first");
    let ask = json!({"seats": 2, "message": "Two of us, one bag"});
    let (status, asked, _) =
        server.call("POST", &format!("/api/carpool/rides/{soon}/join"), Some(ask), Some(&rider));
    assert_eq!(status, 201, "{asked}");
    wait_for_subject(data.path(), "New request on your");
    let request = asked["request"]["id"].as_str().unwrap();
    let (status, accepted, _) = server.call(
        "POST",
        &format!("/api/carpool/rides/{soon}/requests/{request}/accept"),
        None,
        Some(&driver),
    );
    assert_eq!(status, 200, "{accepted}");
    assert_eq!(accepted["ride"]["seatsLeft"], 1);
    wait_for_subject(data.path(), "You're in");
    assert!(server.stop().success());

    // The rides outlive a restart.
    let server = Server::start(data.path());
    let rider = sign_in(&server, "riley@example.edu");
    assert_eq!(feed_ids(&server, &rider), [soon.clone(), late.clone()]);
    let (_, mine, _) = server.call("GET", "/api/carpool/me/rides", None, Some(&rider));
    assert_eq!(mine["joined"][0]["request"]["status"], "accepted", "{mine}");
    assert!(mine["joined"][0]["ride"]["conversationId"].is_string(), "the rider is in the ride's chat");
    assert!(server.stop().success());

    // Four days on, the sweep at start sends the 7-day reminder.
    let server = Server::start_with(data.path(), &["--time-offset", "4d"]);
    wait_for_subject(data.path(), "expires in 7 days");
    let driver = sign_in(&server, "dana@example.edu");
    let (_, state, _) = server.call("GET", "/api/auth/driver", None, Some(&driver));
    assert_eq!(state["alertsSent"], json!(["7d"]), "{state}");
    assert_eq!(state["available"], true);
    // The first ride departed by the offset clock: out of the feed, shown as departed.
    let rider = sign_in(&server, "riley@example.edu");
    assert_eq!(feed_ids(&server, &rider), std::slice::from_ref(&late));
    let (_, page, _) = server.call("GET", &format!("/api/carpool/rides/{soon}"), None, Some(&rider));
    assert_eq!(page["ride"]["status"], "departed");
    assert!(server.stop().success());

    // On the expiry day the driver is switched off and told.
    let server = Server::start_with(data.path(), &["--time-offset", "11d"]);
    wait_for_subject(data.path(), "has expired");
    let driver = sign_in(&server, "dana@example.edu");
    let (_, state, _) = server.call("GET", "/api/auth/driver", None, Some(&driver));
    assert_eq!(
        (state["available"].clone(), state["license"]["expired"].clone()),
        (json!(false), json!(true)),
        "{state}"
    );
    assert_eq!(state["alertsSent"], json!(["7d", "3d", "1d", "expired"]));
    let (status, refused, _) =
        server.call("POST", "/api/auth/driver/toggle", Some(json!({"available": true})), Some(&driver));
    assert_eq!((status, refused["error"]["code"].clone()), (409, json!("license_expired")));
    // The ride it would have driven after expiry is cancelled.
    let (_, page, _) = server.call("GET", &format!("/api/carpool/rides/{late}"), None, Some(&driver));
    assert_eq!(page["ride"]["status"], "cancelled", "{page}");
    assert!(server.stop().success());
}
