//! The SESv2 adapter against moto: what it sends is read back from the emulator.

mod support;

use carpool::domain::secret::new_token;
use carpool::mail::ses::SesMailer;
use carpool::mail::{templates, Mailer};
use serde_json::Value;

async fn client() -> aws_sdk_sesv2::Client {
    aws_sdk_sesv2::Client::new(&support::aws_config().await)
}

/// Every message moto has accepted. Its state dump holds every test's tables as well, so it may
/// outgrow ureq's 10 MiB default on a long-lived emulator.
fn sent_messages() -> Vec<Value> {
    let data: Value = ureq::get(format!("{}/moto-api/data.json", support::moto_endpoint()))
        .call()
        .expect("moto answers")
        .body_mut()
        .with_config()
        .limit(1 << 30)
        .read_json()
        .expect("moto state is JSON");
    data["ses"]["Message"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn sends_the_verification_mail() {
    let client = client().await;
    let id = ulid::Ulid::new().to_string().to_lowercase();
    let from = format!("no-reply-{id}@example.edu");
    let to = format!("alice-{id}@example.edu");
    client.create_email_identity().email_identity(&from).send().await.unwrap();

    let token = new_token();
    let facts =
        templates::RegistrationFacts { at: time::OffsetDateTime::now_utc(), device: "Firefox on Linux" };
    let message = templates::verification("https://carpool.example.edu", &to, &token, 24, &facts);
    SesMailer::new(client, from.clone(), None).send(&message).await.unwrap();

    let sent = sent_messages();
    let ours = sent
        .iter()
        .find(|m| m["destinations"].to_string().contains(&to))
        .unwrap_or_else(|| panic!("no message to {to} among {sent:?}"));
    assert_eq!(ours["source"], from.as_str());
    assert_eq!(ours["subject"], message.subject.as_str());
    let link = format!("https://carpool.example.edu/verify-email?token={}", token.expose());
    assert!(ours["body"].as_str().unwrap().contains(&link));
}

#[tokio::test]
async fn unverified_sender_is_an_error_not_a_panic() {
    let client = client().await;
    let id = ulid::Ulid::new().to_string().to_lowercase();
    let message = templates::already_registered("https://carpool.example.edu", "bob@example.edu", "Bob");
    let result =
        SesMailer::new(client, format!("unverified-{id}@nowhere.example"), None).send(&message).await;
    assert!(result.is_err());
}
