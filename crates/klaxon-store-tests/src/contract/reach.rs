//! Reaching people: the rules a first contact method brings (one per urgency), rules kept once
//! and changed in place, and the facts that say whether someone can be paged.
use super::*;
use klaxon_domain::reach::PersonFacts;

fn rule_ev(user: UserId) -> NewEvent {
    user_ev(user, EventKind::NotificationRuleAdded)
}

/// The rules a first method brings, as the server makes them: at once through it, one for
/// high urgency and one for low, each with its event marked `first_method`.
fn first_rules(method: &ContactMethod) -> Vec<(NotificationRule, NewEvent)> {
    [Urgency::High, Urgency::Low]
        .into_iter()
        .map(|urgency| {
            let r = new_rule(method, 0, urgency);
            let e = ev(
                SubjectType::User,
                method.user_id,
                EventKind::NotificationRuleAdded,
                json!({"rule_id": r.id, "urgency": r.urgency, "first_method": true}),
            );
            (r, e)
        })
        .collect()
}

/// The `user.notification_rule_added` events of `user`, oldest first.
async fn rule_added_events(s: &Arc<dyn Store>, user: UserId) -> Vec<Event> {
    events_of(s, SubjectType::User, user)
        .await
        .into_iter()
        .filter(|e| e.kind == EventKind::NotificationRuleAdded)
        .collect()
}

pub async fn a_first_contact_method_brings_its_rules_once(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let hook = new_method(
        ada.id,
        ContactKind::Webhook,
        "https://hooks.example.com/ada",
    );
    let first = first_rules(&hook);
    let (high, low) = (first[0].0.clone(), first[1].0.clone());
    let (m, added) = s
        .create_contact_method(
            hook.clone(),
            user_ev(ada.id, EventKind::ContactMethodAdded),
            first,
        )
        .await
        .unwrap();
    assert_eq!(m, hook);
    // Both rules, in the order given, written with the method and each with its own event.
    assert_eq!(added, [high.clone(), low.clone()]);
    let mut rules = s.list_notification_rules(ada.id).await.unwrap();
    rules.sort_by_key(|r| r.urgency != Urgency::High);
    assert_eq!(rules, [high.clone(), low.clone()]);
    assert_eq!(
        kinds(&events_of(&s, SubjectType::User, ada.id).await)[1..],
        [
            EventKind::ContactMethodAdded,
            EventKind::NotificationRuleAdded,
            EventKind::NotificationRuleAdded,
        ]
    );
    let events = rule_added_events(&s, ada.id).await;
    assert_eq!(
        events.iter().map(|e| e.data.clone()).collect::<Vec<_>>(),
        [
            json!({"rule_id": high.id, "urgency": "high", "first_method": true}),
            json!({"rule_id": low.id, "urgency": "low", "first_method": true}),
        ]
    );
    let facts = s.reach_people(&[ada.id]).await.unwrap();
    assert_eq!(
        (facts[0].high_rules, facts[0].low_rules),
        (1, 1),
        "reached for either urgency"
    );

    // A second method: the person has rules already, so none is added.
    let mail = new_method(ada.id, ContactKind::Email, "ada@example.com");
    let (_, added) = s
        .create_contact_method(
            mail.clone(),
            user_ev(ada.id, EventKind::ContactMethodAdded),
            first_rules(&mail),
        )
        .await
        .unwrap();
    assert_eq!(added, []);
    assert_eq!(s.contact_method(mail.id).await.unwrap(), mail);
    assert_eq!(s.list_notification_rules(ada.id).await.unwrap().len(), 2);
    assert_eq!(rule_added_events(&s, ada.id).await.len(), 2);

    // One rule left is still a rule: a method added then brings none either.
    s.delete_notification_rule(
        ada.id,
        low.id,
        user_ev(ada.id, EventKind::NotificationRuleRemoved),
    )
    .await
    .unwrap();
    let sms = new_method(ada.id, ContactKind::Sms, "+14155550100");
    let (_, added) = s
        .create_contact_method(
            sms.clone(),
            user_ev(ada.id, EventKind::ContactMethodAdded),
            first_rules(&sms),
        )
        .await
        .unwrap();
    assert_eq!(added, []);
    assert_eq!(s.list_notification_rules(ada.id).await.unwrap(), [high]);

    // For nobody: nothing written, the rules neither.
    let ghost = UserId::new(t0(), rnd());
    let lost = new_method(ghost, ContactKind::Sms, "+14155550100");
    let e = s
        .create_contact_method(
            lost.clone(),
            user_ev(ghost, EventKind::ContactMethodAdded),
            first_rules(&lost),
        )
        .await
        .unwrap_err();
    assert!(e.is_not_found());
    assert!(events_of(&s, SubjectType::User, ghost).await.is_empty());
}

/// Several first methods added at once for one person: every method is kept, and exactly one
/// of them brings its two rules.
pub async fn racing_first_contact_methods_bring_two_rules_once(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = s.clone();
        let m = new_method(
            ada.id,
            ContactKind::Webhook,
            &format!("https://hooks.example.com/ada{i}"),
        );
        tasks.push(tokio::spawn(async move {
            let first = first_rules(&m);
            s.create_contact_method(
                m.clone(),
                user_ev(m.user_id, EventKind::ContactMethodAdded),
                first,
            )
            .await
            .unwrap()
        }));
    }
    let mut brought = Vec::new();
    for t in tasks {
        let (m, added) = t.await.unwrap();
        if !added.is_empty() {
            brought.push((m, added));
        }
    }
    assert_eq!(brought.len(), 1, "exactly one method is the first");
    let (m, added) = &brought[0];
    assert_eq!(
        added
            .iter()
            .map(|r| (r.contact_method_id, r.delay_minutes, r.urgency))
            .collect::<Vec<_>>(),
        [(m.id, 0, Urgency::High), (m.id, 0, Urgency::Low)]
    );
    assert_eq!(s.list_contact_methods(ada.id).await.unwrap().len(), 8);
    let mut rules = s.list_notification_rules(ada.id).await.unwrap();
    rules.sort_by_key(|r| r.urgency != Urgency::High);
    assert_eq!(&rules, added);
    assert_eq!(rule_added_events(&s, ada.id).await.len(), 2);
}

pub async fn rules_are_kept_once_and_changed_in_place(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let bob = person(&s, "bob@example.com").await;
    let sms = create_method(&s, &new_method(ada.id, ContactKind::Sms, "+14155550100")).await;
    let mail = create_method(&s, &new_method(ada.id, ContactKind::Email, "a@example.com")).await;
    let bob_sms = create_method(&s, &new_method(bob.id, ContactKind::Sms, "+14155550199")).await;
    let now = new_rule(&sms, 0, Urgency::High);
    assert_eq!(
        s.create_notification_rule(now.clone(), rule_ev(ada.id))
            .await
            .unwrap(),
        now
    );
    // The same rule again: the first one stands, nothing is written.
    let again = new_rule(&sms, 0, Urgency::High);
    assert_eq!(
        s.create_notification_rule(again, rule_ev(ada.id))
            .await
            .unwrap(),
        now
    );
    assert_eq!(
        s.list_notification_rules(ada.id).await.unwrap(),
        std::slice::from_ref(&now)
    );

    // Changed in place: method, delay and urgency; the id and creation time stay.
    let later = new_rule(&mail, 5, Urgency::High);
    s.create_notification_rule(later.clone(), rule_ev(ada.id))
        .await
        .unwrap();
    let changed = NotificationRule {
        contact_method_id: mail.id,
        delay_minutes: 10,
        urgency: Urgency::Low,
        created_at: at(500),
        ..now.clone()
    };
    let got = s
        .update_notification_rule(
            changed.clone(),
            user_ev(ada.id, EventKind::NotificationRuleChanged),
        )
        .await
        .unwrap();
    assert_eq!(
        got,
        NotificationRule {
            created_at: now.created_at,
            ..changed
        }
    );
    // Just like another rule: refused, nothing written.
    let clash = NotificationRule {
        contact_method_id: mail.id,
        delay_minutes: 5,
        urgency: Urgency::High,
        ..got.clone()
    };
    let e = s
        .update_notification_rule(clash, user_ev(ada.id, EventKind::NotificationRuleChanged))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, StoreError::Conflict { constraint } if constraint == "notification_rules_same"),
        "{e:?}"
    );
    // Someone else's method, someone else's rule, no rule: not found.
    for bad in [
        NotificationRule {
            contact_method_id: bob_sms.id,
            ..got.clone()
        },
        NotificationRule {
            user_id: bob.id,
            ..got.clone()
        },
        NotificationRule {
            id: NotificationRuleId::new(t0(), rnd()),
            ..got.clone()
        },
    ] {
        let e = s
            .update_notification_rule(bad, user_ev(ada.id, EventKind::NotificationRuleChanged))
            .await
            .unwrap_err();
        assert!(e.is_not_found(), "{e:?}");
    }
    let mut rules = s.list_notification_rules(ada.id).await.unwrap();
    rules.sort_by_key(|r| r.delay_minutes);
    assert_eq!(rules, [later, got]);
    assert_eq!(
        events_of(&s, SubjectType::User, ada.id)
            .await
            .iter()
            .filter(|e| e.kind == EventKind::NotificationRuleChanged)
            .count(),
        1
    );
}

pub async fn reach_facts_count_methods_and_rules_per_urgency(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let bob = person(&s, "bob@example.com").await;
    let cy = person(&s, "cy@example.com").await;
    let sms = create_method(&s, &new_method(ada.id, ContactKind::Sms, "+14155550100")).await;
    create_method(&s, &new_method(ada.id, ContactKind::Email, "a@example.com")).await;
    for r in [
        new_rule(&sms, 0, Urgency::High),
        new_rule(&sms, 5, Urgency::High),
        new_rule(&sms, 0, Urgency::Low),
    ] {
        s.create_notification_rule(r, rule_ev(ada.id))
            .await
            .unwrap();
    }
    create_method(&s, &new_method(bob.id, ContactKind::Sms, "+14155550199")).await;
    let ghost = UserId::new(t0(), rnd());
    let mut got = s
        .reach_people(&[ada.id, bob.id, ghost, cy.id])
        .await
        .unwrap();
    got.sort_by_key(|p| p.id);
    let facts = |u: &User, methods, high, low| PersonFacts {
        id: u.id,
        name: u.name.clone(),
        active: true,
        contact_methods: methods,
        high_rules: high,
        low_rules: low,
    };
    let mut want = vec![
        facts(&ada, 2, 2, 1),
        facts(&bob, 1, 0, 0),
        facts(&cy, 0, 0, 0),
    ];
    want.sort_by_key(|p| p.id);
    assert_eq!(got, want, "the user who does not exist is left out");
    assert!(s.reach_people(&[]).await.unwrap().is_empty());
}
