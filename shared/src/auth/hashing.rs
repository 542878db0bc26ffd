//! Password hashing: argon2id with configurable (OWASP-default) parameters, plus verification of
//! legacy bcrypt hashes from the MVP so they can be upgraded on the next successful sign-in.
//! Passwords are NFKC-normalised (NIST SP 800-63B) before hashing and verifying; hashes made from
//! the raw form before that still verify, and ask to be re-hashed.

use crate::domain::password::normalize;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::cell::RefCell;
use std::sync::{mpsc, Arc, Mutex, OnceLock};

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

    /// A PHC string (`$argon2id$v=19$m=...`) of the NFKC form, salted with 128 random bits.
    pub fn hash(&self, password: &str) -> String {
        let salt = SaltString::generate(&mut OsRng);
        let mut salt_bytes = [0u8; Salt::MAX_LENGTH];
        let raw_salt = salt.decode_b64(&mut salt_bytes).expect("a generated salt decodes");
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        // Only fails for parameter/salt errors, which `new` and SaltString rule out.
        with_memory(&self.argon2, normalize(password).as_bytes(), raw_salt, &mut out)
            .expect("argon2 hashing with validated parameters");
        PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(self.argon2.params()).expect("validated parameters format"),
            salt: Some(salt.as_salt()),
            hash: Some(Output::new(&out).expect("a 32-byte output")),
        }
        .to_string()
    }

    /// Checks the NFKC form; if that fails and the input was not NFKC, the raw form, which
    /// hashes stored before normalisation were made from (a match then needs a re-hash).
    pub fn verify(&self, password: &str, stored: &str) -> Verdict {
        let normalized = normalize(password);
        match self.verify_exact(&normalized, stored) {
            Verdict::Mismatch if normalized != password => match self.verify_exact(password, stored) {
                Verdict::Match { .. } => Verdict::Match { needs_rehash: true },
                Verdict::Mismatch => Verdict::Mismatch,
            },
            verdict => verdict,
        }
    }

    fn verify_exact(&self, password: &str, stored: &str) -> Verdict {
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
        let recorded =
            (Algorithm::try_from(parsed.algorithm), Params::try_from(&parsed), parsed.salt, parsed.hash);
        let (Ok(algorithm), Ok(params), Some(salt), Some(expected)) = recorded else {
            return Verdict::Mismatch;
        };
        let version = match parsed.version.map(Version::try_from) {
            None => Version::default(),
            Some(Ok(version)) => version,
            Some(Err(_)) => return Verdict::Mismatch,
        };
        let mut salt_bytes = [0u8; Salt::MAX_LENGTH];
        let Ok(raw_salt) = salt.decode_b64(&mut salt_bytes) else { return Verdict::Mismatch };
        let mut out = vec![0u8; expected.len()];
        let argon2 = Argon2::new(algorithm, version, params);
        if with_memory(&argon2, password.as_bytes(), raw_salt, &mut out).is_err() {
            return Verdict::Mismatch;
        }
        // `Output` compares in constant time.
        match Output::new(&out).is_ok_and(|computed| computed == expected) {
            true => Verdict::Match { needs_rehash: !self.is_current(&parsed) },
            false => Verdict::Mismatch,
        }
    }

    /// Spends one verification's time on a password that matches nothing (unknown email). It goes
    /// through `verify`, so a non-NFKC password costs the same two attempts as for a real account.
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

thread_local! {
    /// argon2's working memory (~19 MiB), kept by each hashing thread instead of allocated per
    /// hash: glibc's malloc kept the freed blocks in ways that let a process grow by tens of
    /// MiB with every sign-in and never shrink.
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

fn with_memory(argon2: &Argon2<'_>, password: &[u8], salt: &[u8], out: &mut [u8]) -> argon2::Result<()> {
    BLOCKS.with_borrow_mut(|blocks| {
        blocks.resize(argon2.params().block_count(), Block::default());
        argon2.hash_password_into_with_memory(password, salt, out, blocks.as_mut_slice())
    })
}

fn is_bcrypt(stored: &str) -> bool {
    ["$2a$", "$2b$", "$2y$"].iter().any(|p| stored.starts_with(p))
}

/// Runs password hashes off the async workers, on one thread per core; queued hashes wait their
/// turn. Each argon2id call holds ~19 MiB and a core for tens of milliseconds, so more at once
/// than there are cores only adds latency and memory: a burst of 80 sign-ins once took a process
/// to 1.8 GB, and kept it there, because every short-lived blocking thread's malloc arena kept
/// its 19 MiB. A fixed set of threads keeps that to one block set per core.
pub struct HashingPool {
    jobs: Mutex<mpsc::Sender<Job>>,
}

type Job = Box<dyn FnOnce() + Send>;

impl HashingPool {
    pub fn new(threads: usize) -> Self {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads.max(1) {
            let queue = queue.clone();
            // The threads end when the pool (the only sender) is dropped.
            let worker = move || loop {
                let next = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
                match next {
                    Ok(job) => job(),
                    Err(_) => return,
                }
            };
            std::thread::Builder::new()
                .name(format!("password-hashing-{i}"))
                .spawn(worker)
                .expect("the OS starts a hashing thread");
        }
        HashingPool { jobs: Mutex::new(jobs) }
    }

    pub fn sized_to_cores() -> Self {
        Self::new(std::thread::available_parallelism().map_or(1, usize::from))
    }

    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, String> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            // Nobody waits any more (the request timed out or its client left): skip the work.
            if !done.is_closed() {
                let _ = done.send(work());
            }
        });
        self.jobs.lock().unwrap_or_else(|e| e.into_inner()).send(job).map_err(|_| "hashing pool stopped")?;
        result.await.map_err(|_| "hashing job failed".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};

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

    /// Hashes made here and by the argon2 crate's own PHC code verify against each other.
    #[test]
    fn phc_strings_agree_with_the_argon2_crate() {
        let h = cheap();
        let ours = h.hash("interoperable passphrase");
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(h.argon2.verify_password(b"interoperable passphrase", &parsed).is_ok());
        let salt = SaltString::generate(&mut OsRng);
        let theirs = h.argon2.hash_password(b"interoperable passphrase", &salt).unwrap().to_string();
        assert_eq!(h.verify("interoperable passphrase", &theirs), Verdict::Match { needs_rehash: false });
        assert_eq!(h.verify("interoperable passphrasE", &theirs), Verdict::Mismatch);
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

    /// Full-width letters and an ideographic space (as an IME types them), the "fi" ligature and
    /// OHM SIGN: each has a plain NFKC twin.
    const TWINS: [(&str, &str); 3] = [
        ("ｃｏｐｐｅｒ\u{3000}ｆａｌｃｏｎ ８８", "copper falcon 88"),
        ("\u{FB01}ve \u{FB01}ne \u{FB01}sh", "five fine fish"),
        ("resistance 10\u{2126} ok", "resistance 10\u{3A9} ok"),
    ];

    /// A hash made before normalisation: argon2id of the raw bytes.
    fn raw_hash(h: &PasswordHasher, password: &str) -> String {
        let salt = SaltString::generate(&mut OsRng);
        h.argon2.hash_password(password.as_bytes(), &salt).unwrap().to_string()
    }

    #[test]
    fn compatibility_characters_verify_against_their_nfkc_twin() {
        let h = cheap();
        for (typed, twin) in TWINS {
            assert_ne!(typed, twin);
            let stored = h.hash(typed);
            // What was hashed is the NFKC form.
            let parsed = PasswordHash::new(&stored).unwrap();
            assert!(h.argon2.verify_password(twin.as_bytes(), &parsed).is_ok(), "{typed}");
            assert_eq!(h.verify(typed, &stored), Verdict::Match { needs_rehash: false }, "{typed}");
            assert_eq!(h.verify(twin, &stored), Verdict::Match { needs_rehash: false }, "{typed}");
            assert_eq!(h.verify(twin, &h.hash(twin)), Verdict::Match { needs_rehash: false });
            assert_eq!(h.verify(typed, &h.hash(twin)), Verdict::Match { needs_rehash: false });
            assert_eq!(h.verify("copper falcon 89", &stored), Verdict::Mismatch);
            assert_eq!(h.verify("ｃｏｐｐｅｒ\u{3000}ｆａｌｃｏｎ ８９", &stored), Verdict::Mismatch);
        }
    }

    #[test]
    fn legacy_raw_hash_verifies_and_asks_for_rehash() {
        let h = cheap();
        for (typed, twin) in TWINS {
            let legacy = raw_hash(&h, typed);
            assert_eq!(h.verify(typed, &legacy), Verdict::Match { needs_rehash: true }, "{typed}");
            // The twin was never the stored secret; wrong passwords still fail both attempts.
            assert_eq!(h.verify(twin, &legacy), Verdict::Mismatch, "{typed}");
            assert_eq!(h.verify("ｗｒｏｎｇ ｐａｓｓｗｏｒｄ", &legacy), Verdict::Mismatch);
            // The caller's re-hash stores the NFKC form, current from then on.
            let rehashed = h.hash(typed);
            assert_eq!(h.verify(typed, &rehashed), Verdict::Match { needs_rehash: false });
            assert_eq!(h.verify(twin, &rehashed), Verdict::Match { needs_rehash: false });
        }
    }

    #[test]
    fn legacy_bcrypt_is_normalised_too() {
        let h = cheap();
        let (typed, twin) = TWINS[0];
        let raw = bcrypt::hash(typed, 4).unwrap();
        assert_eq!(h.verify(typed, &raw), Verdict::Match { needs_rehash: true });
        assert_eq!(h.verify(twin, &raw), Verdict::Mismatch);
        let nfkc = bcrypt::hash(twin, 4).unwrap();
        assert_eq!(h.verify(typed, &nfkc), Verdict::Match { needs_rehash: true });
        assert_eq!(h.verify(twin, &nfkc), Verdict::Match { needs_rehash: true });
        assert_eq!(h.verify("ｗｒｏｎｇ", &raw), Verdict::Mismatch);
        assert_eq!(h.verify("ｗｒｏｎｇ", &nfkc), Verdict::Mismatch);
    }

    #[test]
    fn decoy_never_matches_any_form() {
        let h = cheap();
        for (typed, twin) in TWINS {
            h.verify_decoy(typed);
            h.verify_decoy(twin);
        }
        let decoy = h.decoy.get().unwrap();
        assert_eq!(h.verify("ｄｅｃｏｙ ｐａｓｓｗｏｒｄ", decoy), Verdict::Mismatch);
        assert_eq!(h.verify("decoy password, never matches", decoy), Verdict::Match { needs_rehash: false });
    }

    #[test]
    fn invalid_parameters_are_refused() {
        assert!(PasswordHasher::new(Argon2Params { memory_kib: 1, iterations: 0, parallelism: 1 }).is_err());
    }
}

#[cfg(test)]
mod pool_tests {
    use super::HashingPool;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn never_runs_more_hashes_at_once_than_permits() {
        let pool = Arc::new(HashingPool::new(2));
        let (running, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (pool, running, peak) = (pool.clone(), running.clone(), peak.clone());
                tokio::spawn(async move {
                    pool.run(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(10));
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2, "all 16 ran, two at a time");
    }
}
