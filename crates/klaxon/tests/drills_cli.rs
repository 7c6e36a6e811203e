//! `klaxon drills …` against a running server: a file of two scenarios applied (created, then
//! unchanged, then one updated), a dry run that saves nothing, refusals that name the field and
//! save nothing, the list and a scenario in words and as YAML that applies again; drills started
//! from a scenario and by hand, their steps taken by the real engine, listed, shown with their
//! scorecards and ended; a scenario recorded from the drill's incident and applied; deletion.
use std::process::Output;
use std::time::{Duration, Instant};

use klaxon_domain::drill::{Scenario, parse};

use crate::support;
use support::*;

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The command failed, and said why on standard error.
fn refused(out: &Output, needles: &[&str]) {
    assert!(!out.status.success(), "expected a failure: {out:?}");
    let err = stderr(out);
    for n in needles {
        assert!(err.contains(n), "{n:?} not in {err:?}");
    }
}

const FAILOVER: &str = r#"name: checkout-db-failover
title: Checkout database fails over
description: "The primary goes away; the replica takes over."
service: Checkout
severity: SEV2
targets:
  acknowledge_minutes: 5
  roles: [commander, communications_lead]
  roles_minutes: 10
  first_update_minutes: 15
  runbook_steps: 2
steps:
  - at: 0
    alert: { summary: "Checkout p99 above 2 s", dedup_key: checkout-latency, severity: critical, details: { host: db-1 } }
  - at: 0
    note: "Support: customers say payments fail"
  - at: 0.05
    resolve: checkout-latency
"#;

const TABLETOP: &str = "name: tabletop\ntitle: Tabletop on the payments outage\nseverity: SEV3\n";

/// Single scenarios as the items of a list.
fn list_of(docs: &[&str]) -> String {
    let mut out = String::from("# Two scenarios in one file.\n");
    for doc in docs {
        for (i, line) in doc.lines().enumerate() {
            let lead = if i == 0 { "- " } else { "  " };
            out.push_str(&format!("{lead}{line}\n"));
        }
    }
    out
}

/// The line of `text` that starts with `start`.
fn line<'a>(text: &'a str, start: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no line starts with {start:?} in {text}"))
}

/// The words of a table line, its cells split on runs of two spaces or more.
fn cells(line: &str) -> Vec<&str> {
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect()
}

#[test]
fn scenarios_applied_drills_run_scored_ended_and_recorded_through_the_cli() {
    let server = start();
    let run = |args: &[&str]| klaxon(&server, args);
    stdout(&run(&["services", "create", "--name", "Checkout"]));
    let me = json_of(&run(&["me", "--json"]));
    let email = me["user"]["email"].as_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("drills.yaml");
    let f = file.to_str().unwrap();
    std::fs::write(&file, list_of(&[FAILOVER, TABLETOP])).unwrap();
    let lines = |out: &str| -> Vec<String> { out.lines().map(str::to_owned).collect() };

    // Applied: created; again: unchanged; one changed: updated, after a dry run that saves
    // nothing.
    let first = stdout(&run(&["drills", "apply", f]));
    assert_eq!(
        lines(&first),
        ["created checkout-db-failover", "created tabletop"],
        "{first}"
    );
    let again = stdout(&run(&["drills", "apply", f]));
    assert_eq!(
        lines(&again),
        ["unchanged checkout-db-failover", "unchanged tabletop"],
        "{again}"
    );
    let failover = FAILOVER.replace("acknowledge_minutes: 5", "acknowledge_minutes: 4");
    std::fs::write(&file, list_of(&[&failover, TABLETOP])).unwrap();
    let dry = stdout(&run(&["drills", "apply", f, "--dry-run"]));
    assert!(dry.starts_with("updated checkout-db-failover\n"), "{dry}");
    assert!(
        dry.contains("\n  At 0 min: the alert “Checkout p99 above 2 s” fires (critical, key checkout-latency)\n"),
        "{dry}"
    );
    assert!(
        dry.contains("\n  Target: Acknowledged within 4 min\n"),
        "{dry}"
    );
    assert!(dry.contains("\nunchanged tabletop\n"), "{dry}");
    assert!(dry.ends_with("dry run: nothing was written\n"), "{dry}");
    let shown = stdout(&run(&["drills", "scenario", "checkout-db-failover"]));
    assert!(
        shown.contains("Target: Acknowledged within 5 min"),
        "a dry run saved: {shown}"
    );
    let updated = stdout(&run(&["drills", "apply", f]));
    assert_eq!(
        lines(&updated),
        ["updated checkout-db-failover", "unchanged tabletop"],
        "{updated}"
    );

    // A dry run of a new scenario saves nothing.
    let new = dir.path().join("new.yaml");
    let n = new.to_str().unwrap();
    std::fs::write(
        &new,
        "name: quiet-one\ntitle: Nothing happens\nseverity: SEV4\n",
    )
    .unwrap();
    let dry = stdout(&run(&["drills", "apply", n, "--dry-run"]));
    assert!(dry.starts_with("created quiet-one\n"), "{dry}");
    assert!(!stdout(&run(&["drills", "scenarios"])).contains("quiet-one"));

    // Refusals name the field, and save nothing of the file: first what the file shows, on
    // this machine; then what only the server knows (the service).
    let bad = dir.path().join("bad.yaml");
    let b = bad.to_str().unwrap();
    std::fs::write(
        &bad,
        FAILOVER.replace("resolve: checkout-latency", "resolve: other"),
    )
    .unwrap();
    refused(
        &run(&["drills", "apply", b]),
        &[
            "bad.yaml",
            "checkout-db-failover: steps[2].resolve",
            "other",
        ],
    );
    std::fs::write(
        &bad,
        list_of(&[
            "name: good-one\ntitle: Good\nseverity: SEV4",
            "name: bad-one\ntitle: Bad\nseverity: SEV4\nservice: Nowhere",
        ]),
    )
    .unwrap();
    refused(
        &run(&["drills", "apply", b]),
        &["refused bad-one", "service", "Nowhere", "nothing was saved"],
    );
    let listed = stdout(&run(&["drills", "scenarios"]));
    assert!(!listed.contains("good-one"), "{listed}");

    // The list, a scenario in words, and as YAML that reads back and applies as it is.
    let listed = stdout(&run(&["drills", "scenarios"]));
    assert_eq!(listed.lines().count(), 3, "{listed}");
    assert_eq!(
        cells(line(&listed, "NAME")),
        ["NAME", "TITLE", "SEVERITY", "STEPS", "SERVICE"]
    );
    assert_eq!(
        cells(line(&listed, "checkout-db-failover")),
        [
            "checkout-db-failover",
            "Checkout database fails over",
            "SEV2",
            "3",
            "Checkout"
        ]
    );
    assert_eq!(
        cells(line(&listed, "tabletop")),
        [
            "tabletop",
            "Tabletop on the payments outage",
            "SEV3",
            "0",
            "-"
        ]
    );
    let as_json = json_of(&run(&["drills", "scenarios", "--json"]));
    assert_eq!(as_json.as_array().unwrap().len(), 2);
    assert_eq!(as_json[0]["revision"], 2);
    let words = stdout(&run(&["drills", "scenario", "checkout-db-failover"]));
    assert!(
        words.starts_with("checkout-db-failover: Checkout database fails over (revision 2,"),
        "{words}"
    );
    assert!(
        words.contains("\nSEV2 on the service Checkout\n"),
        "{words}"
    );
    assert!(
        words.contains(
            "\n  At 0 min: news for the responders: “Support: customers say payments fail”\n"
        ),
        "{words}"
    );
    assert!(
        words.contains("\n  At 0.05 min: the alert with key checkout-latency resolves\n"),
        "{words}"
    );
    assert!(
        words.contains("\n  Target: Roles held (commander, communications_lead) within 10 min\n"),
        "{words}"
    );
    let yaml = stdout(&run(&[
        "drills",
        "scenario",
        "checkout-db-failover",
        "--yaml",
    ]));
    assert!(yaml.starts_with("# checkout-db-failover ("), "{yaml}");
    assert!(yaml.contains("\nname: checkout-db-failover\n"), "{yaml}");
    let expected: Scenario = parse(&failover).unwrap();
    assert_eq!(parse(&yaml).unwrap(), expected, "{yaml}");
    std::fs::write(&new, &yaml).unwrap();
    assert_eq!(
        stdout(&run(&["drills", "apply", n])),
        "unchanged checkout-db-failover\n"
    );
    let tabletop = stdout(&run(&["drills", "scenario", "tabletop"]));
    assert!(
        tabletop.contains("SEV3 on no service: it pages nobody"),
        "{tabletop}"
    );

    // A drill from the scenario: its incident is marked, and the engine takes its steps.
    let started = stdout(&run(&["drills", "start", "checkout-db-failover"]));
    assert!(started.starts_with("started drill "), "{started}");
    assert!(
        started.ends_with(": incident #1 DRILL: Checkout database fails over\n"),
        "{started}"
    );
    let drill_id = started["started drill ".len()..]
        .split(':')
        .next()
        .unwrap()
        .to_owned();
    let key = format!("drill:{drill_id}:checkout-latency");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = json_of(&run(&["alerts", "list", "--incident", "1", "--json"]));
        let items = v["items"].as_array().unwrap();
        if items.len() == 1 && items[0]["status"] == "resolved" {
            assert_eq!(items[0]["dedup_key"], key.as_str(), "{v:#}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the drill's alert was not raised and resolved: {v:#}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let timeline = stdout(&run(&["incidents", "timeline", "1"]));
    assert!(timeline.contains("drill.started"), "{timeline}");
    assert!(timeline.contains("drill.note"), "{timeline}");

    // Start refuses a scenario and hand-written fields together, and needs one or the other.
    refused(
        &run(&["drills", "start", "tabletop", "--title", "x"]),
        &["--title"],
    );
    refused(&run(&["drills", "start"]), &["--title"]);

    // A drill by hand, with its targets and a commander from the start.
    let by_hand = stdout(&run(&[
        "drills",
        "start",
        "--title",
        "Pager test",
        "--severity",
        "sev4",
        "--ack-minutes",
        "5",
        "--roles",
        "commander,scribe",
        "--roles-minutes",
        "10",
        "--update-minutes",
        "15",
        "--runbook-steps",
        "1",
        "--commander",
        &email,
    ]));
    assert!(
        by_hand.ends_with(": incident #2 DRILL: Pager test\n"),
        "{by_hand}"
    );

    // The list, newest first, with the scorecards in short.
    let listed = stdout(&run(&["drills", "list"]));
    assert_eq!(listed.lines().count(), 3, "{listed}");
    assert_eq!(
        cells(line(&listed, "INCIDENT")),
        [
            "INCIDENT", "SCENARIO", "STARTED", "STATE", "ACK", "ROLES", "UPDATE", "RUNBOOK"
        ]
    );
    let second = cells(listed.lines().nth(1).unwrap());
    assert_eq!(second[0..2], ["#2", "(by hand)"], "{listed}");
    assert_eq!(
        second[3..],
        ["running", "0s met", "- not yet", "- not yet", "0/1 not yet"]
    );
    let first = cells(listed.lines().nth(2).unwrap());
    assert_eq!(first[0..2], ["#1", "checkout-db-failover"], "{listed}");
    assert_eq!(
        first[3..],
        ["running", "0s met", "- not yet", "- not yet", "0/2 not yet"]
    );
    let only = stdout(&run(&[
        "drills",
        "list",
        "--scenario",
        "checkout-db-failover",
    ]));
    assert_eq!(only.lines().count(), 2, "{only}");
    assert!(only.lines().nth(1).unwrap().starts_with("#1 "), "{only}");
    let page = stdout(&run(&["drills", "list", "--limit", "1"]));
    let more = line(&page, "more: --cursor ");
    let cursor = more.trim_start_matches("more: --cursor ");
    let rest = stdout(&run(&[
        "drills", "list", "--limit", "1", "--cursor", cursor,
    ]));
    assert!(rest.lines().nth(1).unwrap().starts_with("#1 "), "{rest}");
    assert!(!rest.contains("more:"), "{rest}");
    let as_json = json_of(&run(&["drills", "list", "--json"]));
    let items = as_json["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|d| d["is_drill"] == true), "{as_json:#}");

    // The scorecard as a table; the response moves it on.
    let card = stdout(&run(&["drills", "show", "1"]));
    assert!(
        card.starts_with(&format!(
            "{drill_id}: incident #1 DRILL: Checkout database fails over\n"
        )),
        "{card}"
    );
    assert!(
        card.contains("\nscenario checkout-db-failover, 3 steps scripted\n"),
        "{card}"
    );
    assert!(card.contains(&format!(" by {email}; running")), "{card}");
    assert_eq!(
        cells(line(&card, "MEASURE")),
        ["MEASURE", "VALUE", "TARGET", "RESULT"]
    );
    assert_eq!(
        cells(line(&card, "acknowledged")),
        ["acknowledged", "0 s", "within 4 min", "met"]
    );
    assert_eq!(
        cells(line(&card, "roles held")),
        [
            "roles held (commander, communications_lead)",
            "-",
            "within 10 min",
            "not yet"
        ]
    );
    assert_eq!(
        cells(line(&card, "first stakeholder update")),
        ["first stakeholder update", "-", "within 15 min", "not yet"]
    );
    assert_eq!(
        cells(line(&card, "runbook steps")),
        ["runbook steps completed", "0", "at least 2", "not yet"]
    );
    assert!(
        card.ends_with("\nnobody has held: communications_lead\n"),
        "{card}"
    );
    stdout(&run(&[
        "incident",
        "assign",
        "1",
        "--role",
        "communications_lead",
        "--user",
        &email,
    ]));
    stdout(&run(&[
        "incident",
        "post-update",
        "1",
        "--template",
        "investigating",
    ]));
    let card = stdout(&run(&["drills", "show", "#1"]));
    assert!(line(&card, "roles held").ends_with(" met"), "{card}");
    assert!(
        line(&card, "first stakeholder update").ends_with(" met"),
        "{card}"
    );
    assert!(!card.contains("nobody has held"), "{card}");

    // Ended by hand: what has not happened is missed, and the card is kept.
    let ended = stdout(&run(&["drills", "end", "1"]));
    assert!(
        ended.starts_with(&format!("ended drill {drill_id}: incident #1 ")),
        "{ended}"
    );
    assert!(ended.contains(&format!(" by {email}\n")), "{ended}");
    assert_eq!(
        cells(line(&ended, "runbook steps")),
        ["runbook steps completed", "0", "at least 2", "missed"]
    );
    refused(&run(&["drills", "end", "1"]), &["409", "ended already"]);
    let listed = stdout(&run(&["drills", "list"]));
    let first = cells(line(&listed, "#1 "));
    assert_eq!(first[3], "ended", "{listed}");
    assert_eq!(first[7], "0/2 missed", "{listed}");
    let as_json = json_of(&run(&["drills", "show", "1", "--json"]));
    assert_eq!(as_json["scorecard"]["over"], true, "{as_json:#}");
    assert_eq!(
        as_json["scorecard"]["runbook_steps_met"], false,
        "{as_json:#}"
    );

    // A scenario recorded from the drill's incident: its alert at its own key, resolved when it
    // was; applied as it is.
    let recorded = dir.path().join("recorded.yaml");
    let r = recorded.to_str().unwrap();
    let out = run(&[
        "drills",
        "record",
        "#1",
        "--name",
        "replayed-failover",
        "--output",
        r,
    ]);
    assert_eq!(stdout(&out), "");
    assert_eq!(
        stderr(&out),
        format!("wrote {r}: 2 steps recorded from incident #1; none was left out\n")
    );
    let text = std::fs::read_to_string(&recorded).unwrap();
    let s = parse(&text).unwrap();
    assert_eq!(s.name, "replayed-failover");
    assert_eq!(s.title, "Checkout database fails over", "{text}");
    assert_eq!(s.service.as_deref(), Some("Checkout"), "{text}");
    assert_eq!(s.steps.len(), 2, "{text}");
    let alert = s.steps[0].alert.as_ref().unwrap();
    assert_eq!(alert.dedup_key, "checkout-latency", "{text}");
    assert_eq!(alert.details["host"], "db-1", "{text}");
    assert_eq!(
        s.steps[1].resolve.as_deref(),
        Some("checkout-latency"),
        "{text}"
    );
    assert_eq!(
        stdout(&run(&["drills", "apply", r])),
        "created replayed-failover\n"
    );
    let printed = run(&[
        "drills", "record", "1", "--name", "printed", "--title", "Replay",
    ]);
    assert!(
        stderr(&printed).contains("2 steps recorded from incident #1; none was left out"),
        "{printed:?}"
    );
    let s = parse(&stdout(&printed)).unwrap();
    assert_eq!((s.name.as_str(), s.title.as_str()), ("printed", "Replay"));
    refused(
        &run(&["drills", "record", "2", "--name", "empty"]),
        &["incident", "no alerts"],
    );

    // Deleted: the scenario goes, its drills and their scorecards stay.
    let deleted = stdout(&run(&["drills", "delete-scenario", "checkout-db-failover"]));
    assert!(
        deleted.starts_with("deleted scenario checkout-db-failover ("),
        "{deleted}"
    );
    refused(
        &run(&["drills", "scenario", "checkout-db-failover"]),
        &["404", "checkout-db-failover"],
    );
    let only = stdout(&run(&[
        "drills",
        "list",
        "--scenario",
        "checkout-db-failover",
    ]));
    assert!(only.lines().nth(1).unwrap().starts_with("#1 "), "{only}");
}
