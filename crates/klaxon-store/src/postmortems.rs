//! Postmortem records beyond the domain's [`Postmortem`].
use jiff::Timestamp;
use klaxon_domain::event::NewEvent;
use klaxon_domain::ids::{IncidentId, PostmortemId, StatusIncidentId, UserId};
use klaxon_domain::incident::{Refusal, Severity};
use klaxon_domain::postmortem::{Postmortem, PostmortemState};

/// What a change decides from the postmortem as stored: the postmortem as it is to be, and the
/// events telling of it.
pub type PostmortemEdit =
    Box<dyn FnOnce(&Postmortem) -> Result<(Postmortem, Vec<NewEvent>), Refusal> + Send>;

/// Which postmortems a list shows.
#[derive(Debug, Clone, Default)]
pub struct PostmortemFilter {
    pub state: Option<PostmortemState>,
    /// Text found (ignoring ASCII case) in the incident's title or in a section.
    pub text: Option<String>,
    pub limit: u32,
}

/// One row of a list: the postmortem and what people know its incident by.
#[derive(Debug, Clone, PartialEq)]
pub struct PostmortemSummary {
    pub id: PostmortemId,
    pub incident_id: IncidentId,
    pub incident_number: i64,
    pub incident_title: String,
    pub severity: Option<Severity>,
    pub state: PostmortemState,
    pub owner_id: Option<UserId>,
    pub due_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub published_at: Option<Timestamp>,
}

/// A published postmortem's public summary going onto its incident's public incidents.
#[derive(Debug, Clone)]
pub struct PostmortemAttach {
    pub postmortem: PostmortemId,
    pub incident: IncidentId,
    /// The summary, as the postmortem holds it.
    pub body: String,
    pub at: Timestamp,
    /// On the incident's timeline.
    pub event: NewEvent,
    /// Each public incident that gets it, with its page's event (which its subscribers are
    /// told of).
    pub targets: Vec<(StatusIncidentId, NewEvent)>,
}
