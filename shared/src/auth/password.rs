//! Password recovery and change (OWASP Forgot Password Cheat Sheet): forgot always answers the
//! same; reset tokens live one hour, are single use and stored as digests; a reset or change
//! ends other sessions and tells the owner; the strength meter shares the server's rules.

use super::{AuthService, Client};
use crate::domain::email::Email;
use crate::domain::password::Strength;
use crate::domain::secret;
use crate::error::{AppError, AppResult};
use crate::mail::jobs::{AccountRequest, Job, Resolved};
use crate::mail::templates;
use crate::rate_limit::Rule;
use crate::repo::accounts::{self, stamp_value, UserRecord, PASSWORD_STAMP};
use crate::repo::audit::AuditAction;
use crate::repo::lockout::{self, Subject};
use crate::repo::sessions;
use crate::repo::tokens::{self, Purpose, TokenRecord};
use crate::store::{attrs, Cond, StoreError, Write};
use time::Duration;
use tracing::info;
use ulid::Ulid;

/// Life of a password reset link.
pub const RESET_TOKEN_LIFE: Duration = Duration::hours(1);
/// DynamoDB's cap on one transaction.
const MAX_TRANSACTION: usize = 100;

impl AuthService {
    /// Answers the same, and costs the same, for any address: the request only queues itself,
    /// and the mailer mails a link if a verified account is behind the address
    /// (`resolve_password_reset`).
    pub async fn forgot_password(&self, email: &str, client: &Client) -> AppResult<()> {
        let limits = (Rule::ForgotIp, Rule::ForgotEmail);
        self.queue_account_request(AccountRequest::PasswordReset, email, client, limits).await
    }

    /// A reset link for a verified account, issued under its current password stamp.
    pub(super) async fn resolve_password_reset(&self, email: &Email) -> AppResult<Option<Resolved>> {
        let Some(user) = self.account_for(email).await? else { return Ok(None) };
        if !user.email_verified {
            return Ok(None);
        }
        let token = secret::new_token();
        let expires = (self.now() + RESET_TOKEN_LIFE).unix_timestamp();
        let record =
            TokenRecord { purpose: Purpose::ResetPassword, user_id: user.id, stamp: user.password_stamp };
        info!(user_id = %user.id, "password reset link issued");
        Ok(Some(Resolved {
            writes: vec![tokens::put(&token, &record, expires)],
            message: templates::password_reset(
                &self.config.app_url,
                &user.email,
                &user.name,
                &token,
                RESET_TOKEN_LIFE.whole_minutes(),
            ),
        }))
    }

    /// Sets a new password from a reset link: all sessions end, any lock ends, no sign-in. Every
    /// other reset link of the user dies with it (the password stamp moves on). Returns a device
    /// cookie: the browser proved the mailbox, so strangers' lockouts do not keep it out.
    pub async fn reset_password(&self, token: &str, password: &str, client: &Client) -> AppResult<String> {
        self.limiter.hit(Rule::ResetIp, &client.network()).await?;
        let token = secret::parse_token(token).map_err(|_| AppError::InvalidToken)?;
        let record = tokens::find(self.store.as_ref(), &token, Purpose::ResetPassword)
            .await?
            .ok_or(AppError::InvalidToken)?;
        let (user, _) = accounts::user_with_driver(self.store.as_ref(), record.user_id)
            .await?
            .ok_or(AppError::InvalidToken)?;
        // A weak choice leaves the link usable for a better one.
        self.check_new_password(&user, password)?;
        let hash = self.hash(password.to_owned()).await?;
        let email = Email::parse(&user.email).map_err(|e| AppError::Internal(e.to_string()))?;
        let stamp = Ulid::new();
        let mut writes = vec![
            tokens::consume(&token),
            accounts::update_user_if(
                user.id,
                attrs([
                    ("passwordHash", hash.into()),
                    ("emailVerified", true.into()),
                    (PASSWORD_STAMP, stamp_value(Some(stamp))),
                ]),
                Cond::equals(PASSWORD_STAMP, stamp_value(record.stamp)),
            ),
            lockout::clear(Subject::Email(&email)),
            self.password_changed_mail(&user)?,
        ];
        writes.extend(self.session_deletes(&user, None).await?);
        match self.write_in_chunks(writes).await {
            Err(StoreError::ConditionFailed { index: 0 | 1 }) => return Err(AppError::InvalidToken),
            other => other?,
        }
        self.mail.wake();
        self.close_connections(user.id, |_| true).await;
        self.audit(AuditAction::PasswordReset, Some(user.id), &user.email, client, None).await;
        self.issue_device_cookie(&UserRecord { password_stamp: Some(stamp), ..user })
    }

    /// Changes the password of the signed-in user, who proves it with the current one; this
    /// session stays, the others end.
    pub async fn change_password(
        &self,
        cookie: &str,
        current: &str,
        password: &str,
        client: &Client,
    ) -> AppResult<()> {
        let session = self.authenticate(cookie).await?;
        let user = session.loaded.user.clone();
        self.limiter.hit(Rule::ChangeUser, &user.id.to_string()).await?;
        if !self.is_current_password(&user, current).await? {
            return Err(AppError::InvalidCredentials);
        }
        self.check_new_password(&user, password)?;
        let hash = self.hash(password.to_owned()).await?;
        // A new stamp: reset links issued before the change die.
        let stamp = Ulid::new();
        let changed = attrs([("passwordHash", hash.into()), (PASSWORD_STAMP, stamp_value(Some(stamp)))]);
        let mut writes = vec![
            accounts::update_user(user.id, changed),
            // This session lives on under the new password.
            sessions::restamp(user.id, &session.digest, stamp),
            self.password_changed_mail(&user)?,
        ];
        writes.extend(self.session_deletes(&user, Some(&session.digest)).await?);
        self.write_in_chunks(writes).await?;
        self.mail.wake();
        self.close_connections(user.id, |other| other != session.digest).await;
        self.audit(AuditAction::PasswordChanged, Some(user.id), &user.email, client, None).await;
        Ok(())
    }

    /// The strength meter: the very rules `register`, `reset` and `change` enforce.
    pub fn password_strength(&self, password: &str, email: Option<&str>, name: Option<&str>) -> Strength {
        let inputs: Vec<&str> = [email, name].into_iter().flatten().collect();
        self.config.password.assess(password, &inputs)
    }

    fn check_new_password(&self, user: &UserRecord, password: &str) -> AppResult<()> {
        self.config
            .password
            .check(password, &[&user.email, &user.name])
            .map_err(|e| AppError::WeakPassword(e.to_string()))
    }

    /// Deletes of the user's sessions, except the one kept.
    pub(super) async fn session_deletes(
        &self,
        user: &UserRecord,
        keep: Option<&str>,
    ) -> AppResult<Vec<Write>> {
        let all = sessions::list(self.store.as_ref(), user.id).await?;
        let ending = all.iter().filter(|(digest, _)| Some(digest.as_str()) != keep);
        ending.clone().for_each(|(digest, _)| self.session_cache.invalidate(digest));
        Ok(ending
            .map(|(digest, _)| Write::Delete {
                key: sessions::session_key(user.id, digest),
                cond: Cond::Always,
            })
            .collect())
    }

    /// The first chunk holds the writes that must be atomic (they come first, mail included);
    /// the rest are session deletes beyond one transaction's capacity.
    pub(super) async fn write_in_chunks(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        for chunk in writes.chunks(MAX_TRANSACTION) {
            self.store.write(chunk.to_vec()).await?;
        }
        Ok(())
    }

    /// The notice of a reset or change, queued in the same write as the new password.
    fn password_changed_mail(&self, user: &UserRecord) -> AppResult<Write> {
        let message = templates::password_changed(&self.config.app_url, &user.email, &user.name);
        self.mail.write(&Job::Message(message))
    }
}
