//! Runs of runbooks on incidents, on both backends: parameters checked and filled from the
//! incident; a manual step ticked, an approval blocking until the incident's commander (and
//! only they) approves, an HTTP step made by the engine against a local server with its answer
//! kept; a failed step retried; every move on the incident's timeline; an engine cut short
//! mid-request leaving the step "outcome unknown", never made twice; a request waiting on its
//! host holding no page back; the run's page; and a run acted on from the incident's page,
//! coming back to it (and only to it).
use crate::common;
use crate::dashboard_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use serde_json::{Value, json};

on_both_backends!(
    a_run_waits_for_people_and_makes_its_request,
    a_failed_step_is_retried_and_a_lost_one_is_never_made_twice,
    bad_starts_are_refused,
    secrets_fill_steps_sealed_and_masked,
    pausing_holds_a_request_and_long_output_is_cut,
    a_waiting_request_holds_no_page_back,
    moves_made_on_the_incident_page_come_back_to_it,
);

/// A local server for HTTP steps: `/ok` answers 200 with a body naming what it got, `/flaky`
/// answers 500 the first time and 200 after, `/slow` never answers in time. Counts calls.
async fn target() -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let app = axum::Router::new()
        .route(
            "/ok/{host}",
            axum::routing::post({
                let c = c.clone();
                move |axum::extract::Path(host): axum::extract::Path<String>, body: String| {
                    c.fetch_add(1, Ordering::SeqCst);
                    async move { format!("drained {host}; got {body}") }
                }
            }),
        )
        .route(
            "/flaky",
            axum::routing::get({
                let c = c.clone();
                move || {
                    let n = c.fetch_add(1, Ordering::SeqCst);
                    async move {
                        if n == 0 {
                            (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "boom")
                        } else {
                            (axum::http::StatusCode::OK, "fine")
                        }
                    }
                }
            }),
        )
        .route(
            "/big",
            axum::routing::get({
                let c = c.clone();
                move || {
                    c.fetch_add(1, Ordering::SeqCst);
                    async { "x".repeat(1000) }
                }
            }),
        )
        .route(
            "/echo",
            axum::routing::get(|headers: axum::http::HeaderMap| async move {
                format!(
                    "you sent {}",
                    headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("nothing")
                )
            }),
        )
        .route(
            "/slow",
            axum::routing::get(move || {
                c.fetch_add(1, Ordering::SeqCst);
                async {
                    tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                    "late"
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, calls)
}

async fn spawn(b: Backend) -> Option<TestApp> {
    TestApp::spawn_with(b, |s| s.outgoing.allow = vec!["127.0.0.0/8".into()]).await
}

async fn runbook(app: &TestApp, source: &str) {
    ok(
        app.post(
            "/api/v1/runbooks",
            &app.admin.token,
            &json!({"source": source}),
        ),
        201,
    )
    .await;
}

async fn incident(app: &TestApp) -> String {
    let i = ok(
        app.post(
            "/api/v1/incidents",
            &app.admin.token,
            &json!({"title": "Checkout is down", "severity": "SEV2"}),
        ),
        201,
    )
    .await;
    i["id"].as_str().unwrap().to_owned()
}

/// Starts the runbook `name` on the incident as the admin, without parameters: the run's id.
async fn start_run(app: &TestApp, iid: &str, name: &str) -> String {
    let r = ok(
        app.post(
            &format!("/api/v1/incidents/{iid}/runs"),
            &app.admin.token,
            &json!({"runbook": name}),
        ),
        201,
    )
    .await;
    r["id"].as_str().unwrap().to_owned()
}

async fn tick(app: &TestApp) {
    app.state.engine.tick().await.unwrap();
}

async fn run(app: &TestApp, id: &str) -> Value {
    ok(
        app.get(&format!("/api/v1/runs/{id}"), &app.admin.token),
        200,
    )
    .await
}

fn states(r: &Value) -> Vec<String> {
    r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["state"].as_str().unwrap().to_owned())
        .collect()
}

fn act(app: &TestApp, id: &str, token: &str, mv: &str, note: &str) -> reqwest::RequestBuilder {
    app.post(
        &format!("/api/v1/runs/{id}/moves"),
        token,
        &json!({"move": mv, "note": note}),
    )
}

async fn a_run_waits_for_people_and_makes_its_request(b: Backend) {
    let Some(app) = spawn(b).await else {
        return;
    };
    let (url, calls) = target().await;
    runbook(
        &app,
        &format!(
            "---\nname: drain\nparams:\n  - name: host\n  - name: count\n    type: integer\n    default: 2\n---\n# Drain a host\n\n## Look\nCheck the graphs.\n\n## Approve\n```klaxon-approval\nrole: commander\n```\n\n## Drain\n```klaxon-http\nmethod: POST\nurl: \"{url}/ok/{{{{ params.host }}}}\"\nbody: \"incident {{{{ incident.number }}}}, count {{{{ params.count }}}}\"\n```\n"
        ),
    )
    .await;
    let iid = incident(&app).await;
    let cora = member(&app, "cora@example.com", "Cora", "responder").await;
    let rex = member(&app, "rex@example.com", "Rex", "responder").await;
    ok(
        app.post(
            &format!("/api/v1/incidents/{iid}/roles"),
            &app.admin.token,
            &json!({"role": "commander", "user_id": cora.id}),
        ),
        201,
    )
    .await;
    let started = ok(
        app.post(
            &format!("/api/v1/incidents/{iid}/runs"),
            &rex.token,
            &json!({"runbook": "drain", "params": {"host": "web-1"}}),
        ),
        201,
    )
    .await;
    let id = started["id"].as_str().unwrap().to_owned();
    assert_eq!(started["params"], json!({"host": "web-1", "count": "2"}));
    assert_eq!(states(&started), ["waiting", "pending", "pending"]);
    // Nothing happens by itself at a manual step.
    tick(&app).await;
    assert_eq!(
        states(&run(&app, &id).await),
        ["waiting", "pending", "pending"]
    );
    // An approval is not a tick.
    refused(
        act(&app, &id, &rex.token, "approve", ""),
        409,
        "conflict",
        None,
    )
    .await;
    ok(
        act(&app, &id, &rex.token, "complete", "graphs look bad"),
        200,
    )
    .await;
    // Only the incident's commander approves.
    let e = refused(
        act(&app, &id, &rex.token, "approve", ""),
        403,
        "forbidden",
        None,
    )
    .await;
    assert!(e["message"].as_str().unwrap().contains("commander"), "{e}");
    tick(&app).await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "no request before the approval"
    );
    let r = ok(act(&app, &id, &cora.token, "approve", "go"), 200).await;
    assert_eq!(states(&r), ["succeeded", "succeeded", "queued"]);
    tick(&app).await;
    let r = run(&app, &id).await;
    assert_eq!(r["state"], "succeeded", "{r}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let drain = &r["steps"][2];
    assert_eq!(drain["output"], "drained web-1; got incident 1, count 2");
    assert_eq!(drain["detail"]["status"], 200);
    assert_eq!(drain["attempts"], 1);
    // Ticking again makes nothing twice.
    tick(&app).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    refused(
        act(&app, &id, &rex.token, "abort", ""),
        409,
        "conflict",
        None,
    )
    .await;

    // The timeline tells it, in order.
    let tl = ok(
        app.get(
            &format!("/api/v1/incidents/{iid}/timeline?kind=run."),
            &app.admin.token,
        ),
        200,
    )
    .await;
    let kinds: Vec<&str> = tl["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "run.started",
            "run.step_completed",
            "run.step_approved",
            "run.step_began",
            "run.step_succeeded",
            "run.succeeded"
        ],
        "{tl}"
    );
    let listed = ok(
        app.get(&format!("/api/v1/incidents/{iid}/runs"), &app.admin.token),
        200,
    )
    .await;
    assert_eq!(listed[0]["state"], "succeeded");

    // The run's page shows each step and its output.
    let page = web_get(&app, &format!("/incidents/{iid}/runs/{id}")).await;
    assert!(page.contains("drained web-1"), "{page}");
    assert!(page.contains("Note: graphs look bad"), "{page}");
    assert!(page.contains("HTTP 200"), "{page}");
    app.stop().await;
}

async fn a_failed_step_is_retried_and_a_lost_one_is_never_made_twice(b: Backend) {
    let Some(app) = spawn(b).await else {
        return;
    };
    let (url, calls) = target().await;
    runbook(
        &app,
        &format!("---\nname: flaky\n---\n## Call\n```klaxon-http\nurl: {url}/flaky\n```\n"),
    )
    .await;
    let iid = incident(&app).await;
    let id = start_run(&app, &iid, "flaky").await;
    tick(&app).await;
    let r = run(&app, &id).await;
    assert_eq!(
        (r["state"].as_str(), states(&r)),
        (Some("stopped"), vec!["failed".to_owned()])
    );
    assert_eq!(r["steps"][0]["output"], "boom");
    // Stopped: not made again by itself.
    tick(&app).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    ok(act(&app, &id, &app.admin.token, "retry", ""), 200).await;
    tick(&app).await;
    let r = run(&app, &id).await;
    assert_eq!(r["state"], "succeeded", "{r}");
    assert_eq!(r["steps"][0]["attempts"], 2);
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    // An engine stopped mid-request (a crash, a restart): once its lease runs out the step is
    // "outcome unknown", and the request is not made again.
    calls.store(0, Ordering::SeqCst);
    runbook(
        &app,
        &format!(
            "---\nname: slow\n---\n## Call\n```klaxon-http\nurl: {url}/slow\ntimeout: 30\n```\n"
        ),
    )
    .await;
    let slow = start_run(&app, &iid, "slow").await;
    let cut_short = tokio::time::timeout(
        std::time::Duration::from_millis(500),
        app.state.engine.tick(),
    )
    .await;
    assert!(cut_short.is_err(), "the request hangs");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(states(&run(&app, &slow).await), ["running"]);
    later(&app, 30);
    tick(&app).await;
    let r = run(&app, &slow).await;
    assert_eq!(
        (r["state"].as_str(), states(&r)),
        (Some("stopped"), vec!["unknown".to_owned()])
    );
    tick(&app).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1, "never made twice");
    // Someone who knows it did not happen skips it, or aborts.
    ok(
        act(&app, &slow, &app.admin.token, "abort", "done by hand"),
        200,
    )
    .await;
    assert_eq!(run(&app, &slow).await["state"], "aborted");
    app.stop().await;
}

/// Moves the fake clock on by `minutes`.
fn later(app: &TestApp, minutes: i64) {
    let now = klaxon_domain::Clock::now(&app.clock);
    app.clock
        .set(now + jiff::SignedDuration::from_mins(minutes));
}

async fn bad_starts_are_refused(b: Backend) {
    let Some(app) = spawn(b).await else {
        return;
    };
    runbook(
        &app,
        "---\nname: p\nparams:\n  - name: count\n    type: integer\n  - name: env\n    type: choice\n    values: [staging, prod]\n    default: staging\n---\n## Look\n",
    )
    .await;
    let iid = incident(&app).await;
    let start =
        |token: &str, body: Value| app.post(&format!("/api/v1/incidents/{iid}/runs"), token, &body);
    let t = &app.admin.token;
    refused(
        start(t, json!({"runbook": "p"})),
        400,
        "invalid_field",
        Some("params.count"),
    )
    .await;
    refused(
        start(t, json!({"runbook": "p", "params": {"count": "two"}})),
        400,
        "invalid_field",
        Some("params.count"),
    )
    .await;
    refused(
        start(
            t,
            json!({"runbook": "p", "params": {"count": "2", "env": "dev"}}),
        ),
        400,
        "invalid_field",
        Some("params.env"),
    )
    .await;
    refused(
        start(
            t,
            json!({"runbook": "p", "params": {"count": "2", "colour": "red"}}),
        ),
        400,
        "invalid_field",
        Some("params.colour"),
    )
    .await;
    refused(
        start(t, json!({"runbook": "nope"})),
        400,
        "invalid_field",
        Some("runbook"),
    )
    .await;
    let viewer = member(&app, "vi@example.com", "Vi", "viewer").await;
    refused(
        start(
            &viewer.token,
            json!({"runbook": "p", "params": {"count": "2"}}),
        ),
        403,
        "forbidden",
        None,
    )
    .await;
    // Nothing half-written: no run.
    let runs = ok(app.get(&format!("/api/v1/incidents/{iid}/runs"), t), 200).await;
    assert_eq!(runs, json!([]));
    // The start form refuses beside the field, the values kept.
    let (cookie, csrf) = session_for(&app, &app.admin.email, &app.admin.password).await;
    let rb = ok(app.get("/api/v1/runbooks/p", t), 200).await;
    let rid = rb["id"].as_str().unwrap();
    // Not suggested (the incident has no service), it is offered beside the suggestions.
    let page = web_get_as(&app, &format!("/incidents/{iid}"), &cookie).await;
    assert!(
        page.contains("<label for=\"other-runbook\">Run a runbook</label>"),
        "{page}"
    );
    assert!(
        page.contains(&format!("<option value=\"{rid}\">")),
        "{page}"
    );
    let page = web_get_as(
        &app,
        &format!("/incidents/{iid}/runs/new?runbook={rid}"),
        &cookie,
    )
    .await;
    assert!(page.contains("id=\"param-count\""), "{page}");
    let (status, _, html) = form(
        &app,
        &cookie,
        &format!("/incidents/{iid}/runs"),
        &[
            ("csrf", &csrf),
            ("runbook", rid),
            ("param.count", "two"),
            ("param.env", "prod"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert!(html.contains("id=\"param-count-error\""), "{html}");
    assert!(html.contains("value=\"two\""), "{html}");
    let (status, location, _) = form(
        &app,
        &cookie,
        &format!("/incidents/{iid}/runs"),
        &[
            ("csrf", &csrf),
            ("runbook", rid),
            ("param.count", "3"),
            ("param.env", "prod"),
        ],
    )
    .await;
    assert_eq!(status, 303, "{location}");
    let page = web_get_as(&app, &location, &cookie).await;
    assert!(page.contains("id=\"move-complete\""), "{page}");
    app.stop().await;
}

async fn secrets_fill_steps_sealed_and_masked(b: Backend) {
    let key = "0f".repeat(32);
    let Some(app) = TestApp::spawn_with(b, |s| {
        s.outgoing.allow = vec!["127.0.0.0/8".into()];
        s.runbooks.secret_key = Some(key);
    })
    .await
    else {
        return;
    };
    let (url, _) = target().await;
    let t = &app.admin.token;
    let set = |name: &str, value: &str| {
        common::put(&app, &format!("/api/v1/secrets/{name}"), t).json(&json!({"value": value}))
    };
    ok(set("LB_TOKEN", "tok-3141592653"), 204).await;
    refused(set("lb-token", "x"), 400, "invalid_field", Some("name")).await;
    refused(set("EMPTY", ""), 400, "invalid_field", Some("value")).await;
    let responder = member(&app, "rita@example.com", "Rita", "responder").await;
    refused(
        app.get("/api/v1/secrets", &responder.token),
        403,
        "forbidden",
        None,
    )
    .await;
    // Whoever writes a step naming a secret decides where it goes: admins only.
    let e = refused(
        app.post(
            "/api/v1/runbooks",
            &responder.token,
            &json!({"source": "---\nname: steal\n---\n## Send\n```klaxon-http\nurl: https://x.example/\nheaders:\n  K: \"{{ secrets.LB_TOKEN }}\"\n```\n"}),
        ),
        403,
        "forbidden",
        None,
    )
    .await;
    assert!(e["message"].as_str().unwrap().contains("secrets"), "{e}");
    let listed = ok(app.get("/api/v1/secrets", t), 200).await;
    assert_eq!(listed[0]["name"], "LB_TOKEN");
    assert!(!listed.to_string().contains("tok-3141592653"), "{listed}");
    // Sealed at rest: the stored bytes do not hold the value.
    let sealed = app
        .state
        .store
        .sealed_secrets(&["LB_TOKEN".into()])
        .await
        .unwrap();
    assert!(!String::from_utf8_lossy(&sealed[0].1).contains("tok-3141592653"));

    runbook(
        &app,
        &format!(
            "---\nname: call\n---\n## Call\n```klaxon-http\nurl: {url}/echo\nheaders:\n  Authorization: \"Bearer {{{{ secrets.LB_TOKEN }}}}\"\n```\n"
        ),
    )
    .await;
    runbook(
        &app,
        &format!(
            "---\nname: missing\n---\n## Call\n```klaxon-http\nurl: {url}/echo\nheaders:\n  X-Key: \"{{{{ secrets.NOPE }}}}\"\n```\n"
        ),
    )
    .await;
    let iid = incident(&app).await;
    let start = |rb: &str| {
        app.post(
            &format!("/api/v1/incidents/{iid}/runs"),
            t,
            &json!({"runbook": rb}),
        )
    };
    let r = ok(start("call"), 201).await;
    let id = r["id"].as_str().unwrap().to_owned();
    tick(&app).await;
    let r = run(&app, &id).await;
    assert_eq!(r["state"], "succeeded", "{r}");
    // The server got the token; the run shows it masked.
    assert_eq!(r["steps"][0]["output"], "you sent Bearer ••••");
    let r = ok(start("missing"), 201).await;
    let id = r["id"].as_str().unwrap().to_owned();
    tick(&app).await;
    let r = run(&app, &id).await;
    assert_eq!(r["state"], "stopped", "{r}");
    let why = r["steps"][0]["detail"]["error"].as_str().unwrap();
    assert!(why.contains("secrets.NOPE"), "{why}");
    // Every change is in the audit log, without the value.
    let events = ok(
        app.get("/api/v1/events?subject_type=system&subject_id=secrets", t),
        200,
    )
    .await;
    assert_eq!(events["items"][0]["kind"], "secret.set");
    assert!(!events.to_string().contains("tok-3141592653"));
    ok(delete(&app, "/api/v1/secrets/LB_TOKEN", t), 204).await;
    refused(
        delete(&app, "/api/v1/secrets/LB_TOKEN", t),
        404,
        "not_found",
        None,
    )
    .await;
    app.stop().await;

    // Without a key the store is off: nothing can be set.
    let Some(app) = spawn(b).await else {
        return;
    };
    let e = refused(
        common::put(&app, "/api/v1/secrets/X", &app.admin.token).json(&json!({"value": "v"})),
        409,
        "conflict",
        None,
    )
    .await;
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("runbooks.secret_key"),
        "{e}"
    );
    app.stop().await;
}

async fn pausing_holds_a_request_and_long_output_is_cut(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, |s| {
        s.outgoing.allow = vec!["127.0.0.0/8".into()];
        s.runbooks.output_shown_bytes = 256;
    })
    .await
    else {
        return;
    };
    let (url, calls) = target().await;
    runbook(
        &app,
        &format!("---\nname: big\n---\n## Fetch\n```klaxon-http\nurl: {url}/big\n```\n"),
    )
    .await;
    let iid = incident(&app).await;
    let t = &app.admin.token;
    let id = start_run(&app, &iid, "big").await;
    // Paused before the engine came round: the queued request waits.
    ok(act(&app, &id, t, "pause", "not yet"), 200).await;
    tick(&app).await;
    let r = run(&app, &id).await;
    assert_eq!(
        (r["state"].as_str(), states(&r)),
        (Some("paused"), vec!["queued".to_owned()])
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    refused(act(&app, &id, t, "pause", ""), 409, "conflict", None).await;
    ok(act(&app, &id, t, "resume", ""), 200).await;
    tick(&app).await;
    let r = run(&app, &id).await;
    assert_eq!(r["state"], "succeeded", "{r}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // Cut at the configured size on the run; whole through the API and the page's link.
    let step = &r["steps"][0];
    assert_eq!(
        (step["output"].as_str().unwrap().len(), &step["truncated"]),
        (256, &json!(true))
    );
    let whole = app
        .get(&format!("/api/v1/runs/{id}/steps/0/output"), t)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(whole.len(), 1000);
    let page = web_get(&app, &format!("/incidents/{iid}/runs/{id}")).await;
    let link = format!("/incidents/{iid}/runs/{id}/steps/0/output");
    assert!(page.contains(&link), "{page}");
    assert_eq!(web_get(&app, &link).await.len(), 1000);
    app.stop().await;
}

/// A request waiting on its host holds no page back: the engine's slow lane makes it while
/// the paging lane runs an escalation step that fell due meanwhile.
async fn a_waiting_request_holds_no_page_back(b: Backend) {
    let Some(app) = spawn(b).await else {
        return;
    };
    let arrived = Arc::new(tokio::sync::Notify::new());
    let release = Arc::new(tokio::sync::Notify::new());
    let held = axum::Router::new().route(
        "/hold",
        axum::routing::get({
            let (arrived, release) = (arrived.clone(), release.clone());
            move || async move {
                arrived.notify_one();
                release.notified().await;
                "done"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, held).await.unwrap() });
    runbook(
        &app,
        &format!(
            "---\nname: hold\n---\n## Call\n```klaxon-http\nurl: {url}/hold\ntimeout: 30\n```\n"
        ),
    )
    .await;
    let iid = incident(&app).await;
    let id = start_run(&app, &iid, "hold").await;
    // The paging lane leaves the request to the slow lane.
    let paging = app.state.engine.tick_paging().await.unwrap();
    assert!(paging.completed.is_empty(), "{paging:?}");
    assert_eq!(run(&app, &id).await["steps"][0]["state"], "queued");
    let engine = app.state.engine.clone();
    let slow = tokio::spawn(async move { engine.tick_slow().await.unwrap() });
    arrived.notified().await;

    // Meanwhile an incident on a paged service: its first escalation step is due now.
    let who = member(&app, "oncall@example.com", "On Call", "responder").await;
    let service = dashboard_support::paged_service(&app, &who.id).await;
    ok(
        app.post(
            "/api/v1/incidents",
            &app.admin.token,
            &json!({"title": "Payments fail", "severity": "SEV1", "service_id": service}),
        ),
        201,
    )
    .await;
    let paging = app.state.engine.tick_paging().await.unwrap();
    assert!(
        paging.completed.iter().any(|k| k == "escalation.step"),
        "{paging:?}"
    );
    assert!(
        !paging.completed.iter().any(|k| k == "run.http"),
        "{paging:?}"
    );
    assert_eq!(run(&app, &id).await["steps"][0]["state"], "running");

    release.notify_one();
    let done = slow.await.unwrap();
    assert_eq!(done.completed, ["run.http"]);
    let r = run(&app, &id).await;
    assert_eq!(
        (r["state"].as_str(), r["steps"][0]["output"].as_str()),
        (Some("succeeded"), Some("done"))
    );
    app.stop().await;
}

/// A run not over shows on its incident's page with its moves; a move made there comes back
/// to that page (at the run), never elsewhere; a refusal shows beside the field on the run's
/// page, which keeps the way back; the approval's buttons are its approver's alone.
async fn moves_made_on_the_incident_page_come_back_to_it(b: Backend) {
    let Some(app) = spawn(b).await else {
        return;
    };
    runbook(
        &app,
        "---\nname: check\n---\n# Check the site\n\n## Look\nCheck the graphs.\n\n## Approve\n```klaxon-approval\nrole: commander\n```\n\n## Tell\nTell support.\n",
    )
    .await;
    let iid = incident(&app).await;
    let other = incident(&app).await;
    let cora = member(&app, "cora@example.com", "Cora", "responder").await;
    member(&app, "rex@example.com", "Rex", "responder").await;
    ok(
        app.post(
            &format!("/api/v1/incidents/{iid}/roles"),
            &app.admin.token,
            &json!({"role": "commander", "user_id": cora.id}),
        ),
        201,
    )
    .await;
    let id = start_run(&app, &iid, "check").await;
    let (rex, rex_csrf) = session_for(&app, "rex@example.com", PASSWORD).await;
    let (cora_cookie, cora_csrf) = session_for(&app, "cora@example.com", PASSWORD).await;
    let page_path = format!("/incidents/{iid}");
    let moves = format!("/incidents/{iid}/runs/{id}/moves");
    let run_page = format!("/incidents/{iid}/runs/{id}");

    let page = web_get_as(&app, &page_path, &rex).await;
    assert!(page.contains(&format!("id=\"run-{id}\"")), "{page}");
    assert!(page.contains("data-testid=\"live-run\""), "{page}");
    assert!(
        page.contains(&format!(
            "<input type=\"hidden\" name=\"back\" value=\"{page_path}\">"
        )),
        "{page}"
    );
    assert!(
        page.contains(&format!("<label for=\"run-{id}-note\">")),
        "{page}"
    );
    assert!(
        page.contains(&format!("id=\"run-{id}-move-complete\"")),
        "{page}"
    );
    assert!(page.contains("Waiting for someone to do it"), "{page}");
    assert!(
        !page.contains("id=\"runs\""),
        "no finished runs yet: {page}"
    );

    // Refused (a note too long): the run's page, the reason beside the note, the way back kept.
    let long = "x".repeat(2001);
    let (status, _, html) = form(
        &app,
        &rex,
        &moves,
        &[
            ("csrf", &rex_csrf),
            ("move", "complete"),
            ("note", &long),
            ("back", &page_path),
        ],
    )
    .await;
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("id=\"run-note-error\""), "{html}");
    assert!(html.contains("aria-invalid=\"true\""), "{html}");
    assert!(
        html.contains(&format!("name=\"back\" value=\"{page_path}\"")),
        "{html}"
    );

    // Done: back on the incident's page, at the run.
    let (status, location, _) = form(
        &app,
        &rex,
        &moves,
        &[
            ("csrf", &rex_csrf),
            ("move", "complete"),
            ("note", "graphs bad"),
            ("back", &page_path),
        ],
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (303, format!("{page_path}#run-{id}").as_str())
    );
    assert_eq!(
        states(&run(&app, &id).await),
        ["succeeded", "awaiting_approval", "pending"]
    );

    // Rex is not the commander: no approval buttons for him, and refused if he tries anyway.
    let page = web_get_as(&app, &page_path, &rex).await;
    assert!(page.contains("Waiting for approval"), "{page}");
    assert!(page.contains("Note: graphs bad"), "{page}");
    assert!(
        page.contains("data-testid=\"approval-not-yours\""),
        "{page}"
    );
    for mv in ["approve", "reject", "skip"] {
        assert!(
            !page.contains(&format!("id=\"run-{id}-move-{mv}\"")),
            "{mv}: {page}"
        );
    }
    assert!(
        page.contains(&format!("id=\"run-{id}-move-abort\"")),
        "{page}"
    );
    let (status, _, html) = form(
        &app,
        &rex,
        &moves,
        &[
            ("csrf", &rex_csrf),
            ("move", "approve"),
            ("back", &page_path),
        ],
    )
    .await;
    assert_eq!(status, 403, "{html}");
    assert!(html.contains("id=\"run-error\""), "{html}");
    assert!(html.contains("commander"), "{html}");

    // Cora is: she sees them. A way back anywhere but this incident's page is ignored.
    let page = web_get_as(&app, &page_path, &cora_cookie).await;
    assert!(
        page.contains(&format!("id=\"run-{id}-move-approve\"")),
        "{page}"
    );
    assert!(
        !page.contains("data-testid=\"approval-not-yours\""),
        "{page}"
    );
    for back in [
        "https://evil.example/".to_owned(),
        format!("//evil.example{page_path}"),
        format!("/incidents/{other}"),
    ] {
        let (status, location, _) = form(
            &app,
            &cora_cookie,
            &moves,
            &[("csrf", &cora_csrf), ("move", "pause"), ("back", &back)],
        )
        .await;
        assert_eq!(
            (status, location.as_str()),
            (303, run_page.as_str()),
            "{back}"
        );
        ok(act(&app, &id, &app.admin.token, "resume", ""), 200).await;
    }
    let (status, location, _) = form(
        &app,
        &cora_cookie,
        &moves,
        &[
            ("csrf", &cora_csrf),
            ("move", "approve"),
            ("note", "go"),
            ("back", &page_path),
        ],
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (303, format!("{page_path}#run-{id}").as_str())
    );
    let page = web_get_as(&app, &page_path, &cora_cookie).await;
    assert!(
        page.contains(&format!("id=\"run-{id}-move-complete\"")),
        "{page}"
    );
    assert!(page.contains("Note: go"), "{page}");

    // Over: a link in the list, no longer inline.
    let (status, location, _) = form(
        &app,
        &cora_cookie,
        &moves,
        &[
            ("csrf", &cora_csrf),
            ("move", "complete"),
            ("back", &page_path),
        ],
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (303, format!("{page_path}#run-{id}").as_str())
    );
    assert_eq!(run(&app, &id).await["state"], "succeeded");
    let page = web_get_as(&app, &page_path, &cora_cookie).await;
    assert!(!page.contains("data-testid=\"live-run\""), "{page}");
    assert!(
        page.contains(&format!("<a href=\"{run_page}\">Check the site</a>")),
        "{page}"
    );
    app.stop().await;
}
