//! The session cookie exactly as API.md fixes it: `__Host-session`, HttpOnly, Secure,
//! SameSite=Lax, Path=/, and Max-Age only for "remember me". Sessions are read from this cookie
//! and nowhere else (no Authorization header, no body, no query string).

use crate::domain::session::REMEMBER_ME_LIFETIME;
use crate::error::AppError;
use axum::extract::FromRequestParts;
use axum::http::header::COOKIE;
use axum::http::request::Parts;
use cookie::{Cookie, SameSite};

pub const SESSION_COOKIE: &str = "__Host-session";
/// Marks a browser that proved itself for one user (see `auth::signin`). Sign-out leaves it.
pub const DEVICE_COOKIE: &str = "__Host-device";
/// A device stays trusted for a year after its last sign-in.
const DEVICE_COOKIE_SECONDS: i64 = 365 * 24 * 3600;

fn base(value: String) -> Cookie<'static> {
    named(SESSION_COOKIE, value)
}

fn named(name: &'static str, value: String) -> Cookie<'static> {
    Cookie::build((name, value)).http_only(true).secure(true).same_site(SameSite::Lax).path("/").build()
}

/// `Set-Cookie` value for a new session.
pub fn session_cookie(token: &str, remember_me: bool) -> String {
    let mut cookie = base(token.to_owned());
    if remember_me {
        cookie.set_max_age(cookie::time::Duration::seconds(REMEMBER_ME_LIFETIME.whole_seconds()));
    }
    cookie.to_string()
}

/// `Set-Cookie` value for a device cookie.
pub fn device_cookie(value: &str) -> String {
    let mut cookie = named(DEVICE_COOKIE, value.to_owned());
    cookie.set_max_age(cookie::time::Duration::seconds(DEVICE_COOKIE_SECONDS));
    cookie.to_string()
}

/// `Set-Cookie` value that makes the browser drop the session cookie.
pub fn clearing_cookie() -> String {
    let mut cookie = base(String::new());
    cookie.set_max_age(cookie::time::Duration::ZERO);
    cookie.to_string()
}

/// `Set-Cookie` value that makes the browser drop its device cookie (the account it vouched
/// for is deleted; sign-out leaves it).
pub fn clearing_device_cookie() -> String {
    let mut cookie = named(DEVICE_COOKIE, String::new());
    cookie.set_max_age(cookie::time::Duration::ZERO);
    cookie.to_string()
}

/// The session cookie's value from the request's `Cookie` header(s).
pub struct SessionCookie(pub String);

/// The session cookie's value among `Cookie` header values (or API Gateway's `cookies` list,
/// one `name=value` each).
pub fn find_session_cookie<'a>(headers: impl IntoIterator<Item = &'a str>) -> Option<String> {
    find_cookie(headers, SESSION_COOKIE)
}

fn find_cookie<'a>(headers: impl IntoIterator<Item = &'a str>, name: &str) -> Option<String> {
    headers
        .into_iter()
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name && !c.value().is_empty())
        .map(|c| c.value().to_owned())
}

/// The device cookie's value, if the browser sent one.
pub struct DeviceCookie(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for DeviceCookie {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let headers = parts.headers.get_all(COOKIE).iter().filter_map(|h| h.to_str().ok());
        Ok(DeviceCookie(find_cookie(headers, DEVICE_COOKIE)))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SessionCookie {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        find_session_cookie(parts.headers.get_all(COOKIE).iter().filter_map(|h| h.to_str().ok()))
            .map(SessionCookie)
            .ok_or(AppError::Unauthenticated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(set_cookie: &str) -> Vec<String> {
        let mut parts: Vec<String> = set_cookie.split("; ").map(str::to_owned).collect();
        parts.sort();
        parts
    }

    #[test]
    fn browser_session_cookie_has_no_max_age() {
        assert_eq!(
            attrs(&session_cookie("tok", false)),
            ["HttpOnly", "Path=/", "SameSite=Lax", "Secure", "__Host-session=tok"]
        );
    }

    #[test]
    fn remember_me_cookie_lasts_30_days() {
        assert_eq!(
            attrs(&session_cookie("tok", true)),
            ["HttpOnly", "Max-Age=2592000", "Path=/", "SameSite=Lax", "Secure", "__Host-session=tok"]
        );
    }

    #[test]
    fn device_cookie_lasts_a_year() {
        assert_eq!(
            attrs(&device_cookie("dev")),
            ["HttpOnly", "Max-Age=31536000", "Path=/", "SameSite=Lax", "Secure", "__Host-device=dev"]
        );
    }

    #[test]
    fn clearing_cookie_is_empty_with_max_age_zero() {
        assert_eq!(
            attrs(&clearing_cookie()),
            ["HttpOnly", "Max-Age=0", "Path=/", "SameSite=Lax", "Secure", "__Host-session="]
        );
    }
}
