//! The SLO pages: `/slos` (every SLO with its budget, and an admin's form to define one) and
//! `/slos/{id}` (its budget, the burn-down chart with its table, the rules' state, a form to
//! add counts, and an admin's forms to change or delete it). Forms call the same functions as
//! the REST API; a refused form comes back with each reason beside its field and what was
//! typed kept.
use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use klaxon_domain::auth::Role;
use klaxon_domain::event::Actor;
use klaxon_domain::ids::SloId;
use klaxon_domain::slo::availability::Source;
use klaxon_domain::slo::{self, BudgetStatus, Sli, Urgency};
use serde::Deserialize;

use super::api::{self, CountIn, CountsIn, NewSlo, RuleIn, SloPatch};
use super::apply::{self, ApplyReport};
use super::availability::{self, Choices};
use super::view::{self, PointOut, SloOut};
use crate::shared::error::ApiError;
use crate::shared::lists::all_services;
use crate::shared::state::AppState;
use crate::shared::time::Reader;
use crate::shared::web::{
    FormErrors, Nav, PageResult, WebSession, forbidden, html, not_found_page,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/slos", get(slos_page).post(add_slo))
        .route("/slos/apply", post(apply_yaml))
        .route("/slos/openslo.yaml", get(export_all))
        .route("/slos/{id}/openslo.yaml", get(export_one))
        .route("/slos/{id}", get(slo_page).post(edit_slo))
        .route("/slos/{id}/counts", post(add_counts))
        .route("/slos/{id}/delete", post(delete_slo))
}

/// The define and change form, as typed.
#[derive(Debug, Default, Clone, Deserialize)]
pub(crate) struct SloForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    objective: String,
    #[serde(default)]
    window: String,
    #[serde(default)]
    time_zone: String,
    #[serde(default)]
    at_risk: String,
    /// What it measures: `pushed`, `check:{id}` or `component:{id}` (availability), or
    /// `prometheus` (kept as set through the API).
    #[serde(default)]
    sli: String,
    /// One rule a line: `name urgency long short rate`; blank for the defaults.
    #[serde(default)]
    rules: String,
}

impl SloForm {
    fn of(s: &SloOut) -> Self {
        Self {
            csrf: String::new(),
            service: s.service_id.to_string(),
            name: s.name.clone(),
            description: s.description.clone(),
            objective: s.objective.to_string(),
            window: s.window.clone(),
            time_zone: s.time_zone.clone().unwrap_or_default(),
            at_risk: s.at_risk.to_string(),
            sli: match s.sli.source() {
                Some(Source::Check(id)) => format!("check:{id}"),
                Some(Source::Component(id)) => format!("component:{id}"),
                None => s.sli.kind().to_owned(),
            },
            rules: s
                .rules
                .iter()
                .map(|r| {
                    format!(
                        "{} {} {} {} {}",
                        r.name,
                        r.urgency.as_str(),
                        r.long,
                        r.short,
                        r.rate
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    /// A number as typed: `99.9`, `99.9 %`. A comma is refused rather than guessed at
    /// ("10,000" is ten thousand to some and ten to others).
    fn number(field: &str, raw: &str) -> Result<Option<f64>, FormErrors> {
        match raw.trim().trim_end_matches('%').trim() {
            "" => Ok(None),
            n => n.parse().map(Some).map_err(|_| {
                FormErrors::field(field, "must be a number, with a point for decimals: 99.9")
            }),
        }
    }

    fn rules(&self) -> Result<Option<Vec<RuleIn>>, FormErrors> {
        let lines: Vec<&str> = self
            .rules
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        if lines.is_empty() {
            return Ok(None);
        }
        let mut out = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            let bad = |why: &str| FormErrors::field("rules", &format!("line {}: {why}", i + 1));
            let parts: Vec<&str> = line.split_whitespace().collect();
            let [name, urgency, long, short, rate] = parts[..] else {
                return Err(bad(
                    "write name, urgency, long window, short window and rate, such as page-fast page 1h 5m 14.4",
                ));
            };
            let urgency: Urgency = urgency
                .parse()
                .map_err(|_| bad("the urgency is page or ticket"))?;
            let rate: f64 = rate.parse().map_err(|_| bad("the rate is a number"))?;
            out.push(RuleIn {
                name: name.to_owned(),
                urgency,
                long: long.to_owned(),
                short: short.to_owned(),
                rate: Some(rate),
                budget_spent: None,
            });
        }
        Ok(Some(out))
    }

    /// The SLI picked; `None` to keep the one set through the API (Prometheus).
    fn sli(&self) -> Result<Option<Sli>, FormErrors> {
        let bad = || FormErrors::field("sli", "pick pushed counts, a check or a component");
        let raw = self.sli.trim();
        Ok(Some(match raw.split_once(':') {
            None if raw.is_empty() || raw == "pushed" => Sli::Pushed,
            None if raw == "prometheus" => return Ok(None),
            Some(("check", id)) => Sli::Availability {
                check: Some(id.parse().map_err(|_| bad())?),
                component: None,
            },
            Some(("component", id)) => Sli::Availability {
                check: None,
                component: Some(id.parse().map_err(|_| bad())?),
            },
            _ => return Err(bad()),
        }))
    }

    fn create(&self) -> Result<NewSlo, FormErrors> {
        let sli = self.sli()?.ok_or_else(|| {
            FormErrors::field(
                "sli",
                "a Prometheus SLI is defined through the API or the CLI",
            )
        })?;
        self.body(sli)
    }

    fn body(&self, sli: Sli) -> Result<NewSlo, FormErrors> {
        Ok(NewSlo {
            service: self.service.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            objective: Self::number("objective", &self.objective)?.ok_or_else(|| {
                FormErrors::field("objective", "give the objective, such as 99.9")
            })?,
            window: self.window.clone(),
            time_zone: Some(self.time_zone.clone()).filter(|t| !t.trim().is_empty()),
            sli,
            at_risk: Self::number("at_risk", &self.at_risk)?,
            rules: self.rules()?,
        })
    }

    fn update(&self) -> Result<SloPatch, FormErrors> {
        // The SLI goes in the patch on its own: `None` keeps a Prometheus one.
        let sli = self.sli()?;
        let c = self.body(Sli::Pushed)?;
        Ok(SloPatch {
            name: Some(c.name),
            description: Some(c.description),
            objective: Some(c.objective),
            window: Some(c.window),
            time_zone: c.time_zone,
            sli,
            at_risk: c.at_risk,
            rules: c.rules,
        })
    }
}

/// A refusal as form errors; a rule's refusal (`rules[1].long: …`) names its line of the
/// rules box.
fn form_errors(e: ApiError) -> Result<FormErrors, ApiError> {
    if let ApiError::BadRequest {
        field: Some(f),
        message,
        ..
    } = &e
        && let Some(rest) = f.strip_prefix("rules[")
        && let Some((n, _)) = rest.split_once(']')
        && let Ok(n) = n.parse::<usize>()
    {
        let reason = message
            .split_once(": ")
            .map_or(message.as_str(), |(_, r)| r);
        return Ok(FormErrors::field(
            "rules",
            &format!("line {}: {reason}", n + 1),
        ));
    }
    FormErrors::from_error(e)
}

/// The windows the form offers.
const WINDOWS: [(&str, &str); 5] = [
    ("30d", "30 days, rolling"),
    ("28d", "28 days, rolling"),
    ("7d", "7 days, rolling"),
    ("90d", "90 days, rolling"),
    ("month", "Calendar month"),
];

#[derive(Template)]
#[template(path = "slos.html")]
struct SlosPage {
    nav: Option<Nav>,
    slos: Vec<SloOut>,
    services: Vec<(String, String)>,
    windows: &'static [(&'static str, &'static str)],
    choices: Choices,
    admin: bool,
    form: SloForm,
    csrf: String,
    errors: FormErrors,
    apply: ApplyForm,
    apply_errors: FormErrors,
    report: Option<ApplyReport>,
}

/// The "Apply OpenSLO YAML" form, as typed.
#[derive(Debug, Default, Clone, Deserialize)]
pub(crate) struct ApplyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    yaml: String,
    /// `yes` when "Dry run" is ticked.
    #[serde(default)]
    dry_run: String,
}

/// What the list page shows besides the SLOs: the define form and the apply form.
#[derive(Default)]
struct ListExtra {
    form: SloForm,
    errors: FormErrors,
    apply: ApplyForm,
    apply_errors: FormErrors,
    report: Option<ApplyReport>,
}

async fn services(state: &AppState) -> Result<Vec<(String, String)>, ApiError> {
    Ok(all_services(state)
        .await?
        .into_iter()
        .map(|s| (s.id.to_string(), s.name))
        .collect())
}

async fn render_list(
    state: &AppState,
    s: &WebSession,
    status: StatusCode,
    form: SloForm,
    errors: FormErrors,
) -> PageResult {
    let x = ListExtra {
        form,
        errors,
        ..ListExtra::default()
    };
    render_list_with(state, s, status, x).await
}

async fn render_list_with(
    state: &AppState,
    s: &WebSession,
    status: StatusCode,
    x: ListExtra,
) -> PageResult {
    let mut slos = Vec::new();
    for x in state.store.list_slos(None).await? {
        slos.push(view::now(state, x).await?);
    }
    Ok(html(
        status,
        &SlosPage {
            nav: Some(Nav::new(s, "/slos")),
            slos,
            services: services(state).await?,
            windows: &WINDOWS,
            choices: availability::choices(state, None).await?,
            admin: s.user.role == Role::Admin,
            form: x.form,
            csrf: s.session.csrf_token.clone(),
            errors: x.errors,
            apply: x.apply,
            apply_errors: x.apply_errors,
            report: x.report,
        },
    ))
}

/// Applies the pasted file (or, ticked, only says what it would do); a refusal comes back
/// beside the box, naming the place in the file, with the text kept.
async fn apply_yaml(
    State(state): State<AppState>,
    s: WebSession,
    Form(f): Form<ApplyForm>,
) -> PageResult {
    if let Some(r) = refuse(&s, &f.csrf, Role::Admin) {
        return Ok(r);
    }
    let dry_run = f.dry_run == "yes";
    let (status, report, apply_errors) =
        match apply::apply_with(&state, Actor::User(s.user.id), &f.yaml, dry_run).await {
            Ok(r) => (StatusCode::OK, Some(r), FormErrors::default()),
            Err(e) => {
                let status = e.status();
                // "At documents[1].spec.service: no such service": the place kept as written
                // (a sentence's capital would change it).
                let message = match &e {
                    ApiError::BadRequest {
                        message,
                        field: Some(_),
                        ..
                    }
                    | ApiError::Conflict {
                        message,
                        field: Some(_),
                    } => format!("at {message}"),
                    ApiError::BadRequest { message, .. } | ApiError::Conflict { message, .. } => {
                        message.clone()
                    }
                    _ => return Err(e),
                };
                (status, None, FormErrors::field("yaml", &message))
            }
        };
    let x = ListExtra {
        form: blank_form(),
        apply: f,
        apply_errors,
        report,
        ..ListExtra::default()
    };
    render_list_with(&state, &s, status, x).await
}

/// Every SLO as an OpenSLO file, to save.
async fn export_all(State(state): State<AppState>, _s: WebSession) -> PageResult {
    let slos = state.store.list_slos(None).await?;
    let yaml = apply::export_with(&state, &slos).await?;
    Ok(apply::yaml_answer(yaml, Some("slos.openslo.yaml")))
}

/// One SLO as an OpenSLO file, to save.
async fn export_one(
    State(state): State<AppState>,
    _s: WebSession,
    Path(raw): Path<String>,
) -> PageResult {
    let Some(id) = parse_id(&raw) else {
        return Ok(not_found_page());
    };
    let found = match state.store.slo(id).await {
        Ok(found) => found,
        Err(e) if e.is_not_found() => return Ok(not_found_page()),
        Err(e) => return Err(e.into()),
    };
    let yaml = apply::export_with(&state, std::slice::from_ref(&found)).await?;
    Ok(apply::yaml_answer(
        yaml,
        Some(&format!("slo-{id}.openslo.yaml")),
    ))
}

/// The define form as the list first shows it.
fn blank_form() -> SloForm {
    SloForm {
        objective: "99.9".into(),
        window: "30d".into(),
        at_risk: slo::DEFAULT_AT_RISK.to_string(),
        sli: "pushed".into(),
        ..SloForm::default()
    }
}

async fn slos_page(State(state): State<AppState>, s: WebSession) -> PageResult {
    render_list(
        &state,
        &s,
        StatusCode::OK,
        blank_form(),
        FormErrors::default(),
    )
    .await
}

/// The page to answer with when this is not an admin's form (bad CSRF token or role).
fn refuse(s: &WebSession, csrf: &str, role: Role) -> Option<Response> {
    if let Err(r) = s.check_csrf(csrf) {
        return Some(r);
    }
    (s.user.role < role).then(|| forbidden("change SLOs"))
}

async fn add_slo(
    State(state): State<AppState>,
    s: WebSession,
    Form(f): Form<SloForm>,
) -> PageResult {
    if let Some(r) = refuse(&s, &f.csrf, Role::Admin) {
        return Ok(r);
    }
    let body = match f.create() {
        Ok(b) => b,
        Err(errors) => return render_list(&state, &s, StatusCode::BAD_REQUEST, f, errors).await,
    };
    match api::create_with(&state, Actor::User(s.user.id), body).await {
        Ok(x) => Ok(Redirect::to(&format!("/slos/{}", x.id)).into_response()),
        Err(e) => {
            let status = e.status();
            let errors = form_errors(e)?;
            render_list(&state, &s, status, f, errors).await
        }
    }
}

/// One row of the burn-down's table: the last point of a day.
pub(crate) struct DayRow {
    day: String,
    left: String,
}

#[derive(Template)]
#[template(path = "slo.html")]
struct SloPage {
    nav: Option<Nav>,
    slo: SloOut,
    chart: String,
    days: Vec<DayRow>,
    windows: &'static [(&'static str, &'static str)],
    choices: Choices,
    /// What it measures, in words.
    measured_by: String,
    admin: bool,
    responder: bool,
    form: SloForm,
    counts: CountsForm,
    csrf: String,
    errors: FormErrors,
    delete_error: Option<String>,
    notice: Option<String>,
    reader: Reader,
}

impl SloPage {
    fn pct(&self, share: &Option<f64>) -> String {
        pct(*share)
    }

    fn rate(&self, r: &Option<f64>) -> String {
        r.map_or("—".into(), |r| format!("{r:.2}×"))
    }

    fn status_label(&self, s: &BudgetStatus) -> &'static str {
        status_label(*s)
    }
}

impl SlosPage {
    fn pct(&self, share: &Option<f64>) -> String {
        pct(*share)
    }

    fn status_label(&self, s: &BudgetStatus) -> &'static str {
        status_label(*s)
    }
}

/// A share of the budget for people: "62.5 %", or "—" when there is none.
fn pct(share: Option<f64>) -> String {
    share.map_or("—".into(), |s| format!("{:.1} %", s * 100.0))
}

/// A budget status in words: "at risk", not "at_risk".
fn status_label(s: BudgetStatus) -> &'static str {
    match s {
        BudgetStatus::Healthy => "healthy",
        BudgetStatus::AtRisk => "at risk",
        BudgetStatus::Exhausted => "exhausted",
    }
}

#[derive(Debug, Default, Clone, Deserialize)]
pub(crate) struct CountsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    good: String,
    #[serde(default)]
    total: String,
}

struct Extra {
    status: StatusCode,
    form: Option<SloForm>,
    counts: Option<CountsForm>,
    errors: FormErrors,
    delete_error: Option<String>,
    notice: Option<String>,
}

impl Extra {
    fn plain(notice: Option<String>) -> Self {
        Self {
            status: StatusCode::OK,
            form: None,
            counts: None,
            errors: FormErrors::default(),
            delete_error: None,
            notice,
        }
    }
}

/// The SLI in words: "pushed counts", "the up time of uptime check homepage".
fn measured_by(s: &SloOut, choices: &Choices) -> String {
    let value = SloForm::of(s).sli;
    let find = |list: &[(String, String)]| {
        list.iter()
            .find(|(v, _)| *v == value)
            .map(|(_, l)| l.clone())
    };
    match s.sli.source() {
        Some(Source::Check(_)) => find(&choices.checks).map_or_else(
            || "the up time of an uptime check no longer on the service".into(),
            |l| format!("the up time of uptime check {l}"),
        ),
        Some(Source::Component(_)) => find(&choices.components).map_or_else(
            || "the up time of a component no longer on the service".into(),
            |l| format!("the up time of component {l}"),
        ),
        None if s.sli.kind() == "prometheus" => "a Prometheus ratio".into(),
        None => "pushed counts".into(),
    }
}

/// Days in the reader's zone, each with the share left at its last hour.
fn days(points: &[PointOut], reader: &Reader) -> Vec<DayRow> {
    let mut out: Vec<DayRow> = Vec::new();
    for p in points {
        let day =
            p.at.to_zoned(reader.tz.clone())
                .strftime("%a %-d %b")
                .to_string();
        let left = pct(p.remaining_share);
        match out.last_mut() {
            Some(last) if last.day == day => last.left = left,
            _ => out.push(DayRow { day, left }),
        }
    }
    out
}

async fn render_slo(state: &AppState, s: &WebSession, id: SloId, x: Extra) -> PageResult {
    let found = match state.store.slo(id).await {
        Ok(found) => found,
        Err(e) if e.is_not_found() => return Ok(not_found_page()),
        Err(e) => return Err(e.into()),
    };
    let points = view::burn_down(state, &found).await?;
    let out = view::now(state, found).await?;
    let reader = s.reader();
    let chart = super::chart::burn_down(&out, &points);
    let mut choices = availability::choices(state, Some(out.service_id)).await?;
    let measured_by = measured_by(&out, &choices);
    // A source since moved off the service stays picked, so saving says so rather than
    // quietly switching to the first choice.
    let current = SloForm::of(&out).sli;
    let list = match out.sli.source() {
        Some(Source::Check(_)) => Some(&mut choices.checks),
        Some(Source::Component(_)) => Some(&mut choices.components),
        None => None,
    };
    if let Some(list) = list
        && !list.iter().any(|(v, _)| *v == current)
    {
        list.push((current, "(no longer on this service)".into()));
    }
    Ok(html(
        x.status,
        &SloPage {
            nav: Some(Nav::new(s, "/slos")),
            chart,
            days: days(&points, &reader),
            windows: &WINDOWS,
            choices,
            measured_by,
            admin: s.user.role == Role::Admin,
            responder: s.user.role >= Role::Responder,
            form: x.form.unwrap_or_else(|| SloForm::of(&out)),
            counts: x.counts.unwrap_or_default(),
            csrf: s.session.csrf_token.clone(),
            errors: x.errors,
            delete_error: x.delete_error,
            notice: x.notice,
            reader,
            slo: out,
        },
    ))
}

fn parse_id(raw: &str) -> Option<SloId> {
    raw.parse().ok()
}

async fn slo_page(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
) -> PageResult {
    let Some(id) = parse_id(&raw) else {
        return Ok(not_found_page());
    };
    render_slo(&state, &s, id, Extra::plain(None)).await
}

async fn refused(
    state: &AppState,
    s: &WebSession,
    id: SloId,
    e: ApiError,
    mut x: Extra,
) -> PageResult {
    if let ApiError::NotFound(_) = e {
        return Ok(not_found_page());
    }
    x.status = e.status();
    x.errors = form_errors(e)?;
    render_slo(state, s, id, x).await
}

async fn edit_slo(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Form(f): Form<SloForm>,
) -> PageResult {
    if let Some(r) = refuse(&s, &f.csrf, Role::Admin) {
        return Ok(r);
    }
    let Some(id) = parse_id(&raw) else {
        return Ok(not_found_page());
    };
    let keep = |f: SloForm| Extra {
        form: Some(f),
        ..Extra::plain(None)
    };
    let body = match f.update() {
        Ok(b) => b,
        Err(errors) => {
            let x = Extra {
                status: StatusCode::BAD_REQUEST,
                errors,
                ..keep(f)
            };
            return render_slo(&state, &s, id, x).await;
        }
    };
    match api::update_with(&state, Actor::User(s.user.id), id, body).await {
        Ok(_) => render_slo(&state, &s, id, Extra::plain(Some("Saved.".into()))).await,
        Err(e) => refused(&state, &s, id, e, keep(f)).await,
    }
}

async fn add_counts(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Form(f): Form<CountsForm>,
) -> PageResult {
    if let Some(r) = refuse(&s, &f.csrf, Role::Responder) {
        return Ok(r);
    }
    let Some(id) = parse_id(&raw) else {
        return Ok(not_found_page());
    };
    let keep = |f: CountsForm| Extra {
        counts: Some(f),
        ..Extra::plain(None)
    };
    let parsed = SloForm::number("counts[0].good", &f.good).and_then(|g| {
        SloForm::number("counts[0].total", &f.total).map(|t| (g.unwrap_or(f64::NAN), t))
    });
    let (good, total) = match parsed {
        Ok((g, Some(t))) => (g, t),
        Ok((_, None)) => {
            let x = Extra {
                status: StatusCode::BAD_REQUEST,
                errors: FormErrors::field("counts[0].total", "give the number of events"),
                ..keep(f)
            };
            return render_slo(&state, &s, id, x).await;
        }
        Err(errors) => {
            let x = Extra {
                status: StatusCode::BAD_REQUEST,
                errors,
                ..keep(f)
            };
            return render_slo(&state, &s, id, x).await;
        }
    };
    let body = CountsIn {
        counts: vec![CountIn {
            at: None,
            good,
            total,
        }],
    };
    match api::push_with(&state, id, &body).await {
        Ok(()) => render_slo(&state, &s, id, Extra::plain(Some("Counts added.".into()))).await,
        Err(e) => refused(&state, &s, id, e, keep(f)).await,
    }
}

#[derive(Deserialize)]
struct DeleteForm {
    csrf: String,
    /// `yes` when the "I am sure" box is ticked.
    #[serde(default)]
    confirm: String,
}

async fn delete_slo(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Form(f): Form<DeleteForm>,
) -> PageResult {
    if let Some(r) = refuse(&s, &f.csrf, Role::Admin) {
        return Ok(r);
    }
    let Some(id) = parse_id(&raw) else {
        return Ok(not_found_page());
    };
    if f.confirm != "yes" {
        let x = Extra {
            status: StatusCode::BAD_REQUEST,
            delete_error: Some("Tick \u{201c}I am sure\u{201d} to delete this SLO.".into()),
            ..Extra::plain(None)
        };
        return render_slo(&state, &s, id, x).await;
    }
    match api::delete_with(&state, Actor::User(s.user.id), id).await {
        Ok(()) => Ok(Redirect::to("/slos").into_response()),
        Err(ApiError::NotFound(_)) => Ok(not_found_page()),
        Err(e) => Err(e),
    }
}
