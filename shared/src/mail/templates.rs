//! The messages the auth flow sends, as plain text and HTML built in code. Names are escaped in
//! HTML; links use the configured app URL, never a request's Host header.

use super::Message;
use crate::domain::secret::Secret;
use time::macros::format_description;
use time::OffsetDateTime;

use crate::PRODUCT;

/// A notice to a user: a greeting, paragraphs, and a link to `path` in the app (described by
/// `link_label`, e.g. "your driver page"). Names and paragraphs are escaped in HTML.
pub fn notice(
    app_url: &str,
    path: &str,
    link_label: &str,
    to: &str,
    name: &str,
    subject: String,
    paragraphs: &[String],
) -> Message {
    let link = format!("{}{path}", app_url.trim_end_matches('/'));
    let text = format!("Hi {name},\n\n{}\n\nOpen {link_label}: {link}\n", paragraphs.join("\n\n"));
    let body: String = paragraphs.iter().map(|p| format!("<p>{}</p>", escape(p))).collect();
    let html = page(&format!(
        "<p>Hi {name},</p>{body}<p><a href=\"{link}\">Open {label}</a></p>",
        name = escape(name),
        link = escape(&link),
        label = escape(link_label),
    ));
    Message { to: to.to_owned(), subject, text, html }
}

/// The pending registration a verification link activates: when and from what kind of device it
/// was made, so the owner can tell a registration of their own from someone else's.
pub struct RegistrationFacts<'a> {
    pub at: OffsetDateTime,
    /// A label from a closed set (`domain::device::device_label`), never a raw User-Agent.
    pub device: &'a str,
}

/// Goes to an address that has confirmed nothing yet, so it carries no text chosen by whoever
/// registered it (not even the name): only what the server itself knows.
pub fn verification(
    app_url: &str,
    to: &str,
    token: &Secret,
    valid_for_hours: i64,
    registration: &RegistrationFacts<'_>,
) -> Message {
    let link = format!("{}/verify-email?token={}", app_url.trim_end_matches('/'), token.expose());
    let when = utc_words(registration.at);
    let device = registration.device;
    let text = format!(
        "Hello,\n\n\
         This address was used to sign up for {PRODUCT} on {when}, from {device}.\n\
         If that sign-up was yours, confirm your email address to finish it:\n\n\
         {link}\n\n\
         The link works once, expires in {valid_for_hours} hours, and finishes that sign-up only.\n\
         If it was not yours (another time, another device), do not use the link: whoever signed \
         up chose the password. To sign up yourself, register again: a new link comes for your \
         own sign-up, and every earlier link stops working.\n"
    );
    let html = page(&format!(
        "<p>Hello,</p>\
         <p>This address was used to sign up for {PRODUCT} on {when}, from {device}. If that \
         sign-up was yours, confirm your email address to finish it:</p>\
         <p><a href=\"{link}\">Verify my email</a></p>\
         <p>Or paste this link into your browser:<br>{link}</p>\
         <p>The link works once, expires in {valid_for_hours} hours, and finishes that sign-up \
         only. If it was not yours (another time, another device), do not use the link: whoever \
         signed up chose the password. To sign up yourself, register again: a new link comes for \
         your own sign-up, and every earlier link stops working.</p>",
        device = escape(device),
        link = escape(&link),
    ));
    Message { to: to.to_owned(), subject: format!("Verify your email for {PRODUCT}"), text, html }
}

/// To the owner of a verified account when someone registers its address again.
pub fn already_registered(app_url: &str, to: &str, name: &str) -> Message {
    let base = app_url.trim_end_matches('/');
    let (signin, forgot) = (format!("{base}/signin"), format!("{base}/forgot-password"));
    let text = format!(
        "Hi {name},\n\n\
         Someone tried to create a {PRODUCT} account with this email address, which already has one.\n\n\
         If it was you, sign in at {signin}\n\
         or reset your password at {forgot}\n\n\
         If it was not you, nothing changed and you can ignore this message.\n"
    );
    let html = page(&format!(
        "<p>Hi {name},</p>\
         <p>Someone tried to create a {PRODUCT} account with this email address, which already has one.</p>\
         <p>If it was you, <a href=\"{signin}\">sign in</a> or <a href=\"{forgot}\">reset your password</a>.</p>\
         <p>If it was not you, nothing changed and you can ignore this message.</p>",
        name = escape(name),
        signin = escape(&signin),
        forgot = escape(&forgot),
    ));
    Message { to: to.to_owned(), subject: format!("Your {PRODUCT} account"), text, html }
}

/// "1 minute", "5 minutes".
pub fn minutes(n: i64) -> String {
    if n == 1 {
        "1 minute".to_owned()
    } else {
        format!("{n} minutes")
    }
}

/// "24 November 2026 at 13:05 UTC".
fn utc_words(at: OffsetDateTime) -> String {
    let format = format_description!("[day padding:none] [month repr:long] [year] at [hour]:[minute] UTC");
    at.to_offset(time::UtcOffset::UTC).format(format).unwrap_or_else(|_| at.to_string())
}

pub fn account_locked(app_url: &str, to: &str, name: &str, minutes: i64) -> Message {
    let period = self::minutes(minutes);
    let forgot = format!("{}/forgot-password", app_url.trim_end_matches('/'));
    let text = format!(
        "Hi {name},\n\n\
         After several wrong passwords, sign-in to your {PRODUCT} account is locked for {period}.\n\n\
         If it was you, wait and try again, or reset your password now at {forgot}\n\
         If it was not you, someone may be guessing your password: reset it to be safe.\n"
    );
    let html = page(&format!(
        "<p>Hi {name},</p>\
         <p>After several wrong passwords, sign-in to your {PRODUCT} account is locked for {period}.</p>\
         <p>If it was you, wait and try again, or <a href=\"{forgot}\">reset your password</a> now. \
         If it was not you, someone may be guessing your password: reset it to be safe.</p>",
        name = escape(name),
        forgot = escape(&forgot),
    ));
    Message { to: to.to_owned(), subject: format!("{PRODUCT} sign-in locked"), text, html }
}

pub fn password_reset(
    app_url: &str,
    to: &str,
    name: &str,
    token: &Secret,
    valid_for_minutes: i64,
) -> Message {
    let link = format!("{}/reset-password?token={}", app_url.trim_end_matches('/'), token.expose());
    let text = format!(
        "Hi {name},\n\n\
         Someone asked to reset the password of your {PRODUCT} account. To choose a new one:\n\n\
         {link}\n\n\
         The link works once and expires in {valid_for_minutes} minutes.\n\
         If you did not ask, ignore this message: your password stays as it is.\n"
    );
    let html = page(&format!(
        "<p>Hi {name},</p>\
         <p>Someone asked to reset the password of your {PRODUCT} account.</p>\
         <p><a href=\"{link}\">Choose a new password</a></p>\
         <p>Or paste this link into your browser:<br>{link}</p>\
         <p>The link works once and expires in {valid_for_minutes} minutes. If you did not ask, ignore \
         this message: your password stays as it is.</p>",
        name = escape(name),
        link = escape(&link),
    ));
    Message { to: to.to_owned(), subject: format!("Reset your {PRODUCT} password"), text, html }
}

/// Sent after a reset or a change, so an owner who did not do it finds out.
pub fn password_changed(app_url: &str, to: &str, name: &str) -> Message {
    let forgot = format!("{}/forgot-password", app_url.trim_end_matches('/'));
    let text = format!(
        "Hi {name},\n\n\
         The password of your {PRODUCT} account was just changed, and your other sessions were \
         signed out.\n\n\
         If this was not you, reset your password now at {forgot}\n"
    );
    let html = page(&format!(
        "<p>Hi {name},</p>\
         <p>The password of your {PRODUCT} account was just changed, and your other sessions were \
         signed out.</p>\
         <p>If this was not you, <a href=\"{forgot}\">reset your password</a> now.</p>",
        name = escape(name),
        forgot = escape(&forgot),
    ));
    Message { to: to.to_owned(), subject: format!("Your {PRODUCT} password was changed"), text, html }
}

/// A change to the account's two-factor sign-in, and what it means for the owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TwoFactorNotice {
    Enabled,
    Disabled,
    RecoveryCodeUsed {
        left: usize,
    },
    RecoveryCodesRenewed,
    /// Someone gave the right password but a wrong code this many times.
    FailedCodes {
        count: i64,
    },
}

/// Sent on every two-factor change, so an owner who did not make it finds out.
pub fn two_factor_changed(app_url: &str, to: &str, name: &str, notice: TwoFactorNotice) -> Message {
    let (subject, what) = match notice {
        TwoFactorNotice::Enabled => (
            "Two-factor sign-in is on",
            "Two-factor sign-in was turned on for your account. Keep your recovery codes somewhere safe."
                .to_owned(),
        ),
        TwoFactorNotice::Disabled => (
            "Two-factor sign-in is off",
            "Two-factor sign-in was turned off for your account: a password alone now signs in.".to_owned(),
        ),
        TwoFactorNotice::FailedCodes { count } => (
            "Someone has your password",
            format!(
                "Someone signed in to your account with the right password but a wrong two-factor code, \
                 {count} times in a few minutes. Your account is safe thanks to two-factor, but your \
                 password is known: change it."
            ),
        ),
        TwoFactorNotice::RecoveryCodesRenewed => (
            "New recovery codes",
            "New recovery codes were made for your account; the old ones no longer work.".to_owned(),
        ),
        TwoFactorNotice::RecoveryCodeUsed { left } => (
            "A recovery code was used",
            format!("A recovery code was used to sign in to your account. You have {left} left."),
        ),
    };
    let forgot = format!("{}/forgot-password", app_url.trim_end_matches('/'));
    let text = format!("Hi {name},\n\n{what}\n\nIf this was not you, reset your password now at {forgot}\n");
    let html = page(&format!(
        "<p>Hi {name},</p><p>{what}</p>\
         <p>If this was not you, <a href=\"{forgot}\">reset your password</a> now.</p>",
        name = escape(name),
        what = escape(&what),
        forgot = escape(&forgot),
    ));
    Message { to: to.to_owned(), subject: format!("{PRODUCT}: {subject}"), text, html }
}

pub(super) fn page(body: &str) -> String {
    format!("<!doctype html><html><body style=\"font-family:sans-serif\">{body}</body></html>")
}

pub(super) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::secret::new_token;

    #[test]
    fn verification_says_when_and_from_what_and_carries_no_registrant_text() {
        let token = new_token();
        let at = time::macros::datetime!(2026-11-24 13:05:09 UTC);
        let facts = RegistrationFacts { at, device: "Firefox on Linux" };
        let m = verification("https://app.example.edu/", "a@example.edu", &token, 24, &facts);
        let link = format!("https://app.example.edu/verify-email?token={}", token.expose());
        assert!(m.text.contains(&link) && m.html.contains(&link));
        for body in [&m.text, &m.html] {
            assert!(body.contains("on 24 November 2026 at 13:05 UTC, from Firefox on Linux"), "{body}");
            assert!(body.contains("do not use the link: whoever"), "{body}");
        }
        assert!(m.text.contains("24 hours"));
        assert_eq!(m.to, "a@example.edu");
    }

    #[test]
    fn minutes_are_counted_in_words() {
        assert_eq!(minutes(1), "1 minute");
        assert_eq!(minutes(5), "5 minutes");
    }

    #[test]
    fn already_registered_has_no_token_and_points_to_recovery() {
        let m = already_registered("https://app.example.edu", "a@example.edu", "Al");
        assert!(!m.text.contains("token="));
        assert!(m.text.contains("https://app.example.edu/signin"));
        assert!(m.html.contains("https://app.example.edu/forgot-password"));
    }
}
