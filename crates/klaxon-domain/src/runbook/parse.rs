//! Reading a runbook document: front matter, introduction, steps and their blocks.
use std::collections::BTreeMap;

use serde::Deserialize;

use super::template::{Scope, Template};
use super::*;
use crate::yaml::typed;

const MAX_STEPS: usize = 200;
const MAX_PARAMS: usize = 50;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Front {
    name: Option<String>,
    title: Option<String>,
    #[serde(default)]
    services: Vec<String>,
    #[serde(default, rename = "match")]
    matchers: Vec<BTreeMap<String, Scalar>>,
    #[serde(default)]
    params: Vec<FrontParam>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontParam {
    name: String,
    #[serde(rename = "type", default = "string")]
    kind: String,
    #[serde(default)]
    values: Vec<Scalar>,
    default: Option<Scalar>,
    #[serde(default)]
    description: String,
    required: Option<bool>,
}

fn string() -> String {
    "string".into()
}

/// A YAML scalar taken as text: `3`, `true` and `"3"` are all fine where text is meant.
#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Scalar {
    fn text(self) -> String {
        match self {
            Scalar::Text(s) => s,
            Scalar::Int(n) => n.to_string(),
            Scalar::Float(n) => n.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpBlock {
    #[serde(default = "get")]
    method: String,
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    body: Option<String>,
    timeout: Option<u32>,
}

fn get() -> String {
    "GET".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommandBlock {
    run: Vec<Scalar>,
    #[serde(default)]
    env: BTreeMap<String, Scalar>,
    #[serde(default)]
    runner: BTreeMap<String, Scalar>,
    #[serde(default)]
    shell: bool,
    timeout: Option<u32>,
    output_limit: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApprovalBlock {
    user: Option<String>,
    role: Option<String>,
    klaxon_role: Option<String>,
}

/// A step as the body gives it, before its block is read.
struct RawStep {
    title: String,
    note: String,
    block: Option<(String, String, usize)>,
}

pub(crate) fn is_runbook_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

/// Reads and checks a runbook. `fallback_name` names it when the front matter does not (a
/// file's name, when a directory is synced). Refusals name the place: `front_matter.<path>`,
/// `steps[N].<kind>.<path>` (steps counted from 1), or `source`.
pub fn parse(source: &str, fallback_name: Option<&str>) -> Result<Runbook, Invalid> {
    if source.len() > MAX_SOURCE {
        return Err(Invalid::new(
            "source",
            format!("is longer than {} KiB", MAX_SOURCE / 1024),
        ));
    }
    let source = source.replace("\r\n", "\n");
    let (front, body) = split_front(&source)?;
    let front: Front = typed("front_matter", front)?;
    let name = front
        .name
        .or(fallback_name.map(str::to_owned))
        .ok_or_else(|| Invalid::new("front_matter.name", "is required"))?;
    if !is_runbook_name(&name) {
        return Err(Invalid::new(
            "front_matter.name",
            format!(
                "`{name}` is not a runbook name: lower-case letters, digits and dashes, at most 63"
            ),
        ));
    }
    let params = params(front.params)?;
    let names: Vec<String> = params.iter().map(|p| p.name.clone()).collect();
    let (heading, intro, raw) = split_body(body)?;
    if raw.len() > MAX_STEPS {
        return Err(Invalid::new(
            "source",
            format!("has {} steps; at most {MAX_STEPS}", raw.len()),
        ));
    }
    let steps = raw
        .into_iter()
        .enumerate()
        .map(|(i, r)| step(i + 1, r, &names))
        .collect::<Result<Vec<_>, _>>()?;
    let matchers = front
        .matchers
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            if m.is_empty() {
                return Err(Invalid::new(
                    format!("front_matter.match[{i}]"),
                    "names no field",
                ));
            }
            m.into_iter()
                .map(|(k, v)| {
                    Matcher::check_field(&format!("front_matter.match[{i}]"), &k)?;
                    Ok((k, v.text()))
                })
                .collect::<Result<BTreeMap<_, _>, _>>()
                .map(Matcher)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut services = Vec::new();
    for (i, s) in front.services.into_iter().enumerate() {
        if s.trim().is_empty() {
            return Err(Invalid::new(
                format!("front_matter.services[{i}]"),
                "is empty",
            ));
        }
        if !services.contains(&s) {
            services.push(s);
        }
    }
    let title = front
        .title
        .or(heading)
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| name.clone());
    Ok(Runbook {
        name,
        title,
        intro,
        services,
        matchers,
        params,
        steps,
    })
}

/// The front matter's YAML and the body after it.
fn split_front(source: &str) -> Result<(&str, &str), Invalid> {
    let missing = || {
        Invalid::new(
            "source",
            "a runbook starts with YAML front matter between two `---` lines",
        )
    };
    let rest = source.strip_prefix("---\n").ok_or_else(missing)?;
    let mut at = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "---" {
            return Ok((&rest[..at], &rest[at + line.len()..]));
        }
        at += line.len();
    }
    Err(missing())
}

fn params(raw: Vec<FrontParam>) -> Result<Vec<Param>, Invalid> {
    if raw.len() > MAX_PARAMS {
        return Err(Invalid::new(
            "front_matter.params",
            format!("at most {MAX_PARAMS} parameters"),
        ));
    }
    let mut out: Vec<Param> = Vec::new();
    for (i, p) in raw.into_iter().enumerate() {
        let at = format!("front_matter.params[{i}]");
        if !p
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
            || p.name.is_empty()
        {
            return Err(Invalid::new(
                format!("{at}.name"),
                format!(
                    "`{}` is not a parameter name: letters, digits and `_`",
                    p.name
                ),
            ));
        }
        if out.iter().any(|o| o.name == p.name) {
            return Err(Invalid::new(
                format!("{at}.name"),
                format!("`{}` is declared twice", p.name),
            ));
        }
        let values: Vec<String> = p.values.into_iter().map(Scalar::text).collect();
        let kind = match p.kind.as_str() {
            "string" => ParamKind::String,
            "integer" => ParamKind::Integer,
            "number" => ParamKind::Number,
            "boolean" => ParamKind::Boolean,
            "choice" if !values.is_empty() => ParamKind::Choice(values.clone()),
            "choice" => {
                return Err(Invalid::new(
                    format!("{at}.values"),
                    "a choice lists its values",
                ));
            }
            other => {
                return Err(Invalid::new(
                    format!("{at}.type"),
                    format!("`{other}` is not a type: string, integer, number, boolean or choice"),
                ));
            }
        };
        if !values.is_empty() && !matches!(kind, ParamKind::Choice(_)) {
            return Err(Invalid::new(
                format!("{at}.values"),
                "only a choice lists values",
            ));
        }
        let default_text = p.default.map(Scalar::text);
        let scope = Scope {
            params: None,
            secrets: false,
        };
        let default = default_text
            .as_deref()
            .map(|d| Template::parse(&format!("{at}.default"), d, scope))
            .transpose()?;
        let param = Param {
            name: p.name,
            kind,
            description: p.description,
            required: p.required.unwrap_or(default.is_none()),
            default,
            default_text,
        };
        // A fixed default must itself be a valid value.
        if let Some(d) = &param.default_text
            && !d.contains("{{")
        {
            param
                .check(d)
                .map_err(|e| Invalid::new(format!("{at}.default"), e.reason))?;
        }
        out.push(param);
    }
    Ok(out)
}

/// The body's `# ` heading (the title), its introduction and its steps.
fn split_body(body: &str) -> Result<(Option<String>, String, Vec<RawStep>), Invalid> {
    let mut heading = None;
    let mut intro = String::new();
    let mut steps: Vec<RawStep> = Vec::new();
    // An open fence: its marker, and for a step's own block its kind and text.
    let mut fence: Option<(String, Option<(String, String)>)> = None;
    for line in body.split_inclusive('\n') {
        let trimmed = line.trim_start_matches(' ');
        let indent = line.len() - trimmed.len();
        if let Some((marker, own)) = &mut fence {
            if indent < 4
                && trimmed.trim_end().starts_with(marker.as_str())
                && trimmed
                    .trim_end()
                    .chars()
                    .all(|c| c == marker.as_bytes()[0] as char)
            {
                if let Some((kind, text)) = own.take() {
                    let i = steps.len();
                    let step = steps.last_mut().expect("a block opens only in a step");
                    if step.block.is_some() {
                        return Err(Invalid::new(
                            format!("steps[{i}]"),
                            "has two klaxon- blocks; a step is one kind",
                        ));
                    }
                    step.block = Some((kind, text, i));
                } else {
                    push(&mut intro, &mut steps, line);
                }
                fence = None;
            } else if let Some((_, text)) = own {
                text.push_str(line);
            } else {
                push(&mut intro, &mut steps, line);
            }
            continue;
        }
        if indent < 4 && (trimmed.starts_with("```") || trimmed.starts_with("~~~")) {
            let ch = trimmed.as_bytes()[0] as char;
            let n = trimmed.chars().take_while(|c| *c == ch).count();
            let marker: String = std::iter::repeat_n(ch, n).collect();
            let info = trimmed[n..].trim();
            if let Some(kind) = info.strip_prefix("klaxon-") {
                if steps.is_empty() {
                    return Err(Invalid::new(
                        "source",
                        format!("a `klaxon-{kind}` block before the first `## ` step heading"),
                    ));
                }
                if !matches!(kind, "http" | "command" | "approval") {
                    return Err(Invalid::new(
                        format!("steps[{}]", steps.len()),
                        format!(
                            "`klaxon-{kind}` is not a step kind: klaxon-http, klaxon-command or klaxon-approval"
                        ),
                    ));
                }
                fence = Some((marker, Some((kind.to_owned(), String::new()))));
            } else {
                fence = Some((marker, None));
                push(&mut intro, &mut steps, line);
            }
            continue;
        }
        if let Some(t) = line.strip_prefix("## ") {
            steps.push(RawStep {
                title: t.trim().trim_end_matches('#').trim().to_owned(),
                note: String::new(),
                block: None,
            });
        } else if let Some(t) = line
            .strip_prefix("# ")
            .filter(|_| heading.is_none() && steps.is_empty())
        {
            heading = Some(t.trim().to_owned());
        } else {
            push(&mut intro, &mut steps, line);
        }
    }
    if let Some((_, Some((kind, _)))) = fence {
        return Err(Invalid::new(
            format!("steps[{}]", steps.len()),
            format!("its `klaxon-{kind}` block is not closed"),
        ));
    }
    for (i, s) in steps.iter().enumerate() {
        if s.title.is_empty() {
            return Err(Invalid::new(format!("steps[{}]", i + 1), "has no title"));
        }
    }
    Ok((heading, intro.trim().to_owned(), steps))
}

fn push(intro: &mut String, steps: &mut [RawStep], line: &str) {
    match steps.last_mut() {
        Some(s) => s.note.push_str(line),
        None => intro.push_str(line),
    }
}

fn step(n: usize, raw: RawStep, params: &[String]) -> Result<Step, Invalid> {
    let note = raw.note.trim().to_owned();
    let Some((kind, text, _)) = raw.block else {
        return Ok(Step {
            title: raw.title,
            note,
            kind: StepKind::Manual,
        });
    };
    let at = format!("steps[{n}].{kind}");
    let scope = Scope {
        params: Some(params),
        secrets: true,
    };
    let tpl = |field: String, text: &str| Template::parse(&field, text, scope);
    let kind = match kind.as_str() {
        "http" => {
            let b: HttpBlock = typed(&at, &text)?;
            let method = b.method.to_ascii_uppercase();
            if !matches!(
                method.as_str(),
                "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD"
            ) {
                return Err(Invalid::new(
                    format!("{at}.method"),
                    format!(
                        "`{}` is not one of GET, POST, PUT, PATCH, DELETE, HEAD",
                        b.method
                    ),
                ));
            }
            let url = tpl(format!("{at}.url"), &b.url)?;
            // The scheme and host are written out: a value filled in cannot pick where the
            // request (and any secret in it) goes.
            let prefix = url.literal_prefix();
            let authority_done = ["http://", "https://"].iter().any(|scheme| {
                prefix.strip_prefix(scheme).is_some_and(|rest| {
                    rest.find(['/', '?', '#']).is_some_and(|i| i > 0)
                        || (rest.len() == b.url.len() - scheme.len() && !rest.is_empty())
                })
            });
            if !authority_done {
                return Err(Invalid::new(
                    format!("{at}.url"),
                    "must start with http:// or https:// and a host written out (templates may fill the path and query)",
                ));
            }
            StepKind::Http(HttpStep {
                method,
                url,
                headers: b
                    .headers
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), tpl(format!("{at}.headers.{k}"), v)?)))
                    .collect::<Result<_, Invalid>>()?,
                body: b
                    .body
                    .as_deref()
                    .map(|v| tpl(format!("{at}.body"), v))
                    .transpose()?,
                // Under the engine's job lease (60 s): a request still going when the lease
                // ran out would be taken for lost.
                timeout_secs: limit(&at, "timeout", b.timeout, 10, HTTP_MAX_TIMEOUT_SECS)?,
                source: text,
            })
        }
        "command" => {
            let b: CommandBlock = typed(&at, &text)?;
            if b.run.is_empty() {
                return Err(Invalid::new(
                    format!("{at}.run"),
                    "names the program to run, then its arguments",
                ));
            }
            let run = b
                .run
                .into_iter()
                .enumerate()
                .map(|(i, a)| tpl(format!("{at}.run[{i}]"), &a.text()))
                .collect::<Result<Vec<_>, _>>()?;
            // The program (with `shell: true`, the script) is written out: filled from an
            // alert it would be shell text or a program chosen by whoever sent the alert.
            if run[0].refs().next().is_some() {
                return Err(Invalid::new(
                    format!("{at}.run[0]"),
                    "the program (or the shell script) is written out, without {{ … }}: pass values as the arguments after it",
                ));
            }
            let env = b
                .env
                .into_iter()
                .map(|(k, v)| {
                    if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                        return Err(Invalid::new(
                            format!("{at}.env.{k}"),
                            "is not a variable name: letters, digits and `_`",
                        ));
                    }
                    let t = tpl(format!("{at}.env.{k}"), &v.text())?;
                    Ok((k, t))
                })
                .collect::<Result<Vec<_>, _>>()?;
            StepKind::Command(CommandStep {
                run,
                env,
                runner: b.runner.into_iter().map(|(k, v)| (k, v.text())).collect(),
                shell: b.shell,
                timeout_secs: limit(
                    &at,
                    "timeout",
                    b.timeout,
                    DEFAULT_TIMEOUT_SECS,
                    MAX_TIMEOUT_SECS,
                )?,
                output_limit: limit(
                    &at,
                    "output_limit",
                    b.output_limit,
                    DEFAULT_OUTPUT_LIMIT,
                    MAX_OUTPUT_LIMIT,
                )?,
                source: text,
            })
        }
        _ => {
            let b: ApprovalBlock = typed(&at, &text)?;
            let approver = match (b.user, b.role, b.klaxon_role) {
                (Some(u), None, None) if u.contains('@') => Approver::User(u),
                (Some(u), None, None) => {
                    return Err(Invalid::new(
                        format!("{at}.user"),
                        format!("`{u}` is not an e-mail address"),
                    ));
                }
                (None, Some(r), None) => Approver::IncidentRole(r),
                (None, None, Some(r)) => {
                    let role = r
                        .parse::<crate::auth::Role>()
                        .map_err(|e| Invalid::new(format!("{at}.klaxon_role"), e.reason))?;
                    Approver::KlaxonRole(role.as_str().to_owned())
                }
                _ => {
                    return Err(Invalid::new(
                        at,
                        "names one approver: user (an e-mail address), role (an incident role) or klaxon_role",
                    ));
                }
            };
            StepKind::Approval(approver)
        }
    };
    Ok(Step {
        title: raw.title,
        note,
        kind,
    })
}

fn limit(at: &str, field: &str, v: Option<u32>, default: u32, max: u32) -> Result<u32, Invalid> {
    match v {
        None => Ok(default),
        Some(n) if n >= 1 && n <= max => Ok(n),
        Some(n) => Err(Invalid::new(
            format!("{at}.{field}"),
            format!("{n} is outside 1–{max}"),
        )),
    }
}
