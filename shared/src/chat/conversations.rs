//! A member's conversations, most recent activity first, and the direct conversation of two users.
//!
//! The list is one Query of the caller's own partition (their conversation links, with read
//! markers) and one batch read of the conversations, which carry their last message; it is
//! sorted by last activity in memory (a member has tens of conversations, not thousands), then
//! each listed conversation's unread messages are counted (one Query each, at once).

use super::views::{ConversationView, MessageView};
use super::ChatService;
use crate::auth::Caller;
use crate::cursor::{self, Page};
use crate::error::{AppError, AppResult};
use crate::rate_limit::Rule;
use crate::repo::conversations::{self as repo, ConversationKind, ConversationRecord, MemberLink};
use crate::repo::messages;
use crate::repo::{accounts, from_item, safety as safety_repo};
use crate::rides::views::Person;
use crate::store::StoreError;
use futures::future::try_join_all;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use ulid::Ulid;

/// Unread messages are counted up to this many (a client shows "99+").
const UNREAD_CAP: usize = 100;

/// Where the list resumes: the last listed conversation's position (see `position`).
#[derive(Serialize, Deserialize)]
struct ListPosition {
    at: i64,
    activity: Ulid,
    id: Ulid,
}

/// A conversation's place in the list: its last activity (the clock's seconds), then the id of
/// what happened last (its last message, or itself: ids sort in the order they were made, so
/// messages of the same second keep their order), then its own id.
fn position(conversation: &ConversationRecord) -> (i64, Ulid, Ulid) {
    let activity = conversation.last_message.as_ref().map_or(conversation.id, |m| m.id);
    (conversation.last_activity().unix_timestamp(), activity, conversation.id)
}

impl ChatService {
    /// `GET /api/chat/conversations`.
    pub async fn conversations(
        &self,
        cookie: &str,
        sealed: Option<&str>,
        limit: usize,
    ) -> AppResult<Page<ConversationView>> {
        let caller = self.auth.caller(cookie).await?;
        let scope = format!("conversations {}", caller.user.id);
        let after: Option<ListPosition> =
            sealed.map(|s| cursor::open(self.keys()?, &scope, s)).transpose()?;
        let found = self.member_conversations(caller.user.id).await?;
        let start = after.map_or(0, |after| {
            found.iter().take_while(|(c, _)| position(c) >= (after.at, after.activity, after.id)).count()
        });
        let page: Vec<_> = found.iter().skip(start).take(limit).cloned().collect();
        let next_cursor = match (found.len() > start + page.len(), page.last()) {
            (true, Some((last, _))) => {
                let (at, activity, id) = position(last);
                Some(cursor::seal(self.keys()?, &scope, &ListPosition { at, activity, id })?)
            }
            _ => None,
        };
        let items = self.views(caller.user.id, page).await?;
        Ok(Page { items, next_cursor })
    }

    /// Every conversation `user` is a member of, with their link, most recent activity first.
    pub(super) async fn member_conversations(
        &self,
        user: Ulid,
    ) -> AppResult<Vec<(ConversationRecord, MemberLink)>> {
        let links = repo::links_of(self.store.as_ref(), user).await?;
        let mut found = Vec::new();
        for chunk in links.chunks(100) {
            let keys: Vec<_> = chunk.iter().map(|l| repo::conversation_key(l.conversation_id)).collect();
            for (link, item) in chunk.iter().zip(self.store.get_many(&keys).await?) {
                let Some(item) = item else { continue };
                let conversation: ConversationRecord = from_item(&item)?;
                if conversation.members.contains(&user) {
                    found.push((conversation, link.clone()));
                }
            }
        }
        // Most recent activity first; the id breaks ties, so the order is total.
        found.sort_by_key(|(c, _)| std::cmp::Reverse(position(c)));
        Ok(found)
    }

    /// The conversations as `reader` sees them: members' names, unread counts.
    pub(super) async fn views(
        &self,
        reader: Ulid,
        page: Vec<(ConversationRecord, MemberLink)>,
    ) -> AppResult<Vec<ConversationView>> {
        // Members, and the senders of the last messages (a rider who left, or a deleted account).
        let last_senders = page.iter().flat_map(|(c, _)| {
            c.last_message.as_ref().map(|m| super::senders(std::slice::from_ref(m))).unwrap_or_default()
        });
        let mut ids: Vec<Ulid> =
            page.iter().flat_map(|(c, _)| c.members.iter().copied()).chain(last_senders).collect();
        ids.sort();
        ids.dedup();
        let users = self.users(&ids).await?;
        let unread =
            try_join_all(page.iter().map(|(c, link)| self.unread(c.id, link.last_read, reader))).await?;
        Ok(page
            .iter()
            .zip(unread)
            .map(|((conversation, _), unread)| view(conversation, reader, &users, unread))
            .collect())
    }

    async fn unread(
        &self,
        conversation: Ulid,
        last_read: Option<Ulid>,
        reader: Ulid,
    ) -> Result<usize, StoreError> {
        let after = messages::since(self.store.as_ref(), conversation, last_read, UNREAD_CAP).await?;
        Ok(after.iter().filter(|m| m.sender_id != Some(reader)).count())
    }

    /// One conversation as `caller` sees it (after a send or a creation).
    pub(super) async fn view_of(
        &self,
        caller: &Caller,
        conversation: &ConversationRecord,
    ) -> AppResult<ConversationView> {
        let link = repo::get_link(self.store.as_ref(), caller.user.id, conversation.id).await?;
        let link = link.unwrap_or(MemberLink { conversation_id: conversation.id, last_read: None });
        Ok(self.views(caller.user.id, vec![(conversation.clone(), link)]).await?.remove(0))
    }

    /// `POST /api/chat/conversations {userId}`: the one direct conversation of the caller and
    /// another verified user of their campus, made on first use (two first uses at once still
    /// make one: the pair's claim is written on `attribute_not_exists`).
    pub async fn direct(&self, cookie: &str, user_id: &str) -> AppResult<ConversationView> {
        let caller = self.auth.caller(cookie).await?;
        let other: Ulid = user_id.parse().map_err(|_| AppError::NotFound)?;
        if other == caller.user.id {
            return Err(AppError::Incomplete("a conversation needs someone else".into()));
        }
        let (peer, _) =
            accounts::user_with_driver(self.store.as_ref(), other).await?.ok_or(AppError::NotFound)?;
        if peer.campus_id != caller.campus.id
            || !peer.email_verified
            || safety_repo::is_blocked(self.store.as_ref(), caller.user.id, other).await?
        {
            return Err(AppError::NotFound);
        }
        for _ in 0..2 {
            if let Some(id) =
                repo::direct(self.store.as_ref(), &caller.campus.id, caller.user.id, other).await?
            {
                let conversation = repo::get(self.store.as_ref(), id).await?.ok_or(AppError::NotFound)?;
                return self.view_of(&caller, &conversation).await;
            }
            // Making one puts it in the other's list: counted like a message.
            self.limiter.hit(Rule::ChatSend, &caller.user.id.to_string()).await?;
            let conversation = ConversationRecord {
                id: Ulid::new(),
                kind: ConversationKind::Direct,
                campus_id: caller.campus.id.clone(),
                ride_id: None,
                title: String::new(),
                members: vec![caller.user.id, other],
                closed: false,
                created_at: caller.now,
                last_message: None,
                last_message_id: None,
            };
            let mut writes =
                vec![repo::claim_direct(&caller.campus.id, caller.user.id, other, conversation.id)];
            writes.extend(repo::create(&conversation));
            match self.store.write(writes).await {
                Ok(()) => return self.view_of(&caller, &conversation).await,
                // The other made it first: read theirs.
                Err(StoreError::ConditionFailed { index: 0 }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Contended)
    }
}

fn view(
    conversation: &ConversationRecord,
    viewer: Ulid,
    users: &HashMap<Ulid, crate::repo::accounts::UserRecord>,
    unread: usize,
) -> ConversationView {
    let name = |id: &Ulid| accounts::shown_name(users, *id).to_owned();
    let title = match conversation.kind {
        ConversationKind::Ride => conversation.title.clone(),
        // Alone in it: the other side deleted their account and left its members.
        ConversationKind::Direct => conversation
            .members
            .iter()
            .find(|m| **m != viewer)
            .map_or_else(|| crate::domain::account::DELETED_USER.to_owned(), name),
    };
    ConversationView {
        id: conversation.id.to_string(),
        kind: conversation.kind,
        ride_id: conversation.ride_id.map(|id| id.to_string()),
        title,
        members: conversation.members.iter().map(|id| Person::new(*id, &name(id))).collect(),
        last_message: conversation.last_message.as_ref().map(|last| {
            let mut last = [last.clone()];
            super::show_senders(&mut last, users);
            MessageView::from(&last[0])
        }),
        unread,
    }
}
