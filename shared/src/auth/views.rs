//! Response shapes of the auth API (API.md: `User`, session info).

use crate::domain::campus::Campus;
use crate::domain::driver::{effectively_available, Capability};
use crate::repo::accounts::UserRecord;
use crate::repo::drivers::DriverRecord;
use crate::repo::sessions::SessionRecord;
use serde::Serialize;
use time::{Date, OffsetDateTime};

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = User)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub name: String,
    pub email_verified: bool,
    pub campus: CampusView,
    pub driver: DriverSummary,
    pub two_factor_enabled: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = Campus)]
pub struct CampusView {
    pub id: String,
    pub name: String,
    pub domain: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DriverSummary {
    pub capability: Capability,
    pub available: bool,
    pub has_license: bool,
    #[serde(with = "crate::domain::license::ymd::option")]
    #[schema(required = true)]
    pub license_expires_on: Option<Date>,
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Session)]
pub struct SessionView {
    pub id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub remember_me: bool,
}

impl UserView {
    /// `today` is the campus's date: availability follows the expiry rule (API.md DriverState).
    pub fn new(user: &UserRecord, driver: &DriverRecord, campus: &Campus, today: Date) -> Self {
        UserView {
            id: user.id.to_string(),
            email: user.email.clone(),
            name: user.name.clone(),
            email_verified: user.email_verified,
            campus: CampusView {
                id: campus.id.clone(),
                name: campus.name.clone(),
                domain: campus.primary_domain().to_owned(),
            },
            driver: DriverSummary {
                capability: driver.capability,
                available: effectively_available(
                    driver.available,
                    driver.capability,
                    driver.license.as_ref().map(|l| l.expires_on),
                    today,
                ),
                has_license: driver.license.is_some(),
                license_expires_on: driver.license.as_ref().map(|l| l.expires_on),
            },
            two_factor_enabled: user.two_factor_enabled,
            created_at: user.created_at,
        }
    }
}

impl From<&SessionRecord> for SessionView {
    fn from(s: &SessionRecord) -> Self {
        SessionView { id: s.id.to_string(), expires_at: s.expires_at, remember_me: s.remember_me }
    }
}

/// One entry of `GET /api/auth/sessions`.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = SessionEntry)]
pub struct SessionListEntry {
    pub id: String,
    pub device: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub current: bool,
}

impl SessionListEntry {
    pub fn new(s: &SessionRecord, current: bool) -> Self {
        SessionListEntry {
            id: s.id.to_string(),
            device: crate::domain::device::device_label(s.user_agent.as_deref()),
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            expires_at: s.expires_at,
            current,
        }
    }
}
