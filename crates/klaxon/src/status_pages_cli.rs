//! Client commands for status pages: pages (admins), their components and groups (admins;
//! responders may set a component's status), and the public incidents and maintenances told
//! on them (responders). Pages are named by slug, name or id; components by name, code or id;
//! public incidents by code or id. The server resolves all of them.
use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use klaxon_domain::status::{ComponentStatus, Impact, overall};
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::services_cli::urlencode;
use super::{Client, ClientArgs, print_or, stdin_line, table};

mod incidents;
mod subscribers;

pub use incidents::{IncidentsCommand, MaintenanceCommand};
pub use subscribers::SubscribersCommand;

#[derive(Subcommand)]
pub enum StatusPagesCommand {
    /// Write every public page as static files under DIR/status/SLUG/ (HTML, JSON, feeds,
    /// badges, style), for any web server or object store to serve. Reads the database named
    /// by the configuration directly, like `klaxon migrate`: it works while Klaxon is down.
    Export {
        /// The directory to write into; created if missing.
        dir: std::path::PathBuf,
    },
    /// Every status page.
    List {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// One page: its settings, its components as a tree with their statuses, and its open
    /// incidents and maintenances.
    Show {
        /// The page: its slug, name or id.
        page: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Create a status page (admin); it is public at /status/SLUG.
    Create {
        #[arg(long)]
        name: String,
        /// 1–63 lowercase letters, digits and inner hyphens.
        #[arg(long)]
        slug: String,
        #[command(flatten)]
        settings: PageSettings,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Change a status page (admin); options left out keep their value.
    Update {
        /// The page: its slug, name or id.
        page: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        slug: Option<String>,
        #[command(flatten)]
        settings: PageSettings,
        /// Remove every footer link.
        #[arg(long, conflicts_with = "footer_links")]
        no_footer_links: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Delete a status page with its components and public incidents (admin).
    Delete {
        /// The page: its slug, name or id.
        page: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// A page's components and groups of components.
    Components {
        #[command(subcommand)]
        command: ComponentsCommand,
    },
    /// A page's public incidents: publish, post updates, list, show, delete.
    Incidents {
        #[command(subcommand)]
        command: IncidentsCommand,
    },
    /// Scheduled maintenances on a page (public incidents of their own kind; list, show and
    /// delete them with `incidents`).
    Maintenance {
        #[command(subcommand)]
        command: MaintenanceCommand,
    },
    /// Who is told of a page's incidents and maintenance: e-mail addresses and webhooks
    /// (admin).
    Subscribers {
        #[command(subcommand)]
        command: SubscribersCommand,
    },
}

/// A page's settings that `create` and `update` share.
#[derive(Args)]
pub struct PageSettings {
    /// A host name the page also answers on at its root; "" for none.
    #[arg(long)]
    hostname: Option<String>,
    /// An http(s) link to a logo image; "" for none.
    #[arg(long)]
    logo_url: Option<String>,
    /// #rrggbb, readable on white (default #1f6feb).
    #[arg(long)]
    accent_color: Option<String>,
    /// The IANA time zone the page shows days and times in (default UTC).
    #[arg(long)]
    time_zone: Option<String>,
    /// A link in the page's footer, LABEL=URL; repeat it (update: replaces them all).
    #[arg(long = "footer-link")]
    footer_links: Vec<String>,
    /// public (default), password (give --password-stdin) or sign_in (Klaxon users).
    #[arg(long)]
    visibility: Option<String>,
    /// Read the page's shared password (8 characters or more) from standard input.
    #[arg(long)]
    password_stdin: bool,
    /// How much of a partial outage counts as down in uptime, 0 to 1 (default 0.3).
    #[arg(long)]
    partial_outage_weight: Option<f64>,
}

impl PageSettings {
    fn into_body(self, body: &mut Map<String, Value>) -> anyhow::Result<()> {
        for (k, v) in [
            ("hostname", self.hostname),
            ("logo_url", self.logo_url),
            ("accent_color", self.accent_color),
            ("time_zone", self.time_zone),
            ("visibility", self.visibility),
        ] {
            if let Some(v) = v {
                body.insert(k.into(), v.into());
            }
        }
        if !self.footer_links.is_empty() {
            let links = self
                .footer_links
                .iter()
                .map(|l| match l.split_once('=') {
                    Some((label, url)) => Ok(json!({"label": label.trim(), "url": url.trim()})),
                    None => bail!("--footer-link {l:?}: write it as LABEL=URL"),
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            body.insert("footer_links".into(), links.into());
        }
        if let Some(w) = self.partial_outage_weight {
            body.insert("partial_outage_weight".into(), w.into());
        }
        if self.password_stdin {
            body.insert("password".into(), stdin_line("the page's password")?.into());
        }
        Ok(())
    }
}

/// A component's settings that `add` and `update` share.
#[derive(Args)]
pub struct ComponentSettings {
    /// What it is, for the page's readers.
    #[arg(long)]
    description: Option<String>,
    /// Order among its siblings, smallest first (default: after the last).
    #[arg(long)]
    position: Option<i64>,
    /// operational, degraded_performance, partial_outage, major_outage or under_maintenance.
    #[arg(long)]
    status: Option<String>,
    /// A Klaxon service it depends on (name or id); repeat it (update: replaces them all).
    #[arg(long = "service")]
    services: Vec<String>,
}

impl ComponentSettings {
    fn into_body(self, body: &mut Map<String, Value>) {
        if let Some(d) = self.description {
            body.insert("description".into(), d.into());
        }
        if let Some(p) = self.position {
            body.insert("position".into(), p.into());
        }
        if let Some(s) = self.status {
            body.insert("status".into(), s.into());
        }
        if !self.services.is_empty() {
            body.insert("services".into(), self.services.into());
        }
    }
}

#[derive(Subcommand)]
pub enum ComponentsCommand {
    /// A page's components, each group followed by its members.
    List {
        /// The page: its slug, name or id.
        page: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Add a component, or a group of components (admin).
    Add {
        /// The page: its slug, name or id.
        page: String,
        #[arg(long)]
        name: String,
        /// The group it belongs to: its name or code.
        #[arg(long, conflicts_with = "is_group")]
        group: Option<String>,
        /// Make it a group that holds components (groups do not hold groups).
        #[arg(long, visible_alias = "group-of")]
        is_group: bool,
        #[command(flatten)]
        settings: ComponentSettings,
        /// Show it only while it is not operational.
        #[arg(long)]
        only_show_if_degraded: bool,
        /// Do not show its 90 days of uptime bars.
        #[arg(long)]
        no_uptime: bool,
        /// Let its status follow the enabled uptime checks on its services (--service): all up
        /// operational, some down partial outage, all down major outage.
        #[arg(long, conflicts_with = "is_group")]
        follow_checks: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Change a component (admin); options left out keep their value.
    Update {
        /// The page: its slug, name or id.
        page: String,
        /// The component: its name, code or id.
        component: String,
        #[arg(long)]
        name: Option<String>,
        /// Move it into this group: its name or code.
        #[arg(long, conflicts_with = "no_group")]
        group: Option<String>,
        /// Take it out of its group.
        #[arg(long)]
        no_group: bool,
        #[command(flatten)]
        settings: ComponentSettings,
        /// Forget the services it depends on.
        #[arg(long, conflicts_with = "services")]
        no_services: bool,
        /// Show it only while it is not operational.
        #[arg(long, conflicts_with = "always_show")]
        only_show_if_degraded: bool,
        /// Show it whatever its status.
        #[arg(long)]
        always_show: bool,
        /// Hide its uptime bars.
        #[arg(long, conflicts_with = "uptime")]
        no_uptime: bool,
        /// Show its uptime bars.
        #[arg(long)]
        uptime: bool,
        /// Let its status follow the enabled uptime checks on its services (it takes their
        /// status at once).
        #[arg(long, conflicts_with = "no_follow_checks")]
        follow_checks: bool,
        /// Stop following its checks: its status stays as it is until someone sets it.
        #[arg(long)]
        no_follow_checks: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Set a component's status, as a responder does during an incident.
    SetStatus {
        /// The page: its slug, name or id.
        page: String,
        /// The component: its name, code or id.
        component: String,
        /// operational, degraded_performance, partial_outage, major_outage or under_maintenance.
        status: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Remove a component (a group with its members) (admin).
    Remove {
        /// The page: its slug, name or id.
        page: String,
        /// The component: its name, code or id.
        component: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

/// `/api/v1/status-pages/PAGE` and what follows.
pub(crate) fn page_path(page: &str, rest: &str) -> String {
    format!("/api/v1/status-pages/{}{rest}", urlencode(page))
}

/// A status for people: `major_outage` → `major outage`.
pub(crate) fn words(v: &Value) -> String {
    v.as_str().map_or("-".into(), |s| s.replace('_', " "))
}

/// An API time for people: in this machine's time zone (or `TZ`), the zone named.
pub(crate) fn when(v: &Value) -> String {
    let Some(s) = v.as_str() else {
        return "-".into();
    };
    match s.parse::<jiff::Timestamp>() {
        Ok(t) => t
            .to_zoned(jiff::tz::TimeZone::system())
            .strftime("%Y-%m-%d %H:%M %Q")
            .to_string(),
        Err(_) => s.to_owned(),
    }
}

const PAGE_COLS: &[&str] = &["slug", "name", "visibility", "hostname", "time_zone", "id"];

fn page_text(v: &Value, base: &str) -> String {
    let s = |k: &str| match &v[k] {
        Value::String(s) if !s.is_empty() => s.clone(),
        Value::Null | Value::String(_) => "-".into(),
        other => other.to_string(),
    };
    let links: Vec<String> = v["footer_links"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| {
            format!(
                "{} <{}>",
                l["label"].as_str().unwrap_or(""),
                l["url"].as_str().unwrap_or("")
            )
        })
        .collect();
    let mut address = format!("{base}/status/{}", s("slug"));
    if let Some(h) = v["hostname"].as_str() {
        address.push_str(&format!(", https://{h}/"));
    }
    format!(
        "status page {} ({})\n\
         slug:        {}\n\
         address:     {}\n\
         visibility:  {}\n\
         time zone:   {}\n\
         accent:      {}\n\
         logo:        {}\n\
         footer:      {}\n\
         uptime:      a partial outage counts {} as down\n\
         code:        {}\n\
         updated:     {}",
        s("name"),
        s("id"),
        s("slug"),
        address,
        words(&v["visibility"]),
        s("time_zone"),
        s("accent_color"),
        s("logo_url"),
        if links.is_empty() {
            "-".into()
        } else {
            links.join(", ")
        },
        s("partial_outage_weight"),
        s("code"),
        when(&v["updated_at"]),
    )
}

/// Components as table rows: groups first among their siblings as the server orders them,
/// members indented under their group.
fn component_rows(items: &Value) -> Value {
    let all: Vec<&Value> = items.as_array().into_iter().flatten().collect();
    let status_of = |c: &Value| c["status"].as_str()?.parse::<ComponentStatus>().ok();
    let row = |c: &Value, indent: &str| {
        let mut notes = Vec::new();
        // A group reads as its worst member, as on the page.
        let status = if c["is_group"] == true {
            let worst = all
                .iter()
                .filter(|m| m["group"] == c["code"])
                .filter_map(|m| status_of(m))
                .fold(ComponentStatus::Operational, ComponentStatus::worst);
            json!(worst)
        } else {
            c["status"].clone()
        };
        if c["is_group"] == true {
            notes.push("group".to_owned());
        }
        if c["only_show_if_degraded"] == true {
            notes.push("shown only if degraded".to_owned());
        }
        if c["show_uptime"] == false && c["is_group"] != true {
            notes.push("no uptime bars".to_owned());
        }
        let services = c["services"].as_array().map_or(0, Vec::len);
        if services > 0 {
            notes.push(format!("{services} service(s)"));
        }
        if c["follow_checks"] == true {
            notes.push(follows(c));
        }
        json!({
            "component": format!("{indent}{}", c["name"].as_str().unwrap_or("")),
            "status": words(&status),
            "code": c["code"],
            "notes": notes.join(", "),
        })
    };
    let mut rows = Vec::new();
    for c in all.iter().filter(|c| c["group"].is_null()) {
        rows.push(row(c, ""));
        if c["is_group"] == true {
            for m in all.iter().filter(|m| m["group"] == c["code"]) {
                rows.push(row(m, "  "));
            }
        }
    }
    // A member whose group is not in the list (it should not happen) is still shown.
    for c in &all {
        let g = &c["group"];
        if !g.is_null() && !all.iter().any(|x| x["code"] == *g) {
            rows.push(row(c, "  "));
        }
    }
    Value::Array(rows)
}

const COMPONENT_COLS: &[&str] = &["component", "status", "code", "notes"];

fn components_text(items: &Value) -> String {
    if items.as_array().is_none_or(Vec::is_empty) {
        return "no components".into();
    }
    table(&component_rows(items), COMPONENT_COLS)
}

/// A component as the server answered it, with its group's name rather than its code.
async fn with_group_name(c: &Client, page: &str, mut v: Value) -> anyhow::Result<Value> {
    if let Some(code) = v["group"].as_str().map(str::to_owned) {
        let all = c.get(&page_path(page, "/components")).await?;
        let name = all
            .as_array()
            .into_iter()
            .flatten()
            .find(|g| g["code"] == code.as_str())
            .and_then(|g| g["name"].as_str())
            .unwrap_or(&code)
            .to_owned();
        v["group_name"] = name.into();
    }
    Ok(v)
}

/// "follows 1 check", "follows 3 checks".
fn follows(c: &Value) -> String {
    match c["checks"].as_u64().unwrap_or(0) {
        1 => "follows 1 check".into(),
        n => format!("follows {n} checks"),
    }
}

fn component_text(v: &Value) -> String {
    let kind = if v["is_group"] == true {
        "group"
    } else {
        "component"
    };
    let mut out = format!(
        "{kind} {} ({}): {}",
        v["name"].as_str().unwrap_or(""),
        v["code"].as_str().unwrap_or(""),
        words(&v["status"])
    );
    if let Some(g) = v["group_name"].as_str().or(v["group"].as_str()) {
        out.push_str(&format!(", in group {g}"));
    }
    if v["follow_checks"] == true {
        out.push_str(&format!(", {}", follows(v)));
    }
    out
}

/// The page's overall status in words, as the page says it: from its components and its open
/// incidents' impacts.
fn overall_text(components: &Value, open: &[Value]) -> String {
    let statuses: Vec<ComponentStatus> = components
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["is_group"] != true)
        .filter_map(|c| c["status"].as_str()?.parse().ok())
        .collect();
    let impacts: Vec<Impact> = open
        .iter()
        .filter(|i| i["maintenance"] != true)
        .filter_map(|i| i["impact"].as_str()?.parse().ok())
        .collect();
    overall(&statuses, &impacts).description.to_owned()
}

/// Whether a public incident or maintenance is still going (or yet to come).
pub(crate) fn is_open(i: &Value) -> bool {
    i["resolved_at"].is_null()
        && !matches!(
            i["status"].as_str(),
            Some("resolved" | "postmortem" | "completed")
        )
}

pub async fn status_pages(cmd: StatusPagesCommand) -> anyhow::Result<()> {
    match cmd {
        StatusPagesCommand::Export { .. } => {
            anyhow::bail!("export reads the database: main runs it with the configuration")
        }
        StatusPagesCommand::List { client } => {
            let v = Client::new(&client)?.get("/api/v1/status-pages").await?;
            print_or(&client, &v, |v| {
                if v.as_array().is_none_or(Vec::is_empty) {
                    "no status pages".into()
                } else {
                    table(v, PAGE_COLS)
                }
            })
        }
        StatusPagesCommand::Show { page, client } => {
            let c = Client::new(&client)?;
            let p = c.get(&page_path(&page, "")).await?;
            // By id from here on: the page's name could also be another page's slug.
            let id = p["id"]
                .as_str()
                .context("the server answered without an id")?;
            let components = c.get(&page_path(id, "/components")).await?;
            let incidents = c.get(&page_path(id, "/incidents")).await?;
            let open: Vec<Value> = incidents
                .as_array()
                .into_iter()
                .flatten()
                .filter(|i| is_open(i))
                .cloned()
                .collect();
            let all = json!({"page": p, "components": components, "open_incidents": open});
            print_or(&client, &all, |v| {
                let open = v["open_incidents"].as_array().cloned().unwrap_or_default();
                let mut out = page_text(&v["page"], &c.base);
                out.push_str(&format!(
                    "\nnow:         {}",
                    overall_text(&v["components"], &open)
                ));
                out.push_str("\n\ncomponents:\n");
                out.push_str(&components_text(&v["components"]));
                out.push_str("\n\nopen incidents and maintenances:");
                if open.is_empty() {
                    out.push_str(" none");
                }
                for i in &open {
                    out.push_str(&format!("\n  {}", incidents::summary_line(i)));
                }
                out
            })
        }
        StatusPagesCommand::Create {
            name,
            slug,
            settings,
            client,
        } => {
            let mut body = Map::new();
            body.insert("name".into(), name.into());
            body.insert("slug".into(), slug.into());
            settings.into_body(&mut body)?;
            let c = Client::new(&client)?;
            let v = c
                .send(Method::POST, "/api/v1/status-pages", Some(body.into()))
                .await?;
            print_or(&client, &v, |v| page_text(v, &c.base))
        }
        StatusPagesCommand::Update {
            page,
            name,
            slug,
            settings,
            no_footer_links,
            client,
        } => {
            let mut body = Map::new();
            if let Some(n) = name {
                body.insert("name".into(), n.into());
            }
            if let Some(s) = slug {
                body.insert("slug".into(), s.into());
            }
            if no_footer_links {
                body.insert("footer_links".into(), json!([]));
            }
            settings.into_body(&mut body)?;
            if body.is_empty() {
                bail!(
                    "nothing to change: pass --name, --slug, --hostname, --visibility, --footer-link, …"
                );
            }
            let c = Client::new(&client)?;
            let v = c
                .send(Method::PATCH, &page_path(&page, ""), Some(body.into()))
                .await?;
            print_or(&client, &v, |v| page_text(v, &c.base))
        }
        StatusPagesCommand::Delete { page, client } => {
            let c = Client::new(&client)?;
            let p = c.get(&page_path(&page, "")).await?;
            let id = p["id"]
                .as_str()
                .context("the server answered without an id")?;
            c.send(Method::DELETE, &page_path(id, ""), None).await?;
            print_or(&client, &json!({"deleted": id}), |_| {
                format!(
                    "deleted status page {} ({}) with its components and incidents",
                    p["name"].as_str().unwrap_or(""),
                    p["slug"].as_str().unwrap_or("")
                )
            })
        }
        StatusPagesCommand::Components { command } => components(command).await,
        StatusPagesCommand::Incidents { command } => incidents::incidents(command).await,
        StatusPagesCommand::Maintenance { command } => incidents::maintenance(command).await,
        StatusPagesCommand::Subscribers { command } => subscribers::subscribers(command).await,
    }
}

fn component_path(page: &str, component: &str) -> String {
    page_path(page, &format!("/components/{}", urlencode(component)))
}

async fn components(cmd: ComponentsCommand) -> anyhow::Result<()> {
    match cmd {
        ComponentsCommand::List { page, client } => {
            let v = Client::new(&client)?
                .get(&page_path(&page, "/components"))
                .await?;
            print_or(&client, &v, components_text)
        }
        ComponentsCommand::Add {
            page,
            name,
            group,
            is_group,
            settings,
            only_show_if_degraded,
            no_uptime,
            follow_checks,
            client,
        } => {
            let mut body = Map::new();
            body.insert("name".into(), name.into());
            if follow_checks {
                body.insert("follow_checks".into(), true.into());
            }
            if let Some(g) = group {
                body.insert("group".into(), g.into());
            }
            if is_group {
                body.insert("is_group".into(), true.into());
            }
            if only_show_if_degraded {
                body.insert("only_show_if_degraded".into(), true.into());
            }
            if no_uptime {
                body.insert("show_uptime".into(), false.into());
            }
            settings.into_body(&mut body);
            let c = Client::new(&client)?;
            let v = c
                .send(
                    Method::POST,
                    &page_path(&page, "/components"),
                    Some(body.into()),
                )
                .await?;
            if client.json {
                return print_or(&client, &v, |_| String::new());
            }
            let v = with_group_name(&c, &page, v).await?;
            print_or(&client, &v, |v| format!("added {}", component_text(v)))
        }
        ComponentsCommand::Update {
            page,
            component,
            name,
            group,
            no_group,
            settings,
            no_services,
            only_show_if_degraded,
            always_show,
            no_uptime,
            uptime,
            follow_checks,
            no_follow_checks,
            client,
        } => {
            let mut body = Map::new();
            if follow_checks || no_follow_checks {
                body.insert("follow_checks".into(), follow_checks.into());
            }
            if let Some(n) = name {
                body.insert("name".into(), n.into());
            }
            if let Some(g) = group {
                body.insert("group".into(), g.into());
            }
            if no_group {
                body.insert("group".into(), "".into());
            }
            if no_services {
                body.insert("services".into(), json!([]));
            }
            if only_show_if_degraded || always_show {
                body.insert("only_show_if_degraded".into(), only_show_if_degraded.into());
            }
            if no_uptime || uptime {
                body.insert("show_uptime".into(), uptime.into());
            }
            settings.into_body(&mut body);
            if body.is_empty() {
                bail!(
                    "nothing to change: pass --name, --group, --status, --description, --position, --service, --follow-checks, …"
                );
            }
            let c = Client::new(&client)?;
            let v = c
                .send(
                    Method::PATCH,
                    &component_path(&page, &component),
                    Some(body.into()),
                )
                .await?;
            if client.json {
                return print_or(&client, &v, |_| String::new());
            }
            let v = with_group_name(&c, &page, v).await?;
            print_or(&client, &v, |v| format!("updated {}", component_text(v)))
        }
        ComponentsCommand::SetStatus {
            page,
            component,
            status,
            client,
        } => {
            let v = Client::new(&client)?
                .send(
                    Method::PATCH,
                    &component_path(&page, &component),
                    Some(json!({"status": status})),
                )
                .await?;
            print_or(&client, &v, |v| {
                format!(
                    "{} is now {}",
                    v["name"].as_str().unwrap_or(""),
                    words(&v["status"])
                )
            })
        }
        ComponentsCommand::Remove {
            page,
            component,
            client,
        } => {
            let c = Client::new(&client)?;
            // The server finds it the same way (exact, else ignoring case); looked up here to
            // say by name what was removed.
            let all = c.get(&page_path(&page, "/components")).await?;
            let all: Vec<&Value> = all.as_array().into_iter().flatten().collect();
            let raw = component.trim();
            let found = all
                .iter()
                .find(|x| x["code"] == raw || x["id"] == raw || x["name"] == raw)
                .or_else(|| {
                    let mut folded = all.iter().filter(|x| {
                        x["name"]
                            .as_str()
                            .is_some_and(|n| n.eq_ignore_ascii_case(raw))
                    });
                    match (folded.next(), folded.next()) {
                        (Some(one), None) => Some(one),
                        _ => None,
                    }
                });
            let (code, name) = match found {
                Some(x) => (
                    x["code"].as_str().unwrap_or(&component).to_owned(),
                    x["name"].as_str().unwrap_or(&component).to_owned(),
                ),
                None => (component.clone(), component.clone()),
            };
            c.send(Method::DELETE, &component_path(&page, &code), None)
                .await?;
            print_or(&client, &json!({"deleted": code}), |_| {
                format!("removed {name} ({code})")
            })
        }
    }
}
