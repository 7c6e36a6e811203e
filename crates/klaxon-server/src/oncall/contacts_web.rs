//! How a person is reached, on their profile: contact methods of every kind, notification
//! rules, a warning when a page cannot reach them, and the recent pages. `/profile` is your
//! own; `/users/{id}/profile` is anyone's, for admins (adding a method for someone asks for
//! the admin's own password). Forms call the API's functions and, when refused, show the page
//! again with each error beside its field and what was typed kept (never the password).
use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use jiff::Timestamp;
use klaxon_domain::alert::Urgency;
use klaxon_domain::auth::Role;
use klaxon_domain::contact::ContactKind;
use klaxon_domain::escalation::Plan;
use klaxon_domain::event::Actor;
use klaxon_domain::ids::{ContactMethodId, NotificationRuleId, UserId};
use klaxon_domain::page::Limit;
use klaxon_domain::reach;
use klaxon_store::{ContactMethod, User};
use serde::Deserialize;

use super::api::{CreateContactMethod, CreateRule, UpdateContactMethod, UpdateRule};
use super::contact_kinds::{KindChoice, KindForm, kind_form};
use super::web::{NotificationRow, cannot_be_reached, notification_rows};
use crate::shared::error::ApiError;
use crate::shared::lists::all_policies;
use crate::shared::state::AppState;
use crate::shared::time::Reader;
use crate::shared::web::{CsrfForm, FormErrors, Nav, PageResult, WebSession, html};
use crate::shared::web::{forbidden, not_found_page};

pub fn router() -> Router<AppState> {
    let mut r = Router::new()
        .route("/profile", get(profile_page))
        .route("/users/{id}/profile", get(profile_page));
    // The same forms for your own profile and, for admins, anyone's.
    for base in ["/profile", "/users/{id}/profile"] {
        r = r
            .route(&format!("{base}/contact-methods"), post(add_method))
            .route(
                &format!("{base}/contact-methods/{{mid}}"),
                post(edit_method),
            )
            .route(
                &format!("{base}/contact-methods/{{mid}}/test"),
                post(test_method),
            )
            .route(
                &format!("{base}/contact-methods/{{mid}}/delete"),
                post(delete_method),
            )
            .route(&format!("{base}/notification-rules"), post(add_rule))
            .route(
                &format!("{base}/notification-rules/{{rid}}"),
                post(edit_rule),
            )
            .route(
                &format!("{base}/notification-rules/{{rid}}/delete"),
                post(delete_rule),
            );
    }
    r
}

// --- whose profile ------------------------------------------------------------------------------

/// The person a profile page is about, and where its forms post.
struct Whose {
    user: User,
    base: String,
    yours: bool,
}

/// Your own profile, or (admins) the one the path names.
async fn whose(
    state: &AppState,
    s: &WebSession,
    params: &HashMap<String, String>,
) -> Result<Result<Whose, Response>, ApiError> {
    let Some(raw) = params.get("id") else {
        return Ok(Ok(Whose {
            user: s.user.clone(),
            base: "/profile".into(),
            yours: true,
        }));
    };
    let Ok(id) = raw.parse::<UserId>() else {
        return Ok(Err(not_found_page()));
    };
    if id != s.user.id && !s.user.role.allows(Role::Admin) {
        return Ok(Err(forbidden("manage other people's contact methods")));
    }
    match state.store.user(id).await {
        Ok(user) => Ok(Ok(Whose {
            yours: user.id == s.user.id,
            base: format!("/users/{id}/profile"),
            user,
        })),
        Err(e) if e.is_not_found() => Ok(Err(not_found_page())),
        Err(e) => Err(e.into()),
    }
}

/// Resolves whose profile a request is about, or answers with the page that refuses it.
macro_rules! whose_or_answer {
    ($state:expr, $s:expr, $params:expr) => {
        match whose($state, $s, $params).await? {
            Ok(w) => w,
            Err(page) => return Ok(page),
        }
    };
}

// --- the page -----------------------------------------------------------------------------------

pub struct MethodRow {
    pub id: ContactMethodId,
    pub kind_name: &'static str,
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

/// The contact method form as typed: adding (a kind chosen) or changing one method.
#[derive(Default)]
struct MethodDraft {
    kind: Option<ContactKind>,
    editing: Option<ContactMethodId>,
    label: String,
    address: String,
}

/// The rule form as typed: adding, or changing one rule.
#[derive(Default)]
struct RuleDraft {
    editing: Option<NotificationRuleId>,
    contact_method_id: String,
    delay: String,
    urgency: String,
}

/// An option of a select box on the rule form.
pub struct SelectOption {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    nav: Option<Nav>,
    yours: bool,
    user_name: String,
    user_email: String,
    base: String,
    reach_warning: Option<String>,
    /// The policies that page this person, directly or through a schedule: (href, name).
    paged_by: Vec<(String, String)>,
    methods: Vec<MethodRow>,
    rules: Vec<RuleRow>,
    notifications: Vec<NotificationRow>,
    csrf: String,
    notice: Option<String>,
    error: Option<String>,
    revealed: Option<RevealedSecret>,
    // The contact method form.
    kinds: Vec<KindChoice>,
    missing_kinds: Option<String>,
    method_kind: Option<KindForm>,
    editing_method: Option<String>,
    method_label: String,
    method_address: String,
    method_errors: FormErrors,
    method_top: Vec<String>,
    // The rule form.
    editing_rule: Option<NotificationRuleId>,
    rule_methods: Vec<SelectOption>,
    rule_delay: String,
    rule_urgencies: Vec<SelectOption>,
    rule_errors: FormErrors,
    rule_top: Vec<String>,
    /// Your own on-call calendar's secret address (your profile only).
    calendar_url: Option<String>,
    reader: Reader,
}

#[derive(Default)]
struct Feedback {
    status: Option<StatusCode>,
    notice: Option<String>,
    error: Option<String>,
    revealed: Option<RevealedSecret>,
    method: MethodDraft,
    method_errors: FormErrors,
    rule: RuleDraft,
    rule_errors: FormErrors,
}

/// The newest notifications the profile lists.
const RECENT_NOTIFICATIONS: usize = 20;

/// What a page can say about reaching this person: the warning, and the policies that page them.
async fn reach_of(
    state: &AppState,
    w: &Whose,
    now: Timestamp,
) -> Result<(Option<String>, Vec<(String, String)>), ApiError> {
    let policies = all_policies(state).await?;
    let plans: Vec<&Plan> = policies.iter().map(|p| &p.plan).collect();
    let facts =
        crate::shared::reach::facts(state.store.as_ref(), &plans, &[w.user.id], now).await?;
    let warning = reach::person_gap(facts.people.get(&w.user.id))
        .map(|gap| cannot_be_reached(gap, w.yours, &w.user.name));
    let paged_by = policies
        .iter()
        .filter(|p| reach::pages_user(&p.plan, &facts, w.user.id))
        .map(|p| (format!("/escalation-policies/{}", p.id), p.name.clone()))
        .collect();
    Ok((warning, paged_by))
}

async fn render(state: &AppState, s: &WebSession, w: &Whose, fb: Feedback) -> PageResult {
    let who = w.user.id;
    let methods = state.store.list_contact_methods(who).await?;
    let labels: HashMap<ContactMethodId, String> = methods
        .iter()
        .map(|m| (m.id, format!("{} ({})", m.label, kind_form(m.kind).name)))
        .collect();
    let rules = state.store.list_notification_rules(who).await?;
    // The store reads oldest first: keep the newest few, newest first.
    let mut recent = state
        .store
        .list_notifications(None, Some(who), None, Limit::MAX)
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
    let (reach_warning, paged_by) = reach_of(state, w, s.now).await?;

    // The contact method form: the kind being added (chosen by a link), or the method edited.
    let available: Vec<ContactKind> = ContactKind::ALL
        .iter()
        .copied()
        .filter(|k| super::api::check_kind_with(&state.settings, *k).is_ok())
        .collect();
    let editing = fb
        .method
        .editing
        .and_then(|id| methods.iter().find(|m| m.id == id));
    let kind = match editing {
        Some(m) => Some(m.kind),
        None => fb
            .method
            .kind
            .filter(|k| available.contains(k))
            .or_else(|| available.first().copied()),
    };
    let kinds = available
        .iter()
        .map(|k| KindChoice {
            name: kind_form(*k).name,
            href: format!("{}?kind={}#add-method", w.base, k.as_str()),
            current: Some(*k) == kind,
        })
        .collect();
    let missing: Vec<&str> = [
        (
            ContactKind::Email,
            "e-mail needs the server's mail settings ([smtp])",
        ),
        (
            ContactKind::Sms,
            "SMS and voice calls need an SMS provider ([sms])",
        ),
    ]
    .into_iter()
    .filter(|(k, _)| !available.contains(k))
    .map(|(_, why)| why)
    .collect();
    let method_fields = ["kind", "label", "address", "password"];
    let rule_fields = ["contact_method_id", "delay_minutes", "urgency"];

    // The rule form: adding, or the rule edited.
    let edited_rule = fb
        .rule
        .editing
        .and_then(|id| rules.iter().find(|r| r.id == id));
    let (rule_method, rule_delay, rule_urgency) = match (edited_rule, fb.rule.delay.is_empty()) {
        (Some(r), true) => (
            r.contact_method_id.to_string(),
            r.delay_minutes.to_string(),
            r.urgency.as_str().to_owned(),
        ),
        (_, true) => (String::new(), "0".into(), "high".into()),
        (_, false) => (
            fb.rule.contact_method_id.clone(),
            fb.rule.delay.clone(),
            fb.rule.urgency.clone(),
        ),
    };
    Ok(html(
        fb.status.unwrap_or(StatusCode::OK),
        &ProfilePage {
            nav: Some(Nav::new(s, if w.yours { "/profile" } else { "/users" })),
            yours: w.yours,
            user_name: w.user.name.clone(),
            user_email: w.user.email.clone(),
            base: w.base.clone(),
            reach_warning,
            paged_by,
            rule_methods: methods
                .iter()
                .map(|m| SelectOption {
                    selected: m.id.to_string() == rule_method,
                    value: m.id.to_string(),
                    label: labels[&m.id].clone(),
                })
                .collect(),
            rule_delay,
            rule_urgencies: [("high", "high"), ("low", "low")]
                .into_iter()
                .map(|(v, l)| SelectOption {
                    value: v.into(),
                    label: l.into(),
                    selected: v == rule_urgency,
                })
                .collect(),
            editing_rule: edited_rule.map(|r| r.id),
            rules: rules
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
                .collect(),
            editing_method: editing.map(|m| m.id.to_string()),
            method_label: match (editing, fb.method.label.is_empty()) {
                (Some(m), true) => m.label.clone(),
                _ => fb.method.label.clone(),
            },
            method_address: match (editing, fb.method.address.is_empty()) {
                (Some(m), true) => m.address.clone(),
                _ => fb.method.address.clone(),
            },
            methods: methods
                .into_iter()
                .map(|m| MethodRow {
                    id: m.id,
                    kind_name: kind_form(m.kind).name,
                    label: m.label,
                    address: m.address,
                })
                .collect(),
            notifications,
            csrf: s.session.csrf_token.clone(),
            notice: fb.notice,
            error: fb.error,
            revealed: fb.revealed,
            kinds,
            missing_kinds: (!missing.is_empty()).then(|| {
                let mut t = missing.join("; ");
                t.push_str(": an admin sets them up (docs/oncall.md).");
                let mut c = t.chars();
                c.next()
                    .map(|f| f.to_uppercase().chain(c).collect())
                    .unwrap_or_default()
            }),
            method_kind: kind.map(kind_form),
            method_top: fb
                .method_errors
                .others(&method_fields)
                .into_iter()
                .map(str::to_owned)
                .collect(),
            method_errors: fb.method_errors,
            rule_top: fb
                .rule_errors
                .others(&rule_fields)
                .into_iter()
                .map(str::to_owned)
                .collect(),
            rule_errors: fb.rule_errors,
            calendar_url: if w.yours {
                Some(
                    crate::oncall::schedules::calendar::feed_url(
                        state,
                        crate::oncall::schedules::calendar::Feed::User(who),
                    )
                    .await?,
                )
            } else {
                None
            },
            reader: s.reader(),
        },
    ))
}

#[derive(Deserialize, Default)]
struct ProfileQuery {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    edit_method: Option<String>,
    #[serde(default)]
    edit_rule: Option<String>,
}

async fn profile_page(
    State(state): State<AppState>,
    s: WebSession,
    Path(params): Path<HashMap<String, String>>,
    Query(q): Query<ProfileQuery>,
) -> PageResult {
    let w = whose_or_answer!(&state, &s, &params);
    if w.yours && params.contains_key("id") {
        // Your own profile has one address.
        return Ok(Redirect::to("/profile").into_response());
    }
    let fb = Feedback {
        method: MethodDraft {
            kind: q.kind.and_then(|k| k.parse().ok()),
            editing: q.edit_method.and_then(|m| m.parse().ok()),
            ..MethodDraft::default()
        },
        rule: RuleDraft {
            editing: q.edit_rule.and_then(|r| r.parse().ok()),
            ..RuleDraft::default()
        },
        ..Feedback::default()
    };
    render(&state, &s, &w, fb).await
}

/// A refusal as form errors; a password check throttled is said beside the password.
fn refusal(e: ApiError) -> Result<(StatusCode, FormErrors), ApiError> {
    let status = e.status();
    if let ApiError::TooManyRequests { retry_after_secs } = e {
        let minutes = retry_after_secs.div_ceil(60);
        return Ok((
            status,
            FormErrors::field(
                "password",
                &format!("too many wrong passwords: try again in {minutes} min"),
            ),
        ));
    }
    Ok((status, FormErrors::from_error(e)?))
}

// --- contact methods ----------------------------------------------------------------------------

#[derive(Deserialize)]
struct MethodForm {
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    password: String,
}

async fn add_method(
    State(state): State<AppState>,
    s: WebSession,
    Path(params): Path<HashMap<String, String>>,
    Form(f): Form<MethodForm>,
) -> PageResult {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    let w = whose_or_answer!(&state, &s, &params);
    let kind = f.kind.parse::<ContactKind>();
    let outcome = match &kind {
        Ok(kind) => {
            let body = CreateContactMethod {
                kind: *kind,
                label: f.label.clone(),
                address: f.address.clone(),
                password: f.password,
            };
            super::api::create_contact_method_with(
                &state,
                Actor::User(s.user.id),
                &s.user,
                w.user.id,
                body,
            )
            .await
        }
        Err(e) => Err(e.clone().into()),
    };
    let fb = match outcome {
        Ok(added) => {
            let m = added.method;
            let mut notice = format!("Added {}.", m.label);
            if !added.first_rules.is_empty() {
                notice.push_str(if w.yours {
                    " It is your first way to be reached, so two notification rules now page you through it at once, one for high-urgency and one for low-urgency incidents; change them below."
                } else {
                    " It is their first way to be reached, so two notification rules now page them through it at once, one for high-urgency and one for low-urgency incidents; change them below."
                });
            }
            Feedback {
                notice: Some(notice),
                revealed: m.secret.map(|secret| RevealedSecret {
                    label: m.label,
                    secret,
                }),
                ..Feedback::default()
            }
        }
        Err(e) => {
            let (status, errors) = refusal(e)?;
            Feedback {
                status: Some(status),
                method: MethodDraft {
                    kind: kind.ok(),
                    editing: None,
                    label: f.label,
                    address: f.address,
                },
                method_errors: errors,
                ..Feedback::default()
            }
        }
    };
    render(&state, &s, &w, fb).await
}

/// One of the profile's person's contact methods.
async fn method_of(
    state: &AppState,
    user: UserId,
    params: &HashMap<String, String>,
) -> Result<Option<ContactMethod>, ApiError> {
    let Some(id) = params
        .get("mid")
        .and_then(|m| m.parse::<ContactMethodId>().ok())
    else {
        return Ok(None);
    };
    match state.store.contact_method(id).await {
        Ok(m) if m.user_id == user => Ok(Some(m)),
        Ok(_) => Ok(None),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

async fn edit_method(
    State(state): State<AppState>,
    s: WebSession,
    Path(params): Path<HashMap<String, String>>,
    Form(f): Form<MethodForm>,
) -> PageResult {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    let w = whose_or_answer!(&state, &s, &params);
    let Some(m) = method_of(&state, w.user.id, &params).await? else {
        return Ok(not_found_page());
    };
    let (id, old_address) = (m.id, m.address.clone());
    let body = UpdateContactMethod {
        label: Some(f.label.clone()),
        // Only a new address counts as re-addressing it.
        address: (f.address.trim() != old_address).then(|| f.address.clone()),
        password: f.password,
    };
    let outcome =
        super::api::update_contact_method_with(&state, Actor::User(s.user.id), &s.user, m, body)
            .await;
    let fb = match outcome {
        Ok(m) => Feedback {
            notice: Some(format!("Saved {}.", m.label)),
            ..Feedback::default()
        },
        Err(e) => {
            let (status, errors) = refusal(e)?;
            Feedback {
                status: Some(status),
                method: MethodDraft {
                    kind: None,
                    editing: Some(id),
                    label: f.label,
                    address: f.address,
                },
                method_errors: errors,
                ..Feedback::default()
            }
        }
    };
    render(&state, &s, &w, fb).await
}

/// The page after a button that names no field (test, remove): a notice, or why not at the top.
async fn after_button<T>(
    state: &AppState,
    s: &WebSession,
    w: &Whose,
    outcome: Result<T, ApiError>,
    done: impl FnOnce(T) -> String,
) -> PageResult {
    let fb = match outcome {
        Ok(v) => Feedback {
            notice: Some(done(v)),
            ..Feedback::default()
        },
        Err(e) => {
            let status = e.status();
            let errors = FormErrors::from_error(e)?;
            Feedback {
                status: Some(status),
                error: Some(errors.others(&[]).join(" ")),
                ..Feedback::default()
            }
        }
    };
    render(state, s, w, fb).await
}

async fn test_method(
    State(state): State<AppState>,
    s: WebSession,
    Path(params): Path<HashMap<String, String>>,
    Form(f): Form<CsrfForm>,
) -> PageResult {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    let w = whose_or_answer!(&state, &s, &params);
    let Some(m) = method_of(&state, w.user.id, &params).await? else {
        return Ok(not_found_page());
    };
    let outcome = super::api::test_contact_method_with(&state, Actor::User(s.user.id), &m).await;
    after_button(&state, &s, &w, outcome, |_| {
        format!(
            "Test notification to {} queued: it goes out in a moment.",
            m.label
        )
    })
    .await
}

async fn delete_method(
    State(state): State<AppState>,
    s: WebSession,
    Path(params): Path<HashMap<String, String>>,
    Form(f): Form<CsrfForm>,
) -> PageResult {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    let w = whose_or_answer!(&state, &s, &params);
    let Some(m) = method_of(&state, w.user.id, &params).await? else {
        return Ok(not_found_page());
    };
    let outcome = super::api::delete_contact_method_with(&state, Actor::User(s.user.id), &m).await;
    after_button(&state, &s, &w, outcome, |()| {
        format!("Removed {} and its rules.", m.label)
    })
    .await
}

// --- notification rules -------------------------------------------------------------------------

#[derive(Deserialize)]
struct RuleForm {
    csrf: String,
    #[serde(default)]
    contact_method_id: String,
    #[serde(default)]
    delay_minutes: String,
    #[serde(default)]
    urgency: String,
}

impl RuleForm {
    fn delay(&self) -> Result<u32, ApiError> {
        match self.delay_minutes.trim() {
            "" => Ok(0),
            n => n.parse::<u32>().map_err(|_| {
                ApiError::invalid("delay_minutes", "must be a whole number of minutes")
            }),
        }
    }

    fn draft(self, editing: Option<NotificationRuleId>) -> RuleDraft {
        RuleDraft {
            editing,
            contact_method_id: self.contact_method_id,
            delay: self.delay_minutes,
            urgency: self.urgency,
        }
    }
}

fn rule_words(r: &klaxon_store::NotificationRule) -> String {
    match r.delay_minutes {
        0 => format!("{} urgency, at once", r.urgency),
        n => format!("{} urgency, after {n} min", r.urgency),
    }
}

/// The page after the rule form: a notice, or the form again with the errors.
async fn after_rule_form(
    state: &AppState,
    s: &WebSession,
    w: &Whose,
    f: RuleForm,
    editing: Option<NotificationRuleId>,
    outcome: Result<String, ApiError>,
) -> PageResult {
    let fb = match outcome {
        Ok(notice) => Feedback {
            notice: Some(notice),
            ..Feedback::default()
        },
        Err(e) => {
            let (status, errors) = refusal(e)?;
            Feedback {
                status: Some(status),
                rule: f.draft(editing),
                rule_errors: errors,
                ..Feedback::default()
            }
        }
    };
    render(state, s, w, fb).await
}

async fn add_rule(
    State(state): State<AppState>,
    s: WebSession,
    Path(params): Path<HashMap<String, String>>,
    Form(f): Form<RuleForm>,
) -> PageResult {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    let w = whose_or_answer!(&state, &s, &params);
    let before = state.store.list_notification_rules(w.user.id).await?;
    let outcome = async {
        let body = CreateRule {
            contact_method_id: f.contact_method_id.clone(),
            delay_minutes: f.delay()?,
            urgency: Some(f.urgency.parse::<Urgency>()?),
        };
        let r =
            super::api::create_rule_with(&state, Actor::User(s.user.id), w.user.id, body).await?;
        Ok(if before.iter().any(|b| b.id == r.id) {
            format!("That rule is there already: {}.", rule_words(&r))
        } else {
            format!("Added a rule: {}.", rule_words(&r))
        })
    }
    .await;
    after_rule_form(&state, &s, &w, f, None, outcome).await
}

async fn edit_rule(
    State(state): State<AppState>,
    s: WebSession,
    Path(params): Path<HashMap<String, String>>,
    Form(f): Form<RuleForm>,
) -> PageResult {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    let w = whose_or_answer!(&state, &s, &params);
    let Some(id) = params
        .get("rid")
        .and_then(|r| r.parse::<NotificationRuleId>().ok())
    else {
        return Ok(not_found_page());
    };
    let outcome = async {
        let body = UpdateRule {
            contact_method_id: Some(f.contact_method_id.clone()),
            delay_minutes: Some(f.delay()?),
            urgency: Some(f.urgency.parse::<Urgency>()?),
        };
        let r = super::api::update_rule_with(&state, Actor::User(s.user.id), w.user.id, id, body)
            .await?;
        Ok(format!("Rule saved: {}.", rule_words(&r)))
    }
    .await;
    if let Err(ApiError::NotFound(_)) = outcome {
        return Ok(not_found_page());
    }
    after_rule_form(&state, &s, &w, f, Some(id), outcome).await
}

async fn delete_rule(
    State(state): State<AppState>,
    s: WebSession,
    Path(params): Path<HashMap<String, String>>,
    Form(f): Form<CsrfForm>,
) -> PageResult {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    let w = whose_or_answer!(&state, &s, &params);
    let Some(id) = params
        .get("rid")
        .and_then(|r| r.parse::<NotificationRuleId>().ok())
    else {
        return Ok(not_found_page());
    };
    let outcome = super::api::delete_rule_with(&state, Actor::User(s.user.id), w.user.id, id).await;
    after_button(&state, &s, &w, outcome, |()| "Rule removed.".into()).await
}
