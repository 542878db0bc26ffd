//! What the operator counts: request latency per route and the business events below, written
//! as CloudWatch Embedded Metric Format lines on stdout, from which CloudWatch Logs extracts
//! the metrics (no API call, nothing to fail). The template's dashboard and alarms read them.
//!
//! Every metric has the dimension `function`, plus at most `route`, `outcome` or `rule`, all
//! from fixed sets: never a user id, an email or a raw path, which would make a metric per user.
//! Only Lambda functions record them (`install` in their cold start, `flush` at the end of each
//! invocation); elsewhere the `metrics` facade has no recorder and every call is a no-op.

use std::sync::OnceLock;
use std::time::Duration;

use ::metrics::{counter, describe_histogram, histogram, Unit};
use metrics_cloudwatch_embedded::Collector;

use crate::rate_limit::Rule;

static COLLECTOR: OnceLock<&'static Collector> = OnceLock::new();

/// Starts recording for `function` in the CloudWatch namespace `METRICS_NAMESPACE` (the
/// template sets `Carpool/<stage>`). Once per process; later calls change nothing.
pub fn install(function: &'static str) {
    if COLLECTOR.get().is_some() {
        return;
    }
    let namespace = std::env::var("METRICS_NAMESPACE").unwrap_or_else(|_| "Carpool/local".into());
    let built = metrics_cloudwatch_embedded::Builder::new()
        .cloudwatch_namespace(namespace)
        .with_dimension("function", function)
        .init();
    match built {
        Ok(collector) => {
            let _ = COLLECTOR.set(collector);
            describe_histogram!(LATENCY, Unit::Milliseconds, "Time to answer, per route and outcome");
        }
        Err(e) => tracing::warn!(error = %e, "metrics recorder not installed"),
    }
}

/// Writes what was recorded since the last flush to stdout, one line per set of dimensions.
pub fn flush() {
    flush_into(std::io::stdout().lock());
}

/// Writes what was recorded since the last flush to `writer` (tests read it back).
pub fn flush_into(writer: impl std::io::Write) {
    if let Some(collector) = COLLECTOR.get() {
        if let Err(e) = collector.flush(writer) {
            tracing::warn!(error = %e, "metrics not written");
        }
    }
}

const LATENCY: &str = "Latency";

/// One answered HTTP request or Lambda event: `route` is the matched route template (or
/// `unmatched`), a WebSocket route key, or the event's kind; `outcome` a status class or
/// `ok`/`error`.
pub fn answered(route: &str, outcome: &'static str, elapsed: Duration) {
    histogram!(LATENCY, "route" => route.to_owned(), "outcome" => outcome)
        .record(elapsed.as_secs_f64() * 1000.0);
}

/// An HTTP status's class, the `outcome` of `answered`.
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// How a sign-in attempt ended.
#[derive(Debug, Clone, Copy)]
pub enum SignIn {
    /// Signed in, session issued.
    Success,
    /// Password right; the second factor is asked for.
    Challenged,
    /// Refused: wrong email or password, account locked, or email not verified.
    Failed,
}

pub fn sign_in(outcome: SignIn) {
    let outcome = match outcome {
        SignIn::Success => "success",
        SignIn::Challenged => "challenged",
        SignIn::Failed => "failed",
    };
    counter!("SignIns", "outcome" => outcome).increment(1);
}

/// An account locked after repeated failures (its lock starting, not every refused attempt).
pub fn lockout() {
    counter!("Lockouts").increment(1);
}

/// A request refused by a rate limit, once per rule it was over (a sign-in over both its
/// per-IP and its per-email limit counts under both rules).
pub fn rate_limited(rule: Rule) {
    counter!("RateLimited", "rule" => rule.name()).increment(1);
}

/// A new account registered (its verification mail queued).
pub fn registration() {
    counter!("Registrations").increment(1);
}

/// An administrator's decision on a driver's license.
pub fn driver_review(approved: bool) {
    counter!("DriverReviews", "outcome" => if approved { "approved" } else { "rejected" }).increment(1);
}

/// The expiry sweep's reminders in one run: queued, and those it could not queue.
pub fn sweep_reminders(sent: usize, failed: usize) {
    counter!("SweepReminders", "outcome" => "sent").increment(sent as u64);
    counter!("SweepReminders", "outcome" => "failed").increment(failed as u64);
}

pub fn ride_posted() {
    counter!("RidesPosted").increment(1);
}

/// A driver accepting a rider's request to join.
pub fn ride_accepted() {
    counter!("RideAccepts").increment(1);
}

/// A chat message stored (over HTTP or the WebSocket).
pub fn message_sent() {
    counter!("MessagesSent").increment(1);
}

/// An account closed (by its owner or an operator).
pub fn account_deleted() {
    counter!("AccountsDeleted").increment(1);
}

/// Account erasures the redrive took over, by how they ended (a failure is retried later).
pub fn erasures_resumed(finished: usize, failed: usize) {
    counter!("ErasuresResumed", "outcome" => "finished").increment(finished as u64);
    counter!("ErasuresResumed", "outcome" => "failed").increment(failed as u64);
}

/// A WebSocket connection that answered Gone when a frame was delivered to it.
pub fn delivery_gone() {
    counter!("DeliveriesGone").increment(1);
}

/// A frame a live connection did not take (the management API failing or throttling, or a
/// local client not reading); its member gets the unread digest instead.
pub fn delivery_failed() {
    counter!("DeliveriesFailed").increment(1);
}
