//! A drill from start to scorecard: declared from a scenario or by hand (its incident marked
//! and paging as a real one would), its steps injected by the `drill.step` job, and ended by
//! hand or when its incident is resolved, with the scorecard kept.
use jiff::{SignedDuration, Timestamp};
use klaxon_domain::drill::{Scenario, ScoreFacts, Scorecard, Targets, score};
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{DrillId, JobId, UserId};
use klaxon_domain::incident::IncidentStatus;
use klaxon_domain::runbook::run::StepState;
use klaxon_store::{DrillRecord, NewDrill, NewJob, Store, StoreResult};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::scenarios::{check_references, responder};
use crate::automation::runbooks::Author;
use crate::incidents::api::{Declare, Who, declare_as};
use crate::shared::crypto::random_bytes;
use crate::shared::error::{ApiError, ApiResult};
use crate::shared::state::AppState;
use crate::shared::terms::{self, At};

/// The job that injects a drill's steps as they fall due, and ends the drill once its incident
/// is resolved.
pub const DRILL_JOB: &str = "drill.step";
/// While a drill runs, its incident is looked at this often (to end it once resolved).
pub const WATCH_EVERY: SignedDuration = SignedDuration::from_secs(60);

/// What starts a drill: a saved scenario, or a scenario written here (a drill by hand: a
/// title, a severity and, if it should page, a service).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartDrill {
    /// A saved scenario, by id or name.
    pub scenario: Option<String>,
    /// By hand (without `scenario`): the incident's title ("DRILL: " is put in front).
    pub title: Option<String>,
    /// By hand: `SEV1` .. `SEV4`.
    pub severity: Option<String>,
    /// By hand: the service whose escalation policy is paged, by id or name.
    pub service: Option<String>,
    /// By hand.
    pub description: Option<String>,
    /// By hand: what the response is measured against.
    pub targets: Option<Targets>,
    /// The incident commander from the start, by id or e-mail address; otherwise whoever is
    /// paged takes it on.
    pub commander_id: Option<String>,
}

/// Starts a drill: declares its incident (marked a drill, paging the service's escalation
/// policy), with the drill and its step job in the same transaction.
pub async fn start(state: &AppState, who: &Author, body: StartDrill) -> ApiResult<DrillRecord> {
    responder(who)?;
    let (scenario_id, scenario_name, definition) = match &body.scenario {
        Some(raw) => {
            if body.title.is_some()
                || body.severity.is_some()
                || body.service.is_some()
                || body.description.is_some()
                || body.targets.is_some()
            {
                return Err(ApiError::invalid(
                    "scenario",
                    "give a scenario, or a title and a severity for a drill by hand, not both",
                ));
            }
            let id = terms::drill_scenario(state, raw, At::Field("scenario")).await?;
            let rec = state
                .store
                .scenario(id)
                .await
                .map_err(ApiError::or_not_found("scenario"))?;
            (
                Some(rec.id),
                Some(rec.definition.name.clone()),
                rec.definition,
            )
        }
        None => {
            let title = body
                .title
                .clone()
                .filter(|t| !t.trim().is_empty())
                .ok_or_else(|| {
                    ApiError::invalid("title", "give a scenario, or a title for a drill by hand")
                })?;
            let severity = body
                .severity
                .as_deref()
                .ok_or_else(|| ApiError::invalid("severity", "a drill by hand needs a severity"))?;
            let s = Scenario {
                // Not kept as a scenario: the name only satisfies the check.
                name: "by-hand".into(),
                title: title.trim().to_owned(),
                description: body.description.clone().unwrap_or_default(),
                service: body.service.clone().filter(|s| !s.trim().is_empty()),
                severity: klaxon_domain::incident::Severity::parse_loose(severity)?,
                targets: body.targets.clone().unwrap_or_default(),
                steps: Vec::new(),
            };
            s.check()?;
            (None, None, s)
        }
    };
    check_references(state, &definition).await?;
    let declare = Declare {
        title: definition.title.clone(),
        severity: definition.severity.as_str().to_owned(),
        description: definition.description.clone(),
        service_id: definition.service.clone(),
        commander_id: body.commander_id.clone(),
        ..Declare::default()
    };
    let drill_id = DrillId::new(state.clock.now(), random_bytes());
    let started_by = who.user_id;
    let first = definition
        .steps
        .first()
        .map_or(SignedDuration::ZERO, |s| s.offset());
    let make = Box::new(move |incident, now: Timestamp| NewDrill {
        drill: DrillRecord {
            id: drill_id,
            incident_id: incident,
            scenario_id,
            scenario_name,
            definition,
            started_by: Some(started_by),
            started_at: now,
            ended_at: None,
            ended_by: None,
            scorecard: None,
            incident_number: 0,
            incident_title: String::new(),
            incident_status: String::new(),
        },
        job: NewJob {
            id: JobId::new(now, random_bytes()),
            kind: DRILL_JOB.into(),
            dedup_key: Some(format!("drill:{drill_id}")),
            payload: json!({"drill": drill_id}),
            run_at: now.saturating_add(first.min(WATCH_EVERY)).unwrap_or(now),
            created_at: now,
        },
    });
    let who_declares = Who {
        actor: who.actor,
        user: Some(who.user_id),
        admin: who.role == klaxon_domain::auth::Role::Admin,
    };
    // The service was checked above; a refusal here is about the commander.
    declare_as(state, who_declares, declare, Some(make)).await?;
    Ok(state.store.drill(drill_id).await?)
}

/// What the incident shows about the response, read from its roles, timeline and runs.
/// What happened after `until` (a drill ended by its incident's resolution, scored a little
/// later) does not count.
pub async fn facts(
    store: &dyn Store,
    d: &DrillRecord,
    until: Timestamp,
) -> StoreResult<ScoreFacts> {
    let incident = store.incident(d.incident_id).await?;
    let roles = store
        .incident_roles(d.incident_id, true)
        .await?
        .into_iter()
        .filter(|r| r.assigned_at <= until)
        .map(|r| (r.role, r.assigned_at))
        .collect();
    let subject = d.incident_id.to_string();
    let mut first_update_at = None;
    let mut after = None;
    'events: loop {
        let page = store
            .events(SubjectType::Incident, &subject, after, 1000)
            .await?;
        for e in &page {
            if e.kind == EventKind::IncidentUpdatePosted {
                first_update_at = Some(e.at).filter(|at| *at <= until);
                break 'events;
            }
        }
        if page.len() < 1000 {
            break;
        }
        after = page.last().map(|e| e.seq);
    }
    let mut done = 0;
    for r in store.incident_runs(d.incident_id).await? {
        let (_, steps) = store.run(r.id).await?;
        done += steps
            .iter()
            .filter(|s| s.state == StepState::Succeeded && s.finished_at.is_none_or(|f| f <= until))
            .count() as u32;
    }
    Ok(ScoreFacts {
        acknowledged_at: incident.acknowledged_at.filter(|at| *at <= until),
        roles,
        first_update_at,
        runbook_steps_done: done,
    })
}

/// The drill's scorecard: the one it ended with, or as things stand at `now`.
pub async fn scorecard(
    store: &dyn Store,
    d: &DrillRecord,
    now: Timestamp,
) -> StoreResult<Scorecard> {
    if let Some(card) = &d.scorecard {
        return Ok(card.clone());
    }
    let facts = facts(store, d, now).await?;
    Ok(score(
        d.started_at,
        &d.definition.targets,
        &facts,
        now,
        false,
    ))
}

/// Ends a running drill and keeps its scorecard; false when it had ended already. Its
/// remaining steps are not injected.
pub async fn end(
    store: &dyn Store,
    d: &DrillRecord,
    now: Timestamp,
    actor: Actor,
    by: Option<UserId>,
) -> StoreResult<bool> {
    let facts = facts(store, d, now).await?;
    let card = score(d.started_at, &d.definition.targets, &facts, now, true);
    let event = NewEvent::new(
        SubjectType::Incident,
        d.incident_id,
        now,
        actor,
        EventKind::DrillEnded,
        json!({"drill_id": d.id, "scenario": d.scenario_name, "scorecard": card}),
    );
    store.end_drill(d.id, now, by, &card, event).await
}

/// Ends a drill by hand (responders).
pub async fn end_by(state: &AppState, who: &Author, d: &DrillRecord) -> ApiResult<DrillRecord> {
    responder(who)?;
    if d.ended_at.is_some() {
        return Err(ApiError::Conflict {
            message: "the drill has ended already".into(),
            field: None,
        });
    }
    let ended = end(
        &*state.store,
        d,
        state.clock.now(),
        who.actor,
        Some(who.user_id),
    )
    .await?;
    if !ended {
        return Err(ApiError::Conflict {
            message: "the drill has ended already".into(),
            field: None,
        });
    }
    state.incident_changes.notify_waiters();
    Ok(state.store.drill(d.id).await?)
}

/// Whether a drill's incident is over: resolved, closed (or merged away).
pub fn incident_over(status: IncidentStatus) -> bool {
    matches!(status, IncidentStatus::Resolved | IncidentStatus::Closed)
}

/// The key a scenario gave an alert a drill raised (`drill:<drill id>:<key>`); any other
/// alert's key as it is.
fn drill_key_of(key: &str) -> &str {
    key.strip_prefix("drill:")
        .and_then(|rest| rest.split_once(':'))
        .filter(|(id, _)| id.parse::<DrillId>().is_ok())
        .map_or(key, |(_, k)| k)
}

/// A scenario replaying the incident `raw`'s alerts (see `klaxon_domain::drill::record`).
pub async fn record(
    state: &AppState,
    raw: &str,
    name: String,
    title: Option<String>,
) -> ApiResult<(Scenario, usize)> {
    let id = terms::incident(state, raw, At::Field("incident")).await?;
    let incident = state
        .store
        .incident(id)
        .await
        .map_err(|_| ApiError::invalid("incident", "no incident has this id"))?;
    let mut past = Vec::new();
    let mut after = None;
    loop {
        let filter = klaxon_store::AlertFilter {
            incident_id: Some(id),
            ..Default::default()
        };
        let page = state.store.list_alerts(&filter, after, 500).await?;
        past.extend(page.items.into_iter().map(|a| {
            klaxon_domain::drill::PastAlert {
                created_at: a.created_at,
                resolved_at: a.resolved_at,
                summary: a.content.summary,
                // A drill's own alerts are replayed under the keys the scenario gave them.
                dedup_key: drill_key_of(&a.dedup_key).to_owned(),
                severity: a.content.severity,
                source: a.content.source.filter(|s| !s.trim().is_empty()),
                component: a.content.component.filter(|s| !s.trim().is_empty()),
                group: a.content.group.filter(|s| !s.trim().is_empty()),
                class: a.content.class.filter(|s| !s.trim().is_empty()),
                // A scenario's details are a mapping; a tool may have sent any JSON.
                details: match a.content.details {
                    d @ (serde_json::Value::Object(_) | serde_json::Value::Null) => d,
                    other => json!({ "details": other }),
                },
            }
        }));
        match page.next {
            Some(n) if past.len() < 10_000 => after = Some(n),
            _ => break,
        }
    }
    if past.is_empty() {
        return Err(ApiError::invalid(
            "incident",
            "has no alerts to replay: write the scenario's steps by hand",
        ));
    }
    let service = match incident.service_id {
        Some(s) => Some(state.store.service(s).await?.name),
        None => None,
    };
    let severity = incident
        .severity
        .unwrap_or(klaxon_domain::incident::Severity::Sev3);
    let title = title.unwrap_or(incident.title);
    let (s, left_out) = klaxon_domain::drill::record(name, &title, service, severity, past);
    s.check()?;
    Ok((s, left_out))
}
