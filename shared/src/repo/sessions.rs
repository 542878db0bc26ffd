//! Server-side sessions, stored in the user's partition under the digest of the cookie token.
//! The token embeds the user id, so a session check reads user, driver profile and session in a
//! single `get_many`.

use super::accounts::{decode_user_with_driver, user_key, user_partition, UserRecord};
use super::drivers::{driver_key, DriverRecord};
use super::{from_item, query_all, rfc3339, to_attrs};
use crate::store::{attrs, Cond, Item, Key, Query, SkRange, Store, StoreError, Write};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use ulid::Ulid;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRecord {
    /// Public id (shown in session lists); never the token.
    pub id: Ulid,
    pub user_id: Ulid,
    pub remember_me: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub user_agent: Option<String>,
    /// The user's password stamp when the session began: a reset or change moves the stamp on,
    /// which ends every session that began before it, even one a sign-in racing the reset
    /// created after the reset listed the sessions to delete.
    #[serde(default)]
    pub password_stamp: Option<Ulid>,
}

impl SessionRecord {
    /// Whether the session began under the user's current password.
    pub fn outlived_by(&self, user: &UserRecord) -> bool {
        self.password_stamp == user.password_stamp
    }
}

/// Carries the session into a new password (the session that changed it stays).
pub fn restamp(user: Ulid, digest: &str, stamp: Ulid) -> Write {
    Write::Update {
        key: session_key(user, digest),
        set: attrs([("passwordStamp", stamp.to_string().into())]),
        expires_at: None,
        cond: Cond::Exists,
    }
}

pub fn session_key(user: Ulid, digest: &str) -> Key {
    Key::new(user_partition(user), format!("SESSION#{digest}"))
}

pub fn put(digest: &str, session: &SessionRecord) -> Write {
    Write::Put {
        item: Item::new(session_key(session.user_id, digest), to_attrs(session))
            .expiring(session.expires_at.unix_timestamp()),
        cond: Cond::NotExists,
    }
}

#[derive(Clone)]
pub struct Loaded {
    pub user: UserRecord,
    pub driver: DriverRecord,
    pub session: SessionRecord,
}

/// The session with its user, or `None` when either is missing or expired.
pub async fn load(store: &dyn Store, user: Ulid, digest: &str) -> Result<Option<Loaded>, StoreError> {
    let items = store.get_many(&[session_key(user, digest), user_key(user), driver_key(user)]).await?;
    let Some(session_item) = &items[0] else { return Ok(None) };
    let session: SessionRecord = from_item(session_item)?;
    let Some((user_record, driver)) = decode_user_with_driver(&items[1], &items[2])? else {
        return Ok(None);
    };
    // The key already ties the session to this user; a mismatch would be a corrupt record.
    if session.user_id != user_record.id || !session.outlived_by(&user_record) {
        return Ok(None);
    }
    Ok(Some(Loaded { user: user_record, driver, session }))
}

/// Records activity and moves the expiry (sliding sessions); fails if the session is gone.
pub fn touch(user: Ulid, digest: &str, now: OffsetDateTime, expires_at: OffsetDateTime) -> Write {
    Write::Update {
        key: session_key(user, digest),
        set: attrs([("lastSeenAt", rfc3339(now).into()), ("expiresAt", rfc3339(expires_at).into())]),
        expires_at: Some(expires_at.unix_timestamp()),
        cond: Cond::Exists,
    }
}

/// All live sessions of a user with the digests they are stored under (a strongly consistent
/// query of the user's partition).
pub async fn list(store: &dyn Store, user: Ulid) -> Result<Vec<(String, SessionRecord)>, StoreError> {
    let query = Query::new(user_partition(user), SkRange::Prefix("SESSION#".into()));
    let items = query_all(store, query).await?;
    items
        .iter()
        .map(|item| Ok((item.key.sk.trim_start_matches("SESSION#").to_owned(), from_item(item)?)))
        .collect()
}

pub fn delete(user: Ulid, digest: &str) -> Write {
    Write::Delete { key: session_key(user, digest), cond: Cond::Exists }
}
