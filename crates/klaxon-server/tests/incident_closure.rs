//! Closing is the reporter's confirmation, even when the reporter only has the viewer role.
use crate::common;

use serde_json::{Value, json};

use common::{Backend, TestApp, expect_error};

async fn a_viewer_reporter_confirms_closure(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let (viewer_id, viewer) = app
        .user_with_token("stakeholder@example.com", "viewer")
        .await;
    let (_, other_viewer) = app.user_with_token("other@example.com", "viewer").await;
    let r = app
        .post(
            "/api/v1/incidents",
            &app.admin.token,
            &json!({"title": "Invoices wrong", "severity": "SEV3", "reporter_id": viewer_id}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let status = |token: &str, to: &str| {
        app.post(
            &format!("/api/v1/incidents/{id}/status"),
            token,
            &json!({"status": to}),
        )
        .send()
    };
    // The page's "Edit details" changes the reporter (here: to nobody, then back).
    let (cookie, csrf) = common::session_for(&app, &app.admin.email, &app.admin.password).await;
    let edit = |reporter: &str| {
        app.http
            .post(format!("{}/incidents/{id}/edit", app.url))
            .header("cookie", &cookie)
            .form(&[
                ("csrf", csrf.as_str()),
                ("title", "Invoices wrong"),
                ("severity", "SEV3"),
                ("urgency", "medium"),
                ("reporter_id", reporter),
            ])
            .send()
    };
    assert_eq!(edit("").await.unwrap().status(), 303);
    let i: Value = app
        .get(&format!("/api/v1/incidents/{id}"), &app.admin.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(i["reporter_id"].is_null(), "{i}");
    assert_eq!(edit(&viewer_id).await.unwrap().status(), 303);

    // A viewer may not move it otherwise.
    assert_eq!(status(&viewer, "mitigated").await.unwrap().status(), 403);
    let r = app
        .post(
            &format!("/api/v1/incidents/{id}/resolve"),
            &app.admin.token,
            &json!({}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Another viewer is not the reporter.
    let r = status(&other_viewer, "closed").await.unwrap();
    expect_error(r, 403, "forbidden", None).await;
    let r = status(&viewer, "closed").await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let i: Value = r.json().await.unwrap();
    assert_eq!(i["status"], "closed");
    app.stop().await;
}

on_both_backends!(a_viewer_reporter_confirms_closure);
