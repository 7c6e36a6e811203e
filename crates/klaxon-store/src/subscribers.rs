//! Status page subscribers and their notices (the outbox of what each is sent).
use jiff::Timestamp;
use klaxon_domain::ids::{
    ComponentId, StatusIncidentId, StatusPageId, StatusUpdateId, SubscriberId,
};
use klaxon_domain::status::ComponentStatus;

use crate::DeliveryStatus;

/// How a subscriber is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriberKind {
    Email,
    /// A Statuspage-shaped JSON POST.
    Webhook,
}

impl SubscriberKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Webhook => "webhook",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Email, Self::Webhook]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriber {
    pub id: SubscriberId,
    pub page_id: StatusPageId,
    pub kind: SubscriberKind,
    /// An e-mail address (lower case) or a webhook URL.
    pub address: String,
    /// Every component, or only `component_ids`.
    pub all_components: bool,
    pub component_ids: Vec<ComponentId>,
    /// Notices go only once confirmed (an e-mail address's owner followed the link).
    pub confirmed_at: Option<Timestamp>,
    /// Signed into the subscriber's links.
    pub nonce: String,
    /// The last confirmation or manage-link e-mail queued.
    pub mailed_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// What a sign-up did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignUp {
    /// A new subscriber (a confirmation e-mail queued when it is not confirmed yet).
    Created(Subscriber),
    /// Known already: a confirmation (unconfirmed) or manage-link (confirmed) e-mail queued.
    Mailed(Subscriber),
    /// Known already and mailed less than the gap ago: nothing queued.
    TooSoon(Subscriber),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// "Confirm your subscription" with the confirmation link.
    Confirm,
    /// "You are subscribed already" with the manage link.
    Manage,
    /// An incident or maintenance update.
    Incident,
    /// A component's status changed (webhooks).
    Component,
    /// A maintenance starts soon (e-mail).
    Reminder,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirm => "confirm",
            Self::Manage => "manage",
            Self::Incident => "incident",
            Self::Component => "component",
            Self::Reminder => "reminder",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Confirm,
            Self::Manage,
            Self::Incident,
            Self::Component,
            Self::Reminder,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// One message to one subscriber. Its content is drawn when it is sent, from the records it
/// names (the update, the component change), which do not change once written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub subscriber_id: SubscriberId,
    /// The event that caused it; with `part`, the order a subscriber is sent its notices in.
    pub event_seq: i64,
    /// `""`, or the component's code when one event tells of several components.
    pub part: String,
    pub kind: NoticeKind,
    pub status_incident_id: Option<StatusIncidentId>,
    pub status_update_id: Option<StatusUpdateId>,
    pub component_id: Option<ComponentId>,
    pub old_status: Option<ComponentStatus>,
    pub new_status: Option<ComponentStatus>,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub run_at: Timestamp,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub sent_at: Option<Timestamp>,
}

/// A notice leased for sending, with whom it goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedNotice {
    pub notice: Notice,
    pub subscriber: Subscriber,
}
