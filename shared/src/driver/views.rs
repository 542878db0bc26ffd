//! Response shapes of the driver API (API.md `DriverState`, scans, reviews, audit).

use crate::domain::driver::{days_left, effectively_available, is_expired, Alert, Capability, Verification};
use crate::domain::license::ymd;
use crate::repo::drivers::{DriverRecord, Extracted, LicenseRecord, ReviewRecord, ReviewStatus};
use serde::Serialize;
use time::{Date, OffsetDateTime};

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DriverState {
    pub capability: Capability,
    pub available: bool,
    #[schema(required = true)]
    pub license: Option<LicenseView>,
    #[schema(required = true)]
    pub review: Option<ReviewView>,
    pub alerts_sent: Vec<Alert>,
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = License)]
pub struct LicenseView {
    pub legal_name: String,
    pub number_last4: String,
    pub region: String,
    #[serde(with = "ymd")]
    pub expires_on: Date,
    pub days_left: i64,
    pub expired: bool,
    pub verification: Verification,
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Review)]
pub struct ReviewView {
    pub status: ReviewStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub submitted_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(required = true)]
    pub decided_at: Option<OffsetDateTime>,
    #[schema(required = true)]
    pub reason: Option<String>,
}

impl LicenseView {
    pub fn new(license: &LicenseRecord, today: Date) -> Self {
        LicenseView {
            legal_name: license.legal_name.clone(),
            number_last4: license.number_last4.clone(),
            region: license.region.clone(),
            expires_on: license.expires_on,
            days_left: days_left(license.expires_on, today),
            expired: is_expired(license.expires_on, today),
            verification: license.verification,
        }
    }
}

impl DriverState {
    /// `today` is the campus's date: the expiry rule applies here, whatever the sweep has done.
    pub fn new(driver: &DriverRecord, today: Date) -> Self {
        let expires_on = driver.license.as_ref().map(|l| l.expires_on);
        DriverState {
            capability: driver.capability,
            available: effectively_available(driver.available, driver.capability, expires_on, today),
            license: driver.license.as_ref().map(|l| LicenseView::new(l, today)),
            review: driver.review.as_ref().map(ReviewView::from),
            alerts_sent: driver.license.as_ref().map(|l| l.alerts_sent.clone()).unwrap_or_default(),
        }
    }
}

impl From<&ReviewRecord> for ReviewView {
    fn from(r: &ReviewRecord) -> Self {
        ReviewView {
            status: r.status,
            submitted_at: r.submitted_at,
            decided_at: r.decided_at,
            reason: r.reason.clone(),
        }
    }
}

/// How each entered field compares with the scanned one.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScanMatch {
    pub legal_name: NameMatch,
    pub number: bool,
    pub expires_on: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct NameMatch {
    pub score: f64,
    pub matched: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScanResult {
    pub extracted: Extracted,
    #[serde(rename = "match")]
    pub matches: ScanMatch,
    pub verification: Verification,
    pub driver: DriverState,
}

/// `POST /api/auth/driver/license/upload`'s answer.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UploadGrant {
    pub upload_url: String,
    pub object_key: String,
    pub expires_in: u64,
    pub headers: std::collections::BTreeMap<String, String>,
}

/// One pending application in an admin's queue.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReviewEntry {
    pub user_id: String,
    pub name: String,
    pub email: String,
    #[schema(required = true)]
    pub license: Option<LicenseView>,
    #[schema(required = true)]
    pub verification: Option<Verification>,
    #[schema(required = true)]
    pub extracted: Option<Extracted>,
    #[schema(required = true)]
    pub image_url: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub submitted_at: OffsetDateTime,
}

pub use crate::cursor::Page;
