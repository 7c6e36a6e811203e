//! SLOs as code: OpenSLO v1 documents read into the API's `NewSlo`, and Klaxon SLOs written
//! back as OpenSLO. Pure (no store, no network): `apply.rs` checks and writes what this reads.
//! The mapping and Klaxon's conventions (the short window, pushed counts, the at-risk share)
//! are in docs/slos.md, "SLOs as code"; keep the two in step.
//!
//! Every document type (openslo_doc.rs) refuses fields it does not know, and every refusal
//! names its place in the file (`documents[2].spec.indicator.spec.ratioMetric.goood`), so a typo is never
//! silently ignored.
use std::collections::HashMap;

use klaxon_domain::slo::{self, Sli, Slo, Urgency};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use yaml_serde::Value;

use super::api::{NewSlo, RuleIn, SloPatch};
use super::openslo_doc::{
    ConditionItem, ConditionSpec, Doc, InlineSli, Meta, MetricRef, ObjectiveDoc, PolicyItem,
    PolicySpec, ServiceSpec, SliSpec, SloSpec, TargetSpec, TimeWindow,
};
use crate::shared::error::{ApiError, ApiResult};

pub const API_VERSION: &str = "openslo/v1";
/// On an AlertCondition's metadata: the short window of the multi-window rule (v1 has one
/// look-back window). Default: a twelfth of `lookbackWindow`, as in the SRE Workbook.
pub const SHORT_WINDOW: &str = "klaxon.dev/short-window";
/// On an SLO's metadata: the remaining budget share at or under which it is at risk.
pub const AT_RISK: &str = "klaxon.dev/at-risk";
/// A metric source type of Klaxon's own: counts pushed to `POST /api/v1/slos/{id}/counts`.
pub const PUSHED: &str = "klaxon-pushed";
/// A metric source type of Klaxon's own: the up minutes (good) and watched minutes (total) of
/// an uptime check or a status-page component, `spec: {check: ID}` or `spec: {component: ID}`.
pub const AVAILABILITY: &str = "klaxon-availability";
const PREFIX: &str = "klaxon.dev/";

// --- reading ------------------------------------------------------------------------------------

/// An SLO a file asks for, as the API's input, with where each of its fields came from.
#[derive(Debug)]
pub struct Wanted {
    pub input: NewSlo,
    pub paths: Paths,
}

/// Where in the file each API field came from, so a refusal of `rules[1].short` names the
/// annotation that gave it.
#[derive(Debug, Default, Clone)]
pub struct Paths {
    doc: String,
    objective: String,
    window: String,
    time_zone: String,
    at_risk: String,
    sli: String,
    good: String,
    bad: String,
    total: String,
    source: String,
    /// An availability SLI's `spec` (`…total.metricSource.spec`).
    availability: String,
    rules: String,
    rule: Vec<RulePaths>,
}

#[derive(Debug, Default, Clone)]
struct RulePaths {
    name: String,
    urgency: String,
    long: String,
    short: String,
    rate: String,
}

impl Paths {
    /// The SLO's document: `documents[0]`.
    pub fn doc(&self) -> &str {
        &self.doc
    }

    /// The place in the file of an API field (`objective`, `sli.total`, `rules[0].long`).
    pub fn locate(&self, field: &str) -> String {
        let d = &self.doc;
        let rule = field
            .strip_prefix("rules[")
            .and_then(|r| r.split_once(']'))
            .and_then(|(n, rest)| Some((n.parse::<usize>().ok()?, rest)));
        if let Some((n, rest)) = rule
            && let Some(r) = self.rule.get(n)
        {
            return match rest {
                ".name" => r.name.clone(),
                ".urgency" => r.urgency.clone(),
                ".long" => r.long.clone(),
                ".short" => r.short.clone(),
                _ => r.rate.clone(),
            };
        }
        match field {
            "service" => format!("{d}.spec.service"),
            "name" => format!("{d}.metadata.name"),
            "description" => format!("{d}.spec.description"),
            "objective" => self.objective.clone(),
            "window" => self.window.clone(),
            "time_zone" => self.time_zone.clone(),
            "at_risk" => self.at_risk.clone(),
            "sli.good" => self.good.clone(),
            "sli.bad" => self.bad.clone(),
            "sli.total" => self.total.clone(),
            "sli.source" => self.source.clone(),
            "sli.check" | "sli.component" => {
                format!("{}.{}", self.availability, &field[4..])
            }
            f if f.starts_with("sli") => self.sli.clone(),
            f if f.starts_with("rules") => self.rules.clone(),
            f => format!("{d}.{f}"),
        }
    }

    /// A refusal of the API's input, told in the file's terms.
    pub fn relocate(&self, e: ApiError) -> ApiError {
        match e {
            ApiError::BadRequest {
                code,
                message,
                field: Some(f),
            } => {
                let reason = message
                    .strip_prefix(&format!("{f}: "))
                    .unwrap_or(&message)
                    .to_owned();
                let place = self.locate(&f);
                ApiError::BadRequest {
                    code,
                    message: format!("{place}: {reason}"),
                    field: Some(place),
                }
            }
            ApiError::Conflict {
                message,
                field: Some(f),
            } => {
                let place = self.locate(&f);
                let reason = message
                    .strip_prefix(&format!("{f}: "))
                    .unwrap_or(&message)
                    .to_owned();
                ApiError::Conflict {
                    message: format!("{place}: {reason}"),
                    field: Some(place),
                }
            }
            e => e,
        }
    }
}

impl Wanted {
    /// The input as a change of `old`: every field given, so the file is the whole truth; an
    /// SLI equal to the one saved is left out, so Prometheus is not asked again for nothing.
    pub fn patch(&self, old: &Slo) -> SloPatch {
        let n = &self.input;
        SloPatch {
            name: Some(n.name.clone()),
            description: Some(n.description.clone()),
            objective: Some(n.objective),
            window: Some(n.window.clone()),
            time_zone: Some(n.time_zone.clone().unwrap_or_default()),
            sli: (n.sli != old.sli).then(|| n.sli.clone()),
            at_risk: n.at_risk.or(Some(slo::DEFAULT_AT_RISK)),
            // No policies: the default rules, as when it was created.
            rules: n.rules.clone().or_else(|| {
                let w = super::api::window(&n.window, n.time_zone.as_deref()).ok()?;
                Some(
                    slo::default_rules(w.nominal())
                        .into_iter()
                        .map(|r| RuleIn {
                            name: r.name,
                            urgency: r.urgency,
                            long: slo::format_duration(r.long),
                            short: slo::format_duration(r.short),
                            rate: None,
                            budget_spent: Some(r.budget_spent),
                        })
                        .collect(),
                )
            }),
        }
    }
}

/// What a file holds: the SLOs it asks for, and the services its Service documents name
/// (each must exist).
#[derive(Debug, Default)]
pub struct Parsed {
    pub slos: Vec<Wanted>,
    pub services: Vec<(String, String)>,
}

fn bad(place: impl Into<String>, reason: impl Into<String>) -> ApiError {
    ApiError::invalid(place, reason)
}

/// A document read whole into `T`, its errors naming their place under `at`.
fn typed<T: DeserializeOwned>(at: &str, v: Value) -> ApiResult<T> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // A missing field is named by serde; the path stops at its parent.
        let place = match inner.strip_prefix("missing field `") {
            Some(rest) => {
                let name = rest.split('`').next().unwrap_or_default();
                if path == "." {
                    format!("{at}.{name}")
                } else {
                    format!("{at}.{path}.{name}")
                }
            }
            None if path == "." => at.to_owned(),
            None => format!("{at}.{path}"),
        };
        // yaml_serde adds "at line N column M" to some messages: keep it, it helps.
        bad(place, inner)
    })
}

/// The documents of a multi-document YAML file, in order (empty documents skipped).
fn documents(text: &str) -> ApiResult<Vec<(String, Value)>> {
    let mut out = Vec::new();
    for (i, d) in yaml_serde::Deserializer::from_str(text).enumerate() {
        let at = format!("documents[{i}]");
        let v = Value::deserialize(d).map_err(|e| bad(&at, format!("is not YAML: {e}")))?;
        if !v.is_null() {
            out.push((at, v));
        }
    }
    if out.is_empty() {
        return Err(bad("documents", "the file holds no OpenSLO documents"));
    }
    Ok(out)
}

/// Reads a file of OpenSLO v1 documents into the SLOs it asks for. `sources` are the
/// configured Prometheus sources' names (the default `metricSourceRef` when there is one).
pub fn parse(text: &str, sources: &[&str]) -> ApiResult<Parsed> {
    let mut slos: Vec<(String, Doc<SloSpec>)> = Vec::new();
    let mut slis: Named<InlineSli> = HashMap::new();
    let mut policies: Named<PolicyItem> = HashMap::new();
    let mut conditions: Named<ConditionItem> = HashMap::new();
    let mut out = Parsed::default();
    for (at, v) in documents(text)? {
        let field = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        match field("apiVersion").as_deref() {
            Some(API_VERSION) => {}
            _ => return Err(bad(format!("{at}.apiVersion"), "must be openslo/v1")),
        }
        let kind = field("kind").unwrap_or_default();
        match kind.as_str() {
            "SLO" => slos.push((at.clone(), typed(&at, v)?)),
            "SLI" => {
                let d: Doc<SliSpec> = typed(&at, v)?;
                let item = InlineSli {
                    metadata: Some(d.metadata.clone()),
                    spec: d.spec,
                };
                name_once(&mut slis, &at, "SLI", d.metadata.name, item)?;
            }
            "AlertPolicy" => {
                let d: Doc<PolicySpec> = typed(&at, v)?;
                let item = PolicyItem {
                    metadata: Some(d.metadata.clone()),
                    spec: Some(d.spec),
                    ..PolicyItem::default()
                };
                name_once(&mut policies, &at, "AlertPolicy", d.metadata.name, item)?;
            }
            "AlertCondition" => {
                let d: Doc<ConditionSpec> = typed(&at, v)?;
                let item = ConditionItem {
                    metadata: Some(d.metadata.clone()),
                    spec: Some(d.spec),
                    ..ConditionItem::default()
                };
                name_once(
                    &mut conditions,
                    &at,
                    "AlertCondition",
                    d.metadata.name,
                    item,
                )?;
            }
            "AlertNotificationTarget" => {
                let _: Doc<TargetSpec> = typed(&at, v)?;
            }
            "Service" => {
                let d: Doc<ServiceSpec> = typed(&at, v)?;
                out.services
                    .push((format!("{at}.metadata.name"), d.metadata.name));
            }
            "DataSource" => {
                return Err(bad(
                    format!("{at}.kind"),
                    "DataSource is not taken: Klaxon's Prometheus sources are configured in \
                     [[slos.sources]]; name one in metricSourceRef",
                ));
            }
            _ => {
                return Err(bad(
                    format!("{at}.kind"),
                    "must be SLO, SLI, AlertPolicy, AlertCondition, AlertNotificationTarget or \
                     Service",
                ));
            }
        }
    }
    let refs = Refs {
        slis: &slis,
        policies: &policies,
        conditions: &conditions,
        sources,
    };
    for (at, d) in slos {
        out.slos.push(refs.slo(&at, d)?);
    }
    Ok(out)
}

/// Documents of one kind by name, with where each is.
type Named<T> = HashMap<String, (String, T)>;

fn name_once<T>(map: &mut Named<T>, at: &str, kind: &str, name: String, item: T) -> ApiResult<()> {
    if map.contains_key(&name) {
        return Err(bad(
            format!("{at}.metadata.name"),
            format!("another {kind} in the file has this name"),
        ));
    }
    map.insert(name, (at.to_owned(), item));
    Ok(())
}

struct Refs<'a> {
    slis: &'a Named<InlineSli>,
    policies: &'a Named<PolicyItem>,
    conditions: &'a Named<ConditionItem>,
    sources: &'a [&'a str],
}

/// `Nw` in days (OpenSLO's weeks; Klaxon's durations stop at days); others as written.
fn klaxon_duration(raw: &str) -> String {
    let raw = raw.trim();
    match raw.strip_suffix('w').and_then(|n| n.parse::<i64>().ok()) {
        Some(w) if w > 0 => format!("{}d", w * 7),
        _ => raw.to_owned(),
    }
}

impl Refs<'_> {
    fn slo(&self, at: &str, d: Doc<SloSpec>) -> ApiResult<Wanted> {
        if d.kind != "SLO" {
            return Err(bad(format!("{at}.kind"), "must be SLO"));
        }
        let mut paths = Paths {
            doc: at.to_owned(),
            ..Paths::default()
        };
        let s = d.spec;
        let (at_risk, at_risk_path) = annotation(at, &d.metadata, AT_RISK, &[AT_RISK])?;
        paths.at_risk = at_risk_path.clone();
        let at_risk = match at_risk {
            Some(raw) => Some(
                raw.trim()
                    .parse::<f64>()
                    .map_err(|_| bad(&at_risk_path, "must be a number such as 0.2"))?,
            ),
            None => None,
        };
        match s.budgeting_method.as_deref() {
            None | Some("Occurrences") => {}
            Some(_) => {
                return Err(bad(
                    format!("{at}.spec.budgetingMethod"),
                    "must be Occurrences: Klaxon's SLIs count good and total events",
                ));
            }
        }
        let objective = objective(at, &s.objectives, &mut paths)?;
        let (window, time_zone) = time_window(at, &s.time_window, &mut paths)?;
        let sli = match (s.indicator, s.indicator_ref) {
            (Some(i), None) => {
                self.sli(&format!("{at}.spec.indicator.spec"), &i.spec, &mut paths)?
            }
            (None, Some(name)) => {
                let (sat, i) = self.slis.get(&name).ok_or_else(|| {
                    bad(
                        format!("{at}.spec.indicatorRef"),
                        "names no SLI document in the file",
                    )
                })?;
                self.sli(&format!("{sat}.spec"), &i.spec, &mut paths)?
            }
            _ => {
                return Err(bad(
                    format!("{at}.spec.indicator"),
                    "give indicator or indicatorRef, one of them",
                ));
            }
        };
        paths.rules = format!("{at}.spec.alertPolicies");
        let rules = match &s.alert_policies {
            None => None,
            Some(list) => {
                let mut out = Vec::new();
                for (i, p) in list.iter().enumerate() {
                    out.push(self.rule(&format!("{at}.spec.alertPolicies[{i}]"), p, &mut paths)?);
                }
                Some(out)
            }
        };
        let name = d.metadata.display_name.unwrap_or(d.metadata.name);
        Ok(Wanted {
            input: NewSlo {
                service: s.service,
                name,
                description: s.description.unwrap_or_default(),
                objective,
                window,
                time_zone,
                sli,
                at_risk,
                rules,
            },
            paths,
        })
    }

    fn sli(&self, at: &str, s: &SliSpec, paths: &mut Paths) -> ApiResult<Sli> {
        paths.sli = at.to_owned();
        if s.threshold_metric.is_some() {
            return Err(bad(
                format!("{at}.thresholdMetric"),
                "Klaxon's SLIs are ratios of events: give ratioMetric",
            ));
        }
        let Some(r) = &s.ratio_metric else {
            return Err(bad(format!("{at}.ratioMetric"), "give ratioMetric"));
        };
        let at = format!("{at}.ratioMetric");
        if r.raw.is_some() || r.raw_type.is_some() {
            return Err(bad(
                format!("{at}.raw"),
                "a precomputed ratio is not taken: give good or bad, and total",
            ));
        }
        let sides = [("good", &r.good), ("bad", &r.bad), ("total", &r.total)];
        paths.good = format!("{at}.good");
        paths.bad = format!("{at}.bad");
        paths.total = format!("{at}.total");
        paths.source = paths.total.clone();
        paths.availability = format!("{at}.total.metricSource.spec");
        let typed = |t: &str| {
            sides.iter().any(|(_, m)| {
                m.as_ref()
                    .is_some_and(|m| m.metric_source.kind.as_deref() == Some(t))
            })
        };
        if typed(AVAILABILITY) {
            return availability(&at, &sides);
        }
        let pushed = sides.iter().any(|(_, m)| {
            m.as_ref()
                .is_some_and(|m| m.metric_source.kind.as_deref() == Some(PUSHED))
        });
        if pushed {
            for (side, m) in sides {
                let typed_pushed = m
                    .as_ref()
                    .map(|m| m.metric_source.kind.as_deref() == Some(PUSHED));
                let fine = match side {
                    "bad" => typed_pushed.is_none(),
                    _ => typed_pushed == Some(true),
                };
                if !fine {
                    return Err(bad(
                        format!("{at}.{side}"),
                        format!(
                            "pushed counts are good and total, both with metricSource type \
                             {PUSHED}"
                        ),
                    ));
                }
            }
            return Ok(Sli::Pushed);
        }
        let Some(total) = &r.total else {
            return Err(bad(format!("{at}.total"), "give total"));
        };
        let mut source: Option<(String, String)> = None;
        let mut query = |side: &str, m: &MetricRef| -> ApiResult<String> {
            let ms = &m.metric_source;
            let p = format!("{at}.{side}.metricSource");
            if let Some(k) = &ms.kind
                && !k.eq_ignore_ascii_case("prometheus")
            {
                return Err(bad(
                    format!("{p}.type"),
                    format!("must be Prometheus, or {PUSHED} for counts pushed to Klaxon"),
                ));
            }
            if let Some(name) = &ms.metric_source_ref {
                match &source {
                    Some((first, _)) if first != name => {
                        return Err(bad(
                            format!("{p}.metricSourceRef"),
                            "every query of an SLI asks the same source",
                        ));
                    }
                    _ => source = Some((name.clone(), format!("{p}.metricSourceRef"))),
                }
            }
            ms.spec
                .as_ref()
                .and_then(|q| q.query.clone())
                .ok_or_else(|| bad(format!("{p}.spec.query"), "give the PromQL query"))
        };
        let good = r.good.as_ref().map(|m| query("good", m)).transpose()?;
        let bad_q = r.bad.as_ref().map(|m| query("bad", m)).transpose()?;
        let total = query("total", total)?;
        let source = match source {
            Some((name, p)) => {
                paths.source = p;
                name
            }
            None => match self.sources {
                [only] => (*only).to_owned(),
                _ => {
                    return Err(bad(
                        format!("{at}.total.metricSource.metricSourceRef"),
                        "name the Prometheus source ([[slos.sources]]): more or fewer than one \
                         is configured",
                    ));
                }
            },
        };
        Ok(Sli::Prometheus {
            source,
            good,
            bad: bad_q,
            total,
        })
    }

    fn rule(&self, at: &str, item: &PolicyItem, paths: &mut Paths) -> ApiResult<RuleIn> {
        let (pat, policy) = self.resolve(
            at,
            item.alert_policy_ref.as_deref(),
            item.kind.is_some() || item.metadata.is_some() || item.spec.is_some(),
            self.policies,
            ("alertPolicyRef", "AlertPolicy"),
        )?;
        let policy = policy.unwrap_or(item);
        if let Some(k) = &policy.kind
            && k != "AlertPolicy"
        {
            return Err(bad(format!("{pat}.kind"), "must be AlertPolicy"));
        }
        let meta = policy
            .metadata
            .as_ref()
            .ok_or_else(|| bad(format!("{pat}.metadata"), "give the policy's metadata"))?;
        let spec = policy
            .spec
            .as_ref()
            .ok_or_else(|| bad(format!("{pat}.spec"), "give the policy's spec"))?;
        let [c] = &spec.conditions[..] else {
            return Err(bad(
                format!("{pat}.spec.conditions"),
                "an alert policy has exactly one condition",
            ));
        };
        let (cat, found) = self.resolve(
            &format!("{pat}.spec.conditions[0]"),
            c.condition_ref.as_deref(),
            c.kind.is_some() || c.metadata.is_some() || c.spec.is_some(),
            self.conditions,
            ("conditionRef", "AlertCondition"),
        )?;
        let c = found.unwrap_or(c);
        if let Some(k) = &c.kind
            && k != "AlertCondition"
        {
            return Err(bad(format!("{cat}.kind"), "must be AlertCondition"));
        }
        let cmeta = c
            .metadata
            .as_ref()
            .ok_or_else(|| bad(format!("{cat}.metadata"), "give the condition's metadata"))?;
        let cs = c
            .spec
            .as_ref()
            .ok_or_else(|| bad(format!("{cat}.spec"), "give the condition's spec"))?;
        let cond = &cs.condition;
        let cp = format!("{cat}.spec.condition");
        if !cond
            .kind
            .as_deref()
            .is_none_or(|k| k.eq_ignore_ascii_case("burnrate"))
        {
            return Err(bad(format!("{cp}.kind"), "must be burnrate"));
        }
        if !matches!(cond.op.as_deref(), None | Some("gt" | "gte")) {
            return Err(bad(
                format!("{cp}.op"),
                "must be gt: a rule fires when the burn rate is above its threshold",
            ));
        }
        if let Some(after) = &cond.alert_after
            && !after
                .trim()
                .trim_end_matches(['s', 'm', 'h', 'd'])
                .chars()
                .all(|c| c == '0')
        {
            return Err(bad(
                format!("{cp}.alertAfter"),
                format!(
                    "Klaxon does not wait before alerting (give 0m): the short window \
                     ({SHORT_WINDOW}) keeps a rule from firing on a burst that is over"
                ),
            ));
        }
        let urgency = match cs.severity.trim().to_ascii_lowercase().as_str() {
            "page" | "high" | "critical" => Urgency::Page,
            "ticket" | "low" | "warning" => Urgency::Ticket,
            _ => {
                return Err(bad(
                    format!("{cat}.spec.severity"),
                    "must be page or ticket (high or low)",
                ));
            }
        };
        let long = klaxon_duration(&cond.lookback_window);
        let long_path = format!("{cp}.lookbackWindow");
        let (short, short_path) = annotation(&cat, cmeta, SHORT_WINDOW, &[SHORT_WINDOW])?;
        let short = match short {
            Some(s) => klaxon_duration(&s),
            None => {
                // The Workbook's twelfth, never under the minute a short window needs.
                let l = slo::parse_duration(&long_path, &long)?;
                let twelfth = jiff::SignedDuration::from_secs(l.as_secs() / 12);
                slo::format_duration(twelfth.max(jiff::SignedDuration::from_mins(1)))
            }
        };
        paths.rule.push(RulePaths {
            name: format!("{pat}.metadata.name"),
            urgency: format!("{cat}.spec.severity"),
            long: long_path.clone(),
            short: if cmeta.annotations.contains_key(SHORT_WINDOW) {
                short_path
            } else {
                long_path
            },
            rate: format!("{cp}.threshold"),
        });
        Ok(RuleIn {
            name: meta.name.clone(),
            urgency,
            long,
            short,
            rate: Some(cond.threshold),
            budget_spent: None,
        })
    }

    /// An item that is a reference (`ref_key`) or inline, never both nor neither; a
    /// reference's document and its place.
    fn resolve<'a, T>(
        &self,
        at: &str,
        reference: Option<&str>,
        inline: bool,
        named: &'a Named<T>,
        (ref_key, kind): (&str, &str),
    ) -> ApiResult<(String, Option<&'a T>)> {
        match (reference, inline) {
            (Some(name), false) => {
                let (dat, item) = named.get(name).ok_or_else(|| {
                    bad(
                        format!("{at}.{ref_key}"),
                        format!("names no {kind} document in the file"),
                    )
                })?;
                Ok((dat.clone(), Some(item)))
            }
            (None, true) => Ok((at.to_owned(), None)),
            _ => Err(bad(
                at,
                format!("give {ref_key}, or the {kind} inline (kind, metadata, spec), one of them"),
            )),
        }
    }
}

/// An availability SLI: good and total both of type klaxon-availability with the same spec,
/// naming one check or one component by id.
fn availability(at: &str, sides: &[(&str, &Option<MetricRef>); 3]) -> ApiResult<Sli> {
    let mut spec: Option<(Option<String>, Option<String>)> = None;
    for (side, m) in sides {
        let ms = m.as_ref().map(|m| &m.metric_source);
        let fine = match *side {
            "bad" => ms.is_none(),
            _ => ms.is_some_and(|ms| ms.kind.as_deref() == Some(AVAILABILITY)),
        };
        if !fine {
            return Err(bad(
                format!("{at}.{side}"),
                format!(
                    "availability is good and total minutes, both with metricSource type \
                     {AVAILABILITY}"
                ),
            ));
        }
        if let Some(ms) = ms {
            let here = ms
                .spec
                .as_ref()
                .map(|q| (q.check.clone(), q.component.clone()))
                .unwrap_or_default();
            match &spec {
                Some(first) if *first != here => {
                    return Err(bad(
                        format!("{at}.{side}.metricSource.spec"),
                        "good and total watch the same check or component",
                    ));
                }
                _ => spec = Some(here),
            }
        }
    }
    let p = format!("{at}.total.metricSource.spec");
    match spec.unwrap_or_default() {
        (Some(c), None) => {
            let check = c
                .trim()
                .parse()
                .map_err(|_| bad(format!("{p}.check"), "must be an uptime check's id"))?;
            Ok(Sli::Availability {
                check: Some(check),
                component: None,
            })
        }
        (None, Some(c)) => {
            let component = c
                .trim()
                .parse()
                .map_err(|_| bad(format!("{p}.component"), "must be a component's id"))?;
            Ok(Sli::Availability {
                check: None,
                component: Some(component),
            })
        }
        _ => Err(bad(&p, "give check or component, one of them")),
    }
}

/// The value of `key` among `meta`'s annotations and its place; unknown `klaxon.dev/`
/// annotations are refused (a typo would otherwise be ignored), others are other tools'.
fn annotation(
    at: &str,
    meta: &Meta,
    key: &str,
    known: &[&str],
) -> ApiResult<(Option<String>, String)> {
    for k in meta.annotations.keys() {
        if k.starts_with(PREFIX) && !known.contains(&k.as_str()) {
            return Err(bad(
                format!("{at}.metadata.annotations[\"{k}\"]"),
                format!(
                    "is not an annotation Klaxon knows here (it knows {})",
                    known.join(", ")
                ),
            ));
        }
    }
    Ok((
        meta.annotations.get(key).cloned(),
        format!("{at}.metadata.annotations[\"{key}\"]"),
    ))
}

fn objective(at: &str, list: &[ObjectiveDoc], paths: &mut Paths) -> ApiResult<f64> {
    let [o] = list else {
        return Err(bad(
            format!("{at}.spec.objectives"),
            "a Klaxon SLO has exactly one objective",
        ));
    };
    let p = format!("{at}.spec.objectives[0]");
    for (name, given) in [
        ("op", o.op.is_some()),
        ("value", o.value.is_some()),
        ("timeSliceTarget", o.time_slice_target.is_some()),
        ("timeSliceWindow", o.time_slice_window.is_some()),
    ] {
        if given {
            return Err(bad(
                format!("{p}.{name}"),
                "is for threshold metrics and time slices, which Klaxon does not take",
            ));
        }
    }
    match (o.target, o.target_percent) {
        (Some(t), None) => {
            paths.objective = format!("{p}.target");
            // 0.999 × 100 is 99.9 to people, not 99.90000000000001.
            Ok((t * 100.0 * 1e9).round() / 1e9)
        }
        (None, Some(t)) => {
            paths.objective = format!("{p}.targetPercent");
            Ok(t)
        }
        _ => Err(bad(&p, "give target or targetPercent, one of them")),
    }
}

/// The API's window and zone from a timeWindow: rolling 7, 28, 30 or 90 days (weeks taken
/// too), or a calendar month starting on the 1st at midnight in its zone.
fn time_window(
    at: &str,
    list: &[TimeWindow],
    paths: &mut Paths,
) -> ApiResult<(String, Option<String>)> {
    let [w] = list else {
        return Err(bad(
            format!("{at}.spec.timeWindow"),
            "give exactly one time window",
        ));
    };
    let p = format!("{at}.spec.timeWindow[0]");
    paths.window = format!("{p}.duration");
    paths.time_zone = format!("{p}.calendar.timeZone");
    let rolling = w.is_rolling.unwrap_or(w.calendar.is_none());
    match (&w.calendar, rolling) {
        (None, true) => {
            let days = klaxon_duration(&w.duration);
            let ok = days
                .strip_suffix('d')
                .and_then(|d| d.parse::<i32>().ok())
                .is_some_and(|d| slo::ROLLING_DAYS.contains(&d));
            if !ok {
                return Err(bad(
                    &paths.window,
                    "a rolling window is 7d, 28d, 30d or 90d (1w and 4w too)",
                ));
            }
            Ok((days, None))
        }
        (Some(c), false) => {
            if w.duration.trim() != "1M" {
                return Err(bad(
                    &paths.window,
                    "a calendar window is 1M: the calendar month",
                ));
            }
            if let Some(start) = &c.start_time {
                let first = start
                    .trim()
                    .parse::<jiff::civil::DateTime>()
                    .ok()
                    .is_some_and(|t| t.day() == 1 && t.time() == jiff::civil::Time::midnight());
                if !first {
                    return Err(bad(
                        format!("{p}.calendar.startTime"),
                        "a month starts on the 1st at midnight: give 2020-01-01 00:00:00",
                    ));
                }
            }
            Ok(("month".into(), c.time_zone.clone()))
        }
        (None, false) => Err(bad(
            format!("{p}.calendar"),
            "a window that is not rolling needs its calendar",
        )),
        (Some(_), true) => Err(bad(
            format!("{p}.isRolling"),
            "a calendar window is not rolling",
        )),
    }
}

pub use super::openslo_write::{export, export_all};

#[cfg(test)]
#[path = "openslo_tests.rs"]
mod tests;
