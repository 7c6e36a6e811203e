//! Runbooks as code: a Markdown document with YAML front matter (name, parameters, where it
//! applies) and typed steps. Each `## ` heading starts a step; the text under it is the step's
//! note. A fenced block `klaxon-http`, `klaxon-command` or `klaxon-approval` under the heading
//! makes it that kind of step (its YAML says what to do); without one it is a manual step, a
//! checklist item. Parsing checks everything a run relies on, so a saved version can run.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Invalid;

pub mod diff;
mod parse;
pub mod run;
pub mod runner;
pub mod template;

pub(crate) use parse::is_runbook_name;
pub use parse::parse;
use template::Template;

/// The longest document accepted (a runbook, not a book).
pub const MAX_SOURCE: usize = 256 * 1024;
/// A command's time limit when the step gives none, and the most it may give.
pub const DEFAULT_TIMEOUT_SECS: u32 = 300;
pub const MAX_TIMEOUT_SECS: u32 = 24 * 3600;
/// The most an HTTP step may wait for its answer.
pub const HTTP_MAX_TIMEOUT_SECS: u32 = 30;
/// A command's output limit when the step gives none, and the most it may give.
pub const DEFAULT_OUTPUT_LIMIT: u32 = 1024 * 1024;
pub const MAX_OUTPUT_LIMIT: u32 = 16 * 1024 * 1024;

/// A parsed, checked runbook document.
#[derive(Debug, Clone, PartialEq)]
pub struct Runbook {
    /// Its key: lower-case letters, digits and dashes; unique.
    pub name: String,
    pub title: String,
    /// The Markdown before the first step.
    pub intro: String,
    /// Service names it is suggested for.
    pub services: Vec<String>,
    /// It is suggested for an incident one of whose alerts matches any of these.
    pub matchers: Vec<Matcher>,
    pub params: Vec<Param>,
    pub steps: Vec<Step>,
}

/// Alert fields and the values they must have, all of them (`*` matches any run of
/// characters). Fields: summary, source, severity, component, group, class, dedup_key, or
/// details.<path>.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Matcher(pub BTreeMap<String, String>);

impl Matcher {
    /// Refuses a field matchers do not know (an alert field, or `details.<path>`), blaming
    /// `at.<field>`: a typo would otherwise never match, silently.
    pub fn check_field(at: &str, k: &str) -> Result<(), Invalid> {
        let ok = k
            .strip_prefix("details.")
            .is_some_and(|p| p.split('.').all(|s| !s.is_empty()))
            || template::ALERT_FIELDS.contains(&k);
        if ok {
            Ok(())
        } else {
            Err(Invalid::new(
                format!("{at}.{k}"),
                format!(
                    "unknown alert field; use {} or details.<path>",
                    template::ALERT_FIELDS.join(", ")
                ),
            ))
        }
    }

    /// Whether an alert with these fields (and details) matches.
    pub fn matches(&self, fields: &BTreeMap<String, String>, details: &serde_json::Value) -> bool {
        self.0.iter().all(|(k, want)| {
            let have = match k.strip_prefix("details.") {
                Some(path) => {
                    let mut v = details;
                    for part in path.split('.') {
                        v = v.get(part).unwrap_or(&serde_json::Value::Null);
                    }
                    match v {
                        serde_json::Value::String(s) => Some(s.clone()),
                        serde_json::Value::Null => None,
                        other => Some(other.to_string()),
                    }
                }
                None => fields.get(k).cloned(),
            };
            have.is_some_and(|h| crate::check::glob(want, &h))
        })
    }
}

/// An alert's own fields by the names matchers and templates use (absent ones left out).
pub fn alert_fields(c: &crate::alert::AlertContent, dedup_key: &str) -> BTreeMap<String, String> {
    let mut m = BTreeMap::from([
        ("summary".to_owned(), c.summary.clone()),
        ("severity".to_owned(), c.severity.as_str().to_owned()),
        ("dedup_key".to_owned(), dedup_key.to_owned()),
    ]);
    for (k, v) in [
        ("source", &c.source),
        ("component", &c.component),
        ("group", &c.group),
        ("class", &c.class),
    ] {
        if let Some(v) = v {
            m.insert(k.to_owned(), v.clone());
        }
    }
    m
}

/// A parameter a run is started with.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: String,
    pub kind: ParamKind,
    pub description: String,
    /// Filled from the incident when the run starts, unless given.
    pub default: Option<Template>,
    pub default_text: Option<String>,
    pub required: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case", tag = "type", content = "values")]
pub enum ParamKind {
    String,
    Integer,
    Number,
    Boolean,
    Choice(Vec<String>),
}

impl Param {
    /// Checks a value given for this parameter; the value as the run keeps it.
    pub fn check(&self, value: &str) -> Result<String, Invalid> {
        let field = format!("params.{}", self.name);
        let v = value.trim();
        if v.is_empty() {
            return if self.required {
                Err(Invalid::new(field, "is required"))
            } else {
                Ok(String::new())
            };
        }
        match &self.kind {
            ParamKind::String => Ok(value.to_owned()),
            ParamKind::Integer => v
                .parse::<i64>()
                .map(|n| n.to_string())
                .map_err(|_| Invalid::new(field, format!("`{v}` is not a whole number"))),
            ParamKind::Number => v
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .map(|_| v.to_owned())
                .ok_or_else(|| Invalid::new(field, format!("`{v}` is not a number"))),
            ParamKind::Boolean => match v.to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" => Ok("true".into()),
                "false" | "no" | "0" => Ok("false".into()),
                _ => Err(Invalid::new(field, format!("`{v}` is not true or false"))),
            },
            ParamKind::Choice(values) => values
                .iter()
                .find(|c| c.as_str() == v)
                .cloned()
                .ok_or_else(|| {
                    Invalid::new(field, format!("`{v}` is not one of {}", values.join(", ")))
                }),
        }
    }
}

/// One step of a runbook.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub title: String,
    /// The Markdown under the heading, without the step's own block.
    pub note: String,
    pub kind: StepKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    Manual,
    Http(HttpStep),
    Command(CommandStep),
    Approval(Approver),
}

impl StepKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            StepKind::Manual => "manual",
            StepKind::Http(_) => "http",
            StepKind::Command(_) => "command",
            StepKind::Approval(_) => "approval",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct HttpStep {
    pub method: String,
    pub url: Template,
    pub headers: Vec<(String, Template)>,
    pub body: Option<Template>,
    pub timeout_secs: u32,
    /// The block as written, shown to people.
    pub source: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CommandStep {
    /// The program and its arguments, each filled as one argument (never as shell text).
    pub run: Vec<Template>,
    pub env: Vec<(String, Template)>,
    /// The labels a runner needs to take it.
    pub runner: BTreeMap<String, String>,
    /// Run through `sh -c` with the arguments as `$1…` (the step says so; admins only).
    pub shell: bool,
    pub timeout_secs: u32,
    pub output_limit: u32,
    pub source: String,
}

/// Who approves before the run goes past an approval step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum Approver {
    /// A user, by e-mail address.
    User(String),
    /// Whoever holds this role in the incident (`commander`, …).
    IncidentRole(String),
    /// Anyone with this Klaxon role or a higher one (`responder`, `admin`).
    KlaxonRole(String),
}

/// A secret's name as templates write it (`{{ secrets.LB_TOKEN }}`): capital letters, digits
/// and `_`, starting with a letter, at most 64.
pub fn secret_name(raw: &str) -> Result<String, Invalid> {
    let ok = raw.len() <= 64
        && raw.starts_with(|c: char| c.is_ascii_uppercase())
        && raw
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(Invalid::new(
            "name",
            "a secret's name is capital letters, digits and _, starting with a letter (LB_TOKEN)",
        ))
    }
}

/// The longest secret value kept.
pub const MAX_SECRET: usize = 16 * 1024;

impl Runbook {
    /// Whether any step runs a command (only admins save or enable those).
    pub fn has_commands(&self) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(s.kind, StepKind::Command(_)))
    }

    /// Whether any step names a secret (only admins save those: whoever writes the step
    /// decides where the secret is sent).
    pub fn uses_secrets(&self) -> bool {
        self.steps.iter().any(|s| match &s.kind {
            StepKind::Http(h) => std::iter::once(&h.url)
                .chain(h.headers.iter().map(|(_, v)| v))
                .chain(h.body.iter())
                .any(Template::uses_secrets),
            StepKind::Command(c) => c
                .run
                .iter()
                .chain(c.env.iter().map(|(_, v)| v))
                .any(Template::uses_secrets),
            _ => false,
        })
    }
}

#[cfg(test)]
mod tests;
