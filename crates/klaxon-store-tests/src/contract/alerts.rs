//! Signals, and the alerts and incidents they open.
use super::*;

pub async fn a_trigger_opens_an_alert_and_an_incident(s: Arc<dyn Store>) {
    let m = monitored(&s, "api", Grouping::None, true).await;
    let c = rich_content("p99 latency above 2s");
    let trig = m.trigger_with("latency", c.clone(), mins(1));
    let ack = apply(&s, trig.clone()).await;
    assert_eq!(ack, opened(&trig, Some(trig.new_incident_id), true));

    let alert = s.alert(trig.new_alert_id).await.unwrap();
    assert_eq!(
        alert,
        Alert {
            id: trig.new_alert_id,
            service_id: m.service.id,
            integration_id: Some(m.integration.id),
            incident_id: Some(trig.new_incident_id),
            dedup_key: "latency".into(),
            status: AlertStatus::Triggered,
            content: c.clone(),
            count: 1,
            in_maintenance: false,
            created_at: mins(1),
            last_seen_at: mins(1),
            acknowledged_at: None,
            resolved_at: None,
        }
    );
    assert_eq!(
        s.alert_payload(trig.new_alert_id).await.unwrap(),
        trig.signal.payload,
        "the event as sent is kept"
    );
    let incident = s.incident(trig.new_incident_id).await.unwrap();
    assert_eq!(
        incident,
        Incident {
            id: trig.new_incident_id,
            number: 1,
            title: c.summary.clone(),
            description: String::new(),
            status: IncidentStatus::Triggered,
            urgency: Urgency::High,
            severity: None,
            impact: None,
            priority: None,
            category: None,
            subcategory: None,
            reporter_id: None,
            service_id: Some(m.service.id),
            alert_count: 1,
            opened_by_alert: true,
            created_at: mins(1),
            impact_started_at: None,
            detected_at: Some(mins(1)),
            acknowledged_at: None,
            mitigated_at: None,
            resolved_at: None,
            closed_at: None,
            conference_url: None,
            chat_url: None,
            merged_into: None,
            is_drill: false,
        }
    );
    assert!(
        s.alert(AlertId::new(t0(), rnd()))
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        s.incident(IncidentId::new(t0(), rnd()))
            .await
            .unwrap_err()
            .is_not_found()
    );

    // Another key: another incident, numbered next; a warning is low urgency under the
    // severity-based rule.
    let disk = m.trigger_with("disk", content("disk 85% full", Severity::Warning), mins(2));
    let ack = apply(&s, disk.clone()).await;
    assert_eq!(ack, opened(&disk, Some(disk.new_incident_id), true));
    let second = s.incident(disk.new_incident_id).await.unwrap();
    assert_eq!(
        (second.number, second.urgency, second.title.as_str()),
        (2, Urgency::Low, "disk 85% full")
    );

    // The timelines.
    let alert_evs = events_of(&s, SubjectType::Alert, trig.new_alert_id).await;
    assert_eq!(kinds(&alert_evs), vec![EventKind::AlertTriggered]);
    assert_eq!(alert_evs[0].at, mins(1));
    let timeline = events_of(&s, SubjectType::Incident, trig.new_incident_id).await;
    assert_eq!(
        kinds(&timeline),
        vec![EventKind::IncidentTriggered, EventKind::IncidentAlertAdded]
    );
    assert!(timeline.iter().all(|e| e.at == mins(1)));
    assert_eq!(timeline[1].data["alert_id"], json!(trig.new_alert_id));
}

pub async fn triggers_for_an_open_alert_deduplicate(s: Arc<dyn Store>) {
    let m = monitored(&s, "cpu", Grouping::None, true).await;
    let first = m.trigger("cpu", "cpu 91%", mins(1));
    apply(&s, first.clone()).await;

    let again_content = content("cpu 97%", Severity::Error);
    let again = m.trigger_with("cpu", again_content.clone(), mins(3));
    let ack = apply(&s, again.clone()).await;
    assert_eq!(
        ack,
        SignalAck {
            step: Step::Deduplicate,
            alert_id: Some(first.new_alert_id),
            incident_id: Some(first.new_incident_id),
            incident_opened: false,
        }
    );
    let alert = s.alert(first.new_alert_id).await.unwrap();
    assert_eq!(alert.count, 2);
    assert_eq!(alert.content, again_content, "the newest content wins");
    assert_eq!(
        s.alert_payload(first.new_alert_id).await.unwrap(),
        again.signal.payload,
        "and so does the newest event as sent"
    );
    assert_ne!(first.signal.payload, again.signal.payload);
    assert_eq!(
        (alert.created_at, alert.last_seen_at, alert.status),
        (mins(1), mins(3), AlertStatus::Triggered)
    );
    // The ids offered for a new alert and incident were not used.
    assert!(
        s.alert(again.new_alert_id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        s.incident(again.new_incident_id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    let incident = s.incident(first.new_incident_id).await.unwrap();
    assert_eq!(
        (incident.alert_count, incident.title.as_str()),
        (1, "cpu 91%")
    );

    // An acknowledged alert still absorbs triggers, and stays acknowledged.
    assert_eq!(
        apply(&s, m.acknowledge("cpu", mins(4))).await.step,
        Step::Acknowledge
    );
    let ack = apply(&s, m.trigger("cpu", "cpu 99%", mins(5))).await;
    assert_eq!(
        (ack.step, ack.alert_id, ack.incident_opened),
        (Step::Deduplicate, Some(first.new_alert_id), false)
    );
    let alert = s.alert(first.new_alert_id).await.unwrap();
    assert_eq!(
        (alert.count, alert.status, alert.content.summary.as_str()),
        (3, AlertStatus::Acknowledged, "cpu 99%")
    );

    assert_eq!(alerts_where(&s, AlertFilter::default()).await.len(), 1);
    assert_eq!(
        incidents_where(&s, IncidentFilter::default()).await.len(),
        1
    );
    assert_eq!(
        kinds(&events_of(&s, SubjectType::Alert, first.new_alert_id).await),
        vec![
            EventKind::AlertTriggered,
            EventKind::AlertDeduplicated,
            EventKind::AlertAcknowledged,
            EventKind::AlertDeduplicated
        ]
    );
    assert_eq!(
        kinds(&events_of(&s, SubjectType::Incident, first.new_incident_id).await),
        vec![
            EventKind::IncidentTriggered,
            EventKind::IncidentAlertAdded,
            EventKind::IncidentAcknowledged
        ]
    );
}

pub async fn acknowledging_an_alert_acknowledges_its_incident(s: Arc<dyn Store>) {
    // Time grouping without a window: both alerts join one incident.
    let m = monitored(&s, "mq", Grouping::Time { window_minutes: 0 }, true).await;
    let a = m.trigger("a", "queue a backed up", mins(1));
    let b = m.trigger("b", "queue b backed up", mins(2));
    let acks = apply_all(&s, vec![a.clone(), b.clone()]).await;
    let inc = a.new_incident_id;
    assert_eq!(
        acks,
        vec![opened(&a, Some(inc), true), opened(&b, Some(inc), false)]
    );

    let ack = apply(&s, m.acknowledge("a", mins(3))).await;
    assert_eq!(
        ack,
        SignalAck {
            step: Step::Acknowledge,
            alert_id: Some(a.new_alert_id),
            incident_id: Some(inc),
            incident_opened: false,
        }
    );
    let alert = s.alert(a.new_alert_id).await.unwrap();
    assert_eq!(
        (alert.status, alert.acknowledged_at),
        (AlertStatus::Acknowledged, Some(mins(3)))
    );
    assert_eq!(
        s.alert(b.new_alert_id).await.unwrap().status,
        AlertStatus::Triggered
    );
    let incident = s.incident(inc).await.unwrap();
    assert_eq!(
        (incident.status, incident.acknowledged_at),
        (IncidentStatus::Acknowledged, Some(mins(3)))
    );

    // Acknowledging an acknowledged alert is ignored and changes nothing.
    let ack = apply(&s, m.acknowledge("a", mins(4))).await;
    assert_eq!((ack.step, ack.incident_opened), (Step::Ignore, false));
    assert_eq!(
        s.alert(a.new_alert_id).await.unwrap().acknowledged_at,
        Some(mins(3))
    );

    // The second alert's acknowledgement leaves the incident's first one standing.
    assert_eq!(
        apply(&s, m.acknowledge("b", mins(5))).await.step,
        Step::Acknowledge
    );
    assert_eq!(
        s.incident(inc).await.unwrap().acknowledged_at,
        Some(mins(3))
    );
    assert_eq!(
        kinds(&events_of(&s, SubjectType::Alert, a.new_alert_id).await),
        vec![EventKind::AlertTriggered, EventKind::AlertAcknowledged]
    );
    assert_eq!(
        kinds(&events_of(&s, SubjectType::Incident, inc).await),
        vec![
            EventKind::IncidentTriggered,
            EventKind::IncidentAlertAdded,
            EventKind::IncidentAlertAdded,
            EventKind::IncidentAcknowledged
        ]
    );
}

pub async fn signals_for_no_open_alert_are_ignored(s: Arc<dyn Store>) {
    let m = monitored(&s, "dns", Grouping::None, true).await;
    let known = m.trigger("known", "resolver down", mins(1));
    apply(&s, known.clone()).await;
    let alert_before = s.alert(known.new_alert_id).await.unwrap();
    let alert_evs = events_of(&s, SubjectType::Alert, known.new_alert_id).await;
    let incident_evs = events_of(&s, SubjectType::Incident, known.new_incident_id).await;

    let ignored = SignalAck {
        step: Step::Ignore,
        alert_id: None,
        incident_id: None,
        incident_opened: false,
    };
    for w in [
        m.acknowledge("unknown", mins(2)),
        m.resolve("unknown", mins(3)),
    ] {
        assert_eq!(apply(&s, w.clone()).await, ignored);
        assert!(s.alert(w.new_alert_id).await.unwrap_err().is_not_found());
        assert!(
            s.incident(w.new_incident_id)
                .await
                .unwrap_err()
                .is_not_found()
        );
        assert!(
            events_of(&s, SubjectType::Alert, w.new_alert_id)
                .await
                .is_empty()
        );
    }
    // Nothing was written.
    assert_eq!(
        alerts_where(&s, AlertFilter::default()).await,
        vec![alert_before.clone()]
    );
    assert_eq!(
        incidents_where(&s, IncidentFilter::default()).await.len(),
        1
    );
    assert_eq!(
        events_of(&s, SubjectType::Alert, known.new_alert_id).await,
        alert_evs
    );
    assert_eq!(
        events_of(&s, SubjectType::Incident, known.new_incident_id).await,
        incident_evs
    );

    // A resolved alert is no longer open: acknowledging or resolving it again is ignored.
    assert_eq!(
        apply(&s, m.resolve("known", mins(4))).await.step,
        Step::Resolve
    );
    let resolved = s.alert(known.new_alert_id).await.unwrap();
    assert_eq!(apply(&s, m.resolve("known", mins(5))).await, ignored);
    assert_eq!(apply(&s, m.acknowledge("known", mins(6))).await, ignored);
    assert_eq!(s.alert(known.new_alert_id).await.unwrap(), resolved);
    assert_eq!(resolved.resolved_at, Some(mins(4)));
    assert_eq!(resolved.acknowledged_at, None);
}

pub async fn an_incident_resolves_once_all_its_alerts_resolve(s: Arc<dyn Store>) {
    let m = monitored(&s, "auto", Grouping::Time { window_minutes: 0 }, true).await;
    let a = m.trigger("a", "replica lag", mins(1));
    let b = m.trigger("b", "replica down", mins(2));
    apply_all(&s, vec![a.clone(), b.clone()]).await;
    let inc = a.new_incident_id;
    assert_eq!(s.incident(inc).await.unwrap().alert_count, 2);

    let ack = apply(&s, m.resolve("a", mins(3))).await;
    assert_eq!(
        ack,
        SignalAck {
            step: Step::Resolve,
            alert_id: Some(a.new_alert_id),
            incident_id: Some(inc),
            incident_opened: false,
        }
    );
    let alert = s.alert(a.new_alert_id).await.unwrap();
    assert_eq!(
        (alert.status, alert.resolved_at),
        (AlertStatus::Resolved, Some(mins(3)))
    );
    let incident = s.incident(inc).await.unwrap();
    assert_eq!(
        (incident.status, incident.resolved_at),
        (IncidentStatus::Triggered, None),
        "one alert is still open"
    );

    // Acknowledged alerts resolve too; the last one resolves the incident.
    apply(&s, m.acknowledge("b", mins(4))).await;
    assert_eq!(apply(&s, m.resolve("b", mins(5))).await.step, Step::Resolve);
    let alert = s.alert(b.new_alert_id).await.unwrap();
    assert_eq!(
        (alert.status, alert.acknowledged_at, alert.resolved_at),
        (AlertStatus::Resolved, Some(mins(4)), Some(mins(5)))
    );
    let incident = s.incident(inc).await.unwrap();
    assert_eq!(
        (incident.status, incident.resolved_at),
        (IncidentStatus::Resolved, Some(mins(5)))
    );
    assert_eq!(
        kinds(&events_of(&s, SubjectType::Incident, inc).await),
        vec![
            EventKind::IncidentTriggered,
            EventKind::IncidentAlertAdded,
            EventKind::IncidentAlertAdded,
            EventKind::IncidentAcknowledged,
            EventKind::IncidentResolved
        ]
    );
    assert_eq!(
        kinds(&events_of(&s, SubjectType::Alert, a.new_alert_id).await),
        vec![EventKind::AlertTriggered, EventKind::AlertResolved]
    );

    // Without auto-resolve the incident waits for a person.
    let manual = monitored(&s, "manual", Grouping::Time { window_minutes: 0 }, false).await;
    let x = manual.trigger("x", "certificate expires soon", mins(6));
    apply(&s, x.clone()).await;
    assert_eq!(
        apply(&s, manual.resolve("x", mins(7))).await.step,
        Step::Resolve
    );
    assert_eq!(
        s.alert(x.new_alert_id).await.unwrap().status,
        AlertStatus::Resolved
    );
    let incident = s.incident(x.new_incident_id).await.unwrap();
    assert_eq!(
        (incident.status, incident.resolved_at),
        (IncidentStatus::Triggered, None)
    );
    assert_eq!(
        kinds(&events_of(&s, SubjectType::Incident, x.new_incident_id).await),
        vec![EventKind::IncidentTriggered, EventKind::IncidentAlertAdded]
    );
}

pub async fn a_trigger_after_resolve_opens_a_new_alert(s: Arc<dyn Store>) {
    let m = monitored(&s, "flappy", Grouping::Time { window_minutes: 0 }, true).await;
    let first = m.trigger("k", "link down", mins(1));
    apply(&s, first.clone()).await;
    apply(&s, m.resolve("k", mins(2))).await;
    assert_eq!(
        s.incident(first.new_incident_id).await.unwrap().status,
        IncidentStatus::Resolved
    );

    let again = m.trigger("k", "link down again", mins(3));
    let ack = apply(&s, again.clone()).await;
    assert_eq!(
        ack,
        opened(&again, Some(again.new_incident_id), true),
        "a new alert, and a new incident: the resolved one is not joined"
    );
    let alert = s.alert(again.new_alert_id).await.unwrap();
    assert_eq!(
        (alert.status, alert.count, alert.created_at),
        (AlertStatus::Triggered, 1, mins(3))
    );
    let old = s.alert(first.new_alert_id).await.unwrap();
    assert_eq!((old.status, old.count), (AlertStatus::Resolved, 1));
    assert_eq!(s.incident(again.new_incident_id).await.unwrap().number, 2);
    assert_eq!(
        s.incident(first.new_incident_id).await.unwrap().alert_count,
        1
    );
    assert_eq!(
        alerts_where(&s, of_service(m.service.id))
            .await
            .iter()
            .map(|a| a.id)
            .collect::<Vec<_>>(),
        vec![again.new_alert_id, first.new_alert_id]
    );
    // Later signals for the key concern the new alert.
    let ack = apply(&s, m.acknowledge("k", mins(4))).await;
    assert_eq!(
        (ack.step, ack.alert_id),
        (Step::Acknowledge, Some(again.new_alert_id))
    );
}

pub async fn dedup_keys_are_per_service(s: Arc<dyn Store>) {
    let a = monitored(&s, "a", Grouping::None, true).await;
    let b = monitored(&s, "b", Grouping::None, true).await;
    let ta = a.trigger("shared", "down in a", mins(1));
    let tb = b.trigger("shared", "down in b", mins(2));
    assert_eq!(
        apply(&s, ta.clone()).await,
        opened(&ta, Some(ta.new_incident_id), true)
    );
    assert_eq!(
        apply(&s, tb.clone()).await,
        opened(&tb, Some(tb.new_incident_id), true)
    );
    let alert_a = s.alert(ta.new_alert_id).await.unwrap();
    let alert_b = s.alert(tb.new_alert_id).await.unwrap();
    assert_eq!(
        (alert_a.service_id, alert_a.integration_id),
        (a.service.id, Some(a.integration.id))
    );
    assert_eq!(
        (alert_b.service_id, alert_b.integration_id),
        (b.service.id, Some(b.integration.id))
    );
    assert_eq!(
        s.incident(tb.new_incident_id).await.unwrap().number,
        2,
        "incident numbers are global"
    );

    // Resolving in one service leaves the other's alert open.
    let ack = apply(&s, a.resolve("shared", mins(3))).await;
    assert_eq!(
        (ack.step, ack.alert_id),
        (Step::Resolve, Some(ta.new_alert_id))
    );
    assert_eq!(
        s.alert(tb.new_alert_id).await.unwrap().status,
        AlertStatus::Triggered
    );
    assert_eq!(
        s.incident(tb.new_incident_id).await.unwrap().status,
        IncidentStatus::Triggered
    );
    let ack = apply(&s, b.trigger("shared", "still down in b", mins(4))).await;
    assert_eq!(
        (ack.step, ack.alert_id),
        (Step::Deduplicate, Some(tb.new_alert_id))
    );
}

pub async fn time_grouping_joins_the_open_incident_within_its_window(s: Arc<dyn Store>) {
    let m = monitored(&s, "grouped", Grouping::Time { window_minutes: 10 }, true).await;
    let a = m.trigger("a", "first", mins(1));
    let b = m.trigger("b", "second", mins(6));
    let c = m.trigger("c", "third", mins(12));
    let d = m.trigger("d", "fourth", mins(15));
    let i1 = a.new_incident_id;
    let i2 = c.new_incident_id;
    assert_eq!(apply(&s, a.clone()).await, opened(&a, Some(i1), true));
    assert_eq!(
        apply(&s, b.clone()).await,
        opened(&b, Some(i1), false),
        "5 minutes later: joins"
    );
    assert_eq!(
        apply(&s, c.clone()).await,
        opened(&c, Some(i2), true),
        "11 minutes after the incident opened: a new one"
    );
    assert_eq!(
        apply(&s, d.clone()).await,
        opened(&d, Some(i2), false),
        "joins the newest incident within the window"
    );
    let first = s.incident(i1).await.unwrap();
    assert_eq!(
        (first.alert_count, first.title.as_str(), first.number),
        (2, "first", 1)
    );
    let second = s.incident(i2).await.unwrap();
    assert_eq!((second.alert_count, second.number), (2, 2));
    assert!(
        s.incident(b.new_incident_id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(s.alert(b.new_alert_id).await.unwrap().incident_id, Some(i1));
    let in_first = alerts_where(
        &s,
        AlertFilter {
            incident_id: Some(i1),
            ..AlertFilter::default()
        },
    )
    .await;
    assert_eq!(
        in_first.iter().map(|a| a.id).collect::<Vec<_>>(),
        vec![b.new_alert_id, a.new_alert_id]
    );
    assert_eq!(
        kinds(&events_of(&s, SubjectType::Incident, i1).await),
        vec![
            EventKind::IncidentTriggered,
            EventKind::IncidentAlertAdded,
            EventKind::IncidentAlertAdded
        ]
    );

    // Another service's incidents are never joined.
    let other = monitored(&s, "other", Grouping::Time { window_minutes: 0 }, true).await;
    let o = other.trigger("a", "elsewhere", mins(16));
    assert_eq!(
        apply(&s, o.clone()).await,
        opened(&o, Some(o.new_incident_id), true)
    );
}

pub async fn content_grouping_joins_on_equal_field_values(s: Arc<dyn Store>) {
    let all = Grouping::Content {
        fields: vec![GroupField::Source, GroupField::Detail("labels.job".into())],
        aggregate: Aggregate::All,
        window_minutes: 0,
    };
    let m = monitored(&s, "content-all", all, true).await;
    let c = |summary: &str, source: Option<&str>, job: &str| {
        let mut c = content(summary, Severity::Error);
        c.source = source.map(Into::into);
        c.details = json!({"labels": {"job": job}});
        c
    };
    let a = m.trigger_with("a", c("disk", Some("db1"), "postgres"), mins(1));
    let b = m.trigger_with("b", c("disk", Some("db2"), "postgres"), mins(2));
    let x = m.trigger_with("x", c("cpu", Some("db1"), "postgres"), mins(3));
    let n = m.trigger_with("n", c("disk", None, "postgres"), mins(4));
    let acks = apply_all(&s, vec![a.clone(), b.clone(), x.clone(), n.clone()]).await;
    assert_eq!(
        acks,
        vec![
            opened(&a, Some(a.new_incident_id), true),
            opened(&b, Some(b.new_incident_id), true),
            opened(&x, Some(a.new_incident_id), false),
            opened(&n, Some(n.new_incident_id), true),
        ],
        "joins only when every field is equal; a missing value never matches"
    );
    assert_eq!(s.incident(a.new_incident_id).await.unwrap().alert_count, 2);
    assert_eq!(s.incident(b.new_incident_id).await.unwrap().alert_count, 1);

    let any = Grouping::Content {
        fields: vec![GroupField::Source, GroupField::Component],
        aggregate: Aggregate::Any,
        window_minutes: 30,
    };
    let m = monitored(&s, "content-any", any, true).await;
    let c = |source: &str, component: &str| {
        let mut c = content("trouble", Severity::Critical);
        c.source = Some(source.into());
        c.component = Some(component.into());
        c
    };
    let p = m.trigger_with("p", c("db1", "api"), mins(1));
    let q = m.trigger_with("q", c("db9", "api"), mins(5));
    let r = m.trigger_with("r", c("db9", "web"), mins(40));
    let t = m.trigger_with("t", c("db1", "web"), mins(41));
    let acks = apply_all(&s, vec![p.clone(), q.clone(), r.clone(), t.clone()]).await;
    assert_eq!(
        acks,
        vec![
            opened(&p, Some(p.new_incident_id), true),
            // the component matches
            opened(&q, Some(p.new_incident_id), false),
            // the first incident is out of the window; its values are the first alert's
            opened(&r, Some(r.new_incident_id), true),
            opened(&t, Some(r.new_incident_id), false),
        ]
    );
}

pub async fn alerts_during_maintenance_open_no_incident(s: Arc<dyn Store>) {
    let m = monitored(&s, "maint", Grouping::Time { window_minutes: 0 }, true).await;
    let other = monitored(&s, "other", Grouping::None, true).await;
    s.create_maintenance(
        window(m.service.id, 10, 70, "upgrade"),
        service_ev(m.service.id, EventKind::MaintenanceScheduled),
    )
    .await
    .unwrap();
    s.create_maintenance(
        window(other.service.id, 100, 200, "other's upgrade"),
        service_ev(other.service.id, EventKind::MaintenanceScheduled),
    )
    .await
    .unwrap();

    // Before the window: an incident as usual.
    let early = m.trigger("early", "before", mins(5));
    assert_eq!(
        apply(&s, early.clone()).await,
        opened(&early, Some(early.new_incident_id), true)
    );

    // During it: recorded, but no incident, not even the open one grouping would join.
    let during = m.trigger("upgrade", "during", mins(20));
    assert_eq!(
        apply(&s, during.clone()).await,
        opened(&during, None, false)
    );
    let alert = s.alert(during.new_alert_id).await.unwrap();
    assert_eq!(
        (alert.in_maintenance, alert.incident_id, alert.status),
        (true, None, AlertStatus::Triggered)
    );
    assert!(
        s.incident(during.new_incident_id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(
        s.incident(early.new_incident_id).await.unwrap().alert_count,
        1
    );
    assert!(!s.alert(early.new_alert_id).await.unwrap().in_maintenance);

    // It deduplicates and acknowledges like any alert.
    let ack = apply(&s, m.trigger("upgrade", "during, again", mins(30))).await;
    assert_eq!(
        ack,
        SignalAck {
            step: Step::Deduplicate,
            alert_id: Some(during.new_alert_id),
            incident_id: None,
            incident_opened: false,
        }
    );
    let ack = apply(&s, m.acknowledge("upgrade", mins(31))).await;
    assert_eq!(
        (ack.step, ack.alert_id, ack.incident_id),
        (Step::Acknowledge, Some(during.new_alert_id), None)
    );
    let alert = s.alert(during.new_alert_id).await.unwrap();
    assert_eq!(
        (alert.count, alert.status, alert.in_maintenance),
        (2, AlertStatus::Acknowledged, true)
    );
    assert_eq!(
        s.incident(early.new_incident_id).await.unwrap().status,
        IncidentStatus::Triggered,
        "the maintenance alert is not part of the open incident"
    );
    assert_eq!(
        kinds(&events_of(&s, SubjectType::Alert, during.new_alert_id).await),
        vec![
            EventKind::AlertTriggered,
            EventKind::AlertDeduplicated,
            EventKind::AlertAcknowledged
        ]
    );

    // After the window: back to normal (time grouping joins the open incident).
    let after = m.trigger("after", "after", mins(80));
    assert_eq!(
        apply(&s, after.clone()).await,
        opened(&after, Some(early.new_incident_id), false)
    );
    assert!(!s.alert(after.new_alert_id).await.unwrap().in_maintenance);

    // Another service's window does not apply here.
    let late = m.trigger("late", "late", mins(150));
    let ack = apply(&s, late.clone()).await;
    assert_eq!(ack.incident_id, Some(early.new_incident_id));
    assert!(!s.alert(late.new_alert_id).await.unwrap().in_maintenance);

    assert_eq!(
        incidents_where(&s, IncidentFilter::default()).await.len(),
        1
    );
}

pub async fn one_batch_with_one_new_key_opens_one_alert(s: Arc<dyn Store>) {
    let m = monitored(&s, "storm", Grouping::None, true).await;
    let storm: Vec<SignalWrite> = (0..6)
        .map(|i| m.trigger("storm", &format!("storm {i}"), at(60 + i)))
        .collect();
    let acks = apply_all(&s, storm.clone()).await;
    let first = &storm[0];
    assert_eq!(acks[0], opened(first, Some(first.new_incident_id), true));
    for ack in &acks[1..] {
        assert_eq!(
            *ack,
            SignalAck {
                step: Step::Deduplicate,
                alert_id: Some(first.new_alert_id),
                incident_id: Some(first.new_incident_id),
                incident_opened: false,
            }
        );
    }
    let alerts = alerts_where(&s, of_service(m.service.id)).await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        (
            alerts[0].count,
            alerts[0].content.summary.as_str(),
            alerts[0].last_seen_at
        ),
        (6, "storm 5", at(65))
    );
    let incidents = incidents_where(&s, IncidentFilter::default()).await;
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0].alert_count, 1);

    // A whole life in one batch: each signal sees the ones before it.
    let flap = vec![
        m.trigger("flap", "flap 1", mins(2)),
        m.acknowledge("flap", mins(2)),
        m.resolve("flap", mins(2)),
        m.trigger("flap", "flap 2", mins(2)),
        m.trigger("flap", "flap 3", mins(2)),
    ];
    let acks = apply_all(&s, flap.clone()).await;
    assert_eq!(
        acks.iter().map(|a| a.step).collect::<Vec<_>>(),
        vec![
            Step::Open,
            Step::Acknowledge,
            Step::Resolve,
            Step::Open,
            Step::Deduplicate
        ]
    );
    assert_eq!(acks[3].alert_id, Some(flap[3].new_alert_id));
    assert_eq!(acks[4].alert_id, Some(flap[3].new_alert_id));
    assert_eq!(
        s.alert(flap[0].new_alert_id).await.unwrap().status,
        AlertStatus::Resolved
    );
    let reopened = s.alert(flap[3].new_alert_id).await.unwrap();
    assert_eq!(
        (reopened.status, reopened.count),
        (AlertStatus::Triggered, 2)
    );
    assert_eq!(
        s.incident(flap[0].new_incident_id).await.unwrap().status,
        IncidentStatus::Resolved
    );
    assert_eq!(
        incidents_where(&s, IncidentFilter::default()).await.len(),
        3
    );

    // A signal that fails (its service does not exist) does not sink its batch, and the
    // others are applied exactly once.
    let mut bad = m.trigger("bad", "nowhere", mins(3));
    bad.service_id = ServiceId::new(t0(), rnd());
    let ok1 = m.trigger("ok1", "fine", mins(3));
    let ok2 = m.trigger("ok2", "fine", mins(3));
    let results = s
        .commit_batch(
            [ok1.clone(), bad.clone(), ok2.clone()]
                .into_iter()
                .map(|w| Write::Signal(Box::new(w)))
                .collect(),
        )
        .await;
    assert_eq!(results.len(), 3);
    assert!(
        matches!(
            results[0],
            Ok(WriteAck::Signal(SignalAck {
                step: Step::Open,
                ..
            }))
        ),
        "{:?}",
        results[0]
    );
    assert!(
        matches!(results[1], Err(StoreError::NotFound)),
        "{:?}",
        results[1]
    );
    assert!(
        matches!(
            results[2],
            Ok(WriteAck::Signal(SignalAck {
                step: Step::Open,
                ..
            }))
        ),
        "{:?}",
        results[2]
    );
    assert!(s.alert(bad.new_alert_id).await.unwrap_err().is_not_found());
    for ok in [&ok1, &ok2] {
        let alert = s.alert(ok.new_alert_id).await.unwrap();
        assert_eq!(alert.count, 1);
        assert_eq!(
            events_of(&s, SubjectType::Alert, ok.new_alert_id)
                .await
                .len(),
            1
        );
    }
}

/// Many callers triggering one new key at once through group commit: one alert, one incident.
pub async fn concurrent_triggers_for_one_key_open_one_alert(s: Arc<dyn Store>) {
    let m = monitored(&s, "herd", Grouping::None, true).await;
    let (gc, writer) = GroupCommit::spawn(s.clone(), 8);
    let n = 40;
    let mut tasks = Vec::new();
    for i in 0..n {
        let gc = gc.clone();
        let w = m.trigger("herd", &format!("herd {i}"), mins(1));
        tasks.push(tokio::spawn(async move {
            match gc.write(Write::Signal(Box::new(w))).await {
                Ok(WriteAck::Signal(ack)) => ack,
                other => panic!("expected a signal ack, got {other:?}"),
            }
        }));
    }
    let mut acks = Vec::new();
    for t in tasks {
        acks.push(t.await.unwrap());
    }
    gc.shutdown();
    writer.await.unwrap();
    let opens: Vec<_> = acks.iter().filter(|a| a.step == Step::Open).collect();
    assert_eq!(opens.len(), 1, "exactly one trigger opens the alert");
    assert!(opens[0].incident_opened);
    assert_eq!(
        acks.iter().filter(|a| a.step == Step::Deduplicate).count(),
        n - 1
    );
    assert!(
        acks.iter()
            .all(|a| a.alert_id == opens[0].alert_id && a.incident_id == opens[0].incident_id)
    );
    let alerts = alerts_where(&s, of_service(m.service.id)).await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].count, u32::try_from(n).unwrap());
    let incidents = incidents_where(&s, IncidentFilter::default()).await;
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0].alert_count, 1);
}

pub async fn alerts_and_incidents_list_newest_first_with_filters(s: Arc<dyn Store>) {
    let a = monitored(&s, "a", Grouping::None, true).await;
    let b = monitored(&s, "b", Grouping::None, true).await;
    let mut wa = Vec::new();
    for i in 0..5 {
        let w = a.trigger(&format!("a{i}"), &format!("a{i}"), mins(i + 1));
        apply(&s, w.clone()).await;
        wa.push(w);
    }
    let mut wb = Vec::new();
    for i in 0..2 {
        let w = b.trigger(&format!("b{i}"), &format!("b{i}"), mins(i + 10));
        apply(&s, w.clone()).await;
        wb.push(w);
    }
    apply(&s, a.resolve("a1", mins(20))).await;
    apply(&s, a.acknowledge("a3", mins(21))).await;

    let alert_ids = |ws: &[&SignalWrite]| ws.iter().map(|w| w.new_alert_id).collect::<Vec<_>>();
    let incident_ids =
        |ws: &[&SignalWrite]| ws.iter().map(|w| w.new_incident_id).collect::<Vec<_>>();
    let got_alerts = |v: Vec<Alert>| v.into_iter().map(|a| a.id).collect::<Vec<_>>();
    let got_incidents = |v: Vec<Incident>| v.into_iter().map(|i| i.id).collect::<Vec<_>>();

    // Alerts, newest first.
    assert_eq!(
        got_alerts(alerts_where(&s, AlertFilter::default()).await),
        alert_ids(&[&wb[1], &wb[0], &wa[4], &wa[3], &wa[2], &wa[1], &wa[0]])
    );
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let page = s
            .list_alerts(&of_service(a.service.id), after, 2)
            .await
            .unwrap();
        pages.push(got_alerts(page.items));
        match page.next {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    assert_eq!(
        pages,
        vec![
            alert_ids(&[&wa[4], &wa[3]]),
            alert_ids(&[&wa[2], &wa[1]]),
            alert_ids(&[&wa[0]])
        ]
    );
    let exact = s
        .list_alerts(&of_service(a.service.id), None, 5)
        .await
        .unwrap();
    assert_eq!((exact.items.len(), exact.next), (5, None));
    let status = |st: AlertStatus, svc: Option<ServiceId>| AlertFilter {
        service_id: svc,
        status: Some(st),
        ..AlertFilter::default()
    };
    assert_eq!(
        got_alerts(alerts_where(&s, status(AlertStatus::Resolved, None)).await),
        alert_ids(&[&wa[1]])
    );
    assert_eq!(
        got_alerts(alerts_where(&s, status(AlertStatus::Acknowledged, None)).await),
        alert_ids(&[&wa[3]])
    );
    assert_eq!(
        got_alerts(alerts_where(&s, status(AlertStatus::Triggered, Some(a.service.id))).await),
        alert_ids(&[&wa[4], &wa[2], &wa[0]])
    );
    assert!(
        alerts_where(&s, status(AlertStatus::Resolved, Some(b.service.id)))
            .await
            .is_empty()
    );
    assert_eq!(
        got_alerts(
            alerts_where(
                &s,
                AlertFilter {
                    incident_id: Some(wa[2].new_incident_id),
                    ..AlertFilter::default()
                }
            )
            .await
        ),
        alert_ids(&[&wa[2]])
    );

    // Incidents, newest first.
    assert_eq!(
        got_incidents(incidents_where(&s, IncidentFilter::default()).await),
        incident_ids(&[&wb[1], &wb[0], &wa[4], &wa[3], &wa[2], &wa[1], &wa[0]])
    );
    let of_a = IncidentFilter {
        service_id: Some(a.service.id),
        ..IncidentFilter::default()
    };
    let first = s.list_incidents(&of_a, None, 3).await.unwrap();
    assert_eq!(
        got_incidents(first.items),
        incident_ids(&[&wa[4], &wa[3], &wa[2]])
    );
    let rest = s.list_incidents(&of_a, first.next, 3).await.unwrap();
    assert_eq!(rest.next, None);
    assert_eq!(got_incidents(rest.items), incident_ids(&[&wa[1], &wa[0]]));
    let status = |st: IncidentStatus, svc: Option<ServiceId>| IncidentFilter {
        service_id: svc,
        status: Some(st),
        ..IncidentFilter::default()
    };
    assert_eq!(
        got_incidents(incidents_where(&s, status(IncidentStatus::Resolved, None)).await),
        incident_ids(&[&wa[1]])
    );
    assert_eq!(
        got_incidents(incidents_where(&s, status(IncidentStatus::Acknowledged, None)).await),
        incident_ids(&[&wa[3]])
    );
    assert_eq!(
        got_incidents(
            incidents_where(&s, status(IncidentStatus::Triggered, Some(b.service.id))).await
        ),
        incident_ids(&[&wb[1], &wb[0]])
    );
    // Numbers follow the order incidents opened in.
    let numbers: Vec<i64> = incidents_where(&s, IncidentFilter::default())
        .await
        .iter()
        .map(|i| i.number)
        .collect();
    assert_eq!(numbers, vec![7, 6, 5, 4, 3, 2, 1]);
}
