//! The `slo.evaluate` job: every minute step, each SLO's rules and budget are judged on the
//! counts its SLI's source gives (`klaxon_domain::slo::evaluate`). A rule that fires opens an
//! alert on the SLO's service through the normal pipeline (dedup, grouping, maintenance,
//! paging); one that resolves resolves it.
//!
//! Nothing is lost and nobody is paged twice: the job is claimed by one instance at a time; a
//! step's outcome is recorded once (`record_slo_evaluations` refuses a step already recorded);
//! and the alert is written before the record, under a dedup key per SLO and rule, so an
//! evaluation cut short and run again triggers the same open alert (deduplicated) rather than
//! a second one.
use std::collections::HashMap;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use klaxon_domain::alert::{Action, AlertContent, DedupKey, Severity, Signal};
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{AlertId, IncidentId, JobId, SloId};
use klaxon_domain::slo::availability::{self, Source};
use klaxon_domain::slo::{
    self, Counts, Decision, Observed, Resolution, RuleState, Sli, Slo, Span, Transition, Urgency,
};
use klaxon_store::{Job, NewJob, SignalWrite, SloEvaluation, Store, StoreResult, Write};
use serde_json::json;

use super::prometheus::{self, QueryError};
use crate::shared::config::Settings;
use crate::shared::crypto::random_bytes;
use crate::shared::engine::{JobContext, JobHandler, Outcome, new_job};

pub const JOB: &str = "slo.evaluate";
const KEY: &str = "slo:evaluate";
/// The evaluation step: every SLO is judged once a minute.
pub const STEP: SignedDuration = SignedDuration::from_mins(1);
/// Minute and five-minute slices serve windows up to a day; kept a little longer.
const MINUTES_KEPT: SignedDuration = SignedDuration::from_hours(25);
/// Hour and day slices serve whole windows, 90 days at most (a calendar month is shorter).
const HOURS_KEPT: SignedDuration = SignedDuration::from_hours(24 * 91);
const DAYS_KEPT: SignedDuration = SignedDuration::from_hours(24 * 92);

/// The one evaluator job, kept by its dedup key; made with each new SLO.
pub fn job(now: Timestamp) -> NewJob {
    new_job(JOB, Some(KEY), json!({}), now, now)
}

/// Sums `spans` for each of `ids` from the pushed counts, each resolution in one read per run
/// of overlapping spans for all of them.
pub(super) async fn sums(
    store: &dyn Store,
    ids: &[SloId],
    spans: &[Span],
) -> StoreResult<HashMap<SloId, Vec<Counts>>> {
    let mut out: HashMap<SloId, Vec<Counts>> = ids
        .iter()
        .map(|id| (*id, vec![Counts::default(); spans.len()]))
        .collect();
    for res in Resolution::ALL {
        let idx: Vec<usize> = (0..spans.len())
            .filter(|&i| spans[i].resolution == *res)
            .collect();
        if idx.is_empty() {
            continue;
        }
        let wanted: Vec<(Timestamp, Timestamp)> =
            idx.iter().map(|&i| (spans[i].from, spans[i].to)).collect();
        for (id, got) in store.slo_sums(ids, *res, &wanted).await? {
            if let Some(o) = out.get_mut(&id) {
                for (&i, c) in idx.iter().zip(got) {
                    o[i] = c;
                }
            }
        }
    }
    Ok(out)
}

/// What an evaluation reads from: the store (pushed counts) and the configured sources.
#[derive(Clone, Copy)]
pub struct Reads<'a> {
    pub store: &'a dyn Store,
    pub http: &'a reqwest::Client,
    pub settings: &'a Settings,
}

/// Good and total events over `span`, asked of a Prometheus source: the ratio's expression
/// and the total's, each with the span as its range, at the span's end.
pub(super) async fn prometheus_counts(
    r: Reads<'_>,
    sli: &Sli,
    span: Span,
) -> Result<Counts, QueryError> {
    let Sli::Prometheus {
        source,
        good,
        bad,
        total,
    } = sli
    else {
        return Err(QueryError::Rejected("not a Prometheus SLI".into()));
    };
    let src =
        r.settings.slos.source(source).ok_or_else(|| {
            QueryError::Unreachable(format!("no source {source:?} is configured"))
        })?;
    let len = span.to.duration_since(span.from);
    let ask = |expr: &str| {
        let expr = slo::promql(expr, len);
        async move { prometheus::query(r.http, &r.settings.slos, src, &expr, span.to).await }
    };
    let all = ask(total).await?;
    Ok(match (good, bad) {
        (Some(g), _) => Counts::from_ratio(true, ask(g).await?, all),
        (None, Some(b)) => Counts::from_ratio(false, ask(b).await?, all),
        (None, None) => return Err(QueryError::Rejected("no good or bad expression".into())),
    })
}

/// What an evaluation at `step` reads, rules' windows then the SLO's window, and how the
/// rules' pairs and the window come back out of it.
fn observed(rules: usize, got: &[Option<Counts>]) -> Observed {
    Observed {
        rules: got.chunks(2).take(rules).map(|p| (p[0], p[1])).collect(),
        window: got.last().copied().flatten(),
        answered: got.iter().all(Option::is_some),
    }
}

/// What the SLI's source shows for an evaluation at `step`.
pub async fn observe(r: Reads<'_>, slo: &Slo, step: Timestamp) -> StoreResult<Observed> {
    let mut all = observe_all(r, &[slo], step).await?;
    Ok(all.remove(&slo.id).unwrap_or_default())
}

/// What the sources show for each of `slos` at `step`. SLOs on pushed counts with the same
/// windows (the defaults, say) are read together: a handful of reads for all of them; all
/// availability SLOs' state changes are one read.
pub async fn observe_all(
    r: Reads<'_>,
    slos: &[&Slo],
    step: Timestamp,
) -> StoreResult<HashMap<SloId, Observed>> {
    let mut out = HashMap::with_capacity(slos.len());
    // SLOs on pushed counts by the pieces they read and the span each piece belongs to.
    #[allow(clippy::type_complexity)]
    let mut pushed: HashMap<(Vec<Span>, Vec<usize>), Vec<SloId>> = HashMap::new();
    let mut watched: Vec<(&Slo, Source, Vec<Span>)> = Vec::new();
    for slo in slos {
        let (rules, window) = slo::spans(slo, step);
        let mut all: Vec<Span> = rules.iter().flat_map(|(l, s)| [*l, *s]).collect();
        match slo.sli {
            Sli::Pushed => {
                // Each span as the coarsest slices that sum it: a 6-hour window's whole hours
                // and a 30-day window's whole days are read as such, not minute by minute.
                all.push(window);
                let mut parts = Vec::new();
                let mut owners = Vec::new();
                for (i, span) in all.iter().enumerate() {
                    for part in slo::pieces(*span) {
                        parts.push(part);
                        owners.push(i);
                    }
                }
                pushed.entry((parts, owners)).or_default().push(slo.id);
            }
            Sli::Prometheus { .. } => {
                all.push(window);
                let mut got = Vec::with_capacity(all.len());
                for span in &all {
                    match prometheus_counts(r, &slo.sli, *span).await {
                        Ok(c) => got.push(Some(c)),
                        Err(e) => {
                            tracing::debug!(slo = %slo.id, error = %e, "SLI source gave no answer");
                            got.push(None);
                        }
                    }
                }
                out.insert(slo.id, observed(rules.len(), &got));
            }
            Sli::Availability { .. } => {
                all.push(window);
                match slo.sli.source() {
                    Some(source) => watched.push((slo, source, all)),
                    None => {
                        out.insert(slo.id, observed(rules.len(), &vec![None; all.len()]));
                    }
                }
            }
        }
    }
    out.extend(availability_observed(r.store, &watched, step).await?);
    for ((parts, owners), ids) in pushed {
        let rules = slos
            .iter()
            .find(|s| s.id == ids[0])
            .map_or(0, |s| s.rules.len());
        // The rules' spans, then the window's, each the sum of its pieces.
        let spans = owners.last().map_or(0, |&i| i + 1);
        for (id, got) in sums(r.store, &ids, &parts).await? {
            let mut whole = vec![Counts::default(); spans];
            for (&i, c) in owners.iter().zip(got) {
                whole[i] = whole[i] + c;
            }
            let got: Vec<Option<Counts>> = whole.into_iter().map(Some).collect();
            out.insert(id, observed(rules, &got));
        }
    }
    Ok(out)
}

/// Availability SLOs' minutes over each of their spans, from one read of their sources' state
/// changes over the longest span. A source with no change is gone (deleted): no answer, so
/// the SLO holds and, after the silence, raises its "silent" alert.
async fn availability_observed(
    store: &dyn Store,
    watched: &[(&Slo, Source, Vec<Span>)],
    step: Timestamp,
) -> StoreResult<HashMap<SloId, Observed>> {
    let Some(from) = watched
        .iter()
        .flat_map(|(_, _, spans)| spans.iter().map(|s| s.from))
        .min()
    else {
        return Ok(HashMap::new());
    };
    let sources: Vec<Source> = watched.iter().map(|(_, s, _)| *s).collect();
    let changes = store.availability_changes(&sources, from, step).await?;
    Ok(watched
        .iter()
        .map(|(slo, source, spans)| {
            let got: Vec<Option<Counts>> = spans
                .iter()
                .map(|span| {
                    changes
                        .get(source)
                        .map(|c| availability::minutes(c, span.from, span.to))
                })
                .collect();
            (slo.id, observed(slo.rules.len(), &got))
        })
        .collect())
}

fn dedup_key(slo: &Slo, rule: &RuleState) -> DedupKey {
    DedupKey::parse(&format!("slo:{}:{}", slo.id, rule.rule.name))
        .unwrap_or_else(|_| unreachable!("an SLO id and a checked rule name make a valid key"))
}

/// The alert a rule opens: critical for a page rule, a warning for a ticket rule (low urgency
/// on services whose urgency follows severity).
fn trigger(slo: &Slo, rule: &RuleState, rates: slo::Rates, step: Timestamp) -> Signal {
    let r = &rule.rule;
    let shown = |x: Option<f64>| x.map_or("unknown".to_owned(), |x| format!("{x:.1}"));
    let content = AlertContent {
        summary: format!(
            "SLO {}: error budget burning {}× over {} (rule {}: above {:.2}× over {} and {})",
            slo.name,
            shown(rates.long),
            slo::format_duration(r.long),
            r.name,
            r.rate,
            slo::format_duration(r.long),
            slo::format_duration(r.short),
        ),
        source: Some(format!("SLO {}", slo.name)),
        severity: match r.urgency {
            Urgency::Page => Severity::Critical,
            Urgency::Ticket => Severity::Warning,
        },
        timestamp: Some(step),
        component: None,
        group: None,
        class: Some("slo".into()),
        details: json!({
            "slo_id": slo.id, "slo": slo.name, "objective": slo.objective.percent(),
            "rule": r.name, "urgency": r.urgency, "threshold": r.rate,
            "long_window": slo::format_duration(r.long), "long_burn_rate": rates.long,
            "short_window": slo::format_duration(r.short), "short_burn_rate": rates.short,
        }),
        links: Vec::new(),
        images: Vec::new(),
        client: Some("Klaxon SLOs".into()),
        client_url: None,
    };
    Signal {
        action: Action::Trigger,
        dedup_key: dedup_key(slo, rule),
        content: Some(content),
        payload: None,
    }
}

/// The "silent" alert: the SLI's source has not answered for the configured silence, so the
/// SLO cannot be judged. A warning: it pages by the service's low-urgency rules where urgency
/// follows severity.
fn silent_signal(slo: &Slo, t: Transition, d: &Decision, step: Timestamp) -> Signal {
    let dedup_key = DedupKey::parse(&format!("slo:{}:silent", slo.id))
        .unwrap_or_else(|_| unreachable!("an SLO id makes a valid key"));
    if t == Transition::Resolved {
        return resolve(dedup_key);
    }
    let source = match &slo.sli {
        Sli::Prometheus { source, .. } => source.clone(),
        Sli::Pushed => "pushed counts".into(),
        Sli::Availability { .. } => match slo.sli.source() {
            Some(Source::Check(id)) => format!("uptime check {id} (deleted?)"),
            Some(Source::Component(id)) => format!("component {id} (deleted?)"),
            None => "availability".into(),
        },
    };
    let content = AlertContent {
        summary: format!(
            "SLO {}: its SLI source {source} has not answered since {}; burn-rate rules are held",
            slo.name,
            d.silent_since.unwrap_or(step)
        ),
        source: Some(format!("SLO {}", slo.name)),
        severity: Severity::Warning,
        timestamp: Some(step),
        component: None,
        group: None,
        class: Some("slo".into()),
        details: json!({"slo_id": slo.id, "slo": slo.name, "source": source,
                        "silent_since": d.silent_since}),
        links: Vec::new(),
        images: Vec::new(),
        client: Some("Klaxon SLOs".into()),
        client_url: None,
    };
    Signal {
        action: Action::Trigger,
        dedup_key,
        content: Some(content),
        payload: None,
    }
}

/// Resolves the alerts of `slo`'s rules named `names` (and its silent alert with `silent`):
/// for rules that go away while firing, and for a deleted SLO, whose alerts nothing else would
/// resolve.
pub async fn resolve_alerts(
    store: &dyn Store,
    slo: &Slo,
    names: &[&str],
    silent: bool,
    at: Timestamp,
) -> anyhow::Result<()> {
    let mut keys: Vec<String> = names
        .iter()
        .map(|n| format!("slo:{}:{n}", slo.id))
        .collect();
    if silent {
        keys.push(format!("slo:{}:silent", slo.id));
    }
    let writes: Vec<Write> = keys
        .iter()
        .filter_map(|k| DedupKey::parse(k).ok())
        .map(|dedup_key| signal_write(slo, resolve(dedup_key), at))
        .collect();
    if !writes.is_empty() {
        for r in store.commit_batch(writes).await {
            r?;
        }
    }
    Ok(())
}

fn resolve(dedup_key: DedupKey) -> Signal {
    Signal {
        action: Action::Resolve,
        dedup_key,
        content: None,
        payload: None,
    }
}

fn signal_write(slo: &Slo, signal: Signal, at: Timestamp) -> Write {
    Write::Signal(Box::new(SignalWrite {
        service_id: slo.service_id,
        integration_id: None,
        signal,
        at,
        new_alert_id: AlertId::new(at, random_bytes()),
        new_incident_id: IncidentId::new(at, random_bytes()),
        new_job_id: JobId::new(at, random_bytes()),
    }))
}

fn events(slo: &Slo, d: &Decision, step: Timestamp) -> Vec<NewEvent> {
    let mut out = Vec::new();
    for ((rule, t), rates) in d.rules.iter().zip(&d.rates) {
        let Some(t) = t else { continue };
        let kind = match t {
            Transition::Fired => EventKind::SloRuleFired,
            Transition::Resolved => EventKind::SloRuleResolved,
        };
        out.push(NewEvent::new(
            SubjectType::Slo,
            slo.id,
            step,
            Actor::System,
            kind,
            json!({"rule": rule.rule.name, "urgency": rule.rule.urgency,
                   "threshold": rule.rule.rate, "long_burn_rate": rates.long,
                   "short_burn_rate": rates.short}),
        ));
    }
    if let Some(t) = d.silent_alert {
        out.push(NewEvent::new(
            SubjectType::Slo,
            slo.id,
            step,
            Actor::System,
            match t {
                Transition::Fired => EventKind::SloSourceSilent,
                Transition::Resolved => EventKind::SloSourceAnswers,
            },
            json!({"silent_since": d.silent_since.or(slo.silent_since)}),
        ));
    }
    if d.status != slo.status {
        out.push(NewEvent::new(
            SubjectType::Slo,
            slo.id,
            step,
            Actor::System,
            EventKind::SloStatusChanged,
            json!({"from": slo.status, "to": d.status,
                   "remaining": d.budget.and_then(|b| b.remaining_share)}),
        ));
    }
    out
}

/// Evaluates one SLO at `step` and writes what changed. Returns whether it wrote anything.
pub async fn evaluate_one(r: Reads<'_>, slo: &Slo, step: Timestamp) -> anyhow::Result<bool> {
    if slo.evaluated_step.is_some_and(|s| s >= step) {
        return Ok(false);
    }
    let seen = observe(r, slo, step).await?;
    let planned = plan(r.settings, slo, step, &seen).into_iter().collect();
    Ok(write(r.store, planned).await? > 0)
}

/// What judging one SLO at a step means to write: its alerts' signals and the record.
struct Planned {
    writes: Vec<Write>,
    record: SloEvaluation,
}

/// Judges one SLO on what was observed; `None` when nothing changed.
fn plan(settings: &Settings, slo: &Slo, step: Timestamp, seen: &Observed) -> Option<Planned> {
    let silence = SignedDuration::from_mins(settings.slos.silence_minutes.into());
    let d = slo::evaluate(slo, step, seen, silence);
    if !d.changed(slo) {
        return None;
    }
    let mut writes: Vec<Write> = d
        .rules
        .iter()
        .zip(&d.rates)
        .filter_map(|((rule, t), rates)| {
            let signal = match t {
                Some(Transition::Fired) => trigger(slo, rule, *rates, step),
                Some(Transition::Resolved) => resolve(dedup_key(slo, rule)),
                None => return None,
            };
            Some(signal_write(slo, signal, step))
        })
        .collect();
    if let Some(t) = d.silent_alert {
        writes.push(signal_write(slo, silent_signal(slo, t, &d, step), step));
    }
    let record = SloEvaluation {
        id: slo.id,
        step,
        // Only the rules whose state moved: a step where every SLO fires one rule writes
        // one row each, not one per rule.
        rules: d
            .rules
            .iter()
            .filter(|(r, _)| {
                !slo.rules.iter().any(|o| {
                    o.rule.name == r.rule.name && o.firing == r.firing && o.since == r.since
                })
            })
            .map(|(r, _)| (r.rule.name.clone(), r.firing, r.since))
            .collect(),
        status: d.status,
        status_since: d.status_since,
        silent_since: d.silent_since,
        silent_alerted: d.silent_alerted(slo),
        events: events(slo, &d, step),
    };
    Some(Planned { writes, record })
}

/// Writes what was planned: every SLO's alerts in one batch first, then the records of those
/// whose alerts all went in, in one transaction (a step that changes all 1,000 SLOs costs a
/// few commits, not 2,000). Alerts first: a record without its alert would lose a page; an
/// alert without its record is triggered again by the next run, and deduplicated. One SLO's
/// failed alert (a deleted service, a bad row) leaves that SLO unrecorded, to be tried again
/// next step, and does not stop the others. Returns how many SLOs were recorded.
async fn write(store: &dyn Store, planned: Vec<Planned>) -> StoreResult<usize> {
    let mut owners = Vec::new();
    let mut writes = Vec::new();
    let mut records = Vec::with_capacity(planned.len());
    for (i, p) in planned.into_iter().enumerate() {
        owners.extend(std::iter::repeat_n(i, p.writes.len()));
        writes.extend(p.writes);
        records.push(Some(p.record));
    }
    if !writes.is_empty() {
        for (i, r) in owners.into_iter().zip(store.commit_batch(writes).await) {
            if let Err(e) = r
                && let Some(rec) = records[i].take()
            {
                tracing::warn!(error = %e, slo = %rec.id, "SLO evaluation failed");
            }
        }
    }
    let records: Vec<SloEvaluation> = records.into_iter().flatten().collect();
    if records.is_empty() {
        return Ok(0);
    }
    match store.record_slo_evaluations(records.clone()).await {
        Ok(recorded) => Ok(recorded.into_iter().filter(|r| *r).count()),
        // One SLO's bad record must not hold the others back: each alone, as commit_batch
        // does with its writes.
        Err(e) => {
            tracing::warn!(error = %e, "recording the step's SLO evaluations together failed; one by one");
            let mut n = 0;
            for rec in records {
                let id = rec.id;
                match store.record_slo_evaluations(vec![rec]).await {
                    Ok(r) => n += r.into_iter().filter(|r| *r).count(),
                    Err(e) => tracing::warn!(error = %e, slo = %id, "SLO evaluation failed"),
                }
            }
            Ok(n)
        }
    }
}

/// One evaluation step over `slos`: those not yet evaluated at `step` are read together, then
/// each is judged, and what changed is written for all of them together. Returns how many SLOs
/// had something written.
pub async fn run_step(r: Reads<'_>, slos: &[Slo], step: Timestamp) -> StoreResult<usize> {
    let due: Vec<&Slo> = slos
        .iter()
        .filter(|s| s.evaluated_step.is_none_or(|e| e < step))
        .collect();
    let seen = observe_all(r, &due, step).await?;
    let planned = due
        .into_iter()
        .filter_map(|s| plan(r.settings, s, step, seen.get(&s.id)?))
        .collect();
    write(r.store, planned).await
}

pub struct Evaluate;

#[async_trait]
impl JobHandler for Evaluate {
    async fn run(&self, _job: &Job, ctx: &JobContext) -> anyhow::Result<Outcome> {
        let now = ctx.clock.now();
        let step = slo::step_of(now, STEP);
        let slos = ctx.store.list_slos(None).await?;
        if slos.is_empty() {
            return Ok(Outcome::Done); // the next SLO made brings the job back
        }
        let reads = Reads {
            store: ctx.store.as_ref(),
            http: &ctx.http,
            settings: &ctx.settings,
        };
        run_step(reads, &slos, step).await?;
        // What recently resolved incidents cost: a few per step, after the evaluation.
        if let Err(e) = super::burns::catch_up(reads, now).await {
            tracing::warn!(error = %e, "keeping incidents' SLO burns failed");
        }
        // Old slices go once an hour: a slice is dropped a whole window after it ends.
        if step == slo::step_of(now, SignedDuration::from_hours(1)) {
            for (res, kept) in [
                (Resolution::Minute, MINUTES_KEPT),
                (Resolution::FiveMinutes, MINUTES_KEPT),
                (Resolution::Hour, HOURS_KEPT),
                (Resolution::Day, DAYS_KEPT),
            ] {
                if let Ok(before) = step.checked_sub(kept) {
                    ctx.store.prune_slo_counts(res, before).await?;
                }
            }
        }
        Ok(Outcome::RunAgainAt(step + STEP))
    }
}
