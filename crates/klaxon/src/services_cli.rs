//! Client commands for services, integrations, maintenance windows and alerts (incidents are in
//! `incidents_cli`).
use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};

use super::{Client, ClientArgs, id_and_name, print_or, table};

#[derive(Subcommand)]
pub enum ServicesCommand {
    List {
        #[command(flatten)]
        client: ClientArgs,
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        cursor: Option<String>,
    },
    Show {
        /// The service: its name or id.
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Create a service.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        description: String,
        /// high, low or severity_based (default).
        #[arg(long)]
        urgency_rule: Option<String>,
        /// Grouping rule as JSON, e.g. '{"type":"time","window_minutes":10}'.
        #[arg(long)]
        grouping: Option<String>,
        /// Resolve alert-opened incidents when all their alerts resolve (default true).
        #[arg(long)]
        auto_resolve: Option<bool>,
        /// The escalation policy that pages for its incidents: its name or id.
        #[arg(long)]
        escalation_policy: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Change a service; options left out keep their value.
    Update {
        /// The service: its name or id.
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        urgency_rule: Option<String>,
        #[arg(long)]
        grouping: Option<String>,
        #[arg(long)]
        auto_resolve: Option<bool>,
        /// A policy's name or id, or "none" to page nobody.
        #[arg(long)]
        escalation_policy: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// The service's timeline: settings changes, maintenance, change events (deploys).
    Timeline {
        /// The service: its name or id.
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Delete a service with its integrations (refused while it has open alerts).
    Delete {
        /// The service: its name or id.
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

#[derive(Subcommand)]
pub enum IntegrationsCommand {
    /// The integrations of a service.
    List {
        /// The service: its name or id.
        #[arg(long)]
        service: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    Show {
        /// The integration: its id, or its name when no other integration has it.
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Add an integration; prints its key (shown once) and where to send signals.
    Create {
        /// The service: its name or id.
        #[arg(long)]
        service: String,
        #[arg(long)]
        name: String,
        /// events_v2, alertmanager, generic or heartbeat.
        #[arg(long)]
        kind: String,
        #[arg(long)]
        rate_limit_per_minute: Option<u32>,
        /// Heartbeat monitors: the longest silence before an alert opens.
        #[arg(long)]
        heartbeat_interval_secs: Option<u32>,
        #[command(flatten)]
        client: ClientArgs,
    },
    Update {
        /// The integration: its id, or its name when no other integration has it.
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        rate_limit_per_minute: Option<u32>,
        #[arg(long)]
        heartbeat_interval_secs: Option<u32>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Replace the key; the old one stops working at once.
    RotateKey {
        /// The integration: its id, or its name when no other integration has it.
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    Delete {
        /// The integration: its id, or its name when no other integration has it.
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

#[derive(Subcommand)]
pub enum MaintenanceCommand {
    List {
        /// The service: its name or id.
        #[arg(long)]
        service: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Schedule a window (RFC 3339 times; starts now unless --starts-at).
    Create {
        /// The service: its name or id.
        #[arg(long)]
        service: String,
        #[arg(long)]
        starts_at: Option<String>,
        #[arg(long)]
        ends_at: String,
        #[arg(long, default_value = "")]
        description: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Cancel a window, or end it now.
    Delete {
        /// The service: its name or id.
        #[arg(long)]
        service: String,
        /// The window's id.
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

#[derive(Subcommand)]
pub enum AlertsCommand {
    List {
        /// A service's name or id.
        #[arg(long)]
        service: Option<String>,
        /// An incident's number (75 or #75) or id.
        #[arg(long)]
        incident: Option<String>,
        /// triggered, acknowledged or resolved.
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        cursor: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    Show {
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

/// Builds `path?k=v&…` from the options that are set.
pub(crate) fn query(path: &str, pairs: &[(&str, Option<String>)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", urlencode(v))))
        .collect();
    if parts.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", parts.join("&"))
    }
}

pub(crate) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn grouping(raw: Option<String>) -> anyhow::Result<Option<Value>> {
    raw.map(|g| {
        serde_json::from_str(&g).map_err(|e| anyhow::anyhow!("--grouping is not valid JSON: {e}"))
    })
    .transpose()
}

/// Adds the options that are set to a JSON object.
pub(crate) fn set(body: &mut Value, pairs: Vec<(&str, Option<Value>)>) {
    for (k, v) in pairs {
        if let Some(v) = v {
            body[k] = v;
        }
    }
}

/// Every item of a list, following its `next_cursor` to the end, 500 a page (the API's most).
pub(crate) async fn all_items(c: &Client, path: &str) -> anyhow::Result<Vec<Value>> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = query(
            path,
            &[("limit", Some("500".to_owned())), ("cursor", cursor)],
        );
        let v = c.get(&page).await?;
        out.extend(v["items"].as_array().cloned().unwrap_or_default());
        match v["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return Ok(out),
        }
    }
}

pub(crate) fn more(v: &Value) -> String {
    v["next_cursor"]
        .as_str()
        .map(|c| format!("\nmore: --cursor {c}"))
        .unwrap_or_default()
}

const SERVICE_COLS: &[&str] = &[
    "id",
    "name",
    "urgency_rule",
    "auto_resolve",
    "escalation_policy",
    "escalation_policy_id",
    "description",
];
const INTEGRATION_COLS: &[&str] = &[
    "id",
    "name",
    "kind",
    "key_prefix",
    "rate_limit_per_minute",
    "heartbeat_interval_secs",
    "last_ping_at",
];
const ALERT_COLS: &[&str] = &[
    "id",
    "status",
    "severity",
    "count",
    "dedup_key",
    "summary",
    "last_seen_at",
];
/// Services for people: each with its escalation policy's name beside the policy's id.
async fn policy_names(c: &Client, services: &mut [Value]) -> anyhow::Result<()> {
    if services.iter().all(|s| s["escalation_policy_id"].is_null()) {
        return Ok(());
    }
    let policies = all_items(c, "/api/v1/escalation-policies").await?;
    for s in services {
        let policy = policies
            .iter()
            .find(|p| p["id"] == s["escalation_policy_id"]);
        s["escalation_policy"] = policy.map_or(Value::Null, |p| p["name"].clone());
    }
    Ok(())
}

/// Prints services for people: a table with their policies' names, then `after`.
async fn print_services(c: &Client, mut services: Vec<Value>, after: &str) -> anyhow::Result<()> {
    policy_names(c, &mut services).await?;
    println!("{}{after}", table(&Value::Array(services), SERVICE_COLS));
    Ok(())
}

fn with_key(v: &Value) -> String {
    format!(
        "integration {} ({})\nkey:      {}\nendpoint: {}\nThe key is shown only now; store it in your monitoring tool's configuration.",
        v["name"].as_str().unwrap_or(""),
        v["id"].as_str().unwrap_or(""),
        v["key"].as_str().unwrap_or(""),
        v["endpoint"].as_str().unwrap_or("")
    )
}

pub async fn services(cmd: ServicesCommand) -> anyhow::Result<()> {
    match cmd {
        ServicesCommand::List {
            client,
            limit,
            cursor,
        } => {
            let path = query(
                "/api/v1/services",
                &[("limit", limit.map(|l| l.to_string())), ("cursor", cursor)],
            );
            let c = Client::new(&client)?;
            let v = c.get(&path).await?;
            if client.json {
                return print_or(&client, &v, |_| String::new());
            }
            let items = v["items"].as_array().cloned().unwrap_or_default();
            print_services(&c, items, &more(&v)).await
        }
        ServicesCommand::Show { id, client } => {
            let c = Client::new(&client)?;
            let v = c
                .get(&format!("/api/v1/services/{}", urlencode(&id)))
                .await?;
            if client.json {
                return print_or(&client, &v, |_| String::new());
            }
            let grouping = format!("\ngrouping: {}", v["grouping"]);
            print_services(&c, vec![v], &grouping).await
        }
        ServicesCommand::Create {
            name,
            description,
            urgency_rule,
            grouping: g,
            auto_resolve,
            escalation_policy,
            client,
        } => {
            let mut body = json!({"name": name, "description": description});
            set(
                &mut body,
                vec![
                    ("urgency_rule", urgency_rule.map(Value::from)),
                    ("grouping", grouping(g)?),
                    ("auto_resolve", auto_resolve.map(Value::from)),
                    ("escalation_policy_id", escalation_policy.map(Value::from)),
                ],
            );
            let v = Client::new(&client)?
                .send(Method::POST, "/api/v1/services", Some(body))
                .await?;
            print_or(&client, &v, |v| {
                format!(
                    "created service {} ({})",
                    v["name"].as_str().unwrap_or(""),
                    v["id"].as_str().unwrap_or("")
                )
            })
        }
        ServicesCommand::Update {
            id,
            name,
            description,
            urgency_rule,
            grouping: g,
            auto_resolve,
            escalation_policy,
            client,
        } => {
            let mut body = json!({});
            set(
                &mut body,
                vec![
                    ("name", name.map(Value::from)),
                    ("description", description.map(Value::from)),
                    ("urgency_rule", urgency_rule.map(Value::from)),
                    ("grouping", grouping(g)?),
                    ("auto_resolve", auto_resolve.map(Value::from)),
                    (
                        "escalation_policy_id",
                        escalation_policy.map(|p| match p.as_str() {
                            "none" => Value::Null,
                            _ => Value::from(p),
                        }),
                    ),
                ],
            );
            let c = Client::new(&client)?;
            let v = c
                .send(
                    Method::PATCH,
                    &format!("/api/v1/services/{}", urlencode(&id)),
                    Some(body),
                )
                .await?;
            if client.json {
                return print_or(&client, &v, |_| String::new());
            }
            print_services(&c, vec![v], "").await
        }
        ServicesCommand::Timeline { id, client } => {
            let c = Client::new(&client)?;
            let items =
                all_items(&c, &format!("/api/v1/services/{}/timeline", urlencode(&id))).await?;
            let v = json!({"items": items, "next_cursor": null});
            print_or(&client, &v, |v| {
                table(&v["items"], &["at", "kind", "actor", "data"])
            })
        }
        ServicesCommand::Delete { id, client } => {
            let c = Client::new(&client)?;
            let path = format!("/api/v1/services/{}", urlencode(&id));
            let (id, name) = id_and_name(&c, &path).await?;
            c.send(Method::DELETE, &format!("/api/v1/services/{id}"), None)
                .await?;
            print_or(&client, &json!({"deleted": id}), |_| {
                format!("deleted service {name} ({id})")
            })
        }
    }
}

pub async fn integrations(cmd: IntegrationsCommand) -> anyhow::Result<()> {
    match cmd {
        IntegrationsCommand::List { service, client } => {
            let v = Client::new(&client)?
                .get_all(&format!(
                    "/api/v1/services/{}/integrations",
                    urlencode(&service)
                ))
                .await?;
            print_or(&client, &v, |v| table(&v["items"], INTEGRATION_COLS))
        }
        IntegrationsCommand::Show { id, client } => {
            let v = Client::new(&client)?
                .get(&format!("/api/v1/integrations/{}", urlencode(&id)))
                .await?;
            print_or(&client, &v, |v| table(&json!([v]), INTEGRATION_COLS))
        }
        IntegrationsCommand::Create {
            service,
            name,
            kind,
            rate_limit_per_minute,
            heartbeat_interval_secs,
            client,
        } => {
            let mut body = json!({"name": name, "kind": kind});
            set(
                &mut body,
                vec![
                    (
                        "rate_limit_per_minute",
                        rate_limit_per_minute.map(Value::from),
                    ),
                    (
                        "heartbeat_interval_secs",
                        heartbeat_interval_secs.map(Value::from),
                    ),
                ],
            );
            let v = Client::new(&client)?
                .send(
                    Method::POST,
                    &format!("/api/v1/services/{}/integrations", urlencode(&service)),
                    Some(body),
                )
                .await?;
            print_or(&client, &v, with_key)
        }
        IntegrationsCommand::Update {
            id,
            name,
            rate_limit_per_minute,
            heartbeat_interval_secs,
            client,
        } => {
            let mut body = json!({});
            set(
                &mut body,
                vec![
                    ("name", name.map(Value::from)),
                    (
                        "rate_limit_per_minute",
                        rate_limit_per_minute.map(Value::from),
                    ),
                    (
                        "heartbeat_interval_secs",
                        heartbeat_interval_secs.map(Value::from),
                    ),
                ],
            );
            let v = Client::new(&client)?
                .send(
                    Method::PATCH,
                    &format!("/api/v1/integrations/{}", urlencode(&id)),
                    Some(body),
                )
                .await?;
            print_or(&client, &v, |v| table(&json!([v]), INTEGRATION_COLS))
        }
        IntegrationsCommand::RotateKey { id, client } => {
            let v = Client::new(&client)?
                .send(
                    Method::POST,
                    &format!("/api/v1/integrations/{}/rotate-key", urlencode(&id)),
                    None,
                )
                .await?;
            print_or(&client, &v, with_key)
        }
        IntegrationsCommand::Delete { id, client } => {
            let c = Client::new(&client)?;
            let path = format!("/api/v1/integrations/{}", urlencode(&id));
            let (id, name) = id_and_name(&c, &path).await?;
            c.send(Method::DELETE, &format!("/api/v1/integrations/{id}"), None)
                .await?;
            print_or(&client, &json!({"deleted": id}), |_| {
                format!("deleted integration {name} ({id})")
            })
        }
    }
}

pub async fn maintenance(cmd: MaintenanceCommand) -> anyhow::Result<()> {
    const COLS: &[&str] = &["id", "starts_at", "ends_at", "description"];
    match cmd {
        MaintenanceCommand::List { service, client } => {
            let v = Client::new(&client)?
                .get_all(&format!(
                    "/api/v1/services/{}/maintenance-windows",
                    urlencode(&service)
                ))
                .await?;
            print_or(&client, &v, |v| table(&v["items"], COLS))
        }
        MaintenanceCommand::Create {
            service,
            starts_at,
            ends_at,
            description,
            client,
        } => {
            let mut body = json!({"ends_at": ends_at, "description": description});
            set(&mut body, vec![("starts_at", starts_at.map(Value::from))]);
            let v = Client::new(&client)?
                .send(
                    Method::POST,
                    &format!(
                        "/api/v1/services/{}/maintenance-windows",
                        urlencode(&service)
                    ),
                    Some(body),
                )
                .await?;
            print_or(&client, &v, |v| table(&json!([v]), COLS))
        }
        MaintenanceCommand::Delete {
            service,
            id,
            client,
        } => {
            Client::new(&client)?
                .send(
                    Method::DELETE,
                    &format!(
                        "/api/v1/services/{}/maintenance-windows/{}",
                        urlencode(&service),
                        urlencode(&id)
                    ),
                    None,
                )
                .await?;
            print_or(&client, &json!({"deleted": id}), |_| {
                format!("cancelled maintenance window {id}")
            })
        }
    }
}

pub async fn alerts(cmd: AlertsCommand) -> anyhow::Result<()> {
    match cmd {
        AlertsCommand::List {
            service,
            incident,
            status,
            limit,
            cursor,
            client,
        } => {
            let path = query(
                "/api/v1/alerts",
                &[
                    ("service_id", service),
                    ("incident_id", incident),
                    ("status", status),
                    ("limit", limit.map(|l| l.to_string())),
                    ("cursor", cursor),
                ],
            );
            let v = Client::new(&client)?.get(&path).await?;
            print_or(&client, &v, |v| table(&v["items"], ALERT_COLS) + &more(v))
        }
        AlertsCommand::Show { id, client } => {
            let api = Client::new(&client)?;
            let v = api
                .get(&format!("/api/v1/alerts/{}", urlencode(&id)))
                .await?;
            if client.json {
                return print_or(&client, &v, |_| String::new());
            }
            let history = api
                .get(&format!(
                    "/api/v1/alerts/{}/events?limit=500",
                    urlencode(&id)
                ))
                .await?;
            println!("{}", alert_text(&v, &history));
            Ok(())
        }
    }
}

/// One alert for people: its facts, custom details as `key  value` lines, links, images (as
/// links), and its history oldest first.
fn alert_text(v: &Value, history: &Value) -> String {
    let c = &v["content"];
    let mut t = table(&json!([v]), ALERT_COLS);
    let line = |t: &mut String, name: &str, value: &Value| {
        if let Some(s) = value.as_str().filter(|s| !s.is_empty()) {
            t.push_str(&format!("\n{:<10} {s}", format!("{name}:")));
        }
    };
    line(&mut t, "incident", &v["incident_id"]);
    line(&mut t, "source", &c["source"]);
    line(&mut t, "component", &c["component"]);
    line(&mut t, "group", &c["group"]);
    line(&mut t, "class", &c["class"]);
    line(&mut t, "client", &c["client"]);
    line(&mut t, "client url", &c["client_url"]);
    line(&mut t, "first seen", &v["created_at"]);
    let (rows, total) = klaxon_domain::alert_details::flatten(&c["details"], usize::MAX);
    if total > 0 {
        t.push_str("\ndetails:");
        let width = rows
            .iter()
            .map(|r| r.key.chars().count())
            .max()
            .unwrap_or(0)
            .min(40);
        for r in rows {
            t.push_str(&format!("\n  {:<width$}  {}", r.key, r.value));
        }
    }
    let named = |text: &Value, href: &str| match text.as_str().filter(|s| !s.is_empty()) {
        Some(text) => format!("{text}: {href}"),
        None => href.to_owned(),
    };
    let links = c["links"].as_array().cloned().unwrap_or_default();
    if !links.is_empty() {
        t.push_str("\nlinks:");
        for l in &links {
            t.push_str(&format!(
                "\n  {}",
                named(&l["text"], l["href"].as_str().unwrap_or(""))
            ));
        }
    }
    let images = c["images"].as_array().cloned().unwrap_or_default();
    if !images.is_empty() {
        t.push_str("\nimages:");
        for i in &images {
            t.push_str(&format!(
                "\n  {}",
                named(&i["alt"], i["src"].as_str().unwrap_or(""))
            ));
        }
    }
    t.push_str("\nhistory:");
    for e in history["items"].as_array().into_iter().flatten() {
        let d = &e["data"];
        let said = d["summary"]
            .as_str()
            .map(|s| format!(" {s} ({})", d["severity"].as_str().unwrap_or("")))
            .unwrap_or_default();
        t.push_str(&format!(
            "\n  {}  {}{said}",
            e["at"].as_str().unwrap_or(""),
            e["kind"].as_str().unwrap_or("")
        ));
    }
    if let Some(c) = history["next_cursor"].as_str() {
        t.push_str(&format!(
            "\n  … more at /api/v1/alerts/{}/events?cursor={c}",
            v["id"].as_str().unwrap_or("")
        ));
    }
    t
}
