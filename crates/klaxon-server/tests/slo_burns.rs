//! What incidents cost their services' SLOs: on the incident (API and page), kept by the
//! evaluator's job after resolution and again when a milestone moves, carried by the
//! postmortem, and ranked by the insights. Pushed counts and the fake clock; every figure is
//! worked out by hand below.
use crate::common;
use crate::incident_steps;

use jiff::{SignedDuration, Timestamp};
use klaxon_domain::Clock;
use serde_json::{Value, json};

use common::{Backend, TestApp, ok, web_get};
use incident_steps::{declare, id_of, milestones, moved};

on_both_backends!(an_incident_shows_keeps_and_ranks_the_budget_it_burned);

fn minute(start: Timestamp, bad: f64) -> Value {
    json!({"at": start + SignedDuration::from_secs(30), "good": 1000.0 - bad, "total": 1000.0})
}

fn close(v: &Value, want: f64) -> bool {
    v.as_f64().is_some_and(|x| (x - want).abs() < 1e-6)
}

async fn burns(app: &TestApp, incident: &str) -> Vec<Value> {
    ok(
        app.get(
            &format!("/api/v1/incidents/{incident}/slo-budget"),
            &app.admin.token,
        ),
        200,
    )
    .await
    .as_array()
    .unwrap()
    .clone()
}

async fn an_incident_shows_keeps_and_ranks_the_budget_it_burned(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let t = &app.admin.token;
    let svc = ok(
        app.post("/api/v1/services", t, &json!({"name": "checkout"})),
        201,
    )
    .await;
    let svc = svc["id"].as_str().unwrap().to_owned();
    ok(
        app.post("/api/v1/services", t, &json!({"name": "search"})),
        201,
    )
    .await;
    let slo = ok(
        app.post(
            "/api/v1/slos",
            t,
            &json!({"service": "checkout", "name": "availability", "objective": 99.9,
                    "window": "30d", "sli": {"kind": "pushed"}}),
        ),
        201,
    )
    .await;
    let slo_id = slo["id"].as_str().unwrap().to_owned();
    let m0 = klaxon_domain::slo::step_of(app.clock.now(), SignedDuration::from_mins(1));
    let at = |m: i64| m0 + SignedDuration::from_mins(m);
    let push = |counts: Vec<Value>| {
        app.post(
            &format!("/api/v1/slos/{slo_id}/counts"),
            t,
            &json!({ "counts": counts }),
        )
    };
    // 300 calm minutes of 1,000 events before m0.
    for chunk in (-300..0).collect::<Vec<i64>>().chunks(100) {
        ok(
            push(chunk.iter().map(|&m| minute(at(m), 0.0)).collect()),
            204,
        )
        .await;
    }

    // Declared at m0+5 with impact from m0+2; 50 bad events a minute in minutes 0–9, calm in
    // 10–11; resolved at m0+12.
    app.clock.set(at(5));
    let inc = declare(
        &app,
        t,
        json!({"title": "Checkout errors", "severity": "SEV2", "service_id": svc,
               "impact_started_at": at(2)}),
    )
    .await;
    let id = id_of(&inc);
    let other = id_of(&declare(&app, t, json!({"title": "Search slow", "severity": "SEV3"})).await);
    app.clock.set(at(12));
    ok(
        push(
            (0..12)
                .map(|m| minute(at(m), if m < 10 { 50.0 } else { 0.0 }))
                .collect(),
        ),
        204,
    )
    .await;
    moved(&app, t, &id, "resolved").await;

    // Minutes 2–11: 10,000 events, 8 × 50 = 400 bad. The window up to m0+12 holds 312 minutes
    // of 1,000 events: 312 allowed bad (0.1 %). 400 / 312 of the budget.
    let live = burns(&app, &id).await;
    assert_eq!(live.len(), 1, "{live:?}");
    let bu = &live[0];
    assert_eq!(bu["slo_id"], slo_id);
    assert!(close(&bu["bad"], 400.0), "{bu}");
    assert!(close(&bu["total"], 10_000.0), "{bu}");
    assert!(close(&bu["allowed"], 312.0), "{bu}");
    assert!(close(&bu["share"], 400.0 / 312.0), "{bu}");
    assert_eq!(bu["live"], true);
    assert_eq!(bu["from"], json!(at(2)));
    assert_eq!(bu["to"], json!(at(12)));
    // No SLO on its service (none at all): nothing.
    assert!(burns(&app, &other).await.is_empty());

    // Not kept before its last counts are in (5 minutes); kept by the evaluator's job after.
    app.clock.set(at(14));
    app.state.engine.tick().await.unwrap();
    assert_eq!(burns(&app, &id).await[0]["live"], true);
    app.clock.set(at(18));
    app.state.engine.tick().await.unwrap();
    let kept = burns(&app, &id).await;
    assert_eq!(kept[0]["live"], false, "{kept:?}");
    assert!(close(&kept[0]["share"], 400.0 / 312.0));

    // Ranked by the insights, with the CSV.
    let period = format!(
        "from={}&to={}",
        at(-60).to_string().replace('+', "%2B"),
        at(60)
    );
    let r = ok(
        app.get(&format!("/api/v1/insights/slo-budget?{period}"), t),
        200,
    )
    .await;
    assert_eq!(r["incidents"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r["incidents"][0]["incident_id"], id);
    assert_eq!(r["incidents"][0]["service_name"], "checkout");
    assert!(close(&r["incidents"][0]["share"], 400.0 / 312.0));
    assert_eq!(r["services"][0]["incidents"], 1);
    assert!(close(&r["services"][0]["bad"], 400.0));
    let csv = app
        .get(
            &format!("/api/v1/insights/slo-budget?{period}&format=csv&table=services"),
            t,
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        csv.starts_with("service_id,service,slo,unit,incidents,bad,budget_share\r\n"),
        "{csv}"
    );
    assert!(
        csv.contains(&format!("{svc},checkout,availability,events,1,400,1.282")),
        "{csv}"
    );

    // The impact start moves back to m0: kept again at the next step, minutes 0–11, 500 bad
    // of 12,000.
    ok(
        milestones(&app, t, &id, &json!({"impact_started_at": at(0)})),
        200,
    )
    .await;
    assert_eq!(burns(&app, &id).await[0]["live"], true);
    app.clock.set(at(19));
    app.state.engine.tick().await.unwrap();
    let moved_back = burns(&app, &id).await;
    assert_eq!(moved_back[0]["live"], false);
    assert!(close(&moved_back[0]["bad"], 500.0));
    assert!(close(&moved_back[0]["total"], 12_000.0));
    assert!(close(&moved_back[0]["share"], 500.0 / 312.0));

    // The postmortem carries it.
    let pm = ok(
        app.post("/api/v1/postmortems", t, &json!({"incident_id": id})),
        201,
    )
    .await;
    let carried = &pm["facts"]["budgets"];
    assert_eq!(carried.as_array().unwrap().len(), 1, "{pm}");
    assert!(close(&carried[0]["share"], 500.0 / 312.0));

    // The pages: the incident's, the postmortem's, and the insights'.
    let page = web_get(&app, &format!("/incidents/{id}")).await;
    assert!(page.contains("Error budget burned"), "{page}");
    assert!(page.contains("availability (99.9 % over 30d): 500 bad events, 160.3 % of the window"));
    let none = web_get(&app, &format!("/incidents/{other}")).await;
    assert!(!none.contains("Error budget burned"));
    let pm_page = web_get(
        &app,
        &format!("/postmortems/{}", pm["id"].as_str().unwrap()),
    )
    .await;
    assert!(pm_page.contains("160.3 % of the window"));
    let insights = web_get(
        &app,
        &format!(
            "/insights?from={}&to={}",
            at(-60 * 24).to_zoned(jiff::tz::TimeZone::UTC).date(),
            at(60 * 24).to_zoned(jiff::tz::TimeZone::UTC).date()
        ),
    )
    .await;
    assert!(insights.contains("id=\"budget-incidents-table\""));
    assert!(insights.contains("Checkout errors"), "{insights}");
    assert!(insights.contains("160.3 %"));
}
