//! SLOs through the API: defined on services, fed pushed counts, judged each minute by the
//! engine with the fake clock; burn-rate rules open and resolve alerts on the service.
use crate::common;

use common::*;
use jiff::{SignedDuration, Timestamp};
use klaxon_domain::Clock;
use serde_json::{Value, json};

on_both_backends!(
    an_slo_is_defined_changed_and_removed,
    bad_slo_input_is_refused_with_the_field,
    a_burst_fires_the_rules_at_their_minutes_and_resolves_on_the_long_window,
);

async fn service(app: &TestApp, name: &str) -> String {
    let svc = ok(
        app.post("/api/v1/services", &app.admin.token, &json!({"name": name})),
        201,
    )
    .await;
    svc["id"].as_str().unwrap().to_owned()
}

async fn slo(app: &TestApp, body: Value) -> Value {
    ok(app.post("/api/v1/slos", &app.admin.token, &body), 201).await
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

async fn an_slo_is_defined_changed_and_removed(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let t = &app.admin.token;
    let checkout = service(&app, "checkout").await;
    service(&app, "search").await;
    // By the service's name, with the defaults: the Workbook's rules for 30 days.
    let s = slo(
        &app,
        json!({"service": "checkout", "name": "availability", "objective": 99.9,
               "window": "30d", "sli": {"kind": "pushed"}}),
    )
    .await;
    let id = s["id"].as_str().unwrap().to_owned();
    assert_eq!(s["service_id"], checkout);
    assert_eq!(s["service_name"], "checkout");
    assert_eq!(s["status"], "healthy");
    assert!(close(&s["at_risk"], 0.2));
    let rules: Vec<(String, String, String, String)> = s["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().into(),
                r["urgency"].as_str().unwrap().into(),
                r["long"].as_str().unwrap().into(),
                r["short"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want = [
        ("page-fast", "page", "1h", "5m"),
        ("page-slow", "page", "6h", "30m"),
        ("ticket", "ticket", "3d", "6h"),
    ];
    for (g, w) in rules.iter().zip(want) {
        assert_eq!((g.0.as_str(), g.1.as_str(), g.2.as_str(), g.3.as_str()), w);
    }
    assert!(close(&s["rules"][0]["rate"], 14.4));
    assert!(close(&s["rules"][1]["rate"], 6.0));
    assert!(close(&s["rules"][2]["rate"], 1.0));
    // No events yet: no budget share, nothing burning.
    assert_eq!(s["budget"]["remaining_share"], Value::Null);
    assert!(close(&s["rules"][0]["long_burn_rate"], 0.0));

    // A calendar month in Berlin with one custom rule given by its budget share.
    let m = slo(
        &app,
        json!({"service": "search", "name": "latency", "objective": 99.0, "window": "month",
               "time_zone": "Europe/Berlin", "sli": {"kind": "pushed"},
               "rules": [{"name": "fast", "urgency": "page", "long": "1h", "short": "5m",
                          "budget_spent": 0.02}]}),
    )
    .await;
    assert_eq!(
        (&m["window"], &m["time_zone"]),
        (&json!("month"), &json!("Europe/Berlin"))
    );
    assert_eq!(m["window_start"], "2026-10-31T23:00:00Z");
    assert_eq!(m["window_end"], "2026-11-30T23:00:00Z");
    assert!(close(&m["rules"][0]["rate"], 14.4));

    let listed = ok(app.get("/api/v1/slos?service=checkout", t), 200).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(
        ok(app.get("/api/v1/slos", t), 200)
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Changing the window keeps the rules as written; new rules replace them.
    let changed = ok(
        patch(
            &app,
            &format!("/api/v1/slos/{id}"),
            t,
            &json!({"objective": 99.5, "window": "7d", "name": "availability (web)"}),
        ),
        200,
    )
    .await;
    assert_eq!(changed["window"], "7d");
    assert!(close(&changed["objective"], 99.5));
    assert_eq!(changed["rules"].as_array().unwrap().len(), 3);
    let replaced = ok(
        patch(
            &app,
            &format!("/api/v1/slos/{id}"),
            t,
            &json!({"rules": [{"name": "only", "urgency": "ticket", "long": "1d",
                               "short": "2h", "rate": 2.0}]}),
        ),
        200,
    )
    .await;
    assert_eq!(replaced["rules"].as_array().unwrap().len(), 1);
    assert!(close(&replaced["rules"][0]["budget_spent"], 2.0 / 7.0));

    // Its history is on its timeline.
    let events = ok(
        app.get(
            &format!("/api/v1/events?subject_type=slo&subject_id={id}"),
            t,
        ),
        200,
    )
    .await;
    let kinds: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["slo.created", "slo.updated", "slo.updated"]);

    ok(delete(&app, &format!("/api/v1/slos/{id}"), t), 204).await;
    refused(
        app.get(&format!("/api/v1/slos/{id}"), t),
        404,
        "not_found",
        None,
    )
    .await;
    app.stop().await;
}

async fn bad_slo_input_is_refused_with_the_field(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let t = &app.admin.token;
    service(&app, "checkout").await;
    let base = json!({"service": "checkout", "name": "availability", "objective": 99.9,
                      "window": "30d", "sli": {"kind": "pushed"}});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    for (body, field) in [
        (with("objective", json!(100)), "objective"),
        (with("objective", json!(0)), "objective"),
        (with("service", json!("nope")), "service"),
        (
            with("service", json!("0190e2a4-0000-7000-8000-000000000000")),
            "service",
        ),
        (with("window", json!("14d")), "window"),
        (with("time_zone", json!("Mars/Olympus")), "time_zone"),
        (with("name", json!("  ")), "name"),
        (with("at_risk", json!(1.5)), "at_risk"),
        (
            with(
                "rules",
                json!([{"name": "a", "urgency": "page", "long": "5m", "short": "1h", "rate": 2}]),
            ),
            "rules[0].long",
        ),
        (
            with(
                "rules",
                json!([{"name": "a", "urgency": "page", "long": "1h", "short": "5x", "rate": 2}]),
            ),
            "rules[0].short",
        ),
        (
            with(
                "rules",
                json!([{"name": "a", "urgency": "page", "long": "1h", "short": "5m"}]),
            ),
            "rules[0].rate",
        ),
    ] {
        refused(
            app.post("/api/v1/slos", t, &body),
            400,
            "invalid_field",
            Some(field),
        )
        .await;
    }
    // Unknown fields are refused too, naming them.
    let r = app
        .post("/api/v1/slos", t, &with("colour", json!("red")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Nothing half-written: no SLO yet.
    assert_eq!(ok(app.get("/api/v1/slos", t), 200).await, json!([]));
    let s = slo(&app, base.clone()).await;
    refused(
        app.post("/api/v1/slos", t, &base),
        409,
        "conflict",
        Some("name"),
    )
    .await;
    // Counts: checked one by one, nothing written when one is bad.
    let id = s["id"].as_str().unwrap();
    let counts = |c: Value| json!({"counts": c});
    for (body, field) in [
        (counts(json!([])), "counts"),
        (counts(json!([{"good": -1, "total": 1}])), "counts[0].good"),
        (
            counts(json!([{"good": 1, "total": 1}, {"good": 5, "total": 1}])),
            "counts[1].total",
        ),
        (
            counts(json!([{"good": 1, "total": 1, "at": "2026-11-22T09:00:00Z"}])),
            "counts[0].at",
        ),
        (
            counts(json!([{"good": 1, "total": 1, "at": "2026-06-01T09:00:00Z"}])),
            "counts[0].at",
        ),
    ] {
        refused(
            app.post(&format!("/api/v1/slos/{id}/counts"), t, &body),
            400,
            "invalid_field",
            Some(field),
        )
        .await;
    }
    let now = get_slo(&app, id).await;
    assert_eq!(now["budget"]["total"], 0.0);
    // A viewer may read but not define or push.
    let (_, viewer) = app.user_with_token("v@example.com", "viewer").await;
    ok(app.get("/api/v1/slos", &viewer), 200).await;
    refused(
        app.post("/api/v1/slos", &viewer, &base),
        403,
        "forbidden",
        None,
    )
    .await;
    refused(
        app.post(
            &format!("/api/v1/slos/{id}/counts"),
            &viewer,
            &counts(json!([{"good": 1, "total": 1}])),
        ),
        403,
        "forbidden",
        None,
    )
    .await;
    app.stop().await;
}

/// Counts of one minute: `total` events, `bad` of them bad.
fn minute(at: Timestamp, bad: f64) -> Value {
    json!({"at": at + SignedDuration::from_secs(30), "good": 1000.0 - bad, "total": 1000.0})
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

/// A 99.9 % SLO over 30 days with seven calm hours behind it, then fifteen minutes at 10 %
/// errors (a burn rate of 100), then calm. Worked out by hand (docs/slos.md has the formulas):
/// the ticket rule (above 1× over 3 d and 6 h) fires at minute 5; page-fast (14.4× over 1 h and
/// 5 min) at minute 9, when 9 bad minutes in the hour make 15×; page-slow (6× over 6 h) never
/// (15 bad minutes in 6 h are 4.2×); page-fast resolves at minute 67, when only 8 bad minutes
/// are left in its hour (13.3×), whatever its short window did long before. The budget is at
/// risk at minute 4 (5.7 % left) and exhausted at minute 5.
async fn a_burst_fires_the_rules_at_their_minutes_and_resolves_on_the_long_window(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let t = &app.admin.token;
    let svc = service(&app, "checkout").await;
    let s = slo(
        &app,
        json!({"service": "checkout", "name": "availability", "objective": 99.9,
               "window": "30d", "sli": {"kind": "pushed"}}),
    )
    .await;
    let id = s["id"].as_str().unwrap().to_owned();
    let t0 = app.clock.now();
    let at = |m: i64| t0 + SignedDuration::from_mins(m);
    let calm: Vec<Value> = (-420..0).map(|m| minute(at(m), 0.0)).collect();
    ok(
        app.post(
            &format!("/api/v1/slos/{id}/counts"),
            t,
            &json!({"counts": calm}),
        ),
        204,
    )
    .await;

    let mut moves: Vec<(i64, String)> = Vec::new();
    let mut before = get_slo(&app, &id).await;
    for m in 0..=70 {
        if m > 0 {
            app.clock.advance(SignedDuration::from_mins(1));
            let bad = if (0..15).contains(&(m - 1)) {
                100.0
            } else {
                0.0
            };
            ok(
                app.post(
                    &format!("/api/v1/slos/{id}/counts"),
                    t,
                    &json!({"counts": [minute(at(m - 1), bad)]}),
                ),
                204,
            )
            .await;
        }
        let stale = app.state.store.slo(id.parse().unwrap()).await.unwrap();
        app.state.engine.tick().await.unwrap();
        if m == 9 {
            // A second instance evaluating the same step from what it read before (its lease
            // ran out, say) records nothing: its trigger only deduplicates into the open alert.
            let step = klaxon_domain::slo::step_of(app.clock.now(), SignedDuration::from_mins(1));
            let reads = klaxon_server::slos::view::reads(&app.state);
            let wrote = klaxon_server::slos::evaluate::evaluate_one(reads, &stale, step)
                .await
                .unwrap();
            assert!(!wrote);
        }
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
                assert_eq!(r["since"], json!(at(m)), "{r}");
            }
        }
        before = now;
    }
    let moves: Vec<(i64, &str)> = moves.iter().map(|(m, w)| (*m, w.as_str())).collect();
    assert_eq!(
        moves,
        [
            (4, "status at_risk"),
            (5, "status exhausted"),
            (5, "ticket fired"),
            (9, "page-fast fired"),
            (67, "page-fast resolved"),
        ]
    );
    assert!(close(&before["rules"][2]["long_burn_rate"], 1500.0 / 490.0));

    // The alerts on the service: one per rule that fired, by the pipeline, each once.
    let list = alerts(&app, &svc).await;
    let mut seen: Vec<(String, String, String)> = list
        .iter()
        .map(|a| {
            (
                a["dedup_key"].as_str().unwrap().to_owned(),
                a["status"].as_str().unwrap().to_owned(),
                a["severity"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            (
                format!("slo:{id}:page-fast"),
                "resolved".to_owned(),
                "critical".to_owned()
            ),
            (
                format!("slo:{id}:ticket"),
                "triggered".to_owned(),
                "warning".to_owned()
            ),
        ]
    );
    let counts: Vec<(&str, &Value)> = list
        .iter()
        .map(|a| (a["dedup_key"].as_str().unwrap(), &a["count"]))
        .collect();
    assert!(
        counts.contains(&(&format!("slo:{id}:page-fast"), &json!(2))),
        "{counts:?}"
    );
    assert!(
        counts.contains(&(&format!("slo:{id}:ticket"), &json!(1))),
        "{counts:?}"
    );
    assert!(
        list.iter().all(|a| a["incident_id"].is_string()),
        "{list:?}"
    );
    // One incident: the ticket's alert opened it and page-fast's joined or opened another, but
    // never one per evaluation.
    let incidents = ok(app.get("/api/v1/incidents", t), 200).await;
    assert!(incidents["items"].as_array().unwrap().len() <= 2);
    // Deleting the SLO resolves the alert its still firing ticket rule holds open.
    ok(delete(&app, &format!("/api/v1/slos/{id}"), t), 204).await;
    let after = alerts(&app, &svc).await;
    assert!(after.iter().all(|a| a["status"] == "resolved"), "{after:?}");
    app.stop().await;
}
