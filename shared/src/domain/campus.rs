//! Campuses are pre-configured (operator data, never created by registration). A campus owns one
//! or more mail domains and may admit their subdomains (`cs.uni.edu` for `uni.edu`).

use super::email::valid_domain;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Campus {
    pub id: String,
    pub name: String,
    /// Lower-case mail domains; the first is the campus's primary domain.
    pub domains: Vec<String>,
    #[serde(default)]
    pub allow_subdomains: bool,
    /// IANA time zone, used for calendar rules such as the license expiry day.
    pub time_zone: String,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CampusError {
    #[error("campus id must be 1-40 characters of a-z, 0-9 and '-'")]
    BadId,
    #[error("campus name must be 1-120 characters")]
    BadName,
    #[error("campus needs at least one domain")]
    NoDomain,
    #[error("{0:?} is not a valid lower-case domain")]
    BadDomain(String),
    #[error("{0:?} is not an IANA time zone name such as America/New_York")]
    BadTimeZone(String),
}

impl Campus {
    pub fn validate(&self) -> Result<(), CampusError> {
        let id_ok = (1..=40).contains(&self.id.len())
            && self.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !id_ok {
            return Err(CampusError::BadId);
        }
        if self.name.trim().is_empty() || self.name.chars().count() > 120 {
            return Err(CampusError::BadName);
        }
        if self.domains.is_empty() {
            return Err(CampusError::NoDomain);
        }
        if let Some(bad) = self.domains.iter().find(|d| !valid_domain(d) || d.to_lowercase() != **d) {
            return Err(CampusError::BadDomain(bad.clone()));
        }
        // A real zone of the IANA database (bundled), so "today" can always be computed.
        if jiff::tz::TimeZone::get(&self.time_zone).is_err() {
            return Err(CampusError::BadTimeZone(self.time_zone.clone()));
        }
        Ok(())
    }

    pub fn primary_domain(&self) -> &str {
        self.domains.first().map_or("", String::as_str)
    }

    fn admits(&self, domain: &str) -> Option<usize> {
        self.domains.iter().find_map(|d| {
            if domain == d {
                Some(usize::MAX) // exact matches outrank subdomain matches
            } else if self.allow_subdomains && domain.ends_with(&format!(".{d}")) {
                Some(d.len())
            } else {
                None
            }
        })
    }
}

/// The campus an email domain belongs to: an exact domain match first, else the campus with the
/// longest matching parent domain that admits subdomains.
pub fn campus_for_domain<'a>(campuses: &'a [Campus], domain: &str) -> Option<&'a Campus> {
    campuses
        .iter()
        .filter_map(|c| c.admits(domain).map(|rank| (rank, c)))
        .max_by_key(|(rank, _)| *rank)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn campus(id: &str, domain: &str, subdomains: bool) -> Campus {
        Campus {
            id: id.into(),
            name: id.into(),
            domains: vec![domain.into()],
            allow_subdomains: subdomains,
            time_zone: "America/New_York".into(),
        }
    }

    #[test]
    fn exact_and_subdomain_matches() {
        let all = [campus("uni", "uni.edu", true), campus("strict", "strict.edu", false)];
        assert_eq!(campus_for_domain(&all, "uni.edu").unwrap().id, "uni");
        assert_eq!(campus_for_domain(&all, "cs.uni.edu").unwrap().id, "uni");
        assert!(campus_for_domain(&all, "cs.strict.edu").is_none());
        assert!(campus_for_domain(&all, "evil-uni.edu").is_none());
        assert!(campus_for_domain(&all, "uni.edu.evil.com").is_none());
        assert!(campus_for_domain(&all, "gmail.com").is_none());
    }

    #[test]
    fn exact_match_beats_parent() {
        let all = [campus("uni", "uni.edu", true), campus("med", "med.uni.edu", false)];
        assert_eq!(campus_for_domain(&all, "med.uni.edu").unwrap().id, "med");
        assert_eq!(campus_for_domain(&all, "x.med.uni.edu").unwrap().id, "uni");
    }

    #[test]
    fn validation() {
        assert!(campus("uni", "uni.edu", true).validate().is_ok());
        assert_eq!(campus("Uni", "uni.edu", true).validate(), Err(CampusError::BadId));
        assert!(matches!(campus("uni", "UNI.edu", true).validate(), Err(CampusError::BadDomain(_))));
        let mut c = campus("uni", "uni.edu", true);
        for not_a_zone in
            ["Mars", "America/Springfield", "Europe/", "", "../../etc/passwd", "Mars/Olympus_Mons"]
        {
            c.time_zone = not_a_zone.into();
            assert!(matches!(c.validate(), Err(CampusError::BadTimeZone(_))), "{not_a_zone:?}");
        }
        for real in ["America/Chicago", "Europe/Berlin", "Asia/Kolkata", "Pacific/Chatham", "UTC"] {
            c.time_zone = real.into();
            assert_eq!(c.validate(), Ok(()), "{real}");
        }
    }
}
