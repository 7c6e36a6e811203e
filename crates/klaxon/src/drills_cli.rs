//! Client commands for drills (practice incidents): scenarios listed, shown (in words, or as
//! YAML), applied from YAML files (checked here, then by the server, before any is saved),
//! deleted, and recorded from a past incident; drills started, listed with their scorecards in
//! short, shown with the whole scorecard, and ended.
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use klaxon_domain::Invalid;
use klaxon_domain::drill::{Scenario, duration_text};
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::services_cli::urlencode;
use super::yaml_out as yaml;
use super::{Client, ClientArgs, id_and_name, print_or, table};

#[derive(Subcommand)]
pub enum DrillsCommand {
    /// Every scenario, by name: its title, severity, how many steps, its service.
    Scenarios {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// One scenario: what happens and its targets, in words; with --yaml, a file `apply`
    /// takes (the words as comments above it).
    Scenario {
        /// Its name or id.
        scenario: String,
        /// Print it as YAML.
        #[arg(long, conflicts_with = "json")]
        yaml: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Save the scenarios of a YAML file ("-" for standard input; one scenario or a list), by
    /// name (responders): says per scenario whether it was created, updated or unchanged.
    /// Every one is checked before any is saved.
    Apply {
        file: PathBuf,
        /// Check them and say what would change; write nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Delete a scenario (responders); its drills and their scorecards stay.
    DeleteScenario {
        /// Its name or id.
        scenario: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Write a scenario replaying a past incident's alerts at the minutes they came, each
    /// resolved when it was (responders). Printed as YAML (or written to --output), not
    /// saved: add targets and notes, then `apply` it.
    Record {
        /// The incident: its number (75 or #75) or its id.
        #[arg(value_parser = incident_term)]
        incident: String,
        /// The new scenario's name: lower-case letters, digits and dashes.
        #[arg(long)]
        name: String,
        /// The drill's title; the incident's when left out.
        #[arg(long)]
        title: Option<String>,
        /// Write the YAML to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Start a drill (responders): from a saved scenario, or by hand with --title and
    /// --severity. Its incident ("DRILL: " in front of the title) pages the service's
    /// escalation policy as a real one would: tell the on-call people first.
    Start(StartArgs),
    /// Drills, newest first, each with its scorecard in short.
    List {
        /// Only the drills of this scenario (its name when they started): to compare them.
        #[arg(long)]
        scenario: Option<String>,
        /// At most this many (1–500, default 50).
        #[arg(long)]
        limit: Option<u32>,
        /// Where the previous page stopped (its `more: --cursor …`).
        #[arg(long)]
        cursor: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// A drill and its scorecard: each measure, its target and whether it was met.
    Show {
        /// The drill's id, or its incident's number (75 or #75) or id.
        #[arg(value_parser = incident_term)]
        drill: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// End a drill now and keep its scorecard (responders); its remaining steps are not
    /// taken. A drill also ends when its incident is resolved.
    End {
        /// The drill's id, or its incident's number (75 or #75) or id.
        #[arg(value_parser = incident_term)]
        drill: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

#[derive(Args)]
pub struct StartArgs {
    /// A saved scenario, by name or id. Without it, a drill by hand: give --title and
    /// --severity.
    scenario: Option<String>,
    /// By hand: the incident's title ("DRILL: " is put in front).
    #[arg(
        long,
        conflicts_with = "scenario",
        required_unless_present = "scenario"
    )]
    title: Option<String>,
    /// By hand: SEV1 .. SEV4.
    #[arg(
        long,
        conflicts_with = "scenario",
        required_unless_present = "scenario"
    )]
    severity: Option<String>,
    /// By hand: the service whose escalation policy is paged, by name or id.
    #[arg(long, conflicts_with = "scenario")]
    service: Option<String>,
    /// By hand: what the drill is about.
    #[arg(long, conflicts_with = "scenario")]
    description: Option<String>,
    /// By hand, a target: minutes from the start to the first acknowledgement.
    #[arg(long, conflicts_with = "scenario")]
    ack_minutes: Option<u32>,
    /// By hand: the roles to assemble (default: commander), comma-separated.
    #[arg(long, conflicts_with = "scenario", value_delimiter = ',')]
    roles: Vec<String>,
    /// By hand, a target: minutes from the start until every role in --roles is held.
    #[arg(long, conflicts_with = "scenario")]
    roles_minutes: Option<u32>,
    /// By hand, a target: minutes from the start to the first stakeholder update.
    #[arg(long, conflicts_with = "scenario")]
    update_minutes: Option<u32>,
    /// By hand, a target: runbook steps to complete during the drill.
    #[arg(long, conflicts_with = "scenario")]
    runbook_steps: Option<u32>,
    /// The incident commander from the start, by e-mail address or id; otherwise whoever is
    /// paged takes it on.
    #[arg(long)]
    commander: Option<String>,
    #[command(flatten)]
    client: ClientArgs,
}

/// An incident (or drill) as the API takes it in a path: `#75` and `75` alike.
fn incident_term(raw: &str) -> Result<String, String> {
    let t = raw.trim();
    let t = t.strip_prefix('#').unwrap_or(t);
    if t.is_empty() {
        return Err("give the incident's number (75 or #75) or an id".into());
    }
    Ok(urlencode(t))
}

/// An incident term for people: `#75` for a number, the id otherwise.
fn incident_shown(term: &str) -> String {
    if term.bytes().all(|b| b.is_ascii_digit()) {
        format!("#{term}")
    } else {
        term.to_owned()
    }
}

fn scenario_path(scenario: &str) -> String {
    format!("/api/v1/drill-scenarios/{}", urlencode(scenario))
}

/// A scenario as kept, by its name or id; `None` when there is none.
async fn kept(c: &Client, scenario: &str) -> anyhow::Result<Option<Value>> {
    let answer = c
        .http
        .get(format!("{}{}", c.base, scenario_path(scenario)))
        .bearer_auth(&c.token)
        .send()
        .await
        .with_context(|| format!("cannot reach {}", c.base))?;
    let status = answer.status();
    if status == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    let v: Value = answer.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let msg = v["error"]["message"].as_str().unwrap_or("no details");
        bail!("{status}: {msg}");
    }
    Ok(Some(v))
}

fn read(file: &Path) -> anyhow::Result<String> {
    if file == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("read standard input")?;
        Ok(text)
    } else {
        std::fs::read_to_string(file).with_context(|| format!("read {}", file.display()))
    }
}

/// `v` read as a scenario, a refusal naming its place under `at` (`scenarios[1].title`).
fn scenario_at(at: &str, v: &Value) -> Result<Scenario, Invalid> {
    // JSON is YAML: read through the same typed reader as a file, for the same places.
    let text = serde_json::to_string_pretty(v).unwrap_or_default();
    klaxon_domain::yaml::typed(at, &text)
}

/// The scenarios of a file (one, or a list), each checked: a refusal names the scenario and
/// the field (`checkout-db: steps[2].resolve`), or the place in the file.
fn parse_file(text: &str) -> Result<Vec<Scenario>, Invalid> {
    let value: Value = klaxon_domain::yaml::typed("file", text)?;
    let all: Vec<Scenario> = match &value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| scenario_at(&format!("scenarios[{i}]"), v))
            .collect::<Result<_, _>>()?,
        other => vec![scenario_at("scenario", other)?],
    };
    let mut seen = std::collections::BTreeSet::new();
    for (i, s) in all.iter().enumerate() {
        s.check()
            .map_err(|e| Invalid::new(format!("{}: {}", s.name, e.field), e.reason))?;
        if !seen.insert(s.name.clone()) {
            return Err(Invalid::new(
                format!("scenarios[{i}].name"),
                format!("`{}` is named twice in the file", s.name),
            ));
        }
    }
    Ok(all)
}

/// The fields of the scenario document, as an answer carries them beside its own.
const DEFINITION: &[&str] = &[
    "name",
    "title",
    "description",
    "service",
    "severity",
    "targets",
    "steps",
];

/// The scenario document in an answer (which also carries its id, revision, …).
fn definition(v: &Value) -> anyhow::Result<Scenario> {
    let fields: Map<String, Value> = DEFINITION
        .iter()
        .filter_map(|k| v.get(*k).map(|x| ((*k).to_owned(), x.clone())))
        .collect();
    serde_json::from_value(Value::Object(fields))
        .context("the server answered with a scenario this klaxon cannot read")
}

/// One line of words, for a terminal or a YAML comment.
fn one_line(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

/// What a scenario does in words (steps, then targets), each line starting with `lead`.
fn words(s: &Scenario, lead: &str) -> Vec<String> {
    let (steps, targets) = s.describe();
    let mut out = Vec::new();
    if steps.is_empty() {
        out.push(format!(
            "{lead}No scripted steps: the responders work the incident as it is."
        ));
    }
    out.extend(steps.iter().map(|l| format!("{lead}{}", one_line(l))));
    if targets.is_empty() {
        out.push(format!(
            "{lead}No targets: the scorecard measures, without met or missed."
        ));
    }
    out.extend(
        targets
            .iter()
            .map(|l| format!("{lead}Target: {}", one_line(l))),
    );
    out
}

/// A scenario answer in words: a heading, its incident, its description, then what happens.
fn scenario_text(v: &Value) -> anyhow::Result<String> {
    let s = definition(v)?;
    let mut out = vec![
        format!(
            "{}: {} (revision {}, updated {})",
            s.name,
            s.title,
            v["revision"],
            v["updated_at"].as_str().unwrap_or("-")
        ),
        match &s.service {
            Some(svc) => format!("{} on the service {svc}", s.severity),
            None => format!("{} on no service: it pages nobody", s.severity),
        },
    ];
    if !s.description.is_empty() {
        out.push(s.description.trim_end().to_owned());
    }
    out.extend(words(&s, "  "));
    Ok(out.join("\n"))
}

/// A scenario as `scenario --yaml` prints it: the words as YAML comments, then the document,
/// so that the whole can be saved to a file and applied again.
fn scenario_yaml(v: &Value) -> anyhow::Result<String> {
    let s = definition(v)?;
    let mut out = format!(
        "# {} ({}): revision {}, updated {}\n",
        s.name,
        v["id"].as_str().unwrap_or("-"),
        v["revision"],
        v["updated_at"].as_str().unwrap_or("-")
    );
    for line in words(&s, "") {
        out.push_str(&format!("# {line}\n"));
    }
    out.push_str(&document(&s)?);
    Ok(out)
}

/// The scenario as a YAML document: fields in the order people write them, whole minutes
/// written as such (`at: 12`, not `at: 12.0`).
fn document(s: &Scenario) -> anyhow::Result<String> {
    let mut v = serde_json::to_value(s)?;
    for step in v["steps"].as_array_mut().into_iter().flatten() {
        if let Some(at) = step["at"].as_f64()
            && at.fract() == 0.0
            && at.abs() < 1e9
        {
            step["at"] = json!(at as i64);
        }
    }
    Ok(yaml::document(&v, order))
}

/// The fields of a scenario's mappings in the order people write them (others follow, by name).
fn order(parent: &str) -> &'static [&'static str] {
    match parent {
        "" => DEFINITION,
        "targets" => &[
            "acknowledge_minutes",
            "roles",
            "roles_minutes",
            "first_update_minutes",
            "runbook_steps",
        ],
        "steps" => &["at", "alert", "resolve", "note"],
        "alert" => &[
            "summary",
            "dedup_key",
            "severity",
            "source",
            "component",
            "group",
            "class",
            "details",
        ],
        _ => &[],
    }
}

/// Where a save's answer leaves a scenario: `created NAME`, `updated NAME`, `unchanged NAME`.
fn saved_line(v: &Value) -> String {
    format!(
        "{} {}",
        v["change"].as_str().unwrap_or("saved"),
        v["scenario"]["name"].as_str().unwrap_or("")
    )
}

/// What saving `s` would do to what the server keeps: created, updated or unchanged.
async fn would(c: &Client, s: &Scenario) -> anyhow::Result<&'static str> {
    Ok(match kept(c, &s.name).await? {
        None => "created",
        Some(v) if definition(&v)? == *s => "unchanged",
        Some(_) => "updated",
    })
}

/// Preview lines as `apply --dry-run` prints them under a scenario.
fn preview_lines(p: &Value) -> Vec<String> {
    let lines = |k: &str| -> Vec<String> {
        p[k].as_array()
            .into_iter()
            .flatten()
            .map(|l| one_line(l.as_str().unwrap_or("")))
            .collect()
    };
    let mut out: Vec<String> = lines("steps")
        .into_iter()
        .map(|l| format!("  {l}"))
        .collect();
    out.extend(
        lines("targets")
            .into_iter()
            .map(|l| format!("  Target: {l}")),
    );
    out
}

async fn apply(file: &Path, dry_run: bool, client: &ClientArgs) -> anyhow::Result<()> {
    let text = read(file)?;
    if text.trim().is_empty() {
        bail!("{}: holds no scenario", file.display());
    }
    let all = parse_file(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    if all.is_empty() {
        bail!("{}: holds no scenario", file.display());
    }
    let c = Client::new(client)?;
    // Every one checked by the server (its service exists) before any is saved.
    let mut previews = Vec::new();
    let mut refused = 0;
    for s in &all {
        match c
            .send(
                Method::POST,
                "/api/v1/drill-scenarios/preview",
                Some(serde_json::to_value(s)?),
            )
            .await
        {
            Ok(p) => previews.push(p),
            Err(e) => {
                eprintln!("refused {}: {e:#}", s.name);
                refused += 1;
            }
        }
    }
    if refused > 0 {
        bail!(
            "{}: nothing was saved ({refused} of {} refused)",
            file.display(),
            all.len()
        );
    }
    if dry_run {
        let mut answers = Vec::new();
        let mut lines = Vec::new();
        for (s, p) in all.iter().zip(previews) {
            let change = would(&c, s).await?;
            lines.push(format!("{change} {}", s.name));
            lines.extend(preview_lines(&p));
            answers.push(json!({"change": change, "name": s.name, "preview": p}));
        }
        lines.push("dry run: nothing was written".into());
        return print_or(
            client,
            &json!({"dry_run": true, "scenarios": answers}),
            |_| lines.join("\n"),
        );
    }
    let mut answers = Vec::new();
    let mut failed = 0;
    for s in &all {
        match c
            .send(
                Method::PUT,
                &scenario_path(&s.name),
                Some(serde_json::to_value(s)?),
            )
            .await
        {
            Ok(v) => {
                if !client.json {
                    println!("{}", saved_line(&v));
                }
                answers.push(v);
            }
            Err(e) => {
                eprintln!("failed {}: {e:#}", s.name);
                failed += 1;
            }
        }
    }
    if client.json {
        println!("{}", serde_json::to_string_pretty(&answers)?);
    }
    if failed > 0 {
        bail!(
            "{}: {failed} of {} scenarios were not saved",
            file.display(),
            all.len()
        );
    }
    Ok(())
}

fn scenario_rows(items: &Value) -> Value {
    items
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            json!({"name": s["name"], "title": s["title"], "severity": s["severity"],
                   "steps": s["steps"].as_array().map_or(0, Vec::len), "service": s["service"]})
        })
        .collect()
}

async fn record(
    incident: &str,
    name: String,
    title: Option<String>,
    output: Option<&Path>,
    client: &ClientArgs,
) -> anyhow::Result<()> {
    let c = Client::new(client)?;
    let mut body = json!({"incident": incident, "name": name});
    if let Some(t) = title {
        body["title"] = json!(t);
    }
    let v = c
        .send(Method::POST, "/api/v1/drill-scenarios/record", Some(body))
        .await?;
    let s: Scenario = serde_json::from_value(v["scenario"].clone())
        .context("the server answered with a scenario this klaxon cannot read")?;
    let shown = incident_shown(incident);
    let text = format!(
        "# Recorded from incident {shown}: its alerts at the minutes they came, each resolved\n\
         # when it was. Add targets and notes, then save it with `klaxon drills apply FILE`.\n{}",
        document(&s)?
    );
    match output {
        Some(path) => {
            std::fs::write(path, &text).with_context(|| format!("write {}", path.display()))?;
            if client.json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            }
        }
        None if client.json => println!("{}", serde_json::to_string_pretty(&v)?),
        None => print!("{text}"),
    }
    let left_out = v["left_out"].as_u64().unwrap_or(0);
    let why = if left_out == 0 {
        "none was left out".to_owned()
    } else {
        format!(
            "{left_out} left out (alerts or their resolutions more than a day after the first \
             alert, or past {} steps)",
            klaxon_domain::drill::MAX_STEPS
        )
    };
    let wrote = output.map_or(String::new(), |p| format!("wrote {}: ", p.display()));
    eprintln!(
        "{wrote}{} recorded from incident {shown}; {why}",
        steps(s.steps.len() as u64)
    );
    Ok(())
}

async fn start(a: StartArgs) -> anyhow::Result<()> {
    let mut body = match a.scenario {
        Some(s) => json!({"scenario": s}),
        None => {
            let mut b = json!({"title": a.title, "severity": a.severity});
            if let Some(s) = a.service {
                b["service"] = json!(s);
            }
            if let Some(d) = a.description {
                b["description"] = json!(d);
            }
            let mut targets = Map::new();
            for (k, v) in [
                ("acknowledge_minutes", a.ack_minutes),
                ("roles_minutes", a.roles_minutes),
                ("first_update_minutes", a.update_minutes),
                ("runbook_steps", a.runbook_steps),
            ] {
                if let Some(v) = v {
                    targets.insert(k.into(), json!(v));
                }
            }
            if !a.roles.is_empty() {
                targets.insert("roles".into(), json!(a.roles));
            }
            if !targets.is_empty() {
                b["targets"] = Value::Object(targets);
            }
            b
        }
    };
    if let Some(c) = a.commander {
        body["commander_id"] = json!(c);
    }
    let v = Client::new(&a.client)?
        .send(Method::POST, "/api/v1/drills", Some(body))
        .await?;
    print_or(&a.client, &v, |v| {
        format!("started drill {}", drill_heading(v))
    })
}

/// "1 step", "3 steps".
fn steps(n: u64) -> String {
    if n == 1 {
        "1 step".to_owned()
    } else {
        format!("{n} steps")
    }
}

/// `ID: incident #N DRILL: title`.
fn drill_heading(d: &Value) -> String {
    format!(
        "{}: incident #{} {}",
        d["id"].as_str().unwrap_or("-"),
        d["incident_number"],
        d["incident_title"].as_str().unwrap_or("")
    )
}

/// A duration in a list's cell: "45s", "3m20s", "1h02m".
fn duration_short(secs: i64) -> String {
    let secs = secs.max(0);
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}h{m:02}m")
    } else if m > 0 {
        format!("{m}m{s:02}s")
    } else {
        format!("{s}s")
    }
}

/// A measure against its target: met, missed, not yet (it may still be met), or nothing
/// without a target.
fn result_word(met: &Value, has_target: bool) -> &'static str {
    match met.as_bool() {
        Some(true) => "met",
        Some(false) => "missed",
        None if has_target => "not yet",
        None => "-",
    }
}

/// One measure of a scorecard: its value, target and result, as cells.
struct Measure {
    name: String,
    value: String,
    short: String,
    target: String,
    result: &'static str,
}

/// A timed measure: "-" while it may still happen, "never" once the drill is over.
fn timed(name: String, t: &Value, over: bool) -> Measure {
    let seconds = t["seconds"].as_i64();
    let target = t["target_seconds"].as_i64();
    let none = if over { "never" } else { "-" };
    Measure {
        name,
        value: seconds.map_or(none.into(), duration_text),
        short: seconds.map_or(none.into(), duration_short),
        target: target.map_or("-".into(), |t| format!("within {}", duration_text(t))),
        result: result_word(&t["met"], target.is_some()),
    }
}

fn measures(d: &Value) -> Vec<Measure> {
    let card = &d["scorecard"];
    let roles: Vec<&str> = d["targets"]["roles"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let steps_target = card["runbook_steps_target"].as_u64();
    let steps = card["runbook_steps"].as_u64().unwrap_or(0);
    let over = card["over"] == true;
    let roles = if roles.is_empty() {
        "roles held".to_owned()
    } else {
        format!("roles held ({})", roles.join(", "))
    };
    vec![
        timed("acknowledged".into(), &card["acknowledge"], over),
        timed(roles, &card["roles"], over),
        timed(
            "first stakeholder update".into(),
            &card["first_update"],
            over,
        ),
        Measure {
            name: "runbook steps completed".into(),
            value: steps.to_string(),
            short: match steps_target {
                Some(t) => format!("{steps}/{t}"),
                None => steps.to_string(),
            },
            target: steps_target.map_or("-".into(), |t| format!("at least {t}")),
            result: result_word(&card["runbook_steps_met"], steps_target.is_some()),
        },
    ]
}

/// The name or e-mail of a user, best effort: the id when it cannot be read.
async fn who(c: &Client, id: &Value) -> Option<String> {
    let id = id.as_str()?;
    Some(
        match c.get(&format!("/api/v1/users/{}", urlencode(id))).await {
            Ok(u) => u["email"].as_str().unwrap_or(id).to_owned(),
            Err(_) => id.to_owned(),
        },
    )
}

/// A drill and its whole scorecard, as `show` and `end` print it.
async fn drill_text(c: &Client, d: &Value) -> String {
    let mut out = vec![drill_heading(d)];
    let n = d["steps"].as_u64().unwrap_or(0);
    out.push(match d["scenario"].as_str() {
        Some(s) => format!("scenario {s}, {} scripted", steps(n)),
        None => "by hand, no scripted steps".to_owned(),
    });
    let started = match who(c, &d["started_by"]).await {
        Some(u) => format!("started {} by {u}", d["started_at"].as_str().unwrap_or("-")),
        None => format!("started {}", d["started_at"].as_str().unwrap_or("-")),
    };
    let state = match d["ended_at"].as_str() {
        None => format!(
            "running (incident {}): the scorecard may still change",
            d["incident_status"].as_str().unwrap_or("-")
        ),
        Some(at) => match who(c, &d["ended_by"]).await {
            Some(u) => format!("ended {at} by {u}"),
            None => format!("ended {at}, when its incident was resolved"),
        },
    };
    out.push(format!("{started}; {state}"));
    let rows: Vec<Value> = measures(d)
        .into_iter()
        .map(|m| json!({"measure": m.name, "value": m.value, "target": m.target, "result": m.result}))
        .collect();
    out.push(table(
        &Value::Array(rows),
        &["measure", "value", "target", "result"],
    ));
    let missing: Vec<&str> = d["scorecard"]["roles_missing"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if !missing.is_empty() {
        out.push(format!("nobody has held: {}", missing.join(", ")));
    }
    out.join("\n")
}

/// Drills as a list's rows: the scorecard in short.
fn drill_rows(items: &Value) -> Value {
    items
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            let cells: Vec<String> = measures(d)
                .into_iter()
                .map(|m| match m.result {
                    "-" => m.short,
                    r => format!("{} {r}", m.short),
                })
                .collect();
            json!({
                "incident": format!("#{}", d["incident_number"]),
                "scenario": d["scenario"].as_str().unwrap_or("(by hand)"),
                "started": d["started_at"],
                "state": if d["ended_at"].is_null() { "running" } else { "ended" },
                "ack": cells[0], "roles": cells[1], "update": cells[2], "runbook": cells[3],
            })
        })
        .collect()
}

pub async fn drills(cmd: DrillsCommand) -> anyhow::Result<()> {
    match cmd {
        DrillsCommand::Scenarios { client } => {
            let v = Client::new(&client)?.get("/api/v1/drill-scenarios").await?;
            print_or(&client, &v, |v| {
                table(
                    &scenario_rows(v),
                    &["name", "title", "severity", "steps", "service"],
                )
            })
        }
        DrillsCommand::Scenario {
            scenario,
            yaml,
            client,
        } => {
            let v = Client::new(&client)?.get(&scenario_path(&scenario)).await?;
            if client.json {
                return print_or(&client, &v, |_| String::new());
            }
            if yaml {
                print!("{}", scenario_yaml(&v)?);
            } else {
                println!("{}", scenario_text(&v)?);
            }
            Ok(())
        }
        DrillsCommand::Apply {
            file,
            dry_run,
            client,
        } => apply(&file, dry_run, &client).await,
        DrillsCommand::DeleteScenario { scenario, client } => {
            let c = Client::new(&client)?;
            let (id, name) = id_and_name(&c, &scenario_path(&scenario)).await?;
            c.send(Method::DELETE, &scenario_path(&id), None).await?;
            print_or(&client, &json!({"deleted": id}), |_| {
                format!("deleted scenario {name} ({id}); its drills and their scorecards stay")
            })
        }
        DrillsCommand::Record {
            incident,
            name,
            title,
            output,
            client,
        } => record(&incident, name, title, output.as_deref(), &client).await,
        DrillsCommand::Start(args) => start(args).await,
        DrillsCommand::List {
            scenario,
            limit,
            cursor,
            client,
        } => {
            let mut path = crate::paged("/api/v1/drills", limit, cursor.as_deref());
            if let Some(s) = scenario {
                path.push_str(&format!("&scenario={}", urlencode(&s)));
            }
            let v = Client::new(&client)?.get(&path).await?;
            print_or(&client, &v, |v| {
                if v["items"].as_array().is_none_or(Vec::is_empty) {
                    return "no drills".to_owned();
                }
                crate::more(
                    table(
                        &drill_rows(&v["items"]),
                        &[
                            "incident", "scenario", "started", "state", "ack", "roles", "update",
                            "runbook",
                        ],
                    ),
                    v,
                )
            })
        }
        DrillsCommand::Show { drill, client } => {
            let c = Client::new(&client)?;
            let v = c.get(&format!("/api/v1/drills/{drill}")).await?;
            if client.json {
                return print_or(&client, &v, |_| String::new());
            }
            println!("{}", drill_text(&c, &v).await);
            Ok(())
        }
        DrillsCommand::End { drill, client } => {
            let c = Client::new(&client)?;
            let v = c
                .send(Method::POST, &format!("/api/v1/drills/{drill}/end"), None)
                .await?;
            if client.json {
                return print_or(&client, &v, |_| String::new());
            }
            let text = drill_text(&c, &v).await;
            println!("ended drill {text}");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
- name: checkout-db-failover
  title: Checkout database fails over
  description: "Line one: \"quoted\"\n\n  indented # not a comment\nlast line\n"
  service: checkout
  severity: SEV2
  targets: { acknowledge_minutes: 5, roles: [commander, communications_lead], roles_minutes: 10 }
  steps:
    - at: 0
      alert:
        summary: "Checkout p99 above 2 s"
        dedup_key: checkout-latency
        severity: critical
        details: { host: db-1, "on": "yes", count: 2.0, nested: { a: [1, "2"] } }
    - at: 4.5
      note: "Support: customers say payments fail\nand refunds too"
    - at: 12
      resolve: checkout-latency
- name: tabletop
  title: "DRILL-free title: no steps"
  severity: SEV4
"#;

    #[test]
    fn what_it_writes_reads_back_the_same() {
        let all = parse_file(EXAMPLE).unwrap();
        assert_eq!(all.len(), 2);
        for s in &all {
            let text = document(s).unwrap();
            assert_eq!(parse_file(&text).unwrap(), vec![s.clone()], "{text}");
            // And as the server would answer it, with its own fields beside.
            let mut answer = serde_json::to_value(s).unwrap();
            answer["id"] = json!("0194");
            answer["revision"] = json!(3);
            let shown = scenario_yaml(&answer).unwrap();
            assert_eq!(parse_file(&shown).unwrap(), vec![s.clone()], "{shown}");
        }
        let text = document(&all[0]).unwrap();
        assert!(
            text.starts_with("name: checkout-db-failover\ntitle:"),
            "{text}"
        );
        assert!(text.contains("\n  - at: 0\n    alert:\n"), "{text}");
        assert!(text.contains("\n  - at: 4.5\n    note: |-\n"), "{text}");
        assert!(
            text.contains("roles: [commander, communications_lead]"),
            "{text}"
        );
        assert!(text.contains("description: |\n  Line one:"), "{text}");
    }

    #[test]
    fn a_file_is_refused_naming_the_scenario_and_the_field() {
        let e = parse_file(&EXAMPLE.replace("resolve: checkout-latency", "resolve: other"))
            .unwrap_err();
        assert_eq!(e.field, "checkout-db-failover: steps[2].resolve");
        let e = parse_file(&EXAMPLE.replace("severity: SEV4", "severity: SEV9")).unwrap_err();
        assert_eq!(e.field, "scenarios[1].severity");
        let e = parse_file(&EXAMPLE.replace("name: tabletop", "name: checkout-db-failover"))
            .unwrap_err();
        assert_eq!(e.field, "scenarios[1].name");
        let e = parse_file("name: a\ntitle: A\nseverity: SEV3\ncolour: red\n").unwrap_err();
        assert!(e.field.starts_with("scenario"), "{e}");
        // Not YAML: the place in the file.
        let e = parse_file("name: [").unwrap_err();
        assert!(e.field.starts_with("file"), "{e}");
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration_text(0), "0 s");
        assert_eq!(duration_text(45), "45 s");
        assert_eq!(duration_text(200), "3 min 20 s");
        assert_eq!(duration_text(300), "5 min");
        assert_eq!(duration_text(3725), "1 h 2 min");
        assert_eq!(duration_text(7200), "2 h");
        assert_eq!(duration_short(200), "3m20s");
        assert_eq!(duration_short(3725), "1h02m");
        assert_eq!(duration_short(9), "9s");
    }
}
