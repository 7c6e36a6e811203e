//! Escalation policies, contact methods, notification rules and escalation steps.
use super::*;

pub async fn escalation_policies_are_kept_and_deleted_once_unused(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let bob = person(&s, "bob@example.com").await;
    let primary = new_policy("primary", plan(&[(&[ada.id], 5)], 0));
    assert_eq!(create_policy(&s, &primary).await, primary);
    assert_eq!(s.escalation_policy(primary.id).await.unwrap(), primary);
    assert!(
        s.escalation_policy(EscalationPolicyId::new(t0(), rnd()))
            .await
            .unwrap_err()
            .is_not_found()
    );

    // A plan paging someone who does not exist: not found, nothing written.
    let ghost = UserId::new(t0(), rnd());
    let bad = new_policy("bad", plan(&[(&[ada.id], 5), (&[ghost], 5)], 0));
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
    assert!(
        events_of(&s, SubjectType::EscalationPolicy, bad.id)
            .await
            .is_empty()
    );

    // A taken name: a named conflict, nothing written.
    let dup = new_policy("primary", plan(&[(&[bob.id], 5)], 0));
    conflict(
        s.create_escalation_policy(
            dup.clone(),
            policy_ev(dup.id, EventKind::EscalationPolicyCreated),
        )
        .await,
        "escalation_policies_name",
    );
    assert!(
        s.escalation_policy(dup.id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        events_of(&s, SubjectType::EscalationPolicy, dup.id)
            .await
            .is_empty()
    );

    // Listing pages in id order.
    let mut ids = vec![primary.id];
    for i in 0..4 {
        let p = new_policy(&format!("team{i}"), plan(&[(&[bob.id], 10)], 1));
        ids.push(p.id);
        create_policy(&s, &p).await;
    }
    ids.sort();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = s.list_escalation_policies(after, 2).await.unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items.iter().map(|p| p.id));
        match page.next {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    let exact = s.list_escalation_policies(None, 5).await.unwrap();
    assert_eq!((exact.items.len(), exact.next), (5, None));

    // Updating replaces name, description and plan, not the creation time.
    let mut changed = primary.clone();
    changed.name = "primary-eu".into();
    changed.description = "europe".into();
    changed.plan = plan(&[(&[ada.id, bob.id], 3), (&[bob.id], 30)], 2);
    changed.updated_at = at(60);
    changed.created_at = at(999);
    let updated = s
        .update_escalation_policy(
            changed.clone(),
            policy_ev(primary.id, EventKind::EscalationPolicyUpdated),
        )
        .await
        .unwrap();
    let expected = EscalationPolicy {
        created_at: primary.created_at,
        ..changed
    };
    assert_eq!(updated, expected);
    assert_eq!(s.escalation_policy(primary.id).await.unwrap(), expected);
    let mut clash = expected.clone();
    clash.name = "team0".into();
    conflict(
        s.update_escalation_policy(
            clash,
            policy_ev(primary.id, EventKind::EscalationPolicyUpdated),
        )
        .await,
        "escalation_policies_name",
    );
    let mut paging_ghost = expected.clone();
    paging_ghost.plan = plan(&[(&[ghost], 5)], 0);
    assert!(
        s.update_escalation_policy(
            paging_ghost,
            policy_ev(primary.id, EventKind::EscalationPolicyUpdated),
        )
        .await
        .unwrap_err()
        .is_not_found()
    );
    assert!(
        s.update_escalation_policy(
            new_policy("nowhere", plan(&[(&[ada.id], 5)], 0)),
            policy_ev(primary.id, EventKind::EscalationPolicyUpdated),
        )
        .await
        .unwrap_err()
        .is_not_found()
    );
    assert_eq!(s.escalation_policy(primary.id).await.unwrap(), expected);

    // While a service uses it, it stays.
    let mut svc = new_service("checkout", Grouping::None, true);
    svc.escalation_policy_id = Some(primary.id);
    s.create_service(svc.clone(), service_ev(svc.id, EventKind::ServiceCreated))
        .await
        .unwrap();
    let deleted = || policy_ev(primary.id, EventKind::EscalationPolicyDeleted);
    conflict(
        s.delete_escalation_policy(primary.id, deleted()).await,
        "escalation_policy_in_use",
    );
    assert_eq!(s.escalation_policy(primary.id).await.unwrap(), expected);

    // Once the service lets go of it, it can go.
    svc.escalation_policy_id = None;
    s.update_service(svc.clone(), service_ev(svc.id, EventKind::ServiceUpdated))
        .await
        .unwrap();
    s.delete_escalation_policy(primary.id, deleted())
        .await
        .unwrap();
    assert!(
        s.escalation_policy(primary.id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        s.delete_escalation_policy(primary.id, deleted())
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(
        s.list_escalation_policies(None, 50)
            .await
            .unwrap()
            .items
            .len(),
        4
    );
    assert_eq!(
        kinds(&events_of(&s, SubjectType::EscalationPolicy, primary.id).await),
        vec![
            EventKind::EscalationPolicyCreated,
            EventKind::EscalationPolicyUpdated,
            EventKind::EscalationPolicyDeleted
        ]
    );
}

pub async fn services_name_an_existing_escalation_policy(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let p = create_policy(&s, &new_policy("primary", plan(&[(&[ada.id], 5)], 0))).await;
    let mut svc = new_service("api", Grouping::None, true);
    svc.escalation_policy_id = Some(p.id);
    assert_eq!(
        s.create_service(svc.clone(), service_ev(svc.id, EventKind::ServiceCreated))
            .await
            .unwrap(),
        svc
    );
    assert_eq!(s.service(svc.id).await.unwrap(), svc);
    assert_eq!(
        s.list_services(None, 10).await.unwrap().items,
        vec![svc.clone()]
    );

    // An unknown policy: not found, and neither the service nor its event is written.
    let mut orphan = new_service("orphan", Grouping::None, true);
    orphan.escalation_policy_id = Some(EscalationPolicyId::new(t0(), rnd()));
    assert!(
        s.create_service(
            orphan.clone(),
            service_ev(orphan.id, EventKind::ServiceCreated)
        )
        .await
        .unwrap_err()
        .is_not_found()
    );
    assert!(s.service(orphan.id).await.unwrap_err().is_not_found());
    assert!(
        events_of(&s, SubjectType::Service, orphan.id)
            .await
            .is_empty()
    );

    // Updating sets and clears it; an unknown one changes nothing.
    let mut none = svc.clone();
    none.escalation_policy_id = None;
    none.updated_at = at(10);
    assert_eq!(
        s.update_service(none.clone(), service_ev(svc.id, EventKind::ServiceUpdated))
            .await
            .unwrap(),
        none
    );
    let mut unknown = none.clone();
    unknown.escalation_policy_id = Some(EscalationPolicyId::new(t0(), rnd()));
    unknown.updated_at = at(20);
    assert!(
        s.update_service(unknown, service_ev(svc.id, EventKind::ServiceUpdated))
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(s.service(svc.id).await.unwrap(), none);
    let mut again = none.clone();
    again.escalation_policy_id = Some(p.id);
    again.updated_at = at(30);
    s.update_service(again.clone(), service_ev(svc.id, EventKind::ServiceUpdated))
        .await
        .unwrap();
    assert_eq!(s.service(svc.id).await.unwrap(), again);
    assert_eq!(
        kinds(&events_of(&s, SubjectType::Service, svc.id).await),
        vec![
            EventKind::ServiceCreated,
            EventKind::ServiceUpdated,
            EventKind::ServiceUpdated
        ]
    );
}

pub async fn contact_methods_belong_to_a_user_and_take_their_rules_along(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let bob = person(&s, "bob@example.com").await;
    let email = new_method(ada.id, ContactKind::Email, "ada@example.com");
    let mut hook = new_method(
        ada.id,
        ContactKind::Webhook,
        "https://hooks.example.com/ada",
    );
    hook.secret = Some("whsec_0123456789abcdef".into());
    let sms = new_method(bob.id, ContactKind::Sms, "+14155550123");
    for m in [&email, &hook, &sms] {
        assert_eq!(&create_method(&s, m).await, m);
        assert_eq!(&s.contact_method(m.id).await.unwrap(), m);
    }
    assert_eq!(
        s.list_contact_methods(ada.id).await.unwrap(),
        sorted(vec![email.id, hook.id])
            .into_iter()
            .map(|id| if id == email.id {
                email.clone()
            } else {
                hook.clone()
            })
            .collect::<Vec<_>>()
    );
    assert_eq!(
        s.list_contact_methods(bob.id).await.unwrap(),
        vec![sms.clone()]
    );
    assert!(
        s.contact_method(ContactMethodId::new(t0(), rnd()))
            .await
            .unwrap_err()
            .is_not_found()
    );

    // For nobody: not found, nothing written.
    let ghost = UserId::new(t0(), rnd());
    let lost = new_method(ghost, ContactKind::Email, "ghost@example.com");
    assert!(
        s.create_contact_method(
            lost.clone(),
            user_ev(ghost, EventKind::ContactMethodAdded),
            Vec::new()
        )
        .await
        .unwrap_err()
        .is_not_found()
    );
    assert!(s.contact_method(lost.id).await.unwrap_err().is_not_found());
    assert!(events_of(&s, SubjectType::User, ghost).await.is_empty());

    // Updating changes label and address only.
    let mut changed = hook.clone();
    changed.label = "pager bridge".into();
    changed.address = "https://hooks.example.com/ada2".into();
    changed.secret = Some("not this".into());
    changed.kind = ContactKind::Slack;
    changed.user_id = bob.id;
    changed.created_at = at(999);
    let expected = ContactMethod {
        label: changed.label.clone(),
        address: changed.address.clone(),
        ..hook.clone()
    };
    assert_eq!(
        s.update_contact_method(changed, user_ev(ada.id, EventKind::ContactMethodChanged))
            .await
            .unwrap(),
        expected
    );
    assert_eq!(s.contact_method(hook.id).await.unwrap(), expected);
    assert!(
        s.update_contact_method(lost, user_ev(ada.id, EventKind::ContactMethodChanged))
            .await
            .unwrap_err()
            .is_not_found()
    );

    // Deleting a method deletes the rules that use it, and only those.
    let by_hook = new_rule(&hook, 0, Urgency::High);
    let by_hook_later = new_rule(&hook, 15, Urgency::Low);
    let by_email = new_rule(&email, 5, Urgency::High);
    for r in [&by_hook, &by_hook_later, &by_email] {
        s.create_notification_rule(r.clone(), user_ev(ada.id, EventKind::NotificationRuleAdded))
            .await
            .unwrap();
    }
    assert_eq!(s.list_notification_rules(ada.id).await.unwrap().len(), 3);
    s.delete_contact_method(hook.id, user_ev(ada.id, EventKind::ContactMethodRemoved))
        .await
        .unwrap();
    assert!(s.contact_method(hook.id).await.unwrap_err().is_not_found());
    assert_eq!(
        s.list_notification_rules(ada.id).await.unwrap(),
        vec![by_email]
    );
    assert_eq!(
        s.list_contact_methods(ada.id).await.unwrap(),
        vec![email.clone()]
    );
    assert!(
        s.delete_contact_method(hook.id, user_ev(ada.id, EventKind::ContactMethodRemoved))
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(
        kinds(&events_of(&s, SubjectType::User, ada.id).await),
        vec![
            EventKind::UserCreated,
            EventKind::ContactMethodAdded,
            EventKind::ContactMethodAdded,
            EventKind::ContactMethodChanged,
            EventKind::NotificationRuleAdded,
            EventKind::NotificationRuleAdded,
            EventKind::NotificationRuleAdded,
            EventKind::ContactMethodRemoved,
        ]
    );
}

pub async fn notification_rules_use_the_users_own_methods_ordered_by_delay(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let bob = person(&s, "bob@example.com").await;
    let ada_sms = create_method(&s, &new_method(ada.id, ContactKind::Sms, "+14155550100")).await;
    let ada_mail = create_method(
        &s,
        &new_method(ada.id, ContactKind::Email, "ada@example.com"),
    )
    .await;
    let bob_sms = create_method(&s, &new_method(bob.id, ContactKind::Sms, "+14155550199")).await;

    let r10 = new_rule(&ada_sms, 10, Urgency::High);
    let r0 = new_rule(&ada_mail, 0, Urgency::High);
    let r5 = new_rule(&ada_sms, 5, Urgency::Low);
    for r in [&r10, &r0, &r5] {
        assert_eq!(
            &s.create_notification_rule(
                r.clone(),
                user_ev(ada.id, EventKind::NotificationRuleAdded)
            )
            .await
            .unwrap(),
            r
        );
    }
    assert_eq!(
        s.list_notification_rules(ada.id).await.unwrap(),
        vec![r0.clone(), r5.clone(), r10.clone()]
    );
    assert!(s.list_notification_rules(bob.id).await.unwrap().is_empty());

    // Someone else's method, or none: not found, nothing written.
    let mut stolen = new_rule(&bob_sms, 0, Urgency::High);
    stolen.user_id = ada.id;
    let mut nowhere = new_rule(&ada_sms, 0, Urgency::High);
    nowhere.contact_method_id = ContactMethodId::new(t0(), rnd());
    for r in [stolen, nowhere] {
        assert!(
            s.create_notification_rule(r, user_ev(ada.id, EventKind::NotificationRuleAdded))
                .await
                .unwrap_err()
                .is_not_found()
        );
    }
    assert_eq!(s.list_notification_rules(ada.id).await.unwrap().len(), 3);
    assert!(s.list_notification_rules(bob.id).await.unwrap().is_empty());

    // Deleting is per user.
    assert!(
        s.delete_notification_rule(
            bob.id,
            r5.id,
            user_ev(bob.id, EventKind::NotificationRuleRemoved)
        )
        .await
        .unwrap_err()
        .is_not_found()
    );
    s.delete_notification_rule(
        ada.id,
        r5.id,
        user_ev(ada.id, EventKind::NotificationRuleRemoved),
    )
    .await
    .unwrap();
    assert_eq!(
        s.list_notification_rules(ada.id).await.unwrap(),
        vec![r0, r10]
    );
    assert!(
        s.delete_notification_rule(
            ada.id,
            r5.id,
            user_ev(ada.id, EventKind::NotificationRuleRemoved)
        )
        .await
        .unwrap_err()
        .is_not_found()
    );
    assert_eq!(
        kinds(&events_of(&s, SubjectType::User, ada.id).await)
            .iter()
            .filter(|k| matches!(
                k,
                EventKind::NotificationRuleAdded | EventKind::NotificationRuleRemoved
            ))
            .count(),
        4
    );
    assert!(
        kinds(&events_of(&s, SubjectType::User, bob.id).await)
            .iter()
            .all(|k| !matches!(k, EventKind::NotificationRuleRemoved))
    );
}

pub async fn an_incident_on_a_paged_service_enqueues_its_first_escalation_step(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let p = create_policy(&s, &new_policy("primary", plan(&[(&[ada.id], 5)], 0))).await;
    let mut svc = new_service("paged", Grouping::Time { window_minutes: 30 }, true);
    svc.escalation_policy_id = Some(p.id);
    let paged = monitored_service(&s, svc).await;

    let first = paged.trigger("cpu", "cpu 99%", mins(1));
    assert_eq!(
        apply(&s, first.clone()).await,
        opened(&first, Some(first.new_incident_id), true)
    );
    let incident = first.new_incident_id;
    let jobs = all_jobs(&s).await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let job = &jobs[0];
    assert_eq!(job.id, first.new_job_id);
    assert_eq!(job.kind, STEP_JOB);
    assert_eq!(
        job.dedup_key.as_deref(),
        Some(format!("escalation:{incident}:0").as_str())
    );
    assert_eq!(job.dedup_key, Some(step_job_key(incident, 0)));
    assert_eq!(
        serde_json::from_value::<StepJob>(job.payload.clone()).unwrap(),
        StepJob {
            incident_id: incident,
            step: 0
        }
    );
    assert_eq!((job.run_at, job.attempts, job.dead_at), (mins(1), 0, None));
    let timeline = events_of(&s, SubjectType::Incident, incident).await;
    assert_eq!(timeline[0].kind, EventKind::IncidentTriggered);
    assert_eq!(timeline[0].data["escalation_policy_id"], json!(p.id));

    // Deduplicating or joining the open incident starts nothing more.
    assert_eq!(
        apply(&s, paged.trigger("cpu", "cpu 100%", mins(2)))
            .await
            .step,
        Step::Deduplicate
    );
    let joined = paged.trigger("mem", "memory", mins(3));
    assert_eq!(
        apply(&s, joined.clone()).await,
        opened(&joined, Some(incident), false)
    );
    assert_eq!(all_jobs(&s).await.len(), 1);

    // A service without a policy pages nobody.
    let quiet = monitored(&s, "quiet", Grouping::None, true).await;
    let unpaged = quiet.trigger("cpu", "cpu 99%", mins(4));
    assert!(apply(&s, unpaged.clone()).await.incident_opened);
    let timeline = events_of(&s, SubjectType::Incident, unpaged.new_incident_id).await;
    assert_eq!(timeline[0].kind, EventKind::IncidentTriggered);
    assert_eq!(
        timeline[0].data["escalation_policy_id"],
        serde_json::Value::Null
    );
    assert!(s.job(unpaged.new_job_id).await.unwrap_err().is_not_found());

    // Nor does an alert during maintenance, which opens no incident.
    let mut svc = new_service("maint", Grouping::None, true);
    svc.escalation_policy_id = Some(p.id);
    let maint = monitored_service(&s, svc).await;
    s.create_maintenance(
        window(maint.service.id, 10, 70, "upgrade"),
        service_ev(maint.service.id, EventKind::MaintenanceScheduled),
    )
    .await
    .unwrap();
    let during = maint.trigger("disk", "disk full", mins(20));
    assert_eq!(
        apply(&s, during.clone()).await,
        opened(&during, None, false)
    );
    assert!(s.job(during.new_job_id).await.unwrap_err().is_not_found());
    assert_eq!(all_jobs(&s).await.len(), 1);

    // The engine finds the step due at once.
    let claimed = s
        .claim_jobs("engine", mins(1), mins(2), 10, ALL)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, first.new_job_id);

    // Two incidents opened in one batch start one escalation each.
    let mut svc = new_service("burst", Grouping::None, true);
    svc.escalation_policy_id = Some(p.id);
    let burst = monitored_service(&s, svc).await;
    let (a, b) = (
        burst.trigger("a", "a", mins(30)),
        burst.trigger("b", "b", mins(30)),
    );
    apply_all(&s, vec![a.clone(), b.clone()]).await;
    for w in [&a, &b] {
        let job = s.job(w.new_job_id).await.unwrap();
        assert_eq!(job.dedup_key, Some(step_job_key(w.new_incident_id, 0)));
    }
    assert_eq!(all_jobs(&s).await.len(), 3);
}

pub async fn escalation_steps_are_written_once(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let mail = create_method(
        &s,
        &new_method(ada.id, ContactKind::Email, "ada@example.com"),
    )
    .await;
    let sms = create_method(&s, &new_method(ada.id, ContactKind::Sms, "+14155550100")).await;
    let m = monitored(&s, "api", Grouping::None, true).await;
    let w = m.trigger("cpu", "cpu 99%", mins(0));
    apply(&s, w.clone()).await;
    let inc = w.new_incident_id;
    let key = |n: u32, ch: &str| format!("incident:{inc}:step:{n}:{ch}");

    let step0 = |next_id: JobId| {
        let mut next = escalation_job(next_id, inc, 1, mins(5));
        next.created_at = mins(0);
        escalation_step(
            inc,
            0,
            vec![
                new_notification(&mail, Some(inc), &key(0, "mail"), mins(0)),
                new_notification(&sms, Some(inc), &key(0, "sms"), mins(2)),
            ],
            Some(next),
        )
    };
    let first = step0(JobId::new(t0(), rnd()));
    assert!(s.apply_escalation_step(first.clone()).await.unwrap());
    let notes = all_notifications(&s, Some(inc)).await;
    assert_eq!(
        sorted(notes.iter().map(|n| n.id).collect()),
        sorted(first.notifications.iter().map(|n| n.id).collect::<Vec<_>>())
    );
    for (n, new) in notes.iter().map(|n| {
        (
            n,
            first
                .notifications
                .iter()
                .find(|x| x.id == n.id)
                .unwrap()
                .clone(),
        )
    }) {
        assert_eq!(
            n,
            &Notification {
                id: new.id,
                incident_id: Some(inc),
                user_id: ada.id,
                contact_method_id: new.contact_method_id,
                kind: new.kind,
                address: new.address.clone(),
                dedup_key: new.dedup_key.clone(),
                payload: new.payload.clone(),
                status: NotificationStatus::Pending,
                attempts: 0,
                run_at: new.run_at,
                last_error: None,
                created_at: new.created_at,
                sent_at: None,
            }
        );
        assert_eq!(&s.notification(n.id).await.unwrap(), n);
    }
    let next_id = first.next.as_ref().unwrap().id;
    let next = s.job(next_id).await.unwrap();
    assert_eq!(
        (next.kind.as_str(), next.dedup_key.clone(), next.run_at),
        (STEP_JOB, Some(step_job_key(inc, 1)), mins(5))
    );
    let escalated = |evs: &[Event]| {
        evs.iter()
            .filter(|e| e.kind == EventKind::IncidentEscalated)
            .count()
    };
    assert_eq!(
        escalated(&events_of(&s, SubjectType::Incident, inc).await),
        1
    );

    // The same step again (a retried job, a second engine): nothing is written.
    let again = step0(JobId::new(t0(), rnd()));
    assert!(!s.apply_escalation_step(again.clone()).await.unwrap());
    assert_eq!(all_notifications(&s, Some(inc)).await, notes);
    for n in &again.notifications {
        assert!(s.notification(n.id).await.unwrap_err().is_not_found());
    }
    assert!(
        s.job(again.next.as_ref().unwrap().id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(all_jobs(&s).await.len(), 1);
    assert_eq!(
        escalated(&events_of(&s, SubjectType::Incident, inc).await),
        1
    );

    // The next step writes, but a notification whose key exists is not queued twice.
    let step1 = escalation_step(
        inc,
        1,
        vec![
            new_notification(&mail, Some(inc), &key(0, "mail"), mins(5)),
            new_notification(&mail, Some(inc), &key(1, "mail"), mins(5)),
        ],
        None,
    );
    assert!(s.apply_escalation_step(step1.clone()).await.unwrap());
    let notes = all_notifications(&s, Some(inc)).await;
    assert_eq!(notes.len(), 3);
    assert!(
        s.notification(step1.notifications[0].id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(
        s.notification(step1.notifications[1].id)
            .await
            .unwrap()
            .dedup_key,
        key(1, "mail")
    );
    // Oldest first.
    assert!(
        notes
            .windows(2)
            .all(|w| (w[0].created_at, w[0].id) <= (w[1].created_at, w[1].id))
    );
    assert_eq!(
        escalated(&events_of(&s, SubjectType::Incident, inc).await),
        2
    );

    // Several engines racing on one step: exactly one writes it.
    let mut tasks = Vec::new();
    for i in 0..6 {
        let s = s.clone();
        let st = escalation_step(
            inc,
            2,
            vec![new_notification(
                &sms,
                Some(inc),
                &format!("race:{i}"),
                mins(10),
            )],
            Some(escalation_job(JobId::new(t0(), rnd()), inc, 3, mins(15))),
        );
        tasks.push(tokio::spawn(
            async move { s.apply_escalation_step(st).await },
        ));
    }
    let mut wrote = 0;
    for t in tasks {
        wrote += usize::from(t.await.unwrap().unwrap());
    }
    assert_eq!(wrote, 1);
    assert_eq!(all_notifications(&s, Some(inc)).await.len(), 4);
    assert_eq!(
        escalated(&events_of(&s, SubjectType::Incident, inc).await),
        3
    );
    let keys: Vec<_> = all_jobs(&s)
        .await
        .into_iter()
        .filter_map(|j| j.dedup_key)
        .collect();
    assert_eq!(
        sorted(keys),
        sorted(vec![step_job_key(inc, 1), step_job_key(inc, 3)])
    );
}
