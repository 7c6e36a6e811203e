//! Incidents: what people respond to. Severity, priority, the lifecycle, milestones and roles
//! are rules here; the store only keeps what these rules allow.
use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::Invalid;
use crate::alert::Urgency;
use crate::named_enum;

named_enum! {
    /// Where an incident is in its life. Alerts move it between the first three; people take
    /// it further.
    pub enum IncidentStatus (field = "status") {
        Triggered = "triggered",
        Acknowledged = "acknowledged",
        Mitigated = "mitigated",
        Resolved = "resolved",
        Closed = "closed",
    }
}

impl IncidentStatus {
    /// Still needs people: not yet resolved or closed.
    pub fn is_open(self) -> bool {
        !matches!(self, IncidentStatus::Resolved | IncidentStatus::Closed)
    }

    /// Whether people may move an incident from `self` to `to`, and if not, why. Re-triggering
    /// is the engine's (an alert, "escalate now"), not a move people make.
    pub fn check_move(self, to: IncidentStatus) -> Result<(), Refusal> {
        use IncidentStatus::*;
        let allowed = match self {
            Triggered => matches!(to, Acknowledged | Mitigated | Resolved),
            Acknowledged => matches!(to, Mitigated | Resolved),
            // Impact came back: work goes on.
            Mitigated => matches!(to, Acknowledged | Resolved),
            // Reopening brings it back to people already on it.
            Resolved => matches!(to, Closed | Acknowledged),
            Closed => false,
        };
        if allowed {
            return Ok(());
        }
        let reason = if self == to {
            format!("the incident is already {self}")
        } else if self == Closed {
            "a closed incident cannot change status".to_owned()
        } else {
            format!("an incident cannot go from {self} to {to}")
        };
        Err(Refusal::conflict("status", reason))
    }
}

named_enum! {
    /// How bad it is. Definitions are the organisation's (configuration); the names are fixed.
    pub enum Severity (field = "severity", schema = "IncidentSeverity") {
        Sev1 = "SEV1",
        Sev2 = "SEV2",
        Sev3 = "SEV3",
        Sev4 = "SEV4",
    }
}

impl Severity {
    /// Major incidents: they need a commander once someone is on them.
    pub fn is_major(self) -> bool {
        matches!(self, Severity::Sev1 | Severity::Sev2)
    }

    /// Accepts `sev2` as well as `SEV2`: people type it.
    pub fn parse_loose(s: &str) -> Result<Self, Invalid> {
        s.to_ascii_uppercase().parse()
    }

    /// Impact and urgency a declaration gets when the declarer gives none.
    pub fn default_impact_urgency(self) -> (Impact, Urgency) {
        match self {
            Severity::Sev1 => (Impact::High, Urgency::High),
            Severity::Sev2 => (Impact::High, Urgency::Medium),
            Severity::Sev3 => (Impact::Medium, Urgency::Medium),
            Severity::Sev4 => (Impact::Low, Urgency::Low),
        }
    }

    /// What the severity means where no definition is configured.
    pub fn default_definition(self) -> &'static str {
        match self {
            Severity::Sev1 => {
                "Critical: a core service is down or data is at risk for many customers."
            }
            Severity::Sev2 => {
                "Major: a core feature is broken or badly degraded for many customers."
            }
            Severity::Sev3 => "Minor: a partial or intermittent problem; a workaround exists.",
            Severity::Sev4 => "Low: little or no customer impact; handle in working hours.",
        }
    }
}

named_enum! {
    /// ITIL impact: how much of the business is hurt.
    pub enum Impact (field = "impact") {
        High = "high",
        Medium = "medium",
        Low = "low",
    }
}

named_enum! {
    pub enum Priority (field = "priority") {
        P1 = "P1",
        P2 = "P2",
        P3 = "P3",
        P4 = "P4",
        P5 = "P5",
    }
}

/// Priority from impact × urgency (ITIL). Rows are impact high, medium, low; columns urgency
/// high, medium, low.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriorityMatrix(pub [[Priority; 3]; 3]);

impl Default for PriorityMatrix {
    fn default() -> Self {
        use Priority::*;
        Self([[P1, P2, P3], [P2, P3, P4], [P3, P4, P5]])
    }
}

impl PriorityMatrix {
    pub fn priority(&self, impact: Impact, urgency: Urgency) -> Priority {
        let row = match impact {
            Impact::High => 0,
            Impact::Medium => 1,
            Impact::Low => 2,
        };
        let col = match urgency {
            Urgency::High => 0,
            Urgency::Medium => 1,
            Urgency::Low => 2,
        };
        self.0[row][col]
    }

    /// From configuration: one row of three priorities per impact.
    pub fn from_rows(high: &[String], medium: &[String], low: &[String]) -> Result<Self, Invalid> {
        let row = |name: &str, cells: &[String]| -> Result<[Priority; 3], Invalid> {
            let field = format!("incidents.priority_matrix.{name}");
            let parsed: Vec<Priority> = cells
                .iter()
                .map(|c| {
                    c.parse()
                        .map_err(|e: Invalid| Invalid::new(&field, e.reason))
                })
                .collect::<Result<_, _>>()?;
            parsed.try_into().map_err(|_| {
                Invalid::new(&field, "needs three priorities: urgency high, medium, low")
            })
        };
        Ok(Self([
            row("high", high)?,
            row("medium", medium)?,
            row("low", low)?,
        ]))
    }
}

/// Why a change to an incident was refused. Each becomes a 4xx naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Malformed or out-of-range input (400).
    #[error("{0}")]
    Invalid(Invalid),
    /// Well-formed, but the incident's state forbids it (409).
    #[error("{field}: {reason}")]
    Conflict { field: String, reason: String },
    /// The caller may not do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// A part of the incident the change names does not exist (404), e.g. a task.
    #[error("{0} not found")]
    NotFound(&'static str),
}

impl Refusal {
    pub fn conflict(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Conflict {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl From<Invalid> for Refusal {
    fn from(e: Invalid) -> Self {
        Self::Invalid(e)
    }
}

/// The moments of an incident's life, in the order they must keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Milestones {
    pub impact_started_at: Option<Timestamp>,
    pub detected_at: Option<Timestamp>,
    /// When the incident was opened (declared by a person or opened by an alert).
    pub declared_at: Option<Timestamp>,
    pub acknowledged_at: Option<Timestamp>,
    pub mitigated_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    pub closed_at: Option<Timestamp>,
}

/// The milestone names, in order; they are also the API's field names.
pub const MILESTONES: [&str; 7] = [
    "impact_started_at",
    "detected_at",
    "declared_at",
    "acknowledged_at",
    "mitigated_at",
    "resolved_at",
    "closed_at",
];

impl Milestones {
    pub fn get(&self, name: &str) -> Option<Timestamp> {
        self.slots()
            .into_iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| v)
    }

    /// Sets one milestone by name; `Invalid` for a name that is not one.
    pub fn set(&mut self, name: &str, at: Option<Timestamp>) -> Result<(), Invalid> {
        let slot = match name {
            "impact_started_at" => &mut self.impact_started_at,
            "detected_at" => &mut self.detected_at,
            "declared_at" => &mut self.declared_at,
            "acknowledged_at" => &mut self.acknowledged_at,
            "mitigated_at" => &mut self.mitigated_at,
            "resolved_at" => &mut self.resolved_at,
            "closed_at" => &mut self.closed_at,
            _ => {
                return Err(Invalid::new(
                    name,
                    format!("not a milestone; milestones are {}", MILESTONES.join(", ")),
                ));
            }
        };
        *slot = at;
        Ok(())
    }

    fn slots(&self) -> [(&'static str, Option<Timestamp>); 7] {
        [
            ("impact_started_at", self.impact_started_at),
            ("detected_at", self.detected_at),
            ("declared_at", self.declared_at),
            ("acknowledged_at", self.acknowledged_at),
            ("mitigated_at", self.mitigated_at),
            ("resolved_at", self.resolved_at),
            ("closed_at", self.closed_at),
        ]
    }

    /// The rules every set of milestones keeps: those present are in order, none lies in the
    /// future, and they agree with the status (a resolved incident has `resolved_at`, an open
    /// one has none). The error names the first milestone to blame.
    pub fn check(&self, status: IncidentStatus, now: Timestamp) -> Result<(), Refusal> {
        self.check_edited(status, now, &[])
    }

    /// [`Self::check`] after an edit of the `edited` milestones: of two milestones out of
    /// order, the one that was edited is blamed (moving `detected_at` past `declared_at`
    /// names `detected_at`, the field the person changed).
    pub fn check_edited(
        &self,
        status: IncidentStatus,
        now: Timestamp,
        edited: &[&str],
    ) -> Result<(), Refusal> {
        let mut before: Option<(&str, Timestamp)> = None;
        for (name, at) in self.slots() {
            let Some(at) = at else { continue };
            if at > now {
                return Err(Invalid::new(name, format!("{at} is in the future")).into());
            }
            if let Some((prev, prev_at)) = before
                && at < prev_at
            {
                let keep = "milestones keep their order";
                let e = if !edited.contains(&name) && edited.contains(&prev) {
                    Invalid::new(prev, format!("{prev_at} is after {name} ({at}); {keep}"))
                } else {
                    Invalid::new(name, format!("{at} is before {prev} ({prev_at}); {keep}"))
                };
                return Err(e.into());
            }
            before = Some((name, at));
        }
        use IncidentStatus::*;
        let needs = |name: &str, present: bool, wanted: bool| -> Result<(), Refusal> {
            match (present, wanted) {
                (false, true) => Err(Refusal::conflict(
                    name,
                    format!(
                        "a {status} incident keeps its {}",
                        name.trim_end_matches("_at")
                    ),
                )),
                (true, false) => Err(Refusal::conflict(
                    name,
                    format!(
                        "the incident is {status}; change its status to set {}",
                        name.trim_end_matches("_at")
                    ),
                )),
                _ => Ok(()),
            }
        };
        if self.declared_at.is_none() {
            return Err(Refusal::conflict("declared_at", "every incident has one"));
        }
        // Acknowledgement is optional (resolved straight from triggered) but not before it.
        if status == Triggered {
            needs("acknowledged_at", self.acknowledged_at.is_some(), false)?;
        }
        needs(
            "mitigated_at",
            self.mitigated_at.is_some(),
            status == Mitigated,
        )
        .or_else(|e| match status {
            // Resolved or closed incidents may or may not have gone through mitigation.
            Resolved | Closed => Ok(()),
            _ => Err(e),
        })?;
        needs(
            "resolved_at",
            self.resolved_at.is_some(),
            matches!(status, Resolved | Closed),
        )?;
        needs("closed_at", self.closed_at.is_some(), status == Closed)?;
        Ok(())
    }
}

/// The milestones a status move stamps (at `now`) and clears. Leaves ones already stamped.
pub fn stamp_move(m: &mut Milestones, from: IncidentStatus, to: IncidentStatus, now: Timestamp) {
    use IncidentStatus::*;
    match to {
        Acknowledged => {
            m.acknowledged_at.get_or_insert(now);
            // Back to work: whatever came after acknowledgement no longer holds.
            if matches!(from, Mitigated | Resolved) {
                m.mitigated_at = None;
                m.resolved_at = None;
                m.closed_at = None;
            }
        }
        Mitigated => {
            m.mitigated_at = Some(now);
        }
        Resolved => {
            m.resolved_at = Some(now);
        }
        Closed => {
            m.closed_at = Some(now);
        }
        Triggered => {
            m.acknowledged_at = None;
            m.mitigated_at = None;
        }
    }
}

/// A role people hold in an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleDef {
    /// Stable key: `commander`, `communications_lead`, or the organisation's own.
    pub key: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Several people may hold it at once (subject-matter experts); otherwise assigning
    /// someone hands it over.
    #[serde(default)]
    pub multiple: bool,
}

pub const COMMANDER: &str = "commander";

/// The roles an incident can have: four built in, then the organisation's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleCatalog {
    roles: Vec<RoleDef>,
}

impl Default for RoleCatalog {
    fn default() -> Self {
        let def = |key: &str, name: &str, description: &str, multiple| RoleDef {
            key: key.into(),
            name: name.into(),
            description: description.into(),
            multiple,
        };
        Self {
            roles: vec![
                def(
                    COMMANDER,
                    "Incident commander",
                    "Leads the response and makes the decisions; required for SEV1 and SEV2 once acknowledged.",
                    false,
                ),
                def(
                    "communications_lead",
                    "Communications lead",
                    "Keeps stakeholders and the status page up to date.",
                    false,
                ),
                def(
                    "scribe",
                    "Scribe",
                    "Records what happens and what is decided on the timeline.",
                    false,
                ),
                def(
                    "subject_matter_expert",
                    "Subject-matter expert",
                    "Brings knowledge of an affected system.",
                    true,
                ),
            ],
        }
    }
}

impl RoleCatalog {
    /// The built-in roles plus `custom` (keys: lowercase letters, digits and `_`, unique).
    pub fn with_custom(custom: Vec<RoleDef>) -> Result<Self, Invalid> {
        let mut catalog = Self::default();
        for role in custom {
            let field = format!("incidents.roles.{}", role.key);
            let valid_key = !role.key.is_empty()
                && role.key.len() <= 40
                && role
                    .key
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !valid_key {
                return Err(Invalid::new(
                    field,
                    "a role key is 1-40 lowercase letters, digits or _",
                ));
            }
            if catalog.get(&role.key).is_some() {
                return Err(Invalid::new(field, "this role already exists"));
            }
            if role.name.trim().is_empty() {
                return Err(Invalid::new(field, "a role needs a name"));
            }
            catalog.roles.push(role);
        }
        Ok(catalog)
    }

    pub fn get(&self, key: &str) -> Option<&RoleDef> {
        self.roles.iter().find(|r| r.key == key)
    }

    /// Parses a role key from input.
    pub fn parse(&self, key: &str) -> Result<&RoleDef, Invalid> {
        self.get(key).ok_or_else(|| {
            let keys: Vec<&str> = self.roles.iter().map(|r| r.key.as_str()).collect();
            Invalid::new("role", format!("must be one of: {}", keys.join(", ")))
        })
    }

    pub fn all(&self) -> &[RoleDef] {
        &self.roles
    }
}

/// Whether an incident in this state must have a commander.
pub fn needs_commander(severity: Option<Severity>, status: IncidentStatus) -> bool {
    severity.is_some_and(Severity::is_major)
        && matches!(
            status,
            IncidentStatus::Acknowledged | IncidentStatus::Mitigated
        )
}

/// Limits on what people type.
pub const TITLE_MAX: usize = 200;
pub const DESCRIPTION_MAX: usize = 20_000;
pub const NOTE_MAX: usize = 20_000;
pub const CATEGORY_MAX: usize = 80;

/// A required one-line text: trimmed, not empty, at most `max` characters.
pub fn parse_title(field: &str, s: &str, max: usize) -> Result<String, Invalid> {
    let s = s.trim();
    if s.is_empty() {
        return Err(Invalid::new(field, "must not be empty"));
    }
    if s.chars().count() > max {
        return Err(Invalid::new(field, format!("at most {max} characters")));
    }
    if s.chars().any(char::is_control) {
        return Err(Invalid::new(field, "must be one line"));
    }
    Ok(s.to_owned())
}

/// A free text of at most `max` characters (empty allowed).
pub fn parse_text(field: &str, s: &str, max: usize) -> Result<String, Invalid> {
    if s.chars().count() > max {
        return Err(Invalid::new(field, format!("at most {max} characters")));
    }
    Ok(s.trim_end().to_owned())
}

/// An optional one-line label (category, subcategory): blank means none.
pub fn parse_label(field: &str, s: Option<&str>) -> Result<Option<String>, Invalid> {
    match s.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => parse_title(field, s, CATEGORY_MAX).map(Some),
    }
}

/// An optional link people open (a conference bridge, a chat channel): blank means none;
/// otherwise an absolute http(s) URL without spaces, at most 2,000 characters.
pub fn parse_link(field: &str, s: Option<&str>) -> Result<Option<String>, Invalid> {
    let Some(s) = s.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    match rest {
        Some(rest)
            if !rest.is_empty()
                && s.len() <= 2000
                && !s.chars().any(|c| c.is_whitespace() || c.is_control())
                && !rest.starts_with('/') =>
        {
            Ok(Some(s.to_owned()))
        }
        _ => Err(Invalid::new(field, "must be an http:// or https:// link")),
    }
}

/// A ready-made stakeholder update: `{number}`, `{title}`, `{status}` and `{severity}` are
/// filled in from the incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTemplate {
    pub key: String,
    pub name: String,
    pub text: String,
}

impl UpdateTemplate {
    pub fn render(
        &self,
        number: i64,
        title: &str,
        status: IncidentStatus,
        severity: Option<Severity>,
    ) -> String {
        self.text
            .replace("{number}", &number.to_string())
            .replace("{title}", title)
            .replace("{status}", status.as_str())
            .replace("{severity}", severity.map_or("unset", |s| s.as_str()))
    }

    /// The four stages of a public-facing incident.
    pub fn defaults() -> Vec<Self> {
        let t = |key: &str, name: &str, text: &str| Self {
            key: key.into(),
            name: name.into(),
            text: text.into(),
        };
        vec![
            t(
                "investigating",
                "Investigating",
                "We are investigating incident #{number}: {title}. We will post the next update within 30 minutes.",
            ),
            t(
                "identified",
                "Identified",
                "We have found the cause of incident #{number} ({title}) and are working on a fix.",
            ),
            t(
                "monitoring",
                "Monitoring",
                "A fix for incident #{number} ({title}) is in place; we are watching to make sure it holds.",
            ),
            t(
                "resolved",
                "Resolved",
                "Incident #{number} ({title}) is resolved. Thank you for your patience.",
            ),
        ]
    }
}

/// The longest stakeholder update.
pub const UPDATE_MAX: usize = 5_000;

/// Per-severity definitions shown where people choose one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeverityDefinitions(BTreeMap<Severity, String>);

impl Default for SeverityDefinitions {
    fn default() -> Self {
        Self(
            Severity::ALL
                .iter()
                .map(|s| (*s, s.default_definition().to_owned()))
                .collect(),
        )
    }
}

impl SeverityDefinitions {
    /// Defaults, with the configured ones on top (keys `SEV1`..`SEV4`).
    pub fn with(configured: &BTreeMap<String, String>) -> Result<Self, Invalid> {
        let mut d = Self::default();
        for (k, v) in configured {
            let sev = k
                .parse::<Severity>()
                .map_err(|e| Invalid::new(format!("incidents.severities.{k}"), e.reason))?;
            d.0.insert(sev, v.clone());
        }
        Ok(d)
    }

    pub fn get(&self, s: Severity) -> &str {
        self.0.get(&s).map(String::as_str).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use IncidentStatus::*;

    fn t(s: &str) -> Timestamp {
        format!("2026-03-01T{s}:00Z").parse().unwrap()
    }

    #[test]
    fn itil_matrix() {
        let m = PriorityMatrix::default();
        assert_eq!(m.priority(Impact::High, Urgency::High), Priority::P1);
        assert_eq!(m.priority(Impact::High, Urgency::Low), Priority::P3);
        assert_eq!(m.priority(Impact::Medium, Urgency::Medium), Priority::P3);
        assert_eq!(m.priority(Impact::Low, Urgency::High), Priority::P3);
        assert_eq!(m.priority(Impact::Low, Urgency::Low), Priority::P5);
        let custom = PriorityMatrix::from_rows(
            &["P1".into(), "P1".into(), "P2".into()],
            &["P2".into(), "P3".into(), "P4".into()],
            &["P4".into(), "P5".into(), "P5".into()],
        )
        .unwrap();
        assert_eq!(custom.priority(Impact::High, Urgency::Medium), Priority::P1);
        let bad = PriorityMatrix::from_rows(&["P1".into()], &[], &[]).unwrap_err();
        assert_eq!(bad.field, "incidents.priority_matrix.high");
        let bad = PriorityMatrix::from_rows(&["P1".into(), "P9".into(), "P2".into()], &[], &[])
            .unwrap_err();
        assert!(bad.reason.contains("P5"), "{bad}");
    }

    #[test]
    fn lifecycle_moves() {
        assert!(Triggered.check_move(Acknowledged).is_ok());
        assert!(Triggered.check_move(Resolved).is_ok());
        assert!(Acknowledged.check_move(Mitigated).is_ok());
        assert!(Mitigated.check_move(Acknowledged).is_ok());
        assert!(Resolved.check_move(Closed).is_ok());
        assert!(Resolved.check_move(Acknowledged).is_ok());
        for (from, to) in [
            (Triggered, Closed),
            (Acknowledged, Closed),
            (Acknowledged, Triggered),
            (Mitigated, Closed),
            (Closed, Acknowledged),
            (Closed, Resolved),
            (Resolved, Resolved),
        ] {
            let e = from.check_move(to).unwrap_err();
            assert!(
                matches!(&e, Refusal::Conflict { field, .. } if field == "status"),
                "{from}->{to}: {e:?}"
            );
        }
        assert_eq!(
            Resolved.check_move(Resolved).unwrap_err().to_string(),
            "status: the incident is already resolved"
        );
    }

    #[test]
    fn milestones_keep_order_and_agree_with_status() {
        let now = t("12:00");
        let mut m = Milestones {
            declared_at: Some(t("10:00")),
            ..Default::default()
        };
        m.check(Triggered, now).unwrap();
        m.impact_started_at = Some(t("09:30"));
        m.detected_at = Some(t("09:45"));
        m.check(Triggered, now).unwrap();

        let mut late = m;
        late.detected_at = Some(t("10:30"));
        let e = late.check(Triggered, now).unwrap_err();
        assert!(
            matches!(&e, Refusal::Invalid(i) if i.field == "declared_at" && i.reason.contains("before detected_at")),
            "{e:?}"
        );

        let mut future = m;
        future.impact_started_at = Some(t("13:00"));
        let e = future.check(Triggered, now).unwrap_err();
        assert!(matches!(&e, Refusal::Invalid(i) if i.field == "impact_started_at"));

        // Status and milestones agree.
        let mut acked = m;
        acked.acknowledged_at = Some(t("10:05"));
        assert!(
            matches!(acked.check(Triggered, now), Err(Refusal::Conflict { field, .. }) if field == "acknowledged_at")
        );
        acked.check(Acknowledged, now).unwrap();
        assert!(
            matches!(acked.check(Resolved, now), Err(Refusal::Conflict { field, .. }) if field == "resolved_at")
        );
        let mut resolved = acked;
        resolved.resolved_at = Some(t("11:00"));
        resolved.check(Resolved, now).unwrap();
        assert!(resolved.check(Closed, now).is_err());
        resolved.closed_at = Some(t("11:30"));
        resolved.check(Closed, now).unwrap();
        let mut mitigated = acked;
        assert!(mitigated.check(Mitigated, now).is_err());
        mitigated.mitigated_at = Some(t("10:30"));
        mitigated.check(Mitigated, now).unwrap();
        assert!(mitigated.check(Acknowledged, now).is_err());
        // The edited milestone of the two is the one named.
        let e = late
            .check_edited(Triggered, now, &["detected_at"])
            .unwrap_err();
        assert!(
            matches!(&e, Refusal::Invalid(i) if i.field == "detected_at" && i.reason.contains("after declared_at")),
            "{e:?}"
        );
        let mut no_declared = m;
        no_declared.declared_at = None;
        assert!(no_declared.check(Triggered, now).is_err());
    }

    #[test]
    fn moves_stamp_milestones() {
        let mut m = Milestones {
            declared_at: Some(t("10:00")),
            ..Default::default()
        };
        stamp_move(&mut m, Triggered, Acknowledged, t("10:05"));
        stamp_move(&mut m, Acknowledged, Mitigated, t("10:10"));
        m.check(Mitigated, t("10:10")).unwrap();
        stamp_move(&mut m, Mitigated, Acknowledged, t("10:20"));
        assert_eq!(m.mitigated_at, None);
        assert_eq!(m.acknowledged_at, Some(t("10:05")));
        stamp_move(&mut m, Acknowledged, Resolved, t("10:30"));
        stamp_move(&mut m, Resolved, Closed, t("10:40"));
        m.check(Closed, t("10:40")).unwrap();
        let mut reopened = m;
        reopened.closed_at = None;
        stamp_move(&mut reopened, Resolved, Acknowledged, t("10:50"));
        assert_eq!(reopened.resolved_at, None);
        reopened.check(Acknowledged, t("10:50")).unwrap();
        // Mitigated, then resolved, then reopened: nothing after acknowledgement stays.
        let mut again = reopened;
        stamp_move(&mut again, Acknowledged, Mitigated, t("11:00"));
        stamp_move(&mut again, Mitigated, Resolved, t("11:10"));
        stamp_move(&mut again, Resolved, Acknowledged, t("11:20"));
        assert_eq!((again.mitigated_at, again.resolved_at), (None, None));
        again.check(Acknowledged, t("11:20")).unwrap();
    }

    #[test]
    fn commanders_and_roles() {
        assert!(needs_commander(Some(Severity::Sev1), Acknowledged));
        assert!(needs_commander(Some(Severity::Sev2), Mitigated));
        assert!(!needs_commander(Some(Severity::Sev2), Triggered));
        assert!(!needs_commander(Some(Severity::Sev3), Acknowledged));
        assert!(!needs_commander(None, Acknowledged));
        assert!(!needs_commander(Some(Severity::Sev1), Resolved));

        let custom = RoleCatalog::with_custom(vec![RoleDef {
            key: "security_lead".into(),
            name: "Security lead".into(),
            description: String::new(),
            multiple: false,
        }])
        .unwrap();
        assert!(custom.parse("security_lead").is_ok());
        assert!(custom.parse(COMMANDER).is_ok());
        let e = custom.parse("boss").unwrap_err();
        assert_eq!(e.field, "role");
        assert!(e.reason.contains("security_lead"));
        let dup = RoleCatalog::with_custom(vec![RoleDef {
            key: "scribe".into(),
            name: "x".into(),
            description: String::new(),
            multiple: false,
        }]);
        assert!(dup.is_err());
        let bad = RoleCatalog::with_custom(vec![RoleDef {
            key: "Bad Key".into(),
            name: "x".into(),
            description: String::new(),
            multiple: false,
        }]);
        assert!(bad.is_err());
    }

    #[test]
    fn update_templates_fill_in_the_incident() {
        let t = &UpdateTemplate::defaults()[0];
        assert_eq!(
            t.render(
                42,
                "Checkout down",
                IncidentStatus::Acknowledged,
                Some(Severity::Sev2)
            ),
            "We are investigating incident #42: Checkout down. We will post the next update within 30 minutes."
        );
        let custom = UpdateTemplate {
            key: "k".into(),
            name: "K".into(),
            text: "{severity} {status} {number}".into(),
        };
        assert_eq!(
            custom.render(7, "x", IncidentStatus::Mitigated, None),
            "unset mitigated 7"
        );
    }

    #[test]
    fn severities_and_text() {
        assert_eq!(Severity::parse_loose("sev2").unwrap(), Severity::Sev2);
        assert_eq!(Severity::parse_loose("SEV5").unwrap_err().field, "severity");
        let defs = SeverityDefinitions::with(&BTreeMap::from([(
            "SEV1".to_owned(),
            "All hands".to_owned(),
        )]))
        .unwrap();
        assert_eq!(defs.get(Severity::Sev1), "All hands");
        assert!(defs.get(Severity::Sev4).starts_with("Low"));
        assert!(SeverityDefinitions::with(&BTreeMap::from([("SEV9".into(), "x".into())])).is_err());
        assert_eq!(parse_title("title", "  db down ", 200).unwrap(), "db down");
        assert!(parse_title("title", " ", 200).is_err());
        assert!(parse_title("title", "a\nb", 200).is_err());
        assert!(parse_title("title", &"x".repeat(201), 200).is_err());
        assert_eq!(parse_label("category", Some("  ")).unwrap(), None);
        assert_eq!(parse_link("chat_url", Some(" ")).unwrap(), None);
        assert_eq!(
            parse_link("chat_url", Some("https://chat.example.com/c/inc-42")).unwrap(),
            Some("https://chat.example.com/c/inc-42".to_owned())
        );
        for bad in [
            "javascript:alert(1)",
            "chat.example.com",
            "https://",
            "https://a b",
            "ftp://x",
        ] {
            assert_eq!(
                parse_link("chat_url", Some(bad)).unwrap_err().field,
                "chat_url",
                "{bad}"
            );
        }
        assert!(parse_text("note", &"x".repeat(NOTE_MAX + 1), NOTE_MAX).is_err());
    }
}
