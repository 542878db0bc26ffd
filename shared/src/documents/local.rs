//! Local mode's private documents: license photos are uploaded to the local server itself and
//! land under the data directory, like data exports too large for one answer, which it serves
//! back through signed links; OCR is a stand-in that reads AnalyzeID JSON out of a PNG (API.md
//! Local mode).
//!
//! Upload URLs are signed with the key ring like S3's: the signature covers the method, the
//! object key, the content type, the length and the expiry, so a PUT with other headers, an
//! altered URL or an expired one is refused, and the body must be exactly the signed length.

use super::{LicenseOcr, OcrError, UploadError, UploadStore, UploadTicket, MAX_IMAGE_BYTES};
use crate::clock::Clock;
use crate::domain::analyze_id::AnalyzeIdResponse;
use crate::seal::KeyRing;
use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

const SIGNED_URL: &str = "local upload url";

/// The PNG `tEXt` keyword whose text the stand-in reads as an AnalyzeID response.
pub const OCR_KEYWORD: &str = "AnalyzeID";

#[derive(Clone)]
pub struct LocalDocuments {
    dir: PathBuf,
    /// The local server's own address, which upload URLs point at.
    base_url: String,
    keys: KeyRing,
    clock: Arc<dyn Clock>,
}

impl LocalDocuments {
    /// Keeps files under `<data_dir>/uploads`.
    pub fn new(data_dir: &std::path::Path, base_url: &str, keys: KeyRing, clock: Arc<dyn Clock>) -> Self {
        LocalDocuments {
            dir: data_dir.join("uploads"),
            base_url: base_url.trim_end_matches('/').to_owned(),
            keys,
            clock,
        }
    }

    fn path(&self, key: &str) -> Option<PathBuf> {
        safe_key(key).then(|| self.dir.join(key))
    }

    fn sign(&self, method: &str, key: &str, content_type: &str, length: u64, expires: i64) -> String {
        let message = format!("{method}\n{key}\n{content_type}\n{length}\n{expires}");
        self.keys.sign(SIGNED_URL, message.as_bytes())
    }

    fn signed_url(
        &self,
        method: &str,
        key: &str,
        content_type: &str,
        length: u64,
        expires_in: Duration,
    ) -> String {
        let expires = self.clock.epoch_seconds() + expires_in.as_secs() as i64;
        let sig = self.sign(method, key, content_type, length, expires);
        format!("{}/uploads/{key}?expires={expires}&sig={sig}", self.base_url)
    }

    /// The routes that take the PUT and serve the GET of signed URLs (outside the JSON API).
    pub fn router(self) -> Router {
        let routes = Router::new()
            .route("/uploads/{*key}", get(read_upload).put(take_upload))
            .layer(DefaultBodyLimit::max(MAX_IMAGE_BYTES as usize + 1))
            .with_state(self);
        crate::http::with_outer_layers(routes)
    }
}

/// Keys are the server's own (`licenses/<user>/<id>.<ext>`, `exports/<user>/<id>.json`); anything
/// else never touches a path.
fn safe_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 200
        && key.split('/').all(|part| !part.is_empty() && part != "." && part != "..")
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'-' | b'_'))
}

#[async_trait]
impl UploadStore for LocalDocuments {
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        length: u64,
        expires_in: Duration,
    ) -> Result<UploadTicket, UploadError> {
        let url = self.signed_url("PUT", key, content_type, length, expires_in);
        let headers = [("content-type".to_owned(), content_type.to_owned())].into();
        Ok(UploadTicket { url, headers })
    }

    async fn presign_get(&self, key: &str, expires_in: Duration) -> Result<String, UploadError> {
        Ok(self.signed_url("GET", key, "", 0, expires_in))
    }

    async fn first_bytes(&self, key: &str, n: usize) -> Result<Option<Vec<u8>>, UploadError> {
        let Some(path) = self.path(key) else { return Ok(None) };
        match tokio::fs::read(&path).await {
            Ok(mut bytes) => {
                bytes.truncate(n);
                Ok(Some(bytes))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(UploadError(e.to_string())),
        }
    }

    async fn put_file(
        &self,
        key: &str,
        path: &std::path::Path,
        _content_type: &str,
        _filename: &str,
    ) -> Result<(), UploadError> {
        // The link serves `.json` keys as JSON downloads (see `read_upload`).
        let target = self.path(key).ok_or_else(|| UploadError(format!("bad object key {key:?}")))?;
        let partial = target.with_extension("partial");
        let copied = async {
            if let Some(parent) = target.parent() {
                tokio::fs::create_dir_all(parent).await?;
            }
            tokio::fs::copy(path, &partial).await?;
            tokio::fs::rename(&partial, &target).await
        };
        copied.await.map_err(|e| UploadError(e.to_string()))
    }

    async fn delete_under(&self, prefix: &str) -> Result<usize, UploadError> {
        let dir = prefix.trim_end_matches('/');
        let Some(path) = self.path(dir) else { return Err(UploadError(format!("bad prefix {prefix:?}"))) };
        let count = match std::fs::read_dir(&path) {
            Ok(entries) => entries.count(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(UploadError(e.to_string())),
        };
        tokio::fs::remove_dir_all(&path).await.map_err(|e| UploadError(e.to_string()))?;
        Ok(count)
    }
}

#[async_trait]
impl LicenseOcr for LocalDocuments {
    async fn analyze(&self, key: &str) -> Result<AnalyzeIdResponse, OcrError> {
        let path = self.path(key).ok_or_else(|| OcrError::Unreadable("bad key".into()))?;
        let bytes = tokio::fs::read(&path).await.map_err(|e| OcrError::Unreadable(e.to_string()))?;
        let text = png_text(&bytes, OCR_KEYWORD)
            .ok_or_else(|| OcrError::Unreadable(format!("no {OCR_KEYWORD} text in the image")))?;
        serde_json::from_str(&text).map_err(|e| OcrError::Unreadable(format!("{OCR_KEYWORD} text: {e}")))
    }
}

/// The text of the first `tEXt` chunk with `keyword` in a PNG (Latin-1 text, as PNG defines it).
pub fn png_text(png: &[u8], keyword: &str) -> Option<String> {
    let mut rest = png.strip_prefix(b"\x89PNG\r\n\x1a\n")?;
    while rest.len() >= 12 {
        let length = u32::from_be_bytes(rest[..4].try_into().ok()?) as usize;
        let kind = &rest[4..8];
        let data = rest.get(8..8 + length)?;
        if kind == b"tEXt" {
            if let Some((name, text)) = data.split_at_checked(keyword.len()) {
                if name == keyword.as_bytes() && text.first() == Some(&0) {
                    return Some(text[1..].iter().map(|&b| char::from(b)).collect());
                }
            }
        }
        rest = rest.get(8 + length + 4..)?;
    }
    None
}

/// A PNG that the OCR stand-in reads as `analyze_id_json` (an AnalyzeID response): the PNG
/// signature, one `tEXt` chunk with keyword `AnalyzeID`, and the end chunk. For trying the
/// driver flow locally and for tests; the reader checks neither CRCs nor image data.
pub fn stand_in_png(analyze_id_json: &str) -> Vec<u8> {
    let chunk = |kind: &[u8], data: &[u8]| {
        let crc = [0u8; 4];
        [&(data.len() as u32).to_be_bytes()[..], kind, data, &crc].concat()
    };
    let text = [OCR_KEYWORD.as_bytes(), &[0], analyze_id_json.as_bytes()].concat();
    [&b"\x89PNG\r\n\x1a\n"[..], &chunk(b"tEXt", &text), &chunk(b"IEND", &[])].concat()
}

#[derive(Deserialize)]
struct Signed {
    expires: i64,
    sig: String,
}

fn refused(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "error": { "code": code, "message": message } });
    (status, axum::Json(body)).into_response()
}

fn header(headers: &HeaderMap, name: axum::http::HeaderName) -> &str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

impl LocalDocuments {
    fn check(&self, method: &str, key: &str, content_type: &str, length: u64, signed: &Signed) -> bool {
        safe_key(key)
            && signed.expires > self.clock.epoch_seconds()
            && self.keys.verify(
                SIGNED_URL,
                format!("{method}\n{key}\n{content_type}\n{length}\n{}", signed.expires).as_bytes(),
                &signed.sig,
            )
    }
}

async fn take_upload(
    State(documents): State<LocalDocuments>,
    Path(key): Path<String>,
    signed: Result<Query<Signed>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = header(&headers, CONTENT_TYPE);
    let declared: u64 = header(&headers, CONTENT_LENGTH).parse().unwrap_or(body.len() as u64);
    let Ok(Query(signed)) = signed else {
        return refused(StatusCode::FORBIDDEN, "upload_url_invalid", "the upload URL is not signed");
    };
    if !documents.check("PUT", &key, content_type, declared, &signed) {
        return refused(
            StatusCode::FORBIDDEN,
            "upload_url_invalid",
            "the upload URL is expired or altered, or the content type or length differs from the one it was made for",
        );
    }
    if body.len() as u64 != declared {
        return refused(StatusCode::BAD_REQUEST, "invalid_upload", "the body is not the signed length");
    }
    let Some(path) = documents.path(&key) else {
        return refused(StatusCode::FORBIDDEN, "upload_url_invalid", "bad object key");
    };
    match write_atomically(&path, &body).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => {
            tracing::error!(error = %e, "upload not stored");
            refused(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "internal error")
        }
    }
}

async fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await?;
    }
    let partial = path.with_extension("partial");
    tokio::fs::write(&partial, bytes).await?;
    tokio::fs::rename(&partial, path).await
}

async fn read_upload(
    State(documents): State<LocalDocuments>,
    Path(key): Path<String>,
    signed: Result<Query<Signed>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let valid = signed.is_ok_and(|Query(signed)| documents.check("GET", &key, "", 0, &signed));
    if !valid {
        return refused(StatusCode::FORBIDDEN, "upload_url_invalid", "the link is expired or altered");
    }
    let Some(path) = documents.path(&key) else { return StatusCode::NOT_FOUND.into_response() };
    if key.ends_with(".json") {
        // A data export: streamed from its file (it may be larger than an answer is allowed to be).
        let Ok(file) = tokio::fs::File::open(&path).await else {
            return refused(StatusCode::NOT_FOUND, "not_found", "not found");
        };
        let name = key.rsplit('/').next().unwrap_or("export.json");
        let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(file));
        let disposition = super::attachment(name);
        return ([(CONTENT_TYPE, "application/json".to_owned()), (CONTENT_DISPOSITION, disposition)], body)
            .into_response();
    }
    match tokio::fs::read(&path).await {
        Ok(bytes) => {
            let content_type = if bytes.starts_with(b"\x89PNG") { "image/png" } else { "image/jpeg" };
            ([(CONTENT_TYPE, content_type)], bytes).into_response()
        }
        Err(_) => refused(StatusCode::NOT_FOUND, "not_found", "not found"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_text_chunk_of_a_png() {
        let png = stand_in_png("{\"IdentityDocuments\":[]}");
        assert_eq!(png_text(&png, "AnalyzeID").as_deref(), Some("{\"IdentityDocuments\":[]}"));
        assert_eq!(png_text(&png, "Other"), None);
        assert_eq!(png_text(b"not a png", "AnalyzeID"), None);
        assert_eq!(png_text(&png[..20], "AnalyzeID"), None, "truncated");
    }

    #[test]
    fn only_plain_keys_are_paths() {
        assert!(safe_key("licenses/01J/01K.png"));
        for bad in ["", "../x", "a/../b", "/abs", "a//b", "a b", "a\\b", "licenses/./x"] {
            assert!(!safe_key(bad), "{bad:?}");
        }
    }
}
