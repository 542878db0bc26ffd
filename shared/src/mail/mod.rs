//! The mail port. Adapters: `ses` (production, SESv2) and `outbox` (local: `.eml` files). Use
//! cases never call it: they queue jobs (`jobs`), which the dispatcher delivers through it.

pub mod account_templates;
pub mod chat_templates;
pub mod driver_templates;
pub mod jobs;
pub mod outbox;
pub mod ride_templates;
pub mod ses;
pub mod templates;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// One message to one recipient, with both a plain-text and an HTML body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Sending failed; the text is for logs only (it never holds the message body).
#[derive(Debug, thiserror::Error)]
#[error("mail not sent: {0}")]
pub struct MailError(pub String);

#[async_trait]
pub trait Mailer: Send + Sync + 'static {
    async fn send(&self, message: &Message) -> Result<(), MailError>;
}
