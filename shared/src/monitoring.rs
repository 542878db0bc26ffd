//! Error monitoring: Sentry, when `SENTRY_DSN` is set (every function, and carpool-local), off
//! otherwise, at no cost: no client, no layer, no per-request hub.
//!
//! Errors logged with `tracing::error!` and panics become events. Each carries the function, the
//! release (`carpool@<crate version>`) and the environment (`SENTRY_ENVIRONMENT`); a request's
//! also its id, route and API Gateway request id (`within`), and the signed-in user by id only
//! (`identify`). Before anything leaves, `scrub` drops cookies, `Authorization`, bodies,
//! query strings and every field named like a secret, keeps only the user's id, and masks email
//! addresses wherever they appear.

use crate::domain::email::masked;
use sentry::protocol::{Event, User};
use sentry::{ClientInitGuard, ClientOptions, Hub};
use serde_json::Value;
use std::borrow::Cow;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Keeps the client for the life of the process (dropping it would flush and stop it).
static CLIENT: OnceLock<ClientInitGuard> = OnceLock::new();

/// How long an invocation may wait at its end for its events to be sent.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// Field names whose values never leave: credentials, bodies, query strings.
const SECRET_NAMES: [&str; 16] = [
    "password",
    "token",
    "secret",
    "cookie",
    "session",
    "authorization",
    "credential",
    "key",
    "code",
    "totp",
    "recovery",
    "license",
    "body",
    "data",
    "query_string",
    "dsn",
];

/// Starts the client when `dsn` is given; answers whether monitoring is on.
pub fn init(function: &'static str, dsn: Option<&str>, environment: &str) -> bool {
    let Some(dsn) = dsn.map(str::trim).filter(|d| !d.is_empty()) else { return false };
    let options = ClientOptions {
        release: Some(concat!("carpool@", env!("CARGO_PKG_VERSION")).into()),
        environment: Some(environment.to_owned().into()),
        send_default_pii: false,
        before_send: Some(Arc::new(|event| scrub(tag(event)))),
        before_breadcrumb: Some(Arc::new(|mut crumb| {
            crumb.message = crumb.message.map(|m| mask_emails(&m).into_owned());
            crumb.data.retain(|key, _| !is_secret_name(key));
            crumb.data.values_mut().for_each(scrub_value);
            Some(crumb)
        })),
        ..Default::default()
    };
    let guard = sentry::init((dsn, options));
    sentry::configure_scope(|scope| scope.set_tag("function", function));
    let on = guard.is_enabled();
    let _ = CLIENT.set(guard);
    on
}

/// Whether events are being sent.
pub fn enabled() -> bool {
    Hub::current().client().is_some_and(|c| c.is_enabled())
}

tokio::task_local! {
    /// The request (or event) being handled on this task: what its error reports are tagged
    /// with. (Scope changes on a Sentry hub do not survive `tracing` spans, which fork the hub
    /// on every entry; a task-local does.)
    static CURRENT: Current;
}

struct Current {
    request_id: String,
    route: String,
    apigw_request_id: Option<String>,
    user: OnceLock<String>,
}

/// Runs `work`, one request or event, with its error reports tagged with its ids and route
/// (directly when monitoring is off).
pub async fn within<T>(
    request_id: &str,
    route: &str,
    apigw_request_id: Option<&str>,
    work: impl std::future::Future<Output = T>,
) -> T {
    if !enabled() {
        return work.await;
    }
    let current = Current {
        request_id: request_id.to_owned(),
        route: route.to_owned(),
        apigw_request_id: apigw_request_id.map(str::to_owned),
        user: OnceLock::new(),
    };
    CURRENT.scope(current, work).await
}

/// Names the signed-in user on the current request's error reports, by id only.
pub fn identify(user: ulid::Ulid) {
    let _ = CURRENT.try_with(|current| current.user.set(user.to_string()));
}

/// The current request's tags and user, on an event captured while handling it.
fn tag(mut event: Event<'static>) -> Event<'static> {
    let _ = CURRENT.try_with(|current| {
        event.tags.insert("request_id".into(), current.request_id.clone());
        event.tags.insert("route".into(), current.route.clone());
        if let Some(id) = &current.apigw_request_id {
            event.tags.insert("apigw_request_id".into(), id.clone());
        }
        if let Some(user) = current.user.get() {
            event.user = Some(User { id: Some(user.clone()), ..Default::default() });
        }
    });
    event
}

/// Sends what this invocation captured before it ends (Lambda freezes the process after).
pub async fn flush() {
    if let Some(client) = Hub::current().client().filter(|c| c.is_enabled()) {
        // Bounded here too: the transport's HTTP calls have no timeout of their own.
        let flushing = tokio::task::spawn_blocking(move || client.flush(Some(FLUSH_TIMEOUT)));
        let _ = tokio::time::timeout(FLUSH_TIMEOUT + Duration::from_millis(500), flushing).await;
    }
}

fn is_secret_name(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_NAMES.iter().any(|secret| key.contains(secret))
}

/// What an event may carry out of the process (see the module's comment).
pub fn scrub(event: Event<'static>) -> Option<Event<'static>> {
    let user_id = event.user.as_ref().and_then(|u| u.id.clone());
    let mut json = serde_json::to_value(&event).ok()?;
    if let Some(request) = json.get_mut("request").and_then(Value::as_object_mut) {
        request.remove("headers");
        request.remove("env");
    }
    scrub_value(&mut json);
    let mut event: Event<'static> = serde_json::from_value(json).ok()?;
    event.user = user_id.map(|id| User { id: Some(id), ..Default::default() });
    Some(event)
}

fn scrub_value(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|key, _| !is_secret_name(key));
            map.values_mut().for_each(scrub_value);
        }
        Value::Array(items) => items.iter_mut().for_each(scrub_value),
        Value::String(text) => {
            if let Cow::Owned(masked) = mask_emails(text) {
                *text = masked;
            }
        }
        _ => {}
    }
}

/// `text` with every email address in it masked (`a***@example.edu`): around each `@`, the
/// local part (every character an address may have there) and the domain's labels, a dot that
/// ends a sentence left out; `carpool@0.1.0` is no address (its domain does not end in a name).
pub fn mask_emails(text: &str) -> Cow<'_, str> {
    if !text.contains('@') {
        return Cow::Borrowed(text);
    }
    const LOCAL_SPECIALS: &str = "!#$%&'*+/=?^_`{|}~-.";
    let is_local = |c: char| c.is_alphanumeric() || LOCAL_SPECIALS.contains(c);
    let is_domain = |c: char| c.is_alphanumeric() || c == '-' || c == '.';
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (i, &(at, c)) in chars.iter().enumerate() {
        if c != '@' || at < copied {
            continue;
        }
        let start = chars[..i].iter().rev().take_while(|(_, c)| is_local(*c)).last().map_or(at, |(p, _)| *p);
        let end_chars = chars[i + 1..].iter().take_while(|(_, c)| is_domain(*c)).count();
        let mut domain = &text[at + 1..chars.get(i + 1 + end_chars).map_or(text.len(), |(p, _)| *p)];
        domain = domain.trim_end_matches(['.', '-']);
        let top = domain.rsplit_once('.').map(|(_, top)| top).unwrap_or_default();
        let is_address = start < at && top.len() >= 2 && top.chars().all(char::is_alphabetic);
        if is_address && start >= copied {
            let end = at + 1 + domain.len();
            out.push_str(&text[copied..start]);
            out.push_str(&masked(&text[start..end]));
            copied = end;
        }
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentry::protocol::Request;

    #[test]
    fn emails_are_masked_in_any_text() {
        assert_eq!(mask_emails("no address here"), "no address here");
        assert_eq!(
            mask_emails("user alice@example.edu (bob.b@cs.example.edu) failed"),
            "user a***@example.edu (b***@cs.example.edu) failed"
        );
        assert_eq!(mask_emails("@handle and a@b"), "@handle and a@b");
        assert_eq!(mask_emails("carpool@0.1.0"), "carpool@0.1.0");
        assert_eq!(mask_emails("from john_o'neil+x@example.edu."), "from j***@example.edu.");
        // `#` may be in an address: over-masking a key is safe.
        assert_eq!(mask_emails("EMAIL#sam@example.edu/EMAIL"), "E***@example.edu/EMAIL");
    }

    #[test]
    fn the_scrubber_keeps_no_secret_no_body_and_the_user_by_id_only() {
        let mut event =
            Event { message: Some("sign-in failed for alice@example.edu".into()), ..Default::default() };
        event.user = Some(User {
            id: Some("01JD3C0000000000000000000A".into()),
            email: Some("alice@example.edu".into()),
            username: Some("alice".into()),
            ..Default::default()
        });
        event.request = Some(Request {
            data: Some(r#"{"password":"hunter2"}"#.into()),
            cookies: Some("__Host-session=abc".into()),
            query_string: Some("token=xyz".into()),
            headers: [("Authorization".to_owned(), "Bearer x".to_owned())].into_iter().collect(),
            ..Default::default()
        });
        event.extra.insert("session_token".into(), "abc".into());
        event.extra.insert("route".into(), "/api/auth/signin".into());
        event.tags.insert("function".into(), "signin".into());
        let scrubbed = scrub(event).unwrap();
        let json = serde_json::to_string(&scrubbed).unwrap();
        for secret in ["hunter2", "__Host-session", "xyz", "Bearer", "abc", "alice@example.edu", "\"alice\""]
        {
            assert!(!json.contains(secret), "{secret} left in {json}");
        }
        assert!(json.contains("a***@example.edu"));
        assert!(json.contains("/api/auth/signin") && json.contains("signin"));
        assert_eq!(scrubbed.user.unwrap().id.as_deref(), Some("01JD3C0000000000000000000A"));
    }
}
