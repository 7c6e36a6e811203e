//! Schedules as escalation targets, end to end: the real server on a fresh database, a fake
//! clock the test sets, the engine ticked by hand, and webhook receivers that record every page.
//! Every scenario checks how many pages each person got: an unexpected page is a failure. Then
//! the schedules API: validation, shifts, who is on call, and deletion while in use.
use crate::common;

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use common::{Backend, TestApp, expect_error};

/// Every JSON body a receiver got.
type Log = Arc<Mutex<Vec<Value>>>;

#[derive(Clone)]
struct Receiver {
    url: String,
    got: Log,
}

impl Receiver {
    async fn spawn() -> Self {
        let got: Log = Arc::new(Mutex::new(Vec::new()));
        let app = axum::Router::new()
            .fallback(
                |State(got): State<Log>, body: axum::body::Bytes| async move {
                    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    got.lock().unwrap().push(value);
                    StatusCode::OK
                },
            )
            .with_state(got.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, got }
    }

    fn count(&self) -> usize {
        self.got.lock().unwrap().len()
    }
}

/// A responder with a webhook contact method and a rule that pages at once (high urgency).
struct Person {
    id: String,
    token: String,
    receiver: Receiver,
}

async fn person(app: &TestApp, email: &str) -> Person {
    let (id, token) = app.user_with_token(email, "responder").await;
    let receiver = Receiver::spawn().await;
    let r = app
        .post(
            &format!("/api/v1/users/{id}/contact-methods"),
            &token,
            &json!({"kind": "webhook", "label": "pager bot", "address": receiver.url,
                    "password": "correct horse battery"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let method: Value = r.json().await.unwrap();
    let r = app
        .post(
            &format!("/api/v1/users/{id}/notification-rules"),
            &token,
            &json!({"contact_method_id": method["id"], "delay_minutes": 0}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    Person {
        id,
        token,
        receiver,
    }
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// A layer of `unit` turns (of one) from local `start`, in `people`'s order.
fn layer(name: &str, start: &str, unit: &str, people: &[&Person]) -> Value {
    json!({"name": name, "start": start, "users": people.iter().map(|p| &p.id).collect::<Vec<_>>(),
           "turn": {"count": 1, "unit": unit}})
}

async fn create_schedule(app: &TestApp, name: &str, time_zone: &str, layers: Value) -> String {
    let r = app
        .post(
            "/api/v1/schedules",
            &app.admin.token,
            &json!({"name": name, "time_zone": time_zone, "layers": layers}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let s: Value = r.json().await.unwrap();
    s["id"].as_str().unwrap().to_owned()
}

fn user(p: &Person) -> Value {
    json!({"type": "user", "id": p.id})
}

fn schedule(id: &str) -> Value {
    json!({"type": "schedule", "id": id})
}

/// A service paging `levels` (each `(delay_minutes, [targets])`), and its Events v2 key.
async fn service(app: &TestApp, levels: &[(u32, Vec<Value>)], repeat: u32) -> String {
    let admin = &app.admin.token;
    let levels: Vec<Value> = levels
        .iter()
        .map(|(delay, targets)| json!({"delay_minutes": delay, "targets": targets}))
        .collect();
    let r = app
        .post(
            "/api/v1/escalation-policies",
            admin,
            &json!({"name": "primary", "levels": levels, "repeat": repeat}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let policy: Value = r.json().await.unwrap();
    let r = app
        .post(
            "/api/v1/services",
            admin,
            &json!({"name": "checkout", "escalation_policy_id": policy["id"]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let service: Value = r.json().await.unwrap();
    let r = app
        .post(
            &format!(
                "/api/v1/services/{}/integrations",
                service["id"].as_str().unwrap()
            ),
            admin,
            &json!({"name": "prom", "kind": "events_v2"}),
        )
        .send()
        .await
        .unwrap();
    let integration: Value = r.json().await.unwrap();
    integration["key"].as_str().unwrap().to_owned()
}

async fn trigger(app: &TestApp, key: &str, dedup: &str) {
    let r = app
        .http
        .post(format!("{}/v2/enqueue", app.url))
        .json(
            &json!({"routing_key": key, "event_action": "trigger", "dedup_key": dedup,
                      "payload": {"summary": "Checkout is down", "source": "lb-1",
                                  "severity": "critical"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
}

async fn tick(app: &TestApp) {
    app.state.engine.tick().await.unwrap();
}

async fn wait(app: &TestApp, minutes: i64) {
    app.clock.advance(SignedDuration::from_mins(minutes));
    tick(app).await;
}

async fn get_json(app: &TestApp, path: &str) -> Value {
    let r = app.get(path, &app.admin.token).send().await.unwrap();
    assert_eq!(r.status(), 200, "{path}: {}", r.text().await.unwrap());
    r.json().await.unwrap()
}

async fn incidents(app: &TestApp) -> Vec<Value> {
    get_json(app, "/api/v1/incidents").await["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// The data of each `incident.escalated` event of the incident, in order.
async fn escalations(app: &TestApp, incident: &Value) -> Vec<Value> {
    let id = incident["id"].as_str().unwrap();
    get_json(app, &format!("/api/v1/incidents/{id}/timeline")).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "incident.escalated")
        .map(|e| e["data"].clone())
        .collect()
}

async fn resolve_all(app: &TestApp) {
    for i in incidents(app).await {
        if i["status"] == "resolved" {
            continue;
        }
        let r = app
            .post(
                &format!("/api/v1/incidents/{}/resolve", i["id"].as_str().unwrap()),
                &app.admin.token,
                &json!({}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }
}

fn counts(people: &[&Person]) -> Vec<usize> {
    people.iter().map(|p| p.receiver.count()).collect()
}

// --- paging through schedules ------------------------------------------------------------------

/// A daily rotation hands off at 12:00 UTC; the incident's first pass pages the person on call
/// before the handoff and the repeat, after it, pages the next one.
async fn a_schedule_target_pages_whoever_is_on_call_across_a_handoff(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    app.clock.set(ts("2026-11-21T11:58:00Z"));
    let ada = person(&app, "ada@example.com").await;
    let bob = person(&app, "bob@example.com").await;
    let s = create_schedule(
        &app,
        "ops",
        "UTC",
        json!([layer("primary", "2026-11-20T12:00", "days", &[&ada, &bob])]),
    )
    .await;
    let key = service(&app, &[(5, vec![schedule(&s)])], 1).await;
    trigger(&app, &key, "down").await;
    tick(&app).await;
    assert_eq!(counts(&[&ada, &bob]), [1, 0], "ada's turn until 12:00");
    wait(&app, 4).await;
    assert_eq!(counts(&[&ada, &bob]), [1, 0]);
    // 12:03: the repeat pages whoever is on call now.
    wait(&app, 1).await;
    assert_eq!(counts(&[&ada, &bob]), [1, 1], "bob's turn from 12:00");
    wait(&app, 30).await;
    assert_eq!(counts(&[&ada, &bob]), [1, 1]);
    let incident = &incidents(&app).await[0];
    let steps = escalations(&app, incident).await;
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0]["users"], json!([ada.id]));
    assert_eq!(
        steps[0]["schedules"],
        json!([{"schedule_id": s, "user_id": ada.id}])
    );
    assert_eq!(steps[0]["empty_schedules"], json!([]));
    assert_eq!(steps[1]["users"], json!([bob.id]));
    app.stop().await;
}

/// An override puts someone else on call: they are paged instead, and only while it lasts.
async fn an_override_pages_its_user_instead(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = person(&app, "ada@example.com").await;
    let carol = person(&app, "carol@example.com").await;
    let s = create_schedule(
        &app,
        "ops",
        "UTC",
        json!([layer("primary", "2026-11-16T00:00", "weeks", &[&ada])]),
    )
    .await;
    // Carol (a responder) covers 08:00–09:03 UTC herself.
    let r = app
        .post(
            &format!("/api/v1/schedules/{s}/overrides"),
            &carol.token,
            &json!({"user_id": carol.id, "start": "2026-11-21T08:00:00Z",
                    "end": "2026-11-21T10:03:00+01:00"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let key = service(&app, &[(5, vec![schedule(&s)])], 1).await;
    trigger(&app, &key, "down").await;
    tick(&app).await;
    assert_eq!(counts(&[&ada, &carol]), [0, 1], "carol overrides ada");
    // 09:05: the override is over; the repeat pages the layer's user again.
    wait(&app, 5).await;
    assert_eq!(counts(&[&ada, &carol]), [1, 1]);
    wait(&app, 30).await;
    assert_eq!(counts(&[&ada, &carol]), [1, 1]);
    app.stop().await;
}

/// A daily 09:00 America/New_York rotation across the switch to daylight time (2026-03-08,
/// 02:00 EST becomes 03:00 EDT): Sunday's turn starts at 09:00 EDT, 23 hours after Saturday's,
/// so a page at 08:30 goes to Saturday's person and one at 09:30 to Sunday's. (Counting 24-hour
/// days would move the handoff to 10:00 EDT and page Saturday's person at 09:30.)
async fn a_daily_rotation_hands_off_at_nine_local_across_dst(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    app.clock.set(ts("2026-03-08T12:30:00Z")); // 08:30 EDT, Sunday
    let ada = person(&app, "ada@example.com").await;
    let bob = person(&app, "bob@example.com").await;
    // Turn k (from Monday 2026-03-02) goes to [ada, bob][k % 2]: Saturday (k = 5) bob, Sunday
    // (k = 6) ada.
    let s = create_schedule(
        &app,
        "ops",
        "America/New_York",
        json!([layer("primary", "2026-03-02T09:00", "days", &[&ada, &bob])]),
    )
    .await;
    let shifts = get_json(
        &app,
        &format!("/api/v1/schedules/{s}/shifts?from=2026-03-06T14:00:00Z&to=2026-03-09T13:00:00Z"),
    )
    .await;
    assert_eq!(
        shifts["shifts"],
        json!([
            {"user_id": ada.id, "user_name": "Someone",
             "start": "2026-03-06T14:00:00Z", "end": "2026-03-07T14:00:00Z"},
            // Saturday 09:00 EST to Sunday 09:00 EDT: 23 hours.
            {"user_id": bob.id, "user_name": "Someone",
             "start": "2026-03-07T14:00:00Z", "end": "2026-03-08T13:00:00Z"},
            {"user_id": ada.id, "user_name": "Someone",
             "start": "2026-03-08T13:00:00Z", "end": "2026-03-09T13:00:00Z"},
        ])
    );
    let key = service(&app, &[(5, vec![schedule(&s)])], 0).await;
    trigger(&app, &key, "early").await;
    tick(&app).await;
    assert_eq!(
        counts(&[&ada, &bob]),
        [0, 1],
        "08:30 EDT: still Saturday's turn"
    );
    resolve_all(&app).await;
    app.clock.set(ts("2026-03-08T13:30:00Z")); // 09:30 EDT
    trigger(&app, &key, "late").await;
    tick(&app).await;
    assert_eq!(counts(&[&ada, &bob]), [1, 1], "09:30 EDT: Sunday's turn");
    wait(&app, 60).await;
    assert_eq!(counts(&[&ada, &bob]), [1, 1]);
    app.stop().await;
}

/// A schedule with nobody on call pages nobody, says so on the timeline, and the escalation
/// goes on to the next level.
async fn an_empty_schedule_pages_nobody_and_is_recorded(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = person(&app, "ada@example.com").await;
    let bob = person(&app, "bob@example.com").await;
    let mut nights = layer("nights", "2026-11-16T00:00", "weeks", &[&ada]);
    nights["restrictions"] = json!([{"type": "daily", "start": "20:00", "duration_minutes": 60}]);
    let s = create_schedule(&app, "nights", "UTC", json!([nights])).await;
    let key = service(&app, &[(5, vec![schedule(&s)]), (5, vec![user(&bob)])], 0).await;
    trigger(&app, &key, "down").await;
    tick(&app).await;
    assert_eq!(
        counts(&[&ada, &bob]),
        [0, 0],
        "09:00: nobody on call at night"
    );
    wait(&app, 5).await;
    assert_eq!(counts(&[&ada, &bob]), [0, 1]);
    wait(&app, 30).await;
    assert_eq!(counts(&[&ada, &bob]), [0, 1]);
    let steps = escalations(&app, &incidents(&app).await[0]).await;
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0]["users"], json!([]));
    assert_eq!(steps[0]["schedules"], json!([]));
    assert_eq!(steps[0]["empty_schedules"], json!([s]));
    assert_eq!(steps[1]["users"], json!([bob.id]));
    assert_eq!(steps[1]["empty_schedules"], json!([]));
    app.stop().await;
}

/// A level naming ada directly and through a schedule she is on call in pages her once; the
/// others in the level are paged as usual.
async fn a_user_reached_twice_in_a_level_is_paged_once(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = person(&app, "ada@example.com").await;
    let bob = person(&app, "bob@example.com").await;
    let s = create_schedule(
        &app,
        "ops",
        "UTC",
        json!([layer("primary", "2026-11-16T00:00", "weeks", &[&ada, &bob])]),
    )
    .await;
    let key = service(&app, &[(5, vec![user(&ada), schedule(&s), user(&bob)])], 0).await;
    trigger(&app, &key, "down").await;
    tick(&app).await;
    assert_eq!(counts(&[&ada, &bob]), [1, 1]);
    wait(&app, 30).await;
    assert_eq!(counts(&[&ada, &bob]), [1, 1]);
    let steps = escalations(&app, &incidents(&app).await[0]).await;
    assert_eq!(steps[0]["users"], json!([ada.id, bob.id]));
    assert_eq!(
        steps[0]["schedules"],
        json!([{"schedule_id": s, "user_id": ada.id}])
    );
    let notes = get_json(
        &app,
        &format!(
            "/api/v1/incidents/{}/notifications",
            incidents(&app).await[0]["id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(notes["items"].as_array().unwrap().len(), 2);
    app.stop().await;
}

// --- the API -----------------------------------------------------------------------------------

async fn schedules_validate_and_name_the_field(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = person(&app, "ada@example.com").await;
    let admin = app.admin.token.clone();
    let good = || layer("primary", "2026-11-16T09:00", "weeks", &[&ada]);
    let with = |f: &dyn Fn(&mut Value)| {
        let mut body = json!({"name": "ops", "time_zone": "Europe/Berlin", "layers": [good()]});
        f(&mut body);
        body
    };
    let ghost = "00000000-0000-7000-8000-000000000000";
    let cases: Vec<(Value, &str)> = vec![
        (with(&|b| b["name"] = json!("  ")), "name"),
        (
            with(&|b| b["time_zone"] = json!("Mars/Olympus")),
            "time_zone",
        ),
        (with(&|b| b["layers"] = json!([])), "layers"),
        (
            with(&|b| b["layers"][0]["turn"]["count"] = json!(0)),
            "layers[0].turn.count",
        ),
        (
            with(&|b| b["layers"][0]["turn"]["unit"] = json!("fortnights")),
            "layers[0].turn.unit",
        ),
        (
            with(&|b| b["layers"][0]["start"] = json!("next monday")),
            "layers[0].start",
        ),
        (
            with(&|b| b["layers"][0]["end"] = json!("2026-11-16T08:00:00Z")),
            "layers[0].end",
        ),
        (
            with(&|b| b["layers"][0]["users"] = json!([])),
            "layers[0].users",
        ),
        (
            with(&|b| b["layers"][0]["users"] = json!([ghost])),
            "layers[0].users",
        ),
        (
            with(&|b| b["layers"][0]["colour"] = json!("red")),
            "layers[0].colour",
        ),
        (
            with(&|b| {
                b["layers"] = json!([good(), good()]);
                b["layers"][1]["restrictions"] =
                    json!([{"type": "daily", "start": "09:00", "duration_minutes": 0}]);
            }),
            "layers[1].restrictions[0].duration_minutes",
        ),
    ];
    for (body, field) in cases {
        let r = app
            .post("/api/v1/schedules", &admin, &body)
            .send()
            .await
            .unwrap();
        let e = expect_error(r, 400, "invalid_field", Some(field)).await;
        assert!(e["message"].as_str().unwrap().starts_with(field), "{e}");
    }
    assert!(
        get_json(&app, "/api/v1/schedules").await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Only admins create schedules; the name is unique.
    let r = app
        .post("/api/v1/schedules", &ada.token, &with(&|_| {}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let id = create_schedule(&app, "ops", "europe/berlin", json!([good()])).await;
    let s = get_json(&app, &format!("/api/v1/schedules/{id}")).await;
    assert_eq!(s["time_zone"], "Europe/Berlin", "the zone's canonical name");
    assert_eq!(s["layers"][0]["start"], "2026-11-16T09:00:00");
    let r = app
        .post("/api/v1/schedules", &admin, &with(&|_| {}))
        .send()
        .await
        .unwrap();
    expect_error(r, 409, "conflict", Some("name")).await;

    // Changes are checked the same way and leave the schedule as it was.
    let patch = |body: Value| {
        app.http
            .patch(format!("{}/api/v1/schedules/{id}", app.url))
            .bearer_auth(&admin)
            .json(&body)
            .send()
    };
    let r = patch(json!({"time_zone": "Nowhere/Special"}))
        .await
        .unwrap();
    expect_error(r, 400, "invalid_field", Some("time_zone")).await;
    let r = patch(json!({"layers": [good(), layer("x", "2026-11-16T09:00", "days", &[])]}))
        .await
        .unwrap();
    expect_error(r, 400, "invalid_field", Some("layers[1].users")).await;
    assert_eq!(get_json(&app, &format!("/api/v1/schedules/{id}")).await, s);
    let r = patch(json!({"name": "ops-eu", "time_zone": "UTC"}))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let changed: Value = r.json().await.unwrap();
    assert_eq!(
        (changed["name"].clone(), changed["time_zone"].clone()),
        (json!("ops-eu"), json!("UTC"))
    );
    assert_eq!(changed["layers"], s["layers"]);

    // Overrides: a responder may add one; the range, user and times are checked.
    let (viewer_id, viewer) = app.user_with_token("v@example.com", "viewer").await;
    let path = format!("/api/v1/schedules/{id}/overrides");
    let o =
        |user: &str, start: &str, end: &str| json!({"user_id": user, "start": start, "end": end});
    let cases = [
        (
            o(&ada.id, "2026-11-21T12:00:00Z", "2026-11-21T11:00:00Z"),
            "end",
        ),
        (
            o(&ada.id, "2026-11-21T08:00:00Z", "2026-11-21T08:30:00Z"),
            "end",
        ),
        (
            o(ghost, "2026-11-21T10:00:00Z", "2026-11-21T11:00:00Z"),
            "user_id",
        ),
        (
            o("ada", "2026-11-21T10:00:00Z", "2026-11-21T11:00:00Z"),
            "user_id",
        ),
        (o(&ada.id, "tomorrow", "2026-11-21T11:00:00Z"), "start"),
    ];
    for (body, field) in cases {
        let r = app.post(&path, &ada.token, &body).send().await.unwrap();
        expect_error(r, 400, "invalid_field", Some(field)).await;
    }
    let good_override = o(&viewer_id, "2026-11-21T10:00:00Z", "2026-11-21T11:00:00Z");
    let r = app
        .post(&path, &viewer, &good_override)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "viewers only look");
    let r = app
        .post(&path, &ada.token, &good_override)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let added: Value = r.json().await.unwrap();
    assert_eq!(added["user_id"], json!(viewer_id));
    let r = app
        .post(
            "/api/v1/schedules/00000000-0000-7000-8000-000000000000/overrides",
            &ada.token,
            &good_override,
        )
        .send()
        .await
        .unwrap();
    expect_error(r, 404, "not_found", None).await;
    let listed = get_json(
        &app,
        &format!("{path}?from=2026-11-21T00:00:00Z&to=2026-11-22T00:00:00Z"),
    )
    .await;
    assert_eq!(listed["items"], json!([added]));
    let empty = get_json(
        &app,
        &format!("{path}?from=2026-11-21T11:00:00Z&to=2026-11-22T00:00:00Z"),
    )
    .await;
    assert_eq!(empty["items"], json!([]));
    let r = app
        .get(
            &format!("{path}?from=2026-11-22T00:00:00Z&to=2026-11-21T00:00:00Z"),
            &viewer,
        )
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_field", Some("to")).await;
    let one = format!("{path}/{}", added["id"].as_str().unwrap());
    let r = app
        .http
        .delete(format!("{}{one}", app.url))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = app
        .http
        .delete(format!("{}{one}", app.url))
        .bearer_auth(&ada.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = app
        .http
        .delete(format!("{}{one}", app.url))
        .bearer_auth(&ada.token)
        .send()
        .await
        .unwrap();
    expect_error(r, 404, "not_found", None).await;

    // A policy may page a schedule that exists, and only that.
    let r = app
        .post(
            "/api/v1/escalation-policies",
            &admin,
            &json!({"name": "p", "levels": [{"delay_minutes": 5, "targets": [user(&ada)]},
                                            {"delay_minutes": 5, "targets": [schedule(ghost)]}]}),
        )
        .send()
        .await
        .unwrap();
    let e = expect_error(r, 400, "invalid_field", Some("levels[1].targets")).await;
    assert!(
        e["message"].as_str().unwrap().contains("no schedule"),
        "{e}"
    );
    let r = app
        .post(
            "/api/v1/escalation-policies",
            &admin,
            &json!({"name": "p", "levels": [{"delay_minutes": 5, "targets": [{"type": "rota", "id": id}]}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    app.stop().await;
}

async fn shifts_and_who_is_on_call(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = person(&app, "ada@example.com").await;
    let bob = person(&app, "bob@example.com").await;
    let carol = person(&app, "carol@example.com").await;
    let dave = person(&app, "dave@example.com").await;
    // Weekly ada/bob from Monday 2026-11-16, and carol 09:00–17:00 every day on top.
    let mut day = layer("day", "2026-11-16T00:00", "days", &[&carol]);
    day["restrictions"] = json!([{"type": "daily", "start": "09:00", "duration_minutes": 480}]);
    let primary = create_schedule(
        &app,
        "primary",
        "UTC",
        json!([
            layer("base", "2026-11-16T00:00", "weeks", &[&ada, &bob]),
            day
        ]),
    )
    .await;
    let mut night = layer("night", "2026-11-16T00:00", "weeks", &[&bob]);
    night["restrictions"] = json!([{"type": "daily", "start": "20:00", "duration_minutes": 60}]);
    let nights = create_schedule(&app, "nights", "UTC", json!([night])).await;
    let r = app
        .post(
            &format!("/api/v1/schedules/{primary}/overrides"),
            &dave.token,
            &json!({"user_id": dave.id, "start": "2026-11-21T10:00:00Z", "end": "2026-11-21T11:00:00Z"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    let shift = |p: &Person, start: &str, end: &str| json!({"user_id": p.id, "user_name": "Someone", "start": start, "end": end});
    let base = format!("/api/v1/schedules/{primary}/shifts");
    let v = get_json(
        &app,
        &format!("{base}?from=2026-11-21T00:00:00Z&to=2026-11-22T00:00:00Z"),
    )
    .await;
    assert_eq!(v["time_zone"], "UTC");
    assert_eq!(
        (v["from"].clone(), v["to"].clone()),
        (json!("2026-11-21T00:00:00Z"), json!("2026-11-22T00:00:00Z"))
    );
    assert_eq!(
        v["shifts"],
        json!([
            shift(&ada, "2026-11-21T00:00:00Z", "2026-11-21T09:00:00Z"),
            shift(&carol, "2026-11-21T09:00:00Z", "2026-11-21T10:00:00Z"),
            shift(&dave, "2026-11-21T10:00:00Z", "2026-11-21T11:00:00Z"),
            shift(&carol, "2026-11-21T11:00:00Z", "2026-11-21T17:00:00Z"),
            shift(&ada, "2026-11-21T17:00:00Z", "2026-11-22T00:00:00Z"),
        ])
    );
    assert_eq!(
        v["layers"],
        json!([
            {"name": "base", "shifts": [shift(&ada, "2026-11-21T00:00:00Z", "2026-11-22T00:00:00Z")]},
            {"name": "day", "shifts": [shift(&carol, "2026-11-21T09:00:00Z", "2026-11-21T17:00:00Z")]},
        ])
    );
    // Offsets are instants too; an unescaped "+" (read as a space) is taken for what it meant.
    let v2 = get_json(
        &app,
        &format!("{base}?from=2026-11-21T01:00:00+01:00&to=2026-11-22T00:00:00Z"),
    )
    .await;
    assert_eq!(v2["shifts"], v["shifts"]);
    // The default range is the next 7 days from now.
    let week = get_json(&app, &base).await;
    assert_eq!(
        (week["from"].clone(), week["to"].clone()),
        (json!("2026-11-21T09:00:00Z"), json!("2026-11-28T09:00:00Z"))
    );
    // Bad or reversed ranges, and ranges over 366 days, name the field.
    for (query, field) in [
        ("from=yesterday", "from"),
        ("from=2026-11-21T00:00:00Z&to=2026-11-21", "to"),
        ("from=2026-11-21T00:00:00Z&to=2026-11-20T00:00:00Z", "to"),
        ("from=2026-11-21T00:00:00Z&to=2026-11-21T00:00:00Z", "to"),
        ("from=2026-01-01T00:00:00Z&to=2027-01-02T00:00:01Z", "to"),
    ] {
        let r = app
            .get(&format!("{base}?{query}"), &app.admin.token)
            .send()
            .await
            .unwrap();
        expect_error(r, 400, "invalid_field", Some(field)).await;
    }
    let r = app
        .get(
            &format!("{base}?since=2026-11-21T00:00:00Z"),
            &app.admin.token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let year = get_json(
        &app,
        &format!("{base}?from=2026-01-01T00:00:00Z&to=2027-01-02T00:00:00Z"),
    )
    .await;
    assert_eq!(year["to"], "2027-01-02T00:00:00Z", "366 days is allowed");
    let r = app
        .get(
            "/api/v1/schedules/00000000-0000-7000-8000-000000000000/shifts",
            &app.admin.token,
        )
        .send()
        .await
        .unwrap();
    expect_error(r, 404, "not_found", None).await;

    // Who is on call now (09:00): carol's business hours in primary, nobody in nights.
    let (_, viewer) = app.user_with_token("v@example.com", "viewer").await;
    let r = app.get("/api/v1/oncalls", &viewer).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let now: Value = r.json().await.unwrap();
    assert_eq!(now["at"], "2026-11-21T09:00:00Z");
    assert_eq!(now["next_cursor"], Value::Null);
    // Schedules come in id order; both were made at the same (fake) millisecond.
    let (p, n) = if primary < nights { (0, 1) } else { (1, 0) };
    assert_eq!(
        now["items"][p],
        json!({"schedule_id": primary, "schedule_name": "primary", "user_id": carol.id,
               "user_name": "Someone", "start": "2026-11-21T09:00:00Z", "end": "2026-11-21T10:00:00Z"})
    );
    assert_eq!(
        now["items"][n],
        json!({"schedule_id": nights, "schedule_name": "nights", "user_id": null,
               "user_name": null, "start": null, "end": null})
    );
    // At 20:30: ada in primary, from the end of carol's hours to their start the next day;
    // bob's hour in nights.
    let later = get_json(&app, "/api/v1/oncalls?at=2026-11-21T20:30:00Z").await;
    assert_eq!(later["items"][p]["user_id"], json!(ada.id));
    assert_eq!(later["items"][p]["start"], "2026-11-21T17:00:00Z");
    assert_eq!(later["items"][p]["end"], "2026-11-22T09:00:00Z");
    assert_eq!(later["items"][n]["user_id"], json!(bob.id));
    assert_eq!(
        (
            later["items"][n]["start"].clone(),
            later["items"][n]["end"].clone()
        ),
        (json!("2026-11-21T20:00:00Z"), json!("2026-11-21T21:00:00Z"))
    );
    // A page at a time.
    let first = get_json(&app, "/api/v1/oncalls?limit=1").await;
    assert_eq!(first["items"], json!([now["items"][0]]));
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = get_json(&app, &format!("/api/v1/oncalls?limit=1&cursor={cursor}")).await;
    assert_eq!(second["items"], json!([now["items"][1]]));
    assert_eq!(second["next_cursor"], Value::Null);
    // One schedule at a time.
    let one = get_json(
        &app,
        &format!("/api/v1/schedules/{primary}/oncalls?at=2026-11-21T10:30:00Z"),
    )
    .await;
    assert_eq!(
        one,
        json!({"schedule_id": primary, "schedule_name": "primary", "user_id": dave.id,
               "user_name": "Someone", "start": "2026-11-21T10:00:00Z", "end": "2026-11-21T11:00:00Z"})
    );
    let r = app
        .get("/api/v1/oncalls?at=soon", &viewer)
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_field", Some("at")).await;
    let r = app
        .get(
            &format!("/api/v1/schedules/{primary}/oncalls?at=noon"),
            &viewer,
        )
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_field", Some("at")).await;
    app.stop().await;
}

/// A schedule an escalation policy pages cannot be deleted until the policy lets go of it; its
/// changes are on its own timeline.
async fn a_schedule_in_use_cannot_be_deleted(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = person(&app, "ada@example.com").await;
    let admin = app.admin.token.clone();
    let s = create_schedule(
        &app,
        "ops",
        "UTC",
        json!([layer("primary", "2026-11-16T00:00", "weeks", &[&ada])]),
    )
    .await;
    let r = app
        .post(
            &format!("/api/v1/schedules/{s}/overrides"),
            &ada.token,
            &json!({"user_id": ada.id, "start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = app
        .post(
            "/api/v1/escalation-policies",
            &admin,
            &json!({"name": "p", "levels": [{"delay_minutes": 5, "targets": [user(&ada)]},
                                            {"delay_minutes": 5, "targets": [schedule(&s)]}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let policy: Value = r.json().await.unwrap();
    assert_eq!(policy["levels"][1]["targets"], json!([schedule(&s)]));
    let delete = || {
        app.http
            .delete(format!("{}/api/v1/schedules/{s}", app.url))
            .bearer_auth(&admin)
            .send()
    };
    let e = expect_error(delete().await.unwrap(), 409, "conflict", None).await;
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("escalation policies"),
        "{e}"
    );
    let r = app
        .http
        .delete(format!("{}/api/v1/schedules/{s}", app.url))
        .bearer_auth(&ada.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // The policy lets go of it: now it may go, with its overrides.
    let r = app
        .http
        .patch(format!(
            "{}/api/v1/escalation-policies/{}",
            app.url,
            policy["id"].as_str().unwrap()
        ))
        .bearer_auth(&admin)
        .json(&json!({"levels": [{"delay_minutes": 5, "targets": [user(&ada)]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(delete().await.unwrap().status(), 204);
    expect_error(delete().await.unwrap(), 404, "not_found", None).await;
    let r = app
        .get(&format!("/api/v1/schedules/{s}"), &admin)
        .send()
        .await
        .unwrap();
    expect_error(r, 404, "not_found", None).await;
    let events = get_json(
        &app,
        &format!("/api/v1/events?subject_type=schedule&subject_id={s}"),
    )
    .await;
    let kinds: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "schedule.created",
            "schedule.override_added",
            "schedule.deleted"
        ]
    );
    app.stop().await;
}

on_both_backends!(
    a_schedule_target_pages_whoever_is_on_call_across_a_handoff,
    an_override_pages_its_user_instead,
    a_daily_rotation_hands_off_at_nine_local_across_dst,
    an_empty_schedule_pages_nobody_and_is_recorded,
    a_user_reached_twice_in_a_level_is_paged_once,
    schedules_validate_and_name_the_field,
    shifts_and_who_is_on_call,
    a_schedule_in_use_cannot_be_deleted,
);
