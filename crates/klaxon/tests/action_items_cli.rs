//! `klaxon action-items …` against a running server, on both backends: adding items to an
//! incident by number, the lists (mine, overdue, team, state), show, update, done, won't do
//! with its reason, the learned-from summary, and refusals naming the field.
use std::io::Write;
use std::process::{Command, Output, Stdio};

use klaxon_store_tests::{Backend, TestDatabase};

use crate::support;
use support::*;

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

fn user(server: &Server, email: &str, name: &str) {
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
    assert!(child.wait_with_output().unwrap().status.success());
}

fn action_items_through_the_cli(backend: Backend) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = rt.block_on(TestDatabase::new(backend)) else {
        return;
    };
    let server = start_on(Some(db.url()));
    let run = |args: &[&str]| klaxon(&server, args);
    let ai = |args: &[&str]| {
        let mut all = vec!["action-items"];
        all.extend_from_slice(args);
        run(&all)
    };
    user(&server, "bob@example.com", "Bob");
    stdout(&run(&[
        "incidents",
        "declare",
        "--title",
        "Card payments failing",
        "--severity",
        "SEV3",
    ]));

    // Mine by default; a due date from the SLO.
    let added = stdout(&ai(&[
        "add",
        "--incident",
        "#1",
        "--title",
        "Alert on card errors",
        "--kind",
        "detect",
        "--priority",
        "--tracker-url",
        "https://jira.example.com/browse/OPS-1",
    ]));
    has(
        &added,
        &[
            "action item Alert on card errors (",
            "incident:  #1 Card payments failing",
            "kind:      detect, priority",
            "state:     open",
            "tracker:   https://jira.example.com/browse/OPS-1",
        ],
    );
    let json = json_of(&ai(&[
        "add",
        "--incident",
        "1",
        "--title",
        "Write the runbook",
        "--kind",
        "process",
        "--owner",
        "bob@example.com",
        "--json",
    ]));
    let bobs = json["id"].as_str().unwrap().to_owned();
    assert_eq!(json["owner_name"], "Bob");
    refused(
        &ai(&[
            "add",
            "--incident",
            "1",
            "--title",
            "x",
            "--kind",
            "detect",
            "--due",
            "2020-01-01T00:00:00Z",
        ]),
        &["due_at: must not be in the past"],
    );
    refused(
        &ai(&[
            "add",
            "--incident",
            "#99",
            "--title",
            "x",
            "--kind",
            "detect",
        ]),
        &["incident"],
    );
    refused(
        &ai(&[
            "add",
            "--incident",
            "1",
            "--title",
            "x",
            "--kind",
            "someday",
        ]),
        &["kind"],
    );

    let mine = stdout(&ai(&["list", "--mine"]));
    has(&mine, &["Alert on card errors", "#1", "detect, priority"]);
    assert!(!mine.contains("Write the runbook"), "{mine}");
    has(
        &stdout(&ai(&["list"])),
        &["Alert on card errors", "Write the runbook"],
    );
    assert!(!stdout(&ai(&["list", "--overdue"])).contains("Alert"));
    assert!(!stdout(&ai(&["list", "--state", "done"])).contains("Alert"));
    refused(&ai(&["list", "--team", "nobody"]), &["team"]);

    has(
        &stdout(&ai(&["summary"])),
        &["0 of 1 incidents learned from", "#1 Card payments failing"],
    );
    // The incident list filters by it too.
    let learned = |v: &str| {
        let out = stdout(&run(&["incidents", "list", "--learned-from", v]));
        out.contains("Card payments failing")
    };
    assert!(learned("false") && !learned("true"));
    let id = json_of(&ai(&["list", "--mine", "--json"]))["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    has(
        &stdout(&ai(&[
            "update",
            &id,
            "--state",
            "in_progress",
            "--title",
            "Alert on card declines",
        ])),
        &[
            "action item Alert on card declines",
            "state:     in_progress",
        ],
    );
    has(&stdout(&ai(&["done", &id])), &["state:     done"]);
    has(
        &stdout(&ai(&["summary"])),
        &["1 of 1 incidents learned from"],
    );
    assert!(learned("true") && !learned("false"));
    has(
        &stdout(&ai(&[
            "wont-do",
            &bobs,
            "--reason",
            "Covered by the on-call guide",
        ])),
        &[
            "state:     wont_do",
            "reason:    Covered by the on-call guide",
        ],
    );
    refused(&ai(&["wont-do", &bobs, "--reason", " "]), &["reason"]);
    has(&stdout(&ai(&["show", &bobs])), &["owner:     Bob"]);
    stdout(&ai(&["delete", &bobs]));
    refused(&ai(&["show", &bobs]), &["not found"]);
}

#[test]
fn action_items_through_the_cli_on_sqlite() {
    action_items_through_the_cli(Backend::Sqlite);
}

#[test]
fn action_items_through_the_cli_on_postgres() {
    action_items_through_the_cli(Backend::Postgres);
}
