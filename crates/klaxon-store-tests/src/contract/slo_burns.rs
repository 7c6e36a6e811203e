//! What resolved incidents burned of their services' SLOs: due once resolved and settled, kept
//! (one row per incident and SLO, replaced), due again when the SLO changes, ranked by the
//! period the incident was declared in, gone with the SLO.
use super::slos::{eval_job, new_slo, slo_ev};
use super::*;
use klaxon_domain::slo::Window;

pub async fn incident_burns_are_due_kept_and_ranked(s: Arc<dyn Store>) {
    let m = monitored(&s, "checkout", Grouping::None, true).await;
    let other = monitored(&s, "search", Grouping::None, true).await;
    let w = m.trigger("k1", "Checkout is down", mins(1));
    apply(&s, w.clone()).await;
    let inc = w.new_incident_id;
    let w2 = other.trigger("k2", "Search is slow", mins(2));
    apply(&s, w2.clone()).await;
    let a = new_slo(m.service.id, "availability", Window::Rolling { days: 30 });
    s.create_slo(&a, slo_ev(a.id, EventKind::SloCreated), &eval_job())
        .await
        .unwrap();
    let since = mins(-60 * 24);

    // Open: nothing due. Resolved at minute 5: due once settled, not before.
    assert!(
        s.due_incident_burns(since, mins(100), 10)
            .await
            .unwrap()
            .is_empty()
    );
    s.set_incident_status(
        inc,
        IncidentStatus::Resolved,
        mins(5),
        ev(
            SubjectType::Incident,
            inc,
            EventKind::IncidentResolved,
            json!({}),
        ),
    )
    .await
    .unwrap();
    // The other service has no SLO: its resolved incident is never due.
    s.set_incident_status(
        w2.new_incident_id,
        IncidentStatus::Resolved,
        mins(6),
        ev(
            SubjectType::Incident,
            w2.new_incident_id,
            EventKind::IncidentResolved,
            json!({}),
        ),
    )
    .await
    .unwrap();
    assert!(
        s.due_incident_burns(since, mins(4), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let due = s.due_incident_burns(since, mins(10), 10).await.unwrap();
    let declared = s.incident(inc).await.unwrap().created_at;
    assert_eq!(
        due,
        vec![BurnDue {
            incident_id: inc,
            slo_id: a.id,
            from: declared,
            to: mins(5),
        }]
    );

    let mut burn = IncidentBurn {
        incident_id: inc,
        slo_id: a.id,
        from: declared,
        to: mins(5),
        bad: Some(400.0),
        total: Some(10_000.0),
        allowed: Some(312.0),
        computed_at: mins(11),
    };
    s.record_incident_burn(&burn).await.unwrap();
    assert!(
        s.due_incident_burns(since, mins(12), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.incident_burns(inc).await.unwrap(), vec![burn.clone()]);
    // Kept again: replaced, one row.
    burn.bad = Some(500.0);
    burn.allowed = None;
    s.record_incident_burn(&burn).await.unwrap();
    assert_eq!(s.incident_burns(inc).await.unwrap(), vec![burn.clone()]);

    let ranked = s.period_burns(mins(0), mins(10)).await.unwrap();
    assert_eq!(ranked.len(), 1);
    assert_eq!(ranked[0].burn, burn);
    assert_eq!(ranked[0].title, "Checkout is down");
    assert_eq!(ranked[0].service_id, m.service.id);
    assert!(s.period_burns(mins(3), mins(10)).await.unwrap().is_empty());

    // The SLO changed after the burn was computed: due again.
    let mut edit = s.slo(a.id).await.unwrap();
    edit.updated_at = mins(20);
    s.update_slo(&edit, slo_ev(a.id, EventKind::SloUpdated))
        .await
        .unwrap();
    assert_eq!(
        s.due_incident_burns(since, mins(30), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    // Too long ago: not due any more.
    assert!(
        s.due_incident_burns(mins(6), mins(30), 10)
            .await
            .unwrap()
            .is_empty()
    );

    // A source that gave no answer is kept as such.
    let unanswered = IncidentBurn {
        bad: None,
        total: None,
        allowed: None,
        ..burn.clone()
    };
    s.record_incident_burn(&unanswered).await.unwrap();
    assert_eq!(s.incident_burns(inc).await.unwrap(), vec![unanswered]);
    s.record_incident_burn(&burn).await.unwrap();

    // A burn for an incident that is gone is no error, and writes nothing.
    let ghost = IncidentBurn {
        incident_id: IncidentId::new(mins(1), rnd()),
        ..burn.clone()
    };
    s.record_incident_burn(&ghost).await.unwrap();
    assert!(
        s.incident_burns(ghost.incident_id)
            .await
            .unwrap()
            .is_empty()
    );

    // Gone with the SLO.
    s.delete_slo(a.id, slo_ev(a.id, EventKind::SloDeleted))
        .await
        .unwrap();
    assert!(s.incident_burns(inc).await.unwrap().is_empty());
}
