//! `klaxon runners …` and a real `klaxon runner` process against a running server: a runner
//! registered with labels, a runbook version enabled for it, a command step run on this host
//! without a shell (its argument filled from the incident, kept one argument), its exit code and
//! output on the run; a failing command fails its step; a host whose `--trust` list lacks the
//! version refuses to run it.
use std::process::{Command, Output};

use crate::support;
use support::*;

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `printf` gets the incident's title as one argument, spaces and `;` and all: no shell reads it.
const ECHO: &str = "---\nname: say-title\nparams:\n  - name: word\n    default: hi\n---\n# Say the title\n## Say it\n```klaxon-command\nrun: [printf, \"%s|%s\", \"{{ incident.title }}\", \"{{ params.word }}\"]\nrunner:\n  env: test\n```\n";

fn runner(server: &Server, token: &str, extra: &[&str]) -> Output {
    Command::new(BIN)
        .args([
            "runner",
            "--once",
            "--wait",
            "0",
            "--server",
            &server.url,
            "--token",
            token,
        ])
        .args(extra)
        .env_remove("KLAXON_TOKEN")
        .output()
        .unwrap()
}

#[test]
fn a_runner_process_runs_an_enabled_command_step() {
    let server = start();
    let run = |args: &[&str]| klaxon(&server, args);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("say.md");
    std::fs::write(&file, ECHO).unwrap();
    stdout(&run(&["runbooks", "sync", dir.path().to_str().unwrap()]));

    let reg = stdout(&run(&[
        "runners", "register", "host-1", "--label", "env=test",
    ]));
    let token = reg
        .lines()
        .find_map(|l| l.strip_prefix("token (shown once): "))
        .expect("the token is printed")
        .to_owned();
    let enabled = stdout(&run(&["runners", "enable", "host-1", "say-title"]));
    assert!(
        enabled.contains("host-1 may run say-title version 1"),
        "{enabled}"
    );
    let listed = stdout(&run(&["runners", "list"]));
    assert!(
        listed.contains("host-1") && listed.contains("env=test"),
        "{listed}"
    );

    let inc = json_of(&run(&[
        "incidents",
        "declare",
        "--title",
        "Checkout; rm -rf / is down",
        "--severity",
        "SEV3",
        "--json",
    ]));
    let number = inc["number"].to_string();
    let started = json_of(&run(&["runs", "start", &number, "say-title", "--json"]));
    let id = started["id"].as_str().unwrap().to_owned();

    // A host that does not trust this version refuses it; the step fails, saying why.
    let refused = runner(&server, &token, &["--trust", &"0".repeat(64)]);
    assert!(refused.status.success(), "{refused:?}");
    let shown = json_of(&run(&["runs", "show", &id, "--json"]));
    assert_eq!(shown["steps"][0]["state"], "failed", "{shown}");
    assert!(
        shown["steps"][0]["detail"]["error"]
            .as_str()
            .unwrap()
            .contains("--trust"),
        "{shown}"
    );

    // Retried, it runs: the title is one argument, printed as it is.
    stdout(&run(&["runs", "move", &id, "retry"]));
    let ran = runner(&server, &token, &[]);
    assert!(ran.status.success(), "{ran:?}");
    let shown = json_of(&run(&["runs", "show", &id, "--json"]));
    assert_eq!(shown["state"], "succeeded", "{shown}");
    assert_eq!(shown["steps"][0]["output"], "Checkout; rm -rf / is down|hi");
    assert_eq!(shown["steps"][0]["detail"]["exit_code"], 0);
    assert_eq!(shown["steps"][0]["attempts"], 2);

    // Nothing left: the runner asks, waits, and exits.
    let idle = runner(&server, &token, &[]);
    assert!(idle.status.success(), "{idle:?}");
    // A wrong token is refused in words.
    let bad = runner(&server, "klxr_nope", &[]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("refused the runner token"));
    terminate(server);
}
