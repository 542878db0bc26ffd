//! The mail of people's own data: the confirmation that an account is deleted. It goes to the
//! address the account had, once it is gone, and links to nothing of it (there is nothing left).

use super::{templates, Message};
use crate::PRODUCT;

/// Who closed the account: its owner, or an operator acting on a request that came by mail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClosedBy {
    Owner,
    Operator,
}

impl ClosedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            ClosedBy::Owner => "user",
            ClosedBy::Operator => "operator",
        }
    }
}

pub fn account_deleted(app_url: &str, to: &str, name: &str, by: ClosedBy) -> Message {
    let how = match by {
        ClosedBy::Owner => format!("Your {PRODUCT} account was deleted, as you asked."),
        ClosedBy::Operator => format!("Your {PRODUCT} account was deleted by our team, as requested."),
    };
    let paragraphs = [
        how,
        "Your sessions are over, your driver's license and its photos are deleted, the rides you \
         offered or asked for are cancelled (their riders are told) and you left the rides you had \
         joined. Messages you sent stay in their conversations, shown as from \"Deleted user\"."
            .to_owned(),
        "You can sign up again with this address at any time: it will be a new account.".to_owned(),
        "If you did not ask for this, reply to this mail.".to_owned(),
    ];
    let subject = format!("Your {PRODUCT} account was deleted");
    templates::notice(app_url, "/", PRODUCT, to, name, subject, &paragraphs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_who_deleted_it_and_what_stays() {
        let m = account_deleted("https://app", "ana@example.edu", "Ana <b>", ClosedBy::Owner);
        assert_eq!(m.to, "ana@example.edu");
        assert!(m.text.contains("as you asked"));
        assert!(m.text.contains("Deleted user"));
        assert!(m.html.contains("Ana &lt;b&gt;"), "names are escaped in HTML");
        let m = account_deleted("https://app", "ana@example.edu", "Ana", ClosedBy::Operator);
        assert!(m.text.contains("by our team"));
    }
}
