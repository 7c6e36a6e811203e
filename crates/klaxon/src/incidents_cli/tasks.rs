//! Client commands for an incident's tasks.
use super::support::*;
use crate::services_cli::{set, urlencode};
use crate::{Client, ClientArgs, print_or, table};
use anyhow::bail;
use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeMap;

#[derive(Subcommand)]
pub enum TaskCommand {
    /// Add a task to an incident.
    Add {
        /// The incident: its number (75 or #75) or its id.
        #[arg(value_parser = incident_term)]
        id: String,
        #[arg(long)]
        title: String,
        /// Who does it (e-mail address or id).
        #[arg(long)]
        assignee: Option<String>,
        /// When it is due (RFC 3339).
        #[arg(long)]
        due: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Change a task; options left out keep their value.
    Update {
        /// The incident: its number (75 or #75) or its id.
        #[arg(value_parser = incident_term)]
        id: String,
        task_id: String,
        #[arg(long)]
        title: Option<String>,
        /// Who does it (e-mail address or id); "none" clears it.
        #[arg(long)]
        assignee: Option<String>,
        /// When it is due (RFC 3339); "none" clears it.
        #[arg(long)]
        due: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Mark a task done.
    Done {
        /// The incident: its number (75 or #75) or its id.
        #[arg(value_parser = incident_term)]
        id: String,
        task_id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Mark a done task as not done again.
    Undo {
        /// The incident: its number (75 or #75) or its id.
        #[arg(value_parser = incident_term)]
        id: String,
        task_id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Remove a task.
    Remove {
        /// The incident: its number (75 or #75) or its id.
        #[arg(value_parser = incident_term)]
        id: String,
        task_id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

pub(super) const TASK_COLS: &[&str] = &["id", "title", "assignee", "due", "done"];

pub(super) fn assignees(tasks: &[Value]) -> impl Iterator<Item = String> + '_ {
    tasks
        .iter()
        .filter_map(|t| t["assignee_id"].as_str().map(str::to_owned))
}

/// Tasks for people: the assignee by name (or id when the name is unknown).
pub(super) fn tasks_table(tasks: &[Value], names: &BTreeMap<String, String>) -> String {
    let rows: Value = tasks
        .iter()
        .map(|t| {
            let assignee = t["assignee_id"]
                .as_str()
                .map(|id| names.get(id).map_or(id, String::as_str));
            json!({
                "id": t["id"],
                "title": t["title"],
                "assignee": assignee,
                "due": t["due_at"],
                "done": if t["done"] == true { "yes" } else { "no" },
            })
        })
        .collect();
    table(&rows, TASK_COLS)
}

/// Prints a task answer: the API's JSON, or a heading and the task as a one-row table.
pub(super) async fn print_task(
    c: &Client,
    client: &ClientArgs,
    v: &Value,
    heading: &str,
) -> anyhow::Result<()> {
    if client.json {
        return print_or(client, v, |_| String::new());
    }
    let tasks = [v.clone()];
    let names = names(c, assignees(&tasks)).await;
    println!("{heading}\n{}", tasks_table(&tasks, &names));
    Ok(())
}

/// Marks a task done or not done.
pub(super) async fn task_done(
    client: &ClientArgs,
    id: &str,
    task_id: &str,
    done: bool,
) -> anyhow::Result<()> {
    let c = Client::new(client)?;
    let v = c
        .send(
            Method::PATCH,
            &format!("/api/v1/incidents/{id}/tasks/{}", urlencode(task_id)),
            Some(json!({"done": done})),
        )
        .await?;
    let heading = if done {
        "marked the task done"
    } else {
        "marked the task not done"
    };
    print_task(&c, client, &v, heading).await
}

pub(super) async fn task(cmd: TaskCommand) -> anyhow::Result<()> {
    match cmd {
        TaskCommand::Add {
            id,
            title,
            assignee,
            due,
            client,
        } => {
            let mut body = json!({"title": title});
            set(
                &mut body,
                vec![
                    ("assignee_id", assignee.map(Value::from)),
                    ("due_at", due.map(Value::from)),
                ],
            );
            let c = Client::new(&client)?;
            let v = c
                .send(
                    Method::POST,
                    &format!("/api/v1/incidents/{id}/tasks"),
                    Some(body),
                )
                .await?;
            print_task(&c, &client, &v, "added the task").await
        }
        TaskCommand::Update {
            id,
            task_id,
            title,
            assignee,
            due,
            client,
        } => {
            let mut body = json!({});
            set(
                &mut body,
                vec![
                    ("title", title.map(Value::from)),
                    ("assignee_id", none_clears(assignee)),
                    ("due_at", none_clears(due)),
                ],
            );
            if body.as_object().is_some_and(|o| o.is_empty()) {
                bail!("nothing to change: give at least one of the options (see --help)");
            }
            let c = Client::new(&client)?;
            let v = c
                .send(
                    Method::PATCH,
                    &format!("/api/v1/incidents/{id}/tasks/{}", urlencode(&task_id)),
                    Some(body),
                )
                .await?;
            print_task(&c, &client, &v, "changed the task").await
        }
        TaskCommand::Done {
            id,
            task_id,
            client,
        } => task_done(&client, &id, &task_id, true).await,
        TaskCommand::Undo {
            id,
            task_id,
            client,
        } => task_done(&client, &id, &task_id, false).await,
        TaskCommand::Remove {
            id,
            task_id,
            client,
        } => {
            // The API answers 204; `--json` prints what was removed.
            Client::new(&client)?
                .send(
                    Method::DELETE,
                    &format!("/api/v1/incidents/{id}/tasks/{}", urlencode(&task_id)),
                    None,
                )
                .await?;
            print_or(&client, &json!({"removed": task_id}), |_| {
                format!("removed task {task_id}")
            })
        }
    }
}
