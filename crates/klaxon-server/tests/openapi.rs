//! The OpenAPI document: valid OpenAPI (openapi-spec-validator), precise where it can be (query
//! parameters, enums, limits, formats), and true of the server (Schemathesis, both backends).
//!
//! The two tools come from PyPI; scripts/test.sh installs them in a virtual environment and
//! names them in KLAXON_TEST_OPENAPI_VALIDATOR and KLAXON_TEST_SCHEMATHESIS. Without them these
//! tests fail, saying so: they never skip.
use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Backend, TestApp};
use serde_json::Value;

on_both_backends!(schemathesis_finds_no_failure);

async fn document(app: &TestApp) -> Value {
    let r = app
        .http
        .get(format!("{}/api/v1/openapi.json", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// The tool named by `var`, which scripts/test.sh sets.
fn tool(var: &str) -> PathBuf {
    let path = std::env::var_os(var).unwrap_or_else(|| {
        panic!(
            "{var} is not set: it names a tool from PyPI that this test runs. Run the tests \
             through scripts/test.sh, which installs it, or set {var} yourself."
        )
    });
    let path = PathBuf::from(path);
    assert!(path.is_file(), "{var}={} is not a file", path.display());
    path
}

fn scratch(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    (dir, path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_is_valid() {
    let validator = tool("KLAXON_TEST_OPENAPI_VALIDATOR");
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let doc = document(&app).await;
    app.stop().await;
    let (_dir, file) = scratch("openapi.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let out = Command::new(&validator)
        .args(["--validation-errors", "all"])
        .arg(&file)
        .output()
        .expect("run openapi-spec-validator");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the document is not valid:\n{text}");
    assert!(text.contains(": OK"), "{text}");
}

/// What the validator cannot know: where parameters go, what values and lengths the server
/// takes, and that the shared error answers are there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_describes_inputs_precisely() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let doc = document(&app).await;
    app.stop().await;
    let mut lists = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let at = format!("{method} {path}");
            for p in op["parameters"].as_array().into_iter().flatten() {
                let name = p["name"].as_str().unwrap();
                match p["in"].as_str().unwrap() {
                    "path" => {
                        assert!(path.contains(&format!("{{{name}}}")), "{at}: {p}");
                        assert_eq!(p["required"], true, "{at}: {p}");
                        // An id is a UUID, or a string that also takes what people call the
                        // thing (a number, an e-mail, a name), and the description says which.
                        if name.ends_with("id") && p["schema"]["format"] != "uuid" {
                            assert_eq!(p["schema"]["type"], "string", "{at}: {p}");
                            assert_eq!(p["schema"]["minLength"], 1, "{at}: {p}");
                            let said = p["description"].as_str().unwrap_or_default();
                            assert!(said.contains(", or "), "{at}: {p}");
                        }
                    }
                    // Only the audit log needs its subject; every other filter is optional.
                    "query" if p["required"] == true => {
                        assert_eq!(path, "/api/v1/events", "{at}: {p}");
                    }
                    "query" => {}
                    other => panic!("{at}: a parameter in {other}"),
                }
                if name == "limit" {
                    assert_eq!(p["schema"]["minimum"], 1, "{at}");
                    assert_eq!(p["schema"]["maximum"], 500, "{at}");
                }
            }
            let query: Vec<&str> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "query")
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            if op["responses"]["200"].to_string().contains("ListOf_") {
                lists += 1;
                assert!(
                    query.contains(&"limit") && query.contains(&"cursor"),
                    "{at}"
                );
            }
            let responses = op["responses"].as_object().unwrap();
            for status in ["400", "401"] {
                assert!(responses.contains_key(status), "{at}: no {status}");
            }
            if path.contains('{') {
                assert!(responses.contains_key("404"), "{at}: no 404");
            }
            if op.get("requestBody").is_some() {
                for status in ["413", "415"] {
                    assert!(responses.contains_key(status), "{at}: no {status}");
                }
            }
        }
    }
    assert!(lists >= 20, "{lists} lists");

    // Where people's terms are taken, the document says so.
    let id_param = |path: &str| -> String {
        let op = &doc["paths"][path]["get"];
        let p = op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "id");
        p.unwrap_or_else(|| panic!("{path}"))["description"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    for (path, term) in [
        ("/api/v1/incidents/{id}", "number"),
        ("/api/v1/users/{id}", "e-mail"),
        ("/api/v1/services/{id}", "name"),
        ("/api/v1/escalation-policies/{id}", "name"),
        ("/api/v1/schedules/{id}", "name"),
        ("/api/v1/webhooks/{id}", "name"),
        ("/api/v1/integrations/{id}", "name"),
    ] {
        assert!(id_param(path).contains(term), "{path}: {}", id_param(path));
        // A name can match several: the operation says it may answer 409.
        let conflict = doc["paths"][path]["get"]["responses"].get("409").is_some();
        assert_eq!(conflict, term == "name", "{path}");
    }
    for path in ["/api/v1/alerts/{id}", "/api/v1/contact-methods/{id}/test"] {
        let op = &doc["paths"][path];
        let op = op.get("get").or_else(|| op.get("post")).unwrap();
        assert_eq!(op["parameters"][0]["schema"]["format"], "uuid", "{path}");
    }

    let schemas = &doc["components"]["schemas"];
    let names = |schema: &str| -> Vec<String> {
        let list = schemas[schema]["enum"].as_array();
        let list = list.unwrap_or_else(|| panic!("{schema} is not an enum"));
        list.iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    use klaxon_domain::{alert, contact, incident};
    let all = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(names("Role"), all(&["viewer", "responder", "admin"]));
    let sev: Vec<&str> = alert::Severity::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(names("AlertSeverity"), all(&sev));
    let sev: Vec<&str> = incident::Severity::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(names("IncidentSeverity"), all(&sev));
    let kinds: Vec<&str> = contact::ContactKind::ALL
        .iter()
        .map(|s| s.as_str())
        .collect();
    assert_eq!(names("ContactKind"), all(&kinds));
    for e in [
        "IncidentStatus",
        "AlertStatus",
        "Urgency",
        "UrgencyRule",
        "IntegrationKind",
        "NotificationStatus",
        "DeliveryStatus",
        "EventKind",
        "SubjectType",
        "Weekday",
    ] {
        assert!(!names(e).is_empty(), "{e}");
    }

    // The limits the server checks, as the rules name them.
    let prop = |schema: &str, field: &str| schemas[schema]["properties"][field].clone();
    use klaxon_domain::service;
    let limits = [
        ("CreateService", "name", service::NAME_MAX),
        ("CreateService", "description", service::DESCRIPTION_MAX),
        ("Declare", "title", incident::TITLE_MAX),
        ("Declare", "description", incident::DESCRIPTION_MAX),
        ("Declare", "category", incident::CATEGORY_MAX),
        ("NewNote", "text", incident::NOTE_MAX),
        ("PostUpdate", "message", incident::UPDATE_MAX),
        ("CreateContactMethod", "label", contact::LABEL_MAX),
        ("CreateContactMethod", "address", contact::URL_MAX),
        (
            "CreateUser",
            "password",
            klaxon_domain::auth::NewPassword::MAX_CHARS,
        ),
        ("AlertContent", "summary", alert::AlertContent::SUMMARY_MAX),
    ];
    for (schema, field, max) in limits {
        assert_eq!(prop(schema, field)["maxLength"], max, "{schema}.{field}");
    }
    // Typed, not bare objects.
    for (schema, field) in [
        ("AlertOut", "content"),
        ("IncidentOut", "milestones"),
        ("ServiceOut", "grouping"),
    ] {
        assert!(prop(schema, field)["$ref"].is_string(), "{schema}.{field}");
    }
    for (schema, field, item) in [
        ("PolicyOut", "levels", "Level"),
        ("ScheduleOut", "layers", "Layer"),
    ] {
        let want = format!("#/components/schemas/{item}");
        assert_eq!(prop(schema, field)["items"]["$ref"], want.as_str());
    }
    assert_eq!(prop("UserOut", "id")["format"], "uuid");
    assert_eq!(prop("UserOut", "created_at")["format"], "date-time");
}

// --- Schemathesis -------------------------------------------------------------------------------

/// Operations that can take the runner's own credentials away (revoke its token, demote its
/// user once another admin exists): run after everything else, so that losing them there ends
/// nothing else's testing.
const LAST: &str = "^/api/v1/(tokens|users)/\\{id\\}$";

/// Runs Schemathesis with every check on against a live server: no 5xx, and every answer's
/// status, headers, content type and body as the document says. Bounded: a fixed number of
/// examples per operation and a time budget per run.
async fn schemathesis_finds_no_failure(b: Backend) {
    let st = tool("KLAXON_TEST_SCHEMATHESIS");
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    schemathesis(&st, &app, b, "main", &["--exclude-path-regex", LAST]).await;
    // Three operations: a short budget covers them.
    let phases = "examples,coverage,fuzzing";
    let last = [
        "--include-path-regex",
        LAST,
        "--phases",
        phases,
        "--max-time",
        "15",
    ];
    schemathesis(&st, &app, b, "last", &last).await;
    app.stop().await;
}

async fn schemathesis(st: &Path, app: &TestApp, b: Backend, label: &str, filter: &[&str]) {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis.toml");
    // Its working directory: whatever it writes stays out of the source tree.
    let (dir, _) = scratch("");
    let out = tokio::process::Command::new(st)
        .current_dir(dir.path())
        .arg("--config-file")
        .arg(&config)
        .args(["run", &format!("{}/api/v1/openapi.json", app.url)])
        .args(["-H", &format!("Authorization: Bearer {}", app.admin.token)])
        .args(["--checks", "all", "--seed", "20261121", "--no-color"])
        .args(filter)
        .output()
        .await
        .expect("run schemathesis");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("--- schemathesis on {b:?}, {label} ---\n{}", summary(&text));
    assert!(
        out.status.success(),
        "schemathesis found failures on {b:?} ({label}):\n{text}"
    );
}

/// The summary's figures: operations, phases, test cases, failures.
fn summary(text: &str) -> String {
    match text.find("SUMMARY") {
        Some(i) => text[i..].to_owned(),
        None => text.to_owned(),
    }
}
