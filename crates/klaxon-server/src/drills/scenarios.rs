//! Drill scenarios kept: saved whole (from the API, the page or a YAML file), each save a new
//! revision. The service a scenario names is checked at save, so that a drill does not fail
//! to start on the morning it was planned for.
use klaxon_domain::auth::Role;
use klaxon_domain::drill::Scenario;
use klaxon_domain::event::{EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::DrillScenarioId;
use klaxon_store::{ScenarioRecord, StoreError};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::automation::runbooks::Author;
use crate::shared::crypto::random_bytes;
use crate::shared::error::{ApiError, ApiResult};
use crate::shared::state::AppState;
use crate::shared::terms::{self, At};

/// What a save did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = ScenarioChange)]
pub enum Change {
    Created,
    Updated,
    /// The same scenario as kept: nothing written.
    Unchanged,
}

/// 409: the name is another scenario's.
pub(crate) fn name_taken(name: &str) -> ApiError {
    ApiError::Conflict {
        message: format!(
            "name: another scenario is called {name}: choose another name, or edit that one"
        ),
        field: Some("name".into()),
    }
}

/// 409: the scenario was saved meanwhile; it is at `revision` now.
pub(crate) fn stale(revision: i32) -> ApiError {
    ApiError::Conflict {
        message: format!(
            "revision: someone saved this scenario meanwhile (it is at revision {revision}): \
             open it again to start from theirs"
        ),
        field: Some("revision".into()),
    }
}

/// Scenarios and drills page people: responders and above.
pub(crate) fn responder(who: &Author) -> ApiResult<()> {
    if who.role < Role::Responder {
        return Err(ApiError::Forbidden(
            "drills need the responder role: they page people".into(),
        ));
    }
    Ok(())
}

/// Checks what a scenario names: its service and the roles it expects.
pub async fn check_references(state: &AppState, s: &Scenario) -> ApiResult<()> {
    if let Some(svc) = &s.service {
        terms::service(state, svc, At::Field("service")).await?;
    }
    for (i, role) in s.targets.roles.iter().enumerate() {
        state
            .incident_rules
            .roles
            .parse(role)
            .map_err(|e| ApiError::invalid(format!("targets.roles[{i}]"), e.reason))?;
    }
    Ok(())
}

/// Saves `s`: over the scenario `target` when given (which may rename it), else over the one
/// with its name, else as a new one. `base`: the revision the caller started from (409 when
/// another was saved meanwhile); `Some(0)` creates only.
pub async fn save(
    state: &AppState,
    who: &Author,
    target: Option<DrillScenarioId>,
    base: Option<i32>,
    s: Scenario,
) -> ApiResult<(ScenarioRecord, Change)> {
    responder(who)?;
    s.check()?;
    let existing = match target {
        Some(id) => Some(
            state
                .store
                .scenario(id)
                .await
                .map_err(ApiError::or_not_found("scenario"))?,
        ),
        None => match state.store.scenario_named(&s.name).await {
            Ok(r) => Some(r),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        },
    };
    if base == Some(0) && existing.is_some() {
        return Err(name_taken(&s.name));
    }
    if let (Some(b), Some(old)) = (base, &existing)
        && b != old.revision
    {
        return Err(stale(old.revision));
    }
    check_references(state, &s).await?;
    let now = state.clock.now();
    let taken = |e: StoreError| match e {
        StoreError::Conflict { constraint } if constraint == "drill_scenarios_name" => {
            name_taken(&s.name)
        }
        StoreError::Conflict { .. } => ApiError::Conflict {
            message: "someone saved this scenario meanwhile: load it again".into(),
            field: None,
        },
        other => other.into(),
    };
    let (rec, change) = match existing {
        Some(old) if old.definition == s => return Ok((old, Change::Unchanged)),
        Some(old) => (
            ScenarioRecord {
                id: old.id,
                definition: s.clone(),
                revision: old.revision + 1,
                created_at: old.created_at,
                updated_by: Some(who.user_id),
                updated_at: now,
            },
            Change::Updated,
        ),
        None => (
            ScenarioRecord {
                id: DrillScenarioId::new(now, random_bytes()),
                definition: s.clone(),
                revision: 1,
                created_at: now,
                updated_by: Some(who.user_id),
                updated_at: now,
            },
            Change::Created,
        ),
    };
    let event = NewEvent::new(
        SubjectType::DrillScenario,
        rec.id,
        now,
        who.actor,
        EventKind::DrillScenarioSaved,
        json!({"name": s.name, "revision": rec.revision, "steps": s.steps.len()}),
    );
    let saved = if change == Change::Created {
        state.store.create_scenario(&rec, event).await
    } else {
        state.store.update_scenario(&rec, event).await
    };
    saved.map_err(taken)?;
    Ok((rec, change))
}

/// Deletes a scenario; its drills keep their copy and their scorecards.
pub async fn delete(state: &AppState, who: &Author, id: DrillScenarioId) -> ApiResult<()> {
    responder(who)?;
    let rec = state
        .store
        .scenario(id)
        .await
        .map_err(ApiError::or_not_found("scenario"))?;
    let event = NewEvent::new(
        SubjectType::DrillScenario,
        id,
        state.clock.now(),
        who.actor,
        EventKind::DrillScenarioDeleted,
        json!({"name": rec.definition.name, "revision": rec.revision}),
    );
    state
        .store
        .delete_scenario(id, event)
        .await
        .map_err(ApiError::or_not_found("scenario"))
}
