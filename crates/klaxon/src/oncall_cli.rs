//! Client commands for on-call: escalation policies, contact methods, notification rules.
use std::collections::BTreeMap;

use anyhow::Context as _;
use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};

use super::services_cli::{all_items, urlencode};
use super::{Client, ClientArgs, id_and_name, print_or, table};

#[derive(Subcommand)]
pub enum PoliciesCommand {
    List {
        #[command(flatten)]
        client: ClientArgs,
    },
    Show {
        /// The policy: its name or id.
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Create an escalation policy: one --level per level, in order.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        description: String,
        /// DELAY_MINUTES:TARGET[,TARGET…], a target being a person (e-mail address or id) or
        /// schedule:SCHEDULE (its name or id), e.g. 15:ada@example.com,schedule:Primary
        /// rota
        #[arg(long = "level", required = true)]
        levels: Vec<String>,
        /// Times the levels run again after the last (0–9).
        #[arg(long, default_value_t = 0)]
        repeat: u32,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Change a policy; options left out keep their value (--level replaces all levels).
    Update {
        /// The policy: its name or id.
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// As for create: DELAY_MINUTES:TARGET[,TARGET…].
        #[arg(long = "level")]
        levels: Vec<String>,
        #[arg(long)]
        repeat: Option<u32>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Delete a policy (refused while services use it).
    Delete {
        /// The policy: its name or id.
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

#[derive(Subcommand)]
pub enum ContactMethodsCommand {
    /// Your contact methods, or --user's (admin).
    List {
        /// Someone else (admin): their e-mail address or id.
        #[arg(long)]
        user: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Add a contact method. Asks for your password: KLAXON_PASSWORD or one line on stdin.
    Add {
        /// email, sms, voice, webhook, slack, teams or mattermost (e-mail needs the server's
        /// [smtp] settings, SMS and voice its [sms] provider).
        #[arg(long)]
        kind: String,
        #[arg(long)]
        label: String,
        /// An e-mail address, a phone number in international form (+14155550123), or the
        /// URL to post to, as the kind needs.
        #[arg(long)]
        address: String,
        /// Someone else (admin): their e-mail address or id.
        #[arg(long)]
        user: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Change a contact method's label or address (asks for your password).
    Update {
        id: String,
        #[arg(long)]
        label: Option<String>,
        #[arg(long)]
        address: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    Remove {
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Send a test notification now.
    Test {
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

#[derive(Subcommand)]
pub enum RulesCommand {
    List {
        /// Someone else (admin): their e-mail address or id.
        #[arg(long)]
        user: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Add a rule: after --delay minutes, notify through --contact-method.
    Add {
        #[arg(long)]
        contact_method: String,
        #[arg(long, default_value_t = 0)]
        delay: u32,
        /// high (default) or low.
        #[arg(long)]
        urgency: Option<String>,
        /// Someone else (admin): their e-mail address or id.
        #[arg(long)]
        user: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Change a rule: options left out keep their value.
    Update {
        id: String,
        #[arg(long)]
        contact_method: Option<String>,
        #[arg(long)]
        delay: Option<u32>,
        /// high or low.
        #[arg(long)]
        urgency: Option<String>,
        #[arg(long)]
        user: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    Remove {
        id: String,
        /// Someone else (admin): their e-mail address or id.
        #[arg(long)]
        user: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
}

/// `15:a,schedule:b` as a level: user `a`, whoever is on call in schedule `b`.
fn level(raw: &str) -> anyhow::Result<Value> {
    let (delay, targets) = raw
        .split_once(':')
        .with_context(|| format!("--level {raw:?}: expected DELAY_MINUTES:TARGET[,TARGET…]"))?;
    let delay: u32 = delay
        .trim()
        .parse()
        .with_context(|| format!("--level {raw:?}: the delay is not a number of minutes"))?;
    let targets: Vec<Value> = targets
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| match t.split_once(':') {
            Some(("schedule", id)) => json!({"type": "schedule", "id": id.trim()}),
            Some(("user", id)) => json!({"type": "user", "id": id.trim()}),
            _ => json!({"type": "user", "id": t}),
        })
        .collect();
    Ok(json!({"delay_minutes": delay, "targets": targets}))
}

fn levels(raw: &[String]) -> anyhow::Result<Vec<Value>> {
    raw.iter().map(|l| level(l)).collect()
}

/// The caller's password for re-authentication, from the environment or one line of stdin.
fn password() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var("KLAXON_PASSWORD") {
        return Ok(p);
    }
    eprintln!("Your password (changing where pages go asks for it again):");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// The user named (by e-mail address or id), ready for a URL path, or the caller.
async fn user_or_me(c: &Client, user: Option<String>) -> anyhow::Result<String> {
    match user {
        Some(u) => Ok(urlencode(&u)),
        None => Ok(c.get("/api/v1/me").await?["user"]["id"]
            .as_str()
            .context("the server did not say who you are")?
            .to_owned()),
    }
}

/// Names for the targets of `policies`: "Ada <ada@example.com>" for a person, the schedule's
/// name for a schedule; a target the server no longer knows keeps its id.
async fn target_names(c: &Client, policies: &[&Value]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for p in policies {
        for l in p["levels"].as_array().into_iter().flatten() {
            for t in l["targets"].as_array().into_iter().flatten() {
                let Some(id) = t["id"].as_str() else { continue };
                if out.contains_key(id) {
                    continue;
                }
                let name = match t["type"].as_str() {
                    Some("schedule") => c
                        .get(&format!("/api/v1/schedules/{}", urlencode(id)))
                        .await
                        .ok()
                        .and_then(|s| s["name"].as_str().map(str::to_owned)),
                    _ => c
                        .get(&format!("/api/v1/users/{}", urlencode(id)))
                        .await
                        .ok()
                        .map(|u| format!("{} <{}>", text(&u["name"]), text(&u["email"]))),
                };
                if let Some(n) = name {
                    out.insert(id.to_owned(), n);
                }
            }
        }
    }
    out
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// Prints policies: the API's JSON, or each with its targets by name.
async fn print_policies(c: &Client, client: &ClientArgs, v: &Value) -> anyhow::Result<()> {
    if client.json {
        return print_or(client, v, |_| String::new());
    }
    let list: Vec<&Value> = match v["items"].as_array() {
        Some(items) => items.iter().collect(),
        None => vec![v],
    };
    let names = target_names(c, &list).await;
    let out: String = list.iter().map(|p| policy_text(p, &names)).collect();
    println!("{}", out.trim_end());
    Ok(())
}

fn policy_text(v: &Value, names: &BTreeMap<String, String>) -> String {
    let mut out = format!(
        "{} ({})  repeat {}\n",
        v["name"].as_str().unwrap_or(""),
        v["id"].as_str().unwrap_or(""),
        v["repeat"]
    );
    for (i, l) in v["levels"].as_array().into_iter().flatten().enumerate() {
        let users: Vec<String> = l["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| {
                let id = t["id"].as_str()?;
                let who = match names.get(id) {
                    Some(name) => format!("{name} ({id})"),
                    None => id.to_owned(),
                };
                Some(match t["type"].as_str() {
                    Some("schedule") => format!("schedule {who}"),
                    _ => who,
                })
            })
            .collect();
        out += &format!(
            "  level {}: {} then wait {} min\n",
            i + 1,
            users.join(", "),
            l["delay_minutes"]
        );
        out += &reach_text(&v["reach"][i]);
    }
    out
}

/// The warning under a level that reaches nobody now (the API's `reach`), one reason a line;
/// it names the urgency when the level misses one only.
fn reach_text(r: &Value) -> String {
    if r["reachable"].as_bool() != Some(false) {
        return String::new();
    }
    let scope = match r["unreachable_for"].as_array().map(Vec::as_slice) {
        Some([u]) => format!(" for {}-urgency incidents", u.as_str().unwrap_or("some")),
        _ => String::new(),
    };
    let mut out = format!("    warning: this level reaches nobody now{scope}\n");
    for reason in r["reasons"].as_array().into_iter().flatten() {
        if reason["now"].as_bool() == Some(true) {
            out += &format!("      - {}\n", reason["message"].as_str().unwrap_or(""));
        }
    }
    out
}

pub async fn policies(cmd: PoliciesCommand) -> anyhow::Result<()> {
    match cmd {
        PoliciesCommand::List { client } => {
            let c = Client::new(&client)?;
            let items = all_items(&c, "/api/v1/escalation-policies").await?;
            let v = json!({"items": items, "next_cursor": null});
            print_policies(&c, &client, &v).await
        }
        PoliciesCommand::Show { id, client } => {
            let c = Client::new(&client)?;
            let v = c
                .get(&format!("/api/v1/escalation-policies/{}", urlencode(&id)))
                .await?;
            print_policies(&c, &client, &v).await
        }
        PoliciesCommand::Create {
            name,
            description,
            levels: raw,
            repeat,
            client,
        } => {
            let body = json!({"name": name, "description": description,
                              "levels": levels(&raw)?, "repeat": repeat});
            let c = Client::new(&client)?;
            let v = c
                .send(Method::POST, "/api/v1/escalation-policies", Some(body))
                .await?;
            print_policies(&c, &client, &v).await
        }
        PoliciesCommand::Update {
            id,
            name,
            description,
            levels: raw,
            repeat,
            client,
        } => {
            let mut body = json!({});
            if let Some(n) = name {
                body["name"] = n.into();
            }
            if let Some(d) = description {
                body["description"] = d.into();
            }
            if !raw.is_empty() {
                body["levels"] = levels(&raw)?.into();
            }
            if let Some(r) = repeat {
                body["repeat"] = r.into();
            }
            let c = Client::new(&client)?;
            let v = c
                .send(
                    Method::PATCH,
                    &format!("/api/v1/escalation-policies/{}", urlencode(&id)),
                    Some(body),
                )
                .await?;
            print_policies(&c, &client, &v).await
        }
        PoliciesCommand::Delete { id, client } => {
            let c = Client::new(&client)?;
            let path = format!("/api/v1/escalation-policies/{}", urlencode(&id));
            let (id, name) = id_and_name(&c, &path).await?;
            c.send(
                Method::DELETE,
                &format!("/api/v1/escalation-policies/{id}"),
                None,
            )
            .await?;
            print_or(&client, &json!({"deleted": id}), |_| {
                format!("deleted escalation policy {name} ({id})")
            })
        }
    }
}

const METHOD_COLS: &[&str] = &["id", "kind", "label", "address", "created_at"];

pub async fn contact_methods(cmd: ContactMethodsCommand) -> anyhow::Result<()> {
    match cmd {
        ContactMethodsCommand::List { user, client } => {
            let c = Client::new(&client)?;
            let user = user_or_me(&c, user).await?;
            let v = c
                .get_all(&format!("/api/v1/users/{user}/contact-methods"))
                .await?;
            print_or(&client, &v, |v| table(&v["items"], METHOD_COLS))
        }
        ContactMethodsCommand::Add {
            kind,
            label,
            address,
            user,
            client,
        } => {
            let c = Client::new(&client)?;
            let user = user_or_me(&c, user).await?;
            let body = json!({"kind": kind, "label": label, "address": address,
                              "password": password()?});
            let v = c
                .send(
                    Method::POST,
                    &format!("/api/v1/users/{user}/contact-methods"),
                    Some(body),
                )
                .await?;
            print_or(&client, &v, |v| {
                let mut out = table(&json!([v]), METHOD_COLS);
                if v["first_rules"].is_array() {
                    out += "\nIt is the first way to reach this person: two notification rules now page them through it at once, one for high-urgency and one for low-urgency incidents (klaxon notification-rules list).";
                } else if v["first_rule"].is_object() {
                    // A server from before first methods brought a low-urgency rule too.
                    out += "\nIt is the first way to reach this person: a notification rule now pages them through it at once for high-urgency incidents (klaxon notification-rules list).";
                }
                if let Some(secret) = v["secret"].as_str() {
                    out += &format!(
                        "\nsigning secret: {secret}\nShown only now: deliveries carry X-Klaxon-Signature, v1=HMAC-SHA256(secret, \"v1:\" + X-Klaxon-Timestamp + \":\" + body)."
                    );
                }
                out
            })
        }
        ContactMethodsCommand::Update {
            id,
            label,
            address,
            client,
        } => {
            let mut body = json!({"password": password()?});
            if let Some(l) = label {
                body["label"] = l.into();
            }
            if let Some(a) = address {
                body["address"] = a.into();
            }
            let v = Client::new(&client)?
                .send(
                    Method::PATCH,
                    &format!("/api/v1/contact-methods/{id}"),
                    Some(body),
                )
                .await?;
            print_or(&client, &v, |v| table(&json!([v]), METHOD_COLS))
        }
        ContactMethodsCommand::Remove { id, client } => {
            Client::new(&client)?
                .send(
                    Method::DELETE,
                    &format!("/api/v1/contact-methods/{id}"),
                    None,
                )
                .await?;
            print_or(&client, &json!({"deleted": id}), |_| {
                format!("removed {id}")
            })
        }
        ContactMethodsCommand::Test { id, client } => {
            let v = Client::new(&client)?
                .send(
                    Method::POST,
                    &format!("/api/v1/contact-methods/{id}/test"),
                    Some(json!({})),
                )
                .await?;
            print_or(&client, &v, |v| {
                format!(
                    "test notification {} queued: the engine sends it within a tick",
                    v["id"].as_str().unwrap_or("")
                )
            })
        }
    }
}

const RULE_COLS: &[&str] = &["id", "delay_minutes", "urgency", "contact_method_id"];

pub async fn rules(cmd: RulesCommand) -> anyhow::Result<()> {
    match cmd {
        RulesCommand::List { user, client } => {
            let c = Client::new(&client)?;
            let user = user_or_me(&c, user).await?;
            let v = c
                .get_all(&format!("/api/v1/users/{user}/notification-rules"))
                .await?;
            print_or(&client, &v, |v| table(&v["items"], RULE_COLS))
        }
        RulesCommand::Add {
            contact_method,
            delay,
            urgency,
            user,
            client,
        } => {
            let c = Client::new(&client)?;
            let user = user_or_me(&c, user).await?;
            let mut body = json!({"contact_method_id": contact_method, "delay_minutes": delay});
            if let Some(u) = urgency {
                body["urgency"] = u.into();
            }
            let v = c
                .send(
                    Method::POST,
                    &format!("/api/v1/users/{user}/notification-rules"),
                    Some(body),
                )
                .await?;
            print_or(&client, &v, |v| table(&json!([v]), RULE_COLS))
        }
        RulesCommand::Update {
            id,
            contact_method,
            delay,
            urgency,
            user,
            client,
        } => {
            let c = Client::new(&client)?;
            let user = user_or_me(&c, user).await?;
            let mut body = json!({});
            if let Some(m) = contact_method {
                body["contact_method_id"] = m.into();
            }
            if let Some(d) = delay {
                body["delay_minutes"] = d.into();
            }
            if let Some(u) = urgency {
                body["urgency"] = u.into();
            }
            let v = c
                .send(
                    Method::PATCH,
                    &format!("/api/v1/users/{user}/notification-rules/{id}"),
                    Some(body),
                )
                .await?;
            print_or(&client, &v, |v| table(&json!([v]), RULE_COLS))
        }
        RulesCommand::Remove { id, user, client } => {
            let c = Client::new(&client)?;
            let user = user_or_me(&c, user).await?;
            c.send(
                Method::DELETE,
                &format!("/api/v1/users/{user}/notification-rules/{id}"),
                None,
            )
            .await?;
            print_or(&client, &json!({"deleted": id}), |_| {
                format!("removed {id}")
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_level_that_reaches_nobody_is_flagged_with_why() {
        let v = json!({"name": "primary", "id": "p1", "repeat": 0,
            "levels": [{"delay_minutes": 5, "targets": [{"type": "user", "id": "u1"}]},
                       {"delay_minutes": 10, "targets": [{"type": "schedule", "id": "s1"}]}],
            "reach": [{"level": 1, "reachable": true, "reasons": []},
                      {"level": 2, "reachable": false, "reasons": [
                          {"code": "nobody_on_call", "message": "nobody is on call in Night now", "now": true},
                          {"code": "no_contact_method", "message": "in Night's rotation, Bob has no contact method", "now": false}]}]});
        let names = BTreeMap::from([("s1".to_owned(), "Night".to_owned())]);
        let text = policy_text(&v, &names);
        assert!(
            text.contains(
                "  level 2: schedule Night (s1) then wait 10 min\n    warning: this level reaches nobody now\n      - nobody is on call in Night now\n"
            ),
            "{text}"
        );
        assert_eq!(text.matches("warning").count(), 1, "{text}");
        assert!(!text.contains("Bob"), "later shifts are not a warning now");
    }

    #[test]
    fn a_level_that_misses_one_urgency_says_which() {
        let v = json!({"name": "primary", "id": "p1", "repeat": 0,
            "levels": [{"delay_minutes": 5, "targets": [{"type": "user", "id": "u1"}]}],
            "reach": [{"level": 1, "reachable": false, "unreachable_for": ["low"], "reasons": [
                {"code": "no_rule_for_urgency", "urgency": "low", "now": true,
                 "message": "Ann has no low-urgency notification rule"}]}]});
        let names = BTreeMap::from([("u1".to_owned(), "Ann".to_owned())]);
        let text = policy_text(&v, &names);
        assert!(
            text.contains(
                "    warning: this level reaches nobody now for low-urgency incidents\n      - Ann has no low-urgency notification rule\n"
            ),
            "{text}"
        );
    }
}
