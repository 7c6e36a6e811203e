//! Typed, layered configuration: defaults, then `klaxon.toml`, then `KLAXON_*` variables.
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod runbooks;
pub use runbooks::RunbooksSettings;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub engine: EngineSettings,
    pub log: LogSettings,
    pub smtp: SmtpSettings,
    pub sms: SmsSettings,
    pub incidents: IncidentsSettings,
    pub outgoing: crate::shared::egress::OutgoingSettings,
    pub metrics: MetricsSettings,
    pub status_pages: StatusPagesSettings,
    pub action_items: ActionItemsSettings,
    pub postmortems: PostmortemsSettings,
    pub slos: SlosSettings,
    pub runbooks: RunbooksSettings,
}

/// SLOs (`[slos]`): the Prometheus-compatible sources their SLIs ask, and how long a source
/// may stay silent before its SLOs raise an alert of their own.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SlosSettings {
    /// `[[slos.sources]]`: name, url (the server's base, before `/api/v1/query`) and an
    /// optional `authorization` header value (`Bearer …`, `Basic …`).
    pub sources: Vec<PrometheusSource>,
    /// Minutes a source may give no answer before each SLO on it raises its "silent" alert.
    pub silence_minutes: u32,
    /// Seconds a query may take.
    pub query_timeout_secs: u32,
}

impl Default for SlosSettings {
    fn default() -> Self {
        Self {
            sources: Vec::new(),
            silence_minutes: 10,
            query_timeout_secs: 10,
        }
    }
}

impl SlosSettings {
    pub fn source(&self, name: &str) -> Option<&PrometheusSource> {
        self.sources.iter().find(|s| s.name == name)
    }
}

/// A Prometheus-compatible HTTP API (Prometheus, Thanos, Mimir, VictoriaMetrics).
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PrometheusSource {
    pub name: String,
    pub url: String,
    #[serde(default)]
    pub authorization: Option<String>,
}

/// The authorization header is a secret: never in logs.
impl std::fmt::Debug for PrometheusSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrometheusSource")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("authorization", &self.authorization.as_ref().map(|_| "…"))
            .finish()
    }
}

/// Which incidents need a postmortem, when it is due, and what its template asks.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PostmortemsSettings {
    /// Severities whose incidents must have one; the rest may.
    pub required_severities: Vec<String>,
    /// Days after resolution a postmortem is due, per severity: `"3 calendar"`, `"5 business"`
    /// (Monday to Friday), or empty for no due date.
    pub due_sev1: String,
    pub due_sev2: String,
    pub due_sev3: String,
    pub due_sev4: String,
    /// The template's sections (`[[postmortems.sections]]`: key, title, help), replacing the
    /// default ten when given.
    pub sections: Vec<klaxon_domain::postmortem::SectionDef>,
}

impl Default for PostmortemsSettings {
    fn default() -> Self {
        Self {
            required_severities: vec!["SEV1".into(), "SEV2".into()],
            due_sev1: "3 calendar".into(),
            due_sev2: "5 business".into(),
            due_sev3: String::new(),
            due_sev4: String::new(),
            sections: Vec::new(),
        }
    }
}

impl PostmortemsSettings {
    pub fn rules(
        &self,
    ) -> Result<klaxon_domain::postmortem::PostmortemRules, klaxon_domain::Invalid> {
        use klaxon_domain::Invalid;
        use klaxon_domain::incident::Severity;
        use klaxon_domain::postmortem::{DueRule, PostmortemRules, default_sections};
        let mut required = Vec::new();
        for s in &self.required_severities {
            required.push(
                s.trim()
                    .parse::<Severity>()
                    .map_err(|e| Invalid::new("postmortems.required_severities", e.reason))?,
            );
        }
        let mut due = std::collections::BTreeMap::new();
        for (sev, rule, field) in [
            (Severity::Sev1, &self.due_sev1, "postmortems.due_sev1"),
            (Severity::Sev2, &self.due_sev2, "postmortems.due_sev2"),
            (Severity::Sev3, &self.due_sev3, "postmortems.due_sev3"),
            (Severity::Sev4, &self.due_sev4, "postmortems.due_sev4"),
        ] {
            if !rule.trim().is_empty() {
                due.insert(sev, DueRule::parse(field, rule)?);
            }
        }
        let mut keys = std::collections::BTreeSet::new();
        for s in &self.sections {
            let ok_key = !s.key.is_empty()
                && s.key
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !ok_key || !keys.insert(s.key.clone()) || s.title.trim().is_empty() {
                return Err(Invalid::new(
                    format!("postmortems.sections.{}", s.key),
                    "needs a key of its own (a-z, 0-9, _) and a title",
                ));
            }
        }
        Ok(PostmortemRules {
            required,
            due,
            sections: if self.sections.is_empty() {
                default_sections()
            } else {
                self.sections.clone()
            },
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StatusPagesSettings {
    /// A directory that public status pages are exported to (static files: HTML, JSON, feeds,
    /// badges) within seconds of each change, for a second origin to serve.
    pub export_dir: Option<std::path::PathBuf>,
    /// Self-service e-mail sign-ups one client address may make per minute, over all pages
    /// (0: no limit). Each address is also mailed at most once every 10 minutes.
    pub signups_per_minute: u32,
}

impl Default for StatusPagesSettings {
    fn default() -> Self {
        Self {
            export_dir: None,
            signups_per_minute: 5,
        }
    }
}

/// Action items' due dates and reminders (`[action_items]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ActionItemsSettings {
    /// Days a priority item has when no due date is given.
    pub priority_days: u32,
    /// Days any other item has when no due date is given.
    pub other_days: u32,
    /// Days before the due date that owners are first reminded (then daily until done).
    pub remind_before_days: u32,
}

impl Default for ActionItemsSettings {
    fn default() -> Self {
        let slo = klaxon_domain::action_item::Slo::default();
        Self {
            priority_days: slo.priority_days,
            other_days: slo.other_days,
            remind_before_days: slo.remind_before_days,
        }
    }
}

impl ActionItemsSettings {
    pub fn slo(&self) -> klaxon_domain::action_item::Slo {
        klaxon_domain::action_item::Slo {
            priority_days: self.priority_days,
            other_days: self.other_days,
            remind_before_days: self.remind_before_days,
        }
    }
}

/// Who may read `/metrics` (when `server.metrics` is on).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MetricsAccess {
    /// Callers presenting `Authorization: Bearer <metrics.token>`; with no token set, nobody.
    #[default]
    Token,
    /// Anyone who can reach the server.
    Open,
    /// Anyone who can reach `metrics.listen`, a listener of its own; not the main one.
    Listen,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    pub access: MetricsAccess,
    /// The bearer token Prometheus presents with `access = "token"`.
    pub token: Option<String>,
    /// The address `/metrics` is served on with `access = "listen"`, e.g. `127.0.0.1:9464`.
    pub listen: Option<SocketAddr>,
}

/// How the organisation runs incidents: what each severity means, the priority matrix, and
/// roles of its own beside the built-in ones.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct IncidentsSettings {
    /// `SEV1` .. `SEV4` → the definition shown where people choose a severity.
    pub severities: std::collections::BTreeMap<String, String>,
    pub priority_matrix: PriorityMatrixSettings,
    /// The organisation's own roles (`[[incidents.roles]]`).
    pub roles: Vec<klaxon_domain::incident::RoleDef>,
    /// Ready-made stakeholder updates (`[[incidents.update_templates]]`); the four stages
    /// (investigating, identified, monitoring, resolved) when none are given.
    pub update_templates: Vec<klaxon_domain::incident::UpdateTemplate>,
}

/// One row per impact; each lists the priority for urgency high, medium and low.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PriorityMatrixSettings {
    pub high: Vec<String>,
    pub medium: Vec<String>,
    pub low: Vec<String>,
}

impl Default for IncidentsSettings {
    fn default() -> Self {
        use klaxon_domain::incident::Severity;
        Self {
            severities: Severity::ALL
                .iter()
                .map(|s| (s.to_string(), s.default_definition().to_owned()))
                .collect(),
            priority_matrix: PriorityMatrixSettings::default(),
            roles: Vec::new(),
            update_templates: Vec::new(),
        }
    }
}

impl Default for PriorityMatrixSettings {
    fn default() -> Self {
        let m = klaxon_domain::incident::PriorityMatrix::default();
        let row = |r: usize| m.0[r].iter().map(|p| p.to_string()).collect();
        Self {
            high: row(0),
            medium: row(1),
            low: row(2),
        }
    }
}

/// The incident rules the settings describe, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentRules {
    pub severities: klaxon_domain::incident::SeverityDefinitions,
    pub matrix: klaxon_domain::incident::PriorityMatrix,
    pub roles: klaxon_domain::incident::RoleCatalog,
    pub update_templates: Vec<klaxon_domain::incident::UpdateTemplate>,
}

impl IncidentsSettings {
    pub fn rules(&self) -> Result<IncidentRules, klaxon_domain::Invalid> {
        use klaxon_domain::incident::{PriorityMatrix, RoleCatalog, SeverityDefinitions};
        let m = &self.priority_matrix;
        Ok(IncidentRules {
            severities: SeverityDefinitions::with(&self.severities)?,
            matrix: PriorityMatrix::from_rows(&m.high, &m.medium, &m.low)?,
            roles: RoleCatalog::with_custom(self.roles.clone())?,
            update_templates: {
                let mut keys = std::collections::BTreeSet::new();
                for t in &self.update_templates {
                    let field = format!("incidents.update_templates.{}", t.key);
                    if t.key.trim().is_empty() || !keys.insert(t.key.clone()) {
                        return Err(klaxon_domain::Invalid::new(field, "needs a key of its own"));
                    }
                    if t.text.trim().is_empty() || t.name.trim().is_empty() {
                        return Err(klaxon_domain::Invalid::new(
                            field,
                            "needs a name and a text",
                        ));
                    }
                }
                if self.update_templates.is_empty() {
                    klaxon_domain::incident::UpdateTemplate::defaults()
                } else {
                    self.update_templates.clone()
                }
            },
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The URL people reach Klaxon at; `https://` turns on Secure cookies.
    pub public_url: Option<String>,
    /// Believe `X-Forwarded-For`/`X-Forwarded-Proto` (only behind a proxy you run).
    pub trust_proxy_headers: bool,
    /// Largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// A request taking longer is answered 408.
    pub request_timeout_secs: u64,
    /// A client must send a request's headers within this many seconds, or is disconnected.
    pub header_read_timeout_secs: u64,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// Serve Prometheus metrics at `/metrics`.
    pub metrics: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// `sqlite://path` (default: `./klaxon-data/klaxon.db`) or `postgres://…`.
    pub url: String,
    /// PostgreSQL pool size per instance.
    pub max_connections: u32,
    /// Most writes one group-commit transaction takes.
    pub group_commit_max_batch: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    pub session_idle_minutes: i64,
    pub session_absolute_hours: i64,
    pub login_window_minutes: i64,
    /// Failed password checks per window for one account from one client address (and, through
    /// the API, per user).
    pub login_failures_per_account_and_address: u64,
    /// Failed logins per window for one account from anywhere: much higher, so that a flood
    /// from one address does not lock the owner out.
    pub login_failures_per_account: u64,
    pub login_failures_per_address: u64,
    /// At most this many password hashes are computed at once (argon2 is costly by design).
    pub max_concurrent_hashes: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EngineSettings {
    /// Run the engine in this process. Turn off on API-only instances.
    pub enabled: bool,
    /// How often the engine looks for due jobs, in milliseconds.
    pub tick_interval_ms: u64,
    /// Jobs claimed per tick.
    pub batch: u32,
    /// How long a notification provider (webhook, chat, SMS gateway) gets to answer, in
    /// milliseconds. A provider that does not answer in time may or may not have delivered:
    /// the notification is marked failed, never sent again blindly.
    pub send_timeout_ms: u64,
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain text (a relay on localhost or a test server only).
    None,
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte, "SMTPS" (port 465).
    Tls,
}

/// The mail server e-mail pages go through. E-mail contact methods exist only when `host` is
/// set.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpSettings {
    /// The mail server's host name; unset, no e-mail is sent.
    pub host: Option<String>,
    /// Defaults to 25 (`tls = "none"`), 587 (`starttls`) or 465 (`tls`).
    pub port: Option<u16>,
    /// Log in with these when both are set.
    pub username: Option<String>,
    pub password: Option<String>,
    /// The sender, `klaxon@example.com` or `Klaxon <klaxon@example.com>`; required with `host`.
    pub from: Option<String>,
    /// `none`, `starttls` (default) or `tls`.
    pub tls: SmtpTls,
}

impl SmtpSettings {
    pub fn is_configured(&self) -> bool {
        self.host.as_deref().is_some_and(|h| !h.trim().is_empty())
    }

    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            SmtpTls::None => 25,
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
        })
    }
}

/// A Twilio-compatible HTTP API for text messages and voice calls. SMS and voice contact
/// methods exist only when `account_sid`, `auth_token` and `from` are set.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SmsSettings {
    /// The API's base URL; requests go to `{base_url}/2010-04-01/Accounts/{account_sid}/…`.
    pub base_url: String,
    pub account_sid: Option<String>,
    pub auth_token: Option<String>,
    /// The number messages and calls come from, in international form (`+14155550100`).
    pub from: Option<String>,
}

impl Default for SmsSettings {
    fn default() -> Self {
        Self {
            base_url: "https://api.twilio.com".into(),
            account_sid: None,
            auth_token: None,
            from: None,
        }
    }
}

impl SmsSettings {
    pub fn is_configured(&self) -> bool {
        [&self.account_sid, &self.auth_token, &self.from]
            .iter()
            .all(|v| v.as_deref().is_some_and(|v| !v.trim().is_empty()))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// A tracing filter, e.g. `info` or `klaxon_server=debug,info`.
    pub filter: String,
    /// `text` or `json`.
    pub format: String,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".parse().expect("valid address"),
            public_url: None,
            trust_proxy_headers: false,
            body_limit_bytes: 1024 * 1024,
            request_timeout_secs: 30,
            header_read_timeout_secs: 10,
            max_connections: 512,
            metrics: true,
        }
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: "sqlite://./klaxon-data/klaxon.db".into(),
            max_connections: 16,
            group_commit_max_batch: 512,
        }
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            session_idle_minutes: 30,
            session_absolute_hours: 12,
            login_window_minutes: 15,
            login_failures_per_account_and_address: 10,
            login_failures_per_account: 25,
            login_failures_per_address: 50,
            max_concurrent_hashes: 2,
        }
    }
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            tick_interval_ms: 1000,
            batch: 64,
            send_timeout_ms: 10_000,
        }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            filter: "info".into(),
            format: "text".into(),
        }
    }
}

/// Environment variables and the setting each one sets. Documented in docs/configuration.md.
/// `KLAXON_*` variables that are not the server's settings: the command-line client's and
/// the tests'. Start-up does not warn about these.
const OTHER_ENV_VARS: &[&str] = &[
    "KLAXON_URL",
    "KLAXON_TOKEN",
    "KLAXON_PASSWORD",
    "KLAXON_CONFIG",
];

/// The `KLAXON_*` variables in `env` that no setting reads: most likely misspelt, so the server
/// warns about them at start-up instead of ignoring them without a word.
pub fn unknown_env_vars(env: impl IntoIterator<Item = (String, String)>) -> Vec<String> {
    let mut unknown: Vec<String> = env
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| k.to_ascii_uppercase().starts_with("KLAXON_"))
        .filter(|k| {
            !ENV_VARS.iter().any(|(known, _)| known == k)
                && !OTHER_ENV_VARS.contains(&k.as_str())
                && !k.starts_with("KLAXON_TEST_")
        })
        .collect();
    unknown.sort();
    unknown
}

pub const ENV_VARS: &[(&str, &str)] = &[
    ("KLAXON_LISTEN", "server.listen"),
    ("KLAXON_PUBLIC_URL", "server.public_url"),
    ("KLAXON_TRUST_PROXY_HEADERS", "server.trust_proxy_headers"),
    ("KLAXON_BODY_LIMIT_BYTES", "server.body_limit_bytes"),
    ("KLAXON_REQUEST_TIMEOUT_SECS", "server.request_timeout_secs"),
    (
        "KLAXON_HEADER_READ_TIMEOUT_SECS",
        "server.header_read_timeout_secs",
    ),
    ("KLAXON_MAX_CONNECTIONS", "server.max_connections"),
    ("KLAXON_METRICS", "server.metrics"),
    ("KLAXON_DATABASE_URL", "database.url"),
    (
        "KLAXON_DATABASE_MAX_CONNECTIONS",
        "database.max_connections",
    ),
    (
        "KLAXON_GROUP_COMMIT_MAX_BATCH",
        "database.group_commit_max_batch",
    ),
    ("KLAXON_SESSION_IDLE_MINUTES", "auth.session_idle_minutes"),
    (
        "KLAXON_SESSION_ABSOLUTE_HOURS",
        "auth.session_absolute_hours",
    ),
    ("KLAXON_LOGIN_WINDOW_MINUTES", "auth.login_window_minutes"),
    (
        "KLAXON_LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS",
        "auth.login_failures_per_account_and_address",
    ),
    (
        "KLAXON_LOGIN_FAILURES_PER_ACCOUNT",
        "auth.login_failures_per_account",
    ),
    (
        "KLAXON_LOGIN_FAILURES_PER_ADDRESS",
        "auth.login_failures_per_address",
    ),
    ("KLAXON_MAX_CONCURRENT_HASHES", "auth.max_concurrent_hashes"),
    ("KLAXON_ENGINE_ENABLED", "engine.enabled"),
    ("KLAXON_ENGINE_TICK_INTERVAL_MS", "engine.tick_interval_ms"),
    ("KLAXON_ENGINE_SEND_TIMEOUT_MS", "engine.send_timeout_ms"),
    ("KLAXON_ENGINE_BATCH", "engine.batch"),
    ("KLAXON_LOG", "log.filter"),
    ("KLAXON_LOG_FORMAT", "log.format"),
    ("KLAXON_SMTP_HOST", "smtp.host"),
    ("KLAXON_SMTP_PORT", "smtp.port"),
    ("KLAXON_SMTP_USERNAME", "smtp.username"),
    ("KLAXON_SMTP_PASSWORD", "smtp.password"),
    ("KLAXON_SMTP_FROM", "smtp.from"),
    ("KLAXON_SMTP_TLS", "smtp.tls"),
    ("KLAXON_SMS_BASE_URL", "sms.base_url"),
    ("KLAXON_SMS_ACCOUNT_SID", "sms.account_sid"),
    ("KLAXON_SMS_AUTH_TOKEN", "sms.auth_token"),
    ("KLAXON_SMS_FROM", "sms.from"),
    ("KLAXON_METRICS_ACCESS", "metrics.access"),
    ("KLAXON_METRICS_TOKEN", "metrics.token"),
    ("KLAXON_METRICS_LISTEN", "metrics.listen"),
    ("KLAXON_OUTGOING_ALLOW", "outgoing.allow"),
    ("KLAXON_STATUS_PAGES_EXPORT_DIR", "status_pages.export_dir"),
    (
        "KLAXON_STATUS_PAGES_SIGNUPS_PER_MINUTE",
        "status_pages.signups_per_minute",
    ),
    (
        "KLAXON_ACTION_ITEMS_PRIORITY_DAYS",
        "action_items.priority_days",
    ),
    ("KLAXON_ACTION_ITEMS_OTHER_DAYS", "action_items.other_days"),
    (
        "KLAXON_ACTION_ITEMS_REMIND_BEFORE_DAYS",
        "action_items.remind_before_days",
    ),
    (
        "KLAXON_POSTMORTEMS_REQUIRED_SEVERITIES",
        "postmortems.required_severities",
    ),
    ("KLAXON_POSTMORTEMS_DUE_SEV1", "postmortems.due_sev1"),
    ("KLAXON_POSTMORTEMS_DUE_SEV2", "postmortems.due_sev2"),
    ("KLAXON_POSTMORTEMS_DUE_SEV3", "postmortems.due_sev3"),
    ("KLAXON_POSTMORTEMS_DUE_SEV4", "postmortems.due_sev4"),
    ("KLAXON_SLOS_SILENCE_MINUTES", "slos.silence_minutes"),
    ("KLAXON_SLOS_QUERY_TIMEOUT_SECS", "slos.query_timeout_secs"),
    (
        "KLAXON_RUNBOOKS_OUTPUT_SHOWN_BYTES",
        "runbooks.output_shown_bytes",
    ),
    ("KLAXON_RUNBOOKS_SECRET_KEY", "runbooks.secret_key"),
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
}

impl Settings {
    /// Defaults, then the TOML file (`path`, or `./klaxon.toml` if it exists), then the
    /// environment (`env` is passed in so tests need not touch the process environment).
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut tree =
            toml::Table::try_from(Settings::default()).map_err(|e| ConfigError::Invalid {
                origin: "defaults".into(),
                message: e.to_string(),
            })?;
        let file = match path {
            Some(p) => Some(p.to_owned()),
            None => Some(PathBuf::from("klaxon.toml")).filter(|p| p.exists()),
        };
        let mut origin = "defaults".to_owned();
        if let Some(file) = file {
            let text = std::fs::read_to_string(&file).map_err(|source| ConfigError::Read {
                path: file.clone(),
                source,
            })?;
            let overlay: toml::Table =
                text.parse()
                    .map_err(|e: toml::de::Error| ConfigError::Invalid {
                        origin: file.display().to_string(),
                        message: e.message().to_owned(),
                    })?;
            merge(&mut tree, overlay);
            origin = file.display().to_string();
        }
        for (key, value) in env {
            let Some((_, path)) = ENV_VARS.iter().find(|(k, _)| *k == key) else {
                continue;
            };
            let (section, field) = path.split_once('.').expect("section.field");
            // Check the variable alone first, so an error names the variable and its setting.
            let alone = |v: toml::Value| {
                let mut alone = toml::Table::new();
                let mut inner = toml::Table::new();
                inner.insert(field.to_owned(), v);
                alone.insert(section.to_owned(), toml::Value::Table(inner));
                toml::Value::Table(alone).try_into::<Settings>()
            };
            let typed = if matches!(*path, "outgoing.allow" | "postmortems.required_severities") {
                // A list: comma-separated in one variable.
                toml::Value::Array(
                    value
                        .split(',')
                        .map(str::trim)
                        .filter(|v| !v.is_empty())
                        .map(|v| toml::Value::String(v.to_owned()))
                        .collect(),
                )
            } else {
                env_value(&value)
            };
            let value = match alone(typed.clone()) {
                Ok(_) => typed,
                // A text setting whose value looks like a number or a boolean (a password of
                // digits, a phone number): keep it as the text it is.
                Err(first) => match alone(toml::Value::String(value.clone())) {
                    Ok(_) => toml::Value::String(value),
                    Err(_) => {
                        return Err(ConfigError::Invalid {
                            origin: format!("environment variable {key} ({path})"),
                            message: first.message().to_owned(),
                        });
                    }
                },
            };
            let table = tree
                .entry(section)
                .or_insert_with(|| toml::Value::Table(Default::default()));
            if let toml::Value::Table(t) = table {
                t.insert(field.to_owned(), value);
            }
            origin = format!("{origin} + environment");
        }
        let settings: Settings =
            toml::Value::Table(tree)
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Invalid {
                    origin: origin.clone(),
                    message: e.message().to_owned(),
                })?;
        settings
            .check()
            .map_err(|message| ConfigError::Invalid { origin, message })?;
        Ok(settings)
    }

    fn check(&self) -> Result<(), String> {
        let url = &self.database.url;
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(
                "database.url must start with sqlite:, postgres:// or postgresql://".into(),
            );
        }
        let ai = &self.action_items;
        if ai.priority_days == 0
            || ai.other_days == 0
            || ai.priority_days > 3650
            || ai.other_days > 3650
        {
            return Err(
                "action_items.priority_days and action_items.other_days must be 1 to 3650".into(),
            );
        }
        if ai.remind_before_days > 3650 {
            return Err("action_items.remind_before_days must be at most 3650".into());
        }
        let slos = &self.slos;
        for (i, s) in slos.sources.iter().enumerate() {
            if s.name.trim().is_empty() || slos.sources[..i].iter().any(|o| o.name == s.name) {
                return Err("slos.sources need names, each used once".into());
            }
            if !(s.url.starts_with("http://") || s.url.starts_with("https://")) {
                return Err(format!(
                    "slos.sources {:?}: url must be an http:// or https:// URL",
                    s.name
                ));
            }
        }
        if slos.silence_minutes == 0 || slos.query_timeout_secs == 0 {
            return Err("slos.silence_minutes and slos.query_timeout_secs must be positive".into());
        }
        if !(256..=1024 * 1024).contains(&self.runbooks.output_shown_bytes) {
            return Err("runbooks.output_shown_bytes must be 256 to 1048576".into());
        }
        if self.runbooks.secret_key.is_some() && self.runbooks.seal_key().is_none() {
            return Err("runbooks.secret_key must be 64 hex digits (openssl rand -hex 32)".into());
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err("log.format must be text or json".into());
        }
        if self.engine.tick_interval_ms == 0
            || self.engine.batch == 0
            || self.engine.send_timeout_ms == 0
        {
            return Err(
                "engine.tick_interval_ms, engine.batch and engine.send_timeout_ms must be positive"
                    .into(),
            );
        }
        if self.server.header_read_timeout_secs == 0 || self.server.max_connections == 0 {
            return Err(
                "server.header_read_timeout_secs and server.max_connections must be positive"
                    .into(),
            );
        }
        if self.auth.session_idle_minutes <= 0 || self.auth.session_absolute_hours <= 0 {
            return Err("auth session lifetimes must be positive".into());
        }
        self.incidents.rules().map_err(|e| e.to_string())?;
        self.postmortems.rules().map_err(|e| e.to_string())?;
        crate::shared::egress::Rules::new(&self.outgoing)?;
        let m = &self.metrics;
        match m.access {
            MetricsAccess::Token if m.token.as_deref().is_some_and(|t| t.trim().len() < 16) => {
                return Err("metrics.token must be at least 16 characters".into());
            }
            MetricsAccess::Listen if m.listen.is_none() => {
                return Err("metrics.listen must be set when metrics.access is \"listen\"".into());
            }
            MetricsAccess::Listen if m.listen == Some(self.server.listen) => {
                return Err("metrics.listen must differ from server.listen".into());
            }
            _ => {}
        }
        let smtp = &self.smtp;
        if smtp.is_configured() {
            match smtp.from.as_deref() {
                None => return Err("smtp.from must be set when smtp.host is".into()),
                Some(from) => {
                    from.parse::<lettre::message::Mailbox>().map_err(|e| {
                        format!("smtp.from is not an e-mail address ({e}): {from:?}")
                    })?;
                }
            }
            if smtp.username.is_some() != smtp.password.is_some() {
                return Err(
                    "smtp.username and smtp.password are set together or not at all".into(),
                );
            }
        }
        let sms = &self.sms;
        let set = [&sms.account_sid, &sms.auth_token, &sms.from]
            .iter()
            .filter(|v| v.is_some())
            .count();
        if set != 0 && set != 3 {
            return Err(
                "sms.account_sid, sms.auth_token and sms.from are set together or not at all"
                    .into(),
            );
        }
        if sms.is_configured() {
            if !(sms.base_url.starts_with("https://") || sms.base_url.starts_with("http://")) {
                return Err("sms.base_url must be an http:// or https:// URL".into());
            }
            let from = sms.from.as_deref().unwrap_or_default();
            klaxon_domain::contact::address(klaxon_domain::contact::ContactKind::Sms, from)
                .map_err(|e| format!("sms.from {}", e.reason))?;
        }
        Ok(())
    }

    /// The configuration as TOML with secrets (database, SMTP and SMS passwords) masked.
    pub fn to_masked_toml(&self) -> String {
        let mut masked = self.clone();
        masked.database.url = mask_url_password(&masked.database.url);
        let mask = |secret: &mut Option<String>| {
            if secret.is_some() {
                *secret = Some("****".into());
            }
        };
        mask(&mut masked.smtp.password);
        mask(&mut masked.sms.auth_token);
        mask(&mut masked.metrics.token);
        for src in &mut masked.slos.sources {
            mask(&mut src.authorization);
            src.url = mask_url_password(&src.url);
        }
        toml::to_string_pretty(&masked).unwrap_or_default()
    }

    pub fn is_sqlite(&self) -> bool {
        self.database.url.starts_with("sqlite:")
    }

    /// Secure cookies when Klaxon is reached over TLS.
    pub fn public_url_is_https(&self) -> bool {
        self.server
            .public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
    }
}

/// Environment values are strings; numbers and booleans become typed so they deserialize.
fn env_value(raw: &str) -> toml::Value {
    if let Ok(b) = raw.parse::<bool>() {
        return toml::Value::Boolean(b);
    }
    if let Ok(n) = raw.parse::<i64>() {
        return toml::Value::Integer(n);
    }
    toml::Value::String(raw.to_owned())
}

fn merge(base: &mut toml::Table, overlay: toml::Table) {
    for (k, v) in overlay {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// Hides the passwords in a database URL: `postgres://user:secret@host/db` →
/// `postgres://user:****@host/db`, and the value of any `password=` or `sslpassword=` query
/// parameter. The user part runs to the last `@` before the query: a host, a port or a database
/// name has no `@`, so a password with an unencoded `@` (or `/`) is hidden whole, never in part.
pub fn mask_url_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let (head, rest) = url.split_at(scheme_end);
    let before_query = &rest[..rest.find('?').unwrap_or(rest.len())];
    let user_end = before_query.rfind('@').or_else(|| {
        // `user:pa?ss@host`: an unencoded `?` in the password. What precedes it is then a
        // user and part of a password, not `host` or `host:port` (or `[ipv6]:port`).
        let host_and_port = before_query.contains('/')
            || before_query.starts_with('[')
            || before_query
                .rsplit_once(':')
                .is_none_or(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()));
        if host_and_port { None } else { rest.rfind('@') }
    });
    let (user, tail) = match user_end.and_then(|at| Some((rest[..at].split_once(':')?.0, at))) {
        Some((user, at)) => (format!("{user}:****"), &rest[at..]),
        None => (String::new(), rest),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|param| match param.split_once('=') {
                    Some((name, _))
                        if name.eq_ignore_ascii_case("password")
                            || name.eq_ignore_ascii_case("sslpassword") =>
                    {
                        format!("{name}=****")
                    }
                    _ => param.to_owned(),
                })
                .collect();
            format!("{path}?{}", params.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{head}{user}{tail}")
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
