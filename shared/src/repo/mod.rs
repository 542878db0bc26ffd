//! Repositories: the application's records and key schema, written once over the `Store` port.
//!
//! | item | pk | sk | notes |
//! |---|---|---|---|
//! | user | `USER#<userId>` | `PROFILE` | |
//! | driver profile | `USER#<userId>` | `DRIVER` | created at registration |
//! | session | `USER#<userId>` | `SESSION#<sha256(token)>` | ttl = expiry |
//! | email claim | `EMAIL#<email>` | `EMAIL` | uniqueness of emails |
//! | one-time token | `TOKEN#<sha256(token)>` | `TOKEN` | ttl = expiry, deleted on use |
//! | campus | `CAMPUS` | `CAMPUS#<campusId>` | all campuses = one Query |
//! | campus domain claim | `DOMAIN#<domain>` | `DOMAIN` | a domain belongs to one campus |
//! | audit record | `AUDIT#USER#<userId>` (or `AUDIT#EMAIL#<email>`) | `AUDIT#<ulid>` | newest first; ttl 400 days |
//! | lockout state | `LOCK#<email>` | `LOCK` | failures, lockedUntil; any email, account or not |
//! | rate-limit window | `RATE#<rule>#<subject>` | `W#<window>` | see `crate::rate_limit` |

pub mod accounts;
pub mod audit;
pub mod campuses;
pub mod lockout;
pub mod sessions;
pub mod tokens;

use crate::store::{Attrs, Item, StoreError};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub(crate) fn to_attrs<T: Serialize>(record: &T) -> Attrs {
    match serde_json::to_value(record) {
        Ok(serde_json::Value::Object(map)) => map,
        // Records are plain structs of strings, numbers and bools.
        other => unreachable!("record did not serialise to an object: {other:?}"),
    }
}

pub(crate) fn from_item<T: DeserializeOwned>(item: &Item) -> Result<T, StoreError> {
    serde_json::from_value(serde_json::Value::Object(item.attrs.clone()))
        .map_err(|e| StoreError::Unavailable(format!("corrupt item {}/{}: {e}", item.key.pk, item.key.sk)))
}
