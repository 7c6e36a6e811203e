//! `/api/v1/postmortems`: one postmortem per resolved incident, written, reviewed and
//! published. The `*_with` functions are shared with the web pages.
use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use jiff::Timestamp;
use klaxon_domain::auth::Role;
use klaxon_domain::event::{EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{IncidentId, PostmortemCommentId, PostmortemId, UserId};
use klaxon_domain::incident::Refusal;
use klaxon_domain::postmortem::{
    self as rules, Asker, Comment, FactorKind, Postmortem, PostmortemRules, PostmortemState,
    Reviewer,
};
use klaxon_store::{PostmortemEdit, PostmortemFilter, StoreError};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::facts::{Facts, facts, live};
use crate::incidents::api::Who;
use crate::shared::api::{ApiJson, ApiQuery, Caller};
use crate::shared::crypto::random_bytes;
use crate::shared::error::{ApiError, ApiResult, ErrorBody};
use crate::shared::state::AppState;
use crate::shared::terms::{self, At};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_postmortems, create_postmortem))
        .routes(routes!(get_postmortem, update_postmortem))
        .routes(routes!(select_timeline))
        .routes(routes!(add_comment))
        .routes(routes!(submit_postmortem))
        .routes(routes!(approve_postmortem))
        .routes(routes!(draft_postmortem))
        .routes(routes!(publish_postmortem))
        .routes(routes!(export_postmortem))
        .merge(super::public::router())
}

/// The rules the configuration sets (checked when the settings were loaded).
pub fn rules_of(state: &AppState) -> PostmortemRules {
    state.settings.postmortems.rules().unwrap_or_default()
}

// --- answers ------------------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct SectionOut {
    pub key: String,
    pub title: String,
    pub help: String,
    pub body: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FactorOut {
    pub kind: FactorKind,
    pub text: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewerOut {
    #[schema(value_type = String, format = Uuid)]
    pub user_id: UserId,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub approved_at: Option<Timestamp>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CommentOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: PostmortemCommentId,
    pub section: String,
    #[schema(value_type = String, format = Uuid)]
    pub author_id: UserId,
    pub body: String,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PostmortemOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: PostmortemId,
    #[schema(value_type = String, format = Uuid)]
    pub incident_id: IncidentId,
    pub state: PostmortemState,
    /// Whether the configuration requires one for the incident's severity.
    pub required: bool,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub owner_id: Option<UserId>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub due_at: Option<Timestamp>,
    /// The template's sections, in order, with what has been written.
    pub sections: Vec<SectionOut>,
    pub factors: Vec<FactorOut>,
    pub reviewers: Vec<ReviewerOut>,
    pub comments: Vec<CommentOut>,
    /// Filled in from the incident: current until published, then as they were.
    pub facts: Facts,
    /// TTD, TTA, TTM, TTR and the whole duration, from the facts' milestones
    /// (docs/learning.md); "not applicable" where a milestone is missing.
    pub durations: klaxon_domain::learning::Durations,
    /// The incident's action items that are still open or in progress.
    pub open_action_items: Vec<OpenActionItem>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub published_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub published_by: Option<UserId>,
    pub publish_reason: Option<String>,
    /// What customers read once it is attached to the status page (empty: none written).
    pub public_summary: String,
    /// The public incidents telling customers about the incident, and whether each shows it.
    pub public_incidents: Vec<super::public::PublicIncidentOut>,
}

/// An action item the postmortem lists as not done yet.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OpenActionItem {
    #[schema(value_type = String, format = Uuid)]
    pub id: klaxon_domain::ids::ActionItemId,
    pub title: String,
    pub priority: bool,
    /// `open` or `in_progress`.
    pub state: String,
    #[schema(value_type = String, format = DateTime)]
    pub due_at: Timestamp,
}

/// The incident's items not done yet, soonest due first.
async fn open_items(state: &AppState, incident: IncidentId) -> ApiResult<Vec<OpenActionItem>> {
    let f = klaxon_store::ActionItemFilter {
        incident: Some(incident),
        ..Default::default()
    };
    Ok(state
        .store
        .list_action_items(&f, None, 500)
        .await?
        .items
        .into_iter()
        .filter(|r| r.item.state.is_open())
        .map(|r| OpenActionItem {
            id: r.item.id,
            title: r.item.title,
            priority: r.item.priority,
            state: r.item.state.as_str().into(),
            due_at: r.item.due_at,
        })
        .collect())
}

/// A postmortem with its facts, as the API and pages show it.
pub async fn out(state: &AppState, pm: Postmortem) -> ApiResult<PostmortemOut> {
    let rules = rules_of(state);
    let facts = facts(state, &pm).await?;
    let durations = klaxon_domain::learning::durations(&facts.incident.milestones);
    let open_action_items = open_items(state, pm.incident_id).await?;
    let public_incidents = super::public::public_incidents(state, pm.incident_id).await?;
    let mut sections: Vec<SectionOut> = rules
        .sections
        .iter()
        .map(|d| SectionOut {
            key: d.key.clone(),
            title: d.title.clone(),
            help: d.help.clone(),
            body: pm.sections.get(&d.key).cloned().unwrap_or_default(),
        })
        .collect();
    // Text under a section the template no longer has is still shown.
    for (k, body) in &pm.sections {
        if rules.section(k).is_none() {
            sections.push(SectionOut {
                key: k.clone(),
                title: k.replace('_', " "),
                help: String::new(),
                body: body.clone(),
            });
        }
    }
    Ok(PostmortemOut {
        durations,
        open_action_items,
        id: pm.id,
        incident_id: pm.incident_id,
        state: pm.state,
        required: rules.required(facts.incident.severity),
        owner_id: pm.owner_id,
        due_at: pm.due_at,
        sections,
        factors: pm
            .factors
            .iter()
            .map(|f| FactorOut {
                kind: f.kind,
                text: f.text.clone(),
            })
            .collect(),
        reviewers: pm
            .reviewers
            .iter()
            .map(|r| ReviewerOut {
                user_id: r.user_id,
                approved_at: r.approved_at,
            })
            .collect(),
        comments: pm
            .comments
            .iter()
            .map(|c| CommentOut {
                id: c.id,
                section: c.section.clone(),
                author_id: c.author_id,
                body: c.body.clone(),
                at: c.at,
            })
            .collect(),
        facts,
        created_at: pm.created_at,
        updated_at: pm.updated_at,
        published_at: pm.published_at,
        published_by: pm.published_by,
        publish_reason: pm.publish_reason,
        public_summary: pm.public_summary,
        public_incidents,
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PostmortemRow {
    #[schema(value_type = String, format = Uuid)]
    pub id: PostmortemId,
    #[schema(value_type = String, format = Uuid)]
    pub incident_id: IncidentId,
    pub incident_number: i64,
    pub incident_title: String,
    pub severity: Option<klaxon_domain::incident::Severity>,
    pub state: PostmortemState,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub owner_id: Option<UserId>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub due_at: Option<Timestamp>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub published_at: Option<Timestamp>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PostmortemList {
    pub items: Vec<PostmortemRow>,
}

// --- input --------------------------------------------------------------------------------------

fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPostmortem {
    /// The incident: its id or number.
    #[schema(min_length = 1)]
    pub incident_id: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FactorIn {
    /// `trigger`, `contributing` or `mitigating`.
    pub kind: String,
    #[schema(max_length = 2000)]
    pub text: String,
}

/// What to change; absent fields stay, null clears.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostmortemUpdate {
    /// Section key → its text (empty clears it).
    pub sections: Option<BTreeMap<String, String>>,
    /// The whole list of contributing factors, in order.
    pub factors: Option<Vec<FactorIn>>,
    /// A user id or e-mail address.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub owner_id: Option<Option<String>>,
    /// The whole list of reviewers: user ids or e-mail addresses.
    pub reviewers: Option<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub due_at: Option<Option<Timestamp>>,
    /// The customer-facing summary for the status page (empty clears it).
    #[schema(max_length = 10000)]
    pub public_summary: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SelectionIn {
    /// The incident event's sequence number.
    pub seq: i64,
    pub include: bool,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub note: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TimelineSelection {
    pub entries: Vec<SelectionIn>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewComment {
    /// The section's key.
    pub section: String,
    #[schema(min_length = 1, max_length = 10000)]
    pub body: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishIn {
    /// An admin publishing without the owner's approved review says why.
    #[schema(max_length = 1000)]
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// `draft`, `in_review` or `published`.
    pub state: Option<String>,
    /// Text in the incident's title or a section.
    pub q: Option<String>,
    /// 1–500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

// --- operations ---------------------------------------------------------------------------------

fn asker(who: Who) -> Asker {
    Asker {
        user: who.user,
        admin: who.admin,
    }
}

fn ev(pm: &Postmortem, at: Timestamp, who: Who, kind: EventKind, mut data: Value) -> NewEvent {
    data["postmortem_id"] = json!(pm.id);
    NewEvent::new(
        SubjectType::Incident,
        pm.incident_id,
        at,
        who.actor,
        kind,
        data,
    )
}

/// A postmortem by its id, or by its incident's id or number.
pub async fn find(state: &AppState, raw: &str) -> ApiResult<Postmortem> {
    if let Ok(id) = raw.parse::<PostmortemId>() {
        match state.store.postmortem(id).await {
            Ok(p) => return Ok(p),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
    }
    let incident = terms::incident(state, raw, At::Path("id")).await?;
    state
        .store
        .postmortem_of_incident(incident)
        .await?
        .ok_or_else(|| ApiError::not_found("postmortem"))
}

/// Starts the postmortem of a resolved incident: its due date from the severity, the caller
/// as owner. 409 while the incident is open or when it has one.
pub async fn create_with(
    state: &AppState,
    who: Who,
    incident: IncidentId,
) -> ApiResult<Postmortem> {
    let i = state
        .store
        .incident(incident)
        .await
        .map_err(ApiError::or_not_found("incident"))?;
    if i.status.is_open() {
        return Err(ApiError::Conflict {
            message: "incident_id: the incident is not resolved yet".into(),
            field: Some("incident_id".into()),
        });
    }
    let now = state.clock.now();
    let due_at = i
        .resolved_at
        .and_then(|r| rules_of(state).due_at(i.severity, r));
    let pm = Postmortem {
        id: PostmortemId::new(now, random_bytes()),
        incident_id: incident,
        state: PostmortemState::Draft,
        owner_id: who.user,
        due_at,
        sections: BTreeMap::new(),
        factors: Vec::new(),
        reviewers: Vec::new(),
        timeline: Vec::new(),
        comments: Vec::new(),
        created_at: now,
        updated_at: now,
        published_at: None,
        published_by: None,
        publish_reason: None,
        frozen: None,
        public_summary: String::new(),
    };
    let e = ev(
        &pm,
        now,
        who,
        EventKind::PostmortemCreated,
        json!({"due_at": due_at}),
    );
    match state.store.create_postmortem(pm, e).await {
        Ok(p) => Ok(p),
        Err(StoreError::Conflict { constraint }) if constraint == "incident_status" => {
            Err(ApiError::Conflict {
                message: "incident_id: the incident is not resolved yet".into(),
                field: Some("incident_id".into()),
            })
        }
        Err(StoreError::Conflict { .. }) => Err(ApiError::Conflict {
            message: "incident_id: the incident already has a postmortem".into(),
            field: Some("incident_id".into()),
        }),
        Err(e) if e.is_not_found() => Err(ApiError::invalid("incident_id", "no such incident")),
        Err(e) => Err(e.into()),
    }
}

/// Runs `edit` on the postmortem as stored, under its lock; the postmortem as it now is.
async fn change(state: &AppState, id: PostmortemId, edit: PostmortemEdit) -> ApiResult<Postmortem> {
    let p = state
        .store
        .change_postmortem(id, edit)
        .await
        .map_err(ApiError::or_not_found("postmortem"))??;
    state.incident_changes.notify_waiters();
    Ok(p)
}

async fn active(state: &AppState, field: &str, raw: &str) -> ApiResult<UserId> {
    let u = terms::user(state, raw, At::Field(field)).await?;
    crate::people::manage::active_user(state, field, u).await?;
    Ok(u)
}

/// Changes sections, factors, owner, reviewers or due date (draft or in review).
pub async fn update_with(
    state: &AppState,
    who: Who,
    id: PostmortemId,
    u: PostmortemUpdate,
) -> ApiResult<Postmortem> {
    let rules = rules_of(state);
    let factors = match &u.factors {
        None => None,
        Some(f) => {
            let raw: Vec<(String, String)> =
                f.iter().map(|f| (f.kind.clone(), f.text.clone())).collect();
            Some(rules::parse_factors(&raw)?)
        }
    };
    let owner = match u.owner_id.as_ref() {
        None => None,
        Some(None) => Some(None),
        Some(Some(o)) if o.trim().is_empty() => Some(None),
        Some(Some(o)) => Some(Some(active(state, "owner_id", o).await?)),
    };
    let reviewers = match &u.reviewers {
        None => None,
        Some(list) if list.len() > rules::REVIEWERS_MAX => {
            return Err(ApiError::invalid(
                "reviewers",
                format!("at most {}", rules::REVIEWERS_MAX),
            ));
        }
        Some(list) => {
            let mut ids = Vec::new();
            for (i, r) in list.iter().enumerate() {
                let id = active(state, &format!("reviewers[{i}]"), r).await?;
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            Some(ids)
        }
    };
    let sections = u.sections.unwrap_or_default();
    let due = u.due_at;
    let public_summary = u.public_summary;
    let now = state.clock.now();
    let edit: PostmortemEdit = Box::new(move |old: &Postmortem| {
        old.check_editable()?;
        let mut p = old.clone();
        let mut changed: Vec<&str> = Vec::new();
        for (k, body) in &sections {
            p.set_section(&rules, k, body)?;
        }
        if p.sections != old.sections {
            changed.push("sections");
        }
        if let Some(f) = factors {
            p.factors = f;
            if p.factors != old.factors {
                changed.push("factors");
            }
        }
        if let Some(o) = owner
            && o != p.owner_id
        {
            p.owner_id = o;
            changed.push("owner");
        }
        if let Some(list) = reviewers {
            // Keep the approvals of reviewers who stay.
            p.reviewers = list
                .into_iter()
                .map(|u| Reviewer {
                    user_id: u,
                    approved_at: old
                        .reviewers
                        .iter()
                        .find(|r| r.user_id == u)
                        .and_then(|r| r.approved_at),
                })
                .collect();
            if p.reviewers != old.reviewers {
                changed.push("reviewers");
            }
        }
        if let Some(d) = due
            && d != p.due_at
        {
            p.due_at = d;
            changed.push("due_at");
        }
        if let Some(t) = &public_summary {
            p.set_public_summary(t)?;
            if p.public_summary != old.public_summary {
                changed.push("public_summary");
            }
        }
        let mut events = Vec::new();
        if !changed.is_empty() {
            p.updated_at = now;
            events.push(ev(
                &p,
                now,
                who,
                EventKind::PostmortemUpdated,
                json!({"changed": changed, "owner_id": p.owner_id}),
            ));
        }
        Ok((p, events))
    });
    change(state, id, edit).await
}

/// The author's choices over the incident's events: which are shown and their notes. The
/// incident's events themselves are not changed.
pub async fn select_with(
    state: &AppState,
    who: Who,
    pm: &Postmortem,
    entries: Vec<SelectionIn>,
) -> ApiResult<Postmortem> {
    let events = crate::incidents::timeline::all_events(state, pm.incident_id).await?;
    for (i, e) in entries.iter().enumerate() {
        if !events.iter().any(|x| x.seq == e.seq) {
            return Err(ApiError::invalid(
                format!("entries[{i}].seq"),
                "not an event of the incident",
            ));
        }
    }
    let now = state.clock.now();
    let edit: PostmortemEdit = Box::new(move |old: &Postmortem| {
        old.check_editable()?;
        let mut p = old.clone();
        for (i, e) in entries.iter().enumerate() {
            p.select(e.seq, e.include, &e.note).map_err(|x| {
                Refusal::Invalid(klaxon_domain::Invalid::new(
                    format!("entries[{i}].{}", x.field),
                    x.reason,
                ))
            })?;
        }
        let mut events = Vec::new();
        if p.timeline != old.timeline {
            p.updated_at = now;
            events.push(ev(
                &p,
                now,
                who,
                EventKind::PostmortemUpdated,
                json!({"changed": ["timeline"]}),
            ));
        }
        Ok((p, events))
    });
    change(state, pm.id, edit).await
}

pub async fn comment_with(
    state: &AppState,
    who: Who,
    id: PostmortemId,
    c: NewComment,
) -> ApiResult<Postmortem> {
    let rules = rules_of(state);
    let section = c.section.trim().to_owned();
    if rules.section(&section).is_none() {
        return Err(ApiError::invalid(
            "section",
            "not a section of the template",
        ));
    }
    let body = c.body.trim().to_owned();
    if body.is_empty() || body.chars().count() > rules::COMMENT_MAX {
        return Err(ApiError::invalid(
            "body",
            format!("1 to {} characters", rules::COMMENT_MAX),
        ));
    }
    let author = who
        .user
        .ok_or_else(|| ApiError::Forbidden("comments are written by people".into()))?;
    let now = state.clock.now();
    let edit: PostmortemEdit = Box::new(move |old: &Postmortem| {
        old.check_editable()?;
        let mut p = old.clone();
        let cid = PostmortemCommentId::new(now, random_bytes());
        p.comments.push(Comment {
            id: cid,
            section: section.clone(),
            author_id: author,
            body,
            at: now,
        });
        let e = ev(
            &p,
            now,
            who,
            EventKind::PostmortemCommented,
            json!({"comment_id": cid, "section": section}),
        );
        Ok((p, vec![e]))
    });
    change(state, id, edit).await
}

/// What moves a postmortem along.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    Submit,
    Approve,
    Draft,
}

pub async fn move_with(
    state: &AppState,
    who: Who,
    id: PostmortemId,
    m: Move,
) -> ApiResult<Postmortem> {
    let now = state.clock.now();
    let edit: PostmortemEdit = Box::new(move |old: &Postmortem| {
        let mut p = old.clone();
        let kind = match m {
            Move::Submit => {
                p.submit()?;
                EventKind::PostmortemSubmitted
            }
            Move::Approve => {
                p.approve(asker(who), now)?;
                EventKind::PostmortemApproved
            }
            Move::Draft => {
                p.back_to_draft()?;
                EventKind::PostmortemBackToDraft
            }
        };
        if p == *old {
            return Ok((p, Vec::new())); // approved again: nothing new
        }
        p.updated_at = now;
        let e = ev(&p, now, who, kind, json!({"state": p.state}));
        Ok((p, vec![e]))
    });
    change(state, id, edit).await
}

/// Publishes: the incident's facts are read now and frozen into the postmortem.
pub async fn publish_with(
    state: &AppState,
    who: Who,
    pm: &Postmortem,
    reason: Option<String>,
) -> ApiResult<Postmortem> {
    let now = state.clock.now();
    let frozen =
        serde_json::to_value(live(state, pm).await?).map_err(|e| ApiError::Internal(e.into()))?;
    let edit: PostmortemEdit = Box::new(move |old: &Postmortem| {
        let mut p = old.clone();
        p.publish(asker(who), reason.as_deref(), now)?;
        p.frozen = Some(frozen);
        p.updated_at = now;
        let e = ev(
            &p,
            now,
            who,
            EventKind::PostmortemPublished,
            json!({"reason": p.publish_reason}),
        );
        Ok((p, vec![e]))
    });
    change(state, pm.id, edit).await
}

pub async fn list_with(state: &AppState, p: ListParams) -> ApiResult<Vec<PostmortemRow>> {
    let st = match p.state.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(s.parse::<PostmortemState>()?),
    };
    let limit = match p.limit {
        None => 100,
        Some(l @ 1..=500) => l as u32,
        Some(_) => return Err(ApiError::invalid("limit", "must be 1 to 500")),
    };
    let rows = state
        .store
        .list_postmortems(&PostmortemFilter {
            state: st,
            text: p.q,
            limit,
        })
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| PostmortemRow {
            id: r.id,
            incident_id: r.incident_id,
            incident_number: r.incident_number,
            incident_title: r.incident_title,
            severity: r.severity,
            state: r.state,
            owner_id: r.owner_id,
            due_at: r.due_at,
            created_at: r.created_at,
            published_at: r.published_at,
        })
        .collect())
}

// --- routes -------------------------------------------------------------------------------------

const ID_DOC: &str = "The postmortem's id, or its incident's id or number";

/// Postmortems newest first, by state and text.
#[utoipa::path(get, path = "/api/v1/postmortems", tag = "postmortems", operation_id = "list_postmortems",
    params(ListParams),
    responses((status = 200, body = PostmortemList), (status = 400, body = ErrorBody)))]
async fn list_postmortems(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<ListParams>,
) -> ApiResult<Json<PostmortemList>> {
    caller.require(Role::Viewer)?;
    Ok(Json(PostmortemList {
        items: list_with(&state, p).await?,
    }))
}

/// Starts the postmortem of a resolved incident (responder); the caller owns it. 409 while
/// the incident is open, or when it has one.
#[utoipa::path(post, path = "/api/v1/postmortems", tag = "postmortems", operation_id = "create_postmortem",
    request_body = NewPostmortem,
    responses((status = 201, body = PostmortemOut), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_postmortem(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewPostmortem>,
) -> ApiResult<(StatusCode, Json<PostmortemOut>)> {
    caller.require(Role::Responder)?;
    let incident = terms::incident(&state, &body.incident_id, At::Field("incident_id")).await?;
    let pm = create_with(&state, Who::caller(&caller), incident).await?;
    Ok((StatusCode::CREATED, Json(out(&state, pm).await?)))
}

/// One postmortem with its filled-in facts.
#[utoipa::path(get, path = "/api/v1/postmortems/{id}", tag = "postmortems", operation_id = "get_postmortem",
    params(("id" = String, Path, description = ID_DOC, min_length = 1)),
    responses((status = 200, body = PostmortemOut), (status = 404, body = ErrorBody)))]
async fn get_postmortem(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<PostmortemOut>> {
    caller.require(Role::Viewer)?;
    let pm = find(&state, &id).await?;
    Ok(Json(out(&state, pm).await?))
}

/// Changes sections, factors, owner, reviewers or the due date (responder). 409 once published.
#[utoipa::path(patch, path = "/api/v1/postmortems/{id}", tag = "postmortems", operation_id = "update_postmortem",
    request_body = PostmortemUpdate,
    params(("id" = String, Path, description = ID_DOC, min_length = 1)),
    responses((status = 200, body = PostmortemOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn update_postmortem(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PostmortemUpdate>,
) -> ApiResult<Json<PostmortemOut>> {
    caller.require(Role::Responder)?;
    let pm = find(&state, &id).await?;
    let pm = update_with(&state, Who::caller(&caller), pm.id, body).await?;
    Ok(Json(out(&state, pm).await?))
}

/// Chooses which incident events the postmortem's timeline shows, with notes (responder).
#[utoipa::path(patch, path = "/api/v1/postmortems/{id}/timeline", tag = "postmortems", operation_id = "select_postmortem_timeline",
    request_body = TimelineSelection,
    params(("id" = String, Path, description = ID_DOC, min_length = 1)),
    responses((status = 200, body = PostmortemOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn select_timeline(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TimelineSelection>,
) -> ApiResult<Json<PostmortemOut>> {
    caller.require(Role::Responder)?;
    let pm = find(&state, &id).await?;
    let pm = select_with(&state, Who::caller(&caller), &pm, body.entries).await?;
    Ok(Json(out(&state, pm).await?))
}

/// Comments on a section (responder).
#[utoipa::path(post, path = "/api/v1/postmortems/{id}/comments", tag = "postmortems", operation_id = "comment_postmortem",
    request_body = NewComment,
    params(("id" = String, Path, description = ID_DOC, min_length = 1)),
    responses((status = 201, body = PostmortemOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn add_comment(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewComment>,
) -> ApiResult<(StatusCode, Json<PostmortemOut>)> {
    caller.require(Role::Responder)?;
    let pm = find(&state, &id).await?;
    let pm = comment_with(&state, Who::caller(&caller), pm.id, body).await?;
    Ok((StatusCode::CREATED, Json(out(&state, pm).await?)))
}

async fn do_move(
    state: AppState,
    caller: Caller,
    id: String,
    m: Move,
) -> ApiResult<Json<PostmortemOut>> {
    caller.require(Role::Responder)?;
    let pm = find(&state, &id).await?;
    let pm = move_with(&state, Who::caller(&caller), pm.id, m).await?;
    Ok(Json(out(&state, pm).await?))
}

/// Submits a draft for review (responder); it needs an owner.
#[utoipa::path(post, path = "/api/v1/postmortems/{id}/submit", tag = "postmortems", operation_id = "submit_postmortem",
    params(("id" = String, Path, description = ID_DOC, min_length = 1)),
    responses((status = 200, body = PostmortemOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn submit_postmortem(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<PostmortemOut>> {
    do_move(state, caller, id, Move::Submit).await
}

/// Approves a postmortem in review: a reviewer other than the owner. 403 for anyone else.
#[utoipa::path(post, path = "/api/v1/postmortems/{id}/approve", tag = "postmortems", operation_id = "approve_postmortem",
    params(("id" = String, Path, description = ID_DOC, min_length = 1)),
    responses((status = 200, body = PostmortemOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn approve_postmortem(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<PostmortemOut>> {
    do_move(state, caller, id, Move::Approve).await
}

/// Takes a postmortem in review back to draft; its approvals lapse.
#[utoipa::path(post, path = "/api/v1/postmortems/{id}/draft", tag = "postmortems", operation_id = "draft_postmortem",
    params(("id" = String, Path, description = ID_DOC, min_length = 1)),
    responses((status = 200, body = PostmortemOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn draft_postmortem(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<PostmortemOut>> {
    do_move(state, caller, id, Move::Draft).await
}

/// Publishes: the owner, once a reviewer other than the owner approved; or an admin with a
/// `reason`. 403 otherwise, naming the rule. The facts are frozen; it is read-only after.
#[utoipa::path(post, path = "/api/v1/postmortems/{id}/publish", tag = "postmortems", operation_id = "publish_postmortem",
    request_body = PublishIn,
    params(("id" = String, Path, description = ID_DOC, min_length = 1)),
    responses((status = 200, body = PostmortemOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn publish_postmortem(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PublishIn>,
) -> ApiResult<Json<PostmortemOut>> {
    caller.require(Role::Responder)?;
    let reason = body.reason;
    let pm = find(&state, &id).await?;
    let pm = publish_with(&state, Who::caller(&caller), &pm, reason).await?;
    Ok(Json(out(&state, pm).await?))
}

/// The postmortem as Markdown (a download).
#[utoipa::path(get, path = "/api/v1/postmortems/{id}/export.md", tag = "postmortems", operation_id = "export_postmortem",
    params(("id" = String, Path, description = ID_DOC, min_length = 1)),
    responses((status = 200, content_type = "text/markdown", body = String), (status = 404, body = ErrorBody)))]
async fn export_postmortem(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    caller.require(Role::Viewer)?;
    let pm = find(&state, &id).await?;
    let o = out(&state, pm).await?;
    let names = super::export::names_of(&state, &o).await;
    Ok(super::export::download(
        &o,
        super::export::markdown(&o, &names),
    ))
}
