//! Workflows at work: events (and quiet incidents) become runs, once per workflow and cause,
//! and each run takes its actions in order, each outcome recorded.
//!
//! Events reach workflows through an inbox the database fills in the transaction that writes
//! them, so none is missed however late it commits. A run is unique per (workflow, cause),
//! so two instances queue it once. Each action is written `started` before it is taken: an
//! instance that stops mid-action leaves it `unknown`, and it is never taken twice.
use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{IncidentId, WorkflowId, WorkflowRunId};
use klaxon_domain::incident::IncidentStatus;
use klaxon_domain::workflow::{self, Action, Facts, TriggerKind};
use klaxon_store::{
    ActionOutcome, Event, Incident, NewWorkflowRun, StoreResult, WorkflowRecord, WorkflowRunRecord,
    action_state, run_state,
};
use serde_json::json;

use crate::incidents::api::Who;
use crate::shared::crypto::{hex, random_bytes};
use crate::shared::engine::{JobContext, Outbox, WorkflowReport};
use crate::shared::error::{ApiError, ApiResult};
use crate::shared::state::AppState;
use crate::shared::terms::{self, At};

/// Events taken from the inbox per batch, and batches per round at most.
const INBOX_BATCH: u32 = 200;
const INBOX_ROUNDS: usize = 10;
/// Why an action was skipped after one with `stop_on_failure` failed.
const STOPS_THE_REST: &str = "an action before it failed and stops the rest";
/// How long a run is held while one action is taken: longer than any action takes (a webhook
/// call's time limit is 10 s).
const HOLD: SignedDuration = SignedDuration::from_secs(60);
/// How often the clock looks for quiet incidents.
const QUIET_EVERY: SignedDuration = SignedDuration::from_secs(30);
/// A webhook call's time limit.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The engine's workflow outbox. It needs the application (actions go through the same
/// functions as the API), which is built after the engine: `attach` hands it over. The
/// application holds the engine, so the two keep each other for the life of the process.
#[derive(Default)]
pub struct Workflows {
    app: OnceLock<AppState>,
    last_quiet_scan: Mutex<Option<Timestamp>>,
    /// The `no_update` causes this instance queued already (or found queued): an incident that
    /// stays quiet is neither read nor written again every scan.
    quiet_seen: Mutex<HashSet<(WorkflowId, String)>>,
}

impl Workflows {
    pub fn attach(&self, state: AppState) {
        let _ = self.app.set(state);
    }
}

#[async_trait]
impl Outbox for Workflows {
    type Report = WorkflowReport;

    async fn drain(&self, _ctx: &JobContext) -> StoreResult<WorkflowReport> {
        let Some(state) = self.app.get() else {
            return Ok(WorkflowReport::default());
        };
        let mut report = WorkflowReport::default();
        // Catch up after a burst (an alert storm with an alert workflow), a bounded number of
        // batches per round. A failure here must not hold back the runs queued already.
        for _ in 0..INBOX_ROUNDS {
            match dispatch(state).await {
                Ok((taken, queued)) => {
                    report.queued += queued;
                    if taken < INBOX_BATCH as usize {
                        break;
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "workflows: could not read or queue the inbox");
                    break;
                }
            }
        }
        let now = state.clock.now();
        let due = {
            let mut last = self
                .last_quiet_scan
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let due = last.is_none_or(|l| now.duration_since(l) >= QUIET_EVERY || now < l);
            if due {
                *last = Some(now);
            }
            due
        };
        if due {
            match quiet(state, now, &self.quiet_seen).await {
                Ok(n) => report.queued += n,
                Err(e) => {
                    tracing::error!(error = %e, "workflows: could not look for quiet incidents")
                }
            }
        }
        report.finished = execute(state).await?;
        Ok(report)
    }
}

fn new_run(
    w: &WorkflowRecord,
    cause: String,
    incident: IncidentId,
    chain: Vec<WorkflowId>,
    state: &str,
    now: Timestamp,
) -> WorkflowRunRecord {
    WorkflowRunRecord {
        id: WorkflowRunId::new(now, random_bytes()),
        workflow_id: w.id,
        workflow_name: w.definition.name.clone(),
        cause,
        incident_id: Some(incident),
        revision: w.revision,
        definition: w.definition.clone(),
        chain,
        state: state.to_owned(),
        created_at: now,
        lease_until: None,
        finished_at: (state == run_state::LOOP).then_some(now),
        actions: Vec::new(),
    }
}

/// What the conditions look at, for an incident (and the alert that fired the trigger).
struct Known {
    incident: Incident,
    service: Option<String>,
    alert: Option<(
        std::collections::BTreeMap<String, String>,
        serde_json::Value,
    )>,
}

/// What is known for an event: its incident, or the incident of the alert it is about.
async fn known(state: &AppState, e: &Event) -> StoreResult<Option<Known>> {
    let store = &state.store;
    let (incident_id, alert) = match e.subject_type {
        SubjectType::Incident => match e.subject_id.parse::<IncidentId>() {
            Ok(id) => (id, None),
            Err(_) => return Ok(None),
        },
        SubjectType::Alert => {
            let Ok(id) = e.subject_id.parse() else {
                return Ok(None);
            };
            let a = match store.alert(id).await {
                Ok(a) => a,
                Err(e) if e.is_not_found() => return Ok(None),
                Err(e) => return Err(e),
            };
            let Some(incident) = a.incident_id else {
                return Ok(None);
            };
            let fields = klaxon_domain::runbook::alert_fields(&a.content, &a.dedup_key);
            let details = serde_json::to_value(&a.content.details).unwrap_or_default();
            (incident, Some((fields, details)))
        }
        _ => return Ok(None),
    };
    known_incident(state, incident_id, alert).await
}

async fn known_incident(
    state: &AppState,
    incident_id: IncidentId,
    alert: Option<(
        std::collections::BTreeMap<String, String>,
        serde_json::Value,
    )>,
) -> StoreResult<Option<Known>> {
    let store = &state.store;
    let incident = match store.incident(incident_id).await {
        Ok(i) => i,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e),
    };
    let service = match incident.service_id {
        Some(s) => match store.service(s).await {
            Ok(s) => Some(s.name),
            Err(e) if e.is_not_found() => None,
            // Not a missing service: the conditions must not be judged without it.
            Err(e) => return Err(e),
        },
        None => None,
    };
    Ok(Some(Known {
        incident,
        service,
        alert,
    }))
}

/// The workflows whose actions led to an event, oldest first: none for a person's doing.
async fn chain_of(state: &AppState, actor: &Actor) -> StoreResult<Vec<WorkflowId>> {
    match actor {
        Actor::Workflow(run) => match state.store.workflow_run(*run).await {
            Ok(r) => {
                let mut chain = r.chain;
                chain.push(r.workflow_id);
                Ok(chain)
            }
            // Its workflow was deleted since (with its runs): that one cannot run again.
            Err(e) if e.is_not_found() => Ok(Vec::new()),
            Err(e) => Err(e),
        },
        _ => Ok(Vec::new()),
    }
}

fn loop_event(w: &WorkflowRecord, incident: IncidentId, cause: &str, now: Timestamp) -> NewEvent {
    NewEvent::new(
        SubjectType::Incident,
        incident,
        now,
        Actor::System,
        EventKind::WorkflowLoopStopped,
        json!({"workflow": w.definition.name, "workflow_id": w.id, "cause": cause}),
    )
}

/// Turns the inbox's events into runs of the enabled workflows whose trigger and conditions
/// they meet. Returns how many events it took and how many runs it queued.
async fn dispatch(state: &AppState) -> StoreResult<(usize, u32)> {
    let events = state.store.workflow_inbox(INBOX_BATCH).await?;
    if events.is_empty() {
        return Ok((0, 0));
    }
    let workflows: Vec<WorkflowRecord> = state
        .store
        .list_workflows()
        .await?
        .into_iter()
        .filter(|w| w.definition.enabled)
        .collect();
    let now = state.clock.now();
    let mut runs = Vec::new();
    for e in &events {
        let Some(trigger) = TriggerKind::for_event(e.kind) else {
            continue;
        };
        let listening: Vec<&WorkflowRecord> = workflows
            .iter()
            .filter(|w| w.definition.trigger.on == trigger)
            .collect();
        if listening.is_empty() {
            continue;
        }
        let Some(k) = known(state, e).await? else {
            continue;
        };
        let i = &k.incident;
        // The status and severity the event moved to, not whatever they are now (a reopened
        // incident: its status now).
        let status = match e.kind {
            EventKind::IncidentAcknowledged => Some(IncidentStatus::Acknowledged),
            EventKind::IncidentMitigated => Some(IncidentStatus::Mitigated),
            EventKind::IncidentResolved => Some(IncidentStatus::Resolved),
            EventKind::IncidentClosed => Some(IncidentStatus::Closed),
            _ => Some(i.status),
        };
        let severity = match e.kind {
            EventKind::IncidentSeverityChanged => {
                e.data["to"].as_str().and_then(|s| s.parse().ok())
            }
            _ => i.severity,
        };
        let facts = Facts {
            severity,
            priority: i.priority,
            status,
            service: k.service.as_deref(),
            role: e.data["role"].as_str(),
            alert: k.alert.as_ref().map(|(f, d)| (f, d)),
            drill: i.is_drill,
        };
        let chain = chain_of(state, &e.actor).await?;
        let cause = format!("event:{}", e.seq);
        for w in listening {
            if !w.definition.conditions.hold(&facts) {
                continue;
            }
            let looped = chain.contains(&w.id) || chain.len() >= workflow::MAX_CHAIN;
            runs.push(if looped {
                NewWorkflowRun {
                    run: new_run(w, cause.clone(), i.id, chain.clone(), run_state::LOOP, now),
                    events: vec![loop_event(w, i.id, &cause, now)],
                }
            } else {
                NewWorkflowRun {
                    run: new_run(
                        w,
                        cause.clone(),
                        i.id,
                        chain.clone(),
                        run_state::QUEUED,
                        now,
                    ),
                    events: Vec::new(),
                }
            });
        }
    }
    let taken: Vec<i64> = events.iter().map(|e| e.seq).collect();
    let queued = state.store.queue_workflow_runs(&taken, &runs).await?;
    Ok((taken.len(), queued))
}

/// Causes remembered at most; past it the memory starts again (the database still refuses a
/// cause twice).
const QUIET_SEEN_MAX: usize = 10_000;

/// Queues `no_update` workflows for open incidents that have gone quiet: once per quiet
/// stretch (the cause names the time the stretch began).
async fn quiet(
    state: &AppState,
    now: Timestamp,
    seen: &Mutex<HashSet<(WorkflowId, String)>>,
) -> StoreResult<u32> {
    let workflows: Vec<WorkflowRecord> = state
        .store
        .list_workflows()
        .await?
        .into_iter()
        .filter(|w| w.definition.enabled && w.definition.trigger.on == TriggerKind::NoUpdate)
        .collect();
    let Some(shortest) = workflows
        .iter()
        .filter_map(|w| w.definition.trigger.minutes)
        .min()
    else {
        return Ok(0);
    };
    let cutoff = now - SignedDuration::from_mins(i64::from(shortest));
    let quiet = state.store.quiet_incidents(cutoff).await?;
    let mut runs = Vec::new();
    let mut causes = Vec::new();
    for (id, since) in quiet {
        // The workflows this stretch is long enough for, whose run this instance has not
        // queued yet: none, and the incident is not even read.
        let due: Vec<(&WorkflowRecord, String)> = {
            let seen = seen.lock().unwrap_or_else(|p| p.into_inner());
            workflows
                .iter()
                .filter(|w| {
                    let minutes = i64::from(w.definition.trigger.minutes.unwrap_or(u32::MAX));
                    now.duration_since(since) >= SignedDuration::from_mins(minutes)
                })
                .map(|w| (w, format!("no_update:{id}:{}", since.as_millisecond())))
                .filter(|(w, cause)| !seen.contains(&(w.id, cause.clone())))
                .collect()
        };
        if due.is_empty() {
            continue;
        }
        let Some(k) = known_incident(state, id, None).await? else {
            continue;
        };
        let i = &k.incident;
        let facts = Facts {
            severity: i.severity,
            priority: i.priority,
            status: Some(i.status),
            service: k.service.as_deref(),
            drill: i.is_drill,
            ..Facts::default()
        };
        for (w, cause) in due {
            // One that does not meet the conditions is judged again next time: its severity,
            // say, may change while it stays quiet.
            if !w.definition.conditions.hold(&facts) {
                continue;
            }
            causes.push((w.id, cause.clone()));
            runs.push(NewWorkflowRun {
                run: new_run(w, cause, id, Vec::new(), run_state::QUEUED, now),
                events: Vec::new(),
            });
        }
    }
    let queued = if runs.is_empty() {
        0
    } else {
        state.store.queue_workflow_runs(&[], &runs).await?
    };
    let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
    if seen.len() + causes.len() > QUIET_SEEN_MAX {
        seen.clear();
    }
    seen.extend(causes);
    Ok(queued)
}

/// Takes the actions of the runs due, one run per claim (its lease is renewed with each action,
/// so a long run never lets the next one's lapse). Returns how many runs ended.
async fn execute(state: &AppState) -> StoreResult<u32> {
    let mut finished = 0;
    // This round's name on the runs it holds: only the holder takes their actions.
    let owner = hex(&random_bytes::<8>());
    loop {
        let now = state.clock.now();
        let Some(run) = state
            .store
            .claim_workflow_runs(&owner, now, now.saturating_add(HOLD).unwrap_or(now), 1)
            .await?
            .pop()
        else {
            return Ok(finished);
        };
        let id = run.id;
        match run_one(state, &owner, run).await {
            Ok(true) => finished += 1,
            Ok(false) => {}
            // Left to its lease: taken up again once it runs out.
            Err(e) => tracing::error!(run = %id, error = %e, "workflow run failed"),
        }
    }
}

/// Takes a run's remaining actions in order; `true` when it ended here.
async fn run_one(state: &AppState, owner: &str, run: WorkflowRunRecord) -> StoreResult<bool> {
    let store = &state.store;
    // Turned off since it was queued (in a storm, say): what is left is not taken.
    let off = match store.workflow(run.workflow_id).await {
        Ok(w) => !w.definition.enabled,
        Err(e) if e.is_not_found() => return Ok(false),
        Err(e) => return Err(e),
    };
    let mut stopped: Option<&str> = off.then_some("the workflow was turned off before this action");
    let mut outcomes = run.actions.clone();
    for (i, step) in run.definition.actions.iter().enumerate() {
        let position = i as i32;
        let kind = step.action.kind();
        if let Some(o) = outcomes.iter_mut().find(|o| o.position == position) {
            // Taken before, by an instance that stopped before it knew the outcome.
            if o.state == action_state::STARTED {
                o.state = action_state::UNKNOWN.to_owned();
                o.detail = "Klaxon stopped while taking this action: it may or may not have \
                            happened, and is not taken again"
                    .to_owned();
                o.at = state.clock.now();
                store.end_workflow_action(run.id, o).await?;
            }
            // Whether an action of unknown outcome failed is not known: as safe to stop.
            if step.stop_on_failure
                && (o.state == action_state::FAILED || o.state == action_state::UNKNOWN)
            {
                stopped = stopped.or(Some(STOPS_THE_REST));
            }
            continue;
        }
        let now = state.clock.now();
        if let Some(why) = stopped {
            let o = ActionOutcome {
                position,
                kind: kind.to_owned(),
                state: action_state::SKIPPED.to_owned(),
                detail: why.to_owned(),
                at: now,
            };
            store.end_workflow_action(run.id, &o).await?;
            outcomes.push(o);
            continue;
        }
        let until = now.saturating_add(HOLD).unwrap_or(now);
        if !store
            .begin_workflow_action(run.id, owner, position, kind, now, until)
            .await?
        {
            // Another instance holds this run now (our lease ran out): leave it to it.
            return Ok(false);
        }
        let result = take(state, &run, position, &step.action).await;
        let (st, detail) = match result {
            Ok(detail) => (action_state::SUCCEEDED, detail),
            Err(e) => {
                if let ApiError::Internal(inner) = &e {
                    tracing::warn!(run = %run.id, action = kind, error = %inner, "workflow action failed");
                }
                if step.stop_on_failure {
                    stopped = Some(STOPS_THE_REST);
                }
                (action_state::FAILED, failure(&e))
            }
        };
        let o = ActionOutcome {
            position,
            kind: kind.to_owned(),
            state: st.to_owned(),
            detail,
            at: state.clock.now(),
        };
        store.end_workflow_action(run.id, &o).await?;
        outcomes.push(o);
    }
    let end = if stopped.is_some() {
        run_state::STOPPED
    } else {
        run_state::DONE
    };
    let now = state.clock.now();
    let Some(incident) = run.incident_id else {
        return Ok(false);
    };
    let summary: Vec<_> = outcomes
        .iter()
        .map(|o| json!({"action": o.kind, "state": o.state, "detail": o.detail}))
        .collect();
    let event = NewEvent::new(
        SubjectType::Incident,
        incident,
        now,
        Actor::Workflow(run.id),
        EventKind::WorkflowRan,
        json!({
            "workflow": run.workflow_name,
            "workflow_id": run.workflow_id,
            "run_id": run.id,
            "state": end,
            "actions": summary,
        }),
    );
    store.finish_workflow_run(run.id, end, now, event).await?;
    state.incident_changes.notify_waiters();
    Ok(true)
}

/// An action's failure in words, for its outcome.
fn failure(e: &ApiError) -> String {
    match e {
        ApiError::BadRequest {
            message,
            field: Some(f),
            ..
        } if !message.starts_with(f.as_str()) => format!("{f}: {message}"),
        ApiError::Internal(_) => "Klaxon could not take it (see the server's log)".to_owned(),
        other => other.to_string(),
    }
}

/// Takes one action on the run's incident as the workflow; answers what it did, in words.
async fn take(
    state: &AppState,
    run: &WorkflowRunRecord,
    position: i32,
    action: &Action,
) -> ApiResult<String> {
    let incident = run
        .incident_id
        .ok_or_else(|| ApiError::not_found("incident"))?;
    let who = Who {
        actor: Actor::Workflow(run.id),
        user: None,
        admin: true,
    };
    match action {
        Action::Page(p) => {
            let message = p
                .message
                .clone()
                .unwrap_or_else(|| format!("Paged by the workflow {}", run.workflow_name));
            crate::incidents::responders::page_with(
                state,
                who,
                incident,
                crate::incidents::responders::PageInto {
                    user_id: p.user.clone(),
                    role: p.role.clone(),
                    escalation_policy_id: p.team.clone(),
                    message,
                },
            )
            .await?;
            Ok(action.describe())
        }
        Action::AssignRole(a) => {
            crate::incidents::responders::assign_role_with(state, who, incident, &a.role, &a.user)
                .await?;
            Ok(action.describe())
        }
        Action::AddTasks(titles) => {
            for t in titles {
                crate::incidents::tasks::add_task_with(
                    state,
                    who,
                    incident,
                    crate::incidents::tasks::NewTask {
                        title: t.clone(),
                        assignee_id: None,
                        due_at: None,
                    },
                )
                .await?;
            }
            Ok(match titles.len() {
                1 => "added 1 task".to_owned(),
                n => format!("added {n} tasks"),
            })
        }
        Action::StartRunbook(s) => {
            let id = terms::runbook(state, &s.runbook, At::Field("runbook")).await?;
            let r =
                crate::automation::runs::start_as(state, who.actor, None, incident, id, &s.params)
                    .await?;
            Ok(format!(
                "started the runbook {} (version {}): run {}",
                r.runbook_name, r.version, r.id
            ))
        }
        Action::PostUpdate(u) => {
            crate::incidents::updates::post_update_with(
                state,
                who,
                incident,
                crate::incidents::updates::PostUpdate {
                    message: u.message.clone(),
                    template: u.template.clone(),
                },
            )
            .await?;
            Ok(action.describe())
        }
        Action::SetComponent(c) => {
            if state.store.incident(incident).await?.is_drill {
                return Err(ApiError::invalid(
                    "incident",
                    "is a drill: a drill never changes a status page",
                ));
            }
            let page = terms::status_page(state, &c.page, At::Field("page")).await?;
            crate::status::pages_api::update_component_with(
                state,
                who.actor,
                page,
                &c.component,
                crate::status::pages_api::ComponentBody {
                    status: Some(c.status),
                    ..Default::default()
                },
            )
            .await?;
            Ok(action.describe())
        }
        Action::CallWebhook(w) => call(state, run, position, incident, &w.webhook).await,
    }
}

/// Posts the run's incident to an outgoing webhook, signed as its deliveries are. Not retried:
/// a workflow's call happens at most once.
async fn call(
    state: &AppState,
    run: &WorkflowRunRecord,
    position: i32,
    incident: IncidentId,
    name: &str,
) -> ApiResult<String> {
    let id = terms::webhook(state, name, At::Field("webhook")).await?;
    let hook = state.store.webhook(id).await?;
    let i = state.store.incident(incident).await?;
    let now = state.clock.now();
    // The deliveries' format, so that one receiver reads both; `sequence` 0: no event is sent.
    let e = Event {
        seq: 0,
        subject_type: SubjectType::Incident,
        subject_id: incident.to_string(),
        at: now,
        actor: Actor::Workflow(run.id),
        kind: EventKind::WorkflowRan,
        data: json!({"workflow": run.workflow_name, "workflow_id": run.workflow_id, "run_id": run.id}),
        pinned: false,
    };
    let body = crate::webhooks::api::payload(&state.settings, &e, Some(&i));
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let ts = now.as_second();
    let req = state
        .engine
        .outgoing()
        .post(&hook.url)
        .map_err(|refused| ApiError::invalid("webhook", format!("not called: {refused}")))?;
    let answer = crate::webhooks::api::signed(
        req.timeout(CALL_TIMEOUT),
        &hook.secret,
        EventKind::WorkflowRan.as_str(),
        &format!("{}:{position}", run.id),
        ts,
        bytes,
    )
    .send()
    .await;
    match answer {
        Ok(r) if r.status().is_success() => Ok(format!(
            "called {} ({} answered {})",
            hook.name,
            host_of(&hook.url),
            r.status().as_u16()
        )),
        Ok(r) => Err(ApiError::Conflict {
            message: format!("{} answered {}", host_of(&hook.url), r.status()),
            field: None,
        }),
        Err(e) if e.is_timeout() => Err(ApiError::Conflict {
            message: format!(
                "{} did not answer within {} s",
                host_of(&hook.url),
                CALL_TIMEOUT.as_secs()
            ),
            field: None,
        }),
        // Without the URL: a webhook's address often holds its secret, and runs are read by all.
        Err(e) => Err(ApiError::Conflict {
            message: format!("could not call {}: {}", host_of(&hook.url), e.without_url()),
            field: None,
        }),
    }
}

fn host_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "the receiver".to_owned())
}
