//! Users and the email claims that keep emails unique (driver profiles: `drivers`).

use super::drivers::{self, DriverRecord};
use super::{from_item, to_attrs};
use crate::domain::email::Email;
use crate::store::{Attrs, Cond, Item, Key, Store, StoreError, Write};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
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
    /// Campus admin (driver reviews, suspensions, audit) of the user's own campus. Granted and
    /// revoked only by the operator command `carpool-admin user grant-admin|revoke-admin`.
    #[serde(default)]
    pub admin: bool,
}

/// Attribute names that conditions refer to.
pub const EMAIL_VERIFIED: &str = "emailVerified";
pub const VERIFICATION_STAMP: &str = "verificationStamp";
pub const PASSWORD_STAMP: &str = "passwordStamp";
pub const ADMIN: &str = "admin";

/// A stamp as a condition value (`null` for records from before stamps existed).
pub fn stamp_value(stamp: Option<Ulid>) -> serde_json::Value {
    stamp.map_or(serde_json::Value::Null, |s| s.to_string().into())
}

/// Everything of one user (profile, driver profile, sessions, two-factor) lives under this key.
pub fn user_partition(id: Ulid) -> String {
    format!("USER#{id}")
}

pub fn user_key(id: Ulid) -> Key {
    Key::new(user_partition(id), "PROFILE")
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
        drivers::create(user.id, driver),
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

/// The users with these ids that exist, by id (a batch read per 100).
pub async fn users_by_id(
    store: &dyn Store,
    ids: &[Ulid],
) -> Result<std::collections::HashMap<Ulid, UserRecord>, StoreError> {
    let mut out = std::collections::HashMap::new();
    // A batch read refuses a key twice.
    let mut ids = ids.to_vec();
    ids.sort();
    ids.dedup();
    for chunk in ids.chunks(100) {
        let keys: Vec<_> = chunk.iter().map(|id| user_key(*id)).collect();
        for item in store.get_many(&keys).await?.into_iter().flatten() {
            let user: UserRecord = from_item(&item)?;
            out.insert(user.id, user);
        }
    }
    Ok(out)
}

/// How `id` is named to others: their name, or `DELETED_USER` when no account has the id (it
/// was deleted) among `users`, which holds the accounts looked up.
pub fn shown_name(users: &std::collections::HashMap<Ulid, UserRecord>, id: Ulid) -> &str {
    users.get(&id).map_or(crate::domain::account::DELETED_USER, |user| user.name.as_str())
}

/// A user with their driver profile, in one round trip.
pub async fn user_with_driver(
    store: &dyn Store,
    id: Ulid,
) -> Result<Option<(UserRecord, DriverRecord)>, StoreError> {
    let items = store.get_many(&[user_key(id), drivers::driver_key(id)]).await?;
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

/// Grants or revokes the campus-admin role of the account registered under `email` (the
/// operator command's work). Returns the user's id, or `None` when no account has that email.
pub async fn set_admin(store: &dyn Store, email: &Email, admin: bool) -> Result<Option<Ulid>, StoreError> {
    let Some(id) = user_id_for_email(store, email).await? else { return Ok(None) };
    match store.write(vec![update_user(id, crate::store::attrs([(ADMIN, admin.into())]))]).await {
        Ok(()) => Ok(Some(id)),
        Err(StoreError::ConditionFailed { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}
