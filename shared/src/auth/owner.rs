//! Proving, before an irreversible change (deleting the account), that the owner is at the
//! keyboard and not only their session: the password, counted on the email's lockout budget
//! exactly like a sign-in attempt (a stolen session cannot guess it faster than a stranger at the
//! sign-in form), and the second factor when two-factor is on.

use super::hashing::Verdict;
use super::{AuthService, Client};
use crate::domain::email::Email;
use crate::error::{AppError, AppResult};
use crate::rate_limit::Rule;
use crate::repo::accounts::UserRecord;
use crate::repo::audit::AuditAction;
use crate::repo::drivers::DriverRecord;
use crate::repo::lockout::{self, Subject};
use crate::store::Write;

/// The owner, proven: their records as read, and the write that uses
/// their second factor up (when two-factor is on), which must lead the change's transaction: a
/// condition failure there means the code was used meanwhile (see `code_used_meanwhile`).
pub struct Owner {
    pub user: UserRecord,
    pub driver: DriverRecord,
    pub second_factor: Option<Write>,
}

impl AuthService {
    /// The signed-in user behind `cookie`, once they gave their password (and a code, with
    /// two-factor on). Wrong ones are audited as `refused`, count towards the email's lockout and
    /// answer `401`, like a sign-in's.
    pub async fn prove_owner(
        &self,
        cookie: &str,
        password: &str,
        code: Option<&str>,
        client: &Client,
        refused: AuditAction,
    ) -> AppResult<Owner> {
        let current = self.authenticate(cookie).await?;
        let user = current.loaded.user;
        // A password check through a session: the budget of a password change.
        self.limiter.hit(Rule::ChangeUser, &user.id.to_string()).await?;
        let email = Email::parse(&user.email).map_err(|e| {
            AppError::Internal(format!("user {} has a stored email that does not parse: {e}", user.id))
        })?;
        let subject = Subject::Email(&email);
        let state = lockout::load(self.store.as_ref(), subject).await?;
        let counted = self.count_attempt(subject, state, &email, Some(user.id), client).await?;
        let Verdict::Match { .. } = self.verify(password.to_owned(), user.password_hash.clone()).await?
        else {
            let detail = Some("wrong password".into());
            self.audit(refused, Some(user.id), &user.email, client, detail).await;
            self.settle_failure(subject, &counted, Some(&user), &email, client).await;
            return Err(AppError::InvalidCredentials);
        };
        // The password was right: this attempt was no failure, whatever comes next.
        self.store.write(vec![lockout::clear(subject)]).await?;
        let second_factor = match user.two_factor_enabled {
            false => None,
            true => {
                let code = code.ok_or(AppError::TotpRequired)?;
                self.limiter.hit(Rule::TwoFactorUser, &user.id.to_string()).await?;
                Some(self.check_second_factor(&user, code, client).await?.write)
            }
        };
        Ok(Owner { user, driver: current.loaded.driver, second_factor })
    }

    /// The answer when the change's transaction found the owner's code used meanwhile (a replay,
    /// or the same code in a concurrent request).
    pub async fn code_used_meanwhile(&self, user: &UserRecord, client: &Client) -> AppError {
        self.second_factor_refused(user, client).await
    }
}
