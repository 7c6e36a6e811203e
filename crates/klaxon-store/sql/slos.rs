//! Service level objectives: definitions, rules' states and pushed counts.
use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use klaxon_domain::check::CheckState;
use klaxon_domain::clock::to_millis;
use klaxon_domain::event::NewEvent;
use klaxon_domain::ids::{CheckId, ComponentId, ServiceId, SloId};
use klaxon_domain::slo::availability::{self, Change, Source};
use klaxon_domain::slo::{
    BurnRule, Counts, Objective, Resolution, RuleState, Slo, Window, step_of,
};
use klaxon_domain::status::ComponentStatus;
use klaxon_store::*;
use sqlx::Transaction;

use super::engine::{insert_event, insert_events, insert_job};
use super::*;

/// How many bucket edges [`BUCKETS`] takes: enough for eight spans.
const EDGES: usize = 16;

/// Good and total events of each SLO in `$1` per bucket between consecutive edges (`$3` … `$18`, ascending; unused
/// ones the largest value) over the slices in `$19`–`$20`: one pass, one short `CASE` a row.
macro_rules! buckets {
    () => {
        concat!(
    "SELECT slo_id, CASE WHEN slice < $3 THEN 0 WHEN slice < $4 THEN 1 WHEN slice < $5 THEN 2 WHEN slice < $6 THEN 3 WHEN slice < $7 THEN 4 WHEN slice < $8 THEN 5 WHEN slice < $9 THEN 6 WHEN slice < $10 THEN 7 WHEN slice < $11 THEN 8 WHEN slice < $12 THEN 9 WHEN slice < $13 THEN 10 WHEN slice < $14 THEN 11 WHEN slice < $15 THEN 12 WHEN slice < $16 THEN 13 WHEN slice < $17 THEN 14 WHEN slice < $18 THEN 15 END AS bucket,
            COALESCE(SUM(good), 0.0) AS good, COALESCE(SUM(total), 0.0) AS total
     FROM slo_counts WHERE slo_id ",
    in_list!("$1"),
    " AND resolution = $2 AND slice >= $19 AND slice < $20
     GROUP BY slo_id, bucket"
)
    };
}

/// [`buckets!`]'s rows packed into one JSON value: a step reads some 16 buckets for each of
/// 1,000 SLOs, and SQLite's driver hands rows over one at a time.
const BUCKETS: &str = concat!(
    "SELECT ",
    json_rows!("b.slo_id, b.bucket, b.good, b.total"),
    " FROM (",
    buckets!(),
    ") b"
);

/// The state changes of the checks in `$1` and the components in `$2` over `[$3, $4]`: from
/// the last one at or before `$3` on. A component's changes are its status intervals' starts,
/// with its page's partial-outage weight.
const AVAILABILITY: &str = concat!(
    "SELECT 'check' AS kind, c.check_id AS source_id, c.at AS at, c.state AS state,
            CAST(1 AS DOUBLE PRECISION) AS weight
     FROM check_changes c
     WHERE c.check_id ",
    in_list!("$1"),
    " AND c.at <= $4
       AND c.at >= COALESCE((SELECT MAX(p.at) FROM check_changes p
                             WHERE p.check_id = c.check_id AND p.at <= $3), $3)
     UNION ALL
     SELECT 'component', i.component_id, i.started_at, i.status, pg.partial_outage_weight
     FROM status_intervals i
     JOIN status_components sc ON sc.id = i.component_id
     JOIN status_pages pg ON pg.id = sc.page_id
     WHERE i.component_id ",
    in_list!("$2"),
    " AND i.started_at <= $4 AND (i.ended_at IS NULL OR i.ended_at > $3)
     ORDER BY kind, source_id, at"
);

/// The spans' union as runs of overlapping or touching spans, each with its spans' indexes.
fn runs(spans: &[(i64, i64)]) -> Vec<(i64, i64, Vec<usize>)> {
    let mut order: Vec<usize> = (0..spans.len())
        .filter(|&i| spans[i].0 < spans[i].1)
        .collect();
    order.sort_by_key(|&i| spans[i]);
    let mut out: Vec<(i64, i64, Vec<usize>)> = Vec::new();
    for i in order {
        let (a, b) = spans[i];
        match out.last_mut() {
            // A run takes at most eight spans' edges.
            Some(run) if a <= run.1 && run.2.len() < EDGES / 2 => {
                run.1 = run.1.max(b);
                run.2.push(i);
            }
            _ => out.push((a, b, vec![i])),
        }
    }
    out
}

fn slo_from(row: &DbRow, rules: Vec<RuleState>) -> StoreResult<Slo> {
    let days: Option<i32> = get(row, "window_days")?;
    let tz: Option<String> = get(row, "calendar_tz")?;
    let window = match (days, tz) {
        (Some(days), None) => Window::Rolling { days },
        (None, Some(name)) => Window::CalendarMonth {
            tz: TimeZone::get(&name).map_err(|_| corrupt("calendar_tz", &name))?,
        },
        _ => return Err(corrupt("window_days", "window_days and calendar_tz")),
    };
    let objective: f64 = get(row, "objective")?;
    let sli: String = get(row, "sli")?;
    Ok(Slo {
        id: get_id(row, "id")?,
        service_id: get_id(row, "service_id")?,
        name: get(row, "name")?,
        description: get(row, "description")?,
        objective: Objective::new(objective)
            .map_err(|_| corrupt("objective", &objective.to_string()))?,
        window,
        sli: serde_json::from_str(&sli).map_err(|_| corrupt("sli", &sli))?,
        at_risk: get(row, "at_risk")?,
        rules,
        status: get_parsed(row, "budget_status")?,
        status_since: get_ts(row, "status_since")?,
        evaluated_step: get_opt_ts(row, "evaluated_step")?,
        silent_since: get_opt_ts(row, "silent_since")?,
        silent_alerted: get(row, "silent_alerted")?,
        created_at: get_ts(row, "created_at")?,
        updated_at: get_ts(row, "updated_at")?,
    })
}

fn rule_from(row: &DbRow) -> StoreResult<RuleState> {
    let long: i32 = get(row, "long_secs")?;
    let short: i32 = get(row, "short_secs")?;
    Ok(RuleState {
        rule: BurnRule {
            name: get(row, "name")?,
            urgency: get_parsed(row, "urgency")?,
            budget_spent: get(row, "budget_spent")?,
            long: SignedDuration::from_secs(long.into()),
            short: SignedDuration::from_secs(short.into()),
            rate: get(row, "rate")?,
        },
        firing: get(row, "firing")?,
        since: get_opt_ts(row, "since")?,
    })
}

/// The rules of a service's SLOs, of one SLO, or of all, by SLO.
async fn rules_of(
    conn: &mut DbConn,
    service: Option<ServiceId>,
    id: Option<SloId>,
) -> StoreResult<HashMap<SloId, Vec<RuleState>>> {
    let rows = sqlx::query(
        "SELECT r.* FROM slo_rules r JOIN slos s ON s.id = r.slo_id
         WHERE ($1 IS NULL OR s.service_id = $1) AND ($2 IS NULL OR s.id = $2)
         ORDER BY r.slo_id, r.position",
    )
    .bind(service.map(db_id))
    .bind(id.map(db_id))
    .fetch_all(&mut *conn)
    .await
    .map_err(map_err)?;
    let mut by: HashMap<SloId, Vec<RuleState>> = HashMap::new();
    for row in &rows {
        by.entry(get_id(row, "slo_id")?)
            .or_default()
            .push(rule_from(row)?);
    }
    Ok(by)
}

async fn read(
    conn: &mut DbConn,
    service: Option<ServiceId>,
    id: Option<SloId>,
) -> StoreResult<Vec<Slo>> {
    let mut rules = rules_of(conn, service, id).await?;
    let rows = sqlx::query(
        "SELECT * FROM slos WHERE ($1 IS NULL OR service_id = $1) AND ($2 IS NULL OR id = $2)
         ORDER BY service_id, name, id",
    )
    .bind(service.map(db_id))
    .bind(id.map(db_id))
    .fetch_all(&mut *conn)
    .await
    .map_err(map_err)?;
    rows.iter()
        .map(|row| {
            let id: SloId = get_id(row, "id")?;
            slo_from(row, rules.remove(&id).unwrap_or_default())
        })
        .collect()
}

fn window_columns(w: &Window) -> (Option<i32>, Option<String>) {
    match w {
        Window::Rolling { days } => (Some(*days), None),
        Window::CalendarMonth { tz } => (None, Some(tz.iana_name().unwrap_or("UTC").to_owned())),
    }
}

async fn write_rules(tx: &mut Transaction<'_, Db>, slo: &Slo) -> StoreResult<()> {
    for (position, r) in slo.rules.iter().enumerate() {
        sqlx::query(
            "INSERT INTO slo_rules (slo_id, name, position, urgency, budget_spent, long_secs,
             short_secs, rate, firing, since) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(db_id(slo.id))
        .bind(&r.rule.name)
        .bind(position as i32)
        .bind(r.rule.urgency.as_str())
        .bind(r.rule.budget_spent)
        .bind(r.rule.long.as_secs() as i32)
        .bind(r.rule.short.as_secs() as i32)
        .bind(r.rule.rate)
        .bind(r.firing)
        .bind(r.since.map(to_millis))
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    }
    Ok(())
}

#[async_trait]
impl SloStore for DbStore {
    async fn create_slo(&self, slo: &Slo, event: NewEvent, job: &NewJob) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let (days, tz) = window_columns(&slo.window);
        sqlx::query(
            "INSERT INTO slos (id, service_id, name, description, objective, window_days,
             calendar_tz, sli_kind, sli, at_risk, budget_status, status_since, evaluated_step,
             created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(db_id(slo.id))
        .bind(db_id(slo.service_id))
        .bind(&slo.name)
        .bind(&slo.description)
        .bind(slo.objective.percent())
        .bind(days)
        .bind(tz)
        .bind(slo.sli.kind())
        .bind(serde_json::to_string(&slo.sli).map_err(StoreError::other)?)
        .bind(slo.at_risk)
        .bind(slo.status.as_str())
        .bind(to_millis(slo.status_since))
        .bind(slo.evaluated_step.map(to_millis))
        .bind(to_millis(slo.created_at))
        .bind(to_millis(slo.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(fk_not_found)?;
        write_rules(&mut tx, slo).await?;
        insert_event(&mut tx, &event).await?;
        insert_job(&mut tx, job).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn slo(&self, id: SloId) -> StoreResult<Slo> {
        let mut conn = self.reader().acquire().await.map_err(map_err)?;
        read(&mut conn, None, Some(id))
            .await?
            .pop()
            .ok_or(StoreError::NotFound)
    }

    async fn list_slos(&self, service: Option<ServiceId>) -> StoreResult<Vec<Slo>> {
        let mut conn = self.reader().acquire().await.map_err(map_err)?;
        read(&mut conn, service, None).await
    }

    async fn update_slo(&self, slo: &Slo, event: NewEvent) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let (days, tz) = window_columns(&slo.window);
        let n = sqlx::query(
            "UPDATE slos SET name = $2, description = $3, objective = $4, window_days = $5,
             calendar_tz = $6, sli_kind = $7, sli = $8, at_risk = $9, updated_at = $10
             WHERE id = $1",
        )
        .bind(db_id(slo.id))
        .bind(&slo.name)
        .bind(&slo.description)
        .bind(slo.objective.percent())
        .bind(days)
        .bind(tz)
        .bind(slo.sli.kind())
        .bind(serde_json::to_string(&slo.sli).map_err(StoreError::other)?)
        .bind(slo.at_risk)
        .bind(to_millis(slo.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        // The row is locked now: the rules' states read here are the latest.
        let old = rules_of(&mut tx, None, Some(slo.id))
            .await?
            .remove(&slo.id)
            .unwrap_or_default();
        let mut next = slo.clone();
        for r in &mut next.rules {
            let kept = old.iter().find(|o| o.rule.name == r.rule.name);
            r.firing = kept.is_some_and(|o| o.firing);
            r.since = kept.and_then(|o| o.since);
        }
        sqlx::query("DELETE FROM slo_rules WHERE slo_id = $1")
            .bind(db_id(slo.id))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        write_rules(&mut tx, &next).await?;
        insert_event(&mut tx, &event).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn delete_slo(&self, id: SloId, event: NewEvent) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let gone = sqlx::query("DELETE FROM slos WHERE id = $1")
            .bind(db_id(id))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected();
        if gone == 0 {
            return Err(StoreError::NotFound);
        }
        insert_event(&mut tx, &event).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn push_slo_counts(&self, id: SloId, counts: &[(Timestamp, Counts)]) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        for &(at, c) in counts {
            for res in Resolution::ALL {
                let slice = step_of(at, res.length());
                sqlx::query(
                    "INSERT INTO slo_counts (slo_id, resolution, slice, good, total)
                     VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (slo_id, resolution, slice) DO UPDATE
                     SET good = slo_counts.good + excluded.good,
                         total = slo_counts.total + excluded.total",
                )
                .bind(db_id(id))
                .bind(res.as_str())
                .bind(to_millis(slice))
                .bind(c.good)
                .bind(c.total)
                .execute(&mut *tx)
                .await
                .map_err(fk_not_found)?;
            }
        }
        tx.commit().await.map_err(map_err)
    }

    async fn slo_sums(
        &self,
        ids: &[SloId],
        resolution: Resolution,
        spans: &[(Timestamp, Timestamp)],
    ) -> StoreResult<HashMap<SloId, Vec<Counts>>> {
        let mut conn = self.reader().acquire().await.map_err(map_err)?;
        let ms: Vec<(i64, i64)> = spans
            .iter()
            .map(|(a, b)| (to_millis(*a), to_millis(*b)))
            .collect();
        let mut sums: HashMap<SloId, Vec<Counts>> = ids
            .iter()
            .map(|id| (*id, vec![Counts::default(); spans.len()]))
            .collect();
        // One read per run of overlapping spans for all the SLOs (an evaluation's nested
        // windows are one run); each span is then the sum of the buckets between its edges.
        for (from, to, members) in runs(&ms) {
            let mut edges: Vec<i64> = members.iter().flat_map(|&i| [ms[i].0, ms[i].1]).collect();
            edges.sort_unstable();
            edges.dedup();
            edges.retain(|&e| e > from);
            let mut q = sqlx::query(BUCKETS)
                .bind(db_ids(ids))
                .bind(resolution.as_str());
            for k in 0..EDGES {
                q = q.bind(edges.get(k).copied().unwrap_or(i64::MAX));
            }
            let packed: String = q
                .bind(from)
                .bind(to)
                .fetch_one(&mut *conn)
                .await
                .map_err(map_err)?
                .try_get(0)
                .map_err(map_err)?;
            let rows: Vec<(String, i64, f64, f64)> =
                serde_json::from_str(&packed).map_err(|e| corrupt("SLO sums", &e.to_string()))?;
            // Bucket k holds the slices in [edge k-1 (or from), edge k).
            let mut buckets: HashMap<SloId, Vec<Counts>> = HashMap::new();
            for (slo, k, good, total) in rows {
                let id: SloId = json_id("slo_id", &slo)?;
                let per = buckets
                    .entry(id)
                    .or_insert_with(|| vec![Counts::default(); edges.len()]);
                if let Some(b) = usize::try_from(k).ok().and_then(|k| per.get_mut(k)) {
                    *b = Counts::new(good, total);
                }
            }
            for (id, bucket) in buckets {
                let Some(out) = sums.get_mut(&id) else {
                    continue;
                };
                for &i in &members {
                    let (a, b) = ms[i];
                    out[i] = (0..edges.len())
                        .filter(|&k| {
                            let start = if k == 0 { from } else { edges[k - 1] };
                            start >= a && edges[k] <= b
                        })
                        .map(|k| bucket[k])
                        .sum();
                }
            }
        }
        Ok(sums)
    }

    async fn slo_slices(
        &self,
        id: SloId,
        resolution: Resolution,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<(Timestamp, Counts)>> {
        let rows = sqlx::query(
            "SELECT slice, good, total FROM slo_counts
             WHERE slo_id = $1 AND resolution = $2 AND slice >= $3 AND slice < $4
             ORDER BY slice",
        )
        .bind(db_id(id))
        .bind(resolution.as_str())
        .bind(to_millis(from))
        .bind(to_millis(to))
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|row| {
                Ok((
                    get_ts(row, "slice")?,
                    Counts::new(get(row, "good")?, get(row, "total")?),
                ))
            })
            .collect()
    }

    async fn record_slo_evaluations(&self, es: Vec<SloEvaluation>) -> StoreResult<Vec<bool>> {
        // Three statements for a whole step, not three or four per SLO: a step where all 1,000
        // SLOs fire spent a third of a second on round trips.
        let mut tx = self.write_tx().await?;
        // The claim: the first instance to move an SLO's step on owns it.
        let claims: Vec<serde_json::Value> = es
            .iter()
            .map(|e| {
                serde_json::json!([
                    e.id.to_string(),
                    to_millis(e.step),
                    e.status.as_str(),
                    to_millis(e.status_since),
                    e.silent_since.map(to_millis),
                    e.silent_alerted,
                ])
            })
            .collect();
        let claimed: Vec<DbRow> = sqlx::query(concat!(
            "UPDATE slos SET evaluated_step = ",
            json_at!(1, "BIGINT"),
            ", budget_status = ",
            json_at!(2, "TEXT"),
            ", status_since = ",
            json_at!(3, "BIGINT"),
            ", silent_since = ",
            json_at!(4, "BIGINT"),
            ", silent_alerted = ",
            json_at!(5, "BOOLEAN"),
            " FROM ",
            json_array_rows!("$1"),
            " WHERE slos.id = ",
            json_at!(0, "UUID"),
            " AND (slos.evaluated_step IS NULL OR slos.evaluated_step < ",
            json_at!(1, "BIGINT"),
            ") RETURNING id",
        ))
        .bind(json(&claims))
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?;
        let claimed: HashSet<SloId> = claimed
            .iter()
            .map(|r| get_id(r, "id"))
            .collect::<StoreResult<_>>()?;
        let out: Vec<bool> = es.iter().map(|e| claimed.contains(&e.id)).collect();
        let mine = || es.iter().filter(|e| claimed.contains(&e.id));
        let rules: Vec<serde_json::Value> = mine()
            .flat_map(|e| {
                e.rules.iter().map(|(name, firing, since)| {
                    serde_json::json!([e.id.to_string(), name, firing, since.map(to_millis)])
                })
            })
            .collect();
        if !rules.is_empty() {
            sqlx::query(concat!(
                "UPDATE slo_rules SET firing = ",
                json_at!(2, "BOOLEAN"),
                ", since = ",
                json_at!(3, "BIGINT"),
                " FROM ",
                json_array_rows!("$1"),
                " WHERE slo_rules.slo_id = ",
                json_at!(0, "UUID"),
                " AND slo_rules.name = ",
                json_at!(1, "TEXT"),
            ))
            .bind(json(&rules))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        }
        let events: Vec<NewEvent> = mine().flat_map(|e| e.events.iter().cloned()).collect();
        insert_events(&mut tx, &events).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(out)
    }

    async fn availability_changes(
        &self,
        sources: &[Source],
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<HashMap<Source, Vec<Change>>> {
        let mut checks: Vec<CheckId> = Vec::new();
        let mut components: Vec<ComponentId> = Vec::new();
        for s in sources {
            match s {
                Source::Check(id) => checks.push(*id),
                Source::Component(id) => components.push(*id),
            }
        }
        let rows = sqlx::query(AVAILABILITY)
            .bind(db_ids(&checks))
            .bind(db_ids(&components))
            .bind(to_millis(from))
            .bind(to_millis(to))
            .fetch_all(self.reader())
            .await
            .map_err(map_err)?;
        let mut out: HashMap<Source, Vec<Change>> = HashMap::new();
        for row in &rows {
            let kind: String = get(row, "kind")?;
            let (source, down) = if kind == "check" {
                let state: CheckState = get_parsed(row, "state")?;
                (
                    Source::Check(get_id(row, "source_id")?),
                    availability::check_down(state),
                )
            } else {
                let status: ComponentStatus = get_parsed(row, "state")?;
                (
                    Source::Component(get_id(row, "source_id")?),
                    availability::component_down(status, get(row, "weight")?),
                )
            };
            out.entry(source).or_default().push(Change {
                at: get_ts(row, "at")?,
                down,
            });
        }
        Ok(out)
    }

    async fn prune_slo_counts(
        &self,
        resolution: Resolution,
        before: Timestamp,
    ) -> StoreResult<u64> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query("DELETE FROM slo_counts WHERE resolution = $1 AND slice < $2")
            .bind(resolution.as_str())
            .bind(to_millis(before))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected();
        tx.commit().await.map_err(map_err)?;
        Ok(n)
    }
}
