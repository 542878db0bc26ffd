//! What the `carpool-local` tests share: the server started as the README's run command does,
//! plain HTTP calls, the outbox, and process facts.
#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    pub child: Child,
    pub url: String,
}

impl Server {
    pub fn start(data_dir: &Path) -> Server {
        Server::start_with(data_dir, &[])
    }

    /// `start` with more command-line arguments (shorter timeouts, say).
    pub fn start_with(data_dir: &Path, args: &[&str]) -> Server {
        Server::launch(Command::new(env!("CARGO_BIN_EXE_carpool-local")), data_dir, args)
    }

    /// Runs `command` (the server, or a shell that execs it) with the usual arguments.
    pub fn launch(mut command: Command, data_dir: &Path, args: &[&str]) -> Server {
        let mut child = command
            .args(["--addr", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(args)
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
    pub fn stop_with(mut self, signal: &str) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args([signal, &pid]).status().unwrap().success());
        self.child.wait().unwrap()
    }

    pub fn stop(self) -> std::process::ExitStatus {
        self.stop_with("-TERM")
    }

    pub fn call(
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
            ("PUT", body) => {
                let mut req = agent.put(&url).header("content-type", "application/json");
                if let Some(c) = cookie {
                    req = req.header("cookie", c);
                }
                req.send(body.unwrap_or(Value::Null).to_string())
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

/// The outbox's messages once it holds `count` (mail leaves the request path: the server's mail
/// task writes it a moment after the request answered).
pub fn wait_for_mail(outbox: &Path, count: usize) -> Vec<std::path::PathBuf> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut files: Vec<_> = std::fs::read_dir(outbox)
            .map(|dir| {
                dir.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "eml")).collect()
            })
            .unwrap_or_default();
        if files.len() >= count || Instant::now() > deadline {
            files.sort();
            assert_eq!(files.len(), count, "mail in {}", outbox.display());
            return files;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Peak resident memory of a process, in MiB (Linux).
pub fn peak_rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() / 1024
}

pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}
