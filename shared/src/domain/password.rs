//! Password policy (OWASP ASVS V6.2 / NIST SP 800-63B): length 8..=256 characters, no composition
//! rules, refuse known-common passwords (shipped blocklist) and guessable ones (zxcvbn score,
//! with the user's own email, name and campus counted against it). The strength endpoint and the
//! enforcement share `assess`, so the meter and the server never disagree.

use serde::Serialize;
use std::collections::HashSet;
use std::sync::LazyLock;

pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longer input is refused before hashing (argon2 of megabytes is a denial-of-service lever).
pub const MAX_PASSWORD_CHARS: usize = 256;
/// zxcvbn's cost grows with length; beyond this prefix a password is long enough to judge.
const ZXCVBN_PREFIX_CHARS: usize = 100;
/// zxcvbn score needed by default (3: "safely unguessable", ~10^8+ guesses).
pub const DEFAULT_MIN_SCORE: u8 = 3;

static BLOCKLIST: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("common_passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
});

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Strength {
    /// 0 (too guessable) ..= 4 (very unguessable).
    pub score: u8,
    /// Why the password is refused or weak; `None` when acceptable.
    pub warning: Option<String>,
    pub suggestions: Vec<String>,
    /// Whether the server would accept it.
    pub acceptable: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("password must be at least 8 characters")]
    TooShort,
    #[error("password must be at most 256 characters")]
    TooLong,
    #[error("{0}")]
    Weak(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub min_score: u8,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy { min_score: DEFAULT_MIN_SCORE }
    }
}

impl PasswordPolicy {
    /// Refuses a password with the reason a person can act on.
    pub fn check(&self, password: &str, user_inputs: &[&str]) -> Result<(), PasswordError> {
        let chars = password.chars().count();
        if chars > MAX_PASSWORD_CHARS {
            return Err(PasswordError::TooLong);
        }
        if chars < MIN_PASSWORD_CHARS {
            return Err(PasswordError::TooShort);
        }
        let strength = self.assess(password, user_inputs);
        match strength.acceptable {
            true => Ok(()),
            false => Err(PasswordError::Weak(
                strength.warning.unwrap_or_else(|| "password is too easy to guess".into()),
            )),
        }
    }

    pub fn assess(&self, password: &str, user_inputs: &[&str]) -> Strength {
        let chars = password.chars().count();
        let prefix: String = password.chars().take(ZXCVBN_PREFIX_CHARS).collect();
        let inputs = expand_inputs(user_inputs);
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let entropy = zxcvbn::zxcvbn(&prefix, &inputs);
        let mut score = u8::from(entropy.score());
        let feedback = entropy.feedback();
        let mut suggestions: Vec<String> =
            feedback.map(|f| f.suggestions().iter().map(ToString::to_string).collect()).unwrap_or_default();
        let mut warning = feedback.and_then(|f| f.warning()).map(|w| w.to_string());

        if is_common(password) {
            score = 0;
            warning = Some("This is a very common password.".into());
        } else if is_personal(password, user_inputs) {
            score = 0;
            warning = Some("Don't use your name, email or campus as your password.".into());
        }
        let length_problem = if chars < MIN_PASSWORD_CHARS {
            Some("Use at least 8 characters.")
        } else if chars > MAX_PASSWORD_CHARS {
            Some("Use at most 256 characters.")
        } else {
            None
        };
        if let Some(problem) = length_problem {
            score = score.min(1);
            warning = Some(problem.into());
        }
        let acceptable = length_problem.is_none() && score >= self.min_score;
        if !acceptable && warning.is_none() {
            warning = Some("This password is too easy to guess.".into());
        }
        if !acceptable && suggestions.is_empty() {
            suggestions.push("Add another word or two. Uncommon words are better.".into());
        }
        Strength { score, warning, suggestions, acceptable }
    }
}

/// Both the whole blocklisted password and its base with trailing digits/symbols stripped.
fn is_common(password: &str) -> bool {
    let lower = password.to_lowercase();
    let base = lower.trim_end_matches(|c: char| !c.is_alphabetic());
    BLOCKLIST.contains(lower.as_str()) || (!base.is_empty() && BLOCKLIST.contains(base))
}

/// Letters only, lower-cased: "Alice.Example-1!" and "alice example" both become "aliceexample".
fn letters(s: &str) -> String {
    s.chars().filter(|c| c.is_alphabetic()).flat_map(char::to_lowercase).collect()
}

/// The password is just one of the user's own inputs (or its email's local part) dressed up
/// with digits and symbols.
fn is_personal(password: &str, user_inputs: &[&str]) -> bool {
    let core = letters(password);
    !core.is_empty()
        && user_inputs.iter().any(|input| {
            let local = input.split('@').next().unwrap_or(input);
            core == letters(input) || core == letters(local)
        })
}

/// Splits user inputs (email, name, campus) into the words a person might reuse.
fn expand_inputs(inputs: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for input in inputs {
        let lower = input.to_lowercase();
        out.extend(lower.split(|c: char| !c.is_alphanumeric()).filter(|w| w.len() >= 3).map(str::to_owned));
        out.push(lower);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(p: &str) -> Result<(), PasswordError> {
        PasswordPolicy::default().check(p, &["alice@example.edu", "Alice Example", "Example University"])
    }

    #[test]
    fn length_bounds() {
        assert_eq!(check("short"), Err(PasswordError::TooShort));
        assert_eq!(check(&"x".repeat(257)), Err(PasswordError::TooLong));
        assert_eq!(check(&"x".repeat(100_000)), Err(PasswordError::TooLong));
        // 128+ characters of a passphrase are accepted.
        let long = "unicorn paddle ferry lantern ".repeat(5);
        assert!(long.chars().count() > 128);
        assert!(check(&long).is_ok());
    }

    #[test]
    fn common_and_guessable_refused_with_reason() {
        for p in ["password", "Password123!", "12345678", "qwertyuiop", "carpool2024", "iloveyou"] {
            match check(p) {
                Err(PasswordError::Weak(why)) => assert!(!why.is_empty()),
                other => panic!("{p} gave {other:?}"),
            }
        }
    }

    #[test]
    fn user_inputs_count_against_the_password() {
        assert!(check("aliceexample").is_err());
        assert!(check("exampleuniversity").is_err());
        assert!(check("AliceExample2024!").is_err());
        assert!(check("alice.example@2025").is_err());
    }

    #[test]
    fn no_composition_rules() {
        assert!(check("correct horse battery staple").is_ok());
        assert!(check("tangerine kettle orbit 93").is_ok());
    }

    #[test]
    fn assess_matches_check() {
        let policy = PasswordPolicy::default();
        for p in ["password", "correct horse battery staple", "abc", "Tr0ub4dor&3 zebra lamp"] {
            assert_eq!(policy.assess(p, &[]).acceptable, policy.check(p, &[]).is_ok(), "{p}");
        }
        let s = policy.assess("password", &[]);
        assert_eq!(s.score, 0);
        assert!(s.warning.is_some());
    }
}
