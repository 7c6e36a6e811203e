//! Requests users set up (contact methods, outgoing webhooks) go only where they may: not to
//! loopback, private, link-local or metadata addresses unless an admin allows them, and a
//! failure names the destination by scheme and host, never the secret rest of its URL.
use crate::common;
use crate::incident_steps;

use klaxon_domain::contact::ContactKind;
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{ContactMethodId, UserId};
use klaxon_store::ContactMethod;
use serde_json::{Value, json};

use common::{Backend, TestApp, member, ok, refused, session_for, web_get_as};
use incident_steps::*;

on_both_backends!(
    users_cannot_point_requests_inside,
    secret_urls_stay_out_of_errors,
);

/// A loopback port nobody listens on.
async fn closed_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

async fn users_cannot_point_requests_inside(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, |s| s.outgoing.allow.clear()).await else {
        return;
    };
    let val = member(&app, "val@example.com", "Val", "viewer").await;
    let methods = format!("/api/v1/users/{}/contact-methods", val.id);
    for (kind, address) in [
        ("webhook", "http://127.0.0.1:8080/hook"),
        ("webhook", "http://[::1]/hook"),
        ("slack", "http://2130706433/"),
        ("slack", "http://0x7f000001/"),
        ("teams", "http://127.1/"),
        ("mattermost", "http://localhost:9000/"),
        ("webhook", "http://169.254.169.254/latest/meta-data/"),
        ("webhook", "http://10.1.2.3/"),
        ("webhook", "http://[fd00:ec2::254]/"),
    ] {
        let e = refused(
            app.post(
                &methods,
                &val.token,
                &json!({"kind": kind, "label": "probe", "address": address,
                        "password": common::PASSWORD}),
            ),
            400,
            "invalid_field",
            Some("address"),
        )
        .await;
        assert!(
            e["message"].as_str().unwrap().contains("outgoing.allow"),
            "{address}: {e}"
        );
    }
    let listed = ok(app.get(&methods, &val.token), 200).await;
    assert_eq!(listed["items"], json!([]), "nothing half-made");

    // Admins' outgoing webhooks too.
    refused(
        app.post(
            "/api/v1/webhooks",
            &app.admin.token,
            &json!({"name": "metadata", "url": "http://169.254.169.254/computeMetadata/v1/",
                    "events": ["incident."]}),
        ),
        400,
        "invalid_field",
        Some("url"),
    )
    .await;

    // A method stored before the rule (or while its network was allowed) is not sent to: its
    // test fails for good, and the viewer is not told how.
    let receiver = Receiver::spawn().await;
    let now = now(&app);
    let user: UserId = val.id.parse().unwrap();
    let method = ContactMethod {
        id: ContactMethodId::new(now, [7; 10]),
        user_id: user,
        kind: ContactKind::Slack,
        label: "old".into(),
        address: receiver.url.clone(),
        secret: None,
        created_at: now,
    };
    let event = NewEvent::new(
        SubjectType::User,
        user,
        now,
        Actor::System,
        EventKind::ContactMethodAdded,
        json!({}),
    );
    let method = app
        .state
        .store
        .create_contact_method(method, event, Vec::new())
        .await
        .unwrap()
        .0;
    let n = ok(
        app.post(
            &format!("/api/v1/contact-methods/{}/test", method.id),
            &val.token,
            &json!({}),
        ),
        202,
    )
    .await;
    tick(&app).await;
    tick(&app).await;
    assert!(receiver.bodies().is_empty(), "nothing reached loopback");
    let stored = app
        .state
        .store
        .list_notifications(None, Some(user), None, 10)
        .await
        .unwrap();
    let stored = stored.iter().find(|x| x.id.to_string() == n["id"]).unwrap();
    assert_eq!(stored.status.as_str(), "failed", "never retried");
    let error = stored.last_error.clone().unwrap();
    assert!(
        error.starts_with("not sent: 127.0.0.1 is a loopback address"),
        "{error}"
    );
    let (cookie, _) = session_for(&app, "val@example.com", common::PASSWORD).await;
    let profile = web_get_as(&app, "/profile", &cookie).await;
    assert!(profile.contains("the test did not go through"), "{profile}");
    assert!(!profile.contains("loopback"), "a viewer is not told how");
    app.stop().await;
}

async fn secret_urls_stay_out_of_errors(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let port = closed_port().await;
    let secret_url = format!("http://127.0.0.1:{port}/services/T0/B0/s3cr3t-path");
    let method = ok(
        app.post(
            &format!("/api/v1/users/{}/contact-methods", ada.id),
            &ada.token,
            &json!({"kind": "slack", "label": "chat", "address": secret_url,
                    "password": common::PASSWORD}),
        ),
        201,
    )
    .await;
    ok(
        app.post(
            &format!("/api/v1/users/{}/notification-rules", ada.id),
            &ada.token,
            &json!({"contact_method_id": method["id"], "delay_minutes": 0}),
        ),
        201,
    )
    .await;
    let hook = ok(
        app.post(
            "/api/v1/webhooks",
            &app.admin.token,
            &json!({"name": "audit", "url": format!("http://127.0.0.1:{port}/hook/s3cr3t-hook"),
                    "events": ["incident.", "notification."]}),
        ),
        201,
    )
    .await;
    let (_, key) = service(&app, "checkout", &[&ada]).await;
    alert(&app, &key, "down").await;
    tick(&app).await;
    tick(&app).await;

    let incidents = ok(app.get("/api/v1/incidents", &app.admin.token), 200).await;
    let id = id_of(&incidents["items"][0]);
    let sent = ok(
        app.get(&format!("/api/v1/incidents/{id}/notifications"), &ada.token),
        200,
    )
    .await;
    let error = sent["items"][0]["last_error"].as_str().unwrap().to_owned();
    assert!(
        error.contains(&format!("http://127.0.0.1:{port}")),
        "the host is named: {error}"
    );
    let events = Value::Array(timeline(&app, &id).await).to_string();
    assert!(events.contains("could not connect"), "{events}");
    let export = markdown(&app, &id, "", &ada.token).await;
    let deliveries = ok(
        app.get(
            &format!(
                "/api/v1/webhooks/{}/deliveries",
                hook["id"].as_str().unwrap()
            ),
            &app.admin.token,
        ),
        200,
    )
    .await;
    assert!(
        deliveries.to_string().contains("could not deliver"),
        "{deliveries}"
    );
    let page = web_get_as(
        &app,
        &format!("/incidents/{id}"),
        &session_for(&app, "ada@example.com", common::PASSWORD)
            .await
            .0,
    )
    .await;
    for (place, text) in [
        ("notifications", sent.to_string()),
        ("timeline", events),
        ("timeline.md", export),
        ("deliveries", deliveries.to_string()),
        ("incident page", page),
    ] {
        assert!(
            !text.contains("s3cr3t"),
            "{place} shows a secret URL: {text}"
        );
    }
    app.stop().await;
}
