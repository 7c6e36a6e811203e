//! The checks pages: `/checks` (every check, and an admin's form to add one) and
//! `/checks/{id}` (its state, latest results, 90 days of daily uptime, and an admin's forms to
//! change or delete it). Forms call the same functions as the REST API, and a refused form
//! comes back with each reason beside its field and what was typed kept.
use std::collections::BTreeMap;

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use jiff::{SignedDuration, Timestamp};
use klaxon_domain::auth::Role;
use klaxon_domain::check::{self, CheckState, HttpMethod};
use klaxon_domain::event::Actor;
use klaxon_domain::ids::CheckId;
use klaxon_store::{Check, CheckResult};
use serde::Deserialize;

use super::checks_api::{CreateCheck, UpdateCheck, day_out};
use crate::shared::error::ApiError;
use crate::shared::lists::all_services;
use crate::shared::state::AppState;
use crate::shared::time::Reader;
use crate::shared::web::{
    FormErrors, Nav, PageResult, WebSession, forbidden, html, not_found_page,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/checks", get(checks_page).post(add_check))
        .route("/checks/{id}", get(check_page).post(edit_check))
        .route("/checks/{id}/delete", post(delete_check))
}

/// The add and edit form, as typed.
#[derive(Debug, Default, Clone, Deserialize)]
pub(crate) struct CheckForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    method: String,
    /// `Name: value`, one a line.
    #[serde(default)]
    headers: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    timeout_ms: String,
    #[serde(default)]
    interval_secs: String,
    #[serde(default)]
    failure_threshold: String,
    #[serde(default)]
    success_threshold: String,
    /// One a line.
    #[serde(default)]
    conditions: String,
    /// `on` when ticked (edit form only).
    #[serde(default)]
    enabled: Option<String>,
}

impl CheckForm {
    fn of(c: &Check) -> Self {
        let s = &c.spec;
        Self {
            csrf: String::new(),
            name: c.name.clone(),
            service: c.service_id.to_string(),
            url: s.url.clone(),
            method: s.method.as_str().to_owned(),
            headers: s
                .headers
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join("\n"),
            body: s.body.clone().unwrap_or_default(),
            timeout_ms: s.timeout_ms.to_string(),
            interval_secs: s.interval_secs.to_string(),
            failure_threshold: s.failure_threshold.to_string(),
            success_threshold: s.success_threshold.to_string(),
            conditions: s
                .conditions
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
            enabled: c.enabled.then(|| "on".to_owned()),
        }
    }

    fn number(field: &str, raw: &str) -> Result<Option<u32>, FormErrors> {
        match raw.trim() {
            "" => Ok(None),
            n => n
                .parse()
                .map(Some)
                .map_err(|_| FormErrors::field(field, "must be a whole number")),
        }
    }

    fn headers(&self) -> Result<BTreeMap<String, String>, FormErrors> {
        let mut out = BTreeMap::new();
        for line in self.headers.lines().filter(|l| !l.trim().is_empty()) {
            let Some((k, v)) = line.split_once(':') else {
                return Err(FormErrors::field(
                    "headers",
                    &format!(
                        "write each header as Name: value ({:?} has no colon)",
                        line.trim()
                    ),
                ));
            };
            out.insert(k.trim().to_owned(), v.trim().to_owned());
        }
        Ok(out)
    }

    fn conditions(&self) -> Vec<String> {
        self.conditions
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }

    fn create(&self) -> Result<CreateCheck, FormErrors> {
        Ok(CreateCheck {
            name: self.name.clone(),
            service: self.service.clone(),
            url: self.url.clone(),
            method: Some(self.method.clone()).filter(|m| !m.is_empty()),
            headers: self.headers()?,
            body: Some(self.body.clone()).filter(|b| !b.is_empty()),
            timeout_ms: Self::number("timeout_ms", &self.timeout_ms)?,
            interval_secs: Self::number("interval_secs", &self.interval_secs)?,
            failure_threshold: Self::number("failure_threshold", &self.failure_threshold)?,
            success_threshold: Self::number("success_threshold", &self.success_threshold)?,
            conditions: self.conditions(),
            enabled: Some(true),
        })
    }

    fn update(&self) -> Result<UpdateCheck, FormErrors> {
        let c = self.create()?;
        Ok(UpdateCheck {
            name: Some(c.name),
            service: Some(c.service),
            url: Some(c.url),
            method: Some(c.method.unwrap_or_else(|| "GET".into())),
            headers: Some(c.headers),
            body: Some(self.body.clone()),
            timeout_ms: Some(c.timeout_ms.unwrap_or(check::TIMEOUT_DEFAULT_MS)),
            interval_secs: Some(c.interval_secs.unwrap_or(check::INTERVAL_DEFAULT)),
            failure_threshold: Some(
                c.failure_threshold
                    .unwrap_or(check::FAILURE_THRESHOLD_DEFAULT),
            ),
            success_threshold: Some(
                c.success_threshold
                    .unwrap_or(check::SUCCESS_THRESHOLD_DEFAULT),
            ),
            conditions: Some(c.conditions),
            enabled: Some(self.enabled.is_some()),
        })
    }
}

/// What the form's pickers offer.
pub(crate) struct Choices {
    services: Vec<(String, String)>,
    methods: Vec<&'static str>,
}

async fn choices(state: &AppState) -> Result<Choices, ApiError> {
    let services = all_services(state)
        .await?
        .into_iter()
        .map(|s| (s.id.to_string(), s.name))
        .collect();
    Ok(Choices {
        services,
        methods: HttpMethod::ALL.iter().map(|m| m.as_str()).collect(),
    })
}

/// One row of the list.
pub(crate) struct Row {
    check: Check,
    service: String,
    last_run: Option<String>,
}

#[derive(Template)]
#[template(path = "checks.html")]
struct ChecksPage {
    nav: Option<Nav>,
    rows: Vec<Row>,
    admin: bool,
    form: CheckForm,
    choices: Choices,
    csrf: String,
    errors: FormErrors,
    reader: Reader,
}

fn state_label(s: CheckState) -> &'static str {
    match s {
        CheckState::Up => "up",
        CheckState::Down => "down",
    }
}

async fn render_list(
    state: &AppState,
    s: &WebSession,
    status: StatusCode,
    form: CheckForm,
    errors: FormErrors,
) -> PageResult {
    let choices = choices(state).await?;
    let reader = s.reader();
    let rows = state
        .store
        .list_checks()
        .await?
        .into_iter()
        .map(|c| Row {
            service: choices
                .services
                .iter()
                .find(|(id, _)| *id == c.service_id.to_string())
                .map_or_else(String::new, |(_, n)| n.clone()),
            last_run: c.last_run_at.map(|t| reader.when(t).html_ago()),
            check: c,
        })
        .collect();
    Ok(html(
        status,
        &ChecksPage {
            nav: Some(Nav::new(s, "/checks")),
            rows,
            admin: s.user.role == Role::Admin,
            form,
            choices,
            csrf: s.session.csrf_token.clone(),
            errors,
            reader,
        },
    ))
}

async fn checks_page(State(state): State<AppState>, s: WebSession) -> PageResult {
    let form = CheckForm {
        interval_secs: check::INTERVAL_DEFAULT.to_string(),
        failure_threshold: check::FAILURE_THRESHOLD_DEFAULT.to_string(),
        success_threshold: check::SUCCESS_THRESHOLD_DEFAULT.to_string(),
        timeout_ms: check::TIMEOUT_DEFAULT_MS.to_string(),
        ..CheckForm::default()
    };
    render_list(&state, &s, StatusCode::OK, form, FormErrors::default()).await
}

/// The page to answer with when this is not an admin's form (bad CSRF token or role).
fn refuse(s: &WebSession, csrf: &str) -> Option<Response> {
    if let Err(r) = s.check_csrf(csrf) {
        return Some(r);
    }
    (s.user.role != Role::Admin).then(|| forbidden("manage checks"))
}

async fn add_check(
    State(state): State<AppState>,
    s: WebSession,
    Form(f): Form<CheckForm>,
) -> PageResult {
    if let Some(r) = refuse(&s, &f.csrf) {
        return Ok(r);
    }
    let body = match f.create() {
        Ok(b) => b,
        Err(errors) => return render_list(&state, &s, StatusCode::BAD_REQUEST, f, errors).await,
    };
    match super::checks_api::create_with(&state, Actor::User(s.user.id), body).await {
        Ok(c) => Ok(Redirect::to(&format!("/checks/{}", c.id)).into_response()),
        Err(e) => {
            let status = e.status();
            let errors = FormErrors::from_error(e)?;
            render_list(&state, &s, status, f, errors).await
        }
    }
}

/// One day's bar in the 90-day strip.
pub(crate) struct Bar {
    class: &'static str,
    title: String,
}

#[derive(Template)]
#[template(path = "check.html")]
struct CheckPage {
    nav: Option<Nav>,
    check: Check,
    service: String,
    results: Vec<CheckResult>,
    bars: Vec<Bar>,
    /// "99.52%" over the 90 days, if there were runs.
    uptime: Option<String>,
    bad_days: usize,
    admin: bool,
    form: CheckForm,
    choices: Choices,
    csrf: String,
    errors: FormErrors,
    /// The delete form's refusal ("I am sure" not ticked).
    delete_error: Option<String>,
    notice: Option<String>,
    reader: Reader,
}

const DAYS_SHOWN: i64 = 90;

fn bar_class(total: u32, successes: u32) -> &'static str {
    if total == 0 {
        return "none";
    }
    let ratio = f64::from(successes) / f64::from(total);
    if ratio >= 0.999 {
        "up"
    } else if ratio >= 0.95 {
        "some"
    } else {
        "down"
    }
}

struct Extra {
    status: StatusCode,
    form: Option<CheckForm>,
    errors: FormErrors,
    delete_error: Option<String>,
    notice: Option<String>,
}

impl Extra {
    fn plain(notice: Option<String>) -> Self {
        Self {
            status: StatusCode::OK,
            form: None,
            errors: FormErrors::default(),
            delete_error: None,
            notice,
        }
    }
}

async fn render_check(state: &AppState, s: &WebSession, id: CheckId, x: Extra) -> PageResult {
    let check = match state.store.check(id).await {
        Ok(c) => c,
        Err(e) if e.is_not_found() => return Ok(not_found_page()),
        Err(e) => return Err(e.into()),
    };
    let choices = choices(state).await?;
    let service = choices
        .services
        .iter()
        .find(|(sid, _)| *sid == check.service_id.to_string())
        .map_or_else(String::new, |(_, n)| n.clone());
    let results = state.store.check_results(id, None, 20).await?;
    let today = check::day_of(state.clock.now());
    let from = today
        .checked_sub(SignedDuration::from_hours(24 * (DAYS_SHOWN - 1)))
        .unwrap_or(today);
    let days = state.store.check_days(id, from, today).await?;
    let (total, ok) = days.iter().fold((0u64, 0u64), |(t, o), d| {
        (t + u64::from(d.total), o + u64::from(d.successes))
    });
    let mut bars = Vec::with_capacity(DAYS_SHOWN as usize);
    let mut bad_days = 0;
    for i in 0..DAYS_SHOWN {
        let day: Timestamp = from
            .checked_add(SignedDuration::from_hours(24 * i))
            .unwrap_or(from);
        let date = day.to_zoned(jiff::tz::TimeZone::UTC).date().to_string();
        let bar = match days.iter().find(|d| d.day == day) {
            Some(d) => {
                let o = day_out(d);
                let class = bar_class(d.total, d.successes);
                if class != "up" {
                    bad_days += 1;
                }
                Bar {
                    class,
                    title: format!(
                        "{date}: {:.2}% of {} runs passed, down {} min",
                        o.uptime.unwrap_or(0.0) * 100.0,
                        o.total,
                        o.down_secs / 60
                    ),
                }
            }
            None => Bar {
                class: "none",
                title: format!("{date}: no runs"),
            },
        };
        bars.push(bar);
    }
    let form = x.form.unwrap_or_else(|| CheckForm::of(&check));
    Ok(html(
        x.status,
        &CheckPage {
            nav: Some(Nav::new(s, "/checks")),
            service,
            results,
            bars,
            uptime: (total > 0).then(|| format!("{:.2}%", ok as f64 * 100.0 / total as f64)),
            bad_days,
            admin: s.user.role == Role::Admin,
            form,
            choices,
            csrf: s.session.csrf_token.clone(),
            errors: x.errors,
            delete_error: x.delete_error,
            notice: x.notice,
            reader: s.reader(),
            check,
        },
    ))
}

async fn check_page(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
) -> PageResult {
    let Ok(id) = raw.parse::<CheckId>() else {
        return Ok(not_found_page());
    };
    render_check(&state, &s, id, Extra::plain(None)).await
}

async fn edit_check(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Form(f): Form<CheckForm>,
) -> PageResult {
    if let Some(r) = refuse(&s, &f.csrf) {
        return Ok(r);
    }
    let Ok(id) = raw.parse::<CheckId>() else {
        return Ok(not_found_page());
    };
    let refused = |status: StatusCode, f: CheckForm, errors: FormErrors| Extra {
        status,
        form: Some(f),
        errors,
        delete_error: None,
        notice: None,
    };
    let body = match f.update() {
        Ok(b) => b,
        Err(errors) => {
            let x = refused(StatusCode::BAD_REQUEST, f, errors);
            return render_check(&state, &s, id, x).await;
        }
    };
    match super::checks_api::update_with(&state, Actor::User(s.user.id), id, body).await {
        Ok(_) => render_check(&state, &s, id, Extra::plain(Some("Saved.".into()))).await,
        Err(ApiError::NotFound(_)) => Ok(not_found_page()),
        Err(e) => {
            let status = e.status();
            let errors = FormErrors::from_error(e)?;
            render_check(&state, &s, id, refused(status, f, errors)).await
        }
    }
}

#[derive(Deserialize)]
struct DeleteForm {
    csrf: String,
    /// `yes` when the "I am sure" box is ticked.
    #[serde(default)]
    confirm: String,
}

async fn delete_check(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Form(f): Form<DeleteForm>,
) -> PageResult {
    if let Some(r) = refuse(&s, &f.csrf) {
        return Ok(r);
    }
    let Ok(id) = raw.parse::<CheckId>() else {
        return Ok(not_found_page());
    };
    if f.confirm != "yes" {
        let x = Extra {
            status: StatusCode::BAD_REQUEST,
            delete_error: Some("Tick \u{201c}I am sure\u{201d} to delete this check.".into()),
            ..Extra::plain(None)
        };
        return render_check(&state, &s, id, x).await;
    }
    match super::checks_api::delete_with(&state, Actor::User(s.user.id), id).await {
        Ok(()) => Ok(Redirect::to("/checks").into_response()),
        Err(ApiError::NotFound(_)) => Ok(not_found_page()),
        Err(e) => Err(e),
    }
}

impl CheckPage {
    fn state_label(&self) -> &'static str {
        state_label(self.check.health.state)
    }
}

impl ChecksPage {
    fn state_label(&self, s: &CheckState) -> &'static str {
        state_label(*s)
    }
}
