//! Shared by the tests that run the real `klaxon` binary: a server started on a fresh
//! database, and the CLI pointed at it. Each test binary uses a part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_klaxon");

pub struct Server {
    pub child: Child,
    pub url: String,
    pub token: String,
    /// The first admin's password, from the first-run banner (empty on later starts).
    pub password: String,
    pub _dir: tempfile::TempDir,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A test that fails part-way must not leave its server running.
impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn start() -> Server {
    start_on(None)
}

/// A first start: on `database` (a URL), or on the default SQLite file in a new directory.
pub fn start_on(database: Option<&str>) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let mut command = Command::new(BIN);
    command.env_remove("KLAXON_DATABASE_URL");
    if let Some(url) = database {
        command.env("KLAXON_DATABASE_URL", url);
    }
    let mut child = command
        .args(["serve", "--listen", &addr])
        .current_dir(dir.path())
        .env("KLAXON_LOG_FORMAT", "json")
        // The tests' receivers listen on loopback, which users' destinations may not reach
        // unless allowed.
        .env("KLAXON_OUTGOING_ALLOW", "127.0.0.1")
        // A key for the secret store runbook steps name.
        .env("KLAXON_RUNBOOKS_SECRET_KEY", "5e".repeat(32))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start klaxon serve");
    let (token, password) = first_run_banner(&mut child);
    let url = format!("http://{addr}");
    wait_listening(&addr);
    Server {
        child,
        url,
        token,
        password,
        _dir: dir,
    }
}

/// The admin API token and password a first run prints once on standard output (piped),
/// before it starts listening.
pub fn first_run_banner(child: &mut Child) -> (String, String) {
    let mut token = None;
    let mut password = String::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(t) = line.trim().strip_prefix("API token") {
            token = Some(t.trim().to_owned());
        }
        if let Some(p) = line.trim().strip_prefix("password") {
            password = p.trim().to_owned();
        }
        if line.starts_with("====") && token.is_some() {
            break;
        }
    }
    (token.expect("first run prints an API token"), password)
}

pub fn klaxon(server: &Server, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env("KLAXON_URL", &server.url)
        .env("KLAXON_TOKEN", &server.token)
        .output()
        .unwrap()
}

pub fn terminate(mut server: Server) -> std::process::ExitStatus {
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = server.child.kill();
            panic!("klaxon did not exit within 10 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn json_of(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

pub fn wait_listening(addr: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "klaxon did not start listening");
        std::thread::sleep(Duration::from_millis(50));
    }
}
