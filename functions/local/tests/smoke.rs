//! The README's run command for real: start `carpool-local`, walk register -> verify -> sign in
//! over HTTP, stop it with SIGTERM (clean exit), start it again on the same data directory and
//! find the session (and the two-factor key, sealed with the key ring kept beside the store)
//! still valid.

mod common;

use carpool::domain::totp::TotpKey;
use common::*;
use serde_json::{json, Value};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

/// Each argon2id hash holds ~19 MiB: a burst of sign-ins queues for a core instead of hashing
/// all at once (80 at once once took the process to 1.8 GB).
#[test]
fn a_burst_of_sign_ins_keeps_memory_bounded() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let burst: Vec<_> = (0..60)
        .map(|i| {
            let url = format!("{}/api/auth/signin", server.url);
            let body =
                json!({"email": format!("nobody{i}@example.edu"), "password": "not a real password 1"});
            std::thread::spawn(move || {
                let agent: ureq::Agent =
                    ureq::Agent::config_builder().http_status_as_error(false).build().into();
                let reply =
                    agent.post(&url).header("content-type", "application/json").send(body.to_string());
                reply.expect("request reaches the server").status().as_u16()
            })
        })
        .collect();
    for request in burst {
        assert_eq!(request.join().unwrap(), 401, "each was checked (against the decoy hash)");
    }
    let peak = peak_rss_mib(server.child.id());
    assert!(peak < 200, "peak memory {peak} MiB: hashing memory is not bounded");
}

/// `--time-offset` shifts everything that reads the clock: here, when a new session expires.
#[test]
fn time_offset_shifts_the_servers_clock() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_with(data.path(), &["--time-offset", "-2d"]);
    let password = "marble kiosk velvet tundra";
    let body = json!({"email": "tim@example.edu", "password": password, "name": "Tim"});
    let (_, reg, _) = server.call("POST", "/api/auth/register", Some(body), None);
    let token = reg["devVerificationToken"].as_str().unwrap().to_owned();
    server.call("POST", "/api/auth/verify-email", Some(json!({"token": token})), None);
    let signin = json!({"email": "tim@example.edu", "password": password});
    let (status, _, cookie) = server.call("POST", "/api/auth/signin", Some(signin), None);
    assert_eq!(status, 200);
    let (_, session, _) = server.call("GET", "/api/auth/session", None, cookie.as_deref());
    let expires = session["session"]["expiresAt"].as_str().unwrap();
    let expires =
        time::OffsetDateTime::parse(expires, &time::format_description::well_known::Rfc3339).unwrap();
    // A browser session idles out 12 hours after the (shifted) now.
    let expected = now() - 2 * 86_400 + 12 * 3600;
    assert!((expires.unix_timestamp() - expected).abs() < 120, "{expires} vs shifted now + 12 h");
    let refused =
        Command::new(env!("CARGO_BIN_EXE_carpool-local")).args(["--time-offset", "3w"]).output().unwrap();
    assert!(!refused.status.success(), "an offset without a known unit is refused");
}

#[test]
fn run_command_serves_the_flow_and_keeps_data_across_restarts() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let password = "marble kiosk velvet tundra";

    let (status, body, _) = server.call(
        "POST",
        "/api/auth/register",
        Some(json!({"email": "alice@example.edu", "password": password, "name": "Alice"})),
        None,
    );
    assert_eq!(status, 202, "{body}");
    let token = body["devVerificationToken"].as_str().expect("dev mode is on locally").to_owned();

    let outbox = wait_for_mail(&data.path().join("outbox"), 1);
    assert_eq!(outbox[0].extension().unwrap(), "eml");
    let eml = std::fs::read_to_string(&outbox[0]).unwrap();
    assert!(eml.contains("To: alice@example.edu"));
    // Long lines are quoted-printable: undo soft line breaks and `=3D` to find the link.
    let decoded = eml.replace("=\r\n", "").replace("=3D", "=");
    assert!(decoded.contains(&format!("/verify-email?token={token}")), "the mail holds the link");

    let (status, _, _) = server.call("POST", "/api/auth/verify-email", Some(json!({"token": token})), None);
    assert_eq!(status, 200);
    let (status, body, cookie) = server.call(
        "POST",
        "/api/auth/signin",
        Some(json!({"email": "alice@example.edu", "password": password, "rememberMe": true})),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let cookie = cookie.expect("sign-in sets the session cookie");

    // Two-factor on: its key is sealed with the key ring the server keeps in the data directory.
    let (status, setup, _) =
        server.call("POST", "/api/auth/2fa/totp/setup", Some(json!({"password": password})), Some(&cookie));
    assert_eq!(status, 200, "{setup}");
    let key = TotpKey::from_base32(setup["secret"].as_str().unwrap()).unwrap();
    let code = json!({"code": key.code_at(now())});
    let (status, body, _) = server.call("POST", "/api/auth/2fa/totp/confirm", Some(code), Some(&cookie));
    assert_eq!(status, 200, "{body}");

    assert!(server.stop().success(), "SIGTERM stops the server cleanly");

    let server = Server::start(data.path());
    let (status, body, _) = server.call("GET", "/api/auth/session", None, Some(&cookie));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["email"], "alice@example.edu");
    assert_eq!(body["user"]["twoFactorEnabled"], true);
    // The restarted server still opens the key: the next step's code (within drift) signs in.
    let signin =
        json!({"email": "alice@example.edu", "password": password, "totpCode": key.code_at(now() + 30)});
    let (status, body, _) = server.call("POST", "/api/auth/signin", Some(signin), None);
    assert_eq!(status, 200, "{body}");
    // A crash in the middle of writes (SIGKILL while registrations run) leaves a store that opens
    // with every committed write in it.
    let url = server.url.clone();
    let (done, progress) = std::sync::mpsc::channel();
    let writer = std::thread::spawn(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        for i in 0..500 {
            let body =
                json!({"email": format!("crash{i}@example.edu"), "password": password, "name": "Crash"});
            let req =
                agent.post(format!("{url}/api/auth/register")).header("content-type", "application/json");
            if req.send(body.to_string()).is_err() || done.send(i).is_err() {
                return;
            }
        }
    });
    // Kill once a few registrations have landed, while more are in flight.
    for _ in 0..3 {
        progress.recv_timeout(std::time::Duration::from_secs(60)).expect("registrations go through");
    }
    assert!(!server.stop_with("-KILL").success());
    writer.join().unwrap();
    let server = Server::start(data.path());
    let (status, _, _) = server.call("GET", "/api/auth/session", None, Some(&cookie));
    assert_eq!(status, 200, "the store survived the crash");

    let (status, _, _) = server.call("POST", "/api/auth/signout", None, Some(&cookie));
    assert_eq!(status, 204);
    let (status, body, _) = server.call("GET", "/api/auth/session", None, Some(&cookie));
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("unauthenticated")));
    assert!(server.stop().success());
}

// Limits and timeouts, over raw TCP: the slow or oversized clients an HTTP library would not
// let us be. Timed assertions allow 3x the timeout under test.

/// One response read off a raw connection.
struct RawResponse {
    status: u16,
    head: String,
    body: Value,
}

impl RawResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// A JSON error with this status and code, and a request id.
    fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}\n{}", self.head, self.body);
        assert_eq!(self.header("content-type"), Some("application/json"), "{}", self.head);
        assert_eq!(self.body["error"]["code"], code, "{}", self.body);
        assert!(self.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", self.body);
        assert!(self.header("x-request-id").is_some_and(|id| !id.is_empty()), "{}", self.head);
        assert_eq!(self.header("x-content-type-options"), Some("nosniff"), "{}", self.head);
        assert_eq!(self.header("cache-control"), Some("no-store"), "{}", self.head);
    }
}

impl Server {
    fn connect(&self) -> TcpStream {
        TcpStream::connect(self.url.strip_prefix("http://").unwrap()).expect("connects")
    }
}

/// Reads one response (head, then a `Content-Length` body), giving up after `limit`.
fn read_response(stream: &mut TcpStream, limit: Duration) -> Option<RawResponse> {
    let deadline = Instant::now() + limit;
    let mut data = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).into_owned();
            let status = head.split(' ').nth(1)?.parse().ok()?;
            let mut response = RawResponse { status, head, body: Value::Null };
            let length: usize = response.header("content-length").map_or(0, |v| v.parse().unwrap());
            if data.len() >= end + 4 + length {
                let body = &data[end + 4..end + 4 + length];
                response.body = serde_json::from_slice(body).unwrap_or(Value::Null);
                return Some(response);
            }
        }
        let left = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero())?;
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => data.extend_from_slice(&chunk[..n]),
        }
    }
}

/// How long until the server closes the connection (anything it sends first is discarded), or
/// `None` if it is still open after `limit`.
fn time_to_close(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut chunk = [0u8; 8192];
    loop {
        let left = (started + limit).checked_duration_since(Instant::now()).filter(|d| !d.is_zero())?;
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut chunk) {
            Ok(0) => return Some(started.elapsed()),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return None,
            Err(_) => return Some(started.elapsed()),
        }
    }
}

const SECOND: Duration = Duration::from_secs(1);

#[test]
fn half_sent_headers_are_cut_off_after_the_header_timeout() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_with(data.path(), &["--header-timeout", "1"]);

    // Half the headers, then nothing.
    let mut stalled = server.connect();
    stalled.write_all(b"GET /api/auth/session HTTP/1.1\r\nHost: localhost\r\nAccept: applic").unwrap();
    // The same, trickled a byte at a time: each byte is progress, but the head never ends.
    let mut trickled = server.connect();
    let mut writer = trickled.try_clone().unwrap();
    std::thread::spawn(move || {
        for byte in b"GET /api/auth/session HTTP/1.1\r\nHost: localhost\r\nX-Slow: ".iter().cycle() {
            if writer.write_all(&[*byte]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    // A connection that sends nothing at all.
    let mut silent = server.connect();

    for (name, stream) in [("stalled", &mut stalled), ("trickled", &mut trickled), ("silent", &mut silent)] {
        let closed = time_to_close(stream, 3 * SECOND);
        assert!(closed.is_some(), "the {name} connection is still open after 3x the header timeout");
    }
    // The server is fine.
    let (status, _, _) = server.call("GET", "/api/auth/session", None, None);
    assert_eq!(status, 401);
}

#[test]
fn declared_body_over_the_limit_is_refused_at_once() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let mut stream = server.connect();
    // Headers only: the body never comes, and the answer must not wait for it.
    stream
        .write_all(
            b"POST /api/auth/register HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
              Content-Length: 10000000\r\n\r\n",
        )
        .unwrap();
    let response = read_response(&mut stream, 5 * SECOND).expect("413 without sending the body");
    response.assert_error(413, "payload_too_large");
}

#[test]
fn a_body_that_stalls_half_way_is_cut_off_after_the_request_timeout() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_with(data.path(), &["--request-timeout", "1"]);
    let mut stream = server.connect();
    stream
        .write_all(
            b"POST /api/auth/register HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"email\":\"alice@exam",
        )
        .unwrap();
    let started = Instant::now();
    match read_response(&mut stream, 3 * SECOND) {
        Some(response) => response.assert_error(408, "request_timeout"),
        None => assert!(started.elapsed() < 3 * SECOND, "neither answered nor closed within 3x the timeout"),
    }
    assert!(time_to_close(&mut stream, 3 * SECOND).is_some(), "the connection is closed after the 408");
}

#[test]
fn long_uri_is_414_with_the_json_error() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let mut stream = server.connect();
    let request =
        format!("GET /api/auth/session?pad={} HTTP/1.1\r\nHost: localhost\r\n\r\n", "a".repeat(9000));
    stream.write_all(request.as_bytes()).unwrap();
    read_response(&mut stream, 5 * SECOND).expect("answered").assert_error(414, "uri_too_long");
}

#[test]
fn oversized_headers_are_431_with_the_json_error() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    // Too many bytes: 20 fields of 1 KiB.
    let big: String = (0..20).map(|i| format!("X-Fill-{i}: {}\r\n", "v".repeat(1024))).collect();
    // Too many fields: 150 small ones (more than hyper's own default of 100).
    let many: String = (0..150).map(|i| format!("X-N-{i}: 1\r\n")).collect();
    for fields in [big, many] {
        let mut stream = server.connect();
        let request = format!("GET /api/auth/session HTTP/1.1\r\nHost: localhost\r\n{fields}\r\n");
        stream.write_all(request.as_bytes()).unwrap();
        read_response(&mut stream, 5 * SECOND).expect("answered").assert_error(431, "headers_too_large");
    }
}

#[test]
fn idle_keep_alive_connection_outlives_the_header_timeout_then_closes() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_with(data.path(), &["--header-timeout", "1", "--idle-timeout", "3"]);
    let mut stream = server.connect();
    let request = b"GET /api/auth/session HTTP/1.1\r\nHost: localhost\r\n\r\n";
    stream.write_all(request).unwrap();
    assert_eq!(read_response(&mut stream, 5 * SECOND).expect("answered").status, 401);
    // Idle for longer than the header timeout (hyper alone would close it by now): still usable.
    std::thread::sleep(2 * SECOND);
    stream.write_all(request).unwrap();
    assert_eq!(read_response(&mut stream, 5 * SECOND).expect("the kept-alive connection works").status, 401);
    // Then left idle: closed after the idle timeout, not before the header timeout would have.
    let closed = time_to_close(&mut stream, 9 * SECOND).expect("closed within 3x the idle timeout");
    assert!(closed >= 2 * SECOND, "closed after {closed:?}, before the idle timeout");
}

#[test]
fn stalled_connections_do_not_lock_out_other_clients() {
    let data = tempfile::tempdir().unwrap();
    // With few file descriptors (as a busy machine has), 200 slowloris connections take them all:
    // without timeouts nobody else would ever be accepted.
    let mut shell = Command::new("sh");
    shell.args(["-c", "ulimit -n 128 && exec \"$0\" \"$@\"", env!("CARGO_BIN_EXE_carpool-local")]);
    let server = Server::launch(shell, data.path(), &["--header-timeout", "1"]);
    let stalled: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut stream = server.connect();
            stream.write_all(b"GET /api/auth/session HTTP/1.1\r\nHost: localhost\r\nX-Slow: ").unwrap();
            stream
        })
        .collect();

    let started = Instant::now();
    let mut stream = server.connect();
    stream.write_all(b"GET /api/auth/session HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let response = read_response(&mut stream, 20 * SECOND);
    assert_eq!(response.map(|r| r.status), Some(401), "not answered in {:?}", started.elapsed());
    drop(stalled);
}
