//! The contract for on-call schedules and their overrides.
use std::sync::Arc;

use jiff::Timestamp;
use jiff::civil::date;
use klaxon_domain::escalation::{Level, Plan, Target};
use klaxon_domain::event::{EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{OverrideId, ScheduleId, UserId};
use klaxon_domain::schedule::{Layer, Turn, TurnUnit};
use klaxon_store::*;
use serde_json::json;

use super::{
    at, conflict, create_policy, ev, events_of, kinds, new_policy, person, policy_ev, rnd, t0,
};

fn hours(h: i64) -> Timestamp {
    at(h * 3600)
}

fn layer(name: &str, users: &[UserId]) -> Layer {
    Layer {
        name: name.into(),
        start: date(2026, 11, 16).at(9, 0, 0, 0),
        end: None,
        users: users.to_vec(),
        turn: Turn {
            count: 1,
            unit: TurnUnit::Days,
        },
        restrictions: Vec::new(),
    }
}

fn new_schedule(name: &str, users: &[UserId]) -> ScheduleRecord {
    ScheduleRecord {
        id: ScheduleId::new(t0(), rnd()),
        name: name.into(),
        description: format!("who is on call for {name}"),
        time_zone: "Europe/Berlin".into(),
        layers: vec![layer("primary", users)],
        created_at: t0(),
        updated_at: t0(),
    }
}

fn schedule_ev(id: ScheduleId, kind: EventKind) -> NewEvent {
    ev(SubjectType::Schedule, id, kind, json!({}))
}

async fn create_schedule(s: &Arc<dyn Store>, r: &ScheduleRecord) -> ScheduleRecord {
    s.create_schedule(r.clone(), schedule_ev(r.id, EventKind::ScheduleCreated))
        .await
        .unwrap()
}

fn new_override(schedule: ScheduleId, user: UserId, from_h: i64, to_h: i64) -> ScheduleOverride {
    ScheduleOverride {
        id: OverrideId::new(t0(), rnd()),
        schedule_id: schedule,
        user_id: user,
        start: hours(from_h),
        end: hours(to_h),
        created_at: t0(),
    }
}

async fn add_override(s: &Arc<dyn Store>, o: &ScheduleOverride) -> ScheduleOverride {
    s.create_schedule_override(
        *o,
        schedule_ev(o.schedule_id, EventKind::ScheduleOverrideAdded),
    )
    .await
    .unwrap()
}

fn schedule_plan(targets: Vec<Vec<Target>>) -> Plan {
    Plan::new(
        targets
            .into_iter()
            .map(|targets| Level {
                delay_minutes: 5,
                targets,
            })
            .collect(),
        0,
    )
    .unwrap()
}

fn ids(os: &[ScheduleOverride]) -> Vec<OverrideId> {
    os.iter().map(|o| o.id).collect()
}

pub async fn schedules_are_kept_listed_updated_and_deleted(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let bob = person(&s, "bob@example.com").await;
    let ops = new_schedule("ops", &[ada.id, bob.id]);
    assert_eq!(create_schedule(&s, &ops).await, ops);
    assert_eq!(s.schedule(ops.id).await.unwrap(), ops);
    assert!(
        s.schedule(ScheduleId::new(t0(), rnd()))
            .await
            .unwrap_err()
            .is_not_found()
    );

    // Layers naming someone who does not exist: not found, nothing written.
    let ghost = UserId::new(t0(), rnd());
    let bad = new_schedule("bad", &[ada.id, ghost]);
    assert!(
        s.create_schedule(bad.clone(), schedule_ev(bad.id, EventKind::ScheduleCreated))
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(s.schedule(bad.id).await.unwrap_err().is_not_found());
    assert!(
        events_of(&s, SubjectType::Schedule, bad.id)
            .await
            .is_empty()
    );

    // A taken name: a named conflict, nothing written.
    let dup = new_schedule("ops", &[bob.id]);
    conflict(
        s.create_schedule(dup.clone(), schedule_ev(dup.id, EventKind::ScheduleCreated))
            .await,
        "schedules_name",
    );
    assert!(
        events_of(&s, SubjectType::Schedule, dup.id)
            .await
            .is_empty()
    );

    // Listing pages in id order.
    let mut all = vec![ops.id];
    for i in 0..4 {
        let r = new_schedule(&format!("team{i}"), &[bob.id]);
        all.push(r.id);
        create_schedule(&s, &r).await;
    }
    all.sort();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = s.list_schedules(after, 2).await.unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items.iter().map(|r| r.id));
        match page.next {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, all);
    let exact = s.list_schedules(None, 5).await.unwrap();
    assert_eq!((exact.items.len(), exact.next), (5, None));

    // Updating replaces name, description, zone and layers, not the creation time.
    let mut changed = ops.clone();
    changed.name = "ops-eu".into();
    changed.description = "europe".into();
    changed.time_zone = "America/New_York".into();
    let mut second = layer("secondary", &[bob.id, ada.id]);
    second.end = Some("2027-01-01T00:00:00Z".parse().unwrap());
    changed.layers.push(second);
    changed.updated_at = hours(1);
    changed.created_at = hours(99);
    let updated = s
        .update_schedule(
            changed.clone(),
            schedule_ev(ops.id, EventKind::ScheduleUpdated),
        )
        .await
        .unwrap();
    let expected = ScheduleRecord {
        created_at: ops.created_at,
        ..changed
    };
    assert_eq!(updated, expected);
    assert_eq!(s.schedule(ops.id).await.unwrap(), expected);
    let mut clash = expected.clone();
    clash.name = "team0".into();
    conflict(
        s.update_schedule(clash, schedule_ev(ops.id, EventKind::ScheduleUpdated))
            .await,
        "schedules_name",
    );
    let mut haunted = expected.clone();
    haunted.layers[1].users.push(ghost);
    assert!(
        s.update_schedule(haunted, schedule_ev(ops.id, EventKind::ScheduleUpdated))
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        s.update_schedule(
            new_schedule("nowhere", &[ada.id]),
            schedule_ev(ops.id, EventKind::ScheduleUpdated)
        )
        .await
        .unwrap_err()
        .is_not_found()
    );
    assert_eq!(s.schedule(ops.id).await.unwrap(), expected);

    // Deleting takes the overrides along.
    let o = add_override(&s, &new_override(ops.id, bob.id, 1, 2)).await;
    let deleted = || schedule_ev(ops.id, EventKind::ScheduleDeleted);
    s.delete_schedule(ops.id, deleted()).await.unwrap();
    assert!(s.schedule(ops.id).await.unwrap_err().is_not_found());
    assert!(
        s.schedule_override(ops.id, o.id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        s.delete_schedule(ops.id, deleted())
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(s.list_schedules(None, 50).await.unwrap().items.len(), 4);
    assert_eq!(
        kinds(&events_of(&s, SubjectType::Schedule, ops.id).await),
        vec![
            EventKind::ScheduleCreated,
            EventKind::ScheduleUpdated,
            EventKind::ScheduleOverrideAdded,
            EventKind::ScheduleDeleted,
        ]
    );
}

pub async fn schedules_targeted_by_a_policy_are_kept(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let ops = create_schedule(&s, &new_schedule("ops", &[ada.id])).await;
    let web = create_schedule(&s, &new_schedule("web", &[ada.id])).await;

    // A policy may only name schedules that exist; nothing is written otherwise.
    let nowhere = ScheduleId::new(t0(), rnd());
    let bad = new_policy(
        "bad",
        schedule_plan(vec![vec![Target::User(ada.id), Target::Schedule(nowhere)]]),
    );
    assert!(
        s.create_escalation_policy(
            bad.clone(),
            policy_ev(bad.id, EventKind::EscalationPolicyCreated)
        )
        .await
        .unwrap_err()
        .is_not_found()
    );
    assert!(
        s.escalation_policy(bad.id)
            .await
            .unwrap_err()
            .is_not_found()
    );

    // Targeted in a later level: the schedule stays; the other one may go.
    let p = create_policy(
        &s,
        &new_policy(
            "primary",
            schedule_plan(vec![
                vec![Target::User(ada.id)],
                vec![Target::Schedule(ops.id), Target::User(ada.id)],
            ]),
        ),
    )
    .await;
    assert_eq!(
        s.escalation_policy(p.id)
            .await
            .unwrap()
            .plan
            .schedules()
            .collect::<Vec<_>>(),
        vec![ops.id]
    );
    let deleted = |id| schedule_ev(id, EventKind::ScheduleDeleted);
    conflict(
        s.delete_schedule(ops.id, deleted(ops.id)).await,
        "schedule_in_use",
    );
    assert_eq!(s.schedule(ops.id).await.unwrap(), ops);
    assert_eq!(
        kinds(&events_of(&s, SubjectType::Schedule, ops.id).await),
        vec![EventKind::ScheduleCreated]
    );

    // Updating a policy to a missing schedule is refused the same way.
    let mut to_nowhere = p.clone();
    to_nowhere.plan = schedule_plan(vec![vec![Target::Schedule(nowhere)]]);
    assert!(
        s.update_escalation_policy(
            to_nowhere,
            policy_ev(p.id, EventKind::EscalationPolicyUpdated)
        )
        .await
        .unwrap_err()
        .is_not_found()
    );
    conflict(
        s.delete_schedule(ops.id, deleted(ops.id)).await,
        "schedule_in_use",
    );

    // Once the policy moves to the other schedule, the first may go and the second stays.
    let mut moved = p.clone();
    moved.plan = schedule_plan(vec![vec![Target::Schedule(web.id)]]);
    s.update_escalation_policy(moved, policy_ev(p.id, EventKind::EscalationPolicyUpdated))
        .await
        .unwrap();
    s.delete_schedule(ops.id, deleted(ops.id)).await.unwrap();
    conflict(
        s.delete_schedule(web.id, deleted(web.id)).await,
        "schedule_in_use",
    );
    // And once the policy is gone, so may the second.
    s.delete_escalation_policy(p.id, policy_ev(p.id, EventKind::EscalationPolicyDeleted))
        .await
        .unwrap();
    s.delete_schedule(web.id, deleted(web.id)).await.unwrap();
}

/// A policy taking a schedule as a target and the schedule's deletion, raced: never both.
pub async fn racing_a_policy_and_a_schedule_deletion_leaves_no_dangling_target(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    for round in 0..20 {
        let sched = create_schedule(&s, &new_schedule(&format!("s{round}"), &[ada.id])).await;
        let policy = new_policy(
            &format!("p{round}"),
            schedule_plan(vec![vec![Target::Schedule(sched.id)]]),
        );
        let (s1, s2, p1) = (s.clone(), s.clone(), policy.clone());
        let create = tokio::spawn(async move {
            s1.create_escalation_policy(
                p1.clone(),
                policy_ev(p1.id, EventKind::EscalationPolicyCreated),
            )
            .await
        });
        let delete = tokio::spawn(async move {
            s2.delete_schedule(sched.id, schedule_ev(sched.id, EventKind::ScheduleDeleted))
                .await
        });
        let (created, deleted) = (create.await.unwrap(), delete.await.unwrap());
        match (&created, &deleted) {
            // The policy came first: the schedule is in use.
            (Ok(_), Err(StoreError::Conflict { constraint })) => {
                assert_eq!(constraint, "schedule_in_use");
                assert!(s.schedule(sched.id).await.is_ok());
            }
            // The deletion came first: the policy found no schedule.
            (Err(e), Ok(())) => {
                assert!(e.is_not_found(), "{e:?}");
                assert!(
                    s.escalation_policy(policy.id)
                        .await
                        .unwrap_err()
                        .is_not_found()
                );
            }
            other => panic!("round {round}: {other:?}"),
        }
    }
}

pub async fn schedule_overrides_are_added_listed_by_range_and_removed(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let bob = person(&s, "bob@example.com").await;
    let ops = create_schedule(&s, &new_schedule("ops", &[ada.id])).await;
    let web = create_schedule(&s, &new_schedule("web", &[ada.id])).await;

    // Hours after t0: [10, 14), [12, 13), [12, 20) added after the other, [0, 10), and one on
    // the other schedule.
    let a = add_override(&s, &new_override(ops.id, bob.id, 10, 14)).await;
    let b2 = new_override(ops.id, ada.id, 12, 20);
    let b1 = new_override(ops.id, bob.id, 12, 13);
    // Ids sort by creation: whichever of the two was made first is listed first.
    let (first, second) = if b1.id < b2.id { (b1, b2) } else { (b2, b1) };
    add_override(&s, &first).await;
    add_override(&s, &second).await;
    let before = add_override(&s, &new_override(ops.id, ada.id, 0, 10)).await;
    let elsewhere = add_override(&s, &new_override(web.id, bob.id, 0, 100)).await;

    // A missing schedule or user: not found, nothing written.
    let ghost = UserId::new(t0(), rnd());
    for o in [
        new_override(ops.id, ghost, 1, 2),
        new_override(ScheduleId::new(t0(), rnd()), ada.id, 1, 2),
    ] {
        assert!(
            s.create_schedule_override(o, schedule_ev(ops.id, EventKind::ScheduleOverrideAdded))
                .await
                .unwrap_err()
                .is_not_found()
        );
        assert!(
            s.schedule_override(o.schedule_id, o.id)
                .await
                .unwrap_err()
                .is_not_found()
        );
    }

    // Ranges are half-open on both sides: touching is not overlapping.
    let list = |from: i64, to: i64| {
        let s = s.clone();
        async move {
            s.list_schedule_overrides(ops.id, hours(from), hours(to))
                .await
                .unwrap()
        }
    };
    assert_eq!(
        ids(&list(0, 24).await),
        vec![before.id, a.id, first.id, second.id]
    );
    assert_eq!(ids(&list(10, 12).await), vec![a.id]);
    assert_eq!(ids(&list(9, 10).await), vec![before.id]);
    assert_eq!(
        ids(&list(13, 14).await),
        vec![
            a.id,
            if first.end == hours(20) {
                first.id
            } else {
                second.id
            }
        ]
    );
    assert!(list(20, 30).await.is_empty());
    assert!(list(-5, 0).await.is_empty());
    assert_eq!(list(12, 13).await[1], first);
    assert!(
        s.list_schedule_overrides(ScheduleId::new(t0(), rnd()), hours(0), hours(99))
            .await
            .unwrap()
            .is_empty()
    );

    // One override by id, only under its own schedule.
    assert_eq!(s.schedule_override(ops.id, a.id).await.unwrap(), a);
    assert!(
        s.schedule_override(web.id, a.id)
            .await
            .unwrap_err()
            .is_not_found()
    );

    // Removing: only from its own schedule, and once.
    let removed = || schedule_ev(ops.id, EventKind::ScheduleOverrideRemoved);
    assert!(
        s.delete_schedule_override(ops.id, elsewhere.id, removed())
            .await
            .unwrap_err()
            .is_not_found()
    );
    s.delete_schedule_override(ops.id, a.id, removed())
        .await
        .unwrap();
    assert!(
        s.delete_schedule_override(ops.id, a.id, removed())
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(ids(&list(10, 12).await), Vec::<OverrideId>::new());
    assert_eq!(
        s.schedule_override(web.id, elsewhere.id).await.unwrap(),
        elsewhere
    );
    assert_eq!(
        kinds(&events_of(&s, SubjectType::Schedule, ops.id).await),
        vec![
            EventKind::ScheduleCreated,
            EventKind::ScheduleOverrideAdded,
            EventKind::ScheduleOverrideAdded,
            EventKind::ScheduleOverrideAdded,
            EventKind::ScheduleOverrideAdded,
            EventKind::ScheduleOverrideRemoved,
        ]
    );
}

pub async fn schedules_are_read_with_the_overrides_around_an_instant(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let bob = person(&s, "bob@example.com").await;
    let carol = person(&s, "carol@example.com").await;
    let mut made = Vec::new();
    for i in 0..5 {
        made.push(create_schedule(&s, &new_schedule(&format!("team{i}"), &[ada.id])).await);
    }
    made.sort_by_key(|r| r.id);
    // team1: bob over hours [1, 3); team3: carol over [2, 4) and bob over [10, 11).
    let o1 = add_override(&s, &new_override(made[1].id, bob.id, 1, 3)).await;
    let o2 = add_override(&s, &new_override(made[3].id, carol.id, 2, 4)).await;
    add_override(&s, &new_override(made[3].id, bob.id, 10, 11)).await;

    let one = s
        .schedule_with_overrides(made[3].id, hours(2), hours(3))
        .await
        .unwrap();
    assert_eq!(one.schedule, made[3]);
    assert_eq!(one.overrides, vec![o2]);
    // The domain schedule built from it: carol overrides the layer; the layer (ada) outside.
    let domain = one.to_domain().unwrap();
    assert_eq!(domain.on_call(hours(2)), Some(carol.id));
    assert_eq!(domain.on_call(hours(5)), Some(ada.id));
    assert!(
        s.schedule_with_overrides(ScheduleId::new(t0(), rnd()), hours(0), hours(1))
            .await
            .unwrap_err()
            .is_not_found()
    );

    // Every schedule, a page at a time, each with its own overrides around the instant.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = s
            .list_schedules_with_overrides(
                after,
                2,
                hours(2),
                hours(2) + jiff::SignedDuration::from_secs(1),
            )
            .await
            .unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items);
        match page.next {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    assert_eq!(
        seen.iter().map(|w| w.schedule.clone()).collect::<Vec<_>>(),
        made
    );
    let overrides: Vec<Vec<ScheduleOverride>> = seen.iter().map(|w| w.overrides.clone()).collect();
    assert_eq!(overrides, vec![vec![], vec![o1], vec![], vec![o2], vec![]]);
    let at: Timestamp = hours(2);
    let on_call: Vec<Option<UserId>> = seen
        .iter()
        .map(|w| w.to_domain().unwrap().on_call(at))
        .collect();
    assert_eq!(
        on_call,
        vec![
            Some(ada.id),
            Some(bob.id),
            Some(ada.id),
            Some(carol.id),
            Some(ada.id)
        ]
    );
}
