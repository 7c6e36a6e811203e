//! Availability SLOs: the minutes an uptime check (or a status-page component) is up, judged
//! each minute by the engine with the fake clock; a check that goes down fires the burn-rate
//! rules like any SLI. The API refuses a check or component not on the SLO's service, and the
//! web form offers them.
use crate::common;

use common::target::Target;
use common::*;
use jiff::SignedDuration;
use serde_json::{Value, json};

on_both_backends!(
    a_check_down_for_15_minutes_fires_the_rules_at_their_minutes_and_resolves_on_the_long_window,
    an_availability_sli_names_a_check_or_component_of_its_service,
    the_web_form_offers_the_services_checks_and_components,
);

async fn service(app: &TestApp, name: &str) -> String {
    let svc = ok(
        app.post("/api/v1/services", &app.admin.token, &json!({"name": name})),
        201,
    )
    .await;
    svc["id"].as_str().unwrap().to_owned()
}

/// A check that goes down on its first failed run and up on its first good one.
async fn check(app: &TestApp, name: &str, service: &str, url: &str) -> String {
    let c = ok(
        app.post(
            "/api/v1/checks",
            &app.admin.token,
            &json!({"name": name, "service": service, "url": url, "interval_secs": 60,
                    "failure_threshold": 1, "success_threshold": 1,
                    "conditions": ["[STATUS] == 200"]}),
        ),
        201,
    )
    .await;
    c["id"].as_str().unwrap().to_owned()
}

async fn get_slo(app: &TestApp, id: &str) -> Value {
    ok(
        app.get(&format!("/api/v1/slos/{id}"), &app.admin.token),
        200,
    )
    .await
}

fn close(a: &Value, b: f64) -> bool {
    a.as_f64().is_some_and(|a| (a - b).abs() < 1e-6)
}

/// A 99 % SLO over 30 days on a check up for seven hours, then down from minute 1 to minute 16
/// (15 minutes), then up. Worked out by hand (docs/slos.md): the budget is 1 % of 30 days,
/// 432 minutes. At minute m the rules read [m − window, m); a change at m counts from m on.
/// - page-fast (above 14.4× over 1 h and 5 min): 14.4× of 1 % is 8.64 of the hour's 60
///   minutes, so it fires at minute 10 (9 minutes down: 15×; the last 5 minutes all down:
///   100×). It resolves when the hour holds 8 down minutes or fewer: minute 68 (the hour
///   [8, 68) holds [8, 16)), at 13.3×; at 67 it still holds 9.
/// - page-slow (above 6× over 6 h): 15 down minutes of 360 are 4.2×: never.
/// - ticket (above 1× over 3 d and 6 h): the 3 days hold only the check's 420 + m minutes;
///   at minute 6, 5 down of 426 is 1.17× (and 5 of the 6 hours' 360 is 1.4×); at minute 5,
///   4 of 425 is 0.94×. It fires at 6 and still fires at 70 (15 of 490 is 3.1×).
/// - The budget: 15 of 432 minutes spent, 96.5 % left: healthy throughout.
async fn a_check_down_for_15_minutes_fires_the_rules_at_their_minutes_and_resolves_on_the_long_window(
    b: Backend,
) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let t = &app.admin.token;
    let svc = service(&app, "website").await;
    let target = Target::spawn().await;
    let check_id = check(&app, "homepage", "website", &target.url).await;
    app.state.engine.tick().await.unwrap();
    // Seven calm hours: the check runs (up), and its history is what the SLO reads.
    app.clock.advance(SignedDuration::from_hours(7));
    app.state.engine.tick().await.unwrap();
    let s = ok(
        app.post(
            "/api/v1/slos",
            t,
            &json!({"service": "website", "name": "homepage up", "objective": 99.0,
                    "window": "30d", "sli": {"kind": "availability", "check": check_id}}),
        ),
        201,
    )
    .await;
    assert_eq!(s["sli"], json!({"kind": "availability", "check": check_id}));
    let id = s["id"].as_str().unwrap().to_owned();
    assert_eq!(s["budget"]["unit"], "minutes");
    assert!(close(&s["budget"]["allowed"], 432.0), "{s}");
    assert!(close(&s["budget"]["total"], 420.0), "{s}");
    assert!(close(&s["budget"]["remaining_share"], 1.0), "{s}");

    let mut moves: Vec<(i64, String)> = Vec::new();
    let mut before = get_slo(&app, &id).await;
    for m in 0..=70 {
        if m > 0 {
            match m {
                1 => target.set(false),
                16 => target.set(true),
                _ => {}
            }
            app.clock.advance(SignedDuration::from_mins(1));
        }
        app.state.engine.tick().await.unwrap();
        let now = get_slo(&app, &id).await;
        if now["status"] != before["status"] {
            moves.push((m, format!("status {}", now["status"].as_str().unwrap())));
        }
        for (i, r) in now["rules"].as_array().unwrap().iter().enumerate() {
            if r["firing"] != before["rules"][i]["firing"] {
                let what = if r["firing"] == true {
                    "fired"
                } else {
                    "resolved"
                };
                moves.push((m, format!("{} {what}", r["name"].as_str().unwrap())));
            }
        }
        before = now;
    }
    let moves: Vec<(i64, &str)> = moves.iter().map(|(m, w)| (*m, w.as_str())).collect();
    assert_eq!(
        moves,
        [
            (6, "ticket fired"),
            (10, "page-fast fired"),
            (68, "page-fast resolved"),
        ]
    );
    // The budget in minutes: 490 watched, 15 down, of 432 allowed.
    let b = &before["budget"];
    assert!(close(&b["total"], 490.0), "{b}");
    assert!(close(&b["good"], 475.0), "{b}");
    assert!(close(&b["spent"], 15.0), "{b}");
    assert!(close(&b["remaining_share"], 1.0 - 15.0 / 432.0), "{b}");
    assert_eq!(before["status"], "healthy");
    assert!(close(&before["rules"][2]["long_burn_rate"], 1500.0 / 490.0));

    // The alerts the rules raised on the service, beside the check's own.
    let list = ok(app.get(&format!("/api/v1/alerts?service_id={svc}"), t), 200).await;
    let mut seen: Vec<(String, String)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["dedup_key"].as_str().unwrap().starts_with("slo:"))
        .map(|a| {
            (
                a["dedup_key"].as_str().unwrap().to_owned(),
                a["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            (format!("slo:{id}:page-fast"), "resolved".to_owned()),
            (format!("slo:{id}:ticket"), "triggered".to_owned()),
        ]
    );

    // The burn-down: hourly points, full before the outage, 15 minutes spent at its end.
    let points = ok(app.get(&format!("/api/v1/slos/{id}/burn-down"), t), 200).await;
    let points = points.as_array().unwrap();
    assert!(points.len() >= 720, "{}", points.len());
    assert!(close(&points[0]["remaining_share"], 1.0));
    let last = points.last().unwrap();
    assert_eq!(last["at"], before["window_end"]);
    assert!(
        close(&last["remaining_share"], 1.0 - 15.0 / 432.0),
        "{last}"
    );
    // No counts are pushed to it.
    refused(
        app.post(
            &format!("/api/v1/slos/{id}/counts"),
            t,
            &json!({"counts": [{"good": 1, "total": 1}]}),
        ),
        409,
        "conflict",
        None,
    )
    .await;
    app.stop().await;
}

async fn an_availability_sli_names_a_check_or_component_of_its_service(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let t = &app.admin.token;
    let svc = service(&app, "website").await;
    service(&app, "search").await;
    let target = Target::spawn().await;
    let ours = check(&app, "homepage", "website", &target.url).await;
    let theirs = check(&app, "search box", "search", &target.url).await;
    ok(
        app.post(
            "/api/v1/status-pages",
            t,
            &json!({"name": "Acme", "slug": "acme"}),
        ),
        201,
    )
    .await;
    let components = "/api/v1/status-pages/acme/components";
    let api = ok(
        app.post(
            components,
            t,
            &json!({"name": "API", "services": ["website"]}),
        ),
        201,
    )
    .await;
    let api = api["id"].as_str().unwrap().to_owned();
    let cdn = ok(app.post(components, t, &json!({"name": "CDN"})), 201).await;
    let base = |sli: Value| {
        json!({"service": "website", "name": "up", "objective": 99.9, "window": "30d",
               "sli": sli})
    };
    let ghost = "0190e2a4-0000-7000-8000-000000000000";
    for (sli, field) in [
        (json!({"kind": "availability"}), "sli.check"),
        (json!({"kind": "availability", "check": ghost}), "sli.check"),
        (
            json!({"kind": "availability", "check": theirs}),
            "sli.check",
        ),
        (
            json!({"kind": "availability", "check": ours, "component": api}),
            "sli.check",
        ),
        (
            json!({"kind": "availability", "component": ghost}),
            "sli.component",
        ),
        (
            json!({"kind": "availability", "component": cdn["id"]}),
            "sli.component",
        ),
    ] {
        refused(
            app.post("/api/v1/slos", t, &base(sli)),
            400,
            "invalid_field",
            Some(field),
        )
        .await;
    }
    assert_eq!(ok(app.get("/api/v1/slos", t), 200).await, json!([]));

    // On the component: its minutes in major outage are down.
    let s = ok(
        app.post(
            "/api/v1/slos",
            t,
            &base(json!({"kind": "availability", "component": api})),
        ),
        201,
    )
    .await;
    let id = s["id"].as_str().unwrap().to_owned();
    app.clock.advance(SignedDuration::from_mins(10));
    ok(
        patch(
            &app,
            &format!("{components}/{api}"),
            t,
            &json!({"status": "major_outage"}),
        ),
        200,
    )
    .await;
    app.clock.advance(SignedDuration::from_mins(5));
    let now = get_slo(&app, &id).await;
    assert!(close(&now["budget"]["total"], 15.0), "{now}");
    assert!(close(&now["budget"]["good"], 10.0), "{now}");
    assert!(close(&now["budget"]["allowed"], 43.2), "{now}");

    // Changed to another service's check: refused; to its own: taken.
    let path = format!("/api/v1/slos/{id}");
    refused(
        patch(
            &app,
            &path,
            t,
            &json!({"sli": {"kind": "availability", "check": theirs}}),
        ),
        400,
        "invalid_field",
        Some("sli.check"),
    )
    .await;
    let changed = ok(
        patch(
            &app,
            &path,
            t,
            &json!({"sli": {"kind": "availability", "check": ours}}),
        ),
        200,
    )
    .await;
    assert_eq!(changed["sli"]["check"], json!(ours));

    // Its check deleted: no answer, so nothing is judged, and after the ten minutes of
    // silence the SLO raises its own alert.
    ok(delete(&app, &format!("/api/v1/checks/{ours}"), t), 204).await;
    for m in 0..=10 {
        if m > 0 {
            app.clock.advance(SignedDuration::from_mins(1));
        }
        app.state.engine.tick().await.unwrap();
    }
    let now = get_slo(&app, &id).await;
    assert_eq!(now["budget"], Value::Null, "{now}");
    assert!(now["silent_since"].is_string(), "{now}");
    let list = ok(app.get(&format!("/api/v1/alerts?service_id={svc}"), t), 200).await;
    let silent: Vec<&Value> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["dedup_key"] == format!("slo:{id}:silent"))
        .collect();
    assert_eq!(silent.len(), 1, "{list}");
    assert_eq!(silent[0]["status"], "triggered");
    app.stop().await;
}

async fn the_web_form_offers_the_services_checks_and_components(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let svc = service(&app, "website").await;
    service(&app, "search").await;
    let target = Target::spawn().await;
    let ours = check(&app, "homepage", "website", &target.url).await;
    let theirs = check(&app, "search box", "search", &target.url).await;
    let (cookie, csrf) = session_for(&app, &app.admin.email, &app.admin.password).await;
    let list = web_get_as(&app, "/slos", &cookie).await;
    assert!(
        list.contains("<label for=\"slo-sli\">Measured by"),
        "{list}"
    );
    assert!(
        list.contains(&format!(
            "<option value=\"check:{ours}\">homepage (website)</option>"
        )),
        "{list}"
    );
    assert!(list.contains("<optgroup label=\"Availability of an uptime check\">"));

    let fields = |sli: String| {
        vec![
            ("csrf", csrf.clone()),
            ("service", svc.clone()),
            ("name", "homepage up".into()),
            ("description", String::new()),
            ("sli", sli),
            ("objective", "99.9".into()),
            ("window", "30d".into()),
            ("time_zone", String::new()),
            ("at_risk", "0.2".into()),
            ("rules", String::new()),
        ]
    };
    // Another service's check: refused beside the select, the pick kept.
    let typed = fields(format!("check:{theirs}"));
    let typed: Vec<(&str, &str)> = typed.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, _, html) = form(&app, &cookie, "/slos", &typed).await;
    assert_eq!(status, 400);
    beside(
        &html,
        "slo-sli",
        "Is a check on another service: an SLO measures the checks on its own service.",
    );
    assert!(
        html.contains(&format!("<option value=\"check:{theirs}\" selected>")),
        "{html}"
    );
    assert!(html.contains("value=\"homepage up\""), "{html}");

    let good = fields(format!("check:{ours}"));
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, location, html) = form(&app, &cookie, "/slos", &good).await;
    assert_eq!(status, 303, "{html}");
    let page = web_get_as(&app, &location, &cookie).await;
    assert!(
        page.contains("data-testid=\"slo-sli\">the up time of uptime check homepage</dd>"),
        "{page}"
    );
    assert!(page.contains("% of minutes up over"), "{page}");
    assert!(
        page.contains("0.00 of 43.20 bad minutes allowed over the whole window are spent"),
        "{page}"
    );
    // Nothing to push for it; its change form has its check picked, only the service's.
    assert!(!page.contains("id=\"add-counts\""), "{page}");
    assert!(
        page.contains(&format!(
            "<option value=\"check:{ours}\" selected>homepage</option>"
        )),
        "{page}"
    );
    assert!(!page.contains(&format!("check:{theirs}")), "{page}");
    // Changed from its page: the check stays picked.
    let mut edit = fields(format!("check:{ours}"));
    edit[5].1 = "99.5".into();
    let edit: Vec<(&str, &str)> = edit.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, _, html) = form(&app, &cookie, &location, &edit).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Saved."), "{html}");
    let id = location.trim_start_matches("/slos/");
    let now = ok(
        app.get(&format!("/api/v1/slos/{id}"), &app.admin.token),
        200,
    )
    .await;
    assert_eq!(now["sli"], json!({"kind": "availability", "check": ours}));
    assert!(close(&now["objective"], 99.5), "{now}");
    app.stop().await;
}
