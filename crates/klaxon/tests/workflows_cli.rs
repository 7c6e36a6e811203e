//! `klaxon workflows …` against a running server: a file of two workflows applied (created,
//! then unchanged, then one updated), a dry run that saves nothing, refusals that name the
//! field and save nothing, list, show (YAML that reads back), disable and enable, the runs the
//! real engine makes when an incident is declared, and delete.
use std::process::Output;
use std::time::{Duration, Instant};

use klaxon_domain::workflow::parse_file;

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

const TWO: &str = r#"# Two workflows in one file.
- name: declared-basics
  description: "The first steps on every incident: tasks and a first update"
  trigger: { on: incident_declared }
  actions:
    - add_tasks: [Open a bridge, "Tell support: checkout is down"]
    - post_update: { message: We are looking into it. }
- name: sev1-page
  trigger: { on: severity_changed }
  conditions: { severity: [SEV1], service: [checkout], drills: false }
  actions:
    - page: { role: commander, message: "SEV1: join the bridge" }
      stop_on_failure: true
    - add_tasks: [Tell the status page]
"#;

#[test]
fn applying_files_of_workflows_and_following_their_runs_through_the_cli() {
    let server = start();
    let run = |args: &[&str]| klaxon(&server, args);
    stdout(&run(&["services", "create", "--name", "Checkout"]));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("workflows.yaml");
    let f = file.to_str().unwrap();
    std::fs::write(&file, TWO).unwrap();
    let names = |out: &str| -> Vec<String> { out.lines().map(str::to_owned).collect() };

    // Applied: created; again: unchanged; one changed: updated.
    let first = stdout(&run(&["workflows", "apply", f]));
    assert_eq!(
        names(&first),
        ["created declared-basics", "created sev1-page"],
        "{first}"
    );
    let again = stdout(&run(&["workflows", "apply", f]));
    assert_eq!(
        names(&again),
        ["unchanged declared-basics", "unchanged sev1-page"],
        "{again}"
    );
    let changed = TWO.replace("severity: [SEV1]", "severity: [SEV1, SEV2]");
    std::fs::write(&file, &changed).unwrap();
    let dry = stdout(&run(&["workflows", "apply", f, "--dry-run"]));
    assert!(dry.contains("unchanged declared-basics\n"), "{dry}");
    assert!(dry.contains("updated sev1-page\n"), "{dry}");
    assert!(
        dry.contains("When an incident's severity changes, if its severity is SEV1 or SEV2"),
        "{dry}"
    );
    assert!(dry.ends_with("dry run: nothing was written\n"), "{dry}");
    let shown = stdout(&run(&["workflows", "show", "sev1-page"]));
    assert!(
        shown.contains("severity: [SEV1]\n"),
        "a dry run saved: {shown}"
    );
    let updated = stdout(&run(&["workflows", "apply", f]));
    assert_eq!(
        names(&updated),
        ["unchanged declared-basics", "updated sev1-page"],
        "{updated}"
    );

    // A dry run of a new workflow saves nothing.
    let new = dir.path().join("new.yaml");
    std::fs::write(
        &new,
        "name: quiet-reminder\ntrigger: {on: no_update, minutes: 30}\n\
         actions: [{post_update: {template: investigating}}]\n",
    )
    .unwrap();
    let n = new.to_str().unwrap();
    let dry = stdout(&run(&["workflows", "apply", n, "--dry-run"]));
    assert!(dry.starts_with("created quiet-reminder\n"), "{dry}");
    assert!(!stdout(&run(&["workflows", "list"])).contains("quiet-reminder"));

    // Refusals name the field, and save nothing of the file.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "- name: good-one\n  trigger: {on: alert}\n  actions: [{add_tasks: [Look]}]\n\
         - name: bad-one\n  trigger: {on: incident_declared}\n\
         \x20 actions: [{page: {user: nobody@example.com}}]\n",
    )
    .unwrap();
    let out = run(&["workflows", "apply", bad.to_str().unwrap()]);
    refused(
        &out,
        &["bad-one", "actions[0].page.user", "nothing was saved"],
    );
    let listed = stdout(&run(&["workflows", "list"]));
    assert!(
        !listed.contains("good-one") && !listed.contains("bad-one"),
        "{listed}"
    );
    // Checked here first: a mistake the file shows is named without asking the server.
    std::fs::write(
        &bad,
        "name: bad-one\ntrigger: {on: never}\nactions: [{add_tasks: [x]}]\n",
    )
    .unwrap();
    refused(
        &run(&["workflows", "apply", bad.to_str().unwrap()]),
        &["bad.yaml", "trigger.on"],
    );
    std::fs::write(
        &bad,
        "name: loop\ntrigger: {on: role_assigned}\n\
         actions: [{assign_role: {role: scribe, user: nobody@example.com}}]\n",
    )
    .unwrap();
    refused(
        &run(&["workflows", "apply", bad.to_str().unwrap()]),
        &["loop: actions[0].assign_role", "again and again"],
    );

    // The list, and a workflow shown as YAML that reads back as the same workflow.
    let listed = stdout(&run(&["workflows", "list"]));
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 3, "{listed}");
    assert!(lines[0].starts_with("NAME"), "{listed}");
    assert!(
        lines[1].starts_with("declared-basics")
            && lines[1].contains("yes")
            && lines[1].contains("incident_declared"),
        "{listed}"
    );
    assert!(
        lines[2].starts_with("sev1-page") && lines[2].ends_with(" 2"),
        "{listed}"
    );
    let as_json = json_of(&run(&["workflows", "list", "--json"]));
    assert_eq!(as_json.as_array().unwrap().len(), 2);
    assert_eq!(as_json[1]["revision"], 2);

    let shown = stdout(&run(&["workflows", "show", "sev1-page"]));
    assert!(
        shown.contains(
            "# When an incident's severity changes, if its severity is SEV1 or SEV2 and its \
             service is checkout and it is not a drill:\n"
        ),
        "{shown}"
    );
    assert!(
        shown.contains("#   1. Page whoever holds the role commander (if this fails, stop)\n"),
        "{shown}"
    );
    assert!(shown.contains("\nname: sev1-page\n"), "{shown}");
    let written = parse_file(&changed).unwrap();
    assert_eq!(parse_file(&shown).unwrap(), vec![written[1].clone()]);
    let basics = stdout(&run(&["workflows", "show", "declared-basics"]));
    assert_eq!(parse_file(&basics).unwrap(), vec![written[0].clone()]);
    // What show prints applies as it is.
    std::fs::write(&new, &basics).unwrap();
    assert_eq!(
        stdout(&run(&["workflows", "apply", n])),
        "unchanged declared-basics\n"
    );

    // Off and on again.
    let off = stdout(&run(&["workflows", "disable", "sev1-page"]));
    assert_eq!(off, "disabled sev1-page (revision 3)\n");
    assert_eq!(
        stdout(&run(&["workflows", "disable", "sev1-page"])),
        "sev1-page was already disabled\n"
    );
    let shown = stdout(&run(&["workflows", "show", "sev1-page"]));
    assert!(shown.contains("\nenabled: false\n"), "{shown}");
    let listed = stdout(&run(&["workflows", "list"]));
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("sev1-page") && l.contains(" no ")),
        "{listed}"
    );
    assert_eq!(
        stdout(&run(&["workflows", "enable", "sev1-page"])),
        "enabled sev1-page (revision 4)\n"
    );

    // A declared incident runs declared-basics once; its runs say what each action did.
    assert_eq!(
        stdout(&run(&["workflows", "runs", "declared-basics"])),
        "no runs\n"
    );
    stdout(&run(&[
        "incidents",
        "declare",
        "--title",
        "Checkout is slow",
        "--severity",
        "SEV3",
    ]));
    let deadline = Instant::now() + Duration::from_secs(30);
    let runs = loop {
        let v = json_of(&run(&["workflows", "runs", "declared-basics", "--json"]));
        if v["items"][0]["state"] == "done" {
            break v["items"].clone();
        }
        assert!(Instant::now() < deadline, "the workflow did not run: {v:#}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(runs.as_array().unwrap().len(), 1, "{runs:#}");
    assert_eq!(runs[0]["actions"][0]["state"], "succeeded", "{runs:#}");
    assert_eq!(runs[0]["actions"][1]["state"], "succeeded", "{runs:#}");
    let text = stdout(&run(&[
        "workflows",
        "runs",
        "declared-basics",
        "--limit",
        "5",
    ]));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].ends_with("  incident #1  done"), "{text}");
    assert!(
        lines[1].contains("1. add_tasks") && lines[1].contains("succeeded"),
        "{text}"
    );
    assert!(
        lines[2].contains("2. post_update") && lines[2].contains("succeeded"),
        "{text}"
    );
    let timeline = stdout(&run(&["incidents", "timeline", "1"]));
    assert!(timeline.contains("workflow.ran"), "{timeline}");
    // sev1-page waits for a severity change to SEV1 or SEV2: it has not run.
    assert_eq!(
        stdout(&run(&["workflows", "runs", "sev1-page"])),
        "no runs\n"
    );

    // Deleted: gone from the list; its name is free again.
    let deleted = stdout(&run(&["workflows", "delete", "declared-basics"]));
    assert!(
        deleted.starts_with("deleted workflow declared-basics ("),
        "{deleted}"
    );
    refused(
        &run(&["workflows", "show", "declared-basics"]),
        &["404", "declared-basics"],
    );
    let listed = stdout(&run(&["workflows", "list"]));
    assert!(!listed.contains("declared-basics"), "{listed}");
    let back = stdout(&run(&["workflows", "apply", f]));
    assert_eq!(
        names(&back),
        ["created declared-basics", "unchanged sev1-page"],
        "{back}"
    );

    // `preview` is the API's own path beside the names: no workflow may take it.
    std::fs::write(
        &new,
        "name: preview\ntrigger: {on: alert}\nactions: [{add_tasks: [Look]}]\n",
    )
    .unwrap();
    refused(
        &run(&["workflows", "apply", n]),
        &["preview: name:", "kept for Klaxon"],
    );
}
