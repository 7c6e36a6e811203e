//! `klaxon incidents …` against a running server: declaring, changing fields and links,
//! lifecycle moves, milestones, roles, tasks, notes, pins, the timeline as JSON and Markdown,
//! and incident settings.
use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::support;
use support::*;

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The command failed, and said why on standard error.
fn refused(out: &Output, needles: &[&str]) {
    assert!(!out.status.success(), "expected a failure: {out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    for n in needles {
        assert!(err.contains(n), "{n:?} not in {err:?}");
    }
}

/// Creates a responder through the CLI and returns their id and an API token acting for them
/// (made offline, on the server's own database).
fn responder(server: &Server, email: &str) -> (String, String) {
    let mut child = Command::new(BIN)
        .args([
            "users",
            "create",
            "--email",
            email,
            "--name",
            "Grace Responder",
            "--role",
            "responder",
            "--json",
        ])
        .env("KLAXON_URL", &server.url)
        .env("KLAXON_TOKEN", &server.token)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a long enough password\n")
        .unwrap();
    let user = json_of(&child.wait_with_output().unwrap());
    let token = Command::new(BIN)
        .args([
            "token",
            "create",
            "--name",
            "grace",
            "--role",
            "responder",
            "--user",
            email,
        ])
        .current_dir(server._dir.path())
        .env_remove("KLAXON_DATABASE_URL")
        .env_remove("KLAXON_CONFIG")
        .output()
        .unwrap();
    let token = stdout(&token).trim().to_owned();
    assert!(token.starts_with("klx_"), "{token}");
    (user["id"].as_str().unwrap().to_owned(), token)
}

fn as_user(server: &Server, token: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("KLAXON_URL", &server.url)
        .env("KLAXON_TOKEN", token)
        .output()
        .unwrap()
}

#[test]
fn an_incident_from_declaration_to_closure_through_the_cli() {
    let server = start();
    let run = |args: &[&str]| klaxon(&server, args);
    let me = json_of(&run(&["me", "--json"]));
    let me = me["user"]["id"].as_str().unwrap().to_owned();
    let service = json_of(&run(&[
        "services", "create", "--name", "Checkout", "--json",
    ]));
    let sid = service["id"].as_str().unwrap();

    // Declared with the service's name, through the singular alias of the example.
    let declared = json_of(&run(&[
        "incident",
        "declare",
        "--title",
        "Card payments failing",
        "--severity",
        "SEV2",
        "--service",
        "Checkout",
        "--category",
        "payments",
        "--subcategory",
        "cards",
        "--json",
    ]));
    let id = declared["id"].as_str().unwrap().to_owned();
    let id = id.as_str();
    assert_eq!(declared["service_id"], sid);
    assert_eq!(declared["severity"], "SEV2");
    assert_eq!(declared["impact"], "high");
    assert_eq!(declared["urgency"], "medium");
    assert_eq!(declared["priority"], "P2");
    assert_eq!(declared["category"], "payments");
    assert_eq!(declared["reporter_id"], me.as_str());
    // Nobody is paged for a service without a policy: the declarer is on it.
    assert_eq!(declared["status"], "acknowledged");
    assert!(declared["milestones"]["declared_at"].is_string());

    let unknown = run(&[
        "incidents",
        "declare",
        "--title",
        "x",
        "--severity",
        "SEV3",
        "--service",
        "No such service",
    ]);
    refused(
        &unknown,
        &[
            "400",
            "service_id: no service is called \"No such service\"",
        ],
    );

    let shown = stdout(&run(&["incidents", "show", id]));
    for needle in [
        "Card payments failing",
        "severity:  SEV2",
        "priority:  P2",
        "impact:    high",
        "urgency:   medium",
        "category:  payments / cards",
        "reporter:  ",
        me.as_str(),
        "milestones:",
        "declared",
        "Incident commander",
    ] {
        assert!(shown.contains(needle), "{needle:?} not in\n{shown}");
    }

    // Fields: priority follows impact and urgency; an empty string clears a label.
    let updated = json_of(&run(&[
        "incidents",
        "update",
        id,
        "--severity",
        "SEV3",
        "--impact",
        "low",
        "--subcategory",
        "",
        "--json",
    ]));
    assert_eq!(updated["severity"], "SEV3");
    assert_eq!(updated["impact"], "low");
    assert_eq!(updated["priority"], "P4");
    assert_eq!(updated["category"], "payments");
    assert!(updated["subcategory"].is_null(), "{updated}");
    refused(
        &run(&["incidents", "update", id, "--impact", "huge"]),
        &["400", "impact"],
    );

    // Milestones keep their order; the refusal names the milestone to blame.
    refused(
        &run(&[
            "incidents",
            "milestones",
            id,
            "--impact-started-at",
            "2020-01-02T00:00:00Z",
            "--detected-at",
            "2020-01-01T00:00:00Z",
        ]),
        &["400", "detected_at", "impact_started_at", "order"],
    );
    let edited = json_of(&run(&[
        "incidents",
        "milestones",
        id,
        "--impact-started-at",
        "2020-01-01T00:00:00Z",
        "--json",
    ]));
    assert_eq!(
        edited["milestones"]["impact_started_at"],
        "2020-01-01T00:00:00Z"
    );
    let listed = stdout(&run(&["incidents", "milestones", id]));
    assert!(
        listed.contains("impact started") && listed.contains("2020-01-01T00:00:00Z"),
        "{listed}"
    );
    let cleared = json_of(&run(&[
        "incidents",
        "milestones",
        id,
        "--impact-started-at",
        "none",
        "--json",
    ]));
    assert!(cleared["milestones"]["impact_started_at"].is_null());

    // Roles: assigned, listed, ended, and kept in the history.
    let (grace, grace_token) = responder(&server, "grace@example.com");
    let assigned = json_of(&run(&[
        "incidents",
        "assign",
        id,
        "--role",
        "scribe",
        "--user",
        &grace,
        "--json",
    ]));
    // The answer is the role assignment.
    assert_eq!(
        (assigned["role"].as_str(), assigned["user_id"].as_str()),
        (Some("scribe"), Some(grace.as_str())),
        "{assigned}"
    );
    assert!(assigned["id"].is_string(), "{assigned}");
    let roles = json_of(&run(&["incidents", "roles", id, "--json"]));
    let holds = |roles: &Value, role: &str, user: &str| {
        roles["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["role"] == role && r["user_id"] == user && r["ended_at"].is_null())
    };
    assert!(holds(&roles, "scribe", &grace), "{roles}");
    assert!(holds(&roles, "commander", &me), "{roles}");
    let table = stdout(&run(&["incidents", "roles", id]));
    assert!(table.contains("Grace Responder"), "{table}");
    refused(
        &run(&[
            "incidents",
            "assign",
            id,
            "--role",
            "scribe",
            "--user",
            &grace,
        ]),
        &["409", "already holds the role scribe"],
    );
    stdout(&run(&[
        "incidents",
        "unassign",
        id,
        "--role",
        "scribe",
        "--user",
        &grace,
    ]));
    let roles = json_of(&run(&["incidents", "roles", id, "--json"]));
    assert!(!holds(&roles, "scribe", &grace), "{roles}");
    let history = json_of(&run(&["incidents", "roles", id, "--history", "--json"]));
    assert!(
        history["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["role"] == "scribe" && r["ended_at"].is_string()),
        "{history}"
    );

    // Paging in: the admin has no notification rule, so the API refuses, naming the field.
    refused(
        &run(&["incidents", "page", id, "--role", "commander"]),
        &["409"],
    );
    refused(
        &run(&["incidents", "page", id, "--user", "not-an-id"]),
        &["user_id"],
    );

    // A pinned note, found by kind and by pin, and in the Markdown export.
    let note = json_of(&run(&[
        "incidents",
        "note",
        id,
        "Rolled back deploy 42",
        "--pin",
        "--json",
    ]));
    assert_eq!(note["pinned"], true);
    assert_eq!(note["kind"], "incident.note_added");
    let seq = note["seq"].to_string();
    let notes = json_of(&run(&[
        "incidents",
        "timeline",
        id,
        "--kind",
        "incident.note_added",
        "--json",
    ]));
    assert_eq!(notes["items"].as_array().unwrap().len(), 1, "{notes}");
    assert_eq!(notes["items"][0]["data"]["text"], "Rolled back deploy 42");
    let pinned = json_of(&run(&["incidents", "timeline", id, "--pinned", "--json"]));
    assert_eq!(pinned["items"].as_array().unwrap().len(), 1, "{pinned}");
    let everything = json_of(&run(&["incidents", "timeline", id, "--json"]));
    assert!(everything["items"].as_array().unwrap().len() > 3);
    refused(
        &run(&["incidents", "timeline", id, "--kind", "no.such"]),
        &["no.such is not an event kind"],
    );
    let md = stdout(&run(&["incidents", "timeline", id, "--markdown"]));
    assert!(
        md.starts_with("# Incident #") && md.contains("Rolled back deploy 42"),
        "{md}"
    );
    let md = stdout(&run(&[
        "incidents",
        "timeline",
        id,
        "--markdown",
        "--pinned",
    ]));
    assert!(md.contains("Rolled back deploy 42 📌"), "{md}");
    assert!(!md.contains("declared the incident"), "{md}");
    refused(
        &run(&["incidents", "timeline", id, "--markdown", "--kind", "nope"]),
        &["400", "kind: nope is not an event kind"],
    );

    let unpinned = json_of(&run(&["incidents", "unpin", id, &seq, "--json"]));
    assert_eq!(unpinned["pinned"], false);
    let pinned = json_of(&run(&["incidents", "timeline", id, "--pinned", "--json"]));
    assert!(pinned["items"].as_array().unwrap().is_empty(), "{pinned}");
    stdout(&run(&["incidents", "pin", id, &seq]));
    let pinned = json_of(&run(&["incidents", "timeline", id, "--pinned", "--json"]));
    assert_eq!(pinned["items"][0]["seq"].to_string(), seq);

    // The lifecycle: mitigated, back to work, resolved, closed by the reporter only.
    let mitigated = json_of(&run(&["incidents", "mitigate", id, "--json"]));
    assert_eq!(mitigated["status"], "mitigated");
    assert!(mitigated["milestones"]["mitigated_at"].is_string());
    let reopened = json_of(&run(&[
        "incidents",
        "reopen",
        id,
        "--reason",
        "errors are back",
        "--json",
    ]));
    assert_eq!(reopened["status"], "acknowledged");
    assert!(reopened["milestones"]["mitigated_at"].is_null());
    refused(
        &run(&["incidents", "close", id]),
        &["409", "cannot go from acknowledged to closed"],
    );
    let resolved = json_of(&run(&["incidents", "resolve", id, "--json"]));
    assert_eq!(resolved["status"], "resolved");
    assert!(resolved["milestones"]["resolved_at"].is_string());
    refused(
        &as_user(&server, &grace_token, &["incidents", "close", id]),
        &["403", "closing needs the reporter's confirmation"],
    );
    let closed = json_of(&run(&["incidents", "close", id, "--json"]));
    assert_eq!(closed["status"], "closed");
    assert!(closed["milestones"]["closed_at"].is_string());
    refused(
        &run(&["incidents", "update", id, "--title", "late"]),
        &["a closed incident cannot be changed"],
    );
    let listed = json_of(&run(&[
        "incidents",
        "list",
        "--service",
        "Checkout",
        "--json",
    ]));
    assert_eq!(listed["items"][0]["id"], id);
    // Filters: the closed one is not open; text and severity find it; "mine" is the reporter's.
    let open = json_of(&run(&["incidents", "list", "--open", "--json"]));
    assert!(
        open["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["id"] != id)
    );
    let found = json_of(&run(&[
        "incidents",
        "list",
        "--search",
        "PAYMENT",
        "--severity",
        "SEV3,SEV1",
        "--mine",
        "--json",
    ]));
    let found: Vec<&str> = found["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(found, vec![id]);
    refused(
        &run(&["incidents", "list", "--severity", "SEV9"]),
        &["severity"],
    );
    assert!(terminate(server).success());
}

#[test]
fn declaring_in_human_output_and_the_incident_settings() {
    let server = start();
    let run = |args: &[&str]| klaxon(&server, args);
    let out = stdout(&run(&[
        "incidents",
        "declare",
        "--title",
        "Slow search",
        "--severity",
        "sev4",
        "--description",
        "Search takes 5 s",
        "--urgency",
        "high",
    ]));
    for needle in [
        "declared incident #1",
        "Slow search",
        "severity:  SEV4",
        "impact:    low",
        "urgency:   high",
        "priority:  P3",
        "Search takes 5 s",
        "acknowledged",
        "nobody holds a role",
    ] {
        assert!(out.contains(needle), "{needle:?} not in\n{out}");
    }
    // Reopened once resolved, and resolved again.
    let id = out
        .lines()
        .find_map(|l| l.strip_prefix("id:"))
        .unwrap()
        .trim()
        .to_owned();
    let resolved = json_of(&run(&["incidents", "resolve", &id, "--json"]));
    assert_eq!(resolved["status"], "resolved");
    let reopened = json_of(&run(&["incident", "reopen", &id, "--json"]));
    assert_eq!(reopened["status"], "acknowledged");
    assert!(reopened["milestones"]["resolved_at"].is_null());
    json_of(&run(&["incidents", "resolve", &id, "--json"]));
    refused(
        &run(&["incidents", "declare", "--title", "x", "--severity", "SEV9"]),
        &["400", "severity"],
    );
    refused(
        &run(&[
            "incidents",
            "update",
            "00000000-0000-0000-0000-000000000000",
        ]),
        &["nothing to change"],
    );

    let settings = json_of(&run(&["incidents", "settings", "--json"]));
    assert_eq!(settings["severities"].as_array().unwrap().len(), 4);
    assert_eq!(settings["priority_matrix"][0][0], "P1");
    assert!(
        settings["roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["key"] == "commander")
    );
    let text = stdout(&run(&["incident", "settings"]));
    for needle in ["SEV1", "Critical", "P5", "commander", "one person"] {
        assert!(text.contains(needle), "{needle:?} not in\n{text}");
    }
    assert!(terminate(server).success());
}

/// Reopening a resolved incident that went through mitigation clears every milestone after
/// acknowledgement (it was once refused because `mitigated_at` stayed).
#[test]
fn reopening_a_resolved_incident_that_was_mitigated() {
    let server = start();
    let run = |args: &[&str]| klaxon(&server, args);
    let declared = json_of(&run(&[
        "incidents",
        "declare",
        "--title",
        "Flapping",
        "--severity",
        "SEV3",
        "--json",
    ]));
    let id = declared["id"].as_str().unwrap();
    json_of(&run(&["incidents", "mitigate", id, "--json"]));
    json_of(&run(&["incidents", "resolve", id, "--json"]));
    let reopened = json_of(&run(&["incidents", "reopen", id, "--json"]));
    assert_eq!(reopened["status"], "acknowledged");
    assert!(reopened["milestones"]["mitigated_at"].is_null());
    assert!(reopened["milestones"]["resolved_at"].is_null());
    assert!(terminate(server).success());
}

/// Tasks (added, listed, changed, done, undone, removed; a bad assignee refused) and the
/// conference and chat links (set on declaration, cleared and changed by an update).
#[test]
fn incident_tasks_and_links_through_the_cli() {
    let server = start();
    let run = |args: &[&str]| klaxon(&server, args);
    let (grace, _) = responder(&server, "grace@example.com");

    // Links: set when declaring, shown to people.
    let out = stdout(&run(&[
        "incidents",
        "declare",
        "--title",
        "Queue backlog",
        "--severity",
        "SEV3",
        "--conference-url",
        "https://meet.example.com/queue",
        "--chat-url",
        "https://chat.example.com/c/queue",
    ]));
    for needle in [
        "declared incident #1",
        "conference  https://meet.example.com/queue",
        "chat        https://chat.example.com/c/queue",
    ] {
        assert!(out.contains(needle), "{needle:?} not in\n{out}");
    }
    let id = out
        .lines()
        .find_map(|l| l.strip_prefix("id:"))
        .unwrap()
        .trim()
        .to_owned();
    let id = id.as_str();
    let shown = json_of(&run(&["incidents", "show", id, "--json"]));
    assert_eq!(shown["conference_url"], "https://meet.example.com/queue");
    assert_eq!(shown["chat_url"], "https://chat.example.com/c/queue");
    refused(
        &run(&[
            "incidents",
            "declare",
            "--title",
            "x",
            "--severity",
            "SEV4",
            "--chat-url",
            "ftp://chat.example.com",
        ]),
        &["400", "chat_url", "http"],
    );

    // An empty string clears a link; the other stays.
    let updated = json_of(&run(&[
        "incidents",
        "update",
        id,
        "--conference-url",
        "",
        "--json",
    ]));
    assert!(updated["conference_url"].is_null(), "{updated}");
    assert_eq!(updated["chat_url"], "https://chat.example.com/c/queue");
    let updated = json_of(&run(&[
        "incident",
        "update",
        id,
        "--chat-url",
        "https://chat.example.com/c/queue-2",
        "--json",
    ]));
    assert_eq!(updated["chat_url"], "https://chat.example.com/c/queue-2");
    assert!(updated["conference_url"].is_null(), "{updated}");
    refused(
        &run(&["incidents", "update", id, "--conference-url", "meet"]),
        &["400", "conference_url"],
    );
    let shown = stdout(&run(&["incidents", "show", id]));
    for needle in [
        "conference  -",
        "chat        https://chat.example.com/c/queue-2",
    ] {
        assert!(shown.contains(needle), "{needle:?} not in\n{shown}");
    }

    // No tasks yet.
    let tasks = json_of(&run(&["incidents", "tasks", id, "--json"]));
    assert!(tasks["items"].as_array().unwrap().is_empty(), "{tasks}");
    assert_eq!(stdout(&run(&["incidents", "tasks", id])).trim(), "no tasks");

    // Added: one assigned and due, one bare (in human output).
    let first = json_of(&run(&[
        "incidents",
        "task",
        "add",
        id,
        "--title",
        "Drain the dead-letter queue",
        "--assignee",
        &grace,
        "--due",
        "2030-01-01T00:00:00Z",
        "--json",
    ]));
    let first_id = first["id"].as_str().unwrap().to_owned();
    assert_eq!(first["incident_id"], id);
    assert_eq!(first["title"], "Drain the dead-letter queue");
    assert_eq!(first["assignee_id"], grace.as_str());
    assert_eq!(first["due_at"], "2030-01-01T00:00:00Z");
    assert_eq!(first["done"], false);
    let out = stdout(&run(&[
        "incident",
        "task",
        "add",
        id,
        "--title",
        "Tell the support team",
    ]));
    assert!(
        out.contains("added the task") && out.contains("Tell the support team"),
        "{out}"
    );

    // Listed oldest first; people see the assignee's name.
    let tasks = json_of(&run(&["incidents", "tasks", id, "--json"]));
    let items = tasks["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{tasks}");
    assert_eq!(items[0]["id"], first_id.as_str());
    assert_eq!(items[1]["title"], "Tell the support team");
    assert!(items[1]["assignee_id"].is_null() && items[1]["due_at"].is_null());
    let second_id = items[1]["id"].as_str().unwrap().to_owned();
    let listed = stdout(&run(&["incidents", "tasks", id]));
    for needle in [
        "ID",
        "TITLE",
        "ASSIGNEE",
        "DUE",
        "DONE",
        first_id.as_str(),
        "Drain the dead-letter queue",
        "Grace Responder",
        "2030-01-01T00:00:00Z",
        "Tell the support team",
    ] {
        assert!(listed.contains(needle), "{needle:?} not in\n{listed}");
    }

    // A bad assignee is refused, by the API, naming the field; nothing is added.
    refused(
        &run(&[
            "incidents",
            "task",
            "add",
            id,
            "--title",
            "Nobody's",
            "--assignee",
            "00000000-0000-0000-0000-000000000000",
        ]),
        &[
            "400",
            "assignee_id",
            "no user 00000000-0000-0000-0000-000000000000",
        ],
    );
    refused(
        &run(&[
            "incidents",
            "task",
            "update",
            id,
            &first_id,
            "--assignee",
            "not-a-user",
        ]),
        &["400", "assignee_id"],
    );
    refused(
        &run(&[
            "incidents",
            "task",
            "add",
            id,
            "--title",
            "Late",
            "--due",
            "tomorrow",
        ]),
        &["400", "due_at"],
    );
    let tasks = json_of(&run(&["incidents", "tasks", id, "--json"]));
    assert_eq!(tasks["items"].as_array().unwrap().len(), 2, "{tasks}");

    // Changed: title, assignee and due time, then the assignee and due time cleared.
    let changed = json_of(&run(&[
        "incidents",
        "task",
        "update",
        id,
        &second_id,
        "--title",
        "Tell support and sales",
        "--assignee",
        &grace,
        "--due",
        "2031-02-03T04:05:06Z",
        "--json",
    ]));
    assert_eq!(changed["title"], "Tell support and sales");
    assert_eq!(changed["assignee_id"], grace.as_str());
    assert_eq!(changed["due_at"], "2031-02-03T04:05:06Z");
    let changed = json_of(&run(&[
        "incidents",
        "task",
        "update",
        id,
        &second_id,
        "--assignee",
        "none",
        "--due",
        "none",
        "--json",
    ]));
    assert_eq!(changed["title"], "Tell support and sales");
    assert!(changed["assignee_id"].is_null(), "{changed}");
    assert!(changed["due_at"].is_null(), "{changed}");
    refused(
        &run(&["incidents", "task", "update", id, &second_id]),
        &["nothing to change"],
    );

    // Done, and undone.
    let done = json_of(&run(&[
        "incidents",
        "task",
        "done",
        id,
        &first_id,
        "--json",
    ]));
    assert_eq!(done["done"], true);
    assert!(done["done_at"].is_string(), "{done}");
    let listed = stdout(&run(&["incidents", "tasks", id]));
    let row = listed.lines().find(|l| l.contains(&first_id)).unwrap();
    assert!(row.trim_end().ends_with("yes"), "{listed}");
    let undone = stdout(&run(&["incidents", "task", "undo", id, &first_id]));
    assert!(undone.contains("not done"), "{undone}");
    let tasks = json_of(&run(&["incidents", "tasks", id, "--json"]));
    assert_eq!(tasks["items"][0]["done"], false, "{tasks}");
    assert!(tasks["items"][0]["done_at"].is_null(), "{tasks}");

    // Removed: gone from the list, and a second removal finds nothing.
    let removed = json_of(&run(&[
        "incidents",
        "task",
        "remove",
        id,
        &second_id,
        "--json",
    ]));
    assert_eq!(removed, serde_json::json!({"removed": second_id}));
    let tasks = json_of(&run(&["incidents", "tasks", id, "--json"]));
    let ids: Vec<&str> = tasks["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![first_id.as_str()]);
    refused(
        &run(&["incidents", "task", "remove", id, &second_id]),
        &["404", "task"],
    );

    // Every change is on the timeline.
    let timeline = json_of(&run(&["incidents", "timeline", id, "--json"]));
    let kinds: Vec<&str> = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .filter(|k| k.starts_with("incident.task_"))
        .collect();
    for kind in [
        "incident.task_added",
        "incident.task_updated",
        "incident.task_done",
        "incident.task_reopened",
        "incident.task_removed",
    ] {
        assert!(kinds.contains(&kind), "{kind} not in {kinds:?}");
    }

    // A closed incident's tasks are final.
    json_of(&run(&["incidents", "resolve", id, "--json"]));
    json_of(&run(&["incidents", "close", id, "--json"]));
    refused(
        &run(&["incidents", "task", "done", id, &first_id]),
        &["409", "final"],
    );
    assert!(terminate(server).success());
}

#[test]
fn relating_and_merging_incidents_through_the_cli() {
    let server = start();
    let run = |args: &[&str]| klaxon(&server, args);
    let declare = |title: &str| {
        let v = json_of(&run(&[
            "incident",
            "declare",
            "--title",
            title,
            "--severity",
            "SEV3",
            "--json",
        ]));
        v["id"].as_str().unwrap().to_owned()
    };
    let (a, b) = (declare("Checkout slow"), declare("Checkout slow (dup)"));
    let out = stdout(&run(&["incident", "relate", &a, &b]));
    assert!(out.contains("related") && out.contains("#2"), "{out}");
    let related = json_of(&run(&["incident", "related", &b, "--json"]));
    assert_eq!(related["items"][0]["id"], a.as_str());
    refused(
        &run(&["incident", "relate", &a, &b]),
        &["409", "already related"],
    );
    stdout(&run(&["incident", "unrelate", &b, &a]));
    let related = json_of(&run(&["incident", "related", &a, "--json"]));
    assert!(related["items"].as_array().unwrap().is_empty());
    // With --json, the API's answer: the incident related.
    let again = json_of(&run(&["incident", "relate", &a, &b, "--json"]));
    assert_eq!(again["id"], b.as_str());
    stdout(&run(&["incident", "unrelate", &a, &b]));
    let merged = stdout(&run(&["incident", "merge", &b, "--into", &a]));
    assert!(merged.contains("merged into incident #1"), "{merged}");
    let dup = json_of(&run(&["incident", "show", &b, "--json"]));
    assert_eq!(
        (dup["status"].as_str(), dup["merged_into"].as_str()),
        (Some("resolved"), Some(a.as_str()))
    );
    refused(&run(&["incident", "merge", &b, "--into", &a]), &["409"]);
    assert!(terminate(server).success());
}

#[test]
fn following_an_incident_and_posting_updates_through_the_cli() {
    let server = start();
    let run = |args: &[&str]| klaxon(&server, args);
    let v = json_of(&run(&[
        "incident",
        "declare",
        "--title",
        "Search slow",
        "--severity",
        "SEV4",
        "--json",
    ]));
    let id = v["id"].as_str().unwrap().to_owned();
    let out = stdout(&run(&["incident", "follow", &id]));
    assert!(out.contains("now follows incident"), "{out}");
    let followers = json_of(&run(&["incident", "followers", &id, "--json"]));
    assert_eq!(followers["items"].as_array().unwrap().len(), 1);
    refused(
        &run(&["incident", "follow", &id]),
        &["409", "already follows"],
    );
    let out = stdout(&run(&[
        "incident",
        "post-update",
        &id,
        "--template",
        "monitoring",
    ]));
    assert!(out.contains("posted an update"), "{out}");
    // With --json, the API's answer: the update's timeline event.
    let update = json_of(&run(&[
        "incident",
        "post-update",
        &id,
        "--message",
        "Still watching.",
        "--json",
    ]));
    assert_eq!(update["kind"], "incident.update_posted");
    assert_eq!(update["data"]["message"], "Still watching.");
    assert_eq!(update["id"], update["seq"]);
    refused(
        &run(&["incident", "post-update", &id, "--template", "nope"]),
        &["template"],
    );
    let md = stdout(&run(&["incident", "timeline", &id, "--markdown"]));
    assert!(
        md.contains("A fix for incident #1 (Search slow) is in place"),
        "{md}"
    );
    stdout(&run(&["incident", "unfollow", &id]));
    let followers = json_of(&run(&["incident", "followers", &id, "--json"]));
    assert!(followers["items"].as_array().unwrap().is_empty());
    assert!(terminate(server).success());
}
