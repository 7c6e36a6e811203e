//! SLOs through the web UI, on both backends: defined with the form (a refused form says why
//! beside the field and keeps what was typed), counts added on its page, the budget, rules and
//! burn-down shown, changed, and deleted after "I am sure".
use crate::common;

use common::{Backend, TestApp, at, beside, form, ok, session_for, web_get_as};
use serde_json::json;

on_both_backends!(
    an_slo_is_defined_fed_and_removed_from_the_web,
    openslo_yaml_is_applied_and_exported_from_the_web,
);

async fn an_slo_is_defined_fed_and_removed_from_the_web(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let svc = ok(
        app.post(
            "/api/v1/services",
            &app.admin.token,
            &json!({"name": "checkout"}),
        ),
        201,
    )
    .await;
    let svc = svc["id"].as_str().unwrap();
    let (cookie, csrf) = session_for(&app, &app.admin.email, &app.admin.password).await;
    let list = web_get_as(&app, "/slos", &cookie).await;
    assert!(list.contains(">SLOs</a>"), "the nav names it");
    assert!(list.contains("No SLOs yet."), "{list}");

    let fields = |objective: &'static str, rules: &'static str| {
        vec![
            ("csrf", csrf.as_str()),
            ("service", svc),
            ("name", "availability"),
            ("description", "checkout answers"),
            ("objective", objective),
            ("window", "30d"),
            ("time_zone", ""),
            ("at_risk", "0.2"),
            ("rules", rules),
        ]
    };
    // Refused: beside the field, what was typed kept.
    let (status, _, html) = form(&app, &cookie, "/slos", &fields("100", "")).await;
    assert_eq!(status, 400);
    beside(
        &html,
        "slo-objective",
        "Must be a percentage above 0 and below 100, such as 99.9.",
    );
    assert!(html.contains("value=\"checkout answers\""), "{html}");
    let (status, _, html) = form(&app, &cookie, "/slos", &fields("99.9", "fast page 1h")).await;
    assert_eq!(status, 400);
    assert!(html.contains("id=\"slo-rules-error\""), "{html}");
    assert!(html.contains("Line 1: write name, urgency"), "{html}");
    assert!(html.contains(">fast page 1h</textarea>"), "{html}");
    let (status, _, html) = form(
        &app,
        &cookie,
        "/slos",
        &fields("99.9", "fast page 5m 1h 14.4"),
    )
    .await;
    assert_eq!(status, 400);
    beside(
        &html,
        "slo-rules",
        "Line 1: must be longer than the short window.",
    );

    // Defined with the default rules.
    let (status, location, html) = form(&app, &cookie, "/slos", &fields("99.9", "")).await;
    assert_eq!(status, 303, "{html}");
    assert!(location.starts_with("/slos/"), "{location}");
    let page = web_get_as(&app, &location, &cookie).await;
    assert!(page.contains("<h1>SLO availability</h1>"), "{page}");
    assert_eq!(page.matches("data-testid=\"slo-rule\"").count(), 3);
    assert!(page.contains("no events in the window yet"), "{page}");
    assert!(page.contains("id=\"burn-down\""), "{page}");

    // Counts from its page: refused when total is under good, then taken.
    let counts = format!("{location}/counts");
    let (status, _, html) = form(
        &app,
        &cookie,
        &counts,
        &[("csrf", &csrf), ("good", "10"), ("total", "5")],
    )
    .await;
    assert_eq!(status, 400);
    beside(&html, "slo-total", "Must be a number no smaller than good.");
    assert!(
        html.contains("id=\"slo-good\" name=\"good\" inputmode=\"decimal\" value=\"10\""),
        "{html}"
    );
    let (status, _, html) = form(
        &app,
        &cookie,
        &counts,
        &[("csrf", &csrf), ("good", "9995"), ("total", "10000")],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Counts added."), "{html}");
    let budget = &html[at(&html, "data-testid=\"slo-budget\"")..];
    assert!(
        budget.starts_with("data-testid=\"slo-budget\">50.0 % left: 5.00 of 10.00 bad events"),
        "{budget}"
    );
    // The day's point is in the table under the chart.
    assert!(
        html.contains("<td data-label=\"Budget left\">50.0 %</td>"),
        "{html}"
    );
    let list = web_get_as(&app, "/slos", &cookie).await;
    assert!(
        list.contains("<td data-label=\"Budget left\">50.0 %</td>"),
        "{list}"
    );

    // Changed: a calendar month in Berlin with one rule of its own.
    let mut changed = fields("99.5", "fast page 1h 5m 10");
    changed[5] = ("window", "month");
    changed[6] = ("time_zone", "Europe/Berlin");
    let (status, _, html) = form(&app, &cookie, &location, &changed).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Saved."), "{html}");
    assert!(html.contains("calendar month in Europe/Berlin"), "{html}");
    assert_eq!(html.matches("data-testid=\"slo-rule\"").count(), 1);
    assert!(html.contains(">fast page 1h 5m 10</textarea>"), "{html}");

    // Deleting asks first.
    let delete = format!("{location}/delete");
    let (status, _, html) = form(&app, &cookie, &delete, &[("csrf", &csrf)]).await;
    assert_eq!(status, 400);
    beside(
        &html,
        "delete-confirm",
        "Tick “I am sure” to delete this SLO.",
    );
    let (status, to, _) = form(
        &app,
        &cookie,
        &delete,
        &[("csrf", &csrf), ("confirm", "yes")],
    )
    .await;
    assert_eq!((status, to.as_str()), (303, "/slos"));
    assert!(
        web_get_as(&app, "/slos", &cookie)
            .await
            .contains("No SLOs yet.")
    );
    app.stop().await;
}

/// A pushed-counts SLO on checkout as OpenSLO, with `objective` in percent.
fn openslo(objective: &str) -> String {
    format!(
        "apiVersion: openslo/v1
kind: SLO
metadata:
  name: checkout-availability
  displayName: availability
spec:
  service: checkout
  indicator:
    spec:
      ratioMetric:
        good:
          metricSource:
            type: klaxon-pushed
        total:
          metricSource:
            type: klaxon-pushed
  timeWindow:
    - duration: 30d
      isRolling: true
  objectives:
    - targetPercent: {objective}
"
    )
}

async fn openslo_yaml_is_applied_and_exported_from_the_web(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    ok(
        app.post(
            "/api/v1/services",
            &app.admin.token,
            &json!({"name": "checkout"}),
        ),
        201,
    )
    .await;
    let (cookie, csrf) = session_for(&app, &app.admin.email, &app.admin.password).await;
    let list = web_get_as(&app, "/slos", &cookie).await;
    assert!(list.contains("<label for=\"apply-yaml\">"), "{list}");
    assert!(list.contains("href=\"/slos/openslo.yaml\""), "{list}");
    assert!(
        !list.contains("<script>") && !list.contains("style=\""),
        "CSP"
    );

    // Refused: the place in the file beside the box, the text kept, nothing written.
    let bad = openslo("99.9").replace("targetPercent", "targetPercnt");
    let (status, _, html) = form(
        &app,
        &cookie,
        "/slos/apply",
        &[("csrf", &csrf), ("yaml", &bad)],
    )
    .await;
    assert_eq!(status, 400);
    // serde's message goes on to list the fields it knows: the start is what matters.
    assert!(
        html.contains(
            "id=\"apply-yaml-error\">At documents[0].spec.objectives[0].targetPercnt: unknown field"
        ),
        "{html}"
    );
    assert!(
        html.contains("aria-describedby=\"apply-yaml-error\""),
        "{html}"
    );
    assert!(html.contains("- targetPercnt: 99.9\n</textarea>"), "{html}");
    assert!(html.contains("No SLOs yet."), "{html}");

    // A dry run reports and writes nothing; then for real.
    let good = openslo("99.9");
    let (status, _, html) = form(
        &app,
        &cookie,
        "/slos/apply",
        &[("csrf", &csrf), ("yaml", &good), ("dry_run", "yes")],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Dry run: nothing was written."), "{html}");
    assert!(html.contains("created checkout/availability"), "{html}");
    assert!(html.contains("id=\"apply-dry-run\" checked"), "{html}");
    assert!(html.contains("No SLOs yet."), "{html}");
    let (status, _, html) = form(
        &app,
        &cookie,
        "/slos/apply",
        &[("csrf", &csrf), ("yaml", &openslo("99.5"))],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Applied:"), "{html}");
    assert!(html.contains("data-testid=\"slo\""), "{html}");
    let (_, _, html) = form(
        &app,
        &cookie,
        "/slos/apply",
        &[("csrf", &csrf), ("yaml", &good)],
    )
    .await;
    assert!(
        html.contains("updated checkout/availability (objective)"),
        "{html}"
    );

    // Without the CSRF token: refused.
    let (status, _, _) = form(&app, &cookie, "/slos/apply", &[("yaml", &good)]).await;
    assert_eq!(status, 403);

    // Exported as a file from the list and from the SLO's page.
    let r = app
        .http
        .get(format!("{}/slos/openslo.yaml", app.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let yaml = r.text().await.unwrap();
    assert!(yaml.contains("targetPercent: 99.9"), "{yaml}");
    let listed = ok(app.get("/api/v1/slos", &app.admin.token), 200).await;
    let id = listed[0]["id"].as_str().unwrap();
    let page = web_get_as(&app, &format!("/slos/{id}"), &cookie).await;
    assert!(
        page.contains(&format!("href=\"/slos/{id}/openslo.yaml\"")),
        "{page}"
    );
    let one = web_get_as(&app, &format!("/slos/{id}/openslo.yaml"), &cookie).await;
    assert_eq!(one, yaml);
    app.stop().await;
}
