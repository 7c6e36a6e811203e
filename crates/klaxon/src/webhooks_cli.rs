//! Client commands for outgoing webhooks (admin): other tools follow incidents through signed
//! HTTP posts; the deliveries say what was sent and what the receivers answered.
use anyhow::bail;
use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};

use super::services_cli::urlencode;
use super::{Client, ClientArgs, id_and_name, more, paged, print_or, table};

#[derive(Subcommand)]
pub enum WebhooksCommand {
    /// Every webhook.
    List {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Create a webhook; it receives incident events written from now on. Its signing secret
    /// is printed once.
    Create {
        #[arg(long)]
        name: String,
        /// The URL to post to (http:// or https://). `--url` is the Klaxon server's own.
        #[arg(long)]
        address: String,
        /// An event kind (incident.resolved) or a prefix ending in a dot (incident.); repeat it
        /// or separate with commas. None: every incident event.
        #[arg(long = "event", value_delimiter = ',')]
        events: Vec<String>,
        /// Create it switched off: nothing is queued for it until it is enabled.
        #[arg(long)]
        disabled: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// One webhook (its secret is never shown again).
    Show {
        /// The webhook: its name or id.
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Change a webhook; options left out keep their value (--event replaces all events).
    Update {
        /// The webhook: its name or id.
        id: String,
        #[arg(long)]
        name: Option<String>,
        /// The URL to post to.
        #[arg(long)]
        address: Option<String>,
        /// An event kind or a prefix ending in a dot; repeat it or separate with commas.
        #[arg(long = "event", value_delimiter = ',')]
        events: Vec<String>,
        /// Receive every incident event again.
        #[arg(long, conflicts_with = "events")]
        all_events: bool,
        /// Start queueing deliveries again.
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        /// Stop queueing new deliveries (queued ones still go).
        #[arg(long)]
        disable: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Delete a webhook and its deliveries.
    Delete {
        /// The webhook: its name or id.
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// A webhook's latest deliveries, newest first.
    /// A webhook's deliveries, newest first, a page at a time.
    Deliveries {
        /// The webhook: its name or id.
        id: String,
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        cursor: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
}

fn path(id: &str) -> String {
    format!("/api/v1/webhooks/{}", urlencode(id))
}

fn events_text(v: &Value) -> String {
    let kinds: Vec<&str> = v
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if kinds.is_empty() {
        "all incident events".to_owned()
    } else {
        kinds.join(", ")
    }
}

fn yes_no(v: &Value) -> &'static str {
    if v == true { "yes" } else { "no" }
}

const WEBHOOK_COLS: &[&str] = &["id", "name", "url", "events", "enabled"];

/// Webhooks as table rows: events joined, enabled as yes/no.
fn webhook_rows(items: &Value) -> Value {
    items
        .as_array()
        .into_iter()
        .flatten()
        .map(|w| {
            json!({
                "id": w["id"], "name": w["name"], "url": w["url"],
                "events": events_text(&w["events"]), "enabled": yes_no(&w["enabled"]),
            })
        })
        .collect()
}

fn webhook_text(v: &Value) -> String {
    let s = |k: &str| v[k].as_str().unwrap_or("-").to_owned();
    format!(
        "webhook {} ({})\n\
         url:      {}\n\
         events:   {}\n\
         enabled:  {}\n\
         created:  {}\n\
         updated:  {}",
        s("name"),
        s("id"),
        s("url"),
        events_text(&v["events"]),
        yes_no(&v["enabled"]),
        s("created_at"),
        s("updated_at"),
    )
}

const DELIVERY_COLS: &[&str] = &[
    "seq",
    "kind",
    "status",
    "attempts",
    "response",
    "last_error",
];

fn delivery_rows(items: &Value) -> Value {
    items
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            json!({
                "seq": d["event_seq"], "kind": d["kind"], "status": d["status"],
                "attempts": d["attempts"], "response": d["response_status"],
                "last_error": d["last_error"],
            })
        })
        .collect()
}

pub async fn webhooks(cmd: WebhooksCommand) -> anyhow::Result<()> {
    match cmd {
        WebhooksCommand::List { client } => {
            let v = Client::new(&client)?.get_all("/api/v1/webhooks").await?;
            print_or(&client, &v, |v| {
                table(&webhook_rows(&v["items"]), WEBHOOK_COLS)
            })
        }
        WebhooksCommand::Create {
            name,
            address,
            events,
            disabled,
            client,
        } => {
            let body =
                json!({"name": name, "url": address, "events": events, "enabled": !disabled});
            let v = Client::new(&client)?
                .send(Method::POST, "/api/v1/webhooks", Some(body))
                .await?;
            print_or(&client, &v, |v| {
                format!(
                    "{}\n\nsigning secret: {}\nShown only now: deliveries carry X-Klaxon-Signature, v1=HMAC-SHA256(secret, \"v1:\" + X-Klaxon-Timestamp + \":\" + body).",
                    webhook_text(v),
                    v["secret"].as_str().unwrap_or("")
                )
            })
        }
        WebhooksCommand::Show { id, client } => {
            let v = Client::new(&client)?.get(&path(&id)).await?;
            print_or(&client, &v, webhook_text)
        }
        WebhooksCommand::Update {
            id,
            name,
            address,
            events,
            all_events,
            enable,
            disable,
            client,
        } => {
            let mut body = json!({});
            if let Some(n) = name {
                body["name"] = n.into();
            }
            if let Some(a) = address {
                body["url"] = a.into();
            }
            if all_events {
                body["events"] = json!([]);
            } else if !events.is_empty() {
                body["events"] = events.into();
            }
            if enable || disable {
                body["enabled"] = enable.into();
            }
            if body.as_object().is_some_and(|o| o.is_empty()) {
                bail!(
                    "nothing to change: pass --name, --address, --event, --all-events, --enable or --disable"
                );
            }
            let v = Client::new(&client)?
                .send(Method::PATCH, &path(&id), Some(body))
                .await?;
            print_or(&client, &v, webhook_text)
        }
        WebhooksCommand::Delete { id, client } => {
            let c = Client::new(&client)?;
            let (id, name) = id_and_name(&c, &path(&id)).await?;
            c.send(Method::DELETE, &path(&id), None).await?;
            print_or(&client, &json!({"deleted": id}), |_| {
                format!("deleted webhook {name} ({id})")
            })
        }
        WebhooksCommand::Deliveries {
            id,
            limit,
            cursor,
            client,
        } => {
            let page = paged(
                &format!("{}/deliveries", path(&id)),
                limit,
                cursor.as_deref(),
            );
            let v = Client::new(&client)?.get(&page).await?;
            print_or(&client, &v, |v| {
                more(table(&delivery_rows(&v["items"]), DELIVERY_COLS), v)
            })
        }
    }
}
