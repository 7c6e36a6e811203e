//! Users, API tokens, web sessions, login throttling and server keys.
use super::*;

pub async fn users_are_created_found_and_unique(s: Arc<dyn Store>) {
    let u = new_user("Ada@Example.com", Role::Responder);
    let created = s.create_user(u.clone(), user_created(&u)).await.unwrap();
    assert_eq!(created.email, "ada@example.com");
    assert_eq!(s.user(u.id).await.unwrap(), created);
    let creds = s.user_credentials("ada@example.com").await.unwrap();
    assert_eq!(creds.user, created);
    assert_eq!(creds.password_hash, "$argon2id$fake");
    assert!(
        s.user_credentials("nobody@example.com")
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        s.user(UserId::new(t0(), rnd()))
            .await
            .unwrap_err()
            .is_not_found()
    );

    // The same e-mail again: a named conflict, and neither the user nor its event is written.
    let dup = new_user("ada@example.com", Role::Admin);
    match s.create_user(dup.clone(), user_created(&dup)).await {
        Err(StoreError::Conflict { constraint }) => assert_eq!(constraint, "users_email"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(s.count_users().await.unwrap(), 1);
    assert!(events_of(&s, SubjectType::User, dup.id).await.is_empty());
    let evs = events_of(&s, SubjectType::User, u.id).await;
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0].kind, EventKind::UserCreated);
}

pub async fn users_paginate_by_id(s: Arc<dyn Store>) {
    let mut ids = Vec::new();
    for i in 0..7 {
        let u = new_user(&format!("u{i}@example.com"), Role::Viewer);
        ids.push(u.id);
        s.create_user(u.clone(), user_created(&u)).await.unwrap();
    }
    ids.sort();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = s.list_users(after, 3).await.unwrap();
        assert!(page.items.len() <= 3);
        seen.extend(page.items.iter().map(|u| u.id));
        match page.next {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    let exact = s.list_users(None, 7).await.unwrap();
    assert_eq!(exact.items.len(), 7);
    assert_eq!(
        exact.next, None,
        "no next cursor when the page is exactly full"
    );
}

pub async fn bootstrap_happens_once_even_when_raced(s: Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for i in 0..8u8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let admin = new_user(&format!("admin{i}@example.com"), Role::Admin);
            let token = new_token(admin.id, Role::Admin, i);
            let events = vec![user_created(&admin)];
            s.bootstrap(admin, token, events).await.unwrap()
        }));
    }
    let mut created = 0;
    for t in tasks {
        created += usize::from(t.await.unwrap());
    }
    assert_eq!(created, 1, "exactly one bootstrap wins");
    assert_eq!(s.count_users().await.unwrap(), 1);
    assert_eq!(s.list_tokens(None, None, 50).await.unwrap().items.len(), 1);
}

pub async fn tokens_authenticate_until_revoked(s: Arc<dyn Store>) {
    let u = new_user("ops@example.com", Role::Admin);
    s.create_user(u.clone(), user_created(&u)).await.unwrap();
    let nt = new_token(u.id, Role::Viewer, 7);
    let ev1 = ev(
        SubjectType::ApiToken,
        nt.id,
        EventKind::ApiTokenCreated,
        json!({}),
    );
    let tok = s.create_token(nt.clone(), ev1).await.unwrap();
    let (found, owner) = s.token_by_hash(&[7; 32]).await.unwrap();
    assert_eq!(found, tok);
    assert_eq!(owner.id, u.id);
    assert!(s.token_by_hash(&[8; 32]).await.unwrap_err().is_not_found());

    // Two tokens with the same secret hash cannot exist.
    let clash = new_token(u.id, Role::Viewer, 7);
    let ev2 = ev(
        SubjectType::ApiToken,
        clash.id,
        EventKind::ApiTokenCreated,
        json!({}),
    );
    assert!(matches!(
        s.create_token(clash, ev2).await,
        Err(StoreError::Conflict { .. })
    ));

    let other = new_user("other@example.com", Role::Viewer);
    s.create_user(other.clone(), user_created(&other))
        .await
        .unwrap();
    let t2 = new_token(other.id, Role::Viewer, 9);
    s.create_token(
        t2.clone(),
        ev(
            SubjectType::ApiToken,
            t2.id,
            EventKind::ApiTokenCreated,
            json!({}),
        ),
    )
    .await
    .unwrap();
    let mine = s.list_tokens(Some(u.id), None, 50).await.unwrap();
    assert_eq!(
        mine.items.iter().map(|t| t.id).collect::<Vec<_>>(),
        vec![tok.id]
    );
    assert_eq!(s.list_tokens(None, None, 50).await.unwrap().items.len(), 2);

    let rev = ev(
        SubjectType::ApiToken,
        tok.id,
        EventKind::ApiTokenRevoked,
        json!({}),
    );
    let revoked = s.revoke_token(tok.id, at(60), rev.clone()).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(at(60)));
    assert!(s.token_by_hash(&[7; 32]).await.unwrap_err().is_not_found());
    assert!(
        s.revoke_token(tok.id, at(61), rev)
            .await
            .unwrap_err()
            .is_not_found()
    );
    let kinds: Vec<_> = events_of(&s, SubjectType::ApiToken, tok.id)
        .await
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        vec![EventKind::ApiTokenCreated, EventKind::ApiTokenRevoked]
    );
}

pub async fn sessions_live_touch_and_end(s: Arc<dyn Store>) {
    let u = new_user("web@example.com", Role::Responder);
    s.create_user(u.clone(), user_created(&u)).await.unwrap();
    let ns = NewSession {
        id: SessionId::new(t0(), rnd()),
        user_id: u.id,
        hash: [3; 32],
        csrf_token: "csrf-abc".into(),
        created_at: t0(),
        client_addr: "127.0.0.1".into(),
    };
    let login = ev(SubjectType::User, u.id, EventKind::UserLoggedIn, json!({}));
    s.create_session(ns.clone(), login).await.unwrap();
    let (sess, user) = s.session_by_hash(&[3; 32]).await.unwrap();
    assert_eq!((sess.id, sess.user_id, user.id), (ns.id, u.id, u.id));
    assert_eq!(sess.csrf_token, "csrf-abc");
    s.touch_session(&[3; 32], at(100)).await.unwrap();
    assert_eq!(
        s.session_by_hash(&[3; 32]).await.unwrap().0.last_seen_at,
        at(100)
    );

    // Pruning removes sessions idle since before the cut-off, and keeps live ones.
    let pruned = s.prune(at(-1), at(50), at(-1)).await.unwrap();
    assert_eq!(pruned.sessions, 0);
    let pruned = s.prune(at(-1), at(101), at(-1)).await.unwrap();
    assert_eq!(pruned.sessions, 1);
    assert!(
        s.session_by_hash(&[3; 32])
            .await
            .unwrap_err()
            .is_not_found()
    );

    let mut again = ns.clone();
    again.id = SessionId::new(t0(), rnd());
    again.hash = [4; 32];
    s.create_session(
        again,
        ev(SubjectType::User, u.id, EventKind::UserLoggedIn, json!({})),
    )
    .await
    .unwrap();
    let out = ev(SubjectType::User, u.id, EventKind::UserLoggedOut, json!({}));
    s.delete_session(&[4; 32], Some(out.clone())).await.unwrap();
    assert!(
        s.session_by_hash(&[4; 32])
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        s.delete_session(&[4; 32], Some(out))
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
        kinds,
        vec![
            EventKind::UserCreated,
            EventKind::UserLoggedIn,
            EventKind::UserLoggedIn,
            EventKind::UserLoggedOut
        ]
    );
}

pub async fn login_failures_count_in_window(s: Arc<dyn Store>) {
    let keys = vec![
        "account:a@example.com".to_string(),
        "addr:10.0.0.1".to_string(),
    ];
    let failed = || {
        ev(
            SubjectType::System,
            "login",
            EventKind::UserLoginFailed,
            json!({}),
        )
    };
    for i in 0..3 {
        s.record_login_failure(&keys, at(i * 60), failed())
            .await
            .unwrap();
    }
    assert_eq!(
        s.count_login_failures("account:a@example.com", at(0))
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        s.count_login_failures("addr:10.0.0.1", at(60))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        s.count_login_failures("account:b@example.com", at(0))
            .await
            .unwrap(),
        0
    );
    s.clear_login_failures("account:a@example.com")
        .await
        .unwrap();
    assert_eq!(
        s.count_login_failures("account:a@example.com", at(0))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        s.count_login_failures("addr:10.0.0.1", at(0))
            .await
            .unwrap(),
        3
    );
    let pruned = s.prune(at(-1), at(-1), at(61)).await.unwrap();
    assert_eq!(pruned.login_failures, 2);
    assert_eq!(
        s.count_login_failures("addr:10.0.0.1", at(0))
            .await
            .unwrap(),
        1
    );
}

/// A server key is made once, at random, and then the same for everyone: racing first callers
/// (several instances starting at once) all get the one key stored.
pub async fn server_keys_are_made_once_and_shared(s: Arc<dyn Store>) {
    let mut racers = Vec::new();
    for _ in 0..8 {
        let s = s.clone();
        racers.push(tokio::spawn(async move { s.server_key("ack-links").await }));
    }
    let mut keys = Vec::new();
    for r in racers {
        keys.push(r.await.unwrap().unwrap());
    }
    let key = keys[0];
    assert!(keys.iter().all(|k| *k == key), "racers saw different keys");
    assert_ne!(key, [0u8; 32]);
    assert!(
        key.iter().collect::<HashSet<_>>().len() > 8,
        "not random: {key:?}"
    );
    // Kept: asking again (a restart reads the same table) gives the same key.
    assert_eq!(s.server_key("ack-links").await.unwrap(), key);
    // Another name is another key.
    let other = s.server_key("something-else").await.unwrap();
    assert_ne!(other, key);
    assert_eq!(s.server_key("something-else").await.unwrap(), other);
    assert_eq!(s.server_key("ack-links").await.unwrap(), key);
}
