//! Client commands for uptime checks: list, add (admin), show, update (admin), delete (admin),
//! and a check's latest results. Services are named as people call them (name or id).
use anyhow::bail;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::services_cli::urlencode;
use super::{Client, ClientArgs, id_and_name, more, paged, print_or, table};

/// What a check does: the settings `add` and `update` share.
#[derive(Args)]
pub struct CheckSettings {
    /// http://…, https://… or tcp://host:port. `--url` is the Klaxon server's own.
    #[arg(long)]
    address: Option<String>,
    /// GET (default), HEAD, POST, PUT, PATCH, DELETE or OPTIONS.
    #[arg(long)]
    method: Option<String>,
    /// A request header, `Name: value`; repeat it (update: replaces them all).
    #[arg(long = "header")]
    headers: Vec<String>,
    /// The request's body.
    #[arg(long)]
    body: Option<String>,
    /// A condition, all must hold: `[STATUS] == 200`, `[BODY].status == UP`,
    /// `[RESPONSE_TIME] < 300`, `[CERTIFICATE_EXPIRATION] > 7d`, `[CONNECTED] == true`;
    /// repeat it (update: replaces them all).
    #[arg(long = "condition")]
    conditions: Vec<String>,
    /// Seconds between runs, 20 or more (default 60).
    #[arg(long)]
    interval: Option<u32>,
    /// Milliseconds to wait for an answer (default 10000, at most 30000).
    #[arg(long)]
    timeout_ms: Option<u32>,
    /// Failed runs in a row that make it down (default 3).
    #[arg(long)]
    failure_threshold: Option<u32>,
    /// Successful runs in a row that make it up again (default 2).
    #[arg(long)]
    success_threshold: Option<u32>,
}

impl CheckSettings {
    fn into_body(self, body: &mut Map<String, Value>) -> anyhow::Result<()> {
        if let Some(a) = self.address {
            body.insert("url".into(), a.into());
        }
        if let Some(m) = self.method {
            body.insert("method".into(), m.into());
        }
        if !self.headers.is_empty() {
            let mut h = Map::new();
            for line in &self.headers {
                let Some((k, v)) = line.split_once(':') else {
                    bail!("--header {line:?}: write it as 'Name: value'");
                };
                h.insert(k.trim().to_owned(), v.trim().into());
            }
            body.insert("headers".into(), h.into());
        }
        if let Some(b) = self.body {
            body.insert("body".into(), b.into());
        }
        if !self.conditions.is_empty() {
            body.insert("conditions".into(), self.conditions.into());
        }
        for (k, v) in [
            ("interval_secs", self.interval),
            ("timeout_ms", self.timeout_ms),
            ("failure_threshold", self.failure_threshold),
            ("success_threshold", self.success_threshold),
        ] {
            if let Some(v) = v {
                body.insert(k.into(), v.into());
            }
        }
        Ok(())
    }
}

#[derive(Subcommand)]
pub enum ChecksCommand {
    /// Every check, or one service's.
    List {
        /// Only this service's checks: its name or id.
        #[arg(long)]
        service: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Add a check (admin); its first run is due at once.
    Add {
        #[arg(long)]
        name: String,
        /// The service whose alert it raises: its name or id.
        #[arg(long)]
        service: String,
        #[command(flatten)]
        settings: CheckSettings,
        /// Add it switched off.
        #[arg(long)]
        disabled: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// One check: its settings and where it stands.
    Show {
        /// The check: its name or id.
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Change a check (admin); options left out keep their value.
    Update {
        /// The check: its name or id.
        id: String,
        #[arg(long)]
        name: Option<String>,
        /// Move it to another service: its name or id.
        #[arg(long)]
        service: Option<String>,
        #[command(flatten)]
        settings: CheckSettings,
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        #[arg(long)]
        disable: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Delete a check with its results (admin); its alert, if open, is resolved.
    Delete {
        /// The check: its name or id.
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// A check's results, newest first, a page at a time (kept 7 days).
    Results {
        /// The check: its name or id.
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
    format!("/api/v1/checks/{}", urlencode(id))
}

const CHECK_COLS: &[&str] = &["id", "name", "url", "state", "last_run_at"];

fn check_rows(items: &Value) -> Value {
    items
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let state = if c["enabled"] == true {
                c["state"].clone()
            } else {
                "off".into()
            };
            json!({"id": c["id"], "name": c["name"], "url": c["url"], "state": state,
                   "last_run_at": c["last_run_at"]})
        })
        .collect()
}

fn check_text(v: &Value) -> String {
    let s = |k: &str| match &v[k] {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    };
    let list = |k: &str| {
        v[k].as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("; ")
    };
    let state = if v["enabled"] == true {
        s("state")
    } else {
        "off".into()
    };
    format!(
        "check {} ({})\n\
         service:     {}\n\
         url:         {} {}\n\
         conditions:  {}\n\
         every:       {} s (timeout {} ms); down after {} failures, up after {} successes\n\
         state:       {} since {} ({} failures, {} successes in a row)\n\
         last run:    {}",
        s("name"),
        s("id"),
        s("service_id"),
        s("method"),
        s("url"),
        list("conditions"),
        s("interval_secs"),
        s("timeout_ms"),
        s("failure_threshold"),
        s("success_threshold"),
        state,
        s("state_since"),
        s("failures"),
        s("successes"),
        s("last_run_at"),
    )
}

const RESULT_COLS: &[&str] = &["at", "ok", "status", "ms", "reason"];

fn result_rows(items: &Value) -> Value {
    items
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            json!({"at": r["at"], "ok": if r["ok"] == true { "passed" } else { "failed" },
                   "status": r["status"], "ms": r["response_ms"], "reason": r["reason"]})
        })
        .collect()
}

pub async fn checks(cmd: ChecksCommand) -> anyhow::Result<()> {
    match cmd {
        ChecksCommand::List { service, client } => {
            let p = match service {
                Some(s) => format!("/api/v1/checks?service={}", urlencode(&s)),
                None => "/api/v1/checks".into(),
            };
            let v = Client::new(&client)?.get_all(&p).await?;
            print_or(&client, &v, |v| table(&check_rows(&v["items"]), CHECK_COLS))
        }
        ChecksCommand::Add {
            name,
            service,
            settings,
            disabled,
            client,
        } => {
            let mut body = Map::new();
            body.insert("name".into(), name.into());
            body.insert("service".into(), service.into());
            body.insert("enabled".into(), (!disabled).into());
            if settings.address.is_none() {
                bail!("--address is required: http://…, https://… or tcp://host:port");
            }
            settings.into_body(&mut body)?;
            let v = Client::new(&client)?
                .send(Method::POST, "/api/v1/checks", Some(body.into()))
                .await?;
            print_or(&client, &v, check_text)
        }
        ChecksCommand::Show { id, client } => {
            let v = Client::new(&client)?.get(&path(&id)).await?;
            print_or(&client, &v, check_text)
        }
        ChecksCommand::Update {
            id,
            name,
            service,
            settings,
            enable,
            disable,
            client,
        } => {
            let mut body = Map::new();
            if let Some(n) = name {
                body.insert("name".into(), n.into());
            }
            if let Some(s) = service {
                body.insert("service".into(), s.into());
            }
            if enable || disable {
                body.insert("enabled".into(), enable.into());
            }
            settings.into_body(&mut body)?;
            if body.is_empty() {
                bail!(
                    "nothing to change: pass --name, --service, --address, --condition, --interval, … or --enable/--disable"
                );
            }
            let v = Client::new(&client)?
                .send(Method::PATCH, &path(&id), Some(body.into()))
                .await?;
            print_or(&client, &v, check_text)
        }
        ChecksCommand::Delete { id, client } => {
            let c = Client::new(&client)?;
            let (id, name) = id_and_name(&c, &path(&id)).await?;
            c.send(Method::DELETE, &path(&id), None).await?;
            print_or(&client, &json!({"deleted": id}), |_| {
                format!("deleted check {name} ({id})")
            })
        }
        ChecksCommand::Results {
            id,
            limit,
            cursor,
            client,
        } => {
            let page = paged(&format!("{}/results", path(&id)), limit, cursor.as_deref());
            let v = Client::new(&client)?.get(&page).await?;
            print_or(&client, &v, |v| {
                more(table(&result_rows(&v["items"]), RESULT_COLS), v)
            })
        }
    }
}
