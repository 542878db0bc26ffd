//! The chat use cases of API.md "Chat": a member's conversations and the direct ones
//! (`conversations`), history, sending and read markers (`messages`).
//!
//! Who may read and write a conversation is its record's `members` (a ride's author and accepted
//! riders, kept in step by the ride use cases); anyone else gets `404`, like an unknown id. A
//! message is stored before anything else happens to it, then delivered (`delivery`) to the
//! members' WebSocket connections, whose frames `socket` answers.

mod conversations;
pub mod delivery;
mod messages;
mod own_data;
mod socket;
pub mod views;

pub use delivery::{Delivered, Delivery};
pub use messages::{HistoryFrom, Sent};

use views::MessageView;

use crate::auth::{AuthService, Caller};
use crate::error::{AppError, AppResult};
use crate::rate_limit::{RateLimiter, RateLimits};
use crate::repo::accounts::{self, UserRecord};
use crate::repo::conversations::{self as conversation_repo, ConversationKind, ConversationRecord};
use crate::repo::messages::MessageRecord;
use crate::repo::safety as safety_repo;
use crate::seal::KeyRing;
use crate::store::Store;
use std::collections::HashMap;
use std::sync::Arc;
use ulid::Ulid;

pub struct ChatService {
    store: Arc<dyn Store>,
    auth: Arc<AuthService>,
    limiter: RateLimiter,
    /// Seals history cursors. The functions serving these routes refuse to start without it.
    keys: Option<KeyRing>,
    delivery: Arc<Delivery>,
}

impl ChatService {
    pub fn new(
        store: Arc<dyn Store>,
        auth: Arc<AuthService>,
        limits: RateLimits,
        delivery: Arc<Delivery>,
    ) -> Self {
        let keys = auth.config().key_ring.clone();
        let limiter = RateLimiter::new(store.clone(), auth.clock(), limits);
        ChatService { store, auth, limiter, keys, delivery }
    }

    fn keys(&self) -> AppResult<&KeyRing> {
        self.keys.as_ref().ok_or_else(|| AppError::Internal("KEY_RING is not configured".into()))
    }

    /// A conversation the caller is a member of (`404` for anything else).
    async fn membership(&self, caller: &Caller, id: &str) -> AppResult<ConversationRecord> {
        let id: Ulid = id.parse().map_err(|_| AppError::NotFound)?;
        let conversation =
            conversation_repo::get(self.store.as_ref(), id).await?.ok_or(AppError::NotFound)?;
        if conversation.campus_id != caller.campus.id || !conversation.members.contains(&caller.user.id) {
            return Err(AppError::NotFound);
        }
        Ok(conversation)
    }

    /// For a direct conversation: whether either side blocked the other (then they cannot
    /// message each other, and the conversation is not found for them).
    async fn blocked_direct(&self, caller: &Caller, conversation: &ConversationRecord) -> AppResult<bool> {
        if conversation.kind != ConversationKind::Direct {
            return Ok(false);
        }
        let other = conversation.members.iter().find(|m| **m != caller.user.id);
        match other {
            Some(other) => Ok(safety_repo::is_blocked(self.store.as_ref(), caller.user.id, *other).await?),
            None => Ok(false),
        }
    }

    /// The users with these ids, by id.
    async fn users(&self, ids: &[Ulid]) -> AppResult<HashMap<Ulid, UserRecord>> {
        Ok(accounts::users_by_id(self.store.as_ref(), ids).await?)
    }

    /// `messages` as `reader` sees them: each under its sender's name as the account has it now
    /// (one batch read of the other senders).
    async fn shown_to(
        &self,
        reader: &UserRecord,
        mut messages: Vec<MessageRecord>,
    ) -> AppResult<Vec<MessageView>> {
        let others: Vec<Ulid> = senders(&messages).into_iter().filter(|id| *id != reader.id).collect();
        let mut users = if others.is_empty() { HashMap::new() } else { self.users(&others).await? };
        users.insert(reader.id, reader.clone());
        show_senders(&mut messages, &users);
        Ok(messages.iter().map(MessageView::from).collect())
    }
}

/// The distinct people `messages` name: their senders (system messages have none) and whom
/// system messages mention.
pub(crate) fn senders(messages: &[MessageRecord]) -> Vec<Ulid> {
    let mentioned = messages.iter().filter_map(|m| m.mention.as_ref().map(|p| p.user_id));
    let mut ids: Vec<Ulid> = messages.iter().filter_map(|m| m.sender_id).chain(mentioned).collect();
    ids.sort();
    ids.dedup();
    ids
}

/// Puts each message of a sender found in `users` under their current name, and of one who is
/// not (a deleted account) under `DELETED_USER`; the same for the person a system message
/// mentions, in its body. Messages keep their stored copy of the name: a deletion rewrites none
/// of them. The people `senders` names must have been looked up.
pub(crate) fn show_senders(messages: &mut [MessageRecord], users: &HashMap<Ulid, UserRecord>) {
    for message in messages {
        if let Some(sender) = message.sender_id {
            message.sender_name = accounts::shown_name(users, sender).to_owned();
        }
        if let Some(mention) = &message.mention {
            let now = accounts::shown_name(users, mention.user_id);
            if now != mention.name {
                message.body = message.body.replacen(&mention.name, now, 1);
            }
        }
    }
}
