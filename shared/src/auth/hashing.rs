//! Password hashing: argon2id with configurable (OWASP-default) parameters, plus verification of
//! legacy bcrypt hashes from the MVP so they can be upgraded on the next successful sign-in.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::OnceLock;

/// argon2id cost. OWASP Password Storage Cheat Sheet minimum: m=19456 KiB, t=2, p=1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Argon2Params {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for Argon2Params {
    fn default() -> Self {
        Argon2Params { memory_kib: 19_456, iterations: 2, parallelism: 1 }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Match { needs_rehash: bool },
    Mismatch,
}

pub struct PasswordHasher {
    argon2: Argon2<'static>,
    params: Argon2Params,
    /// A real hash to verify against when the email is unknown, so that path costs the same.
    decoy: OnceLock<String>,
}

impl PasswordHasher {
    pub fn new(params: Argon2Params) -> Result<Self, String> {
        let p = Params::new(params.memory_kib, params.iterations, params.parallelism, None)
            .map_err(|e| format!("invalid argon2 parameters: {e}"))?;
        Ok(PasswordHasher {
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, p),
            params,
            decoy: OnceLock::new(),
        })
    }

    pub fn params(&self) -> Argon2Params {
        self.params
    }

    /// A PHC string (`$argon2id$v=19$m=...`), salted with 128 random bits.
    pub fn hash(&self, password: &str) -> String {
        let salt = SaltString::generate(&mut OsRng);
        self.argon2
            .hash_password(password.as_bytes(), &salt)
            // Only fails for parameter/salt errors, which `new` and SaltString rule out.
            .expect("argon2 hashing with validated parameters")
            .to_string()
    }

    pub fn verify(&self, password: &str, stored: &str) -> Verdict {
        if is_bcrypt(stored) {
            return match bcrypt::verify(password, stored) {
                Ok(true) => Verdict::Match { needs_rehash: true },
                _ => Verdict::Mismatch,
            };
        }
        let Ok(parsed) = PasswordHash::new(stored) else {
            return Verdict::Mismatch;
        };
        // Verification uses the parameters recorded in the hash itself.
        match self.argon2.verify_password(password.as_bytes(), &parsed) {
            Ok(()) => Verdict::Match { needs_rehash: !self.is_current(&parsed) },
            Err(_) => Verdict::Mismatch,
        }
    }

    /// Spends one verification's time on a password that matches nothing (unknown email).
    pub fn verify_decoy(&self, password: &str) {
        let decoy = self.decoy.get_or_init(|| self.hash("decoy password, never matches"));
        let _ = self.verify(password, decoy);
    }

    fn is_current(&self, parsed: &PasswordHash<'_>) -> bool {
        let Ok(p) = Params::try_from(parsed) else { return false };
        parsed.algorithm.as_str() == "argon2id"
            && p.m_cost() >= self.params.memory_kib
            && p.t_cost() >= self.params.iterations
            && p.p_cost() >= self.params.parallelism
    }
}

fn is_bcrypt(stored: &str) -> bool {
    ["$2a$", "$2b$", "$2y$"].iter().any(|p| stored.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> PasswordHasher {
        PasswordHasher::new(Argon2Params { memory_kib: 1024, iterations: 1, parallelism: 1 }).unwrap()
    }

    #[test]
    fn argon2id_round_trip() {
        let h = cheap();
        let stored = h.hash("correct horse battery staple");
        assert!(stored.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        assert_eq!(h.verify("correct horse battery staple", &stored), Verdict::Match { needs_rehash: false });
        assert_eq!(h.verify("wrong", &stored), Verdict::Mismatch);
        assert_ne!(stored, h.hash("correct horse battery staple"), "salted");
    }

    #[test]
    fn default_parameters_are_owasp() {
        let h = PasswordHasher::new(Argon2Params::default()).unwrap();
        assert!(h.hash("x").starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    }

    #[test]
    fn weaker_hash_needs_rehash() {
        let stored = cheap().hash("pw");
        let stronger =
            PasswordHasher::new(Argon2Params { memory_kib: 2048, iterations: 1, parallelism: 1 }).unwrap();
        assert_eq!(stronger.verify("pw", &stored), Verdict::Match { needs_rehash: true });
    }

    #[test]
    fn legacy_bcrypt_verifies_and_asks_for_rehash() {
        let legacy = bcrypt::hash("mvp password", 4).unwrap();
        let h = cheap();
        assert_eq!(h.verify("mvp password", &legacy), Verdict::Match { needs_rehash: true });
        assert_eq!(h.verify("nope", &legacy), Verdict::Mismatch);
    }

    #[test]
    fn garbage_hash_is_a_mismatch() {
        assert_eq!(cheap().verify("pw", "not a hash"), Verdict::Mismatch);
        assert_eq!(cheap().verify("pw", ""), Verdict::Mismatch);
    }

    #[test]
    fn invalid_parameters_are_refused() {
        assert!(PasswordHasher::new(Argon2Params { memory_kib: 1, iterations: 0, parallelism: 1 }).is_err());
    }
}
