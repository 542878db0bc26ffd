//! People's own data (API.md "Your data"): the export of everything stored about them
//! (`export`), and deleting their account (`closing`, then `erasure`).
//!
//! Deletion happens in two steps. Closing is one transaction: the proof of the owner's second
//! factor, the profile, the email claim (the address can register again, as a new person), the
//! driver profile and license, a pending review, the email's lockout and rate-limit state, a
//! confirmation mail, an audit record and the erasure job. From then on the account is gone:
//! every session dies with the profile it needs. Erasure then goes through everything else of
//! theirs by its keys and indexes (never a scan), so its cost grows with their own data only;
//! each step is safe to repeat, and the job stays until the last one is done, so a run that
//! stops half-way is finished by the redrive (`resume_erasures`).

mod closing;
mod erasure;
mod export;

pub use erasure::{Resumed, LEASE};
pub use export::{AccountExport, AuditEntry, BlockedUser, Export, FiledReport};

use crate::auth::AuthService;
use crate::chat::ChatService;
use crate::documents::UploadStore;
use crate::error::{AppError, AppResult};
use crate::mail::jobs::MailQueue;
use crate::rate_limit::{RateLimiter, RateLimits};
use crate::rides::RideService;
use crate::seal::KeyRing;
use crate::store::Store;
use std::sync::Arc;

pub struct AccountService {
    store: Arc<dyn Store>,
    auth: Arc<AuthService>,
    rides: Arc<RideService>,
    chat: Arc<ChatService>,
    /// License photos and large exports.
    uploads: Arc<dyn UploadStore>,
    mail: MailQueue,
    limiter: RateLimiter,
    /// Digests the addresses of deleted accounts and seals them in erasure jobs. The functions
    /// serving these use cases refuse to start without it.
    keys: Option<KeyRing>,
    /// The largest answer an export may be (beyond it: a link).
    answer_limit: u64,
}

impl AccountService {
    pub fn new(
        store: Arc<dyn Store>,
        auth: Arc<AuthService>,
        rides: Arc<RideService>,
        chat: Arc<ChatService>,
        uploads: Arc<dyn UploadStore>,
        mail: MailQueue,
        limits: RateLimits,
    ) -> Self {
        let (keys, answer_limit) = (auth.config().key_ring.clone(), auth.config().export_answer_limit);
        let limiter = RateLimiter::new(store.clone(), auth.clock(), limits);
        AccountService { store, auth, rides, chat, uploads, mail, limiter, keys, answer_limit }
    }

    /// The clock's now in whole seconds (stored times stay tidy RFC 3339).
    fn now(&self) -> time::OffsetDateTime {
        let now = self.auth.clock().now();
        now.replace_nanosecond(0).unwrap_or(now)
    }

    fn keys(&self) -> AppResult<&KeyRing> {
        self.keys.as_ref().ok_or_else(|| AppError::Internal("KEY_RING is not configured".into()))
    }
}
