//! Workflow actions on both backends, with the fake clock: each action's outcome is recorded,
//! a failure stops the rest only when marked so, an action cut short by a stopped instance is
//! never taken twice, and runbooks, status pages and postmortems are reached.
use crate::common;
use crate::dashboard_support;
use crate::workflows::{Hook, id, refusal, runs, tasks, webhook, workflow};

use common::*;
use dashboard_support::{declare, events_of, person, tick};
use jiff::SignedDuration;
use serde_json::json;

on_both_backends!(
    failures_are_recorded_and_stop_only_when_marked,
    an_action_cut_short_is_never_taken_twice,
    runbooks_status_pages_and_postmortems_are_reached,
    a_workflow_turned_off_takes_no_more_actions,
);

async fn failures_are_recorded_and_stop_only_when_marked(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let broken = Hook::spawn(500).await;
    webhook(&app, "broken", &broken.url).await;
    workflow(
        &app,
        json!({"name": "keeps-going", "trigger": {"on": "incident_declared"},
               "actions": [{"call_webhook": {"webhook": "broken"}},
                           {"add_tasks": ["First"]}]}),
    )
    .await;
    workflow(
        &app,
        json!({"name": "stops", "trigger": {"on": "incident_declared"},
               "actions": [{"add_tasks": ["Second"]},
                           {"call_webhook": {"webhook": "broken"}, "stop_on_failure": true},
                           {"add_tasks": ["Never"]}]}),
    )
    .await;
    let iid = id(&declare(&app, &app.admin.token, "Outage", "SEV2", json!({})).await);
    tick(&app).await;
    let mut t = tasks(&app, &iid).await;
    t.sort();
    assert_eq!(t, ["First", "Second"]);
    let keeps = &runs(&app, "keeps-going").await[0];
    assert_eq!(keeps["state"], "done");
    assert_eq!(keeps["actions"][0]["state"], "failed");
    assert!(
        keeps["actions"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("500"),
        "{keeps}"
    );
    assert_eq!(keeps["actions"][1]["state"], "succeeded");
    let stops = &runs(&app, "stops").await[0];
    assert_eq!(stops["state"], "stopped");
    let states: Vec<&str> = stops["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["succeeded", "failed", "skipped"]);
    // A failed call is not made again.
    tick(&app).await;
    assert_eq!(broken.calls(), 2);
    // Its webhook gone, the workflow can still be turned off, but not on again.
    ok(
        delete(&app, "/api/v1/webhooks/broken", &app.admin.token),
        204,
    )
    .await;
    let mut keeps_def = ok(
        app.get("/api/v1/workflows/keeps-going", &app.admin.token),
        200,
    )
    .await;
    for k in [
        "id",
        "revision",
        "created_at",
        "updated_at",
        "updated_by",
        "summary",
    ] {
        keeps_def.as_object_mut().unwrap().remove(k);
    }
    keeps_def["enabled"] = json!(false);
    ok(
        put(&app, "/api/v1/workflows/keeps-going", &app.admin.token).json(&keeps_def),
        200,
    )
    .await;
    keeps_def["enabled"] = json!(true);
    let e = refusal(
        put(&app, "/api/v1/workflows/keeps-going", &app.admin.token).json(&keeps_def),
        400,
    )
    .await;
    assert_eq!(e["field"], "actions[0].call_webhook.webhook", "{e}");
    // A page to a role nobody holds fails with the reason, on the timeline too.
    workflow(
        &app,
        json!({"name": "page-scribe", "trigger": {"on": "severity_changed"},
               "actions": [{"page": {"role": "scribe"}}]}),
    )
    .await;
    ok(
        patch(
            &app,
            &format!("/api/v1/incidents/{iid}"),
            &app.admin.token,
            &json!({"severity": "SEV3"}),
        ),
        200,
    )
    .await;
    tick(&app).await;
    let r = &runs(&app, "page-scribe").await[0];
    assert_eq!(r["actions"][0]["state"], "failed");
    assert!(!r["actions"][0]["detail"].as_str().unwrap().is_empty());
    let ran = events_of(&app, &iid, "workflow.ran").await;
    assert_eq!(ran.len(), 3);
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
        md.contains(
            "the workflow stops: ran: 1 action succeeded, 1 failed, 1 skipped (call_webhook: "
        ),
        "{md}"
    );
}

async fn an_action_cut_short_is_never_taken_twice(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = person(&app, "ada@example.com", "Ada", "UTC").await;
    workflow(
        &app,
        json!({"name": "declared", "trigger": {"on": "incident_declared"},
               "actions": [{"page": {"user": "ada@example.com"}},
                           {"add_tasks": ["Open a bridge"]}]}),
    )
    .await;
    let iid = id(&declare(&app, &app.admin.token, "Outage", "SEV3", json!({})).await);
    // Queue the run the way the engine does, then act as an instance that took its first
    // action and stopped before it knew the outcome.
    let store = app.state.store.clone();
    let events = store.workflow_inbox(10).await.unwrap();
    assert_eq!(
        events.len(),
        1,
        "the declaration is in the inbox: {events:?}"
    );
    tick(&app).await;
    let r = runs(&app, "declared").await;
    assert_eq!(r[0]["state"], "done", "the first instance ran it: {r:?}");
    assert_eq!(ada.receiver.pages(), 1);

    // Again, this time cut short: queue a second run by hand and stop after `begin`.
    let w = store.workflow_named("declared").await.unwrap();
    let now = app.state.clock.now();
    let run = klaxon_store::WorkflowRunRecord {
        id: klaxon_domain::ids::WorkflowRunId::new(now, [7; 10]),
        workflow_id: w.id,
        workflow_name: "declared".into(),
        cause: "event:by-hand".into(),
        incident_id: Some(iid.parse().unwrap()),
        revision: w.revision,
        definition: w.definition.clone(),
        chain: Vec::new(),
        state: "queued".into(),
        created_at: now,
        lease_until: None,
        finished_at: None,
        actions: Vec::new(),
    };
    let queued = store
        .queue_workflow_runs(
            &[],
            &[klaxon_store::NewWorkflowRun {
                run: run.clone(),
                events: Vec::new(),
            }],
        )
        .await
        .unwrap();
    assert_eq!(queued, 1);
    let until = now + SignedDuration::from_secs(60);
    let claimed = store
        .claim_workflow_runs("gone", now, until, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert!(
        store
            .begin_workflow_action(run.id, "gone", 0, "page", now, until)
            .await
            .unwrap()
    );
    // While the lease holds, nobody else takes the run.
    tick(&app).await;
    assert_eq!(ada.receiver.pages(), 1);
    // Once it runs out, the next instance finds the page `unknown`, does not send it again,
    // and takes the rest.
    app.clock.advance(SignedDuration::from_secs(61));
    tick(&app).await;
    assert_eq!(
        ada.receiver.pages(),
        1,
        "the cut-short page is never sent again"
    );
    let r = ok(
        app.get(
            &format!("/api/v1/workflow-runs/{}", run.id),
            &app.admin.token,
        ),
        200,
    )
    .await;
    assert_eq!(r["state"], "done");
    assert_eq!(r["actions"][0]["state"], "unknown");
    assert_eq!(r["actions"][1]["state"], "succeeded");
    assert_eq!(tasks(&app, &iid).await, ["Open a bridge", "Open a bridge"]);
    // The same cause never runs twice.
    let again = store
        .queue_workflow_runs(
            &[],
            &[klaxon_store::NewWorkflowRun {
                run: klaxon_store::WorkflowRunRecord {
                    id: klaxon_domain::ids::WorkflowRunId::new(now, [8; 10]),
                    ..run
                },
                events: Vec::new(),
            }],
        )
        .await
        .unwrap();
    assert_eq!(again, 0);
}

async fn runbooks_status_pages_and_postmortems_are_reached(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let t = &app.admin.token;
    ok(
        app.post(
            "/api/v1/runbooks",
            t,
            &json!({"source": "---\nname: notify\nparams:\n  - name: team\n    default: ops\n---\n# Notify\n\n## Look\nCheck the graphs.\n"}),
        ),
        201,
    )
    .await;
    ok(
        app.post(
            "/api/v1/status-pages",
            t,
            &json!({"name": "Acme", "slug": "acme"}),
        ),
        201,
    )
    .await;
    ok(
        app.post(
            "/api/v1/status-pages/acme/components",
            t,
            &json!({"name": "API"}),
        ),
        201,
    )
    .await;
    // A parameter the runbook lacks, or of the wrong kind, is refused at save.
    let e = refusal(
        app.post(
            "/api/v1/workflows",
            t,
            &json!({"name": "x", "trigger": {"on": "incident_declared"},
                    "actions": [{"start_runbook": {"runbook": "notify", "params": {"tem": "a"}}}]}),
        ),
        400,
    )
    .await;
    assert_eq!(e["field"], "actions[0].start_runbook.params.tem", "{e}");
    workflow(
        &app,
        json!({"name": "major", "trigger": {"on": "incident_declared"},
               "conditions": {"severity": ["SEV1"]},
               "actions": [{"set_component": {"page": "acme", "component": "API",
                                              "status": "major_outage"}},
                           {"start_runbook": {"runbook": "notify", "params": {"team": "sre"}}}]}),
    )
    .await;
    workflow(
        &app,
        json!({"name": "published", "trigger": {"on": "postmortem_published"},
               "actions": [{"add_tasks": ["Share the postmortem"]}]}),
    )
    .await;
    let iid = id(&declare(&app, t, "Login errors", "SEV1", json!({})).await);
    tick(&app).await;
    let comps = ok(app.get("/api/v1/status-pages/acme/components", t), 200).await;
    let api = comps
        .as_array()
        .map(|a| a[0].clone())
        .unwrap_or_else(|| comps["items"][0].clone());
    assert_eq!(api["status"], "major_outage", "{comps}");
    let started = ok(app.get(&format!("/api/v1/incidents/{iid}/runs"), t), 200).await;
    assert_eq!(started.as_array().unwrap().len(), 1, "{started}");
    assert_eq!(started[0]["runbook"], "notify");
    let run = ok(
        app.get(&format!("/api/v1/runs/{}", id(&started[0])), t),
        200,
    )
    .await;
    assert_eq!(run["params"]["team"], "sre", "{run}");
    // Resolved, its postmortem published: the follow-up task.
    ok(
        app.post(&format!("/api/v1/incidents/{iid}/resolve"), t, &json!({})),
        200,
    )
    .await;
    let pm = ok(
        app.post("/api/v1/postmortems", t, &json!({"incident_id": iid})),
        201,
    )
    .await;
    ok(
        app.post(
            &format!("/api/v1/postmortems/{}/publish", id(&pm)),
            t,
            &json!({"reason": "Reviewed in the weekly meeting."}),
        ),
        200,
    )
    .await;
    tick(&app).await;
    assert_eq!(tasks(&app, &iid).await, ["Share the postmortem"]);
    let r = runs(&app, "published").await;
    assert_eq!(r.len(), 1);
    assert_eq!(r[0]["state"], "done");
}

async fn a_workflow_turned_off_takes_no_more_actions(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = person(&app, "ada@example.com", "Ada", "UTC").await;
    let w = json!({"name": "declared", "trigger": {"on": "incident_declared"},
                   "actions": [{"page": {"user": "ada@example.com"}}]});
    workflow(&app, w.clone()).await;
    let iid = id(&declare(&app, &app.admin.token, "Outage", "SEV3", json!({})).await);
    // Queued for the declaration (as an alert storm would queue many), then turned off before
    // any instance takes it.
    let store = app.state.store.clone();
    let kept = store.workflow_named("declared").await.unwrap();
    let now = app.state.clock.now();
    let run = klaxon_store::WorkflowRunRecord {
        id: klaxon_domain::ids::WorkflowRunId::new(now, [9; 10]),
        workflow_id: kept.id,
        workflow_name: "declared".into(),
        cause: "event:queued".into(),
        incident_id: Some(iid.parse().unwrap()),
        revision: kept.revision,
        definition: kept.definition.clone(),
        chain: Vec::new(),
        state: "queued".into(),
        created_at: now,
        lease_until: None,
        finished_at: None,
        actions: Vec::new(),
    };
    store
        .queue_workflow_runs(
            &[],
            &[klaxon_store::NewWorkflowRun {
                run: run.clone(),
                events: Vec::new(),
            }],
        )
        .await
        .unwrap();
    let mut off = w.clone();
    off["enabled"] = json!(false);
    ok(
        put(&app, "/api/v1/workflows/declared", &app.admin.token).json(&off),
        200,
    )
    .await;
    tick(&app).await;
    assert_eq!(
        ada.receiver.pages(),
        0,
        "nobody is paged by a workflow turned off"
    );
    let r = ok(
        app.get(
            &format!("/api/v1/workflow-runs/{}", run.id),
            &app.admin.token,
        ),
        200,
    )
    .await;
    assert_eq!(r["state"], "stopped", "{r}");
    assert_eq!(r["actions"][0]["state"], "skipped");
    assert!(
        r["actions"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("turned off"),
        "{r}"
    );
    assert_eq!(
        runs(&app, "declared").await.len(),
        1,
        "the declaration queued none"
    );
}
