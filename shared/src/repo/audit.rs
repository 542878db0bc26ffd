//! Security audit records: who did what, when, from where. Stored under the user (or, for an
//! email without an account, under the email) with ULID sort keys, so a user's history reads
//! newest first in one query. They never hold a secret.
//!
//! A deleted account's records are kept for the rest of their retention, with the address
//! replaced by a keyed digest (`email_digest`): campus addresses are guessable, so a plain hash
//! would not hide them, while an operator holding the key ring can still answer "was this
//! address's account locked last month?".

use super::{from_item, to_attrs};
use crate::store::{Item, Key, Query, SkRange, Store, StoreError, Write};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use ulid::Ulid;

/// How long audit records are kept.
pub const RETENTION: Duration = Duration::days(400);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    SignInSucceeded,
    SignInFailed,
    AccountLocked,
    PasswordReset,
    PasswordChanged,
    SessionRevoked,
    SignedOutEverywhere,
    TwoFactorEnabled,
    TwoFactorDisabled,
    TwoFactorFailed,
    RecoveryCodeUsed,
    RecoveryCodesRenewed,
    AccountExported,
    /// A wrong password or code when deleting the account.
    AccountDeletionRefused,
    AccountDeleted,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::SignInSucceeded => "sign_in_succeeded",
            AuditAction::SignInFailed => "sign_in_failed",
            AuditAction::AccountLocked => "account_locked",
            AuditAction::PasswordReset => "password_reset",
            AuditAction::PasswordChanged => "password_changed",
            AuditAction::SessionRevoked => "session_revoked",
            AuditAction::SignedOutEverywhere => "signed_out_everywhere",
            AuditAction::TwoFactorEnabled => "two_factor_enabled",
            AuditAction::TwoFactorDisabled => "two_factor_disabled",
            AuditAction::TwoFactorFailed => "two_factor_failed",
            AuditAction::RecoveryCodeUsed => "recovery_code_used",
            AuditAction::RecoveryCodesRenewed => "recovery_codes_renewed",
            AuditAction::AccountExported => "account_exported",
            AuditAction::AccountDeletionRefused => "account_deletion_refused",
            AuditAction::AccountDeleted => "account_deleted",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    pub id: Ulid,
    pub action: AuditAction,
    pub user_id: Option<Ulid>,
    pub email: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub ip: String,
    pub user_agent: Option<String>,
    /// A short non-secret note (a reason, a session id).
    pub detail: Option<String>,
    /// In place of `email` once the account is deleted (see the module's notes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_digest: Option<String>,
}

/// What the digest of a deleted account's address is signed for.
pub const DELETED_EMAIL: &str = "deleted account email";

fn partition(user: Option<Ulid>, email: Option<&str>) -> String {
    match (user, email) {
        (Some(user), _) => format!("AUDIT#USER#{user}"),
        (None, email) => email_partition(email.unwrap_or("")),
    }
}

/// Records about an address no account had (by the address, or by its digest once deleted).
fn email_partition(email_or_digest: &str) -> String {
    format!("AUDIT#EMAIL#{email_or_digest}")
}

fn sort_key(id: Ulid) -> String {
    format!("AUDIT#{id}")
}

fn item(record: &AuditRecord) -> Item {
    let subject = record.email.as_deref().or(record.email_digest.as_deref());
    let key = Key::new(partition(record.user_id, subject), sort_key(record.id));
    Item::new(key, to_attrs(record)).expiring((record.at + RETENTION).unix_timestamp())
}

pub fn put(record: &AuditRecord) -> Write {
    Write::Put { item: item(record), cond: crate::store::Cond::NotExists }
}

/// A user's most recent records, newest first.
pub async fn for_user(store: &dyn Store, user: Ulid, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
    Ok(page_of_user(store, user, None, limit).await?.0)
}

/// A page of a user's records, newest first.
pub async fn page_of_user(
    store: &dyn Store,
    user: Ulid,
    after: Option<crate::store::Cursor>,
    limit: usize,
) -> Result<(Vec<AuditRecord>, Option<crate::store::Cursor>), StoreError> {
    let query = Query {
        descending: true,
        limit,
        after,
        ..Query::new(partition(Some(user), None), SkRange::Prefix("AUDIT#".into()))
    };
    let page = store.query(&query).await?;
    Ok((page.items.iter().map(from_item).collect::<Result<_, _>>()?, page.next))
}

/// The record with its address replaced by `digest` (the same key, so it keeps its expiry).
pub fn anonymise(record: &AuditRecord, digest: &str) -> Write {
    let anonymous = AuditRecord { email: None, email_digest: Some(digest.to_owned()), ..record.clone() };
    Write::Put { item: item(&anonymous), cond: crate::store::Cond::Exists }
}

/// Up to `limit` records about `email` made before `before` (oldest first), with their keys:
/// those of an account deleted at `before` move under its digest.
pub async fn about_address_before(
    store: &dyn Store,
    email: &str,
    before: Ulid,
    limit: usize,
) -> Result<Vec<(Key, AuditRecord)>, StoreError> {
    let range = SkRange::Between("AUDIT#".into(), sort_key(before));
    let query = Query { limit, ..Query::new(email_partition(email), range) };
    store.query(&query).await?.items.iter().map(|item| Ok((item.key.clone(), from_item(item)?))).collect()
}

/// What changed about a driver (API.md: every change of capability or availability).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DriverAction {
    /// Capability changes: applied (to review), approved, rejected, suspended, reinstated.
    CapabilityChanged,
    AvailabilityChanged,
}

/// One capability or availability change: who (a user id, or `system` for the sweep), the
/// value before and after, why, and from where. Campus admins read them (`GET /api/admin/audit`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DriverChange {
    pub id: Ulid,
    pub action: DriverAction,
    pub actor: String,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
    #[schema(required = true)]
    pub reason: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    #[schema(required = true)]
    pub ip: Option<String>,
}

/// The actor of the sweep's changes.
pub const SYSTEM: &str = "system";

fn driver_partition(user: Ulid) -> String {
    format!("AUDIT#DRIVER#{user}")
}

pub fn put_driver_change(user: Ulid, change: &DriverChange) -> Write {
    let key = Key::new(driver_partition(user), format!("AUDIT#{}", change.id));
    Write::Put {
        item: Item::new(key, to_attrs(change)).expiring((change.at + RETENTION).unix_timestamp()),
        cond: crate::store::Cond::NotExists,
    }
}

/// A page of a driver's changes, newest first.
pub async fn driver_changes(
    store: &dyn Store,
    user: Ulid,
    limit: usize,
    after: Option<crate::store::Cursor>,
) -> Result<(Vec<DriverChange>, Option<crate::store::Cursor>), StoreError> {
    let query = Query {
        descending: true,
        limit,
        after,
        ..Query::new(driver_partition(user), SkRange::Prefix("AUDIT#".into()))
    };
    let page = store.query(&query).await?;
    let changes = page.items.iter().map(from_item).collect::<Result<_, _>>()?;
    Ok((changes, page.next))
}
