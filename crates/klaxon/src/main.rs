//! `klaxon`: runs the server, manages the database offline, and talks to a server's API.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use klaxon_domain::SystemClock;
use klaxon_domain::auth::{Role, TokenName};
use klaxon_domain::event::Actor;
use klaxon_server::{App, Settings, app};
use serde_json::{Value, json};

mod action_items_cli;
mod checks_cli;
mod drills_cli;
mod incidents_cli;
mod insights_cli;
mod oncall_cli;
mod postmortems_cli;
mod runbooks_cli;
mod runners_cli;
mod runs_cli;
mod schedules_cli;
mod services_cli;
mod slos_cli;
mod status_pages_cli;
mod webhooks_cli;
mod workflows_cli;
mod yaml_out;

#[derive(Parser)]
#[command(
    name = "klaxon",
    version,
    about = "Klaxon: self-hosted incident management"
)]
struct Cli {
    /// Configuration file (default: ./klaxon.toml when it exists).
    #[arg(long, global = true, env = "KLAXON_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (HTTP API, web UI and engine).
    Serve {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the effective configuration, secrets masked.
    Config,
    /// Offline: create an API token directly in the configured database.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Show who the API token in KLAXON_TOKEN belongs to.
    Me(ClientArgs),
    /// Change your own password: reads the current one, then the new one, a line each, from
    /// standard input. Your web sessions end.
    Password(ClientArgs),
    /// Users, through the API.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// API tokens, through the API.
    ApiTokens {
        #[command(subcommand)]
        command: ApiTokensCommand,
    },
    /// Services: what can break, and how its alerts become incidents.
    Services {
        #[command(subcommand)]
        command: services_cli::ServicesCommand,
    },
    /// Integrations: the keys and endpoints monitoring tools send alerts to.
    Integrations {
        #[command(subcommand)]
        command: services_cli::IntegrationsCommand,
    },
    /// Maintenance windows of a service.
    Maintenance {
        #[command(subcommand)]
        command: services_cli::MaintenanceCommand,
    },
    /// Alerts received from integrations.
    Alerts {
        #[command(subcommand)]
        command: services_cli::AlertsCommand,
    },
    /// Incidents: declare, change, move along their lifecycle, roles, notes, timeline.
    #[command(visible_alias = "incident")]
    Incidents {
        #[command(subcommand)]
        command: incidents_cli::IncidentsCommand,
    },
    /// Escalation policies: who is paged, in what order, after how long.
    EscalationPolicies {
        #[command(subcommand)]
        command: oncall_cli::PoliciesCommand,
    },
    /// How you (or a user) are reached: webhooks and chat channels.
    ContactMethods {
        #[command(subcommand)]
        command: oncall_cli::ContactMethodsCommand,
    },
    /// When each contact method is used after a page.
    NotificationRules {
        #[command(subcommand)]
        command: oncall_cli::RulesCommand,
    },
    /// On-call schedules: layers of rotations, by name or id.
    Schedules {
        #[command(subcommand)]
        command: schedules_cli::SchedulesCommand,
    },
    /// One schedule's shifts: who is on call when.
    Schedule {
        #[command(subcommand)]
        command: schedules_cli::ScheduleCommand,
    },
    /// Overrides: someone on call in a schedule instead of its layers, for a while.
    Overrides {
        #[command(subcommand)]
        command: schedules_cli::OverridesCommand,
    },
    /// Who is on call now (or --at) in every schedule.
    #[command(name = "oncall")]
    OnCall(schedules_cli::OnCallArgs),
    /// Action items: what incidents taught, owned and due; mine, a team's, overdue.
    ActionItems {
        #[command(subcommand)]
        command: action_items_cli::ActionItemsCommand,
    },
    /// Runbooks: Markdown steps kept as versions, suggested on incidents; sync a directory.
    Runbooks {
        #[command(subcommand)]
        command: runbooks_cli::RunbooksCommand,
    },
    /// Runs of runbooks on incidents: start, follow, and move them on.
    Runs {
        #[command(subcommand)]
        command: runs_cli::RunsCommand,
    },
    /// Runners that run runbooks' command steps on your hosts: register, enable versions.
    Runners {
        #[command(subcommand)]
        command: runners_cli::RunnersCommand,
    },
    /// Run as a runner: ask Klaxon for command steps and run them here (outbound only).
    Runner(runners_cli::RunnerArgs),
    /// The secret store runbook steps name: set, list (names only), remove.
    Secrets {
        #[command(subcommand)]
        command: runs_cli::SecretsCommand,
    },
    /// SLOs: error budgets and burn-rate alerts on services.
    Slos {
        #[command(subcommand)]
        command: slos_cli::SlosCommand,
    },
    /// Uptime checks: HTTP(S) and TCP probes that raise alerts on their service.
    Checks {
        #[command(subcommand)]
        command: checks_cli::ChecksCommand,
    },
    /// Insights: incident metrics, alert noise and on-call load over a period.
    Insights {
        #[command(subcommand)]
        command: insights_cli::InsightsCommand,
    },
    /// Status pages: what customers read. Pages, components, public incidents, maintenances.
    StatusPages {
        #[command(subcommand)]
        command: status_pages_cli::StatusPagesCommand,
    },
    /// Postmortems: the review of a resolved incident, written, reviewed and published.
    Postmortems {
        #[command(subcommand)]
        command: postmortems_cli::PostmortemsCommand,
    },
    /// Outgoing webhooks (admin): other tools follow incidents; what was delivered.
    Webhooks {
        #[command(subcommand)]
        command: webhooks_cli::WebhooksCommand,
    },
    /// Workflows (admins edit): what Klaxon does by itself when something happens to an
    /// incident. Apply YAML files, turn them on and off, see their runs.
    Workflows {
        #[command(subcommand)]
        command: workflows_cli::WorkflowsCommand,
    },
    /// Drills: practice incidents, scripted by scenarios (alerts and news at set minutes) and
    /// scored against targets. Apply scenario files, start, follow and end drills.
    Drills {
        #[command(subcommand)]
        command: drills_cli::DrillsCommand,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Print a new token for scripts. Acts for the first admin unless --user says otherwise.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// E-mail of the user the token acts for.
        #[arg(long)]
        user: Option<String>,
    },
}

#[derive(clap::Args, Clone)]
struct ClientArgs {
    /// Server URL.
    #[arg(long, env = "KLAXON_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// API token.
    #[arg(long, env = "KLAXON_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Print the API's JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum UsersCommand {
    List {
        #[command(flatten)]
        client: ClientArgs,
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        cursor: Option<String>,
    },
    Show {
        /// The user: their e-mail address or id.
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Create a user; the initial password is read from standard input.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Change a user's name, e-mail, role or time zone (admin; anyone may change their own name
    /// and time zone).
    Update {
        /// The user: their e-mail address or id.
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        email: Option<String>,
        #[arg(long, value_parser = parse_role)]
        role: Option<Role>,
        /// The IANA time zone the web pages show this person times in, like Europe/Berlin.
        #[arg(long)]
        time_zone: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Deactivate a user: their sessions end, their tokens are revoked, they are not paged.
    Deactivate {
        /// The user: their e-mail address or id.
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Reactivate a deactivated user (their old tokens stay revoked).
    Reactivate {
        /// The user: their e-mail address or id.
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Set a user's password (admin); the new password is read from standard input.
    SetPassword {
        /// The user: their e-mail address or id.
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

#[derive(Subcommand)]
enum ApiTokensCommand {
    /// Your tokens (an admin sees everyone's).
    List {
        #[command(flatten)]
        client: ClientArgs,
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        cursor: Option<String>,
    },
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        #[command(flatten)]
        client: ClientArgs,
    },
    Revoke {
        /// The token's id.
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse::<Role>().map_err(|e| e.reason)
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("klaxon: cannot start runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("klaxon: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn settings(cli_config: Option<&PathBuf>) -> anyhow::Result<Settings> {
    Ok(Settings::load(
        cli_config.map(|p| p.as_path()),
        std::env::vars(),
    )?)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { listen } => {
            let mut s = settings(cli.config.as_ref())?;
            if let Some(l) = listen {
                s.server.listen = l;
            }
            serve(s).await
        }
        Command::Migrate => {
            let s = settings(cli.config.as_ref())?;
            let store = app::open_store(&s).await?;
            println!("database is up to date ({})", store.backend());
            store.close().await;
            Ok(())
        }
        Command::Config => {
            print!("{}", settings(cli.config.as_ref())?.to_masked_toml());
            Ok(())
        }
        Command::Token {
            command: TokenCommand::Create { name, role, user },
        } => {
            let s = settings(cli.config.as_ref())?;
            offline_token(s, &name, role, user.as_deref()).await
        }
        Command::Me(c) => {
            let v = Client::new(&c)?.get("/api/v1/me").await?;
            print_or(&c, &v, |v| {
                format!(
                    "{} <{}>  role: {}  token: {} ({})",
                    v["user"]["name"].as_str().unwrap_or(""),
                    v["user"]["email"].as_str().unwrap_or(""),
                    v["role"].as_str().unwrap_or(""),
                    v["token"]["name"].as_str().unwrap_or(""),
                    v["token"]["prefix"].as_str().unwrap_or("")
                )
            })
        }
        Command::Users { command } => match command {
            UsersCommand::List {
                client,
                limit,
                cursor,
            } => {
                let path = paged("/api/v1/users", limit, cursor.as_deref());
                let v = Client::new(&client)?.get(&path).await?;
                print_or(&client, &v, |v| {
                    more(
                        table(&v["items"], &["id", "email", "name", "role", "active"]),
                        v,
                    )
                })
            }
            UsersCommand::Show { id, client } => {
                let v = Client::new(&client)?
                    .get(&format!("/api/v1/users/{}", services_cli::urlencode(&id)))
                    .await?;
                print_or(&client, &v, |v| {
                    table(
                        &json!([v]),
                        &["id", "email", "name", "role", "active", "created_at"],
                    )
                })
            }
            UsersCommand::Create {
                email,
                name,
                role,
                client,
            } => {
                let password = stdin_line("the password")?;
                let body =
                    json!({"email": email, "name": name, "role": role, "password": password});
                let v = Client::new(&client)?
                    .send(reqwest::Method::POST, "/api/v1/users", Some(body))
                    .await?;
                print_or(&client, &v, |v| {
                    format!(
                        "created user {} ({})",
                        v["email"].as_str().unwrap_or(""),
                        v["id"].as_str().unwrap_or("")
                    )
                })
            }
            UsersCommand::Update {
                id,
                name,
                email,
                role,
                time_zone,
                client,
            } => {
                let mut body = serde_json::Map::new();
                for (k, v) in [("name", name), ("email", email), ("time_zone", time_zone)] {
                    if let Some(v) = v {
                        body.insert(k.into(), json!(v));
                    }
                }
                if let Some(r) = role {
                    body.insert("role".into(), json!(r));
                }
                if body.is_empty() {
                    bail!("nothing to change: give --name, --email, --role or --time-zone");
                }
                patch_user(&client, &id, Value::Object(body), "updated").await
            }
            UsersCommand::Deactivate { id, client } => {
                patch_user(&client, &id, json!({"active": false}), "deactivated").await
            }
            UsersCommand::Reactivate { id, client } => {
                patch_user(&client, &id, json!({"active": true}), "reactivated").await
            }
            UsersCommand::SetPassword { id, client } => {
                let password = stdin_line("the new password")?;
                let c = Client::new(&client)?;
                let path = format!("/api/v1/users/{}", services_cli::urlencode(&id));
                let (id, email) = id_and_name(&c, &path).await?;
                c.send(
                    reqwest::Method::POST,
                    &format!("/api/v1/users/{id}/password"),
                    Some(json!({"password": password})),
                )
                .await?;
                print_or(&client, &json!({"user_id": id, "password": "set"}), |_| {
                    format!("password set for {email}; their web sessions have ended")
                })
            }
        },
        Command::Password(client) => {
            let current = stdin_line("the current password")?;
            let new = stdin_line("the new password")?;
            let me = Client::new(&client)?;
            me.send(
                reqwest::Method::POST,
                "/api/v1/me/password",
                Some(json!({"current_password": current, "new_password": new})),
            )
            .await?;
            print_or(&client, &json!({"password": "changed"}), |_| {
                "password changed; your web sessions have ended".into()
            })
        }
        Command::ApiTokens { command } => match command {
            ApiTokensCommand::List {
                client,
                limit,
                cursor,
            } => {
                let path = paged("/api/v1/tokens", limit, cursor.as_deref());
                let c = Client::new(&client)?;
                let mut v = c.get(&path).await?;
                if !client.json {
                    // Whose each token is, by e-mail address.
                    let mut emails = std::collections::BTreeMap::new();
                    for t in v["items"].as_array_mut().into_iter().flatten() {
                        let Some(user) = t["user_id"].as_str().map(str::to_owned) else {
                            continue;
                        };
                        if !emails.contains_key(&user) {
                            let u = c.get(&format!("/api/v1/users/{user}")).await;
                            let email = u.ok().and_then(|u| u["email"].as_str().map(str::to_owned));
                            emails.insert(user.clone(), email);
                        }
                        t["user"] = json!(emails[&user]);
                    }
                }
                print_or(&client, &v, |v| {
                    more(
                        table(
                            &v["items"],
                            &[
                                "id",
                                "name",
                                "role",
                                "user",
                                "user_id",
                                "prefix",
                                "revoked_at",
                            ],
                        ),
                        v,
                    )
                })
            }
            ApiTokensCommand::Create { name, role, client } => {
                let v = Client::new(&client)?
                    .send(
                        reqwest::Method::POST,
                        "/api/v1/tokens",
                        Some(json!({"name": name, "role": role})),
                    )
                    .await?;
                print_or(&client, &v, |v| {
                    v["secret"].as_str().unwrap_or("").to_owned()
                })
            }
            ApiTokensCommand::Revoke { id, client } => {
                let v = Client::new(&client)?
                    .send(
                        reqwest::Method::DELETE,
                        &format!("/api/v1/tokens/{id}"),
                        None,
                    )
                    .await?;
                print_or(&client, &v, |v| {
                    format!("revoked {}", v["name"].as_str().unwrap_or(""))
                })
            }
        },
        Command::Services { command } => services_cli::services(command).await,
        Command::Integrations { command } => services_cli::integrations(command).await,
        Command::Maintenance { command } => services_cli::maintenance(command).await,
        Command::Alerts { command } => services_cli::alerts(command).await,
        Command::Incidents { command } => incidents_cli::incidents(command).await,
        Command::EscalationPolicies { command } => oncall_cli::policies(command).await,
        Command::ContactMethods { command } => oncall_cli::contact_methods(command).await,
        Command::NotificationRules { command } => oncall_cli::rules(command).await,
        Command::Schedules { command } => schedules_cli::schedules(command).await,
        Command::Schedule { command } => schedules_cli::schedule(command).await,
        Command::Overrides { command } => schedules_cli::overrides(command).await,
        Command::OnCall(args) => schedules_cli::on_call(args).await,
        Command::ActionItems { command } => action_items_cli::action_items(command).await,
        Command::Checks { command } => checks_cli::checks(command).await,
        Command::Slos { command } => slos_cli::slos(command).await,
        Command::Runbooks { command } => runbooks_cli::runbooks(command).await,
        Command::Runs { command } => runs_cli::runs(command).await,
        Command::Runners { command } => runners_cli::runners(command).await,
        Command::Runner(args) => runners_cli::run(args).await,
        Command::Secrets { command } => runs_cli::secrets(command).await,
        Command::Insights { command } => insights_cli::insights(command).await,
        Command::StatusPages {
            command: status_pages_cli::StatusPagesCommand::Export { dir },
        } => {
            let s = std::sync::Arc::new(settings(cli.config.as_ref())?);
            let store = app::open_store(&s).await?;
            let now = jiff::Timestamp::now();
            let done = klaxon_server::status::snapshot::export_once(
                store.as_ref(),
                &s,
                now,
                dir.clone(),
                klaxon_server::status::render::render,
            )
            .await;
            store.close().await;
            let slugs = done?;
            if slugs.is_empty() {
                println!("no public status page to export");
            }
            for slug in slugs {
                println!(
                    "exported /status/{slug}/ to {}",
                    dir.join("status").join(&slug).display()
                );
            }
            Ok(())
        }
        Command::StatusPages { command } => status_pages_cli::status_pages(command).await,
        Command::Webhooks { command } => webhooks_cli::webhooks(command).await,
        Command::Postmortems { command } => postmortems_cli::postmortems(command).await,
        Command::Workflows { command } => workflows_cli::workflows(command).await,
        Command::Drills { command } => drills_cli::drills(command).await,
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    // First: a SIGTERM during start-up must stop the server cleanly, not kill it.
    let shutdown = app::shutdown_signal();
    app::init_tracing(&settings);
    app::init_metrics();
    for name in klaxon_server::config::unknown_env_vars(std::env::vars()) {
        tracing::warn!(variable = %name, "no setting reads this variable: is it misspelt? (see `klaxon config`)");
    }
    let listener = tokio::net::TcpListener::bind(settings.server.listen)
        .await
        .with_context(|| format!("listen on {}", settings.server.listen))?;
    let addr = listener.local_addr()?;
    let clock: Arc<dyn klaxon_domain::Clock> = Arc::new(SystemClock);
    let app = App::build(settings, clock.clone()).await?;
    if let Some(b) = app::bootstrap(&app.state.store, &clock, &app.state.passwords).await? {
        // Shown once, on the console of whoever started the first run; only digests are stored.
        println!("\n=== Klaxon first run: an admin was created. This is shown once. ===");
        println!("  log in at   http://{addr}/login");
        println!("  e-mail      {}", b.email);
        println!("  password    {}", b.password);
        println!("  API token   {}", b.token);
        println!("  Change the password after logging in: click your name, top right.");
        println!("===================================================================\n");
    }
    tracing::info!(%addr, backend = app.state.store.backend(), "Klaxon is listening");
    app.serve(listener, shutdown).await
}

async fn offline_token(
    s: Settings,
    name: &str,
    role: Role,
    user: Option<&str>,
) -> anyhow::Result<()> {
    let name = TokenName::parse(name)?;
    let clock: Arc<dyn klaxon_domain::Clock> = Arc::new(SystemClock);
    let app = App::build(s, clock).await?;
    let state = app.state.clone();
    let owner = match user {
        Some(email) => {
            state
                .store
                .user_credentials(&email.trim().to_lowercase())
                .await
                .with_context(|| format!("no user with e-mail {email}"))?
                .user
        }
        None => {
            let mut after = None;
            loop {
                let page = state.store.list_users(after, 200).await?;
                if let Some(u) = page
                    .items
                    .iter()
                    .find(|u| u.role == Role::Admin && u.active())
                {
                    break u.clone();
                }
                match page.next {
                    Some(n) => after = Some(n),
                    None => {
                        bail!(
                            "there is no active admin yet: start `klaxon serve` once, or pass --user"
                        )
                    }
                }
            }
        }
    };
    if !owner.active() {
        bail!("{} is deactivated: reactivate them first", owner.email);
    }
    if !owner.role.allows(role) {
        bail!(
            "{} is a {}: a token cannot have more power than its user",
            owner.email,
            owner.role
        );
    }
    let (_, secret) =
        klaxon_server::people::api::issue_token(&state, owner.id, name, role, Actor::System)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("{secret}");
    state.store.close().await;
    Ok(())
}

/// A small client for the API: bearer token, JSON in and out, the API's errors as messages.
struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    fn new(args: &ClientArgs) -> anyhow::Result<Self> {
        let token = args
            .token
            .clone()
            .filter(|t| !t.is_empty())
            .context("set KLAXON_TOKEN (or --token) to an API token")?;
        Ok(Self {
            http: reqwest::Client::new(),
            base: args.url.trim_end_matches('/').to_owned(),
            token,
        })
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.send(reqwest::Method::GET, path, None).await
    }

    /// A text answer (Markdown), verbatim; errors still come as the API's JSON.
    async fn get_text(&self, path: &str) -> anyhow::Result<String> {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("cannot reach {}", self.base))?;
        let status = resp.status();
        let body = resp.text().await.context("read the answer")?;
        if !status.is_success() {
            let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            let msg = v["error"]["message"].as_str().unwrap_or("no details");
            bail!("{status}: {msg}");
        }
        Ok(body)
    }

    /// A text body (YAML) sent as `content_type`; the answer is JSON.
    async fn send_text(
        &self,
        method: reqwest::Method,
        path: &str,
        content_type: &str,
        body: String,
    ) -> anyhow::Result<Value> {
        let resp = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .with_context(|| format!("cannot reach {}", self.base))?;
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            let msg = v["error"]["message"].as_str().unwrap_or("no details");
            bail!("{status}: {msg}");
        }
        Ok(v)
    }

    /// Every item of a list, following `next_cursor`, as one `{"items": […], "next_cursor":
    /// null}`: for commands that show a whole list.
    async fn get_all(&self, path: &str) -> anyhow::Result<Value> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut page = format!("{path}{sep}limit=500");
            if let Some(c) = &cursor {
                page.push_str(&format!("&cursor={c}"));
            }
            let v = self.get(&page).await?;
            items.extend(v["items"].as_array().cloned().unwrap_or_default());
            match v["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return Ok(json!({"items": items, "next_cursor": null})),
            }
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("cannot reach {}", self.base))?;
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            let msg = v["error"]["message"].as_str().unwrap_or("no details");
            bail!("{status}: {msg}");
        }
        Ok(v)
    }
}

/// The id and the name (or e-mail address) of what `path` names, which may be a name: for
/// commands that act by id and say by name what they did.
async fn id_and_name(c: &Client, path: &str) -> anyhow::Result<(String, String)> {
    let v = c.get(path).await?;
    let id = v["id"]
        .as_str()
        .context("the server answered without an id")?
        .to_owned();
    let name = v["name"]
        .as_str()
        .filter(|_| v.get("email").is_none())
        .or_else(|| v["email"].as_str())
        .unwrap_or_default()
        .to_owned();
    Ok((id, name))
}

/// `path?limit=…&cursor=…` for a list command's paging flags.
fn paged(path: &str, limit: Option<u32>, cursor: Option<&str>) -> String {
    let mut out = format!("{path}?limit={}", limit.unwrap_or(50));
    if let Some(c) = cursor {
        out.push_str(&format!("&cursor={c}"));
    }
    out
}

/// A listed page, with the flag that shows the next one when there is more.
fn more(mut out: String, page: &Value) -> String {
    if let Some(c) = page["next_cursor"].as_str() {
        out.push_str(&format!("\nmore: --cursor {c}"));
    }
    out
}

/// One line of standard input, without its line ending (passwords are never arguments, so
/// they stay out of shell history and `ps`).
fn stdin_line(what: &str) -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .with_context(|| format!("read {what} from standard input"))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

async fn patch_user(client: &ClientArgs, id: &str, body: Value, done: &str) -> anyhow::Result<()> {
    let v = Client::new(client)?
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/users/{}", services_cli::urlencode(id)),
            Some(body),
        )
        .await?;
    print_or(client, &v, |v| {
        format!(
            "{done} {} ({}, {}{})",
            v["email"].as_str().unwrap_or(""),
            v["name"].as_str().unwrap_or(""),
            v["role"].as_str().unwrap_or(""),
            if v["active"] == json!(false) {
                ", deactivated"
            } else {
                ""
            }
        )
    })
}

fn print_or(args: &ClientArgs, v: &Value, human: impl Fn(&Value) -> String) -> anyhow::Result<()> {
    if args.json {
        println!("{}", serde_json::to_string_pretty(v)?);
    } else {
        println!("{}", human(v));
    }
    Ok(())
}

fn table(items: &Value, cols: &[&str]) -> String {
    let rows: Vec<Vec<String>> = items
        .as_array()
        .map(|a| {
            a.iter()
                .map(|it| {
                    cols.iter()
                        .map(|c| match &it[*c] {
                            Value::String(s) => s.clone(),
                            Value::Null => "-".into(),
                            other => other.to_string(),
                        })
                        .collect()
                })
                .collect()
        })
        .unwrap_or_default();
    let widths: Vec<usize> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| {
            rows.iter()
                .map(|r| r[i].len())
                .chain([c.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let mut out = vec![line(cols.iter().map(|c| c.to_uppercase()).collect())];
    out.extend(rows.into_iter().map(line));
    out.join("\n")
}
