//! Records of outgoing webhooks and their deliveries.
use jiff::Timestamp;
use klaxon_domain::ids::{DeliveryId, WebhookId};
use serde::Serialize;

use crate::{Event, Incident};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Webhook {
    pub id: WebhookId,
    pub name: String,
    pub url: String,
    /// Signs every delivery (`x-klaxon-signature`); shown once, when created.
    #[serde(skip)]
    pub secret: String,
    /// Event kinds or prefixes; empty: every incident event.
    pub events: Vec<String>,
    pub enabled: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Sending,
    Sent,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Sending, Self::Sent, Self::Failed]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// One event on its way to one webhook.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WebhookDelivery {
    pub id: DeliveryId,
    pub webhook_id: WebhookId,
    pub event_seq: i64,
    pub kind: String,
    /// The body sent: the event and the incident it is about.
    pub payload: serde_json::Value,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub run_at: Timestamp,
    pub last_error: Option<String>,
    pub response_status: Option<u16>,
    pub created_at: Timestamp,
    pub sent_at: Option<Timestamp>,
}

/// A delivery claimed for sending, with where it goes.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedDelivery {
    pub delivery: WebhookDelivery,
    pub url: String,
    pub secret: String,
}

/// How a send went.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryOutcome {
    Sent {
        status: u16,
    },
    /// Try again at `at`.
    Retry {
        at: Timestamp,
        error: String,
        status: Option<u16>,
    },
    Failed {
        error: String,
        status: Option<u16>,
    },
}

/// How fan-out decides, given by the server (the store knows no rules and draws no ids).
pub struct FanOut<'a> {
    /// Whether the webhook wants this event.
    pub wants: &'a (dyn Fn(&Webhook, &Event) -> bool + Send + Sync),
    /// The body to send for an event about an incident (None if it was deleted).
    pub payload:
        &'a (dyn Fn(&Webhook, &Event, Option<&Incident>) -> serde_json::Value + Send + Sync),
    pub new_id: &'a (dyn Fn() -> DeliveryId + Send + Sync),
}

/// How many events before a webhook's position fan-out looks at again.
pub const FAN_OUT_LOOKBACK: i64 = 500;

/// What one fan-out did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FanOutReport {
    pub queued: u32,
    /// Some webhook read a full batch: call again to catch up.
    pub more: bool,
}
