//! Driver's license details as entered by the user (checked against a photo by `analyze_id` and
//! `name_match`).

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

/// A calendar date as API.md writes them, `YYYY-MM-DD`, that exists.
pub fn parse_date(text: &str) -> Result<Date, LicenseError> {
    Date::parse(text.trim(), time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| LicenseError::BadDate)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LicenseError {
    #[error("license expiresOn must be a real calendar date written YYYY-MM-DD")]
    BadDate,
    #[error("license legal name must be 1-100 characters without control characters")]
    BadLegalName,
    #[error("license number must be 4-20 letters or digits")]
    BadNumber,
    #[error(transparent)]
    BadRegion(#[from] super::region::UnknownRegion),
    #[error("license expiresOn is not a plausible expiry date (more than 15 years ahead or 20 years back)")]
    BadExpiry,
    #[error("license expiresOn is before today: this license has expired")]
    Expired,
}

impl License {
    /// Normalises user input. `today` is the campus's date: a license that expired before it is
    /// refused, and one expiring decades away is a typo.
    pub fn parse(
        legal_name: &str,
        number: &str,
        region: &str,
        expires_on: Date,
        today: Date,
    ) -> Result<License, LicenseError> {
        let legal_name = super::name::parse_name(legal_name).map_err(|_| LicenseError::BadLegalName)?;
        let number = super::analyze_id::normalise_number(number);
        if !(4..=20).contains(&number.len()) || !number.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(LicenseError::BadNumber);
        }
        let region = super::region::parse_region(region)?;
        let years_ahead = expires_on.year() - today.year();
        if !(-20..=15).contains(&years_ahead) {
            return Err(LicenseError::BadExpiry);
        }
        if expires_on < today {
            return Err(LicenseError::Expired);
        }
        Ok(License { legal_name, number, region, expires_on })
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
    fn dates_must_exist() {
        assert_eq!(parse_date("2029-01-31"), Ok(date!(2029 - 01 - 31)));
        for bad in ["2029-02-30", "2029-13-01", "31/01/2029", "2029-1-31", "", "tomorrow"] {
            assert_eq!(parse_date(bad), Err(LicenseError::BadDate), "{bad:?}");
        }
    }

    #[test]
    fn normalises_and_validates() {
        let today = date!(2026 - 11 - 24);
        let l =
            License::parse(" Alice  Example ", "d12-345 678", "CA", date!(2029 - 01 - 31), today).unwrap();
        assert_eq!(l.legal_name, "Alice Example");
        assert_eq!(l.region, "US-CA");
        assert_eq!(l.number, "D12345678");
        assert_eq!(l.number_last4(), "5678");
        assert_eq!(
            License::parse("A", "12", "CA", date!(2029 - 01 - 31), today),
            Err(LicenseError::BadNumber)
        );
        for region in ["C", "", "Atlantis"] {
            assert!(matches!(
                License::parse("A", "D1234", region, date!(2029 - 01 - 31), today),
                Err(LicenseError::BadRegion(_))
            ));
        }
        for decades_away in [date!(2099 - 01 - 31), date!(1990 - 01 - 31)] {
            assert_eq!(License::parse("A", "D1234", "CA", decades_away, today), Err(LicenseError::BadExpiry));
        }
        assert_eq!(
            License::parse("A", "D1234", "CA", date!(2026 - 11 - 23), today),
            Err(LicenseError::Expired)
        );
        assert!(
            License::parse("A", "D1234", "CA", today, today).is_ok(),
            "expiring today is entered (and expired)"
        );
    }
}
