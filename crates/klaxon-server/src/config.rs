//! Typed, layered configuration: defaults, then `klaxon.toml`, then `KLAXON_*` variables.
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub engine: EngineSettings,
    pub log: LogSettings,
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
            login_failures_per_account: 10,
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
pub const ENV_VARS: &[(&str, &str)] = &[
    ("KLAXON_LISTEN", "server.listen"),
    ("KLAXON_PUBLIC_URL", "server.public_url"),
    ("KLAXON_TRUST_PROXY_HEADERS", "server.trust_proxy_headers"),
    ("KLAXON_BODY_LIMIT_BYTES", "server.body_limit_bytes"),
    ("KLAXON_REQUEST_TIMEOUT_SECS", "server.request_timeout_secs"),
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
            let mut alone = toml::Table::new();
            let mut inner = toml::Table::new();
            inner.insert(field.to_owned(), env_value(&value));
            alone.insert(section.to_owned(), toml::Value::Table(inner));
            toml::Value::Table(alone)
                .try_into::<Settings>()
                .map_err(|e| ConfigError::Invalid {
                    origin: format!("environment variable {key} ({path})"),
                    message: e.message().to_owned(),
                })?;
            let table = tree
                .entry(section)
                .or_insert_with(|| toml::Value::Table(Default::default()));
            if let toml::Value::Table(t) = table {
                t.insert(field.to_owned(), env_value(&value));
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
        if self.auth.session_idle_minutes <= 0 || self.auth.session_absolute_hours <= 0 {
            return Err("auth session lifetimes must be positive".into());
        }
        Ok(())
    }

    /// The configuration as TOML with secrets (database password) masked.
    pub fn to_masked_toml(&self) -> String {
        let mut masked = self.clone();
        masked.database.url = mask_url_password(&masked.database.url);
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

/// `postgres://user:secret@host/db` → `postgres://user:****@host/db`.
pub fn mask_url_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let Some(at) = rest.find('@') else {
        return url.to_owned();
    };
    match rest[..at].split_once(':') {
        Some((user, _)) => format!("{}{user}:****{}", &url[..scheme_end], &rest[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_then_file_then_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("klaxon.toml");
        std::fs::write(
            &file,
            "[server]\nlisten = \"0.0.0.0:9000\"\nmetrics = false\n[engine]\nbatch = 5\n",
        )
        .unwrap();
        let s = Settings::load(
            Some(&file),
            env(&[
                ("KLAXON_LISTEN", "127.0.0.1:7000"),
                ("KLAXON_ENGINE_TICK_INTERVAL_MS", "250"),
                ("HOME", "/x"),
            ]),
        )
        .unwrap();
        assert_eq!(s.server.listen.to_string(), "127.0.0.1:7000"); // env beats file
        assert!(!s.server.metrics); // file beats default
        assert_eq!(s.engine.batch, 5);
        assert_eq!(s.engine.tick_interval_ms, 250);
        assert_eq!(s.database.url, "sqlite://./klaxon-data/klaxon.db"); // default
    }

    #[test]
    fn bad_values_name_their_origin_and_field() {
        let err = Settings::load(None, env(&[("KLAXON_ENGINE_BATCH", "many")])).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("environment") && msg.contains("batch"),
            "{msg}"
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("k.toml");
        std::fs::write(&file, "[server]\nlisten_on = \"x\"\n").unwrap();
        let msg = Settings::load(Some(&file), vec![]).unwrap_err().to_string();
        assert!(msg.contains("listen_on"), "{msg}");
        let msg = Settings::load(None, env(&[("KLAXON_DATABASE_URL", "mysql://x")]))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("database.url"), "{msg}");
    }

    #[test]
    fn secrets_are_masked() {
        let s = Settings::load(
            None,
            env(&[(
                "KLAXON_DATABASE_URL",
                "postgres://klaxon:hunter2@db:5432/klaxon",
            )]),
        )
        .unwrap();
        let shown = s.to_masked_toml();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("postgres://klaxon:****@db:5432/klaxon"),
            "{shown}"
        );
        assert_eq!(mask_url_password("sqlite://./x.db"), "sqlite://./x.db");
    }
}
