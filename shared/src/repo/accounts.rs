//! Users, their driver profiles and the email claims that keep emails unique.

use super::{from_item, to_attrs};
use crate::domain::email::Email;
use crate::domain::license::{ymd, License};
use crate::seal::KeyRing;
use crate::store::{Attrs, Cond, Item, Key, Store, StoreError, Write};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use ulid::Ulid;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRecord {
    pub id: Ulid,
    pub email: String,
    pub name: String,
    pub campus_id: String,
    /// argon2id PHC string (or a legacy bcrypt hash until the next sign-in).
    pub password_hash: String,
    pub email_verified: bool,
    #[serde(default)]
    pub two_factor_enabled: bool,
    /// When the account, or the pending registration that replaced it, was made.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The one verification link that works: every new link (a registration that replaces a
    /// pending one, a resend) changes it, and verification must quote it, so older links die.
    #[serde(default)]
    pub verification_stamp: Option<Ulid>,
    /// Changes with every new password, and a reset link must quote it: a reset or a change
    /// kills every reset link issued before it.
    #[serde(default)]
    pub password_stamp: Option<Ulid>,
    /// What kind of device made the registration, in words from a closed set (for the mail).
    #[serde(default)]
    pub registered_from: Option<String>,
}

/// Attribute names that conditions refer to.
pub const EMAIL_VERIFIED: &str = "emailVerified";
pub const VERIFICATION_STAMP: &str = "verificationStamp";
pub const PASSWORD_STAMP: &str = "passwordStamp";

/// A stamp as a condition value (`null` for records from before stamps existed).
pub fn stamp_value(stamp: Option<Ulid>) -> serde_json::Value {
    stamp.map_or(serde_json::Value::Null, |s| s.to_string().into())
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    #[default]
    None,
    PendingReview,
    Approved,
    Rejected,
    Suspended,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DriverRecord {
    pub capability: Capability,
    pub available: bool,
    pub license: Option<LicenseRecord>,
}

/// A license as stored: the number only as a keyed digest (license numbers are few and
/// guessable, so a plain hash would not hide them; compared with `KeyRing::verify`) and its last
/// four characters, the only part ever shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseRecord {
    pub legal_name: String,
    #[serde(default)]
    pub number_digest: String,
    #[serde(default)]
    pub number_last4: String,
    pub region: String,
    #[serde(with = "ymd")]
    pub expires_on: Date,
}

/// What a license number's digest is signed for (a key of the ring derived for this use only).
pub const LICENSE_NUMBER: &str = "license number";

impl LicenseRecord {
    pub fn new(license: &License, keys: &KeyRing) -> Self {
        LicenseRecord {
            legal_name: license.legal_name.clone(),
            number_digest: keys.sign(LICENSE_NUMBER, license.number.as_bytes()),
            number_last4: license.number_last4().to_owned(),
            region: license.region.clone(),
            expires_on: license.expires_on,
        }
    }
}

/// Everything of one user (profile, driver profile, sessions, two-factor) lives under this key.
pub(crate) fn user_partition(id: Ulid) -> String {
    format!("USER#{id}")
}

pub fn user_key(id: Ulid) -> Key {
    Key::new(user_partition(id), "PROFILE")
}

pub fn driver_key(id: Ulid) -> Key {
    Key::new(user_partition(id), "DRIVER")
}

/// Keyed by the normalised email (see `Email::parse`).
pub fn email_key(email: &str) -> Key {
    Key::new(format!("EMAIL#{email}"), "EMAIL")
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EmailClaim {
    user_id: Ulid,
}

/// The writes that create an account: the email claim first (its condition failing means the
/// email is taken), then the user and their driver profile. Callers may append more writes.
pub fn create_writes(user: &UserRecord, driver: &DriverRecord) -> Vec<Write> {
    vec![
        Write::Put {
            item: Item::new(email_key(&user.email), to_attrs(&EmailClaim { user_id: user.id })),
            cond: Cond::NotExists,
        },
        Write::Put { item: Item::new(user_key(user.id), to_attrs(user)), cond: Cond::NotExists },
        Write::Put { item: Item::new(driver_key(user.id), to_attrs(driver)), cond: Cond::NotExists },
    ]
}

/// Position of the email claim in `create_writes`.
pub const EMAIL_CLAIM_WRITE: usize = 0;

pub async fn user_id_for_email(store: &dyn Store, email: &Email) -> Result<Option<Ulid>, StoreError> {
    store.get(&email_key(email.as_str())).await?.map(|item| decode_claim(&item)).transpose()
}

pub(crate) fn decode_claim(item: &Item) -> Result<Ulid, StoreError> {
    Ok(from_item::<EmailClaim>(item)?.user_id)
}

/// A user with their driver profile, in one round trip.
pub async fn user_with_driver(
    store: &dyn Store,
    id: Ulid,
) -> Result<Option<(UserRecord, DriverRecord)>, StoreError> {
    let items = store.get_many(&[user_key(id), driver_key(id)]).await?;
    decode_user_with_driver(&items[0], &items[1])
}

pub(crate) fn decode_user_with_driver(
    user: &Option<Item>,
    driver: &Option<Item>,
) -> Result<Option<(UserRecord, DriverRecord)>, StoreError> {
    let Some(user) = user else { return Ok(None) };
    let driver = match driver {
        Some(item) => from_item(item)?,
        None => DriverRecord::default(),
    };
    Ok(Some((from_item(user)?, driver)))
}

/// Sets some attributes of an existing user (fails with ConditionFailed if the user is gone).
pub fn update_user(id: Ulid, set: Attrs) -> Write {
    update_user_if(id, set, Cond::Exists)
}

/// Sets some attributes of a user in the state `cond` describes.
pub fn update_user_if(id: Ulid, set: Attrs, cond: Cond) -> Write {
    Write::Update { key: user_key(id), set, expires_at: None, cond }
}

/// Replaces the driver profile (a registration that replaces a pending one).
pub fn put_driver(id: Ulid, driver: &DriverRecord) -> Write {
    Write::Put { item: Item::new(driver_key(id), to_attrs(driver)), cond: Cond::Always }
}
