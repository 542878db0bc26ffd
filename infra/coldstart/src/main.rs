//! Cold starts of the Lambda functions, measured the way Lambda starts them. Each bootstrap is
//! started with `AWS_LAMBDA_RUNTIME_API` pointing at a loopback fake of the Lambda Runtime API,
//! which notes when the function first asks for work (init), hands it one sample event from
//! `events/`, and notes when its answer comes back (first invocation). The same server stands in
//! for AWS (`AWS_ENDPOINT_URL`): DynamoDB finds nothing and counts every counter to 1, SES and
//! the WebSocket management API accept. So the first invocation includes the SDK's first signed
//! request, over plain HTTP: in AWS, add a TLS handshake and the network. Peak memory is the
//! process's high-water mark (`VmHWM`) once it has answered.
//!
//! The hello-world `lambda_runtime` function (`coldstart-hello`) runs in the same rounds as the
//! yardstick; the rounds are interleaved so that whatever else the machine does hits all alike.
//!
//!     bash infra/coldstart.sh [ROUNDS]

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Parser;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// The yardstick: its event is echoed back.
const HELLO: &str = "coldstart-hello";

/// Each bootstrap and the sample event of its first invocation (each reaches the store).
const FUNCTIONS: &[(&str, &str)] = &[
    (HELLO, ""),
    ("register", "events/register/register.json"),
    ("verify-email", "events/verify-email/verify-email.json"),
    ("signin", "events/signin/signin.json"),
    ("session", "events/session/session.json"),
    ("password", "events/password/forgot.json"),
    ("two-factor", "events/two-factor/setup.json"),
    ("driver", "events/driver/state.json"),
    ("admin", "events/admin/reviews.json"),
    ("carpool", "events/carpool/feed.json"),
    ("chat-http", "events/chat-http/conversations.json"),
    ("chat-ws", "events/chat-ws/connect.json"),
    ("account", "events/account/export.json"),
    ("authorizer", "events/authorizer/revoke-session.json"),
    ("mailer", "events/mailer/redrive.json"),
    ("license-sweep", "events/license-sweep/hourly.json"),
    ("account-sweep", "events/account-sweep/every-5-minutes.json"),
];

#[derive(Parser)]
#[command(about = "Cold starts of every function's bootstrap against a fake Lambda Runtime API")]
struct Args {
    /// Where the bootstraps are.
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    /// Cold starts per function.
    #[arg(long, default_value_t = 15)]
    rounds: usize,
}

/// What one cold start saw.
#[derive(Default)]
struct Observed {
    asked: Option<Instant>,
    answered: Option<Instant>,
    answer: Option<Value>,
    failure: Option<String>,
}

#[derive(Clone)]
struct Fake {
    event: Arc<Mutex<Vec<u8>>>,
    observed: Arc<Mutex<Observed>>,
    done: Arc<Notify>,
}

impl Fake {
    fn finish(&self, update: impl FnOnce(&mut Observed)) {
        update(&mut self.observed.lock().unwrap());
        self.done.notify_one();
    }
}

/// `GET /runtime/invocation/next`: the first call ends init and gets the event; a second one
/// (the function is ready for more) waits until the process is stopped.
async fn next_invocation(State(fake): State<Fake>) -> impl IntoResponse {
    let first = {
        let mut observed = fake.observed.lock().unwrap();
        let first = observed.asked.is_none();
        if first {
            observed.asked = Some(Instant::now());
        }
        first
    };
    if !first {
        std::future::pending::<()>().await;
    }
    let deadline = std::time::SystemTime::now() + Duration::from_secs(30);
    let deadline_ms = deadline.duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
    let headers = [
        ("lambda-runtime-aws-request-id", "8476a536-e9f4-11e8-9739-2dfe598c3fcd".to_owned()),
        ("lambda-runtime-deadline-ms", deadline_ms.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:bench".into(),
        ),
        (
            "lambda-runtime-trace-id",
            "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419".into(),
        ),
        ("content-type", "application/json".into()),
    ];
    (headers, fake.event.lock().unwrap().clone())
}

async fn invocation_response(State(fake): State<Fake>, body: Bytes) -> StatusCode {
    let answer = serde_json::from_slice(&body).unwrap_or(Value::Null);
    fake.finish(|o| {
        o.answered = Some(Instant::now());
        o.answer = Some(answer);
    });
    StatusCode::ACCEPTED
}

async fn invocation_error(State(fake): State<Fake>, body: Bytes) -> StatusCode {
    let error = String::from_utf8_lossy(&body).into_owned();
    fake.finish(|o| o.failure = Some(error));
    StatusCode::ACCEPTED
}

/// Every AWS call the functions make: DynamoDB (by `X-Amz-Target`) finds no items and counts
/// counters to 1; everything else (SES, `@connections`) is accepted.
async fn aws(headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("");
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let answer = match target.rsplit('.').next().unwrap_or("") {
        "Query" | "Scan" => json!({"Items": [], "Count": 0, "ScannedCount": 0}),
        "BatchGetItem" => json!({"Responses": {}, "UnprocessedKeys": {}}),
        "UpdateItem" => {
            // The rate-limit counters: `ADD #c :by` answers the new count.
            let counter = request["ExpressionAttributeNames"]["#c"].as_str().unwrap_or("count");
            json!({"Attributes": {counter: {"N": "1"}}})
        }
        _ if target.is_empty() => json!({"MessageId": "0100018c-bench"}),
        _ => json!({}),
    };
    ([("content-type", "application/x-amz-json-1.0")], Json(answer))
}

/// The environment `template.yaml` gives the functions, pointed at the fake.
fn function_env(api: &str) -> Vec<(&'static str, String)> {
    let url = format!("http://{api}");
    vec![
        ("AWS_LAMBDA_RUNTIME_API", api.to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME", "bench".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench".into()),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/25/[$LATEST]bench".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "AKIDBENCH".into()),
        ("AWS_SECRET_ACCESS_KEY", "bench-secret".into()),
        ("AWS_SESSION_TOKEN", "bench-token".into()),
        ("AWS_ENDPOINT_URL", url.clone()),
        ("CARPOOL_TABLE", "carpool".into()),
        ("MAIL_FROM", "Campus Carpool <no-reply@carpool.example.edu>".into()),
        ("APP_URL", "https://carpool.example.edu".into()),
        ("WEBSOCKET_ENDPOINT", url),
        ("LICENSE_BUCKET", "carpool-licenses".into()),
        ("KEY_RING", "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into()),
        ("EDGE_SECRET", "bench-edge-secret".into()),
        ("METRICS_NAMESPACE", "Carpool".into()),
        ("RUST_LOG", "info".into()),
        // As template.yaml names Amazon Linux's bundle: this machine's one file, no directory.
        ("SSL_CERT_FILE", ca_bundle()),
    ]
}

/// The system's CA bundle (Debian's or Amazon Linux's name for it).
fn ca_bundle() -> String {
    ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"]
        .into_iter()
        .find(|path| std::path::Path::new(path).exists())
        .unwrap_or_default()
        .to_owned()
}

struct Sample {
    init: Duration,
    invocation: Duration,
    peak_kib: u64,
    answer: String,
}

/// The process's peak resident memory so far, in KiB.
fn peak_memory(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("VmHWM:").map(|v| v.trim().to_owned())))
        .and_then(|v| v.trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

/// What the first invocation answered, briefly: an HTTP status or the event handler's result.
fn summary(answer: &Value) -> String {
    match answer.get("statusCode") {
        Some(status) => status.to_string(),
        None => answer.to_string().chars().take(40).collect(),
    }
}

async fn cold_start(fake: &Fake, api: &str, binary: &PathBuf, event: &[u8]) -> Result<Sample, String> {
    *fake.event.lock().unwrap() = event.to_vec();
    *fake.observed.lock().unwrap() = Observed::default();
    let started = Instant::now();
    // Only what Lambda sets and template.yaml adds: this machine's environment may name CA
    // bundles and directories (SSL_CERT_DIR, AWS_CA_BUNDLE) that Lambda's does not.
    let mut child = std::process::Command::new(binary)
        .env_clear()
        .envs(function_env(api))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", binary.display()))?;
    let pid = child.id();
    let finished = tokio::time::timeout(Duration::from_secs(20), fake.done.notified()).await;
    let peak_kib = peak_memory(pid);
    child.kill().ok();
    child.wait().ok();
    let observed = std::mem::take(&mut *fake.observed.lock().unwrap());
    if finished.is_err() {
        return Err("no answer within 20 s".into());
    }
    if let Some(failure) = observed.failure {
        return Err(failure);
    }
    let (Some(asked), Some(answered), Some(answer)) = (observed.asked, observed.answered, observed.answer)
    else {
        return Err("answered before asking".into());
    };
    Ok(Sample { init: asked - started, invocation: answered - asked, peak_kib, answer: summary(&answer) })
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len() % 2 == 0 {
        (values[middle - 1] + values[middle]) / 2.0
    } else {
        values[middle]
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let fake = Fake { event: Arc::default(), observed: Arc::default(), done: Arc::new(Notify::new()) };
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next_invocation))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(invocation_response))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(invocation_error))
        .route("/2018-06-01/runtime/init/error", post(invocation_error))
        .fallback(aws)
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let api = listener.local_addr()?.to_string();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let mut events = Vec::new();
    for (name, path) in FUNCTIONS {
        let event = if path.is_empty() { br#"{"hello":"world"}"#.to_vec() } else { std::fs::read(path)? };
        let binary = args.bin_dir.join(name);
        let size = std::fs::metadata(&binary).map_err(|e| format!("{}: {e}", binary.display()))?.len();
        events.push((name, binary, event, size));
    }
    let mut samples: Vec<Vec<Sample>> = events.iter().map(|_| Vec::new()).collect();
    for round in 0..args.rounds {
        eprint!("\rround {}/{}", round + 1, args.rounds);
        for ((name, binary, event, _), samples) in events.iter().zip(&mut samples) {
            let sample = cold_start(&fake, &api, binary, event).await.map_err(|e| format!("{name}: {e}"))?;
            samples.push(sample);
        }
    }
    eprintln!();

    let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
    let hello_init = median(samples[0].iter().map(|s| ms(&s.init)).collect());
    println!(
        "Cold starts, {} rounds, medians (the hello-world lambda_runtime function first):\n",
        args.rounds
    );
    println!(
        "| function | bootstrap | init | init / hello | first invocation | peak memory | first answer |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut over = Vec::new();
    for ((name, _, _, size), samples) in events.iter().zip(&samples) {
        let init = median(samples.iter().map(|s| ms(&s.init)).collect());
        let invocation = median(samples.iter().map(|s| ms(&s.invocation)).collect());
        let peak = median(samples.iter().map(|s| s.peak_kib as f64).collect()) / 1024.0;
        let ratio = init / hello_init;
        if ratio > 1.5 {
            over.push(**name);
        }
        println!(
            "| {name} | {:.1} MiB | {init:.2} ms | {ratio:.2}x | {invocation:.2} ms | {peak:.1} MiB | {} |",
            *size as f64 / 1048576.0,
            samples[0].answer,
        );
    }
    if over.is_empty() {
        println!("\nEvery function's init is within 1.5x the hello-world's.");
    } else {
        println!("\nOver 1.5x the hello-world's init: {}", over.join(", "));
    }
    Ok(())
}
