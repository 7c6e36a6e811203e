//! Klaxon's domain: plain types and rules. No I/O, no HTTP, no SQL.
//!
//! Input from the outside world is parsed into these types at the edge (API, CLI, config), so
//! everything past the edge can rely on them being valid.
#![forbid(unsafe_code)]

pub mod action_item;
pub mod alert;
pub mod alert_details;
pub mod auth;
pub mod check;
pub mod clock;
pub mod contact;
pub mod drill;
pub mod escalation;
pub mod event;
pub mod ids;
pub mod incident;
pub mod job;
pub mod learning;
mod names;
pub use names::enum_schema;
pub mod page;
pub mod postmortem;
pub mod reach;
pub mod runbook;
pub mod schedule;
pub mod service;
pub mod slo;
pub mod slo_burn;
pub mod status;
pub mod throttle;
pub mod webhook;
pub mod workflow;
pub mod yaml;

pub use clock::{Clock, FakeClock, SystemClock};

/// Why a piece of input was refused: the field to blame and the reason, for a 4xx answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct Invalid {
    pub field: String,
    pub reason: String,
}

impl Invalid {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
