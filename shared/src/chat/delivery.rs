//! Delivery of a stored message: a `message` frame to every open connection of every member,
//! concurrently and bounded; connections that answer Gone are forgotten (never the one the
//! message came from, which is live, nor one still in its handshake); members no open
//! connection took it from get a digest mail of their unread messages, at most one per
//! conversation an hour.
//!
//! Delivery never fails a send: the message is stored already, and a member who missed a frame
//! catches up from the history (`after`). What went wrong is logged and counted.

use super::views::MessageView;
use crate::clock::Clock;
use crate::mail::chat_templates::{self, Preview};
use crate::mail::jobs::{Job, MailQueue};
use crate::mail::ride_templates::Recipient;
use crate::push::{PushError, Pusher};
use crate::repo::accounts;
use crate::repo::connections::{self, ConnectionRecord};
use crate::repo::conversations::{self as conversation_repo, ConversationKind, ConversationRecord};
use crate::repo::messages::{self, MessageKind, MessageRecord};
use crate::store::{Store, StoreError};
use futures::stream::{self, StreamExt};
use std::sync::Arc;
use tracing::warn;
use ulid::Ulid;

/// Members whose connections are looked up at once.
const LOOKUPS: usize = 8;
/// Frames in flight at once (API Gateway's management API allows far more per account; this
/// bounds one function's sockets and memory).
const PUSHES: usize = 32;
/// Unread messages a digest previews.
const PREVIEWS: usize = 5;
/// How long after `$connect` a connection may still answer Gone without being gone.
const HANDSHAKE: time::Duration = time::Duration::seconds(10);

/// What one delivery did, for the sender's log line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Delivered {
    /// Connections that took the frame.
    pub connections: usize,
    /// Connections that were gone, and are forgotten.
    pub gone: usize,
    /// Connections that did not take it for another reason (they catch up later).
    pub failed: usize,
    /// Digest mails queued for members with no open connection.
    pub digests: usize,
}

pub struct Delivery {
    store: Arc<dyn Store>,
    pusher: Arc<dyn Pusher>,
    mail: MailQueue,
    clock: Arc<dyn Clock>,
    app_url: String,
}

/// How one frame to one connection went.
enum Push {
    Taken,
    Gone,
    /// Gone, but live after all: the connection the message came from, or one still in its
    /// handshake (its member is arriving and reads the history).
    Arriving,
    Failed,
}

impl Delivery {
    pub fn new(
        store: Arc<dyn Store>,
        pusher: Arc<dyn Pusher>,
        mail: MailQueue,
        clock: Arc<dyn Clock>,
        app_url: String,
    ) -> Self {
        Delivery { store, pusher, mail, clock, app_url }
    }

    pub fn pusher(&self) -> &dyn Pusher {
        self.pusher.as_ref()
    }

    /// A user's message, just stored in `conversation` (as it was when the message was decided),
    /// sent from the connection `from` (none over HTTP).
    pub async fn user_message(
        &self,
        conversation: &ConversationRecord,
        message: &MessageRecord,
        from: Option<&str>,
    ) -> Delivered {
        let (mut delivered, away) = self.push(&conversation.members, message, from).await;
        let away = away.into_iter().filter(|m| Some(*m) != message.sender_id);
        let digests = stream::iter(away)
            .map(|member| async move {
                self.digest(conversation, member).await.unwrap_or_else(|e| {
                    warn!(conversation_id = %conversation.id, user_id = %member, error = %e, "digest not queued");
                    false
                })
            })
            .buffer_unordered(LOOKUPS)
            .filter(|queued| std::future::ready(*queued))
            .count()
            .await;
        delivered.digests = digests;
        if digests > 0 {
            self.mail.wake();
        }
        delivered
    }

    /// A system message of a ride event, stored with the ride change; its members get the
    /// event's own mail, so no digest.
    pub async fn system_message(&self, members: &[Ulid], message: &MessageRecord) -> Delivered {
        debug_assert_eq!(message.kind, MessageKind::System);
        self.push(members, message, None).await.0
    }

    /// The frame to every connection of `members`; also answers which members had none open.
    async fn push(
        &self,
        members: &[Ulid],
        message: &MessageRecord,
        from: Option<&str>,
    ) -> (Delivered, Vec<Ulid>) {
        let frame =
            serde_json::json!({ "type": "message", "message": MessageView::from(message) }).to_string();
        let lookups: Vec<(Ulid, Result<Vec<ConnectionRecord>, StoreError>)> =
            stream::iter(members.iter().copied())
                .map(
                    |member| async move { (member, connections::of_user(self.store.as_ref(), member).await) },
                )
                .buffer_unordered(LOOKUPS)
                .collect()
                .await;
        let mut targets = Vec::new();
        let mut away = Vec::new();
        for (member, found) in lookups {
            match found {
                Ok(open) if open.is_empty() => away.push(member),
                Ok(open) => targets.extend(open.into_iter().map(|c| (member, c))),
                // Unknown: neither pushed nor mailed; they catch up when they open the app.
                Err(e) => warn!(user_id = %member, error = %e, "connections not read"),
            }
        }
        let frame = frame.as_str();
        let results: Vec<(Ulid, Push)> = stream::iter(targets)
            .map(|(member, connection)| async move {
                let outcome = match self.pusher.send(&connection.id, frame).await {
                    Ok(()) => Push::Taken,
                    Err(PushError::Gone) if self.forgettable(&connection, from) => {
                        self.forget(member, &connection.id).await;
                        Push::Gone
                    }
                    Err(PushError::Gone) => Push::Arriving,
                    Err(e) => {
                        warn!(user_id = %member, connection = %connection.id, error = %e, "frame not delivered");
                        Push::Failed
                    }
                };
                (member, outcome)
            })
            .buffer_unordered(PUSHES)
            .collect()
            .await;
        let mut delivered = Delivered::default();
        for (_, outcome) in &results {
            match outcome {
                Push::Taken => delivered.connections += 1,
                Push::Arriving => {}
                Push::Gone => {
                    delivered.gone += 1;
                    crate::metrics::delivery_gone();
                }
                Push::Failed => {
                    delivered.failed += 1;
                    crate::metrics::delivery_failed();
                }
            }
        }
        // A member none of whose connections took the frame (gone, or failing: a throttled
        // management API, a client not reading) is away too, so the digest still tells them.
        for member in members {
            let mut tried = results.iter().filter(|(m, _)| m == member).peekable();
            if tried.peek().is_some()
                && tried.all(|(_, outcome)| matches!(outcome, Push::Gone | Push::Failed))
            {
                away.push(*member);
            }
        }
        (delivered, away)
    }

    /// Whether a connection that answered Gone is gone for good: not the one the message came
    /// from (it is live), nor one still in its handshake (API Gateway answers Gone until its
    /// `$connect` has returned).
    fn forgettable(&self, connection: &ConnectionRecord, from: Option<&str>) -> bool {
        Some(connection.id.as_str()) != from && connection.connected_at + HANDSHAKE <= self.clock.now()
    }

    /// A connection that answered Gone: its records go (a failure only leaves them to expire).
    async fn forget(&self, user: Ulid, connection: &str) {
        if let Err(e) = self.store.write(connections::delete(user, connection)).await {
            warn!(user_id = %user, connection = %connection, error = %e, "gone connection not forgotten");
        }
    }

    /// Queues `member`'s digest of their unread messages in `conversation`, unless one went out
    /// within the hour (the claim and the mail are one transaction); `true` when queued.
    async fn digest(
        &self,
        conversation: &ConversationRecord,
        member: Ulid,
    ) -> Result<bool, crate::error::AppError> {
        let store = self.store.as_ref();
        if conversation_repo::digest_claimed(store, member, conversation.id).await? {
            return Ok(false);
        }
        let read =
            conversation_repo::get_link(store, member, conversation.id).await?.and_then(|l| l.last_read);
        // The newest messages back to the read marker, then in sending order.
        let (newest, _) = messages::history(store, conversation.id, None, 4 * PREVIEWS).await?;
        let mut unread: Vec<MessageRecord> = newest
            .into_iter()
            .take_while(|m| read.is_none_or(|read| m.id > read))
            .filter(|m| m.kind == MessageKind::User && m.sender_id != Some(member))
            .collect();
        if unread.is_empty() {
            return Ok(false);
        }
        let more = unread.len() > PREVIEWS;
        unread.truncate(PREVIEWS);
        unread.reverse();
        let mut people = super::senders(&unread);
        people.push(member);
        let users = accounts::users_by_id(store, &people).await?;
        let Some(user) = users.get(&member).filter(|u| u.email_verified) else {
            return Ok(false);
        };
        super::show_senders(&mut unread, &users);
        let place = match conversation.kind {
            ConversationKind::Ride => format!("the ride {}", conversation.title),
            ConversationKind::Direct => format!("your chat with {}", unread[0].sender_name),
        };
        let previews: Vec<Preview> =
            unread.iter().map(|m| Preview { sender: &m.sender_name, body: &m.body }).collect();
        let to = Recipient { email: &user.email, name: &user.name };
        let mail = chat_templates::unread_digest(
            &self.app_url,
            &to,
            &conversation.id.to_string(),
            &place,
            &previews,
            more,
        );
        let now = self.clock.now();
        let writes = vec![
            conversation_repo::claim_digest(member, conversation.id, now),
            self.mail.write(&Job::Message(mail))?,
        ];
        match store.write(writes).await {
            Ok(()) => Ok(true),
            // Another delivery mailed them first.
            Err(StoreError::ConditionFailed { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}
