//! Workflows: the inbox takes exactly the events some trigger listens to, and only while a
//! workflow is enabled; a cause runs a workflow once; an action is begun once; a run ends
//! once, with one event; saves stack on the revision they read.
use super::*;
use klaxon_domain::ids::{WorkflowId, WorkflowRunId};
use klaxon_domain::workflow::{self, Workflow};

fn definition(name: &str, enabled: bool) -> Workflow {
    let mut w = workflow::parse_file(&format!(
        "name: {name}\ntrigger: {{on: incident_declared}}\nactions: [{{add_tasks: [Look]}}]"
    ))
    .unwrap()
    .remove(0);
    w.enabled = enabled;
    w
}

fn wf_ev(id: WorkflowId, kind: EventKind) -> NewEvent {
    ev(SubjectType::Workflow, id, kind, json!({}))
}

fn run(w: &WorkflowRecord, cause: &str) -> NewWorkflowRun {
    NewWorkflowRun {
        run: WorkflowRunRecord {
            id: WorkflowRunId::new(t0(), rnd()),
            workflow_id: w.id,
            workflow_name: w.definition.name.clone(),
            cause: cause.into(),
            incident_id: None,
            revision: w.revision,
            definition: w.definition.clone(),
            chain: vec![w.id],
            state: run_state::QUEUED.into(),
            created_at: t0(),
            lease_until: None,
            finished_at: None,
            actions: Vec::new(),
        },
        events: vec![ev(
            SubjectType::System,
            "klaxon",
            EventKind::SystemNote,
            json!({"cause": cause}),
        )],
    }
}

async fn inbox_kinds(s: &Arc<dyn Store>) -> Vec<String> {
    s.workflow_inbox(1000)
        .await
        .unwrap()
        .iter()
        .map(|e| e.kind.as_str().to_owned())
        .collect()
}

pub async fn workflows_take_each_event_and_cause_once(s: Arc<dyn Store>) {
    let mut w = WorkflowRecord {
        id: WorkflowId::new(t0(), rnd()),
        definition: definition("declared", false),
        revision: 1,
        created_at: t0(),
        updated_by: None,
        updated_at: t0(),
    };
    s.create_workflow(&w, wf_ev(w.id, EventKind::WorkflowCreated))
        .await
        .unwrap();
    assert_eq!(s.workflow_named("declared").await.unwrap(), w);
    // The same name again is a conflict.
    let twin = WorkflowRecord {
        id: WorkflowId::new(t0(), rnd()),
        ..w.clone()
    };
    let e = s
        .create_workflow(&twin, wf_ev(twin.id, EventKind::WorkflowCreated))
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Conflict { .. }), "{e:?}");

    // Nothing enabled: nothing is kept for workflows.
    let incident = ev(
        SubjectType::Incident,
        "x",
        EventKind::IncidentDeclared,
        json!({}),
    );
    s.append_event(incident.clone()).await.unwrap();
    assert!(inbox_kinds(&s).await.is_empty());

    // Enabled (revision 2 over 1); a save over a stale revision is refused.
    w.definition.enabled = true;
    w.revision = 2;
    s.update_workflow(&w, wf_ev(w.id, EventKind::WorkflowUpdated))
        .await
        .unwrap();
    let e = s
        .update_workflow(&w, wf_ev(w.id, EventKind::WorkflowUpdated))
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Conflict { .. }), "{e:?}");

    // Every kind a trigger listens to, and one no trigger does: only the enabled workflow's
    // trigger's kinds are kept.
    let every = || async {
        for k in workflow::trigger_event_kinds() {
            let kind = EventKind::parse(k).unwrap();
            s.append_event(ev(SubjectType::Incident, "x", kind, json!({})))
                .await
                .unwrap();
        }
        s.append_event(ev(
            SubjectType::Incident,
            "x",
            EventKind::IncidentNoteAdded,
            json!({}),
        ))
        .await
        .unwrap();
    };
    every().await;
    let mut want = vec![
        "incident.declared".to_owned(),
        "incident.triggered".to_owned(),
    ];
    assert_eq!(inbox_kinds(&s).await, want);
    // With a workflow on every other trigger, every kind.
    for t in workflow::TriggerKind::ALL {
        if matches!(
            t,
            workflow::TriggerKind::IncidentDeclared | workflow::TriggerKind::NoUpdate
        ) {
            continue;
        }
        let mut d = definition(&t.as_str().replace('_', "-"), true);
        d.trigger.on = *t;
        let other = WorkflowRecord {
            id: WorkflowId::new(t0(), rnd()),
            definition: d,
            ..w.clone()
        };
        s.create_workflow(&other, wf_ev(other.id, EventKind::WorkflowCreated))
            .await
            .unwrap();
    }
    every().await;
    want.extend(
        workflow::trigger_event_kinds()
            .into_iter()
            .map(str::to_owned),
    );
    assert_eq!(inbox_kinds(&s).await, want);

    // Queued with the events taken: once per cause, its events only when new.
    let taken: Vec<i64> = s
        .workflow_inbox(1000)
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    let first = run(&w, "event:1");
    assert_eq!(
        s.queue_workflow_runs(&taken, std::slice::from_ref(&first))
            .await
            .unwrap(),
        1
    );
    assert!(inbox_kinds(&s).await.is_empty());
    assert_eq!(
        s.queue_workflow_runs(&[], &[run(&w, "event:1")])
            .await
            .unwrap(),
        0
    );
    let notes = s
        .events(SubjectType::System, "klaxon", None, 100)
        .await
        .unwrap();
    assert_eq!(
        notes
            .iter()
            .filter(|e| e.kind == EventKind::SystemNote)
            .count(),
        1
    );

    // Claimed once while the lease holds; an action begun once.
    let until = mins(1);
    let claimed = s.claim_workflow_runs("one", t0(), until, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].chain, vec![w.id]);
    assert_eq!(claimed[0].definition, w.definition);
    assert!(
        s.claim_workflow_runs("two", t0(), until, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let id = first.run.id;
    // Only its holder begins an action, and only once.
    assert!(
        !s.begin_workflow_action(id, "two", 0, "add_tasks", t0(), until)
            .await
            .unwrap()
    );
    assert!(
        s.begin_workflow_action(id, "one", 0, "add_tasks", t0(), until)
            .await
            .unwrap()
    );
    assert!(
        !s.begin_workflow_action(id, "one", 0, "add_tasks", t0(), until)
            .await
            .unwrap()
    );
    // The lease ran out: claimed again, with the action as begun; the first holder can begin
    // nothing more.
    let again = s
        .claim_workflow_runs("three", mins(2), mins(3), 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].actions.len(), 1);
    assert_eq!(again[0].actions[0].state, action_state::STARTED);
    assert!(
        !s.begin_workflow_action(id, "one", 1, "add_tasks", mins(2), mins(3))
            .await
            .unwrap()
    );
    s.end_workflow_action(
        id,
        &ActionOutcome {
            position: 0,
            kind: "add_tasks".into(),
            state: action_state::UNKNOWN.into(),
            detail: "stopped".into(),
            at: mins(2),
        },
    )
    .await
    .unwrap();
    // An outcome is never written over another: the first holder's late `succeeded` is lost.
    s.end_workflow_action(
        id,
        &ActionOutcome {
            position: 0,
            kind: "add_tasks".into(),
            state: action_state::SUCCEEDED.into(),
            detail: "late".into(),
            at: mins(2),
        },
    )
    .await
    .unwrap();
    let done = || {
        ev(
            SubjectType::System,
            "klaxon",
            EventKind::WorkflowRan,
            json!({}),
        )
    };
    s.finish_workflow_run(id, run_state::DONE, mins(2), done())
        .await
        .unwrap();
    // A second finish (an instance whose lease ran out) writes nothing.
    s.finish_workflow_run(id, run_state::DONE, mins(2), done())
        .await
        .unwrap();
    let r = s.workflow_run(id).await.unwrap();
    assert_eq!(r.state, run_state::DONE);
    assert_eq!(r.finished_at, Some(mins(2)));
    assert_eq!(r.actions[0].state, action_state::UNKNOWN);
    let ran = s
        .events(SubjectType::System, "klaxon", None, 100)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.kind == EventKind::WorkflowRan)
        .count();
    assert_eq!(ran, 1);
    assert!(
        s.claim_workflow_runs("four", mins(9), mins(10), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let listed = s
        .list_workflow_runs(Some(w.id), None, None, 10)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);

    // Deleted with its runs.
    s.delete_workflow(w.id, wf_ev(w.id, EventKind::WorkflowDeleted))
        .await
        .unwrap();
    assert!(matches!(
        s.workflow_run(id).await,
        Err(StoreError::NotFound)
    ));
    assert!(
        s.list_workflows()
            .await
            .unwrap()
            .iter()
            .all(|o| o.id != w.id)
    );
}
