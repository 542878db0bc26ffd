//! Display names as people type them.

pub const MAX_NAME_CHARS: usize = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("name is required")]
    Empty,
    #[error("name is longer than 100 characters")]
    TooLong,
    #[error("name contains control characters")]
    ControlCharacters,
}

/// Trims and validates a display name; inner whitespace runs collapse to one space.
pub fn parse_name(input: &str) -> Result<String, NameError> {
    if input.chars().any(char::is_control) {
        return Err(NameError::ControlCharacters);
    }
    let name = input.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(NameError::TooLong);
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_collapses() {
        assert_eq!(parse_name("  Alice   Example ").unwrap(), "Alice Example");
        assert_eq!(parse_name("Zoë Ågren-O'Neil").unwrap(), "Zoë Ågren-O'Neil");
    }

    #[test]
    fn rejects_bad_names() {
        assert_eq!(parse_name("   "), Err(NameError::Empty));
        assert_eq!(parse_name("Al\u{7}ice"), Err(NameError::ControlCharacters));
        assert_eq!(parse_name("Alice\nEve"), Err(NameError::ControlCharacters));
        assert_eq!(parse_name(&"x".repeat(101)), Err(NameError::TooLong));
    }
}
