//! Sign-in (API.md Auth) with account lockout and device cookies (OWASP "Slow Down Online
//! Guessing Attacks with Device Cookies", ASVS 5.0 V6.3.1).
//!
//! A browser that signed in (or reset the password) gets a signed device cookie bound to that
//! user. Its attempts are counted on a budget of its own: the lockout and per-email limit that
//! strangers trigger by guessing do not keep the owner out. Attempts without a valid cookie for
//! the account share the email's budget. Either way each attempt is counted before its password
//! is hashed, so no burst checks more than the budget (see `repo::lockout`).

use super::hashing::Verdict;
use super::views::UserView;
use super::{AuthService, Client, SignIn, SignedIn};
use crate::domain::email::Email;
use crate::domain::lockout::{lock_after, LockState, FAILURE_MEMORY};
use crate::domain::password::{normalize as normalize_password, MAX_PASSWORD_CHARS};
use crate::domain::secret;
use crate::domain::session;
use crate::error::{AppError, AppResult};
use crate::mail::templates;
use crate::metrics;
use crate::rate_limit::Rule;
use crate::repo::accounts::{self, UserRecord};
use crate::repo::audit::{self, AuditAction};
use crate::repo::lockout::{self, Subject};
use crate::repo::sessions::{self, SessionRecord};
use crate::store::{attrs, Cond, StoreError};
use ulid::Ulid;

/// What device cookies are signed for (a key of the ring derived for this use only).
const DEVICE_COOKIE: &str = "device cookie";
/// Tries at counting an attempt while concurrent attempts keep counting first.
const RESERVE_TRIES: usize = 8;

/// A device cookie whose signature holds: `<userId>.<passwordStamp>.<nonce>.<signature>`. The
/// password stamp binds it to the password it proved: a reset or change makes every earlier
/// device a stranger again, so cookies collected with a stolen password stop helping.
struct Device {
    user_id: Ulid,
    password_stamp: String,
    nonce: String,
}

/// The password stamp as a device cookie carries it (`-` for accounts from before stamps).
fn stamp_text(stamp: Option<Ulid>) -> String {
    stamp.map_or_else(|| "-".to_owned(), |s| s.to_string())
}

impl AuthService {
    pub async fn sign_in(&self, input: SignIn, client: &Client) -> AppResult<SignedIn> {
        let signed_in = self.attempt_sign_in(input, client).await;
        match &signed_in {
            Ok(_) => metrics::sign_in(metrics::SignIn::Success),
            Err(AppError::TotpRequired) => metrics::sign_in(metrics::SignIn::Challenged),
            Err(
                AppError::InvalidCredentials
                | AppError::InvalidTotp
                | AppError::EmailNotVerified
                | AppError::AccountLocked { .. },
            ) => metrics::sign_in(metrics::SignIn::Failed),
            // Refused before any credential was judged (rate limit, bad input, outage).
            Err(_) => {}
        }
        signed_in
    }

    async fn attempt_sign_in(&self, input: SignIn, client: &Client) -> AppResult<SignedIn> {
        let email = Email::parse(&input.email).map_err(|e| AppError::invalid(e.to_string()))?;
        let signed = input.device.as_deref().and_then(|value| self.device(value));
        match &signed {
            Some(device) => {
                self.limiter
                    .hit_both((Rule::SigninIp, &client.network()), (Rule::SigninDevice, &device.nonce))
                    .await?
            }
            None => {
                self.limiter
                    .hit_both((Rule::SigninIp, &client.network()), (Rule::SigninEmail, email.as_str()))
                    .await?
            }
        }
        // No account has a longer password; refuse before spending any hashing on it.
        if normalize_password(&input.password).chars().count() > MAX_PASSWORD_CHARS {
            return Err(AppError::InvalidCredentials);
        }
        let presented = signed.as_ref().map(|d| (d.user_id, d.nonce.as_str()));
        let (claim, email_lock, device_lock) =
            lockout::claim_and_states(self.store.as_ref(), &email, presented).await?;
        // A cookie only vouches for the account it was issued to; for another, the browser is a
        // stranger and the email's limit applies after all.
        let had_cookie = presented.is_some();
        let device = signed.filter(|d| claim == Some(d.user_id));
        if device.is_none() && had_cookie {
            self.limiter.hit(Rule::SigninEmail, email.as_str()).await?;
        }
        let (subject, lock) = match &device {
            Some(d) => (Subject::Device { user: d.user_id, nonce: &d.nonce }, device_lock),
            None => (Subject::Email(&email), email_lock.clone()),
        };
        let account = async {
            match claim {
                Some(id) => Ok(accounts::user_with_driver(self.store.as_ref(), id).await?),
                None => Ok(None),
            }
        };
        let (mut counted, found) =
            tokio::try_join!(self.count_attempt(subject, lock, &email, claim, client), account)?;
        // A device that proved an earlier password is a stranger to this one: its attempt counts
        // on the email's budget too (one more round trip, only for such stale cookies).
        let stale = device
            .as_ref()
            .zip(found.as_ref())
            .is_some_and(|(d, (user, _))| d.password_stamp != stamp_text(user.password_stamp));
        let (trusted, subject) = match stale {
            false => (device.is_some(), subject),
            true => {
                self.limiter.hit(Rule::SigninEmail, email.as_str()).await?;
                let subject = Subject::Email(&email);
                counted = self.count_attempt(subject, email_lock, &email, claim, client).await?;
                (false, subject)
            }
        };

        let Some((user, driver)) = found else {
            self.burn_decoy(input.password).await?;
            let detail = Some("unknown email".into());
            self.audit(AuditAction::SignInFailed, None, email.as_str(), client, detail).await;
            self.settle_failure(subject, &counted, None, &email, client).await;
            return Err(AppError::InvalidCredentials);
        };
        let verdict = self.verify(input.password.clone(), user.password_hash.clone()).await?;
        let Verdict::Match { needs_rehash } = verdict else {
            let detail = Some(trust_note("wrong password", trusted));
            self.audit(AuditAction::SignInFailed, Some(user.id), email.as_str(), client, detail).await;
            self.settle_failure(subject, &counted, Some(&user), &email, client).await;
            return Err(AppError::InvalidCredentials);
        };
        // The password was right: this attempt was no failure, whatever comes next.
        let clear = lockout::clear(subject);
        if !user.email_verified {
            self.store.write(vec![clear]).await?;
            let detail = Some("email not verified".into());
            self.audit(AuditAction::SignInFailed, Some(user.id), email.as_str(), client, detail).await;
            return Err(AppError::EmailNotVerified);
        }
        let proof = match user.two_factor_enabled {
            true => match self.sign_in_second_factor(&user, input.totp_code.as_deref(), client).await {
                Ok(proof) => Some(proof),
                Err(e) => {
                    self.store.write(vec![clear]).await?;
                    return Err(e);
                }
            },
            false => None,
        };
        let campus = self.user_campus(&user).await?;

        let now = self.now();
        let token = secret::new_session_token(user.id);
        let session = SessionRecord {
            id: Ulid::new(),
            user_id: user.id,
            remember_me: input.remember_me,
            created_at: now,
            last_seen_at: now,
            expires_at: session::expiry(input.remember_me, now, now),
            user_agent: client.user_agent.clone(),
            password_stamp: user.password_stamp,
        };
        let mut writes = Vec::new();
        let recovery_code = proof.as_ref().is_some_and(|p| p.recovery_code);
        // Using up the code leads the transaction (see `SecondFactorProof`).
        writes.extend(proof.map(|p| p.write));
        writes.push(sessions::put(&token.digest(), &session));
        writes.push(clear.clone());
        let rehash_at = needs_rehash.then_some(writes.len());
        if needs_rehash {
            // Legacy bcrypt (or weaker argon2) hashes are upgraded on a successful sign-in, unless
            // the password changed meanwhile (a reset must never be undone by an old password).
            let upgraded = self.hash(input.password).await?;
            let unchanged = Cond::equals("passwordHash", user.password_hash.clone());
            writes.push(accounts::update_user_if(
                user.id,
                attrs([("passwordHash", upgraded.into())]),
                unchanged,
            ));
        }
        let detail = Some(trust_note(&format!("session {}", session.id), trusted));
        writes.push(audit::put(&self.audit_record(
            AuditAction::SignInSucceeded,
            Some(user.id),
            email.as_str(),
            client,
            detail,
        )));
        match self.store.write(writes).await {
            Err(StoreError::ConditionFailed { index }) if Some(index) == rehash_at => {
                return Err(AppError::InvalidCredentials);
            }
            Err(StoreError::ConditionFailed { index: 0 }) if user.two_factor_enabled => {
                self.store.write(vec![clear]).await?;
                self.second_factor_failed_at_sign_in(&user).await;
                return Err(self.second_factor_refused(&user, client).await);
            }
            other => other?,
        }
        if recovery_code {
            self.recovery_code_used(&user, client).await;
        }
        Ok(SignedIn {
            user: UserView::new(&user, &driver, &campus, super::campus_calendar(&campus)?.today(self.now())),
            token,
            remember_me: input.remember_me,
            device_cookie: self.issue_device_cookie(&user)?,
        })
    }

    /// Counts the attempt on the subject's budget before any hashing; returns the state with it
    /// counted. Refused (`423`) while the subject is locked or its budget is taken by attempts
    /// still in flight.
    pub(super) async fn count_attempt(
        &self,
        subject: Subject<'_>,
        mut state: Option<LockState>,
        email: &Email,
        claim: Option<Ulid>,
        client: &Client,
    ) -> AppResult<LockState> {
        for _ in 0..RESERVE_TRIES {
            let now = self.clock.epoch_seconds();
            if let Err(refused) = state.as_ref().map_or(Ok(()), |s| s.admits(now)) {
                // Even the right password waits: the lock is on the subject, not on a guess.
                let detail = Some("locked".into());
                self.audit(AuditAction::SignInFailed, claim, email.as_str(), client, detail).await;
                return Err(AppError::AccountLocked { retry_after_secs: refused.retry_after_secs });
            }
            let forget_at = now + FAILURE_MEMORY.whole_seconds();
            let next = state.clone().unwrap_or_default().with_attempt(now);
            match self.store.write(vec![lockout::reserve(subject, state.as_ref(), &next, forget_at)]).await {
                Ok(()) => return Ok(next),
                Err(StoreError::ConditionFailed { .. }) => {
                    state = lockout::load(self.store.as_ref(), subject).await?
                }
                Err(e) => return Err(e.into()),
            }
        }
        // Attempts this concurrent are an attack on the budget, not a person signing in.
        Err(AppError::AccountLocked { retry_after_secs: 1 })
    }

    /// A wrong password, counted (and any lock it started written) already: record the lock the
    /// failure confirms, and tell the owner of a verified account.
    pub(super) async fn settle_failure(
        &self,
        subject: Subject<'_>,
        counted: &LockState,
        owner: Option<&UserRecord>,
        email: &Email,
        client: &Client,
    ) {
        let Some(period) = lock_after(counted.failures) else { return };
        metrics::lockout();
        let minutes = period.whole_minutes();
        let what = format!("{} consecutive failures, {}", counted.failures, templates::minutes(minutes));
        let detail = Some(trust_note(&what, matches!(subject, Subject::Device { .. })));
        self.audit(AuditAction::AccountLocked, owner.map(|u| u.id), email.as_str(), client, detail).await;
        // Only an address that confirmed its account hears of it (nothing else mails an address
        // that has confirmed nothing, which would make sign-in a way to mail-bomb it).
        if let Some(user) = owner.filter(|u| u.email_verified) {
            let message = templates::account_locked(&self.config.app_url, &user.email, &user.name, minutes);
            self.queue_mail(user, message).await;
        }
    }

    /// A new device cookie value for `user`: after a sign-in, and after a password reset (which
    /// proves the mailbox, and so lets its owner in even while strangers keep the email locked).
    pub(super) fn issue_device_cookie(&self, user: &UserRecord) -> AppResult<String> {
        let data =
            format!("{}.{}.{}", user.id, stamp_text(user.password_stamp), secret::new_token().expose());
        Ok(format!("{data}.{}", self.key_ring()?.sign(DEVICE_COOKIE, data.as_bytes())))
    }

    /// The device a cookie value names, when its signature holds.
    fn device(&self, value: &str) -> Option<Device> {
        let mut parts = value.splitn(4, '.');
        let (user, stamp, nonce, signature) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let user_id = Ulid::from_string(user).ok()?;
        let nonce = secret::parse_token(nonce).ok()?;
        let data = format!("{user_id}.{stamp}.{}", nonce.expose());
        self.key_ring().ok()?.verify(DEVICE_COOKIE, data.as_bytes(), signature).then(|| Device {
            user_id,
            password_stamp: stamp.to_owned(),
            nonce: nonce.expose().to_owned(),
        })
    }
}

fn trust_note(detail: &str, trusted_device: bool) -> String {
    match trusted_device {
        true => format!("{detail} (trusted device)"),
        false => detail.to_owned(),
    }
}
