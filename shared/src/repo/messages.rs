//! Chat messages, in their conversation's partition: `CONV#<conversationId>` / `MSG#<messageId>`.
//! Message ids are ULIDs, so the partition reads in sending order (backwards for history,
//! forwards to catch up after a reconnect). Next to each user message, a claim
//! `CLIENT#<senderId>#<clientMessageId>` written with it on `attribute_not_exists`: a resend of
//! the same message (even a concurrent one) finds the stored message instead of adding another.
//! A user's message is also in `gsi2` under `SENT#<senderId>` / `<messageId>`: the messages one
//! person sent, in sending order, for their data export (a rider who left a ride is no longer a
//! member, so their conversations do not lead to all of them).

use super::{from_item, get_record, to_attrs};
use crate::store::{Cond, Cursor, Index, Item, Key, Query, SkRange, Store, StoreError, Write};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use ulid::Ulid;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MessageKind {
    User,
    /// Posted by the service about the ride (a rider joined or left, a new time, a cancellation).
    System,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageRecord {
    pub id: Ulid,
    pub conversation_id: Ulid,
    /// `None` for a system message.
    pub sender_id: Option<Ulid>,
    pub sender_name: String,
    pub body: String,
    #[serde(with = "time::serde::rfc3339")]
    pub sent_at: OffsetDateTime,
    pub client_message_id: Option<String>,
    pub kind: MessageKind,
    /// Whom a system message names ("Riley joined the ride."): shown under their name when it is
    /// read, like a sender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mention: Option<Mention>,
}

/// A person a system message's body names, and the name it was written with.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Mention {
    pub user_id: Ulid,
    pub name: String,
}

/// The name system messages are sent under.
pub const SYSTEM_SENDER: &str = "Campus Carpool";

impl MessageRecord {
    /// A system message; `mention` is the person its body names, if any.
    pub fn system(conversation: Ulid, body: String, mention: Option<Mention>, at: OffsetDateTime) -> Self {
        MessageRecord {
            id: Ulid::new(),
            conversation_id: conversation,
            sender_id: None,
            sender_name: SYSTEM_SENDER.to_owned(),
            body,
            sent_at: at,
            client_message_id: None,
            kind: MessageKind::System,
            mention,
        }
    }
}

fn partition(conversation: Ulid) -> String {
    format!("CONV#{conversation}")
}

pub fn message_key(conversation: Ulid, id: Ulid) -> Key {
    Key::new(partition(conversation), format!("MSG#{id}"))
}

fn sent_partition(sender: Ulid) -> String {
    format!("SENT#{sender}")
}

fn client_key(conversation: Ulid, sender: Ulid, client_id: &str) -> Key {
    Key::new(partition(conversation), format!("CLIENT#{sender}#{client_id}"))
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClientClaim {
    message_id: Ulid,
}

/// The writes that store a message: the message, then (for a user message) its client id's
/// claim, which fails when the sender sent it already.
pub fn put(message: &MessageRecord) -> Vec<Write> {
    let mut item = Item::new(message_key(message.conversation_id, message.id), to_attrs(message));
    if let Some(sender) = message.sender_id {
        item = item.in_gsi2(Key::new(sent_partition(sender), message.id.to_string()));
    }
    let mut writes = vec![Write::Put { item, cond: Cond::NotExists }];
    if let (Some(sender), Some(client_id)) = (message.sender_id, &message.client_message_id) {
        let claim = ClientClaim { message_id: message.id };
        writes.push(Write::Put {
            item: Item::new(client_key(message.conversation_id, sender, client_id), to_attrs(&claim)),
            cond: Cond::NotExists,
        });
    }
    writes
}

/// The message a sender already sent under `client_id`, if any.
pub async fn by_client_id(
    store: &dyn Store,
    conversation: Ulid,
    sender: Ulid,
    client_id: &str,
) -> Result<Option<MessageRecord>, StoreError> {
    let Some(claim) = get_record::<ClientClaim>(store, client_key(conversation, sender, client_id)).await?
    else {
        return Ok(None);
    };
    get_record(store, message_key(conversation, claim.message_id)).await
}

/// A page of history, newest first, resuming after `before` (a previous page's cursor).
pub async fn history(
    store: &dyn Store,
    conversation: Ulid,
    before: Option<Cursor>,
    limit: usize,
) -> Result<(Vec<MessageRecord>, Option<Cursor>), StoreError> {
    let query = Query {
        descending: true,
        limit,
        after: before,
        ..Query::new(partition(conversation), SkRange::Prefix("MSG#".into()))
    };
    let page = store.query(&query).await?;
    let messages = page.items.iter().map(from_item).collect::<Result<_, _>>()?;
    Ok((messages, page.next))
}

/// Up to `limit` messages sent after `after` (all of them when `None`), oldest first.
pub async fn since(
    store: &dyn Store,
    conversation: Ulid,
    after: Option<Ulid>,
    limit: usize,
) -> Result<Vec<MessageRecord>, StoreError> {
    // `!` sorts below every id character, so the range starts just past `after` itself.
    let from = after.map_or_else(|| "MSG#".to_owned(), |id| format!("MSG#{id}!"));
    let query =
        Query { limit, ..Query::new(partition(conversation), SkRange::Between(from, "MSG#~".into())) };
    store.query(&query).await?.items.iter().map(from_item).collect()
}

/// A page of the messages `sender` sent, oldest first, resuming after `after`.
pub async fn sent_by(
    store: &dyn Store,
    sender: Ulid,
    after: Option<Cursor>,
    limit: usize,
) -> Result<(Vec<MessageRecord>, Option<Cursor>), StoreError> {
    let query =
        Query { index: Some(Index::Gsi2), limit, after, ..Query::new(sent_partition(sender), SkRange::All) };
    let page = store.query(&query).await?;
    let messages = page.items.iter().map(from_item).collect::<Result<_, _>>()?;
    Ok((messages, page.next))
}
