//! A runbook run acted on from its incident's page in a real browser (headless Chromium): the
//! incident's commander starts it, ticks its manual step and approves its approval there, each
//! move coming back to the page at the run; someone else is offered no approval and is refused
//! one forged; and the page with the run showing fits a phone and passes axe.
use crate::browser_support;
use crate::common;

use browser_support::{Driver, Session, axe_source, problems};
use common::{Backend, PASSWORD, TestApp, member, ok};
use serde_json::{Value, json};

const RUNBOOK: &str = "---\nname: check-site\n---\n# Check the site\n\nWhen checkout fails.\n\n## Look at the graphs\n- [ ] error rate\n\n## Approve\n```klaxon-approval\nrole: commander\n```\n\n## Tell support\nSay it is known.\n";

async fn js(s: &Session<'_>, script: &str) -> Value {
    s.exec(script, json!([])).await
}

/// The states of the run's steps on the page, in order: "waiting,pending,pending".
async fn step_states(s: &Session<'_>, run: &str) -> String {
    s.exec(
        "return Array.from(document.querySelectorAll('#' + arguments[0] + ' [data-testid=run-step]'))
           .map(e => e.getAttribute('data-state')).join(',');",
        json!([run]),
    )
    .await
    .as_str()
    .unwrap_or_default()
    .to_owned()
}

/// Polls until the run's steps on the page are in `want`: a click's navigation may still be
/// in flight.
async fn wait_states(s: &Session<'_>, run: &str, want: &str) {
    for _ in 0..400 {
        if step_states(s, run).await == want {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!(
        "the run's steps never were {want:?}; they are {:?}",
        step_states(s, run).await
    );
}

/// Whether an element matches `css` on the page now.
async fn has(s: &Session<'_>, css: &str) -> bool {
    s.exec(
        "return document.querySelector(arguments[0]) !== null;",
        json!([css]),
    )
    .await
        == true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_commander_ticks_and_approves_a_run_on_the_incident_page() {
    let axe = axe_source();
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let admin = &app.admin.token;
    ok(
        app.post("/api/v1/runbooks", admin, &json!({"source": RUNBOOK})),
        201,
    )
    .await;
    let incident = ok(
        app.post(
            "/api/v1/incidents",
            admin,
            &json!({"title": "Checkout is down", "severity": "SEV2"}),
        ),
        201,
    )
    .await;
    let iid = incident["id"].as_str().unwrap().to_owned();
    let cora = member(&app, "cora@example.com", "Cora Commander", "responder").await;
    member(&app, "rex@example.com", "Rex Responder", "responder").await;
    ok(
        app.post(
            &format!("/api/v1/incidents/{iid}/roles"),
            admin,
            &json!({"role": "commander", "user_id": cora.id}),
        ),
        201,
    )
    .await;
    let page = format!("{}/incidents/{iid}", app.url);
    let driver = Driver::start().await;
    let s = Session::new(&driver).await;
    s.login(&app.url, "cora@example.com", PASSWORD).await;

    // Cora starts the run from the incident's page.
    s.go(&page).await;
    s.wait_title("#1 Checkout is down · Klaxon").await;
    s.click("#pick-runbook-button").await;
    s.wait_title("Run Check the site on incident 1 · Klaxon")
        .await;
    s.click("#start-run").await;
    s.wait_title("Check the site: run on incident 1 · Klaxon")
        .await;

    // Back on the incident's page the run shows with its steps, the first one's moves offered.
    s.go(&page).await;
    s.wait_title("#1 Checkout is down · Klaxon").await;
    let run = js(
        &s,
        "const r = document.querySelector('[data-testid=live-run]'); return r ? r.id : null;",
    )
    .await
    .as_str()
    .expect("the run shows inline")
    .to_owned();
    let run_id = run.strip_prefix("run-").unwrap().to_owned();
    assert_eq!(step_states(&s, &run).await, "waiting,pending,pending");
    let state = s.text(&format!("#{run} [data-testid=run-state]")).await;
    assert!(state.starts_with("Running"), "{state}");
    assert!(
        s.text(&format!("#{run}-title"))
            .await
            .contains("Check the site"),
        "the run's title"
    );
    assert!(!has(&s, &format!("#{run}-move-approve")).await);

    // She ticks the manual step with a note: back on the incident's page, at the run, the
    // approval waiting.
    s.type_into(&format!("#{run}-note"), "error rate doubled")
        .await;
    s.click(&format!("#{run}-move-complete")).await;
    wait_states(&s, &run, "succeeded,awaiting_approval,pending").await;
    let url = s.current_url().await;
    assert!(url.ends_with(&format!("/incidents/{iid}#{run}")), "{url}");
    s.wait_contains(
        &format!("#{run} [aria-current=step]"),
        "Waiting for approval",
    )
    .await;
    s.wait_contains(
        &format!("#{run} [aria-current=step]"),
        "The incident's commander approves.",
    )
    .await;
    s.wait_contains(&format!("#{run}"), "Note: error rate doubled")
        .await;
    assert!(has(&s, &format!("#{run}-move-approve")).await);
    assert!(has(&s, &format!("#{run}-move-reject")).await);
    s.wait_contains(
        "#timeline",
        "did step 1 “Look at the graphs” of “Check the site”: error rate doubled",
    )
    .await;

    // The page with the run at its approval: it fits a phone, and axe finds nothing serious,
    // in both colour schemes.
    let mut report = Vec::new();
    for dark in [false, true] {
        s.color_scheme(dark).await;
        for (w, h, mobile) in [(390, 844, true), (1280, 900, false)] {
            s.viewport(w, h, mobile).await;
            s.go(&page).await;
            s.wait_title("#1 Checkout is down · Klaxon").await;
            assert!(has(&s, &format!("#{run}-move-approve")).await);
            for p in problems(&s, &axe, w == 390).await {
                report.push(format!("{w} px, dark {dark}: {p}"));
            }
        }
    }
    assert!(report.is_empty(), "{}", report.join("\n"));
    s.color_scheme(false).await;
    s.viewport(1280, 900, false).await;

    // Rex is not the commander: no approval buttons for him, only what he may do; a forged
    // approve is refused, on the run's page.
    let r = Session::new(&driver).await;
    r.login(&app.url, "rex@example.com", PASSWORD).await;
    r.go(&page).await;
    r.wait_title("#1 Checkout is down · Klaxon").await;
    assert_eq!(
        step_states(&r, &run).await,
        "succeeded,awaiting_approval,pending"
    );
    for mv in ["approve", "reject", "skip"] {
        assert!(!has(&r, &format!("#{run}-move-{mv}")).await, "{mv}");
    }
    assert!(has(&r, &format!("#{run}-move-abort")).await);
    let why = r
        .text(&format!("#{run} [data-testid=approval-not-yours]"))
        .await;
    assert!(why.contains("not its approver"), "{why}");
    r.exec(
        "const f = document.querySelector('#' + arguments[0] + ' form.run-moves');
         const b = document.createElement('button');
         b.type = 'submit'; b.name = 'move'; b.value = 'approve'; b.id = 'forged';
         b.textContent = 'Approve'; f.append(b); return null;",
        json!([run]),
    )
    .await;
    r.click("#forged").await;
    r.wait_contains("#run-error", "commander").await;
    assert!(
        r.current_url()
            .await
            .ends_with(&format!("/incidents/{iid}/runs/{run_id}/moves")),
        "the refusal is the run's page"
    );
    r.end().await;

    // Cora approves: the run moves on to its last step, and the timeline says who approved.
    s.go(&page).await;
    s.wait_title("#1 Checkout is down · Klaxon").await;
    s.type_into(&format!("#{run}-note"), "go ahead").await;
    s.click(&format!("#{run}-move-approve")).await;
    wait_states(&s, &run, "succeeded,succeeded,waiting").await;
    s.wait_contains(&format!("#{run} [aria-current=step]"), "Tell support")
        .await;
    s.wait_contains(&format!("#{run}"), "Note: go ahead").await;
    s.wait_contains(
        "#timeline > li:first-child",
        "approved step 2 “Approve” of “Check the site”: go ahead",
    )
    .await;
    s.wait_contains("#timeline > li:first-child", "Cora Commander")
        .await;
    let api = ok(app.get(&format!("/api/v1/runs/{run_id}"), admin), 200).await;
    assert_eq!(api["steps"][1]["state"], "succeeded", "{api}");

    // The last tick: the run is over, no longer inline but a link with its state.
    s.click(&format!("#{run}-move-complete")).await;
    s.wait_contains("#runs [data-testid=run]", "succeeded")
        .await;
    assert!(!has(&s, "[data-testid=live-run]").await);
    assert!(
        s.text("#runs [data-testid=run]")
            .await
            .contains("Check the site"),
        "the finished run's link"
    );
    s.end().await;
    app.stop().await;
}
