//! The drill pages, on both backends: a responder writes a scenario in the YAML editor,
//! previews it, is refused beside the box (the text kept), saves it and edits it (an edit from
//! an old revision refused in words); drills start from a scenario's page and by hand (a
//! refusal beside its field, what was typed kept), their pages show the scripted steps and the
//! scorecard, which is final once the drill is ended; a scenario is recorded from a past
//! incident into the editor; viewers read every page without its controls and are refused the
//! forms; a drill's incident page says it is practice.
use crate::common;

use common::*;
use jiff::SignedDuration;
use serde_json::{Value, json};

on_both_backends!(
    a_responder_writes_previews_saves_and_edits_a_scenario,
    drills_start_run_and_end_from_the_pages,
    a_scenario_is_recorded_from_a_past_incident,
    viewers_read_drills_but_cannot_change_them,
);

const GOOD: &str = "name: db-failover
title: Database fails over
description: The primary database fails over to its replica.
service: Payments
severity: SEV3
targets:
  acknowledge_minutes: 5
  roles: [commander]
  roles_minutes: 10
  first_update_minutes: 15
steps:
  - at: 0
    alert: {summary: Checkout p99 above 2 s, dedup_key: latency, severity: critical}
  - at: 4
    note: \"Support: payments fail\"
  - at: 12
    resolve: latency
";

fn good_json() -> Value {
    json!({"name": "db-failover", "title": "Database fails over", "service": "Payments",
           "severity": "SEV3",
           "targets": {"acknowledge_minutes": 5, "roles": ["commander"], "roles_minutes": 10,
                       "first_update_minutes": 15},
           "steps": [{"at": 0, "alert": {"summary": "Checkout p99 above 2 s",
                                          "dedup_key": "latency", "severity": "critical"}},
                     {"at": 4, "note": "Support: payments fail"},
                     {"at": 12, "resolve": "latency"}]})
}

/// A service nobody is paged for.
async fn payments(app: &TestApp) -> String {
    let s = ok(
        app.post(
            "/api/v1/services",
            &app.admin.token,
            &json!({"name": "Payments"}),
        ),
        201,
    )
    .await;
    s["id"].as_str().unwrap().to_owned()
}

async fn api_scenario(app: &TestApp, name: &str) -> Value {
    ok(
        app.get(&format!("/api/v1/drill-scenarios/{name}"), &app.admin.token),
        200,
    )
    .await
}

/// What the editor's box holds, unescaped.
fn textarea(html: &str) -> String {
    let i = at(html, "name=\"definition\"");
    let text = &html[i..];
    text[text.find('>').unwrap() + 1..text.find("</textarea>").unwrap()]
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// A GET with a session: (status, HTML).
async fn get_as(app: &TestApp, path: &str, cookie: &str) -> (u16, String) {
    let r = app
        .http
        .get(format!("{}{path}", app.url))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The text of the element whose start tag holds `marker`, up to `end`.
fn part<'a>(html: &'a str, marker: &str, end: &str) -> &'a str {
    let rest = &html[at(html, marker)..];
    &rest[..rest.find(end).unwrap()]
}

/// The message beside the editor's box.
fn box_error(html: &str) -> &str {
    let i = at(html, "id=\"scenario-definition-error\">") + 31;
    &html[i..i + html[i..].find('<').unwrap()]
}

async fn a_responder_writes_previews_saves_and_edits_a_scenario(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    payments(&app).await;
    member(&app, "rita@example.com", "Rita", "responder").await;
    let (cookie, csrf) = session_for(&app, "rita@example.com", PASSWORD).await;
    let list = web_get_as(&app, "/drills", &cookie).await;
    assert!(list.contains("<title>Drills · Klaxon</title>"), "{list}");
    assert!(
        list.contains("href=\"/drills\" aria-current=\"page\""),
        "{list}"
    );
    assert!(list.contains("No drills yet.") && list.contains("No scenarios yet."));
    assert!(list.contains("id=\"new-scenario\"") && list.contains("id=\"record-scenario\""));
    assert!(list.contains("id=\"start-drill\""), "{list}");

    // The editor starts with an example naming the first service, that previews as it is.
    let (status, new) = get_as(&app, "/drills/scenarios/new", &cookie).await;
    assert_eq!(status, 200);
    assert!(new.contains("<label for=\"scenario-definition\">"), "{new}");
    let starter = textarea(&new);
    assert!(starter.contains("service: \"Payments\"\n"), "{starter}");
    let (status, _, html) = form(
        &app,
        &cookie,
        "/drills/scenarios/new",
        &[
            ("csrf", &csrf),
            ("definition", &starter),
            ("action", "preview"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("id=\"preview\""), "{html}");

    // Preview: what it would do, in words; nothing saved.
    let (status, _, html) = form(
        &app,
        &cookie,
        "/drills/scenarios/new",
        &[("csrf", &csrf), ("definition", GOOD), ("action", "preview")],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    let preview = part(&html, "id=\"preview\"", "</section>");
    for line in [
        "<li>At 0 min: the alert “Checkout p99 above 2 s” fires (critical, key latency)</li>",
        "<li>At 4 min: news for the responders: “Support: payments fail”</li>",
        "<li>At 12 min: the alert with key latency resolves</li>",
        "<li>Acknowledged within 5 min</li>",
        "<li>Roles held (commander) within 10 min</li>",
        "<li>First stakeholder update within 15 min</li>",
    ] {
        assert!(preview.contains(line), "{line} in {preview}");
    }
    assert!(html.contains("name: db-failover\ntitle: Database fails over"));
    refused(
        app.get("/api/v1/drill-scenarios/db-failover", &app.admin.token),
        404,
        "not_found",
        None,
    )
    .await;

    // Refused as written: the reason beside the box, naming its place, the text kept.
    let unknown = GOOD.replace("resolve: latency", "resolve: nope");
    for action in ["preview", "save"] {
        let (status, _, html) = form(
            &app,
            &cookie,
            "/drills/scenarios/new",
            &[
                ("csrf", &csrf),
                ("definition", &unknown),
                ("action", action),
            ],
        )
        .await;
        assert_eq!(status, 400, "{html}");
        beside(
            &html,
            "scenario-definition",
            "At steps[2].resolve: no alert above has the dedup_key `nope`.",
        );
        assert!(html.contains("    resolve: nope\n</textarea>"), "{html}");
        assert!(!html.contains("id=\"preview\""));
    }
    // Refused for what it names, a field of the wrong kind, and text that is not YAML.
    let nowhere = GOOD.replace("service: Payments", "service: Nowhere");
    let (status, _, html) = form(
        &app,
        &cookie,
        "/drills/scenarios/new",
        &[
            ("csrf", &csrf),
            ("definition", &nowhere),
            ("action", "preview"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{html}");
    assert!(box_error(&html).starts_with("At service: "), "{html}");
    let wrong = GOOD.replace("at: 4", "at: soon");
    let (status, _, html) = form(
        &app,
        &cookie,
        "/drills/scenarios/new",
        &[("csrf", &csrf), ("definition", &wrong), ("action", "save")],
    )
    .await;
    assert_eq!(status, 400, "{html}");
    assert!(box_error(&html).starts_with("At steps[1].at: "), "{html}");
    let (status, _, html) = form(
        &app,
        &cookie,
        "/drills/scenarios/new",
        &[
            ("csrf", &csrf),
            ("definition", "name: [unclosed"),
            ("action", "save"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert!(box_error(&html).starts_with("Is not YAML: "), "{html}");
    assert_eq!(
        ok(app.get("/api/v1/drill-scenarios", &app.admin.token), 200).await,
        json!([])
    );

    // Saved: to its page.
    let (status, location, _) = form(
        &app,
        &cookie,
        "/drills/scenarios/new",
        &[("csrf", &csrf), ("definition", GOOD), ("action", "save")],
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/drills/scenarios/db-failover")
    );
    let sc = api_scenario(&app, "db-failover").await;
    assert_eq!(sc["revision"], 1);
    assert_eq!(sc["steps"][2]["resolve"], "latency");
    // A new one may not take its name.
    let (status, _, html) = form(
        &app,
        &cookie,
        "/drills/scenarios/new",
        &[("csrf", &csrf), ("definition", GOOD), ("action", "save")],
    )
    .await;
    assert_eq!(status, 409);
    beside(
        &html,
        "scenario-definition",
        "At name: another scenario is called db-failover: choose another name, or edit that one.",
    );

    // Its page: in words, its YAML, who saved it, the controls, no drills yet.
    let page = web_get_as(&app, "/drills/scenarios/db-failover", &cookie).await;
    assert!(
        page.contains("<title>Scenario db-failover · Klaxon</title>"),
        "{page}"
    );
    assert!(page.contains("DRILL: Database fails over"));
    assert!(page.contains("<li>At 12 min: the alert with key latency resolves</li>"));
    assert!(
        page.contains("data-testid=\"scenario-yaml\"><code>name: db-failover\n"),
        "{page}"
    );
    let saved = part(&page, "data-testid=\"scenario-revision\">", "</dd>");
    assert!(saved.contains(">1, saved <time"), "{saved}");
    assert!(saved.contains(" UTC</time> by Rita"), "{saved}");
    for control in ["start-drill", "edit-scenario", "delete-scenario"] {
        assert!(page.contains(&format!("id=\"{control}\"")), "{control}");
    }
    assert!(page.contains("No drills of it yet."));
    let list = web_get_as(&app, "/drills", &cookie).await;
    let row = part(&list, "data-name=\"db-failover\"", "</tr>");
    assert!(
        row.contains("<a href=\"/drills/scenarios/db-failover\">db-failover</a>"),
        "{row}"
    );
    assert!(row.contains("<td data-label=\"Steps\">3</td>"), "{row}");
    assert!(
        list.contains("<option value=\"db-failover\">db-failover: Database fails over</option>"),
        "{list}"
    );

    // The editor holds it as YAML at its revision; saved as it is, nothing changes.
    let (status, edit) = get_as(&app, "/drills/scenarios/db-failover/edit", &cookie).await;
    assert_eq!(status, 200);
    assert!(edit.contains("name=\"revision\" value=\"1\""), "{edit}");
    let (status, location, _) = form(
        &app,
        &cookie,
        "/drills/scenarios/db-failover/edit",
        &[
            ("csrf", &csrf),
            ("definition", &textarea(&edit)),
            ("revision", "1"),
            ("action", "save"),
        ],
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/drills/scenarios/db-failover")
    );
    assert_eq!(api_scenario(&app, "db-failover").await["revision"], 1);
    // Someone saves it meanwhile (through the API): the edit from revision 1 is refused in
    // words, its text kept; from the current one it is saved.
    let mut theirs = good_json();
    theirs["description"] = json!("Saved by someone else.");
    let r = ok(
        put(
            &app,
            "/api/v1/drill-scenarios/db-failover",
            &app.admin.token,
        )
        .json(&theirs),
        200,
    )
    .await;
    assert_eq!(r["scenario"]["revision"], 2);
    let changed = GOOD.replace("to its replica.", "to its replica, from the web.");
    let (status, _, html) = form(
        &app,
        &cookie,
        "/drills/scenarios/db-failover/edit",
        &[
            ("csrf", &csrf),
            ("definition", &changed),
            ("revision", "1"),
            ("action", "save"),
        ],
    )
    .await;
    assert_eq!(status, 409, "{html}");
    beside(
        &html,
        "scenario-definition",
        "Someone saved this scenario meanwhile (it is at revision 2): open it again to start \
         from theirs.",
    );
    assert!(html.contains("to its replica, from the web."));
    // A preview from the old revision says the same.
    let (status, _, html) = form(
        &app,
        &cookie,
        "/drills/scenarios/db-failover/edit",
        &[
            ("csrf", &csrf),
            ("definition", &changed),
            ("revision", "1"),
            ("action", "preview"),
        ],
    )
    .await;
    assert_eq!(status, 409);
    assert!(box_error(&html).starts_with("Someone saved this scenario meanwhile"));
    let (status, location, _) = form(
        &app,
        &cookie,
        "/drills/scenarios/db-failover/edit",
        &[
            ("csrf", &csrf),
            ("definition", &changed),
            ("revision", "2"),
            ("action", "save"),
        ],
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/drills/scenarios/db-failover")
    );
    let sc = api_scenario(&app, "db-failover").await;
    assert_eq!(sc["revision"], 3);
    assert_eq!(
        sc["description"],
        "The primary database fails over to its replica, from the web."
    );
    // A form without the session's token is refused.
    let (status, _, _) = form(
        &app,
        &cookie,
        "/drills/scenarios/db-failover/delete",
        &[("csrf", "0".repeat(64).as_str())],
    )
    .await;
    assert_eq!(status, 403);
    api_scenario(&app, "db-failover").await;
    // Deleted.
    let (status, location, _) = form(
        &app,
        &cookie,
        "/drills/scenarios/db-failover/delete",
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!((status, location.as_str()), (303, "/drills#scenarios"));
    let (status, _) = get_as(&app, "/drills/scenarios/db-failover", &cookie).await;
    assert_eq!(status, 404);
    app.stop().await;
}

async fn drills_start_run_and_end_from_the_pages(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    payments(&app).await;
    ok(
        app.post("/api/v1/drill-scenarios", &app.admin.token, &good_json()),
        201,
    )
    .await;
    let (cookie, csrf) = session_for(&app, &app.admin.email, &app.admin.password).await;

    // Started from the scenario's page: to the drill's page.
    let (status, location, html) = form(
        &app,
        &cookie,
        "/drills/scenarios/db-failover/start",
        &[("csrf", &csrf), ("commander", "")],
    )
    .await;
    assert_eq!(status, 303, "{html}");
    let drill_id = location
        .strip_prefix("/drills/")
        .unwrap_or_else(|| panic!("{location}"))
        .to_owned();
    let drill = ok(
        app.get(&format!("/api/v1/drills/{drill_id}"), &app.admin.token),
        200,
    )
    .await;
    let incident_id = drill["incident_id"].as_str().unwrap().to_owned();
    let number = drill["incident_number"].as_i64().unwrap();
    let page = web_get_as(&app, &location, &cookie).await;
    assert!(
        page.contains("<h1 data-testid=\"drill-title\">DRILL: Database fails over</h1>"),
        "{page}"
    );
    assert!(page.contains(&format!(
        "<a href=\"/incidents/{incident_id}\" id=\"drill-incident\">#{number} DRILL: Database fails over</a>"
    )));
    assert!(page.contains("<a href=\"/drills/scenarios/db-failover\">db-failover</a>"));
    let started = part(&page, "data-testid=\"drill-started\">", "</dd>");
    assert!(
        started.contains("<time datetime=\"2026-11-21T09:00:00Z\"")
            && started.contains(" UTC</time>"),
        "{started}"
    );
    assert!(page.contains("Running</span> for 0 s"), "{page}");
    assert!(page.contains("id=\"end-drill\""));
    // The scorecard as things stand: acknowledged at once (nobody is paged, the declarer is
    // on it), no commander yet.
    assert!(page.contains("As things stand now"));
    let ack = part(&page, "data-testid=\"measure-acknowledge\"", "</tr>");
    assert!(
        ack.contains("<td data-label=\"From the start\">0 s</td>")
            && ack.contains("<td data-label=\"Target\">within 5 min</td>")
            && ack.contains("outcome-succeeded\">met<"),
        "{ack}"
    );
    let roles = part(&page, "data-testid=\"measure-roles\"", "</tr>");
    assert!(
        roles.contains("Roles held (commander)") && roles.contains(">not yet</td>"),
        "{roles}"
    );
    assert!(roles.contains("outcome-queued\">not yet<"), "{roles}");
    assert!(page.contains("Nobody holds yet: commander."));
    let steps: Vec<&str> = page.split("data-testid=\"drill-step\"").skip(1).collect();
    assert_eq!(steps.len(), 3, "{page}");
    // Due at once, taken at the engine's next round.
    assert!(steps[0].contains("(due:"), "{}", steps[0]);
    app.state.engine.tick().await.unwrap();
    let page = web_get_as(&app, &location, &cookie).await;
    let steps: Vec<&str> = page.split("data-testid=\"drill-step\"").skip(1).collect();
    assert!(steps[0].contains("(happened after 0 s)"), "{}", steps[0]);
    assert!(
        steps[1].contains("“Support: payments fail” <span class=\"outcome-queued\">(in 4 min)"),
        "{}",
        steps[1]
    );

    // A commander at 2 min 30 s: the roles' time, met; at 11 min the first update is not yet
    // due.
    app.clock.advance(SignedDuration::from_secs(150));
    ok(
        app.post(
            &format!("/api/v1/incidents/{incident_id}/roles"),
            &app.admin.token,
            &json!({"role": "commander", "user_id": app.admin.email}),
        ),
        201,
    )
    .await;
    app.clock.advance(SignedDuration::from_secs(510));
    let page = web_get_as(&app, &format!("/drills/{number}"), &cookie).await;
    let roles = part(&page, "data-testid=\"measure-roles\"", "</tr>");
    assert!(
        roles.contains(">2 min 30 s</td>") && roles.contains("outcome-succeeded\">met<"),
        "{roles}"
    );
    let update = part(&page, "data-testid=\"measure-first-update\"", "</tr>");
    assert!(update.contains("outcome-queued\">not yet<"), "{update}");
    assert!(page.contains("Running</span> for 11 min"), "{page}");
    // The list: the drill, running, with its card in short.
    let list = web_get_as(&app, "/drills", &cookie).await;
    let row = part(&list, "data-testid=\"drill\"", "</tr>");
    assert!(
        row.contains(&format!(
            "<a href=\"/incidents/{incident_id}\">#{number} DRILL: Database fails over</a>"
        )),
        "{row}"
    );
    assert!(row.contains("<a href=\"/drills/scenarios/db-failover\">db-failover</a>"));
    assert!(row.contains(">Running</span>"), "{row}");
    assert!(row.contains(&format!("<a href=\"/drills/{drill_id}\">scorecard")));
    assert!(
        row.contains(
            "data-testid=\"drill-acknowledge\">0 s, <span class=\"outcome-succeeded\">met</span>"
        ),
        "{row}"
    );
    assert!(
        row.contains("data-testid=\"drill-runbook-steps\">0 <span class=\"muted\" title=\"no target\">—</span><span class=\"visually-hidden\"> (no target)</span>"),
        "{row}"
    );

    // Ended: the scorecard is final, the first update missed; the last step never came.
    let (status, location, _) = form(
        &app,
        &cookie,
        &format!("/drills/{drill_id}/end"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (303, format!("/drills/{drill_id}").as_str())
    );
    let page = web_get_as(&app, &location, &cookie).await;
    assert!(page.contains("Final: kept when the drill ended."), "{page}");
    assert!(!page.contains("id=\"end-drill\""));
    let update = part(&page, "data-testid=\"measure-first-update\"", "</tr>");
    assert!(
        update.contains(">never</td>") && update.contains("outcome-failed\">missed<"),
        "{update}"
    );
    let state = part(&page, "data-testid=\"drill-state\">", "</dd>");
    assert!(
        state.starts_with("data-testid=\"drill-state\">Ended <time"),
        "{state}"
    );
    assert!(state.contains(" by "), "{state}");
    assert!(state.ends_with(", after 11 min"), "{state}");
    assert!(
        page.contains("(not reached: the drill ended first)"),
        "{page}"
    );
    let drill = ok(
        app.get(&format!("/api/v1/drills/{drill_id}"), &app.admin.token),
        200,
    )
    .await;
    assert_eq!(drill["scorecard"]["over"], true);
    // Ending it again changes nothing.
    let (status, _, _) = form(
        &app,
        &cookie,
        &format!("/drills/{drill_id}/end"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 303);
    // The scenario's page compares its drills.
    let page = web_get_as(&app, "/drills/scenarios/db-failover", &cookie).await;
    let compare = part(&page, "id=\"compare\"", "</section>");
    assert_eq!(
        compare.matches("data-testid=\"drill\"").count(),
        1,
        "{compare}"
    );
    assert!(
        compare.contains(&format!("<a href=\"/drills/{drill_id}\">#{number}</a>")),
        "{compare}"
    );
    assert!(
        compare.contains(">2 min 30 s, <span class=\"outcome-succeeded\">met</span>"),
        "{compare}"
    );
    assert!(
        compare.contains(">never, <span class=\"outcome-failed\">missed</span>"),
        "{compare}"
    );

    // The incident's page says it is practice, and links the drill.
    let incident = web_get_as(&app, &format!("/incidents/{incident_id}"), &cookie).await;
    let banner = part(&incident, "id=\"drill-banner\"", "</p>");
    assert!(
        banner.contains("DRILL — this incident is practice:"),
        "{banner}"
    );
    assert!(
        banner.contains(&format!("<a href=\"/drills/{drill_id}\"")),
        "{banner}"
    );

    // By hand: a missing title is refused beside its field, what was typed kept.
    let (status, _, html) = form(
        &app,
        &cookie,
        "/drills",
        &[
            ("csrf", &csrf),
            ("scenario", ""),
            ("title", " "),
            ("severity", "SEV4"),
            ("acknowledge_minutes", "7"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{html}");
    beside(
        &html,
        "start-title",
        "Give a scenario, or a title for a drill by hand.",
    );
    assert!(
        html.contains("id=\"start-ack\" inputmode=\"numeric\" value=\"7\""),
        "{html}"
    );
    assert!(html.contains("<option value=\"SEV4\" selected>"), "{html}");
    let (status, _, html) = form(
        &app,
        &cookie,
        "/drills",
        &[
            ("csrf", &csrf),
            ("title", "Pager test"),
            ("severity", "SEV4"),
            ("acknowledge_minutes", "soon"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    beside(&html, "start-ack", "Must be a whole number.");
    assert!(html.contains("value=\"Pager test\""));
    let (status, _, html) = form(
        &app,
        &cookie,
        "/drills",
        &[
            ("csrf", &csrf),
            ("title", "Pager test"),
            ("severity", "SEV4"),
            ("roles_minutes", "0"),
            ("commander", "nobody@example.com"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    beside(
        &html,
        "start-roles-minutes",
        "Must be between 1 and 1440 minutes.",
    );
    // Started by hand.
    let (status, location, html) = form(
        &app,
        &cookie,
        "/drills",
        &[
            ("csrf", &csrf),
            ("scenario", ""),
            ("title", "Pager test"),
            ("severity", "SEV4"),
            ("service", "Payments"),
            ("acknowledge_minutes", "5"),
        ],
    )
    .await;
    assert_eq!(status, 303, "{html}");
    let page = web_get_as(&app, &location, &cookie).await;
    assert!(page.contains("DRILL: Pager test"), "{page}");
    assert!(page.contains("none: a drill by hand"));
    assert!(page.contains("No scripted steps: a drill by hand."));
    let list = web_get_as(&app, "/drills", &cookie).await;
    assert_eq!(list.matches("data-testid=\"drill\"").count(), 2);
    assert!(list.find("Pager test").unwrap() < list.find("Database fails over").unwrap());
    assert!(list.contains("data-testid=\"drill-scenario\">By hand</span>"));
    // An incident that is not a drill has no banner; a drill's page is not at its number.
    let real = ok(
        app.post(
            "/api/v1/incidents",
            &app.admin.token,
            &json!({"title": "Real trouble", "severity": "SEV3"}),
        ),
        201,
    )
    .await;
    let page = web_get_as(
        &app,
        &format!("/incidents/{}", real["id"].as_str().unwrap()),
        &cookie,
    )
    .await;
    assert!(!page.contains("drill-banner"));
    let (status, _) = get_as(&app, &format!("/drills/{}", real["number"]), &cookie).await;
    assert_eq!(status, 404);
    app.stop().await;
}

async fn a_scenario_is_recorded_from_a_past_incident(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let service = payments(&app).await;
    let integration = ok(
        app.post(
            &format!("/api/v1/services/{service}/integrations"),
            &app.admin.token,
            &json!({"name": "Events", "kind": "events_v2"}),
        ),
        201,
    )
    .await;
    let key = integration["key"].as_str().unwrap().to_owned();
    let send = |body: Value| {
        let app = &app;
        async move {
            let r = app
                .http
                .post(format!("{}/v2/enqueue", app.url))
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
        }
    };
    send(
        json!({"routing_key": key, "event_action": "trigger", "dedup_key": "db-1",
                "payload": {"summary": "Database latency above 2 s", "source": "db-1",
                            "severity": "critical"}}),
    )
    .await;
    app.clock.advance(SignedDuration::from_secs(300));
    send(json!({"routing_key": key, "event_action": "resolve", "dedup_key": "db-1"})).await;
    let alerts = ok(app.get("/api/v1/alerts", &app.admin.token), 200).await;
    let incident = alerts["items"][0]["incident_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let number = ok(
        app.get(&format!("/api/v1/incidents/{incident}"), &app.admin.token),
        200,
    )
    .await["number"]
        .clone();
    ok(
        app.post("/api/v1/drill-scenarios", &app.admin.token, &good_json()),
        201,
    )
    .await;
    let (cookie, csrf) = session_for(&app, &app.admin.email, &app.admin.password).await;
    let (status, page) = get_as(&app, "/drills/scenarios/record", &cookie).await;
    assert_eq!(status, 200);
    assert!(page.contains("<label for=\"record-incident\">"), "{page}");

    // Refused beside each field, what was typed kept.
    let this = format!("#{number}");
    for (incident, name, id, message) in [
        (
            "9999",
            "replay-db",
            "record-incident",
            "No incident is numbered 9999.",
        ),
        (
            "abc",
            "replay-db",
            "record-incident",
            "Is not an incident id or number (like 75 or #75).",
        ),
        (
            this.as_str(),
            "db-failover",
            "record-name",
            "Another scenario is called db-failover: choose another name, or edit that one.",
        ),
    ] {
        let (status, _, html) = form(
            &app,
            &cookie,
            "/drills/scenarios/record",
            &[("csrf", &csrf), ("incident", incident), ("name", name)],
        )
        .await;
        assert!(status == 400 || status == 409, "{status} {html}");
        beside(&html, id, message);
        assert!(html.contains(&format!("value=\"{name}\"")), "{html}");
    }
    let (status, _, html) = form(
        &app,
        &cookie,
        "/drills/scenarios/record",
        &[
            ("csrf", &csrf),
            ("incident", &format!("#{number}")),
            ("name", "Bad Name"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    let shown = part(&html, "id=\"record-name-error\">", "</p>");
    assert!(shown.contains("is not a scenario name"), "{shown}");

    // Recorded: the editor, prefilled, saying what was left out; nothing saved yet.
    let (status, _, html) = form(
        &app,
        &cookie,
        "/drills/scenarios/record",
        &[
            ("csrf", &csrf),
            ("incident", &format!("#{number}")),
            ("name", "replay-db"),
            ("title", "Replay of the slow database"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    let said = part(&html, "id=\"recorded\">", "</p>");
    assert!(
        said.contains(&format!(
            "Recorded from incident #{number}: 2 steps. No alert was left out."
        )),
        "{said}"
    );
    assert!(html.contains("action=\"/drills/scenarios/new\""));
    let text = textarea(&html);
    assert!(text.contains("name: replay-db\n"), "{text}");
    assert!(
        text.contains("title: Replay of the slow database\n"),
        "{text}"
    );
    assert!(text.contains("service: Payments\n"), "{text}");
    assert!(text.contains("dedup_key: db-1\n"), "{text}");
    assert!(text.contains("resolve: db-1\n"), "{text}");
    refused(
        app.get("/api/v1/drill-scenarios/replay-db", &app.admin.token),
        404,
        "not_found",
        None,
    )
    .await;
    // Saved from the editor as it came.
    let (status, location, html) = form(
        &app,
        &cookie,
        "/drills/scenarios/new",
        &[("csrf", &csrf), ("definition", &text), ("action", "save")],
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/drills/scenarios/replay-db"),
        "{html}"
    );
    let sc = api_scenario(&app, "replay-db").await;
    assert_eq!(
        sc["steps"][0]["alert"]["summary"],
        "Database latency above 2 s"
    );
    assert_eq!(sc["steps"][1]["at"], 5.0);
    app.stop().await;
}

async fn viewers_read_drills_but_cannot_change_them(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    payments(&app).await;
    ok(
        app.post("/api/v1/drill-scenarios", &app.admin.token, &good_json()),
        201,
    )
    .await;
    let drill = ok(
        app.post(
            "/api/v1/drills",
            &app.admin.token,
            &json!({"scenario": "db-failover"}),
        ),
        201,
    )
    .await;
    let drill_id = drill["id"].as_str().unwrap().to_owned();
    let incident_id = drill["incident_id"].as_str().unwrap().to_owned();
    // Vera reads times in Berlin: the drill's start is shown there, named.
    let vera = member(&app, "vera@example.com", "Vera", "viewer").await;
    ok(
        patch(
            &app,
            &format!("/api/v1/users/{}", vera.id),
            &vera.token,
            &json!({"time_zone": "Europe/Berlin"}),
        ),
        200,
    )
    .await;
    let (cookie, csrf) = session_for(&app, "vera@example.com", PASSWORD).await;
    let list = web_get_as(&app, "/drills", &cookie).await;
    assert!(
        list.contains("href=\"/drills\" aria-current=\"page\""),
        "{list}"
    );
    assert!(list.contains("<a href=\"/drills/scenarios/db-failover\">db-failover</a>"));
    assert_eq!(list.matches("data-testid=\"drill\"").count(), 1, "{list}");
    for control in [
        "start-drill",
        "new-scenario",
        "record-scenario",
        "start-form",
    ] {
        assert!(!list.contains(control), "the viewer sees {control}");
    }
    let (status, page) = get_as(&app, "/drills/scenarios/db-failover", &cookie).await;
    assert_eq!(status, 200);
    assert!(page.contains("data-testid=\"scenario-yaml\""));
    assert_eq!(page.matches("data-testid=\"drill\"").count(), 1, "{page}");
    for control in ["start-drill", "edit-scenario", "delete-scenario", "/start"] {
        assert!(!page.contains(control), "the viewer sees {control}");
    }
    let (status, page) = get_as(&app, &format!("/drills/{drill_id}"), &cookie).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("data-testid=\"measure-acknowledge\""),
        "{page}"
    );
    assert!(!page.contains("end-drill"));
    let started = part(&page, "data-testid=\"drill-started\">", "</dd>");
    assert!(
        started.contains("<time datetime=\"2026-11-21T09:00:00Z\"")
            && started.contains(">10:00 CET</time> by Administrator"),
        "{started}"
    );
    let incident = web_get_as(&app, &format!("/incidents/{incident_id}"), &cookie).await;
    assert!(incident.contains("id=\"drill-banner\""));
    for path in [
        "/drills/scenarios/new",
        "/drills/scenarios/db-failover/edit",
        "/drills/scenarios/record",
    ] {
        let (status, _) = get_as(&app, path, &cookie).await;
        assert_eq!(status, 403, "{path}");
    }
    let end = format!("/drills/{drill_id}/end");
    for (path, fields) in [
        ("/drills", vec![("title", "Sneaky"), ("severity", "SEV4")]),
        ("/drills/scenarios/db-failover/start", vec![]),
        (end.as_str(), vec![]),
        (
            "/drills/scenarios/new",
            vec![("definition", GOOD), ("action", "save")],
        ),
        (
            "/drills/scenarios/db-failover/edit",
            vec![("definition", GOOD), ("revision", "1"), ("action", "save")],
        ),
        ("/drills/scenarios/db-failover/delete", vec![]),
        (
            "/drills/scenarios/record",
            vec![("incident", "1"), ("name", "replay")],
        ),
    ] {
        let mut fields = fields;
        fields.push(("csrf", csrf.as_str()));
        let (status, _, _) = form(&app, &cookie, path, &fields).await;
        assert_eq!(status, 403, "{path}");
    }
    let drills = ok(app.get("/api/v1/drills", &app.admin.token), 200).await;
    assert_eq!(drills["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(drills["items"][0]["ended_at"], Value::Null);
    assert_eq!(api_scenario(&app, "db-failover").await["revision"], 1);
    app.stop().await;
}
