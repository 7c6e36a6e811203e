//! Web pages for on-call: escalation policies, and each user's own contact methods and
//! notification rules. Forms call the same functions as the REST API (`crate::oncall::api`), so the
//! rules and events are the same whichever face is used.
use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use jiff::Timestamp;
use klaxon_domain::alert::Urgency;
use klaxon_domain::auth::Role;
use klaxon_domain::contact::ContactKind;
use klaxon_domain::escalation::{Level, Target};
use klaxon_domain::event::Actor;
use klaxon_domain::ids::{ContactMethodId, EscalationPolicyId, NotificationRuleId, UserId};
use klaxon_domain::page::Limit;
use klaxon_store::{ContactMethod, Notification};
use serde::Deserialize;

use crate::oncall::api::{CreateContactMethod, CreatePolicy, CreateRule};
use crate::shared::error::ApiError;
use crate::shared::lists::all_policies;
use crate::shared::lists::all_users;
use crate::shared::lists::user_names_or_ids;
use crate::shared::state::AppState;
use crate::shared::web::{Nav, WebSession, html};
use crate::shared::web::{PageResult, forbidden, not_found_page, user_error};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/escalation-policies", get(policies_page).post(add_policy))
        .route("/escalation-policies/{id}", get(policy_page))
        .route("/escalation-policies/{id}/delete", post(delete_policy))
        .route("/profile", get(profile_page))
        .route("/profile/contact-methods", post(add_method))
        .route("/profile/contact-methods/{id}/test", post(test_method))
        .route("/profile/contact-methods/{id}/delete", post(delete_method))
        .route("/profile/notification-rules", post(add_rule))
        .route("/profile/notification-rules/{id}/delete", post(delete_rule))
}

/// The levels the policy form offers; the API takes more.
const FORM_LEVELS: usize = 3;

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

// --- shared lookups -----------------------------------------------------------------------------

fn name_of(names: &HashMap<UserId, String>, id: UserId) -> String {
    names.get(&id).cloned().unwrap_or_else(|| id.to_string())
}

/// "level 1: Ada, Bob — 15 min", one line per level.
fn level_lines(levels: &[Level], names: &HashMap<UserId, String>) -> Vec<String> {
    levels
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let who: Vec<String> = l
                .targets
                .iter()
                .map(|t| match *t {
                    Target::User(u) => name_of(names, u),
                    Target::Schedule(s) => format!("schedule {s}"),
                })
                .collect();
            format!(
                "level {}: {} — {} min",
                i + 1,
                who.join(", "),
                l.delay_minutes
            )
        })
        .collect()
}

/// A line of a notification table: the incident page's, or a profile's recent ones.
pub struct NotificationRow {
    pub at: Timestamp,
    pub user: String,
    pub channel: String,
    pub status: String,
    pub attempts: u32,
    pub last_error: String,
    pub sent_at: Option<Timestamp>,
    pub test: bool,
}

pub(crate) async fn notification_rows(
    state: &AppState,
    items: Vec<Notification>,
) -> Result<Vec<NotificationRow>, ApiError> {
    let names = user_names_or_ids(state, items.iter().map(|n| n.user_id).collect()).await?;
    Ok(items
        .into_iter()
        .map(|n| NotificationRow {
            at: n.created_at,
            user: name_of(&names, n.user_id),
            channel: n.kind.as_str().to_owned(),
            status: n.status.as_str().to_owned(),
            attempts: n.attempts,
            last_error: n.last_error.unwrap_or_default(),
            sent_at: n.sent_at,
            test: n.incident_id.is_none(),
        })
        .collect())
}

/// The policy API names levels from 0 (`levels[0].delay_minutes`); the form calls it level 1.
fn form_field_names(message: String) -> String {
    let parsed = message.strip_prefix("levels[").and_then(|rest| {
        let (n, rest) = rest.split_once(']')?;
        let n: usize = n.parse().ok()?;
        Some(format!(
            "level {}{}",
            n + 1,
            rest.strip_prefix('.')
                .map(|r| format!(" {r}"))
                .unwrap_or_else(|| rest.to_owned())
        ))
    });
    parsed.unwrap_or(message)
}

// --- escalation policies ------------------------------------------------------------------------

pub struct PolicyRow {
    pub id: EscalationPolicyId,
    pub name: String,
    pub description: String,
    pub levels: Vec<String>,
    pub repeat: u32,
}

pub struct UserOption {
    pub id: String,
    pub label: String,
    pub selected: bool,
}

/// One level of the form as it was filled in (or empty).
pub struct LevelDraft {
    pub number: usize,
    pub delay: String,
    pub users: Vec<UserOption>,
}

/// The policy form's values, kept when it is refused.
#[derive(Default)]
struct PolicyDraft {
    name: String,
    description: String,
    repeat: String,
    delays: [String; FORM_LEVELS],
    users: [Vec<String>; FORM_LEVELS],
}

impl PolicyDraft {
    fn empty() -> Self {
        let mut d = Self {
            repeat: "0".into(),
            ..Default::default()
        };
        d.delays[0] = "15".into();
        d
    }

    /// Reads the form's fields; the users of a level come as repeated `users<N>` fields.
    fn from_pairs(pairs: Vec<(String, String)>) -> (String, Self) {
        let mut csrf = String::new();
        let mut d = Self::default();
        for (k, v) in pairs {
            match k.as_str() {
                "csrf" => csrf = v,
                "name" => d.name = v,
                "description" => d.description = v,
                "repeat" => d.repeat = v,
                _ => {
                    let slot = |prefix: &str| {
                        k.strip_prefix(prefix)
                            .and_then(|n| n.parse::<usize>().ok())
                            .filter(|n| (1..=FORM_LEVELS).contains(n))
                            .map(|n| n - 1)
                    };
                    if let Some(i) = slot("delay") {
                        d.delays[i] = v;
                    } else if let Some(i) = slot("users") {
                        d.users[i].push(v);
                    }
                }
            }
        }
        (csrf, d)
    }

    /// The API's request: levels left entirely blank are left out.
    fn to_request(&self) -> Result<CreatePolicy, ApiError> {
        let mut levels = Vec::new();
        for i in 0..FORM_LEVELS {
            let delay = self.delays[i].trim();
            if delay.is_empty() && self.users[i].is_empty() {
                continue;
            }
            let n = levels.len();
            let delay_minutes = delay.parse::<u32>().map_err(|_| {
                ApiError::invalid(
                    format!("levels[{n}].delay_minutes"),
                    "must be a whole number of minutes",
                )
            })?;
            let mut targets = Vec::new();
            for raw in &self.users[i] {
                let id = raw.parse::<UserId>().map_err(|_| {
                    ApiError::invalid(format!("levels[{n}].targets"), "is not a user id")
                })?;
                targets.push(Target::User(id));
            }
            levels.push(Level {
                delay_minutes,
                targets,
            });
        }
        let repeat = match self.repeat.trim() {
            "" => 0,
            r => r
                .parse::<u32>()
                .map_err(|_| ApiError::invalid("repeat", "must be a whole number"))?,
        };
        Ok(CreatePolicy {
            name: self.name.clone(),
            description: self.description.clone(),
            levels,
            repeat,
        })
    }
}

#[derive(Template)]
#[template(path = "escalation_policies.html")]
struct PoliciesPage {
    nav: Option<Nav>,
    policies: Vec<PolicyRow>,
    can_admin: bool,
    csrf: String,
    error: Option<String>,
    name: String,
    description: String,
    repeat: String,
    levels: Vec<LevelDraft>,
}

async fn render_policies(
    state: &AppState,
    s: &WebSession,
    status: StatusCode,
    error: Option<String>,
    draft: PolicyDraft,
) -> PageResult {
    let users = all_users(state).await?;
    let mut names: HashMap<UserId, String> = users.iter().map(|u| (u.id, u.name.clone())).collect();
    let policies = all_policies(state).await?;
    // Targets are checked when a policy is saved, but a user may be gone since.
    let missing: Vec<UserId> = policies
        .iter()
        .flat_map(|p| p.plan.users())
        .filter(|u| !names.contains_key(u))
        .collect();
    names.extend(user_names_or_ids(state, missing).await?);
    let levels = (0..FORM_LEVELS)
        .map(|i| LevelDraft {
            number: i + 1,
            delay: draft.delays[i].clone(),
            users: users
                .iter()
                .map(|u| {
                    let id = u.id.to_string();
                    UserOption {
                        selected: draft.users[i].contains(&id),
                        id,
                        label: format!("{} ({})", u.name, u.email),
                    }
                })
                .collect(),
        })
        .collect();
    Ok(html(
        status,
        &PoliciesPage {
            nav: Some(Nav::new(s, "/escalation-policies")),
            policies: policies
                .into_iter()
                .map(|p| PolicyRow {
                    levels: level_lines(&p.plan.levels, &names),
                    repeat: p.plan.repeat,
                    id: p.id,
                    name: p.name,
                    description: p.description,
                })
                .collect(),
            can_admin: s.user.role.allows(Role::Admin),
            csrf: s.session.csrf_token.clone(),
            error,
            name: draft.name,
            description: draft.description,
            repeat: draft.repeat,
            levels,
        },
    ))
}

async fn policies_page(State(state): State<AppState>, s: WebSession) -> PageResult {
    render_policies(&state, &s, StatusCode::OK, None, PolicyDraft::empty()).await
}

async fn add_policy(
    State(state): State<AppState>,
    s: WebSession,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let (csrf, draft) = PolicyDraft::from_pairs(pairs);
    if let Err(r) = s.check_csrf(&csrf) {
        return Ok(r);
    }
    if !s.user.role.allows(Role::Admin) {
        return Ok(forbidden("add escalation policies"));
    }
    let outcome = match draft.to_request() {
        Ok(body) => super::api::create_policy_with(&state, Actor::User(s.user.id), body).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(p) => Ok(Redirect::to(&format!("/escalation-policies/{}", p.id)).into_response()),
        Err(e) => {
            let msg = form_field_names(user_error(e)?);
            render_policies(&state, &s, StatusCode::BAD_REQUEST, Some(msg), draft).await
        }
    }
}

pub struct ServiceLink {
    pub id: String,
    pub name: String,
}

#[derive(Template)]
#[template(path = "escalation_policy.html")]
struct PolicyPage {
    nav: Option<Nav>,
    policy: PolicyRow,
    created_at: Timestamp,
    updated_at: Timestamp,
    services: Vec<ServiceLink>,
    can_admin: bool,
    csrf: String,
    error: Option<String>,
}

/// The services paged through this policy.
async fn services_using(
    state: &AppState,
    id: EscalationPolicyId,
) -> Result<Vec<ServiceLink>, ApiError> {
    Ok(crate::shared::lists::all_services(state)
        .await?
        .into_iter()
        .filter(|x| x.escalation_policy_id == Some(id))
        .map(|x| ServiceLink {
            id: x.id.to_string(),
            name: x.name,
        })
        .collect())
}

async fn render_policy(
    state: &AppState,
    s: &WebSession,
    id: EscalationPolicyId,
    status: StatusCode,
    error: Option<String>,
) -> PageResult {
    let p = match state.store.escalation_policy(id).await {
        Ok(p) => p,
        Err(e) if e.is_not_found() => return Ok(not_found_page()),
        Err(e) => return Err(e.into()),
    };
    let names = user_names_or_ids(state, p.plan.users().collect()).await?;
    let services = services_using(state, id).await?;
    Ok(html(
        status,
        &PolicyPage {
            nav: Some(Nav::new(s, "/escalation-policies")),
            created_at: p.created_at,
            updated_at: p.updated_at,
            policy: PolicyRow {
                levels: level_lines(&p.plan.levels, &names),
                repeat: p.plan.repeat,
                id: p.id,
                name: p.name,
                description: p.description,
            },
            services,
            can_admin: s.user.role.allows(Role::Admin),
            csrf: s.session.csrf_token.clone(),
            error,
        },
    ))
}

async fn policy_page(
    State(state): State<AppState>,
    s: WebSession,
    Path(id): Path<String>,
) -> PageResult {
    let Ok(id) = id.parse::<EscalationPolicyId>() else {
        return Ok(not_found_page());
    };
    render_policy(&state, &s, id, StatusCode::OK, None).await
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
    let Ok(id) = id.parse::<EscalationPolicyId>() else {
        return Ok(not_found_page());
    };
    if !s.user.role.allows(Role::Admin) {
        return Ok(forbidden("delete escalation policies"));
    }
    match super::api::delete_policy_with(&state, Actor::User(s.user.id), id).await {
        Ok(()) => Ok(Redirect::to("/escalation-policies").into_response()),
        Err(ApiError::NotFound(_)) => Ok(not_found_page()),
        Err(e) => {
            let msg = user_error(e)?;
            render_policy(&state, &s, id, StatusCode::CONFLICT, Some(msg)).await
        }
    }
}

// --- profile: contact methods and notification rules --------------------------------------------

pub struct MethodRow {
    pub id: ContactMethodId,
    pub kind: String,
    pub label: String,
    pub address: String,
}

pub struct RuleRow {
    pub id: NotificationRuleId,
    pub method: String,
    pub delay_minutes: u32,
    pub urgency: String,
}

/// A webhook's signing secret, shown once in the answer that created it.
pub struct RevealedSecret {
    pub label: String,
    pub secret: String,
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    nav: Option<Nav>,
    user_name: String,
    user_email: String,
    methods: Vec<MethodRow>,
    rules: Vec<RuleRow>,
    notifications: Vec<NotificationRow>,
    kinds: Vec<KindOption>,
    csrf: String,
    notice: Option<String>,
    error: Option<String>,
    revealed: Option<RevealedSecret>,
    label: String,
    address: String,
    /// The secret address of the user's own on-call calendar.
    calendar_url: String,
}

/// A contact method kind the form offers: those the API takes today.
pub struct KindOption {
    pub name: &'static str,
    pub selected: bool,
}

#[derive(Default)]
struct ProfileFeedback {
    status: Option<StatusCode>,
    notice: Option<String>,
    error: Option<String>,
    revealed: Option<RevealedSecret>,
    /// The contact method form's values (never the password), kept when it is refused.
    kind: String,
    label: String,
    address: String,
}

/// The newest notifications the profile lists.
const RECENT_NOTIFICATIONS: usize = 20;

async fn render_profile(state: &AppState, s: &WebSession, fb: ProfileFeedback) -> PageResult {
    let me = s.user.id;
    let methods = state.store.list_contact_methods(me).await?;
    let labels: HashMap<ContactMethodId, String> = methods
        .iter()
        .map(|m| (m.id, format!("{} ({})", m.label, m.kind)))
        .collect();
    let rules = state
        .store
        .list_notification_rules(me)
        .await?
        .into_iter()
        .map(|r| RuleRow {
            id: r.id,
            method: labels
                .get(&r.contact_method_id)
                .cloned()
                .unwrap_or_else(|| r.contact_method_id.to_string()),
            delay_minutes: r.delay_minutes,
            urgency: r.urgency.as_str().to_owned(),
        })
        .collect();
    // The store reads oldest first: keep the newest few, newest first.
    let mut recent = state
        .store
        .list_notifications(None, Some(me), None, Limit::MAX)
        .await?;
    recent.reverse();
    recent.truncate(RECENT_NOTIFICATIONS);
    let mut notifications = notification_rows(state, recent).await?;
    if !s.user.role.allows(Role::Admin) {
        // How a test failed ("could not connect", "refused it: 404") would let anyone probe
        // the networks an admin allowed; admins see it here and in the log.
        for n in notifications
            .iter_mut()
            .filter(|n| n.test && !n.last_error.is_empty())
        {
            n.last_error = "the test did not go through; an admin can see why".into();
        }
    }
    Ok(html(
        fb.status.unwrap_or(StatusCode::OK),
        &ProfilePage {
            nav: Some(Nav::new(s, "/profile")),
            user_name: s.user.name.clone(),
            user_email: s.user.email.clone(),
            methods: methods
                .into_iter()
                .map(|m| MethodRow {
                    id: m.id,
                    kind: m.kind.as_str().to_owned(),
                    label: m.label,
                    address: m.address,
                })
                .collect(),
            rules,
            notifications,
            kinds: ContactKind::ALL
                .iter()
                .copied()
                .filter(|k| super::api::check_kind_with(&state.settings, *k).is_ok())
                .map(|k| KindOption {
                    name: k.as_str(),
                    selected: k.as_str() == fb.kind,
                })
                .collect(),
            csrf: s.session.csrf_token.clone(),
            notice: fb.notice,
            error: fb.error,
            revealed: fb.revealed,
            label: fb.label,
            address: fb.address,
            calendar_url: crate::oncall::schedules::calendar::feed_url(
                state,
                crate::oncall::schedules::calendar::Feed::User(me),
            )
            .await?,
        },
    ))
}

async fn profile_page(State(state): State<AppState>, s: WebSession) -> PageResult {
    render_profile(&state, &s, ProfileFeedback::default()).await
}

/// Renders the profile after a form: a notice on success, the reason on refusal.
async fn after_profile_form<T>(
    state: &AppState,
    s: &WebSession,
    outcome: Result<T, ApiError>,
    ok: impl FnOnce(T) -> ProfileFeedback,
) -> PageResult {
    let fb = match outcome {
        Ok(v) => ok(v),
        Err(e) => ProfileFeedback {
            status: Some(StatusCode::BAD_REQUEST),
            error: Some(user_error(e)?),
            ..Default::default()
        },
    };
    render_profile(state, s, fb).await
}

#[derive(Deserialize)]
struct AddMethodForm {
    csrf: String,
    kind: String,
    label: String,
    address: String,
    #[serde(default)]
    password: String,
}

async fn add_method(
    State(state): State<AppState>,
    s: WebSession,
    Form(f): Form<AddMethodForm>,
) -> PageResult {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    let outcome = match f.kind.parse::<ContactKind>() {
        Ok(kind) => {
            let body = CreateContactMethod {
                kind,
                label: f.label.clone(),
                address: f.address.clone(),
                password: f.password,
            };
            super::api::create_contact_method_with(
                &state,
                Actor::User(s.user.id),
                &s.user,
                s.user.id,
                body,
            )
            .await
        }
        Err(e) => Err(e.into()),
    };
    let fb = match outcome {
        Ok(m) => ProfileFeedback {
            notice: Some(format!("Added {}.", m.label)),
            revealed: m.secret.map(|secret| RevealedSecret {
                label: m.label,
                secret,
            }),
            ..Default::default()
        },
        Err(e) => ProfileFeedback {
            status: Some(StatusCode::BAD_REQUEST),
            error: Some(user_error(e)?),
            kind: f.kind,
            label: f.label,
            address: f.address,
            ..Default::default()
        },
    };
    render_profile(&state, &s, fb).await
}

/// One of the signed-in user's own contact methods.
async fn my_method(
    state: &AppState,
    s: &WebSession,
    raw: &str,
) -> Result<Option<ContactMethod>, ApiError> {
    let Ok(id) = raw.parse::<ContactMethodId>() else {
        return Ok(None);
    };
    match state.store.contact_method(id).await {
        Ok(m) if m.user_id == s.user.id => Ok(Some(m)),
        Ok(_) => Ok(None),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

async fn test_method(
    State(state): State<AppState>,
    s: WebSession,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> PageResult {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    let Some(m) = my_method(&state, &s, &id).await? else {
        return Ok(not_found_page());
    };
    let outcome = super::api::test_contact_method_with(&state, Actor::User(s.user.id), &m).await;
    after_profile_form(&state, &s, outcome, |_| ProfileFeedback {
        notice: Some(format!(
            "Test notification to {} queued: it goes out in a moment.",
            m.label
        )),
        ..Default::default()
    })
    .await
}

async fn delete_method(
    State(state): State<AppState>,
    s: WebSession,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> PageResult {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    let Some(m) = my_method(&state, &s, &id).await? else {
        return Ok(not_found_page());
    };
    let outcome = super::api::delete_contact_method_with(&state, Actor::User(s.user.id), &m).await;
    after_profile_form(&state, &s, outcome, |()| ProfileFeedback {
        notice: Some(format!("Removed {} and its rules.", m.label)),
        ..Default::default()
    })
    .await
}

#[derive(Deserialize)]
struct AddRuleForm {
    csrf: String,
    contact_method_id: String,
    #[serde(default)]
    delay_minutes: String,
    urgency: String,
}

async fn add_rule(
    State(state): State<AppState>,
    s: WebSession,
    Form(f): Form<AddRuleForm>,
) -> PageResult {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    let outcome = async {
        let delay_minutes = match f.delay_minutes.trim() {
            "" => 0,
            n => n.parse::<u32>().map_err(|_| {
                ApiError::invalid("delay_minutes", "must be a whole number of minutes")
            })?,
        };
        let body = CreateRule {
            contact_method_id: f.contact_method_id.clone(),
            delay_minutes,
            urgency: Some(f.urgency.parse::<Urgency>()?),
        };
        super::api::create_rule_with(&state, Actor::User(s.user.id), s.user.id, body).await
    }
    .await;
    after_profile_form(&state, &s, outcome, |r| ProfileFeedback {
        notice: Some(format!(
            "Added a rule: {} urgency, after {} min.",
            r.urgency, r.delay_minutes
        )),
        ..Default::default()
    })
    .await
}

async fn delete_rule(
    State(state): State<AppState>,
    s: WebSession,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> PageResult {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    let Ok(id) = id.parse::<NotificationRuleId>() else {
        return Ok(not_found_page());
    };
    let outcome = super::api::delete_rule_with(&state, Actor::User(s.user.id), s.user.id, id).await;
    after_profile_form(&state, &s, outcome, |()| ProfileFeedback {
        notice: Some("Rule removed.".into()),
        ..Default::default()
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_fields_are_named_as_the_form_numbers_them() {
        assert_eq!(
            form_field_names("levels[0].delay_minutes: must be between 1 and 1440".into()),
            "level 1 delay_minutes: must be between 1 and 1440"
        );
        assert_eq!(
            form_field_names("levels[2].targets: needs at least one target".into()),
            "level 3 targets: needs at least one target"
        );
        assert_eq!(
            form_field_names("levels: needs at least one level".into()),
            "levels: needs at least one level"
        );
        assert_eq!(
            form_field_names("name: must not be empty".into()),
            "name: must not be empty"
        );
    }

    #[test]
    fn blank_levels_are_left_out_and_users_repeat() {
        let pairs = [
            ("csrf", "t"),
            ("name", "Primary"),
            ("repeat", "2"),
            ("delay1", "15"),
            ("users1", "0195b6c8-0000-7000-8000-000000000001"),
            ("users1", "0195b6c8-0000-7000-8000-000000000002"),
            ("delay2", ""),
            ("delay3", "30"),
            ("users3", "0195b6c8-0000-7000-8000-000000000001"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .to_vec();
        let (csrf, draft) = PolicyDraft::from_pairs(pairs);
        assert_eq!(csrf, "t");
        let body = draft.to_request().unwrap();
        assert_eq!(body.repeat, 2);
        assert_eq!(body.levels.len(), 2);
        assert_eq!(body.levels[0].targets.len(), 2);
        assert_eq!(body.levels[1].delay_minutes, 30);
        // A level with people but no delay names the level as the API counts it.
        let (_, draft) = PolicyDraft::from_pairs(vec![
            ("name".into(), "P".into()),
            (
                "users2".into(),
                "0195b6c8-0000-7000-8000-000000000001".into(),
            ),
        ]);
        let e = draft.to_request().err().unwrap();
        assert_eq!(
            e.to_string(),
            "levels[0].delay_minutes: must be a whole number of minutes"
        );
    }
}
