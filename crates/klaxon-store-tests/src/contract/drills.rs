//! Drills: a drill is written with its incident; each scenario step is taken once (its alert
//! counted on the incident, its resolution applied), none after the drill ends; a drill ends
//! once with its scorecard; scenarios stack on the revision they read, and their drills keep
//! the scenario's name after it is deleted.
use super::*;
use klaxon_domain::drill::{self, ScoreFacts, Targets};
use klaxon_domain::ids::{DrillId, DrillScenarioId};
use klaxon_domain::incident::Severity as Sev;

fn scenario_rec(name: &str, revision: i32) -> ScenarioRecord {
    let definition = drill::parse(&format!(
        "name: {name}\ntitle: Checkout fails over\nservice: checkout\nseverity: SEV2\nsteps:\n  \
         - {{at: 0, alert: {{summary: p99 high, dedup_key: lat}}}}\n  - {{at: 5, resolve: lat}}"
    ))
    .unwrap();
    ScenarioRecord {
        id: DrillScenarioId::new(t0(), rnd()),
        definition,
        revision,
        created_at: t0(),
        updated_by: None,
        updated_at: t0(),
    }
}

fn drill_incident(service: ServiceId) -> Incident {
    Incident {
        id: IncidentId::new(t0(), rnd()),
        number: 0,
        title: "DRILL: Checkout fails over".into(),
        description: String::new(),
        status: IncidentStatus::Triggered,
        urgency: Urgency::High,
        severity: Some(Sev::Sev2),
        impact: None,
        priority: None,
        category: None,
        subcategory: None,
        reporter_id: None,
        service_id: Some(service),
        alert_count: 0,
        opened_by_alert: false,
        created_at: t0(),
        impact_started_at: None,
        detected_at: Some(t0()),
        acknowledged_at: None,
        mitigated_at: None,
        resolved_at: None,
        closed_at: None,
        conference_url: None,
        chat_url: None,
        merged_into: None,
        is_drill: true,
    }
}

fn drill_alert(service: ServiceId, incident: IncidentId, key: &str) -> Alert {
    Alert {
        id: AlertId::new(t0(), rnd()),
        service_id: service,
        integration_id: None,
        incident_id: Some(incident),
        dedup_key: key.into(),
        status: AlertStatus::Triggered,
        content: content("p99 high", Severity::Critical),
        count: 1,
        in_maintenance: false,
        created_at: t0(),
        last_seen_at: t0(),
        acknowledged_at: None,
        resolved_at: None,
    }
}

pub async fn drills_take_each_step_once_and_end_once(s: Arc<dyn Store>) {
    let m = monitored(&s, "checkout", Grouping::None, false).await;
    // Scenarios: created, saved over the revision read only, unique by name.
    let mut sc = scenario_rec("failover", 1);
    let saved = || {
        ev(
            SubjectType::DrillScenario,
            "x",
            EventKind::DrillScenarioSaved,
            json!({}),
        )
    };
    s.create_scenario(&sc, saved()).await.unwrap();
    let twin = scenario_rec("failover", 1);
    assert!(matches!(
        s.create_scenario(&twin, saved()).await,
        Err(StoreError::Conflict { .. })
    ));
    sc.revision = 3;
    assert!(matches!(
        s.update_scenario(&sc, saved()).await,
        Err(StoreError::Conflict { .. })
    ));
    sc.revision = 2;
    s.update_scenario(&sc, saved()).await.unwrap();
    assert_eq!(s.scenario_named("failover").await.unwrap().revision, 2);

    // The drill, written with its incident.
    let incident = drill_incident(m.service.id);
    let iid = incident.id;
    let d = DrillRecord {
        id: DrillId::new(t0(), rnd()),
        incident_id: iid,
        scenario_id: Some(sc.id),
        scenario_name: Some("failover".into()),
        definition: sc.definition.clone(),
        started_by: None,
        started_at: t0(),
        ended_at: None,
        ended_by: None,
        scorecard: None,
        incident_number: 0,
        incident_title: String::new(),
        incident_status: String::new(),
    };
    s.declare_incident(NewIncident {
        incident,
        roles: vec![],
        job: None,
        events: vec![],
        drill: Some(NewDrill {
            drill: d.clone(),
            job: new_job("drill.step", Some("drill:x"), t0()),
        }),
    })
    .await
    .unwrap();
    let got = s.drill_of_incident(iid).await.unwrap().unwrap();
    assert_eq!(got.id, d.id);
    assert_eq!(got.incident_title, "DRILL: Checkout fails over");
    assert_eq!(got.incident_status, "triggered");
    assert_eq!(got.scorecard, None);

    // Step 0: its alert, once.
    let a = drill_alert(m.service.id, iid, "drill:x:lat");
    let alerted = || {
        vec![ev(
            SubjectType::Incident,
            iid,
            EventKind::IncidentAlertAdded,
            json!({}),
        )]
    };
    assert!(
        s.drill_step(
            d.id,
            0,
            t0(),
            DrillWrite::Alert(Box::new(a.clone())),
            alerted()
        )
        .await
        .unwrap()
    );
    let again = drill_alert(m.service.id, iid, "drill:x:lat");
    assert!(
        !s.drill_step(d.id, 0, t0(), DrillWrite::Alert(Box::new(again)), alerted())
            .await
            .unwrap()
    );
    assert_eq!(s.incident(iid).await.unwrap().alert_count, 1);
    let on_incident = alerts_where(
        &s,
        AlertFilter {
            incident_id: Some(iid),
            ..AlertFilter::default()
        },
    )
    .await;
    assert_eq!(on_incident.len(), 1);
    let added = events_of(&s, SubjectType::Incident, iid).await;
    assert_eq!(kinds(&added), [EventKind::IncidentAlertAdded]);

    // Step 1: resolves it.
    assert!(
        s.drill_step(d.id, 1, mins(5), DrillWrite::Resolve(a.id), vec![])
            .await
            .unwrap()
    );
    assert_eq!(s.alert(a.id).await.unwrap().status, AlertStatus::Resolved);

    // Ends once, with its scorecard and one event; no step after.
    let card = drill::score(
        t0(),
        &Targets::default(),
        &ScoreFacts::default(),
        mins(10),
        true,
    );
    let ended = || ev(SubjectType::Incident, iid, EventKind::DrillEnded, json!({}));
    assert!(
        s.end_drill(d.id, mins(10), None, &card, ended())
            .await
            .unwrap()
    );
    assert!(
        !s.end_drill(d.id, mins(11), None, &card, ended())
            .await
            .unwrap()
    );
    assert!(
        !s.drill_step(d.id, 2, mins(12), DrillWrite::Nothing, alerted())
            .await
            .unwrap()
    );
    let evs = events_of(&s, SubjectType::Incident, iid).await;
    assert_eq!(
        kinds(&evs),
        [EventKind::IncidentAlertAdded, EventKind::DrillEnded]
    );
    let d = s.drill(d.id).await.unwrap();
    assert_eq!(d.ended_at, Some(mins(10)));
    assert_eq!(d.scorecard, Some(card));

    // Deleting the scenario keeps its drills, under its name.
    s.delete_scenario(
        sc.id,
        ev(
            SubjectType::DrillScenario,
            sc.id,
            EventKind::DrillScenarioDeleted,
            json!({}),
        ),
    )
    .await
    .unwrap();
    let kept = s.list_drills(Some("failover"), None, 10).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].scenario_id, None);
    assert_eq!(s.list_drills(None, None, 10).await.unwrap().len(), 1);
    assert!(
        s.list_drills(None, Some(d.id), 10)
            .await
            .unwrap()
            .is_empty()
    );
}
