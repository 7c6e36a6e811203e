//! Runs of runbooks on incidents: starting one with its parameters, people's moves (tick,
//! approve, reject, retry, skip, pause, resume, abort), and the `run.http` job that makes an
//! HTTP step's request. Each move is decided by `klaxon_domain::runbook::run` and written whole
//! (run, steps, timeline events, the next job) on top of the revision it was decided from, so
//! two people or two engines cannot both move a run, and no step is begun twice.
use std::collections::BTreeMap;

use async_trait::async_trait;
use klaxon_domain::auth::Role;
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{IncidentId, JobId, RunId, RunbookId, UserId};
use klaxon_domain::runbook::run::{Action, Run, RunState, StepState};
use klaxon_domain::runbook::template::{self, Context};
use klaxon_domain::runbook::{self, Approver, Runbook, StepKind};
use klaxon_store::{
    AlertFilter, Incident, Job, NewJob, RunChange, RunRecord, RunStepRecord, StoreError,
};
use serde_json::{Value, json};

use super::runbooks::Author;
use crate::shared::crypto::random_bytes;
use crate::shared::engine::{JobContext, JobHandler, Outcome};
use crate::shared::error::{ApiError, ApiResult};
use crate::shared::state::AppState;

/// The job that makes an HTTP step's request.
pub const HTTP_JOB: &str = "run.http";

/// The values templates are filled from: the incident, its first alert, the parameters.
pub async fn context(
    store: &dyn klaxon_store::Store,
    settings: &crate::Settings,
    inc: &Incident,
    params: &[(String, String)],
) -> ApiResult<Context> {
    let mut incident = BTreeMap::new();
    let service = match inc.service_id {
        Some(s) => store.service(s).await.ok().map(|s| s.name),
        None => None,
    };
    let url = settings
        .server
        .public_url
        .as_deref()
        .map(|u| format!("{}/incidents/{}", u.trim_end_matches('/'), inc.id));
    for (k, v) in [
        ("id", Some(inc.id.to_string())),
        ("number", Some(inc.number.to_string())),
        ("title", Some(inc.title.clone())),
        ("status", Some(inc.status.as_str().to_owned())),
        ("severity", inc.severity.map(|s| s.as_str().to_owned())),
        ("priority", inc.priority.map(|p| p.as_str().to_owned())),
        ("category", inc.category.clone()),
        ("service", service),
        ("url", url),
    ] {
        if let Some(v) = v {
            incident.insert(k.to_owned(), v);
        }
    }
    // The first alert: the one that opened the incident, oldest of the newest page read.
    let filter = AlertFilter {
        incident_id: Some(inc.id),
        ..AlertFilter::default()
    };
    let first = store
        .list_alerts(&filter, None, 500)
        .await?
        .items
        .into_iter()
        .min_by_key(|a| a.created_at);
    Ok(Context {
        incident,
        alert: first
            .as_ref()
            .map(|a| runbook::alert_fields(&a.content, &a.dedup_key)),
        alert_details: first.map(|a| a.content.details).unwrap_or(Value::Null),
        params: params.iter().cloned().collect(),
        secrets: BTreeMap::new(),
    })
}

fn run_store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict { .. } => ApiError::Conflict {
            message: "the run moved on meanwhile; reload and try again".into(),
            field: None,
        },
        e => ApiError::or_not_found("run")(e),
    }
}

/// A step's row when the run has just arrived at it (or it changed state).
fn step_row(run: RunId, i: usize, rb: &Runbook, state: StepState) -> RunStepRecord {
    let s = &rb.steps[i];
    RunStepRecord {
        run_id: run,
        index: i as i32,
        title: s.title.clone(),
        kind: s.kind.as_str().to_owned(),
        state,
        attempts: 0,
        started_at: None,
        finished_at: None,
        output: String::new(),
        truncated: false,
        detail: json!({}),
        by: None,
        note: String::new(),
        runner_id: None,
        lease_until: None,
    }
}

/// The job for a queued HTTP step. Its key holds the run's revision, so a job queued again
/// (a resume) is not dropped for one an engine still holds; the begin claim keeps the step to
/// one start.
fn http_job(run: RunId, step: usize, revision: i32, at: jiff::Timestamp) -> NewJob {
    NewJob {
        id: JobId::new(at, random_bytes()),
        kind: HTTP_JOB.into(),
        dedup_key: Some(format!("run:{run}:{step}:{revision}")),
        payload: json!({"run_id": run, "step": step, "revision": revision}),
        run_at: at,
        created_at: at,
    }
}

/// A timeline event of the run on its incident.
fn event(
    r: &RunRecord,
    rb: &Runbook,
    step: Option<usize>,
    at: jiff::Timestamp,
    actor: Actor,
    kind: EventKind,
    extra: Value,
) -> NewEvent {
    let mut data = json!({"run_id": r.id, "runbook": r.runbook_name, "title": r.title,
                          "version": r.version});
    if let Some(i) = step {
        data["step"] = json!(i);
        data["step_title"] = json!(rb.steps.get(i).map(|s| s.title.as_str()));
    }
    if let (Value::Object(d), Value::Object(x)) = (&mut data, extra) {
        d.extend(x);
    }
    NewEvent::new(SubjectType::Incident, r.incident_id, at, actor, kind, data)
}

/// Checks the parameters given for a run: each a declared one, each of its type; the rest
/// from their defaults, filled from the incident.
fn params(
    rb: &Runbook,
    given: &BTreeMap<String, String>,
    cx: &Context,
) -> ApiResult<Vec<(String, String)>> {
    for k in given.keys() {
        if !rb.params.iter().any(|p| &p.name == k) {
            return Err(ApiError::invalid(
                format!("params.{k}"),
                "is not a parameter of this runbook",
            ));
        }
    }
    let mut out = Vec::new();
    for p in &rb.params {
        let raw = match (given.get(&p.name), &p.default) {
            (Some(v), _) => v.clone(),
            (None, Some(d)) => d.render(cx)?,
            (None, None) => String::new(),
        };
        out.push((p.name.clone(), p.check(&raw)?));
    }
    Ok(out)
}

/// Starts the latest version of a runbook on an incident (responders and admins).
pub async fn start(
    state: &AppState,
    who: &Author,
    incident: IncidentId,
    runbook: RunbookId,
    given: &BTreeMap<String, String>,
) -> ApiResult<RunRecord> {
    if who.role < Role::Responder {
        return Err(ApiError::Forbidden(
            "running runbooks needs the responder role".into(),
        ));
    }
    start_as(
        state,
        who.actor,
        Some(who.user_id),
        incident,
        runbook,
        given,
    )
    .await
}

/// Starts the latest version of a runbook on an incident for `actor` (a person, checked by
/// the caller, or a workflow).
pub async fn start_as(
    state: &AppState,
    actor: Actor,
    started_by: Option<UserId>,
    incident: IncidentId,
    runbook: RunbookId,
    given: &BTreeMap<String, String>,
) -> ApiResult<RunRecord> {
    let inc = state
        .store
        .incident(incident)
        .await
        .map_err(ApiError::or_not_found("incident"))?;
    let rec = state
        .store
        .runbook(runbook)
        .await
        .map_err(ApiError::or_not_found("runbook"))?;
    let v = state.store.runbook_version(rec.id, rec.version).await?;
    let rb = super::runbooks::parse(&v.source, Some(&rec.name))?;
    let cx = context(state.store.as_ref(), &state.settings, &inc, &[]).await?;
    let params = params(&rb, given, &cx)?;
    let now = state.clock.now();
    let run = Run::start(&rb);
    let r = RunRecord {
        id: RunId::new(now, random_bytes()),
        incident_id: inc.id,
        runbook_id: Some(rec.id),
        runbook_name: rec.name.clone(),
        title: rb.title.clone(),
        version: rec.version,
        digest: v.info.digest.clone(),
        source: v.source.clone(),
        params,
        state: run.state,
        current: run.current as i32,
        revision: 1,
        started_by,
        created_at: now,
        updated_at: now,
        finished_at: run.is_over().then_some(now),
    };
    let steps = run
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (step_row(r.id, i, &rb, *s), None))
        .collect();
    let mut events = vec![event(
        &r,
        &rb,
        None,
        now,
        actor,
        EventKind::RunStarted,
        json!({}),
    )];
    if run.state == RunState::Succeeded {
        events.push(event(
            &r,
            &rb,
            None,
            now,
            Actor::System,
            EventKind::RunSucceeded,
            json!({}),
        ));
    }
    let jobs = queued_job(&r, &run, &rb, now).into_iter().collect();
    state
        .store
        .create_run(&RunChange {
            run: r.clone(),
            steps,
            events,
            jobs,
        })
        .await
        .map_err(ApiError::or_not_found("incident"))?;
    Ok(r)
}

/// The job for the current step when it is a queued HTTP step (commands go to runners).
fn queued_job(r: &RunRecord, run: &Run, rb: &Runbook, at: jiff::Timestamp) -> Option<NewJob> {
    let i = run.current;
    (run.state == RunState::Active
        && run.step() == Some(StepState::Queued)
        && matches!(rb.steps.get(i).map(|s| &s.kind), Some(StepKind::Http(_))))
    .then(|| http_job(r.id, i, r.revision, at))
}

/// A person's move on a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Move {
    Complete,
    Approve,
    Reject,
    Retry,
    Skip,
    Pause,
    Resume,
    Abort,
}

impl Move {
    fn action(self) -> Action {
        match self {
            Move::Complete => Action::Complete,
            Move::Approve => Action::Approve,
            Move::Reject => Action::Reject,
            Move::Retry => Action::Retry,
            Move::Skip => Action::Skip,
            Move::Pause => Action::Pause,
            Move::Resume => Action::Resume,
            Move::Abort => Action::Abort,
        }
    }
}

/// A run read back with its runbook parsed.
pub struct Loaded {
    pub run: RunRecord,
    pub steps: Vec<RunStepRecord>,
    pub rb: Runbook,
}

pub async fn load(state: &AppState, id: RunId) -> ApiResult<Loaded> {
    let (run, steps) = state.store.run(id).await.map_err(run_store_error)?;
    let rb = super::runbooks::parse(&run.source, Some(&run.runbook_name))?;
    Ok(Loaded { run, steps, rb })
}

pub(super) fn domain_run(l: &Loaded) -> Run {
    Run {
        state: l.run.state,
        current: l.run.current.max(0) as usize,
        steps: l.steps.iter().map(|s| s.state).collect(),
    }
}

/// May `who` approve the current approval step of this run?
/// Whether this person (e-mail, id, Klaxon role) is the approver `a` of a step on `incident`:
/// the check a move makes, and what the pages ask before they show the buttons.
pub async fn approves(
    state: &AppState,
    incident: IncidentId,
    a: &Approver,
    (email, user, role): (&str, UserId, Role),
) -> ApiResult<bool> {
    Ok(match a {
        Approver::User(want) => email.eq_ignore_ascii_case(want),
        Approver::IncidentRole(want) => state
            .store
            .incident_roles(incident, false)
            .await?
            .iter()
            .any(|r| &r.role == want && r.user_id == user),
        Approver::KlaxonRole(want) => want.parse::<Role>().is_ok_and(|r| role >= r),
    })
}

async fn may_approve(state: &AppState, who: &Author, l: &Loaded, a: &Approver) -> ApiResult<()> {
    let ok = approves(
        state,
        l.run.incident_id,
        a,
        (&who.email, who.user_id, who.role),
    )
    .await?;
    if ok {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "this step is for {} to approve",
            match a {
                Approver::User(e) => e.clone(),
                Approver::IncidentRole(r) => format!("the incident's {r}"),
                Approver::KlaxonRole(r) => format!("someone with the {r} role"),
            }
        )))
    }
}

/// What `action` does to the loaded run, as the change to write: the run one revision on,
/// every step whose state moved, the timeline events and the next job.
pub(super) fn change(
    l: &Loaded,
    next: &Run,
    actor: Actor,
    by: Option<UserId>,
    note: &str,
    kind: EventKind,
    at: jiff::Timestamp,
) -> RunChange {
    let before = domain_run(l);
    let mut r = l.run.clone();
    r.state = next.state;
    r.current = next.current as i32;
    r.revision += 1;
    r.updated_at = at;
    if next.is_over() {
        r.finished_at = Some(at);
    }
    let acted = before.current;
    let mut steps = Vec::new();
    for (i, s) in next.steps.iter().enumerate() {
        if before.steps.get(i) == Some(s) {
            continue;
        }
        let mut row = l.steps[i].clone();
        row.state = *s;
        if i == acted {
            row.by = by.or(row.by);
            if !note.is_empty() {
                row.note = note.to_owned();
            }
            if s.is_done() || matches!(s, StepState::Failed) {
                row.finished_at = Some(at);
            }
        }
        steps.push((row, None));
    }
    let mut events = vec![event(
        &r,
        &l.rb,
        Some(acted),
        at,
        actor,
        kind,
        json!({"note": note}),
    )];
    if next.state == RunState::Succeeded && before.state != RunState::Succeeded {
        events.push(event(
            &r,
            &l.rb,
            None,
            at,
            Actor::System,
            EventKind::RunSucceeded,
            json!({}),
        ));
    }
    let jobs = queued_job(&r, next, &l.rb, at).into_iter().collect();
    RunChange {
        run: r,
        steps,
        events,
        jobs,
    }
}

/// A person's move on a run: checked (approvals by their approver), decided, written.
pub async fn act(
    state: &AppState,
    who: &Author,
    id: RunId,
    mv: Move,
    note: &str,
) -> ApiResult<RunRecord> {
    if who.role < Role::Responder {
        return Err(ApiError::Forbidden(
            "running runbooks needs the responder role".into(),
        ));
    }
    let note = note.trim();
    if note.chars().count() > 2000 {
        return Err(ApiError::invalid("note", "at most 2,000 characters"));
    }
    let l = load(state, id).await?;
    let before = domain_run(&l);
    // Approving, rejecting, and skipping an approval (which would go past it) are its
    // approver's alone.
    if matches!(mv, Move::Approve | Move::Reject | Move::Skip)
        && let Some(StepKind::Approval(a)) = l.rb.steps.get(before.current).map(|s| &s.kind)
    {
        may_approve(state, who, &l, a).await?;
    }
    let next = before
        .apply(&l.rb, mv.action())
        .map_err(|e| ApiError::Conflict {
            message: format!("the run cannot do that now: {}", e.reason),
            field: None,
        })?;
    let kind = match mv {
        Move::Complete => EventKind::RunStepCompleted,
        Move::Approve => EventKind::RunStepApproved,
        Move::Reject => EventKind::RunStepRejected,
        Move::Retry => EventKind::RunStepRetried,
        Move::Skip => EventKind::RunStepSkipped,
        Move::Pause => EventKind::RunPaused,
        Move::Resume => EventKind::RunResumed,
        Move::Abort => EventKind::RunAborted,
    };
    let c = change(
        &l,
        &next,
        who.actor,
        Some(who.user_id),
        note,
        kind,
        state.clock.now(),
    );
    state.store.update_run(&c).await.map_err(run_store_error)?;
    Ok(c.run)
}

/// The `run.http` job: begins its step (once: a claim on the run's revision), makes the
/// request, and records how it ended. Found already begun (the engine stopped mid-request),
/// the step's outcome is unknown and it is not made again.
pub struct RunHttp;

/// How much of an answer's body a step keeps to show; the whole is kept apart up to
/// [`KEPT`].
pub(super) fn shown(settings: &crate::Settings) -> usize {
    settings.runbooks.output_shown_bytes as usize
}
pub(super) const KEPT: usize = 4 * 1024 * 1024;

/// `text` cut at `max` bytes on a character boundary, and whether it was cut.
pub fn cut(text: &str, max: usize) -> (String, bool) {
    if text.len() <= max {
        return (text.to_owned(), false);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (text[..end].to_owned(), true)
}

#[async_trait]
impl JobHandler for RunHttp {
    async fn run(&self, job: &Job, ctx: &JobContext) -> anyhow::Result<Outcome> {
        let id: RunId = serde_json::from_value(job.payload["run_id"].clone())?;
        let step = job.payload["step"].as_u64().unwrap_or(u64::MAX) as usize;
        let (run, steps) = match ctx.store.run(id).await {
            Ok(x) => x,
            Err(StoreError::NotFound) => return Ok(Outcome::Done),
            Err(e) => return Err(e.into()),
        };
        let rb = runbook::parse(&run.source, Some(&run.runbook_name))?;
        let l = Loaded { run, steps, rb };
        let before = domain_run(&l);
        if before.current != step {
            return Ok(Outcome::Done);
        }
        let now = ctx.clock.now();
        match before.step() {
            Some(StepState::Running) => {
                // Begun by an earlier try of this job that never finished: unknown.
                let next = before.apply(&l.rb, Action::Lost)?;
                let c = change(
                    &l,
                    &next,
                    Actor::System,
                    None,
                    "",
                    EventKind::RunStepUnknown,
                    now,
                );
                write_or_drop(ctx, &c).await?;
                return Ok(Outcome::Done);
            }
            Some(StepState::Queued) if before.state == RunState::Active => {}
            _ => return Ok(Outcome::Done),
        }
        let Some(StepKind::Http(h)) = l.rb.steps.get(step).map(|s| s.kind.clone()) else {
            return Ok(Outcome::Done);
        };
        // The claim: only the engine that moves the run to this revision makes the request.
        let begun = before.apply(&l.rb, Action::Begin)?;
        let mut c = change(
            &l,
            &begun,
            Actor::System,
            None,
            "",
            EventKind::RunStepBegan,
            now,
        );
        if let Some((row, _)) = c.steps.iter_mut().find(|(s, _)| s.index == step as i32) {
            row.attempts += 1;
            row.started_at = Some(now);
            row.finished_at = None;
        }
        if !write_or_drop(ctx, &c).await? {
            return Ok(Outcome::Done);
        }
        let inc = ctx.store.incident(l.run.incident_id).await?;
        let answer = request(ctx, &inc, &l.run.params, &h).await;
        let (ok, body, detail) = match answer {
            Ok((status, body)) => (
                (200..300).contains(&status),
                body,
                json!({"status": status}),
            ),
            Err(why) => (false, String::new(), json!({"error": why})),
        };
        let (shown_text, truncated) = cut(&body, shown(&ctx.settings));
        let (kept, _) = cut(&body, KEPT);
        // Decided from the begun run as now written.
        let (run, steps) = ctx.store.run(id).await?;
        let l = Loaded {
            run,
            steps,
            rb: l.rb,
        };
        let now = ctx.clock.now();
        let next = domain_run(&l).apply(&l.rb, Action::Finish { ok })?;
        let kind = if ok {
            EventKind::RunStepSucceeded
        } else {
            EventKind::RunStepFailed
        };
        let mut c = change(&l, &next, Actor::System, None, "", kind, now);
        if let Some(first) = c.events.first_mut()
            && let (Value::Object(d), Value::Object(x)) = (&mut first.data, detail.clone())
        {
            d.extend(x);
        }
        if let Some((row, full)) = c.steps.iter_mut().find(|(s, _)| s.index == step as i32) {
            row.output = shown_text;
            row.truncated = truncated;
            row.detail = detail;
            row.finished_at = Some(now);
            // The whole answer, kept apart when it was cut; cleared when it was not.
            *full = Some(if truncated { kept } else { String::new() });
        }
        write_or_drop(ctx, &c).await?;
        Ok(Outcome::Done)
    }
}

/// Writes a change the engine decided; `false` when the run moved meanwhile (someone
/// aborted it, another engine took the step): nothing is written then.
async fn write_or_drop(ctx: &JobContext, c: &RunChange) -> anyhow::Result<bool> {
    Ok(write_change(ctx.store.as_ref(), c).await?)
}

/// Writes a change; `false` when the run moved meanwhile or is gone (nothing written).
pub(super) async fn write_change(
    store: &dyn klaxon_store::Store,
    c: &RunChange,
) -> Result<bool, StoreError> {
    match store.update_run(c).await {
        Ok(()) => Ok(true),
        Err(StoreError::Conflict { .. } | StoreError::NotFound) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Makes an HTTP step's request, templates filled; the status and the body, or why not.
async fn request(
    ctx: &JobContext,
    inc: &Incident,
    params: &[(String, String)],
    h: &runbook::HttpStep,
) -> Result<(u16, String), String> {
    let mut cx = context(ctx.store.as_ref(), &ctx.settings, inc, params)
        .await
        .map_err(|e| e.to_string())?;
    // The secrets the step names, opened for this request only.
    let mut names: Vec<String> = std::iter::once(&h.url)
        .chain(h.headers.iter().map(|(_, v)| v))
        .chain(h.body.iter())
        .flat_map(|t| t.refs())
        .filter_map(|r| match r {
            template::Ref::Secret(n) => Some(n.clone()),
            _ => None,
        })
        .collect();
    names.sort();
    names.dedup();
    cx.secrets = super::secrets::open(ctx.store.as_ref(), &ctx.settings, &names).await?;
    let fill = |t: &template::Template| t.render(&cx).map_err(|e| e.to_string());
    // Values in the URL are percent-encoded: they fill a path segment or a query value, never
    // add one (the host is written out in the step, checked when it was saved).
    let url = h.url.render_url(&cx).map_err(|e| e.to_string())?;
    let method = reqwest::Method::from_bytes(h.method.as_bytes()).map_err(|e| e.to_string())?;
    let mut req = ctx
        .outgoing
        .request(method, &url)
        .map_err(|r| r.to_string())?
        .timeout(std::time::Duration::from_secs(h.timeout_secs.into()));
    for (k, v) in &h.headers {
        req = req.header(k.as_str(), fill(v)?);
    }
    if let Some(b) = &h.body {
        req = req.body(fill(b)?);
    }
    let mut resp = req.send().await.map_err(crate::shared::egress::describe)?;
    let status = resp.status().as_u16();
    // Read up to what is kept, no further: an endless answer ends at the cut.
    let mut bytes = Vec::new();
    while bytes.len() <= KEPT {
        match resp
            .chunk()
            .await
            .map_err(crate::shared::egress::describe)?
        {
            Some(c) => bytes.extend_from_slice(&c),
            None => break,
        }
    }
    let (body, _) = cut(&String::from_utf8_lossy(&bytes), KEPT);
    // A secret echoed back (a debug endpoint, an error page) is shown to nobody.
    let values: Vec<&str> = cx.secrets.values().map(String::as_str).collect();
    Ok((status, template::mask(&body, &values)))
}
