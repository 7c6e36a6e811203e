//! The form that creates and edits a schedule: several layers, each with a rotation in an
//! explicit order, a turn length, a first hand-off and time windows. It works without
//! JavaScript: every button (move someone up, add a layer, preview, …) posts the whole form, and
//! the page comes back with the change made and everything typed kept; only Save writes. Save
//! calls the API's `create_schedule_with`/`update_schedule_with`, Preview its `preview_with`.
use std::collections::HashMap;

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use klaxon_domain::auth::Role;
use klaxon_domain::event::Actor;
use klaxon_domain::ids::{ScheduleId, UserId};
use klaxon_domain::schedule::TurnUnit;

use super::api::{CreateSchedule, UpdateSchedule};
use super::preview::{PreviewOut, PreviewSchedule, preview_with};
use super::web::{Moment, ShiftRow, Zones, schedule_id, shift_rows};
use super::web_draft::{Draft, Op, WEEKDAYS, for_the_form, zone_suggestions};
use crate::shared::error::ApiError;
use crate::shared::state::AppState;
use crate::shared::web::not_found_page;
use crate::shared::web::{FormErrors, Nav, PageResult, WebSession, forbidden, html};

/// Which schedule the form is for.
#[derive(Clone, Copy)]
enum Target {
    New,
    Edit(ScheduleId),
}

impl Target {
    fn action(self) -> String {
        match self {
            Target::New => "/schedules".into(),
            Target::Edit(id) => format!("/schedules/{id}/edit"),
        }
    }

    fn id(self) -> Option<ScheduleId> {
        match self {
            Target::New => None,
            Target::Edit(id) => Some(id),
        }
    }
}

pub struct RotaUser {
    pub id: String,
    pub name: String,
}

pub struct WindowView {
    pub kind: String,
    pub start_day: String,
    pub start: String,
    pub end_day: String,
    pub end: String,
    pub err_kind: Option<String>,
    pub err_start: Option<String>,
    pub err_end: Option<String>,
}

pub struct LayerView {
    pub name: String,
    pub start: String,
    pub end: String,
    pub add: String,
    pub turn_count: String,
    pub turn_unit: String,
    pub users: Vec<RotaUser>,
    pub windows: Vec<WindowView>,
    pub err_name: Option<String>,
    pub err_start: Option<String>,
    pub err_end: Option<String>,
    pub err_users: Option<String>,
    pub err_turn: Option<String>,
    pub err_windows: Option<String>,
}

impl LayerView {
    fn has_error(&self) -> bool {
        [
            &self.err_name,
            &self.err_start,
            &self.err_end,
            &self.err_users,
            &self.err_turn,
            &self.err_windows,
        ]
        .iter()
        .any(|e| e.is_some())
            || self
                .windows
                .iter()
                .any(|w| w.err_kind.is_some() || w.err_start.is_some() || w.err_end.is_some())
    }
}

/// The shifts a Preview computed.
pub struct PreviewView {
    pub from: Moment,
    pub to: Moment,
    pub rows: Vec<ShiftRow>,
    pub with_overrides: bool,
}

#[derive(Template)]
#[template(path = "schedule_form.html")]
struct FormPage {
    nav: Option<Nav>,
    title: String,
    action: String,
    cancel: String,
    editing: bool,
    csrf: String,
    name: String,
    description: String,
    time_zone: String,
    errors: FormErrors,
    zone_suggestions: Vec<String>,
    layers: Vec<LayerView>,
    layers_error: Option<String>,
    people: Vec<(String, String)>,
    weekdays: &'static [(&'static str, &'static str)],
    units: Vec<&'static str>,
    preview: Option<PreviewView>,
    /// The fields that have a place for their error on the form.
    shown: &'static [&'static str],
}

fn err(errors: &FormErrors, field: &str) -> Option<String> {
    errors.get(field).map(str::to_owned)
}

#[allow(clippy::too_many_arguments)]
async fn render(
    state: &AppState,
    s: &WebSession,
    target: Target,
    title: String,
    draft: Draft,
    status: StatusCode,
    errors: FormErrors,
    preview: Option<PreviewOut>,
) -> PageResult {
    let people = crate::shared::lists::all_users(state).await?;
    let mut names: HashMap<String, String> = people
        .iter()
        .map(|u| (u.id.to_string(), u.name.clone()))
        .collect();
    // People in a rotation who can no longer be picked (deactivated) still show by name.
    let missing: Vec<UserId> = draft
        .layers
        .iter()
        .flat_map(|l| l.users.iter())
        .filter(|u| !names.contains_key(*u))
        .filter_map(|u| u.parse().ok())
        .collect();
    for (id, name) in crate::shared::lists::user_names_or_ids(state, missing).await? {
        names.insert(id.to_string(), name);
    }
    let layers: Vec<LayerView> = draft
        .layers
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            let at = |f: &str| format!("layers[{i}].{f}");
            let windows: Vec<WindowView> = l
                .restrictions
                .into_iter()
                .enumerate()
                .map(|(k, r)| {
                    let w = |f: &str| err(&errors, &at(&format!("restrictions[{k}].{f}")));
                    WindowView {
                        err_kind: w("type"),
                        err_start: w("start").or_else(|| w("start_weekday")),
                        err_end: w("end")
                            .or_else(|| w("end_weekday"))
                            .or_else(|| w("duration_minutes")),
                        kind: r.kind,
                        start_day: r.start_day,
                        start: r.start,
                        end_day: r.end_day,
                        end: r.end,
                    }
                })
                .collect();
            let claimed = windows
                .iter()
                .any(|w| w.err_kind.is_some() || w.err_start.is_some() || w.err_end.is_some());
            LayerView {
                err_name: err(&errors, &at("name")),
                err_start: err(&errors, &at("start")),
                err_end: err(&errors, &at("end")),
                err_users: err(&errors, &at("users")),
                err_turn: err(&errors, &at("turn")),
                err_windows: if claimed {
                    None
                } else {
                    err(&errors, &at("restrictions"))
                },
                users: l
                    .users
                    .iter()
                    .map(|u| RotaUser {
                        name: names.get(u).cloned().unwrap_or_else(|| u.clone()),
                        id: u.clone(),
                    })
                    .collect(),
                windows,
                name: l.name,
                start: l.start,
                end: l.end,
                add: l.add,
                turn_count: l.turn_count,
                turn_unit: l.turn_unit,
            }
        })
        .collect();
    let layers_error = if layers.iter().any(LayerView::has_error) {
        None
    } else {
        err(&errors, "layers")
    };
    let zone_suggestions = if errors.get("time_zone").is_some() {
        zone_suggestions(&draft.time_zone)
    } else {
        Vec::new()
    };
    let preview = preview.map(|p| {
        let zones = Zones::new(&p.time_zone, s.reader());
        PreviewView {
            from: zones.at(p.from),
            to: zones.at(p.to),
            rows: shift_rows(&p.shifts, p.from, p.to, &zones),
            with_overrides: target.id().is_some(),
        }
    });
    let page = FormPage {
        nav: Some(Nav::new(s, "/schedules")),
        title,
        action: target.action(),
        cancel: match target {
            Target::New => "/schedules".into(),
            Target::Edit(id) => format!("/schedules/{id}"),
        },
        editing: target.id().is_some(),
        csrf: s.session.csrf_token.clone(),
        name: draft.name,
        description: draft.description,
        time_zone: draft.time_zone,
        errors,
        zone_suggestions,
        layers,
        layers_error,
        people: people
            .iter()
            .map(|u| (u.id.to_string(), format!("{} ({})", u.name, u.email)))
            .collect(),
        weekdays: &WEEKDAYS,
        units: TurnUnit::ALL.iter().map(|u| u.as_str()).collect(),
        preview,
        shown: &["name", "description", "time_zone", "layers"],
    };
    Ok(html(status, &page))
}

pub(super) async fn new_page(State(state): State<AppState>, s: WebSession) -> PageResult {
    if !s.user.role.allows(Role::Admin) {
        return Ok(forbidden("add schedules"));
    }
    // The reader's zone is the likeliest zone for a new schedule.
    let draft = Draft::new_schedule(&s.reader().zone, state.clock.now());
    let title = "New schedule".to_owned();
    let errors = FormErrors::default();
    render(
        &state,
        &s,
        Target::New,
        title,
        draft,
        StatusCode::OK,
        errors,
        None,
    )
    .await
}

pub(super) async fn edit_page(
    State(state): State<AppState>,
    s: WebSession,
    Path(id): Path<String>,
) -> PageResult {
    if !s.user.role.allows(Role::Admin) {
        return Ok(forbidden("change schedules"));
    }
    let Some(id) = schedule_id(&id) else {
        return Ok(not_found_page());
    };
    let record = match state.store.schedule(id).await {
        Ok(r) => r,
        Err(e) if e.is_not_found() => return Ok(not_found_page()),
        Err(e) => return Err(e.into()),
    };
    let title = format!("Edit {}", record.name);
    let draft = Draft::from_record(&record);
    let errors = FormErrors::default();
    let target = Target::Edit(id);
    render(
        &state,
        &s,
        target,
        title,
        draft,
        StatusCode::OK,
        errors,
        None,
    )
    .await
}

pub(super) async fn create(
    State(state): State<AppState>,
    s: WebSession,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    submit(&state, &s, Target::New, pairs).await
}

pub(super) async fn edit(
    State(state): State<AppState>,
    s: WebSession,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let Some(id) = schedule_id(&id) else {
        return Ok(not_found_page());
    };
    submit(&state, &s, Target::Edit(id), pairs).await
}

/// Every button of the form lands here: Save writes, Preview computes, the rest reshape the
/// form.
async fn submit(
    state: &AppState,
    s: &WebSession,
    target: Target,
    pairs: Vec<(String, String)>,
) -> PageResult {
    let (csrf, op, mut draft) = Draft::from_pairs(pairs);
    if let Err(r) = s.check_csrf(&csrf) {
        return Ok(r);
    }
    if !s.user.role.allows(Role::Admin) {
        return Ok(forbidden(match target {
            Target::New => "add schedules",
            Target::Edit(_) => "change schedules",
        }));
    }
    let title = match target {
        Target::New => "New schedule".to_owned(),
        Target::Edit(id) => match state.store.schedule(id).await {
            Ok(r) => format!("Edit {}", r.name),
            Err(e) if e.is_not_found() => return Ok(not_found_page()),
            Err(e) => return Err(e.into()),
        },
    };
    let actor = Actor::User(s.user.id);
    match op {
        Op::Save => {
            draft.take_picked();
            let saved = match draft.to_layers() {
                Err(e) => Err(e),
                Ok((time_zone, layers)) => match target {
                    Target::New => {
                        let body = CreateSchedule {
                            name: draft.name.clone(),
                            description: draft.description.clone(),
                            time_zone,
                            layers,
                        };
                        super::api::create_schedule_with(state, actor, body)
                            .await
                            .map(|r| r.id)
                    }
                    Target::Edit(id) => {
                        let body = UpdateSchedule {
                            name: Some(draft.name.clone()),
                            description: Some(draft.description.clone()),
                            time_zone: Some(time_zone),
                            layers: Some(layers),
                        };
                        super::api::update_schedule_with(state, actor, id, body)
                            .await
                            .map(|r| r.id)
                    }
                },
            };
            match saved {
                Ok(id) => Ok(Redirect::to(&format!("/schedules/{id}")).into_response()),
                Err(e) => refused(state, s, target, title, draft, e).await,
            }
        }
        Op::Preview => {
            draft.take_picked();
            let previewed = match draft.to_layers() {
                Err(e) => Err(e),
                Ok((time_zone, layers)) => {
                    let body = PreviewSchedule {
                        time_zone,
                        layers,
                        schedule_id: target.id(),
                        from: None,
                        to: None,
                    };
                    preview_with(state, body).await
                }
            };
            match previewed {
                Ok(p) => {
                    let errors = FormErrors::default();
                    let status = StatusCode::OK;
                    render(state, s, target, title, draft, status, errors, Some(p)).await
                }
                Err(e) => refused(state, s, target, title, draft, e).await,
            }
        }
        other => {
            draft.apply(&other);
            let errors = FormErrors::default();
            render(state, s, target, title, draft, StatusCode::OK, errors, None).await
        }
    }
}

/// The form again, with why it was refused beside the field to blame.
async fn refused(
    state: &AppState,
    s: &WebSession,
    target: Target,
    title: String,
    draft: Draft,
    e: ApiError,
) -> PageResult {
    let e = for_the_form(e, &draft);
    let status = e.status();
    let errors = FormErrors::from_error(e)?;
    render(state, s, target, title, draft, status, errors, None).await
}
