//! The Insights page (`/insights`): incident metrics, alert noise and on-call load over a
//! period, with period and grouping pickers (a GET form, no script), SVG charts each beside a
//! table of the same numbers, and CSV/JSON exports of every table under `/insights/export/`.
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::tz::TimeZone;
use klaxon_domain::learning::{GroupBy, METRICS, Stats, human};
use serde::Deserialize;

use super::api::{self, PeriodParams};
use super::chart::{self, Bar};
use super::csv;
use super::report::{MetricsRow, OnCallReport};
use crate::shared::error::ApiError;
use crate::shared::state::AppState;
use crate::shared::web::{Nav, PageResult, WebSession, html};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/insights", get(insights_page))
        .route("/insights/export/{file}", get(export))
}

#[derive(Debug, Default, Deserialize)]
struct PageQuery {
    from: Option<String>,
    to: Option<String>,
    group_by: Option<String>,
}

impl PageQuery {
    fn params(&self) -> PeriodParams {
        PeriodParams {
            from: self.from.clone(),
            to: self.to.clone(),
            // The form's "nothing" is an empty value; the API refuses one.
            group_by: self.group_by.clone().filter(|g| !g.is_empty()),
            ..PeriodParams::default()
        }
    }
}

/// A row of the metrics table, as people read it.
struct Row {
    label: String,
    incidents: u64,
    /// Per metric: "mean · median · p90 (n)", or "none".
    cells: Vec<String>,
}

fn cell(s: &Stats) -> String {
    match (s.mean, s.median, s.p90) {
        (Some(mean), Some(median), Some(p90)) => format!(
            "{} · {} · {} ({})",
            human(mean),
            human(median),
            human(p90),
            s.count
        ),
        _ => "none".to_owned(),
    }
}

fn row(r: &MetricsRow) -> Row {
    Row {
        label: r.label.clone(),
        incidents: r.incidents,
        cells: METRICS.iter().map(|m| cell(r.stats(m))).collect(),
    }
}

struct Report {
    metrics: Vec<Row>,
    weeks: Vec<(String, u64, String, String)>,
    weeks_chart: String,
    severe: Vec<(String, u64, String)>,
    noise: super::report::NoiseReport,
    noise_chart: String,
    people: Vec<PersonRow>,
    people_chart: String,
    oncall: OnCallReport,
    budget: crate::slos::burns::BudgetReport,
    budget_chart: String,
}

struct PersonRow {
    name: String,
    zone: String,
    hours: [String; 4],
    pages: [u64; 3],
    incidents: u64,
    shifts: u64,
}

fn hours(h: f64) -> String {
    format!("{h:.1}")
}

#[derive(Template)]
#[template(path = "insights.html")]
struct InsightsPage {
    nav: Option<Nav>,
    from: String,
    to: String,
    group_by: String,
    groupings: Vec<(&'static str, &'static str)>,
    query: String,
    error: Option<String>,
    report: Option<Report>,
}

fn day(t: jiff::Timestamp) -> String {
    t.to_zoned(TimeZone::UTC).date().to_string()
}

async fn build(state: &AppState, p: &PeriodParams) -> Result<Report, ApiError> {
    let m = api::metrics_with(state, p).await?;
    let noise = api::noise_with(state, p).await?;
    let oncall = api::oncall_with(state, p).await?;
    let budget = api::budget_with(state, p).await?;
    let mut metrics = vec![row(&m.overall)];
    metrics.extend(m.groups.iter().map(row));
    let weeks: Vec<_> = m
        .weeks
        .iter()
        .map(|w| {
            let mean = |s: &Stats| s.mean.map_or_else(|| "none".to_owned(), human);
            (w.key.clone(), w.incidents, mean(&w.tta), mean(&w.ttr))
        })
        .collect();
    let weeks_chart = chart::columns(
        "chart-weeks",
        "Incidents per week: the numbers are in the table “Week by week”",
        &weeks
            .iter()
            .map(|(k, n, ..)| (k[5..].to_owned(), *n as f64))
            .collect::<Vec<_>>(),
    );
    let severe = m
        .severe
        .iter()
        .map(|s| {
            (
                s.severity.to_string(),
                s.incidents,
                format!("{:.0}", s.minutes),
            )
        })
        .collect();
    let noise_chart = chart::bars(
        "chart-noise",
        "Alerts by service: the numbers are in the table “Services by alerts”",
        &noise
            .services
            .iter()
            .take(10)
            .map(|s| Bar {
                label: s.name.clone(),
                parts: vec![s.alerts as f64],
                text: s.alerts.to_string(),
            })
            .collect::<Vec<_>>(),
    );
    let people: Vec<PersonRow> = oncall
        .people
        .iter()
        .map(|p| {
            let h = &p.on_call_hours;
            PersonRow {
                name: p.name.clone(),
                zone: p.time_zone.clone(),
                hours: [
                    hours(h.business),
                    hours(h.off),
                    hours(h.sleep),
                    hours(h.total),
                ],
                pages: [p.pages.business, p.pages.off, p.pages.sleep],
                incidents: p.page_incidents,
                shifts: p.shifts,
            }
        })
        .collect();
    let people_chart = chart::bars(
        "chart-people",
        "Hours on call by band (business, off, sleep) per person: the numbers are in the table “People”",
        &oncall
            .people
            .iter()
            .map(|p| {
                let h = &p.on_call_hours;
                Bar {
                    label: p.name.clone(),
                    parts: vec![h.business, h.off, h.sleep],
                    text: format!("{:.0} h", h.total),
                }
            })
            .collect::<Vec<_>>(),
    );
    let budget_chart = chart::bars(
        "chart-budget",
        "Budget spent by service and SLO: the numbers are in the table “Services' SLOs by budget spent”",
        &budget
            .services
            .iter()
            .take(10)
            .map(|s| Bar {
                label: format!("{}: {}", s.service_name, s.slo_name),
                parts: vec![s.share * 100.0],
                text: format!("{:.1} %", s.share * 100.0),
            })
            .collect::<Vec<_>>(),
    );
    Ok(Report {
        metrics,
        weeks,
        weeks_chart,
        severe,
        noise,
        noise_chart,
        people,
        people_chart,
        oncall,
        budget,
        budget_chart,
    })
}

async fn insights_page(
    State(state): State<AppState>,
    s: WebSession,
    Query(q): Query<PageQuery>,
) -> PageResult {
    let p = q.params();
    let (mut status, mut error, mut report) = (StatusCode::OK, None, None);
    let (from, to) = match api::period(&p, state.clock.now()) {
        Ok((f, t)) => (
            day(f),
            day(t
                .checked_sub(jiff::SignedDuration::from_millis(1))
                .unwrap_or(t)),
        ),
        Err(_) => (
            q.from.clone().unwrap_or_default(),
            q.to.clone().unwrap_or_default(),
        ),
    };
    match build(&state, &p).await {
        Ok(r) => report = Some(r),
        Err(e @ ApiError::BadRequest { .. }) => {
            status = StatusCode::BAD_REQUEST;
            error = Some(e.to_string());
        }
        Err(e) => return Err(e),
    }
    let group_by = q.group_by.clone().unwrap_or_default();
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("from", &from)
        .append_pair("to", &to)
        .append_pair("group_by", &group_by)
        .finish();
    Ok(html(
        status,
        &InsightsPage {
            nav: Some(Nav::new(&s, "/insights")),
            from,
            to,
            group_by,
            groupings: [
                GroupBy::Service,
                GroupBy::Team,
                GroupBy::Severity,
                GroupBy::Category,
            ]
            .map(|g| {
                (
                    g.as_str(),
                    match g {
                        GroupBy::Service => "Service",
                        GroupBy::Team => "Team (escalation policy)",
                        GroupBy::Severity => "Severity",
                        GroupBy::Category => "Category",
                    },
                )
            })
            .to_vec(),
            query,
            error,
            report,
        },
    ))
}

/// A report as JSON, or as the CSV `csv` makes of it, with its content type.
fn encoded<T: serde::Serialize>(
    json: bool,
    r: &T,
    csv: impl FnOnce(&T) -> Result<String, ApiError>,
) -> Result<(String, &'static str), ApiError> {
    Ok(if json {
        (
            serde_json::to_string(r).unwrap_or_default(),
            "application/json",
        )
    } else {
        (csv(r)?, "text/csv; charset=utf-8")
    })
}

/// `/insights/export/{table}.{csv|json}`: the page's tables for a signed-in reader, the same
/// answers as the API's.
async fn export(
    State(state): State<AppState>,
    _s: WebSession,
    Path(file): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let Some((table, ext)) = file.rsplit_once('.') else {
        return Err(ApiError::not_found("export"));
    };
    let p = q.params();
    let json = ext == "json";
    if !json && ext != "csv" {
        return Err(ApiError::not_found("export"));
    }
    let (body, kind) = match table {
        "metrics" | "weeks" | "severity" => {
            let t = if table == "metrics" { "groups" } else { table };
            encoded(json, &api::metrics_with(&state, &p).await?, |r| {
                csv::metrics(r, Some(t))
            })?
        }
        "alert-noise" => encoded(json, &api::noise_with(&state, &p).await?, |r| {
            Ok(csv::noise(r))
        })?,
        "people" | "schedules" => encoded(json, &api::oncall_with(&state, &p).await?, |r| {
            csv::oncall(r, Some(table))
        })?,
        "slo-budget" | "budget-incidents" | "budget-services" => {
            let t = if table == "budget-services" {
                "services"
            } else {
                "incidents"
            };
            encoded(json, &api::budget_with(&state, &p).await?, |r| {
                csv::budget(r, Some(t))
            })?
        }
        _ => return Err(ApiError::not_found("export")),
    };
    Ok((
        [
            (header::CONTENT_TYPE, kind.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"klaxon-{file}\""),
            ),
        ],
        body,
    )
        .into_response())
}
