//! `klaxon insights …` against a running server: metrics grouped, CSV, a bad period refused
//! naming the field, alert noise and on-call load as JSON.
use std::process::Output;

mod support;
use support::*;

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn insights_through_the_cli() {
    let server = start();
    let run = |args: &[&str]| klaxon(&server, args);
    json_of(&run(&[
        "incidents",
        "declare",
        "--title",
        "Replica lag",
        "--severity",
        "SEV3",
        "--category",
        "db",
        "--json",
    ]));

    let m = json_of(&run(&[
        "insights",
        "metrics",
        "--group-by",
        "category",
        "--json",
    ]));
    assert_eq!(m["overall"]["incidents"], 1, "{m}");
    // Acknowledged as it was declared: a TTA of 0 s, measured; no TTR yet.
    assert_eq!(m["overall"]["tta"]["count"], 1);
    assert_eq!(m["overall"]["tta"]["mean"], 0.0);
    assert_eq!(m["overall"]["ttr"]["count"], 0);
    assert_eq!(m["groups"][0]["key"], "db");

    let text = stdout(&run(&["insights", "metrics", "--group-by", "category"]));
    assert!(text.contains("all incidents"), "{text}");
    let csv = stdout(&run(&["insights", "metrics", "--csv", "--table", "weeks"]));
    assert!(csv.starts_with("key,label,incidents,ttd_count,"), "{csv}");

    let bad = run(&[
        "insights",
        "alert-noise",
        "--from",
        "2026-03-02",
        "--to",
        "2026-03-01",
    ]);
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("to: must be after from"), "{err}");

    let noise = json_of(&run(&["insights", "alert-noise", "--json"]));
    assert_eq!(noise["incidents"], 1);
    assert_eq!(noise["unacknowledged_incidents"], 0);
    let load = json_of(&run(&["insights", "oncall-load", "--json"]));
    assert!(load["people"].as_array().unwrap().is_empty(), "{load}");
    terminate(server);
}
