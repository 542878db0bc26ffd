//! Chat rules (API.md "Chat"): what a message body and a client message id may be, and the
//! preview of a body. No I/O.

pub const MAX_BODY_CHARS: usize = 2000;
/// A client's id for a message it sends (its retry key).
pub const MAX_CLIENT_ID_CHARS: usize = 64;

/// A body of 1-2000 characters that is not only white space; control characters other than
/// line breaks and tabs are refused.
pub fn check_body(body: &str) -> Result<&str, String> {
    let chars = body.chars().count();
    if body.trim().is_empty() || chars > MAX_BODY_CHARS {
        return Err(format!("a message is 1 to {MAX_BODY_CHARS} characters"));
    }
    if body.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err("a message may not hold control characters".into());
    }
    Ok(body)
}

/// 1-64 letters, digits, `-`, `_` or `.` (a UUID, a ULID, a counter).
pub fn check_client_message_id(id: &str) -> Result<&str, String> {
    let ok = !id.is_empty()
        && id.len() <= MAX_CLIENT_ID_CHARS
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(id)
    } else {
        Err(format!("clientMessageId must be 1 to {MAX_CLIENT_ID_CHARS} letters, digits, '-', '_' or '.'"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_one_to_two_thousand_characters_of_text() {
        assert!(check_body("hi").is_ok());
        assert!(check_body("line one\nline two\tend").is_ok());
        assert!(check_body(&"é".repeat(2000)).is_ok());
        assert!(check_body(&"é".repeat(2001)).is_err());
        assert!(check_body("").is_err() && check_body(" \n ").is_err());
        assert!(check_body("bell\u{7}").is_err());
    }

    #[test]
    fn client_message_ids_are_short_tokens() {
        assert!(check_client_message_id("3f1c-9a_01.2").is_ok());
        assert!(check_client_message_id("").is_err());
        assert!(check_client_message_id(&"a".repeat(65)).is_err());
        assert!(check_client_message_id("has space").is_err());
    }
}
