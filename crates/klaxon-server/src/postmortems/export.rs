//! A postmortem as Markdown (the API's download and the CLI's export).
use std::collections::HashMap;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use klaxon_domain::ids::UserId;
use klaxon_domain::incident::MILESTONES;

use super::api::PostmortemOut;
use crate::shared::state::AppState;

/// Names of the people a postmortem mentions (owner, reviewers, commenters).
pub async fn names_of(state: &AppState, o: &PostmortemOut) -> HashMap<UserId, String> {
    let mut ids: Vec<UserId> = o.owner_id.into_iter().collect();
    ids.extend(o.reviewers.iter().map(|r| r.user_id));
    ids.extend(o.comments.iter().map(|c| c.author_id));
    ids.extend(o.published_by);
    crate::shared::lists::user_names_or_ids(state, ids)
        .await
        .unwrap_or_default()
}

fn ts(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

pub fn markdown(o: &PostmortemOut, names: &HashMap<UserId, String>) -> String {
    let name = |u: &UserId| names.get(u).cloned().unwrap_or_else(|| u.to_string());
    let i = &o.facts.incident;
    let mut md = format!(
        "# Postmortem: incident #{}: {}\n\n| | |\n|---|---|\n| State | {} |\n| Severity | {} |\n| Service | {} |\n| Owner | {} |\n| Reviewers | {} |\n| Due | {} |\n",
        i.number,
        i.title,
        o.state,
        i.severity.map_or_else(|| "—".to_owned(), |s| s.to_string()),
        i.service.as_deref().unwrap_or("—"),
        o.owner_id.as_ref().map_or_else(|| "—".to_owned(), name),
        if o.reviewers.is_empty() {
            "—".to_owned()
        } else {
            o.reviewers
                .iter()
                .map(|r| {
                    let approved = if r.approved_at.is_some() {
                        " (approved)"
                    } else {
                        ""
                    };
                    format!("{}{approved}", name(&r.user_id))
                })
                .collect::<Vec<_>>()
                .join(", ")
        },
        o.due_at.map_or_else(|| "—".to_owned(), ts),
    );
    if let Some(at) = o.published_at {
        md.push_str(&format!(
            "| Published | {}{} |\n",
            ts(at),
            o.published_by
                .as_ref()
                .map(|u| format!(" by {}", name(u)))
                .unwrap_or_default()
        ));
    }
    if let Some(r) = &o.publish_reason {
        md.push_str(&format!("| Published without review because | {r} |\n"));
    }
    md.push_str("\n## Milestones\n\n");
    for n in MILESTONES {
        if let Some(at) = i.milestones.get(n) {
            md.push_str(&format!(
                "- {}: {}\n",
                crate::incidents::describe::milestone_label(n),
                ts(at)
            ));
        }
    }
    let d = &o.durations;
    md.push_str("\n## Durations\n\n");
    for (name, m) in [
        ("Time to detect", d.ttd),
        ("Time to acknowledge", d.tta),
        ("Time to mitigate", d.ttm),
        ("Time to resolve", d.ttr),
        ("Whole incident", d.duration),
    ] {
        md.push_str(&format!("- {name}: {}\n", m.label()));
    }
    for s in &o.sections {
        md.push_str(&format!("\n## {}\n\n", s.title));
        if s.key == "contributing_factors" && !o.factors.is_empty() {
            for f in &o.factors {
                md.push_str(&format!("- **{}**: {}\n", f.kind, f.text));
            }
            md.push('\n');
        }
        md.push_str(if s.body.is_empty() {
            "_Not written._"
        } else {
            &s.body
        });
        md.push('\n');
    }
    if !o.public_summary.is_empty() {
        md.push_str("\n## Public summary\n\n");
        md.push_str(&o.public_summary);
        md.push('\n');
    }
    md.push_str("\n## Responders\n\n");
    if o.facts.responders.is_empty() {
        md.push_str("Nobody held a role.\n");
    }
    for r in &o.facts.responders {
        let until = r.ended_at.map_or_else(|| "end".to_owned(), ts);
        md.push_str(&format!(
            "- {}: {} ({} – {until})\n",
            r.role_name,
            r.name,
            ts(r.assigned_at)
        ));
    }
    md.push_str("\n## Alerts\n\n");
    if o.facts.alerts.is_empty() {
        md.push_str("No alerts.\n");
    }
    for a in &o.facts.alerts {
        md.push_str(&format!(
            "- {} ({}, {})\n",
            a.summary,
            a.status,
            ts(a.created_at)
        ));
    }
    if !o.facts.budgets.is_empty() {
        md.push_str("\n## Error budget burned\n\n");
        for b in &o.facts.budgets {
            md.push_str(&format!("- {}\n", b.summary()));
        }
    }
    md.push_str("\n## Updates sent\n\n");
    if o.facts.updates.is_empty() {
        md.push_str("None.\n");
    }
    for u in &o.facts.updates {
        md.push_str(&format!("- **{}** {}: {}\n", ts(u.at), u.who, u.text));
    }
    md.push_str("\n## Open action items\n\n");
    if o.open_action_items.is_empty() {
        md.push_str("None.\n");
    }
    for a in &o.open_action_items {
        let priority = if a.priority { " (priority)" } else { "" };
        md.push_str(&format!(
            "- {}{priority}: {}, due {}\n",
            a.title,
            a.state.replace('_', " "),
            ts(a.due_at)
        ));
    }
    md.push_str("\n## Timeline\n\n");
    for e in o.facts.timeline.iter().filter(|e| e.included) {
        md.push_str(&format!(
            "- **{}** {}: {}\n",
            ts(e.at),
            e.who,
            e.text.replace('\n', "\n  ")
        ));
        if !e.note.is_empty() {
            md.push_str(&format!("  > {}\n", e.note.replace('\n', "\n  > ")));
        }
    }
    // As in the incident export: text from people and alert sources may hold HTML.
    md.replace('<', "&lt;")
}

/// A download, never rendered in place (it carries people's text).
pub fn download(o: &PostmortemOut, md: String) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                "text/markdown; charset=utf-8".to_owned(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"postmortem-{}.md\"",
                    o.facts.incident.number
                ),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; sandbox".to_owned(),
            ),
        ],
        md,
    )
        .into_response()
}
