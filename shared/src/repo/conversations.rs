//! Conversations: a ride's group chat, made with the ride, and one direct conversation per pair
//! of users on a campus, made on first use.
//!
//! The conversation item holds who may read and write it (`members`: for a ride, its author and
//! accepted riders, rewritten in the same transaction as every ride change that moves them),
//! whether it is closed, and a copy of its last message (so the list needs no message reads).
//! Each member also has a link in their own partition, `USER#<userId>` / `CONV#<conversationId>`,
//! holding their read marker: a member's conversations are one Query of their partition.

use super::{get_record, to_attrs};
use crate::repo::accounts::user_partition;
use crate::repo::messages::MessageRecord;
use crate::store::{attrs, Attrs, Cond, Item, Key, Query, SkRange, Store, StoreError, Write};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use ulid::Ulid;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConversationKind {
    Ride,
    Direct,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationRecord {
    pub id: Ulid,
    pub kind: ConversationKind,
    pub campus_id: String,
    pub ride_id: Option<Ulid>,
    /// A ride's route ("Main gate → Airport"); empty for a direct conversation (each side sees
    /// the other's name).
    #[serde(default)]
    pub title: String,
    pub members: Vec<Ulid>,
    /// A cancelled ride's chat: readable by its members, no new messages.
    pub closed: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(default)]
    pub last_message: Option<MessageRecord>,
    /// The last message's id, apart: a user's message is written on condition that it is still
    /// the one read, so messages are stored in id order (a catch-up `after` an id misses none).
    #[serde(default)]
    pub last_message_id: Option<Ulid>,
}

impl ConversationRecord {
    /// When it last saw activity: its last message, or its creation.
    pub fn last_activity(&self) -> OffsetDateTime {
        self.last_message.as_ref().map_or(self.created_at, |m| m.sent_at)
    }
}

const LAST_MESSAGE_ID: &str = "lastMessageId";

pub fn conversation_key(id: Ulid) -> Key {
    Key::new(format!("CONV#{id}"), "CONV")
}

/// A new conversation with its members' links.
pub fn create(conversation: &ConversationRecord) -> Vec<Write> {
    let item = Item::new(conversation_key(conversation.id), to_attrs(conversation));
    let mut writes = vec![Write::Put { item, cond: Cond::NotExists }];
    writes.extend(conversation.members.iter().map(|m| link(*m, conversation.id)));
    writes
}

/// What a write changes on an existing conversation.
#[derive(Default)]
pub struct Change<'a> {
    pub members: Option<&'a [Ulid]>,
    pub closed: Option<bool>,
    pub last_message: Option<&'a MessageRecord>,
    /// Only if its last message is still this one (`Some(None)`: it has none yet): a user's
    /// message, decided on a read of the conversation (open, the sender a member).
    pub if_last: Option<Option<Ulid>>,
}

pub fn change(id: Ulid, change: Change) -> Write {
    let mut set = Attrs::new();
    if let Some(members) = change.members {
        let members: Vec<String> = members.iter().map(Ulid::to_string).collect();
        set.insert("members".into(), members.into());
    }
    if let Some(closed) = change.closed {
        set.insert("closed".into(), closed.into());
    }
    if let Some(message) = change.last_message {
        set.insert("lastMessage".into(), serde_json::Value::Object(to_attrs(message)));
        set.insert(LAST_MESSAGE_ID.into(), message.id.to_string().into());
    }
    let cond = match change.if_last {
        Some(last) => {
            Cond::equals(LAST_MESSAGE_ID, last.map_or(serde_json::Value::Null, |id| id.to_string().into()))
        }
        None => Cond::Exists,
    };
    Write::Update { key: conversation_key(id), set, expires_at: None, cond }
}

pub async fn get(store: &dyn Store, id: Ulid) -> Result<Option<ConversationRecord>, StoreError> {
    get_record(store, conversation_key(id)).await
}

/// A member's link to a conversation, with their read marker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberLink {
    pub conversation_id: Ulid,
    /// The last message they have read.
    #[serde(default)]
    pub last_read: Option<Ulid>,
}

fn link_key(user: Ulid, conversation: Ulid) -> Key {
    Key::new(user_partition(user), format!("CONV#{conversation}"))
}

/// Makes `user` a member's link (again: their read marker starts over).
pub fn link(user: Ulid, conversation: Ulid) -> Write {
    let link = MemberLink { conversation_id: conversation, last_read: None };
    Write::Put { item: Item::new(link_key(user, conversation), to_attrs(&link)), cond: Cond::Always }
}

pub fn unlink(user: Ulid, conversation: Ulid) -> Write {
    Write::Delete { key: link_key(user, conversation), cond: Cond::Always }
}

/// Moves a member's read marker (their link must exist: a former member's is gone).
pub fn mark_read(user: Ulid, conversation: Ulid, message: Ulid) -> Write {
    Write::Update {
        key: link_key(user, conversation),
        set: read_marker(message),
        expires_at: None,
        cond: Cond::Exists,
    }
}

/// A sender has read what they sent: their marker moves with each message (their link made if
/// it was missing).
pub fn sent_by(user: Ulid, conversation: Ulid, message: Ulid) -> Write {
    let mut set = read_marker(message);
    set.insert("conversationId".into(), conversation.to_string().into());
    Write::Update { key: link_key(user, conversation), set, expires_at: None, cond: Cond::Always }
}

fn read_marker(message: Ulid) -> Attrs {
    attrs([("lastRead", message.to_string().into())])
}

pub async fn get_link(
    store: &dyn Store,
    user: Ulid,
    conversation: Ulid,
) -> Result<Option<MemberLink>, StoreError> {
    get_record(store, link_key(user, conversation)).await
}

/// Every conversation `user` is a member of (links only).
pub async fn links_of(store: &dyn Store, user: Ulid) -> Result<Vec<MemberLink>, StoreError> {
    let query = Query::new(user_partition(user), SkRange::Prefix("CONV#".into()));
    super::query_all(store, query).await?.iter().map(super::from_item).collect()
}

/// The direct conversation of two users of a campus: one claim per pair (ids in order), so two
/// first messages at once still make one conversation.
fn direct_key(campus: &str, a: Ulid, b: Ulid) -> Key {
    let (low, high) = if a < b { (a, b) } else { (b, a) };
    Key::new(format!("DIRECT#{campus}#{low}#{high}"), "DIRECT")
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DirectClaim {
    conversation_id: Ulid,
}

pub fn claim_direct(campus: &str, a: Ulid, b: Ulid, conversation: Ulid) -> Write {
    let claim = DirectClaim { conversation_id: conversation };
    Write::Put { item: Item::new(direct_key(campus, a, b), to_attrs(&claim)), cond: Cond::NotExists }
}

pub async fn direct(store: &dyn Store, campus: &str, a: Ulid, b: Ulid) -> Result<Option<Ulid>, StoreError> {
    Ok(get_record::<DirectClaim>(store, direct_key(campus, a, b)).await?.map(|c| c.conversation_id))
}

/// How often a member away from every connection is mailed about one conversation.
pub const DIGEST_EVERY: time::Duration = time::Duration::hours(1);

/// The claim on a member's next unread-messages mail for a conversation,
/// `USER#<userId>` / `DIGEST#<conversationId>`: it lives an hour, and while it does no other
/// digest of that conversation goes to them, however many containers deliver at once.
pub fn claim_digest(user: Ulid, conversation: Ulid, now: OffsetDateTime) -> Write {
    let item = Item::new(digest_key(user, conversation), attrs([("sentAt", now.unix_timestamp().into())]))
        .expiring((now + DIGEST_EVERY).unix_timestamp());
    Write::Put { item, cond: Cond::NotExists }
}

fn digest_key(user: Ulid, conversation: Ulid) -> Key {
    Key::new(user_partition(user), format!("DIGEST#{conversation}"))
}

/// Whether a digest of the conversation went to the member within the hour.
pub async fn digest_claimed(store: &dyn Store, user: Ulid, conversation: Ulid) -> Result<bool, StoreError> {
    Ok(store.get_many(&[digest_key(user, conversation)]).await?.pop().flatten().is_some())
}
