//! Client commands for insights: incident metrics, alert noise, on-call load and SLO budget
//! spent over a period, through `/api/v1/insights/…`. Text tables by default; `--json` or `--csv` print the API's
//! answer as it came.
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::services_cli::urlencode;
use super::{Client, ClientArgs, print_or, table};

#[derive(Args)]
pub struct Period {
    /// Start: an RFC 3339 instant or a date (YYYY-MM-DD, UTC). Default: 28 days before --to.
    #[arg(long)]
    from: Option<String>,
    /// End, exclusive; a date includes its day. Default: now.
    #[arg(long)]
    to: Option<String>,
    /// Print the API's CSV instead (metrics: --table groups, weeks or severity; on-call:
    /// people or schedules; SLO budget: incidents or services).
    #[arg(long, conflicts_with = "json")]
    csv: bool,
    /// With --csv: which table.
    #[arg(long, requires = "csv")]
    table: Option<String>,
}

#[derive(Subcommand)]
pub enum InsightsCommand {
    /// Count, mean, median and p90 of TTD, TTA, TTM, TTR and the whole duration (drills left
    /// out), overall and by group.
    Metrics {
        /// service, team (escalation policy), severity or category.
        #[arg(long)]
        group_by: Option<String>,
        #[command(flatten)]
        period: Period,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Alerts per incident, services with the most alerts, alerts that resolved on their own,
    /// incidents nobody acknowledged.
    AlertNoise {
        #[command(flatten)]
        period: Period,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Hours on call and pages by band (business, off, sleep) in each person's zone.
    OncallLoad {
        #[command(flatten)]
        period: Period,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// The error budget the period's incidents spent: services' SLOs and incidents ranked by
    /// the share of a window's budget (CSV: --table incidents or services).
    SloBudget {
        #[command(flatten)]
        period: Period,
        #[command(flatten)]
        client: ClientArgs,
    },
}

fn query(path: &str, p: &Period, group_by: Option<&str>) -> String {
    let mut q = Vec::new();
    for (k, v) in [
        ("from", p.from.as_deref()),
        ("to", p.to.as_deref()),
        ("group_by", group_by),
        ("table", p.table.as_deref()),
    ] {
        if let Some(v) = v {
            q.push(format!("{k}={}", urlencode(v)));
        }
    }
    if p.csv {
        q.push("format=csv".into());
    }
    if q.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", q.join("&"))
    }
}

fn secs(v: &Value) -> String {
    v.as_f64()
        .map_or_else(|| "-".into(), |s| format!("{:.0}s", s))
}

fn metrics_text(v: &Value) -> String {
    let rows: Vec<Value> = std::iter::once(&v["overall"])
        .chain(v["groups"].as_array().into_iter().flatten())
        .map(|r| {
            let cell = |m: &str| {
                format!(
                    "{} / {} / {}",
                    secs(&r[m]["mean"]),
                    secs(&r[m]["median"]),
                    secs(&r[m]["p90"])
                )
            };
            json!({"group": r["label"], "incidents": r["incidents"], "ttd": cell("ttd"),
                   "tta": cell("tta"), "ttm": cell("ttm"), "ttr": cell("ttr"),
                   "duration": cell("duration")})
        })
        .collect();
    format!(
        "{} to {} (mean / median / p90)\n{}",
        v["from"].as_str().unwrap_or_default(),
        v["to"].as_str().unwrap_or_default(),
        table(
            &Value::Array(rows),
            &["group", "incidents", "ttd", "tta", "ttm", "ttr", "duration"]
        )
    )
}

fn noise_text(v: &Value) -> String {
    format!(
        "alerts {}, per incident {}, resolved on their own {}, incidents nobody acknowledged {} of {}\n{}",
        v["alerts"],
        v["alerts_per_incident"],
        v["self_resolved_alerts"],
        v["unacknowledged_incidents"],
        v["incidents"],
        table(
            &v["services"],
            &["name", "alerts", "incidents", "self_resolved_alerts"]
        )
    )
}

fn oncall_text(v: &Value) -> String {
    let rows: Vec<Value> = v["people"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let h = &p["on_call_hours"];
            let g = &p["pages"];
            json!({"name": p["name"], "zone": p["time_zone"],
                   "hours (business/off/sleep)": format!("{:.1}/{:.1}/{:.1}",
                       h["business"].as_f64().unwrap_or(0.0), h["off"].as_f64().unwrap_or(0.0),
                       h["sleep"].as_f64().unwrap_or(0.0)),
                   "pages (business/off/sleep)": format!("{}/{}/{}", g["business"], g["off"], g["sleep"]),
                   "incidents": p["page_incidents"], "shifts": p["shifts"]})
        })
        .collect();
    table(
        &Value::Array(rows),
        &[
            "name",
            "zone",
            "hours (business/off/sleep)",
            "pages (business/off/sleep)",
            "incidents",
            "shifts",
        ],
    )
}

fn budget_text(v: &Value) -> String {
    let share = |x: &Value| {
        x.as_f64()
            .map_or_else(|| "no budget".into(), |s| format!("{:.1} %", s * 100.0))
    };
    let services: Vec<Value> = v["services"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            json!({"service": s["service_name"], "slo": s["slo_name"], "incidents": s["incidents"],
                   "bad": format!("{:.0} {}", s["bad"].as_f64().unwrap_or(0.0), s["unit"].as_str().unwrap_or_default()),
                   "budget spent": share(&s["share"])})
        })
        .collect();
    let incidents: Vec<Value> = v["incidents"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            json!({"incident": format!("#{} {}", i["number"], i["title"].as_str().unwrap_or_default()),
                   "service": i["service_name"], "slo": i["slo_name"],
                   "bad": format!("{:.0} {}", i["bad"].as_f64().unwrap_or(0.0), i["unit"].as_str().unwrap_or_default()),
                   "budget spent": share(&i["share"])})
        })
        .collect();
    format!(
        "Services' SLOs by budget spent\n{}\nIncidents by budget spent\n{}",
        table(
            &Value::Array(services),
            &["service", "slo", "incidents", "bad", "budget spent"]
        ),
        table(
            &Value::Array(incidents),
            &["incident", "service", "slo", "bad", "budget spent"]
        )
    )
}

pub async fn insights(cmd: InsightsCommand) -> anyhow::Result<()> {
    let (path, period, group_by, client, human): (_, _, _, _, fn(&Value) -> String) = match cmd {
        InsightsCommand::Metrics {
            group_by,
            period,
            client,
        } => (
            "/api/v1/insights/incidents/metrics",
            period,
            group_by,
            client,
            metrics_text,
        ),
        InsightsCommand::AlertNoise { period, client } => (
            "/api/v1/insights/alert-noise",
            period,
            None,
            client,
            noise_text,
        ),
        InsightsCommand::OncallLoad { period, client } => (
            "/api/v1/insights/oncall-load",
            period,
            None,
            client,
            oncall_text,
        ),
        InsightsCommand::SloBudget { period, client } => (
            "/api/v1/insights/slo-budget",
            period,
            None,
            client,
            budget_text,
        ),
    };
    let c = Client::new(&client)?;
    let p = query(path, &period, group_by.as_deref());
    if period.csv {
        print!("{}", c.get_text(&p).await?);
        return Ok(());
    }
    let v = c.get(&p).await?;
    print_or(&client, &v, human)
}
