//! `klaxon incidents …` against a running server: declaring, changing fields, lifecycle moves,
//! milestones, roles, notes, pins, the timeline as JSON and Markdown, and incident settings.
use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

mod support;
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
    refused(&unknown, &["no service named \"No such service\""]);

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
    json_of(&run(&[
        "incidents",
        "assign",
        id,
        "--role",
        "scribe",
        "--user",
        &grace,
        "--json",
    ]));
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
