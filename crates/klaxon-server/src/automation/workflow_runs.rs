//! The runs of workflows as pages show them: on a workflow's page and on an incident's. Here,
//! beside runbook runs, because the incident page reads it and `workflows/` (which acts on
//! incidents) may not be read by `incidents/`.
use std::collections::HashMap;

use klaxon_domain::ids::{IncidentId, WorkflowId};
use klaxon_store::{WorkflowRecord, WorkflowRunRecord, action_state, run_state};

use crate::shared::error::ApiError;
use crate::shared::state::AppState;
use crate::shared::time::Reader;

/// A workflow's page: by name, or by id for a workflow kept from before `new` was reserved.
pub(crate) fn href(r: &WorkflowRecord) -> String {
    if klaxon_domain::workflow::RESERVED_NAMES.contains(&r.definition.name.as_str()) {
        format!("/workflows/{}", r.id)
    } else {
        format!("/workflows/{}", r.definition.name)
    }
}

pub(crate) struct ActionView {
    /// What the action does, in words (as the run's definition had it).
    pub(crate) action: String,
    pub(crate) state: String,
    pub(crate) state_label: &'static str,
    pub(crate) detail: String,
    pub(crate) when: String,
}

pub(crate) struct RunView {
    /// The workflow's page and name (on an incident's page).
    pub(crate) workflow: Option<(String, String)>,
    /// The incident's page and "#n title" (on a workflow's page).
    pub(crate) incident: Option<(String, String)>,
    pub(crate) when: String,
    pub(crate) state: String,
    pub(crate) state_label: &'static str,
    pub(crate) revision: i32,
    pub(crate) actions: Vec<ActionView>,
}

pub(crate) fn run_state_label(s: &str) -> &'static str {
    match s {
        run_state::QUEUED => "Queued",
        run_state::RUNNING => "Running",
        run_state::DONE => "Done",
        run_state::STOPPED => "Stopped: an action failed",
        run_state::LOOP => "Not run: it would have run itself again",
        _ => "Unknown",
    }
}

fn action_state_label(s: &str) -> &'static str {
    match s {
        action_state::STARTED => "Being taken",
        action_state::SUCCEEDED => "Succeeded",
        action_state::FAILED => "Failed",
        action_state::SKIPPED => "Skipped",
        action_state::UNKNOWN => "Outcome unknown",
        _ => "Unknown",
    }
}

pub(crate) fn run_view(
    r: WorkflowRunRecord,
    reader: &Reader,
    workflow: Option<(String, String)>,
    incident: Option<(String, String)>,
) -> RunView {
    RunView {
        workflow,
        incident,
        when: reader.when(r.created_at).html(),
        state_label: run_state_label(&r.state),
        state: r.state,
        revision: r.revision,
        actions: r
            .actions
            .into_iter()
            .map(|a| ActionView {
                action: usize::try_from(a.position)
                    .ok()
                    .and_then(|i| r.definition.actions.get(i))
                    .map_or_else(|| a.kind.clone(), |s| s.action.describe()),
                state_label: action_state_label(&a.state),
                state: a.state,
                detail: a.detail,
                when: reader.when(a.at).html(),
            })
            .collect(),
    }
}

/// The workflow runs on an incident, newest first (at most 20), for its page.
pub(crate) async fn for_incident(
    state: &AppState,
    reader: &Reader,
    incident: IncidentId,
) -> Result<Vec<RunView>, ApiError> {
    let runs = state
        .store
        .list_workflow_runs(None, Some(incident), None, 20)
        .await?;
    let mut pages: HashMap<WorkflowId, Option<String>> = HashMap::new();
    let mut out = Vec::with_capacity(runs.len());
    for r in runs {
        let page = match pages.get(&r.workflow_id) {
            Some(p) => p.clone(),
            None => {
                let p = match state.store.workflow(r.workflow_id).await {
                    Ok(w) => Some(href(&w)),
                    Err(e) if e.is_not_found() => None,
                    Err(e) => return Err(e.into()),
                };
                pages.insert(r.workflow_id, p.clone());
                p
            }
        };
        let workflow = Some((page.unwrap_or_default(), r.workflow_name.clone()));
        out.push(run_view(r, reader, workflow, None));
    }
    Ok(out)
}
