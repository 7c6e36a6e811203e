//! Workflows: the routine parts of an incident done for the responders. A trigger (something
//! that happened to an incident), conditions on the incident's fields, and ordered actions.
//!
//! A workflow is a typed document, written as YAML or as JSON of the same shape:
//!
//! ```yaml
//! name: major-incident-basics
//! trigger: { on: severity_changed }
//! conditions: { severity: [SEV1] }
//! actions:
//!   - page: { role: commander, message: "SEV1: join the bridge" }
//!   - add_tasks: [Open a bridge, Tell support]
//!   - call_webhook: { webhook: chatops }
//!     stop_on_failure: true
//! ```
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Invalid;
use crate::event::EventKind;
use crate::incident::{IncidentStatus, Priority, Severity};
use crate::named_enum;
use crate::runbook::Matcher;
use crate::status::ComponentStatus;

/// At most this many actions in one workflow.
pub const MAX_ACTIONS: usize = 20;
/// At most this many tasks in one `add_tasks` action.
pub const MAX_TASKS: usize = 50;
/// A chain of workflows, each run by an event the one before wrote, stops at this length: a
/// loop through several workflows ends after one round.
pub const MAX_CHAIN: usize = 3;
/// Names a workflow may not take: the pages and routes beside `/workflows/{name}`.
pub const RESERVED_NAMES: [&str; 2] = ["new", "preview"];
/// `no_update` waits at least a minute and at most a week.
pub const MAX_NO_UPDATE_MINUTES: u32 = 7 * 24 * 60;

named_enum! {
    /// What starts a workflow.
    pub enum TriggerKind (field = "trigger.on", schema = "WorkflowTrigger") {
        /// An incident is opened: declared by a person or opened by an alert.
        IncidentDeclared = "incident_declared",
        SeverityChanged = "severity_changed",
        /// Acknowledged, mitigated, resolved, closed or reopened.
        StatusChanged = "status_changed",
        RoleAssigned = "role_assigned",
        /// An alert is raised (not a duplicate of an open one) on an incident.
        Alert = "alert",
        PostmortemPublished = "postmortem_published",
        /// An open incident has had no stakeholder update for `minutes` (counted from its
        /// last update, or from when it was opened).
        NoUpdate = "no_update",
    }
}

impl TriggerKind {
    /// The timeline events that fire it (none for `no_update`, which the clock fires).
    pub fn event_kinds(self) -> &'static [EventKind] {
        use EventKind as E;
        match self {
            Self::IncidentDeclared => &[E::IncidentDeclared, E::IncidentTriggered],
            Self::SeverityChanged => &[E::IncidentSeverityChanged],
            Self::StatusChanged => &[
                E::IncidentAcknowledged,
                E::IncidentMitigated,
                E::IncidentResolved,
                E::IncidentClosed,
                E::IncidentReopened,
            ],
            Self::RoleAssigned => &[E::IncidentRoleAssigned],
            Self::Alert => &[E::AlertTriggered],
            Self::PostmortemPublished => &[E::PostmortemPublished],
            Self::NoUpdate => &[],
        }
    }

    /// The trigger an event kind fires, if any.
    pub fn for_event(kind: EventKind) -> Option<TriggerKind> {
        Self::ALL
            .iter()
            .copied()
            .find(|t| t.event_kinds().contains(&kind))
    }

    /// In words, after "When".
    pub fn describe(self) -> &'static str {
        match self {
            Self::IncidentDeclared => "an incident is declared or opened by an alert",
            Self::SeverityChanged => "an incident's severity changes",
            Self::StatusChanged => "an incident's status changes",
            Self::RoleAssigned => "someone is given a role in an incident",
            Self::Alert => "an alert is raised on an incident",
            Self::PostmortemPublished => "an incident's postmortem is published",
            Self::NoUpdate => "an open incident has had no stakeholder update",
        }
    }
}

/// Every event kind some trigger listens to, as stored.
pub fn trigger_event_kinds() -> Vec<&'static str> {
    TriggerKind::ALL
        .iter()
        .flat_map(|t| t.event_kinds().iter().map(|k| k.as_str()))
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WorkflowTriggerSpec)]
pub struct Trigger {
    pub on: TriggerKind,
    /// `no_update` only: how many minutes without an update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minutes: Option<u32>,
}

/// Conditions on the incident, all of which must hold; within one, any listed value will do.
/// An empty list does not constrain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
#[schema(as = WorkflowConditions)]
pub struct Conditions {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub severity: Vec<Severity>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub priority: Vec<Priority>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub status: Vec<IncidentStatus>,
    /// Service names.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub service: Vec<String>,
    /// `role_assigned` only: the roles whose assignment counts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub role: Vec<String>,
    /// `alert` only: the alert must match (fields as runbook matchers name them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert: Option<Matcher>,
    /// Whether drills count: by default a workflow runs for drills too, so that a drill
    /// practises what a real incident would get.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drills: Option<bool>,
}

/// What is known of the incident (and the alert) when a trigger fires.
#[derive(Debug, Clone, Default)]
pub struct Facts<'a> {
    pub severity: Option<Severity>,
    pub priority: Option<Priority>,
    pub status: Option<IncidentStatus>,
    pub service: Option<&'a str>,
    /// The role just assigned (`role_assigned`).
    pub role: Option<&'a str>,
    /// The alert's fields and details (`alert`).
    pub alert: Option<(&'a BTreeMap<String, String>, &'a serde_json::Value)>,
    pub drill: bool,
}

impl Conditions {
    pub fn hold(&self, f: &Facts<'_>) -> bool {
        fn any<T: PartialEq>(want: &[T], have: Option<&T>) -> bool {
            want.is_empty() || have.is_some_and(|h| want.contains(h))
        }
        any(&self.severity, f.severity.as_ref())
            && any(&self.priority, f.priority.as_ref())
            && any(&self.status, f.status.as_ref())
            && (self.service.is_empty()
                || f.service
                    .is_some_and(|s| self.service.iter().any(|w| w == s)))
            && (self.role.is_empty() || f.role.is_some_and(|r| self.role.iter().any(|w| w == r)))
            && self.alert.as_ref().is_none_or(|m| {
                f.alert
                    .is_some_and(|(fields, details)| m.matches(fields, details))
            })
            && (!f.drill || self.drills.unwrap_or(true))
    }
}

/// Page into the incident: exactly one of a person (e-mail address), a role in the incident,
/// or a team (escalation policy name).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WorkflowPage)]
pub struct PageAction {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WorkflowAssignRole)]
pub struct AssignRole {
    pub role: String,
    /// The person's e-mail address.
    pub user: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WorkflowStartRunbook)]
pub struct StartRunbook {
    /// The runbook's name; its latest version runs.
    pub runbook: String,
    /// Parameter values; the rest come from the runbook's defaults and templates.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, String>,
}

/// A stakeholder update: exactly one of a template's key or a message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WorkflowPostUpdate)]
pub struct PostUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WorkflowSetComponent)]
pub struct SetComponent {
    /// The status page: its id, slug or name.
    pub page: String,
    /// The component: its code, id or name.
    pub component: String,
    pub status: ComponentStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WorkflowCallWebhook)]
pub struct CallWebhook {
    /// An outgoing webhook's name: its URL and signing secret are used.
    pub webhook: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Page(PageAction),
    AssignRole(AssignRole),
    AddTasks(Vec<String>),
    StartRunbook(StartRunbook),
    PostUpdate(PostUpdate),
    SetComponent(SetComponent),
    CallWebhook(CallWebhook),
}

impl Action {
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Page(_) => "page",
            Action::AssignRole(_) => "assign_role",
            Action::AddTasks(_) => "add_tasks",
            Action::StartRunbook(_) => "start_runbook",
            Action::PostUpdate(_) => "post_update",
            Action::SetComponent(_) => "set_component",
            Action::CallWebhook(_) => "call_webhook",
        }
    }

    /// In words, as a list item.
    pub fn describe(&self) -> String {
        match self {
            Action::Page(p) => match (&p.user, &p.role, &p.team) {
                (Some(u), _, _) => format!("Page {u}"),
                (_, Some(r), _) => format!("Page whoever holds the role {r}"),
                (_, _, Some(t)) => format!("Page the team {t}"),
                _ => "Page".to_owned(),
            },
            Action::AssignRole(a) => format!("Give {} the role {}", a.user, a.role),
            Action::AddTasks(t) => format!("Add the tasks: {}", t.join("; ")),
            Action::StartRunbook(s) => format!("Start the runbook {}", s.runbook),
            Action::PostUpdate(u) => match (&u.template, &u.message) {
                (Some(t), _) => format!("Post a stakeholder update from the template {t}"),
                (_, Some(m)) => format!("Post the stakeholder update \"{m}\""),
                _ => "Post a stakeholder update".to_owned(),
            },
            Action::SetComponent(c) => format!(
                "Set {} on the status page {} to {}",
                c.component,
                c.page,
                c.status.as_str().replace('_', " ")
            ),
            Action::CallWebhook(w) => format!("Call the webhook {}", w.webhook),
        }
    }
}

/// One action and whether the rest stop when it fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawStep", into = "RawStep")]
pub struct Step {
    pub action: Action,
    pub stop_on_failure: bool,
}

/// A step as written: exactly one action key, and `stop_on_failure`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WorkflowActionSpec)]
pub struct RawStep {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<PageAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assign_role: Option<AssignRole>,
    /// Task titles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_tasks: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_runbook: Option<StartRunbook>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_update: Option<PostUpdate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_component: Option<SetComponent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_webhook: Option<CallWebhook>,
    /// When this action fails, the actions after it are skipped (default: they run).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stop_on_failure: bool,
}

const ACTION_KEYS: &str =
    "page, assign_role, add_tasks, start_runbook, post_update, set_component or call_webhook";

impl TryFrom<RawStep> for Step {
    type Error = String;

    fn try_from(r: RawStep) -> Result<Self, String> {
        let mut found = Vec::new();
        if let Some(a) = r.page {
            found.push(Action::Page(a));
        }
        if let Some(a) = r.assign_role {
            found.push(Action::AssignRole(a));
        }
        if let Some(a) = r.add_tasks {
            found.push(Action::AddTasks(a));
        }
        if let Some(a) = r.start_runbook {
            found.push(Action::StartRunbook(a));
        }
        if let Some(a) = r.post_update {
            found.push(Action::PostUpdate(a));
        }
        if let Some(a) = r.set_component {
            found.push(Action::SetComponent(a));
        }
        if let Some(a) = r.call_webhook {
            found.push(Action::CallWebhook(a));
        }
        if found.len() != 1 {
            return Err(format!("an action has exactly one of {ACTION_KEYS}"));
        }
        Ok(Step {
            action: found.remove(0),
            stop_on_failure: r.stop_on_failure,
        })
    }
}

impl From<Step> for RawStep {
    fn from(s: Step) -> Self {
        let mut r = RawStep {
            stop_on_failure: s.stop_on_failure,
            ..RawStep::default()
        };
        match s.action {
            Action::Page(a) => r.page = Some(a),
            Action::AssignRole(a) => r.assign_role = Some(a),
            Action::AddTasks(a) => r.add_tasks = Some(a),
            Action::StartRunbook(a) => r.start_runbook = Some(a),
            Action::PostUpdate(a) => r.post_update = Some(a),
            Action::SetComponent(a) => r.set_component = Some(a),
            Action::CallWebhook(a) => r.call_webhook = Some(a),
        }
        r
    }
}

/// A workflow as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WorkflowSpec)]
pub struct Workflow {
    /// Its key: lower-case letters, digits and dashes; unique.
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    pub trigger: Trigger,
    #[serde(default)]
    pub conditions: Conditions,
    #[schema(value_type = Vec<RawStep>)]
    pub actions: Vec<Step>,
}

fn yes() -> bool {
    true
}

fn blank(at: String) -> Invalid {
    Invalid::new(at, "must not be empty")
}

fn filled(at: impl Fn() -> String, s: &str, max: usize) -> Result<(), Invalid> {
    if s.trim().is_empty() {
        return Err(blank(at()));
    }
    if s.chars().count() > max {
        return Err(Invalid::new(
            at(),
            format!("is longer than {max} characters"),
        ));
    }
    Ok(())
}

impl Workflow {
    /// Checks what serde cannot: names, lengths, what each trigger allows, and that the
    /// workflow cannot fire itself.
    pub fn check(&self) -> Result<(), Invalid> {
        if !crate::runbook::is_runbook_name(&self.name) {
            return Err(Invalid::new(
                "name",
                format!(
                    "`{}` is not a workflow name: lower-case letters, digits and dashes, at most 63",
                    self.name
                ),
            ));
        }
        // `new` and `preview` are pages and routes of their own.
        if RESERVED_NAMES.contains(&self.name.as_str()) {
            return Err(Invalid::new(
                "name",
                format!(
                    "`{}` is kept for Klaxon's own use: choose another",
                    self.name
                ),
            ));
        }
        if self.description.chars().count() > 2000 {
            return Err(Invalid::new(
                "description",
                "is longer than 2000 characters",
            ));
        }
        match (self.trigger.on, self.trigger.minutes) {
            (TriggerKind::NoUpdate, None) => {
                return Err(Invalid::new(
                    "trigger.minutes",
                    "is required for no_update: how many minutes without an update",
                ));
            }
            (TriggerKind::NoUpdate, Some(m)) if m == 0 || m > MAX_NO_UPDATE_MINUTES => {
                return Err(Invalid::new(
                    "trigger.minutes",
                    format!("must be from 1 to {MAX_NO_UPDATE_MINUTES}"),
                ));
            }
            (TriggerKind::NoUpdate, Some(_)) | (_, None) => {}
            (_, Some(_)) => {
                return Err(Invalid::new(
                    "trigger.minutes",
                    "is only for the no_update trigger",
                ));
            }
        }
        let c = &self.conditions;
        if !c.role.is_empty() && self.trigger.on != TriggerKind::RoleAssigned {
            return Err(Invalid::new(
                "conditions.role",
                "is only for the role_assigned trigger",
            ));
        }
        if c.alert.is_some() && self.trigger.on != TriggerKind::Alert {
            return Err(Invalid::new(
                "conditions.alert",
                "is only for the alert trigger",
            ));
        }
        if let Some(m) = &c.alert {
            if m.0.is_empty() {
                return Err(Invalid::new("conditions.alert", "names no field"));
            }
            for k in m.0.keys() {
                Matcher::check_field("conditions.alert", k)?;
            }
        }
        for (i, s) in c.service.iter().enumerate() {
            filled(|| format!("conditions.service[{i}]"), s, 100)?;
        }
        if self.actions.is_empty() {
            return Err(Invalid::new("actions", "must name at least one action"));
        }
        if self.actions.len() > MAX_ACTIONS {
            return Err(Invalid::new(
                "actions",
                format!("has {} actions; at most {MAX_ACTIONS}", self.actions.len()),
            ));
        }
        for (i, step) in self.actions.iter().enumerate() {
            check_action(i, &step.action)?;
            if let Some(why) = fires_itself(&self.trigger, &self.conditions, &step.action) {
                return Err(Invalid::new(
                    format!("actions[{i}].{}", step.action.kind()),
                    why,
                ));
            }
        }
        Ok(())
    }

    /// In words: the trigger and conditions as one sentence, then each action.
    pub fn describe(&self) -> (String, Vec<String>) {
        let mut when = format!("When {}", self.trigger.on.describe());
        if let Some(m) = self.trigger.minutes {
            when.push_str(&format!(" for {m} minutes"));
        }
        let c = &self.conditions;
        let mut ifs: Vec<String> = Vec::new();
        let list = |v: Vec<String>| v.join(" or ");
        if !c.severity.is_empty() {
            ifs.push(format!(
                "its severity is {}",
                list(c.severity.iter().map(|s| s.to_string()).collect())
            ));
        }
        if !c.priority.is_empty() {
            ifs.push(format!(
                "its priority is {}",
                list(c.priority.iter().map(|s| s.to_string()).collect())
            ));
        }
        if !c.status.is_empty() {
            ifs.push(format!(
                "it is {}",
                list(c.status.iter().map(|s| s.to_string()).collect())
            ));
        }
        if !c.service.is_empty() {
            ifs.push(format!("its service is {}", list(c.service.clone())));
        }
        if !c.role.is_empty() {
            ifs.push(format!("the role is {}", list(c.role.clone())));
        }
        if let Some(m) = &c.alert {
            ifs.push(format!(
                "the alert has {}",
                m.0.iter()
                    .map(|(k, v)| format!("{k} = {v}"))
                    .collect::<Vec<_>>()
                    .join(" and ")
            ));
        }
        if c.drills == Some(false) {
            ifs.push("it is not a drill".to_owned());
        }
        if !ifs.is_empty() {
            when.push_str(", if ");
            when.push_str(&ifs.join(" and "));
        }
        when.push(':');
        let actions = self
            .actions
            .iter()
            .map(|s| {
                let mut d = s.action.describe();
                if s.stop_on_failure {
                    d.push_str(" (if this fails, stop)");
                }
                d
            })
            .collect();
        (when, actions)
    }
}

fn check_action(i: usize, a: &Action) -> Result<(), Invalid> {
    let at = |f: &str| format!("actions[{i}].{}.{f}", a.kind());
    match a {
        Action::Page(p) => {
            let set = [&p.user, &p.role, &p.team]
                .iter()
                .filter(|v| v.as_deref().is_some_and(|s| !s.trim().is_empty()))
                .count();
            if set != 1 {
                return Err(Invalid::new(
                    format!("actions[{i}].page"),
                    "names exactly one of user (an e-mail address), role or team",
                ));
            }
            if let Some(m) = &p.message {
                filled(|| at("message"), m, 500)?;
            }
        }
        Action::AssignRole(r) => {
            filled(|| at("role"), &r.role, 100)?;
            filled(|| at("user"), &r.user, 254)?;
        }
        Action::AddTasks(t) => {
            if t.is_empty() {
                return Err(Invalid::new(
                    format!("actions[{i}].add_tasks"),
                    "must list at least one task",
                ));
            }
            if t.len() > MAX_TASKS {
                return Err(Invalid::new(
                    format!("actions[{i}].add_tasks"),
                    format!("has {} tasks; at most {MAX_TASKS}", t.len()),
                ));
            }
            for (j, title) in t.iter().enumerate() {
                filled(|| format!("actions[{i}].add_tasks[{j}]"), title, 200)?;
            }
        }
        Action::StartRunbook(s) => filled(|| at("runbook"), &s.runbook, 63)?,
        Action::PostUpdate(u) => match (&u.template, &u.message) {
            (Some(t), None) => filled(|| at("template"), t, 100)?,
            (None, Some(m)) => filled(|| at("message"), m, 5000)?,
            _ => {
                return Err(Invalid::new(
                    format!("actions[{i}].post_update"),
                    "names exactly one of template or message",
                ));
            }
        },
        Action::SetComponent(c) => {
            filled(|| at("page"), &c.page, 100)?;
            filled(|| at("component"), &c.component, 100)?;
        }
        Action::CallWebhook(w) => filled(|| at("webhook"), &w.webhook, 100)?,
    }
    Ok(())
}

/// Why an action would fire its own workflow's trigger, if it would: such a workflow is
/// refused when saved (chains through other workflows are stopped when they run). Assigning
/// a role fires `role_assigned`, unless the conditions name only other roles.
fn fires_itself(t: &Trigger, c: &Conditions, a: &Action) -> Option<&'static str> {
    match (t.on, a) {
        (TriggerKind::RoleAssigned, Action::AssignRole(r))
            if c.role.is_empty() || c.role.contains(&r.role) =>
        {
            Some(
                "assigns a role, and this workflow runs when that role is assigned: it would \
                 run itself again and again",
            )
        }
        _ => None,
    }
}

/// A YAML file of workflows: one workflow, or a list of them. Each is checked.
pub fn parse_file(text: &str) -> Result<Vec<Workflow>, Invalid> {
    let value: yaml_serde::Value = yaml_serde::from_str(text)
        .map_err(|e| Invalid::new("file", format!("is not YAML: {e}")))?;
    let all: Vec<Workflow> = match value {
        yaml_serde::Value::Sequence(_) => crate::yaml::typed_value("workflows", value)?,
        other => vec![crate::yaml::typed_value("workflow", other)?],
    };
    let mut seen = std::collections::BTreeSet::new();
    for (i, w) in all.iter().enumerate() {
        w.check()
            .map_err(|e| Invalid::new(format!("{}: {}", w.name, e.field), e.reason))?;
        if !seen.insert(w.name.clone()) {
            return Err(Invalid::new(
                format!("workflows[{i}].name"),
                format!("`{}` is named twice in the file", w.name),
            ));
        }
    }
    Ok(all)
}

#[cfg(test)]
#[path = "workflow_tests.rs"]
mod tests;
