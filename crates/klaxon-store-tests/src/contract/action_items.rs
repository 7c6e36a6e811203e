//! Action items: kept with their incident, listed by owner, team, state and due date, counted
//! as learned from or not, and reminded at most once per window.
use super::*;
use klaxon_domain::action_item::{ActionKind, ActionState};
use klaxon_domain::ids::ActionItemId;
use klaxon_domain::incident::Refusal;

fn item(
    incident: IncidentId,
    owner: UserId,
    title: &str,
    priority: bool,
    due: Timestamp,
) -> ActionItem {
    // Ids in the order items are made, as the lists give them.
    static SEQ: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    ActionItem {
        id: ActionItemId::new(at(n), rnd()),
        incident_id: incident,
        postmortem_id: None,
        title: title.into(),
        owner_id: owner,
        kind: ActionKind::Prevent,
        priority,
        due_at: due,
        tracker_url: Some("https://tracker.example.com/OPS-1".into()),
        state: ActionState::Open,
        reason: None,
        created_at: t0(),
        created_by: Actor::User(owner),
        updated_at: t0(),
        last_reminded_at: None,
    }
}

fn item_ev(a: &ActionItem, kind: EventKind) -> NewEvent {
    ev(
        SubjectType::Incident,
        a.incident_id,
        kind,
        json!({"action_item_id": a.id, "title": a.title}),
    )
}

async fn create(s: &Arc<dyn Store>, a: &ActionItem) -> ActionItemRow {
    s.create_action_item(NewActionItem {
        item: a.clone(),
        event: item_ev(a, EventKind::ActionItemCreated),
        job: Some(new_job(
            "learning.reminders",
            Some("learning:reminders"),
            t0(),
        )),
    })
    .await
    .unwrap()
}

async fn listed(s: &Arc<dyn Store>, f: ActionItemFilter) -> Vec<ActionItemId> {
    s.list_action_items(&f, None, 100)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|r| r.item.id)
        .collect()
}

pub async fn action_items_list_count_and_remind_once(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let bob = person(&s, "bob@example.com").await;
    let team = create_policy(&s, &new_policy("payments", plan(&[(&[ada.id], 5)], 0))).await;
    let mut svc = new_service("checkout", Grouping::None, true);
    svc.escalation_policy_id = Some(team.id);
    let checkout = monitored_service(&s, svc).await;
    let search = monitored(&s, "search", Grouping::None, true).await;
    let one = apply(&s, checkout.trigger("a", "cart fails", mins(1))).await;
    let two = apply(&s, search.trigger("b", "search slow", mins(2))).await;
    let (one, two) = (one.incident_id.unwrap(), two.incident_id.unwrap());

    let a = item(
        one,
        ada.id,
        "Alert on card errors",
        true,
        mins(60 * 24 * 28),
    );
    let got = create(&s, &a).await;
    assert_eq!(got.item, a);
    assert_eq!(got.incident_number, s.incident(one).await.unwrap().number);
    assert_eq!(got.owner_name, "Test Person");
    let b = item(two, bob.id, "Write the runbook", false, mins(60));
    create(&s, &b).await;
    // Two items, one reminder job.
    let jobs: Vec<_> = all_jobs(&s)
        .await
        .into_iter()
        .filter(|j| j.kind == "learning.reminders")
        .collect();
    assert_eq!(jobs.len(), 1);
    // Its event is on the incident's timeline.
    assert!(
        kinds(&events_of(&s, SubjectType::Incident, one).await)
            .contains(&EventKind::ActionItemCreated)
    );
    // Someone who does not exist owns nothing.
    let ghost = item(one, UserId::new(t0(), rnd()), "x", false, mins(60));
    assert!(
        s.create_action_item(NewActionItem {
            item: ghost.clone(),
            event: item_ev(&ghost, EventKind::ActionItemCreated),
            job: None,
        })
        .await
        .unwrap_err()
        .is_not_found()
    );

    let f = ActionItemFilter::default;
    // Soonest due first.
    assert_eq!(listed(&s, f()).await, vec![b.id, a.id]);
    let page = s.list_action_items(&f(), None, 1).await.unwrap();
    assert_eq!(page.next, Some((b.due_at, b.id)));
    let rest = s.list_action_items(&f(), page.next, 1).await.unwrap();
    assert_eq!((rest.items[0].item.id, rest.next), (a.id, None));
    let mine = ActionItemFilter {
        owner: Some(ada.id),
        ..f()
    };
    assert_eq!(listed(&s, mine).await, vec![a.id]);
    let by_team = ActionItemFilter {
        team: Some(team.id),
        ..f()
    };
    assert_eq!(listed(&s, by_team).await, vec![a.id]);
    let of_two = ActionItemFilter {
        incident: Some(two),
        ..f()
    };
    assert_eq!(listed(&s, of_two).await, vec![b.id]);
    let overdue = ActionItemFilter {
        overdue_at: Some(mins(61)),
        ..f()
    };
    assert_eq!(listed(&s, overdue).await, vec![b.id]);
    let done = ActionItemFilter {
        state: Some(ActionState::Done),
        ..f()
    };
    assert!(listed(&s, done.clone()).await.is_empty());
    let not_learned = ActionItemFilter {
        learned_from: Some(false),
        ..f()
    };
    assert_eq!(listed(&s, not_learned.clone()).await, vec![a.id]);
    let learned = ActionItemFilter {
        learned_from: Some(true),
        ..f()
    };
    assert_eq!(listed(&s, learned).await, vec![b.id]);
    let counts = s.learning_counts(mins(61)).await.unwrap();
    assert_eq!(
        counts,
        LearningCounts {
            incidents: 2,
            learned_from: 1,
            not_learned_from: 1,
            open_items: 2,
            overdue_items: 1,
        }
    );
    let missing = s.not_learned_from(10).await.unwrap();
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0].0, one);
    // The incident list filters by the same rule.
    let incidents = |learned_from| {
        let s = s.clone();
        async move {
            let f = IncidentFilter {
                learned_from,
                ..Default::default()
            };
            let page = s.list_incidents(&f, None, 50).await.unwrap();
            page.items.into_iter().map(|i| i.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(incidents(Some(false)).await, vec![one]);
    assert_eq!(incidents(Some(true)).await, vec![two]);
    assert_eq!(incidents(None).await, vec![two, one]);

    // A refused change writes nothing.
    let refused = s
        .change_action_item(a.id, Box::new(|_| Err(Refusal::NotFound("nothing"))))
        .await
        .unwrap();
    assert!(refused.is_err());
    assert_eq!(s.action_item(a.id).await.unwrap().item, a);
    // Done: the incident is learned from.
    let changed = s
        .change_action_item(
            a.id,
            Box::new(move |cur| {
                let mut next = cur.clone();
                next.state = ActionState::Done;
                next.updated_at = mins(70);
                let e = item_ev(&next, EventKind::ActionItemStateChanged);
                Ok((next, vec![e]))
            }),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (changed.item.state, changed.item.updated_at),
        (ActionState::Done, mins(70))
    );
    assert!(listed(&s, not_learned).await.is_empty());
    assert_eq!(listed(&s, done).await, vec![a.id]);
    assert_eq!(s.learning_counts(mins(61)).await.unwrap().learned_from, 2);
    assert!(incidents(Some(false)).await.is_empty());
    assert_eq!(incidents(Some(true)).await, vec![two, one]);
    assert!(
        s.change_action_item(
            ActionItemId::new(t0(), rnd()),
            Box::new(|c| Ok((c.clone(), vec![])))
        )
        .await
        .unwrap_err()
        .is_not_found()
    );

    // Reminders: only open items in their window, once until the window moves on.
    let due = s
        .due_reminders(mins(60 * 24 * 60), mins(0), 10)
        .await
        .unwrap();
    assert_eq!(
        due.iter().map(|r| r.item.id).collect::<Vec<_>>(),
        vec![b.id]
    );
    let mail = create_method(
        &s,
        &new_method(bob.id, ContactKind::Email, "bob@example.com"),
    )
    .await;
    let remind = |key: &str, at_: Timestamp| ActionReminder {
        id: b.id,
        at: at_,
        reminded_before: at_.checked_sub(SignedDuration::from_hours(24)).unwrap(),
        notifications: vec![new_notification(&mail, None, key, at_)],
        event: item_ev(&b, EventKind::ActionItemReminded),
    };
    assert!(s.remind_action_item(remind("r1", mins(100))).await.unwrap());
    assert!(!s.remind_action_item(remind("r2", mins(200))).await.unwrap());
    assert!(
        s.due_reminders(mins(60 * 24 * 60), mins(99), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let sent: Vec<_> = s
        .list_notifications(None, Some(bob.id), None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.dedup_key)
        .collect();
    assert_eq!(sent, vec!["r1".to_owned()]);
    assert_eq!(
        s.action_item(b.id).await.unwrap().item.last_reminded_at,
        Some(mins(100))
    );
    // A day on, again.
    assert!(
        s.remind_action_item(remind("r3", mins(100 + 60 * 24)))
            .await
            .unwrap()
    );
    assert_eq!(s.open_action_items().await.unwrap(), 1);

    s.delete_action_item(b.id, item_ev(&b, EventKind::ActionItemDeleted))
        .await
        .unwrap();
    assert!(s.action_item(b.id).await.unwrap_err().is_not_found());
    assert!(
        s.delete_action_item(b.id, item_ev(&b, EventKind::ActionItemDeleted))
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        kinds(&events_of(&s, SubjectType::Incident, two).await)
            .contains(&EventKind::ActionItemDeleted)
    );
}
