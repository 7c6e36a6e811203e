//! Runners, the runbook versions enabled for them, and the command steps they take.
use std::collections::BTreeMap;

use async_trait::async_trait;
use jiff::Timestamp;
use klaxon_domain::clock::to_millis;
use klaxon_domain::event::NewEvent;
use klaxon_domain::ids::{RunId, RunbookId, RunnerId};
use klaxon_store::*;

use super::engine::insert_event;
use super::*;

fn runner_from(row: &DbRow) -> StoreResult<RunnerRecord> {
    let labels = get_json(row, "labels")?;
    Ok(RunnerRecord {
        id: get_id(row, "id")?,
        name: get(row, "name")?,
        labels: serde_json::from_value::<BTreeMap<String, String>>(labels)
            .map_err(|e| corrupt("runners.labels", &e.to_string()))?,
        created_by: opt_id(row, "created_by")?,
        created_at: get_ts(row, "created_at")?,
        last_seen_at: get_opt_ts(row, "last_seen_at")?,
    })
}

fn grant_from(row: &DbRow) -> StoreResult<RunnerGrant> {
    Ok(RunnerGrant {
        runner_id: get_id(row, "runner_id")?,
        runbook_id: get_id(row, "runbook_id")?,
        runbook_name: get(row, "runbook_name")?,
        version: get(row, "version")?,
        digest: get(row, "digest")?,
        granted_by: opt_id(row, "granted_by")?,
        granted_at: get_ts(row, "granted_at")?,
    })
}

macro_rules! runner_columns {
    () => {
        "id, name, labels, created_by, created_at, last_seen_at"
    };
}

#[async_trait]
impl RunnerStore for DbStore {
    async fn create_runner(
        &self,
        r: &RunnerRecord,
        token_hash: [u8; 32],
        event: NewEvent,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO runners (id, name, labels, token_hash, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(db_id(r.id))
        .bind(&r.name)
        .bind(json(&r.labels))
        .bind(&token_hash[..])
        .bind(r.created_by.map(db_id))
        .bind(to_millis(r.created_at))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        insert_event(&mut tx, &event).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn list_runners(&self) -> StoreResult<Vec<RunnerRecord>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            runner_columns!(),
            " FROM runners ORDER BY name"
        ))
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?;
        rows.iter().map(runner_from).collect()
    }

    async fn runner(&self, id: RunnerId) -> StoreResult<RunnerRecord> {
        let row = sqlx::query(concat!(
            "SELECT ",
            runner_columns!(),
            " FROM runners WHERE id = $1"
        ))
        .bind(db_id(id))
        .fetch_one(self.reader())
        .await
        .map_err(map_err)?;
        runner_from(&row)
    }

    async fn runner_by_token(&self, hash: [u8; 32], at: Timestamp) -> StoreResult<RunnerRecord> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(concat!(
            "UPDATE runners SET last_seen_at = $2 WHERE token_hash = $1 RETURNING ",
            runner_columns!()
        ))
        .bind(&hash[..])
        .bind(to_millis(at))
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        runner_from(&row)
    }

    async fn delete_runner(&self, id: RunnerId, event: NewEvent) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query("DELETE FROM runners WHERE id = $1")
            .bind(db_id(id))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        insert_event(&mut tx, &event).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn grant_runner(&self, g: &RunnerGrant, event: NewEvent) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        // The digest is the version's own, read here: what the runner will check.
        let n = sqlx::query(
            "INSERT INTO runner_grants (runner_id, runbook_id, version, digest, granted_by,
             granted_at)
             SELECT r.id, v.runbook_id, v.version, v.digest, $4, $5
             FROM runners r, runbook_versions v
             WHERE r.id = $1 AND v.runbook_id = $2 AND v.version = $3
             ON CONFLICT (runner_id, runbook_id, version) DO NOTHING",
        )
        .bind(db_id(g.runner_id))
        .bind(db_id(g.runbook_id))
        .bind(g.version)
        .bind(g.granted_by.map(db_id))
        .bind(to_millis(g.granted_at))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        if n == 0 {
            let exists: Option<i32> = sqlx::query_scalar(
                "SELECT 1 FROM runner_grants
                 WHERE runner_id = $1 AND runbook_id = $2 AND version = $3",
            )
            .bind(db_id(g.runner_id))
            .bind(db_id(g.runbook_id))
            .bind(g.version)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
            return match exists {
                Some(_) => Ok(false),
                None => Err(StoreError::NotFound),
            };
        }
        insert_event(&mut tx, &event).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    async fn revoke_runner(
        &self,
        runner: RunnerId,
        runbook: RunbookId,
        version: i32,
        event: NewEvent,
    ) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query(
            "DELETE FROM runner_grants WHERE runner_id = $1 AND runbook_id = $2 AND version = $3",
        )
        .bind(db_id(runner))
        .bind(db_id(runbook))
        .bind(version)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        insert_event(&mut tx, &event).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    async fn runner_grants(&self, runner: Option<RunnerId>) -> StoreResult<Vec<RunnerGrant>> {
        let rows = sqlx::query(
            "SELECT g.runner_id, g.runbook_id, b.name AS runbook_name, g.version, g.digest,
                    g.granted_by, g.granted_at
             FROM runner_grants g JOIN runbooks b ON b.id = g.runbook_id
             WHERE ($1 IS NULL OR g.runner_id = $1)
             ORDER BY b.name, g.version",
        )
        .bind(runner.map(db_id))
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?;
        rows.iter().map(grant_from).collect()
    }

    async fn queued_commands(&self, runner: RunnerId) -> StoreResult<Vec<RunId>> {
        let rows = sqlx::query(
            "SELECT r.id FROM runbook_run_steps s
             JOIN runbook_runs r ON r.id = s.run_id
             JOIN runner_grants g ON g.runbook_id = r.runbook_id AND g.version = r.version
                                 AND g.digest = r.digest
             WHERE s.kind = 'command' AND s.state = 'queued' AND g.runner_id = $1
               AND r.state = 'active' AND r.current_step = s.step
             ORDER BY r.created_at, r.id LIMIT 200",
        )
        .bind(db_id(runner))
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?;
        rows.iter().map(|r| get_id(r, "id")).collect()
    }

    async fn extend_lease(
        &self,
        runner: RunnerId,
        run: RunId,
        index: i32,
        until: Timestamp,
    ) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query(
            "UPDATE runbook_run_steps SET lease_until = $4
             WHERE run_id = $1 AND step = $2 AND runner_id = $3 AND state = 'running'
               AND run_id IN (SELECT id FROM runbook_runs WHERE state <> 'aborted')",
        )
        .bind(db_id(run))
        .bind(index)
        .bind(db_id(runner))
        .bind(to_millis(until))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        tx.commit().await.map_err(map_err)?;
        Ok(n > 0)
    }
}
