//! Every page, in a real browser: at 390×844 nothing scrolls sideways, and axe-core finds no
//! serious or critical accessibility violation, in the light and the dark colour scheme, at
//! phone and desktop widths. axe-core comes from npm (scripts/test.sh installs it and sets
//! KLAXON_TEST_AXE to its `axe.min.js`); it is injected into each page. Never skipped.
use crate::browser_support;
use crate::common;

use browser_support::{Driver, Session, axe_source, problems};
use common::{Backend, TestApp, member, ok};
use serde_json::{Value, json};

/// Data behind every kind of page, made through the API: (path, what it shows).
/// The app the sweeps look at: with a public address, so status pages take sign-ups.
async fn spawn() -> TestApp {
    TestApp::spawn_with(Backend::Sqlite, |s| {
        s.server.public_url = Some("http://klaxon.test".into());
    })
    .await
    .unwrap()
}

async fn seed(app: &TestApp) -> Vec<(String, &'static str)> {
    let admin = &app.admin.token;
    let bob = member(app, "bob@example.com", "Bob Builder", "responder").await;
    let schedule = ok(
        app.post(
            "/api/v1/schedules",
            admin,
            &json!({"name": "Primary", "time_zone": "Europe/Berlin", "layers": [
                {"name": "Weekly", "start": "2026-11-16T09:00", "users": [bob.id],
                 "turn": {"count": 1, "unit": "weeks"}}]}),
        ),
        201,
    )
    .await;
    let schedule_id = schedule["id"].as_str().unwrap().to_owned();
    // An override, so the schedule page shows its row and the confirmed removal.
    ok(
        app.post(
            &format!("/api/v1/schedules/{schedule_id}/overrides"),
            admin,
            &json!({"user_id": bob.id, "start": "2026-11-22T09:00:00Z", "end": "2026-11-22T17:00:00Z"}),
        ),
        201,
    )
    .await;
    let policy = ok(
        app.post(
            "/api/v1/escalation-policies",
            admin,
            &json!({"name": "Payments on call", "repeat": 1, "levels": [
                {"delay_minutes": 5, "targets": [{"type": "schedule", "id": schedule_id}]},
                {"delay_minutes": 10, "targets": [{"type": "user", "id": bob.id}]}]}),
        ),
        201,
    )
    .await;
    let policy_id = policy["id"].as_str().unwrap().to_owned();
    let service = ok(
        app.post(
            "/api/v1/services",
            admin,
            &json!({"name": "Payments API", "description": "Takes the money",
                    "escalation_policy_id": policy_id}),
        ),
        201,
    )
    .await;
    let service_id = service["id"].as_str().unwrap().to_owned();
    let integration = ok(
        app.post(
            &format!("/api/v1/services/{service_id}/integrations"),
            admin,
            &json!({"name": "Events", "kind": "events_v2"}),
        ),
        201,
    )
    .await;
    let key = integration["key"].as_str().unwrap();
    let r = app
        .http
        .post(format!("{}/v2/enqueue", app.url))
        .json(&json!({"routing_key": key, "event_action": "trigger", "dedup_key": "db-1",
            "payload": {"summary": "Database latency above 2 s on a-very-long-host-name-without-breaks.example.com",
                        "source": "db-1", "severity": "critical",
                        "custom_details": {"p99_ms": 2450, "query": "SELECT * FROM payments WHERE id = $1"}},
            "links": [{"href": "https://grafana.example.com/d/db", "text": "Dashboard"}],
            "client": "Prometheus", "client_url": "https://prometheus.example.com/graph"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    let alerts = ok(app.get("/api/v1/alerts", admin), 200).await;
    let alert_id = alerts["items"][0]["id"].as_str().unwrap().to_owned();
    let incident = ok(
        app.post(
            "/api/v1/incidents",
            admin,
            &json!({"title": "Checkout fails for some cards", "severity": "SEV2",
                    "description": "Customers see a generic error.", "service_id": service_id}),
        ),
        201,
    )
    .await;
    let incident_id = incident["id"].as_str().unwrap().to_owned();
    let action_item = ok(
        app.post(
            "/api/v1/action-items",
            admin,
            &json!({"incident": incident_id, "title": "Alert on card processor errors",
                    "owner": app.admin.email, "kind": "detect", "priority": true,
                    "tracker_url": "https://tracker.example.com/OPS-1"}),
        ),
        201,
    )
    .await;
    let action_item_id = action_item["id"].as_str().unwrap().to_owned();
    ok(
        app.post(
            &format!("/api/v1/incidents/{incident_id}/notes"),
            admin,
            &json!({"text": "Looking at the card processor's status page."}),
        ),
        201,
    )
    .await;
    let webhook = ok(
        app.post(
            "/api/v1/webhooks",
            admin,
            &json!({"name": "Chat bridge", "url": "http://127.0.0.1:9/hook", "events": ["incident.declared"]}),
        ),
        201,
    )
    .await;
    let webhook_id = webhook["id"].as_str().unwrap();
    // A check that fails (nothing listens on port 9), run once: results and a red day.
    let site = ok(
        app.post("/api/v1/services", admin, &json!({"name": "Website"})),
        201,
    )
    .await;
    let check = ok(
        app.post(
            "/api/v1/checks",
            admin,
            &json!({"name": "Homepage", "service": site["id"], "url": "http://127.0.0.1:9/health",
                    "failure_threshold": 1,
                    "conditions": ["[STATUS] == 200", "[BODY].status == UP", "[RESPONSE_TIME] < 2s"]}),
        ),
        201,
    )
    .await;
    let check_id = check["id"].as_str().unwrap().to_owned();
    // An SLO on the website, fed three hours of counts that end in a burst: its budget is
    // spent and its fast rule fires once the engine ticks below.
    let slo = ok(
        app.post(
            "/api/v1/slos",
            admin,
            &json!({"service": "Website", "name": "Homepage answers", "objective": 99.9,
                    "window": "30d", "sli": {"kind": "pushed"}}),
        ),
        201,
    )
    .await;
    let slo_id = slo["id"].as_str().unwrap().to_owned();
    let up = ok(
        app.post(
            "/api/v1/slos",
            admin,
            &json!({"service": "Website", "name": "Homepage up", "objective": 99.9,
                    "window": "30d", "sli": {"kind": "availability", "check": check_id}}),
        ),
        201,
    )
    .await;
    let up_id = up["id"].as_str().unwrap().to_owned();
    // A runbook of every kind of step, in two versions: its page, editor, history and diff.
    let runbook = |step: &str| {
        format!(
            "---\nname: restart-website\nservices: [Website]\nparams:\n  - name: host\n    default: \"{{{{ alert.details.host }}}}\"\n---\n# Restart the website\n\nWhen the homepage hangs: **check first**.\n\n## Look at the graphs\n- [ ] error rate\n- [ ] latency\n\n## Approve\n```klaxon-approval\nrole: commander\n```\n\n{step}"
        )
    };
    let rb = ok(
        app.post(
            "/api/v1/runbooks",
            admin,
            &json!({"source": runbook("## Drain\n```klaxon-http\nmethod: POST\nurl: \"https://lb.example.com/drain/{{ params.host }}\"\n```\n")}),
        ),
        201,
    )
    .await;
    let runbook_id = rb["runbook"]["id"].as_str().unwrap().to_owned();
    ok(
        common::put(app, &format!("/api/v1/runbooks/{runbook_id}"), admin).json(&json!({
            "source": runbook("## Restart nginx\n```klaxon-command\nrun: [systemctl, restart, \"nginx@{{ params.host }}\"]\nrunner: {env: prod}\n```\n"),
            "message": "restart through a runner"})),
        200,
    )
    .await;
    // A runner that may run its latest version: the runners page with its forms.
    ok(
        app.post(
            "/api/v1/runners",
            admin,
            &json!({"name": "web-eu-1", "labels": ["env=prod"]}),
        ),
        201,
    )
    .await;
    ok(
        app.post(
            "/api/v1/runners/web-eu-1/enabled",
            admin,
            &json!({"runbook": "restart-website"}),
        ),
        201,
    )
    .await;
    // A run of it on the incident, at its approval step: the run's page with its moves.
    let run = ok(
        app.post(
            &format!("/api/v1/incidents/{incident_id}/runs"),
            admin,
            &json!({"runbook": "restart-website", "params": {"host": "web-1"}}),
        ),
        201,
    )
    .await;
    let run_id = run["id"].as_str().unwrap().to_owned();
    ok(
        app.post(
            &format!("/api/v1/runs/{run_id}/moves"),
            admin,
            &json!({"move": "complete", "note": "graphs checked"}),
        ),
        200,
    )
    .await;
    let now = klaxon_domain::Clock::now(&app.clock);
    let counts: Vec<Value> = (1..=180)
        .map(|m| {
            let bad = if m <= 10 { 200 } else { 0 };
            json!({"at": now - jiff::SignedDuration::from_mins(m), "good": 1000 - bad, "total": 1000})
        })
        .collect();
    ok(
        app.post(
            &format!("/api/v1/slos/{slo_id}/counts"),
            admin,
            &json!({"counts": counts}),
        ),
        204,
    )
    .await;
    // A status page with a group, a component on the website, and a public incident told
    // from the incident: its admin pages, and the incident page's "Status page" panel.
    let status_page = ok(
        app.post(
            "/api/v1/status-pages",
            admin,
            &json!({"name": "Acme status", "slug": "acme"}),
        ),
        201,
    )
    .await;
    let status_page_id = status_page["id"].as_str().unwrap().to_owned();
    let components = format!("/api/v1/status-pages/{status_page_id}/components");
    ok(
        app.post(
            &components,
            admin,
            &json!({"name": "Core", "is_group": true}),
        ),
        201,
    )
    .await;
    ok(
        app.post(
            &components,
            admin,
            &json!({"name": "Homepage", "group": "Core", "services": [site["id"]],
                    "follow_checks": true}),
        ),
        201,
    )
    .await;
    let told = ok(
        app.post(
            &format!("/api/v1/status-pages/{status_page_id}/incidents"),
            admin,
            &json!({"name": "The homepage is slow", "impact": "minor",
                    "components": [{"component": "Homepage", "status": "degraded_performance"}]}),
        ),
        201,
    )
    .await;
    let told_code = told["code"].as_str().unwrap().to_owned();
    // A subscriber, and the signed link its e-mails carry.
    let sub = ok(
        app.post(
            &format!("/api/v1/status-pages/{status_page_id}/subscribers"),
            admin,
            &json!({"kind": "email", "address": "reader@example.com"}),
        ),
        201,
    )
    .await;
    let sub = app
        .state
        .store
        .subscriber(sub["id"].as_str().unwrap().parse().unwrap())
        .await
        .unwrap();
    let key = app
        .state
        .store
        .server_key(klaxon_server::status::subscribers::LINK_KEY)
        .await
        .unwrap();
    let links = klaxon_server::status::subscribers::links("/status/acme", &key, &sub);
    // A workflow that runs when an incident is resolved: it adds a task and calls a webhook
    // nobody answers, so its page and the resolved incidents' show a run with a failed action.
    ok(
        app.post(
            "/api/v1/workflows",
            admin,
            &json!({"name": "after-resolution", "description": "Reminds the team of the postmortem.",
                    "trigger": {"on": "status_changed"}, "conditions": {"status": ["resolved"]},
                    "actions": [{"add_tasks": ["Write the postmortem"]},
                                {"call_webhook": {"webhook": "Chat bridge"}, "stop_on_failure": true},
                                {"add_tasks": ["Tell support"]}]}),
        ),
        201,
    )
    .await;
    // Two postmortems: one being written (with factors and a comment), one published.
    let mut postmortems = Vec::new();
    let mut pm_public = String::new();
    for (title, publish) in [("Search is slow", false), ("Login errors", true)] {
        let i = ok(
            app.post(
                "/api/v1/incidents",
                admin,
                &json!({"title": title, "severity": "SEV2"}),
            ),
            201,
        )
        .await;
        let inc = i["id"].as_str().unwrap().to_owned();
        ok(
            app.post(
                &format!("/api/v1/incidents/{inc}/resolve"),
                admin,
                &json!({}),
            ),
            200,
        )
        .await;
        let pm = ok(
            app.post("/api/v1/postmortems", admin, &json!({"incident_id": inc})),
            201,
        )
        .await;
        let pm_id = pm["id"].as_str().unwrap().to_owned();
        let path = format!("/api/v1/postmortems/{pm_id}");
        let body = json!({
            "sections": {"summary": "A reindex slowed every query for an hour.\nNobody lost data."},
            "factors": [{"kind": "trigger", "text": "A full reindex at peak time."},
                        {"kind": "mitigating", "text": "The cache held the hottest queries."}],
            "reviewers": [bob.id.as_str()],
            "public_summary": "Searches were slow for an hour.\n\nWe now reindex at night."
        });
        ok(common::patch(app, &path, admin, &body), 200).await;
        ok(
            app.post(
                &format!("{path}/comments"),
                admin,
                &json!({"section": "summary", "body": "Say which customers noticed."}),
            ),
            201,
        )
        .await;
        if publish {
            ok(
                app.post(
                    &format!("{path}/publish"),
                    admin,
                    &json!({"reason": "Reviewed in the weekly meeting."}),
                ),
                200,
            )
            .await;
            // Told on the status page, and its public summary put there.
            let told = ok(
                app.post(
                    &format!("/api/v1/status-pages/{status_page_id}/incidents"),
                    admin,
                    &json!({"name": "Logins fail", "status": "resolved",
                            "incident": i["number"].to_string()}),
                ),
                201,
            )
            .await;
            pm_public = told["code"].as_str().unwrap().to_owned();
            ok(
                app.post(&format!("{path}/status-page"), admin, &json!({})),
                200,
            )
            .await;
        }
        postmortems.push((inc, pm_id));
    }
    let (draft_incident, draft_pm) = postmortems[0].clone();
    let published_pm = postmortems[1].1.clone();
    app.state.engine.tick().await.unwrap();
    // The workflow ran on both resolved incidents: the pages below show its runs.
    let runs = ok(
        app.get("/api/v1/workflows/after-resolution/runs", admin),
        200,
    )
    .await;
    assert_eq!(runs["items"].as_array().map(Vec::len), Some(2), "{runs}");
    assert_eq!(runs["items"][0]["state"], "stopped", "{runs}");
    // A drill scenario and two of its drills, the first ended: the drill pages, the
    // scenario's comparison and a drill's incident.
    let drills = crate::browser_support::drills::seed(app, admin).await;
    let (drill_id, drill_incident) = drills[1].clone();
    vec![
        ("/postmortems".into(), "postmortem list"),
        (
            format!("/postmortems/{draft_pm}"),
            "a postmortem being written",
        ),
        (
            format!("/postmortems/{published_pm}"),
            "a published postmortem",
        ),
        (
            format!("/postmortems/{published_pm}/print"),
            "a postmortem to print",
        ),
        (
            format!("/incidents/{draft_incident}"),
            "a resolved incident with its postmortem",
        ),
        ("/".into(), "dashboard"),
        ("/incidents".into(), "incident list"),
        (
            "/incidents?status=all&learned_from=false".into(),
            "incidents not learned from",
        ),
        (
            format!("/incidents/{draft_incident}/action-items/new?postmortem={draft_pm}"),
            "adding an action item from a postmortem",
        ),
        ("/incidents/new".into(), "declaring an incident"),
        (format!("/incidents/{incident_id}"), "an incident"),
        ("/action-items".into(), "action items: mine"),
        ("/action-items?view=team".into(), "action items: team"),
        ("/action-items?view=all".into(), "action items: all"),
        (format!("/action-items/{action_item_id}"), "an action item"),
        (
            format!("/incidents/{incident_id}/action-items/new"),
            "adding an action item",
        ),
        ("/alerts".into(), "alert list"),
        (format!("/alerts/{alert_id}"), "an alert"),
        ("/services".into(), "service list"),
        (format!("/services/{service_id}"), "a service"),
        ("/escalation-policies".into(), "policy list"),
        (format!("/escalation-policies/{policy_id}"), "a policy"),
        ("/schedules".into(), "schedule list"),
        (format!("/schedules/{schedule_id}"), "a schedule"),
        ("/schedules/new".into(), "a new schedule"),
        (
            format!("/schedules/{schedule_id}/edit"),
            "editing a schedule",
        ),
        (
            format!("/schedules/{schedule_id}/delete"),
            "deleting a schedule",
        ),
        (
            format!("/escalation-policies/{policy_id}/edit"),
            "editing a policy",
        ),
        (format!("/users/{}/profile", bob.id), "someone's profile"),
        ("/users".into(), "user list"),
        (format!("/users/{}", bob.id), "a user"),
        ("/webhooks".into(), "webhook list"),
        (format!("/webhooks/{webhook_id}"), "a webhook"),
        ("/checks".into(), "check list"),
        ("/insights?group_by=service".into(), "insights"),
        (format!("/checks/{check_id}"), "a check"),
        ("/slos".into(), "SLO list"),
        ("/runbooks".into(), "runbook list"),
        (format!("/runbooks/{runbook_id}"), "a runbook"),
        ("/runbooks/new".into(), "a new runbook"),
        (format!("/runbooks/{runbook_id}/edit"), "editing a runbook"),
        (
            format!("/runbooks/{runbook_id}/versions"),
            "a runbook's history and diff",
        ),
        (
            format!("/runbooks/{runbook_id}/versions/1"),
            "a runbook version",
        ),
        (
            format!("/incidents/{incident_id}/runs/new?runbook={runbook_id}"),
            "starting a run",
        ),
        (
            format!("/incidents/{incident_id}/runs/{run_id}"),
            "a run at its approval",
        ),
        ("/secrets".into(), "the secret store"),
        ("/runners".into(), "the runners"),
        ("/workflows".into(), "workflow list"),
        ("/workflows/new".into(), "a new workflow"),
        (
            "/workflows/after-resolution".into(),
            "a workflow with its runs",
        ),
        (
            "/workflows/after-resolution/edit".into(),
            "editing a workflow",
        ),
        ("/drills".into(), "drill list"),
        (format!("/drills/{drill_id}"), "a drill with its scorecard"),
        (format!("/drills/{}", drills[0].0), "an ended drill"),
        (format!("/incidents/{drill_incident}"), "a drill's incident"),
        ("/drills/scenarios/new".into(), "a new drill scenario"),
        (
            "/drills/scenarios/payments-db-failover".into(),
            "a drill scenario with its drills compared",
        ),
        (
            "/drills/scenarios/payments-db-failover/edit".into(),
            "editing a drill scenario",
        ),
        (
            "/drills/scenarios/record".into(),
            "recording a drill scenario",
        ),
        (format!("/slos/{slo_id}"), "an SLO with its burn-down"),
        (format!("/slos/{up_id}"), "an availability SLO"),
        ("/status-pages".into(), "status page list"),
        (format!("/status-pages/{status_page_id}"), "a status page"),
        (
            format!("/status-pages/{status_page_id}/incidents/{told_code}"),
            "a public incident",
        ),
        ("/status/acme".into(), "a public status page"),
        ("/status/acme/history".into(), "a public page's history"),
        ("/status/acme/subscribe".into(), "a public sign-up form"),
        (links.confirm, "confirming a subscription"),
        (links.manage, "managing a subscription"),
        (links.unsubscribe, "unsubscribing"),
        (
            format!("/status-pages/{status_page_id}/subscribers"),
            "a page's subscribers",
        ),
        (
            format!("/status/acme/incidents/{pm_public}"),
            "a public incident with its postmortem",
        ),
        (
            format!("/status/acme/incidents/{told_code}"),
            "a public incident's page",
        ),
        ("/profile".into(), "your profile"),
        ("/account".into(), "your account"),
        ("/no-such-page".into(), "not found"),
        ("/ack/no-longer-valid".into(), "an acknowledge link"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_fits_a_phone_and_passes_axe_in_both_colour_schemes() {
    let axe = axe_source();
    let app = spawn().await;
    let pages = seed(&app).await;
    let driver = Driver::start().await;
    let s = Session::new(&driver).await;
    // Signed out first: the login page.
    let mut report: Vec<String> = Vec::new();
    for dark in [false, true] {
        s.color_scheme(dark).await;
        s.viewport(390, 844, true).await;
        s.go(&format!("{}/login", app.url)).await;
        for p in problems(&s, &axe, true).await {
            report.push(format!(
                "/login ({}): {p}",
                if dark { "dark" } else { "light" }
            ));
        }
    }
    s.login(&app.url, &app.admin.email, &app.admin.password)
        .await;
    // The checks themselves catch what they are for: a box wider than the phone, a field
    // without a label, text too faint to read.
    s.viewport(390, 844, true).await;
    s.color_scheme(false).await;
    s.go(&format!("{}/", app.url)).await;
    s.exec(
        // Styles set through the DOM: the CSP forbids style attributes in markup.
        "const m = document.getElementById('main');
         const wide = document.createElement('div'); wide.textContent = 'wide';
         wide.style.width = '600px'; m.append(wide);
         const input = document.createElement('input'); m.append(input);
         const faint = document.createElement('p'); faint.textContent = 'faint';
         faint.style.color = '#bbb'; faint.style.background = '#fff'; m.append(faint);",
        json!([]),
    )
    .await;
    let planted = problems(&s, &axe, true).await.join("\n");
    for want in ["scrolls sideways", "label", "color-contrast"] {
        assert!(
            planted.contains(want),
            "the sweep missed {want:?}: {planted}"
        );
    }
    // Everything the shell shows, including the time-zone offer to someone without a zone.
    for (path, what) in &pages {
        for dark in [false, true] {
            let scheme = if dark { "dark" } else { "light" };
            s.color_scheme(dark).await;
            for (w, h, mobile) in [(390, 844, true), (1280, 900, false)] {
                s.viewport(w, h, mobile).await;
                s.go(&format!("{}{path}", app.url)).await;
                let title = s.title().await;
                assert!(!title.is_empty(), "{path} ({what}) has no title");
                for p in problems(&s, &axe, w == 390).await {
                    report.push(format!("{path} ({what}, {scheme}, {w} px): {p}"));
                }
            }
        }
    }
    s.end().await;
    app.stop().await;
    assert!(
        report.is_empty(),
        "{} problems:\n{}",
        report.len(),
        report.join("\n")
    );
}

/// Sends the form at `form` after `script` (with the form as `f`) fills it in, skipping the
/// browser's own checks (the server's are under test), and waits for the page it brings back.
async fn send(s: &Session<'_>, form: &str, script: &str) {
    s.exec("window.__old_page = true; return null;", json!([]))
        .await;
    s.exec(
        &format!(
            "const f = document.querySelector(arguments[0]); {script}; f.submit(); return null;"
        ),
        json!([form]),
    )
    .await;
    for _ in 0..400 {
        let done = "return window.__old_page !== true && document.readyState === 'complete';";
        if s.exec(done, json!([])).await == true {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("sending {form} brought no new page");
}

/// A pushed-counts SLO on `service` as OpenSLO, for a JavaScript string literal (`\\n` for
/// lines); `ratio` is the key its ratio goes under (misspelt, it is refused).
fn openslo(service: &str, ratio: &str) -> String {
    [
        "apiVersion: openslo/v1",
        "kind: SLO",
        "metadata:",
        "  name: homepage-answers",
        "spec:",
        &format!("  service: {service}"),
        "  indicator:",
        "    spec:",
        &format!("      {ratio}:"),
        "        good: {metricSource: {type: klaxon-pushed}}",
        "        total: {metricSource: {type: klaxon-pushed}}",
        "  timeWindow: [{duration: 30d, isRolling: true}]",
        "  objectives: [{targetPercent: 99.9}]",
    ]
    .join("\\n")
}

/// Refused forms show their reasons beside the fields: those pages fit a phone and pass axe too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_forms_fit_a_phone_and_pass_axe() {
    let axe = axe_source();
    let app = spawn().await;
    let pages = seed(&app).await;
    let path = |what: &str| pages.iter().find(|(_, w)| *w == what).unwrap().0.clone();
    let (user, policy, schedule) = (path("a user"), path("a policy"), path("a schedule"));
    let status_page = path("a status page");
    let taken = format!("f.elements['email'].value = '{}'", app.admin.email);
    // (page, form, how it is filled in, the element that says why)
    let cases = [
        (
            user.clone(),
            format!("form[action='{user}']"),
            taken,
            "#u-email-error",
        ),
        (
            user.clone(),
            format!("form[action='{user}/password']"),
            "f.elements['password'].value = 'short'".into(),
            "#u-password-error",
        ),
        (
            user.clone(),
            format!("form[action='{user}/active']"),
            String::new(),
            "form[action$='/active'] .error",
        ),
        (
            "/account".into(),
            "form[action='/account/tokens']".into(),
            String::new(),
            "#t-name-error",
        ),
        (
            "/account".into(),
            "form[action='/account/password']".into(),
            "f.elements['current_password'].value = 'not it'; \
             f.elements['new_password'].value = 'a new long password'"
                .into(),
            "#p-current-error",
        ),
        (
            policy,
            "#delete-policy-form".into(),
            String::new(),
            "#delete-policy-error",
        ),
        (
            schedule,
            "[data-testid=remove-override]".into(),
            String::new(),
            "[id$='-confirm-error']",
        ),
        (
            status_page.clone(),
            format!("form[action='{status_page}#settings']"),
            "f.elements['footer[0].label'].value = 'Docs'; \
             f.elements['footer[1].url'].value = 'docs.example'"
                .into(),
            "#settings-fl1-label-error",
        ),
        (
            format!("{status_page}/subscribers"),
            format!("form[action='{status_page}/subscribers#add']"),
            "f.elements['address'].value = 'not an address'".into(),
            "#sub-address-error",
        ),
        (
            "/status/acme/subscribe".into(),
            "form[action='/status/acme/subscribe']".into(),
            "f.elements['email'].value = 'nobody'".into(),
            "#email-error",
        ),
        (
            path("adding an action item"),
            "#action-item-form".into(),
            "f.elements['title'].value = 'Add a runbook'; \
             f.elements['due_at'].value = '2020-01-01T09:00'"
                .into(),
            "#ai-due-error",
        ),
        (
            path("an action item"),
            "#action-item-edit".into(),
            "f.elements['state'].value = 'wont_do'".into(),
            "#ai-reason-error",
        ),
        // A runbook refused beside its box; and a preview of the starter text.
        (
            "/runbooks/new".into(),
            "form[action='/runbooks/new']".into(),
            "f.elements['source'].value = '---\\nname: Bad Name\\n---\\n'".into(),
            "#runbook-source-error",
        ),
        (
            "/runbooks/new".into(),
            "form[action='/runbooks/new']".into(),
            "f.insertAdjacentHTML('beforeend', '<input type=hidden name=action value=preview>')"
                .into(),
            "#preview",
        ),
        // A workflow refused beside its box (a person nobody is); and a preview of the example.
        (
            "/workflows/new".into(),
            "form[action='/workflows/new']".into(),
            "f.elements['definition'].value = f.elements['definition'].value.replace('role: commander', 'user: nobody-with-a-long-address@example.com')"
                .into(),
            "#workflow-definition-error",
        ),
        (
            "/workflows/new".into(),
            "form[action='/workflows/new']".into(),
            "f.insertAdjacentHTML('beforeend', '<input type=hidden name=action value=preview>')"
                .into(),
            "#preview",
        ),
        // A drill by hand refused beside its title (what was typed kept); a scenario refused
        // beside its box, and a preview; recording one from an incident there is not.
        (
            "/drills".into(),
            "#start-form".into(),
            "f.elements['acknowledge_minutes'].value = 'soon'".into(),
            "#start-ack-error",
        ),
        (
            "/drills".into(),
            "#start-form".into(),
            "f.elements['title'].value = ''".into(),
            "#start-title-error",
        ),
        (
            "/drills/scenarios/new".into(),
            "form[action='/drills/scenarios/new']".into(),
            "f.elements['definition'].value = f.elements['definition'].value.replace('resolve: checkout-latency', 'resolve: a-key-nobody-raised-with-a-long-name')"
                .into(),
            "#scenario-definition-error",
        ),
        (
            "/drills/scenarios/new".into(),
            "form[action='/drills/scenarios/new']".into(),
            "f.insertAdjacentHTML('beforeend', '<input type=hidden name=action value=preview>')"
                .into(),
            "#preview",
        ),
        (
            "/drills/scenarios/record".into(),
            "form[action='/drills/scenarios/record']".into(),
            "f.elements['incident'].value = '#9999'; f.elements['name'].value = 'replay'".into(),
            "#record-incident-error",
        ),
        // OpenSLO refused: a long path beside the box; and a dry run's report.
        (
            "/slos".into(),
            "form[action='/slos/apply#apply']".into(),
            format!(
                "f.elements['yaml'].value = '{}'",
                openslo("Website", "ratioMetricc")
            ),
            "#apply-yaml-error",
        ),
        (
            "/slos".into(),
            "form[action='/slos/apply#apply']".into(),
            format!(
                "f.elements['yaml'].value = '{}'; f.elements['dry_run'].checked = true",
                openslo("Website", "ratioMetric").replace(
                    "name: homepage-answers",
                    "name: a-very-long-name-of-an-slo-for-the-homepage-that-wraps"
                )
            ),
            "[data-testid=apply-report]",
        ),
    ];
    let driver = Driver::start().await;
    let s = Session::new(&driver).await;
    s.login(&app.url, &app.admin.email, &app.admin.password)
        .await;
    let mut report: Vec<String> = Vec::new();
    for (page, form, fill, why) in &cases {
        s.viewport(390, 844, true).await;
        s.color_scheme(false).await;
        s.go(&format!("{}{page}", app.url)).await;
        send(&s, form, fill).await;
        assert!(!s.text(why).await.is_empty(), "{page}: {form} says why");
        for dark in [false, true] {
            let scheme = if dark { "dark" } else { "light" };
            s.color_scheme(dark).await;
            for (w, h, mobile) in [(390, 844, true), (1280, 900, false)] {
                s.viewport(w, h, mobile).await;
                for p in problems(&s, &axe, w == 390).await {
                    report.push(format!("{page} ({form} refused, {scheme}, {w} px): {p}"));
                }
            }
        }
    }
    s.end().await;
    app.stop().await;
    assert!(
        report.is_empty(),
        "{} problems:\n{}",
        report.len(),
        report.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_menu_folds_on_a_phone_and_opens_by_keyboard() {
    let app = spawn().await;
    let driver = Driver::start().await;
    let s = Session::new(&driver).await;
    s.viewport(390, 844, true).await;
    s.login(&app.url, &app.admin.email, &app.admin.password)
        .await;
    let visible = |css: &'static str| {
        let s = &s;
        async move {
            s.exec(
                "const e = document.querySelector(arguments[0]); return !!e && e.offsetParent !== null;",
                json!([css]),
            )
            .await
                == Value::Bool(true)
        }
    };
    assert!(
        visible("#menu-toggle").await,
        "the Menu button shows on a phone"
    );
    assert!(!visible("#main-nav").await, "the links fold away");
    s.click("#menu-toggle").await;
    assert!(visible("#main-nav").await);
    assert_eq!(
        s.exec(
            "return document.getElementById('menu-toggle').getAttribute('aria-expanded');",
            json!([])
        )
        .await,
        json!("true")
    );
    // The skip link is the first stop for the keyboard and lands on the content.
    s.go(&format!("{}/incidents", app.url)).await;
    s.press("\u{E004}").await; // Tab
    assert_eq!(
        s.exec("return document.activeElement.className;", json!([]))
            .await,
        json!("skip")
    );
    s.press("\u{E007}").await; // Enter
    assert_eq!(
        s.exec("return document.activeElement.id;", json!([])).await,
        json!("main")
    );
    // On a desktop everything is on the bar, no Menu button.
    s.viewport(1280, 900, false).await;
    s.go(&format!("{}/", app.url)).await;
    assert!(!visible("#menu-toggle").await);
    assert!(visible("#main-nav").await);
    s.end().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_person_is_offered_the_browsers_zone_and_times_follow_it() {
    let app = spawn().await;
    let driver = Driver::start().await;
    let s = Session::new(&driver).await;
    // The browser is in New York; the person has not chosen a zone.
    s.cdp(
        "Emulation.setTimezoneOverride",
        json!({"timezoneId": "America/New_York"}),
    )
    .await;
    s.login(&app.url, &app.admin.email, &app.admin.password)
        .await;
    assert_eq!(s.text("[data-testid=reader-zone]").await, "UTC");
    assert_eq!(s.text("#zone-offer-name").await, "America/New_York");
    s.click("#use-browser-zone").await;
    s.wait_title("Dashboard · Klaxon").await;
    // The click answers with the page it was on (the dashboard, same title): wait for the new
    // page's zone before reading it, or the read may meet the old page as it goes.
    for _ in 0..200 {
        let shown = s
            .exec(
                "const e = document.querySelector('[data-testid=reader-zone]'); \
                 return e ? e.textContent.trim() : null;",
                json!([]),
            )
            .await;
        if shown == json!("America/New_York") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        s.text("[data-testid=reader-zone]").await,
        "America/New_York"
    );
    let users = ok(app.get("/api/v1/users", &app.admin.token), 200).await;
    assert_eq!(users["items"][0]["time_zone"], "America/New_York");
    // The offer is gone once chosen.
    assert_eq!(
        s.exec("return document.getElementById('zone-offer');", json!([]))
            .await,
        Value::Null
    );
    // A refused zone is explained beside the box and what was typed stays.
    s.go(&format!("{}/account", app.url)).await;
    s.exec("document.getElementById('tz').value = '';", json!([]))
        .await;
    s.type_into("#tz", "Berlin").await;
    s.click("#save-time-zone").await;
    assert_eq!(
        s.wait_text("#tz-error").await,
        "Must be an IANA time zone name, like Europe/Berlin."
    );
    assert_eq!(
        s.exec("return document.getElementById('tz').value;", json!([]))
            .await,
        json!("Berlin")
    );
    s.end().await;
    app.stop().await;
}
