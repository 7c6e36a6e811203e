//! Related incidents and merging a duplicate, through the API on both backends, and the web
//! page's relate and merge forms.
use crate::common;

use serde_json::{Value, json};

use common::{Backend, TestApp, expect_error};

async fn events_v2_key(app: &TestApp) -> String {
    let r = app
        .post(
            "/api/v1/services",
            &app.admin.token,
            &json!({"name": "API"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let service: Value = r.json().await.unwrap();
    let r = app
        .post(
            &format!(
                "/api/v1/services/{}/integrations",
                service["id"].as_str().unwrap()
            ),
            &app.admin.token,
            &json!({"name": "monitoring", "kind": "events_v2"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let i: Value = r.json().await.unwrap();
    i["key"].as_str().unwrap().to_owned()
}

async fn signal(app: &TestApp, key: &str, action: &str, dedup: &str) {
    let r = app
        .http
        .post(format!("{}/v2/enqueue", app.url))
        .json(&json!({"routing_key": key, "event_action": action, "dedup_key": dedup,
                      "payload": {"summary": format!("{dedup} failing"), "source": "lb", "severity": "error"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
}

async fn get(app: &TestApp, path: &str) -> Value {
    let r = app.get(path, &app.admin.token).send().await.unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.json().await.unwrap()
}

async fn incident_ids(app: &TestApp) -> Vec<String> {
    get(app, "/api/v1/incidents").await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn relate_and_merge(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let admin = app.admin.token.clone();
    let key = events_v2_key(&app).await;
    signal(&app, &key, "trigger", "web").await;
    signal(&app, &key, "trigger", "web-2").await;
    let ids = incident_ids(&app).await; // newest first
    let (dup, target) = (ids[0].clone(), ids[1].clone());

    // Relate both ways, refuse twice and self, unrelate.
    let r = app
        .post(
            &format!("/api/v1/incidents/{target}/related"),
            &admin,
            &json!({"incident_id": dup}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // The answer is the incident related.
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["id"], dup.as_str());
    let related = get(&app, &format!("/api/v1/incidents/{dup}/related")).await;
    assert_eq!(related["items"][0]["id"], target.as_str());
    let r = app
        .post(
            &format!("/api/v1/incidents/{dup}/related"),
            &admin,
            &json!({"incident_id": target}),
        )
        .send()
        .await
        .unwrap();
    expect_error(r, 409, "conflict", Some("incident_id")).await;
    let r = app
        .post(
            &format!("/api/v1/incidents/{dup}/related"),
            &admin,
            &json!({"incident_id": dup}),
        )
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_field", Some("incident_id")).await;
    let r = app
        .post(
            &format!("/api/v1/incidents/{dup}/related"),
            &admin,
            &json!({"incident_id": "x"}),
        )
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_field", Some("incident_id")).await;
    let r = app
        .http
        .delete(format!(
            "{}/api/v1/incidents/{dup}/related/{target}",
            app.url
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(
        get(&app, &format!("/api/v1/incidents/{target}/related")).await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Merge the duplicate: its alert moves, it is resolved and points at the target.
    let r = app
        .post(
            &format!("/api/v1/incidents/{dup}/merge"),
            &admin,
            &json!({"into": target}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let t: Value = r.json().await.unwrap();
    assert_eq!(
        (t["id"].as_str(), t["alert_count"].as_i64()),
        (Some(target.as_str()), Some(2))
    );
    let d = get(&app, &format!("/api/v1/incidents/{dup}")).await;
    assert_eq!(
        (d["status"].as_str(), d["merged_into"].as_str()),
        (Some("resolved"), Some(target.as_str()))
    );
    let alerts = get(&app, &format!("/api/v1/alerts?incident_id={target}")).await;
    assert_eq!(alerts["items"].as_array().unwrap().len(), 2);
    let md = app
        .get(&format!("/api/v1/incidents/{target}/timeline.md"), &admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        md.contains("into this one as a duplicate, with 1 alert"),
        "{md}"
    );
    // Refused: again (resolved), into itself, into an unknown incident.
    let r = app
        .post(
            &format!("/api/v1/incidents/{dup}/merge"),
            &admin,
            &json!({"into": target}),
        )
        .send()
        .await
        .unwrap();
    expect_error(r, 409, "conflict", Some("id")).await;
    let r = app
        .post(
            &format!("/api/v1/incidents/{target}/merge"),
            &admin,
            &json!({"into": target}),
        )
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_field", Some("into")).await;
    let r = app
        .post(
            &format!("/api/v1/incidents/{target}/merge"),
            &admin,
            &json!({"into": "00000000-0000-7000-8000-000000000000"}),
        )
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_field", Some("into")).await;
    // An unknown incident to relate names its field; an unknown incident in the path is 404.
    let r = app
        .post(
            &format!("/api/v1/incidents/{target}/related"),
            &admin,
            &json!({"incident_id": "00000000-0000-7000-8000-000000000000"}),
        )
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_field", Some("incident_id")).await;
    let r = app
        .post(
            "/api/v1/incidents/00000000-0000-7000-8000-000000000000/related",
            &admin,
            &json!({"incident_id": target}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // The moved alert's resolve now counts for the target.
    signal(&app, &key, "resolve", "web").await;
    assert_eq!(
        get(&app, &format!("/api/v1/incidents/{target}")).await["status"],
        "triggered"
    );
    signal(&app, &key, "resolve", "web-2").await;
    assert_eq!(
        get(&app, &format!("/api/v1/incidents/{target}")).await["status"],
        "resolved"
    );

    // The web page: the duplicate says where it went.
    let html = common::web_get(&app, &format!("/incidents/{dup}")).await;
    assert!(html.contains("id=\"merged-into\""), "{html}");
    app.stop().await;
}

on_both_backends!(relate_and_merge);
