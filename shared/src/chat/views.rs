//! What the chat routes answer (API.md "Chat").

use crate::repo::conversations::ConversationKind;
use crate::repo::messages::{MessageKind, MessageRecord};
use crate::rides::views::Person;
use serde::Serialize;
use time::OffsetDateTime;

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Message)]
pub struct MessageView {
    pub id: String,
    pub conversation_id: String,
    /// `null` for a system message.
    #[schema(required = true)]
    pub sender_id: Option<String>,
    pub sender_name: String,
    pub body: String,
    #[serde(with = "time::serde::rfc3339")]
    pub sent_at: OffsetDateTime,
    #[schema(required = true)]
    pub client_message_id: Option<String>,
    pub kind: MessageKind,
}

impl From<&MessageRecord> for MessageView {
    fn from(m: &MessageRecord) -> Self {
        MessageView {
            id: m.id.to_string(),
            conversation_id: m.conversation_id.to_string(),
            sender_id: m.sender_id.map(|id| id.to_string()),
            sender_name: m.sender_name.clone(),
            body: m.body.clone(),
            sent_at: m.sent_at,
            client_message_id: m.client_message_id.clone(),
            kind: m.kind,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Conversation)]
pub struct ConversationView {
    pub id: String,
    pub kind: ConversationKind,
    #[schema(required = true)]
    pub ride_id: Option<String>,
    /// A ride's route, or the other person's name.
    pub title: String,
    pub members: Vec<Person>,
    #[schema(required = true)]
    pub last_message: Option<MessageView>,
    /// Messages from others after the caller's read marker (counted up to 100).
    pub unread: usize,
}
