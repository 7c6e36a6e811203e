//! Runners, on both backends, speaking the runner protocol over HTTP as `klaxon runner` does:
//! only admins register runners and enable versions; a runner's token is its own (a person's
//! API token is not one, nor the other way round) and kept as a digest; a runner gets only
//! queued command steps of versions enabled for it whose labels it carries, each once, filled
//! (secrets too) and begun for it; its report moves the run on with the output masked; a
//! runner that stops renewing its hold leaves the step "outcome unknown", never handed out
//! again; an aborted run answers the runner's renewal with 409 so it stops the command.
use crate::common;

use common::*;
use serde_json::{Value, json};

on_both_backends!(
    a_runner_takes_only_what_it_is_labelled_and_enabled_for,
    a_silent_runner_leaves_its_step_unknown_and_an_abort_stops_it,
    the_runners_page_registers_enables_and_removes,
);

const DEPLOY: &str = "---\nname: restart-api\n---\n# Restart the API\n## Restart\n```klaxon-command\nrun: [systemctl, restart, \"{{ incident.number }}\"]\nenv:\n  TOKEN: \"{{ secrets.API_TOKEN }}\"\nrunner:\n  env: prod\n```\n## Look\nCheck the graphs.\n";

async fn spawn(b: Backend) -> Option<TestApp> {
    TestApp::spawn_with(b, |s| {
        s.runbooks.secret_key = Some("0f".repeat(32));
    })
    .await
}

async fn incident(app: &TestApp) -> String {
    let i = ok(
        app.post(
            "/api/v1/incidents",
            &app.admin.token,
            &json!({"title": "API is down", "severity": "SEV2"}),
        ),
        201,
    )
    .await;
    i["id"].as_str().unwrap().to_owned()
}

async fn register(app: &TestApp, name: &str, labels: &[&str]) -> (String, String) {
    let r = ok(
        app.post(
            "/api/v1/runners",
            &app.admin.token,
            &json!({"name": name, "labels": labels}),
        ),
        201,
    )
    .await;
    (
        r["runner"]["id"].as_str().unwrap().to_owned(),
        r["token"].as_str().unwrap().to_owned(),
    )
}

fn claim(app: &TestApp, token: &str) -> reqwest::RequestBuilder {
    app.post("/api/v1/runner/claim", token, &json!({"wait_secs": 0}))
}

async fn run(app: &TestApp, id: &str) -> Value {
    ok(
        app.get(&format!("/api/v1/runs/{id}"), &app.admin.token),
        200,
    )
    .await
}

async fn start(app: &TestApp, iid: &str) -> String {
    let r = ok(
        app.post(
            &format!("/api/v1/incidents/{iid}/runs"),
            &app.admin.token,
            &json!({"runbook": "restart-api"}),
        ),
        201,
    )
    .await;
    r["id"].as_str().unwrap().to_owned()
}

async fn setup(app: &TestApp) {
    ok(
        put(app, "/api/v1/secrets/API_TOKEN", &app.admin.token)
            .json(&json!({"value": "s3cr3t-value"})),
        204,
    )
    .await;
    ok(
        app.post(
            "/api/v1/runbooks",
            &app.admin.token,
            &json!({"source": DEPLOY}),
        ),
        201,
    )
    .await;
}

async fn a_runner_takes_only_what_it_is_labelled_and_enabled_for(b: Backend) {
    let Some(app) = spawn(b).await else {
        return;
    };
    setup(&app).await;
    // Only admins register; labels are checked.
    let (_, responder) = app.user_with_token("r@example.com", "responder").await;
    refused(
        app.post("/api/v1/runners", &responder, &json!({"name": "x"})),
        403,
        "forbidden",
        None,
    )
    .await;
    refused(
        app.post(
            "/api/v1/runners",
            &app.admin.token,
            &json!({"name": "x", "labels": ["prod"]}),
        ),
        400,
        "invalid_field",
        Some("labels[0]"),
    )
    .await;
    let (prod_id, prod) = register(&app, "db-eu-1", &["env=prod", "region=eu"]).await;
    let (_, staging) = register(&app, "db-staging", &["env=staging"]).await;
    refused(
        app.post(
            "/api/v1/runners",
            &app.admin.token,
            &json!({"name": "db-eu-1"}),
        ),
        409,
        "conflict",
        Some("name"),
    )
    .await;
    // A runner token is not an API token, nor an API token a runner's.
    refused(
        app.get("/api/v1/incidents", &prod),
        401,
        "unauthorized",
        None,
    )
    .await;
    refused(claim(&app, &app.admin.token), 401, "unauthorized", None).await;

    let iid = incident(&app).await;
    let id = start(&app, &iid).await;
    assert_eq!(run(&app, &id).await["steps"][0]["state"], "queued");
    // Not enabled yet: nothing for anyone.
    let none = claim(&app, &prod).send().await.unwrap();
    assert_eq!(none.status().as_u16(), 204);
    for runner in ["db-eu-1", "db-staging"] {
        ok(
            app.post(
                &format!("/api/v1/runners/{runner}/enabled"),
                &app.admin.token,
                &json!({"runbook": "restart-api"}),
            ),
            201,
        )
        .await;
    }
    // Enabled for both, but labelled for the prod one only.
    assert_eq!(
        claim(&app, &staging)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        204
    );
    let a = ok(claim(&app, &prod), 200).await;
    assert_eq!(a["run_id"], id.as_str());
    assert_eq!(a["step"], 0);
    let number = ok(
        app.get(&format!("/api/v1/incidents/{iid}"), &app.admin.token),
        200,
    )
    .await["number"]
        .to_string();
    assert_eq!(a["argv"], json!(["systemctl", "restart", number]));
    assert_eq!(a["env"], json!([["TOKEN", "s3cr3t-value"]]));
    let digest = a["digest"].as_str().unwrap();
    assert_eq!(
        digest,
        klaxon_server::shared::crypto::hex(&klaxon_server::shared::crypto::sha256(
            a["source"].as_str().unwrap().as_bytes()
        ))
    );
    let r = run(&app, &id).await;
    assert_eq!(r["steps"][0]["state"], "running");
    assert_eq!(r["steps"][0]["attempts"], 1);
    // Handed out once.
    assert_eq!(
        claim(&app, &prod).send().await.unwrap().status().as_u16(),
        204
    );

    // Another runner cannot report on it; the holder does, and the run moves on.
    let at = format!("/api/v1/runner/runs/{id}/steps/0");
    refused(
        app.post(&format!("{at}/report"), &staging, &json!({"exit_code": 0})),
        409,
        "conflict",
        None,
    )
    .await;
    ok(app.post(&format!("{at}/renew"), &prod, &json!({})), 204).await;
    let resp = app
        .post(
            &format!("{at}/report"),
            &prod,
            &json!({"exit_code": 0, "output": "restarted with s3cr3t-value\n"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    let r = run(&app, &id).await;
    assert_eq!(r["steps"][0]["state"], "succeeded", "{r}");
    assert_eq!(r["steps"][0]["output"], "restarted with ••••\n");
    assert_eq!(r["steps"][0]["detail"]["exit_code"], 0);
    assert_eq!(r["steps"][0]["detail"]["runner"], "db-eu-1");
    assert_eq!(r["steps"][1]["state"], "waiting");
    // Reported once: a second report is refused.
    refused(
        app.post(&format!("{at}/report"), &prod, &json!({"exit_code": 0})),
        409,
        "conflict",
        None,
    )
    .await;

    // A failing command fails the step; the timeline says who ran what.
    let id2 = start(&app, &iid).await;
    let a = ok(claim(&app, &prod), 200).await;
    assert_eq!(a["run_id"], id2.as_str());
    let at2 = format!("/api/v1/runner/runs/{id2}/steps/0");
    ok(
        app.post(
            &format!("{at2}/report"),
            &prod,
            &json!({"exit_code": 3, "output": "no"}),
        ),
        204,
    )
    .await;
    let r = run(&app, &id2).await;
    assert_eq!(
        (r["state"].as_str(), r["steps"][0]["state"].as_str()),
        (Some("stopped"), Some("failed"))
    );
    let events = ok(
        app.get(
            &format!("/api/v1/incidents/{iid}/timeline"),
            &app.admin.token,
        ),
        200,
    )
    .await;
    let kinds: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["data"]["run_id"] == id2.as_str())
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["run.started", "run.step_began", "run.step_failed"]);

    // A new version is not enabled until an admin says so.
    ok(
        put(&app, "/api/v1/runbooks/restart-api", &app.admin.token)
            .json(&json!({"source": DEPLOY.replace("Check the graphs.", "Check the logs."), "message": "logs"})),
        200,
    )
    .await;
    start(&app, &iid).await;
    assert_eq!(
        claim(&app, &prod).send().await.unwrap().status().as_u16(),
        204
    );
    let list = ok(app.get("/api/v1/runners", &app.admin.token), 200).await;
    let mine = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == prod_id.as_str())
        .unwrap();
    assert_eq!(mine["enabled"][0]["version"], 1);
    assert!(mine["last_seen_at"].is_string());
    refused(
        app.get("/api/v1/runners", &responder),
        403,
        "forbidden",
        None,
    )
    .await;

    // Every registration and grant is on the audit log; the token is stored as a digest.
    let audit = ok(
        app.get(
            &format!("/api/v1/events?subject_type=runner&subject_id={prod_id}"),
            &app.admin.token,
        ),
        200,
    )
    .await;
    let kinds: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["runner.registered", "runner.granted"]);
    assert!(!audit.to_string().contains(prod.as_str()));
    app.stop().await;
}

async fn a_silent_runner_leaves_its_step_unknown_and_an_abort_stops_it(b: Backend) {
    let Some(app) = spawn(b).await else {
        return;
    };
    setup(&app).await;
    let (_, prod) = register(&app, "db-eu-1", &["env=prod"]).await;
    ok(
        app.post(
            "/api/v1/runners/db-eu-1/enabled",
            &app.admin.token,
            &json!({"runbook": "restart-api", "version": 1}),
        ),
        201,
    )
    .await;
    let iid = incident(&app).await;
    let id = start(&app, &iid).await;
    ok(claim(&app, &prod), 200).await;
    let at = format!("/api/v1/runner/runs/{id}/steps/0");
    // Renewed in time: still held after the first lease would have run out.
    let later = |mins: i64| {
        let now = klaxon_domain::Clock::now(&app.clock);
        app.clock
            .set(now + jiff::SignedDuration::from_secs(mins * 60));
    };
    later(0);
    ok(app.post(&format!("{at}/renew"), &prod, &json!({})), 204).await;
    app.state.engine.tick().await.unwrap();
    assert_eq!(run(&app, &id).await["steps"][0]["state"], "running");
    // Then silence: once the hold runs out the step is "outcome unknown", never handed out again.
    later(2);
    app.state.engine.tick().await.unwrap();
    let r = run(&app, &id).await;
    assert_eq!(
        (r["state"].as_str(), r["steps"][0]["state"].as_str()),
        (Some("stopped"), Some("unknown")),
        "{r}"
    );
    assert_eq!(
        claim(&app, &prod).send().await.unwrap().status().as_u16(),
        204
    );
    refused(
        app.post(&format!("{at}/renew"), &prod, &json!({})),
        409,
        "conflict",
        None,
    )
    .await;

    // Retried by a person, taken again; aborted meanwhile, the runner's renewal says stop.
    ok(
        app.post(
            &format!("/api/v1/runs/{id}/moves"),
            &app.admin.token,
            &json!({"move": "retry"}),
        ),
        200,
    )
    .await;
    let a = ok(claim(&app, &prod), 200).await;
    assert_eq!(a["run_id"], id.as_str());
    assert_eq!(run(&app, &id).await["steps"][0]["attempts"], 2);
    ok(
        app.post(
            &format!("/api/v1/runs/{id}/moves"),
            &app.admin.token,
            &json!({"move": "abort"}),
        ),
        200,
    )
    .await;
    refused(
        app.post(&format!("{at}/renew"), &prod, &json!({})),
        409,
        "conflict",
        None,
    )
    .await;
    // The runner stops the command and says so: the step records how it ended.
    ok(
        app.post(
            &format!("{at}/report"),
            &prod,
            &json!({"error": "stopped: the step was aborted on the server"}),
        ),
        204,
    )
    .await;
    let r = run(&app, &id).await;
    assert_eq!(
        (r["state"].as_str(), r["steps"][0]["state"].as_str()),
        (Some("aborted"), Some("failed")),
        "{r}"
    );
    // A removed runner's token stops working.
    ok(
        delete(&app, "/api/v1/runners/db-eu-1", &app.admin.token),
        204,
    )
    .await;
    refused(claim(&app, &prod), 401, "unauthorized", None).await;
    app.stop().await;
}

/// The `/runners` page (admins): a refusal beside its field with the input kept, the token shown
/// once on registering, a version enabled and disabled, a runner removed; others are refused.
async fn the_runners_page_registers_enables_and_removes(b: Backend) {
    let Some(app) = spawn(b).await else {
        return;
    };
    setup(&app).await;
    let (cookie, csrf) = session_for(&app, &app.admin.email, &app.admin.password).await;
    let (status, _, html) = form(
        &app,
        &cookie,
        "/runners",
        &[("csrf", &csrf), ("name", "db eu"), ("labels", "env=prod")],
    )
    .await;
    assert_eq!(status, 400);
    beside(
        &html,
        "runner-name",
        "A runner&#39;s name is 1 to 64 letters, digits, -, _ or . (db-eu-1).",
    );
    assert!(html.contains(">env=prod</textarea>"), "the input is kept");
    let (status, _, html) = form(
        &app,
        &cookie,
        "/runners",
        &[
            ("csrf", &csrf),
            ("name", "DB-eu-1"),
            ("labels", "env=prod\nregion=eu"),
        ],
    )
    .await;
    assert_eq!(status, 201);
    let marker = "data-testid=\"runner-token\">";
    let i = at(&html, marker) + marker.len();
    let token = html[i..i + 69].to_owned();
    assert!(token.starts_with("klxr_"), "{token}");
    // The token works for the runner calls, once its version is enabled from the page.
    let runner = ok(app.get("/api/v1/runners", &app.admin.token), 200).await[0].clone();
    assert_eq!(runner["name"], "db-eu-1");
    assert_eq!(runner["labels"], json!({"env": "prod", "region": "eu"}));
    let id = runner["id"].as_str().unwrap().to_owned();
    let rb = ok(
        app.get("/api/v1/runbooks/restart-api", &app.admin.token),
        200,
    )
    .await;
    let rb_id = rb["id"].as_str().unwrap().to_owned();
    let (status, _, html) = form(
        &app,
        &cookie,
        &format!("/runners/{id}/enable"),
        &[("csrf", &csrf), ("runbook", &rb_id), ("version", "two")],
    )
    .await;
    assert_eq!(status, 400);
    beside(
        &html,
        &format!("v-{id}"),
        "A version is a whole number, or empty for the latest.",
    );
    let (status, location, _) = form(
        &app,
        &cookie,
        &format!("/runners/{id}/enable"),
        &[("csrf", &csrf), ("runbook", &rb_id), ("version", "")],
    )
    .await;
    assert_eq!((status, location.as_str()), (303, "/runners"));
    let iid = incident(&app).await;
    start(&app, &iid).await;
    ok(claim(&app, &token), 200).await;
    let page = app
        .http
        .get(format!("{}/runners", app.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("restart-api version 1"), "{page}");
    let (status, _, _) = form(
        &app,
        &cookie,
        &format!("/runners/{id}/disable/{rb_id}/1"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(
        ok(app.get("/api/v1/runners", &app.admin.token), 200).await[0]["enabled"],
        json!([])
    );
    // Responders see no such page.
    member(&app, "rita@example.com", "Rita", "responder").await;
    let (rc, _) = session_for(&app, "rita@example.com", common::PASSWORD).await;
    let resp = app
        .http
        .get(format!("{}/runners", app.url))
        .header("cookie", &rc)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    let (status, _, _) = form(
        &app,
        &cookie,
        &format!("/runners/{id}/delete"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 303);
    refused(claim(&app, &token), 401, "unauthorized", None).await;
    app.stop().await;
}
