//! Workflows on both backends, with the fake clock: each trigger runs its workflow once per
//! event (two instances too), conditions choose, loops stop after one round, and bad workflows
//! are refused naming the field. Every page sent is counted: none is unexpected. (What the
//! actions do, and how they fail, is in workflows_actions.rs.)
use crate::common;
use crate::dashboard_support;

use std::sync::{Arc, Mutex};

use common::*;
use dashboard_support::{Person, declare, events_of, person, tick};
use jiff::SignedDuration;
use serde_json::{Value, json};

on_both_backends!(
    each_trigger_runs_its_workflows_once,
    two_instances_run_a_workflow_once_per_event,
    a_loop_through_two_workflows_stops_after_one_round,
    bad_workflows_are_refused_naming_the_field,
);

/// A receiver for `call_webhook`: answers `status`, keeps what it got with its headers.
#[derive(Clone)]
pub(crate) struct Hook {
    pub(crate) url: String,
    pub(crate) got: Arc<Mutex<Vec<(axum::http::HeaderMap, Value)>>>,
}

impl Hook {
    pub(crate) async fn spawn(status: u16) -> Self {
        let got = Arc::new(Mutex::new(Vec::new()));
        let log = got.clone();
        let app = axum::Router::new().fallback(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let log = log.clone();
                async move {
                    log.lock().unwrap().push((
                        headers,
                        serde_json::from_slice(&body).unwrap_or(Value::Null),
                    ));
                    axum::http::StatusCode::from_u16(status).unwrap()
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/call", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, got }
    }

    pub(crate) fn calls(&self) -> usize {
        self.got.lock().unwrap().len()
    }
}

/// An outgoing webhook named `name` to `url`, listening to an event kind no test writes, so
/// only workflows call it.
pub(crate) async fn webhook(app: &TestApp, name: &str, url: &str) {
    ok(
        app.post(
            "/api/v1/webhooks",
            &app.admin.token,
            &json!({"name": name, "url": url, "events": ["incident.merged"]}),
        ),
        201,
    )
    .await;
}

pub(crate) async fn workflow(app: &TestApp, w: Value) -> Value {
    ok(app.post("/api/v1/workflows", &app.admin.token, &w), 201).await
}

pub(crate) async fn runs(app: &TestApp, name: &str) -> Vec<Value> {
    ok(
        app.get(&format!("/api/v1/workflows/{name}/runs"), &app.admin.token),
        200,
    )
    .await["items"]
        .as_array()
        .unwrap()
        .clone()
}

pub(crate) async fn tasks(app: &TestApp, iid: &str) -> Vec<String> {
    let i = ok(
        app.get(&format!("/api/v1/incidents/{iid}/tasks"), &app.admin.token),
        200,
    )
    .await;
    let list = i.as_array().cloned().unwrap_or_else(|| {
        i["items"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| i["tasks"].as_array().cloned().unwrap_or_default())
    });
    list.iter()
        .map(|t| t["title"].as_str().unwrap().to_owned())
        .collect()
}

pub(crate) async fn updates(app: &TestApp, iid: &str) -> Vec<String> {
    events_of(app, iid, "incident.update_posted")
        .await
        .into_iter()
        .map(|(_, d)| d["message"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Sends the request, asserts its status and returns the error object.
pub(crate) async fn refusal(req: reqwest::RequestBuilder, status: u16) -> Value {
    let r = req.send().await.unwrap();
    assert_eq!(r.status().as_u16(), status);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    body["error"].clone()
}

pub(crate) fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

/// Everyone's pages so far, in the order given.
pub(crate) fn pages(people: &[&Person]) -> Vec<u64> {
    people.iter().map(|p| p.receiver.pages()).collect()
}

pub(crate) async fn integration_key(app: &TestApp, service: &str) -> String {
    let i = ok(
        app.post(
            &format!("/api/v1/services/{service}/integrations"),
            &app.admin.token,
            &json!({"name": "prom", "kind": "events_v2"}),
        ),
        201,
    )
    .await;
    i["key"].as_str().unwrap().to_owned()
}

pub(crate) async fn alert(app: &TestApp, key: &str, summary: &str, host: &str) {
    let r = app
        .http
        .post(format!("{}/v2/enqueue", app.url))
        .json(
            &json!({"routing_key": key, "event_action": "trigger", "dedup_key": summary,
                      "payload": {"summary": summary, "source": host, "severity": "error",
                                  "custom_details": {"host": host}}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
}

async fn each_trigger_runs_its_workflows_once(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = person(&app, "ada@example.com", "Ada", "UTC").await;
    let bob = person(&app, "bob@example.com", "Bob", "UTC").await;
    let hook = Hook::spawn(200).await;
    webhook(&app, "chatops", &hook.url).await;
    workflow(
        &app,
        json!({"name": "sev1-declared", "trigger": {"on": "incident_declared"},
               "conditions": {"severity": ["SEV1"]},
               "actions": [{"add_tasks": ["Open a bridge", "Tell support"]},
                           {"page": {"user": "ada@example.com", "message": "SEV1 declared"}},
                           {"call_webhook": {"webhook": "chatops"}}]}),
    )
    .await;
    workflow(
        &app,
        json!({"name": "raised-to-sev1", "trigger": {"on": "severity_changed"},
               "conditions": {"severity": ["SEV1"]},
               "actions": [{"post_update": {"message": "We are on it"}}]}),
    )
    .await;
    workflow(
        &app,
        json!({"name": "commander-paged", "trigger": {"on": "role_assigned"},
               "conditions": {"role": ["commander"]},
               "actions": [{"page": {"role": "commander"}}]}),
    )
    .await;
    workflow(
        &app,
        json!({"name": "on-resolve", "trigger": {"on": "status_changed"},
               "conditions": {"status": ["resolved"]},
               "actions": [{"add_tasks": ["Write the postmortem"]}]}),
    )
    .await;
    workflow(
        &app,
        json!({"name": "disk-alerts", "trigger": {"on": "alert"},
               "conditions": {"alert": {"summary": "Disk*", "details.host": "db-*"}},
               "actions": [{"add_tasks": ["Check the disk"]}]}),
    )
    .await;
    workflow(
        &app,
        json!({"name": "quiet", "trigger": {"on": "no_update", "minutes": 30},
               "actions": [{"post_update": {"message": "Still working on it"}}]}),
    )
    .await;

    // Declared SEV1: tasks added, Ada paged, the webhook called; once, however often it ticks.
    let one = id(&declare(&app, &app.admin.token, "Checkout down", "SEV1", json!({})).await);
    // A SEV3: the conditions leave it alone.
    let two = id(&declare(&app, &app.admin.token, "Slow search", "SEV3", json!({})).await);
    for _ in 0..3 {
        tick(&app).await;
    }
    assert_eq!(tasks(&app, &one).await, ["Open a bridge", "Tell support"]);
    assert!(tasks(&app, &two).await.is_empty());
    assert_eq!(pages(&[&ada, &bob]), [1, 0]);
    assert_eq!(hook.calls(), 1);
    {
        let got = hook.got.lock().unwrap();
        let (headers, body) = &got[0];
        assert_eq!(body["incident"]["id"], one.as_str());
        assert_eq!(body["data"]["workflow"], "sev1-declared");
        assert!(
            headers["x-klaxon-signature"]
                .to_str()
                .unwrap()
                .starts_with("v1=")
        );
    }
    let r = runs(&app, "sev1-declared").await;
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0]["state"], "done");
    let states: Vec<&str> = r[0]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["succeeded"; 3]);
    // On the timeline, by the workflow: the run and each thing it did.
    // (A SEV1 declared by the admin makes them commander: that runs `commander-paged` too.)
    let ran: Vec<(String, Value)> = events_of(&app, &one, "workflow.ran")
        .await
        .into_iter()
        .filter(|(_, d)| d["workflow"] == "sev1-declared")
        .collect();
    assert_eq!(ran.len(), 1);
    assert!(ran[0].0.starts_with("workflow:"), "{:?}", ran[0]);
    assert_eq!(ran[0].1["state"], "done");
    // In words, named by the workflow.
    let md = app
        .get(
            &format!("/api/v1/incidents/{one}/timeline.md"),
            &app.admin.token,
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        md.contains("the workflow sev1-declared: ran: 3 actions succeeded"),
        "{md}"
    );
    let added = events_of(&app, &one, "incident.task_added").await;
    assert!(
        added
            .iter()
            .all(|(actor, _)| actor.starts_with("workflow:"))
    );

    // Raised to SEV1: an update, once.
    ok(
        patch(
            &app,
            &format!("/api/v1/incidents/{two}"),
            &app.admin.token,
            &json!({"severity": "SEV1"}),
        ),
        200,
    )
    .await;
    tick(&app).await;
    tick(&app).await;
    assert_eq!(updates(&app, &two).await, ["We are on it"]);
    // Not declared now: the declaration workflow does not run for a change of severity.
    assert!(tasks(&app, &two).await.is_empty());

    // Bob made commander of the first: the workflow pages whoever holds the role.
    ok(
        app.post(
            &format!("/api/v1/incidents/{one}/roles"),
            &app.admin.token,
            &json!({"role": "commander", "user_id": bob.id}),
        ),
        201,
    )
    .await;
    tick(&app).await;
    assert_eq!(pages(&[&ada, &bob]), [1, 1]);

    // An alert whose fields match opens an incident (on a service paging nobody) with a task.
    let svc = ok(
        app.post("/api/v1/services", &app.admin.token, &json!({"name": "db"})),
        201,
    )
    .await;
    let key = integration_key(&app, &id(&svc)).await;
    alert(&app, &key, "Disk full", "db-3").await;
    alert(&app, &key, "CPU high", "db-3").await;
    tick(&app).await;
    let disk = runs(&app, "disk-alerts").await;
    assert_eq!(disk.len(), 1, "only the matching alert: {disk:?}");
    let three = disk[0]["incident_id"].as_str().unwrap().to_owned();
    assert_eq!(tasks(&app, &three).await, ["Check the disk"]);

    // Resolved: the postmortem task.
    ok(
        app.post(
            &format!("/api/v1/incidents/{one}/resolve"),
            &app.admin.token,
            &json!({}),
        ),
        200,
    )
    .await;
    tick(&app).await;
    assert_eq!(
        tasks(&app, &one).await,
        ["Open a bridge", "Tell support", "Write the postmortem"]
    );

    // Half an hour on, the open incidents without an update get one; then no more until
    // another half hour passes without one.
    app.clock.advance(SignedDuration::from_mins(31));
    tick(&app).await;
    tick(&app).await;
    assert_eq!(
        updates(&app, &two).await,
        ["We are on it", "Still working on it"]
    );
    assert!(updates(&app, &one).await.is_empty(), "resolved: left alone");
    let quiet = runs(&app, "quiet").await;
    let on: Vec<&str> = quiet
        .iter()
        .map(|r| r["incident_id"].as_str().unwrap())
        .collect();
    // The second, and the two the alerts opened (the CPU alert opened one of its own).
    assert_eq!(on.len(), 3, "{quiet:?}");
    assert!(on.contains(&two.as_str()) && on.contains(&three.as_str()));
    assert!(!on.contains(&one.as_str()));
    app.clock.advance(SignedDuration::from_mins(10));
    tick(&app).await;
    assert_eq!(runs(&app, "quiet").await.len(), 3);
    app.clock.advance(SignedDuration::from_mins(25));
    tick(&app).await;
    assert_eq!(runs(&app, "quiet").await.len(), 6);
    // Paged: four, then the other two, none twice.
    let first = ok(
        app.get("/api/v1/workflows/quiet/runs?limit=4", &app.admin.token),
        200,
    )
    .await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest = ok(
        app.get(
            &format!("/api/v1/workflows/quiet/runs?limit=4&cursor={cursor}"),
            &app.admin.token,
        ),
        200,
    )
    .await;
    assert!(rest["next_cursor"].is_null());
    let mut seen: Vec<&str> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest["items"].as_array().unwrap())
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(seen.len(), 6);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 6);

    // The incident's runs, newest first.
    let on_one = ok(
        app.get(
            &format!("/api/v1/incidents/{one}/workflow-runs"),
            &app.admin.token,
        ),
        200,
    )
    .await;
    let mut names: Vec<&str> = on_one["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["workflow"].as_str().unwrap())
        .collect();
    names.sort();
    // Commander twice: the admin on declaring (a SEV1 needs one), then Bob.
    assert_eq!(
        names,
        [
            "commander-paged",
            "commander-paged",
            "on-resolve",
            "sev1-declared"
        ]
    );
    // No page went anywhere else.
    assert_eq!(pages(&[&ada, &bob]), [1, 1]);
    assert_eq!(hook.calls(), 1);
}

async fn two_instances_run_a_workflow_once_per_event(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = person(&app, "ada@example.com", "Ada", "UTC").await;
    let hook = Hook::spawn(200).await;
    webhook(&app, "chatops", &hook.url).await;
    workflow(
        &app,
        json!({"name": "declared", "trigger": {"on": "incident_declared"},
               "actions": [{"page": {"user": "ada@example.com"}},
                           {"call_webhook": {"webhook": "chatops"}},
                           {"add_tasks": ["Open a bridge"]}]}),
    )
    .await;
    // Another instance on the same database, with its own engine.
    let mut settings = (*app.state.settings).clone();
    settings.engine.enabled = false;
    let other =
        klaxon_server::App::with_store(settings, app.state.clock.clone(), app.state.store.clone());
    let mut ids = Vec::new();
    for n in 0..6 {
        ids.push(id(&declare(
            &app,
            &app.admin.token,
            &format!("Outage {n}"),
            "SEV2",
            json!({}),
        )
        .await));
        let (a, b) = tokio::join!(app.state.engine.tick(), other.state.engine.tick());
        a.unwrap();
        b.unwrap();
    }
    for _ in 0..3 {
        let (a, b) = tokio::join!(app.state.engine.tick(), other.state.engine.tick());
        a.unwrap();
        b.unwrap();
    }
    assert_eq!(runs(&app, "declared").await.len(), 6);
    assert_eq!(ada.receiver.pages(), 6);
    assert_eq!(hook.calls(), 6);
    for i in &ids {
        assert_eq!(tasks(&app, i).await, ["Open a bridge"]);
        assert_eq!(events_of(&app, i, "workflow.ran").await.len(), 1);
    }
}

async fn a_loop_through_two_workflows_stops_after_one_round(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let cy = member(&app, "cy@example.com", "Cy", "responder").await;
    let dan = member(&app, "dan@example.com", "Dan", "responder").await;
    // A workflow that assigns the role it waits for is refused outright.
    let e = refusal(
        app.post(
            "/api/v1/workflows",
            &app.admin.token,
            &json!({"name": "self", "trigger": {"on": "role_assigned"},
                    "actions": [{"assign_role": {"role": "scribe", "user": "cy@example.com"}}]}),
        ),
        400,
    )
    .await;
    assert_eq!(e["field"], "actions[0].assign_role", "{e}");
    // Two that fire each other are kept, and stop after one round.
    workflow(
        &app,
        json!({"name": "scribe-follows", "trigger": {"on": "role_assigned"},
               "conditions": {"role": ["commander"]},
               "actions": [{"assign_role": {"role": "scribe", "user": "cy@example.com"}}]}),
    )
    .await;
    workflow(
        &app,
        json!({"name": "commander-follows", "trigger": {"on": "role_assigned"},
               "conditions": {"role": ["scribe"]},
               "actions": [{"assign_role": {"role": "commander", "user": "dan@example.com"}}]}),
    )
    .await;
    let iid = id(&declare(&app, &app.admin.token, "Outage", "SEV3", json!({})).await);
    ok(
        app.post(
            &format!("/api/v1/incidents/{iid}/roles"),
            &app.admin.token,
            &json!({"role": "commander", "user_id": ada.id}),
        ),
        201,
    )
    .await;
    for _ in 0..4 {
        tick(&app).await;
    }
    let first = runs(&app, "scribe-follows").await;
    let mut states: Vec<&str> = first.iter().map(|r| r["state"].as_str().unwrap()).collect();
    // (Both at the same instant of the fake clock: in no particular order.)
    states.sort();
    assert_eq!(states, ["done", "loop"], "{first:?}");
    // The second round was stopped: its chain names both workflows, and it took no action.
    let stopped_run = first.iter().find(|r| r["state"] == "loop").unwrap();
    assert_eq!(stopped_run["chain"].as_array().unwrap().len(), 2);
    assert!(stopped_run["actions"].as_array().unwrap().is_empty());
    let second = runs(&app, "commander-follows").await;
    assert_eq!(second.len(), 1);
    assert_eq!(second[0]["state"], "done");
    let stopped = events_of(&app, &iid, "workflow.loop_stopped").await;
    assert_eq!(stopped.len(), 1);
    assert_eq!(stopped[0].1["workflow"], "scribe-follows");
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
    assert!(
        md.contains("Klaxon: did not run the workflow scribe-follows"),
        "{md}"
    );
    // Where the round left the roles: Cy scribe, Dan commander.
    let roles = ok(
        app.get(&format!("/api/v1/incidents/{iid}/roles"), &app.admin.token),
        200,
    )
    .await;
    let held = |role: &str| -> Vec<String> {
        roles["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["role"] == role && r["ended_at"].is_null())
            .map(|r| r["user_id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(held("scribe"), [cy.id.as_str()]);
    assert_eq!(held("commander"), [dan.id.as_str()]);
}

async fn bad_workflows_are_refused_naming_the_field(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let viewer = member(&app, "vi@example.com", "Vi", "viewer").await;
    let responder = member(&app, "rae@example.com", "Rae", "responder").await;
    let good = json!({"name": "good", "trigger": {"on": "incident_declared"},
                      "actions": [{"add_tasks": ["Open a bridge"]}]});
    let bad = |patch: Value| {
        let mut w = good.clone();
        for (k, v) in patch.as_object().unwrap() {
            w[k] = v.clone();
        }
        w
    };
    let cases = [
        (bad(json!({"name": "Not A Name"})), "name"),
        (bad(json!({"trigger": {"on": "sometimes"}})), "trigger.on"),
        (
            bad(json!({"trigger": {"on": "no_update"}})),
            "trigger.minutes",
        ),
        (
            bad(json!({"actions": [{"page": {"user": "nobody@example.com"}}]})),
            "actions[0].page.user",
        ),
        (
            bad(json!({"actions": [{"page": {"role": "janitor"}}]})),
            "actions[0].page.role",
        ),
        (
            bad(json!({"actions": [{"post_update": {"template": "nope"}}]})),
            "actions[0].post_update.template",
        ),
        (
            bad(json!({"actions": [{"call_webhook": {"webhook": "nowhere"}}]})),
            "actions[0].call_webhook.webhook",
        ),
        (
            bad(json!({"actions": [{"start_runbook": {"runbook": "missing"}}]})),
            "actions[0].start_runbook.runbook",
        ),
        (
            bad(
                json!({"actions": [{"set_component": {"page": "none", "component": "api",
                                                      "status": "major_outage"}}]}),
            ),
            "actions[0].set_component.page",
        ),
        (
            bad(json!({"conditions": {"service": ["ghost"]}})),
            "conditions.service[0]",
        ),
        (bad(json!({"actions": []})), "actions"),
    ];
    for (w, field) in cases {
        let e = refusal(app.post("/api/v1/workflows", &app.admin.token, &w), 400).await;
        assert_eq!(e["field"], field, "{w}: {e}");
    }
    let listed = ok(app.get("/api/v1/workflows", &app.admin.token), 200).await;
    assert_eq!(listed, json!([]), "nothing half-written");
    // Only admins change workflows; everyone signed in reads them.
    refusal(app.post("/api/v1/workflows", &responder.token, &good), 403).await;
    workflow(&app, good.clone()).await;
    let seen = ok(app.get("/api/v1/workflows/good", &viewer.token), 200).await;
    assert_eq!(
        seen["summary"]["actions"],
        json!(["Add the tasks: Open a bridge"])
    );
    refusal(delete(&app, "/api/v1/workflows/good", &viewer.token), 403).await;
    // PUT by name: the same body changes nothing; another is a new revision; a new name
    // creates.
    let same = ok(
        put(&app, "/api/v1/workflows/good", &app.admin.token).json(&good),
        200,
    )
    .await;
    assert_eq!(same["change"], "unchanged");
    assert_eq!(same["workflow"]["revision"], 1);
    let off = ok(
        put(&app, "/api/v1/workflows/good", &app.admin.token).json(&bad(json!({"enabled": false}))),
        200,
    )
    .await;
    assert_eq!(off["change"], "updated");
    assert_eq!(off["workflow"]["revision"], 2);
    // A save made from revision 1 is refused now that it is at 2.
    let e = refusal(
        put(&app, "/api/v1/workflows/good?revision=1", &app.admin.token).json(&good),
        409,
    )
    .await;
    assert_eq!(e["field"], "revision", "{e}");
    let made = ok(
        put(&app, "/api/v1/workflows/other", &app.admin.token).json(&bad(json!({"name": "other"}))),
        201,
    )
    .await;
    assert_eq!(made["change"], "created");
    // Creating over a taken name is a conflict.
    refusal(app.post("/api/v1/workflows", &app.admin.token, &good), 409).await;
    // A disabled workflow does not run.
    let iid = id(&declare(&app, &app.admin.token, "Outage", "SEV2", json!({})).await);
    tick(&app).await;
    assert_eq!(
        tasks(&app, &iid).await,
        ["Open a bridge"],
        "only `other` ran"
    );
    // Edits and deletions are in the audit log.
    ok(
        delete(&app, "/api/v1/workflows/other", &app.admin.token),
        204,
    )
    .await;
    refusal(app.get("/api/v1/workflows/other", &app.admin.token), 404).await;
}
