//! Client commands for workflows: list, show (as YAML, with what it does in words), apply a
//! YAML file (checked here, then by the server, before anything is saved), delete, enable,
//! disable, and a workflow's runs.
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Subcommand;
use klaxon_domain::workflow::{self, Workflow};
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::services_cli::urlencode;
use super::{Client, ClientArgs, id_and_name, print_or, table};

#[derive(Subcommand)]
pub enum WorkflowsCommand {
    /// Every workflow, by name: whether it is on, its trigger and revision.
    List {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// One workflow as YAML (a file `apply` takes), headed by what it does in words.
    Show {
        /// Its name or id.
        workflow: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Save the workflows of a YAML file ("-" for standard input; one workflow or a list), by
    /// name (admins): says per workflow whether it was created, updated or unchanged. Every
    /// one is checked before any is saved.
    Apply {
        file: PathBuf,
        /// Check them and say what would change; write nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Delete a workflow and its runs (admins); what they did stays on the timelines.
    Delete {
        /// Its name or id.
        workflow: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Turn a workflow on (admins).
    Enable {
        /// Its name or id.
        workflow: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Turn a workflow off (admins): it is kept, but does nothing until enabled.
    Disable {
        /// Its name or id.
        workflow: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// A workflow's runs, newest first: when, on which incident, how it ended and each
    /// action's outcome.
    Runs {
        /// Its name or id.
        workflow: String,
        /// At most this many (1–500, default 50).
        #[arg(long)]
        limit: Option<u32>,
        /// Where the previous page stopped (its `more: --cursor …`).
        #[arg(long)]
        cursor: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
}

fn path(workflow: &str) -> String {
    format!("/api/v1/workflows/{}", urlencode(workflow))
}

/// A workflow as kept, by its name or id; `None` when there is none.
async fn kept(c: &Client, workflow: &str) -> anyhow::Result<Option<Value>> {
    let answer = c
        .http
        .get(format!("{}{}", c.base, path(workflow)))
        .bearer_auth(&c.token)
        .send()
        .await
        .with_context(|| format!("cannot reach {}", c.base))?;
    let status = answer.status();
    if status == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    let v: Value = answer.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let msg = v["error"]["message"].as_str().unwrap_or("no details");
        bail!("{status}: {msg}");
    }
    Ok(Some(v))
}

fn read(file: &Path) -> anyhow::Result<String> {
    if file == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("read standard input")?;
        Ok(text)
    } else {
        std::fs::read_to_string(file).with_context(|| format!("read {}", file.display()))
    }
}

/// The fields of the workflow document, as an answer carries them beside its own.
const DEFINITION: &[&str] = &[
    "name",
    "description",
    "enabled",
    "trigger",
    "conditions",
    "actions",
];

/// The workflow document in an answer (which also carries its id, revision, summary, …).
fn definition(v: &Value) -> anyhow::Result<Workflow> {
    let fields: Map<String, Value> = DEFINITION
        .iter()
        .filter_map(|k| v.get(*k).map(|x| ((*k).to_owned(), x.clone())))
        .collect();
    serde_json::from_value(Value::Object(fields))
        .context("the server answered with a workflow this klaxon cannot read")
}

fn yes_no(v: &Value) -> &'static str {
    if v == true { "yes" } else { "no" }
}

/// The trigger in a few words: `severity_changed`, `no_update (30 min)`.
fn trigger_text(t: &Value) -> String {
    let on = t["on"].as_str().unwrap_or("-");
    match t["minutes"].as_u64() {
        Some(m) => format!("{on} ({m} min)"),
        None => on.to_owned(),
    }
}

fn list_rows(items: &Value) -> Value {
    items
        .as_array()
        .into_iter()
        .flatten()
        .map(|w| {
            json!({"name": w["name"], "enabled": yes_no(&w["enabled"]),
                   "trigger": trigger_text(&w["trigger"]), "revision": w["revision"]})
        })
        .collect()
}

/// The summary sentence and the actions in words, numbered from 1.
fn summary_lines(s: &Value) -> Vec<String> {
    let mut out = vec![s["when"].as_str().unwrap_or("").to_owned()];
    for (i, a) in s["actions"].as_array().into_iter().flatten().enumerate() {
        out.push(format!("  {}. {}", i + 1, a.as_str().unwrap_or("")));
    }
    out
}

/// A workflow as `show` prints it: what it does in words as YAML comments, then the
/// document, so that the whole can be saved to a file and applied again.
fn shown(v: &Value) -> anyhow::Result<String> {
    let w = definition(v)?;
    let mut out = format!(
        "# {} ({}): revision {}, updated {}\n",
        w.name,
        v["id"].as_str().unwrap_or("-"),
        v["revision"],
        v["updated_at"].as_str().unwrap_or("-")
    );
    if !w.enabled {
        out.push_str("# Disabled: it does nothing until enabled.\n");
    }
    for line in summary_lines(&v["summary"]) {
        out.push_str(&format!("# {line}\n"));
    }
    out.push_str(&crate::yaml_out::document(
        &serde_json::to_value(&w)?,
        order,
    ));
    Ok(out)
}

/// Where a save's answer leaves a workflow: `created NAME`, `updated NAME`, `unchanged NAME`.
fn saved_line(v: &Value) -> String {
    format!(
        "{} {}",
        v["change"].as_str().unwrap_or("saved"),
        v["workflow"]["name"].as_str().unwrap_or("")
    )
}

/// What saving `w` would do to what the server keeps: created, updated or unchanged.
async fn would(c: &Client, w: &Workflow) -> anyhow::Result<&'static str> {
    Ok(match kept(c, &w.name).await? {
        None => "created",
        Some(v) if definition(&v)? == *w => "unchanged",
        Some(_) => "updated",
    })
}

/// Saves `w` whole by its name: the answer says whether it was created, updated or unchanged.
async fn save(c: &Client, w: &Workflow) -> anyhow::Result<Value> {
    let body = Some(serde_json::to_value(w)?);
    c.send(Method::PUT, &path(&w.name), body).await
}

async fn apply(file: &Path, dry_run: bool, client: &ClientArgs) -> anyhow::Result<()> {
    let text = read(file)?;
    let all =
        workflow::parse_file(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    if all.is_empty() {
        bail!("{}: holds no workflow", file.display());
    }
    let c = Client::new(client)?;
    // Every one checked by the server (what it names exists) before any is saved.
    let mut previews = Vec::new();
    let mut refused = 0;
    for w in &all {
        match c
            .send(
                Method::POST,
                "/api/v1/workflows/preview",
                Some(serde_json::to_value(w)?),
            )
            .await
        {
            Ok(p) => previews.push(p),
            Err(e) => {
                eprintln!("refused {}: {e:#}", w.name);
                refused += 1;
            }
        }
    }
    if refused > 0 {
        bail!(
            "{}: nothing was saved ({refused} of {} refused)",
            file.display(),
            all.len()
        );
    }
    if dry_run {
        let mut answers = Vec::new();
        let mut lines = Vec::new();
        for (w, p) in all.iter().zip(previews) {
            let change = would(&c, w).await?;
            lines.push(format!("{change} {}", w.name));
            lines.extend(summary_lines(&p).into_iter().map(|l| format!("  {l}")));
            answers.push(json!({"change": change, "name": w.name, "summary": p}));
        }
        lines.push("dry run: nothing was written".into());
        return print_or(
            client,
            &json!({"dry_run": true, "workflows": answers}),
            |_| lines.join("\n"),
        );
    }
    let mut answers = Vec::new();
    let mut failed = 0;
    for w in &all {
        match save(&c, w).await {
            Ok(v) => {
                if !client.json {
                    println!("{}", saved_line(&v));
                }
                answers.push(v);
            }
            Err(e) => {
                eprintln!("failed {}: {e:#}", w.name);
                failed += 1;
            }
        }
    }
    if client.json {
        println!("{}", serde_json::to_string_pretty(&answers)?);
    }
    if failed > 0 {
        bail!(
            "{}: {failed} of {} workflows were not saved",
            file.display(),
            all.len()
        );
    }
    Ok(())
}

/// Turns a workflow on or off: the whole of it saved again with `enabled` changed.
async fn set_enabled(workflow: &str, enabled: bool, client: &ClientArgs) -> anyhow::Result<()> {
    let c = Client::new(client)?;
    let kept = c.get(&path(workflow)).await?;
    let id = kept["id"]
        .as_str()
        .context("the server answered without an id")?
        .to_owned();
    let w = Workflow {
        enabled,
        ..definition(&kept)?
    };
    // Over the revision just read: an edit saved in between is refused, not undone.
    let revision = kept["revision"].as_i64().unwrap_or_default();
    let v = c
        .send(
            Method::PUT,
            &format!("{}?revision={revision}", path(&id)),
            Some(serde_json::to_value(&w)?),
        )
        .await?;
    let word = if enabled { "enabled" } else { "disabled" };
    print_or(client, &v, |v| {
        let name = v["workflow"]["name"].as_str().unwrap_or("");
        if v["change"] == "unchanged" {
            format!("{name} was already {word}")
        } else {
            format!("{word} {name} (revision {})", v["workflow"]["revision"])
        }
    })
}

/// A run in lines: when, the incident, how it ended, then each action's outcome.
fn run_text(r: &Value, incident: &str) -> String {
    let mut out = format!(
        "{}  {}  {}",
        r["created_at"].as_str().unwrap_or("-"),
        incident,
        r["state"].as_str().unwrap_or("-")
    );
    if r["state"] == "loop" {
        out.push_str(
            "\n  not run: it would have run itself again, through the workflows before it",
        );
    }
    for a in r["actions"].as_array().into_iter().flatten() {
        let n = a["position"].as_i64().map_or(0, |p| p + 1);
        out.push_str(&format!(
            "\n  {n:>2}. {:<13} {:<9}  {}",
            a["action"].as_str().unwrap_or(""),
            a["state"].as_str().unwrap_or(""),
            a["detail"].as_str().unwrap_or("")
        ));
    }
    out
}

async fn runs(
    workflow: &str,
    limit: Option<u32>,
    cursor: Option<String>,
    client: &ClientArgs,
) -> anyhow::Result<()> {
    let c = Client::new(client)?;
    let v = c
        .get(&crate::paged(
            &format!("{}/runs", path(workflow)),
            limit,
            cursor.as_deref(),
        ))
        .await?;
    if client.json {
        return print_or(client, &v, |_| String::new());
    }
    let all = v["items"].as_array().cloned().unwrap_or_default();
    if all.is_empty() {
        println!("no runs");
        return Ok(());
    }
    // Incidents by number, as people name them.
    let mut numbers = std::collections::BTreeMap::new();
    let mut blocks = Vec::new();
    for r in &all {
        let incident = match r["incident_id"].as_str() {
            Some(id) => {
                if !numbers.contains_key(id) {
                    let number = c
                        .get(&format!("/api/v1/incidents/{id}"))
                        .await
                        .ok()
                        .and_then(|i| i["number"].as_i64());
                    numbers.insert(id.to_owned(), number);
                }
                match numbers[id] {
                    Some(n) => format!("incident #{n}"),
                    None => format!("incident {id}"),
                }
            }
            None => "no incident".to_owned(),
        };
        blocks.push(run_text(r, &incident));
    }
    println!("{}", crate::more(blocks.join("\n"), &v));
    Ok(())
}

pub async fn workflows(cmd: WorkflowsCommand) -> anyhow::Result<()> {
    match cmd {
        WorkflowsCommand::List { client } => {
            let v = Client::new(&client)?.get("/api/v1/workflows").await?;
            print_or(&client, &v, |v| {
                table(&list_rows(v), &["name", "enabled", "trigger", "revision"])
            })
        }
        WorkflowsCommand::Show { workflow, client } => {
            let c = Client::new(&client)?;
            let v = c.get(&path(&workflow)).await?;
            if client.json {
                return print_or(&client, &v, |_| String::new());
            }
            print!("{}", shown(&v)?);
            Ok(())
        }
        WorkflowsCommand::Apply {
            file,
            dry_run,
            client,
        } => apply(&file, dry_run, &client).await,
        WorkflowsCommand::Delete { workflow, client } => {
            let c = Client::new(&client)?;
            let (id, name) = id_and_name(&c, &path(&workflow)).await?;
            c.send(Method::DELETE, &path(&id), None).await?;
            print_or(&client, &json!({"deleted": id}), |_| {
                format!("deleted workflow {name} ({id})")
            })
        }
        WorkflowsCommand::Enable { workflow, client } => {
            set_enabled(&workflow, true, &client).await
        }
        WorkflowsCommand::Disable { workflow, client } => {
            set_enabled(&workflow, false, &client).await
        }
        WorkflowsCommand::Runs {
            workflow,
            limit,
            cursor,
            client,
        } => runs(&workflow, limit, cursor, &client).await,
    }
}

/// The fields of a mapping in the order people write them (others follow, by name).
fn order(parent: &str) -> &'static [&'static str] {
    match parent {
        "" => &[
            "name",
            "description",
            "enabled",
            "trigger",
            "conditions",
            "actions",
        ],
        "trigger" => &["on", "minutes"],
        "conditions" => &[
            "severity", "priority", "status", "service", "role", "alert", "drills",
        ],
        "actions" => &[
            "page",
            "assign_role",
            "add_tasks",
            "start_runbook",
            "post_update",
            "set_component",
            "call_webhook",
            "stop_on_failure",
        ],
        "page" => &["user", "role", "team", "message"],
        "assign_role" => &["role", "user"],
        "start_runbook" => &["runbook", "params"],
        "post_update" => &["template", "message"],
        "set_component" => &["page", "component", "status"],
        _ => &[],
    }
}
