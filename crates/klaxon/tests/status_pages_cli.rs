//! `klaxon status-pages …` against a running server, on both backends: a page, a group and
//! components, a public incident that moves a component and is resolved, lists and the page's
//! tree in words, refusals naming the field, and a maintenance scheduled in local time.
use std::process::{Command, Output};

use klaxon_store_tests::{Backend, TestDatabase};
use serde_json::Value;

use crate::support;
use support::*;

/// The CLI in a known time zone, so that times read the same everywhere.
fn klaxon_tz(server: &Server, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("KLAXON_URL", &server.url)
        .env("KLAXON_TOKEN", &server.token)
        .env("TZ", "Europe/Berlin")
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn refused(out: &Output, needles: &[&str]) {
    assert!(!out.status.success(), "expected a failure: {out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    for n in needles {
        assert!(err.contains(n), "{n:?} not in {err:?}");
    }
}

fn has(text: &str, needles: &[&str]) {
    for n in needles {
        assert!(text.contains(n), "{n:?} not in:\n{text}");
    }
}

fn status_pages_through_the_cli(backend: Backend) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = rt.block_on(TestDatabase::new(backend)) else {
        return;
    };
    let server = start_on(Some(db.url()));
    let run = |args: &[&str]| klaxon_tz(&server, args);
    let sp = |args: &[&str]| {
        let mut all = vec!["status-pages"];
        all.extend_from_slice(args);
        run(&all)
    };

    // A page, its settings in words.
    let created = stdout(&sp(&[
        "create",
        "--name",
        "Acme Status",
        "--slug",
        "acme",
        "--time-zone",
        "Europe/Berlin",
        "--footer-link",
        "Docs=https://docs.acme.test",
    ]));
    has(
        &created,
        &[
            "status page Acme Status (",
            "slug:        acme",
            "/status/acme",
            "visibility:  public",
            "footer:      Docs <https://docs.acme.test>",
        ],
    );
    refused(
        &sp(&["create", "--name", "Other", "--slug", "Bad Slug"]),
        &["slug:"],
    );
    refused(
        &sp(&["create", "--name", "Other", "--slug", "acme"]),
        &["slug: another status page has this slug"],
    );
    refused(
        &sp(&["update", "acme", "--visibility", "password"]),
        &["password: a password page needs a password"],
    );

    // A group and its components; the page named by its name, the group in another case.
    stdout(&sp(&[
        "components",
        "add",
        "Acme Status",
        "--name",
        "Backend",
        "--is-group",
    ]));
    let api = stdout(&sp(&[
        "components",
        "add",
        "acme",
        "--name",
        "API",
        "--group",
        "backend",
    ]));
    has(&api, &["added component API (", "in group Backend"]);
    stdout(&sp(&[
        "components",
        "add",
        "acme",
        "--name",
        "Database",
        "--group",
        "Backend",
        "--only-show-if-degraded",
    ]));
    stdout(&sp(&[
        "components",
        "add",
        "acme",
        "--name",
        "Web site",
        "--no-uptime",
    ]));
    refused(
        &sp(&[
            "components",
            "add",
            "acme",
            "--name",
            "Cache",
            "--status",
            "broken",
        ]),
        &["status: must be one of"],
    );
    let tree = stdout(&sp(&["components", "list", "acme"]));
    has(
        &tree,
        &["COMPONENT", "STATUS", "Backend", "  API", "  Database"],
    );
    assert!(
        tree.lines()
            .any(|l| l.starts_with("Web site") && l.contains("no uptime bars")),
        "{tree}"
    );

    // A responder's quick move, and a status that is not one.
    let moved = stdout(&sp(&[
        "components",
        "set-status",
        "acme",
        "database",
        "degraded_performance",
    ]));
    assert_eq!(moved.trim(), "Database is now degraded performance");
    let bad = sp(&["components", "set-status", "acme", "Database", "broken"]);
    refused(
        &bad,
        &[
            "400",
            "status: must be one of: operational, degraded_performance",
        ],
    );
    assert_eq!(bad.status.code(), Some(1));
    stdout(&sp(&[
        "components",
        "set-status",
        "acme",
        "Database",
        "operational",
    ]));

    // A public incident that takes the API down.
    refused(
        &sp(&[
            "incidents",
            "publish",
            "acme",
            "--name",
            "Slow API",
            "--component",
            "API=down",
        ]),
        &["components[0].status: must be one of"],
    );
    refused(
        &sp(&[
            "incidents",
            "publish",
            "acme",
            "--name",
            "Slow API",
            "--component",
            "API",
        ]),
        &["--component \"API\": write it as NAME=STATUS"],
    );
    let published = sp(&[
        "incidents",
        "publish",
        "acme",
        "--name",
        "Slow API",
        "--impact",
        "major",
        "--component",
        "API=major_outage",
        "--next-update-in",
        "30",
        "--json",
    ]);
    let published: Value = json_of(&published);
    let code = published["code"].as_str().unwrap().to_owned();
    assert_eq!(published["status"], "investigating");
    assert_eq!(
        published["updates"][0]["changes"][0]["new_status"],
        "major_outage"
    );

    let shown = stdout(&sp(&["show", "acme"]));
    has(
        &shown,
        &[
            "now:         Major System Outage",
            "major outage",
            "open incidents and maintenances:",
            &format!("{code}  incident \"Slow API\": investigating (major impact) since "),
            "Europe/Berlin; next update by ",
        ],
    );
    // The group reads as its worst member.
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with("Backend") && l.contains("major outage")),
        "{shown}"
    );

    // Updates: a status that is not one, then resolved, which puts the API back.
    let bad = sp(&["incidents", "update", "acme", &code, "--status", "fixed"]);
    refused(
        &bad,
        &["status: must be one of: investigating, identified, monitoring, resolved"],
    );
    assert_ne!(bad.status.code(), Some(0));
    let resolved = stdout(&sp(&[
        "incidents",
        "update",
        "acme",
        &code,
        "--status",
        "resolved",
        "--body",
        "The API is fast again.",
    ]));
    has(
        &resolved,
        &[
            "status:       resolved",
            "The API is fast again.",
            "API: operational → major outage",
            "API: major outage → operational",
            "ended:",
        ],
    );
    let list = stdout(&sp(&["incidents", "list", "acme"]));
    has(&list, &["CODE", "KIND", &code, "resolved", "Slow API"]);
    let one = stdout(&sp(&["incidents", "show", "acme", &code]));
    has(
        &one,
        &[
            "incident Slow API (",
            "updates, oldest first:",
            "We are investigating problems with API.",
        ],
    );
    let shown = stdout(&sp(&["show", "acme"]));
    has(
        &shown,
        &[
            "now:         All Systems Operational",
            "open incidents and maintenances: none",
        ],
    );

    // A maintenance in local time: 22:00 in Berlin is 21:00 UTC in December.
    refused(
        &sp(&[
            "maintenance",
            "schedule",
            "acme",
            "--name",
            "Database upgrade",
            "--from",
            "2030-12-08 22:00",
            "--until",
            "2030-12-08 21:00",
        ]),
        &["scheduled_until: must be after scheduled_for"],
    );
    refused(
        &sp(&[
            "maintenance",
            "schedule",
            "acme",
            "--name",
            "Database upgrade",
            "--from",
            "next week",
            "--until",
            "2030-12-08 21:00",
        ]),
        &["--from \"next week\""],
    );
    let scheduled = stdout(&sp(&[
        "maintenance",
        "schedule",
        "acme",
        "--name",
        "Database upgrade",
        "--from",
        "2030-12-08 22:00",
        "--until",
        "2030-12-09 02:00",
        "--component",
        "Database",
        "--remind-minutes",
        "60",
    ]));
    has(
        &scheduled,
        &[
            "scheduled maintenance Database upgrade (",
            "status:       scheduled",
            "components:   Database",
            "window:       2030-12-08 22:00 Europe/Berlin to 2030-12-09 02:00 Europe/Berlin",
            "reminder:     60 minutes before",
        ],
    );
    let all: Value = json_of(&sp(&["incidents", "list", "acme", "--open", "--json"]));
    let m = &all.as_array().unwrap()[0];
    assert_eq!(m["maintenance"], true);
    assert_eq!(m["scheduled_for"], "2030-12-08T21:00:00Z");
    let m_code = m["code"].as_str().unwrap().to_owned();
    // Not started yet: the database is still operational.
    let tree = stdout(&sp(&["components", "list", "acme"]));
    assert!(
        tree.lines()
            .any(|l| l.trim_start().starts_with("Database") && l.contains("operational")),
        "{tree}"
    );
    refused(
        &sp(&[
            "maintenance",
            "update",
            "acme",
            &m_code,
            "--status",
            "resolved",
        ]),
        &["status: must be one of: scheduled, in_progress, verifying, completed"],
    );
    let started = stdout(&sp(&[
        "maintenance",
        "update",
        "acme",
        &m_code,
        "--status",
        "in_progress",
    ]));
    has(
        &started,
        &[
            "status:       in progress",
            "Database: operational → under maintenance",
        ],
    );
    let done = stdout(&sp(&[
        "maintenance",
        "update",
        "acme",
        &m_code,
        "--status",
        "completed",
    ]));
    has(&done, &["Database: under maintenance → operational"]);

    // The static export reads the database itself (it works while the server is down too).
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["status-pages", "export", dir.path().to_str().unwrap()])
        .env("KLAXON_DATABASE_URL", db.url())
        .output()
        .unwrap();
    has(&stdout(&out), &["exported /status/acme/ to "]);
    let index = std::fs::read_to_string(dir.path().join("status/acme/index.html")).unwrap();
    assert!(index.contains("Acme Status"), "{index}");
    let summary: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("status/acme/api/v2/summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["page"]["name"], "Acme Status");
    assert!(dir.path().join("status/acme/history.atom").exists());

    // Subscribers: a webhook for the API only, listed, shown, widened, removed; an e-mail
    // address is refused while the server has no public address to link back to.
    let added = stdout(&sp(&[
        "subscribers",
        "add",
        "acme",
        "http://127.0.0.1:9/hook",
        "--webhook",
        "--component",
        "API",
    ]));
    has(
        &added,
        &[
            "added webhook subscriber http://127.0.0.1:9/hook",
            "components: ",
        ],
    );
    has(
        &stdout(&sp(&["subscribers", "list", "acme"])),
        &["http://127.0.0.1:9/hook", "webhook", "yes"],
    );
    has(
        &stdout(&sp(&[
            "subscribers",
            "show",
            "acme",
            "http://127.0.0.1:9/hook",
        ])),
        &["no notices yet"],
    );
    has(
        &stdout(&sp(&[
            "subscribers",
            "update",
            "acme",
            "http://127.0.0.1:9/hook",
            "--all-components",
        ])),
        &["components: all"],
    );
    refused(
        &sp(&["subscribers", "add", "acme", "ops@example.com"]),
        &["server.public_url"],
    );
    refused(
        &sp(&["subscribers", "add", "acme", "nobody", "--component", "API"]),
        &["address"],
    );
    refused(
        &sp(&[
            "subscribers",
            "add",
            "acme",
            "http://127.0.0.1:9/x",
            "--webhook",
            "--component",
            "Nope",
        ]),
        &["components"],
    );
    has(
        &stdout(&sp(&[
            "subscribers",
            "remove",
            "acme",
            "http://127.0.0.1:9/hook",
        ])),
        &["removed http://127.0.0.1:9/hook"],
    );
    assert_eq!(
        stdout(&sp(&["subscribers", "list", "acme"])).trim(),
        "no subscribers"
    );

    // Deleting: a component, an incident, the page.
    let gone = stdout(&sp(&["components", "remove", "acme", "web site"]));
    assert!(gone.starts_with("removed Web site ("), "{gone}");
    let gone = stdout(&sp(&["incidents", "delete", "acme", &code]));
    assert!(gone.starts_with("deleted incident \"Slow API\""), "{gone}");
    refused(&sp(&["incidents", "show", "acme", &code]), &["404"]);
    stdout(&sp(&["delete", "acme"]));
    assert_eq!(stdout(&sp(&["list"])).trim(), "no status pages");
    refused(&sp(&["show", "acme"]), &["404"]);
    assert!(terminate(server).success());
}

#[test]
fn status_pages_through_the_cli_on_sqlite() {
    status_pages_through_the_cli(Backend::Sqlite);
}

#[test]
fn status_pages_through_the_cli_on_postgres() {
    status_pages_through_the_cli(Backend::Postgres);
}

/// A component set to follow its checks from the CLI says how many it follows; the flag is
/// refused where it cannot apply.
#[test]
fn components_follow_checks_through_the_cli() {
    let server = start();
    let sp = |args: &[&str]| {
        let mut all = vec!["status-pages"];
        all.extend_from_slice(args);
        klaxon_tz(&server, &all)
    };
    stdout(&klaxon_tz(
        &server,
        &["services", "create", "--name", "Website"],
    ));
    let address = format!("tcp://127.0.0.1:{}", free_port());
    stdout(&klaxon_tz(
        &server,
        &[
            "checks",
            "add",
            "--name",
            "db port",
            "--service",
            "website",
            "--address",
            &address,
        ],
    ));
    stdout(&sp(&["create", "--name", "Acme", "--slug", "acme"]));
    let added = stdout(&sp(&[
        "components",
        "add",
        "acme",
        "--name",
        "API",
        "--service",
        "Website",
        "--follow-checks",
    ]));
    has(&added, &["added component API (", ", follows 1 check"]);
    let tree = stdout(&sp(&["components", "list", "acme"]));
    assert!(
        tree.lines()
            .any(|l| l.starts_with("API") && l.contains("1 service(s), follows 1 check")),
        "{tree}"
    );
    let listed = json_of(&sp(&["components", "list", "acme", "--json"]));
    assert_eq!(listed[0]["follow_checks"], true);
    assert_eq!(listed[0]["checks"], 1);
    let off = stdout(&sp(&[
        "components",
        "update",
        "acme",
        "API",
        "--no-follow-checks",
    ]));
    assert!(!off.contains("follows"), "{off}");
    assert_eq!(
        json_of(&sp(&["components", "list", "acme", "--json"]))[0]["follow_checks"],
        false
    );
    refused(
        &sp(&[
            "components",
            "update",
            "acme",
            "API",
            "--follow-checks",
            "--no-follow-checks",
        ]),
        &["cannot be used with"],
    );
    refused(
        &sp(&[
            "components",
            "add",
            "acme",
            "--name",
            "Core",
            "--is-group",
            "--follow-checks",
        ]),
        &["cannot be used with"],
    );
    stdout(&sp(&[
        "components",
        "add",
        "acme",
        "--name",
        "Core",
        "--is-group",
    ]));
    refused(
        &sp(&["components", "update", "acme", "Core", "--follow-checks"]),
        &["follow_checks: a group shows its worst member"],
    );
    assert!(terminate(server).success());
}
