//! Timeline events in words, for the web UI and the Markdown export.
use std::collections::BTreeMap;

use klaxon_domain::event::{Actor, EventKind};
use klaxon_store::Event;
use serde_json::Value;

use crate::shared::config::IncidentRules;

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
    }
}

fn s(v: &Value) -> String {
    match v {
        Value::Null => "none".to_owned(),
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

fn person(v: &Value, names: &BTreeMap<String, String>) -> String {
    v.as_str()
        .map(|id| names.get(id).cloned().unwrap_or_else(|| id.to_owned()))
        .unwrap_or_else(|| "nobody".to_owned())
}

fn role_name(v: &Value, rules: &IncidentRules) -> String {
    let key = v.as_str().unwrap_or_default();
    rules
        .roles
        .get(key)
        .map_or_else(|| key.to_owned(), |d| d.name.to_lowercase())
}

/// One line (notes: their text) saying what happened.
pub fn describe(e: &Event, names: &BTreeMap<String, String>, rules: &IncidentRules) -> String {
    let d = &e.data;
    let changes = |d: &Value| -> String {
        d["changes"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        let label = if k.ends_with("_at") {
                            milestone_label(k).to_lowercase()
                        } else {
                            k.replace('_', " ")
                        };
                        let shown = |x: &Value| {
                            x.as_str()
                                .and_then(|id| names.get(id))
                                .cloned()
                                .unwrap_or_else(|| s(x))
                        };
                        format!("{label} {} → {}", shown(&v["from"]), shown(&v["to"]))
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default()
    };
    let reason = || {
        d["reason"]
            .as_str()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    };
    match e.kind {
        EventKind::IncidentDeclared => format!(
            "declared the incident: {} ({}, {})",
            s(&d["title"]),
            s(&d["severity"]),
            s(&d["priority"])
        ),
        EventKind::IncidentTriggered => format!("opened by an alert, urgency {}", s(&d["urgency"])),
        EventKind::IncidentAlertAdded => {
            format!("alert joined: {} ({})", s(&d["summary"]), s(&d["severity"]))
        }
        EventKind::IncidentAcknowledged => format!("acknowledged{}", reason()),
        EventKind::IncidentMitigated => format!("marked mitigated{}", reason()),
        EventKind::IncidentResolved => format!("resolved{}", reason()),
        EventKind::IncidentReopened => format!("reopened{}", reason()),
        EventKind::IncidentClosed => {
            let how = if d["override"].as_bool() == Some(true) {
                "closed (admin override)"
            } else {
                "closed"
            };
            format!("{how}{}", reason())
        }
        EventKind::IncidentSeverityChanged => {
            format!("severity {} → {}", s(&d["from"]), s(&d["to"]))
        }
        EventKind::IncidentUpdated => format!("changed {}", changes(d)),
        EventKind::IncidentMilestonesChanged => format!("edited milestones: {}", changes(d)),
        EventKind::IncidentRoleAssigned => {
            let auto = if d["automatic"].as_bool() == Some(true) {
                " (automatically: a SEV1 or SEV2 under way needs a commander)"
            } else {
                ""
            };
            format!(
                "{} is now {}{auto}",
                person(&d["user_id"], names),
                role_name(&d["role"], rules)
            )
        }
        EventKind::IncidentRoleUnassigned => format!(
            "{} is no longer {}",
            person(&d["user_id"], names),
            role_name(&d["role"], rules)
        ),
        EventKind::IncidentNoteAdded => s(&d["text"]),
        EventKind::IncidentTaskAdded => {
            let who = if d["user_id"].is_string() {
                format!(" for {}", person(&d["user_id"], names))
            } else {
                String::new()
            };
            format!("added a task{who}: {}", s(&d["title"]))
        }
        EventKind::IncidentTaskUpdated => {
            format!("changed the task {}: {}", s(&d["title"]), changes(d))
        }
        EventKind::IncidentTaskDone => format!("completed the task {}", s(&d["title"])),
        EventKind::IncidentTaskReopened => format!("reopened the task {}", s(&d["title"])),
        EventKind::IncidentTaskRemoved => format!("removed the task {}", s(&d["title"])),
        EventKind::IncidentResponderPaged => {
            let as_role = match (d["role"].as_str(), d["escalation_policy_id"].as_str()) {
                (Some(_), _) => format!(" ({})", role_name(&d["role"], rules)),
                (None, Some(_)) => " (on call for the team)".to_owned(),
                _ => String::new(),
            };
            let why = d["message"]
                .as_str()
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            format!(
                "paged {}{as_role} into the incident{why}",
                person(&d["user_id"], names)
            )
        }
        EventKind::IncidentRelated => format!("related incident #{}", s(&d["number"])),
        EventKind::IncidentUnrelated => format!("unrelated incident #{}", s(&d["number"])),
        EventKind::IncidentMerged => format!(
            "merged into incident #{} as a duplicate ({} alerts moved)",
            s(&d["into_number"]),
            s(&d["alerts"])
        ),
        EventKind::IncidentMergedIn => format!(
            "incident #{} ({}) merged in as a duplicate ({} alerts)",
            s(&d["from_number"]),
            s(&d["title"]),
            s(&d["alerts"])
        ),
        EventKind::IncidentSubscribed => {
            format!("{} follows the incident", person(&d["user_id"], names))
        }
        EventKind::IncidentUnsubscribed => {
            format!(
                "{} no longer follows the incident",
                person(&d["user_id"], names)
            )
        }
        EventKind::IncidentUpdatePosted => format!(
            "posted an update to {} followers: {}",
            s(&d["followers"]),
            s(&d["message"])
        ),
        EventKind::IncidentEventPinned => "pinned an entry".to_owned(),
        EventKind::IncidentEventUnpinned => "unpinned an entry".to_owned(),
        EventKind::IncidentEscalated => format!("escalated to level {}", s(&d["level"])),
        EventKind::IncidentEscalatedByHand => "escalated by hand".to_owned(),
        EventKind::IncidentEscalationExhausted => "escalation policy exhausted".to_owned(),
        EventKind::IncidentLevelUnreachable => format!(
            "level {} reached nobody: {}",
            s(&d["level"]),
            d["reasons"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["message"].as_str())
                .collect::<Vec<_>>()
                .join("; ")
        ),
        EventKind::IncidentReassigned => format!("reassigned to {}", person(&d["user_id"], names)),
        EventKind::NotificationQueued => {
            format!("page queued for {}", person(&d["user_id"], names))
        }
        EventKind::NotificationSent => format!(
            "paged {} by {}",
            person(&d["user_id"], names),
            s(&d["channel"])
        ),
        EventKind::NotificationFailed => format!(
            "page to {} failed: {}",
            person(&d["user_id"], names),
            s(&d["error"])
        ),
        k => k.as_str().replace(['.', '_'], " "),
    }
}
