//! The chat's one mail: unread messages for a member who had no open connection when they
//! arrived. It shows short previews only (the messages stay in the app), names senders by their
//! registered name, and never shows an email address.

use super::ride_templates::Recipient;
use super::{templates, Message};

/// How much of each message a digest shows.
pub const PREVIEW_CHARS: usize = 80;

/// One unread message as a digest shows it.
pub struct Preview<'a> {
    pub sender: &'a str,
    pub body: &'a str,
}

/// The start of a message on one line: whitespace runs folded, cut at `PREVIEW_CHARS`.
pub fn preview(body: &str) -> String {
    let folded = body.split_whitespace().collect::<Vec<_>>().join(" ");
    match folded.char_indices().nth(PREVIEW_CHARS) {
        Some((cut, _)) => format!("{}…", &folded[..cut]),
        None => folded,
    }
}

/// `place` names the conversation: "the ride Main gate → Airport" or "your chat with Ana".
pub fn unread_digest(
    app_url: &str,
    to: &Recipient,
    conversation_id: &str,
    place: &str,
    previews: &[Preview],
    more: bool,
) -> Message {
    let mut paragraphs = vec![format!("You have unread messages in {place}:")];
    paragraphs.extend(previews.iter().map(|p| format!("{}: {}", p.sender, preview(p.body))));
    if more {
        paragraphs.push("…and more.".into());
    }
    paragraphs.push(
        "You get at most one of these an hour for each conversation, and none while the app is open.".into(),
    );
    let path = format!("/chat/{conversation_id}");
    let subject = format!("Unread messages in {place}");
    templates::notice(app_url, &path, "the conversation", to.email, to.name, subject, &paragraphs)
}
