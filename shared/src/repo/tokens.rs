//! Single-use tokens (email verification, password reset), stored under their digest with
//! an expiry. Consuming one deletes it with a condition, so concurrent uses cannot both succeed.
//! Each is also in `gsi1` under `TOKENS#<userId>`, so an account's deletion finds its pending
//! tokens (they would die with the account anyway: using one needs the user's stamp).

use super::{from_item, to_attrs};
use crate::domain::secret::Secret;
use crate::store::{Cond, Index, Item, Key, Query, SkRange, Store, StoreError, Write};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    VerifyEmail,
    ResetPassword,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenRecord {
    pub purpose: Purpose,
    pub user_id: Ulid,
    /// The user's stamp the token was issued under (`verificationStamp` or `passwordStamp`);
    /// using the token requires the user to still carry it.
    #[serde(default)]
    pub stamp: Option<Ulid>,
}

pub fn token_key(secret: &Secret) -> Key {
    Key::new(format!("TOKEN#{}", secret.digest()), "TOKEN")
}

fn user_index(user: Ulid) -> String {
    format!("TOKENS#{user}")
}

pub fn put(secret: &Secret, record: &TokenRecord, expires_at: i64) -> Write {
    let item = Item::new(token_key(secret), to_attrs(record))
        .expiring(expires_at)
        .in_gsi1(Key::new(user_index(record.user_id), secret.digest()));
    Write::Put { item, cond: Cond::NotExists }
}

/// The keys of a user's live tokens.
pub async fn keys_of(store: &dyn Store, user: Ulid) -> Result<Vec<Key>, StoreError> {
    let query = Query { index: Some(Index::Gsi1), ..Query::new(user_index(user), SkRange::All) };
    let items = super::query_all(store, query).await?;
    Ok(items.into_iter().map(|item| item.key).collect())
}

/// A live token of the given purpose.
pub async fn find(
    store: &dyn Store,
    secret: &Secret,
    purpose: Purpose,
) -> Result<Option<TokenRecord>, StoreError> {
    let Some(item) = store.get(&token_key(secret)).await? else { return Ok(None) };
    let record: TokenRecord = from_item(&item)?;
    Ok((record.purpose == purpose).then_some(record))
}

/// The write that uses a token up; it fails if someone used it first or it expired meanwhile.
pub fn consume(secret: &Secret) -> Write {
    Write::Delete { key: token_key(secret), cond: Cond::Exists }
}
