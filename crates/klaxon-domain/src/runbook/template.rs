//! Templates in runbooks: `{{ incident.service }}`, `{{ alert.details.host }}`,
//! `{{ params.host }}`, `{{ secrets.TOKEN }}`. A template is checked when its runbook is saved
//! (an unknown field is refused, named) and filled when a run starts. Filling never builds
//! shell text: each template fills one value (one argument, one header, one variable).
use std::collections::BTreeMap;

use serde_json::Value;

use crate::Invalid;

/// The incident fields a template can name.
pub const INCIDENT_FIELDS: &[&str] = &[
    "id", "number", "title", "status", "severity", "priority", "category", "service", "url",
];
/// The alert fields a template can name, besides `details.<path>`.
pub const ALERT_FIELDS: &[&str] = &[
    "summary",
    "source",
    "severity",
    "component",
    "group",
    "class",
    "dedup_key",
];

/// One piece of a template: text as written, or a reference to fill.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Ref(Ref),
}

/// What a `{{ … }}` names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Ref {
    Incident(String),
    /// The alert's own field, or `details` with a dotted path into its details.
    Alert(String),
    AlertDetails(Vec<String>),
    Param(String),
    Secret(String),
}

/// A checked template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

/// What the references of one template may name: params and secrets only where allowed.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub params: Option<&'a [String]>,
    pub secrets: bool,
}

/// The values a run fills templates from. `alert` is the incident's first alert, if any.
#[derive(Clone, Default)]
pub struct Context {
    pub incident: BTreeMap<String, String>,
    pub alert: Option<BTreeMap<String, String>>,
    pub alert_details: Value,
    pub params: BTreeMap<String, String>,
    pub secrets: BTreeMap<String, String>,
}

/// Secrets' values stay out of any debug output.
impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("incident", &self.incident)
            .field("alert", &self.alert)
            .field("params", &self.params)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl Template {
    /// Parses and checks `text`; `field` names it in a refusal.
    pub fn parse(field: &str, text: &str, scope: Scope<'_>) -> Result<Template, Invalid> {
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 2..];
            let Some(close) = after.find("}}") else {
                return Err(Invalid::new(field, "a `{{` is not closed by `}}`"));
            };
            pieces.push(Piece::Ref(parse_ref(field, after[..close].trim(), scope)?));
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_owned()));
        }
        Ok(Template { pieces })
    }

    /// What this template names, each once.
    pub fn refs(&self) -> impl Iterator<Item = &Ref> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Ref(r) => Some(r),
            Piece::Text(_) => None,
        })
    }

    pub fn uses_secrets(&self) -> bool {
        self.refs().any(|r| matches!(r, Ref::Secret(_)))
    }

    /// Fills the template. A field the incident lacks (no alert, a detail not sent) fills as
    /// empty text; a secret that is not in the store is an error naming it.
    pub fn render(&self, cx: &Context) -> Result<String, Invalid> {
        self.render_with(cx, str::to_owned)
    }

    /// Fills a URL: each value percent-encoded (all but letters, digits and `-._~`), so a
    /// value cannot add a path segment, a query or a fragment.
    pub fn render_url(&self, cx: &Context) -> Result<String, Invalid> {
        self.render_with(cx, percent_encode)
    }

    fn render_with(
        &self,
        cx: &Context,
        escape: impl Fn(&str) -> String,
    ) -> Result<String, Invalid> {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Ref(r) => out.push_str(&escape(&lookup(r, cx)?)),
            }
        }
        Ok(out)
    }

    /// The text before the first `{{`: where a URL's scheme and host must be written out.
    pub fn literal_prefix(&self) -> &str {
        match self.pieces.first() {
            Some(Piece::Text(t)) => t,
            _ => "",
        }
    }
}

/// Every byte but the unreserved ones (RFC 3986) as `%XX`.
pub fn percent_encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Template {}

fn lookup(r: &Ref, cx: &Context) -> Result<String, Invalid> {
    Ok(match r {
        Ref::Incident(f) => cx.incident.get(f).cloned().unwrap_or_default(),
        Ref::Alert(f) => cx
            .alert
            .as_ref()
            .and_then(|a| a.get(f).cloned())
            .unwrap_or_default(),
        Ref::AlertDetails(path) => {
            let mut v = &cx.alert_details;
            for k in path {
                v = match v {
                    Value::Object(m) => m.get(k).unwrap_or(&Value::Null),
                    Value::Array(a) => k
                        .parse::<usize>()
                        .ok()
                        .and_then(|i| a.get(i))
                        .unwrap_or(&Value::Null),
                    _ => &Value::Null,
                };
            }
            match v {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }
        }
        Ref::Param(p) => cx.params.get(p).cloned().unwrap_or_default(),
        Ref::Secret(s) => cx
            .secrets
            .get(s)
            .cloned()
            .ok_or_else(|| Invalid::new(format!("secrets.{s}"), "no secret of that name"))?,
    })
}

fn parse_ref(field: &str, inner: &str, scope: Scope<'_>) -> Result<Ref, Invalid> {
    let bad = |reason: String| Invalid::new(field, reason);
    let parts: Vec<&str> = inner.split('.').collect();
    if parts.iter().any(|p| !is_name(p)) {
        return Err(bad(format!(
            "`{{{{ {inner} }}}}` is not a field name (letters, digits, `_` and `-` joined by dots)"
        )));
    }
    match parts.as_slice() {
        ["incident", f] if INCIDENT_FIELDS.contains(f) => Ok(Ref::Incident((*f).into())),
        ["incident", ..] => Err(bad(format!(
            "unknown field `{inner}`; an incident has {}",
            INCIDENT_FIELDS.join(", ")
        ))),
        ["alert", "details", path @ ..] if !path.is_empty() => Ok(Ref::AlertDetails(
            path.iter().map(|s| (*s).to_owned()).collect(),
        )),
        ["alert", f] if ALERT_FIELDS.contains(f) => Ok(Ref::Alert((*f).into())),
        ["alert", ..] => Err(bad(format!(
            "unknown field `{inner}`; an alert has {} and details.<path>",
            ALERT_FIELDS.join(", ")
        ))),
        ["params", p] => match scope.params {
            Some(known) if known.iter().any(|k| k == p) => Ok(Ref::Param((*p).into())),
            Some(_) => Err(bad(format!("unknown field `{inner}`: no parameter `{p}`"))),
            None => Err(bad(format!(
                "`{inner}`: a parameter's default cannot name parameters"
            ))),
        },
        ["secrets", s] if scope.secrets => super::secret_name(s)
            .map(Ref::Secret)
            .map_err(|e| bad(format!("`{inner}`: {}", e.reason))),
        ["secrets", ..] if !scope.secrets => Err(bad(format!(
            "`{inner}`: secrets can be used in HTTP and command steps only"
        ))),
        _ => Err(bad(format!(
            "unknown field `{inner}`; use incident.<field>, alert.<field>, alert.details.<path>, params.<name> or secrets.<name>"
        ))),
    }
}

/// Replaces every secret's value in `text` by `••••`, longest first (so a secret inside
/// another is masked whole). Empty secrets are not masked (they would match everywhere).
pub fn mask(text: &str, secrets: &[&str]) -> String {
    let mut sorted: Vec<&&str> = secrets.iter().filter(|s| !s.is_empty()).collect();
    sorted.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.to_owned();
    for s in sorted {
        out = out.replace(*s, "••••");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scope(params: &[String]) -> Scope<'_> {
        Scope {
            params: Some(params),
            secrets: true,
        }
    }

    #[test]
    fn fills_incident_alert_details_params_and_secrets() {
        let params = vec!["host".to_owned()];
        let t = Template::parse(
            "url",
            "https://{{ params.host }}/x?i={{incident.number}}&r={{ alert.details.labels.region }}&t={{ secrets.TOKEN }}",
            scope(&params),
        )
        .unwrap();
        let mut cx = Context::default();
        cx.incident.insert("number".into(), "42".into());
        cx.alert_details = json!({"labels": {"region": "eu"}});
        cx.params.insert("host".into(), "web-1".into());
        cx.secrets.insert("TOKEN".into(), "s3cret".into());
        assert_eq!(t.render(&cx).unwrap(), "https://web-1/x?i=42&r=eu&t=s3cret");
        assert!(t.uses_secrets());
        cx.secrets.clear();
        assert_eq!(t.render(&cx).unwrap_err().field, "secrets.TOKEN");
        // A missing detail or alert fills as empty text.
        let t = Template::parse(
            "x",
            "[{{ alert.summary }}{{ alert.details.a.0 }}]",
            scope(&[]),
        )
        .unwrap();
        assert_eq!(t.render(&Context::default()).unwrap(), "[]");
    }

    #[test]
    fn unknown_fields_are_refused_by_name() {
        let e = Template::parse("steps[1].url", "{{ incident.owner }}", scope(&[])).unwrap_err();
        assert_eq!(e.field, "steps[1].url");
        assert!(e.reason.contains("incident.owner"), "{}", e.reason);
        let e = Template::parse("f", "{{ params.nope }}", scope(&[])).unwrap_err();
        assert!(e.reason.contains("no parameter `nope`"), "{}", e.reason);
        let e = Template::parse("f", "{{ user.name }}", scope(&[])).unwrap_err();
        assert!(
            e.reason.contains("unknown field `user.name`"),
            "{}",
            e.reason
        );
        let e = Template::parse("f", "{{ alert.details }}", scope(&[])).unwrap_err();
        assert!(e.reason.contains("alert.details"), "{}", e.reason);
        let e = Template::parse("f", "a {{ incident.title", scope(&[])).unwrap_err();
        assert!(e.reason.contains("not closed"), "{}", e.reason);
        let no_secrets = Scope {
            params: Some(&[]),
            secrets: false,
        };
        assert!(Template::parse("f", "{{ secrets.X }}", no_secrets).is_err());
        let defaults = Scope {
            params: None,
            secrets: false,
        };
        assert!(Template::parse("f", "{{ params.x }}", defaults).is_err());
    }

    #[test]
    fn urls_take_values_encoded_and_secret_names_are_checked() {
        let params = vec!["host".to_owned()];
        let t =
            Template::parse("url", "https://lb/drain/{{ params.host }}", scope(&params)).unwrap();
        let mut cx = Context::default();
        cx.params.insert("host".into(), "../admin?x=1#y z".into());
        assert_eq!(
            t.render_url(&cx).unwrap(),
            "https://lb/drain/..%2Fadmin%3Fx%3D1%23y%20z"
        );
        assert_eq!(t.literal_prefix(), "https://lb/drain/");
        let e = Template::parse("f", "{{ secrets.lb_token }}", scope(&[])).unwrap_err();
        assert!(e.reason.contains("capital"), "{}", e.reason);
    }

    #[test]
    fn masks_secrets_longest_first() {
        assert_eq!(
            mask("token=abcdef and abc", &["abc", "abcdef", ""]),
            "token=•••• and ••••"
        );
    }
}
