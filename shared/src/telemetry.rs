//! Structured JSON logs via `tracing`: one object per line, with the request span's fields
//! (`request_id`) on every event logged while handling a request.

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// The subscriber every binary installs; tests pass their own writer to read the lines back.
pub fn subscriber<W>(writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_env_filter(filter)
        .with_writer(writer)
        .finish()
}

/// Installs the JSON subscriber writing to stdout (CloudWatch picks Lambda's stdout up).
pub fn init() {
    // Already installed (e.g. by a test harness) is fine.
    let _ = tracing::subscriber::set_global_default(subscriber(std::io::stdout));
}
