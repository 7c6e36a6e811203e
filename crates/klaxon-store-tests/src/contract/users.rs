//! Changing users: their details, deactivation (which ends sessions and revokes tokens), the
//! last active admin kept under concurrency, and password changes that end other sessions.
use std::sync::Arc;

use klaxon_domain::auth::{Role, UserPatch, UserStanding, check_user_change};
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{SessionId, UserId};
use klaxon_domain::incident::Refusal;
use klaxon_store::{NewSession, Store, User, UserChange, UserEdit};
use serde_json::json;

use super::{at, events_of, new_token, new_user, rnd, t0, user_created};

fn session(user: UserId, seed: u8) -> NewSession {
    NewSession {
        id: SessionId::new(t0(), rnd()),
        user_id: user,
        hash: [seed; 32],
        csrf_token: format!("csrf-{seed}"),
        created_at: t0(),
        client_addr: "127.0.0.1".into(),
    }
}

/// The edit the server builds: the domain decides from the snapshot, the store applies.
fn edit(patch: UserPatch, by_self: bool) -> UserEdit {
    Box::new(move |snap| {
        let standing = UserStanding {
            role: snap.user.role,
            active: snap.user.active(),
            other_admins: snap.other_admins,
            duties: vec![],
            by_self,
        };
        check_user_change(&standing, &patch)?;
        let mut user: User = snap.user.clone();
        if let Some(r) = patch.role {
            user.role = r;
        }
        if let Some(n) = &patch.name {
            user.name = n.as_str().to_owned();
        }
        match patch.active {
            Some(false) => user.deactivated_at = Some(at(60)),
            Some(true) => user.deactivated_at = None,
            None => {}
        }
        let event = NewEvent::new(
            SubjectType::User,
            user.id,
            at(60),
            Actor::System,
            EventKind::UserUpdated,
            json!({}),
        );
        Ok(UserChange {
            user,
            events: vec![event],
        })
    })
}

pub async fn deactivating_a_user_ends_their_sessions_and_tokens(s: Arc<dyn Store>) {
    let admin = new_user("root@example.com", Role::Admin);
    s.create_user(admin.clone(), user_created(&admin))
        .await
        .unwrap();
    let u = new_user("rita@example.com", Role::Responder);
    s.create_user(u.clone(), user_created(&u)).await.unwrap();
    let login = |id| {
        NewEvent::new(
            SubjectType::User,
            id,
            t0(),
            Actor::System,
            EventKind::UserLoggedIn,
            json!({}),
        )
    };
    s.create_session(session(u.id, 1), login(u.id))
        .await
        .unwrap();
    let tok = new_token(u.id, Role::Responder, 2);
    let created = NewEvent::new(
        SubjectType::ApiToken,
        tok.id,
        t0(),
        Actor::System,
        EventKind::ApiTokenCreated,
        json!({}),
    );
    s.create_token(tok.clone(), created).await.unwrap();

    let renamed = edit(
        UserPatch {
            name: Some(klaxon_domain::auth::DisplayName::parse("Rita M.").unwrap()),
            ..UserPatch::default()
        },
        false,
    );
    let user = s.change_user(u.id, renamed).await.unwrap().unwrap();
    assert_eq!(user.name, "Rita M.");
    assert_eq!(s.user(u.id).await.unwrap().name, "Rita M.");
    assert!(
        s.session_by_hash(&[1; 32]).await.is_ok(),
        "a rename keeps sessions"
    );

    let off = edit(
        UserPatch {
            active: Some(false),
            ..UserPatch::default()
        },
        false,
    );
    let user = s.change_user(u.id, off).await.unwrap().unwrap();
    assert_eq!(user.deactivated_at, Some(at(60)));
    assert!(!s.user(u.id).await.unwrap().active());
    assert!(
        s.session_by_hash(&[1; 32])
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(s.token_by_hash(&[2; 32]).await.unwrap_err().is_not_found());
    assert_eq!(s.token(tok.id).await.unwrap().revoked_at, Some(at(60)));
    let kinds: Vec<_> = events_of(&s, SubjectType::ApiToken, tok.id)
        .await
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [EventKind::ApiTokenCreated, EventKind::ApiTokenRevoked]
    );
    // Nor does a deactivated user get a new token: it would come alive on reactivation.
    let late = new_token(u.id, Role::Responder, 4);
    let made = NewEvent::new(
        SubjectType::ApiToken,
        late.id,
        t0(),
        Actor::System,
        EventKind::ApiTokenCreated,
        json!({}),
    );
    assert!(s.create_token(late, made).await.unwrap_err().is_not_found());
    // A deactivated user's new session is not honoured either.
    s.create_session(session(u.id, 3), login(u.id))
        .await
        .unwrap();
    assert!(
        s.session_by_hash(&[3; 32])
            .await
            .unwrap_err()
            .is_not_found()
    );

    // Reactivated: sessions work again, the revoked token stays revoked.
    let on = edit(
        UserPatch {
            active: Some(true),
            ..UserPatch::default()
        },
        false,
    );
    assert!(s.change_user(u.id, on).await.unwrap().unwrap().active());
    assert!(s.session_by_hash(&[3; 32]).await.is_ok());
    assert!(s.token_by_hash(&[2; 32]).await.unwrap_err().is_not_found());

    // A refusal writes nothing; an unknown user is NotFound.
    let before = events_of(&s, SubjectType::User, admin.id).await.len();
    let demote_last = edit(
        UserPatch {
            role: Some(Role::Viewer),
            ..UserPatch::default()
        },
        true,
    );
    let refused = s.change_user(admin.id, demote_last).await.unwrap();
    assert!(
        matches!(refused, Err(Refusal::Conflict { .. })),
        "{refused:?}"
    );
    assert_eq!(s.user(admin.id).await.unwrap().role, Role::Admin);
    assert_eq!(
        events_of(&s, SubjectType::User, admin.id).await.len(),
        before
    );
    let nobody = UserId::new(t0(), rnd());
    assert!(
        s.change_user(nobody, edit(UserPatch::default(), false))
            .await
            .unwrap_err()
            .is_not_found()
    );
}

/// Two admins demoting each other at once: one of them stays an admin.
pub async fn two_admins_cannot_demote_each_other_at_once(s: Arc<dyn Store>) {
    for round in 0..5 {
        let a = new_user(&format!("a{round}@example.com"), Role::Admin);
        let b = new_user(&format!("b{round}@example.com"), Role::Admin);
        for u in [&a, &b] {
            s.create_user(u.clone(), user_created(u)).await.unwrap();
        }
        let demote = || {
            edit(
                UserPatch {
                    role: Some(Role::Responder),
                    ..UserPatch::default()
                },
                false,
            )
        };
        let (ra, rb) = tokio::join!(
            {
                let s = s.clone();
                let e = demote();
                async move { s.change_user(a.id, e).await.unwrap() }
            },
            {
                let s = s.clone();
                let e = demote();
                async move { s.change_user(b.id, e).await.unwrap() }
            }
        );
        assert_eq!(
            ra.is_ok() as u8 + rb.is_ok() as u8,
            1,
            "round {round}: exactly one demotion goes through ({ra:?}, {rb:?})"
        );
        // Put this round's demoted admin back out of the count: the next round starts with
        // exactly two active admins again.
        let survivor = if ra.is_ok() { b.id } else { a.id };
        let off = edit(
            UserPatch {
                role: Some(Role::Viewer),
                ..UserPatch::default()
            },
            false,
        );
        // The survivor is the last admin now and cannot step down.
        assert!(s.change_user(survivor, off).await.unwrap().is_err());
        let retire = Box::new(move |snap: &klaxon_store::UserSnapshot| {
            let mut user = snap.user.clone();
            user.role = Role::Viewer;
            Ok(UserChange {
                user,
                events: vec![],
            })
        });
        s.change_user(survivor, retire).await.unwrap().unwrap();
    }
}

pub async fn a_new_password_ends_other_sessions(s: Arc<dyn Store>) {
    let u = new_user("rita@example.com", Role::Responder);
    s.create_user(u.clone(), user_created(&u)).await.unwrap();
    let login = || {
        NewEvent::new(
            SubjectType::User,
            u.id,
            t0(),
            Actor::System,
            EventKind::UserLoggedIn,
            json!({}),
        )
    };
    for seed in [1, 2, 3] {
        s.create_session(session(u.id, seed), login())
            .await
            .unwrap();
    }
    let changed = || {
        NewEvent::new(
            SubjectType::User,
            u.id,
            at(5),
            Actor::System,
            EventKind::UserPasswordChanged,
            json!({}),
        )
    };
    s.set_password(u.id, "$argon2id$new".into(), Some([2; 32]), changed())
        .await
        .unwrap();
    assert!(
        s.session_by_hash(&[1; 32])
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        s.session_by_hash(&[2; 32]).await.is_ok(),
        "the session that changed it stays"
    );
    assert!(
        s.session_by_hash(&[3; 32])
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(
        s.user_credentials("rita@example.com")
            .await
            .unwrap()
            .password_hash,
        "$argon2id$new"
    );
    s.set_password(u.id, "$argon2id$newer".into(), None, changed())
        .await
        .unwrap();
    assert!(
        s.session_by_hash(&[2; 32])
            .await
            .unwrap_err()
            .is_not_found()
    );
    let kinds: Vec<_> = events_of(&s, SubjectType::User, u.id)
        .await
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == EventKind::UserPasswordChanged)
            .count(),
        2
    );
    let nobody = UserId::new(t0(), rnd());
    assert!(
        s.set_password(nobody, "x".into(), None, changed())
            .await
            .unwrap_err()
            .is_not_found()
    );
}
