//! Time-based one-time passwords (RFC 6238: SHA-1, 6 digits, 30 s steps, what every
//! authenticator app reads from an `otpauth://` URI) and the recovery codes that stand in for
//! them. Codes are matched by time step so the caller can refuse a step already used.

use super::secret::digest;
use totp_rs::{Algorithm, TOTP};

pub const STEP_SECONDS: i64 = 30;
pub const DIGITS: usize = 6;
/// Steps of clock drift accepted either side of now.
pub const DRIFT_STEPS: i64 = 1;
/// 160 bits, the size RFC 4226 recommends.
pub const SECRET_BYTES: usize = 20;
pub const RECOVERY_CODES: usize = 10;

/// Crockford's base32 alphabet: no i, l, o or u to misread.
const RECOVERY_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
/// 16 symbols of 5 bits: 80 random bits, enough that a fast digest is a safe way to store them.
const RECOVERY_SYMBOLS: usize = 16;
const RECOVERY_GROUP: usize = 4;

/// A TOTP key in clear; only held in memory between decrypting and checking a code.
pub struct TotpKey(TOTP);

impl TotpKey {
    /// A new random key; `issuer` and `account` label it in the `otpauth` URI.
    pub fn generate(issuer: &str, account: &str) -> Result<Self, String> {
        let mut bytes = vec![0u8; SECRET_BYTES];
        // Without the OS RNG no secret can be issued safely.
        getrandom::fill(&mut bytes).expect("operating system random number generator failed");
        Self::from_bytes(bytes, issuer, account)
    }

    /// Rebuilds a key from its raw bytes; `issuer` and `account` only label the `otpauth` URI.
    pub fn from_bytes(bytes: Vec<u8>, issuer: &str, account: &str) -> Result<Self, String> {
        let issuer = (!issuer.is_empty()).then(|| issuer.to_owned());
        TOTP::new(Algorithm::SHA1, DIGITS, 0, STEP_SECONDS as u64, bytes, issuer, account.to_owned())
            .map(TotpKey)
            .map_err(|e| format!("invalid TOTP key: {e}"))
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0.secret
    }

    /// The key as typed into an authenticator by hand (base32, no padding).
    pub fn base32(&self) -> String {
        self.0.get_secret_base32()
    }

    pub fn otpauth_uri(&self) -> String {
        self.0.get_url()
    }

    /// The time step a code belongs to, if it is the code of a step within the drift window
    /// around `now` (epoch seconds). Each comparison is constant-time.
    pub fn matching_step(&self, code: &TotpCode, now: i64) -> Option<i64> {
        let current = now.div_euclid(STEP_SECONDS);
        (current - DRIFT_STEPS..=current + DRIFT_STEPS)
            .filter(|step| *step >= 0)
            .find(|step| self.0.check(&code.0, (*step * STEP_SECONDS) as u64))
    }

    /// A key as an authenticator app is given it (the `secret` of a setup); for tests and tools.
    pub fn from_base32(secret: &str) -> Result<Self, String> {
        let bytes = totp_rs::Secret::Encoded(secret.to_owned()).to_bytes().map_err(|e| format!("{e:?}"))?;
        Self::from_bytes(bytes, "", "")
    }

    /// The code an authenticator shows at `at` (epoch seconds); for tests and tools.
    pub fn code_at(&self, at: i64) -> String {
        self.0.generate(at.max(0) as u64)
    }
}

/// Exactly six ASCII digits: no spaces, signs or other characters.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpCode(String);

impl std::fmt::Debug for TotpCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpCode(<redacted>)")
    }
}

/// A recovery code, normalised (lowercase, no dashes); stored only as its digest.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCode(String);

impl RecoveryCode {
    pub fn digest(&self) -> String {
        digest(&self.0)
    }

    /// As shown to the user: `abcd-efgh-jkmn-pqrs`.
    pub fn display(&self) -> String {
        let groups: Vec<&str> = self
            .0
            .as_bytes()
            .chunks(RECOVERY_GROUP)
            .map(|g| std::str::from_utf8(g).expect("the alphabet is ASCII"))
            .collect();
        groups.join("-")
    }
}

impl std::fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryCode(<redacted>)")
    }
}

/// What a user may type as a second factor.
#[derive(Debug)]
pub enum SecondFactor {
    Totp(TotpCode),
    Recovery(RecoveryCode),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the code must be the 6 digits shown by the authenticator app, or a recovery code")]
pub struct MalformedCode;

impl SecondFactor {
    pub fn parse(input: &str) -> Result<Self, MalformedCode> {
        if let Ok(code) = TotpCode::parse(input) {
            return Ok(SecondFactor::Totp(code));
        }
        RecoveryCode::parse(input).map(SecondFactor::Recovery)
    }
}

impl TotpCode {
    pub fn parse(input: &str) -> Result<Self, MalformedCode> {
        if input.len() == DIGITS && input.bytes().all(|b| b.is_ascii_digit()) {
            Ok(TotpCode(input.to_owned()))
        } else {
            Err(MalformedCode)
        }
    }
}

impl RecoveryCode {
    /// Case-insensitive; groups may be separated by dashes or spaces (as people copy them), or
    /// not at all; anything else is malformed.
    pub fn parse(input: &str) -> Result<Self, MalformedCode> {
        if input.len() > 2 * RECOVERY_SYMBOLS {
            return Err(MalformedCode);
        }
        let normalised: String =
            input.chars().filter(|c| *c != '-' && *c != ' ').map(|c| c.to_ascii_lowercase()).collect();
        let valid = normalised.len() == RECOVERY_SYMBOLS
            && normalised.bytes().all(|b| RECOVERY_ALPHABET.contains(&b));
        valid.then_some(RecoveryCode(normalised)).ok_or(MalformedCode)
    }

    pub fn generate() -> Self {
        let mut bytes = [0u8; RECOVERY_SYMBOLS];
        getrandom::fill(&mut bytes).expect("operating system random number generator failed");
        // 256 is a multiple of 32, so masking keeps every symbol uniform.
        RecoveryCode(bytes.iter().map(|b| RECOVERY_ALPHABET[usize::from(b & 31)] as char).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B's SHA-1 key.
    fn rfc_key() -> TotpKey {
        TotpKey::from_bytes(b"12345678901234567890".to_vec(), "Campus Carpool", "a@uni.edu").unwrap()
    }

    #[test]
    fn matches_rfc_6238_vectors() {
        let key = rfc_key();
        // The RFC lists 8 digits; 6-digit codes are their last six.
        assert_eq!(key.code_at(59), "287082");
        assert_eq!(key.code_at(1_111_111_109), "081804");
        assert_eq!(key.code_at(2_000_000_000), "279037");
    }

    #[test]
    fn accepts_one_step_of_drift_each_way_and_names_the_step() {
        let key = rfc_key();
        let now = 1_111_111_109;
        let step = now / STEP_SECONDS;
        for (offset, expected) in
            [(-STEP_SECONDS, Some(step - 1)), (0, Some(step)), (STEP_SECONDS, Some(step + 1))]
        {
            let code = TotpCode::parse(&key.code_at(now + offset)).unwrap();
            assert_eq!(key.matching_step(&code, now), expected);
        }
        for far in [-2 * STEP_SECONDS, 2 * STEP_SECONDS, 3600] {
            let code = TotpCode::parse(&key.code_at(now + far)).unwrap();
            assert_eq!(key.matching_step(&code, now), None, "offset {far}");
        }
    }

    #[test]
    fn code_format_is_strict() {
        for bad in ["12345", "1234567", "12345a", "123 456", " 123456", "123456 ", "+12345", "١٢٣٤٥٦", ""]
        {
            assert!(TotpCode::parse(bad).is_err(), "{bad:?}");
        }
        assert!(TotpCode::parse("012345").is_ok());
        assert_eq!(format!("{:?}", SecondFactor::parse("012345").unwrap()), "Totp(TotpCode(<redacted>))");
    }

    #[test]
    fn otpauth_uri_carries_issuer_account_and_secret() {
        let key = TotpKey::generate("Campus Carpool", "a@uni.edu").unwrap();
        let uri = key.otpauth_uri();
        assert!(uri.starts_with("otpauth://totp/Campus%20Carpool:a%40uni.edu?"), "{uri}");
        assert!(uri.contains(&format!("secret={}", key.base32())));
        assert!(uri.contains("issuer=Campus%20Carpool"));
        assert_eq!(key.base32().len(), 32);
        assert_eq!(TotpKey::from_base32(&key.base32()).unwrap().bytes(), key.bytes());
        assert!(TotpKey::from_base32("not base32!").is_err());
    }

    #[test]
    fn recovery_codes_are_random_and_read_leniently() {
        let a = RecoveryCode::generate();
        assert_ne!(a, RecoveryCode::generate());
        let shown = a.display();
        assert_eq!(shown.len(), 19);
        assert_eq!(RecoveryCode::parse(&shown).unwrap(), a);
        assert_eq!(RecoveryCode::parse(&shown.to_uppercase()).unwrap(), a);
        assert_eq!(RecoveryCode::parse(&shown.replace('-', "")).unwrap(), a);
        assert_eq!(RecoveryCode::parse(&shown.replace('-', " ")).unwrap(), a, "spaces as well as dashes");
        assert_eq!(format!("{a:?}"), "RecoveryCode(<redacted>)");
        for bad in [
            "abcd-efgh-jkmn-pqr",
            "abcd\tefgh jkmn pqrs",
            "ilou-efgh-jkmn-pqrs",
            &"-".repeat(40),
            &" ".repeat(32),
        ] {
            assert!(RecoveryCode::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn second_factor_tells_the_two_apart() {
        assert!(matches!(SecondFactor::parse("123456"), Ok(SecondFactor::Totp(_))));
        assert!(matches!(
            SecondFactor::parse(&RecoveryCode::generate().display()),
            Ok(SecondFactor::Recovery(_))
        ));
        assert!(SecondFactor::parse("12345").is_err());
    }
}
