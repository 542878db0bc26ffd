//! Where a driver's license was issued. People type "CA", "California" or "Ontario"; the store
//! keeps one canonical spelling so rules can rely on it: `US-CA` for a US state, district or
//! territory, `CA-ON` for a Canadian province or territory, and the country's ISO name and code
//! for any other country ("Germany (DE)"). A bare two-letter code or a name means a US state when
//! it is one ("DE" is Delaware, "Georgia" the state), else a country; every canonical spelling
//! parses back to itself.

use super::region_data::{CANADIAN_SUBDIVISIONS, COUNTRIES, US_SUBDIVISIONS};

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("license region must be a US state (\"CA\" or \"California\"), a Canadian province (\"CA-ON\" or \"Ontario\") or a country")]
pub struct UnknownRegion;

/// The canonical spelling of a region, or `UnknownRegion`.
pub fn parse_region(input: &str) -> Result<String, UnknownRegion> {
    let upper = fold(input);
    let named = |list: &'static [(&'static str, &'static str)]| {
        list.iter().find(|(code, name)| *code == upper || fold(name) == upper).copied()
    };
    if let Some(code) = upper.strip_prefix("US-") {
        return find_code(&US_SUBDIVISIONS, code).map(|c| format!("US-{c}")).ok_or(UnknownRegion);
    }
    if let Some(code) = upper.strip_prefix("CA-") {
        return find_code(&CANADIAN_SUBDIVISIONS, code).map(|c| format!("CA-{c}")).ok_or(UnknownRegion);
    }
    if let Some((code, _)) = named(&US_SUBDIVISIONS) {
        return Ok(format!("US-{code}"));
    }
    if let Some((code, _)) = CANADIAN_SUBDIVISIONS.iter().find(|(_, name)| fold(name) == upper) {
        return Ok(format!("CA-{code}"));
    }
    if let Some((name, code)) = upper.strip_suffix(')').and_then(|rest| rest.rsplit_once(" (")) {
        return COUNTRIES
            .iter()
            .find(|(c, n)| *c == code && fold(n) == name)
            .map(|(c, n)| country(c, n))
            .ok_or(UnknownRegion);
    }
    named(&COUNTRIES).map(|(code, name)| country(code, name)).ok_or(UnknownRegion)
}

/// A country with its code, so it never reads as a US state of the same name ("Georgia (GE)").
fn country(code: &str, name: &str) -> String {
    format!("{name} ({code})")
}

/// Upper case, accents dropped ("Québec" is "QUEBEC"), whitespace runs as one space.
fn fold(text: &str) -> String {
    deunicode::deunicode(text).split_whitespace().collect::<Vec<_>>().join(" ").to_uppercase()
}

fn find_code<'a>(list: &[(&'a str, &str)], code: &str) -> Option<&'a str> {
    list.iter().find(|(c, _)| *c == code).map(|(c, _)| *c)
}

/// Whether a canonical region is in the United States (Textract AnalyzeID reads US documents
/// only; others go to an admin's review).
pub fn is_us(region: &str) -> bool {
    region.starts_with("US-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_become_one_canonical_form() {
        for (typed, canonical) in [
            ("CA", "US-CA"),
            ("ca", "US-CA"),
            (" california ", "US-CA"),
            ("US-ny", "US-NY"),
            ("District  of Columbia", "US-DC"),
            ("PR", "US-PR"),
            ("DE", "US-DE"),
            ("CA-ON", "CA-ON"),
            ("Ontario", "CA-ON"),
            ("Québec", "CA-QC"),
            ("Germany", "Germany (DE)"),
            ("GB", "United Kingdom (GB)"),
            ("Georgia", "US-GA"),
            ("GE", "Georgia (GE)"),
            ("georgia  (ge)", "Georgia (GE)"),
        ] {
            assert_eq!(parse_region(typed).as_deref(), Ok(canonical), "{typed:?}");
            assert_eq!(parse_region(canonical).as_deref(), Ok(canonical), "{canonical:?} round-trips");
        }
    }

    #[test]
    fn unknown_and_blank_regions_are_refused() {
        for bad in [
            "",
            "  ",
            "ZZ",
            "US-ZZ",
            "CA-XX",
            "Atlantis",
            "California Republic",
            "U S A",
            "Germany (FR)",
            "(DE)",
        ] {
            assert_eq!(parse_region(bad), Err(UnknownRegion), "{bad:?}");
        }
    }

    #[test]
    fn only_us_regions_are_us() {
        assert!(is_us("US-CA"));
        assert!(!is_us("CA-ON"));
        assert!(!is_us("Germany (DE)"));
    }
}
