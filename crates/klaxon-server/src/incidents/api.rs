//! Incident response: declaring incidents, their fields, lifecycle, milestones, roles, notes
//! and pins. Each operation is one `*_with` function shared by the API and the web UI (the CLI
//! goes through the API); the rules are the domain's, checked inside the store's lock.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use jiff::Timestamp;
use klaxon_domain::alert::{AlertStatus, Urgency};
use klaxon_domain::auth::Role;
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{IncidentId, RoleAssignmentId, UserId};
use klaxon_domain::incident::{
    self as rules, COMMANDER, Impact, IncidentStatus, MILESTONES, Refusal, Severity,
};
use klaxon_store::{
    Incident, IncidentChange, IncidentEdit, IncidentSnapshot, NewIncident, RoleAssignment,
    escalation_job,
};
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::incidents::list::IncidentOut;
use crate::shared::api::{ApiJson, Caller};
use crate::shared::crypto::random_bytes;
use crate::shared::error::{ApiError, ApiResult, ErrorBody};
use crate::shared::state::AppState;
use crate::shared::terms::{self, At};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(declare_incident))
        .routes(routes!(update_incident))
        .routes(routes!(change_status))
        .routes(routes!(edit_milestones))
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
pub(super) fn ms(t: Timestamp) -> Timestamp {
    klaxon_domain::clock::from_millis(klaxon_domain::clock::to_millis(t))
}

pub(super) fn ev(
    id: IncidentId,
    at: Timestamp,
    who: Who,
    kind: EventKind,
    data: Value,
) -> NewEvent {
    NewEvent::new(SubjectType::Incident, id, at, who.actor, kind, data)
}

pub(super) fn new_role(
    id: IncidentId,
    role: &str,
    user: UserId,
    at: Timestamp,
    who: Who,
) -> RoleAssignment {
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
pub(super) async fn change(
    state: &AppState,
    id: IncidentId,
    edit: IncidentEdit,
) -> ApiResult<Incident> {
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
pub(super) async fn existing_user(state: &AppState, field: &str, id: &str) -> ApiResult<UserId> {
    let user = terms::user(state, id, At::Field(field)).await?;
    crate::people::manage::active_user(state, field, user).await?;
    Ok(user)
}

/// Makes `who` the commander of a major incident that has none, or refuses when nobody is
/// behind the change.
pub(super) fn ensure_commander(
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
pub(super) fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Declare {
    #[schema(
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub title: String,
    /// `SEV1` .. `SEV4` (any case); see `GET /api/v1/incident-settings` for what each means
    /// here.
    #[schema(value_type = klaxon_domain::incident::Severity)]
    pub severity: String,
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub description: String,
    /// From the severity when absent.
    #[schema(value_type = Option<klaxon_domain::incident::Impact>)]
    pub impact: Option<String>,
    /// From the severity when absent. Medium and high page now.
    #[schema(value_type = Option<klaxon_domain::alert::Urgency>)]
    pub urgency: Option<String>,
    /// Blank means none.
    #[schema(max_length = 80)]
    pub category: Option<String>,
    #[schema(max_length = 80)]
    pub subcategory: Option<String>,
    /// The affected service, by id or name: its escalation policy is paged.
    #[schema(schema_with = crate::shared::api::nullable_id_or_empty)]
    pub service_id: Option<String>,
    /// Who reported it (confirms closure), by id or e-mail address; the caller when absent.
    #[schema(schema_with = crate::shared::api::nullable_id_or_empty)]
    pub reporter_id: Option<String>,
    /// The incident commander from the start, by id or e-mail address.
    #[schema(schema_with = crate::shared::api::nullable_id_or_empty)]
    pub commander_id: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub impact_started_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub detected_at: Option<Timestamp>,
    /// The conference bridge responders join (http or https); blank means none.
    #[schema(
        max_length = 2000,
        pattern = r"^\s*(https?://[^/\s\u0000-\u001f\u007f-\u009f]\S*)?\s*$"
    )]
    pub conference_url: Option<String>,
    /// The chat channel where the incident is worked (http or https); blank means none.
    #[schema(
        max_length = 2000,
        pattern = r"^\s*(https?://[^/\s\u0000-\u001f\u007f-\u009f]\S*)?\s*$"
    )]
    pub chat_url: Option<String>,
}

/// Declares an incident by hand. With a service that has an escalation policy it starts
/// triggered and pages; otherwise the declarer is on it and it starts acknowledged.
pub async fn declare_with(state: &AppState, who: Who, d: Declare) -> ApiResult<Incident> {
    declare_as(state, who, d, None).await
}

/// Makes a declared incident a drill's: given the incident's id and the time, the drill.
pub type DrillOf = Box<dyn FnOnce(IncidentId, Timestamp) -> klaxon_store::NewDrill + Send>;

/// Declares an incident, a drill's when `drill` says so: the incident is then marked a drill
/// ("DRILL: " in its title, kept out of metrics) and the drill written with it.
pub async fn declare_as(
    state: &AppState,
    who: Who,
    d: Declare,
    drill: Option<DrillOf>,
) -> ApiResult<Incident> {
    let rules = &state.incident_rules;
    let title = rules::parse_title("title", &d.title, rules::TITLE_MAX)?;
    let title = klaxon_domain::drill::marked_title(&title, drill.is_some());
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
            let id = terms::service(state, s, At::Field("service_id")).await?;
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
        is_drill: drill.is_some(),
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
    let drill = drill.map(|f| f(id, now));
    if let Some(d) = &drill {
        events.push(ev(
            id,
            now,
            who,
            EventKind::DrillStarted,
            json!({"drill_id": d.drill.id, "scenario": d.drill.scenario_name}),
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
            drill,
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
    #[schema(
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub title: Option<String>,
    #[schema(max_length = 20000)]
    pub description: Option<String>,
    /// `SEV1` .. `SEV4` (any case).
    #[schema(value_type = Option<klaxon_domain::incident::Severity>)]
    pub severity: Option<String>,
    #[schema(value_type = Option<klaxon_domain::incident::Impact>)]
    pub impact: Option<String>,
    #[schema(value_type = Option<klaxon_domain::alert::Urgency>)]
    pub urgency: Option<String>,
    /// null clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 80)]
    pub category: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 80)]
    pub subcategory: Option<Option<String>>,
    /// The reporter, by id or e-mail address; null clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = crate::shared::api::nullable_id_or_empty)]
    pub reporter_id: Option<Option<String>>,
    /// null clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 2000, pattern = r"^\s*(https?://[^/\s\u0000-\u001f\u007f-\u009f]\S*)?\s*$")]
    pub conference_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 2000, pattern = r"^\s*(https?://[^/\s\u0000-\u001f\u007f-\u009f]\S*)?\s*$")]
    pub chat_url: Option<Option<String>>,
    /// A drill (practice) is kept out of every insight and metric.
    pub is_drill: Option<bool>,
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
    let is_drill = u.is_drill;
    // A drill's incident stays one while its drill is kept: unflagged, it would count in
    // the metrics and could reach a status page.
    if is_drill == Some(false) && state.store.drill_of_incident(id).await?.is_some() {
        return Err(ApiError::invalid(
            "is_drill",
            "this incident is a drill's (see /drills): it stays a drill",
        ));
    }
    // Whether an incident was a drill is often said after it closed: that alone may change.
    let only_drill = is_drill.is_some()
        && title.is_none()
        && description.is_none()
        && severity.is_none()
        && impact.is_none()
        && urgency.is_none()
        && category.is_none()
        && subcategory.is_none()
        && reporter.is_none()
        && conference_url.is_none()
        && chat_url.is_none();
    let matrix = state.incident_rules.matrix;
    let now = state.clock.now();
    let edit: IncidentEdit = Box::new(move |snap: &IncidentSnapshot| {
        let old = &snap.incident;
        if old.status == IncidentStatus::Closed && !only_drill {
            return Err(Refusal::conflict(
                "status",
                "a closed incident cannot be changed",
            ));
        }
        let mut c = IncidentChange::of(snap, now, who.actor);
        let i = &mut c.incident;
        let mut changes = serde_json::Map::new();
        use crate::shared::changes::set_noting as set;
        // A drill's title says so, whoever edits it; one that stops being a drill loses the mark.
        let drill_now = is_drill.unwrap_or(i.is_drill);
        let title =
            klaxon_domain::drill::marked_title(title.as_deref().unwrap_or(&i.title), drill_now);
        set(&mut changes, "title", &mut i.title, Some(title));
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
        set(&mut changes, "is_drill", &mut i.is_drill, is_drill);
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
    params(("id" = String, Path, description = terms::doc::INCIDENT, min_length = 1)),
    responses((status = 200, body = IncidentOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn update_incident(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Update>,
) -> ApiResult<Json<IncidentOut>> {
    caller.require(Role::Responder)?;
    let id = terms::incident(&state, &id, At::Path("id")).await?;
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
    #[schema(value_type = klaxon_domain::incident::IncidentStatus)]
    pub status: String,
    /// Why: required when an admin closes without the reporter's confirmation.
    #[schema(max_length = 20000)]
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
    move_from_with(state, who, id, &[], to, reason).await
}

/// [`move_with`], refused (409, `status`: "the incident is already …") unless the incident is in
/// one of `only_from` (any status when empty) when the change is made: acknowledging many at
/// once must not reopen one resolved meanwhile, nor take a mitigated one back.
pub async fn move_from_with(
    state: &AppState,
    who: Who,
    id: IncidentId,
    only_from: &'static [IncidentStatus],
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
        if !only_from.is_empty() && !only_from.contains(&from) {
            return Err(Refusal::conflict(
                "status",
                format!("the incident is already {from}"),
            ));
        }
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
    params(("id" = String, Path, description = terms::doc::INCIDENT, min_length = 1)),
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
    let id = terms::incident(&state, &id, At::Path("id")).await?;
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
    params(("id" = String, Path, description = terms::doc::INCIDENT, min_length = 1)),
    responses((status = 200, body = IncidentOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn edit_milestones(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<MilestoneEdit>,
) -> ApiResult<Json<IncidentOut>> {
    caller.require(Role::Responder)?;
    let id = terms::incident(&state, &id, At::Path("id")).await?;
    let i = milestones_with(&state, Who::caller(&caller), id, body.into_list()).await?;
    Ok(Json(i.into()))
}
