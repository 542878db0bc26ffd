//! The messages of the driver flow: expiry reminders, review decisions, suspension. Text chosen
//! by people (names, an admin's reason) is escaped in HTML.

use super::templates;
use super::Message;
use crate::domain::driver::Alert;
use crate::PRODUCT;
use time::Date;

/// One notice with a greeting, paragraphs and a link to the driver page.
fn notice(app_url: &str, to: &str, name: &str, subject: String, paragraphs: &[String]) -> Message {
    templates::notice(app_url, "/driver", "your driver page", to, name, subject, paragraphs)
}

/// A reminder before the license expires, or the notice on the expiry day.
pub fn license_alert(app_url: &str, to: &str, name: &str, alert: Alert, expires_on: Date) -> Message {
    let (subject, first) = match alert {
        Alert::Expired => (
            format!("Your driver's license on {PRODUCT} has expired"),
            format!(
                "Your driver's license expired on {expires_on}. You are no longer shown as an available \
                 driver, and your ride offers are hidden."
            ),
        ),
        _ => {
            let days = alert.days_before();
            let when = if days == 1 { "tomorrow".to_owned() } else { format!("in {days} days") };
            (
                format!("Your driver's license expires {when}"),
                format!(
                    "Your driver's license on {PRODUCT} expires on {expires_on} ({when}). On that day you \
                     stop being shown as an available driver."
                ),
            )
        }
    };
    let second = "When you have the renewed license, enter its details (and scan it) on your driver \
                  page; then turn your availability back on."
        .to_owned();
    notice(app_url, to, name, subject, &[first, second])
}

/// An admin's decision on an application to drive.
pub fn review_decided(app_url: &str, to: &str, name: &str, approved: bool, reason: Option<&str>) -> Message {
    let (subject, mut paragraphs) = if approved {
        (
            format!("You are approved to drive on {PRODUCT}"),
            vec!["Your application to drive was approved. Turn your availability on when you are ready to \
                  offer rides."
                .to_owned()],
        )
    } else {
        (
            format!("Your application to drive on {PRODUCT}"),
            vec!["Your application to drive was not approved. You may correct your license details and \
                  apply again."
                .to_owned()],
        )
    };
    if let Some(reason) = reason {
        paragraphs.push(format!("The reviewer wrote: {reason}"));
    }
    notice(app_url, to, name, subject, &paragraphs)
}

/// A suspension or a reinstatement by an admin.
pub fn suspension_changed(app_url: &str, to: &str, name: &str, suspended: bool, reason: &str) -> Message {
    let (subject, first) = if suspended {
        (
            format!("Your driver profile on {PRODUCT} is suspended"),
            "A campus admin suspended your driver profile: you cannot offer rides until it is reinstated."
                .to_owned(),
        )
    } else {
        (
            format!("Your driver profile on {PRODUCT} is reinstated"),
            "A campus admin reinstated your driver profile. Turn your availability on when you are ready."
                .to_owned(),
        )
    };
    notice(app_url, to, name, subject, &[first, format!("The reason given: {reason}")])
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn reminders_say_when_and_escape_names() {
        let m =
            license_alert("https://app", "a@uni.edu", "<b>Al</b>", Alert::ThreeDays, date!(2026 - 12 - 10));
        assert!(m.subject.contains("in 3 days"));
        assert!(m.text.contains("2026-12-10"));
        assert!(m.html.contains("&lt;b&gt;Al"));
        let m = license_alert("https://app", "a@uni.edu", "Al", Alert::OneDay, date!(2026 - 12 - 10));
        assert!(m.subject.contains("tomorrow"));
        let m = license_alert("https://app", "a@uni.edu", "Al", Alert::Expired, date!(2026 - 12 - 10));
        assert!(m.subject.contains("expired"));
    }

    #[test]
    fn decisions_carry_the_reason_escaped() {
        let m = review_decided("https://app", "a@uni.edu", "Al", false, Some("<script>photo</script>"));
        assert!(m.text.contains("<script>photo</script>"));
        assert!(!m.html.contains("<script>"));
    }
}
