use super::*;

fn one(yaml: &str) -> Result<Workflow, Invalid> {
    parse_file(yaml).map(|mut v| v.remove(0))
}

#[test]
fn a_workflow_reads_from_yaml_and_writes_back_the_same() {
    let w = one(
        "name: sev1-basics\ntrigger: { on: severity_changed }\nconditions: { severity: [SEV1] }\n\
         actions:\n  - page: { role: commander }\n  - add_tasks: [Open a bridge]\n  \
         - call_webhook: { webhook: chatops }\n    stop_on_failure: true\n",
    )
    .unwrap();
    assert!(w.enabled);
    assert_eq!(w.actions.len(), 3);
    assert!(w.actions[2].stop_on_failure);
    assert_eq!(
        w.actions[1].action,
        Action::AddTasks(vec!["Open a bridge".into()])
    );
    let json = serde_json::to_value(&w).unwrap();
    assert_eq!(json["actions"][2]["stop_on_failure"], true);
    assert!(json["actions"][0].get("stop_on_failure").is_none());
    let back: Workflow = serde_json::from_value(json).unwrap();
    assert_eq!(back, w);
}

#[test]
fn refusals_name_the_field() {
    let cases = [
        (
            "name: Bad Name\ntrigger: {on: alert}\nactions: [{add_tasks: [x]}]",
            "name",
        ),
        (
            "name: a\ntrigger: {on: never}\nactions: [{add_tasks: [x]}]",
            "trigger.on",
        ),
        (
            "name: a\ntrigger: {on: no_update}\nactions: [{add_tasks: [x]}]",
            "trigger.minutes",
        ),
        (
            "name: a\ntrigger: {on: alert, minutes: 3}\nactions: [{add_tasks: [x]}]",
            "trigger.minutes",
        ),
        ("name: a\ntrigger: {on: alert}\nactions: []", "actions"),
        (
            "name: a\ntrigger: {on: alert}\nactions: [{add_tasks: [x], page: {role: c}}]",
            "actions",
        ),
        (
            "name: a\ntrigger: {on: alert}\nactions: [{page: {}}]",
            "actions[0].page",
        ),
        (
            "name: a\ntrigger: {on: alert}\nactions: [{add_tasks: ['  ']}]",
            "actions[0].add_tasks[0]",
        ),
        (
            "name: a\ntrigger: {on: alert}\nconditions: {role: [commander]}\nactions: [{add_tasks: [x]}]",
            "conditions.role",
        ),
        (
            "name: a\ntrigger: {on: alert}\nconditions: {colour: red}\nactions: [{add_tasks: [x]}]",
            "conditions",
        ),
        (
            "name: a\ntrigger: {on: alert}\nactions: [{post_update: {}}]",
            "actions[0].post_update",
        ),
        (
            "name: a\ntrigger: {on: alert}\nactions: [{set_component: {page: p, component: c, status: broken}}]",
            "actions[0].set_component.status",
        ),
        (
            "name: preview\ntrigger: {on: alert}\nactions: [{add_tasks: [x]}]",
            "name",
        ),
        (
            "name: a\ntrigger: {on: alert}\nconditions: {alert: {owner: x}}\nactions: [{add_tasks: [x]}]",
            "conditions.alert.owner",
        ),
    ];
    for (yaml, field) in cases {
        let e = one(yaml).unwrap_err();
        assert!(
            e.field.ends_with(field)
                || e.field.contains(&format!(".{field}"))
                || e.field.contains(field),
            "{yaml}: {e:?} should blame {field}"
        );
    }
}

#[test]
fn a_workflow_that_would_fire_itself_is_refused() {
    let e = one("name: loop\ntrigger: {on: role_assigned}\n\
         actions: [{assign_role: {role: scribe, user: a@example.com}}]")
    .unwrap_err();
    assert!(e.field.ends_with("actions[0].assign_role"), "{e:?}");
    assert!(e.reason.contains("again and again"));
    let e = one(
        "name: loop\ntrigger: {on: role_assigned}\nconditions: {role: [scribe]}\n\
         actions: [{assign_role: {role: scribe, user: a@example.com}}]",
    )
    .unwrap_err();
    assert!(e.field.ends_with("actions[0].assign_role"), "{e:?}");
    // Assigning another role than the one it waits for, or on another trigger, is fine.
    one(
        "name: ok\ntrigger: {on: role_assigned}\nconditions: {role: [commander]}\n\
         actions: [{assign_role: {role: scribe, user: a@example.com}}]",
    )
    .unwrap();
    // Assigning on another trigger is fine.
    one("name: ok\ntrigger: {on: incident_declared}\n\
         actions: [{assign_role: {role: scribe, user: a@example.com}}]")
    .unwrap();
}

#[test]
fn conditions_hold_only_when_every_listed_one_does() {
    let c = Conditions {
        severity: vec![Severity::Sev1, Severity::Sev2],
        service: vec!["payments".into()],
        ..Conditions::default()
    };
    let mut f = Facts {
        severity: Some(Severity::Sev1),
        service: Some("payments"),
        ..Facts::default()
    };
    assert!(c.hold(&f));
    f.severity = Some(Severity::Sev3);
    assert!(!c.hold(&f));
    f.severity = None;
    assert!(
        !c.hold(&f),
        "an untriaged incident has no severity to match"
    );
    f.severity = Some(Severity::Sev2);
    f.service = Some("search");
    assert!(!c.hold(&f));
    assert!(Conditions::default().hold(&f));
    f.drill = true;
    assert!(Conditions::default().hold(&f));
    let no_drills = Conditions {
        drills: Some(false),
        ..Conditions::default()
    };
    assert!(!no_drills.hold(&f));
}

#[test]
fn alert_conditions_match_the_alert() {
    let c = Conditions {
        alert: Some(Matcher(BTreeMap::from([(
            "details.host".to_owned(),
            "db-*".to_owned(),
        )]))),
        ..Conditions::default()
    };
    let fields = BTreeMap::new();
    let hit = serde_json::json!({"host": "db-3"});
    let miss = serde_json::json!({"host": "web-1"});
    let f = |d| Facts {
        alert: Some((&fields, d)),
        ..Facts::default()
    };
    assert!(c.hold(&f(&hit)));
    assert!(!c.hold(&f(&miss)));
    assert!(!c.hold(&Facts::default()));
}

#[test]
fn every_trigger_but_the_clock_has_events_and_each_event_one_trigger() {
    for t in TriggerKind::ALL {
        assert_eq!(t.event_kinds().is_empty(), *t == TriggerKind::NoUpdate);
        for k in t.event_kinds() {
            assert_eq!(TriggerKind::for_event(*k), Some(*t));
        }
    }
    assert_eq!(TriggerKind::for_event(EventKind::IncidentNoteAdded), None);
}

#[test]
fn a_file_may_hold_a_list_but_not_one_name_twice() {
    let two = "- name: a\n  trigger: {on: alert}\n  actions: [{add_tasks: [x]}]\n\
               - name: b\n  trigger: {on: alert}\n  actions: [{add_tasks: [x]}]\n";
    assert_eq!(parse_file(two).unwrap().len(), 2);
    let e = parse_file(&two.replace("name: b", "name: a")).unwrap_err();
    assert!(e.reason.contains("twice"), "{e:?}");
}

#[test]
fn describe_says_what_it_does() {
    let w = one(
        "name: a\ntrigger: {on: no_update, minutes: 30}\nconditions: {severity: [SEV1]}\n\
         actions: [{post_update: {template: investigating}, stop_on_failure: true}]",
    )
    .unwrap();
    let (when, actions) = w.describe();
    assert_eq!(
        when,
        "When an open incident has had no stakeholder update for 30 minutes, if its severity is SEV1:"
    );
    assert_eq!(
        actions,
        vec!["Post a stakeholder update from the template investigating (if this fails, stop)"]
    );
}
