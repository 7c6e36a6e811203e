//! The behaviour every backend must show. Each case takes a freshly migrated, empty store.
use std::collections::HashSet;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use klaxon_domain::auth::{DisplayName, EmailAddress, Role, TokenName};
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{ApiTokenId, JobId, SessionId, UserId};
use klaxon_store::*;
use serde_json::json;

fn t0() -> Timestamp {
    "2026-11-21T09:00:00Z".parse().unwrap()
}

fn at(secs: i64) -> Timestamp {
    t0().checked_add(SignedDuration::from_secs(secs)).unwrap()
}

fn rnd() -> [u8; 10] {
    let mut b = [0u8; 10];
    getrandom::fill(&mut b).unwrap();
    b
}

fn new_user(email: &str, role: Role) -> NewUser {
    NewUser {
        id: UserId::new(t0(), rnd()),
        email: EmailAddress::parse(email).unwrap(),
        name: DisplayName::parse("Test Person").unwrap(),
        role,
        password_hash: "$argon2id$fake".into(),
        created_at: t0(),
    }
}

fn ev(
    st: SubjectType,
    id: impl std::fmt::Display,
    kind: EventKind,
    data: serde_json::Value,
) -> NewEvent {
    NewEvent::new(st, id, t0(), Actor::System, kind, data)
}

fn user_created(u: &NewUser) -> NewEvent {
    ev(
        SubjectType::User,
        u.id,
        EventKind::UserCreated,
        json!({"email": u.email}),
    )
}

fn new_token(user: UserId, role: Role, seed: u8) -> NewApiToken {
    NewApiToken {
        id: ApiTokenId::new(t0(), rnd()),
        name: TokenName::parse("ci").unwrap(),
        role,
        user_id: user,
        prefix: format!("klx_{seed:02x}"),
        hash: [seed; 32],
        created_at: t0(),
    }
}

fn new_job(kind: &str, key: Option<&str>, run_at: Timestamp) -> NewJob {
    NewJob {
        id: JobId::new(t0(), rnd()),
        kind: kind.into(),
        dedup_key: key.map(Into::into),
        payload: json!({"n": 1}),
        run_at,
        created_at: t0(),
    }
}

async fn events_of(s: &Arc<dyn Store>, st: SubjectType, id: impl std::fmt::Display) -> Vec<Event> {
    s.events(st, &id.to_string(), None, 100).await.unwrap()
}

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

pub async fn events_read_back_per_subject_in_order(s: Arc<dyn Store>) {
    for i in 0..5 {
        s.append_event(ev(
            SubjectType::System,
            "a",
            EventKind::SystemNote,
            json!({"i": i}),
        ))
        .await
        .unwrap();
        s.append_event(ev(
            SubjectType::System,
            "b",
            EventKind::SystemNote,
            json!({"i": i}),
        ))
        .await
        .unwrap();
    }
    let a = events_of(&s, SubjectType::System, "a").await;
    assert_eq!(
        a.iter()
            .map(|e| e.data["i"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        vec![0, 1, 2, 3, 4]
    );
    assert!(a.windows(2).all(|w| w[0].seq < w[1].seq));
    assert!(
        a.iter()
            .all(|e| e.subject_id == "a" && e.actor == Actor::System && e.at == t0())
    );
    let rest = s
        .events(SubjectType::System, "a", Some(a[2].seq), 100)
        .await
        .unwrap();
    assert_eq!(rest, a[3..].to_vec());
    let first_two = s.events(SubjectType::System, "a", None, 2).await.unwrap();
    assert_eq!(first_two, a[..2].to_vec());
}

pub async fn jobs_enqueue_claim_complete(s: Arc<dyn Store>) {
    let j = new_job("escalate", Some("incident:1:step"), at(10));
    assert_eq!(s.enqueue_job(j.clone()).await.unwrap(), Enqueued::New(j.id));
    // Same key while pending: the existing job stays, nothing new is written.
    let dup = new_job("escalate", Some("incident:1:step"), at(0));
    assert_eq!(
        s.enqueue_job(dup.clone()).await.unwrap(),
        Enqueued::Existing(j.id)
    );
    assert!(s.job(dup.id).await.unwrap_err().is_not_found());

    // Not due yet.
    assert!(
        s.claim_jobs("w1", at(9), at(69), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let claimed = s.claim_jobs("w1", at(10), at(70), 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!((claimed[0].id, claimed[0].attempts), (j.id, 1));
    assert_eq!(claimed[0].lease_owner.as_deref(), Some("w1"));
    assert_eq!(claimed[0].payload, json!({"n": 1}));
    // Leased: nobody else gets it.
    assert!(
        s.claim_jobs("w2", at(20), at(80), 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Only the lease holder may complete it.
    assert!(s.complete_job(j.id, "w2").await.unwrap_err().is_not_found());
    s.complete_job(j.id, "w1").await.unwrap();
    assert!(s.job(j.id).await.unwrap_err().is_not_found());
    // Once done, the key is free again.
    let next = new_job("escalate", Some("incident:1:step"), at(0));
    assert_eq!(
        s.enqueue_job(next.clone()).await.unwrap(),
        Enqueued::New(next.id)
    );
}

pub async fn jobs_with_expired_leases_are_reclaimed(s: Arc<dyn Store>) {
    let j = new_job("notify", None, at(0));
    s.enqueue_job(j.clone()).await.unwrap();
    assert_eq!(
        s.claim_jobs("dead-worker", at(0), at(60), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        s.claim_jobs("w2", at(59), at(119), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let again = s.claim_jobs("w2", at(60), at(120), 10).await.unwrap();
    assert_eq!((again[0].id, again[0].attempts), (j.id, 2));
    // The old owner lost its lease and cannot complete it.
    assert!(
        s.complete_job(j.id, "dead-worker")
            .await
            .unwrap_err()
            .is_not_found()
    );
    s.complete_job(j.id, "w2").await.unwrap();
}

pub async fn jobs_retry_bury_and_cancel(s: Arc<dyn Store>) {
    let j = new_job("webhook", Some("delivery:9"), at(0));
    s.enqueue_job(j.clone()).await.unwrap();
    s.claim_jobs("w", at(0), at(60), 10).await.unwrap();
    s.retry_job(j.id, "w", "connection refused", at(5))
        .await
        .unwrap();
    let stored = s.job(j.id).await.unwrap();
    assert_eq!(stored.run_at, at(5));
    assert_eq!(stored.last_error.as_deref(), Some("connection refused"));
    assert_eq!((stored.lease_owner, stored.attempts), (None, 1));
    assert!(
        s.claim_jobs("w", at(4), at(64), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.claim_jobs("w", at(5), at(65), 10).await.unwrap()[0].attempts,
        2
    );

    let dead = ev(
        SubjectType::Job,
        j.id,
        EventKind::JobDead,
        json!({"error": "gave up"}),
    );
    s.bury_job(j.id, "w", "gave up", dead).await.unwrap();
    let stored = s.job(j.id).await.unwrap();
    assert!(stored.dead_at.is_some());
    assert!(
        s.claim_jobs("w", at(10_000), at(10_060), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        events_of(&s, SubjectType::Job, j.id).await[0].kind,
        EventKind::JobDead
    );
    // A dead job keeps its record but frees its key; cancelling leaves dead jobs alone.
    let fresh = new_job("webhook", Some("delivery:9"), at(0));
    assert_eq!(
        s.enqueue_job(fresh.clone()).await.unwrap(),
        Enqueued::New(fresh.id)
    );
    assert_eq!(s.cancel_jobs("delivery:9").await.unwrap(), 1);
    assert!(s.job(fresh.id).await.unwrap_err().is_not_found());
    assert!(s.job(j.id).await.is_ok());
    assert_eq!(s.cancel_jobs("delivery:9").await.unwrap(), 0);
    assert_eq!(s.list_jobs(None, 10).await.unwrap().items.len(), 1);
}

/// Several workers claiming at once never share a job.
pub async fn concurrent_claims_never_share_a_job(s: Arc<dyn Store>) {
    let n = 120;
    for _ in 0..n {
        s.enqueue_job(new_job("work", None, at(0))).await.unwrap();
    }
    let mut workers = Vec::new();
    for w in 0..4 {
        let s = s.clone();
        workers.push(tokio::spawn(async move {
            let owner = format!("w{w}");
            let mut mine = Vec::new();
            loop {
                let batch = s.claim_jobs(&owner, at(1), at(61), 7).await.unwrap();
                if batch.is_empty() {
                    break mine;
                }
                for j in batch {
                    s.complete_job(j.id, &owner).await.unwrap();
                    mine.push(j.id);
                }
            }
        }));
    }
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), n);
    assert_eq!(unique.len(), n);
}

/// Concurrent writers through group commit: every acknowledged write is stored, in fewer
/// transactions than writes.
pub async fn group_commit_batches_and_acknowledges_every_write(s: Arc<dyn Store>) {
    let (gc, writer) = GroupCommit::spawn(s.clone(), 64);
    let mut tasks = Vec::new();
    for i in 0..400 {
        let gc = gc.clone();
        tasks.push(tokio::spawn(async move {
            let e = ev(
                SubjectType::System,
                "gc",
                EventKind::SystemNote,
                json!({"i": i}),
            );
            gc.write(Write::Event(e)).await.unwrap()
        }));
    }
    let mut seqs = HashSet::new();
    for t in tasks {
        match t.await.unwrap() {
            WriteAck::Event { seq } => assert!(seqs.insert(seq)),
            other => panic!("unexpected ack {other:?}"),
        }
    }
    let batches = gc
        .stats()
        .batches
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        batches < 400,
        "writes were batched ({batches} transactions for 400 writes)"
    );
    gc.shutdown();
    writer.await.unwrap();
    let refused = gc
        .write(Write::Event(ev(
            SubjectType::System,
            "gc",
            EventKind::SystemNote,
            json!({}),
        )))
        .await;
    assert!(
        matches!(refused, Err(StoreError::Unavailable(_))),
        "no writes after shutdown"
    );
    let stored = s
        .events(SubjectType::System, "gc", None, 1000)
        .await
        .unwrap();
    assert_eq!(stored.len(), 400);
    assert_eq!(stored.iter().map(|e| e.seq).collect::<HashSet<_>>(), seqs);
}

/// One failing write in a batch fails alone; the others still commit.
pub async fn a_bad_write_does_not_sink_its_batch(s: Arc<dyn Store>) {
    let existing = new_job("x", None, at(0));
    s.enqueue_job(existing.clone()).await.unwrap();
    let mut clash = new_job("x", None, at(0));
    clash.id = existing.id; // same primary key: must fail
    let results = s
        .commit_batch(vec![
            Write::Event(ev(
                SubjectType::System,
                "batch",
                EventKind::SystemNote,
                json!({"i": 1}),
            )),
            Write::Job(clash),
            Write::Event(ev(
                SubjectType::System,
                "batch",
                EventKind::SystemNote,
                json!({"i": 2}),
            )),
        ])
        .await;
    assert!(matches!(results[0], Ok(WriteAck::Event { .. })));
    assert!(
        matches!(results[1], Err(StoreError::Conflict { .. })),
        "{:?}",
        results[1]
    );
    assert!(matches!(results[2], Ok(WriteAck::Event { .. })));
    assert_eq!(events_of(&s, SubjectType::System, "batch").await.len(), 2);
    assert_eq!(s.list_jobs(None, 10).await.unwrap().items.len(), 1);
}

/// Runs `$case` against every backend, each on its own fresh database.
#[macro_export]
macro_rules! contract_tests {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let db = $crate::TestDatabase::new($crate::Backend::Sqlite).await.unwrap();
                    $crate::contract::$case(db.open().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(db) = $crate::TestDatabase::new($crate::Backend::Postgres).await else { return };
                    $crate::contract::$case(db.open().await).await;
                }
            )*
        }
    };
}
