//! Outgoing webhooks for incident events: a real HTTP receiver, the fake clock and the engine
//! ticked by hand, on both backends. Every request the receiver gets is checked.
use crate::common;

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use jiff::SignedDuration;
use klaxon_domain::Clock as _;
use klaxon_server::crypto::verify_v1;
use serde_json::{Value, json};

use common::{Backend, TestApp, expect_error, ok};

type Log = Arc<Mutex<Vec<(HeaderMap, Value)>>>;

/// Records every request and answers with the status it is set to.
struct Receiver {
    url: String,
    got: Log,
    status: Arc<Mutex<u16>>,
}

impl Receiver {
    async fn spawn() -> Self {
        let got: Log = Arc::default();
        let status = Arc::new(Mutex::new(200u16));
        let app = axum::Router::new()
            .fallback(
                |State((got, status)): State<(Log, Arc<Mutex<u16>>)>,
                 headers: HeaderMap,
                 body: axum::body::Bytes| async move {
                    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    got.lock().unwrap().push((headers, value));
                    StatusCode::from_u16(*status.lock().unwrap()).unwrap()
                },
            )
            .with_state((got.clone(), status.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/events", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, got, status }
    }

    fn answer(&self, status: u16) {
        *self.status.lock().unwrap() = status;
    }

    fn kinds(&self) -> Vec<String> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|(_, b)| b["type"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    fn header(&self, i: usize, name: &str) -> String {
        self.got.lock().unwrap()[i].0[name]
            .to_str()
            .unwrap()
            .to_owned()
    }
}

async fn hook(app: &TestApp, name: &str, url: &str, events: Value) -> (String, String) {
    let r = app
        .post(
            "/api/v1/webhooks",
            &app.admin.token,
            &json!({"name": name, "url": url, "events": events}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let w: Value = r.json().await.unwrap();
    (
        w["id"].as_str().unwrap().to_owned(),
        w["secret"].as_str().unwrap().to_owned(),
    )
}

async fn declare(app: &TestApp, title: &str) -> String {
    let r = app
        .post(
            "/api/v1/incidents",
            &app.admin.token,
            &json!({"title": title, "severity": "SEV3"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn note(app: &TestApp, id: &str, text: &str) {
    let r = app
        .post(
            &format!("/api/v1/incidents/{id}/notes"),
            &app.admin.token,
            &json!({"text": text}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

async fn tick(app: &TestApp) {
    app.state.engine.tick().await.unwrap();
}

async fn deliveries(app: &TestApp, hook: &str) -> Vec<Value> {
    let r = app
        .get(
            &format!("/api/v1/webhooks/{hook}/deliveries"),
            &app.admin.token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// Incident events reach a subscribed receiver once each, signed, with the incident; a
/// filtered webhook gets only its kinds; events from before a webhook existed are not sent.
async fn incident_events_are_delivered_signed_and_filtered(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let before = declare(&app, "before any webhook").await;
    let all = Receiver::spawn().await;
    let resolved_only = Receiver::spawn().await;
    let (_, secret) = hook(&app, "all incident events", &all.url, json!([])).await;
    hook(
        &app,
        "resolutions",
        &resolved_only.url,
        json!(["incident.resolved"]),
    )
    .await;
    tick(&app).await;
    assert!(
        all.kinds().is_empty(),
        "nothing from before: {:?}",
        all.kinds()
    );

    let id = declare(&app, "Checkout errors").await;
    note(&app, &id, "rolled back").await;
    note(&app, &before, "late note on the old one").await;
    tick(&app).await;
    assert_eq!(
        all.kinds(),
        vec![
            "incident.declared",
            "incident.note_added",
            "incident.note_added"
        ]
    );
    let got = all.got.lock().unwrap().clone();
    let (headers, body) = &got[0];
    assert_eq!(body["incident"]["title"], "Checkout errors");
    assert_eq!(body["incident"]["severity"], "SEV3");
    assert_eq!(headers["x-klaxon-event"], "incident.declared");
    let ts: i64 = headers["x-klaxon-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let raw = serde_json::to_vec(body).unwrap();
    assert!(verify_v1(
        &secret,
        ts,
        headers["x-klaxon-signature"].to_str().unwrap(),
        &raw,
        app.clock.now().as_second()
    ));
    assert_eq!(got[1].1["data"]["text"], "rolled back");
    // Nothing twice: another tick sends nothing more.
    tick(&app).await;
    assert_eq!(all.kinds().len(), 3);
    assert!(resolved_only.kinds().is_empty());

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
    tick(&app).await;
    assert_eq!(resolved_only.kinds(), vec!["incident.resolved"]);
    assert_eq!(
        all.kinds().last().map(String::as_str),
        Some("incident.resolved")
    );

    // Deliveries and webhooks page like every list, newest delivery first.
    let hooks = common::all_pages(&app, "/api/v1/webhooks", 1).await;
    assert_eq!(hooks.len(), 2);
    let all_id = hooks
        .iter()
        .find(|h| h["name"] == "all incident events")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let paged = common::all_pages(&app, &format!("/api/v1/webhooks/{all_id}/deliveries"), 3).await;
    let seqs: Vec<i64> = paged
        .iter()
        .map(|d| d["event_seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs.len(), 4, "{paged:?}");
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "{seqs:?}");
    assert_eq!(paged, deliveries(&app, &all_id).await);
    let r = app
        .get("/api/v1/webhooks?cursor=zz", &app.admin.token)
        .send()
        .await
        .unwrap();
    common::expect_error(r, 400, "invalid_field", Some("cursor")).await;
    let foreign = app
        .get(
            &format!("/api/v1/webhooks/{all_id}/deliveries?limit=1"),
            &app.admin.token,
        )
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["next_cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .get(
            &format!("/api/v1/webhooks?cursor={foreign}"),
            &app.admin.token,
        )
        .send()
        .await
        .unwrap();
    common::expect_error(r, 400, "invalid_field", Some("cursor")).await;
    app.stop().await;
}

/// A receiver that fails gets the delivery again later (the same delivery id), backing off;
/// one that refuses (4xx) is not retried; a disabled webhook gets nothing new.
async fn failed_deliveries_are_retried_with_backoff_or_given_up(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let rx = Receiver::spawn().await;
    let (hook_id, _) = hook(&app, "flaky", &rx.url, json!(["incident.note_added"])).await;
    let id = declare(&app, "db down").await;
    rx.answer(503);
    note(&app, &id, "first").await;
    tick(&app).await;
    assert_eq!(rx.kinds().len(), 1);
    let d = deliveries(&app, &hook_id).await;
    assert_eq!(
        (d[0]["status"].as_str(), d[0]["attempts"].as_u64()),
        (Some("pending"), Some(1))
    );
    assert!(d[0]["last_error"].as_str().unwrap().contains("503"));
    // Not before its time.
    app.clock.advance(SignedDuration::from_secs(29));
    tick(&app).await;
    assert_eq!(rx.kinds().len(), 1);
    rx.answer(200);
    app.clock.advance(SignedDuration::from_secs(1));
    tick(&app).await;
    assert_eq!(rx.kinds().len(), 2);
    assert_eq!(
        rx.header(0, "x-klaxon-delivery"),
        rx.header(1, "x-klaxon-delivery")
    );
    let d = deliveries(&app, &hook_id).await;
    assert_eq!(
        (d[0]["status"].as_str(), d[0]["attempts"].as_u64()),
        (Some("sent"), Some(2))
    );

    // A refusal is final.
    rx.answer(410);
    note(&app, &id, "second").await;
    tick(&app).await;
    app.clock.advance(SignedDuration::from_hours(2));
    tick(&app).await;
    assert_eq!(rx.kinds().len(), 3);
    let d = deliveries(&app, &hook_id).await;
    assert_eq!(
        (d[0]["status"].as_str(), d[0]["response_status"].as_u64()),
        (Some("failed"), Some(410))
    );

    // Disabled: nothing new.
    rx.answer(200);
    let r = app
        .http
        .patch(format!("{}/api/v1/webhooks/{hook_id}", app.url))
        .bearer_auth(&app.admin.token)
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    note(&app, &id, "third").await;
    tick(&app).await;
    assert_eq!(rx.kinds().len(), 3);
    app.stop().await;
}

/// Bad input names its field and writes nothing; only admins manage webhooks.
async fn webhooks_refuse_bad_input(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let admin = app.admin.token.clone();
    for (body, field) in [
        (json!({"name": "x", "url": "ftp://example.com"}), "url"),
        (
            json!({"name": "x", "url": "https://example.com", "events": ["incident.exploded"]}),
            "events",
        ),
        (json!({"name": " ", "url": "https://example.com"}), "name"),
    ] {
        let r = app
            .post("/api/v1/webhooks", &admin, &body)
            .send()
            .await
            .unwrap();
        expect_error(r, 400, "invalid_field", Some(field)).await;
    }
    hook(&app, "tracker", "https://example.com/hook", json!([])).await;
    let r = app
        .post(
            "/api/v1/webhooks",
            &admin,
            &json!({"name": "tracker", "url": "https://example.com/2"}),
        )
        .send()
        .await
        .unwrap();
    expect_error(r, 409, "conflict", Some("name")).await;
    let (_, responder) = app.user_with_token("r@example.com", "responder").await;
    let r = app
        .post(
            "/api/v1/webhooks",
            &responder,
            &json!({"name": "y", "url": "https://example.com"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let list: Value = app
        .get("/api/v1/webhooks", &admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert!(
        list["items"][0].get("secret").is_none(),
        "the secret is shown only once"
    );
    app.stop().await;
}

on_both_backends!(
    a_filter_that_skips_many_events_still_moves_on,
    the_webhooks_page_adds_shows_and_removes,
    incident_events_are_delivered_signed_and_filtered,
    failed_deliveries_are_retried_with_backoff_or_given_up,
    webhooks_refuse_bad_input,
);

/// The admin page: add (secret shown once), see deliveries, turn off, delete; others may not.
async fn the_webhooks_page_adds_shows_and_removes(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let (cookie, csrf) = common::session_for(&app, &app.admin.email, &app.admin.password).await;
    let post = |path: String, form: Vec<(&'static str, String)>| {
        app.http
            .post(format!("{}{path}", app.url))
            .header("cookie", &cookie)
            .form(&form)
            .send()
    };
    let r = post(
        "/webhooks".into(),
        vec![
            ("csrf", csrf.clone()),
            ("name", "tracker".into()),
            ("url", "ftp://nope".into()),
            ("events", String::new()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    // Beside the URL box, in words, with what was typed kept.
    assert!(
        page.contains("<p class=\"field-error\" id=\"webhook-url-error\">Must be an http"),
        "{page}"
    );
    assert!(page.contains("value=\"ftp://nope\""), "{page}");
    let r = post(
        "/webhooks".into(),
        vec![
            ("csrf", csrf.clone()),
            ("name", "tracker".into()),
            ("url", "https://tracker.example.com/hook".into()),
            ("events", "incident.resolved, incident.closed".into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"webhook-secret\""), "{html}");
    let list: Value = app
        .get("/api/v1/webhooks", &app.admin.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = list["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        list["items"][0]["events"],
        json!(["incident.resolved", "incident.closed"])
    );
    let page = common::web_get(&app, &format!("/webhooks/{id}")).await;
    assert!(page.contains("Nothing delivered yet."), "{page}");
    // Changed from its page: a refusal keeps what was typed; a good change is saved.
    let edit = |url: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("name", "tracker 2".into()),
            ("url", url.to_owned()),
            ("events", "incident.".into()),
        ]
    };
    let r = post(format!("/webhooks/{id}"), edit("not a url"))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert!(page.contains("id=\"webhook-url-error\""), "{page}");
    assert!(page.contains("value=\"tracker 2\""), "{page}");
    let r = post(
        format!("/webhooks/{id}"),
        edit("https://tracker.example.com/v2"),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let saved = ok(
        app.get(&format!("/api/v1/webhooks/{id}"), &app.admin.token),
        200,
    )
    .await;
    assert_eq!(saved["name"], "tracker 2");
    assert_eq!(saved["url"], "https://tracker.example.com/v2");
    assert_eq!(saved["events"], json!(["incident."]));
    let r = post(
        format!("/webhooks/{id}/enabled"),
        vec![("csrf", csrf.clone()), ("enabled", "false".into())],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 303);
    let page = common::web_get(&app, &format!("/webhooks/{id}")).await;
    assert!(
        page.contains("data-testid=\"webhook-state\">off<"),
        "{page}"
    );
    let r = post(
        format!("/webhooks/{id}/delete"),
        vec![("csrf", csrf.clone())],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 303);
    let page = common::web_get(&app, "/webhooks").await;
    assert!(page.contains("No webhooks yet."), "{page}");

    // A responder may not.
    app.user_with_token("r@example.com", "responder").await;
    let (rc, _) = common::session_for(&app, "r@example.com", "correct horse battery").await;
    let r = app
        .http
        .get(format!("{}/webhooks", app.url))
        .header("cookie", &rc)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    app.stop().await;
}

/// Hundreds of events a filtered webhook does not want do not hold it up; what happens while a
/// webhook is off is not sent when it is turned back on.
async fn a_filter_that_skips_many_events_still_moves_on(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let rx = Receiver::spawn().await;
    let (hook_id, _) = hook(&app, "resolutions", &rx.url, json!(["incident.resolved"])).await;
    let id = declare(&app, "noisy").await;
    let now = app.clock.now();
    for n in 0..1200 {
        let e = klaxon_domain::event::NewEvent::new(
            klaxon_domain::event::SubjectType::Incident,
            &id,
            now,
            klaxon_domain::event::Actor::System,
            klaxon_domain::event::EventKind::IncidentNoteAdded,
            json!({"text": format!("note {n}")}),
        );
        app.state.store.append_event(e).await.unwrap();
    }
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
    for _ in 0..4 {
        tick(&app).await;
    }
    assert_eq!(rx.kinds(), vec!["incident.resolved"]);

    // Off, an incident is declared and resolved; back on: none of it is sent.
    let toggle = |on: bool| {
        app.http
            .patch(format!("{}/api/v1/webhooks/{hook_id}", app.url))
            .bearer_auth(&app.admin.token)
            .json(&json!({"enabled": on}))
            .send()
    };
    assert_eq!(toggle(false).await.unwrap().status(), 200);
    let quiet = declare(&app, "while off").await;
    let r = app
        .post(
            &format!("/api/v1/incidents/{quiet}/resolve"),
            &app.admin.token,
            &json!({}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    tick(&app).await;
    assert_eq!(toggle(true).await.unwrap().status(), 200);
    tick(&app).await;
    assert_eq!(rx.kinds().len(), 1);
    app.stop().await;
}
