use super::*;

const EXAMPLE: &str = r#"
name: checkout-db-failover
title: Checkout database fails over
service: checkout
severity: SEV2
targets: { acknowledge_minutes: 5, roles: [commander, communications_lead], roles_minutes: 10, first_update_minutes: 15, runbook_steps: 2 }
steps:
  - at: 0
    alert: { summary: "Checkout p99 above 2 s", dedup_key: checkout-latency, severity: critical, details: { host: db-1 } }
  - at: 4.5
    note: "Support: customers say payments fail"
  - at: 12
    resolve: checkout-latency
"#;

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

#[test]
fn the_example_reads_and_its_steps_fall_due_in_order() {
    let s = parse(EXAMPLE).unwrap();
    assert_eq!(s.steps.len(), 3);
    assert_eq!(s.steps[1].offset(), SignedDuration::from_secs(270));
    assert_eq!(s.targets.roles, ["commander", "communications_lead"]);
    let due: Vec<usize> = s.due(SignedDuration::from_secs(270)).collect();
    assert_eq!(due, [0, 1]);
    assert_eq!(
        s.next_after(SignedDuration::from_secs(270)),
        Some(SignedDuration::from_mins(12))
    );
    assert_eq!(s.next_after(SignedDuration::from_mins(12)), None);
    // Without targets, the commander is the role to assemble.
    let bare = parse("name: a\ntitle: A\nseverity: SEV3\n").unwrap();
    assert_eq!(bare.targets.roles, ["commander"]);
}

#[test]
fn refusals_name_the_field() {
    let refused = |edit: &dyn Fn(&str) -> String| parse(&edit(EXAMPLE)).unwrap_err();
    let e = refused(&|s| s.replace("resolve: checkout-latency", "resolve: other"));
    assert_eq!(e.field, "steps[2].resolve");
    let e = refused(&|s| s.replace("at: 12", "at: 3"));
    assert_eq!(e.field, "steps[2].at");
    let e = refused(&|s| s.replace("service: checkout\n", ""));
    assert_eq!(e.field, "service");
    let e = refused(&|s| s.replace("name: checkout-db-failover", "name: New Drill"));
    assert_eq!(e.field, "name");
    let e = refused(&|s| s.replace("name: checkout-db-failover", "name: record"));
    assert_eq!(e.field, "name");
    let e = refused(&|s| s.replace("acknowledge_minutes: 5", "acknowledge_minutes: 0"));
    assert_eq!(e.field, "targets.acknowledge_minutes");
    let e = refused(&|s| s.replace("    note: \"Support", "    resolve: x\n    note: \"Support"));
    assert_eq!(e.field, "steps[1]");
    let e = refused(&|s| s.replace("at: 4.5", "at: -1"));
    assert_eq!(e.field, "steps[1].at");
    let e = refused(&|s| s.replace("severity: SEV2", "severity: SEV9"));
    assert_eq!(e.field, "scenario.severity");
    let e = refused(&|s| s.replace("summary: \"Checkout p99 above 2 s\"", "summary: \" \""));
    assert_eq!(e.field, "steps[0].alert.summary");
    // The same key again while its alert is open: one alert, not two.
    let e = refused(&|s| {
        s.replace(
            "note: \"Support: customers say payments fail\"",
            "alert: { summary: again, dedup_key: checkout-latency }",
        )
    });
    assert_eq!(e.field, "steps[1].alert.dedup_key");
    let e = refused(&|s| {
        s.replace(
            "title: Checkout database fails over",
            "title: \"Two\\nlines\"",
        )
    });
    assert_eq!(e.field, "title");
    let e = refused(&|s| s.replace("severity: SEV2", "severity: SEV2\ncolour: red"));
    assert!(e.field.starts_with("scenario"), "{}", e.field);
}

#[test]
fn titles_are_marked_once_and_unmarked() {
    assert_eq!(marked_title("DB down", true), "DRILL: DB down");
    assert_eq!(marked_title("DRILL: DB down", true), "DRILL: DB down");
    assert_eq!(marked_title("DRILL: DB down", false), "DB down");
    assert_eq!(marked_title("DB down", false), "DB down");
}

fn past(at: &str, resolved: Option<&str>, key: &str) -> PastAlert {
    PastAlert {
        created_at: t(at),
        resolved_at: resolved.map(t),
        summary: format!("{key} is down"),
        dedup_key: key.into(),
        severity: AlertSeverity::Critical,
        source: Some("prometheus".into()),
        component: None,
        group: None,
        class: None,
        details: serde_json::json!({"host": "db-1"}),
    }
}

#[test]
fn a_recording_replays_alerts_at_their_offsets_and_checks() {
    let (s, left_out) = record(
        "replay".into(),
        "DRILL: Database down",
        Some("db".into()),
        Severity::Sev1,
        vec![
            past("2026-01-01T10:03:30Z", None, "b"),
            past("2026-01-01T10:00:00Z", Some("2026-01-01T10:07:00Z"), "a"),
            past("2026-01-03T10:00:00Z", None, "late"),
            // Again while the first `b` is open: one alert, left out of the replay.
            past("2026-01-01T10:05:00Z", None, "b"),
        ],
    );
    assert_eq!(left_out, 2);
    assert_eq!(s.title, "Database down");
    let shape: Vec<(f64, Option<&str>, Option<&str>)> = s
        .steps
        .iter()
        .map(|st| {
            (
                st.at,
                st.alert.as_ref().map(|a| a.dedup_key.as_str()),
                st.resolve.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            (0.0, Some("a"), None),
            (3.5, Some("b"), None),
            (7.0, None, Some("a"))
        ]
    );
    s.check().unwrap();
    // Through YAML and back, the same.
    let text = yaml_serde::to_string(&s).unwrap();
    assert_eq!(parse(&text).unwrap(), s);
}

#[test]
fn the_scorecard_measures_against_the_targets() {
    let start = t("2026-01-01T10:00:00Z");
    let targets = parse(EXAMPLE).unwrap().targets;
    let facts = ScoreFacts {
        acknowledged_at: Some(t("2026-01-01T10:03:20Z")),
        roles: vec![
            ("commander".into(), t("2026-01-01T10:04:00Z")),
            ("communications_lead".into(), t("2026-01-01T10:11:30Z")),
            ("commander".into(), t("2026-01-01T10:09:00Z")),
        ],
        first_update_at: None,
        runbook_steps_done: 1,
    };
    let end = t("2026-01-01T10:30:00Z");
    let card = score(start, &targets, &facts, end, true);
    assert_eq!(
        card.summary(),
        "acknowledged: 3 min 20 s (target 5 min: met); roles assembled: 11 min 30 s (target \
         10 min: missed); first update: never (target 15 min: missed); runbook steps \
         completed: 1 (target 2: missed)"
    );
    assert_eq!(card.acknowledge.seconds, Some(200));
    assert_eq!(card.acknowledge.target_seconds, Some(300));
    assert_eq!(card.acknowledge.met, Some(true));
    // Assembled when the last of the roles was first held: 11 min 30 s, past 10.
    assert_eq!(card.roles.seconds, Some(690));
    assert_eq!(card.roles.met, Some(false));
    assert!(card.roles_missing.is_empty());
    assert_eq!(card.first_update.seconds, None);
    assert_eq!(card.first_update.met, Some(false));
    assert_eq!(card.runbook_steps_met, Some(false));
    // While it runs, what may still happen is not yet missed.
    let running = score(start, &targets, &facts, t("2026-01-01T10:12:00Z"), false);
    assert_eq!(running.first_update.met, None);
    assert_eq!(running.runbook_steps_met, None);
    let late = score(start, &targets, &facts, t("2026-01-01T10:16:00Z"), false);
    assert_eq!(late.first_update.met, Some(false));
    // A role nobody held.
    let lone = ScoreFacts {
        roles: vec![("commander".into(), start)],
        ..facts
    };
    let card = score(start, &targets, &lone, end, true);
    assert_eq!(card.roles.seconds, None);
    assert_eq!(card.roles_missing, ["communications_lead"]);
}

#[test]
fn a_scenario_reads_in_words() {
    let (steps, targets) = parse(EXAMPLE).unwrap().describe();
    assert_eq!(
        steps,
        [
            "At 0 min: the alert “Checkout p99 above 2 s” fires (critical, key checkout-latency)",
            "At 4.5 min: news for the responders: “Support: customers say payments fail”",
            "At 12 min: the alert with key checkout-latency resolves",
        ]
    );
    assert_eq!(
        targets,
        [
            "Acknowledged within 5 min",
            "Roles held (commander, communications_lead) within 10 min",
            "First stakeholder update within 15 min",
            "At least 2 runbook steps completed",
        ]
    );
    assert_eq!(minutes_text(90.0), "1 h 30 min");
    assert_eq!(minutes_text(120.0), "2 h");
    assert_eq!(duration_text(45), "45 s");
    assert_eq!(duration_text(600), "10 min");
    assert_eq!(duration_text(3900), "1 h 5 min");
}
