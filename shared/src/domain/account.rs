//! Rules of people's own data (API.md "Your data"): how a deleted account is shown to others,
//! and when an export fits in the answer itself.

/// Who a deleted account's messages, reports and rides are shown as (resolved when they are
/// read: nothing of theirs is rewritten for it).
pub const DELETED_USER: &str = "Deleted user";

/// Lambda's limit on a synchronous answer (API Gateway's HTTP API passes it through).
pub const RESPONSE_LIMIT_BYTES: u64 = 6 * 1024 * 1024;

/// Room kept for the status, headers and the envelope's own fields.
const ENVELOPE_BYTES: u64 = 64 * 1024;

/// Whether a document of `bytes` bytes, `escapes` of them a `"` or a `\`, fits in an answer of at
/// most `limit` bytes: Lambda carries the body as a JSON string, where each of those takes two.
pub fn fits_in_answer(bytes: u64, escapes: u64, limit: u64) -> bool {
    bytes.saturating_add(escapes).saturating_add(ENVELOPE_BYTES) <= limit
}

/// The bytes of a JSON text that a JSON string holding it escapes (its quotes and backslashes;
/// a compact JSON text has no raw control characters).
pub fn escapes_in(json: &[u8]) -> u64 {
    json.iter().filter(|b| matches!(b, b'"' | b'\\')).count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_holds_the_escaped_document_and_its_envelope() {
        let limit = RESPONSE_LIMIT_BYTES;
        assert!(fits_in_answer(1024, 200, limit));
        assert!(fits_in_answer(limit - ENVELOPE_BYTES, 0, limit));
        assert!(!fits_in_answer(limit - ENVELOPE_BYTES, 1, limit), "one escape too many");
        assert!(!fits_in_answer(u64::MAX, u64::MAX, limit), "no overflow");
    }

    #[test]
    fn counts_what_a_json_string_escapes() {
        let doc = serde_json::to_vec(&serde_json::json!({"a": "say \"hi\"\\", "b": "line\nbreak"})).unwrap();
        let wrapped = serde_json::to_vec(&String::from_utf8(doc.clone()).unwrap()).unwrap();
        assert_eq!(
            wrapped.len() as u64,
            doc.len() as u64 + escapes_in(&doc) + 2,
            "exactly what wrapping adds"
        );
    }
}
