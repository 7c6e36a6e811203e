//! The parts of a postmortem Klaxon fills in from its incident: read afresh until it is
//! published, then frozen into it, so a published postmortem no longer moves with the incident.
use jiff::Timestamp;
use klaxon_domain::event::EventKind;
use klaxon_domain::ids::{AlertId, IncidentId, ServiceId, UserId};
use klaxon_domain::incident::{IncidentStatus, Milestones, Severity};
use klaxon_domain::postmortem::{Postmortem, preselected, shown};
use klaxon_store::AlertFilter;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::incidents::{describe, timeline};
use crate::shared::error::{ApiError, ApiResult};
use crate::shared::state::AppState;
use crate::slos::burns::{self, BurnOut};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Facts {
    pub incident: IncidentFacts,
    /// Everyone who held a role, oldest first.
    pub responders: Vec<ResponderFact>,
    pub alerts: Vec<AlertFact>,
    /// Stakeholder updates and status-page updates, oldest first.
    pub updates: Vec<EntryFact>,
    /// Every event of the incident with the author's choice (`included`, `note`).
    pub timeline: Vec<EntryFact>,
    /// The error budget it burned of each SLO of its service (absent from postmortems frozen
    /// before SLOs existed).
    #[serde(default)]
    pub budgets: Vec<BurnOut>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IncidentFacts {
    #[schema(value_type = String, format = Uuid)]
    pub id: IncidentId,
    pub number: i64,
    pub title: String,
    pub severity: Option<Severity>,
    pub status: IncidentStatus,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub service_id: Option<ServiceId>,
    pub service: Option<String>,
    pub milestones: Milestones,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ResponderFact {
    /// The role's key (`commander`, …) and its name.
    pub role: String,
    pub role_name: String,
    #[schema(value_type = String, format = Uuid)]
    pub user_id: UserId,
    pub name: String,
    #[schema(value_type = String, format = DateTime)]
    pub assigned_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ended_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AlertFact {
    #[schema(value_type = String, format = Uuid)]
    pub id: AlertId,
    pub summary: String,
    pub status: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resolved_at: Option<Timestamp>,
}

/// One incident event, in words.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EntryFact {
    pub seq: i64,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    pub kind: String,
    /// Who did it.
    pub who: String,
    pub text: String,
    pub pinned: bool,
    /// Shown before the author chose: pinned, or a turning point of the incident.
    pub preselected: bool,
    /// Shown in the postmortem's timeline.
    pub included: bool,
    /// The author's annotation.
    pub note: String,
}

fn is_update(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::IncidentUpdatePosted
            | EventKind::IncidentStatusPublished
            | EventKind::IncidentStatusUpdated
    )
}

/// The facts as they are now (or as frozen at publishing).
pub async fn facts(state: &AppState, pm: &Postmortem) -> ApiResult<Facts> {
    if let Some(f) = &pm.frozen {
        return serde_json::from_value(f.clone())
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("frozen postmortem facts: {e}")));
    }
    live(state, pm).await
}

/// The facts read from the incident now.
pub async fn live(state: &AppState, pm: &Postmortem) -> ApiResult<Facts> {
    let id = pm.incident_id;
    let i = state
        .store
        .incident(id)
        .await
        .map_err(ApiError::or_not_found("incident"))?;
    let roles = state.store.incident_roles(id, true).await?;
    let events = timeline::all_events(state, id).await?;
    let people: Vec<UserId> = roles.iter().map(|r| r.user_id).collect();
    let names = timeline::names(state, &events, &people).await;
    let name = |u: &UserId| {
        names
            .get(&u.to_string())
            .cloned()
            .unwrap_or_else(|| u.to_string())
    };
    let service = match i.service_id {
        Some(s) => state.store.service(s).await.ok().map(|s| s.name),
        None => None,
    };
    let alerts = state
        .store
        .list_alerts(
            &AlertFilter {
                incident_id: Some(id),
                ..Default::default()
            },
            None,
            500,
        )
        .await?
        .items;
    let updates = describe::update_deliveries(state, id).await?;
    let words = describe::Words {
        names: &names,
        rules: &state.incident_rules,
        reader: None,
        updates: &updates,
    };
    let mut timeline = Vec::new();
    let mut told = Vec::new();
    // The postmortem's own events are about the review, not the incident.
    for e in events
        .iter()
        .filter(|e| !e.kind.as_str().starts_with("postmortem."))
    {
        let entry = pm.timeline.iter().find(|t| t.seq == e.seq);
        let f = EntryFact {
            seq: e.seq,
            at: e.at,
            kind: e.kind.as_str().to_owned(),
            who: describe::actor_name(&e.actor, &names),
            text: describe::describe(e, &words),
            pinned: e.pinned,
            preselected: preselected(e.kind, e.pinned),
            included: shown(&pm.timeline, e.seq, e.kind, e.pinned),
            note: entry.map(|t| t.note.clone()).unwrap_or_default(),
        };
        if is_update(e.kind) {
            told.push(f.clone());
        }
        timeline.push(f);
    }
    let mut alerts: Vec<AlertFact> = alerts
        .into_iter()
        .map(|a| AlertFact {
            id: a.id,
            summary: a.content.summary,
            status: a.status.to_string(),
            created_at: a.created_at,
            resolved_at: a.resolved_at,
        })
        .collect();
    alerts.sort_by_key(|a| a.created_at);
    Ok(Facts {
        incident: IncidentFacts {
            id,
            number: i.number,
            title: i.title.clone(),
            severity: i.severity,
            status: i.status,
            service_id: i.service_id,
            service,
            milestones: i.milestones(),
        },
        responders: roles
            .iter()
            .map(|r| ResponderFact {
                role: r.role.clone(),
                role_name: state
                    .incident_rules
                    .roles
                    .get(&r.role)
                    .map_or_else(|| r.role.clone(), |d| d.name.clone()),
                user_id: r.user_id,
                name: name(&r.user_id),
                assigned_at: r.assigned_at,
                ended_at: r.ended_at,
            })
            .collect(),
        alerts,
        updates: told,
        timeline,
        budgets: burns::for_incident(state, &i).await?,
    })
}
