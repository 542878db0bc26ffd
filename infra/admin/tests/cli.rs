//! `carpool-admin` against an embedded store: campuses are added, listed, loaded, and refused
//! when their id or a domain is taken; the admin role is granted and revoked by email; an
//! account is exported and deleted on request, with its confirmation mail in the outbox.

use carpool::domain::email::Email;
use carpool::repo::accounts::{self, UserRecord};
use carpool::repo::drivers::DriverRecord;
use carpool::store::embedded::EmbeddedStore;
use carpool::store::Store;
use std::process::{Command, Output};

fn admin(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_carpool-admin"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .output()
        .expect("carpool-admin runs")
}

#[test]
fn manages_campuses() {
    let dir = tempfile::tempdir().unwrap();
    let campuses = concat!(env!("CARGO_MANIFEST_DIR"), "/../campuses.json");
    let load = admin(dir.path(), &["campus", "load", campuses]);
    assert!(load.status.success(), "{}", String::from_utf8_lossy(&load.stderr));
    assert!(String::from_utf8_lossy(&load.stdout).contains("added 1 of 1"));
    // Loading again adds nothing and is not an error.
    assert!(String::from_utf8_lossy(&admin(dir.path(), &["campus", "load", campuses]).stdout)
        .contains("added 0 of 1"));

    let add = ["campus", "add", "--id", "state", "--name", "State University", "--domain", "State.EDU"];
    let added = admin(dir.path(), &[&add[..], &["--time-zone", "America/Chicago"]].concat());
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));

    let list = admin(dir.path(), &["campus", "list"]);
    let all: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let ids: Vec<&str> = all.as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["example", "state"]);
    assert_eq!(all[1]["domains"][0], "state.edu", "domains are stored lower-case");

    let taken = [
        "campus",
        "add",
        "--id",
        "other",
        "--name",
        "Other",
        "--domain",
        "example.edu",
        "--time-zone",
        "UTC",
    ];
    let refused = admin(dir.path(), &taken);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("example.edu"));
    let bad_tz = ["campus", "add", "--id", "x", "--name", "X", "--domain", "x.edu", "--time-zone", "Mars"];
    assert!(!admin(dir.path(), &bad_tz).status.success());
}

#[test]
fn needs_a_store() {
    let out = Command::new(env!("CARGO_BIN_EXE_carpool-admin"))
        .args(["campus", "list"])
        .env_remove("CARPOOL_TABLE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--data-dir"));
}

/// Runs `work` on the data directory's store (the command is not running).
fn with_store<T>(dir: &std::path::Path, work: impl AsyncFnOnce(&EmbeddedStore) -> T) -> T {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let store = EmbeddedStore::open(dir, std::sync::Arc::new(carpool::clock::SystemClock)).unwrap();
    runtime.block_on(work(&store))
}

/// An account as registration creates it, straight through the library.
fn account_in(dir: &std::path::Path, email: &str) {
    let user = UserRecord {
        id: ulid::Ulid::new(),
        email: email.into(),
        name: "Alex Admin".into(),
        campus_id: "example".into(),
        password_hash: "$argon2id$unused".into(),
        email_verified: true,
        two_factor_enabled: false,
        created_at: time::OffsetDateTime::now_utc(),
        verification_stamp: None,
        password_stamp: None,
        registered_from: None,
        admin: false,
    };
    let driver = DriverRecord { campus_id: "example".into(), ..Default::default() };
    with_store(dir, async |store: &EmbeddedStore| {
        store.write(accounts::create_writes(&user, &driver)).await.unwrap();
    });
}

fn is_admin(dir: &std::path::Path, email: &str) -> bool {
    let email = Email::parse(email).unwrap();
    with_store(dir, async |store: &EmbeddedStore| {
        let id = accounts::user_id_for_email(store, &email).await.unwrap().unwrap();
        accounts::user_with_driver(store, id).await.unwrap().unwrap().0.admin
    })
}

#[test]
fn grants_and_revokes_the_admin_role() {
    let dir = tempfile::tempdir().unwrap();
    account_in(dir.path(), "alex@example.edu");
    let granted = admin(dir.path(), &["user", "grant-admin", "Alex@Example.edu"]);
    assert!(granted.status.success(), "{}", String::from_utf8_lossy(&granted.stderr));
    assert!(String::from_utf8_lossy(&granted.stdout).contains("granted to alex@example.edu"));
    assert!(is_admin(dir.path(), "alex@example.edu"));
    let revoked = admin(dir.path(), &["user", "revoke-admin", "alex@example.edu"]);
    assert!(revoked.status.success());
    assert!(!is_admin(dir.path(), "alex@example.edu"));
    let unknown = admin(dir.path(), &["user", "grant-admin", "nobody@example.edu"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no account has the email nobody@example.edu"));
    let bad = admin(dir.path(), &["user", "grant-admin", "not an email"]);
    assert!(!bad.status.success());
}

#[test]
fn exports_and_deletes_an_account_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let campuses = concat!(env!("CARGO_MANIFEST_DIR"), "/../campuses.json");
    assert!(admin(dir.path(), &["campus", "load", campuses]).status.success());
    account_in(dir.path(), "alex@example.edu");
    let refused = admin(dir.path(), &["user", "delete", "alex@example.edu"]);
    assert!(!refused.status.success(), "a data directory carpool-local never ran has no key ring");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no key ring"));
    carpool::seal::KeyRing::load_or_create(&dir.path().join("key-ring")).unwrap();

    let out = dir.path().join("alex.json");
    let exported = admin(dir.path(), &["user", "export", "Alex@example.edu", "--out", out.to_str().unwrap()]);
    assert!(exported.status.success(), "{}", String::from_utf8_lossy(&exported.stderr));
    let document: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(document["user"]["email"], "alex@example.edu");
    assert!(!std::fs::read_to_string(&out).unwrap().contains("argon2"), "no hash in it");

    let deleted = admin(dir.path(), &["user", "delete", "alex@example.edu"]);
    assert!(deleted.status.success(), "{}", String::from_utf8_lossy(&deleted.stderr));
    let gone = with_store(dir.path(), async |store: &EmbeddedStore| {
        accounts::user_id_for_email(store, &Email::parse("alex@example.edu").unwrap()).await.unwrap()
    });
    assert_eq!(gone, None, "the address is free again");
    let mail: Vec<_> = std::fs::read_dir(dir.path().join("outbox")).unwrap().collect();
    assert_eq!(mail.len(), 1, "the confirmation is in the outbox");
    let again = admin(dir.path(), &["user", "delete", "alex@example.edu"]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("no account has the email alex@example.edu"));
}
