//! Rate limits as fixed windows over the store's atomic counters: one counter item per rule,
//! subject (client IP or email) and window, expiring with the window. The increment is atomic on
//! both stores, so no burst of concurrent requests gets past the limit. A fixed window lets at
//! most twice the limit through around a window boundary, which these limits allow for.

use crate::clock::Clock;
use crate::error::{AppError, AppResult};
use crate::store::{Key, Query, SkRange, Store, StoreError};
use std::collections::HashMap;
use std::sync::Arc;

/// At most `max` requests per `window_secs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    pub max: i64,
    pub window_secs: i64,
}

impl std::str::FromStr for Limit {
    type Err = String;

    /// `"10/3600"`: ten per hour.
    fn from_str(s: &str) -> Result<Self, String> {
        let (max, window) = s.split_once('/').ok_or("expected MAX/SECONDS, e.g. 10/3600")?;
        let max: i64 = max.trim().parse().map_err(|_| "MAX must be a whole number")?;
        let window_secs: i64 = window.trim().parse().map_err(|_| "SECONDS must be a whole number")?;
        if max < 1 || window_secs < 1 {
            return Err("MAX and SECONDS must be at least 1".into());
        }
        Ok(Limit { max, window_secs })
    }
}

/// What is limited, and by which subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rule {
    RegisterIp,
    RegisterEmail,
    SigninIp,
    SigninEmail,
    /// Sign-ins from one trusted device (in place of `SigninEmail`, see `auth::signin`).
    SigninDevice,
    VerifyIp,
    ResendIp,
    ResendEmail,
    ForgotIp,
    ForgotEmail,
    ResetIp,
    ChangeUser,
    TwoFactorUser,
    /// Not a limit: wrong second factors after a correct password; the `max`-th in a window
    /// mails the owner (see `RateLimiter::count`).
    TwoFactorFailureNotice,
    DriverEnable,
    DriverToggle,
    DriverUpload,
    /// Each scan is a paid OCR call.
    DriverScan,
    RidePost,
    RideJoin,
    Report,
    /// Chat messages, over WebSocket and HTTP together.
    ChatSend,
    /// Data exports: each reads everything of the user.
    AccountExport,
}

/// Whom a rule counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counted {
    Ip,
    Email,
    User,
    /// A trusted device's cookie nonce.
    Device,
}

impl Rule {
    pub const ALL: [Rule; 23] = [
        Rule::RegisterIp,
        Rule::RegisterEmail,
        Rule::SigninIp,
        Rule::SigninEmail,
        Rule::SigninDevice,
        Rule::VerifyIp,
        Rule::ResendIp,
        Rule::ResendEmail,
        Rule::ForgotIp,
        Rule::ForgotEmail,
        Rule::ResetIp,
        Rule::ChangeUser,
        Rule::TwoFactorUser,
        Rule::TwoFactorFailureNotice,
        Rule::DriverEnable,
        Rule::DriverToggle,
        Rule::DriverUpload,
        Rule::DriverScan,
        Rule::RidePost,
        Rule::RideJoin,
        Rule::Report,
        Rule::ChatSend,
        Rule::AccountExport,
    ];

    /// Also the suffix of its configuration variable (`RATE_LIMIT_SIGNIN_IP`).
    pub fn name(self) -> &'static str {
        match self {
            Rule::RegisterIp => "register_ip",
            Rule::RegisterEmail => "register_email",
            Rule::SigninIp => "signin_ip",
            Rule::SigninEmail => "signin_email",
            Rule::SigninDevice => "signin_device",
            Rule::VerifyIp => "verify_ip",
            Rule::ResendIp => "resend_ip",
            Rule::ResendEmail => "resend_email",
            Rule::ForgotIp => "forgot_ip",
            Rule::ForgotEmail => "forgot_email",
            Rule::ResetIp => "reset_ip",
            Rule::ChangeUser => "change_user",
            Rule::TwoFactorUser => "two_factor_user",
            Rule::TwoFactorFailureNotice => "two_factor_failure_notice",
            Rule::DriverEnable => "driver_enable",
            Rule::DriverToggle => "driver_toggle",
            Rule::DriverUpload => "driver_upload",
            Rule::DriverScan => "driver_scan",
            Rule::RidePost => "ride_post",
            Rule::RideJoin => "ride_join",
            Rule::Report => "report",
            Rule::ChatSend => "chat_send",
            Rule::AccountExport => "account_export",
        }
    }

    /// Whom the rule counts (the subject its counters are keyed by).
    pub fn counted(self) -> Counted {
        match self {
            Rule::RegisterIp
            | Rule::SigninIp
            | Rule::VerifyIp
            | Rule::ResendIp
            | Rule::ForgotIp
            | Rule::ResetIp => Counted::Ip,
            Rule::RegisterEmail | Rule::SigninEmail | Rule::ResendEmail | Rule::ForgotEmail => Counted::Email,
            Rule::SigninDevice => Counted::Device,
            Rule::ChangeUser
            | Rule::TwoFactorUser
            | Rule::TwoFactorFailureNotice
            | Rule::DriverEnable
            | Rule::DriverToggle
            | Rule::DriverUpload
            | Rule::DriverScan
            | Rule::RidePost
            | Rule::RideJoin
            | Rule::Report
            | Rule::ChatSend
            | Rule::AccountExport => Counted::User,
        }
    }

    /// Per-IP limits are generous because a campus network puts many people behind one address;
    /// per-email limits are tight because one person signs in a few times a day.
    pub fn default_limit(self) -> Limit {
        let (max, window_secs) = match self {
            Rule::RegisterIp => (20, 3600),
            // Each registration mails the address: a few an hour stops mail-bombing through it.
            Rule::RegisterEmail => (5, 3600),
            Rule::SigninIp => (100, 300),
            Rule::SigninEmail => (10, 900),
            Rule::SigninDevice => (10, 900),
            Rule::VerifyIp => (30, 900),
            Rule::ResendIp => (10, 3600),
            Rule::ResendEmail => (3, 3600),
            Rule::ForgotIp => (10, 3600),
            Rule::ForgotEmail => (3, 3600),
            Rule::ResetIp => (20, 900),
            // Password checks through a session (password change, two-factor setup): a stolen
            // session must not brute-force the password.
            Rule::ChangeUser => (5, 900),
            // Each guess at a 6-digit code has 3 in a million odds (three steps accepted), so 5 per
            // 15 minutes makes guessing take years; counted per account, whoever sends them.
            Rule::TwoFactorUser => (5, 900),
            Rule::TwoFactorFailureNotice => (3, 900),
            // Per user. Enabling files a review an admin must read; toggles are cheap but each
            // one is audited; every scan is a paid OCR call.
            Rule::DriverEnable => (5, 3600),
            Rule::DriverToggle => (30, 3600),
            Rule::DriverUpload => (20, 3600),
            Rule::DriverScan => (10, 3600),
            // Per user: a feed is only useful while nobody floods it; each join request mails
            // the ride's author; each report is an admin's work.
            Rule::RidePost => (10, 86_400),
            Rule::RideJoin => (30, 3600),
            Rule::Report => (10, 86_400),
            Rule::ChatSend => (30, 60),
            // Per user: an export reads everything they have; a few a day is plenty for a person.
            Rule::AccountExport => (3, 86_400),
        };
        Limit { max, window_secs }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimits(HashMap<Rule, Limit>);

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits(Rule::ALL.iter().map(|r| (*r, r.default_limit())).collect())
    }
}

impl RateLimits {
    /// Every limit out of reach: for API fuzzers and load tests against a local server only.
    pub fn lifted() -> Self {
        RateLimits(
            Rule::ALL.into_iter().map(|rule| (rule, Limit { max: i64::MAX, window_secs: 1 })).collect(),
        )
    }

    pub fn get(&self, rule: Rule) -> Limit {
        self.0.get(&rule).copied().unwrap_or_else(|| rule.default_limit())
    }

    pub fn set(&mut self, rule: Rule, limit: Limit) {
        self.0.insert(rule, limit);
    }
}

pub struct RateLimiter {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    limits: RateLimits,
}

impl RateLimiter {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, limits: RateLimits) -> Self {
        RateLimiter { store, clock, limits }
    }

    /// Counts one request of `subject` under `rule`; `RateLimited` once the window is full.
    pub async fn hit(&self, rule: Rule, subject: &str) -> AppResult<()> {
        let (count, retry_after_secs) = self.count_in_window(rule, subject).await?;
        if count > self.limits.get(rule).max {
            tracing::info!(rule = rule.name(), "rate limited");
            crate::metrics::rate_limited(rule);
            return Err(AppError::RateLimited { retry_after_secs });
        }
        Ok(())
    }

    /// Counts one event of `subject` under `rule` and returns how many its window holds, for
    /// callers that act at a threshold instead of refusing (`max` of the rule's limit).
    pub async fn count(&self, rule: Rule, subject: &str) -> AppResult<i64> {
        Ok(self.count_in_window(rule, subject).await?.0)
    }

    /// The limit a rule has here (defaults, or as configured).
    pub fn limit(&self, rule: Rule) -> Limit {
        self.limits.get(rule)
    }

    /// The window's count after this event, and the seconds until the window ends.
    async fn count_in_window(&self, rule: Rule, subject: &str) -> AppResult<(i64, i64)> {
        let limit = self.limits.get(rule);
        let now = self.clock.epoch_seconds();
        let window = now.div_euclid(limit.window_secs);
        let window_end = (window + 1) * limit.window_secs;
        let key = Key::new(counter_partition(rule, subject), format!("W#{window}"));
        let count = self.store.increment(&key, "count", 1, window_end).await?;
        Ok((count, (window_end - now).max(1)))
    }

    /// Two limits at once (e.g. per IP and per email): the counters are separate items, so the
    /// two increments run concurrently and cost one round trip of latency. Both always count
    /// (neither is cut short by the other's refusal).
    pub async fn hit_both(&self, a: (Rule, &str), b: (Rule, &str)) -> AppResult<()> {
        let (first, second) = tokio::join!(self.hit(a.0, a.1), self.hit(b.0, b.1));
        first.and(second)
    }
}

fn counter_partition(rule: Rule, subject: &str) -> String {
    format!("RATE#{}#{subject}", rule.name())
}

/// The keys of the live counters that count `subject` under every rule of that kind of subject
/// (an account's deletion removes those of its email and its id).
pub async fn counters_of(store: &dyn Store, counted: Counted, subject: &str) -> Result<Vec<Key>, StoreError> {
    let rules = Rule::ALL.into_iter().filter(|rule| rule.counted() == counted);
    let queries = rules.map(|rule| {
        crate::repo::query_all(
            store,
            Query::new(counter_partition(rule, subject), SkRange::Prefix("W#".into())),
        )
    });
    let found = futures::future::try_join_all(queries).await?;
    Ok(found.into_iter().flatten().map(|item| item.key).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_limits() {
        assert_eq!("10/3600".parse::<Limit>(), Ok(Limit { max: 10, window_secs: 3600 }));
        assert!("10".parse::<Limit>().is_err());
        assert!("0/60".parse::<Limit>().is_err());
        assert!("ten/60".parse::<Limit>().is_err());
    }
}
