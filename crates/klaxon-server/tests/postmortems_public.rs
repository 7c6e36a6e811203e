//! A postmortem's public summary on the status page, on both backends: written on the
//! postmortem, attached by a person once it is published (409 before, or without a
//! status-page incident, or a second time), then on the public incident's page, its card, the
//! v2 JSON (Statuspage's postmortem_body and postmortem_published_at), the feeds and a
//! webhook subscriber's notice; the incident's timeline tells of it. Its page's form does the
//! same, and an action item added from the postmortem's page carries the postmortem's id.
use crate::common;
use crate::mail_support;

use std::sync::{Arc, Mutex};

use axum::extract::State;
use jiff::SignedDuration;
use klaxon_domain::Clock as _;
use serde_json::{Value, json};

use common::{Backend, PASSWORD, TestApp, member, ok, patch, refused, session_for, web_get_as};

on_both_backends!(
    a_published_postmortems_summary_goes_on_the_status_page_once,
    the_postmortem_page_attaches_the_summary_and_adds_its_action_items,
    email_subscribers_are_told_of_the_postmortem,
);

const SUMMARY: &str =
    "For 40 minutes some card payments failed.\n\nWe now roll caches out in waves.";

type Posts = Arc<Mutex<Vec<Value>>>;

/// A webhook receiver on loopback that keeps what it is sent.
async fn receiver() -> (String, Posts) {
    let got: Posts = Arc::default();
    let app = axum::Router::new()
        .route(
            "/hook",
            axum::routing::post(
                |State(got): State<Posts>, axum::Json(body): axum::Json<Value>| async move {
                    got.lock().unwrap().push(body);
                    axum::http::StatusCode::OK
                },
            ),
        )
        .with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

async fn spawn(b: Backend) -> Option<TestApp> {
    TestApp::spawn_with(b, |s| {
        s.server.public_url = Some("http://klaxon.test".into());
    })
    .await
}

/// A resolved SEV2 incident with a postmortem: (incident id, number, postmortem id).
async fn resolved_with_postmortem(
    app: &TestApp,
    token: &str,
    title: &str,
) -> (String, i64, String) {
    let i = ok(
        app.post(
            "/api/v1/incidents",
            token,
            &json!({"title": title, "severity": "SEV2"}),
        ),
        201,
    )
    .await;
    let id = i["id"].as_str().unwrap().to_owned();
    ok(
        app.post(
            &format!("/api/v1/incidents/{id}/resolve"),
            &app.admin.token,
            &json!({}),
        ),
        200,
    )
    .await;
    let pm = ok(
        app.post("/api/v1/postmortems", token, &json!({"incident_id": id})),
        201,
    )
    .await;
    (
        id,
        i["number"].as_i64().unwrap(),
        pm["id"].as_str().unwrap().to_owned(),
    )
}

async fn status_page(app: &TestApp) {
    let t = &app.admin.token;
    ok(
        app.post(
            "/api/v1/status-pages",
            t,
            &json!({"name": "Acme", "slug": "acme", "time_zone": "UTC"}),
        ),
        201,
    )
    .await;
    ok(
        app.post(
            "/api/v1/status-pages/acme/components",
            t,
            &json!({"name": "Payments"}),
        ),
        201,
    )
    .await;
}

async fn public_text(app: &TestApp, path: &str) -> String {
    let r = app
        .http
        .get(format!("{}{path}", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.text().await.unwrap()
}

async fn a_published_postmortems_summary_goes_on_the_status_page_once(b: Backend) {
    let Some(app) = spawn(b).await else {
        return;
    };
    let t = &app.admin.token;
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let viewer = member(&app, "vic@example.com", "Vic", "viewer").await;
    status_page(&app).await;
    let (hook, posts) = receiver().await;
    ok(
        app.post(
            "/api/v1/status-pages/acme/subscribers",
            t,
            &json!({"kind": "webhook", "address": hook}),
        ),
        201,
    )
    .await;

    // Customers were told on the page while it lasted.
    let i = ok(
        app.post(
            "/api/v1/incidents",
            &ada.token,
            &json!({"title": "Card payments fail", "severity": "SEV2"}),
        ),
        201,
    )
    .await;
    let inc = i["id"].as_str().unwrap().to_owned();
    let public = ok(
        app.post(
            "/api/v1/status-pages/acme/incidents",
            t,
            &json!({"name": "Payments failing", "impact": "major", "incident": i["number"].to_string(),
                    "components": [{"component": "Payments", "status": "major_outage"}]}),
        ),
        201,
    )
    .await;
    let code = public["code"].as_str().unwrap().to_owned();
    app.clock.advance(SignedDuration::from_mins(40));
    ok(
        app.post(
            &format!("/api/v1/status-pages/acme/incidents/{code}/updates"),
            t,
            &json!({"status": "resolved", "body": "Payments work again."}),
        ),
        201,
    )
    .await;
    ok(
        app.post(&format!("/api/v1/incidents/{inc}/resolve"), t, &json!({})),
        200,
    )
    .await;
    let pm = ok(
        app.post(
            "/api/v1/postmortems",
            &ada.token,
            &json!({"incident_id": inc}),
        ),
        201,
    )
    .await;
    let pm_id = pm["id"].as_str().unwrap().to_owned();
    assert_eq!(pm["public_summary"], "");
    assert_eq!(pm["public_incidents"][0]["code"], code.as_str());
    assert!(pm["public_incidents"][0]["postmortem_published_at"].is_null());
    let path = format!("/api/v1/postmortems/{pm_id}");
    let attach = format!("{path}/status-page");

    // The summary is written like the rest, within its limit.
    refused(
        patch(
            &app,
            &path,
            &ada.token,
            &json!({"public_summary": "x".repeat(10_001)}),
        ),
        400,
        "invalid_field",
        Some("public_summary"),
    )
    .await;
    let pm = ok(
        patch(&app, &path, &ada.token, &json!({"public_summary": SUMMARY})),
        200,
    )
    .await;
    assert_eq!(pm["public_summary"], SUMMARY);

    // Not before it is published; viewers never.
    refused(
        app.post(&attach, &ada.token, &json!({})),
        409,
        "conflict",
        Some("state"),
    )
    .await;
    ok(
        app.post(
            &format!("{path}/publish"),
            t,
            &json!({"reason": "reviewed in the weekly meeting"}),
        ),
        200,
    )
    .await;
    refused(
        app.post(&attach, &viewer.token, &json!({})),
        403,
        "forbidden",
        None,
    )
    .await;
    // Read-only once published, the summary too.
    refused(
        patch(&app, &path, &ada.token, &json!({"public_summary": "other"})),
        409,
        "conflict",
        Some("state"),
    )
    .await;

    // Another published postmortem: its incident has no status-page incident.
    let (_, _, lone) = resolved_with_postmortem(&app, &ada.token, "Search is slow").await;
    let lone_path = format!("/api/v1/postmortems/{lone}");
    ok(
        patch(
            &app,
            &lone_path,
            &ada.token,
            &json!({"public_summary": "Search was slow."}),
        ),
        200,
    )
    .await;
    ok(
        app.post(
            &format!("{lone_path}/publish"),
            t,
            &json!({"reason": "small"}),
        ),
        200,
    )
    .await;
    let e = refused(
        app.post(&format!("{lone_path}/status-page"), &ada.token, &json!({})),
        409,
        "conflict",
        Some("status_page"),
    )
    .await;
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("no status-page incident"),
        "{e}"
    );

    // Attached: now, once.
    app.state.engine.tick().await.unwrap();
    let told_before = posts.lock().unwrap().len();
    app.clock.advance(SignedDuration::from_mins(90));
    let at = app.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let got = ok(app.post(&attach, &ada.token, &json!({})), 200).await;
    assert_eq!(got["items"][0]["code"], code.as_str());
    assert_eq!(got["items"][0]["page"], "acme");
    assert_eq!(got["items"][0]["postmortem_published_at"], at.as_str());
    refused(
        app.post(&attach, &ada.token, &json!({})),
        409,
        "conflict",
        Some("status_page"),
    )
    .await;
    let events = ok(
        app.get(&format!("/api/v1/incidents/{inc}/timeline?limit=500"), t),
        200,
    )
    .await;
    let told: Vec<&Value> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "postmortem.attached")
        .collect();
    assert_eq!(told.len(), 1, "{events}");
    assert_eq!(told[0]["data"]["postmortem_id"], pm_id.as_str());

    // Readers: the incident's page, the card in the history, the v2 JSON and the feeds.
    let html = public_text(&app, &format!("/status/acme/incidents/{code}")).await;
    assert!(
        html.contains("<h2 id=\"postmortem-title\">Postmortem</h2>"),
        "{html}"
    );
    assert!(
        html.contains("<p>For 40 minutes some card payments failed.</p>"),
        "{html}"
    );
    assert!(
        html.contains("<p>We now roll caches out in waves.</p>"),
        "{html}"
    );
    for list in ["/status/acme/history", "/status/acme"] {
        let html = public_text(&app, list).await;
        assert!(
            html.contains(&format!("incidents/{code}#postmortem\">Postmortem</a>")),
            "{list}: {html}"
        );
    }
    let v2: Value =
        serde_json::from_str(&public_text(&app, "/status/acme/api/v2/incidents.json").await)
            .unwrap();
    let i = &v2["incidents"][0];
    assert_eq!(i["id"], code.as_str());
    assert_eq!(i["postmortem_body"], SUMMARY);
    assert_eq!(
        i["postmortem_published_at"],
        at.replace('Z', ".000+00:00").as_str()
    );
    assert!(
        public_text(&app, "/status/acme/history.atom")
            .await
            .contains("For 40 minutes some card payments failed."),
    );

    // The webhook subscriber is told, with Statuspage's fields filled in.
    app.state.engine.tick().await.unwrap();
    let all = posts.lock().unwrap().clone();
    assert_eq!(all.len(), told_before + 1, "{all:#?}");
    let last = all.last().unwrap();
    assert_eq!(last["incident"]["id"], code.as_str());
    assert_eq!(last["incident"]["postmortem_body"], SUMMARY);
    assert_eq!(last["incident"]["status"], "resolved");

    // The postmortem says where it is shown.
    let pm = ok(app.get(&path, &viewer.token), 200).await;
    assert_eq!(
        pm["public_incidents"][0]["postmortem_published_at"],
        at.as_str()
    );
    app.stop().await;
}

async fn form(app: &TestApp, cookie: &str, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let r = app
        .http
        .post(format!("{}{path}", app.url))
        .header("cookie", cookie)
        .form(fields)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    (status, location.unwrap_or(r.text().await.unwrap()))
}

async fn the_postmortem_page_attaches_the_summary_and_adds_its_action_items(b: Backend) {
    let Some(app) = spawn(b).await else {
        return;
    };
    let t = &app.admin.token;
    member(&app, "ada@example.com", "Ada", "responder").await;
    let (ada, csrf) = session_for(&app, "ada@example.com", PASSWORD).await;
    status_page(&app).await;
    let (inc, number, pm) = resolved_with_postmortem(&app, t, "Card payments fail").await;
    let (other_inc, _, other_pm) = resolved_with_postmortem(&app, t, "Search is slow").await;
    let page_path = format!("/postmortems/{pm}");

    // The summary's box; a refusal keeps what was typed beside its field.
    let long = "y".repeat(10_001);
    let (status, page) = form(
        &app,
        &ada,
        &format!("{page_path}/public-summary"),
        &[("csrf", &csrf), ("public_summary", &long)],
    )
    .await;
    assert_eq!(status, 400);
    assert!(page.contains("id=\"pm-public-error\""), "{page}");
    assert!(page.contains(&long), "typed summary kept");
    let (status, _) = form(
        &app,
        &ada,
        &format!("{page_path}/public-summary"),
        &[("csrf", &csrf), ("public_summary", SUMMARY)],
    )
    .await;
    assert_eq!(status, 303);
    let page = web_get_as(&app, &page_path, &ada).await;
    assert!(
        page.contains("The incident has no status-page incident."),
        "{page}"
    );
    assert!(
        !page.contains("id=\"pm-attach\""),
        "nothing to attach to yet"
    );

    // Published, with a public incident: the button puts it there.
    let public = ok(
        app.post(
            "/api/v1/status-pages/acme/incidents",
            t,
            &json!({"name": "Payments failing", "status": "resolved", "incident": number.to_string()}),
        ),
        201,
    )
    .await;
    let code = public["code"].as_str().unwrap();
    let (status, page) = form(
        &app,
        &ada,
        &format!("{page_path}/status-page"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 409, "not published yet");
    assert!(
        page.contains("nly a published postmortem goes on the status page"),
        "{page}"
    );
    ok(
        app.post(
            &format!("/api/v1/postmortems/{pm}/publish"),
            t,
            &json!({"reason": "reviewed offline"}),
        ),
        200,
    )
    .await;
    let page = web_get_as(&app, &page_path, &ada).await;
    assert!(page.contains("does not show it yet"), "{page}");
    assert!(page.contains("id=\"pm-attach\""), "{page}");
    let (status, to) = form(
        &app,
        &ada,
        &format!("{page_path}/status-page"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 303, "{to}");
    let page = web_get_as(&app, &page_path, &ada).await;
    assert!(page.contains("shows the postmortem since"), "{page}");
    assert!(!page.contains("id=\"pm-attach\""), "{page}");
    let html = public_text(&app, &format!("/status/acme/incidents/{code}")).await;
    assert!(html.contains("We now roll caches out in waves."), "{html}");

    // An action item added from the postmortem's page comes from it.
    assert!(page.contains(&format!(
        "href=\"/incidents/{inc}/action-items/new?postmortem={pm}\""
    )));
    let new = web_get_as(
        &app,
        &format!("/incidents/{inc}/action-items/new?postmortem={pm}"),
        &ada,
    )
    .await;
    assert!(
        new.contains(&format!("name=\"postmortem_id\" value=\"{pm}\"")),
        "{new}"
    );
    let users = ok(app.get("/api/v1/users?limit=100", t), 200).await;
    let ada_id = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "ada@example.com")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let item = |pm: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("postmortem_id", pm.to_owned()),
            ("title", "Roll caches out in waves".to_owned()),
            ("owner", ada_id.clone()),
            ("kind", "prevent".to_owned()),
            ("priority", "yes".to_owned()),
        ]
    };
    // Another incident's postmortem is refused, beside the form, and kept.
    let fields = item(&other_pm);
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, page) = form(
        &app,
        &ada,
        &format!("/incidents/{inc}/action-items"),
        &pairs,
    )
    .await;
    assert_eq!(status, 400, "{page}");
    assert!(
        page.contains("s not the postmortem of this incident"),
        "{page}"
    );
    assert!(
        page.contains("value=\"Roll caches out in waves\""),
        "title kept"
    );
    let fields = item(&pm);
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, to) = form(
        &app,
        &ada,
        &format!("/incidents/{inc}/action-items"),
        &pairs,
    )
    .await;
    assert_eq!(status, 303, "{to}");
    assert_eq!(to, format!("/postmortems/{pm}#incident-facts"));
    let items = ok(
        app.get(&format!("/api/v1/action-items?incident={inc}"), t),
        200,
    )
    .await;
    assert_eq!(items["items"][0]["postmortem_id"], pm.as_str(), "{items}");
    let none = ok(
        app.get(&format!("/api/v1/action-items?incident={other_inc}"), t),
        200,
    )
    .await;
    assert_eq!(none["items"], json!([]));
    let page = web_get_as(&app, &page_path, &ada).await;
    assert!(page.contains("Roll caches out in waves"), "listed as open");
    app.stop().await;
}

async fn email_subscribers_are_told_of_the_postmortem(b: Backend) {
    let smtp = mail_support::MockSmtp::spawn().await;
    let port = smtp.port;
    let Some(app) = TestApp::spawn_with(b, move |s| {
        s.server.public_url = Some("http://klaxon.test".into());
        s.smtp.host = Some("127.0.0.1".into());
        s.smtp.port = Some(port);
        s.smtp.tls = klaxon_server::config::SmtpTls::None;
        s.smtp.from = Some("Acme status <status@example.com>".into());
    })
    .await
    else {
        return;
    };
    let t = &app.admin.token;
    status_page(&app).await;
    // A confirmed e-mail subscriber.
    ok(
        app.post(
            "/api/v1/status-pages/acme/subscribers",
            t,
            &json!({"kind": "email", "address": "reader@example.com"}),
        ),
        201,
    )
    .await;
    app.state.engine.tick().await.unwrap();
    let text = smtp.mails().last().unwrap().text();
    let confirm = text
        .split_whitespace()
        .find(|w| w.contains("/confirm?t="))
        .unwrap()
        .trim_start_matches("http://klaxon.test")
        .to_owned();
    let r = app
        .http
        .post(format!("{}{confirm}", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let (_, number, pm) = resolved_with_postmortem(&app, t, "Card payments fail").await;
    ok(
        app.post(
            "/api/v1/status-pages/acme/incidents",
            t,
            &json!({"name": "Payments failing", "status": "resolved", "incident": number.to_string()}),
        ),
        201,
    )
    .await;
    let path = format!("/api/v1/postmortems/{pm}");
    ok(
        patch(&app, &path, t, &json!({"public_summary": SUMMARY})),
        200,
    )
    .await;
    ok(
        app.post(
            &format!("{path}/publish"),
            t,
            &json!({"reason": "reviewed"}),
        ),
        200,
    )
    .await;
    app.state.engine.tick().await.unwrap();
    let before = smtp.mails().len();
    ok(app.post(&format!("{path}/status-page"), t, &json!({})), 200).await;
    app.state.engine.tick().await.unwrap();
    let mails = smtp.mails();
    assert_eq!(mails.len(), before + 1, "{mails:?}");
    let m = mails.last().unwrap();
    assert_eq!(
        m.header("Subject").as_deref(),
        Some("[Acme] Payments failing: postmortem")
    );
    let text = m.text();
    assert!(text.contains("We now roll caches out in waves."), "{text}");
    assert!(
        text.contains("Read more: http://klaxon.test/status/acme/incidents/"),
        "{text}"
    );
    app.stop().await;
}
