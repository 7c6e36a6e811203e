//! What the incident commands share: incident terms for paths, people's and services' names,
//! an incident as text, moves, posts, pins and the notifications sent.
use crate::services_cli::{query, set, urlencode};
use crate::{Client, ClientArgs, print_or, table};
use anyhow::Context as _;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub(super) fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.chars().enumerate().all(|(i, c)| {
            matches!(i, 8 | 13 | 18 | 23) == (c == '-') && (c == '-' || c.is_ascii_hexdigit())
        })
}

/// An incident as given on the command line, ready for a URL path: its number (`75`, or
/// `#75` as people write it) or its id. The server resolves either.
pub(crate) fn incident_term(raw: &str) -> Result<String, String> {
    let t = raw.trim();
    let t = t.strip_prefix('#').unwrap_or(t);
    if t.is_empty() {
        return Err("give the incident's number (75 or #75) or its id".into());
    }
    Ok(urlencode(t))
}

/// An incident term for people: `#75` for a number, the id otherwise.
pub(super) fn shown(term: &str) -> String {
    if term.bytes().all(|b| b.is_ascii_digit()) {
        format!("#{term}")
    } else {
        term.to_owned()
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

/// "Name (id)", or the id alone when the name is unknown, or "-"; for people and services.
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
        person(&v["service_id"], names),
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
    let mut names = names(c, ids).await;
    // The service by its name too; one deleted since shows as its id.
    if let Some(s) = v["service_id"].as_str()
        && let Ok(svc) = c.get(&format!("/api/v1/services/{s}")).await
        && let Some(name) = svc["name"].as_str()
    {
        names.insert(s.to_owned(), name.to_owned());
    }
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

/// Pins or unpins a timeline entry. The API answers 204; `--json` prints what changed.
pub(super) async fn pin(
    client: &ClientArgs,
    id: &str,
    seq: i64,
    pinned: bool,
) -> anyhow::Result<()> {
    let method = if pinned { Method::PUT } else { Method::DELETE };
    Client::new(client)?
        .send(
            method,
            &format!("/api/v1/incidents/{id}/timeline/{seq}/pin"),
            None,
        )
        .await?;
    let v = json!({"incident_id": id, "seq": seq, "pinned": pinned});
    print_or(client, &v, |_| {
        let done = if pinned { "pinned" } else { "unpinned" };
        format!("{done} entry {seq} of incident {}", shown(id))
    })
}

/// The notifications an incident sent, with each person's name beside their id.
pub(super) async fn notifications(client: &ClientArgs, id: &str) -> anyhow::Result<()> {
    let c = Client::new(client)?;
    let mut v = c
        .get_all(&format!("/api/v1/incidents/{id}/notifications"))
        .await?;
    if client.json {
        return print_or(client, &v, |_| String::new());
    }
    let items = v["items"].as_array().cloned().unwrap_or_default();
    let ids = items
        .iter()
        .filter_map(|n| n["user_id"].as_str().map(str::to_owned));
    let names = names(&c, ids).await;
    for n in v["items"].as_array_mut().into_iter().flatten() {
        n["user"] = json!(names.get(text(&n["user_id"])));
    }
    let cols = [
        "created_at",
        "user",
        "user_id",
        "channel",
        "status",
        "attempts",
        "last_error",
    ];
    print_or(client, &v, |v| table(&v["items"], &cols))
}
