//! E-mail, SMS and voice pages, and the one-click acknowledge links they carry: the real server
//! on a fresh database, a fake clock, the engine ticked by hand, and loopback mocks of a mail
//! server (SMTP spoken by hand, in mail_support) and of a Twilio-style API that record
//! everything they get. Every scenario checks exactly what each mock received.
use crate::common;
use crate::mail_support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use jiff::SignedDuration;
use klaxon_domain::Clock as _;
use klaxon_server::Settings;
use klaxon_server::config::SmtpTls;
use serde_json::{Value, json};

use common::{Backend, TestApp, expect_error};
use mail_support::{MockSmtp, SmtpMode};

const PUBLIC_URL: &str = "http://klaxon.test";

// --- a Twilio-style API -------------------------------------------------------------------------

/// One request the API got: account, resource, `Authorization` header and form fields.
#[derive(Debug, Clone)]
struct ProviderCall {
    account: String,
    resource: String,
    authorization: String,
    form: HashMap<String, String>,
}

type Calls = Arc<Mutex<Vec<ProviderCall>>>;

#[derive(Clone)]
struct MockTwilio {
    base_url: String,
    got: Calls,
    status: Arc<Mutex<u16>>,
}

impl MockTwilio {
    async fn spawn() -> Self {
        let got: Calls = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(Mutex::new(201u16));
        let app = axum::Router::new()
            .route(
                "/2010-04-01/Accounts/{account}/{resource}",
                axum::routing::post(
                    |State((got, status)): State<(Calls, Arc<Mutex<u16>>)>,
                     Path((account, resource)): Path<(String, String)>,
                     headers: HeaderMap,
                     axum::Form(form): axum::Form<HashMap<String, String>>| async move {
                        got.lock().unwrap().push(ProviderCall {
                            account,
                            resource,
                            authorization: headers
                                .get("authorization")
                                .map(|v| v.to_str().unwrap().to_owned())
                                .unwrap_or_default(),
                            form,
                        });
                        let code = *status.lock().unwrap();
                        let body = if code < 300 {
                            json!({"sid": "SM0123", "status": "queued"})
                        } else {
                            json!({"code": 21211, "message": "The 'To' number is not valid.",
                                   "status": code})
                        };
                        (StatusCode::from_u16(code).unwrap(), axum::Json(body))
                    },
                ),
            )
            .with_state((got.clone(), status.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            base_url,
            got,
            status,
        }
    }

    fn answer(&self, code: u16) {
        *self.status.lock().unwrap() = code;
    }

    fn calls(&self) -> Vec<ProviderCall> {
        self.got.lock().unwrap().clone()
    }
}

const SID: &str = "AC0123456789abcdef";
const AUTH_TOKEN: &str = "twilio-auth-token";
const FROM_NUMBER: &str = "+14155550100";

/// `Basic base64(user:password)` decoded.
fn basic_auth(header: &str) -> String {
    let coded = header.strip_prefix("Basic ").unwrap();
    let url_safe: String = coded
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    String::from_utf8(klaxon_server::crypto::unbase64url(&url_safe).unwrap()).unwrap()
}

// --- the application ----------------------------------------------------------------------------

fn with_smtp(s: &mut Settings, smtp: &MockSmtp) {
    s.server.public_url = Some(PUBLIC_URL.into());
    s.smtp.host = Some("127.0.0.1".into());
    s.smtp.port = Some(smtp.port);
    s.smtp.tls = SmtpTls::None;
    s.smtp.from = Some("Klaxon <klaxon@example.com>".into());
    // Short, so a test that waits on a silent server does not wait long.
    s.engine.send_timeout_ms = 2000;
}

fn with_twilio(s: &mut Settings, twilio: &MockTwilio) {
    s.server.public_url = Some(PUBLIC_URL.into());
    s.sms.base_url = twilio.base_url.clone();
    s.sms.account_sid = Some(SID.into());
    s.sms.auth_token = Some(AUTH_TOKEN.into());
    s.sms.from = Some(FROM_NUMBER.into());
}

struct Person {
    id: String,
}

/// A responder paged at once (high urgency) on each of `methods` (`(kind, address)`).
async fn person(app: &TestApp, email: &str, methods: &[(&str, &str)]) -> Person {
    person_with_role(app, email, "responder", methods).await
}

async fn person_with_role(
    app: &TestApp,
    email: &str,
    role: &str,
    methods: &[(&str, &str)],
) -> Person {
    let (id, token) = app.user_with_token(email, role).await;
    for (kind, address) in methods {
        let r = app
            .post(
                &format!("/api/v1/users/{id}/contact-methods"),
                &token,
                &json!({"kind": kind, "label": kind, "address": address,
                        "password": "correct horse battery"}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
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
    }
    Person { id }
}

/// A service paging `levels` (each `(delay_minutes, [people])`), and its Events v2 key.
async fn service(app: &TestApp, levels: &[(u32, Vec<&Person>)]) -> String {
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
            &json!({"name": "primary", "levels": levels, "repeat": 0}),
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

async fn trigger(app: &TestApp, key: &str) {
    let r = app
        .http
        .post(format!("{}/v2/enqueue", app.url))
        .json(
            &json!({"routing_key": key, "event_action": "trigger", "dedup_key": "down",
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

async fn notifications(app: &TestApp, incident: &Value) -> Vec<Value> {
    let id = incident["id"].as_str().unwrap();
    let list: Value = app
        .get(
            &format!("/api/v1/incidents/{id}/notifications"),
            &app.admin.token,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list["items"].as_array().unwrap().clone()
}

async fn timeline(app: &TestApp, incident: &Value) -> Vec<Value> {
    let id = incident["id"].as_str().unwrap();
    let t: Value = app
        .get(
            &format!("/api/v1/incidents/{id}/timeline"),
            &app.admin.token,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    t["items"].as_array().unwrap().clone()
}

/// The `/ack/{token}` path of the link in `text`.
fn ack_path(text: &str) -> String {
    let prefix = format!("{PUBLIC_URL}/ack/");
    let start = text
        .find(&prefix)
        .unwrap_or_else(|| panic!("no ack link in {text}"))
        + PUBLIC_URL.len();
    let token: String = text[start + 5..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    assert_eq!(token.len(), 48, "{text}");
    format!("/ack/{token}")
}

async fn get_page(app: &TestApp, path: &str) -> (StatusCode, String) {
    let r = app
        .http
        .get(format!("{}{path}", app.url))
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn post_page(app: &TestApp, path: &str) -> (StatusCode, String) {
    let r = app
        .http
        .post(format!("{}{path}", app.url))
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

// --- scenarios ----------------------------------------------------------------------------------

async fn an_email_page_carries_a_one_click_ack_link_that_stops_the_escalation(b: Backend) {
    let smtp = MockSmtp::spawn().await;
    let Some(app) = TestApp::spawn_with(b, |s| with_smtp(s, &smtp)).await else {
        return;
    };
    let ada = person(&app, "ada@example.com", &[("email", "Ada@Example.com")]).await;
    let bob = person(&app, "bob@example.com", &[("email", "bob@example.com")]).await;
    let key = service(&app, &[(5, vec![&ada]), (5, vec![&bob])]).await;
    trigger(&app, &key).await;
    tick(&app).await;

    let mails = smtp.mails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = &mails[0];
    assert_eq!(mail.from, "klaxon@example.com");
    assert_eq!(mail.to, vec!["ada@example.com"]);
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("[HIGH] Incident #1: Checkout is down")
    );
    assert_eq!(mail.header("To").as_deref(), Some("ada@example.com"));
    assert!(
        mail.header("Content-Type")
            .is_some_and(|c| c.starts_with("text/plain")),
        "{mail:?}"
    );
    let text = mail.text();
    assert!(text.contains("Service:   checkout"), "{text}");
    let incident = only_incident(&app).await;
    let incident_id = incident["id"].as_str().unwrap();
    assert!(
        text.contains(&format!("{PUBLIC_URL}/incidents/{incident_id}")),
        "{text}"
    );
    let ack = ack_path(&text);
    assert!(
        text.contains("It works until 2026-11-22 09:00 UTC"),
        "{text}"
    );
    let sent = notifications(&app, &incident).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["status"], "sent");
    assert_eq!(sent[0]["channel"], "email");

    // GET shows the incident and a button, and changes nothing (mail scanners follow links).
    for _ in 0..2 {
        let (status, html) = get_page(&app, &ack).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("Checkout is down"), "{html}");
        assert!(html.contains("<form method=\"post\""), "{html}");
        assert!(html.contains("id=\"acknowledge\""), "{html}");
    }
    assert_eq!(only_incident(&app).await["status"], "triggered");
    assert!(
        !timeline(&app, &incident)
            .await
            .iter()
            .any(|e| e["kind"] == "incident.acknowledged")
    );

    // POST acknowledges, as Ada.
    let (status, html) = post_page(&app, &ack).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Acknowledged"), "{html}");
    assert_eq!(only_incident(&app).await["status"], "acknowledged");
    let acks: Vec<Value> = timeline(&app, &incident)
        .await
        .into_iter()
        .filter(|e| e["kind"] == "incident.acknowledged")
        .collect();
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0]["actor"], format!("user:{}", ada.id));

    // The escalation stopped: past level 1's delay nobody else hears of it.
    wait(&app, 6).await;
    wait(&app, 30).await;
    assert_eq!(smtp.mails().len(), 1);

    // The link again: already done, nothing changes.
    let (status, html) = post_page(&app, &ack).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(html.contains("already acknowledged"), "{html}");
    let (status, html) = get_page(&app, &ack).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!html.contains("id=\"acknowledge\""), "{html}");
    assert_eq!(
        timeline(&app, &incident)
            .await
            .iter()
            .filter(|e| e["kind"] == "incident.acknowledged")
            .count(),
        1
    );
    app.stop().await;
}

async fn tampered_and_expired_ack_links_change_nothing(b: Backend) {
    let smtp = MockSmtp::spawn().await;
    let Some(app) = TestApp::spawn_with(b, |s| with_smtp(s, &smtp)).await else {
        return;
    };
    let ada = person(&app, "ada@example.com", &[("email", "ada@example.com")]).await;
    let key = service(&app, &[(60, vec![&ada])]).await;
    trigger(&app, &key).await;
    tick(&app).await;
    let ack = ack_path(&smtp.mails()[0].text());
    let token = ack.strip_prefix("/ack/").unwrap();

    // Each character changed in turn: refused as not issued here, GET and POST alike.
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for i in [0, 10, 20, 30, 47] {
        let c = token.as_bytes()[i] as char;
        let other = alphabet.chars().find(|x| *x != c).unwrap();
        let mut changed = token.to_owned();
        changed.replace_range(i..=i, &other.to_string());
        for (status, html) in [
            get_page(&app, &format!("/ack/{changed}")).await,
            post_page(&app, &format!("/ack/{changed}")).await,
        ] {
            assert_eq!(status, StatusCode::FORBIDDEN, "char {i}: {html}");
            assert!(html.contains("Link not valid"), "{html}");
        }
    }
    // Cut short or not a token at all: a bad request.
    for bad in [&token[..40], "nonsense", "%20"] {
        let (status, html) = post_page(&app, &format!("/ack/{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {html}");
    }
    // Another instance on the same database (or this one after a restart) has the same key,
    // so the link works there too.
    let other = klaxon_server::app::open_store(&app.state.settings)
        .await
        .unwrap();
    let key = other
        .server_key(klaxon_server::oncall::ack::ACK_KEY)
        .await
        .unwrap();
    assert_eq!(
        klaxon_server::oncall::ack::check_ack_token(&key, token, app.clock.now()),
        Ok(sent_id(&app).await)
    );
    other.close().await;
    // A token made with another key (as another Klaxon would make it).
    let foreign = klaxon_server::oncall::ack::ack_token(
        &[9u8; 32],
        sent_id(&app).await,
        app.clock
            .now()
            .checked_add(SignedDuration::from_hours(1))
            .unwrap(),
    );
    let (status, _) = post_page(&app, &format!("/ack/{foreign}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(only_incident(&app).await["status"], "triggered");

    // 24 hours on, the real link has expired.
    app.clock.advance(SignedDuration::from_hours(24));
    let (status, html) = get_page(&app, &ack).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("expired"), "{html}");
    let (status, html) = post_page(&app, &ack).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("expired"), "{html}");
    let incident = only_incident(&app).await;
    assert_eq!(incident["status"], "triggered");
    assert!(
        !timeline(&app, &incident)
            .await
            .iter()
            .any(|e| e["kind"] == "incident.acknowledged")
    );
    app.stop().await;
}

async fn a_viewer_cannot_acknowledge_by_link(b: Backend) {
    let smtp = MockSmtp::spawn().await;
    let Some(app) = TestApp::spawn_with(b, |s| with_smtp(s, &smtp)).await else {
        return;
    };
    let vic = person_with_role(
        &app,
        "vic@example.com",
        "viewer",
        &[("email", "vic@example.com")],
    )
    .await;
    let key = service(&app, &[(60, vec![&vic])]).await;
    trigger(&app, &key).await;
    tick(&app).await;
    let ack = ack_path(&smtp.mails()[0].text());
    let (status, html) = post_page(&app, &ack).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("does not allow"), "{html}");
    assert_eq!(only_incident(&app).await["status"], "triggered");
    app.stop().await;
}

/// The id of the one notification sent so far.
async fn sent_id(app: &TestApp) -> klaxon_domain::ids::NotificationId {
    let incident = only_incident(app).await;
    notifications(app, &incident).await[0]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn sms_and_voice_pages_reach_the_provider(b: Backend) {
    let twilio = MockTwilio::spawn().await;
    let Some(app) = TestApp::spawn_with(b, |s| with_twilio(s, &twilio)).await else {
        return;
    };
    let ada = person(
        &app,
        "ada@example.com",
        &[("sms", "+1 (415) 555-0123"), ("voice", "+44 20 7946 0958")],
    )
    .await;
    let key = service(&app, &[(60, vec![&ada])]).await;
    trigger(&app, &key).await;
    tick(&app).await;

    let mut calls = twilio.calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    calls.sort_by(|a, b| b.resource.cmp(&a.resource));
    let (sms, call) = (&calls[0], &calls[1]);
    for c in [sms, call] {
        assert_eq!(c.account, SID);
        assert_eq!(basic_auth(&c.authorization), format!("{SID}:{AUTH_TOKEN}"));
        assert_eq!(c.form["From"], FROM_NUMBER);
    }
    assert_eq!(sms.resource, "Messages.json");
    assert_eq!(sms.form["To"], "+14155550123");
    let body = &sms.form["Body"];
    assert!(
        body.starts_with(&format!(
            "[HIGH] #1 Checkout is down (checkout) Ack: {PUBLIC_URL}/ack/"
        )),
        "{body}"
    );
    assert!(body.chars().count() <= 160, "{body}");
    assert_eq!(sms.form.len(), 3, "{:?}", sms.form);

    assert_eq!(call.resource, "Calls.json");
    assert_eq!(call.form["To"], "+442079460958");
    let twiml = &call.form["Twiml"];
    assert!(twiml.starts_with("<Response><Say"), "{twiml}");
    assert!(twiml.ends_with("</Say></Response>"), "{twiml}");
    assert!(
        twiml.contains("incident 1 on service checkout: Checkout is down."),
        "{twiml}"
    );
    assert_eq!(call.form.len(), 3, "{:?}", call.form);

    let incident = only_incident(&app).await;
    let sent = notifications(&app, &incident).await;
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|n| n["status"] == "sent"), "{sent:?}");

    // The text's link acknowledges too.
    let ack = ack_path(body);
    let (status, html) = post_page(&app, &ack).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert_eq!(only_incident(&app).await["status"], "acknowledged");
    wait(&app, 61).await;
    assert_eq!(twilio.calls().len(), 2);
    app.stop().await;
}

async fn provider_errors_are_retried_or_failed_as_they_mean(b: Backend) {
    let twilio = MockTwilio::spawn().await;
    let smtp = MockSmtp::spawn().await;
    let Some(app) = TestApp::spawn_with(b, |s| {
        with_twilio(s, &twilio);
        with_smtp(s, &smtp);
    })
    .await
    else {
        return;
    };
    let ada = person(&app, "ada@example.com", &[("sms", "+14155550123")]).await;
    let key = service(&app, &[(60, vec![&ada])]).await;

    // 500: the provider surely did not send it; tried again after the back-off, then sent.
    twilio.answer(500);
    trigger(&app, &key).await;
    tick(&app).await;
    assert_eq!(twilio.calls().len(), 1);
    let incident = only_incident(&app).await;
    let n = &notifications(&app, &incident).await[0];
    assert_eq!(n["status"], "pending", "{n}");
    assert_eq!(n["attempts"], 1);
    let error = n["last_error"].as_str().unwrap();
    assert!(
        error.contains("500") && error.contains("not valid"),
        "{error}"
    );
    twilio.answer(201);
    app.clock.advance(SignedDuration::from_secs(6));
    tick(&app).await;
    assert_eq!(twilio.calls().len(), 2);
    let n = &notifications(&app, &incident).await[0];
    assert_eq!(n["status"], "sent", "{n}");
    assert_eq!(n["attempts"], 2);

    // 400: refused for good, never sent again.
    let r = app
        .post(
            &format!(
                "/api/v1/incidents/{}/resolve",
                incident["id"].as_str().unwrap()
            ),
            &app.admin.token,
            &json!({}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A phone gets at most one message a minute: let the minute pass.
    app.clock.advance(SignedDuration::from_secs(60));
    twilio.answer(400);
    let r = app
        .http
        .post(format!("{}/v2/enqueue", app.url))
        .json(
            &json!({"routing_key": key, "event_action": "trigger", "dedup_key": "again",
                      "payload": {"summary": "Checkout is down again", "source": "lb-1",
                                  "severity": "critical"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    tick(&app).await;
    assert_eq!(twilio.calls().len(), 3);
    for _ in 0..5 {
        app.clock.advance(SignedDuration::from_secs(30));
        tick(&app).await;
    }
    assert_eq!(twilio.calls().len(), 3);
    let second = incident_titled(&app, "Checkout is down again", "checkout").await;
    let n = &notifications(&app, &second).await[0];
    assert_eq!(n["status"], "failed", "{n}");
    assert_eq!(n["attempts"], 1);
    assert!(n["last_error"].as_str().unwrap().contains("400"), "{n}");

    // SMTP: a 451 after the message is retried; a 550 for the recipient fails for good.
    let bob = person(&app, "bob@example.com", &[("email", "bob@example.com")]).await;
    let key = service_named(&app, "mail", &bob).await;
    smtp.set(SmtpMode::DeferMessage);
    trigger(&app, &key).await;
    tick(&app).await;
    let mail_incident = incident_titled(&app, "Checkout is down", "mail").await;
    let n = &notifications(&app, &mail_incident).await[0];
    assert_eq!(n["status"], "pending", "{n}");
    assert!(n["last_error"].as_str().unwrap().contains("451"), "{n}");
    assert!(smtp.mails().is_empty());
    smtp.set(SmtpMode::Accept);
    app.clock.advance(SignedDuration::from_secs(6));
    tick(&app).await;
    assert_eq!(smtp.mails().len(), 1);
    assert_eq!(
        notifications(&app, &mail_incident).await[0]["status"],
        "sent"
    );

    smtp.set(SmtpMode::RejectRecipient);
    app.clock.advance(SignedDuration::from_secs(60)); // one mail a minute per address
    let r = app
        .post(
            &format!(
                "/api/v1/incidents/{}/resolve",
                mail_incident["id"].as_str().unwrap()
            ),
            &app.admin.token,
            &json!({}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .http
        .post(format!("{}/v2/enqueue", app.url))
        .json(
            &json!({"routing_key": key, "event_action": "trigger", "dedup_key": "bounce",
                      "payload": {"summary": "Mail bounces", "source": "lb-1",
                                  "severity": "critical"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    tick(&app).await;
    for _ in 0..5 {
        app.clock.advance(SignedDuration::from_secs(30));
        tick(&app).await;
    }
    let bounced = incident_titled(&app, "Mail bounces", "mail").await;
    let n = &notifications(&app, &bounced).await[0];
    assert_eq!(n["status"], "failed", "{n}");
    assert_eq!(n["attempts"], 1);
    assert!(n["last_error"].as_str().unwrap().contains("550"), "{n}");
    assert_eq!(smtp.mails().len(), 1);
    app.stop().await;
}

async fn a_quiet_mail_server_is_retried_only_before_it_has_the_message(b: Backend) {
    let smtp = MockSmtp::spawn().await;
    let Some(app) = TestApp::spawn_with(b, |s| with_smtp(s, &smtp)).await else {
        return;
    };
    let ada = person(&app, "ada@example.com", &[("email", "ada@example.com")]).await;
    let key = service(&app, &[(60, vec![&ada])]).await;

    // No greeting within the send timeout (2 s here): nothing was handed over, so try again.
    smtp.set(SmtpMode::SilentGreeting);
    trigger(&app, &key).await;
    tick(&app).await;
    let incident = only_incident(&app).await;
    let n = &notifications(&app, &incident).await[0];
    assert_eq!(n["status"], "pending", "{n}");
    assert!(
        n["last_error"]
            .as_str()
            .unwrap()
            .contains("nothing was sent"),
        "{n}"
    );
    smtp.set(SmtpMode::Accept);
    app.clock.advance(SignedDuration::from_secs(6));
    tick(&app).await;
    assert_eq!(smtp.mails().len(), 1);
    assert_eq!(notifications(&app, &incident).await[0]["status"], "sent");

    // The message written but never confirmed: it may have arrived, so it is not sent again.
    smtp.set(SmtpMode::SilentAfterMessage);
    let bob = person(&app, "bob@example.com", &[("email", "bob@example.com")]).await;
    let key = service_named(&app, "mail", &bob).await;
    trigger(&app, &key).await;
    tick(&app).await;
    assert_eq!(smtp.mails().len(), 2);
    let quiet = incident_titled(&app, "Checkout is down", "mail").await;
    let n = &notifications(&app, &quiet).await[0];
    assert_eq!(n["status"], "failed", "{n}");
    assert!(
        n["last_error"]
            .as_str()
            .unwrap()
            .contains("may or may not have taken"),
        "{n}"
    );
    smtp.set(SmtpMode::Accept);
    for _ in 0..4 {
        app.clock.advance(SignedDuration::from_secs(30));
        tick(&app).await;
    }
    assert_eq!(smtp.mails().len(), 2);
    app.stop().await;
}

async fn starttls_is_required_not_skipped(b: Backend) {
    // The default mode: a server that does not offer STARTTLS gets nothing in clear text.
    let smtp = MockSmtp::spawn().await;
    let Some(app) = TestApp::spawn_with(b, |s| {
        with_smtp(s, &smtp);
        s.smtp.tls = SmtpTls::Starttls;
    })
    .await
    else {
        return;
    };
    let ada = person(&app, "ada@example.com", &[("email", "ada@example.com")]).await;
    let key = service(&app, &[(60, vec![&ada])]).await;
    trigger(&app, &key).await;
    tick(&app).await;
    let incident = only_incident(&app).await;
    let n = &notifications(&app, &incident).await[0];
    assert_eq!(n["status"], "failed", "{n}");
    assert!(
        n["last_error"].as_str().unwrap().contains("STARTTLS"),
        "{n}"
    );
    assert!(smtp.mails().is_empty());
    app.stop().await;
}

/// A second service `name`, paging `who` at once, with its own policy; its Events v2 key.
async fn service_named(app: &TestApp, name: &str, who: &Person) -> String {
    let admin = &app.admin.token;
    let r = app
        .post(
            "/api/v1/escalation-policies",
            admin,
            &json!({"name": name, "levels": [{"delay_minutes": 60,
                     "targets": [{"type": "user", "id": who.id}]}], "repeat": 0}),
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
            &json!({"name": name, "escalation_policy_id": policy["id"]}),
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
            admin,
            &json!({"name": "prom", "kind": "events_v2"}),
        )
        .send()
        .await
        .unwrap();
    let integration: Value = r.json().await.unwrap();
    integration["key"].as_str().unwrap().to_owned()
}

/// The open incident titled `title` on the service named `service`.
async fn incident_titled(app: &TestApp, title: &str, service: &str) -> Value {
    let services: Value = app
        .get("/api/v1/services", &app.admin.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sid = services["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == service)
        .unwrap()["id"]
        .clone();
    let list: Value = app
        .get("/api/v1/incidents", &app.admin.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["title"] == title && i["service_id"] == sid && i["status"] != "resolved")
        .unwrap_or_else(|| panic!("no open {title:?} on {service}: {list}"))
        .clone()
}

async fn email_sms_and_voice_need_their_provider(b: Backend) {
    // Nothing configured: all three refused, with what to configure.
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let (id, token) = app.user_with_token("ada@example.com", "responder").await;
    let path = format!("/api/v1/users/{id}/contact-methods");
    let create = |kind: &str, address: &str| {
        app.post(
            &path,
            &token,
            &json!({"kind": kind, "label": "x", "address": address,
                    "password": "correct horse battery"}),
        )
        .send()
    };
    let e = expect_error(
        create("email", "ada@example.com").await.unwrap(),
        400,
        "invalid_field",
        Some("kind"),
    )
    .await;
    assert!(e["message"].as_str().unwrap().contains("[smtp]"), "{e}");
    for kind in ["sms", "voice"] {
        let e = expect_error(
            create(kind, "+14155550123").await.unwrap(),
            400,
            "invalid_field",
            Some("kind"),
        )
        .await;
        assert!(e["message"].as_str().unwrap().contains("[sms]"), "{e}");
    }
    let methods: Value = app
        .get(&path, &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(methods["items"].as_array().unwrap().is_empty());
    app.stop().await;

    // Only [smtp]: e-mail is accepted, SMS and voice still refused.
    let smtp = MockSmtp::spawn().await;
    let Some(app) = TestApp::spawn_with(b, |s| with_smtp(s, &smtp)).await else {
        return;
    };
    let (id, token) = app.user_with_token("ada@example.com", "responder").await;
    let path = format!("/api/v1/users/{id}/contact-methods");
    let create = |kind: &str, address: &str| {
        app.post(
            &path,
            &token,
            &json!({"kind": kind, "label": "x", "address": address,
                    "password": "correct horse battery"}),
        )
        .send()
    };
    let r = create("email", "ada@example.com").await.unwrap();
    assert_eq!(r.status(), 201);
    let method: Value = r.json().await.unwrap();
    // A test e-mail: says it is a test, and has nothing to acknowledge.
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
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, vec!["ada@example.com"]);
    assert_eq!(
        mails[0].header("Subject").as_deref(),
        Some("Klaxon test notification")
    );
    assert!(mails[0].text().contains("this contact method works"));
    assert!(!mails[0].text().contains("/ack/"));
    expect_error(
        create("sms", "+14155550123").await.unwrap(),
        400,
        "invalid_field",
        Some("kind"),
    )
    .await;
    app.stop().await;

    // Only [sms]: SMS and voice accepted, e-mail refused.
    let twilio = MockTwilio::spawn().await;
    let Some(app) = TestApp::spawn_with(b, |s| with_twilio(s, &twilio)).await else {
        return;
    };
    let (id, token) = app.user_with_token("ada@example.com", "responder").await;
    let path = format!("/api/v1/users/{id}/contact-methods");
    let create = |kind: &str, address: &str| {
        app.post(
            &path,
            &token,
            &json!({"kind": kind, "label": "x", "address": address,
                    "password": "correct horse battery"}),
        )
        .send()
    };
    let r = create("sms", "+14155550123").await.unwrap();
    assert_eq!(r.status(), 201);
    let method: Value = r.json().await.unwrap();
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
    let calls = twilio.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].form["Body"],
        "Klaxon test: this contact method works."
    );
    assert_eq!(create("voice", "+14155550123").await.unwrap().status(), 201);
    expect_error(
        create("email", "ada@example.com").await.unwrap(),
        400,
        "invalid_field",
        Some("kind"),
    )
    .await;
    app.stop().await;
}

on_both_backends!(
    an_email_page_carries_a_one_click_ack_link_that_stops_the_escalation,
    tampered_and_expired_ack_links_change_nothing,
    a_viewer_cannot_acknowledge_by_link,
    sms_and_voice_pages_reach_the_provider,
    provider_errors_are_retried_or_failed_as_they_mean,
    a_quiet_mail_server_is_retried_only_before_it_has_the_message,
    starttls_is_required_not_skipped,
    email_sms_and_voice_need_their_provider,
);
