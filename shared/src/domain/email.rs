//! Email addresses as accounts know them: trimmed, lower-cased, and plausibly deliverable.

use std::fmt;

/// RFC 5321 path limit; longer input is rejected before any other work.
pub const MAX_EMAIL_LEN: usize = 254;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Email(String);

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("email is empty")]
    Empty,
    #[error("email is longer than 254 characters")]
    TooLong,
    #[error("email must look like name@campus.edu")]
    Malformed,
}

impl Email {
    /// Normalises (trim, lower-case: addresses are matched case-insensitively) and validates.
    pub fn parse(input: &str) -> Result<Email, EmailError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(EmailError::Empty);
        }
        if trimmed.len() > MAX_EMAIL_LEN {
            return Err(EmailError::TooLong);
        }
        let lower = trimmed.to_lowercase();
        let (local, domain) = lower.split_once('@').ok_or(EmailError::Malformed)?;
        if !valid_local(local) || !valid_domain(domain) {
            return Err(EmailError::Malformed);
        }
        Ok(Email(lower))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn domain(&self) -> &str {
        self.0.split_once('@').map_or("", |(_, d)| d)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Dot-atom local parts only (no quoted strings): what campus mail systems issue.
fn valid_local(local: &str) -> bool {
    const SPECIALS: &str = "!#$%&'*+/=?^_`{|}~-.";
    !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.chars().all(|c| c.is_ascii_alphanumeric() || SPECIALS.contains(c))
}

pub(crate) fn valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    domain.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// An address as logs and error reports may show it: the first character of the local part
/// and the domain (`a***@example.edu`), enough to tell campuses and typos apart, not to mail
/// anyone. Anything without an `@` is masked whole.
pub fn masked(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_whitespace() {
        let e = Email::parse("  Alice@Uni.EDU ").unwrap();
        assert_eq!(e.as_str(), "alice@uni.edu");
        assert_eq!(e.domain(), "uni.edu");
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "alice",
            "@uni.edu",
            "alice@",
            "alice@uni",
            "a b@uni.edu",
            "a..b@uni.edu",
            "alice@uni..edu",
            "alice@-uni.edu",
            "al\u{0}ice@uni.edu",
            "alice@@uni.edu",
            ".a@uni.edu",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(Email::parse(""), Err(EmailError::Empty));
        assert_eq!(Email::parse("   "), Err(EmailError::Empty));
    }

    #[test]
    fn rejects_overlong_before_anything_else() {
        let long = format!("{}@uni.edu", "a".repeat(10_000));
        assert_eq!(Email::parse(&long), Err(EmailError::TooLong));
        let local65 = format!("{}@uni.edu", "a".repeat(65));
        assert_eq!(Email::parse(&local65), Err(EmailError::Malformed));
    }

    #[test]
    fn masked_addresses_keep_the_domain_only() {
        assert_eq!(masked("alice.smith@example.edu"), "a***@example.edu");
        assert_eq!(masked("Ünal@cs.example.edu"), "Ü***@cs.example.edu");
        assert_eq!(masked("@example.edu"), "***@example.edu");
        assert_eq!(masked("not an address"), "***");
    }
}
