//! License photos: the upload grant and the scan that compares the photo with the entered
//! license (API.md: name fuzzy, number and expiry exact).

use super::views::{DriverState, NameMatch, ScanMatch, ScanResult, UploadGrant};
use super::{DriverService, Outcome};
use crate::documents::{license_prefix, looks_like_image, OcrError, IMAGE_TYPES, MAX_IMAGE_BYTES};
use crate::domain::analyze_id::{read_license, LicenseReading};
use crate::domain::driver::Verification;
use crate::domain::name_match::{name_score, MATCH_THRESHOLD};
use crate::domain::region;
use crate::error::{AppError, AppResult};
use crate::rate_limit::Rule;
use crate::repo::drivers::{Extracted, LicenseRecord, ScanRecord};
use std::time::Duration;
use tracing::{info, warn};
use ulid::Ulid;

/// How long an upload URL accepts its PUT.
pub const UPLOAD_URL_LIFE: Duration = Duration::from_secs(300);

/// How long a client should wait when OCR is throttled or down.
const OCR_RETRY_AFTER_SECS: i64 = 30;

impl DriverService {
    /// `POST /api/auth/driver/license/upload`: a URL for one JPEG or PNG of the declared length.
    /// `content_length` as the client sent it: negative, fractional or huge numbers are broken
    /// rules (`422 invalid_upload`), not malformed requests.
    pub async fn upload(
        &self,
        cookie: &str,
        content_type: &str,
        content_length: &serde_json::Number,
    ) -> AppResult<UploadGrant> {
        let caller = self.caller(cookie).await?;
        let extension = match content_type {
            "image/jpeg" => "jpg",
            "image/png" => "png",
            _ => {
                return Err(AppError::InvalidUpload(format!(
                    "contentType must be one of {}",
                    IMAGE_TYPES.join(", ")
                )))
            }
        };
        let length = content_length
            .as_u64()
            .filter(|n| (1..=MAX_IMAGE_BYTES).contains(n))
            .ok_or_else(|| AppError::InvalidUpload("contentLength must be 1 byte to 10 MiB".into()))?;
        self.limiter.hit(Rule::DriverUpload, &caller.user.id.to_string()).await?;
        let object_key = format!("{}{}.{extension}", license_prefix(caller.user.id), Ulid::new());
        let ticket =
            self.documents.uploads.presign_put(&object_key, content_type, length, UPLOAD_URL_LIFE).await?;
        Ok(UploadGrant {
            upload_url: ticket.url,
            object_key,
            expires_in: UPLOAD_URL_LIFE.as_secs(),
            headers: ticket.headers,
        })
    }

    /// `POST /api/auth/driver/license/scan`: reads the uploaded photo and compares it with the
    /// entered license. A photo that is not a JPEG or PNG, or a license from outside the US
    /// (AnalyzeID reads US documents only), reads as nothing: `needs_review`.
    pub async fn scan(&self, cookie: &str, object_key: &str) -> AppResult<ScanResult> {
        let caller = self.caller(cookie).await?;
        let user = caller.user.id;
        let own = object_key.strip_prefix(&license_prefix(user)).is_some_and(|rest| {
            !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.')
        });
        if !own {
            return Err(AppError::NotFound);
        }
        let license = caller.driver.license.clone().ok_or(AppError::LicenseRequired)?;
        self.limiter.hit(Rule::DriverScan, &user.to_string()).await?;
        let first = self.documents.uploads.first_bytes(object_key, 16).await?.ok_or(AppError::NotFound)?;
        let reading = if !looks_like_image(&first) {
            info!(user_id = %user, "scanned upload is not a JPEG or PNG");
            LicenseReading::default()
        } else if !region::is_us(&license.region) {
            info!(user_id = %user, "license from outside the US: left to the admin's review");
            LicenseReading::default()
        } else {
            match self.documents.ocr.analyze(object_key).await {
                Ok(response) => read_license(&response),
                Err(OcrError::Unreadable(detail)) => {
                    info!(user_id = %user, detail, "license photo unreadable");
                    LicenseReading::default()
                }
                Err(OcrError::Unavailable(detail)) => {
                    warn!(user_id = %user, detail, "OCR unavailable");
                    return Err(AppError::ServiceUnavailable { retry_after_secs: OCR_RETRY_AFTER_SECS });
                }
            }
        };
        let (matches, verification) = self.compare(&license, &reading)?;
        let extracted = Extracted {
            legal_name: reading.name.as_ref().map(|n| {
                [&n.first, &n.middle, &n.last]
                    .iter()
                    .filter(|p| !p.is_empty())
                    .map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            }),
            number_last4: reading.number.as_ref().map(|n| n[n.len().saturating_sub(4)..].to_owned()),
            expires_on: reading.expires_on,
        };
        let scan =
            ScanRecord { object_key: object_key.to_owned(), at: caller.now, extracted: extracted.clone() };
        let driver = self
            .change_driver(user, Some(caller.driver.clone()), |mut driver| {
                // The verdict belongs to the license it was compared with; one replaced
                // meanwhile stays `manual`.
                let same = |l: &&mut LicenseRecord| {
                    l.number_digest == license.number_digest
                        && l.expires_on == license.expires_on
                        && l.legal_name == license.legal_name
                };
                if let Some(current) = driver.license.as_mut().filter(same) {
                    current.verification = verification;
                }
                driver.last_scan = Some(scan.clone());
                Ok(Outcome::Changed(super::Change::new(driver)))
            })
            .await?;
        info!(user_id = %user, verification = ?verification, "license scanned");
        Ok(ScanResult { extracted, matches, verification, driver: DriverState::new(&driver, caller.today()) })
    }

    fn compare(
        &self,
        license: &LicenseRecord,
        reading: &LicenseReading,
    ) -> AppResult<(ScanMatch, Verification)> {
        let keys = self.keys()?;
        let score = reading.name.as_ref().map_or(0.0, |name| name_score(&license.legal_name, name));
        let score = (score * 1000.0).round() / 1000.0;
        let name = NameMatch { score, matched: score >= MATCH_THRESHOLD };
        let number = reading.number.as_ref().is_some_and(|n| license.has_number(n, keys));
        let expires_on = reading.expires_on == Some(license.expires_on);
        let verification = if !reading.is_complete() {
            Verification::NeedsReview
        } else if name.matched && number && expires_on {
            Verification::OcrMatched
        } else {
            Verification::OcrMismatch
        };
        Ok((ScanMatch { legal_name: name, number, expires_on }, verification))
    }
}
