//! `klaxon insights …` against a running server: metrics grouped, CSV, a bad period refused
//! naming the field, alert noise and on-call load as JSON, and an incident's SLO budget
//! (`klaxon slos burned`, `klaxon insights slo-budget`).
use std::process::Output;

use crate::support;
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

    // What an incident burned of its service's SLO: 20 bad of 1,000 events pushed a minute
    // ago, in an incident whose impact began two minutes ago. A 99 % window of those 1,000
    // events allows 10 bad: twice its budget.
    stdout(&run(&["services", "create", "--name", "Checkout"]));
    let slo = json_of(&run(&[
        "slos",
        "create",
        "--service",
        "checkout",
        "--name",
        "availability",
        "--objective",
        "99",
        "--window",
        "7d",
        "--json",
    ]));
    let now = jiff::Timestamp::now();
    let ago = |mins: i64| (now - jiff::SignedDuration::from_mins(mins)).to_string();
    stdout(&run(&[
        "slos",
        "push",
        slo["id"].as_str().unwrap(),
        "--good",
        "980",
        "--total",
        "1000",
        "--at",
        &ago(1),
    ]));
    let inc = json_of(&run(&[
        "incidents",
        "declare",
        "--title",
        "Checkout errors",
        "--severity",
        "SEV2",
        "--service",
        "checkout",
        "--impact-started-at",
        &ago(2),
        "--json",
    ]));
    let number = inc["number"].to_string();
    let burned = json_of(&run(&["slos", "burned", &number, "--json"]));
    assert_eq!(burned[0]["bad"], 20.0, "{burned}");
    assert_eq!(burned[0]["total"], 1000.0);
    // (1 − 0.99) × 1,000 is 10 give or take a rounding.
    assert!(
        (burned[0]["share"].as_f64().unwrap() - 2.0).abs() < 1e-9,
        "{burned}"
    );
    let text = stdout(&run(&["slos", "burned", &number]));
    assert!(
        text.contains("availability") && text.contains("200.0 %"),
        "{text}"
    );
    // Ranked once resolved and kept; open, it is not in the ranking yet.
    let ranked = json_of(&run(&["insights", "slo-budget", "--json"]));
    assert!(
        ranked["incidents"].as_array().unwrap().is_empty(),
        "{ranked}"
    );
    let csv = stdout(&run(&[
        "insights",
        "slo-budget",
        "--csv",
        "--table",
        "services",
    ]));
    assert!(
        csv.starts_with("service_id,service,slo,unit,incidents,bad,budget_share"),
        "{csv}"
    );
    terminate(server);
}
