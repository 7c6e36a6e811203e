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
    /// Rung after every status-page change made here, so public snapshots rebuild at once
    /// (other instances' changes are found by polling the pages' revisions).
    pub status_changed: Arc<tokio::sync::Notify>,
    /// The last write probe of `/readyz` and when it ran: shared for a second, so that callers
    /// (load balancers, or anyone: it needs no login) cost at most one write a second.
    pub readiness: Arc<tokio::sync::Mutex<Option<Probe>>>,
    /// Fired when graceful shutdown begins: live streams never end by themselves, and would
    /// otherwise hold their connections (and the shutdown) open.
    pub shutting_down: ShuttingDown,
}

/// A signal that fires once, when graceful shutdown begins.
#[derive(Clone)]
pub struct ShuttingDown(Arc<tokio::sync::watch::Sender<bool>>);

impl Default for ShuttingDown {
    fn default() -> Self {
        Self(Arc::new(tokio::sync::watch::channel(false).0))
    }
}

impl ShuttingDown {
    pub fn begin(&self) {
        self.0.send_replace(true);
    }

    /// Resolves once shutdown has begun: at once when it already has.
    pub fn begun(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.0.subscribe();
        async move {
            let _ = rx.wait_for(|begun| *begun).await;
        }
    }
}

/// When a readiness probe ran, and what it found.
pub type Probe = (std::time::Instant, Result<(), String>);
