//! Structured JSON logs via `tracing`: one object per line, with the request span's fields
//! (`request_id`, `function`, `apigw_request_id`, `user_id` once known) on every event logged
//! while handling a request.

use std::sync::OnceLock;

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::EnvFilter;

/// The subscriber every binary installs: JSON lines, and errors to Sentry when monitoring is
/// on; tests pass their own writer to read the lines back.
pub fn subscriber<W>(writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let lines = tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_writer(MaskingWriter(writer));
    let monitoring = crate::monitoring::enabled().then(sentry::integrations::tracing::layer);
    tracing_subscriber::registry().with(filter).with(lines).with(monitoring)
}

static FUNCTION: OnceLock<&'static str> = OnceLock::new();

/// Installs the JSON subscriber writing to stdout (CloudWatch picks Lambda's stdout up), for the
/// function (or local server) `name`, which every request's log line names.
pub fn init(name: &'static str) {
    let _ = FUNCTION.set(name);
    let environment = std::env::var("SENTRY_ENVIRONMENT").unwrap_or_else(|_| "local".into());
    crate::monitoring::init(name, std::env::var("SENTRY_DSN").ok().as_deref(), &environment);
    // Already installed (e.g. by a test harness) is fine.
    let _ = tracing::subscriber::set_global_default(subscriber(std::io::stdout));
}

/// The function this process serves (`carpool` before `init`, e.g. in tests).
pub fn function() -> &'static str {
    FUNCTION.get().copied().unwrap_or("carpool")
}

/// Names the signed-in user on the current request's log lines and error reports (by id only,
/// never an email).
pub fn identify(user: ulid::Ulid) {
    tracing::Span::current().record("user_id", tracing::field::display(user));
    crate::monitoring::identify(user);
}

/// Log lines with email addresses masked, whatever logged them (an error from SES or a key
/// quoted in a store error may hold one): the JSON formatter writes each line whole.
struct MaskingWriter<W>(W);

impl<'a, W: MakeWriter<'a>> MakeWriter<'a> for MaskingWriter<W> {
    type Writer = Masking<W::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        Masking(self.0.make_writer())
    }
}

struct Masking<W>(W);

impl<W: std::io::Write> std::io::Write for Masking<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        match std::str::from_utf8(bytes) {
            Ok(line) if line.contains('@') => {
                self.0.write_all(crate::monitoring::mask_emails(line).as_bytes())?;
                Ok(bytes.len())
            }
            _ => self.0.write(bytes),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}
