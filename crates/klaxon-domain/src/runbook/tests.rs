use super::*;

const FULL: &str = r#"---
name: restart-web
services: [checkout, search]
match:
  - details.labels.alertname: HighLatency
    severity: critical
params:
  - name: host
    description: The host to restart
    default: "{{ alert.details.labels.instance }}"
  - name: count
    type: integer
    default: 3
  - name: env
    type: choice
    values: [staging, prod]
---
# Restart the web tier

When latency is high on one host.

## Look at the dashboard
Open the latency dashboard.

```sh
# an example, not a step
```

## Drain the host
```klaxon-http
method: post
url: "https://lb.example/drain/{{ params.host }}"
headers:
  Authorization: "Bearer {{ secrets.LB_TOKEN }}"
body: '{"incident": {{ incident.number }}}'
```

## Approve the restart
```klaxon-approval
role: commander
```

## Restart nginx
Restarts it on the host.
```klaxon-command
run: [systemctl, restart, "nginx@{{ params.host }}"]
env:
  COUNT: "{{ params.count }}"
runner: {env: prod}
timeout: 60
```
"#;

#[test]
fn a_full_runbook_reads_into_its_parts() {
    let r = parse(FULL, None).unwrap();
    assert_eq!(r.name, "restart-web");
    assert_eq!(r.title, "Restart the web tier");
    assert_eq!(r.intro, "When latency is high on one host.");
    assert_eq!(r.services, ["checkout", "search"]);
    assert_eq!(r.params.len(), 3);
    assert!(!r.params[0].required && r.params[0].default.is_some());
    assert!(r.params[2].required);
    let kinds: Vec<&str> = r.steps.iter().map(|s| s.kind.as_str()).collect();
    assert_eq!(kinds, ["manual", "http", "approval", "command"]);
    assert!(r.steps[0].note.contains("```sh"), "{}", r.steps[0].note);
    let StepKind::Http(h) = &r.steps[1].kind else {
        panic!()
    };
    assert_eq!((h.method.as_str(), h.timeout_secs), ("POST", 10));
    assert_eq!(
        r.steps[2].kind,
        StepKind::Approval(Approver::IncidentRole("commander".into()))
    );
    let StepKind::Command(c) = &r.steps[3].kind else {
        panic!()
    };
    assert_eq!((c.run.len(), c.timeout_secs, c.shell), (3, 60, false));
    assert_eq!(c.runner.get("env").map(String::as_str), Some("prod"));
    assert_eq!(r.steps[3].note, "Restarts it on the host.");
    assert!(r.has_commands());

    let alert = |sev: &str, name: &str| {
        (
            BTreeMap::from([("severity".to_owned(), sev.to_owned())]),
            serde_json::json!({"labels": {"alertname": name}}),
        )
    };
    let (f, d) = alert("critical", "HighLatency");
    assert!(r.matchers[0].matches(&f, &d));
    let (f, d) = alert("warning", "HighLatency");
    assert!(!r.matchers[0].matches(&f, &d));
}

#[test]
fn parameters_are_checked_by_type() {
    let r = parse(FULL, None).unwrap();
    assert_eq!(r.params[1].check(" 7 ").unwrap(), "7");
    assert_eq!(
        r.params[1].check("seven").unwrap_err().field,
        "params.count"
    );
    assert_eq!(r.params[2].check("prod").unwrap(), "prod");
    assert!(
        r.params[2]
            .check("dev")
            .unwrap_err()
            .reason
            .contains("staging, prod")
    );
    assert_eq!(r.params[2].check("").unwrap_err().reason, "is required");
}

fn refusal(src: &str) -> Invalid {
    parse(src, None).unwrap_err()
}

#[test]
fn bad_documents_are_refused_naming_the_place() {
    let e = refusal("# no front matter\n");
    assert_eq!(e.field, "source");
    let e = refusal("---\ntitle: x\n---\n");
    assert_eq!(e.field, "front_matter.name");
    assert_eq!(
        parse("---\ntitle: x\n---\n", Some("from-file"))
            .unwrap()
            .name,
        "from-file"
    );
    let e = refusal("---\nname: Bad Name\n---\n");
    assert_eq!(e.field, "front_matter.name");
    let e = refusal("---\nname: a\nowner: me\n---\n");
    assert!(e.field.starts_with("front_matter"), "{e}");
    assert!(e.reason.contains("owner"), "{e}");
    let e = refusal("---\nname: a\nparams:\n  - name: n\n    type: date\n---\n");
    assert_eq!(e.field, "front_matter.params[0].type");
    let e = refusal("---\nname: a\nparams:\n  - name: n\n    type: integer\n    default: x\n---\n");
    assert_eq!(e.field, "front_matter.params[0].default");
    let e = refusal("---\nname: a\nmatch:\n  - owner: x\n---\n");
    assert_eq!(e.field, "front_matter.match[0].owner");
    let e = refusal(
        "---\nname: a\n---\n## One\n## Two\n```klaxon-http\nurl: \"https://x/{{ incident.owner }}\"\n```\n",
    );
    assert_eq!(e.field, "steps[2].http.url");
    assert!(e.reason.contains("incident.owner"), "{e}");
    let e = refusal(
        "---\nname: a\n---\n## One\n```klaxon-http\nurl: \"https://{{ incident.title }}/x\"\n```\n",
    );
    assert_eq!(e.field, "steps[1].http.url");
    let e =
        refusal("---\nname: a\n---\n## One\n```klaxon-http\nurl: \"{{ incident.url }}\"\n```\n");
    assert_eq!(e.field, "steps[1].http.url");
    assert!(
        parse(
            "---\nname: a\n---\n## One\n```klaxon-http\nurl: https://lb.example\n```\n",
            None
        )
        .is_ok()
    );
    let e = refusal("---\nname: a\n---\n## One\n```klaxon-command\nrun: [ls]\ncwd: /\n```\n");
    assert!(e.field.starts_with("steps[1].command"), "{e}");
    assert!(e.reason.contains("cwd"), "{e}");
    let e = refusal("---\nname: a\n---\n## One\n```klaxon-command\nrun: [ls]\ntimeout: 0\n```\n");
    assert_eq!(e.field, "steps[1].command.timeout");
    let e =
        refusal("---\nname: a\n---\n## One\n```klaxon-approval\nrole: commander\nuser: a@b\n```\n");
    assert_eq!(e.field, "steps[1].approval");
    let e = refusal("---\nname: a\n---\n## One\n```klaxon-shell\nx\n```\n");
    assert_eq!(e.field, "steps[1]");
    let e = refusal("---\nname: a\n---\n## One\n```klaxon-http\nurl: https://x\n");
    assert!(e.reason.contains("not closed"), "{e}");
    let e = refusal(
        "---\nname: a\n---\n## One\n```klaxon-http\nurl: https://x\n```\n```klaxon-approval\nrole: scribe\n```\n",
    );
    assert!(e.reason.contains("two"), "{e}");
    let e = refusal("---\nname: a\n---\n```klaxon-http\nurl: https://x\n```\n");
    assert_eq!(e.field, "source");
    // Secrets only where a step sends or runs something.
    let e = refusal("---\nname: a\nparams:\n  - name: p\n    default: \"{{ secrets.X }}\"\n---\n");
    assert_eq!(e.field, "front_matter.params[0].default");
}

#[test]
fn headings_inside_code_are_not_steps() {
    let r = parse(
        "---\nname: a\ntitle: T\n---\nIntro\n```\n## not a step\n```\n## Real\n~~~~\n## nor this\n~~~~\n",
        None,
    )
    .unwrap();
    assert_eq!(r.title, "T");
    assert_eq!(r.steps.len(), 1);
    assert_eq!(r.steps[0].title, "Real");
    assert!(r.intro.contains("## not a step"));
    assert!(r.steps[0].note.contains("## nor this"));
}
