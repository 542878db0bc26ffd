//! The README's run command for real: start `carpool-local`, walk register -> verify -> sign in
//! over HTTP, stop it with SIGTERM (clean exit), start it again on the same data directory and
//! find the session (and the two-factor key, sealed with the key ring kept beside the store)
//! still valid.

use carpool::domain::totp::TotpKey;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(data_dir: &Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_carpool-local"))
            .args(["--addr", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("carpool-local starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines().map_while(Result::ok);
        let url = lines
            .find_map(|line| line.strip_prefix("carpool-local listening on ").map(str::to_owned))
            .expect("carpool-local prints where it listens");
        // Keep draining stdout (the server logs there): a closed or full pipe would stall it.
        std::thread::spawn(move || lines.for_each(drop));
        Server { child, url }
    }

    /// Sends the signal, then waits for the exit status.
    fn stop_with(mut self, signal: &str) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args([signal, &pid]).status().unwrap().success());
        self.child.wait().unwrap()
    }

    fn stop(self) -> std::process::ExitStatus {
        self.stop_with("-TERM")
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        cookie: Option<&str>,
    ) -> (u16, Value, Option<String>) {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let url = format!("{}{path}", self.url);
        let mut res = match (method, body) {
            ("GET", _) => {
                let mut req = agent.get(&url);
                if let Some(c) = cookie {
                    req = req.header("cookie", c);
                }
                req.call()
            }
            (_, body) => {
                let mut req = agent.post(&url).header("content-type", "application/json");
                if let Some(c) = cookie {
                    req = req.header("cookie", c);
                }
                req.send(body.unwrap_or(Value::Null).to_string())
            }
        }
        .expect("request reaches the server");
        let set_cookie = res
            .headers()
            .get("set-cookie")
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned());
        let text = res.body_mut().read_to_string().unwrap();
        let json = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() };
        (res.status().as_u16(), json, set_cookie)
    }
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

#[test]
fn run_command_serves_the_flow_and_keeps_data_across_restarts() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let password = "correct horse battery staple";

    let (status, body, _) = server.call(
        "POST",
        "/api/auth/register",
        Some(json!({"email": "alice@example.edu", "password": password, "name": "Alice"})),
        None,
    );
    assert_eq!(status, 202, "{body}");
    let token = body["devVerificationToken"].as_str().expect("dev mode is on locally").to_owned();

    let outbox: Vec<_> =
        std::fs::read_dir(data.path().join("outbox")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(outbox.len(), 1);
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
