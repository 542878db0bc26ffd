//! Local mail: each message becomes an RFC 5322 `.eml` file in the outbox directory (open it
//! with any mail client), plus one log line that never holds the body (it carries tokens).

use super::{MailError, Mailer, Message};
use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use std::path::{Path, PathBuf};
use time::macros::format_description;
use time::OffsetDateTime;

pub struct OutboxMailer {
    dir: PathBuf,
    from: Mailbox,
}

impl OutboxMailer {
    pub fn new(dir: PathBuf, from: String) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        let from = from.parse().map_err(|e| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("from address: {e}"))
        })?;
        Ok(OutboxMailer { dir, from })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send(&self, message: &Message) -> Result<(), MailError> {
        let to: Mailbox = message.to.parse().map_err(|e| MailError(format!("recipient: {e}")))?;
        let email = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.clone())
            .date_now()
            .multipart(MultiPart::alternative_plain_html(message.text.clone(), message.html.clone()))
            .map_err(|e| MailError(e.to_string()))?;
        let stamp = OffsetDateTime::now_utc()
            .format(format_description!("[year][month][day]T[hour][minute][second]Z"))
            .map_err(|e| MailError(e.to_string()))?;
        let name = format!("{stamp}-{}.eml", ulid::Ulid::new());
        let (tmp, path) = (self.dir.join(format!(".{name}.tmp")), self.dir.join(&name));
        // Write then rename, so a reader never sees half a message.
        let bytes = email.formatted();
        tokio::fs::write(&tmp, bytes).await.map_err(|e| MailError(e.to_string()))?;
        tokio::fs::rename(&tmp, &path).await.map_err(|e| MailError(e.to_string()))?;
        tracing::info!(to = %crate::domain::email::masked(&message.to), subject = %message.subject, file = %name, "mail written to outbox");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_one_rfc5322_file() {
        let dir = tempfile::tempdir().unwrap();
        let outbox =
            OutboxMailer::new(dir.path().join("outbox"), "Carpool <no-reply@example.edu>".into()).unwrap();
        let message = Message {
            to: "alice@example.edu".into(),
            subject: "Verify your email".into(),
            text: "plain body".into(),
            html: "<p>html body</p>".into(),
        };
        outbox.send(&message).await.unwrap();
        let files: Vec<_> = std::fs::read_dir(outbox.dir()).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].extension().unwrap(), "eml");
        let eml = std::fs::read_to_string(&files[0]).unwrap();
        for header in [
            "From: Carpool <no-reply@example.edu>",
            "To: alice@example.edu",
            "Subject: Verify your email",
            "Date: ",
        ] {
            assert!(eml.contains(header), "missing {header}");
        }
        assert!(eml.contains("text/plain") && eml.contains("text/html"));
        assert!(eml.contains("plain body") && eml.contains("html body"));
    }

    #[tokio::test]
    async fn bad_recipient_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = OutboxMailer::new(dir.path().to_owned(), "no-reply@example.edu".into()).unwrap();
        let message =
            Message { to: "not an address".into(), subject: "s".into(), text: "t".into(), html: "h".into() };
        assert!(outbox.send(&message).await.is_err());
    }
}
