//! Client commands for runs of runbooks on incidents (start, list, show, the moves, a step's
//! whole output) and for the secret store their steps name.
use std::io::Read;

use anyhow::{Context, bail};
use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};

use super::services_cli::urlencode;
use super::{Client, ClientArgs, print_or, table};

#[derive(Subcommand)]
pub enum RunsCommand {
    /// Start a runbook's latest version on an incident.
    Start {
        /// The incident: its number or id.
        incident: String,
        /// The runbook: its name or id.
        runbook: String,
        /// A parameter, NAME=VALUE; repeat for more. The rest take their defaults.
        #[arg(short, long = "param")]
        params: Vec<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// An incident's runs, newest first.
    List {
        incident: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// A run and its steps.
    Show {
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// A move on a run: complete, approve, reject, retry, skip, pause, resume or abort.
    Move {
        id: String,
        #[arg(value_parser = ["complete", "approve", "reject", "retry", "skip", "pause", "resume", "abort"])]
        action: String,
        /// What you did, or why.
        #[arg(short, long, default_value = "")]
        note: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// A step's whole output (steps counted from 1).
    Output {
        id: String,
        step: u32,
        #[command(flatten)]
        client: ClientArgs,
    },
}

#[derive(Subcommand)]
pub enum SecretsCommand {
    /// The secrets' names and dates (never their values).
    List {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Set or replace a secret; the value is read from standard input (so it stays out of
    /// the shell's history).
    Set {
        name: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Remove a secret.
    Delete {
        name: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

fn run_text(v: &Value) -> String {
    let mut out = format!(
        "{} ({}, version {}): {}",
        v["title"].as_str().unwrap_or(""),
        v["runbook"].as_str().unwrap_or(""),
        v["version"],
        v["state"].as_str().unwrap_or("")
    );
    for s in v["steps"].as_array().into_iter().flatten() {
        let n = s["index"].as_i64().unwrap_or(0) + 1;
        out += &format!(
            "\n  {:>2}. {:<9} {:<18} {}",
            n,
            s["kind"].as_str().unwrap_or(""),
            s["state"].as_str().unwrap_or(""),
            s["title"].as_str().unwrap_or("")
        );
        if let Some(c) = s["detail"]["status"].as_u64() {
            out += &format!(" (HTTP {c})");
        }
        if let Some(e) = s["detail"]["error"].as_str() {
            out += &format!(" ({e})");
        }
    }
    out
}

pub async fn runs(cmd: RunsCommand) -> anyhow::Result<()> {
    match cmd {
        RunsCommand::Start {
            incident,
            runbook,
            params,
            client,
        } => {
            let mut map = serde_json::Map::new();
            for p in params {
                let Some((k, v)) = p.split_once('=') else {
                    bail!("--param {p}: write NAME=VALUE");
                };
                map.insert(k.trim().to_owned(), Value::String(v.to_owned()));
            }
            let v = Client::new(&client)?
                .send(
                    Method::POST,
                    &format!("/api/v1/incidents/{}/runs", urlencode(&incident)),
                    Some(json!({"runbook": runbook, "params": map})),
                )
                .await?;
            print_or(&client, &v, |v| {
                format!("{}\n{}", v["id"].as_str().unwrap_or(""), run_text(v))
            })
        }
        RunsCommand::List { incident, client } => {
            let v = Client::new(&client)?
                .get(&format!("/api/v1/incidents/{}/runs", urlencode(&incident)))
                .await?;
            print_or(&client, &v, |v| {
                table(v, &["id", "runbook", "state", "current", "created_at"])
            })
        }
        RunsCommand::Show { id, client } => {
            let v = Client::new(&client)?
                .get(&format!("/api/v1/runs/{}", urlencode(&id)))
                .await?;
            print_or(&client, &v, run_text)
        }
        RunsCommand::Move {
            id,
            action,
            note,
            client,
        } => {
            let v = Client::new(&client)?
                .send(
                    Method::POST,
                    &format!("/api/v1/runs/{}/moves", urlencode(&id)),
                    Some(json!({"move": action, "note": note})),
                )
                .await?;
            print_or(&client, &v, run_text)
        }
        RunsCommand::Output { id, step, client } => {
            let index = step.checked_sub(1).context("steps are counted from 1")?;
            let text = Client::new(&client)?
                .get_text(&format!(
                    "/api/v1/runs/{}/steps/{index}/output",
                    urlencode(&id)
                ))
                .await?;
            print!("{text}");
            Ok(())
        }
    }
}

pub async fn secrets(cmd: SecretsCommand) -> anyhow::Result<()> {
    match cmd {
        SecretsCommand::List { client } => {
            let v = Client::new(&client)?.get("/api/v1/secrets").await?;
            print_or(&client, &v, |v| table(v, &["name", "updated_at"]))
        }
        SecretsCommand::Set { name, client } => {
            let mut value = String::new();
            std::io::stdin()
                .read_to_string(&mut value)
                .context("read the value from standard input")?;
            let value = value.strip_suffix('\n').unwrap_or(&value).to_owned();
            Client::new(&client)?
                .send(
                    Method::PUT,
                    &format!("/api/v1/secrets/{}", urlencode(&name)),
                    Some(json!({"value": value})),
                )
                .await?;
            println!("set {name}");
            Ok(())
        }
        SecretsCommand::Delete { name, client } => {
            Client::new(&client)?
                .send(
                    Method::DELETE,
                    &format!("/api/v1/secrets/{}", urlencode(&name)),
                    None,
                )
                .await?;
            println!("removed {name}");
            Ok(())
        }
    }
}
