//! Web pages for on-call schedules: the list with who is on call now, a schedule's page (its
//! layers, a timeline and list of shifts, its overrides, its calendar feed), and deleting one.
//! The form that creates and edits schedules is in `web_form.rs`. Forms call the same functions
//! as the REST API (`crate::oncall::schedules::api`), so the rules and events are the same
//! whichever face is used.
use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use klaxon_domain::auth::Role;
use klaxon_domain::event::Actor;
use klaxon_domain::ids::{OverrideId, ScheduleId, UserId};
use klaxon_domain::page::Limit;
use klaxon_domain::schedule::{Layer, RANGE_MAX, Restriction, TurnUnit};
use serde::Deserialize;

use super::api::{CreateOverride, OnCallOut, ShiftOut};
use super::calendar::{Feed, feed_url};
use super::web_draft::{time_input, window_draft};
use super::web_form;
use crate::shared::error::ApiError;
use crate::shared::state::AppState;
use crate::shared::time::Reader;
use crate::shared::web::{CsrfForm, FormErrors, Nav, WebSession, html};
use crate::shared::web::{PageResult, forbidden, not_found_page};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/schedules", get(schedules_page).post(web_form::create))
        .route("/schedules/new", get(web_form::new_page))
        .route("/schedules/{id}", get(schedule_page))
        .route(
            "/schedules/{id}/edit",
            get(web_form::edit_page).post(web_form::edit),
        )
        .route(
            "/schedules/{id}/delete",
            get(delete_page).post(delete_schedule),
        )
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

// --- times in two zones ------------------------------------------------------------------------

fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap_or(TimeZone::UTC)
}

fn local(t: Timestamp, tz: &TimeZone, fmt: &str) -> String {
    t.to_zoned(tz.clone()).strftime(fmt).to_string()
}

/// An instant on a schedule page: in the schedule's zone, and in the reader's when that reads
/// differently.
pub struct Moment {
    pub iso: String,
    /// "Mon 23 Nov 09:00 CET", in the schedule's zone.
    pub text: String,
    /// The same instant in the reader's zone, when the two differ.
    pub yours: Option<String>,
}

/// The schedule's zone and the reader's.
pub(super) struct Zones {
    pub(super) tz: TimeZone,
    pub(super) name: String,
    pub(super) reader: Reader,
}

impl Zones {
    pub(super) fn new(schedule_zone: &str, reader: Reader) -> Self {
        let tz = zone(schedule_zone);
        Self {
            name: tz.iana_name().unwrap_or("UTC").to_owned(),
            tz,
            reader,
        }
    }

    /// Whether the reader reads times in another zone than the schedule's.
    pub(super) fn differ(&self) -> bool {
        self.reader.zone != self.name
    }

    fn text(&self, t: Timestamp, tz: &TimeZone) -> String {
        let z = t.to_zoned(tz.clone());
        let this_year = self.reader.now.to_zoned(tz.clone()).year();
        let fmt = if z.year() == this_year {
            "%a %-d %b %H:%M %Z"
        } else {
            "%a %-d %b %Y %H:%M %Z"
        };
        z.strftime(fmt).to_string()
    }

    pub(super) fn at(&self, t: Timestamp) -> Moment {
        let text = self.text(t, &self.tz);
        let yours = self.text(t, &self.reader.tz);
        Moment {
            iso: self.reader.when(t).iso,
            yours: (yours != text).then_some(yours),
            text,
        }
    }
}

/// One line of a list of shifts; `who` is `None` for a gap with nobody on call.
pub struct ShiftRow {
    pub who: Option<String>,
    pub start: Moment,
    pub end: Moment,
}

/// The final shifts over `[from, to)` as rows, with the gaps between them as "nobody" rows.
pub(super) fn shift_rows(
    shifts: &[ShiftOut],
    from: Timestamp,
    to: Timestamp,
    zones: &Zones,
) -> Vec<ShiftRow> {
    let mut rows = Vec::new();
    let mut at = from;
    for sh in shifts {
        if sh.start > at {
            rows.push(ShiftRow {
                who: None,
                start: zones.at(at),
                end: zones.at(sh.start),
            });
        }
        rows.push(ShiftRow {
            who: Some(
                sh.user_name
                    .clone()
                    .unwrap_or_else(|| sh.user_id.to_string()),
            ),
            start: zones.at(sh.start),
            end: zones.at(sh.end),
        });
        at = at.max(sh.end);
    }
    if at < to {
        rows.push(ShiftRow {
            who: None,
            start: zones.at(at),
            end: zones.at(to),
        });
    }
    rows
}

// --- who is on call now ------------------------------------------------------------------------

/// Every schedule's row from `GET /api/v1/oncalls`, with the schedule's zone.
async fn on_call_rows(state: &AppState) -> Result<Vec<(OnCallOut, String)>, ApiError> {
    let now = state.clock.now();
    let mut rows = Vec::new();
    let mut after = None;
    loop {
        let page = super::api::on_call_with(state, now, after, Limit::MAX).await?;
        rows.extend(page.items.into_iter().zip(page.time_zones));
        match page.next {
            Some(n) => after = Some(n),
            None => return Ok(rows),
        }
    }
}

// --- the list ----------------------------------------------------------------------------------

pub struct ListRow {
    pub id: String,
    pub schedule: String,
    pub user: Option<String>,
    pub until: Option<Moment>,
    pub time_zone: String,
}

#[derive(Template)]
#[template(path = "schedules.html")]
struct SchedulesPage {
    nav: Option<Nav>,
    rows: Vec<ListRow>,
    can_admin: bool,
}

async fn schedules_page(State(state): State<AppState>, s: WebSession) -> PageResult {
    let reader = s.reader();
    let rows = on_call_rows(&state)
        .await?
        .into_iter()
        .map(|(r, tz)| {
            let zones = Zones::new(&tz, reader.clone());
            ListRow {
                id: r.schedule_id.to_string(),
                schedule: r.schedule_name,
                user: r
                    .user_id
                    .map(|u| r.user_name.unwrap_or_else(|| u.to_string())),
                until: r.end.map(|e| zones.at(e)),
                time_zone: zones.name,
            }
        })
        .collect();
    Ok(html(
        StatusCode::OK,
        &SchedulesPage {
            nav: Some(Nav::new(&s, "/schedules")),
            rows,
            can_admin: s.user.role.allows(Role::Admin),
        },
    ))
}

// --- one schedule ------------------------------------------------------------------------------

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
    pub start: Moment,
    pub end: Moment,
    /// Why removing it was refused (no "I am sure"), shown in its row.
    pub errors: FormErrors,
}

pub struct SpanOption {
    pub days: i64,
    pub current: bool,
}

/// A layer in words.
pub struct LayerSummary {
    pub name: String,
    /// "1 week", "12 hours".
    pub turn: String,
    /// The first hand-off, local to the schedule's zone.
    pub start: String,
    /// The time of day hand-offs keep (days and weeks only).
    pub handoff: Option<String>,
    pub end: Option<Moment>,
    pub users: Vec<String>,
    pub windows: Vec<String>,
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

fn turn_text(count: u32, unit: TurnUnit) -> String {
    let unit = unit.as_str();
    if count == 1 {
        format!("1 {}", unit.trim_end_matches('s'))
    } else {
        format!("{count} {unit}")
    }
}

/// "every day 09:00–17:00", "Friday 17:00 – Monday 09:00".
pub(super) fn window_text(r: &Restriction) -> String {
    let d = window_draft(r);
    let day = |name: &str| {
        let mut c = name.chars();
        c.next()
            .map(|f| f.to_uppercase().chain(c).collect::<String>())
            .unwrap_or_default()
    };
    match *r {
        Restriction::Daily {
            duration_minutes: 1440,
            ..
        } => "all day, every day".into(),
        Restriction::Daily { .. } if d.end <= d.start => {
            format!("every day {}–{} (the next day)", d.start, d.end)
        }
        Restriction::Daily { .. } => format!("every day {}–{}", d.start, d.end),
        Restriction::Weekly {
            duration_minutes: 10080,
            ..
        } => format!("all week, from {} {}", day(&d.start_day), d.start),
        Restriction::Weekly {
            duration_minutes, ..
        } if d.start_day == d.end_day && duration_minutes < 1440 => {
            format!("{} {}–{}", day(&d.start_day), d.start, d.end)
        }
        Restriction::Weekly { .. } => format!(
            "{} {} – {} {}",
            day(&d.start_day),
            d.start,
            day(&d.end_day),
            d.end
        ),
    }
}

fn layer_summary(l: &Layer, names: &HashMap<UserId, String>, zones: &Zones) -> LayerSummary {
    LayerSummary {
        name: l.name.clone(),
        turn: turn_text(l.turn.count, l.turn.unit),
        start: l.start.strftime("%a %-d %b %Y %H:%M").to_string(),
        handoff: (l.turn.unit != TurnUnit::Hours).then(|| time_input(l.start.time())),
        end: l.end.map(|e| zones.at(e)),
        users: l
            .users
            .iter()
            .map(|u| names.get(u).cloned().unwrap_or_else(|| u.to_string()))
            .collect(),
        windows: l.restrictions.iter().map(window_text).collect(),
    }
}

#[derive(Template)]
#[template(path = "schedule.html")]
struct SchedulePage {
    nav: Option<Nav>,
    id: ScheduleId,
    name: String,
    description: String,
    time_zone: String,
    reader_zone: String,
    zones_differ: bool,
    layers: Vec<LayerSummary>,
    /// Who is on call now, and until when.
    on_call: Option<(String, Option<Moment>)>,
    span_label: String,
    spans: Vec<SpanOption>,
    from: String,
    days: i64,
    prev: String,
    next: String,
    ticks: Vec<Tick>,
    rows: Vec<TimelineRow>,
    shifts: Vec<ShiftRow>,
    overrides: Vec<OverrideRow>,
    users: Vec<(String, String)>,
    feed_url: String,
    can_respond: bool,
    can_admin: bool,
    csrf: String,
    errors: FormErrors,
    /// The override form's values.
    ov_user: String,
    ov_start: String,
    ov_end: String,
    /// The override form's fields.
    shown: &'static [&'static str],
}

/// What a refused override form brings back.
#[derive(Default)]
struct Feedback {
    status: Option<StatusCode>,
    errors: FormErrors,
    ov_user: String,
    ov_start: String,
    ov_end: String,
    /// The override whose removal was refused, and why.
    removing: Option<(OverrideId, FormErrors)>,
}

async fn render_schedule(
    state: &AppState,
    s: &WebSession,
    id: ScheduleId,
    q: &TimelineQuery,
    mut fb: Feedback,
) -> PageResult {
    let record = match state.store.schedule(id).await {
        Ok(r) => r,
        Err(e) if e.is_not_found() => return Ok(not_found_page()),
        Err(e) => return Err(e.into()),
    };
    let zones = Zones::new(&record.time_zone, s.reader());
    let tz = zones.tz.clone();
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
            current.end.map(|e| zones.at(e)),
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
    let page = SchedulePage {
        nav: Some(Nav::new(s, "/schedules")),
        id,
        layers: record
            .layers
            .iter()
            .map(|l| layer_summary(l, &names, &zones))
            .collect(),
        name: record.name,
        description: record.description,
        time_zone: zones.name.clone(),
        reader_zone: zones.reader.zone.clone(),
        zones_differ: zones.differ(),
        on_call,
        span_label: format!(
            "{} – {}",
            local(from, &tz, "%a %-d %b %Y"),
            local(to, &tz, "%a %-d %b %Y")
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
        shifts: shift_rows(&shifts.shifts, from, to, &zones),
        overrides: overrides
            .into_iter()
            .map(|o| OverrideRow {
                id: o.id,
                user: names
                    .get(&o.user_id)
                    .cloned()
                    .unwrap_or_else(|| o.user_id.to_string()),
                start: zones.at(o.start),
                end: zones.at(o.end),
                errors: if fb.removing.as_ref().is_some_and(|(r, _)| *r == o.id) {
                    fb.removing.take().map(|(_, e)| e).unwrap_or_default()
                } else {
                    FormErrors::default()
                },
            })
            .collect(),
        users: users
            .iter()
            .map(|u| (u.id.to_string(), format!("{} ({})", u.name, u.email)))
            .collect(),
        feed_url: feed_url(state, Feed::Schedule(id)).await?,
        can_respond: s.user.role.allows(Role::Responder),
        can_admin: s.user.role.allows(Role::Admin),
        csrf: s.session.csrf_token.clone(),
        errors: fb.errors,
        ov_user: fb.ov_user,
        ov_start: fb.ov_start,
        ov_end: fb.ov_end,
        shown: &["user_id", "start", "end"],
    };
    Ok(html(fb.status.unwrap_or(StatusCode::OK), &page))
}

pub(super) fn schedule_id(raw: &str) -> Option<ScheduleId> {
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

// --- overrides ---------------------------------------------------------------------------------

#[derive(Deserialize)]
struct OverrideForm {
    csrf: String,
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    start: String,
    #[serde(default)]
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
    if let Err(e) = state.store.schedule(id).await {
        return if e.is_not_found() {
            Ok(not_found_page())
        } else {
            Err(e.into())
        };
    }
    // The times are typed in the reader's zone, as every time on the page is shown.
    let reader = s.reader();
    let when = |field: &str, raw: &str| {
        reader.parse_input(raw).ok_or_else(|| {
            ApiError::invalid(field, "must be a date and time, like 2026-11-21T18:00")
        })
    };
    let outcome = async {
        let user_id = f
            .user_id
            .parse::<UserId>()
            .map_err(|_| ApiError::invalid("user_id", "choose who covers"))?;
        let body = CreateOverride {
            user_id,
            start: when("start", &f.start)?,
            end: when("end", &f.end)?,
        };
        super::api::add_override_with(&state, Actor::User(s.user.id), id, body).await
    }
    .await;
    match outcome {
        Ok(_) => Ok(Redirect::to(&format!("/schedules/{id}#overrides")).into_response()),
        Err(e) => {
            let fb = Feedback {
                status: Some(e.status()),
                errors: FormErrors::from_error(e)?,
                ov_user: f.user_id,
                ov_start: f.start,
                ov_end: f.end,
                removing: None,
            };
            render_schedule(&state, &s, id, &no_query(), fb).await
        }
    }
}

#[derive(Deserialize)]
struct RemoveOverrideForm {
    csrf: String,
    /// Removing asks "are you sure": `yes`.
    #[serde(default)]
    confirm: String,
}

async fn remove_override(
    State(state): State<AppState>,
    s: WebSession,
    Path((id, override_id)): Path<(String, String)>,
    Form(f): Form<RemoveOverrideForm>,
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
    if f.confirm != "yes" {
        // Whether it exists first: a refusal for a row the page does not show would be lost.
        return match state.store.schedule_override(id, oid).await {
            Ok(_) => {
                let why = FormErrors::field("confirm", "tick this box to remove the override");
                let fb = Feedback {
                    status: Some(StatusCode::BAD_REQUEST),
                    removing: Some((oid, why)),
                    ..Feedback::default()
                };
                render_schedule(&state, &s, id, &no_query(), fb).await
            }
            Err(e) if e.is_not_found() => Ok(not_found_page()),
            Err(e) => Err(e.into()),
        };
    }
    match super::api::remove_override_with(&state, Actor::User(s.user.id), id, oid).await {
        Ok(()) => Ok(Redirect::to(&format!("/schedules/{id}#overrides")).into_response()),
        Err(ApiError::NotFound(_)) => Ok(not_found_page()),
        Err(e) => Err(e),
    }
}

// --- deleting ----------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "schedule_delete.html")]
struct DeletePage {
    nav: Option<Nav>,
    id: ScheduleId,
    name: String,
    overrides: usize,
    csrf: String,
    errors: FormErrors,
    /// No field: every refusal goes at the top.
    shown: &'static [&'static str],
}

async fn render_delete(
    state: &AppState,
    s: &WebSession,
    id: ScheduleId,
    status: StatusCode,
    errors: FormErrors,
) -> PageResult {
    if !s.user.role.allows(Role::Admin) {
        return Ok(forbidden("delete schedules"));
    }
    let record = match state.store.schedule(id).await {
        Ok(r) => r,
        Err(e) if e.is_not_found() => return Ok(not_found_page()),
        Err(e) => return Err(e.into()),
    };
    let now = state.clock.now();
    let overrides = state
        .store
        .list_schedule_overrides(id, now, now.saturating_add(RANGE_MAX).unwrap_or(now))
        .await?
        .len();
    Ok(html(
        status,
        &DeletePage {
            nav: Some(Nav::new(s, "/schedules")),
            id,
            name: record.name,
            overrides,
            csrf: s.session.csrf_token.clone(),
            errors,
            shown: &[],
        },
    ))
}

/// Asks before deleting: the schedule page's Delete is a link here.
async fn delete_page(
    State(state): State<AppState>,
    s: WebSession,
    Path(id): Path<String>,
) -> PageResult {
    let Some(id) = schedule_id(&id) else {
        return Ok(not_found_page());
    };
    render_delete(&state, &s, id, StatusCode::OK, FormErrors::default()).await
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
        Err(e) => {
            let status = e.status();
            render_delete(&state, &s, id, status, FormErrors::from_error(e)?).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::{Time, Weekday};

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
        // The list has the gap after it, in both zones.
        let zones = Zones::new(
            "Europe/Berlin",
            Reader::new(Some("America/New_York"), t("2026-11-21T09:00:00Z")),
        );
        let rows = shift_rows(
            &shifts,
            t("2026-11-21T00:00:00Z"),
            t("2026-11-23T00:00:00Z"),
            &zones,
        );
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].end.text, "Sat 21 Nov 13:00 CET");
        assert_eq!(rows[0].end.yours.as_deref(), Some("Sat 21 Nov 07:00 EST"));
        assert!(rows[1].who.is_none());
        let same = Zones::new("UTC", Reader::new(None, t("2026-11-21T09:00:00Z")));
        assert!(same.at(t("2027-01-02T00:00:00Z")).yours.is_none());
        assert_eq!(
            same.at(t("2027-01-02T00:00:00Z")).text,
            "Sat 2 Jan 2027 00:00 UTC"
        );
    }

    #[test]
    fn windows_in_words() {
        let nine = Time::constant(9, 0, 0, 0);
        let daily = |m| Restriction::Daily {
            start: nine,
            duration_minutes: m,
        };
        assert_eq!(window_text(&daily(480)), "every day 09:00–17:00");
        assert_eq!(
            window_text(&daily(1380)),
            "every day 09:00–08:00 (the next day)"
        );
        assert_eq!(window_text(&daily(1440)), "all day, every day");
        let weekly = Restriction::Weekly {
            start_weekday: Weekday::Friday,
            start: Time::constant(17, 0, 0, 0),
            duration_minutes: 3840,
        };
        assert_eq!(window_text(&weekly), "Friday 17:00 – Monday 09:00");
        let monday = Restriction::Weekly {
            start_weekday: Weekday::Monday,
            start: nine,
            duration_minutes: 480,
        };
        assert_eq!(window_text(&monday), "Monday 09:00–17:00");
        assert_eq!(turn_text(1, TurnUnit::Weeks), "1 week");
        assert_eq!(turn_text(12, TurnUnit::Hours), "12 hours");
    }
}
