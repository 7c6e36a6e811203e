//! `klaxon status-pages subscribers …`: who is told of a page's incidents and maintenance
//! (admins). E-mail addresses added here are sent a confirmation e-mail first, like those that
//! sign up on the page; webhooks are notified at once.
use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};

use super::{page_path, when, words};
use crate::services_cli::urlencode;
use crate::{Client, ClientArgs, print_or, table};

#[derive(Subcommand)]
pub enum SubscribersCommand {
    /// A page's subscribers.
    List {
        /// The page: its slug, name or id.
        page: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Add an e-mail address (sent a confirmation e-mail) or a webhook URL.
    Add {
        /// The page: its slug, name or id.
        page: String,
        /// An e-mail address, or an http(s) URL with --webhook.
        address: String,
        /// The address is a webhook URL: Statuspage-shaped JSON is POSTed to it.
        #[arg(long)]
        webhook: bool,
        /// Only this component (name or code; a group means its members); repeat it. None:
        /// every component.
        #[arg(long = "component")]
        components: Vec<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// One subscriber and its latest notices.
    Show {
        /// The page: its slug, name or id.
        page: String,
        /// The subscriber: its address or id.
        subscriber: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Change the components a subscriber follows.
    Update {
        /// The page: its slug, name or id.
        page: String,
        /// The subscriber: its address or id.
        subscriber: String,
        /// Only this component (name or code); repeat it.
        #[arg(long = "component", required_unless_present = "all_components")]
        components: Vec<String>,
        /// Every component.
        #[arg(long, conflicts_with = "components")]
        all_components: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Remove a subscriber; its unsent notices go with it.
    Remove {
        /// The page: its slug, name or id.
        page: String,
        /// The subscriber: its address or id.
        subscriber: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

fn path(page: &str, subscriber: &str) -> String {
    page_path(page, &format!("/subscribers/{}", urlencode(subscriber)))
}

fn row(s: &Value) -> Value {
    let comps = s["components"].as_array().map_or(0, Vec::len);
    json!({
        "address": s["address"],
        "kind": s["kind"],
        "components": if s["all_components"] == true { "all".to_owned() } else { comps.to_string() },
        "confirmed": if s["confirmed"] == true { "yes" } else { "not yet" },
        "since": when(&s["created_at"]),
    })
}

const COLS: &[&str] = &["address", "kind", "components", "confirmed", "since"];

fn one(s: &Value) -> String {
    let comps: Vec<String> = s["components"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c.as_str().map(str::to_owned))
        .collect();
    format!(
        "{} subscriber {}\ncomponents: {}\nconfirmed:  {}\nsince:      {}\nid:         {}",
        s["kind"].as_str().unwrap_or(""),
        s["address"].as_str().unwrap_or(""),
        if s["all_components"] == true {
            "all".to_owned()
        } else {
            comps.join(", ")
        },
        if s["confirmed"] == true {
            when(&s["confirmed_at"])
        } else {
            "not yet (waiting for the owner to follow the e-mailed link)".to_owned()
        },
        when(&s["created_at"]),
        s["id"].as_str().unwrap_or(""),
    )
}

pub async fn subscribers(cmd: SubscribersCommand) -> anyhow::Result<()> {
    match cmd {
        SubscribersCommand::List { page, client } => {
            let v = Client::new(&client)?
                .get(&page_path(&page, "/subscribers"))
                .await?;
            print_or(&client, &v, |v| {
                if v.as_array().is_none_or(Vec::is_empty) {
                    return "no subscribers".into();
                }
                let rows: Vec<Value> = v.as_array().into_iter().flatten().map(row).collect();
                table(&Value::Array(rows), COLS)
            })
        }
        SubscribersCommand::Add {
            page,
            address,
            webhook,
            components,
            client,
        } => {
            let kind = if webhook { "webhook" } else { "email" };
            let body = json!({"kind": kind, "address": address, "components": components});
            let v = Client::new(&client)?
                .send(Method::POST, &page_path(&page, "/subscribers"), Some(body))
                .await?;
            print_or(&client, &v, |v| {
                let mut out = format!("added {}", one(v));
                if v["confirmed"] != true {
                    out.push_str("\na confirmation e-mail is on its way; nothing else is sent until it is followed");
                }
                out
            })
        }
        SubscribersCommand::Show {
            page,
            subscriber,
            client,
        } => {
            let v = Client::new(&client)?.get(&path(&page, &subscriber)).await?;
            print_or(&client, &v, |v| {
                let rows: Vec<Value> = v["notices"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|n| {
                        json!({
                            "notice": n["kind"],
                            "status": words(&n["status"]),
                            "attempts": n["attempts"],
                            "queued": when(&n["created_at"]),
                            "sent": when(&n["sent_at"]),
                            "error": n["last_error"].as_str().unwrap_or(""),
                        })
                    })
                    .collect();
                let notices = if rows.is_empty() {
                    "no notices yet".to_owned()
                } else {
                    table(
                        &Value::Array(rows),
                        &["notice", "status", "attempts", "queued", "sent", "error"],
                    )
                };
                format!("{}\n\n{notices}", one(v))
            })
        }
        SubscribersCommand::Update {
            page,
            subscriber,
            components,
            all_components: _,
            client,
        } => {
            let v = Client::new(&client)?
                .send(
                    Method::PATCH,
                    &path(&page, &subscriber),
                    Some(json!({"components": components})),
                )
                .await?;
            print_or(&client, &v, |v| format!("updated {}", one(v)))
        }
        SubscribersCommand::Remove {
            page,
            subscriber,
            client,
        } => {
            Client::new(&client)?
                .send(Method::DELETE, &path(&page, &subscriber), None)
                .await?;
            print_or(&client, &json!({"deleted": subscriber}), |_| {
                format!("removed {subscriber}")
            })
        }
    }
}
