//! `klaxon webhooks …` against a running server: creating (the secret shown once), listing,
//! showing, changing, refusing bad input, deleting, and the deliveries the real engine makes
//! after an incident is declared.
use std::io::{Read, Write};
use std::process::{Command, Output};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support;
use support::*;

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The command failed, and said why on standard error.
fn refused(out: &Output, needles: &[&str]) {
    assert!(!out.status.success(), "expected a failure: {out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    for n in needles {
        assert!(err.contains(n), "{n:?} not in {err:?}");
    }
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_owned()
}

/// What a receiver got: the request's head (request line and headers) and its JSON body.
struct Received {
    head: String,
    body: Value,
}

/// A one-thread HTTP receiver that answers 200 to everything and hands each request over.
fn receiver() -> (String, Receiver<Received>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // The head, then as many body bytes as Content-Length says.
            let got = loop {
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
                        break Some(Received {
                            head: text[..end].to_owned(),
                            body: serde_json::from_slice(&buf[end + 4..end + 4 + len])
                                .unwrap_or_default(),
                        });
                    }
                }
            };
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            if let Some(got) = got {
                let _ = tx.send(got);
            }
        }
    });
    (url, rx)
}

#[test]
fn managing_webhooks_through_the_cli() {
    let server = start();
    let run = |args: &[&str]| klaxon(&server, args);

    // Created for people: the secret is printed once, with a line saying so.
    let created = stdout(&run(&[
        "webhooks",
        "create",
        "--name",
        "Status page",
        "--address",
        "https://status.example.com/hook",
    ]));
    assert!(created.contains("webhook Status page ("), "{created}");
    assert!(created.contains("all incident events"), "{created}");
    assert!(created.contains("enabled:  yes"), "{created}");
    let secret = created
        .lines()
        .find_map(|l| l.strip_prefix("signing secret: "))
        .unwrap_or_else(|| panic!("no secret in {created}"));
    assert!(!secret.trim().is_empty(), "{created}");
    assert!(created.contains("Shown only now"), "{created}");

    // Created for scripts: the API's JSON, secret included; events repeated or comma-separated.
    let chat = json_of(&run(&[
        "webhooks",
        "create",
        "--name",
        "Chat bridge",
        "--address",
        "https://chat.example.com/in",
        "--event",
        "incident.resolved,incident.declared",
        "--event",
        "incident.",
        "--disabled",
        "--json",
    ]));
    let chat_id = id_of(&chat);
    assert_eq!(chat["name"], "Chat bridge");
    assert_eq!(chat["enabled"], false);
    assert_eq!(
        chat["events"],
        serde_json::json!(["incident.resolved", "incident.declared", "incident."])
    );
    assert!(chat["secret"].as_str().is_some_and(|s| !s.is_empty()));
    assert_ne!(chat["secret"].as_str(), Some(secret));

    // Listed: both, and no secrets.
    let list = json_of(&run(&["webhooks", "list", "--json"]));
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{list}");
    assert!(items.iter().all(|w| w.get("secret").is_none()), "{list}");
    let status_id = items
        .iter()
        .find(|w| w["name"] == "Status page")
        .map(id_of)
        .unwrap();
    let table = stdout(&run(&["webhooks", "list"]));
    let header = table.lines().next().unwrap();
    for col in ["ID", "NAME", "URL", "EVENTS", "ENABLED"] {
        assert!(header.contains(col), "{table}");
    }
    let row = table.lines().find(|l| l.contains(&chat_id)).unwrap();
    assert!(row.contains("Chat bridge"), "{table}");
    assert!(
        row.contains("incident.resolved, incident.declared, incident."),
        "{table}"
    );
    assert!(row.trim_end().ends_with("no"), "{table}");
    let row = table.lines().find(|l| l.contains(&status_id)).unwrap();
    assert!(row.contains("all incident events"), "{table}");
    assert!(row.trim_end().ends_with("yes"), "{table}");

    // Shown, without the secret.
    let shown = stdout(&run(&["webhooks", "show", &status_id]));
    assert!(
        shown.contains("url:      https://status.example.com/hook"),
        "{shown}"
    );
    assert!(!shown.contains(secret), "{shown}");
    let shown = json_of(&run(&["webhooks", "show", &chat_id, "--json"]));
    assert_eq!(shown["url"], "https://chat.example.com/in");
    assert!(shown.get("secret").is_none(), "{shown}");

    // Changed: disabled, events narrowed; then every event again, enabled, renamed, moved.
    let changed = json_of(&run(&[
        "webhooks",
        "update",
        &status_id,
        "--disable",
        "--event",
        "incident.resolved",
        "--json",
    ]));
    assert_eq!(changed["enabled"], false);
    assert_eq!(changed["events"], serde_json::json!(["incident.resolved"]));
    assert_eq!(changed["name"], "Status page");
    assert_eq!(changed["url"], "https://status.example.com/hook");
    let changed = stdout(&run(&[
        "webhooks",
        "update",
        &status_id,
        "--all-events",
        "--enable",
        "--name",
        "Public status",
        "--address",
        "http://status.internal:8080/hook",
    ]));
    assert!(changed.contains("webhook Public status ("), "{changed}");
    assert!(changed.contains("all incident events"), "{changed}");
    assert!(changed.contains("enabled:  yes"), "{changed}");
    let shown = json_of(&run(&["webhooks", "show", &status_id, "--json"]));
    assert_eq!(shown["events"], serde_json::json!([]));
    assert_eq!(shown["url"], "http://status.internal:8080/hook");
    // The other one is untouched.
    let shown = json_of(&run(&["webhooks", "show", &chat_id, "--json"]));
    assert_eq!(shown["enabled"], false);
    assert_eq!(shown["name"], "Chat bridge");

    // Nothing to change, or contradictions, are refused before asking the server.
    refused(
        &run(&["webhooks", "update", &status_id]),
        &["nothing to change"],
    );
    refused(
        &run(&["webhooks", "update", &status_id, "--enable", "--disable"]),
        &["--disable"],
    );
    refused(
        &run(&[
            "webhooks",
            "update",
            &status_id,
            "--all-events",
            "--event",
            "incident.declared",
        ]),
        &["--event"],
    );

    // The server's refusals are printed, and the exit status says so.
    for url in ["ftp://example.com/hook", "not a link", "https://"] {
        refused(
            &run(&["webhooks", "create", "--name", "Bad", "--address", url]),
            &["400", "url: "],
        );
    }
    refused(
        &run(&[
            "webhooks",
            "update",
            &chat_id,
            "--address",
            "mailto:ops@example.com",
        ]),
        &["400", "url: "],
    );
    refused(
        &run(&[
            "webhooks",
            "create",
            "--name",
            "Bad",
            "--address",
            "https://example.com/hook",
            "--event",
            "incident.exploded",
        ]),
        &["400", "events: ", "incident.exploded"],
    );
    refused(
        &run(&["webhooks", "update", &chat_id, "--event", "incident"]),
        &["400", "events: "],
    );
    refused(
        &run(&[
            "webhooks",
            "create",
            "--name",
            "Chat bridge",
            "--address",
            "https://example.com/other",
        ]),
        &["409", "name: "],
    );
    refused(
        &run(&["webhooks", "show", "no-such-webhook"]),
        &["404", "no webhook is called \"no-such-webhook\""],
    );
    // Nothing was made or changed by the refusals.
    let list = json_of(&run(&["webhooks", "list", "--json"]));
    assert_eq!(list["items"].as_array().unwrap().len(), 2, "{list}");
    let shown = json_of(&run(&["webhooks", "show", &chat_id, "--json"]));
    assert_eq!(shown["url"], "https://chat.example.com/in");

    // Admins only: a responder-role token is refused.
    let token = Command::new(BIN)
        .args(["token", "create", "--name", "reader", "--role", "responder"])
        .current_dir(server._dir.path())
        .env_remove("KLAXON_DATABASE_URL")
        .env_remove("KLAXON_CONFIG")
        .output()
        .unwrap();
    let token = stdout(&token).trim().to_owned();
    let as_responder = Command::new(BIN)
        .args(["webhooks", "list"])
        .env("KLAXON_URL", &server.url)
        .env("KLAXON_TOKEN", &token)
        .output()
        .unwrap();
    refused(&as_responder, &["403"]);

    // Deleted: gone from the list, and asking for it again is a 404.
    let deleted = stdout(&run(&["webhooks", "delete", &chat_id]));
    assert_eq!(
        deleted.trim(),
        format!("deleted webhook Chat bridge ({chat_id})")
    );
    refused(&run(&["webhooks", "show", &chat_id]), &["404"]);
    refused(&run(&["webhooks", "delete", &chat_id]), &["404"]);
    refused(&run(&["webhooks", "deliveries", &chat_id]), &["404"]);
    let deleted = json_of(&run(&["webhooks", "delete", &status_id, "--json"]));
    assert_eq!(deleted["deleted"], status_id.as_str());
    let list = json_of(&run(&["webhooks", "list", "--json"]));
    assert_eq!(list["items"], serde_json::json!([]), "{list}");

    terminate(server);
}

#[test]
fn deliveries_after_an_incident_is_declared() {
    let server = start();
    let run = |args: &[&str]| klaxon(&server, args);
    let (url, received) = receiver();

    let hook = json_of(&run(&[
        "webhooks",
        "create",
        "--name",
        "Receiver",
        "--address",
        &url,
        "--event",
        "incident.declared",
        "--json",
    ]));
    let hook_id = id_of(&hook);
    // A switched-off webhook to the same receiver gets nothing queued.
    let off = json_of(&run(&[
        "webhooks",
        "create",
        "--name",
        "Switched off",
        "--address",
        &url,
        "--disabled",
        "--json",
    ]));
    let off_id = id_of(&off);

    // Nothing happened yet: an empty list, and a table with only its header.
    let none = json_of(&run(&["webhooks", "deliveries", &hook_id, "--json"]));
    assert_eq!(none["items"], serde_json::json!([]), "{none}");
    let table = stdout(&run(&["webhooks", "deliveries", &hook_id]));
    assert_eq!(table.lines().count(), 1, "{table}");
    for col in [
        "SEQ",
        "KIND",
        "STATUS",
        "ATTEMPTS",
        "RESPONSE",
        "LAST_ERROR",
    ] {
        assert!(table.contains(col), "{table}");
    }

    let incident = json_of(&run(&[
        "incidents",
        "declare",
        "--title",
        "Checkout is down",
        "--severity",
        "SEV3",
        "--json",
    ]));
    let incident_id = incident["id"].as_str().unwrap();

    // The server's engine ticks by itself on the real clock: wait for the delivery to be sent.
    let deadline = Instant::now() + Duration::from_secs(15);
    let items = loop {
        let v = json_of(&run(&["webhooks", "deliveries", &hook_id, "--json"]));
        let items = v["items"].as_array().cloned().unwrap_or_default();
        if items.iter().any(|d| d["status"] == "sent") {
            break items;
        }
        assert!(
            Instant::now() < deadline,
            "no delivery was sent within 15 s: {v}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    // Only the event kind asked for, once.
    assert_eq!(items.len(), 1, "{items:?}");
    let d = &items[0];
    assert_eq!(d["kind"], "incident.declared");
    assert_eq!(d["status"], "sent");
    assert_eq!(d["attempts"], 1);
    assert_eq!(d["response_status"], 200);
    assert_eq!(d["last_error"], Value::Null);
    assert!(d["sent_at"].is_string(), "{d}");
    assert!(d["event_seq"].as_i64().is_some_and(|s| s > 0), "{d}");
    assert_eq!(d["payload"]["type"], "incident.declared");
    assert_eq!(d["payload"]["incident"]["id"], incident_id);
    assert_eq!(d["payload"]["sequence"], d["event_seq"]);

    // The receiver got it, signed.
    let got = received
        .recv_timeout(Duration::from_secs(5))
        .expect("the receiver got the delivery");
    assert_eq!(got.body["type"], "incident.declared");
    assert_eq!(got.body["incident"]["title"], "Checkout is down");
    let head = got.head.to_lowercase();
    assert!(head.starts_with("post /hook "), "{}", got.head);
    assert!(head.contains("x-klaxon-event: incident.declared"), "{head}");
    assert!(head.contains("x-klaxon-signature: v1="), "{head}");
    assert!(
        head.contains(&format!(
            "x-klaxon-delivery: {}",
            d["id"].as_str().unwrap().to_lowercase()
        )),
        "{head}"
    );

    // For people: one row under the header with seq, kind, status, attempts, response.
    let table = stdout(&run(&["webhooks", "deliveries", &hook_id]));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "{table}");
    let cells: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        cells,
        [
            d["event_seq"].to_string().as_str(),
            "incident.declared",
            "sent",
            "1",
            "200",
            "-"
        ],
        "{table}"
    );

    // The switched-off webhook had the same ticks and got nothing.
    let off = json_of(&run(&["webhooks", "deliveries", &off_id, "--json"]));
    assert_eq!(off["items"], serde_json::json!([]), "{off}");

    // Deleting a webhook takes its deliveries with it.
    stdout(&run(&["webhooks", "delete", &hook_id]));
    refused(&run(&["webhooks", "deliveries", &hook_id]), &["404"]);

    terminate(server);
}
