//! Incident lists and settings: what the API lists, filters and shows of incidents.
use crate::shared::api::{ApiQuery, Caller, ListOf};
use crate::shared::config::IncidentRules;
use crate::shared::error::{ApiError, ApiResult, ErrorBody};
use crate::shared::state::AppState;
use crate::shared::terms::{self, At};
use axum::Json;
use axum::extract::{Path, State};
use jiff::Timestamp;
use klaxon_domain::alert::Urgency;
use klaxon_domain::auth::Role;
use klaxon_domain::ids::{IncidentId, ServiceId};
use klaxon_domain::incident::{self as rules, Impact, IncidentStatus, Severity};
use klaxon_store::Incident;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::shared::api::{decode_cursor, encode_cursor, filter_id};
use klaxon_domain::incident::{Milestones, Priority};
use klaxon_domain::page::Limit;
use klaxon_store::IncidentFilter;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_incidents))
        .routes(routes!(get_incident))
        .routes(routes!(incident_settings))
}

// --- settings -----------------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct SeverityOut {
    #[schema(value_type = klaxon_domain::incident::Severity)]
    pub severity: String,
    pub definition: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentSettingsOut {
    pub severities: Vec<SeverityOut>,
    /// Rows: impact high, medium, low; columns: urgency high, medium, low.
    #[schema(value_type = Vec<Vec<Priority>>)]
    pub priority_matrix: Vec<Vec<String>>,
    pub roles: Vec<rules::RoleDef>,
    /// Ready-made stakeholder updates: key, name, text with {number}, {title}, {status},
    /// {severity}.
    pub update_templates: Vec<rules::UpdateTemplate>,
}

/// What severities mean here, the priority matrix and the roles incidents can have.
#[utoipa::path(get, path = "/api/v1/incident-settings", tag = "incidents",
    responses((status = 200, body = IncidentSettingsOut)))]
async fn incident_settings(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<IncidentSettingsOut>> {
    caller.require(Role::Viewer)?;
    Ok(Json(settings_out(&state.incident_rules)))
}

pub fn settings_out(r: &Arc<IncidentRules>) -> IncidentSettingsOut {
    IncidentSettingsOut {
        severities: Severity::ALL
            .iter()
            .map(|s| SeverityOut {
                severity: s.to_string(),
                definition: r.severities.get(*s).to_owned(),
            })
            .collect(),
        priority_matrix: r
            .matrix
            .0
            .iter()
            .map(|row| row.iter().map(|p| p.to_string()).collect())
            .collect(),
        roles: r.roles.all().to_vec(),
        update_templates: r.update_templates.clone(),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: IncidentId,
    pub number: i64,
    pub title: String,
    pub description: String,
    pub status: IncidentStatus,
    /// `high`, `medium` or `low`: how soon people are paged (medium pages as high).
    pub urgency: Urgency,
    /// `SEV1` .. `SEV4`; null on an incident an alert opened until someone sets it.
    pub severity: Option<Severity>,
    pub impact: Option<Impact>,
    /// `P1` .. `P5`, from impact × urgency through the priority matrix.
    pub priority: Option<Priority>,
    pub category: Option<String>,
    pub subcategory: Option<String>,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub reporter_id: Option<klaxon_domain::ids::UserId>,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub service_id: Option<ServiceId>,
    pub alert_count: u32,
    pub opened_by_alert: bool,
    /// The `declared_at` milestone.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Every milestone, `declared_at` included, in their order.
    pub milestones: Milestones,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub acknowledged_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resolved_at: Option<Timestamp>,
    /// The conference bridge responders join.
    pub conference_url: Option<String>,
    /// The chat channel where the incident is worked.
    pub chat_url: Option<String>,
    /// Set on a duplicate: the incident it was merged into.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub merged_into: Option<IncidentId>,
    /// A drill: kept out of every insight and metric.
    pub is_drill: bool,
    /// Time to detect, acknowledge, mitigate and resolve, and the whole duration, from the
    /// milestones (docs/learning.md).
    pub durations: klaxon_domain::learning::Durations,
}

impl From<Incident> for IncidentOut {
    fn from(i: Incident) -> Self {
        Self {
            milestones: i.milestones(),
            durations: i.durations(),
            is_drill: i.is_drill,
            id: i.id,
            number: i.number,
            title: i.title,
            description: i.description,
            status: i.status,
            urgency: i.urgency,
            severity: i.severity,
            impact: i.impact,
            priority: i.priority,
            category: i.category,
            subcategory: i.subcategory,
            reporter_id: i.reporter_id,
            service_id: i.service_id,
            alert_count: i.alert_count,
            opened_by_alert: i.opened_by_alert,
            created_at: i.created_at,
            acknowledged_at: i.acknowledged_at,
            resolved_at: i.resolved_at,
            conference_url: i.conference_url,
            chat_url: i.chat_url,
            merged_into: i.merged_into,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct IncidentParams {
    /// A service's id or name.
    #[param(min_length = 1)]
    pub service_id: Option<String>,
    #[param(value_type = Option<IncidentStatus>)]
    pub status: Option<String>,
    /// Only incidents not yet resolved or closed.
    pub open: Option<bool>,
    /// Severities, comma-separated: `SEV1,SEV2` (any case; empty items are ignored).
    #[param(
        pattern = r"^\s*([Ss][Ee][Vv][1-4])?\s*(,\s*([Ss][Ee][Vv][1-4])?\s*)*$",
        example = "SEV1,SEV2"
    )]
    pub severity: Option<String>,
    /// Declared at or after this time (RFC 3339); empty means no bound, as a web form sends.
    #[param(schema_with = crate::shared::api::time_or_empty)]
    pub from: Option<String>,
    /// Declared before this time (RFC 3339); empty means no bound.
    #[param(schema_with = crate::shared::api::time_or_empty)]
    pub to: Option<String>,
    /// Text in the title or description, ignoring case.
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// Only incidents the caller reported, holds a role in, or was paged for.
    pub mine: Option<bool>,
    /// A team's incidents: those of the services this escalation policy (its id or name) pages
    /// for.
    #[param(min_length = 1)]
    pub team: Option<String>,
    /// Learned from (`true`) or not (`false`): no priority action item of the incident is
    /// open or in progress (docs/learning.md).
    pub learned_from: Option<bool>,
    /// Items per page, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl IncidentParams {
    /// The store's filter, for `caller` (for `mine`).
    pub fn filter(&self, caller: klaxon_domain::ids::UserId) -> ApiResult<IncidentFilter> {
        let time = |v: &Option<String>, field: &str| -> ApiResult<Option<Timestamp>> {
            v.as_deref()
                .filter(|v| !v.is_empty())
                .map(|v| {
                    v.parse::<Timestamp>()
                        .map_err(|_| ApiError::invalid(field, "is not an RFC 3339 time"))
                })
                .transpose()
        };
        let severities = self
            .severity
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Severity::parse_loose)
            .collect::<Result<Vec<_>, _>>()?;
        let text = self.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
        if text.is_some_and(|q| q.chars().count() > 200) {
            return Err(ApiError::invalid("q", "at most 200 characters"));
        }
        Ok(IncidentFilter {
            service_id: filter_id(self.service_id.as_deref(), "service_id")?,
            status: self.status.as_deref().map(str::parse).transpose()?,
            open: self.open.unwrap_or(false),
            severities,
            from: time(&self.from, "from")?,
            to: time(&self.to, "to")?,
            text: text.map(str::to_owned),
            involving: self.mine.unwrap_or(false).then_some(caller),
            escalation_policy: filter_id(self.team.as_deref(), "team")?,
            learned_from: self.learned_from,
        })
    }
}

/// Incidents, newest first (a stable order: pages never repeat or skip one), filtered.
#[utoipa::path(get, path = "/api/v1/incidents", tag = "incidents", params(IncidentParams),
    responses((status = 200, body = ListOf<IncidentOut>), (status = 400, body = ErrorBody)))]
async fn list_incidents(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(mut p): ApiQuery<IncidentParams>,
) -> ApiResult<Json<ListOf<IncidentOut>>> {
    caller.require(Role::Viewer)?;
    // Names become ids here; the filter, which the web's form shares, reads ids.
    if let Some(s) = p.service_id.as_deref() {
        let id = terms::service(&state, s, At::Field("service_id")).await?;
        p.service_id = Some(id.to_string());
    }
    if let Some(t) = p.team.as_deref() {
        p.team = Some(
            terms::policy(&state, t, At::Field("team"))
                .await?
                .to_string(),
        );
    }
    let filter = p.filter(caller.user.id)?;
    let limit = Limit::parse(p.limit)?;
    let after = decode_cursor::<i64>("incidents", p.cursor.as_deref())?;
    let page = state
        .store
        .list_incidents(&filter, after, limit.get())
        .await?;
    Ok(Json(ListOf {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next.map(|id| encode_cursor("incidents", id)),
    }))
}

/// One incident.
#[utoipa::path(get, path = "/api/v1/incidents/{id}", tag = "incidents",
    params(("id" = String, Path, description = terms::doc::INCIDENT, min_length = 1)),
    responses((status = 200, body = IncidentOut), (status = 404, body = ErrorBody)))]
async fn get_incident(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<IncidentOut>> {
    caller.require(Role::Viewer)?;
    let id = terms::incident(&state, &id, At::Path("id")).await?;
    let i = state
        .store
        .incident(id)
        .await
        .map_err(ApiError::or_not_found("incident"))?;
    Ok(Json(i.into()))
}
