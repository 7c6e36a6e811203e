//! The real binary with its SQLite database and its log on a small volume that fills up: every
//! request still gets an answer (a failed log write fails nothing), alerts that cannot be
//! stored get 503 (retry), readiness says so within a second, and all is well once space
//! returns. The volume is a tmpfs the test mounts, which needs root (CI runs as root); where it
//! cannot mount, the test says why and stops.
use crate::support;

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{BIN, free_port};

/// A mounted tmpfs, unmounted when dropped.
struct Volume {
    dir: tempfile::TempDir,
}

impl Volume {
    fn mount(size: &str) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount -t tmpfs failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Self { dir })
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Writes zeros until the volume is full.
    fn fill(&self) {
        let mut f = std::fs::File::create(self.path().join("filler")).unwrap();
        let block = vec![0u8; 64 * 1024];
        while f.write_all(&block).is_ok() {}
        let _ = f.sync_all();
    }

    fn free(&self) {
        std::fs::remove_file(self.path().join("filler")).unwrap();
    }
}

impl Drop for Volume {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_answered_and_survived() {
    let volume = match Volume::mount("24m") {
        Ok(v) => v,
        Err(why) => {
            println!("SKIPPED a_full_disk_is_answered_and_survived: {why}");
            return;
        }
    };
    let addr = format!("127.0.0.1:{}", free_port());
    let log = std::fs::File::create(volume.path().join("klaxon.log")).unwrap();
    let child = Command::new(BIN)
        .args(["serve", "--listen", &addr])
        .current_dir(volume.path())
        .env_remove("KLAXON_DATABASE_URL")
        .env_remove("KLAXON_CONFIG")
        // A line per request, so that log writes fail while the disk is full.
        .env("KLAXON_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("start klaxon serve");
    // Killed however the test ends, before the volume under it is unmounted.
    let mut child = KillOnDrop(child);
    let child = &mut child.0;
    let (token, _) = support::first_run_banner(child);
    support::wait_listening(&addr);
    let base = format!("http://{addr}");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let api = |method: reqwest::Method, path: &str| {
        http.request(method, format!("{base}{path}"))
            .bearer_auth(&token)
    };
    let svc: Value = api(reqwest::Method::POST, "/api/v1/services")
        .json(&json!({"name": "disk"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let integration: Value = api(
        reqwest::Method::POST,
        &format!(
            "/api/v1/services/{}/integrations",
            svc["id"].as_str().unwrap()
        ),
    )
    .json(&json!({"name": "hook", "kind": "generic"}))
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let hook = format!(
        "{base}/integrations/{}/generic",
        integration["key"].as_str().unwrap()
    );
    let alert = |n: usize| {
        http.post(&hook).json(&json!({
            "summary": format!("disk test {n}"),
            "dedup_key": format!("disk-{n}"),
            "details": {"padding": "x".repeat(20_000)},
        }))
    };
    assert_eq!(alert(0).send().await.unwrap().status(), 202);

    volume.fill();
    // Every request is answered (none dropped by a panicking log write); an alert that cannot
    // be stored is 503, so its sender retries; nothing is acknowledged falsely.
    let mut refused = 0;
    let mut accepted = Vec::new();
    for n in 1..=40 {
        let r = alert(n)
            .send()
            .await
            .unwrap_or_else(|e| panic!("alert {n} got no answer: {e}"));
        match r.status().as_u16() {
            202 => accepted.push(n),
            503 => refused += 1,
            other => panic!("alert {n}: {other} {}", r.text().await.unwrap()),
        }
        if refused >= 3 {
            break;
        }
    }
    assert!(
        refused >= 3,
        "the disk is full, yet every alert was accepted"
    );
    let started = Instant::now();
    let ready = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert!(started.elapsed() < Duration::from_millis(1500));
    assert_eq!(
        ready.status(),
        503,
        "not ready while nothing can be written"
    );

    // Space returns: ready again, and alerts are stored.
    volume.free();
    let mut ready = false;
    for _ in 0..50 {
        if http
            .get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap()
            .status()
            == 200
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if !ready {
        let r = http.get(format!("{base}/readyz")).send().await.unwrap();
        let log = std::fs::read_to_string(volume.path().join("klaxon.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(15).collect();
        panic!(
            "not ready once space returned: {} {}\n{tail:#?}",
            r.status(),
            r.text().await.unwrap()
        );
    }
    assert_eq!(alert(100).send().await.unwrap().status(), 202);
    let alerts: Value = api(reqwest::Method::GET, "/api/v1/alerts?limit=500")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys: Vec<&str> = alerts["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["dedup_key"].as_str().unwrap())
        .collect();
    for n in accepted.iter().copied().chain([0, 100]) {
        assert!(
            keys.contains(&format!("disk-{n}").as_str()),
            "alert {n} was acknowledged, so it is kept"
        );
    }
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
