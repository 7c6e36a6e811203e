//! Client commands for runbooks: list, show, create and save from files, versions, diff,
//! restore, delete, check, and sync a directory of Markdown files (a git checkout, say).
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};

use super::services_cli::urlencode;
use super::{Client, ClientArgs, print_or, table};

#[derive(Subcommand)]
pub enum RunbooksCommand {
    /// Every runbook, by name.
    List {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// One runbook: where it applies, its parameters and steps (--source: its Markdown).
    Show {
        /// Its name or id.
        runbook: String,
        /// Print the latest version's source instead.
        #[arg(long)]
        source: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// A new runbook from a Markdown file ("-" for standard input), as version 1.
    Create {
        file: PathBuf,
        /// What this version is for.
        #[arg(short, long, default_value = "")]
        message: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// A new version of a runbook from a Markdown file ("-" for standard input); the same
    /// text as the latest version writes nothing.
    Save {
        /// Its name or id.
        runbook: String,
        file: PathBuf,
        #[arg(short, long, default_value = "")]
        message: String,
        /// Refuse if the latest version is not this one (someone saved meanwhile).
        #[arg(long)]
        base_version: Option<i32>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Check a Markdown file without saving it: what it says, or where it is wrong.
    Check {
        file: PathBuf,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// A runbook's versions, newest first.
    Versions {
        runbook: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// The lines two versions differ by (default: the latest and the one before).
    Diff {
        runbook: String,
        #[arg(long)]
        from: Option<i32>,
        #[arg(long)]
        to: Option<i32>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Save an old version's text again as the newest version.
    Restore {
        runbook: String,
        version: i32,
        #[arg(short, long, default_value = "")]
        message: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Remove a runbook and all its versions (admin).
    Delete {
        runbook: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Import every *.md file under DIR as runbooks, by name (the front matter's, else the
    /// file's): new ones created, changed ones saved as new versions, the rest left. Says
    /// what changed; run again, it changes nothing.
    Sync {
        dir: PathBuf,
        #[arg(short, long, default_value = "")]
        message: String,
        /// Say what would change; write nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
}

fn path(runbook: &str) -> String {
    format!("/api/v1/runbooks/{}", urlencode(runbook))
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

/// The `*.md` files under `dir`, by path (sorted, so the report's order is stable).
fn markdown_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| format!("read {}", d.display()))? {
            let p = entry?.path();
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if name.starts_with('.') {
                continue; // .git and other hidden folders
            }
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|e| e == "md") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn saved(v: &Value) -> String {
    format!(
        "{} {} (version {})",
        v["outcome"].as_str().unwrap_or(""),
        v["runbook"]["name"].as_str().unwrap_or(""),
        v["runbook"]["version"]
    )
}

/// What a runbook's source says, in lines.
fn described(p: &Value) -> String {
    let mut out = format!(
        "{} ({})",
        p["title"].as_str().unwrap_or(""),
        p["name"].as_str().unwrap_or("")
    );
    let list = |k: &str| -> Vec<String> {
        p[k].as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect()
    };
    let services = list("services");
    if !services.is_empty() {
        out += &format!("\nservices:   {}", services.join(", "));
    }
    for m in p["matchers"].as_array().into_iter().flatten() {
        let parts: Vec<String> = m
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| format!("{k} = {}", v.as_str().unwrap_or("")))
            .collect();
        out += &format!("\nalerts:     {}", parts.join(" and "));
    }
    for prm in p["params"].as_array().into_iter().flatten() {
        out += &format!(
            "\nparameter:  {} ({}{}){}",
            prm["name"].as_str().unwrap_or(""),
            prm["type"].as_str().unwrap_or(""),
            if prm["required"] == true {
                ", required"
            } else {
                ""
            },
            prm["default"]
                .as_str()
                .map_or(String::new(), |d| format!(" default {d}"))
        );
    }
    out += "\nsteps:";
    for s in p["steps"].as_array().into_iter().flatten() {
        out += &format!(
            "\n  {:>2}. {:<9} {}",
            s["number"],
            s["kind"].as_str().unwrap_or(""),
            s["title"].as_str().unwrap_or("")
        );
    }
    out
}

fn synced(v: &Value) -> String {
    let mut lines: Vec<String> = v["files"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            format!(
                "{:<9} {} ({}, version {})",
                f["outcome"].as_str().unwrap_or(""),
                f["name"].as_str().unwrap_or(""),
                f["path"].as_str().unwrap_or(""),
                f["version"]
            )
        })
        .collect();
    if lines.is_empty() {
        lines.push("no *.md files".into());
    }
    if v["dry_run"] == true {
        lines.push("dry run: nothing was written".into());
    }
    lines.join("\n")
}

pub async fn runbooks(cmd: RunbooksCommand) -> anyhow::Result<()> {
    match cmd {
        RunbooksCommand::List { client } => {
            let v = Client::new(&client)?.get("/api/v1/runbooks").await?;
            print_or(&client, &v, |v| {
                table(v, &["name", "title", "version", "has_commands", "id"])
            })
        }
        RunbooksCommand::Show {
            runbook,
            source,
            client,
        } => {
            let v = Client::new(&client)?.get(&path(&runbook)).await?;
            if source && !client.json {
                print!("{}", v["source"].as_str().unwrap_or(""));
                return Ok(());
            }
            print_or(&client, &v, |v| {
                format!(
                    "{}\nversion:    {} ({})\n{}",
                    v["id"].as_str().unwrap_or(""),
                    v["version"],
                    v["digest"].as_str().unwrap_or(""),
                    described(&v["parsed"])
                )
            })
        }
        RunbooksCommand::Create {
            file,
            message,
            client,
        } => {
            let body = json!({"source": read(&file)?, "message": message});
            let v = Client::new(&client)?
                .send(Method::POST, "/api/v1/runbooks", Some(body))
                .await?;
            print_or(&client, &v, saved)
        }
        RunbooksCommand::Save {
            runbook,
            file,
            message,
            base_version,
            client,
        } => {
            let body =
                json!({"source": read(&file)?, "message": message, "base_version": base_version});
            let v = Client::new(&client)?
                .send(Method::PUT, &path(&runbook), Some(body))
                .await?;
            print_or(&client, &v, saved)
        }
        RunbooksCommand::Check { file, client } => {
            let body = json!({"source": read(&file)?});
            let v = Client::new(&client)?
                .send(Method::POST, "/api/v1/runbooks/check", Some(body))
                .await?;
            print_or(&client, &v, |v| format!("ok: {}", described(&v["parsed"])))
        }
        RunbooksCommand::Versions { runbook, client } => {
            let v = Client::new(&client)?
                .get(&format!("{}/versions", path(&runbook)))
                .await?;
            print_or(&client, &v, |v| {
                table(v, &["version", "created_at", "author", "message"])
            })
        }
        RunbooksCommand::Diff {
            runbook,
            from,
            to,
            client,
        } => {
            let mut q = Vec::new();
            if let Some(f) = from {
                q.push(format!("from={f}"));
            }
            if let Some(t) = to {
                q.push(format!("to={t}"));
            }
            let p = format!("{}/diff?{}", path(&runbook), q.join("&"));
            let v = Client::new(&client)?.get(&p).await?;
            print_or(&client, &v, |v| {
                let mut out = format!("--- version {}\n+++ version {}", v["from"], v["to"]);
                for l in v["lines"].as_array().into_iter().flatten() {
                    let mark = match l["op"].as_str() {
                        Some("added") => '+',
                        Some("removed") => '-',
                        _ => ' ',
                    };
                    out += &format!("\n{mark}{}", l["text"].as_str().unwrap_or(""));
                }
                out
            })
        }
        RunbooksCommand::Restore {
            runbook,
            version,
            message,
            client,
        } => {
            let v = Client::new(&client)?
                .send(
                    Method::POST,
                    &format!("{}/versions/{version}/restore", path(&runbook)),
                    Some(json!({"message": message})),
                )
                .await?;
            print_or(&client, &v, saved)
        }
        RunbooksCommand::Delete { runbook, client } => {
            Client::new(&client)?
                .send(Method::DELETE, &path(&runbook), None)
                .await?;
            println!("deleted {runbook}");
            Ok(())
        }
        RunbooksCommand::Sync {
            dir,
            message,
            dry_run,
            client,
        } => {
            let mut files = Vec::new();
            for p in markdown_files(&dir)? {
                let rel = p.strip_prefix(&dir).unwrap_or(&p).display().to_string();
                files.push(json!({"path": rel, "source": read(&p)?}));
            }
            let body = json!({"files": files, "message": message, "dry_run": dry_run});
            let v = Client::new(&client)?
                .send(Method::POST, "/api/v1/runbooks/sync", Some(body))
                .await?;
            print_or(&client, &v, synced)
        }
    }
}
