//! History (backwards with a sealed cursor, forwards with `after` to catch up), sending, and
//! read markers.
//!
//! A send is one transaction: the message, its client id's claim (`attribute_not_exists`: a
//! resend, even a concurrent one, finds the stored message instead of adding one), the
//! conversation's last message on condition that it is still the one read (so messages are
//! stored in id order, and a send decided on an open conversation with the sender in it cannot
//! land after a cancellation or a leave), and the sender's read marker.

use super::views::MessageView;
use super::ChatService;
use crate::auth::Caller;
use crate::cursor::{self, Page};
use crate::domain::chat::{check_body, check_client_message_id};
use crate::error::{AppError, AppResult};
use crate::rate_limit::Rule;
use crate::repo::conversations as conversation_repo;
use crate::repo::messages::{self, MessageKind, MessageRecord};
use crate::store::{Cursor, StoreError};
use tracing::info;
use ulid::Ulid;

/// Which way a history page reads.
pub enum HistoryFrom<'a> {
    /// The newest messages, or those before a previous page's (sealed) cursor.
    Before(Option<&'a str>),
    /// The messages after this one, oldest first.
    After(&'a str),
}

/// A message sent: the stored message, and whether this request stored it (`false`: a resend
/// of one stored before).
pub struct Sent {
    pub message: MessageView,
    pub created: bool,
}

/// Sends decided again after another message (or a ride change) came first: one wins each
/// round, and the pauses between rounds grow, so a busy ride chat settles well within this.
const ATTEMPTS: u32 = 20;

/// Positions in a send's transaction: the message, then its client id's claim.
const MESSAGE: usize = 0;
const CLAIM: usize = 1;

/// A message id after the conversation's last one: ULIDs sort by time, and within one
/// millisecond (or behind another container's clock) this still sorts after it.
fn next_id(last: Option<Ulid>) -> Ulid {
    let fresh = Ulid::new();
    match last {
        Some(last) if fresh <= last => last.increment().unwrap_or(fresh),
        _ => fresh,
    }
}

impl ChatService {
    /// `GET /api/chat/conversations/{id}/messages`.
    pub async fn history(
        &self,
        cookie: &str,
        id: &str,
        from: HistoryFrom<'_>,
        limit: usize,
    ) -> AppResult<Page<MessageView>> {
        let caller = self.auth.caller(cookie).await?;
        let conversation = self.membership(&caller, id).await?;
        match from {
            HistoryFrom::Before(sealed) => {
                let scope = format!("messages {} {}", caller.user.id, conversation.id);
                let before = sealed.map(|s| cursor::open(self.keys()?, &scope, s).map(Cursor)).transpose()?;
                let (page, next) =
                    messages::history(self.store.as_ref(), conversation.id, before, limit).await?;
                let next_cursor = next.map(|c| cursor::seal(self.keys()?, &scope, &c.0)).transpose()?;
                Ok(Page { items: self.shown_to(&caller.user, page).await?, next_cursor })
            }
            HistoryFrom::After(after) => {
                let after: Ulid =
                    after.parse().map_err(|_| AppError::invalid("after must be a message id"))?;
                let mut page =
                    messages::since(self.store.as_ref(), conversation.id, Some(after), limit + 1).await?;
                // More to catch up: the cursor is the last message's id, for the next `after`.
                let more = page.len() > limit;
                page.truncate(limit);
                let next_cursor = more.then(|| page.last().map(|m| m.id.to_string())).flatten();
                Ok(Page { items: self.shown_to(&caller.user, page).await?, next_cursor })
            }
        }
    }

    /// `POST /api/chat/conversations/{id}/messages` (and the WebSocket's `sendMessage`).
    pub async fn send(&self, cookie: &str, id: &str, body: &str, client_message_id: &str) -> AppResult<Sent> {
        let caller = self.auth.caller(cookie).await?;
        self.send_as(&caller, id, body, client_message_id, None).await
    }

    /// A send from `caller` over the WebSocket connection `from` (none over HTTP): stored, then
    /// delivered to every member's connections.
    pub(super) async fn send_as(
        &self,
        caller: &Caller,
        id: &str,
        body: &str,
        client_message_id: &str,
        from: Option<&str>,
    ) -> AppResult<Sent> {
        let body = check_body(body).map_err(AppError::InvalidMessage)?;
        let client_id = check_client_message_id(client_message_id).map_err(AppError::InvalidMessage)?;
        let mut conversation = self.membership(caller, id).await?;
        if self.blocked_direct(caller, &conversation).await? {
            return Err(AppError::NotFound);
        }
        if let Some(stored) = self.resent(conversation.id, caller.user.id, client_id).await? {
            return Ok(stored);
        }
        self.limiter.hit(Rule::ChatSend, &caller.user.id.to_string()).await?;
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                // Another message (or a ride change) came first: decide again on the conversation
                // as it is now (still open, the sender still a member).
                crate::rides::before_attempt(attempt).await;
                conversation = self.membership(caller, id).await?;
            }
            if conversation.closed {
                return Err(AppError::ConversationClosed);
            }
            let message = MessageRecord {
                id: next_id(conversation.last_message_id),
                conversation_id: conversation.id,
                sender_id: Some(caller.user.id),
                sender_name: caller.user.name.clone(),
                body: body.to_owned(),
                sent_at: caller.now,
                client_message_id: Some(client_id.to_owned()),
                kind: MessageKind::User,
                mention: None,
            };
            let mut writes = messages::put(&message);
            writes.push(conversation_repo::change(
                conversation.id,
                conversation_repo::Change {
                    last_message: Some(&message),
                    if_last: Some(conversation.last_message_id),
                    ..Default::default()
                },
            ));
            writes.push(conversation_repo::sent_by(caller.user.id, conversation.id, message.id));
            match self.store.write(writes).await {
                Ok(()) => {
                    let delivered = self.delivery.user_message(&conversation, &message, from).await;
                    info!(
                        conversation_id = %conversation.id,
                        message_id = %message.id,
                        user_id = %caller.user.id,
                        connections = delivered.connections,
                        gone = delivered.gone,
                        failed = delivered.failed,
                        digests = delivered.digests,
                        "message sent"
                    );
                    crate::metrics::message_sent();
                    return Ok(Sent { message: MessageView::from(&message), created: true });
                }
                // Sent already (a concurrent resend won), or an earlier attempt that did land.
                Err(StoreError::ConditionFailed { index: MESSAGE | CLAIM }) => {
                    if let Some(stored) = self.resent(conversation.id, caller.user.id, client_id).await? {
                        return Ok(stored);
                    }
                }
                Err(StoreError::ConditionFailed { .. } | StoreError::Contention) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Contended)
    }

    /// The message a sender already stored under this client id, answered as a resend.
    async fn resent(&self, conversation: Ulid, sender: Ulid, client_id: &str) -> AppResult<Option<Sent>> {
        let stored = messages::by_client_id(self.store.as_ref(), conversation, sender, client_id).await?;
        Ok(stored.map(|m| Sent { message: MessageView::from(&m), created: false }))
    }

    /// `POST /api/chat/conversations/{id}/read {messageId}`: moves the caller's read marker
    /// forward to a message of the conversation (never back).
    pub async fn mark_read(&self, cookie: &str, id: &str, message_id: &str) -> AppResult<()> {
        let caller = self.auth.caller(cookie).await?;
        self.mark_read_as(&caller, id, message_id).await
    }

    pub(super) async fn mark_read_as(&self, caller: &Caller, id: &str, message_id: &str) -> AppResult<()> {
        let conversation = self.membership(caller, id).await?;
        let message: Ulid = message_id.parse().map_err(|_| AppError::NotFound)?;
        let keys = [messages::message_key(conversation.id, message)];
        if self.store.get_many(&keys).await?.pop().flatten().is_none() {
            return Err(AppError::NotFound);
        }
        let link = conversation_repo::get_link(self.store.as_ref(), caller.user.id, conversation.id).await?;
        if link.and_then(|l| l.last_read).is_some_and(|read| read >= message) {
            return Ok(());
        }
        match self
            .store
            .write(vec![conversation_repo::mark_read(caller.user.id, conversation.id, message)])
            .await
        {
            Ok(()) => Ok(()),
            // No link: not a member any more.
            Err(StoreError::ConditionFailed { .. }) => Err(AppError::NotFound),
            Err(e) => Err(e.into()),
        }
    }
}
