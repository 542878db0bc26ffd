//! Lockout state per subject (OWASP Authentication Cheat Sheet; "Slow Down Online Guessing
//! Attacks with Device Cookies"): a normalised email, for attempts from browsers that have not
//! proven themselves (whether or not an account has the email, so a lock reveals nothing), or a
//! trusted device of one user, which has a budget of its own.
//!
//! Each attempt is counted before its password is hashed (a reservation, written on condition
//! that the count is still the one read), so concurrent attempts cannot check more passwords
//! than the budget allows: a success clears the count, a failure leaves it, and the attempt that
//! uses the budget up locks the subject as it is counted, so a request that dies half-way leaves an
//! ordinary lock (and counts as a failure), never a budget nothing frees.

use super::accounts::{decode_claim, email_key, user_partition};
use super::{from_item, to_attrs};
use crate::domain::email::Email;
use crate::domain::lockout::{LockState, FAILURE_MEMORY};
use crate::store::{Cond, Item, Key, Store, StoreError, Write};
use ulid::Ulid;

/// Whose attempts are counted together.
#[derive(Clone, Copy, Debug)]
pub enum Subject<'a> {
    /// Attempts from browsers without a device cookie for the account.
    Email(&'a Email),
    /// Attempts from one trusted device of a user (its cookie's nonce), kept in the user's
    /// partition (it goes with the account).
    Device { user: Ulid, nonce: &'a str },
}

fn key(subject: Subject<'_>) -> Key {
    match subject {
        Subject::Email(email) => Key::new(format!("LOCK#{email}"), "LOCK"),
        Subject::Device { user, nonce } => Key::new(user_partition(user), format!("LOCK#DEVICE#{nonce}")),
    }
}

/// The email's lock state, deleted with its account.
pub fn email_lock_key(email: &Email) -> Key {
    key(Subject::Email(email))
}

fn decode(item: Option<Item>) -> Result<Option<LockState>, StoreError> {
    item.map(|i| from_item(&i)).transpose()
}

/// The account id claiming the email, the email's lock state and, for a device cookie, the
/// device's, in one round trip.
pub async fn claim_and_states(
    store: &dyn Store,
    email: &Email,
    device: Option<(Ulid, &str)>,
) -> Result<(Option<Ulid>, Option<LockState>, Option<LockState>), StoreError> {
    let mut keys = vec![email_key(email.as_str()), key(Subject::Email(email))];
    keys.extend(device.map(|(user, nonce)| key(Subject::Device { user, nonce })));
    let mut items = store.get_many(&keys).await?.into_iter();
    let claim = items.next().flatten().map(|i| decode_claim(&i)).transpose()?;
    let email_state = decode(items.next().flatten())?;
    let device_state = decode(items.next().flatten())?;
    Ok((claim, email_state, device_state))
}

/// A batch read of one key: sign-in reads everything with BatchGetItem (least privilege).
pub async fn load(store: &dyn Store, subject: Subject<'_>) -> Result<Option<LockState>, StoreError> {
    decode(store.get_many(&[key(subject)]).await?.pop().flatten())
}

/// Counts one more attempt of `subject` (`next`, from `LockState::with_attempt`), on condition
/// that the state is still `read` (`None`: no state yet). A failure means another attempt
/// counted first: read again. A lock it starts is remembered a day past its end.
pub fn reserve(subject: Subject<'_>, read: Option<&LockState>, next: &LockState, forget_at: i64) -> Write {
    let memory = FAILURE_MEMORY.whole_seconds();
    let forget_at = next.locked_until.map_or(forget_at, |until| forget_at.max(until + memory));
    match read {
        None => Write::Put {
            item: Item::new(key(subject), to_attrs(next)).expiring(forget_at),
            cond: Cond::NotExists,
        },
        Some(state) => Write::Update {
            key: key(subject),
            set: to_attrs(next),
            expires_at: next.locked_until.is_some().then_some(forget_at),
            cond: Cond::equals("failures", state.failures),
        },
    }
}

/// A successful sign-in (or password reset) starts over.
pub fn clear(subject: Subject<'_>) -> Write {
    Write::Delete { key: key(subject), cond: Cond::Always }
}
