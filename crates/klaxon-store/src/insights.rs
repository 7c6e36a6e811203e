//! What the insights read: a period's incidents with their alert facts, and the pages people
//! received. Raw rows; the numbers are computed by `klaxon_domain::learning` and the server.
use jiff::Timestamp;
use klaxon_domain::ids::{EscalationPolicyId, IncidentId, ServiceId, UserId};
use klaxon_domain::incident::{Milestones, Severity};
use klaxon_domain::learning::{self, Durations};

/// An incident declared in the period (never a drill), with what its alerts tell: only what
/// the reports use, so a year of incidents is read without decoding whole incident rows.
#[derive(Debug, Clone, PartialEq)]
pub struct InsightIncident {
    pub created_at: Timestamp,
    pub service_id: Option<ServiceId>,
    /// Its service's escalation policy now: the team that answers for it.
    pub policy_id: Option<EscalationPolicyId>,
    pub severity: Option<Severity>,
    pub category: Option<String>,
    /// Its milestones; declared is when it was created.
    pub milestones: Milestones,
    /// Alerts grouped into it.
    pub alerts: u64,
    /// Its alerts that resolved on their own before anyone acknowledged: resolved, never
    /// acknowledged, and their monitor (the system, not a person) resolved them.
    pub self_resolved_alerts: u64,
}

impl InsightIncident {
    /// Its durations, from its milestones as they are now.
    pub fn durations(&self) -> Durations {
        learning::durations(&self.milestones)
    }
}

/// One page a person received: the notifications one escalation step (or a responder page)
/// queued for them about an incident at once count as one interruption, whatever the number of
/// contact methods it went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct InsightPage {
    pub user_id: UserId,
    pub incident_id: IncidentId,
    /// When the page was raised.
    pub at: Timestamp,
}
