//! Client commands for a status page's public incidents and scheduled maintenances: publish,
//! post updates that move components, list, show, delete.
use anyhow::{Context as _, bail};
use clap::Subcommand;
use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::{is_open, page_path, urlencode, when, words};
use crate::{Client, ClientArgs, print_or, table};

#[derive(Subcommand)]
pub enum IncidentsCommand {
    /// A page's public incidents and maintenances, newest first (the 100 newest).
    List {
        /// The page: its slug, name or id.
        page: String,
        /// Only those still going (or yet to come).
        #[arg(long)]
        open: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// One public incident or maintenance with its updates, oldest first.
    Show {
        /// The page: its slug, name or id.
        page: String,
        /// The incident's code or id.
        code: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Publish a public incident: what customers read, and the components it moves.
    Publish {
        /// The page: its slug, name or id.
        page: String,
        /// The public title, in customers' words.
        #[arg(long)]
        name: String,
        /// investigating (default), identified, monitoring, resolved or postmortem.
        #[arg(long)]
        status: Option<String>,
        /// none, minor (default), major or critical.
        #[arg(long)]
        impact: Option<String>,
        /// The update's text (default: the status's usual words).
        #[arg(long, conflicts_with = "body_file")]
        body: Option<String>,
        /// Read the text from a file, or from standard input with `-`.
        #[arg(long)]
        body_file: Option<String>,
        /// The Klaxon incident it tells of: its number (75 or #75) or id.
        #[arg(long)]
        incident: Option<String>,
        /// A component and the status it moves to, NAME=STATUS; repeat it.
        #[arg(long = "component")]
        components: Vec<String>,
        /// Promise the next update in this many minutes.
        #[arg(long)]
        next_update_in: Option<i64>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Post an update on a public incident: a new status, text, components that move.
    /// Resolving puts its other components back to operational.
    Update {
        /// The page: its slug, name or id.
        page: String,
        /// The incident's code or id.
        code: String,
        /// investigating, identified, monitoring, resolved or postmortem.
        #[arg(long)]
        status: String,
        #[arg(long, conflicts_with = "body_file")]
        body: Option<String>,
        /// Read the text from a file, or from standard input with `-`.
        #[arg(long)]
        body_file: Option<String>,
        /// A component and the status it moves to, NAME=STATUS; repeat it.
        #[arg(long = "component")]
        components: Vec<String>,
        /// Promise the next update in this many minutes.
        #[arg(long)]
        next_update_in: Option<i64>,
        /// A new public title.
        #[arg(long)]
        name: Option<String>,
        /// none, minor, major or critical.
        #[arg(long)]
        impact: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Delete a public incident or maintenance published by mistake (admin). The component
    /// changes it made stay.
    Delete {
        /// The page: its slug, name or id.
        page: String,
        /// The incident's code or id.
        code: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

#[derive(Subcommand)]
pub enum MaintenanceCommand {
    /// Schedule a maintenance. The server starts it (components under maintenance) and
    /// completes it (components operational) at its times.
    Schedule {
        /// The page: its slug, name or id.
        page: String,
        #[arg(long)]
        name: String,
        /// When it starts: RFC 3339 (2026-12-08T21:00:00Z), or a local time like
        /// "2026-12-08 22:00" in --tz or this machine's zone.
        #[arg(long)]
        from: String,
        /// When it ends, written as --from.
        #[arg(long)]
        until: String,
        /// A component the work affects: its name or code; repeat it.
        #[arg(long = "component")]
        components: Vec<String>,
        #[arg(long, conflicts_with = "body_file")]
        body: Option<String>,
        /// Read the text from a file, or from standard input with `-`.
        #[arg(long)]
        body_file: Option<String>,
        /// Remind subscribers this many minutes before it starts.
        #[arg(long)]
        remind_minutes: Option<i64>,
        /// The IANA time zone local times are in (default: this machine's).
        #[arg(long)]
        tz: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Post an update on a maintenance: start it early, say it is verifying, complete it.
    Update {
        /// The page: its slug, name or id.
        page: String,
        /// The maintenance's code or id.
        code: String,
        /// scheduled, in_progress, verifying or completed.
        #[arg(long)]
        status: String,
        #[arg(long, conflicts_with = "body_file")]
        body: Option<String>,
        /// Read the text from a file, or from standard input with `-`.
        #[arg(long)]
        body_file: Option<String>,
        /// A component it affects, NAME, or NAME=STATUS to move it; repeat it.
        #[arg(long = "component")]
        components: Vec<String>,
        /// A new public title.
        #[arg(long)]
        name: Option<String>,
        /// Move its start, written as for `schedule`.
        #[arg(long)]
        from: Option<String>,
        /// Move its end, written as for `schedule`.
        #[arg(long)]
        until: Option<String>,
        /// The IANA time zone local times are in (default: this machine's).
        #[arg(long)]
        tz: Option<String>,
        /// Promise the next update in this many minutes.
        #[arg(long)]
        next_update_in: Option<i64>,
        #[command(flatten)]
        client: ClientArgs,
    },
}

/// A time given on the command line: RFC 3339 with an offset, a zoned time
/// (`2026-12-08T22:00[Europe/Berlin]`), or a civil time in `tz` (default: this machine's zone).
pub(crate) fn parse_time(flag: &str, raw: &str, tz: Option<&str>) -> anyhow::Result<Timestamp> {
    let raw = raw.trim();
    if let Ok(t) = raw.parse::<Timestamp>() {
        return Ok(t);
    }
    if let Ok(z) = raw.parse::<jiff::Zoned>() {
        return Ok(z.timestamp());
    }
    let zone = match tz {
        Some(name) => TimeZone::get(name)
            .with_context(|| format!("--tz {name:?}: not a time zone (like Europe/Berlin)"))?,
        None => TimeZone::system(),
    };
    let civil: DateTime = raw.parse().map_err(|_| {
        anyhow::anyhow!(
            "{flag} {raw:?}: write a time like \"2026-12-08 22:00\" (local) or 2026-12-08T21:00:00Z"
        )
    })?;
    Ok(civil
        .to_zoned(zone)
        .with_context(|| format!("{flag} {raw:?}"))?
        .timestamp())
}

/// `NAME=STATUS` pairs as the API's component moves. A bare NAME takes `bare`'s status, or
/// is refused when there is none.
fn moves(raw: &[String], bare: Option<&dyn Fn(&str) -> String>) -> anyhow::Result<Vec<Value>> {
    raw.iter()
        .map(|m| match (m.rsplit_once('='), bare) {
            (Some((name, status)), _) => {
                Ok(json!({"component": name.trim(), "status": status.trim()}))
            }
            (None, Some(status_of)) => Ok(json!({"component": m.trim(), "status": status_of(m)})),
            (None, None) => bail!("--component {m:?}: write it as NAME=STATUS"),
        })
        .collect()
}

/// The text of `--body` or `--body-file` (`-`: standard input).
fn body_of(body: Option<String>, file: Option<String>) -> anyhow::Result<Option<String>> {
    match (body, file) {
        (Some(b), _) => Ok(Some(b)),
        (None, Some(f)) if f == "-" => {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                .context("read the text from standard input")?;
            Ok(Some(s))
        }
        (None, Some(f)) => std::fs::read_to_string(&f)
            .with_context(|| format!("read {f}"))
            .map(Some),
        (None, None) => Ok(None),
    }
}

fn incident_path(page: &str, code: &str) -> String {
    page_path(page, &format!("/incidents/{}", urlencode(code)))
}

fn kind(i: &Value) -> &'static str {
    if i["maintenance"] == true {
        "maintenance"
    } else {
        "incident"
    }
}

/// One line for a list: code, kind, name, status and when.
pub(crate) fn summary_line(i: &Value) -> String {
    let mut out = format!(
        "{}  {} {:?}: {}",
        i["code"].as_str().unwrap_or(""),
        kind(i),
        i["name"].as_str().unwrap_or(""),
        words(&i["status"]),
    );
    if i["maintenance"] == true {
        out.push_str(&format!(
            ", {} to {}",
            when(&i["scheduled_for"]),
            when(&i["scheduled_until"])
        ));
    } else {
        out.push_str(&format!(
            " ({} impact) since {}",
            words(&i["impact"]),
            when(&i["started_at"])
        ));
    }
    if !i["next_update_at"].is_null() {
        out.push_str(&format!("; next update by {}", when(&i["next_update_at"])));
    }
    out
}

const INCIDENT_COLS: &[&str] = &[
    "code", "kind", "status", "impact", "name", "started", "ended",
];

fn incident_rows(items: &Value) -> Value {
    items
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            json!({
                "code": i["code"], "kind": kind(i), "status": words(&i["status"]),
                "impact": i["impact"], "name": i["name"], "started": when(&i["started_at"]),
                "ended": when(&i["resolved_at"]),
            })
        })
        .collect()
}

fn incident_text(v: &Value) -> String {
    let names: Vec<&str> = v["components"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str())
        .collect();
    let mut out = format!(
        "{} {} ({})\n\
         status:       {}\n\
         impact:       {}\n\
         components:   {}",
        kind(v),
        v["name"].as_str().unwrap_or(""),
        v["code"].as_str().unwrap_or(""),
        words(&v["status"]),
        words(&v["impact"]),
        if names.is_empty() {
            "-".into()
        } else {
            names.join(", ")
        },
    );
    let mut line = |label: &str, value: String| {
        out.push_str(&format!("\n{:<13} {value}", format!("{label}:")));
    };
    if v["maintenance"] == true {
        line(
            "window",
            format!(
                "{} to {}",
                when(&v["scheduled_for"]),
                when(&v["scheduled_until"])
            ),
        );
        if let Some(m) = v["remind_minutes"].as_i64() {
            line("reminder", format!("{m} minutes before"));
        }
    } else {
        line("started", when(&v["started_at"]));
    }
    if !v["resolved_at"].is_null() {
        line("ended", when(&v["resolved_at"]));
    }
    if !v["next_update_at"].is_null() {
        line("next update", when(&v["next_update_at"]));
    }
    if let Some(id) = v["incident_id"].as_str() {
        line("tells of", format!("Klaxon incident {id}"));
    }
    out.push_str("\nupdates, oldest first:");
    for u in v["updates"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "\n  {}  {}",
            when(&u["created_at"]),
            words(&u["status"])
        ));
        for l in u["body"].as_str().unwrap_or("").lines() {
            out.push_str(&format!("\n    {l}"));
        }
        for c in u["changes"].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "\n    {}: {} → {}",
                c["name"].as_str().unwrap_or(""),
                words(&c["old_status"]),
                words(&c["new_status"])
            ));
        }
    }
    out
}

pub async fn incidents(cmd: IncidentsCommand) -> anyhow::Result<()> {
    match cmd {
        IncidentsCommand::List { page, open, client } => {
            let mut v = Client::new(&client)?
                .get(&page_path(&page, "/incidents"))
                .await?;
            if open && let Some(a) = v.as_array_mut() {
                a.retain(is_open);
            }
            print_or(&client, &v, |v| {
                if v.as_array().is_none_or(Vec::is_empty) {
                    "no incidents".into()
                } else {
                    table(&incident_rows(v), INCIDENT_COLS)
                }
            })
        }
        IncidentsCommand::Show { page, code, client } => {
            let v = Client::new(&client)?
                .get(&incident_path(&page, &code))
                .await?;
            print_or(&client, &v, incident_text)
        }
        IncidentsCommand::Publish {
            page,
            name,
            status,
            impact,
            body,
            body_file,
            incident,
            components,
            next_update_in,
            client,
        } => {
            let mut b = Map::new();
            b.insert("name".into(), name.into());
            for (k, v) in [
                ("status", status),
                ("impact", impact),
                ("body", body_of(body, body_file)?),
                ("incident", incident),
            ] {
                if let Some(v) = v {
                    b.insert(k.into(), v.into());
                }
            }
            b.insert("components".into(), moves(&components, None)?.into());
            if let Some(m) = next_update_in {
                b.insert("next_update_in_minutes".into(), m.into());
            }
            let v = Client::new(&client)?
                .send(
                    Method::POST,
                    &page_path(&page, "/incidents"),
                    Some(b.into()),
                )
                .await?;
            print_or(&client, &v, |v| format!("published {}", incident_text(v)))
        }
        IncidentsCommand::Update {
            page,
            code,
            status,
            body,
            body_file,
            components,
            next_update_in,
            name,
            impact,
            client,
        } => {
            let mut b = Map::new();
            b.insert("status".into(), status.into());
            for (k, v) in [
                ("body", body_of(body, body_file)?),
                ("name", name),
                ("impact", impact),
            ] {
                if let Some(v) = v {
                    b.insert(k.into(), v.into());
                }
            }
            b.insert("components".into(), moves(&components, None)?.into());
            if let Some(m) = next_update_in {
                b.insert("next_update_in_minutes".into(), m.into());
            }
            post_update(&client, &page, &code, b).await
        }
        IncidentsCommand::Delete { page, code, client } => {
            let c = Client::new(&client)?;
            let v = c.get(&incident_path(&page, &code)).await?;
            let code = v["code"].as_str().unwrap_or(&code).to_owned();
            c.send(Method::DELETE, &incident_path(&page, &code), None)
                .await?;
            print_or(&client, &json!({"deleted": code}), |_| {
                format!(
                    "deleted {} {:?} ({code})",
                    kind(&v),
                    v["name"].as_str().unwrap_or("")
                )
            })
        }
    }
}

async fn post_update(
    client: &ClientArgs,
    page: &str,
    code: &str,
    body: Map<String, Value>,
) -> anyhow::Result<()> {
    let path = format!("{}/updates", incident_path(page, code));
    let v = Client::new(client)?
        .send(Method::POST, &path, Some(body.into()))
        .await?;
    print_or(client, &v, |v| format!("updated {}", incident_text(v)))
}

pub async fn maintenance(cmd: MaintenanceCommand) -> anyhow::Result<()> {
    match cmd {
        MaintenanceCommand::Schedule {
            page,
            name,
            from,
            until,
            components,
            body,
            body_file,
            remind_minutes,
            tz,
            client,
        } => {
            let from = parse_time("--from", &from, tz.as_deref())?;
            let until = parse_time("--until", &until, tz.as_deref())?;
            // A scheduled maintenance names its components; they move when it starts.
            let under = |_: &str| "under_maintenance".to_owned();
            let mut b = Map::new();
            b.insert("name".into(), name.into());
            b.insert("maintenance".into(), true.into());
            b.insert("scheduled_for".into(), from.to_string().into());
            b.insert("scheduled_until".into(), until.to_string().into());
            b.insert(
                "components".into(),
                moves(&components, Some(&under))?.into(),
            );
            if let Some(t) = body_of(body, body_file)? {
                b.insert("body".into(), t.into());
            }
            if let Some(m) = remind_minutes {
                b.insert("remind_minutes".into(), m.into());
            }
            let v = Client::new(&client)?
                .send(
                    Method::POST,
                    &page_path(&page, "/incidents"),
                    Some(b.into()),
                )
                .await?;
            print_or(&client, &v, |v| format!("scheduled {}", incident_text(v)))
        }
        MaintenanceCommand::Update {
            page,
            code,
            status,
            body,
            body_file,
            components,
            name,
            from,
            until,
            tz,
            next_update_in,
            client,
        } => {
            let mut b = Map::new();
            // A bare component name joins the maintenance: it stays as it is while the work is
            // only scheduled, is under maintenance while it runs, operational once completed.
            let current =
                if status.trim() == "scheduled" && components.iter().any(|c| !c.contains('=')) {
                    Client::new(&client)?
                        .get(&page_path(&page, "/components"))
                        .await?
                } else {
                    Value::Null
                };
            let bare = |name: &str| -> String {
                match status.trim() {
                    "completed" => "operational".into(),
                    "scheduled" => current
                        .as_array()
                        .into_iter()
                        .flatten()
                        .find(|c| {
                            c["name"] == name.trim()
                                || c["code"] == name.trim()
                                || c["name"]
                                    .as_str()
                                    .is_some_and(|n| n.eq_ignore_ascii_case(name.trim()))
                        })
                        .and_then(|c| c["status"].as_str())
                        .unwrap_or("operational")
                        .to_owned(),
                    _ => "under_maintenance".into(),
                }
            };
            b.insert("status".into(), status.clone().into());
            b.insert("components".into(), moves(&components, Some(&bare))?.into());
            if let Some(t) = body_of(body, body_file)? {
                b.insert("body".into(), t.into());
            }
            if let Some(n) = name {
                b.insert("name".into(), n.into());
            }
            if let Some(f) = from {
                let t = parse_time("--from", &f, tz.as_deref())?;
                b.insert("scheduled_for".into(), t.to_string().into());
            }
            if let Some(u) = until {
                let t = parse_time("--until", &u, tz.as_deref())?;
                b.insert("scheduled_until".into(), t.to_string().into());
            }
            if let Some(m) = next_update_in {
                b.insert("next_update_in_minutes".into(), m.into());
            }
            post_update(&client, &page, &code, b).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_zoned_or_local_in_a_zone() {
        let utc = "2026-12-08T21:00:00Z".parse::<Timestamp>().unwrap();
        assert_eq!(
            parse_time("--from", "2026-12-08T21:00:00Z", None).unwrap(),
            utc
        );
        assert_eq!(
            parse_time("--from", "2026-12-08T22:00:00+01:00", None).unwrap(),
            utc
        );
        assert_eq!(
            parse_time("--from", "2026-12-08T22:00[Europe/Berlin]", None).unwrap(),
            utc
        );
        assert_eq!(
            parse_time("--from", "2026-12-08 22:00", Some("Europe/Berlin")).unwrap(),
            utc
        );
        assert_eq!(
            parse_time("--from", "2026-12-08T16:00", Some("America/New_York")).unwrap(),
            utc
        );
        let err = parse_time("--from", "tomorrow", Some("UTC")).unwrap_err();
        assert!(err.to_string().contains("--from \"tomorrow\""), "{err}");
        let err = parse_time("--from", "2026-12-08 22:00", Some("Mars/Base")).unwrap_err();
        assert!(err.to_string().contains("--tz"), "{err}");
    }

    #[test]
    fn component_moves_are_name_equals_status() {
        let m = moves(&["API=major_outage".into()], None).unwrap();
        assert_eq!(m[0], json!({"component": "API", "status": "major_outage"}));
        assert!(moves(&["API".into()], None).is_err());
        let under = |_: &str| "under_maintenance".to_owned();
        let m = moves(&["Web site".into()], Some(&under)).unwrap();
        assert_eq!(
            m[0],
            json!({"component": "Web site", "status": "under_maintenance"})
        );
    }
}
