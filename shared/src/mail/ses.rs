//! Production mail through Amazon SES (v2 API), from the configured sender and configuration set.

use super::{MailError, Mailer, Message};
use async_trait::async_trait;
use aws_sdk_sesv2::error::DisplayErrorContext;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message as SesMessage};

pub struct SesMailer {
    client: aws_sdk_sesv2::Client,
    from: String,
    configuration_set: Option<String>,
}

impl SesMailer {
    pub fn new(client: aws_sdk_sesv2::Client, from: String, configuration_set: Option<String>) -> Self {
        SesMailer { client, from, configuration_set }
    }
}

fn utf8(text: &str) -> Result<Content, MailError> {
    Content::builder().data(text).charset("UTF-8").build().map_err(|e| MailError(e.to_string()))
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, message: &Message) -> Result<(), MailError> {
        let content = EmailContent::builder()
            .simple(
                SesMessage::builder()
                    .subject(utf8(&message.subject)?)
                    .body(Body::builder().text(utf8(&message.text)?).html(utf8(&message.html)?).build())
                    .build(),
            )
            .build();
        let sent = self
            .client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(&message.to).build())
            .content(content)
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .map_err(|e| MailError(DisplayErrorContext(e).to_string()))?;
        tracing::info!(
            to = %crate::domain::email::masked(&message.to),
            subject = %message.subject,
            message_id = sent.message_id().unwrap_or_default(),
            "mail sent with SES"
        );
        Ok(())
    }
}
