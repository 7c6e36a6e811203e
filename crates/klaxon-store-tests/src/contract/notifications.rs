//! Claiming, finishing and deferring notifications, and incidents moved by hand.
use super::*;

pub async fn claims_hand_out_due_notifications_cancel_moot_ones_and_fail_abandoned_ones(
    s: Arc<dyn Store>,
) {
    let ada = person(&s, "ada@example.com").await;
    let mail = create_method(
        &s,
        &new_method(ada.id, ContactKind::Email, "ada@example.com"),
    )
    .await;
    let m = monitored(&s, "api", Grouping::None, true).await;
    let (wa, wb) = (m.trigger("a", "a", mins(0)), m.trigger("b", "b", mins(0)));
    apply_all(&s, vec![wa.clone(), wb.clone()]).await;
    let (a, b) = (wa.new_incident_id, wb.new_incident_id);
    let n1 = new_notification(&mail, Some(a), "a:now", mins(1));
    let n2 = new_notification(&mail, Some(a), "a:later", mins(10));
    let n3 = new_notification(&mail, Some(b), "b:now", mins(1));
    let n4 = new_notification(&mail, Some(b), "b:later", mins(10));
    assert!(
        s.apply_escalation_step(escalation_step(a, 0, vec![n1.clone(), n2.clone()], None))
            .await
            .unwrap()
    );
    assert!(
        s.apply_escalation_step(escalation_step(b, 0, vec![n3.clone(), n4.clone()], None))
            .await
            .unwrap()
    );
    let n5 = queue(&s, new_notification(&mail, None, "test:1", mins(1))).await;

    // Nothing is due before its time.
    assert_eq!(
        s.claim_notifications(mins(0), mins(1), 10).await.unwrap(),
        Claimed::default()
    );

    // B is acknowledged: its pending notifications are moot.
    s.set_incident_status(
        b,
        IncidentStatus::Acknowledged,
        mins(2),
        ev(
            SubjectType::Incident,
            b,
            EventKind::IncidentAcknowledged,
            json!({}),
        ),
    )
    .await
    .unwrap();
    let claimed = s.claim_notifications(mins(2), mins(3), 10).await.unwrap();
    assert_eq!((claimed.cancelled, claimed.abandoned), (2, 0));
    assert_eq!(
        sorted(claimed.due.iter().map(|n| n.id).collect()),
        sorted(vec![n1.id, n5.id])
    );
    for n in &claimed.due {
        assert_eq!(
            (n.status, n.attempts, n.run_at),
            (NotificationStatus::Sending, 1, mins(3))
        );
        assert_eq!(&s.notification(n.id).await.unwrap(), n);
    }
    for n in [&n3, &n4] {
        let stored = s.notification(n.id).await.unwrap();
        assert_eq!(
            (stored.status, stored.attempts),
            (NotificationStatus::Cancelled, 0)
        );
        assert_eq!(
            note_events(&s, &stored).await,
            vec![EventKind::NotificationCancelled]
        );
    }
    let later = s.notification(n2.id).await.unwrap();
    assert_eq!(
        (later.status, later.attempts, later.run_at),
        (NotificationStatus::Pending, 0, mins(10))
    );

    // n1's send begins (n5's is about to).
    assert!(s.start_sending(&[n1.id], mins(3), mins(2)).await.unwrap());

    // Claimed ones are not handed out again while their claim runs.
    assert_eq!(
        s.claim_notifications(mins(2), mins(3), 10).await.unwrap(),
        Claimed::default()
    );
    assert!(
        s.finish_notification(
            n5.id,
            SendResult::Sent { at: mins(2) },
            note_ev(&n5, EventKind::NotificationSent)
        )
        .await
        .unwrap()
    );

    // n1's sender stopped: once its claim runs out, its outcome is unknown; it fails.
    let claimed = s.claim_notifications(mins(3), mins(4), 10).await.unwrap();
    assert_eq!((claimed.cancelled, claimed.abandoned), (0, 1));
    assert!(claimed.due.is_empty());
    let failed = s.notification(n1.id).await.unwrap();
    assert_eq!(
        (failed.status, failed.attempts),
        (NotificationStatus::Failed, 1)
    );
    assert!(
        failed.last_error.as_deref().unwrap().contains("unknown"),
        "{:?}",
        failed.last_error
    );
    assert_eq!(
        note_events(&s, &failed).await,
        vec![EventKind::NotificationFailed]
    );
    assert_eq!(
        s.notification(n5.id).await.unwrap().status,
        NotificationStatus::Sent
    );

    // Later: only the delayed one is due; the failed one never comes back.
    let claimed = s.claim_notifications(mins(20), mins(21), 10).await.unwrap();
    assert_eq!((claimed.cancelled, claimed.abandoned), (0, 0));
    assert_eq!(
        claimed.due.iter().map(|n| n.id).collect::<Vec<_>>(),
        vec![n2.id]
    );
    assert!(
        s.finish_notification(
            n2.id,
            SendResult::Sent { at: mins(20) },
            note_ev(&claimed.due[0], EventKind::NotificationSent)
        )
        .await
        .unwrap()
    );
    assert_eq!(
        s.claim_notifications(mins(60), mins(61), 10).await.unwrap(),
        Claimed::default()
    );
    assert_eq!(
        s.notification(n1.id).await.unwrap().status,
        NotificationStatus::Failed
    );

    // Resolving makes pending notifications moot too.
    let n6 = new_notification(&mail, Some(a), "a:resolved", mins(70));
    assert!(
        s.apply_escalation_step(escalation_step(a, 1, vec![n6.clone()], None))
            .await
            .unwrap()
    );
    s.set_incident_status(
        a,
        IncidentStatus::Resolved,
        mins(65),
        ev(
            SubjectType::Incident,
            a,
            EventKind::IncidentResolved,
            json!({}),
        ),
    )
    .await
    .unwrap();
    let claimed = s.claim_notifications(mins(80), mins(81), 10).await.unwrap();
    assert_eq!(
        (claimed.due.len(), claimed.cancelled, claimed.abandoned),
        (0, 1, 0)
    );
    assert_eq!(
        s.notification(n6.id).await.unwrap().status,
        NotificationStatus::Cancelled
    );
}

pub async fn finishing_a_notification_records_sent_retry_and_failed(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let mut hook = new_method(ada.id, ContactKind::Webhook, "https://hooks.example.com/a");
    hook.secret = Some("whsec_x".into());
    let hook = create_method(&s, &hook).await;
    let a = queue(&s, new_notification(&hook, None, "t:a", at(0))).await;
    let b = queue(&s, new_notification(&hook, None, "t:b", at(0))).await;
    let c = queue(&s, new_notification(&hook, None, "t:c", at(0))).await;
    let claimed = s.claim_notifications(at(0), at(60), 10).await.unwrap();
    assert_eq!(claimed.due.len(), 3);

    // Sent.
    assert!(
        s.finish_notification(
            a.id,
            SendResult::Sent { at: at(5) },
            note_ev(&a, EventKind::NotificationSent)
        )
        .await
        .unwrap()
    );
    let sent = s.notification(a.id).await.unwrap();
    assert_eq!(
        (sent.status, sent.sent_at, sent.last_error, sent.attempts),
        (NotificationStatus::Sent, Some(at(5)), None, 1)
    );

    // Retry: pending again at the given time, with the error.
    assert!(
        s.finish_notification(
            b.id,
            SendResult::Retry {
                at: at(30),
                error: "503 from provider".into()
            },
            note_ev(&b, EventKind::NotificationRetrying)
        )
        .await
        .unwrap()
    );
    let retrying = s.notification(b.id).await.unwrap();
    assert_eq!(
        (
            retrying.status,
            retrying.run_at,
            retrying.last_error.as_deref(),
            retrying.sent_at
        ),
        (
            NotificationStatus::Pending,
            at(30),
            Some("503 from provider"),
            None
        )
    );
    assert!(
        s.claim_notifications(at(29), at(89), 10)
            .await
            .unwrap()
            .due
            .is_empty()
    );
    let claimed = s.claim_notifications(at(30), at(90), 10).await.unwrap();
    assert_eq!(claimed.due.len(), 1);
    assert_eq!(
        (
            claimed.due[0].id,
            claimed.due[0].attempts,
            claimed.due[0].run_at
        ),
        (b.id, 2, at(90))
    );
    assert!(s.start_sending(&[b.id], at(90), at(30)).await.unwrap());

    // Failed.
    assert!(
        s.finish_notification(
            c.id,
            SendResult::Failed {
                error: "400 bad address".into()
            },
            note_ev(&c, EventKind::NotificationFailed)
        )
        .await
        .unwrap()
    );
    let failed = s.notification(c.id).await.unwrap();
    assert_eq!(
        (failed.status, failed.last_error.as_deref(), failed.sent_at),
        (NotificationStatus::Failed, Some("400 bad address"), None)
    );

    // Finishing what is no longer sending changes nothing and writes no event.
    let before = (
        s.notification(a.id).await.unwrap(),
        s.notification(c.id).await.unwrap(),
    );
    assert!(
        !s.finish_notification(
            a.id,
            SendResult::Failed {
                error: "late".into()
            },
            note_ev(&a, EventKind::NotificationFailed)
        )
        .await
        .unwrap()
    );
    assert!(
        !s.finish_notification(
            c.id,
            SendResult::Retry {
                at: at(100),
                error: "late".into()
            },
            note_ev(&c, EventKind::NotificationRetrying)
        )
        .await
        .unwrap()
    );
    assert_eq!(
        (
            s.notification(a.id).await.unwrap(),
            s.notification(c.id).await.unwrap()
        ),
        before
    );
    // b's claim runs out while its sender is silent: it fails, and the late answer is ignored.
    let claimed = s.claim_notifications(at(90), at(150), 10).await.unwrap();
    assert_eq!((claimed.abandoned, claimed.due.len()), (1, 0));
    assert!(
        !s.finish_notification(
            b.id,
            SendResult::Sent { at: at(91) },
            note_ev(&b, EventKind::NotificationSent)
        )
        .await
        .unwrap()
    );
    let abandoned = s.notification(b.id).await.unwrap();
    assert_eq!(
        (abandoned.status, abandoned.sent_at),
        (NotificationStatus::Failed, None)
    );
    assert!(
        !s.finish_notification(
            NotificationId::new(t0(), rnd()),
            SendResult::Sent { at: at(91) },
            user_ev(ada.id, EventKind::NotificationSent)
        )
        .await
        .unwrap()
    );

    // Each notification's story, on its user's timeline (test notifications have no incident).
    assert_eq!(
        note_events(&s, &a).await,
        vec![EventKind::NotificationQueued, EventKind::NotificationSent]
    );
    assert_eq!(
        note_events(&s, &b).await,
        vec![
            EventKind::NotificationQueued,
            EventKind::NotificationRetrying,
            EventKind::NotificationFailed
        ]
    );
    assert_eq!(
        note_events(&s, &c).await,
        vec![EventKind::NotificationQueued, EventKind::NotificationFailed]
    );
    assert_eq!(
        kinds(&events_of(&s, SubjectType::User, ada.id).await)
            .iter()
            .filter(|k| **k == EventKind::NotificationSent)
            .count(),
        1
    );
}

/// Several senders claiming at once never hold the same notification.
pub async fn concurrent_claims_never_share_a_notification(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let mail = create_method(
        &s,
        &new_method(ada.id, ContactKind::Email, "ada@example.com"),
    )
    .await;
    let n = 100;
    for i in 0..n {
        queue(
            &s,
            new_notification(&mail, None, &format!("bulk:{i}"), at(0)),
        )
        .await;
    }
    let mut senders = Vec::new();
    for _ in 0..8 {
        let s = s.clone();
        senders.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let claimed = s.claim_notifications(at(1), at(61), 7).await.unwrap();
                assert!(claimed.due.len() <= 7);
                assert_eq!((claimed.cancelled, claimed.abandoned), (0, 0));
                if claimed.due.is_empty() {
                    break mine;
                }
                for note in claimed.due {
                    assert_eq!(note.attempts, 1);
                    let e = note_ev(&note, EventKind::NotificationSent);
                    assert!(
                        s.finish_notification(note.id, SendResult::Sent { at: at(2) }, e)
                            .await
                            .unwrap()
                    );
                    mine.push(note.id);
                }
            }
        }));
    }
    let mut all = Vec::new();
    for t in senders {
        all.extend(t.await.unwrap());
    }
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), n);
    assert_eq!(unique.len(), n);
    let stored = s
        .list_notifications(None, Some(ada.id), None, 1000)
        .await
        .unwrap();
    assert_eq!(stored.len(), n);
    assert!(
        stored
            .iter()
            .all(|x| x.status == NotificationStatus::Sent && x.attempts == 1)
    );

    // Claimers racing to fail abandoned notifications and cancel moot ones: each is failed or
    // cancelled once, with one event.
    let m = monitored(&s, "api", Grouping::None, true).await;
    let w = m.trigger("cpu", "cpu", at(0));
    apply(&s, w.clone()).await;
    let inc = w.new_incident_id;
    let moot: Vec<_> = (0..20)
        .map(|i| new_notification(&mail, Some(inc), &format!("moot:{i}"), at(500)))
        .collect();
    assert!(
        s.apply_escalation_step(escalation_step(inc, 0, moot.clone(), None))
            .await
            .unwrap()
    );
    for i in 0..20 {
        queue(
            &s,
            new_notification(&mail, None, &format!("lost:{i}"), at(0)),
        )
        .await;
    }
    let lost = s.claim_notifications(at(100), at(160), 100).await.unwrap();
    assert_eq!(lost.due.len(), 20);
    let ids: Vec<_> = lost.due.iter().map(|n| n.id).collect();
    assert!(s.start_sending(&ids, at(160), at(100)).await.unwrap());
    s.set_incident_status(
        inc,
        IncidentStatus::Resolved,
        at(170),
        ev(
            SubjectType::Incident,
            inc,
            EventKind::IncidentResolved,
            json!({}),
        ),
    )
    .await
    .unwrap();
    let mut claimers = Vec::new();
    for _ in 0..8 {
        let s = s.clone();
        claimers.push(tokio::spawn(async move {
            s.claim_notifications(at(200), at(260), 100).await.unwrap()
        }));
    }
    let (mut cancelled, mut abandoned) = (0, 0);
    for t in claimers {
        let c = t.await.unwrap();
        assert!(c.due.is_empty());
        cancelled += c.cancelled;
        abandoned += c.abandoned;
    }
    assert_eq!((cancelled, abandoned), (20, 20));
    let timeline = events_of(&s, SubjectType::Incident, inc).await;
    assert_eq!(
        timeline
            .iter()
            .filter(|e| e.kind == EventKind::NotificationCancelled)
            .count(),
        20
    );
    let failed = s
        .events(SubjectType::User, &ada.id.to_string(), None, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == EventKind::NotificationFailed)
        .count();
    assert_eq!(failed, 20);
}

pub async fn incidents_are_acknowledged_and_resolved_by_hand(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let m = monitored(&s, "api", Grouping::Time { window_minutes: 60 }, false).await;
    let w1 = m.trigger("k1", "one", mins(1));
    let w2 = m.trigger("k2", "two", mins(2));
    let w3 = m.trigger("k3", "three", mins(3));
    for w in [&w1, &w2, &w3] {
        apply(&s, w.clone()).await;
    }
    apply(&s, m.resolve("k3", mins(4))).await;
    let inc = w1.new_incident_id;
    assert_eq!(s.incident(inc).await.unwrap().alert_count, 3);
    let by_ada = |kind: EventKind| {
        NewEvent::new(
            SubjectType::Incident,
            inc,
            mins(5),
            Actor::User(ada.id),
            kind,
            json!({}),
        )
    };

    // Acknowledging takes the triggered alerts along.
    let acked = s
        .set_incident_status(
            inc,
            IncidentStatus::Acknowledged,
            mins(5),
            by_ada(EventKind::IncidentAcknowledged),
        )
        .await
        .unwrap();
    assert_eq!(
        (acked.status, acked.acknowledged_at, acked.resolved_at),
        (IncidentStatus::Acknowledged, Some(mins(5)), None)
    );
    assert_eq!(s.incident(inc).await.unwrap(), acked);
    for w in [&w1, &w2] {
        let a = s.alert(w.new_alert_id).await.unwrap();
        assert_eq!(
            (a.status, a.acknowledged_at),
            (AlertStatus::Acknowledged, Some(mins(5)))
        );
        let evs = events_of(&s, SubjectType::Alert, w.new_alert_id).await;
        let last = evs.last().unwrap();
        assert_eq!(
            (last.kind, last.at, &last.actor),
            (EventKind::AlertAcknowledged, mins(5), &Actor::User(ada.id))
        );
        assert_eq!(last.data["incident_id"], json!(inc));
    }
    let resolved_alert = s.alert(w3.new_alert_id).await.unwrap();
    assert_eq!(
        (resolved_alert.status, resolved_alert.acknowledged_at),
        (AlertStatus::Resolved, None)
    );
    assert_eq!(
        kinds(&events_of(&s, SubjectType::Alert, w3.new_alert_id).await),
        vec![EventKind::AlertTriggered, EventKind::AlertResolved]
    );
    conflict(
        s.set_incident_status(
            inc,
            IncidentStatus::Acknowledged,
            mins(6),
            by_ada(EventKind::IncidentAcknowledged),
        )
        .await,
        "incident_status",
    );

    // Resolving takes every open alert along.
    let resolved = s
        .set_incident_status(
            inc,
            IncidentStatus::Resolved,
            mins(7),
            by_ada(EventKind::IncidentResolved),
        )
        .await
        .unwrap();
    assert_eq!(
        (
            resolved.status,
            resolved.acknowledged_at,
            resolved.resolved_at
        ),
        (IncidentStatus::Resolved, Some(mins(5)), Some(mins(7)))
    );
    for w in [&w1, &w2] {
        let a = s.alert(w.new_alert_id).await.unwrap();
        assert_eq!(
            (a.status, a.resolved_at),
            (AlertStatus::Resolved, Some(mins(7)))
        );
        assert_eq!(
            kinds(&events_of(&s, SubjectType::Alert, w.new_alert_id).await),
            vec![
                EventKind::AlertTriggered,
                EventKind::AlertAcknowledged,
                EventKind::AlertResolved
            ]
        );
    }
    assert_eq!(
        s.alert(w3.new_alert_id).await.unwrap().resolved_at,
        Some(mins(4))
    );

    // A resolved incident is neither acknowledged nor resolved again; nothing is written.
    let timeline = events_of(&s, SubjectType::Incident, inc).await;
    conflict(
        s.set_incident_status(
            inc,
            IncidentStatus::Acknowledged,
            mins(8),
            by_ada(EventKind::IncidentAcknowledged),
        )
        .await,
        "incident_status",
    );
    conflict(
        s.set_incident_status(
            inc,
            IncidentStatus::Resolved,
            mins(8),
            by_ada(EventKind::IncidentResolved),
        )
        .await,
        "incident_status",
    );
    assert_eq!(s.incident(inc).await.unwrap(), resolved);
    assert_eq!(events_of(&s, SubjectType::Incident, inc).await, timeline);
    assert_eq!(
        kinds(&timeline[timeline.len() - 2..]),
        vec![EventKind::IncidentAcknowledged, EventKind::IncidentResolved]
    );
    assert_eq!(timeline.last().unwrap().actor, Actor::User(ada.id));

    // A triggered incident resolves directly, its alerts with it.
    let w4 = m.trigger("k4", "four", mins(10));
    apply(&s, w4.clone()).await;
    assert_eq!(
        s.alert(w4.new_alert_id).await.unwrap().incident_id,
        Some(w4.new_incident_id)
    );
    let direct = s
        .set_incident_status(
            w4.new_incident_id,
            IncidentStatus::Resolved,
            mins(11),
            by_ada(EventKind::IncidentResolved),
        )
        .await
        .unwrap();
    assert_eq!(
        (direct.status, direct.acknowledged_at),
        (IncidentStatus::Resolved, None)
    );
    assert_eq!(
        s.alert(w4.new_alert_id).await.unwrap().status,
        AlertStatus::Resolved
    );
    // The alert's key is free again: a new trigger opens a new alert.
    assert_eq!(
        apply(&s, m.trigger("k4", "four", mins(12))).await.step,
        Step::Open
    );

    assert!(
        s.set_incident_status(
            IncidentId::new(t0(), rnd()),
            IncidentStatus::Acknowledged,
            mins(9),
            by_ada(EventKind::IncidentAcknowledged),
        )
        .await
        .unwrap_err()
        .is_not_found()
    );
}

pub async fn test_notifications_are_queued_once_per_key(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let bob = person(&s, "bob@example.com").await;
    let mut hook = new_method(ada.id, ContactKind::Webhook, "https://hooks.example.com/a");
    hook.secret = Some("whsec_x".into());
    let hook = create_method(&s, &hook).await;
    let new = new_notification(&hook, None, "test:ada:1", at(0));
    let queued = queue(&s, new.clone()).await;
    assert_eq!(
        queued,
        Notification {
            id: new.id,
            incident_id: None,
            user_id: ada.id,
            contact_method_id: Some(hook.id),
            kind: ContactKind::Webhook,
            address: hook.address.clone(),
            dedup_key: "test:ada:1".into(),
            payload: new.payload.clone(),
            status: NotificationStatus::Pending,
            attempts: 0,
            run_at: at(0),
            last_error: None,
            created_at: t0(),
            sent_at: None,
        }
    );
    assert_eq!(s.notification(new.id).await.unwrap(), queued);
    assert_eq!(
        s.list_notifications(None, Some(ada.id), None, 10)
            .await
            .unwrap(),
        vec![queued.clone()]
    );
    assert!(
        s.list_notifications(None, Some(bob.id), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.notification(NotificationId::new(t0(), rnd()))
            .await
            .unwrap_err()
            .is_not_found()
    );
    // Its event is on the user's timeline.
    assert_eq!(
        note_events(&s, &queued).await,
        vec![EventKind::NotificationQueued]
    );

    // The same key again: a named conflict; neither it nor its event is written.
    let dup = new_notification(&hook, None, "test:ada:1", at(0));
    let dup_ev = user_ev(ada.id, EventKind::NotificationQueued);
    conflict(
        s.queue_notification(dup.clone(), dup_ev).await,
        "notifications_dedup_key",
    );
    assert!(s.notification(dup.id).await.unwrap_err().is_not_found());
    assert_eq!(
        kinds(&events_of(&s, SubjectType::User, ada.id).await)
            .iter()
            .filter(|k| **k == EventKind::NotificationQueued)
            .count(),
        1
    );

    // Whatever the claim does to it is on the user's timeline too.
    let claimed = s.claim_notifications(at(0), at(60), 10).await.unwrap();
    assert_eq!(
        claimed.due,
        vec![Notification {
            status: NotificationStatus::Sending,
            attempts: 1,
            run_at: at(60),
            ..queued.clone()
        }]
    );
    assert!(s.start_sending(&[queued.id], at(60), at(0)).await.unwrap());
    let claimed = s.claim_notifications(at(60), at(120), 10).await.unwrap();
    assert_eq!(claimed.abandoned, 1);
    let failed = s.notification(queued.id).await.unwrap();
    assert_eq!(
        note_events(&s, &failed).await,
        vec![EventKind::NotificationQueued, EventKind::NotificationFailed]
    );
    let evs = events_of(&s, SubjectType::User, ada.id).await;
    let last = evs.last().unwrap();
    assert_eq!(
        (last.kind, last.at),
        (EventKind::NotificationFailed, at(60))
    );
    assert_eq!(last.data["user_id"], json!(ada.id));
}

/// People and integrations acknowledging one incident at once: it moves once, nobody fails
/// for any other reason.
pub async fn racing_acknowledgements_move_an_incident_once(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let m = monitored(&s, "api", Grouping::Time { window_minutes: 60 }, true).await;
    for round in 0..5 {
        let base = round * 100;
        let keys: Vec<String> = (0..3).map(|i| format!("r{round}k{i}")).collect();
        let first = m.trigger(&keys[0], "first", mins(base + 1));
        apply(&s, first.clone()).await;
        for (i, k) in keys.iter().enumerate().skip(1) {
            apply(&s, m.trigger(k, "more", mins(base + 1 + i as i64))).await;
        }
        let inc = first.new_incident_id;
        let mut people = Vec::new();
        for _ in 0..4 {
            let s = s.clone();
            let e = NewEvent::new(
                SubjectType::Incident,
                inc,
                mins(base + 10),
                Actor::User(ada.id),
                EventKind::IncidentAcknowledged,
                json!({}),
            );
            people.push(tokio::spawn(async move {
                s.set_incident_status(inc, IncidentStatus::Acknowledged, mins(base + 10), e)
                    .await
            }));
        }
        let mut integrations = Vec::new();
        for k in &keys[..2] {
            let s = s.clone();
            let w = m.acknowledge(k, mins(base + 10));
            integrations.push(tokio::spawn(async move { apply(&s, w).await }));
        }
        let mut moved = 0;
        for t in people {
            match t.await.unwrap() {
                Ok(i) => {
                    assert_eq!(i.status, IncidentStatus::Acknowledged);
                    moved += 1;
                }
                Err(StoreError::Conflict { constraint }) => {
                    assert_eq!(constraint, "incident_status");
                }
                Err(other) => panic!("acknowledging failed: {other:?}"),
            }
        }
        for t in integrations {
            // Already acknowledged by hand: nothing to do.
            assert!(matches!(
                t.await.unwrap().step,
                Step::Acknowledge | Step::Ignore
            ));
        }
        assert!(moved <= 1, "{moved} people acknowledged one incident");
        let inc = s.incident(inc).await.unwrap();
        assert_eq!(inc.status, IncidentStatus::Acknowledged);
        let acks = events_of(&s, SubjectType::Incident, inc.id)
            .await
            .iter()
            .filter(|e| e.kind == EventKind::IncidentAcknowledged)
            .count();
        assert_eq!(acks, 1);
        // By hand, every alert is acknowledged; if an integration came first, only its own.
        let mut statuses: Vec<(String, AlertStatus)> = alerts_where(
            &s,
            AlertFilter {
                incident_id: Some(inc.id),
                ..AlertFilter::default()
            },
        )
        .await
        .into_iter()
        .map(|a| (a.dedup_key, a.status))
        .collect();
        statuses.sort();
        let third = if moved == 1 {
            AlertStatus::Acknowledged
        } else {
            AlertStatus::Triggered
        };
        assert_eq!(
            statuses,
            vec![
                (keys[0].clone(), AlertStatus::Acknowledged),
                (keys[1].clone(), AlertStatus::Acknowledged),
                (keys[2].clone(), third),
            ]
        );
        // Then resolved by hand, with an integration resolving one alert at the same time.
        let s2 = s.clone();
        let w = m.resolve(&keys[2], mins(base + 20));
        let signal = tokio::spawn(async move { apply(&s2, w).await });
        let e = NewEvent::new(
            SubjectType::Incident,
            inc.id,
            mins(base + 20),
            Actor::User(ada.id),
            EventKind::IncidentResolved,
            json!({}),
        );
        let by_hand = s
            .set_incident_status(inc.id, IncidentStatus::Resolved, mins(base + 20), e)
            .await;
        let signal = signal.await.unwrap();
        // Two alerts stay open whatever the signal does: the incident is resolved by hand.
        assert_eq!(by_hand.unwrap().status, IncidentStatus::Resolved);
        assert!(matches!(signal.step, Step::Resolve | Step::Ignore));
        assert!(
            alerts_where(
                &s,
                AlertFilter {
                    incident_id: Some(inc.id),
                    ..AlertFilter::default()
                },
            )
            .await
            .iter()
            .all(|a| a.status == AlertStatus::Resolved)
        );
        assert_eq!(
            s.incident(inc.id).await.unwrap().status,
            IncidentStatus::Resolved
        );
    }
}

/// Storm control's store side: a deferred notification is pending again at its time without
/// the claim's attempt counted, with its event; `last_sent` knows each method's latest send.
pub async fn deferred_notifications_wait_uncounted_and_last_sends_are_known(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let hook = create_method(
        &s,
        &new_method(ada.id, ContactKind::Webhook, "https://a.example.com/1"),
    )
    .await;
    let other = create_method(
        &s,
        &new_method(ada.id, ContactKind::Webhook, "https://a.example.com/2"),
    )
    .await;
    assert!(s.last_sent(&[hook.id, other.id]).await.unwrap().is_empty());
    assert!(s.last_sent(&[]).await.unwrap().is_empty());
    let first = queue(&s, new_notification(&hook, None, "d:1", mins(0))).await;
    let second = queue(&s, new_notification(&hook, None, "d:2", mins(0))).await;
    let claimed = s.claim_notifications(mins(0), mins(2), 10).await.unwrap();
    assert_eq!(claimed.due.len(), 2);
    s.finish_notification(
        first.id,
        SendResult::Sent { at: mins(1) },
        note_ev(&first, EventKind::NotificationSent),
    )
    .await
    .unwrap();
    assert!(
        s.defer_notification(
            second.id,
            mins(3),
            note_ev(&second, EventKind::NotificationDeferred)
        )
        .await
        .unwrap()
    );
    let waiting = s.notification(second.id).await.unwrap();
    assert_eq!(
        (waiting.status, waiting.attempts, waiting.run_at),
        (NotificationStatus::Pending, 0, mins(3))
    );
    assert!(
        note_events(&s, &second)
            .await
            .contains(&EventKind::NotificationDeferred)
    );
    // Only what is sending can be deferred.
    assert!(
        !s.defer_notification(
            second.id,
            mins(9),
            note_ev(&second, EventKind::NotificationDeferred)
        )
        .await
        .unwrap()
    );
    assert!(
        s.claim_notifications(mins(2), mins(4), 10)
            .await
            .unwrap()
            .due
            .is_empty()
    );
    let again = s.claim_notifications(mins(3), mins(5), 10).await.unwrap();
    assert_eq!(again.due.len(), 1);
    assert_eq!(
        again.due[0].attempts, 1,
        "the deferral did not count as an attempt"
    );
    assert_eq!(
        s.last_sent(&[hook.id, other.id]).await.unwrap(),
        vec![(hook.id, mins(1))]
    );
}

/// A claim that runs out before its send began releases the notification (pending, the attempt
/// not counted, claimable at once); marking sends as begun is all or nothing, and fenced by the
/// claim's end, so a sender whose claim was taken over cannot begin.
pub async fn unbegun_claims_are_released_and_old_claims_fenced(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let hook = create_method(
        &s,
        &new_method(ada.id, ContactKind::Webhook, "https://hooks.example.com/a"),
    )
    .await;
    let a = queue(&s, new_notification(&hook, None, "test:a", at(0))).await;
    let b = queue(&s, new_notification(&hook, None, "test:b", at(0))).await;
    let first = s.claim_notifications(at(0), at(60), 10).await.unwrap();
    assert_eq!(first.due.len(), 2);
    // Nothing begun; the claim runs out: both are released and claimed again at once.
    let second = s.claim_notifications(at(61), at(121), 10).await.unwrap();
    assert_eq!((second.released, second.abandoned), (2, 0));
    assert_eq!(
        sorted(second.due.iter().map(|n| (n.id, n.attempts)).collect()),
        sorted(vec![(a.id, 1), (b.id, 1)])
    );
    // The first claim's sender can no longer begin either; the second's can, once.
    assert!(!s.start_sending(&[a.id], at(60), at(62)).await.unwrap());
    assert!(
        !s.start_sending(&[a.id, hook_less()], at(121), at(62))
            .await
            .unwrap(),
        "all or nothing"
    );
    assert!(s.start_sending(&[a.id], at(121), at(62)).await.unwrap());
    // Past the second claim: a (begun) fails as unknown, b (not begun) is released again.
    let third = s.claim_notifications(at(122), at(182), 10).await.unwrap();
    assert_eq!((third.released, third.abandoned), (1, 1));
    assert_eq!(
        third.due.iter().map(|n| n.id).collect::<Vec<_>>(),
        vec![b.id]
    );
    assert_eq!(
        s.notification(a.id).await.unwrap().status,
        NotificationStatus::Failed
    );

    // A page released after its incident was acknowledged is cancelled, not sent.
    let m = monitored(&s, "api", Grouping::None, true).await;
    let w = m.trigger("cpu", "cpu", at(0));
    apply(&s, w.clone()).await;
    let inc = w.new_incident_id;
    let page = new_notification(&hook, Some(inc), "page:late", at(200));
    assert!(
        s.apply_escalation_step(escalation_step(inc, 0, vec![page.clone()], None))
            .await
            .unwrap()
    );
    let claimed = s.claim_notifications(at(200), at(260), 10).await.unwrap();
    assert!(claimed.due.iter().any(|n| n.id == page.id));
    s.set_incident_status(
        inc,
        IncidentStatus::Acknowledged,
        at(210),
        ev(
            SubjectType::Incident,
            inc,
            EventKind::IncidentAcknowledged,
            json!({}),
        ),
    )
    .await
    .unwrap();
    let after = s.claim_notifications(at(261), at(321), 10).await.unwrap();
    assert!(after.due.iter().all(|n| n.id != page.id), "never sent");
    assert_eq!(
        s.notification(page.id).await.unwrap().status,
        NotificationStatus::Cancelled
    );
}

/// An id no notification has.
fn hook_less() -> NotificationId {
    NotificationId::new(at(0), [9; 10])
}
