//! The postmortem pages: the list (search, state), one postmortem to write (sections, factors,
//! people, the timeline selection), review (comments, approval) and publish, read-only once
//! published, and a print-ready page. Forms call the same functions as the REST API.
use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use klaxon_domain::auth::Role;
use klaxon_domain::ids::UserId;
use klaxon_domain::postmortem::{FactorKind, PostmortemState};
use serde::Deserialize;

use super::api::{
    FactorIn, ListParams, Move, NewComment, PostmortemOut, PostmortemRow, PostmortemUpdate,
    SelectionIn, find, out,
};
use crate::incidents::api::Who;
use crate::shared::error::ApiError;
use crate::shared::state::AppState;
use crate::shared::terms::{self, At};
use crate::shared::web::{
    FormErrors, Nav, PageResult, Refused, WebSession, forbidden, html, message, not_found_page,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/postmortems", get(list_page).post(start))
        .route("/postmortems/{id}", get(page))
        .route("/postmortems/{id}/print", get(print_page))
        .route("/postmortems/{id}/sections", post(save_sections))
        .route("/postmortems/{id}/factors", post(save_factors))
        .route("/postmortems/{id}/people", post(save_people))
        .route("/postmortems/{id}/timeline", post(save_timeline))
        .route("/postmortems/{id}/comments", post(add_comment))
        .route("/postmortems/{id}/move", post(move_it))
        .route("/postmortems/{id}/publish", post(publish))
        .route(
            "/postmortems/{id}/public-summary",
            post(save_public_summary),
        )
        .route("/postmortems/{id}/status-page", post(attach))
}

// --- the list -----------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "postmortems.html")]
struct ListPage {
    nav: Option<Nav>,
    rows: Vec<PostmortemRow>,
    q: String,
    state: String,
    states: Vec<(&'static str, &'static str)>,
    errors: FormErrors,
}

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    state: String,
}

async fn list_page(
    State(state): State<AppState>,
    s: WebSession,
    Query(f): Query<ListQuery>,
) -> PageResult {
    let params = ListParams {
        state: Some(f.state.clone()),
        q: Some(f.q.clone()),
        limit: Some(500),
    };
    let (rows, errors, status) = match super::api::list_with(&state, params).await {
        Ok(r) => (r, FormErrors::default(), StatusCode::OK),
        Err(e) => {
            let st = e.status();
            (Vec::new(), FormErrors::from_error(e)?, st)
        }
    };
    Ok(html(
        status,
        &ListPage {
            nav: Some(Nav::new(&s, "/postmortems")),
            rows,
            q: f.q,
            state: f.state,
            states: vec![
                ("draft", "Draft"),
                ("in_review", "In review"),
                ("published", "Published"),
            ],
            errors,
        },
    ))
}

#[derive(Debug, Deserialize)]
struct StartForm {
    csrf: String,
    incident_id: String,
}

/// Starts the postmortem of an incident (its page's panel) and opens it.
async fn start(
    State(state): State<AppState>,
    s: WebSession,
    Form(f): Form<StartForm>,
) -> PageResult {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    if !s.user.role.allows(Role::Responder) {
        return Ok(forbidden("start a postmortem"));
    }
    let incident = terms::incident(&state, &f.incident_id, At::Field("incident_id")).await?;
    match super::api::create_with(&state, Who::user(&s.user), incident).await {
        Ok(p) => Ok(Redirect::to(&format!("/postmortems/{}", p.id)).into_response()),
        Err(e @ (ApiError::Conflict { .. } | ApiError::BadRequest { .. })) => {
            Ok(message(e.status(), "No postmortem started", &e.to_string()))
        }
        Err(e) => Err(e),
    }
}

// --- one postmortem -----------------------------------------------------------------------------

/// A timeline entry as the page shows it.
struct EntryRow {
    seq: i64,
    when: String,
    who: String,
    text: String,
    included: bool,
    note: String,
}

#[derive(Template)]
#[template(path = "postmortem.html")]
struct Page {
    nav: Option<Nav>,
    pm: PostmortemOut,
    csrf: String,
    editable: bool,
    can_approve: bool,
    can_publish: bool,
    can_respond: bool,
    is_admin: bool,
    owner: String,
    owner_email: String,
    reviewers: Vec<(String, bool)>,
    reviewer_emails: String,
    /// The incident's public incidents, with when each got the summary (as HTML).
    public_rows: Vec<(super::public::PublicIncidentOut, Option<String>)>,
    /// Active users to choose from: (e-mail, name).
    users: Vec<(String, String)>,
    factors_text: String,
    kinds: Vec<&'static str>,
    timeline: Vec<EntryRow>,
    comments: Vec<(String, String, String, String)>,
    due: String,
    /// The due date as a `datetime-local` value in the reader's zone, and that zone.
    due_input: String,
    zone: String,
    milestones: Vec<(&'static str, String)>,
    refused: Refused,
}

impl Page {
    fn errs(&self, form: &str) -> &FormErrors {
        self.refused.errs(form)
    }

    fn typed<'a>(&'a self, form: &str, field: &str, default: &'a str) -> &'a str {
        self.refused.typed(form, field, default)
    }

    fn invalid(&self, form: &str, field: &str, id: &str) -> String {
        self.refused.invalid(form, field, id)
    }

    /// Whether `email` is among the reviewers chosen (as typed, when the form was refused).
    fn chosen(&self, email: &str) -> bool {
        self.typed("people", "reviewers", &self.reviewer_emails)
            .split(',')
            .any(|e| e.trim() == email)
    }

    /// Whether the summary may go onto a public incident now.
    fn can_attach(&self) -> bool {
        self.can_respond
            && self.pm.state == PostmortemState::Published
            && !self.pm.public_summary.is_empty()
            && self
                .pm
                .public_incidents
                .iter()
                .any(|i| i.postmortem_published_at.is_none())
    }
}

fn factors_text(pm: &PostmortemOut) -> String {
    pm.factors
        .iter()
        .map(|f| format!("{}: {}", f.kind, f.text))
        .collect::<Vec<_>>()
        .join("\n")
}

async fn render(
    state: &AppState,
    s: &WebSession,
    raw: &str,
    status: StatusCode,
    refused: Refused,
) -> PageResult {
    let pm = match find(state, raw).await {
        Ok(p) => p,
        Err(ApiError::NotFound(_)) | Err(ApiError::BadRequest { .. }) => {
            return Ok(not_found_page());
        }
        Err(e) => return Err(e),
    };
    let pm = out(state, pm).await?;
    let reader = s.reader();
    let mut ids: Vec<UserId> = pm.owner_id.into_iter().collect();
    ids.extend(pm.reviewers.iter().map(|r| r.user_id));
    ids.extend(pm.comments.iter().map(|c| c.author_id));
    let names = crate::shared::lists::user_names_or_ids(state, ids.clone()).await?;
    let mut emails: HashMap<UserId, String> = HashMap::new();
    for id in ids {
        if let Ok(u) = state.store.user(id).await {
            emails.insert(id, u.email.to_string());
        }
    }
    let name = |u: &UserId| names.get(u).cloned().unwrap_or_else(|| u.to_string());
    let editable = pm.state != PostmortemState::Published;
    let me = s.user.id;
    let can_respond = s.user.role.allows(Role::Responder);
    let is_admin = s.user.role == Role::Admin;
    let i = &pm.facts.incident;
    let page = Page {
        nav: Some(Nav::new(s, "/postmortems")),
        csrf: s.session.csrf_token.clone(),
        editable: editable && can_respond,
        can_approve: can_respond
            && pm.state == PostmortemState::InReview
            && pm.owner_id != Some(me)
            && pm.reviewers.iter().any(|r| r.user_id == me),
        can_publish: editable && can_respond && (pm.owner_id == Some(me) || is_admin),
        can_respond,
        is_admin,
        owner: pm
            .owner_id
            .as_ref()
            .map(name)
            .unwrap_or_else(|| "nobody".into()),
        owner_email: pm
            .owner_id
            .and_then(|u| emails.get(&u).cloned())
            .unwrap_or_default(),
        reviewers: pm
            .reviewers
            .iter()
            .map(|r| (name(&r.user_id), r.approved_at.is_some()))
            .collect(),
        reviewer_emails: pm
            .reviewers
            .iter()
            .filter_map(|r| emails.get(&r.user_id).cloned())
            .collect::<Vec<_>>()
            .join(", "),
        public_rows: pm
            .public_incidents
            .iter()
            .map(|i| {
                let since = i.postmortem_published_at.map(|t| reader.when(t).html());
                (i.clone(), since)
            })
            .collect(),
        users: crate::shared::lists::all_users(state)
            .await?
            .into_iter()
            .map(|u| (u.email, u.name))
            .collect(),
        factors_text: factors_text(&pm),
        kinds: FactorKind::ALL.iter().map(|k| k.as_str()).collect(),
        timeline: pm
            .facts
            .timeline
            .iter()
            .map(|e| EntryRow {
                seq: e.seq,
                when: reader.when(e.at).html(),
                who: e.who.clone(),
                text: e.text.clone(),
                included: e.included,
                note: e.note.clone(),
            })
            .collect(),
        comments: pm
            .comments
            .iter()
            .map(|c| {
                (
                    c.section.clone(),
                    name(&c.author_id),
                    reader.when(c.at).html(),
                    c.body.clone(),
                )
            })
            .collect(),
        due: pm
            .due_at
            .map(|d| reader.when(d).html())
            .unwrap_or_else(|| "no due date".into()),
        due_input: pm.due_at.map(|d| reader.input_value(d)).unwrap_or_default(),
        zone: reader.zone.clone(),
        milestones: klaxon_domain::incident::MILESTONES
            .iter()
            .filter_map(|n| {
                i.milestones.get(n).map(|at| {
                    (
                        crate::incidents::describe::milestone_label(n),
                        reader.when(at).html(),
                    )
                })
            })
            .collect(),
        refused,
        pm,
    };
    Ok(html(status, &page))
}

async fn page(State(state): State<AppState>, s: WebSession, Path(id): Path<String>) -> PageResult {
    render(&state, &s, &id, StatusCode::OK, Refused::default()).await
}

#[derive(Template)]
#[template(path = "postmortem_print.html")]
struct PrintPage {
    pm: PostmortemOut,
    md_names: HashMap<UserId, String>,
}

impl PrintPage {
    fn name(&self, u: &UserId) -> String {
        self.md_names
            .get(u)
            .cloned()
            .unwrap_or_else(|| u.to_string())
    }
}

/// For paper or PDF: the whole postmortem, no navigation, no forms.
async fn print_page(
    State(state): State<AppState>,
    _s: WebSession,
    Path(id): Path<String>,
) -> PageResult {
    let pm = match find(&state, &id).await {
        Ok(p) => p,
        Err(ApiError::NotFound(_)) | Err(ApiError::BadRequest { .. }) => {
            return Ok(not_found_page());
        }
        Err(e) => return Err(e),
    };
    let pm = out(&state, pm).await?;
    let md_names = super::export::names_of(&state, &pm).await;
    Ok(html(StatusCode::OK, &PrintPage { pm, md_names }))
}

/// After a form: back to the page, or the page again with the refusal beside its field.
async fn after(
    state: &AppState,
    s: &WebSession,
    id: &str,
    result: Result<(), ApiError>,
    form: &'static str,
    typed: &[(&str, &str)],
    anchor: &str,
) -> PageResult {
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/postmortems/{id}#{anchor}")).into_response()),
        Err(e) => {
            let status = e.status();
            let errors = FormErrors::from_error(e)?;
            render(state, s, id, status, Refused::new(form, errors, typed)).await
        }
    }
}

fn guard(s: &WebSession, csrf: &str) -> Option<Response> {
    if let Err(r) = s.check_csrf(csrf) {
        return Some(r);
    }
    (!s.user.role.allows(Role::Responder)).then(|| forbidden("change a postmortem"))
}

async fn save_sections(
    State(state): State<AppState>,
    s: WebSession,
    Path(id): Path<String>,
    Form(f): Form<BTreeMap<String, String>>,
) -> PageResult {
    if let Some(r) = guard(&s, f.get("csrf").map_or("", String::as_str)) {
        return Ok(r);
    }
    let sections: BTreeMap<String, String> = f
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("sections.")?.to_owned(), v.clone())))
        .collect();
    let typed: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = async {
        let pm = find(&state, &id).await?;
        let u = PostmortemUpdate {
            sections: Some(sections),
            ..Default::default()
        };
        super::api::update_with(&state, Who::user(&s.user), pm.id, u).await?;
        Ok(())
    }
    .await;
    after(&state, &s, &id, r, "sections", &typed, "sections").await
}

#[derive(Debug, Deserialize)]
struct FactorsForm {
    csrf: String,
    #[serde(default)]
    factors: String,
}

/// "kind: text" lines → the API's factors; a line without a kind is refused by the rules.
fn parse_lines(raw: &str) -> Vec<FactorIn> {
    raw.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (kind, text) = l.split_once(':').unwrap_or(("", l));
            FactorIn {
                kind: kind.trim().to_lowercase(),
                text: text.trim().to_owned(),
            }
        })
        .collect()
}

async fn save_factors(
    State(state): State<AppState>,
    s: WebSession,
    Path(id): Path<String>,
    Form(f): Form<FactorsForm>,
) -> PageResult {
    if let Some(r) = guard(&s, &f.csrf) {
        return Ok(r);
    }
    let r = async {
        let pm = find(&state, &id).await?;
        let u = PostmortemUpdate {
            factors: Some(parse_lines(&f.factors)),
            ..Default::default()
        };
        super::api::update_with(&state, Who::user(&s.user), pm.id, u)
            .await
            // One box holds every factor: say which line, beside it.
            .map_err(|e| match e {
                ApiError::BadRequest { message, field: Some(fl), .. } if fl.starts_with("factors[") => {
                    let line = fl[8..].split(']').next().and_then(|n| n.parse::<usize>().ok()).unwrap_or(0) + 1;
                    let reason = message.split_once(": ").map_or(message.as_str(), |(_, r)| r).to_owned();
                    ApiError::invalid("factors", format!("line {line}: {reason} (write kind: text, the kind being trigger, contributing or mitigating)"))
                }
                other => other,
            })?;
        Ok(())
    }
    .await;
    after(
        &state,
        &s,
        &id,
        r,
        "factors",
        &[("factors", &f.factors)],
        "factors",
    )
    .await
}

/// The people form: owner, due date, and the reviewers chosen (one `reviewers` pair each).
struct PeopleForm {
    csrf: String,
    owner: String,
    reviewers: Vec<String>,
    /// `datetime-local` in the reader's zone; empty for none.
    due: String,
}

impl PeopleForm {
    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut f = PeopleForm {
            csrf: String::new(),
            owner: String::new(),
            reviewers: Vec::new(),
            due: String::new(),
        };
        for (k, v) in pairs {
            match k.as_str() {
                "csrf" => f.csrf = v,
                "owner" => f.owner = v,
                "due" => f.due = v,
                "reviewers" if !v.trim().is_empty() => f.reviewers.push(v.trim().to_owned()),
                _ => {}
            }
        }
        f
    }
}

async fn save_people(
    State(state): State<AppState>,
    s: WebSession,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let f = PeopleForm::from_pairs(pairs);
    if let Some(r) = guard(&s, &f.csrf) {
        return Ok(r);
    }
    let r = async {
        let pm = find(&state, &id).await?;
        let reviewers = f.reviewers.clone();
        let due = match f.due.trim() {
            "" => None,
            raw => Some(
                s.reader()
                    .parse_input(raw)
                    .ok_or_else(|| ApiError::invalid("due", "is not a date and time"))?,
            ),
        };
        let u = PostmortemUpdate {
            owner_id: Some(Some(f.owner.trim().to_owned())),
            reviewers: Some(reviewers),
            due_at: Some(due),
            ..Default::default()
        };
        super::api::update_with(&state, Who::user(&s.user), pm.id, u)
            .await
            .map_err(|e| match e {
                // Reviewers are typed in one box.
                ApiError::BadRequest {
                    message,
                    field: Some(fl),
                    ..
                } if fl.starts_with("reviewers[") => {
                    let reason = message
                        .split_once(": ")
                        .map_or(message.as_str(), |(_, r)| r)
                        .to_owned();
                    ApiError::invalid("reviewers", reason)
                }
                ApiError::BadRequest {
                    message,
                    field: Some(fl),
                    ..
                } if fl == "owner_id" => {
                    let reason = message
                        .split_once(": ")
                        .map_or(message.as_str(), |(_, r)| r)
                        .to_owned();
                    ApiError::invalid("owner", reason)
                }
                other => other,
            })?;
        Ok(())
    }
    .await;
    let chosen = f.reviewers.join(",");
    let typed = [
        ("owner", f.owner.as_str()),
        ("reviewers", chosen.as_str()),
        ("due", f.due.as_str()),
    ];
    after(&state, &s, &id, r, "people", &typed, "people").await
}

async fn save_timeline(
    State(state): State<AppState>,
    s: WebSession,
    Path(id): Path<String>,
    Form(f): Form<BTreeMap<String, String>>,
) -> PageResult {
    if let Some(r) = guard(&s, f.get("csrf").map_or("", String::as_str)) {
        return Ok(r);
    }
    // Every entry shown has a note box (`note.SEQ`); its box (`include.SEQ`) is sent when ticked.
    let entries: Vec<SelectionIn> = f
        .iter()
        .filter_map(|(k, v)| {
            let seq: i64 = k.strip_prefix("note.")?.parse().ok()?;
            Some(SelectionIn {
                seq,
                include: f.contains_key(&format!("include.{seq}")),
                note: v.clone(),
            })
        })
        .collect();
    let r = async {
        let pm = find(&state, &id).await?;
        super::api::select_with(&state, Who::user(&s.user), &pm, entries).await?;
        Ok(())
    }
    .await;
    after(&state, &s, &id, r, "timeline", &[], "timeline").await
}

#[derive(Debug, Deserialize)]
struct CommentForm {
    csrf: String,
    #[serde(default)]
    section: String,
    #[serde(default)]
    body: String,
}

async fn add_comment(
    State(state): State<AppState>,
    s: WebSession,
    Path(id): Path<String>,
    Form(f): Form<CommentForm>,
) -> PageResult {
    if let Some(r) = guard(&s, &f.csrf) {
        return Ok(r);
    }
    let r = async {
        let pm = find(&state, &id).await?;
        let c = NewComment {
            section: f.section.clone(),
            body: f.body.clone(),
        };
        super::api::comment_with(&state, Who::user(&s.user), pm.id, c).await?;
        Ok(())
    }
    .await;
    let typed = [("section", f.section.as_str()), ("body", f.body.as_str())];
    after(&state, &s, &id, r, "comment", &typed, "comments").await
}

#[derive(Debug, Deserialize)]
struct MoveForm {
    csrf: String,
    action: String,
}

async fn move_it(
    State(state): State<AppState>,
    s: WebSession,
    Path(id): Path<String>,
    Form(f): Form<MoveForm>,
) -> PageResult {
    if let Some(r) = guard(&s, &f.csrf) {
        return Ok(r);
    }
    let m = match f.action.as_str() {
        "submit" => Move::Submit,
        "approve" => Move::Approve,
        "draft" => Move::Draft,
        _ => return Ok(not_found_page()),
    };
    let r = async {
        let pm = find(&state, &id).await?;
        super::api::move_with(&state, Who::user(&s.user), pm.id, m).await?;
        Ok(())
    }
    .await;
    after(&state, &s, &id, r, "review", &[], "review").await
}

#[derive(Debug, Deserialize)]
struct PublishForm {
    csrf: String,
    #[serde(default)]
    reason: String,
}

async fn publish(
    State(state): State<AppState>,
    s: WebSession,
    Path(id): Path<String>,
    Form(f): Form<PublishForm>,
) -> PageResult {
    if let Some(r) = guard(&s, &f.csrf) {
        return Ok(r);
    }
    let r = async {
        let pm = find(&state, &id).await?;
        let reason = Some(f.reason.clone()).filter(|r| !r.trim().is_empty());
        super::api::publish_with(&state, Who::user(&s.user), &pm, reason)
            .await
            // The rule is the form's answer: show it beside the reason box.
            .map_err(|e| match e {
                ApiError::Forbidden(m) => ApiError::invalid("reason", m),
                other => other,
            })?;
        Ok(())
    }
    .await;
    after(
        &state,
        &s,
        &id,
        r,
        "publish",
        &[("reason", &f.reason)],
        "review",
    )
    .await
}

#[derive(Debug, Deserialize)]
struct PublicSummaryForm {
    csrf: String,
    #[serde(default)]
    public_summary: String,
}

async fn save_public_summary(
    State(state): State<AppState>,
    s: WebSession,
    Path(id): Path<String>,
    Form(f): Form<PublicSummaryForm>,
) -> PageResult {
    if let Some(r) = guard(&s, &f.csrf) {
        return Ok(r);
    }
    let r = async {
        let pm = find(&state, &id).await?;
        let u = PostmortemUpdate {
            public_summary: Some(f.public_summary.clone()),
            ..Default::default()
        };
        super::api::update_with(&state, Who::user(&s.user), pm.id, u).await?;
        Ok(())
    }
    .await;
    let typed = [("public_summary", f.public_summary.as_str())];
    after(&state, &s, &id, r, "public", &typed, "public").await
}

#[derive(Debug, Deserialize)]
struct AttachForm {
    csrf: String,
}

/// Puts the published postmortem's public summary on its incident's status-page incidents.
async fn attach(
    State(state): State<AppState>,
    s: WebSession,
    Path(id): Path<String>,
    Form(f): Form<AttachForm>,
) -> PageResult {
    if let Some(r) = guard(&s, &f.csrf) {
        return Ok(r);
    }
    let r = async {
        let pm = find(&state, &id).await?;
        super::public::attach_with(&state, Who::user(&s.user), &pm).await?;
        Ok(())
    }
    .await;
    after(&state, &s, &id, r, "status_page", &[], "public").await
}
