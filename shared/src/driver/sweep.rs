//! The license expiry sweep (hourly in AWS, on a timer locally): mails each expiry alert once,
//! turns availability off on the expiry day, and reads only the licenses with an alert due.
//!
//! Licenses are indexed by the instant their next alert falls due (see `repo::drivers`), so a
//! run queries what is due up to now and nothing else. Handling one moves it to its next alert
//! or out of the index. Each alert goes out exactly once even when two runs overlap or a run is
//! retried: the profile is written on condition of the stamp it was read with (the loser
//! re-reads and finds the alert sent), and the mail is queued with a marker item that can be
//! created only once per license expiry date and alert.

use super::{Actor, Change, DriverService, Outcome};
use crate::domain::driver::{alerts_due, Alert};
use crate::error::{AppError, AppResult};
use crate::mail::driver_templates;
use crate::repo::accounts::{self, UserRecord};
use crate::repo::drivers::{self, DriverRecord};
use crate::repo::from_item;
use crate::store::Item;
use futures::stream::{self, StreamExt};
use time::OffsetDateTime;
use tracing::{error, info};

/// Licenses handled at once (each is a few store round trips).
const CONCURRENCY: usize = 8;

/// What one run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SweepSummary {
    /// Index entries read.
    pub examined: usize,
    /// Alerts mailed.
    pub alerts_sent: usize,
    /// Licenses that expired today (availability off).
    pub expired: usize,
    /// Entries that failed (left in the index for the next run).
    pub failed: usize,
}

enum Handled {
    Nothing,
    Alerted(Alert),
}

impl DriverService {
    /// One run of the sweep at the clock's now. Its summary is logged and counted even when a
    /// page fails midway (what went out before it did go out).
    pub async fn sweep(&self) -> AppResult<SweepSummary> {
        let started = std::time::Instant::now();
        let mut summary = SweepSummary::default();
        let run = self.sweep_pages(&mut summary).await;
        info!(
            examined = summary.examined,
            alerts_sent = summary.alerts_sent,
            expired = summary.expired,
            failed = summary.failed,
            completed = run.is_ok(),
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            "license sweep run"
        );
        crate::metrics::sweep_reminders(summary.alerts_sent, summary.failed);
        run.map(|()| summary)
    }

    async fn sweep_pages(&self, summary: &mut SweepSummary) -> AppResult<()> {
        let now = self.now();
        // The campuses once, before licenses are handled concurrently (each needs its campus's
        // calendar): otherwise each of the first few would miss the cache and read them again.
        self.auth.campuses().all().await?;
        let mut query = drivers::alerts_due_query(now.unix_timestamp(), 100);
        loop {
            let page = self.store.query(&query).await?;
            summary.examined += page.items.len();
            let results: Vec<_> = stream::iter(page.items)
                .map(|item| self.sweep_one(item, now))
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await;
            for result in results {
                match result {
                    Ok(Handled::Alerted(alert)) => {
                        summary.alerts_sent += 1;
                        summary.expired += usize::from(alert == Alert::Expired);
                    }
                    Ok(Handled::Nothing) => {}
                    Err(e) => {
                        error!(error = %e, "license sweep entry failed; the next run retries it");
                        summary.failed += 1;
                    }
                }
            }
            match page.next {
                Some(next) => query.after = Some(next),
                None => return Ok(()),
            }
        }
    }

    /// Handles one index entry: the driver item as the (eventually consistent) index saw it.
    async fn sweep_one(&self, item: Item, now: OffsetDateTime) -> AppResult<Handled> {
        let user = drivers::user_of(&item)
            .ok_or_else(|| AppError::Internal(format!("bad driver key {}", item.key.pk)))?;
        let seen: DriverRecord = from_item(&item)?;
        let campus = self.auth.campuses().by_id(&seen.campus_id).await?.ok_or_else(|| {
            AppError::Internal(format!("driver {user} of unknown campus {:?}", seen.campus_id))
        })?;
        let calendar = crate::auth::campus_calendar(&campus)?;
        let today = calendar.today(now);
        let expected = seen.license.as_ref().and_then(|l| alerts_due(l.expires_on, today, &l.alerts_sent));
        if expected.as_ref().is_some_and(|due| due.send == Alert::Expired) {
            // The license expired: the driver's rides that have not departed are off. Before the
            // alert is recorded, so that if this fails the entry stays due and the next run tries
            // again (it skips what is already settled).
            self.rides.driver_stopped(user).await?;
        }
        // The recipient, unless the alert's marker says it went out already (for this expiry
        // date) or the address is unverified: then it is settled quietly. One read for both.
        let recipient = match (&expected, &seen.license) {
            (Some(due), Some(license)) => {
                let marker = drivers::alert_marker(user, license.expires_on, due.send);
                let items = self.store.get_many(&[marker.key().clone(), accounts::user_key(user)]).await?;
                let unsent = match &items[..] {
                    [None, Some(user)] => Some(from_item::<UserRecord>(user)?),
                    _ => None,
                };
                // No reminders to an address that never confirmed it wants mail from us.
                unsent.filter(|user| user.email_verified)
            }
            _ => None,
        };
        let mut alerted = None;
        self.change_driver(user, Some(seen), |mut driver| {
            alerted = None;
            let Some(license) = driver.license.as_mut() else {
                return Ok(match driver.next_alert_at.take() {
                    Some(_) => Outcome::Changed(Change::new(driver)),
                    None => Outcome::Unchanged(driver),
                });
            };
            let due = alerts_due(license.expires_on, today, &license.alerts_sent);
            let Some(due) = due.filter(|d| Some(d) == expected.as_ref()) else {
                // Nothing due (or not what was looked up: the next run looks again).
                let before = driver.next_alert_at;
                driver.reindex(&calendar);
                return Ok(if driver.next_alert_at == before {
                    Outcome::Unchanged(driver)
                } else {
                    Outcome::Changed(Change::new(driver))
                });
            };
            let expires_on = license.expires_on;
            for alert in &due.settle {
                if !license.alerts_sent.contains(alert) {
                    license.alerts_sent.push(*alert);
                }
            }
            license.alerts_sent.sort();
            let was_on = driver.available;
            if due.send == Alert::Expired {
                driver.available = false;
            }
            driver.reindex(&calendar);
            let mut change = Change::new(driver);
            if due.send == Alert::Expired && was_on {
                let reason = Some("license expired".to_owned());
                change.audits.push(self.availability_change(&Actor::system(), true, false, reason));
            }
            if let Some(user_record) = &recipient {
                change.writes.push(drivers::alert_marker(user, expires_on, due.send));
                change.mail.push(driver_templates::license_alert(
                    &self.app_url,
                    &user_record.email,
                    &user_record.name,
                    due.send,
                    expires_on,
                ));
                alerted = Some(due.send);
            }
            Ok(Outcome::Changed(change))
        })
        .await?;
        Ok(alerted.map_or(Handled::Nothing, Handled::Alerted))
    }
}
