//! The server's key ring. It encrypts at rest the few secrets the server must read back in
//! clear (TOTP keys, queued mail), as opposed to those it only compares (passwords, tokens,
//! recovery codes: stored as hashes), and signs values handed to clients (device cookies).
//!
//! AES-256-GCM with a random nonce per value, the owner's id as associated data (a value copied
//! onto another account does not open), and the key's id in front so keys can be rotated: the
//! first key of the ring seals, any key of the ring opens. The ring comes from configuration
//! (`KEY_RING` in Lambda, a file in local mode); the key material can be a KMS data key
//! decrypted at cold start without changing anything here.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::path::Path;

const NONCE_BYTES: usize = 12;
const TAG_BYTES: usize = 16;
const KEY_BYTES: usize = 32;

#[derive(Clone)]
pub struct KeyRing {
    /// The sealing key first.
    keys: Vec<(String, Aes256Gcm)>,
    /// The same keys' raw bytes, from which signing keys are derived per purpose.
    raw: Vec<[u8; KEY_BYTES]>,
}

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("sealed value is malformed")]
    Malformed,
    #[error("sealed with key {0:?}, which is not in the key ring")]
    UnknownKey(String),
    #[error("sealed value does not open with its key (tampered, or sealed for someone else)")]
    Rejected,
}

impl KeyRing {
    /// `id:base64key[,id:base64key...]`, the sealing key first; each key is 32 bytes of
    /// standard base64 (`openssl rand -base64 32`).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let (mut keys, mut raw) = (Vec::new(), Vec::new());
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (id, key) = entry.split_once(':').ok_or("each key must be written id:base64key")?;
            let id_ok = !id.is_empty()
                && id.len() <= 32
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !id_ok {
                // Not echoed: with the halves swapped, the "id" would be the key itself.
                return Err("each key id must be 1-32 letters, digits, '-' or '_'".into());
            }
            if keys.iter().any(|(known, _)| known == id) {
                return Err(format!("key id {id:?} appears twice"));
            }
            let bytes = STANDARD.decode(key.trim()).map_err(|_| format!("key {id:?} is not base64"))?;
            if bytes.len() != KEY_BYTES {
                return Err(format!("key {id:?} must be {KEY_BYTES} bytes, not {}", bytes.len()));
            }
            let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(|e| e.to_string())?;
            keys.push((id.to_owned(), cipher));
            raw.push(bytes.try_into().map_err(|_| format!("key {id:?} must be {KEY_BYTES} bytes"))?);
        }
        if keys.is_empty() {
            return Err("no keys given".into());
        }
        Ok(KeyRing { keys, raw })
    }

    /// A ring of one new random key, and its spec to keep.
    pub fn generate(id: &str) -> (Self, String) {
        let mut key = [0u8; KEY_BYTES];
        getrandom::fill(&mut key).expect("operating system random number generator failed");
        let spec = format!("{id}:{}", STANDARD.encode(key));
        (Self::parse(&spec).expect("a generated key is well formed"), spec)
    }

    /// The ring kept in `path`, created (readable by the owner only) on first use. Local mode.
    pub fn load_or_create(path: &Path) -> std::io::Result<Self> {
        let invalid = |e: String| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: {e}", path.display()))
        };
        match std::fs::read_to_string(path) {
            Ok(spec) => Self::parse(&spec).map_err(invalid),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let (ring, spec) = Self::generate("local1");
                write_private(path, &spec)?;
                Ok(ring)
            }
            Err(e) => Err(e),
        }
    }

    /// `<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`.
    pub fn seal(&self, plaintext: &[u8], owner: &str) -> String {
        let (id, cipher) = &self.keys[0];
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).expect("operating system random number generator failed");
        let sealed = cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: owner.as_bytes() })
            .expect("AES-GCM encryption of a small value cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{id}.{}", B64.encode(out))
    }

    pub fn open(&self, sealed: &str, owner: &str) -> Result<Vec<u8>, SealError> {
        let (id, body) = sealed.split_once('.').ok_or(SealError::Malformed)?;
        let (_, cipher) = self
            .keys
            .iter()
            .find(|(known, _)| known == id)
            .ok_or_else(|| SealError::UnknownKey(id.into()))?;
        let raw = B64.decode(body).map_err(|_| SealError::Malformed)?;
        if raw.len() < NONCE_BYTES + TAG_BYTES {
            return Err(SealError::Malformed);
        }
        let (nonce, ciphertext) = raw.split_at(NONCE_BYTES);
        cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: owner.as_bytes() })
            .map_err(|_| SealError::Rejected)
    }
}

impl KeyRing {
    /// A key for one purpose only (HMAC-SHA256 of the purpose under the ring's key), so a
    /// signature made for one use never verifies for another, nor relates to the sealing key.
    fn signer(&self, index: usize, purpose: &str) -> HmacSha256 {
        let mut derive =
            <HmacSha256 as Mac>::new_from_slice(&self.raw[index]).expect("HMAC takes any key length");
        derive.update(purpose.as_bytes());
        <HmacSha256 as Mac>::new_from_slice(&derive.finalize().into_bytes())
            .expect("HMAC takes any key length")
    }

    /// `<key id>.<base64url(HMAC-SHA256)>` of `data` for `purpose`, with the first key.
    pub fn sign(&self, purpose: &str, data: &[u8]) -> String {
        let mut mac = self.signer(0, purpose);
        mac.update(data);
        format!("{}.{}", self.keys[0].0, B64.encode(mac.finalize().into_bytes()))
    }

    /// Whether `signature` is one `sign` made for `purpose` and `data` with any key of the ring
    /// (compared in constant time).
    pub fn verify(&self, purpose: &str, data: &[u8], signature: &str) -> bool {
        let Some((id, tag)) = signature.split_once('.') else { return false };
        let Some(index) = self.keys.iter().position(|(known, _)| known == id) else { return false };
        let Ok(tag) = B64.decode(tag) else { return false };
        let mut mac = self.signer(index, purpose);
        mac.update(data);
        mac.verify_slice(&tag).is_ok()
    }
}

/// Key ids only: key material never reaches a log.
impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("key_ids", &self.keys.iter().map(|(id, _)| id).collect::<Vec<_>>())
            .finish()
    }
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_binds_the_owner() {
        let (ring, _) = KeyRing::generate("k1");
        let sealed = ring.seal(b"totp key bytes", "user-1");
        assert!(sealed.starts_with("k1."));
        assert!(!sealed.contains("totp"));
        assert_eq!(ring.open(&sealed, "user-1").unwrap(), b"totp key bytes");
        assert_eq!(ring.open(&sealed, "user-2"), Err(SealError::Rejected));
        assert_ne!(ring.seal(b"same", "u"), ring.seal(b"same", "u"), "nonces are random");
    }

    #[test]
    fn refuses_tampering_and_garbage() {
        let (ring, _) = KeyRing::generate("k1");
        let sealed = ring.seal(b"secret", "u");
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(ring.open(&String::from_utf8(tampered).unwrap(), "u"), Err(SealError::Rejected));
        assert_eq!(ring.open("no-dot", "u"), Err(SealError::Malformed));
        assert_eq!(ring.open("k1.!!", "u"), Err(SealError::Malformed));
        assert_eq!(ring.open("k1.AAAA", "u"), Err(SealError::Malformed));
        assert_eq!(ring.open(&format!("k1.{}", B64.encode([0u8; 27])), "u"), Err(SealError::Malformed));
        assert_eq!(ring.open("k9.AAAA", "u"), Err(SealError::UnknownKey("k9".into())));
    }

    #[test]
    fn rotation_seals_with_the_first_key_and_opens_with_any() {
        let (old, old_spec) = KeyRing::generate("old");
        let sealed_before = old.seal(b"x", "u");
        let (_, new_spec) = KeyRing::generate("new");
        let rotated = KeyRing::parse(&format!("{new_spec},{old_spec}")).unwrap();
        assert_eq!(rotated.open(&sealed_before, "u").unwrap(), b"x");
        assert!(rotated.seal(b"x", "u").starts_with("new."));
    }

    #[test]
    fn parse_names_the_problem() {
        assert!(KeyRing::parse("").is_err());
        assert!(KeyRing::parse("k1").unwrap_err().contains("id:base64key"));
        assert!(KeyRing::parse("k1:AAAA").unwrap_err().contains("32 bytes"));
        assert!(KeyRing::parse("bad id:AAAA").unwrap_err().contains("key id"));
        let (_, spec) = KeyRing::generate("k1");
        let (id, key) = spec.split_once(':').unwrap();
        let swapped = KeyRing::parse(&format!("{key}:{id}")).unwrap_err();
        assert!(!swapped.contains(key), "key material stays out of errors: {swapped}");
        assert!(KeyRing::parse(&format!("{spec},{spec}")).unwrap_err().contains("twice"));
        let debug = format!("{:?}", KeyRing::parse(&spec).unwrap());
        assert_eq!(debug, r#"KeyRing { key_ids: ["k1"] }"#);
    }

    #[test]
    fn signatures_bind_purpose_data_and_ring() {
        let (ring, spec) = KeyRing::generate("k1");
        let signature = ring.sign("device cookie", b"user.nonce");
        assert!(signature.starts_with("k1."));
        assert!(ring.verify("device cookie", b"user.nonce", &signature));
        assert!(!ring.verify("device cookie", b"user.other", &signature));
        assert!(!ring.verify("another purpose", b"user.nonce", &signature));
        assert!(!ring.verify("device cookie", b"user.nonce", "k1.AAAA"));
        assert!(!ring.verify("device cookie", b"user.nonce", "garbage"));
        let (other, _) = KeyRing::generate("k1");
        assert!(!other.verify("device cookie", b"user.nonce", &signature), "another ring's key");
        let (_, new_spec) = KeyRing::generate("k2");
        let rotated = KeyRing::parse(&format!("{new_spec},{spec}")).unwrap();
        assert!(rotated.verify("device cookie", b"user.nonce", &signature), "old keys still verify");
        assert!(rotated.sign("device cookie", b"x").starts_with("k2."));
    }

    #[test]
    fn local_ring_is_created_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("totp-keys");
        let first = KeyRing::load_or_create(&path).unwrap();
        let sealed = first.seal(b"kept", "u");
        let again = KeyRing::load_or_create(&path).unwrap();
        assert_eq!(again.open(&sealed, "u").unwrap(), b"kept");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
}
