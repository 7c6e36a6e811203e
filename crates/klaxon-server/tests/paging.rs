//! Paging scenarios, GoAlert-smoke-test style: the real server on a fresh database, a fake
//! clock the test advances, the engine ticked by hand, and webhook receivers that record every
//! request. Every scenario checks the exact messages each receiver got: an unexpected page is
//! a failure.
use crate::common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use jiff::SignedDuration;
use klaxon_domain::Clock as _;
use klaxon_server::crypto::verify_v1;
use serde_json::{Value, json};

use common::{Backend, TestApp, expect_error};

/// A claim that takes every kind of job.
const ALL: klaxon_store::JobKinds<'static> = klaxon_store::JobKinds::Except(&[]);

/// What a receiver does with a request.
#[derive(Clone, Copy)]
enum Mode {
    Accept,
    Answer(u16),
    /// Never answers within the sender's timeout.
    Hang,
}

/// Every request a receiver got: headers and JSON body.
type Log = Arc<Mutex<Vec<(HeaderMap, Value)>>>;

#[derive(Clone)]
struct Receiver {
    url: String,
    got: Log,
    mode: Arc<Mutex<Mode>>,
}

impl Receiver {
    async fn spawn() -> Self {
        let got = Arc::new(Mutex::new(Vec::new()));
        let mode = Arc::new(Mutex::new(Mode::Accept));
        let state = (got.clone(), mode.clone());
        let app = axum::Router::new()
            .fallback(
                |State((got, mode)): State<(Log, Arc<Mutex<Mode>>)>,
                 headers: HeaderMap,
                 body: axum::body::Bytes| async move {
                    // JSON, or the raw text (a form post, as Twilio gets).
                    let value = serde_json::from_slice(&body).unwrap_or_else(|_| {
                        Value::String(String::from_utf8_lossy(&body).into_owned())
                    });
                    got.lock().unwrap().push((headers, value));
                    let mode = *mode.lock().unwrap();
                    match mode {
                        Mode::Accept => StatusCode::OK,
                        Mode::Answer(code) => StatusCode::from_u16(code).unwrap(),
                        Mode::Hang => {
                            tokio::time::sleep(Duration::from_secs(30)).await;
                            StatusCode::OK
                        }
                    }
                },
            )
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, got, mode }
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn count(&self) -> usize {
        self.got.lock().unwrap().len()
    }

    /// Pages received: a bundle counts for every page it carries.
    fn pages(&self) -> u64 {
        self.bodies()
            .iter()
            .map(|b| match b["type"].as_str() {
                Some("incident.page.bundle") => b["data"]["count"].as_u64().unwrap(),
                _ => 1,
            })
            .sum()
    }

    fn bodies(&self) -> Vec<Value> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|(_, b)| b.clone())
            .collect()
    }
}

/// A responder with a webhook contact method and a rule that pages at once (high urgency).
struct Person {
    id: String,
    token: String,
    receiver: Receiver,
    secret: String,
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
    let secret = method["secret"].as_str().unwrap().to_owned();
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
        secret,
    }
}

/// A service paging `levels` (each `(delay_minutes, [people])`), and its Events v2 key.
async fn service(app: &TestApp, levels: &[(u32, Vec<&Person>)], repeat: u32) -> String {
    let admin = &app.admin.token;
    let levels: Vec<Value> = levels
        .iter()
        .map(|(delay, people)| {
            json!({"delay_minutes": delay,
                   "targets": people.iter().map(|p| json!({"type": "user", "id": p.id})).collect::<Vec<_>>()})
        })
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
    assert_eq!(service["escalation_policy_id"], policy["id"]);
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

async fn event(app: &TestApp, key: &str, action: &str, dedup: &str) {
    let r = app
        .http
        .post(format!("{}/v2/enqueue", app.url))
        .json(
            &json!({"routing_key": key, "event_action": action, "dedup_key": dedup,
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

async fn only_incident(app: &TestApp) -> Value {
    let list: Value = app
        .get("/api/v1/incidents", &app.admin.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    list["items"][0].clone()
}

/// The incident's notifications, as the API lists them.
async fn notifications(app: &TestApp, incident: &Value) -> Value {
    let id = incident["id"].as_str().unwrap();
    app.get(
        &format!("/api/v1/incidents/{id}/notifications"),
        &app.admin.token,
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap()
}

async fn timeline_kinds(app: &TestApp, incident: &str) -> Vec<String> {
    let t: Value = app
        .get(
            &format!("/api/v1/incidents/{incident}/timeline"),
            &app.admin.token,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    t["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

async fn one_level_pages_once_signed(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = person(&app, "ada@example.com").await;
    let key = service(&app, &[(5, vec![&ada])], 0).await;
    event(&app, &key, "trigger", "down").await;
    tick(&app).await;
    assert_eq!(ada.receiver.count(), 1);
    let (headers, body) = ada.receiver.got.lock().unwrap()[0].clone();
    assert_eq!(body["type"], "incident.page");
    assert_eq!(body["data"]["incident"]["title"], "Checkout is down");
    assert_eq!(body["data"]["incident"]["urgency"], "high");
    assert_eq!(body["data"]["service"]["name"], "checkout");
    // The signature verifies with the method's secret, over the exact bytes sent.
    let ts: i64 = headers["x-klaxon-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let sig = headers["x-klaxon-signature"].to_str().unwrap();
    let raw = serde_json::to_vec(&body).unwrap();
    assert!(verify_v1(&ada.secret, ts, sig, &raw, ts));
    assert!(!verify_v1("wrong", ts, sig, &raw, ts));
    // The same trigger again deduplicates: nobody is paged twice.
    event(&app, &key, "trigger", "down").await;
    tick(&app).await;
    assert_eq!(ada.receiver.count(), 1);
    // Nobody acknowledges: the single level with no repeat ends the escalation.
    wait(&app, 5).await;
    wait(&app, 60).await;
    assert_eq!(ada.receiver.count(), 1);
    let incident = only_incident(&app).await;
    let kinds = timeline_kinds(&app, incident["id"].as_str().unwrap()).await;
    for k in [
        "incident.triggered",
        "incident.escalated",
        "notification.sent",
        "incident.escalation_exhausted",
    ] {
        assert!(kinds.iter().any(|x| x == k), "{k} missing from {kinds:?}");
    }
    let sent = notifications(&app, &incident).await;
    assert_eq!(sent["items"].as_array().unwrap().len(), 1);
    assert_eq!(sent["items"][0]["status"], "sent");
    app.stop().await;
}

async fn two_levels_escalate_after_the_delay(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = person(&app, "ada@example.com").await;
    let bob = person(&app, "bob@example.com").await;
    let key = service(&app, &[(5, vec![&ada]), (10, vec![&bob])], 0).await;
    event(&app, &key, "trigger", "down").await;
    tick(&app).await;
    assert_eq!((ada.receiver.count(), bob.receiver.count()), (1, 0));
    wait(&app, 4).await;
    assert_eq!((ada.receiver.count(), bob.receiver.count()), (1, 0));
    wait(&app, 1).await;
    assert_eq!((ada.receiver.count(), bob.receiver.count()), (1, 1));
    wait(&app, 30).await;
    assert_eq!((ada.receiver.count(), bob.receiver.count()), (1, 1));
    app.stop().await;
}

async fn repeats_then_stops(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = person(&app, "ada@example.com").await;
    let key = service(&app, &[(5, vec![&ada])], 2).await;
    event(&app, &key, "trigger", "down").await;
    tick(&app).await;
    for expected in [1, 2, 3, 3, 3] {
        assert_eq!(ada.receiver.count(), expected);
        wait(&app, 5).await;
    }
    let levels: Vec<i64> = ada
        .receiver
        .bodies()
        .iter()
        .map(|b| b["data"]["level"].as_i64().unwrap())
        .collect();
    assert_eq!(levels, vec![1, 1, 1]);
    app.stop().await;
}

async fn acknowledging_stops_the_escalation(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = person(&app, "ada@example.com").await;
    let bob = person(&app, "bob@example.com").await;
    let key = service(&app, &[(5, vec![&ada]), (5, vec![&bob])], 3).await;
    event(&app, &key, "trigger", "down").await;
    tick(&app).await;
    let incident = only_incident(&app).await;
    let id = incident["id"].as_str().unwrap();
    let r = app
        .post(
            &format!("/api/v1/incidents/{id}/acknowledge"),
            &ada.token,
            &json!({}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let acked: Value = r.json().await.unwrap();
    assert_eq!(acked["status"], "acknowledged");
    // Its alert was acknowledged with it.
    let alerts: Value = app
        .get(
            &format!("/api/v1/alerts?incident_id={id}"),
            &app.admin.token,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(alerts["items"][0]["status"], "acknowledged");
    for _ in 0..6 {
        wait(&app, 5).await;
    }
    assert_eq!((ada.receiver.count(), bob.receiver.count()), (1, 0));
    // A second acknowledgement is refused; a viewer may not acknowledge at all.
    let r = app
        .post(
            &format!("/api/v1/incidents/{id}/acknowledge"),
            &ada.token,
            &json!({}),
        )
        .send()
        .await
        .unwrap();
    expect_error(r, 409, "conflict", Some("status")).await;
    let (_, viewer) = app.user_with_token("v@example.com", "viewer").await;
    let r = app
        .post(
            &format!("/api/v1/incidents/{id}/resolve"),
            &viewer,
            &json!({}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    app.stop().await;
}

async fn resolving_mid_escalation_stops_everything(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = person(&app, "ada@example.com").await;
    // Ada also wants a reminder two minutes later: it must not go out once resolved.
    let methods: Value = app
        .get(
            &format!("/api/v1/users/{}/contact-methods", ada.id),
            &ada.token,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        methods["items"][0].get("secret").is_none(),
        "the secret is shown once"
    );
    let r = app
        .post(
            &format!("/api/v1/users/{}/notification-rules", ada.id),
            &ada.token,
            &json!({"contact_method_id": methods["items"][0]["id"], "delay_minutes": 2}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let bob = person(&app, "bob@example.com").await;
    let key = service(&app, &[(5, vec![&ada]), (5, vec![&bob])], 0).await;
    event(&app, &key, "trigger", "down").await;
    tick(&app).await;
    assert_eq!(ada.receiver.count(), 1);
    wait(&app, 1).await;
    // The monitor sees recovery: Events v2 resolve; the incident resolves with its alert.
    event(&app, &key, "resolve", "down").await;
    tick(&app).await;
    assert_eq!(only_incident(&app).await["status"], "resolved");
    for _ in 0..4 {
        wait(&app, 5).await;
    }
    assert_eq!((ada.receiver.count(), bob.receiver.count()), (1, 0));
    let incident = only_incident(&app).await;
    let sent = notifications(&app, &incident).await;
    let mut statuses: Vec<&str> = sent["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["status"].as_str().unwrap())
        .collect();
    statuses.sort_unstable(); // both were queued by the same step, in no set order
    assert_eq!(statuses, vec!["cancelled", "sent"]);
    app.stop().await;
}

async fn a_hanging_provider_gets_one_message_marked_failed(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, |s| s.engine.send_timeout_ms = 300).await else {
        return;
    };
    let ada = person(&app, "ada@example.com").await;
    ada.receiver.set(Mode::Hang);
    let key = service(&app, &[(5, vec![&ada])], 0).await;
    event(&app, &key, "trigger", "down").await;
    tick(&app).await;
    for _ in 0..3 {
        wait(&app, 5).await;
    }
    assert_eq!(
        ada.receiver.count(),
        1,
        "an unknown outcome is never resent"
    );
    let incident = only_incident(&app).await;
    let sent = notifications(&app, &incident).await;
    assert_eq!(sent["items"][0]["status"], "failed");
    assert!(
        sent["items"][0]["last_error"]
            .as_str()
            .unwrap()
            .contains("may or may not have arrived")
    );
    app.stop().await;
}

async fn a_failing_provider_gets_bounded_retries(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = person(&app, "ada@example.com").await;
    ada.receiver.set(Mode::Answer(503));
    let key = service(&app, &[(60, vec![&ada])], 0).await;
    event(&app, &key, "trigger", "down").await;
    tick(&app).await;
    assert_eq!(ada.receiver.count(), 1);
    // Backoff 5 s, 10 s, 20 s, 40 s: five attempts in all, then it gives up.
    for _ in 0..20 {
        app.clock.advance(SignedDuration::from_secs(10));
        tick(&app).await;
    }
    assert_eq!(ada.receiver.count(), 5);
    // Every attempt carries the same idempotency key, so a receiver can drop repeats.
    let keys: std::collections::HashSet<String> = ada
        .receiver
        .got
        .lock()
        .unwrap()
        .iter()
        .map(|(h, _)| h["idempotency-key"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(keys.len(), 1);
    let incident = only_incident(&app).await;
    let sent = notifications(&app, &incident).await;
    assert_eq!(sent["items"][0]["status"], "failed");
    assert_eq!(sent["items"][0]["attempts"], 5);
    app.stop().await;
}

async fn two_engines_never_page_twice(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = person(&app, "ada@example.com").await;
    let bob = person(&app, "bob@example.com").await;
    let key = service(&app, &[(5, vec![&ada]), (5, vec![&bob])], 1).await;
    for n in 0..10 {
        event(&app, &key, "trigger", &format!("k{n}")).await;
    }
    // A second engine on the same database, as another instance would run.
    let other = klaxon_server::app::new_engine(
        app.state.store.clone(),
        app.state.clock.clone(),
        app.state.settings.clone(),
    );
    for _ in 0..5 {
        let (a, b) = tokio::join!(app.state.engine.tick(), other.tick());
        a.unwrap();
        b.unwrap();
        app.clock.advance(SignedDuration::from_mins(5));
    }
    // Ten incidents, two passes of two levels: each person paged exactly twice per incident
    // (pages due together arrive bundled, so count the pages the messages carry).
    assert_eq!((ada.receiver.pages(), bob.receiver.pages()), (20, 20));
    let mut ids = std::collections::HashSet::new();
    for b in ada
        .receiver
        .bodies()
        .iter()
        .chain(bob.receiver.bodies().iter())
    {
        assert!(
            ids.insert(b["notification_id"].as_str().unwrap().to_owned()),
            "sent twice"
        );
    }
    app.stop().await;
}

async fn contact_methods_need_the_password_and_a_valid_address(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let (id, token) = app.user_with_token("ada@example.com", "responder").await;
    let path = format!("/api/v1/users/{id}/contact-methods");
    let cases = [
        (
            json!({"kind": "webhook", "label": "x", "address": "http://127.0.0.1:1/h", "password": "nope"}),
            "password",
        ),
        (
            json!({"kind": "webhook", "label": "x", "address": "not a url", "password": "correct horse battery"}),
            "address",
        ),
        (
            json!({"kind": "fax", "label": "x", "address": "1", "password": "correct horse battery"}),
            "kind",
        ),
        (
            json!({"kind": "webhook", "label": " ", "address": "http://127.0.0.1:1/h", "password": "correct horse battery"}),
            "label",
        ),
    ];
    for (body, field) in cases {
        let r = app.post(&path, &token, &body).send().await.unwrap();
        expect_error(r, 400, "invalid_field", Some(field)).await;
    }
    // Someone else's methods are not yours to change.
    let (other, _) = app.user_with_token("bob@example.com", "responder").await;
    let r = app
        .post(
            &format!("/api/v1/users/{other}/contact-methods"),
            &token,
            &json!({"kind": "webhook", "label": "x", "address": "http://127.0.0.1:1/h",
                    "password": "correct horse battery"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let list: Value = app
        .get(&path, &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        list["items"].as_array().unwrap().is_empty(),
        "nothing half-written"
    );

    // The test notification goes out on the next tick and lands on the user's timeline.
    let receiver = Receiver::spawn().await;
    let r = app
        .post(
            &path,
            &token,
            &json!({"kind": "slack", "label": "team channel", "address": receiver.url,
                    "password": "correct horse battery"}),
        )
        .send()
        .await
        .unwrap();
    let method: Value = r.json().await.unwrap();
    assert!(method.get("secret").is_none(), "only webhooks are signed");
    let r = app
        .post(
            &format!(
                "/api/v1/contact-methods/{}/test",
                method["id"].as_str().unwrap()
            ),
            &token,
            &json!({}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    tick(&app).await;
    assert_eq!(receiver.count(), 1);
    assert!(
        receiver.bodies()[0]["text"]
            .as_str()
            .unwrap()
            .contains("test notification")
    );
    app.stop().await;
}

/// The engine dies at the worst moments and another takes over: after claiming a step (before
/// running it), and after writing a step (before marking its job done). The next step still
/// fires, once, and no page is sent twice.
async fn an_engine_killed_mid_escalation_loses_and_doubles_nothing(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = person(&app, "ada@example.com").await;
    let bob = person(&app, "bob@example.com").await;
    let key = service(&app, &[(5, vec![&ada]), (5, vec![&bob])], 0).await;
    event(&app, &key, "trigger", "down").await;
    let store = &app.state.store;
    let lease = |at: jiff::Timestamp| at.checked_add(SignedDuration::from_secs(60)).unwrap();

    // Dies right after claiming step 0: its lease must run out before anyone else runs it.
    let now = app.clock.now();
    let claimed = store
        .claim_jobs("dead-1", now, lease(now), 10, ALL)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].kind, "escalation.step");
    tick(&app).await;
    assert_eq!(ada.receiver.count(), 0, "the lease is still held");
    app.clock.advance(SignedDuration::from_secs(61));
    tick(&app).await;
    assert_eq!((ada.receiver.count(), bob.receiver.count()), (1, 0));

    // Dies right after step 1's transaction committed, before completing its job.
    app.clock.advance(SignedDuration::from_mins(5));
    let now = app.clock.now();
    let claimed = store
        .claim_jobs("dead-2", now, lease(now), 10, ALL)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let ctx = klaxon_server::engine::JobContext {
        store: store.clone(),
        clock: app.state.clock.clone(),
        settings: app.state.settings.clone(),
        http: reqwest::Client::new(),
        outgoing: app.state.engine.outgoing().clone(),
    };
    use klaxon_server::engine::JobHandler as _;
    klaxon_server::oncall::paging::EscalationStepHandler
        .run(&claimed[0], &ctx)
        .await
        .unwrap();
    // Its notification was committed: the surviving engine sends it, once.
    tick(&app).await;
    assert_eq!((ada.receiver.count(), bob.receiver.count()), (1, 1));
    // The orphaned job runs again after its lease: the step is already written, nothing is
    // sent twice, and the policy (no repeat) then ends.
    app.clock.advance(SignedDuration::from_secs(61));
    tick(&app).await;
    for _ in 0..4 {
        wait(&app, 5).await;
    }
    assert_eq!((ada.receiver.count(), bob.receiver.count()), (1, 1));
    let incident = only_incident(&app).await;
    let kinds = timeline_kinds(&app, incident["id"].as_str().unwrap()).await;
    let escalated = kinds.iter().filter(|k| *k == "incident.escalated").count();
    assert_eq!(escalated, 2, "one event per step: {kinds:?}");
    assert_eq!(
        kinds
            .iter()
            .filter(|k| *k == "incident.escalation_exhausted")
            .count(),
        1
    );
    app.stop().await;
}

/// A storm of 50 incidents for one person: each contact method gets one message listing them
/// rather than 50, and SMS waits out its minute before the next bundle.
async fn a_storm_is_bundled_and_sms_throttled(b: Backend) {
    let twilio = Receiver::spawn().await;
    let base = twilio.url.trim_end_matches("/hook").to_owned();
    let Some(app) = TestApp::spawn_with(b, move |s| {
        s.sms.base_url = base;
        s.sms.account_sid = Some("AC0000".into());
        s.sms.auth_token = Some("secret".into());
        s.sms.from = Some("+15550000000".into());
    })
    .await
    else {
        return;
    };
    let ada = person(&app, "ada@example.com").await;
    let r = app
        .post(
            &format!("/api/v1/users/{}/contact-methods", ada.id),
            &ada.token,
            &json!({"kind": "sms", "label": "phone", "address": "+14155550123",
                    "password": "correct horse battery"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let sms: Value = r.json().await.unwrap();
    let r = app
        .post(
            &format!("/api/v1/users/{}/notification-rules", ada.id),
            &ada.token,
            &json!({"contact_method_id": sms["id"], "delay_minutes": 0}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let key = service(&app, &[(30, vec![&ada])], 0).await;
    for n in 0..50 {
        event(&app, &key, "trigger", &format!("k{n}")).await;
    }
    tick(&app).await;
    // Webhooks take what comes, bundled per claim; SMS sent one bundle and holds the rest.
    let hooks = ada.receiver.bodies();
    assert!(
        !hooks.is_empty() && hooks.len() <= 2,
        "{} webhook messages",
        hooks.len()
    );
    let covered: u64 = hooks
        .iter()
        .map(|b| match b["type"].as_str() {
            Some("incident.page.bundle") => b["data"]["count"].as_u64().unwrap(),
            _ => 1,
        })
        .sum();
    assert_eq!(covered, 50, "every page is in one webhook message");
    assert_eq!(twilio.count(), 1, "one SMS, not 50");
    let text = twilio.bodies()[0].as_str().unwrap().to_owned();
    assert!(
        text.contains("incidents+need+you") || text.contains("incidents%20need%20you"),
        "{text}"
    );
    // Within the minute nothing more goes by SMS; after it, what waited goes as one more.
    app.clock.advance(SignedDuration::from_secs(30));
    tick(&app).await;
    assert_eq!(twilio.count(), 1);
    app.clock.advance(SignedDuration::from_secs(31));
    tick(&app).await;
    let after = twilio.count();
    assert!(after <= 2, "{after} SMS");
    for _ in 0..5 {
        app.clock.advance(SignedDuration::from_secs(61));
        tick(&app).await;
    }
    assert_eq!(twilio.count(), after, "nothing left to send");
    assert!(ada.receiver.count() <= 2);
    // Every one of the 100 notifications (50 webhook, 50 SMS) ended sent.
    let list: Value = app
        .get("/api/v1/incidents?limit=100", &app.admin.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut sent = 0;
    for i in list["items"].as_array().unwrap() {
        let n = notifications(&app, i).await;
        for item in n["items"].as_array().unwrap() {
            assert_eq!(item["status"], "sent", "{item}");
            sent += 1;
        }
    }
    assert_eq!(sent, 100);
    app.stop().await;
}

/// "Escalate now" pages the next level at once, once: the step that was due later is moved,
/// not doubled; an acknowledged incident is triggered again; a resolved one refuses.
async fn escalating_by_hand_pages_the_next_level_now(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = person(&app, "ada@example.com").await;
    let bob = person(&app, "bob@example.com").await;
    let cyd = person(&app, "cyd@example.com").await;
    let key = service(
        &app,
        &[(30, vec![&ada]), (30, vec![&bob]), (30, vec![&cyd])],
        0,
    )
    .await;
    event(&app, &key, "trigger", "down").await;
    tick(&app).await;
    let id = only_incident(&app).await["id"].as_str().unwrap().to_owned();
    let escalate = |token: &str| {
        app.post(
            &format!("/api/v1/incidents/{id}/escalate"),
            token,
            &json!({}),
        )
        .send()
    };
    let r = escalate(&ada.token).await.unwrap();
    assert_eq!(r.status(), 200);
    tick(&app).await;
    assert_eq!(
        (
            ada.receiver.count(),
            bob.receiver.count(),
            cyd.receiver.count()
        ),
        (1, 1, 0)
    );
    // Bob acknowledges, then thinks better of it: escalating re-triggers and pages Cyd.
    let r = app
        .post(
            &format!("/api/v1/incidents/{id}/acknowledge"),
            &bob.token,
            &json!({}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = escalate(&bob.token).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "triggered");
    tick(&app).await;
    assert_eq!(
        (
            ada.receiver.count(),
            bob.receiver.count(),
            cyd.receiver.count()
        ),
        (1, 1, 1)
    );
    // The steps once due at +30 and +60 minutes were moved, not doubled.
    for _ in 0..4 {
        wait(&app, 30).await;
    }
    assert_eq!(
        (
            ada.receiver.count(),
            bob.receiver.count(),
            cyd.receiver.count()
        ),
        (1, 1, 1)
    );
    let kinds = timeline_kinds(&app, &id).await;
    assert_eq!(
        kinds
            .iter()
            .filter(|k| *k == "incident.escalated_by_hand")
            .count(),
        2
    );
    let r = app
        .post(
            &format!("/api/v1/incidents/{id}/resolve"),
            &ada.token,
            &json!({}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    expect_error(escalate(&ada.token).await.unwrap(), 409, "conflict", None).await;
    app.stop().await;
}

/// Reassigning by hand pages the new person now and stops the policy; "escalate now" takes the
/// policy up again.
async fn reassigning_pages_the_new_person_and_stops_the_policy(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = person(&app, "ada@example.com").await;
    let bob = person(&app, "bob@example.com").await;
    let cyd = person(&app, "cyd@example.com").await;
    let key = service(&app, &[(10, vec![&ada]), (10, vec![&bob])], 1).await;
    event(&app, &key, "trigger", "down").await;
    tick(&app).await;
    let id = only_incident(&app).await["id"].as_str().unwrap().to_owned();
    let reassign = |body: Value| {
        app.post(
            &format!("/api/v1/incidents/{id}/reassign"),
            &ada.token,
            &body,
        )
        .send()
    };
    let r = reassign(json!({"user_id": "nope"})).await.unwrap();
    expect_error(r, 400, "invalid_field", Some("user_id")).await;
    let r = reassign(json!({"user_id": cyd.id})).await.unwrap();
    assert_eq!(r.status(), 200);
    tick(&app).await;
    assert_eq!(
        (
            ada.receiver.count(),
            bob.receiver.count(),
            cyd.receiver.count()
        ),
        (1, 0, 1)
    );
    assert_eq!(
        cyd.receiver.bodies()[0]["data"]["incident"]["id"],
        id.as_str()
    );
    for _ in 0..6 {
        wait(&app, 10).await;
    }
    assert_eq!(
        (
            ada.receiver.count(),
            bob.receiver.count(),
            cyd.receiver.count()
        ),
        (1, 0, 1)
    );
    // Nobody acknowledged: escalating takes the policy up at its next level.
    let r = app
        .post(
            &format!("/api/v1/incidents/{id}/escalate"),
            &cyd.token,
            &json!({}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    tick(&app).await;
    assert_eq!(
        (
            ada.receiver.count(),
            bob.receiver.count(),
            cyd.receiver.count()
        ),
        (1, 1, 1)
    );
    let kinds = timeline_kinds(&app, &id).await;
    assert!(
        kinds.iter().any(|k| k == "incident.reassigned"),
        "{kinds:?}"
    );
    app.stop().await;
}

/// A page waiting on a delayed rule goes where the contact method points when it is sent:
/// a changed address is followed, a removed method is not paged.
async fn queued_pages_follow_a_changed_contact_method(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = person(&app, "ada@example.com").await;
    let methods: Value = app
        .get(
            &format!("/api/v1/users/{}/contact-methods", ada.id),
            &ada.token,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let method = methods["items"][0]["id"].as_str().unwrap().to_owned();
    let r = app
        .post(
            &format!("/api/v1/users/{}/notification-rules", ada.id),
            &ada.token,
            &json!({"contact_method_id": method, "delay_minutes": 2}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let key = service(&app, &[(30, vec![&ada])], 0).await;
    event(&app, &key, "trigger", "down").await;
    tick(&app).await;
    assert_eq!(ada.receiver.count(), 1);
    let moved = Receiver::spawn().await;
    let r = app
        .http
        .patch(format!("{}/api/v1/contact-methods/{method}", app.url))
        .bearer_auth(&ada.token)
        .json(&json!({"address": moved.url, "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    wait(&app, 2).await;
    assert_eq!((ada.receiver.count(), moved.count()), (1, 1));
    app.stop().await;
}

on_both_backends!(
    a_hanging_webhook_receiver_does_not_hold_pages_back,
    followers_get_stakeholder_updates_and_nobody_else_does,
    people_are_paged_into_an_acknowledged_incident,
    one_level_pages_once_signed,
    two_levels_escalate_after_the_delay,
    repeats_then_stops,
    acknowledging_stops_the_escalation,
    resolving_mid_escalation_stops_everything,
    a_hanging_provider_gets_one_message_marked_failed,
    a_failing_provider_gets_bounded_retries,
    two_engines_never_page_twice,
    contact_methods_need_the_password_and_a_valid_address,
    an_engine_killed_mid_escalation_loses_and_doubles_nothing,
    a_storm_is_bundled_and_sms_throttled,
    escalating_by_hand_pages_the_next_level_now,
    reassigning_pages_the_new_person_and_stops_the_policy,
    queued_pages_follow_a_changed_contact_method,
);

/// Paging someone into an incident (by person or by role) pages exactly them, through their
/// rules, even though the incident is acknowledged; the escalation stays stopped; a resolved
/// incident pages nobody in.
async fn people_are_paged_into_an_acknowledged_incident(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = person(&app, "ada@example.com").await;
    let bob = person(&app, "bob@example.com").await;
    let key = service(&app, &[(5, vec![&ada])], 0).await;
    event(&app, &key, "trigger", "down").await;
    tick(&app).await;
    assert_eq!((ada.receiver.count(), bob.receiver.count()), (1, 0));
    let id = only_incident(&app).await["id"].as_str().unwrap().to_owned();
    let r = app
        .post(
            &format!("/api/v1/incidents/{id}/acknowledge"),
            &ada.token,
            &json!({}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Bob is paged in; the acknowledgement does not cancel his page.
    let r = app
        .post(
            &format!("/api/v1/incidents/{id}/page"),
            &ada.token,
            &json!({"user_id": bob.id, "message": "need the payments expert"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    tick(&app).await;
    assert_eq!((ada.receiver.count(), bob.receiver.count()), (1, 1));
    let (_, body) = bob.receiver.got.lock().unwrap()[0].clone();
    assert_eq!(body["data"]["incident"]["id"], id.as_str());

    // By role: Ada holds the scribe role and is paged; nobody else.
    let r = app
        .post(
            &format!("/api/v1/incidents/{id}/roles"),
            &ada.token,
            &json!({"role": "scribe", "user_id": ada.id}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = app
        .post(
            &format!("/api/v1/incidents/{id}/page"),
            &bob.token,
            &json!({"role": "scribe"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    wait(&app, 30).await;
    assert_eq!(
        (ada.receiver.count(), bob.receiver.count()),
        (2, 1),
        "no escalation either"
    );

    // A team, by its escalation policy: its first level (Bob) is paged.
    let r = app
        .post(
            "/api/v1/escalation-policies",
            &app.admin.token,
            &json!({"name": "payments team", "repeat": 0, "levels": [
                {"delay_minutes": 10, "targets": [{"type": "user", "id": bob.id}]},
                {"delay_minutes": 10, "targets": [{"type": "user", "id": ada.id}]}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let team = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .post(
            &format!("/api/v1/incidents/{id}/page"),
            &ada.token,
            &json!({"escalation_policy_id": team}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    wait(&app, 30).await;
    assert_eq!(
        (ada.receiver.count(), bob.receiver.count()),
        (2, 2),
        "only the first level"
    );
    let r = app
        .post(
            &format!("/api/v1/incidents/{id}/page"),
            &ada.token,
            &json!({"escalation_policy_id": "00000000-0000-7000-8000-000000000000"}),
        )
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_field", Some("escalation_policy_id")).await;

    // Refusals: a role nobody holds, neither target, a user without rules, a resolved incident.
    let r = app
        .post(
            &format!("/api/v1/incidents/{id}/page"),
            &ada.token,
            &json!({"role": "commander"}),
        )
        .send()
        .await
        .unwrap();
    expect_error(r, 409, "conflict", Some("role")).await;
    let r = app
        .post(
            &format!("/api/v1/incidents/{id}/page"),
            &ada.token,
            &json!({}),
        )
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_field", Some("user_id")).await;
    let (carol, _) = app.user_with_token("carol@example.com", "responder").await;
    let r = app
        .post(
            &format!("/api/v1/incidents/{id}/page"),
            &ada.token,
            &json!({"user_id": carol}),
        )
        .send()
        .await
        .unwrap();
    expect_error(r, 409, "conflict", Some("user_id")).await;
    let r = app
        .post(
            &format!("/api/v1/incidents/{id}/resolve"),
            &ada.token,
            &json!({}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .post(
            &format!("/api/v1/incidents/{id}/page"),
            &ada.token,
            &json!({"user_id": bob.id}),
        )
        .send()
        .await
        .unwrap();
    expect_error(r, 409, "conflict", Some("status")).await;
    wait(&app, 30).await;
    assert_eq!((ada.receiver.count(), bob.receiver.count()), (2, 2));
    let timeline: Value = app
        .get(
            &format!("/api/v1/incidents/{id}/timeline?limit=500"),
            &ada.token,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paged = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "incident.responder_paged")
        .count();
    assert_eq!(paged, 3);
    app.stop().await;
}

/// Stakeholder updates reach the incident's followers (by their webhook, not as a page), even
/// once it is resolved; someone who does not follow gets nothing.
async fn followers_get_stakeholder_updates_and_nobody_else_does(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = person(&app, "ada@example.com").await;
    let bob = person(&app, "bob@example.com").await;
    let r = app
        .post(
            "/api/v1/incidents",
            &ada.token,
            &json!({"title": "Checkout errors", "severity": "SEV3"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let post = |token: &str, path: String, body: Value| app.post(&path, token, &body).send();
    // Bob follows; Ada posts the "investigating" update.
    let r = post(
        &bob.token,
        format!("/api/v1/incidents/{id}/subscribers"),
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    // The answer is the follower, keyed by its user.
    let follower: Value = r.json().await.unwrap();
    assert_eq!(follower["id"], bob.id.as_str());
    assert_eq!(follower["user_id"], bob.id.as_str());
    assert!(follower["name"].is_string(), "{follower}");
    let r = post(
        &bob.token,
        format!("/api/v1/incidents/{id}/subscribers"),
        json!({}),
    )
    .await
    .unwrap();
    expect_error(r, 409, "conflict", Some("user_id")).await;
    let r = post(
        &ada.token,
        format!("/api/v1/incidents/{id}/updates"),
        json!({"template": "investigating"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    // The answer is the update: the timeline event it wrote.
    let update: Value = r.json().await.unwrap();
    assert_eq!(update["kind"], "incident.update_posted");
    assert_eq!(update["subject_id"], id.as_str());
    assert_eq!(update["id"], update["seq"]);
    assert_eq!(update["data"]["followers"], 1);
    assert!(
        update["data"]["message"]
            .as_str()
            .unwrap()
            .starts_with("We are investigating incident #1"),
        "{update}"
    );
    tick(&app).await;
    assert_eq!((ada.receiver.count(), bob.receiver.count()), (0, 1));
    let body = bob.receiver.bodies()[0].clone();
    assert_eq!(body["type"], "incident.update");
    assert!(
        body["data"]["update"]["message"]
            .as_str()
            .unwrap()
            .starts_with("We are investigating incident #1: Checkout errors."),
        "{body}"
    );

    // Resolved: the last update still goes out.
    let r = post(
        &ada.token,
        format!("/api/v1/incidents/{id}/resolve"),
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let r = post(
        &ada.token,
        format!("/api/v1/incidents/{id}/updates"),
        json!({"message": "All fixed."}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    tick(&app).await;
    assert_eq!(bob.receiver.count(), 2);
    assert_eq!(
        bob.receiver.bodies()[1]["data"]["update"]["message"],
        "All fixed."
    );

    // Refusals, and no more updates once Bob stops following.
    for (body, field) in [
        (json!({"template": "panic"}), "template"),
        (json!({"message": "  "}), "message"),
        (json!({"message": "x".repeat(5001)}), "message"),
    ] {
        let r = post(&ada.token, format!("/api/v1/incidents/{id}/updates"), body)
            .await
            .unwrap();
        expect_error(r, 400, "invalid_field", Some(field)).await;
    }
    let (viewer_id, viewer) = app.user_with_token("v@example.com", "viewer").await;
    let r = post(
        &viewer,
        format!("/api/v1/incidents/{id}/subscribers"),
        json!({"user_id": ada.id}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 403);
    let r = post(
        &viewer,
        format!("/api/v1/incidents/{id}/subscribers"),
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.json::<Value>().await.unwrap()["id"], viewer_id.as_str());
    let followers: Value = app
        .get(&format!("/api/v1/incidents/{id}/subscribers"), &viewer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(followers["items"].as_array().unwrap().len(), 2);
    assert!(
        followers["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["user_id"] == viewer_id.as_str() && f["id"] == viewer_id.as_str()),
        "{followers}"
    );
    let r = app
        .http
        .delete(format!(
            "{}/api/v1/incidents/{id}/subscribers/{}",
            app.url, bob.id
        ))
        .bearer_auth(&bob.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = post(
        &ada.token,
        format!("/api/v1/incidents/{id}/updates"),
        json!({"template": "resolved"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    wait(&app, 5).await;
    assert_eq!((ada.receiver.count(), bob.receiver.count()), (0, 2));
    app.stop().await;
}

/// The engine's own loop (as `klaxon serve` runs it) sends webhooks apart from pages: a
/// webhook receiver that never answers does not delay a page.
async fn a_hanging_webhook_receiver_does_not_hold_pages_back(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = person(&app, "ada@example.com").await;
    let key = service(&app, &[(5, vec![&ada])], 0).await;
    let hung = Receiver::spawn().await;
    hung.set(Mode::Hang);
    let r = app
        .post(
            "/api/v1/webhooks",
            &app.admin.token,
            &json!({"name": "slow tool", "url": hung.url, "events": []}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // Webhook deliveries pile up for the hanging receiver: it holds every one for 30 s.
    for n in 0..5 {
        app.post(
            "/api/v1/incidents",
            &app.admin.token,
            &json!({"title": format!("noise {n}"), "severity": "SEV4"}),
        )
        .send()
        .await
        .unwrap();
    }
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let engine = app.state.engine.clone();
    let running = tokio::spawn(engine.run(Duration::from_millis(50), async {
        let _ = stopped.await;
    }));
    // Let the webhook loop get stuck on the receiver, then trigger.
    for _ in 0..100 {
        if hung.count() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        hung.count() > 0,
        "the webhook loop reached the hanging receiver"
    );
    event(&app, &key, "trigger", "down").await;
    // The page goes out while the webhook send is still hanging.
    let mut paged = false;
    for _ in 0..250 {
        if ada.receiver.count() == 1 {
            paged = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(paged, "the page waited for the webhook receiver");
    let _ = stop.send(());
    running.abort();
    app.stop().await;
}
