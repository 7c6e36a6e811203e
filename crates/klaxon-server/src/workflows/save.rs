//! Workflows kept: saved whole (from the API, the page or a YAML file) by admins, each save a
//! new revision; what they name is checked when they are saved, so that a typo is a 400 then,
//! not a failed action at 3 a.m.
use klaxon_domain::auth::Role;
use klaxon_domain::event::{EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::WorkflowId;
use klaxon_domain::workflow::{Action, Workflow};
use klaxon_store::{StoreError, WorkflowRecord};
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
pub enum Change {
    Created,
    Updated,
    /// The same definition as kept: nothing written.
    Unchanged,
}

/// 409: the name is another workflow's.
pub(crate) fn name_taken(name: &str) -> ApiError {
    ApiError::Conflict {
        message: format!(
            "name: another workflow is called {name}: choose another name, or edit that one"
        ),
        field: Some("name".into()),
    }
}

fn admin(who: &Author) -> ApiResult<()> {
    if who.role < Role::Admin {
        return Err(ApiError::Forbidden(
            "changing workflows needs the admin role: they page people and call out".into(),
        ));
    }
    Ok(())
}

/// Saves `w`: over the workflow `target` when given (which may rename it), else over the one
/// with its name, else as a new one. `base`: the revision the caller started from; a save over
/// another is refused (409), so that two admins editing at once do not overwrite each other;
/// `Some(0)` creates only (409 when the name is taken).
pub async fn save(
    state: &AppState,
    who: &Author,
    target: Option<WorkflowId>,
    base: Option<i32>,
    w: Workflow,
) -> ApiResult<(WorkflowRecord, Change)> {
    admin(who)?;
    w.check()?;
    let existing = match target {
        Some(id) => Some(
            state
                .store
                .workflow(id)
                .await
                .map_err(ApiError::or_not_found("workflow"))?,
        ),
        None => match state.store.workflow_named(&w.name).await {
            Ok(r) => Some(r),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        },
    };
    if base == Some(0) && existing.is_some() {
        return Err(name_taken(&w.name));
    }
    if let (Some(b), Some(old)) = (base, &existing)
        && b != old.revision
    {
        return Err(ApiError::Conflict {
            message: format!(
                "revision: someone saved this workflow meanwhile (it is at revision {}): open \
                 it again to start from theirs",
                old.revision
            ),
            field: Some("revision".into()),
        });
    }
    // Turning a workflow off never fails on what it names: one whose person or webhook is gone
    // is just the one to turn off.
    let only_off = existing.as_ref().is_some_and(|old| {
        !w.enabled
            && w == Workflow {
                enabled: false,
                ..old.definition.clone()
            }
    });
    if !only_off {
        check_references(state, &w).await?;
    }
    let now = state.clock.now();
    let taken = |e: StoreError| match e {
        StoreError::Conflict { constraint } if constraint == "workflows_name" => {
            name_taken(&w.name)
        }
        StoreError::Conflict { .. } => ApiError::Conflict {
            message: "someone saved this workflow meanwhile: load it again".into(),
            field: None,
        },
        other => other.into(),
    };
    match existing {
        Some(old) if old.definition == w => Ok((old, Change::Unchanged)),
        Some(old) => {
            let rec = WorkflowRecord {
                id: old.id,
                definition: w.clone(),
                revision: old.revision + 1,
                created_at: old.created_at,
                updated_by: Some(who.user_id),
                updated_at: now,
            };
            let mut data = json!({"name": w.name, "revision": rec.revision, "enabled": w.enabled});
            if old.definition.name != w.name {
                data["renamed_from"] = json!(old.definition.name);
            }
            if old.definition.enabled != w.enabled {
                data["enabled_from"] = json!(old.definition.enabled);
            }
            let event = NewEvent::new(
                SubjectType::Workflow,
                rec.id,
                now,
                who.actor,
                EventKind::WorkflowUpdated,
                data,
            );
            state
                .store
                .update_workflow(&rec, event)
                .await
                .map_err(taken)?;
            Ok((rec, Change::Updated))
        }
        None => {
            let rec = WorkflowRecord {
                id: WorkflowId::new(now, random_bytes()),
                definition: w.clone(),
                revision: 1,
                created_at: now,
                updated_by: Some(who.user_id),
                updated_at: now,
            };
            let event = NewEvent::new(
                SubjectType::Workflow,
                rec.id,
                now,
                who.actor,
                EventKind::WorkflowCreated,
                json!({"name": w.name, "revision": 1, "enabled": w.enabled,
                       "trigger": w.trigger.on}),
            );
            state
                .store
                .create_workflow(&rec, event)
                .await
                .map_err(taken)?;
            Ok((rec, Change::Created))
        }
    }
}

/// Turns a workflow on or off (a new revision).
pub async fn set_enabled(
    state: &AppState,
    who: &Author,
    id: WorkflowId,
    enabled: bool,
) -> ApiResult<(WorkflowRecord, Change)> {
    let rec = state
        .store
        .workflow(id)
        .await
        .map_err(ApiError::or_not_found("workflow"))?;
    let base = rec.revision;
    let w = Workflow {
        enabled,
        ..rec.definition
    };
    // Over the revision just read: an edit saved in between is not undone.
    save(state, who, Some(id), Some(base), w).await
}

pub async fn delete(state: &AppState, who: &Author, id: WorkflowId) -> ApiResult<()> {
    admin(who)?;
    let rec = state
        .store
        .workflow(id)
        .await
        .map_err(ApiError::or_not_found("workflow"))?;
    let event = NewEvent::new(
        SubjectType::Workflow,
        id,
        state.clock.now(),
        who.actor,
        EventKind::WorkflowDeleted,
        json!({"name": rec.definition.name, "revision": rec.revision}),
    );
    state
        .store
        .delete_workflow(id, event)
        .await
        .map_err(ApiError::or_not_found("workflow"))
}

/// Checks that what the workflow names exists now: people, roles, teams, runbooks and their
/// parameters, update templates, status pages and their components, webhooks, services.
pub async fn check_references(state: &AppState, w: &Workflow) -> ApiResult<()> {
    for (i, s) in w.conditions.service.iter().enumerate() {
        terms::service(state, s, At::Field(&format!("conditions.service[{i}]"))).await?;
    }
    let rules = &state.incident_rules;
    for (i, role) in w.conditions.role.iter().enumerate() {
        rules
            .roles
            .parse(role)
            .map_err(|e| ApiError::invalid(format!("conditions.role[{i}]"), e.reason))?;
    }
    for (i, step) in w.actions.iter().enumerate() {
        let at = |f: &str| format!("actions[{i}].{}.{f}", step.action.kind());
        match &step.action {
            Action::Page(p) => {
                if let Some(u) = p.user.as_deref() {
                    person(state, &at("user"), u).await?;
                }
                if let Some(r) = p.role.as_deref() {
                    rules
                        .roles
                        .parse(r)
                        .map_err(|e| ApiError::invalid(at("role"), e.reason))?;
                }
                if let Some(t) = p.team.as_deref() {
                    terms::policy(state, t, At::Field(&at("team"))).await?;
                }
            }
            Action::AssignRole(a) => {
                rules
                    .roles
                    .parse(&a.role)
                    .map_err(|e| ApiError::invalid(at("role"), e.reason))?;
                person(state, &at("user"), &a.user).await?;
            }
            Action::AddTasks(_) => {}
            Action::StartRunbook(s) => {
                let id = terms::runbook(state, &s.runbook, At::Field(&at("runbook"))).await?;
                let rec = state.store.runbook(id).await?;
                let v = state.store.runbook_version(rec.id, rec.version).await?;
                let rb = crate::automation::runbooks::parse(&v.source, Some(&rec.name))?;
                for (name, value) in &s.params {
                    let Some(p) = rb.params.iter().find(|p| &p.name == name) else {
                        let known: Vec<&str> = rb.params.iter().map(|p| p.name.as_str()).collect();
                        return Err(ApiError::invalid(
                            at(&format!("params.{name}")),
                            format!(
                                "the runbook {} has no parameter {name}; it has: {}",
                                rec.name,
                                if known.is_empty() {
                                    "none".to_owned()
                                } else {
                                    known.join(", ")
                                }
                            ),
                        ));
                    };
                    // Values are taken as given (the runbook's defaults are its templates).
                    p.check(value)
                        .map_err(|e| ApiError::invalid(at(&format!("params.{name}")), e.reason))?;
                }
            }
            Action::PostUpdate(u) => {
                if let Some(t) = u.template.as_deref()
                    && !rules.update_templates.iter().any(|k| k.key == t)
                {
                    let keys: Vec<&str> = rules
                        .update_templates
                        .iter()
                        .map(|t| t.key.as_str())
                        .collect();
                    return Err(ApiError::invalid(
                        at("template"),
                        format!("must be one of: {}", keys.join(", ")),
                    ));
                }
            }
            Action::SetComponent(c) => {
                let page = terms::status_page(state, &c.page, At::Field(&at("page"))).await?;
                let all = state.store.list_components(page).await?;
                crate::status::pages_api::find_component(
                    &all,
                    &c.component,
                    At::Field(&at("component")),
                )?;
            }
            Action::CallWebhook(h) => {
                terms::webhook(state, &h.webhook, At::Field(&at("webhook"))).await?;
            }
        }
    }
    Ok(())
}

async fn person(state: &AppState, field: &str, raw: &str) -> ApiResult<()> {
    let id = terms::user(state, raw, At::Field(field)).await?;
    crate::people::manage::active_user(state, field, id).await?;
    Ok(())
}
