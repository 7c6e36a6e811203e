//! Lookups and renderings the incident commands share: ids from names, people's names, an incident as text, moves and posts.
use crate::services_cli::{query, set};
use crate::{Client, ClientArgs, print_or, table};
use anyhow::{Context as _, bail};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub(super) fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.chars().enumerate().all(|(i, c)| {
            matches!(i, 8 | 13 | 18 | 23) == (c == '-') && (c == '-' || c.is_ascii_hexdigit())
        })
}

/// A service's id from its id or its name (exact, else the one that matches ignoring case).
pub(super) async fn service_id(c: &Client, name_or_id: &str) -> anyhow::Result<String> {
    if name_or_id.is_empty() || is_uuid(name_or_id) {
        return Ok(name_or_id.to_owned());
    }
    let mut loose = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = query(
            "/api/v1/services",
            &[("limit", Some("500".to_owned())), ("cursor", cursor)],
        );
        let v = c.get(&path).await?;
        for s in v["items"].as_array().into_iter().flatten() {
            let (Some(name), Some(id)) = (s["name"].as_str(), s["id"].as_str()) else {
                continue;
            };
            if name == name_or_id {
                return Ok(id.to_owned());
            }
            if name.to_lowercase() == name_or_id.to_lowercase() {
                loose.push(id.to_owned());
            }
        }
        match v["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    match loose.as_slice() {
        [id] => Ok(id.clone()),
        [] => bail!("no service named {name_or_id:?}"),
        _ => bail!("several services are named {name_or_id:?} ignoring case: give its id"),
    }
}

/// Users' names by id, for people to read; ids the server will not name are left out.
pub(super) async fn names(
    c: &Client,
    ids: impl IntoIterator<Item = String>,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for id in ids {
        if out.contains_key(&id) || !is_uuid(&id) {
            continue;
        }
        if let Ok(u) = c.get(&format!("/api/v1/users/{id}")).await
            && let Some(name) = u["name"].as_str()
        {
            out.insert(id, name.to_owned());
        }
    }
    out
}

/// "Name (id)", or the id alone when the name is unknown, or "-".
pub(super) fn person(id: &Value, names: &BTreeMap<String, String>) -> String {
    match id.as_str() {
        None => "-".into(),
        Some(id) => match names.get(id) {
            Some(n) => format!("{n} ({id})"),
            None => id.to_owned(),
        },
    }
}

pub(super) fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("-")
}

pub(super) fn milestones_text(m: &Value) -> String {
    MILESTONES
        .iter()
        .map(|(key, label)| format!("  {label:<15} {}", text(&m[*key])))
        .collect::<Vec<_>>()
        .join("\n")
}

/// An incident for people: its fields, milestones and current roles.
pub(super) fn incident_text(v: &Value, roles: &Value, names: &BTreeMap<String, String>) -> String {
    let category = match (v["category"].as_str(), v["subcategory"].as_str()) {
        (Some(c), Some(s)) => format!("{c} / {s}"),
        (Some(c), None) => c.to_owned(),
        (None, Some(s)) => format!("- / {s}"),
        (None, None) => "-".to_owned(),
    };
    let mut out = format!(
        "incident #{}: {}\n\
         id:        {}\n\
         status:    {}\n\
         severity:  {}\n\
         priority:  {}\n\
         impact:    {}\n\
         urgency:   {}\n\
         category:  {category}\n\
         reporter:  {}\n\
         service:   {}\n\
         alerts:    {}\n",
        v["number"],
        text(&v["title"]),
        text(&v["id"]),
        text(&v["status"]),
        text(&v["severity"]),
        text(&v["priority"]),
        text(&v["impact"]),
        text(&v["urgency"]),
        person(&v["reporter_id"], names),
        text(&v["service_id"]),
        v["alert_count"],
    );
    if let Some(d) = v["description"].as_str().filter(|d| !d.is_empty()) {
        out += &format!("\n{d}\n");
    }
    out += &format!(
        "\nlinks:\n  conference  {}\n  chat        {}\n",
        text(&v["conference_url"]),
        text(&v["chat_url"])
    );
    out += &format!("\nmilestones:\n{}\n", milestones_text(&v["milestones"]));
    let roles = roles.as_array().map(Vec::as_slice).unwrap_or_default();
    out += "\nroles:\n";
    if roles.is_empty() {
        out += "  nobody holds a role\n";
    }
    let width = roles.iter().map(|r| text(&r["name"]).len()).max();
    for r in roles {
        out += &format!(
            "  {:<w$}  {}\n",
            text(&r["name"]),
            person(&r["user_id"], names),
            w = width.unwrap_or(0)
        );
    }
    out.trim_end().to_owned()
}

/// Prints an incident answer: the API's JSON, or the incident with its current roles.
pub(super) async fn print_incident(
    c: &Client,
    client: &ClientArgs,
    v: &Value,
    heading: Option<String>,
) -> anyhow::Result<()> {
    if client.json {
        return print_or(client, v, |_| String::new());
    }
    let id = v["id"]
        .as_str()
        .context("the server answered without an id")?;
    let roles = c.get_all(&format!("/api/v1/incidents/{id}/roles")).await?;
    let roles = roles["items"].clone();
    let mut ids: Vec<String> = roles
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["user_id"].as_str().map(str::to_owned))
        .collect();
    ids.extend(v["reporter_id"].as_str().map(str::to_owned));
    let names = names(c, ids).await;
    if let Some(h) = heading {
        println!("{h}");
    }
    println!("{}", incident_text(v, &roles, &names));
    Ok(())
}

/// `Some(null)` for an empty string (clears the field), the string otherwise.
pub(super) fn clearable(raw: Option<String>) -> Option<Value> {
    raw.map(|s| if s.is_empty() { Value::Null } else { s.into() })
}

/// `Some(null)` for "none" (clears the milestone, assignee or due time), the value otherwise.
pub(super) fn none_clears(raw: Option<String>) -> Option<Value> {
    raw.map(|s| {
        if s.eq_ignore_ascii_case("none") {
            Value::Null
        } else {
            s.into()
        }
    })
}

/// Every event of the incident the filter keeps, oldest first (the server filters).
pub(super) async fn all_events(
    c: &Client,
    id: &str,
    kind: Option<&str>,
    pinned: bool,
) -> anyhow::Result<Vec<Value>> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = query(
            &format!("/api/v1/incidents/{id}/timeline"),
            &[
                ("kind", kind.map(str::to_owned)),
                ("pinned", pinned.then(|| "true".to_owned())),
                ("limit", Some("500".to_owned())),
                ("cursor", cursor),
            ],
        );
        let v = c.get(&path).await?;
        out.extend(v["items"].as_array().cloned().unwrap_or_default());
        match v["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return Ok(out),
        }
    }
}

pub(super) fn settings_text(v: &Value) -> String {
    let mut out = String::from("severities:\n");
    for s in v["severities"].as_array().into_iter().flatten() {
        out += &format!("  {:<5} {}\n", text(&s["severity"]), text(&s["definition"]));
    }
    out += "\npriority (rows: impact, columns: urgency):\n";
    out += &format!("  {:<8} {:<6} {:<6} {}\n", "", "high", "medium", "low");
    let levels = ["high", "medium", "low"];
    for (impact, row) in levels
        .iter()
        .zip(v["priority_matrix"].as_array().into_iter().flatten())
    {
        let cells: Vec<&str> = row.as_array().into_iter().flatten().map(text).collect();
        out += &format!(
            "  {impact:<8} {:<6} {:<6} {}\n",
            cells.first().unwrap_or(&"-"),
            cells.get(1).unwrap_or(&"-"),
            cells.get(2).unwrap_or(&"-")
        );
    }
    out += "\nroles:\n";
    for r in v["roles"].as_array().into_iter().flatten() {
        let many = if r["multiple"] == true {
            "several people"
        } else {
            "one person"
        };
        out += &format!(
            "  {:<22} {} ({many}): {}\n",
            text(&r["key"]),
            text(&r["name"]),
            text(&r["description"])
        );
    }
    out.trim_end().to_owned()
}

pub(super) async fn move_to(
    client: &ClientArgs,
    id: &str,
    status: &str,
    reason: Option<String>,
) -> anyhow::Result<()> {
    let mut body = json!({"status": status});
    set(&mut body, vec![("reason", reason.map(Value::from))]);
    let v = Client::new(client)?
        .send(
            Method::POST,
            &format!("/api/v1/incidents/{id}/status"),
            Some(body),
        )
        .await?;
    print_or(client, &v, |v| table(&json!([v]), INCIDENT_COLS))
}

pub(super) async fn post(client: &ClientArgs, path: &str, body: Value) -> anyhow::Result<()> {
    let v = Client::new(client)?
        .send(Method::POST, path, Some(body))
        .await?;
    print_or(client, &v, |v| table(&json!([v]), INCIDENT_COLS))
}

pub(super) const INCIDENT_COLS: &[&str] = &[
    "number",
    "id",
    "status",
    "severity",
    "priority",
    "urgency",
    "alert_count",
    "title",
    "created_at",
];

/// The milestones in their order, with labels for people.
pub(super) const MILESTONES: [(&str, &str); 7] = [
    ("impact_started_at", "impact started"),
    ("detected_at", "detected"),
    ("declared_at", "declared"),
    ("acknowledged_at", "acknowledged"),
    ("mitigated_at", "mitigated"),
    ("resolved_at", "resolved"),
    ("closed_at", "closed"),
];
