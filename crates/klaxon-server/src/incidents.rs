//! Incident response: declaring incidents, their fields, lifecycle, milestones, roles, notes
//! and pins. Each operation is one `*_with` function shared by the API and the web UI (the CLI
//! goes through the API); the rules are the domain's, checked inside the store's lock.
use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use klaxon_domain::alert::{AlertStatus, Urgency};
use klaxon_domain::auth::Role;
use klaxon_domain::event::{Actor, EventKind, KindFilter, NewEvent, SubjectType};
use klaxon_domain::ids::{IncidentId, RoleAssignmentId, ServiceId, TaskId, UserId};
use klaxon_domain::incident::{
    self as rules, COMMANDER, Impact, IncidentStatus, MILESTONES, Refusal, Severity,
};
use klaxon_store::{
    Event, Incident, IncidentChange, IncidentEdit, IncidentSnapshot, IncidentTask, NewIncident,
    RoleAssignment, escalation_job,
};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{
    ApiJson, ApiQuery, Caller, EventOut, ListOf, PageParams, page_in_memory, parse_id,
};
use crate::app::AppState;
use crate::config::IncidentRules;
use crate::crypto::random_bytes;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::services::IncidentOut;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(declare_incident))
        .routes(routes!(update_incident))
        .routes(routes!(change_status))
        .routes(routes!(edit_milestones))
        .routes(routes!(list_roles, assign_role))
        .routes(routes!(unassign_role))
        .routes(routes!(add_note))
        .routes(routes!(page_into))
        .routes(routes!(list_subscribers, subscribe))
        .routes(routes!(unsubscribe))
        .routes(routes!(post_update))
        .routes(routes!(list_related, relate))
        .routes(routes!(unrelate))
        .routes(routes!(merge))
        .routes(routes!(list_tasks, add_task))
        .routes(routes!(update_task, remove_task))
        .routes(routes!(pin_event, unpin_event))
        .routes(routes!(export_timeline))
        .routes(routes!(incident_settings))
}

/// Who is acting: the actor written on events, the person behind it (a token's user, a web
/// session's user, the user an acknowledgement link was sent to) and whether they are an admin.
#[derive(Debug, Clone, Copy)]
pub struct Who {
    pub actor: Actor,
    pub user: Option<UserId>,
    pub admin: bool,
}

impl Who {
    pub fn caller(c: &Caller) -> Self {
        Self {
            actor: c.actor(),
            user: Some(c.user.id),
            admin: c.role == Role::Admin,
        }
    }

    pub fn user(u: &klaxon_store::User) -> Self {
        Self {
            actor: Actor::User(u.id),
            user: Some(u.id),
            admin: u.role == Role::Admin,
        }
    }
}

/// Times are kept to the millisecond: cut input to that, so what is compared and recorded is
/// what is stored.
fn ms(t: Timestamp) -> Timestamp {
    klaxon_domain::clock::from_millis(klaxon_domain::clock::to_millis(t))
}

fn ev(id: IncidentId, at: Timestamp, who: Who, kind: EventKind, data: Value) -> NewEvent {
    NewEvent::new(SubjectType::Incident, id, at, who.actor, kind, data)
}

fn new_role(id: IncidentId, role: &str, user: UserId, at: Timestamp, who: Who) -> RoleAssignment {
    RoleAssignment {
        id: RoleAssignmentId::new(at, random_bytes()),
        incident_id: id,
        role: role.to_owned(),
        user_id: user,
        assigned_at: at,
        assigned_by: who.actor,
        ended_at: None,
        ended_by: None,
    }
}

/// Runs `edit` on the incident under the store's lock, then tells live timelines.
async fn change(state: &AppState, id: IncidentId, edit: IncidentEdit) -> ApiResult<Incident> {
    let result = state
        .store
        .change_incident(id, edit)
        .await
        .map_err(ApiError::or_not_found("incident"))?;
    let incident = result.map_err(ApiError::from)?;
    state.incident_changes.notify_waiters();
    // A move out of triggered cancels pending pages at the sender's next claim.
    state.engine.wake();
    Ok(incident)
}

/// A user named in input must exist and be active: a clear 400 naming the field otherwise.
async fn existing_user(state: &AppState, field: &str, id: &str) -> ApiResult<UserId> {
    let user =
        parse_id::<UserId>(id, field).map_err(|_| ApiError::invalid(field, "is not a user id"))?;
    crate::users::active_user(state, field, user).await?;
    Ok(user)
}

/// Makes `who` the commander of a major incident that has none, or refuses when nobody is
/// behind the change.
fn ensure_commander(
    snap: &IncidentSnapshot,
    c: &mut IncidentChange,
    who: Who,
) -> Result<(), Refusal> {
    if !rules::needs_commander(c.incident.severity, c.incident.status) {
        return Ok(());
    }
    let has = snap.holders(COMMANDER).any(|r| {
        !c.unassign
            .iter()
            .any(|(role, u)| role == COMMANDER && *u == r.user_id)
    }) || c.assign.iter().any(|r| r.role == COMMANDER);
    if has {
        return Ok(());
    }
    let Some(user) = who.user else {
        return Err(Refusal::conflict(
            "role",
            "a SEV1 or SEV2 incident needs an incident commander once acknowledged; assign one first",
        ));
    };
    let id = c.incident.id;
    c.assign.push(new_role(id, COMMANDER, user, c.at, who));
    c.events.push(ev(
        id,
        c.at,
        who,
        EventKind::IncidentRoleAssigned,
        json!({"role": COMMANDER, "user_id": user, "automatic": true}),
    ));
    Ok(())
}

// --- declare ------------------------------------------------------------------------------------

/// Deserializes a field that may be absent (keep), null (clear) or a value (set).
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Declare {
    pub title: String,
    /// `SEV1` .. `SEV4`; see `GET /api/v1/incident-settings` for what each means here.
    pub severity: String,
    #[serde(default)]
    pub description: String,
    /// `high`, `medium` or `low`; from the severity when absent.
    pub impact: Option<String>,
    /// `high`, `medium` or `low`; from the severity when absent. Medium and high page now.
    pub urgency: Option<String>,
    pub category: Option<String>,
    pub subcategory: Option<String>,
    /// The affected service: its escalation policy is paged.
    pub service_id: Option<String>,
    /// Who reported it (confirms closure); the caller when absent.
    pub reporter_id: Option<String>,
    /// The incident commander from the start.
    pub commander_id: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub impact_started_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub detected_at: Option<Timestamp>,
    /// The conference bridge responders join (http or https).
    pub conference_url: Option<String>,
    /// The chat channel where the incident is worked.
    pub chat_url: Option<String>,
}

/// Declares an incident by hand. With a service that has an escalation policy it starts
/// triggered and pages; otherwise the declarer is on it and it starts acknowledged.
pub async fn declare_with(state: &AppState, who: Who, d: Declare) -> ApiResult<Incident> {
    let rules = &state.incident_rules;
    let title = rules::parse_title("title", &d.title, rules::TITLE_MAX)?;
    let description = rules::parse_text("description", &d.description, rules::DESCRIPTION_MAX)?;
    let severity = Severity::parse_loose(&d.severity)?;
    let (default_impact, default_urgency) = severity.default_impact_urgency();
    let impact = d
        .impact
        .as_deref()
        .map(str::parse::<Impact>)
        .transpose()?
        .unwrap_or(default_impact);
    let urgency = d
        .urgency
        .as_deref()
        .map(str::parse::<Urgency>)
        .transpose()?
        .unwrap_or(default_urgency);
    let category = rules::parse_label("category", d.category.as_deref())?;
    let conference_url = rules::parse_link("conference_url", d.conference_url.as_deref())?;
    let chat_url = rules::parse_link("chat_url", d.chat_url.as_deref())?;
    let subcategory = rules::parse_label("subcategory", d.subcategory.as_deref())?;
    let service = match d.service_id.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => {
            let id = parse_id::<ServiceId>(s, "service_id")
                .map_err(|_| ApiError::invalid("service_id", "is not a service id"))?;
            match state.store.service(id).await {
                Ok(svc) => Some(svc),
                Err(e) if e.is_not_found() => {
                    return Err(ApiError::invalid("service_id", "no service has this id"));
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    let reporter = match d.reporter_id.as_deref().filter(|s| !s.is_empty()) {
        Some(r) => Some(existing_user(state, "reporter_id", r).await?),
        None => who.user,
    };
    let commander = match d.commander_id.as_deref().filter(|s| !s.is_empty()) {
        Some(c) => Some(existing_user(state, "commander_id", c).await?),
        None => None,
    };
    let now = state.clock.now();
    let id = IncidentId::new(now, random_bytes());
    let pages = service
        .as_ref()
        .is_some_and(|s| s.escalation_policy_id.is_some());
    let status = if pages {
        IncidentStatus::Triggered
    } else {
        IncidentStatus::Acknowledged
    };
    let incident = Incident {
        id,
        number: 0,
        title,
        description,
        status,
        urgency,
        severity: Some(severity),
        impact: Some(impact),
        priority: Some(rules.matrix.priority(impact, urgency)),
        category,
        subcategory,
        reporter_id: reporter,
        service_id: service.as_ref().map(|s| s.id),
        alert_count: 0,
        opened_by_alert: false,
        created_at: now,
        impact_started_at: d.impact_started_at.map(ms),
        detected_at: Some(d.detected_at.map_or(now, ms)),
        acknowledged_at: (!pages).then_some(now),
        mitigated_at: None,
        resolved_at: None,
        closed_at: None,
        conference_url,
        chat_url,
        merged_into: None,
    };
    incident
        .milestones()
        .check(status, now)
        .map_err(ApiError::from)?;
    let mut events = vec![ev(
        id,
        now,
        who,
        EventKind::IncidentDeclared,
        json!({
            "title": incident.title, "severity": severity, "priority": incident.priority,
            "impact": impact, "urgency": urgency, "service_id": incident.service_id,
            "reporter_id": reporter, "status": status,
        }),
    )];
    let mut roles = Vec::new();
    let commander = commander.or_else(|| {
        (rules::needs_commander(Some(severity), status))
            .then_some(who.user)
            .flatten()
    });
    if let Some(user) = commander {
        roles.push(new_role(id, COMMANDER, user, now, who));
        events.push(ev(
            id,
            now,
            who,
            EventKind::IncidentRoleAssigned,
            json!({"role": COMMANDER, "user_id": user}),
        ));
    } else if rules::needs_commander(Some(severity), status) {
        return Err(ApiError::invalid(
            "commander_id",
            "a SEV1 or SEV2 incident that nobody is paged for needs a commander",
        ));
    }
    let job = pages.then(|| {
        escalation_job(
            klaxon_domain::ids::JobId::new(now, random_bytes()),
            id,
            0,
            now,
        )
    });
    let incident = state
        .store
        .declare_incident(NewIncident {
            incident,
            roles,
            job,
            events,
        })
        .await
        .map_err(|e| {
            if e.is_not_found() {
                ApiError::invalid("service_id", "the service or a user was deleted meanwhile")
            } else {
                e.into()
            }
        })?;
    state.incident_changes.notify_waiters();
    state.engine.wake();
    Ok(incident)
}

/// Declares an incident (responder). 201 with the incident.
#[utoipa::path(post, path = "/api/v1/incidents", tag = "incidents", request_body = Declare,
    responses((status = 201, body = IncidentOut), (status = 400, body = ErrorBody)))]
async fn declare_incident(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Declare>,
) -> ApiResult<(StatusCode, Json<IncidentOut>)> {
    caller.require(Role::Responder)?;
    let i = declare_with(&state, Who::caller(&caller), body).await?;
    Ok((StatusCode::CREATED, Json(i.into())))
}

// --- fields -------------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Update {
    pub title: Option<String>,
    pub description: Option<String>,
    pub severity: Option<String>,
    pub impact: Option<String>,
    pub urgency: Option<String>,
    /// null clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub category: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub subcategory: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub reporter_id: Option<Option<String>>,
    /// null clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub conference_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub chat_url: Option<Option<String>>,
}

/// Changes an incident's fields. Severity gets its own event; the rest one `incident.updated`
/// listing each change. Priority follows impact and urgency.
pub async fn update_with(
    state: &AppState,
    who: Who,
    id: IncidentId,
    u: Update,
) -> ApiResult<Incident> {
    let title = u
        .title
        .as_deref()
        .map(|t| rules::parse_title("title", t, rules::TITLE_MAX))
        .transpose()?;
    let description = u
        .description
        .as_deref()
        .map(|t| rules::parse_text("description", t, rules::DESCRIPTION_MAX))
        .transpose()?;
    let severity = u
        .severity
        .as_deref()
        .map(Severity::parse_loose)
        .transpose()?;
    let impact = u.impact.as_deref().map(str::parse::<Impact>).transpose()?;
    let urgency = u
        .urgency
        .as_deref()
        .map(str::parse::<Urgency>)
        .transpose()?;
    let category = u
        .category
        .map(|c| rules::parse_label("category", c.as_deref()))
        .transpose()?;
    let subcategory = u
        .subcategory
        .map(|c| rules::parse_label("subcategory", c.as_deref()))
        .transpose()?;
    let conference_url = u
        .conference_url
        .map(|c| rules::parse_link("conference_url", c.as_deref()))
        .transpose()?;
    let chat_url = u
        .chat_url
        .map(|c| rules::parse_link("chat_url", c.as_deref()))
        .transpose()?;
    let reporter = match u.reporter_id {
        None => None,
        Some(None) => Some(None),
        Some(Some(r)) if r.is_empty() => Some(None),
        Some(Some(r)) => Some(Some(existing_user(state, "reporter_id", &r).await?)),
    };
    let matrix = state.incident_rules.matrix;
    let now = state.clock.now();
    let edit: IncidentEdit = Box::new(move |snap: &IncidentSnapshot| {
        let old = &snap.incident;
        if old.status == IncidentStatus::Closed {
            return Err(Refusal::conflict(
                "status",
                "a closed incident cannot be changed",
            ));
        }
        let mut c = IncidentChange::of(snap, now, who.actor);
        let i = &mut c.incident;
        let mut changes = serde_json::Map::new();
        use crate::timeline::set_noting as set;
        set(&mut changes, "title", &mut i.title, title);
        set(&mut changes, "description", &mut i.description, description);
        set(&mut changes, "impact", &mut i.impact, impact.map(Some));
        set(&mut changes, "urgency", &mut i.urgency, urgency);
        set(&mut changes, "category", &mut i.category, category);
        set(&mut changes, "subcategory", &mut i.subcategory, subcategory);
        set(&mut changes, "reporter_id", &mut i.reporter_id, reporter);
        set(
            &mut changes,
            "conference_url",
            &mut i.conference_url,
            conference_url,
        );
        set(&mut changes, "chat_url", &mut i.chat_url, chat_url);
        let priority = i.impact.map(|imp| matrix.priority(imp, i.urgency));
        set(&mut changes, "priority", &mut i.priority, Some(priority));
        let from_sev = i.severity;
        if let Some(s) = severity {
            i.severity = Some(s);
        }
        let id = i.id;
        if !changes.is_empty() {
            c.events.push(ev(
                id,
                now,
                who,
                EventKind::IncidentUpdated,
                json!({"changes": changes}),
            ));
        }
        if c.incident.severity != from_sev {
            c.events.push(ev(
                id,
                now,
                who,
                EventKind::IncidentSeverityChanged,
                json!({"from": from_sev, "to": c.incident.severity}),
            ));
        }
        ensure_commander(snap, &mut c, who)?;
        Ok(c)
    });
    change(state, id, edit).await
}

/// Changes an incident's fields (responder).
#[utoipa::path(patch, path = "/api/v1/incidents/{id}", tag = "incidents", request_body = Update,
    params(("id" = String, Path, description = "Incident id")),
    responses((status = 200, body = IncidentOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn update_incident(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Update>,
) -> ApiResult<Json<IncidentOut>> {
    caller.require(Role::Responder)?;
    let id = parse_id::<IncidentId>(&id, "incident")?;
    Ok(Json(
        update_with(&state, Who::caller(&caller), id, body)
            .await?
            .into(),
    ))
}

// --- lifecycle ----------------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    /// `acknowledged`, `mitigated`, `resolved` or `closed` (`acknowledged` reopens a resolved
    /// incident).
    pub status: String,
    /// Why: required when an admin closes without the reporter's confirmation.
    pub reason: Option<String>,
}

/// Moves an incident along its lifecycle. Closing is the reporter's confirmation (or the
/// commander's, for an incident nobody reported); anyone else needs to be an admin and give a
/// reason.
pub async fn move_with(
    state: &AppState,
    who: Who,
    id: IncidentId,
    to: IncidentStatus,
    reason: Option<String>,
) -> ApiResult<Incident> {
    let reason = reason
        .map(|r| rules::parse_text("reason", &r, rules::NOTE_MAX))
        .transpose()?
        .filter(|r| !r.trim().is_empty());
    let now = state.clock.now();
    let edit: IncidentEdit = Box::new(move |snap: &IncidentSnapshot| {
        let from = snap.incident.status;
        from.check_move(to)?;
        let mut data = json!({"from": from, "to": to});
        if to == IncidentStatus::Closed {
            let confirmer = snap
                .incident
                .reporter_id
                .or_else(|| snap.holders(COMMANDER).next().map(|r| r.user_id));
            let confirms = who.user.is_some() && who.user == confirmer;
            if !confirms {
                if !who.admin {
                    return Err(Refusal::Forbidden(match snap.incident.reporter_id {
                        Some(_) => "closing needs the reporter's confirmation: only the reporter (or an admin, with a reason) can close it".into(),
                        None => "closing needs the incident commander's confirmation: only the commander (or an admin, with a reason) can close it".into(),
                    }));
                }
                if reason.is_none() {
                    return Err(rules::Refusal::Invalid(klaxon_domain::Invalid::new(
                        "reason",
                        "an admin closing without the reporter's confirmation must say why",
                    )));
                }
                data["override"] = json!(true);
            }
        }
        if let Some(r) = &reason {
            data["reason"] = json!(r);
        }
        let mut c = IncidentChange::of(snap, now, who.actor);
        let mut m = snap.incident.milestones();
        // A move that waited on the lock behind another (a tool's acknowledgement) must not
        // stamp a time before what that one wrote.
        let at = rules::MILESTONES
            .iter()
            .filter_map(|n| m.get(n))
            .fold(now, Timestamp::max);
        rules::stamp_move(&mut m, from, to, at);
        m.check(to, at)?;
        c.incident.set_milestones(m);
        c.incident.status = to;
        c.alerts = match (from, to) {
            (
                IncidentStatus::Triggered,
                IncidentStatus::Acknowledged | IncidentStatus::Mitigated,
            ) => Some(AlertStatus::Acknowledged),
            (_, IncidentStatus::Resolved) => Some(AlertStatus::Resolved),
            _ => None,
        };
        let kind = match (from, to) {
            (IncidentStatus::Resolved, IncidentStatus::Acknowledged) => EventKind::IncidentReopened,
            (_, IncidentStatus::Acknowledged) => EventKind::IncidentAcknowledged,
            (_, IncidentStatus::Mitigated) => EventKind::IncidentMitigated,
            (_, IncidentStatus::Resolved) => EventKind::IncidentResolved,
            _ => EventKind::IncidentClosed,
        };
        c.events.push(ev(c.incident.id, now, who, kind, data));
        ensure_commander(snap, &mut c, who)?;
        Ok(c)
    });
    change(state, id, edit).await
}

/// Moves an incident along its lifecycle (responder): triggered → acknowledged → mitigated →
/// resolved → closed, back from mitigated to acknowledged, and reopening a resolved one.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/status", tag = "incidents", request_body = StatusChange,
    params(("id" = String, Path, description = "Incident id")),
    responses((status = 200, body = IncidentOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn change_status(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<StatusChange>,
) -> ApiResult<Json<IncidentOut>> {
    let to: IncidentStatus = body.status.parse()?;
    // Closing is the reporter's confirmation: a reporter with only the viewer role may give it
    // (the rule itself is checked with the incident).
    caller.require(if to == IncidentStatus::Closed {
        Role::Viewer
    } else {
        Role::Responder
    })?;
    let id = parse_id::<IncidentId>(&id, "incident")?;
    if to == IncidentStatus::Triggered {
        return Err(ApiError::invalid(
            "status",
            "people do not trigger incidents; use escalate to page again",
        ));
    }
    Ok(Json(
        move_with(&state, Who::caller(&caller), id, to, body.reason)
            .await?
            .into(),
    ))
}

// --- milestones ---------------------------------------------------------------------------------

/// Milestones to set (a time) or clear (null); the ones absent stay.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MilestoneEdit {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub impact_started_at: Option<Option<Timestamp>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub detected_at: Option<Option<Timestamp>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub declared_at: Option<Option<Timestamp>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub acknowledged_at: Option<Option<Timestamp>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub mitigated_at: Option<Option<Timestamp>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resolved_at: Option<Option<Timestamp>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub closed_at: Option<Option<Timestamp>>,
}

impl MilestoneEdit {
    pub fn into_list(self) -> Vec<(&'static str, Option<Timestamp>)> {
        let all = [
            self.impact_started_at,
            self.detected_at,
            self.declared_at,
            self.acknowledged_at,
            self.mitigated_at,
            self.resolved_at,
            self.closed_at,
        ];
        MILESTONES
            .iter()
            .zip(all)
            .filter_map(|(name, v)| v.map(|v| (*name, v)))
            .collect()
    }
}

/// Edits milestones after the fact; they must stay in order, in the past, and agree with the
/// status (the error names the milestone to blame).
pub async fn milestones_with(
    state: &AppState,
    who: Who,
    id: IncidentId,
    edits: Vec<(&'static str, Option<Timestamp>)>,
) -> ApiResult<Incident> {
    let edits: Vec<_> = edits.into_iter().map(|(n, at)| (n, at.map(ms))).collect();
    let now = state.clock.now();
    let edit: IncidentEdit = Box::new(move |snap: &IncidentSnapshot| {
        let mut m = snap.incident.milestones();
        let mut changes = serde_json::Map::new();
        for (name, at) in &edits {
            if m.get(name) != *at {
                changes.insert((*name).to_owned(), json!({"from": m.get(name), "to": at}));
            }
            m.set(name, *at)?;
        }
        let edited: Vec<&str> = edits.iter().map(|(n, _)| *n).collect();
        m.check_edited(snap.incident.status, now, &edited)?;
        let mut c = IncidentChange::of(snap, now, who.actor);
        c.incident.set_milestones(m);
        if !changes.is_empty() {
            c.events.push(ev(
                c.incident.id,
                now,
                who,
                EventKind::IncidentMilestonesChanged,
                json!({"changes": changes}),
            ));
        }
        Ok(c)
    });
    change(state, id, edit).await
}

/// Edits milestones (responder).
#[utoipa::path(patch, path = "/api/v1/incidents/{id}/milestones", tag = "incidents", request_body = MilestoneEdit,
    params(("id" = String, Path, description = "Incident id")),
    responses((status = 200, body = IncidentOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn edit_milestones(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<MilestoneEdit>,
) -> ApiResult<Json<IncidentOut>> {
    caller.require(Role::Responder)?;
    let id = parse_id::<IncidentId>(&id, "incident")?;
    let i = milestones_with(&state, Who::caller(&caller), id, body.into_list()).await?;
    Ok(Json(i.into()))
}

// --- roles --------------------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleOut {
    /// The role assignment's id.
    #[schema(value_type = String, format = Uuid)]
    pub id: RoleAssignmentId,
    pub role: String,
    /// The role's display name.
    pub name: String,
    #[schema(value_type = String, format = Uuid)]
    pub user_id: UserId,
    #[schema(value_type = String, format = DateTime)]
    pub assigned_at: Timestamp,
    pub assigned_by: String,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ended_at: Option<Timestamp>,
    pub ended_by: Option<String>,
}

fn role_out(rules: &IncidentRules, r: RoleAssignment) -> RoleOut {
    RoleOut {
        id: r.id,
        name: rules
            .roles
            .get(&r.role)
            .map_or_else(|| r.role.clone(), |d| d.name.clone()),
        role: r.role,
        user_id: r.user_id,
        assigned_at: r.assigned_at,
        assigned_by: r.assigned_by.encode(),
        ended_at: r.ended_at,
        ended_by: r.ended_by.map(|a| a.encode()),
    }
}

/// Assigns a role. A role one person holds at a time is handed over.
pub async fn assign_role_with(
    state: &AppState,
    who: Who,
    id: IncidentId,
    role: &str,
    user: &str,
) -> ApiResult<Incident> {
    let def = state.incident_rules.roles.parse(role)?.clone();
    let user = existing_user(state, "user_id", user).await?;
    let now = state.clock.now();
    let edit: IncidentEdit = Box::new(move |snap: &IncidentSnapshot| {
        if snap.incident.status == IncidentStatus::Closed {
            return Err(Refusal::conflict(
                "status",
                "a closed incident's roles are final",
            ));
        }
        let holders: Vec<UserId> = snap.holders(&def.key).map(|r| r.user_id).collect();
        if holders.contains(&user) {
            return Err(Refusal::conflict(
                "user_id",
                format!("already holds the role {}", def.key),
            ));
        }
        let mut c = IncidentChange::of(snap, now, who.actor);
        let mut data = json!({"role": def.key, "user_id": user});
        if !def.multiple && !holders.is_empty() {
            for h in &holders {
                c.unassign.push((def.key.clone(), *h));
            }
            data["replaces"] = json!(holders);
        }
        c.assign
            .push(new_role(c.incident.id, &def.key, user, now, who));
        c.events.push(ev(
            c.incident.id,
            now,
            who,
            EventKind::IncidentRoleAssigned,
            data,
        ));
        Ok(c)
    });
    change(state, id, edit).await
}

/// Ends someone's role. The commander of an acknowledged SEV1 or SEV2 cannot just step
/// down: hand command to someone instead.
pub async fn unassign_role_with(
    state: &AppState,
    who: Who,
    id: IncidentId,
    role: &str,
    user: &str,
) -> ApiResult<Incident> {
    let def = state.incident_rules.roles.parse(role)?.clone();
    let user = parse_id::<UserId>(user, "user_id")
        .map_err(|_| ApiError::invalid("user_id", "is not a user id"))?;
    let now = state.clock.now();
    let edit: IncidentEdit = Box::new(move |snap: &IncidentSnapshot| {
        if snap.incident.status == IncidentStatus::Closed {
            return Err(Refusal::conflict(
                "status",
                "a closed incident's roles are final",
            ));
        }
        if !snap.holders(&def.key).any(|r| r.user_id == user) {
            return Err(Refusal::conflict(
                "user_id",
                format!("does not hold the role {}", def.key),
            ));
        }
        let mut c = IncidentChange::of(snap, now, who.actor);
        c.unassign.push((def.key.clone(), user));
        if def.key == COMMANDER
            && rules::needs_commander(snap.incident.severity, snap.incident.status)
        {
            return Err(Refusal::conflict(
                "role",
                "a SEV1 or SEV2 incident under way keeps a commander: assign the new commander instead",
            ));
        }
        c.events.push(ev(
            c.incident.id,
            now,
            who,
            EventKind::IncidentRoleUnassigned,
            json!({"role": def.key, "user_id": user}),
        ));
        Ok(c)
    });
    change(state, id, edit).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RolesParams {
    /// Everyone who ever held a role, with when they stopped.
    pub history: Option<bool>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Who holds the incident's roles (or held them, with `history=true`).
#[utoipa::path(get, path = "/api/v1/incidents/{id}/roles", tag = "incidents",
    params(("id" = String, Path, description = "Incident id"), RolesParams),
    responses((status = 200, body = ListOf<RoleOut>), (status = 404, body = ErrorBody)))]
async fn list_roles(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<RolesParams>,
) -> ApiResult<Json<ListOf<RoleOut>>> {
    caller.require(Role::Viewer)?;
    let id = parse_id::<IncidentId>(&id, "incident")?;
    let roles = state
        .store
        .incident_roles(id, p.history.unwrap_or(false))
        .await
        .map_err(ApiError::or_not_found("incident"))?;
    let page = PageParams {
        limit: p.limit,
        cursor: p.cursor,
    };
    Ok(Json(page_in_memory("roles", roles, &page, |r| {
        role_out(&state.incident_rules, r)
    })?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRole {
    /// A role key: `commander`, `communications_lead`, `scribe`, `subject_matter_expert` or
    /// one of the organisation's own.
    pub role: String,
    pub user_id: String,
}

/// Assigns a role (responder); the current holder of a one-person role is replaced. 201 with
/// the new role assignment.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/roles", tag = "incidents", request_body = AssignRole,
    params(("id" = String, Path, description = "Incident id")),
    responses((status = 201, body = RoleOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn assign_role(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AssignRole>,
) -> ApiResult<(StatusCode, Json<RoleOut>)> {
    caller.require(Role::Responder)?;
    let id = parse_id::<IncidentId>(&id, "incident")?;
    assign_role_with(&state, Who::caller(&caller), id, &body.role, &body.user_id).await?;
    // Both parsed above, or the assignment would have been refused.
    let role = state.incident_rules.roles.parse(&body.role)?.key.clone();
    let user = parse_id::<UserId>(&body.user_id, "user_id")?;
    // The current holder; failing that (ended by someone else meanwhile) the newest in the
    // history, which is oldest first.
    let mut found = None;
    for history in [false, true] {
        let roles = state
            .store
            .incident_roles(id, history)
            .await
            .map_err(ApiError::or_not_found("incident"))?;
        found = roles
            .into_iter()
            .rev()
            .find(|r| r.role == role && r.user_id == user);
        if found.is_some() {
            break;
        }
    }
    let r = found.ok_or_else(|| ApiError::not_found("role assignment"))?;
    Ok((
        StatusCode::CREATED,
        Json(role_out(&state.incident_rules, r)),
    ))
}

/// Ends a person's role (responder).
#[utoipa::path(delete, path = "/api/v1/incidents/{id}/roles/{role}/{user_id}", tag = "incidents",
    params(("id" = String, Path, description = "Incident id"), ("role" = String, Path, description = "Role key"),
           ("user_id" = String, Path, description = "User id")),
    responses((status = 200, body = IncidentOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn unassign_role(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, role, user)): Path<(String, String, String)>,
) -> ApiResult<Json<IncidentOut>> {
    caller.require(Role::Responder)?;
    let id = parse_id::<IncidentId>(&id, "incident")?;
    let i = unassign_role_with(&state, Who::caller(&caller), id, &role, &user).await?;
    Ok(Json(i.into()))
}

// --- notes and pins -----------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNote {
    /// Markdown-ish plain text, up to 20,000 characters.
    pub text: String,
    #[serde(default)]
    pub pinned: bool,
}

/// Adds a note to the timeline and pins it when asked (a second write: should it fail, the
/// note stays, unpinned, and the caller gets the error).
pub async fn note_with(
    state: &AppState,
    who: Who,
    id: IncidentId,
    text: &str,
    pinned: bool,
) -> ApiResult<Event> {
    if text.trim().is_empty() {
        return Err(ApiError::invalid("text", "must not be empty"));
    }
    let text = rules::parse_text("text", text, rules::NOTE_MAX)?;
    state
        .store
        .incident(id)
        .await
        .map_err(ApiError::or_not_found("incident"))?;
    let now = state.clock.now();
    let note = state
        .store
        .append_event(ev(
            id,
            now,
            who,
            EventKind::IncidentNoteAdded,
            json!({"text": text}),
        ))
        .await?;
    state.incident_changes.notify_waiters();
    if pinned {
        pin_with(state, who, id, note.seq, true).await?;
        return Ok(Event {
            pinned: true,
            ..note
        });
    }
    Ok(note)
}

/// Adds a note to the incident's timeline (responder). 201 with the event.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/notes", tag = "incidents", request_body = NewNote,
    params(("id" = String, Path, description = "Incident id")),
    responses((status = 201, body = EventOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn add_note(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewNote>,
) -> ApiResult<(StatusCode, Json<EventOut>)> {
    caller.require(Role::Responder)?;
    let id = parse_id::<IncidentId>(&id, "incident")?;
    let e = note_with(&state, Who::caller(&caller), id, &body.text, body.pinned).await?;
    Ok((StatusCode::CREATED, Json(e.into())))
}

pub async fn pin_with(
    state: &AppState,
    who: Who,
    id: IncidentId,
    seq: i64,
    pinned: bool,
) -> ApiResult<()> {
    let now = state.clock.now();
    let kind = if pinned {
        EventKind::IncidentEventPinned
    } else {
        EventKind::IncidentEventUnpinned
    };
    state
        .store
        .pin_incident_event(id, seq, pinned, ev(id, now, who, kind, json!({"seq": seq})))
        .await
        .map_err(ApiError::or_not_found("timeline event"))?;
    state.incident_changes.notify_waiters();
    Ok(())
}

/// Pins an event to the top of the incident's timeline (responder).
#[utoipa::path(put, path = "/api/v1/incidents/{id}/timeline/{seq}/pin", tag = "incidents",
    params(("id" = String, Path, description = "Incident id"), ("seq" = i64, Path, description = "Event sequence number")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn pin_event(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, seq)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Responder)?;
    let id = parse_id::<IncidentId>(&id, "incident")?;
    let seq = seq
        .parse()
        .map_err(|_| ApiError::invalid("seq", "is not a sequence number"))?;
    pin_with(&state, Who::caller(&caller), id, seq, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Unpins an event (responder).
#[utoipa::path(delete, path = "/api/v1/incidents/{id}/timeline/{seq}/pin", tag = "incidents",
    params(("id" = String, Path, description = "Incident id"), ("seq" = i64, Path, description = "Event sequence number")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn unpin_event(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, seq)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Responder)?;
    let id = parse_id::<IncidentId>(&id, "incident")?;
    let seq = seq
        .parse()
        .map_err(|_| ApiError::invalid("seq", "is not a sequence number"))?;
    pin_with(&state, Who::caller(&caller), id, seq, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

// --- paging people in ---------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PageInto {
    /// A person to page.
    pub user_id: Option<String>,
    /// Or a role: whoever holds it now is paged.
    pub role: Option<String>,
    /// Or a team, by its escalation policy: the policy's first level is paged (its people,
    /// and whoever is on call now in its schedules).
    pub escalation_policy_id: Option<String>,
    /// Why they are needed, shown on the timeline.
    #[serde(default)]
    pub message: String,
}

/// Pages people into an open incident through their notification rules, without touching its
/// escalation or status. Pages stand while the incident is open, acknowledged or not; each call
/// pages again.
pub async fn page_with(
    state: &AppState,
    who: Who,
    id: IncidentId,
    p: PageInto,
) -> ApiResult<Incident> {
    let message = rules::parse_text("message", &p.message, 500)?;
    let incident = state
        .store
        .incident(id)
        .await
        .map_err(ApiError::or_not_found("incident"))?;
    let team = p.escalation_policy_id.clone().filter(|e| !e.is_empty());
    let (users, role) = match (
        p.user_id.as_deref().filter(|u| !u.is_empty()),
        p.role.as_deref().filter(|r| !r.is_empty()),
        p.escalation_policy_id.as_deref().filter(|e| !e.is_empty()),
    ) {
        (Some(u), None, None) => (vec![existing_user(state, "user_id", u).await?], None),
        (None, None, Some(e)) => {
            let pid = parse_id::<klaxon_domain::ids::EscalationPolicyId>(e, "escalation_policy_id")
                .map_err(|_| {
                    ApiError::invalid("escalation_policy_id", "is not an escalation policy id")
                })?;
            let policy = match state.store.escalation_policy(pid).await {
                Ok(p) => p,
                Err(e) if e.is_not_found() => {
                    return Err(ApiError::invalid(
                        "escalation_policy_id",
                        "no escalation policy has this id",
                    ));
                }
                Err(e) => return Err(e.into()),
            };
            let first = policy
                .plan
                .levels
                .first()
                .map(|l| l.targets.clone())
                .unwrap_or_default();
            let reached =
                crate::schedules::reach(state.store.as_ref(), &first, state.clock.now()).await?;
            if reached.users.is_empty() {
                return Err(ApiError::Conflict {
                    message: "escalation_policy_id: nobody is on call at its first level now"
                        .into(),
                    field: Some("escalation_policy_id".into()),
                });
            }
            (reached.users, None)
        }
        (None, Some(r), None) => {
            let def = state.incident_rules.roles.parse(r)?.clone();
            let holders: Vec<UserId> = state
                .store
                .incident_roles(id, false)
                .await?
                .into_iter()
                .filter(|h| h.role == def.key)
                .map(|h| h.user_id)
                .collect();
            if holders.is_empty() {
                return Err(ApiError::Conflict {
                    message: format!("role: nobody holds the role {}", def.key),
                    field: Some("role".into()),
                });
            }
            (holders, Some(def.key))
        }
        _ => {
            return Err(ApiError::invalid(
                "user_id",
                "give one of user_id, role or escalation_policy_id",
            ));
        }
    };
    let service = match incident.service_id {
        Some(s) => state.store.service(s).await.ok(),
        None => None,
    };
    let now = state.clock.now();
    let nonce = random_bytes::<8>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    let mut pages = Vec::new();
    let mut paged = Vec::new();
    for user in &users {
        let key = format!("{}{id}:{user}:{nonce}", klaxon_store::RESPONDER_KEY_PREFIX);
        let mine = crate::paging::pages_for(
            state.store.as_ref(),
            &state.settings,
            &incident,
            service.as_ref(),
            *user,
            &key,
            None,
            now,
        )
        .await?;
        if !mine.is_empty() {
            paged.push(*user);
        }
        pages.extend(mine);
    }
    if pages.is_empty() {
        return Err(ApiError::Conflict {
            message: format!(
                "{}: has no notification rule for {} urgency, so cannot be paged",
                if role.is_some() { "role" } else { "user_id" },
                incident.urgency.pages_as()
            ),
            field: Some(if role.is_some() { "role" } else { "user_id" }.into()),
        });
    }
    let edit: IncidentEdit = Box::new(move |snap: &IncidentSnapshot| {
        if !snap.incident.status.is_open() {
            return Err(Refusal::conflict(
                "status",
                format!(
                    "the incident is {}; nobody is paged into it",
                    snap.incident.status
                ),
            ));
        }
        let mut c = IncidentChange::of(snap, now, who.actor);
        for user in &paged {
            let mut data = json!({"user_id": user, "role": role, "escalation_policy_id": team});
            if !message.is_empty() {
                data["message"] = json!(message);
            }
            c.events.push(ev(
                c.incident.id,
                now,
                who,
                EventKind::IncidentResponderPaged,
                data,
            ));
        }
        c.pages = pages;
        Ok(c)
    });
    change(state, id, edit).await
}

/// Pages a person, or whoever holds a role, into the incident (responder).
#[utoipa::path(post, path = "/api/v1/incidents/{id}/page", tag = "incidents", request_body = PageInto,
    params(("id" = String, Path, description = "Incident id")),
    responses((status = 200, body = IncidentOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn page_into(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PageInto>,
) -> ApiResult<Json<IncidentOut>> {
    caller.require(Role::Responder)?;
    let id = parse_id::<IncidentId>(&id, "incident")?;
    Ok(Json(
        page_with(&state, Who::caller(&caller), id, body)
            .await?
            .into(),
    ))
}

// --- related incidents and merging ----------------------------------------------------------

/// A store answer about two incidents: `id` (the path's, 404 when missing) and another named
/// by `field` in the body (400 naming it when missing).
async fn two_incidents<T>(
    state: &AppState,
    id: IncidentId,
    field: &'static str,
    r: klaxon_store::StoreResult<Result<T, Refusal>>,
) -> ApiResult<T> {
    match r {
        Ok(r) => r.map_err(ApiError::from),
        Err(e) if e.is_not_found() => {
            state
                .store
                .incident(id)
                .await
                .map_err(ApiError::or_not_found("incident"))?;
            Err(ApiError::invalid(field, "no incident has this id"))
        }
        Err(e) => Err(e.into()),
    }
}

/// Relates two incidents, or unrelates them.
pub async fn relate_with(
    state: &AppState,
    who: Who,
    id: IncidentId,
    other: &str,
    related: bool,
) -> ApiResult<()> {
    let other = parse_id::<IncidentId>(other, "incident_id")
        .map_err(|_| ApiError::invalid("incident_id", "is not an incident id"))?;
    let now = state.clock.now();
    let r = state
        .store
        .relate_incidents(id, other, related, now, who.actor)
        .await;
    two_incidents(state, id, "incident_id", r).await?;
    state.incident_changes.notify_waiters();
    Ok(())
}

/// Merges the duplicate `id` into `into`: its alerts move there and it is resolved.
pub async fn merge_with(
    state: &AppState,
    who: Who,
    id: IncidentId,
    into: &str,
) -> ApiResult<Incident> {
    let into = parse_id::<IncidentId>(into, "into")
        .map_err(|_| ApiError::invalid("into", "is not an incident id"))?;
    let now = state.clock.now();
    let r = state.store.merge_incident(id, into, now, who.actor).await;
    let target = two_incidents(state, id, "into", r).await?;
    state.incident_changes.notify_waiters();
    state.engine.wake();
    Ok(target)
}

/// The incidents related to this one, newest first.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/related", tag = "incidents",
    params(("id" = String, Path, description = "Incident id"), PageParams),
    responses((status = 200, body = ListOf<IncidentOut>), (status = 404, body = ErrorBody)))]
async fn list_related(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<PageParams>,
) -> ApiResult<Json<ListOf<IncidentOut>>> {
    caller.require(Role::Viewer)?;
    let id = parse_id::<IncidentId>(&id, "incident")?;
    let items = state
        .store
        .related_incidents(id)
        .await
        .map_err(ApiError::or_not_found("incident"))?;
    Ok(Json(page_in_memory("related", items, &p, Into::into)?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Relate {
    pub incident_id: String,
}

/// Relates another incident to this one (both ways) (responder). 201 with the related
/// incident.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/related", tag = "incidents", request_body = Relate,
    params(("id" = String, Path, description = "Incident id")),
    responses((status = 201, body = IncidentOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn relate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Relate>,
) -> ApiResult<(StatusCode, Json<IncidentOut>)> {
    caller.require(Role::Responder)?;
    let id = parse_id::<IncidentId>(&id, "incident")?;
    relate_with(&state, Who::caller(&caller), id, &body.incident_id, true).await?;
    // Parsed above, or the relation would have been refused.
    let other = parse_id::<IncidentId>(&body.incident_id, "incident_id")?;
    let related = state
        .store
        .incident(other)
        .await
        .map_err(ApiError::or_not_found("incident"))?;
    Ok((StatusCode::CREATED, Json(related.into())))
}

/// Unrelates two incidents (responder).
#[utoipa::path(delete, path = "/api/v1/incidents/{id}/related/{other_id}", tag = "incidents",
    params(("id" = String, Path, description = "Incident id"), ("other_id" = String, Path, description = "The related incident's id")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn unrelate(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, other)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Responder)?;
    let id = parse_id::<IncidentId>(&id, "incident")?;
    relate_with(&state, Who::caller(&caller), id, &other, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Merge {
    /// The incident this one duplicates.
    pub into: String,
}

/// Merges this incident, a duplicate, into another (responder): its alerts move there, it is
/// resolved and points at the other. Answers with the incident merged into.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/merge", tag = "incidents", request_body = Merge,
    params(("id" = String, Path, description = "The duplicate's id")),
    responses((status = 200, body = IncidentOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn merge(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Merge>,
) -> ApiResult<Json<IncidentOut>> {
    caller.require(Role::Responder)?;
    let id = parse_id::<IncidentId>(&id, "incident")?;
    Ok(Json(
        merge_with(&state, Who::caller(&caller), id, &body.into)
            .await?
            .into(),
    ))
}

// --- stakeholder updates ------------------------------------------------------------------------

/// Starts or stops `user` following the incident (its stakeholder updates).
pub async fn subscribe_with(
    state: &AppState,
    who: Who,
    id: IncidentId,
    user: &str,
    on: bool,
) -> ApiResult<Incident> {
    let user = if on {
        existing_user(state, "user_id", user).await?
    } else {
        parse_id::<UserId>(user, "user_id")
            .map_err(|_| ApiError::invalid("user_id", "is not a user id"))?
    };
    let now = state.clock.now();
    let edit: IncidentEdit = Box::new(move |snap: &IncidentSnapshot| {
        let follows = snap.subscribers.contains(&user);
        if follows == on {
            let why = if on {
                "already follows this incident"
            } else {
                "does not follow this incident"
            };
            return Err(Refusal::conflict("user_id", why));
        }
        let mut c = IncidentChange::of(snap, now, who.actor);
        let kind = if on {
            c.subscribe.push(user);
            EventKind::IncidentSubscribed
        } else {
            c.unsubscribe.push(user);
            EventKind::IncidentUnsubscribed
        };
        c.events
            .push(ev(c.incident.id, now, who, kind, json!({"user_id": user})));
        Ok(c)
    });
    change(state, id, edit).await
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostUpdate {
    /// The update's text; when absent, `template` filled in from the incident.
    pub message: Option<String>,
    /// A key of `GET /api/v1/incident-settings`' `update_templates`.
    pub template: Option<String>,
}

/// The text a template gives for this incident.
pub fn template_text(state: &AppState, key: &str, i: &Incident) -> ApiResult<String> {
    let t = state
        .incident_rules
        .update_templates
        .iter()
        .find(|t| t.key == key)
        .ok_or_else(|| {
            let keys: Vec<&str> = state
                .incident_rules
                .update_templates
                .iter()
                .map(|t| t.key.as_str())
                .collect();
            ApiError::invalid("template", format!("must be one of: {}", keys.join(", ")))
        })?;
    Ok(t.render(i.number, &i.title, i.status, i.severity))
}

/// Posts a stakeholder update: on the timeline, and to every follower by e-mail, webhook or
/// chat (never SMS or a call: an update tells, it does not wake anyone). Queued with the event
/// in one transaction; sent by the engine.
pub async fn post_update_with(
    state: &AppState,
    who: Who,
    id: IncidentId,
    u: PostUpdate,
) -> ApiResult<Incident> {
    Ok(write_update(state, who, id, u).await?.0)
}

/// Posts a stakeholder update as `post_update_with` does, answering with the
/// `incident.update_posted` event it wrote.
pub async fn post_update_event_with(
    state: &AppState,
    who: Who,
    id: IncidentId,
    u: PostUpdate,
) -> ApiResult<Event> {
    let (_, message) = write_update(state, who, id, u).await?;
    // The store's change_incident answers with the incident, not the seq of the events it
    // wrote, so the event is read back: the newest `incident.update_posted` event by this
    // actor with this message. Only the same actor posting the same message at the same time
    // could make two such requests answer with each other's (otherwise identical) event.
    all_events(state, id)
        .await?
        .into_iter()
        .rev()
        .find(|e| {
            e.kind == EventKind::IncidentUpdatePosted
                && e.actor == who.actor
                && e.data["message"].as_str() == Some(message.as_str())
        })
        .ok_or_else(|| ApiError::not_found("update"))
}

/// Writes the update; answers with the incident and the message posted.
async fn write_update(
    state: &AppState,
    who: Who,
    id: IncidentId,
    u: PostUpdate,
) -> ApiResult<(Incident, String)> {
    let incident = state
        .store
        .incident(id)
        .await
        .map_err(ApiError::or_not_found("incident"))?;
    let message = match (
        u.message
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty()),
        u.template.as_deref(),
    ) {
        (Some(m), _) => rules::parse_text("message", m, rules::UPDATE_MAX)?,
        (None, Some(t)) => template_text(state, t, &incident)?,
        (None, None) => return Err(ApiError::invalid("message", "must not be empty")),
    };
    let subscribers = state.store.incident_subscribers(id).await?;
    let now = state.clock.now();
    let nonce = random_bytes::<8>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    let posted_by = match who.user {
        Some(u) => state.store.user(u).await.ok().map(|u| u.name),
        None => None,
    };
    let url = state
        .settings
        .server
        .public_url
        .as_deref()
        .map(|b| format!("{}/incidents/{}", b.trim_end_matches('/'), id));
    let payload = json!({
        "update": {"message": message, "posted_by": posted_by},
        "incident": {
            "id": incident.id, "number": incident.number, "title": incident.title,
            "status": incident.status, "severity": incident.severity, "urgency": incident.urgency,
            "url": url,
        },
    });
    let mut pages = Vec::new();
    for user in &subscribers {
        for m in state.store.list_contact_methods(*user).await? {
            if matches!(
                m.kind,
                klaxon_domain::contact::ContactKind::Sms
                    | klaxon_domain::contact::ContactKind::Voice
            ) {
                continue;
            }
            pages.push(klaxon_store::NewNotification {
                id: klaxon_domain::ids::NotificationId::new(now, random_bytes()),
                incident_id: Some(id),
                user_id: *user,
                contact_method_id: Some(m.id),
                kind: m.kind,
                address: m.address.clone(),
                dedup_key: format!("{}{id}:{nonce}:{}", klaxon_store::UPDATE_KEY_PREFIX, m.id),
                payload: payload.clone(),
                run_at: now,
                created_at: now,
            });
        }
    }
    let recipients = pages.len();
    let posted = message.clone();
    let edit: IncidentEdit = Box::new(move |snap: &IncidentSnapshot| {
        let mut c = IncidentChange::of(snap, now, who.actor);
        c.events.push(ev(
            c.incident.id,
            now,
            who,
            EventKind::IncidentUpdatePosted,
            json!({"message": message, "followers": subscribers.len(), "messages": recipients}),
        ));
        c.pages = pages;
        Ok(c)
    });
    Ok((change(state, id, edit).await?, posted))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriberOut {
    /// The follower's id: the same as `user_id`, as a follower is its user
    /// (`DELETE .../subscribers/{user_id}` stops it).
    #[schema(value_type = String, format = Uuid)]
    pub id: UserId,
    #[schema(value_type = String, format = Uuid)]
    pub user_id: UserId,
    /// The follower's name.
    pub name: String,
}

/// Who follows the incident.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/subscribers", tag = "incidents",
    params(("id" = String, Path, description = "Incident id"), PageParams),
    responses((status = 200, body = ListOf<SubscriberOut>), (status = 404, body = ErrorBody)))]
async fn list_subscribers(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<PageParams>,
) -> ApiResult<Json<ListOf<SubscriberOut>>> {
    caller.require(Role::Viewer)?;
    let id = parse_id::<IncidentId>(&id, "incident")?;
    let users = state
        .store
        .incident_subscribers(id)
        .await
        .map_err(ApiError::or_not_found("incident"))?;
    let mut page = page_in_memory("subscribers", users, &p, |u| SubscriberOut {
        id: u,
        user_id: u,
        name: String::new(),
    })?;
    let ids: Vec<UserId> = page.items.iter().map(|s| s.user_id).collect();
    let names = crate::schedules::user_names(&*state.store, ids).await?;
    for s in &mut page.items {
        s.name = names.get(&s.user_id).cloned().unwrap_or_default();
    }
    Ok(Json(page))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Subscribe {
    /// Who follows; the caller when absent.
    pub user_id: Option<String>,
}

/// Follows the incident: its stakeholder updates come by e-mail, webhook or chat. Anyone may
/// follow; adding someone else needs the responder role. 201 with the follower.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/subscribers", tag = "incidents", request_body = Subscribe,
    params(("id" = String, Path, description = "Incident id")),
    responses((status = 201, body = SubscriberOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn subscribe(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Subscribe>,
) -> ApiResult<(StatusCode, Json<SubscriberOut>)> {
    let me = caller.user.id.to_string();
    let user = body.user_id.unwrap_or_else(|| me.clone());
    caller.require(if user == me {
        Role::Viewer
    } else {
        Role::Responder
    })?;
    let id = parse_id::<IncidentId>(&id, "incident")?;
    subscribe_with(&state, Who::caller(&caller), id, &user, true).await?;
    // Parsed above, or following would have been refused.
    let user = parse_id::<UserId>(&user, "user_id")?;
    let names = crate::schedules::user_names(&*state.store, vec![user]).await?;
    Ok((
        StatusCode::CREATED,
        Json(SubscriberOut {
            id: user,
            user_id: user,
            name: names.get(&user).cloned().unwrap_or_default(),
        }),
    ))
}

/// Stops following (yourself as a viewer; anyone as a responder).
#[utoipa::path(delete, path = "/api/v1/incidents/{id}/subscribers/{user_id}", tag = "incidents",
    params(("id" = String, Path, description = "Incident id"), ("user_id" = String, Path, description = "User id")),
    responses((status = 200, body = IncidentOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn unsubscribe(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, user)): Path<(String, String)>,
) -> ApiResult<Json<IncidentOut>> {
    caller.require(if user == caller.user.id.to_string() {
        Role::Viewer
    } else {
        Role::Responder
    })?;
    let id = parse_id::<IncidentId>(&id, "incident")?;
    Ok(Json(
        subscribe_with(&state, Who::caller(&caller), id, &user, false)
            .await?
            .into(),
    ))
}

/// Posts a stakeholder update to the incident's followers (responder). 201 with the update:
/// the `incident.update_posted` timeline event.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/updates", tag = "incidents", request_body = PostUpdate,
    params(("id" = String, Path, description = "Incident id")),
    responses((status = 201, body = EventOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn post_update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PostUpdate>,
) -> ApiResult<(StatusCode, Json<EventOut>)> {
    caller.require(Role::Responder)?;
    let id = parse_id::<IncidentId>(&id, "incident")?;
    let e = post_update_event_with(&state, Who::caller(&caller), id, body).await?;
    Ok((StatusCode::CREATED, Json(e.into())))
}

// --- tasks --------------------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: TaskId,
    #[schema(value_type = String, format = Uuid)]
    pub incident_id: IncidentId,
    pub title: String,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub assignee_id: Option<UserId>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub due_at: Option<Timestamp>,
    pub done: bool,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub done_at: Option<Timestamp>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl From<IncidentTask> for TaskOut {
    fn from(t: IncidentTask) -> Self {
        Self {
            id: t.id,
            incident_id: t.incident_id,
            title: t.title,
            assignee_id: t.assignee_id,
            due_at: t.due_at,
            done: t.done_at.is_some(),
            done_at: t.done_at,
            created_at: t.created_at,
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTask {
    pub title: String,
    pub assignee_id: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub due_at: Option<Timestamp>,
}

/// What to change on a task; absent fields stay, null clears.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskUpdate {
    pub title: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub assignee_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub due_at: Option<Option<Timestamp>>,
    pub done: Option<bool>,
}

/// The change to one task, decided on the incident's current state.
enum TaskChange {
    Add(IncidentTask),
    Update {
        id: TaskId,
        title: Option<String>,
        assignee: Option<Option<UserId>>,
        due_at: Option<Option<Timestamp>>,
        done: Option<bool>,
    },
    Remove(TaskId),
}

/// Applies one task change under the incident's lock; the task as it now is (none once removed).
async fn task_change(
    state: &AppState,
    who: Who,
    id: IncidentId,
    what: TaskChange,
) -> ApiResult<Option<IncidentTask>> {
    let now = state.clock.now();
    let wanted = match &what {
        TaskChange::Add(t) => t.id,
        TaskChange::Update { id, .. } | TaskChange::Remove(id) => *id,
    };
    let edit: IncidentEdit = Box::new(move |snap: &IncidentSnapshot| {
        if snap.incident.status == IncidentStatus::Closed {
            return Err(Refusal::conflict(
                "status",
                "a closed incident's tasks are final",
            ));
        }
        let mut c = IncidentChange::of(snap, now, who.actor);
        let find = |tid: TaskId| {
            snap.tasks
                .iter()
                .find(|t| t.id == tid)
                .cloned()
                .ok_or(Refusal::NotFound("task"))
        };
        match what {
            TaskChange::Add(mut t) => {
                // Tasks list oldest first: one added in the same millisecond as the last
                // goes a millisecond after it.
                if let Some(last) = snap.tasks.iter().map(|x| x.created_at).max()
                    && t.created_at <= last
                {
                    t.created_at = last
                        .checked_add(jiff::SignedDuration::from_millis(1))
                        .unwrap_or(last);
                }
                c.events.push(ev(
                    c.incident.id,
                    now,
                    who,
                    EventKind::IncidentTaskAdded,
                    json!({"task_id": t.id, "title": t.title, "user_id": t.assignee_id, "due_at": t.due_at}),
                ));
                c.tasks.push(t);
            }
            TaskChange::Update {
                id: tid,
                title,
                assignee,
                due_at,
                done,
            } => {
                let old = find(tid)?;
                let mut t = old.clone();
                let mut changes = serde_json::Map::new();
                use crate::timeline::set_noting as set;
                set(&mut changes, "title", &mut t.title, title);
                set(&mut changes, "assignee", &mut t.assignee_id, assignee);
                set(&mut changes, "due", &mut t.due_at, due_at);
                let base = json!({"task_id": t.id, "title": t.title, "user_id": t.assignee_id});
                if !changes.is_empty() {
                    let mut data = base.clone();
                    data["changes"] = Value::Object(changes);
                    c.events.push(ev(
                        c.incident.id,
                        now,
                        who,
                        EventKind::IncidentTaskUpdated,
                        data,
                    ));
                }
                match (done, old.done_at.is_some()) {
                    (Some(true), false) => {
                        t.done_at = Some(now);
                        t.done_by = Some(who.actor);
                        c.events.push(ev(
                            c.incident.id,
                            now,
                            who,
                            EventKind::IncidentTaskDone,
                            base,
                        ));
                    }
                    (Some(false), true) => {
                        t.done_at = None;
                        t.done_by = None;
                        c.events.push(ev(
                            c.incident.id,
                            now,
                            who,
                            EventKind::IncidentTaskReopened,
                            base,
                        ));
                    }
                    _ => {}
                }
                c.tasks.push(t);
            }
            TaskChange::Remove(tid) => {
                let old = find(tid)?;
                c.removed_tasks.push(tid);
                c.events.push(ev(
                    c.incident.id,
                    now,
                    who,
                    EventKind::IncidentTaskRemoved,
                    json!({"task_id": tid, "title": old.title}),
                ));
            }
        }
        Ok(c)
    });
    change(state, id, edit).await?;
    let tasks = state.store.incident_tasks(id).await?;
    Ok(tasks.into_iter().find(|t| t.id == wanted))
}

async fn task_assignee(state: &AppState, raw: Option<&str>) -> ApiResult<Option<UserId>> {
    match raw.filter(|s| !s.is_empty()) {
        Some(u) => existing_user(state, "assignee_id", u).await.map(Some),
        None => Ok(None),
    }
}

/// Adds a task to an incident.
pub async fn add_task_with(
    state: &AppState,
    who: Who,
    id: IncidentId,
    t: NewTask,
) -> ApiResult<IncidentTask> {
    let title = rules::parse_title("title", &t.title, rules::TITLE_MAX)?;
    let assignee = task_assignee(state, t.assignee_id.as_deref()).await?;
    let now = state.clock.now();
    let task = IncidentTask {
        id: TaskId::new(now, random_bytes()),
        incident_id: id,
        title,
        assignee_id: assignee,
        due_at: t.due_at.map(ms),
        done_at: None,
        done_by: None,
        created_at: now,
        created_by: who.actor,
    };
    task_change(state, who, id, TaskChange::Add(task))
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("the new task was not stored")))
}

/// Changes a task: its title, assignee, due time, or whether it is done.
pub async fn update_task_with(
    state: &AppState,
    who: Who,
    id: IncidentId,
    task: &str,
    u: TaskUpdate,
) -> ApiResult<IncidentTask> {
    let tid = parse_id::<TaskId>(task, "task").map_err(|_| ApiError::not_found("task"))?;
    let title = u
        .title
        .as_deref()
        .map(|t| rules::parse_title("title", t, rules::TITLE_MAX))
        .transpose()?;
    let assignee = match u.assignee_id {
        None => None,
        Some(a) => Some(task_assignee(state, a.as_deref()).await?),
    };
    let change = TaskChange::Update {
        id: tid,
        title,
        assignee,
        due_at: u.due_at.map(|d| d.map(ms)),
        done: u.done,
    };
    task_change(state, who, id, change)
        .await?
        .ok_or_else(|| ApiError::not_found("task"))
}

pub async fn remove_task_with(
    state: &AppState,
    who: Who,
    id: IncidentId,
    task: &str,
) -> ApiResult<()> {
    let tid = parse_id::<TaskId>(task, "task").map_err(|_| ApiError::not_found("task"))?;
    task_change(state, who, id, TaskChange::Remove(tid))
        .await
        .map(|_| ())
}

/// The incident's tasks, oldest first.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/tasks", tag = "incidents",
    params(("id" = String, Path, description = "Incident id"), PageParams),
    responses((status = 200, body = ListOf<TaskOut>), (status = 404, body = ErrorBody)))]
async fn list_tasks(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<PageParams>,
) -> ApiResult<Json<ListOf<TaskOut>>> {
    caller.require(Role::Viewer)?;
    let id = parse_id::<IncidentId>(&id, "incident")?;
    let tasks = state
        .store
        .incident_tasks(id)
        .await
        .map_err(ApiError::or_not_found("incident"))?;
    Ok(Json(page_in_memory("tasks", tasks, &p, Into::into)?))
}

/// Adds a task (responder). 201 with the task.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/tasks", tag = "incidents", request_body = NewTask,
    params(("id" = String, Path, description = "Incident id")),
    responses((status = 201, body = TaskOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn add_task(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewTask>,
) -> ApiResult<(StatusCode, Json<TaskOut>)> {
    caller.require(Role::Responder)?;
    let id = parse_id::<IncidentId>(&id, "incident")?;
    let t = add_task_with(&state, Who::caller(&caller), id, body).await?;
    Ok((StatusCode::CREATED, Json(t.into())))
}

/// Changes a task, or marks it done (`{"done": true}`) (responder).
#[utoipa::path(patch, path = "/api/v1/incidents/{id}/tasks/{task_id}", tag = "incidents", request_body = TaskUpdate,
    params(("id" = String, Path, description = "Incident id"), ("task_id" = String, Path, description = "Task id")),
    responses((status = 200, body = TaskOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn update_task(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, task)): Path<(String, String)>,
    ApiJson(body): ApiJson<TaskUpdate>,
) -> ApiResult<Json<TaskOut>> {
    caller.require(Role::Responder)?;
    let id = parse_id::<IncidentId>(&id, "incident")?;
    let t = update_task_with(&state, Who::caller(&caller), id, &task, body).await?;
    Ok(Json(t.into()))
}

/// Removes a task (responder).
#[utoipa::path(delete, path = "/api/v1/incidents/{id}/tasks/{task_id}", tag = "incidents",
    params(("id" = String, Path, description = "Incident id"), ("task_id" = String, Path, description = "Task id")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn remove_task(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, task)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Responder)?;
    let id = parse_id::<IncidentId>(&id, "incident")?;
    remove_task_with(&state, Who::caller(&caller), id, &task).await?;
    Ok(StatusCode::NO_CONTENT)
}

// --- the timeline -------------------------------------------------------------------------------

/// Every event of an incident, oldest first (incidents have hundreds, not millions).
pub async fn all_events(state: &AppState, id: IncidentId) -> ApiResult<Vec<Event>> {
    let subject = id.to_string();
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = state
            .store
            .events(SubjectType::Incident, &subject, after, 1000)
            .await?;
        let n = page.len();
        after = page.last().map(|e| e.seq).or(after);
        out.extend(page);
        if n < 1000 || out.len() >= 100_000 {
            return Ok(out);
        }
    }
}

/// Which timeline entries to show: by kind (exact names or a prefix ending in `.`, e.g.
/// `notification.`) and pinned only.
#[derive(Debug, Clone, Default)]
pub struct TimelineFilter {
    pub kinds: KindFilter,
    pub pinned: bool,
}

impl TimelineFilter {
    pub fn parse(kinds: Option<&str>, pinned: bool) -> ApiResult<Self> {
        Ok(Self {
            kinds: KindFilter::parse_list("kind", kinds)?,
            pinned,
        })
    }

    pub fn keeps(&self, e: &Event) -> bool {
        (!self.pinned || e.pinned) && self.kinds.matches(e.kind)
    }
}

/// Names of the users an incident's events and roles mention, for people to read. An API
/// token acting (the API, the CLI) is named by the person it belongs to, keyed by its id.
pub async fn names(
    state: &AppState,
    events: &[Event],
    extra: &[UserId],
) -> BTreeMap<String, String> {
    let mut ids: Vec<UserId> = extra.to_vec();
    let mut tokens = Vec::new();
    for e in events {
        match e.actor {
            Actor::User(u) => ids.push(u),
            Actor::Token(t) => tokens.push(t),
            Actor::System => {}
        }
        if let Some(u) = e
            .data
            .get("user_id")
            .and_then(|v| v.as_str())
            .and_then(|s| s.parse().ok())
        {
            ids.push(u);
        }
        // Changes of a person-valued field (assignee, reporter) name people too.
        if let Some(changes) = e.data.get("changes").and_then(|c| c.as_object()) {
            for v in changes.values() {
                for end in ["from", "to"] {
                    if let Some(u) = v[end].as_str().and_then(|s| s.parse().ok()) {
                        ids.push(u);
                    }
                }
            }
        }
    }
    tokens.sort();
    tokens.dedup();
    let mut owners = Vec::new();
    for t in tokens {
        if let Ok(token) = state.store.token(t).await {
            ids.push(token.user_id);
            owners.push((t, token.user_id));
        }
    }
    ids.sort();
    ids.dedup();
    let mut out: BTreeMap<String, String> = crate::schedules::user_names(state.store.as_ref(), ids)
        .await
        .inspect_err(|e| tracing::warn!(error = %e, "cannot read user names: showing ids"))
        .unwrap_or_default()
        .into_iter()
        .map(|(id, name)| (id.to_string(), name))
        .collect();
    for (t, u) in owners {
        if let Some(name) = out.get(&u.to_string()).cloned() {
            out.insert(t.to_string(), name);
        }
    }
    out
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    pub kind: Option<String>,
    pub pinned: Option<bool>,
}

/// The incident as Markdown: its summary, milestones, roles and timeline, for a postmortem or
/// a ticket.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/timeline.md", tag = "incidents",
    params(("id" = String, Path, description = "Incident id"), ExportParams),
    responses((status = 200, content_type = "text/markdown", body = String), (status = 404, body = ErrorBody)))]
async fn export_timeline(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<ExportParams>,
) -> ApiResult<Response> {
    caller.require(Role::Viewer)?;
    let id = parse_id::<IncidentId>(&id, "incident")?;
    let filter = TimelineFilter::parse(p.kind.as_deref(), p.pinned.unwrap_or(false))?;
    let md = markdown(&state, id, &filter).await?;
    Ok(([(header::CONTENT_TYPE, "text/markdown; charset=utf-8")], md).into_response())
}

pub async fn markdown(
    state: &AppState,
    id: IncidentId,
    filter: &TimelineFilter,
) -> ApiResult<String> {
    let i = state
        .store
        .incident(id)
        .await
        .map_err(ApiError::or_not_found("incident"))?;
    let roles = state.store.incident_roles(id, true).await?;
    let events = all_events(state, id).await?;
    let mut people: Vec<UserId> = roles.iter().map(|r| r.user_id).collect();
    people.extend(i.reporter_id);
    let names = names(state, &events, &people).await;
    let name = |u: &UserId| {
        names
            .get(&u.to_string())
            .cloned()
            .unwrap_or_else(|| u.to_string())
    };
    let ts = |t: Timestamp| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string();
    let mut md = format!("# Incident #{}: {}\n\n", i.number, i.title);
    let opt = |v: Option<String>| v.unwrap_or_else(|| "—".into());
    md.push_str(&format!(
        "| | |\n|---|---|\n| Status | {} |\n| Severity | {} |\n| Priority | {} |\n| Impact / urgency | {} / {} |\n| Category | {} |\n| Reporter | {} |\n\n",
        i.status,
        opt(i.severity.map(|s| s.to_string())),
        opt(i.priority.map(|s| s.to_string())),
        opt(i.impact.map(|s| s.to_string())),
        i.urgency,
        opt(match (&i.category, &i.subcategory) {
            (Some(c), Some(s)) => Some(format!("{c} / {s}")),
            (c, _) => c.clone(),
        }),
        opt(i.reporter_id.as_ref().map(name)),
    ));
    if !i.description.is_empty() {
        md.push_str(&format!("{}\n\n", i.description));
    }
    md.push_str("## Milestones\n\n");
    let m = i.milestones();
    for n in MILESTONES {
        if let Some(at) = m.get(n) {
            md.push_str(&format!(
                "- {}: {}\n",
                crate::timeline::milestone_label(n),
                ts(at)
            ));
        }
    }
    md.push_str("\n## Roles\n\n");
    if roles.is_empty() {
        md.push_str("Nobody held a role.\n");
    }
    for r in &roles {
        let label = state
            .incident_rules
            .roles
            .get(&r.role)
            .map_or(r.role.as_str(), |d| d.name.as_str());
        let until = r.ended_at.map_or_else(|| "now".to_owned(), ts);
        md.push_str(&format!(
            "- {label}: {} ({} – {until})\n",
            name(&r.user_id),
            ts(r.assigned_at)
        ));
    }
    md.push_str("\n## Timeline\n\n");
    for e in events.iter().filter(|e| filter.keeps(e)) {
        let who = crate::timeline::actor_name(&e.actor, &names);
        let pin = if e.pinned { " 📌" } else { "" };
        md.push_str(&format!(
            "- **{}** {who}: {}{pin}\n",
            ts(e.at),
            crate::timeline::describe(e, &names, &state.incident_rules).replace('\n', "\n  ")
        ));
    }
    Ok(md)
}

// --- settings -----------------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct SeverityOut {
    pub severity: String,
    pub definition: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentSettingsOut {
    pub severities: Vec<SeverityOut>,
    /// Rows: impact high, medium, low; columns: urgency high, medium, low.
    pub priority_matrix: Vec<Vec<String>>,
    #[schema(value_type = Vec<Object>)]
    pub roles: Vec<rules::RoleDef>,
    /// Ready-made stakeholder updates: key, name, text with {number}, {title}, {status},
    /// {severity}.
    #[schema(value_type = Vec<Object>)]
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
