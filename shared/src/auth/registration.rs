//! Registration and email verification (API.md Auth; OWASP Authentication Cheat Sheet on
//! pre-account hijacking). An address belongs to whoever proves they read its mail:
//! - a new address gets an account awaiting verification, with one live verification link;
//! - an address whose account is still unverified gets that pending registration replaced
//!   (password, name, license): the earlier links die, and the new mail carries the only live
//!   one, so a password chosen before the mailbox owner registered never becomes active;
//! - a verified account is never changed by a registration; its owner is told instead.
//!
//! All three answer alike and cost the same store work (a read of the claim, a read of the user
//! or a decoy, one write), and none of them mails from the request: mail is queued.

use super::campus_calendar;
use super::{AuthService, Client, Registered, Registration};
use crate::domain::device::device_label;
use crate::domain::email::Email;
use crate::domain::license::License;
use crate::domain::name::parse_name;
use crate::domain::secret::{self, Secret};
use crate::error::{AppError, AppResult};
use crate::mail::jobs::{AccountRequest, Job, Resolved};
use crate::mail::templates::{self, RegistrationFacts};
use crate::rate_limit::Rule;
use crate::repo::accounts::{
    self, stamp_value, UserRecord, EMAIL_CLAIM_WRITE, EMAIL_VERIFIED, VERIFICATION_STAMP,
};
use crate::repo::drivers::{self, DriverRecord, LicenseRecord};
use crate::repo::rfc3339;
use crate::repo::tokens::{self, Purpose, TokenRecord};
use crate::store::{attrs, Cond, StoreError, Write};
use tracing::info;
use ulid::Ulid;

/// A registration as it would stand, checked and hashed, before the store is looked at.
struct Pending {
    user: UserRecord,
    driver: DriverRecord,
    token: Secret,
}

impl AuthService {
    pub async fn register(&self, input: Registration, client: &Client) -> AppResult<Registered> {
        self.limiter.hit(Rule::RegisterIp, &client.network()).await?;
        self.check_captcha(input.captcha_token.as_deref(), client).await?;
        let name = parse_name(&input.name).map_err(|e| AppError::invalid(e.to_string()))?;
        let email = Email::parse(&input.email).map_err(|e| AppError::invalid(e.to_string()))?;
        let now = self.now();
        let campus = self.campuses.for_domain(email.domain()).await?.ok_or(AppError::CampusNotSupported)?;
        let calendar = campus_calendar(&campus)?;
        let license = input
            .license
            .map(|l| License::parse(&l.legal_name, &l.number, &l.region, l.expires_on, calendar.today(now)))
            .transpose()
            .map_err(|e| AppError::InvalidLicense(e.to_string()))?
            .map(|license| self.key_ring().map(|keys| LicenseRecord::new(&license, keys)))
            .transpose()?;
        self.config
            .password
            .check(&input.password, &[email.as_str(), &name, &campus.name])
            .map_err(|e| AppError::WeakPassword(e.to_string()))?;
        // Per address too: registering someone's address again and again would mail-bomb it.
        // Counted once the request is valid, as only those queue mail.
        self.limiter.hit(Rule::RegisterEmail, email.as_str()).await?;
        // Hash before looking at the email so new and existing emails cost the same.
        let password_hash = self.hash(input.password).await?;
        let pending = Pending {
            user: UserRecord {
                id: Ulid::new(),
                email: email.to_string(),
                name,
                campus_id: campus.id.clone(),
                password_hash,
                email_verified: false,
                two_factor_enabled: false,
                created_at: now,
                verification_stamp: Some(Ulid::new()),
                password_stamp: Some(Ulid::new()),
                registered_from: Some(device_label(client.user_agent.as_deref())),
                admin: false,
            },
            driver: DriverRecord::new(&campus.id, license, &calendar),
            token: secret::new_token(),
        };

        let claim = accounts::user_id_for_email(self.store.as_ref(), &email).await?;
        // A decoy read when the address is new keeps the two paths' store work alike.
        let existing =
            accounts::user_with_driver(self.store.as_ref(), claim.unwrap_or_else(Ulid::new)).await?;
        let token = match existing {
            None => self.create_account(pending, &email).await?,
            Some((owner, _)) => self.register_again(pending, owner).await?,
        };
        Ok(Registered { dev_verification_token: token.filter(|_| self.config.dev_mode) })
    }

    /// A new account with its first verification link. Returns the token, or `None` when the
    /// address turned out to be taken meanwhile (handled as a registration of a taken address).
    async fn create_account(&self, pending: Pending, email: &Email) -> AppResult<Option<Secret>> {
        let mut writes = accounts::create_writes(&pending.user, &pending.driver);
        writes.push(self.verification_write(&pending.token, &pending.user));
        writes.push(self.mail.write(&Job::Message(self.verification_mail(&pending.user, &pending.token)))?);
        match self.store.write(writes).await {
            Ok(()) => {
                self.mail.wake();
                info!(user_id = %pending.user.id, campus = %pending.user.campus_id, "account registered");
                crate::metrics::registration();
                Ok(Some(pending.token))
            }
            Err(StoreError::ConditionFailed { index: EMAIL_CLAIM_WRITE }) => {
                let owner = match accounts::user_id_for_email(self.store.as_ref(), email).await? {
                    Some(id) => accounts::user_with_driver(self.store.as_ref(), id).await?,
                    None => None,
                };
                match owner {
                    Some((owner, _)) => self.register_again(pending, owner).await,
                    None => Err(AppError::Internal("email claim without its account".into())),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// A registration for an address that has an account: an unverified one is replaced by this
    /// registration (keeping its id), a verified one stays as it is and its owner is told.
    async fn register_again(&self, pending: Pending, owner: UserRecord) -> AppResult<Option<Secret>> {
        if owner.email_verified {
            return self.tell_owner_of_registration(&owner).await.map(|()| None);
        }
        let user = UserRecord { id: owner.id, ..pending.user };
        let replaced = attrs([
            ("passwordHash", user.password_hash.clone().into()),
            ("name", user.name.clone().into()),
            ("createdAt", rfc3339(user.created_at).into()),
            (VERIFICATION_STAMP, stamp_value(user.verification_stamp)),
            (accounts::PASSWORD_STAMP, stamp_value(user.password_stamp)),
            ("registeredFrom", user.registered_from.clone().into()),
        ]);
        let writes = vec![
            accounts::update_user_if(user.id, replaced, Cond::equals(EMAIL_VERIFIED, false)),
            drivers::overwrite(user.id, &pending.driver),
            self.verification_write(&pending.token, &user),
            self.mail.write(&Job::Message(self.verification_mail(&user, &pending.token)))?,
        ];
        match self.store.write(writes).await {
            Ok(()) => {
                self.mail.wake();
                info!(user_id = %user.id, "pending registration replaced");
                Ok(Some(pending.token))
            }
            // Verified meanwhile: from now on it is the owner's account.
            Err(StoreError::ConditionFailed { index: 0 }) => {
                self.tell_owner_of_registration(&owner).await.map(|()| None)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn tell_owner_of_registration(&self, owner: &UserRecord) -> AppResult<()> {
        info!(user_id = %owner.id, "registration for a verified account's email");
        let message = templates::already_registered(&self.config.app_url, &owner.email, &owner.name);
        // A transaction of the same shape as the other two paths (its checks always hold), so
        // its time does not tell a verified address from a new one.
        let mut writes = vec![self.mail.write(&Job::Message(message))?];
        let account =
            [accounts::email_key(&owner.email), accounts::user_key(owner.id), drivers::driver_key(owner.id)];
        writes.extend(account.into_iter().map(|key| Write::Check { key, cond: Cond::Always }));
        self.store.write(writes).await?;
        self.mail.wake();
        Ok(())
    }

    pub async fn verify_email(&self, token: &str, client: &Client) -> AppResult<()> {
        self.limiter.hit(Rule::VerifyIp, &client.network()).await?;
        let token = secret::parse_token(token).map_err(|_| AppError::InvalidToken)?;
        let record = tokens::find(self.store.as_ref(), &token, Purpose::VerifyEmail)
            .await?
            .ok_or(AppError::InvalidToken)?;
        // Only the registration this link was minted for: a newer link or registration moved
        // the stamp on.
        let verified = accounts::update_user_if(
            record.user_id,
            attrs([(EMAIL_VERIFIED, true.into())]),
            Cond::equals(VERIFICATION_STAMP, stamp_value(record.stamp)),
        );
        match self.store.write(vec![tokens::consume(&token), verified]).await {
            Ok(()) => {
                info!(user_id = %record.user_id, "email verified");
                Ok(())
            }
            Err(StoreError::ConditionFailed { .. }) => Err(AppError::InvalidToken),
            Err(e) => Err(e.into()),
        }
    }

    /// Always answers the same and costs the same: the request only queues itself; the mailer
    /// decides (`resolve_verification_resend`).
    pub async fn resend_verification(&self, email: &str, client: &Client) -> AppResult<()> {
        let limits = (Rule::ResendIp, Rule::ResendEmail);
        self.queue_account_request(AccountRequest::VerificationResend, email, client, limits).await
    }

    /// A new link for an unverified account's current registration; the previous link dies.
    pub(super) async fn resolve_verification_resend(&self, email: &Email) -> AppResult<Option<Resolved>> {
        let Some(user) = self.account_for(email).await? else { return Ok(None) };
        if user.email_verified {
            return Ok(None);
        }
        // On condition that the registration is still the one read, which the mail describes.
        let current = Cond::equals(VERIFICATION_STAMP, stamp_value(user.verification_stamp));
        let user = UserRecord { verification_stamp: Some(Ulid::new()), ..user };
        let token = secret::new_token();
        let moved = accounts::update_user_if(
            user.id,
            attrs([(VERIFICATION_STAMP, stamp_value(user.verification_stamp))]),
            current,
        );
        Ok(Some(Resolved {
            writes: vec![moved, self.verification_write(&token, &user)],
            message: self.verification_mail(&user, &token),
        }))
    }

    fn verification_write(&self, token: &Secret, user: &UserRecord) -> Write {
        let record =
            TokenRecord { purpose: Purpose::VerifyEmail, user_id: user.id, stamp: user.verification_stamp };
        tokens::put(token, &record, (self.now() + self.config.verification_ttl).unix_timestamp())
    }

    fn verification_mail(&self, user: &UserRecord, token: &Secret) -> crate::mail::Message {
        let device = user.registered_from.as_deref().unwrap_or("an unknown device");
        templates::verification(
            &self.config.app_url,
            &user.email,
            token,
            self.config.verification_ttl.whole_hours(),
            &RegistrationFacts { at: user.created_at, device },
        )
    }
}
