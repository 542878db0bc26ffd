//! The messages the auth flow sends, as plain text and HTML built in code. Names are escaped in
//! HTML; links use the configured app URL, never a request's Host header.

use super::Message;
use crate::domain::secret::Secret;

use crate::PRODUCT;

pub fn verification(app_url: &str, to: &str, name: &str, token: &Secret, valid_for_hours: i64) -> Message {
    let link = format!("{}/verify-email?token={}", app_url.trim_end_matches('/'), token.expose());
    let text = format!(
        "Hi {name},\n\n\
         Confirm your email address to finish signing up for {PRODUCT}:\n\n\
         {link}\n\n\
         The link works once and expires in {valid_for_hours} hours.\n\
         If you did not sign up, ignore this message: no account is created without it.\n"
    );
    let html = page(&format!(
        "<p>Hi {name},</p>\
         <p>Confirm your email address to finish signing up for {PRODUCT}:</p>\
         <p><a href=\"{link}\">Verify my email</a></p>\
         <p>Or paste this link into your browser:<br>{link}</p>\
         <p>The link works once and expires in {valid_for_hours} hours. If you did not sign up, \
         ignore this message.</p>",
        name = escape(name),
        link = escape(&link),
    ));
    Message { to: to.to_owned(), subject: format!("Verify your email for {PRODUCT}"), text, html }
}

pub fn already_registered(app_url: &str, to: &str, name: &str) -> Message {
    let base = app_url.trim_end_matches('/');
    let (signin, forgot) = (format!("{base}/signin"), format!("{base}/forgot-password"));
    let text = format!(
        "Hi {name},\n\n\
         Someone tried to create a {PRODUCT} account with this email address, which already has one.\n\n\
         If it was you, sign in at {signin}\n\
         or reset your password at {forgot}\n\
         If you have not verified your address yet, you can ask for a new verification link on the \
         sign-in page.\n\n\
         If it was not you, nothing changed and you can ignore this message.\n"
    );
    let html = page(&format!(
        "<p>Hi {name},</p>\
         <p>Someone tried to create a {PRODUCT} account with this email address, which already has one.</p>\
         <p>If it was you, <a href=\"{signin}\">sign in</a> or <a href=\"{forgot}\">reset your password</a>. \
         If you have not verified your address yet, you can ask for a new verification link on the \
         sign-in page.</p>\
         <p>If it was not you, nothing changed and you can ignore this message.</p>",
        name = escape(name),
        signin = escape(&signin),
        forgot = escape(&forgot),
    ));
    Message { to: to.to_owned(), subject: format!("Your {PRODUCT} account"), text, html }
}

pub fn account_locked(app_url: &str, to: &str, name: &str, minutes: i64) -> Message {
    let period = if minutes == 1 { "1 minute".to_owned() } else { format!("{minutes} minutes") };
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

fn page(body: &str) -> String {
    format!("<!doctype html><html><body style=\"font-family:sans-serif\">{body}</body></html>")
}

fn escape(s: &str) -> String {
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
    fn verification_link_in_both_bodies() {
        let token = new_token();
        let m = verification("https://app.example.edu/", "a@example.edu", "<Al & Bo>", &token, 24);
        let link = format!("https://app.example.edu/verify-email?token={}", token.expose());
        assert!(m.text.contains(&link) && m.html.contains(&link));
        assert!(m.html.contains("&lt;Al &amp; Bo&gt;") && !m.html.contains("<Al"));
        assert!(m.text.contains("24 hours"));
        assert_eq!(m.to, "a@example.edu");
    }

    #[test]
    fn already_registered_has_no_token_and_points_to_recovery() {
        let m = already_registered("https://app.example.edu", "a@example.edu", "Al");
        assert!(!m.text.contains("token="));
        assert!(m.text.contains("https://app.example.edu/signin"));
        assert!(m.html.contains("https://app.example.edu/forgot-password"));
    }
}
