//! License photos: where they are uploaded (`UploadStore`) and how they are read (`LicenseOcr`).
//! Production: S3 presigned URLs (`s3`) and Textract AnalyzeID (`textract`). Local mode: the
//! local server takes signed uploads itself and reads a PNG stand-in (`local`).

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
