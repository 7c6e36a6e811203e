//! Web pages for on-call schedules: the list with who is on call now, a schedule's timeline of
//! shifts, its overrides, and its calendar feed. Forms call the same functions as the REST API
//! (`crate::oncall::schedules::api`), so the rules and events are the same whichever face is used.
use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use klaxon_domain::auth::Role;
use klaxon_domain::event::Actor;
use klaxon_domain::ids::{OverrideId, ScheduleId, UserId};
use klaxon_domain::page::Limit;
use klaxon_domain::schedule::{Layer, RANGE_MAX, Turn, TurnUnit};
use klaxon_store::User;
use serde::Deserialize;

use crate::oncall::schedules::api::{CreateOverride, CreateSchedule, ShiftOut, UpdateSchedule};
use crate::oncall::schedules::calendar::{Feed, feed_url};
use crate::shared::error::ApiError;
use crate::shared::state::AppState;
use crate::shared::web::{Nav, WebSession, html};
use crate::shared::web::{PageResult, forbidden, not_found_page, user_error};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/schedules", get(schedules_page).post(add_schedule))
        .route("/schedules/{id}", get(schedule_page))
        .route("/schedules/{id}/edit", post(edit_schedule))
        .route("/schedules/{id}/delete", post(delete_schedule))
        .route("/schedules/{id}/overrides", post(add_override))
        .route(
            "/schedules/{id}/overrides/{override_id}/delete",
            post(remove_override),
        )
}

/// The spans the timeline offers, in days.
const SPANS: [i64; 3] = [7, 14, 28];
/// Bar colours cycle through this many CSS classes.
const COLOURS: usize = 6;
const DATE_TIME: &str = "%a %d %b %H:%M";

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

// --- shared ------------------------------------------------------------------------------------

fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap_or(TimeZone::UTC)
}

fn local(t: Timestamp, tz: &TimeZone, fmt: &str) -> String {
    t.to_zoned(tz.clone()).strftime(fmt).to_string()
}

/// A `datetime-local` value (`2026-11-21T18:00`) read in `tz`, blaming `field`.
fn local_instant(field: &str, raw: &str, tz: &TimeZone) -> Result<Timestamp, ApiError> {
    raw.trim()
        .parse::<DateTime>()
        .ok()
        .and_then(|dt| dt.to_zoned(tz.clone()).ok())
        .map(|z| z.timestamp())
        .ok_or_else(|| {
            ApiError::invalid(
                field,
                "must be a local date and time, like 2026-11-21T18:00",
            )
        })
}

pub struct UserOption {
    pub id: String,
    pub label: String,
    pub selected: bool,
}

fn user_options(users: &[User], selected: &[String]) -> Vec<UserOption> {
    users
        .iter()
        .map(|u| {
            let id = u.id.to_string();
            UserOption {
                selected: selected.contains(&id),
                id,
                label: format!("{} ({})", u.name, u.email),
            }
        })
        .collect()
}

/// Who is on call now in one schedule, for the list and the dashboard.
pub struct NowRow {
    pub id: String,
    pub schedule: String,
    /// `None`: nobody.
    pub user: Option<String>,
    /// The end of the shift, in the schedule's zone.
    pub until: String,
}

/// Who is on call now in every schedule, through the same lookup as `GET /api/v1/oncalls`.
pub(crate) async fn on_call_now(state: &AppState) -> Result<Vec<NowRow>, ApiError> {
    let now = state.clock.now();
    let mut rows = Vec::new();
    let mut after = None;
    loop {
        let page = super::api::on_call_with(state, now, after, Limit::MAX).await?;
        for (r, tz) in page.items.into_iter().zip(page.time_zones) {
            let tz = zone(&tz);
            rows.push(NowRow {
                id: r.schedule_id.to_string(),
                schedule: r.schedule_name,
                user: r
                    .user_id
                    .map(|u| r.user_name.unwrap_or_else(|| u.to_string())),
                until: r
                    .end
                    .map(|e| format!("{} ({})", local(e, &tz, DATE_TIME), tz_name(&tz)))
                    .unwrap_or_default(),
            });
        }
        match page.next {
            Some(n) => after = Some(n),
            None => return Ok(rows),
        }
    }
}

fn tz_name(tz: &TimeZone) -> String {
    tz.iana_name().unwrap_or("UTC").to_owned()
}

// --- the list and the create form --------------------------------------------------------------

/// The create form's values, kept when it is refused.
struct ScheduleDraft {
    name: String,
    description: String,
    time_zone: String,
    start: String,
    users: Vec<String>,
    turn_count: String,
    turn_unit: String,
}

impl ScheduleDraft {
    fn empty(now: Timestamp) -> Self {
        Self {
            name: String::new(),
            description: String::new(),
            time_zone: "UTC".into(),
            start: format!("{}T09:00", now.to_zoned(TimeZone::UTC).date()),
            users: Vec::new(),
            turn_count: "1".into(),
            turn_unit: "weeks".into(),
        }
    }

    fn from_pairs(pairs: Vec<(String, String)>) -> (String, Self) {
        let mut csrf = String::new();
        let mut d = Self {
            name: String::new(),
            description: String::new(),
            time_zone: String::new(),
            start: String::new(),
            users: Vec::new(),
            turn_count: String::new(),
            turn_unit: String::new(),
        };
        for (k, v) in pairs {
            match k.as_str() {
                "csrf" => csrf = v,
                "name" => d.name = v,
                "description" => d.description = v,
                "time_zone" => d.time_zone = v,
                "start" => d.start = v,
                "users" => d.users.push(v),
                "turn_count" => d.turn_count = v,
                "turn_unit" => d.turn_unit = v,
                _ => {}
            }
        }
        (csrf, d)
    }

    /// The API's request: one layer, its users in the order the form sent them.
    fn to_request(&self) -> Result<CreateSchedule, ApiError> {
        let start = self.start.trim().parse::<DateTime>().map_err(|_| {
            ApiError::invalid(
                "start",
                "must be a local date and time, like 2026-11-21T09:00",
            )
        })?;
        let mut users = Vec::new();
        for raw in &self.users {
            users.push(
                raw.parse::<UserId>()
                    .map_err(|_| ApiError::invalid("users", "is not a user id"))?,
            );
        }
        let count = self
            .turn_count
            .trim()
            .parse::<u32>()
            .map_err(|_| ApiError::invalid("turn.count", "must be a whole number"))?;
        let unit = self.turn_unit.parse::<TurnUnit>()?;
        Ok(CreateSchedule {
            name: self.name.clone(),
            description: self.description.clone(),
            time_zone: self.time_zone.trim().to_owned(),
            layers: vec![Layer {
                name: "Layer 1".into(),
                start,
                end: None,
                users,
                turn: Turn { count, unit },
                restrictions: Vec::new(),
            }],
        })
    }
}

/// The API names the form's one layer `layers[0]`; the form has no layers.
fn form_message(message: String) -> String {
    match message.strip_prefix("layers[0].") {
        Some(rest) => rest.to_owned(),
        None => message,
    }
}

pub struct UnitOption {
    pub name: &'static str,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "schedules.html")]
struct SchedulesPage {
    nav: Option<Nav>,
    rows: Vec<NowRow>,
    can_admin: bool,
    csrf: String,
    error: Option<String>,
    name: String,
    description: String,
    time_zone: String,
    start: String,
    users: Vec<UserOption>,
    turn_count: String,
    units: Vec<UnitOption>,
}

async fn render_schedules(
    state: &AppState,
    s: &WebSession,
    status: StatusCode,
    error: Option<String>,
    draft: ScheduleDraft,
) -> PageResult {
    let users = crate::shared::lists::all_users(state).await?;
    Ok(html(
        status,
        &SchedulesPage {
            nav: Some(Nav::new(s, "/schedules")),
            rows: on_call_now(state).await?,
            can_admin: s.user.role.allows(Role::Admin),
            csrf: s.session.csrf_token.clone(),
            error,
            users: user_options(&users, &draft.users),
            units: TurnUnit::ALL
                .iter()
                .map(|u| UnitOption {
                    name: u.as_str(),
                    selected: u.as_str() == draft.turn_unit,
                })
                .collect(),
            name: draft.name,
            description: draft.description,
            time_zone: draft.time_zone,
            start: draft.start,
            turn_count: draft.turn_count,
        },
    ))
}

async fn schedules_page(State(state): State<AppState>, s: WebSession) -> PageResult {
    let draft = ScheduleDraft::empty(state.clock.now());
    render_schedules(&state, &s, StatusCode::OK, None, draft).await
}

async fn add_schedule(
    State(state): State<AppState>,
    s: WebSession,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let (csrf, draft) = ScheduleDraft::from_pairs(pairs);
    if let Err(r) = s.check_csrf(&csrf) {
        return Ok(r);
    }
    if !s.user.role.allows(Role::Admin) {
        return Ok(forbidden("add schedules"));
    }
    let outcome = match draft.to_request() {
        Ok(body) => super::api::create_schedule_with(&state, Actor::User(s.user.id), body).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(x) => Ok(Redirect::to(&format!("/schedules/{}", x.id)).into_response()),
        Err(e) => {
            let msg = form_message(user_error(e)?);
            render_schedules(&state, &s, StatusCode::BAD_REQUEST, Some(msg), draft).await
        }
    }
}

// --- one schedule: timeline, overrides, feed ---------------------------------------------------

/// One shift drawn as a bar: offsets in % of the span.
pub struct Bar {
    pub left: String,
    pub width: String,
    pub user: String,
    pub times: String,
    pub colour: usize,
}

pub struct TimelineRow {
    pub label: String,
    pub bars: Vec<Bar>,
}

pub struct Tick {
    pub left: String,
    pub label: String,
}

pub struct OverrideRow {
    pub id: OverrideId,
    pub user: String,
    pub start: String,
    pub end: String,
}

pub struct SpanOption {
    pub days: i64,
    pub current: bool,
}

#[derive(Deserialize)]
struct TimelineQuery {
    from: Option<String>,
    days: Option<String>,
}

/// The span shown: `from` (a date in the schedule's zone, default today) for `days`.
struct Span {
    date: Date,
    days: i64,
}

impl Span {
    fn read(q: &TimelineQuery, today: Date) -> Self {
        let date = q
            .from
            .as_deref()
            .and_then(|d| d.trim().parse::<Date>().ok())
            .unwrap_or(today);
        let days = q
            .days
            .as_deref()
            .and_then(|d| d.trim().parse::<i64>().ok())
            .filter(|d| SPANS.contains(d))
            .unwrap_or(SPANS[0]);
        Self { date, days }
    }

    fn bounds(&self, tz: &TimeZone) -> Option<(Timestamp, Timestamp)> {
        let end = self
            .date
            .checked_add(jiff::Span::new().days(self.days))
            .ok()?;
        let from = self.date.to_zoned(tz.clone()).ok()?.timestamp();
        let to = end.to_zoned(tz.clone()).ok()?.timestamp();
        Some((from, to))
    }

    fn shifted(&self, days: i64) -> String {
        self.date
            .checked_add(jiff::Span::new().days(days))
            .unwrap_or(self.date)
            .to_string()
    }
}

fn percent(part: SignedDuration, whole: SignedDuration) -> f64 {
    (part.as_secs_f64() / whole.as_secs_f64() * 100.0).clamp(0.0, 100.0)
}

fn bars(
    shifts: &[ShiftOut],
    from: Timestamp,
    to: Timestamp,
    tz: &TimeZone,
    colours: &mut HashMap<UserId, usize>,
) -> Vec<Bar> {
    let whole = to.duration_since(from);
    shifts
        .iter()
        .filter(|sh| sh.start < to && sh.end > from)
        .map(|sh| {
            let start = sh.start.max(from);
            let end = sh.end.min(to);
            let next = colours.len();
            Bar {
                left: format!("{:.4}", percent(start.duration_since(from), whole)),
                width: format!("{:.4}", percent(end.duration_since(start), whole)),
                user: sh
                    .user_name
                    .clone()
                    .unwrap_or_else(|| sh.user_id.to_string()),
                times: format!(
                    "{} – {}",
                    local(sh.start, tz, DATE_TIME),
                    local(sh.end, tz, DATE_TIME)
                ),
                colour: *colours.entry(sh.user_id).or_insert(next % COLOURS),
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "schedule.html")]
struct SchedulePage {
    nav: Option<Nav>,
    id: ScheduleId,
    name: String,
    description: String,
    time_zone: String,
    layers: Vec<String>,
    /// Who is on call now, and until when.
    on_call: Option<(String, String)>,
    span_label: String,
    spans: Vec<SpanOption>,
    from: String,
    days: i64,
    prev: String,
    next: String,
    ticks: Vec<Tick>,
    rows: Vec<TimelineRow>,
    overrides: Vec<OverrideRow>,
    users: Vec<UserOption>,
    feed_url: String,
    can_respond: bool,
    can_admin: bool,
    csrf: String,
    error: Option<String>,
    /// The override form's values.
    ov_start: String,
    ov_end: String,
}

/// What a refused form on the schedule page brings back.
#[derive(Default)]
struct Feedback {
    status: Option<StatusCode>,
    error: Option<String>,
    ov_user: String,
    ov_start: String,
    ov_end: String,
}

fn layer_text(l: &Layer, names: &HashMap<UserId, String>) -> String {
    let who: Vec<String> = l
        .users
        .iter()
        .map(|u| names.get(u).cloned().unwrap_or_else(|| u.to_string()))
        .collect();
    let unit = l.turn.unit.as_str();
    let unit = if l.turn.count == 1 {
        unit.trim_end_matches('s')
    } else {
        unit
    };
    format!(
        "{}: {} — turns of {} {} from {}{}",
        l.name,
        who.join(", "),
        l.turn.count,
        unit,
        l.start.strftime("%Y-%m-%d %H:%M"),
        if l.restrictions.is_empty() {
            ""
        } else {
            " (restricted hours)"
        }
    )
}

async fn render_schedule(
    state: &AppState,
    s: &WebSession,
    id: ScheduleId,
    q: &TimelineQuery,
    fb: Feedback,
) -> PageResult {
    let record = match state.store.schedule(id).await {
        Ok(r) => r,
        Err(e) if e.is_not_found() => return Ok(not_found_page()),
        Err(e) => return Err(e.into()),
    };
    let tz = zone(&record.time_zone);
    let now = state.clock.now();
    let span = Span::read(q, now.to_zoned(tz.clone()).date());
    let Some((from, to)) = span.bounds(&tz) else {
        return Ok(not_found_page());
    };
    let shifts = super::api::shifts_with(state, id, from, to).await?;
    let mut colours = HashMap::new();
    let mut rows = vec![TimelineRow {
        label: "Final schedule".into(),
        bars: bars(&shifts.shifts, from, to, &tz, &mut colours),
    }];
    for l in &shifts.layers {
        rows.push(TimelineRow {
            label: l.name.clone(),
            bars: bars(&l.shifts, from, to, &tz, &mut colours),
        });
    }
    let whole = to.duration_since(from);
    let step = span.days / 7;
    let ticks = (0..span.days)
        .step_by(usize::try_from(step.max(1)).unwrap_or(1))
        .filter_map(|d| {
            let day = span.date.checked_add(jiff::Span::new().days(d)).ok()?;
            let at = day.to_zoned(tz.clone()).ok()?.timestamp();
            Some(Tick {
                left: format!("{:.4}", percent(at.duration_since(from), whole)),
                label: day.strftime("%a %d %b").to_string(),
            })
        })
        .collect();
    let current = super::api::schedule_on_call_with(state, id, now).await?;
    let on_call = current.user_id.map(|u| {
        (
            current.user_name.unwrap_or_else(|| u.to_string()),
            current
                .end
                .map(|e| local(e, &tz, DATE_TIME))
                .unwrap_or_default(),
        )
    });
    let overrides = state
        .store
        .list_schedule_overrides(id, now, now.saturating_add(RANGE_MAX).unwrap_or(now))
        .await?;
    let users = crate::shared::lists::all_users(state).await?;
    let mut names: HashMap<UserId, String> = users.iter().map(|u| (u.id, u.name.clone())).collect();
    let missing: Vec<UserId> = overrides
        .iter()
        .map(|o| o.user_id)
        .chain(record.layers.iter().flat_map(|l| l.users.iter().copied()))
        .filter(|u| !names.contains_key(u))
        .collect();
    names.extend(crate::shared::lists::user_names_or_ids(state, missing).await?);
    let can_admin = s.user.role.allows(Role::Admin);
    let mut resp = html(
        fb.status.unwrap_or(StatusCode::OK),
        &SchedulePage {
            nav: Some(Nav::new(s, "/schedules")),
            id,
            layers: record
                .layers
                .iter()
                .map(|l| layer_text(l, &names))
                .collect(),
            name: record.name,
            description: record.description,
            time_zone: record.time_zone,
            on_call,
            span_label: format!(
                "{} – {}",
                local(from, &tz, "%a %d %b %Y"),
                local(to, &tz, "%a %d %b %Y")
            ),
            spans: SPANS
                .iter()
                .map(|&d| SpanOption {
                    days: d,
                    current: d == span.days,
                })
                .collect(),
            from: span.date.to_string(),
            days: span.days,
            prev: span.shifted(-span.days),
            next: span.shifted(span.days),
            ticks,
            rows,
            overrides: overrides
                .into_iter()
                .map(|o| OverrideRow {
                    id: o.id,
                    user: names
                        .get(&o.user_id)
                        .cloned()
                        .unwrap_or_else(|| o.user_id.to_string()),
                    start: local(o.start, &tz, DATE_TIME),
                    end: local(o.end, &tz, DATE_TIME),
                })
                .collect(),
            users: user_options(&users, std::slice::from_ref(&fb.ov_user)),
            feed_url: feed_url(state, Feed::Schedule(id)).await?,
            can_respond: s.user.role.allows(Role::Responder),
            can_admin,
            csrf: s.session.csrf_token.clone(),
            error: fb.error,
            ov_start: fb.ov_start,
            ov_end: fb.ov_end,
        },
    );
    // The bars are placed with `style` attributes (numbers computed here, never user text):
    // allow those, and only those, on this page.
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; \
             frame-ancestors 'none'; form-action 'self'",
        ),
    );
    Ok(resp)
}

fn schedule_id(raw: &str) -> Option<ScheduleId> {
    raw.parse().ok()
}

fn no_query() -> TimelineQuery {
    TimelineQuery {
        from: None,
        days: None,
    }
}

async fn schedule_page(
    State(state): State<AppState>,
    s: WebSession,
    Path(id): Path<String>,
    Query(q): Query<TimelineQuery>,
) -> PageResult {
    let Some(id) = schedule_id(&id) else {
        return Ok(not_found_page());
    };
    render_schedule(&state, &s, id, &q, Feedback::default()).await
}

/// Back to the schedule page after a form: on success, by redirect; on refusal, with why.
async fn after_form<T>(
    state: &AppState,
    s: &WebSession,
    id: ScheduleId,
    outcome: Result<T, ApiError>,
    mut fb: Feedback,
) -> PageResult {
    match outcome {
        Ok(_) => Ok(Redirect::to(&format!("/schedules/{id}")).into_response()),
        Err(ApiError::NotFound(_)) if state.store.schedule(id).await.is_err() => {
            Ok(not_found_page())
        }
        Err(e) => {
            fb.status = Some(match e {
                ApiError::Conflict { .. } => StatusCode::CONFLICT,
                _ => StatusCode::BAD_REQUEST,
            });
            fb.error = Some(user_error(e)?);
            render_schedule(state, s, id, &no_query(), fb).await
        }
    }
}

#[derive(Deserialize)]
struct OverrideForm {
    csrf: String,
    user_id: String,
    start: String,
    end: String,
}

async fn add_override(
    State(state): State<AppState>,
    s: WebSession,
    Path(id): Path<String>,
    Form(f): Form<OverrideForm>,
) -> PageResult {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    let Some(id) = schedule_id(&id) else {
        return Ok(not_found_page());
    };
    if !s.user.role.allows(Role::Responder) {
        return Ok(forbidden("change who is on call"));
    }
    let record = match state.store.schedule(id).await {
        Ok(r) => r,
        Err(e) if e.is_not_found() => return Ok(not_found_page()),
        Err(e) => return Err(e.into()),
    };
    let tz = zone(&record.time_zone);
    let outcome = async {
        let user_id = f
            .user_id
            .parse::<UserId>()
            .map_err(|_| ApiError::invalid("user", "pick someone"))?;
        let body = CreateOverride {
            user_id,
            start: local_instant("start", &f.start, &tz)?,
            end: local_instant("end", &f.end, &tz)?,
        };
        super::api::add_override_with(&state, Actor::User(s.user.id), id, body).await
    }
    .await;
    let fb = Feedback {
        ov_user: f.user_id,
        ov_start: f.start,
        ov_end: f.end,
        ..Default::default()
    };
    after_form(&state, &s, id, outcome, fb).await
}

async fn remove_override(
    State(state): State<AppState>,
    s: WebSession,
    Path((id, override_id)): Path<(String, String)>,
    Form(f): Form<CsrfForm>,
) -> PageResult {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    let (Some(id), Ok(oid)) = (schedule_id(&id), override_id.parse::<OverrideId>()) else {
        return Ok(not_found_page());
    };
    if !s.user.role.allows(Role::Responder) {
        return Ok(forbidden("change who is on call"));
    }
    match super::api::remove_override_with(&state, Actor::User(s.user.id), id, oid).await {
        Ok(()) => Ok(Redirect::to(&format!("/schedules/{id}")).into_response()),
        Err(ApiError::NotFound(_)) => Ok(not_found_page()),
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
struct EditForm {
    csrf: String,
    name: String,
    #[serde(default)]
    description: String,
    time_zone: String,
}

async fn edit_schedule(
    State(state): State<AppState>,
    s: WebSession,
    Path(id): Path<String>,
    Form(f): Form<EditForm>,
) -> PageResult {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    let Some(id) = schedule_id(&id) else {
        return Ok(not_found_page());
    };
    if !s.user.role.allows(Role::Admin) {
        return Ok(forbidden("change schedules"));
    }
    let body = UpdateSchedule {
        name: Some(f.name),
        description: Some(f.description),
        time_zone: Some(f.time_zone.trim().to_owned()),
        layers: None,
    };
    let outcome = super::api::update_schedule_with(&state, Actor::User(s.user.id), id, body).await;
    after_form(&state, &s, id, outcome, Feedback::default()).await
}

async fn delete_schedule(
    State(state): State<AppState>,
    s: WebSession,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> PageResult {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    let Some(id) = schedule_id(&id) else {
        return Ok(not_found_page());
    };
    if !s.user.role.allows(Role::Admin) {
        return Ok(forbidden("delete schedules"));
    }
    match super::api::delete_schedule_with(&state, Actor::User(s.user.id), id).await {
        Ok(()) => Ok(Redirect::to("/schedules").into_response()),
        Err(ApiError::NotFound(_)) => Ok(not_found_page()),
        Err(e) => after_form::<()>(&state, &s, id, Err(e), Feedback::default()).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_makes_one_layer_in_the_order_sent() {
        let pairs = [
            ("csrf", "t"),
            ("name", "Ops"),
            ("time_zone", "Europe/Berlin"),
            ("start", "2026-11-16T09:00"),
            ("users", "0195b6c8-0000-7000-8000-000000000002"),
            ("users", "0195b6c8-0000-7000-8000-000000000001"),
            ("turn_count", "2"),
            ("turn_unit", "days"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .to_vec();
        let (csrf, d) = ScheduleDraft::from_pairs(pairs);
        assert_eq!(csrf, "t");
        let body = d.to_request().unwrap();
        assert_eq!(body.layers.len(), 1);
        let l = &body.layers[0];
        assert_eq!(
            l.users[0].to_string(),
            "0195b6c8-0000-7000-8000-000000000002"
        );
        assert_eq!(l.turn.count, 2);
        assert_eq!(l.turn.unit, TurnUnit::Days);
        assert_eq!(l.start.to_string(), "2026-11-16T09:00:00");
        assert_eq!(
            form_message("layers[0].users: must name between 1 and 100 users".into()),
            "users: must name between 1 and 100 users"
        );
    }

    #[test]
    fn bars_are_proportional_and_clipped_to_the_span() {
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        let u = UserId("0195b6c8-0000-7000-8000-000000000001".parse().unwrap());
        let shifts = vec![ShiftOut {
            user_id: u,
            user_name: Some("Ada".into()),
            start: t("2026-11-20T12:00:00Z"),
            end: t("2026-11-21T12:00:00Z"),
        }];
        let b = bars(
            &shifts,
            t("2026-11-21T00:00:00Z"),
            t("2026-11-23T00:00:00Z"),
            &TimeZone::UTC,
            &mut HashMap::new(),
        );
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].left, "0.0000");
        assert_eq!(b[0].width, "25.0000");
        assert_eq!(b[0].times, "Fri 20 Nov 12:00 – Sat 21 Nov 12:00");
    }
}
