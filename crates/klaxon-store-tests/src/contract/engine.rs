//! The event ledger, the job queue and group commit.
use super::*;

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

pub async fn events_of_a_type_read_back_across_subjects(s: Arc<dyn Store>) {
    assert_eq!(s.last_event_seq().await.unwrap(), 0, "no events yet");
    let mut incidents = Vec::new();
    for i in 0..3 {
        for subject in ["a", "b"] {
            let e = s
                .append_event(ev(
                    SubjectType::Incident,
                    subject,
                    EventKind::SystemNote,
                    json!({"i": i}),
                ))
                .await
                .unwrap();
            incidents.push(e);
        }
        s.append_event(ev(
            SubjectType::System,
            "a",
            EventKind::SystemNote,
            json!({"i": i}),
        ))
        .await
        .unwrap();
    }
    let last = s.last_event_seq().await.unwrap();
    assert!(
        last > incidents.last().unwrap().seq,
        "the system event came last"
    );
    let all = s
        .events_of_type(SubjectType::Incident, 0, 100)
        .await
        .unwrap();
    assert_eq!(
        all, incidents,
        "every incident's events, in order, no others"
    );
    let rest = s
        .events_of_type(SubjectType::Incident, incidents[1].seq, 3)
        .await
        .unwrap();
    assert_eq!(rest, incidents[2..5].to_vec());
    assert!(
        s.events_of_type(SubjectType::Incident, last, 100)
            .await
            .unwrap()
            .is_empty()
    );
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
        s.claim_jobs("w1", at(9), at(69), 10, ALL)
            .await
            .unwrap()
            .is_empty()
    );
    let claimed = s.claim_jobs("w1", at(10), at(70), 10, ALL).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!((claimed[0].id, claimed[0].attempts), (j.id, 1));
    assert_eq!(claimed[0].lease_owner.as_deref(), Some("w1"));
    assert_eq!(claimed[0].payload, json!({"n": 1}));
    // Leased: nobody else gets it.
    assert!(
        s.claim_jobs("w2", at(20), at(80), 10, ALL)
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

/// The engine's lanes: a claim takes only the kinds it names, or all but those.
pub async fn jobs_are_claimed_by_kind(s: Arc<dyn Store>) {
    for (kind, key) in [("check.run", "a"), ("escalate", "b"), ("run.http", "c")] {
        s.enqueue_job(new_job(kind, Some(key), at(0)))
            .await
            .unwrap();
    }
    let slow = ["check.run", "run.http"];
    let kinds = |jobs: Vec<Job>| {
        let mut k: Vec<String> = jobs.into_iter().map(|j| j.kind).collect();
        k.sort();
        k
    };
    let paging = s
        .claim_jobs("p", at(0), at(60), 10, JobKinds::Except(&slow))
        .await
        .unwrap();
    assert_eq!(kinds(paging), ["escalate"]);
    let other = s
        .claim_jobs("s", at(0), at(60), 10, JobKinds::Only(&slow))
        .await
        .unwrap();
    assert_eq!(kinds(other), ["check.run", "run.http"]);
    // Nothing left for either.
    assert!(
        s.claim_jobs("x", at(0), at(60), 10, ALL)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn jobs_with_expired_leases_are_reclaimed(s: Arc<dyn Store>) {
    let j = new_job("notify", None, at(0));
    s.enqueue_job(j.clone()).await.unwrap();
    assert_eq!(
        s.claim_jobs("dead-worker", at(0), at(60), 10, ALL)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        s.claim_jobs("w2", at(59), at(119), 10, ALL)
            .await
            .unwrap()
            .is_empty()
    );
    let again = s.claim_jobs("w2", at(60), at(120), 10, ALL).await.unwrap();
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
    s.claim_jobs("w", at(0), at(60), 10, ALL).await.unwrap();
    s.retry_job(j.id, "w", "connection refused", at(5))
        .await
        .unwrap();
    let stored = s.job(j.id).await.unwrap();
    assert_eq!(stored.run_at, at(5));
    assert_eq!(stored.last_error.as_deref(), Some("connection refused"));
    assert_eq!((stored.lease_owner, stored.attempts), (None, 1));
    assert!(
        s.claim_jobs("w", at(4), at(64), 10, ALL)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.claim_jobs("w", at(5), at(65), 10, ALL).await.unwrap()[0].attempts,
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
        s.claim_jobs("w", at(10_000), at(10_060), 10, ALL)
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
                let batch = s.claim_jobs(&owner, at(1), at(61), 7, ALL).await.unwrap();
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
