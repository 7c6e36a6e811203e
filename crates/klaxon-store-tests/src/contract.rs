//! The behaviour every backend must show. Each case takes a freshly migrated, empty store.
use std::collections::HashSet;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use klaxon_domain::alert::{
    Action, Aggregate, AlertContent, AlertStatus, DedupKey, GroupField, Grouping, Image,
    IntegrationKind, Link, Severity, Signal, Step, Urgency, UrgencyRule,
};
use klaxon_domain::auth::{DisplayName, EmailAddress, Role, TokenName};
use klaxon_domain::contact::{ContactKind, NotificationStatus};
use klaxon_domain::escalation::{Level, Plan, STEP_JOB, StepJob, Target, step_job_key};
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{
    AlertId, ApiTokenId, ContactMethodId, EscalationPolicyId, IncidentId, IntegrationId, JobId,
    MaintenanceWindowId, NotificationId, NotificationRuleId, ServiceId, SessionId, UserId,
};
use klaxon_domain::incident::IncidentStatus;
use klaxon_store::*;
use serde_json::json;

mod incidents;
mod schedules;
mod users;
pub use incidents::*;
pub use schedules::*;
pub use users::*;

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
    assert_eq!(
        s.count_live_jobs().await.unwrap(),
        0,
        "the dead one is not counted"
    );
    let fresh = new_job("webhook", Some("delivery:9"), at(0));
    assert_eq!(
        s.enqueue_job(fresh.clone()).await.unwrap(),
        Enqueued::New(fresh.id)
    );
    assert_eq!(s.count_live_jobs().await.unwrap(), 1);
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

// --- services, integrations, maintenance windows ----------------------------------------------

fn mins(m: i64) -> Timestamp {
    at(m * 60)
}

fn key32() -> [u8; 32] {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).unwrap();
    b
}

fn new_service(name: &str, grouping: Grouping, auto_resolve: bool) -> Service {
    Service {
        id: ServiceId::new(t0(), rnd()),
        name: name.into(),
        description: format!("the {name} service"),
        urgency_rule: UrgencyRule::SeverityBased,
        grouping,
        auto_resolve,
        escalation_policy_id: None,
        created_at: t0(),
        updated_at: t0(),
    }
}

fn service_ev(id: ServiceId, kind: EventKind) -> NewEvent {
    ev(SubjectType::Service, id, kind, json!({}))
}

fn integration_ev(id: IntegrationId, kind: EventKind) -> NewEvent {
    ev(SubjectType::Integration, id, kind, json!({}))
}

fn new_integration(service: ServiceId, name: &str) -> NewIntegration {
    let hash = key32();
    NewIntegration {
        integration: Integration {
            id: IntegrationId::new(t0(), rnd()),
            service_id: service,
            name: name.into(),
            kind: IntegrationKind::EventsV2,
            key_prefix: format!("klxi_{:02x}{:02x}", hash[0], hash[1]),
            rate_limit_per_minute: 120,
            heartbeat_interval_secs: None,
            last_ping_at: None,
            created_at: t0(),
            key_rotated_at: t0(),
        },
        key_hash: hash,
    }
}

fn window(service: ServiceId, from_min: i64, to_min: i64, what: &str) -> MaintenanceWindow {
    MaintenanceWindow {
        id: MaintenanceWindowId::new(t0(), rnd()),
        service_id: service,
        starts_at: mins(from_min),
        ends_at: mins(to_min),
        description: what.into(),
        created_at: t0(),
    }
}

fn content(summary: &str, severity: Severity) -> AlertContent {
    AlertContent {
        summary: summary.into(),
        source: None,
        severity,
        timestamp: None,
        component: None,
        group: None,
        class: None,
        details: json!({}),
        links: vec![],
        images: vec![],
        client: None,
        client_url: None,
    }
}

/// Content with every field set, to check it reads back whole.
fn rich_content(summary: &str) -> AlertContent {
    AlertContent {
        summary: summary.into(),
        source: Some("prometheus-eu".into()),
        severity: Severity::Critical,
        timestamp: Some(at(30)),
        component: Some("api".into()),
        group: Some("frontend".into()),
        class: Some("latency".into()),
        details: json!({"labels": {"job": "api", "region": "eu"}, "value": 3, "ok": false}),
        links: vec![Link {
            href: "https://grafana.example.com/d/1".into(),
            text: Some("dashboard".into()),
        }],
        images: vec![Image {
            src: "https://img.example.com/1.png".into(),
            href: None,
            alt: Some("graph".into()),
        }],
        client: Some("Prometheus".into()),
        client_url: Some("https://prom.example.com".into()),
    }
}

/// A service with one integration, ready to receive signals.
#[derive(Clone)]
struct Monitored {
    service: Service,
    integration: Integration,
    key_hash: [u8; 32],
}

impl Monitored {
    fn signal(
        &self,
        action: Action,
        key: &str,
        content: Option<AlertContent>,
        when: Timestamp,
    ) -> SignalWrite {
        SignalWrite {
            service_id: self.service.id,
            integration_id: self.integration.id,
            signal: Signal {
                action,
                dedup_key: DedupKey::parse(key).unwrap(),
                content,
            },
            at: when,
            new_alert_id: AlertId::new(when, rnd()),
            new_incident_id: IncidentId::new(when, rnd()),
            new_job_id: JobId::new(when, rnd()),
        }
    }

    fn trigger(&self, key: &str, summary: &str, when: Timestamp) -> SignalWrite {
        self.trigger_with(key, content(summary, Severity::Critical), when)
    }

    fn trigger_with(&self, key: &str, c: AlertContent, when: Timestamp) -> SignalWrite {
        self.signal(Action::Trigger, key, Some(c), when)
    }

    fn acknowledge(&self, key: &str, when: Timestamp) -> SignalWrite {
        self.signal(Action::Acknowledge, key, None, when)
    }

    fn resolve(&self, key: &str, when: Timestamp) -> SignalWrite {
        self.signal(Action::Resolve, key, None, when)
    }
}

async fn monitored(s: &Arc<dyn Store>, name: &str, grouping: Grouping, auto: bool) -> Monitored {
    monitored_service(s, new_service(name, grouping, auto)).await
}

/// Creates the service as given, with one integration.
async fn monitored_service(s: &Arc<dyn Store>, svc: Service) -> Monitored {
    let service = s
        .create_service(svc.clone(), service_ev(svc.id, EventKind::ServiceCreated))
        .await
        .unwrap();
    let ni = new_integration(service.id, "monitoring");
    let integration = s
        .create_integration(
            ni.clone(),
            integration_ev(ni.integration.id, EventKind::IntegrationCreated),
        )
        .await
        .unwrap();
    Monitored {
        service,
        integration,
        key_hash: ni.key_hash,
    }
}

/// Commits signals as one batch; each must succeed.
async fn apply_all(s: &Arc<dyn Store>, writes: Vec<SignalWrite>) -> Vec<SignalAck> {
    let n = writes.len();
    let results = s
        .commit_batch(
            writes
                .into_iter()
                .map(|w| Write::Signal(Box::new(w)))
                .collect(),
        )
        .await;
    assert_eq!(results.len(), n, "one answer per write");
    results
        .into_iter()
        .map(|r| match r {
            Ok(WriteAck::Signal(a)) => a,
            other => panic!("expected a signal ack, got {other:?}"),
        })
        .collect()
}

async fn apply(s: &Arc<dyn Store>, w: SignalWrite) -> SignalAck {
    apply_all(s, vec![w]).await.pop().unwrap()
}

fn opened(w: &SignalWrite, incident: Option<IncidentId>, incident_opened: bool) -> SignalAck {
    SignalAck {
        step: Step::Open,
        alert_id: Some(w.new_alert_id),
        incident_id: incident,
        incident_opened,
    }
}

fn kinds(evs: &[Event]) -> Vec<EventKind> {
    evs.iter().map(|e| e.kind).collect()
}

async fn alerts_where(s: &Arc<dyn Store>, f: AlertFilter) -> Vec<Alert> {
    let page = s.list_alerts(&f, None, 1000).await.unwrap();
    assert_eq!(page.next, None);
    page.items
}

async fn incidents_where(s: &Arc<dyn Store>, f: IncidentFilter) -> Vec<Incident> {
    let page = s.list_incidents(&f, None, 1000).await.unwrap();
    assert_eq!(page.next, None);
    page.items
}

fn of_service(id: ServiceId) -> AlertFilter {
    AlertFilter {
        service_id: Some(id),
        ..AlertFilter::default()
    }
}

pub async fn services_are_created_listed_updated_and_unique(s: Arc<dyn Store>) {
    let a = new_service("checkout", Grouping::None, true);
    let created = s
        .create_service(a.clone(), service_ev(a.id, EventKind::ServiceCreated))
        .await
        .unwrap();
    assert_eq!(created, a);
    assert_eq!(s.service(a.id).await.unwrap(), a);
    assert!(
        s.service(ServiceId::new(t0(), rnd()))
            .await
            .unwrap_err()
            .is_not_found()
    );

    // Every grouping rule and urgency rule reads back as written.
    let mut b = new_service(
        "payments",
        Grouping::Content {
            fields: vec![GroupField::Source, GroupField::Detail("labels.job".into())],
            aggregate: Aggregate::Any,
            window_minutes: 30,
        },
        false,
    );
    b.urgency_rule = UrgencyRule::Low;
    s.create_service(b.clone(), service_ev(b.id, EventKind::ServiceCreated))
        .await
        .unwrap();
    assert_eq!(s.service(b.id).await.unwrap(), b);

    // A taken name: a named conflict, and neither the service nor its event is written.
    let dup = new_service("checkout", Grouping::Time { window_minutes: 5 }, true);
    match s
        .create_service(dup.clone(), service_ev(dup.id, EventKind::ServiceCreated))
        .await
    {
        Err(StoreError::Conflict { constraint }) => assert_eq!(constraint, "services_name"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(s.service(dup.id).await.unwrap_err().is_not_found());
    assert!(events_of(&s, SubjectType::Service, dup.id).await.is_empty());

    // Listing pages through every service in id order.
    let mut ids = vec![a.id, b.id];
    for i in 0..5 {
        let svc = new_service(&format!("svc{i}"), Grouping::None, true);
        ids.push(svc.id);
        s.create_service(svc.clone(), service_ev(svc.id, EventKind::ServiceCreated))
            .await
            .unwrap();
    }
    ids.sort();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = s.list_services(after, 3).await.unwrap();
        assert!(page.items.len() <= 3);
        seen.extend(page.items.iter().map(|s| s.id));
        match page.next {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    let exact = s.list_services(None, 7).await.unwrap();
    assert_eq!((exact.items.len(), exact.next), (7, None));

    // Updating replaces the settings but not the creation time.
    let mut changed = a.clone();
    changed.name = "checkout-api".into();
    changed.description = "renamed".into();
    changed.urgency_rule = UrgencyRule::High;
    changed.grouping = Grouping::Time { window_minutes: 15 };
    changed.auto_resolve = false;
    changed.updated_at = at(60);
    changed.created_at = at(999);
    let updated = s
        .update_service(changed.clone(), service_ev(a.id, EventKind::ServiceUpdated))
        .await
        .unwrap();
    let expected = Service {
        created_at: a.created_at,
        ..changed
    };
    assert_eq!(updated, expected);
    assert_eq!(s.service(a.id).await.unwrap(), expected);

    // Renaming onto a taken name is the same conflict, and changes nothing.
    let mut clash = expected.clone();
    clash.name = "payments".into();
    match s
        .update_service(clash, service_ev(a.id, EventKind::ServiceUpdated))
        .await
    {
        Err(StoreError::Conflict { constraint }) => assert_eq!(constraint, "services_name"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(s.service(a.id).await.unwrap(), expected);

    let ghost = new_service("ghost", Grouping::None, true);
    assert!(
        s.update_service(
            ghost.clone(),
            service_ev(ghost.id, EventKind::ServiceUpdated)
        )
        .await
        .unwrap_err()
        .is_not_found()
    );
    assert!(
        events_of(&s, SubjectType::Service, ghost.id)
            .await
            .is_empty()
    );
    assert_eq!(
        kinds(&events_of(&s, SubjectType::Service, a.id).await),
        vec![EventKind::ServiceCreated, EventKind::ServiceUpdated]
    );
}

pub async fn service_deletion_waits_for_open_alerts_and_cascades(s: Arc<dyn Store>) {
    let m = monitored(&s, "db", Grouping::None, true).await;
    let other = monitored(&s, "web", Grouping::None, true).await;
    let w = window(m.service.id, 600, 660, "upgrade");
    s.create_maintenance(
        w.clone(),
        service_ev(m.service.id, EventKind::MaintenanceScheduled),
    )
    .await
    .unwrap();
    let trig = m.trigger("disk", "disk full", mins(1));
    let ack = apply(&s, trig.clone()).await;
    assert_eq!(ack, opened(&trig, Some(trig.new_incident_id), true));
    let other_alert = apply(&s, other.trigger("disk", "disk full", mins(1))).await;

    let deleted = || service_ev(m.service.id, EventKind::ServiceDeleted);
    let refused = |r: StoreResult<()>| match r {
        Err(StoreError::Conflict { constraint }) => assert_eq!(constraint, "open_alerts"),
        other => panic!("expected open_alerts, got {other:?}"),
    };
    // Triggered and acknowledged alerts are open: the service stays, whole.
    refused(s.delete_service(m.service.id, deleted()).await);
    assert_eq!(
        apply(&s, m.acknowledge("disk", mins(2))).await.step,
        Step::Acknowledge
    );
    refused(s.delete_service(m.service.id, deleted()).await);
    assert_eq!(s.service(m.service.id).await.unwrap(), m.service);
    assert_eq!(
        s.list_integrations(m.service.id).await.unwrap(),
        vec![m.integration.clone()]
    );
    assert_eq!(
        s.list_maintenance(m.service.id, t0()).await.unwrap(),
        vec![w.clone()]
    );

    // Once resolved, the service goes with its integrations, windows and alerts.
    assert_eq!(
        apply(&s, m.resolve("disk", mins(3))).await.step,
        Step::Resolve
    );
    s.delete_service(m.service.id, deleted()).await.unwrap();
    assert!(s.service(m.service.id).await.unwrap_err().is_not_found());
    assert!(
        s.integration(m.integration.id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        s.integration_by_key(&m.key_hash)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(s.list_integrations(m.service.id).await.unwrap().is_empty());
    assert!(
        s.list_maintenance(m.service.id, t0())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(s.alert(trig.new_alert_id).await.unwrap_err().is_not_found());
    assert!(alerts_where(&s, of_service(m.service.id)).await.is_empty());

    // Its incident stays, without a service.
    let inc = s.incident(trig.new_incident_id).await.unwrap();
    assert_eq!(inc.service_id, None);
    assert_eq!((inc.number, inc.status), (1, IncidentStatus::Resolved));
    assert_eq!(
        incidents_where(&s, IncidentFilter::default()).await.len(),
        2
    );
    assert!(
        incidents_where(
            &s,
            IncidentFilter {
                service_id: Some(m.service.id),
                ..IncidentFilter::default()
            }
        )
        .await
        .is_empty()
    );

    // The other service is untouched.
    assert_eq!(s.service(other.service.id).await.unwrap(), other.service);
    assert_eq!(
        s.integration_by_key(&other.key_hash).await.unwrap(),
        other.integration
    );
    assert_eq!(
        s.alert(other_alert.alert_id.unwrap()).await.unwrap().status,
        AlertStatus::Triggered
    );

    assert!(
        s.delete_service(m.service.id, deleted())
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(
        kinds(&events_of(&s, SubjectType::Service, m.service.id).await),
        vec![
            EventKind::ServiceCreated,
            EventKind::MaintenanceScheduled,
            EventKind::ServiceDeleted
        ]
    );
}

pub async fn integrations_are_found_by_key_rotated_and_deleted(s: Arc<dyn Store>) {
    let svc = new_service("queue", Grouping::None, true);
    s.create_service(svc.clone(), service_ev(svc.id, EventKind::ServiceCreated))
        .await
        .unwrap();

    // For a missing service: NotFound, nothing written.
    let orphan = new_integration(ServiceId::new(t0(), rnd()), "lost");
    let oid = orphan.integration.id;
    assert!(
        s.create_integration(orphan, integration_ev(oid, EventKind::IntegrationCreated))
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(s.integration(oid).await.unwrap_err().is_not_found());
    assert!(
        events_of(&s, SubjectType::Integration, oid)
            .await
            .is_empty()
    );

    let mut a = new_integration(svc.id, "alertmanager");
    a.integration.kind = IntegrationKind::Alertmanager;
    let mut b = new_integration(svc.id, "heartbeat");
    b.integration.kind = IntegrationKind::Heartbeat;
    b.integration.rate_limit_per_minute = 0;
    b.integration.heartbeat_interval_secs = Some(300);
    b.integration.last_ping_at = Some(at(5));
    let aid = a.integration.id;
    let bid = b.integration.id;
    let created = s
        .create_integration(
            a.clone(),
            integration_ev(aid, EventKind::IntegrationCreated),
        )
        .await
        .unwrap();
    assert_eq!(created, a.integration);
    s.create_integration(
        b.clone(),
        integration_ev(bid, EventKind::IntegrationCreated),
    )
    .await
    .unwrap();
    assert_eq!(s.integration(aid).await.unwrap(), a.integration);
    assert_eq!(s.integration(bid).await.unwrap(), b.integration);
    assert_eq!(
        s.integration_by_key(&a.key_hash).await.unwrap(),
        a.integration
    );
    assert_eq!(
        s.integration_by_key(&b.key_hash).await.unwrap(),
        b.integration
    );
    assert!(
        s.integration_by_key(&key32())
            .await
            .unwrap_err()
            .is_not_found()
    );
    let mut listed = s.list_integrations(svc.id).await.unwrap();
    listed.sort_by_key(|i| i.id);
    let mut both = vec![a.integration.clone(), b.integration.clone()];
    both.sort_by_key(|i| i.id);
    assert_eq!(listed, both);
    assert!(
        s.list_integrations(ServiceId::new(t0(), rnd()))
            .await
            .unwrap()
            .is_empty()
    );

    // Two integrations never share a key.
    let mut clash = new_integration(svc.id, "clash");
    clash.key_hash = a.key_hash;
    let cid = clash.integration.id;
    assert!(
        matches!(
            s.create_integration(clash, integration_ev(cid, EventKind::IntegrationCreated))
                .await,
            Err(StoreError::Conflict { .. })
        ),
        "a duplicate key hash is a conflict"
    );
    assert!(
        events_of(&s, SubjectType::Integration, cid)
            .await
            .is_empty()
    );

    // Update changes name, rate limit and heartbeat interval; not kind, key or times.
    let mut changed = a.integration.clone();
    changed.name = "alertmanager-eu".into();
    changed.rate_limit_per_minute = 10;
    changed.heartbeat_interval_secs = Some(60);
    changed.kind = IntegrationKind::Generic;
    changed.key_prefix = "bogus".into();
    changed.created_at = at(99);
    let updated = s
        .update_integration(changed, integration_ev(aid, EventKind::IntegrationUpdated))
        .await
        .unwrap();
    let expected = Integration {
        name: "alertmanager-eu".into(),
        rate_limit_per_minute: 10,
        heartbeat_interval_secs: Some(60),
        ..a.integration.clone()
    };
    assert_eq!(updated, expected);
    assert_eq!(s.integration(aid).await.unwrap(), expected);
    let ghost = new_integration(svc.id, "ghost").integration;
    let gid = ghost.id;
    assert!(
        s.update_integration(ghost, integration_ev(gid, EventKind::IntegrationUpdated))
            .await
            .unwrap_err()
            .is_not_found()
    );

    // Rotation: the old key stops working at once, the new one works.
    let new_hash = key32();
    let rotated = s
        .rotate_integration_key(
            aid,
            "klxi_new",
            new_hash,
            at(300),
            integration_ev(aid, EventKind::IntegrationKeyRotated),
        )
        .await
        .unwrap();
    let expected = Integration {
        key_prefix: "klxi_new".into(),
        key_rotated_at: at(300),
        ..expected
    };
    assert_eq!(rotated, expected);
    assert!(
        s.integration_by_key(&a.key_hash)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(s.integration_by_key(&new_hash).await.unwrap(), expected);
    assert!(
        s.rotate_integration_key(
            gid,
            "klxi_x",
            key32(),
            at(301),
            integration_ev(gid, EventKind::IntegrationKeyRotated),
        )
        .await
        .unwrap_err()
        .is_not_found()
    );
    assert!(
        matches!(
            s.rotate_integration_key(
                aid,
                "klxi_b",
                b.key_hash,
                at(302),
                integration_ev(aid, EventKind::IntegrationKeyRotated),
            )
            .await,
            Err(StoreError::Conflict { .. })
        ),
        "rotating onto another integration's key is a conflict"
    );
    assert_eq!(s.integration_by_key(&new_hash).await.unwrap(), expected);
    assert_eq!(
        s.integration_by_key(&b.key_hash).await.unwrap(),
        b.integration
    );

    // Alerts outlive the integration that raised them.
    let via_b = Monitored {
        service: svc.clone(),
        integration: b.integration.clone(),
        key_hash: b.key_hash,
    };
    let trig = via_b.trigger("silence", "no heartbeat", mins(10));
    apply(&s, trig.clone()).await;
    assert_eq!(
        s.alert(trig.new_alert_id).await.unwrap().integration_id,
        Some(bid)
    );
    s.delete_integration(bid, integration_ev(bid, EventKind::IntegrationDeleted))
        .await
        .unwrap();
    let alert = s.alert(trig.new_alert_id).await.unwrap();
    assert_eq!(
        (alert.integration_id, alert.status),
        (None, AlertStatus::Triggered)
    );

    s.delete_integration(aid, integration_ev(aid, EventKind::IntegrationDeleted))
        .await
        .unwrap();
    assert!(s.integration(aid).await.unwrap_err().is_not_found());
    assert!(
        s.integration_by_key(&new_hash)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(s.list_integrations(svc.id).await.unwrap().is_empty());
    assert!(
        s.delete_integration(aid, integration_ev(aid, EventKind::IntegrationDeleted))
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(
        kinds(&events_of(&s, SubjectType::Integration, aid).await),
        vec![
            EventKind::IntegrationCreated,
            EventKind::IntegrationUpdated,
            EventKind::IntegrationKeyRotated,
            EventKind::IntegrationDeleted
        ]
    );
    assert!(
        events_of(&s, SubjectType::Integration, gid)
            .await
            .is_empty()
    );
}

pub async fn maintenance_windows_list_upcoming_and_delete_per_service(s: Arc<dyn Store>) {
    let a = monitored(&s, "a", Grouping::None, true).await;
    let b = monitored(&s, "b", Grouping::None, true).await;
    let (sa, sb) = (a.service.id, b.service.id);
    let past = window(sa, 0, 30, "past");
    let current = window(sa, 50, 90, "current");
    let future = window(sa, 120, 180, "future");
    let later = window(sa, 200, 260, "later");
    let elsewhere = window(sb, 50, 90, "other service");
    for w in [&later, &past, &future, &current, &elsewhere] {
        let created = s
            .create_maintenance(
                w.clone(),
                service_ev(w.service_id, EventKind::MaintenanceScheduled),
            )
            .await
            .unwrap();
        assert_eq!(&created, w);
    }
    let ghost = window(ServiceId::new(t0(), rnd()), 0, 10, "ghost");
    assert!(
        s.create_maintenance(
            ghost.clone(),
            service_ev(ghost.service_id, EventKind::MaintenanceScheduled)
        )
        .await
        .unwrap_err()
        .is_not_found()
    );

    // Only windows ending after `now`, soonest first, of that service.
    let list = |svc: ServiceId, m: i64| {
        let s = s.clone();
        async move { s.list_maintenance(svc, mins(m)).await.unwrap() }
    };
    assert_eq!(
        list(sa, -1).await,
        vec![past.clone(), current.clone(), future.clone(), later.clone()]
    );
    assert_eq!(
        list(sa, 60).await,
        vec![current.clone(), future.clone(), later.clone()]
    );
    assert_eq!(
        list(sa, 30).await,
        vec![current.clone(), future.clone(), later.clone()],
        "a window ending exactly now is over"
    );
    assert_eq!(list(sb, 60).await, vec![elsewhere.clone()]);
    assert!(list(sa, 300).await.is_empty());

    // Deleting needs the right service.
    assert!(
        s.delete_maintenance(
            sb,
            future.id,
            service_ev(sb, EventKind::MaintenanceCancelled)
        )
        .await
        .unwrap_err()
        .is_not_found()
    );
    assert_eq!(
        list(sa, 60).await,
        vec![current.clone(), future.clone(), later.clone()]
    );
    s.delete_maintenance(
        sa,
        future.id,
        service_ev(sa, EventKind::MaintenanceCancelled),
    )
    .await
    .unwrap();
    assert_eq!(list(sa, 60).await, vec![current.clone(), later.clone()]);
    assert!(
        s.delete_maintenance(
            sa,
            future.id,
            service_ev(sa, EventKind::MaintenanceCancelled)
        )
        .await
        .unwrap_err()
        .is_not_found()
    );
    assert_eq!(
        kinds(&events_of(&s, SubjectType::Service, sa).await),
        vec![
            EventKind::ServiceCreated,
            EventKind::MaintenanceScheduled,
            EventKind::MaintenanceScheduled,
            EventKind::MaintenanceScheduled,
            EventKind::MaintenanceScheduled,
            EventKind::MaintenanceCancelled
        ]
    );
    assert_eq!(
        kinds(&events_of(&s, SubjectType::Service, sb).await),
        vec![EventKind::ServiceCreated, EventKind::MaintenanceScheduled]
    );
}

// --- signals, alerts and incidents -------------------------------------------------------------

pub async fn a_trigger_opens_an_alert_and_an_incident(s: Arc<dyn Store>) {
    let m = monitored(&s, "api", Grouping::None, true).await;
    let c = rich_content("p99 latency above 2s");
    let trig = m.trigger_with("latency", c.clone(), mins(1));
    let ack = apply(&s, trig.clone()).await;
    assert_eq!(ack, opened(&trig, Some(trig.new_incident_id), true));

    let alert = s.alert(trig.new_alert_id).await.unwrap();
    assert_eq!(
        alert,
        Alert {
            id: trig.new_alert_id,
            service_id: m.service.id,
            integration_id: Some(m.integration.id),
            incident_id: Some(trig.new_incident_id),
            dedup_key: "latency".into(),
            status: AlertStatus::Triggered,
            content: c.clone(),
            count: 1,
            in_maintenance: false,
            created_at: mins(1),
            last_seen_at: mins(1),
            acknowledged_at: None,
            resolved_at: None,
        }
    );
    let incident = s.incident(trig.new_incident_id).await.unwrap();
    assert_eq!(
        incident,
        Incident {
            id: trig.new_incident_id,
            number: 1,
            title: c.summary.clone(),
            description: String::new(),
            status: IncidentStatus::Triggered,
            urgency: Urgency::High,
            severity: None,
            impact: None,
            priority: None,
            category: None,
            subcategory: None,
            reporter_id: None,
            service_id: Some(m.service.id),
            alert_count: 1,
            opened_by_alert: true,
            created_at: mins(1),
            impact_started_at: None,
            detected_at: Some(mins(1)),
            acknowledged_at: None,
            mitigated_at: None,
            resolved_at: None,
            closed_at: None,
            conference_url: None,
            chat_url: None,
            merged_into: None,
        }
    );
    assert!(
        s.alert(AlertId::new(t0(), rnd()))
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        s.incident(IncidentId::new(t0(), rnd()))
            .await
            .unwrap_err()
            .is_not_found()
    );

    // Another key: another incident, numbered next; a warning is low urgency under the
    // severity-based rule.
    let disk = m.trigger_with("disk", content("disk 85% full", Severity::Warning), mins(2));
    let ack = apply(&s, disk.clone()).await;
    assert_eq!(ack, opened(&disk, Some(disk.new_incident_id), true));
    let second = s.incident(disk.new_incident_id).await.unwrap();
    assert_eq!(
        (second.number, second.urgency, second.title.as_str()),
        (2, Urgency::Low, "disk 85% full")
    );

    // The timelines.
    let alert_evs = events_of(&s, SubjectType::Alert, trig.new_alert_id).await;
    assert_eq!(kinds(&alert_evs), vec![EventKind::AlertTriggered]);
    assert_eq!(alert_evs[0].at, mins(1));
    let timeline = events_of(&s, SubjectType::Incident, trig.new_incident_id).await;
    assert_eq!(
        kinds(&timeline),
        vec![EventKind::IncidentTriggered, EventKind::IncidentAlertAdded]
    );
    assert!(timeline.iter().all(|e| e.at == mins(1)));
    assert_eq!(timeline[1].data["alert_id"], json!(trig.new_alert_id));
}

pub async fn triggers_for_an_open_alert_deduplicate(s: Arc<dyn Store>) {
    let m = monitored(&s, "cpu", Grouping::None, true).await;
    let first = m.trigger("cpu", "cpu 91%", mins(1));
    apply(&s, first.clone()).await;

    let again_content = content("cpu 97%", Severity::Error);
    let again = m.trigger_with("cpu", again_content.clone(), mins(3));
    let ack = apply(&s, again.clone()).await;
    assert_eq!(
        ack,
        SignalAck {
            step: Step::Deduplicate,
            alert_id: Some(first.new_alert_id),
            incident_id: Some(first.new_incident_id),
            incident_opened: false,
        }
    );
    let alert = s.alert(first.new_alert_id).await.unwrap();
    assert_eq!(alert.count, 2);
    assert_eq!(alert.content, again_content, "the newest content wins");
    assert_eq!(
        (alert.created_at, alert.last_seen_at, alert.status),
        (mins(1), mins(3), AlertStatus::Triggered)
    );
    // The ids offered for a new alert and incident were not used.
    assert!(
        s.alert(again.new_alert_id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        s.incident(again.new_incident_id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    let incident = s.incident(first.new_incident_id).await.unwrap();
    assert_eq!(
        (incident.alert_count, incident.title.as_str()),
        (1, "cpu 91%")
    );

    // An acknowledged alert still absorbs triggers, and stays acknowledged.
    assert_eq!(
        apply(&s, m.acknowledge("cpu", mins(4))).await.step,
        Step::Acknowledge
    );
    let ack = apply(&s, m.trigger("cpu", "cpu 99%", mins(5))).await;
    assert_eq!(
        (ack.step, ack.alert_id, ack.incident_opened),
        (Step::Deduplicate, Some(first.new_alert_id), false)
    );
    let alert = s.alert(first.new_alert_id).await.unwrap();
    assert_eq!(
        (alert.count, alert.status, alert.content.summary.as_str()),
        (3, AlertStatus::Acknowledged, "cpu 99%")
    );

    assert_eq!(alerts_where(&s, AlertFilter::default()).await.len(), 1);
    assert_eq!(
        incidents_where(&s, IncidentFilter::default()).await.len(),
        1
    );
    assert_eq!(
        kinds(&events_of(&s, SubjectType::Alert, first.new_alert_id).await),
        vec![
            EventKind::AlertTriggered,
            EventKind::AlertDeduplicated,
            EventKind::AlertAcknowledged,
            EventKind::AlertDeduplicated
        ]
    );
    assert_eq!(
        kinds(&events_of(&s, SubjectType::Incident, first.new_incident_id).await),
        vec![
            EventKind::IncidentTriggered,
            EventKind::IncidentAlertAdded,
            EventKind::IncidentAcknowledged
        ]
    );
}

pub async fn acknowledging_an_alert_acknowledges_its_incident(s: Arc<dyn Store>) {
    // Time grouping without a window: both alerts join one incident.
    let m = monitored(&s, "mq", Grouping::Time { window_minutes: 0 }, true).await;
    let a = m.trigger("a", "queue a backed up", mins(1));
    let b = m.trigger("b", "queue b backed up", mins(2));
    let acks = apply_all(&s, vec![a.clone(), b.clone()]).await;
    let inc = a.new_incident_id;
    assert_eq!(
        acks,
        vec![opened(&a, Some(inc), true), opened(&b, Some(inc), false)]
    );

    let ack = apply(&s, m.acknowledge("a", mins(3))).await;
    assert_eq!(
        ack,
        SignalAck {
            step: Step::Acknowledge,
            alert_id: Some(a.new_alert_id),
            incident_id: Some(inc),
            incident_opened: false,
        }
    );
    let alert = s.alert(a.new_alert_id).await.unwrap();
    assert_eq!(
        (alert.status, alert.acknowledged_at),
        (AlertStatus::Acknowledged, Some(mins(3)))
    );
    assert_eq!(
        s.alert(b.new_alert_id).await.unwrap().status,
        AlertStatus::Triggered
    );
    let incident = s.incident(inc).await.unwrap();
    assert_eq!(
        (incident.status, incident.acknowledged_at),
        (IncidentStatus::Acknowledged, Some(mins(3)))
    );

    // Acknowledging an acknowledged alert is ignored and changes nothing.
    let ack = apply(&s, m.acknowledge("a", mins(4))).await;
    assert_eq!((ack.step, ack.incident_opened), (Step::Ignore, false));
    assert_eq!(
        s.alert(a.new_alert_id).await.unwrap().acknowledged_at,
        Some(mins(3))
    );

    // The second alert's acknowledgement leaves the incident's first one standing.
    assert_eq!(
        apply(&s, m.acknowledge("b", mins(5))).await.step,
        Step::Acknowledge
    );
    assert_eq!(
        s.incident(inc).await.unwrap().acknowledged_at,
        Some(mins(3))
    );
    assert_eq!(
        kinds(&events_of(&s, SubjectType::Alert, a.new_alert_id).await),
        vec![EventKind::AlertTriggered, EventKind::AlertAcknowledged]
    );
    assert_eq!(
        kinds(&events_of(&s, SubjectType::Incident, inc).await),
        vec![
            EventKind::IncidentTriggered,
            EventKind::IncidentAlertAdded,
            EventKind::IncidentAlertAdded,
            EventKind::IncidentAcknowledged
        ]
    );
}

pub async fn signals_for_no_open_alert_are_ignored(s: Arc<dyn Store>) {
    let m = monitored(&s, "dns", Grouping::None, true).await;
    let known = m.trigger("known", "resolver down", mins(1));
    apply(&s, known.clone()).await;
    let alert_before = s.alert(known.new_alert_id).await.unwrap();
    let alert_evs = events_of(&s, SubjectType::Alert, known.new_alert_id).await;
    let incident_evs = events_of(&s, SubjectType::Incident, known.new_incident_id).await;

    let ignored = SignalAck {
        step: Step::Ignore,
        alert_id: None,
        incident_id: None,
        incident_opened: false,
    };
    for w in [
        m.acknowledge("unknown", mins(2)),
        m.resolve("unknown", mins(3)),
    ] {
        assert_eq!(apply(&s, w.clone()).await, ignored);
        assert!(s.alert(w.new_alert_id).await.unwrap_err().is_not_found());
        assert!(
            s.incident(w.new_incident_id)
                .await
                .unwrap_err()
                .is_not_found()
        );
        assert!(
            events_of(&s, SubjectType::Alert, w.new_alert_id)
                .await
                .is_empty()
        );
    }
    // Nothing was written.
    assert_eq!(
        alerts_where(&s, AlertFilter::default()).await,
        vec![alert_before.clone()]
    );
    assert_eq!(
        incidents_where(&s, IncidentFilter::default()).await.len(),
        1
    );
    assert_eq!(
        events_of(&s, SubjectType::Alert, known.new_alert_id).await,
        alert_evs
    );
    assert_eq!(
        events_of(&s, SubjectType::Incident, known.new_incident_id).await,
        incident_evs
    );

    // A resolved alert is no longer open: acknowledging or resolving it again is ignored.
    assert_eq!(
        apply(&s, m.resolve("known", mins(4))).await.step,
        Step::Resolve
    );
    let resolved = s.alert(known.new_alert_id).await.unwrap();
    assert_eq!(apply(&s, m.resolve("known", mins(5))).await, ignored);
    assert_eq!(apply(&s, m.acknowledge("known", mins(6))).await, ignored);
    assert_eq!(s.alert(known.new_alert_id).await.unwrap(), resolved);
    assert_eq!(resolved.resolved_at, Some(mins(4)));
    assert_eq!(resolved.acknowledged_at, None);
}

pub async fn an_incident_resolves_once_all_its_alerts_resolve(s: Arc<dyn Store>) {
    let m = monitored(&s, "auto", Grouping::Time { window_minutes: 0 }, true).await;
    let a = m.trigger("a", "replica lag", mins(1));
    let b = m.trigger("b", "replica down", mins(2));
    apply_all(&s, vec![a.clone(), b.clone()]).await;
    let inc = a.new_incident_id;
    assert_eq!(s.incident(inc).await.unwrap().alert_count, 2);

    let ack = apply(&s, m.resolve("a", mins(3))).await;
    assert_eq!(
        ack,
        SignalAck {
            step: Step::Resolve,
            alert_id: Some(a.new_alert_id),
            incident_id: Some(inc),
            incident_opened: false,
        }
    );
    let alert = s.alert(a.new_alert_id).await.unwrap();
    assert_eq!(
        (alert.status, alert.resolved_at),
        (AlertStatus::Resolved, Some(mins(3)))
    );
    let incident = s.incident(inc).await.unwrap();
    assert_eq!(
        (incident.status, incident.resolved_at),
        (IncidentStatus::Triggered, None),
        "one alert is still open"
    );

    // Acknowledged alerts resolve too; the last one resolves the incident.
    apply(&s, m.acknowledge("b", mins(4))).await;
    assert_eq!(apply(&s, m.resolve("b", mins(5))).await.step, Step::Resolve);
    let alert = s.alert(b.new_alert_id).await.unwrap();
    assert_eq!(
        (alert.status, alert.acknowledged_at, alert.resolved_at),
        (AlertStatus::Resolved, Some(mins(4)), Some(mins(5)))
    );
    let incident = s.incident(inc).await.unwrap();
    assert_eq!(
        (incident.status, incident.resolved_at),
        (IncidentStatus::Resolved, Some(mins(5)))
    );
    assert_eq!(
        kinds(&events_of(&s, SubjectType::Incident, inc).await),
        vec![
            EventKind::IncidentTriggered,
            EventKind::IncidentAlertAdded,
            EventKind::IncidentAlertAdded,
            EventKind::IncidentAcknowledged,
            EventKind::IncidentResolved
        ]
    );
    assert_eq!(
        kinds(&events_of(&s, SubjectType::Alert, a.new_alert_id).await),
        vec![EventKind::AlertTriggered, EventKind::AlertResolved]
    );

    // Without auto-resolve the incident waits for a person.
    let manual = monitored(&s, "manual", Grouping::Time { window_minutes: 0 }, false).await;
    let x = manual.trigger("x", "certificate expires soon", mins(6));
    apply(&s, x.clone()).await;
    assert_eq!(
        apply(&s, manual.resolve("x", mins(7))).await.step,
        Step::Resolve
    );
    assert_eq!(
        s.alert(x.new_alert_id).await.unwrap().status,
        AlertStatus::Resolved
    );
    let incident = s.incident(x.new_incident_id).await.unwrap();
    assert_eq!(
        (incident.status, incident.resolved_at),
        (IncidentStatus::Triggered, None)
    );
    assert_eq!(
        kinds(&events_of(&s, SubjectType::Incident, x.new_incident_id).await),
        vec![EventKind::IncidentTriggered, EventKind::IncidentAlertAdded]
    );
}

pub async fn a_trigger_after_resolve_opens_a_new_alert(s: Arc<dyn Store>) {
    let m = monitored(&s, "flappy", Grouping::Time { window_minutes: 0 }, true).await;
    let first = m.trigger("k", "link down", mins(1));
    apply(&s, first.clone()).await;
    apply(&s, m.resolve("k", mins(2))).await;
    assert_eq!(
        s.incident(first.new_incident_id).await.unwrap().status,
        IncidentStatus::Resolved
    );

    let again = m.trigger("k", "link down again", mins(3));
    let ack = apply(&s, again.clone()).await;
    assert_eq!(
        ack,
        opened(&again, Some(again.new_incident_id), true),
        "a new alert, and a new incident: the resolved one is not joined"
    );
    let alert = s.alert(again.new_alert_id).await.unwrap();
    assert_eq!(
        (alert.status, alert.count, alert.created_at),
        (AlertStatus::Triggered, 1, mins(3))
    );
    let old = s.alert(first.new_alert_id).await.unwrap();
    assert_eq!((old.status, old.count), (AlertStatus::Resolved, 1));
    assert_eq!(s.incident(again.new_incident_id).await.unwrap().number, 2);
    assert_eq!(
        s.incident(first.new_incident_id).await.unwrap().alert_count,
        1
    );
    assert_eq!(
        alerts_where(&s, of_service(m.service.id))
            .await
            .iter()
            .map(|a| a.id)
            .collect::<Vec<_>>(),
        vec![again.new_alert_id, first.new_alert_id]
    );
    // Later signals for the key concern the new alert.
    let ack = apply(&s, m.acknowledge("k", mins(4))).await;
    assert_eq!(
        (ack.step, ack.alert_id),
        (Step::Acknowledge, Some(again.new_alert_id))
    );
}

pub async fn dedup_keys_are_per_service(s: Arc<dyn Store>) {
    let a = monitored(&s, "a", Grouping::None, true).await;
    let b = monitored(&s, "b", Grouping::None, true).await;
    let ta = a.trigger("shared", "down in a", mins(1));
    let tb = b.trigger("shared", "down in b", mins(2));
    assert_eq!(
        apply(&s, ta.clone()).await,
        opened(&ta, Some(ta.new_incident_id), true)
    );
    assert_eq!(
        apply(&s, tb.clone()).await,
        opened(&tb, Some(tb.new_incident_id), true)
    );
    let alert_a = s.alert(ta.new_alert_id).await.unwrap();
    let alert_b = s.alert(tb.new_alert_id).await.unwrap();
    assert_eq!(
        (alert_a.service_id, alert_a.integration_id),
        (a.service.id, Some(a.integration.id))
    );
    assert_eq!(
        (alert_b.service_id, alert_b.integration_id),
        (b.service.id, Some(b.integration.id))
    );
    assert_eq!(
        s.incident(tb.new_incident_id).await.unwrap().number,
        2,
        "incident numbers are global"
    );

    // Resolving in one service leaves the other's alert open.
    let ack = apply(&s, a.resolve("shared", mins(3))).await;
    assert_eq!(
        (ack.step, ack.alert_id),
        (Step::Resolve, Some(ta.new_alert_id))
    );
    assert_eq!(
        s.alert(tb.new_alert_id).await.unwrap().status,
        AlertStatus::Triggered
    );
    assert_eq!(
        s.incident(tb.new_incident_id).await.unwrap().status,
        IncidentStatus::Triggered
    );
    let ack = apply(&s, b.trigger("shared", "still down in b", mins(4))).await;
    assert_eq!(
        (ack.step, ack.alert_id),
        (Step::Deduplicate, Some(tb.new_alert_id))
    );
}

pub async fn time_grouping_joins_the_open_incident_within_its_window(s: Arc<dyn Store>) {
    let m = monitored(&s, "grouped", Grouping::Time { window_minutes: 10 }, true).await;
    let a = m.trigger("a", "first", mins(1));
    let b = m.trigger("b", "second", mins(6));
    let c = m.trigger("c", "third", mins(12));
    let d = m.trigger("d", "fourth", mins(15));
    let i1 = a.new_incident_id;
    let i2 = c.new_incident_id;
    assert_eq!(apply(&s, a.clone()).await, opened(&a, Some(i1), true));
    assert_eq!(
        apply(&s, b.clone()).await,
        opened(&b, Some(i1), false),
        "5 minutes later: joins"
    );
    assert_eq!(
        apply(&s, c.clone()).await,
        opened(&c, Some(i2), true),
        "11 minutes after the incident opened: a new one"
    );
    assert_eq!(
        apply(&s, d.clone()).await,
        opened(&d, Some(i2), false),
        "joins the newest incident within the window"
    );
    let first = s.incident(i1).await.unwrap();
    assert_eq!(
        (first.alert_count, first.title.as_str(), first.number),
        (2, "first", 1)
    );
    let second = s.incident(i2).await.unwrap();
    assert_eq!((second.alert_count, second.number), (2, 2));
    assert!(
        s.incident(b.new_incident_id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(s.alert(b.new_alert_id).await.unwrap().incident_id, Some(i1));
    let in_first = alerts_where(
        &s,
        AlertFilter {
            incident_id: Some(i1),
            ..AlertFilter::default()
        },
    )
    .await;
    assert_eq!(
        in_first.iter().map(|a| a.id).collect::<Vec<_>>(),
        vec![b.new_alert_id, a.new_alert_id]
    );
    assert_eq!(
        kinds(&events_of(&s, SubjectType::Incident, i1).await),
        vec![
            EventKind::IncidentTriggered,
            EventKind::IncidentAlertAdded,
            EventKind::IncidentAlertAdded
        ]
    );

    // Another service's incidents are never joined.
    let other = monitored(&s, "other", Grouping::Time { window_minutes: 0 }, true).await;
    let o = other.trigger("a", "elsewhere", mins(16));
    assert_eq!(
        apply(&s, o.clone()).await,
        opened(&o, Some(o.new_incident_id), true)
    );
}

pub async fn content_grouping_joins_on_equal_field_values(s: Arc<dyn Store>) {
    let all = Grouping::Content {
        fields: vec![GroupField::Source, GroupField::Detail("labels.job".into())],
        aggregate: Aggregate::All,
        window_minutes: 0,
    };
    let m = monitored(&s, "content-all", all, true).await;
    let c = |summary: &str, source: Option<&str>, job: &str| {
        let mut c = content(summary, Severity::Error);
        c.source = source.map(Into::into);
        c.details = json!({"labels": {"job": job}});
        c
    };
    let a = m.trigger_with("a", c("disk", Some("db1"), "postgres"), mins(1));
    let b = m.trigger_with("b", c("disk", Some("db2"), "postgres"), mins(2));
    let x = m.trigger_with("x", c("cpu", Some("db1"), "postgres"), mins(3));
    let n = m.trigger_with("n", c("disk", None, "postgres"), mins(4));
    let acks = apply_all(&s, vec![a.clone(), b.clone(), x.clone(), n.clone()]).await;
    assert_eq!(
        acks,
        vec![
            opened(&a, Some(a.new_incident_id), true),
            opened(&b, Some(b.new_incident_id), true),
            opened(&x, Some(a.new_incident_id), false),
            opened(&n, Some(n.new_incident_id), true),
        ],
        "joins only when every field is equal; a missing value never matches"
    );
    assert_eq!(s.incident(a.new_incident_id).await.unwrap().alert_count, 2);
    assert_eq!(s.incident(b.new_incident_id).await.unwrap().alert_count, 1);

    let any = Grouping::Content {
        fields: vec![GroupField::Source, GroupField::Component],
        aggregate: Aggregate::Any,
        window_minutes: 30,
    };
    let m = monitored(&s, "content-any", any, true).await;
    let c = |source: &str, component: &str| {
        let mut c = content("trouble", Severity::Critical);
        c.source = Some(source.into());
        c.component = Some(component.into());
        c
    };
    let p = m.trigger_with("p", c("db1", "api"), mins(1));
    let q = m.trigger_with("q", c("db9", "api"), mins(5));
    let r = m.trigger_with("r", c("db9", "web"), mins(40));
    let t = m.trigger_with("t", c("db1", "web"), mins(41));
    let acks = apply_all(&s, vec![p.clone(), q.clone(), r.clone(), t.clone()]).await;
    assert_eq!(
        acks,
        vec![
            opened(&p, Some(p.new_incident_id), true),
            // the component matches
            opened(&q, Some(p.new_incident_id), false),
            // the first incident is out of the window; its values are the first alert's
            opened(&r, Some(r.new_incident_id), true),
            opened(&t, Some(r.new_incident_id), false),
        ]
    );
}

pub async fn alerts_during_maintenance_open_no_incident(s: Arc<dyn Store>) {
    let m = monitored(&s, "maint", Grouping::Time { window_minutes: 0 }, true).await;
    let other = monitored(&s, "other", Grouping::None, true).await;
    s.create_maintenance(
        window(m.service.id, 10, 70, "upgrade"),
        service_ev(m.service.id, EventKind::MaintenanceScheduled),
    )
    .await
    .unwrap();
    s.create_maintenance(
        window(other.service.id, 100, 200, "other's upgrade"),
        service_ev(other.service.id, EventKind::MaintenanceScheduled),
    )
    .await
    .unwrap();

    // Before the window: an incident as usual.
    let early = m.trigger("early", "before", mins(5));
    assert_eq!(
        apply(&s, early.clone()).await,
        opened(&early, Some(early.new_incident_id), true)
    );

    // During it: recorded, but no incident, not even the open one grouping would join.
    let during = m.trigger("upgrade", "during", mins(20));
    assert_eq!(
        apply(&s, during.clone()).await,
        opened(&during, None, false)
    );
    let alert = s.alert(during.new_alert_id).await.unwrap();
    assert_eq!(
        (alert.in_maintenance, alert.incident_id, alert.status),
        (true, None, AlertStatus::Triggered)
    );
    assert!(
        s.incident(during.new_incident_id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(
        s.incident(early.new_incident_id).await.unwrap().alert_count,
        1
    );
    assert!(!s.alert(early.new_alert_id).await.unwrap().in_maintenance);

    // It deduplicates and acknowledges like any alert.
    let ack = apply(&s, m.trigger("upgrade", "during, again", mins(30))).await;
    assert_eq!(
        ack,
        SignalAck {
            step: Step::Deduplicate,
            alert_id: Some(during.new_alert_id),
            incident_id: None,
            incident_opened: false,
        }
    );
    let ack = apply(&s, m.acknowledge("upgrade", mins(31))).await;
    assert_eq!(
        (ack.step, ack.alert_id, ack.incident_id),
        (Step::Acknowledge, Some(during.new_alert_id), None)
    );
    let alert = s.alert(during.new_alert_id).await.unwrap();
    assert_eq!(
        (alert.count, alert.status, alert.in_maintenance),
        (2, AlertStatus::Acknowledged, true)
    );
    assert_eq!(
        s.incident(early.new_incident_id).await.unwrap().status,
        IncidentStatus::Triggered,
        "the maintenance alert is not part of the open incident"
    );
    assert_eq!(
        kinds(&events_of(&s, SubjectType::Alert, during.new_alert_id).await),
        vec![
            EventKind::AlertTriggered,
            EventKind::AlertDeduplicated,
            EventKind::AlertAcknowledged
        ]
    );

    // After the window: back to normal (time grouping joins the open incident).
    let after = m.trigger("after", "after", mins(80));
    assert_eq!(
        apply(&s, after.clone()).await,
        opened(&after, Some(early.new_incident_id), false)
    );
    assert!(!s.alert(after.new_alert_id).await.unwrap().in_maintenance);

    // Another service's window does not apply here.
    let late = m.trigger("late", "late", mins(150));
    let ack = apply(&s, late.clone()).await;
    assert_eq!(ack.incident_id, Some(early.new_incident_id));
    assert!(!s.alert(late.new_alert_id).await.unwrap().in_maintenance);

    assert_eq!(
        incidents_where(&s, IncidentFilter::default()).await.len(),
        1
    );
}

pub async fn one_batch_with_one_new_key_opens_one_alert(s: Arc<dyn Store>) {
    let m = monitored(&s, "storm", Grouping::None, true).await;
    let storm: Vec<SignalWrite> = (0..6)
        .map(|i| m.trigger("storm", &format!("storm {i}"), at(60 + i)))
        .collect();
    let acks = apply_all(&s, storm.clone()).await;
    let first = &storm[0];
    assert_eq!(acks[0], opened(first, Some(first.new_incident_id), true));
    for ack in &acks[1..] {
        assert_eq!(
            *ack,
            SignalAck {
                step: Step::Deduplicate,
                alert_id: Some(first.new_alert_id),
                incident_id: Some(first.new_incident_id),
                incident_opened: false,
            }
        );
    }
    let alerts = alerts_where(&s, of_service(m.service.id)).await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        (
            alerts[0].count,
            alerts[0].content.summary.as_str(),
            alerts[0].last_seen_at
        ),
        (6, "storm 5", at(65))
    );
    let incidents = incidents_where(&s, IncidentFilter::default()).await;
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0].alert_count, 1);

    // A whole life in one batch: each signal sees the ones before it.
    let flap = vec![
        m.trigger("flap", "flap 1", mins(2)),
        m.acknowledge("flap", mins(2)),
        m.resolve("flap", mins(2)),
        m.trigger("flap", "flap 2", mins(2)),
        m.trigger("flap", "flap 3", mins(2)),
    ];
    let acks = apply_all(&s, flap.clone()).await;
    assert_eq!(
        acks.iter().map(|a| a.step).collect::<Vec<_>>(),
        vec![
            Step::Open,
            Step::Acknowledge,
            Step::Resolve,
            Step::Open,
            Step::Deduplicate
        ]
    );
    assert_eq!(acks[3].alert_id, Some(flap[3].new_alert_id));
    assert_eq!(acks[4].alert_id, Some(flap[3].new_alert_id));
    assert_eq!(
        s.alert(flap[0].new_alert_id).await.unwrap().status,
        AlertStatus::Resolved
    );
    let reopened = s.alert(flap[3].new_alert_id).await.unwrap();
    assert_eq!(
        (reopened.status, reopened.count),
        (AlertStatus::Triggered, 2)
    );
    assert_eq!(
        s.incident(flap[0].new_incident_id).await.unwrap().status,
        IncidentStatus::Resolved
    );
    assert_eq!(
        incidents_where(&s, IncidentFilter::default()).await.len(),
        3
    );

    // A signal that fails (its service does not exist) does not sink its batch, and the
    // others are applied exactly once.
    let mut bad = m.trigger("bad", "nowhere", mins(3));
    bad.service_id = ServiceId::new(t0(), rnd());
    let ok1 = m.trigger("ok1", "fine", mins(3));
    let ok2 = m.trigger("ok2", "fine", mins(3));
    let results = s
        .commit_batch(
            [ok1.clone(), bad.clone(), ok2.clone()]
                .into_iter()
                .map(|w| Write::Signal(Box::new(w)))
                .collect(),
        )
        .await;
    assert_eq!(results.len(), 3);
    assert!(
        matches!(
            results[0],
            Ok(WriteAck::Signal(SignalAck {
                step: Step::Open,
                ..
            }))
        ),
        "{:?}",
        results[0]
    );
    assert!(
        matches!(results[1], Err(StoreError::NotFound)),
        "{:?}",
        results[1]
    );
    assert!(
        matches!(
            results[2],
            Ok(WriteAck::Signal(SignalAck {
                step: Step::Open,
                ..
            }))
        ),
        "{:?}",
        results[2]
    );
    assert!(s.alert(bad.new_alert_id).await.unwrap_err().is_not_found());
    for ok in [&ok1, &ok2] {
        let alert = s.alert(ok.new_alert_id).await.unwrap();
        assert_eq!(alert.count, 1);
        assert_eq!(
            events_of(&s, SubjectType::Alert, ok.new_alert_id)
                .await
                .len(),
            1
        );
    }
}

/// Many callers triggering one new key at once through group commit: one alert, one incident.
pub async fn concurrent_triggers_for_one_key_open_one_alert(s: Arc<dyn Store>) {
    let m = monitored(&s, "herd", Grouping::None, true).await;
    let (gc, writer) = GroupCommit::spawn(s.clone(), 8);
    let n = 40;
    let mut tasks = Vec::new();
    for i in 0..n {
        let gc = gc.clone();
        let w = m.trigger("herd", &format!("herd {i}"), mins(1));
        tasks.push(tokio::spawn(async move {
            match gc.write(Write::Signal(Box::new(w))).await {
                Ok(WriteAck::Signal(ack)) => ack,
                other => panic!("expected a signal ack, got {other:?}"),
            }
        }));
    }
    let mut acks = Vec::new();
    for t in tasks {
        acks.push(t.await.unwrap());
    }
    gc.shutdown();
    writer.await.unwrap();
    let opens: Vec<_> = acks.iter().filter(|a| a.step == Step::Open).collect();
    assert_eq!(opens.len(), 1, "exactly one trigger opens the alert");
    assert!(opens[0].incident_opened);
    assert_eq!(
        acks.iter().filter(|a| a.step == Step::Deduplicate).count(),
        n - 1
    );
    assert!(
        acks.iter()
            .all(|a| a.alert_id == opens[0].alert_id && a.incident_id == opens[0].incident_id)
    );
    let alerts = alerts_where(&s, of_service(m.service.id)).await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].count, u32::try_from(n).unwrap());
    let incidents = incidents_where(&s, IncidentFilter::default()).await;
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0].alert_count, 1);
}

pub async fn alerts_and_incidents_list_newest_first_with_filters(s: Arc<dyn Store>) {
    let a = monitored(&s, "a", Grouping::None, true).await;
    let b = monitored(&s, "b", Grouping::None, true).await;
    let mut wa = Vec::new();
    for i in 0..5 {
        let w = a.trigger(&format!("a{i}"), &format!("a{i}"), mins(i + 1));
        apply(&s, w.clone()).await;
        wa.push(w);
    }
    let mut wb = Vec::new();
    for i in 0..2 {
        let w = b.trigger(&format!("b{i}"), &format!("b{i}"), mins(i + 10));
        apply(&s, w.clone()).await;
        wb.push(w);
    }
    apply(&s, a.resolve("a1", mins(20))).await;
    apply(&s, a.acknowledge("a3", mins(21))).await;

    let alert_ids = |ws: &[&SignalWrite]| ws.iter().map(|w| w.new_alert_id).collect::<Vec<_>>();
    let incident_ids =
        |ws: &[&SignalWrite]| ws.iter().map(|w| w.new_incident_id).collect::<Vec<_>>();
    let got_alerts = |v: Vec<Alert>| v.into_iter().map(|a| a.id).collect::<Vec<_>>();
    let got_incidents = |v: Vec<Incident>| v.into_iter().map(|i| i.id).collect::<Vec<_>>();

    // Alerts, newest first.
    assert_eq!(
        got_alerts(alerts_where(&s, AlertFilter::default()).await),
        alert_ids(&[&wb[1], &wb[0], &wa[4], &wa[3], &wa[2], &wa[1], &wa[0]])
    );
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let page = s
            .list_alerts(&of_service(a.service.id), after, 2)
            .await
            .unwrap();
        pages.push(got_alerts(page.items));
        match page.next {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    assert_eq!(
        pages,
        vec![
            alert_ids(&[&wa[4], &wa[3]]),
            alert_ids(&[&wa[2], &wa[1]]),
            alert_ids(&[&wa[0]])
        ]
    );
    let exact = s
        .list_alerts(&of_service(a.service.id), None, 5)
        .await
        .unwrap();
    assert_eq!((exact.items.len(), exact.next), (5, None));
    let status = |st: AlertStatus, svc: Option<ServiceId>| AlertFilter {
        service_id: svc,
        status: Some(st),
        ..AlertFilter::default()
    };
    assert_eq!(
        got_alerts(alerts_where(&s, status(AlertStatus::Resolved, None)).await),
        alert_ids(&[&wa[1]])
    );
    assert_eq!(
        got_alerts(alerts_where(&s, status(AlertStatus::Acknowledged, None)).await),
        alert_ids(&[&wa[3]])
    );
    assert_eq!(
        got_alerts(alerts_where(&s, status(AlertStatus::Triggered, Some(a.service.id))).await),
        alert_ids(&[&wa[4], &wa[2], &wa[0]])
    );
    assert!(
        alerts_where(&s, status(AlertStatus::Resolved, Some(b.service.id)))
            .await
            .is_empty()
    );
    assert_eq!(
        got_alerts(
            alerts_where(
                &s,
                AlertFilter {
                    incident_id: Some(wa[2].new_incident_id),
                    ..AlertFilter::default()
                }
            )
            .await
        ),
        alert_ids(&[&wa[2]])
    );

    // Incidents, newest first.
    assert_eq!(
        got_incidents(incidents_where(&s, IncidentFilter::default()).await),
        incident_ids(&[&wb[1], &wb[0], &wa[4], &wa[3], &wa[2], &wa[1], &wa[0]])
    );
    let of_a = IncidentFilter {
        service_id: Some(a.service.id),
        ..IncidentFilter::default()
    };
    let first = s.list_incidents(&of_a, None, 3).await.unwrap();
    assert_eq!(
        got_incidents(first.items),
        incident_ids(&[&wa[4], &wa[3], &wa[2]])
    );
    let rest = s.list_incidents(&of_a, first.next, 3).await.unwrap();
    assert_eq!(rest.next, None);
    assert_eq!(got_incidents(rest.items), incident_ids(&[&wa[1], &wa[0]]));
    let status = |st: IncidentStatus, svc: Option<ServiceId>| IncidentFilter {
        service_id: svc,
        status: Some(st),
        ..IncidentFilter::default()
    };
    assert_eq!(
        got_incidents(incidents_where(&s, status(IncidentStatus::Resolved, None)).await),
        incident_ids(&[&wa[1]])
    );
    assert_eq!(
        got_incidents(incidents_where(&s, status(IncidentStatus::Acknowledged, None)).await),
        incident_ids(&[&wa[3]])
    );
    assert_eq!(
        got_incidents(
            incidents_where(&s, status(IncidentStatus::Triggered, Some(b.service.id))).await
        ),
        incident_ids(&[&wb[1], &wb[0]])
    );
    // Numbers follow the order incidents opened in.
    let numbers: Vec<i64> = incidents_where(&s, IncidentFilter::default())
        .await
        .iter()
        .map(|i| i.number)
        .collect();
    assert_eq!(numbers, vec![7, 6, 5, 4, 3, 2, 1]);
}

// --- on-call ---------------------------------------------------------------------------------

async fn person(s: &Arc<dyn Store>, email: &str) -> User {
    let u = new_user(email, Role::Responder);
    s.create_user(u.clone(), user_created(&u)).await.unwrap()
}

/// A plan of one level per entry (its users, its delay in minutes).
fn plan(levels: &[(&[UserId], u32)], repeat: u32) -> Plan {
    Plan::new(
        levels
            .iter()
            .map(|(users, delay)| Level {
                delay_minutes: *delay,
                targets: users.iter().map(|u| Target::User(*u)).collect(),
            })
            .collect(),
        repeat,
    )
    .unwrap()
}

fn new_policy(name: &str, plan: Plan) -> EscalationPolicy {
    EscalationPolicy {
        id: EscalationPolicyId::new(t0(), rnd()),
        name: name.into(),
        description: format!("who answers for {name}"),
        plan,
        created_at: t0(),
        updated_at: t0(),
    }
}

fn policy_ev(id: EscalationPolicyId, kind: EventKind) -> NewEvent {
    ev(SubjectType::EscalationPolicy, id, kind, json!({}))
}

async fn create_policy(s: &Arc<dyn Store>, p: &EscalationPolicy) -> EscalationPolicy {
    s.create_escalation_policy(
        p.clone(),
        policy_ev(p.id, EventKind::EscalationPolicyCreated),
    )
    .await
    .unwrap()
}

fn user_ev(id: UserId, kind: EventKind) -> NewEvent {
    ev(SubjectType::User, id, kind, json!({}))
}

fn new_method(user: UserId, kind: ContactKind, address: &str) -> ContactMethod {
    ContactMethod {
        id: ContactMethodId::new(t0(), rnd()),
        user_id: user,
        kind,
        label: format!("my {kind:?}"),
        address: address.into(),
        secret: None,
        created_at: t0(),
    }
}

async fn create_method(s: &Arc<dyn Store>, m: &ContactMethod) -> ContactMethod {
    s.create_contact_method(m.clone(), user_ev(m.user_id, EventKind::ContactMethodAdded))
        .await
        .unwrap()
}

fn new_rule(method: &ContactMethod, delay_minutes: u32, urgency: Urgency) -> NotificationRule {
    NotificationRule {
        id: NotificationRuleId::new(t0(), rnd()),
        user_id: method.user_id,
        contact_method_id: method.id,
        delay_minutes,
        urgency,
        created_at: t0(),
    }
}

fn new_notification(
    method: &ContactMethod,
    incident: Option<IncidentId>,
    key: &str,
    run_at: Timestamp,
) -> NewNotification {
    NewNotification {
        id: NotificationId::new(t0(), rnd()),
        incident_id: incident,
        user_id: method.user_id,
        contact_method_id: Some(method.id),
        kind: method.kind,
        address: method.address.clone(),
        dedup_key: key.into(),
        payload: json!({"summary": key, "lines": ["a", "b"], "n": 1}),
        run_at,
        created_at: t0(),
    }
}

/// Where a notification's events go: its incident's timeline, or its user's.
fn note_subject(incident: Option<IncidentId>, user: UserId) -> (SubjectType, String) {
    match incident {
        Some(i) => (SubjectType::Incident, i.to_string()),
        None => (SubjectType::User, user.to_string()),
    }
}

fn note_ev(n: &Notification, kind: EventKind) -> NewEvent {
    let (st, id) = note_subject(n.incident_id, n.user_id);
    ev(st, id, kind, json!({"notification_id": n.id}))
}

/// The kinds of the events about one notification, in order.
async fn note_events(s: &Arc<dyn Store>, n: &Notification) -> Vec<EventKind> {
    let (st, id) = note_subject(n.incident_id, n.user_id);
    events_of(s, st, id)
        .await
        .into_iter()
        .filter(|e| e.data["notification_id"] == json!(n.id))
        .map(|e| e.kind)
        .collect()
}

async fn queue(s: &Arc<dyn Store>, n: NewNotification) -> Notification {
    let (st, id) = note_subject(n.incident_id, n.user_id);
    let e = ev(
        st,
        id,
        EventKind::NotificationQueued,
        json!({"notification_id": n.id}),
    );
    s.queue_notification(n, e).await.unwrap()
}

fn escalation_step(
    incident: IncidentId,
    step: u32,
    notifications: Vec<NewNotification>,
    next: Option<NewJob>,
) -> EscalationStep {
    EscalationStep {
        incident_id: incident,
        step,
        at: mins(i64::from(step)),
        notifications,
        events: vec![ev(
            SubjectType::Incident,
            incident,
            EventKind::IncidentEscalated,
            json!({"step": step}),
        )],
        next,
    }
}

async fn all_jobs(s: &Arc<dyn Store>) -> Vec<Job> {
    let page = s.list_jobs(None, 1000).await.unwrap();
    assert_eq!(page.next, None);
    page.items
}

async fn all_notifications(s: &Arc<dyn Store>, incident: Option<IncidentId>) -> Vec<Notification> {
    s.list_notifications(incident, None, None, 1000)
        .await
        .unwrap()
}

fn conflict(r: StoreResult<impl std::fmt::Debug>, name: &str) {
    match r {
        Err(StoreError::Conflict { constraint }) => assert_eq!(constraint, name),
        other => panic!("expected a {name} conflict, got {other:?}"),
    }
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

pub async fn escalation_policies_are_kept_and_deleted_once_unused(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let bob = person(&s, "bob@example.com").await;
    let primary = new_policy("primary", plan(&[(&[ada.id], 5)], 0));
    assert_eq!(create_policy(&s, &primary).await, primary);
    assert_eq!(s.escalation_policy(primary.id).await.unwrap(), primary);
    assert!(
        s.escalation_policy(EscalationPolicyId::new(t0(), rnd()))
            .await
            .unwrap_err()
            .is_not_found()
    );

    // A plan paging someone who does not exist: not found, nothing written.
    let ghost = UserId::new(t0(), rnd());
    let bad = new_policy("bad", plan(&[(&[ada.id], 5), (&[ghost], 5)], 0));
    assert!(
        s.create_escalation_policy(
            bad.clone(),
            policy_ev(bad.id, EventKind::EscalationPolicyCreated)
        )
        .await
        .unwrap_err()
        .is_not_found()
    );
    assert!(
        s.escalation_policy(bad.id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        events_of(&s, SubjectType::EscalationPolicy, bad.id)
            .await
            .is_empty()
    );

    // A taken name: a named conflict, nothing written.
    let dup = new_policy("primary", plan(&[(&[bob.id], 5)], 0));
    conflict(
        s.create_escalation_policy(
            dup.clone(),
            policy_ev(dup.id, EventKind::EscalationPolicyCreated),
        )
        .await,
        "escalation_policies_name",
    );
    assert!(
        s.escalation_policy(dup.id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        events_of(&s, SubjectType::EscalationPolicy, dup.id)
            .await
            .is_empty()
    );

    // Listing pages in id order.
    let mut ids = vec![primary.id];
    for i in 0..4 {
        let p = new_policy(&format!("team{i}"), plan(&[(&[bob.id], 10)], 1));
        ids.push(p.id);
        create_policy(&s, &p).await;
    }
    ids.sort();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = s.list_escalation_policies(after, 2).await.unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items.iter().map(|p| p.id));
        match page.next {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    let exact = s.list_escalation_policies(None, 5).await.unwrap();
    assert_eq!((exact.items.len(), exact.next), (5, None));

    // Updating replaces name, description and plan, not the creation time.
    let mut changed = primary.clone();
    changed.name = "primary-eu".into();
    changed.description = "europe".into();
    changed.plan = plan(&[(&[ada.id, bob.id], 3), (&[bob.id], 30)], 2);
    changed.updated_at = at(60);
    changed.created_at = at(999);
    let updated = s
        .update_escalation_policy(
            changed.clone(),
            policy_ev(primary.id, EventKind::EscalationPolicyUpdated),
        )
        .await
        .unwrap();
    let expected = EscalationPolicy {
        created_at: primary.created_at,
        ..changed
    };
    assert_eq!(updated, expected);
    assert_eq!(s.escalation_policy(primary.id).await.unwrap(), expected);
    let mut clash = expected.clone();
    clash.name = "team0".into();
    conflict(
        s.update_escalation_policy(
            clash,
            policy_ev(primary.id, EventKind::EscalationPolicyUpdated),
        )
        .await,
        "escalation_policies_name",
    );
    let mut paging_ghost = expected.clone();
    paging_ghost.plan = plan(&[(&[ghost], 5)], 0);
    assert!(
        s.update_escalation_policy(
            paging_ghost,
            policy_ev(primary.id, EventKind::EscalationPolicyUpdated),
        )
        .await
        .unwrap_err()
        .is_not_found()
    );
    assert!(
        s.update_escalation_policy(
            new_policy("nowhere", plan(&[(&[ada.id], 5)], 0)),
            policy_ev(primary.id, EventKind::EscalationPolicyUpdated),
        )
        .await
        .unwrap_err()
        .is_not_found()
    );
    assert_eq!(s.escalation_policy(primary.id).await.unwrap(), expected);

    // While a service uses it, it stays.
    let mut svc = new_service("checkout", Grouping::None, true);
    svc.escalation_policy_id = Some(primary.id);
    s.create_service(svc.clone(), service_ev(svc.id, EventKind::ServiceCreated))
        .await
        .unwrap();
    let deleted = || policy_ev(primary.id, EventKind::EscalationPolicyDeleted);
    conflict(
        s.delete_escalation_policy(primary.id, deleted()).await,
        "escalation_policy_in_use",
    );
    assert_eq!(s.escalation_policy(primary.id).await.unwrap(), expected);

    // Once the service lets go of it, it can go.
    svc.escalation_policy_id = None;
    s.update_service(svc.clone(), service_ev(svc.id, EventKind::ServiceUpdated))
        .await
        .unwrap();
    s.delete_escalation_policy(primary.id, deleted())
        .await
        .unwrap();
    assert!(
        s.escalation_policy(primary.id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        s.delete_escalation_policy(primary.id, deleted())
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(
        s.list_escalation_policies(None, 50)
            .await
            .unwrap()
            .items
            .len(),
        4
    );
    assert_eq!(
        kinds(&events_of(&s, SubjectType::EscalationPolicy, primary.id).await),
        vec![
            EventKind::EscalationPolicyCreated,
            EventKind::EscalationPolicyUpdated,
            EventKind::EscalationPolicyDeleted
        ]
    );
}

pub async fn services_name_an_existing_escalation_policy(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let p = create_policy(&s, &new_policy("primary", plan(&[(&[ada.id], 5)], 0))).await;
    let mut svc = new_service("api", Grouping::None, true);
    svc.escalation_policy_id = Some(p.id);
    assert_eq!(
        s.create_service(svc.clone(), service_ev(svc.id, EventKind::ServiceCreated))
            .await
            .unwrap(),
        svc
    );
    assert_eq!(s.service(svc.id).await.unwrap(), svc);
    assert_eq!(
        s.list_services(None, 10).await.unwrap().items,
        vec![svc.clone()]
    );

    // An unknown policy: not found, and neither the service nor its event is written.
    let mut orphan = new_service("orphan", Grouping::None, true);
    orphan.escalation_policy_id = Some(EscalationPolicyId::new(t0(), rnd()));
    assert!(
        s.create_service(
            orphan.clone(),
            service_ev(orphan.id, EventKind::ServiceCreated)
        )
        .await
        .unwrap_err()
        .is_not_found()
    );
    assert!(s.service(orphan.id).await.unwrap_err().is_not_found());
    assert!(
        events_of(&s, SubjectType::Service, orphan.id)
            .await
            .is_empty()
    );

    // Updating sets and clears it; an unknown one changes nothing.
    let mut none = svc.clone();
    none.escalation_policy_id = None;
    none.updated_at = at(10);
    assert_eq!(
        s.update_service(none.clone(), service_ev(svc.id, EventKind::ServiceUpdated))
            .await
            .unwrap(),
        none
    );
    let mut unknown = none.clone();
    unknown.escalation_policy_id = Some(EscalationPolicyId::new(t0(), rnd()));
    unknown.updated_at = at(20);
    assert!(
        s.update_service(unknown, service_ev(svc.id, EventKind::ServiceUpdated))
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(s.service(svc.id).await.unwrap(), none);
    let mut again = none.clone();
    again.escalation_policy_id = Some(p.id);
    again.updated_at = at(30);
    s.update_service(again.clone(), service_ev(svc.id, EventKind::ServiceUpdated))
        .await
        .unwrap();
    assert_eq!(s.service(svc.id).await.unwrap(), again);
    assert_eq!(
        kinds(&events_of(&s, SubjectType::Service, svc.id).await),
        vec![
            EventKind::ServiceCreated,
            EventKind::ServiceUpdated,
            EventKind::ServiceUpdated
        ]
    );
}

pub async fn contact_methods_belong_to_a_user_and_take_their_rules_along(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let bob = person(&s, "bob@example.com").await;
    let email = new_method(ada.id, ContactKind::Email, "ada@example.com");
    let mut hook = new_method(
        ada.id,
        ContactKind::Webhook,
        "https://hooks.example.com/ada",
    );
    hook.secret = Some("whsec_0123456789abcdef".into());
    let sms = new_method(bob.id, ContactKind::Sms, "+14155550123");
    for m in [&email, &hook, &sms] {
        assert_eq!(&create_method(&s, m).await, m);
        assert_eq!(&s.contact_method(m.id).await.unwrap(), m);
    }
    assert_eq!(
        s.list_contact_methods(ada.id).await.unwrap(),
        sorted(vec![email.id, hook.id])
            .into_iter()
            .map(|id| if id == email.id {
                email.clone()
            } else {
                hook.clone()
            })
            .collect::<Vec<_>>()
    );
    assert_eq!(
        s.list_contact_methods(bob.id).await.unwrap(),
        vec![sms.clone()]
    );
    assert!(
        s.contact_method(ContactMethodId::new(t0(), rnd()))
            .await
            .unwrap_err()
            .is_not_found()
    );

    // For nobody: not found, nothing written.
    let ghost = UserId::new(t0(), rnd());
    let lost = new_method(ghost, ContactKind::Email, "ghost@example.com");
    assert!(
        s.create_contact_method(lost.clone(), user_ev(ghost, EventKind::ContactMethodAdded))
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(s.contact_method(lost.id).await.unwrap_err().is_not_found());
    assert!(events_of(&s, SubjectType::User, ghost).await.is_empty());

    // Updating changes label and address only.
    let mut changed = hook.clone();
    changed.label = "pager bridge".into();
    changed.address = "https://hooks.example.com/ada2".into();
    changed.secret = Some("not this".into());
    changed.kind = ContactKind::Slack;
    changed.user_id = bob.id;
    changed.created_at = at(999);
    let expected = ContactMethod {
        label: changed.label.clone(),
        address: changed.address.clone(),
        ..hook.clone()
    };
    assert_eq!(
        s.update_contact_method(changed, user_ev(ada.id, EventKind::ContactMethodChanged))
            .await
            .unwrap(),
        expected
    );
    assert_eq!(s.contact_method(hook.id).await.unwrap(), expected);
    assert!(
        s.update_contact_method(lost, user_ev(ada.id, EventKind::ContactMethodChanged))
            .await
            .unwrap_err()
            .is_not_found()
    );

    // Deleting a method deletes the rules that use it, and only those.
    let by_hook = new_rule(&hook, 0, Urgency::High);
    let by_hook_later = new_rule(&hook, 15, Urgency::Low);
    let by_email = new_rule(&email, 5, Urgency::High);
    for r in [&by_hook, &by_hook_later, &by_email] {
        s.create_notification_rule(r.clone(), user_ev(ada.id, EventKind::NotificationRuleAdded))
            .await
            .unwrap();
    }
    assert_eq!(s.list_notification_rules(ada.id).await.unwrap().len(), 3);
    s.delete_contact_method(hook.id, user_ev(ada.id, EventKind::ContactMethodRemoved))
        .await
        .unwrap();
    assert!(s.contact_method(hook.id).await.unwrap_err().is_not_found());
    assert_eq!(
        s.list_notification_rules(ada.id).await.unwrap(),
        vec![by_email]
    );
    assert_eq!(
        s.list_contact_methods(ada.id).await.unwrap(),
        vec![email.clone()]
    );
    assert!(
        s.delete_contact_method(hook.id, user_ev(ada.id, EventKind::ContactMethodRemoved))
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(
        kinds(&events_of(&s, SubjectType::User, ada.id).await),
        vec![
            EventKind::UserCreated,
            EventKind::ContactMethodAdded,
            EventKind::ContactMethodAdded,
            EventKind::ContactMethodChanged,
            EventKind::NotificationRuleAdded,
            EventKind::NotificationRuleAdded,
            EventKind::NotificationRuleAdded,
            EventKind::ContactMethodRemoved,
        ]
    );
}

pub async fn notification_rules_use_the_users_own_methods_ordered_by_delay(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let bob = person(&s, "bob@example.com").await;
    let ada_sms = create_method(&s, &new_method(ada.id, ContactKind::Sms, "+14155550100")).await;
    let ada_mail = create_method(
        &s,
        &new_method(ada.id, ContactKind::Email, "ada@example.com"),
    )
    .await;
    let bob_sms = create_method(&s, &new_method(bob.id, ContactKind::Sms, "+14155550199")).await;

    let r10 = new_rule(&ada_sms, 10, Urgency::High);
    let r0 = new_rule(&ada_mail, 0, Urgency::High);
    let r5 = new_rule(&ada_sms, 5, Urgency::Low);
    for r in [&r10, &r0, &r5] {
        assert_eq!(
            &s.create_notification_rule(
                r.clone(),
                user_ev(ada.id, EventKind::NotificationRuleAdded)
            )
            .await
            .unwrap(),
            r
        );
    }
    assert_eq!(
        s.list_notification_rules(ada.id).await.unwrap(),
        vec![r0.clone(), r5.clone(), r10.clone()]
    );
    assert!(s.list_notification_rules(bob.id).await.unwrap().is_empty());

    // Someone else's method, or none: not found, nothing written.
    let mut stolen = new_rule(&bob_sms, 0, Urgency::High);
    stolen.user_id = ada.id;
    let mut nowhere = new_rule(&ada_sms, 0, Urgency::High);
    nowhere.contact_method_id = ContactMethodId::new(t0(), rnd());
    for r in [stolen, nowhere] {
        assert!(
            s.create_notification_rule(r, user_ev(ada.id, EventKind::NotificationRuleAdded))
                .await
                .unwrap_err()
                .is_not_found()
        );
    }
    assert_eq!(s.list_notification_rules(ada.id).await.unwrap().len(), 3);
    assert!(s.list_notification_rules(bob.id).await.unwrap().is_empty());

    // Deleting is per user.
    assert!(
        s.delete_notification_rule(
            bob.id,
            r5.id,
            user_ev(bob.id, EventKind::NotificationRuleRemoved)
        )
        .await
        .unwrap_err()
        .is_not_found()
    );
    s.delete_notification_rule(
        ada.id,
        r5.id,
        user_ev(ada.id, EventKind::NotificationRuleRemoved),
    )
    .await
    .unwrap();
    assert_eq!(
        s.list_notification_rules(ada.id).await.unwrap(),
        vec![r0, r10]
    );
    assert!(
        s.delete_notification_rule(
            ada.id,
            r5.id,
            user_ev(ada.id, EventKind::NotificationRuleRemoved)
        )
        .await
        .unwrap_err()
        .is_not_found()
    );
    assert_eq!(
        kinds(&events_of(&s, SubjectType::User, ada.id).await)
            .iter()
            .filter(|k| matches!(
                k,
                EventKind::NotificationRuleAdded | EventKind::NotificationRuleRemoved
            ))
            .count(),
        4
    );
    assert!(
        kinds(&events_of(&s, SubjectType::User, bob.id).await)
            .iter()
            .all(|k| !matches!(k, EventKind::NotificationRuleRemoved))
    );
}

pub async fn an_incident_on_a_paged_service_enqueues_its_first_escalation_step(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let p = create_policy(&s, &new_policy("primary", plan(&[(&[ada.id], 5)], 0))).await;
    let mut svc = new_service("paged", Grouping::Time { window_minutes: 30 }, true);
    svc.escalation_policy_id = Some(p.id);
    let paged = monitored_service(&s, svc).await;

    let first = paged.trigger("cpu", "cpu 99%", mins(1));
    assert_eq!(
        apply(&s, first.clone()).await,
        opened(&first, Some(first.new_incident_id), true)
    );
    let incident = first.new_incident_id;
    let jobs = all_jobs(&s).await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let job = &jobs[0];
    assert_eq!(job.id, first.new_job_id);
    assert_eq!(job.kind, STEP_JOB);
    assert_eq!(
        job.dedup_key.as_deref(),
        Some(format!("escalation:{incident}:0").as_str())
    );
    assert_eq!(job.dedup_key, Some(step_job_key(incident, 0)));
    assert_eq!(
        serde_json::from_value::<StepJob>(job.payload.clone()).unwrap(),
        StepJob {
            incident_id: incident,
            step: 0
        }
    );
    assert_eq!((job.run_at, job.attempts, job.dead_at), (mins(1), 0, None));
    let timeline = events_of(&s, SubjectType::Incident, incident).await;
    assert_eq!(timeline[0].kind, EventKind::IncidentTriggered);
    assert_eq!(timeline[0].data["escalation_policy_id"], json!(p.id));

    // Deduplicating or joining the open incident starts nothing more.
    assert_eq!(
        apply(&s, paged.trigger("cpu", "cpu 100%", mins(2)))
            .await
            .step,
        Step::Deduplicate
    );
    let joined = paged.trigger("mem", "memory", mins(3));
    assert_eq!(
        apply(&s, joined.clone()).await,
        opened(&joined, Some(incident), false)
    );
    assert_eq!(all_jobs(&s).await.len(), 1);

    // A service without a policy pages nobody.
    let quiet = monitored(&s, "quiet", Grouping::None, true).await;
    let unpaged = quiet.trigger("cpu", "cpu 99%", mins(4));
    assert!(apply(&s, unpaged.clone()).await.incident_opened);
    let timeline = events_of(&s, SubjectType::Incident, unpaged.new_incident_id).await;
    assert_eq!(timeline[0].kind, EventKind::IncidentTriggered);
    assert_eq!(
        timeline[0].data["escalation_policy_id"],
        serde_json::Value::Null
    );
    assert!(s.job(unpaged.new_job_id).await.unwrap_err().is_not_found());

    // Nor does an alert during maintenance, which opens no incident.
    let mut svc = new_service("maint", Grouping::None, true);
    svc.escalation_policy_id = Some(p.id);
    let maint = monitored_service(&s, svc).await;
    s.create_maintenance(
        window(maint.service.id, 10, 70, "upgrade"),
        service_ev(maint.service.id, EventKind::MaintenanceScheduled),
    )
    .await
    .unwrap();
    let during = maint.trigger("disk", "disk full", mins(20));
    assert_eq!(
        apply(&s, during.clone()).await,
        opened(&during, None, false)
    );
    assert!(s.job(during.new_job_id).await.unwrap_err().is_not_found());
    assert_eq!(all_jobs(&s).await.len(), 1);

    // The engine finds the step due at once.
    let claimed = s.claim_jobs("engine", mins(1), mins(2), 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, first.new_job_id);

    // Two incidents opened in one batch start one escalation each.
    let mut svc = new_service("burst", Grouping::None, true);
    svc.escalation_policy_id = Some(p.id);
    let burst = monitored_service(&s, svc).await;
    let (a, b) = (
        burst.trigger("a", "a", mins(30)),
        burst.trigger("b", "b", mins(30)),
    );
    apply_all(&s, vec![a.clone(), b.clone()]).await;
    for w in [&a, &b] {
        let job = s.job(w.new_job_id).await.unwrap();
        assert_eq!(job.dedup_key, Some(step_job_key(w.new_incident_id, 0)));
    }
    assert_eq!(all_jobs(&s).await.len(), 3);
}

pub async fn escalation_steps_are_written_once(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let mail = create_method(
        &s,
        &new_method(ada.id, ContactKind::Email, "ada@example.com"),
    )
    .await;
    let sms = create_method(&s, &new_method(ada.id, ContactKind::Sms, "+14155550100")).await;
    let m = monitored(&s, "api", Grouping::None, true).await;
    let w = m.trigger("cpu", "cpu 99%", mins(0));
    apply(&s, w.clone()).await;
    let inc = w.new_incident_id;
    let key = |n: u32, ch: &str| format!("incident:{inc}:step:{n}:{ch}");

    let step0 = |next_id: JobId| {
        let mut next = escalation_job(next_id, inc, 1, mins(5));
        next.created_at = mins(0);
        escalation_step(
            inc,
            0,
            vec![
                new_notification(&mail, Some(inc), &key(0, "mail"), mins(0)),
                new_notification(&sms, Some(inc), &key(0, "sms"), mins(2)),
            ],
            Some(next),
        )
    };
    let first = step0(JobId::new(t0(), rnd()));
    assert!(s.apply_escalation_step(first.clone()).await.unwrap());
    let notes = all_notifications(&s, Some(inc)).await;
    assert_eq!(
        sorted(notes.iter().map(|n| n.id).collect()),
        sorted(first.notifications.iter().map(|n| n.id).collect::<Vec<_>>())
    );
    for (n, new) in notes.iter().map(|n| {
        (
            n,
            first
                .notifications
                .iter()
                .find(|x| x.id == n.id)
                .unwrap()
                .clone(),
        )
    }) {
        assert_eq!(
            n,
            &Notification {
                id: new.id,
                incident_id: Some(inc),
                user_id: ada.id,
                contact_method_id: new.contact_method_id,
                kind: new.kind,
                address: new.address.clone(),
                dedup_key: new.dedup_key.clone(),
                payload: new.payload.clone(),
                status: NotificationStatus::Pending,
                attempts: 0,
                run_at: new.run_at,
                last_error: None,
                created_at: new.created_at,
                sent_at: None,
            }
        );
        assert_eq!(&s.notification(n.id).await.unwrap(), n);
    }
    let next_id = first.next.as_ref().unwrap().id;
    let next = s.job(next_id).await.unwrap();
    assert_eq!(
        (next.kind.as_str(), next.dedup_key.clone(), next.run_at),
        (STEP_JOB, Some(step_job_key(inc, 1)), mins(5))
    );
    let escalated = |evs: &[Event]| {
        evs.iter()
            .filter(|e| e.kind == EventKind::IncidentEscalated)
            .count()
    };
    assert_eq!(
        escalated(&events_of(&s, SubjectType::Incident, inc).await),
        1
    );

    // The same step again (a retried job, a second engine): nothing is written.
    let again = step0(JobId::new(t0(), rnd()));
    assert!(!s.apply_escalation_step(again.clone()).await.unwrap());
    assert_eq!(all_notifications(&s, Some(inc)).await, notes);
    for n in &again.notifications {
        assert!(s.notification(n.id).await.unwrap_err().is_not_found());
    }
    assert!(
        s.job(again.next.as_ref().unwrap().id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(all_jobs(&s).await.len(), 1);
    assert_eq!(
        escalated(&events_of(&s, SubjectType::Incident, inc).await),
        1
    );

    // The next step writes, but a notification whose key exists is not queued twice.
    let step1 = escalation_step(
        inc,
        1,
        vec![
            new_notification(&mail, Some(inc), &key(0, "mail"), mins(5)),
            new_notification(&mail, Some(inc), &key(1, "mail"), mins(5)),
        ],
        None,
    );
    assert!(s.apply_escalation_step(step1.clone()).await.unwrap());
    let notes = all_notifications(&s, Some(inc)).await;
    assert_eq!(notes.len(), 3);
    assert!(
        s.notification(step1.notifications[0].id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(
        s.notification(step1.notifications[1].id)
            .await
            .unwrap()
            .dedup_key,
        key(1, "mail")
    );
    // Oldest first.
    assert!(
        notes
            .windows(2)
            .all(|w| (w[0].created_at, w[0].id) <= (w[1].created_at, w[1].id))
    );
    assert_eq!(
        escalated(&events_of(&s, SubjectType::Incident, inc).await),
        2
    );

    // Several engines racing on one step: exactly one writes it.
    let mut tasks = Vec::new();
    for i in 0..6 {
        let s = s.clone();
        let st = escalation_step(
            inc,
            2,
            vec![new_notification(
                &sms,
                Some(inc),
                &format!("race:{i}"),
                mins(10),
            )],
            Some(escalation_job(JobId::new(t0(), rnd()), inc, 3, mins(15))),
        );
        tasks.push(tokio::spawn(
            async move { s.apply_escalation_step(st).await },
        ));
    }
    let mut wrote = 0;
    for t in tasks {
        wrote += usize::from(t.await.unwrap().unwrap());
    }
    assert_eq!(wrote, 1);
    assert_eq!(all_notifications(&s, Some(inc)).await.len(), 4);
    assert_eq!(
        escalated(&events_of(&s, SubjectType::Incident, inc).await),
        3
    );
    let keys: Vec<_> = all_jobs(&s)
        .await
        .into_iter()
        .filter_map(|j| j.dedup_key)
        .collect();
    assert_eq!(
        sorted(keys),
        sorted(vec![step_job_key(inc, 1), step_job_key(inc, 3)])
    );
}

pub async fn claims_hand_out_due_notifications_cancel_moot_ones_and_fail_abandoned_ones(
    s: Arc<dyn Store>,
) {
    let ada = person(&s, "ada@example.com").await;
    let mail = create_method(
        &s,
        &new_method(ada.id, ContactKind::Email, "ada@example.com"),
    )
    .await;
    let m = monitored(&s, "api", Grouping::None, true).await;
    let (wa, wb) = (m.trigger("a", "a", mins(0)), m.trigger("b", "b", mins(0)));
    apply_all(&s, vec![wa.clone(), wb.clone()]).await;
    let (a, b) = (wa.new_incident_id, wb.new_incident_id);
    let n1 = new_notification(&mail, Some(a), "a:now", mins(1));
    let n2 = new_notification(&mail, Some(a), "a:later", mins(10));
    let n3 = new_notification(&mail, Some(b), "b:now", mins(1));
    let n4 = new_notification(&mail, Some(b), "b:later", mins(10));
    assert!(
        s.apply_escalation_step(escalation_step(a, 0, vec![n1.clone(), n2.clone()], None))
            .await
            .unwrap()
    );
    assert!(
        s.apply_escalation_step(escalation_step(b, 0, vec![n3.clone(), n4.clone()], None))
            .await
            .unwrap()
    );
    let n5 = queue(&s, new_notification(&mail, None, "test:1", mins(1))).await;

    // Nothing is due before its time.
    assert_eq!(
        s.claim_notifications(mins(0), mins(1), 10).await.unwrap(),
        Claimed::default()
    );

    // B is acknowledged: its pending notifications are moot.
    s.set_incident_status(
        b,
        IncidentStatus::Acknowledged,
        mins(2),
        ev(
            SubjectType::Incident,
            b,
            EventKind::IncidentAcknowledged,
            json!({}),
        ),
    )
    .await
    .unwrap();
    let claimed = s.claim_notifications(mins(2), mins(3), 10).await.unwrap();
    assert_eq!((claimed.cancelled, claimed.abandoned), (2, 0));
    assert_eq!(
        sorted(claimed.due.iter().map(|n| n.id).collect()),
        sorted(vec![n1.id, n5.id])
    );
    for n in &claimed.due {
        assert_eq!(
            (n.status, n.attempts, n.run_at),
            (NotificationStatus::Sending, 1, mins(3))
        );
        assert_eq!(&s.notification(n.id).await.unwrap(), n);
    }
    for n in [&n3, &n4] {
        let stored = s.notification(n.id).await.unwrap();
        assert_eq!(
            (stored.status, stored.attempts),
            (NotificationStatus::Cancelled, 0)
        );
        assert_eq!(
            note_events(&s, &stored).await,
            vec![EventKind::NotificationCancelled]
        );
    }
    let later = s.notification(n2.id).await.unwrap();
    assert_eq!(
        (later.status, later.attempts, later.run_at),
        (NotificationStatus::Pending, 0, mins(10))
    );

    // Claimed ones are not handed out again while their claim runs.
    assert_eq!(
        s.claim_notifications(mins(2), mins(3), 10).await.unwrap(),
        Claimed::default()
    );
    assert!(
        s.finish_notification(
            n5.id,
            SendResult::Sent { at: mins(2) },
            note_ev(&n5, EventKind::NotificationSent)
        )
        .await
        .unwrap()
    );

    // n1's sender stopped: once its claim runs out, its outcome is unknown; it fails.
    let claimed = s.claim_notifications(mins(3), mins(4), 10).await.unwrap();
    assert_eq!((claimed.cancelled, claimed.abandoned), (0, 1));
    assert!(claimed.due.is_empty());
    let failed = s.notification(n1.id).await.unwrap();
    assert_eq!(
        (failed.status, failed.attempts),
        (NotificationStatus::Failed, 1)
    );
    assert!(
        failed.last_error.as_deref().unwrap().contains("unknown"),
        "{:?}",
        failed.last_error
    );
    assert_eq!(
        note_events(&s, &failed).await,
        vec![EventKind::NotificationFailed]
    );
    assert_eq!(
        s.notification(n5.id).await.unwrap().status,
        NotificationStatus::Sent
    );

    // Later: only the delayed one is due; the failed one never comes back.
    let claimed = s.claim_notifications(mins(20), mins(21), 10).await.unwrap();
    assert_eq!((claimed.cancelled, claimed.abandoned), (0, 0));
    assert_eq!(
        claimed.due.iter().map(|n| n.id).collect::<Vec<_>>(),
        vec![n2.id]
    );
    assert!(
        s.finish_notification(
            n2.id,
            SendResult::Sent { at: mins(20) },
            note_ev(&claimed.due[0], EventKind::NotificationSent)
        )
        .await
        .unwrap()
    );
    assert_eq!(
        s.claim_notifications(mins(60), mins(61), 10).await.unwrap(),
        Claimed::default()
    );
    assert_eq!(
        s.notification(n1.id).await.unwrap().status,
        NotificationStatus::Failed
    );

    // Resolving makes pending notifications moot too.
    let n6 = new_notification(&mail, Some(a), "a:resolved", mins(70));
    assert!(
        s.apply_escalation_step(escalation_step(a, 1, vec![n6.clone()], None))
            .await
            .unwrap()
    );
    s.set_incident_status(
        a,
        IncidentStatus::Resolved,
        mins(65),
        ev(
            SubjectType::Incident,
            a,
            EventKind::IncidentResolved,
            json!({}),
        ),
    )
    .await
    .unwrap();
    let claimed = s.claim_notifications(mins(80), mins(81), 10).await.unwrap();
    assert_eq!(
        (claimed.due.len(), claimed.cancelled, claimed.abandoned),
        (0, 1, 0)
    );
    assert_eq!(
        s.notification(n6.id).await.unwrap().status,
        NotificationStatus::Cancelled
    );
}

pub async fn finishing_a_notification_records_sent_retry_and_failed(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let mut hook = new_method(ada.id, ContactKind::Webhook, "https://hooks.example.com/a");
    hook.secret = Some("whsec_x".into());
    let hook = create_method(&s, &hook).await;
    let a = queue(&s, new_notification(&hook, None, "t:a", at(0))).await;
    let b = queue(&s, new_notification(&hook, None, "t:b", at(0))).await;
    let c = queue(&s, new_notification(&hook, None, "t:c", at(0))).await;
    let claimed = s.claim_notifications(at(0), at(60), 10).await.unwrap();
    assert_eq!(claimed.due.len(), 3);

    // Sent.
    assert!(
        s.finish_notification(
            a.id,
            SendResult::Sent { at: at(5) },
            note_ev(&a, EventKind::NotificationSent)
        )
        .await
        .unwrap()
    );
    let sent = s.notification(a.id).await.unwrap();
    assert_eq!(
        (sent.status, sent.sent_at, sent.last_error, sent.attempts),
        (NotificationStatus::Sent, Some(at(5)), None, 1)
    );

    // Retry: pending again at the given time, with the error.
    assert!(
        s.finish_notification(
            b.id,
            SendResult::Retry {
                at: at(30),
                error: "503 from provider".into()
            },
            note_ev(&b, EventKind::NotificationRetrying)
        )
        .await
        .unwrap()
    );
    let retrying = s.notification(b.id).await.unwrap();
    assert_eq!(
        (
            retrying.status,
            retrying.run_at,
            retrying.last_error.as_deref(),
            retrying.sent_at
        ),
        (
            NotificationStatus::Pending,
            at(30),
            Some("503 from provider"),
            None
        )
    );
    assert!(
        s.claim_notifications(at(29), at(89), 10)
            .await
            .unwrap()
            .due
            .is_empty()
    );
    let claimed = s.claim_notifications(at(30), at(90), 10).await.unwrap();
    assert_eq!(claimed.due.len(), 1);
    assert_eq!(
        (
            claimed.due[0].id,
            claimed.due[0].attempts,
            claimed.due[0].run_at
        ),
        (b.id, 2, at(90))
    );

    // Failed.
    assert!(
        s.finish_notification(
            c.id,
            SendResult::Failed {
                error: "400 bad address".into()
            },
            note_ev(&c, EventKind::NotificationFailed)
        )
        .await
        .unwrap()
    );
    let failed = s.notification(c.id).await.unwrap();
    assert_eq!(
        (failed.status, failed.last_error.as_deref(), failed.sent_at),
        (NotificationStatus::Failed, Some("400 bad address"), None)
    );

    // Finishing what is no longer sending changes nothing and writes no event.
    let before = (
        s.notification(a.id).await.unwrap(),
        s.notification(c.id).await.unwrap(),
    );
    assert!(
        !s.finish_notification(
            a.id,
            SendResult::Failed {
                error: "late".into()
            },
            note_ev(&a, EventKind::NotificationFailed)
        )
        .await
        .unwrap()
    );
    assert!(
        !s.finish_notification(
            c.id,
            SendResult::Retry {
                at: at(100),
                error: "late".into()
            },
            note_ev(&c, EventKind::NotificationRetrying)
        )
        .await
        .unwrap()
    );
    assert_eq!(
        (
            s.notification(a.id).await.unwrap(),
            s.notification(c.id).await.unwrap()
        ),
        before
    );
    // b's claim runs out while its sender is silent: it fails, and the late answer is ignored.
    let claimed = s.claim_notifications(at(90), at(150), 10).await.unwrap();
    assert_eq!((claimed.abandoned, claimed.due.len()), (1, 0));
    assert!(
        !s.finish_notification(
            b.id,
            SendResult::Sent { at: at(91) },
            note_ev(&b, EventKind::NotificationSent)
        )
        .await
        .unwrap()
    );
    let abandoned = s.notification(b.id).await.unwrap();
    assert_eq!(
        (abandoned.status, abandoned.sent_at),
        (NotificationStatus::Failed, None)
    );
    assert!(
        !s.finish_notification(
            NotificationId::new(t0(), rnd()),
            SendResult::Sent { at: at(91) },
            user_ev(ada.id, EventKind::NotificationSent)
        )
        .await
        .unwrap()
    );

    // Each notification's story, on its user's timeline (test notifications have no incident).
    assert_eq!(
        note_events(&s, &a).await,
        vec![EventKind::NotificationQueued, EventKind::NotificationSent]
    );
    assert_eq!(
        note_events(&s, &b).await,
        vec![
            EventKind::NotificationQueued,
            EventKind::NotificationRetrying,
            EventKind::NotificationFailed
        ]
    );
    assert_eq!(
        note_events(&s, &c).await,
        vec![EventKind::NotificationQueued, EventKind::NotificationFailed]
    );
    assert_eq!(
        kinds(&events_of(&s, SubjectType::User, ada.id).await)
            .iter()
            .filter(|k| **k == EventKind::NotificationSent)
            .count(),
        1
    );
}

/// Several senders claiming at once never hold the same notification.
pub async fn concurrent_claims_never_share_a_notification(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let mail = create_method(
        &s,
        &new_method(ada.id, ContactKind::Email, "ada@example.com"),
    )
    .await;
    let n = 100;
    for i in 0..n {
        queue(
            &s,
            new_notification(&mail, None, &format!("bulk:{i}"), at(0)),
        )
        .await;
    }
    let mut senders = Vec::new();
    for _ in 0..8 {
        let s = s.clone();
        senders.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let claimed = s.claim_notifications(at(1), at(61), 7).await.unwrap();
                assert!(claimed.due.len() <= 7);
                assert_eq!((claimed.cancelled, claimed.abandoned), (0, 0));
                if claimed.due.is_empty() {
                    break mine;
                }
                for note in claimed.due {
                    assert_eq!(note.attempts, 1);
                    let e = note_ev(&note, EventKind::NotificationSent);
                    assert!(
                        s.finish_notification(note.id, SendResult::Sent { at: at(2) }, e)
                            .await
                            .unwrap()
                    );
                    mine.push(note.id);
                }
            }
        }));
    }
    let mut all = Vec::new();
    for t in senders {
        all.extend(t.await.unwrap());
    }
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), n);
    assert_eq!(unique.len(), n);
    let stored = s
        .list_notifications(None, Some(ada.id), None, 1000)
        .await
        .unwrap();
    assert_eq!(stored.len(), n);
    assert!(
        stored
            .iter()
            .all(|x| x.status == NotificationStatus::Sent && x.attempts == 1)
    );

    // Claimers racing to fail abandoned notifications and cancel moot ones: each is failed or
    // cancelled once, with one event.
    let m = monitored(&s, "api", Grouping::None, true).await;
    let w = m.trigger("cpu", "cpu", at(0));
    apply(&s, w.clone()).await;
    let inc = w.new_incident_id;
    let moot: Vec<_> = (0..20)
        .map(|i| new_notification(&mail, Some(inc), &format!("moot:{i}"), at(500)))
        .collect();
    assert!(
        s.apply_escalation_step(escalation_step(inc, 0, moot.clone(), None))
            .await
            .unwrap()
    );
    for i in 0..20 {
        queue(
            &s,
            new_notification(&mail, None, &format!("lost:{i}"), at(0)),
        )
        .await;
    }
    assert_eq!(
        s.claim_notifications(at(100), at(160), 100)
            .await
            .unwrap()
            .due
            .len(),
        20
    );
    s.set_incident_status(
        inc,
        IncidentStatus::Resolved,
        at(170),
        ev(
            SubjectType::Incident,
            inc,
            EventKind::IncidentResolved,
            json!({}),
        ),
    )
    .await
    .unwrap();
    let mut claimers = Vec::new();
    for _ in 0..8 {
        let s = s.clone();
        claimers.push(tokio::spawn(async move {
            s.claim_notifications(at(200), at(260), 100).await.unwrap()
        }));
    }
    let (mut cancelled, mut abandoned) = (0, 0);
    for t in claimers {
        let c = t.await.unwrap();
        assert!(c.due.is_empty());
        cancelled += c.cancelled;
        abandoned += c.abandoned;
    }
    assert_eq!((cancelled, abandoned), (20, 20));
    let timeline = events_of(&s, SubjectType::Incident, inc).await;
    assert_eq!(
        timeline
            .iter()
            .filter(|e| e.kind == EventKind::NotificationCancelled)
            .count(),
        20
    );
    let failed = s
        .events(SubjectType::User, &ada.id.to_string(), None, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == EventKind::NotificationFailed)
        .count();
    assert_eq!(failed, 20);
}

pub async fn incidents_are_acknowledged_and_resolved_by_hand(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let m = monitored(&s, "api", Grouping::Time { window_minutes: 60 }, false).await;
    let w1 = m.trigger("k1", "one", mins(1));
    let w2 = m.trigger("k2", "two", mins(2));
    let w3 = m.trigger("k3", "three", mins(3));
    for w in [&w1, &w2, &w3] {
        apply(&s, w.clone()).await;
    }
    apply(&s, m.resolve("k3", mins(4))).await;
    let inc = w1.new_incident_id;
    assert_eq!(s.incident(inc).await.unwrap().alert_count, 3);
    let by_ada = |kind: EventKind| {
        NewEvent::new(
            SubjectType::Incident,
            inc,
            mins(5),
            Actor::User(ada.id),
            kind,
            json!({}),
        )
    };

    // Acknowledging takes the triggered alerts along.
    let acked = s
        .set_incident_status(
            inc,
            IncidentStatus::Acknowledged,
            mins(5),
            by_ada(EventKind::IncidentAcknowledged),
        )
        .await
        .unwrap();
    assert_eq!(
        (acked.status, acked.acknowledged_at, acked.resolved_at),
        (IncidentStatus::Acknowledged, Some(mins(5)), None)
    );
    assert_eq!(s.incident(inc).await.unwrap(), acked);
    for w in [&w1, &w2] {
        let a = s.alert(w.new_alert_id).await.unwrap();
        assert_eq!(
            (a.status, a.acknowledged_at),
            (AlertStatus::Acknowledged, Some(mins(5)))
        );
        let evs = events_of(&s, SubjectType::Alert, w.new_alert_id).await;
        let last = evs.last().unwrap();
        assert_eq!(
            (last.kind, last.at, &last.actor),
            (EventKind::AlertAcknowledged, mins(5), &Actor::User(ada.id))
        );
        assert_eq!(last.data["incident_id"], json!(inc));
    }
    let resolved_alert = s.alert(w3.new_alert_id).await.unwrap();
    assert_eq!(
        (resolved_alert.status, resolved_alert.acknowledged_at),
        (AlertStatus::Resolved, None)
    );
    assert_eq!(
        kinds(&events_of(&s, SubjectType::Alert, w3.new_alert_id).await),
        vec![EventKind::AlertTriggered, EventKind::AlertResolved]
    );
    conflict(
        s.set_incident_status(
            inc,
            IncidentStatus::Acknowledged,
            mins(6),
            by_ada(EventKind::IncidentAcknowledged),
        )
        .await,
        "incident_status",
    );

    // Resolving takes every open alert along.
    let resolved = s
        .set_incident_status(
            inc,
            IncidentStatus::Resolved,
            mins(7),
            by_ada(EventKind::IncidentResolved),
        )
        .await
        .unwrap();
    assert_eq!(
        (
            resolved.status,
            resolved.acknowledged_at,
            resolved.resolved_at
        ),
        (IncidentStatus::Resolved, Some(mins(5)), Some(mins(7)))
    );
    for w in [&w1, &w2] {
        let a = s.alert(w.new_alert_id).await.unwrap();
        assert_eq!(
            (a.status, a.resolved_at),
            (AlertStatus::Resolved, Some(mins(7)))
        );
        assert_eq!(
            kinds(&events_of(&s, SubjectType::Alert, w.new_alert_id).await),
            vec![
                EventKind::AlertTriggered,
                EventKind::AlertAcknowledged,
                EventKind::AlertResolved
            ]
        );
    }
    assert_eq!(
        s.alert(w3.new_alert_id).await.unwrap().resolved_at,
        Some(mins(4))
    );

    // A resolved incident is neither acknowledged nor resolved again; nothing is written.
    let timeline = events_of(&s, SubjectType::Incident, inc).await;
    conflict(
        s.set_incident_status(
            inc,
            IncidentStatus::Acknowledged,
            mins(8),
            by_ada(EventKind::IncidentAcknowledged),
        )
        .await,
        "incident_status",
    );
    conflict(
        s.set_incident_status(
            inc,
            IncidentStatus::Resolved,
            mins(8),
            by_ada(EventKind::IncidentResolved),
        )
        .await,
        "incident_status",
    );
    assert_eq!(s.incident(inc).await.unwrap(), resolved);
    assert_eq!(events_of(&s, SubjectType::Incident, inc).await, timeline);
    assert_eq!(
        kinds(&timeline[timeline.len() - 2..]),
        vec![EventKind::IncidentAcknowledged, EventKind::IncidentResolved]
    );
    assert_eq!(timeline.last().unwrap().actor, Actor::User(ada.id));

    // A triggered incident resolves directly, its alerts with it.
    let w4 = m.trigger("k4", "four", mins(10));
    apply(&s, w4.clone()).await;
    assert_eq!(
        s.alert(w4.new_alert_id).await.unwrap().incident_id,
        Some(w4.new_incident_id)
    );
    let direct = s
        .set_incident_status(
            w4.new_incident_id,
            IncidentStatus::Resolved,
            mins(11),
            by_ada(EventKind::IncidentResolved),
        )
        .await
        .unwrap();
    assert_eq!(
        (direct.status, direct.acknowledged_at),
        (IncidentStatus::Resolved, None)
    );
    assert_eq!(
        s.alert(w4.new_alert_id).await.unwrap().status,
        AlertStatus::Resolved
    );
    // The alert's key is free again: a new trigger opens a new alert.
    assert_eq!(
        apply(&s, m.trigger("k4", "four", mins(12))).await.step,
        Step::Open
    );

    assert!(
        s.set_incident_status(
            IncidentId::new(t0(), rnd()),
            IncidentStatus::Acknowledged,
            mins(9),
            by_ada(EventKind::IncidentAcknowledged),
        )
        .await
        .unwrap_err()
        .is_not_found()
    );
}

pub async fn test_notifications_are_queued_once_per_key(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let bob = person(&s, "bob@example.com").await;
    let mut hook = new_method(ada.id, ContactKind::Webhook, "https://hooks.example.com/a");
    hook.secret = Some("whsec_x".into());
    let hook = create_method(&s, &hook).await;
    let new = new_notification(&hook, None, "test:ada:1", at(0));
    let queued = queue(&s, new.clone()).await;
    assert_eq!(
        queued,
        Notification {
            id: new.id,
            incident_id: None,
            user_id: ada.id,
            contact_method_id: Some(hook.id),
            kind: ContactKind::Webhook,
            address: hook.address.clone(),
            dedup_key: "test:ada:1".into(),
            payload: new.payload.clone(),
            status: NotificationStatus::Pending,
            attempts: 0,
            run_at: at(0),
            last_error: None,
            created_at: t0(),
            sent_at: None,
        }
    );
    assert_eq!(s.notification(new.id).await.unwrap(), queued);
    assert_eq!(
        s.list_notifications(None, Some(ada.id), None, 10)
            .await
            .unwrap(),
        vec![queued.clone()]
    );
    assert!(
        s.list_notifications(None, Some(bob.id), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.notification(NotificationId::new(t0(), rnd()))
            .await
            .unwrap_err()
            .is_not_found()
    );
    // Its event is on the user's timeline.
    assert_eq!(
        note_events(&s, &queued).await,
        vec![EventKind::NotificationQueued]
    );

    // The same key again: a named conflict; neither it nor its event is written.
    let dup = new_notification(&hook, None, "test:ada:1", at(0));
    let dup_ev = user_ev(ada.id, EventKind::NotificationQueued);
    conflict(
        s.queue_notification(dup.clone(), dup_ev).await,
        "notifications_dedup_key",
    );
    assert!(s.notification(dup.id).await.unwrap_err().is_not_found());
    assert_eq!(
        kinds(&events_of(&s, SubjectType::User, ada.id).await)
            .iter()
            .filter(|k| **k == EventKind::NotificationQueued)
            .count(),
        1
    );

    // Whatever the claim does to it is on the user's timeline too.
    let claimed = s.claim_notifications(at(0), at(60), 10).await.unwrap();
    assert_eq!(
        claimed.due,
        vec![Notification {
            status: NotificationStatus::Sending,
            attempts: 1,
            run_at: at(60),
            ..queued.clone()
        }]
    );
    let claimed = s.claim_notifications(at(60), at(120), 10).await.unwrap();
    assert_eq!(claimed.abandoned, 1);
    let failed = s.notification(queued.id).await.unwrap();
    assert_eq!(
        note_events(&s, &failed).await,
        vec![EventKind::NotificationQueued, EventKind::NotificationFailed]
    );
    let evs = events_of(&s, SubjectType::User, ada.id).await;
    let last = evs.last().unwrap();
    assert_eq!(
        (last.kind, last.at),
        (EventKind::NotificationFailed, at(60))
    );
    assert_eq!(last.data["user_id"], json!(ada.id));
}

/// People and integrations acknowledging one incident at once: it moves once, nobody fails
/// for any other reason.
pub async fn racing_acknowledgements_move_an_incident_once(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let m = monitored(&s, "api", Grouping::Time { window_minutes: 60 }, true).await;
    for round in 0..5 {
        let base = round * 100;
        let keys: Vec<String> = (0..3).map(|i| format!("r{round}k{i}")).collect();
        let first = m.trigger(&keys[0], "first", mins(base + 1));
        apply(&s, first.clone()).await;
        for (i, k) in keys.iter().enumerate().skip(1) {
            apply(&s, m.trigger(k, "more", mins(base + 1 + i as i64))).await;
        }
        let inc = first.new_incident_id;
        let mut people = Vec::new();
        for _ in 0..4 {
            let s = s.clone();
            let e = NewEvent::new(
                SubjectType::Incident,
                inc,
                mins(base + 10),
                Actor::User(ada.id),
                EventKind::IncidentAcknowledged,
                json!({}),
            );
            people.push(tokio::spawn(async move {
                s.set_incident_status(inc, IncidentStatus::Acknowledged, mins(base + 10), e)
                    .await
            }));
        }
        let mut integrations = Vec::new();
        for k in &keys[..2] {
            let s = s.clone();
            let w = m.acknowledge(k, mins(base + 10));
            integrations.push(tokio::spawn(async move { apply(&s, w).await }));
        }
        let mut moved = 0;
        for t in people {
            match t.await.unwrap() {
                Ok(i) => {
                    assert_eq!(i.status, IncidentStatus::Acknowledged);
                    moved += 1;
                }
                Err(StoreError::Conflict { constraint }) => {
                    assert_eq!(constraint, "incident_status");
                }
                Err(other) => panic!("acknowledging failed: {other:?}"),
            }
        }
        for t in integrations {
            // Already acknowledged by hand: nothing to do.
            assert!(matches!(
                t.await.unwrap().step,
                Step::Acknowledge | Step::Ignore
            ));
        }
        assert!(moved <= 1, "{moved} people acknowledged one incident");
        let inc = s.incident(inc).await.unwrap();
        assert_eq!(inc.status, IncidentStatus::Acknowledged);
        let acks = events_of(&s, SubjectType::Incident, inc.id)
            .await
            .iter()
            .filter(|e| e.kind == EventKind::IncidentAcknowledged)
            .count();
        assert_eq!(acks, 1);
        // By hand, every alert is acknowledged; if an integration came first, only its own.
        let mut statuses: Vec<(String, AlertStatus)> = alerts_where(
            &s,
            AlertFilter {
                incident_id: Some(inc.id),
                ..AlertFilter::default()
            },
        )
        .await
        .into_iter()
        .map(|a| (a.dedup_key, a.status))
        .collect();
        statuses.sort();
        let third = if moved == 1 {
            AlertStatus::Acknowledged
        } else {
            AlertStatus::Triggered
        };
        assert_eq!(
            statuses,
            vec![
                (keys[0].clone(), AlertStatus::Acknowledged),
                (keys[1].clone(), AlertStatus::Acknowledged),
                (keys[2].clone(), third),
            ]
        );
        // Then resolved by hand, with an integration resolving one alert at the same time.
        let s2 = s.clone();
        let w = m.resolve(&keys[2], mins(base + 20));
        let signal = tokio::spawn(async move { apply(&s2, w).await });
        let e = NewEvent::new(
            SubjectType::Incident,
            inc.id,
            mins(base + 20),
            Actor::User(ada.id),
            EventKind::IncidentResolved,
            json!({}),
        );
        let by_hand = s
            .set_incident_status(inc.id, IncidentStatus::Resolved, mins(base + 20), e)
            .await;
        let signal = signal.await.unwrap();
        // Two alerts stay open whatever the signal does: the incident is resolved by hand.
        assert_eq!(by_hand.unwrap().status, IncidentStatus::Resolved);
        assert!(matches!(signal.step, Step::Resolve | Step::Ignore));
        assert!(
            alerts_where(
                &s,
                AlertFilter {
                    incident_id: Some(inc.id),
                    ..AlertFilter::default()
                },
            )
            .await
            .iter()
            .all(|a| a.status == AlertStatus::Resolved)
        );
        assert_eq!(
            s.incident(inc.id).await.unwrap().status,
            IncidentStatus::Resolved
        );
    }
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

/// Storm control's store side: a deferred notification is pending again at its time without
/// the claim's attempt counted, with its event; `last_sent` knows each method's latest send.
pub async fn deferred_notifications_wait_uncounted_and_last_sends_are_known(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let hook = create_method(
        &s,
        &new_method(ada.id, ContactKind::Webhook, "https://a.example.com/1"),
    )
    .await;
    let other = create_method(
        &s,
        &new_method(ada.id, ContactKind::Webhook, "https://a.example.com/2"),
    )
    .await;
    assert!(s.last_sent(&[hook.id, other.id]).await.unwrap().is_empty());
    assert!(s.last_sent(&[]).await.unwrap().is_empty());
    let first = queue(&s, new_notification(&hook, None, "d:1", mins(0))).await;
    let second = queue(&s, new_notification(&hook, None, "d:2", mins(0))).await;
    let claimed = s.claim_notifications(mins(0), mins(2), 10).await.unwrap();
    assert_eq!(claimed.due.len(), 2);
    s.finish_notification(
        first.id,
        SendResult::Sent { at: mins(1) },
        note_ev(&first, EventKind::NotificationSent),
    )
    .await
    .unwrap();
    assert!(
        s.defer_notification(
            second.id,
            mins(3),
            note_ev(&second, EventKind::NotificationDeferred)
        )
        .await
        .unwrap()
    );
    let waiting = s.notification(second.id).await.unwrap();
    assert_eq!(
        (waiting.status, waiting.attempts, waiting.run_at),
        (NotificationStatus::Pending, 0, mins(3))
    );
    assert!(
        note_events(&s, &second)
            .await
            .contains(&EventKind::NotificationDeferred)
    );
    // Only what is sending can be deferred.
    assert!(
        !s.defer_notification(
            second.id,
            mins(9),
            note_ev(&second, EventKind::NotificationDeferred)
        )
        .await
        .unwrap()
    );
    assert!(
        s.claim_notifications(mins(2), mins(4), 10)
            .await
            .unwrap()
            .due
            .is_empty()
    );
    let again = s.claim_notifications(mins(3), mins(5), 10).await.unwrap();
    assert_eq!(again.due.len(), 1);
    assert_eq!(
        again.due[0].attempts, 1,
        "the deferral did not count as an attempt"
    );
    assert_eq!(
        s.last_sent(&[hook.id, other.id]).await.unwrap(),
        vec![(hook.id, mins(1))]
    );
}
