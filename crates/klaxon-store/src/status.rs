//! Status pages' records: pages, components (and groups), public incidents and maintenances
//! with their updates, and the status intervals uptime is computed from.
use jiff::Timestamp;
use klaxon_domain::ids::{
    ComponentId, IncidentId, ServiceId, StatusIncidentId, StatusPageId, StatusUpdateId,
};
use klaxon_domain::status::{ComponentStatus, Impact, PublicStatus};
use serde::{Deserialize, Serialize};

/// Who may read a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    Public,
    /// Behind a shared password.
    Password,
    /// Behind a Klaxon sign-in.
    SignIn,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Password => "password",
            Self::SignIn => "sign_in",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Public, Self::Password, Self::SignIn]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// A link in a page's footer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FooterLink {
    pub label: String,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StatusPage {
    pub id: StatusPageId,
    /// The public 12-character id.
    pub code: String,
    pub name: String,
    /// Served at `/status/{slug}`.
    pub slug: String,
    /// Also served at the root of this host, chosen by the Host header.
    pub hostname: Option<String>,
    pub logo_url: Option<String>,
    pub accent_color: String,
    /// IANA name: the page's days and times are in it.
    pub time_zone: String,
    pub footer_links: Vec<FooterLink>,
    pub visibility: Visibility,
    /// Argon2 hash of the shared password, for [`Visibility::Password`].
    pub password_hash: Option<String>,
    /// How much of a partial outage counts as down in uptime (0 to 1).
    pub partial_outage_weight: f64,
    /// Bumped by every change a reader can see, so that snapshots know when to rebuild.
    pub revision: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A component, or a group of components (two levels at most).
#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    pub id: ComponentId,
    pub code: String,
    pub page_id: StatusPageId,
    /// The group it belongs to, if any.
    pub group_id: Option<ComponentId>,
    pub is_group: bool,
    pub name: String,
    pub description: Option<String>,
    /// Order among its siblings.
    pub position: i64,
    pub status: ComponentStatus,
    /// Shows only while it is not operational.
    pub only_show_if_degraded: bool,
    /// Shows its 90-day uptime bars.
    pub show_uptime: bool,
    /// The Klaxon services it depends on: an incident on one proposes a status for it.
    pub service_ids: Vec<ServiceId>,
    /// Its status follows the enabled uptime checks on those services, set by the store
    /// whenever one of them changes state (`klaxon_domain::status::follow`).
    pub follow_checks: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A stretch of time a component spent in one status.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StatusInterval {
    pub component_id: ComponentId,
    pub status: ComponentStatus,
    pub from: Timestamp,
    pub until: Option<Timestamp>,
}

/// A public incident, or a scheduled maintenance, on one page.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusIncident {
    pub id: StatusIncidentId,
    pub code: String,
    pub page_id: StatusPageId,
    /// The Klaxon incident it tells customers about, if any.
    pub incident_id: Option<IncidentId>,
    pub maintenance: bool,
    /// The public title.
    pub name: String,
    pub status: PublicStatus,
    pub impact: Impact,
    /// A maintenance's window.
    pub scheduled_for: Option<Timestamp>,
    pub scheduled_until: Option<Timestamp>,
    /// When the next update is promised.
    pub next_update_at: Option<Timestamp>,
    /// A maintenance's subscribers are reminded this many minutes before it starts.
    pub remind_minutes: Option<i64>,
    pub reminded: bool,
    pub component_ids: Vec<ComponentId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub started_at: Timestamp,
    pub monitoring_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    /// The postmortem's public summary, once a person attached it.
    pub postmortem: Option<PublicPostmortem>,
}

/// What a public incident shows of its postmortem (Statuspage's `postmortem_body` and
/// `postmortem_published_at`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicPostmortem {
    pub body: String,
    pub published_at: Timestamp,
}

/// A component's change announced by an update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentChange {
    pub component_id: ComponentId,
    pub code: String,
    pub name: String,
    pub old_status: ComponentStatus,
    pub new_status: ComponentStatus,
}

/// One update of a public incident or maintenance, newest last when read back.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusUpdate {
    pub id: StatusUpdateId,
    pub code: String,
    pub status_incident_id: StatusIncidentId,
    pub status: PublicStatus,
    pub body: String,
    pub changes: Vec<ComponentChange>,
    pub next_update_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

/// A public incident with its updates, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusIncidentWithUpdates {
    pub incident: StatusIncident,
    pub updates: Vec<StatusUpdate>,
}
