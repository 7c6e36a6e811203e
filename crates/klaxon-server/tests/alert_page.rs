//! The alert page and the alert API: a PagerDuty Events v2 trigger with custom details, links,
//! images and a client URL, repeated, then read back through `/alerts/{id}` (each part there,
//! the tool's HTML escaped, its images only links) and `GET /api/v1/alerts/{id}` (the event as
//! sent, without its routing key) on both backends.
use crate::common;

use jiff::SignedDuration;
use reqwest::StatusCode;
use serde_json::{Value, json};

use common::{Backend, TestApp, ok, patch, session_for, web_get_as};

/// A service with an events_v2 integration; returns (service id, integration key).
async fn service(app: &TestApp) -> (String, String) {
    let admin = &app.admin.token;
    let svc = ok(
        app.post("/api/v1/services", admin, &json!({"name": "database"})),
        201,
    )
    .await;
    let sid = svc["id"].as_str().unwrap().to_owned();
    let integration = ok(
        app.post(
            &format!("/api/v1/services/{sid}/integrations"),
            admin,
            &json!({"name": "grafana", "kind": "events_v2"}),
        ),
        201,
    )
    .await;
    (sid, integration["key"].as_str().unwrap().to_owned())
}

/// Everything Events v2 lets a tool say, some of it hostile.
fn event(key: &str, summary: &str, free: &str) -> Value {
    json!({
        "routing_key": key,
        "event_action": "trigger",
        "dedup_key": "disk-db-1",
        "client": "Grafana <b>eu</b>",
        "client_url": "https://grafana.example.com/alerting/list",
        "links": [
            {"href": "https://runbooks.example.com/disk-full", "text": "Runbook"},
            {"href": "javascript:alert(1)", "text": "Sneaky"}
        ],
        "images": [
            {"src": "https://grafana.example.com/render/disk.png",
             "href": "https://grafana.example.com/d/disk", "alt": "Disk usage, last 6 hours"}
        ],
        "payload": {
            "summary": summary,
            "source": "db-1.example.com",
            "severity": "critical",
            "component": "postgres",
            "group": "storage",
            "class": "disk",
            "custom_details": {
                "disk": {"free": free, "mount": "/var/lib/postgresql"},
                "hosts": ["db-1", "db-2"],
                "note": "<script>alert('x')</script> & more",
                "runbook_steps": "1. look\n2. delete old WAL"
            }
        }
    })
}

async fn send(app: &TestApp, body: &Value) {
    let r = app
        .http
        .post(format!("{}/v2/enqueue", app.url))
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
}

async fn only_alert(app: &TestApp) -> Value {
    let list = ok(app.get("/api/v1/alerts", &app.admin.token), 200).await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    items[0].clone()
}

async fn the_alert_page_shows_everything_the_tool_sent(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let (sid, key) = service(&app).await;
    // The admin reads in Berlin: 09:00 UTC is 10:00 CET.
    let me = ok(app.get("/api/v1/me", &app.admin.token), 200).await;
    let me_id = me["user"]["id"].as_str().unwrap();
    ok(
        patch(
            &app,
            &format!("/api/v1/users/{me_id}"),
            &app.admin.token,
            &json!({"time_zone": "Europe/Berlin"}),
        ),
        200,
    )
    .await;
    send(&app, &event(&key, "Disk almost full on db-1", "5%")).await;
    app.clock.advance(SignedDuration::from_mins(5));
    send(&app, &event(&key, "Disk almost full on db-1 (3%)", "3%")).await;
    app.clock.advance(SignedDuration::from_mins(10));
    let alert = only_alert(&app).await;
    let id = alert["id"].as_str().unwrap();
    let incident = alert["incident_id"].as_str().unwrap();

    let (cookie, _) = session_for(&app, &app.admin.email, &app.admin.password).await;
    let html = web_get_as(&app, &format!("/alerts/{id}"), &cookie).await;
    assert!(
        html.contains("<title>Alert: Disk almost full on db-1 (3%) · Klaxon</title>"),
        "the newest trigger's content: {html}"
    );
    for part in [
        "<h1 data-testid=\"alert-summary\">Disk almost full on db-1 (3%)</h1>",
        "<dd data-testid=\"alert-source\">db-1.example.com</dd>",
        "<span class=\"sev-critical\" data-testid=\"alert-severity\">critical</span>",
        "<span class=\"status-triggered\" data-testid=\"alert-status\">triggered</span>",
        "<code data-testid=\"alert-dedup-key\">disk-db-1</code>",
        "<dt>Component</dt><dd>postgres</dd>",
        "<dt>Group</dt><dd>storage</dd>",
        "<dt>Class</dt><dd>disk</dd>",
        "grafana (PagerDuty Events v2)",
        "triggered 2 times",
        &format!("<a href=\"/services/{sid}\">database</a>"),
        &format!(
            "<a href=\"/incidents/{incident}\" data-testid=\"alert-incident\">#1 Disk almost full on db-1</a>"
        ),
        // Times in the reader's zone, named, with the relative form.
        "<dd data-testid=\"alert-first-seen\"><time datetime=\"2026-11-21T09:00:00Z\"",
        ">10:00 CET</time> <span class=\"ago\">(15 min ago)</span>",
        ">10:05 CET</time> <span class=\"ago\">(10 min ago)</span>",
        "When (Europe/Berlin)",
    ] {
        assert!(html.contains(part), "missing {part:?} in {html}");
    }
    // Custom details as a table of dotted keys, the newest values, the tool's HTML escaped.
    for (k, v) in [
        ("disk.free", "3%"),
        ("disk.mount", "/var/lib/postgresql"),
        ("hosts[0]", "db-1"),
        ("hosts[1]", "db-2"),
        (
            "note",
            "&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62; &#38; more",
        ),
        ("runbook_steps", "1. look\n2. delete old WAL"),
    ] {
        let row = format!("<th scope=\"row\">{k}</th>\n      <td>{v}</td>");
        assert!(html.contains(&row), "missing {row:?} in {html}");
    }
    assert!(!html.contains("<script>alert("), "{html}");
    // Links with their text; a javascript: link is shown, never followable.
    assert!(
        html.contains("<a href=\"https://runbooks.example.com/disk-full\" rel=\"noopener noreferrer nofollow\">Runbook</a>"),
        "{html}"
    );
    assert!(
        html.contains("Sneaky <span class=\"muted\">(javascript:alert(1): not a web link)</span>"),
        "{html}"
    );
    assert!(!html.contains("href=\"javascript:"), "{html}");
    // Images are links with their alt text: nothing from elsewhere is loaded.
    assert!(
        html.contains("<a href=\"https://grafana.example.com/render/disk.png\" rel=\"noopener noreferrer nofollow\">Disk usage, last 6 hours</a>"),
        "{html}"
    );
    assert!(html.contains("<a href=\"https://grafana.example.com/d/disk\" rel=\"noopener noreferrer nofollow\">where it links to</a>"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    // The client and its URL.
    assert!(html.contains("Grafana &#60;b&#62;eu&#60;/b&#62;"), "{html}");
    assert!(
        html.contains("<a href=\"https://grafana.example.com/alerting/list\" rel=\"noopener noreferrer nofollow\" data-testid=\"alert-client-url\">"),
        "{html}"
    );
    // Every trigger, oldest first, each with what it said.
    let history = &html[html.find("data-testid=\"alert-history\"").unwrap()..];
    let first = history
        .find("Triggered: Disk almost full on db-1 (critical)")
        .unwrap();
    let again = history
        .find("Triggered again: Disk almost full on db-1 (3%) (critical)")
        .unwrap();
    assert!(first < again, "{history}");
    // The event as sent: escaped, pretty, inside a <details>, without the routing key.
    let raw = &html[html.find("<details class=\"alert-payload\">").unwrap()..];
    let raw = &raw[..raw.find("</details>").unwrap()];
    assert!(raw.contains("<pre tabindex=\"0\""), "{raw}");
    assert!(raw.contains("&#34;custom_details&#34;: {"), "{raw}");
    assert!(raw.contains("&#34;free&#34;: &#34;3%&#34;"), "{raw}");
    assert!(raw.contains("&#60;script&#62;"), "{raw}");
    assert!(
        !html.contains("routing_key") && !html.contains(&key),
        "{raw}"
    );
    // The admin may act on the incident from here.
    assert!(
        html.contains(&format!("action=\"/incidents/{incident}/acknowledge\"")),
        "{html}"
    );
    assert!(
        html.contains(&format!("action=\"/incidents/{incident}/resolve\"")),
        "{html}"
    );

    // The API says the same, and the history is there too.
    let one = ok(
        app.get(&format!("/api/v1/alerts/{id}"), &app.admin.token),
        200,
    )
    .await;
    assert_eq!(one["count"], 2);
    assert_eq!(one["content"]["details"]["disk"]["free"], "3%");
    assert_eq!(one["content"]["links"][0]["text"], "Runbook");
    assert_eq!(
        one["content"]["images"][0]["alt"],
        "Disk usage, last 6 hours"
    );
    assert_eq!(
        one["content"]["client_url"],
        "https://grafana.example.com/alerting/list"
    );
    let payload = &one["payload"];
    assert_eq!(payload["payload"]["custom_details"]["disk"]["free"], "3%");
    assert_eq!(payload["dedup_key"], "disk-db-1");
    assert!(payload.get("routing_key").is_none(), "{payload}");
    let list = ok(app.get("/api/v1/alerts", &app.admin.token), 200).await;
    assert!(
        list["items"][0].get("payload").is_none(),
        "lists carry no payloads"
    );
    let events = ok(
        app.get(&format!("/api/v1/alerts/{id}/events"), &app.admin.token),
        200,
    )
    .await;
    let kinds: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["alert.triggered", "alert.deduplicated"]);
    assert_eq!(
        events["items"][1]["data"]["summary"],
        "Disk almost full on db-1 (3%)"
    );

    // Unknown and malformed ids.
    let nobody = "0193f0c2-0000-7000-8000-000000000000";
    let r = app
        .http
        .get(format!("{}/alerts/{nobody}", app.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = app
        .http
        .get(format!("{}/alerts/nope", app.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    for path in [
        format!("/api/v1/alerts/{nobody}"),
        format!("/api/v1/alerts/{nobody}/events"),
    ] {
        common::refused(app.get(&path, &app.admin.token), 404, "not_found", None).await;
    }
    common::refused(
        app.get("/api/v1/alerts/nope/events", &app.admin.token),
        400,
        "invalid_field",
        Some("id"),
    )
    .await;
    app.stop().await;
}

async fn alert_lists_link_to_the_alert_page_and_acting_follows_the_incident(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let (sid, key) = service(&app).await;
    send(&app, &event(&key, "Disk almost full on db-1", "5%")).await;
    let alert = only_alert(&app).await;
    let id = alert["id"].as_str().unwrap();
    let incident = alert["incident_id"].as_str().unwrap();
    let (cookie, csrf) = session_for(&app, &app.admin.email, &app.admin.password).await;
    let link =
        format!("<a href=\"/alerts/{id}\" data-testid=\"alert-link\">Disk almost full on db-1</a>");
    for page in ["/alerts".to_owned(), format!("/services/{sid}")] {
        let html = web_get_as(&app, &page, &cookie).await;
        assert!(html.contains(&link), "{page}: {html}");
        assert!(
            html.contains("<td data-label=\"Last seen\"><time datetime=\"2026-11-21T09:00:00Z\""),
            "{page}: {html}"
        );
    }

    // A viewer sees the page but no buttons.
    let viewer = common::member(&app, "val@example.com", "Val", "viewer").await;
    let _ = viewer;
    let (vcookie, _) = session_for(&app, "val@example.com", common::PASSWORD).await;
    let html = web_get_as(&app, &format!("/alerts/{id}"), &vcookie).await;
    assert!(
        html.contains("Disk almost full on db-1") && !html.contains("id=\"acknowledge-incident\""),
        "{html}"
    );

    // The page's button acknowledges the incident, and with it the alert.
    let r = app
        .http
        .post(format!("{}/incidents/{incident}/acknowledge", app.url))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let html = web_get_as(&app, &format!("/alerts/{id}"), &cookie).await;
    assert!(
        html.contains("data-testid=\"alert-status\">acknowledged</span>"),
        "{html}"
    );
    assert!(
        html.contains("Acknowledged with its incident, by Administrator"),
        "{html}"
    );
    assert!(!html.contains("id=\"acknowledge-incident\""), "{html}");
    assert!(html.contains("id=\"resolve-incident\""), "{html}");
    app.stop().await;
}

/// Alertmanager's and the generic webhook's events are kept too: one Alertmanager alert's
/// payload is the notification with that alert alone.
async fn every_integration_keeps_the_event_as_sent(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let admin = &app.admin.token;
    let (sid, _) = service(&app).await;
    let mut keys = Vec::new();
    for kind in ["alertmanager", "generic"] {
        let i = ok(
            app.post(
                &format!("/api/v1/services/{sid}/integrations"),
                admin,
                &json!({"name": kind, "kind": kind}),
            ),
            201,
        )
        .await;
        keys.push(i["key"].as_str().unwrap().to_owned());
    }
    let am = json!({
        "version": "4", "status": "firing", "receiver": "klaxon", "groupKey": "{}:{alertname=\"X\"}",
        "externalURL": "http://alertmanager.example.com",
        "alerts": [
            {"status": "firing", "labels": {"alertname": "HighLoad", "instance": "web-1"},
             "annotations": {"summary": "Load high on web-1"}, "fingerprint": "aaa1"},
            {"status": "firing", "labels": {"alertname": "HighLoad", "instance": "web-2"},
             "annotations": {"summary": "Load high on web-2"}, "fingerprint": "aaa2"}
        ]
    });
    let r = app
        .http
        .post(format!("{}/integrations/{}/alertmanager", app.url, keys[0]))
        .json(&am)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let generic =
        json!({"summary": "Backup failed", "dedup_key": "backup", "details": {"tries": 3}});
    let r = app
        .http
        .post(format!("{}/integrations/{}/generic", app.url, keys[1]))
        .json(&generic)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let list = ok(app.get("/api/v1/alerts", admin), 200).await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    for a in items {
        let one = ok(
            app.get(
                &format!("/api/v1/alerts/{}", a["id"].as_str().unwrap()),
                admin,
            ),
            200,
        )
        .await;
        let p = &one["payload"];
        match a["dedup_key"].as_str().unwrap() {
            "backup" => assert_eq!(p, &generic),
            fp => {
                assert_eq!(p["receiver"], "klaxon", "{p}");
                assert_eq!(p["externalURL"], "http://alertmanager.example.com");
                let alerts = p["alerts"].as_array().unwrap();
                assert_eq!(alerts.len(), 1, "{p}");
                assert_eq!(alerts[0]["fingerprint"], fp);
            }
        }
    }
    app.stop().await;
}

/// A flapping alert's history comes 100 entries a page, oldest first.
async fn a_long_history_comes_a_page_at_a_time(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let (_, key) = service(&app).await;
    for i in 0..101 {
        send(&app, &event(&key, &format!("Disk check {i}"), "5%")).await;
    }
    let id = only_alert(&app).await["id"].as_str().unwrap().to_owned();
    let (cookie, _) = session_for(&app, &app.admin.email, &app.admin.password).await;
    let html = web_get_as(&app, &format!("/alerts/{id}"), &cookie).await;
    assert!(html.contains("triggered 101 times"), "{html}");
    let rows = |html: &str| html.matches("<td data-label=\"What\">").count();
    assert_eq!(rows(&html), 100);
    assert!(html.contains("Triggered: Disk check 0 (critical)"));
    assert!(!html.contains("Disk check 100 (critical)"));
    let start = html.find("<p><a href=\"/alerts/").expect("a Later link");
    let href = &html[start + 12..];
    let href = href[..href.find('"').unwrap()].replace("&#38;", "&");
    assert!(
        href.starts_with(&format!("/alerts/{id}?history=")),
        "{href}"
    );
    let next = web_get_as(&app, &href, &cookie).await;
    assert_eq!(rows(&next), 1, "{next}");
    assert!(
        next.contains("Triggered again: Disk check 100 (critical)"),
        "{next}"
    );
    assert!(
        next.contains(&format!("<a href=\"/alerts/{id}\">← From the start</a>")),
        "{next}"
    );
    app.stop().await;
}

on_both_backends!(
    a_long_history_comes_a_page_at_a_time,
    the_alert_page_shows_everything_the_tool_sent,
    alert_lists_link_to_the_alert_page_and_acting_follows_the_incident,
    every_integration_keeps_the_event_as_sent,
);
