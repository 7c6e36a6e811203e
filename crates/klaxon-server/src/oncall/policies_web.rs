//! Escalation policy pages: the list with the form that adds one, a policy's page (its levels,
//! whom each pages, and which reach nobody now and why), and the form that edits one. The form
//! has any number of levels: "Add a level" and "Remove level N" are submit buttons that show
//! the form again with what was typed, so it works without JavaScript.
use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use jiff::Timestamp;
use klaxon_domain::alert::Urgency;
use klaxon_domain::auth::Role;
use klaxon_domain::escalation::{Plan, Target};
use klaxon_domain::event::Actor;
use klaxon_domain::ids::{EscalationPolicyId, ScheduleId, UserId};

use klaxon_domain::reach::{self, Facts, LevelReach, Reason, Why};
use klaxon_store::EscalationPolicy;

use super::api::{CreatePolicy, UpdatePolicy};
use super::policy_form::{FormAction, PolicyDraft, PolicyForm, policy_form, renumber};
use crate::shared::error::ApiError;
use crate::shared::lists::{all_policies, all_services};
use crate::shared::state::AppState;
use crate::shared::time::Reader;
use crate::shared::web::{CsrfForm, FormErrors, Nav, PageResult, WebSession, html};
use crate::shared::web::{forbidden, not_found_page};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/escalation-policies", get(policies_page).post(add_policy))
        .route("/escalation-policies/{id}", get(policy_page))
        .route(
            "/escalation-policies/{id}/edit",
            get(edit_page).post(edit_policy),
        )
        .route("/escalation-policies/{id}/delete", post(delete_policy))
}

// --- a policy as people read it -----------------------------------------------------------------

/// One target of a level, by name, with the page about it.
pub struct TargetView {
    pub label: String,
    pub href: Option<String>,
    pub schedule: bool,
}

/// Why part of a level cannot be reached, and the page that fixes it.
pub struct ReasonView {
    pub text: String,
    pub fix: Option<(String, String)>,
}

pub struct LevelView {
    pub number: u32,
    pub delay: u32,
    pub targets: Vec<TargetView>,
    pub reachable: bool,
    /// The one urgency it reaches nobody for, when it reaches someone for the other.
    pub only_for: Option<Urgency>,
    /// Why it reaches nobody now (empty when it reaches someone).
    pub blocking: Vec<ReasonView>,
    /// Whom else it misses: targets that cannot be reached beside one that can, and people
    /// whose later shifts in a schedule would not reach them.
    pub notes: Vec<ReasonView>,
    /// "level 1: Ada Lovelace, Primary (schedule) — 15 min"
    pub summary: String,
}

pub struct PolicyView {
    pub id: EscalationPolicyId,
    pub name: String,
    pub description: String,
    pub repeat: u32,
    pub levels: Vec<LevelView>,
}

impl LevelView {
    /// After "reaches nobody now": " for low-urgency incidents", or nothing for every urgency.
    pub fn scope(&self) -> String {
        self.only_for
            .map(|u| format!(" for {u}-urgency incidents"))
            .unwrap_or_default()
    }
}

impl PolicyView {
    /// The levels that reach nobody: `2`, or `2 (low urgency)` for one urgency only.
    pub fn unreachable(&self) -> Vec<String> {
        self.levels
            .iter()
            .filter(|l| !l.reachable)
            .map(|l| match l.only_for {
                Some(u) => format!("{} ({u} urgency)", l.number),
                None => l.number.to_string(),
            })
            .collect()
    }
}

fn user_label(facts: &Facts, id: UserId) -> String {
    facts
        .people
        .get(&id)
        .map_or_else(|| format!("user {id} (deleted)"), |p| p.name.clone())
}

fn schedule_label(facts: &Facts, id: ScheduleId) -> String {
    facts
        .schedules
        .get(&id)
        .map_or_else(|| format!("schedule {id} (deleted)"), |s| s.name.clone())
}

/// Where the reader fixes `r`: their own profile, someone's profile (admins), the schedule, or
/// the policy's edit form.
fn fix_for(
    r: &Reason,
    s: &WebSession,
    policy: EscalationPolicyId,
    facts: &Facts,
) -> Option<(String, String)> {
    let admin = s.user.role.allows(Role::Admin);
    let edit = || {
        admin.then(|| {
            (
                format!("/escalation-policies/{policy}/edit"),
                "Change this level".to_owned(),
            )
        })
    };
    match (r.code, r.user_id) {
        (Why::NoContactMethod | Why::NoNotificationRule | Why::NoRuleForUrgency, Some(u)) => {
            let what = if r.code == Why::NoContactMethod {
                "Add a contact method"
            } else {
                "Add a notification rule"
            };
            if u == s.user.id {
                Some(("/profile#reach".into(), format!("{what} on your profile")))
            } else if admin {
                Some((
                    format!("/users/{u}/profile#reach"),
                    format!("{what} for {}", user_label(facts, u)),
                ))
            } else {
                None
            }
        }
        (Why::NobodyOnCall, _) => r
            .schedule_id
            .map(|id| (format!("/schedules/{id}"), "See the schedule".to_owned())),
        _ => edit(),
    }
}

fn policy_view(
    p: &EscalationPolicy,
    judged: Vec<LevelReach>,
    facts: &Facts,
    s: &WebSession,
) -> PolicyView {
    let view = |reason: &Reason| ReasonView {
        text: sentence(&reason.message),
        fix: fix_for(reason, s, p.id, facts),
    };
    let levels = p
        .plan
        .levels
        .iter()
        .zip(judged)
        .map(|(level, r)| {
            let targets: Vec<TargetView> = level
                .targets
                .iter()
                .map(|t| match *t {
                    Target::User(u) => TargetView {
                        label: user_label(facts, u),
                        href: s
                            .user
                            .role
                            .allows(Role::Admin)
                            .then(|| format!("/users/{u}/profile")),
                        schedule: false,
                    },
                    Target::Schedule(id) => TargetView {
                        label: schedule_label(facts, id),
                        href: Some(format!("/schedules/{id}")),
                        schedule: true,
                    },
                })
                .collect();
            let names: Vec<String> = targets
                .iter()
                .map(|t| {
                    if t.schedule {
                        format!("{} (schedule)", t.label)
                    } else {
                        t.label.clone()
                    }
                })
                .collect();
            LevelView {
                summary: format!(
                    "level {}: {} — {} min",
                    r.level,
                    names.join(", "),
                    level.delay_minutes
                ),
                number: r.level,
                delay: level.delay_minutes,
                targets,
                reachable: r.reachable,
                only_for: match r.unreachable_for.as_slice() {
                    [u] => Some(*u),
                    _ => None,
                },
                blocking: (r.reasons.iter())
                    .filter(|x| x.now && !r.reachable)
                    .map(view)
                    .collect(),
                notes: (r.reasons.iter())
                    .filter(|x| !x.now || r.reachable)
                    .map(view)
                    .collect(),
            }
        })
        .collect();
    PolicyView {
        id: p.id,
        name: p.name.clone(),
        description: p.description.clone(),
        repeat: p.plan.repeat,
        levels,
    }
}

fn sentence(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => format!("{}{}.", f.to_uppercase(), c.as_str()),
        None => String::new(),
    }
}

// --- the list, and adding a policy --------------------------------------------------------------

#[derive(Template)]
#[template(path = "escalation_policies.html")]
struct PoliciesPage {
    nav: Option<Nav>,
    policies: Vec<PolicyView>,
    can_admin: bool,
    csrf: String,
    form: PolicyForm,
}

async fn render_policies(
    state: &AppState,
    s: &WebSession,
    status: StatusCode,
    draft: &PolicyDraft,
    errors: FormErrors,
) -> PageResult {
    let policies = all_policies(state).await?;
    let plans: Vec<&Plan> = policies.iter().map(|p| &p.plan).collect();
    let facts = crate::shared::reach::facts(state.store.as_ref(), &plans, &[], s.now).await?;
    let views = policies
        .iter()
        .map(|p| policy_view(p, reach::plan_reach(&p.plan, &facts), &facts, s))
        .collect();
    let form = policy_form(
        state,
        draft,
        errors,
        "/escalation-policies".into(),
        "Add policy",
    )
    .await?;
    Ok(html(
        status,
        &PoliciesPage {
            nav: Some(Nav::new(s, "/escalation-policies")),
            policies: views,
            can_admin: s.user.role.allows(Role::Admin),
            csrf: s.session.csrf_token.clone(),
            form,
        },
    ))
}

async fn policies_page(State(state): State<AppState>, s: WebSession) -> PageResult {
    render_policies(
        &state,
        &s,
        StatusCode::OK,
        &PolicyDraft::empty(),
        FormErrors::default(),
    )
    .await
}

/// Runs the form's button: a level added or removed shows the form again; saving calls `save`
/// with the request and answers with where to go, or shows the form again with the errors.
async fn run_form<F, Fut>(
    pairs: Vec<(String, String)>,
    s: &WebSession,
    save: F,
) -> Result<Result<String, (StatusCode, PolicyDraft, FormErrors)>, axum::response::Response>
where
    F: FnOnce(CreatePolicy) -> Fut,
    Fut: std::future::Future<Output = Result<EscalationPolicyId, ApiError>>,
{
    let (csrf, action, mut draft) = PolicyDraft::from_pairs(pairs);
    s.check_csrf(&csrf)?;
    if !s.user.role.allows(Role::Admin) {
        return Err(forbidden("change escalation policies"));
    }
    if action != FormAction::Save {
        return Ok(Err(match draft.apply(action) {
            Ok(()) => (StatusCode::OK, draft, FormErrors::default()),
            Err(errors) => (StatusCode::BAD_REQUEST, draft, errors),
        }));
    }
    let outcome = match draft.to_request() {
        Ok((body, kept)) => save(body).await.map_err(|e| renumber(e, &kept)),
        Err(e) => Err(e),
    };
    match outcome {
        Ok(id) => Ok(Ok(format!("/escalation-policies/{id}"))),
        Err(e) => {
            let status = e.status();
            match FormErrors::from_error(e) {
                Ok(errors) => Ok(Err((status, draft, errors))),
                Err(e) => Err(e.into_response()),
            }
        }
    }
}

async fn add_policy(
    State(state): State<AppState>,
    s: WebSession,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let actor = Actor::User(s.user.id);
    let st = &state;
    let done = run_form(pairs, &s, |body| async move {
        super::api::create_policy_with(st, actor, body)
            .await
            .map(|p| p.id)
    })
    .await;
    match done {
        Err(page) => Ok(page),
        Ok(Ok(to)) => Ok(Redirect::to(&to).into_response()),
        Ok(Err((status, draft, errors))) => {
            render_policies(&state, &s, status, &draft, errors).await
        }
    }
}

// --- one policy ---------------------------------------------------------------------------------

pub struct ServiceLink {
    pub id: String,
    pub name: String,
}

#[derive(Template)]
#[template(path = "escalation_policy.html")]
struct PolicyPage {
    nav: Option<Nav>,
    policy: PolicyView,
    created_at: Timestamp,
    updated_at: Timestamp,
    services: Vec<ServiceLink>,
    can_admin: bool,
    csrf: String,
    /// Why the policy was not deleted, shown beside the delete button.
    delete_errors: FormErrors,
    reader: Reader,
}

/// The services paged through this policy.
async fn services_using(
    state: &AppState,
    id: EscalationPolicyId,
) -> Result<Vec<ServiceLink>, ApiError> {
    Ok(all_services(state)
        .await?
        .into_iter()
        .filter(|x| x.escalation_policy_id == Some(id))
        .map(|x| ServiceLink {
            id: x.id.to_string(),
            name: x.name,
        })
        .collect())
}

async fn find_policy(state: &AppState, raw: &str) -> Result<Option<EscalationPolicy>, ApiError> {
    let Ok(id) = raw.parse::<EscalationPolicyId>() else {
        return Ok(None);
    };
    match state.store.escalation_policy(id).await {
        Ok(p) => Ok(Some(p)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

async fn render_policy(
    state: &AppState,
    s: &WebSession,
    p: EscalationPolicy,
    status: StatusCode,
    delete_errors: FormErrors,
) -> PageResult {
    let facts = crate::shared::reach::facts(state.store.as_ref(), &[&p.plan], &[], s.now).await?;
    let judged = reach::plan_reach(&p.plan, &facts);
    let services = services_using(state, p.id).await?;
    Ok(html(
        status,
        &PolicyPage {
            nav: Some(Nav::new(s, "/escalation-policies")),
            policy: policy_view(&p, judged, &facts, s),
            created_at: p.created_at,
            updated_at: p.updated_at,
            services,
            can_admin: s.user.role.allows(Role::Admin),
            csrf: s.session.csrf_token.clone(),
            delete_errors,
            reader: s.reader(),
        },
    ))
}

async fn policy_page(
    State(state): State<AppState>,
    s: WebSession,
    Path(id): Path<String>,
) -> PageResult {
    match find_policy(&state, &id).await? {
        Some(p) => render_policy(&state, &s, p, StatusCode::OK, FormErrors::default()).await,
        None => Ok(not_found_page()),
    }
}

async fn delete_policy(
    State(state): State<AppState>,
    s: WebSession,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> PageResult {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    let Some(p) = find_policy(&state, &id).await? else {
        return Ok(not_found_page());
    };
    if !s.user.role.allows(Role::Admin) {
        return Ok(forbidden("delete escalation policies"));
    }
    match super::api::delete_policy_with(&state, Actor::User(s.user.id), p.id).await {
        Ok(()) => Ok(Redirect::to("/escalation-policies").into_response()),
        Err(ApiError::NotFound(_)) => Ok(not_found_page()),
        Err(e) => {
            let status = e.status();
            let errors = FormErrors::from_error(e)?;
            render_policy(&state, &s, p, status, errors).await
        }
    }
}

// --- editing ------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "escalation_policy_edit.html")]
struct EditPage {
    nav: Option<Nav>,
    id: EscalationPolicyId,
    saved_name: String,
    csrf: String,
    form: PolicyForm,
}

async fn render_edit(
    state: &AppState,
    s: &WebSession,
    p: &EscalationPolicy,
    status: StatusCode,
    draft: &PolicyDraft,
    errors: FormErrors,
) -> PageResult {
    let form = policy_form(
        state,
        draft,
        errors,
        format!("/escalation-policies/{}/edit", p.id),
        "Save changes",
    )
    .await?;
    Ok(html(
        status,
        &EditPage {
            nav: Some(Nav::new(s, "/escalation-policies")),
            id: p.id,
            saved_name: p.name.clone(),
            csrf: s.session.csrf_token.clone(),
            form,
        },
    ))
}

async fn edit_page(
    State(state): State<AppState>,
    s: WebSession,
    Path(id): Path<String>,
) -> PageResult {
    if !s.user.role.allows(Role::Admin) {
        return Ok(forbidden("change escalation policies"));
    }
    let Some(p) = find_policy(&state, &id).await? else {
        return Ok(not_found_page());
    };
    render_edit(
        &state,
        &s,
        &p,
        StatusCode::OK,
        &PolicyDraft::of(&p),
        FormErrors::default(),
    )
    .await
}

async fn edit_policy(
    State(state): State<AppState>,
    s: WebSession,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let Some(p) = find_policy(&state, &id).await? else {
        return Ok(not_found_page());
    };
    let actor = Actor::User(s.user.id);
    let (st, id) = (&state, p.id);
    let done = run_form(pairs, &s, |body| async move {
        let change = UpdatePolicy {
            name: Some(body.name),
            description: Some(body.description),
            levels: Some(body.levels),
            repeat: Some(body.repeat),
        };
        super::api::update_policy_with(st, actor, id, change)
            .await
            .map(|p| p.id)
    })
    .await;
    match done {
        Err(page) => Ok(page),
        Ok(Ok(to)) => Ok(Redirect::to(&to).into_response()),
        Ok(Err((status, draft, errors))) => {
            render_edit(&state, &s, &p, status, &draft, errors).await
        }
    }
}
