//! Status page subscribers: sign-up once per address, notices queued with each change for the
//! subscribers who follow it, and sent to each subscriber one at a time in order.
use klaxon_domain::ids::SubscriberId;
use klaxon_domain::status::{ComponentStatus as C, MaintenanceStatus, PublicStatus};

use super::status::{add, change, new_component, new_incident, new_page, new_update, page_ev};
use super::*;

fn subscriber(page: &StatusPage, kind: SubscriberKind, address: &str) -> Subscriber {
    Subscriber {
        id: SubscriberId::new(t0(), rnd()),
        page_id: page.id,
        kind,
        address: address.into(),
        all_components: true,
        component_ids: Vec::new(),
        confirmed_at: (kind == SubscriberKind::Webhook).then(t0),
        nonce: "n".into(),
        mailed_at: None,
        created_at: t0(),
        updated_at: t0(),
    }
}

fn sub_ev(page: &StatusPage, at: Timestamp) -> NewEvent {
    let mut e = page_ev(page.id, EventKind::StatusSubscriberAdded);
    e.at = at;
    e
}

/// Claims what is due at `now` (a lease of a minute), as (address, kind) pairs.
async fn due(s: &Arc<dyn Store>, now: Timestamp) -> Vec<ClaimedNotice> {
    s.claim_notices(now, now + SignedDuration::from_mins(1), 50)
        .await
        .unwrap()
}

fn sent() -> DeliveryOutcome {
    DeliveryOutcome::Sent { status: 200 }
}

pub async fn subscribers_are_notified_of_what_they_follow_in_order(s: Arc<dyn Store>) {
    let p = new_page("acme", None);
    s.create_status_page(p.clone(), page_ev(p.id, EventKind::StatusPageCreated))
        .await
        .unwrap();
    let api = add(&s, &new_component(p.id, "API", None, 1)).await;
    let web = add(&s, &new_component(p.id, "Web", None, 2)).await;

    // An address signs up: one confirmation; again at once, nothing; after the gap, another.
    let mail = subscriber(&p, SubscriberKind::Email, "a@example.com");
    let signed = s
        .subscribe(mail.clone(), at(-600), sub_ev(&p, t0()))
        .await
        .unwrap();
    let SignUp::Created(mail) = signed else {
        panic!("{signed:?}")
    };
    let again = subscriber(&p, SubscriberKind::Email, "a@example.com");
    assert!(matches!(
        s.subscribe(again.clone(), at(-600), sub_ev(&p, t0()))
            .await
            .unwrap(),
        SignUp::TooSoon(_)
    ));
    assert!(matches!(
        s.subscribe(again, at(1), sub_ev(&p, at(700))).await.unwrap(),
        SignUp::Mailed(ref x) if x.id == mail.id
    ));
    // A webhook for Web only, confirmed from the start; a second one with its URL is refused.
    let mut hook = subscriber(&p, SubscriberKind::Webhook, "http://127.0.0.1/hook");
    hook.all_components = false;
    hook.component_ids = vec![web.id];
    let SignUp::Created(hook) = s.subscribe(hook, t0(), sub_ev(&p, t0())).await.unwrap() else {
        panic!("webhook not created")
    };
    assert_eq!(hook.component_ids, vec![web.id]);
    let dup = subscriber(&p, SubscriberKind::Webhook, "http://127.0.0.1/hook");
    assert!(matches!(
        s.subscribe(dup, t0(), sub_ev(&p, t0())).await,
        Err(StoreError::Conflict { .. })
    ));
    // A component of another page is refused, and nothing is written.
    let other = new_page("other", None);
    s.create_status_page(
        other.clone(),
        page_ev(other.id, EventKind::StatusPageCreated),
    )
    .await
    .unwrap();
    let mut stray = subscriber(&other, SubscriberKind::Email, "b@example.com");
    stray.all_components = false;
    stray.component_ids = vec![api.id];
    assert!(
        s.subscribe(stray, t0(), sub_ev(&other, t0()))
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(s.list_subscribers(other.id).await.unwrap().is_empty());

    // The two confirmation e-mails go one after the other.
    let first = due(&s, at(800)).await;
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0].notice.kind, NoticeKind::Confirm);
    assert_eq!(first[0].subscriber.address, "a@example.com");
    assert!(
        due(&s, at(800)).await.is_empty(),
        "the second before the first"
    );
    s.finish_notice(&first[0].notice, sent(), at(800))
        .await
        .unwrap();
    let second = due(&s, at(800)).await;
    assert_eq!(second.len(), 1);
    s.finish_notice(&second[0].notice, sent(), at(800))
        .await
        .unwrap();

    // Unconfirmed: an incident reaches nobody by e-mail; the webhook does not follow API.
    let mut i = new_incident(p.id, "Slow API", at(900));
    i.component_ids = vec![api.id];
    let u = new_update(
        &i,
        "Slow.",
        vec![change(&api, C::Operational, C::PartialOutage)],
    );
    s.create_status_incident(
        i.clone(),
        u,
        vec![page_ev(p.id, EventKind::StatusIncidentPublished)],
    )
    .await
    .unwrap();
    assert!(due(&s, at(900)).await.is_empty());

    // Confirmed (once: a second confirmation writes nothing).
    let mail = s
        .confirm_subscriber(mail.id, at(950), sub_ev(&p, at(950)))
        .await
        .unwrap();
    assert_eq!(mail.confirmed_at, Some(at(950)));
    let again = s
        .confirm_subscriber(mail.id, at(990), sub_ev(&p, at(990)))
        .await
        .unwrap();
    assert_eq!(again.confirmed_at, Some(at(950)));

    // An update touching Web: the e-mail gets the update; the webhook the update and Web's change.
    let mut i2 = i.clone();
    i2.updated_at = at(1000);
    i2.component_ids = vec![api.id, web.id];
    let u2 = new_update(
        &i2,
        "Web too.",
        vec![change(&web, C::Operational, C::MajorOutage)],
    );
    s.add_status_update(
        i2,
        u2.clone(),
        vec![page_ev(p.id, EventKind::StatusIncidentUpdated)],
    )
    .await
    .unwrap();
    let mut web2 = s.component(web.id).await.unwrap();
    web2.status = C::Operational;
    web2.updated_at = at(1100);
    s.update_component(web2, page_ev(p.id, EventKind::StatusComponentUpdated))
        .await
        .unwrap();
    let round = due(&s, at(1100)).await;
    assert_eq!(round.len(), 2, "one head per subscriber: {round:?}");
    let of = |r: &[ClaimedNotice], id| r.iter().find(|c| c.subscriber.id == id).cloned().unwrap();
    let m = of(&round, mail.id);
    assert_eq!(m.notice.kind, NoticeKind::Incident);
    assert_eq!(m.notice.status_update_id, Some(u2.id));
    let h = of(&round, hook.id);
    assert_eq!(h.notice.kind, NoticeKind::Incident);
    // The webhook's first fails for now: its next waits until it is sent.
    let retry_at = at(1200);
    s.finish_notice(
        &h.notice,
        DeliveryOutcome::Retry {
            at: retry_at,
            error: "503".into(),
            status: Some(503),
        },
        at(1100),
    )
    .await
    .unwrap();
    s.finish_notice(&m.notice, sent(), at(1100)).await.unwrap();
    assert!(due(&s, at(1150)).await.is_empty());
    let r = due(&s, retry_at).await;
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].notice.attempts, 2);
    s.finish_notice(&r[0].notice, sent(), retry_at)
        .await
        .unwrap();
    let r = due(&s, retry_at).await;
    assert_eq!(r[0].notice.kind, NoticeKind::Component);
    assert_eq!(r[0].notice.new_status, Some(C::MajorOutage));
    s.finish_notice(
        &r[0].notice,
        DeliveryOutcome::Failed {
            error: "gone".into(),
            status: Some(410),
        },
        retry_at,
    )
    .await
    .unwrap();
    // A failed one does not hold the rest back.
    let r = due(&s, retry_at).await;
    assert_eq!(r.len(), 1);
    assert_eq!(
        (r[0].notice.old_status, r[0].notice.new_status),
        (Some(C::MajorOutage), Some(C::Operational))
    );
    // A lease that runs out hands the notice out again.
    assert!(due(&s, retry_at).await.is_empty());
    let again = due(&s, retry_at + SignedDuration::from_mins(2)).await;
    assert_eq!(again.len(), 1);
    s.finish_notice(&again[0].notice, sent(), retry_at)
        .await
        .unwrap();
    let notices = s.list_notices(hook.id, 10).await.unwrap();
    assert_eq!(notices.len(), 3);
    assert_eq!(notices[1].status, DeliveryStatus::Failed);

    // A maintenance reminder is queued once, for e-mail subscribers only.
    let mut m = new_incident(p.id, "Upgrade", at(2000));
    m.maintenance = true;
    m.status = PublicStatus::Maintenance(MaintenanceStatus::Scheduled);
    m.scheduled_for = Some(at(9000));
    m.scheduled_until = Some(at(9600));
    m.remind_minutes = Some(60);
    m.component_ids = vec![web.id];
    let mu = new_update(&m, "Planned.", Vec::new());
    s.create_status_incident(
        m.clone(),
        mu,
        vec![page_ev(p.id, EventKind::StatusIncidentPublished)],
    )
    .await
    .unwrap();
    for c in due(&s, at(2000)).await {
        s.finish_notice(&c.notice, sent(), at(2000)).await.unwrap();
    }
    let remind = || page_ev(p.id, EventKind::StatusMaintenanceReminded);
    assert!(s.remind_maintenance(m.id, remind()).await.unwrap());
    assert!(!s.remind_maintenance(m.id, remind()).await.unwrap());
    let r = due(&s, at(5500)).await;
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].notice.kind, NoticeKind::Reminder);
    assert_eq!(r[0].subscriber.id, mail.id);

    // Gone: its notices with it; unconfirmed sign-ups are forgotten after a while.
    s.delete_subscriber(mail.id, page_ev(p.id, EventKind::StatusSubscriberRemoved))
        .await
        .unwrap();
    assert!(s.list_notices(mail.id, 10).await.unwrap().is_empty());
    assert!(
        s.delete_subscriber(mail.id, page_ev(p.id, EventKind::StatusSubscriberRemoved))
            .await
            .unwrap_err()
            .is_not_found()
    );
    let mut late = subscriber(&p, SubscriberKind::Email, "late@example.com");
    late.created_at = at(3000);
    s.subscribe(late, t0(), sub_ev(&p, at(3000))).await.unwrap();
    assert_eq!(s.prune_subscribers(at(3000)).await.unwrap(), 0);
    assert_eq!(s.prune_subscribers(at(3001)).await.unwrap(), 1);
    assert_eq!(s.list_subscribers(p.id).await.unwrap().len(), 1);
}
