//! Text with U+0000 behaves the same on both backends: PostgreSQL cannot store the byte, so
//! every NUL that arrives in JSON, a form or a query string is stored as U+FFFD, and the request
//! succeeds instead of failing (or asking an alert source to retry for ever) on one backend.
use crate::common;

use common::{Backend, TestApp, session_for};
use serde_json::{Value, json};

on_both_backends!(nul_in_text_is_stored_as_a_replacement_character);

async fn nul_in_text_is_stored_as_a_replacement_character(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let token = app.admin.token.clone();
    let r = app
        .post(
            "/api/v1/services",
            &token,
            &json!({"name": "api\u{0}service"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let service: Value = r.json().await.unwrap();
    assert_eq!(service["name"], "api\u{fffd}service");
    let sid = service["id"].as_str().unwrap();
    let mut keys = Vec::new();
    for kind in ["generic", "events_v2"] {
        let r = app
            .post(
                &format!("/api/v1/services/{sid}/integrations"),
                &token,
                &json!({"name": kind, "kind": kind}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let v: Value = r.json().await.unwrap();
        keys.push(v["key"].as_str().unwrap().to_owned());
    }

    // Alerts: the generic webhook and PagerDuty's Events API, NULs in every kind of text.
    let r = app
        .http
        .post(format!("{}/integrations/{}/generic", app.url, keys[0]))
        .json(&json!({"summary": "a\u{0}b", "dedup_key": "k\u{0}1",
                      "details": {"x\u{0}": "y\u{0}"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    let r = app
        .http
        .post(format!("{}/v2/enqueue", app.url))
        .json(
            &json!({"routing_key": keys[1], "event_action": "trigger", "dedup_key": "k\u{0}2",
                      "payload": {"summary": "c\u{0}d", "source": "s\u{0}", "severity": "error",
                                  "custom_details": {"n": "\u{0}"}}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    let alerts: Value = app
        .get("/api/v1/alerts", &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut summaries: Vec<&str> = alerts["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["summary"].as_str().unwrap())
        .collect();
    summaries.sort();
    assert_eq!(summaries, ["a\u{fffd}b", "c\u{fffd}d"]);

    // An incident's title and a note.
    let r = app
        .post(
            "/api/v1/incidents",
            &token,
            &json!({"title": "t\u{0}", "severity": "SEV3"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let incident: Value = r.json().await.unwrap();
    assert_eq!(incident["title"], "t\u{fffd}");
    let iid = incident["id"].as_str().unwrap();
    let r = app
        .post(
            &format!("/api/v1/incidents/{iid}/notes"),
            &token,
            &json!({"text": "n\u{0}ote"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let note: Value = r.json().await.unwrap();
    assert_eq!(note["data"]["text"], "n\u{fffd}ote", "{note}");

    // A search with a NUL in its query string answers, on both backends.
    let r = app
        .get("/api/v1/incidents?q=t%00", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let found: Value = r.json().await.unwrap();
    assert_eq!(found["items"][0]["id"], iid);

    // A web form.
    let (cookie, csrf) = session_for(&app, &app.admin.email, &app.admin.password).await;
    let r = app
        .http
        .post(format!("{}/services", app.url))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "csrf={csrf}&name=web%00service&urgency_rule=high&grouping=none"
        ))
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_redirection() || r.status() == 200,
        "{}",
        r.status()
    );
    let services: Value = app
        .get("/api/v1/services", &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        services["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "web\u{fffd}service"),
        "{services}"
    );
    app.stop().await;
}
