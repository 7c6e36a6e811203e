//! SLOs through the web UI, on both backends: defined with the form (a refused form says why
//! beside the field and keeps what was typed), counts added on its page, the budget, rules and
//! burn-down shown, changed, and deleted after "I am sure".
mod common;

use common::{Backend, TestApp, at, beside, form, ok, session_for, web_get_as};
use serde_json::json;

on_both_backends!(an_slo_is_defined_fed_and_removed_from_the_web);

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
