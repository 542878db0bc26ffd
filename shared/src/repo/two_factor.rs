//! Two-factor records in the user's partition: the TOTP key (sealed, see `crate::seal`) while a
//! setup awaits its first code and once confirmed, with the last time step accepted (a code of
//! that step or an earlier one is refused: RFC 6238 §5.2), and one item per unused recovery
//! code (its digest; deleted when used).

use super::accounts::user_partition;
use super::{from_item, query_all, to_attrs};
use crate::domain::totp::RecoveryCode;
use crate::store::{Cond, Item, Key, Query, SkRange, Store, StoreError, Write};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use ulid::Ulid;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TotpRecord {
    /// The key, sealed with the configured key ring and bound to the user id.
    pub sealed_key: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The last time step whose code was accepted.
    #[serde(default)]
    pub last_step: Option<i64>,
}

const LAST_STEP: &str = "lastStep";

pub fn enabled_key(user: Ulid) -> Key {
    Key::new(user_partition(user), "TOTP")
}

fn pending_key(user: Ulid) -> Key {
    Key::new(user_partition(user), "TOTP_PENDING")
}

const RECOVERY_PREFIX: &str = "RECOVERY#";

fn recovery_key(user: Ulid, digest: &str) -> Key {
    Key::new(user_partition(user), format!("{RECOVERY_PREFIX}{digest}"))
}

/// The confirmed key and the pending one, in one round trip.
pub async fn load(
    store: &dyn Store,
    user: Ulid,
) -> Result<(Option<TotpRecord>, Option<TotpRecord>), StoreError> {
    let items = store.get_many(&[enabled_key(user), pending_key(user)]).await?;
    let decode = |item: &Option<Item>| item.as_ref().map(from_item).transpose();
    Ok((decode(&items[0])?, decode(&items[1])?))
}

/// A setup awaiting its first code; a new setup replaces it.
pub fn put_pending(user: Ulid, record: &TotpRecord, expires_at: i64) -> Write {
    Write::Put {
        item: Item::new(pending_key(user), to_attrs(record)).expiring(expires_at),
        cond: Cond::Always,
    }
}

/// Turns the pending key on: fails at the first write if 2FA is already on, at the second if
/// the setup expired or was confirmed concurrently.
pub fn enable(user: Ulid, record: &TotpRecord) -> [Write; 2] {
    [
        Write::Put { item: Item::new(enabled_key(user), to_attrs(record)), cond: Cond::NotExists },
        Write::Delete { key: pending_key(user), cond: Cond::Exists },
    ]
}

/// Turns 2FA off with the write that uses the proving code up (first); fails if 2FA is off.
/// A TOTP proof is on the key itself, so the key's deletion carries its condition.
pub fn disable(user: Ulid, proof: Write) -> Vec<Write> {
    let pending = Write::Delete { key: pending_key(user), cond: Cond::Always };
    match proof {
        Write::Update { key, cond, .. } if key == enabled_key(user) => {
            vec![Write::Delete { key, cond }, pending]
        }
        recovery => vec![recovery, Write::Delete { key: enabled_key(user), cond: Cond::Exists }, pending],
    }
}

/// Holds only while two-factor is on (guards a change made alongside).
pub fn require_enabled(user: Ulid) -> Write {
    Write::Check { key: enabled_key(user), cond: Cond::Exists }
}

/// Records `step` as the last accepted one, on condition that the last accepted step is still
/// `seen` (the one the caller checked `step` against): of two uses of one code, or of codes of
/// two steps, at the same time, one fails.
pub fn use_step(user: Ulid, step: i64, seen: Option<i64>) -> Write {
    Write::Update {
        key: enabled_key(user),
        set: crate::store::attrs([(LAST_STEP, step.into())]),
        expires_at: None,
        cond: Cond::equals(LAST_STEP, seen.map_or(serde_json::Value::Null, Into::into)),
    }
}

pub fn put_recovery_code(user: Ulid, code: &RecoveryCode) -> Write {
    Write::Put {
        item: Item::new(recovery_key(user, &code.digest()), serde_json::Map::new()),
        cond: Cond::NotExists,
    }
}

/// Uses a recovery code up; fails if it is unknown or already used.
pub fn consume_recovery_code(user: Ulid, code: &RecoveryCode) -> Write {
    Write::Delete { key: recovery_key(user, &code.digest()), cond: Cond::Exists }
}

/// The keys of the user's unused recovery codes.
pub async fn recovery_code_keys(store: &dyn Store, user: Ulid) -> Result<Vec<Key>, StoreError> {
    let query = Query::new(user_partition(user), SkRange::Prefix(RECOVERY_PREFIX.into()));
    Ok(query_all(store, query).await?.into_iter().map(|item| item.key).collect())
}
