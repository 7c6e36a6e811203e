//! The contract for incident response: declaring, changing under a lock, roles and pins.
use std::sync::Arc;

use klaxon_domain::alert::{Grouping, Urgency};
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{IncidentId, RoleAssignmentId, UserId};
use klaxon_domain::incident::{Impact, IncidentStatus, Priority, Refusal, Severity};
use klaxon_store::*;
use serde_json::json;

use super::{apply, events_of, kinds, mins, monitored, person, rnd, t0};

fn declared(title: &str, reporter: UserId) -> Incident {
    Incident {
        id: IncidentId::new(t0(), rnd()),
        number: 0,
        title: title.into(),
        description: "checkout fails for everyone".into(),
        status: IncidentStatus::Triggered,
        urgency: Urgency::Medium,
        severity: Some(Severity::Sev2),
        impact: Some(Impact::High),
        priority: Some(Priority::P2),
        category: Some("payments".into()),
        subcategory: Some("card processor".into()),
        reporter_id: Some(reporter),
        service_id: None,
        alert_count: 0,
        opened_by_alert: false,
        created_at: mins(10),
        impact_started_at: Some(mins(2)),
        detected_at: Some(mins(5)),
        acknowledged_at: None,
        mitigated_at: None,
        resolved_at: None,
        closed_at: None,
        conference_url: Some("https://meet.example.com/checkout".into()),
        chat_url: None,
        merged_into: None,
        is_drill: false,
    }
}

fn role(incident: IncidentId, role: &str, user: UserId, at: i64) -> RoleAssignment {
    RoleAssignment {
        id: RoleAssignmentId::new(t0(), rnd()),
        incident_id: incident,
        role: role.into(),
        user_id: user,
        assigned_at: mins(at),
        assigned_by: Actor::User(user),
        ended_at: None,
        ended_by: None,
    }
}

fn inc_ev(id: IncidentId, at: i64, kind: EventKind, data: serde_json::Value) -> NewEvent {
    NewEvent::new(
        SubjectType::Incident,
        id,
        mins(at),
        Actor::System,
        kind,
        data,
    )
}

async fn declare(s: &Arc<dyn Store>, i: Incident, roles: Vec<RoleAssignment>) -> Incident {
    let id = i.id;
    s.declare_incident(NewIncident {
        drill: None,
        incident: i,
        roles,
        job: None,
        events: vec![inc_ev(
            id,
            10,
            EventKind::IncidentDeclared,
            json!({"title": "x"}),
        )],
    })
    .await
    .unwrap()
}

/// A declared incident keeps every field, is numbered after the ones alerts opened, and
/// starts with its roles and its event (which learns the number).
pub async fn declared_incidents_keep_their_fields_roles_and_number(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let m = monitored(&s, "checkout", Grouping::None, true).await;
    let opened = apply(&s, m.trigger("a", "cpu", mins(1))).await;
    let first = s.incident(opened.incident_id.unwrap()).await.unwrap();
    assert_eq!(first.number, 1);

    let want = declared("Checkout down", ada.id);
    let got = declare(
        &s,
        want.clone(),
        vec![role(want.id, "commander", ada.id, 10)],
    )
    .await;
    assert_eq!(
        got,
        Incident {
            number: 2,
            ..want.clone()
        }
    );
    assert_eq!(s.incident(want.id).await.unwrap(), got);

    let roles = s.incident_roles(want.id, false).await.unwrap();
    assert_eq!(roles.len(), 1);
    assert_eq!(
        (roles[0].role.as_str(), roles[0].user_id),
        ("commander", ada.id)
    );
    let evs = events_of(&s, SubjectType::Incident, want.id).await;
    assert_eq!(kinds(&evs), vec![EventKind::IncidentDeclared]);
    assert_eq!(evs[0].data["number"], 2);
    assert!(!evs[0].pinned);

    // A service or user that does not exist: NotFound, nothing written.
    let mut ghost = declared("ghost", UserId::new(t0(), rnd()));
    let ghost_id = ghost.id;
    assert!(
        s.declare_incident(NewIncident {
            drill: None,
            incident: ghost.clone(),
            roles: vec![],
            job: None,
            events: vec![]
        })
        .await
        .unwrap_err()
        .is_not_found()
    );
    ghost.reporter_id = Some(ada.id);
    let bad_role = role(ghost_id, "scribe", UserId::new(t0(), rnd()), 10);
    assert!(
        s.declare_incident(NewIncident {
            drill: None,
            incident: ghost,
            roles: vec![bad_role],
            job: None,
            events: vec![]
        })
        .await
        .unwrap_err()
        .is_not_found()
    );
    assert!(s.incident(ghost_id).await.unwrap_err().is_not_found());
}

/// A change sees the current state and writes all of it or none of it; role holders come
/// and go with their history kept.
pub async fn incident_changes_are_all_or_nothing_with_role_history(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let bob = person(&s, "bob@example.com").await;
    let i = declare(&s, declared("Checkout down", ada.id), vec![]).await;
    let id = i.id;

    // Acknowledge and hand command to Bob in one change.
    let (a, b) = (ada.id, bob.id);
    let changed = s
        .change_incident(
            id,
            Box::new(move |snap: &IncidentSnapshot| {
                assert!(snap.roles.is_empty());
                let mut c = IncidentChange::of(snap, mins(12), Actor::User(a));
                c.incident.status = IncidentStatus::Acknowledged;
                c.incident.acknowledged_at = Some(mins(12));
                c.incident.title = "Checkout down in EU".into();
                c.assign.push(role(id, "commander", b, 12));
                c.assign.push(role(id, "subject_matter_expert", a, 12));
                c.events
                    .push(inc_ev(id, 12, EventKind::IncidentAcknowledged, json!({})));
                c.events.push(inc_ev(
                    id,
                    12,
                    EventKind::IncidentRoleAssigned,
                    json!({"role": "commander"}),
                ));
                Ok(c)
            }),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(changed.status, IncidentStatus::Acknowledged);
    assert_eq!(changed.title, "Checkout down in EU");
    assert_eq!(changed.acknowledged_at, Some(mins(12)));
    assert_eq!(changed.number, i.number);

    // Commander passes from Bob to Ada.
    s.change_incident(
        id,
        Box::new(move |snap: &IncidentSnapshot| {
            let holders: Vec<UserId> = snap.holders("commander").map(|r| r.user_id).collect();
            assert_eq!(holders, vec![b]);
            let mut c = IncidentChange::of(snap, mins(20), Actor::User(a));
            c.unassign.push(("commander".into(), b));
            c.assign.push(role(id, "commander", a, 20));
            Ok(c)
        }),
    )
    .await
    .unwrap()
    .unwrap();
    let now: Vec<(String, UserId)> = s
        .incident_roles(id, false)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.role, r.user_id))
        .collect();
    assert_eq!(
        now,
        vec![("subject_matter_expert".into(), a), ("commander".into(), a)]
    );
    let history = s.incident_roles(id, true).await.unwrap();
    assert_eq!(history.len(), 3);
    let bobs = history.iter().find(|r| r.user_id == b).unwrap();
    assert_eq!(
        (bobs.ended_at, bobs.ended_by),
        (Some(mins(20)), Some(Actor::User(a)))
    );

    // A refusal writes nothing.
    let before = s.incident(id).await.unwrap();
    let refused = s
        .change_incident(
            id,
            Box::new(|_snap: &IncidentSnapshot| Err(Refusal::conflict("status", "no"))),
        )
        .await
        .unwrap();
    assert_eq!(refused, Err(Refusal::conflict("status", "no")));
    // A failing write (an unknown user) rolls the whole change back.
    let err = s
        .change_incident(
            id,
            Box::new(move |snap: &IncidentSnapshot| {
                let mut c = IncidentChange::of(snap, mins(30), Actor::System);
                c.incident.title = "should not stick".into();
                c.events
                    .push(inc_ev(id, 30, EventKind::IncidentUpdated, json!({})));
                c.assign
                    .push(role(id, "scribe", UserId::new(t0(), rnd()), 30));
                Ok(c)
            }),
        )
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert_eq!(s.incident(id).await.unwrap(), before);
    assert!(
        !kinds(&events_of(&s, SubjectType::Incident, id).await)
            .contains(&EventKind::IncidentUpdated)
    );
    let missing = s
        .change_incident(
            IncidentId::new(t0(), rnd()),
            Box::new(|snap: &IncidentSnapshot| {
                Ok(IncidentChange::of(snap, mins(1), Actor::System))
            }),
        )
        .await;
    assert!(missing.unwrap_err().is_not_found());
    assert!(
        s.incident_roles(IncidentId::new(t0(), rnd()), true)
            .await
            .unwrap_err()
            .is_not_found()
    );
}

/// Concurrent changes each see the one before: none is lost.
pub async fn concurrent_incident_changes_are_serialised(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let id = declare(&s, declared("busy", ada.id), vec![]).await.id;
    let tasks: Vec<_> = (0..20)
        .map(|n| {
            let s = s.clone();
            tokio::spawn(async move {
                s.change_incident(
                    id,
                    Box::new(move |snap: &IncidentSnapshot| {
                        let mut c = IncidentChange::of(snap, mins(11), Actor::System);
                        c.incident.description.push_str(&format!("[{n}]"));
                        Ok(c)
                    }),
                )
                .await
                .unwrap()
                .unwrap()
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let d = s.incident(id).await.unwrap().description;
    for n in 0..20 {
        assert!(d.contains(&format!("[{n}]")), "lost change {n}: {d}");
    }
}

/// Events of an incident's timeline can be pinned and unpinned; other subjects' cannot.
pub async fn timeline_events_are_pinned_per_incident(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let one = declare(&s, declared("one", ada.id), vec![]).await.id;
    let two = declare(&s, declared("two", ada.id), vec![]).await.id;
    let note = s
        .append_event(inc_ev(
            one,
            11,
            EventKind::IncidentNoteAdded,
            json!({"text": "rolled back"}),
        ))
        .await
        .unwrap();
    assert!(!note.pinned);
    s.pin_incident_event(
        one,
        note.seq,
        true,
        inc_ev(
            one,
            12,
            EventKind::IncidentEventPinned,
            json!({"seq": note.seq}),
        ),
    )
    .await
    .unwrap();
    let evs = events_of(&s, SubjectType::Incident, one).await;
    let pinned: Vec<i64> = evs.iter().filter(|e| e.pinned).map(|e| e.seq).collect();
    assert_eq!(pinned, vec![note.seq]);
    assert_eq!(evs.last().unwrap().kind, EventKind::IncidentEventPinned);
    // Not an event of incident two.
    let e = s
        .pin_incident_event(
            two,
            note.seq,
            true,
            inc_ev(two, 12, EventKind::IncidentEventPinned, json!({})),
        )
        .await
        .unwrap_err();
    assert!(e.is_not_found());
    assert!(
        !kinds(&events_of(&s, SubjectType::Incident, two).await)
            .contains(&EventKind::IncidentEventPinned)
    );
    s.pin_incident_event(
        one,
        note.seq,
        false,
        inc_ev(one, 13, EventKind::IncidentEventUnpinned, json!({})),
    )
    .await
    .unwrap();
    assert!(
        events_of(&s, SubjectType::Incident, one)
            .await
            .iter()
            .all(|e| !e.pinned)
    );
}

/// An integration's acknowledgement does not acknowledge a SEV1 or SEV2 that has no
/// commander (it keeps paging until a person takes it); with a commander it does.
pub async fn tools_do_not_acknowledge_major_incidents_without_a_commander(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let m = monitored(&s, "db", Grouping::None, true).await;
    let mut ids = Vec::new();
    for (key, with_commander) in [("a", false), ("b", true)] {
        let w = m.trigger(key, "replica lag", mins(1));
        let id = w.new_incident_id;
        apply(&s, w).await;
        let a = ada.id;
        s.change_incident(
            id,
            Box::new(move |snap: &IncidentSnapshot| {
                let mut c = IncidentChange::of(snap, mins(2), Actor::User(a));
                c.incident.severity = Some(Severity::Sev1);
                if with_commander {
                    c.assign.push(role(id, "commander", a, 2));
                }
                Ok(c)
            }),
        )
        .await
        .unwrap()
        .unwrap();
        apply(&s, m.acknowledge(key, mins(3))).await;
        ids.push(id);
    }
    let without = s.incident(ids[0]).await.unwrap();
    assert_eq!(
        (without.status, without.acknowledged_at),
        (IncidentStatus::Triggered, None)
    );
    let with = s.incident(ids[1]).await.unwrap();
    assert_eq!(
        (with.status, with.acknowledged_at),
        (IncidentStatus::Acknowledged, Some(mins(3)))
    );
}

/// Lists filter by open, severity, declaration time, text and the people involved, newest
/// first, and page through a filter without losing or repeating anything.
pub async fn incident_lists_filter_by_severity_time_text_and_person(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let bob = person(&s, "bob@example.com").await;
    let mut ids = Vec::new();
    for (n, (title, sev, minute, reporter)) in [
        ("Checkout errors", Severity::Sev1, 10, ada.id),
        ("Slow search", Severity::Sev3, 20, bob.id),
        ("checkout latency in EU", Severity::Sev2, 30, bob.id),
        ("Disk full on db-3", Severity::Sev4, 40, ada.id),
    ]
    .into_iter()
    .enumerate()
    {
        let mut i = declared(title, reporter);
        i.id = IncidentId::new(mins(minute), [n as u8; 10]);
        i.severity = Some(sev);
        i.description = format!("description {n}");
        i.created_at = mins(minute);
        i.impact_started_at = None;
        i.detected_at = None;
        ids.push(declare(&s, i, vec![]).await.id);
    }
    // Bob commands the first; the last is resolved.
    let (b, last) = (bob.id, ids[3]);
    s.change_incident(
        ids[0],
        Box::new(move |snap: &IncidentSnapshot| {
            let mut c = IncidentChange::of(snap, mins(41), Actor::User(b));
            c.assign.push(role(snap.incident.id, "commander", b, 41));
            Ok(c)
        }),
    )
    .await
    .unwrap()
    .unwrap();
    s.set_incident_status(
        last,
        IncidentStatus::Resolved,
        mins(45),
        inc_ev(last, 45, EventKind::IncidentResolved, json!({})),
    )
    .await
    .unwrap();

    let list = |f: IncidentFilter| {
        let s = s.clone();
        async move {
            s.list_incidents(&f, None, 100)
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|i| i.id)
                .collect::<Vec<_>>()
        }
    };
    let all = IncidentFilter::default;
    assert_eq!(list(all()).await, vec![ids[3], ids[2], ids[1], ids[0]]);
    assert_eq!(
        list(IncidentFilter {
            open: true,
            ..all()
        })
        .await,
        vec![ids[2], ids[1], ids[0]]
    );
    assert_eq!(
        list(IncidentFilter {
            severities: vec![Severity::Sev1, Severity::Sev2],
            ..all()
        })
        .await,
        vec![ids[2], ids[0]]
    );
    assert_eq!(
        list(IncidentFilter {
            from: Some(mins(20)),
            to: Some(mins(40)),
            ..all()
        })
        .await,
        vec![ids[2], ids[1]]
    );
    assert_eq!(
        list(IncidentFilter {
            text: Some("CHECKOUT".into()),
            ..all()
        })
        .await,
        vec![ids[2], ids[0]]
    );
    assert_eq!(
        list(IncidentFilter {
            text: Some("description 1".into()),
            ..all()
        })
        .await,
        vec![ids[1]]
    );
    // Bob reported two and commands one.
    assert_eq!(
        list(IncidentFilter {
            involving: Some(bob.id),
            ..all()
        })
        .await,
        vec![ids[2], ids[1], ids[0]]
    );
    assert_eq!(
        list(IncidentFilter {
            involving: Some(ada.id),
            open: true,
            ..all()
        })
        .await,
        vec![ids[0]]
    );
    // Paging through a filter: every match once, in order.
    let f = IncidentFilter {
        involving: Some(bob.id),
        ..all()
    };
    let first = s.list_incidents(&f, None, 2).await.unwrap();
    let rest = s.list_incidents(&f, first.next, 2).await.unwrap();
    let paged: Vec<_> = first
        .items
        .iter()
        .chain(&rest.items)
        .map(|i| i.id)
        .collect();
    assert_eq!(paged, vec![ids[2], ids[1], ids[0]]);
    assert_eq!(rest.next, None);
}

/// Tasks are written, changed and removed through a change, seen by the next change, and
/// read back oldest first; an unknown assignee fails the whole change.
pub async fn incident_tasks_are_kept_with_their_incident(s: Arc<dyn Store>) {
    use klaxon_domain::ids::TaskId;
    let ada = person(&s, "ada@example.com").await;
    let id = declare(&s, declared("db down", ada.id), vec![]).await.id;
    let task = |title: &str, minute: i64, n: u8| IncidentTask {
        id: TaskId::new(mins(minute), [n; 10]),
        incident_id: id,
        title: title.into(),
        assignee_id: Some(ada.id),
        due_at: Some(mins(90)),
        done_at: None,
        done_by: None,
        created_at: mins(minute),
        created_by: Actor::User(ada.id),
    };
    let (first, second) = (task("fail over", 11, 1), task("tell support", 12, 2));
    let (f, sec) = (first.clone(), second.clone());
    s.change_incident(
        id,
        Box::new(move |snap: &IncidentSnapshot| {
            assert!(snap.tasks.is_empty());
            let mut c = IncidentChange::of(snap, mins(12), Actor::System);
            c.tasks = vec![f, sec];
            Ok(c)
        }),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        s.incident_tasks(id).await.unwrap(),
        vec![first.clone(), second.clone()]
    );

    // Done, and the other removed; the change sees both tasks.
    let done = IncidentTask {
        done_at: Some(mins(20)),
        done_by: Some(Actor::User(ada.id)),
        assignee_id: None,
        ..first.clone()
    };
    let (d, gone) = (done.clone(), second.id);
    s.change_incident(
        id,
        Box::new(move |snap: &IncidentSnapshot| {
            assert_eq!(snap.tasks.len(), 2);
            let mut c = IncidentChange::of(snap, mins(20), Actor::System);
            c.tasks = vec![d];
            c.removed_tasks = vec![gone];
            Ok(c)
        }),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(s.incident_tasks(id).await.unwrap(), vec![done.clone()]);

    // An assignee who does not exist: NotFound, and nothing of the change is written.
    let ghost = IncidentTask {
        assignee_id: Some(UserId::new(t0(), rnd())),
        ..task("ghost", 30, 3)
    };
    let err = s
        .change_incident(
            id,
            Box::new(move |snap: &IncidentSnapshot| {
                let mut c = IncidentChange::of(snap, mins(30), Actor::System);
                c.incident.title = "changed".into();
                c.tasks = vec![ghost];
                Ok(c)
            }),
        )
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert_eq!(s.incident(id).await.unwrap().title, "db down");
    assert_eq!(s.incident_tasks(id).await.unwrap(), vec![done]);
    assert!(
        s.incident_tasks(IncidentId::new(t0(), rnd()))
            .await
            .unwrap_err()
            .is_not_found()
    );
}

/// Incidents relate both ways; a duplicate merges into another: its alerts move (and their
/// follow-up signals then act on the target), it is resolved and remembers where it went.
pub async fn incidents_relate_and_duplicates_merge(s: Arc<dyn Store>) {
    let m = monitored(&s, "api", Grouping::None, true).await;
    let (wa, wb) = (
        m.trigger("a", "5xx", mins(1)),
        m.trigger("b", "5xx again", mins(2)),
    );
    let (a, b, b_alert) = (wa.new_incident_id, wb.new_incident_id, wb.new_alert_id);
    apply(&s, wa).await;
    apply(&s, wb).await;
    let ada = person(&s, "ada@example.com").await;
    let c = declare(&s, declared("customer reports", ada.id), vec![])
        .await
        .id;
    let who = Actor::User(ada.id);

    s.relate_incidents(a, c, true, mins(3), who)
        .await
        .unwrap()
        .unwrap();
    let ids = |v: Vec<Incident>| v.into_iter().map(|i| i.id).collect::<Vec<_>>();
    assert_eq!(ids(s.related_incidents(a).await.unwrap()), vec![c]);
    assert_eq!(ids(s.related_incidents(c).await.unwrap()), vec![a]);
    assert!(matches!(
        s.relate_incidents(c, a, true, mins(3), who).await.unwrap(),
        Err(Refusal::Conflict { .. })
    ));
    assert!(matches!(
        s.relate_incidents(a, a, true, mins(3), who).await.unwrap(),
        Err(Refusal::Invalid(_))
    ));
    let ghost = IncidentId::new(t0(), rnd());
    assert!(
        s.relate_incidents(a, ghost, true, mins(3), who)
            .await
            .unwrap_err()
            .is_not_found()
    );
    s.relate_incidents(c, a, false, mins(4), who)
        .await
        .unwrap()
        .unwrap();
    assert!(s.related_incidents(a).await.unwrap().is_empty());
    assert_eq!(
        kinds(&events_of(&s, SubjectType::Incident, c).await)[1..].to_vec(),
        vec![EventKind::IncidentRelated, EventKind::IncidentUnrelated]
    );

    // b is a duplicate of a.
    let target = s.merge_incident(b, a, mins(5), who).await.unwrap().unwrap();
    assert_eq!((target.id, target.alert_count), (a, 2));
    let dup = s.incident(b).await.unwrap();
    assert_eq!(
        (
            dup.status,
            dup.resolved_at,
            dup.merged_into,
            dup.alert_count
        ),
        (IncidentStatus::Resolved, Some(mins(5)), Some(a), 0)
    );
    assert_eq!(s.alert(b_alert).await.unwrap().incident_id, Some(a));
    assert_eq!(
        kinds(&events_of(&s, SubjectType::Incident, b).await).last(),
        Some(&EventKind::IncidentMerged)
    );
    let merged_in = events_of(&s, SubjectType::Incident, a).await;
    let last = merged_in.last().unwrap();
    assert_eq!(
        (last.kind, last.data["alerts"].as_i64()),
        (EventKind::IncidentMergedIn, Some(1))
    );
    // Refused: a resolved duplicate, into itself; nothing changes.
    assert!(matches!(
        s.merge_incident(b, a, mins(6), who).await.unwrap(),
        Err(Refusal::Conflict { field, .. }) if field == "id"
    ));
    assert!(matches!(
        s.merge_incident(a, a, mins(6), who).await.unwrap(),
        Err(Refusal::Invalid(_))
    ));
    assert!(
        s.merge_incident(ghost, a, mins(6), who)
            .await
            .unwrap_err()
            .is_not_found()
    );
    // The moved alert's follow-ups act on the target: resolving both alerts resolves a.
    apply(&s, m.resolve("a", mins(7))).await;
    assert_eq!(
        s.incident(a).await.unwrap().status,
        IncidentStatus::Triggered
    );
    apply(&s, m.resolve("b", mins(8))).await;
    assert_eq!(
        s.incident(a).await.unwrap().status,
        IncidentStatus::Resolved
    );
}
