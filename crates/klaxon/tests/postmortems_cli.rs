//! `klaxon postmortems …` against a running server: starting one for a resolved incident,
//! writing a section from stdin, factors, reviewers, a comment, submitting, approving,
//! publishing, listing and searching, and the Markdown export.
use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

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

/// Creates a responder through the CLI and returns their id and an API token acting for them
/// (made offline, on the server's own database).
fn responder(server: &Server, email: &str) -> (String, String) {
    let mut child = Command::new(BIN)
        .args([
            "users",
            "create",
            "--email",
            email,
            "--name",
            email,
            "--role",
            "responder",
            "--json",
        ])
        .env("KLAXON_URL", &server.url)
        .env("KLAXON_TOKEN", &server.token)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a long enough password\n")
        .unwrap();
    let user = json_of(&child.wait_with_output().unwrap());
    let token = Command::new(BIN)
        .args([
            "token",
            "create",
            "--name",
            "cli",
            "--role",
            "responder",
            "--user",
            email,
        ])
        .current_dir(server._dir.path())
        .env_remove("KLAXON_DATABASE_URL")
        .env_remove("KLAXON_CONFIG")
        .output()
        .unwrap();
    let token = stdout(&token).trim().to_owned();
    assert!(token.starts_with("klx_"), "{token}");
    (user["id"].as_str().unwrap().to_owned(), token)
}

fn as_user(server: &Server, token: &str, args: &[&str], input: Option<&str>) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env("KLAXON_URL", &server.url)
        .env("KLAXON_TOKEN", token)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    if let Some(i) = input {
        stdin.write_all(i.as_bytes()).unwrap();
    }
    drop(stdin);
    child.wait_with_output().unwrap()
}

#[test]
fn writing_reviewing_and_publishing_a_postmortem_through_the_cli() {
    let server = start();
    let run = |args: &[&str]| klaxon(&server, args);
    let (grace_id, grace) = responder(&server, "grace@example.com");
    let (ada_id, ada) = responder(&server, "ada@example.com");
    let g = |args: &[&str]| as_user(&server, &grace, args, None);

    let declared = json_of(&run(&[
        "incidents",
        "declare",
        "--title",
        "Search is slow",
        "--severity",
        "SEV3",
        "--json",
    ]));
    let number = declared["number"].to_string();
    refused(
        &g(&["postmortems", "create", &number]),
        &["409", "not resolved"],
    );
    json_of(&run(&["incidents", "resolve", &number, "--json"]));

    let pm: Value = json_of(&g(&["postmortems", "create", &number, "--json"]));
    assert_eq!(pm["state"], "draft");
    assert_eq!(pm["owner_id"], grace_id.as_str());
    assert_eq!(pm["required"], false);

    // A section from stdin, factors, a reviewer.
    let out = as_user(
        &server,
        &grace,
        &[
            "postmortems",
            "edit",
            &number,
            "--section",
            "summary",
            "--file",
            "-",
        ],
        Some("Search answered in 9 s for an hour.\n"),
    );
    assert!(stdout(&out).contains("Search answered in 9 s for an hour."));
    refused(
        &g(&["postmortems", "factors", &number, "--factor", "root:x"]),
        &["factors[0].kind"],
    );
    let pm = json_of(&g(&[
        "postmortems",
        "factors",
        &number,
        "--factor",
        "trigger:a full reindex",
        "--factor",
        "mitigating:the cache held",
        "--json",
    ]));
    assert_eq!(pm["factors"][1]["kind"], "mitigating");
    let pm = json_of(&g(&[
        "postmortems",
        "edit",
        &number,
        "--reviewer",
        "ada@example.com",
        "--json",
    ]));
    assert_eq!(pm["reviewers"][0]["user_id"], ada_id.as_str());
    // The public summary for the status page, from stdin.
    let out = as_user(
        &server,
        &grace,
        &["postmortems", "edit", &number, "--public-summary-file", "-"],
        Some("Searches were slow for an hour.\n"),
    );
    let shown = stdout(&out);
    assert!(
        shown.contains("public summary:\nSearches were slow for an hour."),
        "{shown}"
    );
    assert!(
        shown.contains("status page: no status-page incident"),
        "{shown}"
    );

    // Review.
    let a = |args: &[&str]| as_user(&server, &ada, args, None);
    json_of(&a(&[
        "postmortems",
        "comment",
        &number,
        "--section",
        "summary",
        "--text",
        "Which queries?",
        "--json",
    ]));
    refused(
        &g(&["postmortems", "publish", &number]),
        &["403", "publishing needs the owner"],
    );
    json_of(&g(&["postmortems", "submit", &number, "--json"]));
    refused(&g(&["postmortems", "approve", &number]), &["403"]);
    json_of(&a(&["postmortems", "approve", &number, "--json"]));
    let shown = stdout(&g(&["postmortems", "publish", &number]));
    assert!(shown.contains("state:     published"), "{shown}");
    assert!(shown.contains("(approved)"), "{shown}");

    // On the status page: not without a status-page incident; then once.
    refused(
        &g(&["postmortems", "attach", &number]),
        &["409", "no status-page incident"],
    );
    stdout(&run(&[
        "status-pages",
        "create",
        "--name",
        "Acme",
        "--slug",
        "acme",
    ]));
    stdout(&run(&[
        "status-pages",
        "incidents",
        "publish",
        "acme",
        "--name",
        "Slow searches",
        "--incident",
        &number,
    ]));
    let attached = stdout(&g(&["postmortems", "attach", &number]));
    assert!(
        attached.contains("Slow searches): shows the postmortem since"),
        "{attached}"
    );
    refused(
        &g(&["postmortems", "attach", &number]),
        &["409", "already shows the postmortem"],
    );

    // Listed, searchable, exported.
    let list = json_of(&run(&[
        "postmortems",
        "list",
        "--state",
        "published",
        "--json",
    ]));
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let found = stdout(&run(&["postmortems", "list", "--search", "SEARCH IS"]));
    assert!(found.contains("Search is slow"), "{found}");
    let none = json_of(&run(&[
        "postmortems",
        "list",
        "--search",
        "nothing like it",
        "--json",
    ]));
    assert_eq!(none["items"].as_array().unwrap().len(), 0);
    let md = stdout(&run(&["postmortems", "export", &number, "--markdown"]));
    assert!(
        md.contains("## Summary\n\nSearch answered in 9 s for an hour."),
        "{md}"
    );
    assert!(md.contains("- **trigger**: a full reindex"), "{md}");
    assert!(
        md.contains("## Public summary\n\nSearches were slow for an hour."),
        "{md}"
    );
    terminate(server);
}
