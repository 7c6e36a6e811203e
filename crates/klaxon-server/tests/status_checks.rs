//! Status-page components that follow their checks, end to end on both backends: a local HTTP
//! server the test makes fail and recover, the fake clock and the engine ticked by hand. A
//! following component goes to a major outage and back, its intervals and uptime say so, a
//! component on the same service that does not follow is untouched, and maintenance wins.
use crate::common;

use jiff::{SignedDuration, Timestamp};
use klaxon_domain::ids::StatusPageId;
use serde_json::{Value, json};

use common::target::Target;
use common::{Backend, TestApp, ok, patch, refused, session_for, web_get_as};

on_both_backends!(
    a_following_component_goes_down_and_back_with_its_checks,
    maintenance_wins_over_the_checks,
    following_is_set_from_the_api_the_web_and_refused_for_groups,
);

async fn tick(app: &TestApp) {
    app.state.engine.tick().await.unwrap();
}

async fn later(app: &TestApp, secs: i64) {
    app.clock.advance(SignedDuration::from_secs(secs));
    tick(app).await;
}

fn t(s: &str) -> Timestamp {
    format!("2026-11-21T{s}Z").parse().unwrap()
}

/// A service "website" with a check "homepage" on `target` every 30 s, a page "acme", and two
/// components on the website: API follows its checks, Billing does not. Returns the page.
async fn setup(app: &TestApp, target: &Target, thresholds: (u32, u32)) -> Value {
    let a = &app.admin.token;
    ok(
        app.post("/api/v1/services", a, &json!({"name": "website"})),
        201,
    )
    .await;
    ok(
        app.post(
            "/api/v1/checks",
            a,
            &json!({"name": "homepage", "service": "website", "url": target.url,
                    "interval_secs": 30, "failure_threshold": thresholds.0,
                    "success_threshold": thresholds.1}),
        ),
        201,
    )
    .await;
    let page = ok(
        app.post(
            "/api/v1/status-pages",
            a,
            &json!({"name": "Acme", "slug": "acme"}),
        ),
        201,
    )
    .await;
    let path = "/api/v1/status-pages/acme/components";
    let api = ok(
        app.post(
            path,
            a,
            &json!({"name": "API", "services": ["website"], "follow_checks": true}),
        ),
        201,
    )
    .await;
    assert_eq!(
        (api["follow_checks"].as_bool(), api["checks"].as_u64()),
        (Some(true), Some(1))
    );
    let billing = ok(
        app.post(
            path,
            a,
            &json!({"name": "Billing", "services": ["website"]}),
        ),
        201,
    )
    .await;
    assert_eq!(
        (
            billing["follow_checks"].as_bool(),
            billing["checks"].as_u64()
        ),
        (Some(false), Some(1))
    );
    page
}

/// Each component's status, by name.
async fn statuses(app: &TestApp) -> Vec<(String, String)> {
    let all = ok(
        app.get("/api/v1/status-pages/acme/components", &app.admin.token),
        200,
    )
    .await;
    all.as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn both(api: &str, billing: &str) -> Vec<(String, String)> {
    vec![
        ("API".into(), api.into()),
        ("Billing".into(), billing.into()),
    ]
}

/// The page's `status_page.component_updated` events: (actor, component name, from, to).
async fn moves(app: &TestApp, page: &Value) -> Vec<(String, String, String, String)> {
    let id = page["id"].as_str().unwrap();
    let events = common::all_pages(
        app,
        &format!("/api/v1/events?subject_type=status_page&subject_id={id}"),
        100,
    )
    .await;
    events
        .iter()
        .filter(|e| e["kind"] == "status_page.component_updated" && e["data"]["to"].is_string())
        .map(|e| {
            let s = |v: &Value| v.as_str().unwrap_or("").to_owned();
            (
                s(&e["actor"]),
                s(&e["data"]["name"]),
                s(&e["data"]["from"]),
                s(&e["data"]["to"]),
            )
        })
        .collect()
}

fn mv(actor: &str, name: &str, from: &str, to: &str) -> (String, String, String, String) {
    (actor.into(), name.into(), from.into(), to.into())
}

/// API's status intervals (status, from, until) since 09:00.
async fn intervals_of(
    app: &TestApp,
    page: &Value,
    name: &str,
) -> Vec<(String, Timestamp, Option<Timestamp>)> {
    let page_id: StatusPageId = page["id"].as_str().unwrap().parse().unwrap();
    let comps = app.state.store.list_components(page_id).await.unwrap();
    let c = comps.iter().find(|c| c.name == name).unwrap();
    app.state
        .store
        .status_intervals(page_id, t("09:00:00"))
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.component_id == c.id)
        .map(|i| (i.status.as_str().to_owned(), i.from, i.until))
        .collect()
}

async fn public(app: &TestApp, path: &str) -> String {
    app.state.status_refresh.changed().await;
    let r = app
        .http
        .get(format!("{}{path}", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.text().await.unwrap()
}

async fn a_following_component_goes_down_and_back_with_its_checks(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let target = Target::spawn().await;
    let page = setup(&app, &target, (3, 2)).await;
    // 09:00 passes; two failures stay under the threshold.
    tick(&app).await;
    target.set(false);
    later(&app, 30).await;
    later(&app, 30).await;
    assert_eq!(statuses(&app).await, both("operational", "operational"));
    // 09:01:30, the third: the check is down, and API with it, in the same transaction.
    later(&app, 30).await;
    assert_eq!(statuses(&app).await, both("major_outage", "operational"));
    assert_eq!(
        moves(&app, &page).await,
        [mv("system", "API", "operational", "major_outage")]
    );
    let summary = public(&app, "/status/acme/api/v2/summary.json").await;
    let summary: Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(summary["status"]["indicator"], "critical");
    assert_eq!(summary["components"][0]["name"], "API");
    assert_eq!(summary["components"][0]["status"], "major_outage");
    assert_eq!(summary["components"][1]["status"], "operational");

    // Still down: nothing more. One success is not enough; the second brings API back.
    later(&app, 30).await;
    target.set(true);
    later(&app, 30).await;
    assert_eq!(statuses(&app).await, both("major_outage", "operational"));
    later(&app, 30).await;
    assert_eq!(statuses(&app).await, both("operational", "operational"));
    assert_eq!(
        moves(&app, &page).await,
        [
            mv("system", "API", "operational", "major_outage"),
            mv("system", "API", "major_outage", "operational"),
        ]
    );

    // Uptime's source of truth: API was down from the third failure to the second success.
    assert_eq!(
        intervals_of(&app, &page, "API").await,
        [
            ("operational".into(), t("09:00:00"), Some(t("09:01:30"))),
            ("major_outage".into(), t("09:01:30"), Some(t("09:03:00"))),
            ("operational".into(), t("09:03:00"), None),
        ]
    );
    assert_eq!(
        intervals_of(&app, &page, "Billing").await,
        [("operational".into(), t("09:00:00"), None)]
    );
    // The public page's bars say so: 90 of the 180 seconds observed today were down.
    let html = public(&app, "/status/acme").await;
    assert_eq!(html.matches("major outage 2 min").count(), 1, "{html}");
    assert!(
        html.contains("21 Nov: 50.0 %, major outage 2 min"),
        "{html}"
    );
    assert!(html.contains("21 Nov: 100 %, no downtime"), "{html}");
    app.stop().await;
}

async fn maintenance_wins_over_the_checks(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let a = &app.admin.token;
    let target = Target::spawn().await;
    let page = setup(&app, &target, (1, 1)).await;
    tick(&app).await;
    // A maintenance of API from 09:10 to 09:30; the engine starts it.
    ok(
        app.post(
            "/api/v1/status-pages/acme/incidents",
            a,
            &json!({"name": "Upgrade", "maintenance": true,
                "scheduled_for": "2026-11-21T09:10:00Z", "scheduled_until": "2026-11-21T09:30:00Z",
                "components": [{"component": "API", "status": "under_maintenance"}]}),
        ),
        201,
    )
    .await;
    later(&app, 600).await;
    assert_eq!(
        statuses(&app).await,
        both("under_maintenance", "operational")
    );
    // The upgrade takes the website down: API stays under maintenance.
    target.set(false);
    later(&app, 30).await;
    let check = ok(app.get("/api/v1/checks/homepage", a), 200).await;
    assert_eq!(check["state"], "down");
    assert_eq!(
        statuses(&app).await,
        both("under_maintenance", "operational")
    );
    // Up and down again, still under maintenance: the checks write nothing on the page.
    target.set(true);
    later(&app, 30).await;
    target.set(false);
    later(&app, 30).await;
    assert_eq!(
        moves(&app, &page).await,
        [],
        "no component_updated event yet"
    );
    assert_eq!(
        statuses(&app).await,
        both("under_maintenance", "operational")
    );

    // 09:30: completed. The maintenance puts API back to operational and its checks (still
    // down) take it at once; Billing is never touched.
    app.clock.advance(SignedDuration::from_secs(18 * 60 + 30));
    tick(&app).await;
    let m = ok(app.get("/api/v1/status-pages/acme/incidents", a), 200).await;
    assert_eq!(m[0]["status"], "completed", "{m}");
    assert_eq!(statuses(&app).await, both("major_outage", "operational"));
    assert_eq!(
        moves(&app, &page).await,
        [mv("system", "API", "operational", "major_outage")]
    );
    target.set(true);
    later(&app, 30).await;
    assert_eq!(statuses(&app).await, both("operational", "operational"));
    let mut api = intervals_of(&app, &page, "API").await;
    // Operational and major outage both start at 09:30: the first lasts no time at all.
    api.sort_by_key(|(_, from, until)| (*from, until.unwrap_or(Timestamp::MAX)));
    let spans: Vec<(&str, Timestamp)> = api.iter().map(|(s, f, _)| (s.as_str(), *f)).collect();
    assert_eq!(
        spans,
        [
            ("operational", t("09:00:00")),
            ("under_maintenance", t("09:10:00")),
            ("operational", t("09:30:00")),
            ("major_outage", t("09:30:00")),
            ("operational", t("09:30:30")),
        ]
    );
    app.stop().await;
}

async fn following_is_set_from_the_api_the_web_and_refused_for_groups(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let a = &app.admin.token;
    let target = Target::spawn().await;
    setup(&app, &target, (1, 1)).await;
    let path = "/api/v1/status-pages/acme/components";
    // A group reads as its worst member: it follows nothing itself.
    refused(
        app.post(
            path,
            a,
            &json!({"name": "Core", "is_group": true, "follow_checks": true}),
        ),
        400,
        "invalid_field",
        Some("follow_checks"),
    )
    .await;
    ok(
        app.post(path, a, &json!({"name": "Core", "is_group": true})),
        201,
    )
    .await;
    refused(
        patch(
            &app,
            &format!("{path}/Core"),
            a,
            &json!({"follow_checks": true}),
        ),
        400,
        "invalid_field",
        Some("follow_checks"),
    )
    .await;
    // A responder sets statuses, not what a component follows.
    let responder = common::member(&app, "r@example.com", "R", "responder").await;
    refused(
        patch(
            &app,
            &format!("{path}/Billing"),
            &responder.token,
            &json!({"follow_checks": true}),
        ),
        403,
        "forbidden",
        None,
    )
    .await;
    // In the OpenAPI document, on the body and the answer.
    let doc: Value = app
        .http
        .get(format!("{}/api/v1/openapi.json", app.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["ComponentBody"]["properties"]["follow_checks"]["type"],
        json!(["boolean", "null"])
    );
    assert_eq!(
        schemas["ComponentOut"]["properties"]["follow_checks"]["type"],
        "boolean"
    );
    assert!(
        schemas["ComponentOut"]["required"]
            .as_array()
            .unwrap()
            .contains(&json!("follow_checks"))
    );

    // The admin page: API says what it follows, and its form says which checks.
    let (cookie, csrf) = session_for(&app, &app.admin.email, &app.admin.password).await;
    let page_id = ok(app.get("/api/v1/status-pages/acme", a), 200).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let admin_path = format!("/status-pages/{page_id}");
    let html = web_get_as(&app, &admin_path, &cookie).await;
    assert_eq!(
        html.matches(r#"data-testid="follows">follows 1 check<"#)
            .count(),
        1,
        "{html}"
    );
    let api_code = code_of(&app, "API").await;
    let fid = format!("e-{api_code}-follow");
    assert!(
        html.contains(&format!(
            r#"<input type="checkbox" name="follow_checks" value="yes" id="{fid}" checked aria-describedby="{fid}-hint"> Follow its checks</label>"#
        )),
        "{html}"
    );
    assert!(
        html.contains(&format!(
            r#"<p class="hint" id="{fid}-hint">Its checks are the enabled uptime checks on its services: homepage."#
        )),
        "{html}"
    );
    assert!(html.contains("; now: homepage (website)."), "{html}");

    // Billing follows from its edit form, and takes its checks' status at once.
    target.set(false);
    tick(&app).await;
    assert_eq!(
        statuses(&app).await[..2],
        both("major_outage", "operational")[..]
    );
    let website = ok(app.get("/api/v1/services/website", a), 200).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let billing = code_of(&app, "Billing").await;
    let client = reqwest::Client::new();
    let send = |path: String, fields: Vec<(&'static str, String)>| {
        client
            .post(format!("{}{path}", app.url))
            .header("cookie", &cookie)
            .form(&fields)
            .send()
    };
    let r = send(
        format!("{admin_path}/components/{billing}"),
        vec![
            ("csrf", csrf.clone()),
            ("name", "Billing".into()),
            ("description", String::new()),
            ("group", String::new()),
            ("position", "1".into()),
            ("services", website.clone()),
            ("show_uptime", "yes".into()),
            ("follow_checks", "yes".into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Saved Billing."));
    assert_eq!(
        statuses(&app).await[..2],
        both("major_outage", "major_outage")[..]
    );
    // A group with "follow" ticked is refused beside the box, what was typed kept.
    let r = send(
        format!("{admin_path}/components"),
        vec![
            ("csrf", csrf.clone()),
            ("name", "Edge".into()),
            ("is_group", "yes".into()),
            ("follow_checks", "yes".into()),
            ("show_uptime", "yes".into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    assert!(
        html.contains(r#"id="comp-follow" checked aria-invalid="true" aria-describedby="comp-follow-hint comp-follow-error"> Follow its checks"#),
        "{html}"
    );
    assert!(
        html.contains(
            r#"<p class="field-error" id="comp-follow-error">A group shows its worst member"#
        ),
        "{html}"
    );
    // And off again: the status stays until someone sets it.
    let r = send(
        format!("{admin_path}/components/{billing}"),
        vec![
            ("csrf", csrf.clone()),
            ("name", "Billing".into()),
            ("position", "1".into()),
            ("services", website),
            ("show_uptime", "yes".into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    target.set(true);
    later(&app, 30).await;
    assert_eq!(
        statuses(&app).await[..2],
        both("operational", "major_outage")[..]
    );
    let got = ok(app.get(path, a), 200).await;
    let billing = got
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Billing")
        .unwrap();
    assert_eq!(billing["follow_checks"], false);
    app.stop().await;
}

/// A component's code, by name.
async fn code_of(app: &TestApp, name: &str) -> String {
    let all = ok(
        app.get("/api/v1/status-pages/acme/components", &app.admin.token),
        200,
    )
    .await;
    all.as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned()
}
