//! Postmortems: one per resolved incident, changed whole under a lock, each change on the
//! incident's timeline, and the incident's own events never touched.
use std::collections::BTreeMap;

use klaxon_domain::ids::{PostmortemCommentId, PostmortemId, StatusIncidentId};
use klaxon_domain::incident::Refusal;
use klaxon_domain::postmortem::{
    Comment, Factor, FactorKind, Postmortem, PostmortemState, Reviewer, TimelineEntry,
};

use super::*;

fn new_postmortem(incident: IncidentId, owner: UserId) -> Postmortem {
    Postmortem {
        id: PostmortemId::new(mins(10), rnd()),
        incident_id: incident,
        state: PostmortemState::Draft,
        owner_id: Some(owner),
        due_at: Some(mins(60 * 72)),
        sections: BTreeMap::new(),
        factors: Vec::new(),
        reviewers: Vec::new(),
        timeline: Vec::new(),
        comments: Vec::new(),
        created_at: mins(10),
        updated_at: mins(10),
        published_at: None,
        published_by: None,
        publish_reason: None,
        frozen: None,
        public_summary: String::new(),
    }
}

fn pm_ev(incident: IncidentId, who: UserId, kind: EventKind) -> NewEvent {
    NewEvent::new(
        SubjectType::Incident,
        incident,
        mins(10),
        Actor::User(who),
        kind,
        json!({}),
    )
}

pub async fn postmortems_are_kept_whole_and_told_on_the_incident(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let bob = person(&s, "bob@example.com").await;
    let m = monitored(&s, "api", Grouping::Time { window_minutes: 60 }, false).await;
    let w = m.trigger("k1", "Checkout is down", mins(1));
    apply(&s, w.clone()).await;
    let inc = w.new_incident_id;

    // Not while the incident is open; not for an incident that does not exist.
    let early = new_postmortem(inc, ada.id);
    assert!(matches!(
        s.create_postmortem(early, pm_ev(inc, ada.id, EventKind::PostmortemCreated)).await,
        Err(StoreError::Conflict { constraint }) if constraint == "incident_status"
    ));
    let ghost = IncidentId::new(mins(1), rnd());
    assert!(matches!(
        s.create_postmortem(
            new_postmortem(ghost, ada.id),
            pm_ev(ghost, ada.id, EventKind::PostmortemCreated)
        )
        .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(s.postmortem_of_incident(inc).await.unwrap(), None);

    s.set_incident_status(
        inc,
        IncidentStatus::Resolved,
        mins(5),
        pm_ev(inc, ada.id, EventKind::IncidentResolved),
    )
    .await
    .unwrap();
    let before: Vec<Event> = events_of(&s, SubjectType::Incident, inc).await;
    let pinned_seq = before[0].seq;

    let pm = new_postmortem(inc, ada.id);
    let created = s
        .create_postmortem(pm.clone(), pm_ev(inc, ada.id, EventKind::PostmortemCreated))
        .await
        .unwrap();
    assert_eq!(created, pm);
    assert_eq!(s.postmortem(pm.id).await.unwrap(), pm);
    assert_eq!(
        s.postmortem_of_incident(inc).await.unwrap(),
        Some(pm.clone())
    );
    // One per incident.
    assert!(matches!(
        s.create_postmortem(new_postmortem(inc, bob.id), pm_ev(inc, bob.id, EventKind::PostmortemCreated)).await,
        Err(StoreError::Conflict { constraint }) if constraint == "postmortems_incident_id"
    ));

    // A change writes every part and its events; reading back gives the same postmortem.
    let comment = PostmortemCommentId::new(mins(11), rnd());
    let edit: PostmortemEdit = Box::new(move |old: &Postmortem| {
        let mut p = old.clone();
        p.sections
            .insert("summary".into(), "The cache expired all at once.".into());
        p.sections.insert("lessons".into(), "Jitter TTLs.".into());
        p.factors = vec![
            Factor {
                kind: FactorKind::Trigger,
                text: "a deploy flushed the cache".into(),
            },
            Factor {
                kind: FactorKind::Mitigating,
                text: "the canary caught it".into(),
            },
        ];
        p.reviewers = vec![Reviewer {
            user_id: bob.id,
            approved_at: Some(mins(12)),
        }];
        p.timeline = vec![TimelineEntry {
            seq: pinned_seq,
            include: false,
            note: "noise".into(),
        }];
        p.comments = vec![Comment {
            id: comment,
            section: "summary".into(),
            author_id: bob.id,
            body: "Say how long.".into(),
            at: mins(11),
        }];
        p.state = PostmortemState::InReview;
        p.updated_at = mins(12);
        Ok((
            p,
            vec![pm_ev(p_inc(old), bob.id, EventKind::PostmortemSubmitted)],
        ))
    });
    let changed = s.change_postmortem(pm.id, edit).await.unwrap().unwrap();
    let read = s.postmortem(pm.id).await.unwrap();
    assert_eq!(read, changed);
    assert_eq!(read.factors[0].kind, FactorKind::Trigger);
    assert_eq!(read.factors[1].text, "the canary caught it");
    assert_eq!(read.reviewers[0].approved_at, Some(mins(12)));
    assert_eq!(read.timeline[0].note, "noise");
    assert_eq!(read.comments[0].body, "Say how long.");

    // A refusal writes nothing.
    let refuse: PostmortemEdit = Box::new(|_| Err(Refusal::Forbidden("no".into())));
    assert_eq!(
        s.change_postmortem(pm.id, refuse).await.unwrap(),
        Err(Refusal::Forbidden("no".into()))
    );
    assert_eq!(s.postmortem(pm.id).await.unwrap(), read);

    // Publishing freezes the facts; parts can be emptied again.
    let publish: PostmortemEdit = Box::new(|old: &Postmortem| {
        let mut p = old.clone();
        p.state = PostmortemState::Published;
        p.published_at = Some(mins(20));
        p.published_by = p.owner_id;
        p.publish_reason = Some("reviewed offline".into());
        p.frozen = Some(json!({"title": "Checkout is down"}));
        p.factors.clear();
        Ok((
            p,
            vec![pm_ev(
                p_inc(old),
                old.owner_id.unwrap(),
                EventKind::PostmortemPublished,
            )],
        ))
    });
    s.change_postmortem(pm.id, publish).await.unwrap().unwrap();
    let published = s.postmortem(pm.id).await.unwrap();
    assert_eq!(published.frozen, Some(json!({"title": "Checkout is down"})));
    assert!(published.factors.is_empty());
    assert_eq!(
        published.publish_reason.as_deref(),
        Some("reviewed offline")
    );

    // The incident's own events are as they were, with the postmortem's events after them.
    let after = events_of(&s, SubjectType::Incident, inc).await;
    assert_eq!(after[..before.len()], before[..]);
    assert_eq!(
        kinds(&after[before.len()..]),
        [
            EventKind::PostmortemCreated,
            EventKind::PostmortemSubmitted,
            EventKind::PostmortemPublished
        ]
    );

    // Lists filter by state and find text in the title or a section, ignoring case.
    let all = s
        .list_postmortems(&PostmortemFilter {
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(
        (all[0].id, all[0].incident_title.as_str()),
        (pm.id, "Checkout is down")
    );
    let find = |state: Option<PostmortemState>, text: &str| {
        let s = s.clone();
        let text = text.to_owned();
        async move {
            s.list_postmortems(&PostmortemFilter {
                state,
                text: Some(text),
                limit: 50,
            })
            .await
            .unwrap()
            .len()
        }
    };
    assert_eq!(find(None, "CHECKOUT").await, 1);
    assert_eq!(find(None, "jitter").await, 1);
    assert_eq!(find(None, "nowhere").await, 0);
    assert_eq!(find(Some(PostmortemState::Published), "").await, 1);
    assert_eq!(find(Some(PostmortemState::Draft), "").await, 0);
}

fn p_inc(p: &Postmortem) -> IncidentId {
    p.incident_id
}

/// A published postmortem's public summary goes onto its incident's public incidents, once,
/// with the incident's event and a notice for the page's subscribers; action items name only
/// their incident's postmortem.
pub async fn public_summaries_go_on_the_status_page_once(s: Arc<dyn Store>) {
    use super::status::{new_incident, new_page, new_update, page_ev};
    use klaxon_domain::action_item::{ActionKind, ActionState};
    use klaxon_domain::ids::{ActionItemId, SubscriberId};

    let ada = person(&s, "ada@example.com").await;
    let m = monitored(&s, "api", Grouping::None, false).await;
    let one = apply(&s, m.trigger("k1", "Checkout is down", mins(1))).await;
    let two = apply(&s, m.trigger("k2", "Search is slow", mins(2))).await;
    let (inc, other) = (one.incident_id.unwrap(), two.incident_id.unwrap());
    s.set_incident_status(
        inc,
        IncidentStatus::Resolved,
        mins(5),
        pm_ev(inc, ada.id, EventKind::IncidentResolved),
    )
    .await
    .unwrap();
    let pm = new_postmortem(inc, ada.id);
    s.create_postmortem(pm.clone(), pm_ev(inc, ada.id, EventKind::PostmortemCreated))
        .await
        .unwrap();

    // A page with a webhook subscriber, and public incidents of both incidents.
    let p = new_page("acme", None);
    s.create_status_page(p.clone(), page_ev(p.id, EventKind::StatusPageCreated))
        .await
        .unwrap();
    let hook = Subscriber {
        id: SubscriberId::new(mins(1), rnd()),
        page_id: p.id,
        kind: SubscriberKind::Webhook,
        address: "http://127.0.0.1/hook".into(),
        all_components: true,
        component_ids: Vec::new(),
        confirmed_at: Some(mins(1)),
        nonce: "n".into(),
        mailed_at: None,
        created_at: mins(1),
        updated_at: mins(1),
    };
    s.subscribe(
        hook,
        mins(0),
        page_ev(p.id, EventKind::StatusSubscriberAdded),
    )
    .await
    .unwrap();
    let mut public = new_incident(p.id, "Checkout trouble", mins(2));
    public.incident_id = Some(inc);
    let mut stranger = new_incident(p.id, "Search trouble", mins(3));
    stranger.incident_id = Some(other);
    for i in [&public, &stranger] {
        s.create_status_incident(
            i.clone(),
            new_update(i, "Looking.", Vec::new()),
            vec![page_ev(p.id, EventKind::StatusIncidentPublished)],
        )
        .await
        .unwrap();
    }
    let queued = |s: Arc<dyn Store>| async move {
        s.claim_notices(mins(1000), mins(1001), 50).await.unwrap()
    };
    // Each subscriber is sent one notice at a time: send what is queued so far.
    loop {
        let head = queued(s.clone()).await;
        if head.is_empty() {
            break;
        }
        for c in head {
            s.finish_notice(&c.notice, DeliveryOutcome::Sent { status: 200 }, mins(999))
                .await
                .unwrap();
        }
    }

    let summary = "Checkout failed for 40 minutes; a cache flush caused it.";
    let attach = |targets: Vec<StatusIncidentId>, body: &str| PostmortemAttach {
        postmortem: pm.id,
        incident: inc,
        body: body.into(),
        at: mins(30),
        event: pm_ev(inc, ada.id, EventKind::PostmortemAttached),
        targets: targets
            .into_iter()
            .map(|t| (t, page_ev(p.id, EventKind::StatusPostmortemAttached)))
            .collect(),
    };
    // Not before it is published.
    assert!(matches!(
        s.attach_postmortem(attach(vec![public.id], summary)).await,
        Err(StoreError::Conflict { constraint }) if constraint == "postmortem_state"
    ));
    let publish: PostmortemEdit = Box::new(move |old: &Postmortem| {
        let mut p = old.clone();
        p.state = PostmortemState::Published;
        p.published_at = Some(mins(20));
        p.public_summary = summary.into();
        Ok((p, Vec::new()))
    });
    s.change_postmortem(pm.id, publish).await.unwrap().unwrap();
    assert_eq!(s.postmortem(pm.id).await.unwrap().public_summary, summary);
    // Not with another text than the postmortem's; not onto another incident's public one,
    // and then nothing at all is written.
    assert!(matches!(
        s.attach_postmortem(attach(vec![public.id], "something else")).await,
        Err(StoreError::Conflict { constraint }) if constraint == "postmortem_state"
    ));
    let events_before = events_of(&s, SubjectType::Incident, inc).await.len();
    assert!(matches!(
        s.attach_postmortem(attach(vec![public.id, stranger.id], summary)).await,
        Err(StoreError::Conflict { constraint }) if constraint == "status_incidents_postmortem"
    ));
    assert_eq!(
        s.status_incident(public.id)
            .await
            .unwrap()
            .incident
            .postmortem,
        None
    );
    assert_eq!(
        events_of(&s, SubjectType::Incident, inc).await.len(),
        events_before
    );

    let rev = super::status::revision(&s, p.id).await;
    s.attach_postmortem(attach(vec![public.id], summary))
        .await
        .unwrap();
    let shown = s.status_incident(public.id).await.unwrap().incident;
    assert_eq!(
        shown.postmortem,
        Some(PublicPostmortem {
            body: summary.into(),
            published_at: mins(30),
        })
    );
    assert_eq!(shown.updated_at, mins(30));
    assert!(super::status::revision(&s, p.id).await > rev);
    let after = events_of(&s, SubjectType::Incident, inc).await;
    assert_eq!(after.last().unwrap().kind, EventKind::PostmortemAttached);
    // The subscriber hears of it: an incident notice with no update behind it.
    let told = queued(s.clone()).await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].notice.kind, NoticeKind::Incident);
    assert_eq!(told[0].notice.status_incident_id, Some(public.id));
    assert_eq!(told[0].notice.status_update_id, None);
    // Once: a second time is refused.
    assert!(matches!(
        s.attach_postmortem(attach(vec![public.id], summary)).await,
        Err(StoreError::Conflict { constraint }) if constraint == "status_incidents_postmortem"
    ));

    // An action item names its own incident's postmortem, or none.
    let item = |incident: IncidentId| ActionItem {
        id: ActionItemId::new(mins(40), rnd()),
        incident_id: incident,
        postmortem_id: Some(pm.id.0),
        title: "Jitter cache TTLs".into(),
        owner_id: ada.id,
        kind: ActionKind::Prevent,
        priority: true,
        due_at: mins(9000),
        tracker_url: None,
        state: ActionState::Open,
        reason: None,
        created_at: mins(40),
        created_by: Actor::User(ada.id),
        updated_at: mins(40),
        last_reminded_at: None,
    };
    let add = |a: ActionItem| {
        let s = s.clone();
        async move {
            let event = pm_ev(a.incident_id, ada.id, EventKind::ActionItemCreated);
            s.create_action_item(NewActionItem {
                item: a,
                event,
                job: None,
            })
            .await
        }
    };
    assert!(matches!(
        add(item(other)).await,
        Err(StoreError::Conflict { constraint }) if constraint == "action_items_postmortem"
    ));
    let row = add(item(inc)).await.unwrap();
    assert_eq!(row.item.postmortem_id, Some(pm.id.0));
}
