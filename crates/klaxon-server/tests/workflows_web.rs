//! The workflow pages, on both backends: an admin writes a workflow in the YAML editor,
//! previews what it would do, is refused beside the box (the text kept) for what it names
//! wrongly, saves it, turns it off and on, edits it and deletes it; viewers and responders read
//! the pages without their controls and are refused the forms; an incident's page shows what
//! each workflow run did on it.
use crate::common;

use common::*;
use serde_json::{Value, json};

on_both_backends!(
    an_admin_writes_previews_saves_toggles_and_deletes_a_workflow,
    readers_see_workflows_but_cannot_change_them,
    the_incident_page_shows_what_workflows_did,
);

const GOOD: &str = "name: sev1-basics
description: What every SEV1 gets.
trigger: {on: incident_declared}
conditions: {severity: [SEV1]}
actions:
  - add_tasks: [Open a bridge, Tell support]
  - page: {role: commander}
";

async fn api_workflow(app: &TestApp, name: &str) -> Value {
    ok(
        app.get(&format!("/api/v1/workflows/{name}"), &app.admin.token),
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

async fn an_admin_writes_previews_saves_toggles_and_deletes_a_workflow(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let (cookie, csrf) = session_for(&app, &app.admin.email, &app.admin.password).await;
    let list = web_get_as(&app, "/workflows", &cookie).await;
    assert!(list.contains("No workflows yet."), "{list}");
    assert!(list.contains("id=\"new-workflow\""), "{list}");
    assert!(list.contains("href=\"/workflows\" aria-current=\"page\""));
    // The editor starts with an example that previews as it is.
    let (status, new) = get_as(&app, "/workflows/new", &cookie).await;
    assert_eq!(status, 200);
    assert!(new.contains("<label for=\"workflow-definition\">"), "{new}");
    let starter = textarea(&new);
    assert!(starter.contains("name: major-incident-basics"), "{starter}");
    let (status, _, html) = form(
        &app,
        &cookie,
        "/workflows/new",
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
        "/workflows/new",
        &[("csrf", &csrf), ("definition", GOOD), ("action", "preview")],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains(
            "When an incident is declared or opened by an alert, if its severity is SEV1:"
        ),
        "{html}"
    );
    assert!(html.contains("<li>Add the tasks: Open a bridge; Tell support</li>"));
    assert!(html.contains("<li>Page whoever holds the role commander</li>"));
    assert!(html.contains("name: sev1-basics\ndescription: What every SEV1 gets."));
    refused(
        app.get("/api/v1/workflows/sev1-basics", &app.admin.token),
        404,
        "not_found",
        None,
    )
    .await;

    // Refused for what it names: the reason beside the box, naming the field, the text kept.
    let nobody = GOOD.replace(
        "page: {role: commander}",
        "page: {user: nobody@example.com}",
    );
    let (status, _, html) = form(
        &app,
        &cookie,
        "/workflows/new",
        &[
            ("csrf", &csrf),
            ("definition", &nobody),
            ("action", "preview"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{html}");
    let msg = "At actions[1].page.user: no user has the e-mail nobody@example.com.";
    beside(&html, "workflow-definition", msg);
    assert!(
        html.contains("page: {user: nobody@example.com}\n</textarea>"),
        "{html}"
    );
    assert!(!html.contains("id=\"preview\""));
    // Saving it is refused the same way.
    let (status, _, html) = form(
        &app,
        &cookie,
        "/workflows/new",
        &[("csrf", &csrf), ("definition", &nobody), ("action", "save")],
    )
    .await;
    assert_eq!(status, 400);
    beside(&html, "workflow-definition", msg);
    // Refused as written: a trigger that does not exist, and text that is not YAML.
    let bad = GOOD.replace("on: incident_declared", "on: sometimes");
    let (status, _, html) = form(
        &app,
        &cookie,
        "/workflows/new",
        &[("csrf", &csrf), ("definition", &bad), ("action", "save")],
    )
    .await;
    assert_eq!(status, 400);
    let i = at(&html, "id=\"workflow-definition-error\">") + 31;
    assert!(html[i..].starts_with("At trigger.on: "), "{}", &html[i..]);
    assert!(html.contains("trigger: {on: sometimes}"));
    let (status, _, html) = form(
        &app,
        &cookie,
        "/workflows/new",
        &[
            ("csrf", &csrf),
            ("definition", "name: [unclosed"),
            ("action", "save"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    let i = at(&html, "id=\"workflow-definition-error\">") + 31;
    assert!(html[i..].starts_with("Is not YAML: "), "{}", &html[i..]);
    assert_eq!(
        ok(app.get("/api/v1/workflows", &app.admin.token), 200).await,
        json!([])
    );

    // Saved: to its page.
    let (status, location, _) = form(
        &app,
        &cookie,
        "/workflows/new",
        &[("csrf", &csrf), ("definition", GOOD), ("action", "save")],
    )
    .await;
    assert_eq!((status, location.as_str()), (303, "/workflows/sev1-basics"));
    let w = api_workflow(&app, "sev1-basics").await;
    assert_eq!(
        (w["revision"].as_i64(), w["enabled"].as_bool()),
        (Some(1), Some(true))
    );
    assert_eq!(
        w["actions"][0]["add_tasks"],
        json!(["Open a bridge", "Tell support"])
    );
    // A new one may not take its name.
    let (status, _, html) = form(
        &app,
        &cookie,
        "/workflows/new",
        &[("csrf", &csrf), ("definition", GOOD), ("action", "save")],
    )
    .await;
    assert_eq!(status, 409);
    beside(
        &html,
        "workflow-definition",
        "At name: another workflow is called sev1-basics: choose another name, or edit that one.",
    );

    // Its page: the summary, the YAML, who saved it, no runs yet.
    let page = web_get_as(&app, "/workflows/sev1-basics", &cookie).await;
    assert!(
        page.contains("<title>Workflow sev1-basics · Klaxon</title>"),
        "{page}"
    );
    assert!(
        page.contains(
            "When an incident is declared or opened by an alert, if its severity is SEV1:"
        )
    );
    assert!(
        page.contains("data-testid=\"workflow-yaml\"><code>name: sev1-basics\n"),
        "{page}"
    );
    assert!(page.contains("It has not run yet."));
    let saved = &page[at(&page, "data-testid=\"workflow-revision\">")..];
    assert!(
        saved.starts_with("data-testid=\"workflow-revision\">1, saved <time"),
        "{saved}"
    );
    assert!(
        saved[..saved.find("</dd>").unwrap()].contains(" UTC</time> by "),
        "{saved}"
    );
    assert!(page.contains("id=\"edit-workflow\"") && page.contains("id=\"delete-workflow\""));
    // The list: on, in words, revision 1, never run.
    let list = web_get_as(&app, "/workflows", &cookie).await;
    let row = &list[at(&list, "data-name=\"sev1-basics\"")..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(
        row.contains("<a href=\"/workflows/sev1-basics\">sev1-basics</a>"),
        "{row}"
    );
    assert!(row.contains(">On</span>"), "{row}");
    assert!(row.contains("if its severity is SEV1: Add the tasks: Open a bridge; Tell support; Page whoever holds the role commander."), "{row}");
    assert!(row.contains("<td data-label=\"Revision\">1</td>"), "{row}");
    assert!(row.contains(">never<"), "{row}");

    // Off from the list, on again from its page.
    let (status, location, _) = form(
        &app,
        &cookie,
        "/workflows/sev1-basics/disable",
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!((status, location.as_str()), (303, "/workflows"));
    let w = api_workflow(&app, "sev1-basics").await;
    assert_eq!(
        (w["revision"].as_i64(), w["enabled"].as_bool()),
        (Some(2), Some(false))
    );
    let list = web_get_as(&app, "/workflows", &cookie).await;
    assert!(
        list.contains("action=\"/workflows/sev1-basics/enable\""),
        "{list}"
    );
    assert!(list.contains(">Off</span>"));
    let (status, location, _) = form(
        &app,
        &cookie,
        "/workflows/sev1-basics/enable",
        &[("csrf", &csrf), ("back", "page")],
    )
    .await;
    assert_eq!((status, location.as_str()), (303, "/workflows/sev1-basics"));
    assert_eq!(api_workflow(&app, "sev1-basics").await["enabled"], true);
    // A form without the session's token is refused.
    let (status, _, _) = form(
        &app,
        &cookie,
        "/workflows/sev1-basics/disable",
        &[("csrf", "0".repeat(64).as_str())],
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(api_workflow(&app, "sev1-basics").await["enabled"], true);

    // The editor holds the definition as YAML at its revision; an edit from an older one is
    // refused (someone saved meanwhile), the text kept; from the current one it is saved.
    let (status, edit) = get_as(&app, "/workflows/sev1-basics/edit", &cookie).await;
    assert_eq!(status, 200);
    assert!(edit.contains("name=\"revision\" value=\"3\""), "{edit}");
    assert!(edit.contains("name: sev1-basics\n"), "{edit}");
    // Its YAML saved as it is changes nothing.
    let (status, location, _) = form(
        &app,
        &cookie,
        "/workflows/sev1-basics/edit",
        &[
            ("csrf", &csrf),
            ("definition", &textarea(&edit)),
            ("revision", "3"),
            ("action", "save"),
        ],
    )
    .await;
    assert_eq!((status, location.as_str()), (303, "/workflows/sev1-basics"));
    assert_eq!(api_workflow(&app, "sev1-basics").await["revision"], 3);
    let changed = GOOD.replace("What every SEV1 gets.", "Changed from the web.");
    let (status, _, html) = form(
        &app,
        &cookie,
        "/workflows/sev1-basics/edit",
        &[
            ("csrf", &csrf),
            ("definition", &changed),
            ("revision", "2"),
            ("action", "save"),
        ],
    )
    .await;
    assert_eq!(status, 409);
    let i = at(&html, "id=\"workflow-definition-error\">") + 31;
    assert!(
        html[i..].starts_with("Someone saved this workflow meanwhile"),
        "{}",
        &html[i..]
    );
    assert!(html.contains("Changed from the web."));
    let (status, location, _) = form(
        &app,
        &cookie,
        "/workflows/sev1-basics/edit",
        &[
            ("csrf", &csrf),
            ("definition", &changed),
            ("revision", "3"),
            ("action", "save"),
        ],
    )
    .await;
    assert_eq!((status, location.as_str()), (303, "/workflows/sev1-basics"));
    let w = api_workflow(&app, "sev1-basics").await;
    assert_eq!(w["revision"], 4);
    assert_eq!(w["description"], "Changed from the web.");
    // Renamed in the editor: its page moves with it.
    let renamed = changed.replace("name: sev1-basics", "name: major-basics");
    let (status, location, _) = form(
        &app,
        &cookie,
        "/workflows/sev1-basics/edit",
        &[
            ("csrf", &csrf),
            ("definition", &renamed),
            ("revision", "4"),
            ("action", "save"),
        ],
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/workflows/major-basics")
    );
    let (status, _) = get_as(&app, "/workflows/sev1-basics", &cookie).await;
    assert_eq!(status, 404);

    // Deleted.
    let (status, location, _) = form(
        &app,
        &cookie,
        "/workflows/major-basics/delete",
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!((status, location.as_str()), (303, "/workflows"));
    refused(
        app.get("/api/v1/workflows/major-basics", &app.admin.token),
        404,
        "not_found",
        None,
    )
    .await;
    let (status, _) = get_as(&app, "/workflows/major-basics", &cookie).await;
    assert_eq!(status, 404);
    app.stop().await;
}

async fn readers_see_workflows_but_cannot_change_them(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    ok(
        app.post(
            "/api/v1/workflows",
            &app.admin.token,
            &json!({"name": "sev1-basics", "trigger": {"on": "incident_declared"},
                    "conditions": {"severity": ["SEV1"]},
                    "actions": [{"add_tasks": ["Open a bridge"]}]}),
        ),
        201,
    )
    .await;
    member(&app, "vera@example.com", "Vera", "viewer").await;
    member(&app, "rita@example.com", "Rita", "responder").await;
    for email in ["vera@example.com", "rita@example.com"] {
        let (cookie, csrf) = session_for(&app, email, common::PASSWORD).await;
        let list = web_get_as(&app, "/workflows", &cookie).await;
        assert!(list.contains("href=\"/workflows\""), "{email}: in the menu");
        assert!(
            list.contains("<a href=\"/workflows/sev1-basics\">sev1-basics</a>"),
            "{list}"
        );
        assert!(list.contains("Add the tasks: Open a bridge."), "{list}");
        assert!(
            !list.contains("new-workflow") && !list.contains("Turn off"),
            "{list}"
        );
        let (status, page) = get_as(&app, "/workflows/sev1-basics", &cookie).await;
        assert_eq!(status, 200);
        assert!(page.contains("data-testid=\"workflow-yaml\""), "{page}");
        assert!(page.contains("if its severity is SEV1:"), "{page}");
        for control in [
            "edit-workflow",
            "toggle-workflow",
            "delete-workflow",
            "/disable",
        ] {
            assert!(!page.contains(control), "{email} sees {control}");
        }
        for path in ["/workflows/new", "/workflows/sev1-basics/edit"] {
            let (status, _) = get_as(&app, path, &cookie).await;
            assert_eq!(status, 403, "{email} {path}");
        }
        for (path, fields) in [
            (
                "/workflows/new",
                vec![("definition", GOOD), ("action", "save")],
            ),
            (
                "/workflows/sev1-basics/edit",
                vec![("definition", GOOD), ("revision", "1"), ("action", "save")],
            ),
            ("/workflows/sev1-basics/disable", vec![]),
            ("/workflows/sev1-basics/delete", vec![]),
        ] {
            let mut fields = fields;
            fields.push(("csrf", csrf.as_str()));
            let (status, _, _) = form(&app, &cookie, path, &fields).await;
            assert_eq!(status, 403, "{email} {path}");
        }
    }
    let w = api_workflow(&app, "sev1-basics").await;
    assert_eq!(
        (w["revision"].as_i64(), w["enabled"].as_bool()),
        (Some(1), Some(true))
    );
    app.stop().await;
}

async fn the_incident_page_shows_what_workflows_did(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    // Nothing listens on port 9: the call fails, and stops the rest.
    ok(
        app.post(
            "/api/v1/webhooks",
            &app.admin.token,
            &json!({"name": "chatops", "url": "http://127.0.0.1:9/hook",
                    "events": ["incident.merged"]}),
        ),
        201,
    )
    .await;
    ok(
        app.post(
            "/api/v1/workflows",
            &app.admin.token,
            &json!({"name": "sev1-basics", "trigger": {"on": "incident_declared"},
                    "conditions": {"severity": ["SEV1"]},
                    "actions": [{"add_tasks": ["Open a bridge"]},
                                {"call_webhook": {"webhook": "chatops"}, "stop_on_failure": true},
                                {"add_tasks": ["Tell support"]}]}),
        ),
        201,
    )
    .await;
    let declare = |title: &'static str, severity: &'static str| {
        let app = &app;
        async move {
            ok(
                app.post(
                    "/api/v1/incidents",
                    &app.admin.token,
                    &json!({"title": title, "severity": severity}),
                ),
                201,
            )
            .await
        }
    };
    let major = declare("Checkout is down", "SEV1").await;
    let minor = declare("A typo on the blog", "SEV3").await;
    app.state.engine.tick().await.unwrap();
    let (cookie, _) = session_for(&app, &app.admin.email, &app.admin.password).await;
    let page = web_get_as(
        &app,
        &format!("/incidents/{}", major["id"].as_str().unwrap()),
        &cookie,
    )
    .await;
    let section = &page[at(&page, "id=\"workflows-section\"")..];
    let section = &section[..section.find("</section>").unwrap()];
    assert!(
        section.contains("<h2 id=\"workflows-title\">Workflows</h2>"),
        "{section}"
    );
    assert!(
        section.contains("<a href=\"/workflows/sev1-basics\">sev1-basics</a>"),
        "{section}"
    );
    assert!(
        section.contains("ran <time datetime=\"2026-11-21T09:00:00Z\""),
        "{section}"
    );
    assert!(
        section.contains("data-testid=\"workflow-run-state\">Stopped: an action failed</strong>"),
        "{section}"
    );
    let actions: Vec<&str> = section
        .split("data-testid=\"workflow-action\"")
        .skip(1)
        .collect();
    assert_eq!(actions.len(), 3, "{section}");
    assert!(
        actions[0].contains("data-state=\"succeeded\"")
            && actions[0].contains("Succeeded</span>: Add the tasks: Open a bridge"),
        "{}",
        actions[0]
    );
    assert!(
        actions[0].contains("(added 1 task, <time"),
        "{}",
        actions[0]
    );
    assert!(
        actions[1].contains("Failed</span>: Call the webhook chatops")
            && actions[1].contains("127.0.0.1"),
        "{}",
        actions[1]
    );
    assert!(actions[2].contains("Skipped</span>: Add the tasks: Tell support <span class=\"muted\">(an action before it failed and stops the rest"), "{}", actions[2]);
    // The task it added is on the incident.
    assert!(page.contains("Open a bridge"));
    // An incident no workflow ran on has no such section.
    let page = web_get_as(
        &app,
        &format!("/incidents/{}", minor["id"].as_str().unwrap()),
        &cookie,
    )
    .await;
    assert!(!page.contains("workflows-section"));
    // The workflow's page lists the run with its incident.
    let page = web_get_as(&app, "/workflows/sev1-basics", &cookie).await;
    let runs = &page[at(&page, "id=\"workflow-runs\"")..];
    assert!(
        runs.contains(&format!(
            "<a href=\"/incidents/{}\">#{} Checkout is down</a>",
            major["id"].as_str().unwrap(),
            major["number"]
        )),
        "{runs}"
    );
    assert!(runs.contains("Stopped: an action failed"));
    assert_eq!(runs.matches("data-testid=\"workflow-run\"").count(), 1);
    let list = web_get_as(&app, "/workflows", &cookie).await;
    assert!(
        list.contains("<span class=\"outcome-stopped\">Stopped: an action failed</span>"),
        "{list}"
    );
    app.stop().await;
}
