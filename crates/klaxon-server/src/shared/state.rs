//! The application state every request handler and page gets.
use std::sync::Arc;

use klaxon_domain::Clock;
use klaxon_domain::ids::IntegrationId;
use klaxon_store::{GroupCommit, Integration, Store};

use crate::shared::config::{IncidentRules, Settings};
use crate::shared::crypto::Passwords;
use crate::shared::engine::Engine;
use crate::shared::limits::{KeyCache, RateLimiter};

/// Shared by every request handler.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub settings: Arc<Settings>,
    pub passwords: Passwords,
    pub group_commit: GroupCommit,
    pub engine: Arc<Engine>,
    pub rate_limiter: Arc<RateLimiter<IntegrationId>>,
    pub integrations: Arc<KeyCache<Integration>>,
    pub incident_rules: Arc<IncidentRules>,
    /// Rung after every incident change made here, so live timelines look at once (other
    /// instances' changes are found by polling).
    pub incident_changes: Arc<tokio::sync::Notify>,
    /// The last write probe of `/readyz` and when it ran: shared for a second, so that callers
    /// (load balancers, or anyone: it needs no login) cost at most one write a second.
    pub readiness: Arc<tokio::sync::Mutex<Option<Probe>>>,
}

/// When a readiness probe ran, and what it found.
pub type Probe = (std::time::Instant, Result<(), String>);
