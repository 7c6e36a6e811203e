//! The pages sent for an alert's incident carry what the tool said: the e-mail lists the
//! alert's facts, custom details as a table, links and images as links, and the link to the
//! alert page; webhook, Slack and Teams posts carry them as structured fields. A loopback mail
//! server and HTTP receiver record what they get, on both backends.
use crate::common;
use crate::mail_support;

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use serde_json::{Value, json};

use common::{Backend, PASSWORD, TestApp, ok};
use mail_support::MockSmtp;

const PUBLIC_URL: &str = "http://klaxon.test";

type Posts = Arc<Mutex<Vec<(String, Value)>>>;

/// An HTTP receiver on loopback: every POST's path and JSON body.
async fn receiver() -> (String, Posts) {
    let got: Posts = Arc::default();
    let app = axum::Router::new()
        .route(
            "/{kind}",
            axum::routing::post(
                |State(got): State<Posts>,
                 Path(kind): Path<String>,
                 axum::Json(body): axum::Json<Value>| async move {
                    got.lock().unwrap().push((kind, body));
                    axum::http::StatusCode::OK
                },
            ),
        )
        .with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

async fn a_page_carries_the_alerts_details_and_links(b: Backend) {
    let smtp = MockSmtp::spawn().await;
    let Some(app) = TestApp::spawn_with(b, |s| {
        s.server.public_url = Some(PUBLIC_URL.into());
        s.smtp.host = Some("127.0.0.1".into());
        s.smtp.port = Some(smtp.port);
        s.smtp.tls = klaxon_server::config::SmtpTls::None;
        s.smtp.from = Some("Klaxon <klaxon@example.com>".into());
    })
    .await
    else {
        return;
    };
    let (base, posts) = receiver().await;
    let admin = &app.admin.token;
    let ada = common::member(&app, "ada@example.com", "Ada", "responder").await;
    for (kind, address) in [
        ("email", "ada@example.com".to_owned()),
        ("webhook", format!("{base}/webhook")),
        ("slack", format!("{base}/slack")),
        ("teams", format!("{base}/teams")),
    ] {
        let m = ok(
            app.post(
                &format!("/api/v1/users/{}/contact-methods", ada.id),
                &ada.token,
                &json!({"kind": kind, "label": kind, "address": address, "password": PASSWORD}),
            ),
            201,
        )
        .await;
        ok(
            app.post(
                &format!("/api/v1/users/{}/notification-rules", ada.id),
                &ada.token,
                &json!({"contact_method_id": m["id"], "delay_minutes": 0}),
            ),
            201,
        )
        .await;
    }
    let policy = ok(
        app.post(
            "/api/v1/escalation-policies",
            admin,
            &json!({"name": "db", "repeat": 0, "levels": [
                {"delay_minutes": 30, "targets": [{"type": "user", "id": ada.id}]}]}),
        ),
        201,
    )
    .await;
    let svc = ok(
        app.post(
            "/api/v1/services",
            admin,
            &json!({"name": "database", "escalation_policy_id": policy["id"]}),
        ),
        201,
    )
    .await;
    let integration = ok(
        app.post(
            &format!(
                "/api/v1/services/{}/integrations",
                svc["id"].as_str().unwrap()
            ),
            admin,
            &json!({"name": "grafana", "kind": "events_v2"}),
        ),
        201,
    )
    .await;
    let many: serde_json::Map<String, Value> = (0..25)
        .map(|i| (format!("extra_{i:02}"), json!(i)))
        .collect();
    let r = app
        .http
        .post(format!("{}/v2/enqueue", app.url))
        .json(&json!({
            "routing_key": integration["key"], "event_action": "trigger", "dedup_key": "disk",
            "client": "Grafana", "client_url": "https://grafana.example.com/alerting",
            "links": [{"href": "https://runbooks.example.com/disk", "text": "Runbook"},
                      {"href": "javascript:alert(1)", "text": "Sneaky"}],
            "images": [{"src": "https://grafana.example.com/render/disk.png", "alt": "Disk graph"}],
            "payload": {"summary": "Disk almost full on db-1", "source": "db-1",
                        "severity": "critical",
                        "custom_details": {"disk": {"free": "3%"}, "cause": "look\nclean", "more": many}}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    app.state.engine.tick().await.unwrap();
    let alerts = ok(app.get("/api/v1/alerts", admin), 200).await;
    let alert_id = alerts["items"][0]["id"].as_str().unwrap().to_owned();
    let alert_url = format!("{PUBLIC_URL}/alerts/{alert_id}");

    // The e-mail: facts, a details table (the first 20 rows), links, images as links.
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let text = mails[0].text().replace("\r\n", "\n");
    for part in [
        "\nAlert: Disk almost full on db-1\n",
        "  Source:    db-1\n",
        "  Severity:  critical\n",
        "  Sent by:   Grafana https://grafana.example.com/alerting\n",
        "  Details:\n",
        "    disk.free      3%\n",
        "    cause          look\n                   clean\n",
        "    more.extra_00  0\n",
        "    (7 more on the alert page)\n",
        "  Links:\n    Runbook: https://runbooks.example.com/disk\n",
        "    Image: Disk graph: https://grafana.example.com/render/disk.png\n",
        &format!("  Open the alert: {alert_url}\n"),
    ] {
        assert!(text.contains(part), "missing {part:?} in\n{text}");
    }
    assert!(
        !text.contains("javascript:") && !text.contains("Sneaky"),
        "{text}"
    );
    // The acknowledge link still comes before the details.
    assert!(
        text.find("/ack/").unwrap() < text.find("Alert: ").unwrap(),
        "{text}"
    );

    // The chat and webhook posts.
    let posts = posts.lock().unwrap().clone();
    let body = |kind: &str| {
        posts
            .iter()
            .find(|(k, _)| k == kind)
            .unwrap_or_else(|| panic!("no {kind} post in {posts:?}"))
            .1
            .clone()
    };
    assert_eq!(posts.len(), 3, "{posts:?}");
    let hook = body("webhook");
    assert_eq!(hook["type"], "incident.page");
    let a = &hook["data"]["alerts"][0];
    assert_eq!(hook["data"]["alerts"].as_array().unwrap().len(), 1);
    assert_eq!(hook["data"]["incident"]["alert_count"], 1);
    assert_eq!(a["id"], alert_id.as_str());
    assert_eq!(a["url"], alert_url.as_str());
    assert_eq!(a["summary"], "Disk almost full on db-1");
    assert_eq!(a["source"], "db-1");
    assert_eq!(a["severity"], "critical");
    assert_eq!(a["client"], "Grafana");
    assert_eq!(a["client_url"], "https://grafana.example.com/alerting");
    assert_eq!(a["details"][1], json!({"key": "disk.free", "value": "3%"}));
    assert_eq!(a["details"].as_array().unwrap().len(), 20);
    assert_eq!(a["details_total"], 27);
    assert_eq!(
        a["links"],
        json!([{"href": "https://runbooks.example.com/disk", "text": "Runbook"}])
    );
    assert_eq!(
        a["images"],
        json!([{"src": "https://grafana.example.com/render/disk.png", "href": null, "alt": "Disk graph"}])
    );

    let slack = body("slack");
    assert!(
        slack["text"]
            .as_str()
            .unwrap()
            .starts_with("[HIGH] Incident #1: Disk almost full on db-1"),
        "{slack}"
    );
    let att = &slack["attachments"][0];
    assert_eq!(att["title"], "Disk almost full on db-1");
    assert_eq!(att["title_link"], alert_url.as_str());
    let fields = att["fields"].as_array().unwrap();
    assert!(
        fields.contains(&json!({"title": "disk.free", "value": "3%", "short": true})),
        "{att}"
    );
    assert!(
        fields.contains(&json!({"title": "Links", "short": false,
            "value": "Runbook: https://runbooks.example.com/disk\nImage: Disk graph: https://grafana.example.com/render/disk.png"})),
        "{att}"
    );

    let teams = body("teams");
    assert_eq!(teams["@type"], "MessageCard");
    let section = &teams["sections"][0];
    assert_eq!(section["activityTitle"], "Disk almost full on db-1");
    assert!(
        section["facts"]
            .as_array()
            .unwrap()
            .contains(&json!({"name": "disk.free", "value": "3%"})),
        "{teams}"
    );
    assert_eq!(
        section["potentialAction"][0]["targets"][0]["uri"],
        alert_url.as_str()
    );
    app.stop().await;
}

on_both_backends!(a_page_carries_the_alerts_details_and_links);
