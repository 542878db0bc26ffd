//! Lockout state per normalised email, whether or not an account has it (so a lock reveals
//! nothing): a failure counter (atomic increments) and the end of the current lock.

use super::accounts::{decode_claim, email_key};
use super::{from_item, to_attrs};
use crate::domain::email::Email;
use crate::store::{Cond, Key, Store, StoreError, Write};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LockState {
    #[serde(default)]
    pub failures: i64,
    /// Epoch seconds.
    pub locked_until: Option<i64>,
}

fn key(email: &Email) -> Key {
    Key::new(format!("LOCK#{email}"), "LOCK")
}

/// The account id claiming the email and the email's lock state, in one round trip.
pub async fn claim_and_state(
    store: &dyn Store,
    email: &Email,
) -> Result<(Option<Ulid>, LockState), StoreError> {
    let mut items = store.get_many(&[email_key(email.as_str()), key(email)]).await?;
    let state = items.pop().flatten().map(|i| from_item(&i)).transpose()?.unwrap_or_default();
    let claim = items.pop().flatten().map(|i| decode_claim(&i)).transpose()?;
    Ok((claim, state))
}

/// Counts a failure; returns the consecutive failures so far.
pub async fn record_failure(store: &dyn Store, email: &Email, forget_at: i64) -> Result<i64, StoreError> {
    store.increment(&key(email), "failures", 1, forget_at).await
}

pub fn lock(email: &Email, until: i64, forget_at: i64) -> Write {
    Write::Update {
        key: key(email),
        set: to_attrs(&serde_json::json!({ "lockedUntil": until })),
        expires_at: Some(forget_at),
        cond: Cond::Always,
    }
}

/// A successful sign-in (or password reset) starts over.
pub fn clear(email: &Email) -> Write {
    Write::Delete { key: key(email), cond: Cond::Always }
}
