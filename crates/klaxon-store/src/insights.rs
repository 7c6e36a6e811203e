//! What the insights read: a period's incidents with their alert facts, and the pages people
//! received. Raw rows; the numbers are computed by `klaxon_domain::learning` and the server.
use jiff::Timestamp;
use klaxon_domain::ids::{EscalationPolicyId, IncidentId, UserId};

use crate::Incident;

/// An incident declared in the period (never a drill), with what its alerts tell.
#[derive(Debug, Clone, PartialEq)]
pub struct InsightIncident {
    pub incident: Incident,
    /// Its service's escalation policy now: the team that answers for it.
    pub policy_id: Option<EscalationPolicyId>,
    /// Alerts grouped into it.
    pub alerts: u64,
    /// Its alerts that resolved on their own before anyone acknowledged: no acknowledgement on
    /// the alert, and resolved before the incident's acknowledgement (or it has none).
    pub self_resolved_alerts: u64,
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
