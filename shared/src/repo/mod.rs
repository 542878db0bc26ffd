//! Repositories: the application's records and key schema, written once over the `Store` port.
//!
//! | item | pk | sk | notes |
//! |---|---|---|---|
//! | user | `USER#<userId>` | `PROFILE` | |
//! | driver profile | `USER#<userId>` | `DRIVER` | created at registration; gsi1 `LICENSE_ALERT` / `<nextAlertAt>#<userId>` while an expiry alert is pending |
//! | expiry alert marker | `USER#<userId>` | `ALERT#<expiresOn>#<alert>` | once-only reminders; ttl expiry + 60 days |
//! | pending driver review | `REVIEW#<campusId>` | `<submittedAt>#<userId>` | oldest first; deleted at the decision |
//! | session | `USER#<userId>` | `SESSION#<sha256(token)>` | ttl = expiry |
//! | email claim | `EMAIL#<email>` | `EMAIL` | uniqueness of emails |
//! | one-time token | `TOKEN#<sha256(token)>` | `TOKEN` | ttl = expiry, deleted on use; gsi1 `TOKENS#<userId>` / digest (a deletion finds them) |
//! | campus | `CAMPUS` | `CAMPUS#<campusId>` | all campuses = one Query |
//! | campus domain claim | `DOMAIN#<domain>` | `DOMAIN` | a domain belongs to one campus |
//! | audit record | `AUDIT#USER#<userId>` (or `AUDIT#EMAIL#<email>`) | `AUDIT#<ulid>` | newest first; ttl 400 days |
//! | driver change (audit) | `AUDIT#DRIVER#<userId>` | `AUDIT#<ulid>` | capability/availability changes; newest first; ttl 400 days |
//! | lockout state | `LOCK#<email>` | `LOCK` | failures, lockedUntil; any email, account or not |
//! | trusted device's lockout | `USER#<userId>` | `LOCK#DEVICE#<nonce>` | the same, for one device cookie |
//! | TOTP key (confirmed / pending) | `USER#<userId>` | `TOTP` / `TOTP_PENDING` | key sealed; pending ttl 15 min |
//! | used TOTP step | `USER#<userId>` | `TOTP_STEP#<step>` | ttl just past the step's window |
//! | recovery code | `USER#<userId>` | `RECOVERY#<sha256(code)>` | deleted when used |
//! | rate-limit window | `RATE#<rule>#<subject>` | `W#<window>` | see `crate::rate_limit` |
//! | mail job | `MAIL#<jobId>` | `MAIL` | payload sealed; gsi1 `MAIL_DUE` (or `MAIL_DEAD`) / `<dueAt>#<jobId>` |
//! | ride | `RIDE#<rideId>` | `RIDE` | while in the feed: gsi1 `FEED#<campusId>` and gsi2 `FEED#<campusId>#<kind>`, both / `<departAt>#<rideId>` (see `rides`) |
//! | join request | `RIDE#<rideId>` | `REQ#<requestId>` | a ride's requests = one Query |
//! | ride link | `USER#<userId>` | `RIDE#<rideId>` | rides a user posted or asked to join (latest request); one per user and ride |
//! | conversation | `CONV#<conversationId>` | `CONV` | a ride's chat and its members |
//! | message | `CONV#<conversationId>` | `MSG#<messageId>` | a user's also in gsi2 `SENT#<senderId>` / `<messageId>` |
//! | block | `USER#<userId>` | `BLOCKS#<otherId>` / `BLOCKED_BY#<otherId>` | one item on each side |
//! | report | `REPORT#<reportId>` | `REPORT` | gsi1 `REPORTS#<campusId>#<status>` / `<createdAt>#<reportId>` |
//! | report link | `USER#<userId>` | `REPORT#<reportId>` | the reports a user filed |
//! | erasure job | `ERASE#<userId>` | `ERASE` | a deleted account's data still to erase; gsi1 `ERASE_DUE` / `<dueAt>#<userId>` |
//!
//! The README's table of items says what an account's deletion does to each kind.

pub mod accounts;
pub mod audit;
pub mod campuses;
pub mod connections;
pub mod conversations;
pub mod drivers;
pub mod erasures;
pub mod lockout;
pub mod mail_jobs;
pub mod messages;
pub mod rides;
pub mod safety;
pub mod sessions;
pub mod tokens;
pub mod two_factor;

use crate::store::{Attrs, Item, Key, Query, Store, StoreError};
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
        // The error's kind only: serde's message quotes the offending value, which may be a secret.
        .map_err(|e| {
            StoreError::Corrupt(format!(
                "item {}/{} does not decode ({:?})",
                item.key.pk,
                item.key.sk,
                e.classify()
            ))
        })
}

/// The record under `key`, read as a batch of one: every function reads with BatchGetItem only,
/// so its role needs one read action, not two.
pub(crate) async fn get_record<T: DeserializeOwned>(
    store: &dyn Store,
    key: Key,
) -> Result<Option<T>, StoreError> {
    let items = store.get_many(&[key]).await?;
    items.into_iter().next().flatten().map(|item| from_item(&item)).transpose()
}

/// Every item a query matches, following its pages.
pub(crate) async fn query_all(store: &dyn Store, mut query: Query) -> Result<Vec<Item>, StoreError> {
    let mut out = Vec::new();
    loop {
        let page = store.query(&query).await?;
        out.extend(page.items);
        match page.next {
            Some(next) => query.after = Some(next),
            None => return Ok(out),
        }
    }
}

pub(crate) fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).expect("UTC times format as RFC 3339")
}
