//! Bearer secrets (verification tokens, session tokens): 256 bits of OS randomness, base64url,
//! stored only as SHA-256 digests. A fast hash is right here: the input is random, not a password.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::fmt;
use ulid::Ulid;

/// Random bytes in every token.
const TOKEN_BYTES: usize = 32;
/// base64url length of a 32-byte token.
pub const TOKEN_CHARS: usize = 43;
/// A session token carries the user id (16 bytes) before its 32 random bytes, so a session check
/// reads the user and the session in one round trip. The id is not a secret; the random part is.
pub const SESSION_TOKEN_CHARS: usize = 64;

/// A secret in clear: only ever sent to its owner (mail, cookie). Debug never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The digest under which the secret is stored and looked up.
    pub fn digest(&self) -> String {
        digest(&self.0)
    }
}

/// A secret from configuration.
impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("token is malformed")]
pub struct MalformedToken;

pub fn digest(secret: &str) -> String {
    B64.encode(Sha256::digest(secret.as_bytes()))
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // The OS RNG failing is unrecoverable: no secret can be issued safely without it.
    getrandom::fill(&mut buf).expect("operating system random number generator failed");
    buf
}

/// A new single-use token (email verification, password reset).
pub fn new_token() -> Secret {
    Secret(B64.encode(random_bytes::<TOKEN_BYTES>()))
}

/// Checks shape only (length and alphabet) so garbage is refused before any store read.
pub fn parse_token(input: &str) -> Result<Secret, MalformedToken> {
    if input.len() == TOKEN_CHARS && is_base64url(input) {
        Ok(Secret(input.to_owned()))
    } else {
        Err(MalformedToken)
    }
}

pub fn new_session_token(user: Ulid) -> Secret {
    let mut raw = [0u8; 16 + TOKEN_BYTES];
    raw[..16].copy_from_slice(&user.to_bytes());
    raw[16..].copy_from_slice(&random_bytes::<TOKEN_BYTES>());
    Secret(B64.encode(raw))
}

/// Splits a session cookie value into the user id it claims and the secret. The claim is only a
/// locator: the session record under the secret's digest must name the same user.
pub fn parse_session_token(input: &str) -> Result<(Ulid, Secret), MalformedToken> {
    if input.len() != SESSION_TOKEN_CHARS || !is_base64url(input) {
        return Err(MalformedToken);
    }
    let raw = B64.decode(input).map_err(|_| MalformedToken)?;
    let id: [u8; 16] = raw[..16].try_into().map_err(|_| MalformedToken)?;
    Ok((Ulid::from_bytes(id), Secret(input.to_owned())))
}

fn is_base64url(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_well_formed() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), TOKEN_CHARS);
        assert_eq!(parse_token(a.expose()).unwrap(), a);
        assert_ne!(a.digest(), a.expose());
        assert_eq!(format!("{a:?}"), "Secret(<redacted>)");
    }

    #[test]
    fn rejects_wrong_length_or_alphabet() {
        assert!(parse_token("short").is_err());
        assert!(parse_token(&"a".repeat(44)).is_err());
        assert!(parse_token(&format!("{}+", "a".repeat(42))).is_err());
        assert!(parse_token(&format!("{}=", "a".repeat(42))).is_err());
    }

    #[test]
    fn session_token_carries_user_id() {
        let user = Ulid::new();
        let token = new_session_token(user);
        assert_eq!(token.expose().len(), SESSION_TOKEN_CHARS);
        let (claimed, secret) = parse_session_token(token.expose()).unwrap();
        assert_eq!(claimed, user);
        assert_eq!(secret, token);
        assert!(parse_session_token(&token.expose()[1..]).is_err());
        assert!(parse_session_token(&"*".repeat(64)).is_err());
    }
}
