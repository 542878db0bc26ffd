//! The S3 upload adapter (`S3Uploads`) against moto: a presigned PUT is signed for the photo's
//! content type and length (moto checks no signatures, so the signed header list is read off the
//! URL; real S3 then refuses any other type or length) and tells the client which headers to
//! send; a PUT with those headers lands; `first_bytes` reads the start of the object back (and
//! `None` for a missing key); a presigned GET serves the photo with its type. A data export is
//! stored from its file and downloads as an attachment; a deleted account's objects all go, and
//! nobody else's.

mod support;

use carpool::documents::s3::S3Uploads;
use carpool::documents::{UploadStore, UploadTicket};
use std::collections::BTreeMap;
use std::time::Duration;

/// The adapter over a fresh bucket, so tests run in parallel on one emulator.
async fn uploads() -> S3Uploads {
    let sdk = support::aws_config().await;
    let client =
        aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build());
    let bucket = format!("license-photos-{}", ulid::Ulid::new().to_string().to_lowercase());
    client.create_bucket().bucket(&bucket).send().await.expect("create a bucket on moto");
    S3Uploads::new(client, bucket)
}

/// A key as the scan makes them: `licenses/<user>/<upload>.png`.
fn photo_key() -> String {
    format!("licenses/{}/{}.png", ulid::Ulid::new(), ulid::Ulid::new())
}

/// `len` bytes starting like a PNG.
fn png(len: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend((0..len - bytes.len()).map(|i| (i % 251) as u8));
    bytes
}

/// The URL's query, decoded.
fn query(url: &str) -> BTreeMap<String, String> {
    reqwest::Url::parse(url).expect("a URL").query_pairs().into_owned().collect()
}

const TTL: Duration = Duration::from_secs(300);

/// PUTs `bytes` through the ticket as a client would: to its URL, with exactly its headers.
fn put(ticket: &UploadTicket, bytes: &[u8]) {
    let request =
        ticket.headers.iter().fold(ureq::put(&ticket.url), |r, (name, value)| r.header(name, value));
    let response = request.send(bytes).expect("the presigned PUT is accepted");
    assert_eq!(response.status(), 200);
}

/// A presigned PUT of a fresh key, and the upload through it.
async fn uploaded(uploads: &S3Uploads, bytes: &[u8]) -> String {
    let key = photo_key();
    let ticket = uploads.presign_put(&key, "image/png", bytes.len() as u64, TTL).await.expect("presigned");
    put(&ticket, bytes);
    key
}

#[tokio::test]
async fn the_presigned_put_is_signed_for_the_type_and_the_length() {
    let uploads = uploads().await;
    let key = photo_key();
    let ticket = uploads.presign_put(&key, "image/png", 48_213, TTL).await.expect("presigned");

    let url = reqwest::Url::parse(&ticket.url).expect("a URL");
    assert!(matches!(url.scheme(), "http" | "https"), "{url}");
    assert_eq!(url.path(), format!("/{}/{key}", uploads.bucket()), "path-style, the key as given");
    let query = query(&ticket.url);
    assert_eq!(query.get("X-Amz-Algorithm").map(String::as_str), Some("AWS4-HMAC-SHA256"));
    assert_eq!(query.get("X-Amz-Expires").map(String::as_str), Some("300"));
    assert!(query.get("X-Amz-Signature").is_some_and(|s| s.len() == 64), "{query:?}");
    let signed: Vec<&str> = query.get("X-Amz-SignedHeaders").expect("signed headers").split(';').collect();
    for header in ["content-length", "content-type", "host"] {
        assert!(signed.contains(&header), "{header} is not signed: {signed:?}");
    }

    assert_eq!(ticket.headers.get("content-type").map(String::as_str), Some("image/png"), "{ticket:?}");
    if let Some(length) = ticket.headers.get("content-length") {
        assert_eq!(length, "48213");
    }
    for name in ticket.headers.keys() {
        assert!(signed.contains(&name.as_str()), "the ticket asks for {name}, which is not signed");
    }
}

#[tokio::test]
async fn an_upload_lands_and_its_first_bytes_read_back() {
    let uploads = uploads().await;
    let bytes = png(48_213);
    let key = uploaded(&uploads, &bytes).await;

    let first = uploads.first_bytes(&key, 8).await.expect("S3 answers").expect("the object is there");
    assert_eq!(first, b"\x89PNG\r\n\x1a\n");
    let more = uploads.first_bytes(&key, 1000).await.unwrap().unwrap();
    assert_eq!(more, bytes[..1000]);
    let all = uploads.first_bytes(&key, bytes.len() + 4096).await.unwrap().unwrap();
    assert_eq!(all, bytes, "asking for more than there is gives the whole object");
}

#[tokio::test]
async fn first_bytes_of_a_missing_key_is_none() {
    let uploads = uploads().await;
    assert_eq!(uploads.first_bytes(&photo_key(), 8).await.expect("S3 answers"), None);
}

#[tokio::test]
async fn the_presigned_get_serves_the_upload() {
    let uploads = uploads().await;
    let bytes = png(20_000);
    let key = uploaded(&uploads, &bytes).await;

    let url = uploads.presign_get(&key, Duration::from_secs(60)).await.expect("presigned");
    assert_eq!(query(&url).get("X-Amz-Expires").map(String::as_str), Some("60"));
    let mut response = ureq::get(&url).call().expect("the presigned GET is accepted");
    assert_eq!(response.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("image/png"));
    assert_eq!(response.body_mut().read_to_vec().expect("the body"), bytes);
}

#[tokio::test]
async fn a_stored_export_downloads_as_an_attachment() {
    let uploads = uploads().await;
    let file = tempfile::NamedTempFile::new().unwrap();
    let json = br#"{"user":{"name":"Ana"}}"#;
    std::fs::write(file.path(), json).unwrap();
    let key = format!("exports/{}/{}.json", ulid::Ulid::new(), ulid::Ulid::new());
    uploads
        .put_file(&key, file.path(), "application/json", "campus-carpool-export-2026-12-07.json")
        .await
        .expect("stored");

    let url = uploads.presign_get(&key, TTL).await.expect("presigned");
    let mut response = ureq::get(&url).call().expect("the presigned GET is accepted");
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    assert_eq!(header("content-type").as_deref(), Some("application/json"));
    assert_eq!(
        header("content-disposition").as_deref(),
        Some("attachment; filename=\"campus-carpool-export-2026-12-07.json\"")
    );
    assert_eq!(response.body_mut().read_to_vec().expect("the body"), json);
}

#[tokio::test]
async fn deleting_under_a_prefix_removes_those_objects_only() {
    let uploads = uploads().await;
    let (leaver, stayer) = (ulid::Ulid::new(), ulid::Ulid::new());
    for user in [leaver, leaver, leaver, stayer] {
        let key = format!("licenses/{user}/{}.png", ulid::Ulid::new());
        let ticket = uploads.presign_put(&key, "image/png", 64, TTL).await.expect("presigned");
        put(&ticket, &png(64));
    }
    let prefix = format!("licenses/{leaver}/");
    assert_eq!(uploads.delete_under(&prefix).await.expect("deleted"), 3);
    assert_eq!(uploads.delete_under(&prefix).await.expect("nothing left"), 0, "a repeat finds nothing");
    let left = uploads.delete_under(&format!("licenses/{stayer}/")).await.expect("deleted");
    assert_eq!(left, 1, "the other user's photo was still there");
}
