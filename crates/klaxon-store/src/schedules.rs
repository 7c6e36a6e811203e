//! Records of on-call schedules: a schedule's definition (its layers) and its overrides.
//!
//! Who is on call is never stored: the server builds a [`klaxon_domain::schedule::Schedule`]
//! from a definition and the overrides around the instants it asks about.
use std::collections::HashMap;

use jiff::Timestamp;
use klaxon_domain::Invalid;
use klaxon_domain::ids::{OverrideId, ScheduleId, UserId};
use klaxon_domain::schedule::{Layer, Override, Schedule};
use serde::Serialize;

/// A schedule as stored: its layers were checked by [`Schedule::new`] before they were written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduleRecord {
    pub id: ScheduleId,
    pub name: String,
    pub description: String,
    /// The IANA name the layers' local start times are read in.
    pub time_zone: String,
    pub layers: Vec<Layer>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl ScheduleRecord {
    /// Every user the layers name, each once, in first-seen order.
    pub fn users(&self) -> Vec<UserId> {
        let mut out: Vec<UserId> = Vec::new();
        for u in self.layers.iter().flat_map(|l| l.users.iter()) {
            if !out.contains(u) {
                out.push(*u);
            }
        }
        out
    }
}

/// From `start` to `end`, `user_id` is on call in the schedule instead of whoever its layers
/// give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ScheduleOverride {
    pub id: OverrideId,
    pub schedule_id: ScheduleId,
    pub user_id: UserId,
    pub start: Timestamp,
    pub end: Timestamp,
    pub created_at: Timestamp,
}

/// A schedule with the overrides that overlap the range it was read for, ordered by start and
/// then by id (creation order), which is the order [`Schedule`] breaks ties in: of two
/// overrides starting together, the one added later wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleWithOverrides {
    pub schedule: ScheduleRecord,
    pub overrides: Vec<ScheduleOverride>,
}

impl ScheduleWithOverrides {
    /// Hands each schedule its overrides, keeping the schedules' order and the overrides'.
    pub fn group(schedules: Vec<ScheduleRecord>, overrides: Vec<ScheduleOverride>) -> Vec<Self> {
        let mut by_schedule: HashMap<ScheduleId, Vec<ScheduleOverride>> = HashMap::new();
        for o in overrides {
            by_schedule.entry(o.schedule_id).or_default().push(o);
        }
        schedules
            .into_iter()
            .map(|schedule| Self {
                overrides: by_schedule.remove(&schedule.id).unwrap_or_default(),
                schedule,
            })
            .collect()
    }

    /// The domain schedule, valid for instants inside the range the overrides were read for.
    pub fn to_domain(&self) -> Result<Schedule, Invalid> {
        Schedule::new(
            &self.schedule.time_zone,
            self.schedule.layers.clone(),
            self.overrides
                .iter()
                .map(|o| Override {
                    start: o.start,
                    end: o.end,
                    user: o.user_id,
                })
                .collect(),
        )
    }
}
