//! CSV of the insights' tables: one header row, then one row per line of the table; seconds
//! and hours as plain numbers, empty where there is no value. RFC 4180 quoting.
use klaxon_domain::learning::{METRICS, Stats};

use super::report::{MetricsReport, MetricsRow, NoiseReport, OnCallReport};
use crate::shared::error::{ApiError, ApiResult};
use crate::slos::burns::BudgetReport;

fn field(s: &str) -> String {
    // A leading = + - @ would be a formula to a spreadsheet: quote it and prefix a '.
    let risky = s.starts_with(['=', '+', '-', '@']);
    let s = if risky { format!("'{s}") } else { s.to_owned() };
    if s.contains([',', '"', '\n', '\r']) || risky {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn num(v: Option<f64>) -> String {
    v.map(|x| format!("{}", (x * 1000.0).round() / 1000.0))
        .unwrap_or_default()
}

fn line(cells: &[String]) -> String {
    let mut l = cells.join(",");
    l.push_str("\r\n");
    l
}

fn metrics_header() -> Vec<String> {
    let mut h = vec!["key".to_owned(), "label".into(), "incidents".into()];
    for m in METRICS {
        for s in ["count", "mean_s", "median_s", "p90_s"] {
            h.push(format!("{m}_{s}"));
        }
    }
    h
}

fn stats_cells(s: &Stats) -> [String; 4] {
    [s.count.to_string(), num(s.mean), num(s.median), num(s.p90)]
}

fn metrics_row(r: &MetricsRow) -> Vec<String> {
    let mut c = vec![field(&r.key), field(&r.label), r.incidents.to_string()];
    for m in METRICS {
        c.extend(stats_cells(r.stats(m)));
    }
    c
}

/// `groups` (the whole period first, then each group), `weeks` or `severity`.
pub fn metrics(r: &MetricsReport, table: Option<&str>) -> ApiResult<String> {
    let mut out = String::new();
    match table.unwrap_or("groups") {
        "groups" => {
            out += &line(&metrics_header());
            for row in std::iter::once(&r.overall).chain(&r.groups) {
                out += &line(&metrics_row(row));
            }
        }
        "weeks" => {
            out += &line(&metrics_header());
            for row in &r.weeks {
                out += &line(&metrics_row(row));
            }
        }
        "severity" => {
            out += &line(&["severity".into(), "incidents".into(), "minutes".into()]);
            for s in &r.severe {
                out += &line(&[
                    s.severity.to_string(),
                    s.incidents.to_string(),
                    num(Some(s.minutes)),
                ]);
            }
        }
        _ => {
            return Err(ApiError::invalid(
                "table",
                "must be groups, weeks or severity",
            ));
        }
    }
    Ok(out)
}

pub fn noise(r: &NoiseReport) -> String {
    let mut out = line(
        &[
            "service_id",
            "service",
            "incidents",
            "alerts",
            "self_resolved_alerts",
        ]
        .map(String::from),
    );
    for s in &r.services {
        out += &line(&[
            field(&s.service_id),
            field(&s.name),
            s.incidents.to_string(),
            s.alerts.to_string(),
            s.self_resolved_alerts.to_string(),
        ]);
    }
    out
}

/// `incidents` (default) or `services` (one row per SLO of a service).
pub fn budget(r: &BudgetReport, table: Option<&str>) -> ApiResult<String> {
    match table.unwrap_or("incidents") {
        "incidents" => {
            let mut out = line(
                &[
                    "incident_number",
                    "incident_id",
                    "title",
                    "severity",
                    "service",
                    "slo",
                    "unit",
                    "bad",
                    "budget_share",
                ]
                .map(String::from),
            );
            for i in &r.incidents {
                out += &line(&[
                    i.number.to_string(),
                    i.incident_id.to_string(),
                    field(&i.title),
                    i.severity
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default(),
                    field(&i.service_name),
                    field(&i.slo_name),
                    i.unit.clone(),
                    num(Some(i.bad)),
                    num(i.share),
                ]);
            }
            Ok(out)
        }
        "services" => {
            let mut out = line(
                &[
                    "service_id",
                    "service",
                    "slo",
                    "unit",
                    "incidents",
                    "bad",
                    "budget_share",
                ]
                .map(String::from),
            );
            for s in &r.services {
                out += &line(&[
                    s.service_id.to_string(),
                    field(&s.service_name),
                    field(&s.slo_name),
                    s.unit.clone(),
                    s.incidents.to_string(),
                    num(Some(s.bad)),
                    num(Some(s.share)),
                ]);
            }
            Ok(out)
        }
        _ => Err(ApiError::invalid("table", "must be incidents or services")),
    }
}

/// `people` or `schedules` (one row per schedule member).
pub fn oncall(r: &OnCallReport, table: Option<&str>) -> ApiResult<String> {
    let mut out = String::new();
    match table.unwrap_or("people") {
        "people" => {
            out += &line(
                &[
                    "user_id",
                    "name",
                    "time_zone",
                    "hours_business",
                    "hours_off",
                    "hours_sleep",
                    "hours_total",
                    "pages_business",
                    "pages_off",
                    "pages_sleep",
                    "page_incidents",
                    "shifts",
                ]
                .map(String::from),
            );
            for p in &r.people {
                let h = &p.on_call_hours;
                out += &line(&[
                    p.user_id.to_string(),
                    field(&p.name),
                    field(&p.time_zone),
                    num(Some(h.business)),
                    num(Some(h.off)),
                    num(Some(h.sleep)),
                    num(Some(h.total)),
                    p.pages.business.to_string(),
                    p.pages.off.to_string(),
                    p.pages.sleep.to_string(),
                    p.page_incidents.to_string(),
                    p.shifts.to_string(),
                ]);
            }
        }
        "schedules" => {
            out += &line(
                &[
                    "schedule_id",
                    "schedule",
                    "shifts",
                    "incidents",
                    "incidents_per_shift",
                    "user_id",
                    "name",
                    "hours_business",
                    "hours_off",
                    "hours_sleep",
                    "hours_total",
                    "pages",
                    "sleep_pages",
                ]
                .map(String::from),
            );
            for s in &r.schedules {
                for m in &s.members {
                    out += &line(&[
                        s.schedule_id.to_string(),
                        field(&s.name),
                        s.shifts.to_string(),
                        s.incidents.to_string(),
                        num(s.incidents_per_shift),
                        m.user_id.to_string(),
                        field(&m.name),
                        num(Some(m.hours.business)),
                        num(Some(m.hours.off)),
                        num(Some(m.hours.sleep)),
                        num(Some(m.hours.total)),
                        m.pages.to_string(),
                        m.sleep_pages.to_string(),
                    ]);
                }
            }
        }
        _ => return Err(ApiError::invalid("table", "must be people or schedules")),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_and_formulas_defused() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=SUM(A1)"), "\"'=SUM(A1)\"");
    }
}
