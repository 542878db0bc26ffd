//! History (backwards with a sealed cursor, forwards with `after` to catch up), sending, and
//! read markers.
//!
//! A send is one transaction: the message, its client id's claim (`attribute_not_exists`: a
//! resend, even a concurrent one, finds the stored message instead of adding one) and the
//! conversation's last message, on condition that the conversation is still open.

use super::views::MessageView;
use super::ChatService;
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

/// Sends retried while DynamoDB keeps answering that the conversation item is in another
/// transaction (another message being stored at that moment).
const ATTEMPTS: usize = 8;

/// Index of the client id's claim in a send's transaction (after the message).
const CLAIM: usize = 1;
/// Index of the conversation's update (after the message and the claim).
const CONVERSATION: usize = 2;

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
                Ok(Page { items: page.iter().map(MessageView::from).collect(), next_cursor })
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
                Ok(Page { items: page.iter().map(MessageView::from).collect(), next_cursor })
            }
        }
    }

    /// `POST /api/chat/conversations/{id}/messages` (and the WebSocket's `sendMessage`).
    pub async fn send(&self, cookie: &str, id: &str, body: &str, client_message_id: &str) -> AppResult<Sent> {
        let caller = self.auth.caller(cookie).await?;
        let conversation = self.membership(&caller, id).await?;
        if self.blocked_direct(&caller, &conversation).await? {
            return Err(AppError::NotFound);
        }
        let body = check_body(body).map_err(AppError::InvalidMessage)?;
        let client_id = check_client_message_id(client_message_id).map_err(AppError::Incomplete)?;
        let resend = messages::by_client_id(self.store.as_ref(), conversation.id, caller.user.id, client_id);
        if let Some(stored) = resend.await? {
            return Ok(Sent { message: MessageView::from(&stored), created: false });
        }
        if conversation.closed {
            return Err(AppError::ConversationClosed);
        }
        self.limiter.hit(Rule::ChatSend, &caller.user.id.to_string()).await?;
        let message = MessageRecord {
            id: Ulid::new(),
            conversation_id: conversation.id,
            sender_id: Some(caller.user.id),
            sender_name: caller.user.name.clone(),
            body: body.to_owned(),
            sent_at: caller.now,
            client_message_id: Some(client_id.to_owned()),
            kind: MessageKind::User,
        };
        let mut writes = messages::put(&message);
        writes.push(conversation_repo::change(
            conversation.id,
            conversation_repo::Change { last_message: Some(&message), if_open: true, ..Default::default() },
        ));
        for _ in 0..ATTEMPTS {
            match self.store.write(writes.clone()).await {
                Ok(()) => {
                    info!(
                        conversation_id = %conversation.id,
                        message_id = %message.id,
                        user_id = %caller.user.id,
                        "message stored"
                    );
                    return Ok(Sent { message: MessageView::from(&message), created: true });
                }
                Err(StoreError::ConditionFailed { index: CLAIM }) => {
                    let stored = messages::by_client_id(
                        self.store.as_ref(),
                        conversation.id,
                        caller.user.id,
                        client_id,
                    );
                    let stored =
                        stored.await?.ok_or_else(|| AppError::Internal("claimed message missing".into()))?;
                    return Ok(Sent { message: MessageView::from(&stored), created: false });
                }
                Err(StoreError::ConditionFailed { index: CONVERSATION }) => {
                    return Err(AppError::ConversationClosed)
                }
                // Another message of the conversation was being stored at that moment.
                Err(StoreError::Contention) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::ServiceUnavailable { retry_after_secs: 1 })
    }

    /// `POST /api/chat/conversations/{id}/read {messageId}`: moves the caller's read marker
    /// forward to a message of the conversation (never back).
    pub async fn mark_read(&self, cookie: &str, id: &str, message_id: &str) -> AppResult<()> {
        let caller = self.auth.caller(cookie).await?;
        let conversation = self.membership(&caller, id).await?;
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
