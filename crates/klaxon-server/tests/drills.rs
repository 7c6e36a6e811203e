//! Drills on both backends, with the fake clock: a scenario's steps happen once each at their
//! offsets (two instances too), the drill pages real people marked "DRILL:", stays off status
//! pages and out of insights, and its scorecard is hand-checked. Every page sent is counted.
use crate::common;
use crate::dashboard_support;

use common::*;
use dashboard_support::{events_of, incident, paged_service, person, tick};
use jiff::{SignedDuration, Timestamp};
use klaxon_domain::Clock;
use serde_json::{Value, json};

on_both_backends!(
    a_drill_from_a_scenario_runs_its_steps_and_is_scored,
    two_instances_take_each_step_once,
    a_recorded_scenario_replays_a_past_incident,
    bad_scenarios_and_starts_are_refused,
);

fn scenario() -> Value {
    json!({
        "name": "checkout-failover",
        "title": "Checkout database fails over",
        "service": "checkout",
        "severity": "SEV2",
        "targets": {"acknowledge_minutes": 5, "roles": ["commander", "communications_lead"],
                    "roles_minutes": 10, "first_update_minutes": 15, "runbook_steps": 1},
        "steps": [
            {"at": 0, "alert": {"summary": "Checkout p99 above 2 s", "dedup_key": "latency",
                                "severity": "critical", "details": {"host": "db-1"}}},
            {"at": 4, "note": "Support: customers say payments fail"},
            {"at": 6, "alert": {"summary": "Replica lag above 30 s", "dedup_key": "lag"}},
            {"at": 12, "resolve": "latency"},
            {"at": 30, "note": "Too late: the drill is over by now"},
        ],
    })
}

fn at(app: &TestApp, start: Timestamp, secs: i64) {
    app.clock
        .set(start.checked_add(SignedDuration::from_secs(secs)).unwrap());
}

async fn alerts_of(app: &TestApp, iid: &str) -> Vec<Value> {
    let a = ok(
        app.get(
            &format!("/api/v1/alerts?incident_id={iid}&limit=500"),
            &app.admin.token,
        ),
        200,
    )
    .await;
    a["items"].as_array().unwrap().clone()
}

async fn start(app: &TestApp, token: &str, body: Value) -> Value {
    ok(app.post("/api/v1/drills", token, &body), 201).await
}

async fn drill(app: &TestApp, id: &str) -> Value {
    ok(
        app.get(&format!("/api/v1/drills/{id}"), &app.admin.token),
        200,
    )
    .await
}

async fn a_drill_from_a_scenario_runs_its_steps_and_is_scored(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = person(&app, "ada@example.com", "Ada", "UTC").await;
    let bob = person(&app, "bob@example.com", "Bob", "UTC").await;
    paged_service(&app, &ada.id).await;
    let saved = ok(
        app.post("/api/v1/drill-scenarios", &ada.token, &scenario()),
        201,
    )
    .await;
    assert_eq!(saved["revision"], 1);
    let start_at = app.clock.now();
    let d = start(&app, &ada.token, json!({"scenario": "checkout-failover"})).await;
    let did = d["id"].as_str().unwrap().to_owned();
    let iid = d["incident_id"].as_str().unwrap().to_owned();
    assert_eq!(d["is_drill"], true);
    assert_eq!(d["incident_title"], "DRILL: Checkout database fails over");
    // Marked in the API's incident too.
    let i = incident(&app, &iid).await;
    assert_eq!(i["is_drill"], true);
    assert_eq!(i["title"], "DRILL: Checkout database fails over");
    assert!(!events_of(&app, &iid, "drill.started").await.is_empty());

    // Minute 0: the first alert, on the drill's incident under a key of its own; Ada paged
    // through her own rules, the page marked.
    tick(&app).await;
    let alerts = alerts_of(&app, &iid).await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["dedup_key"], format!("drill:{did}:latency"));
    assert_eq!(alerts[0]["content"]["details"]["host"], "db-1");
    assert_eq!((ada.receiver.pages(), bob.receiver.pages()), (1, 0));
    let page = ada.receiver.bodies()[0].to_string();
    assert!(
        page.contains("DRILL: Checkout database fails over"),
        "{page}"
    );

    // 3 min 20 s: Ada acknowledges; the second level never pages.
    at(&app, start_at, 200);
    ok(
        app.post(
            &format!("/api/v1/incidents/{iid}/acknowledge"),
            &ada.token,
            &json!({}),
        ),
        200,
    )
    .await;
    // 4 min: the note. Bob takes the communications at 5 min.
    at(&app, start_at, 240);
    tick(&app).await;
    let notes = events_of(&app, &iid, "drill.note").await;
    assert_eq!(notes.len(), 1);
    assert_eq!(
        notes[0].1["message"],
        "Support: customers say payments fail"
    );
    // Acknowledging a SEV2 made Ada its commander (at 200 s).
    assert_eq!(incident(&app, &iid).await["status"], "acknowledged");
    at(&app, start_at, 300);
    ok(
        app.post(
            &format!("/api/v1/incidents/{iid}/roles"),
            &ada.token,
            &json!({"role": "communications_lead", "user_id": bob.email}),
        ),
        201,
    )
    .await;
    // 6 min: the second alert; 8 min: the first stakeholder update.
    at(&app, start_at, 360);
    tick(&app).await;
    assert_eq!(alerts_of(&app, &iid).await.len(), 2);
    at(&app, start_at, 480);
    ok(
        app.post(
            &format!("/api/v1/incidents/{iid}/updates"),
            &bob.token,
            &json!({"message": "Payments fail for some customers; we are failing back."}),
        ),
        201,
    )
    .await;
    // Each step taken is recorded with its time.
    let taken: Vec<u64> = drill(&app, &did).await["steps_taken"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["position"].as_u64().unwrap())
        .collect();
    assert_eq!(taken, [0, 1, 2]);
    // 9 min: the scorecard so far. Hand-checked: acknowledged at 200 s (target 300), roles
    // held at 300 s (600), first update at 480 s (900); no runbook step yet, which may still
    // come.
    at(&app, start_at, 540);
    let card = &drill(&app, &did).await["scorecard"];
    assert_eq!(card["acknowledge"]["seconds"], 200);
    assert_eq!(card["acknowledge"]["target_seconds"], 300);
    assert_eq!(card["acknowledge"]["met"], true);
    assert_eq!(card["roles"]["seconds"], 300);
    assert_eq!(card["roles"]["met"], true);
    assert_eq!(card["first_update"]["seconds"], 480);
    assert_eq!(card["first_update"]["met"], true);
    assert_eq!(card["runbook_steps"], 0);
    assert_eq!(card["runbook_steps_met"], Value::Null);
    assert_eq!(card["over"], false);

    // 12 min: the first alert resolves.
    at(&app, start_at, 720);
    tick(&app).await;
    let latency = alerts_of(&app, &iid)
        .await
        .into_iter()
        .find(|a| a["dedup_key"] == format!("drill:{did}:latency"))
        .unwrap();
    assert_eq!(latency["status"], "resolved");

    // Never on a status page.
    let page = ok(
        app.post(
            "/api/v1/status-pages",
            &app.admin.token,
            &json!({"name": "Public", "slug": "public"}),
        ),
        201,
    )
    .await;
    let refused = ok(
        app.post(
            &format!(
                "/api/v1/status-pages/{}/incidents",
                page["id"].as_str().unwrap()
            ),
            &app.admin.token,
            &json!({"name": "Checkout trouble", "incident": iid}),
        ),
        400,
    )
    .await;
    assert_eq!(refused["error"]["field"], "incident", "{refused}");

    // 20 min: resolved; the drill ends by itself and keeps its scorecard.
    at(&app, start_at, 1200);
    ok(
        app.post(
            &format!("/api/v1/incidents/{iid}/resolve"),
            &ada.token,
            &json!({}),
        ),
        200,
    )
    .await;
    at(&app, start_at, 1260);
    tick(&app).await;
    let d = drill(&app, &did).await;
    assert!(d["ended_at"].is_string(), "{d}");
    let card = &d["scorecard"];
    assert_eq!(card["over"], true);
    assert_eq!(card["acknowledge"]["seconds"], 200);
    assert_eq!(card["runbook_steps"], 0);
    assert_eq!(card["runbook_steps_met"], false);
    let ended = events_of(&app, &iid, "drill.ended").await;
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].1["scorecard"]["roles"]["seconds"], 300);
    // The timeline says so in words.
    let md = app
        .get(
            &format!("/api/v1/incidents/{iid}/timeline.md"),
            &app.admin.token,
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for words in [
        "started a drill from the scenario “checkout-failover”: this incident is practice",
        "(drill scenario) Support: customers say payments fail",
        "ended the drill: acknowledged: 3 min 20 s (target 5 min: met); roles assembled: 5 min \
         (target 10 min: met); first update: 8 min (target 15 min: met); runbook steps \
         completed: 0 (target 1: missed)",
    ] {
        assert!(md.contains(words), "{words} not in {md}");
    }
    // A step due after the end never happens.
    at(&app, start_at, 1900);
    tick(&app).await;
    assert_eq!(events_of(&app, &iid, "drill.note").await.len(), 1);
    // Ending again is refused.
    let again = app
        .post(&format!("/api/v1/drills/{did}/end"), &ada.token, &json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);

    // Kept for comparison: listed under its scenario, by its incident's number too.
    let list = ok(
        app.get(
            "/api/v1/drills?scenario=checkout-failover",
            &app.admin.token,
        ),
        200,
    )
    .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let number = i["number"].as_i64().unwrap();
    assert_eq!(drill(&app, &number.to_string()).await["id"], did.as_str());

    // Out of the metrics: the period holds no incident.
    let m = ok(
        app.get(
            "/api/v1/insights/alert-noise?from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z",
            &app.admin.token,
        ),
        200,
    )
    .await;
    assert_eq!(m["incidents"], 0, "{m}");
    // Exactly the one page: none unexpected.
    assert_eq!((ada.receiver.pages(), bob.receiver.pages()), (1, 0));
}

async fn two_instances_take_each_step_once(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = person(&app, "ada@example.com", "Ada", "UTC").await;
    paged_service(&app, &ada.id).await;
    ok(
        app.post("/api/v1/drill-scenarios", &ada.token, &scenario()),
        201,
    )
    .await;
    let mut settings = (*app.state.settings).clone();
    settings.engine.enabled = false;
    let other =
        klaxon_server::App::with_store(settings, app.state.clock.clone(), app.state.store.clone());
    let start_at = app.clock.now();
    let d = start(&app, &ada.token, json!({"scenario": "checkout-failover"})).await;
    let iid = d["incident_id"].as_str().unwrap().to_owned();
    for secs in [0, 0, 240, 240, 360, 400, 720, 720] {
        at(&app, start_at, secs);
        let (a, b) = tokio::join!(app.state.engine.tick(), other.state.engine.tick());
        a.unwrap();
        b.unwrap();
    }
    assert_eq!(alerts_of(&app, &iid).await.len(), 2);
    assert_eq!(events_of(&app, &iid, "drill.note").await.len(), 1);
    assert_eq!(events_of(&app, &iid, "incident.alert_added").await.len(), 2);
    assert_eq!(incident(&app, &iid).await["alert_count"], 2);
    // Level one at once, level two at 5 min (nobody acknowledged): two pages, no more.
    assert_eq!(ada.receiver.pages(), 2);
}

async fn a_recorded_scenario_replays_a_past_incident(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = person(&app, "ada@example.com", "Ada", "UTC").await;
    let service = paged_service(&app, &ada.id).await;
    let key = crate::workflows::integration_key(&app, &service).await;
    // Its alerts gather into one incident while it is open.
    ok(
        patch(
            &app,
            &format!("/api/v1/services/{service}"),
            &app.admin.token,
            &json!({"grouping": {"type": "time", "window_minutes": 0}}),
        ),
        200,
    )
    .await;
    // A real incident: two alerts 90 s apart, the first resolved after 4 min.
    let start_at = app.clock.now();
    let send = |action: &'static str, dedup: &'static str, summary: &'static str| {
        let app = &app;
        let key = key.clone();
        async move {
            let r = app
                .http
                .post(format!("{}/v2/enqueue", app.url))
                .json(
                    &json!({"routing_key": key, "event_action": action, "dedup_key": dedup,
                              "payload": {"summary": summary, "source": "prom",
                                          "severity": "critical"}}),
                )
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 202);
        }
    };
    send("trigger", "disk", "Disk full on db-1").await;
    at(&app, start_at, 90);
    send("trigger", "cpu", "CPU hot on db-1").await;
    at(&app, start_at, 240);
    send("resolve", "disk", "Disk full on db-1").await;
    tick(&app).await;
    let real = ok(app.get("/api/v1/incidents", &app.admin.token), 200).await["items"][0].clone();
    let real_id = real["id"].as_str().unwrap().to_owned();
    assert_eq!(real["alert_count"], 2, "{real}");
    let pages_before = ada.receiver.pages();

    let rec = ok(
        app.post(
            "/api/v1/drill-scenarios/record",
            &ada.token,
            &json!({"incident": real["number"].to_string(), "name": "db-disk",
                    "title": "Database disk fills up"}),
        ),
        200,
    )
    .await;
    assert_eq!(rec["left_out"], 0);
    let s = &rec["scenario"];
    assert_eq!(s["service"], "checkout");
    let shape: Vec<(f64, String)> = s["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|st| {
            let what = match (&st["alert"], &st["resolve"]) {
                (Value::Object(a), _) => format!("alert {}", a["dedup_key"].as_str().unwrap()),
                (_, Value::String(k)) => format!("resolve {k}"),
                _ => "other".into(),
            };
            (st["at"].as_f64().unwrap(), what)
        })
        .collect();
    assert_eq!(
        shape,
        [
            (0.0, "alert disk".to_owned()),
            (1.5, "alert cpu".to_owned()),
            (4.0, "resolve disk".to_owned())
        ]
    );
    // Saved by PUT (created, then unchanged), then started.
    let saved = ok(
        put(&app, "/api/v1/drill-scenarios/db-disk", &ada.token).json(s),
        201,
    )
    .await;
    assert_eq!(saved["change"], "created");
    let saved = ok(
        put(&app, "/api/v1/drill-scenarios/db-disk", &ada.token).json(s),
        200,
    )
    .await;
    assert_eq!(saved["change"], "unchanged");
    let drill_start = app.clock.now();
    let d = start(&app, &ada.token, json!({"scenario": "db-disk"})).await;
    let iid = d["incident_id"].as_str().unwrap().to_owned();
    at(&app, drill_start, 100);
    tick(&app).await;
    let summaries: Vec<String> = alerts_of(&app, &iid)
        .await
        .iter()
        .map(|a| a["content"]["summary"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(summaries.len(), 2);
    assert!(summaries.contains(&"Disk full on db-1".to_owned()));
    // A real alert with the same key meanwhile opens a real incident, never joins the
    // drill's (the only open incident on the service once the real one is resolved).
    ok(
        app.post(
            &format!("/api/v1/incidents/{real_id}/resolve"),
            &ada.token,
            &json!({}),
        ),
        200,
    )
    .await;
    send("trigger", "disk", "Disk full on db-1").await;
    tick(&app).await;
    assert_eq!(alerts_of(&app, &iid).await.len(), 2);
    let list = ok(app.get("/api/v1/incidents?limit=10", &app.admin.token), 200).await;
    let drills: Vec<bool> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["is_drill"].as_bool().unwrap())
        .collect();
    assert_eq!(drills.len(), 3, "{list}");
    assert_eq!(drills.iter().filter(|d| **d).count(), 1, "{list}");
    assert_ne!(real_id, iid);
    // The drill paged Ada once (its own incident), the new real alert once more.
    assert!(ada.receiver.pages() > pages_before);

    // A drill by hand: no scenario, no steps; the title marked, the targets its own.
    let by_hand = start(
        &app,
        &ada.token,
        json!({"title": "Tabletop: region loss", "severity": "SEV3",
               "targets": {"acknowledge_minutes": 2}}),
    )
    .await;
    assert_eq!(by_hand["incident_title"], "DRILL: Tabletop: region loss");
    assert_eq!(by_hand["scenario"], Value::Null);
    assert_eq!(by_hand["targets"]["acknowledge_minutes"], 2);
    // Nobody is paged without a service: the declarer is on it, so acknowledged at once.
    assert_eq!(by_hand["scorecard"]["acknowledge"]["seconds"], 0);
    // A drill's incident stays a drill.
    let hid = by_hand["incident_id"].as_str().unwrap();
    let e = ok(
        patch(
            &app,
            &format!("/api/v1/incidents/{hid}"),
            &ada.token,
            &json!({"is_drill": false}),
        ),
        400,
    )
    .await;
    assert_eq!(e["error"]["field"], "is_drill");
    // Nor is it merged with a real one, either way.
    for (from, into) in [(hid, iid.as_str()), (iid.as_str(), real_id.as_str())] {
        let e = ok(
            app.post(
                &format!("/api/v1/incidents/{from}/merge"),
                &ada.token,
                &json!({"into": into}),
            ),
            if from == hid { 200 } else { 400 },
        )
        .await;
        if from != hid {
            assert_eq!(e["error"]["field"], "into");
        }
    }
    // An incident flagged a drill by hand gets the mark in its title, and loses it unflagged.
    let other =
        dashboard_support::declare(&app, &ada.token, "Region loss", "SEV3", json!({})).await;
    let oid = other["id"].as_str().unwrap();
    let i = ok(
        patch(
            &app,
            &format!("/api/v1/incidents/{oid}"),
            &ada.token,
            &json!({"is_drill": true, "title": "Tabletop: loss of eu-west"}),
        ),
        200,
    )
    .await;
    assert_eq!(i["title"], "DRILL: Tabletop: loss of eu-west");
    let i = ok(
        patch(
            &app,
            &format!("/api/v1/incidents/{oid}"),
            &ada.token,
            &json!({"is_drill": false}),
        ),
        200,
    )
    .await;
    assert_eq!(i["title"], "Tabletop: loss of eu-west");
}

async fn bad_scenarios_and_starts_are_refused(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = person(&app, "ada@example.com", "Ada", "UTC").await;
    let viewer = member(&app, "vic@example.com", "Vic", "viewer").await;
    let field = |mut s: Value, edit: &dyn Fn(&mut Value)| {
        edit(&mut s);
        s
    };
    let refused = |body: Value, status: u16| {
        let app = &app;
        let token = ada.token.clone();
        async move {
            let e = ok(app.post("/api/v1/drill-scenarios", &token, &body), status).await;
            e["error"]["field"].as_str().unwrap_or_default().to_owned()
        }
    };
    // No such service yet.
    assert_eq!(refused(scenario(), 400).await, "service");
    paged_service(&app, &ada.id).await;
    assert_eq!(
        refused(
            field(scenario(), &|s| s["steps"][3]["resolve"] = json!("nope")),
            400
        )
        .await,
        "steps[3].resolve"
    );
    assert_eq!(
        refused(
            field(scenario(), &|s| s["targets"]["roles"][1] = json!("wizard")),
            400
        )
        .await,
        "targets.roles[1]"
    );
    assert_eq!(
        refused(field(scenario(), &|s| s["steps"][1]["at"] = json!(-2)), 400).await,
        "steps[1].at"
    );
    assert_eq!(
        refused(field(scenario(), &|s| s["name"] = json!("new")), 400).await,
        "name"
    );
    // Nothing half-written.
    let list = ok(app.get("/api/v1/drill-scenarios", &ada.token), 200).await;
    assert!(list.as_array().unwrap().is_empty());
    // A viewer reads but neither saves nor starts.
    let r = app
        .post("/api/v1/drill-scenarios", &viewer.token, &scenario())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    ok(
        app.post("/api/v1/drill-scenarios", &ada.token, &scenario()),
        201,
    )
    .await;
    assert_eq!(refused(scenario(), 409).await, "name");
    let r = app
        .post(
            "/api/v1/drills",
            &viewer.token,
            &json!({"scenario": "checkout-failover"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // A stale revision is refused.
    let stale = put(
        &app,
        "/api/v1/drill-scenarios/checkout-failover?revision=7",
        &ada.token,
    )
    .json(&field(scenario(), &|s| s["title"] = json!("Changed")))
    .send()
    .await
    .unwrap();
    assert_eq!(stale.status(), 409);
    // Starting: a scenario and by-hand fields together, an unknown scenario, by hand without
    // a severity.
    for (body, want) in [
        (
            json!({"scenario": "checkout-failover", "title": "X"}),
            "scenario",
        ),
        (json!({"scenario": "nope"}), "scenario"),
        (json!({"title": "Tabletop"}), "severity"),
        (json!({"severity": "SEV2"}), "title"),
        (
            json!({"title": "T", "severity": "SEV2", "service": "nope"}),
            "service",
        ),
    ] {
        let e = ok(app.post("/api/v1/drills", &ada.token, &body), 400).await;
        assert_eq!(e["error"]["field"], want, "{body} → {e}");
    }
    // Nothing declared by the refusals, nobody paged.
    let list = ok(app.get("/api/v1/incidents", &app.admin.token), 200).await;
    assert!(list["items"].as_array().unwrap().is_empty());
    assert_eq!(ada.receiver.pages(), 0);
}
