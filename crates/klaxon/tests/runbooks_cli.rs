//! `klaxon runbooks …` against a running server: a directory of Markdown files synced (a dry
//! run first, then for real, then again with nothing to do), a refused file named with its
//! place, a version saved from a file, the history, a diff and a restore, `show --source`.
use std::process::Output;

mod support;
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
