//! Driver's license details as entered by the user (OCR checks come in the driver phase).

use time::Date;

// Calendar dates travel as `YYYY-MM-DD` (API.md), in JSON and in the store.
time::serde::format_description!(pub ymd, Date, "[year]-[month]-[day]");

/// License details as entered and checked: held in memory only. The full number is never
/// stored or shown (see `repo::accounts::LicenseRecord`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct License {
    pub legal_name: String,
    /// Upper-case letters and digits only (spaces and dashes removed).
    pub number: String,
    pub region: String,
    pub expires_on: Date,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LicenseError {
    #[error("license legal name must be 1-100 characters without control characters")]
    BadLegalName,
    #[error("license number must be 4-20 letters or digits")]
    BadNumber,
    #[error("license region must be 2-64 characters")]
    BadRegion,
    #[error("license expiry date is not plausible")]
    BadExpiry,
}

impl License {
    /// Normalises user input; `today` bounds the expiry to a plausible window.
    pub fn parse(
        legal_name: &str,
        number: &str,
        region: &str,
        expires_on: Date,
        today: Date,
    ) -> Result<License, LicenseError> {
        let legal_name = super::name::parse_name(legal_name).map_err(|_| LicenseError::BadLegalName)?;
        let number: String =
            number.chars().filter(|c| !matches!(c, ' ' | '-')).collect::<String>().to_uppercase();
        if !(4..=20).contains(&number.len()) || !number.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(LicenseError::BadNumber);
        }
        let region = region.trim();
        if !(2..=64).contains(&region.chars().count()) || region.chars().any(char::is_control) {
            return Err(LicenseError::BadRegion);
        }
        // An expired license may be entered (it is re-entered when renewed); a date decades off
        // either way is a typo.
        let years = (expires_on.year() - today.year()).abs();
        if years > 20 {
            return Err(LicenseError::BadExpiry);
        }
        Ok(License { legal_name, number, region: region.to_owned(), expires_on })
    }

    pub fn number_last4(&self) -> &str {
        &self.number[self.number.len().saturating_sub(4)..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn normalises_and_validates() {
        let today = date!(2026 - 11 - 24);
        let l =
            License::parse(" Alice  Example ", "d12-345 678", "CA", date!(2029 - 01 - 31), today).unwrap();
        assert_eq!(l.legal_name, "Alice Example");
        assert_eq!(l.number, "D12345678");
        assert_eq!(l.number_last4(), "5678");
        assert_eq!(
            License::parse("A", "12", "CA", date!(2029 - 01 - 31), today),
            Err(LicenseError::BadNumber)
        );
        assert_eq!(
            License::parse("A", "D1234", "C", date!(2029 - 01 - 31), today),
            Err(LicenseError::BadRegion)
        );
        assert_eq!(
            License::parse("A", "D1234", "CA", date!(2099 - 01 - 31), today),
            Err(LicenseError::BadExpiry)
        );
    }
}
