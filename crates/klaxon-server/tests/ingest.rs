//! Scenario tests of alert ingestion: PagerDuty Events v2, Alertmanager, the generic webhook
//! and heartbeats, with payloads shaped like the real tools'.
use crate::common;

use common::{Backend, TestApp, expect_error};
use jiff::SignedDuration;
use serde_json::{Value, json};

on_both_backends!(
    events_v2_trigger_deduplicate_acknowledge_resolve,
    events_v2_bad_input_is_refused_like_pagerduty,
    alertmanager_webhooks_are_idempotent_upserts,
    generic_webhook_and_its_errors,
    identical_concurrent_triggers_make_one_alert,
    time_and_content_grouping,
    maintenance_windows_record_but_open_nothing,
    heartbeats_open_and_resolve_with_the_fake_clock,
    rate_limits_answer_429_with_retry_after,
    change_events_land_on_the_service_timeline,
    services_and_integrations_are_managed,
    ingest_routes_refuse_other_methods_and_large_bodies_in_json,
);

/// A service with one integration of `kind`; returns (service id, integration key).
async fn service_with(app: &TestApp, name: &str, kind: &str, extra: Value) -> (String, String) {
    let mut body = json!({"name": name});
    if let Value::Object(m) = &extra {
        for (k, v) in m {
            if k != "integration" {
                body[k] = v.clone();
            }
        }
    }
    let r = app
        .post("/api/v1/services", &app.admin.token, &body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let service: Value = r.json().await.unwrap();
    let id = service["id"].as_str().unwrap().to_owned();
    let mut ibody = json!({"name": format!("{name} {kind}"), "kind": kind});
    if let Some(Value::Object(m)) = extra.get("integration") {
        for (k, v) in m {
            ibody[k] = v.clone();
        }
    }
    let r = app
        .post(
            &format!("/api/v1/services/{id}/integrations"),
            &app.admin.token,
            &ibody,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let integration: Value = r.json().await.unwrap();
    let key = integration["key"].as_str().unwrap().to_owned();
    assert_eq!(key.len(), 32);
    (id, key)
}

async fn raw_post(app: &TestApp, path: &str, body: &Value) -> reqwest::Response {
    app.http
        .post(format!("{}{path}", app.url))
        .json(body)
        .send()
        .await
        .unwrap()
}

fn pd_trigger(key: &str, dedup: Option<&str>, summary: &str) -> Value {
    let mut e = json!({
        "routing_key": key,
        "event_action": "trigger",
        "payload": {
            "summary": summary,
            "source": "monitoringtool:cloudvendor:central-region-dc-01:852559987:cluster/api-stats-prod-003",
            "severity": "critical",
            "timestamp": "2015-07-17T08:42:58.315+0000",
            "component": "postgres",
            "group": "prod-datapipe",
            "class": "deploy",
            "custom_details": {"ping time": "1500ms", "load avg": 0.75}
        },
        "client": "Sample Monitoring Service",
        "client_url": "https://monitoring.example.com",
        "links": [{"href": "http://acme.pagerduty.com", "text": "An example link."}],
        "images": [{"src": "https://www.pagerduty.com/wp-content/uploads/2016/05/pagerduty-logo-green.png",
                    "href": "https://example.com/", "alt": "Example text"}]
    });
    if let Some(d) = dedup {
        e["dedup_key"] = json!(d);
    }
    e
}

async fn alerts(app: &TestApp, query: &str) -> Vec<Value> {
    let v: Value = app
        .get(
            &format!("/api/v1/alerts?limit=500{query}"),
            &app.admin.token,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["items"].as_array().unwrap().clone()
}

async fn incidents(app: &TestApp, query: &str) -> Vec<Value> {
    let v: Value = app
        .get(
            &format!("/api/v1/incidents?limit=500{query}"),
            &app.admin.token,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["items"].as_array().unwrap().clone()
}

async fn events_v2_trigger_deduplicate_acknowledge_resolve(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let (service, key) = service_with(&app, "API", "events_v2", json!({})).await;

    let r = raw_post(
        &app,
        "/v2/enqueue",
        &pd_trigger(&key, Some("srv01/HTTP"), "Ping failed"),
    )
    .await;
    assert_eq!(r.status(), 202);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"status": "success", "message": "Event processed", "dedup_key": "srv01/HTTP"})
    );
    let list = alerts(&app, "").await;
    assert_eq!(list.len(), 1);
    let alert = &list[0];
    assert_eq!(alert["status"], "triggered");
    assert_eq!(alert["severity"], "critical");
    assert_eq!(alert["service_id"], service.as_str());
    assert_eq!(alert["content"]["component"], "postgres");
    assert_eq!(alert["content"]["custom_details"], Value::Null);
    assert_eq!(alert["content"]["details"]["ping time"], "1500ms");
    assert_eq!(alert["content"]["timestamp"], "2015-07-17T08:42:58.315Z");
    assert_eq!(alert["content"]["links"][0]["text"], "An example link.");
    assert_eq!(alert["content"]["images"][0]["alt"], "Example text");
    let incident_id = alert["incident_id"].as_str().unwrap().to_owned();

    // The same key again: the alert counts it and takes the newest content; no new incident.
    app.clock.advance(SignedDuration::from_secs(30));
    let r = raw_post(
        &app,
        "/v2/enqueue",
        &pd_trigger(&key, Some("srv01/HTTP"), "Ping failed again"),
    )
    .await;
    assert_eq!(r.status(), 202);
    let list = alerts(&app, "").await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["count"], 2);
    assert_eq!(list[0]["summary"], "Ping failed again");
    assert_eq!(list[0]["last_seen_at"], "2026-11-21T09:00:30Z");
    assert_eq!(incidents(&app, "").await.len(), 1);

    // A trigger without a dedup key gets one, returned in the answer.
    let r = raw_post(&app, "/v2/enqueue", &pd_trigger(&key, None, "Disk full")).await;
    assert_eq!(r.status(), 202);
    let generated = r.json::<Value>().await.unwrap()["dedup_key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(generated.len(), 32);
    assert_eq!(alerts(&app, "").await.len(), 2);

    // Acknowledge and resolve for unknown keys: accepted, ignored.
    for action in ["acknowledge", "resolve"] {
        let r = raw_post(
            &app,
            "/v2/enqueue",
            &json!({"routing_key": key, "event_action": action, "dedup_key": "nope"}),
        )
        .await;
        assert_eq!(r.status(), 202);
    }
    assert_eq!(alerts(&app, "").await.len(), 2);

    // Acknowledge: the alert and its incident.
    let r = raw_post(
        &app,
        "/v2/enqueue",
        &json!({"routing_key": key, "event_action": "acknowledge", "dedup_key": "srv01/HTTP"}),
    )
    .await;
    assert_eq!(r.status(), 202);
    let incident: Value = app
        .get(
            &format!("/api/v1/incidents/{incident_id}"),
            &app.admin.token,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(incident["status"], "acknowledged");
    assert_eq!(incident["number"], 1);
    assert_eq!(incident["urgency"], "high");

    // Resolve: the alert, and the incident now that all its alerts are resolved.
    let r = raw_post(
        &app,
        "/v2/enqueue",
        &json!({"routing_key": key, "event_action": "resolve", "dedup_key": "srv01/HTTP"}),
    )
    .await;
    assert_eq!(r.status(), 202);
    let incident: Value = app
        .get(
            &format!("/api/v1/incidents/{incident_id}"),
            &app.admin.token,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(incident["status"], "resolved");
    let timeline: Value = app
        .get(
            &format!("/api/v1/incidents/{incident_id}/timeline"),
            &app.admin.token,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(timeline["next_cursor"], Value::Null);
    // Timelines page like every list.
    let first: Value = app
        .get(
            &format!("/api/v1/incidents/{incident_id}/timeline?limit=3"),
            &app.admin.token,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first["items"].as_array().unwrap().len(), 3);
    let rest: Value = app
        .get(
            &format!(
                "/api/v1/incidents/{incident_id}/timeline?cursor={}",
                first["next_cursor"].as_str().unwrap()
            ),
            &app.admin.token,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rest["items"][0]["kind"], "incident.resolved");
    let kinds: Vec<&str> = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "incident.triggered",
            "incident.alert_added",
            "incident.acknowledged",
            "incident.resolved"
        ]
    );

    // After resolve, the same key opens a new alert and a new incident.
    let r = raw_post(
        &app,
        "/v2/enqueue",
        &pd_trigger(&key, Some("srv01/HTTP"), "Ping failed"),
    )
    .await;
    assert_eq!(r.status(), 202);
    let open = alerts(&app, "&status=triggered").await;
    assert_eq!(open.len(), 2);
    assert_eq!(incidents(&app, "").await.len(), 3);

    // Follow-ups apply only within the same service: another service's key cannot resolve it.
    let (_, other_key) = service_with(&app, "Other", "events_v2", json!({})).await;
    let r = raw_post(
        &app,
        "/v2/enqueue",
        &json!({"routing_key": other_key, "event_action": "resolve", "dedup_key": "srv01/HTTP"}),
    )
    .await;
    assert_eq!(r.status(), 202);
    assert_eq!(alerts(&app, "&status=triggered").await.len(), 2);
    app.stop().await;
}

async fn events_v2_bad_input_is_refused_like_pagerduty(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let (_, key) = service_with(&app, "API", "events_v2", json!({})).await;

    let r = raw_post(
        &app,
        "/v2/enqueue",
        &pd_trigger("0123456789abcdef0123456789abcdef", None, "x"),
    )
    .await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"status": "invalid event", "message": "Event object is invalid", "errors": ["Invalid routing key"]})
    );

    let r = app
        .http
        .post(format!("{}/v2/enqueue", app.url))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"status": "Unrecognized object", "message": "Event object format is unrecognized", "errors": ["JSON parse error"]})
    );

    let mut bad = pd_trigger(&key, None, "x");
    bad["payload"]["severity"] = json!("fatal");
    bad["payload"].as_object_mut().unwrap().remove("summary");
    let r = raw_post(&app, "/v2/enqueue", &bad).await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    let errors = body["errors"].as_array().unwrap();
    assert!(
        errors
            .iter()
            .any(|e| e.as_str().unwrap().starts_with("'payload.summary'")),
        "{body}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.as_str().unwrap().starts_with("'payload.severity'")),
        "{body}"
    );

    let r = raw_post(
        &app,
        "/v2/enqueue",
        &json!({"routing_key": key, "event_action": "resolve"}),
    )
    .await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["errors"][0],
        "'dedup_key' is missing or blank"
    );

    let r = raw_post(
        &app,
        "/v2/enqueue",
        &json!({"routing_key": key, "event_action": "snooze", "dedup_key": "a"}),
    )
    .await;
    assert_eq!(r.status(), 400);

    // Over 512 KB: refused, nothing written.
    let mut big = pd_trigger(&key, None, "big");
    big["payload"]["custom_details"] = json!({"blob": "x".repeat(600 * 1024)});
    let r = raw_post(&app, "/v2/enqueue", &big).await;
    assert_eq!(r.status(), 413);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "invalid event");

    // A long summary is cut to 1024 characters, as PagerDuty does.
    let long = "é".repeat(1500);
    let r = raw_post(&app, "/v2/enqueue", &pd_trigger(&key, Some("long"), &long)).await;
    assert_eq!(r.status(), 202);
    let list = alerts(&app, "").await;
    assert_eq!(list.len(), 1, "only the valid event was written");
    assert_eq!(list[0]["summary"].as_str().unwrap().chars().count(), 1024);
    app.stop().await;
}

fn am_payload(status: &str, alerts: &[Value]) -> Value {
    json!({
        "version": "4",
        "groupKey": "{}/{severity=\"critical\"}:{alertname=\"ProbeFailure\"}",
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "klaxon",
        "groupLabels": {"alertname": "ProbeFailure"},
        "commonLabels": {"alertname": "ProbeFailure", "severity": "critical"},
        "commonAnnotations": {},
        "externalURL": "http://am:9093",
        "alerts": alerts
    })
}

fn am_alert(status: &str, instance: &str, fingerprint: &str) -> Value {
    json!({
        "status": status,
        "labels": {"alertname": "ProbeFailure", "instance": instance, "job": "blackbox", "severity": "critical"},
        "annotations": {"summary": "Probe failed"},
        "startsAt": "2026-11-21T08:59:00Z",
        "endsAt": if status == "firing" { "0001-01-01T00:00:00Z" } else { "2026-11-21T09:05:00Z" },
        "generatorURL": "http://prometheus:9090/graph?g0.expr=probe_success+%3D%3D+0",
        "fingerprint": fingerprint
    })
}

async fn alertmanager_webhooks_are_idempotent_upserts(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let (_, key) = service_with(&app, "Web", "alertmanager", json!({})).await;
    let path = format!("/integrations/{key}/alertmanager");
    let firing = am_payload(
        "firing",
        &[
            am_alert("firing", "web1:443", "1a30ba71cca2921f"),
            am_alert("firing", "web2:443", "2b41cb82ddb3a32a"),
        ],
    );
    let r = raw_post(&app, &path, &firing).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["results"][0]["step"], "open");
    // Both alerts share a summary: they must still be two alerts (dedup on fingerprint).
    let list = alerts(&app, "").await;
    assert_eq!(list.len(), 2);
    assert!(list.iter().all(|a| a["summary"] == "Probe failed"));
    assert_eq!(list[0]["content"]["details"]["labels"]["job"], "blackbox");
    assert_eq!(incidents(&app, "").await.len(), 2);

    // Alertmanager repeats the group (repeat_interval, or a retry after a lost answer).
    for _ in 0..3 {
        let r = raw_post(&app, &path, &firing).await;
        assert_eq!(r.status(), 200);
    }
    let list = alerts(&app, "").await;
    assert_eq!(list.len(), 2);
    assert!(list.iter().all(|a| a["count"] == 4));
    assert_eq!(incidents(&app, "").await.len(), 2);

    // One resolves; the group is still firing.
    let r = raw_post(
        &app,
        &path,
        &am_payload(
            "firing",
            &[
                am_alert("resolved", "web1:443", "1a30ba71cca2921f"),
                am_alert("firing", "web2:443", "2b41cb82ddb3a32a"),
            ],
        ),
    )
    .await;
    assert_eq!(r.status(), 200);
    let open = alerts(&app, "&status=triggered").await;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["dedup_key"], "2b41cb82ddb3a32a");
    assert_eq!(incidents(&app, "&status=resolved").await.len(), 1);

    // Unknown key, or a key of another kind: 404 in the API's error shape.
    let r = raw_post(
        &app,
        "/integrations/00000000000000000000000000000000/alertmanager",
        &firing,
    )
    .await;
    expect_error(r, 404, "not_found", None).await;
    let (_, pd_key) = service_with(&app, "PD", "events_v2", json!({})).await;
    let r = raw_post(
        &app,
        &format!("/integrations/{pd_key}/alertmanager"),
        &firing,
    )
    .await;
    expect_error(r, 404, "not_found", None).await;
    // A payload without alerts: 400 naming the field.
    let r = raw_post(&app, &path, &json!({"version": "4"})).await;
    expect_error(r, 400, "invalid_field", Some("alerts")).await;
    let r = raw_post(
        &app,
        &path,
        &am_payload("firing", &[json!({"status": "pending", "labels": {}})]),
    )
    .await;
    expect_error(r, 400, "invalid_field", Some("alerts[0].status")).await;
    // Not what Alertmanager sends: a label that is not text, a start that is not a time.
    let mut numeric = am_alert("firing", "web3:443", "3c52dc93eec4b43b");
    numeric["labels"]["port"] = json!(443);
    let r = raw_post(&app, &path, &am_payload("firing", &[numeric])).await;
    expect_error(r, 400, "invalid_field", Some("alerts[0].labels.port")).await;
    for starts in [json!("yesterday"), json!(1733480000), json!("éééé")] {
        let mut bad = am_alert("firing", "web3:443", "3c52dc93eec4b43b");
        bad["startsAt"] = starts;
        let r = raw_post(&app, &path, &am_payload("firing", &[bad])).await;
        expect_error(r, 400, "invalid_field", Some("alerts[0].startsAt")).await;
    }
    assert_eq!(alerts(&app, "").await.len(), 2);
    app.stop().await;
}

async fn generic_webhook_and_its_errors(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let (_, key) = service_with(&app, "Batch", "generic", json!({})).await;
    let path = format!("/integrations/{key}/generic");
    let r = raw_post(
        &app,
        &path,
        &json!({"summary": "Nightly backup failed", "severity": "warning",
        "dedup_key": "backup", "source": "cron01", "details": {"exit": 2},
        "links": [{"href": "https://ci.example/job/1", "text": "log"}]}),
    )
    .await;
    assert_eq!(r.status(), 202);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["results"][0]["step"], "open");
    let incident = body["results"][0]["incident_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let inc: Value = app
        .get(&format!("/api/v1/incidents/{incident}"), &app.admin.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        inc["urgency"], "low",
        "warning maps to low urgency by default"
    );

    let r = raw_post(
        &app,
        &path,
        &json!({"action": "resolve", "dedup_key": "backup"}),
    )
    .await;
    assert_eq!(r.status(), 202);
    assert_eq!(
        r.json::<Value>().await.unwrap()["results"][0]["step"],
        "resolve"
    );

    let r = raw_post(&app, &path, &json!({"severity": "warning"})).await;
    expect_error(r, 400, "invalid_field", Some("summary")).await;
    let r = raw_post(&app, &path, &json!({"summary": "x", "severity": "fatal"})).await;
    expect_error(r, 400, "invalid_field", Some("severity")).await;
    let r = raw_post(&app, &path, &json!({"action": "resolve"})).await;
    expect_error(r, 400, "invalid_field", Some("dedup_key")).await;
    let r = raw_post(&app, "/integrations/nope/generic", &json!({"summary": "x"})).await;
    expect_error(r, 404, "not_found", None).await;
    assert_eq!(alerts(&app, "").await.len(), 1);
    app.stop().await;
}

async fn identical_concurrent_triggers_make_one_alert(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let (_, key) = service_with(&app, "Hot", "events_v2", json!({})).await;
    let event = pd_trigger(&key, Some("same"), "Everything is on fire");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let http = app.http.clone();
        let url = format!("{}/v2/enqueue", app.url);
        let event = event.clone();
        tasks.spawn(async move { http.post(url).json(&event).send().await.unwrap().status() });
    }
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.unwrap(), 202);
    }
    let list = alerts(&app, "").await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["count"], 100);
    assert_eq!(incidents(&app, "").await.len(), 1);
    app.stop().await;
}

async fn time_and_content_grouping(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let (_, key) = service_with(
        &app,
        "Timed",
        "events_v2",
        json!({"grouping": {"type": "time", "window_minutes": 10}}),
    )
    .await;
    for (i, minutes) in [0, 5, 9].into_iter().enumerate() {
        app.clock.set(
            "2026-11-21T09:00:00Z".parse::<jiff::Timestamp>().unwrap()
                + SignedDuration::from_mins(minutes),
        );
        let r = raw_post(
            &app,
            "/v2/enqueue",
            &pd_trigger(&key, Some(&format!("t{i}")), "Slow"),
        )
        .await;
        assert_eq!(r.status(), 202);
    }
    let inc = incidents(&app, "").await;
    assert_eq!(
        inc.len(),
        1,
        "three alerts within 10 minutes share an incident"
    );
    assert_eq!(inc[0]["alert_count"], 3);
    app.clock.advance(SignedDuration::from_mins(2)); // 11 minutes after the incident opened
    raw_post(&app, "/v2/enqueue", &pd_trigger(&key, Some("t3"), "Slow")).await;
    assert_eq!(incidents(&app, "").await.len(), 2);

    let (_, key) = service_with(
        &app,
        "Content",
        "events_v2",
        json!({"grouping": {"type": "content", "fields": ["component", "details.region"],
                            "aggregate": "all", "window_minutes": 0}}),
    )
    .await;
    let send = |dedup: &str, component: &str, region: &str| {
        let mut e = pd_trigger(&key, Some(dedup), "Errors");
        e["payload"]["component"] = json!(component);
        e["payload"]["custom_details"] = json!({"region": region});
        e
    };
    for (d, c, r) in [
        ("a", "db", "eu"),
        ("b", "db", "eu"),
        ("c", "db", "us"),
        ("d", "web", "eu"),
    ] {
        assert_eq!(
            raw_post(&app, "/v2/enqueue", &send(d, c, r)).await.status(),
            202
        );
    }
    let list = alerts(&app, "").await;
    let incident_of =
        |k: &str| list.iter().find(|a| a["dedup_key"] == k).unwrap()["incident_id"].clone();
    assert_eq!(incident_of("a"), incident_of("b"));
    assert_ne!(incident_of("a"), incident_of("c"));
    assert_ne!(incident_of("a"), incident_of("d"));
    assert_ne!(incident_of("c"), incident_of("d"));
    app.stop().await;
}

async fn maintenance_windows_record_but_open_nothing(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let (service, key) = service_with(&app, "Db", "events_v2", json!({})).await;
    let (_, responder) = app.user_with_token("r@example.com", "responder").await;
    let r = app
        .post(
            &format!("/api/v1/services/{service}/maintenance-windows"),
            &responder,
            &json!({"ends_at": "2026-11-21T10:00:00Z", "description": "upgrade"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let window: Value = r.json().await.unwrap();
    let r = raw_post(
        &app,
        "/v2/enqueue",
        &pd_trigger(&key, Some("m1"), "Restarting"),
    )
    .await;
    assert_eq!(r.status(), 202);
    let list = alerts(&app, "").await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["in_maintenance"], true);
    assert_eq!(list[0]["incident_id"], Value::Null);
    assert!(incidents(&app, "").await.is_empty());

    // Bad windows are refused.
    let r = app
        .post(
            &format!("/api/v1/services/{service}/maintenance-windows"),
            &responder,
            &json!({"starts_at": "2026-11-21T12:00:00Z", "ends_at": "2026-11-21T11:00:00Z"}),
        )
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_field", Some("ends_at")).await;

    // After the window ends (or is cancelled), alerts open incidents again.
    let r = app
        .http
        .delete(format!(
            "{}/api/v1/services/{service}/maintenance-windows/{}",
            app.url,
            window["id"].as_str().unwrap()
        ))
        .bearer_auth(&responder)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    raw_post(&app, "/v2/enqueue", &pd_trigger(&key, Some("m2"), "Down")).await;
    assert_eq!(incidents(&app, "").await.len(), 1);
    app.stop().await;
}

async fn heartbeats_open_and_resolve_with_the_fake_clock(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let (_, key) = service_with(
        &app,
        "Cron",
        "heartbeat",
        json!({"integration": {"heartbeat_interval_secs": 300}}),
    )
    .await;
    let ping = |app: &TestApp| {
        let url = format!("{}/integrations/{key}/heartbeat", app.url);
        let http = app.http.clone();
        async move { http.post(url).send().await.unwrap().status() }
    };
    assert_eq!(ping(&app).await, 200);
    app.clock.advance(SignedDuration::from_secs(299));
    app.state.engine.tick().await.unwrap();
    assert!(alerts(&app, "").await.is_empty(), "still in time");

    // A ping in time pushes the deadline.
    assert_eq!(ping(&app).await, 200);
    app.clock.advance(SignedDuration::from_secs(200));
    app.state.engine.tick().await.unwrap();
    assert!(alerts(&app, "").await.is_empty());

    app.clock.advance(SignedDuration::from_secs(101));
    let report = app.state.engine.tick().await.unwrap();
    assert_eq!(report.completed, ["heartbeat.check"]);
    let list = alerts(&app, "").await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["status"], "triggered");
    assert!(list[0]["summary"].as_str().unwrap().contains("5 min"));
    // Nothing more happens while it stays silent: one alert, no duplicate.
    app.clock.advance(SignedDuration::from_secs(3600));
    app.state.engine.tick().await.unwrap();
    assert_eq!(alerts(&app, "").await.len(), 1);

    // The next ping resolves it.
    assert_eq!(ping(&app).await, 200);
    let list = alerts(&app, "").await;
    assert_eq!(list[0]["status"], "resolved");
    assert_eq!(incidents(&app, "&status=resolved").await.len(), 1);
    app.stop().await;
}

async fn rate_limits_answer_429_with_retry_after(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let (_, key) = service_with(
        &app,
        "Noisy",
        "events_v2",
        json!({"integration": {"rate_limit_per_minute": 5}}),
    )
    .await;
    for i in 0..5 {
        let r = raw_post(
            &app,
            "/v2/enqueue",
            &pd_trigger(&key, Some(&format!("k{i}")), "x"),
        )
        .await;
        assert_eq!(r.status(), 202);
    }
    let r = raw_post(&app, "/v2/enqueue", &pd_trigger(&key, Some("k5"), "x")).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "60");
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "throttle event");
    assert_eq!(
        alerts(&app, "").await.len(),
        5,
        "the refused event was not stored"
    );
    app.clock.advance(SignedDuration::from_mins(2));
    let r = raw_post(&app, "/v2/enqueue", &pd_trigger(&key, Some("k5"), "x")).await;
    assert_eq!(r.status(), 202);
    app.stop().await;
}

async fn change_events_land_on_the_service_timeline(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let (service, key) = service_with(&app, "Deploys", "events_v2", json!({})).await;
    let r = raw_post(
        &app,
        "/v2/change/enqueue",
        &json!({
            "routing_key": key,
            "payload": {"summary": "Build 42 deployed", "timestamp": "2026-11-21T08:59:00Z",
                        "source": "ci", "custom_details": {"sha": "abc123"}},
            "links": [{"href": "https://ci.example/42", "text": "build"}]
        }),
    )
    .await;
    assert_eq!(r.status(), 202);
    assert_eq!(
        r.json::<Value>().await.unwrap()["message"],
        "Change event processed"
    );
    // Anyone who can read sees it on the service's timeline (the audit log is for admins).
    let (_, viewer) = app.user_with_token("v@example.com", "viewer").await;
    let events: Value = app
        .get(&format!("/api/v1/services/{service}/timeline"), &viewer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let change = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "service.change")
        .expect("a change event");
    assert_eq!(change["data"]["summary"], "Build 42 deployed");
    assert_eq!(change["data"]["custom_details"]["sha"], "abc123");
    assert!(alerts(&app, "").await.is_empty() && incidents(&app, "").await.is_empty());
    let r = raw_post(
        &app,
        "/v2/change/enqueue",
        &json!({"routing_key": key, "payload": {}}),
    )
    .await;
    assert_eq!(r.status(), 400);
    app.stop().await;
}

async fn services_and_integrations_are_managed(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let admin = &app.admin.token;
    let (_, viewer) = app.user_with_token("v@example.com", "viewer").await;
    let r = app
        .post("/api/v1/services", &viewer, &json!({"name": "X"}))
        .send()
        .await
        .unwrap();
    expect_error(r, 403, "forbidden", None).await;
    for (body, field) in [
        (json!({"name": " "}), "name"),
        (
            json!({"name": "A", "urgency_rule": "urgent"}),
            "urgency_rule",
        ),
        (
            json!({"name": "A", "grouping": {"type": "time"}}),
            "grouping.window_minutes",
        ),
        (
            json!({"name": "A", "grouping": {"type": "content", "fields": [], "aggregate": "all", "window_minutes": 5}}),
            "grouping.fields",
        ),
        (json!({"name": "A", "colour": "red"}), "colour"),
    ] {
        let r = app
            .post("/api/v1/services", admin, &body)
            .send()
            .await
            .unwrap();
        let e = expect_error(r, 400, "invalid_field", Some(field)).await;
        assert!(e["message"].as_str().unwrap().contains(field), "{e}");
    }
    let (service, key) = service_with(
        &app,
        "Payments",
        "events_v2",
        json!({"description": "card processing"}),
    )
    .await;
    let r = app
        .post("/api/v1/services", admin, &json!({"name": "Payments"}))
        .send()
        .await
        .unwrap();
    expect_error(r, 409, "conflict", Some("name")).await;

    let r = app
        .http
        .patch(format!("{}/api/v1/services/{service}", app.url))
        .bearer_auth(admin)
        .json(&json!({"urgency_rule": "low", "auto_resolve": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let s: Value = r.json().await.unwrap();
    assert_eq!(
        (s["urgency_rule"].as_str(), s["auto_resolve"].as_bool()),
        (Some("low"), Some(false))
    );
    assert_eq!(s["description"], "card processing");

    // Heartbeat settings belong to heartbeat monitors only.
    let r = app
        .post(
            &format!("/api/v1/services/{service}/integrations"),
            admin,
            &json!({"name": "hb", "kind": "heartbeat"}),
        )
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_field", Some("heartbeat_interval_secs")).await;
    let r = app
        .post(
            &format!("/api/v1/services/{service}/integrations"),
            admin,
            &json!({"name": "x", "kind": "email"}),
        )
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_field", Some("kind")).await;

    // Rotating the key: the old one stops working at once.
    let list: Value = app
        .get(&format!("/api/v1/services/{service}/integrations"), admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let integration = list["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(list["items"][0]["key_prefix"], &key[..6]);
    assert!(
        list["items"][0].get("key").is_none(),
        "the key is shown only once"
    );
    // Used just before: the server now holds the key in its cache, which rotation must clear.
    assert_eq!(
        raw_post(&app, "/v2/enqueue", &pd_trigger(&key, Some("warm"), "x"))
            .await
            .status(),
        202
    );
    raw_post(
        &app,
        "/v2/enqueue",
        &json!({"routing_key": key, "event_action": "resolve", "dedup_key": "warm"}),
    )
    .await;
    let r = app
        .http
        .post(format!(
            "{}/api/v1/integrations/{integration}/rotate-key",
            app.url
        ))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let new_key = r.json::<Value>().await.unwrap()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_key, key);
    assert_eq!(
        raw_post(&app, "/v2/enqueue", &pd_trigger(&key, None, "x"))
            .await
            .status(),
        400
    );
    assert_eq!(
        raw_post(
            &app,
            "/v2/enqueue",
            &pd_trigger(&new_key, Some("open"), "x")
        )
        .await
        .status(),
        202
    );

    // A service with an open alert cannot be deleted; once resolved it can, and its incident stays.
    let del = |id: &str| {
        app.http
            .delete(format!("{}/api/v1/services/{id}", app.url))
            .bearer_auth(admin)
            .send()
    };
    expect_error(del(&service).await.unwrap(), 409, "conflict", None).await;
    raw_post(
        &app,
        "/v2/enqueue",
        &json!({"routing_key": new_key, "event_action": "resolve", "dedup_key": "open"}),
    )
    .await;
    assert_eq!(del(&service).await.unwrap().status(), 204);
    assert_eq!(del(&service).await.unwrap().status(), 404);
    let inc = incidents(&app, "").await;
    assert_eq!(inc.len(), 2, "the incidents of 'warm' and 'open' stay");
    assert!(inc.iter().all(|i| i["service_id"] == Value::Null));
    assert_eq!(
        raw_post(&app, "/v2/enqueue", &pd_trigger(&new_key, None, "x"))
            .await
            .status(),
        400
    );
    app.stop().await;
}

/// A method an ingest route does not take gets the API's JSON error with `Allow`, not an empty
/// body; a body over the ingest limit is told that limit.
async fn ingest_routes_refuse_other_methods_and_large_bodies_in_json(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let (_, key) = service_with(&app, "Methods", "generic", json!({})).await;
    for path in [
        "/v2/enqueue".to_owned(),
        "/v2/change/enqueue".to_owned(),
        format!("/integrations/{key}/generic"),
        format!("/integrations/{key}/alertmanager"),
    ] {
        let r = app
            .http
            .get(format!("{}{path}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["allow"], "POST", "{path}");
        expect_error(r, 405, "method_not_allowed", None).await;
    }
    // Their body limit is their own, and the answer says which it is.
    let big = json!({"summary": "x".repeat(600 * 1024)});
    let r = raw_post(&app, &format!("/integrations/{key}/generic"), &big).await;
    let error = expect_error(r, 413, "payload_too_large", None).await;
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("512 KiB"), "{message}");
    assert!(!message.contains("body_limit_bytes"), "{message}");
    app.stop().await;
}
