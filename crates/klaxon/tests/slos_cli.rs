//! `klaxon slos …` against a running server: defining an SLO on a service named as people call
//! it, refusals naming the field, pushing counts, showing the budget and burn rates, changing,
//! the burn-down and deleting.
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
fn managing_slos_through_the_cli() {
    let server = start();
    let run = |args: &[&str]| klaxon(&server, args);
    stdout(&run(&["services", "create", "--name", "Checkout"]));
    let create = |objective: &str, window: &str| {
        run(&[
            "slos",
            "create",
            "--service",
            "checkout",
            "--name",
            "availability",
            "--objective",
            objective,
            "--window",
            window,
        ])
    };
    refused(
        &create("100", "30d"),
        &["objective", "above 0 and below 100"],
    );
    refused(
        &create("99.9", "14d"),
        &["window", "7d, 28d, 30d, 90d or month"],
    );
    refused(
        &run(&[
            "slos",
            "create",
            "--service",
            "nowhere",
            "--name",
            "a",
            "--objective",
            "99",
            "--window",
            "7d",
        ]),
        &["service"],
    );
    let made = stdout(&run(&[
        "slos",
        "create",
        "--service",
        "checkout",
        "--name",
        "availability",
        "--objective",
        "99.9",
        "--window",
        "30d",
        "--json",
    ]));
    let v: serde_json::Value = serde_json::from_str(&made).unwrap();
    let id = v["id"].as_str().unwrap().to_owned();
    assert_eq!(v["rules"].as_array().unwrap().len(), 3);

    // 10,000 events, 5 bad: half the budget of 10 spent.
    stdout(&run(&[
        "slos", "push", &id, "--good", "9995", "--total", "10000",
    ]));
    refused(
        &run(&["slos", "push", &id, "--good", "5", "--total", "1"]),
        &["counts[0].total"],
    );
    let shown = stdout(&run(&["slos", "show", &id]));
    assert!(shown.contains("SLO availability"), "{shown}");
    assert!(shown.contains("objective:  99.9 % over 30d"), "{shown}");
    assert!(
        shown.contains("budget:     50.0 % left (5.00 of 10.00 events spent)"),
        "{shown}"
    );
    assert!(shown.contains("page-fast"), "{shown}");
    let listed = stdout(&run(&["slos", "list", "--service", "checkout"]));
    assert!(
        listed.contains("availability") && listed.contains("50.0 %"),
        "{listed}"
    );

    let changed = stdout(&run(&[
        "slos",
        "update",
        &id,
        "--objective",
        "99",
        "--rules",
        r#"[{"name": "fast", "urgency": "page", "long": "1h", "short": "5m", "rate": 10}]"#,
    ]));
    assert!(changed.contains("objective:  99 % over 30d"), "{changed}");
    assert!(changed.contains("fast"), "{changed}");
    assert!(!changed.contains("page-fast"), "{changed}");
    let down = stdout(&run(&["slos", "burn-down", &id]));
    assert!(down.contains("95.0 %"), "{down}");

    stdout(&run(&["slos", "delete", &id]));
    refused(&run(&["slos", "show", &id]), &["not found"]);
}

#[test]
fn slos_as_code_through_the_cli() {
    let server = start();
    let run = |args: &[&str]| klaxon(&server, args);
    stdout(&run(&["services", "create", "--name", "Checkout"]));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("slos.yaml");
    let file_s = file.to_str().unwrap();
    let slo = |objective: &str| {
        format!(
            "apiVersion: openslo/v1
kind: SLO
metadata:
  name: checkout-availability
  displayName: availability
spec:
  service: Checkout
  indicator:
    spec:
      ratioMetric:
        good:
          metricSource:
            type: klaxon-pushed
        total:
          metricSource:
            type: klaxon-pushed
  timeWindow:
    - duration: 30d
      isRolling: true
  objectives:
    - targetPercent: {objective}
"
        )
    };
    std::fs::write(&file, slo("99.9")).unwrap();
    let dry = stdout(&run(&["slos", "apply", file_s, "--dry-run"]));
    assert_eq!(
        dry,
        "created Checkout/availability\ndry run: nothing was written\n"
    );
    assert!(!stdout(&run(&["slos", "list"])).contains("availability"));
    let made = stdout(&run(&["slos", "apply", file_s]));
    assert_eq!(made, "created Checkout/availability\n");
    std::fs::write(&file, slo("99.5")).unwrap();
    let changed = stdout(&run(&["slos", "apply", file_s]));
    assert_eq!(changed, "updated Checkout/availability (objective)\n");
    let v: serde_json::Value =
        serde_json::from_str(&stdout(&run(&["slos", "apply", file_s, "--json"]))).unwrap();
    assert_eq!(v["slos"][0]["result"], "unchanged");
    let id = v["slos"][0]["id"].as_str().unwrap().to_owned();

    // Exported to a file and to standard output, by service and by id; applied back: unchanged.
    let exported = dir.path().join("exported.yaml");
    stdout(&run(&[
        "slos",
        "export",
        "--service",
        "checkout",
        "-o",
        exported.to_str().unwrap(),
    ]));
    let yaml = std::fs::read_to_string(&exported).unwrap();
    assert!(yaml.contains("targetPercent: 99.5"), "{yaml}");
    assert_eq!(stdout(&run(&["slos", "export"])), yaml);
    assert_eq!(stdout(&run(&["slos", "export", &id])), yaml);
    let again = stdout(&run(&["slos", "apply", exported.to_str().unwrap()]));
    assert_eq!(again, "unchanged Checkout/availability\n");

    // A refusal names the place in the file.
    std::fs::write(&file, slo("99.9").replace("duration: 30d", "duration: 14d")).unwrap();
    refused(
        &run(&["slos", "apply", file_s]),
        &[
            "documents[0].spec.timeWindow[0].duration",
            "7d, 28d, 30d or 90d",
        ],
    );
}

#[test]
fn availability_slos_through_the_cli() {
    let server = start();
    let run = |args: &[&str]| klaxon(&server, args);
    stdout(&run(&["services", "create", "--name", "Checkout"]));
    stdout(&run(&["services", "create", "--name", "Search"]));
    // Ports nothing listens on: the checks have something to say, and it does not matter.
    for (name, service) in [("homepage", "checkout"), ("search box", "search")] {
        let address = format!("tcp://127.0.0.1:{}", free_port());
        stdout(&run(&[
            "checks",
            "add",
            "--name",
            name,
            "--service",
            service,
            "--address",
            &address,
        ]));
    }
    let create = |extra: &[&str]| {
        let mut args = vec![
            "slos",
            "create",
            "--service",
            "checkout",
            "--name",
            "homepage up",
            "--objective",
            "99.9",
            "--window",
            "30d",
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    refused(
        &create(&["--sli", "availability"]),
        &["--sli availability needs --check or --component"],
    );
    refused(
        &create(&["--sli", "pushed", "--check", "homepage"]),
        &["--check and --component are for --sli availability"],
    );
    refused(
        &create(&["--check", "nowhere"]),
        &["--check nowhere", "no check is called"],
    );
    refused(
        &create(&["--check", "search box"]),
        &["sli.check", "another service"],
    );
    let made = stdout(&create(&[
        "--sli",
        "availability",
        "--check",
        "homepage",
        "--json",
    ]));
    let v: serde_json::Value = serde_json::from_str(&made).unwrap();
    let id = v["id"].as_str().unwrap().to_owned();
    let check = v["sli"]["check"].as_str().unwrap().to_owned();
    assert_eq!(v["sli"]["kind"], "availability");
    assert_eq!(v["budget"]["unit"], "minutes");
    let shown = stdout(&run(&["slos", "show", &id]));
    assert!(
        shown.contains(&format!("measures:   availability of check {check}")),
        "{shown}"
    );
    // A 30-day month at 99.9 % allows 43.2 minutes from its first day.
    assert!(shown.contains("of 43.20 minutes spent"), "{shown}");
    refused(
        &run(&["slos", "push", &id, "--good", "1", "--total", "1"]),
        &["not pushed counts"],
    );
    // Back to pushed counts by update.
    let changed = stdout(&run(&["slos", "update", &id, "--sli", "pushed"]));
    assert!(changed.contains("measures:   pushed counts"), "{changed}");
}
