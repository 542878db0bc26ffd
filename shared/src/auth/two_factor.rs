//! Two-factor sign-in with TOTP (RFC 6238; OWASP MFA Cheat Sheet): setup hands out a key,
//! the first good code turns it on and returns recovery codes once, sign-in then wants a code
//! after the password, and turning it off takes the password and a code.
//!
//! Each accepted code uses up its time step (or its recovery code) in the same transaction as
//! what it unlocks, so neither a replay nor two concurrent requests can use one code twice.

use super::{AuthService, Authenticated, Client};
use crate::domain::totp::{RecoveryCode, SecondFactor, TotpCode, TotpKey, RECOVERY_CODES};
use crate::error::{AppError, AppResult};
use crate::mail::templates::{self, TwoFactorNotice};
use crate::rate_limit::Rule;
use crate::repo::accounts::{self, UserRecord};
use crate::repo::audit::{self, AuditAction};
use crate::repo::two_factor::{self, TotpRecord};
use crate::store::{attrs, Cond, StoreError, Write};
use crate::PRODUCT;
use time::Duration;
use tracing::warn;

/// How long a setup waits for its first code.
pub const SETUP_LIFE: Duration = Duration::minutes(15);

/// What an authenticator app needs: the key typed by hand, or the URI in a QR code.
pub struct TotpSetup {
    pub secret: String,
    pub otpauth_uri: String,
}

/// A second factor that checked out, and the write that uses it up. The write must lead its
/// transaction: a condition failure at index 0 means the code was used meanwhile.
pub(super) struct SecondFactorProof {
    pub write: Write,
    pub recovery_code: bool,
}

impl AuthService {
    /// Starts (or restarts) a setup for the signed-in user, who proves it with the password: a
    /// stolen session alone must not be able to put its own authenticator on the account.
    pub async fn totp_setup(&self, cookie: &str, password: &str, client: &Client) -> AppResult<TotpSetup> {
        let user = self.authenticate(cookie).await?.loaded.user;
        // A password check through a session, like a password change: the same budget.
        self.limiter.hit(Rule::ChangeUser, &user.id.to_string()).await?;
        if user.two_factor_enabled {
            return Err(AppError::TwoFactorAlreadyEnabled);
        }
        self.confirm_password(&user, password, client).await?;
        let key = TotpKey::generate(PRODUCT, &user.email).map_err(AppError::Internal)?;
        let now = self.now();
        let record = TotpRecord {
            sealed_key: self.key_ring()?.seal(key.bytes(), &user.id.to_string()),
            created_at: now,
            last_step: None,
        };
        self.store
            .write(vec![two_factor::put_pending(user.id, &record, (now + SETUP_LIFE).unix_timestamp())])
            .await?;
        Ok(TotpSetup { secret: key.base32(), otpauth_uri: key.otpauth_uri() })
    }

    /// Turns two-factor on with the first code from the pending key; returns the recovery codes,
    /// the only time they are seen in clear.
    pub async fn totp_confirm(
        &self,
        cookie: &str,
        code: &str,
        client: &Client,
    ) -> AppResult<Vec<RecoveryCode>> {
        let current = self.authenticate(cookie).await?;
        let user = current.loaded.user;
        // Settled before the code budget is touched: nothing to guess at.
        if user.two_factor_enabled {
            return Err(AppError::TwoFactorAlreadyEnabled);
        }
        self.limiter.hit(Rule::TwoFactorUser, &user.id.to_string()).await?;
        let code = TotpCode::parse(code).map_err(|_| AppError::InvalidTotp)?;
        let (enabled, pending) = two_factor::load(self.store.as_ref(), user.id).await?;
        if enabled.is_some() {
            return Err(AppError::TwoFactorAlreadyEnabled);
        }
        let pending = pending.ok_or(AppError::TwoFactorSetupRequired)?;
        let Some(step) = self.open_key(&user, &pending)?.matching_step(&code, self.clock.epoch_seconds())
        else {
            self.audit(
                AuditAction::TwoFactorFailed,
                Some(user.id),
                &user.email,
                client,
                Some("setup code".into()),
            )
            .await;
            return Err(AppError::InvalidTotp);
        };
        let codes: Vec<RecoveryCode> = (0..RECOVERY_CODES).map(|_| RecoveryCode::generate()).collect();
        // Codes left over from an earlier enrolment (a race with its disable) must not come back.
        let stale = two_factor::recovery_code_keys(self.store.as_ref(), user.id).await?;
        let confirmed = TotpRecord { last_step: Some(step), ..pending };
        let mut writes = Vec::from(two_factor::enable(user.id, &confirmed));
        writes.push(accounts::update_user(user.id, attrs([("twoFactorEnabled", true.into())])));
        writes.extend(stale.into_iter().map(|key| Write::Delete { key, cond: Cond::Always }));
        writes.extend(codes.iter().map(|c| two_factor::put_recovery_code(user.id, c)));
        writes.push(audit::put(&self.audit_record(
            AuditAction::TwoFactorEnabled,
            Some(user.id),
            &user.email,
            client,
            None,
        )));
        match self.store.write(writes).await {
            Err(StoreError::ConditionFailed { index: 0 }) => return Err(AppError::TwoFactorAlreadyEnabled),
            Err(StoreError::ConditionFailed { index: 1 }) => return Err(AppError::TwoFactorSetupRequired),
            other => other?,
        }
        self.session_cache.invalidate(&current.digest);
        self.notify_two_factor(&user, TwoFactorNotice::Enabled).await;
        Ok(codes)
    }

    /// Turns two-factor off; takes the password and a code (or a recovery code).
    pub async fn totp_disable(
        &self,
        cookie: &str,
        password: &str,
        code: &str,
        client: &Client,
    ) -> AppResult<()> {
        let (current, proof) = self.reauthenticate(cookie, password, code, client).await?;
        let user = current.loaded.user;
        let others = self.other_recovery_code_deletes(&user, &proof).await?;
        let mut writes = two_factor::disable(user.id, proof.write);
        writes.push(accounts::update_user(user.id, attrs([("twoFactorEnabled", false.into())])));
        writes.extend(others);
        self.apply_reauthenticated(&user, client, AuditAction::TwoFactorDisabled, writes).await?;
        self.session_cache.invalidate(&current.digest);
        self.notify_two_factor(&user, TwoFactorNotice::Disabled).await;
        Ok(())
    }

    /// Replaces the recovery codes (the unused ones stop working); takes the password and a code.
    pub async fn renew_recovery_codes(
        &self,
        cookie: &str,
        password: &str,
        code: &str,
        client: &Client,
    ) -> AppResult<Vec<RecoveryCode>> {
        let (current, proof) = self.reauthenticate(cookie, password, code, client).await?;
        let user = current.loaded.user;
        let old = self.other_recovery_code_deletes(&user, &proof).await?;
        let codes: Vec<RecoveryCode> = (0..RECOVERY_CODES).map(|_| RecoveryCode::generate()).collect();
        // A TOTP proof is a write on the key itself, which holds only while two-factor is on.
        let on_the_key = proof.write.key() == &two_factor::enabled_key(user.id);
        let mut writes = vec![proof.write];
        writes.extend((!on_the_key).then(|| two_factor::require_enabled(user.id)));
        writes.extend(old);
        writes.extend(codes.iter().map(|c| two_factor::put_recovery_code(user.id, c)));
        self.apply_reauthenticated(&user, client, AuditAction::RecoveryCodesRenewed, writes).await?;
        self.notify_two_factor(&user, TwoFactorNotice::RecoveryCodesRenewed).await;
        Ok(codes)
    }

    /// A sensitive two-factor change: the signed-in user with two-factor on proves it again with
    /// the password and a code. Returns the session and the write that uses the code up.
    async fn reauthenticate(
        &self,
        cookie: &str,
        password: &str,
        code: &str,
        client: &Client,
    ) -> AppResult<(Authenticated, SecondFactorProof)> {
        let current = self.authenticate(cookie).await?;
        let user = &current.loaded.user;
        self.limiter.hit(Rule::TwoFactorUser, &user.id.to_string()).await?;
        if !user.two_factor_enabled {
            return Err(AppError::TwoFactorNotEnabled);
        }
        self.confirm_password(user, password, client).await?;
        let proof = self.check_second_factor(user, code, client).await?;
        Ok((current, proof))
    }

    /// Applies a change made after `reauthenticate`, with its audit record. The writes start
    /// with the proof and then one that holds only while two-factor is on.
    async fn apply_reauthenticated(
        &self,
        user: &UserRecord,
        client: &Client,
        action: AuditAction,
        mut writes: Vec<Write>,
    ) -> AppResult<()> {
        writes.push(audit::put(&self.audit_record(action, Some(user.id), &user.email, client, None)));
        match self.store.write(writes).await {
            Err(StoreError::ConditionFailed { index: 0 }) => {
                Err(self.second_factor_refused(user, client).await)
            }
            Err(StoreError::ConditionFailed { index: 1 }) => Err(AppError::TwoFactorNotEnabled),
            other => Ok(other?),
        }
    }

    async fn confirm_password(&self, user: &UserRecord, password: &str, client: &Client) -> AppResult<()> {
        if self.is_current_password(user, password).await? {
            return Ok(());
        }
        let detail = Some("wrong password".into());
        self.audit(AuditAction::TwoFactorFailed, Some(user.id), &user.email, client, detail).await;
        Err(AppError::InvalidCredentials)
    }

    /// Deletes of the user's unused recovery codes, except one the proof itself uses up (a
    /// transaction may touch an item once).
    async fn other_recovery_code_deletes(
        &self,
        user: &UserRecord,
        proof: &SecondFactorProof,
    ) -> AppResult<Vec<Write>> {
        let unused = two_factor::recovery_code_keys(self.store.as_ref(), user.id).await?;
        Ok(unused
            .into_iter()
            .filter(|key| key != proof.write.key())
            .map(|key| Write::Delete { key, cond: Cond::Always })
            .collect())
    }

    /// The sign-in step after a correct password, for a user with two-factor on.
    pub(super) async fn sign_in_second_factor(
        &self,
        user: &UserRecord,
        code: Option<&str>,
        client: &Client,
    ) -> AppResult<SecondFactorProof> {
        let code = code.ok_or(AppError::TotpRequired)?;
        self.limiter.hit(Rule::TwoFactorUser, &user.id.to_string()).await?;
        let checked = self.check_second_factor(user, code, client).await;
        if let Err(AppError::InvalidTotp) = checked {
            self.second_factor_failed_at_sign_in(user).await;
        }
        checked
    }

    /// Someone who knows the password keeps failing the second step: the owner should change
    /// the password (OWASP MFA Cheat Sheet). Told once per window of `TwoFactorFailureNotice`,
    /// at its `max`-th failure; a failure to count or mail is logged, the sign-in answer is the
    /// same.
    pub(super) async fn second_factor_failed_at_sign_in(&self, user: &UserRecord) {
        let notice_at = self.limiter.limit(Rule::TwoFactorFailureNotice).max;
        match self.limiter.count(Rule::TwoFactorFailureNotice, &user.id.to_string()).await {
            Ok(count) if count == notice_at => {
                self.notify_two_factor(user, TwoFactorNotice::FailedCodes { count }).await
            }
            Ok(_) => {}
            Err(e) => warn!(user_id = %user.id, error = %e, "two-factor failure not counted"),
        }
    }

    /// Checks a TOTP or recovery code against the user's enabled key; audits a failure.
    pub(super) async fn check_second_factor(
        &self,
        user: &UserRecord,
        code: &str,
        client: &Client,
    ) -> AppResult<SecondFactorProof> {
        let failed = |detail: &'static str| async move {
            self.audit(AuditAction::TwoFactorFailed, Some(user.id), &user.email, client, Some(detail.into()))
                .await;
            AppError::InvalidTotp
        };
        let Ok(factor) = SecondFactor::parse(code) else { return Err(failed("malformed code").await) };
        match factor {
            SecondFactor::Totp(code) => {
                let (enabled, _) = two_factor::load(self.store.as_ref(), user.id).await?;
                let Some(enabled) = enabled else { return Err(self.key_gone(user).await) };
                let seen = enabled.last_step;
                match self.open_key(user, &enabled)?.matching_step(&code, self.clock.epoch_seconds()) {
                    // RFC 6238 §5.2: never a step at or before one already accepted.
                    Some(step) if seen.is_some_and(|last| step <= last) => {
                        Err(failed("code of a step already used").await)
                    }
                    Some(step) => Ok(SecondFactorProof {
                        write: two_factor::use_step(user.id, step, seen),
                        recovery_code: false,
                    }),
                    None => Err(failed("wrong code").await),
                }
            }
            // Whether it exists is settled by the write's condition, in one round trip.
            SecondFactor::Recovery(code) => Ok(SecondFactorProof {
                write: two_factor::consume_recovery_code(user.id, &code),
                recovery_code: true,
            }),
        }
    }

    /// Why a user read with two-factor on has no key now: the account was deleted meanwhile
    /// (`Unauthenticated`), or two-factor turned off (`Contended`: a retry goes without a code).
    async fn key_gone(&self, user: &UserRecord) -> AppError {
        match accounts::user_with_driver(self.store.as_ref(), user.id).await {
            Ok(None) => AppError::Unauthenticated,
            Ok(Some((now, _))) if !now.two_factor_enabled => AppError::Contended,
            Ok(Some(_)) => AppError::Internal(format!("user {} has two-factor on but no TOTP key", user.id)),
            Err(e) => e.into(),
        }
    }

    /// After a sign-in that used a recovery code: record it and tell the owner what is left.
    /// The sign-in already happened, so a failure here is logged, not returned.
    pub(super) async fn recovery_code_used(&self, user: &UserRecord, client: &Client) {
        let left = match two_factor::recovery_code_keys(self.store.as_ref(), user.id).await {
            Ok(keys) => keys.len(),
            Err(e) => {
                warn!(user_id = %user.id, error = %e, "recovery codes not counted");
                return;
            }
        };
        let detail = Some(format!("{left} left"));
        self.audit(AuditAction::RecoveryCodeUsed, Some(user.id), &user.email, client, detail).await;
        self.notify_two_factor(user, TwoFactorNotice::RecoveryCodeUsed { left }).await;
    }

    /// A code whose use-up write failed: its step was used already (a replay, or a concurrent
    /// use), or the recovery code is unknown or spent.
    pub(super) async fn second_factor_refused(&self, user: &UserRecord, client: &Client) -> AppError {
        let detail = Some("code already used, or no such recovery code".into());
        self.audit(AuditAction::TwoFactorFailed, Some(user.id), &user.email, client, detail).await;
        AppError::InvalidTotp
    }

    pub(super) fn key_ring(&self) -> AppResult<&crate::seal::KeyRing> {
        self.config.key_ring.as_ref().ok_or_else(|| AppError::Internal("KEY_RING is not configured".into()))
    }

    fn open_key(&self, user: &UserRecord, record: &TotpRecord) -> AppResult<TotpKey> {
        let bytes = self
            .key_ring()?
            .open(&record.sealed_key, &user.id.to_string())
            .map_err(|e| AppError::Internal(format!("TOTP key of user {}: {e}", user.id)))?;
        TotpKey::from_bytes(bytes, "", "").map_err(AppError::Internal)
    }

    async fn notify_two_factor(&self, user: &UserRecord, notice: TwoFactorNotice) {
        let message = templates::two_factor_changed(&self.config.app_url, &user.email, &user.name, notice);
        self.queue_mail(user, message).await;
    }
}
