//! Conversations: a ride's group chat, made with the ride. Its members are the ride's author and
//! accepted riders, rewritten in the same transaction as every ride change that moves them, so
//! the chat (and who may read it) never drifts from the ride.

use super::to_attrs;
use crate::store::{attrs, Cond, Item, Key, Store, StoreError, Write};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use ulid::Ulid;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConversationKind {
    Ride,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationRecord {
    pub id: Ulid,
    pub kind: ConversationKind,
    pub campus_id: String,
    pub ride_id: Option<Ulid>,
    pub members: Vec<Ulid>,
    /// A cancelled ride's chat: readable by its members, no new messages.
    pub closed: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

pub fn conversation_key(id: Ulid) -> Key {
    Key::new(format!("CONV#{id}"), "CONV")
}

pub fn create(conversation: &ConversationRecord) -> Write {
    Write::Put {
        item: Item::new(conversation_key(conversation.id), to_attrs(conversation)),
        cond: Cond::NotExists,
    }
}

/// Sets the members (and whether it is closed) of an existing conversation.
pub fn set_members(id: Ulid, members: &[Ulid], closed: bool) -> Write {
    let members: Vec<String> = members.iter().map(Ulid::to_string).collect();
    Write::Update {
        key: conversation_key(id),
        set: attrs([("members", members.into()), ("closed", closed.into())]),
        expires_at: None,
        cond: Cond::Exists,
    }
}

pub async fn get(store: &dyn Store, id: Ulid) -> Result<Option<ConversationRecord>, StoreError> {
    super::get_record(store, conversation_key(id)).await
}
