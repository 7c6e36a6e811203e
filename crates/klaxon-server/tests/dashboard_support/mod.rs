//! What the dashboard and incident-list tests share: a webhook receiver that counts pages, a
//! paged person, a service whose escalation policy pages them, declaring through the API, and
//! reading timelines.
#![allow(dead_code)] // each test file uses its own part of it

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::common::{PASSWORD, TestApp, member, ok, patch};

/// Records the body of every request it gets.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    got: Arc<Mutex<Vec<Value>>>,
}

impl Receiver {
    pub async fn spawn() -> Self {
        let got = Arc::new(Mutex::new(Vec::new()));
        let log = got.clone();
        let app = axum::Router::new().fallback(move |body: axum::body::Bytes| {
            let log = log.clone();
            async move {
                log.lock()
                    .unwrap()
                    .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
                axum::http::StatusCode::OK
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, got }
    }

    /// Every body received, in order.
    pub fn bodies(&self) -> Vec<Value> {
        self.got.lock().unwrap().clone()
    }

    /// Pages received: a bundle counts for every page it carries.
    pub fn pages(&self) -> u64 {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|b| match b["type"].as_str() {
                Some("incident.page.bundle") => b["data"]["count"].as_u64().unwrap(),
                _ => 1,
            })
            .sum()
    }
}

/// A responder paged by webhook at once, reading times in `zone`; password [`PASSWORD`].
pub struct Person {
    pub id: String,
    pub token: String,
    pub email: String,
    pub receiver: Receiver,
}

pub async fn person(app: &TestApp, email: &str, name: &str, zone: &str) -> Person {
    let m = member(app, email, name, "responder").await;
    let receiver = Receiver::spawn().await;
    let method = ok(
        app.post(
            &format!("/api/v1/users/{}/contact-methods", m.id),
            &m.token,
            &json!({"kind": "webhook", "label": "pager bot", "address": receiver.url,
                    "password": PASSWORD}),
        ),
        201,
    )
    .await;
    ok(
        app.post(
            &format!("/api/v1/users/{}/notification-rules", m.id),
            &m.token,
            &json!({"contact_method_id": method["id"], "delay_minutes": 0}),
        ),
        201,
    )
    .await;
    ok(
        patch(
            app,
            &format!("/api/v1/users/{}", m.id),
            &app.admin.token,
            &json!({"time_zone": zone}),
        ),
        200,
    )
    .await;
    Person {
        id: m.id,
        token: m.token,
        email: email.to_owned(),
        receiver,
    }
}

/// A service whose policy pages `who` at once, then again 5 minutes later (two levels, no
/// repeat): an incident declared on it starts triggered. Returns the service's id.
pub async fn paged_service(app: &TestApp, who: &str) -> String {
    let level = json!({"delay_minutes": 5, "targets": [{"type": "user", "id": who}]});
    let policy = ok(
        app.post(
            "/api/v1/escalation-policies",
            &app.admin.token,
            &json!({"name": "primary", "repeat": 0, "levels": [level, level]}),
        ),
        201,
    )
    .await;
    let service = ok(
        app.post(
            "/api/v1/services",
            &app.admin.token,
            &json!({"name": "checkout", "escalation_policy_id": policy["id"]}),
        ),
        201,
    )
    .await;
    service["id"].as_str().unwrap().to_owned()
}

/// Declares an incident through the API; `extra` fields are added to the body.
pub async fn declare(
    app: &TestApp,
    token: &str,
    title: &str,
    severity: &str,
    extra: Value,
) -> Value {
    let mut body = json!({"title": title, "severity": severity});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    ok(app.post("/api/v1/incidents", token, &body), 201).await
}

pub async fn incident(app: &TestApp, id: &str) -> Value {
    ok(
        app.get(&format!("/api/v1/incidents/{id}"), &app.admin.token),
        200,
    )
    .await
}

/// The incident's timeline events of `kind`, each as (actor, data).
pub async fn events_of(app: &TestApp, id: &str, kind: &str) -> Vec<(String, Value)> {
    let t = ok(
        app.get(
            &format!("/api/v1/incidents/{id}/timeline"),
            &app.admin.token,
        ),
        200,
    )
    .await;
    t["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == kind)
        .map(|e| (e["actor"].as_str().unwrap().to_owned(), e["data"].clone()))
        .collect()
}

pub async fn tick(app: &TestApp) {
    app.state.engine.tick().await.unwrap();
}

/// The first admin's user id.
pub async fn admin_id(app: &TestApp) -> String {
    let me = ok(app.get("/api/v1/me", &app.admin.token), 200).await;
    me["user"]["id"].as_str().unwrap().to_owned()
}
