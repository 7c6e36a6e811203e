//! Status page subscribers, on both backends: e-mail sign-up with double opt-in through a
//! local mail server, updates, one-click unsubscribe; Statuspage-shaped webhooks per
//! component, in order, retried without doubling; maintenance reminders; rate limits; bad input.
use crate::common;
use crate::mail_support;

use std::sync::{Arc, Mutex};

use axum::extract::State;
use jiff::SignedDuration;
use serde_json::{Value, json};

use common::{Backend, TestApp, delete, ok, patch, refused};
use mail_support::{Mail, MockSmtp};

on_both_backends!(
    email_subscribers_confirm_get_updates_and_unsubscribe_in_one_click,
    webhook_subscribers_get_statuspage_payloads_for_their_components_in_order,
    maintenance_reminders_go_once_before_the_start,
    bad_subscriber_input_is_refused_with_the_field,
);

const PUBLIC_URL: &str = "http://klaxon.test";

async fn spawn(b: Backend, smtp: &MockSmtp, per_minute: u32) -> Option<TestApp> {
    let port = smtp.port;
    TestApp::spawn_with(b, move |s| {
        s.server.public_url = Some(PUBLIC_URL.into());
        s.smtp.host = Some("127.0.0.1".into());
        s.smtp.port = Some(port);
        s.smtp.tls = klaxon_server::config::SmtpTls::None;
        s.smtp.from = Some("Acme status <status@example.com>".into());
        s.status_pages.signups_per_minute = per_minute;
    })
    .await
}

async fn setup(app: &TestApp) {
    let t = &app.admin.token;
    ok(
        app.post(
            "/api/v1/status-pages",
            t,
            &json!({"name": "Acme", "slug": "acme"}),
        ),
        201,
    )
    .await;
    for name in ["API", "Web"] {
        ok(
            app.post(
                "/api/v1/status-pages/acme/components",
                t,
                &json!({"name": name}),
            ),
            201,
        )
        .await;
    }
}

/// A form POST to a public page, as a browser sends it.
async fn form(app: &TestApp, path: &str, body: &str) -> reqwest::Response {
    app.http
        .post(format!("{}{path}", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

/// The path of the first link in `text` that starts with the public URL and contains `part`.
fn link(text: &str, part: &str) -> String {
    text.split_whitespace()
        .map(|w| w.trim_matches(|c| c == '<' || c == '>'))
        .find(|w| w.starts_with(PUBLIC_URL) && w.contains(part))
        .unwrap_or_else(|| panic!("no {part} link in {text}"))
        .trim_start_matches(PUBLIC_URL)
        .to_owned()
}

async fn send(app: &TestApp) {
    app.state.engine.tick().await.unwrap();
}

fn new_mails(smtp: &MockSmtp, seen: &mut usize) -> Vec<Mail> {
    let all = smtp.mails();
    let fresh = all[*seen..].to_vec();
    *seen = all.len();
    fresh
}

async fn email_subscribers_confirm_get_updates_and_unsubscribe_in_one_click(b: Backend) {
    let smtp = MockSmtp::spawn().await;
    let Some(app) = spawn(b, &smtp, 10).await else {
        return;
    };
    setup(&app).await;
    let t = &app.admin.token;
    let mut seen = 0;

    // The public page offers sign-up; a bad address is refused beside its field, kept.
    let page = app
        .http
        .get(format!("{}/status/acme", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("http://klaxon.test/status/acme/subscribe"),
        "{page}"
    );
    let r = form(&app, "/status/acme/subscribe", "email=not-an-address").await;
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    assert!(html.contains("value=\"not-an-address\""), "{html}");
    assert!(html.contains("id=\"email-error\""), "{html}");
    send(&app).await;
    assert!(new_mails(&smtp, &mut seen).is_empty());

    // Sign up: a confirmation e-mail, nothing else until confirmed.
    let r = form(&app, "/status/acme/subscribe", "email=Reader%40Example.com").await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Check your inbox"));
    send(&app).await;
    let mails = new_mails(&smtp, &mut seen);
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].to, vec!["reader@example.com".to_owned()]);
    assert_eq!(
        mails[0].header("Subject").as_deref(),
        Some("Confirm your subscription to Acme")
    );
    let confirm = link(&mails[0].text(), "/confirm?t=");
    let published = ok(
        app.post(
            "/api/v1/status-pages/acme/incidents",
            t,
            &json!({"name": "Slow API", "body": "Requests <b>time out</b>.",
                    "components": [{"component": "API", "status": "degraded_performance"}]}),
        ),
        201,
    )
    .await;
    let code = published["code"].as_str().unwrap().to_owned();
    send(&app).await;
    assert!(
        new_mails(&smtp, &mut seen).is_empty(),
        "unconfirmed got mail"
    );

    // Opening the link changes nothing (mail scanners open links); the button confirms.
    let r = app
        .http
        .get(format!("{}{confirm}", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains(">Confirm</button>"));
    let subs = ok(app.get("/api/v1/status-pages/acme/subscribers", t), 200).await;
    assert_eq!(subs[0]["confirmed"], false);
    let r = form(&app, &confirm, "").await;
    assert_eq!(r.status(), 200);
    let subs = ok(app.get("/api/v1/status-pages/acme/subscribers", t), 200).await;
    assert_eq!(subs[0]["confirmed"], true);
    assert_eq!(subs[0]["address"], "reader@example.com");

    // An update: one e-mail with its text (as text), and one-click unsubscribe headers.
    ok(
        app.post(
            &format!("/api/v1/status-pages/acme/incidents/{code}/updates"),
            t,
            &json!({"status": "identified", "body": "A bad deploy; rolling back.",
                    "next_update_in_minutes": 30}),
        ),
        201,
    )
    .await;
    send(&app).await;
    send(&app).await;
    let mails = new_mails(&smtp, &mut seen);
    assert_eq!(mails.len(), 1, "{mails:?}");
    let m = &mails[0];
    assert_eq!(
        m.header("Subject").as_deref(),
        Some("[Acme] Slow API: Identified")
    );
    let text = m.text();
    assert!(text.contains("A bad deploy; rolling back."), "{text}");
    assert!(text.contains("Affected: API"), "{text}");
    assert!(text.contains("Next update by"), "{text}");
    assert_eq!(
        m.header("List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    let unsubscribe = link(&m.header("List-Unsubscribe").unwrap(), "/unsubscribe?t=");

    // Signing up again at once sends nothing; ten minutes on, the manage link.
    let r = form(&app, "/status/acme/subscribe", "email=reader%40example.com").await;
    assert_eq!(r.status(), 200);
    send(&app).await;
    assert!(new_mails(&smtp, &mut seen).is_empty());
    app.clock.advance(SignedDuration::from_mins(11));
    form(&app, "/status/acme/subscribe", "email=reader%40example.com").await;
    send(&app).await;
    let mails = new_mails(&smtp, &mut seen);
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(
        mails[0].header("Subject").as_deref(),
        Some("Your subscription to Acme")
    );
    // The manage link chooses components: only Web from now on.
    let manage = link(&mails[0].text(), "/subscription/");
    let web_code = ok(app.get("/api/v1/status-pages/acme/components", t), 200).await[1]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = form(&app, &manage, &format!("components={web_code}")).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Saved."));
    ok(
        app.post(
            &format!("/api/v1/status-pages/acme/incidents/{code}/updates"),
            t,
            &json!({"status": "monitoring"}),
        ),
        201,
    )
    .await;
    send(&app).await;
    assert!(
        new_mails(&smtp, &mut seen).is_empty(),
        "an API incident reached a Web-only subscriber"
    );

    // One click (RFC 8058): gone, and the links with it.
    let r = form(&app, &unsubscribe, "List-Unsubscribe=One-Click").await;
    assert_eq!(r.status(), 200);
    let subs = ok(app.get("/api/v1/status-pages/acme/subscribers", t), 200).await;
    assert_eq!(subs, json!([]));
    let r = app
        .http
        .get(format!("{}{manage}", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // A forged token is refused like a missing subscriber.
    let forged = format!("{}x", confirm);
    assert_eq!(form(&app, &forged, "").await.status(), 404);
    ok(
        app.post(
            &format!("/api/v1/status-pages/acme/incidents/{code}/updates"),
            t,
            &json!({"status": "resolved"}),
        ),
        201,
    )
    .await;
    send(&app).await;
    assert!(new_mails(&smtp, &mut seen).is_empty());
    // Every step is on the page's record.
    let events = ok(
        app.get(
            "/api/v1/events?subject_type=status_page&subject_id=acme&limit=100",
            t,
        ),
        200,
    )
    .await;
    let kinds: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .filter(|k| k.contains("subscriber"))
        .collect();
    for k in [
        "status_page.subscriber_added",
        "status_page.subscriber_confirmed",
        "status_page.subscriber_mailed",
        "status_page.subscriber_updated",
        "status_page.subscriber_removed",
    ] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    app.stop().await;
}

type Posts = Arc<Mutex<Vec<(String, Value)>>>;
type Fail = Arc<Mutex<u32>>;

/// A webhook receiver on loopback; `/all` answers 500 while `fail` is above zero (counting
/// down).
async fn receiver() -> (String, Posts, Fail) {
    let got: Posts = Arc::default();
    let fail: Fail = Arc::default();
    let app = axum::Router::new()
        .route(
            "/{name}",
            axum::routing::post(
                |State((got, fail)): State<(Posts, Fail)>,
                 axum::extract::Path(name): axum::extract::Path<String>,
                 axum::Json(body): axum::Json<Value>| async move {
                    let mut f = fail.lock().unwrap();
                    if name == "all" && *f > 0 {
                        *f -= 1;
                        return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    got.lock().unwrap().push((name, body));
                    axum::http::StatusCode::OK
                },
            ),
        )
        .with_state((got.clone(), fail.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got, fail)
}

fn of(posts: &Posts, name: &str) -> Vec<Value> {
    posts
        .lock()
        .unwrap()
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, b)| b.clone())
        .collect()
}

async fn webhook_subscribers_get_statuspage_payloads_for_their_components_in_order(b: Backend) {
    let smtp = MockSmtp::spawn().await;
    let Some(app) = spawn(b, &smtp, 10).await else {
        return;
    };
    setup(&app).await;
    let t = &app.admin.token;
    let (base, posts, fail) = receiver().await;
    let add = |name: &str, components: Value| {
        app.post(
            "/api/v1/status-pages/acme/subscribers",
            t,
            &json!({"kind": "webhook", "address": format!("{base}/{name}"), "components": components}),
        )
    };
    let all = ok(add("all", json!([])), 201).await;
    assert_eq!(all["confirmed"], true);
    assert_eq!(all["all_components"], true);
    let api_only = ok(add("api", json!(["API"])), 201).await;
    assert_eq!(api_only["all_components"], false);
    assert_eq!(api_only["components"].as_array().unwrap().len(), 1);
    // Another page's news never reaches this page's subscribers.
    ok(
        app.post(
            "/api/v1/status-pages",
            t,
            &json!({"name": "Other", "slug": "other"}),
        ),
        201,
    )
    .await;
    ok(
        app.post(
            "/api/v1/status-pages/other/incidents",
            t,
            &json!({"name": "Elsewhere"}),
        ),
        201,
    )
    .await;

    // An incident on Web: the page-wide webhook gets it and Web's change; API's gets nothing.
    let i = ok(
        app.post(
            "/api/v1/status-pages/acme/incidents",
            t,
            &json!({"name": "Web is down", "impact": "major",
                    "components": [{"component": "Web", "status": "major_outage"}]}),
        ),
        201,
    )
    .await;
    let code = i["code"].as_str().unwrap().to_owned();
    send(&app).await;
    assert!(of(&posts, "api").is_empty());
    let got = of(&posts, "all");
    assert_eq!(got.len(), 2, "{got:#?}");
    let page_code = ok(app.get("/api/v1/status-pages/acme", t), 200).await["code"].clone();
    let inc = &got[0];
    assert_eq!(inc["page"]["id"], page_code);
    assert_eq!(inc["page"]["status_indicator"], "critical");
    assert!(
        inc["meta"]["unsubscribe"]
            .as_str()
            .unwrap()
            .starts_with("http://klaxon.test/status/acme/subscription/")
    );
    assert!(inc["meta"]["generated_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(inc["incident"]["id"], code.as_str());
    assert_eq!(inc["incident"]["status"], "investigating");
    assert_eq!(inc["incident"]["impact"], "major");
    assert_eq!(
        inc["incident"]["incident_updates"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    for k in [
        "postmortem_body",
        "backfilled",
        "scheduled_for",
        "shortlink",
    ] {
        assert!(inc["incident"].get(k).is_some(), "incident.{k} missing");
    }
    let cu = &got[1];
    assert_eq!(cu["component"]["name"], "Web");
    assert_eq!(cu["component"]["status"], "major_outage");
    assert_eq!(cu["component_update"]["old_status"], "operational");
    assert_eq!(cu["component_update"]["new_status"], "major_outage");
    assert_eq!(cu["component_update"]["component_type"], "Component");
    assert_eq!(
        cu["component_update"]["component_id"],
        cu["component"]["id"]
    );

    // The API set degraded by hand: only a component_update, to both webhooks.
    let api = patch(
        &app,
        "/api/v1/status-pages/acme/components/API",
        t,
        &json!({"status": "degraded_performance"}),
    );
    ok(api, 200).await;
    // The page-wide receiver fails once: its two next notices wait, then go in order, once.
    *fail.lock().unwrap() = 1;
    app.clock.advance(SignedDuration::from_mins(1));
    ok(
        app.post(
            &format!("/api/v1/status-pages/acme/incidents/{code}/updates"),
            t,
            &json!({"status": "resolved", "body": "Fixed."}),
        ),
        201,
    )
    .await;
    send(&app).await;
    let api_got = of(&posts, "api");
    assert_eq!(api_got.len(), 1, "{api_got:#?}");
    assert_eq!(
        api_got[0]["component_update"]["new_status"],
        "degraded_performance"
    );
    assert_eq!(of(&posts, "all").len(), 2, "sent past a failed notice");
    send(&app).await;
    assert_eq!(of(&posts, "all").len(), 2, "retried before its time");
    app.clock.advance(SignedDuration::from_secs(31));
    send(&app).await;
    let got = of(&posts, "all");
    assert_eq!(got.len(), 5, "{got:#?}");
    assert_eq!(
        got[2]["component_update"]["new_status"],
        "degraded_performance"
    );
    assert_eq!(got[3]["incident"]["status"], "resolved");
    assert_eq!(
        got[3]["incident"]["incident_updates"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(got[4]["component_update"]["new_status"], "operational");
    app.clock.advance(SignedDuration::from_mins(10));
    send(&app).await;
    assert_eq!(of(&posts, "all").len(), 5, "a notice went twice");
    assert!(smtp.mails().is_empty());
    let detail = ok(
        app.get(
            &format!(
                "/api/v1/status-pages/acme/subscribers/{}",
                all["id"].as_str().unwrap()
            ),
            t,
        ),
        200,
    )
    .await;
    let notices = detail["notices"].as_array().unwrap();
    assert_eq!(notices.len(), 5);
    assert!(notices.iter().all(|n| n["status"] == "sent"));
    assert!(notices.iter().any(|n| n["attempts"] == 2));
    // The link in `meta.unsubscribe` takes a webhook off, as Statuspage's does.
    let link = api_got[0]["meta"]["unsubscribe"].as_str().unwrap();
    let path = link.trim_start_matches(PUBLIC_URL);
    assert_eq!(form(&app, path, "").await.status(), 200);
    let left = ok(app.get("/api/v1/status-pages/acme/subscribers", t), 200).await;
    assert_eq!(left.as_array().unwrap().len(), 1);
    assert_eq!(left[0]["id"], all["id"]);
    app.stop().await;
}

async fn maintenance_reminders_go_once_before_the_start(b: Backend) {
    let smtp = MockSmtp::spawn().await;
    let Some(app) = spawn(b, &smtp, 10).await else {
        return;
    };
    setup(&app).await;
    let t = &app.admin.token;
    let mut seen = 0;
    form(&app, "/status/acme/subscribe", "email=ops%40example.com").await;
    send(&app).await;
    let confirm = link(&new_mails(&smtp, &mut seen)[0].text(), "/confirm?t=");
    assert_eq!(form(&app, &confirm, "").await.status(), 200);
    // 09:00 now; the window is 12:00 to 12:30, a reminder an hour before.
    ok(
        app.post(
            "/api/v1/status-pages/acme/incidents",
            t,
            &json!({"name": "DB upgrade", "maintenance": true, "remind_minutes": 60,
                "scheduled_for": "2026-11-21T12:00:00Z", "scheduled_until": "2026-11-21T12:30:00Z",
                "components": [{"component": "API", "status": "operational"}]}),
        ),
        201,
    )
    .await;
    send(&app).await;
    let mails = new_mails(&smtp, &mut seen);
    assert_eq!(mails.len(), 1, "the scheduling itself is news: {mails:?}");
    assert_eq!(
        mails[0].header("Subject").as_deref(),
        Some("[Acme] DB upgrade: Scheduled")
    );
    app.clock.advance(SignedDuration::from_mins(115));
    send(&app).await;
    assert!(new_mails(&smtp, &mut seen).is_empty(), "reminded early");
    app.clock.advance(SignedDuration::from_mins(6));
    send(&app).await;
    let mails = new_mails(&smtp, &mut seen);
    assert_eq!(mails.len(), 1, "{mails:?}");
    let subject = mails[0].header("Subject").unwrap();
    assert!(
        subject.starts_with("[Acme] Maintenance starts "),
        "{subject}"
    );
    app.clock.advance(SignedDuration::from_mins(20));
    send(&app).await;
    assert!(new_mails(&smtp, &mut seen).is_empty(), "reminded twice");
    // At 12:00 the engine starts it, and subscribers hear so.
    app.clock.advance(SignedDuration::from_mins(40));
    send(&app).await;
    send(&app).await;
    let mails = new_mails(&smtp, &mut seen);
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(
        mails[0].header("Subject").as_deref(),
        Some("[Acme] DB upgrade: In progress")
    );
    app.stop().await;
}

async fn bad_subscriber_input_is_refused_with_the_field(b: Backend) {
    let smtp = MockSmtp::spawn().await;
    let Some(app) = spawn(b, &smtp, 2).await else {
        return;
    };
    setup(&app).await;
    let t = &app.admin.token;
    let add = |body: Value| app.post("/api/v1/status-pages/acme/subscribers", t, &body);
    refused(
        add(json!({"kind": "sms", "address": "+14155550123"})),
        400,
        "invalid_field",
        Some("kind"),
    )
    .await;
    refused(
        add(json!({"kind": "email", "address": "nobody"})),
        400,
        "invalid_field",
        Some("address"),
    )
    .await;
    refused(
        add(json!({"kind": "webhook", "address": "ftp://x"})),
        400,
        "invalid_field",
        Some("address"),
    )
    .await;
    refused(
        add(json!({"kind": "email", "address": "a@example.com", "components": ["Nope"]})),
        400,
        "invalid_field",
        Some("components"),
    )
    .await;
    ok(
        add(json!({"kind": "email", "address": "a@example.com"})),
        201,
    )
    .await;
    refused(
        add(json!({"kind": "email", "address": "A@example.com"})),
        409,
        "conflict",
        Some("address"),
    )
    .await;
    let r = app
        .post(
            "/api/v1/status-pages/nope/subscribers",
            t,
            &json!({"kind": "email", "address": "a@example.com"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = delete(
        &app,
        "/api/v1/status-pages/acme/subscribers/nobody@example.com",
        t,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 404);
    // Responders may not list subscribers' addresses.
    let (_, responder) = app.user_with_token("r@example.com", "responder").await;
    let r = app
        .get("/api/v1/status-pages/acme/subscribers", &responder)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Self-service sign-up: two a minute from one client, then a clear refusal.
    for n in 0..2 {
        let r = form(
            &app,
            "/status/acme/subscribe",
            &format!("email=r{n}%40example.com"),
        )
        .await;
        assert_eq!(r.status(), 200);
    }
    let r = form(&app, "/status/acme/subscribe", "email=r9%40example.com").await;
    assert_eq!(r.status(), 429);
    let html = r.text().await.unwrap();
    assert!(html.contains("Too many sign-ups"), "{html}");
    assert!(html.contains("value=\"r9@example.com\""), "{html}");
    // Nothing half-written: three confirmation e-mails, for the three accepted addresses.
    send(&app).await;
    assert_eq!(smtp.mails().len(), 3);
    app.stop().await;
}
