//! `GET /api/auth/account/export`: everything stored about the caller as one JSON document, never
//! a secret, a hash, a token or another person's email address.
//!
//! The document is written section by section, and the messages page by page, into a temporary
//! file as they are read, so memory stays flat however much there is. A document that fits in
//! one answer is the answer; a larger one goes to the private bucket (locally, the data
//! directory) and the answer is a `303` to a link that works for a few minutes.

use super::AccountService;
use crate::auth::views::{SessionListEntry, UserView};
use crate::auth::{Caller, Client};
use crate::chat::views::{ConversationView, MessageView};
use crate::documents::export_prefix;
use crate::domain::account::{escapes_in, fits_in_answer};
use crate::domain::email::Email;
use crate::driver::views::DriverState;
use crate::error::{AppError, AppResult};
use crate::rate_limit::Rule;
use crate::repo::accounts;
use crate::repo::audit::{self, AuditAction, AuditRecord, DriverChange};
use crate::repo::rfc3339;
use crate::repo::safety::{self as safety_repo, ReportStatus};
use crate::rides::views::{Person, RequestView, RideView};
use serde::Serialize;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::io::AsyncWriteExt;
use ulid::Ulid;
use utoipa::ToSchema;

/// How long the link to a large export works.
pub const LINK_LIFE: Duration = Duration::from_secs(300);

/// Records of one kind read at once.
const PAGE: usize = 100;

/// What the export route answers.
pub enum Export {
    /// The document itself.
    Document { json: Vec<u8>, filename: String },
    /// A short-lived link to it.
    Link { url: String, expires_in: Duration },
}

/// The export document's shape (written field by field, see `Document`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountExport {
    pub user: UserView,
    /// The license number appears as its last four characters only.
    pub driver: DriverState,
    pub sessions: Vec<SessionListEntry>,
    /// The rides the user posted.
    pub rides: Vec<RideView>,
    /// The join requests the user made (and answers to request rides).
    pub requests: Vec<RequestView>,
    pub conversations: Vec<ConversationView>,
    /// The messages the user sent, oldest first, whatever conversation they are in.
    pub messages: Vec<MessageView>,
    /// Security records of the account, newest first.
    pub audit: Vec<AuditEntry>,
    /// Changes of the user's driver capability and availability, newest first.
    pub driver_changes: Vec<DriverChange>,
    /// The people the user blocked.
    pub blocked: Vec<BlockedUser>,
    /// The reports the user filed.
    pub reports: Vec<FiledReport>,
    #[serde(with = "time::serde::rfc3339")]
    pub exported_at: OffsetDateTime,
}

/// A security record as the account's owner sees it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// e.g. `sign_in_succeeded`, `password_changed`, `account_exported`.
    pub action: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub ip: String,
    #[schema(required = true)]
    pub user_agent: Option<String>,
    #[schema(required = true)]
    pub detail: Option<String>,
}

impl From<&AuditRecord> for AuditEntry {
    fn from(r: &AuditRecord) -> Self {
        AuditEntry {
            action: r.action.as_str().to_owned(),
            at: r.at,
            ip: r.ip.clone(),
            user_agent: r.user_agent.clone(),
            detail: r.detail.clone(),
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlockedUser {
    pub user: Person,
    pub blocked_at: String,
}

/// A report as the one who filed it sees it (the admins' notes stay theirs).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FiledReport {
    pub id: String,
    pub subject: Person,
    #[schema(required = true)]
    pub ride_id: Option<String>,
    pub reason: String,
    pub status: ReportStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

fn file_error(e: std::io::Error) -> AppError {
    AppError::Internal(format!("export file: {e}"))
}

fn encoded<T: Serialize>(value: &T) -> AppResult<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| AppError::Internal(format!("export encoding: {e}")))
}

/// The document being written: a JSON object, one field at a time, counting what an answer
/// holding it would take.
struct Document {
    file: tokio::io::BufWriter<tokio::fs::File>,
    bytes: u64,
    escapes: u64,
    fields: usize,
    /// Items written into the list that is open.
    items: usize,
}

impl Document {
    async fn create(path: &std::path::Path) -> AppResult<Document> {
        let file = tokio::fs::File::create(path).await.map_err(file_error)?;
        let mut document =
            Document { file: tokio::io::BufWriter::new(file), bytes: 0, escapes: 0, fields: 0, items: 0 };
        document.write(b"{").await?;
        Ok(document)
    }

    async fn write(&mut self, json: &[u8]) -> AppResult<()> {
        self.bytes += json.len() as u64;
        self.escapes += escapes_in(json);
        self.file.write_all(json).await.map_err(file_error)
    }

    async fn name(&mut self, name: &str) -> AppResult<()> {
        let separator = if self.fields == 0 { "" } else { "," };
        self.fields += 1;
        self.write(format!("{separator}\"{name}\":").as_bytes()).await
    }

    async fn field<T: Serialize>(&mut self, name: &str, value: &T) -> AppResult<()> {
        self.name(name).await?;
        self.write(&encoded(value)?).await
    }

    async fn open_list(&mut self, name: &str) -> AppResult<()> {
        self.name(name).await?;
        self.items = 0;
        self.write(b"[").await
    }

    async fn item<T: Serialize>(&mut self, value: &T) -> AppResult<()> {
        if self.items > 0 {
            self.write(b",").await?;
        }
        self.items += 1;
        self.write(&encoded(value)?).await
    }

    async fn close_list(&mut self) -> AppResult<()> {
        self.write(b"]").await
    }

    /// The list `name`, read page by page: `page(after)` answers a page and where the next one
    /// starts (`None` after the last).
    async fn paged_list<T: Serialize, C, F: std::future::Future<Output = AppResult<(Vec<T>, Option<C>)>>>(
        &mut self,
        name: &str,
        mut page: impl FnMut(Option<C>) -> F,
    ) -> AppResult<()> {
        self.open_list(name).await?;
        let mut after = None;
        loop {
            let (items, next) = page(after).await?;
            for item in &items {
                self.item(item).await?;
            }
            match next {
                Some(next) => after = Some(next),
                None => return self.close_list().await,
            }
        }
    }

    /// Closes the object; returns the document's size and the escapes in it.
    async fn finish(mut self) -> AppResult<(u64, u64)> {
        self.write(b"}").await?;
        self.file.flush().await.map_err(file_error)?;
        Ok((self.bytes, self.escapes))
    }
}

/// An export written to a temporary file (gone when dropped).
struct Written {
    file: tempfile::NamedTempFile,
    bytes: u64,
    escapes: u64,
    filename: String,
}

impl AccountService {
    /// `GET /api/auth/account/export`.
    pub async fn export(&self, cookie: &str, client: &Client) -> AppResult<Export> {
        let caller = self.auth.caller(cookie).await?;
        let user = caller.user.id;
        self.limiter.hit(Rule::AccountExport, &user.to_string()).await?;
        let sessions = self.auth.sessions(cookie).await?;
        let written = self.write_export(&caller, &sessions).await?;
        let size = Some(format!("{} bytes", written.bytes));
        self.auth.audit(AuditAction::AccountExported, Some(user), &caller.user.email, client, size).await;
        if fits_in_answer(written.bytes, written.escapes, self.answer_limit) {
            let json = tokio::fs::read(written.file.path()).await.map_err(file_error)?;
            return Ok(Export::Document { json, filename: written.filename });
        }
        let key = format!("{}{}.json", export_prefix(user), Ulid::new());
        self.uploads.put_file(&key, written.file.path(), "application/json", &written.filename).await?;
        let url = self.uploads.presign_get(&key, LINK_LIFE).await?;
        Ok(Export::Link { url, expires_in: LINK_LIFE })
    }

    /// `carpool-admin user export <email> --out <file>`: the same document, for a request that
    /// came by mail, written to `out`. Returns its size, or `None` when no account has the
    /// address.
    pub async fn export_by_operator(&self, email: &Email, out: &std::path::Path) -> AppResult<Option<u64>> {
        let Some((caller, sessions)) = self.auth.operator_view(email).await? else { return Ok(None) };
        let written = self.write_export(&caller, &sessions).await?;
        tokio::fs::copy(written.file.path(), out).await.map_err(file_error)?;
        let size = Some(format!("{} bytes, by operator", written.bytes));
        let operator = Client::operator();
        self.auth
            .audit(AuditAction::AccountExported, Some(caller.user.id), email.as_str(), &operator, size)
            .await;
        Ok(Some(written.bytes))
    }

    /// Writes the document of `caller`'s account, section by section.
    async fn write_export(&self, caller: &Caller, sessions: &[SessionListEntry]) -> AppResult<Written> {
        let user = caller.user.id;
        let file = tempfile::NamedTempFile::new().map_err(file_error)?;
        let mut doc = Document::create(file.path()).await?;
        doc.field("exportedAt", &rfc3339(caller.now)).await?;
        doc.field("user", &UserView::new(&caller.user, &caller.driver, &caller.campus, caller.today()))
            .await?;
        doc.field("driver", &DriverState::new(&caller.driver, caller.today())).await?;
        doc.field("sessions", &sessions).await?;
        let rides = self.rides.history_of(user).await?;
        doc.field("rides", &rides.posted).await?;
        doc.field("requests", &rides.requests).await?;
        doc.field("conversations", &self.chat.conversations_of(user).await?).await?;
        self.write_messages(&mut doc, user).await?;
        self.write_audit(&mut doc, user).await?;
        self.write_safety(&mut doc, user).await?;
        let (bytes, escapes) = doc.finish().await?;
        let filename = format!("campus-carpool-export-{}.json", caller.today());
        Ok(Written { file, bytes, escapes, filename })
    }

    async fn write_messages(&self, doc: &mut Document, user: Ulid) -> AppResult<()> {
        doc.paged_list("messages", |after| self.chat.sent_by(user, after)).await
    }

    async fn write_audit(&self, doc: &mut Document, user: Ulid) -> AppResult<()> {
        let store = self.store.as_ref();
        doc.paged_list("audit", async |after| {
            let (page, next) = audit::page_of_user(store, user, after, PAGE).await?;
            Ok((page.iter().map(AuditEntry::from).collect(), next))
        })
        .await?;
        // A change an admin made keeps who made it (their id), not where they were (their IP).
        let own = user.to_string();
        doc.paged_list("driverChanges", async |after| {
            let (page, next) = audit::driver_changes(store, user, PAGE, after).await?;
            let shown = page.into_iter().map(|c| DriverChange { ip: c.ip.filter(|_| c.actor == own), ..c });
            Ok((shown.collect(), next))
        })
        .await
    }

    /// The people the user blocked and the reports they filed, each person by their name now.
    async fn write_safety(&self, doc: &mut Document, user: Ulid) -> AppResult<()> {
        let store = self.store.as_ref();
        let blocked = safety_repo::blocked_by(store, user).await?;
        let reports = safety_repo::filed_by(store, user).await?;
        let people: Vec<Ulid> =
            blocked.iter().map(|(id, _)| *id).chain(reports.iter().map(|r| r.subject_id)).collect();
        let users = accounts::users_by_id(store, &people).await?;
        let person = |id: Ulid| Person::new(id, accounts::shown_name(&users, id));
        let blocked: Vec<BlockedUser> =
            blocked.into_iter().map(|(id, at)| BlockedUser { user: person(id), blocked_at: at }).collect();
        doc.field("blocked", &blocked).await?;
        let reports: Vec<FiledReport> = reports
            .iter()
            .map(|r| FiledReport {
                id: r.id.to_string(),
                subject: person(r.subject_id),
                ride_id: r.ride_id.map(|id| id.to_string()),
                reason: r.reason.clone(),
                status: r.status,
                created_at: r.created_at,
            })
            .collect();
        doc.field("reports", &reports).await
    }
}
