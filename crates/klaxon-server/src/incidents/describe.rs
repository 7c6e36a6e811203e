//! Timeline events in words, for the web UI and the Markdown export: each entry reads as a
//! sentence after the name of who did it ("Alice posted an update to 3 followers: …", "Klaxon
//! paged Bob by SMS"), saying why where the event knows.
use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use klaxon_domain::event::{Actor, EventKind};
use klaxon_domain::ids::IncidentId;
use klaxon_domain::page::Limit;
use klaxon_store::Event;
use serde_json::Value;

use crate::shared::config::IncidentRules;
use crate::shared::error::ApiResult;
use crate::shared::state::AppState;
use crate::shared::time::Reader;

/// "Impact started", "Acknowledged", ... for a milestone field name.
pub fn milestone_label(name: &str) -> &'static str {
    match name {
        "impact_started_at" => "Impact started",
        "detected_at" => "Detected",
        "declared_at" => "Declared",
        "acknowledged_at" => "Acknowledged",
        "mitigated_at" => "Mitigated",
        "resolved_at" => "Resolved",
        "closed_at" => "Closed",
        _ => "Milestone",
    }
}

/// Who did it, by name where a person did (through an API token too: `names` has the token's
/// owner under the token's id).
pub fn actor_name(a: &Actor, names: &BTreeMap<String, String>) -> String {
    match a {
        Actor::System => "Klaxon".to_owned(),
        Actor::User(u) => names
            .get(&u.to_string())
            .cloned()
            .unwrap_or_else(|| "someone".to_owned()),
        Actor::Token(t) => names
            .get(&t.to_string())
            .cloned()
            .unwrap_or_else(|| "an API token".to_owned()),
        Actor::Workflow(r) => names
            .get(&r.to_string())
            .map(|w| format!("the workflow {w}"))
            .unwrap_or_else(|| "a workflow".to_owned()),
    }
}

/// What the words need besides the event.
pub struct Words<'a> {
    /// People's names by user id (and token owners by token id).
    pub names: &'a BTreeMap<String, String>,
    pub rules: &'a IncidentRules,
    /// Times in the reader's zone; `None` writes them in UTC (the Markdown export).
    pub reader: Option<&'a Reader>,
    /// The notifications that carried a stakeholder update rather than a page, by id: their
    /// deliveries read "sent the update to …", not "paged …".
    pub updates: &'a BTreeSet<String>,
}

/// The ids of an incident's notifications that were stakeholder updates.
pub async fn update_deliveries(state: &AppState, id: IncidentId) -> ApiResult<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    let mut after = None;
    loop {
        let page = state
            .store
            .list_notifications(Some(id), None, after, Limit::MAX)
            .await?;
        let n = page.len();
        after = page.last().map(|n| n.id);
        out.extend(
            page.iter()
                .filter(|n| n.dedup_key.starts_with(klaxon_store::UPDATE_KEY_PREFIX))
                .map(|n| n.id.to_string()),
        );
        if n < Limit::MAX as usize {
            return Ok(out);
        }
    }
}

fn s(v: &Value) -> String {
    match v {
        Value::Null => "none".to_owned(),
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// "1 alert", "3 alerts".
fn count(v: &Value, one: &str, many: &str) -> String {
    match v.as_u64() {
        Some(1) => format!("1 {one}"),
        Some(n) => format!("{n} {many}"),
        None => format!("some {many}"),
    }
}

/// "Alice", "Alice and Bob", "Alice, Bob and Carol".
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// How a message went: "by SMS", "on Slack".
fn by(channel: &Value) -> String {
    match channel.as_str().unwrap_or_default() {
        "email" => "by e-mail".to_owned(),
        "sms" => "by SMS".to_owned(),
        "voice" => "by phone".to_owned(),
        "webhook" => "through a webhook".to_owned(),
        "slack" => "on Slack".to_owned(),
        "teams" => "on Microsoft Teams".to_owned(),
        "mattermost" => "on Mattermost".to_owned(),
        other => format!("by {other}"),
    }
}

impl Words<'_> {
    fn person(&self, v: &Value) -> String {
        v.as_str()
            .map(|id| {
                self.names
                    .get(id)
                    .cloned()
                    .unwrap_or_else(|| "someone".to_owned())
            })
            .unwrap_or_else(|| "nobody".to_owned())
    }

    fn people(&self, v: &Value) -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().map(|u| self.person(u)).collect())
            .unwrap_or_default()
    }

    fn role(&self, v: &Value) -> String {
        let key = v.as_str().unwrap_or_default();
        self.rules
            .roles
            .get(key)
            .map_or_else(|| key.to_owned(), |d| d.name.to_lowercase())
    }

    /// A stored time ("2026-11-21T09:05:00Z") as the reader reads it.
    fn time(&self, v: &Value) -> Option<String> {
        let t: Timestamp = v.as_str()?.parse().ok()?;
        Some(match self.reader {
            Some(r) => r.when(t).text,
            None => t.strftime("%Y-%m-%d %H:%M UTC").to_string(),
        })
    }

    /// A changed field's value, in words: people by name, times in the reader's zone, text
    /// quoted.
    fn value(&self, field: &str, v: &Value) -> String {
        if v.is_null() || v.as_str() == Some("") {
            return if field.ends_with("_id") || field == "assignee" {
                "nobody".to_owned()
            } else {
                "nothing".to_owned()
            };
        }
        if (field.ends_with("_at") || field == "due")
            && let Some(t) = self.time(v)
        {
            return t;
        }
        if field.ends_with("_id") || field == "assignee" {
            return self.person(v);
        }
        match field {
            "title" | "category" | "subcategory" => format!("“{}”", s(v)),
            _ => s(v),
        }
    }

    /// `{"changes": {"field": {"from", "to"}}}` as "changed the title from “a” to “b”, set
    /// the bridge link to … and cleared the chat link".
    fn changes(&self, d: &Value) -> String {
        let Some(m) = d["changes"].as_object() else {
            return "changed nothing".to_owned();
        };
        let empty = |v: &Value| v.is_null() || v.as_str() == Some("");
        let parts: Vec<String> = m
            .iter()
            .map(|(k, v)| {
                let label = field_label(k);
                let (from, to) = (&v["from"], &v["to"]);
                match k.as_str() {
                    // Long text: saying that it changed is enough; the page shows it.
                    "description" if empty(to) => "cleared the description".to_owned(),
                    "description" => "edited the description".to_owned(),
                    _ if empty(to) => format!("cleared {label} (was {})", self.value(k, from)),
                    _ if empty(from) => format!("set {label} to {}", self.value(k, to)),
                    _ => format!(
                        "changed {label} from {} to {}",
                        self.value(k, from),
                        self.value(k, to)
                    ),
                }
            })
            .collect();
        if parts.is_empty() {
            return "changed nothing".to_owned();
        }
        and_list(&parts)
    }

    fn delivery_of(&self, d: &Value) -> (&'static str, bool) {
        let update = d["notification_id"]
            .as_str()
            .is_some_and(|id| self.updates.contains(id));
        (if update { "the update" } else { "the page" }, update)
    }
}

/// "the title", "the bridge link", "the impact started time".
fn field_label(k: &str) -> String {
    match k {
        "conference_url" => "the bridge link".to_owned(),
        "chat_url" => "the chat link".to_owned(),
        "reporter_id" => "the reporter".to_owned(),
        "is_drill" => "the drill flag".to_owned(),
        "assignee" => "the assignee".to_owned(),
        "due" => "the due time".to_owned(),
        k if k.ends_with("_at") => format!("the {} time", milestone_label(k).to_lowercase()),
        k => format!("the {}", k.replace('_', " ")),
    }
}

/// ": because …" when the event carries a reason.
fn reason(d: &Value) -> String {
    d["reason"]
        .as_str()
        .filter(|r| !r.trim().is_empty())
        .map(|r| format!(": {r}"))
        .unwrap_or_default()
}

/// What happened, as the rest of a sentence that starts with who did it (a note: its text).
pub fn describe(e: &Event, w: &Words<'_>) -> String {
    let d = &e.data;
    // Who acted, as a user id: through a token, its owner.
    let me = match e.actor {
        Actor::User(u) => Some(u.to_string()),
        Actor::Token(t) => w
            .names
            .get(&format!("{}{t}", super::timeline::OWNER_OF))
            .cloned(),
        Actor::System | Actor::Workflow(_) => None,
    };
    let is_me = |v: &Value| me.is_some() && v.as_str() == me.as_deref();
    match e.kind {
        EventKind::IncidentDeclared => {
            let sev = match (d["severity"].as_str(), d["priority"].as_str()) {
                (Some(s), Some(p)) => format!(" as {s} ({p})"),
                (Some(s), None) => format!(" as {s}"),
                _ => String::new(),
            };
            format!("declared the incident “{}”{sev}", s(&d["title"]))
        }
        EventKind::IncidentTriggered => format!(
            "opened the incident for the alert “{}” ({} urgency)",
            s(&d["title"]),
            s(&d["urgency"])
        ),
        EventKind::IncidentAlertAdded => format!(
            "added an alert to the incident: {} ({})",
            s(&d["summary"]),
            s(&d["severity"])
        ),
        EventKind::IncidentAcknowledged if d["via"].as_str() == Some("integration") => {
            "acknowledged the incident: its monitoring tool acknowledged the alert".to_owned()
        }
        EventKind::IncidentAcknowledged => format!("acknowledged the incident{}", reason(d)),
        EventKind::IncidentMitigated => format!("marked the incident mitigated{}", reason(d)),
        EventKind::IncidentResolved => format!("resolved the incident{}", reason(d)),
        EventKind::IncidentReopened => format!("reopened the incident{}", reason(d)),
        EventKind::IncidentClosed if d["override"].as_bool() == Some(true) => format!(
            "closed the incident without the reporter's confirmation{}",
            reason(d)
        ),
        EventKind::IncidentClosed => format!("confirmed and closed the incident{}", reason(d)),
        EventKind::IncidentSeverityChanged => match d["from"].as_str() {
            Some(from) => format!("changed the severity from {from} to {}", s(&d["to"])),
            None => format!("set the severity to {}", s(&d["to"])),
        },
        EventKind::IncidentPriorityChanged => format!(
            "changed the priority from {} to {}",
            w.value("priority", &d["from"]),
            w.value("priority", &d["to"])
        ),
        EventKind::IncidentUpdated => w.changes(d),
        EventKind::IncidentMilestonesChanged => {
            format!("edited the milestones: {}", w.changes(d))
        }
        EventKind::IncidentRoleAssigned => {
            let role = w.role(&d["role"]);
            let auto = if d["automatic"].as_bool() == Some(true) {
                ", automatically: a SEV1 or SEV2 under way needs a commander"
            } else {
                ""
            };
            if is_me(&d["user_id"]) {
                format!("became {role}{auto}")
            } else {
                format!("made {} {role}{auto}", w.person(&d["user_id"]))
            }
        }
        EventKind::IncidentRoleUnassigned => {
            let role = w.role(&d["role"]);
            if is_me(&d["user_id"]) {
                format!("stepped down as {role}")
            } else {
                format!("removed {} as {role}", w.person(&d["user_id"]))
            }
        }
        EventKind::IncidentNoteAdded => s(&d["text"]),
        EventKind::IncidentTaskAdded => {
            let due = w
                .time(&d["due_at"])
                .map(|t| format!(", due {t}"))
                .unwrap_or_default();
            if d["user_id"].is_string() {
                format!(
                    "added a task for {}: {}{due}",
                    w.person(&d["user_id"]),
                    s(&d["title"])
                )
            } else {
                format!("added a task: {}{due}", s(&d["title"]))
            }
        }
        EventKind::IncidentTaskUpdated => {
            format!("updated the task “{}”: {}", s(&d["title"]), w.changes(d))
        }
        EventKind::IncidentTaskDone => format!("completed the task {}", s(&d["title"])),
        EventKind::IncidentTaskReopened => format!("reopened the task {}", s(&d["title"])),
        EventKind::IncidentTaskRemoved => format!("removed the task {}", s(&d["title"])),
        EventKind::ActionItemCreated => format!(
            "added the action item “{}” for {}{}",
            s(&d["title"]),
            w.person(&d["user_id"]),
            if d["priority"].as_bool() == Some(true) {
                " (priority)"
            } else {
                ""
            }
        ),
        EventKind::ActionItemUpdated => {
            format!(
                "updated the action item “{}”: {}",
                s(&d["title"]),
                w.changes(d)
            )
        }
        EventKind::ActionItemStateChanged => {
            let to = d["to"].as_str().unwrap_or("").replace('_', " ");
            let why = d["reason"]
                .as_str()
                .map(|r| format!(": {r}"))
                .unwrap_or_default();
            format!("marked the action item “{}” {to}{why}", s(&d["title"]))
        }
        EventKind::ActionItemDeleted => format!("removed the action item “{}”", s(&d["title"])),
        EventKind::ActionItemReminded => format!(
            "reminded {} of the action item “{}”{}",
            w.person(&d["user_id"]),
            s(&d["title"]),
            if d["overdue"].as_bool() == Some(true) {
                ", overdue"
            } else {
                ""
            }
        ),
        EventKind::IncidentResponderPaged => {
            let as_what = match (d["role"].as_str(), d["escalation_policy_id"].as_str()) {
                (Some(_), _) => format!(" as {}", w.role(&d["role"])),
                (None, Some(_)) => ", who is on call for the team,".to_owned(),
                _ => String::new(),
            };
            let why = d["message"]
                .as_str()
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            format!(
                "paged {}{as_what} into the incident{why}",
                w.person(&d["user_id"])
            )
        }
        EventKind::IncidentRelated => {
            format!("marked incident #{} as related", s(&d["number"]))
        }
        EventKind::IncidentUnrelated => {
            format!("marked incident #{} as no longer related", s(&d["number"]))
        }
        EventKind::IncidentMerged => format!(
            "merged this incident into #{} as a duplicate, moving {}",
            s(&d["into_number"]),
            count(&d["alerts"], "alert", "alerts")
        ),
        EventKind::IncidentMergedIn => format!(
            "merged incident #{} “{}” into this one as a duplicate, with {}",
            s(&d["from_number"]),
            s(&d["title"]),
            count(&d["alerts"], "alert", "alerts")
        ),
        EventKind::IncidentSubscribed if is_me(&d["user_id"]) => {
            "started following the incident".to_owned()
        }
        EventKind::IncidentSubscribed => {
            format!("added {} as a follower", w.person(&d["user_id"]))
        }
        EventKind::IncidentUnsubscribed if is_me(&d["user_id"]) => {
            "stopped following the incident".to_owned()
        }
        EventKind::IncidentUnsubscribed => {
            format!("removed {} from the followers", w.person(&d["user_id"]))
        }
        EventKind::IncidentUpdatePosted => format!(
            "posted an update to {}: {}",
            count(&d["followers"], "follower", "followers"),
            s(&d["message"])
        ),
        EventKind::IncidentStatusPublished | EventKind::IncidentStatusUpdated => {
            let words = |v: &Value| s(v).replace('_', " ");
            let moved: Vec<String> = d["components"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| format!("{} {}", s(&c["name"]), words(&c["to"])))
                .collect();
            let first = e.kind == EventKind::IncidentStatusPublished;
            format!(
                "{} on the {} status page: \u{201c}{}\u{201d}, {}{}: {}",
                if first {
                    "told customers"
                } else {
                    "updated customers"
                },
                words(&d["page"]),
                s(&d["name"]),
                words(&d["status"]),
                if moved.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", moved.join(", "))
                },
                s(&d["body"])
            )
        }
        EventKind::IncidentEventPinned => "pinned an entry to the top".to_owned(),
        EventKind::IncidentEventUnpinned => "unpinned an entry".to_owned(),
        EventKind::IncidentLevelUnreachable => format!(
            "could not page anyone: level {} reached nobody: {}",
            s(&d["level"]),
            d["reasons"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["message"].as_str())
                .collect::<Vec<_>>()
                .join("; ")
        ),
        EventKind::IncidentEscalated => {
            let mut out = format!("escalated the incident to level {}", s(&d["level"]));
            if d["pass"].as_u64().is_some_and(|p| p > 1) {
                out.push_str(&format!(" (round {})", s(&d["pass"])));
            }
            let paged = w.people(&d["users"]);
            let unreachable = w.people(&d["unreachable"]);
            if !paged.is_empty() {
                out.push_str(&format!(" and paged {}", and_list(&paged)));
            }
            if !unreachable.is_empty() {
                out.push_str(&format!(
                    "; {} could not be reached (no way to notify them)",
                    and_list(&unreachable)
                ));
            }
            if paged.is_empty() && unreachable.is_empty() {
                out.push_str(", but nobody was on call there to page");
            }
            out
        }
        EventKind::IncidentEscalatedByHand => {
            "escalated the incident by hand: the next level is paged now".to_owned()
        }
        EventKind::IncidentEscalationExhausted => {
            "ran out of escalation levels: nobody acknowledged, and the policy pages no further"
                .to_owned()
        }
        EventKind::IncidentReassigned => {
            let paged = if d["paged"].as_bool() == Some(false) {
                " (who has no way to be paged)"
            } else {
                ""
            };
            format!(
                "reassigned the incident to {}{paged}",
                w.person(&d["user_id"])
            )
        }
        EventKind::NotificationQueued => {
            format!("queued a message for {}", w.person(&d["user_id"]))
        }
        EventKind::NotificationSent => {
            let who = w.person(&d["user_id"]);
            let how = by(&d["channel"]);
            let bundled = d["bundle"]["count"]
                .as_u64()
                .map(|n| format!(", in one message with {} other pages", n - 1))
                .unwrap_or_default();
            match w.delivery_of(d) {
                (what, true) => format!("sent {what} to {who} {how}"),
                _ => format!("paged {who} {how}{bundled}"),
            }
        }
        EventKind::NotificationRetrying => {
            let (what, _) = w.delivery_of(d);
            let again = w
                .time(&d["retry_at"])
                .map(|t| format!("; trying again at {t}"))
                .unwrap_or_default();
            format!(
                "could not deliver {what} to {} {} yet ({}){again}",
                w.person(&d["user_id"]),
                by(&d["channel"]),
                s(&d["error"])
            )
        }
        EventKind::NotificationFailed => {
            let (what, _) = w.delivery_of(d);
            format!(
                "could not deliver {what} to {} {}: {}",
                w.person(&d["user_id"]),
                by(&d["channel"]),
                s(&d["error"])
            )
        }
        EventKind::NotificationCancelled => format!(
            "cancelled the page to {} {}: the incident no longer needs it",
            w.person(&d["user_id"]),
            by(&d["channel"])
        ),
        EventKind::NotificationDeferred => {
            let (what, _) = w.delivery_of(d);
            let until = w
                .time(&d["until"])
                .map(|t| format!(" until {t}"))
                .unwrap_or_default();
            format!(
                "held back {what} to {} {}{until}{}",
                w.person(&d["user_id"]),
                by(&d["channel"]),
                reason(d)
            )
        }
        EventKind::PostmortemCreated => "started the postmortem".to_owned(),
        EventKind::PostmortemUpdated => format!(
            "changed the postmortem's {}",
            d["changed"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(|c| c.replace('_', " "))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        EventKind::PostmortemCommented => {
            format!(
                "commented on the postmortem's {}",
                s(&d["section"]).replace('_', " ")
            )
        }
        EventKind::PostmortemSubmitted => "submitted the postmortem for review".to_owned(),
        EventKind::PostmortemApproved => "approved the postmortem".to_owned(),
        EventKind::PostmortemBackToDraft => "took the postmortem back to draft".to_owned(),
        EventKind::PostmortemPublished => format!("published the postmortem{}", reason(d)),
        EventKind::PostmortemAttached => {
            "put the postmortem's public summary on the status page".to_owned()
        }
        EventKind::RunStarted => format!("started the runbook “{}”", s(&d["title"])),
        EventKind::RunStepCompleted => format!("did {}{}", step(d), note(d)),
        EventKind::RunStepApproved => format!("approved {}{}", step(d), note(d)),
        EventKind::RunStepRejected => format!("rejected {}{}", step(d), note(d)),
        EventKind::RunStepBegan => format!("began {}", step(d)),
        EventKind::RunStepSucceeded => format!("finished {}{}", step(d), outcome(d)),
        EventKind::RunStepFailed => format!("failed {}{}", step(d), outcome(d)),
        EventKind::RunStepUnknown => format!(
            "lost track of {}: it may or may not have happened, and is not run again by itself",
            step(d)
        ),
        EventKind::RunStepSkipped => format!("skipped {}{}", step(d), note(d)),
        EventKind::RunStepRetried => format!("retried {}", step(d)),
        EventKind::RunPaused => format!("paused the runbook “{}”", s(&d["title"])),
        EventKind::RunResumed => format!("resumed the runbook “{}”", s(&d["title"])),
        EventKind::RunAborted => format!("aborted the runbook “{}”", s(&d["title"])),
        EventKind::RunSucceeded => format!("completed the runbook “{}”", s(&d["title"])),
        EventKind::WorkflowRan => format!("ran{}", workflow_outcome(d)),
        EventKind::DrillStarted => match d["scenario"].as_str() {
            Some(name) => {
                format!("started a drill from the scenario “{name}”: this incident is practice")
            }
            None => "started a drill: this incident is practice".to_owned(),
        },
        EventKind::DrillNote => format!("(drill scenario) {}", s(&d["message"])),
        EventKind::DrillEnded => {
            match serde_json::from_value::<klaxon_domain::drill::Scorecard>(d["scorecard"].clone())
            {
                Ok(card) => format!("ended the drill: {}", card.summary()),
                Err(_) => "ended the drill".to_owned(),
            }
        }
        EventKind::WorkflowLoopStopped => format!(
            "did not run the workflow {}: one of its own actions led here, and it would run \
             itself again and again",
            s(&d["workflow"])
        ),
        // Kinds an incident's timeline does not hold today; still a readable line.
        k => format!("recorded {}", k.as_str().replace(['.', '_'], " ")),
    }
}

/// ": 2 actions succeeded, 1 failed (call_webhook: …)", from a workflow run's data.
fn workflow_outcome(d: &Value) -> String {
    let actions = d["actions"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let count = |state: &str| actions.iter().filter(|a| a["state"] == state).count();
    let mut parts = Vec::new();
    for (state, word) in [
        ("succeeded", "succeeded"),
        ("failed", "failed"),
        ("skipped", "skipped"),
        ("unknown", "with an unknown outcome"),
    ] {
        match count(state) {
            0 => {}
            1 if parts.is_empty() => parts.push(format!("1 action {word}")),
            n if parts.is_empty() => parts.push(format!("{n} actions {word}")),
            n => parts.push(format!("{n} {word}")),
        }
    }
    let failed: Vec<String> = actions
        .iter()
        .filter(|a| a["state"] == "failed")
        .map(|a| format!("{}: {}", s(&a["action"]), s(&a["detail"])))
        .collect();
    let mut out = if parts.is_empty() {
        String::new()
    } else {
        format!(": {}", parts.join(", "))
    };
    if !failed.is_empty() {
        out.push_str(&format!(" ({})", failed.join("; ")));
    }
    out
}

/// "step 2 “Drain” of “Restart the web tier”", from a run event's data.
fn step(d: &Value) -> String {
    format!(
        "step {} “{}” of “{}”",
        d["step"].as_u64().map_or(0, |n| n + 1),
        s(&d["step_title"]),
        s(&d["title"])
    )
}

fn note(d: &Value) -> String {
    match d["note"].as_str().filter(|n| !n.is_empty()) {
        Some(n) => format!(": {n}"),
        None => String::new(),
    }
}

/// ": HTTP 503" or ": exit code 1" and the error, from a finished step's data.
fn outcome(d: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(c) = d["status"].as_u64() {
        parts.push(format!("HTTP {c}"));
    }
    if let Some(c) = d["exit_code"].as_i64() {
        parts.push(format!("exit code {c}"));
    }
    if let Some(e) = d["error"].as_str() {
        parts.push(e.to_owned());
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(": {}", parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use klaxon_domain::event::SubjectType;
    use klaxon_domain::ids::UserId;
    use serde_json::json;

    fn rules() -> IncidentRules {
        crate::shared::config::Settings::default()
            .incidents
            .rules()
            .unwrap()
    }

    fn event(kind: EventKind, actor: Actor, data: Value) -> Event {
        Event {
            seq: 1,
            subject_type: SubjectType::Incident,
            subject_id: "x".into(),
            at: Timestamp::UNIX_EPOCH,
            actor,
            kind,
            data,
            pinned: false,
        }
    }

    #[test]
    fn every_kind_an_incident_shows_reads_as_words() {
        let alice = UserId::new(Timestamp::UNIX_EPOCH, [1; 10]);
        let bob = UserId::new(Timestamp::UNIX_EPOCH, [2; 10]);
        let names: BTreeMap<String, String> = [
            (alice.to_string(), "Alice".to_owned()),
            (bob.to_string(), "Bob".to_owned()),
        ]
        .into();
        let rules = rules();
        let updates: BTreeSet<String> = ["n-update".to_owned()].into();
        let w = Words {
            names: &names,
            rules: &rules,
            reader: None,
            updates: &updates,
        };
        let data = json!({"user_id": bob.to_string(), "role": "commander", "title": "Drop the cache",
            "number": 7, "from_number": 7, "into_number": 8, "alerts": 1, "followers": 3,
            "message": "All good", "channel": "sms", "error": "refused", "level": 2,
            "users": [bob.to_string()], "summary": "Disk full", "severity": "critical",
            "urgency": "high", "text": "a note", "from": "SEV3", "to": "SEV1",
            "changes": {"title": {"from": "a", "to": "b"}}, "notification_id": "n-page"});
        for kind in EventKind::ALL {
            let k = kind.as_str();
            if !(k.starts_with("incident.")
                || k.starts_with("notification.")
                || k.starts_with("action_item."))
            {
                continue;
            }
            let text = describe(&event(*kind, Actor::User(alice), data.clone()), &w);
            assert!(!text.starts_with("recorded"), "{k} has no words: {text}");
            assert!(
                !text.contains('_') && !text.contains("incident."),
                "{k} reads as a code: {text}"
            );
            assert!(!text.contains(&bob.to_string()), "{k} shows an id: {text}");
        }
    }

    #[test]
    fn a_stakeholder_update_is_not_a_page() {
        let bob = UserId::new(Timestamp::UNIX_EPOCH, [2; 10]);
        let names: BTreeMap<String, String> = [(bob.to_string(), "Bob".to_owned())].into();
        let rules = rules();
        let updates: BTreeSet<String> = ["n-1".to_owned()].into();
        let w = Words {
            names: &names,
            rules: &rules,
            reader: None,
            updates: &updates,
        };
        let sent = |id: &str| {
            describe(
                &event(
                    EventKind::NotificationSent,
                    Actor::System,
                    json!({"notification_id": id, "user_id": bob.to_string(), "channel": "webhook"}),
                ),
                &w,
            )
        };
        assert_eq!(sent("n-1"), "sent the update to Bob through a webhook");
        assert_eq!(sent("n-2"), "paged Bob through a webhook");
        let posted = describe(
            &event(
                EventKind::IncidentUpdatePosted,
                Actor::User(bob),
                json!({"message": "Fixed", "followers": 1, "messages": 1}),
            ),
            &w,
        );
        assert_eq!(posted, "posted an update to 1 follower: Fixed");
    }

    #[test]
    fn changes_name_people_and_times_in_the_readers_zone() {
        let bob = UserId::new(Timestamp::UNIX_EPOCH, [2; 10]);
        let names: BTreeMap<String, String> = [(bob.to_string(), "Bob".to_owned())].into();
        let rules = rules();
        let updates = BTreeSet::new();
        let reader = Reader::new(
            Some("Europe/Berlin"),
            "2026-11-21T10:00:00Z".parse().unwrap(),
        );
        let w = Words {
            names: &names,
            rules: &rules,
            reader: Some(&reader),
            updates: &updates,
        };
        let text = describe(
            &event(
                EventKind::IncidentTaskUpdated,
                Actor::System,
                json!({"title": "Call the vendor", "changes": {
                    "assignee": {"from": null, "to": bob.to_string()},
                    "due": {"from": null, "to": "2026-11-21T09:30:00Z"}}}),
            ),
            &w,
        );
        assert_eq!(
            text,
            "updated the task “Call the vendor”: set the assignee to Bob and set the due time to 10:30 CET"
        );
    }
}
