//! Web pages for on-call: escalation policies (`policies_web`), each person's contact methods
//! and notification rules (`contacts_web`), and what both share: the notification table, and
//! the warnings about people and levels a page cannot reach (also for the dashboard). Forms
//! call the same functions as the REST API (`crate::oncall::api`), so the rules and events are
//! the same whichever face is used.
use std::collections::HashMap;

use axum::Router;
use jiff::Timestamp;
use klaxon_domain::alert::Urgency;
use klaxon_domain::escalation::Plan;
use klaxon_domain::ids::UserId;
use klaxon_domain::reach::{self, Why};
use klaxon_store::{Notification, User};

use crate::shared::error::ApiError;
use crate::shared::lists::{all_policies, all_services, user_names_or_ids};
use crate::shared::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(super::policies_web::router())
        .merge(super::contacts_web::router())
}

pub(super) fn name_of(names: &HashMap<UserId, String>, id: UserId) -> String {
    names.get(&id).cloned().unwrap_or_else(|| id.to_string())
}

/// A line of a notification table: the incident page's, or a profile's recent ones.
pub struct NotificationRow {
    pub at: Timestamp,
    pub user: String,
    pub channel: String,
    pub status: String,
    pub attempts: u32,
    pub last_error: String,
    pub sent_at: Option<Timestamp>,
    pub test: bool,
}

pub(crate) async fn notification_rows(
    state: &AppState,
    items: Vec<Notification>,
) -> Result<Vec<NotificationRow>, ApiError> {
    let names = user_names_or_ids(state, items.iter().map(|n| n.user_id).collect()).await?;
    Ok(items
        .into_iter()
        .map(|n| NotificationRow {
            at: n.created_at,
            user: name_of(&names, n.user_id),
            channel: n.kind.as_str().to_owned(),
            status: n.status.as_str().to_owned(),
            attempts: n.attempts,
            last_error: n.last_error.unwrap_or_default(),
            sent_at: n.sent_at,
            test: n.incident_id.is_none(),
        })
        .collect())
}

// --- who cannot be reached ----------------------------------------------------------------------

/// "You cannot be reached: add a contact method." (or "Bob cannot be reached: …" when `you`
/// is false), for a person's own problem; `urgency` is the one urgency it is about, if only one
/// (see `reach::person_gap`).
pub(super) fn cannot_be_reached(
    (why, urgency): (Why, Option<Urgency>),
    you: bool,
    name: &str,
) -> String {
    let (who, has) = if you {
        ("You".to_owned(), "you have")
    } else {
        (name.to_owned(), "they have")
    };
    match why {
        Why::NoContactMethod => {
            format!("{who} cannot be reached: {has} no contact method. Add one below.")
        }
        Why::NoNotificationRule => format!(
            "{who} cannot be reached: {has} no notification rule, so no contact method is used. Add a rule below."
        ),
        Why::NoRuleForUrgency => {
            let u = urgency.map_or("this", |u| u.as_str());
            format!(
                "{who} cannot be reached for {u}-urgency incidents: {has} no {u}-urgency notification rule. Add one below."
            )
        }
        Why::Deactivated => format!("{who} cannot be reached: the account is deactivated."),
        Why::UserMissing | Why::ScheduleMissing | Why::NobodyOnCall => {
            format!("{who} cannot be reached.")
        }
    }
}

/// A warning for the dashboard: what is wrong, and the page that fixes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReachWarning {
    pub text: String,
    pub href: String,
    /// About the reader themself (their own contact methods or rules), not a policy.
    pub yours: bool,
}

/// What the dashboard warns `user` about: that a page cannot reach them (when a policy pages
/// them, directly or through a schedule), and every level of a policy some service pages
/// through that reaches nobody now. Empty when all is well.
pub async fn unreachable_for_dashboard(
    state: &AppState,
    user: &User,
) -> Result<Vec<ReachWarning>, ApiError> {
    let policies = all_policies(state).await?;
    let plans: Vec<&Plan> = policies.iter().map(|p| &p.plan).collect();
    let facts =
        crate::shared::reach::facts(state.store.as_ref(), &plans, &[user.id], state.clock.now())
            .await?;
    let mut out = Vec::new();
    let paged = plans.iter().any(|p| reach::pages_user(p, &facts, user.id));
    if paged && let Some(gap) = reach::person_gap(facts.people.get(&user.id)) {
        out.push(ReachWarning {
            text: cannot_be_reached(gap, true, &user.name).replace(" below.", " on your profile."),
            href: "/profile#reach".into(),
            yours: true,
        });
    }
    let used: Vec<_> = all_services(state)
        .await?
        .into_iter()
        .filter_map(|s| s.escalation_policy_id)
        .collect();
    for p in policies.iter().filter(|p| used.contains(&p.id)) {
        for level in reach::plan_reach(&p.plan, &facts) {
            if !level.reachable {
                out.push(ReachWarning {
                    text: format!(
                        "{}: {}",
                        p.name,
                        crate::shared::reach::level_sentence(&level)
                    ),
                    href: format!("/escalation-policies/{}#level-{}", p.id, level.level),
                    yours: false,
                });
            }
        }
    }
    Ok(out)
}
