//! Client commands for SLOs: list, create, show (budget, burn rates, rules), update, delete,
//! push counts, the burn-down, and SLOs as code (apply and export OpenSLO YAML).
use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::services_cli::urlencode;
use super::{Client, ClientArgs, print_or, table};

/// Fields `create` and `update` share.
#[derive(Args)]
pub struct SloFields {
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    description: Option<String>,
    /// The promised share of good events, in percent (99.9).
    #[arg(long)]
    objective: Option<f64>,
    /// 7d, 28d, 30d, 90d, or month (the calendar month in --time-zone).
    #[arg(long)]
    window: Option<String>,
    /// For --window month: an IANA time zone (default UTC).
    #[arg(long)]
    time_zone: Option<String>,
    /// The remaining share of the budget at or under which it is at risk (0.2).
    #[arg(long)]
    at_risk: Option<f64>,
    /// The burn-rate rules as JSON, replacing the defaults: '[{"name": "fast", "urgency":
    /// "page", "long": "1h", "short": "5m", "rate": 14.4}]'.
    #[arg(long)]
    rules: Option<String>,
    /// What it measures: pushed (good and total events sent with `klaxon slos push`; the
    /// default) or availability (the minutes --check or --component is up).
    #[arg(long, value_parser = ["pushed", "availability"])]
    sli: Option<String>,
    /// For availability: one of the service's uptime checks, by name or id.
    #[arg(long, conflicts_with = "component")]
    check: Option<String>,
    /// For availability: a status-page component that depends on the service, by id.
    #[arg(long)]
    component: Option<String>,
}

impl SloFields {
    /// The SLI as the API takes it, when one is given: a check named is looked up for its id.
    async fn sli(&self, client: &Client) -> anyhow::Result<Option<Value>> {
        let availability = match (&self.check, &self.component) {
            (Some(c), _) => {
                let found = client
                    .get(&format!("/api/v1/checks/{}", urlencode(c)))
                    .await
                    .map_err(|e| anyhow::anyhow!("--check {c}: {e}"))?;
                Some(json!({"kind": "availability", "check": found["id"]}))
            }
            (None, Some(c)) => Some(json!({"kind": "availability", "component": c})),
            (None, None) => None,
        };
        match (self.sli.as_deref(), availability) {
            (Some("pushed"), Some(_)) => {
                bail!("--check and --component are for --sli availability")
            }
            (Some("pushed"), None) => Ok(Some(json!({"kind": "pushed"}))),
            (_, Some(a)) => Ok(Some(a)),
            (Some(_), None) => bail!("--sli availability needs --check or --component"),
            (None, None) => Ok(None),
        }
    }
}

#[derive(Subcommand)]
pub enum SlosCommand {
    /// SLOs with their budget status, by service and name.
    List {
        /// Only this service's (name or id).
        #[arg(long)]
        service: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Define an SLO on a service; its SLI is pushed counts (`klaxon slos push`) unless --sli
    /// availability with --check or --component.
    Create {
        /// The service: its name or id.
        #[arg(long)]
        service: String,
        #[command(flatten)]
        fields: SloFields,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// One SLO: its budget, burn rates and rules now.
    Show {
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Change an SLO; options left out keep their value.
    Update {
        id: String,
        #[command(flatten)]
        fields: SloFields,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Remove an SLO and its counts.
    Delete {
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Add good and total events (now, or --at).
    Push {
        id: String,
        #[arg(long)]
        good: f64,
        #[arg(long)]
        total: f64,
        /// When they happened (RFC 3339); default now.
        #[arg(long)]
        at: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// The budget's remaining share after each hour of the window.
    BurnDown {
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Create or update the SLOs of an OpenSLO v1 file ("-" for standard input); says per SLO
    /// whether it was created, updated (and which fields) or unchanged.
    Apply {
        file: PathBuf,
        /// Say what would change; write nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// The SLOs (or one, by id) as OpenSLO v1 YAML.
    Export {
        /// One SLO only.
        id: Option<String>,
        /// Only this service's SLOs (name or id).
        #[arg(long, conflicts_with = "id")]
        service: Option<String>,
        /// Write to this file instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// The error budget an incident burned of each SLO of its service.
    Burned {
        /// The incident: its number or id.
        incident: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

fn path(id: &str) -> String {
    format!("/api/v1/slos/{}", urlencode(id))
}

fn pct(v: &Value) -> String {
    v.as_f64()
        .map_or("-".into(), |x| format!("{:.1} %", x * 100.0))
}

/// A percentage as people write it: 99.9, 99 (not 99.0).
fn objective(v: &Value) -> String {
    v.as_f64().map_or("-".into(), |x| format!("{x} %"))
}

fn num(v: &Value) -> String {
    v.as_f64().map_or("-".into(), |x| format!("{x:.2}"))
}

const COLS: &[&str] = &[
    "id",
    "service",
    "name",
    "objective",
    "window",
    "status",
    "left",
];

fn rows(items: &Value) -> Value {
    items
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            json!({"id": s["id"], "service": s["service_name"], "name": s["name"],
                   "objective": objective(&s["objective"]), "window": s["window"],
                   "status": s["status"], "left": pct(&s["budget"]["remaining_share"])})
        })
        .collect()
}

fn text(v: &Value) -> String {
    let s = |k: &str| match &v[k] {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    };
    let b = &v["budget"];
    let mut out = format!(
        "SLO {} ({})\n\
         service:    {}\n\
         measures:   {}\n\
         objective:  {} over {}{}\n\
         status:     {} since {}\n\
         budget:     {} left ({} of {} {} spent); burn rate {} over the window",
        s("name"),
        s("id"),
        s("service_name"),
        measures(&v["sli"]),
        objective(&v["objective"]),
        s("window"),
        v["time_zone"]
            .as_str()
            .map_or(String::new(), |tz| format!(" ({tz})")),
        s("status"),
        s("status_since"),
        pct(&b["remaining_share"]),
        num(&b["spent"]),
        num(&b["allowed"]),
        b["unit"].as_str().unwrap_or("events"),
        num(&b["burn_rate"]),
    );
    out += "\nrules:";
    for r in v["rules"].as_array().into_iter().flatten() {
        out += &format!(
            "\n  {:<12} {:<6} above {}× over {} and {}: now {}× and {}×{}",
            r["name"].as_str().unwrap_or(""),
            r["urgency"].as_str().unwrap_or(""),
            num(&r["rate"]),
            r["long"].as_str().unwrap_or(""),
            r["short"].as_str().unwrap_or(""),
            num(&r["long_burn_rate"]),
            num(&r["short_burn_rate"]),
            if r["firing"] == true { "  FIRING" } else { "" },
        );
    }
    out
}

/// An apply's report, a line per SLO: `created checkout/availability`, `updated
/// checkout/latency (objective, rules)`.
fn applied(v: &Value) -> String {
    let mut lines: Vec<String> = v["slos"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            let changed: Vec<&str> = s["changed"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let mut line = format!(
                "{} {}/{}",
                s["result"].as_str().unwrap_or(""),
                s["service"].as_str().unwrap_or(""),
                s["name"].as_str().unwrap_or("")
            );
            if !changed.is_empty() {
                line += &format!(" ({})", changed.join(", "));
            }
            line
        })
        .collect();
    if v["dry_run"] == true {
        lines.push("dry run: nothing was written".into());
    }
    lines.join("\n")
}

/// The SLI in a word or two: "pushed counts", "availability of check <id>".
fn measures(sli: &Value) -> String {
    match sli["kind"].as_str() {
        Some("availability") => match (sli["check"].as_str(), sli["component"].as_str()) {
            (Some(c), _) => format!("availability of check {c}"),
            (_, Some(c)) => format!("availability of component {c}"),
            _ => "availability".into(),
        },
        Some("pushed") => "pushed counts".into(),
        Some(other) => other.into(),
        None => "-".into(),
    }
}

fn fields_into(f: SloFields, body: &mut Map<String, Value>) -> anyhow::Result<()> {
    for (k, v) in [
        ("name", f.name),
        ("description", f.description),
        ("window", f.window),
        ("time_zone", f.time_zone),
    ] {
        if let Some(v) = v {
            body.insert(k.into(), v.into());
        }
    }
    for (k, v) in [("objective", f.objective), ("at_risk", f.at_risk)] {
        if let Some(v) = v {
            body.insert(k.into(), v.into());
        }
    }
    if let Some(r) = f.rules {
        let rules: Value =
            serde_json::from_str(&r).map_err(|e| anyhow::anyhow!("--rules is not JSON: {e}"))?;
        body.insert("rules".into(), rules);
    }
    Ok(())
}

pub async fn slos(cmd: SlosCommand) -> anyhow::Result<()> {
    match cmd {
        SlosCommand::List { service, client } => {
            let p = match service {
                Some(s) => format!("/api/v1/slos?service={}", urlencode(&s)),
                None => "/api/v1/slos".into(),
            };
            let v = Client::new(&client)?.get(&p).await?;
            print_or(&client, &v, |v| table(&rows(v), COLS))
        }
        SlosCommand::Create {
            service,
            fields,
            client,
        } => {
            let mut body = Map::new();
            body.insert("service".into(), service.into());
            if fields.name.is_none() || fields.objective.is_none() || fields.window.is_none() {
                bail!("--name, --objective and --window are required");
            }
            let c = Client::new(&client)?;
            let sli = fields.sli(&c).await?;
            body.insert("sli".into(), sli.unwrap_or(json!({"kind": "pushed"})));
            fields_into(fields, &mut body)?;
            let v = c
                .send(Method::POST, "/api/v1/slos", Some(body.into()))
                .await?;
            print_or(&client, &v, text)
        }
        SlosCommand::Show { id, client } => {
            let v = Client::new(&client)?.get(&path(&id)).await?;
            print_or(&client, &v, text)
        }
        SlosCommand::Update { id, fields, client } => {
            let mut body = Map::new();
            let c = Client::new(&client)?;
            if let Some(sli) = fields.sli(&c).await? {
                body.insert("sli".into(), sli);
            }
            fields_into(fields, &mut body)?;
            if body.is_empty() {
                bail!("nothing to change: pass --name, --objective, --window, --rules, …");
            }
            let v = c.send(Method::PATCH, &path(&id), Some(body.into())).await?;
            print_or(&client, &v, text)
        }
        SlosCommand::Delete { id, client } => {
            Client::new(&client)?
                .send(Method::DELETE, &path(&id), None)
                .await?;
            print_or(&client, &json!({"deleted": id}), |_| {
                format!("deleted SLO {id}")
            })
        }
        SlosCommand::Push {
            id,
            good,
            total,
            at,
            client,
        } => {
            let mut entry = json!({"good": good, "total": total});
            if let Some(at) = at {
                entry["at"] = at.into();
            }
            Client::new(&client)?
                .send(
                    Method::POST,
                    &format!("{}/counts", path(&id)),
                    Some(json!({"counts": [entry]})),
                )
                .await?;
            print_or(&client, &json!({"pushed": 1}), |_| {
                format!("added {good} good of {total} to SLO {id}")
            })
        }
        SlosCommand::Apply {
            file,
            dry_run,
            client,
        } => {
            let yaml = if file.as_os_str() == "-" {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .context("read the file from standard input")?;
                text
            } else {
                std::fs::read_to_string(&file)
                    .with_context(|| format!("read {}", file.display()))?
            };
            let v = Client::new(&client)?
                .send_text(
                    Method::POST,
                    &format!("/api/v1/slos/apply?dry_run={dry_run}"),
                    "application/yaml",
                    yaml,
                )
                .await?;
            print_or(&client, &v, applied)
        }
        SlosCommand::Export {
            id,
            service,
            output,
            client,
        } => {
            let p = match (id, service) {
                (Some(id), _) => format!("{}/openslo", path(&id)),
                (None, Some(s)) => format!("/api/v1/slos/openslo?service={}", urlencode(&s)),
                (None, None) => "/api/v1/slos/openslo".into(),
            };
            let yaml = Client::new(&client)?.get_text(&p).await?;
            match output {
                Some(f) => {
                    std::fs::write(&f, yaml).with_context(|| format!("write {}", f.display()))?
                }
                None => print!("{yaml}"),
            }
            Ok(())
        }
        SlosCommand::BurnDown { id, client } => {
            let v = Client::new(&client)?
                .get(&format!("{}/burn-down", path(&id)))
                .await?;
            print_or(&client, &v, |v| {
                let points: Value = v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| json!({"at": p["at"], "left": pct(&p["remaining_share"])}))
                    .collect();
                table(&points, &["at", "left"])
            })
        }
        SlosCommand::Burned { incident, client } => {
            let v = Client::new(&client)?
                .get(&format!(
                    "/api/v1/incidents/{}/slo-budget",
                    urlencode(&incident)
                ))
                .await?;
            print_or(&client, &v, |v| {
                let rows: Value = v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|b| {
                        let n = |x: &Value| x.as_f64().map_or("-".into(), |x| format!("{x:.0}"));
                        json!({"slo": b["slo_name"], "bad": n(&b["bad"]), "of": n(&b["total"]),
                               "unit": b["unit"], "budget spent": pct(&b["share"]),
                               "from": b["from"], "to": b["to"]})
                    })
                    .collect();
                if rows.as_array().is_some_and(|r| r.is_empty()) {
                    return "Its service has no SLOs (or it has no service).".to_owned();
                }
                table(
                    &rows,
                    &["slo", "bad", "of", "unit", "budget spent", "from", "to"],
                )
            })
        }
    }
}
