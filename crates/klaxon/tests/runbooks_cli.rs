//! `klaxon runbooks …` against a running server: a directory of Markdown files synced (a dry
//! run first, then for real, then again with nothing to do), a refused file named with its
//! place, a version saved from a file, the history, a diff and a restore, `show --source`.
use std::process::Output;

use crate::support;
use support::*;

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const RESTART: &str = "---\nname: restart-web\nservices: [checkout]\n---\n# Restart the web tier\n\n## Look\nCheck the graphs.\n\n## Drain\n```klaxon-http\nmethod: POST\nurl: https://lb.example/drain\n```\n";

#[test]
fn syncing_a_directory_and_keeping_versions_through_the_cli() {
    let server = start();
    let run = |args: &[&str]| klaxon(&server, args);
    stdout(&run(&["services", "create", "--name", "Checkout"]));
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("web")).unwrap();
    std::fs::write(dir.path().join("web/restart.md"), RESTART).unwrap();
    std::fs::write(
        dir.path().join("disk-full.md"),
        "---\ntitle: Disk full\n---\n## Free space\nDelete old logs.\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    std::fs::write(dir.path().join(".git/ignored.md"), "not a runbook").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not Markdown").unwrap();
    let d = dir.path().to_str().unwrap();

    let dry = stdout(&run(&["runbooks", "sync", d, "--dry-run"]));
    assert!(
        dry.contains("created   disk-full (disk-full.md, version 1)"),
        "{dry}"
    );
    assert!(
        dry.contains("created   restart-web (web/restart.md, version 1)"),
        "{dry}"
    );
    assert!(dry.contains("dry run: nothing was written"), "{dry}");
    assert!(!stdout(&run(&["runbooks", "list"])).contains("restart-web"));

    let first = stdout(&run(&["runbooks", "sync", d]));
    assert!(first.contains("created   restart-web"), "{first}");
    let again = stdout(&run(&["runbooks", "sync", d]));
    assert_eq!(again.matches("unchanged").count(), 2, "{again}");

    // A file with a mistake: the sync names it and writes nothing.
    std::fs::write(
        dir.path().join("web/restart.md"),
        RESTART.replace(
            "https://lb.example/drain",
            "https://lb.example/{{ incident.owner }}",
        ),
    )
    .unwrap();
    let out = run(&["runbooks", "sync", d]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("steps[2].http.url") && err.contains("incident.owner"),
        "{err}"
    );

    // A version from a file, then the history, the diff and a restore.
    let edited = RESTART.replace("Check the graphs.", "Check the graphs and the logs.");
    let file = dir.path().join("edited.md");
    std::fs::write(&file, &edited).unwrap();
    let saved = stdout(&run(&[
        "runbooks",
        "save",
        "restart-web",
        file.to_str().unwrap(),
        "-m",
        "logs too",
    ]));
    assert!(saved.contains("updated restart-web (version 2)"), "{saved}");
    let versions = stdout(&run(&["runbooks", "versions", "restart-web"]));
    assert!(versions.contains("logs too"), "{versions}");
    let diff = stdout(&run(&["runbooks", "diff", "restart-web"]));
    assert!(
        diff.contains("-Check the graphs.\n+Check the graphs and the logs."),
        "{diff}"
    );
    let restored = stdout(&run(&["runbooks", "restore", "restart-web", "1"]));
    assert!(
        restored.contains("updated restart-web (version 3)"),
        "{restored}"
    );
    assert_eq!(
        stdout(&run(&["runbooks", "show", "restart-web", "--source"])),
        RESTART
    );
    let shown = stdout(&run(&["runbooks", "show", "restart-web"]));
    assert!(shown.contains("services:   checkout"), "{shown}");
    assert!(shown.contains(" 2. http      Drain"), "{shown}");
}

#[test]
fn running_a_runbook_and_keeping_its_secret_through_the_cli() {
    use std::io::Write;
    let server = start();
    let run = |args: &[&str]| klaxon(&server, args);
    // A secret set from standard input, listed by name only.
    let mut child = std::process::Command::new(BIN)
        .args(["secrets", "set", "LB_TOKEN"])
        .env("KLAXON_URL", &server.url)
        .env("KLAXON_TOKEN", &server.token)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"tok-271828\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(stdout(&out).contains("set LB_TOKEN"));
    let listed = stdout(&run(&["secrets", "list"]));
    assert!(
        listed.contains("LB_TOKEN") && !listed.contains("tok-271828"),
        "{listed}"
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("check.md");
    std::fs::write(
        &file,
        "---\nname: check\nparams:\n  - name: host\n---\n## Look\nAt the graphs.\n\n## Ask\n```klaxon-approval\nklaxon_role: admin\n```\n",
    )
    .unwrap();
    stdout(&run(&["runbooks", "create", file.to_str().unwrap()]));
    let incident = stdout(&run(&[
        "incidents",
        "declare",
        "--title",
        "Slow checkout",
        "--severity",
        "SEV3",
    ]));
    assert!(incident.contains('1'), "{incident}");
    let out = run(&["runs", "start", "1", "check"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("params.host"));
    let started = stdout(&run(&["runs", "start", "1", "check", "-p", "host=web-1"]));
    let id = started.lines().next().unwrap().trim().to_owned();
    assert!(started.contains(" 1. manual    waiting"), "{started}");
    let moved = stdout(&run(&["runs", "move", &id, "complete", "-n", "looked"]));
    assert!(moved.contains(" 2. approval  awaiting_approval"), "{moved}");
    let done = stdout(&run(&["runs", "move", &id, "approve"]));
    assert!(done.contains(": succeeded"), "{done}");
    let listed = stdout(&run(&["runs", "list", "1"]));
    assert!(listed.contains("succeeded"), "{listed}");
    stdout(&run(&["secrets", "delete", "LB_TOKEN"]));
}
