//! SLOs: kept whole with their rules, unique per service, rules' states kept through edits,
//! pushed counts summed per minute and hour slice, pruned by age.
use super::*;
use jiff::tz::TimeZone;
use klaxon_domain::ids::SloId;
use klaxon_domain::slo::{
    self, BudgetStatus, Counts, Objective, Resolution, RuleState, Sli, Slo, Window,
};

pub(super) fn new_slo(service: ServiceId, name: &str, window: Window) -> Slo {
    let rules = slo::default_rules(window.nominal())
        .into_iter()
        .map(|rule| RuleState {
            rule,
            firing: false,
            since: None,
        })
        .collect();
    Slo {
        id: SloId::new(t0(), rnd()),
        service_id: service,
        name: name.into(),
        description: "checkout answers".into(),
        objective: Objective::new(99.9).unwrap(),
        window,
        sli: Sli::Pushed,
        at_risk: 0.2,
        rules,
        status: BudgetStatus::Healthy,
        status_since: t0(),
        evaluated_step: None,
        silent_since: None,
        silent_alerted: false,
        created_at: t0(),
        updated_at: t0(),
    }
}

pub(super) fn eval_job() -> NewJob {
    new_job("slo.evaluate", Some("slo:evaluate"), t0())
}

pub(super) fn slo_ev(id: SloId, kind: EventKind) -> NewEvent {
    ev(SubjectType::Slo, id, kind, json!({}))
}

pub async fn slos_are_kept_whole_and_count_what_is_pushed(s: Arc<dyn Store>) {
    let checkout = monitored(&s, "checkout", Grouping::None, true)
        .await
        .service;
    let search = monitored(&s, "search", Grouping::None, true).await.service;
    let a = new_slo(checkout.id, "availability", Window::Rolling { days: 30 });
    s.create_slo(&a, slo_ev(a.id, EventKind::SloCreated), &eval_job())
        .await
        .unwrap();
    assert_eq!(s.slo(a.id).await.unwrap(), a);
    let berlin = TimeZone::get("Europe/Berlin").unwrap();
    let b = new_slo(search.id, "latency", Window::CalendarMonth { tz: berlin });
    s.create_slo(&b, slo_ev(b.id, EventKind::SloCreated), &eval_job())
        .await
        .unwrap();
    assert_eq!(s.slo(b.id).await.unwrap(), b);
    // One name per service; another service may use it.
    let dup = new_slo(checkout.id, "availability", Window::Rolling { days: 7 });
    assert!(matches!(
        s.create_slo(&dup, slo_ev(dup.id, EventKind::SloCreated), &eval_job())
            .await,
        Err(StoreError::Conflict { .. })
    ));
    let other = new_slo(search.id, "availability", Window::Rolling { days: 7 });
    s.create_slo(&other, slo_ev(other.id, EventKind::SloCreated), &eval_job())
        .await
        .unwrap();
    // No such service.
    let ghost = new_slo(
        ServiceId::new(t0(), rnd()),
        "x",
        Window::Rolling { days: 7 },
    );
    assert!(matches!(
        s.create_slo(&ghost, slo_ev(ghost.id, EventKind::SloCreated), &eval_job())
            .await,
        Err(StoreError::NotFound)
    ));
    let names = |v: Vec<Slo>| v.into_iter().map(|x| x.name).collect::<Vec<_>>();
    assert_eq!(
        names(s.list_slos(Some(search.id)).await.unwrap()),
        ["availability", "latency"]
    );
    assert_eq!(s.list_slos(None).await.unwrap().len(), 3);
    assert_eq!(
        kinds(&events_of(&s, SubjectType::Slo, a.id).await),
        [EventKind::SloCreated]
    );
    // Three SLOs, one evaluator job.
    let jobs = all_jobs(&s).await;
    assert_eq!(jobs.iter().filter(|j| j.kind == "slo.evaluate").count(), 1);

    // An edit keeps a rule's firing state by its name, whatever the edit says.
    let firing_since = Some(at(600));
    let fired = |step: i64| SloEvaluation {
        id: a.id,
        step: at(step),
        rules: vec![("page-fast".into(), true, firing_since)],
        status: BudgetStatus::AtRisk,
        status_since: at(600),
        silent_since: Some(at(300)),
        silent_alerted: true,
        events: vec![slo_ev(a.id, EventKind::SloRuleFired)],
    };
    assert_eq!(
        s.record_slo_evaluations(vec![fired(600)]).await.unwrap(),
        [true]
    );
    // The same step (or an earlier one) again, from another instance: nothing written, while
    // another SLO in the same call is.
    let b_step = SloEvaluation {
        id: b.id,
        rules: vec![],
        silent_since: None,
        silent_alerted: false,
        events: vec![slo_ev(b.id, EventKind::SloStatusChanged)],
        ..fired(600)
    };
    assert_eq!(
        s.record_slo_evaluations(vec![fired(600), b_step, fired(540)])
            .await
            .unwrap(),
        [false, true, false]
    );
    assert_eq!(s.slo(b.id).await.unwrap().evaluated_step, Some(at(600)));
    assert_eq!(
        kinds(&events_of(&s, SubjectType::Slo, b.id).await),
        [EventKind::SloCreated, EventKind::SloStatusChanged]
    );
    let seen = s.slo(a.id).await.unwrap();
    assert_eq!(
        (seen.evaluated_step, seen.status, seen.status_since),
        (Some(at(600)), BudgetStatus::AtRisk, at(600))
    );
    assert_eq!(
        (seen.silent_since, seen.silent_alerted),
        (Some(at(300)), true)
    );
    let mut edit = s.slo(a.id).await.unwrap();
    edit.name = "availability (web)".into();
    edit.objective = Objective::new(99.5).unwrap();
    edit.rules.retain(|r| r.rule.name != "ticket");
    for r in &mut edit.rules {
        r.firing = false;
        r.since = None;
    }
    edit.updated_at = at(700);
    s.update_slo(&edit, slo_ev(a.id, EventKind::SloUpdated))
        .await
        .unwrap();
    let got = s.slo(a.id).await.unwrap();
    assert_eq!(got.name, "availability (web)");
    assert_eq!(got.objective, Objective::new(99.5).unwrap());
    let states: Vec<(&str, bool, Option<Timestamp>)> = got
        .rules
        .iter()
        .map(|r| (r.rule.name.as_str(), r.firing, r.since))
        .collect();
    assert_eq!(
        states,
        [
            ("page-fast", true, firing_since),
            ("page-slow", false, None)
        ]
    );
    // Renaming onto a sibling's name conflicts.
    let mut clash = s.slo(other.id).await.unwrap();
    clash.name = "latency".into();
    assert!(matches!(
        s.update_slo(&clash, slo_ev(other.id, EventKind::SloUpdated))
            .await,
        Err(StoreError::Conflict { .. })
    ));

    // Counts: summed into the minute, five minutes and hour that hold them.
    let base: Timestamp = "2026-11-21T10:00:00Z".parse().unwrap();
    let t = |secs: i64| base + SignedDuration::from_secs(secs);
    s.push_slo_counts(
        a.id,
        &[
            (t(5), Counts::new(90.0, 100.0)),
            (t(50), Counts::new(10.0, 10.0)),
            (t(61), Counts::new(1.5, 2.0)),
            (t(3600 + 1), Counts::new(7.0, 7.0)),
        ],
    )
    .await
    .unwrap();
    s.push_slo_counts(a.id, &[(t(30), Counts::new(0.0, 1.0))])
        .await
        .unwrap();
    let minutes = s
        .slo_slices(a.id, Resolution::Minute, t(0), t(7200))
        .await
        .unwrap();
    assert_eq!(
        minutes,
        [
            (t(0), Counts::new(100.0, 111.0)),
            (t(60), Counts::new(1.5, 2.0)),
            (t(3600), Counts::new(7.0, 7.0)),
        ]
    );
    let hours = s
        .slo_slices(a.id, Resolution::Hour, t(-3600), t(7200))
        .await
        .unwrap();
    assert_eq!(
        hours,
        [
            (t(0), Counts::new(101.5, 113.0)),
            (t(3600), Counts::new(7.0, 7.0)),
        ]
    );
    // And into the five minutes that hold them.
    let fives = s
        .slo_slices(a.id, Resolution::FiveMinutes, t(0), t(7200))
        .await
        .unwrap();
    assert_eq!(
        fives,
        [
            (t(0), Counts::new(101.5, 113.0)),
            (t(3600), Counts::new(7.0, 7.0)),
        ]
    );
    // Nested spans, one apart, one in the middle: each its own sum, for each SLO asked.
    s.push_slo_counts(b.id, &[(t(65), Counts::new(3.0, 4.0))])
        .await
        .unwrap();
    let mut sums = s
        .slo_sums(
            &[a.id, b.id],
            Resolution::Minute,
            &[
                (t(0), t(60)),
                (t(0), t(3601)),
                (t(9000), t(9600)),
                (t(60), t(120)),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        sums.remove(&a.id).unwrap(),
        [
            Counts::new(100.0, 111.0),
            Counts::new(108.5, 120.0),
            Counts::new(0.0, 0.0),
            Counts::new(1.5, 2.0),
        ]
    );
    assert_eq!(
        sums.remove(&b.id).unwrap(),
        [
            Counts::default(),
            Counts::new(3.0, 4.0),
            Counts::default(),
            Counts::new(3.0, 4.0),
        ]
    );
    // Counts for no SLO are refused; other SLOs' counts are their own.
    assert!(matches!(
        s.push_slo_counts(SloId::new(t0(), rnd()), &[(t(0), Counts::new(1.0, 1.0))])
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        s.slo_sums(&[other.id], Resolution::Hour, &[(t(-86_400), t(86_400))])
            .await
            .unwrap()[&other.id],
        [Counts::default()]
    );
    // Pruning drops old slices of one resolution.
    assert_eq!(
        s.prune_slo_counts(Resolution::Minute, t(3600))
            .await
            .unwrap(),
        3 // two of a's, one of b's
    );
    assert_eq!(
        s.slo_slices(a.id, Resolution::Minute, t(0), t(7200))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        s.slo_slices(a.id, Resolution::Hour, t(0), t(7200))
            .await
            .unwrap()
            .len(),
        2
    );
    // Deleting takes rules and counts along and tells it.
    s.delete_slo(a.id, slo_ev(a.id, EventKind::SloDeleted))
        .await
        .unwrap();
    assert!(matches!(s.slo(a.id).await, Err(StoreError::NotFound)));
    assert!(matches!(
        s.delete_slo(a.id, slo_ev(a.id, EventKind::SloDeleted))
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        kinds(&events_of(&s, SubjectType::Slo, a.id).await),
        [
            EventKind::SloCreated,
            EventKind::SloRuleFired,
            EventKind::SloUpdated,
            EventKind::SloDeleted
        ]
    );
}
