//! `carpool-admin` against an embedded store: campuses are added, listed, loaded, and refused
//! when their id or a domain is taken.

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
