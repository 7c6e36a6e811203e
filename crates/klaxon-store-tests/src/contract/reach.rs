//! Reaching people: the rule a first contact method brings, rules kept once and changed in
//! place, and the facts that say whether someone can be paged.
use super::*;
use klaxon_domain::reach::PersonFacts;

fn rule_ev(user: UserId) -> NewEvent {
    user_ev(user, EventKind::NotificationRuleAdded)
}

pub async fn a_first_contact_method_brings_its_rule_once(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let hook = new_method(
        ada.id,
        ContactKind::Webhook,
        "https://hooks.example.com/ada",
    );
    let first = new_rule(&hook, 0, Urgency::High);
    let (m, added) = s
        .create_contact_method(
            hook.clone(),
            user_ev(ada.id, EventKind::ContactMethodAdded),
            Some((first.clone(), rule_ev(ada.id))),
        )
        .await
        .unwrap();
    assert_eq!(m, hook);
    assert_eq!(added, Some(first.clone()));
    assert_eq!(s.list_notification_rules(ada.id).await.unwrap(), [first]);
    assert_eq!(
        kinds(&events_of(&s, SubjectType::User, ada.id).await)[1..],
        [
            EventKind::ContactMethodAdded,
            EventKind::NotificationRuleAdded
        ]
    );

    // A second method: the person has a rule already, so none is added.
    let mail = new_method(ada.id, ContactKind::Email, "ada@example.com");
    let (_, added) = s
        .create_contact_method(
            mail.clone(),
            user_ev(ada.id, EventKind::ContactMethodAdded),
            Some((new_rule(&mail, 0, Urgency::High), rule_ev(ada.id))),
        )
        .await
        .unwrap();
    assert_eq!(added, None);
    assert_eq!(s.list_notification_rules(ada.id).await.unwrap().len(), 1);
    assert_eq!(
        events_of(&s, SubjectType::User, ada.id)
            .await
            .iter()
            .filter(|e| e.kind == EventKind::NotificationRuleAdded)
            .count(),
        1
    );

    // For nobody: nothing written, the rule neither.
    let ghost = UserId::new(t0(), rnd());
    let lost = new_method(ghost, ContactKind::Sms, "+14155550100");
    let e = s
        .create_contact_method(
            lost.clone(),
            user_ev(ghost, EventKind::ContactMethodAdded),
            Some((new_rule(&lost, 0, Urgency::High), rule_ev(ghost))),
        )
        .await
        .unwrap_err();
    assert!(e.is_not_found());
    assert!(events_of(&s, SubjectType::User, ghost).await.is_empty());
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
