//! Client commands for on-call schedules: definitions, overrides, shifts and who is on call.
use std::collections::BTreeMap;

use anyhow::{Context as _, bail};
use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};

use super::{Client, ClientArgs, print_or, table};

#[derive(Subcommand)]
pub enum SchedulesCommand {
    List {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// A schedule's definition, by name or id.
    Show {
        /// The schedule: its name or id.
        schedule: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Create a schedule: one --layer per layer, lowest priority first.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        description: String,
        /// IANA name, e.g. Europe/Berlin.
        #[arg(long)]
        time_zone: String,
        /// A layer as JSON, e.g. '{"name": "primary", "start": "2026-03-02T09:00",
        /// "users": ["ada@example.com", "<id>"], "turn": {"count": 1, "unit": "weeks"}}' (people
        /// by e-mail address or id).
        #[arg(long = "layer", required = true)]
        layers: Vec<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Change a schedule; options left out keep their value (--layer replaces all layers).
    Update {
        /// The schedule: its name or id.
        schedule: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        time_zone: Option<String>,
        /// A layer as JSON, as for create.
        #[arg(long = "layer")]
        layers: Vec<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// The shifts a schedule would give, without saving anything: --time-zone and --layer as
    /// for create. With --schedule (name or id) its overrides apply, and a zone or layers left
    /// out are its own: what `update` with the same options would give.
    Preview {
        #[arg(long)]
        schedule: Option<String>,
        #[arg(long)]
        time_zone: Option<String>,
        #[arg(long = "layer")]
        layers: Vec<String>,
        /// RFC 3339 (default: now, or the first layer's start if later).
        #[arg(long)]
        from: Option<String>,
        /// RFC 3339, at most 366 days after --from (default: 14 days after it).
        #[arg(long)]
        to: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Delete a schedule and its overrides (refused while an escalation policy pages it).
    Delete {
        /// The schedule: its name or id.
        schedule: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

#[derive(Subcommand)]
pub enum ScheduleCommand {
    /// The final shifts of a schedule (by name or id) over a range: who is on call when.
    Show {
        /// The schedule: its name or id.
        schedule: String,
        /// RFC 3339 (default: now).
        #[arg(long)]
        from: Option<String>,
        /// RFC 3339, at most 366 days after --from (default: 7 days after it).
        #[arg(long)]
        to: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
}

#[derive(Subcommand)]
pub enum OverridesCommand {
    /// Put --user on call in --schedule from --start to --end (RFC 3339).
    Add {
        /// The schedule: its name or id.
        #[arg(long)]
        schedule: String,
        /// The person: their e-mail address or id.
        #[arg(long)]
        user: String,
        #[arg(long)]
        start: String,
        #[arg(long)]
        end: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// A schedule's overrides overlapping a range (default: from now, for a year).
    List {
        /// The schedule: its name or id.
        #[arg(long)]
        schedule: String,
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        to: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    Remove {
        /// The override's id.
        id: String,
        /// The schedule: its name or id.
        #[arg(long)]
        schedule: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

#[derive(clap::Args)]
pub struct OnCallArgs {
    /// RFC 3339 (default: now).
    #[arg(long)]
    at: Option<String>,
    #[command(flatten)]
    client: ClientArgs,
}

/// Percent-encodes a query value (an offset's `+` would otherwise read as a space).
fn enc(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b':' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `?a=1&b=2` from the parameters that are set.
fn query(params: &[(&str, Option<&str>)]) -> String {
    let set: Vec<String> = params
        .iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k}={}", enc(v))))
        .collect();
    if set.is_empty() {
        String::new()
    } else {
        format!("?{}", set.join("&"))
    }
}

async fn all_schedules(c: &Client) -> anyhow::Result<Vec<Value>> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = format!(
            "/api/v1/schedules{}",
            query(&[("limit", Some("500")), ("cursor", cursor.as_deref())])
        );
        let v = c.get(&path).await?;
        out.extend(v["items"].as_array().cloned().unwrap_or_default());
        match v["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return Ok(out),
        }
    }
}

/// A schedule's name or id, ready for a URL path (the server resolves names).
fn schedule_id(name_or_id: &str) -> String {
    enc(name_or_id)
}

/// Names of the people `ids` name, for answers people read; one the server will not name keeps
/// its id.
async fn user_names(c: &Client, ids: &[&str]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for id in ids {
        if out.contains_key(*id) {
            continue;
        }
        if let Ok(u) = c.get(&format!("/api/v1/users/{}", enc(id))).await
            && let Some(name) = u["name"].as_str()
        {
            out.insert((*id).to_owned(), name.to_owned());
        }
    }
    out
}

/// Prints a schedule: the API's JSON, or its definition with people by name.
async fn print_schedule(c: &Client, client: &ClientArgs, v: &Value) -> anyhow::Result<()> {
    if client.json {
        return print_or(client, v, |_| String::new());
    }
    let ids: Vec<&str> = v["layers"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|l| l["users"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect();
    let names = user_names(c, &ids).await;
    println!("{}", schedule_text(v, &names));
    Ok(())
}

fn layers(raw: &[String]) -> anyhow::Result<Vec<Value>> {
    raw.iter()
        .enumerate()
        .map(|(i, l)| {
            let v: Value =
                serde_json::from_str(l).with_context(|| format!("--layer {}: not JSON", i + 1))?;
            if !v.is_object() {
                bail!("--layer {}: expected a JSON object", i + 1);
            }
            Ok(v)
        })
        .collect()
}

fn schedule_text(v: &Value, names: &BTreeMap<String, String>) -> String {
    let mut out = format!(
        "{} ({})  time zone {}\n",
        v["name"].as_str().unwrap_or(""),
        v["id"].as_str().unwrap_or(""),
        v["time_zone"].as_str().unwrap_or("")
    );
    if let Some(d) = v["description"].as_str().filter(|d| !d.is_empty()) {
        out += &format!("  {d}\n");
    }
    for (i, l) in v["layers"].as_array().into_iter().flatten().enumerate() {
        let users: Vec<String> = l["users"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|id| match names.get(id) {
                Some(name) => format!("{name} ({id})"),
                None => id.to_owned(),
            })
            .collect();
        out += &format!(
            "  layer {} {}: {} {} turns from {}{}: {}\n",
            i + 1,
            l["name"].as_str().unwrap_or(""),
            l["turn"]["count"],
            l["turn"]["unit"].as_str().unwrap_or(""),
            l["start"].as_str().unwrap_or(""),
            l["end"]
                .as_str()
                .map(|e| format!(" until {e}"))
                .unwrap_or_default(),
            users.join(", ")
        );
        for r in l["restrictions"].as_array().into_iter().flatten() {
            out += &format!(
                "    only {} {}{} for {} min\n",
                r["type"].as_str().unwrap_or(""),
                r["start_weekday"]
                    .as_str()
                    .map(|d| format!("{d} "))
                    .unwrap_or_default(),
                r["start"].as_str().unwrap_or(""),
                r["duration_minutes"]
            );
        }
    }
    out.trim_end().to_owned()
}

const OVERRIDE_COLS: &[&str] = &["id", "user", "user_id", "start", "end"];

/// Prints overrides: the API's JSON, or a table with each person's name.
async fn print_overrides(c: &Client, client: &ClientArgs, v: &Value) -> anyhow::Result<()> {
    if client.json {
        return print_or(client, v, |_| String::new());
    }
    let mut rows: Vec<Value> = match v["items"].as_array() {
        Some(items) => items.clone(),
        None => vec![v.clone()],
    };
    let ids: Vec<&str> = rows.iter().filter_map(|o| o["user_id"].as_str()).collect();
    let names = user_names(c, &ids).await;
    for o in &mut rows {
        o["user"] = json!(o["user_id"].as_str().and_then(|id| names.get(id)));
    }
    println!("{}", table(&Value::Array(rows), OVERRIDE_COLS));
    Ok(())
}

/// A user's name, or their id when the server has no name for them.
fn who(name: &Value, id: &Value) -> String {
    name.as_str()
        .or_else(|| id.as_str())
        .unwrap_or("nobody")
        .to_owned()
}

pub async fn schedules(cmd: SchedulesCommand) -> anyhow::Result<()> {
    match cmd {
        SchedulesCommand::List { client } => {
            let c = Client::new(&client)?;
            let items = Value::Array(all_schedules(&c).await?);
            print_or(
                &client,
                &json!({"items": items, "next_cursor": null}),
                |v| table(&v["items"], &["id", "name", "time_zone", "updated_at"]),
            )
        }
        SchedulesCommand::Show { schedule, client } => {
            let c = Client::new(&client)?;
            let id = schedule_id(&schedule);
            let v = c.get(&format!("/api/v1/schedules/{id}")).await?;
            print_schedule(&c, &client, &v).await
        }
        SchedulesCommand::Create {
            name,
            description,
            time_zone,
            layers: raw,
            client,
        } => {
            let body = json!({"name": name, "description": description, "time_zone": time_zone,
                              "layers": layers(&raw)?});
            let c = Client::new(&client)?;
            let v = c
                .send(Method::POST, "/api/v1/schedules", Some(body))
                .await?;
            print_schedule(&c, &client, &v).await
        }
        SchedulesCommand::Update {
            schedule,
            name,
            description,
            time_zone,
            layers: raw,
            client,
        } => {
            let c = Client::new(&client)?;
            let id = schedule_id(&schedule);
            let mut body = json!({});
            if let Some(n) = name {
                body["name"] = n.into();
            }
            if let Some(d) = description {
                body["description"] = d.into();
            }
            if let Some(z) = time_zone {
                body["time_zone"] = z.into();
            }
            if !raw.is_empty() {
                body["layers"] = layers(&raw)?.into();
            }
            let v = c
                .send(
                    Method::PATCH,
                    &format!("/api/v1/schedules/{id}"),
                    Some(body),
                )
                .await?;
            print_schedule(&c, &client, &v).await
        }
        SchedulesCommand::Preview {
            schedule,
            time_zone,
            layers: raw,
            from,
            to,
            client,
        } => {
            let c = Client::new(&client)?;
            let mut body = json!({});
            if let Some(name) = &schedule {
                let saved = c
                    .get(&format!("/api/v1/schedules/{}", schedule_id(name)))
                    .await?;
                body["schedule_id"] = saved["id"].clone();
                body["time_zone"] = saved["time_zone"].clone();
                body["layers"] = saved["layers"].clone();
            } else if time_zone.is_none() || raw.is_empty() {
                bail!("give --time-zone and at least one --layer, or --schedule");
            }
            if let Some(z) = time_zone {
                body["time_zone"] = z.into();
            }
            if !raw.is_empty() {
                body["layers"] = layers(&raw)?.into();
            }
            if let Some(f) = from {
                body["from"] = f.into();
            }
            if let Some(t) = to {
                body["to"] = t.into();
            }
            let v = c
                .send(Method::POST, "/api/v1/schedules/preview", Some(body))
                .await?;
            print_or(&client, &v, |v| {
                let mut out = format!(
                    "preview ({}) from {} to {}; nothing is saved, and nobody is on call between shifts\n",
                    v["time_zone"].as_str().unwrap_or(""),
                    v["from"].as_str().unwrap_or(""),
                    v["to"].as_str().unwrap_or("")
                );
                out += &table(
                    &shift_rows(&v["shifts"]),
                    &["user", "user_id", "start", "end"],
                );
                out
            })
        }
        SchedulesCommand::Delete { schedule, client } => {
            let c = Client::new(&client)?;
            let path = format!("/api/v1/schedules/{}", schedule_id(&schedule));
            let (id, name) = crate::id_and_name(&c, &path).await?;
            c.send(Method::DELETE, &format!("/api/v1/schedules/{id}"), None)
                .await?;
            print_or(&client, &json!({"deleted": id}), |_| {
                format!("deleted schedule {name} ({id})")
            })
        }
    }
}

pub async fn schedule(cmd: ScheduleCommand) -> anyhow::Result<()> {
    match cmd {
        ScheduleCommand::Show {
            schedule,
            from,
            to,
            client,
        } => {
            let c = Client::new(&client)?;
            let id = schedule_id(&schedule);
            let v = c
                .get(&format!(
                    "/api/v1/schedules/{id}/shifts{}",
                    query(&[("from", from.as_deref()), ("to", to.as_deref())])
                ))
                .await?;
            print_or(&client, &v, |v| {
                let mut out = format!(
                    "{schedule} ({}) from {} to {}; nobody is on call between shifts\n",
                    v["time_zone"].as_str().unwrap_or(""),
                    v["from"].as_str().unwrap_or(""),
                    v["to"].as_str().unwrap_or("")
                );
                out += &table(
                    &shift_rows(&v["shifts"]),
                    &["user", "user_id", "start", "end"],
                );
                out
            })
        }
    }
}

/// Shifts as table rows, each user by name.
fn shift_rows(shifts: &Value) -> Value {
    shifts
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            json!({"user": who(&s["user_name"], &s["user_id"]), "user_id": s["user_id"],
                   "start": s["start"], "end": s["end"]})
        })
        .collect()
}

pub async fn overrides(cmd: OverridesCommand) -> anyhow::Result<()> {
    match cmd {
        OverridesCommand::Add {
            schedule,
            user,
            start,
            end,
            client,
        } => {
            let c = Client::new(&client)?;
            let id = schedule_id(&schedule);
            let body = json!({"user_id": user, "start": start, "end": end});
            let v = c
                .send(
                    Method::POST,
                    &format!("/api/v1/schedules/{id}/overrides"),
                    Some(body),
                )
                .await?;
            print_overrides(&c, &client, &v).await
        }
        OverridesCommand::List {
            schedule,
            from,
            to,
            client,
        } => {
            let c = Client::new(&client)?;
            let id = schedule_id(&schedule);
            let v = c
                .get_all(&format!(
                    "/api/v1/schedules/{id}/overrides{}",
                    query(&[("from", from.as_deref()), ("to", to.as_deref())])
                ))
                .await?;
            print_overrides(&c, &client, &v).await
        }
        OverridesCommand::Remove {
            id,
            schedule,
            client,
        } => {
            let c = Client::new(&client)?;
            let sid = schedule_id(&schedule);
            c.send(
                Method::DELETE,
                &format!("/api/v1/schedules/{sid}/overrides/{}", enc(&id)),
                None,
            )
            .await?;
            print_or(&client, &json!({"deleted": id}), |_| {
                format!("removed {id}")
            })
        }
    }
}

/// Who is on call in every schedule, following the pages.
pub async fn on_call(args: OnCallArgs) -> anyhow::Result<()> {
    let c = Client::new(&args.client)?;
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    // Every page is asked about the instant the first one answered for.
    let mut at = args.at.clone();
    loop {
        let v = c
            .get(&format!(
                "/api/v1/oncalls{}",
                query(&[
                    ("at", at.as_deref()),
                    ("limit", Some("500")),
                    ("cursor", cursor.as_deref())
                ])
            ))
            .await?;
        if at.is_none() {
            at = v["at"].as_str().map(str::to_owned);
        }
        items.extend(v["items"].as_array().cloned().unwrap_or_default());
        match v["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let all = json!({"at": at, "items": items});
    print_or(&args.client, &all, |v| {
        let rows: Vec<Value> = v["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                json!({"schedule": r["schedule_name"], "user": who(&r["user_name"], &r["user_id"]),
                       "until": r["end"]})
            })
            .collect();
        table(&Value::Array(rows), &["schedule", "user", "until"])
    })
}
