//! Alerts: signals from monitoring, deduplicated while open, and the rules that decide what a
//! signal does to the alert it names and which incident a new alert joins.
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::{Invalid, named_enum};

named_enum! {
    /// PagerDuty's four severities, the vocabulary of every integration.
    pub enum Severity (field = "severity", schema = "AlertSeverity") {
        Critical = "critical",
        Error = "error",
        Warning = "warning",
        Info = "info",
    }
}

named_enum! {
    /// Whether an incident pages people now (high) or waits for working hours (low). Medium
    /// is ITIL's middle step, for declared incidents; it pages as high (never miss a page).
    pub enum Urgency (field = "urgency") {
        High = "high",
        Medium = "medium",
        Low = "low",
    }
}

impl Urgency {
    /// The urgency of the notification rules that page for it.
    pub fn pages_as(self) -> Urgency {
        match self {
            Urgency::Low => Urgency::Low,
            Urgency::High | Urgency::Medium => Urgency::High,
        }
    }
}

named_enum! {
    pub enum AlertStatus (field = "status") {
        Triggered = "triggered",
        Acknowledged = "acknowledged",
        Resolved = "resolved",
    }
}

named_enum! {
    /// What a signal asks for, as in PagerDuty's `event_action`.
    pub enum Action (field = "event_action") {
        Trigger = "trigger",
        Acknowledge = "acknowledge",
        Resolve = "resolve",
    }
}

named_enum! {
    /// The wire format an integration speaks.
    pub enum IntegrationKind (field = "kind") {
        /// PagerDuty Events API v2 at `/v2/enqueue`, keyed by `routing_key`.
        EventsV2 = "events_v2",
        Alertmanager = "alertmanager",
        Generic = "generic",
        Heartbeat = "heartbeat",
    }
}

/// Identifies an alert while it is open, within one service. 1 to 255 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct DedupKey(String);

impl DedupKey {
    pub const MAX: usize = 255;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if raw.is_empty() {
            return Err(Invalid::new("dedup_key", "must not be empty"));
        }
        if raw.chars().count() > Self::MAX {
            return Err(Invalid::new(
                "dedup_key",
                format!("must be at most {} characters", Self::MAX),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Cuts `s` to at most `max` characters, on a character boundary.
pub fn truncate(mut s: String, max: usize) -> String {
    if let Some((i, _)) = s.char_indices().nth(max) {
        s.truncate(i);
    }
    s
}

/// What a trigger says about the problem. Later triggers of the same open alert replace it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AlertContent {
    #[schema(max_length = 1024)]
    pub summary: String,
    pub source: Option<String>,
    pub severity: Severity,
    /// When the monitoring tool saw the problem, if it says.
    pub timestamp: Option<Timestamp>,
    pub component: Option<String>,
    pub group: Option<String>,
    pub class: Option<String>,
    /// Free-form JSON from the tool (custom_details, labels and annotations...): any JSON
    /// value, as the tool sent it.
    pub details: serde_json::Value,
    pub links: Vec<Link>,
    pub images: Vec<Image>,
    pub client: Option<String>,
    pub client_url: Option<String>,
}

impl AlertContent {
    pub const SUMMARY_MAX: usize = 1024;

    /// Checks the summary; longer summaries are refused rather than silently cut, except by
    /// adapters for tools that are known to send longer ones.
    pub fn parse_summary(raw: &str, field: &str) -> Result<String, Invalid> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(Invalid::new(field, "must not be empty"));
        }
        if s.chars().count() > Self::SUMMARY_MAX {
            return Err(Invalid::new(
                field,
                format!("must be at most {} characters", Self::SUMMARY_MAX),
            ));
        }
        Ok(s.to_owned())
    }

    /// The value of a grouping field, as text; `None` when the alert does not have it.
    pub fn field(&self, f: &GroupField) -> Option<String> {
        match f {
            GroupField::Summary => Some(self.summary.clone()),
            GroupField::Source => self.source.clone(),
            GroupField::Severity => Some(self.severity.as_str().to_owned()),
            GroupField::Component => self.component.clone(),
            GroupField::Group => self.group.clone(),
            GroupField::Class => self.class.clone(),
            GroupField::Detail(path) => {
                let mut v = &self.details;
                for part in path.split('.') {
                    v = v.get(part)?;
                }
                Some(match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Link {
    pub href: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Image {
    pub src: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub href: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt: Option<String>,
}

/// One parsed event from an integration.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    pub action: Action,
    pub dedup_key: DedupKey,
    /// Present exactly for triggers.
    pub content: Option<AlertContent>,
    /// A trigger's event as the tool sent it (JSON text, secrets such as the routing key left
    /// out), kept with the alert for people to read; the newest trigger's replaces the last.
    pub payload: Option<String>,
}

/// What a signal does to the alert its dedup key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// No open alert: a new one.
    Open,
    /// A trigger for an open alert: count it, keep the newest content, page nobody again.
    Deduplicate,
    Acknowledge,
    Resolve,
    /// Acknowledge or resolve for no open alert, or acknowledge of an acknowledged one:
    /// accepted and dropped, as PagerDuty does.
    Ignore,
}

impl Step {
    /// `open` is the status of the open alert with the signal's dedup key, if any.
    pub fn decide(action: Action, open: Option<AlertStatus>) -> Step {
        match (action, open) {
            (Action::Trigger, None | Some(AlertStatus::Resolved)) => Step::Open,
            (Action::Trigger, Some(_)) => Step::Deduplicate,
            (Action::Acknowledge, Some(AlertStatus::Triggered)) => Step::Acknowledge,
            (Action::Resolve, Some(AlertStatus::Triggered | AlertStatus::Acknowledged)) => {
                Step::Resolve
            }
            _ => Step::Ignore,
        }
    }
}

named_enum! {
    /// How a service turns an alert's severity into an incident's urgency.
    pub enum UrgencyRule (field = "urgency_rule") {
        High = "high",
        Low = "low",
        /// critical and error page now; warning and info wait.
        SeverityBased = "severity_based",
    }
}

impl UrgencyRule {
    pub fn urgency(self, severity: Severity) -> Urgency {
        match self {
            UrgencyRule::High => Urgency::High,
            UrgencyRule::Low => Urgency::Low,
            UrgencyRule::SeverityBased => match severity {
                Severity::Critical | Severity::Error => Urgency::High,
                Severity::Warning | Severity::Info => Urgency::Low,
            },
        }
    }
}

/// An alert field that content-based grouping compares. `details.x.y` names a value inside
/// the alert's details.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GroupField {
    Summary,
    Source,
    Severity,
    Component,
    Group,
    Class,
    Detail(String),
}

impl GroupField {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        Ok(match raw {
            "summary" => Self::Summary,
            "source" => Self::Source,
            "severity" => Self::Severity,
            "component" => Self::Component,
            "group" => Self::Group,
            "class" => Self::Class,
            _ => match raw.strip_prefix("details.") {
                Some(path) if !path.is_empty() && path.split('.').all(|p| !p.is_empty()) => {
                    Self::Detail(path.to_owned())
                }
                _ => {
                    return Err(Invalid::new(
                        "grouping.fields",
                        format!(
                            "unknown field {raw:?}: use summary, source, severity, component, \
                             group, class or details.<name>"
                        ),
                    ));
                }
            },
        })
    }

    pub fn name(&self) -> String {
        match self {
            Self::Summary => "summary".into(),
            Self::Source => "source".into(),
            Self::Severity => "severity".into(),
            Self::Component => "component".into(),
            Self::Group => "group".into(),
            Self::Class => "class".into(),
            Self::Detail(p) => format!("details.{p}"),
        }
    }
}

impl utoipa::PartialSchema for GroupField {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "summary, source, severity, component, group, class, or details.<name> \
                 (a value inside the alert's details; dots go deeper)",
            ))
            .pattern(Some(
                r"^(summary|source|severity|component|group|class|details(\.[^.]+)+)$",
            ))
            .into()
    }
}

impl utoipa::ToSchema for GroupField {}

impl Serialize for GroupField {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for GroupField {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        GroupField::parse(&s).map_err(|e| serde::de::Error::custom(e.reason))
    }
}

named_enum! {
    /// Whether content-based grouping needs every chosen field to match, or one is enough.
    pub enum Aggregate (field = "grouping.aggregate") {
        All = "all",
        Any = "any",
    }
}

/// How a service gathers new alerts into incidents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Grouping {
    /// One incident per alert.
    None,
    /// Join the service's open incident if it was opened less than `window_minutes` ago;
    /// 0 means for as long as it is open.
    Time {
        #[schema(maximum = 10080)]
        window_minutes: u32,
    },
    /// Join an open incident, opened less than `window_minutes` ago (0: any), whose first
    /// alert had the same values of `fields` (all of them, or any one).
    Content {
        #[schema(min_items = 1, max_items = 10)]
        fields: Vec<GroupField>,
        aggregate: Aggregate,
        #[schema(maximum = 10080)]
        window_minutes: u32,
    },
}

impl Grouping {
    /// The longest window: a week.
    pub const MAX_WINDOW_MINUTES: u32 = 7 * 24 * 60;

    pub fn validate(self) -> Result<Self, Invalid> {
        let window = match &self {
            Grouping::None => return Ok(self),
            Grouping::Time { window_minutes } => *window_minutes,
            Grouping::Content {
                fields,
                window_minutes,
                ..
            } => {
                if fields.is_empty() {
                    return Err(Invalid::new(
                        "grouping.fields",
                        "name at least one field to compare",
                    ));
                }
                if fields.len() > 10 {
                    return Err(Invalid::new("grouping.fields", "at most 10 fields"));
                }
                *window_minutes
            }
        };
        if window > Self::MAX_WINDOW_MINUTES {
            return Err(Invalid::new(
                "grouping.window_minutes",
                format!("must be at most {} (a week)", Self::MAX_WINDOW_MINUTES),
            ));
        }
        Ok(self)
    }

    /// How many of the service's newest open incidents [`Grouping::choose`] needs to see: none
    /// for one incident per alert, the newest for time grouping, a bounded set for content.
    pub fn candidates_needed(&self) -> u32 {
        match self {
            Grouping::None => 0,
            Grouping::Time { .. } => 1,
            Grouping::Content { .. } => 200,
        }
    }

    /// The values content-based grouping remembers of an incident's first alert.
    pub fn values(&self, content: &AlertContent) -> Vec<Option<String>> {
        match self {
            Grouping::Content { fields, .. } => fields.iter().map(|f| content.field(f)).collect(),
            _ => Vec::new(),
        }
    }

    /// Which open incident a new alert joins, or `None` for a new incident. `candidates` are
    /// the service's open incidents that alerts opened, newest first.
    pub fn choose<I: Copy>(
        &self,
        content: &AlertContent,
        candidates: &[Candidate<I>],
        now: Timestamp,
    ) -> Option<I> {
        let within = |window_minutes: u32, c: &Candidate<I>| {
            window_minutes == 0
                || now.duration_since(c.opened_at)
                    < SignedDuration::from_mins(i64::from(window_minutes))
        };
        match self {
            Grouping::None => None,
            Grouping::Time { window_minutes } => candidates
                .iter()
                .find(|c| within(*window_minutes, c))
                .map(|c| c.id),
            Grouping::Content {
                aggregate,
                window_minutes,
                ..
            } => {
                let mine = self.values(content);
                candidates
                    .iter()
                    .filter(|c| within(*window_minutes, c))
                    .find(|c| {
                        let same =
                            |(a, b): (&Option<String>, &Option<String>)| a.is_some() && a == b;
                        let mut pairs = mine.iter().zip(c.group_values.iter());
                        c.group_values.len() == mine.len()
                            && match aggregate {
                                Aggregate::All => pairs.all(same),
                                Aggregate::Any => pairs.any(same),
                            }
                    })
                    .map(|c| c.id)
            }
        }
    }
}

/// An open incident a new alert might join.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate<I> {
    pub id: I,
    pub opened_at: Timestamp,
    pub group_values: Vec<Option<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(summary: &str, source: &str) -> AlertContent {
        AlertContent {
            summary: summary.into(),
            source: Some(source.into()),
            severity: Severity::Critical,
            timestamp: None,
            component: None,
            group: None,
            class: None,
            details: serde_json::json!({"region": "eu", "n": 3}),
            links: vec![],
            images: vec![],
            client: None,
            client_url: None,
        }
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn steps_follow_pagerduty() {
        use AlertStatus::*;
        assert_eq!(Step::decide(Action::Trigger, None), Step::Open);
        assert_eq!(Step::decide(Action::Trigger, Some(Resolved)), Step::Open);
        assert_eq!(
            Step::decide(Action::Trigger, Some(Triggered)),
            Step::Deduplicate
        );
        assert_eq!(
            Step::decide(Action::Trigger, Some(Acknowledged)),
            Step::Deduplicate
        );
        assert_eq!(
            Step::decide(Action::Acknowledge, Some(Triggered)),
            Step::Acknowledge
        );
        assert_eq!(
            Step::decide(Action::Acknowledge, Some(Acknowledged)),
            Step::Ignore
        );
        assert_eq!(Step::decide(Action::Acknowledge, None), Step::Ignore);
        assert_eq!(Step::decide(Action::Resolve, None), Step::Ignore);
        assert_eq!(
            Step::decide(Action::Resolve, Some(Acknowledged)),
            Step::Resolve
        );
    }

    #[test]
    fn names_parse_and_refuse_with_the_field() {
        assert_eq!("error".parse::<Severity>().unwrap(), Severity::Error);
        let e = "fatal".parse::<Severity>().unwrap_err();
        assert_eq!(e.field, "severity");
        assert_eq!(e.reason, "must be one of: critical, error, warning, info");
        assert_eq!(
            serde_json::from_str::<Action>("\"resolve\"").unwrap(),
            Action::Resolve
        );
        assert!(serde_json::from_str::<Action>("\"close\"").is_err());
    }

    #[test]
    fn dedup_keys_and_summaries_are_bounded() {
        assert!(DedupKey::parse("").is_err());
        assert!(DedupKey::parse(&"é".repeat(255)).is_ok());
        assert_eq!(
            DedupKey::parse(&"k".repeat(256)).unwrap_err().field,
            "dedup_key"
        );
        assert!(AlertContent::parse_summary("  ", "payload.summary").is_err());
        assert_eq!(truncate("héllo".into(), 2), "hé");
        assert_eq!(truncate("hi".into(), 5), "hi");
    }

    #[test]
    fn urgency_from_severity() {
        assert_eq!(
            UrgencyRule::SeverityBased.urgency(Severity::Error),
            Urgency::High
        );
        assert_eq!(
            UrgencyRule::SeverityBased.urgency(Severity::Warning),
            Urgency::Low
        );
        assert_eq!(UrgencyRule::Low.urgency(Severity::Critical), Urgency::Low);
    }

    #[test]
    fn time_grouping_joins_recent_incidents_only() {
        let now = at("2026-11-21T10:00:00Z");
        let cands = [
            Candidate {
                id: 2,
                opened_at: at("2026-11-21T09:50:00Z"),
                group_values: vec![],
            },
            Candidate {
                id: 1,
                opened_at: at("2026-11-21T08:00:00Z"),
                group_values: vec![],
            },
        ];
        let c = content("disk full", "db1");
        assert_eq!(
            Grouping::Time { window_minutes: 15 }.choose(&c, &cands, now),
            Some(2)
        );
        assert_eq!(
            Grouping::Time { window_minutes: 5 }.choose(&c, &cands, now),
            None
        );
        assert_eq!(
            Grouping::Time { window_minutes: 0 }.choose(&c, &cands[1..], now),
            Some(1)
        );
        assert_eq!(Grouping::None.choose(&c, &cands, now), None);
    }

    #[test]
    fn content_grouping_compares_chosen_fields() {
        let now = at("2026-11-21T10:00:00Z");
        let rule = |aggregate| Grouping::Content {
            fields: vec![GroupField::Source, GroupField::Detail("region".into())],
            aggregate,
            window_minutes: 60,
        };
        let first = content("disk full", "db1");
        let cands = [Candidate {
            id: 7,
            opened_at: at("2026-11-21T09:30:00Z"),
            group_values: rule(Aggregate::All).values(&first),
        }];
        assert_eq!(
            cands[0].group_values,
            vec![Some("db1".into()), Some("eu".into())]
        );
        // Same source and region, different summary: joins.
        let same = content("cpu high", "db1");
        assert_eq!(rule(Aggregate::All).choose(&same, &cands, now), Some(7));
        // Another source: all-match fails, any-match still joins on the region.
        let other = content("disk full", "db2");
        assert_eq!(rule(Aggregate::All).choose(&other, &cands, now), None);
        assert_eq!(rule(Aggregate::Any).choose(&other, &cands, now), Some(7));
        // Missing values never match.
        let mut none = content("x", "db9");
        none.details = serde_json::json!({});
        assert_eq!(rule(Aggregate::Any).choose(&none, &cands, now), None);
        // Outside the window.
        assert_eq!(
            rule(Aggregate::All).choose(&same, &cands, at("2026-11-21T10:31:00Z")),
            None
        );
    }

    #[test]
    fn grouping_rules_are_validated() {
        let g: Grouping = serde_json::from_value(serde_json::json!({
            "type": "content", "fields": ["source", "details.labels.job"],
            "aggregate": "all", "window_minutes": 10}))
        .unwrap();
        assert!(g.clone().validate().is_ok());
        assert!(
            serde_json::from_value::<Grouping>(serde_json::json!({
                "type": "content", "fields": ["hostname"], "aggregate": "all", "window_minutes": 1}))
            .is_err()
        );
        let empty = Grouping::Content {
            fields: vec![],
            aggregate: Aggregate::All,
            window_minutes: 1,
        };
        assert_eq!(empty.validate().unwrap_err().field, "grouping.fields");
        assert_eq!(
            Grouping::Time {
                window_minutes: 20_000
            }
            .validate()
            .unwrap_err()
            .field,
            "grouping.window_minutes"
        );
        assert_eq!(
            serde_json::to_value(&g).unwrap()["fields"][1],
            "details.labels.job"
        );
    }
}
