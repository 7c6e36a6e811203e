//! Availability SLIs' reads: the state changes of uptime checks and status-page components
//! over a span, from the state it starts in, for many sources at once.
use klaxon_domain::check::{CheckState, Health};
use klaxon_domain::ids::{CheckId, ComponentId};
use klaxon_domain::slo::Counts;
use klaxon_domain::slo::availability::{self, Change, Source};
use klaxon_domain::status::ComponentStatus;

use super::checks::{check_ev, new_check, run, service};
use super::status::{add, new_component, new_page, page_ev};
use super::*;

fn change(at: Timestamp, down: f64) -> Change {
    Change { at, down }
}

pub async fn availability_changes_start_from_the_state_a_span_is_in(s: Arc<dyn Store>) {
    let svc = service(&s, "web").await;
    // A check created up at t0, down at 10 minutes, up again at 25.
    let c = new_check(svc.id, "homepage");
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
    s.record_check_run(run(&c, mins(10), false, down, Some(CheckState::Down)))
        .await
        .unwrap();
    let c = s.check(c.id).await.unwrap();
    let up = Health {
        state: CheckState::Up,
        failures: 0,
        successes: 1,
    };
    s.record_check_run(run(&c, mins(25), true, up, Some(CheckState::Up)))
        .await
        .unwrap();
    // A check that never changed.
    let calm = new_check(svc.id, "api");
    s.create_check(
        NewCheck {
            check: calm.clone(),
            jobs: vec![],
        },
        check_ev(calm.id, EventKind::CheckCreated),
    )
    .await
    .unwrap();
    // A component (its page counts a partial outage as 0.3 down), partial from 10 to 33.
    let p = new_page("acme", None);
    s.create_status_page(p.clone(), page_ev(p.id, EventKind::StatusPageCreated))
        .await
        .unwrap();
    let x = add(&s, &new_component(p.id, "API", None, 0)).await;
    for (status, at) in [
        (ComponentStatus::PartialOutage, mins(10)),
        (ComponentStatus::Operational, mins(33)),
    ] {
        let mut next = s.component(x.id).await.unwrap();
        next.status = status;
        next.updated_at = at;
        s.update_component(next, page_ev(p.id, EventKind::StatusComponentUpdated))
            .await
            .unwrap();
    }

    let ghost = Source::Check(CheckId::new(t0(), rnd()));
    let sources = [
        Source::Check(c.id),
        Source::Check(calm.id),
        Source::Component(x.id),
        ghost,
        Source::Component(ComponentId::new(t0(), rnd())),
    ];
    let got = s
        .availability_changes(&sources, mins(12), mins(30))
        .await
        .unwrap();
    // Each from the change that holds the span's start; nothing after its end; the gone ones
    // left out.
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(
        got[&Source::Check(c.id)],
        [change(mins(10), 1.0), change(mins(25), 0.0)]
    );
    assert_eq!(got[&Source::Check(calm.id)], [change(t0(), 0.0)]);
    assert_eq!(got[&Source::Component(x.id)], [change(mins(10), 0.3)]);
    assert_eq!(
        availability::minutes(&got[&Source::Check(c.id)], mins(12), mins(30)),
        Counts::new(5.0, 18.0)
    );
    // From before the sources existed: every change, the first one their creation.
    let all = s
        .availability_changes(&sources[..3], at(-3600), mins(60))
        .await
        .unwrap();
    assert_eq!(
        all[&Source::Check(c.id)],
        [
            change(t0(), 0.0),
            change(mins(10), 1.0),
            change(mins(25), 0.0)
        ]
    );
    assert_eq!(
        all[&Source::Component(x.id)],
        [
            change(t0(), 0.0),
            change(mins(10), 0.3),
            change(mins(33), 0.0)
        ]
    );
    // A change exactly at the span's start is the state it starts in.
    let edge = s
        .availability_changes(&sources[..1], mins(25), mins(26))
        .await
        .unwrap();
    assert_eq!(edge[&Source::Check(c.id)], [change(mins(25), 0.0)]);
    // Nothing asked, nothing read.
    assert!(
        s.availability_changes(&[], t0(), mins(60))
            .await
            .unwrap()
            .is_empty()
    );
}
