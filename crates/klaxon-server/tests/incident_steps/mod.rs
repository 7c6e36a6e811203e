//! Steps shared by the incident scenario files: declaring, moving, reading the timeline and
//! roles, a paged service with a recording receiver, and the clock.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};
use klaxon_domain::Clock as _;
use serde_json::{Value, json};

use crate::common::*;

pub async fn declare(app: &TestApp, token: &str, body: Value) -> Value {
    ok(app.post("/api/v1/incidents", token, &body), 201).await
}

pub fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

pub async fn incident(app: &TestApp, id: &str) -> Value {
    ok(
        app.get(&format!("/api/v1/incidents/{id}"), &app.admin.token),
        200,
    )
    .await
}

pub async fn timeline(app: &TestApp, id: &str) -> Vec<Value> {
    let t = ok(
        app.get(
            &format!("/api/v1/incidents/{id}/timeline?limit=500"),
            &app.admin.token,
        ),
        200,
    )
    .await;
    t["items"].as_array().unwrap().clone()
}

/// The kinds of the incident's own `incident.*` events, oldest first.
pub async fn incident_kinds(app: &TestApp, id: &str) -> Vec<String> {
    timeline(app, id)
        .await
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .filter(|k| k.starts_with("incident."))
        .collect()
}

/// The newest event of `kind` on the incident's timeline.
pub async fn last_event(app: &TestApp, id: &str, kind: &str) -> Value {
    timeline(app, id)
        .await
        .into_iter()
        .rev()
        .find(|e| e["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} on the timeline"))
}

pub fn move_to(app: &TestApp, token: &str, id: &str, status: &str) -> reqwest::RequestBuilder {
    app.post(
        &format!("/api/v1/incidents/{id}/status"),
        token,
        &json!({"status": status}),
    )
}

pub async fn moved(app: &TestApp, token: &str, id: &str, status: &str) -> Value {
    let i = ok(move_to(app, token, id, status), 200).await;
    assert_eq!(i["status"], status);
    i
}

pub fn milestones(app: &TestApp, token: &str, id: &str, body: &Value) -> reqwest::RequestBuilder {
    patch(
        app,
        &format!("/api/v1/incidents/{id}/milestones"),
        token,
        body,
    )
}

pub fn assign(
    app: &TestApp,
    token: &str,
    id: &str,
    role: &str,
    user: &str,
) -> reqwest::RequestBuilder {
    app.post(
        &format!("/api/v1/incidents/{id}/roles"),
        token,
        &json!({"role": role, "user_id": user}),
    )
}

pub fn unassign(
    app: &TestApp,
    token: &str,
    id: &str,
    role: &str,
    user: &str,
) -> reqwest::RequestBuilder {
    delete(
        app,
        &format!("/api/v1/incidents/{id}/roles/{role}/{user}"),
        token,
    )
}

/// Current role holders as (role, user id), or everyone who held one with `history`.
pub async fn roles(app: &TestApp, id: &str, history: bool) -> Vec<Value> {
    let path = if history {
        format!("/api/v1/incidents/{id}/roles?history=true")
    } else {
        format!("/api/v1/incidents/{id}/roles")
    };
    ok(app.get(&path, &app.admin.token), 200).await["items"]
        .as_array()
        .unwrap()
        .clone()
}

pub fn holders(roles: &[Value]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = roles
        .iter()
        .map(|r| {
            (
                r["role"].as_str().unwrap().to_owned(),
                r["user_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

pub fn pair(role: &str, user: &str) -> (String, String) {
    (role.to_owned(), user.to_owned())
}

pub fn note(app: &TestApp, token: &str, id: &str, body: &Value) -> reqwest::RequestBuilder {
    app.post(&format!("/api/v1/incidents/{id}/notes"), token, body)
}

pub async fn markdown(app: &TestApp, id: &str, query: &str, token: &str) -> String {
    let r = app
        .get(&format!("/api/v1/incidents/{id}/timeline.md{query}"), token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/markdown"), "{ct}");
    r.text().await.unwrap()
}

pub fn now(app: &TestApp) -> Timestamp {
    app.clock.now()
}

pub fn later(app: &TestApp, minutes: i64) {
    app.clock.advance(SignedDuration::from_mins(minutes));
}

/// A time `minutes` from the fake clock's start (09:00), as the API writes it.
pub fn at(minutes: i64) -> String {
    let start: Timestamp = "2026-11-21T09:00:00Z".parse().unwrap();
    (start + SignedDuration::from_mins(minutes)).to_string()
}

pub fn ts(v: &Value) -> Timestamp {
    v.as_str()
        .unwrap_or_else(|| panic!("not a time: {v}"))
        .parse()
        .unwrap()
}

/// The incident and the length of its timeline: what a refused request must leave alone.
pub async fn snapshot(app: &TestApp, id: &str) -> (Value, usize, Vec<Value>) {
    (
        incident(app, id).await,
        timeline(app, id).await.len(),
        roles(app, id, true).await,
    )
}

pub async fn unchanged(app: &TestApp, id: &str, before: &(Value, usize, Vec<Value>)) {
    let after = snapshot(app, id).await;
    assert_eq!(after.0, before.0, "the incident changed");
    assert_eq!(after.1, before.1, "the timeline grew");
    assert_eq!(after.2, before.2, "the roles changed");
}

pub async fn tick(app: &TestApp) {
    app.state.engine.tick().await.unwrap();
}

/// Records every request it gets and answers 200.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    pub got: Arc<Mutex<Vec<Value>>>,
}

impl Receiver {
    pub async fn spawn() -> Self {
        let got: Arc<Mutex<Vec<Value>>> = Arc::new(Mutex::new(Vec::new()));
        let log = got.clone();
        let app = axum::Router::new().fallback(move |body: axum::body::Bytes| {
            let log = log.clone();
            async move {
                let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
                log.lock().unwrap().push(v);
                axum::http::StatusCode::OK
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, got }
    }

    pub fn bodies(&self) -> Vec<Value> {
        self.got.lock().unwrap().clone()
    }
}

/// Gives `m` a webhook contact method paged at once, for every urgency.
pub async fn pager(app: &TestApp, m: &Member) -> Receiver {
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
    receiver
}

/// A service, with an escalation policy paging `people` when there are any, and the key of
/// an Events v2 integration.
pub async fn service(app: &TestApp, name: &str, people: &[&Member]) -> (String, String) {
    let admin = &app.admin.token;
    let mut body = json!({"name": name});
    if !people.is_empty() {
        let targets: Vec<Value> = people
            .iter()
            .map(|p| json!({"type": "user", "id": p.id}))
            .collect();
        let policy = ok(
            app.post(
                "/api/v1/escalation-policies",
                admin,
                &json!({"name": format!("{name} policy"), "repeat": 0,
                        "levels": [{"delay_minutes": 5, "targets": targets}]}),
            ),
            201,
        )
        .await;
        body["escalation_policy_id"] = policy["id"].clone();
    }
    let svc = ok(app.post("/api/v1/services", admin, &body), 201).await;
    let id = id_of(&svc);
    let integration = ok(
        app.post(
            &format!("/api/v1/services/{id}/integrations"),
            admin,
            &json!({"name": "prom", "kind": "events_v2"}),
        ),
        201,
    )
    .await;
    (id, integration["key"].as_str().unwrap().to_owned())
}

/// Sends an alert to an Events v2 key.
pub async fn alert(app: &TestApp, key: &str, dedup: &str) {
    let r = app
        .http
        .post(format!("{}/v2/enqueue", app.url))
        .json(
            &json!({"routing_key": key, "event_action": "trigger", "dedup_key": dedup,
                      "payload": {"summary": format!("{dedup} is down"), "source": "lb-1",
                                  "severity": "critical"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
}

// --- declaring ----------------------------------------------------------------------------------
