//! Services, integrations and maintenance windows.
use super::*;

pub async fn services_are_created_listed_updated_and_unique(s: Arc<dyn Store>) {
    let a = new_service("checkout", Grouping::None, true);
    let created = s
        .create_service(a.clone(), service_ev(a.id, EventKind::ServiceCreated))
        .await
        .unwrap();
    assert_eq!(created, a);
    assert_eq!(s.service(a.id).await.unwrap(), a);
    assert!(
        s.service(ServiceId::new(t0(), rnd()))
            .await
            .unwrap_err()
            .is_not_found()
    );

    // Every grouping rule and urgency rule reads back as written.
    let mut b = new_service(
        "payments",
        Grouping::Content {
            fields: vec![GroupField::Source, GroupField::Detail("labels.job".into())],
            aggregate: Aggregate::Any,
            window_minutes: 30,
        },
        false,
    );
    b.urgency_rule = UrgencyRule::Low;
    s.create_service(b.clone(), service_ev(b.id, EventKind::ServiceCreated))
        .await
        .unwrap();
    assert_eq!(s.service(b.id).await.unwrap(), b);

    // A taken name: a named conflict, and neither the service nor its event is written.
    let dup = new_service("checkout", Grouping::Time { window_minutes: 5 }, true);
    match s
        .create_service(dup.clone(), service_ev(dup.id, EventKind::ServiceCreated))
        .await
    {
        Err(StoreError::Conflict { constraint }) => assert_eq!(constraint, "services_name"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(s.service(dup.id).await.unwrap_err().is_not_found());
    assert!(events_of(&s, SubjectType::Service, dup.id).await.is_empty());

    // Listing pages through every service in id order.
    let mut ids = vec![a.id, b.id];
    for i in 0..5 {
        let svc = new_service(&format!("svc{i}"), Grouping::None, true);
        ids.push(svc.id);
        s.create_service(svc.clone(), service_ev(svc.id, EventKind::ServiceCreated))
            .await
            .unwrap();
    }
    ids.sort();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = s.list_services(after, 3).await.unwrap();
        assert!(page.items.len() <= 3);
        seen.extend(page.items.iter().map(|s| s.id));
        match page.next {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    let exact = s.list_services(None, 7).await.unwrap();
    assert_eq!((exact.items.len(), exact.next), (7, None));

    // Updating replaces the settings but not the creation time.
    let mut changed = a.clone();
    changed.name = "checkout-api".into();
    changed.description = "renamed".into();
    changed.urgency_rule = UrgencyRule::High;
    changed.grouping = Grouping::Time { window_minutes: 15 };
    changed.auto_resolve = false;
    changed.updated_at = at(60);
    changed.created_at = at(999);
    let updated = s
        .update_service(changed.clone(), service_ev(a.id, EventKind::ServiceUpdated))
        .await
        .unwrap();
    let expected = Service {
        created_at: a.created_at,
        ..changed
    };
    assert_eq!(updated, expected);
    assert_eq!(s.service(a.id).await.unwrap(), expected);

    // Renaming onto a taken name is the same conflict, and changes nothing.
    let mut clash = expected.clone();
    clash.name = "payments".into();
    match s
        .update_service(clash, service_ev(a.id, EventKind::ServiceUpdated))
        .await
    {
        Err(StoreError::Conflict { constraint }) => assert_eq!(constraint, "services_name"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(s.service(a.id).await.unwrap(), expected);

    let ghost = new_service("ghost", Grouping::None, true);
    assert!(
        s.update_service(
            ghost.clone(),
            service_ev(ghost.id, EventKind::ServiceUpdated)
        )
        .await
        .unwrap_err()
        .is_not_found()
    );
    assert!(
        events_of(&s, SubjectType::Service, ghost.id)
            .await
            .is_empty()
    );
    assert_eq!(
        kinds(&events_of(&s, SubjectType::Service, a.id).await),
        vec![EventKind::ServiceCreated, EventKind::ServiceUpdated]
    );
}

pub async fn service_deletion_waits_for_open_alerts_and_cascades(s: Arc<dyn Store>) {
    let m = monitored(&s, "db", Grouping::None, true).await;
    let other = monitored(&s, "web", Grouping::None, true).await;
    let w = window(m.service.id, 600, 660, "upgrade");
    s.create_maintenance(
        w.clone(),
        service_ev(m.service.id, EventKind::MaintenanceScheduled),
    )
    .await
    .unwrap();
    let trig = m.trigger("disk", "disk full", mins(1));
    let ack = apply(&s, trig.clone()).await;
    assert_eq!(ack, opened(&trig, Some(trig.new_incident_id), true));
    let other_alert = apply(&s, other.trigger("disk", "disk full", mins(1))).await;

    let deleted = || service_ev(m.service.id, EventKind::ServiceDeleted);
    let refused = |r: StoreResult<()>| match r {
        Err(StoreError::Conflict { constraint }) => assert_eq!(constraint, "open_alerts"),
        other => panic!("expected open_alerts, got {other:?}"),
    };
    // Triggered and acknowledged alerts are open: the service stays, whole.
    refused(s.delete_service(m.service.id, deleted()).await);
    assert_eq!(
        apply(&s, m.acknowledge("disk", mins(2))).await.step,
        Step::Acknowledge
    );
    refused(s.delete_service(m.service.id, deleted()).await);
    assert_eq!(s.service(m.service.id).await.unwrap(), m.service);
    assert_eq!(
        s.list_integrations(m.service.id).await.unwrap(),
        vec![m.integration.clone()]
    );
    assert_eq!(
        s.list_maintenance(m.service.id, t0()).await.unwrap(),
        vec![w.clone()]
    );

    // Once resolved, the service goes with its integrations, windows and alerts.
    assert_eq!(
        apply(&s, m.resolve("disk", mins(3))).await.step,
        Step::Resolve
    );
    s.delete_service(m.service.id, deleted()).await.unwrap();
    assert!(s.service(m.service.id).await.unwrap_err().is_not_found());
    assert!(
        s.integration(m.integration.id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        s.integration_by_key(&m.key_hash)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(s.list_integrations(m.service.id).await.unwrap().is_empty());
    assert!(
        s.list_maintenance(m.service.id, t0())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(s.alert(trig.new_alert_id).await.unwrap_err().is_not_found());
    assert!(alerts_where(&s, of_service(m.service.id)).await.is_empty());

    // Its incident stays, without a service.
    let inc = s.incident(trig.new_incident_id).await.unwrap();
    assert_eq!(inc.service_id, None);
    assert_eq!((inc.number, inc.status), (1, IncidentStatus::Resolved));
    assert_eq!(
        incidents_where(&s, IncidentFilter::default()).await.len(),
        2
    );
    assert!(
        incidents_where(
            &s,
            IncidentFilter {
                service_id: Some(m.service.id),
                ..IncidentFilter::default()
            }
        )
        .await
        .is_empty()
    );

    // The other service is untouched.
    assert_eq!(s.service(other.service.id).await.unwrap(), other.service);
    assert_eq!(
        s.integration_by_key(&other.key_hash).await.unwrap(),
        other.integration
    );
    assert_eq!(
        s.alert(other_alert.alert_id.unwrap()).await.unwrap().status,
        AlertStatus::Triggered
    );

    assert!(
        s.delete_service(m.service.id, deleted())
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(
        kinds(&events_of(&s, SubjectType::Service, m.service.id).await),
        vec![
            EventKind::ServiceCreated,
            EventKind::MaintenanceScheduled,
            EventKind::ServiceDeleted
        ]
    );
}

pub async fn integrations_are_found_by_key_rotated_and_deleted(s: Arc<dyn Store>) {
    let svc = new_service("queue", Grouping::None, true);
    s.create_service(svc.clone(), service_ev(svc.id, EventKind::ServiceCreated))
        .await
        .unwrap();

    // For a missing service: NotFound, nothing written.
    let orphan = new_integration(ServiceId::new(t0(), rnd()), "lost");
    let oid = orphan.integration.id;
    assert!(
        s.create_integration(orphan, integration_ev(oid, EventKind::IntegrationCreated))
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(s.integration(oid).await.unwrap_err().is_not_found());
    assert!(
        events_of(&s, SubjectType::Integration, oid)
            .await
            .is_empty()
    );

    let mut a = new_integration(svc.id, "alertmanager");
    a.integration.kind = IntegrationKind::Alertmanager;
    let mut b = new_integration(svc.id, "heartbeat");
    b.integration.kind = IntegrationKind::Heartbeat;
    b.integration.rate_limit_per_minute = 0;
    b.integration.heartbeat_interval_secs = Some(300);
    b.integration.last_ping_at = Some(at(5));
    let aid = a.integration.id;
    let bid = b.integration.id;
    let created = s
        .create_integration(
            a.clone(),
            integration_ev(aid, EventKind::IntegrationCreated),
        )
        .await
        .unwrap();
    assert_eq!(created, a.integration);
    s.create_integration(
        b.clone(),
        integration_ev(bid, EventKind::IntegrationCreated),
    )
    .await
    .unwrap();
    assert_eq!(s.integration(aid).await.unwrap(), a.integration);
    assert_eq!(s.integration(bid).await.unwrap(), b.integration);
    assert_eq!(
        s.integration_by_key(&a.key_hash).await.unwrap(),
        a.integration
    );
    assert_eq!(
        s.integration_by_key(&b.key_hash).await.unwrap(),
        b.integration
    );
    assert!(
        s.integration_by_key(&key32())
            .await
            .unwrap_err()
            .is_not_found()
    );
    let mut listed = s.list_integrations(svc.id).await.unwrap();
    listed.sort_by_key(|i| i.id);
    let mut both = vec![a.integration.clone(), b.integration.clone()];
    both.sort_by_key(|i| i.id);
    assert_eq!(listed, both);
    assert!(
        s.list_integrations(ServiceId::new(t0(), rnd()))
            .await
            .unwrap()
            .is_empty()
    );

    // Two integrations never share a key.
    let mut clash = new_integration(svc.id, "clash");
    clash.key_hash = a.key_hash;
    let cid = clash.integration.id;
    assert!(
        matches!(
            s.create_integration(clash, integration_ev(cid, EventKind::IntegrationCreated))
                .await,
            Err(StoreError::Conflict { .. })
        ),
        "a duplicate key hash is a conflict"
    );
    assert!(
        events_of(&s, SubjectType::Integration, cid)
            .await
            .is_empty()
    );

    // Update changes name, rate limit and heartbeat interval; not kind, key or times.
    let mut changed = a.integration.clone();
    changed.name = "alertmanager-eu".into();
    changed.rate_limit_per_minute = 10;
    changed.heartbeat_interval_secs = Some(60);
    changed.kind = IntegrationKind::Generic;
    changed.key_prefix = "bogus".into();
    changed.created_at = at(99);
    let updated = s
        .update_integration(changed, integration_ev(aid, EventKind::IntegrationUpdated))
        .await
        .unwrap();
    let expected = Integration {
        name: "alertmanager-eu".into(),
        rate_limit_per_minute: 10,
        heartbeat_interval_secs: Some(60),
        ..a.integration.clone()
    };
    assert_eq!(updated, expected);
    assert_eq!(s.integration(aid).await.unwrap(), expected);
    let ghost = new_integration(svc.id, "ghost").integration;
    let gid = ghost.id;
    assert!(
        s.update_integration(ghost, integration_ev(gid, EventKind::IntegrationUpdated))
            .await
            .unwrap_err()
            .is_not_found()
    );

    // Rotation: the old key stops working at once, the new one works.
    let new_hash = key32();
    let rotated = s
        .rotate_integration_key(
            aid,
            "klxi_new",
            new_hash,
            at(300),
            integration_ev(aid, EventKind::IntegrationKeyRotated),
        )
        .await
        .unwrap();
    let expected = Integration {
        key_prefix: "klxi_new".into(),
        key_rotated_at: at(300),
        ..expected
    };
    assert_eq!(rotated, expected);
    assert!(
        s.integration_by_key(&a.key_hash)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(s.integration_by_key(&new_hash).await.unwrap(), expected);
    assert!(
        s.rotate_integration_key(
            gid,
            "klxi_x",
            key32(),
            at(301),
            integration_ev(gid, EventKind::IntegrationKeyRotated),
        )
        .await
        .unwrap_err()
        .is_not_found()
    );
    assert!(
        matches!(
            s.rotate_integration_key(
                aid,
                "klxi_b",
                b.key_hash,
                at(302),
                integration_ev(aid, EventKind::IntegrationKeyRotated),
            )
            .await,
            Err(StoreError::Conflict { .. })
        ),
        "rotating onto another integration's key is a conflict"
    );
    assert_eq!(s.integration_by_key(&new_hash).await.unwrap(), expected);
    assert_eq!(
        s.integration_by_key(&b.key_hash).await.unwrap(),
        b.integration
    );

    // Alerts outlive the integration that raised them.
    let via_b = Monitored {
        service: svc.clone(),
        integration: b.integration.clone(),
        key_hash: b.key_hash,
    };
    let trig = via_b.trigger("silence", "no heartbeat", mins(10));
    apply(&s, trig.clone()).await;
    assert_eq!(
        s.alert(trig.new_alert_id).await.unwrap().integration_id,
        Some(bid)
    );
    s.delete_integration(bid, integration_ev(bid, EventKind::IntegrationDeleted))
        .await
        .unwrap();
    let alert = s.alert(trig.new_alert_id).await.unwrap();
    assert_eq!(
        (alert.integration_id, alert.status),
        (None, AlertStatus::Triggered)
    );

    s.delete_integration(aid, integration_ev(aid, EventKind::IntegrationDeleted))
        .await
        .unwrap();
    assert!(s.integration(aid).await.unwrap_err().is_not_found());
    assert!(
        s.integration_by_key(&new_hash)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(s.list_integrations(svc.id).await.unwrap().is_empty());
    assert!(
        s.delete_integration(aid, integration_ev(aid, EventKind::IntegrationDeleted))
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(
        kinds(&events_of(&s, SubjectType::Integration, aid).await),
        vec![
            EventKind::IntegrationCreated,
            EventKind::IntegrationUpdated,
            EventKind::IntegrationKeyRotated,
            EventKind::IntegrationDeleted
        ]
    );
    assert!(
        events_of(&s, SubjectType::Integration, gid)
            .await
            .is_empty()
    );
}

pub async fn maintenance_windows_list_upcoming_and_delete_per_service(s: Arc<dyn Store>) {
    let a = monitored(&s, "a", Grouping::None, true).await;
    let b = monitored(&s, "b", Grouping::None, true).await;
    let (sa, sb) = (a.service.id, b.service.id);
    let past = window(sa, 0, 30, "past");
    let current = window(sa, 50, 90, "current");
    let future = window(sa, 120, 180, "future");
    let later = window(sa, 200, 260, "later");
    let elsewhere = window(sb, 50, 90, "other service");
    for w in [&later, &past, &future, &current, &elsewhere] {
        let created = s
            .create_maintenance(
                w.clone(),
                service_ev(w.service_id, EventKind::MaintenanceScheduled),
            )
            .await
            .unwrap();
        assert_eq!(&created, w);
    }
    let ghost = window(ServiceId::new(t0(), rnd()), 0, 10, "ghost");
    assert!(
        s.create_maintenance(
            ghost.clone(),
            service_ev(ghost.service_id, EventKind::MaintenanceScheduled)
        )
        .await
        .unwrap_err()
        .is_not_found()
    );

    // Only windows ending after `now`, soonest first, of that service.
    let list = |svc: ServiceId, m: i64| {
        let s = s.clone();
        async move { s.list_maintenance(svc, mins(m)).await.unwrap() }
    };
    assert_eq!(
        list(sa, -1).await,
        vec![past.clone(), current.clone(), future.clone(), later.clone()]
    );
    assert_eq!(
        list(sa, 60).await,
        vec![current.clone(), future.clone(), later.clone()]
    );
    assert_eq!(
        list(sa, 30).await,
        vec![current.clone(), future.clone(), later.clone()],
        "a window ending exactly now is over"
    );
    assert_eq!(list(sb, 60).await, vec![elsewhere.clone()]);
    assert!(list(sa, 300).await.is_empty());

    // Deleting needs the right service.
    assert!(
        s.delete_maintenance(
            sb,
            future.id,
            service_ev(sb, EventKind::MaintenanceCancelled)
        )
        .await
        .unwrap_err()
        .is_not_found()
    );
    assert_eq!(
        list(sa, 60).await,
        vec![current.clone(), future.clone(), later.clone()]
    );
    s.delete_maintenance(
        sa,
        future.id,
        service_ev(sa, EventKind::MaintenanceCancelled),
    )
    .await
    .unwrap();
    assert_eq!(list(sa, 60).await, vec![current.clone(), later.clone()]);
    assert!(
        s.delete_maintenance(
            sa,
            future.id,
            service_ev(sa, EventKind::MaintenanceCancelled)
        )
        .await
        .unwrap_err()
        .is_not_found()
    );
    assert_eq!(
        kinds(&events_of(&s, SubjectType::Service, sa).await),
        vec![
            EventKind::ServiceCreated,
            EventKind::MaintenanceScheduled,
            EventKind::MaintenanceScheduled,
            EventKind::MaintenanceScheduled,
            EventKind::MaintenanceScheduled,
            EventKind::MaintenanceCancelled
        ]
    );
    assert_eq!(
        kinds(&events_of(&s, SubjectType::Service, sb).await),
        vec![EventKind::ServiceCreated, EventKind::MaintenanceScheduled]
    );
}

/// What people call things: services and integrations by name, ignoring the case of ASCII
/// letters only (the same on both backends: PostgreSQL's `lower` folds `Ü`, SQLite's does not),
/// and incidents by number.
pub async fn names_and_numbers_find_services_integrations_and_incidents(s: Arc<dyn Store>) {
    let mut ids = Vec::new();
    for name in ["API", "api", "Über", "Payments"] {
        let svc = new_service(name, Grouping::None, true);
        s.create_service(svc.clone(), service_ev(svc.id, EventKind::ServiceCreated))
            .await
            .unwrap();
        ids.push(svc.id);
    }
    let both = sorted(vec![(ids[0], "API".to_owned()), (ids[1], "api".to_owned())]);
    for term in ["api", "API", "Api"] {
        assert_eq!(
            sorted(s.services_named(term).await.unwrap()),
            both,
            "{term}"
        );
    }
    let payments = vec![(ids[3], "Payments".to_owned())];
    assert_eq!(s.services_named("pAYMENTS").await.unwrap(), payments);
    assert_eq!(
        s.services_named("Über").await.unwrap(),
        vec![(ids[2], "Über".to_owned())]
    );
    assert!(s.services_named("über").await.unwrap().is_empty());
    assert!(s.services_named("Pay").await.unwrap().is_empty());

    // Integration names are unique nowhere: every one is found.
    let mut prom = Vec::new();
    for svc in [ids[0], ids[3]] {
        let i = new_integration(svc, "Prometheus");
        prom.push(i.integration.id);
        let e = integration_ev(i.integration.id, EventKind::IntegrationCreated);
        s.create_integration(i, e).await.unwrap();
    }
    let found: Vec<IntegrationId> = s
        .integrations_named("prometheus")
        .await
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(sorted(found), sorted(prom));

    // An incident by its number.
    let m = monitored(&s, "checkout", Grouping::None, true).await;
    apply(&s, m.trigger("disk", "disk full", at(1))).await;
    let incident = incidents_where(&s, IncidentFilter::default())
        .await
        .remove(0);
    assert_eq!(
        s.incident_id_by_number(incident.number).await.unwrap(),
        incident.id
    );
    let none = s.incident_id_by_number(incident.number + 1).await;
    assert!(none.unwrap_err().is_not_found());
}
