//! Status pages end to end, on both backends: pages and components through the API, a public
//! incident published from a Klaxon incident, and what readers get (HTML, Statuspage v2 JSON
//! field for field, feeds, badges), private pages, and bad input.
use crate::common;

use jiff::SignedDuration;
use serde_json::{Value, json};

use common::{Backend, TestApp, ok, patch, refused};

on_both_backends!(
    a_page_tells_of_an_incident_from_start_to_resolution,
    the_v2_json_has_statuspages_fields,
    private_pages_ask_first_and_keep_their_data_to_themselves,
    bad_input_is_refused_with_the_field,
    the_engine_starts_and_completes_maintenance_at_its_times,
    public_pages_are_exported_to_a_directory_and_private_ones_never,
    feeds_read_back_with_a_real_feed_parser,
    a_page_of_30_components_stays_small,
    components_link_their_feeds,
    a_page_answers_on_its_own_host_name,
);

/// The database goes away (PostgreSQL: new connections refused, open ones ended): readers
/// still get the page, the JSON and the feeds, and after a while the page says it may be old.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_outlive_a_database_outage() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let t = &app.admin.token;
    page(&app, json!({"name": "Acme", "slug": "acme"})).await;
    component(&app, "acme", json!({"name": "API"})).await;
    ok(
        app.post("/api/v1/status-pages/acme/incidents", t,
            &json!({"name": "Slow API", "components": [{"component": "API", "status": "degraded_performance"}]})),
        201,
    )
    .await;
    app.db.set_reachable(false).await;
    // The API needs the database; readers do not.
    let r = app.get("/api/v1/status-pages", t).send().await.unwrap();
    assert!(
        r.status().is_server_error() || r.status() == 503,
        "{}",
        r.status()
    );
    let html = public_text(&app, "/status/acme").await;
    assert!(
        html.contains("Slow API") && html.contains("Degraded performance"),
        "{html}"
    );
    assert!(!html.contains("could not be refreshed"), "{html}");
    let s = public_json(&app, "/status/acme/api/v2/summary.json").await;
    assert_eq!(s["status"]["indicator"], "minor");
    assert!(
        public_text(&app, "/status/acme/history.atom")
            .await
            .contains("Slow API")
    );
    assert!(
        public_text(&app, "/status/acme/history.rss")
            .await
            .contains("Slow API")
    );
    // Three minutes on, the page says it may be out of date, and still shows the last state.
    app.clock.advance(SignedDuration::from_mins(3));
    app.state.status_refresh.changed().await;
    let html = public_text(&app, "/status/acme").await;
    assert!(html.contains("could not be refreshed since"), "{html}");
    assert!(html.contains("Slow API"), "{html}");
    // Back: the notice goes with the next refresh.
    app.db.set_reachable(true).await;
    app.state.status_refresh.changed().await;
    app.state.status_refresh.changed().await;
    let html = public_text(&app, "/status/acme").await;
    assert!(!html.contains("could not be refreshed"), "{html}");
    app.stop().await;
}

async fn page(app: &TestApp, body: Value) -> Value {
    ok(
        app.post("/api/v1/status-pages", &app.admin.token, &body),
        201,
    )
    .await
}

async fn component(app: &TestApp, page: &str, body: Value) -> Value {
    let path = format!("/api/v1/status-pages/{page}/components");
    ok(app.post(&path, &app.admin.token, &body), 201).await
}

async fn public(app: &TestApp, path: &str) -> reqwest::Response {
    app.http
        .get(format!("{}{path}", app.url))
        .send()
        .await
        .unwrap()
}

async fn public_text(app: &TestApp, path: &str) -> String {
    let r = public(app, path).await;
    assert_eq!(r.status(), 200, "{path}");
    r.text().await.unwrap()
}

async fn public_json(app: &TestApp, path: &str) -> Value {
    serde_json::from_str(&public_text(app, path).await).unwrap()
}

async fn a_page_tells_of_an_incident_from_start_to_resolution(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let t = &app.admin.token;
    page(
        &app,
        json!({"name": "Acme", "slug": "acme", "time_zone": "Europe/Berlin"}),
    )
    .await;
    let core = component(&app, "acme", json!({"name": "Core", "is_group": true})).await;
    component(
        &app,
        "acme",
        json!({"name": "API", "group": "Core", "description": "The REST API"}),
    )
    .await;
    component(&app, "acme", json!({"name": "Web", "group": core["code"]})).await;
    let cdn = component(&app, "acme", json!({"name": "CDN"})).await;
    let listed = ok(app.get("/api/v1/status-pages/acme/components", t), 200).await;
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Core", "API", "Web", "CDN"]);

    let html = public_text(&app, "/status/acme").await;
    assert!(html.contains("All Systems Operational"), "{html}");
    assert!(
        html.contains("rel=\"alternate\" type=\"application/atom+xml\""),
        "{html}"
    );

    // A Klaxon incident, told on the page: the API down.
    let inc = ok(
        app.post(
            "/api/v1/incidents",
            t,
            &json!({"title": "API 500s", "severity": "SEV1"}),
        ),
        201,
    )
    .await;
    let number = inc["number"].as_i64().unwrap().to_string();
    let published = ok(
        app.post(
            "/api/v1/status-pages/acme/incidents",
            t,
            &json!({"name": "Requests <b>fail</b>", "impact": "major", "incident": number,
                "components": [{"component": "API", "status": "major_outage"}],
                "next_update_in_minutes": 30}),
        ),
        201,
    )
    .await;
    let code = published["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 12);
    assert!(
        published["updates"][0]["body"]
            .as_str()
            .unwrap()
            .contains("API"),
        "the template names the component: {published}"
    );
    // Told on the incident's timeline.
    let timeline = ok(
        app.get(&format!("/api/v1/incidents/{number}/timeline"), t),
        200,
    )
    .await;
    let told = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "incident.status_page_published")
        .unwrap_or_else(|| panic!("{timeline}"));
    assert_eq!(told["data"]["page"], "acme");

    let html = public_text(&app, "/status/acme").await;
    assert!(html.contains("Major System Outage"), "{html}");
    assert!(
        html.contains("Requests &#60;b&#62;fail&#60;/b&#62;")
            || html.contains("Requests &lt;b&gt;fail&lt;/b&gt;"),
        "markup shows as text: {html}"
    );
    assert!(!html.contains("<b>fail</b>"));
    assert!(html.contains("Major outage"), "{html}");
    assert!(
        html.contains("Next update by 21 Nov 2026, 10:30 CET"),
        "{html}"
    );
    let one = public_text(&app, &format!("/status/acme/incidents/{code}")).await;
    assert!(one.contains("Investigating"), "{one}");

    // Resolved an hour later: the API comes back by itself.
    app.clock.advance(SignedDuration::from_mins(60));
    ok(
        app.post(
            &format!("/api/v1/status-pages/acme/incidents/{code}/updates"),
            t,
            &json!({"status": "resolved", "body": "Fixed & verified."}),
        ),
        201,
    )
    .await;
    let comps = ok(app.get("/api/v1/status-pages/acme/components", t), 200).await;
    assert!(
        comps
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["status"] == "operational"),
        "{comps}"
    );
    let html = public_text(&app, "/status/acme").await;
    assert!(html.contains("All Systems Operational"), "{html}");
    // Today's bar of the API tells of the hour down (all of its life so far); the CDN's of none.
    assert!(
        html.contains("21 Nov: 0.0 %, major outage 1 h 00 min"),
        "{html}"
    );
    assert!(html.contains("21 Nov: 100 %, no downtime"), "{html}");
    // The next day, the whole of the 21st counts: 1 h of 14 (from 10:00 CET) down.
    app.clock.advance(SignedDuration::from_hours(24));
    app.state.status_refresh.changed().await;
    let html = public_text(&app, "/status/acme").await;
    assert!(
        html.contains("21 Nov: 92.8 %, major outage 1 h 00 min"),
        "{html}"
    );
    assert!(html.contains("22 Nov: 100 %, no downtime"), "{html}");
    let history = public_text(&app, "/status/acme/history").await;
    assert!(history.contains("November 2026"), "{history}");

    // Feeds carry the incident, escaped; badges tell the status in words.
    let atom = public_text(&app, "/status/acme/history.atom").await;
    assert!(
        atom.contains("Fixed &amp;amp; verified.") || atom.contains("Fixed &amp; verified."),
        "{atom}"
    );
    let cdn_code = cdn["code"].as_str().unwrap();
    let badge = public_text(
        &app,
        &format!("/status/acme/components/{cdn_code}/badge.svg"),
    )
    .await;
    assert!(badge.contains("CDN: Operational"), "{badge}");

    // Cache headers: an ETag that answers 304.
    let r = public(&app, "/status/acme/api/v2/summary.json").await;
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    assert!(
        r.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    let again = app
        .http
        .get(format!("{}/status/acme/api/v2/summary.json", app.url))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    // Readers' documents skip the application's middleware: the headers it would add are
    // still there, and HEAD (which goes the usual way) agrees with GET.
    for h in [r.headers(), again.headers()] {
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert!(
            h["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("default-src 'none'")
        );
        assert_eq!(h["etag"].to_str().unwrap(), etag);
    }
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    let head = app
        .http
        .head(format!("{}/status/acme/api/v2/summary.json", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["etag"].to_str().unwrap(), etag);
    assert_eq!(head.headers()["x-content-type-options"], "nosniff");
    assert_eq!(
        public(&app, "/status/acme/nothing-here").await.status(),
        404
    );
    assert_eq!(public(&app, "/status/nope").await.status(), 404);
    app.stop().await;
}

async fn the_v2_json_has_statuspages_fields(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let t = &app.admin.token;
    page(
        &app,
        json!({"name": "Acme", "slug": "acme", "time_zone": "America/Tijuana"}),
    )
    .await;
    let api = component(&app, "acme", json!({"name": "API"})).await;
    let from = "2026-11-22T01:00:00Z";
    let until = "2026-11-22T01:30:00Z";
    ok(
        app.post(
            "/api/v1/status-pages/acme/incidents",
            t,
            &json!({"name": "Slow API", "components": [{"component": "API", "status": "degraded_performance"}]}),
        ),
        201,
    )
    .await;
    ok(
        app.post(
            "/api/v1/status-pages/acme/incidents",
            t,
            &json!({"name": "DB upgrade", "maintenance": true, "scheduled_for": from,
                "scheduled_until": until, "components": [{"component": "API", "status": "operational"}]}),
        ),
        201,
    )
    .await;
    let s = public_json(&app, "/status/acme/api/v2/summary.json").await;
    let page_keys = ["id", "name", "url", "time_zone", "updated_at"];
    assert_eq!(keys(&s["page"]), sorted(&page_keys));
    assert_eq!(s["page"]["time_zone"], "America/Tijuana");
    // Milliseconds, in the page's offset (UTC-8 in November).
    let updated = s["page"]["updated_at"].as_str().unwrap();
    assert!(updated.ends_with(".000-08:00"), "{updated}");
    assert_eq!(
        s["status"],
        json!({"indicator": "minor", "description": "Minor Service Outage"})
    );
    let c = &s["components"][0];
    assert_eq!(
        keys(c),
        sorted(&[
            "id",
            "name",
            "status",
            "created_at",
            "updated_at",
            "position",
            "description",
            "showcase",
            "start_date",
            "group_id",
            "page_id",
            "group",
            "only_show_if_degraded"
        ])
    );
    assert_eq!(c["id"], api["code"]);
    assert_eq!(c["status"], "degraded_performance");
    assert!(c["description"].is_null() && c["group_id"].is_null());
    assert_eq!(c["page_id"], s["page"]["id"]);
    let i = &s["incidents"][0];
    assert_eq!(
        keys(i),
        sorted(&[
            "id",
            "name",
            "status",
            "created_at",
            "updated_at",
            "monitoring_at",
            "resolved_at",
            "impact",
            "shortlink",
            "started_at",
            "page_id",
            "incident_updates",
            "components",
            "postmortem_body",
            "postmortem_published_at"
        ])
    );
    assert!(i["monitoring_at"].is_null() && i["resolved_at"].is_null());
    assert!(i["postmortem_body"].is_null() && i["postmortem_published_at"].is_null());
    assert_eq!(i["impact"], "minor");
    let u = &i["incident_updates"][0];
    assert_eq!(
        keys(u),
        sorted(&[
            "id",
            "status",
            "body",
            "incident_id",
            "created_at",
            "updated_at",
            "display_at",
            "affected_components",
            "deliver_notifications",
            "custom_tweet",
            "tweet_id"
        ])
    );
    assert_eq!(u["incident_id"], i["id"]);
    assert_eq!(
        u["affected_components"],
        json!([{"code": api["code"], "name": "API", "old_status": "operational", "new_status": "degraded_performance"}])
    );
    assert!(u["custom_tweet"].is_null() && u["tweet_id"].is_null());
    let m = &s["scheduled_maintenances"][0];
    assert_eq!(m["status"], "scheduled");
    assert_eq!(m["impact"], "maintenance");
    assert_eq!(m["scheduled_for"], "2026-11-21T17:00:00.000-08:00");
    assert_eq!(m["scheduled_until"], "2026-11-21T17:30:00.000-08:00");
    assert!(m["incident_updates"][0]["affected_components"].is_null());
    for (path, key, n) in [
        ("status.json", "status", None),
        ("components.json", "components", Some(1)),
        ("incidents.json", "incidents", Some(1)),
        ("incidents/unresolved.json", "incidents", Some(1)),
        (
            "scheduled-maintenances.json",
            "scheduled_maintenances",
            Some(1),
        ),
        (
            "scheduled-maintenances/upcoming.json",
            "scheduled_maintenances",
            Some(1),
        ),
        (
            "scheduled-maintenances/active.json",
            "scheduled_maintenances",
            Some(0),
        ),
    ] {
        let doc = public_json(&app, &format!("/status/acme/api/v2/{path}")).await;
        assert_eq!(doc["page"], s["page"], "{path}");
        match n {
            Some(n) => assert_eq!(doc[key].as_array().unwrap().len(), n, "{path}: {doc}"),
            None => assert_eq!(doc[key], s["status"]),
        }
    }
    app.stop().await;
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

fn sorted(k: &[&str]) -> Vec<String> {
    let mut k: Vec<String> = k.iter().map(|s| (*s).to_owned()).collect();
    k.sort();
    k
}

async fn private_pages_ask_first_and_keep_their_data_to_themselves(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let t = &app.admin.token;
    page(&app, json!({"name": "Public", "slug": "public"})).await;
    page(&app, json!({"name": "Internal", "slug": "internal", "visibility": "password", "password": "open sesame"})).await;
    component(&app, "internal", json!({"name": "Secret DB"})).await;
    ok(
        app.post("/api/v1/status-pages/internal/incidents", t,
            &json!({"name": "Vault sealed", "components": [{"component": "Secret DB", "status": "major_outage"}]})),
        201,
    )
    .await;
    let r = public(&app, "/status/internal").await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/status/internal/login");
    assert_eq!(
        public(&app, "/status/internal/api/v2/summary.json")
            .await
            .status(),
        303
    );
    let wrong = app
        .http
        .post(format!("{}/status/internal/login", app.url))
        .form(&[("password", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("id=\"password-error\"")
    );
    let right = app
        .http
        .post(format!("{}/status/internal/login", app.url))
        .form(&[("password", "open sesame")])
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 303);
    // The cookie is named after the page's code.
    let raw = right.headers()["set-cookie"].to_str().unwrap().to_owned();
    let (name, value) = raw.split(';').next().unwrap().split_once('=').unwrap();
    assert!(name.starts_with("klaxon_status_"), "{raw}");
    assert!(raw.contains("HttpOnly"), "{raw}");
    let html = app
        .http
        .get(format!("{}/status/internal", app.url))
        .header("cookie", format!("{name}={value}"))
        .send()
        .await
        .unwrap();
    assert_eq!(html.status(), 200);
    assert!(html.text().await.unwrap().contains("Vault sealed"));
    // A new password shuts the old cookie out.
    ok(
        patch(
            &app,
            "/api/v1/status-pages/internal",
            t,
            &json!({"password": "another one"}),
        ),
        200,
    )
    .await;
    let again = app
        .http
        .get(format!("{}/status/internal", app.url))
        .header("cookie", format!("{name}={value}"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 303);
    // Nothing of it anywhere public.
    for path in [
        "/status/public",
        "/status/public/api/v2/summary.json",
        "/status/public/history.atom",
        "/status/public/history.rss",
        "/status/public/badge.svg",
        "/status",
    ] {
        let r = public(&app, path).await;
        let body = r.text().await.unwrap();
        assert!(
            !body.contains("Vault") && !body.contains("Secret DB") && !body.contains("Internal"),
            "{path}: {body}"
        );
    }
    app.stop().await;
}

async fn bad_input_is_refused_with_the_field(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let t = &app.admin.token;
    page(&app, json!({"name": "Acme", "slug": "acme"})).await;
    component(&app, "acme", json!({"name": "API"})).await;
    let post = |path: &str, body: Value| app.post(path, t, &body);
    refused(
        post(
            "/api/v1/status-pages",
            json!({"name": "X", "slug": "Bad Slug"}),
        ),
        400,
        "invalid_field",
        Some("slug"),
    )
    .await;
    refused(
        post("/api/v1/status-pages", json!({"name": "X", "slug": "acme"})),
        409,
        "conflict",
        Some("slug"),
    )
    .await;
    refused(
        post(
            "/api/v1/status-pages",
            json!({"name": "X", "slug": "x", "accent_color": "#ffff00"}),
        ),
        400,
        "invalid_field",
        Some("accent_color"),
    )
    .await;
    refused(
        post(
            "/api/v1/status-pages",
            json!({"name": "X", "slug": "x", "visibility": "password"}),
        ),
        400,
        "invalid_field",
        Some("password"),
    )
    .await;
    refused(
        post(
            "/api/v1/status-pages",
            json!({"name": "X", "slug": "x", "time_zone": "Berlin"}),
        ),
        400,
        "invalid_field",
        Some("time_zone"),
    )
    .await;
    refused(
        post(
            "/api/v1/status-pages/acme/components",
            json!({"name": "Y", "status": "on_fire"}),
        ),
        400,
        "invalid_field",
        Some("status"),
    )
    .await;
    refused(
        post(
            "/api/v1/status-pages/acme/incidents",
            json!({"name": "Z", "impact": "apocalyptic"}),
        ),
        400,
        "invalid_field",
        Some("impact"),
    )
    .await;
    refused(
        post(
            "/api/v1/status-pages/acme/incidents",
            json!({"name": "Z", "components": [{"component": "Nope", "status": "major_outage"}]}),
        ),
        400,
        "invalid_field",
        Some("components[0].component"),
    )
    .await;
    refused(
        post(
            "/api/v1/status-pages/acme/incidents",
            json!({"name": "Z", "incident": "999"}),
        ),
        400,
        "invalid_field",
        Some("incident"),
    )
    .await;
    refused(post("/api/v1/status-pages/acme/incidents", json!({"name": "M", "maintenance": true, "scheduled_for": "2026-11-22T02:00:00Z", "scheduled_until": "2026-11-22T01:00:00Z"})), 400, "invalid_field", Some("scheduled_until")).await;
    refused(
        post("/api/v1/status-pages/nope/incidents", json!({"name": "Z"})),
        404,
        "not_found",
        None,
    )
    .await;
    refused(
        app.get("/api/v1/status-pages/acme/incidents/aaaaaaaaaaaa", t),
        404,
        "not_found",
        None,
    )
    .await;
    // Nothing half-written: the page has no incident.
    let list = ok(app.get("/api/v1/status-pages/acme/incidents", t), 200).await;
    assert_eq!(list, json!([]));
    // A viewer reads but does not publish.
    let (_, viewer) = app.user_with_token("v@example.com", "viewer").await;
    ok(app.get("/api/v1/status-pages", &viewer), 200).await;
    refused(
        app.post(
            "/api/v1/status-pages/acme/incidents",
            &viewer,
            &json!({"name": "Z"}),
        ),
        403,
        "forbidden",
        None,
    )
    .await;
    app.stop().await;
}

async fn the_engine_starts_and_completes_maintenance_at_its_times(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let t = &app.admin.token;
    page(&app, json!({"name": "Acme", "slug": "acme"})).await;
    component(&app, "acme", json!({"name": "DB"})).await;
    component(&app, "acme", json!({"name": "Web"})).await;
    // 09:00 now; the window is 10:00 to 10:30.
    let m = ok(
        app.post(
            "/api/v1/status-pages/acme/incidents",
            t,
            &json!({"name": "DB upgrade", "maintenance": true,
                "scheduled_for": "2026-11-21T10:00:00Z", "scheduled_until": "2026-11-21T10:30:00Z",
                "components": [{"component": "DB", "status": "under_maintenance"}]}),
        ),
        201,
    )
    .await;
    let code = m["code"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/status-pages/acme/incidents/{code}");
    let status_of = |c: &Value, name: &str| {
        c.as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == name)
            .unwrap()["status"]
            .clone()
    };
    let comps = || app.get("/api/v1/status-pages/acme/components", t);
    // Scheduled: nothing moves before its time, however often the engine looks.
    app.state.engine.tick().await.unwrap();
    app.clock.advance(SignedDuration::from_mins(59));
    app.state.engine.tick().await.unwrap();
    assert_eq!(ok(app.get(&path, t), 200).await["status"], "scheduled");
    assert_eq!(status_of(&ok(comps(), 200).await, "DB"), "operational");
    // At 10:00 it starts: the DB under maintenance, an update written, the page says so.
    app.clock.advance(SignedDuration::from_mins(1));
    app.state.engine.tick().await.unwrap();
    let now = ok(app.get(&path, t), 200).await;
    assert_eq!(now["status"], "in_progress");
    assert_eq!(now["updates"].as_array().unwrap().len(), 2);
    assert!(
        now["updates"][1]["body"]
            .as_str()
            .unwrap()
            .contains("in progress")
    );
    let c = ok(comps(), 200).await;
    assert_eq!(status_of(&c, "DB"), "under_maintenance");
    assert_eq!(status_of(&c, "Web"), "operational");
    app.state.status_refresh.changed().await;
    let s = public_json(&app, "/status/acme/api/v2/summary.json").await;
    assert_eq!(s["status"]["indicator"], "maintenance");
    assert_eq!(s["scheduled_maintenances"][0]["status"], "in_progress");
    let active = public_json(
        &app,
        "/status/acme/api/v2/scheduled-maintenances/active.json",
    )
    .await;
    assert_eq!(
        active["scheduled_maintenances"].as_array().unwrap().len(),
        1
    );
    // Ticking again changes nothing more.
    app.state.engine.tick().await.unwrap();
    assert_eq!(
        ok(app.get(&path, t), 200).await["updates"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // At 10:30 it completes and the DB is back.
    app.clock.advance(SignedDuration::from_mins(30));
    app.state.engine.tick().await.unwrap();
    let done = ok(app.get(&path, t), 200).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["updates"].as_array().unwrap().len(), 3);
    assert_eq!(status_of(&ok(comps(), 200).await, "DB"), "operational");
    app.state.status_refresh.changed().await;
    let s = public_json(&app, "/status/acme/api/v2/summary.json").await;
    assert_eq!(s["status"]["indicator"], "none");
    assert_eq!(s["scheduled_maintenances"], json!([]));
    // Done: the job is gone, and later ticks write nothing.
    app.clock.advance(SignedDuration::from_mins(5));
    app.state.engine.tick().await.unwrap();
    assert_eq!(
        ok(app.get(&path, t), 200).await["updates"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    app.stop().await;
}

async fn public_pages_are_exported_to_a_directory_and_private_ones_never(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().to_owned();
    let Some(app) = TestApp::spawn_with(b, |s| s.status_pages.export_dir = Some(export)).await
    else {
        return;
    };
    let t = &app.admin.token;
    page(&app, json!({"name": "Acme", "slug": "acme"})).await;
    page(&app, json!({"name": "Internal", "slug": "internal", "visibility": "password", "password": "open sesame"})).await;
    component(&app, "acme", json!({"name": "API"})).await;
    component(&app, "internal", json!({"name": "Secret DB"})).await;
    let m = ok(
        app.post(
            "/api/v1/status-pages/acme/incidents",
            t,
            &json!({"name": "Slow API"}),
        ),
        201,
    )
    .await;
    let code = m["code"].as_str().unwrap();
    let root = dir.path().join("status");
    let read =
        |p: &str| std::fs::read_to_string(root.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    // The same bytes a reader gets from Klaxon, at the same paths.
    let html = read("acme/index.html");
    assert_eq!(html, public_text(&app, "/status/acme").await);
    assert!(read(&format!("acme/incidents/{code}/index.html")).contains("Slow API"));
    let summary: Value = serde_json::from_str(&read("acme/api/v2/summary.json")).unwrap();
    assert_eq!(summary["incidents"][0]["name"], "Slow API");
    assert!(read("acme/history.atom").contains("Slow API"));
    assert!(read("acme/history/index.html").contains("Slow API"));
    assert!(read("acme/badge.svg").contains("<svg"));
    assert!(read("acme/style.css").contains("--accent"));
    assert!(read("index.html").contains("/status/acme/"));
    // Nothing of the private page, anywhere.
    assert!(!root.join("internal").exists());
    assert!(!read("index.html").contains("Internal"));
    // A page turned private leaves the directory.
    ok(
        patch(
            &app,
            "/api/v1/status-pages/acme",
            t,
            &json!({"visibility": "sign_in"}),
        ),
        200,
    )
    .await;
    assert!(!root.join("acme").exists());
    app.stop().await;
}

/// feedparser's reading of a feed: (format, bozo, entries as title, link, summary).
fn parse_feed(xml: &str) -> Value {
    let python = std::env::var_os("KLAXON_TEST_PYTHON").unwrap_or_else(|| {
        panic!(
            "KLAXON_TEST_PYTHON is not set: it names a Python with feedparser (from PyPI). Run \
             the tests through scripts/test.sh, which installs it, or set it yourself."
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("feed.xml");
    std::fs::write(&file, xml).unwrap();
    let script = "import feedparser, json, sys\n\
        d = feedparser.parse(sys.argv[1])\n\
        print(json.dumps({'version': d.version, 'bozo': int(d.bozo), 'title': d.feed.get('title'),\n\
          'entries': [{'title': e.title, 'link': e.link, 'summary': e.get('summary', '')} for e in d.entries]}))\n";
    let out = std::process::Command::new(python)
        .args(["-c", script, file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn feeds_read_back_with_a_real_feed_parser(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let t = &app.admin.token;
    page(&app, json!({"name": "Acme & Co", "slug": "acme"})).await;
    let api = component(&app, "acme", json!({"name": "API"})).await;
    let m = ok(
        app.post("/api/v1/status-pages/acme/incidents", t,
            &json!({"name": "Requests <b>fail</b> & time out", "body": "We see <script>errors</script>.",
                "components": [{"component": "API", "status": "partial_outage"}]})),
        201,
    )
    .await;
    let code = m["code"].as_str().unwrap();
    for (path, version) in [
        ("/status/acme/history.atom".to_owned(), "atom10"),
        ("/status/acme/history.rss".to_owned(), "rss20"),
        (
            format!(
                "/status/acme/components/{}/history.atom",
                api["code"].as_str().unwrap()
            ),
            "atom10",
        ),
    ] {
        let feed = parse_feed(&public_text(&app, &path).await);
        assert_eq!(feed["version"], version, "{path}: {feed}");
        assert_eq!(feed["bozo"], 0, "{path}: well-formed: {feed}");
        assert!(
            feed["title"].as_str().unwrap().starts_with("Acme & Co"),
            "{feed}"
        );
        let e = &feed["entries"][0];
        // The title is text: its markup comes back as characters, not as elements.
        assert_eq!(
            e["title"], "Requests <b>fail</b> & time out",
            "{path}: {feed}"
        );
        assert!(
            e["link"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/status/acme/incidents/{code}")),
            "{feed}"
        );
        let summary = e["summary"].as_str().unwrap();
        assert!(summary.contains("errors"), "{summary}");
        assert!(
            !summary.contains("<script"),
            "no script survives: {summary}"
        );
    }
    app.stop().await;
}

/// The budget: a page with 30 components (90 days of bars each) under 50 KB as sent.
async fn a_page_of_30_components_stays_small(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let t = &app.admin.token;
    page(&app, json!({"name": "Acme", "slug": "acme"})).await;
    for g in 0..5 {
        let group = format!("Region {g}");
        component(&app, "acme", json!({"name": group, "is_group": true})).await;
        for c in 0..6 {
            component(&app, "acme", json!({"name": format!("Service {g}.{c}"), "group": group, "description": "What customers use"})).await;
        }
    }
    // 90 days later, with an outage now and then, every bar has its words.
    for day in 0..90 {
        app.clock.advance(SignedDuration::from_hours(24));
        if day % 10 == 0 {
            let path = "/api/v1/status-pages/acme/components/Service 1.1";
            ok(
                patch(&app, path, t, &json!({"status": "partial_outage"})),
                200,
            )
            .await;
            app.clock.advance(SignedDuration::from_mins(20));
            ok(patch(&app, path, t, &json!({"status": "operational"})), 200).await;
        }
    }
    app.state.status_refresh.changed().await;
    let plain = public(&app, "/status/acme")
        .await
        .bytes()
        .await
        .unwrap()
        .len();
    let zipped = app
        .http
        .get(format!("{}/status/acme", app.url))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    let sent = zipped.bytes().await.unwrap().len();
    eprintln!("a page of 30 components: {plain} bytes, {sent} gzipped");
    assert!(sent < 50_000, "{sent} bytes sent");
    let html = public_text(&app, "/status/acme").await;
    assert_eq!(
        html.matches("<li class=\"d").count(),
        30 * 90,
        "every bar is there"
    );
    app.stop().await;
}

/// Each component on the page links its own Atom and RSS feeds, named for screen readers, and
/// the links resolve; a group, whose incidents name its members, links none.
async fn components_link_their_feeds(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let t = &app.admin.token;
    page(&app, json!({"name": "Acme", "slug": "acme"})).await;
    let group = component(&app, "acme", json!({"name": "Backend", "is_group": true})).await;
    let api = component(&app, "acme", json!({"name": "API", "group": "Backend"})).await;
    let web = component(
        &app,
        "acme",
        json!({"name": "Website", "show_uptime": false}),
    )
    .await;
    ok(
        app.post("/api/v1/status-pages/acme/incidents", t,
            &json!({"name": "Slow API", "components": [{"component": "API", "status": "degraded_performance"}]})),
        201,
    )
    .await;
    let html = public_text(&app, "/status/acme").await;
    let code = |c: &Value| c["code"].as_str().unwrap().to_owned();
    assert!(
        !html.contains(&format!("/components/{}/history", code(&group))),
        "{html}"
    );
    for (c, name) in [(&api, "API"), (&web, "Website")] {
        for (ext, words, kind) in [
            ("atom", "Atom", "application/atom+xml"),
            ("rss", "RSS", "application/rss+xml"),
        ] {
            let path = format!("/status/acme/components/{}/history.{ext}", code(c));
            let link =
                format!("<a href=\"{path}\">{words}<span class=\"vh\"> feed of {name}</span></a>");
            assert!(html.contains(&link), "{link} in {html}");
            let r = public(&app, &path).await;
            assert_eq!(r.status(), 200, "{path}");
            let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
            assert!(ct.starts_with(kind), "{path}: {ct}");
            let feed = r.text().await.unwrap();
            // Each feed holds its own component's incidents only.
            assert_eq!(feed.contains("Slow API"), name == "API", "{path}: {feed}");
        }
    }
    app.stop().await;
}

/// A GET with a `Host` header: (status, Location, body).
async fn on_host(app: &TestApp, host: &str, path: &str) -> (u16, String, String) {
    let r = app
        .http
        .get(format!("{}{path}", app.url))
        .header("host", host)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, location, r.text().await.unwrap())
}

/// A page's own host name answers with the page at its root, whatever the case and port; the
/// map follows changes of host name, a second page, and deletion; other hosts get Klaxon.
async fn a_page_answers_on_its_own_host_name(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let t = &app.admin.token;
    page(
        &app,
        json!({"name": "Acme", "slug": "acme", "hostname": "status.acme.example"}),
    )
    .await;
    page(
        &app,
        json!({"name": "Other", "slug": "other", "hostname": "status.other.example"}),
    )
    .await;
    let acme = public_text(&app, "/status/acme").await;
    for host in [
        "status.acme.example",
        "Status.ACME.example:8080",
        "status.acme.example:443",
        "status.acme.example.",
        "status.acme.example.:8080",
    ] {
        let (status, _, body) = on_host(&app, host, "/").await;
        assert_eq!((status, &body), (200, &acme), "{host}");
    }
    // Every document of the page, at the same path under the root; the query kept aside.
    let (status, _, body) = on_host(&app, "status.acme.example", "/api/v2/summary.json?x=1").await;
    assert_eq!(status, 200);
    let summary: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(summary["page"]["name"], "Acme");
    let (status, _, body) = on_host(&app, "status.acme.example", "/history.atom").await;
    assert_eq!(status, 200);
    assert!(body.contains("<feed"), "{body}");
    // The page's own links (/status/acme/…) work on its host too.
    let (status, _, body) = on_host(&app, "status.acme.example", "/status/acme/history").await;
    assert_eq!(status, 200);
    assert!(body.contains("Incident history"), "{body}");
    // Each host its own page.
    let (_, _, body) = on_host(&app, "status.other.example", "/").await;
    assert!(body.contains("<title>Status · Other</title>"), "{body}");
    // A host with a non-numeric "port" is not the page's host.
    let (_, _, body) = on_host(&app, "status.acme.example:x", "/").await;
    assert!(!body.contains("<title>Status · Acme</title>"), "{body}");
    // Klaxon's own host gets Klaxon: the sign-in page for the dashboard.
    let (status, location, _) = on_host(&app, "klaxon.example", "/").await;
    assert_eq!((status, location.as_str()), (303, "/login"));

    // A new host name: the old one is Klaxon's again, the new one the page's.
    ok(
        patch(
            &app,
            "/api/v1/status-pages/acme",
            t,
            &json!({"hostname": "status2.acme.example"}),
        ),
        200,
    )
    .await;
    let (status, location, _) = on_host(&app, "status.acme.example", "/").await;
    assert_eq!((status, location.as_str()), (303, "/login"));
    let (status, _, body) = on_host(&app, "status2.acme.example", "/").await;
    assert_eq!(status, 200);
    assert!(body.contains("<title>Status · Acme</title>"), "{body}");
    // Deleted: its host answers nothing of it.
    let r = common::delete(&app, "/api/v1/status-pages/acme", t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (status, location, _) = on_host(&app, "status2.acme.example", "/").await;
    assert_eq!((status, location.as_str()), (303, "/login"));
    let (status, _, _) = on_host(&app, "status2.acme.example", "/status/acme").await;
    assert_eq!(status, 404);
    let (status, _, _) = on_host(&app, "status.other.example", "/").await;
    assert_eq!(status, 200);
    app.stop().await;
}
