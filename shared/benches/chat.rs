//! `cargo bench -p carpool --bench chat`: prints the chat rows of the README's performance
//! table, on the embedded store, in process:
//!
//! - fan-out: one message sent over HTTP into a conversation of 10 members with 5 open
//!   connections each (50 in all), timed from the request to its answer, which comes once every
//!   connection has been handed the frame; through the local pusher, and through the API Gateway
//!   pusher against a loopback stub answering `PostToConnection` as API Gateway does (signed
//!   requests, `200` with no body). Target: p50 under 20 ms locally;
//! - messages per second into one conversation: one sender after another, and 8 senders at once
//!   (each send is conditional on the conversation's last message, so they take turns);
//! - a history page of 20 in a conversation of 1,000 messages: store calls and items read
//!   (target: one query for the page);
//! - the data export of an account that sent 2,000 and 20,000 messages: time, and how much the
//!   process's peak memory grew during it (target: flat, the same for both).

mod common;

use axum::routing::post;
use carpool::clock::{Clock, ManualClock};
use carpool::driver::Documents;
use carpool::http::{local_router, AppState, Ports};
use carpool::push::apigw::ApiGatewayPusher;
use carpool::push::local::{LocalPusher, Outgoing};
use carpool::push::Pusher;
use carpool::repo::connections::{self, ConnectionRecord};
use carpool::repo::conversations::{self, ConversationKind, ConversationRecord};
use carpool::repo::messages::{self, MessageKind, MessageRecord};
use carpool::repo::{accounts, campuses};
use carpool::store::embedded::EmbeddedStore;
use carpool::store::Store;
use common::{call, config, Counting, NoMail};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::Receiver;
use ulid::Ulid;

const PASSWORD: &str = "marble kiosk velvet tundra";
const MEMBERS: usize = 10;
const CONNECTIONS_EACH: usize = 5;
const ROUNDS: usize = 200;

struct Bench {
    store: Arc<Counting<EmbeddedStore>>,
    clock: Arc<dyn Clock>,
    /// Cookies of the members, in order.
    cookies: Vec<String>,
    ids: Vec<Ulid>,
    _dir: tempfile::TempDir,
}

fn router(bench: &Bench, pusher: Arc<dyn Pusher>) -> axum::Router {
    router_with(bench, pusher, config())
}

fn router_with(bench: &Bench, pusher: Arc<dyn Pusher>, config: carpool::config::AuthConfig) -> axum::Router {
    let dir = tempfile::tempdir().unwrap().keep();
    let local = carpool::documents::local::LocalDocuments::new(
        &dir,
        "http://bench",
        config.key_ring.clone().unwrap(),
        bench.clock.clone(),
    );
    let documents = Documents { uploads: Arc::new(local.clone()), ocr: Arc::new(local) };
    let store: Arc<dyn Store> = bench.store.clone();
    let ports = Ports { store, mailer: Arc::new(NoMail), clock: bench.clock.clone(), documents, pusher };
    local_router(AppState::new(ports, config).unwrap())
}

async fn setup() -> Bench {
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::starting_now());
    let store = Arc::new(Counting::new(EmbeddedStore::open(dir.path(), clock.clone()).unwrap()));
    let demo = include_str!("../../infra/campuses.json");
    campuses::seed(store.as_ref(), &campuses::parse_list(demo).unwrap()).await.unwrap();
    let mut bench = Bench { store, clock, cookies: Vec::new(), ids: Vec::new(), _dir: dir };
    let app = router(&bench, Arc::new(LocalPusher::default()));
    for i in 0..MEMBERS {
        let email = format!("member{i}@example.edu");
        let body = json!({"email": email, "password": PASSWORD, "name": format!("Member {i}")});
        let (_, reg, _) = call(&app, "POST", "/api/auth/register", body, None).await;
        call(&app, "POST", "/api/auth/verify-email", json!({"token": reg["devVerificationToken"]}), None)
            .await;
        let body = json!({"email": email, "password": PASSWORD, "rememberMe": true});
        let (_, _, cookie) = call(&app, "POST", "/api/auth/signin", body, None).await;
        bench.cookies.push(cookie.unwrap());
        let email = carpool::domain::email::Email::parse(&email).unwrap();
        bench.ids.push(accounts::user_id_for_email(bench.store.as_ref(), &email).await.unwrap().unwrap());
    }
    bench
}

/// A conversation of `members` (ride-like: more than two).
async fn conversation(bench: &Bench, members: &[Ulid]) -> Ulid {
    let record = ConversationRecord {
        id: Ulid::new(),
        kind: ConversationKind::Ride,
        campus_id: "example".into(),
        ride_id: None,
        title: "Main gate → Airport".into(),
        members: members.to_vec(),
        closed: false,
        created_at: bench.clock.now(),
        last_message: None,
        last_message_id: None,
    };
    bench.store.write(conversations::create(&record)).await.unwrap();
    record.id
}

/// Records `CONNECTIONS_EACH` open connections per member under the given ids.
async fn connect_all(bench: &Bench, mut id: impl FnMut() -> String) -> Vec<String> {
    let mut all = Vec::new();
    for member in &bench.ids {
        let sessions = carpool::repo::sessions::list(bench.store.as_ref(), *member).await.unwrap();
        for _ in 0..CONNECTIONS_EACH {
            let record = ConnectionRecord {
                id: id(),
                user_id: *member,
                session: sessions[0].0.clone(),
                connected_at: bench.clock.now() - time::Duration::minutes(1),
            };
            bench.store.write(connections::put(&record)).await.unwrap();
            all.push(record.id);
        }
    }
    all
}

fn send_body(i: usize) -> serde_json::Value {
    json!({"body": "On my way, five minutes", "clientMessageId": format!("b-{}", Ulid::new()), "n": i})
}

/// Sends `ROUNDS` messages from member 0 and answers the latencies, sorted.
async fn timed_sends(
    app: &axum::Router,
    cookie: &str,
    conversation: Ulid,
    after: impl Fn(),
) -> Vec<Duration> {
    let path = format!("/api/chat/conversations/{conversation}/messages");
    let mut samples = Vec::new();
    for i in 0..ROUNDS {
        let started = Instant::now();
        let (status, body, _) = call(app, "POST", &path, send_body(i), Some(cookie)).await;
        samples.push(started.elapsed());
        assert_eq!(status, 201, "{body}");
        after();
    }
    samples.sort();
    samples
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// A loopback stand-in for API Gateway's management API: every `PostToConnection` answered
/// `200` with an empty body, and counted.
async fn stub_api_gateway() -> (String, Arc<AtomicUsize>) {
    let posts = Arc::new(AtomicUsize::new(0));
    let counted = posts.clone();
    let app = axum::Router::new().route(
        "/@connections/{id}",
        post(move || {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::Relaxed);
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, posts)
}

async fn fan_out_rows(bench: &Bench) {
    // Local pusher: the connections are channels, drained after each send.
    let sockets = Arc::new(LocalPusher::default());
    let mut receivers: Vec<Receiver<Outgoing>> = Vec::new();
    let opened = connect_all(bench, || {
        let (id, frames) = sockets.open();
        receivers.push(frames);
        id
    })
    .await;
    let app = router(bench, sockets.clone());
    let room = conversation(bench, &bench.ids).await;
    let receivers = std::sync::Mutex::new(receivers);
    let samples = timed_sends(&app, &bench.cookies[0], room, || {
        let mut got = 0;
        for frames in receivers.lock().unwrap().iter_mut() {
            while frames.try_recv().is_ok() {
                got += 1;
            }
        }
        assert_eq!(got, MEMBERS * CONNECTIONS_EACH, "every connection got the frame");
    })
    .await;
    row(
        &format!(
            "fan-out of one message to {} connections (10 members), local pusher (p50, p95)",
            opened.len()
        ),
        format!("{:.2} ms, {:.2} ms", ms(percentile(&samples, 0.5)), ms(percentile(&samples, 0.95))),
    );
    for id in &opened {
        sockets.forget(id);
    }
    for (member, id) in bench.ids.iter().flat_map(|m| std::iter::repeat_n(m, CONNECTIONS_EACH)).zip(&opened) {
        bench.store.write(connections::delete(*member, id)).await.unwrap();
    }

    // API Gateway pusher, against the loopback stub.
    let (url, posts) = stub_api_gateway().await;
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "bench", "bench", None, None, "static",
        ))
        .load()
        .await;
    let pusher = Arc::new(ApiGatewayPusher::new(&sdk, &url));
    connect_all(bench, || Ulid::new().to_string()).await;
    let app = router(bench, pusher);
    let room = conversation(bench, &bench.ids).await;
    let samples = timed_sends(&app, &bench.cookies[0], room, || ()).await;
    assert_eq!(posts.load(Ordering::Relaxed), ROUNDS * MEMBERS * CONNECTIONS_EACH);
    row(
        "the same through the API Gateway pusher, loopback stub (p50, p95)",
        format!("{:.2} ms, {:.2} ms", ms(percentile(&samples, 0.5)), ms(percentile(&samples, 0.95))),
    );
}

async fn throughput_rows(bench: &Bench) {
    let app = router(bench, Arc::new(LocalPusher::default()));
    // No connection is open for these members; the digest claim stops mail after the first.
    let pair = conversation(bench, &bench.ids[..2]).await;
    let started = Instant::now();
    timed_sends(&app, &bench.cookies[0], pair, || ()).await;
    let rate = ROUNDS as f64 / started.elapsed().as_secs_f64();
    row("messages per second into one conversation, one sender", format!("{rate:.0}"));

    const SENDERS: usize = 8;
    let room = conversation(bench, &bench.ids[..SENDERS]).await;
    let path = format!("/api/chat/conversations/{room}/messages");
    let started = Instant::now();
    let senders = (0..SENDERS).map(|s| {
        let (app, path, cookie) = (app.clone(), path.clone(), bench.cookies[s].clone());
        tokio::spawn(async move {
            for i in 0..ROUNDS / SENDERS * 2 {
                let (status, body, _) = call(&app, "POST", &path, send_body(i), Some(&cookie)).await;
                assert_eq!(status, 201, "{body}");
            }
        })
    });
    futures::future::join_all(senders).await.into_iter().for_each(|r| r.unwrap());
    let rate = (ROUNDS * 2) as f64 / started.elapsed().as_secs_f64();
    row(
        &format!("messages per second into one conversation, {SENDERS} senders at once"),
        format!("{rate:.0}"),
    );
}

async fn history_row(bench: &Bench) {
    let app = router(bench, Arc::new(LocalPusher::default()));
    let room = conversation(bench, &bench.ids[..2]).await;
    write_messages(bench, room, &bench.ids[..2], 1000).await;
    let path = format!("/api/chat/conversations/{room}/messages?limit=20");
    let work =
        |s: &Counting<EmbeddedStore>| (s.calls.load(Ordering::Relaxed), s.items_read.load(Ordering::Relaxed));
    // Once to warm the container's campus cache, as a running function has it.
    call(&app, "GET", &path, json!({}), Some(&bench.cookies[0])).await;
    let before = work(&bench.store);
    let (status, page, _) = call(&app, "GET", &path, json!({}), Some(&bench.cookies[0])).await;
    assert_eq!(status, 200);
    assert_eq!(page["messages"].as_array().unwrap().len(), 20);
    let after = work(&bench.store);
    row(
        "history page of 20, conversation of 1,000 messages: store calls, items read (target: one query for the page)",
        format!(
            "{} calls, {} items: the session check (1 call, 3 items), the conversation (1, 1), one query (1, 20), the other sender's current name (1, 1)",
            after.0 - before.0,
            after.1 - before.1
        ),
    );
}

/// `count` messages into `room`, from `senders` in turn, written straight to the store.
async fn write_messages(bench: &Bench, room: Ulid, senders: &[Ulid], count: usize) {
    for chunk in 0..count / 40 {
        let mut writes = Vec::new();
        for i in 0..40 {
            let message = MessageRecord {
                id: Ulid::new(),
                conversation_id: room,
                sender_id: Some(senders[i % senders.len()]),
                sender_name: "Member".into(),
                body: format!(
                    "message {} of a long conversation, about the ride to the airport",
                    chunk * 40 + i
                ),
                sent_at: bench.clock.now(),
                client_message_id: Some(Ulid::new().to_string()),
                kind: MessageKind::User,
                mention: None,
            };
            writes.extend(messages::put(&message));
        }
        bench.store.write(writes).await.unwrap();
    }
}

/// Every allocation of the process is counted, so the peak of one step is measured exactly (the
/// allocator's caching hides growth from the resident size).
#[global_allocator]
static HEAP: peak_alloc::PeakAlloc = peak_alloc::PeakAlloc;

/// Starts a new peak from what is allocated now; returns that.
fn reset_peak() -> usize {
    HEAP.reset_peak_usage();
    HEAP.current_usage()
}

async fn export_rows(bench: &Bench) {
    // Every export is a link, so the answer holds nothing: what is measured is the writing.
    let mut links_only = config();
    links_only.export_answer_limit = 0;
    let app = router_with(bench, Arc::new(LocalPusher::default()), links_only);
    // Members 8 and 9 sent nothing yet (the throughput rows use 0..8).
    let (first, second) = (8, 9);
    let room = conversation(bench, &[bench.ids[first], bench.ids[second]]).await;
    let mut unlimited = config();
    unlimited.export_answer_limit = u64::MAX;
    let whole = router_with(bench, Arc::new(LocalPusher::default()), unlimited);
    let mut sent = 0;
    let mut growth = Vec::new();
    for count in [2_000, 20_000] {
        write_messages(bench, room, &[bench.ids[first]], count - sent).await;
        sent = count;
        let before = reset_peak();
        let started = Instant::now();
        let (status, body, _) =
            call(&app, "GET", "/api/auth/account/export", json!({}), Some(&bench.cookies[first])).await;
        let elapsed = started.elapsed();
        assert_eq!(status, 303, "{body}");
        let grew = HEAP.peak_usage().saturating_sub(before);
        growth.push(grew);
        // The document's size, from an answer that holds it whatever its size.
        let (_, document, _) =
            call(&whole, "GET", "/api/auth/account/export", json!({}), Some(&bench.cookies[first])).await;
        let size = serde_json::to_vec(&document).unwrap().len();
        row(
            &format!(
                "data export of an account that sent {count} messages, embedded, answered as a link: time, document size, peak heap growth"
            ),
            format!("{:.0} ms, {:.1} MiB, {:.2} MiB", elapsed.as_secs_f64() * 1000.0, mib(size), mib(grew)),
        );
    }
    row(
        "peak heap growth, 20,000 / 2,000 messages (target: flat, about 1)",
        format!("{:.2}", growth[1] as f64 / growth[0].max(1) as f64),
    );
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn row(name: &str, value: String) {
    println!("| {name} | {value} |");
}

#[tokio::main]
async fn main() {
    let bench = setup().await;
    println!("| measurement | value |\n|---|---|");
    fan_out_rows(&bench).await;
    throughput_rows(&bench).await;
    history_row(&bench).await;
    export_rows(&bench).await;
}
