//! List cursors (API.md Common rules): whatever a list needs to resume, sealed with the key ring
//! under the list's scope (which list, which reader), so a client can neither read a cursor, alter
//! it nor use it on another list: any of those is `400 invalid_cursor`.

use crate::error::{AppError, AppResult};
use crate::seal::KeyRing;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A page of a list and the sealed cursor of the next one.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

fn context(scope: &str) -> String {
    format!("cursor {scope}")
}

pub fn seal<T: Serialize>(keys: &KeyRing, scope: &str, position: &T) -> AppResult<String> {
    let bytes = serde_json::to_vec(position).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(keys.seal(&bytes, &context(scope)))
}

pub fn open<T: DeserializeOwned>(keys: &KeyRing, scope: &str, sealed: &str) -> AppResult<T> {
    let bytes = keys.open(sealed, &context(scope)).map_err(|_| AppError::InvalidCursor)?;
    serde_json::from_slice(&bytes).map_err(|_| AppError::InvalidCursor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_opens_only_unaltered_and_in_its_own_scope() {
        let (keys, _) = KeyRing::generate("k1");
        let sealed = seal(&keys, "feed u1", &("abc", 3)).unwrap();
        assert_eq!(open::<(String, u32)>(&keys, "feed u1", &sealed).unwrap(), ("abc".into(), 3));
        assert!(matches!(open::<(String, u32)>(&keys, "feed u2", &sealed), Err(AppError::InvalidCursor)));
        let mut altered = sealed.into_bytes();
        let last = altered.len() - 2;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).unwrap();
        assert!(matches!(open::<(String, u32)>(&keys, "feed u1", &altered), Err(AppError::InvalidCursor)));
    }
}
