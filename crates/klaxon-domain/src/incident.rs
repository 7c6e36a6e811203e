//! Incidents: what people respond to.
use crate::named_enum;

named_enum! {
    /// Where an incident is in its life. Alerts move it between the first three; people take
    /// it further.
    pub enum IncidentStatus (field = "status") {
        Triggered = "triggered",
        Acknowledged = "acknowledged",
        Mitigated = "mitigated",
        Resolved = "resolved",
        Closed = "closed",
    }
}

impl IncidentStatus {
    /// Still needs people: not yet resolved or closed.
    pub fn is_open(self) -> bool {
        !matches!(self, IncidentStatus::Resolved | IncidentStatus::Closed)
    }
}
