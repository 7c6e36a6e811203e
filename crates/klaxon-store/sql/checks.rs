//! Uptime checks: settings and standing, results, daily tallies and state changes.
use async_trait::async_trait;
use jiff::Timestamp;
use klaxon_domain::check::{CheckState, Health, job_key};
use klaxon_domain::clock::to_millis;
use klaxon_domain::event::NewEvent;
use klaxon_domain::ids::{CheckId, ServiceId};
use klaxon_store::*;
use sqlx::Transaction;

use super::engine::{insert_event, insert_job};
use super::status_follow::{Followers, follow_checks};
use super::*;

fn check_from(row: &DbRow) -> StoreResult<Check> {
    Ok(Check {
        id: get_id(row, "id")?,
        service_id: get_id(row, "service_id")?,
        name: get(row, "name")?,
        spec: from_json(row, "spec")?,
        enabled: get(row, "enabled")?,
        health: Health {
            state: get_parsed(row, "state")?,
            failures: get_u32(row, "failures")?,
            successes: get_u32(row, "successes")?,
        },
        state_since: get_ts(row, "state_since")?,
        last_run_at: get_opt_ts(row, "last_run_at")?,
        pending_signal: opt_parsed(row, "pending_signal")?,
        created_at: get_ts(row, "created_at")?,
        updated_at: get_ts(row, "updated_at")?,
    })
}

fn result_from(row: &DbRow) -> StoreResult<CheckResult> {
    Ok(CheckResult {
        at: get_ts(row, "at")?,
        ok: get(row, "ok")?,
        response_ms: u64::try_from(get::<i64>(row, "response_ms")?).unwrap_or(0),
        status: get::<Option<i64>>(row, "status")?.and_then(|s| u16::try_from(s).ok()),
        reason: get(row, "reason")?,
        conditions: from_json(row, "conditions")?,
    })
}

fn day_from(row: &DbRow) -> StoreResult<CheckDay> {
    let n =
        |col: &str| -> StoreResult<u64> { Ok(u64::try_from(get::<i64>(row, col)?).unwrap_or(0)) };
    Ok(CheckDay {
        day: get_ts(row, "day")?,
        total: get_u32(row, "total")?,
        successes: get_u32(row, "successes")?,
        response_ms_sum: n("response_ms_sum")?,
        down_ms: n("down_ms")?,
    })
}

fn ms(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

async fn insert_change(
    tx: &mut Transaction<'_, Db>,
    id: CheckId,
    at: Timestamp,
    state: CheckState,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO check_changes (check_id, at, state) VALUES ($1, $2, $3)
         ON CONFLICT (check_id, at) DO UPDATE SET state = excluded.state",
    )
    .bind(db_id(id))
    .bind(to_millis(at))
    .bind(state.as_str())
    .execute(&mut **tx)
    .await
    .map_err(map_err)?;
    Ok(())
}

/// The service a check is on, locked until the transaction ends (a concurrent move of the
/// check then waits, and its followers are counted by whichever commits second); `NotFound`
/// if it is gone.
async fn service_of(tx: &mut Transaction<'_, Db>, id: CheckId) -> StoreResult<ServiceId> {
    let s: Option<DbUuid> = sqlx::query_scalar(concat!(
        "SELECT service_id FROM checks WHERE id = $1",
        for_no_key_update!()
    ))
    .bind(db_id(id))
    .fetch_optional(&mut **tx)
    .await
    .map_err(map_err)?;
    id_from(s.ok_or(StoreError::NotFound)?)
}

#[async_trait]
impl CheckStore for DbStore {
    async fn create_check(&self, new: NewCheck, e: NewEvent) -> StoreResult<Check> {
        let c = new.check;
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO checks (id, service_id, name, spec, enabled, state, failures, successes,
             state_since, last_run_at, pending_signal, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(db_id(c.id))
        .bind(db_id(c.service_id))
        .bind(&c.name)
        .bind(json(&c.spec))
        .bind(c.enabled)
        .bind(c.health.state.as_str())
        .bind(i64::from(c.health.failures))
        .bind(i64::from(c.health.successes))
        .bind(to_millis(c.state_since))
        .bind(c.last_run_at.map(to_millis))
        .bind(c.pending_signal.map(CheckState::as_str))
        .bind(to_millis(c.created_at))
        .bind(to_millis(c.updated_at))
        .execute(&mut *tx)
        .await
        // The only foreign key: the service does not exist.
        .map_err(fk_not_found)?;
        insert_change(&mut tx, c.id, c.state_since, c.health.state).await?;
        for j in &new.jobs {
            insert_job(&mut tx, j).await?;
        }
        insert_event(&mut tx, &e).await?;
        // One more check (up) on the service: its followers may go from all down to some.
        follow_checks(
            &mut tx,
            Followers::OfServices(&[c.service_id]),
            c.created_at,
        )
        .await?;
        tx.commit().await.map_err(map_err)?;
        Ok(c)
    }

    async fn check(&self, id: CheckId) -> StoreResult<Check> {
        let row = sqlx::query("SELECT * FROM checks WHERE id = $1")
            .bind(db_id(id))
            .fetch_optional(self.reader())
            .await
            .map_err(map_err)?
            .ok_or(StoreError::NotFound)?;
        check_from(&row)
    }

    async fn checks_named(&self, name: &str) -> StoreResult<Vec<(CheckId, String)>> {
        let sql = "SELECT id, name FROM checks WHERE lower(name) = lower($1)";
        named(self.reader(), sql, name, get_id::<CheckId>).await
    }

    async fn list_checks(&self) -> StoreResult<Vec<Check>> {
        sqlx::query("SELECT * FROM checks ORDER BY name")
            .fetch_all(self.reader())
            .await
            .map_err(map_err)?
            .iter()
            .map(check_from)
            .collect()
    }

    async fn update_check(&self, c: Check, run: Option<NewJob>, e: NewEvent) -> StoreResult<Check> {
        let mut tx = self.write_tx().await?;
        let old_service = service_of(&mut tx, c.id).await?;
        let n = sqlx::query(
            "UPDATE checks SET service_id = $2, name = $3, spec = $4, enabled = $5, updated_at = $6
             WHERE id = $1",
        )
        .bind(db_id(c.id))
        .bind(db_id(c.service_id))
        .bind(&c.name)
        .bind(json(&c.spec))
        .bind(c.enabled)
        .bind(to_millis(c.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(fk_not_found)?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        if let Some(j) = &run {
            insert_job(&mut tx, j).await?;
        }
        insert_event(&mut tx, &e).await?;
        // Moved or turned on or off: the followers of both services count it anew.
        let services = [old_service, c.service_id];
        follow_checks(&mut tx, Followers::OfServices(&services), c.updated_at).await?;
        tx.commit().await.map_err(map_err)?;
        self.check(c.id).await
    }

    async fn delete_check(&self, id: CheckId, e: NewEvent) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let service = service_of(&mut tx, id).await?;
        let n = sqlx::query("DELETE FROM checks WHERE id = $1")
            .bind(db_id(id))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query("DELETE FROM jobs WHERE dedup_key = $1")
            .bind(job_key(id))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        insert_event(&mut tx, &e).await?;
        // Its followers count the checks left (none left: they keep their status).
        follow_checks(&mut tx, Followers::OfServices(&[service]), e.at).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(())
    }

    async fn record_check_run(&self, run: CheckRun) -> StoreResult<()> {
        let r = &run.result;
        let mut tx = self.write_tx().await?;
        // The guard on last_run_at makes a second recording of the same run (two instances,
        // or a lease that ran out mid-probe) write nothing.
        let n = sqlx::query(
            "UPDATE checks SET state = $3, failures = $4, successes = $5, last_run_at = $6,
             state_since = CASE WHEN $7 THEN $6 ELSE state_since END,
             pending_signal = CASE WHEN $7 THEN $3 ELSE pending_signal END
             WHERE id = $1 AND (last_run_at = $2 OR (last_run_at IS NULL AND $2 IS NULL))",
        )
        .bind(db_id(run.check_id))
        .bind(run.expected_last_run.map(to_millis))
        .bind(run.health.state.as_str())
        .bind(i64::from(run.health.failures))
        .bind(i64::from(run.health.successes))
        .bind(to_millis(r.at))
        .bind(run.change.is_some())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        if n == 0 {
            let exists: Option<String> =
                sqlx::query_scalar("SELECT name FROM checks WHERE id = $1")
                    .bind(db_id(run.check_id))
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(map_err)?;
            return Err(match exists {
                Some(_) => StoreError::Conflict {
                    constraint: "check_runs".into(),
                },
                None => StoreError::NotFound,
            });
        }
        sqlx::query(
            "INSERT INTO check_results (check_id, at, ok, response_ms, status, reason, conditions)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(db_id(run.check_id))
        .bind(to_millis(r.at))
        .bind(r.ok)
        .bind(ms(r.response_ms))
        .bind(r.status.map(i64::from))
        .bind(&r.reason)
        .bind(json(&r.conditions))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        for t in &run.tallies {
            sqlx::query(
                "INSERT INTO check_days (check_id, day, total, successes, response_ms_sum, down_ms)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (check_id, day) DO UPDATE SET
                   total = check_days.total + excluded.total,
                   successes = check_days.successes + excluded.successes,
                   response_ms_sum = check_days.response_ms_sum + excluded.response_ms_sum,
                   down_ms = check_days.down_ms + excluded.down_ms",
            )
            .bind(db_id(run.check_id))
            .bind(to_millis(t.day))
            .bind(i64::from(t.total))
            .bind(i64::from(t.successes))
            .bind(ms(t.response_ms))
            .bind(ms(t.down_ms))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        }
        if let Some((state, event)) = &run.change {
            insert_change(&mut tx, run.check_id, r.at, *state).await?;
            insert_event(&mut tx, event).await?;
            // With the change itself, so a follower is never left behind its checks.
            let service = service_of(&mut tx, run.check_id).await?;
            follow_checks(&mut tx, Followers::OfServices(&[service]), r.at).await?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(())
    }

    async fn clear_check_signal(&self, id: CheckId, state: CheckState) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "UPDATE checks SET pending_signal = NULL WHERE id = $1 AND pending_signal = $2",
        )
        .bind(db_id(id))
        .bind(state.as_str())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(())
    }

    async fn check_results(
        &self,
        id: CheckId,
        before: Option<Timestamp>,
        limit: u32,
    ) -> StoreResult<Vec<CheckResult>> {
        sqlx::query(
            "SELECT * FROM check_results WHERE check_id = $1 AND ($2 IS NULL OR at < $2)
             ORDER BY at DESC LIMIT $3",
        )
        .bind(db_id(id))
        .bind(before.map(to_millis))
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?
        .iter()
        .map(result_from)
        .collect()
    }

    async fn check_days(
        &self,
        id: CheckId,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<CheckDay>> {
        sqlx::query(
            "SELECT * FROM check_days WHERE check_id = $1 AND day >= $2 AND day <= $3 ORDER BY day",
        )
        .bind(db_id(id))
        .bind(to_millis(from))
        .bind(to_millis(to))
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?
        .iter()
        .map(day_from)
        .collect()
    }

    async fn check_changes(
        &self,
        id: CheckId,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<(Timestamp, CheckState)>> {
        let rows = sqlx::query(
            "SELECT at, state FROM check_changes
             WHERE check_id = $1 AND at <= $3
               AND at >= COALESCE((SELECT MAX(at) FROM check_changes
                                   WHERE check_id = $1 AND at <= $2), $2)
             ORDER BY at",
        )
        .bind(db_id(id))
        .bind(to_millis(from))
        .bind(to_millis(to))
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|r| Ok((get_ts(r, "at")?, get_parsed(r, "state")?)))
            .collect()
    }

    async fn prune_checks(
        &self,
        results_before: Timestamp,
        days_before: Timestamp,
    ) -> StoreResult<CheckPruned> {
        let mut tx = self.write_tx().await?;
        let results = sqlx::query("DELETE FROM check_results WHERE at < $1")
            .bind(to_millis(results_before))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected();
        let days = sqlx::query("DELETE FROM check_days WHERE day < $1")
            .bind(to_millis(days_before))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected();
        let changes = sqlx::query(
            "DELETE FROM check_changes WHERE at < $1 AND EXISTS (
                 SELECT 1 FROM check_changes later
                 WHERE later.check_id = check_changes.check_id
                   AND later.at > check_changes.at AND later.at <= $1)",
        )
        .bind(to_millis(days_before))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        tx.commit().await.map_err(map_err)?;
        Ok(CheckPruned {
            results,
            days,
            changes,
        })
    }
}
