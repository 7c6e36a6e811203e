//! Runs of runbooks on incidents: each change written whole, on top of its revision.
use async_trait::async_trait;
use klaxon_domain::clock::to_millis;
use klaxon_domain::ids::{IncidentId, RunId};
use klaxon_store::*;
use sqlx::Transaction;

use super::engine::{insert_event, insert_job};
use super::*;

macro_rules! run_columns {
    () => {
        "id, incident_id, runbook_id, runbook_name, title, version, digest, source, params, state,
         current_step, revision, started_by, created_at, updated_at, finished_at"
    };
}

macro_rules! step_columns {
    () => {
        "run_id, step, title, kind, state, attempts, started_at, finished_at, output, truncated,
         detail, by_user, note, runner_id, lease_until"
    };
}

fn run_from(row: &DbRow) -> StoreResult<RunRecord> {
    let params = get_json(row, "params")?;
    Ok(RunRecord {
        id: get_id(row, "id")?,
        incident_id: get_id(row, "incident_id")?,
        runbook_id: opt_id(row, "runbook_id")?,
        runbook_name: get(row, "runbook_name")?,
        title: get(row, "title")?,
        version: get(row, "version")?,
        digest: get(row, "digest")?,
        source: get(row, "source")?,
        params: serde_json::from_value(params).map_err(|e| corrupt("params", &e.to_string()))?,
        state: get_parsed(row, "state")?,
        current: get(row, "current_step")?,
        revision: get(row, "revision")?,
        started_by: opt_id(row, "started_by")?,
        created_at: get_ts(row, "created_at")?,
        updated_at: get_ts(row, "updated_at")?,
        finished_at: get_opt_ts(row, "finished_at")?,
    })
}

fn step_from(row: &DbRow) -> StoreResult<RunStepRecord> {
    Ok(RunStepRecord {
        run_id: get_id(row, "run_id")?,
        index: get(row, "step")?,
        title: get(row, "title")?,
        kind: get(row, "kind")?,
        state: get_parsed(row, "state")?,
        attempts: get(row, "attempts")?,
        started_at: get_opt_ts(row, "started_at")?,
        finished_at: get_opt_ts(row, "finished_at")?,
        output: get(row, "output")?,
        truncated: get(row, "truncated")?,
        detail: get_json(row, "detail")?,
        by: opt_id(row, "by_user")?,
        note: get(row, "note")?,
        runner_id: opt_id(row, "runner_id")?,
        lease_until: get_opt_ts(row, "lease_until")?,
    })
}

/// The steps of a change (inserted or replaced), its events and its jobs.
async fn write_rest(tx: &mut Transaction<'_, Db>, c: &RunChange) -> StoreResult<()> {
    for (s, full) in &c.steps {
        // The whole output is kept unless the change gives it (a skip or an abort leaves it).
        sqlx::query(
            "INSERT INTO runbook_run_steps (run_id, step, title, kind, state, attempts,
             started_at, finished_at, output, truncated, full_output, detail, by_user, note,
             runner_id, lease_until)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULLIF($11, ''), $12, $13, $14,
                     $16, $17)
             ON CONFLICT (run_id, step) DO UPDATE SET title = excluded.title,
               kind = excluded.kind, state = excluded.state, attempts = excluded.attempts,
               started_at = excluded.started_at, finished_at = excluded.finished_at,
               output = excluded.output, truncated = excluded.truncated,
               full_output = CASE WHEN $15 THEN excluded.full_output
                                  ELSE runbook_run_steps.full_output END,
               detail = excluded.detail, by_user = excluded.by_user, note = excluded.note,
               runner_id = excluded.runner_id, lease_until = excluded.lease_until",
        )
        .bind(db_id(s.run_id))
        .bind(s.index)
        .bind(&s.title)
        .bind(&s.kind)
        .bind(s.state.as_str())
        .bind(s.attempts)
        .bind(s.started_at.map(to_millis))
        .bind(s.finished_at.map(to_millis))
        .bind(&s.output)
        .bind(s.truncated)
        .bind(full.as_deref().unwrap_or(""))
        .bind(json(&s.detail))
        .bind(s.by.map(db_id))
        .bind(&s.note)
        .bind(full.is_some())
        .bind(s.runner_id.map(db_id))
        .bind(s.lease_until.map(to_millis))
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    }
    for e in &c.events {
        insert_event(tx, e).await?;
    }
    for j in &c.jobs {
        insert_job(tx, j).await?;
    }
    Ok(())
}

#[async_trait]
impl RunStore for DbStore {
    async fn create_run(&self, c: &RunChange) -> StoreResult<()> {
        let r = &c.run;
        let mut tx = self.write_tx().await?;
        sqlx::query(concat!(
            "INSERT INTO runbook_runs (",
            run_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
        ))
        .bind(db_id(r.id))
        .bind(db_id(r.incident_id))
        .bind(r.runbook_id.map(db_id))
        .bind(&r.runbook_name)
        .bind(&r.title)
        .bind(r.version)
        .bind(&r.digest)
        .bind(&r.source)
        .bind(json(&r.params))
        .bind(r.state.as_str())
        .bind(r.current)
        .bind(r.revision)
        .bind(r.started_by.map(db_id))
        .bind(to_millis(r.created_at))
        .bind(to_millis(r.updated_at))
        .bind(r.finished_at.map(to_millis))
        .execute(&mut *tx)
        .await
        .map_err(fk_not_found)?;
        write_rest(&mut tx, c).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn run(&self, id: RunId) -> StoreResult<(RunRecord, Vec<RunStepRecord>)> {
        let mut conn = self.reader().acquire().await.map_err(map_err)?;
        let row = sqlx::query(concat!(
            "SELECT ",
            run_columns!(),
            " FROM runbook_runs WHERE id = $1"
        ))
        .bind(db_id(id))
        .fetch_optional(&mut *conn)
        .await
        .map_err(map_err)?
        .ok_or(StoreError::NotFound)?;
        let steps = sqlx::query(concat!(
            "SELECT ",
            step_columns!(),
            " FROM runbook_run_steps WHERE run_id = $1 ORDER BY step"
        ))
        .bind(db_id(id))
        .fetch_all(&mut *conn)
        .await
        .map_err(map_err)?;
        Ok((
            run_from(&row)?,
            steps.iter().map(step_from).collect::<StoreResult<_>>()?,
        ))
    }

    async fn incident_runs(&self, incident: IncidentId) -> StoreResult<Vec<RunRecord>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            run_columns!(),
            " FROM runbook_runs WHERE incident_id = $1 ORDER BY created_at DESC, id DESC"
        ))
        .bind(db_id(incident))
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?;
        rows.iter().map(run_from).collect()
    }

    async fn update_run(&self, c: &RunChange) -> StoreResult<()> {
        let r = &c.run;
        let mut tx = self.write_tx().await?;
        let n = sqlx::query(
            "UPDATE runbook_runs SET state = $2, current_step = $3, revision = $4,
             updated_at = $5, finished_at = $6
             WHERE id = $1 AND revision = $4 - 1",
        )
        .bind(db_id(r.id))
        .bind(r.state.as_str())
        .bind(r.current)
        .bind(r.revision)
        .bind(to_millis(r.updated_at))
        .bind(r.finished_at.map(to_millis))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        if n == 0 {
            let exists = "SELECT 1 FROM runbook_runs WHERE id = $1";
            return Err(moved_or_gone(&mut tx, exists, r.id, "runbook_runs_revision").await);
        }
        write_rest(&mut tx, c).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn run_step_output(&self, id: RunId, index: i32) -> StoreResult<String> {
        let row = sqlx::query(
            "SELECT COALESCE(full_output, output) AS text FROM runbook_run_steps
             WHERE run_id = $1 AND step = $2",
        )
        .bind(db_id(id))
        .bind(index)
        .fetch_optional(self.reader())
        .await
        .map_err(map_err)?
        .ok_or(StoreError::NotFound)?;
        get(&row, "text")
    }
}
