//! Runbooks as versioned code, on both backends: saved through the API as immutable versions
//! (the same text twice writes nothing, a stale base is refused), read back with their steps,
//! compared and restored; bad documents refused naming the place; command steps for admins
//! only; a directory synced idempotently, a bad file leaving everything as it was; suggested
//! on an incident by its service and by its alerts; and the pages: editor, preview, refusal
//! beside the box with the text kept, history, diff, restore.
use crate::common;

use common::*;
use serde_json::{Value, json};

on_both_backends!(
    versions_are_kept_compared_and_restored,
    bad_runbooks_are_refused_naming_the_place,
    a_directory_syncs_idempotently_and_all_or_nothing,
    incidents_suggest_runbooks_by_service_and_alert,
    the_pages_edit_preview_and_restore,
    files_upload_from_the_list_page,
);

fn source(name: &str, services: &str, step: &str) -> String {
    format!(
        "---\nname: {name}\nservices: [{services}]\nparams:\n  - name: host\n    default: \"{{{{ alert.details.host }}}}\"\n---\n# Restart {name}\n\nWhen it hangs.\n\n## Check the graphs\nLook first.\n\n{step}"
    )
}

const HTTP_STEP: &str = "## Drain\n```klaxon-http\nmethod: POST\nurl: \"https://lb.example/drain/{{ params.host }}\"\n```\n";
const APPROVAL_STEP: &str = "## Approve\n```klaxon-approval\nrole: commander\n```\n";
const COMMAND_STEP: &str =
    "## Restart\n```klaxon-command\nrun: [systemctl, restart, \"{{ params.host }}\"]\n```\n";

async fn create_service(app: &TestApp, name: &str) -> String {
    let s = ok(
        app.post("/api/v1/services", &app.admin.token, &json!({"name": name})),
        201,
    )
    .await;
    s["id"].as_str().unwrap().to_owned()
}

async fn versions_are_kept_compared_and_restored(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    create_service(&app, "web").await;
    let responder = member(&app, "rita@example.com", "Rita", "responder").await;
    let v1 = source("restart-web", "web", HTTP_STEP);
    let made = ok(
        app.post(
            "/api/v1/runbooks",
            &responder.token,
            &json!({"source": v1, "message": "first cut"}),
        ),
        201,
    )
    .await;
    assert_eq!(made["outcome"], "created");
    assert_eq!(made["runbook"]["version"], 1);
    let id = made["runbook"]["id"].as_str().unwrap().to_owned();

    // Read back by name: its steps, parameters and services.
    let r = ok(
        app.get("/api/v1/runbooks/restart-web", &responder.token),
        200,
    )
    .await;
    assert_eq!(r["id"], id.as_str());
    assert_eq!(r["title"], "Restart restart-web");
    assert_eq!(r["source"], v1.as_str());
    let kinds: Vec<&str> = r["parsed"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["manual", "http"]);
    assert_eq!(r["parsed"]["params"][0]["name"], "host");
    assert_eq!(r["parsed"]["params"][0]["required"], false);
    assert_eq!(r["services"].as_array().unwrap().len(), 1);

    // The same text again writes nothing; a change is version 2.
    let path = format!("/api/v1/runbooks/{id}");
    let same = ok(
        put(&app, &path, &responder.token).json(&json!({"source": v1})),
        200,
    )
    .await;
    assert_eq!(same["outcome"], "unchanged");
    assert_eq!(same["runbook"]["version"], 1);
    let v2 = source("restart-web", "web", APPROVAL_STEP);
    let saved = ok(
        put(&app, &path, &responder.token)
            .json(&json!({"source": v2, "message": "approve first", "base_version": 1})),
        200,
    )
    .await;
    assert_eq!(
        (&saved["outcome"], &saved["runbook"]["version"]),
        (&json!("updated"), &json!(2))
    );
    // Saved on top of version 1 again: someone else's version 2 is not lost.
    refused(
        put(&app, &path, &responder.token).json(&json!({"source": v1, "base_version": 1})),
        409,
        "conflict",
        Some("source"),
    )
    .await;

    let versions = ok(app.get(&format!("{path}/versions"), &responder.token), 200).await;
    let listed: Vec<(i64, &str, &str)> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_i64().unwrap(),
                v["author"].as_str().unwrap(),
                v["message"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [(2, "Rita", "approve first"), (1, "Rita", "first cut")]
    );
    let one = ok(
        app.get(&format!("{path}/versions/1"), &responder.token),
        200,
    )
    .await;
    assert_eq!(one["source"], v1.as_str());
    assert_eq!(one["digest"].as_str().unwrap().len(), 64);

    // The diff: the HTTP step's lines went, the approval's came.
    let d = ok(app.get(&format!("{path}/diff"), &responder.token), 200).await;
    assert_eq!((d["from"].as_i64(), d["to"].as_i64()), (Some(1), Some(2)));
    let changed: Vec<String> = d["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["op"] != "same")
        .map(|l| {
            format!(
                "{} {}",
                l["op"].as_str().unwrap(),
                l["text"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        changed.contains(&"removed ## Drain".to_owned()),
        "{changed:?}"
    );
    assert!(
        changed.contains(&"added ## Approve".to_owned()),
        "{changed:?}"
    );
    assert!(
        changed.iter().all(|l| !l.contains("Check the graphs")),
        "{changed:?}"
    );
    refused(
        app.get(&format!("{path}/diff?from=9"), &responder.token),
        400,
        "invalid_field",
        Some("from"),
    )
    .await;

    // Restoring version 1 makes version 3 with version 1's text.
    let back = ok(
        app.post(
            &format!("{path}/versions/1/restore"),
            &responder.token,
            &json!({}),
        ),
        200,
    )
    .await;
    assert_eq!(back["runbook"]["version"], 3);
    let now = ok(app.get(&path, &responder.token), 200).await;
    assert_eq!(now["source"], v1.as_str());
    assert_eq!(now["digest"], one["digest"]);
    let v3 = ok(
        app.get(&format!("{path}/versions/3"), &responder.token),
        200,
    )
    .await;
    assert_eq!(v3["message"], "Restored version 1");

    // Every save is an event of the runbook, in the same transaction as the version.
    let events = ok(
        app.get(
            &format!("/api/v1/events?subject_type=runbook&subject_id={id}"),
            &app.admin.token,
        ),
        200,
    )
    .await;
    let mut kinds: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "runbook.created",
            "runbook.version_saved",
            "runbook.version_saved"
        ]
    );

    // A viewer reads but does not write; deleting is an admin's.
    let viewer = member(&app, "vic@example.com", "Vic", "viewer").await;
    ok(app.get("/api/v1/runbooks", &viewer.token), 200).await;
    refused(
        put(&app, &path, &viewer.token).json(&json!({"source": v2})),
        403,
        "forbidden",
        None,
    )
    .await;
    refused(
        delete(&app, &path, &responder.token),
        403,
        "forbidden",
        None,
    )
    .await;
    ok(delete(&app, &path, &app.admin.token), 204).await;
    refused(app.get(&path, &viewer.token), 404, "not_found", None).await;
    app.stop().await;
}

async fn bad_runbooks_are_refused_naming_the_place(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    create_service(&app, "web").await;
    let responder = member(&app, "rita@example.com", "Rita", "responder").await;
    let create = |src: String| {
        app.post(
            "/api/v1/runbooks",
            &responder.token,
            &json!({"source": src}),
        )
    };
    // A template naming a field incidents do not have.
    let bad_field = source(
        "a",
        "web",
        "## Call\n```klaxon-http\nurl: \"https://x/{{ incident.owner }}\"\n```\n",
    );
    let e = refused(
        create(bad_field),
        400,
        "invalid_field",
        Some("steps[2].http.url"),
    )
    .await;
    assert!(
        e["message"].as_str().unwrap().contains("incident.owner"),
        "{e}"
    );
    // An unknown service, by its place in the front matter.
    let e = refused(
        create(source("a", "web, nowhere", "")),
        400,
        "invalid_field",
        Some("front_matter.services[1]"),
    )
    .await;
    assert!(e["message"].as_str().unwrap().contains("nowhere"), "{e}");
    // An unknown field in a step's block.
    refused(
        create(source(
            "a",
            "web",
            "## Run\n```klaxon-approval\nrole: commander\nwho: me\n```\n",
        )),
        400,
        "invalid_field",
        Some("steps[2].approval.who"),
    )
    .await;
    refused(
        create("no front matter".into()),
        400,
        "invalid_field",
        Some("source"),
    )
    .await;
    // Command steps are an admin's to write.
    let with_command = source("cmd", "web", COMMAND_STEP);
    let e = refused(create(with_command.clone()), 403, "forbidden", None).await;
    assert!(e["message"].as_str().unwrap().contains("admin"), "{e}");
    ok(
        app.post(
            "/api/v1/runbooks",
            &app.admin.token,
            &json!({"source": with_command}),
        ),
        201,
    )
    .await;
    // A taken name.
    refused(
        app.post(
            "/api/v1/runbooks",
            &app.admin.token,
            &json!({"source": source("cmd", "web", "")}),
        ),
        409,
        "conflict",
        Some("front_matter.name"),
    )
    .await;
    // Nothing half-written: one runbook, one version.
    let all = ok(app.get("/api/v1/runbooks", &responder.token), 200).await;
    assert_eq!(all.as_array().unwrap().len(), 1, "{all}");
    assert_eq!(all[0]["has_commands"], true);
    // Checking says the same as saving would, and writes nothing.
    let checked = ok(
        app.post(
            "/api/v1/runbooks/check",
            &responder.token,
            &json!({"source": source("x", "web", HTTP_STEP)}),
        ),
        200,
    )
    .await;
    assert_eq!(checked["parsed"]["steps"][1]["kind"], "http");
    refused(
        app.post(
            "/api/v1/runbooks/check",
            &responder.token,
            &json!({"source": source("x", "nowhere", "")}),
        ),
        400,
        "invalid_field",
        Some("front_matter.services[0]"),
    )
    .await;
    app.stop().await;
}

/// The control `id` is marked invalid and its message, right after it, says `needle`.
fn near(html: &str, id: &str, needle: &str) {
    let control = at(html, &format!("id=\"{id}\""));
    let tag = &html[html[..control].rfind('<').unwrap()..];
    let tag = &tag[..tag.find('>').unwrap()];
    assert!(tag.contains("aria-invalid=\"true\""), "{tag}");
    let error = at(html, &format!("id=\"{id}-error\""));
    assert!(control < error);
    let text = &html[error..];
    let text = &text[..text.find("</p>").unwrap()];
    assert!(text.contains(needle), "{text} lacks {needle}");
}

fn sync_body(files: &[(&str, String)], dry_run: bool) -> Value {
    json!({
        "files": files.iter().map(|(p, s)| json!({"path": p, "source": s})).collect::<Vec<_>>(),
        "dry_run": dry_run,
    })
}

fn outcomes(report: &Value) -> Vec<(String, String, i64)> {
    report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_owned(),
                f["outcome"].as_str().unwrap().to_owned(),
                f["version"].as_i64().unwrap(),
            )
        })
        .collect()
}

async fn a_directory_syncs_idempotently_and_all_or_nothing(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    create_service(&app, "web").await;
    let token = &app.admin.token;
    // A file without a name in its front matter is named by the file.
    let unnamed = "---\ntitle: Disk full\n---\n## Free space\nDelete old logs.\n".to_owned();
    let files = vec![
        ("web/restart.md", source("restart-web", "web", HTTP_STEP)),
        ("disk-full.md", unnamed.clone()),
    ];
    let dry = ok(
        app.post("/api/v1/runbooks/sync", token, &sync_body(&files, true)),
        200,
    )
    .await;
    assert_eq!(dry["dry_run"], true);
    assert_eq!(
        outcomes(&dry),
        [
            ("restart-web".into(), "created".into(), 1),
            ("disk-full".into(), "created".into(), 1)
        ]
    );
    assert_eq!(ok(app.get("/api/v1/runbooks", token), 200).await, json!([]));
    let first = ok(
        app.post("/api/v1/runbooks/sync", token, &sync_body(&files, false)),
        200,
    )
    .await;
    assert_eq!(outcomes(&first), outcomes(&dry));
    let again = ok(
        app.post("/api/v1/runbooks/sync", token, &sync_body(&files, false)),
        200,
    )
    .await;
    assert_eq!(
        outcomes(&again),
        [
            ("restart-web".into(), "unchanged".into(), 1),
            ("disk-full".into(), "unchanged".into(), 1)
        ]
    );
    // One file changed, one refused: nothing is written, and the refusal names the file.
    let changed = vec![
        (
            "web/restart.md",
            source("restart-web", "web", APPROVAL_STEP),
        ),
        ("broken.md", "---\nname: Broken Name\n---\n".to_owned()),
    ];
    let e = refused(
        app.post("/api/v1/runbooks/sync", token, &sync_body(&changed, false)),
        400,
        "invalid_field",
        Some("files[1].front_matter.name"),
    )
    .await;
    assert!(e["message"].as_str().unwrap().contains("broken.md"), "{e}");
    let r = ok(app.get("/api/v1/runbooks/restart-web", token), 200).await;
    assert_eq!(r["version"], 1);
    // Two files with one name are refused too.
    let twice = vec![
        ("a/disk-full.md", unnamed.clone()),
        ("b/disk-full.md", unnamed),
    ];
    refused(
        app.post("/api/v1/runbooks/sync", token, &sync_body(&twice, false)),
        400,
        "invalid_field",
        Some("files[1]"),
    )
    .await;
    let fixed = ok(
        app.post(
            "/api/v1/runbooks/sync",
            token,
            &sync_body(&changed[..1], false),
        ),
        200,
    )
    .await;
    assert_eq!(
        outcomes(&fixed),
        [("restart-web".into(), "updated".into(), 2)]
    );
    app.stop().await;
}

async fn incidents_suggest_runbooks_by_service_and_alert(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let token = &app.admin.token;
    let web = create_service(&app, "web").await;
    create_service(&app, "db").await;
    let integration = ok(
        app.post(
            &format!("/api/v1/services/{web}/integrations"),
            token,
            &json!({"name": "prom", "kind": "events_v2"}),
        ),
        201,
    )
    .await;
    for src in [
        source("web-restart", "web", ""),
        source("db-failover", "db", ""),
        "---\nname: disk-full\ntitle: Disk full\nmatch:\n  - details.disk.mount: /var/*\n    severity: critical\n---\n## Free space\n".to_owned(),
        "---\nname: cpu\nmatch:\n  - details.disk.mount: /home\n---\n".to_owned(),
    ] {
        ok(app.post("/api/v1/runbooks", token, &json!({"source": src})), 201).await;
    }
    let r = app
        .http
        .post(format!("{}/v2/enqueue", app.url))
        .json(&json!({
            "routing_key": integration["key"], "event_action": "trigger", "dedup_key": "disk",
            "payload": {"summary": "Disk full on web-1", "source": "web-1", "severity": "critical",
                        "custom_details": {"disk": {"mount": "/var/lib"}}}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let incidents = ok(app.get("/api/v1/incidents", token), 200).await;
    let number = incidents["items"][0]["number"].as_i64().unwrap();
    let s = ok(
        app.get(&format!("/api/v1/incidents/{number}/runbooks"), token),
        200,
    )
    .await;
    let got: Vec<(&str, Vec<&str>)> = s
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["runbook"]["name"].as_str().unwrap(),
                x["reasons"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r.as_str().unwrap())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("disk-full", vec!["alert"]),
            ("web-restart", vec!["service"])
        ]
    );
    // The incident page lists them.
    let iid = incidents["items"][0]["id"].as_str().unwrap();
    let page = web_get(&app, &format!("/incidents/{iid}")).await;
    let section = &page[at(&page, "id=\"runbooks-section\"")..];
    let section = &section[..at(section, "</section>")];
    assert!(
        section.contains("Disk full") && section.contains("Restart web-restart"),
        "{section}"
    );
    // The others are offered under "Run another runbook", not as suggestions.
    let suggested = &section[..at(section, "</ul>")];
    assert!(!suggested.contains("db-failover"), "{section}");
    let picker = &section[at(section, "id=\"other-runbook\"")..];
    assert!(picker.contains("Restart db-failover"), "{section}");
    assert!(!picker.contains("Disk full"), "{section}");
    app.stop().await;
}

async fn the_pages_edit_preview_and_restore(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    create_service(&app, "web").await;
    let (cookie, csrf) = session_for(&app, &app.admin.email, &app.admin.password).await;
    let editor = web_get_as(&app, "/runbooks/new", &cookie).await;
    assert!(editor.contains("id=\"runbook-source\""), "{editor}");

    // A preview shows what the text says and saves nothing.
    let v1 = source("restart-web", "web", HTTP_STEP);
    let (status, _, html) = form(
        &app,
        &cookie,
        "/runbooks/new",
        &[("csrf", &csrf), ("source", &v1), ("action", "preview")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(html.contains("Preview: Restart restart-web"), "{html}");
    assert!(html.contains("HTTP request"), "{html}");
    let list = web_get_as(&app, "/runbooks", &cookie).await;
    assert!(list.contains("No runbooks yet."), "{list}");

    // A refusal comes back beside the box, the text kept.
    let bad = source("restart-web", "nowhere", "");
    let (status, _, html) = form(
        &app,
        &cookie,
        "/runbooks/new",
        &[("csrf", &csrf), ("source", &bad), ("action", "save")],
    )
    .await;
    assert_eq!(status, 400);
    near(&html, "runbook-source", "front_matter.services[0]");
    near(&html, "runbook-source", "nowhere");
    assert!(
        html.contains("services: [nowhere]"),
        "the text is kept: {html}"
    );

    let (status, location, _) = form(
        &app,
        &cookie,
        "/runbooks/new",
        &[
            ("csrf", &csrf),
            ("source", &v1),
            ("message", "first"),
            ("action", "save"),
        ],
    )
    .await;
    assert_eq!(status, 303, "{location}");
    let page = web_get_as(&app, &location, &cookie).await;
    assert!(
        page.contains("Restart restart-web") && page.contains("Drain"),
        "{page}"
    );
    let id = location.trim_start_matches("/runbooks/").to_owned();

    // An edit from version 1 makes version 2; the history compares them.
    let v2 = source("restart-web", "web", APPROVAL_STEP);
    let (status, _, _) = form(
        &app,
        &cookie,
        &format!("/runbooks/{id}/edit"),
        &[
            ("csrf", &csrf),
            ("source", &v2),
            ("base_version", "1"),
            ("action", "save"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let history = web_get_as(&app, &format!("/runbooks/{id}/versions"), &cookie).await;
    assert!(
        history.contains("data-testid=\"runbook-diff\""),
        "{history}"
    );
    assert!(history.contains("<li class=\"added\">"), "{history}");
    // A stale edit (from version 1 again) is refused beside the box.
    let (status, _, html) = form(
        &app,
        &cookie,
        &format!("/runbooks/{id}/edit"),
        &[
            ("csrf", &csrf),
            ("source", &v1),
            ("base_version", "1"),
            ("action", "save"),
        ],
    )
    .await;
    assert_eq!(status, 409);
    near(
        &html,
        "runbook-source",
        "nother version was saved meanwhile",
    );

    let (status, location, _) = form(
        &app,
        &cookie,
        &format!("/runbooks/{id}/versions/1/restore"),
        &[("csrf", &csrf), ("message", "the approval was wrong")],
    )
    .await;
    assert_eq!(status, 303);
    let page = web_get_as(&app, &location, &cookie).await;
    assert!(page.contains("data-testid=\"runbook-version\">3"), "{page}");
    let v3 = ok(
        app.get(
            &format!("/api/v1/runbooks/{id}/versions/3"),
            &app.admin.token,
        ),
        200,
    )
    .await;
    assert_eq!(v3["message"], "Restored version 1: the approval was wrong");
    assert_eq!(v3["source"], v1.as_str());
    app.stop().await;
}

/// A multipart/form-data body of text fields and files, as a browser sends the upload form.
fn multipart(fields: &[(&str, &str)], files: &[(&str, &str)]) -> (String, String) {
    let boundary = "klaxon-test-boundary-7MA4YWxk";
    let mut body = String::new();
    for (k, v) in fields {
        body +=
            &format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n");
    }
    for (name, text) in files {
        body += &format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\nContent-Type: text/markdown\r\n\r\n{text}\r\n"
        );
    }
    body += &format!("--{boundary}--\r\n");
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn files_upload_from_the_list_page(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    create_service(&app, "web").await;
    let (cookie, csrf) = session_for(&app, &app.admin.email, &app.admin.password).await;
    let post = |fields: Vec<(&'static str, String)>, files: Vec<(&'static str, String)>| {
        let f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let fl: Vec<(&str, &str)> = files.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (ct, body) = multipart(&f, &fl);
        app.http
            .post(format!("{}/runbooks/sync", app.url))
            .header("cookie", &cookie)
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let restart = source("restart-web", "web", HTTP_STEP);
    let disk = "---\ntitle: Disk full\n---\n## Free space\n".to_owned();
    let r = post(
        vec![("csrf", csrf.clone()), ("dry_run", "yes".into())],
        vec![
            ("restart.md", restart.clone()),
            ("disk-full.md", disk.clone()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("Dry run: nothing was written"), "{html}");
    assert!(html.contains("created <code>disk-full</code>"), "{html}");
    assert_eq!(
        ok(app.get("/api/v1/runbooks", &app.admin.token), 200).await,
        json!([])
    );
    let r = post(
        vec![("csrf", csrf.clone())],
        vec![("restart.md", restart.clone()), ("disk-full.md", disk)],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let all = ok(app.get("/api/v1/runbooks", &app.admin.token), 200).await;
    assert_eq!(all.as_array().unwrap().len(), 2, "{all}");
    // A bad file: refused beside the file box, naming the file; nothing saved.
    let r = post(
        vec![("csrf", csrf.clone())],
        vec![("broken.md", "---\nname: Bad Name\n---\n".into())],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    near(&html, "sync-files", "broken.md");
    // No files chosen; and a forged form.
    let r = post(vec![("csrf", csrf.clone())], vec![]).await.unwrap();
    assert_eq!(r.status(), 400);
    let r = post(vec![("csrf", "forged".into())], vec![("x.md", restart)])
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    app.stop().await;
}
