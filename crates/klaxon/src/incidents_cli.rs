//! Client commands for incidents: listing and declaring them, their fields and links,
//! lifecycle, milestones, roles, tasks, notes and pins, the timeline (as JSON or Markdown) and
//! the incident settings (what severities mean, the priority matrix, the roles).

use anyhow::{Context as _, bail};
use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};

use super::services_cli::{more, query, set, urlencode};
use super::{Client, ClientArgs, print_or, table};

mod support;
mod tasks;

use support::*;
pub use tasks::TaskCommand;
use tasks::{assignees, task, tasks_table};

#[derive(Subcommand)]
pub enum IncidentsCommand {
    /// Incidents, newest first.
    List {
        /// A service's name or id.
        #[arg(long)]
        service: Option<String>,
        /// triggered, acknowledged, mitigated, resolved or closed.
        #[arg(long)]
        status: Option<String>,
        /// Only incidents not yet resolved or closed.
        #[arg(long)]
        open: bool,
        /// Severities, comma-separated: SEV1,SEV2.
        #[arg(long)]
        severity: Option<String>,
        /// Declared at or after this time (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// Declared before this time (RFC 3339).
        #[arg(long)]
        until: Option<String>,
        /// Text in the title or description.
        #[arg(long)]
        search: Option<String>,
        /// Only incidents you reported, hold a role in, or were paged for.
        #[arg(long)]
        mine: bool,
        /// A team's incidents: its escalation policy's name or id.
        #[arg(long)]
        team: Option<String>,
        /// Learned from (true) or not (false): no priority action item open.
        #[arg(long)]
        learned_from: Option<bool>,
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        cursor: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// An incident: its fields, milestones and who holds its roles.
    Show {
        /// The incident: its number (75 or #75) or its id.
        #[arg(value_parser = incident_term)]
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Declare an incident.
    ///
    /// With a service that has an escalation policy it pages; otherwise you are on it and it
    /// starts acknowledged.
    Declare {
        #[arg(long)]
        title: String,
        /// SEV1 .. SEV4; `klaxon incidents settings` says what each means here.
        #[arg(long)]
        severity: String,
        /// The affected service, by name or id: its escalation policy is paged.
        #[arg(long)]
        service: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// high, medium or low (default: from the severity).
        #[arg(long)]
        impact: Option<String>,
        /// high, medium or low (default: from the severity); medium and high page now.
        #[arg(long)]
        urgency: Option<String>,
        #[arg(long)]
        category: Option<String>,
        #[arg(long)]
        subcategory: Option<String>,
        /// The incident commander, by e-mail address or id (default: you, for a SEV1 or SEV2
        /// nobody is paged for).
        #[arg(long)]
        commander: Option<String>,
        /// Who reported it, and so confirms its closure (e-mail address or id; default: you).
        #[arg(long)]
        reporter: Option<String>,
        /// When the impact started (RFC 3339).
        #[arg(long)]
        impact_started_at: Option<String>,
        /// When it was detected (RFC 3339; default: now).
        #[arg(long)]
        detected_at: Option<String>,
        /// The conference bridge responders join (an http:// or https:// link).
        #[arg(long)]
        conference_url: Option<String>,
        /// The chat channel where the incident is worked (an http:// or https:// link).
        #[arg(long)]
        chat_url: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Change an incident's fields; options left out keep their value.
    ///
    /// Priority follows impact and urgency.
    Update {
        /// The incident: its number (75 or #75) or its id.
        #[arg(value_parser = incident_term)]
        id: String,
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// SEV1 .. SEV4.
        #[arg(long)]
        severity: Option<String>,
        /// high, medium or low.
        #[arg(long)]
        impact: Option<String>,
        /// high, medium or low.
        #[arg(long)]
        urgency: Option<String>,
        /// An empty string clears it.
        #[arg(long)]
        category: Option<String>,
        /// An empty string clears it.
        #[arg(long)]
        subcategory: Option<String>,
        /// The reporter's e-mail address or id; an empty string clears it.
        #[arg(long)]
        reporter: Option<String>,
        /// The conference bridge (an http:// or https:// link); an empty string clears it.
        #[arg(long)]
        conference_url: Option<String>,
        /// The chat channel (an http:// or https:// link); an empty string clears it.
        #[arg(long)]
        chat_url: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Acknowledge: you are on it, the escalation stops.
    #[command(alias = "acknowledge")]
    Ack {
        /// The incident: its number (75 or #75) or its id.
        #[arg(value_parser = incident_term)]
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Mark the impact as mitigated: customers are fine again, the cause may not be fixed.
    Mitigate {
        /// The incident: its number (75 or #75) or its id.
        #[arg(value_parser = incident_term)]
        id: String,
        /// Why, for the timeline.
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Resolve the incident and its open alerts.
    Resolve {
        /// The incident: its number (75 or #75) or its id.
        #[arg(value_parser = incident_term)]
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Close a resolved incident: the reporter's confirmation (or an admin's, with --reason).
    Close {
        /// The incident: its number (75 or #75) or its id.
        #[arg(value_parser = incident_term)]
        id: String,
        /// Why: required when an admin closes without being the reporter.
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Reopen a resolved (or mitigated) incident: back to acknowledged.
    Reopen {
        /// The incident: its number (75 or #75) or its id.
        #[arg(value_parser = incident_term)]
        id: String,
        /// Why, for the timeline.
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Show the incident's milestones, or correct them.
    ///
    /// Times are RFC 3339; "none" clears one. They must stay in order, in the past, and agree
    /// with the status.
    Milestones {
        /// The incident: its number (75 or #75) or its id.
        #[arg(value_parser = incident_term)]
        id: String,
        #[arg(long)]
        impact_started_at: Option<String>,
        #[arg(long)]
        detected_at: Option<String>,
        #[arg(long)]
        declared_at: Option<String>,
        #[arg(long)]
        acknowledged_at: Option<String>,
        #[arg(long)]
        mitigated_at: Option<String>,
        #[arg(long)]
        resolved_at: Option<String>,
        #[arg(long)]
        closed_at: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Who holds the incident's roles.
    Roles {
        /// The incident: its number (75 or #75) or its id.
        #[arg(value_parser = incident_term)]
        id: String,
        /// Everyone who ever held a role, with when they stopped.
        #[arg(long)]
        history: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Give someone a role; the holder of a one-person role (commander) hands it over.
    Assign {
        /// The incident: its number (75 or #75) or its id.
        #[arg(value_parser = incident_term)]
        id: String,
        /// commander, communications_lead, scribe, subject_matter_expert or one of your own
        /// (see `klaxon incidents settings`).
        #[arg(long)]
        role: String,
        /// The person: their e-mail address or id.
        #[arg(long)]
        user: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// End someone's role.
    Unassign {
        /// The incident: its number (75 or #75) or its id.
        #[arg(value_parser = incident_term)]
        id: String,
        #[arg(long)]
        role: String,
        /// The person: their e-mail address or id.
        #[arg(long)]
        user: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// The incident's tasks, oldest first.
    Tasks {
        /// The incident: its number (75 or #75) or its id.
        #[arg(value_parser = incident_term)]
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Add, change, finish or remove one of the incident's tasks.
    Task {
        #[command(subcommand)]
        command: TaskCommand,
    },
    /// Who follows the incident (gets its stakeholder updates).
    Followers {
        /// The incident: its number (75 or #75) or its id.
        #[arg(value_parser = incident_term)]
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Follow the incident (yourself, or --user as a responder).
    Follow {
        /// The incident: its number (75 or #75) or its id.
        #[arg(value_parser = incident_term)]
        id: String,
        /// The person: their e-mail address or id.
        #[arg(long)]
        user: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Stop following the incident (yourself, or --user as a responder).
    Unfollow {
        /// The incident: its number (75 or #75) or its id.
        #[arg(value_parser = incident_term)]
        id: String,
        /// The person: their e-mail address or id.
        #[arg(long)]
        user: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Post a stakeholder update to the incident's followers.
    PostUpdate {
        /// The incident: its number (75 or #75) or its id.
        #[arg(value_parser = incident_term)]
        id: String,
        /// The text ("-" reads it from standard input).
        #[arg(long, conflicts_with = "template")]
        message: Option<String>,
        /// A ready-made update (see `settings`): investigating, identified, monitoring, resolved.
        #[arg(long)]
        template: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// The incidents related to this one.
    Related {
        /// The incident: its number (75 or #75) or its id.
        #[arg(value_parser = incident_term)]
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Relate another incident to this one (both ways).
    Relate {
        /// The incident: its number (75 or #75) or its id.
        #[arg(value_parser = incident_term)]
        id: String,
        /// The other incident: its number or id.
        #[arg(value_parser = incident_term)]
        other: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Undo a relation between two incidents.
    Unrelate {
        /// The incident: its number (75 or #75) or its id.
        #[arg(value_parser = incident_term)]
        id: String,
        /// The other incident: its number or id.
        #[arg(value_parser = incident_term)]
        other: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Merge this incident, a duplicate, into another: its alerts move there and it resolves.
    Merge {
        /// The incident: its number (75 or #75) or its id.
        #[arg(value_parser = incident_term)]
        id: String,
        /// The incident it duplicates: its number or id.
        #[arg(long, value_parser = incident_term)]
        into: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Page a person, or whoever holds a role, into the incident (it need not be triggered).
    Page {
        /// The incident: its number (75 or #75) or its id.
        #[arg(value_parser = incident_term)]
        id: String,
        /// The person to page: their e-mail address or id.
        #[arg(long, conflicts_with = "role")]
        user: Option<String>,
        /// Page whoever holds this role now (e.g. commander).
        #[arg(long)]
        role: Option<String>,
        /// Page a team: who is on call at its escalation policy's first level (the policy's name
        /// or id).
        #[arg(long, conflicts_with_all = ["user", "role"])]
        team: Option<String>,
        /// What you need them for, shown on the timeline.
        #[arg(long, default_value = "")]
        message: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Add a note to the timeline ("-" reads it from standard input).
    Note {
        /// The incident: its number (75 or #75) or its id.
        #[arg(value_parser = incident_term)]
        id: String,
        text: String,
        /// Pin it to the top of the timeline.
        #[arg(long)]
        pin: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Pin a timeline entry (by its sequence number, the SEQ column of `timeline`).
    Pin {
        /// The incident: its number (75 or #75) or its id.
        #[arg(value_parser = incident_term)]
        id: String,
        seq: i64,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Unpin a timeline entry.
    Unpin {
        /// The incident: its number (75 or #75) or its id.
        #[arg(value_parser = incident_term)]
        id: String,
        seq: i64,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// The incident's timeline, oldest first.
    Timeline {
        /// The incident: its number (75 or #75) or its id.
        #[arg(value_parser = incident_term)]
        id: String,
        /// Only these event kinds, comma-separated: exact names (incident.note_added) or
        /// prefixes ending in "." (notification.).
        #[arg(long)]
        kind: Option<String>,
        /// Only pinned entries.
        #[arg(long)]
        pinned: bool,
        /// The whole incident as Markdown (summary, milestones, roles, timeline), for a
        /// postmortem or a ticket.
        #[arg(long, conflicts_with = "json")]
        markdown: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Hand the incident to one person: they are paged now, the escalation policy stops.
    Reassign {
        /// The incident: its number (75 or #75) or its id.
        #[arg(value_parser = incident_term)]
        id: String,
        /// The person: their e-mail address or id.
        #[arg(long)]
        user: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Page the next escalation level now.
    Escalate {
        /// The incident: its number (75 or #75) or its id.
        #[arg(value_parser = incident_term)]
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// The notifications the incident sent, and how each went.
    Notifications {
        /// The incident: its number (75 or #75) or its id.
        #[arg(value_parser = incident_term)]
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// What severities mean here, the priority matrix and the roles incidents can have.
    Settings {
        #[command(flatten)]
        client: ClientArgs,
    },
}

pub async fn incidents(cmd: IncidentsCommand) -> anyhow::Result<()> {
    match cmd {
        IncidentsCommand::List {
            service,
            status,
            open,
            severity,
            since,
            until,
            search,
            mine,
            team,
            learned_from,
            limit,
            cursor,
            client,
        } => {
            let c = Client::new(&client)?;
            let path = query(
                "/api/v1/incidents",
                &[
                    ("service_id", service),
                    ("status", status),
                    ("open", open.then(|| "true".to_owned())),
                    ("severity", severity),
                    ("from", since),
                    ("to", until),
                    ("q", search),
                    ("mine", mine.then(|| "true".to_owned())),
                    ("team", team),
                    ("learned_from", learned_from.map(|l| l.to_string())),
                    ("limit", limit.map(|l| l.to_string())),
                    ("cursor", cursor),
                ],
            );
            let v = c.get(&path).await?;
            print_or(&client, &v, |v| {
                table(&v["items"], INCIDENT_COLS) + &more(v)
            })
        }
        IncidentsCommand::Show { id, client } => {
            let c = Client::new(&client)?;
            let v = c.get(&format!("/api/v1/incidents/{id}")).await?;
            print_incident(&c, &client, &v, None).await
        }
        IncidentsCommand::Declare {
            title,
            severity,
            service,
            description,
            impact,
            urgency,
            category,
            subcategory,
            commander,
            reporter,
            impact_started_at,
            detected_at,
            conference_url,
            chat_url,
            client,
        } => {
            let c = Client::new(&client)?;
            let mut body = json!({"title": title, "severity": severity});
            set(
                &mut body,
                vec![
                    ("description", description.map(Value::from)),
                    ("impact", impact.map(Value::from)),
                    ("urgency", urgency.map(Value::from)),
                    ("category", category.map(Value::from)),
                    ("subcategory", subcategory.map(Value::from)),
                    ("service_id", service.map(Value::from)),
                    ("commander_id", commander.map(Value::from)),
                    ("reporter_id", reporter.map(Value::from)),
                    ("impact_started_at", impact_started_at.map(Value::from)),
                    ("detected_at", detected_at.map(Value::from)),
                    ("conference_url", conference_url.map(Value::from)),
                    ("chat_url", chat_url.map(Value::from)),
                ],
            );
            let v = c
                .send(Method::POST, "/api/v1/incidents", Some(body))
                .await?;
            let heading = format!("declared incident #{}", v["number"]);
            print_incident(&c, &client, &v, Some(heading)).await
        }
        IncidentsCommand::Update {
            id,
            title,
            description,
            severity,
            impact,
            urgency,
            category,
            subcategory,
            reporter,
            conference_url,
            chat_url,
            client,
        } => {
            let mut body = json!({});
            set(
                &mut body,
                vec![
                    ("title", title.map(Value::from)),
                    ("description", description.map(Value::from)),
                    ("severity", severity.map(Value::from)),
                    ("impact", impact.map(Value::from)),
                    ("urgency", urgency.map(Value::from)),
                    ("category", clearable(category)),
                    ("subcategory", clearable(subcategory)),
                    ("reporter_id", clearable(reporter)),
                    ("conference_url", clearable(conference_url)),
                    ("chat_url", clearable(chat_url)),
                ],
            );
            if body.as_object().is_some_and(|o| o.is_empty()) {
                bail!("nothing to change: give at least one of the options (see --help)");
            }
            let c = Client::new(&client)?;
            let v = c
                .send(
                    Method::PATCH,
                    &format!("/api/v1/incidents/{id}"),
                    Some(body),
                )
                .await?;
            print_incident(&c, &client, &v, None).await
        }
        IncidentsCommand::Ack { id, client } => {
            post(
                &client,
                &format!("/api/v1/incidents/{id}/acknowledge"),
                json!({}),
            )
            .await
        }
        IncidentsCommand::Mitigate { id, reason, client } => {
            move_to(&client, &id, "mitigated", reason).await
        }
        IncidentsCommand::Resolve { id, client } => {
            post(
                &client,
                &format!("/api/v1/incidents/{id}/resolve"),
                json!({}),
            )
            .await
        }
        IncidentsCommand::Close { id, reason, client } => {
            move_to(&client, &id, "closed", reason).await
        }
        IncidentsCommand::Reopen { id, reason, client } => {
            move_to(&client, &id, "acknowledged", reason).await
        }
        IncidentsCommand::Milestones {
            id,
            impact_started_at,
            detected_at,
            declared_at,
            acknowledged_at,
            mitigated_at,
            resolved_at,
            closed_at,
            client,
        } => {
            let mut body = json!({});
            set(
                &mut body,
                vec![
                    ("impact_started_at", none_clears(impact_started_at)),
                    ("detected_at", none_clears(detected_at)),
                    ("declared_at", none_clears(declared_at)),
                    ("acknowledged_at", none_clears(acknowledged_at)),
                    ("mitigated_at", none_clears(mitigated_at)),
                    ("resolved_at", none_clears(resolved_at)),
                    ("closed_at", none_clears(closed_at)),
                ],
            );
            let c = Client::new(&client)?;
            let path = format!("/api/v1/incidents/{id}");
            let v = if body.as_object().is_some_and(|o| o.is_empty()) {
                c.get(&path).await?
            } else {
                c.send(Method::PATCH, &format!("{path}/milestones"), Some(body))
                    .await?
            };
            print_or(&client, &v, |v| {
                format!(
                    "incident #{} ({}) milestones:\n{}",
                    v["number"],
                    text(&v["status"]),
                    milestones_text(&v["milestones"])
                )
            })
        }
        IncidentsCommand::Roles {
            id,
            history,
            client,
        } => {
            let c = Client::new(&client)?;
            let path = query(
                &format!("/api/v1/incidents/{id}/roles"),
                &[("history", history.then(|| "true".to_owned()))],
            );
            let v = c.get(&path).await?;
            if client.json {
                return print_or(&client, &v, |_| String::new());
            }
            let items = v["items"].as_array().cloned().unwrap_or_default();
            let names = names(
                &c,
                items
                    .iter()
                    .filter_map(|r| r["user_id"].as_str().map(str::to_owned)),
            )
            .await;
            let rows: Value = items
                .into_iter()
                .map(|mut r| {
                    r["user"] = json!(names.get(text(&r["user_id"])));
                    r
                })
                .collect();
            let mut cols = vec!["role", "name", "user", "user_id", "assigned_at"];
            if history {
                cols.push("ended_at");
            }
            print_or(&client, &v, |_| {
                if rows.as_array().is_none_or(Vec::is_empty) {
                    "nobody holds a role".to_owned()
                } else {
                    table(&rows, &cols)
                }
            })
        }
        IncidentsCommand::Assign {
            id,
            role,
            user,
            client,
        } => {
            let v = Client::new(&client)?
                .send(
                    Method::POST,
                    &format!("/api/v1/incidents/{id}/roles"),
                    Some(json!({"role": role, "user_id": user})),
                )
                .await?;
            // The answer is the role assignment.
            print_or(&client, &v, |v| {
                let role = v["name"].as_str().unwrap_or(&role);
                format!("{user} is now {role} of incident {}", shown(&id))
            })
        }
        IncidentsCommand::Unassign {
            id,
            role,
            user,
            client,
        } => {
            let v = Client::new(&client)?
                .send(
                    Method::DELETE,
                    &format!(
                        "/api/v1/incidents/{id}/roles/{}/{}",
                        urlencode(&role),
                        urlencode(&user)
                    ),
                    None,
                )
                .await?;
            print_or(&client, &v, |v| {
                format!("{user} is no longer {role} of incident #{}", v["number"])
            })
        }
        IncidentsCommand::Tasks { id, client } => {
            let c = Client::new(&client)?;
            let v = c.get_all(&format!("/api/v1/incidents/{id}/tasks")).await?;
            if client.json {
                return print_or(&client, &v, |_| String::new());
            }
            let items = v["items"].as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                println!("no tasks");
                return Ok(());
            }
            let names = names(&c, assignees(&items)).await;
            println!("{}", tasks_table(&items, &names));
            Ok(())
        }
        IncidentsCommand::Task { command } => task(command).await,
        IncidentsCommand::Followers { id, client } => {
            let v = Client::new(&client)?
                .get_all(&format!("/api/v1/incidents/{id}/subscribers"))
                .await?;
            print_or(&client, &v, |v| table(&v["items"], &["name", "user_id"]))
        }
        IncidentsCommand::Follow { id, user, client } => {
            let v = Client::new(&client)?
                .send(
                    Method::POST,
                    &format!("/api/v1/incidents/{id}/subscribers"),
                    Some(json!({"user_id": user})),
                )
                .await?;
            // The answer is the follower.
            print_or(&client, &v, |v| {
                let who = match v["name"].as_str().filter(|n| !n.is_empty()) {
                    Some(name) => format!("{name} ({})", text(&v["user_id"])),
                    None => text(&v["user_id"]).to_owned(),
                };
                format!("{who} now follows incident {}", shown(&id))
            })
        }
        IncidentsCommand::Unfollow { id, user, client } => {
            let c = Client::new(&client)?;
            let user = match user {
                Some(u) => u,
                None => c.get("/api/v1/me").await?["user"]["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            };
            let v = c
                .send(
                    Method::DELETE,
                    &format!("/api/v1/incidents/{id}/subscribers/{}", urlencode(&user)),
                    None,
                )
                .await?;
            print_or(&client, &v, |v| {
                format!("no longer following incident #{}", v["number"])
            })
        }
        IncidentsCommand::PostUpdate {
            id,
            message,
            template,
            client,
        } => {
            let message = match message.as_deref() {
                Some("-") => {
                    let mut s = String::new();
                    std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                        .context("read the update from standard input")?;
                    Some(s)
                }
                _ => message,
            };
            let v = Client::new(&client)?
                .send(
                    Method::POST,
                    &format!("/api/v1/incidents/{id}/updates"),
                    Some(json!({"message": message, "template": template})),
                )
                .await?;
            // The answer is the update's timeline event.
            print_or(&client, &v, |v| {
                format!(
                    "posted an update on incident {} (seq {}), sent to {} followers",
                    shown(&id),
                    v["seq"],
                    v["data"]["followers"]
                )
            })
        }
        IncidentsCommand::Related { id, client } => {
            let v = Client::new(&client)?
                .get_all(&format!("/api/v1/incidents/{id}/related"))
                .await?;
            print_or(&client, &v, |v| table(&v["items"], INCIDENT_COLS))
        }
        IncidentsCommand::Relate { id, other, client } => {
            // The answer is the incident related.
            let v = Client::new(&client)?
                .send(
                    Method::POST,
                    &format!("/api/v1/incidents/{id}/related"),
                    Some(json!({"incident_id": other})),
                )
                .await?;
            print_or(&client, &v, |v| {
                format!(
                    "related incident {} and incident #{} ({})",
                    shown(&id),
                    v["number"],
                    v["title"].as_str().unwrap_or("")
                )
            })
        }
        IncidentsCommand::Unrelate { id, other, client } => {
            Client::new(&client)?
                .send(
                    Method::DELETE,
                    &format!("/api/v1/incidents/{id}/related/{other}"),
                    None,
                )
                .await?;
            let v = json!({"incident_id": id, "related_id": other, "related": false});
            print_or(&client, &v, |_| {
                format!("unrelated incidents {} and {}", shown(&id), shown(&other))
            })
        }
        IncidentsCommand::Merge { id, into, client } => {
            let v = Client::new(&client)?
                .send(
                    Method::POST,
                    &format!("/api/v1/incidents/{id}/merge"),
                    Some(json!({"into": into})),
                )
                .await?;
            print_or(&client, &v, |v| {
                format!(
                    "merged into incident #{} ({}), which now has {} alerts",
                    v["number"],
                    v["title"].as_str().unwrap_or(""),
                    v["alert_count"]
                )
            })
        }
        IncidentsCommand::Page {
            id,
            user,
            role,
            team,
            message,
            client,
        } => {
            let v = Client::new(&client)?
                .send(
                    Method::POST,
                    &format!("/api/v1/incidents/{id}/page"),
                    Some(
                        json!({"user_id": user, "role": role, "escalation_policy_id": team,
                                "message": message}),
                    ),
                )
                .await?;
            print_or(&client, &v, |v| {
                format!(
                    "paged into incident #{} ({})",
                    v["number"],
                    v["title"].as_str().unwrap_or("")
                )
            })
        }
        IncidentsCommand::Note {
            id,
            text: note,
            pin,
            client,
        } => {
            let note = if note == "-" {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                    .context("read the note from standard input")?;
                s
            } else {
                note
            };
            let v = Client::new(&client)?
                .send(
                    Method::POST,
                    &format!("/api/v1/incidents/{id}/notes"),
                    Some(json!({"text": note, "pinned": pin})),
                )
                .await?;
            print_or(&client, &v, |v| {
                let pinned = if v["pinned"] == true { ", pinned" } else { "" };
                format!(
                    "added a note to incident {} (seq {}){pinned}",
                    shown(&id),
                    v["seq"]
                )
            })
        }
        IncidentsCommand::Pin { id, seq, client } => pin(&client, &id, seq, true).await,
        IncidentsCommand::Unpin { id, seq, client } => pin(&client, &id, seq, false).await,
        IncidentsCommand::Timeline {
            id,
            kind,
            pinned,
            markdown,
            client,
        } => {
            let c = Client::new(&client)?;
            if markdown {
                let path = query(
                    &format!("/api/v1/incidents/{id}/timeline.md"),
                    &[
                        ("kind", kind),
                        ("pinned", pinned.then(|| "true".to_owned())),
                    ],
                );
                print!("{}", c.get_text(&path).await?);
                return Ok(());
            }
            let items = all_events(&c, &id, kind.as_deref(), pinned).await?;
            let v = json!({"items": items, "next_cursor": null});
            print_or(&client, &v, |v| {
                table(
                    &v["items"],
                    &["seq", "at", "kind", "actor", "pinned", "data"],
                )
            })
        }
        IncidentsCommand::Reassign { id, user, client } => {
            post(
                &client,
                &format!("/api/v1/incidents/{id}/reassign"),
                json!({"user_id": user}),
            )
            .await
        }
        IncidentsCommand::Escalate { id, client } => {
            post(
                &client,
                &format!("/api/v1/incidents/{id}/escalate"),
                json!({}),
            )
            .await
        }
        IncidentsCommand::Notifications { id, client } => notifications(&client, &id).await,
        IncidentsCommand::Settings { client } => {
            let v = Client::new(&client)?
                .get("/api/v1/incident-settings")
                .await?;
            print_or(&client, &v, settings_text)
        }
    }
}
