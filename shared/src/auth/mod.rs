//! The account use cases of API.md's Auth table: register, verify email, resend verification,
//! sign in, read the session, sign out.

pub mod hashing;
mod password;
mod two_factor;
pub mod views;

pub use password::RESET_TOKEN_LIFE;
pub use two_factor::{TotpSetup, SETUP_LIFE};

use crate::captcha::Captcha;
use crate::clock::Clock;
use crate::config::AuthConfig;
use crate::domain::email::Email;
use crate::domain::license::License;
use crate::domain::lockout as lockout_rules;
use crate::domain::name::parse_name;
use crate::domain::password::MAX_PASSWORD_CHARS;
use crate::domain::secret::{self, parse_session_token, Secret};
use crate::domain::session;
use crate::error::{AppError, AppResult};
use crate::mail::{templates, Mailer};
use crate::rate_limit::{RateLimiter, Rule};
use crate::repo::accounts::{self, Capability, DriverRecord, UserRecord, EMAIL_CLAIM_WRITE};
use crate::repo::audit::{self, AuditAction, AuditRecord};
use crate::repo::campuses::CampusDirectory;
use crate::repo::lockout;
use crate::repo::sessions::{self, SessionRecord};
use crate::repo::tokens::{self, Purpose, TokenRecord};
use crate::store::{attrs, Store, StoreError, Write};
use hashing::{PasswordHasher, Verdict};
use std::sync::Arc;
use time::{Date, OffsetDateTime};
use tracing::{info, warn};
use ulid::Ulid;
use views::{SessionListEntry, SessionView, UserView};

pub struct Registration {
    pub email: String,
    pub password: String,
    pub name: String,
    pub license: Option<LicenseInput>,
    pub captcha_token: Option<String>,
}

pub struct LicenseInput {
    pub legal_name: String,
    pub number: String,
    pub region: String,
    pub expires_on: Date,
}

pub struct SignIn {
    pub email: String,
    pub password: String,
    pub remember_me: bool,
    /// A TOTP code or a recovery code, for accounts with two-factor on.
    pub totp_code: Option<String>,
}

/// The caller as the HTTP layer sees it.
#[derive(Clone, Debug, Default)]
pub struct Client {
    pub ip: String,
    pub user_agent: Option<String>,
}

/// What a new registration hands back: the verification token, only in dev mode and only for a
/// new account (an existing email answers the same way, minus the token).
#[derive(Debug, Default)]
pub struct Registered {
    pub dev_verification_token: Option<Secret>,
}

pub struct SignedIn {
    pub user: UserView,
    /// The cookie value; it appears in no response body.
    pub token: Secret,
    pub remember_me: bool,
}

pub struct CurrentSession {
    pub user: UserView,
    pub session: SessionView,
}

/// Who the edge check let through; handed to the function behind it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EdgeIdentity {
    pub user_id: Ulid,
    pub session_id: Ulid,
}

/// A checked session: whose it is, its digest, and what was loaded with it.
struct Authenticated {
    user_id: Ulid,
    digest: String,
    loaded: sessions::Loaded,
}

pub struct AuthService {
    store: Arc<dyn Store>,
    mailer: Arc<dyn Mailer>,
    clock: Arc<dyn Clock>,
    hasher: Arc<PasswordHasher>,
    campuses: CampusDirectory,
    limiter: RateLimiter,
    captcha: Option<Arc<dyn Captcha>>,
    /// Recently checked sessions by digest, for read-only session checks (see `session`).
    session_cache: moka::sync::Cache<String, Arc<sessions::Loaded>>,
    config: AuthConfig,
}

impl AuthService {
    pub fn new(
        store: Arc<dyn Store>,
        mailer: Arc<dyn Mailer>,
        clock: Arc<dyn Clock>,
        config: AuthConfig,
    ) -> Result<Self, String> {
        Ok(AuthService {
            hasher: Arc::new(PasswordHasher::new(config.argon2)?),
            campuses: CampusDirectory::new(store.clone(), std::time::Duration::from_secs(60)),
            limiter: RateLimiter::new(store.clone(), clock.clone(), config.rate_limits.clone()),
            captcha: None,
            session_cache: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(config.session_cache_ttl)
                .build(),
            store,
            mailer,
            clock,
            config,
        })
    }

    /// Requires a solved CAPTCHA on registration.
    pub fn with_captcha(mut self, captcha: Arc<dyn Captcha>) -> Self {
        self.captcha = Some(captcha);
        self
    }

    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    fn now(&self) -> OffsetDateTime {
        // Whole seconds: stored and returned times stay tidy RFC 3339.
        let now = self.clock.now();
        now.replace_nanosecond(0).unwrap_or(now)
    }

    pub async fn register(&self, input: Registration, client: &Client) -> AppResult<Registered> {
        self.limiter.hit(Rule::RegisterIp, &client.ip).await?;
        self.check_captcha(input.captcha_token.as_deref(), client).await?;
        let name = parse_name(&input.name).map_err(|e| AppError::invalid(e.to_string()))?;
        let email = Email::parse(&input.email).map_err(|e| AppError::invalid(e.to_string()))?;
        let now = self.now();
        let license = input
            .license
            .map(|l| License::parse(&l.legal_name, &l.number, &l.region, l.expires_on, now.date()))
            .transpose()
            .map_err(|e| AppError::invalid(e.to_string()))?;
        let campus = self.campuses.for_domain(email.domain()).await?.ok_or(AppError::CampusNotSupported)?;
        self.config
            .password
            .check(&input.password, &[email.as_str(), &name, &campus.name])
            .map_err(|e| AppError::WeakPassword(e.to_string()))?;
        // Hash before looking at the email so new and existing emails cost the same.
        let password_hash = self.hash(input.password).await?;

        let user = UserRecord {
            id: Ulid::new(),
            email: email.to_string(),
            name,
            campus_id: campus.id.clone(),
            password_hash,
            email_verified: false,
            two_factor_enabled: false,
            created_at: now,
        };
        let driver = DriverRecord { capability: Capability::None, available: false, license };
        let token = secret::new_token();
        let mut writes = accounts::create_writes(&user, &driver);
        writes.push(self.verification_write(&token, user.id, now));
        match self.store.write(writes).await {
            Ok(()) => {
                info!(user_id = %user.id, campus = %campus.id, "account registered");
                self.send_verification(&user, &token).await;
                Ok(Registered { dev_verification_token: self.config.dev_mode.then_some(token) })
            }
            Err(StoreError::ConditionFailed { index: EMAIL_CLAIM_WRITE }) => {
                self.notify_existing(&email).await?;
                Ok(Registered::default())
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn verify_email(&self, token: &str, client: &Client) -> AppResult<()> {
        self.limiter.hit(Rule::VerifyIp, &client.ip).await?;
        let token = secret::parse_token(token).map_err(|_| AppError::InvalidToken)?;
        let record = tokens::find(self.store.as_ref(), &token, Purpose::VerifyEmail)
            .await?
            .ok_or(AppError::InvalidToken)?;
        let verified = accounts::update_user(record.user_id, attrs([("emailVerified", true.into())]));
        match self.store.write(vec![tokens::consume(&token), verified]).await {
            Ok(()) => {
                info!(user_id = %record.user_id, "email verified");
                Ok(())
            }
            Err(StoreError::ConditionFailed { .. }) => Err(AppError::InvalidToken),
            Err(e) => Err(e.into()),
        }
    }

    /// Always succeeds (no enumeration); mails a fresh link only to an unverified account.
    pub async fn resend_verification(&self, email: &str, client: &Client) -> AppResult<()> {
        let email = Email::parse(email).map_err(|e| AppError::invalid(e.to_string()))?;
        self.limiter.hit_both((Rule::ResendIp, &client.ip), (Rule::ResendEmail, email.as_str())).await?;
        let Some(user_id) = accounts::user_id_for_email(self.store.as_ref(), &email).await? else {
            return Ok(());
        };
        let Some((user, _)) = accounts::user_with_driver(self.store.as_ref(), user_id).await? else {
            return Ok(());
        };
        if user.email_verified {
            return Ok(());
        }
        let token = secret::new_token();
        self.store.write(vec![self.verification_write(&token, user.id, self.now())]).await?;
        self.send_verification(&user, &token).await;
        Ok(())
    }

    pub async fn sign_in(&self, input: SignIn, client: &Client) -> AppResult<SignedIn> {
        let email = Email::parse(&input.email).map_err(|e| AppError::invalid(e.to_string()))?;
        self.limiter.hit_both((Rule::SigninIp, &client.ip), (Rule::SigninEmail, email.as_str())).await?;
        // No account has a longer password; refuse before spending any hashing on it.
        if input.password.chars().count() > MAX_PASSWORD_CHARS {
            return Err(AppError::InvalidCredentials);
        }
        let (claim, lock) = lockout::claim_and_state(self.store.as_ref(), &email).await?;
        let now_secs = self.clock.epoch_seconds();
        if let Some(until) = lock.locked_until.filter(|until| *until > now_secs) {
            // Even the right password waits: the lock is on the email, not on a guess.
            self.audit(AuditAction::SignInFailed, claim, email.as_str(), client, Some("locked".into())).await;
            return Err(AppError::AccountLocked { retry_after_secs: until - now_secs });
        }
        let found = match claim {
            Some(id) => accounts::user_with_driver(self.store.as_ref(), id).await?,
            None => None,
        };
        let Some((user, driver)) = found else {
            self.burn_decoy(input.password).await?;
            self.audit(AuditAction::SignInFailed, None, email.as_str(), client, Some("unknown email".into()))
                .await;
            self.count_failure(&email, None, client).await?;
            return Err(AppError::InvalidCredentials);
        };
        let verdict = self.verify(input.password.clone(), user.password_hash.clone()).await?;
        let Verdict::Match { needs_rehash } = verdict else {
            let detail = Some("wrong password".into());
            self.audit(AuditAction::SignInFailed, Some(user.id), email.as_str(), client, detail).await;
            self.count_failure(&email, Some(&user), client).await?;
            return Err(AppError::InvalidCredentials);
        };
        if !user.email_verified {
            let detail = Some("email not verified".into());
            self.audit(AuditAction::SignInFailed, Some(user.id), email.as_str(), client, detail).await;
            return Err(AppError::EmailNotVerified);
        }
        let proof = match user.two_factor_enabled {
            true => Some(self.sign_in_second_factor(&user, input.totp_code.as_deref(), client).await?),
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
        };
        let mut writes = Vec::new();
        let recovery_code = proof.as_ref().is_some_and(|p| p.recovery_code);
        // Using up the code leads the transaction (see `SecondFactorProof`).
        writes.extend(proof.map(|p| p.write));
        writes.push(sessions::put(&token.digest(), &session));
        if lock.failures > 0 {
            writes.push(lockout::clear(&email));
        }
        if needs_rehash {
            // Legacy bcrypt (or weaker argon2) hashes are upgraded on a successful sign-in.
            let upgraded = self.hash(input.password).await?;
            writes.push(accounts::update_user(user.id, attrs([("passwordHash", upgraded.into())])));
        }
        let detail = Some(format!("session {}", session.id));
        writes.push(audit::put(&self.audit_record(
            AuditAction::SignInSucceeded,
            Some(user.id),
            email.as_str(),
            client,
            detail,
        )));
        match self.store.write(writes).await {
            Err(StoreError::ConditionFailed { index: 0 }) if user.two_factor_enabled => {
                self.second_factor_failed_at_sign_in(&user).await;
                return Err(self.second_factor_refused(&user, client).await);
            }
            other => other?,
        }
        if recovery_code {
            self.recovery_code_used(&user, client).await;
        }
        Ok(SignedIn { user: UserView::new(&user, &driver, &campus), token, remember_me: input.remember_me })
    }

    /// Fails closed: no token, a rejected one, or a verifier that is down all refuse.
    async fn check_captcha(&self, token: Option<&str>, client: &Client) -> AppResult<()> {
        let Some(captcha) = &self.captcha else { return Ok(()) };
        let token = token
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 4096)
            .ok_or(AppError::CaptchaFailed)?;
        match captcha.verify(token, &client.ip).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(AppError::CaptchaFailed),
            Err(e) => {
                warn!(error = %e, "captcha verifier failed; registration refused");
                Err(AppError::CaptchaFailed)
            }
        }
    }

    /// An audit record of `action` with its structured log line (the caller stores it, alone or
    /// inside a transaction). Never given a secret.
    fn audit_record(
        &self,
        action: AuditAction,
        user: Option<Ulid>,
        email: &str,
        client: &Client,
        detail: Option<String>,
    ) -> AuditRecord {
        let record = AuditRecord {
            id: Ulid::new(),
            action,
            user_id: user,
            email: Some(email.to_owned()),
            at: self.now(),
            ip: client.ip.clone(),
            user_agent: client.user_agent.clone(),
            detail,
        };
        info!(
            audit = action.as_str(),
            user_id = user.map(|u| u.to_string()),
            ip = %client.ip,
            detail = record.detail.as_deref(),
            "security event"
        );
        record
    }

    /// Records a security event on its own; a failed write is logged, never fatal to the request.
    async fn audit(
        &self,
        action: AuditAction,
        user: Option<Ulid>,
        email: &str,
        client: &Client,
        detail: Option<String>,
    ) {
        let record = self.audit_record(action, user, email, client, detail);
        if let Err(e) = self.store.write(vec![audit::put(&record)]).await {
            tracing::error!(audit = action.as_str(), error = %e, "audit record not stored");
        }
    }

    /// Counts a wrong password for the email; every `THRESHOLD`-th locks it and tells the owner.
    async fn count_failure(
        &self,
        email: &Email,
        owner: Option<&UserRecord>,
        client: &Client,
    ) -> AppResult<()> {
        let now = self.clock.epoch_seconds();
        let forget_at = now + lockout_rules::FAILURE_MEMORY.whole_seconds();
        let failures = lockout::record_failure(self.store.as_ref(), email, forget_at).await?;
        let Some(period) = lockout_rules::lock_after(failures) else { return Ok(()) };
        let until = now + period.whole_seconds();
        self.store
            .write(vec![lockout::lock(email, until, until + lockout_rules::FAILURE_MEMORY.whole_seconds())])
            .await?;
        let detail = Some(format!("{failures} consecutive failures, {} minutes", period.whole_minutes()));
        self.audit(AuditAction::AccountLocked, owner.map(|u| u.id), email.as_str(), client, detail).await;
        if let Some(user) = owner {
            let message = templates::account_locked(
                &self.config.app_url,
                &user.email,
                &user.name,
                period.whole_minutes(),
            );
            if let Err(e) = self.mailer.send(&message).await {
                warn!(user_id = %user.id, error = %e, "lockout notice not sent");
            }
        }
        Ok(())
    }

    /// The session behind a cookie value, sliding its expiry when it is due.
    /// Read-only, so it may be answered from this container's short-lived cache: a session
    /// revoked here is dropped from it at once; one revoked in another container is seen within
    /// `session_cache_ttl`. State-changing use cases go through `authenticate`, which always
    /// reads the store.
    pub async fn session(&self, cookie: &str) -> AppResult<CurrentSession> {
        let (_, token) = parse_session_token(cookie).map_err(|_| AppError::Unauthenticated)?;
        let now = self.now();
        // A hit due for its sliding write goes to the store instead.
        let cached = self
            .cached_session(&token.digest(), now)
            .filter(|l| !session::needs_touch(l.session.last_seen_at, now));
        let loaded = match cached {
            Some(hit) => hit,
            None => Arc::new(self.authenticate(cookie).await?.loaded),
        };
        let campus = self.user_campus(&loaded.user).await?;
        Ok(CurrentSession {
            user: UserView::new(&loaded.user, &loaded.driver, &campus),
            session: SessionView::from(&loaded.session),
        })
    }

    /// Whose live session a cookie is, without changing anything: the edge check in front of
    /// protected routes (the API Gateway authorizer, or the local server's guard). Answered from
    /// this container's cache when it can be; the handler behind still checks the store.
    pub async fn check_session(&self, cookie: &str) -> AppResult<EdgeIdentity> {
        let (user_id, token) = parse_session_token(cookie).map_err(|_| AppError::Unauthenticated)?;
        let digest = token.digest();
        let now = self.now();
        let loaded = match self.cached_session(&digest, now) {
            Some(hit) => hit,
            None => {
                let loaded = sessions::load(self.store.as_ref(), user_id, &digest)
                    .await?
                    .ok_or(AppError::Unauthenticated)?;
                self.cache_session(digest, loaded)
            }
        };
        Ok(EdgeIdentity { user_id: loaded.session.user_id, session_id: loaded.session.id })
    }

    /// A session this container checked recently and that has not expired since.
    fn cached_session(&self, digest: &str, now: OffsetDateTime) -> Option<Arc<sessions::Loaded>> {
        self.session_cache.get(digest).filter(|l| l.session.expires_at > now)
    }

    fn cache_session(&self, digest: String, loaded: sessions::Loaded) -> Arc<sessions::Loaded> {
        let loaded = Arc::new(loaded);
        if self.config.session_cache_ttl > std::time::Duration::ZERO {
            self.session_cache.insert(digest, loaded.clone());
        }
        loaded
    }

    /// The caller's sessions, newest first, the current one marked.
    pub async fn sessions(&self, cookie: &str) -> AppResult<Vec<SessionListEntry>> {
        let current = self.authenticate(cookie).await?;
        let mut all = sessions::list(self.store.as_ref(), current.user_id).await?;
        all.sort_by_key(|(_, s)| std::cmp::Reverse(s.created_at));
        Ok(all.iter().map(|(digest, s)| SessionListEntry::new(s, *digest == current.digest)).collect())
    }

    /// Revokes one of the caller's sessions by its public id (`NotFound` for anyone else's).
    /// Returns whether it was the caller's own current session.
    pub async fn revoke_session(&self, cookie: &str, id: &str, client: &Client) -> AppResult<bool> {
        let current = self.authenticate(cookie).await?;
        let all = sessions::list(self.store.as_ref(), current.user_id).await?;
        let (digest, _) = all.iter().find(|(_, s)| s.id.to_string() == id).ok_or(AppError::NotFound)?;
        self.session_cache.invalidate(digest);
        match self.store.write(vec![sessions::delete(current.user_id, digest)]).await {
            Err(StoreError::ConditionFailed { .. }) => return Err(AppError::NotFound),
            other => other?,
        }
        let email = current.loaded.user.email.clone();
        self.audit(
            AuditAction::SessionRevoked,
            Some(current.user_id),
            &email,
            client,
            Some(format!("session {id}")),
        )
        .await;
        Ok(*digest == current.digest)
    }

    /// Ends every session of the caller, this one included.
    pub async fn sign_out_everywhere(&self, cookie: &str, client: &Client) -> AppResult<()> {
        let current = self.authenticate(cookie).await?;
        let deletes = self.session_deletes(&current.loaded.user, None).await?;
        let count = deletes.len();
        self.write_in_chunks(deletes).await?;
        let (user, email) = (current.user_id, current.loaded.user.email.clone());
        self.audit(
            AuditAction::SignedOutEverywhere,
            Some(user),
            &email,
            client,
            Some(format!("{count} sessions")),
        )
        .await;
        Ok(())
    }

    /// Checks the cookie's session (any store error or absence is `Unauthenticated`) and slides
    /// its expiry when due. Every protected use case starts here, so a revoked session is refused
    /// at once.
    async fn authenticate(&self, cookie: &str) -> AppResult<Authenticated> {
        let (user_id, token) = parse_session_token(cookie).map_err(|_| AppError::Unauthenticated)?;
        let digest = token.digest();
        let mut loaded =
            sessions::load(self.store.as_ref(), user_id, &digest).await?.ok_or(AppError::Unauthenticated)?;
        let now = self.now();
        let s = &mut loaded.session;
        if session::needs_touch(s.last_seen_at, now) {
            s.last_seen_at = now;
            s.expires_at = session::expiry(s.remember_me, s.created_at, now);
            match self.store.write(vec![sessions::touch(user_id, &digest, now, s.expires_at)]).await {
                Err(StoreError::ConditionFailed { .. }) => return Err(AppError::Unauthenticated),
                other => other?,
            }
        }
        self.cache_session(digest.clone(), loaded.clone());
        Ok(Authenticated { user_id, digest, loaded })
    }

    /// Deletes the session; a second sign-out with the same cookie is `Unauthenticated`.
    pub async fn sign_out(&self, cookie: &str) -> AppResult<()> {
        let (user_id, token) = parse_session_token(cookie).map_err(|_| AppError::Unauthenticated)?;
        self.session_cache.invalidate(&token.digest());
        match self.store.write(vec![sessions::delete(user_id, &token.digest())]).await {
            Ok(()) => {
                info!(user_id = %user_id, "signed out");
                Ok(())
            }
            Err(StoreError::ConditionFailed { .. }) => Err(AppError::Unauthenticated),
            Err(e) => Err(e.into()),
        }
    }

    fn verification_write(&self, token: &Secret, user: Ulid, now: OffsetDateTime) -> Write {
        let record = TokenRecord { purpose: Purpose::VerifyEmail, user_id: user };
        tokens::put(token, &record, (now + self.config.verification_ttl).unix_timestamp())
    }

    /// A mail failure never loses the account: the user can ask for a new link.
    async fn send_verification(&self, user: &UserRecord, token: &Secret) {
        let message = templates::verification(
            &self.config.app_url,
            &user.email,
            &user.name,
            token,
            self.config.verification_ttl.whole_hours(),
        );
        if let Err(e) = self.mailer.send(&message).await {
            warn!(user_id = %user.id, error = %e, "verification mail not sent");
        }
    }

    /// Registration of a taken email: tell the owner, change nothing, answer as usual.
    async fn notify_existing(&self, email: &Email) -> AppResult<()> {
        let owner = match accounts::user_id_for_email(self.store.as_ref(), email).await? {
            Some(id) => accounts::user_with_driver(self.store.as_ref(), id).await?,
            None => None,
        };
        if let Some((user, _)) = owner {
            info!(user_id = %user.id, "registration for an existing email");
            let message = templates::already_registered(&self.config.app_url, &user.email, &user.name);
            if let Err(e) = self.mailer.send(&message).await {
                warn!(user_id = %user.id, error = %e, "already-registered mail not sent");
            }
        }
        Ok(())
    }

    async fn user_campus(&self, user: &UserRecord) -> AppResult<crate::domain::campus::Campus> {
        self.campuses.by_id(&user.campus_id).await?.ok_or_else(|| {
            AppError::Internal(format!("user {} belongs to unknown campus {}", user.id, user.campus_id))
        })
    }

    // Hashing is CPU-bound for tens of milliseconds: keep it off the async workers.
    async fn hash(&self, password: String) -> AppResult<String> {
        let hasher = self.hasher.clone();
        blocking(move || hasher.hash(&password)).await
    }

    async fn verify(&self, password: String, stored: String) -> AppResult<Verdict> {
        let hasher = self.hasher.clone();
        blocking(move || hasher.verify(&password, &stored)).await
    }

    /// Whether `password` is the user's current one (re-authentication for sensitive changes).
    async fn is_current_password(&self, user: &UserRecord, password: &str) -> AppResult<bool> {
        let verdict = self.verify(password.to_owned(), user.password_hash.clone()).await?;
        Ok(matches!(verdict, Verdict::Match { .. }))
    }

    async fn burn_decoy(&self, password: String) -> AppResult<()> {
        let hasher = self.hasher.clone();
        blocking(move || hasher.verify_decoy(&password)).await
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| AppError::Internal(format!("hashing task: {e}")))
}
