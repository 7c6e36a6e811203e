//! Whether escalation policies reach anyone: the facts read from the store, judged by
//! `klaxon_domain::reach`. Here rather than in `oncall` because the service page (alerts) warns
//! about its policy too, and alerts may not import on-call.
use jiff::{SignedDuration, Timestamp};
use klaxon_domain::escalation::Plan;
use klaxon_domain::ids::{EscalationPolicyId, ScheduleId, UserId};
use klaxon_domain::reach::{self, Facts, LevelReach, ScheduleFacts};
use klaxon_store::{Store, StoreResult};

use crate::shared::error::ApiError;
use crate::shared::state::AppState;

/// Reads what judging `plans` at `at` needs: their people, their schedules (who is on call then,
/// who takes turns), and those schedules' people; plus `also` (a profile's own person).
pub async fn facts(
    store: &dyn Store,
    plans: &[&Plan],
    also: &[UserId],
    at: Timestamp,
) -> StoreResult<Facts> {
    let mut users: Vec<UserId> = also.to_vec();
    let mut schedules: Vec<ScheduleId> = Vec::new();
    for plan in plans {
        let (u, s) = reach::plan_subjects(plan);
        users.extend(u);
        for id in s {
            if !schedules.contains(&id) {
                schedules.push(id);
            }
        }
    }
    let mut out = Facts::default();
    let end = at
        .saturating_add(SignedDuration::from_secs(1))
        .unwrap_or(at);
    for id in schedules {
        let s = match store.schedule_with_overrides(id, at, end).await {
            Ok(s) => s,
            // Gone: the judgement says so.
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(e),
        };
        // A stored schedule the domain refuses pages nobody (as the escalation step does).
        let on_call = s.to_domain().ok().and_then(|d| d.on_call(at));
        let members = s.schedule.users();
        users.extend(on_call);
        users.extend(members.iter().copied());
        out.schedules.insert(
            id,
            ScheduleFacts {
                id,
                name: s.schedule.name,
                on_call,
                members,
            },
        );
    }
    users.sort_unstable();
    users.dedup();
    out.people = store
        .reach_people(&users)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    Ok(out)
}

/// Each level of `plan`, judged now for pages of every urgency.
pub async fn plan_reach(state: &AppState, plan: &Plan) -> Result<Vec<LevelReach>, ApiError> {
    let now = state.clock.now();
    let facts = facts(state.store.as_ref(), &[plan], &[], now).await?;
    Ok(reach::plan_reach(plan, &facts))
}

/// For the service page: one sentence per level of its policy that reaches nobody now, like
/// "Level 2 reaches nobody: Bob has no contact method."
pub async fn policy_warnings(
    state: &AppState,
    policy: EscalationPolicyId,
) -> Result<Vec<String>, ApiError> {
    let plan = match state.store.escalation_policy(policy).await {
        Ok(p) => p.plan,
        Err(e) if e.is_not_found() => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    Ok(plan_reach(state, &plan)
        .await?
        .iter()
        .filter(|l| !l.reachable)
        .map(level_sentence)
        .collect())
}

/// "Level 2 reaches nobody: Bob has no contact method; nobody is on call in Night now.", or for
/// one urgency only "Level 1 reaches nobody for low-urgency incidents: Ann has no low-urgency
/// notification rule."
pub fn level_sentence(l: &LevelReach) -> String {
    let why: Vec<&str> = l
        .reasons
        .iter()
        .filter(|r| r.now)
        .map(|r| r.message.as_str())
        .collect();
    format!(
        "Level {} reaches nobody{}: {}.",
        l.level,
        l.scope(),
        why.join("; ")
    )
}
