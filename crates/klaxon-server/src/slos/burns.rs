//! What incidents cost their services' SLOs: the bad events (or minutes) between an incident's
//! impact start (or declaration) and its resolution, as a share of the budget of the SLO's
//! window it ended in (`klaxon_domain::slo_burn`; docs/slos.md, "Incidents and budgets").
//!
//! An open incident's burn is computed when read. A resolved one's is computed once its last
//! counts are in (`SETTLE` after resolution) by the evaluator's job and kept
//! (`incident_slo_burns`), so the insights can rank a year of incidents after the counts that
//! made it are pruned; it is computed again when the incident's impact start or resolution
//! moves, or the SLO changes.
use std::collections::HashMap;
use std::collections::hash_map::Entry;

use jiff::{SignedDuration, Timestamp};
use klaxon_domain::ids::{IncidentId, ServiceId, SloId};
use klaxon_domain::incident::Severity;
use klaxon_domain::slo::{self, Basis, Resolution, Sli, Slo, Span, availability};
use klaxon_domain::slo_burn::{self, Burned};
use klaxon_store::{Incident, IncidentBurn, StoreResult};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::api::window_spelling;
use super::evaluate::{Reads, prometheus_counts, sums};
use super::view::reads;
use crate::shared::error::ApiResult;
use crate::shared::state::AppState;

/// Counts of an incident's last minutes may still be pushed (or scraped) after it resolves.
pub const SETTLE: SignedDuration = SignedDuration::from_mins(5);
/// Burns are computed for incidents resolved this recently: hour slices are kept 91 days.
const RECENT: SignedDuration = SignedDuration::from_hours(24 * 90);
/// Burns computed per evaluation step at most, so a backlog never holds up the evaluation.
const PER_STEP: u32 = 20;
/// A source that keeps failing for an incident resolved this long ago is recorded as having
/// given no answer, rather than asked again every minute.
const GIVE_UP_AFTER: SignedDuration = SignedDuration::from_hours(1);
/// How long a page waits for an SLO's source before it shows "no answer".
const LIVE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// What an incident cost one SLO of its service.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BurnOut {
    pub slo_id: SloId,
    pub slo_name: String,
    /// Percent.
    pub objective: f64,
    /// `7d`, `28d`, `30d`, `90d` or `month`.
    pub window: String,
    /// `events` or `minutes`.
    pub unit: String,
    /// The span counted: impact start (or declaration) to resolution, or to now while open.
    #[schema(value_type = String, format = DateTime)]
    pub from: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub to: Timestamp,
    /// Bad and all events (or minutes) in the span; null when the source gave no answer.
    pub bad: Option<f64>,
    pub total: Option<f64>,
    /// The window's budget at the span's end; null without events in the window.
    pub allowed: Option<f64>,
    /// bad / allowed: 0.25 is a quarter of the window's budget.
    pub share: Option<f64>,
    /// Computed for this answer (an open incident, or one not yet kept), not kept.
    pub live: bool,
}

impl BurnOut {
    /// In words, for pages and exports: "checkout availability (99.9 % over 30d): 250 bad
    /// events, 25.0 % of the window's budget".
    pub fn summary(&self) -> String {
        let what = format!(
            "{} ({} % over {})",
            self.slo_name, self.objective, self.window
        );
        match (self.bad, self.share) {
            (None, _) => format!("{what}: its source gave no answer"),
            (Some(bad), Some(share)) => format!(
                "{what}: {} bad {}, {:.1} % of the window's budget",
                amount(bad),
                self.unit,
                share * 100.0
            ),
            (Some(bad), None) => format!(
                "{what}: {} bad {}; the window had no events, so no budget",
                amount(bad),
                self.unit
            ),
        }
    }
}

/// A count as people read it: whole numbers without decimals.
fn amount(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

fn unit(sli: &Sli) -> &'static str {
    match sli.basis() {
        Basis::Events => "events",
        Basis::Time => "minutes",
    }
}

fn out(slo: &Slo, from: Timestamp, to: Timestamp, b: Option<Burned>, live: bool) -> BurnOut {
    BurnOut {
        slo_id: slo.id,
        slo_name: slo.name.clone(),
        objective: slo.objective.percent(),
        window: window_spelling(&slo.window).0,
        unit: unit(&slo.sli).to_owned(),
        from,
        to,
        bad: b.map(|b| b.bad),
        total: b.map(|b| b.total),
        allowed: b.and_then(|b| b.allowed),
        share: b.and_then(|b| b.share),
        live,
    }
}

/// A kept burn; none when its source gave no answer.
fn kept_burn(k: &IncidentBurn) -> Option<Burned> {
    let (bad, total) = (k.bad?, k.total?);
    Some(Burned {
        bad,
        total,
        allowed: k.allowed,
        share: k.allowed.map(|a| bad / a),
    })
}

/// The span an incident's burn counts, while open up to `now`.
pub fn incident_span(i: &Incident, now: Timestamp) -> (Timestamp, Timestamp) {
    let from = i.impact_started_at.unwrap_or(i.created_at);
    (from, i.resolved_at.unwrap_or(now).max(from))
}

/// The burn of `slo` over `[from, to)`, asked of its SLI's source now. `None` when the source
/// gave no answer.
pub async fn compute(
    r: Reads<'_>,
    slo: &Slo,
    from: Timestamp,
    to: Timestamp,
    now: Timestamp,
) -> StoreResult<Option<Burned>> {
    // The window the incident ended in, up to the end of its last minute.
    let end = slo::step_up(to, Resolution::Minute.length());
    let (start, _) = slo.window.bounds(end);
    let window = Span {
        from: start,
        to: end,
        resolution: Resolution::Hour,
    };
    let (during, whole) = match &slo.sli {
        Sli::Pushed => {
            let during = slo_burn::incident_spans(from, to, now);
            let n = during.len();
            let mut all = during;
            all.extend(slo_burn::window_spans(start, end, now));
            let mut got = sums(r.store, &[slo.id], &all).await?;
            let got = got.remove(&slo.id).unwrap_or_default();
            let during = got.iter().take(n).copied().sum();
            let whole = got.iter().skip(n).copied().sum();
            (during, whole)
        }
        Sli::Prometheus { .. } => {
            // A range of at least a minute: PromQL has no empty one.
            let span = Span {
                from,
                to: to.max(from + Resolution::Minute.length()),
                resolution: Resolution::Minute,
            };
            let (Ok(during), Ok(whole)) = (
                prometheus_counts(r, &slo.sli, span).await,
                prometheus_counts(r, &slo.sli, window).await,
            ) else {
                return Ok(None);
            };
            (during, whole)
        }
        Sli::Availability { .. } => {
            // Exact minutes from the source's state changes, like the evaluator's. A time
            // budget is a share of the whole window's length: the window is not read.
            let Some(source) = slo.sli.source() else {
                return Ok(None);
            };
            let changes = r.store.availability_changes(&[source], from, end).await?;
            let Some(c) = changes.get(&source) else {
                return Ok(None);
            };
            (availability::minutes(c, from, to), Default::default())
        }
    };
    Ok(Some(slo_burn::burned(
        slo.objective,
        slo.sli.basis(),
        during,
        whole,
        slo.window.length(end),
    )))
}

/// What an incident cost each SLO of its service: kept burns where they are current, the rest
/// computed now.
pub async fn for_incident(state: &AppState, i: &Incident) -> ApiResult<Vec<BurnOut>> {
    let Some(service) = i.service_id else {
        return Ok(Vec::new());
    };
    let slos = state.store.list_slos(Some(service)).await?;
    if slos.is_empty() {
        return Ok(Vec::new());
    }
    let now = state.clock.now();
    let (from, to) = incident_span(i, now);
    let kept: HashMap<SloId, IncidentBurn> = state
        .store
        .incident_burns(i.id)
        .await?
        .into_iter()
        .map(|b| (b.slo_id, b))
        .collect();
    // Past the counts' keeping, a kept burn is the only one there is, even if the SLO changed
    // since it was computed.
    let old = i
        .resolved_at
        .is_some_and(|r| now.duration_since(r) >= RECENT);
    let mut burns = Vec::with_capacity(slos.len());
    for s in &slos {
        let current = kept.get(&s.id).filter(|k| {
            i.resolved_at == Some(k.to) && k.from == from && (old || k.computed_at >= s.updated_at)
        });
        burns.push(match current {
            Some(k) => out(s, from, to, kept_burn(k), false),
            // A source known to be silent is not waited on, nor a slow one for long: the
            // incident page must not hang on a Prometheus that is down.
            None if s.silent_since.is_some() => out(s, from, to, None, true),
            None => {
                let got = tokio::time::timeout(LIVE_WAIT, compute(reads(state), s, from, to, now));
                let got = match got.await {
                    Ok(Ok(b)) => b,
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, slo = %s.id, "an incident's SLO burn could not be read");
                        None
                    }
                    Err(_) => None,
                };
                out(s, from, to, got, true)
            }
        });
    }
    Ok(burns)
}

/// Computes and keeps the burns due (a few per step, oldest resolution first). SLOs whose
/// source is silent are not due until it answers. Returns how many were kept.
pub async fn catch_up(r: Reads<'_>, now: Timestamp) -> StoreResult<usize> {
    let since = now.checked_sub(RECENT).unwrap_or(Timestamp::MIN);
    let due = r
        .store
        .due_incident_burns(since, now - SETTLE, PER_STEP)
        .await?;
    let mut slos: HashMap<SloId, Option<Slo>> = HashMap::new();
    let mut kept = 0;
    for d in due {
        if let Entry::Vacant(e) = slos.entry(d.slo_id) {
            e.insert(r.store.slo(d.slo_id).await.ok());
        }
        let Some(Some(slo)) = slos.get(&d.slo_id) else {
            continue;
        };
        // (Silent SLOs are not due: their source is not asked until it answers again.)
        let burned = match compute(r, slo, d.from, d.to, now).await? {
            Some(b) => Some(b),
            None if now.duration_since(d.to) >= GIVE_UP_AFTER => None,
            None => continue,
        };
        r.store
            .record_incident_burn(&IncidentBurn {
                incident_id: d.incident_id,
                slo_id: d.slo_id,
                from: d.from,
                to: d.to,
                bad: burned.map(|b| b.bad),
                total: burned.map(|b| b.total),
                allowed: burned.and_then(|b| b.allowed),
                computed_at: now,
            })
            .await?;
        kept += 1;
    }
    Ok(kept)
}

/// An incident's burn of one SLO in a ranking.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RankedIncident {
    pub incident_id: IncidentId,
    pub number: i64,
    pub title: String,
    pub severity: Option<Severity>,
    pub service_id: ServiceId,
    pub service_name: String,
    pub slo_id: SloId,
    pub slo_name: String,
    pub unit: String,
    pub bad: f64,
    /// The share of the window's budget it spent; null without a budget.
    pub share: Option<f64>,
}

/// One SLO of a service and what the period's incidents cost it together.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RankedSlo {
    pub service_id: ServiceId,
    pub service_name: String,
    pub slo_id: SloId,
    pub slo_name: String,
    pub unit: String,
    /// Incidents with a burn of it.
    pub incidents: u64,
    pub bad: f64,
    /// The sum of their shares: 1.5 is one and a half windows' budgets.
    pub share: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BudgetReport {
    #[schema(value_type = String, format = DateTime)]
    pub from: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub to: Timestamp,
    /// Incidents by the share of a budget they spent, most first (one row per SLO).
    pub incidents: Vec<RankedIncident>,
    /// Services' SLOs by the budget their incidents spent, most first.
    pub services: Vec<RankedSlo>,
}

/// How many incident rows a ranking shows.
pub const TOP: usize = 50;

/// Incidents declared in `[from, to)` and their services' SLOs ranked by the budget the
/// incidents spent, from the kept burns.
pub async fn ranking(state: &AppState, from: Timestamp, to: Timestamp) -> ApiResult<BudgetReport> {
    let rows = state.store.period_burns(from, to).await?;
    let slos: HashMap<SloId, Slo> = state
        .store
        .list_slos(None)
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect();
    let mut services: HashMap<ServiceId, String> = HashMap::new();
    for s in slos.values() {
        if let Entry::Vacant(e) = services.entry(s.service_id) {
            let name = state.store.service(s.service_id).await.map(|v| v.name);
            e.insert(name.unwrap_or_else(|_| s.service_id.to_string()));
        }
    }
    let mut incidents = Vec::new();
    let mut by_slo: HashMap<SloId, RankedSlo> = HashMap::new();
    for r in rows {
        let (Some(slo), Some(b)) = (slos.get(&r.burn.slo_id), kept_burn(&r.burn)) else {
            continue;
        };
        let service_name = services.get(&r.service_id).cloned().unwrap_or_default();
        let agg = by_slo.entry(slo.id).or_insert_with(|| RankedSlo {
            service_id: slo.service_id,
            service_name: service_name.clone(),
            slo_id: slo.id,
            slo_name: slo.name.clone(),
            unit: unit(&slo.sli).to_owned(),
            incidents: 0,
            bad: 0.0,
            share: 0.0,
        });
        agg.incidents += 1;
        agg.bad += b.bad;
        agg.share += b.share.unwrap_or(0.0);
        incidents.push(RankedIncident {
            incident_id: r.burn.incident_id,
            number: r.number,
            title: r.title,
            severity: r.severity,
            service_id: r.service_id,
            service_name,
            slo_id: slo.id,
            slo_name: slo.name.clone(),
            unit: unit(&slo.sli).to_owned(),
            bad: b.bad,
            share: b.share,
        });
    }
    let key = |s: Option<f64>| s.unwrap_or(-1.0);
    incidents.sort_by(|a, b| {
        key(b.share)
            .total_cmp(&key(a.share))
            .then(b.bad.total_cmp(&a.bad))
            .then(a.number.cmp(&b.number))
    });
    incidents.truncate(TOP);
    let mut services: Vec<RankedSlo> = by_slo.into_values().collect();
    services.sort_by(|a, b| {
        b.share
            .total_cmp(&a.share)
            .then(b.bad.total_cmp(&a.bad))
            .then(a.service_name.cmp(&b.service_name))
            .then(a.slo_name.cmp(&b.slo_name))
    });
    Ok(BudgetReport {
        from,
        to,
        incidents,
        services,
    })
}
