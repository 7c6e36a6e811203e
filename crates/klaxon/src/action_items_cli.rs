//! Client commands for action items: list (mine, overdue, a team, a state), add, show, update,
//! done, wont-do (with its reason), delete, and the "learned from" summary.
use anyhow::bail;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::services_cli::urlencode;
use super::{Client, ClientArgs, print_or, table};

/// Fields `add` and `update` share.
#[derive(Args)]
pub struct ItemFields {
    /// Who does it: a user id or e-mail address (add: yourself when left out).
    #[arg(long)]
    owner: Option<String>,
    /// prevent, mitigate, detect or process.
    #[arg(long)]
    kind: Option<String>,
    /// Due (RFC 3339, not in the past); by default the SLO for its priority.
    #[arg(long)]
    due: Option<String>,
    /// A link to the item in another tracker (http or https; update: "" clears it).
    #[arg(long)]
    tracker_url: Option<String>,
}

#[derive(Subcommand)]
pub enum ActionItemsCommand {
    /// Action items across incidents, soonest due first.
    List {
        /// Only yours.
        #[arg(long)]
        mine: bool,
        /// Only those still open after their due date.
        #[arg(long)]
        overdue: bool,
        /// Only items of incidents on this escalation policy's services (name or id).
        #[arg(long)]
        team: Option<String>,
        /// open, in_progress, done or wont_do.
        #[arg(long)]
        state: Option<String>,
        /// Only this incident's (number or id).
        #[arg(long)]
        incident: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Add an action item to an incident.
    Add {
        /// The incident: its number (`75` or `#75`) or id.
        #[arg(long)]
        incident: String,
        #[arg(long)]
        title: String,
        /// A priority item: the shorter SLO, and the incident is not learned from while open.
        #[arg(long)]
        priority: bool,
        #[command(flatten)]
        fields: ItemFields,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// One action item.
    Show {
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Change an action item; options left out keep their value.
    Update {
        id: String,
        #[arg(long)]
        title: Option<String>,
        /// true or false.
        #[arg(long)]
        priority: Option<bool>,
        /// open or in_progress (use `done` and `wont-do` to close it).
        #[arg(long)]
        state: Option<String>,
        #[command(flatten)]
        fields: ItemFields,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Mark an action item done.
    Done {
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Close an action item that will not be done, saying why.
    WontDo {
        id: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Remove an action item.
    Delete {
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// How many incidents are learned from (no open priority item), and which are not.
    Summary {
        #[command(flatten)]
        client: ClientArgs,
    },
}

fn path(id: &str) -> String {
    format!("/api/v1/action-items/{}", urlencode(id))
}

const COLS: &[&str] = &["id", "incident", "title", "owner", "kind", "due", "state"];

fn rows(items: &Value) -> Value {
    items
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            let mut kind = i["kind"].as_str().unwrap_or("").to_owned();
            if i["priority"] == true {
                kind += ", priority";
            }
            let mut due = i["due_at"].as_str().unwrap_or("").to_owned();
            if i["overdue"] == true {
                due += " (overdue)";
            }
            json!({"id": i["id"], "incident": format!("#{}", i["incident_number"]),
                   "title": i["title"], "owner": i["owner_name"], "kind": kind, "due": due,
                   "state": i["state"]})
        })
        .collect()
}

fn text(v: &Value) -> String {
    let s = |k: &str| match &v[k] {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    };
    let mut out = format!(
        "action item {} ({})\n\
         incident:  #{} {}\n\
         owner:     {}\n\
         kind:      {}{}\n\
         due:       {}{}\n\
         state:     {}",
        s("title"),
        s("id"),
        s("incident_number"),
        s("incident_title"),
        s("owner_name"),
        s("kind"),
        if v["priority"] == true {
            ", priority"
        } else {
            ""
        },
        s("due_at"),
        if v["overdue"] == true {
            " (overdue)"
        } else {
            ""
        },
        s("state"),
    );
    if let Some(r) = v["reason"].as_str() {
        out += &format!("\nreason:    {r}");
    }
    if let Some(t) = v["tracker_url"].as_str() {
        out += &format!("\ntracker:   {t}");
    }
    out
}

fn summary_text(v: &Value) -> String {
    let mut out = format!(
        "{} of {} incidents learned from; {} not yet\n{} open items, {} overdue",
        v["learned_from"],
        v["incidents"],
        v["not_learned_from"],
        v["open_items"],
        v["overdue_items"]
    );
    for i in v["incidents_not_learned_from"]
        .as_array()
        .into_iter()
        .flatten()
    {
        out += &format!("\n  #{} {}", i["number"], i["title"].as_str().unwrap_or(""));
    }
    out
}

fn fields_into(f: ItemFields, body: &mut Map<String, Value>) {
    for (k, v) in [("owner", f.owner), ("kind", f.kind), ("due_at", f.due)] {
        if let Some(v) = v {
            body.insert(k.into(), v.into());
        }
    }
    if let Some(t) = f.tracker_url {
        body.insert(
            "tracker_url".into(),
            if t.is_empty() { Value::Null } else { t.into() },
        );
    }
}

async fn change(client: &ClientArgs, id: &str, body: Value) -> anyhow::Result<()> {
    let v = Client::new(client)?
        .send(Method::PATCH, &path(id), Some(body))
        .await?;
    print_or(client, &v, text)
}

pub async fn action_items(cmd: ActionItemsCommand) -> anyhow::Result<()> {
    match cmd {
        ActionItemsCommand::List {
            mine,
            overdue,
            team,
            state,
            incident,
            client,
        } => {
            let mut q = Vec::new();
            if mine {
                q.push("mine=true".to_owned());
            }
            if overdue {
                q.push("overdue=true".to_owned());
            }
            for (k, v) in [("team", team), ("state", state), ("incident", incident)] {
                if let Some(v) = v {
                    q.push(format!("{k}={}", urlencode(&v)));
                }
            }
            let p = if q.is_empty() {
                "/api/v1/action-items".to_owned()
            } else {
                format!("/api/v1/action-items?{}", q.join("&"))
            };
            let v = Client::new(&client)?.get_all(&p).await?;
            print_or(&client, &v, |v| table(&rows(&v["items"]), COLS))
        }
        ActionItemsCommand::Add {
            incident,
            title,
            priority,
            fields,
            client,
        } => {
            let c = Client::new(&client)?;
            let mut body = Map::new();
            body.insert("incident".into(), incident.into());
            body.insert("title".into(), title.into());
            body.insert("priority".into(), priority.into());
            if fields.owner.is_none() {
                let me = c.get("/api/v1/me").await?;
                body.insert("owner".into(), me["user"]["id"].clone());
            }
            if fields.kind.is_none() {
                bail!("--kind is required: prevent, mitigate, detect or process");
            }
            fields_into(fields, &mut body);
            let v = c
                .send(Method::POST, "/api/v1/action-items", Some(body.into()))
                .await?;
            print_or(&client, &v, text)
        }
        ActionItemsCommand::Show { id, client } => {
            let v = Client::new(&client)?.get(&path(&id)).await?;
            print_or(&client, &v, text)
        }
        ActionItemsCommand::Update {
            id,
            title,
            priority,
            state,
            fields,
            client,
        } => {
            let mut body = Map::new();
            if let Some(t) = title {
                body.insert("title".into(), t.into());
            }
            if let Some(p) = priority {
                body.insert("priority".into(), p.into());
            }
            if let Some(s) = state {
                body.insert("state".into(), s.into());
            }
            fields_into(fields, &mut body);
            if body.is_empty() {
                bail!("nothing to change: pass --title, --owner, --kind, --due, --state, …");
            }
            change(&client, &id, body.into()).await
        }
        ActionItemsCommand::Done { id, client } => {
            change(&client, &id, json!({"state": "done"})).await
        }
        ActionItemsCommand::WontDo { id, reason, client } => {
            change(&client, &id, json!({"state": "wont_do", "reason": reason})).await
        }
        ActionItemsCommand::Delete { id, client } => {
            Client::new(&client)?
                .send(Method::DELETE, &path(&id), None)
                .await?;
            print_or(&client, &json!({"deleted": id}), |_| {
                format!("deleted action item {id}")
            })
        }
        ActionItemsCommand::Summary { client } => {
            let v = Client::new(&client)?
                .get("/api/v1/action-items/summary")
                .await?;
            print_or(&client, &v, summary_text)
        }
    }
}
