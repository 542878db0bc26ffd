//! Configuration, read once at cold start. A missing or malformed variable stops the process
//! with a message naming it, instead of failing on the first request.

use crate::auth::hashing::Argon2Params;
use crate::captcha::{CaptchaConfig, TURNSTILE_VERIFY_URL};
use crate::domain::account::RESPONSE_LIMIT_BYTES;
use crate::domain::password::{PasswordPolicy, DEFAULT_MIN_SCORE};
use crate::domain::secret::Secret;
use crate::rate_limit::{RateLimits, Rule};
use crate::seal::KeyRing;
use std::str::FromStr;
use time::Duration;

/// What the auth use cases need, whatever the deployment.
#[derive(Clone, Debug)]
pub struct AuthConfig {
    /// The frontend's origin, used in email links (never taken from a request's Host header).
    pub app_url: String,
    /// Dev mode adds `devVerificationToken` to register responses. Never on in production.
    pub dev_mode: bool,
    pub argon2: Argon2Params,
    pub password: PasswordPolicy,
    /// Life of an email verification token: 24 to 48 hours.
    pub verification_ttl: Duration,
    pub rate_limits: RateLimits,
    /// Browser origins allowed to call the API with credentials (CORS) and to change state
    /// (CSRF check). The app URL's origin by default.
    pub allowed_origins: Vec<String>,
    /// CAPTCHA on registration; off when `None` (local mode unless configured).
    pub captcha: Option<CaptchaConfig>,
    /// How long a container may answer `GET /api/auth/session` from memory (0 turns it off).
    /// State-changing requests always read the store.
    pub session_cache_ttl: std::time::Duration,
    /// The server's key ring: seals secrets at rest (TOTP keys, queued mail) and signs device
    /// cookies. Every function but the authorizer refuses to start without it.
    pub key_ring: Option<KeyRing>,
    /// The largest data export answered in the response itself; a larger one is a link (Lambda's
    /// limit in production; tests lower it to see links).
    pub export_answer_limit: u64,
}

impl AuthConfig {
    /// Defaults for local runs and tests.
    pub fn local(app_url: impl Into<String>) -> Self {
        let app_url: String = app_url.into();
        AuthConfig {
            allowed_origins: vec![app_url.clone()],
            captcha: None,
            session_cache_ttl: std::time::Duration::from_secs(10),
            key_ring: Some(KeyRing::generate("local").0),
            app_url,
            dev_mode: true,
            argon2: Argon2Params::default(),
            password: PasswordPolicy::default(),
            verification_ttl: Duration::hours(24),
            rate_limits: RateLimits::default(),
            export_answer_limit: RESPONSE_LIMIT_BYTES,
        }
    }
}

/// Everything a Lambda function reads from its environment.
#[derive(Clone, Debug)]
pub struct LambdaConfig {
    pub auth: AuthConfig,
    pub table: String,
    pub mail_from: String,
    pub ses_configuration_set: Option<String>,
    /// The private bucket of license photos (driver and admin functions).
    pub license_bucket: Option<String>,
    /// The WebSocket API stage's management endpoint
    /// (`https://<api>.execute-api.<region>.amazonaws.com/<stage>`).
    pub websocket_endpoint: String,
    /// The value the stack's CloudFront distribution sends in `X-Origin-Verify`: requests that
    /// carry it came through CloudFront, whose `CloudFront-Viewer-Address` names the client.
    pub edge_secret: Option<Secret>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("configuration variable {var}: {problem}")]
pub struct ConfigError {
    pub var: &'static str,
    pub problem: String,
}

impl LambdaConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(&get);
        let app_url = env.url("APP_URL")?;
        let allowed_origins = match env.optional("ALLOWED_ORIGINS") {
            Some(list) => list.split(',').map(|o| o.trim().to_owned()).filter(|o| !o.is_empty()).collect(),
            None => vec![app_url.clone()],
        };
        Ok(LambdaConfig {
            auth: AuthConfig {
                app_url,
                allowed_origins,
                session_cache_ttl: std::time::Duration::from_secs(env.ranged(
                    "SESSION_CACHE_SECONDS",
                    10,
                    0..=60,
                )?),
                captcha: match env.optional("CAPTCHA_SECRET") {
                    None => None,
                    Some(secret) => Some(CaptchaConfig {
                        verify_url: env
                            .optional("CAPTCHA_VERIFY_URL")
                            .unwrap_or_else(|| TURNSTILE_VERIFY_URL.into()),
                        secret,
                        timeout: std::time::Duration::from_millis(env.ranged(
                            "CAPTCHA_TIMEOUT_MS",
                            3000,
                            100..=10_000,
                        )?),
                    }),
                },
                key_ring: env
                    .optional("KEY_RING")
                    .map(|spec| {
                        KeyRing::parse(&spec).map_err(|problem| ConfigError { var: "KEY_RING", problem })
                    })
                    .transpose()?,
                dev_mode: env.parsed("DEV_MODE", false)?,
                argon2: Argon2Params {
                    memory_kib: env.parsed("ARGON2_MEMORY_KIB", Argon2Params::default().memory_kib)?,
                    iterations: env.parsed("ARGON2_ITERATIONS", Argon2Params::default().iterations)?,
                    parallelism: env.parsed("ARGON2_PARALLELISM", Argon2Params::default().parallelism)?,
                },
                password: PasswordPolicy {
                    min_score: env.ranged("PASSWORD_MIN_SCORE", DEFAULT_MIN_SCORE, 2..=4)?,
                },
                verification_ttl: Duration::hours(env.ranged("VERIFICATION_TTL_HOURS", 24, 24..=48)?),
                rate_limits: env.rate_limits()?,
                export_answer_limit: RESPONSE_LIMIT_BYTES,
            },
            table: env.required("CARPOOL_TABLE")?,
            mail_from: env.required("MAIL_FROM")?,
            ses_configuration_set: env.optional("SES_CONFIGURATION_SET"),
            license_bucket: env.optional("LICENSE_BUCKET"),
            websocket_endpoint: env.required("WEBSOCKET_ENDPOINT")?,
            edge_secret: env.optional("EDGE_SECRET").map(Secret::from),
        })
    }
}

impl LambdaConfig {
    /// Refuses a configuration without what a function needs beyond the common variables.
    pub fn require(&self, key_ring: bool, license_bucket: bool) -> Result<(), String> {
        if key_ring && self.auth.key_ring.is_none() {
            return Err("configuration variable KEY_RING: is required by this function".into());
        }
        if license_bucket && self.license_bucket.is_none() {
            return Err("configuration variable LICENSE_BUCKET: is required by this function".into());
        }
        Ok(())
    }
}

/// The rate limits `RATE_LIMIT_<RULE>` variables of the process set (the local server reads
/// them too, e.g. to lift them for an API fuzzer).
pub fn rate_limits_from_env() -> Result<RateLimits, ConfigError> {
    Env(&|k: &str| std::env::var(k).ok()).rate_limits()
}

struct Env<'a, F: Fn(&str) -> Option<String>>(&'a F);

impl<F: Fn(&str) -> Option<String>> Env<'_, F> {
    fn optional(&self, var: &'static str) -> Option<String> {
        (self.0)(var).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    fn required(&self, var: &'static str) -> Result<String, ConfigError> {
        self.optional(var).ok_or(ConfigError { var, problem: "is required but not set".into() })
    }

    fn url(&self, var: &'static str) -> Result<String, ConfigError> {
        let v = self.required(var)?;
        if !(v.starts_with("https://") || v.starts_with("http://")) || v.contains(char::is_whitespace) {
            return Err(ConfigError { var, problem: format!("{v:?} is not an http(s) URL") });
        }
        Ok(v.trim_end_matches('/').to_owned())
    }

    fn parsed<T: FromStr>(&self, var: &'static str, default: T) -> Result<T, ConfigError> {
        match self.optional(var) {
            None => Ok(default),
            Some(v) => {
                v.parse().map_err(|_| ConfigError { var, problem: format!("{v:?} is not a valid value") })
            }
        }
    }

    /// `RATE_LIMIT_<RULE>=MAX/SECONDS` overrides a rule's default, e.g. `RATE_LIMIT_SIGNIN_IP=100/300`.
    fn rate_limits(&self) -> Result<RateLimits, ConfigError> {
        let mut limits = RateLimits::default();
        for rule in Rule::ALL {
            let var: &'static str = match rule {
                Rule::RegisterIp => "RATE_LIMIT_REGISTER_IP",
                Rule::RegisterEmail => "RATE_LIMIT_REGISTER_EMAIL",
                Rule::SigninIp => "RATE_LIMIT_SIGNIN_IP",
                Rule::SigninEmail => "RATE_LIMIT_SIGNIN_EMAIL",
                Rule::SigninDevice => "RATE_LIMIT_SIGNIN_DEVICE",
                Rule::VerifyIp => "RATE_LIMIT_VERIFY_IP",
                Rule::ResendIp => "RATE_LIMIT_RESEND_IP",
                Rule::ResendEmail => "RATE_LIMIT_RESEND_EMAIL",
                Rule::ForgotIp => "RATE_LIMIT_FORGOT_IP",
                Rule::ForgotEmail => "RATE_LIMIT_FORGOT_EMAIL",
                Rule::ResetIp => "RATE_LIMIT_RESET_IP",
                Rule::ChangeUser => "RATE_LIMIT_CHANGE_USER",
                Rule::TwoFactorUser => "RATE_LIMIT_TWO_FACTOR_USER",
                Rule::TwoFactorFailureNotice => "RATE_LIMIT_TWO_FACTOR_FAILURE_NOTICE",
                Rule::DriverEnable => "RATE_LIMIT_DRIVER_ENABLE",
                Rule::DriverToggle => "RATE_LIMIT_DRIVER_TOGGLE",
                Rule::DriverUpload => "RATE_LIMIT_DRIVER_UPLOAD",
                Rule::DriverScan => "RATE_LIMIT_DRIVER_SCAN",
                Rule::RidePost => "RATE_LIMIT_RIDE_POST",
                Rule::RideJoin => "RATE_LIMIT_RIDE_JOIN",
                Rule::Report => "RATE_LIMIT_REPORT",
                Rule::ChatSend => "RATE_LIMIT_CHAT_SEND",
                Rule::AccountExport => "RATE_LIMIT_ACCOUNT_EXPORT",
            };
            if let Some(v) = self.optional(var) {
                limits.set(rule, v.parse().map_err(|problem| ConfigError { var, problem })?);
            }
        }
        Ok(limits)
    }

    fn ranged<T: FromStr + PartialOrd + std::fmt::Display + Copy>(
        &self,
        var: &'static str,
        default: T,
        range: std::ops::RangeInclusive<T>,
    ) -> Result<T, ConfigError> {
        let v = self.parsed(var, default)?;
        if !range.contains(&v) {
            return Err(ConfigError {
                var,
                problem: format!("{v} is outside {}..={}", range.start(), range.end()),
            });
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    const BASE: [(&str, &str); 4] = [
        ("APP_URL", "https://carpool.example.edu/"),
        ("CARPOOL_TABLE", "carpool"),
        ("MAIL_FROM", "no-reply@example.edu"),
        ("WEBSOCKET_ENDPOINT", "https://abc123.execute-api.eu-west-1.amazonaws.com/prod"),
    ];

    #[test]
    fn defaults_are_production_safe() {
        let c = LambdaConfig::from_lookup(lookup(&BASE)).unwrap();
        assert!(!c.auth.dev_mode);
        assert_eq!(c.auth.app_url, "https://carpool.example.edu");
        assert_eq!(c.auth.argon2, Argon2Params::default());
        assert_eq!(c.auth.verification_ttl, Duration::hours(24));
        assert_eq!(c.ses_configuration_set, None);
        assert_eq!(c.auth.allowed_origins, ["https://carpool.example.edu"]);
    }

    #[test]
    fn names_the_missing_variable() {
        let err = LambdaConfig::from_lookup(lookup(&BASE[..2])).unwrap_err();
        assert_eq!(err.var, "MAIL_FROM");
        assert!(err.to_string().contains("MAIL_FROM"));
    }

    #[test]
    fn rejects_out_of_range_values() {
        let mut pairs = BASE.to_vec();
        pairs.push(("VERIFICATION_TTL_HOURS", "72"));
        assert_eq!(LambdaConfig::from_lookup(lookup(&pairs)).unwrap_err().var, "VERIFICATION_TTL_HOURS");
        let mut pairs = BASE.to_vec();
        pairs.push(("DEV_MODE", "yes please"));
        assert_eq!(LambdaConfig::from_lookup(lookup(&pairs)).unwrap_err().var, "DEV_MODE");
        let mut pairs = BASE.to_vec();
        pairs.push(("RATE_LIMIT_SIGNIN_IP", "lots"));
        assert_eq!(LambdaConfig::from_lookup(lookup(&pairs)).unwrap_err().var, "RATE_LIMIT_SIGNIN_IP");
    }

    #[test]
    fn key_ring_is_optional_but_checked() {
        assert!(LambdaConfig::from_lookup(lookup(&BASE)).unwrap().auth.key_ring.is_none());
        let mut pairs = BASE.to_vec();
        pairs.push(("KEY_RING", "k1:not-a-key"));
        let err = LambdaConfig::from_lookup(lookup(&pairs)).unwrap_err();
        assert_eq!(err.var, "KEY_RING");
        assert!(!err.to_string().contains("not-a-key"), "key material stays out of messages");
        let (_, spec) = KeyRing::generate("k1");
        let mut pairs = BASE.to_vec();
        pairs.push(("KEY_RING", &spec));
        assert!(LambdaConfig::from_lookup(lookup(&pairs)).unwrap().auth.key_ring.is_some());
    }

    #[test]
    fn every_rate_limit_rule_can_be_tuned() {
        for rule in Rule::ALL {
            let var = format!("RATE_LIMIT_{}", rule.name().to_uppercase());
            let mut pairs = BASE.to_vec();
            pairs.push((&var, "7/70"));
            let limits = LambdaConfig::from_lookup(lookup(&pairs)).unwrap().auth.rate_limits;
            assert_eq!(limits.get(rule), crate::rate_limit::Limit { max: 7, window_secs: 70 }, "{var}");
        }
    }

    #[test]
    fn rate_limits_can_be_tuned() {
        let mut pairs = BASE.to_vec();
        pairs.push(("RATE_LIMIT_SIGNIN_IP", "500/60"));
        let limits = LambdaConfig::from_lookup(lookup(&pairs)).unwrap().auth.rate_limits;
        assert_eq!(limits.get(Rule::SigninIp), crate::rate_limit::Limit { max: 500, window_secs: 60 });
        assert_eq!(limits.get(Rule::RegisterIp), Rule::RegisterIp.default_limit());
    }
}
