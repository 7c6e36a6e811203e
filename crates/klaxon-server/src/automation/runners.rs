//! Runners: processes on the operator's hosts that run command steps, connecting outbound
//! only. An admin registers one (its token is shown once and kept as a digest), gives it
//! labels, and enables the runbook versions it may run. A runner asks for work; it is handed a
//! queued command step of an enabled version whose labels it carries, begun for it by a claim
//! on the run's revision (so no step is handed out twice), with a lease it renews while the
//! command runs. It reports how the command ended. A step whose runner stops renewing is marked
//! "outcome unknown" by the `run.lease` job and never handed out again by itself.
use std::collections::BTreeMap;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use klaxon_domain::auth::Role;
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{JobId, RunId, RunbookId, RunnerId};
use klaxon_domain::runbook::run::{Action, RunState, StepState};
use klaxon_domain::runbook::{self, StepKind, template};
use klaxon_store::{Job, NewJob, RunnerGrant, RunnerRecord, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::runbooks::Author;
use super::runs::{self, Loaded};
use crate::shared::crypto::{hex, random_bytes, sha256};
use crate::shared::engine::{JobContext, JobHandler, Outcome};
use crate::shared::error::{ApiError, ApiResult};
use crate::shared::state::AppState;

/// The job that marks a command step "outcome unknown" when its runner stops renewing.
pub const LEASE_JOB: &str = "run.lease";
/// How long a runner holds a step without renewing: it renews every [`RENEW`].
pub const LEASE: SignedDuration = SignedDuration::from_secs(60);
pub const RENEW: SignedDuration = SignedDuration::from_secs(15);

fn admin(who: &Author) -> ApiResult<()> {
    if who.role < Role::Admin {
        return Err(ApiError::Forbidden(
            "only admins register runners and choose what they run".into(),
        ));
    }
    Ok(())
}

fn runner_event(
    id: RunnerId,
    who: &Author,
    at: Timestamp,
    kind: EventKind,
    data: Value,
) -> NewEvent {
    NewEvent::new(SubjectType::Runner, id, at, who.actor, kind, data)
}

async fn runner_of(state: &AppState, id: RunnerId) -> ApiResult<RunnerRecord> {
    state
        .store
        .runner(id)
        .await
        .map_err(ApiError::or_not_found("runner"))
}

/// A registered runner and its token, shown this once.
pub struct Registered {
    pub runner: RunnerRecord,
    pub token: String,
}

/// Registers a runner (admins): its name, its labels as `key=value`.
pub async fn register(
    state: &AppState,
    who: &Author,
    name: &str,
    labels: &[String],
) -> ApiResult<Registered> {
    admin(who)?;
    let name = runbook::runner::name(name.trim())?;
    let labels = runbook::runner::labels(labels)?;
    let now = state.clock.now();
    let token = format!("klxr_{}", hex(&random_bytes::<32>()));
    let r = RunnerRecord {
        id: RunnerId::new(now, random_bytes()),
        name,
        labels,
        created_by: Some(who.user_id),
        created_at: now,
        last_seen_at: None,
    };
    let e = runner_event(
        r.id,
        who,
        now,
        EventKind::RunnerRegistered,
        json!({"name": r.name, "labels": r.labels}),
    );
    match state
        .store
        .create_runner(&r, sha256(token.as_bytes()), e)
        .await
    {
        Ok(()) => Ok(Registered { runner: r, token }),
        Err(StoreError::Conflict { .. }) => Err(ApiError::Conflict {
            message: format!("a runner is already called \"{}\"", r.name),
            field: Some("name".into()),
        }),
        Err(e) => Err(e.into()),
    }
}

pub async fn delete(state: &AppState, who: &Author, id: RunnerId) -> ApiResult<()> {
    admin(who)?;
    let r = runner_of(state, id).await?;
    let e = runner_event(
        id,
        who,
        state.clock.now(),
        EventKind::RunnerDeleted,
        json!({"name": r.name}),
    );
    state
        .store
        .delete_runner(id, e)
        .await
        .map_err(ApiError::or_not_found("runner"))
}

/// Enables a runbook version (the latest when `version` is `None`) for a runner. Returns the
/// grant and whether it is new.
pub async fn grant(
    state: &AppState,
    who: &Author,
    runner: RunnerId,
    runbook: RunbookId,
    version: Option<i32>,
) -> ApiResult<(RunnerGrant, bool)> {
    admin(who)?;
    let r = runner_of(state, runner).await?;
    let rb = state
        .store
        .runbook(runbook)
        .await
        .map_err(ApiError::or_not_found("runbook"))?;
    let version = version.unwrap_or(rb.version);
    let v = state
        .store
        .runbook_version(runbook, version)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => {
                ApiError::invalid("version", format!("{} has no version {version}", rb.name))
            }
            e => e.into(),
        })?;
    let now = state.clock.now();
    let g = RunnerGrant {
        runner_id: runner,
        runbook_id: runbook,
        runbook_name: rb.name.clone(),
        version,
        digest: v.info.digest.clone(),
        granted_by: Some(who.user_id),
        granted_at: now,
    };
    let e = runner_event(
        runner,
        who,
        now,
        EventKind::RunnerGranted,
        json!({"runner": r.name, "runbook": rb.name, "version": version,
               "digest": v.info.digest}),
    );
    let new = state
        .store
        .grant_runner(&g, e)
        .await
        .map_err(ApiError::or_not_found("runner or runbook version"))?;
    Ok((g, new))
}

pub async fn revoke(
    state: &AppState,
    who: &Author,
    runner: RunnerId,
    runbook: RunbookId,
    version: i32,
) -> ApiResult<bool> {
    admin(who)?;
    let r = runner_of(state, runner).await?;
    let name = state
        .store
        .runbook(runbook)
        .await
        .map(|b| b.name)
        .unwrap_or_else(|_| runbook.to_string());
    let e = runner_event(
        runner,
        who,
        state.clock.now(),
        EventKind::RunnerRevoked,
        json!({"runner": r.name, "runbook": name, "version": version}),
    );
    Ok(state
        .store
        .revoke_runner(runner, runbook, version, e)
        .await?)
}

/// What a runner is handed: the step, filled, and what it checks it against (the runbook
/// version's source and digest).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Assignment {
    #[schema(value_type = String, format = Uuid)]
    pub run_id: RunId,
    /// The step, from 0.
    pub step: usize,
    pub title: String,
    pub incident_number: i64,
    pub runbook: String,
    pub version: i32,
    /// SHA-256 of `source`, hex: the version as enabled for this runner.
    pub digest: String,
    /// The runbook version's Markdown: the runner reads the step's limits from it.
    pub source: String,
    /// The program and its arguments, each filled as one argument.
    pub argv: Vec<String>,
    /// Variables to set, filled.
    pub env: Vec<(String, String)>,
    /// Seconds within which to renew the hold on the step (`…/renew`).
    pub renew_secs: u32,
}

/// How a command ended, as a runner reports it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// The exit code; none when it was killed or never started.
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// Its output (stdout and stderr as they came), cut at the step's output limit.
    #[serde(default)]
    pub output: String,
    /// Whether the output was cut.
    #[serde(default)]
    pub truncated: bool,
    /// Whether it was killed at the step's time limit.
    #[serde(default)]
    pub timed_out: bool,
    /// Why it did not run or was not checked (a digest that does not match, a missing program).
    #[serde(default)]
    pub error: Option<String>,
}

fn lease_job(run: RunId, step: usize, revision: i32, at: Timestamp) -> NewJob {
    NewJob {
        id: JobId::new(at, random_bytes()),
        kind: LEASE_JOB.into(),
        dedup_key: Some(format!("lease:{run}:{step}:{revision}")),
        payload: json!({"run_id": run, "step": step}),
        run_at: at,
        created_at: at,
    }
}

/// The names of the secrets a command step uses.
fn secret_names(c: &runbook::CommandStep) -> Vec<String> {
    let mut names: Vec<String> = c
        .run
        .iter()
        .chain(c.env.iter().map(|(_, v)| v))
        .flat_map(|t| t.refs())
        .filter_map(|r| match r {
            template::Ref::Secret(n) => Some(n.clone()),
            _ => None,
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The next step this runner may take, begun for it; `None` when there is none.
pub async fn claim(state: &AppState, runner: &RunnerRecord) -> ApiResult<Option<Assignment>> {
    for id in state.store.queued_commands(runner.id).await? {
        let l = match runs::load(state, id).await {
            Ok(l) => l,
            Err(_) => continue,
        };
        let i = l.run.current.max(0) as usize;
        let Some(StepKind::Command(c)) = l.rb.steps.get(i).map(|s| s.kind.clone()) else {
            continue;
        };
        if !runbook::runner::takes(&runner.labels, &c.runner) {
            continue;
        }
        let before = runs::domain_run(&l);
        if before.state != RunState::Active || before.step() != Some(StepState::Queued) {
            continue;
        }
        let now = state.clock.now();
        // Filled before the claim: a step that cannot be filled fails rather than being handed
        // out half-made.
        let filled = fill(state, &l, &c).await;
        let begun = before.apply(&l.rb, Action::Begin)?;
        let mut ch = runs::change(
            &l,
            &begun,
            Actor::System,
            None,
            "",
            EventKind::RunStepBegan,
            now,
        );
        if let Some(first) = ch.events.first_mut() {
            first.data["runner"] = json!(runner.name);
        }
        let until = now + LEASE;
        if let Some((row, _)) = ch.steps.iter_mut().find(|(s, _)| s.index == i as i32) {
            row.attempts += 1;
            row.started_at = Some(now);
            row.finished_at = None;
            row.runner_id = Some(runner.id);
            row.lease_until = Some(until);
        }
        ch.jobs.push(lease_job(l.run.id, i, ch.run.revision, until));
        if !runs::write_change(state.store.as_ref(), &ch).await? {
            continue; // another runner, or a person, moved the run first
        }
        let (argv, env) = match filled {
            Ok(x) => x,
            Err(why) => {
                finish(
                    state,
                    runner,
                    l.run.id,
                    i,
                    &Report {
                        error: Some(why),
                        ..Report::default()
                    },
                )
                .await?;
                continue;
            }
        };
        return Ok(Some(Assignment {
            run_id: l.run.id,
            step: i,
            title: l.rb.steps[i].title.clone(),
            incident_number: state
                .store
                .incident(l.run.incident_id)
                .await
                .map(|inc| inc.number)
                .unwrap_or_default(),
            runbook: l.run.runbook_name.clone(),
            version: l.run.version,
            digest: l.run.digest.clone(),
            source: l.run.source.clone(),
            argv,
            env,
            renew_secs: RENEW.as_secs() as u32,
        }));
    }
    Ok(None)
}

/// The step's program, arguments and variables filled from the incident, its alert, the
/// run's parameters and the secrets it names.
async fn fill(
    state: &AppState,
    l: &Loaded,
    c: &runbook::CommandStep,
) -> Result<(Vec<String>, Vec<(String, String)>), String> {
    let inc = state
        .store
        .incident(l.run.incident_id)
        .await
        .map_err(|e| e.to_string())?;
    let mut cx = runs::context(state.store.as_ref(), &state.settings, &inc, &l.run.params)
        .await
        .map_err(|e| e.to_string())?;
    cx.secrets =
        super::secrets::open(state.store.as_ref(), &state.settings, &secret_names(c)).await?;
    let argv = c
        .run
        .iter()
        .map(|t| t.render(&cx).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let env = c
        .env
        .iter()
        .map(|(k, t)| Ok((k.clone(), t.render(&cx).map_err(|e| e.to_string())?)))
        .collect::<Result<Vec<_>, String>>()?;
    Ok((argv, env))
}

/// The step `index` of run `id` as held by `runner`: `Conflict` when it is not (any more).
async fn held(
    state: &AppState,
    runner: &RunnerRecord,
    id: RunId,
    index: usize,
) -> ApiResult<Loaded> {
    let l = runs::load(state, id).await?;
    let mine = l
        .steps
        .get(index)
        .is_some_and(|s| s.state == StepState::Running && s.runner_id == Some(runner.id))
        && l.run.current.max(0) as usize == index;
    if !mine {
        return Err(ApiError::Conflict {
            message: "this step is not running on this runner any more (aborted, or its \
                      outcome was marked unknown): stop it"
                .into(),
            field: None,
        });
    }
    Ok(l)
}

/// Renews the runner's hold on a running step.
pub async fn renew(
    state: &AppState,
    runner: &RunnerRecord,
    id: RunId,
    index: usize,
) -> ApiResult<()> {
    let until = state.clock.now() + LEASE;
    if state
        .store
        .extend_lease(runner.id, id, index as i32, until)
        .await?
    {
        Ok(())
    } else {
        Err(ApiError::Conflict {
            message: "this step is not running on this runner any more (its run was aborted, \
                      or its outcome marked unknown): stop it"
                .into(),
            field: None,
        })
    }
}

/// Records how the runner's command ended, and moves the run on.
pub async fn finish(
    state: &AppState,
    runner: &RunnerRecord,
    id: RunId,
    index: usize,
    r: &Report,
) -> ApiResult<()> {
    let l = held(state, runner, id, index).await?;
    let ok = r.exit_code == Some(0) && !r.timed_out && r.error.is_none();
    let next = runs::domain_run(&l).apply(&l.rb, Action::Finish { ok })?;
    let kind = if ok {
        EventKind::RunStepSucceeded
    } else {
        EventKind::RunStepFailed
    };
    // Secrets the command printed are shown to nobody. When they cannot be opened to mask
    // them (one was deleted meanwhile, the key is gone), the output is withheld, not shown.
    let names = match l.rb.steps.get(index).map(|s| &s.kind) {
        Some(StepKind::Command(c)) => secret_names(c),
        _ => Vec::new(),
    };
    let (output, error) =
        match super::secrets::open(state.store.as_ref(), &state.settings, &names).await {
            Ok(opened) => {
                let values: Vec<&str> = opened.values().map(String::as_str).collect();
                (
                    template::mask(&r.output, &values),
                    r.error.as_deref().map(|e| template::mask(e, &values)),
                )
            }
            Err(why) => (
                format!("(output withheld: the secrets to mask in it could not be read: {why})"),
                r.error.as_ref().map(|_| "(withheld)".to_owned()),
            ),
        };
    let (shown, cut) = runs::cut(&output, runs::shown(&state.settings));
    let (kept, _) = runs::cut(&output, runs::KEPT);
    let detail = json!({"exit_code": r.exit_code, "timed_out": r.timed_out,
                        "error": error, "runner": runner.name,
                        "output_truncated_by_runner": r.truncated});
    let now = state.clock.now();
    let mut ch = runs::change(&l, &next, Actor::System, None, "", kind, now);
    if let Some(first) = ch.events.first_mut()
        && let (Value::Object(d), Value::Object(x)) = (&mut first.data, detail.clone())
    {
        d.extend(x);
    }
    if let Some((row, full)) = ch.steps.iter_mut().find(|(s, _)| s.index == index as i32) {
        row.output = shown;
        row.truncated = cut || r.truncated;
        row.detail = detail;
        row.finished_at = Some(now);
        row.lease_until = None;
        *full = Some(if cut { kept } else { String::new() });
    }
    if runs::write_change(state.store.as_ref(), &ch).await? {
        Ok(())
    } else {
        Err(ApiError::Conflict {
            message: "the run moved on meanwhile".into(),
            field: None,
        })
    }
}

/// The `run.lease` job: a command step whose runner stopped renewing its hold is marked
/// "outcome unknown"; one still held is looked at again when its hold ends.
pub struct Lease;

#[async_trait]
impl JobHandler for Lease {
    async fn run(&self, job: &Job, ctx: &JobContext) -> anyhow::Result<Outcome> {
        let id: RunId = serde_json::from_value(job.payload["run_id"].clone())?;
        let index = job.payload["step"].as_u64().unwrap_or(u64::MAX) as usize;
        let (run, steps) = match ctx.store.run(id).await {
            Ok(x) => x,
            Err(StoreError::NotFound) => return Ok(Outcome::Done),
            Err(e) => return Err(e.into()),
        };
        let Some(step) = steps.get(index).cloned() else {
            return Ok(Outcome::Done);
        };
        if step.state != StepState::Running || run.current.max(0) as usize != index {
            return Ok(Outcome::Done);
        }
        let now = ctx.clock.now();
        if let Some(until) = step.lease_until
            && until > now
        {
            return Ok(Outcome::RunAgainAt(until));
        }
        let rb = runbook::parse(&run.source, Some(&run.runbook_name))?;
        let l = Loaded { run, steps, rb };
        let next = runs::domain_run(&l).apply(&l.rb, Action::Lost)?;
        let mut ch = runs::change(
            &l,
            &next,
            Actor::System,
            None,
            "",
            EventKind::RunStepUnknown,
            now,
        );
        if let Some(first) = ch.events.first_mut() {
            first.data["reason"] = json!("its runner stopped reporting");
        }
        if let Some((row, _)) = ch.steps.iter_mut().find(|(s, _)| s.index == index as i32) {
            row.lease_until = None;
        }
        runs::write_change(ctx.store.as_ref(), &ch).await?;
        Ok(Outcome::Done)
    }
}

/// Runners with the versions enabled for each, for the lists.
pub async fn with_grants(state: &AppState) -> ApiResult<Vec<(RunnerRecord, Vec<RunnerGrant>)>> {
    let mut grants: BTreeMap<RunnerId, Vec<RunnerGrant>> = BTreeMap::new();
    for g in state.store.runner_grants(None).await? {
        grants.entry(g.runner_id).or_default().push(g);
    }
    Ok(state
        .store
        .list_runners()
        .await?
        .into_iter()
        .map(|r| {
            let g = grants.remove(&r.id).unwrap_or_default();
            (r, g)
        })
        .collect())
}
