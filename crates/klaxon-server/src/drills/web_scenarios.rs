//! The scenario pages: `/drills/scenarios/new` and `/drills/scenarios/{name}/edit` (the YAML
//! editor, with a preview that checks the scenario and what it names and says what it would
//! do), `/drills/scenarios/record` (a scenario written from a past incident's alerts, opened in
//! the editor), and `/drills/scenarios/{name}` (the scenario in words, its YAML, starting a
//! drill from it, deleting it, and its drills' scorecards side by side). Everyone signed in
//! reads them; responders change them. A refused scenario comes back with the reason beside
//! the box and the text kept.
use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use klaxon_domain::auth::Role;
use klaxon_domain::drill::Scenario;
use klaxon_store::{ScenarioRecord, StoreError};
use serde::Deserialize;

use super::practice::{self, StartDrill};
use super::scenarios;
use super::web::{DrillRow, drill_href, invalid, refusal, rows, scenario_href};
use crate::automation::runbooks_web::{author, refuse};
use crate::shared::error::ApiError;
use crate::shared::state::AppState;
use crate::shared::terms::{self, At};
use crate::shared::web::{
    FormErrors, Nav, PageResult, WebSession, forbidden, html, not_found_page,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/drills/scenarios", get(to_list))
        .route("/drills/scenarios/new", get(new_page).post(create))
        .route("/drills/scenarios/record", get(record_page).post(record))
        .route("/drills/scenarios/{name}", get(scenario_page))
        .route("/drills/scenarios/{name}/edit", get(edit_page).post(save))
        .route("/drills/scenarios/{name}/start", post(start))
        .route("/drills/scenarios/{name}/delete", post(delete))
}

/// The scenarios are listed with the drills.
async fn to_list(_s: WebSession) -> Response {
    Redirect::to("/drills#scenarios").into_response()
}

/// What the editor of a new scenario starts with: a scenario that works as it is. Its alerts
/// are raised on a service, so they are written out only when there is one to name.
fn starter(service: Option<&str>) -> String {
    let (service, steps) = match service {
        Some(name) => (
            // A JSON string is a YAML one, whatever the name holds.
            format!(
                "service: {}\n",
                serde_json::to_string(name).unwrap_or_default()
            ),
            "  - at: 0
    alert: { summary: \"Checkout p99 above 2 s\", dedup_key: checkout-latency, severity: critical }
  - at: 4
    note: \"Support: customers say payments fail\"
  - at: 12
    resolve: checkout-latency
",
        ),
        None => (
            "# service: checkout  (its on-call people are paged; alert steps need one)\n".into(),
            "  # - at: 0
  #   alert: { summary: \"Checkout p99 above 2 s\", dedup_key: checkout-latency, severity: critical }
  - at: 4
    note: \"Support: customers say payments fail\"
  # - at: 12
  #   resolve: checkout-latency
",
        ),
    };
    format!(
        "# A drill scenario: the incident it declares (\"DRILL: \" is put in front of the title),
# what happens during it at minutes from the start, and the targets the response is
# measured against.
name: checkout-db-failover
title: Checkout database fails over
description: The primary checkout database fails over to its replica.
{service}severity: SEV2
targets:
  acknowledge_minutes: 5
  roles: [commander, communications_lead]
  roles_minutes: 10
  first_update_minutes: 15
  # runbook_steps: 3
steps:
  # Each step is one of alert (raised on the service), resolve (an alert above, by its
  # dedup_key) or note (news for the responders, on the timeline).
{steps}"
    )
}

fn yaml(s: &Scenario) -> Result<String, ApiError> {
    yaml_serde::to_string(s).map_err(|e| ApiError::Internal(e.into()))
}

/// The scenario behind `/drills/scenarios/{name}/…`, or the page to answer with.
async fn found(state: &AppState, raw: &str) -> Result<Result<ScenarioRecord, Response>, ApiError> {
    let id = match terms::drill_scenario(state, raw, At::Path("scenario")).await {
        Ok(id) => id,
        Err(ApiError::NotFound(_) | ApiError::BadRequest { .. }) => {
            return Ok(Err(not_found_page()));
        }
        Err(e) => return Err(e),
    };
    match state.store.scenario(id).await {
        Ok(r) => Ok(Ok(r)),
        Err(e) if e.is_not_found() => Ok(Err(not_found_page())),
        Err(e) => Err(e.into()),
    }
}

// --- the editor ---------------------------------------------------------------------------------

#[derive(Debug, Default, Clone, Deserialize)]
pub(crate) struct EditForm {
    #[serde(default)]
    csrf: String,
    /// The scenario as YAML.
    #[serde(default)]
    definition: String,
    /// The revision the edit started from (an edit, not a new scenario).
    #[serde(default)]
    revision: String,
    /// `preview` to check and say what it would do without saving.
    #[serde(default)]
    action: String,
}

/// A preview: what the scenario would do, in words.
struct Preview {
    steps: Vec<String>,
    targets: Vec<String>,
}

#[derive(Template)]
#[template(path = "drill_scenario_edit.html")]
struct EditPage {
    nav: Option<Nav>,
    csrf: String,
    /// Where the form posts: `/drills/scenarios/new` or `…/{name}/edit`.
    action: String,
    /// The scenario's name and page when editing.
    editing: Option<(String, String)>,
    form: EditForm,
    errors: FormErrors,
    preview: Option<Preview>,
    /// Said when the text was recorded from an incident.
    recorded: Option<String>,
}

fn edit_page_for(
    s: &WebSession,
    status: StatusCode,
    editing: Option<&ScenarioRecord>,
    form: EditForm,
    errors: FormErrors,
    preview: Option<Preview>,
    recorded: Option<String>,
) -> Response {
    let editing = editing.map(|r| {
        let name = r.definition.name.clone();
        let href = scenario_href(&name);
        (name, href)
    });
    let action = match &editing {
        Some((_, href)) => format!("{href}/edit"),
        None => "/drills/scenarios/new".into(),
    };
    html(
        status,
        &EditPage {
            nav: Some(Nav::new(s, "/drills")),
            csrf: s.session.csrf_token.clone(),
            action,
            editing,
            form,
            errors,
            preview,
            recorded,
        },
    )
}

/// The editor's text as a scenario, checked on its own (not yet what it names).
fn parse(text: &str) -> Result<Scenario, ApiError> {
    if text.trim().is_empty() {
        return Err(ApiError::invalid(
            "definition",
            "is empty: write the scenario in YAML",
        ));
    }
    let value: yaml_serde::Value = yaml_serde::from_str(text)
        .map_err(|e| ApiError::invalid("definition", format!("is not YAML: {e}")))?;
    if value.is_sequence() {
        return Err(ApiError::invalid(
            "definition",
            "is a list: this page saves one scenario at a time",
        ));
    }
    let s: Scenario = klaxon_domain::yaml::typed_value("scenario", value).map_err(|e| {
        match e.field.strip_prefix("scenario.") {
            Some(field) => ApiError::invalid(field, e.reason),
            None => ApiError::invalid("definition", e.reason),
        }
    })?;
    s.check()?;
    Ok(s)
}

/// A refusal as the editor shows it, beside the box: "At steps[2].resolve: …".
fn definition_errors(e: ApiError) -> Result<FormErrors, ApiError> {
    match &e {
        ApiError::BadRequest {
            field: Some(f),
            message,
            ..
        } if f == "definition" => {
            let m = message.strip_prefix("definition: ").unwrap_or(message);
            Ok(FormErrors::field("definition", m))
        }
        // Not a place in the text: the editor started from an old revision.
        ApiError::Conflict {
            field: Some(f),
            message,
        } if f == "revision" => {
            let m = message.strip_prefix("revision: ").unwrap_or(message);
            Ok(FormErrors::field("definition", m))
        }
        ApiError::BadRequest {
            field: Some(_),
            message,
            ..
        }
        | ApiError::Conflict {
            field: Some(_),
            message,
        } => Ok(FormErrors::field("definition", &format!("at {message}"))),
        ApiError::BadRequest { message, .. } | ApiError::Conflict { message, .. } => {
            Ok(FormErrors::field("definition", message))
        }
        _ => FormErrors::from_error(e),
    }
}

/// A new scenario must not take another's name (saving would be refused).
async fn name_free(state: &AppState, name: &str) -> Result<(), ApiError> {
    match state.store.scenario_named(name).await {
        Ok(_) => Err(scenarios::name_taken(name)),
        Err(StoreError::NotFound) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Everything a save checks, without saving: the preview.
async fn checked(
    state: &AppState,
    editing: Option<&ScenarioRecord>,
    f: &EditForm,
) -> Result<Scenario, ApiError> {
    let sc = parse(&f.definition)?;
    match editing {
        None => name_free(state, &sc.name).await?,
        Some(r) => {
            if f.revision.trim().parse::<i32>().ok() != Some(r.revision) {
                return Err(scenarios::stale(r.revision));
            }
            if r.definition.name != sc.name {
                name_free(state, &sc.name).await?;
            }
        }
    }
    scenarios::check_references(state, &sc).await?;
    Ok(sc)
}

async fn first_service(state: &AppState) -> Result<Option<String>, ApiError> {
    let page = state
        .store
        .list_services(None, klaxon_domain::page::Limit::DEFAULT.get())
        .await?;
    Ok(page.items.into_iter().next().map(|s| s.name))
}

async fn new_page(State(state): State<AppState>, s: WebSession) -> PageResult {
    if !s.user.role.allows(Role::Responder) {
        return Ok(forbidden("change drill scenarios"));
    }
    let form = EditForm {
        definition: starter(first_service(&state).await?.as_deref()),
        ..EditForm::default()
    };
    Ok(edit_page_for(
        &s,
        StatusCode::OK,
        None,
        form,
        FormErrors::default(),
        None,
        None,
    ))
}

/// Previews or saves.
async fn submit(
    state: &AppState,
    s: &WebSession,
    editing: Option<&ScenarioRecord>,
    f: EditForm,
) -> PageResult {
    // A preview checks all a save would; a save leaves that to `save`, which checks it once.
    let checking = if f.action == "preview" {
        checked(state, editing, &f).await
    } else {
        parse(&f.definition)
    };
    let sc = match checking {
        Ok(sc) => sc,
        Err(e) => {
            let status = e.status();
            let errors = definition_errors(e)?;
            return Ok(edit_page_for(s, status, editing, f, errors, None, None));
        }
    };
    if f.action == "preview" {
        let (steps, targets) = sc.describe();
        let preview = Preview { steps, targets };
        return Ok(edit_page_for(
            s,
            StatusCode::OK,
            editing,
            f,
            FormErrors::default(),
            Some(preview),
            None,
        ));
    }
    // A new one is created only: a scenario saved meanwhile under its name is not overwritten.
    let base = match editing {
        Some(_) => Some(f.revision.trim().parse().unwrap_or(-1)),
        None => Some(0),
    };
    match scenarios::save(state, &author(s), editing.map(|r| r.id), base, sc).await {
        Ok((r, _)) => Ok(Redirect::to(&scenario_href(&r.definition.name)).into_response()),
        Err(ApiError::NotFound(_)) => Ok(not_found_page()),
        Err(e) => {
            let status = e.status();
            let errors = definition_errors(e)?;
            Ok(edit_page_for(s, status, editing, f, errors, None, None))
        }
    }
}

async fn create(
    State(state): State<AppState>,
    s: WebSession,
    Form(f): Form<EditForm>,
) -> PageResult {
    if let Some(r) = refuse(&s, &f.csrf, Role::Responder, "change drill scenarios") {
        return Ok(r);
    }
    submit(&state, &s, None, f).await
}

async fn edit_page(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
) -> PageResult {
    if !s.user.role.allows(Role::Responder) {
        return Ok(forbidden("change drill scenarios"));
    }
    let r = match found(&state, &raw).await? {
        Ok(r) => r,
        Err(page) => return Ok(page),
    };
    let form = EditForm {
        definition: yaml(&r.definition)?,
        revision: r.revision.to_string(),
        ..EditForm::default()
    };
    Ok(edit_page_for(
        &s,
        StatusCode::OK,
        Some(&r),
        form,
        FormErrors::default(),
        None,
        None,
    ))
}

async fn save(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Form(f): Form<EditForm>,
) -> PageResult {
    if let Some(r) = refuse(&s, &f.csrf, Role::Responder, "change drill scenarios") {
        return Ok(r);
    }
    let r = match found(&state, &raw).await? {
        Ok(r) => r,
        Err(page) => return Ok(page),
    };
    submit(&state, &s, Some(&r), f).await
}

// --- recording one from an incident -------------------------------------------------------------

#[derive(Debug, Default, Clone, Deserialize)]
pub(crate) struct RecordForm {
    #[serde(default)]
    csrf: String,
    /// The past incident, by number or id.
    #[serde(default)]
    incident: String,
    /// The new scenario's name.
    #[serde(default)]
    name: String,
    /// The drill's title; the incident's when empty.
    #[serde(default)]
    title: String,
}

#[derive(Template)]
#[template(path = "drill_record.html")]
struct RecordPage {
    nav: Option<Nav>,
    csrf: String,
    form: RecordForm,
    errors: FormErrors,
}

impl RecordPage {
    fn invalid(&self, field: &str, id: &str) -> String {
        invalid(&self.errors, field, id)
    }
}

fn record_page_for(
    s: &WebSession,
    status: StatusCode,
    form: RecordForm,
    errors: FormErrors,
) -> Response {
    html(
        status,
        &RecordPage {
            nav: Some(Nav::new(s, "/drills")),
            csrf: s.session.csrf_token.clone(),
            form,
            errors,
        },
    )
}

async fn record_page(s: WebSession) -> PageResult {
    if !s.user.role.allows(Role::Responder) {
        return Ok(forbidden("change drill scenarios"));
    }
    Ok(record_page_for(
        &s,
        StatusCode::OK,
        RecordForm::default(),
        FormErrors::default(),
    ))
}

async fn record(
    State(state): State<AppState>,
    s: WebSession,
    Form(f): Form<RecordForm>,
) -> PageResult {
    if let Some(r) = refuse(&s, &f.csrf, Role::Responder, "change drill scenarios") {
        return Ok(r);
    }
    let name = f.name.trim().to_owned();
    let title = Some(f.title.trim().to_owned()).filter(|t| !t.is_empty());
    let recorded = match name_free(&state, &name).await {
        Ok(()) => practice::record(&state, &f.incident, name, title).await,
        Err(e) => Err(e),
    };
    let (sc, left_out) = match recorded {
        Ok(r) => r,
        Err(e) => {
            let status = e.status();
            let errors = refusal(e, str::to_owned)?;
            return Ok(record_page_for(&s, status, f, errors));
        }
    };
    let said = match left_out {
        0 => "No alert was left out.".to_owned(),
        1 => "1 alert (or its resolution) was left out: more than a day after the first, or \
              past the step limit."
            .to_owned(),
        n => format!(
            "{n} alerts (or their resolutions) were left out: more than a day after the first, \
             or past the step limit."
        ),
    };
    let form = EditForm {
        definition: yaml(&sc)?,
        ..EditForm::default()
    };
    Ok(edit_page_for(
        &s,
        StatusCode::OK,
        None,
        form,
        FormErrors::default(),
        None,
        Some(format!(
            "Recorded from incident {}: {} steps. {said} Nothing is saved yet: add targets and \
             notes, then save.",
            f.incident.trim(),
            sc.steps.len()
        )),
    ))
}

// --- the scenario read --------------------------------------------------------------------------

/// Drills of a scenario compared on its page at once.
const COMPARED: u32 = 50;

#[derive(Template)]
#[template(path = "drill_scenario.html")]
struct ScenarioPage {
    nav: Option<Nav>,
    csrf: String,
    href: String,
    name: String,
    title: String,
    description: String,
    service: Option<String>,
    severity: String,
    steps: Vec<String>,
    targets: Vec<String>,
    yaml: String,
    revision: i32,
    saved: String,
    saved_by: Option<String>,
    /// Its drills, oldest first, to see the trend.
    drills: Vec<DrillRow>,
    /// Whether older drills were left out of the comparison.
    more: bool,
    responder: bool,
    /// The start form's commander as typed, and its refusal.
    commander: String,
    errors: FormErrors,
}

impl ScenarioPage {
    fn invalid(&self, field: &str, id: &str) -> String {
        invalid(&self.errors, field, id)
    }
}

async fn render_scenario(
    state: &AppState,
    s: &WebSession,
    r: ScenarioRecord,
    status: StatusCode,
    commander: String,
    errors: FormErrors,
) -> PageResult {
    let reader = s.reader();
    let name = r.definition.name.clone();
    let mut drills = state
        .store
        .list_drills(Some(&name), None, COMPARED + 1)
        .await?;
    let more = drills.len() > COMPARED as usize;
    drills.truncate(COMPARED as usize);
    drills.reverse();
    let kept = HashMap::from([(r.id, name.clone())]);
    let saved_by = match r.updated_by {
        Some(u) => match state.store.user(u).await {
            Ok(u) => Some(u.name),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let (steps, targets) = r.definition.describe();
    Ok(html(
        status,
        &ScenarioPage {
            nav: Some(Nav::new(s, "/drills")),
            csrf: s.session.csrf_token.clone(),
            href: scenario_href(&name),
            yaml: yaml(&r.definition)?,
            title: klaxon_domain::drill::marked_title(&r.definition.title, true),
            description: r.definition.description,
            service: r.definition.service,
            severity: r.definition.severity.as_str().to_owned(),
            name,
            steps,
            targets,
            revision: r.revision,
            saved: reader.when(r.updated_at).html(),
            saved_by,
            drills: rows(state, &reader, drills, &kept).await?,
            more,
            responder: s.user.role.allows(Role::Responder),
            commander,
            errors,
        },
    ))
}

async fn scenario_page(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
) -> PageResult {
    let r = match found(&state, &raw).await? {
        Ok(r) => r,
        Err(page) => return Ok(page),
    };
    render_scenario(
        &state,
        &s,
        r,
        StatusCode::OK,
        String::new(),
        FormErrors::default(),
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct StartForm {
    #[serde(default)]
    csrf: String,
    /// The commander by e-mail address; empty: whoever is paged takes it on.
    #[serde(default)]
    commander: String,
}

async fn start(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Form(f): Form<StartForm>,
) -> PageResult {
    if let Some(r) = refuse(&s, &f.csrf, Role::Responder, "start drills") {
        return Ok(r);
    }
    let r = match found(&state, &raw).await? {
        Ok(r) => r,
        Err(page) => return Ok(page),
    };
    let body = StartDrill {
        scenario: Some(r.id.to_string()),
        commander_id: Some(f.commander.trim().to_owned()).filter(|c| !c.is_empty()),
        ..StartDrill::default()
    };
    match practice::start(&state, &author(&s), body).await {
        Ok(d) => Ok(Redirect::to(&drill_href(d.id)).into_response()),
        Err(e) => {
            let status = e.status();
            let errors = refusal(e, |f| {
                if f == "commander_id" {
                    "commander".into()
                } else {
                    f.to_owned()
                }
            })?;
            render_scenario(&state, &s, r, status, f.commander, errors).await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ButtonForm {
    #[serde(default)]
    csrf: String,
}

async fn delete(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Form(f): Form<ButtonForm>,
) -> PageResult {
    if let Some(r) = refuse(&s, &f.csrf, Role::Responder, "delete drill scenarios") {
        return Ok(r);
    }
    let r = match found(&state, &raw).await? {
        Ok(r) => r,
        Err(page) => return Ok(page),
    };
    match scenarios::delete(&state, &author(&s), r.id).await {
        Ok(()) | Err(ApiError::NotFound(_)) => {
            Ok(Redirect::to("/drills#scenarios").into_response())
        }
        Err(e) => Err(e),
    }
}
