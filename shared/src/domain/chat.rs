//! Chat rules (API.md "Chat"): what a message body and a client message id may be, and the
//! preview of a body. No I/O.

pub const MAX_BODY_CHARS: usize = 2000;
/// A client's id for a message it sends (its retry key): a UUID, a ULID, a counter, base64...
pub const MAX_CLIENT_ID_CHARS: usize = 128;

/// A body of 1-2000 characters that is not only white space; control characters other than
/// line breaks (LF or CRLF) and tabs are refused.
pub fn check_body(body: &str) -> Result<&str, String> {
    let chars = body.chars().count();
    if body.trim().is_empty() || chars > MAX_BODY_CHARS {
        return Err(format!("a message is 1 to {MAX_BODY_CHARS} characters"));
    }
    if body.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err("a message may not hold control characters".into());
    }
    Ok(body)
}

/// 1-128 characters, none of them white space or control characters.
pub fn check_client_message_id(id: &str) -> Result<&str, String> {
    let ok = !id.is_empty()
        && id.chars().count() <= MAX_CLIENT_ID_CHARS
        && !id.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(id)
    } else {
        Err(format!("clientMessageId must be 1 to {MAX_CLIENT_ID_CHARS} characters without spaces"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_one_to_two_thousand_characters_of_text() {
        assert!(check_body("hi").is_ok());
        assert!(check_body("line one\r\nline two\tend").is_ok());
        assert!(check_body(&"é".repeat(2000)).is_ok());
        assert!(check_body(&"é".repeat(2001)).is_err());
        assert!(check_body("").is_err() && check_body(" \n ").is_err());
        assert!(check_body("bell\u{7}").is_err());
    }

    #[test]
    fn client_message_ids_are_short_tokens() {
        assert!(check_client_message_id("3f1c-9a_01.2").is_ok());
        assert!(check_client_message_id("q+/Zx8w==").is_ok());
        assert!(check_client_message_id("").is_err());
        assert!(check_client_message_id(&"a".repeat(129)).is_err());
        assert!(check_client_message_id("has space").is_err());
    }
}
