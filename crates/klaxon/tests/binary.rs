//! The real `klaxon` binary: first-run bootstrap, CLI commands against a running server, and a
//! clean exit on SIGTERM.
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use klaxon_store_tests::{Backend, TestDatabase};

use crate::support;
use support::*;

#[test]
fn serve_bootstraps_answers_the_cli_and_stops_cleanly_on_sigterm() {
    let server = start();

    let me = klaxon(&server, &["me", "--json"]);
    assert!(me.status.success(), "{me:?}");
    let me: serde_json::Value = serde_json::from_slice(&me.stdout).unwrap();
    assert_eq!(me["role"], "admin");

    let wrong = Command::new(BIN)
        .args(["me"])
        .env("KLAXON_URL", &server.url)
        .env("KLAXON_TOKEN", "klx_wrong")
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("401"),
        "{wrong:?}"
    );

    // A keep-alive connection left open must not hold up the shutdown.
    let idle = std::net::TcpStream::connect(server.url.trim_start_matches("http://")).unwrap();
    let status = terminate(server);
    drop(idle);
    assert!(status.success(), "exit status after SIGTERM: {status}");
}

#[test]
fn a_second_start_on_the_same_database_does_not_bootstrap_again() {
    let first = start();
    let dir = first._dir.path().to_owned();
    let keep = terminate_keeping_dir(first);
    // A fresh port: the first one may have been taken by a concurrent test meanwhile.
    let addr = format!("127.0.0.1:{}", free_port());
    let url = format!("http://{addr}");

    let out = Command::new(BIN)
        .args(["token", "create", "--name", "ci", "--role", "viewer"])
        .current_dir(&dir)
        .env_remove("KLAXON_DATABASE_URL")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(token.starts_with("klx_"), "{token}");

    let mut child = Command::new(BIN)
        .args(["serve", "--listen", &addr])
        .current_dir(&dir)
        .env_remove("KLAXON_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    wait_listening(&addr);
    let second = Server {
        child,
        url,
        token,
        password: String::new(),
        _dir: keep,
    };
    let me = klaxon(&second, &["me", "--json"]);
    assert!(me.status.success(), "{me:?}");
    let me: serde_json::Value = serde_json::from_slice(&me.stdout).unwrap();
    assert_eq!(me["role"], "viewer");

    assert!(terminate(second).success());
    let mut printed = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut printed).unwrap();
    assert!(
        !printed.contains("API token"),
        "bootstrapped twice: {printed}"
    );
}

/// Stops the server and hands back its data directory for a second start.
fn terminate_keeping_dir(mut server: Server) -> tempfile::TempDir {
    let dir = std::mem::replace(&mut server._dir, tempfile::tempdir().unwrap());
    assert!(terminate(server).success());
    dir
}

#[test]
fn services_integrations_alerts_and_incidents_through_the_cli() {
    let server = start();
    let service = json_of(&klaxon(
        &server,
        &[
            "services",
            "create",
            "--name",
            "Checkout",
            "--grouping",
            r#"{"type":"time","window_minutes":5}"#,
            "--json",
        ],
    ));
    let sid = service["id"].as_str().unwrap();
    assert_eq!(service["grouping"]["window_minutes"], 5);
    let integration = json_of(&klaxon(
        &server,
        &[
            "integrations",
            "create",
            "--service",
            sid,
            "--name",
            "prom",
            "--kind",
            "events_v2",
            "--json",
        ],
    ));
    let key = integration["key"].as_str().unwrap();
    assert_eq!(integration["endpoint"], "/v2/enqueue");

    let rt = tokio::runtime::Runtime::new().unwrap();
    let status = rt.block_on(async {
        reqwest::Client::new()
            .post(format!("{}/v2/enqueue", server.url))
            .json(
                &serde_json::json!({"routing_key": key, "event_action": "trigger",
                "dedup_key": "cart-5xx", "payload": {"summary": "Cart errors above 5%",
                "source": "cart-1", "severity": "error",
                "custom_details": {"errors": {"rate": "7%"}}},
                "links": [{"href": "https://runbooks.example.com/cart", "text": "Runbook"}]}),
            )
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, 202);

    let alerts = json_of(&klaxon(
        &server,
        &["alerts", "list", "--service", sid, "--json"],
    ));
    assert_eq!(alerts["items"].as_array().unwrap().len(), 1);
    assert_eq!(alerts["items"][0]["dedup_key"], "cart-5xx");
    // One alert for people: its details, links and history.
    let aid = alerts["items"][0]["id"].as_str().unwrap();
    let shown = klaxon(&server, &["alerts", "show", aid]);
    assert!(shown.status.success());
    let text = String::from_utf8_lossy(&shown.stdout);
    for part in [
        "source:    cart-1",
        "details:\n  errors.rate  7%",
        "links:\n  Runbook: https://runbooks.example.com/cart",
        "history:\n  ",
        "alert.triggered Cart errors above 5% (error)",
    ] {
        assert!(text.contains(part), "missing {part:?} in {text}");
    }
    let json = json_of(&klaxon(&server, &["alerts", "show", aid, "--json"]));
    assert_eq!(
        json["payload"]["payload"]["custom_details"]["errors"]["rate"],
        "7%"
    );
    let table = klaxon(&server, &["incidents", "list", "--status", "triggered"]);
    assert!(table.status.success());
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("Cart errors above 5%"), "{text}");

    // Refused while the alert is open, with the server's reason.
    let refused = klaxon(&server, &["services", "delete", sid]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("open alerts"),
        "{refused:?}"
    );
    let timeline = json_of(&klaxon(&server, &["services", "timeline", sid, "--json"]));
    assert_eq!(timeline["items"][0]["kind"], "service.created");
    let rotated = json_of(&klaxon(
        &server,
        &[
            "integrations",
            "rotate-key",
            integration["id"].as_str().unwrap(),
            "--json",
        ],
    ));
    assert_ne!(rotated["key"], integration["key"]);
    assert!(terminate(server).success());
}

// --- durability of 202s --------------------------------------------------------------------

/// Every PagerDuty event answered 202 is stored, with its incident, after the server is killed
/// (SIGKILL, mid-stream) and started again on the same database.
fn alerts_answered_202_survive_sigkill(backend: Backend) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = rt.block_on(TestDatabase::new(backend)) else {
        return;
    };
    let mut server = start_on(Some(db.url()));
    let http = reqwest::Client::new();
    let (base, token) = (server.url.clone(), server.token.clone());
    let key = rt.block_on(async {
        let service: serde_json::Value = http
            .post(format!("{base}/api/v1/services"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"name": "durable"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let integration: serde_json::Value = http
            .post(format!(
                "{base}/api/v1/services/{}/integrations",
                service["id"].as_str().unwrap()
            ))
            .bearer_auth(&token)
            .json(&serde_json::json!({"name": "events", "kind": "events_v2",
                                      "rate_limit_per_minute": 0}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        integration["key"].as_str().unwrap().to_owned()
    });

    // 16 senders, each recording the dedup keys answered 202, until the server dies.
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let senders: Vec<_> = (0..16)
        .map(|s| {
            let (http, base, key, acked) = (http.clone(), base.clone(), key.clone(), acked.clone());
            rt.spawn(async move {
                for i in 0.. {
                    let dedup = format!("k-{s}-{i}");
                    let sent = http
                        .post(format!("{base}/v2/enqueue"))
                        .json(
                            &serde_json::json!({"routing_key": key, "event_action": "trigger",
                            "dedup_key": dedup, "payload": {"summary": "disk full",
                            "source": "db-1", "severity": "critical"}}),
                        )
                        .send()
                        .await;
                    match sent {
                        Ok(r) if r.status() == 202 => acked.lock().unwrap().push(dedup),
                        Ok(r) => panic!("{dedup}: {}", r.status()),
                        Err(_) => return, // killed
                    }
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while acked.lock().unwrap().len() < 500 {
        assert!(Instant::now() < deadline, "too few events acknowledged");
        std::thread::sleep(Duration::from_millis(5));
    }
    server.child.kill().unwrap(); // SIGKILL, with requests in flight
    server.child.wait().unwrap();
    for s in senders {
        rt.block_on(s).unwrap();
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());

    // Started again (the admin token lives in the database), it has every acknowledged alert.
    let dir = std::mem::replace(&mut server._dir, tempfile::tempdir().unwrap());
    let addr = format!("127.0.0.1:{}", free_port());
    let child = Command::new(BIN)
        .args(["serve", "--listen", &addr])
        .current_dir(dir.path())
        .env("KLAXON_DATABASE_URL", db.url())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let again = Server {
        child,
        url: format!("http://{addr}"),
        token,
        password: String::new(),
        _dir: dir,
    };
    wait_listening(&addr);
    let stored = rt.block_on(async {
        let mut stored = std::collections::HashMap::new();
        let mut cursor: Option<String> = None;
        loop {
            // Cursors are URL-safe tokens.
            let after = cursor.map(|c| format!("&cursor={c}")).unwrap_or_default();
            let page: serde_json::Value = http
                .get(format!("{}/api/v1/alerts?limit=500{after}", again.url))
                .bearer_auth(&again.token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            for a in page["items"].as_array().unwrap() {
                stored.insert(
                    a["dedup_key"].as_str().unwrap().to_owned(),
                    a["incident_id"].as_str().map(str::to_owned),
                );
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break stored,
            }
        }
    });
    let lost: Vec<_> = acked
        .iter()
        .filter(|k| !stored.contains_key(*k))
        .take(5)
        .collect();
    assert!(
        lost.is_empty(),
        "{backend:?}: alerts answered 202 but lost after SIGKILL: {lost:?} (of {})",
        acked.len()
    );
    assert!(
        acked.iter().all(|k| stored[k].is_some()),
        "an acknowledged alert lost its incident"
    );
    eprintln!(
        "{backend:?}: {} answered 202, {} stored, none lost",
        acked.len(),
        stored.len()
    );
    assert!(terminate(again).success());
}

#[test]
fn sqlite_alerts_answered_202_survive_sigkill() {
    alerts_answered_202_survive_sigkill(Backend::Sqlite);
}

#[test]
fn postgres_alerts_answered_202_survive_sigkill() {
    alerts_answered_202_survive_sigkill(Backend::Postgres);
}

/// A one-thread HTTP receiver that answers 200 to everything and hands each body over.
fn webhook_receiver() -> (String, std::sync::mpsc::Receiver<serde_json::Value>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Headers, then as many body bytes as Content-Length says.
            let body = loop {
                let n = stream.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break None;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len: usize = text[..end]
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse().ok())?
                        })
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + len {
                        break Some(buf[end + 4..end + 4 + len].to_vec());
                    }
                }
            };
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            if let Some(body) = body {
                let _ = tx.send(serde_json::from_slice(&body).unwrap_or_default());
            }
        }
    });
    (url, rx)
}

#[test]
fn paging_through_the_cli_with_the_real_engine() {
    let server = start();
    let with_password = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .env("KLAXON_URL", &server.url)
            .env("KLAXON_TOKEN", &server.token)
            .env("KLAXON_PASSWORD", &server.password)
            .output()
            .unwrap()
    };
    let me = json_of(&klaxon(&server, &["me", "--json"]));
    let me = me["user"]["id"].as_str().unwrap();
    let (hook, pages) = webhook_receiver();
    // The first method: the CLI says it brought a rule for each urgency, and shows the secret.
    let added = with_password(&[
        "contact-methods",
        "add",
        "--kind",
        "webhook",
        "--label",
        "bot",
        "--address",
        &hook,
    ]);
    assert!(added.status.success(), "{added:?}");
    let text = String::from_utf8_lossy(&added.stdout);
    assert!(
        text.contains("It is the first way to reach this person: two notification rules now page them through it at once, one for high-urgency and one for low-urgency incidents"),
        "{text}"
    );
    assert!(
        text.lines()
            .find_map(|l| l.strip_prefix("signing secret: "))
            .is_some_and(|s| s.len() >= 32),
        "{text}"
    );
    let methods = json_of(&klaxon(&server, &["contact-methods", "list", "--json"]));
    let method_id = methods["items"][0]["id"].as_str().unwrap();
    let rules = json_of(&klaxon(&server, &["notification-rules", "list", "--json"]));
    assert_eq!(
        rules["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["contact_method_id"].as_str(), r["urgency"].as_str()))
            .collect::<Vec<_>>(),
        [
            (Some(method_id), Some("high")),
            (Some(method_id), Some("low"))
        ]
    );
    json_of(&klaxon(
        &server,
        &[
            "notification-rules",
            "add",
            "--contact-method",
            method_id,
            "--json",
        ],
    ));
    let wrong = Command::new(BIN)
        .args([
            "contact-methods",
            "add",
            "--kind",
            "webhook",
            "--label",
            "x",
            "--address",
            &hook,
        ])
        .env("KLAXON_URL", &server.url)
        .env("KLAXON_TOKEN", &server.token)
        .env("KLAXON_PASSWORD", "not it")
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("password"),
        "{wrong:?}"
    );

    let level = format!("5:{me}");
    let policy = json_of(&klaxon(
        &server,
        &[
            "escalation-policies",
            "create",
            "--name",
            "primary",
            "--level",
            &level,
            "--json",
        ],
    ));
    assert_eq!(policy["levels"][0]["delay_minutes"], 5);
    let service = json_of(&klaxon(
        &server,
        &[
            "services",
            "create",
            "--name",
            "api",
            "--escalation-policy",
            policy["id"].as_str().unwrap(),
            "--json",
        ],
    ));
    assert_eq!(service["escalation_policy_id"], policy["id"]);
    let integration = json_of(&klaxon(
        &server,
        &[
            "integrations",
            "create",
            "--service",
            service["id"].as_str().unwrap(),
            "--name",
            "prom",
            "--kind",
            "events_v2",
            "--json",
        ],
    ));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let status =
        rt.block_on(async {
            reqwest::Client::new()
            .post(format!("{}/v2/enqueue", server.url))
            .json(&serde_json::json!({"routing_key": integration["key"], "event_action": "trigger",
                "payload": {"summary": "API down", "source": "lb", "severity": "critical"}}))
            .send()
            .await
            .unwrap()
            .status()
        });
    assert_eq!(status, 202);
    // The running engine pages at once (woken by the new incident), not at its next tick.
    let page = pages.recv_timeout(Duration::from_secs(10)).expect("a page");
    assert_eq!(page["data"]["incident"]["title"], "API down");
    let incidents = json_of(&klaxon(&server, &["incidents", "list", "--json"]));
    let id = incidents["items"][0]["id"].as_str().unwrap();
    let acked = json_of(&klaxon(&server, &["incidents", "ack", id, "--json"]));
    assert_eq!(acked["status"], "acknowledged");
    let sent = json_of(&klaxon(
        &server,
        &["incidents", "notifications", id, "--json"],
    ));
    assert_eq!(sent["items"][0]["status"], "sent");
    assert!(
        pages.recv_timeout(Duration::from_millis(300)).is_err(),
        "paged once"
    );
    assert!(terminate(server).success());
}
