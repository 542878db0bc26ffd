//! The account use cases of API.md's Auth table: register, verify email, resend verification,
//! sign in, read the session, sign out.

pub mod hashing;
mod owner;
mod password;
mod registration;
mod signin;
mod two_factor;
pub mod views;

pub use owner::Owner;
pub use password::RESET_TOKEN_LIFE;
pub use two_factor::{TotpSetup, SETUP_LIFE};

use crate::captcha::Captcha;
use crate::clock::Clock;
use crate::config::AuthConfig;
use crate::domain::calendar::Calendar;
use crate::domain::email::Email;
use crate::domain::secret::{parse_session_token, Secret};
use crate::domain::session;
use crate::error::{AppError, AppResult};
use crate::mail::jobs::{AccountRequest, AccountRequests, Job, MailQueue, Resolved};
use crate::mail::Message;
use crate::push::Pusher;
use crate::rate_limit::{RateLimiter, Rule};
use crate::repo::accounts::{self, UserRecord};
use crate::repo::audit::{self, AuditAction, AuditRecord};
use crate::repo::campuses::CampusDirectory;
use crate::repo::{connections, sessions};
use crate::store::{Store, StoreError};
use hashing::{HashingPool, PasswordHasher, Verdict};
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
    /// The browser's device cookie, if it sent one.
    pub device: Option<String>,
}

/// The caller as the HTTP layer sees it.
#[derive(Clone, Debug, Default)]
pub struct Client {
    pub ip: String,
    pub user_agent: Option<String>,
}

impl Client {
    /// An operator's command (`carpool-admin`), as audit records name it.
    pub fn operator() -> Client {
        Client { ip: "operator".into(), user_agent: Some("carpool-admin".into()) }
    }

    /// Whom per-IP limits count: the address, or for IPv6 its /64, which one subscriber holds
    /// whole (counted by address, it would be 2^64 clients). Audit records keep the address.
    pub fn network(&self) -> String {
        match self.ip.parse::<std::net::IpAddr>().map(|ip| ip.to_canonical()) {
            Ok(std::net::IpAddr::V6(ip)) => {
                let prefix = u128::from(ip) & !(u128::MAX >> 64);
                format!("{}/64", std::net::Ipv6Addr::from(prefix))
            }
            Ok(ip) => ip.to_string(),
            Err(_) => self.ip.clone(),
        }
    }
}

/// What a new registration hands back: the verification token, only in dev mode and only for a
/// new account (an existing email answers the same way, minus the token).
#[derive(Debug, Default)]
pub struct Registered {
    pub dev_verification_token: Option<Secret>,
}

/// The signed-in user of a request, their driver profile (as read from the store) and their
/// campus, at the clock's now (whole seconds).
pub struct Caller {
    pub user: UserRecord,
    pub driver: crate::repo::drivers::DriverRecord,
    pub campus: crate::domain::campus::Campus,
    pub calendar: Calendar,
    pub now: OffsetDateTime,
}

impl Caller {
    /// The campus's date.
    pub fn today(&self) -> time::Date {
        self.calendar.today(self.now)
    }
}

pub struct SignedIn {
    pub user: UserView,
    /// The cookie value; it appears in no response body.
    pub token: Secret,
    pub remember_me: bool,
    /// A new device cookie for this browser (see `signin`).
    pub device_cookie: String,
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
    /// Mail is queued, never sent from a request (see `crate::mail::jobs`).
    mail: MailQueue,
    clock: Arc<dyn Clock>,
    hasher: Arc<PasswordHasher>,
    hashing: HashingPool,
    campuses: CampusDirectory,
    limiter: RateLimiter,
    captcha: Option<Arc<dyn Captcha>>,
    /// Closes a user's WebSocket connections when all their sessions end (none: no sockets).
    sockets: Option<Arc<dyn Pusher>>,
    /// Recently checked sessions by digest, for read-only session checks (see `session`).
    session_cache: moka::sync::Cache<String, Arc<sessions::Loaded>>,
    config: AuthConfig,
}

impl AuthService {
    pub fn new(
        store: Arc<dyn Store>,
        mail: MailQueue,
        clock: Arc<dyn Clock>,
        config: AuthConfig,
    ) -> Result<Self, String> {
        Ok(AuthService {
            hasher: Arc::new(PasswordHasher::new(config.argon2)?),
            hashing: HashingPool::sized_to_cores(),
            campuses: CampusDirectory::new(store.clone(), std::time::Duration::from_secs(60)),
            limiter: RateLimiter::new(store.clone(), clock.clone(), config.rate_limits.clone()),
            captcha: None,
            sockets: None,
            session_cache: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(config.session_cache_ttl)
                .build(),
            store,
            mail,
            clock,
            config,
        })
    }

    /// Requires a solved CAPTCHA on registration.
    pub fn with_captcha(mut self, captcha: Arc<dyn Captcha>) -> Self {
        self.captcha = Some(captcha);
        self
    }

    /// Closes the WebSocket connections of whoever signs out everywhere.
    pub fn with_sockets(mut self, pusher: Arc<dyn Pusher>) -> Self {
        self.sockets = Some(pusher);
        self
    }

    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    fn now(&self) -> OffsetDateTime {
        // Whole seconds: stored and returned times stay tidy RFC 3339.
        let now = self.clock.now();
        now.replace_nanosecond(0).unwrap_or(now)
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
    pub(crate) fn audit_record(
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
            email_digest: None,
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
    pub(crate) async fn audit(
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
        crate::telemetry::identify(loaded.user.id);
        let campus = self.user_campus(&loaded.user).await?;
        let today = campus_calendar(&campus)?.today(now);
        Ok(CurrentSession {
            user: UserView::new(&loaded.user, &loaded.driver, &campus, today),
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

    /// Drops a session from this container's cache (its account is gone).
    pub(crate) fn forget_cached_session(&self, digest: &str) {
        self.session_cache.invalidate(digest);
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
        self.sessions_of(&current.loaded.user, Some(current.digest.as_str())).await
    }

    /// The user's live sessions, newest first; `current` (a digest) marks the caller's own.
    async fn sessions_of(
        &self,
        user: &UserRecord,
        current: Option<&str>,
    ) -> AppResult<Vec<SessionListEntry>> {
        let mut all = sessions::list(self.store.as_ref(), user.id).await?;
        all.retain(|(_, s)| s.outlived_by(user));
        all.sort_by_key(|(_, s)| std::cmp::Reverse(s.created_at));
        Ok(all.iter().map(|(digest, s)| SessionListEntry::new(s, Some(digest.as_str()) == current)).collect())
    }

    /// The account with this address and its sessions, as an operator sees them (no session of
    /// theirs, verified or not); `None` when no account has it.
    pub(crate) async fn operator_view(
        &self,
        email: &Email,
    ) -> AppResult<Option<(Caller, Vec<SessionListEntry>)>> {
        let store = self.store.as_ref();
        let Some(id) = accounts::user_id_for_email(store, email).await? else { return Ok(None) };
        let Some((user, driver)) = accounts::user_with_driver(store, id).await? else { return Ok(None) };
        let sessions = self.sessions_of(&user, None).await?;
        let campus = self.user_campus(&user).await?;
        let calendar = campus_calendar(&campus)?;
        Ok(Some((Caller { user, driver, campus, calendar, now: self.now() }, sessions)))
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
        self.close_connections(current.user_id, |session| session == digest).await;
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

    /// The user behind a session cookie, with their driver profile, as the store holds them now
    /// (for the use cases of other areas). API.md: every such route needs a verified email.
    pub async fn signed_in_user(
        &self,
        cookie: &str,
    ) -> AppResult<(UserRecord, crate::repo::drivers::DriverRecord)> {
        let current = self.authenticate(cookie).await?;
        if !current.loaded.user.email_verified {
            return Err(AppError::EmailNotVerified);
        }
        Ok((current.loaded.user, current.loaded.driver))
    }

    /// Ends every session of the caller, this one included.
    pub async fn sign_out_everywhere(&self, cookie: &str, client: &Client) -> AppResult<()> {
        let current = self.authenticate(cookie).await?;
        let deletes = self.session_deletes(&current.loaded.user, None).await?;
        let count = deletes.len();
        self.write_in_chunks(deletes).await?;
        let (user, email) = (current.user_id, current.loaded.user.email.clone());
        self.close_connections(user, |_| true).await;
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

    /// Closes the user's WebSocket connections opened under the sessions that `ended` (their
    /// frames would be refused anyway; this also stops deliveries to them at once). A failure
    /// leaves that to the connection's next frame.
    pub(super) async fn close_connections(&self, user: Ulid, ended: impl Fn(&str) -> bool) {
        let Some(pusher) = &self.sockets else { return };
        let open = match connections::of_user(self.store.as_ref(), user).await {
            Ok(open) => open,
            Err(e) => return warn!(user_id = %user, error = %e, "connections not read"),
        };
        for connection in open.iter().filter(|c| ended(&c.session)) {
            let id = &connection.id;
            if let Err(e) = pusher.close(id).await {
                warn!(user_id = %user, connection = %id, error = %e, "connection not closed");
            }
            if let Err(e) = self.store.write(connections::delete(user, id)).await {
                warn!(user_id = %user, connection = %id, error = %e, "connection not forgotten");
            }
        }
    }

    /// Checks the cookie's session (any store error or absence is `Unauthenticated`) and slides
    /// its expiry when due. Every protected use case starts here, so a revoked session is refused
    /// at once.
    async fn authenticate(&self, cookie: &str) -> AppResult<Authenticated> {
        let (user_id, token) = parse_session_token(cookie).map_err(|_| AppError::Unauthenticated)?;
        self.authenticate_session(user_id, token.digest()).await
    }

    /// `authenticate` for a session known by its digest (a WebSocket connection's).
    async fn authenticate_session(&self, user_id: Ulid, digest: String) -> AppResult<Authenticated> {
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
        crate::telemetry::identify(user_id);
        Ok(Authenticated { user_id, digest, loaded })
    }

    /// Deletes the session; a second sign-out with the same cookie is `Unauthenticated`.
    pub async fn sign_out(&self, cookie: &str) -> AppResult<()> {
        let (user_id, token) = parse_session_token(cookie).map_err(|_| AppError::Unauthenticated)?;
        self.session_cache.invalidate(&token.digest());
        let digest = token.digest();
        match self.store.write(vec![sessions::delete(user_id, &digest)]).await {
            Ok(()) => {
                info!(user_id = %user_id, "signed out");
                self.close_connections(user_id, |session| session == digest).await;
                Ok(())
            }
            Err(StoreError::ConditionFailed { .. }) => Err(AppError::Unauthenticated),
            Err(e) => Err(e.into()),
        }
    }

    /// Queues a notice about something already done: a failure to queue is logged, never
    /// returned (the change it reports stands).
    async fn queue_mail(&self, user: &UserRecord, message: Message) {
        let queued = match self.mail.write(&Job::Message(message)) {
            Ok(write) => self.store.write(vec![write]).await.map_err(AppError::from),
            Err(e) => Err(e),
        };
        match queued {
            Ok(()) => self.mail.wake(),
            Err(e) => tracing::error!(user_id = %user.id, error = %e, "notice not queued"),
        }
    }

    /// Takes a request whose mail depends on the account behind `email` (see
    /// `AccountRequests`): limited per IP and per address, then queued, the same work whoever asks.
    async fn queue_account_request(
        &self,
        request: AccountRequest,
        email: &str,
        client: &Client,
        (per_ip, per_email): (Rule, Rule),
    ) -> AppResult<()> {
        let email = Email::parse(email).map_err(|e| AppError::invalid(e.to_string()))?;
        self.limiter.hit_both((per_ip, &client.network()), (per_email, email.as_str())).await?;
        let job = Job::AccountRequest { request, email: email.to_string() };
        self.store.write(vec![self.mail.write(&job)?]).await?;
        self.mail.wake();
        Ok(())
    }

    /// The account registered under `email`, if any.
    async fn account_for(&self, email: &Email) -> AppResult<Option<UserRecord>> {
        let Some(id) = accounts::user_id_for_email(self.store.as_ref(), email).await? else {
            return Ok(None);
        };
        Ok(accounts::user_with_driver(self.store.as_ref(), id).await?.map(|(user, _)| user))
    }

    /// The campuses, cached for this container; other areas share the one cache.
    /// The signed-in, verified user behind `cookie`, with their driver profile and campus.
    pub async fn caller(&self, cookie: &str) -> AppResult<Caller> {
        Ok(self.caller_and_session(cookie).await?.0)
    }

    /// `caller`, with the digest that names the session (not its token): a WebSocket connection
    /// keeps it, and each of its frames is checked against the session again.
    pub async fn caller_and_session(&self, cookie: &str) -> AppResult<(Caller, String)> {
        let current = self.authenticate(cookie).await?;
        let digest = current.digest.clone();
        Ok((self.verified_caller(current).await?, digest))
    }

    /// The caller behind a session known by its digest, as long as it is live.
    pub async fn session_caller(&self, user_id: Ulid, digest: &str) -> AppResult<Caller> {
        let current = self.authenticate_session(user_id, digest.to_owned()).await?;
        self.verified_caller(current).await
    }

    async fn verified_caller(&self, current: Authenticated) -> AppResult<Caller> {
        let sessions::Loaded { user, driver, .. } = current.loaded;
        if !user.email_verified {
            return Err(AppError::EmailNotVerified);
        }
        let campus = self.user_campus(&user).await?;
        let calendar = campus_calendar(&campus)?;
        Ok(Caller { user, driver, campus, calendar, now: self.now() })
    }

    pub(crate) fn campuses(&self) -> &CampusDirectory {
        &self.campuses
    }

    pub(crate) async fn user_campus(&self, user: &UserRecord) -> AppResult<crate::domain::campus::Campus> {
        self.campuses.by_id(&user.campus_id).await?.ok_or_else(|| {
            AppError::Internal(format!("user {} belongs to unknown campus {}", user.id, user.campus_id))
        })
    }

    // Hashing is CPU-bound for tens of milliseconds: off the async workers, a core at a time.
    async fn hash(&self, password: String) -> AppResult<String> {
        let hasher = self.hasher.clone();
        self.hashing.run(move || hasher.hash(&password)).await.map_err(AppError::Internal)
    }

    async fn verify(&self, password: String, stored: String) -> AppResult<Verdict> {
        let hasher = self.hasher.clone();
        self.hashing.run(move || hasher.verify(&password, &stored)).await.map_err(AppError::Internal)
    }

    /// Whether `password` is the user's current one (re-authentication for sensitive changes).
    async fn is_current_password(&self, user: &UserRecord, password: &str) -> AppResult<bool> {
        let verdict = self.verify(password.to_owned(), user.password_hash.clone()).await?;
        Ok(matches!(verdict, Verdict::Match { .. }))
    }

    async fn burn_decoy(&self, password: String) -> AppResult<()> {
        let hasher = self.hasher.clone();
        self.hashing.run(move || hasher.verify_decoy(&password)).await.map_err(AppError::Internal)
    }
}

/// The calendar of a campus (its zone was checked when the campus was configured).
pub(crate) fn campus_calendar(campus: &crate::domain::campus::Campus) -> AppResult<Calendar> {
    Calendar::new(&campus.time_zone).map_err(|e| AppError::Internal(format!("campus {}: {e}", campus.id)))
}

#[async_trait::async_trait]
impl AccountRequests for AuthService {
    async fn resolve(&self, request: AccountRequest, email: &str) -> AppResult<Option<Resolved>> {
        let email = Email::parse(email).map_err(|e| AppError::Internal(format!("queued email: {e}")))?;
        match request {
            AccountRequest::PasswordReset => self.resolve_password_reset(&email).await,
            AccountRequest::VerificationResend => self.resolve_verification_resend(&email).await,
        }
    }
}
