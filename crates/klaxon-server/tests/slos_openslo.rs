//! SLOs as code, on both backends: SLOs of each kind (pushed counts, a Prometheus ratio with
//! `bad` or `good`, rolling and calendar windows, default and own rules) exported as OpenSLO
//! and applied back unchanged; a change reported with its field, a new SLO created, a dry run
//! writing nothing; bad files refused with the place in the file, nothing half-written; the
//! short-window annotation honoured.
use crate::common;

use common::*;
use klaxon_domain::Clock;
use klaxon_server::shared::config::PrometheusSource;
use serde_json::{Value, json};

on_both_backends!(
    slos_round_trip_through_openslo,
    bad_openslo_is_refused_naming_its_place_and_nothing_is_written,
    the_short_window_annotation_is_honoured,
    an_applied_change_keeps_firing_rules_firing,
);

/// A Prometheus that takes every expression (the SLI check at save asks it once each).
async fn fake_prometheus() -> String {
    let app = axum::Router::new().route(
        "/api/v1/query",
        axum::routing::get(|| async {
            axum::Json(json!({"status": "success",
                              "data": {"resultType": "vector", "result": []}}))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

async fn spawn(b: Backend) -> Option<TestApp> {
    let url = fake_prometheus().await;
    TestApp::spawn_with(b, |s| {
        s.slos.sources = vec![PrometheusSource {
            name: "main".into(),
            url,
            authorization: None,
        }];
    })
    .await
}

fn apply(app: &TestApp, yaml: &str, dry_run: bool) -> reqwest::RequestBuilder {
    app.http
        .post(format!("{}/api/v1/slos/apply?dry_run={dry_run}", app.url))
        .bearer_auth(&app.admin.token)
        .header("content-type", "application/yaml")
        .body(yaml.to_owned())
}

async fn export(app: &TestApp, path: &str) -> String {
    let r = app.get(path, &app.admin.token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/yaml")
    );
    r.text().await.unwrap()
}

/// (name, result, changed) of each SLO of an apply's report.
fn results(report: &Value) -> Vec<(String, String, Vec<String>)> {
    report["slos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["result"].as_str().unwrap().to_owned(),
                s["changed"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect()
}

fn all(report: &Value, result: &str) -> bool {
    results(report)
        .iter()
        .all(|(_, r, c)| r == result && c.is_empty())
}

async fn count(app: &TestApp) -> usize {
    ok(app.get("/api/v1/slos", &app.admin.token), 200)
        .await
        .as_array()
        .unwrap()
        .len()
}

async fn slos_round_trip_through_openslo(b: Backend) {
    let Some(app) = spawn(b).await else {
        return;
    };
    let t = &app.admin.token;
    for name in ["checkout", "search"] {
        ok(app.post("/api/v1/services", t, &json!({"name": name})), 201).await;
    }
    let pushed = ok(
        app.post(
            "/api/v1/slos",
            t,
            &json!({"service": "checkout", "name": "Availability", "objective": 99.9,
                    "description": "checkout answers", "window": "30d", "at_risk": 0.3,
                    "sli": {"kind": "pushed"}}),
        ),
        201,
    )
    .await;
    let pushed_id = pushed["id"].as_str().unwrap().to_owned();
    ok(
        app.post(
            "/api/v1/slos",
            t,
            &json!({"service": "checkout", "name": "errors", "objective": 99.5,
                    "window": "month", "time_zone": "Europe/Berlin",
                    "sli": {"kind": "prometheus", "source": "main",
                            "bad": "sum(increase(http_requests_total{code=~\"5..\"}[{{window}}]))",
                            "total": "sum(increase(http_requests_total[{{window}}]))"},
                    "rules": [{"name": "fast", "urgency": "page", "long": "1h", "short": "2m",
                               "rate": 10},
                              {"name": "slow", "urgency": "ticket", "long": "3d", "short": "6h",
                               "budget_spent": 0.1}]}),
        ),
        201,
    )
    .await;
    ok(
        app.post(
            "/api/v1/slos",
            t,
            &json!({"service": "search", "name": "answers", "objective": 99.0, "window": "7d",
                    "sli": {"kind": "prometheus", "source": "main",
                            "good": "sum(increase(search_ok_total[{{window}}]))",
                            "total": "sum(increase(search_total[{{window}}]))"}}),
        ),
        201,
    )
    .await;

    // An availability SLO on an uptime check (never run: only its id matters here).
    let check = ok(
        app.post(
            "/api/v1/checks",
            t,
            &json!({"name": "homepage", "service": "search", "url": "http://127.0.0.1:9/",
                    "interval_secs": 60, "failure_threshold": 1, "success_threshold": 1,
                    "conditions": ["[STATUS] == 200"]}),
        ),
        201,
    )
    .await;
    let check = check["id"].as_str().unwrap().to_owned();
    ok(
        app.post(
            "/api/v1/slos",
            t,
            &json!({"service": "search", "name": "homepage up", "objective": 99.5,
                    "window": "28d", "sli": {"kind": "availability", "check": check}}),
        ),
        201,
    )
    .await;

    let yaml = export(&app, "/api/v1/slos/openslo").await;
    assert_eq!(yaml.matches("kind: SLO\n").count(), 4, "{yaml}");
    assert!(
        yaml.contains(&format!(
            "type: klaxon-availability\n            spec:\n              check: {check}"
        )),
        "{yaml}"
    );
    for needle in [
        "apiVersion: openslo/v1",
        "type: klaxon-pushed",
        "klaxon.dev/short-window: 2m",
        "klaxon.dev/at-risk:",
        "timeZone: Europe/Berlin",
        "targetPercent: 99.9",
    ] {
        assert!(yaml.contains(needle), "{needle} not in {yaml}");
    }

    // Applied back: nothing to do, and the export is the same.
    let report = ok(apply(&app, &yaml, false), 200).await;
    assert_eq!(results(&report).len(), 4, "{report}");
    assert!(all(&report, "unchanged"), "{report}");
    assert_eq!(export(&app, "/api/v1/slos/openslo").await, yaml);
    let one = export(&app, &format!("/api/v1/slos/{pushed_id}/openslo")).await;
    assert!(yaml.contains(&one), "{one}");
    let search = export(&app, "/api/v1/slos/openslo?service=search").await;
    assert_eq!(search.matches("kind: SLO\n").count(), 2, "{search}");

    // A change, first as a dry run: reported with its field, written only for real.
    let changed = one.replace("targetPercent: 99.9", "targetPercent: 99.5");
    let report = ok(apply(&app, &changed, true), 200).await;
    assert_eq!(report["dry_run"], true);
    assert_eq!(
        results(&report),
        vec![(
            "Availability".to_owned(),
            "updated".to_owned(),
            vec!["objective".to_owned()]
        )]
    );
    let now = ok(app.get(&format!("/api/v1/slos/{pushed_id}"), t), 200).await;
    assert_eq!(now["objective"], 99.9, "a dry run writes nothing");
    let report = ok(apply(&app, &changed, false), 200).await;
    assert_eq!(report["slos"][0]["result"], "updated");
    assert_eq!(report["slos"][0]["id"], pushed_id.as_str());
    let now = ok(app.get(&format!("/api/v1/slos/{pushed_id}"), t), 200).await;
    assert_eq!(now["objective"], 99.5);
    assert_eq!(now["at_risk"], 0.3);
    assert_eq!(now["description"], "checkout answers");
    assert!(all(
        &ok(apply(&app, &changed, false), 200).await,
        "unchanged"
    ));

    // A new SLO (another name), as a dry run and then for real.
    let new = one.replace("displayName: Availability", "displayName: Latency");
    let report = ok(apply(&app, &new, true), 200).await;
    assert_eq!(report["slos"][0]["result"], "created");
    assert_eq!(report["slos"][0]["id"], Value::Null);
    assert_eq!(count(&app).await, 4, "a dry run creates nothing");
    let report = ok(apply(&app, &new, false), 200).await;
    assert_eq!(report["slos"][0]["result"], "created");
    assert!(report["slos"][0]["id"].is_string());
    assert_eq!(count(&app).await, 5);
    let latency = ok(
        app.get(
            &format!("/api/v1/slos/{}", report["slos"][0]["id"].as_str().unwrap()),
            t,
        ),
        200,
    )
    .await;
    assert_eq!(latency["service_name"], "checkout");
    assert_eq!(latency["sli"], json!({"kind": "pushed"}));
    assert_eq!(latency["rules"].as_array().unwrap().len(), 3);

    // Everything applied again is left alone.
    let yaml = export(&app, "/api/v1/slos/openslo").await;
    assert!(all(&ok(apply(&app, &yaml, false), 200).await, "unchanged"));

    // The document says YAML, with no JSON Schema for a stream of documents.
    let doc = ok(app.get("/api/v1/openapi.json", t), 200).await;
    for path in ["/api/v1/slos/openslo", "/api/v1/slos/{id}/openslo"] {
        let answer = &doc["paths"][path]["get"]["responses"]["200"]["content"];
        assert!(answer["application/yaml"].is_object(), "{path}: {answer}");
        assert!(
            answer["application/yaml"].get("schema").is_none(),
            "{path}: {answer}"
        );
    }
    let body = &doc["paths"]["/api/v1/slos/apply"]["post"]["requestBody"]["content"];
    assert!(body["application/yaml"].is_object(), "{body}");

    // Writing needs an admin; reading a viewer.
    let (_, viewer) = app.user_with_token("viewer@example.com", "viewer").await;
    let r = app
        .http
        .post(format!("{}/api/v1/slos/apply", app.url))
        .bearer_auth(&viewer)
        .body(yaml.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = app
        .get("/api/v1/slos/openslo", &viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    app.stop().await;
}

/// One pushed-counts SLO on checkout (policies may be added at its end).
fn slo_doc(name: &str, objective: &str, window: &str) -> String {
    format!(
        "apiVersion: openslo/v1
kind: SLO
metadata:
  name: {name}
spec:
  service: checkout
  indicator:
    metadata:
      name: {name}
    spec:
      ratioMetric:
        counter: true
        good:
          metricSource:
            type: klaxon-pushed
        total:
          metricSource:
            type: klaxon-pushed
  timeWindow:
    - duration: {window}
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - targetPercent: {objective}
"
    )
}

async fn refused_at(app: &TestApp, yaml: &str, field: &str) -> Value {
    refused(apply(app, yaml, false), 400, "invalid_field", Some(field)).await
}

async fn bad_openslo_is_refused_naming_its_place_and_nothing_is_written(b: Backend) {
    let Some(app) = spawn(b).await else {
        return;
    };
    let t = &app.admin.token;
    ok(
        app.post("/api/v1/services", t, &json!({"name": "checkout"})),
        201,
    )
    .await;
    let good = slo_doc("availability", "99.9", "30d");

    let e = refused_at(
        &app,
        &format!(
            "{good}---\napiVersion: openslo/v1\nkind: Dashboard\nmetadata:\n  name: x\nspec: {{}}\n"
        ),
        "documents[1].kind",
    )
    .await;
    assert!(e["message"].as_str().unwrap().contains("SLO, SLI"), "{e}");
    refused_at(
        &app,
        &good.replace("apiVersion: openslo/v1", "apiVersion: openslo/v2alpha"),
        "documents[0].apiVersion",
    )
    .await;
    let e = refused_at(
        &app,
        &good.replace("        good:\n", "        goood:\n"),
        "documents[0].spec.indicator.spec.ratioMetric.goood",
    )
    .await;
    assert!(
        e["message"].as_str().unwrap().contains("unknown field"),
        "{e}"
    );
    refused_at(
        &app,
        &slo_doc("availability", "99.9", "14d"),
        "documents[0].spec.timeWindow[0].duration",
    )
    .await;
    let e = refused_at(
        &app,
        &slo_doc("availability", "100", "30d"),
        "documents[0].spec.objectives[0].targetPercent",
    )
    .await;
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("above 0 and below 100"),
        "{e}"
    );
    refused_at(
        &app,
        &good.replace("service: checkout", "service: nowhere"),
        "documents[0].spec.service",
    )
    .await;
    refused_at(
        &app,
        &good.replace(
            "budgetingMethod: Occurrences",
            "budgetingMethod: Timeslices",
        ),
        "documents[0].spec.budgetingMethod",
    )
    .await;
    refused_at(&app, "", "documents").await;
    let not_text = app
        .http
        .post(format!("{}/api/v1/slos/apply", app.url))
        .bearer_auth(t)
        .body(vec![0xffu8, 0xfe, 0x00]);
    refused(not_text, 400, "invalid_body", None).await;
    let e = refused_at(&app, "apiVersion: [openslo/v1\n", "documents[0]").await;
    assert!(
        e["message"].as_str().unwrap().contains("is not YAML"),
        "{e}"
    );
    // A Service document must name a service Klaxon has; a DataSource is not taken.
    refused_at(
        &app,
        &format!("{good}---\napiVersion: openslo/v1\nkind: Service\nmetadata:\n  name: nowhere\nspec: {{}}\n"),
        "documents[1].metadata.name",
    )
    .await;
    refused_at(
        &app,
        &format!("{good}---\napiVersion: openslo/v1\nkind: DataSource\nmetadata:\n  name: prom\nspec:\n  type: Prometheus\n"),
        "documents[1].kind",
    )
    .await;

    // The first document is fine, the second is not: nothing is written.
    let two = format!(
        "{good}---\n{}",
        slo_doc("latency", "99.9", "30d").replace("type: klaxon-pushed", "type: Datadog")
    );
    refused_at(
        &app,
        &two,
        "documents[1].spec.indicator.spec.ratioMetric.good.metricSource.type",
    )
    .await;
    assert_eq!(count(&app).await, 0, "nothing half-written");
    // Two documents for the same SLO.
    refused_at(
        &app,
        &format!("{good}---\n{good}"),
        "documents[1].metadata.name",
    )
    .await;
    assert_eq!(count(&app).await, 0);
    // Fixed, it applies.
    let report = ok(apply(&app, &good, false), 200).await;
    assert_eq!(report["slos"][0]["result"], "created");
    // An update refused in a later document leaves the first one's change unwritten too.
    let two = format!(
        "{}---\n{}",
        slo_doc("availability", "99.5", "30d"),
        slo_doc("latency", "100", "30d")
    );
    refused_at(&app, &two, "documents[1].spec.objectives[0].targetPercent").await;
    let listed = ok(app.get("/api/v1/slos", t), 200).await;
    assert_eq!(listed[0]["objective"], 99.9);
    app.stop().await;
}

async fn the_short_window_annotation_is_honoured(b: Backend) {
    let Some(app) = spawn(b).await else {
        return;
    };
    let t = &app.admin.token;
    ok(
        app.post("/api/v1/services", t, &json!({"name": "checkout"})),
        201,
    )
    .await;
    let policies = |short: &str| {
        format!(
            "  alertPolicies:
    - alertPolicyRef: fast
    - kind: AlertPolicy
      metadata:
        name: slow
      spec:
        conditions:
          - kind: AlertCondition
            metadata:
              name: slow
            spec:
              severity: ticket
              condition:
                kind: burnrate
                threshold: 6
                lookbackWindow: 6h
---
apiVersion: openslo/v1
kind: AlertPolicy
metadata:
  name: fast
spec:
  conditions:
    - conditionRef: fast-burn
  notificationTargets:
    - targetRef: on-call
---
apiVersion: openslo/v1
kind: AlertCondition
metadata:
  name: fast-burn
  annotations:
    klaxon.dev/short-window: {short}
spec:
  severity: page
  condition:
    kind: burnrate
    threshold: 14.4
    lookbackWindow: 1h
    alertAfter: 0m
---
apiVersion: openslo/v1
kind: AlertNotificationTarget
metadata:
  name: on-call
spec:
  target: email
"
        )
    };
    let yaml = format!(
        "{}{}",
        slo_doc("availability", "99.9", "30d"),
        policies("2m")
    );
    let report = ok(apply(&app, &yaml, false), 200).await;
    let id = report["slos"][0]["id"].as_str().unwrap().to_owned();
    let s = ok(app.get(&format!("/api/v1/slos/{id}"), t), 200).await;
    let rules: Vec<(&str, &str, &str, &str)> = s["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap(),
                r["urgency"].as_str().unwrap(),
                r["long"].as_str().unwrap(),
                r["short"].as_str().unwrap(),
            )
        })
        .collect();
    // The annotation's 2m, and without one a twelfth of the look-back window.
    assert_eq!(
        rules,
        vec![
            ("fast", "page", "1h", "2m"),
            ("slow", "ticket", "6h", "30m")
        ]
    );
    assert!(
        (s["rules"][0]["rate"].as_f64().unwrap() - 14.4).abs() < 1e-9,
        "{s}"
    );
    // Changing only the annotation is a change of the rules.
    let report = ok(
        apply(
            &app,
            &format!(
                "{}{}",
                slo_doc("availability", "99.9", "30d"),
                policies("10m")
            ),
            false,
        ),
        200,
    )
    .await;
    assert_eq!(report["slos"][0]["changed"], json!(["rules"]));
    // A short window not shorter than the long one is refused at the annotation.
    refused_at(
        &app,
        &format!(
            "{}{}",
            slo_doc("availability", "99.9", "30d"),
            policies("1h")
        ),
        "documents[2].spec.condition.lookbackWindow",
    )
    .await;
    refused_at(
        &app,
        &format!(
            "{}{}",
            slo_doc("availability", "99.9", "30d"),
            policies("30s")
        ),
        "documents[2].metadata.annotations[\"klaxon.dev/short-window\"]",
    )
    .await;
    app.stop().await;
}

async fn an_applied_change_keeps_firing_rules_firing(b: Backend) {
    let Some(app) = spawn(b).await else {
        return;
    };
    let t = &app.admin.token;
    ok(
        app.post("/api/v1/services", t, &json!({"name": "checkout"})),
        201,
    )
    .await;
    let report = ok(
        apply(&app, &slo_doc("availability", "99.9", "30d"), false),
        200,
    )
    .await;
    let id = report["slos"][0]["id"].as_str().unwrap().to_owned();
    // Ten minutes of nothing but errors: every default rule fires at the next step.
    let now = app.clock.now();
    let counts: Vec<Value> = (1..=10)
        .map(|m| {
            json!({"at": (now - jiff::SignedDuration::from_mins(m)).to_string(),
                   "good": 0, "total": 100})
        })
        .collect();
    ok(
        app.post(
            &format!("/api/v1/slos/{id}/counts"),
            t,
            &json!({"counts": counts}),
        ),
        204,
    )
    .await;
    app.state.engine.tick().await.unwrap();
    let firing = |s: &Value| -> Vec<bool> {
        s["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["firing"] == true)
            .collect()
    };
    let before = ok(app.get(&format!("/api/v1/slos/{id}"), t), 200).await;
    assert_eq!(firing(&before), vec![true, true, true], "{before}");
    let report = ok(
        apply(&app, &slo_doc("availability", "99.5", "30d"), false),
        200,
    )
    .await;
    assert_eq!(report["slos"][0]["changed"], json!(["objective"]));
    let after = ok(app.get(&format!("/api/v1/slos/{id}"), t), 200).await;
    assert_eq!(after["objective"], 99.5);
    assert_eq!(firing(&after), vec![true, true, true], "{after}");
    app.stop().await;
}
