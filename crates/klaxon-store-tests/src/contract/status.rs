//! Status pages: pages, components and their intervals, public incidents and maintenances.
use klaxon_domain::ids::{ComponentId, StatusIncidentId, StatusPageId, StatusUpdateId};
use klaxon_domain::status::{
    ComponentStatus as C, Impact, IncidentStatus, MaintenanceStatus, PublicStatus,
};

use super::*;

pub(super) fn code() -> String {
    let mut b = [0u8; 12];
    getrandom::fill(&mut b).unwrap();
    klaxon_domain::status::code(b)
}

pub(super) fn page_ev(id: StatusPageId, kind: EventKind) -> NewEvent {
    ev(SubjectType::StatusPage, id, kind, json!({}))
}

pub(super) fn new_page(slug: &str, hostname: Option<&str>) -> StatusPage {
    StatusPage {
        id: StatusPageId::new(t0(), rnd()),
        code: code(),
        name: format!("Page {slug}"),
        slug: slug.into(),
        hostname: hostname.map(Into::into),
        logo_url: None,
        accent_color: "#1f6feb".into(),
        time_zone: "Europe/Berlin".into(),
        footer_links: vec![FooterLink {
            label: "Home".into(),
            url: "https://example.com".into(),
        }],
        visibility: Visibility::Public,
        password_hash: None,
        partial_outage_weight: 0.3,
        revision: 1,
        created_at: t0(),
        updated_at: t0(),
    }
}

pub(super) fn new_component(
    page: StatusPageId,
    name: &str,
    group: Option<ComponentId>,
    pos: i64,
) -> Component {
    Component {
        id: ComponentId::new(t0(), rnd()),
        code: code(),
        page_id: page,
        group_id: group,
        is_group: false,
        name: name.into(),
        description: Some(format!("the {name}")),
        position: pos,
        status: C::Operational,
        only_show_if_degraded: false,
        show_uptime: true,
        service_ids: Vec::new(),
        follow_checks: false,
        created_at: t0(),
        updated_at: t0(),
    }
}

pub(super) async fn revision(s: &Arc<dyn Store>, page: StatusPageId) -> i64 {
    s.status_page(page).await.unwrap().revision
}

pub(super) async fn add(s: &Arc<dyn Store>, c: &Component) -> Component {
    s.create_component(
        c.clone(),
        page_ev(c.page_id, EventKind::StatusComponentAdded),
    )
    .await
    .unwrap()
}

pub async fn status_pages_components_and_intervals(s: Arc<dyn Store>) {
    let p = new_page("acme", Some("status.acme.test"));
    let got = s
        .create_status_page(p.clone(), page_ev(p.id, EventKind::StatusPageCreated))
        .await
        .unwrap();
    assert_eq!(got, p);
    // Two pages without a host name are fine; a taken slug or host name is a named conflict.
    let q = new_page("beta", None);
    s.create_status_page(q.clone(), page_ev(q.id, EventKind::StatusPageCreated))
        .await
        .unwrap();
    s.create_status_page(
        new_page("gamma", None),
        page_ev(q.id, EventKind::StatusPageCreated),
    )
    .await
    .unwrap();
    for (dup, constraint) in [
        (new_page("acme", None), "status_pages_slug"),
        (
            new_page("delta", Some("status.acme.test")),
            "status_pages_hostname",
        ),
    ] {
        match s
            .create_status_page(dup.clone(), page_ev(dup.id, EventKind::StatusPageCreated))
            .await
        {
            Err(StoreError::Conflict { constraint: c }) => assert_eq!(c, constraint),
            other => panic!("expected a conflict, got {other:?}"),
        }
        assert!(
            events_of(&s, SubjectType::StatusPage, dup.id)
                .await
                .is_empty()
        );
    }
    let names: Vec<String> = s
        .list_status_pages()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.slug)
        .collect();
    assert_eq!(names, ["acme", "beta", "gamma"]);
    assert_eq!(
        s.status_pages_named("PAGE ACME").await.unwrap(),
        vec![(p.id, "Page acme".to_owned())]
    );
    assert_eq!(s.status_pages_named("beta").await.unwrap().len(), 1);

    // A group with two members, and a component of its own; listed group first, then members.
    let svc = new_service("checkout", Grouping::None, true);
    s.create_service(svc.clone(), service_ev(svc.id, EventKind::ServiceCreated))
        .await
        .unwrap();
    let mut group = new_component(p.id, "Core", None, 1);
    group.is_group = true;
    add(&s, &group).await;
    let mut api = new_component(p.id, "API", Some(group.id), 2);
    api.service_ids = vec![svc.id];
    let api = add(&s, &api).await;
    assert_eq!(api.service_ids, vec![svc.id]);
    let web = add(&s, &new_component(p.id, "Web", Some(group.id), 1)).await;
    let cdn = add(&s, &new_component(p.id, "CDN", None, 0)).await;
    let order: Vec<String> = s
        .list_components(p.id)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(order, ["CDN", "Core", "Web", "API"]);
    let found = s.components_of_services(&[svc.id]).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, api.id);
    assert!(s.list_components(q.id).await.unwrap().is_empty());

    // A status change closes the open interval and opens another, and moves the revision.
    let before = revision(&s, p.id).await;
    let mut changed = api.clone();
    changed.status = C::PartialOutage;
    changed.updated_at = mins(10);
    changed.service_ids = Vec::new();
    let changed = s
        .update_component(changed, page_ev(p.id, EventKind::StatusComponentUpdated))
        .await
        .unwrap();
    assert_eq!(changed.status, C::PartialOutage);
    assert!(changed.service_ids.is_empty());
    assert!(revision(&s, p.id).await > before);
    let mut back = changed.clone();
    back.status = C::Operational;
    back.updated_at = mins(33);
    s.update_component(back, page_ev(p.id, EventKind::StatusComponentUpdated))
        .await
        .unwrap();
    let api_intervals: Vec<(C, Timestamp, Option<Timestamp>)> = s
        .status_intervals(p.id, t0())
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.component_id == api.id)
        .map(|i| (i.status, i.from, i.until))
        .collect();
    assert_eq!(
        api_intervals,
        [
            (C::Operational, t0(), Some(mins(10))),
            (C::PartialOutage, mins(10), Some(mins(33))),
            (C::Operational, mins(33), None),
        ]
    );
    // Intervals that ended before `since` are left out.
    let later = s.status_intervals(p.id, mins(20)).await.unwrap();
    assert!(later.iter().all(|i| i.until.is_none_or(|u| u > mins(20))));
    assert_eq!(later.iter().filter(|i| i.component_id == api.id).count(), 2);

    // Page edits come back and bump the revision; revisions list every page.
    let mut edited = s.status_page(p.id).await.unwrap();
    edited.name = "Acme status".into();
    edited.visibility = Visibility::Password;
    edited.password_hash = Some("$argon2id$x".into());
    edited.partial_outage_weight = 0.5;
    edited.updated_at = mins(40);
    let edited = s
        .update_status_page(edited, page_ev(p.id, EventKind::StatusPageUpdated))
        .await
        .unwrap();
    assert_eq!(edited.visibility, Visibility::Password);
    assert_eq!(edited.partial_outage_weight, 0.5);
    let revs = s.status_revisions().await.unwrap();
    assert_eq!(revs.len(), 3);
    assert!(revs.contains(&(p.id, edited.revision)));

    // Deleting a group takes its members along.
    s.delete_component(group.id, page_ev(p.id, EventKind::StatusComponentRemoved))
        .await
        .unwrap();
    let left: Vec<ComponentId> = s
        .list_components(p.id)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(left, [cdn.id]);
    assert!(s.component(web.id).await.unwrap_err().is_not_found());
    assert!(
        s.delete_component(web.id, page_ev(p.id, EventKind::StatusComponentRemoved))
            .await
            .unwrap_err()
            .is_not_found()
    );
    // A component on an unknown page is not found, not half-written.
    let stray = new_component(StatusPageId::new(t0(), rnd()), "Stray", None, 0);
    assert!(
        s.create_component(
            stray.clone(),
            page_ev(p.id, EventKind::StatusComponentAdded)
        )
        .await
        .unwrap_err()
        .is_not_found()
    );
    s.delete_status_page(p.id, page_ev(p.id, EventKind::StatusPageDeleted))
        .await
        .unwrap();
    assert!(s.component(cdn.id).await.unwrap_err().is_not_found());
    assert_eq!(s.list_status_pages().await.unwrap().len(), 2);
}

pub(super) fn new_incident(page: StatusPageId, name: &str, at: Timestamp) -> StatusIncident {
    StatusIncident {
        id: StatusIncidentId::new(at, rnd()),
        code: code(),
        page_id: page,
        incident_id: None,
        maintenance: false,
        name: name.into(),
        status: PublicStatus::Incident(IncidentStatus::Investigating),
        impact: Impact::Major,
        scheduled_for: None,
        scheduled_until: None,
        next_update_at: Some(at + SignedDuration::from_mins(30)),
        remind_minutes: None,
        reminded: false,
        component_ids: Vec::new(),
        created_at: at,
        updated_at: at,
        started_at: at,
        monitoring_at: None,
        resolved_at: None,
        postmortem: None,
    }
}

pub(super) fn new_update(
    i: &StatusIncident,
    body: &str,
    changes: Vec<ComponentChange>,
) -> StatusUpdate {
    StatusUpdate {
        id: StatusUpdateId::new(i.updated_at, rnd()),
        code: code(),
        status_incident_id: i.id,
        status: i.status,
        body: body.into(),
        changes,
        next_update_at: i.next_update_at,
        created_at: i.updated_at,
    }
}

pub(super) fn change(c: &Component, old: C, new: C) -> ComponentChange {
    ComponentChange {
        component_id: c.id,
        code: c.code.clone(),
        name: c.name.clone(),
        old_status: old,
        new_status: new,
    }
}

pub async fn status_incidents_apply_changes_and_keep_their_updates(s: Arc<dyn Store>) {
    let p = new_page("acme", None);
    s.create_status_page(p.clone(), page_ev(p.id, EventKind::StatusPageCreated))
        .await
        .unwrap();
    let api = add(&s, &new_component(p.id, "API", None, 1)).await;
    let web = add(&s, &new_component(p.id, "Web", None, 2)).await;

    // Published with the API down: the component moves in the same transaction.
    let mut i = new_incident(p.id, "Logins fail", mins(5));
    i.component_ids = vec![web.id, api.id];
    let first = new_update(
        &i,
        "We are looking into failed logins.",
        vec![change(&api, C::Operational, C::MajorOutage)],
    );
    let before = revision(&s, p.id).await;
    let events = vec![page_ev(p.id, EventKind::StatusIncidentPublished)];
    let created = s
        .create_status_incident(i.clone(), first, events)
        .await
        .unwrap();
    assert_eq!(created.component_ids, vec![api.id, web.id]);
    assert_eq!(s.component(api.id).await.unwrap().status, C::MajorOutage);
    assert!(revision(&s, p.id).await > before);

    // An update: monitoring, the API back.
    let mut next = created.clone();
    next.status = PublicStatus::Incident(IncidentStatus::Monitoring);
    next.monitoring_at = Some(mins(20));
    next.updated_at = mins(20);
    next.next_update_at = None;
    next.component_ids = vec![api.id];
    let u = new_update(
        &next,
        "A fix is out; we are watching.",
        vec![change(&api, C::MajorOutage, C::Operational)],
    );
    let events = vec![page_ev(p.id, EventKind::StatusIncidentUpdated)];
    s.add_status_update(next, u, events).await.unwrap();
    let full = s.status_incident(i.id).await.unwrap();
    assert_eq!(
        full.incident.status,
        PublicStatus::Incident(IncidentStatus::Monitoring)
    );
    assert_eq!(full.incident.component_ids, vec![api.id]);
    assert_eq!(full.incident.monitoring_at, Some(mins(20)));
    let bodies: Vec<&str> = full.updates.iter().map(|u| u.body.as_str()).collect();
    assert_eq!(
        bodies,
        [
            "We are looking into failed logins.",
            "A fix is out; we are watching."
        ]
    );
    assert_eq!(full.updates[0].changes[0].new_status, C::MajorOutage);
    assert_eq!(full.updates[1].status.as_str(), "monitoring");
    assert_eq!(s.component(api.id).await.unwrap().status, C::Operational);
    let downs: Vec<(Timestamp, Option<Timestamp>)> = s
        .status_intervals(p.id, t0())
        .await
        .unwrap()
        .into_iter()
        .filter(|x| x.status == C::MajorOutage)
        .map(|x| (x.from, x.until))
        .collect();
    assert_eq!(downs, [(mins(5), Some(mins(20)))]);

    // A maintenance, listed by its window: newest first.
    let mut m = new_incident(p.id, "Database upgrade", mins(30));
    m.maintenance = true;
    m.status = PublicStatus::Maintenance(MaintenanceStatus::Scheduled);
    m.impact = Impact::Maintenance;
    m.scheduled_for = Some(mins(120));
    m.scheduled_until = Some(mins(180));
    m.remind_minutes = Some(60);
    m.component_ids = vec![web.id];
    let first = new_update(&m, "We will upgrade the database.", Vec::new());
    let events = vec![page_ev(p.id, EventKind::StatusIncidentPublished)];
    s.create_status_incident(m.clone(), first, events)
        .await
        .unwrap();
    let listed: Vec<String> = s
        .list_status_incidents(p.id, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|w| w.incident.name)
        .collect();
    assert_eq!(listed, ["Database upgrade", "Logins fail"]);
    assert_eq!(s.list_status_incidents(p.id, 1).await.unwrap().len(), 1);
    let read = s.status_incident(m.id).await.unwrap();
    assert_eq!(
        read.updates[0].status,
        PublicStatus::Maintenance(MaintenanceStatus::Scheduled)
    );

    // Due: the reminder an hour before, then the start, then the end.
    assert!(s.due_maintenances(mins(59)).await.unwrap().is_empty());
    assert_eq!(s.due_maintenances(mins(60)).await.unwrap().len(), 1);
    let mut reminded = read.incident.clone();
    reminded.reminded = true;
    reminded.updated_at = mins(60);
    let u = new_update(&reminded, "Reminder: starts in an hour.", Vec::new());
    s.add_status_update(reminded, u, Vec::new()).await.unwrap();
    assert!(s.due_maintenances(mins(61)).await.unwrap().is_empty());
    let due = s.due_maintenances(mins(120)).await.unwrap();
    assert_eq!(due.len(), 1);
    let mut started = due[0].clone();
    started.status = PublicStatus::Maintenance(MaintenanceStatus::InProgress);
    started.updated_at = mins(120);
    let u = new_update(
        &started,
        "Started.",
        vec![change(&web, C::Operational, C::UnderMaintenance)],
    );
    s.add_status_update(started, u, Vec::new()).await.unwrap();
    assert!(s.due_maintenances(mins(179)).await.unwrap().is_empty());
    assert_eq!(s.due_maintenances(mins(180)).await.unwrap().len(), 1);

    assert!(
        s.status_incidents_of(IncidentId::new(t0(), rnd()))
            .await
            .unwrap()
            .is_empty()
    );
    // A Klaxon incident that does not exist: not found, nothing written.
    let mut stray = new_incident(p.id, "Stray", mins(1));
    stray.incident_id = Some(IncidentId::new(t0(), rnd()));
    let u = new_update(&stray, "x", Vec::new());
    assert!(
        s.create_status_incident(stray.clone(), u, Vec::new())
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        s.status_incident(stray.id)
            .await
            .unwrap_err()
            .is_not_found()
    );

    s.delete_status_incident(i.id, page_ev(p.id, EventKind::StatusIncidentDeleted))
        .await
        .unwrap();
    assert!(s.status_incident(i.id).await.unwrap_err().is_not_found());
    assert_eq!(s.list_status_incidents(p.id, 10).await.unwrap().len(), 1);
}
