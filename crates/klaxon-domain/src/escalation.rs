//! Escalation policies: who is paged for an incident, in what order, and when.
//!
//! A policy is a list of levels, each with targets and a delay. An incident starts at step 0
//! (level 1, first pass); each step notifies its level's targets and schedules the next step
//! after the level's delay. After the last level the policy starts again from level 1, `repeat`
//! more times; then the escalation stops. Acknowledging stops it, resolving stops everything.
//!
//! A target is a user, or a schedule: whoever is on call in it when the level is paged.
use serde::{Deserialize, Serialize};

use crate::Invalid;
use crate::ids::{ScheduleId, UserId};

pub const LEVELS_MAX: usize = 20;
pub const TARGETS_MAX: usize = 10;
/// GoAlert allows 0–5 repeats; a night of paging is long enough.
pub const REPEAT_MAX: u32 = 9;
pub const DELAY_MIN_MINUTES: u32 = 1;
pub const DELAY_MAX_MINUTES: u32 = 1440;

/// Whom a level pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum Target {
    User(UserId),
    /// Whoever is on call in the schedule at the moment the level is paged; nobody when the
    /// schedule has a gap then.
    Schedule(ScheduleId),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Level {
    /// Minutes to wait for an acknowledgement before the next level.
    #[schema(minimum = 1, maximum = 1440)]
    pub delay_minutes: u32,
    #[schema(min_items = 1, max_items = 10)]
    pub targets: Vec<Target>,
}

/// The levels and the number of repeats, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub levels: Vec<Level>,
    pub repeat: u32,
}

impl Plan {
    pub fn new(levels: Vec<Level>, repeat: u32) -> Result<Self, Invalid> {
        if levels.is_empty() {
            return Err(Invalid::new("levels", "needs at least one level"));
        }
        if levels.len() > LEVELS_MAX {
            return Err(Invalid::new(
                "levels",
                format!("at most {LEVELS_MAX} levels"),
            ));
        }
        for (i, level) in levels.iter().enumerate() {
            if !(DELAY_MIN_MINUTES..=DELAY_MAX_MINUTES).contains(&level.delay_minutes) {
                return Err(Invalid::new(
                    format!("levels[{i}].delay_minutes"),
                    format!("must be between {DELAY_MIN_MINUTES} and {DELAY_MAX_MINUTES}"),
                ));
            }
            if level.targets.is_empty() {
                return Err(Invalid::new(
                    format!("levels[{i}].targets"),
                    "needs at least one target",
                ));
            }
            if level.targets.len() > TARGETS_MAX {
                return Err(Invalid::new(
                    format!("levels[{i}].targets"),
                    format!("at most {TARGETS_MAX} targets"),
                ));
            }
            let mut seen = std::collections::HashSet::new();
            if let Some(dup) = level.targets.iter().find(|t| !seen.insert(**t)) {
                return Err(Invalid::new(
                    format!("levels[{i}].targets"),
                    format!("lists {dup:?} twice"),
                ));
            }
        }
        if repeat > REPEAT_MAX {
            return Err(Invalid::new(
                "repeat",
                format!("must be between 0 and {REPEAT_MAX}"),
            ));
        }
        Ok(Self { levels, repeat })
    }

    /// The level (0-based) and pass (0 = first) of escalation step `step`, or `None` once the
    /// policy and its repeats are used up.
    pub fn position(&self, step: u32) -> Option<(usize, u32)> {
        let n = self.levels.len() as u32;
        let pass = step / n;
        (pass <= self.repeat).then_some(((step % n) as usize, pass))
    }

    /// The users the plan names directly (not those its schedules lead to), in level order.
    pub fn users(&self) -> impl Iterator<Item = UserId> + '_ {
        self.targets().filter_map(|t| match t {
            Target::User(u) => Some(u),
            Target::Schedule(_) => None,
        })
    }

    /// The schedules the plan pages through, in level order.
    pub fn schedules(&self) -> impl Iterator<Item = ScheduleId> + '_ {
        self.targets().filter_map(|t| match t {
            Target::Schedule(s) => Some(s),
            Target::User(_) => None,
        })
    }

    fn targets(&self) -> impl Iterator<Item = Target> + '_ {
        self.levels.iter().flat_map(|l| l.targets.iter().copied())
    }
}

/// One escalation step as the engine carries it in its job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepJob {
    pub incident_id: crate::ids::IncidentId,
    pub step: u32,
}

pub const STEP_JOB: &str = "escalation.step";

/// The job's dedup key: one pending job per step of an incident, so a step enqueued twice
/// (a retried write, two engines) runs once.
pub fn step_job_key(incident: crate::ids::IncidentId, step: u32) -> String {
    format!("escalation:{incident}:{step}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(n: u8) -> Target {
        Target::User(UserId(uuid::Uuid::from_bytes([n; 16])))
    }

    fn schedule(n: u8) -> Target {
        Target::Schedule(ScheduleId(uuid::Uuid::from_bytes([n; 16])))
    }

    fn level(delay: u32, targets: Vec<Target>) -> Level {
        Level {
            delay_minutes: delay,
            targets,
        }
    }

    #[test]
    fn steps_walk_the_levels_then_repeat_then_stop() {
        let plan = Plan::new(vec![level(5, vec![user(1)]), level(10, vec![user(2)])], 1).unwrap();
        let walk: Vec<_> = (0..5).map(|s| plan.position(s)).collect();
        assert_eq!(
            walk,
            vec![Some((0, 0)), Some((1, 0)), Some((0, 1)), Some((1, 1)), None]
        );
        let once = Plan::new(vec![level(5, vec![user(1)])], 0).unwrap();
        assert_eq!(once.position(0), Some((0, 0)));
        assert_eq!(once.position(1), None);
    }

    #[test]
    fn bad_plans_name_the_field() {
        let e = Plan::new(vec![], 0).unwrap_err();
        assert_eq!(e.field, "levels");
        let e = Plan::new(vec![level(0, vec![user(1)])], 0).unwrap_err();
        assert_eq!(e.field, "levels[0].delay_minutes");
        let e = Plan::new(vec![level(5, vec![user(1)]), level(5, vec![])], 0).unwrap_err();
        assert_eq!(e.field, "levels[1].targets");
        let e = Plan::new(vec![level(5, vec![user(1), user(1)])], 0).unwrap_err();
        assert_eq!(e.field, "levels[0].targets");
        let e = Plan::new(vec![level(5, vec![user(1)])], REPEAT_MAX + 1).unwrap_err();
        assert_eq!(e.field, "repeat");
    }

    #[test]
    fn targets_have_a_tagged_wire_form() {
        let t = user(7);
        let v = serde_json::to_value(t).unwrap();
        assert_eq!(v["type"], "user");
        assert_eq!(serde_json::from_value::<Target>(v).unwrap(), t);
        let s = schedule(8);
        let v = serde_json::to_value(s).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"type": "schedule", "id": "08080808-0808-0808-0808-080808080808"})
        );
        assert_eq!(serde_json::from_value::<Target>(v).unwrap(), s);
    }

    #[test]
    fn users_and_schedules_are_told_apart() {
        let plan = Plan::new(
            vec![
                level(5, vec![user(1), schedule(2)]),
                level(5, vec![schedule(3), user(4), schedule(2)]),
            ],
            0,
        )
        .unwrap();
        let ids = |n: u8| uuid::Uuid::from_bytes([n; 16]);
        assert_eq!(
            plan.users().map(|u| u.0).collect::<Vec<_>>(),
            [ids(1), ids(4)]
        );
        assert_eq!(
            plan.schedules().map(|s| s.0).collect::<Vec<_>>(),
            [ids(2), ids(3), ids(2)]
        );
        // A user and a schedule with the same id are different targets.
        let same = Plan::new(vec![level(5, vec![user(1), schedule(1)])], 0);
        assert!(same.is_ok());
        let e = Plan::new(vec![level(5, vec![schedule(1), schedule(1)])], 0).unwrap_err();
        assert_eq!(e.field, "levels[0].targets");
    }
}
