//! The CLI in people's terms, against a running server: incidents by number (`75` or `#75`),
//! people by e-mail address, services, policies, schedules, webhooks and integrations by name,
//! wherever a command takes an id; answers name what they print ids of.
use std::io::Write;
use std::process::{Command, Output, Stdio};

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

/// Creates a user through the CLI (the password on standard input); their id.
fn user(server: &Server, email: &str, name: &str) -> String {
    let mut child = Command::new(BIN)
        .args(["users", "create", "--email", email, "--name", name])
        .args(["--role", "responder", "--json"])
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
    user["id"].as_str().unwrap().to_owned()
}

#[test]
fn commands_take_numbers_addresses_and_names() {
    let server = start();
    let run = |args: &[&str]| klaxon(&server, args);
    let ada = user(&server, "ada@example.com", "Ada");

    // People by e-mail address, in any case.
    let shown = json_of(&run(&["users", "show", "ADA@example.com", "--json"]));
    assert_eq!(shown["id"], ada.as_str());
    let renamed = stdout(&run(&[
        "users",
        "update",
        "ada@example.com",
        "--name",
        "Ada L.",
    ]));
    assert!(
        renamed.contains("updated ada@example.com (Ada L."),
        "{renamed}"
    );
    refused(
        &run(&["users", "show", "nobody@example.com"]),
        &["404", "no user has the e-mail nobody@example.com"],
    );

    // Incidents by number: `klaxon incident note 75 …`.
    let declared = json_of(&run(&[
        "incident",
        "declare",
        "--title",
        "Checkout is down",
        "--severity",
        "SEV3",
        "--json",
    ]));
    let n = declared["number"].to_string();
    let noted = stdout(&run(&["incident", "note", &n, "rolled back the deploy"]));
    assert!(
        noted.contains(&format!("added a note to incident #{n} (seq ")),
        "{noted}"
    );
    let timeline = json_of(&run(&["incident", "timeline", &format!("#{n}"), "--json"]));
    assert!(
        timeline.to_string().contains("rolled back the deploy"),
        "{timeline}"
    );
    let assigned = stdout(&run(&[
        "incident",
        "assign",
        &n,
        "--role",
        "scribe",
        "--user",
        "ada@example.com",
    ]));
    assert!(
        assigned.contains(&format!("of incident #{n}")),
        "{assigned}"
    );
    let shown = stdout(&run(&["incident", "show", &format!("#{n}")]));
    assert!(shown.contains("Checkout is down"), "{shown}");
    assert!(shown.contains(&format!("Ada L. ({ada})")), "{shown}");
    stdout(&run(&[
        "incident",
        "unassign",
        &n,
        "--role",
        "scribe",
        "--user",
        "ada@example.com",
    ]));
    refused(
        &run(&["incident", "show", "999"]),
        &["404", "no incident is numbered 999"],
    );
    refused(
        &run(&["incident", "show", "checkout"]),
        &["400", "id: is not an incident id or number"],
    );

    // A schedule naming Ada by address; a policy naming her and the schedule by name. Their
    // answers name them beside their ids.
    let layer = r#"{"name": "day", "start": "2026-03-02T09:00", "users": ["ada@example.com"],
                    "turn": {"count": 1, "unit": "weeks"}}"#;
    let schedule = stdout(&run(&[
        "schedules",
        "create",
        "--name",
        "Follow the sun",
        "--time-zone",
        "Europe/Berlin",
        "--layer",
        layer,
    ]));
    assert!(schedule.contains(&format!("Ada L. ({ada})")), "{schedule}");
    let sid = json_of(&run(&["schedules", "show", "follow the sun", "--json"]))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let policy = stdout(&run(&[
        "escalation-policies",
        "create",
        "--name",
        "Primary",
        "--level",
        "5:ada@example.com,schedule:Follow the sun",
    ]));
    assert!(
        policy.contains(&format!("Ada L. <ada@example.com> ({ada})")),
        "{policy}"
    );
    assert!(
        policy.contains(&format!("schedule Follow the sun ({sid})")),
        "{policy}"
    );
    let shown = stdout(&run(&["escalation-policies", "show", "primary"]));
    assert!(shown.starts_with("Primary ("), "{shown}");

    // Services by name, in paths, bodies and filters.
    stdout(&run(&[
        "services",
        "create",
        "--name",
        "Payments API",
        "--escalation-policy",
        "Primary",
    ]));
    let shown = stdout(&run(&["services", "show", "Payments API"]));
    assert!(shown.contains("Primary"), "{shown}");
    let on_service = json_of(&run(&[
        "incident",
        "declare",
        "--title",
        "Card payments fail",
        "--severity",
        "SEV3",
        "--service",
        "payments api",
        "--json",
    ]));
    let svc = on_service["service_id"].as_str().unwrap().to_owned();
    let listed = json_of(&run(&[
        "incidents",
        "list",
        "--service",
        "Payments API",
        "--team",
        "Primary",
        "--json",
    ]));
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
    let shown = stdout(&run(&[
        "incident",
        "show",
        &on_service["number"].to_string(),
    ]));
    assert!(
        shown.contains(&format!("service:   Payments API ({svc})")),
        "{shown}"
    );
    let integration = json_of(&run(&[
        "integrations",
        "create",
        "--service",
        "Payments API",
        "--name",
        "Prometheus",
        "--kind",
        "generic",
        "--json",
    ]));
    let shown = json_of(&run(&["integrations", "show", "Prometheus", "--json"]));
    assert_eq!(shown["id"], integration["id"]);

    // A name that matches two ignoring case is refused; the exact one is found.
    let other = json_of(&run(&[
        "services",
        "create",
        "--name",
        "payments API",
        "--json",
    ]));
    refused(
        &run(&["services", "show", "PAYMENTS API"]),
        &["409", "ambiguous: 2 services are called \"PAYMENTS API\""],
    );
    let deleted = stdout(&run(&["services", "delete", "payments API"]));
    assert_eq!(
        deleted.trim(),
        format!(
            "deleted service payments API ({})",
            other["id"].as_str().unwrap()
        )
    );
    refused(
        &run(&["services", "show", "Nope"]),
        &["404", "no service is called \"Nope\""],
    );

    // The help says which terms each command takes.
    for (args, needle) in [
        (&["incident", "note", "--help"][..], "number (75 or #75)"),
        (&["users", "show", "--help"][..], "e-mail address or id"),
        (&["services", "show", "--help"][..], "name or id"),
        (
            &["escalation-policies", "update", "--help"][..],
            "name or id",
        ),
        (&["schedules", "show", "--help"][..], "name or id"),
        (&["webhooks", "show", "--help"][..], "name or id"),
    ] {
        let help = stdout(&run(args));
        assert!(help.contains(needle), "{args:?}: {help}");
    }
}
