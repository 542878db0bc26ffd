//! What a person's own data means for chat (API.md "Your data"): the conversations and messages
//! their export lists, and what deleting their account does. Their open connections are closed
//! and forgotten; they leave every conversation's members (a direct conversation with them takes
//! no new messages: nobody would read them); their messages stay where they are, shown as from
//! `DELETED_USER` when read (see `show_senders`), so nothing of the conversations is rewritten.

use super::views::{ConversationView, MessageView};
use super::ChatService;
use crate::error::AppResult;
use crate::repo::connections;
use crate::repo::conversations::{self as repo, ConversationKind};
use crate::repo::messages::{self, MessageRecord};
use crate::store::{Cursor, StoreError};
use tracing::{info, warn};
use ulid::Ulid;

/// Messages read at once for an export.
pub const EXPORT_PAGE: usize = 100;

impl ChatService {
    /// Every conversation `user` is in, as they see it, most recent activity first.
    pub async fn conversations_of(&self, user: Ulid) -> AppResult<Vec<ConversationView>> {
        let all = self.member_conversations(user).await?;
        self.views(user, all).await
    }

    /// A page of the messages `user` sent, oldest first (their export streams them page by page).
    pub async fn sent_by(
        &self,
        user: Ulid,
        after: Option<Cursor>,
    ) -> AppResult<(Vec<MessageView>, Option<Cursor>)> {
        let (page, next): (Vec<MessageRecord>, _) =
            messages::sent_by(self.store.as_ref(), user, after, EXPORT_PAGE).await?;
        Ok((page.iter().map(MessageView::from).collect(), next))
    }

    /// Closes and forgets a deleted account's open connections (a connection that does not
    /// close is forgotten anyway: its frames find no session).
    pub async fn close_connections_of(&self, user: Ulid) -> AppResult<()> {
        let pusher = self.delivery.pusher();
        for connection in connections::of_user(self.store.as_ref(), user).await? {
            if let Err(e) = pusher.close(&connection.id).await {
                warn!(user_id = %user, connection = %connection.id, error = %e, "connection not closed");
            }
            self.store.write(connections::delete(user, &connection.id)).await?;
        }
        Ok(())
    }

    /// A deleted account leaves every conversation (after its rides are settled: a ride's events
    /// rewrite its chat's members); returns how many. An error leaves the rest for the next run.
    pub async fn leave_all(&self, user: Ulid) -> AppResult<usize> {
        let links = repo::links_of(self.store.as_ref(), user).await?;
        for link in &links {
            self.leave_conversation(user, link.conversation_id).await?;
        }
        info!(user_id = %user, conversations = links.len(), "chat of a deleted account settled");
        Ok(links.len())
    }

    async fn leave_conversation(&self, user: Ulid, id: Ulid) -> AppResult<()> {
        let Some(conversation) = repo::get(self.store.as_ref(), id).await? else {
            return Ok(self.store.write(vec![repo::unlink(user, id)]).await?);
        };
        let members: Vec<Ulid> = conversation.members.iter().copied().filter(|m| *m != user).collect();
        let mut writes = vec![repo::unlink(user, id)];
        if members.len() != conversation.members.len() || conversation.kind == ConversationKind::Direct {
            let closed = (conversation.kind == ConversationKind::Direct).then_some(true);
            writes.push(repo::change(
                id,
                repo::Change { members: Some(&members), closed, ..Default::default() },
            ));
        }
        match self.store.write(writes).await {
            // The conversation went meanwhile: only the link was left to go.
            Err(StoreError::ConditionFailed { .. }) => {
                Ok(self.store.write(vec![repo::unlink(user, id)]).await?)
            }
            other => Ok(other?),
        }
    }
}
