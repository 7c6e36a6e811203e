//! The drill pages: `/drills` (the drills, newest first, each with its scorecard in short; the
//! form that starts one, from a saved scenario or by hand; the scenarios) and `/drills/{drill}`
//! (one drill: its incident, the scripted steps and which have happened, the scorecard, and
//! ending it). The scenario pages are in `web_scenarios.rs`. Everyone signed in reads them;
//! responders start and end drills. The forms call the same functions as the REST API; a
//! refused start comes back with each reason beside its field and what was typed kept.
use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use klaxon_domain::auth::Role;
use klaxon_domain::drill::{Scorecard, Targets, Timing};
use klaxon_domain::ids::{DrillId, DrillScenarioId};
use klaxon_domain::incident::Severity;
use klaxon_store::DrillRecord;
use serde::Deserialize;

use super::practice::{self, StartDrill};
use crate::automation::runbooks_web::{author, refuse};
use crate::shared::error::ApiError;
use crate::shared::state::AppState;
use crate::shared::terms::{self, At};
use crate::shared::time::Reader;
use crate::shared::web::{
    FormErrors, Nav, PageResult, WebSession, html, next_cursor, not_found_page, page_cursor,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/drills", get(list_page).post(start))
        .route("/drills/{drill}", get(drill_page))
        .route("/drills/{drill}/end", post(end))
        .merge(super::web_scenarios::router())
}

/// Drills shown on the list at once.
const DRILLS_SHOWN: u32 = 25;

/// A drill's page.
pub(super) fn drill_href(id: DrillId) -> String {
    format!("/drills/{id}")
}

/// A scenario's page (names are URL-safe: lower-case letters, digits and dashes).
pub(super) fn scenario_href(name: &str) -> String {
    format!("/drills/scenarios/{name}")
}

// --- the scorecard, as pages show it -----------------------------------------------------------

pub(super) use klaxon_domain::drill::duration_text;

/// One measure of a scorecard: its value, its target and how it stands against it.
pub(super) struct Cell {
    /// Names the measure in test ids: `acknowledge`, `roles`, `first-update`, `runbook-steps`.
    pub(super) key: &'static str,
    /// Its name in a narrow table's labels.
    pub(super) short: &'static str,
    pub(super) value: String,
    /// "within 5 min", "at least 3", or "none".
    pub(super) target: String,
    /// "met", "missed", "not yet", or "—" without a target.
    pub(super) result: &'static str,
    /// The class that colours the result (always beside the word).
    pub(super) class: &'static str,
    pub(super) has_target: bool,
}

fn judged(met: Option<bool>, has_target: bool) -> (&'static str, &'static str) {
    match met {
        Some(true) => ("met", "outcome-succeeded"),
        Some(false) => ("missed", "outcome-failed"),
        None if has_target => ("not yet", "outcome-queued"),
        None => ("—", "muted"),
    }
}

fn timed(key: &'static str, short: &'static str, t: &Timing, over: bool) -> Cell {
    let (result, class) = judged(t.met, t.target_seconds.is_some());
    Cell {
        key,
        short,
        value: match t.seconds {
            Some(s) => duration_text(s),
            None if over => "never".into(),
            None => "not yet".into(),
        },
        target: t
            .target_seconds
            .map_or_else(|| "none".into(), |s| format!("within {}", duration_text(s))),
        result,
        class,
        has_target: t.target_seconds.is_some(),
    }
}

/// The scorecard's four measures, in the order every page shows them.
pub(super) fn cells(card: &Scorecard) -> Vec<Cell> {
    let steps_target = card.runbook_steps_target;
    let (result, class) = judged(card.runbook_steps_met, steps_target.is_some());
    vec![
        timed("acknowledge", "Acknowledged", &card.acknowledge, card.over),
        timed("roles", "Roles held", &card.roles, card.over),
        timed(
            "first-update",
            "First update",
            &card.first_update,
            card.over,
        ),
        Cell {
            key: "runbook-steps",
            short: "Runbook steps",
            value: card.runbook_steps.to_string(),
            target: steps_target.map_or_else(|| "none".into(), |n| format!("at least {n}")),
            result,
            class,
            has_target: steps_target.is_some(),
        },
    ]
}

/// The measures' names, for the scorecard's rows (`roles`: the roles its targets ask for).
fn measure_names(targets: &Targets) -> [String; 4] {
    [
        "Acknowledged".into(),
        if targets.roles.is_empty() {
            "Roles held".into()
        } else {
            format!("Roles held ({})", targets.roles.join(", "))
        },
        "First stakeholder update".into(),
        "Runbook steps completed".into(),
    ]
}

/// The card as it stands: kept when the drill ended, else as of now.
pub(super) async fn card_of(state: &AppState, d: &DrillRecord) -> Result<Scorecard, ApiError> {
    Ok(practice::scorecard(&*state.store, d, state.clock.now()).await?)
}

/// A refusal as form errors, each under the name the form gives its field (`place`).
pub(super) fn refusal(e: ApiError, place: impl Fn(&str) -> String) -> Result<FormErrors, ApiError> {
    match &e {
        ApiError::BadRequest {
            field: Some(f),
            message,
            ..
        }
        | ApiError::Conflict {
            field: Some(f),
            message,
        } => {
            let reason = message.strip_prefix(&format!("{f}: ")).unwrap_or(message);
            Ok(FormErrors::field(&place(f), reason))
        }
        _ => FormErrors::from_error(e),
    }
}

/// ` aria-invalid="true" aria-describedby="ID-error"` for a refused field.
pub(super) fn invalid(errors: &FormErrors, field: &str, id: &str) -> String {
    if errors.get(field).is_some() {
        format!(r#" aria-invalid="true" aria-describedby="{id}-error""#)
    } else {
        String::new()
    }
}

// --- the list -------------------------------------------------------------------------------

/// One drill on a list: its incident, scenario, start, state and scorecard in short.
pub(super) struct DrillRow {
    pub(super) href: String,
    pub(super) incident_href: String,
    pub(super) number: i64,
    pub(super) title: String,
    /// The scenario's name when the drill started, and its page while it is kept (under its
    /// name now); none for a drill by hand.
    pub(super) scenario: Option<(String, Option<String>)>,
    pub(super) started: String,
    pub(super) running: bool,
    pub(super) cells: Vec<Cell>,
}

/// The rows of `drills`; `kept`: the scenarios there are, by id, with their names now.
pub(super) async fn rows(
    state: &AppState,
    reader: &Reader,
    drills: Vec<DrillRecord>,
    kept: &HashMap<DrillScenarioId, String>,
) -> Result<Vec<DrillRow>, ApiError> {
    let mut out = Vec::with_capacity(drills.len());
    for d in drills {
        let card = card_of(state, &d).await?;
        out.push(DrillRow {
            href: drill_href(d.id),
            incident_href: format!("/incidents/{}", d.incident_id),
            number: d.incident_number,
            title: d.incident_title,
            scenario: d.scenario_name.map(|n| {
                let now = d.scenario_id.and_then(|id| kept.get(&id));
                (n, now.map(|now| scenario_href(now)))
            }),
            started: reader.when(d.started_at).html(),
            running: d.ended_at.is_none(),
            cells: cells(&card),
        });
    }
    Ok(out)
}

struct ScenarioRow {
    href: String,
    name: String,
    title: String,
    steps: usize,
}

/// The start form as typed.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct StartForm {
    #[serde(default)]
    csrf: String,
    /// A saved scenario's name; empty for a drill by hand.
    #[serde(default)]
    scenario: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    severity: String,
    /// A service's name; empty for none.
    #[serde(default)]
    service: String,
    #[serde(default)]
    description: String,
    /// Roles to assemble, separated by commas.
    #[serde(default)]
    roles: String,
    #[serde(default)]
    acknowledge_minutes: String,
    #[serde(default)]
    roles_minutes: String,
    #[serde(default)]
    first_update_minutes: String,
    #[serde(default)]
    runbook_steps: String,
    /// By e-mail address.
    #[serde(default)]
    commander: String,
}

impl Default for StartForm {
    fn default() -> Self {
        Self {
            csrf: String::new(),
            scenario: String::new(),
            title: String::new(),
            severity: Severity::Sev3.as_str().into(),
            service: String::new(),
            description: String::new(),
            roles: String::new(),
            acknowledge_minutes: String::new(),
            roles_minutes: String::new(),
            first_update_minutes: String::new(),
            runbook_steps: String::new(),
            commander: String::new(),
        }
    }
}

/// The start form's fields, to show every other refusal at its top.
const START_FIELDS: [&str; 11] = [
    "scenario",
    "title",
    "severity",
    "service",
    "description",
    "roles",
    "acknowledge_minutes",
    "roles_minutes",
    "first_update_minutes",
    "runbook_steps",
    "commander",
];

#[derive(Template)]
#[template(path = "drills.html")]
struct ListPage {
    nav: Option<Nav>,
    csrf: String,
    drills: Vec<DrillRow>,
    /// The link to older drills, when there may be some.
    older: Option<String>,
    /// Whether this page shows older drills (a link back to the newest).
    paged: bool,
    scenarios: Vec<ScenarioRow>,
    services: Vec<String>,
    severities: Vec<&'static str>,
    /// The role keys a drill may ask for, for the roles field's hint.
    role_keys: String,
    responder: bool,
    form: StartForm,
    errors: FormErrors,
    fields: [&'static str; 11],
}

impl ListPage {
    fn invalid(&self, field: &str, id: &str) -> String {
        invalid(&self.errors, field, id)
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListQuery {
    cursor: Option<String>,
}

async fn render_list(
    state: &AppState,
    s: &WebSession,
    status: StatusCode,
    cursor: Option<&str>,
    form: StartForm,
    errors: FormErrors,
) -> PageResult {
    let reader = s.reader();
    let after = page_cursor::<DrillId>(cursor);
    let mut drills = state
        .store
        .list_drills(None, after, DRILLS_SHOWN + 1)
        .await?;
    let more = drills.len() > DRILLS_SHOWN as usize;
    drills.truncate(DRILLS_SHOWN as usize);
    let older = next_cursor(more.then(|| drills.last().map(|d| d.id)).flatten())
        .map(|c| format!("/drills?cursor={c}#drills"));
    let saved = state.store.list_scenarios().await?;
    let kept: HashMap<DrillScenarioId, String> = saved
        .iter()
        .map(|r| (r.id, r.definition.name.clone()))
        .collect();
    let responder = s.user.role.allows(Role::Responder);
    let services = if responder {
        crate::shared::lists::all_services(state)
            .await?
            .into_iter()
            .map(|s| s.name)
            .collect()
    } else {
        Vec::new()
    };
    Ok(html(
        status,
        &ListPage {
            nav: Some(Nav::new(s, "/drills")),
            csrf: s.session.csrf_token.clone(),
            drills: rows(state, &reader, drills, &kept).await?,
            older,
            paged: after.is_some(),
            scenarios: saved
                .into_iter()
                .map(|r| ScenarioRow {
                    href: scenario_href(&r.definition.name),
                    steps: r.definition.steps.len(),
                    name: r.definition.name,
                    title: r.definition.title,
                })
                .collect(),
            services,
            severities: Severity::ALL.iter().map(|s| s.as_str()).collect(),
            role_keys: state
                .incident_rules
                .roles
                .all()
                .iter()
                .map(|r| r.key.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            responder,
            form,
            errors,
            fields: START_FIELDS,
        },
    ))
}

async fn list_page(
    State(state): State<AppState>,
    s: WebSession,
    Query(q): Query<ListQuery>,
) -> PageResult {
    render_list(
        &state,
        &s,
        StatusCode::OK,
        q.cursor.as_deref(),
        StartForm::default(),
        FormErrors::default(),
    )
    .await
}

// --- starting one ---------------------------------------------------------------------------

fn filled(s: &str) -> Option<String> {
    Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_owned)
}

/// What the form asks for, as the API takes it; whole numbers are checked here.
fn start_body(f: &StartForm) -> Result<StartDrill, FormErrors> {
    let mut errors = FormErrors::default();
    let mut whole = |field: &str, raw: &str| -> Option<u32> {
        let raw = raw.trim();
        if raw.is_empty() {
            return None;
        }
        raw.parse::<u32>().map_or_else(
            |_| {
                let e = FormErrors::field(field, "must be a whole number");
                errors = std::mem::take(&mut errors).and(e);
                None
            },
            Some,
        )
    };
    let acknowledge_minutes = whole("acknowledge_minutes", &f.acknowledge_minutes);
    let roles_minutes = whole("roles_minutes", &f.roles_minutes);
    let first_update_minutes = whole("first_update_minutes", &f.first_update_minutes);
    let runbook_steps = whole("runbook_steps", &f.runbook_steps);
    if !errors.is_empty() {
        return Err(errors);
    }
    let roles: Vec<String> = f
        .roles
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect();
    let any = acknowledge_minutes.is_some()
        || roles_minutes.is_some()
        || first_update_minutes.is_some()
        || runbook_steps.is_some()
        || !roles.is_empty();
    let targets = any.then(|| Targets {
        acknowledge_minutes,
        roles: if roles.is_empty() {
            Targets::default().roles
        } else {
            roles
        },
        roles_minutes,
        first_update_minutes,
        runbook_steps,
    });
    let commander_id = filled(&f.commander);
    Ok(match filled(&f.scenario) {
        // The scenario says the rest: what else was typed is refused, not dropped.
        Some(scenario) => StartDrill {
            scenario: Some(scenario),
            title: filled(&f.title),
            description: filled(&f.description),
            targets,
            commander_id,
            ..StartDrill::default()
        },
        None => StartDrill {
            scenario: None,
            title: Some(f.title.clone()),
            severity: filled(&f.severity),
            service: filled(&f.service),
            description: filled(&f.description),
            targets,
            commander_id,
        },
    })
}

/// The start form's name for a field the API names.
fn start_field(f: &str) -> String {
    match f {
        "commander_id" => "commander".into(),
        "service_id" => "service".into(),
        _ => f.strip_prefix("targets.").unwrap_or(f).to_owned(),
    }
}

async fn start(
    State(state): State<AppState>,
    s: WebSession,
    Form(f): Form<StartForm>,
) -> PageResult {
    if let Some(r) = refuse(&s, &f.csrf, Role::Responder, "start drills") {
        return Ok(r);
    }
    let body = match start_body(&f) {
        Ok(b) => b,
        Err(errors) => {
            return render_list(&state, &s, StatusCode::BAD_REQUEST, None, f, errors).await;
        }
    };
    match practice::start(&state, &author(&s), body).await {
        Ok(d) => Ok(Redirect::to(&drill_href(d.id)).into_response()),
        Err(e) => {
            let status = e.status();
            let errors = refusal(e, start_field)?;
            render_list(&state, &s, status, None, f, errors).await
        }
    }
}

// --- one drill ------------------------------------------------------------------------------

/// The drill behind `/drills/{drill}` (its id, or its incident's id or number), or the page
/// to answer with.
async fn found(state: &AppState, raw: &str) -> Result<Result<DrillRecord, Response>, ApiError> {
    match terms::drill(state, raw, At::Path("drill")).await {
        Ok(d) => Ok(Ok(d)),
        Err(ApiError::NotFound(_) | ApiError::BadRequest { .. }) => Ok(Err(not_found_page())),
        Err(e) => Err(e),
    }
}

/// A scripted step, and whether it has happened.
struct StepRow {
    text: String,
    class: &'static str,
    state: String,
}

/// One row of the scorecard's table.
struct MeasureRow {
    name: String,
    cell: Cell,
}

#[derive(Template)]
#[template(path = "drill.html")]
struct DrillPage {
    nav: Option<Nav>,
    csrf: String,
    href: String,
    incident_href: String,
    number: i64,
    title: String,
    incident_status: String,
    scenario: Option<(String, Option<String>)>,
    description: String,
    started: String,
    started_by: Option<String>,
    ended: Option<String>,
    ended_by: Option<String>,
    /// "12 min 5 s" so far, or how long it lasted.
    elapsed: String,
    steps: Vec<StepRow>,
    measures: Vec<MeasureRow>,
    roles_missing: Vec<String>,
    /// Whether the scorecard is final (kept when the drill ended).
    over: bool,
    can_end: bool,
}

async fn drill_page(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
) -> PageResult {
    let d = match found(&state, &raw).await? {
        Ok(d) => d,
        Err(page) => return Ok(page),
    };
    let reader = s.reader();
    let now = state.clock.now();
    let card = card_of(&state, &d).await?;
    let elapsed = d.ended_at.unwrap_or(now).duration_since(d.started_at);
    let (lines, _) = d.definition.describe();
    let taken = state.store.drill_steps_taken(d.id).await?;
    let steps = d
        .definition
        .steps
        .iter()
        .zip(lines)
        .enumerate()
        .map(|(i, (step, text))| {
            let offset = step.offset();
            let (class, state) = if let Some((_, at)) = taken.iter().find(|(p, _)| *p as usize == i)
            {
                let after = at.duration_since(d.started_at).as_secs().max(0);
                (
                    "outcome-done",
                    format!("happened after {}", duration_text(after)),
                )
            } else if d.ended_at.is_some() {
                (
                    "outcome-skipped",
                    "not reached: the drill ended first".to_owned(),
                )
            } else if offset <= elapsed {
                (
                    "outcome-queued",
                    "due: it happens at the engine's next round".to_owned(),
                )
            } else {
                let ms = (offset - elapsed).as_millis();
                let secs = i64::try_from((ms + 999) / 1000).unwrap_or(i64::MAX);
                ("outcome-queued", format!("in {}", duration_text(secs)))
            };
            StepRow { text, class, state }
        })
        .collect();
    let people: Vec<_> = d.started_by.into_iter().chain(d.ended_by).collect();
    let names = crate::shared::lists::user_names(&*state.store, people).await?;
    // Named as it was when the drill started; linked under its name now, while it is kept.
    let scenario = match (d.scenario_name.clone(), d.scenario_id) {
        (Some(n), Some(id)) => match state.store.scenario(id).await {
            Ok(r) => Some((n, Some(scenario_href(&r.definition.name)))),
            Err(e) if e.is_not_found() => Some((n, None)),
            Err(e) => return Err(e.into()),
        },
        (n, _) => n.map(|n| (n, None)),
    };
    let measures = measure_names(&d.definition.targets)
        .into_iter()
        .zip(cells(&card))
        .map(|(name, cell)| MeasureRow { name, cell })
        .collect();
    Ok(html(
        StatusCode::OK,
        &DrillPage {
            nav: Some(Nav::new(&s, "/drills")),
            csrf: s.session.csrf_token.clone(),
            href: drill_href(d.id),
            incident_href: format!("/incidents/{}", d.incident_id),
            number: d.incident_number,
            title: d.incident_title,
            incident_status: d.incident_status,
            scenario,
            description: d.definition.description,
            started: reader.when(d.started_at).html(),
            started_by: d.started_by.and_then(|u| names.get(&u).cloned()),
            ended: d.ended_at.map(|t| reader.when(t).html()),
            ended_by: d.ended_by.and_then(|u| names.get(&u).cloned()),
            elapsed: duration_text(elapsed.as_secs()),
            steps,
            measures,
            roles_missing: card.roles_missing,
            over: card.over,
            can_end: d.ended_at.is_none() && s.user.role.allows(Role::Responder),
        },
    ))
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ButtonForm {
    #[serde(default)]
    csrf: String,
}

async fn end(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Form(f): Form<ButtonForm>,
) -> PageResult {
    if let Some(r) = refuse(&s, &f.csrf, Role::Responder, "end drills") {
        return Ok(r);
    }
    let d = match found(&state, &raw).await? {
        Ok(d) => d,
        Err(page) => return Ok(page),
    };
    match practice::end_by(&state, &author(&s), &d).await {
        // Ended meanwhile (by someone else, or its incident resolved): its page says so.
        Ok(_) | Err(ApiError::Conflict { .. }) => {
            Ok(Redirect::to(&drill_href(d.id)).into_response())
        }
        Err(e) => Err(e),
    }
}
