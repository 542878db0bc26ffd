//! Load on `carpool-local` over loopback (README "Benchmark"): session checks, feed pages and
//! chat sends over the WebSocket, each at 1 to 500 concurrent connections for a fixed time. Each
//! connection is a closed loop (the next request when the answer is in). Prints throughput and
//! p50/p99 latency per step, the errors and lost chat messages (both must be 0; the bench fails
//! otherwise), and the server's resident memory after each step.
//!
//!     cargo bench -p carpool-local --bench load [-- SECONDS_PER_STEP]     (default 3)
//!
//! Client and server share the machine's cores, so the numbers are a floor for the server.

#[path = "../tests/common/mod.rs"]
mod common;

use common::Server;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Barrier;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use ulid::Ulid;

const STEPS: [usize; 6] = [1, 10, 50, 100, 250, 500];
const USERS: usize = 500;
const RIDES: usize = 200;
const PASSWORD: &str = "marble kiosk velvet tundra";
/// How long a chat connection waits for messages still on their way after everyone stopped.
const DRAIN: Duration = Duration::from_secs(10);

struct User {
    cookie: String,
    /// The direct conversation with this user's partner (users pair up: 0 with 1, 2 with 3...).
    conversation: String,
}

/// One step's outcome.
#[derive(Default)]
struct Step {
    latencies: Vec<Duration>,
    errors: usize,
    lost: usize,
    elapsed: Duration,
}

impl Step {
    fn merge(&mut self, other: Step) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
        self.lost += other.lost;
    }

    fn percentile(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let index = ((self.latencies.len() - 1) as f64 * p).round() as usize;
        self.latencies[index].as_secs_f64() * 1000.0
    }
}

/// A verified, signed-in account of the demo campus: its session cookie.
fn account(server: &Server, n: usize) -> String {
    let email = format!("load{n}@example.edu");
    let body = json!({"email": email, "password": PASSWORD, "name": format!("Load Tester {n}")});
    let (status, registered, _) = server.call("POST", "/api/auth/register", Some(body), None);
    assert_eq!(status, 202, "{registered}");
    let token = json!({"token": registered["devVerificationToken"]});
    assert_eq!(server.call("POST", "/api/auth/verify-email", Some(token), None).0, 200);
    let body = json!({"email": email, "password": PASSWORD});
    let (status, answer, cookie) = server.call("POST", "/api/auth/signin", Some(body), None);
    assert_eq!(status, 200, "{answer}");
    cookie.expect("a session cookie")
}

fn user_id(server: &Server, cookie: &str) -> String {
    let (_, session, _) = server.call("GET", "/api/auth/session", None, Some(cookie));
    session["user"]["id"].as_str().unwrap().to_owned()
}

/// USERS accounts in pairs with a direct conversation each, and RIDES ride requests in the feed.
fn seed(server: &Server) -> Vec<User> {
    let cookies: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|worker| {
                scope.spawn(move || {
                    (worker..USERS).step_by(4).map(|n| (n, account(server, n))).collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<_> = workers.into_iter().flat_map(|w| w.join().unwrap()).collect();
        all.sort();
        all.into_iter().map(|(_, cookie)| cookie).collect()
    });
    let mut users = Vec::with_capacity(USERS);
    for pair in cookies.chunks(2) {
        let partner = user_id(server, &pair[1]);
        let (status, answer, _) =
            server.call("POST", "/api/chat/conversations", Some(json!({"userId": partner})), Some(&pair[0]));
        assert_eq!(status, 200, "{answer}");
        let conversation = answer["conversation"]["id"].as_str().unwrap().to_owned();
        users.extend(
            pair.iter().map(|cookie| User { cookie: cookie.clone(), conversation: conversation.clone() }),
        );
    }
    let depart = time::OffsetDateTime::now_utc() + time::Duration::days(2);
    let depart =
        depart.replace_nanosecond(0).unwrap().format(&time::format_description::well_known::Rfc3339).unwrap();
    for (n, author) in users.iter().enumerate().take(RIDES) {
        let ride = json!({
            "kind": "request",
            "origin": {"label": format!("Dorm {n}")},
            "destination": {"label": "Station"},
            "departAt": depart,
            "seats": 1,
        });
        let (status, answer, _) = server.call("POST", "/api/carpool/rides", Some(ride), Some(&author.cookie));
        assert_eq!(status, 201, "{answer}");
    }
    users
}

/// `concurrency` connections each calling `GET path` until the time is up.
async fn http_step(
    client: &reqwest::Client,
    url: &str,
    users: &[User],
    concurrency: usize,
    duration: Duration,
) -> Step {
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..concurrency)
        .map(|n| {
            let (client, url, cookie) = (client.clone(), url.to_owned(), users[n].cookie.clone());
            tokio::spawn(async move {
                let mut step = Step::default();
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    let answer = match client.get(&url).header("cookie", &cookie).send().await {
                        Ok(response) if response.status().is_success() => response.bytes().await.is_ok(),
                        _ => false,
                    };
                    if answer {
                        step.latencies.push(sent.elapsed());
                    } else {
                        step.errors += 1;
                    }
                }
                step
            })
        })
        .collect();
    let mut step = Step::default();
    for task in tasks {
        step.merge(task.await.unwrap());
    }
    step.elapsed = started.elapsed();
    step
}

/// `concurrency` WebSockets, partners in the same direct conversation: each sends a message,
/// waits for its own copy to come back (the latency), and sends the next until the time is up.
/// Then every connection must receive all of its partner's messages (when the partner is
/// connected too): what is missing after `DRAIN` is lost.
async fn chat_step(ws_url: &str, users: &[User], concurrency: usize, duration: Duration) -> Step {
    let run = Ulid::new();
    let sent: Arc<Vec<AtomicUsize>> = Arc::new((0..concurrency).map(|_| AtomicUsize::new(0)).collect());
    let connected = Arc::new(Barrier::new(concurrency));
    let stopped = Arc::new(Barrier::new(concurrency));
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|n| {
            let mut request = ws_url.into_client_request().unwrap();
            request.headers_mut().insert("cookie", users[n].cookie.parse().unwrap());
            let conversation = users[n].conversation.clone();
            let (sent, connected, stopped) = (sent.clone(), connected.clone(), stopped.clone());
            tokio::spawn(async move {
                let mut step = Step::default();
                let opening = tokio::time::timeout(DRAIN, tokio_tungstenite::connect_async(request));
                let (mut socket, _) =
                    opening.await.expect("the socket opens in time").expect("the socket opens");
                connected.wait().await;
                let deadline = Instant::now() + duration;
                let mut from_partner = 0;
                while Instant::now() < deadline {
                    // Unique across steps too: a clientMessageId seen before is a resend, which
                    // is answered to its sender only.
                    let body = format!("{run}-{n}-{}", sent[n].load(Ordering::Relaxed));
                    let frame = json!({"action": "sendMessage", "conversationId": conversation,
                        "body": body, "clientMessageId": body});
                    let sending = Instant::now();
                    socket.send(Message::text(frame.to_string())).await.unwrap();
                    sent[n].fetch_add(1, Ordering::Relaxed);
                    loop {
                        match tokio::time::timeout(DRAIN, next_body(&mut socket)).await {
                            Ok(Some(Ok(got))) if got == body => {
                                step.latencies.push(sending.elapsed());
                                break;
                            }
                            Ok(Some(Ok(_))) => from_partner += 1,
                            Ok(Some(Err(())) | None) => {
                                step.errors += 1;
                                break;
                            }
                            Err(_) => {
                                eprintln!("no copy of {body} came back to its sender");
                                step.lost += 1;
                                break;
                            }
                        }
                    }
                }
                stopped.wait().await;
                let partner = n ^ 1;
                if partner < sent.len() {
                    let expected = sent[partner].load(Ordering::Relaxed);
                    while from_partner < expected {
                        match tokio::time::timeout(DRAIN, next_body(&mut socket)).await {
                            Ok(Some(Ok(_))) => from_partner += 1,
                            _ => break,
                        }
                    }
                    step.lost += expected.saturating_sub(from_partner);
                }
                socket.close(None).await.ok();
                step
            })
        })
        .collect();
    let mut step = Step::default();
    for task in tasks {
        step.merge(task.await.unwrap());
    }
    step.elapsed = duration.min(started.elapsed());
    step
}

/// The body of the next message frame: `Err` for an error frame, `None` when the socket ends.
async fn next_body<S>(socket: &mut S) -> Option<Result<String, ()>>
where
    S: StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    while let Some(frame) = socket.next().await {
        let Ok(Message::Text(text)) = frame else { continue };
        let frame: Value = serde_json::from_str(&text).ok()?;
        match frame["type"].as_str() {
            Some("message") => return Some(Ok(frame["message"]["body"].as_str()?.to_owned())),
            Some("error") => {
                eprintln!("error frame: {frame}");
                return Some(Err(()));
            }
            _ => continue,
        }
    }
    None
}

/// The process's resident memory now, in MiB.
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok());
    kib.unwrap_or(f64::NAN) / 1024.0
}

fn main() {
    let seconds: f64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(3.0);
    let duration = Duration::from_secs_f64(seconds);
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_with(data.path(), &["--lift-rate-limits", "--dev-mode", "true"]);
    let pid = server.child.id();
    let seeding = Instant::now();
    let users = seed(&server);
    eprintln!(
        "seeded {USERS} accounts, {} conversations, {RIDES} rides in {:.1} s",
        USERS / 2,
        seeding.elapsed().as_secs_f64()
    );

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let client = reqwest::Client::builder().pool_max_idle_per_host(usize::MAX).build().unwrap();
    let session_url = format!("{}/api/auth/session", server.url);
    let feed_url = format!("{}/api/carpool/rides?limit=20", server.url);
    let ws_url = format!("{}/ws", server.url.replacen("http", "ws", 1));

    println!("Load on carpool-local (loopback, {seconds} s per step, release-like bench build):\n");
    println!("| scenario | connections | per second | p50 | p99 | errors | lost | server memory |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut failures = 0;
    for scenario in ["session check", "feed page of 20", "chat send (WebSocket)"] {
        for concurrency in STEPS {
            let mut step = runtime.block_on(async {
                match scenario {
                    "session check" => http_step(&client, &session_url, &users, concurrency, duration).await,
                    "feed page of 20" => http_step(&client, &feed_url, &users, concurrency, duration).await,
                    _ => chat_step(&ws_url, &users, concurrency, duration).await,
                }
            });
            step.latencies.sort();
            failures += step.errors + step.lost;
            println!(
                "| {scenario} | {concurrency} | {:.0} | {:.2} ms | {:.2} ms | {} | {} | {:.0} MiB |",
                step.latencies.len() as f64 / step.elapsed.as_secs_f64(),
                step.percentile(0.50),
                step.percentile(0.99),
                step.errors,
                step.lost,
                rss_mib(pid),
            );
        }
    }
    println!("\nserver peak memory: {} MiB", common::peak_rss_mib(pid));
    assert!(server.stop().success(), "the server stops cleanly");
    assert_eq!(failures, 0, "errors or lost messages under load");
}
