//! Private documents: license photos, where they are uploaded (`UploadStore`) and how they are
//! read (`LicenseOcr`), and data exports too large for one answer. Production: a private S3
//! bucket with presigned URLs (`s3`) and Textract AnalyzeID (`textract`). Local mode: the local
//! server takes signed uploads and serves signed links itself, and reads a PNG stand-in (`local`).

pub mod local;
pub mod s3;
pub mod textract;

use crate::domain::analyze_id::AnalyzeIdResponse;
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::time::Duration;

/// Where and how to PUT one image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadTicket {
    pub url: String,
    /// Headers the PUT must carry exactly (they are part of the signature).
    pub headers: BTreeMap<String, String>,
}

/// The storage behind uploads failed; for logs only.
#[derive(Debug, thiserror::Error)]
#[error("upload store: {0}")]
pub struct UploadError(pub String);

#[async_trait]
pub trait UploadStore: Send + Sync + 'static {
    /// A URL that accepts one PUT of exactly `length` bytes of `content_type` at `key` until it
    /// expires.
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        length: u64,
        expires_in: Duration,
    ) -> Result<UploadTicket, UploadError>;

    /// A URL that reads the object until it expires (an admin's review).
    async fn presign_get(&self, key: &str, expires_in: Duration) -> Result<String, UploadError>;

    /// The first `n` bytes of the object, or `None` when there is no such object.
    async fn first_bytes(&self, key: &str, n: usize) -> Result<Option<Vec<u8>>, UploadError>;

    /// Stores the file at `path` as the object `key`, read back through `presign_get` as a
    /// download named `filename` (a data export). The file is streamed, never held in memory.
    async fn put_file(
        &self,
        key: &str,
        path: &std::path::Path,
        content_type: &str,
        filename: &str,
    ) -> Result<(), UploadError>;

    /// Deletes every object whose key starts with `prefix` (a deleted account's photos and
    /// exports); returns how many there were.
    async fn delete_under(&self, prefix: &str) -> Result<usize, UploadError>;
}

/// Where a user's license photos are kept (`<prefix><upload id>.<ext>`).
pub fn license_prefix(user: ulid::Ulid) -> String {
    format!("licenses/{user}/")
}

/// Where a user's data exports are kept for their link's short life.
pub fn export_prefix(user: ulid::Ulid) -> String {
    format!("exports/{user}/")
}

/// `Content-Disposition` of a download named `filename` (a name the server made: plain ASCII).
pub fn attachment(filename: &str) -> String {
    format!("attachment; filename=\"{filename}\"")
}

#[derive(Debug, thiserror::Error)]
pub enum OcrError {
    /// The document cannot be read (not an ID, too large, corrupt): the scan needs a review.
    #[error("document unreadable: {0}")]
    Unreadable(String),
    /// The service is throttling or failing: try again later.
    #[error("OCR unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait LicenseOcr: Send + Sync + 'static {
    /// Runs AnalyzeID on the uploaded object at `key`.
    async fn analyze(&self, key: &str) -> Result<AnalyzeIdResponse, OcrError>;
}

/// The photo types a license upload may have.
pub const IMAGE_TYPES: [&str; 2] = ["image/jpeg", "image/png"];

/// The largest license photo accepted (10 MiB).
pub const MAX_IMAGE_BYTES: u64 = 10 * 1024 * 1024;

/// Whether the bytes start like a JPEG or a PNG (S3 enforces the signed type and length but
/// never looks at the bytes).
pub fn looks_like_image(first: &[u8]) -> bool {
    first.starts_with(&[0xFF, 0xD8, 0xFF]) || first.starts_with(b"\x89PNG\r\n\x1a\n")
}
