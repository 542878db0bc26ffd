//! Blocks and reports. A blocked pair (either way) do not see each other's rides, cannot join
//! them and (with the chat) cannot message each other. A report goes to the campus admins, who
//! dismiss it or act on it.

use super::views::ReportView;
use super::RideService;
use crate::auth::Caller;
use crate::cursor::{self, Page};
use crate::domain::ride::check_text;
use crate::error::{AppError, AppResult};
use crate::rate_limit::Rule;
use crate::repo::accounts::{self, UserRecord};
use crate::repo::safety::{self as safety_repo, ReportRecord, ReportStatus};
use crate::store::Cursor;
use tracing::info;
use ulid::Ulid;

const MAX_REASON_CHARS: usize = 1000;

impl RideService {
    /// Another verified user of the caller's campus (`404` for anyone else).
    async fn campus_peer(&self, caller: &Caller, user_id: &str) -> AppResult<UserRecord> {
        let id: Ulid = user_id.parse().map_err(|_| AppError::NotFound)?;
        let (user, _) =
            accounts::user_with_driver(self.store.as_ref(), id).await?.ok_or(AppError::NotFound)?;
        if user.campus_id != caller.user.campus_id || !user.email_verified {
            return Err(AppError::NotFound);
        }
        if user.id == caller.user.id {
            return Err(AppError::Incomplete("you cannot do this to yourself".into()));
        }
        Ok(user)
    }

    /// `POST /api/users/{userId}/block` (again: no change).
    pub async fn block(&self, cookie: &str, user_id: &str) -> AppResult<()> {
        let caller = self.auth.caller(cookie).await?;
        let other = self.campus_peer(&caller, user_id).await?;
        self.store.write(safety_repo::block(caller.user.id, other.id, caller.now)).await?;
        info!(user_id = %caller.user.id, blocked = %other.id, "user blocked");
        Ok(())
    }

    /// `DELETE /api/users/{userId}/block` (not blocked: no change).
    pub async fn unblock(&self, cookie: &str, user_id: &str) -> AppResult<()> {
        let caller = self.auth.caller(cookie).await?;
        let other: Ulid = user_id.parse().map_err(|_| AppError::NotFound)?;
        self.store.write(safety_repo::unblock(caller.user.id, other)).await?;
        Ok(())
    }

    /// `POST /api/reports`: about a user of the campus, and optionally one of their rides the
    /// caller can see.
    pub async fn report(
        &self,
        cookie: &str,
        user_id: &str,
        ride_id: Option<&str>,
        reason: &str,
    ) -> AppResult<()> {
        let caller = self.auth.caller(cookie).await?;
        let subject = self.campus_peer(&caller, user_id).await?;
        let reason = check_text("reason", reason, MAX_REASON_CHARS).map_err(AppError::Incomplete)?;
        if reason.is_empty() {
            return Err(AppError::Incomplete("reason is required".into()));
        }
        let ride_id = match ride_id.filter(|r| !r.is_empty()) {
            Some(id) => {
                // A ride of someone the reporter blocked is still theirs to report.
                let ride = self.campus_ride(&caller, id).await?;
                if !ride.is_member(subject.id) {
                    return Err(AppError::Incomplete("that ride is not one of this user's".into()));
                }
                Some(ride.id)
            }
            None => None,
        };
        self.limiter.hit(Rule::Report, &caller.user.id.to_string()).await?;
        let report = ReportRecord {
            id: Ulid::new(),
            campus_id: caller.campus.id.clone(),
            reporter_id: caller.user.id,
            reporter_name: caller.user.name.clone(),
            subject_id: subject.id,
            subject_name: subject.name.clone(),
            ride_id,
            reason,
            status: ReportStatus::Open,
            created_at: caller.now,
            note: None,
            decided_by: None,
            decided_at: None,
        };
        self.store.write(safety_repo::create_report(&report)).await?;
        info!(report_id = %report.id, reporter = %caller.user.id, subject = %subject.id, "report filed");
        Ok(())
    }

    async fn admin(&self, cookie: &str) -> AppResult<Caller> {
        let caller = self.auth.caller(cookie).await?;
        if !caller.user.admin {
            return Err(AppError::AdminRequired);
        }
        Ok(caller)
    }

    /// `GET /api/admin/reports?status=`: the campus's reports in one status, oldest first.
    pub async fn reports(
        &self,
        cookie: &str,
        status: ReportStatus,
        sealed: Option<&str>,
        limit: usize,
    ) -> AppResult<Page<ReportView>> {
        let admin = self.admin(cookie).await?;
        let scope = format!("reports {} {} {}", admin.user.id, admin.campus.id, status.as_str());
        let after = sealed.map(|s| cursor::open(self.keys()?, &scope, s).map(Cursor)).transpose()?;
        let (reports, next) =
            safety_repo::reports(self.store.as_ref(), &admin.campus.id, status, limit, after).await?;
        let next_cursor = next.map(|c| cursor::seal(self.keys()?, &scope, &c.0)).transpose()?;
        Ok(Page { items: self.report_views(&reports).await?, next_cursor })
    }

    /// Reports as admins see them: each person under their current name, or `DELETED_USER` once
    /// their account is gone (the report itself is kept for the admins).
    async fn report_views(&self, reports: &[ReportRecord]) -> AppResult<Vec<ReportView>> {
        let people: Vec<Ulid> = reports.iter().flat_map(|r| [r.reporter_id, r.subject_id]).collect();
        let users = self.users(&people).await?;
        Ok(reports
            .iter()
            .map(|report| {
                let mut view = ReportView::from(report);
                view.reporter.name = accounts::shown_name(&users, report.reporter_id).to_owned();
                view.subject.name = accounts::shown_name(&users, report.subject_id).to_owned();
                view
            })
            .collect())
    }

    /// `POST /api/admin/reports/{id}`: dismiss or act on a report of the admin's campus (a
    /// decided one may be decided again, to correct it).
    pub async fn decide_report(
        &self,
        cookie: &str,
        id: &str,
        status: ReportStatus,
        note: &str,
    ) -> AppResult<ReportView> {
        let admin = self.admin(cookie).await?;
        if status == ReportStatus::Open {
            return Err(AppError::Incomplete("status must be dismissed or actioned".into()));
        }
        let note = check_text("note", note, MAX_REASON_CHARS).map_err(AppError::Incomplete)?;
        let id: Ulid = id.parse().map_err(|_| AppError::NotFound)?;
        for _ in 0..super::MAX_ATTEMPTS {
            let before = safety_repo::get_report(self.store.as_ref(), id).await?.ok_or(AppError::NotFound)?;
            if before.campus_id != admin.campus.id {
                return Err(AppError::NotFound);
            }
            let report = ReportRecord {
                status,
                note: Some(note.clone()),
                decided_by: Some(admin.user.id),
                decided_at: Some(admin.now),
                ..before.clone()
            };
            if self.commit(vec![safety_repo::decide_report(&report, before.status)], Vec::new()).await? {
                info!(report_id = %id, admin = %admin.user.id, status = status.as_str(), "report decided");
                return Ok(self.report_views(&[report]).await?.remove(0));
            }
        }
        Err(AppError::Contended)
    }
}
