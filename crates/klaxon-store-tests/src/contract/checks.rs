//! Uptime checks: settings, runs recorded once, daily tallies, state changes, pruning.
use klaxon_domain::check::{
    self, CheckSpec, CheckState, ConditionResult, DayTally, Health, SpecInput,
};
use klaxon_domain::ids::CheckId;

use super::*;

fn spec(url: &str) -> CheckSpec {
    CheckSpec::parse(SpecInput {
        url: url.into(),
        conditions: vec!["[STATUS] == 200".into()],
        ..SpecInput::default()
    })
    .unwrap()
}

pub(super) fn new_check(service: ServiceId, name: &str) -> Check {
    Check {
        id: CheckId::new(t0(), rnd()),
        service_id: service,
        name: name.into(),
        spec: spec("https://example.com/health"),
        enabled: true,
        health: Health::NEW,
        state_since: t0(),
        last_run_at: None,
        pending_signal: None,
        created_at: t0(),
        updated_at: t0(),
    }
}

pub(super) fn check_ev(id: CheckId, kind: EventKind) -> NewEvent {
    ev(SubjectType::Check, id, kind, json!({}))
}

pub(super) async fn service(s: &Arc<dyn Store>, name: &str) -> Service {
    let svc = new_service(name, Grouping::None, true);
    s.create_service(svc.clone(), service_ev(svc.id, EventKind::ServiceCreated))
        .await
        .unwrap()
}

fn run_job(id: CheckId) -> NewJob {
    new_job(check::RUN_JOB, Some(&check::job_key(id)), t0())
}

fn result(at: Timestamp, ok: bool) -> CheckResult {
    CheckResult {
        at,
        ok,
        response_ms: 40,
        status: Some(if ok { 200 } else { 500 }),
        reason: (!ok).then(|| "[STATUS] == 200 (was 500)".into()),
        conditions: vec![ConditionResult {
            condition: "[STATUS] == 200".into(),
            ok,
            actual: if ok { "200" } else { "500" }.into(),
        }],
    }
}

pub(super) fn run(
    c: &Check,
    at: Timestamp,
    ok: bool,
    health: Health,
    change: Option<CheckState>,
) -> CheckRun {
    CheckRun {
        check_id: c.id,
        expected_last_run: c.last_run_at,
        result: result(at, ok),
        health,
        change: change.map(|st| {
            let kind = match st {
                CheckState::Down => EventKind::CheckDown,
                CheckState::Up => EventKind::CheckUp,
            };
            (
                st,
                ev(
                    SubjectType::Service,
                    c.service_id,
                    kind,
                    json!({"check_id": c.id}),
                ),
            )
        }),
        tallies: vec![DayTally {
            day: check::day_of(at),
            total: 1,
            successes: u32::from(ok),
            response_ms: 40,
            down_ms: if ok { 0 } else { 1000 },
        }],
    }
}

pub async fn checks_are_created_listed_updated_and_deleted(s: Arc<dyn Store>) {
    let svc = service(&s, "web").await;
    let a = new_check(svc.id, "homepage");
    let prune = new_job(check::PRUNE_JOB, Some(check::PRUNE_KEY), t0());
    let created = s
        .create_check(
            NewCheck {
                check: a.clone(),
                jobs: vec![run_job(a.id), prune.clone()],
            },
            check_ev(a.id, EventKind::CheckCreated),
        )
        .await
        .unwrap();
    assert_eq!(created, a);
    assert_eq!(s.check(a.id).await.unwrap(), a);
    assert_eq!(
        s.checks_named("HOMEPAGE").await.unwrap(),
        vec![(a.id, "homepage".to_owned())]
    );
    // Its jobs were queued with it; the pruning job once however many checks there are.
    let jobs = s.list_jobs(None, 100).await.unwrap().items;
    let keys: HashSet<_> = jobs.iter().filter_map(|j| j.dedup_key.clone()).collect();
    assert!(keys.contains(&check::job_key(a.id)) && keys.contains(check::PRUNE_KEY));
    // The first change says it counts as up since creation.
    assert_eq!(
        s.check_changes(a.id, t0(), at(10)).await.unwrap(),
        vec![(t0(), CheckState::Up)]
    );

    let dup = new_check(svc.id, "homepage");
    match s
        .create_check(
            NewCheck {
                check: dup.clone(),
                jobs: vec![],
            },
            check_ev(dup.id, EventKind::CheckCreated),
        )
        .await
    {
        Err(StoreError::Conflict { constraint }) => assert_eq!(constraint, "checks_name"),
        other => panic!("expected a name conflict, got {other:?}"),
    }
    let orphan = new_check(ServiceId::new(t0(), rnd()), "nowhere");
    assert!(
        s.create_check(
            NewCheck {
                check: orphan,
                jobs: vec![]
            },
            check_ev(dup.id, EventKind::CheckCreated)
        )
        .await
        .unwrap_err()
        .is_not_found()
    );
    let b = new_check(svc.id, "api");
    s.create_check(
        NewCheck {
            check: b.clone(),
            jobs: vec![prune],
        },
        check_ev(b.id, EventKind::CheckCreated),
    )
    .await
    .unwrap();
    let names: Vec<_> = s
        .list_checks()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["api", "homepage"]);

    let mut changed = a.clone();
    changed.name = "home".into();
    changed.spec = spec("http://10.0.0.7:8080/ready");
    changed.enabled = false;
    changed.updated_at = at(60);
    let got = s
        .update_check(
            changed.clone(),
            None,
            check_ev(a.id, EventKind::CheckUpdated),
        )
        .await
        .unwrap();
    assert_eq!(got, changed);
    assert!(matches!(
        s.update_check(
            Check {
                name: "api".into(),
                ..changed.clone()
            },
            None,
            check_ev(a.id, EventKind::CheckUpdated)
        )
        .await,
        Err(StoreError::Conflict { .. })
    ));

    s.delete_check(a.id, check_ev(a.id, EventKind::CheckDeleted))
        .await
        .unwrap();
    assert!(s.check(a.id).await.unwrap_err().is_not_found());
    assert!(
        s.delete_check(a.id, check_ev(a.id, EventKind::CheckDeleted))
            .await
            .unwrap_err()
            .is_not_found()
    );
    // Its run job went with it; the other check's pruning job stays.
    let keys: Vec<_> = s
        .list_jobs(None, 100)
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|j| j.dedup_key)
        .collect();
    assert!(!keys.contains(&check::job_key(a.id)));
    assert!(keys.iter().any(|k| k == check::PRUNE_KEY));
    let kinds: Vec<_> = events_of(&s, SubjectType::Check, a.id)
        .await
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            EventKind::CheckCreated,
            EventKind::CheckUpdated,
            EventKind::CheckDeleted
        ]
    );

    // A service's deletion takes its checks along.
    s.delete_service(svc.id, service_ev(svc.id, EventKind::ServiceDeleted))
        .await
        .unwrap();
    assert!(s.check(b.id).await.unwrap_err().is_not_found());
}

pub async fn check_runs_are_recorded_once_with_tallies_and_changes(s: Arc<dyn Store>) {
    let svc = service(&s, "web").await;
    let mut c = new_check(svc.id, "homepage");
    s.create_check(
        NewCheck {
            check: c.clone(),
            jobs: vec![],
        },
        check_ev(c.id, EventKind::CheckCreated),
    )
    .await
    .unwrap();
    let down = Health {
        state: CheckState::Down,
        failures: 1,
        successes: 0,
    };
    s.record_check_run(run(&c, at(60), false, down, Some(CheckState::Down)))
        .await
        .unwrap();
    // The same run again (another instance, or a retry): refused, nothing written twice.
    match s
        .record_check_run(run(&c, at(60), false, down, Some(CheckState::Down)))
        .await
    {
        Err(StoreError::Conflict { constraint }) => assert_eq!(constraint, "check_runs"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let got = s.check(c.id).await.unwrap();
    assert_eq!(got.health, down);
    assert_eq!((got.last_run_at, got.state_since), (Some(at(60)), at(60)));
    assert_eq!(got.pending_signal, Some(CheckState::Down));
    c = got;
    let still = Health {
        failures: 2,
        ..down
    };
    s.record_check_run(run(&c, at(120), false, still, None))
        .await
        .unwrap();
    c = s.check(c.id).await.unwrap();
    assert_eq!(
        (c.health, c.state_since, c.pending_signal),
        (still, at(60), Some(CheckState::Down))
    );
    s.clear_check_signal(c.id, CheckState::Up).await.unwrap();
    assert_eq!(
        s.check(c.id).await.unwrap().pending_signal,
        Some(CheckState::Down),
        "only the signal named is cleared"
    );
    s.clear_check_signal(c.id, CheckState::Down).await.unwrap();
    assert_eq!(s.check(c.id).await.unwrap().pending_signal, None);
    let up = Health {
        state: CheckState::Up,
        failures: 0,
        successes: 1,
    };
    s.record_check_run(run(&c, at(180), true, up, Some(CheckState::Up)))
        .await
        .unwrap();

    let results = s.check_results(c.id, None, 10).await.unwrap();
    let ats: Vec<_> = results.iter().map(|r| (r.at, r.ok)).collect();
    assert_eq!(ats, [(at(180), true), (at(120), false), (at(60), false)]);
    assert_eq!(results[1], result(at(120), false));
    assert_eq!(
        s.check_results(c.id, Some(at(180)), 1).await.unwrap()[0].at,
        at(120)
    );

    let days = s
        .check_days(c.id, check::day_of(t0()), check::day_of(t0()))
        .await
        .unwrap();
    assert_eq!(days.len(), 1);
    assert_eq!(
        (
            days[0].total,
            days[0].successes,
            days[0].response_ms_sum,
            days[0].down_ms
        ),
        (3, 1, 120, 2000)
    );
    assert_eq!(
        s.check_changes(c.id, at(0), at(600)).await.unwrap(),
        [
            (t0(), CheckState::Up),
            (at(60), CheckState::Down),
            (at(180), CheckState::Up)
        ]
    );
    // From inside a stretch: the change that began it comes first.
    assert_eq!(
        s.check_changes(c.id, at(100), at(150)).await.unwrap(),
        [(at(60), CheckState::Down)]
    );
    let timeline: Vec<_> = events_of(&s, SubjectType::Service, svc.id)
        .await
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        timeline,
        [
            EventKind::ServiceCreated,
            EventKind::CheckDown,
            EventKind::CheckUp
        ]
    );
    let gone = CheckId::new(t0(), rnd());
    assert!(
        s.record_check_run(CheckRun {
            check_id: gone,
            ..run(&c, at(240), true, up, None)
        })
        .await
        .unwrap_err()
        .is_not_found()
    );
}

pub async fn old_check_results_and_days_are_pruned(s: Arc<dyn Store>) {
    let svc = service(&s, "web").await;
    let mut c = new_check(svc.id, "homepage");
    s.create_check(
        NewCheck {
            check: c.clone(),
            jobs: vec![],
        },
        check_ev(c.id, EventKind::CheckCreated),
    )
    .await
    .unwrap();
    let day = SignedDuration::from_hours(24);
    let when = |d: i32| t0().checked_add(day * d).unwrap();
    for (d, ok, change) in [
        (1, false, Some(CheckState::Down)),
        (2, true, Some(CheckState::Up)),
        (10, true, None),
    ] {
        let state = change.unwrap_or(c.health.state);
        s.record_check_run(run(
            &c,
            when(d),
            ok,
            Health {
                state,
                ..Health::NEW
            },
            change,
        ))
        .await
        .unwrap();
        c = s.check(c.id).await.unwrap();
    }
    let cut = check::day_of(when(2));
    let pruned = s.prune_checks(when(5), cut).await.unwrap();
    assert_eq!((pruned.results, pruned.days), (2, 1));
    // Changes before the cut go, but the last one before it stays: it says the state since.
    assert_eq!(pruned.changes, 1);
    let left: Vec<_> = s
        .check_results(c.id, None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.at)
        .collect();
    assert_eq!(left, [when(10)]);
    let days: Vec<_> = s
        .check_days(c.id, t0(), when(20))
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.day)
        .collect();
    assert_eq!(days, [check::day_of(when(2)), check::day_of(when(10))]);
    assert_eq!(
        s.check_changes(c.id, t0(), when(20)).await.unwrap(),
        [(when(1), CheckState::Down), (when(2), CheckState::Up)]
    );
    assert_eq!(
        s.prune_checks(when(5), cut).await.unwrap(),
        CheckPruned::default()
    );
}
