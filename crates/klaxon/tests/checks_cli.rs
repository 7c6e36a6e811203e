//! `klaxon checks …` against a running server: adding a check to a service named as people
//! call it, refusals naming the field, listing, showing, changing, results and deleting.
use std::process::Output;

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

#[test]
fn managing_checks_through_the_cli() {
    let server = start();
    let run = |args: &[&str]| klaxon(&server, args);
    stdout(&run(&["services", "create", "--name", "Website"]));
    // A TCP port that nothing listens on: the check has something to say.
    let port = free_port();
    let address = format!("tcp://127.0.0.1:{port}");

    refused(
        &run(&[
            "checks",
            "add",
            "--name",
            "db",
            "--service",
            "website",
            "--address",
            &address,
            "--condition",
            "[STATUS] == 200",
        ]),
        &[
            "conditions[0]",
            "a TCP check reads only [CONNECTED] and [RESPONSE_TIME]",
        ],
    );
    refused(
        &run(&[
            "checks",
            "add",
            "--name",
            "db",
            "--service",
            "website",
            "--address",
            &address,
            "--interval",
            "5",
        ]),
        &["interval_secs", "from 20"],
    );
    refused(
        &run(&[
            "checks",
            "add",
            "--name",
            "db",
            "--service",
            "nowhere",
            "--address",
            &address,
        ]),
        &["service"],
    );

    // Added with the service's name in any case; the defaults filled in.
    let added = stdout(&run(&[
        "checks",
        "add",
        "--name",
        "db port",
        "--service",
        "website",
        "--address",
        &address,
        "--failure-threshold",
        "1",
    ]));
    assert!(added.contains("check db port ("), "{added}");
    assert!(
        added.contains("conditions:  [CONNECTED] == true"),
        "{added}"
    );
    assert!(
        added.contains(
            "every:       60 s (timeout 10000 ms); down after 1 failures, up after 2 successes"
        ),
        "{added}"
    );
    let web = json_of(&run(&[
        "checks",
        "add",
        "--name",
        "home",
        "--service",
        "Website",
        "--address",
        "http://127.0.0.1:9/health",
        "--condition",
        "[STATUS] == 200",
        "--condition",
        "[BODY].status == UP",
        "--header",
        "Authorization: Bearer x",
        "--disabled",
        "--json",
    ]));
    assert_eq!(web["enabled"], false);
    assert_eq!(web["conditions"].as_array().unwrap().len(), 2);
    assert_eq!(web["headers"]["Authorization"], "Bearer x");

    let table = stdout(&run(&["checks", "list", "--service", "website"]));
    let header = table.lines().next().unwrap();
    for col in ["ID", "NAME", "URL", "STATE", "LAST_RUN_AT"] {
        assert!(header.contains(col), "{table}");
    }
    assert!(
        table
            .lines()
            .any(|l| l.contains("home") && l.contains(" off")),
        "{table}"
    );

    let changed = stdout(&run(&[
        "checks",
        "update",
        "home",
        "--interval",
        "120",
        "--enable",
    ]));
    assert!(changed.contains("every:       120 s"), "{changed}");
    refused(&run(&["checks", "update", "home"]), &["nothing to change"]);
    refused(
        &run(&["checks", "update", "home", "--condition", "[NOPE] == 1"]),
        &["conditions[0]", "[NOPE] is not a placeholder"],
    );

    // The server's engine runs the check at once: the closed port fails it, and it is down.
    let mut results = String::new();
    for _ in 0..100 {
        results = stdout(&run(&["checks", "results", "db port"]));
        if results.contains("failed") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        results.contains("failed") && results.contains("could not connect"),
        "{results}"
    );
    let shown = stdout(&run(&["checks", "show", "db port"]));
    assert!(shown.contains("state:       down"), "{shown}");

    let gone = stdout(&run(&["checks", "delete", "db port"]));
    assert!(gone.starts_with("deleted check db port ("), "{gone}");
    refused(&run(&["checks", "show", "db port"]), &["check"]);
    assert!(terminate(server).success());
}
