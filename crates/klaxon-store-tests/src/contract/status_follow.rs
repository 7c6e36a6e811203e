//! Components that follow their checks: set in the transaction that changes what they follow.
use klaxon_domain::check::{CheckState, Health};
use klaxon_domain::ids::StatusPageId;
use klaxon_domain::status::{ComponentStatus as C, MaintenanceStatus, PublicStatus};

use super::checks::{new_check, run, service};
use super::status::{add, change, new_component, new_incident, new_page, new_update, page_ev};
use super::*;

const DOWN: Health = Health {
    state: CheckState::Down,
    failures: 3,
    successes: 0,
};
const UP: Health = Health {
    state: CheckState::Up,
    failures: 0,
    successes: 2,
};

/// Records a run of `c` at `secs` that moves it to `to`, and returns it as stored.
async fn moves(s: &Arc<dyn Store>, c: &Check, secs: i64, to: CheckState) -> Check {
    let (ok, health) = match to {
        CheckState::Up => (true, UP),
        CheckState::Down => (false, DOWN),
    };
    s.record_check_run(run(c, at(secs), ok, health, Some(to)))
        .await
        .unwrap();
    s.check(c.id).await.unwrap()
}

async fn status(s: &Arc<dyn Store>, c: &Component) -> C {
    s.component(c.id).await.unwrap().status
}

/// The moves a component's checks made: (from, to) of each `status_page.component_updated`
/// event marked `via: checks` (all by the system), oldest first.
async fn moves_by_checks(s: &Arc<dyn Store>, page: StatusPageId, code: &str) -> Vec<(C, C)> {
    events_of(s, SubjectType::StatusPage, page)
        .await
        .into_iter()
        .filter(|e| e.kind == EventKind::StatusComponentUpdated && e.data["component"] == code)
        .filter(|e| e.data["via"] == "checks")
        .map(|e| {
            assert_eq!(e.actor, Actor::System, "{e:?}");
            let st = |k: &str| e.data[k].as_str().unwrap().parse::<C>().unwrap();
            (st("from"), st("to"))
        })
        .collect()
}

pub async fn components_follow_their_checks(s: Arc<dyn Store>) {
    let web = service(&s, "web").await;
    let db = service(&s, "db").await;
    let p = new_page("acme", None);
    s.create_status_page(p.clone(), page_ev(p.id, EventKind::StatusPageCreated))
        .await
        .unwrap();
    // Following, on web; not following, on web; following, on web and db.
    let mut a = new_component(p.id, "API", None, 1);
    a.service_ids = vec![web.id];
    a.follow_checks = true;
    let a = add(&s, &a).await;
    assert!(a.follow_checks);
    let mut b = new_component(p.id, "Billing", None, 2);
    b.service_ids = vec![web.id];
    let b = add(&s, &b).await;
    let mut both = new_component(p.id, "Everything", None, 3);
    both.service_ids = vec![web.id, db.id];
    both.follow_checks = true;
    let both = add(&s, &both).await;

    let mut h1 = new_check(web.id, "home");
    let mut h2 = new_check(web.id, "login");
    let d1 = new_check(db.id, "db port");
    for c in [&h1, &h2, &d1] {
        s.create_check(
            NewCheck {
                check: c.clone(),
                jobs: vec![],
            },
            ev(SubjectType::Check, c.id, EventKind::CheckCreated, json!({})),
        )
        .await
        .unwrap();
    }
    assert_eq!(status(&s, &a).await, C::Operational);

    // One of two down: a partial outage, in the run's transaction, with the page's revision.
    let before = s.status_page(p.id).await.unwrap().revision;
    h1 = moves(&s, &h1, 60, CheckState::Down).await;
    assert_eq!(status(&s, &a).await, C::PartialOutage);
    assert_eq!(status(&s, &both).await, C::PartialOutage);
    assert_eq!(status(&s, &b).await, C::Operational, "it does not follow");
    assert!(s.status_page(p.id).await.unwrap().revision > before);
    // Both down: a major outage for API; Everything still has its db check up.
    h2 = moves(&s, &h2, 120, CheckState::Down).await;
    assert_eq!(status(&s, &a).await, C::MajorOutage);
    assert_eq!(status(&s, &both).await, C::PartialOutage);
    moves(&s, &d1, 130, CheckState::Down).await;
    assert_eq!(status(&s, &both).await, C::MajorOutage);
    assert_eq!(
        moves_by_checks(&s, p.id, &a.code).await,
        [
            (C::Operational, C::PartialOutage),
            (C::PartialOutage, C::MajorOutage)
        ]
    );
    assert!(moves_by_checks(&s, p.id, &b.code).await.is_empty());
    // The status intervals (what uptime counts) say the same, at the runs' times.
    let of_a: Vec<(C, Timestamp, Option<Timestamp>)> = s
        .status_intervals(p.id, t0())
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.component_id == a.id)
        .map(|i| (i.status, i.from, i.until))
        .collect();
    assert_eq!(
        of_a,
        [
            (C::Operational, t0(), Some(at(60))),
            (C::PartialOutage, at(60), Some(at(120))),
            (C::MajorOutage, at(120), None),
        ]
    );

    // A maintenance in progress holds API and Everything: recoveries leave them under it.
    let mut m = new_incident(p.id, "Upgrade", at(200));
    m.maintenance = true;
    m.status = PublicStatus::Maintenance(MaintenanceStatus::InProgress);
    m.component_ids = vec![a.id, both.id];
    let first = new_update(
        &m,
        "Started.",
        vec![
            change(&a, C::MajorOutage, C::UnderMaintenance),
            change(&both, C::MajorOutage, C::UnderMaintenance),
        ],
    );
    let m = s
        .create_status_incident(m, first, Vec::new())
        .await
        .unwrap();
    h1 = moves(&s, &h1, 240, CheckState::Up).await;
    assert_eq!(status(&s, &a).await, C::UnderMaintenance);
    assert_eq!(status(&s, &both).await, C::UnderMaintenance);
    assert_eq!(moves_by_checks(&s, p.id, &a.code).await.len(), 2);
    // Completed: the maintenance puts them back to operational, and their checks take over
    // in the same transaction (login and db port are still down).
    let mut done = m.clone();
    done.status = PublicStatus::Maintenance(MaintenanceStatus::Completed);
    done.updated_at = at(300);
    let u = new_update(
        &done,
        "Done.",
        vec![
            change(&a, C::UnderMaintenance, C::Operational),
            change(&both, C::UnderMaintenance, C::Operational),
        ],
    );
    s.add_status_update(done, u, Vec::new()).await.unwrap();
    assert_eq!(status(&s, &a).await, C::PartialOutage);
    assert_eq!(status(&s, &both).await, C::PartialOutage);

    // A person's status on a following component stands until a check moves.
    let mut set = s.component(a.id).await.unwrap();
    set.status = C::DegradedPerformance;
    set.updated_at = at(310);
    s.update_component(set, page_ev(p.id, EventKind::StatusComponentUpdated))
        .await
        .unwrap();
    assert_eq!(status(&s, &a).await, C::DegradedPerformance);
    // Not following: the checks leave it alone; following again: their status at once.
    let mut off = s.component(a.id).await.unwrap();
    off.follow_checks = false;
    s.update_component(off, page_ev(p.id, EventKind::StatusComponentUpdated))
        .await
        .unwrap();
    h2 = moves(&s, &h2, 360, CheckState::Up).await;
    assert_eq!(status(&s, &a).await, C::DegradedPerformance);
    let mut on = s.component(a.id).await.unwrap();
    on.follow_checks = true;
    on.updated_at = at(400);
    let on = s
        .update_component(on, page_ev(p.id, EventKind::StatusComponentUpdated))
        .await
        .unwrap();
    assert_eq!(on.status, C::Operational);
    // Started following at creation: it takes its checks' status then.
    let mut late = new_component(p.id, "Database", None, 4);
    late.service_ids = vec![db.id];
    late.follow_checks = true;
    let late = add(&s, &late).await;
    assert_eq!(late.status, C::MajorOutage);

    // A check turned off no longer counts; one deleted neither; with none left, it stays.
    let mut off = s.check(h1.id).await.unwrap();
    h2 = moves(&s, &h2, 420, CheckState::Down).await;
    assert_eq!(status(&s, &a).await, C::PartialOutage);
    off.enabled = false;
    off.updated_at = at(430);
    s.update_check(
        off,
        None,
        ev(
            SubjectType::Check,
            h1.id,
            EventKind::CheckUpdated,
            json!({}),
        ),
    )
    .await
    .unwrap();
    assert_eq!(status(&s, &a).await, C::MajorOutage, "login alone, down");
    let mut gone = ev(
        SubjectType::Check,
        h2.id,
        EventKind::CheckDeleted,
        json!({}),
    );
    gone.at = at(440);
    s.delete_check(h2.id, gone).await.unwrap();
    assert_eq!(
        status(&s, &a).await,
        C::MajorOutage,
        "no check left to follow"
    );
    assert_eq!(status(&s, &b).await, C::Operational);
    assert!(moves_by_checks(&s, p.id, &b.code).await.is_empty());
}

/// Two checks of one component change at once (two instances): whichever commits second
/// reads the first's state, so the component never stays at "some down" with both down.
pub async fn racing_checks_leave_their_component_in_line(s: Arc<dyn Store>) {
    let web = service(&s, "web").await;
    let p = new_page("acme", None);
    s.create_status_page(p.clone(), page_ev(p.id, EventKind::StatusPageCreated))
        .await
        .unwrap();
    let mut a = new_component(p.id, "API", None, 1);
    a.service_ids = vec![web.id];
    a.follow_checks = true;
    let a = add(&s, &a).await;
    let mut h1 = new_check(web.id, "home");
    let mut h2 = new_check(web.id, "login");
    for c in [&h1, &h2] {
        s.create_check(
            NewCheck {
                check: c.clone(),
                jobs: vec![],
            },
            ev(SubjectType::Check, c.id, EventKind::CheckCreated, json!({})),
        )
        .await
        .unwrap();
    }
    for round in 1..=10 {
        let (to, want) = if round % 2 == 1 {
            (CheckState::Down, C::MajorOutage)
        } else {
            (CheckState::Up, C::Operational)
        };
        let secs = round * 60;
        (h1, h2) = tokio::join!(moves(&s, &h1, secs, to), moves(&s, &h2, secs + 1, to));
        assert_eq!(status(&s, &a).await, want, "round {round}");
    }
}
