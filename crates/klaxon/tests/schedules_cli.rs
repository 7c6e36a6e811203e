//! `klaxon schedules preview` against a running server: the shifts a definition would give,
//! before it is saved (nothing is), and a change to a saved schedule.
use serde_json::{Value, json};

use crate::support;
use support::*;

fn failure(out: &std::process::Output) -> String {
    assert!(!out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_schedule_is_previewed_before_it_is_saved() {
    let server = start();
    let run = |args: &[&str]| klaxon(&server, args);
    let me = json_of(&run(&["me", "--json"]))["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let layer = json!({"name": "days", "start": "2026-03-02T09:00", "users": [me],
                       "turn": {"count": 1, "unit": "days"},
                       "restrictions": [{"type": "daily", "start": "09:00", "duration_minutes": 480}]})
    .to_string();
    let range = [
        "--from",
        "2026-03-02T00:00:00Z",
        "--to",
        "2026-03-04T00:00:00Z",
    ];
    let mut args = vec![
        "schedules",
        "preview",
        "--time-zone",
        "Europe/Berlin",
        "--layer",
        &layer,
    ];
    args.extend(range);
    let preview = json_of(&run(&[&args[..], &["--json"]].concat()));
    assert_eq!(preview["time_zone"], "Europe/Berlin");
    let starts: Vec<(&Value, &Value)> = preview["shifts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (&s["start"], &s["end"]))
        .collect();
    // 09:00–17:00 in Berlin is 08:00–16:00 UTC in March.
    assert_eq!(
        starts,
        [
            (
                &json!("2026-03-02T08:00:00Z"),
                &json!("2026-03-02T16:00:00Z")
            ),
            (
                &json!("2026-03-03T08:00:00Z"),
                &json!("2026-03-03T16:00:00Z")
            ),
        ]
    );
    assert_eq!(preview["layers"][0]["name"], "days");
    let text = String::from_utf8(run(&args).stdout).unwrap();
    assert!(text.contains("nothing is saved"), "{text}");
    assert!(text.contains("2026-03-03T08:00:00Z"), "{text}");
    // Nothing was saved.
    assert_eq!(
        json_of(&run(&["schedules", "list", "--json"]))["items"],
        json!([])
    );

    // Refusals name the field, as creating would.
    let bad = failure(&run(&[
        "schedules",
        "preview",
        "--time-zone",
        "Berlin",
        "--layer",
        &layer,
    ]));
    assert!(bad.contains("time_zone"), "{bad}");
    let missing = failure(&run(&["schedules", "preview", "--layer", &layer]));
    assert!(missing.contains("--time-zone"), "{missing}");

    // A change to a saved schedule: its own zone and layers stand in for those left out.
    json_of(&run(&[
        "schedules",
        "create",
        "--name",
        "ops",
        "--time-zone",
        "Europe/Berlin",
        "--layer",
        &layer,
        "--json",
    ]));
    let weekly = json!({"name": "weeks", "start": "2026-03-02T09:00", "users": [me],
                        "turn": {"count": 1, "unit": "weeks"}})
    .to_string();
    let mut args = vec![
        "schedules",
        "preview",
        "--schedule",
        "ops",
        "--layer",
        &weekly,
    ];
    args.extend(range);
    args.push("--json");
    let changed = json_of(&run(&args));
    assert_eq!(
        changed["shifts"],
        json!([{"user_id": me, "user_name": "Administrator",
                "start": "2026-03-02T08:00:00Z", "end": "2026-03-04T00:00:00Z"}])
    );
    let mut args = vec!["schedules", "preview", "--schedule", "ops"];
    args.extend(range);
    args.push("--json");
    let same = json_of(&run(&args));
    assert_eq!(same["shifts"], preview["shifts"]);
    let saved = json_of(&run(&["schedules", "show", "ops", "--json"]));
    assert_eq!(
        saved["layers"][0]["name"], "days",
        "the preview changed nothing"
    );
}
