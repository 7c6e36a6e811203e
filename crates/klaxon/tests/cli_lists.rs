//! `klaxon` lists against a running server: the lists that show everything follow the API's
//! `next_cursor` past its largest page (500), and `--json` deletes say what they deleted.
use std::process::Output;

use serde_json::{Value, json};

use crate::support;
use support::*;

/// The API's largest page; one more than this needs a second page.
const PAGE_MAX: usize = 500;

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_owned()
}

/// Sends `body` to the API as the server's admin, and hands back its JSON answer.
async fn api(
    http: &reqwest::Client,
    server: &Server,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let mut req = http
        .request(method, format!("{}{path}", server.url))
        .bearer_auth(&server.token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    resp.json().await.unwrap()
}

#[test]
fn lists_that_show_everything_follow_the_cursor_past_one_page() {
    let server = start();
    let run = |args: &[&str]| klaxon(&server, args);
    let me = json_of(&run(&["me", "--json"]))["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let service = json_of(&run(&["services", "create", "--name", "api", "--json"]));
    let sid = id_of(&service);

    // More policies than one page holds, and a service timeline longer than one page (its
    // creation, then one event per change).
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let http = reqwest::Client::new();
        for i in 0..=PAGE_MAX {
            let body = json!({"name": format!("policy {i:03}"),
                "levels": [{"delay_minutes": 5, "targets": [{"type": "user", "id": me}]}]});
            let post = reqwest::Method::POST;
            api(
                &http,
                &server,
                post,
                "/api/v1/escalation-policies",
                Some(body),
            )
            .await;
        }
        for i in 0..PAGE_MAX {
            let body = json!({"description": format!("change {i}")});
            let path = format!("/api/v1/services/{sid}");
            api(&http, &server, reqwest::Method::PATCH, &path, Some(body)).await;
        }
    });

    let policies = json_of(&run(&["escalation-policies", "list", "--json"]));
    let items = policies["items"].as_array().unwrap();
    assert_eq!(items.len(), PAGE_MAX + 1);
    assert_eq!(policies["next_cursor"], Value::Null);
    let text = stdout(&run(&["escalation-policies", "list"]));
    for i in [0, PAGE_MAX - 1, PAGE_MAX] {
        assert!(
            text.contains(&format!("policy {i:03}")),
            "policy {i} in {text}"
        );
    }

    let timeline = json_of(&run(&["services", "timeline", &sid, "--json"]));
    let events = timeline["items"].as_array().unwrap();
    assert_eq!(events.len(), PAGE_MAX + 1);
    assert_eq!(timeline["next_cursor"], Value::Null);
    assert_eq!(events[0]["kind"], "service.created");
    let last = &events[PAGE_MAX];
    assert_eq!(last["kind"], "service.updated");
    assert_eq!(
        last["data"]["description"],
        format!("change {}", PAGE_MAX - 1)
    );
    let text = stdout(&run(&["services", "timeline", &sid]));
    assert!(
        text.contains(&format!("change {}", PAGE_MAX - 1)),
        "the last change in {text}"
    );

    // Schedules list every page already; its JSON has the same shape as the other lists.
    let schedules = json_of(&run(&["schedules", "list", "--json"]));
    assert_eq!(schedules["items"], json!([]));
    assert!(
        schedules.as_object().unwrap().contains_key("next_cursor"),
        "{schedules}"
    );
    assert_eq!(schedules["next_cursor"], Value::Null);
}

#[test]
fn json_deletes_say_what_they_deleted() {
    let server = start();
    let run = |args: &[&str]| klaxon(&server, args);
    let service = json_of(&run(&["services", "create", "--name", "cart", "--json"]));
    let sid = id_of(&service);

    let integration = json_of(&run(&[
        "integrations",
        "create",
        "--service",
        &sid,
        "--name",
        "prom",
        "--kind",
        "events_v2",
        "--json",
    ]));
    let iid = id_of(&integration);
    let deleted = json_of(&run(&["integrations", "delete", &iid, "--json"]));
    assert_eq!(deleted, json!({"deleted": iid}));

    let window = json_of(&run(&[
        "maintenance",
        "create",
        "--service",
        &sid,
        "--ends-at",
        "2999-01-01T00:00:00Z",
        "--description",
        "upgrade",
        "--json",
    ]));
    let wid = id_of(&window);
    let deleted = json_of(&run(&[
        "maintenance",
        "delete",
        "--service",
        &sid,
        &wid,
        "--json",
    ]));
    assert_eq!(deleted, json!({"deleted": wid}));

    let deleted = json_of(&run(&["services", "delete", &sid, "--json"]));
    assert_eq!(deleted, json!({"deleted": sid}));
    // And without --json, the sentence people read.
    let other = id_of(&json_of(&run(&[
        "services", "create", "--name", "other", "--json",
    ])));
    let text = stdout(&run(&["services", "delete", &other]));
    assert_eq!(text.trim(), format!("deleted service other ({other})"));
}
