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
    /// Status pages' public snapshots: a change made here asks for a rebuild and waits for it
    /// (other instances' changes are found by polling the pages' revisions).
    pub status_refresh: Arc<Refreshes>,
    /// Self-service status page sign-ups, per client address.
    pub signups: Arc<RateLimiter<String>>,
    /// The last write probe of `/readyz` and when it ran: shared for a second, so that callers
    /// (load balancers, or anyone: it needs no login) cost at most one write a second.
    pub readiness: Arc<tokio::sync::Mutex<Option<Probe>>>,
    /// Fired when graceful shutdown begins: live streams never end by themselves, and would
    /// otherwise hold their connections (and the shutdown) open.
    pub shutting_down: ShuttingDown,
}

/// Rebuilds of a view kept in memory (status pages' snapshots), asked for by changes: a change
/// waits until a rebuild that began after it is done, so that its answer and the view agree.
#[derive(Default)]
pub struct Refreshes {
    requested: std::sync::atomic::AtomicU64,
    completed: tokio::sync::watch::Sender<u64>,
    wake: tokio::sync::Notify,
    running: std::sync::atomic::AtomicBool,
}

impl Refreshes {
    /// Asks for a rebuild after a change and waits (at most 5 s) until one that began after
    /// this call is done. Returns at once when nothing rebuilds (no serving instance here).
    pub async fn changed(&self) {
        use std::sync::atomic::Ordering;
        let wanted = self.requested.fetch_add(1, Ordering::SeqCst) + 1;
        self.wake.notify_one();
        if !self.running.load(Ordering::SeqCst) {
            return;
        }
        let mut rx = self.completed.subscribe();
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            rx.wait_for(|done| *done >= wanted),
        )
        .await;
    }

    /// The rebuilder starts a round: the requests it will cover.
    pub fn begin(&self) -> u64 {
        use std::sync::atomic::Ordering;
        self.running.store(true, Ordering::SeqCst);
        self.requested.load(Ordering::SeqCst)
    }

    /// The rebuilder finished a round that covers requests up to `upto`.
    pub fn done(&self, upto: u64) {
        self.completed.send_if_modified(|c| {
            let moved = upto > *c;
            *c = (*c).max(upto);
            moved
        });
    }

    /// Resolves when a rebuild is asked for.
    pub async fn asked(&self) {
        self.wake.notified().await;
    }

    /// The rebuilder stopped: changes no longer wait for it.
    pub fn stopped(&self) {
        self.running
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }
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
