//! The incident page as a signed-in browser gets it, on both backends: the next move as the one
//! primary button, refused forms with the reason beside the field and the input kept, the
//! confirmations destructive actions ask for, timeline entries in words, the incident's alerts,
//! and a long incident that stays light.
use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use jiff::SignedDuration;
use reqwest::StatusCode;
use serde_json::{Value, json};

use common::{Backend, TestApp, member, session_for};

/// The admin's browser: its cookie and CSRF token.
struct Browser<'a> {
    app: &'a TestApp,
    cookie: String,
    csrf: String,
}

impl<'a> Browser<'a> {
    async fn admin(app: &'a TestApp) -> Self {
        let (cookie, csrf) = session_for(app, &app.admin.email, &app.admin.password).await;
        Self { app, cookie, csrf }
    }

    async fn page(&self, path: &str) -> String {
        let r = self
            .app
            .http
            .get(format!("{}{path}", self.app.url))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        r.text().await.unwrap()
    }

    /// Posts a form (the CSRF token added); returns the status and the body or the redirect.
    async fn post(&self, path: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
        let mut form = form.to_vec();
        form.push(("csrf", &self.csrf));
        let r = self
            .app
            .http
            .post(format!("{}{path}", self.app.url))
            .header("cookie", &self.cookie)
            .form(&form)
            .send()
            .await
            .unwrap();
        let status = r.status();
        if status == StatusCode::SEE_OTHER {
            return (status, r.headers()["location"].to_str().unwrap().to_owned());
        }
        (status, r.text().await.unwrap())
    }
}

async fn api(app: &TestApp, path: &str, body: Value) -> Value {
    let r = app
        .post(path, &app.admin.token, &body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.unwrap_or(Value::Null)
}

async fn get(app: &TestApp, path: &str) -> Value {
    let r = app.get(path, &app.admin.token).send().await.unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.json().await.unwrap()
}

/// A service with an Events v2 integration; returns its routing key.
async fn integration(app: &TestApp) -> String {
    let service = api(app, "/api/v1/services", json!({"name": "Checkout"})).await;
    let sid = service["id"].as_str().unwrap();
    let i = api(
        app,
        &format!("/api/v1/services/{sid}/integrations"),
        json!({"name": "monitoring", "kind": "events_v2"}),
    )
    .await;
    i["key"].as_str().unwrap().to_owned()
}

async fn trigger(app: &TestApp, key: &str, dedup: &str) {
    let r = app
        .http
        .post(format!("{}/v2/enqueue", app.url))
        .json(&json!({"routing_key": key, "event_action": "trigger", "dedup_key": dedup,
            "payload": {"summary": format!("{dedup} failing"), "source": "lb-7", "severity": "critical"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
}

/// An incident an alert opened (triggered, nobody reported it); returns its id.
async fn alert_incident(app: &TestApp) -> String {
    let key = integration(app).await;
    trigger(app, &key, "payments").await;
    get(app, "/api/v1/incidents").await["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn declare(app: &TestApp, title: &str) -> String {
    let i = api(
        app,
        "/api/v1/incidents",
        json!({"title": title, "severity": "SEV3"}),
    )
    .await;
    i["id"].as_str().unwrap().to_owned()
}

async fn status(app: &TestApp, id: &str, to: &str) {
    api(
        app,
        &format!("/api/v1/incidents/{id}/status"),
        json!({"status": to}),
    )
    .await;
}

/// The one primary form of the actions: the id of its button.
fn primary(html: &str) -> Option<String> {
    assert!(
        html.matches("class=\"primary-move\"").count() <= 1,
        "{html}"
    );
    let i = html.find("class=\"primary-move\"")?;
    let form = &html[i..i + html[i..].find("</form>").unwrap()];
    let b = form.find("<button type=\"submit\" id=\"").unwrap() + 26;
    Some(form[b..].split('"').next().unwrap().to_owned())
}

/// The ids of the quiet (secondary) buttons among the actions.
fn secondary(html: &str) -> Vec<String> {
    let start = html.find("id=\"actions\"").unwrap();
    let actions = &html[start..start + html[start..].find("</header>").unwrap()];
    actions
        .split("class=\"secondary\" id=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_owned())
        .collect()
}

async fn the_next_move_is_the_one_primary_button(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let web = Browser::admin(&app).await;
    let id = alert_incident(&app).await;
    let path = format!("/incidents/{id}");
    let html = web.page(&path).await;
    assert_eq!(primary(&html).as_deref(), Some("acknowledge"));
    assert_eq!(secondary(&html), ["mitigate", "resolve", "reassign"]);
    status(&app, &id, "acknowledged").await;
    let html = web.page(&path).await;
    assert_eq!(primary(&html).as_deref(), Some("mitigate"));
    assert_eq!(secondary(&html), ["resolve", "reassign"]);
    status(&app, &id, "mitigated").await;
    let html = web.page(&path).await;
    assert_eq!(primary(&html).as_deref(), Some("resolve"));
    assert_eq!(secondary(&html), ["unmitigate"]);
    status(&app, &id, "resolved").await;
    // Nobody reported it and nobody commands it: the admin may only close it without review,
    // which is set apart.
    let html = web.page(&path).await;
    assert_eq!(primary(&html), None, "{html}");
    assert_eq!(secondary(&html), ["reopen"]);
    assert!(html.contains("id=\"close-unreviewed\" class=\"danger\""));

    // The reporter (the admin, who declared it) confirms and closes as the next move.
    let mine = declare(&app, "Search is slow").await;
    status(&app, &mine, "resolved").await;
    let html = web.page(&format!("/incidents/{mine}")).await;
    assert_eq!(primary(&html).as_deref(), Some("close"));
    assert!(!html.contains("id=\"close-unreviewed\""));
    status(&app, &mine, "closed").await;
    let html = web.page(&format!("/incidents/{mine}")).await;
    assert_eq!(primary(&html), None);
    assert!(secondary(&html).is_empty());

    // A viewer sees the incident and no moves.
    member(&app, "viv@example.com", "Viv", "viewer").await;
    let (cookie, _) = session_for(&app, "viv@example.com", common::PASSWORD).await;
    let html = common::web_get_as(&app, &path, &cookie).await;
    assert_eq!(primary(&html), None);
    assert!(!html.contains("id=\"note-text\""));
    app.stop().await;
}

async fn refused_forms_say_why_beside_the_field_and_keep_the_input(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let web = Browser::admin(&app).await;
    let id = declare(&app, "Checkout errors").await;
    let path = format!("/incidents/{id}");

    let (st, html) = web
        .post(
            &format!("{path}/tasks"),
            &[
                ("title", "Call the vendor"),
                ("assignee_id", ""),
                ("due_at", "tomorrow"),
            ],
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(
        html.contains("<p class=\"field-error\" id=\"task-due-error\">Is not a date and time such as 2026-11-21T09:30, in UTC.</p>"),
        "{html}"
    );
    assert!(html.contains("id=\"task-due\" value=\"tomorrow\" aria-invalid=\"true\" aria-describedby=\"task-due-error\""));
    assert!(
        html.contains("id=\"task-title\" required maxlength=\"200\" value=\"Call the vendor\"")
    );
    assert!(
        html.contains("id=\"task-panel\" open"),
        "the refused form is unfolded"
    );
    assert!(!html.contains("due_at:"), "no API syntax");

    let (st, html) = web
        .post(
            &format!("{path}/edit"),
            &[
                ("title", "Checkout errors in EU"),
                ("conference_url", "ftp://bridge.example.com"),
                ("urgency", "high"),
            ],
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(html.contains("id=\"edit-conference-error\""), "{html}");
    assert!(html.contains("value=\"Checkout errors in EU\""));
    assert!(html.contains("value=\"ftp://bridge.example.com\""));
    assert!(!html.contains("conference_url:"));

    let (st, html) = web
        .post(
            &format!("{path}/roles"),
            &[("role", "scribe"), ("user_id", "nobody")],
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(html.contains("id=\"role-user-error\""), "{html}");
    assert!(html.contains("<option value=\"scribe\" selected>"));

    // The status change that cannot be made says why, in words, by the actions.
    status(&app, &id, "resolved").await;
    let (st, html) = web.post(&format!("{path}/resolve"), &[]).await;
    assert_eq!(st, StatusCode::CONFLICT);
    assert!(
        html.contains("<p class=\"error\" role=\"alert\">The incident is already resolved.</p>")
    );

    // A note that is only spaces keeps them and says so beside the box.
    let (st, html) = web.post(&format!("{path}/notes"), &[("text", "  ")]).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(
        html.contains("id=\"note-text-error\">Must not be empty.</p>"),
        "{html}"
    );
    assert!(
        get(&app, &format!("/api/v1/incidents/{id}/timeline")).await["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["kind"] != "incident.note_added")
    );
    app.stop().await;
}

async fn merging_and_closing_without_review_ask_to_be_sure(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let web = Browser::admin(&app).await;
    let target = declare(&app, "Checkout errors").await;
    let dup = declare(&app, "Payments failing").await;
    let html = web.page(&format!("/incidents/{dup}")).await;
    assert!(html.contains("id=\"merge-confirm\" required"), "{html}");

    let (st, html) = web
        .post(&format!("/incidents/{dup}/merge"), &[("into", &target)])
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(
        html.contains(
            "id=\"merge-confirm-error\">Tick this box to merge: a merge cannot be undone.</p>"
        ),
        "{html}"
    );
    assert!(html.contains(&format!("<option value=\"{target}\" selected>")));
    assert!(html.contains("id=\"danger-zone\" open"));
    let i = get(&app, &format!("/api/v1/incidents/{dup}")).await;
    assert!(
        i["merged_into"].is_null() && i["status"] == "acknowledged",
        "{i}"
    );

    let (st, to) = web
        .post(
            &format!("/incidents/{dup}/merge"),
            &[("into", &target), ("confirm", "yes")],
        )
        .await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    assert_eq!(to, format!("/incidents/{target}"));

    // Closing an incident someone else reported: the admin must say why and be sure.
    let (bob_id, bob_token) = app.user_with_token("bob@example.com", "responder").await;
    let theirs = api(
        &app,
        "/api/v1/incidents",
        json!({"title": "Login loops", "severity": "SEV3", "reporter_id": bob_id}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let _ = bob_token;
    status(&app, &theirs, "resolved").await;
    let path = format!("/incidents/{theirs}");
    let html = web.page(&path).await;
    assert!(
        html.contains("id=\"awaiting-confirmation\">Resolved: Someone confirms and closes it.")
    );
    let form = [
        ("status", "closed"),
        ("review", "skip"),
        ("reason", "Bob is on leave"),
    ];
    let (st, html) = web.post(&format!("{path}/status"), &form).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(html.contains("id=\"close-confirm-error\""), "{html}");
    assert!(
        html.contains("id=\"close-reason\" maxlength=\"20000\" required value=\"Bob is on leave\"")
    );
    assert_eq!(
        get(&app, &format!("/api/v1/incidents/{theirs}")).await["status"],
        "resolved"
    );
    let mut sure = form.to_vec();
    sure.push(("confirm", "yes"));
    let (st, _) = web.post(&format!("{path}/status"), &sure).await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    let html = web.page(&path).await;
    assert!(
        html.contains("<strong class=\"by\">Administrator</strong> closed the incident without the reporter&#39;s confirmation: Bob is on leave"),
        "{html}"
    );
    app.stop().await;
}

/// A webhook receiver that takes every delivery; returns its URL and how many it got.
async fn receiver() -> (String, Arc<AtomicUsize>) {
    let got = Arc::new(AtomicUsize::new(0));
    let counter = got.clone();
    let app = axum::Router::new().fallback(move || {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            axum::http::StatusCode::OK
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

async fn a_stakeholder_update_reads_as_an_update_not_a_page(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let web = Browser::admin(&app).await;
    let bob = member(&app, "bob@example.com", "Bob", "viewer").await;
    let (hook, got) = receiver().await;
    api(
        &app,
        &format!("/api/v1/users/{}/contact-methods", bob.id),
        json!({"kind": "webhook", "label": "status bot", "address": hook, "password": app.admin.password}),
    )
    .await;
    let id = declare(&app, "Checkout errors").await;
    api(
        &app,
        &format!("/api/v1/incidents/{id}/subscribers"),
        json!({"user_id": bob.id}),
    )
    .await;
    app.clock.advance(SignedDuration::from_mins(3));
    let (st, _) = web
        .post(
            &format!("/incidents/{id}/updates"),
            &[("message", "We rolled back; payments recover.")],
        )
        .await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    app.state.engine.tick().await.unwrap();
    assert_eq!(
        got.load(Ordering::SeqCst),
        1,
        "Bob's webhook got the update"
    );

    let html = web.page(&format!("/incidents/{id}")).await;
    for words in [
        "<strong class=\"by\">Administrator</strong> posted an update to 1 follower: We rolled back; payments recover.",
        "<strong class=\"by\">Klaxon</strong> sent the update to Bob through a webhook",
        "<strong class=\"by\">Administrator</strong> added Bob as a follower",
        "<strong class=\"by\">Administrator</strong> declared the incident “Checkout errors” as SEV3 (P3)",
    ] {
        assert!(html.contains(words), "{words:?} missing from:\n{html}");
    }
    assert!(!html.contains("paged Bob"), "{html}");
    assert!(html.contains("data-what=\"update\">Update to <strong>Bob</strong>"));
    // Newest first: the delivery, then the update, then the follower, then the declaration.
    let pos = |s: &str| html.find(s).unwrap();
    assert!(pos("sent the update to Bob") < pos("posted an update to 1 follower"));
    assert!(pos("added Bob as a follower") < pos("declared the incident"));

    let md = app
        .get(
            &format!("/api/v1/incidents/{id}/timeline.md"),
            &app.admin.token,
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        md.contains("Klaxon: sent the update to Bob through a webhook"),
        "{md}"
    );
    app.stop().await;
}

async fn the_incidents_alerts_are_listed_with_links_to_their_pages(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let web = Browser::admin(&app).await;
    let key = integration(&app).await;
    trigger(&app, &key, "payments").await;
    app.clock.advance(SignedDuration::from_mins(4));
    trigger(&app, &key, "payments").await;
    let alerts = get(&app, "/api/v1/alerts").await;
    let alert = &alerts["items"][0];
    let id = alert["incident_id"].as_str().unwrap();
    let html = web.page(&format!("/incidents/{id}")).await;
    let i = html.find("id=\"alerts\"").unwrap();
    let list = &html[i..i + html[i..].find("</ul>").unwrap()];
    assert!(
        list.contains(&format!(
            "<a href=\"/alerts/{}\">payments failing</a>",
            alert["id"].as_str().unwrap()
        )),
        "{list}"
    );
    assert!(
        list.contains("critical") && list.contains("lb-7") && list.contains("2×"),
        "{list}"
    );
    assert!(
        list.contains("last <time datetime=\"2026-11-21T09:04:00Z\""),
        "{list}"
    );
    app.stop().await;
}

async fn a_long_incident_shows_its_newest_entries_and_stays_light(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let web = Browser::admin(&app).await;
    let id = declare(&app, "A long night").await;
    for n in 0..500 {
        api(
            &app,
            &format!("/api/v1/incidents/{id}/notes"),
            json!({"text": format!("Note {n}: error rate steady")}),
        )
        .await;
    }
    let html = web.page(&format!("/incidents/{id}")).await;
    let entries = html.matches("<li id=\"entry-").count();
    assert_eq!(entries, 100, "the newest hundred");
    let first = html.find("<li id=\"entry-").unwrap();
    assert!(html[first..].starts_with("<li id=\"entry-"));
    assert!(html.find("Note 499:").unwrap() < html.find("Note 498:").unwrap());
    assert!(!html.contains("Note 399:"));
    // 500 notes and the declaration: 401 older entries.
    assert!(html.contains("Show the 401 older entries</a>"), "{html}");
    assert!(
        html.len() < 90_000,
        "the page stays light: {} bytes",
        html.len()
    );
    let all = web.page(&format!("/incidents/{id}?all=1")).await;
    assert_eq!(all.matches("<li id=\"entry-").count(), 501);
    let notes = web
        .page(&format!("/incidents/{id}?filter=notes&all=1"))
        .await;
    assert_eq!(notes.matches("<li id=\"entry-").count(), 500);
    app.stop().await;
}

on_both_backends!(
    the_next_move_is_the_one_primary_button,
    refused_forms_say_why_beside_the_field_and_keep_the_input,
    merging_and_closing_without_review_ask_to_be_sure,
    a_stakeholder_update_reads_as_an_update_not_a_page,
    the_incidents_alerts_are_listed_with_links_to_their_pages,
    a_long_incident_shows_its_newest_entries_and_stays_light,
);
