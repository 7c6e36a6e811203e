//! The SLO evaluator's cost per minute step, on SQLite (run by scripts/bench/slos.sh):
//! SLOS SLOs over pushed counts (25 hours of minute counts, 30 days of hour counts each), then
//! STEPS evaluation steps as the `slo.evaluate` job does them (every SLO judged, what changed
//! written), timed. Half the steps are calm (nothing to write); in the other half a burst makes
//! every SLO's fast rule fire or resolve, so each step writes an alert and a record per SLO.
//! Prints the time of each step and p50/max per kind.
use std::sync::Arc;
use std::time::Instant;

use jiff::{SignedDuration, Timestamp};
use klaxon_domain::alert::{Grouping, UrgencyRule};
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{ServiceId, SloId};
use klaxon_domain::slo::{self, BudgetStatus, Counts, Objective, RuleState, Sli, Slo, Window};
use klaxon_server::Settings;
use klaxon_server::slos::evaluate::{Reads, STEP, run_step};
use klaxon_store::{Service, Store};
use klaxon_store_sqlite::SqliteStore;
use serde_json::json;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rnd() -> [u8; 10] {
    let mut b = [0u8; 10];
    getrandom::fill(&mut b).expect("random bytes");
    b
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let slos = env("SLOS", 1000);
    let steps = env("STEPS", 10);
    let dir = tempfile::tempdir()?;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("bench.db")).await?);
    let t0: Timestamp = "2026-11-21T09:00:00Z".parse()?;
    let ev =
        |kind, id: String| NewEvent::new(SubjectType::Slo, id, t0, Actor::System, kind, json!({}));
    let svc = Service {
        id: ServiceId::new(t0, rnd()),
        name: "bench".into(),
        description: String::new(),
        urgency_rule: UrgencyRule::SeverityBased,
        grouping: Grouping::None,
        auto_resolve: true,
        escalation_policy_id: None,
        created_at: t0,
        updated_at: t0,
    };
    store
        .create_service(
            svc.clone(),
            ev(EventKind::ServiceCreated, svc.id.to_string()),
        )
        .await?;
    let seeding = Instant::now();
    let window = Window::Rolling { days: 30 };
    let mut ids = Vec::with_capacity(slos);
    for n in 0..slos {
        let s = Slo {
            id: SloId::new(t0, rnd()),
            service_id: svc.id,
            name: format!("slo {n}"),
            description: String::new(),
            objective: Objective::new(99.9)?,
            rules: slo::default_rules(window.nominal())
                .into_iter()
                .map(|rule| RuleState {
                    rule,
                    firing: false,
                    since: None,
                })
                .collect(),
            window: window.clone(),
            sli: Sli::Pushed,
            at_risk: slo::DEFAULT_AT_RISK,
            status: BudgetStatus::Healthy,
            status_since: t0,
            evaluated_step: None,
            silent_since: None,
            silent_alerted: false,
            created_at: t0,
            updated_at: t0,
        };
        let job = klaxon_server::slos::evaluate::job(t0);
        store
            .create_slo(&s, ev(EventKind::SloCreated, s.id.to_string()), &job)
            .await?;
        // 30 days of hours (one entry each, into its hour) and the last 25 hours of minutes.
        let mut counts: Vec<(Timestamp, Counts)> = (1..=24 * 30)
            .map(|h| {
                (
                    t0 - SignedDuration::from_hours(h),
                    Counts::new(59_994.0, 60_000.0),
                )
            })
            .collect();
        counts.extend((1..=25 * 60).map(|m| {
            (
                t0 - SignedDuration::from_mins(m) + SignedDuration::from_secs(1),
                Counts::new(999.0, 1000.0),
            )
        }));
        store.push_slo_counts(s.id, &counts).await?;
        ids.push(s.id);
    }
    eprintln!(
        "seeded {slos} SLOs ({} count entries each) in {:.1} s",
        24 * 30 + 25 * 60,
        seeding.elapsed().as_secs_f64()
    );
    let settings = Settings::default();
    let http = reqwest::Client::new();
    let reads = Reads {
        store: store.as_ref(),
        http: &http,
        settings: &settings,
    };
    // STEPS calm steps (the common case: nothing to write), then one where a burst makes every
    // SLO's fast rule fire (an alert and a record each), then one where a flood of good events
    // resolves them all.
    // One warm-up step first, shown but not counted (as the insights bench's warm-up request):
    // right after writing 9 million slices its reads meet a cold cache, which a running
    // server's minute steps do not.
    let mut calm = Vec::new();
    let mut timed = Vec::new();
    for i in 0..steps + 3 {
        let step = t0 + STEP * (i as i32 + 1);
        let (label, c) = match i {
            0 => ("warm-up, not counted", Counts::new(999.9, 1000.0)),
            i if i <= steps => ("calm", Counts::new(999.9, 1000.0)),
            i if i == steps + 1 => ("every fast rule fires", Counts::new(0.0, 200_000.0)),
            _ => ("every fast rule resolves", Counts::new(1e9, 1e9)),
        };
        for id in &ids {
            store
                .push_slo_counts(*id, &[(step - SignedDuration::from_secs(30), c)])
                .await?;
        }
        let started = Instant::now();
        // What the job does each minute: list, read together, judge, write.
        let all = store.list_slos(None).await?;
        let wrote = run_step(reads, &all, step).await?;
        let took = started.elapsed().as_secs_f64();
        println!(
            "step {:>2} ({label}): {took:.3} s, {wrote} of {slos} SLOs changed",
            i + 1
        );
        if i == 0 {
            continue;
        } else if i <= steps {
            calm.push(took);
        } else {
            timed.push((label, took, wrote));
        }
    }
    calm.sort_by(f64::total_cmp);
    let n = calm.len();
    if n > 0 {
        println!(
            "{slos} SLOs on SQLite, a step where nothing changes: p50 {:.3} s, max {:.3} s ({n} steps)",
            calm[n / 2],
            calm[n - 1]
        );
    }
    for (label, took, wrote) in timed {
        println!("{slos} SLOs on SQLite, a step where {label}: {took:.3} s ({wrote} SLOs written)");
    }
    store.close().await;
    Ok(())
}
