//! Display names as people type them. Other people see them (in ride lists, in chat), so they
//! must not carry invisible text: control characters, and format controls such as the bidi
//! overrides that make "gnp.exe" read as "exe.png" (U+202E) or zero-width spaces. The two
//! joiners (U+200C, U+200D) are format characters too, but Persian, Indic and emoji spelling
//! needs them and they cannot reorder or hide text, so names may use them.

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

pub const MAX_NAME_CHARS: usize = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("name is required")]
    Empty,
    #[error("name is longer than 100 characters")]
    TooLong,
    #[error("name contains control characters")]
    ControlCharacters,
    #[error("name contains invisible formatting characters")]
    FormatCharacters,
}

const ZERO_WIDTH_NON_JOINER: char = '\u{200C}';
const ZERO_WIDTH_JOINER: char = '\u{200D}';

fn is_forbidden_format(c: char) -> bool {
    c.general_category() == GeneralCategory::Format && c != ZERO_WIDTH_NON_JOINER && c != ZERO_WIDTH_JOINER
}

/// Trims and validates a display name; inner whitespace runs collapse to one space.
pub fn parse_name(input: &str) -> Result<String, NameError> {
    if input.chars().any(char::is_control) {
        return Err(NameError::ControlCharacters);
    }
    if input.chars().any(is_forbidden_format) {
        return Err(NameError::FormatCharacters);
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

    #[test]
    fn rejects_bidi_and_other_format_controls() {
        for bad in [
            "Alice\u{202E}gnp.exe",
            "\u{2066}Eve\u{2069}",
            "Bob\u{200B}",
            "Zed\u{FEFF}",
            "A\u{00AD}B",
            "X\u{061C}Y",
        ] {
            assert_eq!(parse_name(bad), Err(NameError::FormatCharacters), "{bad:?}");
        }
        assert!(parse_name("نیک\u{200C}نام").is_ok(), "the joiners scripts need are allowed");
        assert!(parse_name("👩\u{200D}🚀 Ada").is_ok());
    }
}
