//! Web pages for services, integrations, maintenance and alerts. Forms call the same functions
//! as the REST API, so the rules and events are the same whichever face is used.
use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use jiff::{SignedDuration, Timestamp};
use klaxon_domain::alert::{AlertStatus, Grouping, IntegrationKind, UrgencyRule};
use klaxon_domain::auth::Role;
use klaxon_domain::event::{Actor, SubjectType};
use klaxon_domain::ids::{EscalationPolicyId, IntegrationId, MaintenanceWindowId, ServiceId};
use klaxon_domain::page::Limit;
use klaxon_store::{Alert, AlertFilter, Event, Integration, MaintenanceWindow, Service};
use serde::Deserialize;

use crate::alerts::api::{CreateIntegration, CreateService, IntegrationWithKeyOut, UpdateService};
use crate::alerts::maintenance::CreateMaintenance;
use crate::shared::error::ApiError;
use crate::shared::state::AppState;
use crate::shared::time::Reader;
use crate::shared::web::CsrfForm;
use crate::shared::web::PageResult;
use crate::shared::web::forbidden;
use crate::shared::web::not_found_page;
use crate::shared::web::{FormErrors, Refused};
use crate::shared::web::{Nav, WebSession, html, next_cursor, page_cursor};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/services", get(services_page).post(add_service))
        .route("/services/{id}", get(service_page))
        .route("/services/{id}/delete", post(delete_service))
        .route("/services/{id}/escalation-policy", post(set_policy))
        .route("/services/{id}/integrations", post(add_integration))
        .route("/services/{id}/maintenance", post(start_maintenance))
        .route(
            "/services/{id}/maintenance/{window}/delete",
            post(end_maintenance),
        )
        .route("/integrations/{id}/rotate", post(rotate_key))
        .route("/integrations/{id}/delete", post(delete_integration))
        .route("/alerts", get(alerts_page))
        .merge(super::alert_page::router())
}

fn grouping_text(g: &Grouping) -> String {
    match g {
        Grouping::None => "one incident per alert".into(),
        Grouping::Time { window_minutes: 0 } => "join the open incident".into(),
        Grouping::Time { window_minutes } => {
            format!("join an incident opened in the last {window_minutes} min")
        }
        Grouping::Content {
            fields,
            aggregate,
            window_minutes,
        } => {
            let names: Vec<String> = fields.iter().map(|f| f.name()).collect();
            format!(
                "same {} ({aggregate}) within {window_minutes} min",
                names.join(", ")
            )
        }
    }
}

// --- services list -----------------------------------------------------------------------------

pub struct ServiceRow {
    pub id: ServiceId,
    pub name: String,
    pub description: String,
    pub urgency_rule: UrgencyRule,
    pub grouping_text: String,
    /// The escalation policy's id and name; `None` pages nobody.
    pub policy: Option<(String, String)>,
}

/// An escalation policy to pick in a select.
pub struct PolicyOption {
    pub id: String,
    pub name: String,
    pub selected: bool,
}

fn policy_options(
    policies: &[klaxon_store::EscalationPolicy],
    current: Option<EscalationPolicyId>,
) -> Vec<PolicyOption> {
    policies
        .iter()
        .map(|p| PolicyOption {
            id: p.id.to_string(),
            name: p.name.clone(),
            selected: Some(p.id) == current,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "services.html")]
struct ServicesPage {
    nav: Option<Nav>,
    services: Vec<ServiceRow>,
    next_cursor: Option<String>,
    can_admin: bool,
    csrf: String,
    /// What was typed, kept when the form was refused.
    form: AddServiceForm,
    errors: FormErrors,
    policies: Vec<PolicyOption>,
}

impl ServicesPage {
    /// ` aria-invalid="true" aria-describedby="ID-error"` for a refused field.
    fn invalid(&self, field: &str, id: &str) -> String {
        if self.errors.get(field).is_some() {
            format!(r#" aria-invalid="true" aria-describedby="{id}-error""#)
        } else {
            String::new()
        }
    }
}

#[derive(Deserialize)]
struct CursorQuery {
    cursor: Option<String>,
}

async fn render_services(
    state: &AppState,
    s: &WebSession,
    cursor: Option<&str>,
    status: StatusCode,
    form: AddServiceForm,
    errors: FormErrors,
) -> PageResult {
    let page = state
        .store
        .list_services(page_cursor(cursor), Limit::DEFAULT.get())
        .await?;
    let policies = crate::shared::lists::all_policies(state).await?;
    let policy_name = |id: Option<EscalationPolicyId>| {
        let id = id?;
        let name = policies
            .iter()
            .find(|p| p.id == id)
            .map_or_else(|| id.to_string(), |p| p.name.clone());
        Some((id.to_string(), name))
    };
    Ok(html(
        status,
        &ServicesPage {
            nav: Some(Nav::new(s, "/services")),
            services: page
                .items
                .into_iter()
                .map(|x| ServiceRow {
                    grouping_text: grouping_text(&x.grouping),
                    policy: policy_name(x.escalation_policy_id),
                    id: x.id,
                    name: x.name,
                    description: x.description,
                    urgency_rule: x.urgency_rule,
                })
                .collect(),
            next_cursor: next_cursor(page.next),
            can_admin: s.user.role.allows(Role::Admin),
            csrf: s.session.csrf_token.clone(),
            policies: policy_options(&policies, form.escalation_policy_id.parse().ok()),
            form,
            errors,
        },
    ))
}

async fn services_page(
    State(state): State<AppState>,
    s: WebSession,
    Query(q): Query<CursorQuery>,
) -> PageResult {
    let blank = AddServiceForm {
        urgency_rule: "severity_based".into(),
        window_minutes: "10".into(),
        ..Default::default()
    };
    let cursor = q.cursor.as_deref();
    render_services(
        &state,
        &s,
        cursor,
        StatusCode::OK,
        blank,
        FormErrors::default(),
    )
    .await
}

#[derive(Deserialize, Default)]
struct AddServiceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    urgency_rule: String,
    #[serde(default)]
    grouping: String,
    #[serde(default)]
    window_minutes: String,
    #[serde(default)]
    escalation_policy_id: String,
}

async fn add_service(
    State(state): State<AppState>,
    s: WebSession,
    Form(f): Form<AddServiceForm>,
) -> PageResult {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    if !s.user.role.allows(Role::Admin) {
        return Ok(forbidden("add services"));
    }
    let parsed = (|| {
        let urgency_rule = f.urgency_rule.parse::<UrgencyRule>()?;
        let grouping = match f.grouping.as_str() {
            "time" => Grouping::Time {
                window_minutes: f.window_minutes.trim().parse().map_err(|_| {
                    ApiError::invalid("window_minutes", "must be a whole number of minutes")
                })?,
            },
            _ => Grouping::None,
        };
        Ok::<_, ApiError>(CreateService {
            name: f.name.clone(),
            description: f.description.clone(),
            urgency_rule: Some(urgency_rule),
            grouping: Some(grouping),
            auto_resolve: Some(true),
            escalation_policy_id: Some(f.escalation_policy_id.trim().to_owned())
                .filter(|p| !p.is_empty()),
        })
    })();
    let outcome = match parsed {
        Ok(body) => super::api::create_service_with(&state, Actor::User(s.user.id), body).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(created) => Ok(Redirect::to(&format!("/services/{}", created.id)).into_response()),
        Err(e) => {
            let status = e.status();
            let errors = FormErrors::from_error(e)?;
            render_services(&state, &s, None, status, f, errors).await
        }
    }
}

// --- one service -------------------------------------------------------------------------------

pub struct Revealed {
    pub name: String,
    pub kind: String,
    pub key: String,
    pub endpoint: String,
}

impl From<IntegrationWithKeyOut> for Revealed {
    fn from(o: IntegrationWithKeyOut) -> Self {
        Self {
            name: o.integration.name,
            kind: o.integration.kind.as_str().to_owned(),
            key: o.key,
            endpoint: o.endpoint,
        }
    }
}

#[derive(Template)]
#[template(path = "service.html")]
struct ServicePage {
    nav: Option<Nav>,
    reader: Reader,
    service: Service,
    grouping_text: String,
    integrations: Vec<Integration>,
    windows: Vec<MaintenanceWindow>,
    alerts: Vec<Alert>,
    changes: Vec<TimelineRow>,
    /// The escalation policy's id and name; `None` pages nobody.
    policy: Option<(String, String)>,
    /// Levels of that policy that reach nobody now, in words (`shared::reach`).
    unreachable: Vec<String>,
    policies: Vec<PolicyOption>,
    can_admin: bool,
    can_respond: bool,
    csrf: String,
    notice: Option<String>,
    /// The form refused, why, and what was typed in it.
    refused: Refused,
    revealed: Option<Revealed>,
}

#[derive(Default)]
struct Feedback {
    status: Option<StatusCode>,
    notice: Option<String>,
    refused: Refused,
    revealed: Option<Revealed>,
}

async fn render_service(
    state: &AppState,
    s: &WebSession,
    id: ServiceId,
    fb: Feedback,
) -> PageResult {
    let service = match state.store.service(id).await {
        Ok(x) => x,
        Err(e) if e.is_not_found() => return Ok(not_found_page()),
        Err(e) => return Err(e.into()),
    };
    let integrations = state.store.list_integrations(id).await?;
    let windows = state.store.list_maintenance(id, state.clock.now()).await?;
    let mut alerts = Vec::new();
    for status in [AlertStatus::Triggered, AlertStatus::Acknowledged] {
        let filter = AlertFilter {
            service_id: Some(id),
            status: Some(status),
            ..Default::default()
        };
        alerts.extend(
            state
                .store
                .list_alerts(&filter, None, Limit::DEFAULT.get())
                .await?
                .items,
        );
    }
    // The newest 20 of the service's timeline (the store reads events oldest first).
    let mut changes: Vec<TimelineRow> = state
        .store
        .events(SubjectType::Service, &id.to_string(), None, Limit::MAX)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    changes.reverse();
    changes.truncate(20);
    let policies = crate::shared::lists::all_policies(state).await?;
    let policy = service.escalation_policy_id.map(|id| {
        let name = policies
            .iter()
            .find(|p| p.id == id)
            .map_or_else(|| id.to_string(), |p| p.name.clone());
        (id.to_string(), name)
    });
    let unreachable = match service.escalation_policy_id {
        Some(p) => crate::shared::reach::policy_warnings(state, p).await?,
        None => Vec::new(),
    };
    Ok(html(
        fb.status.unwrap_or(StatusCode::OK),
        &ServicePage {
            unreachable,
            changes,
            policies: policy_options(&policies, service.escalation_policy_id),
            policy,
            nav: Some(Nav::new(s, "/services")),
            reader: s.reader(),
            grouping_text: grouping_text(&service.grouping),
            service,
            integrations,
            windows,
            alerts,
            can_admin: s.user.role.allows(Role::Admin),
            can_respond: s.user.role.allows(Role::Responder),
            csrf: s.session.csrf_token.clone(),
            notice: fb.notice,
            refused: fb.refused,
            revealed: fb.revealed,
        },
    ))
}

fn service_id(raw: &str) -> Option<ServiceId> {
    raw.parse().ok()
}

async fn service_page(
    State(state): State<AppState>,
    s: WebSession,
    Path(id): Path<String>,
) -> PageResult {
    let Some(id) = service_id(&id) else {
        return Ok(not_found_page());
    };
    render_service(&state, &s, id, Feedback::default()).await
}

/// Renders the service page after `form`: a notice on success; on refusal the reasons beside
/// that form's fields, with what was typed in it.
async fn after_form<T>(
    state: &AppState,
    s: &WebSession,
    id: ServiceId,
    (form, typed): (&'static str, &[(&str, &str)]),
    outcome: Result<T, ApiError>,
    ok: impl FnOnce(T) -> Feedback,
) -> PageResult {
    let fb = match outcome {
        Ok(v) => ok(v),
        Err(e) => Feedback {
            status: Some(e.status()),
            refused: Refused::new(form, FormErrors::from_error(e)?, typed),
            ..Default::default()
        },
    };
    render_service(state, s, id, fb).await
}

#[derive(Deserialize)]
struct AddIntegrationForm {
    csrf: String,
    name: String,
    kind: String,
    #[serde(default)]
    heartbeat_interval_secs: String,
}

async fn add_integration(
    State(state): State<AppState>,
    s: WebSession,
    Path(id): Path<String>,
    Form(f): Form<AddIntegrationForm>,
) -> PageResult {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    let Some(id) = service_id(&id) else {
        return Ok(not_found_page());
    };
    if !s.user.role.allows(Role::Admin) {
        return Ok(forbidden("add integrations"));
    }
    let outcome = async {
        let kind = f.kind.parse::<IntegrationKind>()?;
        let interval = match f.heartbeat_interval_secs.trim() {
            "" => None,
            n => Some(n.parse::<u32>().map_err(|_| {
                ApiError::invalid("heartbeat_interval_secs", "must be a number of seconds")
            })?),
        };
        let body = CreateIntegration {
            name: f.name.clone(),
            kind,
            rate_limit_per_minute: None,
            heartbeat_interval_secs: interval,
        };
        super::api::create_integration_with(&state, Actor::User(s.user.id), id, body).await
    }
    .await;
    let typed = [
        ("name", f.name.as_str()),
        ("kind", f.kind.as_str()),
        (
            "heartbeat_interval_secs",
            f.heartbeat_interval_secs.as_str(),
        ),
    ];
    after_form(&state, &s, id, ("integration", &typed), outcome, |out| {
        Feedback {
            notice: Some(format!("Added {}.", out.integration.name)),
            revealed: Some(out.into()),
            ..Default::default()
        }
    })
    .await
}

async fn integration_of(state: &AppState, raw: &str) -> Result<Option<Integration>, ApiError> {
    let Ok(id) = raw.parse::<IntegrationId>() else {
        return Ok(None);
    };
    match state.store.integration(id).await {
        Ok(i) => Ok(Some(i)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

async fn rotate_key(
    State(state): State<AppState>,
    s: WebSession,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> PageResult {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    if !s.user.role.allows(Role::Admin) {
        return Ok(forbidden("rotate keys"));
    }
    let Some(i) = integration_of(&state, &id).await? else {
        return Ok(not_found_page());
    };
    let outcome = super::api::rotate_key_with(&state, Actor::User(s.user.id), i.id).await;
    let form = ("integrations", &[][..]);
    after_form(&state, &s, i.service_id, form, outcome, |out| Feedback {
        notice: Some(format!(
            "New key for {}: the old one no longer works.",
            out.integration.name
        )),
        revealed: Some(out.into()),
        ..Default::default()
    })
    .await
}

async fn delete_integration(
    State(state): State<AppState>,
    s: WebSession,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> PageResult {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    if !s.user.role.allows(Role::Admin) {
        return Ok(forbidden("delete integrations"));
    }
    let Some(i) = integration_of(&state, &id).await? else {
        return Ok(not_found_page());
    };
    let outcome = super::api::delete_integration_with(&state, Actor::User(s.user.id), i.id).await;
    let form = ("integrations", &[][..]);
    after_form(&state, &s, i.service_id, form, outcome, |gone| Feedback {
        notice: Some(format!("Deleted {}.", gone.name)),
        ..Default::default()
    })
    .await
}

#[derive(Deserialize)]
struct MaintenanceForm {
    csrf: String,
    minutes: String,
    #[serde(default)]
    description: String,
}

async fn start_maintenance(
    State(state): State<AppState>,
    s: WebSession,
    Path(id): Path<String>,
    Form(f): Form<MaintenanceForm>,
) -> PageResult {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    let Some(id) = service_id(&id) else {
        return Ok(not_found_page());
    };
    if !s.user.role.allows(Role::Responder) {
        return Ok(forbidden("start maintenance"));
    }
    let outcome = async {
        let minutes: i64 = f
            .minutes
            .trim()
            .parse()
            .ok()
            .filter(|m| (1..=7 * 24 * 60).contains(m))
            .ok_or_else(|| ApiError::invalid("minutes", "must be between 1 and 10080"))?;
        let now: Timestamp = state.clock.now();
        let body = CreateMaintenance {
            starts_at: Some(now),
            ends_at: now + SignedDuration::from_mins(minutes),
            description: f.description.clone(),
        };
        super::maintenance::create_maintenance_with(&state, Actor::User(s.user.id), id, body).await
    }
    .await;
    let typed = [
        ("minutes", f.minutes.as_str()),
        ("description", f.description.as_str()),
    ];
    let reader = s.reader();
    after_form(&state, &s, id, ("maintenance", &typed), outcome, |w| {
        Feedback {
            notice: Some(format!(
                "In maintenance until {}.",
                reader.when(w.ends_at).text
            )),
            ..Default::default()
        }
    })
    .await
}

async fn end_maintenance(
    State(state): State<AppState>,
    s: WebSession,
    Path((id, window)): Path<(String, String)>,
    Form(f): Form<CsrfForm>,
) -> PageResult {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    let (Some(id), Ok(wid)) = (service_id(&id), window.parse::<MaintenanceWindowId>()) else {
        return Ok(not_found_page());
    };
    if !s.user.role.allows(Role::Responder) {
        return Ok(forbidden("end maintenance"));
    }
    let outcome =
        super::maintenance::delete_maintenance_with(&state, Actor::User(s.user.id), id, wid).await;
    let form = ("windows", &[][..]);
    after_form(&state, &s, id, form, outcome, |()| Feedback {
        notice: Some("Maintenance ended.".into()),
        ..Default::default()
    })
    .await
}

async fn delete_service(
    State(state): State<AppState>,
    s: WebSession,
    Path(id): Path<String>,
    Form(f): Form<ConfirmForm>,
) -> PageResult {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    let Some(id) = service_id(&id) else {
        return Ok(not_found_page());
    };
    if !s.user.role.allows(Role::Admin) {
        return Ok(forbidden("delete services"));
    }
    // Checked here too: the box is `required` in the page, but a form can come from anywhere.
    let outcome = if f.confirm.as_deref() == Some("yes") {
        super::api::delete_service_with(&state, Actor::User(s.user.id), id).await
    } else {
        Err(ApiError::invalid(
            "confirm",
            "tick the box to delete the service and its integrations",
        ))
    };
    match outcome {
        Ok(()) => Ok(Redirect::to("/services").into_response()),
        Err(e) => {
            let fb = Feedback {
                status: Some(e.status()),
                refused: Refused::new("delete", FormErrors::from_error(e)?, &[]),
                ..Default::default()
            };
            render_service(&state, &s, id, fb).await
        }
    }
}

#[derive(Deserialize)]
struct ConfirmForm {
    csrf: String,
    /// `yes` when the "I am sure" box is ticked.
    confirm: Option<String>,
}

#[derive(Deserialize)]
struct PolicyForm {
    csrf: String,
    /// Empty for nobody.
    #[serde(default)]
    escalation_policy_id: String,
}

async fn set_policy(
    State(state): State<AppState>,
    s: WebSession,
    Path(id): Path<String>,
    Form(f): Form<PolicyForm>,
) -> PageResult {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    let Some(id) = service_id(&id) else {
        return Ok(not_found_page());
    };
    if !s.user.role.allows(Role::Admin) {
        return Ok(forbidden("change escalation policies of services"));
    }
    let policy = match f.escalation_policy_id.trim() {
        "" => serde_json::Value::Null,
        raw => serde_json::Value::String(raw.to_owned()),
    };
    let body = UpdateService {
        escalation_policy_id: Some(policy),
        ..Default::default()
    };
    let outcome = super::api::update_service_with(&state, Actor::User(s.user.id), id, body).await;
    let typed = [("escalation_policy_id", f.escalation_policy_id.as_str())];
    after_form(&state, &s, id, ("policy", &typed), outcome, |x| Feedback {
        notice: Some(if x.escalation_policy_id.is_some() {
            "Escalation policy changed.".into()
        } else {
            "Nobody is paged for this service now.".into()
        }),
        ..Default::default()
    })
    .await
}

// --- alerts and incidents ----------------------------------------------------------------------

#[derive(Template)]
#[template(path = "alerts.html")]
struct AlertsPage {
    nav: Option<Nav>,
    reader: Reader,
    alerts: Vec<Alert>,
    status: Option<String>,
    statuses: Vec<String>,
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct AlertsQuery {
    status: Option<String>,
    cursor: Option<String>,
}

async fn alerts_page(
    State(state): State<AppState>,
    s: WebSession,
    Query(q): Query<AlertsQuery>,
) -> PageResult {
    let status = q
        .status
        .as_deref()
        .and_then(|x| x.parse::<AlertStatus>().ok());
    let filter = AlertFilter {
        status,
        ..Default::default()
    };
    let page = state
        .store
        .list_alerts(
            &filter,
            page_cursor(q.cursor.as_deref()),
            Limit::DEFAULT.get(),
        )
        .await?;
    Ok(html(
        StatusCode::OK,
        &AlertsPage {
            nav: Some(Nav::new(&s, "/alerts")),
            reader: s.reader(),
            alerts: page.items,
            status: status.map(|x| x.as_str().to_owned()),
            statuses: AlertStatus::ALL
                .iter()
                .map(|x| x.as_str().to_owned())
                .collect(),
            next_cursor: next_cursor(page.next),
        },
    ))
}

pub struct TimelineRow {
    pub at: Timestamp,
    pub kind: String,
    pub text: String,
    /// A maintenance window's end, shown in the reader's zone.
    pub until: Option<Timestamp>,
}

impl From<Event> for TimelineRow {
    fn from(e: Event) -> Self {
        let d = &e.data;
        let mut until = None;
        let text = match e.kind.as_str() {
            "incident.alert_added" => format!(
                "{} ({})",
                d["summary"].as_str().unwrap_or(""),
                d["severity"].as_str().unwrap_or("")
            ),
            "incident.triggered" => format!("urgency {}", d["urgency"].as_str().unwrap_or("")),
            "incident.resolved" => d["reason"].as_str().unwrap_or("").to_owned(),
            "service.change" => d["summary"].as_str().unwrap_or("").to_owned(),
            "service.maintenance_scheduled" => {
                until = d["ends_at"].as_str().and_then(|t| t.parse().ok());
                d["description"].as_str().unwrap_or("").to_owned()
            }
            _ => String::new(),
        };
        Self {
            at: e.at,
            kind: e.kind.as_str().to_owned(),
            text,
            until,
        }
    }
}
