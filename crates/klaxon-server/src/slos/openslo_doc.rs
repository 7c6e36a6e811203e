//! The OpenSLO v1 documents as serde reads and writes them (the spec's field names, camelCase).
//! Every type refuses fields it does not know, so a typo is never silently ignored; fields the
//! spec has but Klaxon does not take are read so they can be refused by name (openslo.rs).
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use yaml_serde::Value;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Meta {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// People's labels: kept out of Klaxon, so taken and ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Value>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Doc<S> {
    pub api_version: String,
    pub kind: String,
    pub metadata: Meta,
    pub spec: S,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SloSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub service: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indicator: Option<InlineSli>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indicator_ref: Option<String>,
    pub time_window: Vec<TimeWindow>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budgeting_method: Option<String>,
    pub objectives: Vec<ObjectiveDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_policies: Option<Vec<PolicyItem>>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InlineSli {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Meta>,
    pub spec: SliSpec,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SliSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold_metric: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio_metric: Option<Ratio>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Ratio {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub good: Option<MetricRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bad: Option<MetricRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<MetricRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_type: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<Value>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MetricRef {
    pub metric_source: MetricSource,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MetricSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_source_ref: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<QuerySpec>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuerySpec {
    /// Prometheus: the PromQL query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// klaxon-availability: the uptime check's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    /// klaxon-availability: the status-page component's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TimeWindow {
    pub duration: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_rolling: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar: Option<Calendar>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Calendar {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

/// Fields for threshold metrics and time slices are known (so not "unknown field") but
/// refused: Klaxon's SLIs count events.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ObjectiveDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_slice_target: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_slice_window: Option<Value>,
}

/// An alert policy in an SLO: a reference to an AlertPolicy document, or one inline.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PolicyItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_policy_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Meta>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<PolicySpec>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PolicySpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_when_no_data: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_when_resolved: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_when_breaching: Option<bool>,
    pub conditions: Vec<ConditionItem>,
    /// Klaxon pages through the service's escalation policy: targets are taken and ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_targets: Option<Vec<Value>>,
}

/// A condition in a policy: a reference to an AlertCondition document, or one inline.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConditionItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Meta>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<ConditionSpec>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConditionSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub severity: String,
    pub condition: Condition,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Condition {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<String>,
    pub threshold: f64,
    pub lookback_window: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_after: Option<String>,
}

/// AlertNotificationTarget: taken and ignored (Klaxon pages by the service's policy).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read only to refuse unknown fields
pub struct TargetSpec {
    #[serde(default)]
    pub target: Option<Value>,
    #[serde(default)]
    pub description: Option<String>,
}

/// Service: Klaxon's services are made in Klaxon; a Service document must name one.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read only to refuse unknown fields
pub struct ServiceSpec {
    #[serde(default)]
    pub description: Option<String>,
}
