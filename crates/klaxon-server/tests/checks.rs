//! Uptime checks end to end: a local HTTP server the test makes fail and recover, a TCP
//! listener that closes, the fake clock and the engine ticked by hand, on both backends. A
//! loopback receiver records every page; any page not expected fails the test.
use crate::common;

use std::sync::{Arc, Mutex};

use axum::extract::State;
use jiff::SignedDuration;
use serde_json::{Value, json};

use common::target::Target;
use common::{Backend, PASSWORD, TestApp, ok, refused};

type Posts = Arc<Mutex<Vec<Value>>>;

/// Records every page posted to a webhook contact method.
async fn receiver() -> (String, Posts) {
    let got: Posts = Arc::default();
    let app = axum::Router::new()
        .fallback(axum::routing::post(
            |State(got): State<Posts>, axum::Json(body): axum::Json<Value>| async move {
                got.lock().unwrap().push(body);
                axum::http::StatusCode::OK
            },
        ))
        .with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/page", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

async fn tick(app: &TestApp) {
    app.state.engine.tick().await.unwrap();
}

async fn later(app: &TestApp, secs: i64) {
    app.clock.advance(SignedDuration::from_secs(secs));
    tick(app).await;
}

/// A service whose policy pages Ada at once through a webhook contact method.
async fn paged_service(app: &TestApp, page_url: &str) -> String {
    let admin = &app.admin.token;
    let ada = common::member(app, "ada@example.com", "Ada", "responder").await;
    let m = ok(
        app.post(
            &format!("/api/v1/users/{}/contact-methods", ada.id),
            &ada.token,
            &json!({"kind": "webhook", "label": "pager", "address": page_url, "password": PASSWORD}),
        ),
        201,
    )
    .await;
    ok(
        app.post(
            &format!("/api/v1/users/{}/notification-rules", ada.id),
            &ada.token,
            &json!({"contact_method_id": m["id"], "delay_minutes": 0}),
        ),
        201,
    )
    .await;
    let policy = ok(
        app.post(
            "/api/v1/escalation-policies",
            admin,
            &json!({"name": "web", "repeat": 0, "levels": [
                {"delay_minutes": 30, "targets": [{"type": "user", "id": ada.id}]}]}),
        ),
        201,
    )
    .await;
    let svc = ok(
        app.post(
            "/api/v1/services",
            admin,
            &json!({"name": "website", "escalation_policy_id": policy["id"]}),
        ),
        201,
    )
    .await;
    svc["id"].as_str().unwrap().to_owned()
}

async fn alerts(app: &TestApp, service: &str) -> Vec<Value> {
    let list = ok(
        app.get(
            &format!("/api/v1/alerts?service_id={service}"),
            &app.admin.token,
        ),
        200,
    )
    .await;
    list["items"].as_array().unwrap().clone()
}

async fn check(app: &TestApp, id: &str) -> Value {
    ok(
        app.get(&format!("/api/v1/checks/{id}"), &app.admin.token),
        200,
    )
    .await
}

async fn timeline_kinds(app: &TestApp, service: &str) -> Vec<String> {
    let t = ok(
        app.get(
            &format!("/api/v1/services/{service}/timeline?limit=500"),
            &app.admin.token,
        ),
        200,
    )
    .await;
    t["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .filter(|k| k.starts_with("check."))
        .collect()
}

async fn a_failing_check_pages_once_and_resolves_on_recovery(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let target = Target::spawn().await;
    let (page_url, pages) = receiver().await;
    let service = paged_service(&app, &page_url).await;
    let admin = &app.admin.token;
    let c = ok(
        app.post(
            "/api/v1/checks",
            admin,
            &json!({"name": "homepage", "service": "website", "url": target.url,
                    "interval_secs": 30,
                    "conditions": ["[STATUS] == 200", "[BODY].status == UP", "[RESPONSE_TIME] < 5s"]}),
        ),
        201,
    )
    .await;
    let id = c["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (c["kind"].as_str(), c["state"].as_str()),
        (Some("http"), Some("up"))
    );
    assert_eq!(
        (
            c["failure_threshold"].as_u64(),
            c["success_threshold"].as_u64()
        ),
        (Some(3), Some(2))
    );

    // The first run is due at once, and passes.
    tick(&app).await;
    let got = check(&app, &id).await;
    assert_eq!(got["last_run_at"].as_str(), Some("2026-11-21T09:00:00Z"));
    assert_eq!(got["successes"], 1);

    // Two failures stay under the threshold: nothing raised.
    target.set(false);
    later(&app, 30).await;
    later(&app, 30).await;
    let got = check(&app, &id).await;
    assert_eq!(
        (got["state"].as_str(), got["failures"].as_u64()),
        (Some("up"), Some(2))
    );
    assert!(alerts(&app, &service).await.is_empty());
    assert!(pages.lock().unwrap().is_empty());

    // The third: down, an alert on the service, an incident, one page.
    later(&app, 30).await;
    let got = check(&app, &id).await;
    assert_eq!(got["state"], "down");
    let open = alerts(&app, &service).await;
    assert_eq!(open.len(), 1, "{open:?}");
    let alert = &open[0];
    assert_eq!(alert["dedup_key"], format!("check:{id}"));
    assert_eq!(alert["status"], "triggered");
    assert!(alert["incident_id"].is_string());
    assert!(alert["integration_id"].is_null());
    let summary = alert["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("Check homepage is down: [STATUS] == 200 (was 503)"),
        "{summary}"
    );
    let details = &alert["content"]["details"];
    assert_eq!(details["url"], target.url);
    assert_eq!(details["status"], 503);
    assert!(details["response_ms"].is_u64());
    assert_eq!(details["failed"], "[STATUS] == 200 (was 503)");
    assert_eq!(pages.lock().unwrap().len(), 1, "one page for the incident");
    assert_eq!(timeline_kinds(&app, &service).await, ["check.down"]);

    // Still failing: the same alert, no page again.
    later(&app, 30).await;
    assert_eq!(alerts(&app, &service).await.len(), 1);
    assert_eq!(pages.lock().unwrap().len(), 1);

    // One success is not enough; the second brings it up and resolves the alert.
    target.set(true);
    later(&app, 30).await;
    assert_eq!(check(&app, &id).await["state"], "down");
    later(&app, 30).await;
    let got = check(&app, &id).await;
    assert_eq!(got["state"], "up");
    let after = alerts(&app, &service).await;
    assert_eq!(after.len(), 1);
    assert_eq!(after[0]["status"], "resolved");
    let incident = ok(
        app.get(
            &format!(
                "/api/v1/incidents/{}",
                after[0]["incident_id"].as_str().unwrap()
            ),
            admin,
        ),
        200,
    )
    .await;
    assert_eq!(incident["status"], "resolved");
    assert_eq!(
        timeline_kinds(&app, &service).await,
        ["check.down", "check.up"]
    );
    later(&app, 30).await;
    assert_eq!(
        pages.lock().unwrap().len(),
        1,
        "no page but the first: {:?}",
        pages.lock().unwrap()
    );

    // Eight runs, newest first, each with its conditions' values.
    let results = ok(
        app.get(&format!("/api/v1/checks/{id}/results?limit=3"), admin),
        200,
    )
    .await;
    let items = results["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert!(results["next_cursor"].is_string());
    assert_eq!(items[0]["ok"], true);
    let all = common::all_pages(&app, &format!("/api/v1/checks/{id}/results"), 3).await;
    let oks: Vec<bool> = all.iter().map(|r| r["ok"].as_bool().unwrap()).collect();
    assert_eq!(oks, [true, true, true, false, false, false, false, true]);
    let failed = &all[4];
    assert_eq!(failed["status"], 503);
    assert_eq!(failed["conditions"][1]["actual"], "\"DOWN\"");
    let uptime = ok(
        app.get(&format!("/api/v1/checks/{id}/uptime?days=7"), admin),
        200,
    )
    .await;
    assert_eq!(uptime["days"].as_array().unwrap().len(), 1);
    let today = &uptime["days"][0];
    assert_eq!(
        (
            today["day"].as_str(),
            today["total"].as_u64(),
            today["successes"].as_u64()
        ),
        (Some("2026-11-21"), Some(8), Some(4))
    );
    // Down from the third failure to the second success: three intervals.
    assert_eq!(today["down_secs"], 90);
    assert_eq!(uptime["uptime"], 0.5);

    // The up/down stretches a status page component can follow.
    let t0: jiff::Timestamp = "2026-11-21T09:00:00Z".parse().unwrap();
    let stretches = klaxon_server::alerts::checks::check_intervals(
        app.state.store.as_ref(),
        id.parse().unwrap(),
        t0,
        app.state.clock.now(),
    )
    .await
    .unwrap();
    let states: Vec<_> = stretches
        .iter()
        .map(|s| (s.from.duration_since(t0).as_secs(), s.state.as_str()))
        .collect();
    assert_eq!(states, [(0, "up"), (90, "down"), (180, "up")]);
    app.stop().await;
}

async fn a_tcp_check_goes_down_when_its_port_closes(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let admin = &app.admin.token;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let svc = ok(
        app.post("/api/v1/services", admin, &json!({"name": "database"})),
        201,
    )
    .await;
    let c = ok(
        app.post(
            "/api/v1/checks",
            admin,
            &json!({"name": "db port", "service": svc["id"], "url": format!("tcp://{addr}"),
                    "failure_threshold": 1, "success_threshold": 1}),
        ),
        201,
    )
    .await;
    let id = c["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (c["kind"].as_str(), c["conditions"][0].as_str()),
        (Some("tcp"), Some("[CONNECTED] == true"))
    );
    tick(&app).await;
    assert_eq!(check(&app, &id).await["successes"], 1);
    drop(listener);
    later(&app, 60).await;
    let got = check(&app, &id).await;
    assert_eq!(got["state"], "down");
    let open = alerts(&app, svc["id"].as_str().unwrap()).await;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["status"], "triggered");
    assert!(
        open[0]["summary"]
            .as_str()
            .unwrap()
            .contains("could not connect"),
        "{}",
        open[0]["summary"]
    );
    let results = ok(app.get(&format!("/api/v1/checks/{id}/results"), admin), 200).await;
    assert_eq!(results["items"][0]["conditions"][0]["actual"], "false");

    // Deleting a down check resolves its alert and stops its runs.
    ok(
        common::delete(&app, &format!("/api/v1/checks/{id}"), admin),
        204,
    )
    .await;
    assert_eq!(
        alerts(&app, svc["id"].as_str().unwrap()).await[0]["status"],
        "resolved"
    );
    ok(app.get(&format!("/api/v1/checks/{id}"), admin), 404).await;
    later(&app, 60).await;
    let jobs = app.state.store.list_jobs(None, 100).await.unwrap().items;
    assert!(jobs.iter().all(|j| j.kind != "check.run"), "{jobs:?}");
    app.stop().await;
}

async fn bad_input_is_refused_naming_the_field(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let admin = &app.admin.token;
    ok(
        app.post("/api/v1/services", admin, &json!({"name": "web"})),
        201,
    )
    .await;
    let post = |body: Value| app.post("/api/v1/checks", admin, &body);
    let base = json!({"name": "x", "service": "web", "url": "https://example.com/"});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    let e = refused(
        post(with(
            "conditions",
            json!(["[STATUS] == 200", "[HEALTH] == ok"]),
        )),
        400,
        "invalid_field",
        Some("conditions[1]"),
    )
    .await;
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("[HEALTH] is not a placeholder"),
        "{e}"
    );
    let e = refused(
        post(with("interval_secs", json!(10))),
        400,
        "invalid_field",
        Some("interval_secs"),
    )
    .await;
    assert!(e["message"].as_str().unwrap().contains("from 20"), "{e}");
    refused(
        post(with("url", json!("ftp://example.com"))),
        400,
        "invalid_field",
        Some("url"),
    )
    .await;
    refused(
        post(with("url", json!("http://[::1/"))),
        400,
        "invalid_field",
        Some("url"),
    )
    .await;
    refused(
        post(with("url", json!("tcp://db"))),
        400,
        "invalid_field",
        Some("url"),
    )
    .await;
    refused(
        post(with("service", json!("nope"))),
        400,
        "invalid_field",
        Some("service"),
    )
    .await;
    refused(
        post(with("conditions", json!(["[STATUS] < fast"]))),
        400,
        "invalid_field",
        Some("conditions[0]"),
    )
    .await;
    refused(
        post(with("method", json!("FETCH"))),
        400,
        "invalid_field",
        Some("method"),
    )
    .await;
    refused(
        post(with("failure_threshold", json!(0))),
        400,
        "invalid_field",
        Some("failure_threshold"),
    )
    .await;
    refused(
        post(with("timeout_ms", json!(45_000))),
        400,
        "invalid_field",
        Some("timeout_ms"),
    )
    .await;
    // Only admins point checks somewhere.
    let viewer = common::member(&app, "v@example.com", "V", "responder").await;
    refused(
        app.post("/api/v1/checks", &viewer.token, &base),
        403,
        "forbidden",
        None,
    )
    .await;
    let c = ok(
        post(with("headers", json!({"Authorization": "Bearer s3cret"}))),
        201,
    )
    .await;
    refused(post(base.clone()), 409, "conflict", Some("name")).await;
    let path = format!("/api/v1/checks/{}", c["id"].as_str().unwrap());
    refused(
        common::patch(&app, &path, admin, &json!({"conditions": ["[BODY] =< 1"]})),
        400,
        "invalid_field",
        Some("conditions[0]"),
    )
    .await;
    refused(
        common::patch(&app, &path, admin, &json!({"interval_secs": 5})),
        400,
        "invalid_field",
        Some("interval_secs"),
    )
    .await;
    // Nothing was changed by the refusals; header values are for admins' eyes.
    assert_eq!(ok(app.get(&path, admin), 200).await["interval_secs"], 60);
    assert_eq!(
        ok(app.get("/api/v1/checks/x", admin), 200).await["headers"]["Authorization"],
        "Bearer s3cret"
    );
    assert_eq!(
        ok(app.get(&path, &viewer.token), 200).await["headers"]["Authorization"],
        "(hidden)"
    );
    refused(
        app.get(&format!("{path}/uptime?days=401"), admin),
        400,
        "invalid_field",
        Some("days"),
    )
    .await;
    app.stop().await;
}

async fn results_roll_up_by_day_and_old_ones_are_pruned(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let admin = &app.admin.token;
    let target = Target::spawn().await;
    ok(
        app.post("/api/v1/services", admin, &json!({"name": "web"})),
        201,
    )
    .await;
    let c = ok(
        app.post(
            "/api/v1/checks",
            admin,
            &json!({"name": "home", "service": "web", "url": target.url}),
        ),
        201,
    )
    .await;
    let id = c["id"].as_str().unwrap().to_owned();
    tick(&app).await;
    later(&app, 60).await;
    // Eight days on: the engine catches up with one run (not one per missed minute), and the
    // pruning job forgets raw results older than a week.
    later(&app, 8 * 86_400).await;
    let results = ok(app.get(&format!("/api/v1/checks/{id}/results"), admin), 200).await;
    let ats: Vec<_> = results["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["at"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ats, ["2026-11-29T09:01:00Z"]);
    let uptime = ok(
        app.get(&format!("/api/v1/checks/{id}/uptime?days=30"), admin),
        200,
    )
    .await;
    let days: Vec<_> = uptime["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["day"].as_str().unwrap().to_owned(),
                d["total"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        days,
        [("2026-11-21".to_owned(), 2), ("2026-11-29".to_owned(), 1)]
    );
    // Daily tallies stay 400 days.
    later(&app, 390 * 86_400).await;
    let uptime = ok(
        app.get(&format!("/api/v1/checks/{id}/uptime?days=400"), admin),
        200,
    )
    .await;
    assert_eq!(uptime["days"].as_array().unwrap().len(), 3);
    later(&app, 5 * 86_400).await;
    let uptime = ok(
        app.get(&format!("/api/v1/checks/{id}/uptime?days=400"), admin),
        200,
    )
    .await;
    let days: Vec<_> = uptime["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["day"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        days.first().map(String::as_str),
        Some("2026-11-29"),
        "the first day is gone: {days:?}"
    );
    // A check turned off stops; turned on again, runs again.
    ok(
        common::patch(
            &app,
            &format!("/api/v1/checks/{id}"),
            admin,
            &json!({"enabled": false}),
        ),
        200,
    )
    .await;
    let before =
        ok(app.get(&format!("/api/v1/checks/{id}"), admin), 200).await["last_run_at"].clone();
    later(&app, 120).await;
    assert_eq!(
        ok(app.get(&format!("/api/v1/checks/{id}"), admin), 200).await["last_run_at"],
        before
    );
    ok(
        common::patch(
            &app,
            &format!("/api/v1/checks/{id}"),
            admin,
            &json!({"enabled": true}),
        ),
        200,
    )
    .await;
    tick(&app).await;
    assert_ne!(
        ok(app.get(&format!("/api/v1/checks/{id}"), admin), 200).await["last_run_at"],
        before
    );
    app.stop().await;
}

async fn the_checks_pages_add_refuse_change_and_delete(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let target = Target::spawn().await;
    let svc = ok(
        app.post(
            "/api/v1/services",
            &app.admin.token,
            &json!({"name": "web"}),
        ),
        201,
    )
    .await;
    let svc_id = svc["id"].as_str().unwrap().to_owned();
    let (cookie, csrf) = common::session_for(&app, &app.admin.email, &app.admin.password).await;
    let post = |path: String, form: Vec<(&'static str, String)>| {
        app.http
            .post(format!("{}{path}", app.url))
            .header("cookie", &cookie)
            .form(&form)
            .send()
    };
    let form = |url: &str, conditions: &str, interval: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("name", "homepage".into()),
            ("service", svc_id.clone()),
            ("url", url.into()),
            ("conditions", conditions.into()),
            ("interval_secs", interval.into()),
            ("timeout_ms", "2000".into()),
            ("failure_threshold", "3".into()),
            ("success_threshold", "2".into()),
            ("method", "GET".into()),
            ("headers", String::new()),
            ("body", String::new()),
        ]
    };
    // Each reason beside its field, what was typed kept.
    let r = post(
        "/checks".into(),
        form(&target.url, "[STATUS] == 200\n[HEALTH] == ok", "60"),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert!(
        page.contains(
            r#"<p class="field-error" id="check-conditions-error">[HEALTH] is not a placeholder"#
        ),
        "{page}"
    );
    assert!(
        page.contains("[STATUS] == 200\n[HEALTH] == ok</textarea>"),
        "{page}"
    );
    let r = post("/checks".into(), form(&target.url, "[STATUS] == 200", "5"))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert!(
        page.contains(r#"<p class="field-error" id="check-interval-error">Must be from 20"#),
        "{page}"
    );
    assert!(
        page.contains(r#"name="interval_secs" inputmode="numeric" value="5""#),
        "{page}"
    );
    let r = post("/checks".into(), form("gopher://x", "", "60"))
        .await
        .unwrap();
    assert!(
        r.text()
            .await
            .unwrap()
            .contains(r#"id="check-url-error">Must start with http://"#)
    );
    let r = post("/checks".into(), form(&target.url, "[STATUS] == 200", "60"))
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let at = r.headers()["location"].to_str().unwrap().to_owned();
    let id = at.trim_start_matches("/checks/").to_owned();
    tick(&app).await;
    let page = common::web_get(&app, &at).await;
    assert!(
        page.contains(r#"<span class="check-state up">up</span>"#),
        "{page}"
    );
    assert!(page.contains(r#"data-testid="check-result""#), "{page}");
    assert_eq!(page.matches(r#"class="bar "#).count(), 90);
    assert!(page.contains("100.00% of runs passed"), "{page}");
    let list = common::web_get(&app, "/checks").await;
    assert!(
        list.contains(&format!(r#"<a href="/checks/{id}">homepage</a>"#)),
        "{list}"
    );

    // Changed from its page: a refusal keeps what was typed, a good change is saved.
    let mut bad = form(&target.url, "[RESPONSE_TIME] < soon", "60");
    bad.push(("enabled", "on".into()));
    let r = post(at.clone(), bad).await.unwrap();
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert!(
        page.contains(r#"id="check-conditions-error">[RESPONSE_TIME] compares with a duration"#),
        "{page}"
    );
    assert!(
        page.contains("[RESPONSE_TIME] &#60; soon</textarea>"),
        "{page}"
    );
    let mut good = form(&target.url, "[STATUS] == 200\n[BODY].status == UP", "45");
    good.push(("enabled", "on".into()));
    let r = post(at.clone(), good).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Saved."));
    let c = check(&app, &id).await;
    assert_eq!(
        (
            c["interval_secs"].as_u64(),
            c["conditions"].as_array().unwrap().len()
        ),
        (Some(45), 2)
    );

    // Deleting asks to be sure.
    let r = post(format!("{at}/delete"), vec![("csrf", csrf.clone())])
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains(r#"id="delete-confirm-error""#)
    );
    check(&app, &id).await;
    let r = post(
        format!("{at}/delete"),
        vec![("csrf", csrf.clone()), ("confirm", "yes".into())],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 303);
    ok(
        app.get(&format!("/api/v1/checks/{id}"), &app.admin.token),
        404,
    )
    .await;
    app.stop().await;
}

on_both_backends!(
    the_checks_pages_add_refuse_change_and_delete,
    a_failing_check_pages_once_and_resolves_on_recovery,
    a_tcp_check_goes_down_when_its_port_closes,
    bad_input_is_refused_naming_the_field,
    results_roll_up_by_day_and_old_ones_are_pruned,
);
