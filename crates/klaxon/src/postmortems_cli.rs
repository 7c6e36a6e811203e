//! Client commands for postmortems: list and search, show, start one for a resolved incident,
//! write sections (from a file or stdin) and factors, review (comment, submit, approve) and
//! publish, and export as Markdown. A postmortem is named by its id or its incident's number.
use std::io::Read as _;

use anyhow::{Context as _, bail};
use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};

use super::services_cli::urlencode;
use super::{Client, ClientArgs, print_or, table};

#[derive(Subcommand)]
pub enum PostmortemsCommand {
    /// Postmortems newest first.
    List {
        /// draft, in_review or published.
        #[arg(long)]
        state: Option<String>,
        /// Text in the incident's title or a section.
        #[arg(long)]
        search: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// One postmortem: its state, people, sections and factors.
    Show {
        /// The postmortem's id, or its incident's number or id.
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Start the postmortem of a resolved incident; you own it.
    Create {
        /// The incident: its number or id.
        incident: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Write sections, or set the owner, reviewers or due date.
    Edit {
        id: String,
        /// The section to write (summary, customer_impact, lessons, …).
        #[arg(long, requires = "file")]
        section: Option<String>,
        /// Where its text is: a file, or - for stdin.
        #[arg(long)]
        file: Option<String>,
        /// The owner: an e-mail address or user id.
        #[arg(long)]
        owner: Option<String>,
        /// Reviewers (replacing the list): e-mail addresses or ids, comma-separated.
        #[arg(long = "reviewer", value_delimiter = ',')]
        reviewers: Vec<String>,
        /// When it is due (RFC 3339), or "none".
        #[arg(long)]
        due: Option<String>,
        /// Where the public summary for the status page is: a file, or - for stdin.
        #[arg(long)]
        public_summary_file: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Replace the contributing factors: each KIND:TEXT, KIND being trigger, contributing or
    /// mitigating. None clears them.
    Factors {
        id: String,
        #[arg(long = "factor")]
        factors: Vec<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Submit a draft for review.
    Submit {
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Approve a postmortem in review (a reviewer other than its owner).
    Approve {
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Comment on a section.
    Comment {
        id: String,
        #[arg(long)]
        section: String,
        #[arg(long)]
        text: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Publish: the owner after an approval, or an admin with --reason.
    Publish {
        id: String,
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Put a published postmortem's public summary on its incident's status-page incidents.
    Attach {
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Print the postmortem as Markdown.
    Export {
        id: String,
        /// Markdown (the only format for now).
        #[arg(long)]
        markdown: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
}

fn path(id: &str) -> String {
    format!("/api/v1/postmortems/{}", urlencode(id))
}

const COLS: &[&str] = &["id", "incident", "title", "severity", "state", "due_at"];

fn rows(items: &Value) -> Value {
    items
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            json!({
                "id": p["id"], "incident": format!("#{}", p["incident_number"]),
                "title": p["incident_title"], "severity": p["severity"],
                "state": p["state"], "due_at": p["due_at"],
            })
        })
        .collect()
}

fn text(v: &Value) -> String {
    let s = |v: &Value| v.as_str().unwrap_or("-").to_owned();
    let i = &v["facts"]["incident"];
    let mut out = format!(
        "postmortem {} of incident #{}: {}\nstate:     {}\nrequired:  {}\nowner:     {}\ndue:       {}\nreviewers: {}\n",
        s(&v["id"]),
        i["number"],
        s(&i["title"]),
        s(&v["state"]),
        if v["required"] == true { "yes" } else { "no" },
        s(&v["owner_id"]),
        s(&v["due_at"]),
        v["reviewers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                let ok = if r["approved_at"].is_null() {
                    ""
                } else {
                    " (approved)"
                };
                format!("{}{ok}", s(&r["user_id"]))
            })
            .collect::<Vec<_>>()
            .join(", "),
    );
    for sec in v["sections"].as_array().into_iter().flatten() {
        out.push_str(&format!("\n## {} [{}]\n", s(&sec["title"]), s(&sec["key"])));
        let body = sec["body"].as_str().unwrap_or_default();
        out.push_str(if body.is_empty() {
            "(not written)"
        } else {
            body
        });
        out.push('\n');
    }
    let factors: Vec<String> = v["factors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| format!("- {}: {}", s(&f["kind"]), s(&f["text"])))
        .collect();
    if !factors.is_empty() {
        out.push_str(&format!("\nfactors:\n{}\n", factors.join("\n")));
    }
    let summary = v["public_summary"].as_str().unwrap_or_default();
    out.push_str("\npublic summary:\n");
    out.push_str(if summary.is_empty() {
        "(not written)"
    } else {
        summary
    });
    out.push('\n');
    out.push_str(&public_text(&v["public_incidents"]));
    out
}

/// The status-page incidents of the postmortem's incident, and whether each shows it.
fn public_text(list: &Value) -> String {
    let lines: Vec<String> = list
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            let shown = match i["postmortem_published_at"].as_str() {
                Some(at) => format!("shows the postmortem since {at}"),
                None => "does not show the postmortem".into(),
            };
            format!(
                "- {} {} ({}): {shown}",
                i["page"].as_str().unwrap_or("-"),
                i["code"].as_str().unwrap_or("-"),
                i["name"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    if lines.is_empty() {
        "status page: no status-page incident\n".into()
    } else {
        format!("status page:\n{}\n", lines.join("\n"))
    }
}

fn read_input(file: &str) -> anyhow::Result<String> {
    let mut t = String::new();
    if file == "-" {
        std::io::stdin()
            .read_to_string(&mut t)
            .context("read stdin")?;
    } else {
        t = std::fs::read_to_string(file).with_context(|| format!("read {file}"))?;
    }
    Ok(t.trim_end().to_owned())
}

async fn post(client: &ClientArgs, p: String, body: Value) -> anyhow::Result<()> {
    let v = Client::new(client)?
        .send(Method::POST, &p, Some(body))
        .await?;
    print_or(client, &v, text)
}

pub async fn postmortems(cmd: PostmortemsCommand) -> anyhow::Result<()> {
    use PostmortemsCommand as C;
    match cmd {
        C::List {
            state,
            search,
            client,
        } => {
            let mut q = vec!["limit=500".to_owned()];
            if let Some(s) = state {
                q.push(format!("state={}", urlencode(&s)));
            }
            if let Some(s) = search {
                q.push(format!("q={}", urlencode(&s)));
            }
            let v = Client::new(&client)?
                .get(&format!("/api/v1/postmortems?{}", q.join("&")))
                .await?;
            print_or(&client, &v, |v| table(&rows(&v["items"]), COLS))
        }
        C::Show { id, client } => {
            let v = Client::new(&client)?.get(&path(&id)).await?;
            print_or(&client, &v, text)
        }
        C::Create { incident, client } => {
            post(
                &client,
                "/api/v1/postmortems".into(),
                json!({"incident_id": incident}),
            )
            .await
        }
        C::Edit {
            id,
            section,
            file,
            owner,
            reviewers,
            due,
            public_summary_file,
            client,
        } => {
            let mut body = json!({});
            if file.as_deref() == Some("-") && public_summary_file.as_deref() == Some("-") {
                bail!("only one of --file and --public-summary-file can be - (stdin)");
            }
            if let (Some(section), Some(file)) = (section, file) {
                body["sections"] = json!({ section: read_input(&file)? });
            }
            if let Some(f) = public_summary_file {
                body["public_summary"] = read_input(&f)?.into();
            }
            if let Some(o) = owner {
                body["owner_id"] = o.into();
            }
            if !reviewers.is_empty() {
                body["reviewers"] = reviewers.into();
            }
            if let Some(d) = due {
                body["due_at"] = if d == "none" { Value::Null } else { d.into() };
            }
            if body.as_object().is_some_and(|o| o.is_empty()) {
                bail!(
                    "nothing to change: pass --section with --file, --owner, --reviewer, --due or --public-summary-file"
                );
            }
            let v = Client::new(&client)?
                .send(Method::PATCH, &path(&id), Some(body))
                .await?;
            print_or(&client, &v, text)
        }
        C::Factors {
            id,
            factors,
            client,
        } => {
            let mut list = Vec::new();
            for f in &factors {
                let Some((kind, t)) = f.split_once(':') else {
                    bail!(
                        "--factor {f:?}: write KIND:TEXT, e.g. trigger:a deploy flushed the cache"
                    );
                };
                list.push(json!({"kind": kind.trim(), "text": t.trim()}));
            }
            let v = Client::new(&client)?
                .send(Method::PATCH, &path(&id), Some(json!({"factors": list})))
                .await?;
            print_or(&client, &v, text)
        }
        C::Submit { id, client } => post(&client, format!("{}/submit", path(&id)), json!({})).await,
        C::Approve { id, client } => {
            post(&client, format!("{}/approve", path(&id)), json!({})).await
        }
        C::Comment {
            id,
            section,
            text: t,
            client,
        } => {
            post(
                &client,
                format!("{}/comments", path(&id)),
                json!({"section": section, "body": t}),
            )
            .await
        }
        C::Publish { id, reason, client } => {
            post(
                &client,
                format!("{}/publish", path(&id)),
                json!({"reason": reason}),
            )
            .await
        }
        C::Attach { id, client } => {
            let v = Client::new(&client)?
                .send(
                    Method::POST,
                    &format!("{}/status-page", path(&id)),
                    Some(json!({})),
                )
                .await?;
            print_or(&client, &v, |v| public_text(&v["items"]))
        }
        C::Export {
            id,
            markdown: _,
            client,
        } => {
            let md = Client::new(&client)?
                .get_text(&format!("{}/export.md", path(&id)))
                .await?;
            print!("{md}");
            Ok(())
        }
    }
}
