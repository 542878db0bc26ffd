//! CAPTCHA on registration: a port, and the siteverify adapter that Cloudflare Turnstile and
//! hCaptcha share (`POST secret, response, remoteip` -> `{"success": bool}`). Registration fails
//! closed: no token, a rejected token, or a verifier that is down or slow all refuse it.

use async_trait::async_trait;
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
#[error("captcha verification unavailable: {0}")]
pub struct CaptchaError(pub String);

#[async_trait]
pub trait Captcha: Send + Sync + 'static {
    /// Whether the verifier accepts the token the client solved.
    async fn verify(&self, token: &str, client_ip: &str) -> Result<bool, CaptchaError>;
}

/// Where and how to verify (production: the provider's siteverify URL and the secret key).
#[derive(Clone)]
pub struct CaptchaConfig {
    pub verify_url: String,
    pub secret: String,
    pub timeout: Duration,
}

/// The secret never reaches a log, even through a debug print of the configuration.
impl std::fmt::Debug for CaptchaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptchaConfig")
            .field("verify_url", &self.verify_url)
            .field("secret", &"<redacted>")
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Cloudflare Turnstile's endpoint; hCaptcha's is `https://api.hcaptcha.com/siteverify`.
pub const TURNSTILE_VERIFY_URL: &str = "https://challenges.cloudflare.com/turnstile/v0/siteverify";

pub struct SiteVerify {
    client: reqwest::Client,
    config: CaptchaConfig,
}

impl SiteVerify {
    pub fn new(config: CaptchaConfig) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| format!("captcha HTTP client: {e}"))?;
        Ok(SiteVerify { client, config })
    }
}

#[derive(Deserialize)]
struct Verdict {
    success: bool,
}

#[async_trait]
impl Captcha for SiteVerify {
    async fn verify(&self, token: &str, client_ip: &str) -> Result<bool, CaptchaError> {
        let form = [("secret", self.config.secret.as_str()), ("response", token), ("remoteip", client_ip)];
        let response = self
            .client
            .post(&self.config.verify_url)
            .form(&form)
            .send()
            .await
            .map_err(|e| CaptchaError(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(CaptchaError(format!("verifier answered {}", response.status())));
        }
        let verdict: Verdict =
            response.json().await.map_err(|e| CaptchaError(e.without_url().to_string()))?;
        Ok(verdict.success)
    }
}
