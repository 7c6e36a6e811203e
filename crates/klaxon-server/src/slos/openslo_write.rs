//! Klaxon SLOs written as OpenSLO v1: one SLO document each, its SLI and alert policies
//! inline, every rule spelled out with its short window, so applying the export back changes
//! nothing (docs/slos.md, "SLOs as code").
use std::collections::BTreeMap;

use klaxon_domain::slo::{self, BurnRule, Sli, Slo, Window};

use super::api::window_spelling;
use super::openslo::{API_VERSION, AT_RISK, AVAILABILITY, PUSHED, SHORT_WINDOW};
use super::openslo_doc::{
    Calendar, Condition, ConditionItem, ConditionSpec, Doc, InlineSli, Meta, MetricRef,
    MetricSource, ObjectiveDoc, PolicyItem, PolicySpec, QuerySpec, Ratio, SliSpec, SloSpec,
    TimeWindow,
};
use crate::shared::error::{ApiError, ApiResult};

/// A name as OpenSLO wants it: lowercase letters, digits and `-`, at most 63.
fn dns_name(raw: &str) -> String {
    let mut out = String::new();
    for c in raw.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let mut out: String = out.chars().take(63).collect();
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() { "slo".into() } else { out }
}

fn metric(source: Option<&str>, spec: Option<QuerySpec>, kind: &str) -> MetricRef {
    MetricRef {
        metric_source: MetricSource {
            metric_source_ref: source.map(str::to_owned),
            kind: Some(kind.to_owned()),
            spec,
        },
    }
}

fn query(q: &str) -> Option<QuerySpec> {
    Some(QuerySpec {
        query: Some(q.to_owned()),
        check: None,
        component: None,
    })
}

fn policy(r: &BurnRule) -> PolicyItem {
    let meta = |annotations| Meta {
        name: r.name.clone(),
        annotations,
        ..Meta::default()
    };
    let short = BTreeMap::from([(SHORT_WINDOW.to_owned(), slo::format_duration(r.short))]);
    PolicyItem {
        kind: Some("AlertPolicy".into()),
        metadata: Some(meta(BTreeMap::new())),
        spec: Some(PolicySpec {
            description: None,
            alert_when_no_data: None,
            alert_when_resolved: None,
            alert_when_breaching: Some(true),
            conditions: vec![ConditionItem {
                kind: Some("AlertCondition".into()),
                metadata: Some(meta(short)),
                spec: Some(ConditionSpec {
                    description: None,
                    severity: r.urgency.as_str().to_owned(),
                    condition: Condition {
                        kind: Some("burnrate".into()),
                        op: None,
                        threshold: r.rate,
                        lookback_window: slo::format_duration(r.long),
                        alert_after: Some("0m".into()),
                    },
                }),
                ..ConditionItem::default()
            }],
            notification_targets: Some(Vec::new()),
        }),
        ..PolicyItem::default()
    }
}

/// One SLO as an OpenSLO SLO document, everything inline (so SLOs of the same name on two
/// services never collide), `service_name` being its service's name.
pub fn export(s: &Slo, service_name: &str) -> ApiResult<String> {
    let ratio = match &s.sli {
        Sli::Availability { check, component } => {
            let spec = || {
                Some(QuerySpec {
                    query: None,
                    check: check.map(|c| c.to_string()),
                    component: component.map(|c| c.to_string()),
                })
            };
            Ratio {
                counter: Some(true),
                good: Some(metric(None, spec(), AVAILABILITY)),
                bad: None,
                total: Some(metric(None, spec(), AVAILABILITY)),
                raw_type: None,
                raw: None,
            }
        }
        Sli::Pushed => Ratio {
            counter: Some(true),
            good: Some(metric(None, None, PUSHED)),
            bad: None,
            total: Some(metric(None, None, PUSHED)),
            raw_type: None,
            raw: None,
        },
        Sli::Prometheus {
            source,
            good,
            bad,
            total,
        } => {
            let m = |q: &Option<String>| {
                q.as_deref()
                    .map(|q| metric(Some(source), query(q), "Prometheus"))
            };
            Ratio {
                counter: Some(true),
                good: m(good),
                bad: m(bad),
                total: Some(metric(Some(source), query(total), "Prometheus")),
                raw_type: None,
                raw: None,
            }
        }
    };
    let window = match &s.window {
        Window::Rolling { .. } => TimeWindow {
            duration: window_spelling(&s.window).0,
            is_rolling: Some(true),
            calendar: None,
        },
        Window::CalendarMonth { .. } => TimeWindow {
            duration: "1M".into(),
            is_rolling: Some(false),
            calendar: Some(Calendar {
                start_time: Some("2020-01-01 00:00:00".into()),
                time_zone: window_spelling(&s.window).1,
            }),
        },
    };
    let mut annotations = BTreeMap::new();
    if s.at_risk != slo::DEFAULT_AT_RISK {
        annotations.insert(AT_RISK.to_owned(), s.at_risk.to_string());
    }
    let name = dns_name(&format!("{service_name}-{}", s.name));
    let doc = Doc {
        api_version: API_VERSION.into(),
        kind: "SLO".into(),
        metadata: Meta {
            name: name.clone(),
            display_name: Some(s.name.clone()),
            labels: None,
            annotations,
        },
        spec: SloSpec {
            description: Some(s.description.clone()).filter(|d| !d.is_empty()),
            service: service_name.to_owned(),
            indicator: Some(InlineSli {
                metadata: Some(Meta {
                    name,
                    ..Meta::default()
                }),
                spec: SliSpec {
                    description: None,
                    threshold_metric: None,
                    ratio_metric: Some(ratio),
                },
            }),
            indicator_ref: None,
            time_window: vec![window],
            budgeting_method: Some("Occurrences".into()),
            objectives: vec![ObjectiveDoc {
                target_percent: Some(s.objective.percent()),
                ..ObjectiveDoc::default()
            }],
            alert_policies: Some(s.rules.iter().map(|r| policy(&r.rule)).collect()),
        },
    };
    yaml_serde::to_string(&doc).map_err(|e| ApiError::Internal(e.into()))
}

/// Several SLOs as one multi-document file.
pub fn export_all<'a>(slos: impl IntoIterator<Item = (&'a Slo, &'a str)>) -> ApiResult<String> {
    let docs = slos
        .into_iter()
        .map(|(s, service)| export(s, service))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(docs.iter().map(|d| format!("---\n{d}")).collect::<String>())
}
